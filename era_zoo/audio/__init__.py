"""Audio front-end: decoding, resampling and the in-graph log-mel.

    from era_zoo.audio import load_audio, LogMel, waveform_to_logmel, get_preset

Names load on first use, so importing this package (or its presets) does not
import Keras or TensorFlow.
"""
import importlib

_LAZY = {
    "load_audio": "decode", "audio_info": "decode", "SILENCE_PEAK": "decode",
    "LogMel": "mel", "waveform_to_logmel": "mel", "mel_filterbank": "mel",
    "n_frames": "mel",
    "MelSpec": "presets", "get_preset": "presets", "register_preset": "presets",
    "list_presets": "presets",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'era_zoo.audio' has no attribute {name!r}")
