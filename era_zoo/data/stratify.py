"""Seeded multilabel stratified splitting (iterative stratification).

Sechidis, Tsoumakas and Vlahavas, "On the Stratification of Multi-Label Data",
ECML PKDD 2011, Algorithm 1. Each example carries a list of labels; the
algorithm keeps, per subset and per label, how many label occurrences the
subset still wants (its fraction of the label's total) and deals out the
examples of the rarest remaining label first, each to the subset that wants
that label most (ties: the subset that wants the most examples overall, then
a seeded random choice), among the subsets that still have room for it.
Rare labels therefore land in every subset in proportion, which a random
split cannot promise.

Additions to the paper's algorithm:

- an example may be a *group* (all tracks of one artist, so the split is
  group-disjoint): ``sizes`` gives its number of tracks and its label list
  holds one entry per track label, so the demands count tracks, not groups;
- examples are visited in a seeded random order (the paper: data order);
- examples without labels are dealt out at the end to the subset furthest
  below its desired size (as in the paper);
- a subset is only offered an example while its unfilled size is at least
  half the example's size (else the subset with the most room takes it).
  For single examples this only stops a subset from growing past its target;
  for groups it is what lets small subsets fill at all: a group of four
  tracks of a decade that has eight would otherwise always go to the 80 %
  subset, whose demand for the decade (6.4) beats the others' (0.8).
"""
import math
import random

import numpy as np

from ..errors import ConfigError


def iterative_stratification(labels, fractions, *, seed=0, sizes=None):
    """Assign each example to a subset.

    Args:
        labels: sequence of label sequences, one per example (labels are any
            hashable; a label repeated within an example counts that often).
        fractions: desired subset fractions, e.g. (0.8, 0.1, 0.1); positive
            and summing to 1 (within 1e-6).
        seed: the seed of the example order and of tie-breaks; the result is
            a deterministic function of (labels, fractions, seed, sizes).
        sizes: optional positive weight of each example (default 1 each).

    Returns:
        int64 array of subset indices (into ``fractions``), one per example.
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    if fractions.ndim != 1 or len(fractions) < 1 or np.any(fractions <= 0) \
            or abs(fractions.sum() - 1.0) > 1e-6:
        raise ConfigError("fractions", f"must be positive and sum to 1, got {fractions.tolist()}")
    n = len(labels)
    sizes = np.ones(n) if sizes is None else np.asarray(sizes, dtype=np.float64)
    if len(sizes) != n or np.any(sizes <= 0):
        raise ConfigError("sizes", "must give one positive weight per example")
    n_subsets = len(fractions)
    rng = random.Random(seed)

    # Integer label ids (a repeated label stays repeated: it counts that
    # often) and, per label, the examples holding it.
    label_ids = {}
    for labs in labels:
        for lab in labs:
            if lab not in label_ids:
                label_ids[lab] = len(label_ids)
    example_labels = [[label_ids[lab] for lab in labs] for labs in labels]
    n_labels = len(label_ids)
    holders = [[] for _ in range(n_labels)]
    order = list(range(n))
    rng.shuffle(order)
    remaining = [0.0] * n_labels
    for i in order:
        for lid in example_labels[i]:
            holders[lid].append(i)   # an example listed twice is skipped once assigned
            remaining[lid] += 1
    wanted = [[total * f for f in fractions] for total in remaining]  # wanted[label][subset]
    wanted_size = [sizes.sum() * f for f in fractions]
    assignment = [-1] * n
    sizes_list = sizes.tolist()

    subsets = range(n_subsets)

    def best_subset(demand, size):
        # Only subsets with room for at least half of this example compete;
        # the guard keeps a group (many tracks) from overfilling a subset
        # whose label demand is still high while others stay empty.
        best, best_key, ties = -1, None, None
        for m in subsets:
            room = wanted_size[m]
            if room < size / 2:
                continue
            key = (demand[m], room)
            if best_key is None or key > best_key:
                best, best_key, ties = m, key, None
            elif key == best_key:
                ties = (ties or [best]) + [m]
        if best < 0:             # no room anywhere: the subset with the most
            return best_subset(wanted_size, -math.inf)
        return best if ties is None else rng.choice(ties)

    active = [lid for lid in range(n_labels) if remaining[lid] > 0]
    while active:
        # The label with the fewest unassigned occurrences goes first.
        rarest = min(active, key=lambda lid: (remaining[lid], lid))
        for i in holders[rarest]:
            if assignment[i] >= 0:
                continue
            m = best_subset(wanted[rarest], sizes_list[i])
            assignment[i] = m
            for lid in example_labels[i]:
                wanted[lid][m] -= 1
                remaining[lid] -= 1
            wanted_size[m] -= sizes_list[i]
        active = [lid for lid in active if remaining[lid] > 0]

    for i in order:
        if assignment[i] < 0:    # examples without any label
            m = best_subset(wanted_size, sizes_list[i])
            assignment[i] = m
            wanted_size[m] -= sizes_list[i]
    return np.asarray(assignment, dtype=np.int64)
