"""Data parallelism on Keras-on-JAX: one step under
``keras.distribution.DataParallel`` over two host devices equals the
single-device step on the same global batch.

Under ``jit`` a function of sharded arrays is the function of the global
arrays (XLA inserts the collectives), so the contrastive losses see every
row of the global batch as a negative and BatchNorm the global batch's
statistics, with no gathering code of the zoo's own. The test shows it three
ways: the step's input is split over both devices, the data-parallel loss
equals the global-batch loss and not the mean of the per-device half-batch
losses, and the weights after the step equal the single-device ones.

XLA's host device count is fixed when JAX starts, so the comparison runs in
a fresh interpreter: this file is also the worker (``python
tests/test_jax_distributed.py MODEL ...``), which prints JSON.
"""
import json
import os
import subprocess
import sys

WORKER_TIMEOUT_S = 600
CASES = ["contrastive_a2g_a2p_g2p", "audioart_mmc"]


def test_data_parallel_step_equals_single_device_step():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, __file__, *CASES], capture_output=True, text=True,
                          env=env, timeout=WORKER_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name in CASES:
        r = results[name]
        assert r["devices"] == 2, r
        # The step's mel batch was split over both devices, not replicated.
        assert r["input_devices"] == [2], r
        assert r["input_replicated"] == [False], r
        assert r["step_size"] > 1e-3, r                      # the step moved the weights
        assert r["max_weight_diff"] <= 1e-5, r
        # Global-batch objective (every row a negative, global BN statistics)...
        assert abs(r["parallel_loss"] - r["global_loss"]) <= 1e-5 * r["global_loss"], r
        assert abs(r["single_loss"] - r["global_loss"]) <= 1e-5 * r["global_loss"], r
        # ...which per-device halves would not give.
        assert abs(r["halves_loss"] - r["global_loss"]) > 1e-3, r


def _worker(*names):
    import keras

    devices = keras.distribution.list_devices()
    results = {name: {"devices": len(devices), **_one_step(name, devices)} for name in names}
    print(json.dumps(results))


def _one_step(name, devices):
    import jax
    import keras
    import numpy as np
    from helpers import tiny_batch, tiny_config

    from era_zoo.registry import create_model

    keras.utils.set_random_seed(0)
    single = create_model(name, **tiny_config(name))
    initial = single.get_weights()
    batch = tiny_batch(single, batch_size=8)

    # The objective at the initial weights, in training mode (batch
    # statistics): on the global batch, and as two devices would compute it
    # each on its own half.
    probe = create_model(name, **tiny_config(name))
    probe.set_weights(initial)
    global_loss = float(probe.compute_losses(batch, training=True)["loss"])
    halves = [{k: v[i * 4:(i + 1) * 4] for k, v in batch.items()} for i in range(2)]
    probe.set_weights(initial)
    halves_loss = float(np.mean([probe.compute_losses(h, training=True)["loss"]
                                 for h in halves]))

    single.compile(optimizer=keras.optimizers.SGD(0.01))
    single_loss = single.fit(batch, batch_size=8, shuffle=False, verbose=0).history["loss"][0]

    distribution = keras.distribution.DataParallel(devices=devices)
    with distribution.scope():
        parallel = create_model(name, **tiny_config(name))
        parallel.set_weights(initial)
        parallel.compile(optimizer=keras.optimizers.SGD(0.01))
    shardings = []
    forward = parallel.forward

    def inspected_forward(inputs, training=False):
        # Called while the train step is traced: records how the step's
        # input is laid out over the devices.
        jax.debug.inspect_array_sharding(inputs["mel"], callback=shardings.append)
        return forward(inputs, training=training)

    parallel.forward = inspected_forward
    with distribution.scope():
        parallel_loss = parallel.fit(batch, batch_size=8, shuffle=False,
                                     verbose=0).history["loss"][0]

    after, after_parallel = single.get_weights(), parallel.get_weights()
    return {
        "input_devices": [len(s.device_set) for s in shardings],
        "input_replicated": [bool(s.is_fully_replicated) for s in shardings],
        "step_size": float(max(np.abs(np.asarray(w) - initial[i]).max()
                               for i, w in enumerate(single.weights) if w.trainable)),
        "max_weight_diff": float(max(np.abs(a - b).max()
                                     for a, b in zip(after, after_parallel))),
        "single_loss": float(single_loss), "parallel_loss": float(parallel_loss),
        "global_loss": global_loss, "halves_loss": halves_loss,
    }


if __name__ == "__main__":
    _worker(*sys.argv[1:])
