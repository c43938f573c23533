"""``era-zoo``: the command line. Each sub-command lives in its own module of
this package and registers itself through ``register(subparsers)``; heavy
imports (TensorFlow) happen inside the handlers so ``--help`` stays instant.

Exit status, the same for every command: 0 done; 1 an unexpected internal
error (a bug: ``--debug`` shows the traceback); 2 a usage, configuration or
input error, one line ``era-zoo COMMAND: error: WHAT: PROBLEM (HINT)`` naming
the file or setting; 3 for the commands that take many files (predict,
embed, tag): one or more files failed, each reported on stderr as it comes,
then "N of M files failed"; the other files' results are complete. ``train``
adds its own (3 NaN stop, 143 SIGTERM; see ``era-zoo train --help``).
"""
import argparse
import importlib
import sys
import traceback

from ..errors import EraZooError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_FILES_FAILED = 0, 1, 2, 3
EXIT_STATUS_HELP = (
    "exit status: 0 every file done; 3 one or more files failed (each reported on stderr, "
    "then 'N of M files failed'; the others' results are complete); 2 a usage or "
    "configuration error; 1 an internal error (--debug shows its traceback)")
DEBUG_HELP = "on an error, show the full traceback too"
MINIMUM_HELP = (
    "A file must give the model enough audio of its own: one whole input chunk for the "
    "era models (5.9 s for the shipped presets), half a chunk for the others (2.0 s for "
    "paper B's models, 1.5 s for the musicnn taggers); a shorter file is an error, not a "
    "result made up by repeating it. Damaged files are reported as such: empty, not "
    "audio, truncated (cut short), NaN/infinite or far out-of-range samples, silent.")

# Order here is the order in --help.
COMMANDS = ("data", "train", "export", "bench", "predict", "tag", "embed", "project",
            "demo")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="era-zoo",
        description="Music era recognition and cross-modal contrastive music "
                    "representations: datasets, training recipes, benchmarks.",
        epilog="Run 'era-zoo COMMAND --help' for the options of one command.\n\n"
               "exit status: 0 done; 2 a usage, configuration or input error (one line "
               "naming the file or setting); 3 predict, embed, tag: one or more files "
               "failed ('N of M files failed'); 1 an internal error (--debug shows its "
               "traceback).")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
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
    # `era-zoo predict --debug ...` works as well as `era-zoo --debug predict ...`.
    for command in sub.choices.values():
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help=DEBUG_HELP)
    return parser


def file_failed(command, row):
    """Report one file a multi-file command could not process, on stderr,
    as it happens: ``era-zoo COMMAND: error: FILE: PROBLEM (HINT)``.

    Args:
        command: the command's name.
        row: a result row with ``"error"`` (its message names the file).

    Example:
        >>> file_failed("predict", {"file": "a.wav", "error": "a.wav: file not found"})
    """
    print(f"era-zoo {command}: error: {row['error']}", file=sys.stderr, flush=True)


def failures_only(command):
    """An ``on_file`` callback for machine-readable output (``--json``):
    a failed file is still reported on stderr as it happens, a result waits
    for the JSON on stdout.

    Args:
        command: the command's name.

    Example:
        >>> failures_only("tag")({"file": "a.wav", "top": []})
    """
    def report(row):
        if "error" in row:
            file_failed(command, row)
    return report


def files_done(command, rows):
    """End a multi-file command: "N of M files failed" on stderr, and the
    exit status (:data:`EXIT_FILES_FAILED` when any failed).

    Args:
        command: the command's name.
        rows: one row per file given; failed ones hold ``"error"``.

    Example:
        >>> files_done("embed", [{"file": "a.wav", "chunks": 3}])
        0
    """
    failed = sum("error" in row for row in rows)
    print(f"era-zoo {command}: {failed} of {len(rows)} files failed", file=sys.stderr)
    return EXIT_FILES_FAILED if failed else EXIT_OK


def check_writable(path, option):
    """Fail before any work when the output ``path`` cannot be created:
    its folder is a file, or a folder this user cannot write (missing
    folders are fine: outputs create them).

    Args:
        path: the output file.
        option: the option that named it, e.g. ``"-o"``.

    Raises:
        ConfigError: naming ``option`` and the path.

    Example:
        >>> check_writable("out/embeddings.npz", "-o")
    """
    import os
    from pathlib import Path

    from ..errors import ConfigError

    path = Path(path)
    if path.is_dir():
        raise ConfigError(option, f"{path} is a folder", "give a file name inside it")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(option, f"cannot write {path}: {folder} is a file, not a folder",
                          "choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(option, f"cannot write {path}: no permission in {folder}",
                          "choose a folder you can write to")


def _os_error_line(e):
    """An OSError (a file that cannot be read or written) in one line."""
    import errno
    hints = {errno.EACCES: "no permission there: choose another path",
             errno.EPERM: "no permission there: choose another path",
             errno.EROFS: "a read-only file system: choose another path",
             errno.ENOSPC: "the disk is full: free space or choose another disk",
             errno.ENOENT: "no such file or folder",
             errno.EISDIR: "a folder: give a file name",
             errno.ENOTDIR: "a part of the path is a file, not a folder"}
    where = f"{e.filename}: " if e.filename is not None else ""
    hint = hints.get(e.errno)
    return f"{where}{e.strerror or e}" + (f" ({hint})" if hint else "")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    prefix = f"era-zoo {args.command}"
    try:
        return args.handler(args) or EXIT_OK
    except EraZooError as e:
        if debug:
            traceback.print_exc()
        print(f"{prefix}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        if debug:
            traceback.print_exc()
        print(f"{prefix}: error: {_os_error_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line unless --debug
        if debug:
            traceback.print_exc()
        lines = str(e).strip().splitlines()
        print(f"{prefix}: internal error: {type(e).__name__}: "
              f"{lines[0] if lines else ''} (run again with --debug for the traceback, "
              "and please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
