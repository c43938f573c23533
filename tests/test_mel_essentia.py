"""melon48 against the reference's own feature chain, computed by Essentia.

Paper B's reference extracts the features its Melon-trained encoder consumes
with Essentia (utils.py, key ``mel_48_db``): frames of 512 every 256,
centred (startFromZero=False), Hann not normalised, magnitude spectrum,
48 slaneyMel unit_tri power bands over 0-8 kHz, then lin2db doubled.
era_zoo's ``melon48`` must give the same numbers, frame for frame.
"""
import numpy as np
import pytest

es = pytest.importorskip("essentia.standard")

from era_zoo.audio.decode import load_audio  # noqa: E402
from era_zoo.audio.mel import mel_filterbank, n_frames, waveform_to_logmel  # noqa: E402
from era_zoo.audio.presets import get_preset  # noqa: E402

SPEC = get_preset("melon48")
RATE = SPEC.sample_rate


def essentia_melon48(wave):
    """(48, frames) float32: the reference chain, as its utils.py builds it."""
    window = es.Windowing(type="hann", normalized=False)
    spectrum = es.Spectrum()
    bands = es.MelBands(numberBands=48, sampleRate=16000, lowFrequencyBound=0,
                        highFrequencyBound=8000, warpingFormula="slaneyMel",
                        normalize="unit_tri", type="power", inputSize=257)
    to_db = es.UnaryOperator(type="lin2db", scale=2)
    frames = es.FrameGenerator(np.asarray(wave, np.float32), frameSize=512, hopSize=256,
                               startFromZero=False)
    return np.stack([to_db(bands(spectrum(window(frame)))) for frame in frames], axis=1)


def compare(wave):
    """|ours - Essentia| over the frames both have, and the mask of bins above -100 dB."""
    ref = essentia_melon48(wave)
    ours = waveform_to_logmel(wave, SPEC).numpy()
    assert ours.shape == (48, n_frames(len(wave), SPEC))
    # Essentia adds one frame centred past the end when the length is not a
    # multiple of the hop; every other frame is centred on the same sample.
    assert ref.shape[1] == ours.shape[1] + (len(wave) % SPEC.hop_length != 0)
    ref = ref[:, :ours.shape[1]]
    return np.abs(ours - ref), ref > -100, ours, ref


def generated(seconds=2.0):
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(3)
    chirp = np.sin(2 * np.pi * (40 * t + (7000 - 40) / (2 * seconds) * t ** 2))
    gated = 0.3 * np.sin(2 * np.pi * 660.0 * t) * (t > seconds / 2)
    return {
        "tone": 0.5 * np.sin(2 * np.pi * 440.0 * t),
        "low_and_high": 0.3 * np.sin(2 * np.pi * 55.0 * t) + 0.2 * np.sin(2 * np.pi * 7400.0 * t),
        "chirp": 0.5 * chirp,
        "noise": 0.1 * rng.standard_normal(len(t)),
        "quiet_noise": 1e-3 * rng.standard_normal(len(t) - 100),
        "silence_then_tone": gated,
    }


@pytest.mark.parametrize("name", list(generated()))
def test_melon48_is_essentias_chain_on_generated_signals(name):
    wave = generated()[name].astype(np.float32)
    diff, audible, ours, ref = compare(wave)
    assert audible.sum() >= ours.shape[1], name   # a pure tone leaves far bands below -100
    assert np.median(diff[audible]) <= 0.05, name
    # float32 against float32: nowhere more than a hundredth of a dB
    assert diff[audible].max() <= 0.01, name
    # where Essentia hits the floor (band power < 1e-10, float32 leakage of
    # the FFT there) ours is at the floor or within a fraction of a dB of it
    assert (ours[ref == -200.0] <= -199.0).all(), name


def test_silent_frames_are_the_floor():
    diff, audible, ours, ref = compare(generated()["silence_then_tone"].astype(np.float32))
    first_half = ours[:, :n_frames(RATE, SPEC) - 2]
    assert (first_half == -200.0).all() and (ref[:, :first_half.shape[1]] == -200.0).all()


def test_filterbank_is_essentias():
    """Each spectrum bin fed alone through MelBands (type magnitude) gives
    that bin's weight in every band."""
    bands = es.MelBands(numberBands=48, sampleRate=16000, lowFrequencyBound=0,
                        highFrequencyBound=8000, warpingFormula="slaneyMel",
                        normalize="unit_tri", type="magnitude", inputSize=257)
    eye = np.eye(257, dtype=np.float32)
    ref = np.stack([bands(eye[k]) for k in range(257)], axis=1)
    ours = mel_filterbank(SPEC)
    # float32 (Essentia) against float64 weights: 1e-6 is 5e-5 of the largest weight
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


def test_melon48_is_essentias_chain_on_real_recordings(shared_real):
    clips = sorted((shared_real / "audio").glob("*.ogg"))
    assert len(clips) == 4
    for clip in clips:
        wave = load_audio(clip, RATE, offset=10.0, duration=29.1)
        diff, audible, ours, ref = compare(wave)
        assert audible.mean() > 0.9, clip.name
        assert np.median(diff[audible]) <= 0.05, clip.name
        assert diff[audible].max() <= 0.01, clip.name
        # music in this scale: tens of dB at the loudest
        assert 10.0 < ours.max() < 60.0, clip.name
