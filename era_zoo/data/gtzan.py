"""GTZAN genre collection with the fault-filtered split.

Layout::

    root/genres/<genre>/<genre>.000NN.wav     (or .au, the original format)
    splits_dir/train_filtered.txt             lines like "blues/blues.00029.wav"
    splits_dir/valid_filtered.txt
    splits_dir/test_filtered.txt
    GTZANindex.txt                            optional, Sturm's index:
                                              "blues.00000.wav ::: artist ::: title"

The split lists are Kereliuk and Sturm's fault-filtered split (443 / 197 /
290 tracks), which drops GTZAN's repeated and mislabelled excerpts; tracks
outside all three lists get ``split=None``. Without ``splits_dir`` the lists
are looked for in ``root`` and then ``root/splits``; when there are none,
every track gets ``split=None`` and ``extras["split_lists"]`` is None.

A track named in a list but absent from ``genres/`` stays in the table with
``audio_path=None`` and is counted under ``missing_audio`` (so the split can
be inspected without the audio). ``track_id`` is the file stem
("blues.00029"); ``genres`` is the one-element tuple of its class.
"""
import os
import re
from pathlib import Path

from ..errors import DataError
from .problems import ProblemReport
from .readers import check_on_error, index_audio
from .table import SPLITS, Track, TrackTable

SPLIT_FILES = {split: f"{split}_filtered.txt" for split in SPLITS}
INDEX_FILE = "GTZANindex.txt"
_LIST_ENTRY = re.compile(r"^([^/\s]+)/(\1\.\d+)\.(wav|au)$")


def read_gtzan(root, splits_dir=None, *, on_error="raise"):
    """Read GTZAN at ``root`` into a TrackTable (see the module docstring)."""
    check_on_error(on_error)
    root = Path(root)
    problems = ProblemReport()

    audio = {}               # track id -> (genre, path)
    genres_dir = root / "genres"
    if genres_dir.is_dir():
        for genre_dir in sorted(p for p in genres_dir.iterdir() if p.is_dir()):
            for stem, path in index_audio(genre_dir).items():
                audio[stem] = (genre_dir.name, path)

    list_dir = _find_split_dir(root, splits_dir)
    assigned = {}            # track id -> (split, genre)
    if list_dir is not None:
        for split, name in SPLIT_FILES.items():
            for track_id, genre in _read_split_list(list_dir / name, on_error, problems):
                if track_id in assigned:
                    err = DataError(list_dir / name,
                                    f"{track_id} is already in the {assigned[track_id][0]} list")
                    problems.raise_or_skip(err, on_error, "track_in_two_splits")
                    continue
                assigned[track_id] = (split, genre)
    if not audio and not assigned:
        raise DataError(root, "no GTZAN audio (genres/<genre>/*.wav|.au) and no split lists",
                        "point DIR at the folder that holds genres/")

    index = {}
    for folder in dict.fromkeys(p for p in (root, list_dir) if p is not None):
        if (folder / INDEX_FILE).is_file():
            index = _read_index(folder / INDEX_FILE, on_error, problems)
            break

    tracks = []
    titles = {}
    for track_id in sorted(set(audio) | set(assigned)):
        split, listed_genre = assigned.get(track_id, (None, None))
        genre, path = audio.get(track_id, (listed_genre, None))
        if path is None:
            problems.add("missing_audio", genres_dir / genre / f"{track_id}.wav",
                         f"listed in {split}_filtered.txt")
        artist, title = index.get(track_id, (None, None))
        if title:
            titles[track_id] = title
        tracks.append(Track(track_id=track_id, split=split, audio_path=path,
                            artist=artist, genres=(genre,)))
    return TrackTable("gtzan", tracks, problems, extras={
        "split_lists": str(list_dir) if list_dir is not None else None,
        "titles": titles,
        "tag_categories": {"genre": sorted({t.genres[0] for t in tracks})},
    })


def _find_split_dir(root, splits_dir):
    if splits_dir is not None:
        splits_dir = Path(splits_dir)
        for name in SPLIT_FILES.values():
            if not (splits_dir / name).is_file():
                raise DataError(splits_dir / name, "split list not found",
                                f"expected {', '.join(SPLIT_FILES.values())}")
        return splits_dir
    for candidate in (root, root / "splits"):
        if all((candidate / name).is_file() for name in SPLIT_FILES.values()):
            return candidate
    return None


def _read_split_list(path, on_error, problems):
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            match = _LIST_ENTRY.match(line)
            if match is None:
                err = DataError(path, f"line {lineno}: {line!r} is not '<genre>/<genre>.NNNNN.wav'")
                problems.raise_or_skip(err, on_error, "malformed_split_line")
                continue
            yield match.group(2), match.group(1)


def _read_index(path, on_error, problems):
    index = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split(":::")]
            if len(parts) != 3 or not parts[0]:
                err = DataError(path, f"line {lineno}: expected 'file ::: artist ::: title', "
                                      f"got {line!r}")
                problems.raise_or_skip(err, on_error, "malformed_index_line")
                continue
            stem = os.path.splitext(parts[0])[0]
            index[stem] = (parts[1] or None, parts[2] or None)
    return index
