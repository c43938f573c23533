"""On-disk cache of log-mels computed from audio files.

The key is a SHA-256 of the file's absolute path, size and modification time
plus every MelSpec field and the decoder's resampling quality, so an edited
file or a changed preset never serves a stale mel. Entries are plain ``.npy``
float32 arrays (n_mels, frames) under ``<dir>/<key[:2]>/<key>.npy``, written
atomically (era_zoo.atomic): a reader sees a whole entry or none, even with
parallel writers.
"""
import hashlib
import json
import os

import numpy as np

from ..atomic import atomic_path
from ..audio.decode import RESAMPLE_QUALITY
from ..audio.presets import get_preset
from ..npyfile import load_npy

FORMAT_VERSION = 1


class MelCache:
    def __init__(self, directory, spec):
        self.directory = os.fspath(directory)
        self.spec = get_preset(spec)
        fields = self.spec.to_dict()
        fields.pop("name")  # a renamed preset with equal fields computes equal mels
        self._spec_key = json.dumps({"spec": fields, "resample": RESAMPLE_QUALITY,
                                     "version": FORMAT_VERSION}, sort_keys=True)
        os.makedirs(self.directory, exist_ok=True)

    def path_for(self, audio_path):
        """Cache file for ``audio_path`` as it is now (size and mtime included)."""
        path = os.path.abspath(os.fspath(audio_path))
        st = os.stat(path)
        key = hashlib.sha256(
            f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{self._spec_key}".encode()).hexdigest()
        return os.path.join(self.directory, key[:2], key + ".npy")

    def load(self, audio_path):
        """The cached mel, or None when there is none (or it is unreadable)."""
        try:
            entry = self.path_for(audio_path)
        except OSError:
            return None
        if not os.path.exists(entry):
            return None
        try:
            mel = load_npy(entry)
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed and overwritten
        if mel.ndim != 2 or mel.shape[0] != self.spec.n_mels or mel.dtype != np.float32:
            return None
        return mel

    def store(self, audio_path, mel):
        entry = self.path_for(audio_path)
        with atomic_path(entry) as tmp:
            np.save(tmp, np.asarray(mel, dtype=np.float32), allow_pickle=False)
        return entry
