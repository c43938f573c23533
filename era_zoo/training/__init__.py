"""Training: recipes (TOML), the trainer (resume, checkpoints, TensorBoard),
the embedding projector.

    import era_zoo
    result = era_zoo.train("contrastive_a2p", data="/data/melon", epochs=2, out="runs/a2p")
"""
from pathlib import Path

from .recipe import load_recipe


def train(recipe, data=None, *, strategy="default", epochs=None, steps_per_epoch=None,
          batch_size=None, out=None, overrides=(), verbose="auto", progress=True):
    """Train a recipe and return a :class:`~era_zoo.training.trainer.TrainResult`.

    ``recipe``: a recipe name (``"contrastive_a2p"``, see
    :func:`~era_zoo.training.recipe.find_recipe`), a path to a TOML recipe or a
    dict of the same shape. ``data``:
    the dataset root (replaces ``data.root``). ``strategy``: "default",
    "mirrored" or "multiworker" (TF_CONFIG), or a tf.distribute.Strategy.
    ``epochs``/``steps_per_epoch``/``batch_size`` override the recipe's
    ``training`` values; ``overrides`` are more ``"key=value"`` settings.
    ``out``: the run directory (default ``runs/<recipe name>``, or the run
    directory whose ``recipe.toml`` is given); a run directory holding a
    resume state continues from it. The projector of the
    validation tracks (trunk and projection embeddings) is written to
    ``out/tensorboard/projector`` when the recipe's ``projector.enabled`` is
    true, so ``tensorboard --logdir out`` shows it beside the scalars.
    """
    from ..frameworks import has_tensorflow
    from .data import TrainingData
    from .projector import project_table
    from .run_dir import RunDir
    from .strategy import is_chief, make_strategy
    from .trainer import run_training

    overrides = list(overrides)
    for key, value in (("training.epochs", epochs),
                       ("training.steps_per_epoch", steps_per_epoch),
                       ("training.batch_size", batch_size)):
        if value is not None:
            overrides.append(f"{key}={int(value)}")
    resolved = load_recipe(recipe, data_root=data, overrides=overrides)
    # MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    if isinstance(strategy, str):
        strategy = make_strategy(strategy)
    if out is None:
        if isinstance(recipe, dict):
            out = Path("runs") / resolved["model"]["name"]
        elif Path(recipe).name == "recipe.toml":
            out = Path(recipe).parent  # a run directory's own recipe: resume it
        else:
            out = Path("runs") / Path(recipe).stem
    training_data = TrainingData(resolved, progress=progress)
    if training_data.problems:
        print(f"data problems (left out):\n{training_data.problems}", flush=True)
    if training_data.artist_text is not None and is_chief():
        # The tokenizer the model was trained with: evaluation and prediction
        # feed artist text through it (era-zoo bench era --artist-text).
        training_data.artist_text.save(Path(out) / "artist_text")
    result = run_training(resolved, out, training_data, strategy=strategy, verbose=verbose)
    projector = resolved["projector"]
    wanted = result.status == "completed" and projector["enabled"] and is_chief()
    if wanted and not has_tensorflow():
        print("era-zoo train: TensorFlow is not installed: no projector (it is a "
              "TensorFlow checkpoint); history.csv and the scalars are written", flush=True)
    elif wanted:
        split = resolved["data"][f"{projector['split']}_split"] if projector["split"] in (
            "train", "valid") else projector["split"]
        project_table(result.model, training_data.table.split(split), RunDir(out).projector,
                      model_name=resolved["model"]["name"], max_tracks=projector["max_tracks"],
                      seed=resolved["training"]["seed"],
                      on_error=resolved["data"]["on_error"])
    return result
