"""Metrics of the downstream protocols against hand-computed values and
scikit-learn; exact nearest-neighbour search against brute force."""
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from era_zoo.bench import metrics
from era_zoo.bench.knn import cosine_top_k
from era_zoo.bench.melon import continue_playlists, random_continuations, score_continuations

L3 = 1 / math.log2(3)  # discount of position 2
L5 = 1 / math.log2(5)  # discount of position 4


def test_ndcg_and_ap_hand_computed():
    ranked, relevant = ["a", "b", "c", "d"], {"b", "d", "x"}
    # DCG = 1/log2(3) + 1/log2(5); IDCG over min(4, 3) = 3 positions
    assert metrics.ndcg_at_k(ranked, relevant, 4) == pytest.approx((L3 + L5) / (1 + L3 + 0.5))
    assert metrics.ndcg_at_k(ranked, relevant, 4) == pytest.approx(0.498189, abs=1e-6)
    # hits at 2 and 4: (P@2 + P@4) / min(4, 3) = (1/2 + 2/4) / 3
    assert metrics.average_precision_at_k(ranked, relevant, 4) == pytest.approx(1 / 3)


def test_cut_off_truncates_list_and_ideal():
    ranked, relevant = ["a", "b", "c", "d"], {"b", "d", "x"}
    assert metrics.ndcg_at_k(ranked, relevant, 2) == pytest.approx(L3 / (1 + L3))
    assert metrics.average_precision_at_k(ranked, relevant, 2) == pytest.approx(0.5 / 2)


def test_perfect_and_empty_rankings():
    assert metrics.ndcg_at_k([1, 2], {1, 2}, 100) == pytest.approx(1.0)
    assert metrics.average_precision_at_k([1, 2, 9], {1, 2}, 100) == pytest.approx(1.0)
    assert metrics.ndcg_at_k([1, 2], set(), 100) == 0.0
    assert metrics.average_precision_at_k([], {1}, 100) == 0.0


def test_vectorised_ranking_scores_match_scalar():
    rng = np.random.default_rng(0)
    lists = [rng.choice(30, 10, replace=False) for _ in range(40)]
    truths = [set(rng.choice(30, int(rng.integers(0, 6)), replace=False)) for _ in range(40)]
    hits = np.array([[x in t for x in lst] for lst, t in zip(lists, truths)])
    ndcg, ap = metrics.ranking_scores(hits, [len(t) for t in truths], k=10)
    for i, (lst, t) in enumerate(zip(lists, truths)):
        assert ndcg[i] == pytest.approx(metrics.ndcg_at_k(lst, t, 10))
        assert ap[i] == pytest.approx(metrics.average_precision_at_k(lst, t, 10))


def test_roc_and_pr_auc_hand_case():
    y, s = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    assert metrics.roc_auc(y, s) == pytest.approx(0.75)
    # ranked 0.8(+) 0.4(-) 0.35(+) 0.1(-): 0.5 * 1 + 0.5 * 2/3
    assert metrics.pr_auc(y, s) == pytest.approx(0.5 + 1 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_and_pr_auc_match_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300), 1)  # many ties
    assert metrics.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert metrics.pr_auc(y, s) == pytest.approx(average_precision_score(y, s))


def test_macro_tag_scores_skip_undefined_tags():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (50, 4))
    y[:, 2] = 0  # no positive: undefined
    s = rng.random((50, 4))
    out = metrics.macro_tag_scores(y, s)
    assert out["undefined_tags"] == [2]
    defined = [0, 1, 3]
    assert out["roc_auc"] == pytest.approx(np.mean([roc_auc_score(y[:, t], s[:, t]) for t in defined]))
    assert out["pr_auc"] == pytest.approx(
        np.mean([average_precision_score(y[:, t], s[:, t]) for t in defined]))
    assert math.isnan(out["per_tag_roc_auc"][2])


def test_majority_vote_counts_then_breaks_ties_by_probability():
    probs = np.array([[0.9, 0.1, 0.0],   # track 7: votes 0, 1, 1 -> 1
                      [0.4, 0.6, 0.0],
                      [0.3, 0.7, 0.0],
                      [0.6, 0.4, 0.0],   # track 3: votes 0, 2 tie; prob sums 0.6+0.1 vs 0.0+0.9
                      [0.1, 0.0, 0.9]])
    tracks, pred = metrics.majority_vote(probs, [7, 7, 7, 3, 3], 3)
    assert tracks.tolist() == [3, 7]
    assert pred.tolist() == [2, 1]


def test_era_scores_hand_computed():
    true = [1990, 1995, 2001, 1979]
    pred = [1992.4, 1999, 2000.6, 1981]  # rounded 1992, 1999, 2001, 1981: errors 2, 4, 0, 2
    out = metrics.era_scores(true, pred, k=3, true_class=[0, 1, 2, 3], pred_class=[0, 2, 2, 3])
    assert out["within_k"] == pytest.approx(3 / 4)
    assert out["decade_accuracy"] == pytest.approx(3 / 4)  # 1979 -> 1981 crosses a decade
    assert out["mae_years"] == pytest.approx((2.4 + 4 + 0.4 + 2) / 4)
    assert out["exact_bin_accuracy"] == pytest.approx(3 / 4)
    assert metrics.era_scores(true, pred, k=0)["within_k"] == pytest.approx(1 / 4)


def test_confusion_matrix_rows_true_columns_predicted():
    cm = metrics.confusion_matrix([1990, 1990, 2000], [1990, 2000, 2000], [1990, 2000])
    assert cm.tolist() == [[1, 1], [0, 1]]


@pytest.mark.parametrize("block", [1, 7, 1000])
def test_blocked_search_matches_brute_force(block):
    rng = np.random.default_rng(0)
    q, c = rng.normal(size=(23, 6)), rng.normal(size=(150, 6))
    idx, sim = cosine_top_k(q, c, k=10, block_size=block)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    cn = c / np.linalg.norm(c, axis=1, keepdims=True)
    full = qn @ cn.T
    expected = np.argsort(-full, axis=1, kind="stable")[:, :10]
    assert (idx == expected).all()
    np.testing.assert_allclose(sim, np.take_along_axis(full, expected, 1), rtol=1e-5)


def test_search_excludes_the_named_candidate_and_clips_k():
    c = np.eye(3, dtype=np.float32)
    idx, _ = cosine_top_k(c, c, k=5, exclude=np.array([0, -1, 2]))
    assert idx.shape == (3, 2)
    assert 0 not in idx[0] and idx[1, 0] == 1 and 2 not in idx[2]


def test_continuation_ranks_by_count_then_similarity():
    # candidates on the unit circle; queries near some of them
    angles = np.deg2rad([0, 10, 90, 100, 180])
    cand = np.stack([np.cos(angles), np.sin(angles)], 1)
    queries = np.stack([np.cos(np.deg2rad([1, 8, 94])), np.sin(np.deg2rad([1, 8, 94]))], 1)
    # per_query=2: q0 -> 0, 1; q1 -> 1, 0; q2 -> 2, 3
    out = continue_playlists([np.array([0, 1, 2]), np.array([2]), np.array([], np.int64)],
                             queries, cand, k=4, per_query=2)
    # playlist 0: counts 0:2, 1:2, 2:1, 3:1; similarity sums break the ties:
    # 0: cos 1 + cos 8 = 1.9901 > 1: cos 9 + cos 2 = 1.9871; 2: cos 4 > 3: cos 6
    assert out[0].tolist() == [0, 1, 2, 3]
    assert out[1].tolist() == [2, 3, -1, -1]
    assert out[2].tolist() == [-1, -1, -1, -1]


def test_score_continuations_matches_scalar_metrics():
    cont = np.array([[4, 2, 9, -1], [1, 0, 3, 2]])
    truth = [np.array([2, 9]), np.array([5])]
    n_rel = np.array([3, 1])  # playlist 0 has one more test track that cannot be retrieved
    ndcg, ap = score_continuations(cont, truth, n_rel, k=4)
    relevant0 = {2, 9, "unretrievable"}
    assert ndcg[0] == pytest.approx(metrics.ndcg_at_k([4, 2, 9], relevant0, 4))
    assert ap[0] == pytest.approx(metrics.average_precision_at_k([4, 2, 9], relevant0, 4))
    assert ndcg[1] == 0 and ap[1] == 0


def test_random_continuations_are_distinct_and_in_range():
    out = random_continuations(200, 30, 25, np.random.default_rng(0))
    assert out.shape == (200, 25)
    assert out.min() >= 0 and out.max() < 30
    assert all(len(set(row)) == 25 for row in out.tolist())
