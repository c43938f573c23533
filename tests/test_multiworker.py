"""Two worker processes on 127.0.0.1 train a recipe with
MultiWorkerMirroredStrategy (TF_CONFIG) and end with identical weights; a
run whose second worker is killed mid-epoch, restarted, resumes from the
chief's backup and ends with the weights and history (metric means over
both replicas) of the uninterrupted run."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "contrastive_a2g_a2p_g2p.toml"

# Each worker trains through era_zoo.train (what `era-zoo train --strategy
# multiworker` calls) and saves the weights it ends with. With PAUSE_AT > 0
# it stops after that global step (its state saved) until the file GO exists.
WORKER = """
import pathlib, sys, time
import numpy as np
from tensorflow.python.distribute import collective_all_reduce_strategy
import era_zoo
from era_zoo.training import callbacks
recipe, data, out, weights_file, pause_at, marker, go = sys.argv[1:8]
# Peers are checked every second (TensorFlow's default: 30 s), so a worker
# notices a dead peer at once and stops instead of waiting in an all-reduce.
collective_all_reduce_strategy.CollectiveAllReduceExtended._check_health_interval = 1
collective_all_reduce_strategy.CollectiveAllReduceExtended._check_health_timeout = 2
if int(pause_at):
    real_batch_end = callbacks.ResumeCallback.on_train_batch_end

    def on_train_batch_end(self, batch, logs=None):
        real_batch_end(self, batch, logs)
        if self.position.global_step == int(pause_at):
            pathlib.Path(marker).write_text("paused")
            while not pathlib.Path(go).exists():
                time.sleep(0.02)
    callbacks.ResumeCallback.on_train_batch_end = on_train_batch_end
result = era_zoo.train(recipe, data=data, strategy="multiworker", epochs=1,
                       steps_per_epoch=3, batch_size=4, out=out, overrides=sys.argv[8:])
assert result.status == "completed", result.status
np.savez(weights_file, *[np.asarray(w.numpy()) for w in result.model.weights])
"""
OVERRIDES = ["data.frames=32",
             "model.encoder={channels=[4,4],pools=[[4,4],[4,4]],hidden_dim=16}",
             "sideinfo.cf.factors=8", "sideinfo.cf.epochs=5", "sideinfo.genre.dim=16",
             "checkpoints.every_epochs=0", "checkpoints.backup_every_steps=1",
             "projector.enabled=false", "training.validation_steps=1",
             "logging.update_freq=0"]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Workers:
    """Two workers of one run, started together; ``pause_at`` makes worker 1
    stop after that global step (its marker file appears)."""

    def __init__(self, melon, run, folder, pause_at=0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.marker, self.go = self.folder / "paused", self.folder / "go"
        workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
        self.procs, self.logs = [], []
        for index in range(2):
            tf_config = {"cluster": {"worker": workers},
                         "task": {"type": "worker", "index": index}}
            env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="3",
                       CUDA_VISIBLE_DEVICES="")
            log = open(self.folder / f"worker{index}.log", "w")
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                [sys.executable, "-c", WORKER, str(RECIPE), str(melon), str(run),
                 str(self.weights_file(index)), str(pause_at if index == 1 else 0),
                 str(self.marker), str(self.go)] + OVERRIDES,
                env=env, stdout=log, stderr=subprocess.STDOUT))

    def weights_file(self, index):
        return self.folder / f"weights{index}.npz"

    def log(self, index):
        if not self.logs[index].closed:
            self.logs[index].flush()
        return (self.folder / f"worker{index}.log").read_text(errors="replace")

    def wait(self, index, timeout=420):
        try:
            return self.procs[index].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {index} did not end:\n{self.log(index)[-4000:]}")

    def close(self):
        for proc, log in zip(self.procs, self.logs):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()

    def weights(self):
        """The weights both workers ended with, checked identical."""
        for index in range(2):
            assert self.wait(index) == 0, self.log(index)[-4000:]
        with np.load(self.weights_file(0)) as w0, np.load(self.weights_file(1)) as w1:
            assert w0.files == w1.files and len(w0.files) > 10
            for key in w0.files:
                np.testing.assert_array_equal(w0[key], w1[key])
            return [w0[k] for k in w0.files]


@pytest.fixture(scope="module")
def uninterrupted(melon, tmp_path_factory):
    folder = tmp_path_factory.mktemp("multiworker")
    workers = Workers(melon, folder / "run", folder)
    try:
        weights = workers.weights()
    finally:
        workers.close()
    return folder / "run", weights


def test_two_workers_end_with_identical_weights(uninterrupted):
    run, _ = uninterrupted
    # The chief (worker 0) wrote the run directory; worker 1 wrote nothing there.
    assert (run / "model.keras").is_file()
    history = (run / "history.csv").read_text().splitlines()
    assert len(history) == 2 and history[1].startswith("1,")
    state = json.loads((run / "backup/state.json").read_text())
    assert state["position"] == {"epoch": 1, "step": 0, "global_step": 3,
                                 "best": state["position"]["best"], "best_epoch": 1}


def test_a_killed_worker_restarted_resumes_from_the_shared_backup(melon, uninterrupted,
                                                                  tmp_path):
    straight_run, straight_weights = uninterrupted
    run = tmp_path / "run"
    first = Workers(melon, run, tmp_path / "first", pause_at=1)
    try:
        deadline = time.monotonic() + 420
        state_file = run / "backup/state.json"
        while not (first.marker.exists() and state_file.exists()):
            if any(p.poll() is not None for p in first.procs) or time.monotonic() > deadline:
                pytest.fail("the workers did not reach step 1:\n" + first.log(0)[-3000:]
                            + first.log(1)[-3000:])
            time.sleep(0.05)
        first.procs[1].send_signal(signal.SIGKILL)
        assert first.wait(1) == -signal.SIGKILL
        # The chief, waiting in the next all-reduce, finds its peer gone and stops.
        assert first.wait(0, timeout=300) != 0
        assert ("TF_CONFIG: /job:worker/replica:0/task:1 stopped during training (start "
                "every worker again with the same command: the run resumes from "
                f"{run / 'backup'})") in first.log(0)
    finally:
        first.close()
    position = json.loads(state_file.read_text())["position"]
    assert (position["epoch"], position["step"]) == (0, 1)
    assert not (run / "model.keras").exists()

    again = Workers(melon, run, tmp_path / "again")
    try:
        weights = again.weights()
    finally:
        again.close()
    assert "resuming" in again.log(0) and "at epoch 1, step 1 of 3" in again.log(0)
    for a, b in zip(weights, straight_weights):
        np.testing.assert_array_equal(a, b)
    # Epoch means over both replicas include the step trained before the kill.
    assert (run / "history.csv").read_text() == (straight_run / "history.csv").read_text()
