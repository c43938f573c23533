"""One optimizer step under MirroredStrategy (2 logical CPU devices) equals
the single-device step on the same global batch.

TensorFlow's logical devices must be configured before TF initialises, so
the comparison runs in a fresh interpreter: this file is also the worker
(``python tests/test_distributed.py <model> <strategy> <gather>``), which
prints the differences as JSON.
"""
import json
import os
import socket
import subprocess
import sys

import pytest

WORKER_TIMEOUT_S = 600


def _env(**extra):
    return {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2",
            "CUDA_VISIBLE_DEVICES": "", **extra}


def _result(proc):
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _run_worker(*args):
    return _result(subprocess.run([sys.executable, __file__, *args], capture_output=True,
                                  text=True, env=_env(), timeout=WORKER_TIMEOUT_S))


def _run_two_workers(*args):
    """A MultiWorkerMirroredStrategy cluster of two local processes, one CPU
    replica each, talking gRPC on two free localhost ports."""
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("localhost", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    procs = [subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=_env(TF_CONFIG=json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": i}})))
        for i in range(2)]
    results = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=WORKER_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
        results.append(_result(subprocess.CompletedProcess(proc.args, proc.returncode, out, err)))
    return results[0]


# One interpreter per strategy (TensorFlow starts once); cases are model:gather.
MIRRORED_CASES = ["contrastive_a2g_a2p_g2p:gather", "audioart_mmc:gather",
                  "contrastive_a2p:local"]
MULTI_WORKER_CASES = ["audio_suc:gather"]


def _check_equal_steps(result):
    assert result["replicas"] == 2 and result["synchronized_bn"] is True
    assert result["step_size"] > 1e-3            # the step moved the weights
    assert result["max_weight_diff"] <= 1e-5, result
    # Same loss to float32 reduction-order noise (oneDNN sums in its own
    # order): the bound, 1e-5, relative.
    assert result["loss_diff"] <= 1e-5 * result["loss"], result


def test_mirrored_step_equals_single_device_step():
    # One test, so that pytest-xdist starts this (slow) interpreter once.
    results = _run_worker("mirrored", *MIRRORED_CASES)
    _check_equal_steps(results["contrastive_a2g_a2p_g2p:gather"])
    _check_equal_steps(results["audioart_mmc:gather"])
    # Without gathering, each replica contrasts only its own half batch: a
    # different objective, so the weights differ (the check above can fail).
    assert results["contrastive_a2p:local"]["max_weight_diff"] > 1e-4, results


def test_multi_worker_step_equals_single_device_step():
    results = _run_two_workers("multi_worker", *MULTI_WORKER_CASES)
    _check_equal_steps(results["audio_suc:gather"])


def _worker(strategy_name, *cases):
    import tensorflow as tf

    if strategy_name == "multi_worker":        # the cluster comes from TF_CONFIG
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {}
    for case in cases:
        name, gather = case.split(":")
        results[case] = _one_step(strategy, name, gather == "gather")
    print(json.dumps(results))


def _one_step(strategy, name, gather):
    import keras
    import numpy as np
    import tensorflow as tf

    from era_zoo.registry import create_model
    from helpers import tiny_batch, tiny_config

    config = {**tiny_config(name), "gather_negatives": gather}
    keras.utils.set_random_seed(0)
    single = create_model(name, **config)
    initial = single.get_weights()
    batch = tiny_batch(single, batch_size=8)
    # One global batch of 8. Workers shard it by element (each replica gets 4
    # rows, in an order the losses do not depend on).
    dataset = tf.data.Dataset.from_tensor_slices(batch).batch(8)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = \
        tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)

    single.compile(optimizer=keras.optimizers.SGD(0.01))
    single_loss = single.fit(dataset, verbose=0).history["loss"][0]
    with strategy.scope():
        mirrored = create_model(name, **config)
        mirrored.set_weights(initial)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.01))
    mirrored_loss = mirrored.fit(dataset, verbose=0).history["loss"][0]

    after, after_mirrored = single.get_weights(), mirrored.get_weights()
    return {
        "replicas": strategy.num_replicas_in_sync,
        "synchronized_bn": mirrored.audio_encoder.synchronized_bn,
        "step_size": float(max(np.abs(np.asarray(w) - initial[i]).max()
                               for i, w in enumerate(single.weights) if w.trainable)),
        "max_weight_diff": float(max(np.abs(a - b).max()
                                     for a, b in zip(after, after_mirrored))),
        "loss": float(single_loss),
        "loss_diff": abs(float(single_loss) - float(mirrored_loss)),
        "worst": max(((float(np.abs(a - b).max()), w.path) for a, b, w in
                      zip(after, after_mirrored, single.weights))),
    }


if __name__ == "__main__":
    _worker(*sys.argv[1:])
