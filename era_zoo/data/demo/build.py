"""Build the demo corpus: select pieces, render them, label them, split them.

Output folder layout::

    OUT/manifest.json            what was built (see below), written atomically
    OUT/catalog.json             cached list of the corpus's usable pieces
    OUT/audio/<folder>/<piece>.wav   mono 16-bit WAV, one per rendered piece

The manifest holds the render settings (a resumed build must use the same
ones), every rendered piece's record (composer, year and where the year came
from, era, form, audio path, duration), every skipped piece with the kind of
problem (``unlabelled``, ``parse_failed``, ``empty_score``, ``too_short``,
``silent``, ``render_failed``) and its message, the skip counts, the artists' texts, and,
once the build completes, the split of every selected piece.

Resuming: a piece whose record and WAV exist is not rendered again, and a
piece skipped before is not retried unless ``retry_skipped``; the manifest is
saved every ``save_every`` pieces and on interruption. Renders of pieces that
a later, smaller selection leaves out stay on disk and in the manifest's
``rendered`` table as a cache, but only the selection gets splits.
"""
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
import json
import multiprocessing
import os
from pathlib import Path
import resource
import signal
import time
import warnings

from ...atomic import atomic_path, write_json
from ...errors import AudioError, ConfigError, DataError
from . import composers as facts
from .catalog import Piece, load_catalog, select
from .render import render_notes, resolve_renderer, score_notes
from .splits import assign_splits

FORMAT = "era_zoo.demo/1"
MANIFEST = "manifest.json"


@dataclass
class BuildSettings:
    """How pieces are rendered; a resumed build must not change these."""
    sample_rate: int = 22050
    seconds: float = 30.0
    min_seconds: float = 5.0
    renderer: str = "auto"          # resolved to "fluidsynth" or "python" before building
    soundfont: str | None = None
    program: int = 0                # GM program every note is played with

    def check(self):
        if not 8000 <= int(self.sample_rate) <= 96000:
            raise ConfigError("sample_rate", f"{self.sample_rate} Hz is outside 8000..96000")
        if not self.seconds > 0:
            raise ConfigError("seconds", f"must be positive, not {self.seconds}")
        if not 0 <= self.min_seconds <= self.seconds:
            raise ConfigError("min_seconds", f"{self.min_seconds} must be within 0..seconds ({self.seconds})")

    def identity(self):
        """The fields that must match for renders to be reused."""
        return {"sample_rate": int(self.sample_rate), "seconds": float(self.seconds),
                "min_seconds": float(self.min_seconds), "renderer": self.renderer,
                "soundfont": Path(self.soundfont).name if self.soundfont else None,
                "program": int(self.program)}


@dataclass
class BuildResult:
    out: Path
    selected: int
    rendered_now: int
    reused: int
    skip_counts: dict
    split_counts: dict
    seconds_elapsed: float
    renderer: str
    cpu_seconds: float = 0.0        # rendering CPU time of the pieces rendered now
    workers: int = 1
    problems: list = field(default_factory=list)

    @property
    def pieces_per_second(self):
        return self.rendered_now / self.seconds_elapsed if self.seconds_elapsed > 0 else 0.0

    @property
    def cpu_per_piece(self):
        return self.cpu_seconds / self.rendered_now if self.rendered_now else 0.0

    def summary(self):
        lines = [f"demo corpus in {self.out}: {self.selected} pieces selected, "
                 f"{self.rendered_now} rendered now ({self.pieces_per_second:.2f} pieces/s, "
                 f"renderer {self.renderer}), {self.reused} reused from earlier runs",
                 f"rendering cost {self.cpu_per_piece:.2f} CPU-s per piece "
                 f"(about {self.workers / max(self.cpu_per_piece, 1e-9):.2f} pieces/s on "
                 f"{self.workers} idle core(s))" if self.rendered_now else "nothing to render",
                 "splits: " + ", ".join(f"{k} {v}" for k, v in sorted(self.split_counts.items()))]
        if self.skip_counts:
            lines.append(f"skipped {sum(self.skip_counts.values())}: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.skip_counts.items())))
            lines.extend(f"  e.g. {p}" for p in self.problems[:8])
        else:
            lines.append("skipped 0")
        return "\n".join(lines)


def audio_relpath(piece_id):
    return "audio/" + piece_id.replace("#", "_") + ".wav"


def _parse(piece):
    from music21 import converter, stream
    kwargs = {"forceSource": True}
    if piece.number is not None:
        kwargs["number"] = piece.number
    score = converter.parse(piece.path, **kwargs)
    if isinstance(score, stream.Opus):
        scores = list(score.scores)
        if not scores:
            raise DataError(piece.path, "the file holds no score")
        score = scores[0]
    return score


def _cpu_seconds():
    """CPU time of this process and its finished children (fluidsynth): a
    measure of the rendering cost that does not depend on other load."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def render_piece(piece_fields, settings_fields, out):
    """Render one piece; returns ("ok", record) or ("skip", kind, message).

    Top-level and plain-data in and out so that worker processes can run it.
    """
    import soundfile as sf
    warnings.simplefilter("ignore")   # music21 warns on every oddity of old files
    cpu_started = _cpu_seconds()
    piece = Piece(**piece_fields)
    settings = BuildSettings(**settings_fields)
    if piece.composer_id is None:
        return "skip", "unlabelled", "its folder is not in the label table (composers.py)"
    try:
        score = _parse(piece)
    except Exception as e:   # music21 raises many kinds on malformed files
        return "skip", "parse_failed", f"{type(e).__name__}: {e}"[:300]
    metadata = getattr(score, "metadata", None)
    date = getattr(metadata, "dateCreated", None) if metadata is not None else None
    year, year_source = facts.label_year(piece.source, date)
    try:
        notes = score_notes(score, settings.seconds)
    except Exception as e:
        return "skip", "parse_failed", f"reading notes: {type(e).__name__}: {e}"[:300]
    if len(notes) == 0:
        return "skip", "empty_score", "no pitched notes"
    if notes.span < settings.min_seconds:
        return "skip", "too_short", f"{notes.span:.1f} s of music < {settings.min_seconds} s"
    try:
        audio = render_notes(notes, settings.sample_rate, settings.seconds,
                             settings.renderer, settings.soundfont, settings.program)
    except AudioError as e:
        kind = "silent" if "silent" in e.problem else "render_failed"
        return "skip", kind, e.problem
    except Exception as e:
        return "skip", "render_failed", f"{type(e).__name__}: {e}"[:300]
    rel = audio_relpath(piece.piece_id)
    with atomic_path(Path(out, rel)) as tmp:
        sf.write(str(tmp), audio, int(settings.sample_rate), subtype="PCM_16", format="WAV")
    title = getattr(metadata, "title", None) if metadata is not None else None
    return "ok", {
        "piece_id": piece.piece_id, "source": piece.source, "number": piece.number,
        "composer_id": piece.composer_id, "title": title or None,
        "year": int(year), "year_source": year_source, "era": facts.era_of(year),
        "form": facts.form_of(piece.source), "group": piece.group,
        "audio": rel, "duration_s": round(len(audio) / settings.sample_rate, 3),
        "cpu_s": round(_cpu_seconds() - cpu_started, 3),
    }


def _ignore_sigint():
    # Ctrl-C reaches the whole process group; the parent saves the manifest
    # and stops the pool, the workers need not print their own tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _artists(composer_ids):
    out = {}
    for cid in sorted(composer_ids):
        c = facts.COMPOSERS[cid]
        out[cid] = {"name": c.name, "born": c.born, "died": c.died, "active": list(c.active),
                    "text": facts.artist_text(c), "source": c.source}
    return out


def _load_manifest(path, identity, retry_skipped):
    if not path.is_file():
        return {"format": FORMAT, "settings": identity, "rendered": {}, "skipped": {}}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(path, f"corrupt manifest: {e}", "delete the output folder to rebuild") from e
    if manifest.get("format") != FORMAT:
        raise DataError(path, f"format {manifest.get('format')!r}, expected {FORMAT!r}")
    for key, value in identity.items():
        if manifest["settings"].get(key) != value:
            raise ConfigError(key, f"{path.parent} was built with {key}={manifest['settings'].get(key)!r}, "
                                   f"this build asks for {value!r}",
                              "use another --out folder, or the same settings to resume")
    if retry_skipped:
        manifest["skipped"] = {}
    return manifest


def build_demo(out, *, max_per_composer=40, composers=None, seed=0, workers=2,
               settings=None, split_by="composer", valid_fraction=0.1, test_fraction=0.1,
               retry_skipped=False, save_every=10, progress=True, pieces=None):
    """Build (or resume) the demo corpus in ``out``; returns a BuildResult.

    ``pieces`` replaces the corpus catalog (a list of ``Piece``), for
    building from other score files with the same label table.
    """
    from tqdm.auto import tqdm
    started = time.monotonic()
    out = Path(out)
    settings = settings or BuildSettings()
    settings.check()
    settings.renderer, settings.soundfont = resolve_renderer(settings.renderer, settings.soundfont)
    if composers is not None:
        unknown = sorted(set(composers) - set(facts.COMPOSERS))
        if unknown:
            raise ConfigError("composers", f"unknown composer ids {unknown}",
                              f"known: {', '.join(sorted(facts.COMPOSERS))}")
    if max_per_composer is not None and max_per_composer < 1:
        raise ConfigError("max_per_composer", f"must be at least 1, not {max_per_composer}")
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    manifest = _load_manifest(manifest_path, settings.identity(), retry_skipped)
    catalog = pieces if pieces is not None else load_catalog(out / "catalog.json")
    chosen = select(catalog, max_per_composer=max_per_composer, composers=composers, seed=seed)
    rendered, skipped = manifest["rendered"], manifest["skipped"]
    todo = [p for p in chosen if p.piece_id not in skipped
            and not (p.piece_id in rendered and (out / rendered[p.piece_id]["audio"]).is_file())]
    # Biggest files first: parsing dominates and a few string quartets take
    # tens of seconds, so starting them early keeps every worker busy to the end.
    todo.sort(key=lambda p: -os.path.getsize(p.path) if os.path.exists(p.path) else 0)
    reused = sum(p.piece_id in rendered for p in chosen) - sum(p.piece_id in rendered for p in todo)
    manifest.update(complete=False, build={
        "seed": seed, "max_per_composer": max_per_composer, "composers": composers,
        "split_by": split_by, "valid_fraction": valid_fraction, "test_fraction": test_fraction})
    write_json(manifest_path, manifest, indent=1, sort_keys=False)

    settings_fields = settings.__dict__.copy()
    bar = tqdm(total=len(todo), desc="rendering demo corpus", unit="piece", disable=not progress)
    done_since_save = 0
    rendered_now = 0
    skipped_now = Counter()
    cpu_now = 0.0

    def record(piece_id, result):
        nonlocal done_since_save, rendered_now, cpu_now
        if result[0] == "ok":
            rendered[piece_id] = result[1]
            cpu_now += result[1]["cpu_s"]
            skipped.pop(piece_id, None)
            rendered_now += 1
        else:
            skipped[piece_id] = {"kind": result[1], "message": result[2]}
            rendered.pop(piece_id, None)
            skipped_now[result[1]] += 1
            bar.set_postfix(skipped=sum(skipped_now.values()), refresh=False)
        bar.update(1)
        done_since_save += 1
        if done_since_save >= save_every:
            write_json(manifest_path, manifest, indent=1, sort_keys=False)
            done_since_save = 0

    render_started = time.monotonic()
    try:
        if workers <= 1:
            for p in todo:
                record(p.piece_id, render_piece(p.__dict__, settings_fields, str(out)))
        else:
            ctx = multiprocessing.get_context("spawn")   # no fork of a threaded parent
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                     initializer=_ignore_sigint) as pool:
                futures = {pool.submit(render_piece, p.__dict__, settings_fields, str(out)): p
                           for p in todo}
                try:
                    for fut in as_completed(futures):
                        record(futures[fut].piece_id, fut.result())
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        bar.close()
        write_json(manifest_path, manifest, indent=1, sort_keys=False)
    render_elapsed = time.monotonic() - render_started

    selected = [p.piece_id for p in chosen if p.piece_id in rendered]
    splits = assign_splits([rendered[pid] for pid in selected], seed=seed, by=split_by,
                           valid_fraction=valid_fraction, test_fraction=test_fraction)
    skip_counts = dict(Counter(skipped[p.piece_id]["kind"] for p in chosen if p.piece_id in skipped))
    manifest.update(complete=True, splits=splits, skip_counts=skip_counts,
                    artists=_artists({rendered[pid]["composer_id"] for pid in selected}))
    write_json(manifest_path, manifest, indent=1, sort_keys=False)
    problems = [f"{pid} [{skipped[pid]['kind']}] {skipped[pid]['message']}"
                for pid in sorted(p.piece_id for p in chosen if p.piece_id in skipped)]
    return BuildResult(out=out, selected=len(selected), rendered_now=rendered_now, reused=reused,
                       skip_counts=skip_counts, split_counts=dict(Counter(splits.values())),
                       seconds_elapsed=render_elapsed if rendered_now else time.monotonic() - started,
                       renderer=settings.renderer, problems=problems, workers=max(1, workers),
                       cpu_seconds=cpu_now)
