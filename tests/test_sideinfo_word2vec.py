"""Genre word2vec: GenreEncoder layout (id 0 = padding), agreement with gensim,
seeding, the window default, encoding and persistence."""
import numpy as np
import pytest
from gensim.models import Word2Vec

from era_zoo.data.problems import ProblemReport
from era_zoo.data.table import Track, TrackTable
from era_zoo.errors import DataError
from era_zoo.sideinfo import word2vec as w2v_module
from era_zoo.sideinfo.word2vec import GenreVocab, genre_word2vec

BASKETS = [["GN0100", "GN0105"], ["GN0200", "GN0205", "GN0201", "GN0100"],
           ["GN0300"], ["GN0100", "GN0101"], ["GN0200", "GN0203"]] * 4
CODES = sorted({g for b in BASKETS for g in b})


def test_layout_matches_genre_encoder():
    vocab = genre_word2vec(BASKETS, dim=16, seed=0)
    assert vocab.vocab == {c: i for i, c in enumerate(CODES, start=1)}
    assert vocab.vocab_size == 8      # GN0100 0101 0105 0200 0201 0203 0205 0300
    assert vocab.matrix.shape == (9, 16) and vocab.matrix.dtype == np.float32
    assert np.all(vocab.matrix[0] == 0)
    assert np.all(np.linalg.norm(vocab.matrix[1:], axis=1) > 0)


def test_rows_are_gensims_vectors_and_window_defaults_to_longest_basket():
    vocab = genre_word2vec(BASKETS, dim=16, seed=5)
    assert vocab.settings["window"] == 4          # the longest basket has 4 genres
    model = Word2Vec(BASKETS, vector_size=16, window=4, min_count=1, seed=5, workers=1)
    for code, gid in vocab.vocab.items():
        np.testing.assert_array_equal(vocab.matrix[gid], model.wv[code])
    narrow = genre_word2vec(BASKETS, dim=16, seed=5, window=1)
    assert not np.array_equal(narrow.matrix, vocab.matrix)


def test_seeded_runs_are_identical():
    a = genre_word2vec(BASKETS, dim=16, seed=1)
    b = genre_word2vec(BASKETS, dim=16, seed=1)
    c = genre_word2vec(BASKETS, dim=16, seed=2)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    assert not np.array_equal(a.matrix, c.matrix)


def test_encode_pads_truncates_and_counts_unknown_codes():
    vocab = genre_word2vec(BASKETS, dim=8)
    ids = vocab.encode(["GN0300", "GN0100"], max_len=4)
    assert ids.dtype == np.int32
    assert ids.tolist() == [CODES.index("GN0300") + 1, CODES.index("GN0100") + 1, 0, 0]
    assert vocab.encode(CODES * 2, max_len=10).tolist() == list(range(1, 9)) + [1, 2]
    with pytest.raises(DataError, match="GN9999"):
        vocab.encode(["GN9999"])
    problems = ProblemReport()
    many = vocab.encode_many([["GN9999", "GN0300"], []], max_len=3, problems=problems)
    assert many.tolist() == [[CODES.index("GN0300") + 1, 0, 0], [0, 0, 0]]
    assert problems.counts == {"unknown_genre_code": 1}


def test_track_table_input_skips_tracks_without_genres():
    table = TrackTable("toy", [Track("1", genres=("GN0100", "GN0200")), Track("2"),
                               Track("3", genres=("GN0200",))])
    vocab = genre_word2vec(table, dim=8)
    assert vocab.vocab == {"GN0100": 1, "GN0200": 2} and vocab.settings["window"] == 2
    with pytest.raises(DataError, match="no track has a genre"):
        genre_word2vec(TrackTable("empty", [Track("1")]))


def test_save_load_and_cache(tmp_path, monkeypatch):
    vocab = genre_word2vec(BASKETS, dim=8, cache_dir=tmp_path / "cache")
    vocab.save(tmp_path / "w2v")
    back = GenreVocab.load(tmp_path / "w2v")
    assert back.vocab == vocab.vocab and back.settings == vocab.settings
    np.testing.assert_array_equal(back.matrix, vocab.matrix)

    class NoTraining:
        def __init__(self, *args, **kwargs):
            raise AssertionError("trained although the cache holds this result")

    monkeypatch.setattr("gensim.models.Word2Vec", NoTraining)
    cached = genre_word2vec(BASKETS, dim=8, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(cached.matrix, vocab.matrix)
    assert cached.vocab == vocab.vocab
    (tmp_path / "w2v" / "vocab.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="vocab.json"):
        GenreVocab.load(tmp_path / "w2v")
    assert w2v_module.PAD_ID == 0
