"""`era-zoo predict` and `era-zoo embed` on a shipped recording, with a
tiny saved model; unreadable files are reported and the rest carry on."""
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import era_zoo
from era_zoo.audio.decode import load_audio
from era_zoo.bench.sources import load_embeddings
from era_zoo.cli import main
from era_zoo.inference import as_chunks

CLIP = Path(str(resources.files("era_zoo") / "assets" / "audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"))


@pytest.fixture()
def broken_file(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    return bad


def test_predict_prints_a_year_and_survives_a_bad_file(saved_models, broken_file, capsys):
    code = main(["predict", str(CLIP), str(broken_file), "--model",
                 str(saved_models["audio_cnn"]), "--json", "--top", "4"])
    assert code == 3  # one of the files failed
    captured = capsys.readouterr()
    assert captured.err.startswith(f"era-zoo predict: error: {broken_file}: ")
    assert captured.err.endswith("\nera-zoo predict: 1 of 2 files failed\n")
    rows = json.loads(captured.out)
    assert [Path(r["file"]).name for r in rows] == [CLIP.name, broken_file.name]
    good, bad = rows
    # The test configuration's era bins: 2000..2003 in 1-year classes.
    assert 2000 <= good["result"]["expected_year"] <= 2003
    tops = good["result"]["top_years"]
    assert [t["years"][0] for t in tops] != [] and len(tops) == 4  # all four classes
    probs = [t["probability"] for t in tops]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-5
    assert abs(sum(good["result"]["decades"].values()) - 1) < 1e-5
    # The test configuration reads melon48 mels: non-overlapping 64-frame chunks of a
    # centred 16 kHz, hop-256 mel.
    samples = len(load_audio(CLIP, 16000))
    assert good["result"]["chunks"] == (1 + samples // 256) // 64
    assert "broken.wav" in bad["error"]


def test_predict_table_output(saved_models, capsys):
    assert main(["predict", str(CLIP), "--model", str(saved_models["audio_cnn"])]) == 0
    out = capsys.readouterr().out
    assert "year 200" in out and "(expected 200" in out and "decades: 2000s" in out


def test_predict_refuses_an_embedding_model(saved_models, capsys):
    code = main(["predict", str(CLIP), "--model", str(saved_models["contrastive_a2p"])])
    assert code == 2
    assert "not an era model" in capsys.readouterr().err


def test_embed_writes_what_the_benchmarks_read(saved_models, broken_file, tmp_path, capsys):
    out = tmp_path / "emb.npz"
    code = main(["embed", str(CLIP), str(broken_file), "--model",
                 str(saved_models["contrastive_a2p"]), "-o", str(out)])
    assert code == 3
    captured = capsys.readouterr()
    printed = captured.out
    assert captured.err.startswith(f"era-zoo embed: error: {broken_file}: ")
    assert captured.err.endswith("era-zoo embed: 1 of 2 files failed\n")
    emb = load_embeddings(out)
    assert set(emb.ids.tolist()) == {CLIP.stem}
    assert emb.X.shape[1] == 16  # tiny trunk: 16 channels x 1 band x 1 frame
    # Paper B's model: the trunk by default (the reference's downstream
    # features), recorded in the file; rows equal the encoder's trunk of the
    # decoded clip's chunks, not the projection.
    assert emb.level == "trunk" and "level trunk" in printed
    model = era_zoo.load("contrastive_a2p", weights=str(saved_models["contrastive_a2p"]))
    wave = load_audio(CLIP, 16000)
    chunks = as_chunks(wave, model.mel_spec, model.audio_encoder.n_frames, 16000)
    trunk = np.asarray(model.audio_encoder.trunk(chunks, training=False))
    np.testing.assert_allclose(emb.X, trunk, atol=1e-5)
    projection = np.asarray(model.audio_encoder.project(trunk, training=False))
    assert np.abs(emb.X - projection).max() > 1e-3
    np.testing.assert_allclose(model.embed(wave, sample_rate=16000)["chunks"], trunk, atol=1e-5)
    # --level projection stays selectable and is recorded
    main(["embed", str(CLIP), "--model", str(saved_models["contrastive_a2p"]),
          "--level", "projection", "-o", str(tmp_path / "p.npz")])
    emb = load_embeddings(tmp_path / "p.npz")
    assert emb.level == "projection"
    np.testing.assert_allclose(emb.X, projection, atol=1e-5)
