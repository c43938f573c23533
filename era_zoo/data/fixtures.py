"""Tiny datasets in exactly the real layouts, for tests and examples.

Every writer is deterministic for a seed, fast (well under a second at the
default sizes) and returns the dataset root as a Path. Audio is synthetic but
learnable: each label (genre, decade) has its own pitch range and timbre
(number and decay of harmonics, noise), and mels carry a label-dependent band
of energy, so a model trained on a fixture can beat chance. Metadata is
consistent with the files (every listed track has its audio or mel, every
playlist song exists) unless a writer is asked for a defect, such as
``n_unknown_dates``. Mels are in melon48's scale, 20 log10(band power) as
Melon ships them (about -90..+20 here), unless ``mel_scale="ln"`` asks for
natural-log band powers (melon48_ln's scale, about -10..+2).

The MTG-Jamendo writer keeps the dataset's MP3s (soundfile writes MP3 through
libsndfile >= 1.1); ``audio="wav"`` writes WAV files at the same paths with
a .wav suffix, read back with ``read_jamendo(..., audio="wav")``.
"""
import csv
import string
from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import write_json
from ..errors import ConfigError
from .gtzan import INDEX_FILE, SPLIT_FILES
from .jamendo import CATEGORIES, FILE_SPLITS, HEADER
from .table import SPLITS

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
                "reggae", "rock")
MELON_GENRES = {"GN0100": "Ballad", "GN0200": "Dance", "GN0300": "Rap/Hip-hop",
                "GN0400": "R&B/Soul", "GN0500": "Indie", "GN0600": "Rock/Metal",
                "GN0700": "Trot", "GN0800": "Folk/Blues"}
JAMENDO_TAGS = {
    "genre": ("rock", "pop", "electronic", "jazz", "classical", "hiphop"),
    "instrument": ("guitar", "piano", "synthesizer", "drums", "voice", "violin"),
    "moodtheme": ("happy", "sad", "energetic", "calm", "dark"),
}
JAMENDO_PREFIX = {"genre": "genre", "instrument": "instrument", "moodtheme": "mood/theme"}
MSD_DECADES = (1960, 1970, 1980, 1990, 2000)
N_MELS = 48


def labelled_tone(label, n_labels, seconds, sample_rate, rng):
    """A mono float32 clip whose pitch and timbre identify ``label``.

    The fundamental rises by two semitones per label from 110 Hz (with a
    little per-clip jitter); higher labels get more, slower-decaying
    harmonics and a touch more noise; a slow tremolo keeps frames different.
    """
    t = (np.arange(int(seconds * sample_rate)) / sample_rate).astype(np.float32)
    f0 = 110.0 * 2 ** ((2 * label + rng.uniform(-0.3, 0.3)) / 12)
    spread = label / max(n_labels - 1, 1)
    n_harmonics = 2 + int(4 * spread)
    decay = 0.35 + 0.5 * spread
    wave = np.zeros_like(t)
    for k in range(n_harmonics):
        phase = np.float32(rng.uniform(0, 2 * np.pi))
        wave += np.float32(decay ** k) * np.sin(np.float32(2 * np.pi * f0 * (k + 1)) * t + phase)
    wave *= 1.0 / np.max(np.abs(wave))
    wave *= 0.8 + 0.2 * np.sin(np.float32(2 * np.pi * rng.uniform(0.5, 3.0)) * t)
    wave += np.float32(0.01 + 0.04 * spread) * rng.standard_normal(len(t), dtype=np.float32)
    return (0.5 / np.max(np.abs(wave))) * wave


MEL_SCALES = ("db", "ln")


def labelled_mel(label, n_labels, frames, rng, n_mels=N_MELS, scale="db"):
    """A float32 (n_mels, frames) log-mel whose energy band identifies ``label``.

    The band powers are the same in either ``scale``: ``"db"``, 20 log10
    (melon48, Melon's own), or ``"ln"``, natural log (melon48_ln).
    """
    if scale not in MEL_SCALES:
        raise ConfigError("mel_scale", f"unknown scale {scale!r}",
                          f"one of: {', '.join(MEL_SCALES)}")
    bands = np.arange(n_mels)[:, None]
    centre = 4 + (n_mels - 10) * label / max(n_labels - 1, 1)
    bump = 6.0 * np.exp(-0.5 * ((bands - centre) / 2.5) ** 2)
    pulse = 1.0 + 0.3 * np.sin(np.arange(frames)[None, :] * rng.uniform(0.05, 0.3))
    ln_power = -8.0 + bump * pulse + 0.5 * rng.standard_normal((n_mels, frames))
    if scale == "db":
        return (20.0 / np.log(10.0) * ln_power).astype(np.float32)
    return ln_power.astype(np.float32)


def write_melon_fixture(root, n_tracks=40, n_playlists=30, seed=0, *, n_unknown_dates=0,
                        mel_scale="db"):
    """A Melon Playlist Dataset of ``n_tracks`` songs and ``n_playlists`` playlists.

    Songs have 1-2 of 8 top-level genres (plus matching detailed codes), a
    release date drifting with the genre, one of ``max(2, n_tracks // 4)``
    artists, and a (48, 150..400) mel whose energy band follows the main
    genre, in ``mel_scale`` ("db": melon48's, as Melon ships them; "ln":
    melon48_ln's). Playlists go to train/val/test.json in the ratio 8:1:1,
    each mostly drawn from one genre. The first ``n_unknown_dates`` songs get
    issue_date "00000000" (Melon's unknown date).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    codes = list(MELON_GENRES)
    ids = np.sort(rng.choice(max(3000, 2 * n_tracks), size=n_tracks, replace=False))
    n_artists = max(2, n_tracks // 4)
    songs, main_genre = [], {}
    for i, sid in enumerate(ids.tolist()):
        g = i % len(codes)
        top = [codes[g]]
        if rng.random() < 0.25:
            top.append(codes[(g + 1 + int(rng.integers(len(codes) - 1))) % len(codes)])
        detail = [c[:4] + f"{int(rng.integers(1, 4)):02d}" for c in top]
        year = 1985 + 4 * g + int(rng.integers(0, 5))
        date = "00000000" if i < n_unknown_dates else \
            f"{year}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
        artist = (g + len(codes) * int(rng.integers(0, 2))) % n_artists
        songs.append({"id": sid, "song_gn_gnr_basket": top, "song_gn_dtl_gnr_basket": detail,
                      "artist_name_basket": [f"Artist {artist}"], "artist_id_basket": [artist],
                      "song_name": f"Song {sid}", "album_name": f"Album {artist}-{g}",
                      "issue_date": date})
        main_genre[sid] = g
        mel_dir = root / "arena_mel" / str(sid // 1000)
        mel_dir.mkdir(parents=True, exist_ok=True)
        np.save(mel_dir / f"{sid}.npy",
                labelled_mel(g, len(codes), int(rng.integers(150, 401)), rng, scale=mel_scale))
    write_json(root / "song_meta.json", songs, indent=None, sort_keys=False)

    names = dict(MELON_GENRES)
    for code in codes:
        for k in range(1, 4):
            names[code[:4] + f"{k:02d}"] = f"{MELON_GENRES[code]} style {k}"
    write_json(root / "genre_gn_all.json", names, indent=None, sort_keys=False)

    by_genre = {g: [s for s, sg in main_genre.items() if sg == g] for g in range(len(codes))}
    all_ids = ids.tolist()
    playlist_files = {"train": [], "val": [], "test": []}
    for pid in range(n_playlists):
        g = int(rng.integers(len(codes)))
        pool = by_genre[g] or all_ids
        size = int(rng.integers(3, 9))
        picks = [int(rng.choice(pool)) if rng.random() < 0.8 else int(rng.choice(all_ids))
                 for _ in range(size)]
        playlist = {"id": pid, "songs": list(dict.fromkeys(picks)),
                    "tags": [MELON_GENRES[codes[g]].lower(), f"mood{pid % 3}"],
                    "plylst_title": f"{MELON_GENRES[codes[g]]} mix {pid}",
                    "like_cnt": int(rng.integers(0, 100)),
                    "updt_date": f"2019-{pid % 12 + 1:02d}-01 12:00:00.000"}
        name = "train" if pid % 10 < 8 else ("val" if pid % 10 == 8 else "test")
        playlist_files[name].append(playlist)
    for name, items in playlist_files.items():
        write_json(root / f"{name}.json", items, indent=None, sort_keys=False)
    return root


def write_gtzan_fixture(root, per_genre=4, seconds=3, seed=0):
    """GTZAN with ``per_genre`` 22,050 Hz WAV clips per genre (10 genres), the
    three filtered split lists (a quarter each to valid and test, at least one
    when ``per_genre >= 3``) and a GTZANindex.txt."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    n_held = max(1, per_genre // 4) if per_genre >= 3 else 0
    lists = {split: [] for split in SPLITS}
    index_lines = ["## synthetic GTZAN index written by era_zoo.data.fixtures"]
    for g, genre in enumerate(GTZAN_GENRES):
        folder = root / "genres" / genre
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_genre):
            name = f"{genre}.{k:05d}.wav"
            sf.write(folder / name, labelled_tone(g, len(GTZAN_GENRES), seconds, 22050, rng),
                     22050, subtype="PCM_16")
            split = "valid" if k < n_held else ("test" if k < 2 * n_held else "train")
            lists[split].append(f"{genre}/{name}")
            index_lines.append(f"{name} ::: {genre.title()} Artist {k % 2} ::: Song {k}")
    for split, lines in lists.items():
        (root / SPLIT_FILES[split]).write_text("".join(line + "\n" for line in lines))
    (root / INDEX_FILE).write_text("\n".join(index_lines) + "\n", encoding="utf-8")
    return root


def write_jamendo_fixture(root, n_tracks=30, audio="mp3", seed=0, *, seconds=1):
    """MTG-Jamendo split-0 (``root/splits/split-0/*.tsv``, CRLF) for all three
    categories, with audio ``root/NN/ID.mp3`` (16 kHz, ``seconds`` long),
    ``.wav`` or (48, 200..400) ``.npy`` mels in melon48's dB scale.

    Every track has 1-2 genre tags; about two thirds have instrument tags and
    about 60 % mood/theme tags (the categories cover different subsets, as
    in the real files). Splits are 6:2:2 and the same in every category.
    """
    if audio not in ("mp3", "wav", "npy"):
        raise ConfigError("audio", f"must be 'mp3', 'wav' or 'npy', not {audio!r}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    genres = JAMENDO_TAGS["genre"]
    numbers = np.sort(rng.choice(200_000, size=n_tracks, replace=False)).tolist()
    rows = {cat: {split: [] for split in FILE_SPLITS} for cat in CATEGORIES}
    for i, number in enumerate(numbers):
        g = i % len(genres)
        tags = {"genre": {genres[g]}}
        if rng.random() < 0.3:
            tags["genre"].add(genres[int(rng.integers(len(genres)))])
        if rng.random() < 0.67:
            instruments = JAMENDO_TAGS["instrument"]
            tags["instrument"] = {instruments[g % len(instruments)],
                                  instruments[int(rng.integers(len(instruments)))]}
        if rng.random() < 0.6:
            moods = JAMENDO_TAGS["moodtheme"]
            tags["moodtheme"] = {moods[g % len(moods)]}
        rel = f"{number % 100:02d}/{number}.mp3"
        file_split = ("train", "train", "train", "train", "train", "train",
                      "validation", "validation", "test", "test")[i % 10]
        fields = [f"track_{number:07d}", f"artist_{g * 10 + i % 3:06d}",
                  f"album_{number // 7:06d}", rel, f"{seconds:.1f}"]
        for cat, values in tags.items():
            cat_tags = [f"{JAMENDO_PREFIX[cat]}---{t}" for t in sorted(values)]
            rows[cat][file_split].append("\t".join(fields + cat_tags))
        target = root / Path(rel).with_suffix("." + audio)
        target.parent.mkdir(parents=True, exist_ok=True)
        if audio == "npy":
            np.save(target, labelled_mel(g, len(genres), int(rng.integers(200, 401)), rng))
        else:
            sf.write(target, labelled_tone(g, len(genres), seconds, 16000, rng), 16000)
    split_dir = root / "splits" / "split-0"
    split_dir.mkdir(parents=True, exist_ok=True)
    for cat, by_split in rows.items():
        for file_split, lines in by_split.items():
            text = "\r\n".join(["\t".join(HEADER)] + lines) + "\r\n"
            with open(split_dir / f"autotagging_{cat}-{file_split}.tsv", "w", newline="") as f:
                f.write(text)
    return root


def _msd_track_id(rng):
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    return "TR" + "".join(rng.choice(alphabet, size=16))


def write_msd_fixture(root, n_tracks=40, hdf5=False, seconds=3, seed=0, *, n_unknown_years=0):
    """MSD era data: ``max(5, n_tracks // 2)`` artists, each active in one of
    the decades 1960-2000, their songs as 22,050 Hz WAV previews
    ``audio/<track_id>.wav`` whose timbre follows the decade, an
    ``artist_text.tsv`` of short biographies, and the metadata either as
    ``tracks.csv`` or (``hdf5=True``) as MSD song files
    ``data/A/B/C/<track_id>.h5`` with artist terms. The first
    ``n_unknown_years`` tracks get year 0 (MSD's unknown)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    n_artists = max(len(MSD_DECADES), n_tracks // 2)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    tracks = []
    for i in range(n_tracks):
        artist = i % n_artists
        d = artist % len(MSD_DECADES)
        year = 0 if i < n_unknown_years else MSD_DECADES[d] + int(rng.integers(0, 10))
        track_id = _msd_track_id(rng)
        tracks.append({"track_id": track_id, "year": year, "artist_id": f"AR{artist:016d}",
                       "artist_name": f"Artist {artist}", "title": f"Song {i}"})
        sf.write(root / "audio" / f"{track_id}.wav",
                 labelled_tone(d, len(MSD_DECADES), seconds, 22050, rng), 22050,
                 subtype="PCM_16")
    artists = {t["artist_id"]: t["artist_name"] for t in tracks}
    with open(root / "artist_text.tsv", "w", encoding="utf-8", newline="") as f:
        f.write("artist_id\ttext\n")
        for k, (artist_id, name) in enumerate(artists.items()):
            decade = MSD_DECADES[k % len(MSD_DECADES)]
            f.write(f"{artist_id}\t{name} recorded mostly in the {decade}s, "
                    f"playing {_terms(k)[0]} with {_terms(k)[1]}.\n")
    if hdf5:
        _write_msd_hdf5(root, tracks, list(artists))
    else:
        with open(root / "tracks.csv", "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["track_id", "year", "artist_id",
                                                   "artist_name", "title"])
            writer.writeheader()
            writer.writerows(tracks)
    return root


def _terms(artist_index):
    styles = (("surf rock", "twangy guitars"), ("disco", "string sections"),
              ("synthpop", "drum machines"), ("grunge", "distorted guitars"),
              ("electropop", "auto-tuned vocals"))
    return styles[artist_index % len(styles)]


def _write_msd_hdf5(root, tracks, artist_order):
    import h5py

    meta_dtype = np.dtype([("artist_id", "S32"), ("artist_name", "S64"), ("title", "S64"),
                           ("song_id", "S32"), ("release", "S64")])
    for row in tracks:
        tid = row["track_id"]
        folder = root / "data" / tid[2] / tid[3] / tid[4]
        folder.mkdir(parents=True, exist_ok=True)
        k = artist_order.index(row["artist_id"])
        with h5py.File(folder / f"{tid}.h5", "w") as f:
            meta = np.zeros(1, meta_dtype)
            meta[0] = (row["artist_id"], row["artist_name"], row["title"], "SO" + tid[2:],
                       f"Album of {row['artist_name']}")
            f.create_dataset("metadata/songs", data=meta)
            f.create_dataset("metadata/artist_terms",
                             data=np.array([t.encode() for t in _terms(k)], dtype="S32"))
            f.create_dataset("musicbrainz/songs",
                             data=np.array([(row["year"],)], dtype=[("year", "<i4")]))
            f.create_dataset("analysis/songs",
                             data=np.array([(tid,)], dtype=[("track_id", "S32")]))
