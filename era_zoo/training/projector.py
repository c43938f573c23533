"""TensorBoard embedding projector files.

Keras 3's ``TensorBoard(embeddings_freq=...)`` writes no checkpoint the
projector can read (it saves no embedding variables), so the projector is
written here directly, into one folder:

    tensorboard/projector/
      embeddings.ckpt.*        one tensor per level, named MODEL/LEVEL
                               (e.g. ``audio_cnn/trunk``, ``audio_cnn/projection``)
      checkpoint               points TensorBoard at embeddings.ckpt
      projector_config.pbtxt   one embedding per tensor, all sharing metadata.tsv
      metadata.tsv             one row per track: track id, year, decade,
                               genre, artist (the colouring columns)
      events.out.tfevents.*    a text note on what the points are

TensorBoard's projector plugin reads ``projector_config.pbtxt`` only in the
``--logdir`` itself and in run folders, a run being a folder that holds an
event file. The event file makes the projector folder a run, so
``tensorboard --logdir RUN_DIR``, ``--logdir`` of a folder of runs and
``--logdir`` of the projector folder all show it.
"""
from pathlib import Path

import numpy as np

from ..atomic import atomic_dir
from ..errors import ConfigError, DataError

LEVELS = ("trunk", "projection")
METADATA_COLUMNS = ("track_id", "year", "decade", "genre", "artist")
CHECKPOINT = "embeddings.ckpt"


def tensor_name(model_name, level):
    """The projector's name for ``model_name``'s embeddings at ``level``.

    Args:
        model_name: the model's registry name (or any label of the model).
        level: ``"trunk"`` or ``"projection"``.

    Example:
        >>> tensor_name("audio_cnn", "trunk")
        'audio_cnn/trunk'
    """
    return f"{model_name}/{level}"


def write_projector(tensors, metadata_rows, out_dir, *, columns=METADATA_COLUMNS,
                    note=None):
    """Write a TensorBoard projector folder holding several embedding tensors
    of the same points.

    The folder is built beside ``out_dir`` and swapped in when complete
    (:func:`era_zoo.atomic.atomic_dir`), so a reader never sees half a
    projector; a projector already at ``out_dir`` is replaced whole.

    Args:
        tensors: mapping of tensor name -> (N, D) float array, the same N for
            every tensor (D may differ); the names are what the Projector tab
            lists.
        metadata_rows: N rows, each a dict keyed by ``columns`` or a sequence
            in ``columns`` order; ``None`` is written as an empty cell.
        out_dir: the projector folder to write.
        columns: the metadata column names.
        note: Markdown for the folder's event file (TensorBoard's Text tab);
            by default a line naming the tensors and their shapes.

    Returns:
        ``out_dir`` as a Path.

    Example:
        >>> import numpy as np, tempfile
        >>> out = write_projector({"m/projection": np.eye(2, dtype="float32")},
        ...                       [{"track_id": "a"}, {"track_id": "b"}],
        ...                       Path(tempfile.mkdtemp()) / "projector")
        >>> (out / "projector_config.pbtxt").is_file()
        True
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    out_dir = Path(out_dir)
    if not tensors:
        raise ConfigError("tensors", "no embeddings to project")
    arrays = {name: _checked(name, value, out_dir) for name, value in tensors.items()}
    counts = {len(a) for a in arrays.values()}
    if len(counts) != 1:
        raise DataError(out_dir, "tensors have different numbers of rows: " + ", ".join(
            f"{name} {len(a)}" for name, a in arrays.items()))
    [n] = counts
    rows = [_row(r, columns) for r in metadata_rows]
    if len(rows) != n:
        raise DataError(out_dir, f"{len(rows)} metadata rows for {n} embeddings")

    with atomic_dir(out_dir) as tmp:
        # A header line is how the projector tells several columns from one.
        lines = ["\t".join(columns)] + ["\t".join(r) for r in rows]
        (tmp / "metadata.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        # SaveV2 keeps the names as given (tf.train.Checkpoint would add
        # "/.ATTRIBUTES/VARIABLE_VALUE" to each).
        names = list(arrays)
        tf.raw_ops.SaveV2(prefix=str(tmp / CHECKPOINT), tensor_names=names,
                          shape_and_slices=[""] * len(names),
                          tensors=[arrays[k] for k in names])
        # TensorBoard finds the checkpoint through this file (a CheckpointState
        # text proto); a relative path keeps the folder movable.
        (tmp / "checkpoint").write_text(
            f'model_checkpoint_path: "{CHECKPOINT}"\n'
            f'all_model_checkpoint_paths: "{CHECKPOINT}"\n', encoding="utf-8")
        config = projector.ProjectorConfig()
        for name in names:
            emb = config.embeddings.add()
            emb.tensor_name = name
            emb.tensor_shape.extend(arrays[name].shape)
            emb.metadata_path = "metadata.tsv"
        projector.visualize_embeddings(str(tmp), config)
        if note is None:
            note = "Embeddings: " + ", ".join(
                f"`{k}` {a.shape[0]} x {a.shape[1]}" for k, a in arrays.items())
        writer = tf.summary.create_file_writer(str(tmp))
        with writer.as_default():
            tf.summary.text("projector", note, step=0)
        writer.close()
    return out_dir


def _checked(name, value, out_dir):
    array = np.asarray(value, dtype=np.float32)
    if array.ndim != 2 or len(array) == 0:
        raise DataError(out_dir, f"{name}: embeddings must be a non-empty (N, D) array, "
                                 f"got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise DataError(out_dir, f"{name}: embeddings contain NaN or infinite values",
                        "the model's weights are not finite; project a checkpoint "
                        "from before training diverged")
    return array


def _cell(value):
    if value is None:
        return ""
    # Tabs and newlines would shift the TSV's columns.
    return " ".join(str(value).split())


def _row(row, columns):
    if isinstance(row, dict):
        return [_cell(row.get(c)) for c in columns]
    row = list(row)
    if len(row) != len(columns):
        raise ConfigError("metadata_rows", f"row {row!r} has {len(row)} values for "
                                           f"{len(columns)} columns {columns}")
    return [_cell(v) for v in row]


def track_metadata(track, genre_names=None):
    """A projector metadata row for a :class:`~era_zoo.data.table.Track`:
    its first genre (by name where the dataset has a code table) and the
    decade of its year.

    Args:
        track: a :class:`~era_zoo.data.table.Track`.
        genre_names: optional mapping of genre code -> name (a reader's
            ``table.extras["genre_names"]``).

    Returns:
        A dict keyed by :data:`METADATA_COLUMNS`.

    Example:
        >>> from era_zoo.data.table import Track
        >>> track_metadata(Track("t1", year=1987, genres=("GN01",), artist="A"),
        ...                {"GN01": "rock"})["decade"]
        '1980s'
    """
    genre_names = genre_names or {}
    genre = track.genres[0] if track.genres else None
    return {
        "track_id": track.track_id,
        "year": track.year,
        "decade": f"{track.year // 10 * 10}s" if track.year else None,
        "genre": genre_names.get(genre, genre),
        "artist": track.artist or track.artist_id,
    }


def embed_tracks(model, table, *, level="projection", on_error="raise", report=None,
                 progress=False):
    """Track embeddings of ``table``: the mean over each track's
    non-overlapping chunks (paper B's track embedding), by
    :func:`era_zoo.inference.embed_tracks` (the same rows as the benchmarks
    and ``era-zoo embed``).

    Args:
        model: a zoo model.
        table: a :class:`~era_zoo.data.table.TrackTable`.
        level: ``"projection"``, ``"trunk"`` or a tuple of both (one pass).
        on_error: ``"raise"`` or ``"skip"`` (unreadable tracks left out and
            counted in ``report``).
        report: a :class:`~era_zoo.data.problems.ProblemReport`.
        progress: show a progress bar.

    Returns:
        ``(positions in table.tracks, (n, d) embeddings)``, or ``(positions,
        {level: (n, d)})`` for a tuple of levels.

    Example:
        >>> rows, emb = embed_tracks(model, table.split("valid"), level="trunk")  # doctest: +SKIP
    """
    from ..inference import embed_tracks as embed_chunk_rows
    out = embed_chunk_rows(model, table, level=level, on_error=on_error, problems=report,
                           progress=progress)
    if isinstance(level, str):
        return out.positions, out.means
    return out[level[0]].positions, {name: emb.means for name, emb in out.items()}


def project_table(model, table, out_dir, *, model_name=None, max_tracks=2000,
                  seed=0, on_error="raise", report=None):
    """Embed up to ``max_tracks`` tracks of ``table`` at both levels (trunk
    and projection) and write their projector to ``out_dir``.

    Args:
        model: a zoo model with an ``audio_encoder`` and ``mel_spec``.
        table: the :class:`~era_zoo.data.table.TrackTable` to embed (one split).
        out_dir: the projector folder; a trainer run writes
            ``RUN_DIR/tensorboard/projector`` (:class:`~era_zoo.training.run_dir.RunDir`).
        model_name: names the tensors (``MODEL/trunk``, ``MODEL/projection``);
            default: the model's registry name, else its Keras name.
        max_tracks: embed at most this many tracks, a sample drawn with
            ``seed`` (0: all).
        seed: seed of the sample.
        on_error: ``"raise"`` or ``"skip"`` (unreadable tracks left out and
            counted in ``report``).
        report: a :class:`~era_zoo.data.problems.ProblemReport` for skips.

    Returns:
        ``out_dir`` as a Path.

    Example:
        >>> project_table(model, read_dataset("melon", root).split("valid"),
        ...               "runs/a2p/tensorboard/projector")  # doctest: +SKIP
    """
    if not len(table):
        raise DataError(table.name, "the split to project has no tracks",
                        "choose a split that holds tracks (--split)")
    if max_tracks and len(table) > max_tracks:
        keep = set(np.random.default_rng(seed).choice(len(table), max_tracks, replace=False))
        ids = {t.track_id for i, t in enumerate(table.tracks) if i in keep}
        table = table.filter(lambda t: t.track_id in ids)
    model_name = model_name or getattr(model, "zoo_name", None) or model.name
    rows, by_level = embed_tracks(model, table, level=LEVELS, on_error=on_error, report=report)
    tensors = {tensor_name(model_name, level): by_level[level] for level in LEVELS}
    genre_names = table.extras.get("genre_names")
    metadata = [track_metadata(table.tracks[r], genre_names) for r in rows]
    note = (f"{len(rows)} tracks of {table.name} embedded by {model_name}: "
            + ", ".join(f"`{k}` ({v.shape[1]}-d)" for k, v in tensors.items())
            + ". Colour the points by year, decade, genre or artist in the Projector tab.")
    return write_projector(tensors, metadata, out_dir, note=note)
