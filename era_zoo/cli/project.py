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
                        help="a run directory (its model.keras and recipe), a .keras file, "
                             "or NAME:PRESET (a registry model with pretrained weights)")
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


def load_model(spec):
    """(model, recipe or None) from a run directory, a .keras file or a name."""
    import keras

    from .. import models  # noqa: F401  registers the zoo's classes for loading
    from ..training import optimizers  # noqa: F401  the run's optimizer, too
    path = Path(spec)
    if path.is_dir():
        from ..errors import ConfigError
        from ..training.recipe import load_recipe
        if not (path / "model.keras").is_file():
            raise ConfigError("MODEL", f"{path} holds no model.keras",
                              "give a finished run directory or a .keras file")
        recipe = None
        if (path / "recipe.toml").is_file():
            recipe = load_recipe(path / "recipe.toml", check_model=False)
        return keras.saving.load_model(path / "model.keras", safe_mode=True,
                                       compile=False), recipe
    if path.suffix == ".keras":
        from ..errors import DataError
        if not path.is_file():
            raise DataError(path, "model file not found")
        return keras.saving.load_model(path, safe_mode=True, compile=False), None
    from ..registry import load
    name, _, weights = str(spec).partition(":")
    return load(name, weights or None), None


def run(args):
    from ..data.problems import ProblemReport
    from ..data.readers import read_dataset
    from ..training.projector import project_table

    model, recipe = load_model(args.model)
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
