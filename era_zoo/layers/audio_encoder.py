"""Paper B's audio encoder, as its reference code (andrebola/contrastive-mir-learning)
builds it: input BatchNorm, seven Conv3x3-BN-ReLU-MaxPool blocks (channels
128, 128, 256, 256, 256, 256, 512), then Dense-BN-ReLU-Dropout-Dense-LayerNorm.

Input is a log-mel batch shaped (batch, bands, frames), the layout of Melon's
``.npy`` files. The trunk output (flattened conv features, 1024-d on 48x256)
is the downstream embedding of the reference; the 128-d projection is what
the contrastive losses see.

Speed (float32; the maths are those of Conv -> BatchNorm -> ReLU -> MaxPool,
checked against the PyTorch reference in tests/test_convert.py):

- ReLU, and any per-channel shift, run after the pool (they commute with the
  max), on a quarter of the values.
- Inference folds each BatchNorm into its convolution's kernel and bias.
- Training, first block: with one input channel, the batch mean and variance
  of every conv output channel follow from the 9-d mean and 9x9 covariance of
  the 3x3 input patches (mean = w.mu + b, var = w' Sigma w), so the BatchNorm
  is folded into the kernel even while training and the full-resolution
  128-channel tensor (805 MB at batch 128) is written once instead of being
  normalised, rectified and differentiated through elementwise.
- Training, other blocks: on the TensorFlow backend TF's fused batch-norm
  kernel (one op forward, one backward) replaces the elementwise statement.
- TensorFlow with oneDNN (``TF_ENABLE_ONEDNN_OPTS=1``, exported before TF
  loads): kernel gradients are computed in NCHW, where oneDNN's filter-gradient
  kernel is about 2.7x faster than in NHWC; forward and input gradients stay
  NHWC. Detected once at run time; stock kernels keep the plain gradient.
- In training the conv bias cancels inside BatchNorm (it shifts the batch
  mean by itself); it is kept, reaches the moving mean, and gets its exact
  gradient, zero.

Synchronized BatchNorm (distribution) and non-float32 compute dtypes take the
plain layer-by-layer path.
"""
import keras
from keras import layers, ops

from era_zoo.errors import ConfigError

# BatchNorm/LayerNorm numerics of the PyTorch reference (momentum 0.1 there).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
LN_EPSILON = 1e-6

PAPER_B_CHANNELS = (128, 128, 256, 256, 256, 256, 512)
PAPER_B_POOLS = ((2, 2), (2, 2), (2, 2), (2, 2), (1, 2), (1, 2), (2, 2))


def build_conv_blocks(input_bn, blocks, shape):
    """Build an input BatchNorm and its (conv, bn, pool) blocks, in order,
    from the input ``shape``; returns the shape after the last pool."""
    input_bn.build(shape)
    for conv, bn, pool in blocks:
        conv.build(shape)
        shape = conv.compute_output_shape(shape)
        bn.build(shape)
        shape = pool.compute_output_shape(shape)
    return shape


def _pair(p):
    return tuple(p) if isinstance(p, (list, tuple)) else (p, p)


class ProjectedEncoder(layers.Layer):
    """The projection every zoo audio encoder ends with: trunk features ->
    Dense(hidden_dim) -> BatchNorm -> ReLU -> Dropout -> Dense(output_dim) ->
    LayerNorm. Subclasses set ``hidden_dim``, ``output_dim``, ``dropout_rate``
    and ``synchronized_bn``, call :meth:`_add_head` after their trunk's
    sublayers (the order the weights are saved in) and define ``trunk`` and
    ``trunk_dim``."""

    def _add_head(self):
        self.fc1 = layers.Dense(self.hidden_dim, name="fc1")
        self.fc_bn = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                                               synchronized=self.synchronized_bn, name="fc_bn")
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout")
        self.fc2 = layers.Dense(self.output_dim, name="fc2")
        self.norm = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")

    def _build_head(self):
        self.fc1.build((None, self.trunk_dim))
        self.fc_bn.build((None, self.hidden_dim))
        self.fc2.build((None, self.hidden_dim))
        self.norm.build((None, self.output_dim))

    def project(self, h, training=None):
        """(batch, trunk_dim) -> (batch, output_dim) layer-normalised embedding."""
        h = ops.relu(self.fc_bn(self.fc1(h), training=training))
        return self.norm(self.fc2(self.dropout(h, training=training)))

    def call(self, mel, training=None):
        return self.project(self.trunk(mel, training=training), training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)


@keras.saving.register_keras_serializable(package="era_zoo")
class AudioEncoder(ProjectedEncoder):
    def __init__(self, n_mels=48, n_frames=256, channels=PAPER_B_CHANNELS,
                 pools=PAPER_B_POOLS, hidden_dim=512, output_dim=128,
                 dropout=0.5, synchronized_bn=False, **kwargs):
        super().__init__(**kwargs)
        if len(channels) != len(pools):
            raise ConfigError("pools", f"{len(pools)} pools for {len(channels)} "
                              "channel counts: channels and pools must have the same length")
        self.n_mels, self.n_frames = int(n_mels), int(n_frames)
        self.channels = tuple(int(c) for c in channels)
        self.pools = tuple(_pair(p) for p in pools)
        self.hidden_dim, self.output_dim = int(hidden_dim), int(output_dim)
        self.dropout_rate = float(dropout)
        self.synchronized_bn = bool(synchronized_bn)

        def bn(name):
            return layers.BatchNormalization(
                momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                synchronized=self.synchronized_bn, name=name)

        self.input_bn = bn("input_bn")
        self.blocks = []
        for i, (c, p) in enumerate(zip(self.channels, self.pools)):
            self.blocks.append((
                layers.Conv2D(c, 3, padding="same", name=f"conv{i}"),
                bn(f"bn{i}"),
                layers.MaxPooling2D(p, name=f"pool{i}"),
            ))
        self._add_head()

    @property
    def trunk_shape(self):
        """(bands, frames, channels) after the last pool."""
        h, w = self.n_mels, self.n_frames
        for ph, pw in self.pools:
            h, w = h // ph, w // pw
        if h < 1 or w < 1:
            raise ConfigError("n_mels/n_frames", f"input {self.n_mels}x{self.n_frames} "
                              f"is too small for pools {self.pools}")
        return h, w, self.channels[-1]

    @property
    def trunk_dim(self):
        h, w, c = self.trunk_shape
        return h * w * c

    def build(self, input_shape=None):
        _ = self.trunk_shape  # a clear error for an input too small for the pools
        build_conv_blocks(self.input_bn, self.blocks, (None, self.n_mels, self.n_frames, 1))
        self._build_head()
        self.built = True

    def weight_layers(self):
        """{sublayer name: sublayer} of every layer holding weights."""
        named = [self.input_bn, self.fc1, self.fc_bn, self.fc2, self.norm]
        for conv, bn, _ in self.blocks:
            named += [conv, bn]
        return {layer.name: layer for layer in named}

    def trunk(self, mel, training=None):
        """(batch, bands, frames) log-mel -> (batch, trunk_dim) features."""
        x = ops.expand_dims(ops.cast(mel, self.compute_dtype), -1)
        x = self.input_bn(x, training=training)
        plain = self.synchronized_bn or self.compute_dtype != "float32"
        for conv, bn, pool in self.blocks:
            if plain:
                x = pool(ops.relu(bn(conv(x), training=training)))
            else:
                x = _fast_block(x, conv, bn, pool.pool_size,
                                batch_stats=bool(training) and bn.trainable)
        return ops.reshape(x, (-1, self.trunk_dim))

    def get_config(self):
        return {**super().get_config(), "n_mels": self.n_mels,
                "n_frames": self.n_frames, "channels": list(self.channels),
                "pools": [list(p) for p in self.pools],
                "hidden_dim": self.hidden_dim, "output_dim": self.output_dim,
                "dropout": self.dropout_rate,
                "synchronized_bn": self.synchronized_bn}


def _conv3x3(x, kernel):
    if keras.backend.backend() == "tensorflow" and _onednn_nchw_filter_grad():
        return _tf_conv3x3_nchw_filter_grad(x, kernel)
    return ops.conv(x, kernel, strides=1, padding="same", data_format="channels_last")


_NCHW_PROBE = []


def _onednn_nchw_filter_grad():
    """Whether TF runs Conv2DBackpropFilter in NCHW (oneDNN builds with
    TF_ENABLE_ONEDNN_OPTS=1; stock Eigen kernels are NHWC-only). Probed once."""
    if not _NCHW_PROBE:
        import tensorflow as tf

        with tf.init_scope():
            try:
                tf.raw_ops.Conv2DBackpropFilter(
                    input=tf.zeros((1, 2, 3, 3)), filter_sizes=[3, 3, 2, 2],
                    out_backprop=tf.zeros((1, 2, 3, 3)), strides=[1, 1, 1, 1],
                    padding="SAME", data_format="NCHW")
                _NCHW_PROBE.append(True)
            except Exception:  # noqa: BLE001 - any failure means "not available"
                _NCHW_PROBE.append(False)
    return _NCHW_PROBE[0]


def _tf_conv3x3_nchw_filter_grad(x, kernel):
    """NHWC 3x3 'same' convolution whose kernel gradient is computed in NCHW.

    oneDNN's NHWC filter-gradient kernel measured about 2.7x slower than its
    NCHW one on this project's CPUs (batch 32, 24x128, 128->128 channels);
    the two transposes cost far less than the difference.
    """
    import tensorflow as tf

    strides = [1, 1, 1, 1]
    # Plain tensors in: the kernel's gradient then reaches the variable (or
    # the folded kernel) through ordinary reads.
    x, kernel = tf.convert_to_tensor(x), tf.convert_to_tensor(kernel)

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv2d(x, kernel, strides, "SAME")

        def grad(dy):
            dx = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
                strides=strides, padding="SAME")
            dk = tf.raw_ops.Conv2DBackpropFilter(
                input=tf.transpose(x, (0, 3, 1, 2)), filter_sizes=tf.shape(kernel),
                out_backprop=tf.transpose(dy, (0, 3, 1, 2)), strides=strides,
                padding="SAME", data_format="NCHW")
            return dx, dk

        return y, grad

    return conv(x, kernel)


def _fast_block(x, conv, bn, pool_size, batch_stats):
    """MaxPool(ReLU(BatchNorm(Conv(x)))) of one block, by the module's recipes."""
    kernel, bias = conv.kernel, conv.bias
    shift = None
    if not batch_stats:
        scale = bn.gamma * ops.rsqrt(bn.moving_variance + bn.epsilon)
        z = _conv3x3(x, kernel * scale)
        shift = (bias - bn.moving_mean) * scale + bn.beta
    elif x.shape[-1] == 1:
        z, shift = _first_block_train(x, kernel, bias, bn)
    else:
        z = _batch_norm_train(_conv3x3(x, kernel), bias, bn)
    z = ops.max_pool(z, pool_size=pool_size, strides=pool_size, padding="valid")
    if shift is not None:
        # A per-channel constant commutes with the max: added to 1/4 the values.
        z = z + shift
    return ops.relu(z)


def _update_moving(bn, mean, variance):
    m = bn.momentum
    bn.moving_mean.assign(bn.moving_mean * m + mean * (1.0 - m))
    bn.moving_variance.assign(bn.moving_variance * m + variance * (1.0 - m))


def _first_block_train(x, kernel, bias, bn):
    """Training-mode BatchNorm(Conv(x)) for a one-channel x, BN folded in:
    returns (conv with the scaled kernel, per-channel shift still to add).

    Batch moments of the conv outputs come from the 3x3 patch moments
    (biased variance, as Keras' BatchNormalization uses).
    """
    height, width = x.shape[1], x.shape[2]
    padded = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    # Patch order (row, column) matches the kernel's (3, 3, 1, C) layout.
    patches = ops.concatenate(
        [padded[:, i:i + height, j:j + width, :] for i in range(3) for j in range(3)],
        axis=-1)
    patches = ops.reshape(patches, (-1, 9))
    count = ops.cast(ops.shape(patches)[0], x.dtype)
    mu = ops.mean(patches, axis=0)
    centred = patches - mu
    sigma = ops.matmul(ops.transpose(centred), centred) / count
    flat_kernel = ops.reshape(kernel, (9, -1))
    mean = ops.matmul(mu, flat_kernel) + bias
    variance = ops.maximum(
        ops.sum(flat_kernel * ops.matmul(sigma, flat_kernel), axis=0), 0.0)
    _update_moving(bn, mean, variance)
    scale = bn.gamma * ops.rsqrt(variance + bn.epsilon)
    return _conv3x3(x, kernel * scale), (bias - mean) * scale + bn.beta


def _batch_norm_train(z, bias, bn):
    """Training-mode BatchNorm(z + bias) over (batch, H, W) per channel."""
    # The bias cancels against the batch mean; 0 * bias keeps its (zero)
    # gradient defined so optimizers see every trainable variable.
    offset = bn.beta + 0.0 * bias
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=z, scale=bn.gamma, offset=offset, mean=tf.zeros([0]),
            variance=tf.zeros([0]), epsilon=bn.epsilon, is_training=True)
        # TF's kernel returns the Bessel-corrected variance; Keras' moving
        # variance uses the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(z)[:-1]), z.dtype)
        variance = variance * (count - 1.0) / count
    else:
        mean, variance = ops.moments(z, axes=[0, 1, 2])
        scale = bn.gamma * ops.rsqrt(variance + bn.epsilon)
        y = z * scale + (offset - mean * scale)
    _update_moving(bn, mean + bias, variance)
    return y
