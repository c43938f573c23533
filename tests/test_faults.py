"""Training under faults other than a kill (tests/test_train_resume.py):
SIGTERM, a damaged newest resume state, a full disk, a NaN batch. Each run
is then resumed and must end with the weights of the uninterrupted run, bit
for bit (tests/faults.py says why no tolerance)."""
import contextlib
import errno
import json
import re
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from faults import (OVERRIDES, RECIPE, STEPS, Paused, assert_same_arrays, history, model_weights,
                    state_arrays, train_args)

from era_zoo.cli import main
from era_zoo.training import callbacks


def _assert_ends_like(run, straight_run):
    assert_same_arrays(model_weights(run / "model.keras"),
                       model_weights(straight_run / "model.keras"))
    assert history(run) == history(straight_run)


def test_sigterm_saves_the_state_and_exits_cleanly(melon, straight, tmp_path, capsys):
    straight_run, straight_states = straight
    run = tmp_path / "run"
    # Paused after step 2; SIGTERM arrives there, step 3 finishes, its state
    # (not a regular backup step) is saved and the process exits.
    paused = Paused(train_args(melon, run), 2, "after", tmp_path / "proc")
    try:
        paused.wait_paused()
        paused.proc.send_signal(signal.SIGTERM)
        paused.resume()
        code = paused.wait()
        log = paused.log()
    finally:
        paused.close()
    assert code == 143, log[-3000:]
    assert (f"era-zoo train: stopped by SIGTERM at epoch 1, step 3 of {STEPS}; the state is "
            f"saved in {run / 'backup'}: run the same command again to resume") in log
    assert "Traceback" not in log
    state = json.loads((run / "backup/state.json").read_text())
    assert (state["position"]["epoch"], state["position"]["step"]) == (0, 3)
    assert_same_arrays(state_arrays(run / "backup"), straight_states[3])

    assert main(train_args(melon, run)) == 0
    assert f"resuming {run} at epoch 1, step 3 of {STEPS}" in capsys.readouterr().out
    _assert_ends_like(run, straight_run)


@pytest.fixture(scope="module")
def one_epoch(melon, tmp_path_factory):
    """The fault recipe trained for one epoch: its backup holds the epoch-end
    state (global step 6) and the one before (step 4)."""
    run = tmp_path_factory.mktemp("one_epoch") / "run"
    assert main(train_args(melon, run, "--epochs", "1")) == 0
    return run


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncated", "byte flipped, state.json cut"])
def test_a_damaged_newest_state_falls_back_to_the_previous(melon, straight, one_epoch,
                                                           tmp_path, capsys, damage):
    straight_run, straight_states = straight
    run = tmp_path / "run"
    shutil.copytree(one_epoch, run)
    backup = run / "backup"
    state = json.loads((backup / "state.json").read_text())
    newest, previous = (g["arrays"] for g in state["generations"])
    assert (newest, previous) == ("state-000000006-00001.npz", "state-000000004-00000.npz")
    if damage == "truncated":
        _truncate(backup / newest)
    else:
        # Without state.json (no sha256 to compare) the zip's CRCs find the flip.
        _flip_a_byte(backup / newest)
        _truncate(backup / "state.json")

    assert main(train_args(melon, run)) == 0
    captured = capsys.readouterr()
    assert f"{backup / newest} is damaged (" in captured.err
    assert (f"resuming from the previous state {previous} (epoch 1, step 4)"
            in captured.err)
    assert f"resuming {run} at epoch 1, step 4 of {STEPS}" in captured.out
    assert not (backup / newest).exists() or newest in json.loads(
        (backup / "state.json").read_text())["arrays"]
    _assert_ends_like(run, straight_run)


def test_disk_full_while_saving_keeps_the_previous_state(melon, straight, tmp_path, capsys,
                                                         monkeypatch):
    straight_run, straight_states = straight
    run = tmp_path / "run"
    real_atomic_path = callbacks.atomic_path

    @contextlib.contextmanager
    def full_disk(path):
        # The state of step 4 gets half written, then the disk is full.
        with real_atomic_path(path) as tmp:
            yield tmp
            if path.name.startswith("state-000000004-"):
                _truncate(tmp)
                raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(callbacks, "atomic_path", full_disk)
    assert main(train_args(melon, run)) == 2
    err = capsys.readouterr().err  # the CF fit's progress bars, then one line
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"era-zoo train: error: {run / 'backup' / 'state-000000004-00000.npz'}: cannot "
        "write the resume state: No space left on device (free space or fix permissions "
        "there, then run the same command again: it resumes from the last state saved)")
    assert sorted(p.name for p in (run / "backup").iterdir()) == [
        "state-000000002-00000.npz", "state.json"]
    assert_same_arrays(state_arrays(run / "backup"), straight_states[2])

    monkeypatch.setattr(callbacks, "atomic_path", real_atomic_path)
    assert main(train_args(melon, run)) == 0
    assert f"resuming {run} at epoch 1, step 2 of {STEPS}" in capsys.readouterr().out
    _assert_ends_like(run, straight_run)


def _epoch_batches(melon):
    """Track ids of each batch of epoch 0, as the trainer builds them."""
    from era_zoo.training.data import TrainingData
    from era_zoo.training.recipe import load_recipe
    recipe = load_recipe(str(RECIPE), data_root=str(melon), overrides=OVERRIDES)
    data = TrainingData(recipe, progress=False)
    table = data.splits["train"][0]
    return [[table.tracks[int(i)] for i in np.asarray(b["track_index"])]
            for b in data.train_dataset(0)]


def test_a_nan_batch_stops_naming_its_tracks(melon, straight, tmp_path, capsys):
    straight_run, straight_states = straight
    data = tmp_path / "melon"
    shutil.copytree(melon, data)
    batches = _epoch_batches(data)
    assert len(batches) == STEPS
    # Batch 5 of epoch 1 holds a track whose mel is finite but huge (a
    # corrupt file): the loss stays finite (the normalisations absorb it) but
    # the input BatchNorm's statistics overflow and the model's weights with them.
    culprit = batches[4][0]
    assert all(culprit.track_id not in {t.track_id for t in b} for b in batches[:4])
    mel_file = Path(culprit.mel_path)
    assert data in mel_file.parents
    good = np.load(mel_file)
    np.save(mel_file, np.full_like(good, 3e38))

    run = tmp_path / "run"
    assert main(train_args(data, run)) == 3
    out = capsys.readouterr().out
    assert re.search(r"stopped: audio_encoder/\S+ = (nan|inf) at epoch 1, step 5, a batch of "
                     rf"tracks {culprit.track_id} \(max \|input\| 3e\+38\), ", out), out
    assert f"the last good state (epoch 1, step 4) is in {run / 'backup'}" in out
    rows = (run / "nan_batch.tsv").read_text().splitlines()
    assert rows[0] == "track_id\tfile\tmax_abs_input"
    assert [r.split("\t")[0] for r in rows[1:]][0] == culprit.track_id
    assert sorted(r.split("\t")[0] for r in rows[1:]) == sorted(t.track_id for t in batches[4])
    # Nothing from the NaN batch on was saved: the backup is the uninterrupted
    # run's step 4, no model, no checkpoint, no history row for the epoch.
    assert_same_arrays(state_arrays(run / "backup"), straight_states[4])
    assert not (run / "model.keras").exists()
    assert not list((run / "checkpoints").iterdir())
    assert not (run / "history.csv").exists()

    np.save(mel_file, good)
    assert main(train_args(data, run)) == 0
    assert f"resuming {run} at epoch 1, step 4 of {STEPS}" in capsys.readouterr().out
    _assert_ends_like(run, straight_run)
