"""Era classes of paper A: years grouped into classes of ``width`` years over
[start, end], and the decade view of a class distribution.

Paper A's classes are year ranges over its data's years. A recipe gives
``start = "auto"`` and ``end = "auto"`` (the zoo's recipes do) to span the
training split's actual years (:meth:`YearBins.fit`), so no training song
falls outside the classes; years outside a fixed range are clipped into the
first or last class, which the trainer and the era benchmark count and
report (:meth:`YearBins.outside`).
"""
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError

AUTO = "auto"


@dataclass(frozen=True)
class YearBins:
    """Classes of ``width`` consecutive years from ``start`` to ``end``
    (both included). Class i holds years start + i*width ... start +
    (i+1)*width - 1; the last class stops at ``end`` when the range does not
    divide evenly. Years outside the range fall in the first or last class
    (clipped), so an era model always predicts a year inside the range.

    The default is the Million Song Dataset's span (1922-2011, paper A's
    data) in 5-year ranges; train with ``start``/``end`` ``"auto"`` to use
    the training data's own span.

    Args:
        start: first year of the first class.
        end: last year of the last class.
        width: years per class.

    Example:
        >>> bins = YearBins(1995, 2004, width=3)
        >>> bins.n_classes, bins.class_of([1990, 1999, 2004]).tolist()
        (4, [0, 1, 3])
    """

    start: int = 1922
    end: int = 2011
    width: int = 5

    def __post_init__(self):
        for field in ("start", "end", "width"):
            value = getattr(self, field)
            if isinstance(value, str) and value == AUTO and field != "width":
                raise ConfigError(f"year_bins.{field}", '"auto" is resolved from training '
                                  "data's years", "train the model with its recipe, or "
                                  "give a year to build it without data")
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer)) \
                    or int(value) != value:
                raise ConfigError(f"year_bins.{field}", f"must be an integer, got {value!r}")
            object.__setattr__(self, field, int(value))
        if self.width < 1:
            raise ConfigError("year_bins.width", f"must be >= 1, got {self.width}")
        if self.end < self.start:
            raise ConfigError("year_bins.end", f"{self.end} is before start {self.start}")

    @classmethod
    def from_config(cls, config):
        """YearBins from a dict (start, end, width), a YearBins or None (the
        default).

        Args:
            config: the model's ``year_bins`` configuration.

        Example:
            >>> YearBins.from_config({"start": 1960, "end": 1999, "width": 10}).n_classes
            4
        """
        if config is None:
            return cls()
        if isinstance(config, YearBins):
            return config
        unknown = set(config) - {"start", "end", "width"}
        if unknown:
            raise ConfigError("year_bins", f"unknown key(s) {sorted(unknown)}",
                              "valid keys: start, end, width")
        return cls(**config)

    @classmethod
    def fit(cls, config, years):
        """YearBins of a configuration whose ``start``/``end`` may be
        ``"auto"``: those are the earliest/latest of ``years`` (the training
        split's). A missing ``start``/``end`` is ``"auto"`` too.

        Args:
            config: dict with start, end, width (or None: auto-auto, width 5).
            years: the training years.

        Raises:
            ConfigError: ``"auto"`` with no years to resolve it from.

        Example:
            >>> YearBins.fit({"start": "auto", "end": "auto", "width": 5},
            ...              [1925, 1980, 2011]).to_dict()
            {'start': 1925, 'end': 2011, 'width': 5}
        """
        if isinstance(config, YearBins):
            return config
        config = {"start": AUTO, "end": AUTO, **dict(config or {})}
        years = np.asarray([y for y in years if y is not None], dtype=np.int64)
        for field, pick in (("start", np.min), ("end", np.max)):
            if isinstance(config[field], str) and config[field] == AUTO:
                if len(years) == 0:
                    raise ConfigError(f"year_bins.{field}", '"auto" needs training years',
                                      "no training track has a year")
                config[field] = int(pick(years))
        return cls.from_config(config)

    def outside(self, years):
        """Boolean mask of the years outside [start, end] (clipped by
        :meth:`class_of`).

        Args:
            years: array-like of years.

        Example:
            >>> YearBins(1950, 2011, 1).outside([1925, 1950, 2012]).tolist()
            [True, False, True]
        """
        years = np.asarray(years, dtype=np.int64)
        return (years < self.start) | (years > self.end)

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
