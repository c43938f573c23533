"""``era-zoo``: the command line. Each sub-command lives in its own module of
this package and registers itself through ``register(subparsers)``; heavy
imports (TensorFlow) happen inside the handlers so ``--help`` stays instant."""
import argparse
import importlib
import sys

from ..errors import EraZooError

# Order here is the order in --help.
COMMANDS = ("data", "train", "export", "bench", "predict", "tag", "embed", "project",
            "demo")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="era-zoo",
        description="Music era recognition and cross-modal contrastive music "
                    "representations: datasets, training recipes, benchmarks.",
        epilog="Run 'era-zoo COMMAND --help' for the options of one command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                continue  # command not part of this build
            raise
        module.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except EraZooError as e:
        print(f"era-zoo {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
