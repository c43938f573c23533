"""Paper B's audio encoder (DESIGN.md): input BatchNorm, seven
Conv3x3-BN-ReLU-MaxPool blocks, then Dense-BN-ReLU-Dropout-Dense-LayerNorm.

Input is a log-mel batch shaped (batch, bands, frames), the layout of Melon's
``.npy`` files. The trunk output (flattened conv features, 1024-d on 48x256)
is the downstream embedding of the reference; the 128-d projection is what
the contrastive losses see.
"""
import keras
from keras import layers, ops

# BatchNorm/LayerNorm numerics of the PyTorch reference (momentum 0.1 there).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5
LN_EPSILON = 1e-6

PAPER_B_CHANNELS = (128, 128, 256, 256, 256, 256, 512)
PAPER_B_POOLS = ((2, 2), (2, 2), (2, 2), (2, 2), (1, 2), (1, 2), (2, 2))


def _pair(p):
    return tuple(p) if isinstance(p, (list, tuple)) else (p, p)


@keras.saving.register_keras_serializable(package="era_zoo")
class AudioEncoder(layers.Layer):
    def __init__(self, n_mels=48, n_frames=256, channels=PAPER_B_CHANNELS,
                 pools=PAPER_B_POOLS, hidden_dim=512, output_dim=128,
                 dropout=0.5, synchronized_bn=False, **kwargs):
        super().__init__(**kwargs)
        if len(channels) != len(pools):
            raise ValueError(f"channels ({len(channels)}) and pools "
                             f"({len(pools)}) must have the same length")
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
        self.fc1 = layers.Dense(self.hidden_dim, name="fc1")
        self.fc_bn = bn("fc_bn")
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout")
        self.fc2 = layers.Dense(self.output_dim, name="fc2")
        self.norm = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")

    @property
    def trunk_shape(self):
        """(bands, frames, channels) after the last pool."""
        h, w = self.n_mels, self.n_frames
        for ph, pw in self.pools:
            h, w = h // ph, w // pw
        if h < 1 or w < 1:
            raise ValueError(f"input {self.n_mels}x{self.n_frames} is too small "
                             f"for pools {self.pools}")
        return h, w, self.channels[-1]

    @property
    def trunk_dim(self):
        h, w, c = self.trunk_shape
        return h * w * c

    def build(self, input_shape=None):
        shape = (None, self.n_mels, self.n_frames, 1)
        self.input_bn.build(shape)
        for conv, bn, pool in self.blocks:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            bn.build(shape)
            shape = pool.compute_output_shape(shape)
        self.fc1.build((None, self.trunk_dim))
        self.fc_bn.build((None, self.hidden_dim))
        self.fc2.build((None, self.hidden_dim))
        self.norm.build((None, self.output_dim))
        self.built = True

    def trunk(self, mel, training=None):
        """(batch, bands, frames) log-mel -> (batch, trunk_dim) features."""
        x = ops.expand_dims(ops.cast(mel, self.compute_dtype), -1)
        x = self.input_bn(x, training=training)
        for conv, bn, pool in self.blocks:
            x = pool(ops.relu(bn(conv(x), training=training)))
        return ops.reshape(x, (-1, self.trunk_dim))

    def project(self, h, training=None):
        """(batch, trunk_dim) -> (batch, output_dim) layer-normalised embedding."""
        h = ops.relu(self.fc_bn(self.fc1(h), training=training))
        return self.norm(self.fc2(self.dropout(h, training=training)))

    def call(self, mel, training=None):
        return self.project(self.trunk(mel, training=training), training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "n_mels": self.n_mels,
                "n_frames": self.n_frames, "channels": list(self.channels),
                "pools": [list(p) for p in self.pools],
                "hidden_dim": self.hidden_dim, "output_dim": self.output_dim,
                "dropout": self.dropout_rate,
                "synchronized_bn": self.synchronized_bn}
