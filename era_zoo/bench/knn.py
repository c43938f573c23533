"""Exact cosine nearest neighbours, blocked.

The similarity matrix of all queries against all candidates would not fit in
memory at Melon scale (65,000 x 65,000 floats is 17 GB), so queries go through
in blocks: one matrix multiply per block, then the top k of each row.

Selecting the top k: ``argpartition`` over a whole block returns an int64
index for every similarity (8 bytes per entry, 0.5 GB for 1,024 x 65,000) and
was the slowest step by far. Instead each row gets a threshold from a sample
of its similarities (the candidates are visited in a fixed random order, so
the first ``sample`` columns are a uniform sample): a value that about
``oversample`` x k of the row's similarities exceed. Only entries at or above
it are gathered and ranked; a row where fewer than k pass is ranked in full.
The result is exact either way (no approximate index), so scores do not
depend on index parameters the way Annoy's do.
"""
import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError


def l2_normalise(x):
    """Rows scaled to unit length; all-zero rows stay zero (similarity 0 to all)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _rank_rows(rows, cols, vals, n_rows, k):
    """Top k (cols, vals) per row from flat (row, col, val) entries; every
    row must have at least k entries. Best first, ties by lower column."""
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    take = (starts[:, None] + np.arange(k)).ravel()
    return cols[take].reshape(n_rows, k), vals[take].reshape(n_rows, k)


def _partition_rows(sims, k):
    """Top k per row by argpartition (unordered); for small blocks only."""
    nc = sims.shape[1]
    idx = np.argpartition(sims, nc - k, axis=1)[:, nc - k:]
    return idx, np.take_along_axis(sims, idx, 1)


def _top_k_block(sims, k, sample, oversample):
    """(indices, values) of the k largest entries of each row of ``sims``
    (order within the k: unspecified)."""
    n_rows, nc = sims.shape
    if sample >= nc:
        return _partition_rows(sims, k)
    idx = np.empty((n_rows, k), np.int64)
    val = np.empty((n_rows, k), np.float32)
    j = min(sample, max(1, int(np.ceil(oversample * k * sample / nc))))
    threshold = np.partition(sims[:, :sample], sample - j, axis=1)[:, sample - j]
    passed = sims >= threshold[:, None]
    enough = passed.sum(1) >= k
    passed[~enough] = False
    rows, cols = np.nonzero(passed)
    sub = np.flatnonzero(enough)
    if len(sub):
        i, v = _rank_rows(np.searchsorted(sub, rows), cols, sims[rows, cols], len(sub), k)
        idx[sub], val[sub] = i, v
    rest = np.flatnonzero(~enough)  # rare: thresholds that let fewer than k through
    if len(rest):
        idx[rest], val[rest] = _partition_rows(sims[rest], k)
    return idx, val


def cosine_top_k(queries, candidates, k=100, block_size=1024, exclude=None, progress=False,
                 sample=4096, oversample=3.0, seed=0):
    """Indices and cosine similarities of each query's k most similar candidates.

    ``queries`` (nq, d), ``candidates`` (nc, d). Returns (indices int32 (nq, k'),
    similarities float32 (nq, k')), best first, k' = min(k, nc). Within the
    returned k, ties keep the lower candidate index first (which of several
    candidates tied at the k-th place gets in is unspecified). ``exclude`` (optional, (nq,) int array,
    -1 for none) names one candidate per query that may not be returned, e.g.
    the query itself when queries and candidates overlap. ``sample``,
    ``oversample`` and ``seed`` tune the speed of the selection only.
    """
    q = l2_normalise(queries)
    c = l2_normalise(candidates)
    if q.shape[1] != c.shape[1]:
        raise ConfigError("candidates", f"queries have {q.shape[1]} dimensions, "
                                        f"candidates {c.shape[1]}")
    nq, nc = len(q), len(c)
    k_eff = min(k, nc - (1 if exclude is not None else 0))
    if k_eff <= 0 or nq == 0:
        return np.zeros((nq, 0), np.int32), np.zeros((nq, 0), np.float32)
    # a fixed random column order makes the first `sample` columns a uniform sample
    perm = np.random.default_rng(seed).permutation(nc)
    inverse = np.empty(nc, np.int64)
    inverse[perm] = np.arange(nc)
    ct = np.ascontiguousarray(c[perm].T)
    out_idx = np.empty((nq, k_eff), np.int32)
    out_sim = np.empty((nq, k_eff), np.float32)
    for start in tqdm(range(0, nq, block_size), desc="nearest neighbours", unit="block",
                      disable=not progress):
        stop = min(start + block_size, nq)
        sims = q[start:stop] @ ct
        if exclude is not None:
            ex = np.asarray(exclude[start:stop])
            rows = np.flatnonzero(ex >= 0)
            sims[rows, inverse[ex[rows]]] = -np.inf
        idx, val = _top_k_block(sims, k_eff, min(sample, nc), oversample)
        idx = perm[idx]
        # ties were ordered by permuted column; order them by original index
        order = np.lexsort((idx, -val), axis=1)
        out_idx[start:stop] = np.take_along_axis(idx, order, 1)
        out_sim[start:stop] = np.take_along_axis(val, order, 1)
    return out_idx, out_sim
