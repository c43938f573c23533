"""Audio files -> mono float32 waveforms at a requested sample rate.

soundfile (libsndfile) decodes WAV, FLAC, OGG/Vorbis/Opus and MP3 itself;
audioread (ffmpeg/GStreamer, when the system has one) is the fallback for
anything libsndfile does not know (AAC/M4A, WMA ...). Channels are averaged
to mono, then soxr resamples with its "HQ" quality, the resampler librosa uses
by default (``res_type="soxr_hq"``), so a waveform decoded here matches
``librosa.load`` to float32 rounding.

Every problem raises :class:`era_zoo.errors.AudioError` naming the file and
saying what is wrong with it, in words rather than the decoder's:
missing, empty (0 bytes or 0 samples), not audio (a text file, or content of
another format than the name says: the leading bytes are looked at),
undecodable (corrupt), truncated (fewer samples than the header promises; an
Ogg stream that stops before its end-of-stream page, since Ogg headers hold
no length), NaN/inf samples, samples far outside [-1, 1] (a peak above
:data:`OVERSHOOT_LIMIT`: float audio written at integer scale, say; lossy
decoders' small overshoots past 1.0 are normal and accepted), silent, shorter
than ``min_seconds``.

Decoders' own messages (mpg123's "Note: Illegal Audio-MPEG-Header ...",
"Trying to resync...") are written by the C libraries straight to the
process's stderr; while a file is decoded that output is caught and dropped
(anything else written there meanwhile is passed on when decoding ends).
"""
import atexit
import contextlib
import os
import re
import sys
import tempfile
import threading
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

# A decoded peak above this (+6 dBFS) is no codec overshoot but wrongly
# scaled audio (e.g. float samples written at integer scale); the log-mel of
# such a file would sit tens of dB above anything a model was trained on.
OVERSHOOT_LIMIT = 2.0


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
        with decoder_output_dropped(), sf.SoundFile(path) as f:
            frames, rate, channels = f.frames, f.samplerate, f.channels
            _check_chunk_sizes(path, f.extra_info)
            container = f.format
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        if os.path.splitext(path)[1].lower() in SOUNDFILE_EXTENSIONS:
            raise _undecodable(path, e) from e
        with decoder_output_dropped():
            data, rate = _decode_audioread(path, 0.0, None)
        frames, channels = data.shape
        container = None
    if frames == 0:
        raise AudioError(path, "contains no audio samples (zero length)")
    if container == "OGG":
        _check_ogg_ends(path, frames / rate)
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
        with decoder_output_dropped():
            wave, rate = _decode_soundfile(path, offset, duration)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as e:
        if ext in SOUNDFILE_EXTENSIONS:
            raise _undecodable(path, e) from e
        with decoder_output_dropped():
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
        if f.format == "OGG":
            _check_ogg_ends(path, total / rate)
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
    if peak > OVERSHOOT_LIMIT:
        raise AudioError(path, f"samples reach {peak:.4g}, far outside [-1, 1]",
                         "float audio must be full-scale floats; was it written at "
                         "integer scale? divide by 32768 (16-bit) and save it again")
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
                             "nothing to predict from; load_audio(..., allow_silent=True) "
                             "accepts it")
    return wave


def _short(error):
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__


# Leading bytes of the formats a file may really hold, whatever its name.
_SIGNATURES = ((b"RIFF", "WAV"), (b"RIFX", "WAV"), (b"fLaC", "FLAC"), (b"OggS", "Ogg"),
               (b"ID3", "MP3"), (b"FORM", "AIFF"), (b"\x1aE\xdf\xa3", "Matroska/WebM"),
               (b"%PDF", "PDF"), (b"PK\x03\x04", "ZIP"), (b"\x89PNG", "PNG"),
               (b"\xff\xd8\xff", "JPEG"), (b"\x93NUMPY", "NumPy .npy"))
_NAMED = {".wav": "WAV", ".wave": "WAV", ".flac": "FLAC", ".ogg": "Ogg", ".oga": "Ogg",
          ".opus": "Ogg", ".mp3": "MP3", ".aif": "AIFF", ".aiff": "AIFF"}


def _content_kind(path):
    """What the file's first bytes say it is: a format name, "text" or None."""
    with open(path, "rb") as f:
        head = f.read(512)
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "MP3"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if all(c.isprintable() or c in "\r\n\t" for c in text):
        return "text"
    return None


def _undecodable(path, error):
    """The AudioError of a file libsndfile refused, saying what the file is
    rather than libsndfile's words (which call a garbage .mp3 "not a regular
    file (possibly a pipe?)")."""
    named = _NAMED.get(os.path.splitext(path)[1].lower(), "audio")
    kind = _content_kind(path)
    if kind == "text":
        return AudioError(path, "is a text file, not audio")
    if kind is not None and kind != named:
        return AudioError(path, f"holds {kind} data, not {named} audio",
                          "the name's ending does not match the content")
    article = "an" if named[0] in "AEIOUM" else "a"
    if kind is None:
        return AudioError(path, f"is not {article} {named} file: no {named} audio found "
                                "in it", "corrupt, or not audio at all")
    return AudioError(path, f"is a damaged {named} file: the decoder gave up "
                            f"({_short(error)})", "fetch or export it again")


def _check_ogg_ends(path, seconds):
    """An Ogg stream's last page carries the end-of-stream flag; a file cut
    short (an interrupted download or copy) ends before it, and libsndfile
    then decodes the part that is there without a word (Ogg headers hold no
    length to compare with)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - 65536))  # a page is at most 65,307 bytes
        tail = f.read()
    base = size - len(tail)
    at = tail.rfind(b"OggS")
    while at >= 0:
        header = tail[at:at + 27]
        if len(header) == 27 and header[4] == 0:  # stream structure version 0
            segments = tail[at + 27:at + 27 + header[26]]
            end = at + 27 + header[26] + sum(segments)
            if len(segments) == header[26] and base + end == size and header[5] & 0x04:
                return
            break
        at = tail.rfind(b"OggS", 0, at)
    raise AudioError(path, f"truncated: the Ogg stream stops before its end (only "
                           f"{seconds:.1f} s are there)",
                     "an incomplete download or copy? fetch it again")


_stderr_lock = threading.Lock()
_stderr_users = 0
_stderr_saved = None  # a duplicate of the real fd 2 while captured
# One scratch file for the process: a file created per decode cost about as
# much as reading a 30 s WAV (1 ms), half a pipeline's decoding time.
_stderr_capture = None

# What the C decoders print: mpg123's notes and warnings, and the rare
# complaint of libsndfile or libvorbis.
_DECODER_LINE = re.compile(r"^\s*(note|warning|error)\s*:|"
                           r"^\s*\[[^\]]*(mpg123|mpeg|vorbis|sndfile|flac)[^\]]*\]", re.I)


def _scratch_file():
    global _stderr_capture
    if _stderr_capture is None:
        _stderr_capture = tempfile.TemporaryFile()
        atexit.register(_stderr_capture.close)
    return _stderr_capture


def _drop_inherited_scratch_file():
    """A forked child (a PyDataset worker) opens its own scratch file: one
    shared with the parent would mix both processes' output."""
    global _stderr_capture
    if _stderr_capture is not None:
        _stderr_capture.close()  # the child's descriptor only
        _stderr_capture = None


os.register_at_fork(after_in_child=_drop_inherited_scratch_file)


@contextlib.contextmanager
def decoder_output_dropped():
    """Keep what C decoders print on the process's stderr off the terminal
    while the block runs. Nestable and thread-safe: fd 2 goes to a scratch
    file from the first entry to the last exit; on the last exit the lines
    that are not decoder chatter are written to the real stderr, so other
    output is only delayed, never lost.

    Example:
        >>> with decoder_output_dropped():
        ...     info = audio_info("song.mp3")  # doctest: +SKIP
    """
    global _stderr_users, _stderr_saved
    with _stderr_lock:
        if _stderr_users == 0:
            try:
                sys.stderr.flush()
                real = os.dup(2)
                os.dup2(_scratch_file().fileno(), 2)
                _stderr_saved = real
            except (OSError, ValueError, AttributeError):
                _stderr_saved = None  # no usable fd 2 (an embedded interpreter)
        _stderr_users += 1
    try:
        yield
    finally:
        with _stderr_lock:
            _stderr_users -= 1
            if _stderr_users == 0 and _stderr_saved is not None:
                real, capture = _stderr_saved, _stderr_capture
                _stderr_saved = None
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()
                os.dup2(real, 2)
                os.close(real)
                # usually nothing was printed and the file is left alone
                if os.fstat(capture.fileno()).st_size:
                    capture.seek(0)
                    text = capture.read().decode("utf-8", errors="replace")
                    capture.seek(0)
                    capture.truncate()
                    kept = "".join(line for line in text.splitlines(keepends=True)
                                   if not _DECODER_LINE.match(line))
                    if kept:
                        os.write(2, kept.encode("utf-8"))
