"""Paper B's playlist (CF) encoder: Dense 301->128, ReLU, Dropout 0.3,
Dense 128->128, LayerNorm, as in paper B's reference code
(andrebola/contrastive-mir-learning). The 301-d input is a track's 300
matrix-factorisation factors plus its item bias."""
import keras
from keras import layers, ops

from .audio_encoder import LN_EPSILON

CF_DIM = 301


@keras.saving.register_keras_serializable(package="era_zoo")
class CFEncoder(layers.Layer):
    """(batch, input_dim) CF vector -> (batch, output_dim)."""

    def __init__(self, input_dim=CF_DIM, hidden_dim=128, output_dim=128,
                 dropout=0.3, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.hidden_dim = int(input_dim), int(hidden_dim)
        self.output_dim, self.dropout_rate = int(output_dim), float(dropout)
        self.fc1 = layers.Dense(self.hidden_dim, name="fc1")
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout")
        self.fc2 = layers.Dense(self.output_dim, name="fc2")
        self.norm = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")

    def build(self, input_shape=None):
        if self.built:
            return
        self.fc1.build((None, self.input_dim))
        self.fc2.build((None, self.hidden_dim))
        self.norm.build((None, self.output_dim))
        self.built = True

    def call(self, cf, training=None):
        h = ops.relu(self.fc1(ops.cast(cf, self.compute_dtype)))
        return self.norm(self.fc2(self.dropout(h, training=training)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "hidden_dim": self.hidden_dim, "output_dim": self.output_dim,
                "dropout": self.dropout_rate}
