"""A small keras-hub transformer over artist-text WordPiece ids (AudioArt-MMC).

Paper A encodes artist biographies with a text model it does not specify.
Hub presets need downloads these machines cannot make, so the encoder is
built from keras-hub layers and trained with the era model: token + position
embedding, ``num_layers`` post-norm ``TransformerEncoder`` blocks with the
padding (id 0) masked as attention keys, a mean over the non-padding
positions, then Dense -> LayerNorm to ``output_dim`` (the same head as
:class:`~era_zoo.layers.text_encoder.PrecomputedTextEncoder`, so both
encoders meet the audio embedding at one scale).

It implements the artist-text encoder interface of
``era_zoo.layers.text_encoder``: ``call(artist_text, training=None)`` maps
(batch, seq_len) int ids to (batch, output_dim); ``output_dim``,
``text_input_shape`` = (seq_len,) and ``text_input_dtype`` = "int32".

An artist without text is an all-padding row: its mean pools nothing and is
defined as the zero vector, so the output is the head applied to zeros
(the same for every such artist) and never NaN. The vocabulary and the ids
come from :class:`era_zoo.sideinfo.artist_text.ArtistTextTable`.
"""
import keras
from keras import layers, ops

from ..errors import ConfigError
from .audio_encoder import LN_EPSILON

PAD_ID = 0


def masked_mean(values, mask):
    """Mean of ``values`` (batch, L, d) over positions where ``mask`` (batch, L) is
    true; zero where a row has no such position."""
    weights = ops.cast(mask, values.dtype)[..., None]
    total = ops.sum(values * weights, axis=1)
    count = ops.sum(weights, axis=1)
    return total / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package="era_zoo")
class ArtistTextTransformer(layers.Layer):
    """(batch, seq_len) int WordPiece ids (0 = padding) -> (batch, output_dim)."""

    text_input_dtype = "int32"

    def __init__(self, vocab_size, seq_len=128, embedding_dim=128, num_layers=1,
                 num_heads=4, intermediate_dim=256, output_dim=128, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("vocab_size", vocab_size), ("seq_len", seq_len),
                            ("embedding_dim", embedding_dim), ("num_heads", num_heads),
                            ("intermediate_dim", intermediate_dim), ("output_dim", output_dim)):
            if int(value) < 1:
                raise ConfigError(name, f"must be >= 1, got {value!r}")
        if int(num_layers) < 1:
            raise ConfigError("num_layers", f"must be >= 1, got {num_layers!r}")
        if int(embedding_dim) % int(num_heads):
            raise ConfigError("num_heads", f"must divide embedding_dim {embedding_dim}, "
                              f"got {num_heads}")
        import keras_hub  # imported here: it loads TF text ops, only this layer needs them

        self.vocab_size, self.seq_len = int(vocab_size), int(seq_len)
        self.embedding_dim, self.num_layers = int(embedding_dim), int(num_layers)
        self.num_heads, self.intermediate_dim = int(num_heads), int(intermediate_dim)
        self.output_dim, self.dropout_rate = int(output_dim), float(dropout)
        self.embedding = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary_size=self.vocab_size, sequence_length=self.seq_len,
            embedding_dim=self.embedding_dim, mask_zero=False, name="embedding")
        self.embedding_dropout = layers.Dropout(self.dropout_rate, name="embedding_dropout")
        self.blocks = [keras_hub.layers.TransformerEncoder(
            intermediate_dim=self.intermediate_dim, num_heads=self.num_heads,
            dropout=self.dropout_rate, layer_norm_epsilon=LN_EPSILON, name=f"block_{i}")
            for i in range(self.num_layers)]
        self.projection = layers.Dense(self.output_dim, name="projection")
        self.norm = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")

    @property
    def text_input_shape(self):
        return (self.seq_len,)

    def build(self, input_shape=None):
        self.embedding.build((None, self.seq_len))
        for block in self.blocks:
            block.build((None, self.seq_len, self.embedding_dim))
        self.projection.build((None, self.embedding_dim))
        self.norm.build((None, self.output_dim))
        self.built = True

    def call(self, artist_text, training=None):
        ids = ops.cast(artist_text, "int32")
        # The mask is passed explicitly (mask_zero=False above) so it does not
        # depend on Keras' implicit mask propagation, which differs by backend.
        padding_mask = ops.not_equal(ids, PAD_ID)
        x = self.embedding_dropout(self.embedding(ids), training=training)
        for block in self.blocks:
            x = block(x, padding_mask=padding_mask, training=training)
        return self.norm(self.projection(masked_mean(x, padding_mask)))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "seq_len": self.seq_len,
                "embedding_dim": self.embedding_dim, "num_layers": self.num_layers,
                "num_heads": self.num_heads, "intermediate_dim": self.intermediate_dim,
                "output_dim": self.output_dim, "dropout": self.dropout_rate}
