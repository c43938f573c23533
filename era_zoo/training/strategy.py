"""Distribution strategies by name.

``default``: one device (TensorFlow's default strategy). ``mirrored``: every
local GPU (or CPU) of this machine. ``multiworker``: several machines, each
running the same command with its own ``TF_CONFIG`` (cluster addresses and
this worker's index), all-reducing gradients with
``MultiWorkerMirroredStrategy``. Worker 0 is the chief: it writes the run
directory; the other workers write theirs to scratch folders and delete them.

On other Keras backends: ``default`` is one device and ``mirrored`` is
``keras.distribution.DataParallel`` over every local device (JAX), behind
:class:`KerasDistribution`; ``multiworker`` needs TensorFlow.
"""
import contextlib
import json
import os
import sys

from ..errors import ConfigError

STRATEGIES = ("default", "mirrored", "multiworker")


class KerasDistribution:
    """A ``keras.distribution`` (None: one device) with the two things the
    trainer asks of a strategy: ``num_replicas_in_sync`` and ``scope()``.

    Example:
        >>> KerasDistribution().num_replicas_in_sync
        1
    """

    def __init__(self, distribution=None):
        self.distribution = distribution

    @property
    def num_replicas_in_sync(self):
        if self.distribution is None:
            return 1
        return int(self.distribution.device_mesh.devices.size)

    def scope(self):
        if self.distribution is None:
            return contextlib.nullcontext()
        return self.distribution.scope()


def _keras_strategy(name):
    import keras

    backend = keras.backend.backend()
    if name == "default":
        return KerasDistribution()
    if name == "mirrored" and backend == "jax":
        return KerasDistribution(keras.distribution.DataParallel(
            devices=keras.distribution.list_devices()))
    raise ConfigError("--strategy", f"{name!r} is not available on the {backend} backend",
                      "mirrored runs on TensorFlow or JAX, multiworker on TensorFlow "
                      "(KERAS_BACKEND=tensorflow)")


def keras_backend():
    """Keras' backend, without importing Keras where it is not loaded yet
    (importing it may start TensorFlow, and a MultiWorkerMirroredStrategy
    must exist before TensorFlow runs anything)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def make_strategy(name="default"):
    """The strategy called ``name`` (one of STRATEGIES) on Keras' backend:
    a tf.distribute.Strategy on TensorFlow, else a KerasDistribution."""
    if name not in STRATEGIES:
        raise ConfigError("--strategy", f"unknown strategy {name!r}",
                          f"one of {', '.join(STRATEGIES)}")
    if keras_backend() != "tensorflow":
        return _keras_strategy(name)
    import tensorflow as tf
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    tf_config = read_tf_config()
    if tf_config is None:
        raise ConfigError("TF_CONFIG", "not set; --strategy multiworker needs it",
                          'e.g. {"cluster": {"worker": ["host1:12345", '
                          '"host2:12345"]}, "task": {"type": "worker", "index": 0}}')
    return tf.distribute.MultiWorkerMirroredStrategy()


def read_tf_config():
    """The parsed ``TF_CONFIG`` environment variable, or None."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task_type = config["task"]["type"]
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError("TF_CONFIG", f"malformed: {e}") from None
    if task_type not in ("worker", "chief") or not workers:
        raise ConfigError("TF_CONFIG", "task type must be worker or chief, with "
                                       "cluster.worker listing the workers")
    return config


def worker_rank():
    """(index, number of workers) of this process; (0, 1) without TF_CONFIG."""
    config = read_tf_config()
    if config is None:
        return 0, 1
    n = len(config["cluster"].get("worker", ())) + len(config["cluster"].get("chief", ()))
    task = config["task"]
    if task["type"] == "chief":
        return 0, n
    offset = len(config["cluster"].get("chief", ()))
    return offset + int(task["index"]), n


def is_chief():
    return worker_rank()[0] == 0
