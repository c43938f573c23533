"""Test helpers: the registry's small configuration of each model, random
batches with every key a model reads, TensorBoard's scalars read back, and
the memory tests' mel files and resident-memory reading."""
import os
from pathlib import Path

import numpy as np

from era_zoo.registry import create_model, list_models, model_info


def zoo_models():
    """Registered models era_zoo trains (ZooModel subclasses: dict batches,
    the shared objective), the two papers' nine among them."""
    from era_zoo.models import ZooModel
    return [n for n in list_models() if issubclass(model_info(n).cls, ZooModel)]


def tiny_config(name):
    """The registry's test configuration of model ``name`` (a fresh copy):
    48 x 64 mel chunks, dropout 0, era models over 2000..2003 in 1-year
    classes, genre ids 1..6, 12-d precomputed artist text."""
    return model_info(name).test_config


def tiny_model(name, **overrides):
    """``create_model(name)`` at its test configuration, ``overrides`` on top."""
    return create_model(name, **{**tiny_config(name), **overrides})


def tiny_batch(model, batch_size=8, seed=0, n_genres=6, n_artists=3):
    """A random dict batch with every key ``model`` reads, labels drawn so
    that each class and artist repeats within the batch."""
    rng = np.random.default_rng(seed)
    enc = model.audio_encoder
    batch = {"mel": rng.normal(size=(batch_size, enc.n_mels, enc.n_frames)).astype(np.float32)}
    keys = model.input_keys + model.target_keys
    if "year_class" in keys:
        batch["year_class"] = rng.integers(0, min(3, model.year_bins.n_classes),
                                           batch_size).astype(np.int32)
    if "artist_index" in keys:
        batch["artist_index"] = rng.integers(0, n_artists, batch_size).astype(np.int32)
    if "artist_text" in keys:
        table = rng.normal(size=(n_artists, *model.text_encoder.text_input_shape))
        batch["artist_text"] = table[batch["artist_index"]].astype(np.float32)
    if "genre_ids" in keys:
        ids = rng.integers(1, n_genres + 1, (batch_size, model.genre_encoder.max_genres))
        ids[:, 3:] = 0
        batch["genre_ids"] = ids.astype(np.int32)
    if "genre_multi_hot" in keys:
        batch["genre_multi_hot"] = (rng.random((batch_size, model.n_genres)) < 0.3).astype(np.float32)
    if "cf" in keys:
        cf_dim = model.cf_dim if hasattr(model, "cf_dim") else model.cf_encoder.input_dim
        batch["cf"] = rng.normal(size=(batch_size, cf_dim)).astype(np.float32)
    return batch


def event_scalars(event_dir):
    """{(tag, step): value} of every scalar in a TensorBoard run folder."""
    import tensorflow as tf
    values = {}
    for path in sorted(Path(event_dir).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                values[(v.tag, event.step)] = float(tf.make_ndarray(v.tensor))
    return values


def rss_bytes():
    """This process's resident memory (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def mel_files(folder, n_mels, count=64, frames=8000):
    """``count`` distinct (n_mels, frames) float32 ``.npy`` mels in ``folder``
    (1.5 MB each at 48 x 8000), as Tracks: (tracks, bytes per file)."""
    from era_zoo.data.table import Track
    block = np.random.default_rng(0).standard_normal((n_mels, frames)).astype(np.float32)
    tracks = []
    for i in range(count):
        path = Path(folder) / f"{i}.npy"
        np.save(path, block + i)
        tracks.append(Track(str(i), mel_path=str(path)))
    return tracks, block.nbytes
