"""The one MLP probe of the downstream protocols, and its repetitions
trained together.

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
- Adam, learning rate 1e-3, batch 128, at most 200 epochs, every epoch a
  fresh shuffle of the training rows; with a validation set, early stopping
  on validation loss (patience 10) restoring the best weights; without one,
  all ``max_epochs`` are run.

A protocol repeats the probe ``runs`` times with seeds ``seed .. seed + runs
- 1`` (:func:`train_probes`). Two ways to train them, the same maths:

- grouped (``ProbeConfig.grouped``, the default): the runs' MLPs stacked
  into one network whose weights have a leading run axis, trained by one
  compiled TensorFlow function per epoch (every step of the epoch and the
  validation loss in one call, the data held as tensors). Each run keeps
  what a separate run would have: its initial weights are those the Keras
  probe draws under its seed; its shuffling and dropout come from its own
  random stream (derived from its seed alone, so a run's result does not
  depend on which other runs share its group); its Adam state, batch-norm
  statistics and early-stopping state (best validation loss, patience
  counter, best weights) are its own. A run that stops leaves the group and
  keeps its best epoch's weights while the others continue.
- separate (``grouped=False``): one Keras ``fit`` per run with
  ``EarlyStopping(restore_best_weights=True)``, the reference statement
  (tests compare the two).

Separate runs spend most of their time in Keras' per-step and per-fit
overhead: an MLP this small does microseconds of arithmetic per step.
"""
import functools
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..errors import ConfigError
from ..frameworks import has_tensorflow

# Keras' defaults, which the separate-run reference uses and the grouped
# trainer restates.
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7
BN_MOMENTUM, BN_EPSILON = 0.99, 1e-3
NORMALIZATION_EPSILON = 1e-7


@dataclass(frozen=True)
class ProbeConfig:
    """Hyper-parameters of a probe and how its runs are trained.

    Args:
        hidden: hidden layer sizes.
        batchnorm: batch norm after each hidden layer's ReLU.
        dropout: dropout rate after the last hidden layer.
        output: "softmax" (single label, class indices) or "sigmoid"
            (multi-label, 0/1 matrix).
        standardize: standardise inputs with the training rows' statistics.
        learning_rate, batch_size, max_epochs, patience: Adam's rate, rows
            per step, epochs at most, early-stopping patience in epochs.
        grouped: train a protocol's runs together as one stacked network
            (True; needs TensorFlow, whatever the Keras backend: without it
            the runs are trained separately) or one Keras fit after another
            (False, the reference).

    Example:
        >>> GTZAN_PROBE.with_(max_epochs=50).max_epochs
        50
    """
    hidden: tuple = (256,)
    batchnorm: bool = False
    dropout: float = 0.0
    output: str = "softmax"          # "softmax" (single label) or "sigmoid" (multi-label)
    standardize: bool = True
    learning_rate: float = 1e-3
    batch_size: int = 128
    max_epochs: int = 200
    patience: int = 10
    grouped: bool = True

    def __post_init__(self):
        if self.output not in ("softmax", "sigmoid"):
            raise ConfigError("probe.output", f"{self.output!r} is not 'softmax' or 'sigmoid'")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("probe.dropout", f"{self.dropout} is not in [0, 1)")
        if not self.hidden or any(int(h) <= 0 for h in self.hidden):
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


def _standardizer(train_x, input_dim):
    """(mean, variance) float32 of the training rows (float64 sums)."""
    if train_x is None:
        return np.zeros(input_dim, np.float32), np.ones(input_dim, np.float32)
    train_x = np.asarray(train_x, np.float64)
    return train_x.mean(0).astype(np.float32), train_x.var(0).astype(np.float32)


def build_probe(input_dim, n_outputs, config, train_x=None):
    """An uncompiled Keras MLP: (batch, input_dim) -> (batch, n_outputs) probabilities.

    Args:
        input_dim: embedding size.
        n_outputs: classes (softmax) or tags (sigmoid).
        config: a ProbeConfig.
        train_x: training rows whose mean and variance standardise the
            inputs (None: identity statistics).

    Example:
        >>> build_probe(50, 10, GTZAN_PROBE).output_shape
        (None, 10)
    """
    import keras
    inputs = keras.Input((input_dim,), name="embedding")
    x = inputs
    if config.standardize:
        # statistics from NumPy: adapt() would build a tf.data pipeline per probe
        mean, variance = _standardizer(train_x, input_dim)
        x = keras.layers.Normalization(mean=mean, variance=variance, name="standardize")(x)
    for i, units in enumerate(config.hidden):
        x = keras.layers.Dense(int(units), activation="relu", name=f"hidden_{i}")(x)
        if config.batchnorm:
            x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                                                name=f"batchnorm_{i}")(x)
    if config.dropout > 0:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(n_outputs, activation=config.output, name="output")(x)
    return keras.Model(inputs, outputs, name="probe")


def _targets(config, train_y, valid_y):
    """(train_y, valid_y, n_outputs) in the dtypes the losses take."""
    if config.output == "softmax":
        train_y = np.asarray(train_y, np.int32)
        n_outputs = int(np.max(train_y)) + 1
        if valid_y is not None and len(valid_y):
            valid_y = np.asarray(valid_y, np.int32)
            n_outputs = max(n_outputs, int(np.max(valid_y)) + 1)
    else:
        train_y = np.asarray(train_y, np.float32)
        n_outputs = train_y.shape[1]
        if valid_y is not None:
            valid_y = np.asarray(valid_y, np.float32)
    return train_y, valid_y, n_outputs


def train_probe(config, train_x, train_y, valid_x=None, valid_y=None, seed=0):
    """Fit one fresh Keras probe (the separate-run reference); returns
    (model, epochs run, best epoch or None).

    Args:
        config: a ProbeConfig.
        train_x: (n, d) training rows.
        train_y: class indices (softmax) or an (n, n_outputs) 0/1 matrix (sigmoid).
        valid_x, valid_y: validation rows for early stopping (optional).
        seed: seeds Keras' initialisers, shuffling and dropout.

    Example:
        >>> model, epochs, best = train_probe(GTZAN_PROBE.with_(max_epochs=2),
        ...                                   np.eye(4), [0, 1, 0, 1])
        >>> epochs
        2
    """
    return _fit_probe(config, train_x, train_y, valid_x, valid_y, seed)[:3]


def _fit_probe(config, train_x, train_y, valid_x, valid_y, seed):
    """train_probe's (model, epochs, best epoch) and the validation-loss history."""
    import keras
    keras.utils.set_random_seed(int(seed))
    train_x = np.asarray(train_x, np.float32)
    train_y, valid_y, n_outputs = _targets(config, train_y, valid_y)
    loss = "sparse_categorical_crossentropy" if config.output == "softmax" else "binary_crossentropy"
    model = build_probe(train_x.shape[1], n_outputs, config, train_x)
    # XLA compilation costs seconds per probe and buys nothing for an MLP this small
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, beta_1=ADAM_BETA_1,
                                                  beta_2=ADAM_BETA_2, epsilon=ADAM_EPSILON),
                  loss=loss, jit_compile=False)
    has_valid = valid_x is not None and len(valid_x) > 0
    callbacks, validation = [], None
    if has_valid:
        validation = (np.asarray(valid_x, np.float32), valid_y)
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                                restore_best_weights=True)
        callbacks.append(stopper)
    history = model.fit(train_x, train_y, validation_data=validation, epochs=config.max_epochs,
                        batch_size=config.batch_size, shuffle=True, callbacks=callbacks, verbose=0)
    epochs = len(history.history["loss"])
    best = int(np.argmin(history.history["val_loss"])) + 1 if has_valid else None
    return model, epochs, best, history.history.get("val_loss", [])


def predict(model, x, batch_size=8192):
    """Probe outputs in inference mode. Direct calls on blocks: ``predict``
    would trace a function per probe, which costs more than the work here.

    Args:
        model: a Keras probe from :func:`build_probe` / :func:`train_probe`.
        x: (n, d) rows.
        batch_size: rows per call.

    Example:
        >>> predict(build_probe(3, 2, GTZAN_PROBE), np.ones((5, 3))).shape
        (5, 2)
    """
    x = np.asarray(x, np.float32)
    out = [np.asarray(model(x[i:i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]), np.float32)


class ProbeRuns:
    """The trained repetitions of one probe, however they were trained.

    Attributes:
        together: whether the runs were trained as one grouped network.
        seeds: the run seeds, in run order.
        epochs: epochs each run trained.
        best_epochs: the epoch (1-based) whose weights each run kept, None
            without validation data.
        val_loss: each run's validation loss after every epoch it trained.

    Example:
        >>> runs = train_probes(GTZAN_PROBE.with_(max_epochs=2), np.eye(4), [0, 1, 0, 1],
        ...                     seeds=[0, 1])
        >>> runs.predict(np.eye(4)).shape
        (2, 4, 2)
    """

    def __init__(self, seeds, epochs, best_epochs, val_loss, predict_fn, together=True):
        self.together = together
        self.seeds = list(seeds)
        self.epochs = list(epochs)
        self.best_epochs = list(best_epochs)
        self.val_loss = [list(v) for v in val_loss]
        self._predict = predict_fn

    def __len__(self):
        return len(self.seeds)

    def predict(self, x, batch_size=8192):
        """(runs, n, outputs) float32 probabilities of every run, inference mode.

        Args:
            x: (n, d) rows (raw: each run standardises as it was trained).
            batch_size: rows per call.
        """
        x = np.asarray(x, np.float32)
        blocks = [self._predict(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        if not blocks:
            blocks = [self._predict(x)]
        return np.concatenate(blocks, axis=1)


def train_probes(config, train_x, train_y, valid_x=None, valid_y=None, seeds=(0,)):
    """Train one probe per seed (grouped or separate per ``config.grouped``).

    Args:
        config: a ProbeConfig.
        train_x: (n, d) training rows.
        train_y: class indices (softmax) or an (n, n_outputs) 0/1 matrix (sigmoid).
        valid_x, valid_y: validation rows for early stopping (optional; none
            or empty: every run trains ``max_epochs``).
        seeds: one run per seed; a run with seed s is initialised, shuffled
            and dropped out as a separate run with seed s would be.

    Returns:
        A :class:`ProbeRuns`.

    Example:
        >>> runs = train_probes(GTZAN_PROBE.with_(max_epochs=3), np.eye(4), [0, 1, 0, 1],
        ...                     np.eye(4), [0, 1, 0, 1], seeds=[3, 4])
        >>> runs.epochs
        [3, 3]
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("seeds", "at least one run is needed")
    if valid_x is not None and len(valid_x) == 0:
        valid_x, valid_y = None, None
    if config.grouped and has_tensorflow():
        return _train_grouped(config, train_x, train_y, valid_x, valid_y, seeds)
    fits = [_fit_probe(config, train_x, train_y, valid_x, valid_y, s) for s in seeds]
    models = [f[0] for f in fits]
    return ProbeRuns(seeds, [f[1] for f in fits], [f[2] for f in fits], [f[3] for f in fits],
                     lambda x: np.stack([predict(m, x) for m in models]), together=False)


# ------------------------------------------------------------ grouped runs

def _initial_weights(config, input_dim, n_outputs, seed):
    """The Keras probe's initial weights under ``seed``, per layer, in the
    grouped layout: [kernel, bias, (gamma, beta)] per hidden layer, then the
    output's [kernel, bias]; batch-norm moving statistics separately."""
    import keras
    keras.utils.set_random_seed(int(seed))
    model = build_probe(input_dim, n_outputs, config)
    params, stats = [], []
    for i in range(len(config.hidden)):
        params += model.get_layer(f"hidden_{i}").get_weights()
        if config.batchnorm:
            gamma, beta, moving_mean, moving_var = model.get_layer(f"batchnorm_{i}").get_weights()
            params += [gamma, beta]
            stats += [moving_mean, moving_var]
    params += model.get_layer("output").get_weights()
    return params, stats


@functools.lru_cache(maxsize=None)
def _grouped_functions(n_hidden, batchnorm, dropout, output):
    """The compiled epoch and inference functions of one probe structure.

    Tensors carry a leading run axis G (dynamic, so runs can leave the group
    without a retrace). ``params``: per hidden layer W (G, in, out), b (G,
    out), with batch norm gamma, beta (G, out); then the output layer's W
    and b. ``stats``: moving mean and variance (G, out) per hidden layer.
    """
    import tensorflow as tf
    per_layer = 4 if batchnorm else 2
    n_stats = 2 * n_hidden if batchnorm else 0

    def dense(x, w, b):
        if x.shape.rank == 2:  # rows shared by all runs: one GEMM against every run's kernel
            g, d_in, d_out = tf.unstack(tf.shape(w))
            flat = tf.reshape(tf.transpose(w, [1, 0, 2]), [d_in, g * d_out])
            y = tf.transpose(tf.reshape(tf.matmul(x, flat), [-1, g, d_out]), [1, 0, 2])
        else:
            y = tf.matmul(x, w)
        return y + b[:, None, :]

    def forward(params, stats, x, training, keep=None, rate=None):
        """-> (logits (G, rows, outputs), batch statistics used in training)."""
        h, batch_stats = x, []
        for layer in range(n_hidden):
            p = params[layer * per_layer:(layer + 1) * per_layer]
            h = tf.nn.relu(dense(h, p[0], p[1]))
            if batchnorm:
                if training:
                    mean, var = tf.nn.moments(h, axes=[1])
                    batch_stats += [mean, var]
                else:
                    mean, var = stats[2 * layer], stats[2 * layer + 1]
                h = tf.nn.batch_normalization(h, mean[:, None], var[:, None], p[3][:, None],
                                              p[2][:, None], BN_EPSILON)
        if dropout and training:
            h = tf.where(keep, h / (1.0 - rate), 0.0)
        return dense(h, params[-2], params[-1]), batch_stats

    def losses(logits, y):
        """Mean loss per run (G,), as Keras computes it from the outputs' logits;
        ``y`` per run or shared by all runs (validation)."""
        if output == "softmax" and y.shape.rank == 1:
            y = tf.broadcast_to(y[None], tf.shape(logits)[:2])
        elif output == "sigmoid" and y.shape.rank == 2:
            y = tf.broadcast_to(y[None], tf.shape(logits))
        if output == "softmax":
            per_row = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        else:
            per_row = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits), -1)
        return tf.reduce_mean(per_row, axis=1)

    def spec(rank, dtype=tf.float32):
        return tf.TensorSpec([None] * rank, dtype)

    y_spec = spec(1, tf.int32) if output == "softmax" else spec(2)
    param_specs = []
    for _ in range(n_hidden):
        param_specs += [spec(3), spec(2)] + ([spec(2), spec(2)] if batchnorm else [])
    param_specs += [spec(3), spec(2)]
    stat_specs = [spec(2)] * n_stats

    @tf.function(jit_compile=True, autograph=False)
    def adam(params, m, v, grads, alpha):
        """Keras' Adam step, fused by XLA into one pass per tensor: unfused,
        its dozen elementwise passes cost as much as the matmuls."""
        b1, b2 = ADAM_BETA_1, ADAM_BETA_2
        m = [mi + (g - mi) * (1.0 - b1) for mi, g in zip(m, grads)]
        v = [vi + (g * g - vi) * (1.0 - b2) for vi, g in zip(v, grads)]
        params = [p - alpha * mi / (tf.sqrt(vi) + ADAM_EPSILON) for p, mi, vi in zip(params, m, v)]
        return params, m, v

    @tf.function(input_signature=[param_specs, stat_specs, param_specs, param_specs,
                                  spec(0, tf.int64), spec(1, tf.int64), spec(0, tf.int64),
                                  spec(2), y_spec, spec(2), y_spec,
                                  spec(0), spec(0, tf.int32), spec(0)],
                 jit_compile=False, autograph=False)
    def epoch(params, stats, m, v, step, seeds, epoch_no, x, y, x_valid, y_valid,
              learning_rate, batch_size, rate):
        """One epoch of every run (shuffled per run, every step), then the
        validation loss per run. Returns the new state and (G,) losses."""
        n = tf.shape(x)[0]
        steps = (n + batch_size - 1) // batch_size
        hidden_last = tf.shape(params[-2])[1]

        def run_keys(seed):
            return tf.random.experimental.stateless_fold_in(
                tf.stack([seed, tf.constant(0, tf.int64)]), epoch_no)

        def shuffled(seed):
            key = tf.random.experimental.stateless_fold_in(run_keys(seed), 0)
            return tf.random.experimental.stateless_shuffle(tf.range(n), seed=key)

        order = tf.map_fn(shuffled, seeds, fn_output_signature=tf.int32)
        if dropout:
            def kept(seed):
                key = tf.random.experimental.stateless_fold_in(run_keys(seed), 1)
                return tf.random.stateless_uniform(tf.stack([n, hidden_last]), seed=key) >= rate
            keep_all = tf.map_fn(kept, seeds, fn_output_signature=tf.bool)

        b1, b2 = tf.constant(ADAM_BETA_1), tf.constant(ADAM_BETA_2)

        def body(i, params, stats, m, v, step, total):
            lo = i * batch_size
            rows = order[:, lo:lo + batch_size]
            xb, yb = tf.gather(x, rows), tf.gather(y, rows)
            keep = keep_all[:, lo:lo + batch_size] if dropout else None
            with tf.GradientTape() as tape:
                tape.watch(params)
                logits, batch_stats = forward(params, stats, xb, True, keep, rate)
                loss = losses(logits, yb)
                objective = tf.reduce_sum(loss)  # runs do not share weights: per-run gradients
            grads = tape.gradient(objective, params)
            step = step + 1
            t = tf.cast(step, tf.float32)
            alpha = learning_rate * tf.sqrt(1.0 - tf.pow(b2, t)) / (1.0 - tf.pow(b1, t))
            params, m, v = adam(params, m, v, grads, alpha)
            stats = [s * BN_MOMENTUM + new * (1.0 - BN_MOMENTUM) for s, new in zip(stats, batch_stats)]
            return i + 1, params, stats, m, v, step, total + loss * tf.cast(tf.shape(xb)[1], tf.float32)

        _, params, stats, m, v, step, total = tf.while_loop(
            lambda i, *_: i < steps, body,
            (tf.constant(0), params, stats, m, v, step, tf.zeros(tf.shape(seeds), tf.float32)))
        valid_loss = losses(forward(params, stats, x_valid, False)[0], y_valid)
        return params, stats, m, v, step, total / tf.cast(n, tf.float32), valid_loss

    @tf.function(input_signature=[param_specs, stat_specs, spec(2)], jit_compile=False,
                 autograph=False)
    def infer(params, stats, x):
        logits = forward(params, stats, x, False)[0]
        return tf.nn.softmax(logits) if output == "softmax" else tf.sigmoid(logits)

    return epoch, infer


class _EarlyStopping:
    """Keras' EarlyStopping(monitor="val_loss", patience, min_delta=0,
    restore_best_weights=True) for one run: a run stops after ``patience``
    epochs without a strictly lower validation loss and keeps its best
    epoch's weights."""

    def __init__(self, patience):
        self.patience, self.best, self.best_epoch, self.wait = patience, None, 0, 0

    def update(self, epoch, loss):
        """-> (improved, stop) after 0-based ``epoch`` with validation ``loss``."""
        self.wait += 1
        if self.best is None or loss < self.best:
            self.best, self.best_epoch, self.wait = loss, epoch, 0
            return True, False
        return False, self.wait >= self.patience and epoch > 0


def _train_grouped(config, train_x, train_y, valid_x, valid_y, seeds):
    import tensorflow as tf
    train_x = np.asarray(train_x, np.float32)
    train_y, valid_y, n_outputs = _targets(config, train_y, valid_y)
    dim = train_x.shape[1]
    mean, variance = _standardizer(train_x, dim)
    scale = np.maximum(np.sqrt(variance), np.float32(NORMALIZATION_EPSILON))

    def standardize(rows):
        """The Normalization layer's arithmetic, applied once to the data."""
        rows = np.asarray(rows, np.float32)
        return (rows - mean) / scale if config.standardize else rows
    has_valid = valid_x is not None
    if has_valid:
        x_valid, y_valid = standardize(valid_x), valid_y
    else:
        x_valid = np.zeros((0, dim), np.float32)
        y_valid = np.zeros((0,) + train_y.shape[1:], train_y.dtype)

    initial = [_initial_weights(config, dim, n_outputs, s) for s in seeds]
    params = [tf.constant(np.stack(w)) for w in zip(*(p for p, _ in initial))]
    stats = [tf.constant(np.stack(w)) for w in zip(*(s for _, s in initial))]
    m = [tf.zeros_like(p) for p in params]
    v = [tf.zeros_like(p) for p in params]
    step = tf.constant(0, tf.int64)
    epoch_fn, infer_fn = _grouped_functions(len(config.hidden), config.batchnorm,
                                            config.dropout > 0, config.output)
    data = (tf.constant(standardize(train_x)), tf.constant(train_y),
            tf.constant(x_valid), tf.constant(y_valid))
    hyper = (tf.constant(config.learning_rate, tf.float32), tf.constant(config.batch_size, tf.int32),
             tf.constant(config.dropout, tf.float32))

    n_runs = len(seeds)
    active = list(range(n_runs))        # run of each position in the group
    stoppers = [_EarlyStopping(config.patience) for _ in seeds]
    histories = [[] for _ in seeds]
    epochs = [config.max_epochs] * n_runs
    best = [[None] * n_runs for _ in range(len(params) + len(stats))]

    def keep_best(positions):
        for k, tensor in enumerate(params + stats):
            values = tf.gather(tensor, positions).numpy()
            for pos, value in zip(positions, values):
                best[k][active[pos]] = value

    for epoch in range(config.max_epochs):
        seeds_t = tf.constant([seeds[r] for r in active], tf.int64)
        params, stats, m, v, step, _, val = epoch_fn(params, stats, m, v, step, seeds_t,
                                                     tf.constant(epoch, tf.int64), *data, *hyper)
        if not has_valid:
            continue
        improved, stay = [], []
        for pos, (run, loss) in enumerate(zip(active, val.numpy().astype(np.float64))):
            histories[run].append(float(loss))
            better, stop = stoppers[run].update(epoch, loss)
            if better:
                improved.append(pos)
            if stop:
                epochs[run] = epoch + 1
            else:
                stay.append(pos)
        if improved:
            keep_best(improved)
        if len(stay) < len(active):
            if not stay:
                active = []
                break
            # stopped runs leave the group: later epochs compute only the others
            keep = tf.constant(stay, tf.int32)
            params, stats, m, v = ([tf.gather(t, keep) for t in group] for group in (params, stats, m, v))
            active = [active[pos] for pos in stay]

    if has_valid:
        final = [np.stack(values) for values in best]
    else:
        final = [t.numpy() for t in params + stats]
    final_params = [tf.constant(a) for a in final[:len(params)]]
    final_stats = [tf.constant(a) for a in final[len(params):]]
    best_epochs = [s.best_epoch + 1 for s in stoppers] if has_valid else [None] * n_runs

    def predict_fn(x):
        return infer_fn(final_params, final_stats, tf.constant(standardize(x))).numpy()

    return ProbeRuns(seeds, epochs, best_epochs, histories, predict_fn)
