"""MTG-Jamendo auto-tagging, paper B's protocol.

One category (genre, moodtheme or instrument) at a time, each with its own
split-N files. A track's embedding is the mean of its chunk embeddings; the
probe is an MLP with hidden layers 128 and 64 (ReLU, batch norm after each,
dropout 0.5 after the penultimate layer, sigmoid outputs, binary
cross-entropy); early stopping on the validation split; test-set macro
ROC-AUC (paper B's figure) and macro PR-AUC; 10 runs, mean and population std.

The tag vocabulary is the category's tags present in the training split
(sorted). A test tag that never occurs in training cannot be predicted and is
counted, not scored; a tag with no positive (or no negative) test track has no
AUC and is left out of the macro mean (listed as undefined).
"""
import numpy as np

from ..errors import DataError
from . import metrics
from .probes import JAMENDO_PROBE, train_probes
from .report import Stopwatch, summarize
from .sources import coverage

CATEGORIES = ("genre", "moodtheme", "instrument")
# the split files write mood/theme tags as "mood/theme---happy"
TAG_PREFIXES = {"genre": ("genre---",), "instrument": ("instrument---",),
                "moodtheme": ("mood/theme---", "moodtheme---")}


def _category_tags(track, category):
    if category is None:
        return set(track.tags)
    return {t for t in track.tags if t.startswith(TAG_PREFIXES[category])}


def _multi_hot(tracks, vocab, category):
    index = {t: i for i, t in enumerate(vocab)}
    y = np.zeros((len(tracks), len(vocab)), np.float32)
    for row, track in enumerate(tracks):
        for tag in _category_tags(track, category):
            if tag in index:
                y[row, index[tag]] = 1.0
    return y


def _column_means(per_run_values):
    """Mean over runs per tag; NaN (undefined tag) stays NaN."""
    values = np.array(per_run_values, dtype=np.float64)
    return values.mean(0).tolist()


def run_jamendo(table, embeddings, *, category=None, runs=10, seed=0, probe=JAMENDO_PROBE,
                progress=True):
    """Run the protocol on an MTG-Jamendo TrackTable (one category's split) and
    ``Embeddings``; returns a result dict."""
    from tqdm.auto import tqdm
    if category is not None and category not in CATEGORIES:
        raise DataError(table.name, f"unknown tag category {category!r}",
                        f"expected one of {', '.join(CATEGORIES)}")
    clock = Stopwatch()
    with clock("prepare"):
        parts = {}
        for split in ("train", "valid", "test"):
            part = table.split(split)
            X, present, missing = embeddings.track_means(part)
            tracks = [part.tracks[i] for i in present]
            parts[split] = (X, tracks, len(missing), len(part))
        for split in ("train", "test"):
            X, _, _, n = parts[split]
            if len(X) == 0:
                raise DataError(embeddings.description or "embeddings",
                                f"no embeddings for any of the {n} {split} tracks",
                                "the protocol needs train and test; ids are matched by file stem")
        vocab = sorted(set().union(*(_category_tags(t, category) for t in parts["train"][1])))
        if not vocab:
            raise DataError(table.name, f"no {category or ''} tags on the training tracks")
        test_tags = set().union(*(_category_tags(t, category) for t in parts["test"][1]))
        unseen = sorted(test_tags - set(vocab))
        X_train, y_train = parts["train"][0], _multi_hot(parts["train"][1], vocab, category)
        X_test, y_test = parts["test"][0], _multi_hot(parts["test"][1], vocab, category)
        X_valid, y_valid = None, None
        if len(parts["valid"][0]):
            X_valid, y_valid = parts["valid"][0], _multi_hot(parts["valid"][1], vocab, category)

    per_run, tag_roc, tag_pr = [], [], []
    seeds = [seed + run for run in range(runs)]
    with clock("train"):
        trained = train_probes(probe, X_train, y_train, X_valid, y_valid, seeds=seeds)
    with clock("evaluate"):
        all_scores = trained.predict(X_test)
    for run in tqdm(range(runs), desc="jamendo runs", disable=not progress):
        with clock("evaluate"):
            scores = metrics.macro_tag_scores(y_test, all_scores[run])
        tag_roc.append(scores["per_tag_roc_auc"])
        tag_pr.append(scores["per_tag_pr_auc"])
        per_run.append({"seed": seeds[run], "roc_auc": scores["roc_auc"], "pr_auc": scores["pr_auc"],
                        "epochs": trained.epochs[run], "best_epoch": trained.best_epochs[run]})

    undefined = [vocab[i] for i in scores["undefined_tags"]]
    return {
        "benchmark": "jamendo",
        "source": embeddings.description,
        "level": embeddings.level,
        "protocol": {"category": category, "runs": runs, "seed": seed, "probe": probe.to_dict(),
                     "early_stopping_on": "valid" if X_valid is not None else None,
                     "track_embedding": "mean of chunk embeddings",
                     "runs_trained": "together" if trained.together else "separately"},
        "tags": vocab,
        "coverage": coverage(table, embeddings),
        "tracks_used": {s: len(parts[s][1]) for s in parts},
        "tracks_missing": {s: parts[s][2] for s in parts},
        "undefined_tags": undefined,
        "test_tags_unseen_in_train": unseen,
        "runs": per_run,
        "summary": {"roc_auc": summarize([r["roc_auc"] for r in per_run]),
                    "pr_auc": summarize([r["pr_auc"] for r in per_run])},
        "per_tag": {"roc_auc_mean": _column_means(tag_roc), "pr_auc_mean": _column_means(tag_pr)},
        "timings_s": clock.totals(),
        "cpu_s": clock.cpu_totals(),
    }
