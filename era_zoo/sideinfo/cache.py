"""A small disk cache for side information that is slow to compute.

An entry is a folder ``<cache_dir>/<kind>-<key>/`` holding NumPy arrays as
``.npy`` files and the metadata as ``meta.json``: nothing is pickled, and
``np.load(..., allow_pickle=False)`` reads it back. The key is a SHA-256 of
the data and the settings (see :class:`Fingerprint`), so changing either one
misses the cache instead of returning stale vectors.

Writes are atomic: the entry is assembled in a temporary folder beside its
final place and renamed into it, so a reader never sees half an entry and two
processes racing on the same key both end with one complete copy.
"""
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..atomic import write_json
from ..errors import DataError

_META = "meta.json"


class Fingerprint:
    """Incremental SHA-256 over the things a cached result depends on.

    Each ``add_*`` call feeds a type tag and a length before the bytes, so
    ``["ab", "c"]`` and ``["a", "bc"]`` hash differently.
    """

    def __init__(self, kind):
        self._h = hashlib.sha256()
        self.add_text(kind)

    def _feed(self, tag, payload):
        self._h.update(tag)
        self._h.update(len(payload).to_bytes(8, "little"))
        self._h.update(payload)

    def add_text(self, text):
        self._feed(b"s", str(text).encode("utf-8"))
        return self

    def add_texts(self, texts):
        self._feed(b"n", len(texts).to_bytes(8, "little"))
        for text in texts:
            self.add_text(text)
        return self

    def add_settings(self, settings):
        """A dict of JSON-able settings; key order does not matter."""
        self._feed(b"j", json.dumps(settings, sort_keys=True, default=str).encode("utf-8"))
        return self

    def hexdigest(self, length=20):
        return self._h.hexdigest()[:length]


def entry_path(cache_dir, kind, key):
    return Path(cache_dir) / f"{kind}-{key}"


def load_entry(cache_dir, kind, key):
    """Return ``(arrays, meta)`` of a cached entry, or ``None`` on a miss.

    An entry that exists but cannot be read is an error naming its folder,
    not a silent miss: it means the cache was damaged from outside.
    """
    folder = entry_path(cache_dir, kind, key)
    meta_file = folder / _META
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False)
                  for name in meta["arrays"]}
    except (OSError, ValueError, KeyError) as err:
        raise DataError(folder, f"damaged cache entry ({err})",
                        "delete this folder to recompute it") from err
    return arrays, meta


def save_entry(cache_dir, kind, key, arrays, meta):
    """Write ``arrays`` (name -> ndarray, no object dtype) and ``meta`` atomically."""
    final = entry_path(cache_dir, kind, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        for name, array in arrays.items():
            array = np.asarray(array)
            if array.dtype == object:
                raise TypeError(f"cache array {name!r} has dtype object; it would need pickle")
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
        write_json(tmp / _META, {**meta, "arrays": sorted(arrays)}, indent=1)
        try:
            os.replace(tmp, final)
        except OSError:
            # Another process finished the same key first; its copy is as good.
            if not (final / _META).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
