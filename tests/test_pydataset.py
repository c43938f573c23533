"""The TensorFlow-free loader (era_zoo.data.pydataset.MelBatches): the same
batches as the tf.data pipeline for the same seed, crops that are windows of
the stored mels, seeded epochs, bad files, flat memory."""
import os

import numpy as np
import pytest

from era_zoo.audio.presets import get_preset
from era_zoo.data.problems import ProblemReport
from era_zoo.data.pydataset import MelBatches
from era_zoo.data.streams import CropOrder, crop_start, pad_crop
from era_zoo.data.table import Track, TrackTable
from era_zoo.errors import ConfigError, DataError
from helpers import mel_files, rss_bytes

SPEC = get_preset("melon48")
FRAMES = 40
LENGTHS = (100, 41, 25, 300, 40, 77, 130)   # 25: shorter than a crop, padded


def write_mels(root, lengths=LENGTHS):
    """.npy mels with distinct values everywhere (track i, frame t, band b)."""
    tracks = []
    for i, n in enumerate(lengths):
        mel = 10000 * i + 100 * np.arange(n)[None, :] + np.arange(SPEC.n_mels)[:, None]
        path = root / f"{i}.npy"
        np.save(path, mel.astype(np.float16 if i % 3 == 2 else np.float32))
        tracks.append(Track(f"t{i}", split="train", mel_path=str(path)))
    return TrackTable("mels", tracks)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return write_mels(tmp_path_factory.mktemp("mels"))


def side_features(n):
    rng = np.random.default_rng(0)
    return {"cf": rng.standard_normal((n, 5)), "year_class": np.arange(n) % 3}


def tf_batches(ds):
    return [{k: v.numpy() for k, v in batch.items()} for batch in ds]


def assert_same_batches(ours, theirs):
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs):
        assert sorted(a) == sorted(b)
        for key in a:
            assert a[key].dtype == b[key].dtype, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("options", [
    {"seed": 7, "batch_size": 3},
    {"seed": 1, "batch_size": 2, "pad_mode": "silence", "shuffle": False},
    {"seed": 3, "batch_size": 4, "drop_remainder": False},
    {"seed": 5, "batch_size": 3, "shard": (2, 1)},
])
def test_same_batches_as_the_tf_data_pipeline(table, options):
    from era_zoo.data.pipeline import training_dataset

    side = side_features(len(table))
    ours = MelBatches(table, SPEC, frames=FRAMES, side=side, **options)
    ds = training_dataset(table, SPEC, source="mel", frames=FRAMES, side=side, **options)
    # Two epochs: the PyDataset's second epoch is the dataset's second iteration.
    for _ in range(2):
        assert_same_batches([ours[i] for i in range(len(ours))], tf_batches(ds))
        ours.on_epoch_end()


def test_same_batches_with_repeat_steps_and_skip(table):
    from era_zoo.data.pipeline import training_dataset

    ds = training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=3, seed=2,
                          repeat=True)
    theirs = tf_batches(ds.take(8).skip(3))         # spans three passes over 7 tracks
    ours = MelBatches(table, SPEC, frames=FRAMES, batch_size=3, seed=2, repeat=True,
                      steps=8, skip=3)
    assert len(ours) == 5
    assert_same_batches([ours[i] for i in range(5)], theirs)


def test_crops_are_windows_of_the_stored_mels(table):
    batches = MelBatches(table, SPEC, frames=FRAMES, batch_size=1, seed=11, shuffle=False)
    starts = {}
    for epoch in range(6):
        for i in range(len(batches)):
            batch = batches[i]
            row = int(batch["track_index"][0])
            full = np.load(table.tracks[row].mel_path).astype(np.float32)
            crop = batch["mel"][0]
            assert crop.shape == (SPEC.n_mels, FRAMES) and crop.dtype == np.float32
            if full.shape[1] < FRAMES:                # repeated from its first frame
                np.testing.assert_array_equal(crop, full[:, np.arange(FRAMES) % full.shape[1]])
                continue
            # Frame t of track i holds 10000 i + 100 t in band 0: the start.
            start = int(round((crop[0, 0] - 10000 * row) / 100))
            assert 0 <= start <= full.shape[1] - FRAMES
            np.testing.assert_array_equal(crop, full[:, start:start + FRAMES])
            starts.setdefault(row, set()).add(start)
        batches.on_epoch_end()
    # New crops every epoch: six draws among the 300-frame track's 261 starts
    # (two or more coinciding has probability about 0.002).
    assert len(starts[3]) >= 5, starts


def test_crop_arithmetic():
    # Hand-computed: 100 frames, crop 40 -> 61 starts; draw 130 -> 130 % 61 = 8.
    assert crop_start(130, 100, 40) == 8
    assert crop_start(130, 40, 40) == 0 and crop_start(7, 10, 40) == 0
    short = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_array_equal(pad_crop(short, 7, "repeat", -5.0),
                                  [[1, 2, 3, 1, 2, 3, 1]])
    np.testing.assert_array_equal(pad_crop(short, 5, "silence", -5.0), [[1, 2, 3, -5, -5]])


def test_epoch_order_is_seeded(table):
    def rows(**kw):
        b = MelBatches(table, SPEC, frames=FRAMES, batch_size=7, **kw)
        return b[0]["track_index"].tolist()
    assert rows(seed=4) == rows(seed=4)
    assert sorted(rows(seed=4)) == list(range(7))
    assert rows(seed=4) != rows(seed=5)
    assert rows(seed=4, shuffle=False) == list(range(7))
    fixed = MelBatches(table, SPEC, frames=FRAMES, batch_size=7, seed=4, reshuffle=False)
    first = fixed[0]["mel"]
    fixed.on_epoch_end()
    np.testing.assert_array_equal(fixed[0]["mel"], first)
    with pytest.raises(ConfigError, match="seed"):
        CropOrder(np.arange(3), seed=-1)


def test_side_features_follow_the_rows(table):
    side = side_features(len(table))
    batches = MelBatches(table, SPEC, frames=FRAMES, batch_size=3, side=side, seed=9)
    for i in range(len(batches)):
        b = batches[i]
        np.testing.assert_array_equal(b["cf"], side["cf"][b["track_index"]].astype(np.float32))
        np.testing.assert_array_equal(b["year_class"], b["track_index"] % 3)
        assert b["cf"].dtype == np.float32 and b["year_class"].dtype == np.int32
        assert b["track_index"].dtype == np.int64
    with pytest.raises(ConfigError, match=r"side\['cf'\].*6 rows"):
        MelBatches(table, SPEC, frames=FRAMES, side={"cf": side["cf"][:6]})


def test_bad_files(tmp_path):
    table = write_mels(tmp_path, lengths=(60, 60, 60))
    np.save(tmp_path / "bands.npy", np.zeros((40, 100), np.float32))
    nan = np.zeros((SPEC.n_mels, 30), np.float32)
    nan[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    tracks = table.tracks + [Track("bands", mel_path=str(tmp_path / "bands.npy")),
                             Track("nan", mel_path=str(tmp_path / "nan.npy"))]
    bad = TrackTable("bad", tracks)
    with pytest.raises(DataError, match=r"bands.npy: .*shape \(40, 100\)"):
        MelBatches(bad, SPEC, frames=FRAMES)
    report = ProblemReport()
    batches = MelBatches(bad, SPEC, frames=FRAMES, batch_size=4, shuffle=False,
                         on_error="skip", report=report)
    assert report.total == 1                              # the header, before any batch
    batch = batches[0]                                     # rows 0, 1, 2 and nan (row 4)
    assert batch["track_index"].tolist() == [0, 1, 2]      # the NaN crop left out
    assert report.total == 2 and "nan.npy" in str(report)
    raising = MelBatches(TrackTable("n", tracks[-1:]), SPEC, frames=FRAMES, batch_size=1)
    with pytest.raises(DataError, match="nan.npy: 1 mel value"):
        raising[0]
    with pytest.raises(ConfigError, match="source"):
        MelBatches(table, SPEC, source="audio")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_peak_memory_does_not_grow_with_the_dataset(tmp_path):
    """64 mels of 1.5 MB: reading them whole would add ~98 MB; crops read
    per batch from memory maps must not."""
    frames = 8000
    tracks, file_bytes = mel_files(tmp_path, SPEC.n_mels, 64, frames)

    def peak_growth(n):
        batches = MelBatches(TrackTable("m", tracks[:n]), SPEC, frames=256, batch_size=8)
        start = peak = rss_bytes()
        seen = 0
        for i in range(len(batches)):
            seen += len(batches[i]["mel"])
            peak = max(peak, rss_bytes())
        assert seen == n
        return peak - start

    peak_growth(8)  # warm-up
    small, large = peak_growth(8), peak_growth(64)
    assert large < small + 64 * file_bytes / 4, (small, large)
