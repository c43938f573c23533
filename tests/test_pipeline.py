"""tf.data pipelines: crops, chunks, side features, sharding, bad files,
the mel cache, and memory that does not grow with the dataset."""
import os
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from era_zoo.audio.decode import load_audio
from era_zoo.audio.mel import n_frames, waveform_to_logmel
from era_zoo.audio.presets import get_preset
from era_zoo.data.pipeline import (chunk_dataset, group_by_track, mel_dataset,
                                   training_dataset)
from era_zoo.data.problems import ProblemReport
from era_zoo.data.table import Track, TrackTable
from era_zoo.errors import ConfigError, DataError
from helpers import mel_files, rss_bytes

SPEC = get_preset("melon48")
RATE = SPEC.sample_rate
SECONDS = (1.0, 2.0, 0.5, 3.0, 1.5, 2.5)   # 0.5 s = 32 frames: shorter than a crop
FRAMES = 40


def make_table(root, seconds=SECONDS, seed=0):
    """WAV files and, beside them, .npy mels with distinct values per track."""
    rng = np.random.default_rng(seed)
    tracks = []
    for i, s in enumerate(seconds):
        wav = root / f"{i}.wav"
        sf.write(wav, (0.2 * rng.standard_normal(int(s * RATE))).astype(np.float32), RATE,
                 subtype="FLOAT")
        npy = root / f"{i}.npy"
        np.save(npy, (1000 * i + np.arange(SPEC.n_mels * n_frames(s * RATE, SPEC))
                      .reshape(SPEC.n_mels, -1)).astype(np.float16 if i % 2 else np.float32))
        tracks.append(Track(f"t{i}", split="train", audio_path=str(wav), mel_path=str(npy)))
    return TrackTable("toy", tracks)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return make_table(tmp_path_factory.mktemp("pipeline"))


def collect(ds):
    out = {}
    for batch in ds:
        for k, v in batch.items():
            out.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) if v[0].ndim else np.stack(v) for k, v in out.items()}


def stored_mel(track):
    return np.load(track.mel_path).astype(np.float32)


def is_window_of(crop, full):
    """crop (n_mels, F) is full[:, s:s+F] for some s."""
    width = crop.shape[1]
    return any(np.array_equal(crop, full[:, s:s + width])
               for s in range(full.shape[1] - width + 1))


# ------------------------------------------------------------------ training

def test_mel_crops_are_windows_of_the_stored_mels(table):
    got = collect(training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=2,
                                   drop_remainder=False, seed=3))
    assert got["mel"].shape == (len(table), SPEC.n_mels, FRAMES)
    assert got["mel"].dtype == np.float32 and got["track_index"].dtype == np.int64
    assert sorted(got["track_index"]) == list(range(len(table)))   # each once per epoch
    for mel, row in zip(got["mel"], got["track_index"]):
        full = stored_mel(table.tracks[row])
        if full.shape[1] >= FRAMES:
            assert is_window_of(mel, full)
        else:  # repeat-padded: the track, tiled along time
            np.testing.assert_array_equal(mel, np.tile(full, (1, 2))[:, :FRAMES])


def test_silence_padding(table):
    short = table.filter(lambda t: t.track_id == "t2")
    got = collect(training_dataset(short, SPEC, source="mel", frames=FRAMES, batch_size=1,
                                   pad_mode="silence"))
    full = stored_mel(short.tracks[0])
    np.testing.assert_array_equal(got["mel"][0, :, :full.shape[1]], full)
    # melon48's digital silence: lin2db's -100 dB floor, doubled
    np.testing.assert_allclose(got["mel"][0, :, full.shape[1]:], -200.0)


def test_audio_crops_are_windows_of_the_librosa_logmel(table):
    import librosa

    # melon48_ln is librosa's front-end (melon48 is Essentia's: test_mel_essentia.py)
    spec = get_preset("melon48_ln")
    got = collect(training_dataset(table, spec, source="audio", frames=FRAMES, batch_size=3,
                                   seed=1))
    assert got["mel"].shape == (6, spec.n_mels, FRAMES)
    for mel, row in zip(got["mel"], got["track_index"]):
        wave, _ = librosa.load(table.tracks[row].audio_path, sr=None)
        ref = np.log(librosa.feature.melspectrogram(
            y=wave, sr=RATE, n_fft=spec.n_fft, hop_length=spec.hop_length, n_mels=spec.n_mels,
            center=True, pad_mode="constant") + spec.log_offset)
        if ref.shape[1] < FRAMES:
            ref = np.tile(ref, (1, 2))[:, :FRAMES]
        best = max(np.corrcoef(mel.ravel(), ref[:, s:s + FRAMES].ravel())[0, 1]
                   for s in range(ref.shape[1] - FRAMES + 1))
        assert best > 0.9999


def test_audio_crops_decode_only_their_window(table, tmp_path):
    """A crop decoded alone equals that window of the whole track's log-mel;
    a resampled file too (the window starts on a sample both rates share)."""
    odd = tmp_path / "odd.wav"
    t = np.arange(int(2.2 * 22050)) / 22050
    sf.write(odd, (0.3 * np.sin(2 * np.pi * 330 * t * (1 + t))).astype(np.float32), 22050,
             subtype="FLOAT")
    both = TrackTable("w", table.tracks + [Track("odd", audio_path=str(odd))])
    whole = {int(e["track_index"]): e["mel"].numpy() for e in mel_dataset(both, SPEC)}
    for seed in (0, 1):
        got = collect(training_dataset(both, SPEC, frames=FRAMES, batch_size=1, seed=seed))
        for mel, row in zip(got["mel"], got["track_index"]):
            full = whole[row]
            if full.shape[1] < FRAMES:
                full = np.tile(full, (1, 2))[:, :FRAMES]
            # in dB, over the bins above -100 dB (below, a pure tone's far
            # bands are float32 rounding of the FFT, tens of dB apart)
            errors = [np.abs(mel - window)[window > -100].max()
                      for window in (full[:, s:s + FRAMES]
                                     for s in range(full.shape[1] - FRAMES + 1))]
            best = int(np.argmin(errors))
            assert errors[best] < (1e-2 if row == 6 else 1e-3), (row, errors[best])
            assert np.corrcoef(mel.ravel(), full[:, best:best + FRAMES].ravel())[0, 1] > 0.99999


def test_shuffle_is_seeded_and_reshuffles_each_epoch(table):
    def order(seed, ds=None):
        ds = ds or training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=None,
                                    seed=seed)
        return [int(e["track_index"]) for e in ds]
    assert order(5) == order(5)
    ds = training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=None, seed=5)
    epochs = [order(None, ds) for _ in range(4)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1
    plain = [int(e["track_index"]) for e in training_dataset(
        table, SPEC, source="mel", frames=FRAMES, batch_size=None, shuffle=False)]
    assert plain == list(range(6))


def test_repeat_and_drop_remainder(table):
    ds = training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=4, repeat=True)
    batches = list(ds.take(5))
    assert all(b["mel"].shape == (4, SPEC.n_mels, FRAMES) for b in batches)
    once = list(training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=4))
    assert len(once) == 1  # 6 tracks, batch 4, remainder dropped


def test_side_features_are_gathered_by_row(table, tmp_path):
    cf = np.random.default_rng(0).standard_normal((6, 301))
    memmap = np.lib.format.open_memmap(tmp_path / "genres.npy", mode="w+", dtype=np.int64,
                                       shape=(6, 10))
    memmap[:] = np.arange(60).reshape(6, 10)
    side = {"cf": cf, "genre_ids": memmap, "year_class": np.arange(6) % 3}
    got = collect(training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=3,
                                   side=side))
    rows = got["track_index"]
    assert got["cf"].dtype == np.float32 and got["genre_ids"].dtype == np.int32
    np.testing.assert_allclose(got["cf"], cf[rows].astype(np.float32))
    np.testing.assert_array_equal(got["genre_ids"], memmap[rows])
    np.testing.assert_array_equal(got["year_class"], rows % 3)
    with pytest.raises(ConfigError, match=r"side\['cf'\].*5 rows"):
        training_dataset(table, SPEC, source="mel", side={"cf": cf[:5]})


def test_shards_partition_the_tracks(table):
    def rows(**kw):
        ds = training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=None,
                              shuffle=False, **kw)
        return [int(e["track_index"]) for e in ds]
    a, b = rows(shard=(2, 0)), rows(shard=(2, 1))
    assert sorted(a + b) == list(range(6)) and not set(a) & set(b)
    ctx = [tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i,
                                      num_replicas_in_sync=2) for i in range(2)]
    parts = [training_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=4,
                              input_context=c, drop_remainder=False, shuffle=False) for c in ctx]
    batches = [list(p) for p in parts]
    assert all(b["mel"].shape[0] <= 2 for bs in batches for b in bs)  # per-replica batch
    seen = [int(i) for bs in batches for b in bs for i in b["track_index"]]
    assert sorted(seen) == list(range(6))
    with pytest.raises(ConfigError, match="shard"):
        training_dataset(table, SPEC, source="mel", shard=(2, 2))


# -------------------------------------------------------------------- chunks

def test_chunks_cover_each_track_in_order(table):
    got = collect(chunk_dataset(table, SPEC, source="mel", frames=FRAMES, batch_size=5))
    expected_rows, expected_chunks = [], []
    for row, track in enumerate(table):
        full = stored_mel(track)
        count = max(1, full.shape[1] // FRAMES)
        expected_rows += [row] * count
        expected_chunks += list(range(count))
    assert list(got["track_index"]) == expected_rows
    assert list(got["chunk_index"]) == expected_chunks
    for mel, row, k in zip(got["mel"], got["track_index"], got["chunk_index"]):
        full = stored_mel(table.tracks[row])
        if full.shape[1] >= FRAMES:
            np.testing.assert_array_equal(mel, full[:, k * FRAMES:(k + 1) * FRAMES])
    tracks, groups = group_by_track(got["track_index"], got["chunk_index"])
    assert list(tracks) == list(range(6))
    assert [list(g) for g in groups] == [list(range(len(g))) for g in groups]


def test_group_by_track_restores_per_track_order():
    tracks, groups = group_by_track([2, 0, 2, 1, 0], np.array([[1.], [2.], [3.], [4.], [5.]]))
    assert list(tracks) == [0, 1, 2]
    assert [g[:, 0].tolist() for g in groups] == [[2.0, 5.0], [4.0], [1.0, 3.0]]


def test_audio_chunks_and_whole_mels_match_the_front_end(table):
    whole = {int(e["track_index"]): e["mel"].numpy() for e in mel_dataset(table, SPEC)}
    for row, track in enumerate(table):
        ref = waveform_to_logmel(load_audio(track.audio_path, RATE), SPEC).numpy()
        np.testing.assert_allclose(whole[row], ref, atol=1e-5)
    got = collect(chunk_dataset(table, SPEC, source="audio", frames=FRAMES, batch_size=4))
    for mel, row, k in zip(got["mel"], got["track_index"], got["chunk_index"]):
        if whole[row].shape[1] >= FRAMES:
            np.testing.assert_allclose(mel, whole[row][:, k * FRAMES:(k + 1) * FRAMES],
                                       atol=1e-5)


def test_files_decode_side_by_side_without_the_autotuning_model(table, monkeypatch):
    """tf.data's autotuning model is off (deleting an iterator waited on it,
    idle); AUTOTUNE maps must still read files in parallel, one per core."""
    import era_zoo.audio.decode as decode
    active, most = [0], [0]
    lock = threading.Lock()
    load = decode.load_audio

    def watched(*args, **kwargs):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.05)  # long enough for the next file's call to start meanwhile
        try:
            return load(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(decode, "load_audio", watched)
    for ds in (mel_dataset(table, SPEC),
               chunk_dataset(table, SPEC, frames=FRAMES, batch_size=4),
               training_dataset(table, SPEC, frames=FRAMES, batch_size=2, validate=False)):
        assert ds.options().autotune.enabled is False
        most[0] = 0
        for _ in ds:
            pass
        cores = len(os.sched_getaffinity(0))  # what TensorFlow counts as schedulable
        assert most[0] == min(cores, 16, len(table)), most[0]


# ----------------------------------------------------------------- bad files

@pytest.fixture()
def bad_table(tmp_path):
    good = make_table(tmp_path, seconds=(1.0, 1.0, 1.0))
    nan_wav = tmp_path / "nan.wav"
    x = np.full(RATE, 0.1, np.float32)
    x[::50] = np.nan  # everywhere: a training crop decodes only its own window
    sf.write(nan_wav, x, RATE, subtype="FLOAT")
    missing = tmp_path / "missing.wav"
    text = tmp_path / "text.wav"
    text.write_text("not audio at all\n" * 20)
    bad = [Track("nan", audio_path=str(nan_wav)), Track("missing", audio_path=str(missing)),
           Track("text", audio_path=str(text)), Track("none")]
    return TrackTable("bad", good.tracks[:2] + bad + good.tracks[2:]), nan_wav, missing


def test_header_problems_raise_before_iteration(bad_table):
    table, _, missing = bad_table
    with pytest.raises(DataError, match=f"{missing}: file not found"):
        training_dataset(table, SPEC, source="audio", frames=FRAMES)


def test_content_problem_names_the_file_mid_stream(bad_table):
    table, nan_wav, _ = bad_table
    nan_only = table.filter(lambda t: t.track_id in ("t0", "nan"))
    ds = training_dataset(nan_only, SPEC, source="audio", frames=FRAMES, batch_size=1,
                          shuffle=False)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        list(ds)
    assert f"{nan_wav}: " in str(info.value)
    assert "sample(s) are NaN or infinite" in str(info.value)


def test_skip_counts_each_bad_file_once(bad_table):
    table, nan_wav, missing = bad_table
    report = ProblemReport()
    ds = training_dataset(table, SPEC, source="audio", frames=FRAMES, batch_size=None,
                          on_error="skip", report=report)
    for _ in range(2):
        rows = sorted(int(e["track_index"]) for e in ds)
        assert rows == [0, 1, 6]
    assert report.counts == {"bad audio file": 4}
    text = str(report)
    assert str(nan_wav) in text and str(missing) in text and "track none" in text
    # without a report of its own, the table's report collects the skips
    chunk_dataset(table, SPEC, source="audio", frames=FRAMES, on_error="skip")
    assert table.problems.total == 3  # header checks; the NaN file passes its header


def test_bad_mel_files(tmp_path):
    table = make_table(tmp_path, seconds=(1.0,))
    np.save(tmp_path / "bands.npy", np.zeros((40, 100), np.float32))
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "ints.npy", np.zeros((48, 100), np.int16))
    nan = np.zeros((48, 30), np.float32)
    nan[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    cases = {"bands.npy": "shape \\(40, 100\\)", "pickled.npy": "not a readable",
             "ints.npy": "dtype int16"}
    for name, pattern in cases.items():
        bad = TrackTable("m", [Track("x", mel_path=str(tmp_path / name))])
        with pytest.raises(DataError, match=f"{name}: .*{pattern}"):
            training_dataset(bad, SPEC, source="mel", frames=FRAMES)
    with_nan = TrackTable("m", table.tracks + [Track("x", mel_path=str(tmp_path / "nan.npy"))])
    report = ProblemReport()
    got = collect(training_dataset(with_nan, SPEC, source="mel", frames=FRAMES, batch_size=1,
                                   on_error="skip", report=report))
    assert list(got["track_index"]) == [0] and report.total == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="nan.npy: 1 mel value"):
        list(training_dataset(with_nan, SPEC, source="mel", frames=FRAMES, batch_size=1))


def test_bad_arguments(table):
    for kw, field in [({"source": "mp3"}, "source"), ({"pad_mode": "mirror"}, "pad_mode"),
                      ({"on_error": "ignore"}, "on_error"), ({"frames": 0}, "frames"),
                      ({"source": "mel", "cache_dir": "x"}, "cache_dir")]:
        with pytest.raises(ConfigError, match=field):
            training_dataset(table, SPEC, **kw)


# --------------------------------------------------------------------- cache

def test_mel_cache_is_written_once_and_read_back(tmp_path):
    table = make_table(tmp_path, seconds=(1.0, 1.5))
    cache = tmp_path / "cache"
    first = {int(e["track_index"]): e["mel"].numpy()
             for e in mel_dataset(table, SPEC, cache_dir=cache)}
    entries = sorted(cache.rglob("*.npy"))
    assert len(entries) == 2 and not list(cache.rglob("*.tmp"))
    for entry in entries:  # mark the entries: a cache hit must return the marks
        mel = np.load(entry)
        np.save(entry, mel + 100.0)
    second = {int(e["track_index"]): e["mel"].numpy()
              for e in mel_dataset(table, SPEC, cache_dir=cache)}
    for row in first:
        np.testing.assert_allclose(second[row], first[row] + 100.0)
    # touching the audio file invalidates its entry
    os.utime(table.tracks[0].audio_path, ns=(1, 1))
    third = {int(e["track_index"]): e["mel"].numpy()
             for e in mel_dataset(table, SPEC, cache_dir=cache)}
    np.testing.assert_allclose(third[0], first[0])
    assert len(list(cache.rglob("*.npy"))) == 3


def test_cache_with_skipped_files_holds_the_good_ones_only(bad_table, tmp_path):
    """A bad file's placeholder waveform goes through the log-mel map with
    the others (one map decodes and transforms) but is never cached."""
    table, _, _ = bad_table
    cache = tmp_path / "cache"
    rows = sorted(int(e["track_index"]) for e in
                  mel_dataset(table, SPEC, cache_dir=cache, on_error="skip",
                              report=ProblemReport()))
    assert rows == [0, 1, 6]
    assert len(list(cache.rglob("*.npy"))) == 3


# -------------------------------------------------------------------- memory

@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_peak_memory_does_not_grow_with_the_dataset(tmp_path):
    """Chunking reads every mel in full; 8x the files must not need 8x the
    memory. 64 files of 1.5 MB: holding them would add ~98 MB."""
    frames = 8000
    tracks, file_bytes = mel_files(tmp_path, SPEC.n_mels, 64, frames)

    def peak_growth(n):
        ds = chunk_dataset(TrackTable("m", tracks[:n]), SPEC, source="mel", frames=256,
                           batch_size=16)
        start = peak = rss_bytes()
        chunks = 0
        for batch in ds:
            chunks += int(batch["mel"].shape[0])
            peak = max(peak, rss_bytes())
        assert chunks == n * (frames // 256)
        return peak - start

    peak_growth(8)  # warm-up: graph tracing, thread pools
    small, large = peak_growth(8), peak_growth(64)
    data_large = 64 * file_bytes
    assert large < small + data_large / 4, (small, large)
