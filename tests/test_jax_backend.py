"""The model code is backend-neutral: with JAX installed, a model fits under
KERAS_BACKEND=jax through Keras' own train step and the models'
compute_loss/compute_metrics. Skips where jax is absent."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json
import keras
from era_zoo.models.tiny import tiny_batch, tiny_config
from era_zoo.registry import create_model
model = create_model("audio_suc", **tiny_config("audio_suc"))
model.compile(optimizer=keras.optimizers.Adam(3e-3))
batch = tiny_batch(model)
history = model.fit(batch, batch_size=8, epochs=4, verbose=0).history
print(json.dumps({k: [float(x) for x in v] for k, v in history.items()}))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_fits_under_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    history = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(history) == {"loss", "ce", "era_contrastive"}
    assert history["loss"][-1] < history["loss"][0]
