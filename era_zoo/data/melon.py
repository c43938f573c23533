"""Melon Playlist Dataset (Kakao Arena).

Layout::

    root/arena_mel/{id // 1000}/{id}.npy   log-mel, float, shape (48, T)
    root/song_meta.json                    [{"id", "song_gn_gnr_basket", "song_gn_dtl_gnr_basket",
                                             "artist_name_basket", "artist_id_basket",
                                             "song_name", "album_name", "issue_date"}, ...]
    root/train.json, val.json, test.json   playlists [{"id", "songs", "tags", "plylst_title",
                                             "like_cnt", "updt_date"}, ...]
    root/genre_gn_all.json                 {"GN0100": "발라드", ...} (code -> name)

Mels are never loaded here: ``mel_path`` is set where the file exists (one
directory listing per ``arena_mel`` folder), otherwise None and counted under
``missing_mel``.

Fields:
- ``genres`` = the song's top-level genre codes then its detailed ones
  (``song_gn_gnr_basket`` + ``song_gn_dtl_gnr_basket``), codes written with
  their ``GN`` prefix whatever the source file used;
- ``artist``/``artist_id`` = the first-listed artist of the basket (Melon
  lists the main artist first);
- ``year`` = the first four digits of ``issue_date``; a zero date counts as
  ``unknown_year`` and an unparsable one (or a year outside 1800-2100) as
  ``malformed_date``, both leaving ``year`` None;
- ``playlists`` = ids (strings) of the playlists holding the song.

Extras: ``genre_names`` (GN code -> name), ``tag_categories`` (the codes in
use: "genre" top-level, "detail_genre" detailed), ``playlists`` (id -> track ids),
``playlist_split`` (id -> "train"/"val"/"test", the file it came from),
``playlist_info`` (id -> title, tags, like_cnt, updt_date), ``titles`` and
``albums`` (track id -> name), ``mel_preset`` ("melon48": the preset the
shipped mels were computed with; inference reads them only for models of
that preset, see ``era_zoo.inference.track_input``).

Playlists: all three files are read. The reference uses train.json's only,
for its CF vectors and for the continuation benchmark, and so do
``era_zoo.sideinfo.cf`` and ``era_zoo.bench.melon`` by default
(``REFERENCE_PLAYLIST_FILES``; :func:`select_playlist_files` picks others).

Split: Melon has no track split; paper B uses 80/10/10 by multilabel
stratification on genres. Here it is iterative stratification
(``stratify.py``) on ``genres``, seeded; songs without genres are dealt out
to keep the split sizes. Playlists in ``val.json``/``test.json`` are the
challenge's query playlists, not the track split.

Whole-file problems (missing or malformed ``song_meta.json``) always raise.
A missing or malformed playlist or genre file, and bad song or playlist
records, raise with ``on_error="raise"`` and are counted with "skip".
"""
import os
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from ..errors import ConfigError, DataError
from .problems import ProblemReport
from .readers import check_on_error, check_split_fractions, load_json
from .stratify import iterative_stratification
from .table import SPLITS, Track, TrackTable

PLAYLIST_FILES = ("train", "val", "test")
# Paper B's reference fits its CF vectors on train.json's playlists and draws
# the continuation benchmark's playlists from them; val.json and test.json
# hold the challenge's query playlists.
REFERENCE_PLAYLIST_FILES = ("train",)
MIN_YEAR, MAX_YEAR = 1800, 2100


def read_melon(root, *, split_fractions=(0.8, 0.1, 0.1), seed=0, on_error="raise"):
    """Read the Melon Playlist Dataset at ``root`` (see the module docstring)."""
    check_on_error(on_error)
    check_split_fractions(split_fractions)
    root = Path(root)
    problems = ProblemReport()
    meta_path = root / "song_meta.json"
    songs = load_json(meta_path, "song metadata")
    if not isinstance(songs, list):
        raise DataError(meta_path, f"expected a JSON list of songs, got {type(songs).__name__}")

    genre_names = _read_genre_names(root / "genre_gn_all.json", on_error, problems)
    playlists, playlist_split, playlist_info = _read_playlists(root, on_error, problems)
    mels = _index_mels(root / "arena_mel")

    records = []
    titles, albums = {}, {}
    seen = set()
    progress = tqdm(songs, desc=meta_path.name, unit=" songs", leave=False,
                    disable=len(songs) < 100_000)
    for pos, song in enumerate(progress):
        try:
            record = _parse_song(song, pos, meta_path, problems)
        except DataError as err:
            problems.raise_or_skip(err, on_error, "malformed_song")
            continue
        if record["id"] in seen:
            problems.raise_or_skip(DataError(meta_path, f"song {record['id']} listed twice"),
                                   on_error, "duplicate_song")
            continue
        seen.add(record["id"])
        records.append(record)
        if record["title"]:
            titles[record["id"]] = record["title"]
        if record["album"]:
            albums[record["id"]] = record["album"]
    del songs, progress      # the parsed JSON is the biggest object held; free it early

    song_playlists = defaultdict(list)
    for pid, song_ids in playlists.items():
        for sid in song_ids:
            if sid in seen:
                song_playlists[sid].append(pid)
            else:
                problems.add("unknown_song_in_playlist", f"playlist {pid}", f"song {sid}")

    assignment = iterative_stratification([r["genres"] for r in records], split_fractions,
                                          seed=seed)
    tracks = []
    for record, subset in zip(records, assignment):
        sid = record["id"]
        mel = mels.get(sid)
        if mel is None:
            problems.add("missing_mel", f"{root}/arena_mel/{int(sid) // 1000}/{sid}.npy")
        tracks.append(Track(track_id=sid, split=SPLITS[subset], mel_path=mel,
                            year=record["year"], artist_id=record["artist_id"],
                            artist=record["artist"], genres=record["genres"],
                            playlists=tuple(song_playlists.get(sid, ()))))
    top_codes = {c for r in records for c in r["top_genres"]}
    detail_codes = {g for t in tracks for g in t.genres} - top_codes
    return TrackTable("melon", tracks, problems, extras={
        "mel_preset": "melon48",
        "genre_names": genre_names,
        "playlists": playlists,
        "playlist_split": playlist_split,
        "playlist_info": playlist_info,
        "titles": titles,
        "albums": albums,
        "tag_categories": {"genre": sorted(top_codes), "detail_genre": sorted(detail_codes)},
    })


def genre_code(code):
    """A Melon genre code in its song_meta.json spelling ("GN0100")."""
    code = str(code)
    return code if code.startswith("GN") else "GN" + code


def _parse_song(song, pos, meta_path, problems):
    if not isinstance(song, dict) or "id" not in song:
        raise DataError(meta_path, f"song #{pos}: not an object with an 'id'")
    sid = song["id"]
    if isinstance(sid, bool) or not isinstance(sid, int) or sid < 0:
        raise DataError(meta_path, f"song #{pos}: id {sid!r} is not a non-negative integer")
    sid = str(sid)
    baskets = []
    for field in ("song_gn_gnr_basket", "song_gn_dtl_gnr_basket"):
        basket = song.get(field, [])
        if not isinstance(basket, list):
            raise DataError(meta_path, f"song {sid}: field {field} is not a list")
        baskets.append([genre_code(c) for c in basket])
    names = song.get("artist_name_basket") or []
    ids = song.get("artist_id_basket") or []
    if not isinstance(names, list) or not isinstance(ids, list):
        raise DataError(meta_path, f"song {sid}: artist baskets must be lists")
    return {
        "id": sid,
        "genres": tuple(dict.fromkeys(baskets[0] + baskets[1])),
        "top_genres": baskets[0],
        "artist": str(names[0]) if names else None,
        "artist_id": str(ids[0]) if ids else None,
        "year": _year(song.get("issue_date"), sid, meta_path, problems),
        "title": song.get("song_name"),
        "album": song.get("album_name"),
    }


def _year(issue_date, sid, meta_path, problems):
    text = "" if issue_date is None else str(issue_date).strip()
    if text.strip("0") == "":
        problems.add("unknown_year", meta_path, f"song {sid}: issue_date {issue_date!r}")
        return None
    if len(text) == 8 and text.isdigit() and MIN_YEAR <= int(text[:4]) <= MAX_YEAR:
        return int(text[:4])
    problems.add("malformed_date", meta_path, f"song {sid}: issue_date {issue_date!r}")
    return None


def _read_genre_names(path, on_error, problems):
    try:
        table = load_json(path, "genre table")
        if not isinstance(table, dict):
            raise DataError(path, "expected a JSON object of code -> name")
    except DataError as err:
        problems.raise_or_skip(err, on_error, "bad_genre_table")
        return {}
    return {genre_code(code): name for code, name in table.items()}


def _read_playlists(root, on_error, problems):
    playlists, playlist_split, playlist_info = {}, {}, {}
    for name in PLAYLIST_FILES:
        path = root / f"{name}.json"
        try:
            items = load_json(path, "playlist file")
            if not isinstance(items, list):
                raise DataError(path, "expected a JSON list of playlists")
        except DataError as err:
            problems.raise_or_skip(err, on_error, "bad_playlist_file")
            continue
        for pos, item in enumerate(items):
            if not isinstance(item, dict) or "id" not in item \
                    or not isinstance(item.get("songs", []), list):
                err = DataError(path, f"playlist #{pos}: needs an 'id' and a 'songs' list")
                problems.raise_or_skip(err, on_error, "malformed_playlist")
                continue
            pid = str(item["id"])
            if pid in playlists:
                err = DataError(path, f"playlist {pid} also in {playlist_split[pid]}.json")
                problems.raise_or_skip(err, on_error, "duplicate_playlist")
                continue
            playlists[pid] = [str(s) for s in item.get("songs", [])]
            playlist_split[pid] = name
            playlist_info[pid] = {"title": item.get("plylst_title"),
                                  "tags": item.get("tags", []),
                                  "like_cnt": item.get("like_cnt"),
                                  "updt_date": item.get("updt_date")}
    return playlists, playlist_split, playlist_info


def _index_mels(mel_root):
    """Track id -> .npy path for every mel under arena_mel/{id // 1000}/."""
    found = {}
    try:
        folders = [e for e in os.scandir(mel_root) if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return found
    for folder in folders:
        for entry in os.scandir(folder.path):
            stem, ext = os.path.splitext(entry.name)
            if ext == ".npy":
                found[stem] = entry.path
    return found


def select_playlist_files(playlists, playlist_split, playlist_files, field="playlist_files"):
    """The playlists of the chosen files, and the files as a sorted list.

    Args:
        playlists: playlist id -> track ids.
        playlist_split: playlist id -> the file it came from (Melon: "train",
            "val", "test"), or None where the dataset does not record it
            (then every playlist is kept and the files are None).
        playlist_files: the files to keep (a name or a list of names); None
            keeps all.
        field: the option's name in errors.

    Example:
        >>> select_playlist_files({"1": ["a"], "2": ["b"]}, {"1": "train", "2": "val"},
        ...                       ["train"])
        ({'1': ['a']}, ['train'])
    """
    if playlist_files is None or not playlist_split:
        return playlists, None
    if isinstance(playlist_files, str):
        playlist_files = [playlist_files]
    files = sorted({str(f) for f in playlist_files})
    known = sorted(set(playlist_split.values()))
    unknown = [f for f in files if f not in known]
    if not files or unknown:
        raise ConfigError(field, f"unknown playlist file(s) {unknown}" if unknown
                          else "names no playlist file", f"the dataset's: {', '.join(known)}")
    keep = set(files)
    return {pid: tids for pid, tids in playlists.items()
            if playlist_split.get(pid) in keep}, files


def playlist_files_text(files):
    """The chosen playlist files in words: "train.json" for ["train"],
    "every playlist file" for None.

    Args:
        files: the file names (as :func:`select_playlist_files` returns them)
            or None.

    Example:
        >>> playlist_files_text(["train", "val"])
        'train.json, val.json'
    """
    return ", ".join(f"{f}.json" for f in files) if files else "every playlist file"
