"""Genre word2vec for paper B's genre encoder.

Paper B initialises the genre encoder's embedding from a gensim Word2Vec
trained on each track's list of genre codes (Melon: GN codes): 128-d, window =
the longest genre list (so every genre of a track is in every other one's
context), min_count 1. Settings the paper leaves to gensim keep gensim's
defaults (CBOW, 5 negative samples, 5 epochs); all are arguments.

The vocabulary is laid out for ``GenreEncoder``: id 0 is padding (a zero row
of ``matrix``), genre codes take ids 1..V in sorted code order, and
``matrix`` is (V + 1, dim) float32. ``encode`` turns a track's genres into
the pipeline's ``genre_ids`` (the first ``max_len`` codes, int32, zero
padded).

gensim is deterministic for a given ``seed`` with ``workers=1`` (its
multi-threaded training interleaves updates in thread order); the default is
one worker.
"""
from dataclasses import dataclass
import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_json
from ..data.table import TrackTable
from ..errors import ConfigError, DataError
from . import cache as _cache

PAD_ID = 0
_CACHE_KIND = "genre-w2v"
_FORMAT = "era_zoo.genre_vocab/1"


@dataclass
class GenreVocab:
    """Genre codes -> ids (0 = padding) and their (V + 1, dim) embedding matrix."""
    vocab: dict
    matrix: np.ndarray
    settings: dict

    def __post_init__(self):
        self.matrix = np.asarray(self.matrix, dtype=np.float32)
        ids = sorted(self.vocab.values())
        if ids != list(range(1, len(ids) + 1)):
            raise ConfigError("vocab", "genre ids must be 1..V (0 is padding)")
        if self.matrix.shape[0] != len(ids) + 1:
            raise ConfigError("matrix", f"{len(ids)} genres need {len(ids) + 1} matrix rows, "
                                        f"got {self.matrix.shape[0]}")

    @property
    def vocab_size(self):
        """Number of genres, without the padding id (GenreEncoder's ``vocab_size``)."""
        return len(self.vocab)

    @property
    def dim(self):
        return self.matrix.shape[1]

    def encode(self, basket, max_len=10, unknown="raise"):
        """int32 (max_len,) ids of the first ``max_len`` known codes, zero padded.

        ``unknown="raise"`` raises on a code outside the vocabulary;
        ``"drop"`` leaves it out (use :meth:`encode_many` to have the drops
        counted).
        """
        ids, _ = self._encode(basket, max_len, unknown)
        return ids

    def encode_many(self, baskets, max_len=10, unknown="drop", problems=None):
        """(n, max_len) int32 ids; dropped unknown codes are counted in ``problems``
        (a :class:`~era_zoo.data.problems.ProblemReport`)."""
        out = np.zeros((len(baskets), max_len), np.int32)
        for i, basket in enumerate(baskets):
            out[i], dropped = self._encode(basket, max_len, unknown)
            if dropped and problems is not None:
                problems.add("unknown_genre_code", f"basket {i}", f"dropped {dropped}")
        return out

    def _encode(self, basket, max_len, unknown):
        if unknown not in ("raise", "drop"):
            raise ConfigError("unknown", f"must be 'raise' or 'drop', not {unknown!r}")
        if max_len < 1:
            raise ConfigError("max_len", f"must be positive, not {max_len!r}")
        ids, dropped = [], []
        for code in basket:
            gid = self.vocab.get(str(code))
            if gid is None:
                if unknown == "raise":
                    raise DataError("genre basket", f"genre code {code!r} is not in the vocabulary "
                                    f"of {self.vocab_size} codes", "pass unknown='drop' to skip it")
                dropped.append(str(code))
            else:
                ids.append(gid)
        out = np.zeros(max_len, np.int32)
        ids = ids[:max_len]
        out[:len(ids)] = ids
        return out, dropped

    def save(self, folder):
        """``vocab.json`` (codes, settings) and ``matrix.npy``, each written atomically."""
        folder = Path(folder)
        with atomic_path(folder / "matrix.npy") as tmp:
            np.save(tmp, self.matrix, allow_pickle=False)
        write_json(folder / "vocab.json",
                   {"format": _FORMAT, "vocab": self.vocab, "settings": self.settings}, indent=1)
        return folder

    @classmethod
    def load(cls, folder):
        folder = Path(folder)
        vocab_file, matrix_file = folder / "vocab.json", folder / "matrix.npy"
        for f in (vocab_file, matrix_file):
            if not f.is_file():
                raise DataError(f, "genre word2vec file not found", "written by GenreVocab.save")
        try:
            meta = json.loads(vocab_file.read_text(encoding="utf-8"))
            if meta.get("format") != _FORMAT:
                raise DataError(vocab_file, f"format {meta.get('format')!r}, expected "
                                f"{_FORMAT!r}", "written by GenreVocab.save")
            vocab = {str(k): int(v) for k, v in meta["vocab"].items()}
        except DataError:
            raise
        except (ValueError, KeyError, AttributeError) as err:
            raise DataError(vocab_file, f"not a genre vocabulary ({err})") from err
        try:
            matrix = np.load(matrix_file, allow_pickle=False)
            return cls(vocab, matrix, meta.get("settings", {}))
        except ValueError as err:
            raise DataError(matrix_file, f"does not match {vocab_file.name} ({err})") from err


def genre_baskets(table, split=None):
    """Per-track genre lists of a TrackTable (optionally one split), empty ones left out."""
    tracks = table.split(split) if split else table
    return [[str(g) for g in t.genres] for t in tracks if t.genres]


def genre_word2vec(baskets, *, dim=128, window=None, min_count=1, epochs=5, sg=0, negative=5,
                   seed=0, workers=1, cache_dir=None):
    """Train gensim Word2Vec on genre baskets and return a :class:`GenreVocab`.

    ``baskets``: a list of per-track genre-code lists, or a TrackTable (every
    track's ``genres``). ``window=None`` means the longest basket (paper B).
    Empty baskets carry no co-occurrence and are skipped. With ``cache_dir``
    the result is stored under a hash of the baskets and settings.
    """
    if isinstance(baskets, TrackTable):
        baskets = genre_baskets(baskets)
    baskets = [[str(g) for g in b] for b in baskets]
    baskets = [b for b in baskets if b]
    if not baskets:
        raise DataError("genre baskets", "no track has a genre", "word2vec needs genre lists")
    if dim < 1:
        raise ConfigError("dim", f"must be positive, not {dim!r}")
    longest = max(len(b) for b in baskets)
    window = longest if window is None else window
    if window < 1:
        raise ConfigError("window", f"must be positive, not {window!r}")
    import gensim
    settings = dict(dim=int(dim), window=int(window), min_count=int(min_count),
                    epochs=int(epochs), sg=int(sg), negative=int(negative), seed=int(seed),
                    workers=int(workers), gensim=gensim.__version__)

    key = None
    if cache_dir is not None:
        fp = _cache.Fingerprint(_CACHE_KIND).add_settings(settings)
        for b in baskets:
            fp.add_texts(b)
        key = fp.hexdigest()
        hit = _cache.load_entry(cache_dir, _CACHE_KIND, key)
        if hit is not None:
            arrays, meta = hit
            return GenreVocab(dict(zip(meta["codes"], range(1, len(meta["codes"]) + 1))),
                              arrays["matrix"], meta["settings"])

    from gensim.models import Word2Vec
    model = Word2Vec(sentences=baskets, vector_size=dim, window=window, min_count=min_count,
                     epochs=epochs, sg=sg, negative=negative, seed=seed, workers=workers)
    codes = sorted(model.wv.key_to_index)
    if not codes:
        raise DataError("genre baskets", f"no genre occurs min_count={min_count} times")
    matrix = np.zeros((len(codes) + 1, dim), np.float32)
    matrix[1:] = model.wv[codes]
    result = GenreVocab({c: i for i, c in enumerate(codes, start=1)}, matrix, settings)
    if cache_dir is not None:
        _cache.save_entry(cache_dir, _CACHE_KIND, key, dict(matrix=matrix),
                          dict(codes=codes, settings=settings))
    return result

