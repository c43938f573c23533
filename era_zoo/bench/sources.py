"""Embedding sources for the benchmarks.

Every protocol sees one shape, ``Embeddings``: rows ``X`` (one per chunk or per
track), ``ids`` (the track id of each row, repeated for chunks) and optional
``Y``. Three ways to get one:

- precomputed: an ``.npz`` with ``X``, ``IDS`` (unicode array), optional
  ``Y`` and optional ``LEVEL`` (the level it was embedded at, a 0-d string;
  ``era-zoo embed`` writes it), so features of other systems (musicnn, OpenL3, ...) go through the
  same code (``load_embeddings`` / ``save_embeddings``);
- an era_zoo model (has ``embed``): :func:`era_zoo.inference.embed_tracks`,
  each track's mel (or audio) cut into non-overlapping chunks of the model's
  input length (256 frames in paper B), one row per chunk, at the model's
  default level (the 1024-d trunk for paper B's models, as the reference's
  encode.py) unless another is asked for;
- any callable ``f(waveform, sample_rate) -> (n_chunks, d)`` (or ``(d,)``).

Rows are matched to a dataset's tracks by *key*: the file stem of the id
(``blues/blues.00029.wav`` -> ``blues.00029``). A track matches when the key
of its id, of its audio path or of its mel path equals the key of a row.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..atomic import atomic_path
from ..errors import ConfigError, DataError
from ..data.problems import ProblemReport

# Extensions stripped from ids; anything else after a dot is part of the id
# ("blues.00029" keeps its ".00029").
FILE_EXTENSIONS = (".au", ".wav", ".mp3", ".ogg", ".flac", ".m4a", ".aac", ".aif",
                   ".aiff", ".opus", ".npy", ".npz", ".low.mp3")


def track_key(track_id):
    """The file stem of a track id or path, used to match rows to tracks."""
    name = str(track_id).replace("\\", "/").rsplit("/", 1)[-1]
    lower = name.lower()
    for ext in sorted(FILE_EXTENSIONS, key=len, reverse=True):
        if lower.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return name


@dataclass
class Embeddings:
    """Rows of embeddings with the track id of each row.

    ``X`` float32 (rows, d); ``ids`` unicode (rows,); ``Y`` optional labels
    (rows, ...). ``description`` says where they came from and ``level``
    which output of the model they are (None: not recorded), both for
    reports.
    """
    X: np.ndarray
    ids: np.ndarray
    Y: np.ndarray | None = None
    description: str = ""
    level: str | None = None
    _index: dict = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.X = np.asarray(self.X, dtype=np.float32)
        self.ids = np.asarray(self.ids).astype(str)
        where = self.description or "embeddings"
        if self.X.ndim != 2:
            raise DataError(where, f"X must be 2-D (rows, dim), got shape {self.X.shape}")
        if len(self.ids) != len(self.X):
            raise DataError(where, f"{len(self.X)} rows of X but {len(self.ids)} IDS")
        if self.Y is not None and len(self.Y) != len(self.X):
            raise DataError(where, f"{len(self.X)} rows of X but {len(self.Y)} of Y")
        if len(self.X) == 0:
            raise DataError(where, "no rows")
        if not np.isfinite(self.X).all():
            bad = int((~np.isfinite(self.X)).any(1).sum())
            raise DataError(where, f"{bad} row(s) of X hold NaN or inf",
                            "recompute the embeddings of those tracks")

    @property
    def dim(self):
        return self.X.shape[1]

    def index(self):
        """key -> array of row indices (built once)."""
        if self._index is None:
            keys = np.array([track_key(i) for i in self.ids])
            order = np.argsort(keys, kind="mergesort")
            uniq, starts = np.unique(keys[order], return_index=True)
            bounds = np.r_[starts, len(order)]
            # two different ids with one stem ("a/x.wav", "b/x.wav") would merge silently
            ids = self.ids[order]
            clash = np.flatnonzero(ids != np.repeat(ids[starts], np.diff(bounds)))
            if len(clash):
                first = ids[starts[np.searchsorted(starts, clash[0], side="right") - 1]]
                raise DataError(self.description or "embeddings",
                                f"ids {first!r} and {ids[clash[0]]!r} both have the stem "
                                f"{track_key(first)!r}", "track ids are matched by file stem; "
                                "make the stems unique")
            self._index = {k: order[bounds[i]:bounds[i + 1]] for i, k in enumerate(uniq)}
        return self._index

    def rows_of(self, track):
        """Row indices of one Track (empty when the embeddings lack it)."""
        index = self.index()
        for name in (track.track_id, track.audio_path, track.mel_path):
            if name:
                rows = index.get(track_key(name))
                if rows is not None:
                    return rows
        return np.zeros(0, np.int64)

    def chunk_rows(self, table):
        """All rows of the table's tracks: (X (rows, d), track position (rows,),
        positions of tracks without rows). Positions index ``table.tracks``."""
        rows, owner, missing = [], [], []
        for pos, track in enumerate(table.tracks):
            r = self.rows_of(track)
            if len(r) == 0:
                missing.append(pos)
            rows.append(r)
            owner.append(np.full(len(r), pos, np.int64))
        rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        owner = np.concatenate(owner) if owner else np.zeros(0, np.int64)
        return self.X[rows], owner, missing

    def track_means(self, table, block=4096):
        """Mean row per track: (X (n_present, d) float32, positions of the
        present tracks, positions of missing tracks). Tracks go through in
        blocks so memory stays near the size of the result."""
        means, present, missing = [], [], []
        for start in range(0, len(table.tracks), block):
            rows, lengths = [], []
            for pos in range(start, min(start + block, len(table.tracks))):
                r = self.rows_of(table.tracks[pos])
                if len(r):
                    rows.append(r)
                    lengths.append(len(r))
                    present.append(pos)
                else:
                    missing.append(pos)
            if rows:
                starts = np.r_[0, np.cumsum(lengths)[:-1]]
                sums = np.add.reduceat(self.X[np.concatenate(rows)], starts, axis=0, dtype=np.float64)
                means.append((sums / np.array(lengths)[:, None]).astype(np.float32))
        X = np.concatenate(means) if means else np.zeros((0, self.dim), np.float32)
        return X, np.array(present, np.int64), missing


def load_embeddings(path):
    """Read an ``.npz`` of X, IDS and optional Y (no pickle)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such embeddings file")
    try:
        with np.load(path, allow_pickle=False) as f:
            names = set(f.files)
            for need in ("X", "IDS"):
                if need not in names:
                    raise DataError(path, f"missing array {need!r} (has {sorted(names)})",
                                    "an embeddings file holds X (rows, dim), IDS (rows,) and optionally Y")
            X, ids = f["X"], f["IDS"]
            Y = f["Y"] if "Y" in names else None
            level = str(f["LEVEL"][()]) if "LEVEL" in names else None
    except DataError:
        raise
    except ValueError as e:
        raise DataError(path, f"cannot read: {e}",
                        "IDS must be a unicode string array (object arrays need pickle, which is refused)") from e
    except (OSError, EOFError) as e:
        raise DataError(path, f"not a readable .npz file: {e}") from e
    if ids.dtype.kind not in "US":
        raise DataError(path, f"IDS has dtype {ids.dtype}; expected strings")
    return Embeddings(X, ids.astype(str), Y, description=str(path), level=level)


def save_embeddings(path, X, ids, Y=None, level=None):
    """Write an embeddings ``.npz`` atomically (IDS stored as a unicode array).

    Args:
        path: the ``.npz`` to write.
        X: (rows, d) embeddings.
        ids: the track id of each row.
        Y: optional labels per row.
        level: the model output they are (``"trunk"``, ``"projection"``,
            ...), stored as ``LEVEL`` and shown by the benchmarks.

    Example:
        >>> save_embeddings("emb.npz", X, ids, level="trunk")  # doctest: +SKIP
    """
    path = Path(path)
    emb = Embeddings(X, ids, Y, description=str(path))  # validates
    arrays = {"X": emb.X, "IDS": emb.ids.astype("U")}
    if level is not None:
        arrays["LEVEL"] = np.array(str(level))
    if Y is not None:
        Y = np.asarray(Y)
        if Y.dtype == object:
            raise DataError(path, "Y is an object array; give numbers or fixed-width strings")
        arrays["Y"] = Y
    # A file object: np.savez would add ".npz" to a path that lacks it.
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def _embed_callable(table, fn, *, sample_rate, on_error, problems, progress, description):
    """Decode each track's audio, embed it with ``fn``, collect rows. Bad
    tracks raise or, with on_error="skip", are counted in ``problems``."""
    from ..audio.decode import load_audio
    problems = problems if problems is not None else ProblemReport()
    X, ids = [], []
    for track in tqdm(table.tracks, desc=f"embedding {table.name}", unit="track", disable=not progress):
        where = track.audio_path or f"track {track.track_id}"
        try:
            if not track.audio_path:
                raise DataError(where, "has no audio file", "a callable source embeds audio")
            emb = np.asarray(fn(load_audio(track.audio_path, sample_rate), sample_rate),
                             dtype=np.float32)
        except DataError as e:  # AudioError included
            problems.raise_or_skip(e, on_error, "embedding")
            continue
        emb = emb[None] if emb.ndim == 1 else emb
        if emb.ndim != 2 or len(emb) == 0:
            raise DataError(where, f"the embedding source returned shape {emb.shape}",
                            "return (n_chunks, dim) or (dim,)")
        X.append(emb)
        ids.extend([track.track_id] * len(emb))
    if not X:
        raise DataError(table.name, "no track could be embedded", str(problems))
    return Embeddings(np.concatenate(X), np.array(ids), description=description)


def embed_with_model(table, model, *, level=None, on_error="raise", problems=None,
                     progress=True):
    """Chunk embeddings of every track of ``table`` from a zoo model, one row
    per chunk, by :func:`era_zoo.inference.embed_tracks` (each track's mel
    when it has one of the model's preset, else its audio at the model's
    rate; non-overlapping chunks of the model's input length, a short track
    repeated to one chunk).

    Args:
        table: a :class:`~era_zoo.data.table.TrackTable`.
        model: a zoo model.
        level: one of :func:`era_zoo.inference.embedding_levels` (None: the
            model's default, :func:`era_zoo.inference.default_level`:
            ``"trunk"`` for paper B's models, ``"projection"`` for the era
            models, ``"penultimate"`` for the musicnn taggers).
        on_error: ``"raise"`` or ``"skip"`` (counted in ``problems``).
        problems: a :class:`~era_zoo.data.problems.ProblemReport`.
        progress: show a progress bar.

    Returns:
        :class:`Embeddings` with the track id of each row.

    Example:
        >>> emb = embed_with_model(read_dataset("gtzan", root), era_zoo.load("contrastive_a2p"),
        ...                        level="trunk")  # doctest: +SKIP
    """
    from ..inference import default_level, embed_tracks
    level = default_level(model) if level is None else level
    emb = embed_tracks(model, table, level=level, on_error=on_error, problems=problems,
                       progress=progress)
    ids = np.array([table.tracks[p].track_id for p in emb.owner])
    return Embeddings(emb.X, ids,
                      description=f"{getattr(model, 'name', type(model).__name__)} ({level})",
                      level=level)


def embed_with_callable(table, fn, *, sample_rate=16000, on_error="raise", problems=None,
                        progress=True):
    """Embeddings from ``fn(waveform, sample_rate)`` for each track's audio
    (decoded mono at ``sample_rate``); ``fn`` returns (n_chunks, d) or (d,).

    Args:
        table: a TrackTable.
        fn: the embedding function (another system's model, for instance).
        sample_rate: the rate ``fn`` takes, in Hz.
        on_error: ``"raise"`` or ``"skip"`` (counted in ``problems``).
        problems: a ProblemReport.
        progress: show a progress bar.

    Example:
        >>> emb = embed_with_callable(table, lambda w, sr: w[:8][None], sample_rate=16000,
        ...                           progress=False)  # doctest: +SKIP
    """
    return _embed_callable(table, fn, sample_rate=sample_rate, on_error=on_error,
                           problems=problems, progress=progress,
                           description=f"callable {getattr(fn, '__name__', type(fn).__name__)}")


def embed_table(table, source, **kw):
    """Embeddings of ``table`` from any source.

    Args:
        table: a TrackTable.
        source: an ``Embeddings`` (returned as is), a path to an ``.npz``, an
            era_zoo model (has ``embed``: :func:`embed_with_model`) or a
            callable (:func:`embed_with_callable`).
        **kw: the options of the route taken (``level``, ``sample_rate``,
            ``on_error``, ``problems``, ``progress``).

    Example:
        >>> emb = embed_table(table, era_zoo.load("contrastive_a2p"), level="trunk")  # doctest: +SKIP
    """
    if isinstance(source, Embeddings):
        return source
    if isinstance(source, (str, os.PathLike)):
        return load_embeddings(source)
    if hasattr(source, "embed"):
        keep = {k: kw[k] for k in ("level", "on_error", "problems", "progress") if k in kw}
        return embed_with_model(table, source, **keep)
    if callable(source):
        keep = {k: kw[k] for k in ("sample_rate", "on_error", "problems", "progress") if k in kw}
        return embed_with_callable(table, source, **keep)
    raise ConfigError("source", f"cannot get embeddings from {type(source).__name__}",
                      "give an .npz path, an Embeddings, an era_zoo model or a callable")


def coverage(table, embeddings):
    """Per split: tracks in the table, tracks with embeddings, missing ids (a few)."""
    out = {}
    for split in sorted({t.split for t in table.tracks}, key=str):
        tracks = [t for t in table.tracks if t.split == split]
        missing = [t.track_id for t in tracks if len(embeddings.rows_of(t)) == 0]
        out[str(split)] = {"tracks": len(tracks), "embedded": len(tracks) - len(missing),
                           "missing_examples": missing[:5]}
    return out
