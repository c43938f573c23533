"""The zoo by name: each model class registers itself with
:func:`register_model` (as timm's ``register_model``), and everything else
asks this module: :func:`list_models`, :func:`model_info`,
:func:`create_model`, :func:`load`.

    import era_zoo
    era_zoo.list_models(family="era")          # ['audio_cnn', 'audio_suc', 'audioart_mmc']
    era_zoo.list_models(pretrained=True)       # those with a default preset
    model = era_zoo.load("audio_cnn")          # its default preset (era_zoo/presets/)
    model = era_zoo.load("path/to/my_preset")  # a preset folder (`era-zoo export`)

Adding a model: write its class in one of ``era_zoo/models/`` modules with
``@register_model(...)`` on it, and its recipe ``recipes/<name>.toml``.
Presets (trained weights) are folders, see :mod:`era_zoo.presets`.
"""
import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, DataError, EraZooWarning
from .presets import (Preset, default_preset, find_preset, list_presets, read_preset,
                      verify_sha256)

_REGISTRY = {}  # name -> ModelInfo, in registration order
_SAME = object()  # register_model's recipe default: the model's own name


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one model (see :func:`register_model`).

    Attributes: ``name``, ``cls`` (the model class), ``family`` ("era":
    paper A's era recognition; "contrastive" and "baseline": paper B's
    cross-modal contrastive models and supervised baselines), ``title``
    (the papers' name, e.g. "Audio-CNN"), ``recipe`` (recipe name, see
    ``era_zoo.training.recipe.find_recipe``; None: not trained here). Derived from the class:
    ``mel`` (its default mel preset), ``input_keys``/``target_keys`` (the
    batch keys it reads). ``test_config``: a fresh copy of the small
    configuration.

    Example:
        >>> info = model_info("baseline_cf")
        >>> info.family, info.mel, info.reads("cf")
        ('baseline', 'melon48', True)
    """
    name: str
    cls: type
    family: str
    title: str
    recipe: str
    _test_config: dict = field(repr=False)

    @property
    def mel(self):
        return getattr(self.cls, "default_mel", None)

    @property
    def default_level(self):
        """The level its embeddings default to (see
        :func:`era_zoo.inference.default_level`): "trunk" for paper B's
        models, "projection" for the era models, a tagger's first level."""
        from .inference.tracks import default_level
        return default_level(self.cls)

    @property
    def input_keys(self):
        return tuple(getattr(self.cls, "input_keys", ()))

    @property
    def target_keys(self):
        return tuple(getattr(self.cls, "target_keys", ()))

    def reads(self, key):
        """True when the model's batches need ``key`` (e.g. "cf", "artist_text")."""
        return key in self.input_keys + self.target_keys

    @property
    def test_config(self):
        return copy.deepcopy(self._test_config)


def register_model(name, *, family, title, test_config, recipe=_SAME):
    """Class decorator: registers a zoo model class under ``name``.

    Sets ``cls.zoo_name = name``. The default mel preset is the class's own
    ``default_mel``; the keys it reads are its ``input_keys``/``target_keys``.

    Args:
        name: the registry name (``create_model(name)``, ``[model] name`` of recipes).
        family: what kind of model it is, for ``list_models(family=...)``:
            "era" (paper A), "contrastive" or "baseline" (paper B).
        title: the name the papers and tables use, e.g. "Audio-CNN".
        test_config: keyword arguments of a small model (a few thousand
            parameters, dropout 0) with the same code paths, for tests.
        recipe: name of its recipe (default ``name``: ``recipes/<name>.toml``;
            None for a model era_zoo does not train, e.g. converted weights).

    Example:
        >>> @register_model("audio_rnn", family="era", title="Audio-RNN",
        ...                 test_config={"encoder": {...}})
        ... class AudioRNN(EraModel):
        ...     ...
    """
    def decorate(cls):
        old = _REGISTRY.get(name)
        # A module reloaded (importlib.reload) registers its class again.
        if old is not None and old.cls.__qualname__ != cls.__qualname__:
            raise ConfigError("name", f"{name!r} is already registered to {old.cls.__name__}")
        cls.zoo_name = name
        _REGISTRY[name] = ModelInfo(name, cls, family, title,
                                    name if recipe is _SAME else recipe,
                                    copy.deepcopy(dict(test_config)))
        return cls
    return decorate


def _registry():
    # The model modules register themselves on import (TensorFlow with them).
    from . import models  # noqa: F401
    return _REGISTRY


def list_models(pretrained=False, family=None):
    """Registry names, in registration order (paper A, then paper B).

    Args:
        pretrained: only models with a default preset (``load(name)`` gives
            trained weights).
        family: only models of this family ("era", "contrastive", "baseline").

    Example:
        >>> list_models(family="baseline")
        ['baseline_genre', 'baseline_cf', 'baseline_genre_cf']
    """
    registry = _registry()
    families = list(dict.fromkeys(info.family for info in registry.values()))
    if family is not None and family not in families:
        raise ConfigError("family", f"no model of family {family!r}",
                          f"families: {', '.join(families)}")
    names = [n for n, info in registry.items() if family in (None, info.family)]
    if pretrained:
        names = [n for n in names if default_preset(n) is not None]
    return names


def model_info(name):
    """The :class:`ModelInfo` of model ``name``.

    Args:
        name: a registry name.

    Example:
        >>> model_info("audioart_mmc").title
        'AudioArt-MMC'
    """
    registry = _registry()
    if name not in registry:
        raise ConfigError("model", f"unknown model {name!r}",
                          f"known models: {', '.join(registry)}")
    return registry[name]


def model_class(name):
    """The class of model ``name`` (``model_info(name).cls``)."""
    return model_info(name).cls


def create_model(name, pretrained=False, **config):
    """A model by registry name, timm style.

    Args:
        name: a registry name (:func:`list_models`).
        pretrained: False: randomly initialised, paper size unless ``config``
            says otherwise. True: the weights of its default preset
            (ConfigError when it has none), ``config`` over the preset's.
        **config: keyword arguments of the model class.

    Example:
        >>> model = create_model("contrastive_a2p", **model_info("contrastive_a2p").test_config)
        >>> model = create_model("audio_cnn", pretrained=True)
    """
    cls = model_class(name)
    if pretrained:
        preset = default_preset(name)
        if preset is None:
            raise ConfigError("pretrained", f"{name} has no preset",
                              f"models with one: {', '.join(list_models(pretrained=True))}")
        return _load_preset(preset, config)
    try:
        return cls(**config)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{name} config", str(e),
                          f"see help(era_zoo.models.{cls.__name__})") from None


def load(source, weights="default", sha256=None, **config):
    """A model ready to use, from any of these sources:

    - a registry name: with ``weights`` "default", its default preset (a
      model without one is randomly initialised, with a warning); None,
      random initialisation (``create_model``); a preset name or folder; a
      ``.weights.h5`` file (loaded into the model built from ``config``) or
      a ``.keras`` file (safe mode; ``config`` must then be empty);
    - a preset name (``era_zoo.presets.list_presets()``) or a preset
      folder path (``era-zoo export`` makes one from a training run);
    - a ``.keras`` file path (safe mode).

    Every file of a preset is checked against the sha256 in its metadata.json.

    Args:
        source: registry name, preset name, preset folder or ``.keras`` path.
        weights: see above (registry names only).
        sha256: expected digest of a ``weights`` file.
        **config: model keyword arguments over the preset's (not for .keras).

    Example:
        >>> model = load("audio_cnn")                 # default preset
        >>> model = load("contrastive_a2p", weights=None)
        >>> model = load("exported/my_cnn")           # a preset folder
    """
    name = str(source)
    if name in _registry():
        return _load_named(name, weights, sha256, config)
    if weights != "default":
        raise ConfigError("weights", f"applies to a registry name, not to {name!r}",
                          "a preset or .keras file carries its own weights")
    path = Path(name)
    if path.is_dir():
        return _load_preset(read_preset(path), config)
    if path.suffix == ".keras":
        return _load_file(None, path, config)
    preset = find_preset(name)
    if preset is not None:
        return _load_preset(preset, config)
    raise ConfigError("model", f"unknown model {name!r}",
                      f"known models: {', '.join(_registry())}; presets: "
                      f"{', '.join(list_presets()) or 'none'}; or a preset folder or "
                      f".keras file")


def _load_named(name, weights, sha256, config):
    if weights == "default":
        preset = default_preset(name)
        if preset is None:
            warnings.warn(f"{name} has no pretrained preset: randomly initialised "
                          f"(train it with its recipe, `era-zoo train {name} --data DIR`)",
                          EraZooWarning, stacklevel=3)
            return create_model(name, **config)
        return _load_preset(preset, config)
    if weights is None:
        return create_model(name, **config)
    path = Path(weights)
    preset = read_preset(path) if path.is_dir() else (
        None if path.exists() else find_preset(str(weights)))
    if preset is not None:
        if preset.model != name:
            raise ConfigError("weights", f"preset {preset.name!r} is for model "
                                         f"{preset.model!r}, not {name!r}",
                              f"load({preset.name!r})")
        return _load_preset(preset, config)
    if not path.is_file():
        raise DataError(path, "is neither a weights file nor a preset",
                        f"presets: {', '.join(list_presets()) or 'none'}")
    if sha256:
        verify_sha256(path, sha256)
    return _load_file(name, path, config)


def _load_preset(preset, config):
    preset.verify()
    return _load_file(preset.model, preset.weights, {**preset.model_config, **config})


def _load_file(name, path, config):
    import keras

    if path.name.endswith(".keras"):
        if config:
            raise ConfigError("config", f"{sorted(config)} cannot change a whole .keras model",
                              "load it as is, or load a .weights.h5 file with a config")
        if not path.is_file():
            raise DataError(path, "model file not found")
        model = keras.saving.load_model(path, safe_mode=True)
        if name is None:
            if getattr(model, "zoo_name", None) not in _registry():
                raise DataError(path, f"holds a {type(model).__name__}, not an era_zoo model")
        elif not isinstance(model, model_class(name)):
            raise DataError(path, f"holds a {type(model).__name__}, not "
                                  f"{model_class(name).__name__}", "load it with its own name")
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


def preset_artist_text(source):
    """The artist-text tokenizer shipped with a preset, or None.

    AudioArt-MMC reads artist text as WordPiece ids; the
    :class:`~era_zoo.sideinfo.artist_text.ArtistTextTable` that made them
    is ``artist_text/`` in its preset folder (sha256 checked here). New
    text becomes model input with ``table.tokenize([text])`` ((1, seq_len)
    int32). (A training run keeps it in ``RUN_DIR/artist_text``:
    ``era_zoo.inference.load_artist_text`` reads any source.)

    Args:
        source: a registry name (its default preset; None when it has
            none), a preset name, or a preset folder.

    Example:
        >>> table = preset_artist_text("audioart_mmc")
        >>> table.tokenize(["Johann Sebastian Bach (1685-1750). Active 1703-1750."]).shape
        (1, 128)
    """
    name = str(source)
    if name in _registry():
        preset = default_preset(name)
    elif Path(name).is_dir():
        preset = read_preset(name)
    else:
        preset = find_preset(name)
        if preset is None:
            raise ConfigError("model", f"{name!r} is neither a model, a preset nor a "
                                       "preset folder",
                              f"presets: {', '.join(list_presets()) or 'none'}")
    return None if preset is None else preset.load_artist_text()


__all__ = ["ModelInfo", "Preset", "create_model", "list_models", "load", "model_class",
           "model_info", "preset_artist_text", "register_model"]
