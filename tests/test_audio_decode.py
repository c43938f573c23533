"""load_audio: formats, downmix, resampling, slices, and every bad file."""
import numpy as np
import pytest
import soundfile as sf

from era_zoo.audio.decode import SILENCE_PEAK, audio_info, load_audio
from era_zoo.errors import AudioError

RATE = 16000


def tone(seconds=1.0, rate=RATE, freq=440.0, amp=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path, data, rate=RATE, **kw):
    sf.write(str(path), data, rate, **kw)
    return path


def dominant_freq(wave, rate):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()]


@pytest.mark.parametrize("ext, kw, tol", [
    ("wav", {"subtype": "PCM_16"}, 1 / 32768),
    ("wav", {"subtype": "FLOAT"}, 0),
    ("flac", {}, 1 / 32768),
])
def test_lossless_formats_decode_exactly(tmp_path, ext, kw, tol):
    x = tone()
    y = load_audio(write(tmp_path / f"a.{ext}", x, **kw), RATE)
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == len(x)
    np.testing.assert_allclose(y, x, atol=tol + 1e-7)


@pytest.mark.parametrize("ext, fmt, subtype", [("ogg", "OGG", "VORBIS"),
                                                ("mp3", "MP3", "MPEG_LAYER_III")])
def test_lossy_formats_keep_the_tone(tmp_path, ext, fmt, subtype):
    x = tone(2.0, freq=1000.0)
    y = load_audio(write(tmp_path / f"a.{ext}", x, format=fmt, subtype=subtype), RATE)
    assert abs(len(y) - len(x)) <= 0.01 * len(x)
    assert abs(dominant_freq(y, RATE) - 1000.0) < 2.0
    assert 0.4 < np.abs(y).max() < 0.6


def test_multichannel_is_averaged(tmp_path):
    left, right = tone(freq=440.0), tone(freq=660.0, amp=0.25)
    y = load_audio(write(tmp_path / "st.wav", np.stack([left, right], 1), subtype="FLOAT"), RATE)
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-7)
    six = np.stack([tone(freq=100.0 * (k + 1), amp=0.1) for k in range(6)], 1)
    y6 = load_audio(write(tmp_path / "51.wav", six, subtype="FLOAT"), RATE)
    np.testing.assert_allclose(y6, six.mean(1), atol=1e-7)


def test_odd_rate_is_resampled_like_librosa(tmp_path):
    import librosa
    path = write(tmp_path / "odd.wav", tone(1.0, rate=11025, freq=1234.0), rate=11025,
                 subtype="FLOAT")
    y = load_audio(path, RATE)
    assert len(y) == RATE  # 1 s stays 1 s
    ref, _ = librosa.load(path, sr=RATE, mono=True)
    np.testing.assert_allclose(y, ref, atol=1e-6)
    assert abs(dominant_freq(y, RATE) - 1234.0) < 1.5


def test_offset_and_duration_select_a_slice(tmp_path):
    x = np.linspace(-0.5, 0.5, 3 * RATE, dtype=np.float32)
    path = write(tmp_path / "ramp.wav", x, subtype="FLOAT")
    y = load_audio(path, RATE, offset=1.0, duration=0.5)
    np.testing.assert_array_equal(y, x[RATE:RATE + RATE // 2])
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames) == (RATE, 1, 3 * RATE)
    assert info.seconds == pytest.approx(3.0)
    with pytest.raises(AudioError, match="past the end"):
        load_audio(path, RATE, offset=5.0)


# ------------------------------------------------------------------ bad files

def check_error(path, pattern, **kw):
    with pytest.raises(AudioError, match=pattern) as info:
        load_audio(path, RATE, **kw)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


def test_missing_file(tmp_path):
    check_error(tmp_path / "nope.wav", "not found")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    check_error(path, "empty")


def test_header_without_samples(tmp_path):
    path = write(tmp_path / "zero.wav", np.zeros(0, np.float32))
    check_error(path, "no audio samples")
    with pytest.raises(AudioError, match="no audio samples"):
        audio_info(path)


def test_truncated_wav(tmp_path):
    path = write(tmp_path / "cut.wav", tone(2.0))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    check_error(path, "truncated")
    with pytest.raises(AudioError, match="truncated"):
        audio_info(path)


@pytest.mark.parametrize("ext, kw", [("flac", {}), ("ogg", {"format": "OGG", "subtype": "VORBIS"}),
                                     ("mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"})])
def test_truncated_compressed(tmp_path, ext, kw):
    path = write(tmp_path / f"cut.{ext}", 0.3 * np.random.default_rng(0)
                 .standard_normal(2 * RATE).astype(np.float32), **kw)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    check_error(path, "truncated|cannot decode")


def test_wrong_format_and_garbage(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 50)
    check_error(text, "is a text file, not audio")
    garbage = tmp_path / "noise.xyz"  # unknown ending: audioread is tried too
    garbage.write_bytes(np.random.default_rng(1).bytes(4096))
    check_error(garbage, "cannot decode|not supported")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples(tmp_path, bad):
    x = tone()
    x[100:103] = bad
    check_error(write(tmp_path / "nan.wav", x, subtype="FLOAT"), "3 sample.*NaN or infinite")


def test_silence(tmp_path):
    path = write(tmp_path / "quiet.wav", np.full(RATE, SILENCE_PEAK / 2, np.float32),
                 subtype="FLOAT")
    check_error(path, "silent")
    y = load_audio(path, RATE, allow_silent=True)
    assert len(y) == RATE


def test_too_short(tmp_path):
    path = write(tmp_path / "short.wav", tone(0.25))
    check_error(path, "too short", min_seconds=0.5)
    assert len(load_audio(path, RATE, min_seconds=0.2)) == RATE // 4


def test_directory_is_not_audio(tmp_path):
    check_error(tmp_path, "directory")


def test_pcm16_decodes_to_libsndfiles_own_float_values(tmp_path):
    """The PCM_16 fast path (integers scaled in NumPy) equals libsndfile's
    float conversion bit for bit, on every 16-bit value and in stereo."""
    every = np.arange(-32768, 32768, dtype=np.int16)
    stereo = np.stack([every, every[::-1]], axis=1)
    path = tmp_path / "all_values.wav"
    sf.write(path, stereo, 16000, subtype="PCM_16")
    reference, _ = sf.read(path, dtype="float32", always_2d=True)
    left = load_audio(path, 16000, allow_silent=True)  # the channels nearly cancel
    np.testing.assert_array_equal(left, reference.mean(axis=1, dtype=np.float32))
    mono = tmp_path / "mono.wav"
    sf.write(mono, every, 16000, subtype="PCM_16")
    np.testing.assert_array_equal(load_audio(mono, 16000), reference[:, 0])
    part = load_audio(mono, 16000, offset=1.0, duration=0.5)
    np.testing.assert_array_equal(part, reference[16000:24000, 0])
