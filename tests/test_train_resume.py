"""A run killed with SIGKILL mid-epoch resumes and ends where an
uninterrupted run with the same seed ends: the same weights, bit for bit,
and the same history. Killed once just after a state was committed, once
while a state was being written (its temporary file complete, not yet
renamed): that state never counts, the run resumes from the one before, and
the stray temporary file is removed."""
import json
import signal

import pytest
from faults import (STEPS, Paused, assert_same_arrays, history, model_weights,
                    state_arrays, train_args)

from era_zoo.cli import main


@pytest.mark.parametrize("where, at, resumes_at", [("after", 2, 2), ("writing", 4, 2)])
def test_killed_run_resumes_to_the_uninterrupted_result(melon, straight, tmp_path, capsys,
                                                         where, at, resumes_at):
    straight_run, straight_states = straight
    run = tmp_path / "run"
    paused = Paused(train_args(melon, run), at, where, tmp_path / "proc")
    try:
        paused.wait_paused()
        paused.proc.send_signal(signal.SIGKILL)
        assert paused.wait() == -signal.SIGKILL
    finally:
        paused.close()
    position = json.loads((run / "backup/state.json").read_text())["position"]
    assert (position["epoch"], position["step"]) == (0, resumes_at)
    assert not (run / "model.keras").exists()
    stray = list((run / "backup").glob(".tmp-*"))
    assert len(stray) == (where == "writing")
    # What the killed run committed is what the uninterrupted run had there.
    assert_same_arrays(state_arrays(run / "backup"), straight_states[resumes_at])

    assert main(train_args(melon, run)) == 0
    out = capsys.readouterr().out
    assert f"resuming {run} at epoch 1, step {resumes_at} of {STEPS}" in out
    assert not list((run / "backup").glob(".tmp-*"))
    assert_same_arrays(model_weights(run / "model.keras"),
                       model_weights(straight_run / "model.keras"))
    # Epoch means include the batches trained before the kill.
    assert history(run) == history(straight_run)


def test_a_run_directory_belongs_to_its_recipe(melon, straight, capsys):
    straight_run, _ = straight
    assert main(train_args(melon, straight_run, "--batch-size", "2")) == 2
    assert "--out" in capsys.readouterr().err
