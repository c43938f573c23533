"""Mel-spectrogram presets by name.

``melon48`` matches the features shipped with the Melon Playlist Dataset (and
used by paper B); ``era224`` is paper A's input. Users add their own with
``register_preset``.
"""
from dataclasses import asdict, dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class MelSpec:
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    fmin: float = 0.0
    fmax: float | None = None      # None: sample_rate / 2
    power: float = 2.0             # 2: power spectrogram, 1: magnitude
    log_offset: float = 1e-6       # log(mel + log_offset); keeps silence finite
    name: str = "custom"

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
                       name="melon48"),
    "era224": MelSpec(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=224,
                      name="era224"),
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
