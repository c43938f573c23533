import csv
import json
import shutil

import pytest
import soundfile as sf

from era_zoo.data.fixtures import MSD_DECADES, write_msd_fixture
from era_zoo.data.msd import read_msd
from era_zoo.errors import DataError


@pytest.fixture(scope="module")
def msd_csv(tmp_path_factory):
    return write_msd_fixture(tmp_path_factory.mktemp("msd"), n_tracks=40, seconds=1,
                             n_unknown_years=3)


@pytest.fixture(scope="module")
def msd_h5(tmp_path_factory):
    return write_msd_fixture(tmp_path_factory.mktemp("msd_h5"), n_tracks=40, seconds=1,
                             n_unknown_years=3, hdf5=True)


@pytest.fixture
def csv_copy(msd_csv, tmp_path):
    return shutil.copytree(msd_csv, tmp_path / "msd")


@pytest.fixture
def h5_copy(msd_h5, tmp_path):
    return shutil.copytree(msd_h5, tmp_path / "msd_h5")


def _rows(root):
    with open(root / "tracks.csv", newline="") as f:
        return list(csv.DictReader(f))


def _write_rows(root, rows, fieldnames=None):
    with open(root / "tracks.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_track_list(msd_csv):
    rows = _rows(msd_csv)
    table = read_msd(msd_csv)
    known = [r for r in rows if r["year"] != "0"]
    assert len(table) == len(known) == 37
    assert table.problems.counts == {"unknown_year": 3}
    by_id = table.by_id()
    for row in known:
        track = by_id[row["track_id"]]
        assert (track.year, track.artist_id, track.artist) == \
            (int(row["year"]), row["artist_id"], row["artist_name"])
        assert track.audio_path.endswith(f"audio/{row['track_id']}.wav")
    assert table.extras["artist_text_source"] == "artist_text.tsv"
    text = table.extras["artist_text"][known[0]["artist_id"]]
    assert text.startswith(known[0]["artist_name"] + " recorded mostly in the")
    audio, rate = sf.read(table.tracks[0].audio_path)
    assert rate == 22050 and len(audio) == 22050


def test_split_is_artist_disjoint_and_stratified_by_decade(msd_csv):
    table = read_msd(msd_csv, seed=0)
    artists = {s: {t.artist_id for t in table.split(s)} for s in ("train", "valid", "test")}
    assert not artists["train"] & artists["valid"]
    assert not artists["train"] & artists["test"]
    assert not artists["valid"] & artists["test"]
    counts = table.split_counts()
    assert counts["train"] > counts["valid"] > 0 and counts["test"] > 0
    assert [t.split for t in read_msd(msd_csv, seed=0)] == [t.split for t in table]
    # Decade stratification: the training split covers every decade.
    assert {t.year // 10 * 10 for t in table.split("train")} == set(MSD_DECADES)


def test_hdf5_song_files_match_the_track_list(msd_csv, msd_h5):
    from_csv = read_msd(msd_csv)
    from_h5 = read_msd(msd_h5)
    assert {t.track_id: (t.year, t.artist_id, t.artist) for t in from_h5} == \
        {t.track_id: (t.year, t.artist_id, t.artist) for t in from_csv}
    assert from_h5.problems.counts == {"unknown_year": 3}
    assert from_h5.extras["titles"] == from_csv.extras["titles"]


def test_artist_terms_stand_in_for_missing_text(h5_copy):
    (h5_copy / "artist_text.tsv").unlink()
    table = read_msd(h5_copy)
    assert table.extras["artist_text_source"] == "artist terms"
    assert table.extras["artist_text"]["AR0000000000000000"] == "surf rock, twangy guitars"


def test_artist_text_json(csv_copy):
    (csv_copy / "artist_text.tsv").unlink()
    (csv_copy / "artist_text.json").write_text(json.dumps({"AR0000000000000003": "bio"}))
    table = read_msd(csv_copy)
    assert table.extras["artist_text"] == {"AR0000000000000003": "bio"}
    assert table.problems.counts["missing_artist_text"] == len({t.artist_id for t in table}) - 1
    (csv_copy / "artist_text.json").write_text('{"AR0000000000000003": "bi')
    with pytest.raises(DataError, match="artist_text.json: malformed JSON"):
        read_msd(csv_copy)
    assert read_msd(csv_copy, on_error="skip").problems.counts["bad_artist_text"] == 1


def test_min_year_and_missing_audio(csv_copy):
    table = read_msd(csv_copy)
    victim = table.tracks[4]
    (csv_copy / "audio" / f"{victim.track_id}.wav").unlink()
    late = read_msd(csv_copy, min_year=1980)
    assert all(t.year >= 1980 for t in late)
    assert late.extras["excluded"]["below_min_year"] == sum(t.year < 1980 for t in table)
    everything = read_msd(csv_copy)
    assert everything.by_id()[victim.track_id].audio_path is None
    assert everything.problems.counts["missing_audio"] == 1


def test_missing_column(csv_copy):
    rows = _rows(csv_copy)
    for row in rows:
        del row["artist_id"]
    _write_rows(csv_copy, rows)
    with pytest.raises(DataError, match=r"tracks.csv: missing column\(s\) artist_id"):
        read_msd(csv_copy, on_error="skip")


def test_malformed_rows(csv_copy):
    rows = _rows(csv_copy)
    rows[5]["year"] = "nineteen"
    _write_rows(csv_copy, rows)
    with open(csv_copy / "tracks.csv", "a") as f:
        f.write("TRSHORT,1999\n")
    with pytest.raises(DataError, match=r"tracks.csv line 7: .* year 'nineteen'"):
        read_msd(csv_copy)
    table = read_msd(csv_copy, on_error="skip")
    assert table.problems.counts["malformed_row"] == 2
    assert len(table) == 36


def test_unreadable_hdf5(h5_copy):
    victim = sorted((h5_copy / "data").rglob("*.h5"))[0]
    victim.write_bytes(b"not an HDF5 file")
    with pytest.raises(DataError, match=rf"{victim.name}: unreadable HDF5"):
        read_msd(h5_copy)
    table = read_msd(h5_copy, on_error="skip")
    assert table.problems.counts["unreadable_hdf5"] == 1
    assert victim.stem not in table.by_id()


def test_hdf5_without_msd_groups(h5_copy):
    import h5py

    victim = sorted((h5_copy / "data").rglob("*.h5"))[1]
    with h5py.File(victim, "w") as f:
        f.create_dataset("something/else", data=[1, 2])
    with pytest.raises(DataError, match=rf"{victim.name}: not an MSD song file"):
        read_msd(h5_copy)


def test_given_split_and_audio_column(csv_copy):
    rows = [r for r in _rows(csv_copy) if r["year"] != "0"]
    for k, row in enumerate(rows):
        row["split"] = ("train", "valid", "test")[k % 3]
        row["audio_path"] = f"audio/{row['track_id']}.wav"
    _write_rows(csv_copy, rows)
    (csv_copy / "audio").rename(csv_copy / "elsewhere")
    table = read_msd(csv_copy)
    assert [t.split for t in table] == [r["split"] for r in rows]
    assert table.problems.counts == {"missing_audio": len(rows)}


def test_no_metadata(tmp_path):
    with pytest.raises(DataError, match="no MSD metadata found"):
        read_msd(tmp_path)


def test_real_corgis_subset(shared_real):
    table = read_msd(shared_real / "msd" / "corgis_music.csv")
    assert len(table) == 4680
    assert table.problems.counts["unknown_year"] == 10_000 - 4680
    assert min(t.year for t in table) == 1926
    box_tops = table.by_id()["SOCIWDW12A8C13D406"]
    assert (box_tops.artist, box_tops.year) == ("The Box Tops", 1969)
    assert table.extras["titles"]["SOCIWDW12A8C13D406"] == "Soul Deep"
    assert table.extras["artist_text"]["ARMJAGH1187FB546F3"] == \
        "blue-eyed soul, classic pop and rock"
    artists = {s: {t.artist_id for t in table.split(s)} for s in ("train", "valid", "test")}
    assert not artists["train"] & (artists["valid"] | artists["test"])
