"""The four pretrained taggers of the PyPI wheel ``musicnn==0.1.0`` (ISC,
Jordi Pons, Music Technology Group, Universitat Pompeu Fabra), as native
Keras 3 models:

=============== ============================ ================= ================
registry name   architecture                 training data     ROC-AUC / PR-AUC
=============== ============================ ================= ================
musicnn_msd     musicnn (front/mid/back-end) Million Song Data 0.880 / 0.289
musicnn_mtt     musicnn                      MagnaTagATune     0.907 / 0.383
musicnn_vgg_msd VGG-like baseline            Million Song Data 0.877 / 0.282
musicnn_vgg_mtt VGG-like baseline            MagnaTagATune     0.903 / 0.382
=============== ============================ ================= ================

(ROC-AUC / PR-AUC on each dataset's test set, as the wheel reports them.)

Inputs: compressed log-mel patches (batch, 96, 187), era_zoo's
(n_mels, frames) layout, of the ``musicnn96`` mel preset (16 kHz, n_fft 512,
hop 256, 96 Slaney mel bands of the power spectrum rounded to float16, then
log10(10000 x + 1)), or waveforms (batch, samples) at 16 kHz, which the model turns into that mel
in graph and cuts into patches (a saved model takes audio).

Outputs, per patch (for waveforms, with a patch axis after the batch axis):

- musicnn: ``taggram`` (50 sigmoid tag probabilities), ``penultimate``
  (200), ``mean_pool`` and ``max_pool`` (753: the front-end and mid-end
  channels pooled over the patch's frames), and the feature maps
  ``timbral``, ``temporal``, ``cnn1``..``cnn3`` (frames x channels);
- VGG: ``taggram`` and ``pool1``..``pool5`` (frames x bands x 128) with
  ``pool5_flat`` (256), the classifier's input.

Patches: 187 frames (about 3 s, what the models were trained on), cut
without overlap by default (``overlap`` frames shared between neighbours
where asked). A clip shorter than one patch is repeated until it fills one,
as the models' training data were ("repeat-pad"; the original extractor
crashes on clips under about 3 s).
"""
import keras
import numpy as np
from keras import layers, ops

from ..audio.mel import LogMel
from ..audio.presets import get_preset
from ..errors import ConfigError
from ..inference.inputs import as_chunks, chunk_hop
from ..layers.musicnn import FLOAT32, MusicnnTrunk, VGGTrunk, batch_norm
from ..registry import register_model
from .base import predict_in_batches

PATCH_FRAMES = 187
MEL_PRESET = "musicnn96"

MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock",
    "fast", "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian",
    "opera", "male", "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet",
    "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
    "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
    "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice",
    "choral")

MSD_LABELS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance",
    "00s", "alternative rock", "jazz", "beautiful", "metal", "chillout",
    "male vocalists", "classic rock", "soul", "indie rock", "Mellow", "electronica",
    "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues",
    "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar",
    "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad",
    "House", "happy")

# The MSD tags that name an era, oldest first: the zero-shot decade opinion
# renormalises the tagger's probabilities over these.
DECADE_TAGS = ("oldies", "60s", "70s", "80s", "90s", "00s")


def mel_patches(mel, patch_frames=PATCH_FRAMES, overlap=0):
    """Cut mels (batch, n_mels, frames) into patches (batch, n_patches,
    n_mels, patch_frames) in keras.ops, so it runs in graph on a dynamic
    number of frames: :func:`era_zoo.inference.inputs.chunk_mel`'s rule (a
    mel shorter than one patch repeated along time until it fills one, as
    musicnn's training data were, "repeat-pad"; the tail dropped).

    Args:
        mel: (batch, n_mels, frames) tensor.
        patch_frames: frames per patch.
        overlap: frames shared by neighbouring patches.

    Example:
        >>> tuple(mel_patches(np.zeros((1, 96, 600), "float32")).shape)
        (1, 3, 96, 187)
    """
    hop = chunk_hop(patch_frames, overlap)
    frames = ops.shape(mel)[2]
    total = ops.maximum(frames, patch_frames)
    mel = ops.take(mel, ops.mod(ops.arange(total), frames), axis=2)
    n_patches = (total - patch_frames) // hop + 1
    index = ops.arange(n_patches)[:, None] * hop + ops.arange(patch_frames)[None, :]
    return ops.transpose(ops.take(mel, index, axis=2), (0, 2, 1, 3))


class _Tagger(keras.Model):
    """What the musicnn taggers share: tag labels, the mel preset, the
    waveform path, embeddings and tags of whole tracks."""

    default_labels = None
    default_mel = MEL_PRESET
    input_keys = ("mel",)
    levels = ()
    default_level = None

    def __init__(self, labels=None, mel=MEL_PRESET, n_frames=PATCH_FRAMES, overlap=0,
                 **kwargs):
        kwargs["dtype"] = FLOAT32
        if getattr(self, "zoo_name", None):
            kwargs.setdefault("name", self.zoo_name)
        super().__init__(**kwargs)
        labels = self.default_labels if labels is None else labels
        if not labels:
            raise ConfigError("labels", "a tagger needs its tag names",
                              "use musicnn_msd/musicnn_mtt or pass labels=[...]")
        self.labels = tuple(str(t) for t in labels)
        self.mel = mel
        self.mel_spec = get_preset(mel)
        self.n_frames = int(n_frames)
        self.overlap = int(overlap)
        chunk_hop(self.n_frames, self.overlap)
        self.logmel = LogMel(self.mel_spec, name="logmel")

    @property
    def num_tags(self):
        return len(self.labels)

    def _finish_init(self):
        self.patch_outputs(keras.KerasTensor((None, self.mel_spec.n_mels, self.n_frames)))
        self.logmel.build((None, None))
        self.built = True

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs, training=False):
        """Patches (batch, n_mels, n_frames) -> per-patch outputs; waveforms
        (batch, samples) at the mel preset's rate -> outputs with a patch
        axis: (batch, n_patches, ...). A dict batch's "mel" entry is read,
        as the zoo's trained models read theirs."""
        if isinstance(inputs, dict):
            inputs = inputs["mel"]
        if len(inputs.shape) == 3:
            return self.patch_outputs(inputs, training=training)
        if len(inputs.shape) != 2:
            raise ConfigError("inputs", f"shape {tuple(inputs.shape)}: a tagger takes "
                                        f"patches (batch, {self.mel_spec.n_mels}, "
                                        f"{self.n_frames}) or waveforms (batch, samples)")
        patches = mel_patches(self.logmel(inputs), self.n_frames, self.overlap)
        batch, n_patches = ops.shape(patches)[0], ops.shape(patches)[1]
        flat = ops.reshape(patches, (-1, self.mel_spec.n_mels, self.n_frames))
        out = self.patch_outputs(flat, training=training)
        return {k: ops.reshape(v, (batch, n_patches, *v.shape[1:])) for k, v in out.items()}

    # --- whole tracks -------------------------------------------------------
    def patches(self, x, sample_rate=None, overlap=None):
        """float32 patches (n_patches, n_mels, n_frames) of one track.

        These are the chunks of every zoo model
        (:func:`era_zoo.inference.inputs.as_chunks`): the tail dropped, a
        short track repeated; patches start every ``n_frames - overlap``
        frames.

        Args:
            x: a mono waveform (samples,) (needs ``sample_rate``; resampled
                to the preset's rate when it differs), a compressed mel
                (n_mels, frames), or ready patches (n, n_mels, n_frames).
            sample_rate: the waveform's rate in Hz.
            overlap: frames shared by neighbouring patches (default: the
                model's, 0).

        Example:
            >>> model.patches(np.random.randn(16000 * 10), 16000).shape
            (3, 96, 187)
        """
        overlap = self.overlap if overlap is None else overlap
        return as_chunks(x, self.mel_spec, self.n_frames, sample_rate, overlap=overlap)

    def run_patches(self, patches, keys=None, batch_size=64):
        """Per-patch outputs of (n, n_mels, n_frames) patches as float32
        NumPy arrays, computed ``batch_size`` patches at a time.

        Args:
            patches: (n, n_mels, n_frames) array.
            keys: output names to keep (default: all).
            batch_size: patches per forward pass.

        Example:
            >>> model.run_patches(model.patches(wave, 16000), ["taggram"])["taggram"].shape
            (3, 50)
        """
        out = predict_in_batches(self, np.asarray(patches, np.float32), batch_size, keys)
        return {k: np.asarray(v, np.float32) for k, v in out.items()}

    def embed_chunks(self, patches, level=None, batch_size=64):
        """Embeddings of ready patches (n, n_mels, n_frames): float32 (n, d)
        at ``level``, or ``{level: (n, d)}`` for a tuple of levels (one
        pass); the interface :func:`era_zoo.inference.chunk_embeddings` calls.

        Args:
            patches: (n, n_mels, n_frames) array.
            level: one of ``levels`` (None: ``default_level``), or a tuple of them.
            batch_size: patches per forward pass.

        Example:
            >>> model.embed_chunks(np.zeros((2, 96, 187), "float32"), "max_pool").shape
            (2, 753)
        """
        level = self.default_level if level is None else level
        wanted = (level,) if isinstance(level, str) else tuple(level)
        unknown = [name for name in wanted if name not in self.levels]
        if unknown:
            raise ConfigError("level", f"unknown level {unknown[0]!r} for {self.name}",
                              f"one of {', '.join(self.levels)}")
        out = self.run_patches(patches, wanted, batch_size)
        return out[level] if isinstance(level, str) else out

    def embed(self, x, sample_rate=None, level=None, batch_size=64, overlap=None):
        """Embeddings of one track: {"chunks": (n_patches, d), "track": (d,)
        mean over patches}, the interface of every zoo model.

        Args:
            x: waveform, mel or patches, as for :meth:`patches`.
            sample_rate: the waveform's rate in Hz.
            level: one of ``levels`` (None: ``default_level``).
            batch_size: patches per forward pass.
            overlap: frames shared by neighbouring patches.

        Example:
            >>> era_zoo.load("musicnn_msd").embed(wave, 22050, "max_pool")["track"].shape
            (753,)
        """
        if not isinstance(level, (str, type(None))):
            raise ConfigError("level", f"{level!r}: one level per call",
                              f"one of {', '.join(self.levels)}")
        emb = self.embed_chunks(self.patches(x, sample_rate, overlap), level, batch_size)
        return {"chunks": emb, "track": emb.mean(axis=0)}

    def taggram(self, x, sample_rate=None, batch_size=64, overlap=None):
        """(n_patches, num_tags) tag probabilities of one track over time.

        Example:
            >>> era_zoo.load("musicnn_msd").taggram(wave, 16000).shape
            (10, 50)
        """
        patches = self.patches(x, sample_rate, overlap)
        return self.run_patches(patches, ["taggram"], batch_size)["taggram"]

    def top_tags(self, taggram, top=5):
        """[(tag, mean probability)] of the ``top`` tags of a taggram,
        most likely first (musicnn's ``top_tags``: the mean over patches).

        Example:
            >>> model.top_tags(model.taggram(wave, 16000), top=2)
            [('rock', 0.61), ('guitar', 0.33)]
        """
        mean = np.asarray(taggram, np.float64).mean(axis=0)
        order = np.argsort(-mean, kind="stable")[:int(top)]
        return [(self.labels[i], float(mean[i])) for i in order]

    def decade_opinion(self, taggram):
        """Zero-shot decade opinion of an MSD tagger: its mean probabilities
        of the tags oldies, 60s, 70s, 80s, 90s and 00s renormalised to sum to
        one. Last.fm users' tags, not release years: "oldies" names no
        decade, and the tags say what a recording sounds like to listeners,
        which is all the opinion is worth.

        Args:
            taggram: (n_patches, num_tags) of this model.

        Returns:
            {tag: share} in DECADE_TAGS order.

        Example:
            >>> era_zoo.load("musicnn_msd").decade_opinion(taggram)
            {'oldies': 0.1, '60s': 0.2, '70s': 0.3, '80s': 0.2, '90s': 0.1, '00s': 0.1}
        """
        missing = [t for t in DECADE_TAGS if t not in self.labels]
        if missing:
            raise ConfigError("model", f"{self.name} has no decade tags ({', '.join(missing)})",
                              "use musicnn_msd or musicnn_vgg_msd, trained on the "
                              "Million Song Dataset's tags")
        mean = np.asarray(taggram, np.float64).mean(axis=0)
        scores = np.array([mean[self.labels.index(t)] for t in DECADE_TAGS])
        return dict(zip(DECADE_TAGS, (scores / scores.sum()).tolist()))

    def get_config(self):
        mel = self.mel if isinstance(self.mel, str) else get_preset(self.mel).to_dict()
        return {"name": self.name, "trainable": self.trainable, "labels": list(self.labels),
                "mel": mel, "n_frames": self.n_frames, "overlap": self.overlap}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="era_zoo")
class MusicnnTagger(_Tagger):
    """musicnn: :class:`~era_zoo.layers.musicnn.MusicnnTrunk` then the
    back-end BatchNorm -> Dropout -> Dense(backend_units, ReLU) -> BatchNorm
    ("penultimate") -> Dropout -> Dense(tags), sigmoid.

    Args:
        labels: tag names (the registered variants set them).
        midend_filters: mid-end filters (64).
        backend_units: penultimate units (200).
        dropout: back-end dropout while training (0.5).
        mel: mel preset name or dict (``musicnn96``).
        n_frames: frames per patch (187).
        overlap: frames shared by neighbouring patches on the waveform path.

    Example:
        >>> model = era_zoo.load("musicnn_msd")
        >>> tuple(model(np.zeros((4, 96, 187), "float32"))["penultimate"].shape)
        (4, 200)
    """

    levels = ("penultimate", "mean_pool", "max_pool", "taggram")
    default_level = "penultimate"

    def __init__(self, labels=None, midend_filters=64, backend_units=200, dropout=0.5,
                 **kwargs):
        super().__init__(labels=labels, **kwargs)
        self.midend_filters, self.backend_units = int(midend_filters), int(backend_units)
        self.dropout_rate = float(dropout)
        self.trunk = MusicnnTrunk(self.mel_spec.n_mels, self.midend_filters, name="trunk")
        self.pooled_bn = batch_norm("pooled_bn")
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout", dtype=FLOAT32)
        self.dense = layers.Dense(self.backend_units, activation="relu", name="dense",
                                  dtype=FLOAT32)
        self.dense_bn = batch_norm("dense_bn")
        self.classifier = layers.Dense(self.num_tags, name="classifier", dtype=FLOAT32)
        self._finish_init()

    def patch_outputs(self, patches, training=False):
        out = self.trunk(patches, training=training)
        h = self.dropout(self.pooled_bn(out.pop("pooled"), training=training),
                         training=training)
        penultimate = self.dense_bn(self.dense(h), training=training)
        logits = self.classifier(self.dropout(penultimate, training=training))
        return {"taggram": ops.sigmoid(logits), "penultimate": penultimate, **out}

    def get_config(self):
        return {**super().get_config(), "midend_filters": self.midend_filters,
                "backend_units": self.backend_units, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="era_zoo")
class VGGTagger(_Tagger):
    """The wheel's VGG-like baseline: :class:`~era_zoo.layers.musicnn.VGGTrunk`,
    flatten, Dropout(0.5), Dense(tags), sigmoid. Patches must be exactly
    ``n_frames`` long (the classifier's size depends on it).

    Args:
        labels: tag names (the registered variants set them).
        filters: filters of each convolution (128).
        dropout: dropout before the classifier while training (0.5).
        mel, n_frames, overlap: as for :class:`MusicnnTagger`.

    Example:
        >>> model = era_zoo.load("musicnn_vgg_mtt")
        >>> tuple(model(np.zeros((1, 96, 187), "float32"))["pool5_flat"].shape)
        (1, 256)
    """

    levels = ("pool5_flat", "taggram")
    default_level = "pool5_flat"

    def __init__(self, labels=None, filters=128, dropout=0.5, **kwargs):
        super().__init__(labels=labels, **kwargs)
        self.filters, self.dropout_rate = int(filters), float(dropout)
        self.trunk = VGGTrunk(self.mel_spec.n_mels, self.n_frames, self.filters, name="trunk")
        self.dropout = layers.Dropout(self.dropout_rate, name="dropout", dtype=FLOAT32)
        self.classifier = layers.Dense(self.num_tags, name="classifier", dtype=FLOAT32)
        self._finish_init()

    def patch_outputs(self, patches, training=False):
        out = self.trunk(patches, training=training)
        logits = self.classifier(self.dropout(out["pool5_flat"], training=training))
        return {"taggram": ops.sigmoid(logits), **out}

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "dropout": self.dropout_rate}


@register_model("musicnn_msd", family="tagger", title="musicnn (MSD)", test_config={},
                recipe=None)
@keras.saving.register_keras_serializable(package="era_zoo")
class MusicnnMSD(MusicnnTagger):
    """musicnn trained on the Million Song Dataset's 50 most used Last.fm tags."""
    default_labels = MSD_LABELS


@register_model("musicnn_mtt", family="tagger", title="musicnn (MTT)", test_config={},
                recipe=None)
@keras.saving.register_keras_serializable(package="era_zoo")
class MusicnnMTT(MusicnnTagger):
    """musicnn trained on MagnaTagATune's 50 most used tags."""
    default_labels = MTT_LABELS


@register_model("musicnn_vgg_msd", family="tagger",
                title="VGG baseline of musicnn (MSD)", test_config={}, recipe=None)
@keras.saving.register_keras_serializable(package="era_zoo")
class MusicnnVGGMSD(VGGTagger):
    """The VGG-like baseline trained on the Million Song Dataset's tags."""
    default_labels = MSD_LABELS


@register_model("musicnn_vgg_mtt", family="tagger",
                title="VGG baseline of musicnn (MTT)", test_config={}, recipe=None)
@keras.saving.register_keras_serializable(package="era_zoo")
class MusicnnVGGMTT(VGGTagger):
    """The VGG-like baseline trained on MagnaTagATune's tags."""
    default_labels = MTT_LABELS


TAGGERS = (MusicnnMSD, MusicnnMTT, MusicnnVGGMSD, MusicnnVGGMTT)
