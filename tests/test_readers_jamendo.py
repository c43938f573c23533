import shutil

import numpy as np
import pytest

from era_zoo.data.fixtures import write_jamendo_fixture
from era_zoo.data.jamendo import read_jamendo
from era_zoo.errors import ConfigError, DataError

SPLIT_DIR = ("splits", "split-0")


@pytest.fixture(scope="module")
def jamendo_npy(tmp_path_factory):
    return write_jamendo_fixture(tmp_path_factory.mktemp("jamendo"), n_tracks=30, audio="npy")


@pytest.fixture
def jamendo_copy(jamendo_npy, tmp_path):
    return shutil.copytree(jamendo_npy, tmp_path / "jamendo")


def _tsv(root, category, split):
    return root.joinpath(*SPLIT_DIR, f"autotagging_{category}-{split}.tsv")


def _data_lines(path):
    return path.read_bytes().split(b"\r\n")[1:-1]


def test_fixture_is_crlf_with_the_real_header(jamendo_npy):
    raw = _tsv(jamendo_npy, "genre", "train").read_bytes()
    assert raw.startswith(b"TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS\r\n")
    assert raw.count(b"\r\n") == raw.count(b"\n")


def test_counts_match_the_files(jamendo_npy):
    for category in ("genre", "instrument", "moodtheme"):
        table = read_jamendo(jamendo_npy, category=category, audio="npy")
        expected = {"train": len(_data_lines(_tsv(jamendo_npy, category, "train"))),
                    "valid": len(_data_lines(_tsv(jamendo_npy, category, "validation"))),
                    "test": len(_data_lines(_tsv(jamendo_npy, category, "test")))}
        assert table.split_counts() == {k: v for k, v in expected.items() if v}
        assert not table.problems
        prefix = "mood/theme---" if category == "moodtheme" else category + "---"
        assert all(tag.startswith(prefix) for t in table for tag in t.tags)


def test_track_fields(jamendo_npy):
    table = read_jamendo(jamendo_npy, category="genre", audio="npy")
    line = _data_lines(_tsv(jamendo_npy, "genre", "test"))[0].decode().split("\t")
    track = table.by_id()[line[0]]
    assert track.split == "test"
    assert track.artist_id == line[1]
    assert track.tags == tuple(sorted(line[5:]))
    assert track.audio_path is None
    assert track.mel_path == str(jamendo_npy / line[3].replace(".mp3", ".npy"))
    mel = np.load(track.mel_path, allow_pickle=False)
    assert mel.dtype == np.float32 and mel.shape[0] == 48
    assert table.extras["tags"] == sorted({tag for t in table for tag in t.tags})


def test_category_all_unites_tags(jamendo_npy):
    every = read_jamendo(jamendo_npy, category="all", audio="npy")
    genre = read_jamendo(jamendo_npy, category="genre", audio="npy")
    mood = read_jamendo(jamendo_npy, category="moodtheme", audio="npy")
    assert len(every) == len(genre)           # every fixture track has a genre tag
    for t in mood:
        merged = every.by_id()[t.track_id]
        assert set(t.tags) <= set(merged.tags) and merged.split == t.split
    assert set(every.extras["tag_categories"]) == {"genre", "instrument", "moodtheme"}


def test_mp3_audio(tmp_path):
    root = write_jamendo_fixture(tmp_path, n_tracks=4, audio="mp3")
    table = read_jamendo(root)
    assert len(table) == 4 and not table.problems
    assert all(t.audio_path.endswith(".mp3") for t in table)


def test_missing_audio_is_counted(jamendo_copy):
    table = read_jamendo(jamendo_copy, category="genre", audio="npy")
    victim = table.tracks[0]
    (jamendo_copy / victim.mel_path).unlink()
    table = read_jamendo(jamendo_copy, category="genre", audio="npy")
    assert table.by_id()[victim.track_id].mel_path is None
    assert table.problems.counts == {"missing_audio": 1}
    # Looking for wav files that are not there: all missing, none fatal.
    assert read_jamendo(jamendo_copy, audio="wav").problems.counts["missing_audio"] == len(table)


def test_wrong_header(jamendo_copy):
    path = _tsv(jamendo_copy, "genre", "validation")
    path.write_bytes(path.read_bytes().replace(b"TRACK_ID\t", b"ID\t", 1))
    with pytest.raises(DataError, match=r"autotagging_genre-validation.tsv: line 1: header"):
        read_jamendo(jamendo_copy, audio="npy", on_error="skip")


def test_ragged_row(jamendo_copy):
    path = _tsv(jamendo_copy, "genre", "train")
    lines = path.read_bytes().split(b"\r\n")
    lines[3] = b"\t".join(lines[3].split(b"\t")[:3])
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataError, match=r"autotagging_genre-train.tsv: line 4: 3 fields"):
        read_jamendo(jamendo_copy, audio="npy")
    table = read_jamendo(jamendo_copy, audio="npy", on_error="skip")
    assert table.problems.counts == {"ragged_row": 1}
    assert table.split_counts()["train"] == len(lines) - 3


def test_track_in_two_splits(jamendo_copy):
    train = _data_lines(_tsv(jamendo_copy, "genre", "train"))
    path = _tsv(jamendo_copy, "genre", "test")
    path.write_bytes(path.read_bytes() + train[0] + b"\r\n")
    with pytest.raises(DataError, match=r"autotagging_genre-test.tsv: line \d+: track_\d+ is "
                                        r"also in the train split"):
        read_jamendo(jamendo_copy, audio="npy")
    table = read_jamendo(jamendo_copy, audio="npy", on_error="skip")
    assert table.problems.counts == {"track_in_two_splits": 1}
    assert table.split_counts()["train"] == len(train)


def test_malformed_tag(jamendo_copy):
    path = _tsv(jamendo_copy, "instrument", "test")
    lines = path.read_bytes().split(b"\r\n")
    lines[1] = lines[1] + b"\tguitar"
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataError, match=r"line 2: malformed tag 'guitar'"):
        read_jamendo(jamendo_copy, category="instrument", audio="npy")


def test_missing_split_files(jamendo_copy, tmp_path):
    _tsv(jamendo_copy, "moodtheme", "test").unlink()
    with pytest.raises(DataError, match="autotagging_moodtheme-test.tsv: split file not found"):
        read_jamendo(jamendo_copy, category="moodtheme", audio="npy")
    with pytest.raises(DataError, match="split file not found"):
        read_jamendo(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="category: 'mood' is not an MTG-Jamendo category"):
        read_jamendo(jamendo_copy, category="mood")


REAL_COUNTS = {  # the real split-0 files' README
    "genre": ({"train": 32572, "valid": 11043, "test": 11479}, 87),
    "instrument": ({"train": 14395, "valid": 5466, "test": 5115}, 40),
    "moodtheme": ({"train": 9949, "valid": 3802, "test": 4231}, 56),
}


@pytest.mark.parametrize("category", sorted(REAL_COUNTS))
def test_real_split_0_counts(shared_real, tmp_path, category):
    table = read_jamendo(tmp_path, shared_real / "mtg-jamendo", category=category)
    splits, n_tags = REAL_COUNTS[category]
    assert table.split_counts() == splits
    assert len(table.extras["tags"]) == n_tags
    assert table.problems.counts == {"missing_audio": sum(splits.values())}
    if category == "genre":
        assert table.by_id()["track_0000241"].tags == ("genre---rock",)
