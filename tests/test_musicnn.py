"""The four musicnn taggers: the shipped presets equal the authors' own graph.

The reference is the wheel ``musicnn==0.1.0`` itself, run by
``era_zoo/convert/musicnn_original.py`` in its own process (tf-keras,
``TF_USE_LEGACY_KERAS=1``, the float16 product of its ``batch_data`` computed
in float32 as numpy 1 did, outputs per patch). It cuts patches from generated
and real recordings and evaluates its four graphs on them; era_zoo's presets
get the same patches. Those tests skip where the wheel or tf-keras cannot be
installed (``make test`` installs both); the others need neither.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf

import era_zoo
from era_zoo.errors import AudioError, ConfigError, DataError
from era_zoo.layers.musicnn import MusicnnTrunk, same_padding
from era_zoo.inference.inputs import chunk_mel
from era_zoo.models.musicnn import DECADE_TAGS, MSD_LABELS, MTT_LABELS, mel_patches

ORIGINAL = Path(era_zoo.__file__).parent / "convert" / "musicnn_original.py"
WHEEL_MODELS = {"musicnn_msd": "MSD_musicnn", "musicnn_mtt": "MTT_musicnn",
                "musicnn_vgg_msd": "MSD_vgg", "musicnn_vgg_mtt": "MTT_vgg"}
# The wheel's experiment.result files (DESIGN.md).
REPORTED = {"musicnn_msd": (0.880, 0.289), "musicnn_vgg_msd": (0.877, 0.282),
            "musicnn_mtt": (0.907, 0.383), "musicnn_vgg_mtt": (0.903, 0.382)}
TOLERANCE = 1e-4            # of each output's scale (max |value|, at least 1)
# Time-frequency feature maps, which see an input value's rounding tie
# directly: from audio (not from the same patches) they agree to 2.6e-4
# of their scale; the pooled features, embeddings and taggrams to 5e-5.
FEATURE_MAPS = ("timbral", "temporal", "cnn1", "cnn2", "cnn3",
                "pool1", "pool2", "pool3", "pool4")
MAPS_FROM_AUDIO = 5e-4
REAL_PATCHES = 3            # patches per real recording given to both sides


def _original(*args, timeout=900):
    return subprocess.run([sys.executable, str(ORIGINAL), *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def original_available():
    if not all(importlib.util.find_spec(m) for m in ("musicnn", "tf_keras")):
        pytest.skip("the musicnn wheel or tf-keras is not installed "
                    "(pip install --no-deps musicnn==0.1.0; pip install tf-keras~=2.21)")


def generated_clip(path, seconds=12.0, sr=22050):
    """A synthetic recording at a rate the models do not use: a bass line,
    a chord with vibrato, noise bursts on the beat."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * sr)) / sr
    bass = 0.3 * np.sin(2 * np.pi * 55 * (1 + (t.astype(int) % 4) / 4) * t)
    chord = sum(0.1 * np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * 5 * t))
                for f in (261.6, 329.6, 392.0))
    beat = (np.mod(t, 0.5) < 0.05) * rng.standard_normal(len(t)) * 0.4
    sf.write(path, (bass + chord + beat).astype(np.float32), sr)
    return path


@pytest.fixture(scope="module")
def reference(original_available, tmp_path_factory):
    """{"generated"|"real": (patches, outputs by model, path)}, each by file
    key, the patches in era_zoo's (n, 96, 187) layout."""
    from conftest import SHARED

    tmp = tmp_path_factory.mktemp("musicnn")
    files = {str(generated_clip(tmp / "generated.wav")): "generated"}
    files.update({str(p): "real" for p in sorted((SHARED / "real" / "audio").glob("*.ogg"))})
    out = tmp / "reference.npz"
    run = _original("reference", str(out), *files, "--max-patches", str(REAL_PATCHES))
    assert run.returncode == 0, run.stderr[-3000:]
    with np.load(out, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    result = {}
    for i, (path, audio) in enumerate(files.items()):
        key = f"f{i}"
        patches, outputs, paths = result.setdefault(audio, ({}, {}, {}))
        paths[key] = path
        patches[key] = arrays[f"{key}/patches"].transpose(0, 2, 1)
        outputs[key] = {m: {n.split("/")[2]: v for n, v in arrays.items()
                            if n.startswith(f"{key}/{m}/")} for m in WHEEL_MODELS.values()}
    return result


@pytest.fixture(scope="module")
def presets():
    return {}


def _preset(cache, name):
    if name not in cache:
        cache[name] = era_zoo.load(name)
    return cache[name]


def _assert_per_patch_equal(mine, reference, where, maps_tolerance=TOLERANCE):
    assert np.isfinite(reference["taggram"]).all()
    for output, expected in reference.items():
        got = mine[output][:len(expected)]
        expected = expected.reshape(got.shape)              # (..., 1) channel axes
        scale = max(1.0, float(np.abs(expected).max()))
        tolerance = maps_tolerance if output in FEATURE_MAPS else TOLERANCE
        for i in range(len(got)):                           # per patch
            worst = float(np.abs(got[i] - expected[i]).max())
            assert worst <= tolerance * scale, (where, output, i, worst, scale)


@pytest.mark.parametrize("audio", ["generated", "real"])
@pytest.mark.parametrize("name", list(WHEEL_MODELS))
def test_presets_equal_the_original_graph(name, audio, reference, presets):
    """The wheel's patches through both graphs: every output of the wheel's
    extractor, per patch."""
    if audio not in reference:
        pytest.skip("../shared/real/audio is absent (only on the project's machines)")
    patches, outputs, _ = reference[audio]
    model = _preset(presets, name)
    for key in patches:
        ref = outputs[key][WHEEL_MODELS[name]]
        assert len(ref) in (6, 9)      # every output of the wheel's extractor
        _assert_per_patch_equal(model.run_patches(patches[key]), ref, (key, name))


@pytest.mark.parametrize("audio", ["generated", "real"])
def test_audio_files_give_the_original_patches_and_outputs(audio, reference, presets):
    """era_zoo's own path from the file (decoding, resampling, the musicnn96
    mel in graph, patches) against the wheel's ``batch_data``: the patches
    agree but for float16 rounding ties, the outputs to the same tolerance
    (the feature maps to MAPS_FROM_AUDIO)."""
    from era_zoo.audio.decode import load_audio

    if audio not in reference:
        pytest.skip("../shared/real/audio is absent (only on the project's machines)")
    patches, outputs, paths = reference[audio]
    for key, path in paths.items():
        model = _preset(presets, "musicnn_msd")
        mine = model.patches(load_audio(path, 16000), 16000)[:len(patches[key])]
        assert mine.shape == patches[key].shape
        # one float16 step of the band power at a rounding tie: log10(1 + 2^-10)
        assert np.abs(mine - patches[key]).max() <= 4.3e-4
        assert np.mean(np.abs(mine - patches[key]) > 1e-5) < 0.01     # ties are rare
        for name, wheel_model in WHEEL_MODELS.items():
            _assert_per_patch_equal(_preset(presets, name).run_patches(mine),
                                    outputs[key][wheel_model], (key, name, "from audio"),
                                    maps_tolerance=MAPS_FROM_AUDIO)


def test_converter_reproduces_the_shipped_weights(original_available):
    from era_zoo.convert.musicnn import convert_model, read_checkpoint
    from era_zoo.presets import find_preset

    package = Path(importlib.util.find_spec("musicnn").origin).parent
    variables = read_checkpoint(package / "MSD_musicnn")
    assert variables["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert not [v for v in variables if "Adam" in v]
    # Dead front-end channels: what makes epsilon, and float32, decide.
    assert (variables["batch_normalization_1/moving_variance"] < 1e-30).sum() > 100
    for name, wheel_model in WHEEL_MODELS.items():
        converted = convert_model(package, wheel_model)
        shipped = era_zoo.load(name)
        for a, b in zip(converted.weights, shipped.weights):
            assert a.path == b.path
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert find_preset(name).metadata["metrics"]["test"]["roc_auc"] == pytest.approx(
            REPORTED[name][0], abs=5e-4)


@pytest.mark.parametrize("name", list(WHEEL_MODELS))
def test_shipped_presets_load_offline_with_labels_and_licence(name):
    from era_zoo.presets import find_preset

    assert name in era_zoo.list_models(pretrained=True)
    preset = find_preset(name).verify()
    meta = preset.metadata
    assert meta["license"] == "ISC" and meta["default"] is True
    assert "Universitat Pompeu Fabra" in (preset.path / "LICENSE.md").read_text()
    roc, pr = REPORTED[name]
    assert meta["metrics"]["test"]["roc_auc"] == pytest.approx(roc, abs=5e-4)
    assert meta["metrics"]["test"]["pr_auc"] == pytest.approx(pr, abs=5e-4)
    labels = MSD_LABELS if "msd" in name else MTT_LABELS
    assert tuple(preset.model_config["labels"]) == labels and len(labels) == 50


def test_same_padding_puts_the_odd_frame_last():
    tf = pytest.importorskip("tensorflow")    # TensorFlow's own "same" is the reference

    assert same_padding(128) == (63, 64) and same_padding(7) == (3, 3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 20, 3, 1)).astype(np.float32)
    k = rng.standard_normal((4, 1, 1, 2)).astype(np.float32)
    before, after = same_padding(4)
    mine = tf.nn.conv2d(np.pad(x, [(0, 0), (before, after), (0, 0), (0, 0)]), k, 1, "VALID")
    np.testing.assert_allclose(mine, tf.nn.conv2d(x, k, 1, "SAME"), atol=1e-6)


def test_patches_non_overlapping_overlapping_and_repeat_padded():
    mel = np.arange(2 * 500, dtype=np.float32).reshape(2, 500)
    cases = {0: [mel[:, 0:187], mel[:, 187:374]],                 # tail dropped
             87: [mel[:, s:s + 187] for s in (0, 100, 200, 300)]}
    for overlap, expected in cases.items():
        # in graph (the waveform path) and in NumPy (every other caller)
        np.testing.assert_array_equal(np.asarray(mel_patches(mel[None], 187, overlap))[0],
                                      expected)
        np.testing.assert_array_equal(chunk_mel(mel, 187, overlap), expected)
    short = mel[:, :50]
    expected = [short[:, np.arange(187) % 50]]
    np.testing.assert_array_equal(np.asarray(mel_patches(short[None], 187))[0], expected)
    np.testing.assert_array_equal(chunk_mel(short, 187), expected)
    with pytest.raises(ConfigError, match="overlap"):
        mel_patches(mel[None], 187, overlap=187)


def test_pooled_features_interleave_max_and_mean():
    trunk = MusicnnTrunk()
    x = np.random.default_rng(1).standard_normal((2, 96, 40)).astype(np.float32)
    out = {k: np.asarray(v) for k, v in trunk(x).items()}
    dense = np.concatenate([out["timbral"], out["temporal"], out["cnn1"], out["cnn2"],
                            out["cnn3"]], axis=-1)
    np.testing.assert_allclose(out["max_pool"], dense.max(axis=1), atol=1e-6)
    np.testing.assert_allclose(out["mean_pool"], dense.mean(axis=1), atol=1e-5)
    expected = np.stack([out["max_pool"], out["mean_pool"]], -1).reshape(2, 1506)
    np.testing.assert_array_equal(out["pooled"], expected)


def test_waveform_path_equals_patches_and_survives_saving(tmp_path):
    model = era_zoo.load("musicnn_mtt")
    wave = np.random.default_rng(2).standard_normal(16000 * 7).astype(np.float32) * 0.1
    patches = model.patches(wave, 16000)
    assert patches.shape == (2, 96, 187)        # 438 frames: two patches, tail dropped
    from_patches = model.run_patches(patches, ["taggram", "penultimate"])
    from_wave = model(wave[None])
    for key in from_patches:
        np.testing.assert_allclose(np.asarray(from_wave[key])[0], from_patches[key], atol=1e-5)
    path = tmp_path / "musicnn_mtt.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.labels == MTT_LABELS
    np.testing.assert_allclose(np.asarray(loaded(wave[None])["taggram"]),
                               np.asarray(from_wave["taggram"]), atol=1e-6)


def test_resampled_short_and_bad_inputs():
    model = era_zoo.load("musicnn_vgg_mtt")
    rng = np.random.default_rng(3)
    one_second = rng.standard_normal(22050).astype(np.float32) * 0.1
    taggram = model.taggram(one_second, 22050)      # resampled, padded to one patch
    assert taggram.shape == (1, 50) and np.isfinite(taggram).all()
    patches = model.patches(one_second, 22050)
    frames = 1 + len(era_zoo.audio.decode.resample(one_second, 22050, 16000)) // 256
    np.testing.assert_array_equal(patches[0][:, frames:2 * frames], patches[0][:, :frames])
    with pytest.raises(AudioError, match="NaN"):
        model.taggram(np.full(16000, np.nan, np.float32), 16000)
    with pytest.raises(AudioError, match="empty"):
        model.taggram(np.zeros(0, np.float32), 16000)
    with pytest.raises(ConfigError, match="sample_rate"):
        model.taggram(one_second)
    with pytest.raises(ConfigError, match="level"):
        model.embed(one_second, 22050, level="penultimate")


def test_decade_opinion_renormalises_the_decade_tags():
    model = era_zoo.load("musicnn_msd")
    taggram = np.random.default_rng(4).uniform(0.01, 1, (3, 50))
    opinion = model.decade_opinion(taggram)
    assert list(opinion) == list(DECADE_TAGS)
    scores = np.array([taggram[:, MSD_LABELS.index(t)].mean() for t in DECADE_TAGS])
    np.testing.assert_allclose(list(opinion.values()), scores / scores.sum())
    with pytest.raises(ConfigError, match="decade"):
        era_zoo.load("musicnn_mtt").decade_opinion(taggram)


def test_top_tags_and_embedding_levels():
    model = era_zoo.load("musicnn_msd")
    taggram = np.zeros((2, 50))
    taggram[:, MSD_LABELS.index("jazz")] = [0.9, 0.7]
    taggram[:, MSD_LABELS.index("blues")] = [0.1, 0.5]
    assert model.top_tags(taggram, top=2) == [("jazz", pytest.approx(0.8)),
                                              ("blues", pytest.approx(0.3))]
    wave = np.random.default_rng(5).standard_normal(16000 * 4).astype(np.float32) * 0.1
    sizes = {"penultimate": 200, "mean_pool": 753, "max_pool": 753, "taggram": 50}
    for level, size in sizes.items():
        emb = model.embed(wave, 16000, level=level)
        assert emb["chunks"].shape == (1, size) and emb["track"].shape == (size,)


def test_parse_result_both_formats_and_bad_checkpoints(tmp_path):
    from era_zoo.convert.musicnn import parse_result, read_checkpoint

    assert parse_result("Experiment: ['1562267674ismir_17']\nAUC: 0.88\nAUC: 0.289") == {
        "roc_auc": 0.88, "pr_auc": 0.289}
    assert parse_result("Results on the MagnaTagATune test set:\nROC-AUC: 0.9066\n"
                        "PR-AUC: 0.3831\n") == {"roc_auc": 0.9066, "pr_auc": 0.3831}
    with pytest.raises(DataError, match="experiment.result"):
        parse_result("nothing here")
    with pytest.raises(DataError, match="no checkpoint"):
        read_checkpoint(tmp_path)


def test_tag_command_batches_across_files_like_one_file_at_a_time(tmp_path, capsys):
    from era_zoo.audio.decode import load_audio
    from era_zoo.cli import main

    files = [str(generated_clip(tmp_path / f"clip{i}.wav", seconds=s))
             for i, s in enumerate((7.0, 2.0, 13.0))]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    plots = tmp_path / "plots"
    # batches of 4 patches: 2 + 1 + 4 patches cross file boundaries
    code = main(["tag", files[0], str(bad), *files[1:], "--model", "musicnn_mtt", "--top", "3",
                 "--batch-size", "4", "--json", "--plot", str(plots)])
    assert code == 3  # bad.wav failed
    rows = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in rows] == [files[0], str(bad), *files[1:]]
    assert "bad.wav" in rows[1]["error"]
    model = era_zoo.load("musicnn_mtt")
    for row, path in zip([rows[0], rows[2], rows[3]], files):
        expected = np.asarray(model(load_audio(path, 16000)[None])["taggram"])[0]  # in graph
        np.testing.assert_allclose(row["taggram"], expected, atol=2e-5)
        assert row["patches"] == len(expected) and row["tags"] == list(MTT_LABELS)
        mean = expected.mean(axis=0)
        assert [t["tag"] for t in row["top"]] == [MTT_LABELS[i] for i in np.argsort(-mean)[:3]]
        assert (plots / f"{Path(path).stem}.png").read_bytes()[:4] == b"\x89PNG"
    assert [r["patches"] for r in rows if "patches" in r] == [2, 1, 4]


def test_predict_gives_the_msd_taggers_decade_opinion(tmp_path, capsys):
    from era_zoo.audio.decode import load_audio
    from era_zoo.cli import main

    clip = str(generated_clip(tmp_path / "clip.wav", seconds=7.0))
    assert main(["predict", clip, "--model", "musicnn_msd", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    model = era_zoo.load("musicnn_msd")
    expected = model.decade_opinion(model.taggram(load_audio(clip, 16000), 16000))
    assert list(row["decades"]) == list(DECADE_TAGS)
    np.testing.assert_allclose(list(row["decades"].values()), list(expected.values()),
                               atol=1e-5)
    assert main(["predict", clip, "--model", "musicnn_mtt"]) == 2
    assert "no decade tags" in capsys.readouterr().err


def test_embed_and_bench_take_the_taggers_levels(tmp_path, capsys):
    from era_zoo.bench import load_embeddings
    from era_zoo.cli import main
    from era_zoo.data.fixtures import write_gtzan_fixture

    clip = str(generated_clip(tmp_path / "clip.wav", seconds=7.0))
    out = tmp_path / "emb.npz"
    assert main(["embed", clip, "--model", "musicnn_msd", "--level", "max_pool",
                 "-o", str(out)]) == 0
    emb = load_embeddings(out)
    assert emb.X.shape == (2, 753)
    assert main(["embed", clip, "--model", "musicnn_msd", "--level", "trunk",
                 "-o", str(out)]) == 2
    assert "penultimate" in capsys.readouterr().err
    root = write_gtzan_fixture(tmp_path / "gtzan", per_genre=4, seconds=1)
    code = main(["bench", "gtzan", "--data", str(root), "--model", "musicnn_vgg_msd",
                 "--runs", "1", "--max-epochs", "2", "--quiet", "--json",
                 str(tmp_path / "r.json")])
    assert code == 0
    assert "| musicnn_vgg_msd (pool5_flat) |" in capsys.readouterr().out


def test_musicnn_encoder_starts_from_the_preset_frozen_or_fine_tuned():
    from era_zoo.layers.musicnn import MusicnnEncoder

    tagger = era_zoo.load("musicnn_msd")
    rng = np.random.default_rng(6)
    batch = {"mel": rng.uniform(0, 3, (2, 96, 187)).astype(np.float32),
             "year_class": rng.integers(0, 3, 2).astype(np.int32)}
    for trainable in (False, True):
        model = era_zoo.create_model(
            "audio_cnn", mel="musicnn96", year_bins={"start": 2000, "end": 2003, "width": 1},
            encoder={"type": "musicnn", "trainable_trunk": trainable, "hidden_dim": 16,
                     "output_dim": 8, "dropout": 0.0})
        encoder = model.audio_encoder
        assert isinstance(encoder, MusicnnEncoder) and encoder.trunk_dim == 1506
        # the trunk is the tagger's: the same pooled features
        np.testing.assert_allclose(np.asarray(encoder.trunk(batch["mel"])),
                                   np.asarray(tagger.trunk(batch["mel"])["pooled"]), atol=1e-5)
        before = [np.asarray(w).copy() for w in encoder.musicnn.weights]
        model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)
        model.fit(batch, batch_size=2, epochs=1, verbose=0)
        changed = [not np.array_equal(np.asarray(w), b)
                   for w, b in zip(encoder.musicnn.weights, before)]
        assert any(changed) == trainable
    with pytest.raises(ConfigError, match="encoder.type"):
        era_zoo.create_model("audio_cnn", encoder={"type": "vgg"})


def test_era_recipes_train_on_the_musicnn_encoder_overlay(tmp_path):
    import tomllib

    from era_zoo.cli import main
    from era_zoo.data.fixtures import write_msd_fixture
    from era_zoo.inference import load_model
    from era_zoo.training.recipe import find_recipe, load_recipe, overlay_overrides

    overlay = overlay_overrides(find_recipe("overlays/musicnn_encoder"))
    for name in ("audio_suc", "audioart_mmc"):
        recipe = load_recipe(name, data_root=tmp_path, overrides=overlay)
        assert recipe["model"]["encoder"]["type"] == "musicnn"
        assert (recipe["model"]["mel"], recipe["model"]["encoder"]["n_frames"]) == (
            "musicnn96", 187)
    # AudioArt-MMC, the one with every head, end to end
    data = write_msd_fixture(tmp_path / "msd", n_tracks=24, seconds=1)
    run = tmp_path / "run"
    args = ["train", "audioart_mmc", "--overlay", "overlays/musicnn_encoder",
            "--data", str(data), "--out", str(run), "--epochs", "1", "--steps-per-epoch", "2",
            "--batch-size", "2", "--set", "training.validation_steps=1",
            "--set", "projector.max_tracks=6", "--set", "model.encoder.hidden_dim=16",
            "--set", "sideinfo.text.vocab_size=60", "--set", "sideinfo.text.seq_len=16",
            "--set", "sideinfo.text.encoder={embedding_dim=16,num_heads=2,intermediate_dim=16}"]
    assert main(args) == 0
    resolved = tomllib.loads((run / "recipe.toml").read_text())
    assert resolved["model"]["encoder"]["type"] == "musicnn"
    assert (resolved["data"]["mel"], resolved["data"]["frames"]) == ("musicnn96", 187)
    model = load_model(run)
    tagger = era_zoo.load("musicnn_msd")
    for a, b in zip(model.audio_encoder.musicnn.weights, tagger.trunk.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))    # frozen
