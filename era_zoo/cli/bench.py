"""``era-zoo bench``: paper B's downstream protocols (GTZAN, MTG-Jamendo,
Melon continuation) and paper A's era metrics, for a saved model or
precomputed embeddings."""
import sys
from pathlib import Path

PROTOCOLS = ("gtzan", "jamendo", "melon", "era")


def register(subparsers):
    parser = subparsers.add_parser(
        "bench", help="run a downstream benchmark on a model or precomputed embeddings",
        description="Run one of the papers' downstream protocols and print a table "
                    "laid out like the paper's. Embeddings come from an era_zoo model "
                    "(--model) or an .npz with X (rows), IDS (track id per row) and "
                    "optional Y (--embeddings); ids are matched to the dataset by file stem.")
    sub = parser.add_subparsers(dest="protocol", metavar="PROTOCOL")
    sub.required = True
    helps = {
        "gtzan": "GTZAN fault-filtered genre classification (chunk MLP, majority vote)",
        "jamendo": "MTG-Jamendo auto-tagging (track-mean MLP, macro ROC-AUC / PR-AUC)",
        "melon": "Melon playlist continuation (NDCG@k, MAP@k, random baseline)",
        "era": "era recognition (accuracy within +-k years, decade accuracy, MAE)",
    }
    for name in PROTOCOLS:
        p = sub.add_parser(name, help=helps[name], description=helps[name])
        _common_options(p)
        getattr(sys.modules[__name__], f"_{name}_options")(p)
        p.set_defaults(handler=run)
    p = sub.add_parser("all", help="every benchmark whose data is under --data-root, one table",
                       description="Run every protocol whose dataset is under --data-root "
                                   "(gtzan/, mtg-jamendo/, melon/, msd/) for one model and print "
                                   "one table of the headline figures with the time of each stage.")
    _all_options(p)
    p.set_defaults(handler=run_all)


def _common_options(p):
    p.add_argument("--data", required=True, metavar="DIR", help="dataset root folder")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", metavar="NAME|PATH",
                     help="era_zoo model: a saved .keras file, or a registry name (with --weights); "
                          "an era model given to 'bench era' is scored on its own year predictions")
    src.add_argument("--embeddings", metavar="FILE.npz", help="precomputed embeddings: X, IDS, optional Y")
    p.add_argument("--weights", metavar="PATH|PRESET",
                   help="weights for a --model given by name: a preset or a .weights.h5 file")
    p.add_argument("--level", metavar="LEVEL",
                   help="which output to embed with: trunk (1024-d, the reference's downstream "
                        "features; the default) or projection for paper B's models; projection "
                        "(default) or trunk for the era models; penultimate (default), mean_pool, "
                        "max_pool or taggram for musicnn_msd/_mtt; pool5_flat (default) or "
                        "taggram for musicnn_vgg_msd/_mtt. Printed under the table and stored "
                        "in the JSON (level)")
    p.add_argument("--runs", type=int, default=10, help="repetitions with seeds S..S+runs-1 (default 10)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--json", metavar="OUT", help="write the full result as JSON here")
    p.add_argument("--markdown", metavar="OUT", help="write the table as Markdown here")
    p.add_argument("--plots", metavar="DIR", help="write plots (PNG) into this folder")
    p.add_argument("--name", help="model name in the table (default: the source)")
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="bad dataset files: stop (raise) or skip and count them (default raise)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _probe_options(p):
    p.add_argument("--max-epochs", type=int, help="probe epochs at most (default 200)")
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 10)")
    p.add_argument("--batch-size", type=int, help="probe batch size (default 128)")
    p.add_argument("--separate-runs", action="store_true",
                   help="train the runs one Keras fit after another (the reference statement; "
                        "default: all runs trained together as one grouped network)")


def _all_options(p):
    p.add_argument("--data-root", required=True, metavar="DIR",
                   help="folder holding gtzan/, mtg-jamendo/, melon/ and/or msd/ (missing ones are "
                        "skipped)")
    p.add_argument("--model", required=True, metavar="NAME|PATH",
                   help="era_zoo model: a saved .keras file, a preset folder or a registry name")
    p.add_argument("--weights", metavar="PATH|PRESET", help="weights for a --model given by name")
    p.add_argument("--level", metavar="LEVEL", help="which output to embed with (default: the "
                                                    "model's default level)")
    p.add_argument("--runs", type=int, default=10, help="repetitions with seeds S..S+runs-1 (default 10)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--jamendo-split", type=int, default=0, help="MTG-Jamendo split-N (default 0)")
    p.add_argument("--jamendo-audio", choices=("mp3", "wav", "ogg", "flac", "npy"), default="mp3",
                   help="MTG-Jamendo files to embed (default mp3)")
    p.add_argument("--json", metavar="OUT", help="write every result as JSON here")
    p.add_argument("--markdown", metavar="OUT", help="write the table as Markdown here")
    p.add_argument("--name", help="model name in the table (default: the source)")
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                   help="bad dataset files: stop (raise) or skip and count them (default raise)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _probe_options(p)


def _gtzan_options(p):
    p.add_argument("--splits", metavar="DIR", help="folder of {train,valid,test}_filtered.txt "
                                                   "(default: in DIR or DIR/splits)")
    p.add_argument("--no-valid", action="store_true",
                   help="ignore the validation split (no early stopping)")
    _probe_options(p)


def _jamendo_options(p):
    p.add_argument("--category", choices=("genre", "moodtheme", "instrument"), required=True,
                   help="tag category; each has its own split files")
    p.add_argument("--split", type=int, default=0, help="split-N to use (default 0)")
    p.add_argument("--splits", metavar="DIR", help="folder holding split-N/ (default: found under DIR)")
    p.add_argument("--audio", choices=("mp3", "wav", "ogg", "flac", "npy"), default="mp3",
                   help="files a --model embeds: the dataset's mp3, a re-encoded copy, or npy mels")
    _probe_options(p)


def _melon_options(p):
    p.add_argument("--k", type=int, default=100, help="continuation length and metric cut-off (default 100)")
    p.add_argument("--per-query", type=int, default=100,
                   help="nearest test tracks retrieved per playlist track (default 100)")
    p.add_argument("--queries", choices=("seed", "all"), default="seed",
                   help="seed: the playlist's non-test tracks query (default); all: every track, "
                        "test tracks included (the paper's literal reading, leaks the answer)")
    p.add_argument("--block-size", type=int, default=1024, help="queries per matrix product (default 1024)")
    p.add_argument("--playlist-files", default="train", metavar="FILES",
                   help="playlists evaluated: comma-separated Melon playlist files (train, val, "
                        "test) or 'all' (default: train, as the reference)")


def _era_options(p):
    p.add_argument("--dataset", default="msd", help="reader of the dataset with years (default msd)")
    p.add_argument("--k", type=int, default=3, help="tolerance in years (default 3)")
    p.add_argument("--wide-k", type=int, metavar="YEARS",
                   help="a second tolerance that fits coarse labels (default: the dataset's "
                        "own, 25 years for the demo corpus's composer-level labels; none for "
                        "MSD); the demo also scores its musical periods")
    p.add_argument("--bin-width", type=int, default=3, help="probe year-bin width in years (default 3)")
    p.add_argument("--year-from", choices=("expected", "argmax"), default="argmax",
                   help="predicted year: the best bin's centre (default) or the expected "
                        "year over bins")
    p.add_argument("--artist-text", metavar="DIR", type=Path,
                   help="AudioArt-MMC: the artist-text tokenizer its run saved "
                        "(RUN_DIR/artist_text); each track then gets its artist's text "
                        "(paper A's 'with artist information')")
    _probe_options(p)


def _read(args):
    from ..data.readers import read_dataset
    kw = {"on_error": args.on_error}
    name = args.protocol
    if name == "gtzan":
        kw["splits_dir"] = args.splits
    elif name == "jamendo":
        kw.update(category=args.category, split=args.split, audio=args.audio)
        if args.splits:
            kw["splits_dir"] = args.splits
    elif name == "era":
        name = args.dataset
    return read_dataset(name, args.data, **kw)


def _source(args, table):
    from ..bench.sources import embed_table, load_embeddings
    if args.embeddings:
        return load_embeddings(args.embeddings)
    from ..inference import load_model
    model = load_model(args.model, args.weights)
    if args.protocol == "era" and hasattr(model, "predict_year"):
        return model  # an era model is scored on its own predictions
    from .embed import check_level
    check_level(model, args.level)
    return embed_table(table, model, level=args.level, on_error=args.on_error, progress=not args.quiet)


def _probe(args, base):
    return base.with_(max_epochs=args.max_epochs, patience=args.patience, batch_size=args.batch_size,
                      grouped=False if args.separate_runs else None)


def run(args):
    from ..atomic import write_json, write_text
    from ..bench import era, gtzan, jamendo, melon, report
    from ..errors import ConfigError
    if args.runs < 1:
        raise ConfigError("--runs", f"must be >= 1, got {args.runs}")
    table = _read(args)
    if table.problems:
        print(f"{table.name}: {table.problems}", file=sys.stderr)
    source = _source(args, table)
    common = {"runs": args.runs, "seed": args.seed, "progress": not args.quiet}
    if args.protocol == "gtzan":
        result = gtzan.run_gtzan(table, source, probe=_probe(args, gtzan.GTZAN_PROBE),
                                 use_valid=not args.no_valid, **common)
    elif args.protocol == "jamendo":
        result = jamendo.run_jamendo(table, source, category=args.category,
                                     probe=_probe(args, jamendo.JAMENDO_PROBE), **common)
    elif args.protocol == "melon":
        files = None if args.playlist_files == "all" else \
            [f.strip() for f in args.playlist_files.split(",") if f.strip()]
        result = melon.run_melon(table, source, k=args.k, per_query=args.per_query, queries=args.queries,
                                 playlist_files=files, block_size=args.block_size, **common)
    else:
        text = None
        if args.artist_text:
            from ..sideinfo.artist_text import ArtistTextTable
            text = ArtistTextTable.load(args.artist_text)
        result = era.run_era(table, source, k=args.k, bin_width=args.bin_width, year_from=args.year_from,
                             probe=_probe(args, era.ERA_PROBE), on_error=args.on_error,
                             artist_text=text, wide_k=args.wide_k, **common)
    result["dataset"] = {"name": table.name, "root": str(args.data), "problems": table.problems.to_dict()}
    _warn_coverage(result)
    table_md = report.markdown_table(result, args.name)
    print(table_md)
    if args.markdown:
        write_text(args.markdown, table_md)
    if args.json:
        write_json(args.json, result, sort_keys=False)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plots:
        for path in report.write_plots(result, args.plots):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def run_all(args):
    from ..atomic import write_json, write_text
    from ..bench.suite import run_suite, suite_table
    from ..errors import ConfigError
    from ..inference import load_model
    from .embed import check_level
    if args.runs < 1:
        raise ConfigError("--runs", f"must be >= 1, got {args.runs}")
    model = load_model(args.model, args.weights)
    check_level(model, args.level)
    suite = run_suite(args.data_root, model, runs=args.runs, seed=args.seed, level=args.level,
                      on_error=args.on_error, progress=not args.quiet,
                      probe_changes={"max_epochs": args.max_epochs, "patience": args.patience,
                                     "batch_size": args.batch_size,
                                     "grouped": False if args.separate_runs else None},
                      jamendo_split=args.jamendo_split, jamendo_audio=args.jamendo_audio)
    for result in suite["results"]:
        problems = result["dataset"]["problems"]
        if problems:
            counts = ", ".join(f"{kind} {p['count']}" for kind, p in problems.items())
            print(f"{result['dataset']['name']}: problems: {counts}", file=sys.stderr)
        _warn_coverage(result)
    table_md = suite_table(suite, args.name or args.model)
    print(table_md)
    if args.markdown:
        write_text(args.markdown, table_md)
    if args.json:
        write_json(args.json, suite, sort_keys=False)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _warn_coverage(result):
    for split, c in (result.get("coverage") or {}).items():
        if c["embedded"] < c["tracks"]:
            print(f"warning: embeddings lack {c['tracks'] - c['embedded']} of {c['tracks']} "
                  f"{split} tracks (e.g. {', '.join(c['missing_examples'])})", file=sys.stderr)
