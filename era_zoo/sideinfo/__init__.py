"""Side information for the models: playlist CF vectors (implicit), genre
word2vec (gensim) and artist text (keras-hub WordPiece, or precomputed
vectors). The heavy libraries are imported only when a builder runs."""
from .artist_text import ArtistTextTable, load_precomputed_vectors
from .cf import CFVectors, playlist_cf_vectors
from .word2vec import GenreVocab, genre_baskets, genre_word2vec

__all__ = ["ArtistTextTable", "load_precomputed_vectors", "CFVectors", "playlist_cf_vectors",
           "GenreVocab", "genre_baskets", "genre_word2vec"]
