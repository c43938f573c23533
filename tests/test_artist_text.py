"""Artist text: offline WordPiece vocabulary and ids, the keras-hub transformer
encoder (shape, masking, serialisation) and the precomputed-vector loader."""
import numpy as np
import pytest

from era_zoo.errors import ConfigError, DataError
from era_zoo.sideinfo.artist_text import ArtistTextTable, load_precomputed_vectors

TEXTS = {
    "beatles": "The Beatles were an English rock band formed in Liverpool in 1960.",
    "davis": "Miles Davis was an American jazz trumpeter, bandleader and composer.",
    "oasis": "Oasis were an English rock band formed in Manchester in 1991.",
    "nobody": None,
    "blank": "   ",
}


@pytest.fixture(scope="module")
def table():
    # tf-text's learner keeps whole words only above a count threshold:
    # repeating each biography makes its words frequent enough.
    corpus = {a: (" ".join([t] * 5) if t else t) for a, t in TEXTS.items()}
    return ArtistTextTable.from_texts(corpus, vocab_size=120, seq_len=12)


def test_vocabulary_is_learnt_offline_from_the_texts(table):
    vocab = table.vocabulary
    assert vocab[:2] == ["[PAD]", "[UNK]"] and len(vocab) <= 120
    assert len(set(vocab)) == len(vocab)
    # Whole words shared by two biographies (10 occurrences) become tokens;
    # words of one biography (5) stay split into pieces.
    for word in ("rock", "band", "english", "formed", "in", "were"):
        assert word in vocab
    for word in ("liverpool", "manchester", "trumpeter"):
        assert word not in vocab
    # Every character of the corpus is covered, so nothing is out of vocabulary.
    assert table.settings == dict(vocab_size=120, seq_len=12, lowercase=True, strip_accents=True)
    assert "[UNK]" not in [vocab[i] for i in table.tokens.ravel()]


def test_token_ids_shape_padding_and_artists_without_text(table):
    assert table.artist_ids == sorted(TEXTS)
    ids, has_text = table.lookup(["oasis", "nobody", "blank", "beatles"])
    assert ids.shape == (4, 12) and ids.dtype == np.int32
    assert has_text.tolist() == [True, False, False, True]
    assert np.all(ids[1:3] == 0)
    # Five copies of a biography are far longer than 12 pieces: truncated, no padding.
    assert np.all(ids[[0, 3]] != 0)
    vocab = table.vocabulary
    short = table.tokenize(["English ROCK band", ""])
    assert short.tolist() == [[vocab.index(w) for w in ("english", "rock", "band")] + [0] * 9,
                              [0] * 12]
    # A word outside the vocabulary is spelled with its pieces.
    pieces = [vocab[i] for i in table.tokenize(["zebra"])[0] if i]
    assert pieces[0] == "z" and "".join(p.lstrip("#") for p in pieces) == "zebra"
    assert "3 with text, 2 without" in table.summary()
    with pytest.raises(DataError, match="madonna"):
        table.token_ids(["beatles", "madonna"])
    empty_ids, mask = table.lookup(["madonna"], missing="empty")
    assert np.all(empty_ids == 0) and not mask.any()


def test_save_load_round_trip(table, tmp_path):
    table.save(tmp_path / "text")
    back = ArtistTextTable.load(tmp_path / "text")
    assert back.vocabulary == table.vocabulary and back.artist_ids == table.artist_ids
    np.testing.assert_array_equal(back.tokens, table.tokens)
    np.testing.assert_array_equal(back.has_text, table.has_text)
    np.testing.assert_array_equal(back.tokenize(["rock band"]), table.tokenize(["rock band"]))
    (tmp_path / "text" / "tokens.npy").unlink()
    with pytest.raises(DataError, match="tokens.npy"):
        ArtistTextTable.load(tmp_path / "text")
    with pytest.raises(DataError, match="none of the 1 artists has text"):
        ArtistTextTable.from_texts({"x": ""})


def test_transformer_shape_padding_rows_and_serialisation(table, tmp_path):
    import keras
    encoder = table.make_encoder(embedding_dim=16, num_heads=2, intermediate_dim=32,
                                 output_dim=24, num_layers=2)
    assert encoder.text_input_shape == (12,) and encoder.text_input_dtype == "int32"
    ids, _ = table.lookup(["beatles", "nobody", "davis"])
    out = np.asarray(encoder(ids, training=False))
    assert out.shape == (3, 24) and np.isfinite(out).all()

    inputs = keras.Input((12,), dtype="int32")
    model = keras.Model(inputs, encoder(inputs))
    model.save(tmp_path / "enc.keras")
    loaded = keras.models.load_model(tmp_path / "enc.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(ids, training=False)), out, atol=1e-6)
    rebuilt = type(encoder).from_config(encoder.get_config())
    assert rebuilt.get_config() == encoder.get_config()
    with pytest.raises(ConfigError, match="num_heads"):
        table.make_encoder(embedding_dim=16, num_heads=3)


def test_padding_positions_do_not_change_the_embedding():
    """A row padded to length 7 encodes as the same tokens given unpadded to a
    length-4 encoder with the same weights: padding is masked as attention
    keys and left out of the mean."""
    from era_zoo.layers.text_transformer import ArtistTextTransformer
    kwargs = dict(vocab_size=30, embedding_dim=8, num_heads=2, intermediate_dim=16,
                  output_dim=6, dropout=0.0, num_layers=2)
    long = ArtistTextTransformer(seq_len=7, **kwargs)
    short = ArtistTextTransformer(seq_len=4, **kwargs)
    long.build(), short.build()
    for s, l in zip(short.weights, long.weights):
        value = np.asarray(l)
        s.assign(value[: s.shape[0]] if s.shape != l.shape else value)
    tokens = np.array([[5, 9, 2, 17]], np.int32)
    padded = np.concatenate([tokens, np.zeros((1, 3), np.int32)], axis=1)
    np.testing.assert_allclose(np.asarray(long(padded)), np.asarray(short(tokens)), atol=1e-5)
    assert not np.allclose(np.asarray(long(padded)),
                           np.asarray(long(np.array([[5, 9, 2, 17, 3, 0, 0]], np.int32))))


def test_precomputed_vectors_npz_and_npy(tmp_path):
    vectors = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.savez(tmp_path / "bio.npz", artist_ids=np.array(["a", "b", "c"]), vectors=vectors)
    out, has = load_precomputed_vectors(tmp_path / "bio.npz", ["c", "a"])
    assert out.dtype == np.float32 and has.tolist() == [True, True]
    np.testing.assert_array_equal(out, vectors[[2, 0]])
    out, has = load_precomputed_vectors(tmp_path / "bio.npz", ["b", "zed"], missing="empty")
    assert has.tolist() == [True, False] and np.all(out[1] == 0)
    np.testing.assert_array_equal(out[0], vectors[1])

    np.save(tmp_path / "bio.npy", vectors)
    (tmp_path / "bio.artist_ids.txt").write_text("a\nb\nc\n", encoding="utf-8")
    out, _ = load_precomputed_vectors(tmp_path / "bio.npy", ["b"])
    np.testing.assert_array_equal(out, vectors[[1]])


def test_precomputed_vector_errors_name_file_and_artist(tmp_path):
    path = tmp_path / "bio.npz"
    np.savez(path, artist_ids=np.array(["a", "b"]), vectors=np.ones((2, 3)))
    with pytest.raises(DataError, match=r"bio\.npz.*'zed'"):
        load_precomputed_vectors(path, ["a", "zed"])
    with pytest.raises(DataError, match="nothere.npz"):
        load_precomputed_vectors(tmp_path / "nothere.npz", ["a"])
    bad = np.ones((2, 3))
    bad[1, 2] = np.nan
    np.savez(tmp_path / "nan.npz", artist_ids=np.array(["a", "b"]), vectors=bad)
    with pytest.raises(DataError, match=r"nan\.npz.*artist 'b'"):
        load_precomputed_vectors(tmp_path / "nan.npz", ["a"])
    np.savez(tmp_path / "dup.npz", artist_ids=np.array(["a", "a"]), vectors=np.ones((2, 3)))
    with pytest.raises(DataError, match="'a' appears twice"):
        load_precomputed_vectors(tmp_path / "dup.npz", ["a"])
    np.savez(tmp_path / "keys.npz", ids=np.array(["a"]), vectors=np.ones((1, 3)))
    with pytest.raises(DataError, match=r"keys\.npz.*'artist_ids'"):
        load_precomputed_vectors(tmp_path / "keys.npz", ["a"])
    np.savez(tmp_path / "obj.npz", artist_ids=np.array(["a"], dtype=object),
             vectors=np.ones((1, 3)))
    with pytest.raises(DataError, match="obj.npz"):
        load_precomputed_vectors(tmp_path / "obj.npz", ["a"])
    np.save(tmp_path / "lone.npy", np.ones((1, 3)))
    with pytest.raises(DataError, match=r"lone\.artist_ids\.txt"):
        load_precomputed_vectors(tmp_path / "lone.npy", ["a"])
