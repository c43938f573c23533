"""Train the pretrained presets: paper A's three era models on the music21
demo corpus, with their recipes plus the demo overlay (recipes/overlays/demo.toml).

    era-zoo data build demo --out data/demo
    python pretrained/train_presets.py --corpus data/demo

Writes, beside this script: weights/<preset>.weights.h5, presets.json (with
sha256 and test metrics) and cards/<preset>.md. Re-running resumes the runs
in --runs.
"""
import argparse
import datetime
import json
import sys
from pathlib import Path

from era_zoo.atomic import atomic_path, write_text

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODELS = ("audio_cnn", "audio_suc", "audioart_mmc")
TITLES = {"audio_cnn": "Audio-CNN", "audio_suc": "Audio-SUC", "audioart_mmc": "AudioArt-MMC"}


def train_one(name, corpus, runs, epochs):
    import era_zoo
    from era_zoo.training.recipe import overlay_overrides

    result = era_zoo.train(REPO / "recipes" / f"{name}.toml", data=corpus,
                           overrides=overlay_overrides(REPO / "recipes" / "overlays" / "demo.toml"),
                           epochs=epochs, out=runs / name, progress=False, verbose=2)
    if result.status != "completed":
        raise SystemExit(f"{name}: training ended with status {result.status}")
    return runs / name / "checkpoints" / "best.keras"


def evaluate(model, corpus, artist_text=None):
    from era_zoo.bench.era import run_era
    from era_zoo.data.demo.reader import read_demo

    result = run_era(read_demo(corpus), model, k=3, progress=False, artist_text=artist_text)
    summary = {k: round(v["mean"], 4) for k, v in result["summary"].items()}
    summary["test_tracks"] = result["test_tracks_scored"]
    return summary


def write_preset(name, best, corpus, epochs, presets):
    from era_zoo.inference import load_model
    from era_zoo.registry import sha256_of

    model = load_model(best)
    metrics = {"test": evaluate(model, corpus)}
    if name == "audioart_mmc":
        from era_zoo.sideinfo.artist_text import ArtistTextTable
        text = ArtistTextTable.load(best.parents[1] / "artist_text")
        metrics["test_with_artist_text"] = evaluate(model, corpus, text)
    preset = f"{name}_demo"
    weights = HERE / "weights" / f"{preset}.weights.h5"
    with atomic_path(weights) as tmp:  # keras needs the name to end in .weights.h5
        model.save_weights(tmp)
    config = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable")}
    presets[preset] = {
        "model": name,
        "default": True,
        "config": config,
        "mel": "era224",
        "weights": f"weights/{weights.name}",
        "sha256": sha256_of(weights),
        "recipe": f"recipes/{name}.toml + recipes/overlays/demo.toml",
        "epochs": epochs,
        "training_data": "era_zoo demo corpus (music21 scores rendered with one GM "
                         "piano; `era-zoo data build demo`)",
        "metrics": metrics,
        "license": "weights: CC0 1.0 (trained by era_zoo on public-domain scores)",
        "card": f"cards/{preset}.md",
        "trained": datetime.date.today().isoformat(),
    }
    write_card(preset, name, presets[preset])


def write_card(preset, name, entry):
    from era_zoo.models.year_bins import YearBins

    bins = YearBins.from_config(entry["config"]["year_bins"])
    lines = [
        f"# {preset}: {TITLES[name]} on the era_zoo demo corpus", "",
        f"- Model: `{name}` (paper A, {TITLES[name]}); load with "
        f"`era_zoo.load(\"{name}\")`.",
        f"- Recipe: `{entry['recipe']}`, {entry['epochs']} epochs; best validation "
        "checkpoint.",
        "- Input: era224 log-mel (224 Slaney bands, 22,050 Hz, FFT 2048, hop 512), "
        "256-frame chunks (about 6 s); class probabilities averaged over a track's chunks.",
        "- Encoder: paper B's audio encoder at a quarter width (channels 32-128), 2x2 "
        "pooling in all seven blocks.",
        f"- Classes: {bins.n_classes} bins of {bins.width} years over {bins.start}-{bins.end}.",
        f"- Training data: {entry['training_data']}. Labels are works' documented "
        "dates or the composer's active-period midpoint (era_zoo/data/demo/composers.py, "
        "sources named there).",
        "", "## Test-split results", "",
        "Predicted year: the centre of the most probable class. within_k: share within "
        "+-3 years; mae_years: mean absolute error.", "",
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
        "whose labels cluster on a handful of composers' years. Within +-3 years on this "
        "corpus is close to recognising the composer or collection.",
        "- `era-zoo predict` feeds AudioArt-MMC no artist text (\"artist unknown\"), "
        "so its audio-only figures apply there.",
        "- Train on the Million Song Dataset with `recipes/" + name + ".toml` for the "
        "paper's setting.",
        "", f"Weights sha256: `{entry['sha256']}`; license: {entry['license']}.",
    ]
    write_text(HERE / entry["card"], "\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="demo corpus folder")
    parser.add_argument("--runs", default=str(REPO / "runs" / "presets"),
                        help="where the training runs go (resumable)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args(argv)
    presets_file = HERE / "presets.json"
    presets = json.loads(presets_file.read_text()) if presets_file.exists() else {}
    for name in args.models:
        best = train_one(name, args.corpus, Path(args.runs), args.epochs)
        write_preset(name, best, args.corpus, args.epochs, presets)
        write_text(presets_file, json.dumps(presets, indent=2) + "\n")  # keys in written order
        print(f"{name}: preset written", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
