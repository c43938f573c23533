"""Speed of the tf.data pipelines against a plain librosa loop, in one process.

    .venv/bin/python benchmarks/pipeline.py [--clips 64] [--seconds 30] [--write]

1. Full log-mels from audio (melon48): ``librosa.load`` +
   ``librosa.feature.melspectrogram`` (the spec's window; librosa's Slaney
   filterbank standing in for Essentia's, the same cost) + the spec's
   compression over the files, one after the other, against era_zoo's ``mel_dataset`` (parallel decoding with
   soundfile/soxr in ``tf.numpy_function``, log-mel in graph) over the same
   files. Also two variants of the TF side, to show where time goes: the
   decoder behind ``tf.py_function`` instead of ``tf.numpy_function``, and a
   pure-TF WAV decoder (``tf.audio.decode_wav``: WAV only, no resampling, so
   not a general replacement).
2. The training feed from ``.npy`` mels: 256-frame random crops, batch 128,
   in crops/s (target: far above what training consumes, >= 500 crops/s).
3. The training feed from audio, crops/s.

Each figure is the best of ``--repeats`` passes after a warm-up pass (numba's
compilation in librosa and TF's graph tracing are excluded); the full-mel
contenders run interleaved, one pass of each per round, so a shared machine's
changing load hits them alike. ``--write``
replaces the "## pipeline" section of benchmarks/RESULTS.md.
"""
import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import soundfile as sf

from results import RESULTS, write_section

SPEC_NAME = "melon48"


def make_audio(folder, n, seconds, rate, seed=0):
    """Music-like test clips: a few decaying harmonic notes over noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    paths = []
    for i in range(n):
        wave = 0.02 * rng.standard_normal(len(t))
        for _ in range(6):
            f0 = rng.uniform(80, 1000)
            onset = rng.uniform(0, seconds)
            env = np.where(t >= onset, np.exp(-(t - onset) * rng.uniform(0.5, 3)), 0.0)
            wave += env * sum(0.2 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 5))
        wave = (0.9 * wave / np.abs(wave).max()).astype(np.float32)
        path = folder / f"clip{i:03d}.wav"
        sf.write(path, wave, rate, subtype="PCM_16")
        paths.append(str(path))
    return paths


def make_mels(folder, n, frames, n_mels, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"mel{i:04d}.npy"
        np.save(path, rng.standard_normal((n_mels, frames)).astype(np.float32))
        paths.append(str(path))
    return paths


def best_of(repeats, fn):
    """(best seconds, result) over ``repeats`` timed calls."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def interleaved_best(contenders, repeats):
    """Best seconds and last result of each contender, over ``repeats`` rounds
    that time every contender once."""
    seconds = dict.fromkeys(contenders, float("inf"))
    results = {}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t, results[name] = best_of(1, fn)
            seconds[name] = min(seconds[name], t)
    return seconds, results


def librosa_loop(paths, spec):
    import librosa
    import scipy.signal
    window = ("hann" if spec.window == "hann"
              else scipy.signal.windows.hann(spec.n_fft, sym=True))
    frames = 0
    for path in paths:
        wave, _ = librosa.load(path, sr=spec.sample_rate, mono=True)
        mel = librosa.feature.melspectrogram(
            y=wave, sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length,
            window=window, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax,
            center=True, pad_mode="constant", power=spec.power)
        if spec.compression == "db":
            logmel = spec.db_multiplier / 10 * librosa.power_to_db(mel, amin=spec.db_amin,
                                                                   top_db=None)
        else:
            logmel = np.log(mel + spec.log_offset)
        frames += logmel.shape[1]
    return frames


def count_frames(ds):
    return sum(int(e["mel"].shape[-1]) for e in ds)


def decoder_variant(paths, spec, kind):
    """The same mel, with the decoder behind another TF bridge."""
    import tensorflow as tf
    from era_zoo.audio.decode import load_audio
    from era_zoo.audio.mel import waveform_to_logmel

    def decode(path):
        return load_audio(path.numpy().decode(), spec.sample_rate)

    @tf.autograph.experimental.do_not_convert
    def read(path):
        if kind == "py_function":
            wave = tf.py_function(decode, [path], tf.float32)
        else:  # tf.audio: WAV only, no resampling
            wave = tf.audio.decode_wav(tf.io.read_file(path), desired_channels=1).audio[:, 0]
        wave.set_shape([None])
        return {"mel": waveform_to_logmel(wave, spec)}

    return (tf.data.Dataset.from_tensor_slices(paths)
            .map(read, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


def crops_per_second(ds, batches, repeats):
    it = iter(ds)
    next(it)  # warm-up
    seconds, n = best_of(repeats, lambda: sum(int(next(it)["mel"].shape[0])
                                              for _ in range(batches)))
    return n / seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--mels", type=int, default=512, help=".npy mels for the crop feed")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    import tensorflow as tf
    import librosa
    from era_zoo.audio.presets import get_preset
    from era_zoo.data.pipeline import mel_dataset, training_dataset
    from era_zoo.data.table import Track, TrackTable

    spec = get_preset(SPEC_NAME)
    load_at_start = os.getloadavg()[0]
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"writing {args.clips} x {args.seconds:g} s WAV at {spec.sample_rate} Hz "
              f"and {args.mels} .npy mels ...", flush=True)
        wavs = make_audio(tmp, args.clips, args.seconds, spec.sample_rate)
        table = TrackTable("bench", [Track(Path(p).stem, audio_path=p) for p in wavs])

        # --- 1. full log-mels from audio. Passes are interleaved (one of each
        # per round) so that changes in the machine's load hit all alike.
        librosa_loop(wavs[:2], spec)  # numba compilation, caches
        contenders = {"librosa": lambda: librosa_loop(wavs, spec)}
        for name, ds in (("era_zoo", mel_dataset(table, spec)),
                         ("py_function", decoder_variant(wavs, spec, "py_function")),
                         ("tf.audio.decode_wav",
                          decoder_variant(wavs, spec, "tf.audio.decode_wav"))):
            count_frames(ds)  # tracing
            contenders[name] = lambda ds=ds: count_frames(ds)
        seconds, frames = interleaved_best(contenders, args.repeats)
        assert len(set(frames.values())) == 1, frames
        t_lib, t_tf, frames_tf = seconds["librosa"], seconds["era_zoo"], frames["era_zoo"]
        frames_lib = frames["librosa"]
        variants = {k: seconds[k] for k in ("py_function", "tf.audio.decode_wav")}

        n = args.clips
        say(f"- machine: {platform.machine()}, {os.cpu_count()} CPU core(s) visible, "
            f"{platform.system()}; TensorFlow {tf.__version__}, librosa {librosa.__version__}; "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; load "
            f"average {load_at_start:.1f} at the start"
            + (" (other work shared the CPU: absolute figures are lower bounds; both "
               "sides of each ratio ran under it)" if load_at_start > os.cpu_count() else ""))
        say(f"- files: {n} x {args.seconds:g} s WAV (PCM 16, {spec.sample_rate} Hz), "
            f"{SPEC_NAME} ({spec.n_mels} bands, FFT {spec.n_fft}, hop {spec.hop_length}); "
            f"best of {args.repeats} interleaved passes after a warm-up")
        say()
        say("| full log-mel from audio | clips/s | mel frames/s | vs librosa |")
        say("|---|---:|---:|---:|")
        say(f"| librosa loop (load + melspectrogram + log) | {n / t_lib:.1f} | "
            f"{frames_lib / t_lib:,.0f} | 1.00x |")
        say(f"| era_zoo mel_dataset (numpy_function decode, in-graph mel) | {n / t_tf:.1f} | "
            f"{frames_tf / t_tf:,.0f} | **{t_lib / t_tf:.2f}x** |")
        for kind, t in variants.items():
            say(f"| variant: decoder in {kind} | {n / t:.1f} | {frames_tf / t:,.0f} | "
                f"{t_lib / t:.2f}x |")
        say()

        # --- 2./3. training feeds
        mel_paths = make_mels(tmp, args.mels, spec.seconds_to_frames(args.seconds),
                              spec.n_mels)
        mel_table = TrackTable("bench", [Track(Path(p).stem, mel_path=p) for p in mel_paths])
        feed = training_dataset(mel_table, spec, source="mel", frames=256, batch_size=128,
                                repeat=True)
        mel_rate = crops_per_second(feed, batches=12, repeats=args.repeats)
        audio_feed = training_dataset(table, spec, source="audio", frames=256,
                                      batch_size=32, repeat=True)
        audio_rate = crops_per_second(audio_feed, batches=4, repeats=args.repeats)
        say("| training feed (256-frame random crops) | crops/s |")
        say("|---|---:|")
        say(f"| from .npy mels ({args.mels} files, batch 128) | **{mel_rate:,.0f}** |")
        say(f"| from audio ({n} WAV files, batch 32, no cache) | {audio_rate:,.0f} |")

    print(f"\nratio tf.data / librosa (full log-mels from audio): {t_lib / t_tf:.2f}x")
    if args.write:
        write_section("pipeline", "\n".join(lines))
        print(f"wrote the pipeline section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
