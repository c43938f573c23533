"""Seeded train/valid/test splits of the demo corpus, stratified by era.

The unit that is assigned to a split is a *group*:

- ``by="work"`` (default): the movements of one work share a group, every
  other piece is its own group. Composers appear in several splits, so a
  model can partly recognise the composer rather than the era: the same
  leakage that paper A's artist-aware models exploit on purpose.
- ``by="composer"``: a composer (or collection) is one group, so no composer
  is in two splits. This is the honest test of generalising to unseen
  composers, but with this corpus most eras have only a handful of composers
  and the medieval era (trecento, Ciconia) would drop out of valid or test,
  which is why it is not the default.

Within each era (see ``composers.ERAS``) the groups are ordered by a seeded
hash of their key and cut by the fractions; an era with at least three groups
always puts at least one in valid and one in test. Hash order keeps a group's
place when other pieces join or leave the build (a piece that failed once and
renders on a retry moves few others across a split boundary).
"""
from collections import defaultdict
import hashlib

from ...errors import ConfigError

SPLIT_BY = ("work", "composer")


def _rank(seed, key):
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign_splits(records, *, seed=0, valid_fraction=0.1, test_fraction=0.1, by="work"):
    """{piece_id: split} for records with ``piece_id``, ``group``,
    ``composer_id`` and ``era`` keys."""
    if by not in SPLIT_BY:
        raise ConfigError("split_by", f"{by!r} is not one of {SPLIT_BY}")
    if not (0 <= valid_fraction < 1 and 0 <= test_fraction < 1
            and valid_fraction + test_fraction < 1):
        raise ConfigError("valid_fraction/test_fraction",
                          f"{valid_fraction}/{test_fraction} must be in [0, 1) with a sum below 1")
    groups = defaultdict(lambda: defaultdict(list))   # era -> group -> piece ids
    for r in records:
        key = r["composer_id"] if by == "composer" else r["group"]
        groups[r["era"]][key].append(r["piece_id"])
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
