"""Million Song Dataset tracks for music era recognition (paper A).

``root`` holds one of three metadata sources, looked for in this order
(``root`` may also be the CSV/TSV file itself):

1. a track list ``tracks.csv`` or ``tracks.tsv`` with the columns
   ``track_id, year, artist_id, artist_name`` and optionally ``title``,
   ``audio`` or ``audio_path`` (relative to ``root``, or absolute) and
   ``split`` (train/valid/test on every row: then that split is kept
   instead of computing one);
2. the CORGIS "music" CSV (``corgis_music.csv``, a 10,000-song subset of
   the Million Song Subset with dotted column names such as ``song.id``,
   ``artist.id``, ``artist.name``, ``title``, ``year``, ``terms``,
   ``artist_mbtags``); ``song.id`` is the track id there;
3. MSD HDF5 song files ``data/A/B/C/TRXXXXXXXXXXXXXXXX.h5`` (the letters are
   the 3rd-5th characters of the track id), read with h5py: year from
   ``/musicbrainz/songs``, artist id and name and title from
   ``/metadata/songs``, artist terms from ``/metadata/artist_terms``.

Beside it, optionally:

- ``audio/<track_id>.<ext>``: 30 s previews, any of mp3/wav/ogg/flac
  (a track without audio keeps ``audio_path=None`` and is counted under
  ``missing_audio``; it is not an error);
- ``artist_text.tsv`` (header ``artist_id<TAB>text``) or ``artist_text.json``
  (``{artist_id: text}``): biographies, into ``extras["artist_text"]``.
  Without it the artist's terms, joined by ", ", serve as the text
  (``extras["artist_text_source"]`` says which).

Year 0 is MSD's "unknown": such tracks are left out and counted under
``unknown_year``; ``min_year`` leaves out earlier tracks too (counted in
``extras["excluded"]``).

Split (when the source has none): seeded, stratified by decade, and with
``group_by_artist`` artist-disjoint: all songs of an artist go to one split,
because an artist's era is nearly constant and a model that has heard the
artist in training would otherwise be graded on recognising the artist, not
the era. Artists are dealt out by iterative stratification over the decades
of their songs, weighted by song count (``stratify.py``).

Whole-file problems (no metadata, a missing column) always raise; bad rows,
unreadable HDF5 files and a bad artist-text file raise with
``on_error="raise"`` and are counted with "skip".
"""
from pathlib import Path

from ..errors import DataError
from .problems import ProblemReport
from .readers import (check_on_error, check_split_fractions, decade_of, index_audio, is_ragged,
                      load_json, read_delimited)
from .stratify import iterative_stratification
from .table import SPLITS, Track, TrackTable

TRACK_LIST_NAMES = ("tracks.csv", "tracks.tsv")
CORGIS_NAMES = ("corgis_music.csv", "music.csv")
TRACK_LIST_COLUMNS = ("track_id", "year", "artist_id", "artist_name")
CORGIS_COLUMNS = ("song.id", "artist.id", "artist.name", "title", "year", "terms",
                  "artist_mbtags")
PREVIEW_EXTENSIONS = (".mp3", ".wav", ".ogg", ".flac")


def read_msd(root, *, min_year=None, on_error="raise", split_fractions=(0.8, 0.1, 0.1), seed=0,
             group_by_artist=True):
    """Read MSD era data at ``root`` (see the module docstring)."""
    check_on_error(on_error)
    check_split_fractions(split_fractions)
    root = Path(root)
    problems = ProblemReport()
    source, base = _find_source(root)
    if source.suffix == ".h5" or source.is_dir():
        rows, terms = _read_hdf5_tree(source, on_error, problems)
    elif _is_corgis(source):
        rows, terms = _read_corgis(source, on_error, problems)
    else:
        rows, terms = _read_track_list(source, base, on_error, problems)

    previews = index_audio(base / "audio", PREVIEW_EXTENSIONS)
    excluded = {"unknown_year": 0, "below_min_year": 0}
    kept, seen = [], set()
    for row in rows:
        if row["track_id"] in seen:
            err = DataError(row["where"], f"track {row['track_id']} listed twice")
            problems.raise_or_skip(err, on_error, "duplicate_track")
            continue
        seen.add(row["track_id"])
        if row["year"] == 0:
            excluded["unknown_year"] += 1
            problems.add("unknown_year", row["where"], f"track {row['track_id']}")
            continue
        if min_year is not None and row["year"] < min_year:
            excluded["below_min_year"] += 1
            continue
        audio = row["audio"] or previews.get(row["track_id"])
        if audio is None or (row["audio"] and not Path(audio).is_file()):
            problems.add("missing_audio", audio or base / "audio" / f"{row['track_id']}.*")
            audio = None
        row["audio"] = audio
        kept.append(row)

    given = sum(bool(row.get("split")) for row in kept)
    if given and given < len(kept):
        raise DataError(source, f"split given for {given} of {len(kept)} tracks",
                        "fill the split column on every row or on none")
    if given:
        splits = [row["split"] for row in kept]
    else:
        splits = era_split(kept, split_fractions, seed=seed, group_by_artist=group_by_artist)
    tracks = [Track(track_id=row["track_id"], split=split, audio_path=row["audio"],
                    year=row["year"], artist_id=row["artist_id"], artist=row["artist"])
              for row, split in zip(kept, splits)]

    artist_ids = {t.artist_id for t in tracks if t.artist_id}
    text, text_source = _read_artist_text(base, on_error, problems)
    if text is None:
        text = {a: ", ".join(terms[a]) for a in artist_ids if terms.get(a)}
        text_source = "artist terms" if text else None
    for artist_id in sorted(artist_ids - set(text)):
        problems.add("missing_artist_text", artist_id)
    return TrackTable("msd", tracks, problems, extras={
        "artist_text": text,
        "artist_text_source": text_source,
        "artist_terms": {a: terms[a] for a in artist_ids if a in terms},
        "tag_categories": {"artist_term": sorted({term for a in artist_ids
                                                  for term in terms.get(a, ())})},
        "titles": {row["track_id"]: row["title"] for row in kept if row.get("title")},
        "excluded": excluded,
        "source": str(source),
    })


def era_split(rows, fractions=(0.8, 0.1, 0.1), *, seed=0, group_by_artist=True):
    """Split names for ``rows`` (dicts with "year" and "artist_id"), stratified
    by decade and, with ``group_by_artist``, artist-disjoint."""
    check_split_fractions(fractions)
    groups = {}
    for i, row in enumerate(rows):
        key = (row["artist_id"] or f"track:{row['track_id']}") if group_by_artist else i
        groups.setdefault(key, []).append(i)
    members = list(groups.values())
    labels = [[decade_of(rows[i]["year"]) for i in idx] for idx in members]
    subsets = iterative_stratification(labels, fractions, seed=seed,
                                       sizes=[len(idx) for idx in members])
    splits = [None] * len(rows)
    for idx, subset in zip(members, subsets):
        for i in idx:
            splits[i] = SPLITS[subset]
    return splits


def _find_source(root):
    if root.is_file():
        return root, root.parent
    for name in TRACK_LIST_NAMES + CORGIS_NAMES:
        if (root / name).is_file():
            return root / name, root
    if (root / "data").is_dir() and next((root / "data").rglob("*.h5"), None) is not None:
        return root / "data", root
    raise DataError(root, "no MSD metadata found",
                    "expected tracks.csv/tracks.tsv, corgis_music.csv or data/A/B/C/TR*.h5")


def _is_corgis(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline()
    return "song.id" in header and "artist.id" in header


def _parse_year(text, where, track_id):
    try:
        year = int(float(text))
    except (TypeError, ValueError):
        raise DataError(where, f"track {track_id}: year {text!r} is not a number") from None
    if year < 0:
        raise DataError(where, f"track {track_id}: negative year {year}")
    return year


def _read_track_list(path, base, on_error, problems):
    rows = []
    for lineno, row in read_delimited(path, TRACK_LIST_COLUMNS):
        where = f"{path}:{lineno}"
        try:
            if is_ragged(row):
                raise DataError(path, f"line {lineno}: wrong number of fields")
            track_id = row["track_id"].strip()
            if not track_id:
                raise DataError(path, f"line {lineno}: empty track_id")
            year = _parse_year(row["year"], f"{path} line {lineno}", track_id)
            split = (row.get("split") or "").strip() or None
            if split is not None and split not in SPLITS:
                raise DataError(path, f"line {lineno}: split {split!r} is not one of {SPLITS}")
        except DataError as err:
            problems.raise_or_skip(err, on_error, "malformed_row")
            continue
        audio = (row.get("audio") or row.get("audio_path") or "").strip()
        rows.append({"track_id": track_id, "year": year, "where": where, "split": split,
                     "artist_id": row["artist_id"].strip() or None,
                     "artist": row["artist_name"].strip() or None,
                     "title": (row.get("title") or "").strip() or None,
                     "audio": str(base / audio) if audio else None})
    return rows, {}


def _read_corgis(path, on_error, problems):
    rows, terms = [], {}
    for lineno, row in read_delimited(path, CORGIS_COLUMNS, delimiter=","):
        where = f"{path}:{lineno}"
        try:
            if is_ragged(row):
                raise DataError(path, f"line {lineno}: wrong number of fields")
            year = _parse_year(row["year"], f"{path} line {lineno}", row["song.id"])
        except DataError as err:
            problems.raise_or_skip(err, on_error, "malformed_row")
            continue
        artist_id = row["artist.id"].strip() or None
        if artist_id:
            artist_terms = terms.setdefault(artist_id, [])
            for term in (row["terms"], row["artist_mbtags"]):
                term = term.strip()
                if term and term not in artist_terms:
                    artist_terms.append(term)
        rows.append({"track_id": row["song.id"].strip(), "year": year, "where": where,
                     "artist_id": artist_id, "artist": row["artist.name"].strip() or None,
                     "title": row["title"].strip() or None, "audio": None})
    return rows, terms


def _read_hdf5_tree(data_dir, on_error, problems):
    import h5py  # only needed for this layout

    files = [data_dir] if data_dir.is_file() else sorted(data_dir.rglob("*.h5"))
    rows, terms = [], {}
    for path in files:
        try:
            row, artist_terms = _read_song_file(h5py, path)
        except DataError as err:
            problems.raise_or_skip(err, on_error, "unreadable_hdf5")
            continue
        rows.append(row)
        if row["artist_id"] and artist_terms:
            terms.setdefault(row["artist_id"], artist_terms)
    return rows, terms


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _read_song_file(h5py, path):
    try:
        with h5py.File(path, "r") as f:
            meta = f["metadata/songs"][0]
            year = int(f["musicbrainz/songs"][0]["year"])
            artist_terms = [_text(t) for t in f["metadata/artist_terms"][:]] \
                if "metadata/artist_terms" in f else []
    except OSError as e:
        raise DataError(path, f"unreadable HDF5 file ({e})") from None
    except (KeyError, ValueError, IndexError) as e:
        raise DataError(path, f"not an MSD song file: {e}",
                        "needs /metadata/songs and /musicbrainz/songs") from None
    names = meta.dtype.names
    missing = [n for n in ("artist_id", "artist_name", "title") if n not in names]
    if missing:
        raise DataError(path, f"/metadata/songs lacks field(s) {', '.join(missing)}")
    return {"track_id": path.stem, "year": year, "where": str(path),
            "artist_id": _text(meta["artist_id"]) or None,
            "artist": _text(meta["artist_name"]) or None,
            "title": _text(meta["title"]) or None, "audio": None}, artist_terms


def _read_artist_text(base, on_error, problems):
    tsv, js = base / "artist_text.tsv", base / "artist_text.json"
    try:
        if tsv.is_file():
            text = {}
            for lineno, row in read_delimited(tsv, ("artist_id", "text")):
                if is_ragged(row) or not row["artist_id"].strip():
                    problems.raise_or_skip(DataError(tsv, f"line {lineno}: malformed row"),
                                           on_error, "malformed_row")
                    continue
                text[row["artist_id"].strip()] = row["text"].strip()
            return text, tsv.name
        if js.is_file():
            table = load_json(js, "artist text")
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise DataError(js, "expected a JSON object of artist_id -> text")
            return table, js.name
    except DataError as err:
        problems.raise_or_skip(err, on_error, "bad_artist_text")
    return None, None
