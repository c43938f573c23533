"""The musicnn wheel's TF1 checkpoints -> era_zoo's four musicnn presets.

The PyPI wheel ``musicnn==0.1.0`` (ISC, Jordi Pons, MTG-UPF) holds four
TensorFlow 1 checkpoints, ``musicnn/{MSD,MTT}_{musicnn,vgg}/`` with the
checkpoint files named by an empty prefix (``.index``, ``.data-00000-of-00001``)
and a ``checkpoint`` file naming a path on the author's machine; they are read
here by prefix (``DIR + "/"``) with TensorFlow's checkpoint reader, Adam's
slots left out.

Variable names follow the order the TF1 layers were created in (see
``musicnn/models.py``): for musicnn ``batch_normalization`` is the input
BatchNorm, ``conv2d``/``conv2d_1`` the 7x38 and 7x67 timbral kernels with
``batch_normalization_1``/``_2``, ``conv2d_2``..``_4`` the 128/64/32-frame
temporal kernels with ``_3``..``_5``, ``conv2d_5``..``_7`` the mid-end with
``_6``..``_8``, ``batch_normalization_9`` the pooled features', ``dense`` and
``batch_normalization_10`` the penultimate layer, ``dense_1`` the classifier;
for VGG ``1CNN``..``5CNN`` with ``batch_normalization_1``..``_5``, and
``dense``.

Usage::

    pip download musicnn==0.1.0 --no-deps -d /tmp
    python -m era_zoo.convert.musicnn /tmp/musicnn-0.1.0-py3-none-any.whl era_zoo/presets

writes a preset folder ``era_zoo/presets/<registry name>/`` for each model
(see :func:`convert_all`). The source may also be the wheel's unpacked
``musicnn`` package folder.
"""
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError

# The wheel's model folder -> era_zoo registry name (= preset name).
WHEEL_MODELS = {
    "MSD_musicnn": "musicnn_msd",
    "MTT_musicnn": "musicnn_mtt",
    "MSD_vgg": "musicnn_vgg_msd",
    "MTT_vgg": "musicnn_vgg_mtt",
}

WHEEL = "musicnn==0.1.0"

# musicnn-0.1.0.dist-info/LICENSE.md, which the ISC licence asks to keep
# with every copy of the weights.
LICENCE_NOTICE = (
    "Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. Code "
    "developed by Jordi Pons (www.jordipons.me).\n\n"
    "Permission to use, copy, modify, and/or distribute this software for any purpose "
    "with or without fee is hereby granted, provided that the above copyright notice "
    "and this permission notice appear in all copies.\n\n"
    "THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH "
    "REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND "
    "FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, "
    "OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA "
    "OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, "
    "ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.")

_TRAINING_DATA = {
    "MSD": "Million Song Dataset, 50 most used Last.fm tags (Pons & Serra 2019)",
    "MTT": "MagnaTagATune, 50 most used tags (Pons & Serra 2019)",
}


def _bn(name):
    return {"gamma": f"{name}/gamma", "beta": f"{name}/beta",
            "moving_mean": f"{name}/moving_mean",
            "moving_variance": f"{name}/moving_variance"}


def _dense(name):
    return {"kernel": f"{name}/kernel", "bias": f"{name}/bias"}


def _bn_suffix(i):
    return "batch_normalization" + (f"_{i}" if i else "")


def musicnn_mapping():
    """{era_zoo weight path prefix: {variable: checkpoint name}} of musicnn."""
    m = {"trunk/input_bn": _bn(_bn_suffix(0))}
    convs = ["trunk/timbral_0", "trunk/timbral_1", "trunk/temporal_128",
             "trunk/temporal_64", "trunk/temporal_32",
             "trunk/midend_1", "trunk/midend_2", "trunk/midend_3"]
    for i, layer in enumerate(convs):
        m[layer] = _dense("conv2d" + (f"_{i}" if i else ""))
        m[f"{layer}_bn"] = _bn(_bn_suffix(i + 1))
    m["pooled_bn"] = _bn(_bn_suffix(9))
    m["dense"] = _dense("dense")
    m["dense_bn"] = _bn(_bn_suffix(10))
    m["classifier"] = _dense("dense_1")
    return m


def vgg_mapping():
    """{era_zoo weight path prefix: {variable: checkpoint name}} of VGG."""
    m = {"trunk/input_bn": _bn(_bn_suffix(0))}
    for i in range(1, 6):
        m[f"trunk/conv{i}"] = _dense(f"{i}CNN")
        m[f"trunk/conv{i}_bn"] = _bn(_bn_suffix(i))
    m["classifier"] = _dense("dense")
    return m


def read_checkpoint(model_dir):
    """{variable name: float32 array} of a wheel model folder, optimizer
    slots (``*/Adam*``, ``beta1_power``, ``beta2_power``) left out.

    Args:
        model_dir: e.g. ``.../musicnn/MSD_musicnn``.

    Example:
        >>> read_checkpoint("musicnn/MSD_musicnn")["conv2d/kernel"].shape
        (7, 38, 1, 204)
    """
    import tensorflow as tf

    model_dir = Path(model_dir)
    if not (model_dir / ".index").is_file():
        raise DataError(model_dir, "holds no checkpoint (no '.index' file)",
                        "give the musicnn wheel or its unpacked 'musicnn' folder")
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(str(model_dir) + "/")
    except Exception as e:  # TF raises several types for corrupt checkpoints
        raise DataError(model_dir, f"cannot read the checkpoint ({e})") from None
    return {name: np.asarray(reader.get_tensor(name), np.float32)
            for name in reader.get_variable_to_shape_map()
            if "Adam" not in name and name not in ("beta1_power", "beta2_power")}


def assign_checkpoint(model, variables, mapping):
    """Copy checkpoint ``variables`` into ``model`` by ``mapping``; every
    model weight and every checkpoint variable must be used exactly once.
    The mid-end's 2-D kernels (7, C, 1, F) become Conv1D kernels (7, C, F).

    Args:
        model: a MusicnnTagger or VGGTagger.
        variables: from :func:`read_checkpoint`.
        mapping: :func:`musicnn_mapping` or :func:`vgg_mapping`.
    """
    weights = {w.path: w for w in model.weights}
    used = set()
    for prefix, entries in mapping.items():
        for var, source in entries.items():
            path = f"{prefix}/{var}"
            if path not in weights:
                raise DataError(path, "is not a weight of the era_zoo model")
            if source not in variables:
                raise DataError(source, "is missing from the checkpoint")
            value = variables[source]
            target = tuple(weights[path].shape)
            if value.ndim == 4 and len(target) == 3 and value.shape[2] == 1:
                value = value[:, :, 0, :]     # the mid-end's (7, C, 1, F) -> Conv1D
            if value.shape != target:
                raise DataError(source, f"shape {value.shape} does not fit {path} {target}")
            weights[path].assign(value)
            used.add(path)
            used.add(source)
    left = sorted(set(weights) - used) + sorted(set(variables) - used)
    if left:
        raise DataError("checkpoint", f"unmatched weights: {', '.join(left)}")


def parse_result(text):
    """ROC-AUC and PR-AUC from a wheel ``experiment.result`` file (two
    formats: "AUC: x" twice, ROC first, or "ROC-AUC: x" / "PR-AUC: x").

    Example:
        >>> parse_result("Experiment: ['x']\\nAUC: 0.88\\nAUC: 0.29")
        {'roc_auc': 0.88, 'pr_auc': 0.29}
    """
    roc = re.search(r"ROC-AUC:\s*([0-9.]+)", text)
    pr = re.search(r"PR-AUC:\s*([0-9.]+)", text)
    if roc and pr:
        return {"roc_auc": float(roc.group(1)), "pr_auc": float(pr.group(1))}
    aucs = re.findall(r"AUC:\s*([0-9.]+)", text)
    if len(aucs) != 2:
        raise DataError("experiment.result", f"cannot read ROC-AUC and PR-AUC from {text!r}")
    return {"roc_auc": float(aucs[0]), "pr_auc": float(aucs[1])}


def convert_model(package_dir, wheel_model):
    """The era_zoo tagger for one wheel model folder, with its weights.

    Args:
        package_dir: the wheel's ``musicnn`` folder.
        wheel_model: "MSD_musicnn", "MTT_musicnn", "MSD_vgg" or "MTT_vgg".
    """
    from ..models.musicnn import TAGGERS

    model = {cls.zoo_name: cls for cls in TAGGERS}[WHEEL_MODELS[wheel_model]]()
    mapping = vgg_mapping() if "vgg" in wheel_model else musicnn_mapping()
    assign_checkpoint(model, read_checkpoint(Path(package_dir) / wheel_model), mapping)
    return model


def _unpacked(source, tmp):
    source = Path(source)
    if source.is_dir():
        package = source / "musicnn" if (source / "musicnn").is_dir() else source
        return package
    if not zipfile.is_zipfile(source):
        raise DataError(source, "is neither the musicnn wheel nor its 'musicnn' folder")
    with zipfile.ZipFile(source) as z:
        z.extractall(tmp)
    return Path(tmp) / "musicnn"


def model_card(name, wheel_model, metrics):
    """The Markdown model card of one converted preset.

    Args:
        name: the registry name ("musicnn_msd", ...).
        wheel_model: the wheel's folder name ("MSD_musicnn", ...).
        metrics: from :func:`parse_result`.
    """
    from ..models.musicnn import DECADE_TAGS, MSD_LABELS, MTT_LABELS

    dataset = wheel_model.split("_")[0]
    labels = MSD_LABELS if dataset == "MSD" else MTT_LABELS
    musicnn = "musicnn" in wheel_model
    arch = ("musicnn: input BatchNorm; front-end of timbral (7 x 38, 7 x 67) and "
            "temporal (128, 64, 32 frames) convolutions max-pooled over bands; dense "
            "mid-end of three 7-frame convolutions with residual connections; back-end "
            "of max and mean pooling over time, Dense(200) (the penultimate layer) and "
            "Dense(50), sigmoid. 0.79 M weights."
            if musicnn else
            "VGG-like baseline: input BatchNorm, five 3 x 3 convolutions of 128 filters "
            "(Conv, ReLU, BatchNorm, max-pool), Dense(50) on the flattened last pool "
            "(256 values), sigmoid. 0.61 M weights.")
    levels = ("`penultimate` (200, default), `mean_pool`, `max_pool` (753), `taggram` (50)"
              if musicnn else "`pool5_flat` (256, default), `taggram` (50)")
    lines = [
        f"# {name}: the {wheel_model} tagger of musicnn", "",
        f"Pretrained weights of the PyPI wheel `{WHEEL}` (Jordi Pons, Music Technology "
        "Group, Universitat Pompeu Fabra; Pons & Serra, \"musicnn: pre-trained "
        "convolutional neural networks for music audio tagging\", ISMIR 2019 "
        f"late-breaking demo), folder `musicnn/{wheel_model}`, converted to a native "
        "Keras 3 model by `era_zoo.convert.musicnn`.", "",
        "```python",
        "import era_zoo",
        f"model = era_zoo.load(\"{name}\")",
        "taggram = model.taggram(wave, sample_rate)      # (patches, 50)",
        "model.top_tags(taggram, top=5)",
        "```", "",
        f"Command line: `era-zoo tag FILE... --model {name}`, `era-zoo embed FILE... "
        f"--model {name} --level LEVEL`.", "",
        "## Model", "",
        f"- Architecture: {arch}",
        "- Input: patches of 187 frames (about 3 s) of the `musicnn96` mel: 16 kHz, "
        "n_fft 512, hop 256, 96 Slaney mel bands of the power spectrum, "
        "log10(10000 x + 1); era_zoo's layout (96, 187). A model also takes waveforms "
        "(batch, samples) at 16 kHz and computes the mel and the patches in graph.",
        "- Patches: non-overlapping by default (`overlap` frames where asked); a clip "
        "shorter than one patch is repeated until it fills one, as the training data "
        "were (the original extractor crashes on clips under about 3 s).",
        f"- Embedding levels: {levels}.",
        "- Numerics: float32 throughout (most front-end channels are dead, their moving "
        "variance about 1e-36, so BatchNorm's epsilon 1e-3 is what divides them; "
        "float16 would lose them). tests/test_musicnn.py runs the wheel's own graph "
        "and checks the outputs equal era_zoo's to 1e-4 (relative to each output's "
        "scale) on generated and real recordings.", "",
        "## Training data and reported results", "",
        f"- Training data: {_TRAINING_DATA[dataset]}.",
        f"- Test-set ROC-AUC {metrics['roc_auc']:.4f}, PR-AUC {metrics['pr_auc']:.4f} "
        f"(the wheel's `{wheel_model}/experiment.result`; not re-measured here).", "",
        "## Tags", "", ", ".join(f"`{t}`" for t in labels), ""]
    if dataset == "MSD":
        lines += [
            "## Zero-shot decade opinion", "",
            f"`era-zoo predict --model {name}` renormalises the mean probabilities of "
            f"the tags {', '.join(DECADE_TAGS)} to sum to one. It is an opinion, not a "
            "year estimate: the tags are Last.fm listeners' words, attached to artists "
            "and songs for how they sound and when they were popular, not release "
            "years; \"oldies\" names no decade; the tagger was trained to spot each "
            "tag against the other 49, not to choose between decades, and the MSD's "
            "tracks are mostly from the 1990s and 2000s. Use paper A's era models "
            "for year estimates.", ""]
    lines += ["## Licence", "", "ISC. The notice of the wheel, kept with these weights "
              "(also in `LICENSE.md`):", "", *(f"> {p}" if p else ">"
                                               for p in LICENCE_NOTICE.split("\n")), ""]
    return "\n".join(lines)


def convert_all(source, out_dir, overwrite=False):
    """Convert the four models of the wheel (a ``.whl`` file or its unpacked
    ``musicnn`` folder) into preset folders ``out_dir/<registry name>/``
    (config.json with the tag labels, model.weights.h5, metadata.json with
    every file's sha256, the wheel's ROC-AUC/PR-AUC and the ISC licence,
    README.md the model card, LICENSE.md the notice); returns them as
    :class:`~era_zoo.presets.Preset`.

    Example:
        >>> convert_all("musicnn-0.1.0-py3-none-any.whl", "era_zoo/presets")
    """
    from .. import presets

    written = []
    with tempfile.TemporaryDirectory() as tmp:
        package = _unpacked(source, tmp)
        for wheel_model, name in WHEEL_MODELS.items():
            model = convert_model(package, wheel_model)
            metrics = parse_result((package / wheel_model / "experiment.result")
                                   .read_text(encoding="utf-8"))
            dataset = wheel_model.split("_")[0]
            kind = "musicnn" if "musicnn" in wheel_model else "VGG-like baseline"
            metadata = {
                "default": True,
                "description": f"{kind} tagger of the {WHEEL} wheel ({wheel_model}), "
                               f"{len(model.labels)} tags",
                "license": "ISC",
                "training_data": _TRAINING_DATA[dataset],
                "source": f"PyPI {WHEEL}, musicnn/{wheel_model}, converted by "
                          "era_zoo.convert.musicnn",
                "metrics": {"test": metrics},
            }
            written.append(presets.write_preset(
                Path(out_dir) / name, model, metadata=metadata,
                card=model_card(name, wheel_model, metrics),
                extra_files={"LICENSE.md": LICENCE_NOTICE + "\n"}, overwrite=overwrite))
    return written


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m era_zoo.convert.musicnn",
        description="Convert the musicnn wheel's four checkpoints into era_zoo presets.")
    parser.add_argument("source", help="musicnn-0.1.0-py3-none-any.whl or its musicnn/ folder")
    parser.add_argument("out_dir", help="folder to write the preset folders into")
    parser.add_argument("--overwrite", action="store_true", help="replace existing presets")
    args = parser.parse_args(argv)
    for preset in convert_all(args.source, args.out_dir, args.overwrite):
        print(preset.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
