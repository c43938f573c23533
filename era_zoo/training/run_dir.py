"""The run directory: one folder per training run.

    RUN_DIR/
      recipe.toml        the resolved recipe (defaults, overrides and --data
                         filled in): `era-zoo train RUN_DIR/recipe.toml`
                         trains the same thing again
      backup/            resume state (weights, optimizer, RNG, position),
                         rewritten every few steps, the previous one kept
      checkpoints/       epoch-NNNN.keras every `every_epochs`, best.keras
      model.keras        the final model
      history.csv        one row per epoch: every loss term and metric
      tensorboard/       TensorBoard runs: train/ and validation/ scalars,
                         projector/ the validation embeddings (trunk and
                         projection) for the Projector tab; see
                         era_zoo.training.projector. `tensorboard --logdir
                         RUN_DIR` (or the folder above several runs) shows
                         scalars and projector together
      problems.txt       data problems skipped with on_error = "skip"
      nan_batch.tsv      after a NaN stop: the tracks of the batch it happened
                         at, the likeliest culprit first

Every file is written atomically (era_zoo.atomic), so a run killed at any
moment leaves either the old or the new version, never half a file.
"""
from pathlib import Path

from ..atomic import write_text
from ..tomlio import to_toml


class RunDir:
    """Paths of one run directory (see the module docstring).

    Args:
        root: the run directory.

    Example:
        >>> RunDir("runs/a2p").projector.as_posix()
        'runs/a2p/tensorboard/projector'
    """

    def __init__(self, root):
        self.root = Path(root)

    recipe = property(lambda self: self.root / "recipe.toml")
    backup = property(lambda self: self.root / "backup")
    checkpoints = property(lambda self: self.root / "checkpoints")
    model = property(lambda self: self.root / "model.keras")
    history = property(lambda self: self.root / "history.csv")
    tensorboard = property(lambda self: self.root / "tensorboard")
    projector = property(lambda self: self.root / "tensorboard" / "projector")
    problems = property(lambda self: self.root / "problems.txt")
    nan_batch = property(lambda self: self.root / "nan_batch.tsv")

    def create(self):
        """Make the run directory and its checkpoints folder; returns self."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(exist_ok=True)
        return self

    def write_recipe(self, recipe):
        """Write the resolved ``recipe`` (a nested dict) as ``recipe.toml``,
        headed by the command that resumes the run.

        Args:
            recipe: the resolved recipe, as :func:`~era_zoo.training.recipe.load_recipe`
                returns it.
        """
        header = ("# Resolved recipe of this run (defaults, overrides and --data "
                  "filled in).\n# Resume or extend with: era-zoo train "
                  f"{self.recipe} --out {self.root}\n\n")
        write_text(self.recipe, header + to_toml(recipe))
