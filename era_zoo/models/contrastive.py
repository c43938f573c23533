"""Paper B's cross-modal contrastive models: the audio encoder trained with
NT-Xent against genre embeddings (A2G), playlist CF vectors (A2P), or both
plus genre-vs-CF (A2G+A2P+G2P).

As in the reference, the losses see the encoders' 128-d LayerNorm outputs
directly (cosine similarity inside nt_xent); no extra projection head.
Batches are dicts: "mel" (batch, 48, 256), "genre_ids" (batch, 10) int32
(0 = padding), "cf" (batch, 301) float32.
"""
import keras
import numpy as np

from ..errors import ConfigError
from ..layers.cf_encoder import CFEncoder
from ..layers.genre_encoder import GenreEncoder
from ..losses import nt_xent
from ..registry import register_model
from .base import TEST_ENCODER, TEST_WIDTH, ZooModel, _identity

# Genres in use in the Melon Playlist Dataset (paper B); set the real
# vocabulary size of your genre word2vec.
DEFAULT_N_GENRES = 219

# Test configurations: 6 genres, 16-d encoders, no dropout.
TEST_GENRE_ENCODER = {"vocab_size": 6, "embedding_dim": TEST_WIDTH, "num_heads": 2,
                      "head_dim": 8, "output_dim": TEST_WIDTH, "dropout": 0.0,
                      "attention_dropout": 0.0}
TEST_CF_ENCODER = {"hidden_dim": TEST_WIDTH, "output_dim": TEST_WIDTH, "dropout": 0.0}
TEST_AUDIO = {"encoder": TEST_ENCODER, "mel": "melon48"}


class ContrastiveModel(ZooModel):
    """Shared by the three: temperature, the genre and CF encoders.
    Downstream embeddings default to the 1024-d trunk, as the reference's
    encode.py saves them."""

    uses_genre = uses_cf = False
    default_level = "trunk"

    def __init__(self, temperature=0.1, genre_encoder=None, cf_encoder=None,
                 genre_embedding=None, **kwargs):
        super().__init__(**kwargs)
        self.temperature = float(temperature)
        if self.temperature <= 0:
            raise ConfigError("temperature", f"must be > 0, got {temperature}")
        self.genre_encoder_config = self.cf_encoder_config = None
        if self.uses_genre:
            self.genre_encoder_config = {"vocab_size": DEFAULT_N_GENRES,
                                         **_without_name(genre_encoder)}
            self.genre_encoder = GenreEncoder(**self.genre_encoder_config,
                                              embedding_matrix=genre_embedding,
                                              name="genre_encoder")
        elif genre_embedding is not None:
            raise ConfigError("genre_embedding", f"{type(self).__name__} has no genre encoder")
        if self.uses_cf:
            self.cf_encoder_config = _without_name(cf_encoder)
            self.cf_encoder = CFEncoder(**self.cf_encoder_config, name="cf_encoder")
        for field, enc in (("genre_encoder", "genre"), ("cf_encoder", "cf")):
            layer = getattr(self, field, None)
            if layer is not None and layer.output_dim != self.audio_encoder.output_dim:
                raise ConfigError(f"{field}.output_dim",
                                  f"{layer.output_dim} differs from the audio "
                                  f"embedding width {self.audio_encoder.output_dim}",
                                  f"the {enc} and audio embeddings are compared row by row")

    def example_batch(self, batch_size=2):
        batch = super().example_batch(batch_size)
        if self.uses_genre:
            batch["genre_ids"] = np.ones((batch_size, self.genre_encoder.max_genres),
                                         np.int32)
        if self.uses_cf:
            batch["cf"] = np.zeros((batch_size, self.cf_encoder.input_dim), np.float32)
        return batch

    def forward(self, batch, training=False):
        outputs = {"audio": self.audio_encoder(batch["mel"], training=training)}
        if self.uses_genre:
            outputs["genre"] = self.genre_encoder(batch["genre_ids"], training=training)
        if self.uses_cf:
            outputs["cf"] = self.cf_encoder(batch["cf"], training=training)
        return outputs

    def _pair_losses(self, outputs, pairs, gather):
        """NT-Xent of each (name, a, b) pair; each modality gathered once, in
        a fixed order (workers must issue their collectives alike)."""
        names = dict.fromkeys(m for _, a, b in pairs for m in (a, b))
        rows = {k: gather(outputs[k]) for k in names}
        return {name: nt_xent(rows[a], rows[b], self.temperature) for name, a, b in pairs}

    def get_config(self):
        config = {**super().get_config(), "temperature": self.temperature}
        if self.uses_genre:
            config["genre_encoder"] = dict(self.genre_encoder_config)
        if self.uses_cf:
            config["cf_encoder"] = dict(self.cf_encoder_config)
        return config


def _without_name(config):
    return {k: v for k, v in dict(config or {}).items() if k != "name"}


@register_model("contrastive_a2g", family="contrastive", title="A2G",
                test_config={**TEST_AUDIO, "genre_encoder": TEST_GENRE_ENCODER})
@keras.saving.register_keras_serializable(package="era_zoo")
class ContrastiveA2G(ContrastiveModel):
    """Audio vs genre: NT-Xent(audio, genre)."""

    loss_terms = ("loss", "a2g")
    target_keys = ("genre_ids",)
    uses_genre = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._finish_init()

    def objective(self, batch, outputs, gather=_identity):
        terms = self._pair_losses(outputs, [("a2g", "audio", "genre")], gather)
        return {"loss": terms["a2g"], **terms}


@register_model("contrastive_a2p", family="contrastive", title="A2P",
                test_config={**TEST_AUDIO, "cf_encoder": TEST_CF_ENCODER})
@keras.saving.register_keras_serializable(package="era_zoo")
class ContrastiveA2P(ContrastiveModel):
    """Audio vs playlist CF vector: NT-Xent(audio, cf)."""

    loss_terms = ("loss", "a2p")
    target_keys = ("cf",)
    uses_cf = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._finish_init()

    def objective(self, batch, outputs, gather=_identity):
        terms = self._pair_losses(outputs, [("a2p", "audio", "cf")], gather)
        return {"loss": terms["a2p"], **terms}


@register_model("contrastive_a2g_a2p_g2p", family="contrastive", title="A2G+A2P+G2P",
                test_config={**TEST_AUDIO, "genre_encoder": TEST_GENRE_ENCODER,
                             "cf_encoder": TEST_CF_ENCODER})
@keras.saving.register_keras_serializable(package="era_zoo")
class ContrastiveA2GA2PG2P(ContrastiveModel):
    """The full model of paper B: w_a2g L(A,G) + w_a2p L(A,CF) + w_g2p L(G,CF),
    equal weights (1) by default as in the paper."""

    loss_terms = ("loss", "a2g", "a2p", "g2p")
    target_keys = ("genre_ids", "cf")
    uses_genre = uses_cf = True

    def __init__(self, a2g_weight=1.0, a2p_weight=1.0, g2p_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.a2g_weight, self.a2p_weight = float(a2g_weight), float(a2p_weight)
        self.g2p_weight = float(g2p_weight)
        self._finish_init()

    def objective(self, batch, outputs, gather=_identity):
        t = self._pair_losses(outputs, [("a2g", "audio", "genre"), ("a2p", "audio", "cf"),
                                        ("g2p", "genre", "cf")], gather)
        loss = (self.a2g_weight * t["a2g"] + self.a2p_weight * t["a2p"]
                + self.g2p_weight * t["g2p"])
        return {"loss": loss, **t}

    def get_config(self):
        return {**super().get_config(), "a2g_weight": self.a2g_weight,
                "a2p_weight": self.a2p_weight, "g2p_weight": self.g2p_weight}
