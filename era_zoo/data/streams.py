"""The NumPy half of the training streams, shared by the tf.data pipelines
(:mod:`era_zoo.data.pipeline`) and the TensorFlow-free loader
(:mod:`era_zoo.data.pydataset`), so that both give the same batches (rows,
crops, side features) for the same seed:

- :class:`CropOrder`: which table row and which random draw each element of
  a training stream takes, from a seed (NumPy's generator, not TensorFlow's);
- :func:`crop_start` and :func:`crop_mel`: where a draw crops a track, and
  the padded crop of a stored mel;
- :class:`TrackReader`: a table's files, header checks and reads under the
  ``on_error`` policy;
- :func:`shard_rows` and :class:`SideFeatures`: rows per worker, side
  features gathered by row.

Imports no TensorFlow, and the audio decoders only where audio is read
(stored mels need NumPy alone).
"""
import itertools
import math
import threading

import numpy as np
from tqdm.auto import tqdm

from ..audio.presets import get_preset
from ..errors import ConfigError, DataError
from ..inference.inputs import checked_mel, open_mel, repeat_frames

SOURCES = ("audio", "mel")
PAD_MODES = ("repeat", "silence")
ON_ERROR = ("raise", "skip")

_OK, _CACHED, _BAD = 0, 1, 2

# Target-rate samples decoded beyond a training window when resampling; soxr's
# "HQ" filter is a few dozen samples long, 256 leaves it ample room.
RESAMPLE_CONTEXT = 256

# Draws are uniform on [0, DRAW_RANGE); a crop start is a draw modulo the
# number of starts, whose bias (at most starts / 2**62) is far below anything
# measurable.
DRAW_RANGE = 2 ** 62


def crop_start(draw, length, frames):
    """First frame of the crop that ``draw`` selects among the
    ``max(1, length - frames + 1)`` starts of a ``frames``-long crop of a
    ``length``-frame track (0 for a track no longer than the crop).

    Example:
        >>> crop_start(10, 100, 40), crop_start(10, 30, 40)
        (10, 0)
    """
    return int(draw) % max(1, int(length) - int(frames) + 1)


def pad_crop(mel, frames, pad_mode, silence):
    """A crop shorter than ``frames`` padded to ``frames``: "repeat" tiles the
    track along time (:func:`era_zoo.inference.inputs.repeat_frames`),
    "silence" appends frames of ``silence`` (the spec's floor).

    Example:
        >>> pad_crop(np.array([[1., 2.]]), 5, "silence", -9.0)
        array([[ 1.,  2., -9., -9., -9.]])
    """
    missing = int(frames) - mel.shape[1]
    if missing <= 0:
        return mel
    if pad_mode == "repeat":
        return repeat_frames(mel, frames)
    return np.concatenate([mel, np.full((mel.shape[0], missing), silence, mel.dtype)], axis=1)


def crop_mel(mel, draw, frames, pad_mode, silence, path):
    """The training crop of a stored mel: ``frames`` frames from
    :func:`crop_start`, checked finite (DataError naming ``path``), float32,
    padded by :func:`pad_crop`. Only the crop is read from a memory map, so
    NaNs elsewhere in the file are not seen (a full check would read every
    file each epoch).

    Example:
        >>> crop_mel(np.arange(10.0)[None], 3, 4, "repeat", 0.0, "x.npy")
        array([[3., 4., 5., 6.]], dtype=float32)
    """
    start = crop_start(draw, mel.shape[1], frames)
    crop = checked_mel(mel[:, start:start + int(frames)], path)
    return pad_crop(crop, frames, pad_mode, silence)


class CropOrder:
    """The elements of a training stream: pass after pass over ``rows``
    (one pass, or endless with ``repeat``), each pass in its own seeded
    order (``shuffle``) and each element with its own random draw for the
    crop (:func:`crop_start`).

    Every iteration of the stream (each ``iter()`` of a tf.data dataset,
    each epoch of a PyDataset) is numbered by :meth:`begin` and draws anew:
    pass ``p`` of iteration ``k`` takes NumPy's generator seeded with
    ``(seed, k, p)``. With ``reshuffle=False`` every iteration is iteration
    0 (fixed crops, e.g. for validation).

    Args:
        rows: int row indices of the table (already sharded).
        seed: non-negative int.
        shuffle: permute each pass (else table order).
        repeat: endless passes.
        reshuffle: new order and draws for every iteration.

    Example:
        >>> order = CropOrder(np.arange(4), seed=3)
        >>> rows, draws = order.elements(order.begin(), 0, 4)
        >>> sorted(rows.tolist())
        [0, 1, 2, 3]
    """

    def __init__(self, rows, seed, shuffle=True, repeat=False, reshuffle=True):
        self.rows = np.asarray(rows, dtype=np.int64)
        if int(seed) < 0:
            raise ConfigError("seed", f"must be >= 0, got {seed}")
        self.seed = int(seed)
        self.shuffle, self.repeat, self.reshuffle = bool(shuffle), bool(repeat), bool(reshuffle)
        self._iterations = itertools.count()
        self._lock = threading.Lock()
        self._last = None  # (key, arrays) of the pass last used

    def begin(self):
        """The number of a new iteration of the stream."""
        with self._lock:
            k = next(self._iterations)
        return k if self.reshuffle else 0

    def pass_arrays(self, iteration, index):
        """(rows, draws) of pass ``index`` of ``iteration``, int64 arrays."""
        key = (iteration, index)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, iteration, index]))
        rows = rng.permutation(self.rows) if self.shuffle else self.rows
        arrays = rows, rng.integers(0, DRAW_RANGE, len(rows), dtype=np.int64)
        self._last = (key, arrays)
        return arrays

    def passes(self, iteration):
        """The passes of ``iteration``, as (rows, draws) arrays."""
        for index in itertools.count() if self.repeat else range(1):
            yield self.pass_arrays(iteration, index)

    def elements(self, iteration, start, stop):
        """(rows, draws) of elements ``start`` .. ``stop - 1`` of
        ``iteration`` (fewer where a stream without repeat ends)."""
        n = len(self.rows)
        if not self.repeat:
            stop = min(stop, n)
        rows, draws = [], []
        while start < stop:
            index, offset = divmod(start, n)
            take = min(stop - start, n - offset)
            pass_rows, pass_draws = self.pass_arrays(iteration, index)
            rows.append(pass_rows[offset:offset + take])
            draws.append(pass_draws[offset:offset + take])
            start += take
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(rows), np.concatenate(draws)


def shard_rows(rows, shard=None, input_context=None, batch_size=None):
    """Rows of this input pipeline, sharded before anything else so that each
    worker only ever opens its own files.

    Args:
        rows: int array of table rows.
        shard: ``(num_shards, index)``: keep every num_shards-th row from index.
        input_context: a tf.distribute.InputContext (or any object with
            ``num_input_pipelines``, ``input_pipeline_id`` and
            ``get_per_replica_batch_size``); ``batch_size`` is then global.
        batch_size: the batch size asked for.

    Returns:
        (rows, per-replica batch size, whether rows were sharded).

    Example:
        >>> shard_rows(np.arange(5), shard=(2, 1))[0]
        array([1, 3])
    """
    rows = np.asarray(rows, dtype=np.int64)
    sharded = False
    if input_context is not None:
        rows = rows[input_context.input_pipeline_id::input_context.num_input_pipelines]
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
        rows = rows[index::num_shards]
        sharded = True
    return rows, batch_size, sharded


class SideFeatures:
    """Side features gathered by row from host arrays (np.ndarray or
    np.memmap, never copied whole): floats become float32, integers int32.

    Args:
        side: dict name -> array aligned with the table's rows (or None).
        n_rows: rows of the table.

    Example:
        >>> SideFeatures({"cf": np.ones((3, 2))}, 3).take("cf", np.array([2, 0])).dtype
        dtype('float32')
    """

    def __init__(self, side, n_rows):
        self.arrays = {}
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
            self.arrays[name] = (array, out)

    def take(self, name, rows):
        """Feature ``name`` of ``rows`` in its output dtype."""
        array, out = self.arrays[name]
        values = np.asarray(array[np.asarray(rows)])
        if out is np.int32 and values.size:
            info = np.iinfo(np.int32)
            if values.max() > info.max or values.min() < info.min:
                raise DataError(f"side[{name!r}]", "values do not fit int32")
        return values.astype(out, copy=False)

    def batch(self, rows):
        """{name: feature of ``rows``} for every feature."""
        return {name: self.take(name, rows) for name in self.arrays}


class TrackReader:
    """What to read for each row of a table, with the ``on_error`` policy:
    header checks, stored-mel crops, audio windows (the NumPy half of the
    tf.data pipeline's plan, and all of :class:`~era_zoo.data.pydataset.MelBatches`).

    Args:
        table: the TrackTable; rows are its positions.
        spec: MelSpec or preset name of the mels.
        source: "audio" (``Track.audio_path``) or "mel" (``Track.mel_path``).
        frames: crop length.
        pad_mode: "repeat" or "silence" (see :func:`crop_mel`).
        cache_dir: audio only: a MelCache folder for whole log-mels.
        on_error: "raise" or "skip" (each bad file counted once in ``report``).
        report: a ProblemReport (default the table's own ``problems``).

    Example:
        >>> reader = TrackReader(table, "melon48", "mel", 256, "repeat", None, "raise", None)  # doctest: +SKIP
        >>> reader.mel_crop(0, draw=12345).shape  # doctest: +SKIP
        (48, 256)
    """

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
        self.cache = None
        if cache_dir is not None:
            from .mel_cache import MelCache
            self.cache = MelCache(cache_dir, self.spec)
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
        open_mel(path, self.spec)

    def _header(self, row, path):
        """(frames, sample rate) of the row's audio, read once."""
        if self._frames[row] < 0:
            from ..audio.decode import audio_info
            info = audio_info(path)
            self._rates[row] = info.sample_rate
            self._frames[row] = info.frames
        return int(self._frames[row]), int(self._rates[row])

    # -- loaders (the tf.data pipeline runs them inside tf.numpy_function)
    def _read_mel(self, row, rnd, crop):
        path = self.path(row)
        mel = open_mel(path, self.spec)
        if crop:
            return crop_mel(mel, rnd, self.frames, self.pad_mode, self.silence, path)
        return checked_mel(mel, path)

    def mel_crop(self, row, draw):
        """The padded ``frames``-long crop of ``row``'s stored mel that
        ``draw`` selects, or None for a bad file under on_error="skip"."""
        try:
            return self._read_mel(int(row), draw, crop=True)
        except DataError as e:
            self.fail(int(row), e)
            return None

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
        from ..audio.decode import load_audio
        spec = self.spec
        hop, half = spec.hop_length, spec.n_fft // 2
        frames, rate = self._header(row, path)
        resampled = rate != spec.sample_rate
        n = int(round(frames * spec.sample_rate / rate))
        total = 1 + n // hop
        first = crop_start(rnd, total, self.frames)
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
            from ..audio.decode import load_audio
            return load_audio(path, self.spec.sample_rate), no_mel, np.int32(_OK)
        except DataError as e:
            self.fail(row, e)
            return no_wave, no_mel, np.int32(_BAD)

    def _store(self, row, mel):
        self.cache.store(self.paths[int(row)], mel)
        return mel
