"""``era-zoo data``: inspect datasets on disk, build the demo corpus.

Actions are sub-commands of ``era-zoo data``; each is added by a function in
``ACTIONS`` that takes the action sub-parsers and registers one parser whose
``handler`` runs it. Adding an action (say ``build``) means writing such a
function and appending it to ``ACTIONS``.
"""
import json

from ..data.readers import READERS
from ..errors import ConfigError


def add_info(actions):
    parser = actions.add_parser(
        "info", help="summarise a dataset: splits, tags, years, artists, mel scale, problems",
        description="Read a dataset in its published layout and print its tracks per split, "
                    "tags per category, years (range and per decade), artists, genres and "
                    "the problems found. Missing audio and bad records are counted, not "
                    "fatal; an unreadable metadata file is an error. Where the dataset has "
                    ".npy mels (Melon's arena_mel), a few are read and a warning printed "
                    "when their values do not fit the scale of the mel preset (--mel).")
    parser.add_argument("dataset", metavar="DATASET", choices=sorted(READERS),
                        help="one of: " + ", ".join(sorted(READERS)))
    parser.add_argument("root", metavar="DIR", help="the dataset's root folder")
    parser.add_argument("--splits", metavar="DIR", dest="splits_dir",
                        help="folder of the split lists (GTZAN *_filtered.txt; MTG-Jamendo "
                             "split-N/ or its parent), if not under DIR")
    parser.add_argument("--category", metavar="C",
                        help="MTG-Jamendo category: genre, instrument, moodtheme or all "
                             "(default: all)")
    parser.add_argument("--split-number", type=int, metavar="N", dest="split",
                        help="MTG-Jamendo split-N to read (default: 0)")
    parser.add_argument("--audio", metavar="EXT",
                        help="MTG-Jamendo files to look for: mp3 (default), wav, ogg, flac or "
                             "npy (mels)")
    parser.add_argument("--min-year", type=int, metavar="YEAR",
                        help="MSD: leave out tracks released before YEAR")
    parser.add_argument("--mel", metavar="PRESET",
                        help="mel preset the dataset's .npy mels must fit (default: melon48, "
                             "as every Melon recipe uses): a few files are read and their "
                             "values checked against its scale")
    parser.add_argument("--mel-samples", type=int, default=8, metavar="N",
                        help="how many .npy mels to read for that check (default: 8)")
    parser.add_argument("--seed", type=int, default=0,
                        help="which .npy mels to read (a seeded draw; default: 0)")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first bad record instead of counting it")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run_info)


def run_info(args):
    from ..data.info import dataset_info, format_info

    options = {key: getattr(args, key)
               for key in ("splits_dir", "category", "split", "audio", "min_year")
               if getattr(args, key) is not None}
    if args.mel_samples < 1:
        raise ConfigError("--mel-samples", f"must be >= 1, got {args.mel_samples}")
    info = dataset_info(args.dataset, args.root, on_error="raise" if args.strict else "skip",
                        mel=args.mel, mel_samples=args.mel_samples, seed=args.seed, **options)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        print(format_info(info))
    return 0


def add_build(actions):
    from ..data.demo.cli import add_build_arguments, run_build

    build = actions.add_parser(
        "build", help="build a dataset from registry packages (the demo corpus)",
        description="Build a dataset that needs nothing downloaded but packages.")
    corpora = build.add_subparsers(dest="corpus", metavar="CORPUS")
    corpora.required = True
    demo = corpora.add_parser(
        "demo", help="render the music21 score corpus to audio with era labels",
        description="Render real music (music21's corpus, 14th century to 1924) "
                    "with one General-MIDI instrument; labels from era_zoo's "
                    "table of composers' dates. Resumable: re-run to continue.")
    add_build_arguments(demo)
    demo.set_defaults(handler=run_build)


ACTIONS = [add_info, add_build]


def register(subparsers):
    parser = subparsers.add_parser(
        "data", help="inspect datasets (MSD, Melon, GTZAN, MTG-Jamendo); build the demo corpus",
        description="Work with datasets in their published layouts.",
        epilog="Run 'era-zoo data ACTION --help' for the options of one action.")
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION")
    actions.required = True
    for add_action in ACTIONS:
        add_action(actions)
