"""Counted skips: where a caller asks for ``on_error="skip"``, bad items are
left out but never silently, they are tallied here and shown to the user."""
from collections import Counter
import threading

from ..errors import ConfigError


class ProblemReport:
    """Counts problems by kind and keeps a few examples of each.

    ``raise_or_skip`` is the one place that turns ``on_error`` into behaviour:
    with "raise" it raises the given error, with "skip" it records it.
    """

    def __init__(self, max_examples=5):
        self.counts = Counter()
        self.examples = {}
        self.max_examples = max_examples
        self._lock = threading.Lock()  # tf.data may call from several threads

    def add(self, kind, path, message=""):
        with self._lock:
            self.counts[kind] += 1
            ex = self.examples.setdefault(kind, [])
            if len(ex) < self.max_examples:
                ex.append(f"{path}: {message}" if message else str(path))

    def raise_or_skip(self, error, on_error, kind=None):
        if on_error == "raise":
            raise error
        if on_error != "skip":
            raise ConfigError("on_error", f"must be 'raise' or 'skip', not {on_error!r}")
        self.add(kind or type(error).__name__, getattr(error, "path", "?"),
                 getattr(error, "problem", str(error)))

    def merge(self, other):
        for kind, n in other.counts.items():
            self.counts[kind] += n
            ex = self.examples.setdefault(kind, [])
            ex.extend(other.examples.get(kind, [])[: self.max_examples - len(ex)])

    @property
    def total(self):
        return sum(self.counts.values())

    def __bool__(self):
        return self.total > 0

    def to_dict(self):
        return {k: {"count": n, "examples": self.examples.get(k, [])}
                for k, n in sorted(self.counts.items())}

    def __str__(self):
        if not self:
            return "no problems found"
        lines = [f"{self.total} problem(s):"]
        for kind, n in sorted(self.counts.items()):
            lines.append(f"  {kind}: {n}")
            lines.extend(f"    e.g. {e}" for e in self.examples.get(kind, []))
        return "\n".join(lines)
