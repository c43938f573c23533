"""``era-zoo bench`` on fixture datasets with precomputed embeddings."""
import json

import numpy as np
import pytest

from era_zoo.bench import save_embeddings
from era_zoo.cli import main
from era_zoo.data.fixtures import write_gtzan_fixture, write_melon_fixture, write_msd_fixture
from era_zoo.data.gtzan import read_gtzan
from era_zoo.data.melon import read_melon
from era_zoo.data.msd import read_msd


def test_bench_gtzan_writes_table_json_and_plots(tmp_path, capsys):
    root = write_gtzan_fixture(tmp_path / "g", per_genre=4, seconds=1)
    table = read_gtzan(root)
    rng = np.random.default_rng(0)
    genres = sorted({t.genres[0] for t in table})
    ids = [f"{t.track_id}.au" for t in table for _ in range(2)]
    X = [np.eye(10)[genres.index(t.genres[0])] + 0.01 * rng.normal(size=10) for t in table for _ in range(2)]
    npz = save_embeddings(tmp_path / "emb.npz", np.array(X), ids)
    out = tmp_path / "out"
    code = main(["bench", "gtzan", "--data", str(root), "--embeddings", str(npz), "--runs", "1",
                 "--max-epochs", "2", "--json", str(out / "r.json"), "--plots", str(out),
                 "--markdown", str(out / "r.md"), "--name", "one-hot", "--quiet"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "| Model | Accuracy (%) |" in stdout and "| one-hot |" in stdout
    result = json.loads((out / "r.json").read_text())
    assert result["benchmark"] == "gtzan" and len(result["runs"]) == 1
    assert result["protocol"]["probe"]["max_epochs"] == 2
    assert result["protocol"]["runs_trained"] == "together"
    assert result["coverage"]["test"] == {"tracks": 10, "embedded": 10, "missing_examples": []}
    assert (out / "gtzan_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "r.md").read_text().startswith("| Model |")


def test_bench_melon_prints_random_baseline(tmp_path, capsys):
    root = write_melon_fixture(tmp_path / "m", n_tracks=50, n_playlists=30)
    table = read_melon(root)
    rng = np.random.default_rng(0)
    npz = save_embeddings(tmp_path / "emb.npz", rng.normal(size=(len(table), 4)),
                          [f"arena_mel/{int(t.track_id) // 1000}/{t.track_id}.npy" for t in table])
    code = main(["bench", "melon", "--data", str(root), "--embeddings", str(npz), "--runs", "2",
                 "--k", "5", "--per-query", "5", "--json", str(tmp_path / "r.json"), "--quiet"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "| Model | NDCG@5 | MAP@5 |" in stdout and "| random |" in stdout
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["candidates"] == sum(t.split == "test" for t in table)
    assert result["summary"]["random"]["ndcg"]["n"] == 2
    # the reference's playlists: train.json's holding a test-set track
    split = {t.track_id: t.split for t in table}
    expected = sum(any(split[str(s)] == "test" for s in songs)
                   for pid, songs in table.extras["playlists"].items()
                   if table.extras["playlist_split"][pid] == "train")
    assert result["protocol"]["playlist_files"] == ["train"]
    assert (result["playlists_evaluated"], result["paper_playlists_evaluated"]) == (
        expected, 104_410)
    assert f"Playlists evaluated: {expected} of train.json (paper B: 104,410)." in stdout
    code = main(["bench", "melon", "--data", str(root), "--embeddings", str(npz), "--runs", "1",
                 "--k", "5", "--per-query", "5", "--playlist-files", "all",
                 "--json", str(tmp_path / "all.json"), "--quiet"])
    every = json.loads((tmp_path / "all.json").read_text())
    assert every["protocol"]["playlist_files"] is None
    assert every["playlists_evaluated"] == sum(any(split[str(s)] == "test" for s in songs)
                                               for songs in table.extras["playlists"].values())
    assert "of every playlist file (paper B: 104,410)" in capsys.readouterr().out
    assert main(["bench", "melon", "--data", str(root), "--embeddings", str(npz),
                 "--playlist-files", "train,valid", "--quiet"]) == 2
    assert "playlist_files: unknown playlist file(s) ['valid']" in capsys.readouterr().err


def test_bench_era_on_msd_fixture(tmp_path, capsys):
    root = write_msd_fixture(tmp_path / "msd", n_tracks=40, seconds=1)
    table = read_msd(root)
    decade = {t.track_id: (t.year // 10) % 10 for t in table}
    npz = save_embeddings(tmp_path / "emb.npz", np.array([np.eye(10)[decade[t.track_id]] for t in table]),
                          [t.track_id for t in table])
    code = main(["bench", "era", "--dataset", "msd", "--data", str(root), "--embeddings", str(npz),
                 "--runs", "1", "--max-epochs", "1", "--plots", str(tmp_path / "p"), "--quiet"])
    assert code == 0
    assert "Accuracy ±3 years (%)" in capsys.readouterr().out
    assert (tmp_path / "p" / "era_confusion.png").is_file()


def test_bench_reports_a_bad_embeddings_file(tmp_path, capsys):
    root = write_gtzan_fixture(tmp_path / "g", per_genre=1, seconds=1)
    bad = tmp_path / "bad.npz"
    np.savez(bad, X=np.zeros((2, 3)))
    code = main(["bench", "gtzan", "--data", str(root), "--embeddings", str(bad), "--quiet"])
    assert code == 2
    assert "bad.npz: missing array 'IDS'" in capsys.readouterr().err


def test_bench_needs_a_source(tmp_path):
    with pytest.raises(SystemExit):
        main(["bench", "gtzan", "--data", str(tmp_path)])


def test_bench_melon_with_a_saved_model(tmp_path, capsys):
    from era_zoo.models import BaselineGenre
    root = write_melon_fixture(tmp_path / "m", n_tracks=16, n_playlists=12)
    model = BaselineGenre(n_genres=3, encoder={"n_frames": 64, "channels": [4, 4],
                                              "pools": [[4, 4], [4, 4]], "hidden_dim": 8})
    model.save(tmp_path / "m.keras")
    code = main(["bench", "melon", "--data", str(root), "--model", str(tmp_path / "m.keras"),
                 "--runs", "1", "--k", "5", "--per-query", "5", "--json", str(tmp_path / "r.json"),
                 "--quiet"])
    assert code == 0
    result = json.loads((tmp_path / "r.json").read_text())
    # paper B's model: the 1024-d trunk by default (here the tiny trunk), stated
    assert result["source"].endswith("(trunk)") and result["level"] == "trunk"
    assert "Embedding level: trunk." in capsys.readouterr().out
    assert result["playlists_evaluated"] >= 1


def test_bench_jamendo_prints_auc_table_and_tag_plot(tmp_path, capsys):
    from era_zoo.data.fixtures import write_jamendo_fixture
    from era_zoo.data.jamendo import read_jamendo
    root = write_jamendo_fixture(tmp_path / "j", n_tracks=30, audio="npy")
    table = read_jamendo(root, category="instrument", audio="npy")
    tags = sorted({t for tr in table for t in tr.tags})
    X = np.array([np.isin(tags, tr.tags).astype(float) for tr in table])
    npz = save_embeddings(tmp_path / "emb.npz", X, [f"{tr.track_id}.mp3" for tr in table])
    code = main(["bench", "jamendo", "--category", "instrument", "--data", str(root), "--audio", "npy",
                 "--embeddings", str(npz), "--runs", "1", "--max-epochs", "1", "--separate-runs",
                 "--plots", str(tmp_path / "p"), "--json", str(tmp_path / "r.json"), "--quiet"])
    assert code == 0
    assert "| Model | instrument ROC-AUC | instrument PR-AUC |" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["protocol"]["runs_trained"] == "separately"
    assert (tmp_path / "p" / "jamendo_tag_auc.png").is_file()


def _tiny_model(path):
    from era_zoo.models import BaselineGenre
    model = BaselineGenre(n_genres=3, encoder={"n_frames": 64, "channels": [4, 4],
                                              "pools": [[4, 4], [4, 4]], "hidden_dim": 8})
    model.save(path)
    return path


def test_bench_all_runs_every_dataset_under_the_root(tmp_path, capsys):
    from era_zoo.data.fixtures import write_jamendo_fixture
    root = tmp_path / "data"
    write_gtzan_fixture(root / "gtzan", per_genre=4, seconds=1)
    write_jamendo_fixture(root / "mtg-jamendo", n_tracks=30, audio="npy")
    write_melon_fixture(root / "melon", n_tracks=16, n_playlists=12)
    write_msd_fixture(root / "msd", n_tracks=20, seconds=1)
    out = tmp_path / "out"
    code = main(["bench", "all", "--model", str(_tiny_model(tmp_path / "m.keras")),
                 "--data-root", str(root), "--runs", "1", "--max-epochs", "2",
                 "--jamendo-audio", "npy", "--name", "tiny", "--json", str(out / "all.json"),
                 "--markdown", str(out / "all.md"), "--quiet"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "| Benchmark | Metric | tiny | Level | Stage times (s) | Total (s) |" in stdout
    rows = [line for line in stdout.splitlines() if line.startswith("| ") and "---" not in line]
    labels = [row.split("|")[1].strip() for row in rows[1:]]
    assert labels == ["GTZAN", "MTG-Jamendo genre", "MTG-Jamendo moodtheme",
                      "MTG-Jamendo instrument", "Melon continuation", "Era (MSD)", "**all**"]
    # paper B's model: every protocol scored its 1024-d-trunk level (here the tiny trunk)
    assert [row.split("|")[4].strip() for row in rows[1:-1]] == ["trunk"] * 6
    suite = json.loads((out / "all.json").read_text())
    results = suite["results"]
    assert [r["level"] for r in results] == ["trunk"] * 6
    assert [r["benchmark"] for r in results] == ["gtzan", "jamendo", "jamendo", "jamendo",
                                                 "melon", "era"]
    # each dataset read and embedded once, before its protocol's own stages
    assert list(results[0]["timings_s"])[:5] == ["read", "embed", "prepare", "train", "evaluate"]
    assert list(results[1]["timings_s"])[:2] == ["read", "embed"]
    assert "read" not in results[2]["timings_s"] and "embed" not in results[3]["timings_s"]
    assert set(suite["timings_s"]) == {"gtzan", "jamendo", "melon", "era"}
    # a row's total is the sum of its stages; the last row sums all rows
    totals = [float(row.split("|")[-2].strip(" *")) for row in rows[1:]]
    stage_sums = [sum(r["timings_s"].values()) for r in results]
    assert totals[:-1] == pytest.approx(stage_sums, abs=0.06)
    assert totals[-1] == pytest.approx(sum(stage_sums), abs=0.06)
    assert (out / "all.md").read_text() == stdout[stdout.index("| Benchmark"):].rstrip("\n") + "\n"


def test_bench_all_skips_missing_datasets_and_needs_one(tmp_path, capsys):
    root = tmp_path / "data"
    write_gtzan_fixture(root / "gtzan", per_genre=4, seconds=1)
    model = str(_tiny_model(tmp_path / "m.keras"))
    code = main(["bench", "all", "--model", model, "--data-root", str(root), "--runs", "1",
                 "--max-epochs", "1", "--quiet"])
    assert code == 0
    labels = [line.split("|")[1].strip() for line in capsys.readouterr().out.splitlines()
              if line.startswith("| ") and "---" not in line]
    assert labels == ["Benchmark", "GTZAN", "**all**"]
    code = main(["bench", "all", "--model", model, "--data-root", str(tmp_path / "empty"),
                 "--quiet"])
    assert code == 2
    assert "holds no benchmark dataset" in capsys.readouterr().err
