"""Paper B's genre encoder, as its reference code
(andrebola/contrastive-mir-learning, TagSelfAttentionEncoder) computes it:
word2vec-initialised embedding of up to ``max_genres`` (10) genre ids, 4-head
self-attention over them, sum over positions, LayerNorm.

Genre id 0 is padding. It embeds to zeros (PyTorch's ``padding_idx=0``: a
zero row that never trains) and is masked as an attention key. The reference
sums the attention output over **all** ``max_genres`` positions, the padded
query positions included: a padded position's query is zero, so it attends
evenly to the real genres and adds their mean value vector, once per padded
slot. That is the default here (``sum_over="all"``); ``sum_over="valid"``
sums the real positions only. A track without any genre has every key
masked and all-zero values: it encodes to LayerNorm(0), i.e. the LayerNorm
bias, under either sum; the pipelines count and report such tracks.
"""
import keras
import numpy as np
from keras import layers, ops

from ..errors import ConfigError
from .audio_encoder import LN_EPSILON

MAX_GENRES = 10
SUM_OVER = ("all", "valid")


@keras.saving.register_keras_serializable(package="era_zoo")
class GenreEncoder(layers.Layer):
    """(batch, max_genres) int genre ids -> (batch, output_dim).

    ``vocab_size`` counts real genres (ids 1..vocab_size); the embedding has
    one more row for the padding id 0. ``embedding_matrix`` (optional,
    (vocab_size, embedding_dim) for ids 1.., or (vocab_size + 1,
    embedding_dim) including the padding row) sets the initial embedding,
    e.g. gensim word2vec vectors; it is stored as the layer's weight, so it
    is saved with the weights and not in the config.

    The attention follows the reference: Q/K/V 128 -> heads x head_dim
    without bias, scores scaled by sqrt(head_dim), attention dropout, then
    a bias-free Dense heads x head_dim -> output_dim (Keras'
    MultiHeadAttention with use_bias=False is exactly this), dropout, sum
    over positions, LayerNorm(eps 1e-6).

    Args:
        vocab_size: number of real genres (ids 1..vocab_size).
        embedding_dim, num_heads, head_dim, output_dim: the sizes (paper:
            128, 4, 128, 128).
        max_genres: genre slots per track (paper: 10).
        dropout, attention_dropout: after the output Dense and on the
            attention weights (paper: 0.1 each).
        embedding_matrix: initial embedding (word2vec), see above.
        sum_over: ``"all"`` (the reference: every position, padded queries
            included) or ``"valid"`` (the real genres' positions only).

    Example:
        >>> import numpy as np
        >>> enc = GenreEncoder(219)
        >>> enc(np.array([[5, 17, 0, 0, 0, 0, 0, 0, 0, 0]])).shape
        (1, 128)
    """

    def __init__(self, vocab_size, embedding_dim=128, num_heads=4, head_dim=128,
                 output_dim=128, max_genres=MAX_GENRES, dropout=0.1,
                 attention_dropout=0.1, embedding_matrix=None, sum_over="all", **kwargs):
        super().__init__(**kwargs)
        if int(vocab_size) < 1:
            raise ConfigError("vocab_size", f"must be >= 1, got {vocab_size}")
        if sum_over not in SUM_OVER:
            raise ConfigError("sum_over", f"unknown value {sum_over!r}",
                              f"one of: {', '.join(SUM_OVER)}")
        self.sum_over = sum_over
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.num_heads, self.head_dim = int(num_heads), int(head_dim)
        self.output_dim = int(output_dim)
        self.max_genres = int(max_genres)
        self.dropout_rate = float(dropout)
        self.attention_dropout = float(attention_dropout)
        self.embedding = layers.Embedding(self.vocab_size + 1, self.embedding_dim,
                                          name="embedding")
        self.attention = layers.MultiHeadAttention(
            num_heads=self.num_heads, key_dim=self.head_dim, use_bias=False,
            dropout=self.attention_dropout, output_shape=self.output_dim,
            name="attention")
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout")
        self.norm = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")
        self._initial_matrix = (None if embedding_matrix is None
                                else self._padded_matrix(embedding_matrix))

    def _padded_matrix(self, matrix):
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != self.embedding_dim or \
                matrix.shape[0] not in (self.vocab_size, self.vocab_size + 1):
            raise ConfigError(
                "embedding_matrix",
                f"shape {matrix.shape} does not fit vocab_size={self.vocab_size}, "
                f"embedding_dim={self.embedding_dim}",
                f"expected ({self.vocab_size}, {self.embedding_dim}) or "
                f"({self.vocab_size + 1}, {self.embedding_dim}) with row 0 = padding")
        if not np.isfinite(matrix).all():
            raise ConfigError("embedding_matrix", "contains NaN or infinite values")
        if matrix.shape[0] == self.vocab_size:
            matrix = np.concatenate([np.zeros((1, self.embedding_dim), np.float32), matrix])
        return matrix

    def build(self, input_shape=None):
        if self.built:
            return
        seq = (None, self.max_genres, self.embedding_dim)
        self.embedding.build((None, self.max_genres))
        self.attention.build(seq, seq)
        self.norm.build((None, self.output_dim))
        if self._initial_matrix is not None:
            self.embedding.embeddings.assign(self._initial_matrix)
            self._initial_matrix = None
        self.built = True

    def call(self, genre_ids, training=None):
        genre_ids = ops.cast(genre_ids, "int32")
        valid = ops.not_equal(genre_ids, 0)                      # (batch, L)
        weights = ops.cast(valid, self.compute_dtype)[:, :, None]
        x = self.embedding(genre_ids) * weights                  # padding embeds to 0
        # Padded keys are masked; padded queries stay (see the module doc).
        attention_mask = ops.broadcast_to(
            valid[:, None, :], (ops.shape(valid)[0], ops.shape(valid)[1], ops.shape(valid)[1]))
        x = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.dropout(x, training=training)
        if self.sum_over == "valid":
            x = x * weights
        return self.norm(ops.sum(x, axis=1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embedding_dim": self.embedding_dim, "num_heads": self.num_heads,
                "head_dim": self.head_dim, "output_dim": self.output_dim,
                "max_genres": self.max_genres, "dropout": self.dropout_rate,
                "attention_dropout": self.attention_dropout, "sum_over": self.sum_over}
