"""`era-zoo demo --front-end-only` on the shipped recordings: every clip is
listed with log-mel shapes that follow from its length, and its credits."""
from importlib import resources
from pathlib import Path

from era_zoo.audio.decode import load_audio
from era_zoo.cli import main

ASSETS = Path(str(resources.files("era_zoo") / "assets" / "audio"))


def test_front_end_demo_lists_every_clip_with_its_shapes(capsys):
    assert main(["demo", "--front-end-only"]) == 0
    out = capsys.readouterr().out
    clips = sorted(ASSETS.glob("*.ogg"))
    assert len(clips) == 4
    for clip in clips:
        line = next(l for l in out.splitlines() if l.startswith(clip.stem[:40]))
        # Centred STFT frames: 1 + samples // hop (melon48: 16 kHz hop 256;
        # era224: 22,050 Hz hop 512); chunks are whole 256-frame melon48 windows.
        melon = 1 + len(load_audio(clip, 16000)) // 256
        era = 1 + len(load_audio(clip, 22050)) // 512
        assert f"48 x {melon}" in line and f"224 x {era}" in line
        assert line.split()[-1] == str(melon // 256)
    assert "Public Domain" in out and "Creative Commons" in out
    assert "pipeline: chunk_dataset" in out
