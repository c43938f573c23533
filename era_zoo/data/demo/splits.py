"""Seeded train/valid/test splits of the demo corpus, stratified by era.

The unit that is assigned to a split is a *group*:

- ``by="composer"`` (default): a composer (or collection) is one group, so
  no composer is in two splits and the test split holds composers the
  model never heard, as the MSD reader keeps artists apart. Most labels are
  per composer (the midpoint of its active period), so a split that shares
  composers would measure composer recognition, not era recognition.
- ``by="work"``: the movements of one work share a group, every other
  piece is its own group. Composers then appear in several splits and a
  model can recognise the composer rather than the era; selectable for
  comparison.

A group belongs to the era (see ``composers.ERAS``) most of its pieces
have (ties: the earliest), so a composer whose works straddle two eras is
still one group. Within each era the groups are ordered by a seeded hash of
their key and cut by the fractions; an era with at least three groups always
puts at least one in valid and one in test (with composer groups the
medieval era, two composers, stays in train). Hash order keeps a group's
place when other pieces join or leave the build (a piece that failed once
and renders on a retry moves few others across a split boundary).
"""
from collections import Counter, defaultdict
import hashlib

from ...errors import ConfigError
from .composers import ERAS

SPLIT_BY = ("composer", "work")   # the default first


def _rank(seed, key):
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign_splits(records, *, seed=0, valid_fraction=0.1, test_fraction=0.1, by="composer"):
    """{piece_id: split} for records with ``piece_id``, ``group``,
    ``composer_id`` and ``era`` keys."""
    if by not in SPLIT_BY:
        raise ConfigError("split_by", f"{by!r} is not one of {SPLIT_BY}")
    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1
            and valid_fraction + test_fraction < 1):
        raise ConfigError("valid_fraction/test_fraction",
                          f"{valid_fraction}/{test_fraction} must be in [0, 1) with a sum below 1")
    members = defaultdict(list)   # group -> records
    for r in records:
        members[r["composer_id"] if by == "composer" else r["group"]].append(r)
    era_order = {name: i for i, (name, _, _) in enumerate(ERAS)}
    groups = defaultdict(dict)    # era -> group -> piece ids
    for key, rs in members.items():
        counts = Counter(r["era"] for r in rs)
        era = min(counts, key=lambda e: (-counts[e], era_order.get(e, len(era_order)), e))
        groups[era][key] = [r["piece_id"] for r in rs]
    out = {}
    for era in sorted(groups):
        keys = sorted(groups[era], key=lambda k: _rank(seed, k))
        n = len(keys)
        n_test = round(n * test_fraction)
        n_valid = round(n * valid_fraction)
        if n >= 3:
            n_test = max(n_test, 1 if test_fraction > 0 else 0)
            n_valid = max(n_valid, 1 if valid_fraction > 0 else 0)
        for i, key in enumerate(keys):
            split = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
            for pid in groups[era][key]:
                out[pid] = split
    return out
