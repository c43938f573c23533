"""era_zoo.list_models / create_model / load: names, presets, weight files,
sha256 checks."""
import json

import numpy as np
import pytest

import era_zoo
from era_zoo import models
from era_zoo.errors import ConfigError, DataError
from era_zoo.models.tiny import tiny_batch, tiny_config
from era_zoo.registry import create_model, load, sha256_of

NAMES = ["audio_cnn", "audio_suc", "audioart_mmc", "contrastive_a2g", "contrastive_a2p",
         "contrastive_a2g_a2p_g2p", "baseline_genre", "baseline_cf", "baseline_genre_cf"]


def test_list_models_names_all_nine():
    assert era_zoo.list_models() == NAMES


def test_load_every_name_at_paper_size():
    # weights=None: the paper-size architecture, randomly initialised (the
    # default, a pretrained preset, may be smaller: tests/test_presets.py).
    for name, cls in zip(NAMES, models.MODEL_CLASSES):
        model = era_zoo.load(name, weights=None)
        assert type(model) is cls and model.zoo_name == name
        assert model.audio_encoder.count_params() > 3_900_000    # paper B's encoder
    assert era_zoo.load("contrastive_a2p", weights=None).audio_encoder.trunk_dim == 1024
    assert era_zoo.load("audio_cnn", weights=None).audio_encoder.n_mels == 224


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        era_zoo.load("audio_rnn")
    assert all(name in str(info.value) for name in NAMES)


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError, match="audio_cnn config"):
        create_model("audio_cnn", not_an_option=1)


@pytest.fixture
def saved_tiny(tmp_path):
    model = create_model("contrastive_a2p", **tiny_config("contrastive_a2p"))
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
    model = create_model("baseline_cf", **tiny_config("baseline_cf"))
    path = tmp_path / "cf.keras"
    model.save(path)
    batch = tiny_batch(model)
    loaded = load("baseline_cf", weights=path)
    np.testing.assert_array_equal(np.asarray(loaded(batch)["cf"]), np.asarray(model(batch)["cf"]))
    with pytest.raises(DataError, match="BaselineCF"):
        load("baseline_genre", weights=path)


def test_presets(saved_tiny, tmp_path, monkeypatch):
    model, path = saved_tiny
    presets = {
        "tiny_a2p": {"model": "contrastive_a2p", "config": tiny_config("contrastive_a2p"),
                     "weights": path.name, "sha256": sha256_of(path)},
        "tiny_bad_hash": {"model": "contrastive_a2p", "config": tiny_config("contrastive_a2p"),
                          "weights": path.name, "sha256": "f" * 64},
        "not_downloaded": {"model": "contrastive_a2p", "weights": "absent.weights.h5"},
    }
    (tmp_path / "presets.json").write_text(json.dumps(presets))
    monkeypatch.setenv("ERA_ZOO_PRESETS", str(tmp_path / "presets.json"))
    batch = tiny_batch(model)
    loaded = load("contrastive_a2p", weights="tiny_a2p")
    np.testing.assert_array_equal(np.asarray(loaded(batch)["cf"]), np.asarray(model(batch)["cf"]))
    with pytest.raises(DataError, match="sha256 mismatch"):
        load("contrastive_a2p", weights="tiny_bad_hash")
    with pytest.raises(DataError, match="era-zoo train"):
        load("contrastive_a2p", weights="not_downloaded")
    with pytest.raises(ConfigError, match="is for model 'contrastive_a2p'"):
        load("baseline_cf", weights="tiny_a2p")
    with pytest.raises(DataError, match="tiny_a2p"):
        load("contrastive_a2p", weights="no_such_preset")
