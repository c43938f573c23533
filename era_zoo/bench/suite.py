"""Every benchmark whose data is present, for one model: ``era-zoo bench all``.

A data root holds the datasets in folders named as below (each laid out as
its reader expects); missing folders are skipped, and so are MTG-Jamendo
categories without split files:

    DATA_ROOT/gtzan/        GTZAN genre classification   (bench.gtzan)
    DATA_ROOT/mtg-jamendo/  auto-tagging, per category    (bench.jamendo)
    DATA_ROOT/melon/        playlist continuation         (bench.melon)
    DATA_ROOT/msd/          era recognition              (bench.era)

Each dataset is read and embedded once (the three MTG-Jamendo categories
share one embedding of their tracks); an era model is scored on its own
year predictions on MSD. Every protocol runs with its defaults (paper B's
10 runs, probes trained together). The result holds every protocol's full
result plus the time of each stage (read, embed, then the protocol's own
stages), and :func:`suite_table` lays them out as one table.

    suite = run_suite("data", era_zoo.load("contrastive_a2p"), runs=10)
    print(suite_table(suite, "contrastive_a2p"))
"""
from pathlib import Path

from ..errors import DataError
from . import era, gtzan, jamendo, melon
from .report import Stopwatch, _pm

# benchmark -> (folder under the data root, reader name)
DATASETS = {"gtzan": ("gtzan", "gtzan"), "jamendo": ("mtg-jamendo", "jamendo"),
            "melon": ("melon", "melon"), "era": ("msd", "msd")}


def present_datasets(root):
    """Benchmarks whose folder exists under ``root``, in DATASETS order.

    Args:
        root: the data root.

    Example:
        >>> present_datasets("/nowhere")
        {}
    """
    root = Path(root)
    return {name: root / folder for name, (folder, _) in DATASETS.items()
            if (root / folder).is_dir()}


def _jamendo_tables(path, read_kw):
    """One table per category with split files, and the union of their tracks."""
    from ..data.jamendo import read_jamendo
    from ..data.table import TrackTable
    tables = {}
    for category in jamendo.CATEGORIES:
        try:
            tables[category] = read_jamendo(path, category=category, **read_kw)
        except DataError as e:
            if "split file not found" not in str(e):
                raise
    if not tables:
        raise DataError(path, "no MTG-Jamendo split files of any category",
                        "expected splits/split-N/autotagging_<category>-<split>.tsv")
    union = {}
    for table in tables.values():
        for track in table.tracks:
            union.setdefault(track.track_id, track)
    return tables, TrackTable("jamendo", sorted(union.values(), key=lambda t: t.track_id))


def run_suite(root, model, *, runs=10, seed=0, level=None, on_error="raise", progress=True,
              probe_changes=None, jamendo_split=0, jamendo_audio="mp3"):
    """Run every benchmark whose data is under ``root`` for ``model``.

    Args:
        root: the data root (see the module docstring for its folders).
        model: a zoo model (``embed``; with ``predict_year`` it is scored on
            its own predictions on MSD).
        runs, seed: repetitions of every protocol and the first seed.
        level: the embedding level (None: the model's default).
        on_error: "raise" or "skip" bad dataset files.
        progress: show progress bars.
        probe_changes: ProbeConfig fields to change in every probe (e.g.
            ``{"max_epochs": 50, "grouped": False}``).
        jamendo_split, jamendo_audio: MTG-Jamendo's split number and file kind.

    Returns:
        ``{"benchmark": "all", "root", "results": [protocol results in
        order], "timings_s": {dataset: {stage: seconds}}}``; every protocol
        result's ``timings_s`` starts with its dataset's read and embed times
        (for the MTG-Jamendo categories, the shared ones are in the first).

    Example:
        >>> suite = run_suite("data", model, runs=1)  # doctest: +SKIP
    """
    from ..data.readers import read_dataset
    from .sources import embed_table
    found = present_datasets(root)
    if not found:
        expected = ", ".join(f"{folder}/" for folder, _ in DATASETS.values())
        raise DataError(root, "holds no benchmark dataset", f"expected one of {expected}")
    changes = {k: v for k, v in (probe_changes or {}).items() if v is not None}
    common = {"runs": runs, "seed": seed, "progress": progress}
    embed_kw = {"level": level, "on_error": on_error, "progress": progress}
    results, timings = [], {}
    for name, path in found.items():
        clock = Stopwatch()
        if name == "jamendo":
            with clock("read"):
                tables, union = _jamendo_tables(path, {"split": jamendo_split, "audio": jamendo_audio,
                                                       "on_error": on_error})
            with clock("embed"):
                source = embed_table(union, model, **embed_kw)
            probe = jamendo.JAMENDO_PROBE.with_(**changes)
            for i, (category, table) in enumerate(tables.items()):
                result = jamendo.run_jamendo(table, source, category=category, probe=probe, **common)
                _finish(result, table, path, clock if i == 0 else None)
                results.append(result)
            timings[name] = clock.totals()
            continue
        with clock("read"):
            table = read_dataset(DATASETS[name][1], path, on_error=on_error)
        if name == "era" and hasattr(model, "predict_year"):
            source = model  # scored on its own predictions
        else:
            with clock("embed"):
                source = embed_table(table, model, **embed_kw)
        if name == "gtzan":
            result = gtzan.run_gtzan(table, source, probe=gtzan.GTZAN_PROBE.with_(**changes), **common)
        elif name == "melon":
            result = melon.run_melon(table, source, **common)
        else:
            result = era.run_era(table, source, probe=era.ERA_PROBE.with_(**changes),
                                 on_error=on_error, **common)
        _finish(result, table, path, clock)
        results.append(result)
        timings[name] = clock.totals()
    return {"benchmark": "all", "root": str(root), "results": results, "timings_s": timings}


def _finish(result, table, path, clock):
    result["dataset"] = {"name": table.name, "root": str(path), "problems": table.problems.to_dict()}
    if clock is not None:
        result["timings_s"] = {**clock.totals(), **result["timings_s"]}


def _headline(result):
    """(benchmark label, metric label, formatted score) of one result."""
    kind, s = result["benchmark"], result["summary"]
    if kind == "gtzan":
        return "GTZAN", "accuracy (%)", _pm(s["accuracy"], 100)
    if kind == "jamendo":
        category = result["protocol"].get("category") or "all"
        return (f"MTG-Jamendo {category}", "ROC-AUC / PR-AUC",
                f"{_pm(s['roc_auc'], digits=3)} / {_pm(s['pr_auc'], digits=3)}")
    if kind == "melon":
        k, rnd = result["protocol"]["k"], s["random"]
        return ("Melon continuation", f"NDCG@{k} / MAP@{k}",
                f"{s['ndcg']:.4f} / {s['map']:.4f} (random {rnd['ndcg']['mean']:.4f} / "
                f"{rnd['map']['mean']:.4f})")
    k = result["protocol"]["k"]
    return ("Era (MSD)", f"±{k} years / decade (%)",
            f"{_pm(s['within_k'], 100)} / {_pm(s['decade_accuracy'], 100)}")


def suite_table(suite, name=None):
    """One Markdown table of a :func:`run_suite` result: a row per
    benchmark with its headline figures, the embedding level scored (or the
    era model's own predictions), the seconds of each stage and the total;
    a last row sums the stages.

    Args:
        suite: the dict :func:`run_suite` returned.
        name: the model's name in the heading (default: the first result's source).

    Example:
        >>> print(suite_table(run_suite("data", model, runs=1)))  # doctest: +SKIP
    """
    results = suite["results"]
    name = name or (results[0].get("source") if results else None) or "model"
    rows = [f"| Benchmark | Metric | {name} | Level | Stage times (s) | Total (s) |",
            "|---|---|---|---|---|---:|"]
    grand = 0.0
    for result in results:
        bench, metric, score = _headline(result)
        times = result.get("timings_s", {})
        total = sum(times.values())
        grand += total
        stages = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in times.items())
        level = ("own predictions" if result["protocol"].get("predictor") == "model"
                 else result.get("level") or "not recorded")
        rows.append(f"| {bench} | {metric} | {score} | {level} | {stages} | {total:.1f} |")
    rows.append(f"| **all** | | | | | **{grand:.1f}** |")
    return "\n".join(rows) + "\n"
