"""Audio files -> mono float32 waveforms at a requested sample rate.

soundfile (libsndfile) decodes WAV, FLAC, OGG/Vorbis/Opus and MP3 itself;
audioread (ffmpeg/GStreamer, when the system has one) is the fallback for
anything libsndfile does not know (AAC/M4A, WMA ...). Channels are averaged
to mono, then soxr resamples with its "HQ" quality, the resampler librosa uses
by default (``res_type="soxr_hq"``), so a waveform decoded here matches
``librosa.load`` to float32 rounding.

Every problem raises :class:`era_zoo.errors.AudioError` naming the file:
missing, empty (0 bytes or 0 samples), undecodable (wrong format, corrupt),
truncated (fewer samples than the header promises), NaN/inf samples, silent,
shorter than ``min_seconds``.
"""
import os
import re
from collections import namedtuple

import numpy as np
import soundfile as sf
import soxr

from ..errors import AudioError

# A clip whose absolute peak stays below this is "silent": 1e-4 is -80 dBFS,
# below the noise floor of 16-bit audio with dither, so only digital silence
# (or a fader left at zero) trips it; quiet real music peaks far above.
SILENCE_PEAK = 1e-4

# File endings libsndfile reads; for these a decode failure is final (the file
# is corrupt), for others audioread gets a second try.
SOUNDFILE_EXTENSIONS = frozenset(
    "." + f.lower() for f in sf.available_formats()) | {".mp3", ".oga", ".opus"}

RESAMPLE_QUALITY = "HQ"


def resample(wave, from_rate, to_rate):
    """A mono waveform resampled from ``from_rate`` to ``to_rate`` Hz with
    soxr's "HQ" quality: the one resampler of era_zoo (file decoding and
    waveforms given to inference both use it), so a waveform resampled here matches
    ``librosa.resample(res_type="soxr_hq")`` to float32 rounding.

    Args:
        wave: 1-D float array (samples,).
        from_rate: its sample rate in Hz.
        to_rate: the wanted sample rate in Hz; equal rates return the
            waveform as float32 without resampling.

    Returns:
        A contiguous float32 array of about ``len(wave) * to_rate / from_rate``
        samples.

    Example:
        >>> import numpy as np
        >>> from era_zoo.audio.decode import resample
        >>> resample(np.zeros(44100, np.float32), 44100, 16000).shape
        (16000,)
    """
    wave = np.asarray(wave, dtype=np.float32)
    if int(from_rate) != int(to_rate):
        wave = soxr.resample(wave, int(from_rate), int(to_rate), quality=RESAMPLE_QUALITY)
    return np.ascontiguousarray(wave, dtype=np.float32)


AudioInfo = namedtuple("AudioInfo", "seconds sample_rate channels frames")


def audio_info(path):
    """Length, rate and channels from the header, without decoding the samples
    (formats soundfile does not know are decoded once through audioread).
    Raises AudioError for a missing, empty, unreadable or truncated file."""
    path = os.fspath(path)
    _check_file(path)
    try:
        with sf.SoundFile(path) as f:
            frames, rate, channels = f.frames, f.samplerate, f.channels
            _check_chunk_sizes(path, f.extra_info)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        if os.path.splitext(path)[1].lower() in SOUNDFILE_EXTENSIONS:
            raise AudioError(path, f"cannot decode: {_short(e)}",
                             "the file is corrupt or not the format its name says") from e
        data, rate = _decode_audioread(path, 0.0, None)
        frames, channels = data.shape
    if frames == 0:
        raise AudioError(path, "contains no audio samples (zero length)")
    return AudioInfo(frames / rate, rate, channels, frames)


def load_audio(path, sample_rate, *, offset=0.0, duration=None, min_seconds=None,
               allow_silent=False):
    """Decode ``path`` to a 1-D float32 mono waveform at ``sample_rate`` Hz.

    ``offset`` and ``duration`` (seconds) select a slice before resampling,
    as in ``librosa.load``. ``min_seconds``: raise if the decoded slice is
    shorter. ``allow_silent``: accept clips whose peak is below
    ``SILENCE_PEAK`` (otherwise AudioError). Values stay as decoded (in
    [-1, 1] for PCM input; no normalisation).
    """
    path = os.fspath(path)
    if offset < 0 or (duration is not None and duration <= 0):
        raise AudioError(path, f"bad slice offset={offset}, duration={duration}",
                         "offset must be >= 0 and duration > 0")
    _check_file(path)
    ext = os.path.splitext(path)[1].lower()
    try:
        wave, rate = _decode_soundfile(path, offset, duration)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        if ext in SOUNDFILE_EXTENSIONS:
            raise AudioError(path, f"cannot decode: {_short(e)}",
                             "the file is corrupt or not the format its name says") from e
        wave, rate = _decode_audioread(path, offset, duration)
    return _finish(path, wave, rate, sample_rate, min_seconds, allow_silent)


def _check_file(path):
    if not os.path.exists(path):
        raise AudioError(path, "file not found")
    if os.path.isdir(path):
        raise AudioError(path, "is a directory, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioError(path, "file is empty (0 bytes)")


def _decode_soundfile(path, offset, duration):
    with sf.SoundFile(path) as f:
        rate = f.samplerate
        total = f.frames
        if total == 0:
            raise AudioError(path, "contains no audio samples (zero length)")
        start = int(round(offset * rate))
        if start >= total:
            raise AudioError(path, f"offset {offset:g} s is past the end "
                                   f"({total / rate:.2f} s)")
        stop = total if duration is None else min(total, start + int(round(duration * rate)))
        _check_chunk_sizes(path, f.extra_info)
        f.seek(start)
        if f.subtype == "PCM_16":
            # libsndfile's own int-to-float conversion costs about 6x this
            # NumPy scaling (2.9 vs 0.44 ms for 30 s at 16 kHz), which gives
            # the same float32 values (x / 32768), scaled in place.
            data = f.read(stop - start, dtype="int16", always_2d=True).astype(np.float32)
            data *= np.float32(1 / 32768)
        else:
            data = f.read(stop - start, dtype="float32", always_2d=True)
    # Compressed streams count their frames from the header; when the file
    # ends early the read comes back short. MP3 frame counts without a Xing
    # header are estimates, hence its 1 % slack.
    slack = 0.01 * (stop - start) if path.lower().endswith(".mp3") else 0
    if len(data) < stop - start - slack:
        raise AudioError(path, f"truncated: header promises {total} samples, "
                               f"only {start + len(data)} could be read",
                         "an incomplete download or copy? fetch it again")
    return data, rate


_CHUNK_SIZE_MISMATCH = re.compile(r"^(data|SSND)\s*:\s*(\d+) \(should be (\d+)\)", re.M)
_UNKNOWN_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)  # streamed WAV/AIFF writers leave these


def _check_chunk_sizes(path, log):
    """libsndfile quietly shortens a WAV/AIFF whose data chunk runs past the
    end of the file; its log keeps the size the header promised."""
    m = _CHUNK_SIZE_MISMATCH.search(log)
    if m:
        promised, present = int(m.group(2)), int(m.group(3))
        if promised not in _UNKNOWN_SIZES and promised > present:
            raise AudioError(path, f"truncated: the data chunk promises {promised} "
                                   f"bytes, the file holds {present}",
                             "an incomplete download or copy? fetch it again")


def _decode_audioread(path, offset, duration):
    try:
        import audioread
    except ImportError:
        raise AudioError(path, "format not supported by soundfile and audioread "
                               "is not installed") from None
    try:
        with audioread.audio_open(path) as f:
            rate, channels = f.samplerate, f.channels
            pcm = np.frombuffer(b"".join(f), dtype="<i2")
    except Exception as e:  # audioread raises backend-specific types
        raise AudioError(path, f"cannot decode: {_short(e)}",
                         "unknown format; for AAC/M4A install ffmpeg") from e
    if pcm.size == 0:
        raise AudioError(path, "contains no audio samples (zero length)")
    data = pcm.reshape(-1, channels).astype(np.float32) / 32768.0
    start = int(round(offset * rate))
    if start >= len(data):
        raise AudioError(path, f"offset {offset:g} s is past the end "
                               f"({len(data) / rate:.2f} s)")
    stop = len(data) if duration is None else start + int(round(duration * rate))
    return data[start:stop], rate


def _peak(wave):
    """max |wave| from two reductions without a temporary array; NaN when
    the wave holds a NaN, inf when it holds an infinity."""
    # + 0.0: all-zero audio gives max(0.0, -0.0) = -0.0, printed "-0.00e+00".
    return float(np.maximum(wave.max(), -wave.min())) + 0.0 if wave.size else 0.0


def _finish(path, data, rate, sample_rate, min_seconds, allow_silent):
    wave = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    peak = _peak(wave)
    if not np.isfinite(peak):
        bad = int(np.count_nonzero(~np.isfinite(wave)))
        raise AudioError(path, f"{bad} sample(s) are NaN or infinite")
    wave = resample(wave, rate, sample_rate)
    if int(rate) != int(sample_rate):
        peak = _peak(wave)  # the silence check looks at the samples returned
    seconds = len(wave) / sample_rate
    if min_seconds is not None and seconds < min_seconds:
        raise AudioError(path, f"too short: {seconds:.3f} s, need at least "
                               f"{min_seconds:g} s")
    if not allow_silent:
        if peak < SILENCE_PEAK:
            raise AudioError(path, f"silent: peak {peak:.2e} is below "
                                   f"{SILENCE_PEAK:g} (-80 dBFS)",
                             "pass allow_silent=True to accept it")
    return wave


def _short(error):
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__
