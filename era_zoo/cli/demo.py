"""``era-zoo demo``: the audio front-end and the tf.data pipeline on the real
recordings shipped in ``era_zoo/assets/audio`` (public-domain and CC BY
clips; their notices sit beside them and are printed).

``run_demo(args)`` is a sequence of steps, each a function taking the shared
``DemoContext``; later steps (training on a demo corpus) append to ``STEPS``.
"""
import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

PRESETS = ("melon48", "era224")
CHUNK_FRAMES = 256


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="run the audio front-end and data pipeline on the shipped recordings",
        description="Decode the real recordings shipped with era_zoo (or the audio files "
                    "of --audio DIR), print per clip its duration, sample rate, log-mel "
                    "shapes for the melon48 and era224 presets and its number of "
                    "256-frame chunks, then time the tf.data chunk pipeline.")
    parser.add_argument("--audio", metavar="DIR", type=Path,
                        help="folder of audio files to use instead of the shipped clips")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="chunks per batch in the timed pipeline run (default 32)")
    parser.set_defaults(handler=run_demo)


@dataclass
class DemoContext:
    args: object
    clips: list = field(default_factory=list)
    results: dict = field(default_factory=dict)


def run_demo(args):
    _quiet_tensorflow()
    ctx = DemoContext(args, clips=_find_clips(args.audio))
    for step in STEPS:
        step(ctx)
    return 0


def _quiet_tensorflow():
    """Import TensorFlow with its start-up chatter (CUDA probes logged from C++
    before any log level applies) sent to /dev/null; errors still surface."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
            tf.constant(0.0) + 1.0  # device initialisation logs here
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    import absl.logging
    absl.logging.set_verbosity(absl.logging.ERROR)
    tf.get_logger().setLevel("ERROR")


def _find_clips(folder):
    from ..errors import DataError

    if folder is None:
        folder = Path(str(resources.files("era_zoo") / "assets" / "audio"))
    if not folder.is_dir():
        raise DataError(folder, "is not a folder")
    clips = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in {".ogg", ".wav", ".flac", ".mp3"})
    if not clips:
        raise DataError(folder, "holds no .ogg/.wav/.flac/.mp3 files")
    return clips


def describe_clips(ctx):
    """Per clip: header facts, then the in-graph log-mel at both presets."""
    from ..audio.decode import audio_info, load_audio
    from ..audio.mel import LogMel
    from ..audio.presets import get_preset

    layers = {name: LogMel(name) for name in PRESETS}
    print(f"era_zoo demo: audio front-end on {len(ctx.clips)} recording(s)\n")
    header = (f"{'clip':<44} {'seconds':>8} {'rate':>6} {'ch':>3}  "
              + "  ".join(f"{n + ' log-mel':>16}" for n in PRESETS)
              + f"  {'chunks':>6}")
    print(header)
    print("-" * len(header))
    for clip in ctx.clips:
        info = audio_info(clip)
        shapes = {}
        for name, layer in layers.items():
            wave = load_audio(clip, get_preset(name).sample_rate)
            shapes[name] = tuple(int(d) for d in layer(wave[None]).shape[1:])
        chunks = max(1, shapes["melon48"][1] // CHUNK_FRAMES)
        ctx.results.setdefault("chunks", {})[clip] = chunks
        print(f"{_ellipsize(clip.stem, 44):<44} {info.seconds:8.1f} {info.sample_rate:6d} "
              f"{info.channels:3d}  "
              + "  ".join(f"{f'{s[0]} x {s[1]}':>16}" for s in shapes.values())
              + f"  {chunks:6d}")


def time_pipeline(ctx):
    """The inference pipeline from audio: decode, resample, log-mel, chunk."""
    from ..data.pipeline import chunk_dataset
    from ..data.table import Track, TrackTable

    table = TrackTable("demo", [Track(c.stem, audio_path=str(c)) for c in ctx.clips])
    ds = chunk_dataset(table, "melon48", source="audio", frames=CHUNK_FRAMES,
                       batch_size=ctx.args.batch_size)
    start = time.perf_counter()
    n_chunks = sum(int(b["mel"].shape[0]) for b in ds)
    seconds = time.perf_counter() - start
    expected = sum(ctx.results["chunks"].values())
    audio_seconds = n_chunks * CHUNK_FRAMES * 256 / 16000
    print(f"\npipeline: chunk_dataset(melon48, from audio) gave {n_chunks} chunks of "
          f"48 x {CHUNK_FRAMES} (expected {expected}) in {seconds:.2f} s: "
          f"{len(ctx.clips) / seconds:.1f} clips/s, {n_chunks / seconds:.0f} chunks/s, "
          f"{audio_seconds / seconds:.0f}x real time (first run includes graph tracing)")


def print_credits(ctx):
    notices = [c.with_suffix(".txt") for c in ctx.clips if c.with_suffix(".txt").exists()]
    if notices:
        print("\nrecordings:")
        for notice in notices:
            first = notice.read_text(encoding="utf-8").strip().splitlines()[0]
            print(f"  {first.strip()}")


def _ellipsize(text, width):
    return text if len(text) <= width else text[:width - 3] + "..."


STEPS = [describe_clips, time_pipeline, print_credits]
