"""The in-graph log-mel against librosa, and the LogMel layer's life cycle.
(melon48, Essentia's chain, is checked against Essentia in test_mel_essentia.py.)"""
import keras
import librosa
import numpy as np
import pytest
import scipy.signal

from era_zoo.audio.decode import load_audio
from era_zoo.audio.mel import (LogMel, compress, full_scale_power, mel_filterbank, n_frames,
                               stft_window, waveform_to_logmel)
from era_zoo.audio.presets import MelSpec, get_preset
from era_zoo.errors import ConfigError

# Presets with librosa's filterbank; melon48 uses Essentia's.
PRESETS = ["melon48_ln", "era224"]
CUSTOM = MelSpec(sample_rate=8000, n_fft=256, hop_length=80, n_mels=20, fmin=60.0,
                 fmax=3500.0, power=1.0, log_offset=1e-4, name="small")
CUSTOM_DB = MelSpec(sample_rate=8000, n_fft=256, hop_length=80, n_mels=20,
                    window="hann_symmetric", compression="db", db_multiplier=10.0,
                    db_amin=1e-8, name="small_db")


def librosa_logmel(wave, spec):
    assert spec.filterbank == "slaney"
    window = "hann" if spec.window == "hann" else scipy.signal.windows.hann(spec.n_fft, sym=True)
    mel = librosa.feature.melspectrogram(
        y=wave, sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length,
        window=window, center=True, pad_mode="constant", power=spec.power,
        n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax, htk=False, norm="slaney")
    if spec.compression == "db":
        return spec.db_multiplier / 10 * librosa.power_to_db(mel, amin=spec.db_amin,
                                                             top_db=None)
    if spec.compression == "log10_1p10k":
        return np.log10(1 + 10000 * mel)
    return np.log(mel + spec.log_offset)


def pearson(a, b):
    return np.corrcoef(a.ravel(), b.ravel())[0, 1]


def signals(rate, seconds=1.5):
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(7)
    chirp = np.sin(2 * np.pi * (50 * t + (rate / 4 - 50) / (2 * seconds) * t ** 2))
    return {
        "tone": 0.5 * np.sin(2 * np.pi * 440.0 * t),
        "two_tones": 0.3 * np.sin(2 * np.pi * 97.0 * t) + 0.2 * np.sin(2 * np.pi * 3100.0 * t),
        "chirp": 0.5 * chirp,
        "noise": 0.1 * rng.standard_normal(len(t)),
        "odd_length": 0.1 * rng.standard_normal(len(t) - 77),
    }


@pytest.mark.parametrize("spec", PRESETS + [CUSTOM], ids=lambda s: getattr(s, "name", s))
def test_filterbank_is_librosas(spec):
    spec = get_preset(spec)
    ref = librosa.filters.mel(sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels,
                              fmin=spec.fmin, fmax=spec.fmax, htk=False, norm="slaney")
    ours = mel_filterbank(spec)
    assert ours.shape == (spec.n_mels, spec.n_fft // 2 + 1)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("spec", PRESETS + ["musicnn96", CUSTOM, CUSTOM_DB],
                         ids=lambda s: getattr(s, "name", s))
def test_logmel_matches_librosa_on_generated_signals(spec):
    spec = get_preset(spec)
    waves = {k: v.astype(np.float32) for k, v in signals(spec.sample_rate).items()}
    for name, wave in waves.items():
        ref = librosa_logmel(wave, spec)
        ours = waveform_to_logmel(wave, spec).numpy()
        assert ours.shape == ref.shape == (spec.n_mels, n_frames(len(wave), spec)), name
        assert pearson(ours, ref) >= 0.9999, name
        # away from the log floor the values agree in absolute terms too
        # (2e-3 natural-log or log10 units, 0.01 dB)
        loud = ref > spec.floor + (30 if spec.compression == "db" else 3)
        np.testing.assert_allclose(ours[loud], ref[loud],
                                   atol=1e-2 if spec.compression == "db" else 2e-3,
                                   err_msg=name)


@pytest.mark.filterwarnings("ignore:n_fft=512 is too large")
def test_n_frames_is_centred_stft_count():
    spec = get_preset("melon48")
    for n in (1, 255, 256, 257, 16000):
        ref = librosa.stft(np.zeros(n, np.float32), n_fft=512, hop_length=256,
                           center=True, pad_mode="constant").shape[1]
        assert n_frames(n, spec) == ref == 1 + n // 256


@pytest.mark.parametrize("preset", PRESETS)
def test_logmel_matches_librosa_on_real_recordings(shared_real, preset):
    spec = get_preset(preset)
    clips = sorted((shared_real / "audio").glob("*.ogg"))
    assert len(clips) == 4
    for clip in clips:
        wave = load_audio(clip, spec.sample_rate, offset=10.0, duration=30.0)
        ref = librosa_logmel(wave, spec)
        ours = waveform_to_logmel(wave, spec).numpy()
        assert ours.shape == ref.shape
        assert pearson(ours, ref) >= 0.9999, clip.name


def test_layer_batches_and_reports_its_shape():
    layer = LogMel("melon48")
    wave = signals(16000)["noise"].astype(np.float32)
    batch = np.stack([wave, 0.5 * wave])
    out = keras.ops.convert_to_numpy(layer(batch))
    assert out.shape == (2, 48, n_frames(len(wave), "melon48"))
    assert layer.compute_output_shape((None, len(wave))) == (None, 48, out.shape[-1])
    # half the amplitude is a quarter of the power in every band: 20 log10(4)
    # lower in melon48's 20 log10 scale, wherever that stays above the floor
    assert get_preset("melon48").floor == -200.0
    audible = out[0] > -200.0 + 20 * np.log10(4) + 1
    assert audible.mean() > 0.9
    np.testing.assert_allclose(out[1][audible], out[0][audible] - 20 * np.log10(4), atol=1e-3)
    np.testing.assert_allclose(out[0], waveform_to_logmel(wave, "melon48").numpy(), atol=1e-5)


def test_layer_config_round_trip_and_saved_model(tmp_path):
    layer = LogMel(CUSTOM, name="front_end")
    config = layer.get_config()
    assert {k: config[k] for k in ("sample_rate", "n_fft", "hop_length", "n_mels", "fmin",
                                   "fmax", "power", "log_offset", "window", "filterbank",
                                   "compression")} == {
        "sample_rate": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 20, "fmin": 60.0,
        "fmax": 3500.0, "power": 1.0, "log_offset": 1e-4, "window": "hann",
        "filterbank": "slaney", "compression": "ln"}
    assert config["preset"] == "small" and config["name"] == "front_end"
    clone = LogMel.from_config(config)
    assert clone.spec == CUSTOM and clone.name == "front_end"
    assert LogMel.from_config(LogMel("melon48").get_config()).spec == get_preset("melon48")
    # a config saved before the window/filterbank/compression fields existed
    # still means librosa's front-end with natural log
    old = {k: v for k, v in config.items()
           if k not in ("window", "filterbank", "compression", "db_multiplier", "db_amin")}
    assert LogMel.from_config(old).spec == CUSTOM

    inputs = keras.Input(shape=(4000,))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(LogMel("era224")(inputs)))
    path = tmp_path / "front.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    wave = signals(22050)["chirp"][:4000].astype(np.float32)[None]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(wave)),
                               keras.ops.convert_to_numpy(model(wave)), atol=1e-6)
    assert loaded.layers[1].spec == get_preset("era224")


def test_unknown_preset_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown mel preset 'melon64'"):
        LogMel("melon64")


@pytest.mark.parametrize("field, value", [("compression", "log2"), ("window", "hamming"),
                                          ("filterbank", "htk"), ("db_amin", 0.0)])
def test_bad_spec_fields_are_config_errors(field, value):
    with pytest.raises(ConfigError, match=f"mel.{field}"):
        MelSpec(sample_rate=16000, n_fft=512, hop_length=256, n_mels=48, **{field: value})


def test_presets_state_their_scale():
    melon, melon_ln, era = (get_preset(n) for n in ("melon48", "melon48_ln", "era224"))
    assert (melon.window, melon.filterbank, melon.compression) == (
        "hann_symmetric", "essentia", "db")
    assert (melon.db_multiplier, melon.db_amin, melon.floor) == (20.0, 1e-10, -200.0)
    for spec in (melon_ln, era):
        assert (spec.window, spec.filterbank, spec.compression) == ("hann", "slaney", "ln")
        assert spec.floor == pytest.approx(np.log(1e-6))
    musicnn = get_preset("musicnn96")
    assert (musicnn.n_mels, musicnn.compression, musicnn.floor) == (96, "log10_1p10k", 0.0)
    # the same bands, framing and rate as melon48: only window, filterbank and scale differ
    assert (melon_ln.sample_rate, melon_ln.n_fft, melon_ln.hop_length, melon_ln.n_mels) == (
        melon.sample_rate, melon.n_fft, melon.hop_length, melon.n_mels)


@pytest.mark.parametrize("preset", ["melon48", "melon48_ln", "era224", "musicnn96"])
def test_full_scale_power_is_a_full_scale_tone(preset):
    """Full-scale cosines on every FFT bin, through the front-end: the
    loudest band value of their steady frames is full_scale_power, compressed."""
    spec = get_preset(preset)
    t = np.arange(spec.n_fft * 4) / spec.sample_rate
    freqs = np.arange(spec.n_fft // 2 + 1) * spec.sample_rate / spec.n_fft
    waves = np.cos(2 * np.pi * freqs[:, None] * t[None, :]).astype(np.float32)
    levels = keras.ops.convert_to_numpy(LogMel(spec)(waves))[:, :, 2:-2]
    expected = keras.ops.convert_to_numpy(compress(np.float32(full_scale_power(spec)), spec))
    # frames start at different phases of the cosine: a hundredth of a dB
    scale = {"db": 1.0, "ln": np.log(10) / 20, "log10_1p10k": 1 / 20}[spec.compression]
    assert abs(levels.max() - expected) <= 0.01 * scale


def test_windows_are_scipys():
    np.testing.assert_allclose(stft_window("melon48"),
                               scipy.signal.windows.hann(512, sym=True), atol=1e-7)
    np.testing.assert_allclose(stft_window("era224"),
                               scipy.signal.windows.hann(2048, sym=False), atol=1e-7)


def test_layer_rejects_unbatched_input():
    with pytest.raises(ConfigError, match=r"\(batch, samples\)"):
        LogMel("melon48")(np.zeros((2, 100, 1), np.float32))
