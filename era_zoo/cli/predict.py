"""``era-zoo predict``: the release era of audio files."""
import json

HELP = "estimate the release year of audio files with an era model"


def register(sub):
    p = sub.add_parser(
        "predict", help=HELP,
        description="Estimate each file's release year with an era model "
                    "(audio_cnn, audio_suc, audioart_mmc). Prints the expected "
                    "year, the most probable year classes and the decade "
                    "probabilities. Unreadable files get an error line; the "
                    "others are still predicted.",
        epilog="example: era-zoo predict song.mp3 other.flac --model audio_suc --json")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, mp3, ...)")
    p.add_argument("--model", default="audioart_mmc",
                   help="registry name (loads its pretrained preset) or a saved .keras "
                        "file (default: audioart_mmc)")
    p.add_argument("--weights", metavar="PRESET|FILE",
                   help="another preset name or a .weights.h5 file for --model")
    p.add_argument("--top", type=int, default=3, metavar="K",
                   help="how many most probable year classes to list (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)


def _print_row(row):
    if "error" in row:
        print(f"error: {row['error']}")  # the message names the file
        return
    r = row["result"]
    tops = ", ".join(f"{a}" + (f"-{b}" if b != a else "") + f" ({p:.0%})"
                     for (a, b), p in ((t["years"], t["probability"]) for t in r["top_years"]))
    decades = sorted(r["decades"].items(), key=lambda kv: -kv[1])[:3]
    dec = ", ".join(f"{d}s {p:.0%}" for d, p in decades)
    print(f"{row['file']}\n  year ~ {r['expected_year']:.0f}   top: {tops}\n"
          f"  decades: {dec}   ({r['chunks']} chunk(s))")


def run(args):
    from ..inference import load_model, predict_files

    model = load_model(args.model, args.weights)
    rows = predict_files(model, args.files, top=args.top,
                         on_file=None if args.json else _print_row)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 1 if all("error" in r for r in rows) else 0
