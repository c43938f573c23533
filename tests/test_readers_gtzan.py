import shutil

import pytest
import soundfile as sf

from era_zoo.data.fixtures import GTZAN_GENRES, write_gtzan_fixture
from era_zoo.data.gtzan import read_gtzan
from era_zoo.errors import DataError


@pytest.fixture(scope="module")
def gtzan_root(tmp_path_factory):
    return write_gtzan_fixture(tmp_path_factory.mktemp("gtzan"), per_genre=4, seconds=1)


@pytest.fixture
def gtzan_copy(gtzan_root, tmp_path):
    return shutil.copytree(gtzan_root, tmp_path / "gtzan")


def test_fixture_layout_is_read(gtzan_root):
    table = read_gtzan(gtzan_root)
    assert len(table) == 40
    # per_genre=4: one valid, one test, two train per genre.
    assert table.split_counts() == {"train": 20, "valid": 10, "test": 10}
    assert not table.problems
    track = table.by_id()["jazz.00003"]
    assert track.genres == ("jazz",)
    assert track.split == "train"
    assert track.audio_path.endswith("genres/jazz/jazz.00003.wav")
    assert track.artist == "Jazz Artist 1"
    assert table.extras["titles"]["jazz.00003"] == "Song 3"
    assert table.extras["tag_categories"]["genre"] == sorted(GTZAN_GENRES)
    audio, rate = sf.read(track.audio_path)
    assert rate == 22050 and audio.shape == (22050,)


def test_au_files_and_tracks_outside_the_lists(gtzan_copy):
    wav = gtzan_copy / "genres" / "rock" / "rock.00001.wav"
    audio, rate = sf.read(wav)
    sf.write(wav.with_suffix(".au"), audio, rate)
    wav.unlink()
    sf.write(gtzan_copy / "genres" / "rock" / "rock.00099.wav", audio, rate)
    table = read_gtzan(gtzan_copy).by_id()
    assert table["rock.00001"].audio_path.endswith(".au")
    assert table["rock.00099"].split is None


def test_missing_audio_is_counted_not_fatal(gtzan_copy):
    (gtzan_copy / "genres" / "pop" / "pop.00002.wav").unlink()
    table = read_gtzan(gtzan_copy)
    assert len(table) == 40
    assert table.by_id()["pop.00002"].audio_path is None
    assert table.problems.counts == {"missing_audio": 1}


def test_malformed_split_line(gtzan_copy):
    path = gtzan_copy / "valid_filtered.txt"
    lines = path.read_text().splitlines()
    lines.insert(2, "blues/rock.00001.wav")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"valid_filtered.txt: line 3"):
        read_gtzan(gtzan_copy)
    table = read_gtzan(gtzan_copy, on_error="skip")
    assert table.problems.counts["malformed_split_line"] == 1
    assert table.split_counts()["valid"] == 10


def test_track_in_two_lists(gtzan_copy):
    with open(gtzan_copy / "test_filtered.txt", "a") as f:
        f.write("blues/blues.00002.wav\n")
    with pytest.raises(DataError, match="already in the train list"):
        read_gtzan(gtzan_copy)


def test_explicit_split_dir_must_hold_all_lists(gtzan_copy, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    shutil.copy(gtzan_copy / "train_filtered.txt", lists)
    with pytest.raises(DataError, match="valid_filtered.txt: split list not found"):
        read_gtzan(gtzan_copy, splits_dir=lists)


def test_no_lists_means_no_split(gtzan_copy):
    for name in ("train", "valid", "test"):
        (gtzan_copy / f"{name}_filtered.txt").unlink()
    table = read_gtzan(gtzan_copy)
    assert table.split_counts() == {None: 40}
    assert table.extras["split_lists"] is None


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no GTZAN audio"):
        read_gtzan(tmp_path)


def test_malformed_index_line(gtzan_copy):
    with open(gtzan_copy / "GTZANindex.txt", "a") as f:
        f.write("blues.00000.wav only one field\n")
    with pytest.raises(DataError, match="GTZANindex.txt: line 42"):
        read_gtzan(gtzan_copy)
    assert read_gtzan(gtzan_copy, on_error="skip").problems.counts["malformed_index_line"] == 1


def test_real_fault_filtered_split(shared_real):
    table = read_gtzan(shared_real / "gtzan")
    assert table.split_counts() == {"train": 443, "valid": 197, "test": 290}
    assert table.problems.counts == {"missing_audio": 930}
    blues = table.by_id()["blues.00029"]
    assert blues.split == "train" and blues.genres == ("blues",)
    assert table.by_id()["blues.00000"].artist == "John Lee Hooker"
