"""Paper A's multi-modal fusion: audio and artist-text embeddings combined
by self-attention (paper A, 2.3.1, after its reference [29]).

The paper gives no layer sizes. Our statement: the two embeddings (same
width d) form a 2-token sequence; a learned modality embedding is added to
each token so attention can tell audio from text; one block of multi-head
self-attention with a residual connection and LayerNorm (post-norm, as in
the original Transformer) lets each token attend to both; the fused vector
is the mean of the two output tokens. Heads, head width and dropout are
configuration.
"""
import keras
from keras import layers, ops

from .audio_encoder import LN_EPSILON


@keras.saving.register_keras_serializable(package="era_zoo")
class SelfAttentionFusion(layers.Layer):
    """(audio (batch, d), text (batch, d)) -> fused (batch, d)."""

    def __init__(self, dim=128, num_heads=4, head_dim=32, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.num_heads, self.head_dim = int(dim), int(num_heads), int(head_dim)
        self.dropout_rate = float(dropout)
        self.attention = layers.MultiHeadAttention(
            num_heads=self.num_heads, key_dim=self.head_dim,
            dropout=self.dropout_rate, output_shape=self.dim, name="attention")
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout")
        self.norm = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")

    def build(self, input_shape=None):
        if self.built:
            return
        self.modality = self.add_weight(
            shape=(2, self.dim), initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="modality_embedding")
        seq = (None, 2, self.dim)
        self.attention.build(seq, seq)
        self.norm.build(seq)
        self.built = True

    def call(self, audio, text, training=None):
        tokens = ops.stack([audio, ops.cast(text, audio.dtype)], axis=1)
        tokens = tokens + ops.cast(self.modality, tokens.dtype)[None]
        attended = self.attention(tokens, tokens, training=training)
        tokens = self.norm(tokens + self.dropout(attended, training=training))
        return ops.mean(tokens, axis=1)

    def compute_output_shape(self, audio_shape, text_shape=None):
        return (audio_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_heads": self.num_heads,
                "head_dim": self.head_dim, "dropout": self.dropout_rate}
