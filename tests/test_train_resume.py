"""A run killed with SIGKILL mid-epoch resumes and ends where an
uninterrupted run with the same seed ends: same weights, same history."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from era_zoo.cli import main

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "contrastive_a2p.toml"
# Dropout stays on (encoder 0.5, CF encoder 0.3): its RNG state must resume too.
ARGS = ["--epochs", "2", "--steps-per-epoch", "6", "--batch-size", "4",
        "--set", "data.frames=32",
        "--set", "model.encoder={channels=[4,4],pools=[[4,4],[4,4]],hidden_dim=16}",
        "--set", "sideinfo.cf.factors=8", "--set", "sideinfo.cf.epochs=5",
        "--set", "checkpoints.backup_every_steps=2", "--set", "checkpoints.every_epochs=0",
        "--set", "projector.enabled=false", "--set", "training.validation_steps=1"]


def _args(melon, out):
    return ["train", str(RECIPE), "--data", str(melon), "--out", str(out)] + ARGS


def _weights(path):
    import keras
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    return [w.numpy() for w in model.weights]


def _history(run):
    with open(run / "history.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _kill_mid_epoch(args, state_file, timeout=300):
    """Start `era-zoo train` and SIGKILL it as soon as a mid-epoch resume
    state is committed; returns that state's position."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, "-m", "era_zoo"] + args, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail("training ended before it could be killed:\n" +
                            proc.stderr.read().decode(errors="replace")[-3000:])
            try:
                position = json.loads(state_file.read_text())["position"]
            except (FileNotFoundError, json.JSONDecodeError):
                position = None
            if position and position["global_step"] >= 2:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return json.loads(state_file.read_text())["position"]
            time.sleep(0.005)
        pytest.fail("no resume state appeared in time")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_killed_run_resumes_to_the_uninterrupted_result(melon, tmp_path, capsys):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    killed_at = _kill_mid_epoch(_args(melon, resumed), resumed / "backup" / "state.json")
    assert killed_at["epoch"] == 0 and 0 < killed_at["step"] < 6, killed_at
    assert not (resumed / "model.keras").exists()

    assert main(_args(melon, resumed)) == 0
    out = capsys.readouterr().out
    assert f"resuming {resumed} at epoch 1, step {killed_at['step']} of 6" in out
    assert main(_args(melon, straight)) == 0

    for a, b in zip(_weights(resumed / "model.keras"), _weights(straight / "model.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Epoch means included the batches trained before the kill.
    h_resumed, h_straight = _history(resumed), _history(straight)
    assert [r["epoch"] for r in h_resumed] == [1.0, 2.0]
    for a, b in zip(h_resumed, h_straight):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-5), key

    # The run directory belongs to this recipe: another batch size is refused.
    code = main(_args(melon, resumed) + ["--batch-size", "2"])
    assert code == 2
    assert "--out" in capsys.readouterr().err
