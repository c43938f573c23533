"""What a model reads from a track: log-mel chunks of its input length.

One rule for each step, shared by every caller (the benchmarks, the
projector, ``era-zoo predict|embed|project``, the demo) and, for padding and
reading ``.npy`` mels, by the training pipeline too:

- **padding**: a track shorter than the model's input is repeated along time
  from its first frame (:func:`repeat_frames`), as training crops of short
  tracks are; music loops more naturally than it falls silent;
- **chunks**: non-overlapping ``n_frames`` chunks, the incomplete tail
  dropped, at least one per track (:func:`chunk_mel`);
- **mel or audio** (:func:`track_input`): a track's precomputed mel when it
  has one that fits the model's mel preset, else its audio decoded mono at the
  model's sample rate (resampled by :func:`era_zoo.audio.decode.resample`);
- **reading a mel** (:func:`open_mel`): a 2-D float ``.npy`` (n_mels, frames),
  never pickled, band count checked against the preset.

This module imports only NumPy at the top, so the tf.data pipeline can share
it without a cycle.
"""
from dataclasses import fields
from pathlib import Path
import threading

import numpy as np

from ..errors import AudioError, ConfigError, DataError
from ..npyfile import load_npy

MEL_SUFFIX = ".npy"


def repeat_frames(mel, frames):
    """The padding rule: ``mel`` repeated along time to exactly ``frames``
    frames, starting from its first frame (a longer mel keeps its first
    ``frames``).

    Args:
        mel: array (n_mels, T) with T >= 1.
        frames: the wanted number of frames.

    Returns:
        An array (n_mels, frames) of ``mel``'s dtype: frame i is ``mel[:, i % T]``.

    Example:
        >>> import numpy as np
        >>> repeat_frames(np.array([[1., 2., 3.]]), 7)
        array([[1., 2., 3., 1., 2., 3., 1.]])
    """
    mel = np.asarray(mel)
    if mel.ndim != 2 or mel.shape[1] == 0:
        raise ConfigError("mel", f"shape {mel.shape} cannot be repeated; expected "
                                 "(n_mels, frames) with at least one frame")
    return mel[:, np.arange(int(frames)) % mel.shape[1]]


def chunk_hop(n_frames, overlap=0):
    """Frames between the starts of neighbouring chunks: ``n_frames -
    overlap``, checked.

    Args:
        n_frames: frames per chunk.
        overlap: frames shared by neighbouring chunks, 0 <= overlap < n_frames.

    Example:
        >>> chunk_hop(187, 87)
        100
    """
    overlap = int(overlap)
    if not 0 <= overlap < int(n_frames):
        raise ConfigError("overlap", f"{overlap} frames; must be >= 0 and below the "
                                     f"chunk length ({n_frames} frames)")
    return int(n_frames) - overlap


def chunk_mel(mel, n_frames, overlap=0):
    """A track's mel cut into the model's input chunks.

    Chunks of ``n_frames`` starting every ``n_frames - overlap`` frames
    (non-overlapping by default), the incomplete tail dropped; a track
    shorter than one chunk gives one chunk, padded by :func:`repeat_frames`.

    Args:
        mel: array (n_mels, T).
        n_frames: frames per chunk (the model's input length).
        overlap: frames shared by neighbouring chunks (:func:`chunk_hop`).

    Returns:
        A contiguous array (1 + (max(T, n_frames) - n_frames) // hop, n_mels, n_frames).

    Example:
        >>> import numpy as np
        >>> chunk_mel(np.zeros((48, 300), np.float32), 128).shape
        (2, 48, 128)
        >>> chunk_mel(np.zeros((48, 300), np.float32), 128, overlap=64).shape
        (3, 48, 128)
    """
    hop = chunk_hop(n_frames, overlap)
    mel = np.asarray(mel)
    if mel.shape[1] < n_frames:
        mel = repeat_frames(mel, n_frames)
    windows = np.lib.stride_tricks.sliding_window_view(mel, n_frames, axis=1)[:, ::hop]
    return np.ascontiguousarray(windows.transpose(1, 0, 2))


def open_mel(path, spec=None):
    """A precomputed mel, memory-mapped: only the frames used are read.

    Args:
        path: an ``.npy`` file holding a float (n_mels, frames) array (Melon's
            layout), read without pickle.
        spec: a :class:`~era_zoo.audio.presets.MelSpec` (or preset name)
            whose band count the mel must have; None checks only the layout.

    Returns:
        The memory-mapped array (values not yet checked: see :func:`read_mel`).

    Raises:
        DataError: naming the file when it is missing, unreadable, not 2-D,
            not floats, empty or of another band count than ``spec``'s.

    Example:
        >>> mel = open_mel("melon/arena_mel/0/0.npy", "melon48")  # doctest: +SKIP
        >>> mel.shape  # doctest: +SKIP
        (48, 1876)
    """
    try:
        mel = load_npy(path, mmap=True)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (OSError, ValueError, EOFError) as e:
        raise DataError(path, f"not a readable .npy array: {e}") from None
    if mel.ndim != 2:
        raise DataError(path, f"mel has shape {mel.shape}, expected (n_mels, frames)")
    if spec is not None:
        from ..audio.presets import get_preset
        spec = get_preset(spec)
        if mel.shape[0] != spec.n_mels:
            raise DataError(path, f"mel has shape {mel.shape}, expected "
                                  f"({spec.n_mels}, frames) for {spec.name}")
    if not np.issubdtype(mel.dtype, np.floating):
        raise DataError(path, f"mel has dtype {mel.dtype}, expected floats")
    if mel.shape[1] == 0:
        raise DataError(path, "mel has zero frames")
    return mel


def checked_mel(mel, path):
    """``mel`` (or a part of it) as float32, refusing NaN and infinities.

    Args:
        mel: array (n_mels, frames), e.g. from :func:`open_mel`.
        path: the file it came from, named in the error.

    Example:
        >>> import numpy as np
        >>> checked_mel(np.zeros((2, 3)), "x.npy").dtype
        dtype('float32')
    """
    mel = np.asarray(mel, dtype=np.float32)
    if not np.isfinite(mel).all():
        raise DataError(path, f"{np.count_nonzero(~np.isfinite(mel))} mel "
                              f"value(s) are NaN or infinite")
    return mel


def read_mel(path, spec=None):
    """A whole precomputed mel as float32: :func:`open_mel`'s checks plus
    finite values.

    Args:
        path: the ``.npy`` file.
        spec: MelSpec or preset name whose band count it must have (optional).

    Example:
        >>> read_mel("melon/arena_mel/0/0.npy", "melon48").shape  # doctest: +SKIP
        (48, 1876)
    """
    return checked_mel(open_mel(path, spec), path)


_filterbanks = {}
_filterbank_lock = threading.Lock()


def waveform_to_mel(wave, sample_rate, spec):
    """A mono waveform as the model's (n_mels, frames) log-mel: resampled
    to the spec's rate by :func:`era_zoo.audio.decode.resample`, then the
    same front-end as :class:`~era_zoo.audio.mel.LogMel` and the pipelines.

    Args:
        wave: 1-D float waveform.
        sample_rate: its rate in Hz (required: a model's rate is not guessed).
        spec: a MelSpec or preset name.

    Example:
        >>> import numpy as np
        >>> waveform_to_mel(np.zeros(16000, np.float32), 16000, "melon48").shape
        (48, 63)
    """
    import keras

    from ..audio.decode import resample
    from ..audio.mel import logmel_ops, mel_filterbank
    from ..audio.presets import get_preset

    spec = get_preset(spec)
    if sample_rate is None:
        raise ConfigError("sample_rate", "is needed to embed a waveform",
                          f"pass sample_rate= (the model expects {spec.sample_rate} Hz)")
    wave = resample(wave, sample_rate, spec.sample_rate)
    with _filterbank_lock:  # decoding threads share one filterbank per spec
        if spec not in _filterbanks:
            _filterbanks[spec] = keras.ops.convert_to_tensor(mel_filterbank(spec).T)
        filterbank_t = _filterbanks[spec]
    mel = logmel_ops(keras.ops.convert_to_tensor(wave[None]), spec, filterbank_t)
    return keras.ops.convert_to_numpy(mel)[0].astype(np.float32, copy=False)


def as_chunks(x, spec, n_frames, sample_rate=None, where="<input>", overlap=0):
    """Any one-track input as the model's float32 chunks.

    Args:
        x: a waveform (samples,) (needs ``sample_rate``), a log-mel
            (n_mels, frames) (cut by :func:`chunk_mel`) or ready chunks
            (n_chunks, n_mels, n_frames).
        spec: the model's MelSpec.
        n_frames: the model's input length in frames.
        sample_rate: the waveform's rate in Hz.
        where: the file the input came from, named in errors.
        overlap: frames shared by neighbouring chunks cut from a waveform
            or mel (:func:`chunk_mel`).

    Returns:
        float32 array (n_chunks, n_mels, n_frames).

    Example:
        >>> import numpy as np
        >>> from era_zoo.audio.presets import get_preset
        >>> as_chunks(np.zeros((48, 100), np.float32), get_preset("melon48"), 64).shape
        (1, 48, 64)
    """
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        raise AudioError(where, "is empty")
    if not np.isfinite(x).all():
        raise AudioError(where, f"{int(np.count_nonzero(~np.isfinite(x)))} "
                                "value(s) are NaN or infinite")
    if x.ndim == 1:
        x = waveform_to_mel(x, sample_rate, spec)
    if x.ndim == 2:
        if x.shape[0] != spec.n_mels:
            raise ConfigError("mel", f"{where} has {x.shape[0]} bands, the model takes "
                                     f"{spec.n_mels} (layout (n_mels, frames))")
        x = chunk_mel(x, n_frames, overlap)
    if x.ndim != 3 or x.shape[1:] != (spec.n_mels, n_frames):
        raise ConfigError("mel", f"shape {x.shape} is neither a waveform, a "
                                 f"({spec.n_mels}, frames) mel nor "
                                 f"(n_chunks, {spec.n_mels}, {n_frames}) chunks")
    return x


def same_spec(a, b):
    """Whether two mel specs compute the same features (their names aside).

    Args:
        a: a MelSpec, preset name or dict of MelSpec fields.
        b: another.

    Example:
        >>> same_spec("melon48", "era224")
        False
    """
    from ..audio.presets import get_preset
    a, b = get_preset(a), get_preset(b)
    return all(getattr(a, f.name) == getattr(b, f.name) for f in fields(a) if f.name != "name")


def track_input(track, spec, mel_preset=None):
    """The mel-or-audio rule: a track's precomputed mel when it has one that
    fits ``spec``, else its audio decoded mono at ``spec.sample_rate``.

    Args:
        track: a :class:`~era_zoo.data.table.Track`.
        spec: the model's MelSpec.
        mel_preset: the preset the table's mels were computed with, where
            its reader says so (``table.extras["mel_preset"]``); without it
            the mel's band count decides whether it fits.

    Returns:
        ``(x, path)``: a float32 mel (n_mels, frames) or waveform (samples,),
        and the file it was read from.

    Raises:
        DataError: naming the file, when it cannot be read, or the track has
            no audio and no mel the model can read.

    Example:
        >>> from era_zoo.data.table import Track
        >>> x, path = track_input(Track("a", audio_path="a.wav"), model.mel_spec)  # doctest: +SKIP
    """
    from ..audio.decode import load_audio

    unfit = None
    if track.mel_path:
        if mel_preset is not None and not same_spec(mel_preset, spec):
            unfit = f"its mel is {mel_preset}, the model reads {spec.name}"
        else:
            # A mel stated to be of the model's preset must have its bands.
            mel = open_mel(track.mel_path, spec if mel_preset is not None else None)
            if mel.shape[0] == spec.n_mels:
                return checked_mel(mel, track.mel_path), track.mel_path
            unfit = (f"its mel has {mel.shape[0]} bands, the model reads "
                     f"{spec.n_mels} ({spec.name})")
    if track.audio_path:
        return load_audio(track.audio_path, spec.sample_rate), track.audio_path
    if unfit:
        raise DataError(track.mel_path, f"track {track.track_id} has no audio and {unfit}",
                        "give the table's audio files, or a model of the mels' preset")
    raise DataError(f"track {track.track_id}", "has neither audio nor a mel file")


def track_chunks(track, spec, n_frames, mel_preset=None, overlap=0, min_frames=None):
    """:func:`track_input` cut by :func:`as_chunks`: ``(chunks, path)``.

    Args:
        track: a :class:`~era_zoo.data.table.Track`.
        spec: the model's MelSpec.
        n_frames: the model's input length in frames.
        mel_preset: the preset of the table's mels where known.
        overlap: frames shared by neighbouring chunks (0: non-overlapping).
        min_frames: refuse (AudioError naming the file) a track whose mel
            has fewer frames of its own, before any padding
            (:func:`~era_zoo.inference.tracks.minimum_frames`); None: any
            length, padded by repetition.

    Example:
        >>> chunks, path = track_chunks(track, model.mel_spec,
        ...                             model.audio_encoder.n_frames)  # doctest: +SKIP
    """
    x, where = track_input(track, spec, mel_preset)
    if min_frames:
        seconds = len(x) / spec.sample_rate if x.ndim == 1 else None
        if x.ndim == 1:
            x = waveform_to_mel(x, spec.sample_rate, spec)
        if x.shape[1] < min_frames:
            seconds = x.shape[1] * spec.hop_length / spec.sample_rate if seconds is None \
                else seconds
            needed = (min_frames - 1) * spec.hop_length / spec.sample_rate
            raise AudioError(where, f"too short: {seconds:.3f} s ({x.shape[1]} mel frames); "
                                    f"the model needs at least {needed:.2f} s "
                                    f"({min_frames} frames) of real audio",
                             "a shorter file would be filled by repeating it")
    return as_chunks(x, spec, n_frames, spec.sample_rate, where=where, overlap=overlap), where


def file_track(path):
    """A file given on a command line as a Track: a ``.npy`` is a
    precomputed mel, anything else audio; the track id is the path as given.

    Args:
        path: the file.

    Example:
        >>> file_track("song.flac").audio_path
        'song.flac'
    """
    from ..data.table import Track

    path = str(path)
    if Path(path).suffix.lower() == MEL_SUFFIX:
        return Track(path, mel_path=path)
    return Track(path, audio_path=path)

