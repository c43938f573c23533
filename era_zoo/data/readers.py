"""One entry point over every dataset reader, plus the small helpers the
readers share (metadata files that fail with a message naming the file and
line, audio look-up, decades).

``READERS`` maps a dataset name to its reader, given either as a callable or
as ``"module:function"`` (imported on first use, so that ``import
era_zoo.data`` stays light and h5py is only imported by the MSD reader when
it meets HDF5 files). Add a dataset by adding one entry.
"""
import csv
import importlib
import json
import os
from pathlib import Path

from ..errors import ConfigError, DataError
from .table import SPLITS

READERS = {
    "melon": "era_zoo.data.melon:read_melon",
    "gtzan": "era_zoo.data.gtzan:read_gtzan",
    "jamendo": "era_zoo.data.jamendo:read_jamendo",
    "msd": "era_zoo.data.msd:read_msd",
    "demo": "era_zoo.data.demo.reader:read_demo",
}

AUDIO_EXTENSIONS = (".mp3", ".wav", ".ogg", ".flac", ".au")


def get_reader(name):
    """The reader function registered under ``name``."""
    try:
        reader = READERS[name]
    except KeyError:
        raise DataError(name, "unknown dataset",
                        f"expected one of {', '.join(sorted(READERS))}") from None
    if isinstance(reader, str):
        module, func = reader.split(":")
        reader = getattr(importlib.import_module(module), func)
    return reader


def read_dataset(name, root, **kwargs):
    """Read dataset ``name`` stored at ``root`` into a TrackTable."""
    return get_reader(name)(root, **kwargs)


def check_on_error(on_error):
    if on_error not in ("raise", "skip"):
        raise ConfigError("on_error", f"must be 'raise' or 'skip', not {on_error!r}")


def check_split_fractions(fractions):
    """Fractions for (train, valid, test): three positive numbers summing to 1."""
    values = list(fractions)
    if len(values) != len(SPLITS) or any(not v > 0 for v in values) \
            or abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError("split_fractions", f"{values} is not three positive fractions "
                                             f"summing to 1 for {', '.join(SPLITS)}")
    return values


def require_file(path, what):
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"{what} not found")
    return path


def load_json(path, what="JSON metadata"):
    """Parse a JSON file; a missing or malformed file raises DataError naming
    it and, for a syntax error, the line and column."""
    path = require_file(path, what)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(path, f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}",
                        "the file may be truncated or not JSON") from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None


def read_delimited(path, required, *, delimiter=None):
    """Rows of a CSV/TSV file with a header, as dicts.

    The delimiter is a tab for ``.tsv`` files and a comma otherwise unless
    given. A missing required column raises DataError naming the columns
    found. Rows come with their 1-based line number as ``(line, row)``;
    a row with more or fewer fields than the header carries ``None`` keys or
    values, which callers report as ragged.
    """
    path = require_file(path, "table")
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    f = open(path, encoding="utf-8", newline="")
    try:
        reader = csv.DictReader(f, delimiter=delimiter)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(path, f"missing column(s) {', '.join(missing)}",
                            f"header has: {', '.join(header) or 'nothing'}")
        for row in reader:
            yield reader.line_num, row
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise DataError(path, f"malformed table near line {reader.line_num}: {e}") from None
    finally:
        f.close()


def is_ragged(row):
    """True for a csv.DictReader row with too many or too few fields."""
    return None in row or any(v is None for v in row.values())


def index_audio(directory, extensions=AUDIO_EXTENSIONS):
    """Map file stem -> path for the audio files directly inside ``directory``
    (one directory listing instead of one stat per track). Where a stem has
    several formats, the first in ``extensions`` wins."""
    rank = {ext: i for i, ext in enumerate(extensions)}
    found = {}
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        stem, ext = os.path.splitext(entry.name)
        ext = ext.lower()
        if ext in rank and entry.is_file():
            old = found.get(stem)
            if old is None or rank[ext] < rank[os.path.splitext(old)[1].lower()]:
                found[stem] = entry.path
    return found


def decade_of(year):
    return None if year is None else (year // 10) * 10
