"""The one MLP probe of the downstream protocols (Keras).

Paper B fixes the layer sizes (GTZAN: one hidden layer of 256 ReLU units;
MTG-Jamendo: 128 and 64 ReLU units with batch norm after each and dropout
after the penultimate) and is silent on the rest. Our choices, all in
``ProbeConfig``:

- inputs standardised with the training rows' mean and variance (a Keras
  ``Normalization`` layer inside the probe, so features of any scale, e.g.
  other systems' embeddings, train alike);
- each hidden layer is Dense -> ReLU -> (BatchNorm when ``batchnorm``);
  ``dropout`` is applied after the last hidden layer (the penultimate layer
  of the network);
- Adam, learning rate 1e-3, batch 128, at most 200 epochs; with a validation
  set, early stopping on validation loss (patience 10) restoring the best
  weights; without one, all ``max_epochs`` are run.
"""
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class ProbeConfig:
    hidden: tuple = (256,)
    batchnorm: bool = False
    dropout: float = 0.0
    output: str = "softmax"          # "softmax" (single label) or "sigmoid" (multi-label)
    standardize: bool = True
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 10

    def __post_init__(self):
        if self.output not in ("softmax", "sigmoid"):
            raise ConfigError("probe.output", f"{self.output!r} is not 'softmax' or 'sigmoid'")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("probe.dropout", f"{self.dropout} is not in [0, 1)")
        if any(int(h) <= 0 for h in self.hidden):
            raise ConfigError("probe.hidden", f"hidden sizes must be positive, got {self.hidden}")
        for name in ("batch_size", "max_epochs", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"probe.{name}", f"must be >= 1, got {getattr(self, name)}")

    def with_(self, **changes):
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self):
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d


GTZAN_PROBE = ProbeConfig(hidden=(256,), output="softmax")
JAMENDO_PROBE = ProbeConfig(hidden=(128, 64), batchnorm=True, dropout=0.5, output="sigmoid")


def build_probe(input_dim, n_outputs, config, train_x=None):
    """An uncompiled Keras MLP: (batch, input_dim) -> (batch, n_outputs) probabilities."""
    import keras
    inputs = keras.Input((input_dim,), name="embedding")
    x = inputs
    if config.standardize:
        # statistics from NumPy: adapt() would build a tf.data pipeline per probe
        if train_x is not None:
            train_x = np.asarray(train_x, np.float64)
            mean, variance = train_x.mean(0), train_x.var(0)
        else:
            mean, variance = np.zeros(input_dim), np.ones(input_dim)
        x = keras.layers.Normalization(mean=mean.astype(np.float32), variance=variance.astype(np.float32),
                                       name="standardize")(x)
    for i, units in enumerate(config.hidden):
        x = keras.layers.Dense(int(units), activation="relu", name=f"hidden_{i}")(x)
        if config.batchnorm:
            x = keras.layers.BatchNormalization(name=f"batchnorm_{i}")(x)
    if config.dropout > 0:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(n_outputs, activation=config.output, name="output")(x)
    return keras.Model(inputs, outputs, name="probe")


def train_probe(config, train_x, train_y, valid_x=None, valid_y=None, seed=0):
    """Fit a fresh probe; returns (model, epochs run, best epoch or None).

    ``train_y``: class indices for softmax, (n, n_outputs) 0/1 for sigmoid.
    """
    import keras
    keras.utils.set_random_seed(int(seed))
    train_x = np.asarray(train_x, np.float32)
    if config.output == "softmax":
        n_outputs = int(np.max(train_y)) + 1
        if valid_y is not None and len(valid_y):
            n_outputs = max(n_outputs, int(np.max(valid_y)) + 1)
        loss = "sparse_categorical_crossentropy"
        train_y = np.asarray(train_y, np.int32)
    else:
        train_y = np.asarray(train_y, np.float32)
        n_outputs = train_y.shape[1]
        loss = "binary_crossentropy"
    model = build_probe(train_x.shape[1], n_outputs, config, train_x)
    # XLA compilation costs seconds per probe and buys nothing for an MLP this small
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss, jit_compile=False)
    has_valid = valid_x is not None and len(valid_x) > 0
    callbacks, validation = [], None
    if has_valid:
        validation = (np.asarray(valid_x, np.float32),
                      np.asarray(valid_y, train_y.dtype))
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                                restore_best_weights=True)
        callbacks.append(stopper)
    history = model.fit(train_x, train_y, validation_data=validation, epochs=config.max_epochs,
                        batch_size=config.batch_size, shuffle=True, callbacks=callbacks, verbose=0)
    epochs = len(history.history["loss"])
    best = int(np.argmin(history.history["val_loss"])) + 1 if has_valid else None
    return model, epochs, best


def predict(model, x, batch_size=8192):
    """Probe outputs in inference mode. Direct calls on blocks: ``predict``
    would trace a function per probe, which costs more than the work here."""
    x = np.asarray(x, np.float32)
    out = [np.asarray(model(x[i:i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]), np.float32)
