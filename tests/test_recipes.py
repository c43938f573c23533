"""Recipes: the nine TOML files carry the papers' numbers; bad recipes fail at
once naming the field; overrides, the resolved-recipe TOML and the
PyTorch-faithful Adam."""
import tomllib
from pathlib import Path

import numpy as np
import pytest

from era_zoo.errors import ConfigError
from era_zoo.registry import list_models, model_info
from era_zoo.tomlio import to_toml
from era_zoo.training.recipe import find_recipe, load_recipe, parse_override, recipes_dir

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes"
RECIPES = recipes_dir()
NAMES = [n for n in list_models() if model_info(n).recipe is not None]
PAPER_B = list_models(family="contrastive") + list_models(family="baseline")
PAPERS = list_models(family="era") + PAPER_B  # the nine models of the two papers


@pytest.fixture
def root(tmp_path):
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_one_recipe_per_model_and_readme_lists_them():
    assert sorted(p.stem for p in RECIPES.glob("*.toml")) == sorted(
        model_info(n).recipe for n in NAMES)
    readme = (RECIPES / "README.md").read_text()
    for name in NAMES:
        assert f"{model_info(name).recipe}.toml" in readme


def test_recipes_found_by_name_or_path(tmp_path, monkeypatch):
    # The installed recipes are the checkout's recipes/ (era_zoo.recipes maps there).
    assert RECIPES.resolve() == CHECKOUT.resolve()
    monkeypatch.chdir(tmp_path)  # names do not depend on the working directory
    assert find_recipe("audio_cnn") == RECIPES / "audio_cnn.toml"
    assert find_recipe("audio_cnn.toml") == RECIPES / "audio_cnn.toml"
    assert find_recipe("overlays/demo") == RECIPES / "overlays" / "demo.toml"
    own = tmp_path / "audio_cnn.toml"  # a file at the given path wins over the name
    own.write_text('[model]\nname = "audio_cnn"\n')
    assert find_recipe("audio_cnn.toml") == Path("audio_cnn.toml")
    assert find_recipe(own) == own
    with pytest.raises(ConfigError, match="no recipe named 'audio_rnn'") as err:
        find_recipe("audio_rnn")
    assert "contrastive_a2p" in str(err.value)
    (tmp_path / "data").mkdir()
    assert load_recipe("baseline_cf", data_root=tmp_path / "data")["model"]["name"] == "baseline_cf"


@pytest.mark.parametrize("name", PAPERS)
def test_recipe_loads_with_paper_defaults(name, root):
    recipe = load_recipe(model_info(name).recipe, data_root=root)
    assert recipe["model"]["name"] == name
    assert recipe["data"]["root"] == str(root)
    t, opt = recipe["training"], recipe["training"]["optimizer"]
    assert (opt["name"], opt["learning_rate"], opt["weight_decay"]) == ("adam", 1e-4, 1e-4)
    assert opt["weight_decay_mode"] == "l2"
    assert t["batch_size"] == 128 and t["drop_remainder"] is True
    assert recipe["logging"]["update_freq"] == "auto"
    assert recipe["data"]["frames"] == recipe["model"]["encoder"]["n_frames"] == 256
    if name in PAPER_B:
        # Paper B: tau 0.1, 400 epochs, checkpoints every 20 epochs + best.
        assert recipe["data"]["reader"] == "melon"
        assert recipe["data"]["mel"] == recipe["model"]["mel"] == "melon48"
        assert t["epochs"] == 400
        assert recipe["checkpoints"]["every_epochs"] == 20
        assert recipe["checkpoints"]["best"] is True
        if name.startswith("contrastive"):
            assert recipe["model"]["temperature"] == 0.1
        if "cf" in name or "a2p" in name:
            assert recipe["sideinfo"]["cf"]["factors"] == 300
    else:
        # Paper A: 224 mel bands at 22,050 Hz, era classes.
        from era_zoo.audio.presets import get_preset
        spec = get_preset(recipe["data"]["mel"])
        assert (spec.n_mels, spec.sample_rate) == (224, 22050)
        assert recipe["model"]["year_bins"]["width"] >= 1


def _base(root, **model):
    return {"model": {"name": "contrastive_a2p", **model},
            "data": {"reader": "melon", "root": str(root)}}


@pytest.mark.parametrize("change, field", [
    (lambda r: r["model"].update(name="resnet"), "model.name"),
    (lambda r: r["model"].pop("name"), "model.name"),
    (lambda r: r["data"].update(root="/nonexistent/era_zoo"), "data.root"),
    (lambda r: r["data"].pop("root"), "data.root"),
    (lambda r: r["data"].update(reader="spotify"), "data.reader"),
    (lambda r: r["data"].update(mel="era224"), "data.mel"),
    (lambda r: r.update(trainig={"epochs": 3}), "trainig"),
    (lambda r: r.setdefault("training", {}).update(batchsize=3), "training.batchsize"),
    (lambda r: r.setdefault("training", {}).update(batch_size="big"), "training.batch_size"),
    (lambda r: r.setdefault("training", {}).update(batch_size=0), "training.batch_size"),
    (lambda r: r.setdefault("checkpoints", {}).update(mode="lowest"), "checkpoints.mode"),
    (lambda r: r["model"].update(temprature=0.1), "model.temprature"),
    (lambda r: r.update(logging={"update_freq": "often"}), "logging.update_freq"),
    (lambda r: r.update(logging={"update_freq": -1}), "logging.update_freq"),
    (lambda r: r.update(logging={"update_freq": True}), "logging.update_freq"),
    (lambda r: r.update(projector={"embedding": "trunk"}), "projector.embedding"),
    (lambda r: r["data"].update(frames=128), None),  # allowed: encoder follows data
])
def test_bad_recipes_fail_naming_the_field(root, change, field):
    recipe = _base(root)
    change(recipe)
    if field is None:
        assert load_recipe(recipe)["model"]["encoder"]["n_frames"] == 128
        return
    with pytest.raises(ConfigError) as err:
        load_recipe(recipe)
    assert err.value.field == field
    assert str(err.value).startswith(field)


def test_wrong_mel_for_model_and_dataset(root):
    # An era model on Melon: the dataset's mels have 48 bands, the model 224.
    with pytest.raises(ConfigError, match="ships 48-band mels") as err:
        load_recipe({"model": {"name": "audio_cnn"},
                     "data": {"reader": "melon", "root": str(root)}})
    assert err.value.field == "data.mel"
    # A paper B model told to read 224-band mels.
    with pytest.raises(ConfigError, match="224 mel bands") as err:
        load_recipe({"model": {"name": "baseline_cf"},
                     "data": {"reader": "gtzan", "root": str(root), "mel": "era224"}})
    assert err.value.field == "data.mel"
    with pytest.raises(ConfigError) as err:
        load_recipe({"model": {"name": "baseline_cf", "encoder": {"n_frames": 64}},
                     "data": {"reader": "melon", "root": str(root)}})
    assert err.value.field == "data.frames"


def test_missing_and_malformed_recipe_files(tmp_path):
    with pytest.raises(ConfigError, match="no recipe file"):
        load_recipe(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nname = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_recipe(bad)
    assert err.value.field == str(bad)


def test_overrides_parse_toml_values(root):
    assert parse_override("training.batch_size=4") == ("training.batch_size", 4)
    assert parse_override("a.b = [1, 2]") == ("a.b", [1, 2])
    assert parse_override("training.optimizer.learning_rate=3e-4")[1] == 3e-4
    assert parse_override("data.reader=gtzan") == ("data.reader", "gtzan")
    assert parse_override("x={a=1}") == ("x", {"a": 1})
    with pytest.raises(ConfigError) as err:
        parse_override("training.batch_size")
    assert err.value.field == "--set"
    recipe = load_recipe(_base(root), overrides=["training.epochs=3",
                                                 "model.encoder.channels=[4,4]"])
    assert recipe["training"]["epochs"] == 3
    assert recipe["model"]["encoder"]["channels"] == [4, 4]


@pytest.mark.parametrize("name", PAPERS)
def test_resolved_recipe_round_trips_through_toml(name, root):
    recipe = load_recipe(model_info(name).recipe, data_root=root,
                         overrides=["model.encoder.pools=[[2,2],[1,2]]"])
    text = to_toml(recipe)
    assert tomllib.loads(text) == recipe
    assert load_recipe(tomllib.loads(text)) == recipe


def test_update_freq_takes_auto_or_a_count(root):
    for value in ("auto", 0, 7):
        recipe = load_recipe(_base(root), overrides=[f"logging.update_freq={value}"])
        assert recipe["logging"]["update_freq"] == value


def test_values_toml_cannot_hold_fail_naming_the_field():
    import datetime
    with pytest.raises(ConfigError) as err:
        to_toml({"data": {"options": {"since": datetime.date(2020, 1, 1)}}})
    assert err.value.field == "data.options.since"


def test_adam_l2_matches_pytorch_adam_weight_decay():
    torch = pytest.importorskip("torch")
    import keras
    from era_zoo.training.optimizers import AdamL2

    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    y = rng.normal(size=(8, 3)).astype(np.float32)
    lr, wd = 1e-2, 1e-1  # large enough that the L2 term shows

    tw = torch.tensor(w0, requires_grad=True)
    topt = torch.optim.Adam([tw], lr=lr, weight_decay=wd)
    kw = keras.Variable(w0)
    kopt = AdamL2(learning_rate=lr, l2=wd)
    for _ in range(5):
        topt.zero_grad()
        loss = ((torch.tensor(x) @ tw - torch.tensor(y)) ** 2).mean()
        loss.backward()
        topt.step()
        # The same gradient in NumPy: d/dW mean((xW - y)^2).
        grad = 2 * x.T @ (x @ kw.numpy() - y) / y.size
        kopt.apply_gradients([(grad.astype(np.float32), kw)])
    np.testing.assert_allclose(kw.numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    # Keras' own Adam(weight_decay) is decoupled and ends elsewhere.
    kd = keras.Variable(w0)
    dec = keras.optimizers.Adam(learning_rate=lr, weight_decay=wd, epsilon=1e-8)
    for _ in range(5):
        grad = 2 * x.T @ (x @ kd.numpy() - y) / y.size
        dec.apply_gradients([(grad.astype(np.float32), kd)])
    assert np.abs(kd.numpy() - tw.detach().numpy()).max() > 1e-4
    config = AdamL2.from_config(kopt.get_config()).get_config()
    assert config["l2"] == wd
    assert config["learning_rate"] == pytest.approx(lr)
