"""One uniform track table for every dataset reader.

Each reader (Melon, GTZAN, MTG-Jamendo, MSD, the demo corpus) returns a
``TrackTable``; pipelines, side-information builders, recipes and benchmarks
only ever see this shape.
"""
from collections import Counter
from dataclasses import dataclass, field

from ..errors import ConfigError
from .problems import ProblemReport

SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Track:
    track_id: str                    # dataset's own id, as a string ("blues.00029", "1234")
    split: str | None = None         # one of SPLITS, or None where the dataset has no split
    audio_path: str | None = None    # decodable audio file, if the dataset has audio
    mel_path: str | None = None      # precomputed (n_mels, T) float .npy, if any
    year: int | None = None          # release year (era label); None when unknown
    artist_id: str | None = None
    artist: str | None = None
    genres: tuple = ()               # genre labels or codes (GTZAN: its one class)
    tags: tuple = ()                 # free tags, "category---tag" for MTG-Jamendo
    playlists: tuple = ()            # ids of playlists holding the track (Melon)


@dataclass
class TrackTable:
    """Tracks of one dataset plus what the reader learnt on the way.

    ``extras`` carries dataset-wide side tables, e.g. ``genre_names`` (code ->
    name), ``artist_text`` (artist id -> biography/terms), ``playlists``
    (playlist id -> track ids), ``tag_categories``.
    """
    name: str
    tracks: list
    problems: ProblemReport = field(default_factory=ProblemReport)
    extras: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.tracks)

    def __iter__(self):
        return iter(self.tracks)

    def split(self, name):
        if name not in SPLITS:
            raise ConfigError("split", f"unknown split {name!r}", f"one of {', '.join(SPLITS)}")
        return TrackTable(self.name, [t for t in self.tracks if t.split == name],
                          self.problems, self.extras)

    def filter(self, keep):
        return TrackTable(self.name, [t for t in self.tracks if keep(t)],
                          self.problems, self.extras)

    def split_counts(self):
        return dict(Counter(t.split for t in self.tracks))

    def by_id(self):
        return {t.track_id: t for t in self.tracks}
