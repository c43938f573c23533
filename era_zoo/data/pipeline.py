"""tf.data pipelines over a TrackTable: streaming log-mels from audio files or
from precomputed ``.npy`` mels (Melon layout, (n_mels, T)).

Three shapes of stream, all yielding dicts with ``mel`` (float32) and
``track_index`` (int64, the row of the table given):

- :func:`training_dataset`: one random ``frames``-long crop per track and
  epoch, batched; side features gathered by row.
- :func:`chunk_dataset`: inference; every track cut into non-overlapping
  ``frames``-long chunks (plus ``chunk_index``), batched in order;
  :func:`group_by_track` regroups model outputs per track.
- :func:`mel_dataset`: the whole log-mel of each track, one at a time
  (feature extraction, benchmarks).

How it streams: the dataset starts from the table's row indices (int64); only
indices are sharded and shuffled, so sharding is file-level and memory does
not grow with the dataset. What each row reads, the training order and the
crops are NumPy code shared with the TensorFlow-free loader
(:mod:`era_zoo.data.streams`, :mod:`era_zoo.data.pydataset`). A Python loader (``tf.numpy_function``) decodes one
file (soundfile and soxr release the GIL, so ``num_parallel_calls`` decodes in
parallel) or reads one ``.npy`` (memory-mapped: a training crop reads only its
frames); the log-mel is computed in graph by the same code as the
:class:`~era_zoo.audio.mel.LogMel` layer. A training crop from audio decodes
only the samples of its frames (the crop is drawn over the whole track from
the header's length), so it costs a few seconds of audio, not the whole file;
with ``cache_dir`` whole log-mels are computed once and crops cut from them.

Bad files: ``on_error="raise"`` checks every file's header before the first
element (missing, empty, wrong format, truncated WAV, wrong mel shape raise
AudioError/DataError naming the file); problems only a full decode reveals
(NaN, silence, corrupt stream) stop iteration with a TensorFlow
InvalidArgumentError whose message starts with the file's path and the
problem (training crops from audio decode only their window, so only what
lies in it is checked). ``on_error="skip"`` leaves such files out and counts
each once in ``report`` (by default the table's own ``problems``).

Short tracks are padded to ``frames``: ``pad_mode="repeat"`` (default) tiles
the track's mel along time (music loops more naturally than it falls silent);
``"silence"`` appends frames of ``spec.floor``, the log-mel of digital
silence in the spec's compression.
"""
import numpy as np
import tensorflow as tf

from ..audio.mel import waveform_to_logmel
from ..errors import ConfigError
from ..inference.inputs import repeat_frames
from .streams import _BAD, _OK, CropOrder, SideFeatures, TrackReader, shard_rows


# ---------------------------------------------------------------- public API

def training_dataset(table, spec, *, source="audio", frames=256, batch_size=128,
                     side=None, shuffle=True, seed=0, repeat=False,
                     drop_remainder=True, pad_mode="repeat", cache_dir=None,
                     on_error="raise", report=None, validate=True,
                     input_context=None, shard=None, reshuffle=True,
                     num_parallel_calls=tf.data.AUTOTUNE):
    """Random fixed-length crops for training.

    Each element: ``mel`` (n_mels, frames) float32, ``track_index`` int64 and
    every ``side`` feature (dict name -> array aligned with the table's rows,
    np.ndarray or np.memmap, gathered per batch: never copied into the graph;
    floats become float32, integers int32). ``batch_size=None``: unbatched.
    Order and crops come from :class:`~era_zoo.data.streams.CropOrder`
    (seeded by ``seed``; the crop start uniform over the track), the same as
    :class:`~era_zoo.data.pydataset.MelBatches` gives. Each iteration of the
    dataset draws a new order and new crops, unless ``reshuffle=False``
    (the same every time, e.g. validation). ``repeat``: loop forever
    (reshuffled every pass).
    ``cache_dir`` (audio only): keep each computed log-mel as ``.npy`` there
    (:class:`~era_zoo.data.mel_cache.MelCache`) and read it on later epochs.
    ``input_context`` (tf.distribute.InputContext, from
    ``distribute_datasets_from_function``): shard by input pipeline, and
    ``batch_size`` is the global batch, divided per replica. ``shard=(n, i)``:
    keep every n-th track starting at i (several workers by hand).
    ``source``: "audio" (``Track.audio_path``, decoded at ``spec``'s rate) or
    "mel" (``Track.mel_path``, an (n_mels, T) float ``.npy``). ``pad_mode``,
    ``on_error``, ``report``: see the module docstring. ``validate``: check
    every file's header up front (False: trust the table, fail on first use).
    Shuffling permutes row indices only (an array of ints, never of mels).
    """
    plan = _Plan(table, spec, source, frames, pad_mode, cache_dir, on_error, report)
    rows, batch_size, sharded = shard_rows(plan.usable_rows(validate), shard, input_context,
                                           batch_size)
    ds = _element_dataset(CropOrder(rows, seed, shuffle, repeat, reshuffle))
    ds = plan.load(ds, num_parallel_calls, crop=True)
    ds = ds.map(plan.crop, num_parallel_calls=num_parallel_calls)
    return _finish(ds, batch_size, drop_remainder, side, len(table), sharded)


def chunk_dataset(table, spec, *, source="audio", frames=256, batch_size=64,
                  side=None, pad_mode="repeat", cache_dir=None, on_error="raise",
                  report=None, validate=True, input_context=None, shard=None,
                  num_parallel_calls=tf.data.AUTOTUNE):
    """Non-overlapping ``frames``-long chunks of every track, in table order.

    Each element: ``mel`` (n_mels, frames), ``track_index`` int64,
    ``chunk_index`` int32 (0, 1, ... within the track) and the ``side``
    features. A track of T frames gives T // frames chunks (the partial tail
    is left out); a track shorter than one chunk gives one chunk, padded per
    ``pad_mode``. Batches are not dropped. Regroup outputs with
    :func:`group_by_track`.
    """
    plan = _Plan(table, spec, source, frames, pad_mode, cache_dir, on_error, report)
    rows = plan.usable_rows(validate)
    ds, batch_size, sharded = _row_dataset(rows, shard, input_context, batch_size)
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.from_tensors(np.int64(0)).repeat())
    ds = plan.load(ds, num_parallel_calls, crop=False)
    ds = ds.map(plan.chunks, num_parallel_calls=num_parallel_calls).unbatch()
    return _finish(ds, batch_size, False, side, len(table), sharded)


def mel_dataset(table, spec, *, source="audio", cache_dir=None, on_error="raise",
                report=None, validate=True, shard=None,
                num_parallel_calls=tf.data.AUTOTUNE):
    """The whole log-mel of every track, unbatched, in table order: elements
    ``mel`` (n_mels, T) float32 and ``track_index``."""
    plan = _Plan(table, spec, source, 1, "repeat", cache_dir, on_error, report)
    rows = plan.usable_rows(validate)
    ds, _, sharded = _row_dataset(rows, shard, None, None)
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.from_tensors(np.int64(0)).repeat())
    ds = plan.load(ds, num_parallel_calls, crop=False)
    ds = ds.map(lambda e: {"mel": e["mel"], "track_index": e["track_index"]})
    return _finish(ds, None, False, None, len(table), sharded)


def group_by_track(track_index, values):
    """Regroup per-chunk outputs: ``track_index`` (n,) and ``values`` (n, ...)
    -> (tracks, groups) with ``tracks`` the sorted distinct indices and
    ``groups[k]`` the rows of ``values`` of ``tracks[k]`` in their original
    order. E.g. track mean: ``[g.mean(0) for g in groups]``; majority vote:
    ``[np.bincount(g).argmax() for g in groups]``."""
    track_index = np.asarray(track_index).reshape(-1)
    values = np.asarray(values)
    if len(values) != len(track_index):
        raise ConfigError("values", f"{len(track_index)} track indices but {len(values)} values")
    order = np.argsort(track_index, kind="stable")
    tracks, starts = np.unique(track_index[order], return_index=True)
    return tracks, np.split(values[order], starts[1:])


# ------------------------------------------------------------------ internals

class _Plan(TrackReader):
    """A TrackReader plus the graph side: tf.data maps that read rows and
    turn decoded audio into log-mel crops or chunks."""

    # -- graph
    def load(self, ds, num_parallel_calls, crop):
        """(row, rnd) -> {"mel" (n_mels, T), "track_index", "rnd", "status"},
        bad rows dropped.

        Audio is decoded and turned into its log-mel in one map (one tf.data
        stage per element, not two); a bad row's placeholder waveform is
        transformed too (n_fft zeros, one frame) and dropped after."""
        def read(row, rnd):
            wave, mel, status = tf.numpy_function(
                lambda r, x: self.load_row(r, x, crop), [row, rnd],
                [tf.float32, tf.float32, tf.int32], name="read_track")
            wave.set_shape([None])
            mel.set_shape([self.spec.n_mels, None])
            return {"row": row, "rnd": rnd, "wave": wave, "mel": mel, "status": status}

        def read_mel(row, rnd):
            e = read(row, rnd)
            if self.cache is None:  # crops arrive as uncentred windows
                mel = waveform_to_logmel(e["wave"], self.spec, center=not crop)
            else:
                def compute():
                    fresh = waveform_to_logmel(e["wave"], self.spec)
                    stored = tf.numpy_function(self._store, [e["row"], fresh],
                                               tf.float32, name="store_mel")
                    return tf.ensure_shape(stored, [self.spec.n_mels, None])
                # only a freshly decoded file is computed and cached
                mel = tf.cond(e["status"] == _OK, compute, lambda: e["mel"])
            return {"mel": mel, "track_index": e["row"], "rnd": e["rnd"], "status": e["status"]}

        def read_stored(row, rnd):  # read as mels already
            e = read(row, rnd)
            return {"mel": e["mel"], "track_index": e["row"], "rnd": e["rnd"],
                    "status": e["status"]}

        ds = ds.map(read_stored if self.source == "mel" else read_mel,
                    num_parallel_calls=num_parallel_calls)
        if self.on_error == "skip":
            ds = ds.filter(lambda e: e["status"] != _BAD)
        return ds

    def _pad(self, mel):
        """(n_mels, T <= frames) -> (n_mels, frames) per pad_mode."""
        missing = self.frames - tf.shape(mel)[1]
        if self.pad_mode == "repeat":
            # Inference's padding rule itself, so a short track's training
            # crop is its inference chunk.
            mel = tf.cond(missing > 0,
                          lambda: tf.numpy_function(lambda m: repeat_frames(m, self.frames),
                                                    [mel], tf.float32, name="repeat_frames"),
                          lambda: mel)
        else:
            mel = tf.pad(mel, [[0, 0], [0, tf.maximum(missing, 0)]],
                         constant_values=self.silence)
        return tf.ensure_shape(mel, [self.spec.n_mels, self.frames])

    def crop(self, e):
        length = tf.shape(e["mel"])[1]
        start = tf.math.floormod(e["rnd"], tf.cast(tf.maximum(1, length - self.frames + 1),
                                                   tf.int64))
        start = tf.cast(start, tf.int32)
        mel = self._pad(e["mel"][:, start:start + self.frames])
        return {"mel": mel, "track_index": e["track_index"]}

    def chunks(self, e):
        mel = e["mel"]
        length = tf.shape(mel)[1]
        n = tf.maximum(1, length // self.frames)
        mel = tf.cond(length < self.frames, lambda: self._pad(mel),
                      lambda: mel[:, :n * self.frames])
        stacked = tf.transpose(tf.reshape(mel, [self.spec.n_mels, n, self.frames]),
                               [1, 0, 2])
        return {"mel": stacked,
                "track_index": tf.fill([n], e["track_index"]),
                "chunk_index": tf.range(n, dtype=tf.int32)}


def _row_dataset(rows, shard, input_context, batch_size):
    """Row indices (see :func:`~era_zoo.data.streams.shard_rows`). Returns
    (dataset, per-replica batch size, sharded by hand?)."""
    rows, batch_size, sharded = shard_rows(rows, shard, input_context, batch_size)
    return tf.data.Dataset.from_tensor_slices(rows), batch_size, sharded


def _element_dataset(order):
    """(row, draw) elements of a CropOrder; each iteration of the dataset
    runs the generator afresh and so takes the order's next iteration."""
    def passes():
        yield from order.passes(order.begin())

    spec = tf.TensorSpec([None], tf.int64)
    return tf.data.Dataset.from_generator(passes, output_signature=(spec, spec)).unbatch()


def _side_gatherer(side, n_rows):
    """Per-batch lookup of side features by track_index, from host arrays."""
    features = SideFeatures(side, n_rows)

    def attach(element):
        rows = element["track_index"]
        for name, (array, out) in features.arrays.items():
            values = tf.numpy_function(lambda r, name=name: features.take(name, r), [rows],
                                       tf.as_dtype(out), name=f"side_{name}")
            values.set_shape(rows.shape.concatenate(array.shape[1:]))
            element[name] = values
        return element

    return attach if features.arrays else None


def _finish(ds, batch_size, drop_remainder, side, n_rows, sharded):
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    attach = _side_gatherer(side, n_rows)
    if attach is not None:
        ds = ds.map(attach, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Parallelism comes from elements (files) processed side by side; an op
    # split over threads as well only adds hand-offs: a quarter less CPU per
    # clip at the same throughput on 2 cores.
    options.threading.max_intra_op_parallelism = 1
    # tf.data's autotuning model makes deleting an iterator wait, idle, for up
    # to about half the iterator's life (TF 2.21, every tuning algorithm: 0.3-
    # 0.6 s after a 0.8 s pass, 1.7 s after 3 s), and Keras opens a new
    # iterator for every epoch and every validation. Without the model, an
    # AUTOTUNE map runs min(16, cores) calls at once and prefetch(AUTOTUNE)
    # sizes its buffer by demand: the same throughput, no wait
    # (benchmarks/pipeline.py). A caller's own with_options can turn it back on.
    options.autotune.enabled = False
    # Rows are indices, not files: auto-sharding by FILE has nothing to split.
    # By hand-sharded datasets must not be split again.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF if sharded
        else tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
