"""The demo corpus: label table, score -> notes, MIDI, synthesizer, builder, reader."""
import json
from pathlib import Path
import re

import numpy as np
import pytest

music21 = pytest.importorskip("music21")
sf = pytest.importorskip("soundfile")

from era_zoo.data.demo import BuildSettings, build_demo, read_demo
from era_zoo.data.demo import composers as facts
from era_zoo.data.demo.catalog import Piece, corpus_root
from era_zoo.data.demo.render import (TARGET_RMS, finish, midi_bytes, score_notes,
                                      synthesize)
from era_zoo.data.demo.splits import assign_splits
from era_zoo.data.table import SPLITS
from era_zoo.errors import ConfigError, DataError

CORPUS = corpus_root()


def _piece(piece_id, suffix):
    return Piece(piece_id, str(CORPUS / f"{piece_id}{suffix}"))


# --- the label table ----------------------------------------------------------

def test_label_rule_prefers_metadata_then_work_then_composer():
    assert facts.label_year("chopin/mazurka06-2", "1830///-1832///") == (1831, "metadata")
    assert facts.label_year("mozart/k458/movement1") == (1784, "work")
    assert facts.label_year("beethoven/opus18no1/movement2") == (1799, "work")
    assert facts.label_year("palestrina/Credo_63_a") == ((1544 + 1594) // 2, "composer")
    assert facts.label_year("ryansMammoth/LanigansBallJig") == (1883, "composer")
    # leadSheet mixes composers: the work names its own
    assert facts.composer_for("leadSheet/fosterBrownHair") == "stephen_foster"
    assert facts.composer_for("essenFolksong/erk5") is None
    assert facts.era_of(1599) == "renaissance" and facts.era_of(1600) == "baroque"


def test_every_corpus_folder_is_used_or_excluded_with_a_reason():
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert folders <= set(facts.FOLDERS) | set(facts.EXCLUDED_FOLDERS)
    for cid, c in facts.COMPOSERS.items():
        assert c.source and c.description and c.active[0] <= c.active[1], cid
    for key, work in facts.WORKS.items():
        assert work.source and facts.composer_for(key.rstrip("/.")) in facts.COMPOSERS, key
    text = facts.artist_text(facts.COMPOSERS["bach"])
    assert text.startswith("Johann Sebastian Bach. Johann Sebastian Bach was a German composer")


# Anything that dates a text: digits, centuries (words, ordinals, Italian
# names of centuries), spelled-out year numbers, months, "circa", "decade", "year".
DATING = re.compile(
    r"\d|centur|\b(?:thir|four|fif|six|seven|eigh|nine)teen(?:th)?\b|\btwent(?:y|ieth)\b"
    r"|hundred|thousand|\b(?:tre|quattro|cinque|sei|sette|otto|nove)cento\b"
    r"|\b(?:january|february|march|april|may|june|july|august|september|october"
    r"|november|december)\b|\b(?:circa|decade|year)s?\b|\bc\.\s", re.IGNORECASE)


def test_artist_texts_carry_no_years_centuries_or_dates():
    # the pattern catches what the old texts held
    for dated in ("Johann Sebastian Bach (1685-1750).", "music of the fourteenth century",
                  "Eighteen Hundred and Fifty Melodies", "the Italian trecento", "c. 1450",
                  "Active 1703-1750", "in the early 1900s", "in his later years"):
        assert DATING.search(dated), dated
    for cid, composer in facts.COMPOSERS.items():
        text = facts.artist_text(composer)
        assert composer.name in text and composer.description in text
        assert not DATING.search(text), (cid, DATING.search(text).group(0), text)


# --- score -> notes -> MIDI / audio ------------------------------------------

def _stream(*elements):
    from music21 import stream
    part = stream.Part()
    for offset, element in elements:
        part.insert(offset, element)
    score = stream.Score()
    score.insert(0, part)
    return score


def test_score_notes_follow_tempo_marks_and_ties():
    from music21 import note, tempo, tie
    first, second = note.Note("C4", quarterLength=2), note.Note("C4", quarterLength=1)
    first.tie, second.tie = tie.Tie("start"), tie.Tie("stop")
    score = _stream((0, tempo.MetronomeMark(number=120)), (0, first), (2, second),
                    (3, note.Note("D4", quarterLength=1)),
                    (4, tempo.MetronomeMark(number=60)), (4, note.Note("E4", quarterLength=1)),
                    (5, tempo.MetronomeMark(text="Sehr ruhig")),   # no number: tempo kept
                    (5, note.Note("F4", quarterLength=1)))
    notes = score_notes(score, seconds=3.5)
    # 120 bpm: 0.5 s a quarter up to beat 4, then 1 s a quarter; F4 starts at 3 s
    # and is cut at 3.5 s; the tie makes one 1.5 s C4.
    np.testing.assert_allclose(notes.start, [0.0, 1.5, 2.0, 3.0])
    np.testing.assert_allclose(notes.end, [1.5, 2.0, 3.0, 3.5])
    assert notes.pitch.tolist() == [60, 62, 64, 65]


def test_midi_plays_every_part_with_one_program_and_no_drum_channel():
    from music21 import midi
    from era_zoo.data.demo.render import Notes
    n = 12
    notes = Notes(np.arange(n) * 0.25, np.arange(n) * 0.25 + 0.5,
                  np.full(n, 60), np.arange(n))   # twelve parts
    mf = midi.MidiFile()
    mf.readstr(midi_bytes(notes, program=0))
    events = [e for t in mf.tracks for e in t.events]
    programs = [e for e in events if e.type == midi.ChannelVoiceMessages.PROGRAM_CHANGE]
    ons = [e for e in events if e.type == midi.ChannelVoiceMessages.NOTE_ON]
    assert {e.data for e in programs} == {0}
    assert {e.channel for e in programs} == {e.channel for e in ons}
    assert 10 not in {e.channel for e in ons}     # music21 numbers channels 1..16
    assert len(ons) == n and {e.velocity for e in ons} == {80}


def _peak_hz(audio, sample_rate):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1 / sample_rate)[np.argmax(spectrum)]


def test_python_synthesizer_plays_the_score_pitches():
    from music21 import note, tempo
    rate = 16000
    score = _stream((0, tempo.MetronomeMark(number=60)),
                    (0, note.Note("A4", quarterLength=1)), (1, note.Note("C5", quarterLength=1)))
    audio = finish(synthesize(score_notes(score, 2.0), rate, 2.0), rate, 2.0)
    assert audio.shape == (2 * rate,) and audio.dtype == np.float32
    assert np.sqrt(np.mean(audio ** 2)) == pytest.approx(TARGET_RMS, rel=1e-3)
    # one second per note: the first is A4 = 440 Hz, the second C5 = 523.25 Hz
    assert _peak_hz(audio[:rate], rate) == pytest.approx(440.0, abs=2.0)
    assert _peak_hz(audio[rate:], rate) == pytest.approx(523.25, abs=2.0)


def test_silent_render_is_an_error():
    from era_zoo.errors import AudioError
    with pytest.raises(AudioError, match="silent"):
        finish(np.zeros(1000, np.float32), 16000, 1.0)


# --- splits -------------------------------------------------------------------

def test_splits_stratify_by_era_and_keep_groups_together():
    records = [{"piece_id": f"a/{i}", "group": f"a/{i}", "composer_id": "a", "era": "baroque"}
               for i in range(10)]
    records += [{"piece_id": f"q/op1/m{i}", "group": "q/op1", "composer_id": "q", "era": "classical"}
                for i in range(4)]
    records += [{"piece_id": f"c{i}/x", "group": f"c{i}/x", "composer_id": f"c{i}", "era": "modern"}
                for i in range(3)]
    splits = assign_splits(records, seed=3, by="work")
    baroque = [splits[f"a/{i}"] for i in range(10)]
    assert sorted(baroque) == ["test"] + ["train"] * 8 + ["valid"]
    assert len({splits[f"q/op1/m{i}"] for i in range(4)}) == 1
    assert sorted(splits[f"c{i}/x"] for i in range(3)) == ["test", "train", "valid"]
    assert assign_splits(records, seed=3, by="work") == splits
    by_composer = assign_splits(records, seed=3)   # the default
    assert by_composer == assign_splits(records, seed=3, by="composer")
    assert len({by_composer[f"a/{i}"] for i in range(10)}) == 1
    # three modern composers, one per split: unseen composers in valid and test
    assert sorted(by_composer[f"c{i}/x"] for i in range(3)) == ["test", "train", "valid"]
    # a composer whose works straddle two eras stays one group, in its main era
    straddling = [{"piece_id": f"b/{i}", "group": f"b/{i}", "composer_id": "b",
                   "era": "classical" if i < 3 else "romantic"} for i in range(5)]
    others = [{"piece_id": f"r{i}/x", "group": f"r{i}/x", "composer_id": f"r{i}",
               "era": "romantic"} for i in range(4)]
    mixed = assign_splits(straddling + others, seed=0)
    assert len({mixed[f"b/{i}"] for i in range(5)}) == 1
    assert mixed["b/0"] == "train"   # alone in the classical era: under three groups
    with pytest.raises(ConfigError):
        assign_splits(records, by="artist")


# --- builder and reader on real corpus pieces --------------------------------

@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    bad = out.parent / "broken.mxl"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    rests = out.parent / "rests.abc"
    rests.write_text("X:1\nT:rests only\nM:4/4\nL:1/4\nK:C\nz4|z4|z4|\n")
    pieces = [_piece("bach/bwv66.6", ".mxl"), _piece("bach/bwv1.6", ".mxl"),
              _piece("ryansMammoth/LanigansBallJig", ".abc"),
              _piece("ryansMammoth/KeelRowReel", ".abc"),
              Piece("bach/broken", str(bad)), Piece("ryansMammoth/rests", str(rests))]
    settings = BuildSettings(sample_rate=16000, seconds=3.0, min_seconds=1.0)
    # first run interrupted (Ctrl-C) after two pieces, then resumed
    import era_zoo.data.demo.build as build_module
    real_render, calls = build_module.render_piece, []

    def interrupted(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_render(*args)

    patch = pytest.MonkeyPatch()
    patch.setattr(build_module, "render_piece", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_demo(out, pieces=pieces, workers=1, settings=settings, progress=False, save_every=1)
    patch.undo()
    interrupted_manifest = json.loads((out / "manifest.json").read_text())
    result = build_demo(out, pieces=pieces, workers=1, settings=settings, progress=False)
    return out, pieces, settings, result, interrupted_manifest


def test_interrupted_build_is_unreadable_and_resumes(small_build):
    out, _, _, result, interrupted = small_build
    assert not interrupted["complete"]
    done_before = len(interrupted["rendered"]) + len(interrupted["skipped"])
    assert done_before == 2
    # the resumed run rendered only what the first left undone
    assert result.rendered_now == 4 - len(interrupted["rendered"])
    assert result.reused == len(interrupted["rendered"])


def test_build_renders_labels_and_counts_skips(small_build):
    out, _, settings, result, _ = small_build
    assert result.selected == 4
    assert result.skip_counts == {"parse_failed": 1, "empty_score": 1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["skipped"]["bach/broken"]["kind"] == "parse_failed"
    expected_year = {"bach": (1703 + 1750) // 2, "ryansMammoth": 1883}
    for pid, rec in manifest["rendered"].items():
        assert rec["year"] == expected_year[rec["composer_id"]]
        assert rec["composer_id"] == pid.split("/")[0]
        info = sf.info(str(out / rec["audio"]))
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, 3 * 16000)
        audio, _ = sf.read(str(out / rec["audio"]), dtype="float32")
        assert np.sqrt(np.mean(audio ** 2)) == pytest.approx(TARGET_RMS, rel=0.05)
    assert set(manifest["splits"]) == set(manifest["rendered"])
    assert manifest["artists"]["ryansMammoth"]["text"].startswith("Ryan's Mammoth Collection")


def test_build_resumes_without_rendering_again(small_build):
    out, pieces, settings, _, _ = small_build
    wavs = sorted(out.glob("audio/*/*.wav"))
    mtimes = [w.stat().st_mtime_ns for w in wavs]
    again = build_demo(out, pieces=pieces, workers=1, settings=settings, progress=False)
    assert (again.rendered_now, again.reused) == (0, 4)
    assert again.skip_counts == {"parse_failed": 1, "empty_score": 1}   # not retried
    assert [w.stat().st_mtime_ns for w in wavs] == mtimes
    changed = BuildSettings(sample_rate=16000, seconds=4.0, min_seconds=1.0)
    (out / "audio/ryansMammoth/KeelRowReel.wav").unlink()
    redo = build_demo(out, pieces=pieces, workers=1, settings=settings, progress=False)
    assert (redo.rendered_now, redo.reused) == (1, 3)
    with pytest.raises(ConfigError, match="seconds"):
        build_demo(out, pieces=pieces, workers=1, settings=changed, progress=False)


def test_read_demo_returns_tracks_with_splits(small_build):
    out, _, _, _, _ = small_build
    table = read_demo(out)
    assert len(table) == 4 and not table.problems
    assert all(t.split in SPLITS for t in table)
    by_id = table.by_id()
    assert by_id["bach/bwv66.6"].year == 1726
    assert by_id["bach/bwv66.6"].artist == "Johann Sebastian Bach"
    assert by_id["ryansMammoth/KeelRowReel"].genres == ("fiddle tune",)
    assert set(table.extras["artist_text"]) == {"bach", "ryansMammoth"}
    assert table.extras["sample_rate"] == 16000
    assert all(Path(t.audio_path).is_file() for t in table)


def test_read_demo_missing_audio_raises_or_is_counted(small_build, tmp_path):
    import shutil
    out, _, _, _, _ = small_build
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "audio/bach/bwv66.6.wav").unlink()
    with pytest.raises(DataError, match="bwv66.6.wav"):
        read_demo(copy)
    table = read_demo(copy, on_error="skip")
    assert len(table) == 3 and table.problems.counts["bad_piece"] == 1
    unfinished = json.loads((copy / "manifest.json").read_text())
    unfinished["complete"] = False
    (copy / "manifest.json").write_text(json.dumps(unfinished))
    with pytest.raises(DataError, match="did not finish"):
        read_demo(copy)
    (copy / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="manifest.json"):
        read_demo(copy)
    with pytest.raises(DataError, match="manifest.json"):
        read_demo(tmp_path / "absent")


def test_python_renderer_builds_a_real_chorale(tmp_path):
    settings = BuildSettings(sample_rate=16000, seconds=2.0, min_seconds=1.0, renderer="python")
    result = build_demo(tmp_path, pieces=[_piece("bach/bwv66.6", ".mxl")], workers=1,
                        settings=settings, progress=False)
    assert result.renderer == "python" and result.rendered_now == 1
    audio, rate = sf.read(str(tmp_path / "audio/bach/bwv66.6.wav"), dtype="float32")
    assert rate == 16000 and audio.shape == (32000,)
    # the spectral peak is a note of the score's opening (or its octave)
    from music21 import converter
    notes = score_notes(converter.parse(str(CORPUS / "bach/bwv66.6.mxl"), forceSource=True), 2.0)
    freqs = 440.0 * 2.0 ** ((np.unique(notes.pitch) - 69) / 12)
    candidates = np.concatenate([freqs, 2 * freqs])
    peak = _peak_hz(audio, rate)
    assert np.min(np.abs(candidates - peak) / candidates) < 0.02
