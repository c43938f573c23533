"""Score -> notes -> one instrument -> mono audio.

Every piece goes through the same path so that nothing but the music itself
can tell its era:

- the score's notes (all parts, chords split, ties merged, grace notes left
  out) are placed in seconds by the score's own tempo marks, and only the
  opening ``seconds`` are kept (repeats are not expanded: the opening is
  what is heard first either way);
- every note is played by ONE General-MIDI program (default 0, acoustic grand
  piano) at ONE velocity (80), whatever instruments or dynamics the source
  file names, so neither timbre nor the dynamics conventions of a file format
  (Humdrum files have none, MusicXML files often do) leak the label;
- the audio is rendered by fluidsynth with a GM soundfont (TimGM6mb) when both
  are installed, otherwise by :func:`synthesize`, a small additive piano-like
  synthesizer in NumPy;
- the result is mono, cut to ``seconds``, and scaled to one loudness (RMS
  -20 dBFS, peaks kept under 0.99) so that loudness does not tell a
  six-voice madrigal from a solo fiddle tune.
"""
from dataclasses import dataclass
import os
from pathlib import Path
import shutil
import struct
import subprocess
import tempfile

import numpy as np

from ...errors import AudioError, ConfigError

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/TimGM6mb.sf2",
)
VELOCITY = 80
TARGET_RMS = 0.1          # -20 dBFS
PEAK_LIMIT = 0.99
SILENCE_RMS = 1e-4        # -80 dBFS: a render this quiet produced no music
RENDERERS = ("auto", "fluidsynth", "python")


@dataclass(frozen=True)
class Notes:
    """Note events of a score, in seconds, sorted by start."""
    start: np.ndarray   # float64 seconds
    end: np.ndarray     # float64 seconds
    pitch: np.ndarray   # int MIDI note number
    part: np.ndarray    # int index of the part the note came from

    def __len__(self):
        return len(self.start)

    @property
    def span(self):
        return float(self.end.max()) if len(self) else 0.0


def find_soundfont(explicit=None):
    """Path of the GM soundfont, or None. ``ERA_ZOO_SOUNDFONT`` overrides."""
    for candidate in (explicit, os.environ.get("ERA_ZOO_SOUNDFONT"), *SOUNDFONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return None


def resolve_renderer(renderer="auto", soundfont=None):
    """("fluidsynth", soundfont path) or ("python", None) for a renderer choice."""
    if renderer not in RENDERERS:
        raise ConfigError("renderer", f"{renderer!r} is not one of {RENDERERS}")
    if renderer == "python":
        return "python", None
    sf2 = find_soundfont(soundfont)
    have = shutil.which("fluidsynth") is not None and sf2 is not None
    if renderer == "fluidsynth" and not have:
        raise ConfigError("renderer", "fluidsynth or its GM soundfont (TimGM6mb.sf2) is missing",
                          "run tools/system_deps.sh as root, or use the python renderer")
    return ("fluidsynth", sf2) if have else ("python", None)


def _tempo_knots(score):
    """Quarter-length and seconds knots of the score's tempo map. A mark with
    no usable number keeps the tempo before it (120 bpm at the start)."""
    from music21.tempo import MetronomeMarkException
    qls, secs = [0.0], [0.0]
    last_spq = 0.5
    for start, end, mark in score.metronomeMarkBoundaries():
        if end <= start:
            continue
        try:
            spq = float(mark.secondsPerQuarter())
        except MetronomeMarkException:   # a text-only mark ("Sehr ruhig"): no number
            spq = last_spq
        if not np.isfinite(spq) or spq <= 0:
            spq = last_spq
        if start > qls[-1]:   # a gap: keep the previous tempo
            secs.append(secs[-1] + (start - qls[-1]) * last_spq)
            qls.append(float(start))
        secs.append(secs[-1] + (end - start) * spq)
        qls.append(float(end))
        last_spq = spq
    return np.asarray(qls), np.asarray(secs), last_spq


def _to_seconds(ql, knots):
    qls, secs, last_spq = knots
    if ql <= qls[-1]:
        return float(np.interp(ql, qls, secs))
    return float(secs[-1] + (ql - qls[-1]) * last_spq)


def score_notes(score, seconds):
    """The notes of a music21 score that start within its first ``seconds``."""
    knots = _tempo_knots(score)
    parts = list(score.parts) or [score]
    rows = []
    for part_index, part in enumerate(parts):
        open_ties = {}   # MIDI pitch -> row index of a note whose tie continues
        for element in part.flatten().notes:
            if element.duration.isGrace or element.quarterLength <= 0:
                continue
            start_ql = float(element.offset)
            start = _to_seconds(start_ql, knots)
            if start >= seconds:
                break
            end = _to_seconds(start_ql + float(element.quarterLength), knots)
            pitches = getattr(element, "pitches", ())
            tie = element.tie.type if element.tie is not None else None
            for p in pitches:
                midi = int(p.midi)
                if tie in ("continue", "stop") and midi in open_ties:
                    rows[open_ties[midi]][1] = end
                    if tie == "stop":
                        del open_ties[midi]
                    continue
                rows.append([start, end, midi, part_index])
                if tie == "start":
                    open_ties[midi] = len(rows) - 1
    if not rows:
        empty = np.zeros(0)
        return Notes(empty, empty, empty.astype(int), empty.astype(int))
    arr = np.asarray(rows, dtype=np.float64)
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    return Notes(arr[:, 0], np.minimum(arr[:, 1], seconds),
                 arr[:, 2].astype(int), arr[:, 3].astype(int))


# --- MIDI -------------------------------------------------------------------

_TICKS_PER_QUARTER = 480
_TICKS_PER_SECOND = 960   # at the file's one tempo, 120 bpm


def _varlen(value):
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def _channel(part):
    channel = part % 15
    return channel + 1 if channel >= 9 else channel   # channel 10 (index 9) is drums


def midi_bytes(notes, program=0, velocity=VELOCITY):
    """A type-0 Standard MIDI File playing ``notes`` with one GM program on
    every channel (one channel per part, drums channel avoided)."""
    if not 0 <= program <= 127:
        raise ConfigError("program", f"GM program must be 0..127, not {program}")
    events = []   # (tick, order, bytes): note-offs (order 0) before note-ons (1)
    channels = sorted({_channel(int(p)) for p in notes.part}) or [0]
    for ch in channels:
        events.append((0, -1, bytes([0xC0 | ch, program])))
    for s, e, pitch, part in zip(notes.start, notes.end, notes.pitch, notes.part):
        if not 0 <= pitch <= 127:
            continue
        ch = _channel(int(part))
        on = int(round(s * _TICKS_PER_SECOND))
        off = max(on + 1, int(round(e * _TICKS_PER_SECOND)))
        events.append((on, 1, bytes([0x90 | ch, int(pitch), velocity])))
        events.append((off, 0, bytes([0x80 | ch, int(pitch), 0])))
    events.sort(key=lambda ev: (ev[0], ev[1]))
    track = bytearray(b"\x00\xff\x51\x03" + (500000).to_bytes(3, "big"))  # 120 bpm
    now = 0
    for tick, _, data in events:
        track += _varlen(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, _TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


# --- audio ------------------------------------------------------------------

def render_fluidsynth(notes, sample_rate, soundfont, program=0):
    """Mono float32 audio of ``notes`` rendered by fluidsynth."""
    import soundfile as sf
    with tempfile.TemporaryDirectory(prefix="era_zoo_render_") as tmp:
        mid, wav = Path(tmp, "piece.mid"), Path(tmp, "piece.wav")
        mid.write_bytes(midi_bytes(notes, program))
        cmd = ["fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(int(sample_rate)),
               "-T", "wav", "-O", "float", "-F", str(wav), soundfont, str(mid)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not wav.is_file():
            raise AudioError(mid, f"fluidsynth failed (exit {done.returncode}): "
                                  f"{(done.stderr or done.stdout).strip()[:200]}")
        audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    if rate != sample_rate:
        raise AudioError(wav, f"fluidsynth wrote {rate} Hz, asked for {sample_rate} Hz")
    return audio.mean(axis=1)


# Additive piano-like voice: harmonic k at amplitude 1/k^2, 5 ms attack,
# exponential decay (time constant 0.8 s), 60 ms linear release after note-off.
_HARMONICS = 8
_ATTACK_S, _DECAY_S, _RELEASE_S = 0.005, 0.8, 0.06


def synthesize(notes, sample_rate, seconds):
    """Mono float32 audio of ``notes`` from a small additive synthesizer."""
    total = int(round(seconds * sample_rate))
    out = np.zeros(total + int(_RELEASE_S * sample_rate) + 1, dtype=np.float64)
    amplitude = VELOCITY / 127 * 0.2
    for s, e, pitch in zip(notes.start, notes.end, notes.pitch):
        first = int(round(s * sample_rate))
        held = max(1, int(round((e - s) * sample_rate)))
        n = min(held + int(_RELEASE_S * sample_rate), len(out) - first)
        if n <= 0:
            continue
        t = np.arange(n) / sample_rate
        f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
        wave = np.zeros(n)
        for k in range(1, _HARMONICS + 1):
            if k * f0 >= sample_rate / 2:
                break
            wave += np.sin(2 * np.pi * k * f0 * t) / k ** 2
        env = np.exp(-t / _DECAY_S) * np.minimum(1.0, t / _ATTACK_S)
        release = np.clip(1.0 - (t - held / sample_rate) / _RELEASE_S, 0.0, 1.0)
        out[first:first + n] += amplitude * wave * env * release
    return out[:total].astype(np.float32)


def finish(audio, sample_rate, seconds, where="render"):
    """Cut to ``seconds`` and scale to one loudness; AudioError when silent."""
    audio = np.asarray(audio, dtype=np.float64)[: int(round(seconds * sample_rate))]
    if audio.size == 0 or not np.all(np.isfinite(audio)):
        raise AudioError(where, "render produced no finite samples")
    audio = audio - audio.mean()
    rms = float(np.sqrt(np.mean(audio ** 2)))
    if rms < SILENCE_RMS:
        raise AudioError(where, f"render is silent (RMS {rms:.2e})")
    audio *= TARGET_RMS / rms
    peak = float(np.abs(audio).max())
    if peak > PEAK_LIMIT:
        audio *= PEAK_LIMIT / peak
    return audio.astype(np.float32)


def render_notes(notes, sample_rate, seconds, renderer, soundfont=None, program=0):
    """Finished mono audio of ``notes`` by a resolved renderer name."""
    if renderer == "fluidsynth":
        raw = render_fluidsynth(notes, sample_rate, soundfont, program)
    else:
        raw = synthesize(notes, sample_rate, seconds)
    return finish(raw, sample_rate, seconds)
