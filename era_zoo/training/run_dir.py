"""The run directory: one folder per training run.

    RUN_DIR/
      recipe.toml        the resolved recipe (defaults, overrides and --data
                         filled in): `era-zoo train RUN_DIR/recipe.toml`
                         trains the same thing again
      backup/            resume state (weights, optimizer, RNG, position),
                         rewritten every few steps; removed when a run ends
      checkpoints/       epoch-NNNN.keras every `every_epochs`, best.keras
      model.keras        the final model
      history.csv        one row per epoch: every loss term and metric
      tensorboard/       train/ and validation/ scalars
      projector/         validation embeddings for TensorBoard's projector
      problems.txt       data problems skipped with on_error = "skip"

Every file is written atomically (era_zoo.atomic), so a run killed at any
moment leaves either the old or the new version, never half a file.
"""
import json
from pathlib import Path

from ..atomic import write_text


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def to_toml(tree):
    """TOML text for a nested dict of strings, numbers, booleans, lists and
    dicts (what a recipe holds). ``None`` values are left out: TOML has no
    null and the recipe loader reads a missing key as its default."""
    lines = []

    def emit(table, prefix):
        scalars = {k: v for k, v in table.items()
                   if not isinstance(v, dict) and v is not None}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append(f"\n[{prefix}]")
        for key, value in scalars.items():
            lines.append(f"{_key(key)} = {toml_value(value)}")
        for key, value in tables.items():
            emit(value, f"{prefix}.{_key(key)}" if prefix else _key(key))

    emit(tree, "")
    return "\n".join(lines).lstrip("\n") + "\n"


def _key(key):
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def toml_value(value):
    """One TOML value (a string, number, boolean or list of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


class RunDir:
    """Paths of one run directory (see the module docstring)."""

    def __init__(self, root):
        self.root = Path(root)

    recipe = property(lambda self: self.root / "recipe.toml")
    backup = property(lambda self: self.root / "backup")
    checkpoints = property(lambda self: self.root / "checkpoints")
    model = property(lambda self: self.root / "model.keras")
    history = property(lambda self: self.root / "history.csv")
    tensorboard = property(lambda self: self.root / "tensorboard")
    projector = property(lambda self: self.root / "projector")
    problems = property(lambda self: self.root / "problems.txt")

    def create(self):
        self.root.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(exist_ok=True)
        return self

    def write_recipe(self, recipe):
        header = ("# Resolved recipe of this run (defaults, overrides and --data "
                  "filled in).\n# Resume or extend with: era-zoo train "
                  f"{self.recipe} --out {self.root}\n\n")
        write_text(self.recipe, header + to_toml(recipe))
