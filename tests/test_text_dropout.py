"""AudioArt-MMC's artist-text dropout: in training, an example's fusion sees
the no-text input (what inference feeds without artist text) with
probability ``text_dropout``; inference never drops; the MMC term keeps the
real text."""
import keras
import numpy as np
import pytest

from era_zoo.errors import ConfigError
from era_zoo.models import AudioArtMMC
from era_zoo.registry import model_info


def _model(p, seed=0):
    return AudioArtMMC(**{**model_info("audioart_mmc").test_config,
                          "text_dropout": p, "text_dropout_seed": seed})


def _batch(model, n=8):
    batch = model.example_batch(n)
    rng = np.random.default_rng(1)
    batch["mel"] = rng.normal(size=batch["mel"].shape).astype(np.float32)
    batch["artist_text"] = rng.normal(size=batch["artist_text"].shape).astype(np.float32)
    return batch


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_p1_always_absent_p0_never():
    for p, expected in ((1.0, 0.0), (0.0, 1.0)):
        model = _model(p)
        batch = _batch(model)
        for _ in range(3):  # every draw, not only the first
            out = model.forward(batch, training=True)
            np.testing.assert_array_equal(_np(out["text_present"]), np.full(8, expected))


def test_p1_fuses_exactly_the_no_text_input():
    """With p = 1 the training forward pass equals the same pass on the
    no-text batch (zeros, as inference builds it); with p = 0 it equals the
    pass on the real text and differs from the no-text one. The test model
    has no dropout, so training mode is deterministic given the batch."""
    batch = None
    for p in (1.0, 0.0):
        model = _model(p)
        batch = batch or _batch(model)
        no_text = {**batch, "artist_text": np.zeros_like(batch["artist_text"])}
        fused = _np(model.forward(batch, training=True)["embedding"])
        reference = _model(0.0)
        reference.set_weights(model.get_weights())
        with_text = _np(reference.forward(batch, training=True)["embedding"])
        without = _np(reference.forward(no_text, training=True)["embedding"])
        if p == 1.0:
            np.testing.assert_allclose(fused, without, atol=1e-6)
            assert np.abs(fused - with_text).max() > 1e-3
        else:
            np.testing.assert_allclose(fused, with_text, atol=1e-6)
            assert np.abs(fused - without).max() > 1e-3


def test_mmc_term_keeps_the_real_text():
    model = _model(1.0)
    batch = _batch(model)
    text = _np(model.forward(batch, training=True)["text"])
    np.testing.assert_allclose(text, _np(model.text_encoder(batch["artist_text"])), atol=1e-6)


def test_seeded_draws_repeat_and_follow_p():
    masks = []
    for _ in range(2):
        model = _model(0.5, seed=7)
        batch = _batch(model, n=64)
        masks.append(np.concatenate([_np(model.forward(batch, training=True)["text_present"])
                                     for _ in range(8)]))
    np.testing.assert_array_equal(masks[0], masks[1])
    # 512 seeded draws: the dropped share is near p (binomial sd 0.022)
    assert abs(1 - masks[0].mean() - 0.5) < 0.1
    other = _model(0.5, seed=8)
    batch = _batch(other, n=64)
    assert not np.array_equal(_np(other.forward(batch, training=True)["text_present"]),
                              masks[0][:64])


def test_inference_never_drops():
    model = _model(1.0)
    batch = _batch(model)
    out = model.forward(batch, training=False)
    np.testing.assert_array_equal(_np(out["text_present"]), np.ones(8))


def test_config_round_trip_and_range():
    model = _model(0.25, seed=3)
    config = model.get_config()
    assert (config["text_dropout"], config["text_dropout_seed"]) == (0.25, 3)
    assert AudioArtMMC.from_config(config).text_dropout == 0.25
    with pytest.raises(ConfigError, match="text_dropout"):
        _model(1.5)


def test_training_steps_with_dropout_stay_finite():
    model = _model(0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batch = _batch(model)
    batch["year_class"] = np.arange(8, dtype=np.int32) % 4
    batch["artist_index"] = np.arange(8, dtype=np.int32) % 3
    logs = model.train_on_batch(batch, return_dict=True)
    assert all(np.isfinite(float(v)) for v in logs.values())
