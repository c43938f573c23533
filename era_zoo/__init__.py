"""era_zoo: music era recognition (paper A) and cross-modal contrastive music
representations (paper B) as a Keras 3 model zoo.

    import era_zoo
    era_zoo.list_models()
    model = era_zoo.load("audioart_mmc")

TensorFlow is imported on first use of a model, not on ``import era_zoo``;
where it is not installed, Keras runs on JAX (see era_zoo.frameworks).
"""
import importlib
import os

from .frameworks import default_backend

# The TF backend is the project's default, JAX (then PyTorch) where
# TensorFlow is not installed; a user's KERAS_BACKEND wins.
if "KERAS_BACKEND" not in os.environ:
    os.environ["KERAS_BACKEND"] = default_backend()
# This TensorFlow build leaves oneDNN off; with it, the audio encoder's
# training step runs about 1.7x faster on CPUs (benchmarks/RESULTS.md). It
# must be set before TensorFlow loads; a user's own setting wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

# Public name -> module that defines it, imported lazily.
_LAZY = {
    "list_models": "era_zoo.registry",
    "load": "era_zoo.registry",
    "create_model": "era_zoo.registry",
    "train": "era_zoo.training",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'era_zoo' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
