"""Speed of the tf.data pipelines against a plain librosa loop, in one process.

    .venv/bin/python benchmarks/pipeline.py [--clips 64] [--passes 4] [--seconds 30] [--write]

1. Full log-mels from audio (melon48): ``librosa.load`` +
   ``librosa.feature.melspectrogram`` (the spec's window; librosa's Slaney
   filterbank standing in for Essentia's, the same cost) + the spec's
   compression over the files, one after the other, against era_zoo's
   ``mel_dataset`` (parallel decoding with soundfile/soxr in
   ``tf.numpy_function``, log-mel in graph) over the same files. Three
   variants of the TF side show where time goes: the decoder behind
   ``tf.py_function`` instead of ``tf.numpy_function``; a pure-TF WAV decoder
   (``tf.audio.decode_wav``: WAV only, no resampling, so not a general
   replacement); and ``mel_dataset`` with tf.data's autotuning model left on
   (TensorFlow's default, which era_zoo turns off: deleting an iterator then
   waits, idle, for up to about half the iterator's life).
2. The training feed from ``.npy`` mels: 256-frame random crops, batch 128,
   in crops/s (target: far above what training consumes, >= 500 crops/s).
3. The training feed from audio, crops/s (both: median of ``--repeats``
   stretches).
4. Epoch boundaries: a small model trained over the training feed from
   audio, with validation, for ``--epochs`` epochs as era_zoo's trainer does
   it (one Keras ``fit`` per epoch), era_zoo's datasets against the same with
   tf.data's autotuning model on (every epoch and every validation opens and
   deletes an iterator), interleaved, median of 3 trainings each.

The full-mel contenders run interleaved, one stream of each per round, for
``--repeats`` rounds after a warm-up pass (numba's compilation in librosa and
TF's graph tracing are excluded), each round starting with the next
contender, so that a shared machine's changing load hits all alike. A
stream is the clips ``--passes`` times over through one iterator, as a
dataset conversion streams thousands of files: a tf.data iterator's fixed
cost (building it, about 40 ms, and deleting it) would otherwise weigh on a
64-file pass of a quarter of a second as it weighs on no real conversion;
that fixed cost is measured on its own line. A
contender's figure is its median round, and the ratio is taken round by
round against the faster of two librosa statements (its default BLAS
threads, and BLAS on one thread: on 2 shared cores OpenBLAS's waiting
threads can cost librosa more than half its speed), reported as median and
range over the rounds. A second table profiles one clip's costs single-file
(decode, resampling, the log-mel graph, librosa's two halves) and the
pipeline's CPU time per clip against its wall time (how much of the two
cores it uses). The files are written to memory (``/dev/shm``; ``--dir``),
so that both sides are timed decoding and computing, not reading a disk.
``--write`` replaces the "## pipeline" section of
benchmarks/RESULTS.md.
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


def interleaved_rounds(contenders, repeats):
    """Per contender, the wall and CPU seconds of each of ``repeats`` rounds
    that time every contender once, and its last result."""
    wall = {name: [] for name in contenders}
    cpu = {name: [] for name in contenders}
    results = {}
    names = list(contenders)
    for r in range(repeats):
        # each round starts with the next contender: none always runs just
        # after another's threads (OpenBLAS's spin, TF's pools) have worked
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = contenders[name]
            start, start_cpu = time.perf_counter(), time.process_time()
            results[name] = fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return ({k: np.array(v) for k, v in wall.items()}, {k: np.array(v) for k, v in cpu.items()},
            results)


def median_of(repeats, fn):
    """(median wall seconds, median CPU seconds) of ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return float(np.median(walls)), float(np.median(cpus))


def librosa_mel(wave, spec):
    """The spec's log-mel in librosa: melspectrogram (the spec's window;
    librosa's Slaney filterbank standing in for Essentia's, the same cost) and
    the spec's compression."""
    import librosa
    import scipy.signal
    window = ("hann" if spec.window == "hann"
              else scipy.signal.windows.hann(spec.n_fft, sym=True))
    mel = librosa.feature.melspectrogram(
        y=wave, sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length,
        window=window, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax,
        center=True, pad_mode="constant", power=spec.power)
    if spec.compression == "db":
        return spec.db_multiplier / 10 * librosa.power_to_db(mel, amin=spec.db_amin, top_db=None)
    return np.log(mel + spec.log_offset)


def librosa_loop(paths, spec):
    import librosa
    frames = 0
    for path in paths:
        wave, _ = librosa.load(path, sr=spec.sample_rate, mono=True)
        frames += librosa_mel(wave, spec).shape[1]
    return frames


def librosa_blas1_loop(paths, spec):
    """librosa_loop with its BLAS (the filterbank product) on one thread."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        return librosa_loop(paths, spec)


def count_frames(ds):
    return sum(int(e["mel"].shape[-1]) for e in ds)


def iterator_cost(ds):
    """(seconds from ``iter`` to the first element, seconds to close the
    iterator) of one pass over ``ds``."""
    start = time.perf_counter()
    it = iter(ds)
    next(it)
    first = time.perf_counter() - start
    for _ in it:
        pass
    start = time.perf_counter()
    del it
    return first, time.perf_counter() - start


def decoder_variant(paths, spec, kind, options):
    """The same mel, with the decoder behind another TF bridge (and
    ``options``, era_zoo's dataset options)."""
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
            .map(read, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
            .with_options(options))


def with_autotuning(ds):
    """``ds`` with tf.data's autotuning model turned back on."""
    import tensorflow as tf
    from absl import logging
    options = tf.data.Options()
    options.autotune.enabled = True
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)  # "Changing the value of option enabled"
    try:
        return ds.with_options(options)
    finally:
        logging.set_verbosity(verbosity)


def small_model(spec, frames):
    """A model whose step costs little next to the feed."""
    import keras
    model = keras.Sequential([keras.Input((spec.n_mels, frames)),
                              keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(1)])
    model.compile("adam", "mse")
    return model


def keras_fit(model, train, val, steps, validation_steps, epochs):
    """``model`` trained over ``train`` and validated on ``val`` as era_zoo's
    trainer does it: one ``fit`` per epoch, with known steps."""
    def xy(e):
        return e["mel"], e["track_index"] % 2

    for epoch in range(epochs):
        model.fit(train.map(xy), epochs=epoch + 1, initial_epoch=epoch, shuffle=False,
                  steps_per_epoch=steps, validation_data=val.map(xy),
                  validation_steps=validation_steps, verbose=0)


def crops_per_second(ds, batches, repeats):
    """Median crops/s over ``repeats`` stretches of ``batches`` batches."""
    it = iter(ds)
    next(it)  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = sum(int(next(it)["mel"].shape[0]) for _ in range(batches))
        rates.append(n / (time.perf_counter() - start))
    return float(np.median(rates))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--passes", type=int, default=4,
                        help="times each round streams the clips through one iterator")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--mels", type=int, default=512, help=".npy mels for the crop feed")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of each Keras fit")
    parser.add_argument("--dir", default="/dev/shm" if os.access("/dev/shm", os.W_OK) else None,
                        help="where the test files are written (default: /dev/shm, in memory, "
                             "where there is one)")
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

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        print(f"writing {args.clips} x {args.seconds:g} s WAV at {spec.sample_rate} Hz "
              f"and {args.mels} .npy mels ...", flush=True)
        wavs = make_audio(tmp, args.clips, args.seconds, spec.sample_rate)
        table = TrackTable("bench", [Track(Path(p).stem, audio_path=p) for p in wavs])
        stream = wavs * args.passes
        stream_table = TrackTable("bench", [Track(f"{i}", audio_path=p)
                                            for i, p in enumerate(stream)])

        # --- 1. full log-mels from audio, interleaved rounds
        librosa_loop(wavs[:2], spec)  # numba compilation, caches
        contenders = {"librosa": lambda: librosa_loop(stream, spec),
                      "librosa, BLAS 1 thread": lambda: librosa_blas1_loop(stream, spec)}
        era_zoo = mel_dataset(stream_table, spec)
        for name, ds in (("era_zoo", era_zoo),
                         ("py_function",
                          decoder_variant(stream, spec, "py_function", era_zoo.options())),
                         ("tf.audio.decode_wav",
                          decoder_variant(stream, spec, "tf.audio.decode_wav",
                                          era_zoo.options())),
                         ("autotuning", with_autotuning(era_zoo))):
            count_frames(ds)  # tracing
            contenders[name] = lambda ds=ds: count_frames(ds)
        wall, cpu, frames = interleaved_rounds(contenders, args.repeats)
        assert len(set(frames.values())) == 1, frames
        librosa_best = np.minimum(wall["librosa"], wall["librosa, BLAS 1 thread"])
        ratios = {name: librosa_best / wall[name] for name in contenders}
        n = len(stream)
        one_pass = mel_dataset(table, spec)
        count_frames(one_pass)
        fixed = np.array([iterator_cost(one_pass) for _ in range(args.repeats)])
        first, close = np.median(fixed, axis=0)
        tuned = with_autotuning(one_pass)
        count_frames(tuned)
        tuned_close = np.array([iterator_cost(tuned)[1] for _ in range(args.repeats)])
        # one pass through a fresh iterator: a stream's share plus closing
        one_pass_wall = np.median(wall["era_zoo"]) / args.passes + close
        load_at_end = os.getloadavg()[0]

        say(f"- machine: {platform.machine()}, {os.cpu_count()} CPU core(s) visible, "
            f"{platform.system()}; TensorFlow {tf.__version__}, librosa {librosa.__version__}; "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; load "
            f"average {load_at_start:.1f} at the start, {load_at_end:.1f} after the "
            f"interleaved rounds"
            + (" (other work shared the CPU: absolute figures are lower bounds; both "
               "sides of each ratio ran under it)" if max(load_at_start, load_at_end) > 2.5
               else ""))
        say(f"- files: {args.clips} x {args.seconds:g} s WAV (PCM 16, {spec.sample_rate} Hz) in "
            f"{args.dir or tempfile.gettempdir()}, "
            f"{SPEC_NAME} ({spec.n_mels} bands, FFT {spec.n_fft}, hop {spec.hop_length}); "
            f"{args.repeats} interleaved rounds after a warm-up, each streaming the files "
            f"{args.passes} times over ({n} clips) through one iterator; medians, ratio "
            f"against the faster librosa statement of each round (median, range)")
        say()
        say("| full log-mel from audio | clips/s | CPU ms / clip | vs librosa |")
        say("|---|---:|---:|---:|")
        labels = {"librosa": "librosa loop (load + melspectrogram + compression)",
                  "librosa, BLAS 1 thread": "librosa loop, BLAS on one thread",
                  "era_zoo": "era_zoo mel_dataset (numpy_function decode, in-graph mel)",
                  "py_function": "variant: decoder in py_function",
                  "tf.audio.decode_wav": "variant: decoder in tf.audio.decode_wav",
                  "autotuning": "variant: tf.data's autotuning model on (TF's default)"}
        for name, label in labels.items():
            r = ratios[name]
            figure = f"{np.median(r):.2f}x ({r.min():.2f}-{r.max():.2f})"
            if name == "era_zoo":
                figure = f"**{figure}**"
            say(f"| {label} | {n / np.median(wall[name]):.1f} | "
                f"{1000 * np.median(cpu[name]) / n:.1f} | {figure} |")
        say()
        say(f"- a tf.data iterator's fixed cost, on top of the per-clip figures: "
            f"{1000 * first:.0f} ms from building it to the first log-mel, "
            f"{1000 * close:.0f} ms to delete it (median; range "
            f"{1000 * fixed[:, 1].min():.0f}-{1000 * fixed[:, 1].max():.0f} ms; with tf.data's "
            f"autotuning model on, {1000 * np.median(tuned_close):.0f} ms, range "
            f"{1000 * tuned_close.min():.0f}-{1000 * tuned_close.max():.0f} ms) over "
            f"{len(fixed)} one-pass iterators; a single pass over "
            f"the {args.clips} files would take {1000 * one_pass_wall:.0f} ms, "
            f"{np.median(librosa_best) / args.passes / one_pass_wall:.2f}x librosa")
        say()

        # --- where the time goes: one clip's costs, file by file
        from era_zoo.audio.decode import load_audio, resample
        from era_zoo.audio.mel import waveform_to_logmel
        waves = [load_audio(p, spec.sample_rate) for p in wavs]
        other_rate = 22050
        waves_22k = [resample(w, spec.sample_rate, other_rate) for w in waves[:8]]
        mel_fn = tf.function(lambda w: waveform_to_logmel(w, spec),
                             input_signature=[tf.TensorSpec([None], tf.float32)])
        mel_fn(waves[0])

        def lib_mel():
            for w in waves:
                librosa_mel(w, spec)

        clips = len(wavs)
        profile = [
            ("decode (soundfile, PCM 16 to float32, checks)",
             median_of(3, lambda: [load_audio(p, spec.sample_rate) for p in wavs]), clips),
            (f"resample {other_rate:,} to {spec.sample_rate:,} Hz (soxr HQ; files at "
             f"another rate)", median_of(3, lambda: [resample(w, other_rate, spec.sample_rate)
                                                      for w in waves_22k]), len(waves_22k)),
            ("log-mel graph, one clip per call (tf.function)",
             median_of(3, lambda: [mel_fn(w) for w in waves]), clips),
            ("librosa.load", median_of(3, lambda: [librosa.load(p, sr=spec.sample_rate)
                                                   for p in wavs]), clips),
            ("librosa melspectrogram + compression", median_of(3, lib_mel), clips),
        ]
        say("| one 30 s clip, file by file | wall ms | CPU ms |")
        say("|---|---:|---:|")
        for label, (w, c), count in profile:
            say(f"| {label} | {1000 * w / count:.2f} | {1000 * c / count:.2f} |")
        used = np.median(cpu["era_zoo"]) / np.median(wall["era_zoo"])
        say(f"| era_zoo mel_dataset, per clip (from the rounds above) | "
            f"{1000 * np.median(wall['era_zoo']) / n:.2f} | {1000 * np.median(cpu['era_zoo']) / n:.2f} |")
        say()
        say(f"- the pipeline keeps {used:.2f} of the {os.cpu_count()} cores busy (CPU / wall "
            f"time of its rounds)")
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
        say(f"| from audio ({args.clips} WAV files, batch 32, no cache) | {audio_rate:,.0f} |")
        say()

        # --- 4. epoch boundaries in a Keras fit
        batch = min(32, len(wavs))  # whole batches only, with --clips under 32 too
        era_pair = (training_dataset(stream_table, spec, frames=256, batch_size=batch),
                    training_dataset(table, spec, frames=256, batch_size=batch,
                                     reshuffle=False))
        tuned_pair = tuple(map(with_autotuning, era_pair))
        steps = (len(stream) // batch, len(wavs) // batch)
        model = small_model(spec, 256)
        keras_fit(model, *era_pair, *steps, 1)  # tracing
        keras_fit(model, *tuned_pair, *steps, 1)
        fits, _, _ = interleaved_rounds(
            {"era_zoo": lambda: keras_fit(model, *era_pair, *steps, args.epochs),
             "autotuning": lambda: keras_fit(model, *tuned_pair, *steps, args.epochs)}, 3)
        fast, slow = np.median(fits["era_zoo"]), np.median(fits["autotuning"])
        say(f"| training, {args.epochs} epochs of {len(stream)} crops from audio, validated "
            f"on {args.clips} | seconds (median of 3) |")
        say("|---|---:|")
        say(f"| era_zoo training_dataset | **{fast:.2f}** |")
        say(f"| the same, tf.data's autotuning model on | {slow:.2f} ({slow / fast:.2f}x) |")

    r = ratios["era_zoo"]
    print(f"\nratio tf.data / librosa (full log-mels from audio): median {np.median(r):.2f}x, "
          f"range {r.min():.2f}-{r.max():.2f}x over {len(r)} rounds")
    if args.write:
        write_section("pipeline", "\n".join(lines))
        print(f"wrote the pipeline section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
