"""Track embeddings from a model's audio encoder: one per non-overlapping
``n_frames`` chunk, and their mean as the track's embedding (paper B, 3.3).
"""
import numpy as np

from ..errors import AudioError, ConfigError

LEVELS = ("projection", "trunk")


def chunk_mel(mel, n_frames):
    """(n_mels, frames) -> (n_chunks, n_mels, n_frames), non-overlapping,
    the incomplete tail dropped. A track shorter than one chunk is padded at
    the end with its own minimum (the log-mel of its quietest bin), so every
    track gets at least one embedding."""
    frames = mel.shape[1]
    if frames < n_frames:
        pad = np.full((mel.shape[0], n_frames - frames), mel.min(), mel.dtype)
        mel = np.concatenate([mel, pad], axis=1)
        frames = n_frames
    n_chunks = frames // n_frames
    chunks = mel[:, :n_chunks * n_frames].reshape(mel.shape[0], n_chunks, n_frames)
    return np.ascontiguousarray(chunks.transpose(1, 0, 2))


def waveform_to_mel(wave, sample_rate, spec):
    """Mono waveform -> (n_mels, frames) log-mel with the model's MelSpec,
    resampled first when ``sample_rate`` differs from the spec's."""
    from ..audio.decode import RESAMPLE_QUALITY
    from ..audio.mel import LogMel

    if sample_rate is None:
        raise ConfigError("sample_rate", "is needed to embed a waveform",
                          f"pass sample_rate= (the model expects {spec.sample_rate} Hz)")
    wave = np.asarray(wave, dtype=np.float32)
    if sample_rate != spec.sample_rate:
        import soxr
        wave = soxr.resample(wave, sample_rate, spec.sample_rate,
                             quality=RESAMPLE_QUALITY).astype(np.float32)
    return np.asarray(LogMel(spec)(wave[None]))[0]


def as_chunks(x, spec, n_frames, sample_rate=None):
    """A waveform (samples,), a track's mel (n_mels, frames) or chunks
    (n_chunks, n_mels, n_frames) -> float32 chunks."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        raise AudioError("<input>", "is empty")
    if not np.isfinite(x).all():
        raise AudioError("<input>", f"{int(np.count_nonzero(~np.isfinite(x)))} "
                                    "value(s) are NaN or infinite")
    if x.ndim == 1:
        x = waveform_to_mel(x, sample_rate, spec)
    if x.ndim == 2:
        if x.shape[0] != spec.n_mels:
            raise ConfigError("mel", f"has {x.shape[0]} bands, the model takes "
                                     f"{spec.n_mels} (layout (n_mels, frames))")
        x = chunk_mel(x, n_frames)
    if x.ndim != 3 or x.shape[1:] != (spec.n_mels, n_frames):
        raise ConfigError("mel", f"shape {x.shape} is neither a waveform, a "
                                 f"({spec.n_mels}, frames) mel nor "
                                 f"(n_chunks, {spec.n_mels}, {n_frames}) chunks")
    return x


def embed_chunks(audio_encoder, chunks, level="projection", batch_size=64):
    """(n, n_mels, n_frames) -> (n, d) float32 embeddings, inference mode."""
    if level not in LEVELS:
        raise ConfigError("level", f"unknown level {level!r}", f"one of {', '.join(LEVELS)}")
    out = []
    for i in range(0, len(chunks), batch_size):
        h = audio_encoder.trunk(chunks[i:i + batch_size], training=False)
        if level == "projection":
            h = audio_encoder.project(h, training=False)
        out.append(np.asarray(h, dtype=np.float32))
    return np.concatenate(out)


def embed(audio_encoder, spec, x, sample_rate=None, level="projection", batch_size=64):
    """{"chunks": (n_chunks, d), "track": (d,)} for one track given as a
    waveform (needs ``sample_rate``), a (n_mels, frames) mel or ready chunks.
    ``level``: "projection" (the output_dim embedding the losses see) or
    "trunk" (the flattened conv features, 1024-d in paper B)."""
    chunks = as_chunks(x, spec, audio_encoder.n_frames, sample_rate)
    emb = embed_chunks(audio_encoder, chunks, level, batch_size)
    return {"chunks": emb, "track": emb.mean(axis=0)}
