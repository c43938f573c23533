"""``era-zoo tag``: music tags of audio files with the musicnn taggers."""
import json
from pathlib import Path

from . import EXIT_STATUS_HELP, MINIMUM_HELP, check_writable, file_failed, files_done

HELP = "tag audio files with a pretrained musicnn tagger (top tags, taggram pictures)"
TAGGERS = ("musicnn_msd", "musicnn_mtt", "musicnn_vgg_msd", "musicnn_vgg_mtt")


def register(sub):
    p = sub.add_parser(
        "tag", help=HELP,
        description="Tag audio files with one of the four pretrained taggers of the "
                    "musicnn wheel (50 Million Song Dataset or MagnaTagATune tags). "
                    "Each file is cut into 3 s patches (a file shorter than one patch is "
                    "repeated to fill it); a tag's probability is its mean over the "
                    "patches, and the taggram (tags x time) shows how it evolves. "
                    "Unreadable files get an error line; the others are still tagged. "
                    + MINIMUM_HELP,
        epilog="example: era-zoo tag song.mp3 other.ogg --model musicnn_msd --top 5 "
               "--plot taggrams/. " + EXIT_STATUS_HELP)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="audio files (wav, flac, ogg, mp3, ...) or .npy musicnn96 mels")
    p.add_argument("--model", default="musicnn_msd",
                   help=f"one of {', '.join(TAGGERS)}, or a preset folder or .keras file "
                        "of one (default musicnn_msd)")
    p.add_argument("--weights", metavar="PRESET|FILE",
                   help="another preset or a .weights.h5 file for --model")
    p.add_argument("--top", type=int, default=5, metavar="K",
                   help="how many tags to list per file (default 5)")
    p.add_argument("--overlap", type=float, default=0.0, metavar="SECONDS",
                   help="overlap of neighbouring patches, below their 3 s length "
                        "(default 0: non-overlapping)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N",
                   help="patches per forward pass, across files (default 64)")
    p.add_argument("--json", action="store_true",
                   help="print JSON (with each file's taggram) instead of a table")
    p.add_argument("--plot", metavar="DIR",
                   help="write each file's taggram as DIR/<file stem>.png")
    p.set_defaults(handler=run)


def overlap_frames(model, seconds):
    """``--overlap`` seconds as whole frames of the model's mel."""
    from ..errors import ConfigError

    frames = int(round(float(seconds) * model.mel_spec.frames_per_second))
    if not 0 <= frames < model.n_frames:
        limit = model.n_frames / model.mel_spec.frames_per_second
        raise ConfigError("--overlap", f"{seconds} s; must be >= 0 and below the "
                                       f"patch length ({limit:.2f} s)")
    return frames


def _print_row(row):
    if "error" in row:
        file_failed("tag", row)
        return
    tags = ", ".join(f"{t['tag']} {t['probability']:.0%}" for t in row["top"])
    print(f"{row['file']}  ({row['patches']} patch(es))\n  {tags}")


def run(args):
    from ..errors import ConfigError
    from ..inference import load_model
    from ..inference.tags import check_tagger, plot_taggram, tag_files

    if args.top < 1 or args.batch_size < 1:
        raise ConfigError("--top/--batch-size", "must be at least 1")
    model = load_model(args.model, args.weights)
    check_tagger(model)
    overlap = overlap_frames(model, args.overlap)
    plots = Path(args.plot) if args.plot else None
    if plots is not None:
        check_writable(plots / "taggram.png", "--plot")

    def finished(row):
        if plots is not None and "taggram" in row:
            row["plot"] = str(plot_taggram(model, row["taggram"],
                                           plots / f"{Path(row['file']).stem}.png",
                                           title=f"{row['file']} ({model.zoo_name})",
                                           overlap=overlap))
        if not args.json:
            _print_row(row)
            if "plot" in row:
                print(f"  taggram: {row['plot']}")
        elif "error" in row:
            file_failed("tag", row)

    rows = tag_files(model, args.files, top=args.top, overlap=overlap,
                     batch_size=args.batch_size, on_file=finished)
    if args.json:
        for row in rows:
            if "taggram" in row:
                row["tags"] = list(model.labels)
                row["taggram"] = [[round(float(p), 5) for p in patch] for patch in row["taggram"]]
        print(json.dumps(rows, indent=2))
    return files_done("tag", rows)
