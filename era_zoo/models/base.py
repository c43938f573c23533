"""What every zoo model shares: construction from config, the one place the
objective is computed, the training steps, loss-term metrics, embedding.

The objective of a model is ``compute_losses(batch, training, gather)``:
``forward`` (the layers) then ``objective`` (pure loss arithmetic on the
batch and the forward outputs), returning a dict of named terms whose
"loss" entry is the total. Everything else calls it:

- TensorFlow backend: ``train_step``/``test_step`` below, which add only
  what distribution needs (MirroredStrategy, MultiWorkerMirroredStrategy):
  the loss divided by ``num_replicas_in_sync`` (the optimizer sums the
  replicas' gradients), contrastive rows gathered from all replicas with the
  replica context's differentiable ``all_gather`` when ``gather_negatives``
  (every replica then computes the global batch's contrastive loss; with
  equal per-replica batches, so drop_remainder, one mirrored step equals
  the single-device step on the global batch), and synchronized BatchNorm.
- Other backends (JAX, torch): Keras' own steps call ``call`` (= forward)
  and the ``compute_loss``/``compute_metrics`` overrides, which evaluate the
  same ``objective``. Under ``keras.distribution.DataParallel`` (JAX) the
  step is one jit-compiled function of the global batch sharded over the
  devices, so the contrastive losses see every row of the global batch as a
  negative and BatchNorm the global batch's statistics without any
  gathering (one such step equals the single-device step,
  tests/test_jax_distributed.py); ``gather_negatives`` and
  ``synchronized_bn`` concern TensorFlow's strategies only.

Models build their variables at construction from their config (input
shapes are configuration), so they are ready for ``fit`` under a strategy,
for ``load_weights`` and for counting parameters. Create a model inside
``strategy.scope()`` to train it there.
"""
import keras
import numpy as np

from ..audio.presets import MelSpec, get_preset
from ..errors import ConfigError
from ..layers.audio_encoder import AudioEncoder
from ..layers.musicnn import MusicnnEncoder

# encoder["type"] -> the audio encoder class: paper B's CNN (the default,
# trained from scratch) or musicnn's pretrained front-end and mid-end.
ENCODER_TYPES = {"paper_b": AudioEncoder, "musicnn": MusicnnEncoder}

# The audio encoder of the registry's test configurations (register_model's
# test_config): seven blocks like paper B's at 8-16 channels, whose pools
# leave one band and one frame on 48 x 64 mels. Dropout 0 keeps test steps
# deterministic.
TEST_WIDTH = 16
TEST_ENCODER = {"n_mels": 48, "n_frames": 64, "channels": [8, 8, 8, 8, 8, 8, TEST_WIDTH],
                "pools": [[2, 2], [2, 2], [2, 2], [2, 2], [1, 2], [1, 2], [2, 1]],
                "hidden_dim": 32, "output_dim": TEST_WIDTH, "dropout": 0.0}


def _identity(x):
    return x


def predict_in_batches(model, x, batch_size=64, keys=None):
    """``model.predict`` for inputs already in memory, ``batch_size`` rows
    per ``predict_on_batch``.

    ``predict`` builds a data pipeline per call (with TensorFlow a tf.data
    iterator, whose deletion may wait on tf.data's autotuner): called once
    per track, that cost 67-71 ms of a 30 s track's 117-121 ms on 2 cores
    (benchmarks/inference.py).

    Args:
        model: a Keras model.
        x: an array (n, ...) or a dict of arrays of n rows.
        batch_size: rows per forward pass.
        keys: output names to keep of a dict output (default: all).

    Returns:
        The outputs as NumPy arrays, as ``predict`` gives them.

    Example:
        >>> out = predict_in_batches(model, {"mel": chunks}, keys=["logits"])  # doctest: +SKIP
    """
    rows = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)
    parts = []
    for i in range(0, max(rows, 1), batch_size):
        rows_i = keras.tree.map_structure(lambda a: a[i:i + batch_size], x)
        out = model.predict_on_batch(rows_i)
        if keys is not None:
            out = {k: out[k] for k in keys}
        parts.append(out)
    return keras.tree.map_structure(lambda *a: np.concatenate(a), *parts)


def _distributed_tf():
    """True when a TF distribution strategy with several replicas is active."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf
    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1


def resolve_synchronized_bn(value):
    """None (auto): synchronized BatchNorm exactly when the model is created
    under a multi-replica TF strategy. True needs the TF backend."""
    if value is None:
        return _distributed_tf()
    if value and keras.backend.backend() != "tensorflow":
        raise ConfigError("synchronized_bn", "True needs the TensorFlow backend",
                          f"the backend is {keras.backend.backend()}; leave it None")
    return bool(value)


if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    class _Steps:
        """TF train/test steps: the shared objective plus what distribution needs."""

        def _replica_gather(self):
            context = tf.distribute.get_replica_context()
            if (not self.gather_negatives or context is None
                    or context.num_replicas_in_sync == 1):
                return _identity
            local_devices = tf.distribute.get_strategy().extended.worker_devices

            def gather(x):
                # all_gather sends each tensor to the device it sits on.
                # MultiWorkerMirroredStrategy (one device per worker) leaves
                # graph tensors unplaced, which all_gather rejects: pin them.
                if not x.device and len(local_devices) == 1:
                    with tf.device(local_devices[0]):
                        x = tf.identity(x)
                return context.all_gather(x, axis=0)
            return gather

        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            # Keras' version reduces the first batch across replicas to build
            # the model, which fails for dict batches under
            # MultiWorkerMirroredStrategy. Zoo models are built at construction;
            # only the optimizer (and any compiled extras) are left to build.
            if self._distribute_strategy is None:
                return
            with self.distribute_strategy.scope():
                self._symbolic_build(data_batch=self.example_batch(1))

        def train_step(self, data):
            batch = self._batch_from_data(data)
            replicas = tf.distribute.get_replica_context().num_replicas_in_sync
            with tf.GradientTape() as tape:
                terms = self.compute_losses(batch, training=True,
                                            gather=self._replica_gather())
                loss = self.optimizer.scale_loss(terms["loss"] / replicas)
            weights = self.trainable_weights
            self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
            return self._logs(terms)

        def test_step(self, data):
            batch = self._batch_from_data(data)
            terms = self.compute_losses(batch, training=False, gather=self._replica_gather())
            return self._logs(terms)

        def _logs(self, terms):
            logs = self._record(terms)
            strategy = tf.distribute.get_strategy()
            if (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                    and strategy.extended._in_multi_worker_mode()):
                # Keras reduces multi-worker logs with reduce(MEAN, axis=0),
                # which needs an axis: give each scalar one.
                logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
            return logs
else:
    class _Steps:
        """Other backends use Keras' own steps (see compute_loss below)."""


class ZooModel(_Steps, keras.Model):
    """Base of the zoo's models. Subclasses register with
    ``era_zoo.registry.register_model`` (which sets ``zoo_name``), set
    ``loss_terms``, ``input_keys``, ``target_keys`` and define ``forward(batch, training)``
    (layers only: batch dict -> dict of output tensors) and
    ``objective(batch, outputs, gather)`` (loss arithmetic only -> dict of
    terms, "loss" the total), then call ``_finish_init()``.

    Common config: ``encoder`` (AudioEncoder keyword arguments, merged over
    the family's defaults; or ``{"type": "musicnn", ...}``, MusicnnEncoder
    keyword arguments: musicnn's pretrained trunk, frozen or fine-tuned, on
    ``mel="musicnn96"``), ``mel`` (MelSpec preset name or dict: the
    features the model expects; its n_mels must match the encoder),
    ``gather_negatives`` (gather contrastive rows across replicas),
    ``synchronized_bn`` (None = auto).

    Embedding levels (:func:`era_zoo.inference.embed`): ``levels`` are the
    audio encoder's outputs a model embeds at, ``default_level`` the one
    ``era-zoo embed``, ``era-zoo bench`` and :mod:`era_zoo.bench` use when
    none is asked for: the 128-d ``"projection"`` here (what the era models'
    heads read); paper B's models override it with the 1024-d ``"trunk"``,
    which the reference saves for its downstream tasks.
    """

    zoo_name = None
    levels = ("projection", "trunk")
    default_level = "projection"
    loss_terms = ("loss",)
    input_keys = ("mel",)
    target_keys = ()
    default_mel = "melon48"
    default_encoder = {}

    def __init__(self, encoder=None, mel=None, gather_negatives=True,
                 synchronized_bn=None, **kwargs):
        super().__init__(**kwargs)
        encoder = dict(encoder or {})
        kind = encoder.get("type", "paper_b")
        if kind not in ENCODER_TYPES:
            raise ConfigError("encoder.type", f"unknown audio encoder {kind!r}",
                              f"one of {', '.join(ENCODER_TYPES)}")
        # The family's defaults size paper B's encoder; musicnn's has its own.
        defaults = self.default_encoder if kind == "paper_b" else {}
        self.encoder_config = {**defaults, **encoder}
        for key in ("synchronized_bn", "name"):
            self.encoder_config.pop(key, None)
        self.mel = self.default_mel if mel is None else mel
        self.mel_spec = get_preset(self.mel)
        self.gather_negatives = bool(gather_negatives)
        self.synchronized_bn = synchronized_bn
        arguments = {k: v for k, v in self.encoder_config.items() if k != "type"}
        try:
            self.audio_encoder = ENCODER_TYPES[kind](
                **arguments, name="audio_encoder",
                synchronized_bn=resolve_synchronized_bn(synchronized_bn))
        except TypeError as e:
            keys = ("preset, trainable_trunk, n_mels, n_frames, midend_filters, hidden_dim, "
                    "output_dim, dropout" if kind == "musicnn" else
                    "n_mels, n_frames, channels, pools, hidden_dim, output_dim, dropout")
            raise ConfigError("encoder", str(e), f"keys: {keys}") from None
        if self.audio_encoder.n_mels != self.mel_spec.n_mels:
            raise ConfigError("encoder.n_mels",
                              f"{self.audio_encoder.n_mels} does not match mel "
                              f"{self.mel_spec.name!r} ({self.mel_spec.n_mels} bands)")
        self.term_trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_terms}

    def _finish_init(self):
        """Subclasses call this last: creates every variable from the config."""
        # Symbolic inputs: Keras builds every layer without computing anything,
        # so even paper-size models construct instantly.
        symbolic = {key: keras.KerasTensor((None, *value.shape[1:]), dtype=str(value.dtype))
                    for key, value in self.example_batch(1).items()}
        self.forward(symbolic, training=False)
        self.built = True

    def build(self, input_shape=None):
        # Built at construction; Keras may call this again when loading.
        self.built = True

    # --- inputs -------------------------------------------------------------
    def example_batch(self, batch_size=2):
        """A batch of zeros with the input keys and shapes the model reads."""
        enc = self.audio_encoder
        return {"mel": np.zeros((batch_size, enc.n_mels, enc.n_frames), np.float32)}

    def _as_batch(self, inputs, keys):
        if not isinstance(inputs, dict):
            inputs = {"mel": inputs}
        missing = [k for k in keys if k not in inputs]
        if missing:
            raise ConfigError("batch", f"{type(self).__name__} needs key(s) {missing}",
                              f"a batch is a dict with {', '.join(keys)}")
        mel = inputs["mel"]
        shape = tuple(getattr(mel, "shape", ()))[-2:]
        expected = (self.audio_encoder.n_mels, self.audio_encoder.n_frames)
        if len(shape) == 2 and None not in shape and tuple(shape) != expected:
            raise ConfigError("mel", f"chunks are {tuple(shape)}, the model takes "
                                     f"{expected} (n_mels, frames)",
                              "crop or chunk the mel to the model's n_frames")
        return inputs

    def _batch_from_data(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is not None or not isinstance(x, dict):
            raise ConfigError("batch", "era_zoo models train on dict batches",
                              f"yield dicts with {', '.join(self.input_keys + self.target_keys)}")
        return x

    # --- the objective ------------------------------------------------------
    def compute_losses(self, batch, training=False, gather=None):
        """The model's objective on a dict batch: {"loss": total, term: value}.
        ``gather`` maps a per-replica tensor to the rows of all replicas."""
        batch = self._as_batch(batch, self.input_keys + self.target_keys)
        outputs = self.forward(batch, training=training)
        return self.objective(batch, outputs, gather or _identity)

    def call(self, inputs, training=False):
        return self.forward(self._as_batch(inputs, self.input_keys), training=training)

    # --- Keras' default steps (non-TF backends) -----------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.objective(x, y_pred)["loss"]

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return self._record(self.objective(x, y_pred))

    # --- metrics ------------------------------------------------------------
    @property
    def metrics(self):
        return list(self.term_trackers.values())

    def _record(self, terms):
        for name, tracker in self.term_trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.term_trackers.items()}

    # --- embeddings ---------------------------------------------------------
    def embed(self, x, sample_rate=None, level=None, batch_size=64):
        """Embeddings of one track from this model's audio encoder, by
        :func:`era_zoo.inference.embed` (the chunks and padding of every
        entry point).

        Args:
            x: a waveform (samples,) with ``sample_rate``, a (n_mels, frames)
                log-mel (cut into non-overlapping n_frames chunks, a shorter
                one repeated to one chunk) or (n_chunks, n_mels, n_frames) chunks.
            sample_rate: the waveform's rate in Hz.
            level: ``"projection"`` or ``"trunk"`` (None: the model's
                ``default_level``).
            batch_size: chunks per encoder call.

        Returns:
            ``{"chunks": (n_chunks, d), "track": (d,) mean}``.

        Example:
            >>> model = era_zoo.create_model("audio_cnn")  # doctest: +SKIP
            >>> model.embed(waveform, sample_rate=44100)["track"].shape  # doctest: +SKIP
            (128,)
        """
        from ..inference import embed
        return embed(self, x, sample_rate, level, batch_size)

    # --- config -------------------------------------------------------------
    def get_config(self):
        mel = self.mel.to_dict() if isinstance(self.mel, MelSpec) else self.mel
        return {"name": self.name, "trainable": self.trainable,
                "encoder": dict(self.encoder_config), "mel": mel,
                "gather_negatives": self.gather_negatives,
                "synchronized_bn": self.synchronized_bn}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
