"""era_zoo: a Keras 3 / TensorFlow model zoo for music era recognition and
cross-modal contrastive music representations."""
from setuptools import find_packages, setup

setup(
    name="era_zoo",
    version="0.1.0",
    description="Music era recognition and cross-modal contrastive music "
                "representations in Keras 3 / TensorFlow",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # The recipes stay at the top of the checkout (recipes/) and install as
    # era_zoo.recipes; the presets' folders are package data of era_zoo.presets.
    packages=find_packages(include=["era_zoo", "era_zoo.*"]) + ["era_zoo.recipes"],
    package_dir={"era_zoo.recipes": "recipes"},
    include_package_data=True,
    package_data={"era_zoo": ["assets/*", "assets/*/*"],
                  "era_zoo.recipes": ["*.toml", "overlays/*.toml", "README.md"],
                  "era_zoo.presets": ["*/*.json", "*/*.h5", "*/*.md", "*/*.toml",
                                      "*/artist_text/*"]},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<3.16",
        "numpy>=2.0,<3",
        "librosa>=0.11,<0.12",
        "soundfile>=0.13,<0.15",
        "soxr>=0.5,<2",
        "audioread>=3,<4",
        "scipy>=1.11,<2",
        "scikit-learn>=1.5,<2",
        "tensorboard>=2.21,<2.22",
        "implicit>=0.7.3,<0.8",
        "gensim>=4.4,<5",
        "h5py>=3.10,<4",
        "tqdm>=4.66,<5",
        "matplotlib>=3.8,<4",
    ],
    extras_require={
        "text": ["keras-hub>=0.32,<0.40"],
        "demo": ["music21>=9,<10"],
        # Keras on JAX (CPU wheels; a GPU machine brings its own jax[cuda]).
        "jax": ["jax[cpu]>=0.10,<0.11"],
        "test": ["pytest>=8,<10", "pytest-xdist>=3.5,<4",
                 "keras-hub>=0.32,<0.40", "music21>=9,<10", "jax[cpu]>=0.10,<0.11",
                 # the reference's feature chain, to check melon48 against
                 "essentia>=2.1b6.dev1389,<2.2",
                 # Keras 2, which the musicnn wheel's TF1 graph runs on in
                 # tests/test_musicnn.py (the wheel itself installs with
                 # --no-deps: see the Makefile)
                 "tf-keras>=2.21,<2.22"],
    },
    entry_points={"console_scripts": ["era-zoo=era_zoo.cli:main"]},
)
