"""A folder of bad files through `era-zoo predict`, `embed` and `tag`: one
clear line per bad file on stderr (naming it and what is wrong with it),
nothing from the decoders, the good files' results complete, then
"N of M files failed" and exit status 3; usage errors (a .keras file safe
mode refuses, an unwritable -o) are one line and status 2, and --debug adds
the traceback."""
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from era_zoo.bench.sources import load_embeddings
from era_zoo.cli import main

CLIP = Path(str(resources.files("era_zoo") / "assets" / "audio" / "Kevin_MacLeod_-_Vibe_Ace.ogg"))


def _tone(seconds, rate, channels=1, seed=0):
    t = np.arange(int(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(size=(len(t), channels))
    return (0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.05 * noise).astype(np.float32)


def _float_wav(path, bad_value, at=(100, 103)):
    x = _tone(3, 16000)
    x[at[0]:at[1]] = bad_value
    sf.write(path, x, 16000, subtype="FLOAT")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The issue's bad-input folder, plus good files (the real recording, an
    8 kHz WAV, a 48 kHz stereo FLAC). Returns (good paths, {bad path: what
    its error line must say})."""
    d = tmp_path_factory.mktemp("bad_inputs")
    (d / "empty.wav").write_bytes(b"")
    (d / "notes.wav").write_text("track list:\n1. intro\n2. outro\n" * 20)
    # (seed 1's bytes would open with a valid MPEG frame header)
    (d / "garbage.mp3").write_bytes(np.random.default_rng(0).bytes(5000))
    data = CLIP.read_bytes()
    (d / "truncated.ogg").write_bytes(data[:len(data) // 3])
    sf.write(d / "click.wav", _tone(100 / 22050, 22050), 22050, subtype="PCM_16")
    sf.write(d / "silent.wav", np.zeros((3 * 16000, 1), np.float32), 16000, subtype="PCM_16")
    _float_wav(d / "nan.wav", np.nan)
    _float_wav(d / "inf.wav", np.inf)
    sf.write(d / "loud.wav", _tone(3, 16000) * 32768, 16000, subtype="FLOAT")
    sf.write(d / "phone.wav", _tone(3, 8000, seed=2), 8000, subtype="PCM_16")
    sf.write(d / "stereo48k.flac", _tone(3, 48000, channels=2, seed=3), 48000)
    bad = {
        d / "empty.wav": "file is empty (0 bytes)",
        d / "notes.wav": "is a text file, not audio",
        d / "garbage.mp3": "is not an MP3 file: no MP3 audio found in it",
        d / "truncated.ogg": "truncated: the Ogg stream stops before its end (only ",
        d / "click.wav": "too short: 0.005 s (1 mel frames); the model needs at least ",
        d / "silent.wav": "silent: peak 0.00e+00 is below 0.0001 (-80 dBFS)",
        d / "nan.wav": "3 sample(s) are NaN or infinite",
        d / "inf.wav": "3 sample(s) are NaN or infinite",
        d / "loud.wav": "samples reach 1.591e+04, far outside [-1, 1] (float audio must be "
                        "full-scale floats; was it written at integer scale?",
    }
    good = [CLIP, d / "phone.wav", d / "stereo48k.flac"]
    return good, bad


def _files(folder):
    good, bad = folder
    # Good and bad interleaved: a bad file never stops the ones after it.
    return [str(p) for pair in zip(list(bad) + [None] * 3, good + [None] * 9)
            for p in pair if p is not None]


def _check_report(command, err, folder):
    good, bad = folder
    lines = [line for line in err.splitlines() if line.startswith("era-zoo ")]
    for path, problem in bad.items():
        mine = [line for line in lines if f" {path}: " in line]
        assert len(mine) == 1, (path, lines)
        assert mine[0].startswith(f"era-zoo {command}: error: {path}: "), mine[0]
        assert problem in mine[0], mine[0]
    assert lines[-1] == f"era-zoo {command}: {len(bad)} of {len(bad) + len(good)} files failed"
    assert len(lines) == len(bad) + 1
    # Nothing from the decoders (mpg123's resync notes, libsndfile's words).
    for noise in ("Note:", "resync", "possibly a pipe", "Traceback"):
        assert noise not in err, noise


def test_predict_reports_each_bad_file_once(folder, saved_models, capfd):
    good, _ = folder
    code = main(["predict", *_files(folder), "--model", str(saved_models["audio_cnn"])])
    captured = capfd.readouterr()
    assert code == 3
    _check_report("predict", captured.err, folder)
    for path in good:
        assert f"{path}\n  year 200" in captured.out
    assert "the model needs at least 1.01 s (64 frames)" in captured.err


def test_embed_reports_each_bad_file_once(folder, saved_models, tmp_path, capfd):
    good, _ = folder
    out = tmp_path / "emb.npz"
    code = main(["embed", *_files(folder), "--model", str(saved_models["contrastive_a2p"]),
                 "-o", str(out)])
    captured = capfd.readouterr()
    assert code == 3
    _check_report("embed", captured.err, folder)
    # Paper B's model needs half a 64-frame chunk.
    assert "the model needs at least 0.50 s (32 frames)" in captured.err
    assert set(load_embeddings(out).ids.tolist()) == {Path(p).stem for p in good}


def test_tag_reports_each_bad_file_once(folder, capfd):
    good, _ = folder
    code = main(["tag", *_files(folder), "--model", "musicnn_msd", "--json"])
    captured = capfd.readouterr()
    assert code == 3
    _check_report("tag", captured.err, folder)
    assert "the model needs at least 1.49 s (94 frames)" in captured.err
    rows = json.loads(captured.out)
    assert [r["file"] for r in rows if "error" not in r] == [str(p) for p in good]


def test_all_files_good_exits_zero(folder, saved_models, capsys):
    good, _ = folder
    assert main(["predict", *map(str, good), "--model", str(saved_models["audio_cnn"]),
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 3
    assert captured.err == "era-zoo predict: 0 of 3 files failed\n"


def test_a_keras_file_with_a_lambda_is_one_line(tmp_path, capsys):
    import keras
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    assert main(["predict", str(CLIP), "--model", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"era-zoo predict: error: {path}: holds Python code (a lambda) that safe mode will "
        "not run (era_zoo loads .keras files in safe mode only: rebuild the model without "
        "Lambda layers, or pass its weights as a preset)\n")
    # --debug, before or after the command, adds the traceback.
    for args in (["--debug", "predict", str(CLIP), "--model", str(path)],
                 ["predict", str(CLIP), "--model", str(path), "--debug"]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last):")
        assert err.endswith("holds Python code (a lambda) that safe mode will not run (era_zoo "
                            "loads .keras files in safe mode only: rebuild the model without "
                            "Lambda layers, or pass its weights as a preset)\n")


def test_an_unwritable_output_is_one_line_before_any_work(saved_models, tmp_path, capsys):
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("x")
    model = str(saved_models["contrastive_a2p"])
    assert main(["embed", str(CLIP), "--model", model, "-o", str(a_file / "e.npz")]) == 2
    assert capsys.readouterr() == ("", (
        f"era-zoo embed: error: -o: cannot write {a_file / 'e.npz'}: {a_file} is a file, "
        "not a folder (choose another path)\n"))
    assert main(["embed", str(CLIP), "--model", model, "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"era-zoo embed: error: -o: {tmp_path} is a folder (give a file name inside it)\n")
    assert main(["tag", str(CLIP), "--plot", str(a_file / "plots")]) == 2
    assert "--plot: cannot write" in capsys.readouterr().err
