"""Training recipes: TOML files that say which model to train on which data,
with which hyperparameters.

The recipes of the zoo (``recipes/`` in a checkout) are installed with the
package as ``era_zoo.recipes``; :func:`find_recipe` finds one by name
(``audio_cnn``, ``overlays/demo``) or takes a path as it is.

A recipe is read with :mod:`tomllib`, merged over :data:`DEFAULTS`, given
command-line overrides (``--set training.batch_size=4``) and validated before
anything heavy happens: unknown keys, an unknown model, a missing data root,
wrong types and a mel preset the model cannot take each fail at once with a
:class:`~era_zoo.errors.ConfigError` naming the field.

Sections
--------
``[model]``
    ``name`` (a registry name); every other key is passed to
    ``era_zoo.create_model`` as model configuration.
``[data]``
    ``reader`` and ``root`` (the dataset), ``mel`` (preset name), ``frames``
    (training crop length), ``source`` (``auto``/``mel``/``audio``), split
    names, ``cache_dir``, ``on_error``; ``[data.options]`` goes to the reader.
``[sideinfo.cf]``, ``[sideinfo.genre]``, ``[sideinfo.text]``
    Keyword arguments of the side-information builders (only the ones the
    model needs are built).
``[training]``
    ``epochs``, ``batch_size``, ``drop_remainder``, ``steps_per_epoch``,
    ``validation_steps``, ``seed``; ``[training.optimizer]``.
``[checkpoints]``
    ``every_epochs``, ``best``, ``monitor``, ``mode``, ``backup_every_steps``.
``[logging]``
    ``tensorboard``; ``update_freq``: batches between the ``batch_*`` scalar
    points, 0 for per-epoch points only, or ``"auto"`` (the default): one
    point every ``max(1, steps_per_epoch // 20)`` batches, so every epoch
    gives at least 20 points however short it is (see
    :func:`~era_zoo.training.callbacks.batch_log_every`).
``[projector]``
    ``enabled``, ``split``, ``max_tracks``: the tracks whose embeddings
    (trunk and projection, two tensors) go to TensorBoard's Projector tab.
"""
import copy
import inspect
import os
import tomllib
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..tomlio import toml_value

# Readers whose data are precomputed mels of a fixed band count: the preset
# must agree with what is on disk.
READER_MEL_BANDS = {"melon": 48}

# Sections whose keys are free (passed on as keyword arguments and checked
# against the receiving function's signature later).
FREE_SECTIONS = ("model", "data.options", "sideinfo.cf", "sideinfo.genre",
                 "sideinfo.text")

# Defaults are paper B's training set-up (its reference code: batch 128 with
# the remainder dropped, Adam lr 1e-4 with weight decay 1e-4, 400 epochs,
# random 256-frame crops, checkpoints every 20 epochs plus the best
# validation); recipes for paper A override what differs. ``None`` marks
# "no value" for optional strings (TOML has no null: leave the key out or give "").
DEFAULTS = {
    "model": {"name": None},
    "data": {
        "reader": None,
        "root": None,
        "mel": None,            # None: the model family's preset
        "source": "auto",       # auto: precomputed mels where the table has them
        "frames": 256,
        "train_split": "train",
        "valid_split": "valid",
        "cache_dir": "",
        "on_error": "raise",
        "options": {},
    },
    "sideinfo": {"cf": {}, "genre": {}, "text": {}},
    "training": {
        "epochs": 400,
        "batch_size": 128,
        "drop_remainder": True,
        "steps_per_epoch": 0,   # 0: one pass over the training split
        "validation_steps": 0,  # 0: the whole validation split
        "seed": 0,
        "optimizer": {
            "name": "adam",
            "learning_rate": 1e-4,
            "weight_decay": 1e-4,
            "weight_decay_mode": "l2",
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-8,
            "clipnorm": 0.0,
        },
    },
    "checkpoints": {
        "every_epochs": 20,
        "best": True,
        "monitor": "val_loss",
        "mode": "min",
        "backup_every_steps": 100,
    },
    "logging": {
        "tensorboard": True,
        "update_freq": "auto",  # or batches between points (0: per epoch only)
    },
    "projector": {
        "enabled": True,
        "split": "valid",
        "max_tracks": 2000,
    },
}

CHOICES = {
    "data.source": ("auto", "mel", "audio"),
    "data.on_error": ("raise", "skip"),
    "training.optimizer.name": ("adam",),
    "training.optimizer.weight_decay_mode": ("l2", "decoupled"),
    "checkpoints.mode": ("min", "max"),
    "projector.split": ("train", "valid", "test"),
}

POSITIVE_INTS = ("data.frames", "training.epochs", "training.batch_size")
NON_NEGATIVE = ("training.steps_per_epoch", "training.validation_steps",
                "checkpoints.every_epochs", "checkpoints.backup_every_steps",
                "projector.max_tracks",
                "training.optimizer.weight_decay", "training.optimizer.clipnorm")
POSITIVE_FLOATS = ("training.optimizer.learning_rate",
                   "training.optimizer.epsilon")
# A count of batches, or "auto" (the default) for one derived from the epoch.
COUNT_OR_AUTO = ("logging.update_freq",)


def recipes_dir():
    """The folder of the zoo's recipes as installed (package ``era_zoo.recipes``,
    which is ``recipes/`` of the checkout).

    Example:
        >>> sorted(p.stem for p in recipes_dir().glob("*.toml"))[:2]
        ['audio_cnn', 'audio_suc']
    """
    return Path(str(resources.files("era_zoo.recipes")))


def find_recipe(name_or_path):
    """The path of a recipe: an existing file as given, else the zoo's recipe
    of that name.

    Args:
        name_or_path: a path to a TOML file, or a recipe name relative to
            :func:`recipes_dir`, with or without ``.toml``: a model's
            (``"audio_cnn"``) or an overlay (``"overlays/demo"``).

    Example:
        >>> find_recipe("audio_cnn").name
        'audio_cnn.toml'
        >>> overlay_overrides(find_recipe("overlays/demo"))[:1]
        ['model.encoder.channels=[32, 32, 64, 64, 64, 64, 128]']
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = str(name_or_path)
    packaged = recipes_dir() / (name if name.endswith(".toml") else f"{name}.toml")
    if not path.is_absolute() and packaged.is_file():
        return packaged
    known = ", ".join(sorted(p.stem for p in recipes_dir().glob("*.toml")))
    raise ConfigError("recipe", f"no recipe file at {path} and no recipe named {name!r}",
                      f"give a path to a .toml file or one of: {known}")


def load_recipe(source, *, data_root=None, overrides=(), check_model=True):
    """Read, merge, override and validate a recipe.

    Args:
        source: a recipe name or path (:func:`find_recipe`) or a dict of
            the same shape as the TOML.
        data_root: replaces ``data.root``.
        overrides: ``"key=value"`` strings (value in TOML syntax; bare
            words are strings).
        check_model: check the ``[model]`` section against the registry.

    Returns the resolved recipe as a plain nested dict.

    Example:
        >>> recipe = load_recipe("audio_cnn", data_root="data/msd",
        ...                      overrides=["training.epochs=2"])
    """
    if isinstance(source, (str, os.PathLike)):
        path = find_recipe(source)
        try:
            with path.open("rb") as f:
                raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(str(path), f"not valid TOML: {e}") from None
    else:
        raw = copy.deepcopy(dict(source))
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(raw, key, value)
    if data_root is not None:
        raw.setdefault("data", {})["root"] = str(data_root)
    recipe = _merge(DEFAULTS, raw, "")
    validate(recipe, check_model=check_model)
    return resolve(recipe)


def resolve(recipe):
    """Fill in what follows from other fields, so the recipe written into a
    run directory is explicit: the mel preset, and the model's ``mel`` and
    encoder input length (which must agree with ``data``)."""
    data, model = recipe["data"], recipe["model"]
    data["mel"] = mel_preset_name(recipe)
    if model.setdefault("mel", data["mel"]) != data["mel"]:
        raise ConfigError("data.mel", f"{data['mel']!r} differs from model.mel "
                          f"{model['mel']!r}", "the model is built for the features it reads")
    encoder = model.setdefault("encoder", {})
    if not isinstance(encoder, dict):
        raise ConfigError("model.encoder", "must be a table of AudioEncoder arguments")
    if encoder.setdefault("n_frames", data["frames"]) != data["frames"]:
        raise ConfigError("data.frames", f"{data['frames']} differs from "
                          f"model.encoder.n_frames {encoder['n_frames']}",
                          "the training crop is the encoder's input length")
    return recipe


def overlay_overrides(path):
    """A partial recipe (an overlay such as recipes/overlays/demo.toml) as
    ``"key=value"`` overrides, so it applies on top of any full recipe."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            tree = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(str(path), f"cannot read the overlay: {e}") from None

    def flatten(node, prefix):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from flatten(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}={toml_value(value)}"
    return list(flatten(tree, ""))


def parse_override(item):
    """``"training.batch_size=4"`` -> ``("training.batch_size", 4)``."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError("--set", f"{item!r} is not key=value",
                          "e.g. --set training.batch_size=4")
    text = text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word: a string
    return key, value


def _set_dotted(tree, key, value):
    parts = key.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(".".join(parts[:i + 1]), "is a value, not a section")
        node = nxt
    node[parts[-1]] = value


def _merge(defaults, given, prefix):
    """Defaults overlaid with ``given``; unknown keys are errors except in
    free sections."""
    if not isinstance(given, dict):
        raise ConfigError(prefix or "recipe", "must be a table (section)")
    out = copy.deepcopy(defaults)
    free = prefix.rstrip(".") in FREE_SECTIONS
    for key, value in given.items():
        field = f"{prefix}{key}"
        if key not in defaults:
            if free:
                out[key] = value
                continue
            known = ", ".join(sorted(defaults))
            raise ConfigError(field, "unknown key", f"known keys here: {known}")
        default = defaults[key]
        if isinstance(default, dict):
            out[key] = _merge(default, value, f"{field}.")
        elif field in COUNT_OR_AUTO:
            if value != "auto" and (isinstance(value, bool) or not isinstance(value, int)
                                    or value < 0):
                raise ConfigError(field, f"must be \"auto\" or a count of batches "
                                         f"(0 or more), not {value!r}")
            out[key] = value
        else:
            out[key] = _check_type(field, default, value)
    return out


def _check_type(field, default, value):
    if default is None:
        if not isinstance(value, str):
            raise ConfigError(field, f"must be a string, not {value!r}")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(field, f"must be true or false, not {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(field, f"must be an integer, not {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(field, f"must be a number, not {value!r}")
        return float(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(field, f"must be a string, not {value!r}")
    return value


def get(recipe, dotted):
    node = recipe
    for part in dotted.split("."):
        node = node[part]
    return node


def validate(recipe, check_model=True):
    for field, choices in CHOICES.items():
        value = get(recipe, field)
        if value is not None and value not in choices:
            raise ConfigError(field, f"{value!r} is not one of {', '.join(choices)}")
    for field in POSITIVE_INTS:
        if get(recipe, field) < 1:
            raise ConfigError(field, f"must be at least 1, not {get(recipe, field)}")
    for field in NON_NEGATIVE:
        if get(recipe, field) < 0:
            raise ConfigError(field, f"must not be negative, not {get(recipe, field)}")
    for field in POSITIVE_FLOATS:
        if not get(recipe, field) > 0:
            raise ConfigError(field, f"must be positive, not {get(recipe, field)}")
    for field in ("training.optimizer.beta_1", "training.optimizer.beta_2"):
        if not 0 <= get(recipe, field) < 1:
            raise ConfigError(field, f"must be in [0, 1), not {get(recipe, field)}")

    name = recipe["model"]["name"]
    if not name:
        raise ConfigError("model.name", "missing", "name one of the registry's models")
    if check_model:
        _check_model(name, recipe["model"])

    from ..data.readers import READERS
    data = recipe["data"]
    if data["reader"] not in READERS:
        problem = f"unknown dataset reader {data['reader']!r}" if data["reader"] else "missing"
        raise ConfigError("data.reader", problem, f"one of {', '.join(sorted(READERS))}")
    if not data["root"]:
        raise ConfigError("data.root", "missing",
                          "set it in the recipe or pass --data DIR")
    if not Path(data["root"]).is_dir():
        raise ConfigError("data.root", f"no dataset directory at {data['root']}",
                          "pass --data DIR with the dataset's root")
    if data["train_split"] == data["valid_split"]:
        raise ConfigError("data.valid_split",
                          f"is the training split {data['train_split']!r}")
    _check_mel(recipe)


def model_arguments(cls):
    """Configuration keys a zoo model class accepts: the named arguments of
    every ``__init__`` from the class up to ``keras.Model`` (the zoo's
    constructors pass ``**kwargs`` up), plus Keras' ``name``."""
    import keras
    accepted = {"name"}
    for klass in cls.__mro__:
        if klass is keras.Model:
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for pname, p in inspect.signature(init).parameters.items():
            if pname != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                accepted.add(pname)
    return accepted


def _check_model(name, model_section):
    from .. import registry
    if name not in registry.list_models():
        raise ConfigError("model.name", f"unknown model {name!r}",
                          f"known models: {', '.join(registry.list_models())}")
    accepted = model_arguments(registry.model_class(name))
    for key in model_section:
        if key not in accepted:
            raise ConfigError(f"model.{key}", f"not an argument of model {name!r}",
                              f"accepted: {', '.join(sorted(accepted - {'name'}))}")


def _default_mel(name):
    """The model class's default mel preset; None for a name the registry lacks."""
    from .. import registry
    return registry.model_info(name).mel if name in registry.list_models() else None


def mel_preset_name(recipe):
    """data.mel, else the model's own ``mel``, else the model class's default."""
    model_mel = recipe["model"].get("mel")
    return (recipe["data"]["mel"] or (model_mel if isinstance(model_mel, str) else None)
            or _default_mel(recipe["model"]["name"]) or "melon48")


def _check_mel(recipe):
    from ..audio.presets import get_preset
    name = recipe["model"]["name"]
    preset = mel_preset_name(recipe)
    try:
        spec = get_preset(preset)
    except ConfigError as e:
        raise ConfigError("data.mel", e.problem, e.hint) from None
    encoder = recipe["model"].get("encoder")
    encoder = encoder if isinstance(encoder, dict) else {}
    # A model is built for its default preset's bands (paper B's encoder on
    # Melon's 48, paper A's on 224); a recipe may change the encoder's n_mels
    # together with the preset, never one without the other.
    default = _default_mel(name)
    expected = encoder.get("n_mels", get_preset(default).n_mels if default else None)
    if expected is not None and spec.n_mels != expected:
        raise ConfigError(
            "data.mel",
            f"preset {preset!r} has {spec.n_mels} mel bands but model {name!r} "
            f"takes {expected}",
            f"use mel = {default!r}, or set model.encoder.n_mels "
            f"with a preset of that many bands")
    reader = recipe["data"]["reader"]
    on_disk = READER_MEL_BANDS.get(reader)
    if (on_disk is not None and recipe["data"]["source"] != "audio"
            and spec.n_mels != on_disk):
        raise ConfigError(
            "data.mel",
            f"the {reader} dataset ships {on_disk}-band mels but preset "
            f"{preset!r} has {spec.n_mels}",
            "use a preset with as many bands, or data.source = 'audio' where "
            "the dataset has audio")
