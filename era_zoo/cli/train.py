"""``era-zoo train``: train a recipe into a run directory (resumable)."""

EPILOG = """\
examples:
  era-zoo train contrastive_a2p --data /data/melon
  era-zoo train audio_cnn --data /data/msd --epochs 50 --out runs/cnn
  era-zoo train my_recipes/cnn.toml --data /data/msd
  era-zoo train audio_suc --overlay overlays/musicnn_encoder --data /data/msd
  era-zoo train baseline_cf --data /data/melon \\
      --set model.encoder.channels=[32,32,64,64,64,64,128] --batch-size 32

Run the same command again with the same --out to resume an interrupted run
(or to extend a finished one with a larger --epochs). On several machines,
start the command on each with its own TF_CONFIG and --strategy multiworker.

exit status: 0 trained; 2 a usage, recipe or data error (one line naming the
file or setting); 3 stopped on a NaN or infinite loss or weight (the batch's
tracks are named, RUN_DIR/nan_batch.tsv lists them; nothing from that batch on
is saved);
143 stopped by SIGTERM after saving the state of the batch in progress (under
multiworker SIGTERM ends a worker at once; the run resumes from the last
backup). A damaged newest backup is passed over for the previous one, with a
warning.
"""

EXIT_NAN = 3
EXIT_INTERRUPTED = 128 + 15  # the shell's status of a SIGTERM'd command


def register(subparsers):
    import argparse
    parser = subparsers.add_parser(
        "train", help="train a model from a recipe (resumable, TensorBoard, projector)",
        description="Train the model of a TOML recipe on a dataset. The run directory\n"
                    "gets the resolved recipe, periodic and best checkpoints, history.csv,\n"
                    "TensorBoard scalars, the projector of the validation embeddings and\n"
                    "the final model.keras; an interrupted run resumes where it stopped.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", metavar="RECIPE",
                        help="a recipe name (one per model, installed with era_zoo: "
                             "audio_cnn, contrastive_a2p, ...), a recipe .toml, or a run "
                             "directory's recipe.toml")
    parser.add_argument("--data", metavar="DIR",
                        help="dataset root (replaces the recipe's data.root)")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"),
                        default="default",
                        help="default: one device; mirrored: every local GPU; "
                             "multiworker: several machines, each with its TF_CONFIG")
    parser.add_argument("--epochs", type=int, metavar="N", help="training.epochs")
    parser.add_argument("--steps-per-epoch", type=int, metavar="N",
                        help="training.steps_per_epoch (default: one pass over the "
                             "training split)")
    parser.add_argument("--batch-size", type=int, metavar="N",
                        help="training.batch_size (the global batch)")
    parser.add_argument("--out", metavar="RUN_DIR",
                        help="run directory (default: runs/<recipe name>, or the run "
                             "directory of a RUN_DIR/recipe.toml)")
    parser.add_argument("--overlay", metavar="NAME|PATH", action="append", default=[],
                        help="a partial recipe applied on top of RECIPE before --set, e.g. "
                             "overlays/musicnn_encoder (paper A's era models on musicnn's "
                             "pretrained MSD front-end and mid-end) (repeatable)")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                        dest="overrides",
                        help="override any recipe value, VALUE in TOML syntax, e.g. "
                             "--set training.optimizer.learning_rate=3e-4 "
                             "(repeatable)")
    parser.set_defaults(handler=run)


def overlays(names):
    """``--overlay`` files as ``key=value`` overrides, in the order given."""
    from ..training.recipe import find_recipe, overlay_overrides
    return [item for name in names for item in overlay_overrides(find_recipe(name))]


def run(args):
    from ..training import train
    result = train(args.recipe, data=args.data, strategy=args.strategy, epochs=args.epochs,
                   steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
                   out=args.out, overrides=overlays(args.overlay) + args.overrides)
    if result.status == "nan":
        return EXIT_NAN
    if result.status == "interrupted":
        return EXIT_INTERRUPTED
    print(f"era-zoo train: done, {result.position.epoch} epoch(s); run directory "
          f"{result.run_dir}")
    return 0
