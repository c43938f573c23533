"""Artist text for AudioArt-MMC: WordPiece token ids, or precomputed vectors.

Two ways to feed the batch's ``artist_text``:

1. **Token ids** (int32, (seq_len,) per track) for
   :class:`~era_zoo.layers.text_transformer.ArtistTextTransformer`, trained
   with the model. :meth:`ArtistTextTable.from_texts` computes a WordPiece
   vocabulary from the biographies with keras-hub's
   ``compute_word_piece_vocabulary`` (entirely offline, no preset), then
   tokenises every artist to a fixed length with keras-hub's
   ``WordPieceTokenizer`` (lower-cased, accents stripped, truncated at
   ``seq_len``, padded with id 0). Reserved tokens: ``[PAD]`` = 0, ``[UNK]`` = 1.
2. **Precomputed vectors** (float32, (D,) per track) for
   :class:`~era_zoo.layers.text_encoder.PrecomputedTextEncoder`, e.g. from a
   sentence-embedding model run elsewhere. File formats read by
   :func:`load_precomputed_vectors` (never pickled):

   - ``NAME.npz`` with two arrays: ``artist_ids`` (n,) strings and
     ``vectors`` (n, D) floats;
   - ``NAME.npy`` (n, D) floats plus ``NAME.artist_ids.txt`` beside it, one
     artist id per line in row order.

Artists without text (no biography, or only whitespace) are explicit: an
all-padding token row (or a zero vector) with ``has_text`` False, counted in
:meth:`ArtistTextTable.summary`. The transformer maps an all-padding row to a
fixed, finite embedding (see its docstring).
"""
from dataclasses import dataclass, field
import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_json, write_text
from ..data.table import TrackTable
from ..errors import ConfigError, DataError

RESERVED_TOKENS = ("[PAD]", "[UNK]")
PAD_ID = 0
_FORMAT = "era_zoo.artist_text/1"


@dataclass
class ArtistTextTable:
    """Fixed-length WordPiece ids per artist, with the vocabulary that made them."""
    artist_ids: list
    tokens: np.ndarray            # (n_artists, seq_len) int32, 0 = padding
    has_text: np.ndarray          # (n_artists,) bool
    vocabulary: list              # WordPiece tokens; index = id
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        self.artist_ids = [str(a) for a in self.artist_ids]
        self.tokens = np.asarray(self.tokens, dtype=np.int32)
        self.has_text = np.asarray(self.has_text, dtype=bool)
        n = len(self.artist_ids)
        if self.tokens.ndim != 2 or self.tokens.shape[0] != n or self.has_text.shape != (n,):
            raise ConfigError("tokens", f"{n} artists but tokens {self.tokens.shape} "
                                        f"and has_text {self.has_text.shape}")
        if list(self.vocabulary[:len(RESERVED_TOKENS)]) != list(RESERVED_TOKENS):
            raise ConfigError("vocabulary", f"must start with {RESERVED_TOKENS}")
        self._row = {a: i for i, a in enumerate(self.artist_ids)}
        if len(self._row) != n:
            raise ConfigError("artist_ids", "duplicate artist ids")

    @classmethod
    def from_texts(cls, texts, *, vocab_size=8000, seq_len=128, lowercase=True,
                   strip_accents=True):
        """Build vocabulary and ids from ``{artist_id: text}`` (None or "" = no text).

        The vocabulary is learnt from the artists that have text. tf-text's
        learner admits a whole word only above a count threshold, so a small
        corpus gives mostly characters and sub-word pieces and a vocabulary
        smaller than ``vocab_size`` (the encoder takes ``len(vocabulary)``).
        """
        if not isinstance(texts, dict):
            raise ConfigError("texts", "expected a dict artist_id -> text, not "
                              f"{type(texts).__name__}")
        if seq_len < 1:
            raise ConfigError("seq_len", f"must be positive, not {seq_len!r}")
        if vocab_size <= len(RESERVED_TOKENS):
            raise ConfigError("vocab_size", f"must exceed the {len(RESERVED_TOKENS)} reserved "
                              f"tokens, not {vocab_size!r}")
        artist_ids = sorted(str(a) for a in texts)
        clean = {str(a): ("" if t is None else str(t)).strip() for a, t in texts.items()}
        corpus = [clean[a] for a in artist_ids if clean[a]]
        if not corpus:
            raise DataError("artist texts", f"none of the {len(artist_ids)} artists has text")

        import tensorflow as tf
        from keras_hub.tokenizers import compute_word_piece_vocabulary
        # A Python list would be read as file names: pass the texts as a dataset.
        vocabulary = compute_word_piece_vocabulary(
            tf.data.Dataset.from_tensor_slices(corpus), vocabulary_size=int(vocab_size),
            lowercase=lowercase, strip_accents=strip_accents,
            reserved_tokens=list(RESERVED_TOKENS))
        settings = dict(vocab_size=int(vocab_size), seq_len=int(seq_len),
                        lowercase=bool(lowercase), strip_accents=bool(strip_accents))
        has_text = np.array([bool(clean[a]) for a in artist_ids])
        table = cls(artist_ids, np.zeros((len(artist_ids), seq_len), np.int32), has_text,
                    list(vocabulary), settings)
        table.tokens = table.tokenize([clean[a] for a in artist_ids])
        return table

    @classmethod
    def from_table(cls, table, **kwargs):
        """Texts from ``table.extras["artist_text"]`` for every artist of the tracks;
        artists missing there count as artists without text."""
        if not isinstance(table, TrackTable):
            raise ConfigError("table", f"expected a TrackTable, not {type(table).__name__}")
        known = table.extras.get("artist_text") or {}
        artists = {t.artist_id for t in table if t.artist_id is not None}
        return cls.from_texts({a: known.get(a) for a in sorted(artists | set(known))}, **kwargs)

    @property
    def seq_len(self):
        return self.tokens.shape[1]

    @property
    def vocab_size(self):
        """Rows the encoder's embedding needs (``ArtistTextTransformer(vocab_size=...)``)."""
        return len(self.vocabulary)

    def tokenizer(self):
        """The keras-hub WordPieceTokenizer that produced ``tokens``."""
        from keras_hub.tokenizers import WordPieceTokenizer
        return WordPieceTokenizer(vocabulary=list(self.vocabulary), sequence_length=self.seq_len,
                                  lowercase=self.settings.get("lowercase", True),
                                  strip_accents=self.settings.get("strip_accents", True),
                                  oov_token="[UNK]")

    def tokenize(self, texts):
        """(len(texts), seq_len) int32 ids of new texts ("" -> all padding)."""
        if not texts:
            return np.zeros((0, self.seq_len), np.int32)
        ids = np.asarray(self.tokenizer()(list(texts)), dtype=np.int32)
        return ids.reshape(len(texts), self.seq_len)

    def token_ids(self, artist_ids, missing="raise"):
        """(n, seq_len) int32 ids for ``artist_ids`` in that order.

        An artist unknown to the table raises (``missing="raise"``) or gets an
        all-padding row (``missing="empty"``, check :meth:`lookup`'s mask).
        """
        return self.lookup(artist_ids, missing)[0]

    def lookup(self, artist_ids, missing="raise"):
        """``(token ids, has_text)`` for ``artist_ids``."""
        if missing not in ("raise", "empty"):
            raise ConfigError("missing", f"must be 'raise' or 'empty', not {missing!r}")
        rows = np.array([self._row.get(str(a), -1) for a in artist_ids], dtype=np.int64)
        if missing == "raise" and (rows < 0).any():
            absent = [str(a) for a, r in zip(artist_ids, rows) if r < 0]
            raise DataError("artist text table", f"{len(absent)} artist(s) not in the table, "
                            f"e.g. {absent[:3]}", "pass missing='empty' to give them no text")
        known = rows >= 0
        ids = np.zeros((len(rows), self.seq_len), np.int32)
        ids[known] = self.tokens[rows[known]]
        mask = np.zeros(len(rows), bool)
        mask[known] = self.has_text[rows[known]]
        return ids, mask

    def make_encoder(self, **kwargs):
        """An :class:`ArtistTextTransformer` sized for this vocabulary and length."""
        from ..layers.text_transformer import ArtistTextTransformer
        return ArtistTextTransformer(vocab_size=self.vocab_size, seq_len=self.seq_len, **kwargs)

    def summary(self):
        n, with_text = len(self.artist_ids), int(self.has_text.sum())
        return (f"artist text: {n} artists, {with_text} with text, {n - with_text} without "
                f"(all-padding ids, has_text=False); WordPiece vocabulary {self.vocab_size}, "
                f"{self.seq_len} tokens per artist")

    def save(self, folder):
        """``vocab.txt`` (one token per line), ``tokens.npy``, ``artists.json``; atomic."""
        folder = Path(folder)
        write_text(folder / "vocab.txt", "\n".join(self.vocabulary) + "\n")
        with atomic_path(folder / "tokens.npy") as tmp:
            np.save(tmp, self.tokens, allow_pickle=False)
        write_json(folder / "artists.json",
                   {"format": _FORMAT, "artist_ids": self.artist_ids,
                    "has_text": self.has_text, "settings": self.settings}, indent=None)
        return folder

    @classmethod
    def load(cls, folder):
        folder = Path(folder)
        files = {name: folder / name for name in ("vocab.txt", "tokens.npy", "artists.json")}
        for f in files.values():
            if not f.is_file():
                raise DataError(f, "artist text file not found", "written by ArtistTextTable.save")
        try:
            meta = json.loads(files["artists.json"].read_text(encoding="utf-8"))
            if meta.get("format") != _FORMAT:
                raise DataError(files["artists.json"], f"format {meta.get('format')!r}, "
                                f"expected {_FORMAT!r}", "written by ArtistTextTable.save")
            vocabulary = files["vocab.txt"].read_text(encoding="utf-8").splitlines()
            tokens = np.load(files["tokens.npy"], allow_pickle=False)
            table = cls(meta["artist_ids"], tokens, meta["has_text"], vocabulary,
                        meta.get("settings", {}))
        except DataError:
            raise
        except (ValueError, KeyError) as err:
            raise DataError(folder, f"not an artist text table ({err})") from err
        if tokens.size and (tokens.min() < 0 or tokens.max() >= len(vocabulary)):
            raise DataError(files["tokens.npy"], f"token ids outside the {len(vocabulary)}-token "
                            "vocabulary of vocab.txt")
        return table


def load_precomputed_vectors(path, artist_ids, missing="raise"):
    """``(vectors float32 (n, D), has_vector bool (n,))`` for ``artist_ids``.

    Reads the formats in this module's docstring. ``missing="raise"`` fails on
    an artist the file lacks, naming it; ``missing="empty"`` gives it a zero
    vector and has_vector False (as :meth:`ArtistTextTable.lookup` gives an
    all-padding row). Non-finite values, duplicate ids and shape
    mismatches are errors naming the file (and the artist where there is one).
    """
    if missing not in ("raise", "empty"):
        raise ConfigError("missing", f"must be 'raise' or 'empty', not {missing!r}")
    path = Path(path)
    file_ids, vectors = _read_vector_file(path)
    if vectors.ndim != 2:
        raise DataError(path, f"vectors must be 2-D (n_artists, D), got shape {vectors.shape}")
    if len(file_ids) != len(vectors):
        raise DataError(path, f"{len(file_ids)} artist ids but {len(vectors)} vector rows")
    if not np.issubdtype(vectors.dtype, np.number):
        raise DataError(path, f"vectors must be numeric, got dtype {vectors.dtype}")
    row = {}
    for i, a in enumerate(file_ids):
        if a in row:
            raise DataError(path, f"artist {a!r} appears twice (rows {row[a]} and {i})")
        row[a] = i
    vectors = vectors.astype(np.float32)
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise DataError(path, f"non-finite values in the vector of artist "
                        f"{file_ids[int(np.argmax(bad))]!r} ({int(bad.sum())} such rows)")
    rows = np.array([row.get(str(a), -1) for a in artist_ids], dtype=np.int64)
    if missing == "raise" and (rows < 0).any():
        absent = [str(a) for a, r in zip(artist_ids, rows) if r < 0]
        raise DataError(path, f"no vector for artist {absent[0]!r} ({len(absent)} artists missing)",
                        "add them, or pass missing='empty'")
    out = np.zeros((len(rows), vectors.shape[1]), np.float32)
    out[rows >= 0] = vectors[rows[rows >= 0]]
    return out, rows >= 0


def _read_vector_file(path):
    if not path.is_file():
        raise DataError(path, "precomputed artist vector file not found")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                for name in ("artist_ids", "vectors"):
                    if name not in z.files:
                        raise DataError(path, f"missing array {name!r} (has {sorted(z.files)})",
                                        "save with np.savez(path, artist_ids=..., vectors=...)")
                return [str(a) for a in z["artist_ids"].tolist()], z["vectors"]
        if path.suffix == ".npy":
            ids_file = path.with_name(path.stem + ".artist_ids.txt")
            if not ids_file.is_file():
                raise DataError(ids_file, "artist id list for the .npy vectors not found",
                                "one artist id per line, in row order")
            ids = ids_file.read_text(encoding="utf-8").splitlines()
            return [a.strip() for a in ids if a.strip()], np.load(path, allow_pickle=False)
    except DataError:
        raise
    except (OSError, ValueError) as err:
        raise DataError(path, f"cannot read precomputed artist vectors ({err})") from err
    raise DataError(path, "unknown file type for artist vectors", "use .npz or .npy")
