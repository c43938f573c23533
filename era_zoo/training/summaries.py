"""TensorBoard scalar event files, with or without TensorFlow.

:func:`scalar_writer` gives a writer with ``scalar(tag, value, step)`` and
``flush()``: TensorFlow's summary writer where TensorFlow is installed, else
tensorboard's own event-file writer (the same scalar summaries, a float32
tensor with the "scalars" plugin's metadata, so TensorBoard shows both alike),
else one that writes nothing, after a note (the run's history.csv still holds
every logged value).
"""
import time

from ..frameworks import has_tensorflow, installed

_NOTED = set()


def _note(text):
    if text not in _NOTED:
        _NOTED.add(text)
        print(f"era-zoo train: {text}", flush=True)


class _TFWriter:
    def __init__(self, log_dir):
        import tensorflow as tf
        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(log_dir))

    def scalar(self, tag, value, step):
        with self._writer.as_default():
            self._tf.summary.scalar(tag, float(value), step=int(step))

    def flush(self):
        self._writer.flush()


class _EventWriter:
    def __init__(self, log_dir):
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        self._event, self._scalar_pb = Event, scalar_pb
        self._writer = EventFileWriter(str(log_dir))

    def scalar(self, tag, value, step):
        self._writer.add_event(self._event(wall_time=time.time(), step=int(step),
                                           summary=self._scalar_pb(tag, float(value))))

    def flush(self):
        self._writer.flush()


class _NoWriter:
    def scalar(self, tag, value, step):
        pass

    def flush(self):
        pass


def scalar_writer(log_dir):
    """A scalar writer for the event folder ``log_dir`` (see the module).

    Args:
        log_dir: folder of the event files (created when written).

    Example:
        >>> w = scalar_writer("runs/a2p/tensorboard/train")  # doctest: +SKIP
        >>> w.scalar("epoch_loss", 0.5, step=1); w.flush()  # doctest: +SKIP
    """
    if has_tensorflow():
        return _TFWriter(log_dir)
    if installed("tensorboard"):
        _note("TensorFlow is not installed: TensorBoard scalars are written by "
              "tensorboard's own event writer")
        return _EventWriter(log_dir)
    _note("neither TensorFlow nor tensorboard is installed: no TensorBoard scalars "
          "(history.csv holds every logged value)")
    return _NoWriter()
