"""Callbacks of the trainer: resume state, checkpoints, scalars, history.

The trainer calls ``model.fit`` once per epoch (each epoch has its own
seeded data order, see :mod:`era_zoo.training.trainer`), so these callbacks
keep their state across fit calls and take the epoch/step position from a
shared :class:`Position`.

Resume state (``RUN_DIR/backup``) is the whole training state as one ``.npz``
of arrays: every model variable (weights, BatchNorm statistics, the dropout
seed generators), every optimizer variable (moments, iteration count) and the
metric accumulators, plus the position (epoch, step in epoch, global step)
and the best monitored value. The last two states are kept; ``state.json``
lists them with their sha256 and is written last, so it is the commit point:
a run killed while saving resumes from the previous state, and a damaged
newest state (truncated, altered) is passed over for the one before it.
A state holding NaN or infinite weights is never written.

Faults and what they leave:

- killed (SIGKILL, power loss): the last committed state; the next run
  resumes there and ends with the weights an uninterrupted run ends with.
- SIGTERM (single worker): the state of the batch it arrived in is saved
  and training stops (``TrainResult.status == "interrupted"``).
- disk full or unwritable while saving: :class:`DataError` naming the file;
  the states already there are untouched.
- NaN or infinite loss or model variable: training stops before anything is
  saved from that batch on (see :class:`TerminateOnNaN`).
"""
import csv
import hashlib
import io
import json
import math
import os
import signal
import threading
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from ..atomic import atomic_path, write_json, write_text
from ..errors import ConfigError, DataError
from .summaries import scalar_writer

STATE_FILE = "state.json"
# Resume states kept: the newest and the one before it, to fall back to.
GENERATIONS = 2
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


def sync_variables(model):
    """Make ``model``'s variables hold the training state of this moment.

    Keras' JAX ``fit`` keeps the state outside the variables during an epoch
    (their values are dropped to save memory) and writes it back at the
    epoch's end; a callback that reads variables mid-epoch syncs first. A
    no-op on the other backends.

    Args:
        model: a Keras model, possibly in the middle of ``fit``.

    Example:
        >>> sync_variables(model); np.asarray(model.weights[0])  # doctest: +SKIP
    """
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


def _state_variables(model, with_metrics):
    sync_variables(model)
    groups = {"model": model.variables, "optimizer": model.optimizer.variables}
    if with_metrics:
        groups["metrics"] = model.metrics_variables
    return groups


class TrainingState:
    """Saves and restores :class:`Position` plus every variable of a model,
    keeping the last :data:`GENERATIONS` states so that one damaged file
    (a bad disk block, a copy cut short) still leaves one to resume from.

    Each state is one ``.npz``: the arrays plus ``meta`` (fingerprint and
    position as JSON), so a state file describes itself. ``state.json``
    lists the kept generations, newest first, with their sha256; it is
    written last and so is the commit point. :meth:`restore` takes the
    newest state whose file is whole (sha256, zip CRCs, every array read)
    and records in ``notes`` each newer one it had to pass over; without a
    readable ``state.json`` it falls back to the ``.npz`` files themselves.

    ``fingerprint`` identifies the recipe settings a state belongs to;
    restoring a state of another fingerprint fails instead of silently mixing
    two runs. Metric accumulators are restored under any number of replicas:
    under a distribution strategy they are sum-aggregated per-replica
    variables, whose value read in cross-replica context is the sum and whose
    assignment there gives each replica an equal share, so the sum comes back.

    Args:
        directory: the folder states are saved into (the run's ``backup``).
        fingerprint: the recipe's fingerprint (``trainer.fingerprint``).
        with_metrics: keep the metric accumulators too.
        source: the folder states are restored from (default: ``directory``;
            a non-chief worker saves into scratch but restores the chief's).

    Example:
        >>> state = TrainingState("runs/a2p/backup", "3f2a")  # doctest: +SKIP
        >>> position, metrics = state.restore(model)          # doctest: +SKIP
        >>> state.notes                                       # doctest: +SKIP
        []
    """

    def __init__(self, directory, fingerprint, with_metrics=True, source=None):
        self.directory = Path(directory)
        self.source = Path(source) if source is not None else self.directory
        self.fingerprint = fingerprint
        self.with_metrics = with_metrics
        self.notes = []
        self.saved = None  # Position of the newest state saved or restored
        self._generations = None

    def save(self, model, position):
        """Write the state of ``model`` at ``position`` as the newest
        generation.

        Returns:
            None, or the path of a model or optimizer variable holding NaN or
            infinite values, in which case nothing is written.

        Raises:
            DataError: the state could not be written (disk full, no
                permission); the previous generations are left as they were.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._generations is None:
            self._generations = self._listed(self.directory)
        # The meta as UTF-8 bytes: every entry of the file stays numeric.
        arrays = {"meta": np.frombuffer(json.dumps(
            {"fingerprint": self.fingerprint, "position": asdict(position)}).encode(),
            dtype=np.uint8)}
        for group, variables in _state_variables(model, self.with_metrics).items():
            for i, v in enumerate(variables):
                value = keras.ops.convert_to_numpy(v)
                if (group != "metrics" and np.issubdtype(value.dtype, np.floating)
                        and not np.isfinite(value).all()):
                    return v.path
                arrays[f"{group}/{i:05d}"] = value
        name = f"state-{position.global_step:09d}-{position.epoch:05d}.npz"
        path = self.directory / name
        # A kill while writing leaves a temporary file (one state in size);
        # this process is the folder's only writer, so any found is stale.
        for stale in self.directory.glob(".tmp-*"):
            stale.unlink(missing_ok=True)
        try:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays)
                digest = _sha256(tmp)
            generation = {"arrays": name, "sha256": digest, "position": asdict(position)}
            kept = [generation] + [g for g in self._generations
                                   if g["arrays"] != name][:GENERATIONS - 1]
            write_json(self.directory / STATE_FILE,
                       {"arrays": name, "fingerprint": self.fingerprint,
                        "position": asdict(position), "generations": kept})
        except OSError as e:
            raise DataError(path, f"cannot write the resume state: {e.strerror or e}",
                            "free space or fix permissions there, then run the same "
                            "command again: it resumes from the last state saved"
                            ) from e
        self._generations = kept
        self.saved = Position(**asdict(position))
        names = {g["arrays"] for g in kept}
        for old in self.directory.glob("state-*.npz"):
            if old.name not in names:
                old.unlink(missing_ok=True)

    def restore(self, model):
        """Load the newest whole state into ``model``.

        Returns:
            Its Position (a fresh one when there is no state) and the saved
            metric accumulators of a mid-epoch state (or None), which
            :class:`ResumeCallback` puts back once Keras has reset the
            metrics for the resumed epoch. Damaged states passed over are
            described in ``self.notes``.

        Raises:
            ConfigError: the state belongs to another recipe or model.
            DataError: states exist but none is readable.
        """
        self.notes = []
        generations = self._listed(self.source)
        if not generations:
            return Position(), None
        damaged = []
        for generation in generations:
            path = self.source / generation["arrays"]
            try:
                arrays, meta = _read_state(path, generation.get("sha256"))
            except _Unreadable as e:
                damaged.append(f"{path} is damaged ({e})")
                continue
            if meta.get("fingerprint") != self.fingerprint:
                raise ConfigError(
                    "--out", f"{self.directory.parent} holds a run of a different "
                    "recipe (model, data or training settings differ)",
                    "choose a new --out, or train with the recipe.toml saved there")
            position = Position(**meta["position"])
            for group, variables in _state_variables(model, False).items():
                self._assign(path, arrays, group, variables)
            metrics = None
            keys = sorted(k for k in arrays if k.startswith("metrics/"))
            if self.with_metrics and position.step and keys:
                metrics = [arrays[k] for k in keys]
            if damaged:
                self.notes = damaged + [
                    f"resuming from the previous state {path.name} (epoch "
                    f"{position.epoch + 1}, step {position.step})"]
            self._generations = [g for g in generations if g is generation or
                                 g["position"]["global_step"] < position.global_step]
            self.saved = Position(**asdict(position))
            return position, metrics
        raise DataError(self.source, "no readable resume state: " + "; ".join(damaged),
                        "move the backup folder away to start the run from the beginning")

    def _listed(self, directory):
        """The generations ``state.json`` in ``directory`` names, newest
        first; the ``.npz`` files themselves (newest name first) when it is
        missing or unreadable."""
        try:
            meta = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
            generations = meta.get("generations") or [
                {"arrays": meta["arrays"], "position": meta["position"]}]
            return [g for g in generations if g["arrays"].startswith("state-")]
        except FileNotFoundError:
            files = sorted(directory.glob("state-*.npz"), reverse=True)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            files = sorted(directory.glob("state-*.npz"), reverse=True)
            self.notes.append(f"{directory / STATE_FILE} is damaged ({e}); "
                              "looking at the state files themselves")
        generations = []
        for f in files:
            global_step = int(f.name.split("-")[1]) if f.name.count("-") == 2 else -1
            generations.append({"arrays": f.name, "position": {"global_step": global_step}})
        return generations

    @staticmethod
    def _assign(path, saved, group, variables):
        keys = sorted(k for k in saved if k.startswith(group + "/"))
        if len(keys) != len(variables):
            raise ConfigError("--out", f"{path}: {len(keys)} {group} variables "
                              f"saved, the model has {len(variables)}")
        for key, v in zip(keys, variables):
            value = saved[key]
            if tuple(value.shape) != tuple(v.shape):
                raise ConfigError("--out", f"{path}: {key} has shape "
                                  f"{value.shape}, the model's {v.path} has {v.shape}")
        for key, v in zip(keys, variables):
            v.assign(saved[key])


class _Unreadable(Exception):
    """A state file that cannot be used, with the reason."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_state(path, sha256=None):
    """Every array of the state file ``path`` and its meta; raises
    :class:`_Unreadable` naming what is wrong with it."""
    if not path.is_file():
        raise _Unreadable("missing")
    if sha256 and _sha256(path) != sha256:
        raise _Unreadable("its contents differ from what was written (sha256)")
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}  # reading checks every CRC
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        meta["position"]["global_step"]
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
        raise _Unreadable(f"{type(e).__name__}: {e}") from None
    return arrays, meta


class Interrupted(Exception):
    """Raised by :class:`ResumeCallback` out of ``fit`` once the state of a
    signalled run is saved; ``signum`` is the signal, ``position`` where the
    state stands."""

    def __init__(self, signum, position):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum
        self.position = position


class StopSignal:
    """Turns SIGTERM (a scheduler's or ``kill``'s polite stop) into a
    request that :class:`ResumeCallback` honours at the end of the batch in
    progress: the handler only records the signal, since saving from inside
    a handler could interrupt a half-finished step. Installed for the span of
    a ``with`` block, in the main thread only (elsewhere Python cannot take
    signals and the default action stays).

    Args:
        signals: the signals to catch.

    Example:
        >>> import signal
        >>> with StopSignal() as stop:
        ...     signal.raise_signal(signal.SIGTERM)
        >>> stop.received == signal.SIGTERM
        True
    """

    def __init__(self, signals=(signal.SIGTERM,)):
        self.signals = tuple(signals)
        self.received = None
        self._previous = {}

    def _handle(self, signum, frame):
        self.received = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
        return False


class ResumeCallback(keras.callbacks.Callback):
    """Keeps :class:`Position` current and saves the training state every
    ``every_steps`` batches and at every epoch end (after validation and the
    checkpoints, so a restored epoch end never repeats them). The metric
    accumulators of a mid-epoch state are put back after Keras resets them
    at the start of the resumed epoch, so the epoch's logged means equal
    those of an uninterrupted run. A state with NaN or infinite weights is
    not saved: training stops and ``bad`` names the variable. When
    ``stop_signal`` has received a signal, the state after the batch in
    progress is saved and :class:`Interrupted` is raised.

    Args:
        state: the :class:`TrainingState` to save into.
        position: the trainer's shared :class:`Position`.
        every_steps: batches between mid-epoch saves (0: epoch ends only).
        steps_per_epoch: batches in one epoch.
        pending_metrics: metric accumulators of a restored mid-epoch state.
        stop_signal: a :class:`StopSignal`, or None.

    Example:
        >>> ResumeCallback(state, position, 100, 500)  # doctest: +SKIP
    """

    def __init__(self, state, position, every_steps, steps_per_epoch, pending_metrics=None,
                 stop_signal=None):
        super().__init__()
        self.state = state
        self.position = position
        self.every_steps = every_steps
        self.steps_per_epoch = steps_per_epoch
        self.pending_metrics = pending_metrics
        self.stop_signal = stop_signal
        self.bad = None

    def on_epoch_begin(self, epoch, logs=None):
        pending, self.pending_metrics = self.pending_metrics, None
        variables = self.model.metrics_variables
        # Compiled metrics are built on the first batch; where the saved
        # accumulators do not line up the epoch's means cover the batches
        # after the resume only.
        if pending is not None and len(pending) == len(variables):
            for v, value in zip(variables, pending):
                v.assign(value)

    def _save(self):
        bad = self.state.save(self.model, self.position)
        if bad is not None:
            self.bad = (bad, math.nan)
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self.position.step += 1
        self.position.global_step += 1
        if self.model.stop_training:
            return  # a NaN stop: never save that state
        signalled = self.stop_signal is not None and self.stop_signal.received
        if signalled and self.position.step < self.steps_per_epoch:
            self._save()
            if self.bad is None:
                raise Interrupted(self.stop_signal.received, self.position)
            return
        # The last batch of an epoch is saved by on_epoch_end, after validation.
        if (self.every_steps and self.position.global_step % self.every_steps == 0
                and self.position.step < self.steps_per_epoch):
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training:
            return
        step = self.position.step
        self.position.epoch, self.position.step = epoch + 1, 0
        self._save()
        if self.bad is not None:  # not saved: the position stays at the epoch's last batch
            self.position.epoch, self.position.step = epoch, step
        elif self.stop_signal is not None and self.stop_signal.received:
            raise Interrupted(self.stop_signal.received, self.position)


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
    """Stops training at the first batch after which the loss (or any loss
    term) or any model variable is NaN or infinite, and remembers it in
    ``bad`` as ``(name, value)``, for the trainer's report.

    The variables are checked too because the loss can stay finite while a
    batch wrecks the model: one track of huge (finite) values passes
    through the normalisations but turns the input BatchNorm's moving
    variance infinite. The check is one compiled reduction per batch on
    TensorFlow (a flag comes back, not the weights).

    Example:
        >>> TerminateOnNaN().bad is None
        True
    """

    def __init__(self):
        super().__init__()
        self.bad = None
        self._all_finite = None

    def _variables(self):
        return [v for v in self.model.variables if "float" in str(v.dtype)]

    def _checker(self):
        variables = self._variables()
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            @tf.function
            def all_finite():
                return tf.reduce_all(tf.stack(
                    [tf.reduce_all(tf.math.is_finite(v)) for v in variables]))
            return lambda: bool(all_finite())

        def all_finite_here():
            sync_variables(self.model)
            return all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in variables)
        return all_finite_here

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            if "loss" in key and not math.isfinite(float(value)):
                self.bad = (key, float(value))
                self.model.stop_training = True
                return
        if self._all_finite is None:
            self._all_finite = self._checker()
        if not self._all_finite():
            for v in self._variables():
                value = keras.ops.convert_to_numpy(v)
                if not np.isfinite(value).all():
                    self.bad = (v.path, float(value[~np.isfinite(value)].flat[0]))
                    break
            self.model.stop_training = True


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

    Raises:
        DataError: the file could not be written (disk full, no permission).

    Args:
        model: a Keras model.
        path: the ``.keras`` file to write (replaced when it exists).

    Example:
        >>> save_model(model, "runs/a2p/model.keras")  # doctest: +SKIP
    """
    try:
        with atomic_path(path) as tmp:
            os.remove(tmp)  # Keras refuses to overwrite without asking
            model.save(tmp)
    except OSError as e:
        raise DataError(path, f"cannot write the model: {e.strerror or e}",
                        "free space or fix permissions there; the file that was "
                        "there before is unchanged") from e


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
        if self.model.stop_training:
            return  # a NaN stop: the epoch is not complete
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
        if not self.enabled or self.model.stop_training:
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
