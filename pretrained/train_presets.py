"""Train the pretrained presets: paper A's three era models on the music21
demo corpus, with their recipes plus the demo overlay (recipes/overlays/demo.toml).

    era-zoo data build demo --out data/demo
    python pretrained/train_presets.py --corpus data/demo

Writes each preset folder, era_zoo/presets/<model>_demo/ (config.json,
model.weights.h5, metadata.json with sha256 and test metrics, README.md, and
AudioArt-MMC's artist_text/ tokenizer), with era_zoo.presets.write_preset.
Re-running resumes the runs in --runs.
"""
import argparse
import datetime
import sys
from pathlib import Path

from era_zoo.presets import PACKAGE_PRESETS, write_preset

REPO = Path(__file__).resolve().parent.parent
OVERLAY = "overlays/demo"
TRAINING_DATA = ("era_zoo demo corpus (music21 scores rendered with one GM piano; "
                 "`era-zoo data build demo`: composer-disjoint splits, artist texts "
                 "without dates)")
LICENSE = "weights: CC0 1.0 (trained by era_zoo on public-domain scores)"


def train_one(name, corpus, runs, epochs):
    import era_zoo
    from era_zoo.registry import model_info
    from era_zoo.training.recipe import find_recipe, overlay_overrides

    result = era_zoo.train(find_recipe(model_info(name).recipe), data=corpus,
                           overrides=overlay_overrides(find_recipe(OVERLAY)),
                           epochs=epochs, out=runs / name, progress=False, verbose=2)
    if result.status != "completed":
        raise SystemExit(f"{name}: training ended with status {result.status}")
    return runs / name


def evaluate(model, corpus, artist_text=None):
    """The era benchmark's scores on the corpus's test split (paper A's
    +-3 years, the demo labels' +-25 years and period, decade, MAE of the
    headline and of the expected year)."""
    from era_zoo.bench.era import run_era
    from era_zoo.data.demo.reader import read_demo

    result = run_era(read_demo(corpus), model, k=3, progress=False, artist_text=artist_text)
    summary = {k: round(v["mean"], 4) for k, v in result["summary"].items()}
    summary["test_tracks"] = result["test_tracks_scored"]
    summary["test_tracks_outside_classes"] = result["test_tracks_outside_classes"]
    return summary


def split_facts(corpus):
    """Pieces and composers per split of the corpus, for the card."""
    from era_zoo.data.demo.reader import read_demo

    table = read_demo(corpus)
    return {split: {"pieces": len(table.split(split)),
                    "composers": sorted({t.artist_id for t in table.split(split)})}
            for split in ("train", "valid", "test")}


def make_preset(name, run, corpus, epochs):
    from era_zoo.registry import load, model_info
    from era_zoo.sideinfo.artist_text import ArtistTextTable

    # The run's final model, as `era-zoo predict --model RUN_DIR` loads it:
    # the validation composers are unseen, so validation loss is lowest after
    # an epoch or two and the best checkpoint would be a barely trained model.
    model = load(run / "model.keras")
    metrics = {"test": evaluate(model, corpus)}
    artist_text = None
    if model_info(name).reads("artist_text"):
        artist_text = ArtistTextTable.load(run / "artist_text")
        metrics["test_with_artist_text"] = evaluate(model, corpus, artist_text)
    bins = model.year_bins
    metadata = {
        "default": True,
        "description": f"{model_info(name).title} (paper A) trained on the era_zoo demo "
                       f"corpus: {bins.n_classes} classes of {bins.width} years over "
                       f"{bins.start}-{bins.end} (the training split's years)",
        "recipe": f"recipes/{name}.toml + recipes/{OVERLAY}.toml",
        "epochs": epochs,
        "training_data": TRAINING_DATA,
        "splits": split_facts(corpus),
        "metrics": metrics,
        "license": LICENSE,
        "trained": datetime.date.today().isoformat(),
    }
    preset = f"{name}_demo"
    return write_preset(PACKAGE_PRESETS / preset, model, metadata=metadata,
                        card=card(preset, name, model, metadata), artist_text=artist_text,
                        overwrite=True)


def card(preset, name, model, entry):
    """The model card (README.md of the preset folder)."""
    from era_zoo.registry import model_info

    title = model_info(name).title
    bins = model.year_bins
    lines = [
        f"# {preset}: {title} on the era_zoo demo corpus", "",
        f"- Model: `{name}` (paper A, {title}); load with `era_zoo.load(\"{name}\")`.",
        f"- Recipe: `{entry['recipe']}`, {entry['epochs']} epochs; the final epoch's model "
        "(the validation composers are unseen, and validation loss is lowest after an "
        "epoch or two, when the model has learnt little).",
        "- Input: era224 log-mel (224 Slaney bands, 22,050 Hz, FFT 2048, hop 512), "
        "256-frame chunks (about 6 s); class probabilities averaged over a track's chunks.",
        "- Encoder: paper B's audio encoder at a quarter width (channels 32-128), 2x2 "
        "pooling in all seven blocks.",
        f"- Classes: {bins.n_classes} bins of {bins.width} years over {bins.start}-{bins.end} "
        "(the recipe's \"auto\" range: the training split's earliest and latest years).",
    ]
    if "test_with_artist_text" in entry["metrics"]:
        lines.append(
            f"- Artist-text dropout: in training, each example's fusion got no text with "
            f"probability {model.text_dropout} (the input inference uses without artist "
            "text), so audio-only predictions are in distribution.")
    if "test_with_artist_text" in entry["metrics"]:
        lines.append(
            "- Artist text: `artist_text/` is the WordPiece tokenizer the model reads "
            f"(`era_zoo.registry.preset_artist_text(\"{name}\")`), learnt from the demo "
            "composers' descriptions (era_zoo/data/demo/composers.py) with the recipe's "
            "`sideinfo.text`.")
    splits = entry["splits"]
    lines += [
        f"- Training data: {entry['training_data']}. Labels are works' documented "
        "dates or the composer's active-period midpoint (era_zoo/data/demo/composers.py, "
        "sources named there). Artist texts name style, nationality, forms and places, "
        "never a year, date or century.",
        "- Splits keep composers apart: " + "; ".join(
            f"{split} {splits[split]['pieces']} pieces by {len(splits[split]['composers'])} "
            f"composer(s)" for split in ("train", "valid", "test"))
        + f". Test composers, none heard in training: {', '.join(splits['test']['composers'])}.",
        "", "## Test-split results", "",
        "Predicted year: the centre of the most probable class (what `era-zoo predict` "
        "prints first). within_k: share within +-3 years (paper A's tolerance); "
        "within_wide_k: within +-25 years, the precision of composer-level labels; "
        "period_accuracy: the right period (medieval, renaissance, baroque, classical, "
        "romantic, modern); decade_accuracy; mae_years: mean absolute error; *_expected: "
        "the same of the probability-weighted year.", "",
    ]
    for setting, values in entry["metrics"].items():
        inputs = "audio and artist text" if setting.endswith("artist_text") else "audio only"
        lines += [f"{inputs}:", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
                  for k, v in values.items()]
        lines.append("")
    lines += [
        "", "## Limits", "",
        "- A demo, not a release-year model for recorded popular music: every piece is "
        "synthesized by one General-MIDI piano, and the corpus has a few hundred pieces "
        "whose labels cluster on a handful of composers' years. The test split is small "
        "and holds only unseen composers, so its figures are noisy and low: +-3 years is "
        "out of reach for labels that are composers' active-period midpoints.",
    ]
    if "test_with_artist_text" in entry["metrics"]:
        lines.append("- `era-zoo predict` feeds AudioArt-MMC no artist text (\"artist "
                     "unknown\") unless given `--artist-text`; the audio-only figures "
                     "apply to audio alone.")
    lines += [
        f"- Train on the Million Song Dataset with `recipes/{name}.toml` for the "
        "paper's setting.",
        "", f"License: {entry['license']}; sha256 of every file: metadata.json.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    from era_zoo.registry import list_models

    models = list_models(family="era")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="demo corpus folder")
    parser.add_argument("--runs", default=str(REPO / "runs" / "presets"),
                        help="where the training runs go (resumable)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--models", nargs="+", default=models, choices=models)
    args = parser.parse_args(argv)
    for name in args.models:
        run = train_one(name, args.corpus, Path(args.runs), args.epochs)
        preset = make_preset(name, run, args.corpus, args.epochs)
        print(f"{name}: preset written to {preset.path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
