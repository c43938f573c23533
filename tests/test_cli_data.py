import json

import numpy as np
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


def _sampled_values(check):
    values = np.concatenate([np.load(p).ravel() for p in check["sampled"]]).astype(np.float64)
    return values


def test_info_checks_melon_mels_against_melon48(tmp_path, capsys):
    root = write_melon_fixture(tmp_path, n_tracks=12, n_playlists=5)
    check = _json_info(capsys, "melon", str(root))["mel_values"]
    assert check["preset"] == "melon48" and check["scale"] == "20 log10(band power)"
    assert check["files"] == 12 and len(check["sampled"]) == 8 and check["unreadable"] == []
    values = _sampled_values(check)
    assert check["min"] == pytest.approx(values.min(), abs=1e-4)
    assert check["max"] == pytest.approx(values.max(), abs=1e-4)
    assert check["median"] == pytest.approx(np.median(values), abs=1e-4)
    assert -200 < check["min"] and check["max"] < 60           # Melon's dB scale
    assert check["floor"] == -200.0 and 40 < check["full_scale"] < 60
    assert check["warnings"] == [] and "melon48" in check["fits"]
    assert "melon48_ln" not in check["fits"]
    # the same draw every time; another seed, other files
    again = _json_info(capsys, "melon", str(root))["mel_values"]
    assert again["sampled"] == check["sampled"]
    other = _json_info(capsys, "melon", str(root), "--seed", "1", "--mel-samples", "3")
    assert len(other["mel_values"]["sampled"]) == 3


def test_info_warns_on_natural_log_mels(tmp_path, capsys):
    root = write_melon_fixture(tmp_path, n_tracks=12, n_playlists=5, mel_scale="ln")
    check = _json_info(capsys, "melon", str(root))["mel_values"]
    values = _sampled_values(check)
    assert -14 < values.min() and values.max() < 5                # ln(power + 1e-6)
    assert len(check["warnings"]) == 1 and "decades of band power" in check["warnings"][0]
    assert check["fits"] == ["melon48_ln"]
    assert main(["data", "info", "melon", str(root)]) == 0
    out = capsys.readouterr().out
    assert "mel scale     melon48 expects 20 log10(band power): floor -200.0" in out
    assert "WARNING: the middle 98 % of values" in out
    assert "the values fit the scale of: melon48_ln" in out
    # checked against the preset they were made for, nothing to say
    check = _json_info(capsys, "melon", str(root), "--mel", "melon48_ln")["mel_values"]
    assert check["warnings"] == [] and check["floor"] == pytest.approx(np.log(1e-6))


def test_info_warns_on_db_mels_for_a_natural_log_preset(tmp_path, capsys):
    root = write_melon_fixture(tmp_path, n_tracks=12, n_playlists=5)
    check = _json_info(capsys, "melon", str(root), "--mel", "melon48_ln")["mel_values"]
    assert any("below the floor of melon48_ln's ln(band power + 1e-06) (-13.8"
               in w for w in check["warnings"])
    assert check["fits"] == ["melon48"]


def test_info_lists_mels_of_the_wrong_shape(tmp_path, capsys):
    root = write_melon_fixture(tmp_path, n_tracks=4, n_playlists=3)
    bad = sorted((root / "arena_mel").rglob("*.npy"))[0]
    np.save(bad, np.zeros((96, 10), np.float32))
    check = _json_info(capsys, "melon", str(root))["mel_values"]
    assert len(check["sampled"]) == 3
    assert check["unreadable"] == [f"{bad}: shape (96, 10), melon48 has (48, frames)"]
    assert main(["data", "info", "melon", str(root), "--mel-samples", "0"]) == 2
    assert "--mel-samples: must be >= 1" in capsys.readouterr().err


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
