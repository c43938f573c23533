import numpy as np
import pytest

from era_zoo.data.stratify import iterative_stratification
from era_zoo.errors import ConfigError

FRACTIONS = (0.8, 0.1, 0.1)


def _random_multilabel(n=3000, n_labels=12, seed=0):
    """Labels of very different frequencies, 0-3 per example."""
    rng = np.random.default_rng(seed)
    freq = 0.5 / (1 + np.arange(n_labels)) ** 0.8
    hot = rng.random((n, n_labels)) < freq
    return [[f"L{j}" for j in np.flatnonzero(row)] for row in hot], hot


def test_single_label_hand_case():
    # Ten examples of one label at 80/10/10: exactly 8, 1 and 1.
    subsets = iterative_stratification([["a"]] * 10, FRACTIONS, seed=3)
    assert np.bincount(subsets, minlength=3).tolist() == [8, 1, 1]


def test_label_proportions_follow_the_fractions():
    labels, hot = _random_multilabel()
    subsets = iterative_stratification(labels, FRACTIONS, seed=0)
    totals = hot.sum(0)
    for m, frac in enumerate(FRACTIONS):
        per_label = hot[subsets == m].sum(0)
        # Every label within 2 examples of its share.
        np.testing.assert_array_less(np.abs(per_label - frac * totals), 2.0 + 1e-9)
    sizes = np.bincount(subsets, minlength=3)
    np.testing.assert_array_less(np.abs(sizes - np.array(FRACTIONS) * len(labels)), 3.0)

    # A random split of the same sizes strays much further on the rare labels.
    rng = np.random.default_rng(1)
    random_subsets = rng.permutation(subsets)
    random_dev = max(np.abs(hot[random_subsets == m].sum(0) - f * totals).max()
                     for m, f in enumerate(FRACTIONS))
    assert random_dev > 3


def test_deterministic_per_seed():
    labels, _ = _random_multilabel(n=500)
    a = iterative_stratification(labels, FRACTIONS, seed=7)
    b = iterative_stratification(labels, FRACTIONS, seed=7)
    c = iterative_stratification(labels, FRACTIONS, seed=8)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_unlabelled_examples_fill_the_sizes():
    labels = [["x"]] * 5 + [[]] * 15
    subsets = iterative_stratification(labels, (0.5, 0.25, 0.25), seed=0)
    assert np.bincount(subsets, minlength=3).tolist() == [10, 5, 5]


def test_groups_fill_small_subsets():
    # 10 artists of 4 songs, 2 artists per decade: 32/4/4 songs.
    labels = [[1960 + 10 * (k % 5)] * 4 for k in range(10)]
    subsets = iterative_stratification(labels, FRACTIONS, seed=0, sizes=[4] * 10)
    songs = np.bincount(subsets, weights=[4] * 10, minlength=3)
    assert songs.tolist() == [32, 4, 4]


def test_bad_fractions():
    with pytest.raises(ConfigError, match="fractions"):
        iterative_stratification([["a"]], (0.8, 0.3))
    with pytest.raises(ConfigError, match="sizes"):
        iterative_stratification([["a"]], (1.0,), sizes=[0])
