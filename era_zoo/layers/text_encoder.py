"""Artist-text encoders for AudioArt-MMC.

The interface every artist-text encoder implements (AudioArtMMC accepts any
such layer, as an instance or as a serialized layer config dict):

- a serialisable Keras layer whose ``call(artist_text, training=None)`` maps
  the batch's ``artist_text`` tensor to (batch, output_dim);
- attribute ``output_dim`` (int);
- attributes ``text_input_shape`` (shape of one example, without the batch
  axis: (D,) for vectors, (L,) for token ids) and ``text_input_dtype``
  ("float32" or "int32"); the model builds the encoder from them.

:class:`PrecomputedTextEncoder` serves precomputed artist vectors (D floats
per artist, e.g. from a sentence-embedding model run offline): a learned
Dense projection to ``output_dim`` followed by LayerNorm, so text and audio
embeddings meet at the same scale. The keras-hub transformer over WordPiece
ids lives in era_zoo.sideinfo and follows the same interface.
"""
import keras
from keras import layers, ops

from .audio_encoder import LN_EPSILON

# A common sentence-embedding width; set input_dim to your vectors' width.
DEFAULT_TEXT_DIM = 384


@keras.saving.register_keras_serializable(package="era_zoo")
class PrecomputedTextEncoder(layers.Layer):
    """(batch, input_dim) float artist vectors -> (batch, output_dim)."""

    text_input_dtype = "float32"

    def __init__(self, input_dim=DEFAULT_TEXT_DIM, output_dim=128, dropout=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.dropout_rate = float(dropout)
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout")
        self.projection = layers.Dense(self.output_dim, name="projection")
        self.norm = layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")

    @property
    def text_input_shape(self):
        return (self.input_dim,)

    def build(self, input_shape=None):
        if self.built:
            return
        self.projection.build((None, self.input_dim))
        self.norm.build((None, self.output_dim))
        self.built = True

    def call(self, artist_text, training=None):
        x = self.dropout(ops.cast(artist_text, self.compute_dtype), training=training)
        return self.norm(self.projection(x))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, "dropout": self.dropout_rate}
