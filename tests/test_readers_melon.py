import json
import shutil

import numpy as np
import pytest

from era_zoo.data.fixtures import MELON_GENRES, write_melon_fixture
from era_zoo.data.melon import read_melon
from era_zoo.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def melon_root(tmp_path_factory):
    return write_melon_fixture(tmp_path_factory.mktemp("melon"), n_tracks=40, n_playlists=30)


@pytest.fixture
def melon_copy(melon_root, tmp_path):
    return shutil.copytree(melon_root, tmp_path / "melon")


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)


def test_tracks_follow_song_meta(melon_root):
    songs = _load(melon_root / "song_meta.json")
    table = read_melon(melon_root)
    assert len(table) == len(songs) == 40
    assert not table.problems
    by_id = table.by_id()
    for song in songs:
        track = by_id[str(song["id"])]
        assert track.year == int(song["issue_date"][:4])
        assert track.genres == tuple(song["song_gn_gnr_basket"] + [
            c for c in song["song_gn_dtl_gnr_basket"] if c not in song["song_gn_gnr_basket"]])
        assert track.artist == song["artist_name_basket"][0]
        assert track.artist_id == str(song["artist_id_basket"][0])
        assert track.mel_path.endswith(f"arena_mel/{song['id'] // 1000}/{song['id']}.npy")
        assert table.extras["titles"][track.track_id] == song["song_name"]
    mel = np.load(table.tracks[0].mel_path, allow_pickle=False)
    assert mel.dtype == np.float32 and mel.shape[0] == 48
    assert set(table.extras["tag_categories"]["genre"]) <= set(MELON_GENRES)


def test_playlists_both_ways(melon_root):
    table = read_melon(melon_root)
    files = {name: _load(melon_root / f"{name}.json") for name in ("train", "val", "test")}
    expected = {str(p["id"]): [str(s) for s in p["songs"]] for items in files.values()
                for p in items}
    assert table.extras["playlists"] == expected
    assert table.extras["playlist_split"] == {str(p["id"]): name for name, items in files.items()
                                              for p in items}
    for track in table:
        holders = {pid for pid, songs in expected.items() if track.track_id in songs}
        assert set(track.playlists) == holders
    info = table.extras["playlist_info"][str(files["val"][0]["id"])]
    assert info["title"] == files["val"][0]["plylst_title"]


def test_split_is_seeded_and_stratified(melon_root):
    a = read_melon(melon_root, seed=1)
    b = read_melon(melon_root, seed=1)
    c = read_melon(melon_root, seed=2)
    assert [t.split for t in a] == [t.split for t in b]
    assert [t.split for t in a] != [t.split for t in c]
    assert a.split_counts() == {"train": 32, "valid": 4, "test": 4}
    with pytest.raises(ConfigError, match="split_fractions"):
        read_melon(melon_root, split_fractions=(0.5, 0.5))


def test_genre_table_with_and_without_gn_prefix(melon_copy):
    names = read_melon(melon_copy).extras["genre_names"]
    assert names["GN0100"] == MELON_GENRES["GN0100"]
    _dump(melon_copy / "genre_gn_all.json", {"0100": "Ballad", "GN0200": "Dance"})
    assert read_melon(melon_copy).extras["genre_names"] == {"GN0100": "Ballad", "GN0200": "Dance"}


def test_real_genre_table(melon_copy, shared_real):
    shutil.copy(shared_real / "melon" / "genre_gn_all.json", melon_copy)
    names = read_melon(melon_copy).extras["genre_names"]
    assert len(names) == 254
    assert all(code.startswith("GN") for code in names)
    assert names["GN0100"] == "발라드"


def test_unknown_and_malformed_dates(tmp_path):
    root = write_melon_fixture(tmp_path, n_tracks=12, n_playlists=5, n_unknown_dates=2)
    songs = _load(root / "song_meta.json")
    songs[5]["issue_date"] = "2019-01"
    songs[6]["issue_date"] = "18000000"   # four zeros are not a whole date: year 1800 is kept
    _dump(root / "song_meta.json", songs)
    table = read_melon(root)
    assert [t.year for t in table][:2] == [None, None]
    assert table.by_id()[str(songs[5]["id"])].year is None
    assert table.by_id()[str(songs[6]["id"])].year == 1800
    assert table.problems.counts == {"unknown_year": 2, "malformed_date": 1}


def test_truncated_song_meta_raises_even_when_skipping(melon_copy):
    path = melon_copy / "song_meta.json"
    path.write_text(path.read_text(encoding="utf-8")[:500], encoding="utf-8")
    with pytest.raises(DataError, match=r"song_meta.json: malformed JSON at line 1"):
        read_melon(melon_copy, on_error="skip")


def test_missing_song_meta(tmp_path):
    with pytest.raises(DataError, match="song_meta.json: song metadata not found"):
        read_melon(tmp_path)


def test_truncated_playlist_file(melon_copy):
    path = melon_copy / "train.json"
    path.write_text(path.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    with pytest.raises(DataError, match="train.json: malformed JSON"):
        read_melon(melon_copy)
    table = read_melon(melon_copy, on_error="skip")
    assert table.problems.counts == {"bad_playlist_file": 1}
    assert set(table.extras["playlist_split"].values()) == {"val", "test"}


def test_bad_records(melon_copy):
    songs = _load(melon_copy / "song_meta.json")
    songs[3]["song_gn_gnr_basket"] = "GN0100"
    songs.append({"song_name": "no id"})
    _dump(melon_copy / "song_meta.json", songs)
    playlists = _load(melon_copy / "test.json")
    playlists[0]["songs"].append(99_999_999)
    _dump(melon_copy / "test.json", playlists)
    with pytest.raises(DataError, match=rf"song {songs[3]['id']}: field song_gn_gnr_basket"):
        read_melon(melon_copy)
    table = read_melon(melon_copy, on_error="skip")
    assert len(table) == 39
    dropped = songs[3]["id"]
    lost = 1 + sum(p["songs"].count(dropped) for name in ("train", "val", "test")
                   for p in _load(melon_copy / f"{name}.json"))
    assert table.problems.counts == {"malformed_song": 2, "unknown_song_in_playlist": lost}


def test_missing_mel_is_counted(melon_copy):
    table = read_melon(melon_copy)
    victim = table.tracks[7]
    (melon_copy / victim.mel_path).unlink()
    table = read_melon(melon_copy)
    assert table.by_id()[victim.track_id].mel_path is None
    assert table.problems.counts == {"missing_mel": 1}
