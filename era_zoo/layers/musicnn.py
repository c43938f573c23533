"""The musicnn taggers' trunks (Pons & Serra, "musicnn: pre-trained
convolutional neural networks for music audio tagging", ISMIR 2019 LBD), in
keras.ops, weight-compatible with the PyPI wheel ``musicnn==0.1.0``
(``era_zoo.convert.musicnn`` maps its checkpoints onto these layers).

Input: compressed log-mel patches (batch, n_mels, frames), era_zoo's layout;
the layers transpose to the original's (batch, frames, n_mels) internally.

:class:`MusicnnTrunk`, the front-end and mid-end of musicnn:

- input BatchNorm over one channel;
- front-end, "musically motivated": timbral convolutions spanning 7 frames x
  40 % and 70 % of the bands (time padded 3 + 3), temporal convolutions of
  128, 64 and 32 frames x 1 band ("same" in time), each Conv -> ReLU ->
  BatchNorm, then max-pooled over all bands; 204 + 204 + 3 x 51 = 561
  channels per frame;
- mid-end: three 7-frame convolutions of 64 filters over those channels
  (Conv -> ReLU -> BatchNorm), the second and third with residual
  connections;
- temporal pooling of the dense concatenation [front-end, mid-end 1..3]
  (561 + 3 x 64 = 753 channels): max and mean over frames.

:class:`VGGTrunk`, the wheel's VGG-like baseline: five 3x3 convolutions of
128 filters, Conv -> ReLU -> BatchNorm -> MaxPool (4x1 stride 2, then 2x2,
2x2, 2x2, 4x4), dropout 0.25 between blocks.

Numerics that decide the match with the original graph:

- TensorFlow's "same" padding of an even-length kernel of k frames puts
  k // 2 frames after the signal and k // 2 - 1 before it; the padding is
  written out here so every backend pads alike.
- BatchNorm epsilon 1e-3 (TensorFlow 1's default); most front-end channels
  are dead (moving variance about 1e-36), so epsilon is what divides them and
  float16 would lose them: the layers compute in float32 whatever the dtype
  policy.
"""
import keras
from keras import layers, ops

from .audio_encoder import ProjectedEncoder, build_conv_blocks

# TensorFlow 1's tf.layers defaults, which the checkpoints were trained with.
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
FLOAT32 = "float32"

# Front-end sizes of the wheel's musicnn models ("7774timbraltemporal" with
# num_filt 1.6): timbral filters 1.6 x 128, temporal 1.6 x 32.
TIMBRAL_FILTERS = int(1.6 * 128)
TEMPORAL_FILTERS = int(1.6 * 32)
TIMBRAL_SPANS = (0.4, 0.7)          # fraction of the bands each timbral kernel covers
TEMPORAL_LENGTHS = (128, 64, 32)    # frames of the temporal kernels
TIME_CONTEXT = 7                    # frames of the timbral and mid-end kernels


def batch_norm(name):
    """A BatchNormalization with the checkpoints' TF1 defaults, in float32."""
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM,
                                     name=name, dtype=FLOAT32)


def same_padding(kernel):
    """(before, after) frames of TensorFlow's "same" padding for a stride-1
    kernel of ``kernel`` frames: the odd frame of an even kernel goes after.

    Args:
        kernel: kernel length in frames.

    Example:
        >>> same_padding(128)
        (63, 64)
    """
    total = int(kernel) - 1
    return total // 2, total - total // 2


def _pad_time(x, before, after):
    """Zero-pad axis 1 (frames) of a (batch, frames, ...) tensor."""
    pad = [[0, 0], [before, after]] + [[0, 0]] * (len(x.shape) - 2)
    return ops.pad(x, pad)


@keras.saving.register_keras_serializable(package="era_zoo")
class MusicnnTrunk(layers.Layer):
    """musicnn's front-end and mid-end with its temporal pooling.

    ``call(mel)`` takes compressed log-mel patches (batch, n_mels, frames)
    (any number of frames; the wheel's models were trained on 187) and
    returns a dict:

    - ``timbral`` (batch, frames, 408), ``temporal`` (batch, frames, 153):
      the front-end's feature maps;
    - ``cnn1``, ``cnn2``, ``cnn3`` (batch, frames, midend_filters): the
      mid-end's outputs (after the residual additions);
    - ``max_pool``, ``mean_pool`` (batch, 753): the dense concatenation of
      front-end and mid-end pooled over frames;
    - ``pooled`` (batch, 1506): max and mean interleaved per channel
      (max_0, mean_0, max_1, mean_1, ...), the back-end's input.

    Args:
        n_mels: mel bands of the input (96 for the wheel's models; the
            timbral kernels span int(0.4 n_mels) and int(0.7 n_mels) bands).
        midend_filters: filters of each mid-end convolution (64).

    Example:
        >>> import numpy as np
        >>> out = MusicnnTrunk()(np.zeros((2, 96, 187), "float32"))
        >>> tuple(out["pooled"].shape)
        (2, 1506)
    """

    def __init__(self, n_mels=96, midend_filters=64, **kwargs):
        kwargs["dtype"] = FLOAT32
        super().__init__(**kwargs)
        self.n_mels = int(n_mels)
        self.midend_filters = int(midend_filters)
        self.input_bn = batch_norm("input_bn")
        self.timbral = [
            (layers.Conv2D(TIMBRAL_FILTERS, (TIME_CONTEXT, int(span * self.n_mels)),
                           activation="relu", name=f"timbral_{i}", dtype=FLOAT32),
             batch_norm(f"timbral_{i}_bn"))
            for i, span in enumerate(TIMBRAL_SPANS)]
        self.temporal = [
            (layers.Conv2D(TEMPORAL_FILTERS, (length, 1), activation="relu",
                           name=f"temporal_{length}", dtype=FLOAT32),
             batch_norm(f"temporal_{length}_bn"))
            for length in TEMPORAL_LENGTHS]
        self.midend = [
            (layers.Conv1D(self.midend_filters, TIME_CONTEXT, activation="relu",
                           name=f"midend_{i + 1}", dtype=FLOAT32),
             batch_norm(f"midend_{i + 1}_bn"))
            for i in range(3)]

    @property
    def frontend_dim(self):
        return len(TIMBRAL_SPANS) * TIMBRAL_FILTERS + len(TEMPORAL_LENGTHS) * TEMPORAL_FILTERS

    @property
    def pooled_dim(self):
        """Channels of max_pool and mean_pool (753 for the wheel's models)."""
        return self.frontend_dim + 3 * self.midend_filters

    def build(self, input_shape=None):
        image = (None, None, self.n_mels, 1)
        self.input_bn.build(image)
        for conv, bn in self.timbral + self.temporal:
            conv.build(image)
            bn.build(conv.compute_output_shape(image))
        channels = self.frontend_dim
        for conv, bn in self.midend:
            conv.build((None, None, channels))
            bn.build((None, None, self.midend_filters))
            channels = self.midend_filters
        self.built = True

    def call(self, mel, training=None):
        x = ops.transpose(ops.cast(mel, FLOAT32), (0, 2, 1))[..., None]  # (b, t, mels, 1)
        x = self.input_bn(x, training=training)
        half = TIME_CONTEXT // 2
        padded = _pad_time(x, half, half)
        front = []
        for conv, bn in self.timbral:
            front.append(ops.max(bn(conv(padded), training=training), axis=2))
        for (conv, bn), length in zip(self.temporal, TEMPORAL_LENGTHS):
            y = conv(_pad_time(x, *same_padding(length)))
            front.append(ops.max(bn(y, training=training), axis=2))
        frontend = ops.concatenate(front, axis=-1)                    # (b, t, 561)

        mid, h = [], frontend
        for i, (conv, bn) in enumerate(self.midend):
            y = bn(conv(_pad_time(h, half, half)), training=training)
            h = y if i == 0 else y + h
            mid.append(h)
        dense = ops.concatenate([frontend] + mid, axis=-1)           # (b, t, 753)
        max_pool = ops.max(dense, axis=1)
        mean_pool = ops.mean(dense, axis=1)
        pooled = ops.reshape(ops.stack([max_pool, mean_pool], axis=-1),
                             (-1, 2 * self.pooled_dim))
        return {"timbral": ops.concatenate(front[:2], axis=-1),
                "temporal": ops.concatenate(front[2:], axis=-1),
                "cnn1": mid[0], "cnn2": mid[1], "cnn3": mid[2],
                "max_pool": max_pool, "mean_pool": mean_pool, "pooled": pooled}

    def get_config(self):
        return {**super().get_config(), "n_mels": self.n_mels,
                "midend_filters": self.midend_filters}


# (pool size, strides) after each of the VGG baseline's five convolutions.
VGG_POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)),
             ((2, 2), (2, 2)), ((4, 4), (4, 4)))


@keras.saving.register_keras_serializable(package="era_zoo")
class VGGTrunk(layers.Layer):
    """The wheel's VGG-like baseline up to its last pool.

    ``call(mel)`` takes (batch, n_mels, n_frames) patches and returns
    ``pool1`` .. ``pool5``, each (batch, frames', bands', filters) in the
    original's (time, frequency, channel) layout, and ``pool5_flat``
    (batch, frames5 x bands5 x filters), the classifier's input (256 values
    on 96 x 187 patches).

    Args:
        n_mels: mel bands (96).
        n_frames: frames per patch (187); the classifier's size depends on it.
        filters: filters of every convolution (128).

    Example:
        >>> VGGTrunk().flat_dim
        256
    """

    def __init__(self, n_mels=96, n_frames=187, filters=128, dropout=0.25, **kwargs):
        kwargs["dtype"] = FLOAT32
        super().__init__(**kwargs)
        self.n_mels, self.n_frames = int(n_mels), int(n_frames)
        self.filters, self.dropout_rate = int(filters), float(dropout)
        self.input_bn = batch_norm("input_bn")
        self.blocks = [
            (layers.Conv2D(self.filters, 3, padding="same", activation="relu",
                           name=f"conv{i + 1}", dtype=FLOAT32),
             batch_norm(f"conv{i + 1}_bn"),
             layers.MaxPooling2D(pool, strides, name=f"pool{i + 1}", dtype=FLOAT32))
            for i, (pool, strides) in enumerate(VGG_POOLS)]
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout", dtype=FLOAT32)

    @property
    def pool_shapes(self):
        """(frames, bands, filters) after each pool."""
        t, f, shapes = self.n_frames, self.n_mels, []
        for (pt, pf), (st, sf) in VGG_POOLS:
            t, f = (t - pt) // st + 1, (f - pf) // sf + 1
            shapes.append((t, f, self.filters))
        return shapes

    @property
    def flat_dim(self):
        t, f, c = self.pool_shapes[-1]
        return t * f * c

    def build(self, input_shape=None):
        build_conv_blocks(self.input_bn, self.blocks, (None, self.n_frames, self.n_mels, 1))
        self.built = True

    def call(self, mel, training=None):
        x = ops.transpose(ops.cast(mel, FLOAT32), (0, 2, 1))[..., None]
        x = self.input_bn(x, training=training)
        out = {}
        for i, (conv, bn, pool) in enumerate(self.blocks):
            if i:
                x = self.dropout(x, training=training)
            x = pool(bn(conv(x), training=training))
            out[f"pool{i + 1}"] = x
        out["pool5_flat"] = ops.reshape(x, (-1, self.flat_dim))
        return out

    def get_config(self):
        return {**super().get_config(), "n_mels": self.n_mels, "n_frames": self.n_frames,
                "filters": self.filters, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="era_zoo")
class MusicnnEncoder(ProjectedEncoder):
    """A zoo audio encoder whose trunk is musicnn's front-end and mid-end
    (:class:`MusicnnTrunk`), started from a pretrained tagger's weights
    (``musicnn_msd``: learned on the Million Song Dataset's audio), frozen or
    fine-tuned, with :class:`~era_zoo.layers.audio_encoder.AudioEncoder`'s
    projection head on top. It answers AudioEncoder's interface (``n_mels``,
    ``n_frames``, ``output_dim``, ``trunk_dim``, ``trunk``, ``project``), so
    the era models take it as ``encoder={"type": "musicnn", ...}``.

    ``trunk(mel)`` is the 1506-d pooled features (max and mean over frames
    of the 753 front-end and mid-end channels, interleaved); ``project``
    maps them to the ``output_dim`` embedding: Dense(hidden_dim) ->
    BatchNorm -> ReLU -> Dropout -> Dense(output_dim) -> LayerNorm. A frozen
    trunk (``trainable_trunk=False``) keeps its BatchNorm statistics (Keras
    runs non-trainable BatchNorm in inference mode).

    Args:
        preset: the tagger whose trunk weights start the encoder
            (``"musicnn_msd"``, ``"musicnn_mtt"``), or None (random).
        trainable_trunk: fine-tune the trunk (True) or keep it frozen.
        n_mels, n_frames: the input, (96, 187) for the wheel's models
            (musicnn96 patches, about 3 s).
        midend_filters: mid-end filters (64 in the presets).
        hidden_dim, output_dim, dropout: the projection head.
        synchronized_bn: synchronized BatchNorm in the head (distribution).

    Example:
        >>> enc = MusicnnEncoder(preset=None)
        >>> tuple(enc(np.zeros((2, 96, 187), "float32")).shape)
        (2, 128)
    """

    def __init__(self, preset="musicnn_msd", trainable_trunk=False, n_mels=96, n_frames=187,
                 midend_filters=64, hidden_dim=512, output_dim=128, dropout=0.5,
                 synchronized_bn=False, **kwargs):
        super().__init__(**kwargs)
        self.preset = None if preset in (None, "") else str(preset)
        self.trainable_trunk = bool(trainable_trunk)
        self.n_mels, self.n_frames = int(n_mels), int(n_frames)
        self.hidden_dim, self.output_dim = int(hidden_dim), int(output_dim)
        self.dropout_rate = float(dropout)
        self.synchronized_bn = bool(synchronized_bn)
        self.musicnn = MusicnnTrunk(self.n_mels, midend_filters, name="musicnn")
        self.musicnn.trainable = self.trainable_trunk
        self._add_head()

    @property
    def trunk_dim(self):
        return 2 * self.musicnn.pooled_dim

    def build(self, input_shape=None):
        self.musicnn.build((None, self.n_mels, self.n_frames))
        self._build_head()
        if self.preset is not None:
            self.musicnn.set_weights(pretrained_trunk_weights(self.preset))
        self.built = True

    def trunk(self, mel, training=None):
        """(batch, n_mels, n_frames) musicnn96 patches -> (batch, 1506)."""
        return self.musicnn(mel, training=training and self.trainable_trunk)["pooled"]

    def get_config(self):
        return {**super().get_config(), "preset": self.preset,
                "trainable_trunk": self.trainable_trunk, "n_mels": self.n_mels,
                "n_frames": self.n_frames, "midend_filters": self.musicnn.midend_filters,
                "hidden_dim": self.hidden_dim, "output_dim": self.output_dim,
                "dropout": self.dropout_rate, "synchronized_bn": self.synchronized_bn}


def pretrained_trunk_weights(preset):
    """The trunk weights (front-end and mid-end) of a shipped musicnn tagger
    preset, in :class:`MusicnnTrunk`'s order.

    Args:
        preset: "musicnn_msd" or "musicnn_mtt" (or another preset of a
            musicnn tagger).

    Example:
        >>> len(pretrained_trunk_weights("musicnn_msd"))
        52
    """
    from ..errors import ConfigError
    from ..registry import load

    tagger = load(preset)
    trunk = getattr(tagger, "trunk", None)
    if not isinstance(trunk, MusicnnTrunk):
        raise ConfigError("encoder.preset", f"{preset!r} is not a musicnn tagger",
                          "use musicnn_msd or musicnn_mtt")
    return trunk.get_weights()
