"""Training without TensorFlow: in an interpreter where TensorFlow cannot be
imported (a sitecustomize hides it from every import finder, as if it were
not installed) and KERAS_BACKEND is unset, ``import era_zoo`` picks Keras on
JAX and ``era_zoo.train`` trains contrastive_a2p from the Melon fixture's
``.npy`` mels through era_zoo.data.pydataset, writes TensorBoard scalars with
tensorboard's own writer, and says what it left out. The same run under
``strategy="mirrored"`` (keras.distribution.DataParallel over two host
devices) logs the same losses.

This file is also the worker (``python tests/test_no_tensorflow.py MELON OUT``).
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import event_scalars

WORKER_TIMEOUT_S = 900
RECIPE = str(Path(__file__).resolve().parents[1] / "recipes" / "contrastive_a2p.toml")
HIDE_TENSORFLOW = '''
import sys

HIDDEN = ("tensorflow", "tensorflow_text", "tf_keras", "soundfile", "soxr", "librosa", "audioread")


class _Hiding:
    """Wraps an import finder: never finds the hidden packages."""

    def __init__(self, finder):
        self._finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return self._finder.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self._finder, attr)


sys.meta_path[:] = [_Hiding(f) for f in sys.meta_path]
'''
OVERRIDES = ["data.frames=32", "model.encoder={channels=[4,4],pools=[[4,4],[4,4]],hidden_dim=16}",
             "sideinfo.cf.factors=8", "sideinfo.cf.epochs=5", "training.validation_steps=1",
             "logging.update_freq=1", "checkpoints.every_epochs=0",
             # a mid-epoch resume state: variables read while JAX's fit holds them
             "checkpoints.backup_every_steps=2"]


def _history(path):
    with open(path, newline="") as f:
        return {int(r["epoch"]): {k: float(v) for k, v in r.items()} for r in csv.DictReader(f)}


def test_trains_from_npy_mels_without_tensorflow(melon, tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE_TENSORFLOW)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(PYTHONPATH=os.pathsep.join([str(hide), env.get("PYTHONPATH", "")]),
               JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    proc = subprocess.run([sys.executable, __file__, str(melon), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=WORKER_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"backend": "jax", "tensorflow_found": False,
                      "tensorflow_imported": False, "devices": 2,
                      "status": ["completed", "completed"]}
    for note in ("batches come from era_zoo.data.pydataset",
                 "TensorBoard scalars are written by tensorboard's own event writer",
                 "no projector"):
        assert note in proc.stdout, note

    run = tmp_path / "default"
    rows = _history(run / "history.csv")
    assert sorted(rows) == [1, 2]
    for row in rows.values():
        assert np.isfinite([row["loss"], row["a2p"], row["val_loss"]]).all(), row
    # TensorFlow (this process) reads the scalars tensorboard's writer wrote.
    train = event_scalars(run / "tensorboard" / "train")
    valid = event_scalars(run / "tensorboard" / "validation")
    for epoch, row in rows.items():
        assert train[("epoch_loss", epoch)] == pytest.approx(row["loss"], rel=1e-6)
        assert valid[("epoch_loss", epoch)] == pytest.approx(row["val_loss"], rel=1e-6)
    assert sorted(s for tag, s in train if tag == "batch_loss") == [1, 2, 3, 4, 5, 6]
    assert not (run / "tensorboard" / "projector").exists()

    # The JAX-trained model loads under TensorFlow.
    import keras

    import era_zoo.models  # noqa: F401  (registers the class the file names)
    model = keras.saving.load_model(run / "model.keras", safe_mode=True, compile=False)
    assert type(model).__name__ == "ContrastiveA2P"

    # DataParallel over two devices: the same global batches, the same losses
    # (training and validation, both epochs). Weights are not compared:
    # parameters whose exact gradient is zero (a bias before BatchNorm) get
    # float noise, which Adam turns into steps of about the learning rate;
    # tests/test_jax_distributed.py compares a plain SGD step exactly.
    mirrored = _history(tmp_path / "mirrored" / "history.csv")
    assert sorted(mirrored) == [1, 2]
    for epoch, row in rows.items():
        for key, value in row.items():
            assert mirrored[epoch][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def _worker(melon, out):
    import importlib.util

    import era_zoo
    import keras

    out = Path(out)
    status = []
    for strategy in ("default", "mirrored"):
        result = era_zoo.train(RECIPE, data=melon, epochs=2, steps_per_epoch=3,
                               batch_size=4, out=str(out / strategy), strategy=strategy,
                               overrides=OVERRIDES, verbose=0, progress=False)
        status.append(result.status)
    print(json.dumps({"backend": keras.backend.backend(),
                      "tensorflow_found": importlib.util.find_spec("tensorflow") is not None,
                      "tensorflow_imported": any(m.partition(".")[0] == "tensorflow"
                                                 for m in sys.modules),
                      "devices": len(keras.distribution.list_devices()),
                      "status": status}))


if __name__ == "__main__":
    _worker(*sys.argv[1:])
