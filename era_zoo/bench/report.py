"""Benchmark results out: JSON, Markdown tables laid out like the papers',
plots (matplotlib, Agg backend, PNG), and the small helpers every protocol
uses to time its stages and summarise its runs."""
import math
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import ConfigError


class Stopwatch:
    """Seconds per named stage, summed over repeated entries: wall clock and
    the process's CPU time (all threads), which stays meaningful when other
    work shares the cores."""

    def __init__(self):
        self._wall = defaultdict(float)
        self._cpu = defaultdict(float)

    @contextmanager
    def __call__(self, stage):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self._wall[stage] += time.perf_counter() - wall
            self._cpu[stage] += time.process_time() - cpu

    def totals(self):
        return {k: round(v, 3) for k, v in self._wall.items()}

    def cpu_totals(self):
        return {k: round(v, 3) for k, v in self._cpu.items()}


def summarize(values):
    """Mean and population standard deviation (ddof = 0) of per-run values."""
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "n": int(len(values))}


def _pm(summary, scale=1.0, digits=2):
    return f"{summary['mean'] * scale:.{digits}f} ± {summary['std'] * scale:.{digits}f}"


def markdown_table(result, name=None):
    """A Markdown table in the layout of paper B's tables (or paper A's for era)."""
    name = name or result.get("source") or "model"
    kind = result["benchmark"]
    s = result["summary"]
    if kind == "gtzan":
        rows = ["| Model | Accuracy (%) |", "|---|---|", f"| {name} | {_pm(s['accuracy'], 100)} |"]
    elif kind == "jamendo":
        cat = result["protocol"].get("category") or "all"
        rows = [f"| Model | {cat} ROC-AUC | {cat} PR-AUC |", "|---|---|---|",
                f"| {name} | {_pm(s['roc_auc'], digits=3)} | {_pm(s['pr_auc'], digits=3)} |"]
    elif kind == "melon":
        k = result["protocol"]["k"]
        rnd = s["random"]
        from ..data.melon import playlist_files_text
        where = playlist_files_text(result["protocol"].get("playlist_files"))
        rows = [f"| Model | NDCG@{k} | MAP@{k} |", "|---|---|---|",
                f"| random | {rnd['ndcg']['mean']:.4f} | {rnd['map']['mean']:.4f} |",
                f"| {name} | {s['ndcg']:.4f} | {s['map']:.4f} |", "",
                f"Playlists evaluated: {result['playlists_evaluated']:,} of {where} "
                f"(paper B: {result['paper_playlists_evaluated']:,})."]
    elif kind == "era":
        rows = _era_rows(result, name)
    else:
        raise ConfigError("benchmark", f"unknown benchmark {kind!r}",
                          "one of gtzan, jamendo, melon, era")
    rows += ["", level_line(result)]
    times = ", ".join(f"{k} {v:.1f} s" for k, v in result.get("timings_s", {}).items())
    return "\n".join(rows) + (f"\n\nStage times: {times}." if times else "") + "\n"


def _era_rows(result, name):
    """Paper A's columns (+-k years, exact bin, decade, MAE), the columns
    that fit coarser labels where the result has them (+-wide_k years,
    period), and the expected year's MAE beside the headline's."""
    k = result["protocol"]["k"]
    s = result["summary"]
    columns = [(f"Accuracy ±{k} years (%)", "within_k", 100)]
    if "within_wide_k" in s:
        columns.append((f"±{result['runs'][0]['wide_k']} years (%)", "within_wide_k", 100))
    if "period_accuracy" in s:
        columns.append(("Period (%)", "period_accuracy", 100))
    columns += [("Exact bin (%)", "exact_bin_accuracy", 100), ("Decade (%)", "decade_accuracy", 100),
                ("MAE (years)", "mae_years", 1), ("MAE, expected year", "mae_years_expected", 1)]
    cells = [_pm(s[key], scale) if key in s else "–" for _, key, scale in columns]
    rows = ["| Model | " + " | ".join(title for title, _, _ in columns) + " |",
            "|---|" + "---|" * len(columns), f"| {name} | " + " | ".join(cells) + " |", "",
            "Year: the most probable class's (as `era-zoo predict` prints first); MAE, "
            "expected year: the probability-weighted year (printed beside it)."]
    outside = result.get("test_tracks_outside_classes")
    if outside:
        rows.append(f"{outside} test track(s) lie outside the classes "
                    f"({result['protocol']['year_bins']['start']}-"
                    f"{result['protocol']['year_bins']['end']}) and are clipped into an end class.")
    return rows


def level_line(result):
    """The line of a benchmark table that says which embeddings were scored:
    the model output (``result["level"]``), or that an era model's own
    predictions were.

    Args:
        result: a protocol's result dict.

    Example:
        >>> level_line({"level": "trunk", "protocol": {}})
        'Embedding level: trunk.'
    """
    if result.get("protocol", {}).get("predictor") == "model":
        return "Predictions: the era model's own classifier (no embedding level)."
    level = result.get("level")
    if level is None:
        return "Embedding level: not recorded (precomputed embeddings without LEVEL)."
    return f"Embedding level: {level}."


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_confusion(counts, labels, path, title="Confusion matrix"):
    """Row-normalised confusion matrix PNG (rows: true, columns: predicted)."""
    plt = _pyplot()
    counts = np.asarray(counts, dtype=np.float64)
    rows = counts.sum(1, keepdims=True)
    norm = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    size = max(4.0, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), [str(x) for x in labels], rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), [str(x) for x in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if len(labels) <= 20:
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_tag_auc(tags, aucs, path, title="Per-tag ROC-AUC"):
    """Horizontal bar chart of per-tag AUC, best first (undefined tags left out)."""
    plt = _pyplot()
    pairs = sorted(((a, t) for t, a in zip(tags, aucs) if a is not None and math.isfinite(a)),
                   reverse=True)
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.22 * len(pairs) + 1)))
    ax.barh(range(len(pairs)), [a for a, _ in pairs], color="tab:blue")
    ax.set_yticks(range(len(pairs)), [t for _, t in pairs], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlim(0, 1)
    ax.set_xlabel("ROC-AUC")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path, plt)


def _save(fig, path, plt):
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        plt.close(fig)
    return Path(path)


def write_plots(result, directory):
    """The plots a result has: confusion matrix (gtzan, era) and per-tag AUC
    (jamendo). Returns the paths written."""
    directory = Path(directory)
    kind = result["benchmark"]
    written = []
    cm = result.get("confusion_matrix")
    if cm is not None:
        written.append(plot_confusion(cm["counts"], cm["labels"], directory / f"{kind}_confusion.png",
                                      title=f"{kind}: confusion ({cm.get('note', '')})"))
    if kind == "jamendo":
        written.append(plot_tag_auc(result["tags"], result["per_tag"]["roc_auc_mean"],
                                    directory / "jamendo_tag_auc.png",
                                    title=f"MTG-Jamendo {result['protocol'].get('category') or ''}: per-tag ROC-AUC"))
    return written
