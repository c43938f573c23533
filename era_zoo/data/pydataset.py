"""Training batches without TensorFlow: :class:`MelBatches`, a
``keras.utils.PyDataset`` of random crops of precomputed ``.npy`` mels.

It is the tf.data pipeline's :func:`~era_zoo.data.pipeline.training_dataset`
for ``source="mel"`` in plain NumPy, for machines without TensorFlow (Keras
on JAX or PyTorch): the same rows, order, crops and side features for the
same seed (both take them from :mod:`era_zoo.data.streams`), read per batch
from memory-mapped files (a crop reads only its frames), so memory stays flat
in the dataset's size. Batches are dicts: ``mel`` (batch, n_mels, frames)
float32, ``track_index`` int64 and the side features.

One difference: a file whose *content* is bad (NaN in the crop) found while
reading with ``on_error="skip"`` is left out of its batch, which is then one
shorter, where tf.data fills the batch from the following elements. Files
with bad headers are left out before the first batch by both (``validate``).
"""
import keras
import numpy as np

from ..errors import ConfigError
from .streams import CropOrder, SideFeatures, TrackReader, shard_rows


class MelBatches(keras.utils.PyDataset):
    """Random ``frames``-long crops of a table's ``.npy`` mels, batched.

    Args:
        table: TrackTable whose tracks have ``mel_path``.
        spec: MelSpec or preset name (the band count is checked).
        source: "mel" only; audio needs the tf.data pipeline (TensorFlow).
        frames: crop length.
        batch_size: batch size; with ``drop_remainder`` an incomplete last
            batch of a pass is left out.
        side: dict name -> array aligned with the table's rows (side features).
        shuffle, seed, repeat, reshuffle: see
            :class:`~era_zoo.data.streams.CropOrder`; each epoch
            (``on_epoch_end``) draws a new order and crops unless
            ``reshuffle=False``.
        steps: batches per epoch (needed with ``repeat``, else at most one
            pass); ``skip``: leave out the first ``skip`` of them (a resumed
            epoch).
        pad_mode, on_error, report, validate, shard: as for
            :func:`~era_zoo.data.pipeline.training_dataset`.
        workers: threads reading batches ahead (Keras' PyDataset workers).

    Example:
        >>> batches = MelBatches(table, "melon48", frames=256, batch_size=32, seed=0)  # doctest: +SKIP
        >>> model.fit(batches, epochs=1)  # doctest: +SKIP
    """

    def __init__(self, table, spec, *, source="mel", frames=256, batch_size=128, side=None,
                 shuffle=True, seed=0, repeat=False, reshuffle=True, steps=None, skip=0,
                 drop_remainder=True, pad_mode="repeat", on_error="raise", report=None,
                 validate=True, shard=None, workers=1, max_queue_size=10):
        super().__init__(workers=workers, use_multiprocessing=False,
                         max_queue_size=max_queue_size)
        if source != "mel":
            raise ConfigError("data.source", f"{source!r}: without TensorFlow era_zoo trains "
                                             "from precomputed .npy mels only",
                              "precompute the mels (the dataset's mel_path) or install "
                              "TensorFlow for the tf.data audio pipeline")
        if int(batch_size) < 1:
            raise ConfigError("batch_size", f"must be >= 1, got {batch_size}")
        self.reader = TrackReader(table, spec, "mel", frames, pad_mode, None, on_error, report)
        rows, _, _ = shard_rows(self.reader.usable_rows(validate), shard)
        self.order = CropOrder(rows, seed, shuffle, repeat, reshuffle)
        self.side = SideFeatures(side, len(table))
        self.batch_size = int(batch_size)
        n = len(rows)
        per_pass = n // self.batch_size if drop_remainder else -(-n // self.batch_size)
        if repeat:
            total = None if steps is None else int(steps)
        else:
            total = per_pass if steps is None else min(int(steps), per_pass)
        self.skip = int(skip)
        self._num_batches = None if total is None else max(0, total - self.skip)
        self._iteration = self.order.begin()

    @property
    def num_batches(self):
        return self._num_batches

    def __len__(self):
        if self._num_batches is None:
            raise TypeError("an endless MelBatches (repeat without steps) has no length")
        return self._num_batches

    def __getitem__(self, index):
        if self._num_batches is not None and not 0 <= index < self._num_batches:
            raise IndexError(f"batch {index} of {self._num_batches}")
        start = (self.skip + index) * self.batch_size
        rows, draws = self.order.elements(self._iteration, start, start + self.batch_size)
        mels, kept = [], []
        for row, draw in zip(rows, draws):
            mel = self.reader.mel_crop(row, draw)
            if mel is not None:
                mels.append(mel)
                kept.append(row)
        kept = np.asarray(kept, dtype=np.int64)
        shape = (0, self.reader.spec.n_mels, self.reader.frames)
        batch = {"mel": np.stack(mels) if mels else np.zeros(shape, np.float32),
                 "track_index": kept}
        batch.update(self.side.batch(kept))
        return batch

    def on_epoch_end(self):
        self._iteration = self.order.begin()
