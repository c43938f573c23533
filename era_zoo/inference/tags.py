"""Tags of audio files with the musicnn taggers, and the zero-shot decade
opinion of the MSD ones: what ``era-zoo tag`` and ``era-zoo predict --model
musicnn_msd`` print.

Files are read ahead in threads (:func:`~era_zoo.inference.tracks.iter_track_chunks`,
the chunk rule of every zoo model) and their patches go through the model in
full batches across file boundaries, so many short clips cost what one long
recording of the same length costs.
"""
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .inputs import file_track
from .tracks import iter_track_chunks, minimum_frames


def check_tagger(model):
    """Raise ConfigError unless ``model`` is a tagger (has tag labels and a
    taggram).

    Example:
        >>> check_tagger(era_zoo.load("audio_cnn"))  # doctest: +SKIP
        Traceback (most recent call last):
        ConfigError: model: AudioCNN is not a tagger (use musicnn_msd, ...)
    """
    if not (hasattr(model, "labels") and hasattr(model, "run_patches")):
        raise ConfigError("model", f"{type(model).__name__} is not a tagger",
                          "use musicnn_msd, musicnn_mtt, musicnn_vgg_msd or musicnn_vgg_mtt")


def patch_seconds(model, overlap=0):
    """Start time in seconds of each patch, per patch index: the taggram's
    time axis.

    Example:
        >>> patch_seconds(era_zoo.load("musicnn_msd"))  # doctest: +SKIP
        2.992
    """
    spec = model.mel_spec
    return (model.n_frames - int(overlap)) * spec.hop_length / spec.sample_rate


def iter_taggrams(model, files, *, overlap=None, batch_size=64):
    """``(file, taggram (n_patches, n_tags) or DataError)`` per file, in
    order, the files' patches batched together.

    Args:
        model: a tagger.
        files: audio files or ``.npy`` mels of the model's preset.
        overlap: frames shared by neighbouring patches (default the model's, 0).
        batch_size: patches per forward pass.

    Example:
        >>> for f, taggram in iter_taggrams(model, ["a.ogg", "b.wav"]):  # doctest: +SKIP
        ...     print(f, taggram.shape)
    """
    check_tagger(model)
    overlap = model.overlap if overlap is None else int(overlap)
    queue, buffered = [], []          # queue: [file, patches needed, outputs so far]

    def run(n):
        patches = np.concatenate(buffered)
        out = model.run_patches(patches[:n], ["taggram"], batch_size)["taggram"]
        buffered[:] = [patches[n:]] if n < len(patches) else []
        for entry in queue:
            if isinstance(entry[1], DataError):
                continue
            need = entry[1] - sum(len(p) for p in entry[2])
            take, out = out[:need], out[need:]
            if len(take):
                entry[2].append(take)

    def done():
        while queue and (isinstance(queue[0][1], DataError)
                         or sum(len(p) for p in queue[0][2]) == queue[0][1]):
            f, need, parts = queue.pop(0)
            yield f, need if isinstance(need, DataError) else np.concatenate(parts)

    tracks = [file_track(f) for f in files]
    for _, track, chunks in iter_track_chunks(model, tracks, overlap=overlap,
                                              min_frames=minimum_frames(model)):
        if isinstance(chunks, DataError):
            queue.append([track.track_id, chunks, []])
        else:
            queue.append([track.track_id, len(chunks), []])
            buffered.append(chunks)
        count = sum(len(b) for b in buffered)
        if count >= batch_size:
            run(count - count % batch_size)
        yield from done()
    if buffered:
        run(sum(len(b) for b in buffered))
    yield from done()


def tag_files(model, files, *, top=5, overlap=None, batch_size=64, on_file=None):
    """Tags of files: per file ``{"file", "patches", "seconds_per_patch",
    "top": [{"tag", "probability"}], "taggram"}`` (the taggram a float32
    array (n_patches, n_tags); the probabilities its means over patches, as
    musicnn's ``top_tags``), or ``{"file", "error"}``.

    Args:
        model: a tagger (``era_zoo.load("musicnn_msd")``).
        files: audio files (or ``.npy`` mels of the model's preset).
        top: tags listed per file.
        overlap: frames shared by neighbouring patches.
        batch_size: patches per forward pass.
        on_file: called with each row as its file finishes.

    Example:
        >>> rows = tag_files(era_zoo.load("musicnn_msd"), ["song.ogg"], top=3)  # doctest: +SKIP
        >>> [t["tag"] for t in rows[0]["top"]]  # doctest: +SKIP
        ['rock', 'guitar', 'classic rock']
    """
    overlap = model.overlap if overlap is None else int(overlap)
    rows = []
    for f, taggram in iter_taggrams(model, files, overlap=overlap, batch_size=batch_size):
        if isinstance(taggram, DataError):
            row = {"file": f, "error": str(taggram)}
        else:
            row = {"file": f, "patches": int(len(taggram)),
                   "seconds_per_patch": patch_seconds(model, overlap),
                   "top": [{"tag": t, "probability": p}
                           for t, p in model.top_tags(taggram, top)],
                   "taggram": taggram}
        rows.append(row)
        if on_file:
            on_file(row)
    return rows


def predict_decades(model, files, *, batch_size=64, on_file=None):
    """The zero-shot decade opinion of an MSD tagger for each file:
    ``{"file", "patches", "decades": {tag: share}}`` (see
    :meth:`~era_zoo.models.musicnn.MusicnnTagger.decade_opinion`) or
    ``{"file", "error"}``.

    Example:
        >>> predict_decades(era_zoo.load("musicnn_msd"), ["song.ogg"])  # doctest: +SKIP
        [{'file': 'song.ogg', 'patches': 10, 'decades': {'oldies': 0.08, '60s': 0.12, ...}}]
    """
    check_tagger(model)
    model.decade_opinion(np.full((1, len(model.labels)), 0.5))  # ConfigError for MTT
    rows = []
    for f, taggram in iter_taggrams(model, files, batch_size=batch_size):
        if isinstance(taggram, DataError):
            row = {"file": f, "error": str(taggram)}
        else:
            row = {"file": f, "patches": int(len(taggram)),
                   "decades": model.decade_opinion(taggram)}
        rows.append(row)
        if on_file:
            on_file(row)
    return rows


def plot_taggram(model, taggram, path, title=None, overlap=0):
    """The taggram as a picture, tags x time, as musicnn's examples draw it
    (brighter: more likely), written atomically to ``path`` (PNG, SVG or PDF
    by its suffix).

    Args:
        model: the tagger (its labels and patch length).
        taggram: (n_patches, n_tags).
        path: the image file.
        title: the plot's title (default: the file name).
        overlap: frames shared by neighbouring patches of this taggram.

    Example:
        >>> plot_taggram(model, rows[0]["taggram"], "plots/song.png")  # doctest: +SKIP
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..atomic import atomic_path

    taggram = np.asarray(taggram)
    step = patch_seconds(model, overlap)
    width = min(24.0, max(6.0, 0.25 * len(taggram) + 3))
    fig, ax = plt.subplots(figsize=(width, 0.18 * len(model.labels) + 1.5))
    try:
        ax.imshow(taggram.T, aspect="auto", interpolation="nearest", cmap="viridis",
                  vmin=0.0, vmax=1.0, origin="upper",
                  extent=(0, step * len(taggram), len(model.labels) - 0.5, -0.5))
        ax.set_yticks(range(len(model.labels)))
        ax.set_yticklabels(model.labels, fontsize=7)
        ax.set_xlabel("time (s)")
        ax.set_title(title or Path(path).stem, fontsize=9)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=100)
    finally:
        plt.close(fig)
    return Path(path)
