"""Embeddings from a model's audio encoder: one per non-overlapping
``n_frames`` chunk, and their mean as the track's embedding (paper B, 3.3).

The chunks come from :mod:`era_zoo.inference.inputs` (one padding rule, one
mel-or-audio rule for every caller).
"""
import numpy as np

from ..errors import ConfigError

LEVELS = ("projection", "trunk")


def _check_levels(level):
    levels = (level,) if isinstance(level, str) else tuple(level)
    for name in levels:
        if name not in LEVELS:
            raise ConfigError("level", f"unknown level {name!r}", f"one of {', '.join(LEVELS)}")
    return levels


def embed_chunks(audio_encoder, chunks, level="projection", batch_size=64):
    """Embeddings of ready chunks, in inference mode.

    Args:
        audio_encoder: a model's :class:`~era_zoo.layers.audio_encoder.AudioEncoder`.
        chunks: float32 array (n, n_mels, n_frames).
        level: ``"projection"`` (the output_dim embedding the losses see),
            ``"trunk"`` (the flattened conv features, 1024-d in paper B), or a
            tuple of both, computed from one pass of the trunk.
        batch_size: chunks per encoder call.

    Returns:
        float32 (n, d) for one level; ``{level: (n, d)}`` for a tuple.

    Example:
        >>> import numpy as np, era_zoo
        >>> small = era_zoo.registry.model_info("audio_cnn").test_config
        >>> model = era_zoo.create_model("audio_cnn", **small)
        >>> embed_chunks(model.audio_encoder, np.zeros((3, 48, 64), np.float32)).shape
        (3, 16)
    """
    levels = _check_levels(level)
    out = {name: [] for name in levels}
    for i in range(0, len(chunks), batch_size):
        trunk = audio_encoder.trunk(chunks[i:i + batch_size], training=False)
        if "trunk" in out:
            out["trunk"].append(np.asarray(trunk, dtype=np.float32))
        if "projection" in out:
            out["projection"].append(np.asarray(audio_encoder.project(trunk, training=False),
                                                dtype=np.float32))
    out = {name: np.concatenate(parts) for name, parts in out.items()}
    return out[level] if isinstance(level, str) else out


def embed(audio_encoder, spec, x, sample_rate=None, level="projection", batch_size=64):
    """Embeddings of one track: ``{"chunks": (n_chunks, d), "track": (d,)}``.

    Args:
        audio_encoder: the model's audio encoder.
        spec: the model's MelSpec.
        x: a waveform (samples,) (needs ``sample_rate``), a (n_mels, frames)
            mel or ready (n_chunks, n_mels, n_frames) chunks; cut and padded
            by :func:`era_zoo.inference.inputs.as_chunks`.
        sample_rate: the waveform's rate in Hz.
        level: ``"projection"`` or ``"trunk"``.
        batch_size: chunks per encoder call.

    Example:
        >>> import numpy as np, era_zoo
        >>> small = era_zoo.registry.model_info("audio_cnn").test_config
        >>> model = era_zoo.create_model("audio_cnn", **small)
        >>> embed(model.audio_encoder, model.mel_spec, np.zeros((48, 130), np.float32))["chunks"].shape
        (2, 16)
    """
    from ..inference.inputs import as_chunks

    if not isinstance(level, str):
        raise ConfigError("level", f"{level!r}: one level per call", f"one of {', '.join(LEVELS)}")
    _check_levels(level)
    chunks = as_chunks(x, spec, audio_encoder.n_frames, sample_rate)
    emb = embed_chunks(audio_encoder, chunks, level, batch_size)
    return {"chunks": emb, "track": emb.mean(axis=0)}
