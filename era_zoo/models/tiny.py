"""Small configurations of every model, for tests, smoke runs and demos on a
laptop: same architecture and code paths as the paper sizes, a few thousand
parameters, 48 x 64 mel chunks by default.

    model = era_zoo.create_model("contrastive_a2p", **tiny_config("contrastive_a2p"))
"""

TINY_WIDTH = 16


def tiny_encoder(n_mels=48, n_frames=64):
    """AudioEncoder kwargs: seven blocks like paper B's, 8-16 channels; the
    pools leave one band and one frame on 48 x 64."""
    return {"n_mels": n_mels, "n_frames": n_frames,
            "channels": [8, 8, 8, 8, 8, 8, TINY_WIDTH],
            "pools": [[2, 2], [2, 2], [2, 2], [2, 2], [1, 2], [1, 2], [2, 1]],
            "hidden_dim": 32, "output_dim": TINY_WIDTH, "dropout": 0.0}


def tiny_config(name, n_mels=48, n_frames=64, n_genres=6, text_dim=12, n_years=4,
                mel="melon48"):
    """Keyword arguments for ``create_model(name, ...)``. Dropout is 0 so
    training steps are deterministic; era models cover 2000..2000+n_years-1
    in 1-year classes; genre ids run 1..n_genres."""
    config = {"encoder": tiny_encoder(n_mels, n_frames), "mel": mel}
    if name.startswith("audio"):
        config["year_bins"] = {"start": 2000, "end": 2000 + n_years - 1, "width": 1}
        if name != "audio_cnn":
            config["projection_dim"] = TINY_WIDTH
    if name == "audioart_mmc":
        config["text_encoder"] = {
            "class_name": "era_zoo>PrecomputedTextEncoder",
            "config": {"input_dim": text_dim, "output_dim": TINY_WIDTH}}
        config["fusion"] = {"num_heads": 2, "head_dim": 8, "dropout": 0.0}
    if name.startswith("contrastive"):
        config["cf_encoder"] = {"hidden_dim": TINY_WIDTH, "output_dim": TINY_WIDTH, "dropout": 0.0}
        config["genre_encoder"] = {"vocab_size": n_genres, "embedding_dim": TINY_WIDTH,
                                   "num_heads": 2, "head_dim": 8, "output_dim": TINY_WIDTH,
                                   "dropout": 0.0, "attention_dropout": 0.0}
        if name == "contrastive_a2p":
            del config["genre_encoder"]
        if name == "contrastive_a2g":
            del config["cf_encoder"]
    if name.startswith("baseline"):
        config["n_genres"] = n_genres
    return config


def tiny_batch(model, batch_size=8, seed=0, n_genres=6, n_artists=3):
    """A random dict batch with every key ``model`` reads, labels drawn so
    that each class and artist repeats within the batch."""
    import numpy as np

    rng = np.random.default_rng(seed)
    enc = model.audio_encoder
    batch = {"mel": rng.normal(size=(batch_size, enc.n_mels, enc.n_frames)).astype(np.float32)}
    keys = model.input_keys + model.target_keys
    if "year_class" in keys:
        batch["year_class"] = rng.integers(0, min(3, model.year_bins.n_classes),
                                           batch_size).astype(np.int32)
    if "artist_index" in keys:
        batch["artist_index"] = rng.integers(0, n_artists, batch_size).astype(np.int32)
    if "artist_text" in keys:
        table = rng.normal(size=(n_artists, *model.text_encoder.text_input_shape))
        batch["artist_text"] = table[batch["artist_index"]].astype(np.float32)
    if "genre_ids" in keys:
        ids = rng.integers(1, n_genres + 1, (batch_size, model.genre_encoder.max_genres))
        ids[:, 3:] = 0
        batch["genre_ids"] = ids.astype(np.int32)
    if "genre_multi_hot" in keys:
        batch["genre_multi_hot"] = (rng.random((batch_size, model.n_genres)) < 0.3).astype(np.float32)
    if "cf" in keys:
        cf_dim = model.cf_dim if hasattr(model, "cf_dim") else model.cf_encoder.input_dim
        batch["cf"] = rng.normal(size=(batch_size, cf_dim)).astype(np.float32)
    return batch
