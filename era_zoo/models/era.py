"""Paper A's era models: Audio-CNN, Audio-SUC and AudioArt-MMC.

Paper A does not give its CNN, temperature or loss weights. Our choices
(all configuration):

- audio encoder: paper B's encoder on paper A's 224-band input
  (``mel="era224"``, 256 frames, about 6 s at 22,050 Hz / hop 512) with
  frequency pooling in all seven blocks, so the trunk stays 1024-d;
- classifier: a linear layer on the 128-d embedding (``classifier_hidden_dim``
  adds a hidden layer);
- era contrastive loss (supervised contrastive) on a Dense-ReLU-Dense,
  L2-normalised projection; temperature 0.1 (Khosla et al.'s and paper B's);
- alpha = beta = 0.5, so cross-entropy stays the dominant term and the
  classifier's probabilities stay usable for the expected year.

Batches are dicts: "mel" (batch, n_mels, n_frames), "year_class" (int32,
the class of ``model.year_bins.class_of(year)``), and for AudioArt-MMC
"artist_text" and "artist_index" (int32; negative = no artist text).
"""
import importlib

import keras
import numpy as np
from keras import ops

from ..errors import ConfigError
from ..layers.fusion import SelfAttentionFusion
from ..layers.heads import ClassifierHead, ProjectionHead
from ..layers.text_encoder import PrecomputedTextEncoder
from ..losses import era_contrastive, multimodal_contrastive
from ..registry import register_model
from .base import TEST_ENCODER, TEST_WIDTH, ZooModel, _identity, predict_in_batches
from .year_bins import YearBins

ERA_ENCODER = {"n_mels": 224, "n_frames": 256, "pools": [[2, 2]] * 7}

# Test configurations: 48-band mels, years 2000..2003 in 1-year classes;
# no dropout of any kind (AudioArt-MMC's text dropout included), so test
# steps are deterministic.
TEST_ERA = {"encoder": TEST_ENCODER, "mel": "melon48",
            "year_bins": {"start": 2000, "end": 2003, "width": 1}}
TEST_CONTRASTIVE_ERA = {**TEST_ERA, "projection_dim": TEST_WIDTH}
TEST_MMC = {**TEST_CONTRASTIVE_ERA,
            "text_encoder": {"class_name": "era_zoo>PrecomputedTextEncoder",
                             "config": {"input_dim": 12, "output_dim": TEST_WIDTH}},
            "fusion": {"num_heads": 2, "head_dim": 8, "dropout": 0.0}, "text_dropout": 0.0}


def _softmax(logits):
    logits = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(labels, logits):
    """Mean sparse categorical cross-entropy from logits, in float32."""
    return ops.mean(ops.sparse_categorical_crossentropy(
        ops.cast(ops.reshape(labels, (-1,)), "int32"), ops.cast(logits, "float32"),
        from_logits=True))


class EraModel(ZooModel):
    """Shared by the three era models: year bins, classifier, predict_year."""

    default_mel = "era224"
    default_encoder = ERA_ENCODER
    target_keys = ("year_class",)

    def __init__(self, year_bins=None, classifier_hidden_dim=0, classifier_dropout=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.year_bins = YearBins.from_config(year_bins)
        self.classifier_hidden_dim = int(classifier_hidden_dim)
        self.classifier_dropout = float(classifier_dropout)
        self.classifier = ClassifierHead(
            self.year_bins.n_classes, input_dim=self._classifier_input_dim(),
            hidden_dim=self.classifier_hidden_dim, dropout=self.classifier_dropout,
            name="classifier")

    def _classifier_input_dim(self):
        return self.audio_encoder.output_dim

    def predict_year(self, x, batch_size=64):
        """Era predictions for a batch of mels (batch, n_mels, n_frames), a
        dict batch or a dataset of dict batches. Returns a dict of NumPy
        arrays: "expected_year" (sum of class probability x class centre),
        "top_class", "top_year" (centre of the most probable class),
        "probabilities" (batch, n_classes), "decade_probabilities" (batch,
        n_decades) and "decades" (first year of each decade)."""
        in_memory = isinstance(x, np.ndarray) or (
            isinstance(x, dict) and all(isinstance(v, np.ndarray) for v in x.values()))
        outputs = (predict_in_batches(self, x, batch_size, keys=["logits"]) if in_memory
                   else self.predict(x, batch_size=batch_size, verbose=0))
        probs = _softmax(np.asarray(outputs["logits"], np.float64))
        centres = self.year_bins.centres
        top = probs.argmax(axis=-1)
        return {"expected_year": probs @ centres, "top_class": top.astype(np.int32),
                "top_year": centres[top], "probabilities": probs.astype(np.float32),
                "decade_probabilities": self.year_bins.decade_probs(probs).astype(np.float32),
                "decades": self.year_bins.decades}

    def get_config(self):
        return {**super().get_config(), "year_bins": self.year_bins.to_dict(),
                "classifier_hidden_dim": self.classifier_hidden_dim,
                "classifier_dropout": self.classifier_dropout}


@register_model("audio_cnn", family="era", title="Audio-CNN", test_config=TEST_ERA)
@keras.saving.register_keras_serializable(package="era_zoo")
class AudioCNN(EraModel):
    """Audio-CNN: audio encoder -> classifier, cross-entropy over era classes."""

    loss_terms = ("loss", "ce")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._finish_init()

    def forward(self, batch, training=False):
        h = self.audio_encoder(batch["mel"], training=training)
        return {"embedding": h, "logits": self.classifier(h, training=training)}

    def objective(self, batch, outputs, gather=_identity):
        ce = cross_entropy(batch["year_class"], outputs["logits"])
        return {"loss": ce, "ce": ce}


class _ContrastiveEra(EraModel):
    """Era models with an era contrastive term: alpha, temperature, projection."""

    def __init__(self, alpha=0.5, temperature=0.1, projection_dim=128, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.temperature = float(alpha), float(temperature)
        if self.temperature <= 0:
            raise ConfigError("temperature", f"must be > 0, got {temperature}")
        self.projection_dim = int(projection_dim)
        self.era_projection = ProjectionHead(
            self._classifier_input_dim(), self.projection_dim, self.projection_dim,
            name="era_projection")

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha,
                "temperature": self.temperature, "projection_dim": self.projection_dim}


@register_model("audio_suc", family="era", title="Audio-SUC",
                test_config=TEST_CONTRASTIVE_ERA)
@keras.saving.register_keras_serializable(package="era_zoo")
class AudioSUC(_ContrastiveEra):
    """Audio-SUC: cross-entropy + alpha x era contrastive loss on the
    projected audio embedding (positives: songs of the same era class)."""

    loss_terms = ("loss", "ce", "era_contrastive")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._finish_init()

    def forward(self, batch, training=False):
        h = self.audio_encoder(batch["mel"], training=training)
        return {"embedding": h, "logits": self.classifier(h, training=training),
                "projection": self.era_projection(h)}

    def objective(self, batch, outputs, gather=_identity):
        ce = cross_entropy(batch["year_class"], outputs["logits"])
        ec = era_contrastive(gather(outputs["projection"]), gather(batch["year_class"]),
                             self.temperature)
        return {"loss": ce + self.alpha * ec, "ce": ce, "era_contrastive": ec}


@register_model("audioart_mmc", family="era", title="AudioArt-MMC", test_config=TEST_MMC)
@keras.saving.register_keras_serializable(package="era_zoo")
class AudioArtMMC(_ContrastiveEra):
    """AudioArt-MMC: audio and artist-text embeddings fused by self-attention
    (SelfAttentionFusion); cross-entropy on the fused embedding + alpha x era
    contrastive on its projection + beta x multimodal contrastive between
    the projected text and audio embeddings (positives: the songs of the
    text's artist in the batch).

    ``text_encoder``: any layer of the artist-text interface
    (era_zoo.layers.text_encoder), as an instance or a serialized config;
    default a PrecomputedTextEncoder for 384-d vectors. Its output_dim must
    equal the audio encoder's. ``fusion``: SelfAttentionFusion arguments.

    ``text_dropout`` (default 0.5; paper A is silent): the probability that
    a training example's fusion sees *no text*, the embedding of the
    all-padding (or zero-vector) input, which is what inference feeds when
    no artist text is given (:func:`era_zoo.inference.model_batch`). Without
    it the model never meets that input in training and audio-only
    predictions are out of distribution. Drawn per example from
    ``text_dropout_seed`` (None: from Keras' global seed); only the fusion
    input is dropped, the multimodal contrastive term still pairs every
    song's audio with its artist's real text. 0 turns it off; inference
    (``training=False``) never drops.

    Example:
        >>> from era_zoo.registry import model_info
        >>> model = AudioArtMMC(**{**model_info("audioart_mmc").test_config,
        ...                        "text_dropout": 1.0})
        >>> batch = model.example_batch(4)
        >>> batch["artist_text"] += 1.0
        >>> out = model.forward(batch, training=True)
        >>> keras.ops.convert_to_numpy(out["text_present"]).tolist()
        [0.0, 0.0, 0.0, 0.0]
    """

    loss_terms = ("loss", "ce", "era_contrastive", "mmc")
    input_keys = ("mel", "artist_text")
    target_keys = ("year_class", "artist_index")

    def __init__(self, text_encoder=None, fusion=None, beta=0.5, text_dropout=0.5,
                 text_dropout_seed=None, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)
        self.text_dropout = float(text_dropout)
        if not 0.0 <= self.text_dropout <= 1.0:
            raise ConfigError("text_dropout", f"must be within [0, 1], got {text_dropout}")
        self.text_dropout_seed = None if text_dropout_seed is None else int(text_dropout_seed)
        self.text_dropout_rng = keras.random.SeedGenerator(self.text_dropout_seed,
                                                           name="text_dropout_rng")
        self.text_encoder = self._make_text_encoder(text_encoder)
        dim = self.audio_encoder.output_dim
        if getattr(self.text_encoder, "output_dim", None) != dim:
            raise ConfigError("text_encoder.output_dim",
                              f"{getattr(self.text_encoder, 'output_dim', None)} must "
                              f"equal the audio embedding width {dim}")
        self.fusion_config = {k: v for k, v in dict(fusion or {}).items() if k != "name"}
        self.fusion = SelfAttentionFusion(dim=dim, **self.fusion_config, name="fusion")
        self.text_projection = ProjectionHead(dim, self.projection_dim, self.projection_dim,
                                              name="text_projection")
        self.audio_projection = ProjectionHead(dim, self.projection_dim,
                                               self.projection_dim, name="audio_projection")
        self._finish_init()

    @staticmethod
    def _make_text_encoder(text_encoder):
        if text_encoder is None:
            return PrecomputedTextEncoder(name="text_encoder")
        if isinstance(text_encoder, dict):
            # era_zoo's keras-hub text layer is imported lazily (keras-hub is
            # heavy): its module must run, registering the class, before the
            # config can be deserialised, e.g. in a fresh era_zoo.load().
            module = text_encoder.get("module", "")
            if module.startswith("era_zoo."):
                importlib.import_module(module)
            text_encoder = keras.saving.deserialize_keras_object(text_encoder)
        if not isinstance(text_encoder, keras.layers.Layer):
            raise ConfigError("text_encoder", f"{type(text_encoder).__name__} is not a "
                                              "Keras layer", "see era_zoo.layers.text_encoder")
        for attr in ("output_dim", "text_input_shape", "text_input_dtype"):
            if not hasattr(text_encoder, attr):
                raise ConfigError("text_encoder", f"{type(text_encoder).__name__} lacks "
                                                  f"attribute {attr!r}",
                                  "see the interface in era_zoo.layers.text_encoder")
        return text_encoder

    def example_batch(self, batch_size=2):
        batch = super().example_batch(batch_size)
        batch["artist_text"] = np.zeros((batch_size, *self.text_encoder.text_input_shape),
                                        self.text_encoder.text_input_dtype)
        return batch

    def _fusion_text(self, batch, text, training):
        """(the text embedding the fusion sees, (batch,) 1.0 where it is the
        example's own text, 0.0 where it is dropped for the no-text one)."""
        present = ops.ones_like(text[:, 0])
        if not training or self.text_dropout == 0.0:
            return text, present
        absent_input = ops.zeros_like(batch["artist_text"][:1])
        absent = self.text_encoder(absent_input, training=training)
        draw = keras.random.uniform(ops.shape(present), seed=self.text_dropout_rng)
        present = ops.cast(ops.greater_equal(draw, self.text_dropout), text.dtype)
        return present[:, None] * text + (1.0 - present[:, None]) * absent, present

    def forward(self, batch, training=False):
        audio = self.audio_encoder(batch["mel"], training=training)
        text = self.text_encoder(batch["artist_text"], training=training)
        fusion_text, present = self._fusion_text(batch, text, training)
        fused = self.fusion(audio, fusion_text, training=training)
        return {"embedding": fused, "audio": audio, "text": text, "text_present": present,
                "logits": self.classifier(fused, training=training),
                "projection": self.era_projection(fused),
                "text_projection": self.text_projection(text),
                "audio_projection": self.audio_projection(audio)}

    def objective(self, batch, outputs, gather=_identity):
        ce = cross_entropy(batch["year_class"], outputs["logits"])
        ec = era_contrastive(gather(outputs["projection"]), gather(batch["year_class"]),
                             self.temperature)
        mmc = multimodal_contrastive(gather(outputs["text_projection"]),
                                     gather(outputs["audio_projection"]),
                                     gather(batch["artist_index"]), self.temperature)
        return {"loss": ce + self.alpha * ec + self.beta * mmc, "ce": ce,
                "era_contrastive": ec, "mmc": mmc}

    def get_config(self):
        return {**super().get_config(), "beta": self.beta,
                "text_dropout": self.text_dropout, "text_dropout_seed": self.text_dropout_seed,
                "text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
                "fusion": dict(self.fusion_config)}
