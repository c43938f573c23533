"""Distribution strategies by name.

``default``: one device (TensorFlow's default strategy). ``mirrored``: every
local GPU (or CPU) of this machine. ``multiworker``: several machines, each
running the same command with its own ``TF_CONFIG`` (cluster addresses and
this worker's index), all-reducing gradients with
``MultiWorkerMirroredStrategy``. Worker 0 is the chief: it writes the run
directory; the other workers write theirs to scratch folders and delete them.
"""
import json
import os

from ..errors import ConfigError

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name="default"):
    import tensorflow as tf
    if name not in STRATEGIES:
        raise ConfigError("--strategy", f"unknown strategy {name!r}",
                          f"one of {', '.join(STRATEGIES)}")
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
