"""Era predictions track by track: era_zoo's ``predict_tracks`` against the
same tracks through Keras' ``predict``, one call per track.

    .venv/bin/python benchmarks/inference.py [--clips 24] [--seconds 30] [--rounds 3] [--write]

Both sides read the same WAV files with the same reader (era_zoo's
``iter_track_chunks``: decoding threads, the model's log-mel, chunks) and
feed one track's chunks at a time, as a folder of songs is predicted. Keras'
``predict`` builds a data pipeline and an iterator for every call;
era_zoo's ``predict_year`` runs in-memory chunks through
``predict_on_batch`` (``era_zoo.models.base.predict_in_batches``). The models
are the shipped presets of audio_cnn and audioart_mmc (audio only: no artist
text). The sides alternate for ``--rounds`` rounds and the median round
counts; the probabilities of the two sides are compared as a check.
``--write`` replaces the "## inference" section of benchmarks/RESULTS.md.
"""
import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

from pipeline import interleaved_rounds, make_audio
from results import clips_parser, write_section

MODELS = ("audio_cnn", "audioart_mmc")


def keras_predict_tracks(model, table):
    """predict_tracks' probabilities, each track through ``model.predict``."""
    from era_zoo.inference.tracks import iter_track_chunks, model_batch
    from scipy.special import softmax
    probs = []
    for _, _, chunks in iter_track_chunks(model, table.tracks):
        logits = model.predict(model_batch(model, chunks), batch_size=64, verbose=0)["logits"]
        probs.append(softmax(np.asarray(logits, np.float64), axis=1).mean(axis=0))
    return np.array(probs)


def main(argv=None):
    args = clips_parser(__doc__, clips=24, rounds=3).parse_args(argv)

    import era_zoo
    import tensorflow as tf
    from era_zoo.data.table import Track, TrackTable
    from era_zoo.inference import predict_tracks
    from era_zoo.inference.tracks import iter_track_chunks

    lines = [f"- machine: {platform.machine()}, {os.cpu_count()} CPU core(s) visible, "
             f"{platform.system()}; TensorFlow {tf.__version__}; "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; load average "
             f"{os.getloadavg()[0]:.1f} at the start",
             f"- {args.clips} WAV files of {args.seconds:g} s; {args.rounds} alternating rounds, "
             f"median",
             "",
             "| model (shipped preset) | chunks a track | Keras predict per track, ms a track | "
             "era_zoo predict_tracks, ms a track | speed-up |",
             "|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            model = era_zoo.load(name)
            rate = model.mel_spec.sample_rate
            folder = Path(tmp) / name
            folder.mkdir()
            wavs = make_audio(folder, args.clips, args.seconds, rate)
            table = TrackTable("bench", [Track(Path(p).stem, audio_path=p) for p in wavs])
            chunks = next(iter_track_chunks(model, table.tracks[:1]))[2]
            keras_predict_tracks(model, TrackTable("warm", table.tracks[:2]))  # tracing
            predict_tracks(model, TrackTable("warm", table.tracks[:2]))
            wall, _, results = interleaved_rounds(
                {"keras": lambda: keras_predict_tracks(model, table),
                 "era_zoo": lambda: predict_tracks(model, table)[0]}, args.rounds)
            np.testing.assert_allclose(results["era_zoo"], results["keras"], atol=1e-5)
            keras_s, era_s = np.median(wall["keras"]), np.median(wall["era_zoo"])
            per_track = 1000 / len(table)
            line = (f"| {name} | {len(chunks)} | {keras_s * per_track:.0f} | "
                    f"**{era_s * per_track:.0f}** | {keras_s / era_s:.2f}x |")
            print(line, flush=True)
            lines.append(line)
    print("\n".join(lines))
    if args.write:
        write_section("inference", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
