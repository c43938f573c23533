import json

import pytest

from era_zoo.cli import main
from era_zoo.data.fixtures import (write_gtzan_fixture, write_jamendo_fixture,
                                   write_melon_fixture, write_msd_fixture)
from era_zoo.data.info import dataset_info
from era_zoo.errors import ConfigError


def _json_info(capsys, *argv):
    assert main(["data", "info", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_info_json(tmp_path, capsys):
    gtzan_root = write_gtzan_fixture(tmp_path, per_genre=4, seconds=0.2)
    (gtzan_root / "genres" / "disco" / "disco.00003.wav").unlink()
    info = _json_info(capsys, "gtzan", str(gtzan_root))
    assert info["dataset"] == "gtzan" and info["tracks"] == 40
    assert info["splits"] == {"train": 20, "valid": 10, "test": 10, "none": 0}
    assert info["audio_files"] == 39
    assert info["tags"] == {"genre": 10}
    assert info["genres"] == 10
    assert info["artists"] == 20          # "<Genre> Artist 0/1" per genre
    assert info["problems"]["missing_audio"]["count"] == 1
    assert info["problems"]["missing_audio"]["examples"][0].endswith("disco.00003.wav: "
                                                                     "listed in train_filtered.txt")


def test_info_table(tmp_path, capsys):
    root = write_msd_fixture(tmp_path, n_tracks=20, seconds=0.2, n_unknown_years=2)
    assert main(["data", "info", "msd", str(root)]) == 0
    out = capsys.readouterr().out
    info = dataset_info("msd", root)
    for split in ("train", "valid", "test"):
        assert f"  {split:<8}{info['splits'][split]:>10}" in out
    assert f"years         {info['years']['min']}-{info['years']['max']} (18 known, 0 unknown)" \
        in out
    # Track i's decade is 1960 + 10 (i % 5); tracks 0 and 1 have year 0.
    assert info["years"]["per_decade"] == {"1960s": 3, "1970s": 3, "1980s": 4, "1990s": 4,
                                           "2000s": 4}
    assert "unknown_year: 2" in out


def test_info_melon_playlists(tmp_path, capsys):
    root = write_melon_fixture(tmp_path, n_tracks=10, n_playlists=10)
    info = _json_info(capsys, "melon", str(root))
    assert info["playlists"] == {"train": 8, "val": 1, "test": 1, "total": 10}
    assert info["mel_files"] == 10


def test_jamendo_info_defaults_to_all_categories(tmp_path, capsys):
    root = write_jamendo_fixture(tmp_path, n_tracks=10, audio="npy")
    info = _json_info(capsys, "jamendo", str(root), "--audio", "npy")
    assert set(info["tags"]) == {"genre", "instrument", "moodtheme"}
    info = _json_info(capsys, "jamendo", str(root), "--audio", "npy", "--category", "genre",
                      "--splits", str(root / "splits"))
    assert set(info["tags"]) == {"genre"}


def test_errors_exit_2_with_the_file(tmp_path, capsys):
    assert main(["data", "info", "melon", str(tmp_path)]) == 2
    assert "song_meta.json: song metadata not found" in capsys.readouterr().err
    assert main(["data", "info", "gtzan", str(tmp_path), "--min-year", "1990"]) == 2
    assert "min_year: not an option of the gtzan reader" in capsys.readouterr().err


def test_strict_stops_at_bad_records(tmp_path, capsys):
    root = write_gtzan_fixture(tmp_path, per_genre=3, seconds=0.2)
    with open(root / "test_filtered.txt", "a") as f:
        f.write("not a track\n")
    info = _json_info(capsys, "gtzan", str(root))
    assert info["problems"]["malformed_split_line"]["count"] == 1
    assert main(["data", "info", "gtzan", str(root), "--strict"]) == 2
    assert "test_filtered.txt: line 11" in capsys.readouterr().err


def test_help_lists_the_actions(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "--help"])
    assert exit_info.value.code == 0
    assert "info" in capsys.readouterr().out
    with pytest.raises(ConfigError):
        dataset_info("gtzan", ".", category="genre")


def test_readers_are_a_name_to_reader_table(monkeypatch, tmp_path):
    from era_zoo.data import readers
    from era_zoo.data.table import Track, TrackTable
    from era_zoo.errors import DataError

    with pytest.raises(DataError, match="nope: unknown dataset"):
        readers.read_dataset("nope", tmp_path)

    def read_tiny(root, *, on_error="raise"):
        return TrackTable("tiny", [Track("a", split="train", year=1999), Track("b", year=2001)])

    monkeypatch.setitem(readers.READERS, "tiny", read_tiny)
    assert len(readers.read_dataset("tiny", tmp_path)) == 2
    info = dataset_info("tiny", tmp_path)
    assert info["splits"] == {"train": 1, "valid": 0, "test": 0, "none": 1}
    assert info["years"]["per_decade"] == {"1990s": 1, "2000s": 1}
