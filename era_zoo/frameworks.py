"""Which optional frameworks this environment has, looked up without
importing them.

TensorFlow is era_zoo's default Keras backend but not a requirement at run
time: where it is absent (the lent GPU machines have JAX and PyTorch only),
``import era_zoo`` picks Keras on JAX (else PyTorch), training reads its
batches with :class:`era_zoo.data.pydataset.MelBatches` instead of tf.data,
TensorBoard scalars are written with tensorboard's own event writer, and the
steps that need TensorFlow itself (the audio tf.data pipeline, the projector's
checkpoint) say so.
"""
import importlib.util

# Keras backends in the order era_zoo prefers them.
BACKENDS = ("tensorflow", "jax", "torch")


def installed(module):
    """Whether ``module`` can be imported here (found, not imported).

    Example:
        >>> installed("numpy"), installed("no_such_module")
        (True, False)
    """
    return importlib.util.find_spec(module) is not None


def has_tensorflow():
    """Whether TensorFlow is installed (the tf.data pipeline, TF summaries and
    distribution strategies need it)."""
    return installed("tensorflow")


def default_backend():
    """The first of BACKENDS that is installed ("tensorflow" when none is,
    so that Keras' own error names what to install)."""
    return next((b for b in BACKENDS if installed(b)), "tensorflow")
