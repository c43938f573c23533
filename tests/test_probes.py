"""Probe runs trained together (grouped) against one Keras fit per run (the
reference statement of the same probe)."""
import numpy as np
import pytest

from era_zoo.bench.probes import GTZAN_PROBE, JAMENDO_PROBE, ProbeConfig, train_probes
from era_zoo.errors import ConfigError


def _classes(rng, *sizes, dim=8, classes=3, noise=1.2):
    """Splits of one problem: Gaussian classes around shared centres."""
    centres = rng.normal(size=(classes, dim)) * 1.5
    splits = []
    for n in sizes:
        y = rng.integers(0, classes, n)
        splits += [(centres[y] + noise * rng.normal(size=(n, dim))).astype(np.float32), y]
    return splits


def _tags(rng, *sizes, dim=8, tags=4):
    """Splits of one multi-label problem: tags thresholded from a linear map."""
    proj = rng.normal(size=(dim, tags))
    splits = []
    for n in sizes:
        x = rng.normal(size=(n, dim)).astype(np.float32)
        splits += [x, (x @ proj + 1.5 * rng.normal(size=(n, tags)) > 0.5).astype(np.float32)]
    return splits


def _compare_runs(a, b, atol):
    assert a.epochs == b.epochs
    assert a.best_epochs == b.best_epochs
    for ha, hb in zip(a.val_loss, b.val_loss):
        np.testing.assert_allclose(ha, hb, atol=atol)


@pytest.mark.parametrize("config, problem", [
    (GTZAN_PROBE.with_(hidden=(16,)), _classes),
    (JAMENDO_PROBE.with_(hidden=(12, 6), dropout=0.0), _tags)],
    ids=["softmax", "sigmoid-batchnorm"])
def test_full_batch_runs_follow_keras_fit_epoch_by_epoch(config, problem):
    """With one batch per epoch, shuffling changes nothing, so each grouped
    run must retrace its Keras fit: same initial weights (drawn by Keras
    under the run's seed), loss, Adam steps, batch-norm statistics and early
    stopping (the runs stop at different epochs and keep their best one)."""
    rng = np.random.default_rng(0)
    x, y, xv, yv = problem(rng, 160, 80)
    config = config.with_(batch_size=1000, max_epochs=40, patience=4, learning_rate=3e-2)
    grouped = train_probes(config, x, y, xv, yv, seeds=[0, 1])
    separate = train_probes(config.with_(grouped=False), x, y, xv, yv, seeds=[0, 1])
    assert len(set(grouped.epochs)) > 1 and max(grouped.epochs) < 40  # early stopping differs per run
    _compare_runs(grouped, separate, atol=1e-5)
    np.testing.assert_allclose(grouped.predict(xv), separate.predict(xv), atol=1e-4)


def test_a_run_does_not_depend_on_the_runs_trained_with_it():
    """Run s in a group of four equals run s trained alone: its shuffling and
    dropout streams, Adam and batch-norm state and early stopping are its
    own, also after other runs have stopped and left the group."""
    rng = np.random.default_rng(1)
    x, y, xv, yv = _tags(rng, 300, 100)
    config = JAMENDO_PROBE.with_(hidden=(12, 6), batch_size=32, max_epochs=40, patience=3,
                                 learning_rate=1e-2)
    group = train_probes(config, x, y, xv, yv, seeds=[5, 6, 7, 8])
    assert len(set(group.epochs)) > 1
    for pos in (0, 2):
        alone = train_probes(config, x, y, xv, yv, seeds=[group.seeds[pos]])
        assert alone.epochs[0] == group.epochs[pos]
        assert alone.best_epochs[0] == group.best_epochs[pos]
        np.testing.assert_allclose(alone.val_loss[0], group.val_loss[pos], atol=1e-5)
        np.testing.assert_allclose(alone.predict(xv)[0], group.predict(xv)[pos], atol=1e-4)


def test_grouped_and_separate_runs_agree_in_distribution():
    """Mini-batches: the two paths draw different shuffles, so runs differ
    one by one; over 6 runs each, mean accuracy agrees within 0.03 (the
    runs' spread here is about 0.008, so a few standard errors of the
    difference), the spreads are alike and early stopping happens at
    similar epochs (means within 30 %). Different seeds give different runs
    on both paths."""
    rng = np.random.default_rng(2)
    x, y, xv, yv, xt, yt = _classes(rng, 480, 160, 400)
    config = GTZAN_PROBE.with_(hidden=(32,), batch_size=64, max_epochs=40, patience=3,
                               learning_rate=1e-2)
    seeds = list(range(6))
    stats = {}
    for grouped in (True, False):
        runs = train_probes(config.with_(grouped=grouped), x, y, xv, yv, seeds=seeds)
        acc = (runs.predict(xt).argmax(-1) == yt).mean(axis=1)
        stats[grouped] = (acc, np.array(runs.epochs))
        assert len(set(np.round(acc, 6))) > 1  # each seed its own run
    (acc_g, ep_g), (acc_s, ep_s) = stats[True], stats[False]
    assert abs(acc_g.mean() - acc_s.mean()) <= 0.03
    assert 0.33 <= (acc_g.std() + 1e-3) / (acc_s.std() + 1e-3) <= 3.0
    assert abs(ep_g.mean() - ep_s.mean()) <= 0.3 * ep_s.mean()


def test_without_validation_every_run_trains_max_epochs():
    rng = np.random.default_rng(3)
    x, y = _classes(rng, 90)
    runs = train_probes(GTZAN_PROBE.with_(hidden=(8,), max_epochs=3), x, y, seeds=[1, 2])
    assert runs.epochs == [3, 3] and runs.best_epochs == [None, None]
    probs = runs.predict(x[:7])
    assert probs.shape == (2, 7, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    # an empty validation set is no validation set
    empty = train_probes(GTZAN_PROBE.with_(hidden=(8,), max_epochs=2), x, y, x[:0], y[:0], seeds=[1])
    assert empty.epochs == [2] and empty.best_epochs == [None]


def test_bad_probe_settings_name_the_field():
    with pytest.raises(ConfigError, match="seeds"):
        train_probes(GTZAN_PROBE, np.zeros((4, 2)), [0, 1, 0, 1], seeds=[])
    with pytest.raises(ConfigError, match="probe.dropout"):
        ProbeConfig(dropout=1.0)
    with pytest.raises(ConfigError, match="probe.hidden"):
        ProbeConfig(hidden=())
