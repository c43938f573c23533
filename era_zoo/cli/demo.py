"""``era-zoo demo`` (what ``make demo`` runs): the whole zoo on real music
with nothing downloaded but packages.

1. the audio front-end and tf.data pipeline on the recordings shipped in
   ``era_zoo/assets/audio`` (public-domain and CC BY; notices beside them);
2. a subset of the demo corpus (music21 scores rendered to audio, real era
   labels; ``era-zoo data build demo``);
3. paper A's three era models trained with their recipes plus the demo
   overlay ``recipes/overlays/demo.toml`` (TensorBoard logs and projector included);
4. paper A's table for the three side by side on the test split;
5. the era of each shipped recording, by each trained model;
6. the same recordings through the pretrained musicnn MSD tagger: its top
   tags and its zero-shot decade opinion.

``run_demo(args)`` runs ``STEPS`` in order, each a function of the shared
``DemoContext``. Every step resumes: a second run reuses the corpus and the
finished training runs.
"""
import os
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..data.demo.splits import SPLIT_BY

PRESETS = ("melon48", "era224")
CHUNK_FRAMES = 256


def era_models():
    """(name, title) of paper A's era models, as the registry lists them."""
    from ..registry import list_models, model_info
    return [(name, model_info(name).title) for name in list_models(family="era")]


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="the whole zoo on real music: corpus, training, paper A's table",
        description="1. Decode the real recordings shipped with era_zoo (or those of "
                    "--audio DIR) and time the front-end and pipeline; 2. render a "
                    "subset of the music21 demo corpus; 3. train Audio-CNN, Audio-SUC "
                    "and AudioArt-MMC with their recipes (+ recipes/overlays/demo.toml); 4. print "
                    "paper A's table for the three; 5. predict the era of the "
                    "recordings. About 10-15 minutes on 2 cores; a second run reuses "
                    "what the first built.")
    parser.add_argument("--audio", metavar="DIR", type=Path,
                        help="folder of audio files to use instead of the shipped clips")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="chunks per batch in the timed pipeline run (default 32)")
    parser.add_argument("--out", type=Path, default=Path("demo_out"),
                        help="folder for the corpus, training runs and results "
                             "(default demo_out; reused by a second run)")
    parser.add_argument("--max-per-composer", type=int, default=15, metavar="N",
                        help="demo corpus size: at most N pieces per composer or "
                             "collection (default 15, about 170 pieces)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="seconds rendered of each piece (default 20)")
    parser.add_argument("--split-by", choices=SPLIT_BY, default=SPLIT_BY[0],
                        help="corpus split unit: composer (default: the test split's "
                             "composers are unseen in training) or work (composers shared)")
    parser.add_argument("--epochs", type=int, default=15,
                        help="training epochs of each era model (default 15)")
    parser.add_argument("--train-batch-size", type=int, default=16, metavar="N",
                        help="training batch (default 16: the default subset has about "
                             "20 validation pieces; the overlay's 32 suits the full corpus)")
    parser.add_argument("--front-end-only", action="store_true",
                        help="stop after the front-end and pipeline step (no corpus, "
                             "no training)")
    parser.set_defaults(handler=run_demo)


@dataclass
class DemoContext:
    args: object
    clips: list = field(default_factory=list)
    results: dict = field(default_factory=dict)


def run_demo(args):
    _quiet_tensorflow()
    ctx = DemoContext(args, clips=_find_clips(args.audio))
    for step in (FRONT_END_STEPS if args.front_end_only else STEPS):
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


def build_corpus(ctx):
    from ..data.demo.build import BuildSettings, build_demo

    out = ctx.args.out / "corpus"
    print(f"\n== demo corpus: music21 scores rendered to audio, in {out}")
    result = build_demo(out, max_per_composer=ctx.args.max_per_composer,
                        settings=BuildSettings(seconds=ctx.args.seconds),
                        split_by=ctx.args.split_by)
    print(result.summary())
    ctx.results["corpus"] = out


def train_era_models(ctx):
    import era_zoo
    from ..registry import model_info
    from ..training.recipe import find_recipe, overlay_overrides

    overrides = overlay_overrides(find_recipe("overlays/demo"))
    ctx.results["runs"] = {}
    for name, title in era_models():
        recipe = model_info(name).recipe
        print(f"\n== training {title}: recipe {recipe} + overlays/demo, "
              f"{ctx.args.epochs} epochs")
        run = ctx.args.out / "runs" / name
        result = era_zoo.train(find_recipe(recipe), data=ctx.results["corpus"],
                               overrides=overrides, epochs=ctx.args.epochs,
                               batch_size=ctx.args.train_batch_size, out=run, verbose=2)
        # The run's final model (what `era-zoo predict --model RUN_DIR` loads):
        # the validation split's composers are unseen, and its loss is lowest
        # after an epoch or two, before the model has learnt much.
        ctx.results["runs"][name] = run
        print(f"{title}: {result.status}; run directory {run}")
    print(f"\nTensorBoard (loss terms, embedding projector): "
          f"tensorboard --logdir {ctx.args.out / 'runs'}")


def era_table(ctx):
    from ..bench.era import run_era
    from ..data.demo.reader import read_demo
    from ..errors import DataError
    from ..inference import load_artist_text, load_model
    from ..registry import model_info

    table = read_demo(ctx.results["corpus"])
    sizes = table.split_counts()
    ctx.results["models"] = {}
    rows = []
    for name, title in era_models():
        model = load_model(ctx.results["runs"][name])
        ctx.results["models"][name] = model
        settings = [("audio only", None)]
        if model_info(name).reads("artist_text"):
            text = load_artist_text(ctx.results["runs"][name])  # the run's tokenizer
            if text is None:
                raise DataError(ctx.results["runs"][name], "its run holds no artist_text",
                                "delete the run folder and run the demo again")
            settings.append(("+ artist text", text))
        for inputs, text in settings:
            result = run_era(table, model, k=3, progress=False, artist_text=text)
            s = {key: v["mean"] for key, v in result["summary"].items()}
            rows.append(f"| {title:<12} | {inputs:<13} | {100 * s['within_k']:9.1f} | "
                        f"{100 * s['within_wide_k']:10.1f} | {100 * s['period_accuracy']:10.1f} | "
                        f"{100 * s['decade_accuracy']:10.1f} | {s['mae_years']:11.1f} |")
    bins = model.year_bins
    composers = {split: len({t.artist_id for t in table.split(split)})
                 for split in ("train", "valid", "test")}
    print(f"\n== paper A's table on the demo corpus test split "
          f"(train {sizes.get('train', 0)} / valid {sizes.get('valid', 0)} / "
          f"test {sizes.get('test', 0)} pieces by {composers['train']} / "
          f"{composers['valid']} / {composers['test']} composers, "
          f"{_split_note(table)}; year = the most probable of {bins.n_classes} "
          f"{bins.width}-year classes over {bins.start}-{bins.end})\n")
    print("| Model        | Input         | +-3 y (%) | +-25 y (%) | Period (%) | Decade (%) "
          "| MAE (years) |")
    print("|--------------|---------------|-----------|------------|------------|------------"
          "|-------------|")
    print("\n".join(rows))
    print("\nMost labels are a composer's active-period midpoint, so +-3 years is paper A's "
          "tolerance, not these labels' precision: +-25 years and the period (medieval, "
          "renaissance, baroque, classical, romantic, modern) are what fit them.")


def _split_note(table):
    """Whether the test composers were heard in training (the corpus's split)."""
    train = {t.artist_id for t in table.split("train")}
    unseen = {t.artist_id for t in table.split("test")} - train
    if unseen == {t.artist_id for t in table.split("test")}:
        return "no test composer in training"
    return f"{len(unseen)} test composer(s) unseen in training"


def predict_recordings(ctx):
    from ..audio.decode import load_audio
    from ..errors import EraZooError
    from ..inference import predict_era

    print("\n== era of the shipped recordings (most probable years; most probable decade; "
          "audio only)\n")
    models = ctx.results["models"]
    titles = era_models()
    print(f"{'recording':<44} " + " ".join(f"{t:>18}" for _, t in titles))
    for clip in ctx.clips:
        cells, waves = [], {}  # decoded once per sample rate, shared by the models
        for name, _ in titles:
            model = models[name]
            rate = model.mel_spec.sample_rate
            try:
                if rate not in waves:
                    waves[rate] = load_audio(clip, rate)
                r = predict_era(model, waves[rate], rate)
                first, last = r["top_years"][0]["years"]
                decade = max(r["decades"], key=r["decades"].get)
                cells.append(f"{first}-{last} ({decade}s)")
            except EraZooError as e:
                cells.append(f"error: {e.problem}"[:18])
        print(f"{_ellipsize(clip.stem, 44):<44} " + " ".join(f"{c:>18}" for c in cells))
    bins = next(iter(models.values())).year_bins
    print(f"\n(Brahms 1869, Tchaikovsky 1892 arranged by MacLeod, and two 21st-century "
          f"CC BY pieces; the demo models only know {bins.start}-{bins.end} piano "
          f"renderings of scores.)")


def musicnn_opinion(ctx):
    """A model trained on real recordings beside the demo models: musicnn's
    MSD tagger (shipped, pretrained) on the same clips, its top tags and its
    zero-shot decade opinion."""
    from ..errors import EraZooError
    from ..inference import load_model
    from ..inference.tags import tag_files

    print("\n== the same recordings through musicnn_msd (pretrained on the Million Song "
          "Dataset's audio; MSD decade tags renormalised: a zero-shot opinion)\n")
    model = load_model("musicnn_msd")
    print(f"{'recording':<44} {'top tags':<40} decade tags")
    for row in tag_files(model, [str(c) for c in ctx.clips], top=3):
        name = _ellipsize(Path(row["file"]).stem, 44)
        if "error" in row:
            print(f"{name:<44} error: {row['error']}")
            continue
        tags = ", ".join(f"{t['tag']} {t['probability']:.0%}" for t in row["top"])
        try:
            shares = model.decade_opinion(row["taggram"])
        except EraZooError as e:
            print(f"{name:<44} {tags:<40} error: {e.problem}")
            continue
        decades = ", ".join(f"{d} {p:.0%}" for d, p in
                            sorted(shares.items(), key=lambda kv: -kv[1])[:2])
        print(f"{name:<44} {tags:<40} {decades}")


FRONT_END_STEPS = [describe_clips, time_pipeline, print_credits]
STEPS = FRONT_END_STEPS + [build_corpus, train_era_models, era_table, predict_recordings,
                           musicnn_opinion]
