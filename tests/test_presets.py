"""The shipped pretrained presets: every weights file matches its sha256,
loads offline, and era_zoo.load(name) hands back the trained model."""
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import era_zoo
from era_zoo.audio.decode import load_audio
from era_zoo.inference import predict_era
from era_zoo.registry import default_preset, list_presets, presets_path, sha256_of

PRESETS = list_presets()
ERA_MODELS = ("audio_cnn", "audio_suc", "audioart_mmc")
CLIP = Path(str(resources.files("era_zoo") / "assets" / "audio" /
                "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg"))


def test_every_era_model_has_a_default_preset():
    assert {name: default_preset(name) for name in ERA_MODELS} == {
        name: f"{name}_demo" for name in ERA_MODELS}


def test_weights_stay_compact():
    total = sum((presets_path().parent / e["weights"]).stat().st_size for e in PRESETS.values())
    assert total < 60 * 2**20


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_file_matches_its_sha256_and_has_a_card(preset):
    entry = PRESETS[preset]
    root = presets_path().parent
    assert sha256_of(root / entry["weights"]) == entry["sha256"]
    card = (root / entry["card"]).read_text(encoding="utf-8")
    assert entry["sha256"] in card and entry["model"] in card
    assert set(entry["metrics"]["test"]) >= {"within_k", "decade_accuracy", "mae_years"}


@pytest.mark.parametrize("name", ERA_MODELS)
def test_load_by_name_gives_the_trained_model(name):
    entry = PRESETS[default_preset(name)]
    model = era_zoo.load(name)
    random = era_zoo.create_model(name, **entry["config"])
    trained = model.get_weights()
    assert len(trained) == len(random.get_weights())
    assert any(not np.allclose(a, b) for a, b in zip(trained, random.get_weights()))
    # The stored file, read independently of the registry, holds the same values.
    random.load_weights(presets_path().parent / entry["weights"])
    for a, b in zip(trained, random.get_weights()):
        np.testing.assert_array_equal(a, b)
    result = predict_era(model, load_audio(CLIP, model.mel_spec.sample_rate),
                         model.mel_spec.sample_rate)
    bins = model.year_bins
    assert bins.start <= result["expected_year"] <= bins.end


def test_presets_json_is_what_the_registry_reads():
    raw = json.loads(presets_path().read_text(encoding="utf-8"))
    assert raw == PRESETS


def test_a_model_without_a_preset_is_randomly_initialised_with_a_warning():
    with pytest.warns(UserWarning, match="no pretrained preset"):
        model = era_zoo.load("contrastive_a2p")
    assert model.audio_encoder.trunk_dim == 1024  # paper B's size
