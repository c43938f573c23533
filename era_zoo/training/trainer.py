"""The trainer: one recipe -> one run directory.

Resume is exact: ``fit`` runs one epoch at a time on that epoch's own data
(shuffled and cropped from ``seed`` and the epoch number, see
:mod:`era_zoo.training.data`), and the resume state holds every variable of
model, optimizer and dropout RNG plus the position. A run killed mid-epoch
rebuilds that epoch's data, skips the batches it had already trained and
goes on, so it ends with the weights an uninterrupted run ends with (up to
floating-point reduction order). Restarting a finished run with more
``--epochs`` extends it.
"""
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..atomic import write_text
from ..errors import ConfigError
from . import callbacks as cb
from .recipe import get
from .run_dir import RunDir
from .strategy import is_chief, make_strategy

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
    why (``"completed"`` or ``"nan"``)."""
    run_dir: Path
    model: object
    history: dict
    position: cb.Position
    status: str
    nan: tuple | None = None


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
    with_metrics = replicas == 1
    position, saved_metrics = cb.TrainingState(
        run.backup, fingerprint(recipe), with_metrics).restore(model)
    state = cb.TrainingState(writes.backup, fingerprint(recipe), with_metrics)
    if chief:
        writes.write_recipe(recipe)
        if data.problems:
            write_text(writes.problems, str(data.problems) + "\n")
    epochs = training["epochs"]
    ckpt = recipe["checkpoints"]
    nan_stop = cb.TerminateOnNaN()
    history = cb.History(writes.history)
    callbacks = [
        nan_stop,
        cb.Scalars(writes.tensorboard, position,
                   cb.batch_log_every(recipe["logging"]["update_freq"], data.steps_per_epoch),
                   enabled=recipe["logging"]["tensorboard"]),
        history,
        cb.Checkpoints(writes.checkpoints, position, ckpt["every_epochs"],
                       ckpt["best"], ckpt["monitor"], ckpt["mode"]),
        cb.ResumeCallback(state, position, ckpt["backup_every_steps"], data.steps_per_epoch,
                          saved_metrics),
    ]
    if position.epoch or position.step:
        _say(f"resuming {run.root} at epoch {position.epoch + 1}, "
             f"step {position.step} of {data.steps_per_epoch}", chief)
    verbose = (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose
    if verbose and chief:
        callbacks.append(cb.EpochProgbar(epochs))
    status = "completed"
    valid = data.valid_dataset()
    for epoch in range(position.epoch, epochs):
        skip = position.step if epoch == position.epoch else 0
        position.epoch, position.step = epoch, skip
        train = data.train_dataset(epoch, skip=skip)
        with strategy_obj.scope():
            model.fit(train, epochs=epoch + 1, initial_epoch=epoch, shuffle=False,
                      steps_per_epoch=data.steps_per_epoch - skip,
                      validation_data=valid, validation_steps=data.validation_steps,
                      callbacks=callbacks, verbose=verbose if chief else 0)
        if nan_stop.bad:
            status = "nan"
            key, value = nan_stop.bad
            _say(f"stopped: {key} = {value} at epoch {epoch + 1}, step "
                 f"{position.step}; the last good state is in {run.backup}", chief)
            break
    if status == "completed":
        cb.save_model(model, writes.model)
    if not chief:
        shutil.rmtree(write_root, ignore_errors=True)
    return TrainResult(run.root, model, history.rows, position, status, nan_stop.bad)


def _registry_model(recipe, extra_config):
    from ..registry import create_model
    config = {k: v for k, v in recipe["model"].items() if k != "name"}
    config.update(extra_config)
    return create_model(recipe["model"]["name"], **config)


def _say(text, chief=True):
    if chief:
        print(f"era-zoo train: {text}", flush=True)
