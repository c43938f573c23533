"""Two worker processes on 127.0.0.1 train a recipe with
MultiWorkerMirroredStrategy (TF_CONFIG) and end with identical weights."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "contrastive_a2g_a2p_g2p.toml"

# Each worker trains through era_zoo.train (what `era-zoo train --strategy
# multiworker` calls) and saves the weights it ends with.
WORKER = """
import sys
import numpy as np
import era_zoo
recipe, data, out, weights_file = sys.argv[1:5]
result = era_zoo.train(recipe, data=data, strategy="multiworker", epochs=1,
                       steps_per_epoch=3, batch_size=4, out=out, overrides=sys.argv[5:])
assert result.status == "completed", result.status
np.savez(weights_file, *[np.asarray(w.numpy()) for w in result.model.weights])
"""
OVERRIDES = ["data.frames=32",
             "model.encoder={channels=[4,4],pools=[[4,4],[4,4]],hidden_dim=16}",
             "sideinfo.cf.factors=8", "sideinfo.cf.epochs=5", "sideinfo.genre.dim=16",
             "checkpoints.every_epochs=0", "projector.enabled=false",
             "training.validation_steps=1", "logging.update_freq=0"]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_end_with_identical_weights(melon, tmp_path):
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    run = tmp_path / "run"
    procs = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="3",
                   CUDA_VISIBLE_DEVICES="")
        log = open(tmp_path / f"worker{index}.log", "w")
        procs.append((subprocess.Popen(
            [sys.executable, "-c", WORKER, str(RECIPE), str(melon), str(run),
             str(tmp_path / f"weights{index}.npz")] + OVERRIDES,
            env=env, stdout=log, stderr=subprocess.STDOUT), log))
    try:
        for proc, log in procs:
            proc.wait(timeout=420)
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    for index, (proc, _) in enumerate(procs):
        assert proc.returncode == 0, (tmp_path / f"worker{index}.log").read_text()[-4000:]

    with np.load(tmp_path / "weights0.npz") as w0, np.load(tmp_path / "weights1.npz") as w1:
        assert w0.files == w1.files and len(w0.files) > 10
        for key in w0.files:
            np.testing.assert_array_equal(w0[key], w1[key])
    # The chief (worker 0) wrote the run directory; worker 1 wrote nothing there.
    assert (run / "model.keras").is_file()
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 2 and history[1].startswith("1,")
    state = json.loads((run / "backup/state.json").read_text())
    assert state["position"] == {"epoch": 1, "step": 0, "global_step": 3,
                                 "best": state["position"]["best"], "best_epoch": 1}
