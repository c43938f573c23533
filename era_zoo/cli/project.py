"""``era-zoo project``: a TensorBoard embedding projector for any saved model."""
from pathlib import Path

# Files that identify a dataset layout, checked in this order when --reader
# is not given (the layouts of era_zoo.data's readers).
LAYOUT_MARKERS = (
    ("melon", ("song_meta.json",)),
    ("gtzan", ("genres", "train_filtered.txt")),
    ("jamendo", ("splits", "autotagging_genre-train.tsv")),
    ("msd", ("tracks.csv", "tracks.tsv", "corgis_music.csv", "data")),
)


def register(subparsers):
    parser = subparsers.add_parser(
        "project", help="write a TensorBoard projector of a model's track embeddings",
        description="Embed the tracks of one split with a model's audio encoder (the mean "
                    "over each track's non-overlapping chunks) at both levels (trunk: the "
                    "conv features; projection: the embedding the losses see) and write a "
                    "TensorBoard projector with year, decade, genre and artist per point. "
                    "View it with 'tensorboard --logdir OUT'.")
    parser.add_argument("model", metavar="MODEL",
                        help="a training run directory (its model and recipe), a preset "
                             "folder, a .keras file, or a registered name (its default "
                             "preset; a model without one is random, with a warning)")
    parser.add_argument("--weights", metavar="PRESET|FILE",
                        help="another preset or a .weights.h5 file for a name or preset folder")
    parser.add_argument("--data", metavar="DIR", required=True, help="dataset root")
    parser.add_argument("--out", metavar="DIR", required=True, help="projector folder to write")
    parser.add_argument("--reader", metavar="NAME",
                        help="dataset reader (default: the run's recipe, else detected "
                             "from the folder's layout)")
    parser.add_argument("--split", default=None,
                        help="split to embed (default: the run's projector split, else valid)")
    parser.add_argument("--max-tracks", type=int, default=2000, metavar="N",
                        help="embed at most N tracks, a seeded sample (default: 2000; 0: all)")
    parser.add_argument("--skip-bad-files", action="store_true",
                        help="leave unreadable files out (counted) instead of stopping")
    parser.set_defaults(handler=run)


def detect_reader(root):
    from ..errors import ConfigError
    root = Path(root)
    for name, markers in LAYOUT_MARKERS:
        if any((root / m).exists() for m in markers):
            return name
    raise ConfigError("--reader", f"cannot tell the dataset layout of {root}",
                      f"pass --reader with one of: {', '.join(n for n, _ in LAYOUT_MARKERS)}")


def run_recipe(source):
    """The recipe of a training run directory, or None for other model sources.

    Args:
        source: what ``era-zoo project`` was given as MODEL.

    Example:
        >>> run_recipe("runs/audio_cnn")["data"]["reader"]  # doctest: +SKIP
        'demo'
    """
    from ..training.recipe import load_recipe
    recipe = Path(source) / "recipe.toml"
    return load_recipe(recipe, check_model=False) if recipe.is_file() else None


def run(args):
    from ..data.problems import ProblemReport
    from ..data.readers import read_dataset
    from ..inference import load_model
    from ..training.projector import project_table

    model = load_model(args.model, args.weights)
    recipe = run_recipe(args.model)
    reader = args.reader or (recipe["data"]["reader"] if recipe else detect_reader(args.data))
    split = args.split
    if split is None:
        split = "valid"
        if recipe:
            role = recipe["projector"]["split"]
            split = recipe["data"].get(f"{role}_split", role)
    on_error = "skip" if args.skip_bad_files else "raise"
    table = read_dataset(reader, args.data).split(split)
    report = ProblemReport()
    out = project_table(model, table, args.out, max_tracks=args.max_tracks,
                        on_error=on_error, report=report)
    if report:
        print(report)
    print(f"era-zoo project: wrote {out}; view with: tensorboard --logdir {out}")
    return 0
