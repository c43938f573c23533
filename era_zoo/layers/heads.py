"""Heads on top of the encoders: the contrastive projection head and the
linear/MLP classifier head."""
import keras
from keras import layers, ops


def l2_normalize(x, axis=-1, epsilon=1e-12):
    """x / max(||x||, epsilon), computed in float32 (float16-safe)."""
    x32 = ops.cast(x, "float32")
    norm = ops.sqrt(ops.sum(ops.square(x32), axis=axis, keepdims=True))
    return ops.cast(x32 / ops.maximum(norm, epsilon), x.dtype)


@keras.saving.register_keras_serializable(package="era_zoo")
class ProjectionHead(layers.Layer):
    """Dense-ReLU-Dense, then L2 normalisation (``normalize=True``): the
    SimCLR/SupCon projection on which contrastive losses are computed."""

    def __init__(self, input_dim=128, hidden_dim=128, output_dim=128,
                 normalize=True, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.hidden_dim = int(input_dim), int(hidden_dim)
        self.output_dim, self.normalize = int(output_dim), bool(normalize)
        self.fc1 = layers.Dense(self.hidden_dim, activation="relu", name="fc1")
        self.fc2 = layers.Dense(self.output_dim, name="fc2")

    def build(self, input_shape=None):
        if self.built:
            return
        self.fc1.build((None, self.input_dim))
        self.fc2.build((None, self.hidden_dim))
        self.built = True

    def call(self, x):
        z = self.fc2(self.fc1(x))
        return l2_normalize(z) if self.normalize else z

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "hidden_dim": self.hidden_dim, "output_dim": self.output_dim,
                "normalize": self.normalize}


@keras.saving.register_keras_serializable(package="era_zoo")
class ClassifierHead(layers.Layer):
    """(batch, input_dim) -> (batch, n_classes) logits: a linear layer, or
    with ``hidden_dim`` > 0 a Dense-ReLU-Dropout hidden layer before it."""

    def __init__(self, n_classes, input_dim=128, hidden_dim=0, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.n_classes, self.input_dim = int(n_classes), int(input_dim)
        self.hidden_dim, self.dropout_rate = int(hidden_dim), float(dropout)
        self.hidden = (layers.Dense(self.hidden_dim, activation="relu", name="hidden")
                       if self.hidden_dim > 0 else None)
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout")
        self.logits = layers.Dense(self.n_classes, name="logits")

    def build(self, input_shape=None):
        if self.built:
            return
        width = self.input_dim
        if self.hidden is not None:
            self.hidden.build((None, width))
            width = self.hidden_dim
        self.logits.build((None, width))
        self.built = True

    def call(self, x, training=None):
        if self.hidden is not None:
            x = self.hidden(x)
        return self.logits(self.dropout(x, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_classes)

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes,
                "input_dim": self.input_dim, "hidden_dim": self.hidden_dim,
                "dropout": self.dropout_rate}
