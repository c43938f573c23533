"""`era-zoo train` runs every recipe end to end on fixture data (tiny model
overrides) and leaves a complete run directory: resolved recipe,
checkpoints, history, TensorBoard scalars of every loss term, projector."""
import csv
import json
import math
import tomllib

import numpy as np
import pytest

from era_zoo.cli import main
from era_zoo.registry import list_models
from era_zoo.training.recipe import find_recipe
from helpers import event_scalars

PAPER_A = tuple(list_models(family="era"))
PAPER_B = tuple(list_models(family="contrastive") + list_models(family="baseline"))
LOSS_TERMS = {"audio_cnn": ("ce",), "audio_suc": ("ce", "era_contrastive"),
              "audioart_mmc": ("ce", "era_contrastive", "mmc"),
              "contrastive_a2g": ("a2g",), "contrastive_a2p": ("a2p",),
              "contrastive_a2g_a2p_g2p": ("a2g", "a2p", "g2p"),
              "baseline_genre": ("genre_bce",), "baseline_cf": ("cf_mse",),
              "baseline_genre_cf": ("genre_bce", "cf_mse")}

TINY = ["--epochs", "1", "--steps-per-epoch", "2", "--set", "data.frames=32",
        "--set", "checkpoints.every_epochs=1", "--set", "projector.max_tracks=6",
        "--set", "training.validation_steps=1"]
TINY_B = TINY + ["--batch-size", "4",
                 "--set", "model.encoder={channels=[4,4],pools=[[4,4],[4,4]],hidden_dim=16}",
                 "--set", "sideinfo.cf.factors=8", "--set", "sideinfo.cf.epochs=5",
                 "--set", "sideinfo.genre.dim=16"]
TINY_A = TINY + ["--batch-size", "2",
                 "--set", "model.encoder={channels=[4,4],pools=[[8,4],[8,4]],hidden_dim=16}"]
TINY_TEXT = ["--set", "sideinfo.text.vocab_size=60", "--set", "sideinfo.text.seq_len=16",
             "--set", "sideinfo.text.encoder={embedding_dim=16,num_heads=2,intermediate_dim=16}"]


@pytest.fixture(scope="module")
def msd(tmp_path_factory):
    from era_zoo.data.fixtures import write_msd_fixture
    root = tmp_path_factory.mktemp("msd")
    write_msd_fixture(root, n_tracks=24, seconds=1)
    return root


def _train(name, data, out, extra=()):
    tiny = TINY_A if name in PAPER_A else TINY_B
    if name == "audioart_mmc":
        tiny = tiny + TINY_TEXT
    # The recipe by name: era-zoo train finds the packaged recipe.
    args = ["train", name, "--data", str(data), "--out", str(out)]
    return main(args + tiny + list(extra))


def _history(run):
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


# contrastive_a2g_a2p_g2p, the ninth recipe, runs (for two epochs) in
# test_run_dir_scalars_checkpoints_and_projector below.
@pytest.mark.parametrize("name", [n for n in PAPER_A + PAPER_B
                                  if n != "contrastive_a2g_a2p_g2p"])
def test_every_recipe_trains_end_to_end(name, melon, msd, tmp_path):
    run = tmp_path / "run"
    assert _train(name, msd if name in PAPER_A else melon, run) == 0
    for path in ("recipe.toml", "model.keras", "history.csv", "checkpoints/best.keras",
                 "checkpoints/epoch-0001.keras", "backup/state.json",
                 "tensorboard/projector/projector_config.pbtxt",
                 "tensorboard/projector/metadata.tsv"):
        assert (run / path).is_file(), path
    rows = _history(run)
    assert [r["epoch"] for r in rows] == ["1"]
    for term in ("loss",) + LOSS_TERMS[name]:
        assert math.isfinite(float(rows[0][term])) and math.isfinite(float(rows[0][f"val_{term}"]))
    resolved = tomllib.loads((run / "recipe.toml").read_text())
    assert resolved["model"]["name"] == name
    assert resolved["training"]["batch_size"] == (2 if name in PAPER_A else 4)
    assert resolved["data"]["root"] == str(msd if name in PAPER_A else melon)


def test_run_dir_scalars_checkpoints_and_projector(melon, tmp_path):
    import keras
    name = "contrastive_a2g_a2p_g2p"
    run = tmp_path / "run"
    assert _train(name, melon, run, ["--epochs", "2"]) == 0
    rows = _history(run)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert tomllib.loads((run / "recipe.toml").read_text())["model"]["name"] == name
    train, valid = event_scalars(run / "tensorboard/train"), event_scalars(run / "tensorboard/validation")
    for row in rows:
        epoch = int(row["epoch"])
        for term in ("loss",) + LOSS_TERMS[name]:
            assert train[(f"epoch_{term}", epoch)] == pytest.approx(float(row[term]), rel=1e-6)
            assert valid[(f"epoch_{term}", epoch)] == pytest.approx(float(row[f"val_{term}"]),
                                                                   rel=1e-6)
    assert train[("epoch_learning_rate", 1)] == pytest.approx(1e-4)
    # update_freq "auto" on 2-step epochs: a batch point every step, steps
    # numbered over the run.
    assert sorted(s for (tag, s) in train if tag == "batch_loss") == [1, 2, 3, 4]
    # best.keras is the epoch with the lowest val_loss (best.json says which).
    best_epoch = min(rows, key=lambda r: float(r["val_loss"]))["epoch"]
    assert json.loads((run / "checkpoints/best.json").read_text())["epoch"] == int(best_epoch)
    for ckpt in ("epoch-0001", "epoch-0002"):
        assert (run / f"checkpoints/{ckpt}.keras").is_file()
    final = keras.saving.load_model(run / "model.keras", safe_mode=True, compile=False)
    last = keras.saving.load_model(run / "checkpoints/epoch-0002.keras", safe_mode=True,
                                   compile=False)
    for a, b in zip(final.weights, last.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Projector: the valid tracks at both levels, metadata with year,
    # decade, genre, artist (what TensorBoard serves: tests/test_projector.py).
    lines = (run / "tensorboard/projector/metadata.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["track_id", "year", "decade", "genre", "artist"]
    import tensorflow as tf
    reader = tf.train.load_checkpoint(str(run / "tensorboard/projector"))
    # Trunk: 4 channels x (48 bands / 4 / 4) x (32 frames / 4 / 4) = 24 values.
    assert reader.get_variable_to_shape_map() == {f"{name}/trunk": [len(lines) - 1, 24],
                                                  f"{name}/projection": [len(lines) - 1, 128]}
    for line in lines[1:]:
        track_id, year, decade, genre, artist = line.split("\t")
        assert decade == f"{int(year) // 10 * 10}s" and genre and artist


def test_batch_scalars_auto_frequency(tmp_path):
    from era_zoo.training.callbacks import Position, Scalars, batch_log_every

    # "auto": max(1, steps_per_epoch // 20); a number is kept as given.
    assert [batch_log_every("auto", n) for n in (1, 9, 39, 40, 45, 1000)] == [1, 1, 1, 2, 2, 50]
    assert batch_log_every(50, 9) == 50 and batch_log_every(0, 9) == 0
    # 45-step epochs: a point every 2nd global step (22 or 23 an epoch).
    position = Position()
    scalars = Scalars(tmp_path, position, batch_log_every("auto", 45))
    for epoch in range(2):
        for _ in range(45):
            scalars.on_train_batch_end(0, {"loss": 1.0})
            position.global_step += 1  # the trainer's ResumeCallback does this
    scalars.on_train_end()
    steps = sorted(s for (tag, s) in event_scalars(tmp_path / "train") if tag == "batch_loss")
    assert steps == list(range(2, 91, 2))


def test_nan_loss_stops_the_run_without_saving_it(melon, tmp_path):
    run = tmp_path / "run"
    code = _train("baseline_cf", melon, run,
                  ["--epochs", "3", "--steps-per-epoch", "4",
                   "--set", "training.optimizer.learning_rate=1e30",
                   "--set", "checkpoints.backup_every_steps=1"])
    assert code == 3
    assert not (run / "model.keras").exists()
    # Every state saved before the stop holds finite values only.
    state = json.loads((run / "backup/state.json").read_text())
    assert state["position"]["epoch"] == 0
    with np.load(run / "backup" / state["arrays"]) as saved:
        assert all(np.isfinite(saved[k]).all() for k in saved.files)


def test_cli_reports_bad_recipe_without_traceback(melon, tmp_path, capsys):
    code = main(["train", str(find_recipe("audio_cnn")), "--data", str(melon),
                 "--set", "data.reader=melon",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert "data.mel" in err and "48-band" in err
    assert not (tmp_path / "run").exists()


def test_export_turns_a_run_into_a_preset_that_loads_the_same_model(msd, tmp_path, capsys):
    import keras

    import era_zoo
    from era_zoo.presets import read_preset
    from era_zoo.registry import preset_artist_text
    from era_zoo.sideinfo.artist_text import ArtistTextTable

    run, out = tmp_path / "run", tmp_path / "shared" / "mmc_msd"
    assert _train("audioart_mmc", msd, run, ["--set", "projector.enabled=false"]) == 0
    assert main(["export", str(run), str(out), "--license", "CC BY 4.0"]) == 0
    assert "preset 'mmc_msd' (audioart_mmc)" in capsys.readouterr().out
    preset = read_preset(out).verify()
    assert (preset.model, preset.default, preset.metadata["license"]) == (
        "audioart_mmc", False, "CC BY 4.0")
    assert (out / "recipe.toml").read_text() == (run / "recipe.toml").read_text()
    # The best checkpoint's epoch and values, as history.csv has them.
    best = json.loads((run / "checkpoints/best.json").read_text())["epoch"]
    row = next(r for r in _history(run) if r["epoch"] == str(best))
    assert preset.metadata["metrics"]["epoch"] == best
    assert preset.metadata["metrics"]["validation"]["loss"] == float(row["val_loss"])

    # The tokenizer travels with it.
    tokens = preset_artist_text(out)
    trained_with = ArtistTextTable.load(run / "artist_text")
    assert tokens.vocabulary == trained_with.vocabulary
    np.testing.assert_array_equal(tokens.tokens, trained_with.tokens)

    # Loaded by folder, it predicts what the run's checkpoint predicts.
    original = keras.saving.load_model(run / "checkpoints/best.keras", safe_mode=True)
    loaded = era_zoo.load(out)
    rng = np.random.default_rng(0)
    batch = original.example_batch(4)
    batch["mel"] = rng.normal(size=batch["mel"].shape).astype(np.float32)
    batch["artist_text"] = trained_with.tokens[rng.integers(0, len(trained_with.tokens), 4)]
    for key in ("logits", "embedding"):
        np.testing.assert_array_equal(np.asarray(loaded(batch)[key]),
                                      np.asarray(original(batch)[key]))

    # Exporting over it needs --overwrite; --checkpoint final is model.keras.
    assert main(["export", str(run), str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["export", str(run), str(out), "--checkpoint", "final", "--overwrite"]) == 0
    final = keras.saving.load_model(run / "model.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(era_zoo.load(out)(batch)["logits"]),
                                  np.asarray(final(batch)["logits"]))
