"""The trainer: one recipe -> one run directory.

Resume is exact: ``fit`` runs one epoch at a time on that epoch's own data
(shuffled and cropped from ``seed`` and the epoch number, see
:mod:`era_zoo.training.data`), and the resume state holds every variable of
model, optimizer and dropout RNG plus the position. A run killed mid-epoch
rebuilds that epoch's data, skips the batches it had already trained and
goes on, so it ends with the weights an uninterrupted run ends with, bit for
bit on the same machine and thread count (tests/test_train_resume.py and
tests/test_faults.py compare with no tolerance). Restarting a finished run
with more ``--epochs`` extends it. What each fault leaves (SIGTERM, a
damaged backup, a full disk, a NaN) is listed in
:mod:`era_zoo.training.callbacks`.
"""
import contextlib
import hashlib
import json
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import write_text
from ..errors import ConfigError
from . import callbacks as cb
from .recipe import get
from .run_dir import RunDir
from .strategy import is_chief, make_strategy, worker_rank

# Settings whose change makes an old resume state meaningless. Epoch count
# and logging are left out: a finished run can be extended with more epochs.
FINGERPRINT_FIELDS = ("model", "data", "sideinfo", "training.batch_size",
                      "training.drop_remainder", "training.steps_per_epoch",
                      "training.seed", "training.optimizer")


def fingerprint(recipe):
    parts = {f: get(recipe, f) for f in FINGERPRINT_FIELDS}
    parts["data"] = {k: v for k, v in parts["data"].items() if k not in ("root", "cache_dir")}
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TrainResult:
    """What :func:`run_training` leaves: the run directory, the model, the
    per-epoch history (epoch -> logged values), where training stopped and
    why: ``"completed"``, ``"nan"`` (``nan``: the logged value or variable
    that was not finite, ``nan_tracks``: the batch's tracks as (track_id,
    file, largest |input|), the likeliest culprit first) or
    ``"interrupted"`` (SIGTERM; the state is saved)."""
    run_dir: Path
    model: object
    history: dict
    position: cb.Position
    status: str
    nan: tuple | None = None
    nan_tracks: list = field(default_factory=list)


def run_training(recipe, run_dir, data, *, strategy="default", verbose="auto"):
    """Train ``recipe`` (a resolved recipe dict) on ``data`` (a
    :class:`~era_zoo.training.data.TrainingData`) into ``run_dir`` with
    ``strategy`` (a name of :mod:`~era_zoo.training.strategy` or a
    tf.distribute.Strategy). ``verbose``: Keras' progress bar (1), one line
    per epoch (2), none (0), or "auto" (1 on a terminal, else 2).
    """
    import keras

    from .optimizers import make_optimizer

    strategy_obj = make_strategy(strategy) if isinstance(strategy, str) else strategy
    replicas = strategy_obj.num_replicas_in_sync
    if recipe["training"]["batch_size"] % replicas:
        raise ConfigError("training.batch_size",
                          f"{recipe['training']['batch_size']} does not split evenly over "
                          f"{replicas} replicas", "the batch size is the global batch")
    chief = is_chief()
    run = RunDir(run_dir)
    # Non-chief workers write everything to a scratch copy (saving may need
    # every worker to take part) and delete it at the end.
    write_root = run.root if chief else Path(tempfile.mkdtemp(prefix="era_zoo_worker_"))
    writes = RunDir(write_root).create()
    training = recipe["training"]
    seed = training["seed"]
    keras.utils.set_random_seed(seed)

    with strategy_obj.scope():
        model = _registry_model(recipe, data.model_config)
        model.compile(optimizer=make_optimizer(training["optimizer"]))
        model.optimizer.build(model.trainable_variables)
    # Every worker restores from the chief's backup (under multiworker the
    # run directory must be on a shared filesystem to resume, as in Keras).
    state = cb.TrainingState(writes.backup, fingerprint(recipe), source=run.backup)
    position, saved_metrics = state.restore(model)
    for note in state.notes:
        _say(f"warning: {note}", chief, file=sys.stderr)
    if chief:
        writes.write_recipe(recipe)
        if data.problems:
            write_text(writes.problems, str(data.problems) + "\n")
    epochs = training["epochs"]
    ckpt = recipe["checkpoints"]
    nan_stop = cb.TerminateOnNaN()
    history = cb.History(writes.history)
    scalars = cb.Scalars(
        writes.tensorboard, position,
        cb.batch_log_every(recipe["logging"]["update_freq"], data.steps_per_epoch),
        enabled=recipe["logging"]["tensorboard"])
    # Saving reads every worker's variables, so under multiworker a worker
    # cannot save alone: there SIGTERM keeps its default (the run resumes
    # from the last backup, as after a kill).
    stop_signal = cb.StopSignal() if worker_rank()[1] == 1 else None
    resume = cb.ResumeCallback(state, position, ckpt["backup_every_steps"],
                               data.steps_per_epoch, saved_metrics, stop_signal)
    callbacks = [
        nan_stop,
        scalars,
        history,
        cb.Checkpoints(writes.checkpoints, position, ckpt["every_epochs"],
                       ckpt["best"], ckpt["monitor"], ckpt["mode"]),
        resume,
    ]
    if position.epoch or position.step:
        _say(f"resuming {run.root} at epoch {position.epoch + 1}, "
             f"step {position.step} of {data.steps_per_epoch}", chief)
    verbose = (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose
    if verbose and chief:
        callbacks.append(cb.EpochProgbar(epochs))
    status, bad, nan_tracks = "completed", None, []
    valid = data.valid_dataset()
    try:
        with stop_signal or contextlib.nullcontext():
            for epoch in range(position.epoch, epochs):
                skip = position.step if epoch == position.epoch else 0
                position.epoch, position.step = epoch, skip
                train = data.train_dataset(epoch, skip=skip)
                with strategy_obj.scope():
                    model.fit(train, epochs=epoch + 1, initial_epoch=epoch, shuffle=False,
                              steps_per_epoch=data.steps_per_epoch - skip,
                              validation_data=valid, validation_steps=data.validation_steps,
                              callbacks=callbacks, verbose=verbose if chief else 0)
                bad = nan_stop.bad or resume.bad
                if bad:
                    status = "nan"
                    nan_tracks = _report_nan(data, epoch, position, bad, run, state.saved,
                                             chief)
                    break
            if status == "completed":
                cb.save_model(model, writes.model)
    except cb.Interrupted as e:
        status = "interrupted"
        _say(f"stopped by {signal.Signals(e.signum).name} at epoch {e.position.epoch + 1}, "
             f"step {e.position.step} of {data.steps_per_epoch}; the state is saved in "
             f"{run.backup}: run the same command again to resume", chief)
    except Exception as e:
        down = _workers_down(e)
        if not down:
            raise
        raise ConfigError("TF_CONFIG", f"{', '.join(down)} stopped during training",
                          "start every worker again with the same command: the run "
                          f"resumes from {run.backup}") from e
    finally:
        scalars.on_train_end()
        if not chief:
            shutil.rmtree(write_root, ignore_errors=True)
    return TrainResult(run.root, model, history.rows, position, status, bad, nan_tracks)


def _workers_down(error):
    """The tasks a MultiWorkerMirroredStrategy error says are gone (its
    health check aborts the collectives when a peer stops), or []."""
    import re
    if type(error).__name__ != "UnavailableError" or worker_rank()[1] == 1:
        return []
    return sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+", str(error))))


def _report_nan(data, epoch, position, bad, run, saved, chief):
    """Say where a NaN stop happened and which tracks the batch held; the
    batch is rebuilt from the epoch's seed (data order is a function of seed
    and epoch), written to ``nan_batch.tsv`` and returned as rows of
    (track_id, file, largest |value| of its inputs)."""
    import numpy as np
    batches = data.train_dataset(epoch, skip=position.step - 1)
    # A tf.data dataset, or a keras PyDataset where TensorFlow is absent.
    batch = next(iter(batches.take(1))) if hasattr(batches, "take") else batches[0]
    batch = {k: np.asarray(v) for k, v in batch.items()}
    table = data.splits["train"][0]
    arrays = {k: v for k, v in batch.items()
              if k != "track_index" and np.issubdtype(v.dtype, np.floating)}
    rows = []
    for i, index in enumerate(batch["track_index"]):
        track = table.tracks[int(index)]
        peak = max(float(np.max(np.abs(a[i]))) if np.isfinite(a[i]).all() else np.inf
                   for a in arrays.values())
        rows.append((track.track_id, track.mel_path or track.audio_path or "", peak))
    # The track whose inputs stand out is the likeliest culprit: list it first.
    rows.sort(key=lambda r: -r[2])
    if chief:
        write_text(run.nan_batch, "track_id\tfile\tmax_abs_input\n" + "".join(
            f"{t}\t{f}\t{p:.6g}\n" for t, f, p in rows))
    shown = ", ".join(f"{t} (max |input| {p:.3g})" for t, _, p in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    key, value = bad
    last = (f"the last good state (epoch {saved.epoch + 1}, step {saved.step}) is in "
            f"{run.backup}" if saved else "no state had been saved yet")
    _say(f"stopped: {key} = {value} at epoch {epoch + 1}, step {position.step}, a batch "
         f"of tracks {shown}{more} (all in {run.nan_batch}); nothing from that batch on "
         f"was saved, {last}. If the first track's inputs stand out, fix or leave it "
         "out, else lower the learning rate; then run the same command again", chief)
    return rows


def _registry_model(recipe, extra_config):
    from ..registry import create_model
    config = {k: v for k, v in recipe["model"].items() if k != "name"}
    config.update(extra_config)
    return create_model(recipe["model"]["name"], **config)


def _say(text, chief=True, file=None):
    if chief:
        print(f"era-zoo train: {text}", file=file or sys.stdout, flush=True)
