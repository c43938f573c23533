"""Any model source -> a ready zoo model, by one rule for every command.

A source is, in this order:

1. a zoo model already in memory (returned as is);
2. a training run directory (``RUN_DIR/model.keras``, else
   ``RUN_DIR/checkpoints/best.keras``; ``RUN_DIR/artist_text`` is its
   artist-text tokenizer);
3. a preset folder (``config.json`` beside ``model.weights.h5``, see
   :mod:`era_zoo.presets`), loaded by :func:`era_zoo.registry.load`;
4. a ``.keras`` file, loaded in safe mode;
5. a registered model name (its default preset, or ``weights``: another
   preset or a weights file; a model without a preset is randomly
   initialised with a warning) or a preset name, by
   :func:`era_zoo.registry.load`.
"""
from pathlib import Path

from ..errors import ConfigError, DataError

from ..presets import ARTIST_TEXT, CONFIG as PRESET_CONFIG

RUN_MODEL_FILES = ("model.keras", "checkpoints/best.keras")


def run_model_file(run_dir):
    """The model a training run directory holds: its final ``model.keras``,
    else its best checkpoint; None when it holds neither.

    Args:
        run_dir: a folder written by ``era-zoo train``.

    Example:
        >>> run_model_file("runs/audio_cnn")  # doctest: +SKIP
        PosixPath('runs/audio_cnn/model.keras')
    """
    for name in RUN_MODEL_FILES:
        path = Path(run_dir) / name
        if path.is_file():
            return path
    return None


def _is_zoo_model(source):
    """A model object of a registered zoo class (the trained families and the
    musicnn taggers alike)."""
    if isinstance(source, (str, Path)) or not hasattr(source, "zoo_name"):
        return False
    from ..registry import list_models, model_class
    return source.zoo_name in list_models() and isinstance(source, model_class(source.zoo_name))


def load_keras_file(path):
    """A zoo model saved as ``.keras``, loaded in safe mode (no code runs
    from the file) and without its training configuration.

    Args:
        path: the ``.keras`` file.

    Raises:
        DataError: the file is missing or holds something else than a zoo model.

    Example:
        >>> model = load_keras_file("runs/audio_cnn/model.keras")  # doctest: +SKIP
    """
    import keras

    from .. import models  # noqa: F401  registers the zoo's classes for deserialising

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "model file not found")
    try:
        loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    except (ValueError, TypeError, OSError) as e:
        if "safe_mode" in str(e):
            raise DataError(path, "holds Python code (a lambda) that safe mode will not run",
                            "era_zoo loads .keras files in safe mode only: rebuild the model "
                            "without Lambda layers, or pass its weights as a preset") from None
        lines = str(e).strip().splitlines()
        raise DataError(path, f"cannot load the model: {lines[0] if lines else type(e).__name__}",
                        "is it a whole Keras 3 model (.keras)?") from None
    if not _is_zoo_model(loaded):
        raise DataError(path, f"holds a {type(loaded).__name__}, not an era_zoo model")
    return loaded


def load_model(source, weights=None):
    """A zoo model from any source (see the module docstring for the order).

    Args:
        source: a registered name (``"audioart_mmc"``), a preset folder, a
            ``.keras`` file, a training run directory, or a zoo model.
        weights: for a name or a preset folder only: another preset name or
            a ``.weights.h5``/``.keras`` file; None uses the default preset.

    Returns:
        The model (a :class:`~era_zoo.models.base.ZooModel`).

    Raises:
        DataError: a file or folder that is missing or holds no model.
        ConfigError: an unknown name, or ``weights`` given with a source
            that already holds its weights.

    Example:
        >>> from era_zoo.inference import load_model
        >>> model = load_model("audio_cnn")  # its default preset  # doctest: +SKIP
        >>> model = load_model("runs/audio_cnn")  # a training run  # doctest: +SKIP
    """
    from .. import registry

    if _is_zoo_model(source):
        if weights is not None:
            raise ConfigError("weights", "cannot change the weights of a model in memory",
                              "call model.load_weights(...) instead")
        return source
    path = Path(str(source))
    if path.is_dir():
        if (path / PRESET_CONFIG).is_file():
            return registry.load(str(path)) if weights is None else \
                registry.load(str(path), weights=weights)
        _no_weights(weights, path)
        model_file = run_model_file(path)
        if model_file is None:
            raise DataError(path, "holds no model: neither a training run (model.keras or "
                                  f"checkpoints/best.keras) nor a preset ({PRESET_CONFIG})",
                            "give a run directory, a preset folder, a .keras file or a name")
        return load_keras_file(model_file)
    if path.suffix == ".keras":
        _no_weights(weights, path)
        return load_keras_file(path)
    if path.exists() or path.parent != Path("."):
        problem = ("is neither a model file (.keras), a training run nor a preset folder"
                   if path.exists() else "not found")
        raise DataError(path, problem, "give a registered name, a preset folder, a .keras file or a "
                        "training run directory")
    return registry.load(str(source)) if weights is None else \
        registry.load(str(source), weights=weights)


def _no_weights(weights, path):
    if weights is not None:
        raise ConfigError("weights", f"{path} already holds its weights",
                          "--weights applies to a registered name or a preset folder")


def load_artist_text(source):
    """The artist-text tokenizer saved with a model source, or None.

    A training run keeps it in ``RUN_DIR/artist_text`` (a ``.keras`` file of
    the run finds it there too); a preset ships it in its folder
    (:func:`era_zoo.registry.preset_artist_text`, sha256 checked).

    Args:
        source: what :func:`load_model` was given.

    Returns:
        An :class:`~era_zoo.sideinfo.artist_text.ArtistTextTable` (its
        ``tokenize`` gives the model's token ids) or None.

    Example:
        >>> tokenizer = load_artist_text("audioart_mmc")  # its default preset's
        >>> tokenizer.tokenize(["Baroque composer from Leipzig"]).shape
        (1, 128)
    """
    from .. import registry
    from ..sideinfo.artist_text import ArtistTextTable

    if _is_zoo_model(source):
        return None
    path = Path(str(source))
    if path.is_dir() and not (path / PRESET_CONFIG).is_file():
        run = path
    elif path.suffix == ".keras":
        run = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    else:
        return registry.preset_artist_text(str(source))
    return ArtistTextTable.load(run / ARTIST_TEXT) if (run / ARTIST_TEXT).is_dir() else None
