"""The original musicnn code (the PyPI wheel ``musicnn==0.1.0``), fixed to run
on today's stack, as a command run in its own process: the reference that
era_zoo's port is tested and timed against.

It must run apart from era_zoo: the wheel's extractor switches TensorFlow to
graph mode on import, and its TF1 layers need Keras 2 (``tf-keras``, with
``TF_USE_LEGACY_KERAS=1`` set before TensorFlow loads, which this script
does). Install the wheel with ``pip install --no-deps musicnn==0.1.0`` (its
metadata pins numpy < 1.17) and ``pip install tf-keras~=2.21``.

Two fixes, nothing else changed:

- ``batch_data``: the wheel casts the mel to float16 and computes
  ``np.log10(10000 * mel + 1)``; numpy 1 computed that product in float32,
  numpy 2 keeps float16, overflows above 6.55 and the taggram comes out NaN.
  The product is computed in float32 here, as under numpy 1.
- per-patch outputs (``run``): with its default batch size of 1 the wheel's
  extractor returns the first patch's ``penultimate`` and ``cnn1``..``cnn3``
  for every patch; ``run`` evaluates the wheel's own graph
  (``musicnn.models.define_model``, the checkpoint restored as the extractor
  does) on all patches at once and returns every output per patch.

Usage (by path, not as a module of era_zoo)::

    python musicnn_original.py available
    python musicnn_original.py reference OUT.npz [--max-patches N] AUDIO...
    python musicnn_original.py tag MODEL AUDIO...

``reference`` writes, for the i-th file, ``f<i>/patches`` (n, 187, 96), the
wheel's input patches, and ``f<i>/<model>/<output>`` for the four models
(musicnn: taggram, timbral, temporal, cnn1..cnn3, mean_pool, max_pool,
penultimate; VGG: taggram, pool1..pool5). ``tag`` runs the fixed extractor
on each file as a user would and prints one JSON line: the seconds spent and
each file's mean taggram.
"""
import os
import sys

# Run by path, Python puts this folder first on sys.path, where
# era_zoo's own converter (musicnn.py) would shadow the wheel's package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

N_FRAMES = 187
WHEEL_MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
MUSICNN_OUTPUTS = ("taggram", "timbral", "temporal", "cnn1", "cnn2", "cnn3",
                   "mean_pool", "max_pool", "penultimate")
VGG_OUTPUTS = ("taggram", "pool1", "pool2", "pool3", "pool4", "pool5")


def fixed_batch_data(audio_file, n_frames, overlap):
    """``musicnn.extractor.batch_data`` with its float16 product computed in
    float32 (as numpy 1 did)."""
    import librosa
    from musicnn import configuration as config

    audio, sr = librosa.load(audio_file, sr=config.SR)
    audio_rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=config.FFT_HOP,
                                               n_fft=config.FFT_SIZE,
                                               n_mels=config.N_MELS).T
    audio_rep = audio_rep.astype(np.float16)
    audio_rep = np.log10(10000 * audio_rep.astype(np.float32) + 1)
    last_frame = audio_rep.shape[0] - n_frames + 1
    batch = np.stack([audio_rep[t:t + n_frames] for t in range(0, last_frame, overlap)])
    return batch, audio_rep


def _patch_extractor():
    from musicnn import extractor
    extractor.batch_data = fixed_batch_data
    return extractor


def run(model, patches_by_key, batch_size=64):
    """{key: {output: per-patch array}} of the wheel's graph ``model``
    ("MSD_musicnn", ...) on {key: (n, 187, 96) patches}."""
    import tensorflow as tf
    extractor = _patch_extractor()
    from musicnn import configuration as config
    from musicnn import models

    labels = config.MTT_LABELS if "MTT" in model else config.MSD_LABELS
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        outputs = list(models.define_model(x, is_training, model, len(labels)))
        outputs[0] = tf.nn.sigmoid(outputs[0])
    names = VGG_OUTPUTS if "vgg" in model else MUSICNN_OUTPUTS
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(
            sess, os.path.join(os.path.dirname(extractor.__file__), model) + "/")
        result = {}
        for key, patches in patches_by_key.items():
            parts = [sess.run(outputs, {x: patches[i:i + batch_size], is_training: False})
                     for i in range(0, len(patches), batch_size)]
            result[key] = {name: np.concatenate([p[j] for p in parts])
                           for j, name in enumerate(names)}
    return result


def tag(model, files):
    """The fixed extractor on each file, as a user calls it; seconds spent."""
    extractor = _patch_extractor()
    start = time.perf_counter()
    means = {}
    for f in files:
        taggram, _ = extractor.extractor(f, model=model, extract_features=False)
        means[f] = np.asarray(taggram).mean(axis=0).tolist()
    return time.perf_counter() - start, means


def available():
    """True when the wheel and tf-keras import."""
    try:
        import musicnn.models  # noqa: F401
        import tf_keras  # noqa: F401
    except ImportError:
        return False
    return True


def reference(out, files, max_patches=None, models=WHEEL_MODELS):
    """Each file's patches (the fixed ``batch_data``; the first
    ``max_patches`` where given) and every model's per-patch outputs on
    them, written to ``out`` as ``f<i>/patches`` (n, 187, 96) and
    ``f<i>/<model>/<output>``."""
    patches = {}
    for i, f in enumerate(files):
        batch = fixed_batch_data(f, N_FRAMES, N_FRAMES)[0].astype(np.float32)
        patches[f"f{i}"] = batch[:max_patches]
    arrays = {f"{key}/patches": p for key, p in patches.items()}
    for model in models:
        for key, outs in run(model, patches).items():
            arrays.update({f"{key}/{model}/{name}": np.asarray(v, np.float32)
                           for name, v in outs.items()})
    np.savez(out, **arrays)


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("available", help="exit 0 when the wheel and tf-keras import, else 3")
    p = sub.add_parser("reference", help="patches and per-patch outputs of all four models")
    p.add_argument("out")
    p.add_argument("files", nargs="+")
    p.add_argument("--max-patches", type=int)
    p = sub.add_parser("tag", help="the fixed extractor over files, timed")
    p.add_argument("model", choices=WHEEL_MODELS)
    p.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "available":
        return 0 if available() else 3
    warnings.filterwarnings("ignore")   # the TF1 layers' deprecation notices
    if args.command == "reference":
        reference(args.out, args.files, args.max_patches)
    else:
        seconds, means = tag(args.model, args.files)
        print(json.dumps({"seconds": seconds, "mean_taggram": means}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
