"""The nine models of the zoo, one module per family (see era_zoo.registry
for names and loading)."""
from .base import ZooModel
from .baselines import BaselineCF, BaselineGenre, BaselineGenreCF
from .contrastive import ContrastiveA2G, ContrastiveA2GA2PG2P, ContrastiveA2P
from .era import AudioArtMMC, AudioCNN, AudioSUC
from .year_bins import YearBins

MODEL_CLASSES = (AudioCNN, AudioSUC, AudioArtMMC, ContrastiveA2G, ContrastiveA2P,
                 ContrastiveA2GA2PG2P, BaselineGenre, BaselineCF, BaselineGenreCF)

__all__ = ["MODEL_CLASSES", "ZooModel", "YearBins"] + [c.__name__ for c in MODEL_CLASSES]
