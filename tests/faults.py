"""Shared parts of the training fault-injection tests (test_train_resume.py,
test_faults.py): one tiny recipe, the uninterrupted reference run, and a
training subprocess that pauses at a chosen step so that a signal lands
exactly there (a kill "some time" into a run would make the tests depend on
the machine's speed).

Same weights means bitwise equal: training is deterministic on one machine
(data order and crops from the seed and epoch, dropout RNG state saved,
every op run in the same order on the same thread count), and a resumed run
repeats exactly the arithmetic of the uninterrupted one. A tolerance would
not help anyway: Adam turns any rounding difference in a gradient that is
zero up to rounding (a bias in front of a normalisation) into a step of the
full learning rate, so a real difference shows as about lr x steps, 1e-3
here, not as 1e-7.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "contrastive_a2p.toml"
STEPS = 6  # per epoch; 2 epochs, a backup every 2 steps
# Dropout stays on (encoder 0.5, CF encoder 0.3): its RNG state must resume too.
OVERRIDES = ["training.epochs=2", f"training.steps_per_epoch={STEPS}",
             "training.batch_size=4", "data.frames=32",
             "model.encoder={channels=[4,4],pools=[[4,4],[4,4]],hidden_dim=16}",
             "sideinfo.cf.factors=8", "sideinfo.cf.epochs=5",
             "checkpoints.backup_every_steps=2", "checkpoints.every_epochs=0",
             "projector.enabled=false", "training.validation_steps=1",
             "logging.update_freq=0"]
ARGS = [a for o in OVERRIDES for a in ("--set", o)]


def train_args(melon, out, *extra):
    """`era-zoo train` arguments of the fault tests' recipe."""
    return ["train", str(RECIPE), "--data", str(melon), "--out", str(out)] + ARGS + list(extra)


def state_arrays(backup):
    """Every array of the newest state in a run's ``backup`` folder."""
    name = json.loads((Path(backup) / "state.json").read_text())["arrays"]
    with np.load(Path(backup) / name, allow_pickle=False) as saved:
        return {k: saved[k] for k in saved.files if k != "meta"}


def model_weights(path):
    """The weights of a ``.keras`` file, in order."""
    import keras

    import era_zoo.models  # noqa: F401  (registers the classes)
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    return [np.asarray(w.numpy()) for w in model.weights]


def assert_same_arrays(a, b):
    """Bitwise equality of two weight lists or state dicts (see the module
    docstring for why no tolerance)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        a, b = [a[k] for k in sorted(a)], [b[k] for k in sorted(b)]
    assert len(a) == len(b) and len(a) > 10
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def history(run):
    """history.csv as a list of dicts of floats."""
    import csv
    with open(Path(run) / "history.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def run_straight(melon, out):
    """Train without faults into ``out``, saving a state after every step
    (saving never changes what is trained); returns {global step: state
    arrays}, the references of the faulted runs."""
    from era_zoo.cli import main
    from era_zoo.training import callbacks

    states = {}
    real_save = callbacks.TrainingState.save

    def recording_save(self, model, position):
        bad = real_save(self, model, position)
        states[position.global_step] = state_arrays(self.directory)
        return bad

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(callbacks.TrainingState, "save", recording_save)
        assert main(train_args(melon, out, "--set", "checkpoints.backup_every_steps=1")) == 0
    assert sorted(states) == list(range(1, 2 * STEPS + 1))
    return states


# `python -c PAUSING AT WHERE MARKER GO ARGS...`: `era-zoo ARGS` that stops
# when global step AT is reached, writes MARKER and waits until the file GO
# exists. WHERE: "after" (the step's batch is done and its state, if one was
# due, committed) or "writing" (the state of step AT is written to its
# temporary file but not yet renamed into place).
PAUSING = r"""
import contextlib, pathlib, sys, time
from era_zoo.training import callbacks
from era_zoo.cli import main

at, where = int(sys.argv[1]), sys.argv[2]
marker, go = pathlib.Path(sys.argv[3]), pathlib.Path(sys.argv[4])

def pause():
    marker.write_text("paused")
    while not go.exists():
        time.sleep(0.02)

if where == "writing":
    real_atomic_path = callbacks.atomic_path

    @contextlib.contextmanager
    def pausing_atomic_path(path):
        with real_atomic_path(path) as tmp:
            yield tmp
            if pathlib.Path(path).name.startswith(f"state-{at:09d}-"):
                pause()
    callbacks.atomic_path = pausing_atomic_path
else:
    real_batch_end = callbacks.ResumeCallback.on_train_batch_end

    def on_train_batch_end(self, batch, logs=None):
        real_batch_end(self, batch, logs)
        if self.position.global_step == at:
            pause()
    callbacks.ResumeCallback.on_train_batch_end = on_train_batch_end
sys.exit(main(sys.argv[5:]))
"""


class Paused:
    """A training subprocess paused at a step (see PAUSING).

    Args:
        args: `era-zoo` arguments.
        at: the global step to pause at.
        where: "after" or "writing".
        folder: where the marker, go file and log go.
        env: extra environment variables.
    """

    def __init__(self, args, at, where, folder, env=None):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.marker, self.go = folder / "paused", folder / "go"
        self.log_path = folder / "log.txt"
        self._log = open(self.log_path, "w")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                   **(env or {}))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PAUSING, str(at), where, str(self.marker), str(self.go)]
            + list(args), env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_paused(self, timeout=400):
        deadline = time.monotonic() + timeout
        while not self.marker.exists():
            if self.proc.poll() is not None:
                pytest.fail(f"training ended before pausing:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"training did not reach the pause:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    def resume(self):
        self.go.write_text("go")

    def wait(self, timeout=400):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"training did not end:\n{self.log()[-4000:]}")

    def log(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
