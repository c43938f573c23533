"""Era classes of paper A: years grouped into classes of ``width`` years over
[start, end], and the decade view of a class distribution."""
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class YearBins:
    """Classes of ``width`` consecutive years from ``start`` to ``end``
    (both included). Class i holds years start + i*width ... start +
    (i+1)*width - 1; the last class stops at ``end`` when the range does not
    divide evenly. Years outside the range fall in the first or last class
    (clipped), so an era model always predicts a year inside the range."""

    start: int = 1950
    end: int = 2020
    width: int = 1

    def __post_init__(self):
        for field in ("start", "end", "width"):
            value = getattr(self, field)
            if isinstance(value, bool) or int(value) != value:
                raise ConfigError(f"year_bins.{field}", f"must be an integer, got {value!r}")
            object.__setattr__(self, field, int(value))
        if self.width < 1:
            raise ConfigError("year_bins.width", f"must be >= 1, got {self.width}")
        if self.end < self.start:
            raise ConfigError("year_bins.end", f"{self.end} is before start {self.start}")

    @classmethod
    def from_config(cls, config):
        if config is None:
            return cls()
        if isinstance(config, YearBins):
            return config
        unknown = set(config) - {"start", "end", "width"}
        if unknown:
            raise ConfigError("year_bins", f"unknown key(s) {sorted(unknown)}",
                              "valid keys: start, end, width")
        return cls(**config)

    def to_dict(self):
        return asdict(self)

    @property
    def n_classes(self):
        return -(-(self.end - self.start + 1) // self.width)

    def class_of(self, years):
        """Class index (int32) of each year, years clipped into the range."""
        years = np.clip(np.asarray(years, dtype=np.int64), self.start, self.end)
        return ((years - self.start) // self.width).astype(np.int32)

    def class_range(self, index):
        """(first year, last year) of class ``index``."""
        if not 0 <= index < self.n_classes:
            raise ConfigError("class", f"{index} is outside 0..{self.n_classes - 1}")
        first = self.start + index * self.width
        return first, min(first + self.width - 1, self.end)

    @property
    def centres(self):
        """(n_classes,) float64: the middle year of each class."""
        return np.array([sum(self.class_range(i)) / 2 for i in range(self.n_classes)])

    @property
    def decades(self):
        """(n_decades,) int: first year of each decade the range touches."""
        return np.arange(self.start // 10 * 10, self.end // 10 * 10 + 1, 10)

    @property
    def decade_matrix(self):
        """(n_classes, n_decades): the share of each class's years that falls
        in each decade (rows sum to 1). A class that straddles decades
        spreads its probability over them in proportion to its years."""
        decades = self.decades
        matrix = np.zeros((self.n_classes, len(decades)))
        for i in range(self.n_classes):
            first, last = self.class_range(i)
            for year in range(first, last + 1):
                matrix[i, (year // 10 * 10 - decades[0]) // 10] += 1
            matrix[i] /= last - first + 1
        return matrix

    def decade_probs(self, class_probs):
        """(..., n_classes) class probabilities -> (..., n_decades)."""
        return np.asarray(class_probs) @ self.decade_matrix
