"""A demo corpus of real music with real era labels, built offline.

The scores come from the music21 package's corpus (Renaissance to the 20th
century), are rendered to audio with one instrument for every piece
(fluidsynth + the TimGM6mb General-MIDI soundfont, or a pure-Python
synthesizer where those are absent), and are labelled with the year from a
table of documented facts (``composers``). ``build_demo`` makes it,
``read_demo`` reads it as a ``TrackTable``.
"""
from .build import BuildResult, BuildSettings, build_demo
from .reader import read_demo

__all__ = ["BuildResult", "BuildSettings", "build_demo", "read_demo"]
