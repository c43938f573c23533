"""Read a built demo corpus (see ``build.py``) as a ``TrackTable``.

Each track: ``track_id`` the piece id (``bach/bwv66.6``, ``oneills1850/
0001-0050#12``), ``year`` the label, ``artist_id`` the composer or collection
id, ``artist`` its name, ``genres`` the form (``("chorale",)``), ``split``,
``audio_path`` the WAV. ``extras``: ``artist_text`` {artist_id: description},
``sample_rate``, ``seconds``, ``renderer``, ``year_source`` {track_id:
"metadata" | "work" | "composer"}, ``build_skips`` (counts by kind), and
what the era benchmark scores these labels with beside paper A's +-3
years: ``wide_k`` (:data:`LABEL_TOLERANCE` years) and ``periods``
(``composers.ERAS``).
"""
import json
from pathlib import Path

from ...errors import DataError
from ..problems import ProblemReport
from ..table import SPLITS, Track, TrackTable
from .build import FORMAT, MANIFEST
from .composers import ERAS

# Most labels are the midpoint of a composer's active period (often four to
# six decades), so a piece's true date lies within about 25 years of its
# label: the tolerance that fits these labels, reported beside +-3 years.
LABEL_TOLERANCE = 25


def read_demo(root, *, on_error="raise"):
    """The demo corpus built in ``root``.

    A missing or unfinished manifest raises ``DataError``; a listed piece whose
    WAV is missing or whose record is malformed raises, or with
    ``on_error="skip"`` is counted in ``table.problems``.
    """
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise DataError(path, "no demo corpus manifest", "build one with 'era-zoo data build demo --out DIR'")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(path, f"corrupt manifest: {e}") from e
    if manifest.get("format") != FORMAT:
        raise DataError(path, f"format {manifest.get('format')!r}, expected {FORMAT!r}")
    if not manifest.get("complete"):
        raise DataError(path, "the build did not finish", "run the same build command again to resume it")
    problems = ProblemReport()
    artists = manifest.get("artists", {})
    rendered = manifest.get("rendered", {})
    tracks, year_source = [], {}
    for piece_id, split in sorted(manifest.get("splits", {}).items()):
        rec = rendered.get(piece_id)
        try:
            if rec is None or split not in SPLITS:
                raise DataError(path, f"piece {piece_id!r}: no record or bad split {split!r}")
            audio = root / rec["audio"]
            if not audio.is_file():
                raise DataError(audio, "audio file missing", "rerun the build to render it again")
            year, cid = rec["year"], rec["composer_id"]
            if not isinstance(year, int) or cid not in artists:
                raise DataError(path, f"piece {piece_id!r}: bad year {year!r} or unknown artist {cid!r}")
        except (DataError, KeyError, TypeError) as e:
            if not isinstance(e, DataError):
                e = DataError(path, f"piece {piece_id!r}: malformed record ({type(e).__name__}: {e})")
            problems.raise_or_skip(e, on_error, kind="bad_piece")
            continue
        tracks.append(Track(track_id=piece_id, split=split, audio_path=str(audio), year=year,
                            artist_id=cid, artist=artists[cid]["name"],
                            genres=(rec["form"],) if rec.get("form") else ()))
        year_source[piece_id] = rec.get("year_source")
    settings = manifest["settings"]
    extras = {"artist_text": {cid: a["text"] for cid, a in artists.items()},
              "sample_rate": settings["sample_rate"], "seconds": settings["seconds"],
              "renderer": settings["renderer"], "year_source": year_source,
              "build_skips": manifest.get("skip_counts", {}),
              "wide_k": LABEL_TOLERANCE, "periods": [list(p) for p in ERAS]}
    return TrackTable("demo", tracks, problems, extras)
