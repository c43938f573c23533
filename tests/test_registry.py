"""The registry: models register themselves by decorator, the list exists
once; create_model / load from names, preset folders, weight files; sha256
checks; `era-zoo export` of a training run loads back as a preset."""
import inspect
import json
import shutil

import numpy as np
import pytest

import era_zoo
from era_zoo import models
from era_zoo.errors import ConfigError, DataError
from era_zoo.presets import read_preset, sha256_of, write_preset
from era_zoo.registry import create_model, list_models, load, model_info, register_model
from helpers import tiny_batch, tiny_config, tiny_model

# The nine models of the two papers, by family, in the order of models/__init__.py.
PAPER_MODELS = {"era": ["audio_cnn", "audio_suc", "audioart_mmc"],
                "contrastive": ["contrastive_a2g", "contrastive_a2p", "contrastive_a2g_a2p_g2p"],
                "baseline": ["baseline_genre", "baseline_cf", "baseline_genre_cf"]}
PAPERS = sum(PAPER_MODELS.values(), [])


def test_every_model_class_registers_itself_once():
    import keras
    exported = {getattr(models, n) for n in models.__all__}
    classes = {c for c in exported if inspect.isclass(c) and issubclass(c, keras.Model)
               and c is not models.ZooModel}
    assert {model_info(n).cls for n in list_models()} == classes
    for name in list_models():
        info = model_info(name)
        assert info.cls.zoo_name == name
        assert info.mel == getattr(info.cls, "default_mel", None)
    for family, names in PAPER_MODELS.items():
        assert list_models(family=family) == names
    assert list_models()[:len(PAPERS)] == PAPERS
    assert era_zoo.list_models() == list_models()
    with pytest.raises(ConfigError, match="no model of family 'eras'"):
        list_models(family="eras")


def test_model_info_reads_the_class():
    assert model_info("audioart_mmc").reads("artist_text")
    assert not model_info("audio_cnn").reads("artist_text")
    assert model_info("baseline_genre_cf").target_keys == ("genre_multi_hot", "cf")
    assert (model_info("contrastive_a2p").mel, model_info("audio_suc").mel) == (
        "melon48", "era224")
    assert model_info("audio_cnn").title == "Audio-CNN"
    config = model_info("audio_cnn").test_config
    config["encoder"]["n_mels"] = 1  # a copy: the registration stays as it was
    assert model_info("audio_cnn").test_config["encoder"]["n_mels"] == 48


def test_pretrained_lists_the_models_with_a_default_preset():
    assert [n for n in list_models(pretrained=True) if n in PAPERS] == PAPER_MODELS["era"]
    assert list_models(pretrained=True, family="baseline") == []


def test_a_name_registers_one_class():
    with pytest.raises(ConfigError, match="already registered to AudioCNN"):
        @register_model("audio_cnn", family="era", title="x", test_config={})
        class Other(models.AudioSUC):
            pass
    assert model_info("audio_cnn").cls is models.AudioCNN


def test_load_every_name_at_paper_size():
    # weights=None: the paper-size architecture, randomly initialised (the
    # default, a pretrained preset, may be smaller: tests/test_presets.py).
    for name in PAPERS:
        model = era_zoo.load(name, weights=None)
        assert type(model) is model_info(name).cls
        assert model.audio_encoder.count_params() > 3_900_000    # paper B's encoder
    assert era_zoo.load("contrastive_a2p", weights=None).audio_encoder.trunk_dim == 1024
    assert era_zoo.load("audio_cnn", weights=None).audio_encoder.n_mels == 224


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        era_zoo.load("audio_rnn")
    assert all(name in str(info.value) for name in list_models())
    assert "audio_cnn_demo" in str(info.value)


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="audio_cnn config"):
        create_model("audio_cnn", not_an_option=1)
    with pytest.raises(ConfigError, match="contrastive_a2p has no preset"):
        create_model("contrastive_a2p", pretrained=True)


@pytest.fixture
def saved_tiny(tmp_path):
    model = tiny_model("contrastive_a2p")
    path = tmp_path / "a2p.weights.h5"
    model.save_weights(path)
    return model, path


def test_weights_file_with_sha256(saved_tiny):
    model, path = saved_tiny
    batch = tiny_batch(model)
    loaded = load("contrastive_a2p", weights=str(path), sha256=sha256_of(path),
                  **tiny_config("contrastive_a2p"))
    np.testing.assert_array_equal(np.asarray(loaded(batch)["audio"]),
                                  np.asarray(model(batch)["audio"]))
    with pytest.raises(DataError, match="sha256 mismatch"):
        load("contrastive_a2p", weights=str(path), sha256="0" * 64,
             **tiny_config("contrastive_a2p"))


def test_whole_keras_file_in_safe_mode(tmp_path):
    model = tiny_model("baseline_cf")
    path = tmp_path / "cf.keras"
    model.save(path)
    batch = tiny_batch(model)
    for loaded in (load("baseline_cf", weights=path), load(path)):
        np.testing.assert_array_equal(np.asarray(loaded(batch)["cf"]),
                                      np.asarray(model(batch)["cf"]))
    with pytest.raises(DataError, match="BaselineCF"):
        load("baseline_genre", weights=path)


def test_preset_folders(tmp_path, monkeypatch):
    model = tiny_model("contrastive_a2p")
    batch = tiny_batch(model)
    expected = np.asarray(model(batch)["cf"])
    preset = write_preset(tmp_path / "tiny_a2p", model, card="# tiny_a2p\n",
                          metadata={"default": True, "license": "CC0 1.0"})
    assert sorted(preset.metadata["files"]) == ["README.md", "config.json", "model.weights.h5"]
    assert preset.metadata["files"]["model.weights.h5"] == sha256_of(preset.weights)
    assert json.loads((preset.path / "config.json").read_text())["config"]["encoder"][
        "channels"] == tiny_config("contrastive_a2p")["encoder"]["channels"]
    # By folder, by name through $ERA_ZOO_PRESETS, and as a name's default.
    np.testing.assert_array_equal(np.asarray(load(tmp_path / "tiny_a2p")(batch)["cf"]), expected)
    monkeypatch.setenv("ERA_ZOO_PRESETS", str(tmp_path))
    for loaded in (load("tiny_a2p"), load("contrastive_a2p"),
                   load("contrastive_a2p", weights="tiny_a2p"),
                   create_model("contrastive_a2p", pretrained=True)):
        np.testing.assert_array_equal(np.asarray(loaded(batch)["cf"]), expected)
    assert "contrastive_a2p" in list_models(pretrained=True)
    with pytest.raises(ConfigError, match="is for model 'contrastive_a2p'"):
        load("baseline_cf", weights="tiny_a2p")
    with pytest.raises(DataError, match="tiny_a2p"):
        load("contrastive_a2p", weights="no_such_preset")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        write_preset(tmp_path / "tiny_a2p", model)


def test_every_preset_file_is_checked(tmp_path):
    folder = write_preset(tmp_path / "p", tiny_model("baseline_cf"), card="# p\n").path
    for tamper, match in [
        (lambda f: (f / "README.md").write_text("# changed\n"), "sha256 mismatch"),
        (lambda f: (f / "config.json").unlink(), "no config.json"),
        (lambda f: (f / "model.weights.h5").unlink(), "is missing"),
        (lambda f: (f / "notes.txt").write_text("x"), "not listed in metadata.json"),
    ]:
        copy = tmp_path / "copy"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder, copy)
        tamper(copy)
        with pytest.raises(DataError, match=match):
            load(copy)
    assert read_preset(folder).verify().model == "baseline_cf"
