"""Tagging a folder of 30 s clips: era_zoo's musicnn against the original.

    .venv/bin/python benchmarks/musicnn.py [--clips 16] [--seconds 30] [--rounds 2] [--write]

The original is the wheel ``musicnn==0.1.0``'s own ``extractor`` called once
per file, as its users call it, with the two fixes that make it run today
(era_zoo/convert/musicnn_original.py: the float16 product in float32, and
tf-keras); it runs in its own process (it switches TensorFlow to graph mode)
and times its loop there, after its imports. era_zoo tags the same files with
``era_zoo.inference.tags.tag_files`` (files decoded ahead in threads, the
musicnn96 mel in graph, patches of consecutive files batched together), after
one warm-up file (graph tracing). Both use musicnn_msd / MSD_musicnn; the
sides alternate for ``--rounds`` rounds and the best round of each counts, so
a shared machine's load hits them alike. The mean taggrams of the two sides
are compared as a check. ``--write`` replaces the "## musicnn" section of
benchmarks/RESULTS.md.
"""
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

from pipeline import make_audio
from results import clips_parser, write_section

ORIGINAL = Path(__file__).resolve().parents[1] / "era_zoo" / "convert" / "musicnn_original.py"
RATE = 22050           # the clips' rate: both sides resample to 16 kHz


def original(files):
    """(seconds, {file: mean taggram}) of the fixed extractor, timed in its process."""
    run = subprocess.run([sys.executable, str(ORIGINAL), "tag", "MSD_musicnn", *files],
                         capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"the original extractor failed:\n{run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    return result["seconds"], {f: np.array(v) for f, v in result["mean_taggram"].items()}


def era_zoo_side(model, files):
    from era_zoo.inference.tags import tag_files

    start = time.perf_counter()
    rows = tag_files(model, files)
    seconds = time.perf_counter() - start
    return seconds, {r["file"]: r["taggram"].mean(axis=0) for r in rows}


def main(argv=None):
    args = clips_parser(__doc__, clips=16, rounds=2).parse_args(argv)

    import era_zoo
    import tensorflow as tf

    if subprocess.run([sys.executable, str(ORIGINAL), "available"]).returncode != 0:
        raise SystemExit("the musicnn wheel or tf-keras is missing: pip install --no-deps "
                         "musicnn==0.1.0; pip install tf-keras~=2.21")
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        files = make_audio(Path(tmp), args.clips, args.seconds, RATE)
        model = era_zoo.load("musicnn_msd")
        era_zoo_side(model, files[:1])                     # warm-up: tracing
        times = {"original": [], "era_zoo": []}
        for _ in range(args.rounds):
            seconds, orig_tags = original(files)
            times["original"].append(seconds)
            seconds, ours = era_zoo_side(model, files)
            times["era_zoo"].append(seconds)
        agreement = max(float(np.abs(ours[f] - orig_tags[f]).max()) for f in files)
    best = {side: min(t) for side, t in times.items()}
    audio = args.clips * args.seconds
    ratio = best["original"] / best["era_zoo"]
    cpu = platform.processor() or platform.machine()
    body = "\n".join([
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
        f"{cpu}, {os.cpu_count()} CPU core(s), load average {load_at_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; TF {tf.__version__}, musicnn 0.1.0 with "
        "tf-keras; "
        f"{args.clips} x {args.seconds:g} s WAV clips at {RATE} Hz "
        f"({int(args.seconds * 16000 / 256 + 1) // 187} patches each), musicnn_msd; best "
        f"of {args.rounds} alternating rounds.",
        "",
        "| tagging a folder | seconds | audio seconds per second | vs original |",
        "|---|---:|---:|---:|",
        f"| original extractor, file by file (fixed) | {best['original']:.1f} | "
        f"{audio / best['original']:.1f} | 1.00x |",
        f"| era_zoo `tag_files` (patches batched across files, mel in graph) | "
        f"{best['era_zoo']:.1f} | {audio / best['era_zoo']:.1f} | **{ratio:.2f}x** |",
        "",
        f"Mean taggrams of the two sides agree to {agreement:.1e} (largest difference "
        "over files and tags)."])
    print(body)
    if args.write:
        write_section("musicnn", body)


if __name__ == "__main__":
    main()
