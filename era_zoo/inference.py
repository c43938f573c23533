"""Using a trained model on audio files: era predictions and embeddings.

The command line's ``era-zoo predict`` and ``era-zoo embed`` are thin
wrappers over these functions. A file that cannot be read gives a per-file
error and the rest carry on.
"""
from pathlib import Path

import numpy as np

from .audio.decode import load_audio
from .errors import ConfigError, DataError, EraZooError


def load_model(model, weights=None):
    """A zoo model from a registry name (with its pretrained preset unless
    ``weights`` names another preset or file) or from a saved ``.keras``
    file, loaded in safe mode."""
    from . import registry

    path = Path(str(model))
    if path.suffix == ".keras":
        if not path.is_file():
            raise DataError(path, "model file not found")
        import keras
        from .models.base import ZooModel

        loaded = keras.saving.load_model(path, safe_mode=True)
        if not isinstance(loaded, ZooModel):
            raise DataError(path, f"holds a {type(loaded).__name__}, not an era_zoo model")
        return loaded
    if weights is None:
        return registry.load(model)
    return registry.load(model, weights=weights)


def model_batch(model, chunks, artist_text=None):
    """The model's input dict for (n, n_mels, n_frames) audio chunks of one
    track. ``artist_text``: that track's artist-text input (one row, repeated
    over the chunks) for a model that reads one; otherwise inputs other than
    the mel are left empty (all-padding token ids or a zero vector: "artist
    unknown")."""
    batch = model.example_batch(len(chunks))
    batch["mel"] = chunks
    if artist_text is not None and "artist_text" in batch:
        batch["artist_text"] = np.repeat(artist_text, len(chunks), axis=0)
    return batch


def _check_era_model(model):
    if not hasattr(model, "predict_year"):
        raise ConfigError("model", f"{type(model).__name__} is not an era model",
                          "use audio_cnn, audio_suc or audioart_mmc")


def predict_era(model, wave, sample_rate, top=3):
    """Era of one track from its waveform: class probabilities averaged over
    the track's non-overlapping chunks, then the expected year, the ``top``
    most probable year classes and the decade probabilities."""
    from .models.embedding import as_chunks

    _check_era_model(model)
    chunks = as_chunks(wave, model.mel_spec, model.audio_encoder.n_frames, sample_rate)
    out = model.predict_year(model_batch(model, chunks))
    probs = out["probabilities"].mean(axis=0)
    bins = model.year_bins
    order = np.argsort(probs)[::-1][:top]
    decade_probs = bins.decade_probs(probs[None])[0]
    return {
        "expected_year": float(probs @ bins.centres),
        "top_years": [{"years": list(bins.class_range(int(c))), "probability": float(probs[c])}
                      for c in order],
        "decades": {int(d): float(p) for d, p in zip(bins.decades, decade_probs)},
        "chunks": int(len(chunks)),
    }


def predict_files(model, files, top=3, on_file=None):
    """``predict_era`` over audio files: {"file", "result"} or {"file",
    "error"} per file. ``on_file(row)`` is called as each one finishes."""
    _check_era_model(model)
    rows = []
    for f in files:
        try:
            wave = load_audio(f, model.mel_spec.sample_rate)
            row = {"file": str(f), "result": predict_era(model, wave,
                                                          model.mel_spec.sample_rate, top)}
        except EraZooError as e:
            row = {"file": str(f), "error": str(e)}
        rows.append(row)
        if on_file:
            on_file(row)
    return rows


def embed_files(model, files, level="projection", on_file=None):
    """Chunk embeddings of audio files in the benchmark harness's layout:
    (X rows, IDS per row = the file's stem, errors {file: message})."""
    X, ids, errors = [], [], {}
    for f in files:
        try:
            wave = load_audio(f, model.mel_spec.sample_rate)
            emb = model.embed(wave, sample_rate=model.mel_spec.sample_rate, level=level)
            X.append(emb["chunks"])
            ids.extend([Path(f).stem] * len(emb["chunks"]))
            if on_file:
                on_file(f, len(emb["chunks"]), None)
        except EraZooError as e:
            errors[str(f)] = str(e)
            if on_file:
                on_file(f, 0, str(e))
    if not X:
        return np.zeros((0, 0), np.float32), np.array([], dtype=str), errors
    return np.concatenate(X), np.array(ids), errors
