"""The in-graph log-mel against librosa, and the LogMel layer's life cycle."""
import keras
import librosa
import numpy as np
import pytest

from era_zoo.audio.decode import load_audio
from era_zoo.audio.mel import LogMel, mel_filterbank, n_frames, waveform_to_logmel
from era_zoo.audio.presets import MelSpec, get_preset
from era_zoo.errors import ConfigError

PRESETS = ["melon48", "era224"]
CUSTOM = MelSpec(sample_rate=8000, n_fft=256, hop_length=80, n_mels=20, fmin=60.0,
                 fmax=3500.0, power=1.0, log_offset=1e-4, name="small")


def librosa_logmel(wave, spec):
    mel = librosa.feature.melspectrogram(
        y=wave, sr=spec.sample_rate, n_fft=spec.n_fft, hop_length=spec.hop_length,
        window="hann", center=True, pad_mode="constant", power=spec.power,
        n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax, htk=False, norm="slaney")
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


@pytest.mark.parametrize("spec", PRESETS + [CUSTOM], ids=lambda s: getattr(s, "name", s))
def test_logmel_matches_librosa_on_generated_signals(spec):
    spec = get_preset(spec)
    waves = {k: v.astype(np.float32) for k, v in signals(spec.sample_rate).items()}
    for name, wave in waves.items():
        ref = librosa_logmel(wave, spec)
        ours = waveform_to_logmel(wave, spec).numpy()
        assert ours.shape == ref.shape == (spec.n_mels, n_frames(len(wave), spec)), name
        assert pearson(ours, ref) >= 0.9999, name
        # away from the log floor the values agree in absolute terms too
        loud = ref > np.log(spec.log_offset) + 3
        np.testing.assert_allclose(ours[loud], ref[loud], atol=2e-3, err_msg=name)


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
    # half the amplitude is a quarter of the power in every band
    quarter = np.log((np.exp(out[0].astype(np.float64)) - 1e-6) / 4 + 1e-6)
    np.testing.assert_allclose(out[1], quarter, atol=1e-4)
    np.testing.assert_allclose(out[0], waveform_to_logmel(wave, "melon48").numpy(), atol=1e-5)


def test_layer_config_round_trip_and_saved_model(tmp_path):
    layer = LogMel(CUSTOM, name="front_end")
    config = layer.get_config()
    assert {k: config[k] for k in ("sample_rate", "n_fft", "hop_length", "n_mels", "fmin",
                                   "fmax", "power", "log_offset")} == {
        "sample_rate": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 20, "fmin": 60.0,
        "fmax": 3500.0, "power": 1.0, "log_offset": 1e-4}
    assert config["preset"] == "small" and config["name"] == "front_end"
    clone = LogMel.from_config(config)
    assert clone.spec == CUSTOM and clone.name == "front_end"

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


def test_layer_rejects_unbatched_input():
    with pytest.raises(ConfigError, match=r"\(batch, samples\)"):
        LogMel("melon48")(np.zeros((2, 100, 1), np.float32))
