"""The zoo by name: list_models(), create_model(), load().

Presets (pretrained weights) are listed in ``pretrained/presets.json`` at
the repository root (or the file named by $ERA_ZOO_PRESETS). Its schema::

    {
      "<preset name>": {
        "model": "<registry name, e.g. contrastive_a2p>",       required
        "config": {<keyword arguments of the model>},            optional
        "mel": "<MelSpec preset name the weights expect>",        optional
        "weights": "<file, relative to presets.json>",           required
        "sha256": "<hex digest of the weights file>",            optional
        "description": "...", "source": "...", "card": "..."     optional
      },
      ...
    }

A weights file is a Keras ``.weights.h5`` (loaded into the model built from
"config") or a whole ``.keras`` model (loaded in safe mode). Where a sha256
is listed, the file is checked against it before loading.
"""
import hashlib
import json
import os
import warnings
from pathlib import Path

from .errors import ConfigError, DataError

PRESETS_FILE = Path(__file__).resolve().parent.parent / "pretrained" / "presets.json"

# Registry name -> class name in era_zoo.models (imported lazily: TF is heavy).
_MODELS = {
    "audio_cnn": "AudioCNN",
    "audio_suc": "AudioSUC",
    "audioart_mmc": "AudioArtMMC",
    "contrastive_a2g": "ContrastiveA2G",
    "contrastive_a2p": "ContrastiveA2P",
    "contrastive_a2g_a2p_g2p": "ContrastiveA2GA2PG2P",
    "baseline_genre": "BaselineGenre",
    "baseline_cf": "BaselineCF",
    "baseline_genre_cf": "BaselineGenreCF",
}


def list_models():
    """The registry names of the nine models."""
    return list(_MODELS)


def model_class(name):
    if name not in _MODELS:
        raise ConfigError("model", f"unknown model {name!r}",
                          f"known models: {', '.join(_MODELS)}")
    from . import models
    return getattr(models, _MODELS[name])


def create_model(name, **config):
    """A new, randomly initialised model ``name`` with ``config`` keyword
    arguments over its documented defaults."""
    cls = model_class(name)
    try:
        return cls(**config)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{name} config", str(e),
                          f"see help(era_zoo.models.{cls.__name__})") from None


def presets_path():
    return Path(os.environ.get("ERA_ZOO_PRESETS", PRESETS_FILE))


def list_presets():
    """{preset name: entry} from presets.json ({} when the file is absent)."""
    path = presets_path()
    if not path.is_file():
        return {}
    try:
        presets = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(path, f"is not valid JSON ({e})") from None
    if not isinstance(presets, dict):
        raise DataError(path, "must hold an object mapping preset names to entries")
    for preset, entry in presets.items():
        if not isinstance(entry, dict):
            raise DataError(path, f"preset {preset!r} is not an object")
        for key in ("model", "weights"):
            if key not in entry:
                raise DataError(path, f"preset {preset!r} lacks {key!r}")
    return presets


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path, expected):
    """Raise DataError unless the file's sha256 is ``expected``."""
    actual = sha256_of(path)
    if actual.lower() != str(expected).lower():
        raise DataError(path, f"sha256 mismatch: expected {expected}, file has {actual}",
                        "the file is corrupt, truncated or a different version: "
                        "download or convert it again")


def default_preset(name):
    """The preset ``load(name)`` uses: the entry for model ``name`` marked
    ``"default": true`` in presets.json, or None."""
    for preset, entry in list_presets().items():
        if entry["model"] == name and entry.get("default"):
            return preset
    return None


def load(name, weights="default", sha256=None, **config):
    """Model ``name`` (one of list_models()), ready to use.

    ``weights``: "default" (the model's pretrained preset from presets.json;
    a model without one is randomly initialised, with a warning), None
    (random initialisation, as ``create_model``), a path to a
    ``.weights.h5`` file (loaded into the model built from ``config``) or a
    ``.keras`` file (loaded in safe mode; ``config`` must then be empty), or
    the name of a preset in presets.json (its config is the base, ``config``
    overrides). ``sha256``: checks a weights path; presets carry their own.
    """
    model_class(name)
    if weights == "default":
        weights = default_preset(name)
        if weights is None:
            warnings.warn(f"{name} has no pretrained preset in {presets_path()}: "
                          f"randomly initialised (train it with recipes/{name}.toml)",
                          stacklevel=2)
    if weights is None:
        return create_model(name, **config)
    presets = list_presets()
    if isinstance(weights, str) and weights in presets and not Path(weights).exists():
        return _load_preset(name, weights, presets[weights], config)
    path = Path(weights)
    if not path.is_file():
        known = ", ".join(sorted(presets)) or "none listed"
        raise DataError(path, "is neither a weights file nor a preset",
                        f"presets in {presets_path()}: {known}")
    if sha256:
        verify_sha256(path, sha256)
    return _load_file(name, path, config)


def _load_preset(name, preset, entry, config):
    if entry["model"] != name:
        raise ConfigError("weights", f"preset {preset!r} is for model {entry['model']!r}, "
                                     f"not {name!r}", f"load({entry['model']!r}, {preset!r})")
    path = presets_path().parent / entry["weights"]
    if not path.is_file():
        raise DataError(path, f"weights of preset {preset!r} are missing",
                        "build them with `era-zoo train` using the recipe named in "
                        "the preset's model card (pretrained/), or copy the released "
                        "file to this path")
    if entry.get("sha256"):
        verify_sha256(path, entry["sha256"])
    model_config = dict(entry.get("config", {}))
    if "mel" in entry:
        model_config.setdefault("mel", entry["mel"])
    return _load_file(name, path, {**model_config, **config})


def _load_file(name, path, config):
    import keras

    if path.name.endswith(".keras"):
        if config:
            raise ConfigError("config", f"{sorted(config)} cannot change a whole .keras model",
                              "load it as is, or load a .weights.h5 file with a config")
        model = keras.saving.load_model(path, safe_mode=True)
        expected = model_class(name)
        if not isinstance(model, expected):
            raise DataError(path, f"holds a {type(model).__name__}, not {expected.__name__}",
                            f"load it with its own name")
        return model
    if not path.name.endswith(".weights.h5"):
        raise DataError(path, "is neither a .keras model nor a .weights.h5 file")
    model = create_model(name, **config)
    try:
        model.load_weights(path)
    except (ValueError, OSError) as e:
        raise DataError(path, f"does not fit {name} with this config ({e})",
                        "pass the config the weights were trained with") from None
    return model
