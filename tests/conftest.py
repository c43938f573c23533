import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as era_zoo/__init__ sets it
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).parent.parent / ".cache" / "numba"))

import pytest

# ../shared sits beside the checkout on the project's machines only; tests
# that read it skip cleanly in a user's clone.
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_real():
    real = SHARED / "real"
    if not real.is_dir():
        pytest.skip("../shared/real is absent (only on the project's machines)")
    return real


@pytest.fixture(scope="session")
def melon(tmp_path_factory):
    """A default-size Melon fixture, read-only: the training tests share it
    (a test that changes files copies it first)."""
    from era_zoo.data.fixtures import write_melon_fixture
    return write_melon_fixture(tmp_path_factory.mktemp("melon"))


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory):
    """Test-size Audio-CNN and ContrastiveA2P saved as .keras files:
    {name: path}."""
    import era_zoo
    from era_zoo.registry import model_info

    root = tmp_path_factory.mktemp("models")
    paths = {}
    for name in ("audio_cnn", "contrastive_a2p"):
        paths[name] = root / f"{name}.keras"
        era_zoo.create_model(name, **model_info(name).test_config).save(paths[name])
    return paths


@pytest.fixture(scope="session")
def straight(melon, tmp_path_factory):
    """The fault tests' uninterrupted reference run, read-only:
    (run folder, {global step: resume-state arrays})."""
    from faults import run_straight
    run = tmp_path_factory.mktemp("straight") / "run"
    return run, run_straight(melon, run)
