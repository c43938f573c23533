"""TensorBoard embedding projector files.

Keras 3's ``TensorBoard(embeddings_freq=...)`` writes no checkpoint the
projector can read (DESIGN.md), so the projector is written here directly:
a ``tf.train.Checkpoint`` holding one variable with the embeddings,
``projector_config.pbtxt`` pointing at it and at ``metadata.tsv`` (one row per
embedding: track id, year, decade, genre, artist). ``tensorboard --logdir
DIR`` then shows the points in its Projector tab, colourable by any column.
"""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

TENSOR_NAME = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
METADATA_COLUMNS = ("track_id", "year", "decade", "genre", "artist")


def write_projector(embeddings, metadata_rows, out_dir, *, columns=METADATA_COLUMNS):
    """Write a projector for ``embeddings`` (N, D) with one metadata row per
    embedding (a dict or a sequence in ``columns`` order) into ``out_dir``.

    The folder is built beside ``out_dir`` and swapped in when complete, so a
    reader never sees half a projector. Returns ``out_dir`` as a Path.
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) == 0:
        raise ValueError(f"embeddings must be a non-empty (N, D) array, got shape "
                         f"{embeddings.shape}")
    if not np.all(np.isfinite(embeddings)):
        raise ValueError("embeddings contain NaN or infinite values")
    rows = [_row(r, columns) for r in metadata_rows]
    if len(rows) != len(embeddings):
        raise ValueError(f"{len(rows)} metadata rows for {len(embeddings)} embeddings")

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        # A header line is how the projector tells several columns from one.
        lines = ["\t".join(columns)] + ["\t".join(r) for r in rows]
        (tmp / "metadata.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        checkpoint = tf.train.Checkpoint(embedding=tf.Variable(embeddings))
        checkpoint.save(str(tmp / "embedding.ckpt"))
        config = projector.ProjectorConfig()
        emb = config.embeddings.add()
        emb.tensor_name = TENSOR_NAME
        emb.metadata_path = "metadata.tsv"
        projector.visualize_embeddings(str(tmp), config)
        _swap_in(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out_dir


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
        raise ValueError(f"metadata row {row!r} has {len(row)} values for "
                         f"{len(columns)} columns {columns}")
    return [_cell(v) for v in row]


def _swap_in(new, target):
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old)
    else:
        os.replace(new, target)


def track_metadata(track, genre_names=None):
    """A projector metadata row for a :class:`~era_zoo.data.table.Track`:
    its first genre (by name where the dataset has a code table) and the
    decade of its year."""
    genre_names = genre_names or {}
    genre = track.genres[0] if track.genres else None
    return {
        "track_id": track.track_id,
        "year": track.year,
        "decade": f"{track.year // 10 * 10}s" if track.year else None,
        "genre": genre_names.get(genre, genre),
        "artist": track.artist or track.artist_id,
    }


def embed_tracks(model, table, *, source=None, level="projection", batch_size=64,
                 on_error="raise", report=None):
    """Track embeddings of ``table`` from ``model.audio_encoder``: the mean
    over each track's non-overlapping chunks (paper B's track embedding).
    ``level``: "projection" (the 128-d output) or "trunk" (1024-d). Returns
    (table rows, (n, d) embeddings); tracks whose file could not be read
    with ``on_error="skip"`` are missing from both."""
    from ..data.pipeline import chunk_dataset, group_by_track
    from ..models.embedding import embed_chunks
    if level not in ("projection", "trunk"):
        raise ValueError(f"level must be 'projection' or 'trunk', not {level!r}")
    encoder = model.audio_encoder
    spec = model.mel_spec
    if source is None:
        source = "mel" if all(t.mel_path for t in table) else "audio"
    ds = chunk_dataset(table, spec, source=source, frames=encoder.n_frames,
                       batch_size=batch_size, on_error=on_error, report=report)
    from tqdm.auto import tqdm
    rows, parts = [], []
    for batch in tqdm(ds, desc="embedding tracks", unit="batch", leave=False):
        parts.append(embed_chunks(encoder, batch["mel"], level, batch_size))
        rows.append(batch["track_index"].numpy())
    tracks, groups = group_by_track(np.concatenate(rows), np.concatenate(parts))
    return tracks, np.stack([g.mean(axis=0) for g in groups])


def project_table(model, table, out_dir, *, max_tracks=2000, level="projection",
                  source=None, seed=0, on_error="raise", report=None):
    """Embed up to ``max_tracks`` tracks of ``table`` (a seeded sample when
    there are more) and write their projector to ``out_dir``."""
    if not len(table):
        raise ValueError(f"table {table.name!r} has no tracks to project")
    if max_tracks and len(table) > max_tracks:
        keep = set(np.random.default_rng(seed).choice(len(table), max_tracks, replace=False))
        ids = {t.track_id for i, t in enumerate(table.tracks) if i in keep}
        table = table.filter(lambda t: t.track_id in ids)
    rows, embeddings = embed_tracks(model, table, source=source, level=level,
                                    on_error=on_error, report=report)
    genre_names = table.extras.get("genre_names")
    metadata = [track_metadata(table.tracks[r], genre_names) for r in rows]
    return write_projector(embeddings, metadata, out_dir)
