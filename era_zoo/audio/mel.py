"""The log-mel front-end, in graph: waveform (batch, samples) -> (batch, n_mels, frames).

One implementation serves both the Keras layer :class:`LogMel` (so a saved
model can take raw waveforms) and the tf.data pipelines
(:func:`waveform_to_logmel`). It reproduces

    np.log(librosa.feature.melspectrogram(y=wave, sr=sr, n_fft=n_fft, hop_length=hop,
        window="hann", center=True, pad_mode="constant", power=power,
        n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False, norm="slaney")
        + log_offset)

(natural log, no dB scaling, no clipping): the signal is zero-padded by n_fft // 2
on both sides, framed every ``hop_length`` samples with a periodic Hann
window of n_fft samples, |rfft|^power, times a Slaney-scale, Slaney-normalised
triangular filterbank (:func:`mel_filterbank`, NumPy, built once).
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


def mel_filterbank(spec):
    """(n_mels, 1 + n_fft // 2) float32 weights, as librosa.filters.mel(htk=False,
    norm="slaney"): triangles between adjacent mel-spaced edges, each scaled by
    2 / (its width in Hz) so every band has unit area."""
    spec = get_preset(spec)
    fmax = spec.sample_rate / 2 if spec.fmax is None else spec.fmax
    fft_freqs = np.fft.rfftfreq(spec.n_fft, 1.0 / spec.sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(spec.fmin), hz_to_mel(fmax), spec.n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


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
                          window="hann", center=False)
    power = real * real + imag * imag              # (batch, frames, n_freqs)
    if spec.power != 2.0:
        power = ops.power(ops.sqrt(power), spec.power)
    mel = ops.matmul(power, filterbank_t)          # (batch, frames, n_mels)
    return ops.transpose(ops.log(mel + spec.log_offset), (0, 2, 1))


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
