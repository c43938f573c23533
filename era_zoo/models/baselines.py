"""Paper B's supervised baselines: the same audio encoder with linear heads
on its 128-d embedding, trained on the side information directly: sigmoid
binary cross-entropy on multi-hot genres, mean squared error to the CF
vector, or their sum. Batches: "mel", "genre_multi_hot" (batch, n_genres)
float32, "cf" (batch, 301) float32."""
import keras
from keras import layers, ops

from ..layers.cf_encoder import CF_DIM
from ..registry import register_model
from .base import TEST_ENCODER, ZooModel, _identity
from .contrastive import DEFAULT_N_GENRES

TEST_BASELINE = {"encoder": TEST_ENCODER, "mel": "melon48", "n_genres": 6}


class BaselineModel(ZooModel):
    """Paper B's supervised baselines: the audio encoder with linear genre
    and/or CF heads. Downstream embeddings default to the 1024-d trunk, as
    for the contrastive models."""

    uses_genre = uses_cf = False
    default_level = "trunk"

    def __init__(self, n_genres=DEFAULT_N_GENRES, cf_dim=CF_DIM, **kwargs):
        super().__init__(**kwargs)
        self.n_genres, self.cf_dim = int(n_genres), int(cf_dim)
        width = self.audio_encoder.output_dim
        if self.uses_genre:
            self.genre_head = layers.Dense(self.n_genres, name="genre_head")
            self.genre_head.build((None, width))
        if self.uses_cf:
            self.cf_head = layers.Dense(self.cf_dim, name="cf_head")
            self.cf_head.build((None, width))
        self._finish_init()

    def forward(self, batch, training=False):
        h = self.audio_encoder(batch["mel"], training=training)
        outputs = {"embedding": h}
        if self.uses_genre:
            outputs["genre_logits"] = self.genre_head(h)
        if self.uses_cf:
            outputs["cf"] = self.cf_head(h)
        return outputs

    def objective(self, batch, outputs, gather=_identity):
        terms = {}
        if self.uses_genre:
            terms["genre_bce"] = ops.mean(ops.binary_crossentropy(
                ops.cast(batch["genre_multi_hot"], "float32"),
                ops.cast(outputs["genre_logits"], "float32"), from_logits=True))
        if self.uses_cf:
            terms["cf_mse"] = ops.mean(ops.square(
                ops.cast(outputs["cf"], "float32") - ops.cast(batch["cf"], "float32")))
        return {"loss": sum(terms.values()), **terms}

    def get_config(self):
        return {**super().get_config(), "n_genres": self.n_genres, "cf_dim": self.cf_dim}


@register_model("baseline_genre", family="baseline", title="Genre baseline",
                test_config=TEST_BASELINE)
@keras.saving.register_keras_serializable(package="era_zoo")
class BaselineGenre(BaselineModel):
    """Audio encoder -> linear n_genres, sigmoid BCE on "genre_multi_hot"."""

    loss_terms = ("loss", "genre_bce")
    target_keys = ("genre_multi_hot",)
    uses_genre = True


@register_model("baseline_cf", family="baseline", title="CF baseline",
                test_config=TEST_BASELINE)
@keras.saving.register_keras_serializable(package="era_zoo")
class BaselineCF(BaselineModel):
    """Audio encoder -> linear 301, mean squared error to "cf"."""

    loss_terms = ("loss", "cf_mse")
    target_keys = ("cf",)
    uses_cf = True


@register_model("baseline_genre_cf", family="baseline", title="Genre+CF baseline",
                test_config=TEST_BASELINE)
@keras.saving.register_keras_serializable(package="era_zoo")
class BaselineGenreCF(BaselineModel):
    """Both heads; the loss is BCE + MSE."""

    loss_terms = ("loss", "genre_bce", "cf_mse")
    target_keys = ("genre_multi_hot", "cf")
    uses_genre = uses_cf = True
