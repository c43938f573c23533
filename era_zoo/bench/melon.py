"""Melon playlist continuation, paper B's protocol, with its open choices
written down.

Paper B: the playlists with at least one test-set track (104,410); for each
track of a playlist, the 100 most similar test-set tracks by cosine (track
embedding = mean of its chunks); of all the retrieved tracks, the 100 most
frequent are the continuation; NDCG@100 and MAP@100 (variants in
``metrics``). The paper does not say which tracks are queries nor what the
ground truth is. Ours:

- **ground truth**: the playlist's test-set tracks (the tracks held out from
  embedding training, the only ones that can be retrieved). Test tracks the
  embeddings lack stay in the ground truth (they count in |R| but can never
  be retrieved), so scores do not improve by dropping tracks; their number
  is reported.
- **queries** (``queries="seed"``, default): the playlist's *other* tracks
  (train/valid split) that have embeddings. A playlist with none gets an
  empty continuation and scores 0; it stays in the mean and is counted.
  ``queries="all"`` takes every track of the playlist, test tracks included,
  the literal reading of the paper; a query never retrieves itself, but it
  does reveal the test set to the search, so it is an upper bound, not a
  comparable figure.
- **ranking**: candidates by how many queries retrieved them, ties broken by
  the summed cosine similarity, then by candidate order.
- **search**: exact (blocked matrix products, ``knn``); the paper used
  Annoy, an approximation. Each distinct query track is searched once,
  however many playlists hold it.
- **random baseline**: per playlist, ``k`` distinct test tracks uniformly at
  random; mean and std over ``runs`` seeds.
"""
import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError
from .knn import cosine_top_k
from .metrics import ranking_scores
from .report import Stopwatch, summarize


def continue_playlists(query_lists, query_vectors, candidate_vectors, *, k=100, per_query=100,
                       exclude=None, block_size=1024, chunk=4096, progress=False, clock=None):
    """Continuations of many playlists at once.

    ``query_lists``: one int array per playlist of row indices into
    ``query_vectors``; ``exclude``: optional (n_query_vectors,) candidate
    index each query may not retrieve (-1 for none). Returns an (n_playlists,
    k) int32 array of candidate indices, best first, padded with -1.

    Each distinct query is searched once. The tally per playlist is a sparse
    sum: a playlist x candidate matrix whose entries add ``W + similarity``
    per retrieval, with W larger than twice the longest playlist, so one
    number orders by count first and summed similarity second (scipy sums
    the duplicates in C). Playlists go through ``chunk`` at a time to bound
    memory.
    """
    from scipy import sparse
    clock = clock or Stopwatch()
    lengths = np.fromiter((len(q) for q in query_lists), np.int64, len(query_lists))
    flat = (np.concatenate(query_lists) if lengths.sum() else np.zeros(0, np.int64)).astype(np.int64)
    used = np.unique(flat)
    with clock("search"):
        ex = None if exclude is None else np.asarray(exclude)[used]
        top_idx, top_sim = cosine_top_k(query_vectors[used], candidate_vectors, per_query,
                                        block_size=block_size, exclude=ex, progress=progress)
    row_of = np.full(len(query_vectors), -1, np.int64)
    row_of[used] = np.arange(len(used))
    n_pl, n_cand, width = len(query_lists), len(candidate_vectors), top_idx.shape[1]
    out = np.full((n_pl, k), -1, np.int32)
    weight = 2.0 * (lengths.max(initial=0) + 1)
    offsets = np.r_[0, np.cumsum(lengths)]
    with clock("aggregate"):
        for start in tqdm(range(0, n_pl, chunk), desc="aggregating", unit="chunk", disable=not progress):
            stop = min(start + chunk, n_pl)
            rows = row_of[flat[offsets[start]:offsets[stop]]]
            tally = sparse.csr_matrix(
                (weight + top_sim[rows].ravel().astype(np.float64), top_idx[rows].ravel(),
                 np.r_[0, np.cumsum(lengths[start:stop] * width)]),
                shape=(stop - start, n_cand))
            tally.sum_duplicates()
            for p in range(stop - start):
                lo, hi = tally.indptr[p], tally.indptr[p + 1]
                if lo == hi:
                    continue
                cols, score = tally.indices[lo:hi], tally.data[lo:hi]
                if hi - lo > k:
                    keep = np.argpartition(score, hi - lo - k)[hi - lo - k:]
                    cols, score = cols[keep], score[keep]
                order = np.lexsort((cols, -score))
                out[start + p, :len(order)] = cols[order]
    return out


def score_continuations(continuations, truth_lists, n_relevant, k=100):
    """NDCG@k and AP@k per playlist.

    ``continuations`` (n, k) candidate indices (-1 = empty slot);
    ``truth_lists``: per playlist, candidate indices of its retrievable
    ground-truth tracks; ``n_relevant``: per playlist |R| (retrievable or not).
    """
    n = len(continuations)
    lengths = np.fromiter((len(t) for t in truth_lists), np.int64, n)
    n_cand = int(max(continuations.max(initial=0), max((t.max() for t in truth_lists if len(t)), default=0))) + 1
    truth_keys = np.repeat(np.arange(n, dtype=np.int64), lengths) * n_cand + (
        np.concatenate(truth_lists).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64))
    cont = continuations.astype(np.int64)
    keys = np.arange(n, dtype=np.int64)[:, None] * n_cand + cont
    hits = np.isin(keys, truth_keys) & (cont >= 0)
    return ranking_scores(hits, n_relevant, k)


def random_continuations(n_playlists, n_candidates, k, rng):
    """``k`` distinct random candidates per playlist (uniform), (n, k) int32."""
    k = min(k, n_candidates)
    draws = rng.integers(0, n_candidates, size=(n_playlists, k))
    srt = np.sort(draws, 1)
    dup_rows = np.flatnonzero((np.diff(srt, axis=1) == 0).any(1))
    for r in dup_rows:  # redraw without replacement: the rejection keeps the draw uniform
        draws[r] = rng.choice(n_candidates, k, replace=False)
    return draws.astype(np.int32)


def run_melon(table, embeddings, *, k=100, per_query=100, queries="seed", runs=10, seed=0,
              block_size=1024, progress=True):
    """Run the protocol on a Melon TrackTable (``extras["playlists"]``:
    playlist id -> track ids) and ``Embeddings``; returns a result dict."""
    if queries not in ("seed", "all"):
        raise ConfigError("queries", f"{queries!r} is not 'seed' or 'all'")
    playlists = table.extras.get("playlists")
    if not playlists:
        raise DataError(table.name, "the table has no playlists (extras['playlists'])",
                        "read Melon with its playlist files (train.json, val.json, test.json)")
    clock = Stopwatch()
    with clock("prepare"):
        split_of = {t.track_id: t.split for t in table.tracks}
        means, present, _ = embeddings.track_means(table)
        vec_row = {table.tracks[p].track_id: i for i, p in enumerate(present)}
        test_ids = [t.track_id for t in table.tracks if t.split == "test"]
        cand_ids = [t for t in test_ids if t in vec_row]
        if not cand_ids:
            raise DataError(embeddings.description or "embeddings",
                            f"no embeddings for any of the {len(test_ids)} test tracks",
                            "the candidates of the continuation are the test-set tracks")
        cand_index = {t: i for i, t in enumerate(cand_ids)}
        candidate_vectors = means[[vec_row[t] for t in cand_ids]]
        exclude = np.full(len(means), -1, np.int64)
        if queries == "all":
            for t, c in cand_index.items():
                exclude[vec_row[t]] = c

        pids, query_lists, truth_lists, n_relevant = [], [], [], []
        unknown = set()
        for pid, songs in playlists.items():
            songs = list(dict.fromkeys(str(s) for s in songs))
            test_songs = [s for s in songs if split_of.get(s) == "test"]
            if not test_songs:
                continue
            unknown.update(s for s in songs if s not in split_of)
            if queries == "seed":
                q = [vec_row[s] for s in songs if split_of.get(s) != "test" and s in vec_row]
            else:
                q = [vec_row[s] for s in songs if s in vec_row]
            pids.append(pid)
            query_lists.append(np.array(q, np.int64))
            truth_lists.append(np.array([cand_index[s] for s in test_songs if s in cand_index], np.int64))
            n_relevant.append(len(test_songs))
        if not pids:
            raise DataError(table.name, "no playlist holds a test-set track")
        n_relevant = np.array(n_relevant)

    continuations = continue_playlists(query_lists, means, candidate_vectors, k=k, per_query=per_query,
                                       exclude=exclude if queries == "all" else None,
                                       block_size=block_size, progress=progress, clock=clock)
    with clock("score"):
        ndcg, ap = score_continuations(continuations, truth_lists, n_relevant, k)
    with clock("random_baseline"):
        rnd_ndcg, rnd_map = [], []
        for run in range(runs):
            rng = np.random.default_rng(seed + run)
            r_ndcg, r_ap = score_continuations(random_continuations(len(pids), len(cand_ids), k, rng),
                                               truth_lists, n_relevant, k)
            rnd_ndcg.append(r_ndcg.mean())
            rnd_map.append(r_ap.mean())

    missing_test = len(test_ids) - len(cand_ids)
    return {
        "benchmark": "melon",
        "source": embeddings.description,
        "protocol": {"k": k, "per_query": per_query, "queries": queries, "runs": runs, "seed": seed,
                     "search": "exact cosine (blocked)",
                     "ground_truth": "the playlist's test-set tracks"},
        "playlists_evaluated": len(pids),
        "playlists_without_queries": int(sum(len(q) == 0 for q in query_lists)),
        "candidates": len(cand_ids),
        "test_tracks_without_embeddings": missing_test,
        "playlist_tracks_not_in_table": len(unknown),
        "distinct_query_tracks": int(len(np.unique(np.concatenate(query_lists)))) if query_lists else 0,
        "summary": {"ndcg": float(ndcg.mean()), "map": float(ap.mean()),
                    "random": {"ndcg": summarize(rnd_ndcg), "map": summarize(rnd_map)}},
        "timings_s": clock.totals(),
    }
