"""Era classes that can always be scored: "auto" year ranges over the
training years, clipped tracks counted; the scores that fit coarse labels
(+-wide_k years, period) and the expected year beside the headline year;
predict and the era benchmark agree on the headline year."""
import numpy as np
import pytest

from era_zoo.bench.era import run_era
from era_zoo.bench.metrics import era_scores, period_of
from era_zoo.bench.report import markdown_table
from era_zoo.data.table import Track, TrackTable
from era_zoo.errors import ConfigError
from era_zoo.models.year_bins import YearBins

PERIODS = (("early", None, 1700), ("middle", 1700, 1850), ("late", 1850, None))


def test_auto_bins_span_the_training_years():
    bins = YearBins.fit({"start": "auto", "end": "auto", "width": 5}, [1925, 1930, 2011, None])
    assert bins.to_dict() == {"start": 1925, "end": 2011, "width": 5}
    assert bins.n_classes == 18                     # 87 years in 5-year ranges
    assert bins.class_of([1925, 1929, 1930, 2011]).tolist() == [0, 0, 1, 17]
    assert YearBins.fit({"start": 1950, "width": 1}, [1925, 1990]).to_dict() == \
        {"start": 1950, "end": 1990, "width": 1}
    # a 1925 song under one-year classes from 1950: clipped, counted
    assert YearBins(1950, 2011, 1).outside([1925, 1950, 2011, 2012]).tolist() == \
        [True, False, False, True]
    with pytest.raises(ConfigError, match="year_bins.start"):
        YearBins.from_config({"start": "auto", "end": 2000})
    with pytest.raises(ConfigError, match="training years"):
        YearBins.fit({"start": "auto", "end": 2000}, [])


def test_training_data_resolves_auto_bins_and_counts_clipped_tracks(tmp_path):
    from era_zoo.data.fixtures import write_msd_fixture
    from era_zoo.data.msd import read_msd
    from era_zoo.training.data import TrainingData
    from era_zoo.training.recipe import load_recipe

    root = tmp_path / "msd"
    write_msd_fixture(root, n_tracks=24, seconds=1)
    table = read_msd(root)
    train_years = [t.year for t in table if t.split == "train"]
    small = ["training.batch_size=2", "data.frames=32"]
    data = TrainingData(load_recipe("audio_cnn", data_root=root, overrides=small),
                        progress=False)
    assert data.model_config["year_bins"] == {"start": min(train_years),
                                              "end": max(train_years), "width": 5}
    classes = data.splits["train"][1]["year_class"]
    assert classes.min() == 0 and classes.max() == YearBins.fit(
        {"width": 5}, train_years).n_classes - 1
    # A fixed range that leaves tracks out is counted, never silent.
    start = int(np.median(train_years))
    fixed = load_recipe("audio_cnn", data_root=root,
                        overrides=small + [f"model.year_bins.start={start}",
                                           "model.year_bins.end=2011"])
    data = TrainingData(fixed, progress=False)
    used = [t.year for role in ("train", "valid") for t in data.splits[role][0]]
    assert data.problems.counts["year_clipped"] == sum(y < start for y in used) > 0


def test_scores_for_coarse_labels_hand_computed():
    true = [1650, 1720, 1900, 1800]
    top = [1660.0, 1760.0, 1877.0, 1849.6]     # rounds to 1660, 1760, 1877, 1850
    expected = [1651.0, 1700.0, 1950.0, 1800.0]
    s = era_scores(true, top, k=3, wide_k=25, periods=PERIODS, expected_years=expected)
    assert s["within_k"] == 0.0
    assert s["within_wide_k"] == 0.5              # |10| and |23|; |40|, |50| are not
    assert s["period_accuracy"] == 0.75           # 1800 (middle) read as 1850 (late)
    assert s["mae_years"] == pytest.approx((10 + 40 + 23 + 49.6) / 4)
    assert s["within_k_expected"] == 0.5          # 1651 and 1800
    assert s["mae_years_expected"] == pytest.approx((1 + 20 + 50 + 0) / 4)
    assert period_of([1699, 1700, 1849, 1850], PERIODS).tolist() == [0, 1, 1, 2]


class _EraDouble:
    """An era model whose class probabilities are fixed per track (by the
    mel's value), to hand-check the benchmark's years."""

    def __init__(self, probs):
        from era_zoo.audio.presets import get_preset
        self.mel_spec = get_preset("melon48")
        self.year_bins = YearBins(1700, 1899, 50)   # centres 1724.5, 1774.5, 1824.5, 1874.5
        self.name = "double"
        self.probs = np.asarray(probs, np.float64)

        class _Enc:
            n_frames = 16
        self.audio_encoder = _Enc()

    def example_batch(self, n):
        return {"mel": np.zeros((n, 48, 16), np.float32)}

    def predict_year(self, batch):
        index = np.rint(batch["mel"].mean(axis=(1, 2))).astype(int)
        return {"probabilities": self.probs[index]}


def _table(tmp_path, years):
    tracks = []
    for i, year in enumerate(years):
        np.save(tmp_path / f"{i}.npy", np.full((48, 16), float(i), np.float32))
        tracks.append(Track(str(i), split="test", year=year, mel_path=str(tmp_path / f"{i}.npy")))
    return TrackTable("t", tracks, extras={"wide_k": 25, "periods": [list(p) for p in PERIODS]})


def test_era_benchmark_reports_wide_k_period_expected_and_clipped(tmp_path):
    probs = [[0.7, 0.3, 0.0, 0.0],     # top 1724.5, expected 1739.5
             [0.0, 0.0, 0.4, 0.6],     # top 1874.5, expected 1854.5
             [1.0, 0.0, 0.0, 0.0]]     # top 1724.5
    years = [1730, 1860, 1650]         # the last lies before the classes: clipped
    result = run_era(_table(tmp_path, years), _EraDouble(probs), k=3, progress=False)
    s = {key: v["mean"] for key, v in result["summary"].items()}
    assert result["test_tracks_outside_classes"] == 1
    assert result["protocol"]["wide_k"] == 25
    # top years round (half to even) to 1724, 1874, 1724
    assert s["within_k"] == 0.0
    assert s["within_wide_k"] == pytest.approx(2 / 3)     # 6 and 14 years off; 74 is not
    assert s["period_accuracy"] == pytest.approx(2 / 3)   # middle, late right; early wrong
    assert s["mae_years"] == pytest.approx((5.5 + 14.5 + 74.5) / 3)
    assert s["mae_years_expected"] == pytest.approx((9.5 + 5.5 + 74.5) / 3)
    table = markdown_table(result)
    assert "±25 years (%)" in table and "Period (%)" in table
    assert "MAE, expected year" in table and "1 test track(s) lie outside" in table
    assert "the era model's own classifier" in table


def test_predict_and_the_era_benchmark_agree_on_the_headline_year(tmp_path):
    from era_zoo.inference import era_probabilities, era_summary
    from era_zoo.inference.inputs import read_mel
    probs = [[0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.1, 0.3]]
    model = _EraDouble(probs)
    table = _table(tmp_path, [1880, 1720])
    result = run_era(table, model, k=3, progress=False)
    # what era-zoo predict reports of each track (predict_files -> era_summary)
    summaries = [era_summary(model.year_bins,
                             era_probabilities(model, read_mel(t.mel_path)[None]))
                 for t in table]
    assert [s["top_year"] for s in summaries] == [1874.5, 1724.5]
    assert [s["expected_year"] for s in summaries] == pytest.approx([1824.5, 1784.5])
    errors = [abs(s["top_year"] - t.year) for s, t in zip(summaries, table)]
    expected_errors = [abs(s["expected_year"] - t.year) for s, t in zip(summaries, table)]
    assert result["summary"]["mae_years"]["mean"] == pytest.approx(np.mean(errors))
    assert result["summary"]["mae_years_expected"]["mean"] == pytest.approx(
        np.mean(expected_errors))
