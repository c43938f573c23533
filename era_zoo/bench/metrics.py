"""The metrics of the downstream protocols, in NumPy, each with its formula.

Ranking (playlist continuation), with binary relevance: a retrieved item is
relevant (rel_i = 1) when it is in the ground-truth set R, else 0; positions
i count from 1; a ranked list holds distinct items.

    DCG@k  = sum_{i=1..k} rel_i / log2(i + 1)
    IDCG@k = sum_{i=1..min(k, |R|)} 1 / log2(i + 1)
    NDCG@k = DCG@k / IDCG@k

    P@i    = (1 / i) * sum_{j=1..i} rel_j
    AP@k   = (1 / min(k, |R|)) * sum_{i=1..k} P@i * rel_i
    MAP@k  = mean of AP@k over queries (playlists)

A query with an empty R scores 0 for both (it cannot be satisfied); the
protocols only evaluate queries with |R| >= 1.

Tagging: ROC-AUC is the Mann-Whitney statistic with tied scores counted a
half; PR-AUC is average precision in scikit-learn's step form,
sum_n (R_n - R_{n-1}) P_n over the distinct score thresholds. Macro averages
take the mean over tags that have both positives and negatives in the
evaluated set; the others are undefined and are counted, not averaged.

Era: years are integers. Within-k accuracy counts |predicted - true| <= k;
decade accuracy compares floor(year / 10); exact-bin accuracy compares class
indices; MAE is in years.
"""
import numpy as np

from ..errors import ConfigError


def _hits(ranked, relevant, k):
    ranked = list(ranked)[:k]
    relevant = set(relevant)
    return np.array([item in relevant for item in ranked], dtype=np.float64)


def _discounts(k):
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(ranked, relevant, k=100):
    """NDCG@k of one ranked list (binary relevance; see the module docstring)."""
    n_rel = len(set(relevant))
    if n_rel == 0:
        return 0.0
    hits = _hits(ranked, relevant, k)
    disc = _discounts(k)
    return float((hits * disc[: len(hits)]).sum() / disc[: min(k, n_rel)].sum())


def average_precision_at_k(ranked, relevant, k=100):
    """AP@k of one ranked list, normalised by min(k, |R|)."""
    n_rel = len(set(relevant))
    if n_rel == 0:
        return 0.0
    hits = _hits(ranked, relevant, k)
    precision_at_i = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at_i * hits).sum() / min(k, n_rel))


def ranking_scores(hits, n_relevant, k=100):
    """NDCG@k and AP@k of many lists at once.

    ``hits``: (n_queries, L) bool/0-1 matrix, hits[q, i] = rel of position
    i + 1 (L <= k; shorter lists are padded with zeros by the caller);
    ``n_relevant``: (n_queries,) sizes of the ground-truth sets. Returns two
    (n_queries,) arrays; queries with n_relevant == 0 score 0.
    """
    hits = np.asarray(hits, dtype=np.float64)[:, :k]
    n_relevant = np.asarray(n_relevant, dtype=np.int64)
    disc = _discounts(k)
    ideal_cum = np.concatenate([[0.0], np.cumsum(disc)])
    n_ideal = np.minimum(n_relevant, k)
    safe = np.maximum(n_ideal, 1)
    ndcg = (hits * disc[: hits.shape[1]]).sum(1) / ideal_cum[safe]
    precision = np.cumsum(hits, 1) / np.arange(1, hits.shape[1] + 1)
    ap = (precision * hits).sum(1) / safe
    empty = n_ideal == 0
    ndcg[empty] = 0.0
    ap[empty] = 0.0
    return ndcg, ap


def _average_ranks(values):
    """1-based ranks of ``values`` with ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_vals)) + 1]
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def roc_auc(y_true, scores):
    """ROC-AUC of one binary label: P(score_pos > score_neg) + 0.5 P(tie).

    Returns NaN when y_true is all one class (undefined).
    """
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(scores)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y_true, scores):
    """Average precision of one binary label (scikit-learn's definition).

    Returns NaN when y_true has no positive.
    """
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos = int(y_true.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    y_sorted = y_true[order]
    s_sorted = scores[order]
    # one point per distinct threshold: the last index of each run of ties
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def macro_tag_scores(y_true, scores):
    """Per-tag ROC-AUC and PR-AUC and their macro means.

    ``y_true`` (n, T) 0/1, ``scores`` (n, T). Returns a dict with
    ``roc_auc``/``pr_auc`` (macro means over defined tags), ``per_tag_roc_auc``,
    ``per_tag_pr_auc`` (lists, NaN where undefined) and ``undefined_tags``
    (indices of tags lacking positives or negatives).
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    if y_true.shape != scores.shape or y_true.ndim != 2:
        raise ConfigError("scores", f"labels {y_true.shape} and scores {scores.shape} must be "
                                    "the same (n, tags) shape")
    roc = np.array([roc_auc(y_true[:, t], scores[:, t]) for t in range(y_true.shape[1])])
    pr = np.array([pr_auc(y_true[:, t], scores[:, t]) for t in range(y_true.shape[1])])
    undefined = np.flatnonzero(np.isnan(roc))
    defined = ~np.isnan(roc)
    return {
        "roc_auc": float(roc[defined].mean()) if defined.any() else float("nan"),
        "pr_auc": float(pr[defined].mean()) if defined.any() else float("nan"),
        "per_tag_roc_auc": roc.tolist(),
        "per_tag_pr_auc": pr.tolist(),
        "undefined_tags": undefined.tolist(),
    }


def accuracy(y_true, y_pred):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if len(y_true) == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def majority_vote(chunk_predictions, chunk_track, n_classes):
    """Per-track class by majority over its chunks' predicted classes.

    Ties go to the class whose chunk probabilities sum highest when
    ``chunk_predictions`` is (n_chunks, n_classes) probabilities; with hard
    labels (n_chunks,) ties go to the lowest class index. Returns
    (track ids sorted, predicted class per track).
    """
    chunk_predictions = np.asarray(chunk_predictions)
    chunk_track = np.asarray(chunk_track)
    tracks, inverse = np.unique(chunk_track, return_inverse=True)
    if chunk_predictions.ndim == 2:
        hard = chunk_predictions.argmax(1)
        prob_sum = np.zeros((len(tracks), n_classes))
        np.add.at(prob_sum, inverse, chunk_predictions)
    else:
        hard = chunk_predictions.astype(np.int64)
        prob_sum = np.zeros((len(tracks), n_classes))
    votes = np.zeros((len(tracks), n_classes))
    np.add.at(votes, (inverse, hard), 1.0)
    # votes dominate; the probability sum (< 1 per chunk, scaled below one vote) breaks ties
    scale = prob_sum.max() + 1.0 if prob_sum.size else 1.0
    return tracks, (votes + prob_sum / scale / 2).argmax(1)


def decade(years):
    return np.floor_divide(np.asarray(years, dtype=np.int64), 10) * 10


def period_of(years, periods):
    """Index of the period each year falls in.

    Args:
        years: array-like of years.
        periods: ``(name, first, end)`` triples in order, ``first`` included,
            ``end`` excluded, None for an open end (e.g.
            ``era_zoo.data.demo.composers.ERAS``).

    Example:
        >>> periods = (("early", None, 1600), ("late", 1600, None))
        >>> period_of([1599, 1600], periods).tolist()
        [0, 1]
    """
    years = np.asarray(years, dtype=np.float64)
    out = np.full(years.shape, -1, np.int64)
    for i, (_, first, end) in enumerate(periods):
        inside = np.ones(years.shape, bool)
        if first is not None:
            inside &= years >= first
        if end is not None:
            inside &= years < end
        out[(out < 0) & inside] = i
    if (out < 0).any():
        raise ConfigError("periods", f"year {years[out < 0][0]:.0f} is in no period")
    return out


def era_scores(true_years, pred_years, k=3, true_class=None, pred_class=None, *,
               wide_k=None, periods=None, expected_years=None):
    """Era metrics of paper A plus MAE, and what suits coarser labels.

    Args:
        true_years: (n,) labels.
        pred_years: (n,) predicted years (the headline: the most probable
            class's year).
        k: paper A's tolerance in years.
        true_class, pred_class: class indices, for ``exact_bin_accuracy``.
        wide_k: a second tolerance fitting the labels' precision (the demo's
            composer-level labels: 25 years), for ``within_wide_k``.
        periods: ``(name, first, end)`` style periods, for ``period_accuracy``.
        expected_years: (n,) probability-weighted years, reported beside the
            headline as ``within_k_expected`` and ``mae_years_expected``.

    Returns:
        ``within_k`` (fraction with |pred - true| <= k years, after rounding
        the prediction to the nearest year), ``decade_accuracy``,
        ``mae_years``, ``n``, and each optional score asked for.

    Example:
        >>> era_scores([1900, 1950], [1902, 1990], k=3, wide_k=25)["within_wide_k"]
        0.5
    """
    true_years = np.asarray(true_years, dtype=np.float64)
    pred_years = np.asarray(pred_years, dtype=np.float64)
    if true_years.shape != pred_years.shape:
        raise ConfigError("pred_years", f"true years {true_years.shape} and predictions "
                                        f"{pred_years.shape} differ in shape")
    if len(true_years) == 0:
        raise ConfigError("true_years", "no tracks to score")
    rounded = np.rint(pred_years)
    out = {
        "k": int(k),
        "within_k": float(np.mean(np.abs(rounded - true_years) <= k)),
        "decade_accuracy": float(np.mean(decade(rounded) == decade(true_years))),
        "mae_years": float(np.mean(np.abs(pred_years - true_years))),
        "n": int(len(true_years)),
    }
    if wide_k is not None:
        out["wide_k"] = int(wide_k)
        out["within_wide_k"] = float(np.mean(np.abs(rounded - true_years) <= wide_k))
    if periods is not None:
        out["period_accuracy"] = float(np.mean(period_of(rounded, periods)
                                               == period_of(true_years, periods)))
    if expected_years is not None:
        expected = np.asarray(expected_years, dtype=np.float64)
        out["within_k_expected"] = float(np.mean(np.abs(np.rint(expected) - true_years) <= k))
        out["mae_years_expected"] = float(np.mean(np.abs(expected - true_years)))
    if true_class is not None and pred_class is not None:
        out["exact_bin_accuracy"] = accuracy(true_class, pred_class)
    return out


def confusion_matrix(y_true, y_pred, labels):
    """Counts matrix, rows = true label, columns = predicted, in ``labels`` order."""
    index = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        m[index[t], index[p]] += 1
    return m
