"""MTG-Jamendo auto-tagging splits.

Layout (as in the MTG-Jamendo repository)::

    splits_dir/split-N/autotagging_{category}-{train,validation,test}.tsv
    root/NN/ID.mp3        audio, NN = last two digits of the id (the PATH column)
    root/NN/ID.npy        or precomputed (n_mels, T) mels at the same path

Each TSV has CRLF line endings, the header ``TRACK_ID ARTIST_ID ALBUM_ID PATH
DURATION TAGS`` and then, per track, its tags one per column from the sixth on
(``genre---rock<TAB>genre---pop``; the mood/theme files write
``mood/theme---happy``). ``validation`` is read as ``valid``. Tags are kept
verbatim in ``Track.tags``; ``extras["tag_categories"]`` lists them per
category file.

``category`` is "genre", "instrument", "moodtheme" or "all" (the union of the
three, which the split files allow because a track sits in the same split in
every category). ``audio`` names the files to use: "mp3" (the dataset's), or
"wav"/"ogg"/"flac" for a re-encoded copy at the same relative paths, or "npy"
for mels (then ``mel_path`` is set instead of ``audio_path``). A missing file
leaves the path None and is counted under ``missing_audio``.

Without ``splits_dir`` the split folder is looked for as ``root/split-N``,
``root/splits/split-N`` and ``root/data/splits/split-N``; ``splits_dir`` may
be the folder holding ``split-N`` or ``split-N`` itself.
"""
import os
from pathlib import Path

from ..errors import ConfigError, DataError
from .problems import ProblemReport
from .readers import check_on_error
from .table import Track, TrackTable

CATEGORIES = ("genre", "instrument", "moodtheme")
FILE_SPLITS = {"train": "train", "validation": "valid", "test": "test"}
HEADER = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION", "TAGS")
AUDIO_CHOICES = ("mp3", "wav", "ogg", "flac", "npy")


def read_jamendo(root, splits_dir=None, *, category="genre", split=0, audio="mp3",
                 on_error="raise"):
    """Read one MTG-Jamendo category of split ``split`` into a TrackTable."""
    check_on_error(on_error)
    if category != "all" and category not in CATEGORIES:
        raise ConfigError("category", f"{category!r} is not an MTG-Jamendo category",
                          f"expected one of {', '.join(CATEGORIES)} or all")
    if audio not in AUDIO_CHOICES:
        raise ConfigError("audio", f"{audio!r} is not a kind of MTG-Jamendo file",
                          f"expected one of {', '.join(AUDIO_CHOICES)}")
    root = Path(root)
    split_dir = _find_split_dir(root, splits_dir, split, category)
    problems = ProblemReport()
    categories = CATEGORIES if category == "all" else (category,)

    rows = {}                # track id -> dict(split, artist, path, tags)
    tag_categories = {cat: set() for cat in categories}
    for cat in categories:
        for file_split, split_name in FILE_SPLITS.items():
            path = split_dir / f"autotagging_{cat}-{file_split}.tsv"
            if category == "all" and not path.is_file():
                raise DataError(path, "split file not found",
                                "category 'all' needs the files of all three categories")
            for lineno, fields in _read_tsv(path):
                if len(fields) < len(HEADER):
                    err = DataError(path, f"line {lineno}: {len(fields)} fields, expected at least "
                                          f"{len(HEADER)} ({' '.join(HEADER)})")
                    problems.raise_or_skip(err, on_error, "ragged_row")
                    continue
                track_id, artist_id, _album, rel_path, _duration = fields[:5]
                tags = [t for t in fields[5:] if t]
                bad = [t for t in tags if "---" not in t]
                if bad or not tags or not track_id or not rel_path:
                    what = f"malformed tag {bad[0]!r}" if bad else "empty TRACK_ID, PATH or TAGS"
                    problems.raise_or_skip(DataError(path, f"line {lineno}: {what}"),
                                           on_error, "malformed_row")
                    continue
                row = rows.setdefault(track_id, {"split": split_name, "artist": artist_id,
                                                 "path": rel_path, "tags": set()})
                if row["split"] != split_name:
                    err = DataError(path, f"line {lineno}: {track_id} is also in the "
                                          f"{row['split']} split")
                    problems.raise_or_skip(err, on_error, "track_in_two_splits")
                    continue
                row["tags"].update(tags)
                tag_categories[cat].update(tags)

    tracks = []
    all_tags = set()
    present = _files_by_relative_path(root)
    for track_id, row in rows.items():
        rel = os.path.splitext(row["path"])[0] + "." + audio
        path = os.path.join(root, rel)
        if rel not in present:
            problems.add("missing_audio", path)
            path = None
        tags = tuple(sorted(row["tags"]))
        all_tags.update(tags)
        tracks.append(Track(track_id=track_id, split=row["split"],
                            audio_path=None if audio == "npy" else path,
                            mel_path=path if audio == "npy" else None,
                            artist_id=row["artist"] or None, tags=tags))
    tracks.sort(key=lambda t: t.track_id)
    return TrackTable("jamendo", tracks, problems, extras={
        "tags": sorted(all_tags),
        "tag_categories": {cat: sorted(tags) for cat, tags in tag_categories.items()},
        "category": category,
        "split_dir": str(split_dir),
    })


def _find_split_dir(root, splits_dir, split, category):
    sub = f"split-{split}"
    if splits_dir is not None:
        splits_dir = Path(splits_dir)
        candidates = [splits_dir / sub, splits_dir]
    else:
        candidates = [root / sub, root / "splits" / sub, root / "data" / "splits" / sub]
    probe_category = CATEGORIES[0] if category == "all" else category
    probe = f"autotagging_{probe_category}-train.tsv"
    for folder in candidates:
        if (folder / probe).is_file():
            return folder
    raise DataError(candidates[0] / probe, "MTG-Jamendo split file not found",
                    "looked in " + ", ".join(str(c) for c in candidates))


def _files_by_relative_path(root):
    """Relative paths "NN/name" of the files one folder below ``root``: one
    listing per folder instead of one stat per track."""
    present = set()
    try:
        folders = [e for e in os.scandir(root) if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return present
    for folder in folders:
        present.update(f"{folder.name}/{name}" for name in os.listdir(folder.path))
    return present


def _read_tsv(path):
    """(line number, fields) of the data rows; checks the header."""
    if not path.is_file():
        raise DataError(path, "split file not found")
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    header = lines[0].rstrip("\r").split("\t")
    if tuple(header) != HEADER:
        raise DataError(path, f"line 1: header {' '.join(header)!r} is not {' '.join(HEADER)!r}")
    for lineno, line in enumerate(lines[1:], 2):
        line = line.rstrip("\r")
        if line:
            yield lineno, line.split("\t")
