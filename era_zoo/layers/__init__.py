"""Building blocks of the zoo's models, one module each; all serialisable
and written in keras.ops."""
from .audio_encoder import AudioEncoder
from .cf_encoder import CFEncoder
from .fusion import SelfAttentionFusion
from .genre_encoder import GenreEncoder
from .heads import ClassifierHead, ProjectionHead, l2_normalize
from .text_encoder import PrecomputedTextEncoder

__all__ = ["AudioEncoder", "CFEncoder", "ClassifierHead", "GenreEncoder",
           "PrecomputedTextEncoder", "ProjectionHead", "SelfAttentionFusion",
           "l2_normalize"]
