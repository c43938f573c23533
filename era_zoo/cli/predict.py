"""``era-zoo predict``: the release era of audio files."""
import json

from . import EXIT_STATUS_HELP, MINIMUM_HELP, failures_only, file_failed, files_done

HELP = "estimate the release year of audio files with an era model"


def register(sub):
    p = sub.add_parser(
        "predict", help=HELP,
        description="Estimate each file's release year with an era model "
                    "(audio_cnn, audio_suc, audioart_mmc). Prints the year of "
                    "the most probable class (the year the era benchmark scores) "
                    "with the expected year beside it, the most probable year "
                    "classes and the decade probabilities. Unreadable files get an error line; the "
                    "others are still predicted. " + MINIMUM_HELP + " AudioArt-MMC predicts "
                    "from the "
                    "audio alone unless it is given its artist's text. With "
                    "--model musicnn_msd (or musicnn_vgg_msd), a zero-shot decade "
                    "opinion instead: the tagger's Million Song Dataset tags oldies, "
                    "60s .. 00s renormalised.",
        epilog="examples: era-zoo predict song.mp3 other.flac --model audio_suc --json; "
               "era-zoo predict bach.ogg --model audioart_mmc --artist-text "
               "\"Baroque composer and organist from Leipzig\". " + EXIT_STATUS_HELP)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="audio files (wav, flac, ogg, mp3, ...) or .npy mels")
    p.add_argument("--model", default="audioart_mmc",
                   help="registry name (loads its default preset), preset folder, saved "
                        ".keras file or training run directory (default: audioart_mmc)")
    p.add_argument("--weights", metavar="PRESET|FILE",
                   help="another preset or a .weights.h5 file for a name or preset folder")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--artist-text", metavar="TEXT",
                      help="the artist's text (biography, tags) for every file; "
                           "AudioArt-MMC only, tokenized with the model's own tokenizer")
    text.add_argument("--artist-text-file", metavar="TSV",
                      help="a text per file: lines FILE<TAB>ARTIST TEXT (a file without "
                           "a line is reported as an error)")
    p.add_argument("--top", type=int, default=3, metavar="K",
                   help="how many most probable year classes to list (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)


def _print_row(row):
    if "error" in row:
        file_failed("predict", row)
        return
    r = row["result"]
    tops = ", ".join(f"{a}" + (f"-{b}" if b != a else "") + f" ({p:.0%})"
                     for (a, b), p in ((t["years"], t["probability"]) for t in r["top_years"]))
    decades = sorted(r["decades"].items(), key=lambda kv: -kv[1])[:3]
    dec = ", ".join(f"{d}s {p:.0%}" for d, p in decades)
    print(f"{row['file']}\n  year {r['top_year']:.0f} (expected {r['expected_year']:.0f})"
          f"   top: {tops}\n  decades: {dec}   ({r['chunks']} chunk(s))")


def artist_texts(args, model):
    """The ``--artist-text``/``--artist-text-file`` inputs as an
    :class:`~era_zoo.inference.ArtistTexts` tokenized by the model source's
    own tokenizer, or None for audio only.

    Args:
        args: the parsed ``era-zoo predict`` arguments.
        model: the loaded model (must read artist text when text is given).

    Example:
        >>> texts = artist_texts(parser.parse_args(["a.ogg", "--artist-text", "..."]),
        ...                      model)  # doctest: +SKIP
    """
    from ..errors import ConfigError
    from ..inference import ArtistTexts, load_artist_text, reads_artist_text

    if args.artist_text is None and args.artist_text_file is None:
        return None
    if not reads_artist_text(model):
        raise ConfigError("--artist-text", f"{type(model).__name__} reads no artist text",
                          "only AudioArt-MMC (--model audioart_mmc) takes artist text")
    tokenizer = load_artist_text(args.model)
    if tokenizer is None:
        raise ConfigError("--artist-text", f"{args.model} ships no artist-text tokenizer",
                          "use a preset or training run that has one (RUN_DIR/artist_text)")
    if args.artist_text is not None:
        return ArtistTexts(tokenizer, text=args.artist_text)
    return ArtistTexts.from_tsv(args.artist_text_file, tokenizer)


def _print_decades(row):
    if "error" in row:
        file_failed("predict", row)
        return
    shares = sorted(row["decades"].items(), key=lambda kv: -kv[1])
    print(f"{row['file']}\n  decades (zero-shot): "
          + ", ".join(f"{tag} {p:.0%}" for tag, p in shares)
          + f"   ({row['patches']} patch(es))")


def run_decades(args, model):
    """A musicnn MSD tagger's zero-shot decade opinion of each file."""
    from ..errors import ConfigError
    from ..inference.tags import predict_decades

    if args.artist_text is not None or args.artist_text_file is not None:
        raise ConfigError("--artist-text", f"{model.zoo_name} reads no artist text",
                          "only AudioArt-MMC (--model audioart_mmc) takes artist text")
    if not args.json:
        print(f"inputs: audio only; {model.zoo_name}'s mean probabilities of its Million "
              "Song Dataset tags oldies, 60s, 70s, 80s, 90s, 00s, renormalised to sum to "
              "one: listeners' tags, a zero-shot opinion, not a year estimate (see its "
              "model card)")
    rows = predict_decades(model, args.files,
                           on_file=failures_only("predict") if args.json else _print_decades)
    if args.json:
        print(json.dumps(rows, indent=2))
    return files_done("predict", rows)


def run(args):
    from ..inference import check_era_model, input_note, load_model, predict_files

    model = load_model(args.model, args.weights)
    if hasattr(model, "decade_opinion"):
        return run_decades(args, model)
    check_era_model(model)
    texts = artist_texts(args, model)
    if not args.json:
        print(f"inputs: {input_note(model, texts is not None)}")
    rows = predict_files(model, args.files, top=args.top, artist_text=texts,
                         on_file=failures_only("predict") if args.json else _print_row)
    if args.json:
        print(json.dumps(rows, indent=2))
    return files_done("predict", rows)
