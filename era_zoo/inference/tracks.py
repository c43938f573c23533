"""Embeddings and era predictions of one input, of a table's tracks and of
files: the one path behind the benchmarks, the projector, ``era-zoo
predict|embed|project`` and the demo.

A track's rows depend on that track alone (its chunks go through the model
by themselves), so the same track gives the same rows through every entry
point, whatever else is embedded with it. Files are read ahead in a few
threads (decoding and resampling release the GIL) while the model runs.
"""
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .inputs import as_chunks, file_track, track_chunks

DECODE_WORKERS = min(4, os.cpu_count() or 1)
YEAR_FROM = ("argmax", "expected")


# ------------------------------------------------------------------ one input

def input_frames(model):
    """Frames of one input chunk of ``model``: its audio encoder's, or the
    model's own ``n_frames`` (the musicnn taggers, which have no
    :class:`~era_zoo.layers.audio_encoder.AudioEncoder`).

    Example:
        >>> input_frames(era_zoo.load("musicnn_msd"))  # doctest: +SKIP
        187
    """
    encoder = getattr(model, "audio_encoder", None)
    return model.n_frames if encoder is None else encoder.n_frames


def minimum_frames(model):
    """The fewest mel frames of real audio a file must give for
    ``era-zoo predict``, ``embed`` and ``tag`` (and the ``*_files``
    functions behind them); shorter files are refused, since padding by
    repetition would make up the rest.

    Era models (a year from each whole chunk): one whole input chunk. Other
    models (embeddings, tags): half a chunk, so at least half of every
    chunk is the file's own audio. In seconds (:func:`minimum_seconds`):
    5.92 s for the era presets (era224: 256 frames of 512 samples at
    22,050 Hz), 2.03 s for paper B's models (melon48), 1.49 s for the
    musicnn taggers (187-frame patches).

    Args:
        model: a zoo model or tagger.

    Example:
        >>> minimum_frames(era_zoo.load("audio_cnn"))  # doctest: +SKIP
        256
    """
    n = input_frames(model)
    return n if hasattr(model, "predict_year") else (n + 1) // 2


def minimum_seconds(model):
    """:func:`minimum_frames` as seconds of audio at the model's rate (a
    centred STFT gives ``1 + samples // hop`` frames).

    Args:
        model: a zoo model or tagger.

    Example:
        >>> round(minimum_seconds(era_zoo.load("musicnn_msd")), 2)  # doctest: +SKIP
        1.49
    """
    spec = model.mel_spec
    return (minimum_frames(model) - 1) * spec.hop_length / spec.sample_rate


def embedding_levels(model):
    """The levels ``model`` embeds at, its default first: the model's
    ``levels`` led by its ``default_level`` ("trunk", the 1024-d features
    paper B's reference saves, for paper B's models; "projection" for the
    era models; the taggers' first level, e.g. musicnn's "penultimate").

    Args:
        model: a zoo model or tagger (a model class works too).

    Example:
        >>> embedding_levels(era_zoo.create_model("contrastive_a2p"))  # doctest: +SKIP
        ('trunk', 'projection')
        >>> embedding_levels(era_zoo.load("musicnn_vgg_msd"))  # doctest: +SKIP
        ('pool5_flat', 'taggram')
    """
    from ..models.embedding import LEVELS
    levels = tuple(getattr(model, "levels", LEVELS))
    default = getattr(model, "default_level", None) or levels[0]
    return (default, *(level for level in levels if level != default))


def default_level(model):
    """The level ``model`` embeds at when none is asked for (see
    :func:`embedding_levels`).

    Args:
        model: a zoo model, tagger or model class.

    Example:
        >>> from era_zoo.models import AudioCNN, ContrastiveA2P
        >>> default_level(ContrastiveA2P), default_level(AudioCNN)
        ('trunk', 'projection')
    """
    return embedding_levels(model)[0]


def chunk_embeddings(model, chunks, level=None, batch_size=64):
    """Embeddings of ready chunks (n, n_mels, n_frames) in inference mode.

    Args:
        model: a zoo model: its audio encoder, or its own ``embed_chunks``
            (the taggers).
        chunks: float32 array.
        level: one of :func:`embedding_levels` (None: the first), or a tuple
            of them computed in one pass.
        batch_size: chunks per call.

    Returns:
        float32 (n, d) for one level; ``{level: (n, d)}`` for a tuple.

    Example:
        >>> chunk_embeddings(model, np.zeros((3, 48, 64), np.float32)).shape  # doctest: +SKIP
        (3, 16)
    """
    level = default_level(model) if level is None else level
    if hasattr(model, "embed_chunks"):
        return model.embed_chunks(chunks, level, batch_size)
    from ..models.embedding import embed_chunks
    return embed_chunks(model.audio_encoder, chunks, level, batch_size)


def embed(model, x, sample_rate=None, level=None, batch_size=64):
    """Embeddings of one track from a model's audio encoder.

    Args:
        model: a zoo model (any family).
        x: a waveform (samples,) (needs ``sample_rate``), a (n_mels, frames)
            mel or (n_chunks, n_mels, n_frames) chunks.
        sample_rate: the waveform's rate in Hz (resampled to the model's).
        level: one of :func:`embedding_levels` (None: the model's default,
            :func:`default_level`: ``"trunk"`` for paper B's models).
        batch_size: chunks per encoder call.

    Returns:
        ``{"chunks": (n_chunks, d), "track": (d,)}`` float32.

    Example:
        >>> import numpy as np, era_zoo
        >>> from era_zoo.registry import model_info
        >>> small = model_info("audio_cnn").test_config
        >>> model = era_zoo.create_model("audio_cnn", **small)
        >>> embed(model, np.zeros(8000, np.float32), 16000)["chunks"].shape  # half a chunk
        (1, 16)
    """
    if not isinstance(level, (str, type(None))):
        raise ConfigError("level", f"{level!r}: one level per call",
                          f"one of {', '.join(embedding_levels(model))}")
    chunks = as_chunks(x, model.mel_spec, input_frames(model), sample_rate)
    emb = chunk_embeddings(model, chunks, level, batch_size)
    return {"chunks": emb, "track": emb.mean(axis=0)}


def check_era_model(model):
    """Raise ConfigError unless ``model`` predicts eras.

    Args:
        model: any model.

    Example:
        >>> check_era_model(era_zoo.create_model("contrastive_a2p"))  # doctest: +SKIP
        Traceback (most recent call last):
        ConfigError: model: ContrastiveA2P is not an era model (use audio_cnn, ...)
    """
    if not hasattr(model, "predict_year"):
        raise ConfigError("model", f"{type(model).__name__} is not an era model",
                          "use audio_cnn, audio_suc or audioart_mmc")


def reads_artist_text(model):
    """Whether ``model`` has an artist-text input (AudioArt-MMC).

    Args:
        model: a zoo model.

    Example:
        >>> reads_artist_text(era_zoo.create_model("audio_cnn"))  # doctest: +SKIP
        False
    """
    return "artist_text" in model.example_batch(1)


def text_row(model, ids):
    """One track's artist-text input checked against the model's text
    encoder: int32 token ids (seq_len,) for a transformer, float32 (D,) for
    precomputed vectors.

    Args:
        model: a model with an artist-text input.
        ids: the track's row ((L,) or (1, L)).

    Example:
        >>> text_row(model, tokenizer.tokenize(["Viennese pianist"])[0])  # doctest: +SKIP
    """
    template = model.example_batch(1).get("artist_text")
    if template is None:
        raise ConfigError("artist_text", f"{type(model).__name__} reads no artist text",
                          "only AudioArt-MMC takes artist text")
    row = np.asarray(ids)
    if row.shape != template.shape[1:]:
        row = row.reshape(-1) if row.ndim == 2 and len(row) == 1 else row
    if row.shape != template.shape[1:]:
        raise ConfigError("artist_text", f"shape {np.shape(ids)} does not fit the model's "
                                         f"text input {template.shape[1:]}",
                          "tokenize with the tokenizer the model was trained with")
    if template.dtype.kind in "iu" and row.dtype.kind not in "iu":
        raise ConfigError("artist_text", f"the model reads token ids, got {row.dtype} values",
                          "tokenize the text (the preset's or run's artist_text tokenizer)")
    return row.astype(template.dtype, copy=False)


def model_batch(model, chunks, artist_text=None):
    """The model's input dict for one track's chunks.

    Args:
        model: a zoo model.
        chunks: float32 (n, n_mels, n_frames).
        artist_text: that track's artist-text input (one row, repeated over
            the chunks; see :func:`text_row`) for a model that reads one.
            Without it the text is empty (all-padding token ids or a zero
            vector: "artist unknown", the audio-only setting).

    Example:
        >>> batch = model_batch(model, chunks)  # doctest: +SKIP
        >>> sorted(batch)  # doctest: +SKIP
        ['artist_text', 'mel']
    """
    batch = model.example_batch(len(chunks))
    batch["mel"] = chunks
    if artist_text is not None:
        batch["artist_text"] = np.repeat(text_row(model, artist_text)[None], len(chunks), axis=0)
    return batch


def chunk_probabilities(model, chunks, artist_text=None):
    """Era class probabilities of each chunk: float32 (n, n_classes).

    Args:
        model: an era model.
        chunks: float32 (n, n_mels, n_frames).
        artist_text: the track's artist-text row (see :func:`model_batch`).

    Example:
        >>> chunk_probabilities(model, chunks).sum(axis=1)  # doctest: +SKIP
        array([1., 1.], dtype=float32)
    """
    check_era_model(model)
    return np.asarray(model.predict_year(model_batch(model, chunks, artist_text))["probabilities"])


def era_probabilities(model, chunks, artist_text=None):
    """A track's era probabilities: its chunks' class probabilities averaged
    (float64 (n_classes,), in ``model.year_bins`` order).

    Args:
        model: an era model.
        chunks: the track's chunks (:func:`~era_zoo.inference.inputs.as_chunks`).
        artist_text: the track's artist-text row, for AudioArt-MMC.

    Example:
        >>> p = era_probabilities(model, as_chunks(mel, model.mel_spec, 256))  # doctest: +SKIP
    """
    return chunk_probabilities(model, chunks, artist_text).astype(np.float64).mean(axis=0)


def predicted_year(probs, year_bins, year_from="argmax"):
    """Years from class probabilities.

    Args:
        probs: (n_classes,) or (n, n_classes).
        year_bins: the model's :class:`~era_zoo.models.year_bins.YearBins`.
        year_from: ``"argmax"``, the centre of the most probable class (paper
            A classifies into year ranges), or ``"expected"``, the
            probability-weighted mean of the centres.

    Example:
        >>> import numpy as np
        >>> from era_zoo.models.year_bins import YearBins
        >>> float(predicted_year(np.array([0.1, 0.6, 0.3]), YearBins(1960, 1989, 10)))
        1974.5
    """
    if year_from not in YEAR_FROM:
        raise ConfigError("year_from", f"{year_from!r} is not one of {YEAR_FROM}")
    probs = np.asarray(probs, np.float64)
    centres = year_bins.centres
    if year_from == "expected":
        return (probs / probs.sum(-1, keepdims=True)) @ centres
    return centres[probs.argmax(-1)]


def era_summary(year_bins, probs, top=3):
    """What ``era-zoo predict`` reports of a track's probabilities.

    Args:
        year_bins: the model's YearBins.
        probs: the track's class probabilities (n_classes,).
        top: how many most probable year classes to list.

    Returns:
        A dict: ``expected_year``, ``top_year`` (centre of the most probable
        class), ``top_years`` ([{"years": [first, last], "probability"}]),
        ``decades`` ({decade: probability}) and ``probabilities`` (all
        classes, in ``year_bins`` order).

    Example:
        >>> from era_zoo.models.year_bins import YearBins
        >>> era_summary(YearBins(1960, 1979, 10), [0.25, 0.75], top=1)["top_years"]
        [{'years': [1970, 1979], 'probability': 0.75}]
    """
    probs = np.asarray(probs, np.float64)
    order = np.argsort(probs, kind="stable")[::-1][:top]
    decade_probs = year_bins.decade_probs(probs[None])[0]
    return {
        "expected_year": float(predicted_year(probs, year_bins, "expected")),
        "top_year": float(predicted_year(probs, year_bins, "argmax")),
        "top_years": [{"years": list(year_bins.class_range(int(c))), "probability": float(probs[c])}
                      for c in order],
        "decades": {int(d): float(p) for d, p in zip(year_bins.decades, decade_probs)},
        "probabilities": [float(p) for p in probs],
    }


def predict_era(model, x, sample_rate=None, top=3, artist_text=None):
    """Era of one track: :func:`era_summary` of its averaged chunk
    probabilities, plus ``chunks`` (how many were averaged).

    Args:
        model: an era model.
        x: a waveform (needs ``sample_rate``), a (n_mels, frames) mel or chunks.
        sample_rate: the waveform's rate in Hz.
        top: how many year classes to list.
        artist_text: the track's artist-text row (AudioArt-MMC).

    Example:
        >>> from era_zoo.audio.decode import load_audio
        >>> model = era_zoo.load("audio_cnn")  # doctest: +SKIP
        >>> predict_era(model, load_audio("song.ogg", 22050), 22050)["expected_year"]  # doctest: +SKIP
        1891.3
    """
    check_era_model(model)
    chunks = as_chunks(x, model.mel_spec, input_frames(model), sample_rate)
    result = era_summary(model.year_bins, era_probabilities(model, chunks, artist_text), top)
    result["chunks"] = int(len(chunks))
    return result


# ------------------------------------------------------------------ many tracks

@dataclass
class TrackEmbeddings:
    """Chunk embeddings of the tracks that could be read.

    ``positions``: int64 (n,) positions of those tracks in the table given;
    ``chunks``: one float32 (n_chunks, d) array per track, in that order.

    Example:
        >>> emb = embed_tracks(model, table)  # doctest: +SKIP
        >>> emb.X.shape, emb.owner.shape, emb.means.shape  # doctest: +SKIP
        ((37, 128), (37,), (12, 128))
    """
    positions: np.ndarray
    chunks: list

    @property
    def X(self):
        """All chunk rows, (sum of n_chunks, d)."""
        return np.concatenate(self.chunks)

    @property
    def owner(self):
        """The table position of each row of ``X``."""
        return np.repeat(self.positions, [len(c) for c in self.chunks])

    @property
    def means(self):
        """One row per track: the mean of its chunks (paper B's track embedding)."""
        return np.stack([c.mean(axis=0) for c in self.chunks])


def iter_track_chunks(model, tracks, *, mel_preset=None, workers=DECODE_WORKERS, overlap=0,
                      min_frames=None):
    """``(position, track, chunks or DataError)`` for each track, in order;
    inputs are read ahead in ``workers`` threads.

    Args:
        model: a zoo model (its mel spec and input length).
        tracks: a sequence of :class:`~era_zoo.data.table.Track`.
        mel_preset: the preset of the tracks' mels where known
            (``table.extras["mel_preset"]``).
        workers: decoding threads.
        overlap: frames shared by neighbouring chunks (0: non-overlapping).
        min_frames: shorter tracks give an AudioError (see
            :func:`minimum_frames`); None: any length, padded by repetition.

    Example:
        >>> for pos, track, chunks in iter_track_chunks(model, table.tracks):  # doctest: +SKIP
        ...     print(track.track_id, getattr(chunks, "shape", chunks))
    """
    spec, n_frames = model.mel_spec, input_frames(model)

    def read(track):
        try:
            return track_chunks(track, spec, n_frames, mel_preset, overlap, min_frames)[0]
        except DataError as e:  # AudioError included
            return e

    pool = ThreadPoolExecutor(max(1, int(workers)), thread_name_prefix="era_zoo-decode")
    try:
        pending, it = deque(), iter(enumerate(tracks))
        for _ in range(2 * max(1, int(workers))):
            item = next(it, None)
            if item is None:
                break
            pending.append((*item, pool.submit(read, item[1])))
        while pending:
            pos, track, future = pending.popleft()
            item = next(it, None)
            if item is not None:
                pending.append((*item, pool.submit(read, item[1])))
            yield pos, track, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _problems(problems):
    from ..data.problems import ProblemReport
    return problems if problems is not None else ProblemReport()


def _progress(tracks, progress, desc):
    from tqdm.auto import tqdm
    return tqdm(tracks, desc=desc, unit="track", disable=not progress, leave=False)


def embed_tracks(model, table, *, level=None, on_error="raise", problems=None,
                 progress=False, batch_size=64):
    """Chunk embeddings of every track of a table.

    Each track is read by the mel-or-audio rule
    (:func:`~era_zoo.inference.inputs.track_input`), cut into the model's
    chunks (short tracks repeated) and embedded chunk by chunk.

    Args:
        model: a zoo model.
        table: a :class:`~era_zoo.data.table.TrackTable`.
        level: one of :func:`embedding_levels` (None: the model's default,
            :func:`default_level`: ``"trunk"`` for paper B's models) or a
            tuple of them (one pass).
        on_error: ``"raise"`` or ``"skip"`` (unreadable tracks left out,
            counted in ``problems``).
        problems: a :class:`~era_zoo.data.problems.ProblemReport`.
        progress: show a progress bar.
        batch_size: chunks per encoder call.

    Returns:
        :class:`TrackEmbeddings` (a dict of them per level for a tuple).

    Raises:
        DataError: no track could be embedded.

    Example:
        >>> from era_zoo.data import read_dataset
        >>> emb = embed_tracks(model, read_dataset("gtzan", root), level="trunk")  # doctest: +SKIP
        >>> emb.means.shape  # doctest: +SKIP
        (1000, 1024)
    """
    problems = _problems(problems)
    level = default_level(model) if level is None else level
    levels = (level,) if isinstance(level, str) else tuple(level)
    positions, rows = [], {name: [] for name in levels}
    stream = iter_track_chunks(model, table.tracks, mel_preset=table.extras.get("mel_preset"))
    for pos, track, chunks in _progress(stream, progress, f"embedding {table.name}"):
        if isinstance(chunks, DataError):
            problems.raise_or_skip(chunks, on_error, "embedding")
            continue
        out = chunk_embeddings(model, chunks, levels, batch_size)
        positions.append(pos)
        for name in levels:
            rows[name].append(out[name])
    if not positions:
        raise DataError(table.name, "no track could be embedded", str(problems))
    positions = np.array(positions, np.int64)
    result = {name: TrackEmbeddings(positions, rows[name]) for name in levels}
    return result[level] if isinstance(level, str) else result


def _text_for(model, artist_text):
    """track -> artist-text row (or None) from an ArtistTextTable, a callable
    or None."""
    if artist_text is None:
        return lambda track: None
    if not reads_artist_text(model):
        raise ConfigError("artist_text", f"{type(model).__name__} reads no artist text",
                          "only AudioArt-MMC takes artist text")
    if callable(artist_text):
        return artist_text
    if hasattr(artist_text, "lookup"):
        return lambda track: artist_text.lookup([track.artist_id], missing="empty")[0][0]
    raise ConfigError("artist_text", f"cannot read artist text from {type(artist_text).__name__}",
                      "give an ArtistTextTable or a function track -> token ids")


def predict_tracks(model, table, *, artist_text=None, on_error="raise", problems=None,
                   progress=False):
    """Era probabilities of every track of a table: each track's chunk
    probabilities averaged.

    Args:
        model: an era model.
        table: a TrackTable.
        artist_text: None (audio only), an
            :class:`~era_zoo.sideinfo.artist_text.ArtistTextTable` (each
            track fed its artist's token ids; unknown artists get none), or a
            function ``track -> token ids`` (may raise DataError).
        on_error: ``"raise"`` or ``"skip"`` (counted in ``problems``).
        problems: a ProblemReport.
        progress: show a progress bar.

    Returns:
        ``(probabilities float64 (n, n_classes), positions int64 (n,))`` of
        the tracks that could be read.

    Example:
        >>> probs, positions = predict_tracks(model, table.split("test"))  # doctest: +SKIP
        >>> predicted_year(probs, model.year_bins)  # doctest: +SKIP
    """
    check_era_model(model)
    problems = _problems(problems)
    text_for = _text_for(model, artist_text)
    probs, positions = [], []
    stream = iter_track_chunks(model, table.tracks, mel_preset=table.extras.get("mel_preset"))
    for pos, track, chunks in _progress(stream, progress, "era predictions"):
        try:
            if isinstance(chunks, DataError):
                raise chunks
            p = era_probabilities(model, chunks, text_for(track))
        except DataError as e:
            problems.raise_or_skip(e, on_error, "prediction")
            continue
        probs.append(p)
        positions.append(pos)
    if not probs:
        raise DataError(table.name, "no track could be predicted", str(problems))
    return np.array(probs), np.array(positions, np.int64)


# ------------------------------------------------------------------ files

def embed_files(model, files, level=None, on_file=None):
    """Chunk embeddings of files (audio, or ``.npy`` mels) in the benchmark
    harness's layout. A file shorter than :func:`minimum_frames` is an
    error of its own.

    Args:
        model: a zoo model.
        files: paths.
        level: one of :func:`embedding_levels` (None: the model's default).
        on_file: called with ``{"file", "chunks"}`` or ``{"file", "error"}``
            as each file finishes.

    Returns:
        ``(X (rows, d), ids (rows,) = each file's stem, {file: error})``.

    Example:
        >>> X, ids, errors = embed_files(model, ["a.wav", "b.flac"])  # doctest: +SKIP
    """
    X, ids, errors = [], [], {}
    for _, track, chunks in iter_track_chunks(model, [file_track(f) for f in files],
                                              min_frames=minimum_frames(model)):
        if isinstance(chunks, DataError):
            errors[track.track_id] = str(chunks)
            row = {"file": track.track_id, "error": str(chunks)}
        else:
            X.append(chunk_embeddings(model, chunks, level))
            ids.extend([Path(track.track_id).stem] * len(chunks))
            row = {"file": track.track_id, "chunks": len(chunks)}
        if on_file:
            on_file(row)
    if not X:
        return np.zeros((0, 0), np.float32), np.array([], dtype=str), errors
    return np.concatenate(X), np.array(ids), errors


def predict_files(model, files, top=3, artist_text=None, on_file=None):
    """:func:`predict_era` of files (audio, or ``.npy`` mels); a file
    shorter than one whole chunk (:func:`minimum_frames`) is an error of its
    own, not a prediction from repeated audio.

    Args:
        model: an era model.
        files: paths.
        top: year classes listed per file.
        artist_text: None (audio only) or a function ``track -> token ids``
            for AudioArt-MMC (the track id is the path as given; see
            :class:`~era_zoo.inference.text.ArtistTexts`); a DataError it
            raises becomes that file's error.
        on_file: called with each row as its file finishes.

    Returns:
        One row per file: ``{"file", "result"}`` (``result`` as
        :func:`predict_era`'s plus ``inputs``: what the model was fed) or
        ``{"file", "error"}``.

    Example:
        >>> rows = predict_files(era_zoo.load("audio_cnn"), ["song.ogg"])  # doctest: +SKIP
        >>> rows[0]["result"]["top_year"]  # doctest: +SKIP
        1887.0
    """
    check_era_model(model)
    text_for = _text_for(model, artist_text)
    inputs = input_note(model, artist_text is not None)
    rows = []
    for _, track, chunks in iter_track_chunks(model, [file_track(f) for f in files],
                                              min_frames=minimum_frames(model)):
        try:
            if isinstance(chunks, DataError):
                raise chunks
            result = era_summary(model.year_bins, era_probabilities(model, chunks, text_for(track)),
                                 top)
            row = {"file": track.track_id,
                   "result": {**result, "chunks": int(len(chunks)), "inputs": inputs}}
        except DataError as e:
            row = {"file": track.track_id, "error": str(e)}
        rows.append(row)
        if on_file:
            on_file(row)
    return rows


AUDIO_ONLY_NOTE = "audio only: no artist text given"


def input_note(model, with_text):
    """What an era model is fed, as ``era-zoo predict`` says it:
    ``"audio"`` (the model reads nothing else), ``"audio + artist text"`` or
    :data:`AUDIO_ONLY_NOTE`.

    Args:
        model: an era model.
        with_text: whether artist text is given.

    Example:
        >>> input_note(era_zoo.load("audioart_mmc"), False)  # doctest: +SKIP
        'audio only: no artist text given'
    """
    if not reads_artist_text(model):
        return "audio"
    return "audio + artist text" if with_text else AUDIO_ONLY_NOTE
