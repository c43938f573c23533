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
not grow with the dataset. A Python loader (``tf.numpy_function``) decodes one
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
import math
import threading

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..audio.decode import audio_info, load_audio
from ..audio.mel import waveform_to_logmel
from ..audio.presets import get_preset
from ..errors import ConfigError, DataError
from .mel_cache import MelCache

SOURCES = ("audio", "mel")
PAD_MODES = ("repeat", "silence")
ON_ERROR = ("raise", "skip")

_OK, _CACHED, _BAD = 0, 1, 2

# Target-rate samples decoded beyond a training window when resampling; soxr's
# "HQ" filter is a few dozen samples long, 256 leaves it ample room.
RESAMPLE_CONTEXT = 256


# ---------------------------------------------------------------- public API

def training_dataset(table, spec, *, source="audio", frames=256, batch_size=128,
                     side=None, shuffle=True, seed=0, repeat=False,
                     drop_remainder=True, pad_mode="repeat", cache_dir=None,
                     on_error="raise", report=None, validate=True,
                     input_context=None, shard=None,
                     num_parallel_calls=tf.data.AUTOTUNE):
    """Random fixed-length crops for training.

    Each element: ``mel`` (n_mels, frames) float32, ``track_index`` int64 and
    every ``side`` feature (dict name -> array aligned with the table's rows,
    np.ndarray or np.memmap, gathered per batch: never copied into the graph;
    floats become float32, integers int32). ``batch_size=None``: unbatched.
    The crop start is uniform over the track, drawn from a stream seeded by
    ``seed`` (new crops every epoch). ``repeat``: loop forever (reshuffled).
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
    Shuffling permutes row indices only (a buffer of ints, never of mels).
    """
    plan = _Plan(table, spec, source, frames, pad_mode, cache_dir, on_error, report)
    rows = plan.usable_rows(validate)
    ds, batch_size, sharded = _row_dataset(rows, shard, input_context, batch_size)
    if shuffle:
        ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed,
                                                        rerandomize_each_iteration=True))
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

class _Plan:
    """What to read for each row and how to turn it into a log-mel."""

    def __init__(self, table, spec, source, frames, pad_mode, cache_dir, on_error,
                 report):
        if source not in SOURCES:
            raise ConfigError("source", f"{source!r} is not one of {SOURCES}")
        if pad_mode not in PAD_MODES:
            raise ConfigError("pad_mode", f"{pad_mode!r} is not one of {PAD_MODES}")
        if on_error not in ON_ERROR:
            raise ConfigError("on_error", f"{on_error!r} is not one of {ON_ERROR}")
        if int(frames) < 1:
            raise ConfigError("frames", f"must be >= 1, got {frames}")
        if cache_dir is not None and source != "audio":
            raise ConfigError("cache_dir", "only audio sources are cached "
                                           "(.npy mels are read directly)")
        self.spec = get_preset(spec)
        self.source, self.frames, self.pad_mode = source, int(frames), pad_mode
        self.on_error = on_error
        self.report = table.problems if report is None else report
        self.tracks = list(table)
        self.table_name = table.name
        self.paths = [t.audio_path if source == "audio" else t.mel_path
                      for t in self.tracks]
        self.cache = MelCache(cache_dir, self.spec) if cache_dir is not None else None
        self.silence = self.spec.floor
        # Header length and rate per row (-1: not read yet), from the up-front
        # check or a crop's first read, so later epochs' crops skip audio_info.
        self._frames = np.full(len(self.paths), -1, np.int64)
        self._rates = np.zeros(len(self.paths), np.int64)
        self._reported = set()
        self._lock = threading.Lock()

    # -- bad files
    def fail(self, row, error):
        """Raise, or count the row's problem once (not once per epoch)."""
        if self.on_error == "raise":
            raise error
        with self._lock:
            if row in self._reported:
                return
            self._reported.add(row)
        self.report.raise_or_skip(error, "skip", kind=f"bad {self.source} file")

    def path(self, row):
        path = self.paths[row]
        if not path:
            raise DataError(f"track {self.tracks[row].track_id}",
                            f"has no {self.source}_path",
                            f"the table was read without {self.source} files")
        return path

    def usable_rows(self, validate):
        """Rows whose file passes a header check (when ``validate``)."""
        rows = []
        check = self._check_audio if self.source == "audio" else self._check_mel
        for row in tqdm(range(len(self.paths)), desc="checking files", unit="file",
                        disable=len(self.paths) < 2000, leave=False):
            try:
                path = self.path(row)
                if validate:
                    check(row, path)
            except DataError as e:
                self.fail(row, e)
                continue
            rows.append(row)
        if not rows:
            raise DataError(f"table {self.table_name!r}",
                            f"no usable {self.source} files among {len(self.paths)} tracks",
                            str(self.report) if self.report else None)
        return np.asarray(rows, dtype=np.int64)

    def _check_audio(self, row, path):
        self._header(row, path)

    def _check_mel(self, row, path):
        self._open_mel(path)

    def _header(self, row, path):
        """(frames, sample rate) of the row's audio, read once."""
        if self._frames[row] < 0:
            info = audio_info(path)
            self._rates[row] = info.sample_rate
            self._frames[row] = info.frames
        return int(self._frames[row]), int(self._rates[row])

    # -- Python loaders (run inside tf.numpy_function)
    def _open_mel(self, path):
        try:
            mel = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise DataError(path, "file not found") from None
        except (OSError, ValueError) as e:
            raise DataError(path, f"not a readable .npy array: {e}") from None
        if mel.ndim != 2 or mel.shape[0] != self.spec.n_mels:
            raise DataError(path, f"mel has shape {mel.shape}, expected "
                                  f"({self.spec.n_mels}, frames) for {self.spec.name}")
        if not np.issubdtype(mel.dtype, np.floating):
            raise DataError(path, f"mel has dtype {mel.dtype}, expected floats")
        if mel.shape[1] == 0:
            raise DataError(path, "mel has zero frames")
        return mel

    def _read_mel(self, row, rnd, crop):
        path = self.path(row)
        mel = self._open_mel(path)
        if crop:
            # Only the crop is read from the memory map; NaNs elsewhere in the
            # file are not seen (a full check would read every file each epoch).
            start = int(rnd) % max(1, mel.shape[1] - self.frames + 1)
            mel = mel[:, start:start + self.frames]
        mel = np.asarray(mel, dtype=np.float32)
        if not np.isfinite(mel).all():
            raise DataError(path, f"{np.count_nonzero(~np.isfinite(mel))} mel "
                                  f"value(s) are NaN or infinite")
        return mel

    def _read_audio_window(self, row, path, rnd):
        """Decode only the samples one random crop needs.

        The crop is drawn, as for a full decode, uniformly over the frames of
        the whole track's centred STFT (count from the header); the window is
        those frames' samples plus n_fft // 2 of context each side (zeros
        past the ends, as centring pads), to be framed uncentred. A resampled
        file is decoded with RESAMPLE_CONTEXT extra samples each side so that
        the resampler's filter has settled inside the window, starting on a
        sample shared by both rates so that no fractional shift remains.
        Content checks see the window only: NaNs in it raise, a quiet window
        is no error (music has quiet passages); a wholly silent file is
        caught by full decodes (chunk_dataset, mel_dataset, a cache's first
        pass), not here. The header is read once per row (``_header``).
        """
        spec = self.spec
        hop, half = spec.hop_length, spec.n_fft // 2
        frames, rate = self._header(row, path)
        resampled = rate != spec.sample_rate
        n = int(round(frames * spec.sample_rate / rate))
        total = 1 + n // hop
        first = int(rnd) % max(1, total - self.frames + 1)
        count = min(self.frames, total - first)
        lo, hi = first * hop - half, (first + count - 1) * hop + half
        a, b = max(0, lo), min(n, hi)
        if resampled:
            # Start on a sample both rates share (a multiple of
            # target_rate / gcd), so the window is the full resampled track's
            # samples exactly, not shifted by a fraction of a source sample.
            period = spec.sample_rate // math.gcd(spec.sample_rate, rate)
            a = max(0, (lo - RESAMPLE_CONTEXT) // period * period)
            b = min(n, hi + RESAMPLE_CONTEXT)
        wave = load_audio(path, spec.sample_rate, offset=a / spec.sample_rate,
                          duration=(b - a) / spec.sample_rate, allow_silent=True)
        window = np.zeros(hi - lo, np.float32)
        part = wave[max(0, lo - a):max(0, lo - a) + (hi - max(lo, 0))]
        window[max(0, -lo):max(0, -lo) + len(part)] = part
        return window

    def load_row(self, row, rnd, crop):
        """-> (wave, mel, status): a waveform to transform, or a finished mel."""
        row = int(row)
        no_wave = np.zeros(self.spec.n_fft, np.float32)
        no_mel = np.zeros((self.spec.n_mels, 1), np.float32)
        try:
            if self.source == "mel":
                return no_wave, self._read_mel(row, rnd, crop), np.int32(_CACHED)
            path = self.path(row)
            if self.cache is not None:
                mel = self.cache.load(path)
                if mel is not None:
                    return no_wave, mel, np.int32(_CACHED)
            elif crop:
                return self._read_audio_window(row, path, rnd), no_mel, np.int32(_OK)
            return load_audio(path, self.spec.sample_rate), no_mel, np.int32(_OK)
        except DataError as e:
            self.fail(row, e)
            return no_wave, no_mel, np.int32(_BAD)

    def _store(self, row, mel):
        self.cache.store(self.paths[int(row)], mel)
        return mel

    # -- graph
    def load(self, ds, num_parallel_calls, crop):
        """(row, rnd) -> {"mel" (n_mels, T), "track_index", "rnd"}, bad rows dropped."""
        def read(row, rnd):
            wave, mel, status = tf.numpy_function(
                lambda r, x: self.load_row(r, x, crop), [row, rnd],
                [tf.float32, tf.float32, tf.int32], name="read_track")
            wave.set_shape([None])
            mel.set_shape([self.spec.n_mels, None])
            return {"row": row, "rnd": rnd, "wave": wave, "mel": mel, "status": status}

        def to_mel(e):
            if self.cache is None:  # crops arrive as uncentred windows
                mel = waveform_to_logmel(e["wave"], self.spec, center=not crop)
            else:
                def compute():
                    fresh = waveform_to_logmel(e["wave"], self.spec)
                    stored = tf.numpy_function(self._store, [e["row"], fresh],
                                               tf.float32, name="store_mel")
                    return tf.ensure_shape(stored, [self.spec.n_mels, None])
                mel = tf.cond(e["status"] == _CACHED, lambda: e["mel"], compute)
            return {"mel": mel, "track_index": e["row"], "rnd": e["rnd"]}

        ds = ds.map(read, num_parallel_calls=num_parallel_calls)
        if self.on_error == "skip":
            ds = ds.filter(lambda e: e["status"] != _BAD)
        if self.source == "mel":  # read as mels already: no second pass
            return ds.map(lambda e: {"mel": e["mel"], "track_index": e["row"],
                                     "rnd": e["rnd"]})
        return ds.map(to_mel, num_parallel_calls=num_parallel_calls)

    def _pad(self, mel):
        """(n_mels, T <= frames) -> (n_mels, frames) per pad_mode."""
        missing = self.frames - tf.shape(mel)[1]
        if self.pad_mode == "repeat":
            reps = -(-self.frames // tf.shape(mel)[1])
            mel = tf.tile(mel, [1, reps])[:, :self.frames]
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
    """Row indices, sharded first so that each worker only ever opens its own
    files. Returns (dataset, per-replica batch size, sharded by hand?)."""
    ds = tf.data.Dataset.from_tensor_slices(rows)
    sharded = False
    if input_context is not None:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        if batch_size is not None:
            batch_size = input_context.get_per_replica_batch_size(batch_size)
        sharded = True
    if shard is not None:
        try:
            num_shards, index = (int(v) for v in shard)
        except (TypeError, ValueError):
            raise ConfigError("shard", f"expected (num_shards, index), got {shard!r}") from None
        if not 0 <= index < num_shards:
            raise ConfigError("shard", f"index {index} is not in [0, {num_shards})")
        ds = ds.shard(num_shards, index)
        sharded = True
    return ds, batch_size, sharded


def _side_gatherer(side, n_rows):
    """Per-batch lookup of side features by track_index, from host arrays."""
    arrays = {}
    for name, array in (side or {}).items():
        if not hasattr(array, "shape") or not hasattr(array, "dtype"):
            array = np.asarray(array)
        if len(array) != n_rows:
            raise ConfigError(f"side[{name!r}]", f"has {len(array)} rows, the table "
                                                 f"{n_rows}", "align it with the table's rows")
        if np.issubdtype(array.dtype, np.floating):
            out = np.float32
        elif np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
            out = np.int32
        else:
            raise ConfigError(f"side[{name!r}]", f"dtype {array.dtype} is not numeric")
        arrays[name] = (array, out)

    def lookup(name, array, out):
        info = np.iinfo(np.int32) if out is np.int32 else None

        def take(rows):
            values = np.asarray(array[rows])
            if info is not None and values.size and (values.max() > info.max or
                                                     values.min() < info.min):
                raise DataError(f"side[{name!r}]", "values do not fit int32")
            return values.astype(out, copy=False)
        return take

    def attach(element):
        rows = element["track_index"]
        for name, (array, out) in arrays.items():
            values = tf.numpy_function(lookup(name, array, out), [rows],
                                       tf.as_dtype(out), name=f"side_{name}")
            values.set_shape(rows.shape.concatenate(array.shape[1:]))
            element[name] = values
        return element

    return attach if arrays else None


def _finish(ds, batch_size, drop_remainder, side, n_rows, sharded):
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    attach = _side_gatherer(side, n_rows)
    if attach is not None:
        ds = ds.map(attach, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Rows are indices, not files: auto-sharding by FILE has nothing to split.
    # By hand-sharded datasets must not be split again.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF if sharded
        else tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
