"""Presets: trained models as folders (keras-hub's layout), found by name.

    <preset name>/
      config.json        {"format", "model": "<registry name>",
                          "config": {the model's keyword arguments, "mel" among them}}
      model.weights.h5   the weights (Keras .weights.h5) of the model built from config.json
      metadata.json      {"format", "default": whether load(model) uses it, "description",
                          "license", "training_data", "recipe", "epochs", "metrics",
                          "trained", "card": "README.md",
                          "files": {path: sha256 of every other file in the folder}}
      README.md          the model card
      artist_text/       the artist-text tokenizer (ArtistTextTable.save), for a
                         model that reads artist text (AudioArt-MMC)
      recipe.toml        the resolved training recipe (presets made by `era-zoo export`)

The presets shipped with era_zoo are the folders beside this file (installed
with the package). ``$ERA_ZOO_PRESETS`` names more directories of preset
folders (several: separated by ``os.pathsep``), searched first: a preset
there shadows a shipped one of the same name, and its ``"default": true``
takes precedence for its model.

``pretrained/train_presets.py`` makes the shipped presets; ``era-zoo export
RUN_DIR OUT_DIR`` (:func:`export_run`) makes one from any training run.
"""
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_dir, write_json, write_text
from ..errors import ConfigError, DataError

PACKAGE_PRESETS = Path(__file__).resolve().parent
FORMAT = "era_zoo.preset/1"
CONFIG, WEIGHTS, METADATA, CARD = "config.json", "model.weights.h5", "metadata.json", "README.md"
ARTIST_TEXT = "artist_text"


def sha256_of(path, chunk=1 << 20):
    """Hex sha256 digest of a file.

    Args:
        path: the file.

    Example:
        >>> sha256_of("era_zoo/presets/audio_cnn_demo/model.weights.h5")[:8]
        'd21e2217'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path, expected):
    """Raise DataError unless the file's sha256 is ``expected``.

    Args:
        path: the file.
        expected: hex digest.

    Example:
        >>> verify_sha256(path, sha256_of(path))
    """
    actual = sha256_of(path)
    if actual.lower() != str(expected).lower():
        raise DataError(path, f"sha256 mismatch: expected {expected}, file has {actual}",
                        "the file is corrupt, truncated or a different version: "
                        "download or export it again")


def _read_json(path):
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(path, f"is not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise DataError(path, "must hold a JSON object")
    return value


@dataclass(frozen=True)
class Preset:
    """One preset folder, read by :func:`read_preset`.

    Attributes: ``name`` (the folder's name), ``path``, ``config`` (config.json),
    ``metadata`` (metadata.json).

    Example:
        >>> preset = find_preset("audio_cnn_demo")
        >>> preset.model, preset.default, preset.metadata["metrics"]["test"]["within_k"]
        ('audio_cnn', True, 0.5135)
    """
    name: str
    path: Path
    config: dict
    metadata: dict

    @property
    def model(self):
        """The registry name of the model."""
        return self.config["model"]

    @property
    def model_config(self):
        """The model's keyword arguments (a fresh copy)."""
        return json.loads(json.dumps(self.config["config"]))

    @property
    def mel(self):
        """The mel preset (name or MelSpec dict) the weights expect; None: the model's default."""
        return self.config["config"].get("mel")

    @property
    def default(self):
        return bool(self.metadata.get("default", False))

    @property
    def weights(self):
        return self.path / WEIGHTS

    @property
    def card(self):
        """Path of the model card, or None."""
        card = self.metadata.get("card")
        return self.path / card if card else None

    def verify(self):
        """Check every file against metadata.json's sha256 and that no file
        is unlisted; raise DataError naming the file otherwise."""
        files = self.metadata["files"]
        for rel, digest in files.items():
            path = self.path / rel
            if not path.is_file():
                raise DataError(path, f"file of preset {self.name!r} is missing",
                                "copy or export the whole preset folder again")
            verify_sha256(path, digest)
        for path in _files(self.path):
            rel = path.relative_to(self.path).as_posix()
            if rel != METADATA and rel not in files:
                raise DataError(path, f"is not listed in {METADATA} of preset {self.name!r}",
                                "remove it, or export the preset again to list it")
        return self

    def load_artist_text(self):
        """The preset's ArtistTextTable (sha256 checked), or None when it has none."""
        if not (self.path / ARTIST_TEXT).is_dir():
            return None
        self.verify()
        from ..sideinfo.artist_text import ArtistTextTable
        return ArtistTextTable.load(self.path / ARTIST_TEXT)


def _files(folder):
    """Files under ``folder``, hidden ones (.tmp-*, .DS_Store) left out."""
    return sorted(p for p in Path(folder).rglob("*")
                  if p.is_file() and not any(part.startswith(".")
                                             for part in p.relative_to(folder).parts))


def read_preset(path):
    """The preset in folder ``path`` (its JSON files checked, sha256 not yet:
    :meth:`Preset.verify` does that, and loading calls it).

    Args:
        path: a preset folder.

    Example:
        >>> read_preset("exported/my_cnn").model
        'audio_cnn'
    """
    path = Path(path)
    for file in (CONFIG, METADATA):
        if not (path / file).is_file():
            raise DataError(path, f"is not a preset folder (no {file})",
                            "make one with `era-zoo export RUN_DIR OUT_DIR`")
    config, metadata = _read_json(path / CONFIG), _read_json(path / METADATA)
    for source, data, keys in ((CONFIG, config, ("model", "config")),
                               (METADATA, metadata, ("files",))):
        for key in keys:
            if key not in data:
                raise DataError(path / source, f"lacks {key!r}")
        if data.get("format") != FORMAT:
            raise DataError(path / source, f"format {data.get('format')!r}, expected {FORMAT!r}")
    if not isinstance(config["config"], dict) or not isinstance(metadata["files"], dict):
        raise DataError(path, f"'config' of {CONFIG} and 'files' of {METADATA} must be objects")
    return Preset(path.name, path, config, metadata)


def preset_dirs():
    """Directories searched for preset folders: ``$ERA_ZOO_PRESETS``'s, then the package's."""
    extra = os.environ.get("ERA_ZOO_PRESETS", "")
    return [Path(p) for p in extra.split(os.pathsep) if p] + [PACKAGE_PRESETS]


def list_presets(model=None):
    """{preset name: Preset} of every preset folder found (see the module docstring).

    Args:
        model: only the presets of this registry name.

    Example:
        >>> sorted(list_presets(model="audio_cnn"))
        ['audio_cnn_demo']
    """
    found = {}
    for root in preset_dirs():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if folder.name not in found and (folder / METADATA).is_file():
                preset = read_preset(folder)
                if model in (None, preset.model):
                    found[folder.name] = preset
    return found


def find_preset(name):
    """The preset called ``name``, or None.

    Args:
        name: a preset (folder) name.

    Example:
        >>> find_preset("audioart_mmc_demo").model
        'audioart_mmc'
    """
    return list_presets().get(str(name))


def default_preset(model):
    """The preset ``era_zoo.load(model)`` uses: the first one marked
    ``"default": true`` for ``model`` (``$ERA_ZOO_PRESETS`` first), or None.

    Args:
        model: a registry name.

    Example:
        >>> default_preset("audio_suc").name
        'audio_suc_demo'
    """
    return next((p for p in list_presets(model).values() if p.default), None)


def write_preset(out_dir, model, *, metadata=None, card=None, artist_text=None,
                 extra_files=None, overwrite=False):
    """Write ``model`` as a preset folder (atomically: the whole folder
    appears at once) and return it as a :class:`Preset`.

    Args:
        out_dir: the preset folder; its name is the preset's name.
        model: a zoo model (its registry name and ``get_config()`` go to
            config.json, its weights to model.weights.h5).
        metadata: fields of metadata.json (``default``, ``description``,
            ``license``, ``training_data``, ``recipe``, ``epochs``,
            ``metrics``, ...); ``format``, ``card`` and ``files`` are filled in.
        card: the model card's Markdown text (README.md).
        artist_text: the ArtistTextTable the model was trained with, or the
            folder one was saved to.
        extra_files: {name in the folder: text} written beside them (e.g.
            ``{"recipe.toml": ...}``).
        overwrite: replace an existing folder (otherwise an error).

    Example:
        >>> write_preset("my_presets/cnn_msd", model, metadata={"license": "CC BY 4.0"},
        ...              card="# cnn_msd\\n")
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise ConfigError("out_dir", f"{out_dir} exists and is not empty",
                          "choose a new folder, or pass overwrite=True (--overwrite)")
    from ..registry import model_info
    name = getattr(model, "zoo_name", None)
    if name is None or type(model) is not model_info(name).cls:
        raise ConfigError("model", f"{type(model).__name__} is not a registered zoo model",
                          "register its class with era_zoo.registry.register_model")
    config = {k: v for k, v in model.get_config().items() if k not in ("name", "trainable")}
    meta = dict(metadata or {})
    meta.setdefault("default", False)
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / CONFIG, {"format": FORMAT, "model": name, "config": config})
        model.save_weights(tmp / WEIGHTS)
        if card is not None:
            write_text(tmp / CARD, card)
            meta["card"] = CARD
        if artist_text is not None:
            if isinstance(artist_text, (str, os.PathLike)):
                shutil.copytree(artist_text, tmp / ARTIST_TEXT)
            else:
                artist_text.save(tmp / ARTIST_TEXT)
        for rel, text in (extra_files or {}).items():
            write_text(tmp / rel, text)
        meta.update(format=FORMAT, files={p.relative_to(tmp).as_posix(): sha256_of(p)
                                          for p in _files(tmp)})
        write_json(tmp / METADATA, meta)
    return read_preset(out_dir).verify()


def export_run(run_dir, out_dir, *, checkpoint="auto", default=False, description=None,
               license=None, overwrite=False):
    """Turn a training run directory (``era-zoo train``) into a preset folder
    that ``era_zoo.load(out_dir)`` loads, so trained models can be shared.

    The folder gets the model's config and weights, the run's artist-text
    tokenizer (models that read artist text), its resolved ``recipe.toml``,
    the exported epoch's training and validation values from history.csv,
    and a model card.

    Args:
        run_dir: the run directory (recipe.toml, checkpoints/, model.keras, ...).
        out_dir: the preset folder to write; its name is the preset's name.
        checkpoint: "auto" (checkpoints/best.keras when the run kept one,
            else model.keras), "best", "final" (model.keras) or a path to a
            ``.keras`` file of the run.
        default: mark it the default preset of its model (``era_zoo.load(name)``
            uses it when its folder is in ``$ERA_ZOO_PRESETS``).
        description: one line for metadata.json (default: model, recipe, data).
        license: the weights' licence (recorded as given; default "unspecified").
        overwrite: replace an existing ``out_dir``.

    Example:
        >>> export_run("runs/audio_cnn", "shared/audio_cnn_msd", license="CC BY 4.0")
        >>> model = era_zoo.load("shared/audio_cnn_msd")
    """
    import csv
    import datetime
    import tomllib

    from ..registry import load, model_info
    from ..training.run_dir import RunDir

    run = RunDir(run_dir)
    if not run.recipe.is_file():
        raise DataError(run.root, "is not a training run directory (no recipe.toml)",
                        "give the --out folder of `era-zoo train`")
    recipe_text = run.recipe.read_text(encoding="utf-8")
    try:
        recipe = tomllib.loads(recipe_text)
    except tomllib.TOMLDecodeError as e:
        raise DataError(run.recipe, f"is not valid TOML ({e})") from None
    best = run.checkpoints / "best.keras"
    files = {"best": best, "final": run.model,
             "auto": best if best.is_file() else run.model}
    path = files.get(checkpoint, Path(checkpoint))
    if not path.is_file():
        raise DataError(path, "model file not found",
                        "a finished run has model.keras; checkpoints.best keeps best.keras")
    model = load(path)
    info = model_info(model.zoo_name)

    rows = []
    if run.history.is_file():
        with run.history.open(newline="") as f:
            rows = list(csv.DictReader(f))
    epoch = len(rows) or None
    if path.resolve() == best.resolve() and (run.checkpoints / "best.json").is_file():
        epoch = _read_json(run.checkpoints / "best.json").get("epoch", epoch)
    row = next((r for r in rows if r.get("epoch") == str(epoch)), {})
    metrics = {"epoch": epoch,
               "train": {k: float(v) for k, v in row.items()
                         if k != "epoch" and not k.startswith("val_") and v},
               "validation": {k[4:]: float(v) for k, v in row.items()
                              if k.startswith("val_") and v}}
    data = recipe.get("data", {})
    training_data = f"{data.get('reader')} reader on {data.get('root')}"
    description = description or (f"{info.title} ({info.name}) trained with its recipe on "
                                   f"{training_data}")
    metadata = {"default": bool(default), "description": description,
                "license": license or "unspecified", "training_data": training_data,
                "recipe": "recipe.toml", "epochs": len(rows), "metrics": metrics,
                "trained": datetime.date.fromtimestamp(path.stat().st_mtime).isoformat()}
    lines = [f"# {Path(out_dir).name}: {info.title} exported from a training run", "",
             f"- Model: `{info.name}` ({info.title}, family {info.family}); load with "
             f"`era_zoo.load(\"{Path(out_dir).name}\")` with this folder's parent in "
             "$ERA_ZOO_PRESETS, or `era_zoo.load(PATH_TO_THIS_FOLDER)`.",
             f"- Checkpoint: `{path.relative_to(run.root) if path.is_relative_to(run.root) else path}`"
             f", epoch {epoch} of {len(rows)}.",
             "- Recipe: `recipe.toml` in this folder (the run's resolved recipe).",
             f"- Training data: {training_data}.",
             f"- Input: mel preset {model.mel if isinstance(model.mel, str) else 'custom'}, "
             f"{model.audio_encoder.n_frames}-frame chunks.",
             f"- License: {metadata['license']}.", ""]
    if metrics["validation"]:
        lines += ["## Values at the exported epoch", "", "| term | train | validation |",
                  "|---|---|---|"]
        lines += [f"| {k} | {metrics['train'].get(k, float('nan')):.4g} | {v:.4g} |"
                  for k, v in sorted(metrics["validation"].items())]
        lines.append("")
    artist_text = run.root / ARTIST_TEXT
    return write_preset(out_dir, model, metadata=metadata, card="\n".join(lines),
                        artist_text=artist_text if artist_text.is_dir() else None,
                        extra_files={"recipe.toml": recipe_text}, overwrite=overwrite)
