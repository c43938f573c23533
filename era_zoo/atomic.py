"""Atomic file writes: write to a temporary file in the same folder, then
``os.replace`` it onto the final name.

``os.replace`` within one folder (one file system) is a single step, so a
crash, a kill or a parallel reader at any moment sees either the old file or
the new one, never half a file; a failed write removes its temporary file.
"""
import contextlib
import json
import os
import tempfile
from pathlib import Path

# Read once, at import: reading it means setting it, which must not happen
# while tf.data threads create files.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces
    ``path`` in one step, on failure it is removed.

    The temporary name ends with the whole final name
    (``.tmp-<random>-model.weights.h5``) so writers that pick the format
    from the name (NumPy, Keras, h5py, matplotlib) see every suffix; the
    leading dot hides it, and one left by a kill -9 is easy to spot.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{path.name}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give the result the
        # permissions any new file of this user gets.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path`` as a Path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, obj):
    """Write ``obj`` as JSON (indent 2, sorted keys, final newline) atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
