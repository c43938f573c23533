"""Callbacks of the trainer: resume state, checkpoints, scalars, history.

The trainer calls ``model.fit`` once per epoch (each epoch has its own
seeded data order, see :mod:`era_zoo.training.trainer`), so these callbacks
keep their state across fit calls and take the epoch/step position from a
shared :class:`Position`.

Resume state (``RUN_DIR/backup``) is the whole training state as one ``.npz``
of arrays: every model variable (weights, BatchNorm statistics, the dropout
seed generators), every optimizer variable (moments, iteration count) and the
metric accumulators, plus ``state.json`` with the position (epoch, step in
epoch, global step) and the best monitored value. ``state.json`` is written
last and names its ``.npz``, so it is the commit point: a run killed while
saving resumes from the previous state.
"""
import csv
import io
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from ..atomic import atomic_path, write_json, write_text
from ..errors import ConfigError
from .summaries import scalar_writer

STATE_FILE = "state.json"
# update_freq = "auto": at least this many batch points per epoch.
POINTS_PER_EPOCH = 20


@dataclass
class Position:
    """Where training stands, shared by the trainer's callbacks.

    Args:
        epoch: the current epoch, 0-based.
        step: batches of that epoch already trained.
        global_step: batches trained over the whole run.
        best: the best monitored value so far (None before the first validation).
        best_epoch: the epoch (1-based) that reached ``best``.

    Example:
        >>> Position(epoch=2, step=5, global_step=45)
        Position(epoch=2, step=5, global_step=45, best=None, best_epoch=None)
    """
    epoch: int = 0
    step: int = 0
    global_step: int = 0
    best: float | None = None
    best_epoch: int | None = None


def _state_variables(model, with_metrics):
    groups = {"model": model.variables, "optimizer": model.optimizer.variables}
    if with_metrics:
        groups["metrics"] = model.metrics_variables
    return groups


class TrainingState:
    """Saves and restores :class:`Position` plus every variable of a model.

    ``fingerprint`` identifies the recipe settings a state belongs to;
    restoring a state of another fingerprint fails instead of silently mixing
    two runs. Metric accumulators are only kept on a single replica (under a
    distribution strategy they are per-replica sums whose assignment from one
    value would not round-trip).

    Args:
        directory: the run's ``backup`` folder.
        fingerprint: the recipe's fingerprint (``trainer.fingerprint``).
        with_metrics: keep the metric accumulators too (single replica only).

    Example:
        >>> state = TrainingState("runs/a2p/backup", "3f2a")  # doctest: +SKIP
        >>> position, metrics = state.restore(model)          # doctest: +SKIP
    """

    def __init__(self, directory, fingerprint, with_metrics=True):
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.with_metrics = with_metrics

    def exists(self):
        """True when ``directory`` holds a saved state."""
        return (self.directory / STATE_FILE).is_file()

    def save(self, model, position):
        self.directory.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for group, variables in _state_variables(model, self.with_metrics).items():
            for i, v in enumerate(variables):
                arrays[f"{group}/{i:05d}"] = keras.ops.convert_to_numpy(v)
        name = f"state-{position.global_step:09d}-{position.epoch:05d}.npz"
        with atomic_path(self.directory / name) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
        write_json(self.directory / STATE_FILE,
                   {"arrays": name, "fingerprint": self.fingerprint,
                    "position": asdict(position)})
        for old in self.directory.glob("state-*.npz"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def restore(self, model):
        """Load the saved state into ``model``. Returns its Position (a fresh
        one when there is no state) and the saved metric accumulators of a
        mid-epoch state (or None), which :class:`ResumeCallback` puts back
        once Keras has reset the metrics for the resumed epoch."""
        if not self.exists():
            return Position(), None
        meta = json.loads((self.directory / STATE_FILE).read_text(encoding="utf-8"))
        if meta.get("fingerprint") != self.fingerprint:
            raise ConfigError(
                "--out", f"{self.directory.parent} holds a run of a different "
                "recipe (model, data or training settings differ)",
                "choose a new --out, or train with the recipe.toml saved there")
        position = Position(**meta["position"])
        path = self.directory / meta["arrays"]
        metrics = None
        with np.load(path, allow_pickle=False) as saved:
            for group, variables in _state_variables(model, False).items():
                self._assign(path, saved, group, variables)
            keys = sorted(k for k in saved.files if k.startswith("metrics/"))
            if self.with_metrics and position.step and keys:
                metrics = [saved[k] for k in keys]
        return position, metrics

    @staticmethod
    def _assign(path, saved, group, variables):
        keys = sorted(k for k in saved.files if k.startswith(group + "/"))
        if len(keys) != len(variables):
            raise ConfigError("--out", f"{path}: {len(keys)} {group} variables "
                              f"saved, the model has {len(variables)}")
        for key, v in zip(keys, variables):
            value = saved[key]
            if tuple(value.shape) != tuple(v.shape):
                raise ConfigError("--out", f"{path}: {key} has shape "
                                  f"{value.shape}, the model's {v.path} has {v.shape}")
            v.assign(value)


class ResumeCallback(keras.callbacks.Callback):
    """Keeps :class:`Position` current and saves the training state every
    ``every_steps`` batches and at every epoch end (after validation and the
    checkpoints, so a restored epoch end never repeats them). The metric
    accumulators of a mid-epoch state are put back after Keras resets them
    at the start of the resumed epoch, so the epoch's logged means equal
    those of an uninterrupted run.

    Args:
        state: the :class:`TrainingState` to save into.
        position: the trainer's shared :class:`Position`.
        every_steps: batches between mid-epoch saves (0: epoch ends only).
        steps_per_epoch: batches in one epoch.
        pending_metrics: metric accumulators of a restored mid-epoch state.

    Example:
        >>> ResumeCallback(state, position, 100, 500)  # doctest: +SKIP
    """

    def __init__(self, state, position, every_steps, steps_per_epoch, pending_metrics=None):
        super().__init__()
        self.state = state
        self.position = position
        self.every_steps = every_steps
        self.steps_per_epoch = steps_per_epoch
        self.pending_metrics = pending_metrics

    def on_epoch_begin(self, epoch, logs=None):
        pending, self.pending_metrics = self.pending_metrics, None
        variables = self.model.metrics_variables
        # Compiled metrics are built on the first batch; where the saved
        # accumulators do not line up the epoch's means cover the batches
        # after the resume only.
        if pending is not None and len(pending) == len(variables):
            for v, value in zip(variables, pending):
                v.assign(value)

    def on_train_batch_end(self, batch, logs=None):
        self.position.step += 1
        self.position.global_step += 1
        if self.model.stop_training:
            return  # a NaN stop: never save that state
        # The last batch of an epoch is saved by on_epoch_end, after validation.
        if (self.every_steps and self.position.global_step % self.every_steps == 0
                and self.position.step < self.steps_per_epoch):
            self.state.save(self.model, self.position)

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        self.position.epoch = epoch + 1
        self.position.step = 0
        self.state.save(self.model, self.position)


class EpochProgbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, told the run's total epochs (each fit call trains
    one epoch, so Keras alone would print "Epoch 3/3" instead of 3/400).

    Args:
        total_epochs: the recipe's ``training.epochs``.

    Example:
        >>> EpochProgbar(400).total_epochs
        400
    """

    def __init__(self, total_epochs):
        super().__init__()
        self.total_epochs = total_epochs

    def set_params(self, params):
        super().set_params({**params, "epochs": self.total_epochs})


class TerminateOnNaN(keras.callbacks.Callback):
    """Stops training at the first batch whose loss (or any loss term) is
    NaN or infinite, and remembers it in ``bad`` as ``(key, value)``, for the
    trainer's report.

    Example:
        >>> TerminateOnNaN().bad is None
        True
    """

    def __init__(self):
        super().__init__()
        self.bad = None

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            if "loss" in key and not math.isfinite(float(value)):
                self.bad = (key, float(value))
                self.model.stop_training = True
                return


class Checkpoints(keras.callbacks.Callback):
    """``epoch-NNNN.keras`` every ``every_epochs`` epochs and ``best.keras``
    whenever ``monitor`` improves (validation runs every epoch). Files are
    written atomically; ``write_dir`` is a scratch folder on non-chief
    workers, which must still save (reading distributed variables may need
    every worker).

    Args:
        write_dir: the run's ``checkpoints`` folder.
        position: the trainer's shared :class:`Position` (holds the best value).
        every_epochs: epochs between ``epoch-NNNN.keras`` files (0: none).
        best: keep ``best.keras`` (and ``best.json``, its epoch and value).
        monitor: the logged value that decides the best, e.g. ``"val_loss"``.
        mode: ``"min"`` or ``"max"``.

    Example:
        >>> Checkpoints("runs/a2p/checkpoints", Position(), 20, True, "val_loss", "min").sign
        1.0
    """

    def __init__(self, write_dir, position, every_epochs, best, monitor, mode):
        super().__init__()
        self.dir = Path(write_dir)
        self.position = position
        self.every_epochs = every_epochs
        self.best = best
        self.monitor = monitor
        self.sign = 1.0 if mode == "min" else -1.0

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        logs = logs or {}
        if self.every_epochs and (epoch + 1) % self.every_epochs == 0:
            save_model(self.model, self.dir / f"epoch-{epoch + 1:04d}.keras")
        if not self.best:
            return
        if self.monitor not in logs:
            raise ConfigError("checkpoints.monitor",
                              f"{self.monitor!r} is not among the logged values",
                              f"logged: {', '.join(sorted(logs))}")
        value = float(logs[self.monitor])
        best = self.position.best
        if math.isfinite(value) and (best is None or self.sign * value < self.sign * best):
            self.position.best, self.position.best_epoch = value, epoch + 1
            save_model(self.model, self.dir / "best.keras")
            write_json(self.dir / "best.json", {"epoch": epoch + 1,
                                                self.monitor: value})


def save_model(model, path):
    """Save ``model`` as a ``.keras`` file at ``path``, atomically.

    Args:
        model: a Keras model.
        path: the ``.keras`` file to write (replaced when it exists).

    Example:
        >>> save_model(model, "runs/a2p/model.keras")  # doctest: +SKIP
    """
    with atomic_path(path) as tmp:
        os.remove(tmp)  # Keras refuses to overwrite without asking
        model.save(tmp)


class History(keras.callbacks.Callback):
    """``history.csv``: one row per epoch, every logged value. Rows are keyed
    by epoch and the file is rewritten atomically, so an epoch trained again
    after a resume replaces its row instead of adding a second one.

    Args:
        path: the run's ``history.csv`` (rows already there are kept).

    Example:
        >>> History("runs/a2p/history.csv").rows  # doctest: +SKIP
        {}
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.rows = self._read()

    def _read(self):
        if not self.path.is_file():
            return {}
        with self.path.open(newline="") as f:
            return {int(r["epoch"]): r for r in csv.DictReader(f)}

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.rows[epoch + 1] = row
        keys = ["epoch"] + sorted({k for r in self.rows.values() for k in r} - {"epoch"})
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        for e in sorted(self.rows):
            writer.writerow(self.rows[e])
        write_text(self.path, buf.getvalue())


def batch_log_every(update_freq, steps_per_epoch):
    """Batches between two ``batch_*`` scalar points.

    Args:
        update_freq: the recipe's ``logging.update_freq``: a count of batches
            (0: per-epoch points only) or ``"auto"``.
        steps_per_epoch: batches in one epoch.

    Returns:
        ``update_freq`` when it is a count; for ``"auto"``
        ``max(1, steps_per_epoch // POINTS_PER_EPOCH)``, which gives every
        epoch at least 20 points (every batch when an epoch has fewer than 40)
        and keeps long epochs to about 20.

    Example:
        >>> batch_log_every("auto", 9), batch_log_every("auto", 1000), batch_log_every(50, 9)
        (1, 50, 50)
    """
    if update_freq == "auto":
        return max(1, steps_per_epoch // POINTS_PER_EPOCH)
    return update_freq


class Scalars(keras.callbacks.Callback):
    """TensorBoard scalars of every logged value (every loss term and metric
    the model reports): ``train/`` per epoch and every ``update_freq``
    batches (global step numbers), ``validation/`` per epoch, with Keras' tag
    names (``epoch_loss``, ``batch_loss``, ...), plus the learning rate.

    Args:
        log_dir: the run's ``tensorboard`` folder.
        position: the trainer's shared :class:`Position`.
        update_freq: batches between ``batch_*`` points (0: none), as
            :func:`batch_log_every` gives it.
        enabled: False writes nothing.

    Example:
        >>> Scalars("runs/a2p/tensorboard", Position(), batch_log_every("auto", 9))  # doctest: +SKIP
    """

    def __init__(self, log_dir, position, update_freq, enabled=True):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.position = position
        self.update_freq = update_freq
        self.enabled = enabled
        self._writers = {}

    def _writer(self, name):
        # TensorFlow's summary writer, or tensorboard's own without TensorFlow.
        if name not in self._writers:
            self._writers[name] = scalar_writer(self.log_dir / name)
        return self._writers[name]

    def _write(self, name, prefix, values, step):
        writer = self._writer(name)
        for key, value in values.items():
            writer.scalar(f"{prefix}_{key}", value, step)

    def on_train_batch_end(self, batch, logs=None):
        if (self.enabled and self.update_freq and
                (self.position.global_step + 1) % self.update_freq == 0):
            self._write("train", "batch", logs or {}, self.position.global_step + 1)

    def on_epoch_end(self, epoch, logs=None):
        if not self.enabled:
            return
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        train["learning_rate"] = float(keras.ops.convert_to_numpy(
            self.model.optimizer.learning_rate))
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        self._write("train", "epoch", train, epoch + 1)
        if val:
            self._write("validation", "epoch", val, epoch + 1)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.flush()
