"""Embeddings of ready chunks from a model's audio encoder, at its two
levels. A track's chunks come from :mod:`era_zoo.inference.inputs` and its
embedding (the mean over its chunks, paper B 3.3) from
:func:`era_zoo.inference.embed`.
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
        >>> from era_zoo.registry import model_info
        >>> small = model_info("audio_cnn").test_config
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

