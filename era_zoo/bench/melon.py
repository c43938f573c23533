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
- **playlists**: those of ``train.json`` (``playlist_files=("train",)``),
  as the reference draws them; ``val.json`` and ``test.json`` (the
  challenge's query playlists) are selectable, or all (None). The number
  evaluated is reported beside the paper's 104,410.
"""
import numpy as np
from tqdm.auto import tqdm

from ..data.melon import (REFERENCE_PLAYLIST_FILES, playlist_files_text,
                          select_playlist_files)
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


# Paper B, 3.3: playlists with at least one test-set track.
PAPER_PLAYLISTS = 104_410


def run_melon(table, embeddings, *, k=100, per_query=100, queries="seed",
              playlist_files=REFERENCE_PLAYLIST_FILES, runs=10, seed=0, block_size=1024,
              progress=True):
    """Run the protocol on a Melon TrackTable and ``Embeddings``; returns a result dict.

    Args:
        table: a Melon TrackTable (``extras["playlists"]``: playlist id ->
            track ids; ``extras["playlist_split"]``: playlist id -> file).
        embeddings: the tracks' embeddings (``bench.sources``).
        k: continuation length and metric cut-off.
        per_query: test tracks retrieved per query track.
        queries: "seed" or "all" (see the module doc).
        playlist_files: the playlist files evaluated (default: train.json,
            the reference's; None: all).
        runs, seed: the random baseline's repetitions and first seed.
        block_size: queries per matrix product.
        progress: show progress bars.

    Example:
        >>> import numpy as np
        >>> from era_zoo.bench.sources import Embeddings
        >>> from era_zoo.data.fixtures import write_melon_fixture
        >>> from era_zoo.data.melon import read_melon
        >>> table = read_melon(write_melon_fixture("/tmp/melon_bench", n_tracks=40))
        >>> X = np.random.default_rng(0).normal(size=(len(table), 8))
        >>> emb = Embeddings(X, np.array([t.track_id for t in table]))
        >>> run_melon(table, emb, k=10, runs=1, progress=False)["paper_playlists_evaluated"]
        104410
    """
    if queries not in ("seed", "all"):
        raise ConfigError("queries", f"{queries!r} is not 'seed' or 'all'")
    playlists = table.extras.get("playlists")
    if not playlists:
        raise DataError(table.name, "the table has no playlists (extras['playlists'])",
                        "read Melon with its playlist files (train.json, val.json, test.json)")
    playlists, files = select_playlist_files(playlists, table.extras.get("playlist_split"),
                                             playlist_files, "playlist_files")
    clock = Stopwatch()
    with clock("prepare"):
        means, present, _ = embeddings.track_means(table)
        n_tracks = len(table.tracks)
        is_test = np.array([t.split == "test" for t in table.tracks], bool)
        vec_of = np.full(n_tracks, -1, np.int64)       # track position -> row of `means`
        vec_of[present] = np.arange(len(present))
        cand_pos = present[is_test[present]]           # embedded test tracks: the candidates
        if not len(cand_pos):
            raise DataError(embeddings.description or "embeddings",
                            f"no embeddings for any of the {int(is_test.sum())} test tracks",
                            "the candidates of the continuation are the test-set tracks")
        cand_of = np.full(n_tracks, -1, np.int64)      # track position -> candidate index
        cand_of[cand_pos] = np.arange(len(cand_pos))
        candidate_vectors = means[vec_of[cand_pos]]
        exclude = None
        if queries == "all":
            exclude = np.full(len(means), -1, np.int64)
            exclude[vec_of[cand_pos]] = np.arange(len(cand_pos))

        # playlist entries as (playlist, track position), duplicates and unknown tracks dropped
        pos_of = {t.track_id: i for i, t in enumerate(table.tracks)}
        pids = list(playlists)
        lengths = np.fromiter((len(v) for v in playlists.values()), np.int64, len(pids))
        flat = np.fromiter((pos_of.get(str(s), -1) for v in playlists.values() for s in v),
                           np.int64, int(lengths.sum()))
        unknown = {str(s) for v in playlists.values() for s in v if str(s) not in pos_of} \
            if (flat < 0).any() else set()
        owner = np.repeat(np.arange(len(pids)), lengths)
        keys = np.unique(owner[flat >= 0] * n_tracks + flat[flat >= 0])
        pl, pos = keys // n_tracks, keys % n_tracks
        n_test = np.bincount(pl[is_test[pos]], minlength=len(pids))
        evaluated = np.flatnonzero(n_test > 0)
        if not len(evaluated):
            raise DataError(table.name, f"no playlist of {playlist_files_text(files)} holds a "
                                        "test-set track")
        row_of_pl = np.full(len(pids), -1, np.int64)
        row_of_pl[evaluated] = np.arange(len(evaluated))

        def per_playlist(mask, values):
            rows = row_of_pl[pl[mask]]
            keep = rows >= 0
            rows, values = rows[keep], values[mask][keep]
            return np.split(values, np.searchsorted(rows, np.arange(1, len(evaluated))))

        is_query = vec_of[pos] >= 0
        if queries == "seed":
            is_query &= ~is_test[pos]
        query_lists = per_playlist(is_query, vec_of[pos])
        truth_lists = per_playlist(is_test[pos] & (cand_of[pos] >= 0), cand_of[pos])
        n_relevant = n_test[evaluated]
        pids = [pids[i] for i in evaluated]

    continuations = continue_playlists(query_lists, means, candidate_vectors, k=k, per_query=per_query,
                                       exclude=exclude,
                                       block_size=block_size, progress=progress, clock=clock)
    with clock("score"):
        ndcg, ap = score_continuations(continuations, truth_lists, n_relevant, k)
    with clock("random_baseline"):
        rnd_ndcg, rnd_map = [], []
        for run in range(runs):
            rng = np.random.default_rng(seed + run)
            r_ndcg, r_ap = score_continuations(random_continuations(len(pids), len(cand_pos), k, rng),
                                               truth_lists, n_relevant, k)
            rnd_ndcg.append(r_ndcg.mean())
            rnd_map.append(r_ap.mean())

    missing_test = int(is_test.sum()) - len(cand_pos)
    return {
        "benchmark": "melon",
        "source": embeddings.description,
        "level": embeddings.level,
        "protocol": {"k": k, "per_query": per_query, "queries": queries, "runs": runs, "seed": seed,
                     "playlist_files": files,
                     "search": "exact cosine (blocked)",
                     "ground_truth": "the playlist's test-set tracks"},
        "playlists_evaluated": len(pids),
        "paper_playlists_evaluated": PAPER_PLAYLISTS,
        "playlists_without_queries": int(sum(len(q) == 0 for q in query_lists)),
        "candidates": len(cand_pos),
        "test_tracks_without_embeddings": missing_test,
        "playlist_tracks_not_in_table": len(unknown),
        "distinct_query_tracks": int(len(np.unique(np.concatenate(query_lists)))) if query_lists else 0,
        "summary": {"ndcg": float(ndcg.mean()), "map": float(ap.mean()),
                    "random": {"ndcg": summarize(rnd_ndcg), "map": summarize(rnd_map)}},
        "timings_s": clock.totals(),
        "cpu_s": clock.cpu_totals(),
    }
