"""Encoders, fusion and heads: parameter counts of the paper configs, and
forward passes against NumPy statements of the architectures."""
import keras
import numpy as np
import pytest

from era_zoo.errors import ConfigError
from era_zoo.layers import (AudioEncoder, CFEncoder, ClassifierHead, GenreEncoder,
                            PrecomputedTextEncoder, ProjectionHead, SelfAttentionFusion)


def _w(layer, suffix):
    (w,) = [w for w in layer.weights if w.path.endswith(suffix)]
    return np.asarray(w, np.float64)


def _layer_norm(x, gamma, beta, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * gamma + beta


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_attention(layer, prefix, x, key_valid=None, bias=True):
    """Multi-head attention of x over itself: per head softmax(q k^T / sqrt(d)) v,
    heads concatenated and projected."""
    def proj(name):
        y = np.einsum("btd,dhk->bthk", x, _w(layer, f"{prefix}/{name}/kernel"))
        return y + _w(layer, f"{prefix}/{name}/bias") if bias else y
    q, k, v = proj("query"), proj("key"), proj("value")
    scores = np.einsum("bthk,bshk->bhts", q, k) / np.sqrt(q.shape[-1])
    if key_valid is not None:
        scores = np.where(key_valid[:, None, None, :], scores, -1e9)
    heads = np.einsum("bhts,bshk->bthk", _softmax(scores), v)
    out = np.einsum("bthk,hko->bto", heads, _w(layer, f"{prefix}/attention_output/kernel"))
    return out + _w(layer, f"{prefix}/attention_output/bias") if bias else out


def test_audio_encoder_paper_b_parameter_count():
    enc = AudioEncoder()
    enc.build()
    trainable = sum(int(np.prod(w.shape)) for w in enc.trainable_weights)
    assert trainable == 3_989_762
    assert enc.count_params() == 3_994_372
    assert enc.trunk_dim == 1024 and enc.output_dim == 128


def test_genre_encoder_paper_parameter_count():
    # (219 + 1) x 128 embedding + Q/K/V 3 x 128 x 512 + out 512 x 128 + LayerNorm 2 x 128.
    enc = GenreEncoder(219)
    enc.build()
    assert enc.count_params() == 220 * 128 + 3 * 128 * 512 + 512 * 128 + 256


def test_genre_encoder_matches_numpy_and_ignores_padding():
    rng = np.random.default_rng(0)
    w2v = rng.normal(size=(5, 8)).astype(np.float32)
    enc = GenreEncoder(5, embedding_dim=8, num_heads=2, head_dim=4, output_dim=8,
                       max_genres=4, embedding_matrix=w2v)
    enc.build()
    table = _w(enc, "embeddings")
    np.testing.assert_array_equal(table[0], 0.0)                 # padding row
    np.testing.assert_allclose(table[1:], w2v)                   # word2vec rows
    assert "embedding_matrix" not in enc.get_config()

    ids = np.array([[3, 1, 0, 0], [5, 0, 0, 0], [2, 4, 1, 5]], np.int32)
    got = np.asarray(enc(ids, training=False))
    valid = ids != 0
    x = table[ids] * valid[..., None]
    attended = _np_attention(enc, "attention", x, key_valid=valid, bias=False)
    # the reference sums every position, padded queries included
    expected = _layer_norm(attended.sum(axis=1), _w(enc, "gamma"), _w(enc, "beta"))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # the masked option sums the real genres' positions only
    masked = GenreEncoder(5, embedding_dim=8, num_heads=2, head_dim=4, output_dim=8,
                          max_genres=4, sum_over="valid")
    masked.build()
    masked.set_weights(enc.get_weights())
    summed = (attended * valid[..., None]).sum(axis=1)
    np.testing.assert_allclose(np.asarray(masked(ids, training=False)),
                               _layer_norm(summed, _w(enc, "gamma"), _w(enc, "beta")), atol=1e-5)
    # with every slot filled the two agree
    np.testing.assert_allclose(np.asarray(masked(ids, training=False))[2], got[2], atol=1e-5)

    # Changing what sits in the padded slots' embedding row changes nothing.
    enc.embedding.embeddings.assign(np.concatenate([np.full((1, 8), 3.0), w2v]).astype("float32"))
    np.testing.assert_allclose(np.asarray(enc(ids, training=False)), got, atol=1e-5)
    # A track without genres encodes to the LayerNorm bias.
    np.testing.assert_allclose(np.asarray(enc(np.zeros((1, 4), np.int32), training=False))[0],
                               _w(enc, "beta"), atol=1e-6)


def test_genre_encoder_rejects_wrong_word2vec_shape():
    with pytest.raises(ConfigError, match="embedding_matrix"):
        GenreEncoder(5, embedding_dim=8, embedding_matrix=np.zeros((4, 8)))
    with pytest.raises(ConfigError, match="sum_over"):
        GenreEncoder(5, sum_over="mean")


def test_cf_encoder_paper_shape_and_numpy_forward():
    enc = CFEncoder()
    enc.build()
    assert enc.count_params() == 301 * 128 + 128 + 128 * 128 + 128 + 2 * 128
    x = np.random.default_rng(1).normal(size=(3, 301)).astype(np.float32)
    h = np.maximum(x @ _w(enc, "fc1/kernel") + _w(enc, "fc1/bias"), 0)
    y = h @ _w(enc, "fc2/kernel") + _w(enc, "fc2/bias")
    expected = _layer_norm(y, _w(enc, "gamma"), _w(enc, "beta"))
    np.testing.assert_allclose(np.asarray(enc(x, training=False)), expected, atol=1e-5)


def test_fusion_matches_numpy():
    rng = np.random.default_rng(2)
    fusion = SelfAttentionFusion(dim=8, num_heads=2, head_dim=4, dropout=0.0)
    fusion.build()
    fusion.modality.assign(rng.normal(size=(2, 8)).astype(np.float32))
    audio, text = rng.normal(size=(3, 8)), rng.normal(size=(3, 8))
    tokens = np.stack([audio, text], axis=1) + _w(fusion, "modality_embedding")[None]
    attended = _np_attention(fusion, "attention", tokens)
    expected = _layer_norm(tokens + attended, _w(fusion, "gamma"), _w(fusion, "beta")).mean(1)
    got = fusion(audio.astype(np.float32), text.astype(np.float32), training=False)
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5)


def test_projection_head_is_unit_norm_and_text_encoder_shape():
    head = ProjectionHead(8, 16, 4)
    z = np.asarray(head(np.random.default_rng(3).normal(size=(5, 8)).astype(np.float32)))
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-6)
    text = PrecomputedTextEncoder(input_dim=12, output_dim=6)
    assert text.text_input_shape == (12,) and text.text_input_dtype == "float32"
    assert text(np.zeros((2, 12), np.float32)).shape == (2, 6)


@pytest.mark.parametrize("make", [
    lambda: GenreEncoder(5, embedding_dim=8, num_heads=2, head_dim=4, output_dim=8, max_genres=4),
    lambda: GenreEncoder(5, embedding_dim=8, num_heads=2, head_dim=4, output_dim=8, max_genres=4,
                         sum_over="valid"),
    lambda: CFEncoder(input_dim=7, hidden_dim=5, output_dim=3),
    lambda: SelfAttentionFusion(dim=8, num_heads=2, head_dim=4),
    lambda: PrecomputedTextEncoder(input_dim=6, output_dim=4),
    lambda: ProjectionHead(4, 6, 3),
    lambda: ClassifierHead(5, input_dim=4, hidden_dim=6, dropout=0.2),
], ids=["genre", "genre_valid", "cf", "fusion", "text", "projection", "classifier"])
def test_layers_serialise(make):
    layer = make()
    layer.build()
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    clone.build()
    clone.set_weights(layer.get_weights())
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    rng = np.random.default_rng(4)
    if isinstance(layer, GenreEncoder):
        args = (rng.integers(0, 6, (2, 4)).astype(np.int32),)
    elif isinstance(layer, SelfAttentionFusion):
        args = (rng.normal(size=(2, 8)).astype(np.float32),) * 2
    else:
        args = (rng.normal(size=(2, layer.input_dim)).astype(np.float32),)
    np.testing.assert_allclose(np.asarray(clone(*args)), np.asarray(layer(*args)), atol=1e-6)
