"""``era-zoo data build demo``: the arguments and the handler.

The ``data`` command module wires these in with ``add_build_arguments(parser)``
and ``parser.set_defaults(handler=run_build)``.
"""
from .composers import COMPOSERS
from .render import RENDERERS
from .splits import SPLIT_BY


def add_build_arguments(parser):
    parser.description = (
        "Render a demo corpus of real music with real era labels from the music21 "
        "package's score corpus: every piece played by one General-MIDI instrument "
        "(fluidsynth + TimGM6mb, or a pure-Python synthesizer), labelled with its "
        "documented year or its composer's active period. Resumable: run the same "
        "command again to continue an interrupted build.")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (WAVs, manifest.json); reused to resume")
    parser.add_argument("--max-per-composer", type=int, default=40, metavar="N",
                        help="at most N pieces per composer or collection, a seeded choice "
                             "(default 40, about 390 pieces; 0 = every piece, about 6,200)")
    parser.add_argument("--composers", nargs="+", metavar="ID", choices=sorted(COMPOSERS),
                        help="only these composer/collection ids (default: all)")
    parser.add_argument("--seconds", type=float, default=30.0, metavar="S",
                        help="keep the opening S seconds of each piece (default 30)")
    parser.add_argument("--min-seconds", type=float, default=5.0, metavar="S",
                        help="skip pieces with less than S seconds of music (default 5, capped at --seconds)")
    parser.add_argument("--sample-rate", type=int, default=22050, metavar="HZ",
                        help="WAV sample rate: 22050 for the era models' era224 mel, "
                             "16000 for melon48 (default 22050)")
    parser.add_argument("--renderer", choices=RENDERERS, default="auto",
                        help="auto: fluidsynth when it and its soundfont are installed, "
                             "else python (default auto)")
    parser.add_argument("--soundfont", metavar="SF2",
                        help="GM soundfont for fluidsynth (default: TimGM6mb.sf2)")
    parser.add_argument("--program", type=int, default=0, metavar="GM",
                        help="the one General-MIDI program every note is played with "
                             "(default 0, acoustic grand piano)")
    parser.add_argument("--split-by", choices=SPLIT_BY, default=SPLIT_BY[0],
                        help="unit kept within one split: a whole composer, so the test "
                             "split holds unseen composers (default), or a work's movements "
                             "(composers then shared between splits)")
    parser.add_argument("--valid-fraction", type=float, default=0.1, metavar="F")
    parser.add_argument("--test-fraction", type=float, default=0.1, metavar="F")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="render processes (default 2; 1 renders in this process)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the piece selection and of the splits (default 0)")
    parser.add_argument("--retry-skipped", action="store_true",
                        help="try again the pieces an earlier run skipped")
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run_build(args):
    import signal
    from .build import BuildSettings, build_demo
    # a terminated build saves its manifest like an interrupted one, to resume
    signal.signal(signal.SIGTERM, _interrupt)
    settings = BuildSettings(sample_rate=args.sample_rate, seconds=args.seconds,
                             min_seconds=min(args.min_seconds, args.seconds),
                             renderer=args.renderer, soundfont=args.soundfont,
                             program=args.program)
    result = build_demo(args.out, max_per_composer=args.max_per_composer or None,
                        composers=args.composers, seed=args.seed, workers=args.workers,
                        settings=settings, split_by=args.split_by,
                        valid_fraction=args.valid_fraction, test_fraction=args.test_fraction,
                        retry_skipped=args.retry_skipped)
    print(result.summary())
    return 0
