"""Era recognition, paper A's metrics: accuracy within +-k years (k = 3),
exact-bin accuracy, decade accuracy, mean absolute error in years and a
decade confusion matrix, on the test split's tracks that have a year.

Two ways to get predictions:

- from ``Embeddings`` (any source): a probe (one hidden layer of 256 ReLU
  units, softmax over year bins) trained on the train split, early stopping
  on valid, repeated ``runs`` times with seeds ``seed + run`` (trained
  together, see ``probes``). The bins are
  ``YearBins`` of ``bin_width`` years over the training years (paper A's
  classes are year ranges of unstated width; 3 matches the tolerance).
- from an era model (has ``predict_year`` and ``year_bins``): each test
  track is cut into the model's chunks, chunk class probabilities are
  averaged per track; scored once (the model is fixed, nothing is random).
  AudioArt-MMC's artist text is the track's artist's when ``artist_text``
  is given, otherwise empty ("artist unknown": audio-only accuracy).

The predicted year is the centre of the most probable class
(``year_from="argmax"``, the default: paper A classifies into year ranges)
or the probability-weighted mean of the class centres (``"expected"``, what
``predict_year`` calls expected_year; it lands between the modes when the
probability is split over distant eras); the exact bin is the most probable
class; within-k and decade use the predicted year rounded to the nearest
year. This headline year is the one ``era-zoo predict`` prints first (the
most probable class's); the expected year is scored beside it
(``within_k_expected``, ``mae_years_expected``), as predict prints it
beside. Labels coarser than paper A's get a tolerance of their own
(``wide_k``) and period accuracy (``periods``), see :func:`run_era`.

AudioArt-MMC with ``artist_text`` (the ArtistTextTable its training run
saved, RUN_DIR/artist_text): each test track is fed its artist's text, paper
A's "with artist information" setting; without it the text is empty and the
figure is audio-only.
"""
import numpy as np

from ..errors import ConfigError, DataError
from ..inference.tracks import YEAR_FROM, predicted_year
from . import metrics
from .probes import ProbeConfig, train_probes
from .report import Stopwatch, summarize
from .sources import coverage

ERA_PROBE = ProbeConfig(hidden=(256,), output="softmax")


def _year_bins(**kw):
    from ..models.year_bins import YearBins
    return YearBins(**kw)


def _dated(table, split):
    part = table.split(split)
    dated = part.filter(lambda t: t.year is not None)
    return dated, len(part) - len(dated)


def _decade_confusion(true_years, pred_years):
    true_dec = metrics.decade(true_years).tolist()
    pred_dec = metrics.decade(np.rint(pred_years)).tolist()
    labels = sorted(set(true_dec) | set(pred_dec))
    return labels, metrics.confusion_matrix(true_dec, pred_dec, labels)


def _merge_confusion(acc, labels, counts):
    if acc is None:
        return labels, counts
    old_labels, old = acc
    merged = sorted(set(old_labels) | set(labels))
    out = np.zeros((len(merged), len(merged)), np.int64)
    for labs, cm in ((old_labels, old), (labels, counts)):
        ix = [merged.index(x) for x in labs]
        out[np.ix_(ix, ix)] += cm
    return merged, out


def _check(year_from, k):
    if year_from not in YEAR_FROM:
        raise ConfigError("year_from", f"{year_from!r} is not one of {YEAR_FROM}")
    if k < 0:
        raise ConfigError("k", f"must be >= 0, got {k}")


def run_era(table, source, *, k=3, runs=10, seed=0, bin_width=3, year_from="argmax",
            probe=ERA_PROBE, on_error="raise", progress=True, artist_text=None,
            wide_k=None, periods=None):
    """Era benchmark of ``source`` (``Embeddings`` or an era model) on a
    TrackTable with years and splits; returns a result dict.

    ``wide_k`` (a tolerance that fits the labels' precision) and
    ``periods`` (``(name, first, end)`` style periods) default to the
    table's ``extras["wide_k"]`` and ``extras["periods"]`` (the demo corpus:
    25 years and its six periods, since its labels are mostly composers'
    active-period midpoints); None leaves them out. Every result also
    scores the expected year beside the headline year (``*_expected``) and
    counts the test tracks whose year lies outside the classes
    (``test_tracks_outside_classes``: clipped into an end class, they can
    only be scored by that class's year)."""
    _check(year_from, k)
    extra = {"wide_k": table.extras.get("wide_k") if wide_k is None else wide_k,
             "periods": table.extras.get("periods") if periods is None else periods}
    if hasattr(source, "predict_year"):
        result = _run_model(table, source, k=k, year_from=year_from, on_error=on_error,
                            progress=progress, artist_text=artist_text, extra=extra)
        result["protocol"].update(extra)
        return result
    if bin_width < 1:
        raise ConfigError("bin_width", f"must be >= 1, got {bin_width}")
    from tqdm.auto import tqdm
    embeddings = source
    clock = Stopwatch()
    with clock("prepare"):
        data, no_year = {}, {}
        for split in ("train", "valid", "test"):
            dated, no_year[split] = _dated(table, split)
            X, present, _ = embeddings.track_means(dated)
            data[split] = (X, np.array([dated.tracks[i].year for i in present], np.int64))
        for split in ("train", "test"):
            if len(data[split][0]) == 0:
                raise DataError(embeddings.description or "embeddings",
                                f"no {split} track has both a year and an embedding",
                                "the era probe needs dated train and test tracks")
        train_years = data["train"][1]
        bins = _year_bins(start=int(train_years.min()), end=int(train_years.max()), width=bin_width)
        X_valid, c_valid = None, None
        if len(data["valid"][0]):
            X_valid, c_valid = data["valid"][0], bins.class_of(data["valid"][1])
        X_test, y_test = data["test"]

    per_run, confusion = [], None
    seeds = [seed + run for run in range(runs)]
    with clock("train"):
        trained = train_probes(probe, data["train"][0], bins.class_of(train_years),
                               X_valid, c_valid, seeds=seeds)
    with clock("evaluate"):
        all_probs = trained.predict(X_test)[:, :, : bins.n_classes]
    for run in tqdm(range(runs), desc="era runs", disable=not progress):
        with clock("evaluate"):
            probs = all_probs[run]
            pred_year = predicted_year(probs, bins, year_from)
            scores = metrics.era_scores(y_test, pred_year, k, bins.class_of(y_test), probs.argmax(1),
                                        expected_years=predicted_year(probs, bins, "expected"),
                                        **extra)
            confusion = _merge_confusion(confusion, *_decade_confusion(y_test, pred_year))
        per_run.append({"seed": seeds[run], **scores, "epochs": trained.epochs[run],
                        "best_epoch": trained.best_epochs[run]})
    result = _result(table, embeddings.description, coverage(table, embeddings), per_run,
                     confusion, clock, no_year, embeddings.level,
                   {"k": k, "runs": runs, "seed": seed, "predictor": "probe", "year_bins": bins.to_dict(),
                    "year_from": year_from, "probe": probe.to_dict(),
                    "runs_trained": "together" if trained.together else "separately"})
    result["test_tracks_outside_classes"] = int(bins.outside(y_test).sum())
    result["protocol"].update(extra)
    return result


def predict_with_model(table, model, *, on_error="raise", problems=None, progress=True,
                       artist_text=None):
    """Per-track class probabilities of an era model, by
    :func:`era_zoo.inference.predict_tracks`: each track's mel (or audio at
    the model's rate) cut into the model's chunks, chunk probabilities
    averaged.

    Args:
        table: a TrackTable.
        model: an era model.
        on_error: ``"raise"`` or ``"skip"`` (counted in ``problems``).
        problems: a :class:`~era_zoo.data.problems.ProblemReport`.
        progress: show a progress bar.
        artist_text: an :class:`~era_zoo.sideinfo.artist_text.ArtistTextTable`
            whose token ids feed a model with an artist-text input (each
            track its artist's; none for artists it lacks).

    Returns:
        ``(probabilities (n, C) float64, positions of the scored tracks in
        table.tracks)``.

    Example:
        >>> probs, positions = predict_with_model(table.split("test"), model)  # doctest: +SKIP
    """
    from ..inference import predict_tracks
    return predict_tracks(model, table, artist_text=artist_text, on_error=on_error,
                          problems=problems, progress=progress)


def _run_model(table, model, *, k, year_from, on_error, progress, artist_text=None, extra=None):
    from ..data.problems import ProblemReport
    clock = Stopwatch()
    problems = ProblemReport()
    test, no_year_test = _dated(table, "test")
    if len(test) == 0:
        raise DataError(table.name, "no test track has a year")
    with clock("predict"):
        probs, positions = predict_with_model(test, model, on_error=on_error, problems=problems,
                                              progress=progress, artist_text=artist_text)
    with clock("evaluate"):
        bins = model.year_bins
        y_test = np.array([test.tracks[p].year for p in positions], np.int64)
        pred_year = predicted_year(probs, bins, year_from)
        scores = metrics.era_scores(y_test, pred_year, k, bins.class_of(y_test), probs.argmax(1),
                                    expected_years=predicted_year(probs, bins, "expected"),
                                    **(extra or {}))
        confusion = _decade_confusion(y_test, pred_year)
    result = _result(table, getattr(model, "name", type(model).__name__), None, [{"seed": None, **scores}],
                     confusion, clock, {"test": no_year_test}, None,
                     {"k": k, "runs": 1, "predictor": "model", "year_bins": bins.to_dict(),
                      "year_from": year_from, "artist_text": artist_text is not None})
    result["problems"] = problems.to_dict()
    result["test_tracks_outside_classes"] = int(bins.outside(y_test).sum())
    result["test_tracks_failed"] = problems.total
    return result


def _result(table, description, cover, per_run, confusion, clock, no_year, level, protocol):
    keys = ("within_k", "within_wide_k", "period_accuracy", "decade_accuracy", "mae_years",
            "exact_bin_accuracy", "within_k_expected", "mae_years_expected")
    labels, counts = confusion
    return {
        "benchmark": "era",
        "source": description,
        "level": level,
        "protocol": protocol,
        "coverage": cover,
        "tracks_without_year": no_year,
        "test_tracks_scored": per_run[0]["n"],
        "runs": per_run,
        "summary": {key: summarize([r[key] for r in per_run]) for key in keys if key in per_run[0]},
        "confusion_matrix": {"labels": [f"{d}s" for d in labels], "counts": counts.tolist(),
                             "note": f"decades, summed over {len(per_run)} run(s)"},
        "timings_s": clock.totals(),
        "cpu_s": clock.cpu_totals(),
    }
