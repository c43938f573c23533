"""The zoo's models, one module per family; each class registers itself
(era_zoo.registry.register_model), which is where names, families and
loading live."""
# Import order is registration order, so list_models() gives paper A's
# era models first, then paper B's contrastive models and baselines, then
# the pretrained musicnn taggers.
from .era import AudioArtMMC, AudioCNN, AudioSUC
from .contrastive import ContrastiveA2G, ContrastiveA2GA2PG2P, ContrastiveA2P
from .baselines import BaselineCF, BaselineGenre, BaselineGenreCF
from .musicnn import MusicnnMSD, MusicnnMTT, MusicnnVGGMSD, MusicnnVGGMTT
from .base import ZooModel
from .year_bins import YearBins

__all__ = ["AudioArtMMC", "AudioCNN", "AudioSUC", "BaselineCF", "BaselineGenre",
           "BaselineGenreCF", "ContrastiveA2G", "ContrastiveA2GA2PG2P", "ContrastiveA2P",
           "MusicnnMSD", "MusicnnMTT", "MusicnnVGGMSD", "MusicnnVGGMTT",
           "YearBins", "ZooModel"]
