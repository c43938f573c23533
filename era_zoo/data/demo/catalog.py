"""The pieces of music21's corpus that the demo can use, and a seeded subset.

Enumeration reads music21's list of core paths (under 0.1 s) and, for ABC
files that hold many tunes (O'Neill's, Aird's, Josquin), the ``X:`` numbers of
their tunes, so no score is parsed. The result is cached in the output folder
(``catalog.json``, keyed by the music21 version).

A piece is ``Piece(piece_id, path, number)``: ``piece_id`` is the corpus path
without extension (``bach/bwv66.6``), with ``#N`` for tune N of an ABC file.
Only score formats are used (MusicXML, Humdrum, ABC); music21's Roman-numeral
analyses (``.rntxt``) are not scores. Where a work exists in two formats
(Beethoven op. 18 no. 1 as ``.krn`` and ``.mxl``), the MusicXML one is kept.
"""
from collections import defaultdict
from dataclasses import dataclass
import json
from pathlib import Path
import random
import re

from ...atomic import write_json
from ...errors import DataError
from .composers import composer_for

SCORE_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn", ".abc")   # preference order
_X_LINE = re.compile(r"^X:\s*(\d+)", re.M)


@dataclass(frozen=True)
class Piece:
    piece_id: str
    path: str                 # absolute path of the score file
    number: int | None = None  # tune number inside an ABC file of many tunes

    @property
    def source(self):
        """Corpus path without extension, the key of the label table."""
        return self.piece_id.split("#", 1)[0]

    @property
    def composer_id(self):
        return composer_for(self.source)

    @property
    def group(self):
        """Pieces that must share a split: the movements of one work."""
        parts = self.source.split("/")
        return "/".join(parts[:-1]) if len(parts) > 2 else self.piece_id


def corpus_root():
    import music21
    return Path(music21.__file__).parent / "corpus"


def _abc_numbers(path):
    text = Path(path).read_text(encoding="latin-1")
    numbers = [int(x) for x in _X_LINE.findall(text)]
    return numbers if len(numbers) > 1 else [None]


def enumerate_pieces():
    """Every usable piece of the installed music21 corpus, sorted by id."""
    from music21 import corpus
    root = corpus_root()
    by_stem = {}
    for path in corpus.getCorePaths():
        path = Path(path)
        if path.suffix not in SCORE_SUFFIXES:
            continue
        stem = path.relative_to(root).with_suffix("").as_posix()
        if composer_for(stem) is None:
            continue
        kept = by_stem.get(stem)
        if kept is None or SCORE_SUFFIXES.index(path.suffix) < SCORE_SUFFIXES.index(kept.suffix):
            by_stem[stem] = path
    pieces = []
    for stem, path in by_stem.items():
        numbers = _abc_numbers(path) if path.suffix == ".abc" else [None]
        for n in numbers:
            pieces.append(Piece(stem if n is None else f"{stem}#{n}", str(path), n))
    return sorted(pieces, key=lambda p: p.piece_id)


def load_catalog(cache_path=None):
    """``enumerate_pieces()``, cached as JSON at ``cache_path`` when given."""
    import music21
    version = music21.__version__
    if cache_path is not None and Path(cache_path).is_file():
        try:
            cached = json.loads(Path(cache_path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataError(cache_path, f"corrupt catalog cache: {e}", "delete it to rebuild") from e
        if cached.get("music21") == version and Path(cached.get("root", "")) == corpus_root():
            return [Piece(**p) for p in cached["pieces"]]
    pieces = enumerate_pieces()
    if cache_path is not None:
        payload = {"music21": version, "root": str(corpus_root()),
                   "pieces": [p.__dict__ for p in pieces]}
        write_json(cache_path, payload, indent=1, sort_keys=False)
    return pieces


def select(pieces, *, max_per_composer=None, composers=None, seed=0):
    """A deterministic subset: per composer, a seeded shuffle cut at the cap.

    The corpus is very imbalanced (Palestrina 1,318 works, most composers one
    to thirty), so the cap makes a balanced-ish subset. Returned sorted by id.
    """
    by_composer = defaultdict(list)
    for p in pieces:
        if composers is None or p.composer_id in composers:
            by_composer[p.composer_id].append(p)
    chosen = []
    for cid in sorted(by_composer):
        group = sorted(by_composer[cid], key=lambda p: p.piece_id)
        random.Random(f"{seed}:{cid}").shuffle(group)
        chosen.extend(group if max_per_composer is None else group[:max_per_composer])
    return sorted(chosen, key=lambda p: p.piece_id)
