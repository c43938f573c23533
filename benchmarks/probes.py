"""Speed of the downstream probes: paper B's GTZAN protocol against a
scikit-learn statement of it, and ``era-zoo bench jamendo`` at the real
split sizes, on fixed synthetic features.

    .venv/bin/python benchmarks/probes.py [--dims 50,1024] [--runs 10]
        [--sklearn-runs 10,3] [--reference-runs N] [--no-jamendo] [--write]

1. GTZAN (fault-filtered shape: 443 / 197 / 290 tracks of 10 genres, 28
   chunks each) at each ``--dims`` size: era_zoo's ``run_gtzan`` (the runs
   trained together; early stopping on the validation tracks) against
   scikit-learn's ``MLPClassifier(hidden_layer_sizes=(256,))`` with its
   defaults (Adam, batch 200, at most 200 epochs, stopping when the training
   loss stalls), inputs standardised, every training chunk an instance,
   majority vote over a test track's chunks: the statement an independent
   user would write. Both see the same features in the same process; times
   are wall clock of the whole protocol (era_zoo's CPU time beside),
   accuracies are track accuracy mean +- std over the runs. scikit-learn's
   runs alternate between BLAS on its default threads and on one thread
   (on shared cores the waiting threads can halve its speed); its time is
   the faster setting's mean run times ``--runs``, so ``--sklearn-runs``
   (one count per ``--dims`` entry) may time fewer runs than ``--runs``.
   ``--reference-runs N`` also runs era_zoo's separate-run path (one Keras
   fit per run, what ``bench gtzan`` did before runs were trained together)
   for N runs on the 50-d features, to show the accuracy is unchanged.
2. MTG-Jamendo: ``python -m era_zoo bench jamendo --runs 10`` for genre,
   instrument and moodtheme in a fresh process each, on the real split-0
   files (``--jamendo-splits``; by default the reference copy in
   ../shared/real when there is one, else synthetic files of the same sizes
   and tag counts) and a synthetic 1024-d ``.npz`` (one row per track),
   timed end to end (imports, reading, probe runs, scoring).

The features: tracks drawn around genre styles (or from their tags) in a
24-d latent space, chunks around their track, mapped through a fixed random
matrix and tanh into ``dim`` dimensions plus noise; tuned so that a probe
reaches GTZAN-like accuracy (about 80 % of tracks, 48 % of chunks). How many
epochs a probe trains depends on the data (early stopping on era_zoo's
side, scikit-learn's own stopping rule on the other), so the tables also
give the cost per run and epoch, which does not. ``--write`` replaces the "## probes" section
of benchmarks/RESULTS.md.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

from results import RESULTS, write_section

GTZAN_SIZES = {"train": 443, "valid": 197, "test": 290}
GTZAN_CHUNKS = 28
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
          "reggae", "rock")
# MTG-Jamendo split-0: (train, validation, test) tracks and tags per category
JAMENDO_SIZES = {"genre": ((32572, 11043, 11479), 87),
                 "instrument": ((14395, 5466, 5115), 40),
                 "moodtheme": ((9949, 3802, 4231), 56)}
LATENT = 24
REAL_SPLITS = Path(__file__).resolve().parents[2] / "shared" / "real" / "mtg-jamendo"


def _features(rng, latent, mix, noise):
    return (np.tanh(latent @ mix) + noise * rng.standard_normal((len(latent), mix.shape[1]))
            ).astype(np.float32)


def gtzan_problem(dim, seed=0):
    """(TrackTable, Embeddings) of the GTZAN shape with ``dim``-d chunk rows.
    Each genre is a mixture of 8 styles (so the probe needs some epochs to
    carve the classes out); a track sits near one style, its chunks near the
    track."""
    from era_zoo.bench import Embeddings
    from era_zoo.data.table import Track, TrackTable
    rng = np.random.default_rng(seed)
    styles = rng.standard_normal((len(GENRES), 8, LATENT))
    mix = rng.standard_normal((LATENT, dim)) / np.sqrt(LATENT)
    tracks, rows, ids = [], [], []
    for split, n in GTZAN_SIZES.items():
        genre = np.arange(n) % len(GENRES)
        z_track = (0.8 * styles[genre, rng.integers(0, 8, n)]
                   + 0.5 * rng.standard_normal((n, LATENT)))
        for i in range(n):
            track_id = f"{GENRES[genre[i]]}.{split}{i:05d}"
            tracks.append(Track(track_id, split=split, genres=(GENRES[genre[i]],)))
            z = z_track[i] + 0.8 * rng.standard_normal((GTZAN_CHUNKS, LATENT))
            rows.append(_features(rng, z, mix, 0.5))
            ids += [track_id] * GTZAN_CHUNKS
    return (TrackTable("gtzan-synthetic", tracks),
            Embeddings(np.concatenate(rows), np.array(ids), description=f"synthetic {dim}-d"))


def sklearn_gtzan(table, embeddings, runs, seed=0):
    """The protocol as a scikit-learn user states it: per run a standardised
    MLPClassifier(256) on every training chunk, majority vote per test track.
    Runs alternate between BLAS on its default threads and on one thread (on
    shared cores the waiting threads can cost more than they give); returns
    (accuracies, epochs, {threads: [seconds per run]})."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits
    from era_zoo.bench import metrics
    classes = sorted({t.genres[0] for t in table.tracks})
    parts = {}
    for split in ("train", "test"):
        part = table.split(split)
        X, owner, _ = embeddings.chunk_rows(part)
        labels = np.array([classes.index(t.genres[0]) for t in part.tracks])
        parts[split] = (X, owner, labels)
    X_train, own_train, lab_train = parts["train"]
    X_test, own_test, lab_test = parts["test"]
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    accuracies, epochs, seconds = [], [], {"default": [], "1": []}
    for run in range(runs):
        threads = "default" if run % 2 == 0 else "1"
        start = time.perf_counter()
        with threadpool_limits(None if threads == "default" else 1):
            clf = MLPClassifier(hidden_layer_sizes=(256,), random_state=seed + run)
            clf.fit(X_train, lab_train[own_train])
            probs = clf.predict_proba(X_test)
        positions, voted = metrics.majority_vote(probs, own_test, len(classes))
        seconds[threads].append(time.perf_counter() - start)
        accuracies.append(metrics.accuracy(lab_test[positions], voted))
        epochs.append(clf.n_iter_)
    return np.array(accuracies), epochs, seconds


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def write_jamendo_splits(split_dir, seed=0):
    """Split-0 files of the three categories at the real sizes and tag
    counts, tags drawn from long-tailed frequencies (1-3 per track); a
    track keeps its split across categories, as in the real files."""
    from era_zoo.data.jamendo import HEADER
    rng = np.random.default_rng(seed)
    split_dir.mkdir(parents=True)
    genre_sizes = JAMENDO_SIZES["genre"][0]
    split_of = np.repeat([0, 1, 2], genre_sizes)
    for category, (sizes, n_tags) in JAMENDO_SIZES.items():
        prefix = "mood/theme" if category == "moodtheme" else category
        freq = np.geomspace(1.0, 0.01, n_tags)
        freq /= freq.sum()
        for k, (file_split, size) in enumerate(zip(("train", "validation", "test"), sizes)):
            members = np.sort(rng.choice(np.flatnonzero(split_of == k), size, replace=False))
            lines = ["\t".join(HEADER)]
            for track in members:
                picked = rng.choice(n_tags, 1 + min(2, rng.poisson(0.6)), replace=False, p=freq)
                lines.append("\t".join([f"track_{track:07d}", f"artist_{track % 3000:06d}",
                                        "album_0", f"{track % 100:02d}/{track}.mp3", "30.0"]
                                       + [f"{prefix}---tag{t:02d}" for t in sorted(picked)]))
            (split_dir / f"autotagging_{category}-{file_split}.tsv").write_text(
                "\r\n".join(lines) + "\r\n")


def write_jamendo_embeddings(split_dir, path, dim, seed=0):
    """One ``dim``-d row per track of the split files: the track's latent
    point is the sum of its tags' (all categories) random latent vectors plus
    noise, mapped to ``dim`` dimensions like the GTZAN features."""
    from era_zoo.bench import save_embeddings
    rng = np.random.default_rng(seed)
    tags_of = {}
    for tsv in sorted(split_dir.glob("autotagging_*-*.tsv")):
        for line in tsv.read_text().splitlines()[1:]:
            fields = line.rstrip("\r").split("\t")
            tags_of.setdefault(fields[0], set()).update(t for t in fields[5:] if t)
    ids = sorted(tags_of)
    vocab = {t: i for i, t in enumerate(sorted(set().union(*tags_of.values())))}
    vectors = rng.standard_normal((len(vocab), LATENT))
    z = 1.5 * rng.standard_normal((len(ids), LATENT))
    for row, track in enumerate(ids):
        z[row] += vectors[[vocab[t] for t in tags_of[track]]].sum(0)
    mix = rng.standard_normal((LATENT, dim)) / np.sqrt(LATENT)
    X = np.concatenate([_features(rng, z[i:i + 8192], mix, 0.5) for i in range(0, len(ids), 8192)])
    return save_embeddings(path, X, np.array(ids))


def run_jamendo_cli(folder, splits, npz, category, runs):
    out = folder / f"{category}.json"
    cmd = [sys.executable, "-m", "era_zoo", "bench", "jamendo", "--category", category,
           "--data", str(folder), "--splits", str(splits), "--embeddings", str(npz),
           "--runs", str(runs), "--json", str(out), "--quiet"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text()), wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", default="50,1024", help="feature sizes (default 50,1024)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sklearn-runs", help="scikit-learn runs timed per --dims entry, comma "
                                               "separated (default --runs each)")
    parser.add_argument("--reference-runs", type=int, default=0,
                        help="also run era_zoo's separate-run path this many times (50-d)")
    parser.add_argument("--jamendo-runs", type=int, default=10)
    parser.add_argument("--no-jamendo", action="store_true")
    parser.add_argument("--jamendo-splits", type=Path, default=REAL_SPLITS if REAL_SPLITS.is_dir() else None,
                        help="folder holding the real split-0/ (default: the shared reference "
                             "copy when present, else synthetic files of the same sizes)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    dims = [int(d) for d in args.dims.split(",") if d]
    sk_runs = [int(r) for r in args.sklearn_runs.split(",")] if args.sklearn_runs else [args.runs] * len(dims)
    if len(sk_runs) != len(dims):
        parser.error("--sklearn-runs needs one count per --dims entry")

    import sklearn
    import tensorflow as tf
    from era_zoo.bench import run_gtzan
    from era_zoo.bench.probes import GTZAN_PROBE

    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    load_start = os.getloadavg()[0]
    cpu = platform.processor() or platform.machine()
    say(f"- machine: {cpu}, {os.cpu_count()} CPU core(s) visible, {platform.system()}; "
        f"TensorFlow {tf.__version__}, scikit-learn {sklearn.__version__}; "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"load average {load_start:.1f} at the start")
    say(f"- GTZAN: {GTZAN_SIZES['train']} / {GTZAN_SIZES['valid']} / {GTZAN_SIZES['test']} "
        f"tracks x {GTZAN_CHUNKS} chunks, {args.runs} runs; era_zoo = `run_gtzan` (runs trained "
        f"together, early stopping on valid), scikit-learn = standardised "
        f"`MLPClassifier((256,))` with its defaults, majority vote")
    say()
    say("| features | era_zoo s (CPU s) | accuracy % | epochs | ms / run-epoch "
        "| scikit-learn s | accuracy % | epochs | ms / run-epoch | speed-up "
        "| per run-epoch |")
    say("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    reference = []
    for dim, sk_n in zip(dims, sk_runs):
        sk_n = min(sk_n, args.runs)
        table, emb = gtzan_problem(dim)
        ours, wall, cpu_s = timed(lambda: run_gtzan(table, emb, runs=args.runs, progress=False))
        acc = np.array([r["accuracy"] for r in ours["runs"]])
        ep = [r["epochs"] for r in ours["runs"]]
        sk_acc, sk_ep, sk_times = sklearn_gtzan(table, emb, sk_n)
        # the faster BLAS setting's mean run, times the protocol's runs
        per_run = min(np.mean(v) for v in sk_times.values() if v)
        sk_total = per_run * args.runs
        faster = min((k for k in sk_times if sk_times[k]), key=lambda k: np.mean(sk_times[k]))
        note = (f" ({sk_n} runs, {'default' if faster == 'default' else 'one'} BLAS "
                f"thread{'s' if faster == 'default' else ''} faster, x{args.runs})")
        per_epoch = 1000 * wall / sum(ep)
        sk_per_epoch = 1000 * per_run / np.mean(sk_ep)
        say(f"| {dim}-d | {wall:.1f} ({cpu_s:.1f}) | {100 * acc.mean():.2f} ± {100 * acc.std():.2f} "
            f"| {min(ep)}-{max(ep)} | {per_epoch:.0f} | {sk_total:.1f}{note} "
            f"| {100 * sk_acc.mean():.2f} ± {100 * sk_acc.std():.2f} | {min(sk_ep)}-{max(sk_ep)} "
            f"| {sk_per_epoch:.0f} | **{sk_total / wall:.1f}x** | {sk_per_epoch / per_epoch:.1f}x |")
        if args.reference_runs and dim == 50:
            ref, ref_wall, ref_cpu = timed(lambda: run_gtzan(
                table, emb, runs=args.reference_runs, probe=GTZAN_PROBE.with_(grouped=False),
                progress=False))
            ref_acc = np.array([r["accuracy"] for r in ref["runs"]])
            ref_ep = [r["epochs"] for r in ref["runs"]]
            reference.append(
                f"| {dim}-d | {args.reference_runs} | {ref_wall:.1f} ({ref_cpu:.1f}) | "
                f"{100 * ref_acc.mean():.2f} ± {100 * ref_acc.std():.2f} | "
                f"{min(ref_ep)}-{max(ref_ep)} | {1000 * ref_wall / sum(ref_ep):.0f} | "
                f"{ref_wall / args.reference_runs * args.runs / wall:.1f}x |")
    if reference:
        say()
        say("The same problem with era_zoo's separate-run path (`ProbeConfig(grouped=False)`: one "
            "Keras fit per run, what `bench gtzan` did before):")
        say()
        say("| features | runs | s (CPU s) | accuracy % | epochs | ms / run-epoch "
            "| together is faster by (per run) |")
        say("|---|---:|---:|---:|---:|---:|---:|")
        for line in reference:
            say(line)
    say()

    if not args.no_jamendo:
        which = (f"the real split-0 files ({args.jamendo_splits})" if args.jamendo_splits
                 else "synthetic split-0 files of the real sizes and tag counts")
        say(f"- MTG-Jamendo: `python -m era_zoo bench jamendo --runs {args.jamendo_runs}` per "
            f"category in a fresh process, on {which}, synthetic 1024-d features from the "
            f"tracks' tags (one row per track); wall time end to end")
        say()
        say("| category | train / valid / test tracks | tags | wall s | probe training s "
            "| ROC-AUC | epochs |")
        say("|---|---|---:|---:|---:|---:|---:|")
        total = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            splits = args.jamendo_splits
            if splits is None:
                splits = folder / "splits"
                write_jamendo_splits(splits / "split-0")
            npz = write_jamendo_embeddings(Path(splits) / "split-0", folder / "embeddings.npz", 1024)
            for category, (sizes, n_tags) in JAMENDO_SIZES.items():
                result, wall = run_jamendo_cli(folder, splits, npz, category, args.jamendo_runs)
                total += wall
                roc = result["summary"]["roc_auc"]
                ep = [r["epochs"] for r in result["runs"]]
                used = result["tracks_used"]
                say(f"| {category} | {used['train']:,} / {used['valid']:,} / {used['test']:,} "
                    f"| {len(result['tags'])} | {wall:.1f} | {result['timings_s']['train']:.1f} | "
                    f"{roc['mean']:.3f} ± {roc['std']:.3f} | {min(ep)}-{max(ep)} |")
        say(f"| **all three** | | | **{total:.1f}** | | | |")
        say()
    say(f"- load average at the end: {os.getloadavg()[0]:.1f}")
    if args.write:
        write_section("probes", "\n".join(lines))
        print(f"wrote the probes section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
