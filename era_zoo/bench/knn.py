"""Exact cosine nearest neighbours, blocked.

The similarity matrix of all queries against all candidates would not fit in
memory at Melon scale (65,000 x 65,000 floats is 17 GB), so queries go through
in blocks: one matrix multiply per block, ``argpartition`` for the top k, then
a sort of those k only. Memory stays at block_size x n_candidates floats.
Results are exact (no approximate index), so scores do not depend on index
parameters the way Annoy's do.
"""
import numpy as np
from tqdm.auto import tqdm


def l2_normalise(x):
    """Rows scaled to unit length; all-zero rows stay zero (similarity 0 to all)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def cosine_top_k(queries, candidates, k=100, block_size=1024, exclude=None, progress=False):
    """Indices and cosine similarities of each query's k most similar candidates.

    ``queries`` (nq, d), ``candidates`` (nc, d). Returns (indices int32 (nq, k'),
    similarities float32 (nq, k')), best first, k' = min(k, nc). Within the
    returned k, ties keep the lower candidate index first (which of several
    candidates tied at the k-th place gets in is unspecified). ``exclude`` (optional, (nq,) int array,
    -1 for none) names one candidate per query that may not be returned, e.g.
    the query itself when queries and candidates overlap.
    """
    q = l2_normalise(queries)
    c = l2_normalise(candidates)
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions, candidates {c.shape[1]}")
    nq, nc = len(q), len(c)
    k_eff = min(k, nc - (1 if exclude is not None else 0))
    if k_eff <= 0 or nq == 0:
        return np.zeros((nq, 0), np.int32), np.zeros((nq, 0), np.float32)
    out_idx = np.empty((nq, k_eff), np.int32)
    out_sim = np.empty((nq, k_eff), np.float32)
    ct = np.ascontiguousarray(c.T)
    starts = range(0, nq, block_size)
    for start in tqdm(starts, desc="nearest neighbours", unit="block", disable=not progress):
        stop = min(start + block_size, nq)
        sims = q[start:stop] @ ct
        if exclude is not None:
            ex = np.asarray(exclude[start:stop])
            rows = np.flatnonzero(ex >= 0)
            sims[rows, ex[rows]] = -np.inf
        if k_eff < nc:
            part = np.argpartition(-sims, k_eff - 1, axis=1)[:, :k_eff]
        else:
            part = np.broadcast_to(np.arange(nc), sims.shape).copy()
        part_sims = np.take_along_axis(sims, part, axis=1)
        # best first, ties by candidate index (lexsort: last key is primary)
        order = np.lexsort((part, -part_sims), axis=1)
        out_idx[start:stop] = np.take_along_axis(part, order, axis=1)
        out_sim[start:stop] = np.take_along_axis(part_sims, order, axis=1)
    return out_idx, out_sim
