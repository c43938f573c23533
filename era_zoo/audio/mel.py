"""The log-mel front-end, in graph: waveform (batch, samples) -> (batch, n_mels, frames).

One implementation serves both the Keras layer :class:`LogMel` (so a saved
model can take raw waveforms) and the tf.data pipelines
(:func:`waveform_to_logmel`). The signal is zero-padded by n_fft // 2 on both
sides, framed every ``hop_length`` samples with the spec's window of n_fft
samples, |rfft|^power, times the spec's mel filterbank (:func:`mel_filterbank`,
NumPy, built once), then compressed (:func:`compress`). What it reproduces
depends on the :class:`~era_zoo.audio.presets.MelSpec`:

- ``window="hann", filterbank="slaney", compression="ln"`` (``era224``,
  ``melon48_ln``)::

    np.log(librosa.feature.melspectrogram(y=wave, sr=sr, n_fft=n_fft, hop_length=hop,
        window="hann", center=True, pad_mode="constant", power=power,
        n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False, norm="slaney")
        + log_offset)

- ``window="hann_symmetric", filterbank="essentia", compression="db"``
  (``melon48``), Essentia's chain frame for frame::

    FrameGenerator(wave, frameSize=n_fft, hopSize=hop, startFromZero=False)
    -> Windowing(type="hann", normalized=False) -> Spectrum()
    -> MelBands(numberBands=n_mels, sampleRate=sr, lowFrequencyBound=fmin,
                highFrequencyBound=fmax, warpingFormula="slaneyMel",
                normalize="unit_tri", type="power")
    -> UnaryOperator(type="lin2db", scale=2)

  Essentia's frames are centred on the same samples (its first frame is
  centred on sample 0 with zeros before it); when the length is not a
  multiple of ``hop_length`` it also emits one last frame centred past the
  end of the signal, which era_zoo leaves out: every count here is the
  centred STFT's ``1 + samples // hop_length`` (:func:`n_frames`), the one
  that crops and chunks are cut by.
"""
import keras
import numpy as np
from keras import ops

from ..errors import ConfigError
from .presets import MelSpec, get_preset

# Slaney's Auditory Toolbox mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz):
    hz = np.asanyarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, mel)


def mel_to_hz(mel):
    mel = np.asanyarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, hz)


def hz_to_htk_mel(hz):
    """HTK's mel scale, 1127.01048 ln(1 + hz / 700) (Essentia's ``hz2mel``)."""
    return 1127.01048 * np.log1p(np.asanyarray(hz, dtype=np.float64) / 700.0)


def mel_filterbank(spec):
    """(n_mels, 1 + n_fft // 2) float32 weights of the spec's filterbank.

    Both kinds place n_mels + 2 edges evenly on Slaney's mel scale between
    fmin and fmax; band i is a triangle from edge i through edge i + 1 to
    edge i + 2.

    - ``"slaney"`` (librosa.filters.mel(htk=False, norm="slaney")): the
      triangles are linear in Hz and scaled by 2 / (their width in Hz), so
      every band has unit area in Hz.
    - ``"essentia"`` (Essentia's MelBands with warpingFormula="slaneyMel",
      normalize="unit_tri", weighting="warping"): the triangles are linear
      in HTK mel (Essentia's TriangularBands weights with its ``hz2mel``
      whatever the warping) and divided by half their width in HTK mel.

    Args:
        spec: a MelSpec, preset name or dict of MelSpec fields.

    Example:
        >>> mel_filterbank("melon48").shape
        (48, 257)
    """
    spec = get_preset(spec)
    fmax = spec.sample_rate / 2 if spec.fmax is None else spec.fmax
    fft_freqs = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(spec.fmin), hz_to_mel(fmax), spec.n_mels + 2))
    if spec.filterbank == "essentia":
        edges, fft_freqs = hz_to_htk_mel(edges), hz_to_htk_mel(fft_freqs)
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def stft_window(spec):
    """The spec's analysis window, (n_fft,) float32: periodic Hann (``"hann"``,
    0.5 - 0.5 cos(2 pi n / n_fft)) or symmetric Hann (``"hann_symmetric"``,
    0.5 - 0.5 cos(2 pi n / (n_fft - 1))), not normalised.

    Args:
        spec: a MelSpec, preset name or dict of MelSpec fields.

    Example:
        >>> stft_window("melon48")[[0, -1]].tolist()
        [0.0, 0.0]
    """
    spec = get_preset(spec)
    period = spec.n_fft - 1 if spec.window == "hann_symmetric" else spec.n_fft
    n = np.arange(spec.n_fft)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / period)).astype(np.float32)


def compress(mel, spec):
    """Band powers (any shape, float32 tensor) -> the spec's log scale, in keras.ops.

    ``"ln"``: ln(mel + log_offset); ``"db"``: db_multiplier *
    log10(max(mel, db_amin)); ``"log10_1p10k"``: log10(1 + 10000 mel), mel
    first rounded to float16 as musicnn does.

    Args:
        mel: non-negative band powers.
        spec: a MelSpec, preset name or dict of MelSpec fields.

    Example:
        >>> import numpy as np
        >>> import keras
        >>> x = np.array([0.0, 1.0, 10.0], np.float32)
        >>> keras.ops.convert_to_numpy(compress(x, "melon48")).tolist()
        [-200.0, 0.0, 20.0]
    """
    spec = get_preset(spec)
    if spec.compression == "db":
        return spec.db_multiplier * ops.log10(ops.maximum(mel, spec.db_amin))
    if spec.compression == "log10_1p10k":
        # musicnn rounds its mels to float16 before this compression (its
        # training data were stored so): rounding here too, clipped to
        # float16's largest value where the original overflows, gives its
        # inputs but for rounding ties, and its taggrams to about 5e-6
        # instead of 1e-4 (tests/test_musicnn.py).
        mel = ops.cast(ops.cast(ops.minimum(mel, 65504.0), "float16"), "float32")
        return ops.log10(1.0 + 10000.0 * mel)
    return ops.log(mel + spec.log_offset)


def full_scale_power(spec):
    """The largest band power a full-scale sinusoid (amplitude 1) gives in one
    frame: a cosine on each FFT bin in turn, windowed, |rfft|^power, through
    the filterbank, the maximum over bins and bands. Music mixed to full
    scale stays near or below it (compressed, melon48: 53.1; melon48_ln:
    5.8), which makes it the top of the range a spec's values should reach.

    Args:
        spec: a MelSpec, preset name or dict of MelSpec fields.

    Example:
        >>> import keras, numpy as np
        >>> level = compress(np.float32(full_scale_power("melon48")), "melon48")
        >>> round(float(keras.ops.convert_to_numpy(level)), 1)
        53.1
    """
    spec = get_preset(spec)
    n = np.arange(spec.n_fft)
    bins = np.arange(spec.n_fft // 2 + 1)[:, None]
    tones = np.cos(2.0 * np.pi * bins * n / spec.n_fft) * stft_window(spec).astype(np.float64)
    power = np.abs(np.fft.rfft(tones, axis=1)) ** spec.power
    return float((power @ mel_filterbank(spec).T.astype(np.float64)).max())


def n_frames(n_samples, spec):
    """Frames of the centred STFT of ``n_samples`` samples: 1 + n // hop."""
    return 1 + int(n_samples) // get_preset(spec).hop_length


def logmel_ops(wave, spec, filterbank_t, center=True):
    """The front-end in keras.ops: wave (batch, samples) float32 ->
    (batch, n_mels, frames). ``filterbank_t`` is ``mel_filterbank(spec).T``
    as a tensor (n_freqs, n_mels). ``center=False`` frames the samples as
    given (1 + (samples - n_fft) // hop frames): for a window cut out of a
    longer signal, already holding its n_fft // 2 samples of context."""
    if center:
        half = spec.n_fft // 2
        wave = ops.pad(wave, [[0, 0], [half, half]])
    real, imag = ops.stft(wave, sequence_length=spec.n_fft,
                          sequence_stride=spec.hop_length, fft_length=spec.n_fft,
                          window=ops.convert_to_tensor(stft_window(spec)), center=False)
    power = real * real + imag * imag              # (batch, frames, n_freqs)
    if spec.power != 2.0:
        power = ops.power(ops.sqrt(power), spec.power)
    mel = ops.matmul(power, filterbank_t)          # (batch, frames, n_mels)
    return ops.transpose(compress(mel, spec), (0, 2, 1))


@keras.saving.register_keras_serializable(package="era_zoo")
class LogMel(keras.layers.Layer):
    """Waveform (batch, samples) -> log-mel (batch, n_mels, frames), in graph.

    ``spec``: a preset name ("melon48", "era224"), a MelSpec or a dict of its
    fields; the MelSpec fields may also be given as keyword arguments (that is
    how ``get_config`` stores them). Computes in float32 whatever the dtype
    policy, because a float16 STFT of music loses the quiet bands.
    """

    def __init__(self, spec="melon48", **kwargs):
        # "name" is the layer's; the spec's own name travels as "preset".
        fields = {k: kwargs.pop(k) for k in list(kwargs)
                  if k in MelSpec.__dataclass_fields__ and k != "name"}
        if "preset" in kwargs:
            fields["name"] = kwargs.pop("preset")
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.spec = MelSpec.from_dict(fields) if fields else get_preset(spec)
        self._filterbank_t = mel_filterbank(self.spec).T.copy()
        self.supports_masking = False

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ConfigError("waveform", f"LogMel takes waveforms shaped (batch, samples), "
                                          f"got a tensor of shape {tuple(input_shape)}")
        self.built = True

    def call(self, wave):
        wave = ops.cast(wave, "float32")
        return logmel_ops(wave, self.spec, ops.convert_to_tensor(self._filterbank_t))

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        frames = None if samples is None else n_frames(samples, self.spec)
        return (input_shape[0], self.spec.n_mels, frames)

    def get_config(self):
        config = super().get_config()
        fields = self.spec.to_dict()
        config.update(preset=fields.pop("name"), **fields)
        return config


def waveform_to_logmel(wave, spec, center=True):
    """TensorFlow function for tf.data: wave (samples,) or (batch, samples) ->
    (n_mels, frames) or (batch, n_mels, frames), the same code as LogMel
    (``center``: see :func:`logmel_ops`). Needs the TensorFlow backend
    (tf.data runs TensorFlow graphs)."""
    import tensorflow as tf

    spec = get_preset(spec)
    wave = tf.convert_to_tensor(wave, tf.float32)
    squeeze = wave.shape.rank == 1
    if squeeze:
        wave = wave[None]
    mel = logmel_ops(wave, spec, tf.constant(mel_filterbank(spec).T), center)
    return mel[0] if squeeze else mel
