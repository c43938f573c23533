"""GTZAN genre classification, paper B's protocol.

Fault-filtered split (443 train / 197 valid / 290 test). One embedding per
non-overlapping 256-frame chunk; every training chunk is a training instance
of an MLP with one hidden layer of 256 ReLU units; a test track's genre is
the majority vote of its chunks (ties: the class with the highest summed
probability); 10 runs with seeds ``seed .. seed + runs - 1`` (trained
together, see ``probes``); the mean and standard deviation (population,
ddof = 0) of track accuracy.

Paper B names only train and test; the fault-filtered split's validation
tracks are used for early stopping (on chunk-level validation loss,
restoring the best epoch), never for training. ``use_valid=False`` trains a
fixed ``max_epochs`` instead.
"""
import numpy as np

from ..errors import DataError
from . import metrics
from .probes import GTZAN_PROBE, train_probes
from .report import Stopwatch, summarize
from .sources import coverage


def _labels(tracks, classes):
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index[t.genres[0]] for t in tracks], dtype=np.int64)


def _split_rows(table, embeddings, split, required):
    part = table.split(split)
    if len(part) == 0:
        if required:
            raise DataError(table.name, f"no {split} tracks", "GTZAN needs the fault-filtered split lists")
        return part, np.zeros((0, embeddings.dim), np.float32), np.zeros(0, np.int64)
    X, owner, missing = embeddings.chunk_rows(part)
    if len(X) == 0 and required:
        raise DataError(embeddings.description or "embeddings",
                        f"no embeddings for any of the {len(part)} {split} tracks",
                        f"e.g. {part.tracks[0].track_id}; ids are matched by file stem")
    return part, X, owner


def run_gtzan(table, embeddings, *, runs=10, seed=0, probe=GTZAN_PROBE, use_valid=True,
              progress=True):
    """Run the protocol on a GTZAN TrackTable and chunk ``Embeddings``; returns a result dict."""
    from tqdm.auto import tqdm
    clock = Stopwatch()
    with clock("prepare"):
        train, X_train, own_train = _split_rows(table, embeddings, "train", True)
        test, X_test, own_test = _split_rows(table, embeddings, "test", True)
        valid, X_valid, own_valid = _split_rows(table, embeddings, "valid", False)
        classes = sorted({t.genres[0] for t in train.tracks})
        unknown = sorted({t.genres[0] for t in test.tracks} - set(classes))
        if unknown:
            raise DataError(table.name, f"test genres {unknown} have no training track")
        y_train = _labels(train.tracks, classes)[own_train]
        y_valid = _labels(valid.tracks, classes)[own_valid] if len(X_valid) else None
        test_labels = _labels(test.tracks, classes)
        if not use_valid or len(X_valid) == 0:
            X_valid, y_valid = None, None

    per_run, confusion = [], np.zeros((len(classes), len(classes)), np.int64)
    seeds = [seed + run for run in range(runs)]
    with clock("train"):
        trained = train_probes(probe, X_train, y_train, X_valid, y_valid, seeds=seeds)
    with clock("evaluate"):
        all_probs = trained.predict(X_test)
    for run in tqdm(range(runs), desc="gtzan runs", disable=not progress):
        with clock("evaluate"):
            chunk_probs = all_probs[run]
            positions, voted = metrics.majority_vote(chunk_probs, own_test, len(classes))
            truth = test_labels[positions]
            acc = metrics.accuracy(truth, voted)
            chunk_acc = metrics.accuracy(test_labels[own_test], chunk_probs.argmax(1))
            confusion += metrics.confusion_matrix(truth, voted, range(len(classes)))
        per_run.append({"seed": seeds[run], "accuracy": acc, "chunk_accuracy": chunk_acc,
                        "epochs": trained.epochs[run], "best_epoch": trained.best_epochs[run]})

    n_test_scored = int(len(np.unique(own_test)))
    return {
        "benchmark": "gtzan",
        "source": embeddings.description,
        "level": embeddings.level,
        "protocol": {"runs": runs, "seed": seed, "probe": probe.to_dict(),
                     "early_stopping_on": "valid" if X_valid is not None else None,
                     "vote": "majority over chunks",
                     "runs_trained": "together" if trained.together else "separately"},
        "classes": classes,
        "coverage": coverage(table, embeddings),
        "test_tracks_scored": n_test_scored,
        "test_tracks_missing": len(test) - n_test_scored,
        "runs": per_run,
        "summary": {"accuracy": summarize([r["accuracy"] for r in per_run]),
                    "chunk_accuracy": summarize([r["chunk_accuracy"] for r in per_run])},
        "confusion_matrix": {"labels": classes, "counts": confusion.tolist(),
                             "note": f"summed over {runs} runs"},
        "timings_s": clock.totals(),
        "cpu_s": clock.cpu_totals(),
    }
