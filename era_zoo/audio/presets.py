"""Mel-spectrogram presets by name.

A :class:`MelSpec` states the whole front-end: sample rate, framing, window,
filterbank and compression, so that two presets with the same bands but a
different scale are different presets (a model trained on one scale gets
inputs its input BatchNorm never saw when fed the other).

- ``melon48``: the features of the Melon Playlist Dataset and of paper B's
  reference chain (Essentia: 16 kHz, frames of 512 every 256 centred on the
  samples, symmetric Hann window not normalised, magnitude spectrum,
  ``MelBands(48, slaneyMel, normalize="unit_tri", type="power", 0-8000 Hz)``,
  ``UnaryOperator(type="lin2db", scale=2)``): 20 log10(band power) floored
  at -200 (band power 1e-10). Values run from that floor to a few tens of dB
  on music.
- ``melon48_ln``: the same bands with librosa's Slaney filterbank, periodic
  Hann window and natural log, ln(band power + 1e-6) (about -13.8 to 5):
  era_zoo's melon48 before it followed the reference.
- ``era224``: paper A's input, 224 librosa Slaney bands at 22,050 Hz,
  ln(band power + 1e-6); the shipped era presets were trained on it.
- ``musicnn96``: the musicnn taggers' input, librosa's 96 Slaney bands at
  16 kHz (n_fft 512, hop 256), log10(1 + 10000 band power), the band power
  rounded to float16 first, as musicnn does.

Users add their own with ``register_preset``.
"""
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError

WINDOWS = ("hann", "hann_symmetric")
FILTERBANKS = ("slaney", "essentia")
COMPRESSIONS = ("ln", "db", "log10_1p10k")


@dataclass(frozen=True)
class MelSpec:
    """One log-mel front-end, every number that decides its output.

    Frames of ``n_fft`` samples every ``hop_length``, centred (the signal is
    zero-padded by n_fft // 2 each side, so frame i is centred on sample
    i * hop_length): ``1 + samples // hop_length`` frames.

    Args:
        sample_rate, n_fft, hop_length, n_mels: the STFT and the bands.
        fmin, fmax: the filterbank's range in Hz (``fmax`` None: Nyquist).
        power: exponent of the magnitude spectrum (2: power, 1: magnitude).
        window: ``"hann"``, periodic (librosa's and scipy's STFT window), or
            ``"hann_symmetric"``, 0.5 - 0.5 cos(2 pi n / (n_fft - 1))
            (Essentia's ``Windowing(type="hann")``).
        filterbank: ``"slaney"``, librosa's ``filters.mel(htk=False,
            norm="slaney")`` (triangles linear in Hz, unit area in Hz), or
            ``"essentia"``, Essentia's ``MelBands(warpingFormula="slaneyMel",
            normalize="unit_tri")`` (the same Slaney-spaced edges, triangles
            linear in HTK mel, each divided by half its width in HTK mel).
        compression: ``"ln"``: ln(band power + ``log_offset``); ``"db"``:
            ``db_multiplier`` * log10(max(band power, ``db_amin``)).
            Essentia's ``UnaryOperator(type="lin2db", scale=2)`` is
            ``db_multiplier=20, db_amin=1e-10`` (below 1e-10 it gives
            -100 dB, doubled: exactly the floor here); ``"log10_1p10k"``:
            log10(1 + 10000 band power), the band power first rounded to
            float16 (musicnn's: its training mels were stored as float16).
        name: the preset's name.

    Example:
        >>> spec = MelSpec(sample_rate=16000, n_fft=512, hop_length=256,
        ...                n_mels=48, compression="db", db_multiplier=10.0)
        >>> spec.floor
        -100.0
    """
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    fmin: float = 0.0
    fmax: float | None = None      # None: sample_rate / 2
    power: float = 2.0             # 2: power spectrogram, 1: magnitude
    log_offset: float = 1e-6       # "ln": log(mel + log_offset); keeps silence finite
    window: str = "hann"
    filterbank: str = "slaney"
    compression: str = "ln"
    db_multiplier: float = 10.0    # "db": 10 for decibels of power
    db_amin: float = 1e-10         # "db": band powers below this give the floor
    name: str = "custom"

    def __post_init__(self):
        for field, allowed in (("window", WINDOWS), ("filterbank", FILTERBANKS),
                               ("compression", COMPRESSIONS)):
            if getattr(self, field) not in allowed:
                raise ConfigError(f"mel.{field}", f"unknown {field} {getattr(self, field)!r}",
                                  f"one of: {', '.join(allowed)}")
        for field in ("log_offset", "db_amin"):
            if not getattr(self, field) > 0:
                raise ConfigError(f"mel.{field}", f"must be > 0, got {getattr(self, field)}")

    @property
    def floor(self):
        """The compressed value of zero band power (digital silence)."""
        if self.compression == "db":
            return float(self.db_multiplier * np.log10(self.db_amin))
        if self.compression == "log10_1p10k":
            return 0.0
        return float(np.log(self.log_offset))

    @property
    def frames_per_second(self):
        return self.sample_rate / self.hop_length

    def seconds_to_frames(self, seconds):
        return int(round(seconds * self.frames_per_second))

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError("mel", f"unknown key(s) {sorted(unknown)}",
                              f"valid keys: {sorted(cls.__dataclass_fields__)}")
        return cls(**d)


_PRESETS = {
    "melon48": MelSpec(sample_rate=16000, n_fft=512, hop_length=256, n_mels=48,
                       fmin=0.0, fmax=8000.0, window="hann_symmetric",
                       filterbank="essentia", compression="db", db_multiplier=20.0,
                       db_amin=1e-10, name="melon48"),
    "melon48_ln": MelSpec(sample_rate=16000, n_fft=512, hop_length=256, n_mels=48,
                          window="hann", filterbank="slaney", compression="ln",
                          log_offset=1e-6, name="melon48_ln"),
    "era224": MelSpec(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=224,
                      window="hann", filterbank="slaney", compression="ln",
                      log_offset=1e-6, name="era224"),
    "musicnn96": MelSpec(sample_rate=16000, n_fft=512, hop_length=256, n_mels=96,
                         window="hann", filterbank="slaney", compression="log10_1p10k",
                         name="musicnn96"),
}


def register_preset(name, spec):
    if not isinstance(spec, MelSpec):
        spec = MelSpec.from_dict(dict(spec))
    _PRESETS[name] = MelSpec(**{**spec.to_dict(), "name": name})
    return _PRESETS[name]


def get_preset(name_or_spec):
    """A MelSpec from a preset name, a dict of fields or a MelSpec."""
    if isinstance(name_or_spec, MelSpec):
        return name_or_spec
    if isinstance(name_or_spec, dict):
        return MelSpec.from_dict(name_or_spec)
    try:
        return _PRESETS[name_or_spec]
    except KeyError:
        raise ConfigError("mel", f"unknown mel preset {name_or_spec!r}",
                          f"known presets: {', '.join(sorted(_PRESETS))}") from None


def list_presets():
    return sorted(_PRESETS)
