"""The nine models on tiny configs: every loss falls, every weight learns,
every loss term is reported, .keras round trips keep outputs and optimizer
state; era predictions and embeddings against independent statements."""
import json
import re

import keras
import numpy as np
import pytest

from era_zoo.errors import ConfigError
from era_zoo.layers import PrecomputedTextEncoder
from era_zoo.models import YearBins
from era_zoo.registry import create_model
from helpers import tiny_batch, tiny_config, tiny_model, zoo_models


def _compiled(model):
    # Eager steps: a handful of steps on tiny models is faster than tracing.
    model.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True)
    return model


@pytest.mark.parametrize("name", zoo_models())
def test_trains_reports_terms_and_round_trips(name, tmp_path):
    model = _compiled(tiny_model(name))
    batch = tiny_batch(model)
    before = [np.asarray(w).copy() for w in model.trainable_weights]
    history = model.fit(batch, batch_size=8, epochs=4, shuffle=False, verbose=0).history

    assert set(history) == set(model.loss_terms)
    assert history["loss"][-1] < history["loss"][0]
    # A bias right before a training-mode BatchNorm has exactly zero gradient
    # (the batch mean cancels it), as in the reference.
    frozen = [w.path for w, b in zip(model.trainable_weights, before)
              if np.array_equal(np.asarray(w), b)
              and not re.search(r"audio_encoder/(conv\d+|fc1)/bias$", w.path)]
    assert not frozen, f"weights without gradient: {frozen}"
    terms = model.compute_losses(batch)
    if name not in ("audio_suc", "audioart_mmc"):   # the others sum their terms
        parts = [float(v) for k, v in terms.items() if k != "loss"]
        assert float(terms["loss"]) == pytest.approx(sum(parts), rel=1e-6)

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert json.loads(json.dumps(loaded.get_config())) == json.loads(json.dumps(model.get_config()))
    out, out_loaded = model(batch), loaded(batch)
    for key in out:
        np.testing.assert_array_equal(np.asarray(out_loaded[key]), np.asarray(out[key]))
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Restored optimizer state: one more step lands on the same weights.
    loaded.compile(optimizer=loaded.optimizer, run_eagerly=True)
    model.fit(batch, batch_size=8, epochs=1, shuffle=False, verbose=0)
    loaded.fit(batch, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-6)


def test_year_bins_hand_computed():
    bins = YearBins(1995, 2004, width=3)      # 1995-97, 1998-2000, 2001-03, 2004
    assert bins.n_classes == 4
    np.testing.assert_array_equal(bins.class_of([1990, 1995, 1998, 2000, 2003, 2004, 2030]),
                                  [0, 0, 1, 1, 2, 3, 3])
    np.testing.assert_allclose(bins.centres, [1996, 1999, 2002, 2004])
    np.testing.assert_array_equal(bins.decades, [1990, 2000])
    # 1998-2000 is two years of the 1990s and one of the 2000s.
    np.testing.assert_allclose(bins.decade_matrix, [[1, 0], [2 / 3, 1 / 3], [0, 1], [0, 1]])
    np.testing.assert_allclose(bins.decade_probs([0.1, 0.3, 0.2, 0.4]), [0.3, 0.7])
    assert YearBins().n_classes == 18   # MSD's 1922-2011 in 5-year ranges
    with pytest.raises(ConfigError, match="year_bins.width"):
        YearBins(2000, 2010, width=0)


def test_predict_year_is_the_expectation_over_class_centres():
    model = tiny_model("audio_cnn")
    batch = tiny_batch(model, batch_size=5)
    pred = model.predict_year(batch["mel"])
    logits = np.asarray(model(batch)["logits"], np.float64)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    centres = np.arange(2000, 2004)                       # 1-year classes 2000..2003
    np.testing.assert_allclose(pred["probabilities"], probs, atol=1e-6)
    np.testing.assert_allclose(pred["expected_year"], probs @ centres, atol=1e-4)
    np.testing.assert_array_equal(pred["top_year"], centres[probs.argmax(1)])
    np.testing.assert_allclose(pred["decade_probabilities"], np.ones((5, 1)), atol=1e-6)
    import tensorflow as tf
    from_dataset = model.predict_year(tf.data.Dataset.from_tensor_slices(batch).batch(2))
    np.testing.assert_allclose(from_dataset["probabilities"], pred["probabilities"], atol=1e-6)


def test_predict_in_batches_gives_what_predict_gives():
    from era_zoo.models.base import predict_in_batches
    model = tiny_model("audioart_mmc")
    batch = tiny_batch(model, batch_size=5)
    inputs = {k: batch[k] for k in ("mel", "artist_text")}
    expected = model.predict(inputs, batch_size=5, verbose=0)
    for batch_size in (1, 2, 5, 64):   # 2 leaves a last batch of one row
        got = predict_in_batches(model, inputs, batch_size)
        assert sorted(got) == sorted(expected)
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], atol=1e-5)
    assert list(predict_in_batches(model, inputs, 2, keys=["logits"])) == ["logits"]
    plain = tiny_model("audio_cnn")
    mels = tiny_batch(plain, batch_size=3)["mel"]
    np.testing.assert_allclose(predict_in_batches(plain, mels, 2)["logits"],
                               plain.predict(mels, verbose=0)["logits"], atol=1e-5)


def test_audioart_mmc_takes_a_text_encoder_instance_and_checks_widths():
    config = tiny_config("audioart_mmc")
    config["text_encoder"] = PrecomputedTextEncoder(input_dim=5, output_dim=16)
    model = create_model("audioart_mmc", **config)
    batch = tiny_batch(model)
    assert batch["artist_text"].shape == (8, 5)
    assert float(model.compute_losses(batch)["mmc"]) > 0
    config["text_encoder"] = PrecomputedTextEncoder(input_dim=5, output_dim=7)
    with pytest.raises(ConfigError, match="text_encoder.output_dim"):
        create_model("audioart_mmc", **config)


def test_embed_chunks_a_mel_and_a_waveform():
    model = tiny_model("contrastive_a2p")
    mel = np.random.default_rng(5).normal(size=(48, 64 * 2 + 30)).astype(np.float32)
    emb = model.embed(mel, level="projection")
    assert emb["chunks"].shape == (2, 16)               # the 30-frame tail is dropped
    second = np.asarray(model.audio_encoder(mel[None, :, 64:128], training=False))[0]
    np.testing.assert_allclose(emb["chunks"][1], second, atol=1e-5)
    np.testing.assert_allclose(emb["track"], emb["chunks"].mean(0), atol=1e-6)
    # paper B's model embeds at its trunk by default, as the reference's encode.py
    trunk = model.embed(mel)["chunks"]
    assert trunk.shape == (2, model.audio_encoder.trunk_dim)
    np.testing.assert_allclose(trunk, model.embed(mel, level="trunk")["chunks"])

    from era_zoo.audio.mel import LogMel
    wave = np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000).astype(np.float32) * 0.5
    expected = np.asarray(LogMel("melon48")(wave[None]))[0][:, :64]
    from_wave = model.embed(wave, sample_rate=16000)
    np.testing.assert_allclose(from_wave["chunks"][0], model.embed(expected)["chunks"][0],
                               atol=1e-5)
    with pytest.raises(ConfigError, match="sample_rate"):
        model.embed(wave)


def test_bad_batches_are_named():
    model = tiny_model("contrastive_a2g")
    batch = tiny_batch(model)
    with pytest.raises(ConfigError, match="genre_ids"):
        model.compute_losses({"mel": batch["mel"]})
    with pytest.raises(ConfigError, match="mel"):
        model.compute_losses({**batch, "mel": batch["mel"][:, :, :32]})
    with pytest.raises(ConfigError, match="encoder.n_mels"):
        create_model("audio_cnn", **{**tiny_config("audio_cnn"), "mel": "era224"})


def test_keras_default_step_uses_the_same_objective():
    # JAX and torch train through Keras' own train_step, which reaches the
    # objective via the models' compute_loss/compute_metrics overrides.
    model = _compiled(tiny_model("audioart_mmc"))
    batch = tiny_batch(model)
    expected = model.compute_losses(batch, training=True)
    logs = keras.Model.train_step(model, (batch,))
    assert set(logs) == set(model.loss_terms)
    for name in model.loss_terms:
        assert float(logs[name]) == pytest.approx(float(expected[name]), rel=1e-5)
    assert float(model.compute_losses(batch, training=True)["loss"]) < float(expected["loss"])
