"""End-to-end protocols at fixture scale, embedding sources and id matching."""
import numpy as np
import pytest

from era_zoo.bench import (Embeddings, load_embeddings, markdown_table, run_era, run_gtzan,
                           run_jamendo, run_melon, save_embeddings, track_key, write_plots)
from era_zoo.bench import metrics
from era_zoo.bench.era import ERA_PROBE
from era_zoo.bench.jamendo import JAMENDO_PROBE
from era_zoo.bench.probes import GTZAN_PROBE
from era_zoo.bench.sources import embed_with_callable
from era_zoo.data.fixtures import write_gtzan_fixture, write_jamendo_fixture, write_melon_fixture
from era_zoo.data.gtzan import read_gtzan
from era_zoo.data.jamendo import read_jamendo
from era_zoo.data.melon import read_melon
from era_zoo.data.table import Track, TrackTable
from era_zoo.errors import DataError

FAST = {"max_epochs": 6, "patience": 3, "batch_size": 32, "learning_rate": 1e-2}


# --- sources ------------------------------------------------------------------

@pytest.mark.parametrize("raw, key", [
    ("blues.00029", "blues.00029"), ("blues.00029.au", "blues.00029"),
    ("blues/blues.00029.wav", "blues.00029"), ("/data/genres/blues/blues.00029.WAV", "blues.00029"),
    ("14/214.mp3", "214"), ("14/214.low.mp3", "214"), ("track_0000214", "track_0000214"),
    ("C:\\x\\123.npy", "123")])
def test_track_key_is_the_file_stem(raw, key):
    assert track_key(raw) == key


def test_npz_round_trip_and_stem_matching(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    ids = ["g/a.1.wav", "g/a.1.wav", "b.2.au", "c", "c", "c"]
    path = save_embeddings(tmp_path / "e.npz", X, ids, Y=np.array([0, 0, 1, 2, 2, 2]))
    emb = load_embeddings(path)
    assert emb.ids.dtype.kind == "U" and emb.Y.tolist() == [0, 0, 1, 2, 2, 2]
    table = TrackTable("t", [Track("a.1"), Track("x", audio_path="/m/b.2.wav"), Track("missing"),
                             Track("c")])
    rows, owner, missing = emb.chunk_rows(table)
    assert owner.tolist() == [0, 0, 1, 3, 3, 3] and missing == [2]
    means, present, missing = emb.track_means(table)
    assert present.tolist() == [0, 1, 3] and missing == [2]
    np.testing.assert_allclose(means, [[1, 2], [4, 5], [8, 9]])


def test_bad_embedding_files_are_named(tmp_path):
    np.savez(tmp_path / "obj.npz", X=np.zeros((2, 2)), IDS=np.array(["a", 1], dtype=object))
    with pytest.raises(DataError, match="obj.npz"):
        load_embeddings(tmp_path / "obj.npz")
    np.savez(tmp_path / "nox.npz", IDS=np.array(["a"]))
    with pytest.raises(DataError, match="missing array 'X'"):
        load_embeddings(tmp_path / "nox.npz")
    np.savez(tmp_path / "nan.npz", X=np.array([[0.0, np.nan]]), IDS=np.array(["a"]))
    with pytest.raises(DataError, match="NaN"):
        load_embeddings(tmp_path / "nan.npz")
    np.savez(tmp_path / "len.npz", X=np.zeros((3, 2)), IDS=np.array(["a", "b"]))
    with pytest.raises(DataError, match="3 rows of X but 2 IDS"):
        load_embeddings(tmp_path / "len.npz")
    np.savez(tmp_path / "clash.npz", X=np.zeros((3, 2)), IDS=np.array(["a/x.wav", "a/x.wav", "b/x.au"]))
    with pytest.raises(DataError, match="both have the stem 'x'"):
        load_embeddings(tmp_path / "clash.npz").index()
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz"):
        load_embeddings(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="no such"):
        load_embeddings(tmp_path / "absent.npz")


def test_callable_source_embeds_each_tracks_audio(tmp_path):
    root = write_gtzan_fixture(tmp_path / "gtzan", per_genre=1, seconds=1)
    table = read_gtzan(root)
    seen = []

    def two_chunks(wave, sample_rate):
        seen.append((len(wave), sample_rate))
        return np.stack([wave[:100], wave[100:200]])

    emb = embed_with_callable(table, two_chunks, sample_rate=8000, progress=False)
    assert len(emb.X) == 2 * len(table) and emb.dim == 100
    assert seen[0] == (8000, 8000)  # 1 s decoded at the asked rate
    assert sorted(set(emb.ids)) == sorted(t.track_id for t in table)


# --- GTZAN ----------------------------------------------------------------------

def _genre_embeddings(table, noise, rng, chunks=3, dim=12):
    genres = sorted({t.genres[0] for t in table})
    centres = rng.normal(size=(len(genres), dim)) * 3
    X, ids = [], []
    for t in table:
        for _ in range(chunks):
            X.append(centres[genres.index(t.genres[0])] + noise * rng.normal(size=dim))
            ids.append(f"{t.genres[0]}/{t.track_id}.wav")
    return Embeddings(np.array(X), np.array(ids), description="synthetic")


def test_gtzan_protocol_end_to_end(tmp_path):
    table = read_gtzan(write_gtzan_fixture(tmp_path / "g", per_genre=4, seconds=1))
    emb = _genre_embeddings(table, 0.3, np.random.default_rng(0))
    result = run_gtzan(table, emb, runs=2, seed=5, probe=GTZAN_PROBE.with_(**FAST), progress=False)
    assert result["test_tracks_scored"] == 10  # one test track per genre in the fixture
    assert [r["seed"] for r in result["runs"]] == [5, 6]
    accs = [r["accuracy"] for r in result["runs"]]
    assert result["summary"]["accuracy"]["mean"] == pytest.approx(np.mean(accs))
    assert result["summary"]["accuracy"]["std"] == pytest.approx(np.std(accs))
    assert min(accs) >= 0.9  # well-separated genres
    assert np.array(result["confusion_matrix"]["counts"]).sum() == 2 * 10
    assert result["protocol"]["early_stopping_on"] == "valid"
    assert set(result["timings_s"]) >= {"prepare", "train", "evaluate"}


def test_gtzan_needs_training_embeddings_but_not_validation(tmp_path):
    table = read_gtzan(write_gtzan_fixture(tmp_path / "g", per_genre=4, seconds=1))
    emb = _genre_embeddings(table, 0.3, np.random.default_rng(0))
    no_train = {t.track_id for t in table if t.split == "train"}
    keep = ~np.isin([track_key(i) for i in emb.ids], list(no_train))
    with pytest.raises(DataError, match="train"):
        run_gtzan(table, Embeddings(emb.X[keep], emb.ids[keep]), runs=1, progress=False)
    valid = {t.track_id for t in table if t.split == "valid"}
    keep = ~np.isin([track_key(i) for i in emb.ids], list(valid))
    result = run_gtzan(table, Embeddings(emb.X[keep], emb.ids[keep]), runs=1,
                       probe=GTZAN_PROBE.with_(max_epochs=1), progress=False)
    assert result["protocol"]["early_stopping_on"] is None
    assert result["coverage"]["valid"]["embedded"] == 0


# --- MTG-Jamendo ------------------------------------------------------------------

def _tag_embeddings(table, rng, chunks=2, dim=16):
    tags = sorted({t for tr in table for t in tr.tags})
    proj = rng.normal(size=(len(tags), dim)) * 2
    X, ids = [], []
    for tr in table:
        hot = np.isin(tags, tr.tags).astype(float)
        for _ in range(chunks):
            X.append(hot @ proj + 0.2 * rng.normal(size=dim))
            ids.append(f"{tr.track_id}")
    return Embeddings(np.array(X), np.array(ids), description="synthetic")


def test_jamendo_protocol_end_to_end(tmp_path):
    root = write_jamendo_fixture(tmp_path / "j", n_tracks=60, audio="npy")
    table = read_jamendo(root, category="genre", audio="npy")
    emb = _tag_embeddings(table, np.random.default_rng(1))
    result = run_jamendo(table, emb, category="genre", runs=2,
                         probe=JAMENDO_PROBE.with_(**FAST), progress=False)
    assert result["tags"] == sorted({t for tr in table if tr.split == "train" for t in tr.tags})
    assert result["tracks_used"]["test"] == sum(t.split == "test" for t in table)
    rocs = [r["roc_auc"] for r in result["runs"]]
    assert result["summary"]["roc_auc"]["mean"] == pytest.approx(np.mean(rocs))
    assert min(rocs) > 0.8  # tags are linear in the embeddings
    # the macro mean is the mean over defined tags of the per-tag AUCs
    per_tag = np.array(result["per_tag"]["roc_auc_mean"], float)
    assert result["summary"]["roc_auc"]["mean"] == pytest.approx(np.nanmean(per_tag))


def test_jamendo_moodtheme_reads_the_mood_theme_tags(tmp_path):
    root = write_jamendo_fixture(tmp_path / "j", n_tracks=40, audio="npy")
    table = read_jamendo(root, category="moodtheme", audio="npy")
    emb = _tag_embeddings(table, np.random.default_rng(1))
    result = run_jamendo(table, emb, category="moodtheme", runs=1,
                         probe=JAMENDO_PROBE.with_(max_epochs=1), progress=False)
    assert result["tags"] and all(t.startswith("mood/theme---") for t in result["tags"])
    (png,) = write_plots(result, tmp_path / "plots")
    assert png.name == "jamendo_tag_auc.png" and png.read_bytes()[:4] == b"\x89PNG"
    assert "| Model | moodtheme ROC-AUC | moodtheme PR-AUC |" in markdown_table(result)
    with pytest.raises(DataError, match="unknown tag category"):
        run_jamendo(table, emb, category="mood", runs=1, progress=False)


# --- Melon continuation -----------------------------------------------------------

def _melon_table():
    """Six tracks on a circle; t4, t5 are the test set."""
    angles = {"t0": 0, "t1": 20, "t2": 90, "t3": 200, "t4": 10, "t5": 95}
    tracks = [Track(k, split="test" if k in ("t4", "t5") else "train") for k in angles]
    playlists = {"p0": ["t0", "t1", "t4"],    # seeds near t4: t4 first
                 "p1": ["t2", "t4"],          # seed nearest t5, truth t4
                 "p2": ["t0", "t3"],          # no test track: not evaluated
                 "p3": ["t5", "t4"]}          # only test tracks: no seed query
    X = np.array([[np.cos(np.deg2rad(a)), np.sin(np.deg2rad(a))] for a in angles.values()])
    return TrackTable("melon", tracks, extras={"playlists": playlists}), \
        Embeddings(X, np.array(list(angles)), description="circle")


def test_melon_protocol_hand_case():
    table, emb = _melon_table()
    result = run_melon(table, emb, k=2, per_query=1, runs=3, progress=False)
    assert result["playlists_evaluated"] == 3 and result["playlists_without_queries"] == 1
    # p0 -> [t4], truth {t4}: 1, 1; p1 -> [t5], truth {t4}: 0, 0; p3: empty: 0, 0
    assert result["summary"]["ndcg"] == pytest.approx(1 / 3)
    assert result["summary"]["map"] == pytest.approx(1 / 3)
    assert result["summary"]["random"]["ndcg"]["n"] == 3


def test_melon_all_queries_never_retrieve_themselves():
    table, emb = _melon_table()
    result = run_melon(table, emb, k=2, per_query=1, queries="all", runs=1, progress=False)
    # p3: t5 retrieves t4 and t4 retrieves t5 (self excluded): both relevant, count 1 each
    # p1: t2 -> t5 (miss); t4 -> t5 (miss)  => 0; p0: t0,t1 -> t4 (hit), t4 -> t5 (miss)
    ndcg_p0 = metrics.ndcg_at_k(["t4", "t5"], {"t4"}, 2)
    assert result["summary"]["ndcg"] == pytest.approx((ndcg_p0 + 0 + 1) / 3)


def test_melon_fixture_end_to_end(tmp_path):
    table = read_melon(write_melon_fixture(tmp_path / "m", n_tracks=60, n_playlists=40))
    rng = np.random.default_rng(0)
    emb = Embeddings(rng.normal(size=(len(table), 8)), np.array([t.track_id for t in table]))
    result = run_melon(table, emb, k=10, per_query=10, runs=2, progress=False)
    split = {t.track_id: t.split for t in table}
    file_of = table.extras["playlist_split"]

    def holding_test(files):
        return sum(any(split.get(str(s)) == "test" for s in songs)
                   for pid, songs in table.extras["playlists"].items() if file_of[pid] in files)

    # by default train.json's playlists, as the reference draws them
    assert result["protocol"]["playlist_files"] == ["train"]
    assert result["playlists_evaluated"] == holding_test({"train"})
    assert result["paper_playlists_evaluated"] == 104_410
    assert result["candidates"] == sum(t.split == "test" for t in table)
    assert 0 <= result["summary"]["ndcg"] <= 1
    every = run_melon(table, emb, k=10, per_query=10, runs=1, playlist_files=None,
                      progress=False)
    assert every["playlists_evaluated"] == holding_test({"train", "val", "test"}) \
        > result["playlists_evaluated"]
    queries = run_melon(table, emb, k=10, per_query=10, runs=1, playlist_files=["val", "test"],
                        progress=False)
    assert queries["playlists_evaluated"] == holding_test({"val", "test"})


# --- era ---------------------------------------------------------------------------

def _era_table_and_embeddings(rng, n=120):
    years = rng.integers(1960, 2010, n)
    splits = np.array(["train"] * (n * 6 // 10) + ["valid"] * (n * 2 // 10) + ["test"] * (n * 2 // 10))
    tracks = [Track(f"s{i}", split=str(s), year=int(y)) for i, (y, s) in enumerate(zip(years, splits))]
    tracks.append(Track("undated", split="test"))
    # a 2-d embedding that encodes the year smoothly
    angle = (years - 1960) / 50 * np.pi
    X = np.stack([np.cos(angle), np.sin(angle)], 1) * 5 + 0.05 * rng.normal(size=(n, 2))
    return TrackTable("era", tracks), Embeddings(X, np.array([t.track_id for t in tracks[:-1]]))


def test_era_probe_end_to_end():
    table, emb = _era_table_and_embeddings(np.random.default_rng(0))
    result = run_era(table, emb, k=3, runs=2, bin_width=5,
                     probe=ERA_PROBE.with_(max_epochs=8, patience=8, learning_rate=1e-2), progress=False)
    assert result["tracks_without_year"]["test"] == 1
    assert result["test_tracks_scored"] == 24
    s = result["summary"]
    assert s["decade_accuracy"]["mean"] > 0.5  # well above the 1/5 of chance
    assert s["within_k"]["mean"] <= s["decade_accuracy"]["mean"] + 0.3
    counts = np.array(result["confusion_matrix"]["counts"])
    assert counts.sum() == 2 * 24
    decade_acc = np.trace(counts) / counts.sum()
    assert decade_acc == pytest.approx(s["decade_accuracy"]["mean"])


class _FixedEraModel:
    """Test double of an era model: class probabilities from the mel's mean."""

    def __init__(self):
        from era_zoo.audio.presets import get_preset
        from era_zoo.models.year_bins import YearBins
        self.mel_spec = get_preset("melon48")
        self.year_bins = YearBins(1960, 2009, 10)
        self.name = "fixed"

        class _Enc:
            n_frames = 16
        self.audio_encoder = _Enc()

    def example_batch(self, n):
        return {"mel": np.zeros((n, 48, 16), np.float32), "artist_text": np.zeros((n, 4), np.int32)}

    def predict_year(self, batch):
        assert batch["artist_text"].shape == (len(batch["mel"]), 4)
        level = np.clip(np.round(batch["mel"].mean(axis=(1, 2))).astype(int), 0, 4)
        return {"probabilities": np.eye(5)[level]}


def test_era_model_route_scores_averaged_chunk_probabilities(tmp_path):
    years = [1961, 1975, 1999, 2004]
    tracks = []
    for i, y in enumerate(years):
        level = (y - 1960) // 10 if i < 3 else 0  # the last one is predicted 1960s
        mel = np.full((48, 40), float(level), np.float32)  # 2 chunks of 16 frames
        np.save(tmp_path / f"{i}.npy", mel)
        tracks.append(Track(str(i), split="test", year=y, mel_path=str(tmp_path / f"{i}.npy")))
    result = run_era(TrackTable("t", tracks), _FixedEraModel(), k=3, progress=False)
    s = result["summary"]
    # predicted centres 1964.5, 1974.5, 1994.5, 1964.5 round (half to even) to 1964, 1974, 1994, 1964
    assert s["decade_accuracy"]["mean"] == pytest.approx(3 / 4)
    assert s["exact_bin_accuracy"]["mean"] == pytest.approx(3 / 4)
    assert s["within_k"]["mean"] == pytest.approx(2 / 4)  # 1961 vs 1964 and 1975 vs 1974
    assert s["mae_years"]["mean"] == pytest.approx((3.5 + 0.5 + 4.5 + 39.5) / 4)


# --- era_zoo models as sources --------------------------------------------------------

TINY_ENCODER = {"n_frames": 64, "channels": [4, 4], "pools": [[4, 4], [4, 4]], "hidden_dim": 8}


def test_model_source_gives_one_row_per_chunk(tmp_path):
    from era_zoo.bench import embed_table
    from era_zoo.models import BaselineGenre
    table = read_melon(write_melon_fixture(tmp_path / "m", n_tracks=16, n_playlists=12))
    model = BaselineGenre(n_genres=3, encoder=TINY_ENCODER)
    emb = embed_table(table, model, level="trunk", progress=False)
    first = table.tracks[0]
    mel = np.load(first.mel_path)
    for track in table:  # non-overlapping 64-frame chunks, incomplete tail dropped
        assert (emb.ids == track.track_id).sum() == max(1, np.load(track.mel_path).shape[1] // 64)
    np.testing.assert_allclose(emb.X[emb.ids == first.track_id],
                               model.embed(mel, level="trunk")["chunks"], rtol=1e-5, atol=1e-6)
    result = run_melon(table, emb, k=5, per_query=5, runs=1, progress=False)
    assert result["candidates"] == sum(t.split == "test" for t in table)


def test_era_model_is_scored_on_its_own_predictions(tmp_path):
    from era_zoo.models import AudioCNN
    table = read_melon(write_melon_fixture(tmp_path / "m", n_tracks=20, n_playlists=5))
    model = AudioCNN(year_bins={"start": 1980, "end": 2019, "width": 5}, mel="melon48",
                     encoder={**TINY_ENCODER, "n_mels": 48})
    result = run_era(table, model, k=3, progress=False)
    dated_test = [t for t in table if t.split == "test" and t.year is not None]
    assert result["protocol"]["predictor"] == "model"
    assert result["test_tracks_scored"] == len(dated_test)
    assert result["protocol"]["year_bins"] == {"start": 1980, "end": 2019, "width": 5}
    assert 0 <= result["summary"]["exact_bin_accuracy"]["mean"] <= 1
