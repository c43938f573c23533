"""AudioEncoder: paper B's sizes, configuration, and the fast block recipes
against the plain Conv -> BatchNorm -> ReLU -> MaxPool layer statement."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from era_zoo.errors import ConfigError
from era_zoo.layers.audio_encoder import AudioEncoder

TINY = dict(n_mels=8, n_frames=16, channels=(4, 6, 8), pools=((2, 2), (1, 2), (2, 2)),
            hidden_dim=8, output_dim=4)


def test_paper_b_parameter_counts_and_trunk():
    enc = AudioEncoder()
    enc.build()
    trainable = sum(int(np.prod(v.shape)) for v in enc.trainable_weights)
    assert trainable == 3_989_762
    assert enc.count_params() == 3_994_372
    assert enc.trunk_shape == (1, 2, 512) and enc.trunk_dim == 1024
    mel = np.zeros((1, 48, 256), "float32")
    assert tuple(enc.trunk(mel).shape) == (1, 1024)
    assert tuple(enc(mel).shape) == (1, 128)


def test_paper_b_pools_reduce_time_only_in_blocks_5_and_6():
    enc = AudioEncoder()
    bands, frames, shapes = 48, 256, []
    for pool in enc.pools:
        bands, frames = bands // pool[0], frames // pool[1]
        shapes.append((bands, frames))
    assert shapes == [(24, 128), (12, 64), (6, 32), (3, 16), (3, 8), (3, 4), (1, 2)]
    assert [i + 1 for i, p in enumerate(enc.pools) if p[0] == 1] == [5, 6]


def test_config_round_trip_and_224_bands():
    enc = AudioEncoder(n_mels=224, n_frames=128, output_dim=64, dropout=0.3, name="a")
    clone = AudioEncoder.from_config(enc.get_config())
    assert clone.get_config() == enc.get_config()
    assert clone.trunk_shape == (224 // 32, 128 // 128, 512)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(enc))
    assert isinstance(restored, AudioEncoder) and restored.n_mels == 224


def test_224_band_input_runs():
    enc = AudioEncoder(n_mels=224, n_frames=128, channels=(4, 4, 4, 4, 4, 4, 8))
    out = enc(np.random.default_rng(0).normal(size=(2, 224, 128)).astype("float32"))
    assert tuple(out.shape) == (2, 128)
    assert enc.trunk_dim == 7 * 1 * 8


def test_bad_configuration_is_rejected():
    with pytest.raises(ConfigError, match="pools.*same length"):
        AudioEncoder(channels=(4, 4), pools=((2, 2),))
    with pytest.raises(ConfigError, match="4x4 is too small"):
        AudioEncoder(n_mels=4, n_frames=4).build()


def _plain_trunk(enc, mel, training):
    """The textbook statement with Keras' own layers."""
    x = enc.input_bn(tf.expand_dims(mel, -1), training=training)
    for conv, bn, pool in enc.blocks:
        x = pool(keras.ops.relu(bn(conv(x), training=training)))
    return tf.reshape(x, (-1, enc.trunk_dim))


def _pair():
    rng = np.random.default_rng(7)
    encs = [AudioEncoder(**TINY) for _ in range(2)]
    for e in encs:
        e.build()
    values = [rng.normal(0.2, 0.5, size=v.shape).astype("float32") for v in encs[0].weights]
    for v, val in zip(encs[0].weights, values):
        if "variance" in v.path:
            val = np.abs(val) + 0.5
        v.assign(val)
    encs[1].set_weights(encs[0].get_weights())
    mel = tf.constant(rng.normal(1.0, 2.0, size=(5, 8, 16)).astype("float32"))
    return encs, mel


@pytest.mark.parametrize("training", [False, True])
def test_fast_blocks_equal_plain_layers_with_gradients(training):
    (fast, plain), mel = _pair()
    weights = tf.constant(np.random.default_rng(8).normal(size=(5, fast.trunk_dim)), tf.float32)
    def trunk_variables(enc):
        layers = [enc.input_bn] + [layer for block in enc.blocks for layer in block[:2]]
        return [v for layer in layers for v in layer.trainable_weights]

    grads = []
    for enc, trunk in ((fast, lambda m: fast.trunk(m, training=training)),
                       (plain, lambda m: _plain_trunk(plain, m, training))):
        with tf.GradientTape() as tape:
            out = trunk(mel)
            loss = tf.reduce_sum(out * weights)
        grads.append((out, tape.gradient(loss, trunk_variables(enc))))
    np.testing.assert_allclose(grads[0][0], grads[1][0], atol=1e-4)
    for g_fast, g_plain, v in zip(grads[0][1], grads[1][1], trunk_variables(fast)):
        assert g_fast is not None, v.path
        np.testing.assert_allclose(g_fast, g_plain, atol=2e-4, rtol=1e-3, err_msg=v.path)
    for a, b in zip(fast.non_trainable_weights, plain.non_trainable_weights):
        np.testing.assert_allclose(a, b, atol=1e-5, err_msg=a.path)


def test_nchw_kernel_gradient_equals_autodiff():
    from era_zoo.layers import audio_encoder as ae

    if keras.backend.backend() != "tensorflow" or not ae._onednn_nchw_filter_grad():
        pytest.skip("needs TensorFlow with oneDNN (TF_ENABLE_ONEDNN_OPTS=1)")
    rng = np.random.default_rng(9)
    x = tf.constant(rng.normal(size=(2, 5, 7, 3)).astype("float32"))
    kernel = tf.Variable(rng.normal(size=(3, 3, 3, 4)).astype("float32"))
    dy = tf.constant(rng.normal(size=(2, 5, 7, 4)).astype("float32"))
    results = []
    for conv in (ae._tf_conv3x3_nchw_filter_grad,
                 lambda x, k: tf.nn.conv2d(x, k, 1, "SAME")):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(conv(x, kernel) * dy)
        results.append(tape.gradient(loss, [x, kernel]))
    for fast, ref in zip(*results):
        np.testing.assert_allclose(fast, ref, atol=1e-4)
