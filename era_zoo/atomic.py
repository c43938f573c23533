"""Atomic file writes: write to a temporary file in the same folder, then
``os.replace`` it onto the final name.

``os.replace`` within one folder (one file system) is a single step, so a
crash, a kill or a parallel reader at any moment sees either the old file or
the new one, never half a file; a failed write removes its temporary file.
"""
import contextlib
import json
import math
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

    Args:
        path: the final file.

    Example:
        >>> import numpy as np, tempfile
        >>> out = Path(tempfile.mkdtemp()) / "x.npy"
        >>> with atomic_path(out) as tmp:
        ...     np.save(tmp, np.zeros(3))
        >>> np.load(out).shape
        (3,)
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
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Args:
        path: the file to write.
        text: its whole content.

    Returns:
        ``path`` as a Path.

    Example:
        >>> import tempfile
        >>> write_text(Path(tempfile.mkdtemp()) / "a.txt", "hi\\n").read_text()
        'hi\\n'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, obj, *, indent=2, sort_keys=True):
    """Write ``obj`` as UTF-8 JSON with a final newline, atomically: the one
    JSON writer of era_zoo.

    NumPy arrays and scalars are written as lists and numbers; NaN and
    infinities, which JSON lacks, as ``null``.

    Args:
        path: the file to write.
        obj: dicts, lists, strings, numbers, booleans, None, NumPy values.
        indent: spaces per level (None: one line).
        sort_keys: sort dict keys (False keeps the dict's order).

    Returns:
        ``path`` as a Path.

    Example:
        >>> import numpy as np, tempfile
        >>> path = write_json(Path(tempfile.mkdtemp()) / "r.json",
        ...                   {"b": np.float32(0.5), "a": [np.nan]}, indent=None)
        >>> path.read_text()
        '{"a": [null], "b": 0.5}\\n'
    """
    text = json.dumps(_plain(obj), indent=indent, sort_keys=sort_keys, ensure_ascii=False,
                      allow_nan=False)
    return write_text(path, text + "\n")


def _plain(x):
    """``x`` with NumPy values as Python ones and non-finite floats as None."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if type(x).__module__ == "numpy":
        x = x.tolist()  # arrays -> nested lists, scalars -> Python numbers
        if isinstance(x, list):
            return _plain(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder beside ``path``; on success it becomes
    ``path`` in one step (an existing ``path`` is replaced), on failure it
    is removed. For outputs made of several files, e.g. a preset folder.

    Args:
        path: the final folder.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "preset"
        >>> with atomic_dir(out) as tmp:
        ...     _ = write_text(tmp / "README.md", "# preset\\n")
        >>> (out / "README.md").read_text()
        '# preset\\n'
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", suffix=f"-{path.name}", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        old = None
        if path.exists() and any(path.iterdir()):
            # os.replace takes a folder's place only when that one is empty.
            old = Path(tempfile.mkdtemp(prefix=".old-", suffix=f"-{path.name}", dir=path.parent))
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
