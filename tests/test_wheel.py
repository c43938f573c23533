"""`pip install` of the built wheel is a working zoo: in a fresh virtual
environment, from another directory, every preset loads by name and
predicts what the checkout predicts, its tokenizer and the recipes come
with it. Dependencies (TensorFlow, ...) are borrowed from this
environment's site-packages; era_zoo itself comes only from the wheel."""
import json
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# What setup.py packages; the copy keeps the build out of the checkout.
SOURCES = ("setup.py", "README.md", "era_zoo", "recipes")

# Run in the installed environment and in this one: the same fixed
# waveform (a few harmonic tones, deterministic) through every preset.
SCRIPT = r"""
import json, sys
import numpy as np
import era_zoo
from era_zoo.inference import predict_era
from era_zoo.presets import list_presets
from era_zoo.registry import list_models, model_info, preset_artist_text
from era_zoo.training.recipe import find_recipe

rate = 22050
t = np.arange(int(9.5 * rate)) / rate
wave = sum(np.sin(2 * np.pi * f * t) * np.exp(-((t % 1.3) * k)) / k
           for k, f in enumerate((220.0, 277.2, 329.6, 440.0, 587.3), start=1))
wave = (0.3 * wave / np.abs(wave).max()).astype(np.float32)
out = {"file": era_zoo.__file__, "recipe": str(find_recipe("audio_cnn")), "models": {},
       "finders": [getattr(f, "__name__", type(f).__name__) for f in sys.meta_path]}
for name in list_models(pretrained=True, family="era"):
    r = predict_era(era_zoo.load(name), wave, rate)
    out["models"][name] = [r["expected_year"]] + [r["decades"][d] for d in sorted(r["decades"])]
# Every preset loads by its name; the others' weights stand for their outputs.
out["presets"] = {p: [float(np.abs(w).sum()) for w in era_zoo.load(p).get_weights()]
                  for p in list_presets() if model_info(list_presets()[p].model).family != "era"}
text = preset_artist_text("audioart_mmc")
out["tokens"] = text.tokens.tolist()
print("RESULT " + json.dumps(out))
"""


def _start(python, cwd):
    return subprocess.Popen([str(python), "-c", SCRIPT], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(cwd),
                                 "TF_CPP_MIN_LOG_LEVEL": "2",
                                 "NUMBA_CACHE_DIR": str(cwd / ".numba")})


def _result(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-4000:]
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_wheel_installs_a_working_zoo(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(wheels), str(source)], check=True,
                   capture_output=True, timeout=600)
    wheel = next(wheels.glob("era_zoo-*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-deps", "--no-index", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=600)
    purelib = Path(subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    # A path line: this environment's packages become importable without
    # running its .pth files, so the editable install's finder stays out.
    ours = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "borrowed.pth").write_text("\n".join(ours) + "\n")
    assert sysconfig.get_paths()["purelib"] in ours

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Both at once: each is mostly TensorFlow starting up.
    installed, checkout = [_result(p) for p in (_start(python, elsewhere),
                                                _start(sys.executable, elsewhere))]
    assert Path(installed["file"]).is_relative_to(venv)
    assert "_EditableFinder" in checkout["finders"]
    assert "_EditableFinder" not in installed["finders"]
    assert Path(installed["recipe"]).is_relative_to(venv)
    assert Path(installed["recipe"]).read_text() == (REPO / "recipes/audio_cnn.toml").read_text()
    assert Path(checkout["file"]).is_relative_to(REPO)
    assert sorted(installed["models"]) == sorted(checkout["models"])
    assert {"audio_cnn", "audio_suc", "audioart_mmc"} <= set(checkout["models"])
    for name, values in checkout["models"].items():
        np.testing.assert_allclose(installed["models"][name], values, rtol=0, atol=1e-6,
                                   err_msg=name)
    assert installed["tokens"] == checkout["tokens"]
    assert installed["presets"] == checkout["presets"]
