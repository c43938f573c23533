"""``era-zoo export``: a training run directory -> a preset folder that
``era_zoo.load(folder)`` and every ``--model`` option load, to share a model."""

EPILOG = """\
examples:
  era-zoo export runs/audio_cnn presets/audio_cnn_msd --license "CC BY 4.0"
  era-zoo export runs/a2p presets/a2p_melon --checkpoint final \\
      --description "A2P on the Melon Playlist Dataset, 400 epochs"

Then: era_zoo.load("presets/audio_cnn_msd"), era-zoo predict FILE --model
presets/audio_cnn_msd, or ERA_ZOO_PRESETS=presets to load it by its name.
"""


def register(subparsers):
    import argparse
    parser = subparsers.add_parser(
        "export", help="turn a training run into a preset folder (config, weights, "
                       "sha256, metrics, card) to share",
        description="Write the model of a training run directory as a preset folder:\n"
                    "config.json, model.weights.h5, metadata.json (sha256 of every file,\n"
                    "the exported epoch's values, licence), README.md, the run's\n"
                    "recipe.toml and, for AudioArt-MMC, its artist-text tokenizer.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of `era-zoo train`")
    parser.add_argument("out_dir", metavar="OUT_DIR",
                        help="the preset folder to write (its name is the preset's name)")
    parser.add_argument("--checkpoint", default="auto", metavar="best|final|FILE",
                        help="auto (default): checkpoints/best.keras when the run kept it, "
                             "else model.keras; best; final (model.keras); or a .keras file")
    parser.add_argument("--description", help="one line for metadata.json")
    parser.add_argument("--license", help="the weights' licence, e.g. \"CC BY 4.0\"")
    parser.add_argument("--default", action="store_true",
                        help="mark it its model's default preset (used by era_zoo.load(NAME) "
                             "when its parent folder is in $ERA_ZOO_PRESETS)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT_DIR")
    parser.set_defaults(handler=run)


def run(args):
    from ..presets import export_run
    preset = export_run(args.run_dir, args.out_dir, checkpoint=args.checkpoint,
                        default=args.default, description=args.description,
                        license=args.license, overwrite=args.overwrite)
    print(f"era-zoo export: preset {preset.name!r} ({preset.model}) written to {preset.path}; "
          f"{len(preset.metadata['files'])} files with sha256 in metadata.json")
    return 0
