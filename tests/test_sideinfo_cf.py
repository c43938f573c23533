"""Playlist CF vectors: layout, training-split-only fitting, fold-in, seeding,
the disk cache and the explicit handling of tracks without playlists."""
import numpy as np
import pytest

from era_zoo.data.table import Track, TrackTable
from era_zoo.errors import ConfigError, DataError
from era_zoo.sideinfo import cf as cf_module
from era_zoo.sideinfo.cf import CFVectors, playlist_cf_vectors

FAST = dict(factors=8, epochs=5, fold_in_steps=20, progress=False)


def clustered_playlists(n_tracks=90, n_playlists=80, n_clusters=3, per_playlist=10, seed=0):
    """Playlists drawn from one cluster of tracks each: co-listed tracks share a cluster."""
    rng = np.random.default_rng(seed)
    cluster = np.arange(n_tracks) % n_clusters
    playlists = {}
    for p in range(n_playlists):
        members = np.flatnonzero(cluster == p % n_clusters)
        playlists[f"p{p}"] = [f"t{t}" for t in rng.choice(members, per_playlist, replace=False)]
    return playlists, {f"t{t}": int(c) for t, c in enumerate(cluster)}


def test_paper_layout_is_300_factors_plus_bias():
    playlists, _ = clustered_playlists(n_tracks=30, n_playlists=20)
    train = [f"t{t}" for t in range(30)]
    bpr = playlist_cf_vectors(playlists, train, factors=300, epochs=2, progress=False)
    assert bpr.vectors.shape == (30, 301) and bpr.vectors.dtype == np.float32
    assert bpr.has_vector.all()
    als = playlist_cf_vectors(playlists, train, method="als", factors=300, epochs=2,
                              progress=False)
    assert als.vectors.shape == (30, 301)
    # ALS learns no item bias: the appended bias column is exactly zero.
    assert np.all(als.vectors[:, -1] == 0) and np.any(als.vectors[:, :-1] != 0)


def test_same_seed_identical_other_seed_different():
    playlists, _ = clustered_playlists()
    train = [f"t{t}" for t in range(60)]
    a = playlist_cf_vectors(playlists, train, seed=3, **FAST)
    b = playlist_cf_vectors(playlists, train, seed=3, **FAST)
    c = playlist_cf_vectors(playlists, train, seed=4, **FAST)
    assert a.track_ids == b.track_ids
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, c.vectors)


def test_non_training_tracks_never_change_the_factors():
    playlists, _ = clustered_playlists()
    train = {f"t{t}" for t in range(60)}
    only_train = {p: [t for t in tids if t in train] for p, tids in playlists.items()}
    # A playlist of held-out tracks only, too: it must not become a row.
    with_heldout = dict(playlists, extra=["t61", "t62", "t89"])
    full = playlist_cf_vectors(with_heldout, sorted(train), **FAST)
    reference = playlist_cf_vectors(only_train, sorted(train), **FAST)
    vectors, mask = full.lookup(sorted(train))
    expected, expected_mask = reference.lookup(sorted(train))
    np.testing.assert_array_equal(vectors, expected)
    np.testing.assert_array_equal(mask, expected_mask)
    assert full.counts["fitted"] == 60 and full.counts["folded_in"] == 30


def test_folded_in_tracks_land_among_their_cluster():
    playlists, cluster = clustered_playlists()
    train = [f"t{t}" for t in range(60)]
    cf = playlist_cf_vectors(playlists, train, factors=16, epochs=30, progress=False)
    held_out = [t for t in cf.track_ids if t not in set(train)]
    assert len(held_out) == 30 and all(cf.source[cf.track_ids.index(t)] == "folded_in"
                                       for t in held_out)
    fitted, _ = cf.lookup(train)
    queries, mask = cf.lookup(held_out)
    assert mask.all()
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)
    nearest = np.argsort(-unit(queries) @ unit(fitted).T, axis=1)[:, :5]
    same = np.array([[cluster[train[j]] == cluster[q] for j in row]
                     for q, row in zip(held_out, nearest)])
    assert same.mean() > 0.9   # chance is 1/3


def test_tracks_without_playlists_are_zero_masked_and_counted_by_split():
    playlists, _ = clustered_playlists(n_tracks=30, n_playlists=20)
    listed = {t for tids in playlists.values() for t in tids}
    tracks = []
    for t in range(30):
        split = "train" if t < 24 else "valid"
        tracks.append(Track(f"t{t}", split=split,
                            playlists=tuple(p for p, tids in playlists.items() if f"t{t}" in tids)))
    tracks += [Track("lonely_train", split="train"), Track("lonely_test", split="test"),
               Track("lonely_valid", split="valid")]
    table = TrackTable("toy", tracks)         # no extras: playlists come from Track.playlists
    cf = playlist_cf_vectors(table, **FAST)
    assert cf.track_ids == [t.track_id for t in tracks]
    assert len(listed) == 30
    assert cf.counts["without_playlists"] == 3
    assert cf.counts["without_playlists_by_split"] == {"train": 1, "test": 1, "valid": 1}
    assert cf.counts["fitted"] == 24 and cf.counts["folded_in"] == 6
    lonely = [cf.track_ids.index(t) for t in ("lonely_train", "lonely_test", "lonely_valid")]
    assert not cf.has_vector[lonely].any() and np.all(cf.vectors[lonely] == 0)
    assert cf.has_vector.sum() == 30
    assert "3 without playlists" in cf.summary()


def test_melon_tables_fit_on_train_json_playlists_by_default():
    """The reference fits on train.json's playlists; val.json and test.json
    (the challenge's query playlists) are an option."""
    playlists, _ = clustered_playlists(n_tracks=40, n_playlists=30)
    file_of = {p: ("train", "train", "val", "test")[i % 4] for i, p in enumerate(playlists)}
    tracks = [Track(f"t{t}", split="train" if t < 30 else "test") for t in range(40)]
    table = TrackTable("melon", tracks, extras={"playlists": playlists,
                                                 "playlist_split": file_of})
    train_ids = [f"t{t}" for t in range(30)]
    order = [t.track_id for t in tracks]

    def fitted_on(files):
        chosen = {p: tids for p, tids in playlists.items() if file_of[p] in files}
        return playlist_cf_vectors(chosen, train_ids, track_ids=order, **FAST)

    default = playlist_cf_vectors(table, **FAST)
    assert default.settings["playlist_files"] == ["train"]
    assert default.settings["playlists"] == 16
    np.testing.assert_array_equal(default.vectors, fitted_on({"train"}).vectors)
    assert "from 16 playlists (train.json)" in default.summary()

    every = playlist_cf_vectors(table, playlist_files=None, **FAST)
    assert every.settings["playlist_files"] is None and every.settings["playlists"] == 30
    np.testing.assert_array_equal(every.vectors, fitted_on({"train", "val", "test"}).vectors)
    both = playlist_cf_vectors(table, playlist_files=["val", "train"], **FAST)
    assert both.settings["playlist_files"] == ["train", "val"]
    np.testing.assert_array_equal(both.vectors, fitted_on({"train", "val"}).vectors)

    with pytest.raises(ConfigError, match=r"playlist_files.*'valid'.*test, train, val"):
        playlist_cf_vectors(table, playlist_files=["valid"], **FAST)


def test_second_call_loads_from_cache(tmp_path, monkeypatch):
    playlists, _ = clustered_playlists()
    train = [f"t{t}" for t in range(60)]
    first = playlist_cf_vectors(playlists, train, cache_dir=tmp_path, **FAST)
    assert first.counts["cache"]["hit"] is False

    def no_refit(*args, **kwargs):
        raise AssertionError("refitted although the cache holds this result")

    monkeypatch.setattr(cf_module, "_fit", no_refit)
    # Same content in another dict order: same key.
    shuffled = {p: list(reversed(tids)) for p, tids in reversed(list(playlists.items()))}
    second = playlist_cf_vectors(shuffled, list(reversed(train)), cache_dir=tmp_path, **FAST)
    assert second.counts["cache"]["hit"] is True
    np.testing.assert_array_equal(second.lookup(train)[0], first.lookup(train)[0])
    # Other settings or other data miss the cache (and would refit).
    with pytest.raises(AssertionError, match="refitted"):
        playlist_cf_vectors(playlists, train, cache_dir=tmp_path, **dict(FAST, seed=1))
    with pytest.raises(AssertionError, match="refitted"):
        playlist_cf_vectors(dict(playlists, p0=["t0", "t1"]), train, cache_dir=tmp_path, **FAST)
    # A damaged entry is an error naming its folder, not a silent refit.
    entry = tmp_path / f"cf-{first.counts['cache']['key']}"
    (entry / "vectors.npy").write_bytes(b"not an array")
    with pytest.raises(DataError, match=entry.name):
        playlist_cf_vectors(playlists, train, cache_dir=tmp_path, **FAST)


def test_save_load_round_trip_and_bad_files(tmp_path):
    playlists, _ = clustered_playlists(n_tracks=30, n_playlists=20)
    cf = playlist_cf_vectors(playlists, [f"t{t}" for t in range(20)], **FAST)
    path = cf.save(tmp_path / "cf.npz")
    back = CFVectors.load(path)
    assert back.track_ids == cf.track_ids and back.settings == cf.settings
    np.testing.assert_array_equal(back.vectors, cf.vectors)
    np.testing.assert_array_equal(back.has_vector, cf.has_vector)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="other.npz"):
        CFVectors.load(tmp_path / "other.npz")
    with pytest.raises(DataError, match="missing.npz"):
        CFVectors.load(tmp_path / "missing.npz")


def test_bad_arguments_name_the_field():
    playlists, _ = clustered_playlists(n_tracks=30, n_playlists=20)
    with pytest.raises(ConfigError, match="method"):
        playlist_cf_vectors(playlists, ["t0"], method="warp")
    with pytest.raises(ConfigError, match="train_track_ids"):
        playlist_cf_vectors(playlists)
    with pytest.raises(DataError, match="no playlist holds a training-split track"):
        playlist_cf_vectors(playlists, ["not-a-track"], **FAST)
