"""``era-zoo embed``: embeddings of audio files for the benchmark harness."""
from . import EXIT_STATUS_HELP, MINIMUM_HELP, check_writable, file_failed, files_done

HELP = "write audio embeddings of files to an .npz the benchmarks read"


def register(sub):
    p = sub.add_parser(
        "embed", help=HELP,
        description="Embed audio files with a model's audio encoder (or a musicnn "
                    "tagger's features): one row per non-overlapping chunk (a file "
                    "shorter than one chunk is repeated to fill it), written as X "
                    "(rows), IDS (file stem per row), the "
                    "layout `era-zoo bench --embeddings` reads. Unreadable files are "
                    "reported and left out. " + MINIMUM_HELP,
        epilog="example: era-zoo embed gtzan/*/*.wav --model contrastive_a2g_a2p_g2p "
               "-o gtzan.npz. " + EXIT_STATUS_HELP)
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files or .npy mels")
    p.add_argument("--model", default="audioart_mmc",
                   help="registry name (its default preset), preset folder, saved .keras "
                        "file or training run directory")
    p.add_argument("--weights", metavar="PRESET|FILE",
                   help="another preset or a .weights.h5 file for a name or preset folder")
    p.add_argument("--level", metavar="LEVEL",
                   help="paper B's models: trunk (the flattened conv features, 1024-d, "
                        "what the reference saves for downstream tasks; the default) or "
                        "projection (the 128-d embedding the losses see); era models: "
                        "projection (the default) or trunk; musicnn_msd/_mtt: penultimate "
                        "(200, the default), mean_pool, max_pool (753) or taggram (50); "
                        "musicnn_vgg_msd/_mtt: pool5_flat (256, the default) or taggram. "
                        "The level is stored in the .npz (LEVEL) and printed")
    p.add_argument("-o", "--out", required=True, metavar="OUT.npz", help="output file")
    p.set_defaults(handler=run)


def _print_row(row):
    if "error" in row:
        file_failed("embed", row)
    else:
        print(f"{row['file']}: {row['chunks']} chunk(s)")


def check_level(model, level):
    """ConfigError naming the model's levels unless ``level`` (None: its
    default) is one of them; before any file is read."""
    from ..errors import ConfigError
    from ..inference import embedding_levels

    levels = embedding_levels(model)
    if level is not None and level not in levels:
        raise ConfigError("--level", f"{level!r} is not a level of "
                                     f"{getattr(model, 'zoo_name', type(model).__name__)}",
                          f"one of {', '.join(levels)} (default {levels[0]})")


def run(args):
    from ..bench.sources import save_embeddings
    from ..inference import default_level, embed_files, load_model

    check_writable(args.out, "-o")
    model = load_model(args.model, args.weights)
    check_level(model, args.level)
    level = args.level or default_level(model)
    rows = []
    X, ids, _ = embed_files(model, args.files, level=level,
                            on_file=lambda row: (rows.append(row), _print_row(row)))
    if len(X):
        save_embeddings(args.out, X, ids, level=level)
        print(f"wrote {args.out}: level {level}, {len(X)} rows x {X.shape[1]} from "
              f"{len(set(ids.tolist()))} file(s)")
    else:
        print(f"nothing embedded; {args.out} not written")
    return files_done("embed", rows)
