"""Playlist collaborative-filtering (CF) vectors for paper B's playlist encoder.

Paper B factorises the binary playlist x track matrix with LightFM's WARP loss
(300 components, 50 epochs, learning rate 0.05, max_sampled 40) and uses each
track's factors plus its item bias, 301 values, as the CF vector. LightFM is
not in this stack; implicit's Bayesian Personalised Ranking (BPR) is the
closest objective (a pairwise ranking loss fitted by SGD with sampled
negatives), and its item factors already carry the item bias as their last
column (``item_factors`` is (n_items, factors + 1); the matching user column
is fixed at 1). So ``method="bpr"`` with ``factors=300`` gives 301-d vectors
laid out as the paper's. WARP's ``max_sampled`` (40) has no BPR counterpart:
BPR draws one negative per sampled positive, never re-drawing to find a
violating one. ``method="als"`` (implicit's alternating least
squares) is selectable; ALS learns no item bias, so a zero column is appended
to keep the same ``factors + 1`` layout for the CF encoder.

What the vectors are fitted on, and what happens to the other tracks:

- Which playlists: on Melon, those of ``train.json`` (``playlist_files=
  ("train",)``, the default), as the reference fits its CF vectors; the
  challenge's ``val.json`` and ``test.json`` query playlists are
  selectable (``("train", "val", "test")`` or None for all). A table that
  does not record which file each playlist came from (no
  ``extras["playlist_split"]``) and a plain dict of playlists are used whole.
- Only training-split tracks are columns of the factorised matrix, so no valid
  or test track influences the factors. Rows are the chosen playlists holding
  at least one training track; a track listed twice in a playlist counts once.
- Non-training tracks that share a playlist with the training matrix are
  *folded in* (``fold_in=True``): their vector is fitted against the frozen
  playlist factors with the model's own objective (BPR: the same sampled
  pairwise loss and L2 penalty, optimised for the one track by full-batch
  gradient ascent; ALS: implicit's exact least-squares item update). The
  trainer needs this to compute the CF loss on the validation split. Folding
  in never changes a training track's vector.
- Tracks without any usable playlist get a zero vector and ``has_vector``
  False; they are counted (by split where the split is known) and shown by
  :meth:`CFVectors.summary`, never silently passed on as a real vector.

Results are seeded: with ``num_threads=1`` (the default) two runs with the
same seed are bit-identical; implicit's multi-threaded BPR is faster but its
updates race, so ``num_threads`` is part of the cache key and of the saved
settings. With ``cache_dir`` the result is stored under a hash of the
playlists, the training track ids and every setting, and a second call with
the same inputs loads it instead of refitting.
"""
from collections import Counter
import contextlib
from dataclasses import dataclass, field
import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..atomic import atomic_path
from ..errors import ConfigError, DataError
from ..data.melon import (REFERENCE_PLAYLIST_FILES, playlist_files_text,
                          select_playlist_files)
from ..data.table import TrackTable
from . import cache as _cache

METHODS = ("bpr", "als")
_CACHE_KIND = "cf"
_FORMAT = "era_zoo.cf_vectors/1"


@dataclass
class CFVectors:
    """CF vectors aligned with ``track_ids``.

    ``vectors`` is float32 (n_tracks, factors + 1), the last column being the
    item bias (zero for ALS). ``source`` says where each row came from:
    ``"fitted"`` (a training track of the factorised matrix), ``"folded_in"``
    (a non-training track fitted against the frozen playlist factors) or
    ``"none"`` (no usable playlist: zero vector, ``has_vector`` False).
    ``counts`` tallies these, plus tracks without playlists by split.
    """
    track_ids: list
    vectors: np.ndarray
    source: np.ndarray
    settings: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def __post_init__(self):
        self.track_ids = [str(t) for t in self.track_ids]
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        self.source = np.asarray(self.source, dtype="<U9")
        n = len(self.track_ids)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != n or self.source.shape != (n,):
            raise ConfigError("vectors", f"{n} track ids but vectors {self.vectors.shape} "
                                         f"and source {self.source.shape}")
        self._index = {t: i for i, t in enumerate(self.track_ids)}

    @property
    def has_vector(self):
        return self.source != "none"

    @property
    def dim(self):
        return self.vectors.shape[1]

    def __len__(self):
        return len(self.track_ids)

    def lookup(self, track_ids):
        """``(vectors, has_vector)`` for ``track_ids``; unknown ids get zeros and False."""
        rows = np.array([self._index.get(str(t), -1) for t in track_ids], dtype=np.int64)
        known = rows >= 0
        out = np.zeros((len(rows), self.dim), np.float32)
        out[known] = self.vectors[rows[known]]
        mask = np.zeros(len(rows), bool)
        mask[known] = self.has_vector[rows[known]]
        return out, mask

    def align(self, track_ids):
        """The same vectors re-ordered (and zero-filled) for another track order."""
        rows = np.array([self._index.get(str(t), -1) for t in track_ids], dtype=np.int64)
        known = rows >= 0
        vectors = np.zeros((len(rows), self.dim), np.float32)
        vectors[known] = self.vectors[rows[known]]
        source = np.full(len(rows), "none", dtype="<U9")
        source[known] = self.source[rows[known]]
        counts = dict(self.counts, **_source_counts(source))
        return CFVectors(list(track_ids), vectors, source, dict(self.settings), counts)

    def summary(self):
        c = self.counts
        where = playlist_files_text(self.settings.get("playlist_files"))
        lines = [f"CF vectors ({self.settings.get('method', '?')}, {self.dim}-d) for "
                 f"{len(self)} tracks, from {self.settings.get('playlists', '?')} playlists "
                 f"({where}): "
                 f"{c.get('fitted', 0)} fitted (training tracks), "
                 f"{c.get('folded_in', 0)} folded in, {c.get('without_playlists', 0)} "
                 f"without playlists (zero vector, has_vector=False)"]
        by_split = c.get("without_playlists_by_split")
        if by_split:
            lines.append("  without playlists by split: " +
                         ", ".join(f"{k}={v}" for k, v in sorted(by_split.items())))
        return "\n".join(lines)

    def save(self, path):
        """Write an ``.npz`` (track ids, vectors, source, settings as JSON) atomically."""
        meta = json.dumps({"format": _FORMAT, "settings": self.settings, "counts": self.counts},
                          sort_keys=True)
        # A file object: np.savez would add ".npz" to a path that lacks it.
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, track_ids=np.asarray(self.track_ids, dtype=str),
                     vectors=self.vectors, source=self.source, meta=np.asarray(meta))
        return Path(path)

    @classmethod
    def load(cls, path):
        path = Path(path)
        if not path.is_file():
            raise DataError(path, "CF vector file not found")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != _FORMAT:
                    raise DataError(path, f"format {meta.get('format')!r}, expected "
                                    f"{_FORMAT!r}", "written by CFVectors.save")
                return cls(z["track_ids"].tolist(), z["vectors"], z["source"],
                           meta["settings"], meta["counts"])
        except DataError:
            raise
        except (OSError, KeyError, ValueError) as err:
            raise DataError(path, f"not a CF vector file written by CFVectors.save ({err})"
                            ) from err


def playlist_cf_vectors(table_or_playlists, train_track_ids=None, *, track_ids=None,
                        playlist_files=REFERENCE_PLAYLIST_FILES, method="bpr", factors=300,
                        epochs=50, learning_rate=0.05, regularization=0.01, alpha=1.0,
                        fold_in=True, fold_in_steps=100, fold_in_learning_rate=1.0,
                        seed=0, num_threads=1, cache_dir=None, progress=True):
    """Fit CF vectors on the training-split tracks of a playlist x track matrix.

    ``table_or_playlists``: a :class:`TrackTable` (playlists from
    ``extras["playlists"]`` = {playlist id: [track ids]}, else from each
    ``Track.playlists``; training tracks are those with ``split == "train"``;
    the output follows the table's track order) or a plain dict
    ``{playlist_id: [track_ids]}`` (then ``train_track_ids`` is required and
    the output lists the training tracks, then the other playlist tracks in
    order of first appearance). ``track_ids`` overrides the output order.
    ``playlist_files``: the playlist files whose playlists are factorised
    (Melon: "train", "val", "test"; default ("train",), the reference's
    choice; None: all), where the table records them.

    Defaults follow paper B where it is explicit (300 factors, 50 epochs,
    learning rate 0.05). ``regularization`` 0.01 is implicit's default (the
    paper is silent; LightFM's default penalty is 0). ``alpha`` is ALS's
    confidence weight and ``learning_rate`` is BPR's; each method ignores the
    other's. A folded-in BPR track takes ``fold_in_steps`` full-batch gradient
    steps of size ``fold_in_learning_rate`` on its averaged gradient (bounded,
    so a large step is stable); the defaults bring it close to convergence.
    """
    if method not in METHODS:
        raise ConfigError("method", f"unknown CF method {method!r}", f"use one of {METHODS}")
    for name, value in (("factors", factors), ("epochs", epochs), ("fold_in_steps", fold_in_steps)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(name, f"must be a positive integer, not {value!r}")
    playlists, train_ids, order, split_of, files = _normalise_inputs(
        table_or_playlists, train_track_ids, track_ids, playlist_files)
    settings = dict(playlist_files=files, playlists=len(playlists),
                    method=method, factors=int(factors), epochs=int(epochs),
                    learning_rate=float(learning_rate), regularization=float(regularization),
                    alpha=float(alpha), fold_in=bool(fold_in), fold_in_steps=int(fold_in_steps),
                    fold_in_learning_rate=float(fold_in_learning_rate),
                    seed=int(seed), num_threads=int(num_threads), implicit=_implicit_version())

    key = None
    if cache_dir is not None:
        key = _fingerprint(playlists, train_ids, settings)
        hit = _cache.load_entry(cache_dir, _CACHE_KIND, key)
        if hit is not None:
            arrays, meta = hit
            fitted = CFVectors(arrays["track_ids"].tolist(), arrays["vectors"], arrays["source"],
                               meta["settings"], {})
            return _finish(fitted, order, split_of, cache=dict(hit=True, key=key))

    fitted = _fit(playlists, train_ids, settings, progress)
    if cache_dir is not None:
        _cache.save_entry(cache_dir, _CACHE_KIND, key,
                          dict(track_ids=np.asarray(fitted.track_ids, dtype=str),
                               vectors=fitted.vectors, source=fitted.source),
                          dict(settings=settings))
    return _finish(fitted, order, split_of, cache=dict(hit=False, key=key))


# --- inputs -----------------------------------------------------------------

def _normalise_inputs(table_or_playlists, train_track_ids, track_ids, playlist_files):
    """Canonical form: the chosen playlists sorted by id with de-duplicated
    string track ids, so the fit depends on the content only, not on dict or
    list order. Also returns the playlist files used (None: all)."""
    split_of = {}
    files = None
    if isinstance(table_or_playlists, TrackTable):
        table = table_or_playlists
        split_of = {t.track_id: t.split for t in table}
        raw = table.extras.get("playlists")
        if raw is None:
            raw = {}
            for t in table:
                for pid in t.playlists:
                    raw.setdefault(pid, []).append(t.track_id)
        raw, files = select_playlist_files(raw, table.extras.get("playlist_split"),
                                           playlist_files, "sideinfo.cf.playlist_files")
        if train_track_ids is None:
            train_track_ids = [t.track_id for t in table if t.split == "train"]
        default_order = [t.track_id for t in table]
        source = f"TrackTable {table.name!r}"
    elif isinstance(table_or_playlists, dict):
        raw = table_or_playlists
        if train_track_ids is None:
            raise ConfigError("train_track_ids", "required when playlists are given as a dict",
                              "pass the ids of the training-split tracks")
        default_order = None
        source = "playlists dict"
    else:
        kind = type(table_or_playlists).__name__
        raise ConfigError("table_or_playlists", f"expected a TrackTable or a dict, not {kind}")

    playlists = {}
    for pid, tids in raw.items():
        if isinstance(tids, (str, bytes)) or not hasattr(tids, "__iter__"):
            raise DataError(source, f"playlist {pid!r} is not a list of track ids ({tids!r})")
        playlists[str(pid)] = sorted({str(t) for t in tids})
    playlists = dict(sorted(playlists.items()))
    train_ids = sorted({str(t) for t in train_track_ids})
    if not train_ids:
        raise DataError(source, "no training-split tracks to fit CF vectors on")

    if track_ids is not None:
        order = [str(t) for t in track_ids]
    elif default_order is not None:
        order = default_order
    else:
        order = list(dict.fromkeys([str(t) for t in train_track_ids] +
                                   [str(t) for tids in raw.values() for t in tids]))
    return playlists, train_ids, order, split_of, files


def _fingerprint(playlists, train_ids, settings):
    fp = _cache.Fingerprint(_CACHE_KIND).add_settings(settings).add_texts(train_ids)
    for pid, tids in playlists.items():
        # One joined string per playlist keeps hashing Melon's 5.9 M entries fast.
        fp.add_text(pid).add_text("\x1f".join(tids))
    return fp.hexdigest()


def _implicit_version():
    import implicit
    return implicit.__version__


# --- fitting ----------------------------------------------------------------

def _fit(playlists, train_ids, settings, progress):
    """CFVectors over every track that received a vector (fitted or folded in)."""
    train_set = set(train_ids)
    rows = [(pid, [t for t in tids if t in train_set]) for pid, tids in playlists.items()]
    rows = [(pid, tids) for pid, tids in rows if tids]
    if not rows:
        raise DataError("playlists", "no playlist holds a training-split track",
                        "check that the training ids match the playlists' track ids")
    items = sorted({t for _, tids in rows for t in tids})
    item_col = {t: j for j, t in enumerate(items)}
    playlist_row = {pid: i for i, (pid, _) in enumerate(rows)}
    user_items = _binary_csr([[item_col[t] for t in tids] for _, tids in rows],
                             (len(rows), len(items)))

    with _single_threaded_blas(settings):
        model = _make_model(settings)
        model.fit(user_items, show_progress=progress)
    item_vectors = _with_bias_column(np.asarray(model.item_factors, np.float32), settings)

    track_ids, vectors, source = list(items), [item_vectors], ["fitted"] * len(items)
    if settings["fold_in"]:
        new_ids, new_users = _fold_in_candidates(playlists, train_set, playlist_row)
        if new_ids:
            item_users = _binary_csr(new_users, (len(new_ids), len(rows)))
            vectors.append(_fold_in(model, item_users, item_vectors, user_items, settings,
                                   progress))
            track_ids += new_ids
            source += ["folded_in"] * len(new_ids)
    return CFVectors(track_ids, np.concatenate(vectors), np.asarray(source), settings, {})


def _single_threaded_blas(settings):
    """implicit's ALS parallelises itself (and warns at construction otherwise):
    a second BLAS thread pool under it only fights it."""
    if settings["method"] != "als":
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(1, "blas")


def _make_model(settings):
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    if settings["method"] == "bpr":
        return BayesianPersonalizedRanking(
            factors=settings["factors"], learning_rate=settings["learning_rate"],
            regularization=settings["regularization"], iterations=settings["epochs"],
            num_threads=settings["num_threads"], random_state=settings["seed"],
            verify_negative_samples=True)
    return AlternatingLeastSquares(
        factors=settings["factors"], regularization=settings["regularization"],
        alpha=settings["alpha"], iterations=settings["epochs"],
        num_threads=settings["num_threads"], random_state=settings["seed"])


def _with_bias_column(item_factors, settings):
    want = settings["factors"] + 1
    if settings["method"] == "als":
        item_factors = np.concatenate(
            [item_factors, np.zeros((len(item_factors), 1), np.float32)], axis=1)
    if item_factors.shape[1] != want:
        raise RuntimeError(f"implicit returned {item_factors.shape[1]} item columns, expected "
                           f"{want} (factors + bias): implicit {settings['implicit']} changed "
                           "its layout")
    return item_factors


def _binary_csr(column_lists, shape):
    indptr = np.zeros(len(column_lists) + 1, np.int64)
    indptr[1:] = np.cumsum([len(c) for c in column_lists])
    indices = np.fromiter((j for c in column_lists for j in c), np.int32, count=int(indptr[-1]))
    matrix = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=shape)
    matrix.sort_indices()
    return matrix


def _fold_in_candidates(playlists, train_set, playlist_row):
    """Non-training tracks with the rows of their playlists in the training matrix."""
    users_of = {}
    for pid, tids in playlists.items():
        row = playlist_row.get(pid)
        if row is None:
            continue
        for t in tids:
            if t not in train_set:
                users_of.setdefault(t, []).append(row)
    new_ids = sorted(users_of)
    return new_ids, [users_of[t] for t in new_ids]


def _fold_in(model, item_users, item_vectors, user_items, settings, progress):
    if settings["method"] == "als":
        with _single_threaded_blas(settings):
            new = model.recalculate_item(np.arange(item_users.shape[0]), item_users)
        return _with_bias_column(np.asarray(new, np.float32), settings)
    return _bpr_fold_in(np.asarray(model.user_factors, np.float32), item_vectors, item_users,
                        user_items, settings, progress)


def _bpr_fold_in(user_factors, item_vectors, item_users, user_items, settings, progress,
                 chunk_pairs=8192):
    """Fit new tracks' BPR vectors against frozen playlist and item factors.

    implicit's SGD draws a (playlist u, positive i, negative k) triple and, with
    ``x = u . (v_i - v_k)`` and ``g = sigmoid(-x)``, moves
    ``v_i += lr (g u - reg v_i)`` and ``v_k += lr (-g u - reg v_k)``. Had a new
    track been a column of the matrix, it would have taken part both as the
    positive of its own playlists and, about ``nnz / n_items`` times per epoch,
    as the uniform negative of some other training pair. Both roles are kept
    here, so the fitted bias (the last column; the users' last column is 1)
    settles where implicit's would instead of growing without the negative
    pull. Each step averages the gradient over the track's sampled triples
    (the per-sample penalty makes this the same optimum as SGD's sum) and
    steps all new tracks at once. The step is on the averaged gradient, so it
    is larger than implicit's per-sample rate; on clustered synthetic
    playlists the folded-in tracks' nearest fitted neighbours share their
    cluster as the fitted tracks' do, with norms and biases like a full fit's.
    """
    from tqdm.auto import tqdm
    rng = np.random.default_rng(settings["seed"])
    n_new, dim = item_users.shape[0], item_vectors.shape[1]
    n_users = user_factors.shape[0]
    pos_item = np.repeat(np.arange(n_new), np.diff(item_users.indptr))
    pos_user = item_users.indices
    train_user = np.repeat(np.arange(user_items.shape[0]), np.diff(user_items.indptr))
    train_item = user_items.indices
    negatives_per_item = max(1, round(user_items.nnz / user_items.shape[1]))
    neg_item = np.repeat(np.arange(n_new), negatives_per_item)
    neg_indptr = np.arange(n_new + 1) * negatives_per_item
    triples_per_item = (np.diff(item_users.indptr) + negatives_per_item).astype(np.float32)
    # Start as implicit starts its items: small uniform noise, bias 0.
    new = ((rng.random((n_new, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)
    new[:, -1] = 0.0
    lr, reg = settings["fold_in_learning_rate"], settings["regularization"]
    for _ in tqdm(range(settings["fold_in_steps"]), desc="BPR fold-in", disable=not progress):
        # Positive role: the track against a random training negative.
        other = rng.integers(0, len(item_vectors), size=len(pos_user))
        w_pos = _pair_weights(new, pos_item, user_factors, pos_user, item_vectors, other, +1,
                              chunk_pairs)
        # Negative role: a random training pair (u, i) against the track.
        pair = rng.integers(0, len(train_user), size=len(neg_item))
        neg_user = train_user[pair]
        w_neg = _pair_weights(new, neg_item, user_factors, neg_user, item_vectors,
                              train_item[pair], -1, chunk_pairs)
        # Pairs are grouped by track, so the per-track sums of w * u are two
        # sparse (tracks x playlists) products with the playlist factors.
        grad = sp.csr_matrix((w_pos, pos_user, item_users.indptr), shape=(n_new, n_users)) \
            @ user_factors
        grad -= sp.csr_matrix((w_neg, neg_user, neg_indptr), shape=(n_new, n_users)) \
            @ user_factors
        new += lr * (grad / triples_per_item[:, None] - reg * new)
    return new


def _pair_weights(new, rows, user_factors, users, item_vectors, others, sign, chunk_pairs):
    """``sigmoid(-x)`` per pair with ``x = sign * u . (new[row] - v_other)``,
    gathered in cache-sized chunks (8192 pairs measured fastest; far larger
    temporaries were several times slower and Melon-sized ones would not fit)."""
    weights = np.empty(len(rows), np.float32)
    for start in range(0, len(rows), chunk_pairs):
        sl = slice(start, start + chunk_pairs)
        x = sign * np.einsum("pd,pd->p", user_factors[users[sl]],
                             new[rows[sl]] - item_vectors[others[sl]])
        weights[sl] = 0.5 * (1.0 - np.tanh(0.5 * x))      # sigmoid(-x) without overflow
    return weights


# --- output -----------------------------------------------------------------

def _source_counts(source):
    c = Counter(source.tolist())
    return dict(tracks=int(len(source)), fitted=c.get("fitted", 0),
                folded_in=c.get("folded_in", 0), without_playlists=c.get("none", 0))


def _finish(fitted, order, split_of, cache):
    out = fitted.align(order)
    missing = [t for t, s in zip(out.track_ids, out.source) if s == "none"]
    if split_of:
        out.counts["without_playlists_by_split"] = dict(
            Counter(str(split_of.get(t)) for t in missing))
    out.counts["cache"] = cache
    return out
