import hashlib

import numpy as np
import pytest
import soundfile as sf

from era_zoo.data import fixtures
from era_zoo.data.readers import read_dataset
from era_zoo.errors import ConfigError


def _digest(root):
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


WRITERS = {
    "melon": lambda root, seed: fixtures.write_melon_fixture(root, n_tracks=10, n_playlists=6,
                                                             seed=seed),
    "gtzan": lambda root, seed: fixtures.write_gtzan_fixture(root, per_genre=1, seconds=0.5,
                                                             seed=seed),
    "jamendo": lambda root, seed: fixtures.write_jamendo_fixture(root, n_tracks=6, audio="wav",
                                                                 seed=seed, seconds=0.5),
    "msd": lambda root, seed: fixtures.write_msd_fixture(root, n_tracks=8, hdf5=True,
                                                         seconds=0.5, seed=seed),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_writers_are_deterministic_and_readable(name, tmp_path):
    a = WRITERS[name](tmp_path / "a", 0)
    b = WRITERS[name](tmp_path / "b", 0)
    c = WRITERS[name](tmp_path / "c", 1)
    assert a == tmp_path / "a"
    assert _digest(a) == _digest(b) != _digest(c)
    kwargs = {"audio": "wav"} if name == "jamendo" else {}
    table = read_dataset(name, a, **kwargs)
    assert len(table) > 0 and not table.problems
    assert all(t.audio_path or t.mel_path for t in table)


def _dominant_frequency(wave, rate):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / rate)[np.argmax(spectrum)]


def test_tone_pitch_follows_the_label():
    rng = np.random.default_rng(0)
    for label in range(10):
        wave = fixtures.labelled_tone(label, 10, 1.0, 16000, rng)
        assert wave.dtype == np.float32 and wave.shape == (16000,)
        assert np.abs(wave).max() == pytest.approx(0.5)
        # Fundamental 110 Hz * 2^(2 label / 12), jitter under a third of a semitone.
        expected = 110.0 * 2 ** (2 * label / 12)
        assert abs(np.log2(_dominant_frequency(wave, 16000) / expected) * 12) < 0.5


def test_mel_band_follows_the_label():
    rng = np.random.default_rng(0)
    peaks = [int(np.argmax(fixtures.labelled_mel(k, 8, 64, rng).mean(axis=1))) for k in range(8)]
    assert peaks == sorted(peaks) and len(set(peaks)) == 8
    mel = fixtures.labelled_mel(0, 8, 64, rng)
    assert mel.shape == (48, 64) and mel.dtype == np.float32


def test_mel_scales_hold_the_same_band_powers():
    db = fixtures.labelled_mel(3, 8, 64, np.random.default_rng(5))
    ln = fixtures.labelled_mel(3, 8, 64, np.random.default_rng(5), scale="ln")
    # 20 log10(p) = 20 / ln(10) * ln(p)
    np.testing.assert_allclose(db, ln * 20 / np.log(10), rtol=1e-5, atol=1e-4)
    assert -120 < db.min() and db.max() < 40 and -14 < ln.min() and ln.max() < 5
    with pytest.raises(ConfigError, match="mel_scale"):
        fixtures.labelled_mel(3, 8, 64, np.random.default_rng(5), scale="log2")


def test_mp3_fixture_decodes(tmp_path):
    root = fixtures.write_jamendo_fixture(tmp_path, n_tracks=2, audio="mp3", seconds=1)
    table = read_dataset("jamendo", root)
    audio, rate = sf.read(table.tracks[0].audio_path)
    assert rate == 16000
    assert abs(len(audio) - 16000) < 2000      # MP3 adds encoder padding
    with pytest.raises(ConfigError, match="audio: must be"):
        fixtures.write_jamendo_fixture(tmp_path / "x", audio="aac")
