"""ts-ad: NAB's probation protocol, window scores, calibrated threshold and event metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from zoo import plugins
from zoo.data.loaders import nab
from zoo.data.loading import load_dataset
from zoo.errors import ZooError
from zoo.reporting.leaderboard import build_leaderboard
from zoo.runs.results import RunResult
from zoo.runs.store import Store
from zoo.suites import run_suite
from zoo.suites.ts_ad import (
    WINDOW,
    EventCounts,
    Layout,
    ScoreScale,
    SeriesResult,
    TimeSeriesAnomalySuite,
    minimum_length,
    normalise,
    pooled_metrics,
    pooled_shape,
    runs,
    sliding_windows,
    step_scores,
)

DATA_DIR = Path(os.environ.get("ZOO_DATA_DIR", "/nonexistent"))
needs_nab = pytest.mark.skipif(not (DATA_DIR / "nab").is_dir(),
                               reason="ZOO_DATA_DIR does not hold NAB")


@pytest.fixture
def recorder(recorder: ModuleType) -> ModuleType:
    """The shared recorder (conftest), scoring a window by its largest absolute value."""
    recorder.Recorder.score_rule = "peak"
    return recorder


def write_series(path: Path, values: np.ndarray, labels: np.ndarray | None = None,
                 start: str = "2014-04-01T00:00", minutes: int = 5) -> Path:
    """A ``timestamp,value[,label]`` file, one step every ``minutes``."""
    times = np.datetime64(start) + np.arange(len(values)) * np.timedelta64(minutes, "m")
    lines = ["timestamp,value" + (",label" if labels is not None else "")]
    for i, (time, value) in enumerate(zip(times, values, strict=True)):
        label = f",{int(labels[i])}" if labels is not None else ""
        lines.append(f"{str(time).replace('T', ' ')}:00,{value}{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def wave_with_spike(n: int = 2000, spike: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """A sine wave with one spike after the probation; the 20 steps from it are labelled."""
    values = np.sin(np.arange(n) * 2 * np.pi / 100)
    values[spike] += 6.0
    labels = np.zeros(n, dtype=np.int64)
    labels[spike:spike + 20] = 1
    return values, labels


# -- the protocol on hand-made arrays ---------------------------------------------------------

def test_probation_is_nabs_and_its_last_part_calibrates() -> None:
    layout = Layout.of(4032)
    assert (layout.probation, layout.cut) == (604, 604 - 181)  # floor(0.15 n); 30% of it
    assert layout.train_windows == slice(0, 423 - WINDOW + 1)  # windows ending before the cut
    assert layout.calibration_windows == slice(423, 604 - WINDOW + 1)  # wholly after it
    assert Layout.of(22_695).probation == 750  # NAB caps the probation at 15% of 5,000 steps


def test_minimum_length_is_the_first_usable_one() -> None:
    shortest = minimum_length()
    assert shortest == 860  # probation 129: 59 training and 8 calibration windows
    assert Layout.of(shortest).usable and not Layout.of(shortest - 1).usable


def test_normalisation_uses_the_probation_only() -> None:
    values = np.concatenate([np.tile([1.0, 3.0], 50), [100.0]])
    scaled, constant = normalise(values, probation=100)
    assert not constant
    assert scaled[:100].mean() == pytest.approx(0) and scaled[:100].std() == pytest.approx(1)
    assert scaled[-1] == pytest.approx((100 - 2) / 1)


def test_a_constant_probation_is_floored_and_flagged() -> None:
    scaled, constant = normalise(np.array([5.0] * 100 + [6.0]), probation=100)
    assert constant and np.all(scaled[:100] == 0)
    assert scaled[-1] == pytest.approx(1 / (5 * 1e-6), rel=1e-4)  # a change is a big deviation


def test_windows_end_at_every_step_and_early_steps_take_the_first_score() -> None:
    windows = sliding_windows(np.arange(WINDOW + 2, dtype=np.float32))
    assert windows.shape == (3, WINDOW, 1)
    assert np.array_equal(windows[2, :, 0], np.arange(2, WINDOW + 2))
    scores = step_scores(np.array([3.0, 4.0, 5.0]))
    assert len(scores) == WINDOW + 2
    assert np.array_equal(scores, [3.0] * WINDOW + [4.0, 5.0])


def test_scores_are_scaled_so_the_largest_calibration_score_is_one() -> None:
    scale = ScoreScale.fit(np.array([0.0, 1.0, 2.0, 3.0, 10.0]))
    assert (scale.median, scale.spread) == (2.0, 8.0)
    assert np.array_equal(scale(np.array([2.0, 10.0, 18.0])), [0.0, 1.0, 2.0])


def test_constant_calibration_scores_alarm_only_above_them() -> None:
    scale = ScoreScale.fit(np.array([4.0, 4.0, 4.0]))
    assert scale(np.array([4.0]))[0] == 0.0
    assert scale(np.array([4.001]))[0] > 1.0


def test_runs_are_maximal_and_stop_exclusive() -> None:
    assert runs(np.array([0, 1, 1, 0, 1], dtype=bool)).tolist() == [[1, 3], [4, 5]]
    assert runs(np.zeros(4, dtype=bool)).shape == (0, 2)


def test_event_counts_and_metrics() -> None:
    labels = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0])
    alarms = np.zeros(11, dtype=bool)
    alarms[[3, 6, 7]] = True  # inside the first window; a false event of two steps
    counts = EventCounts.of(labels, alarms)
    assert counts == EventCounts(windows=2, found=1, alarms=2, true_alarms=1)
    assert counts.metrics() == {"event_precision": 0.5, "event_recall": 0.5, "event_f1": 0.5}
    straddling = np.zeros(11, dtype=bool)
    straddling[4:9] = True  # one event overlapping both windows: both found, one true event
    assert EventCounts.of(labels, straddling) == EventCounts(2, 2, 1, 1)


def test_undefined_event_metrics_are_zero() -> None:
    silent = EventCounts.of(np.array([0, 1, 0]), np.zeros(3, dtype=bool))
    assert silent.metrics() == {"event_precision": 0.0, "event_recall": 0.0, "event_f1": 0.0}
    assert (silent + EventCounts(windows=0, found=0, alarms=2, true_alarms=0)).alarms == 2


def test_metrics_pool_every_step_of_every_series(tmp_path: Path) -> None:
    first = SeriesResult(np.array([0.1, 0.2, 3.0]), np.array([0, 0, 1]),
                         EventCounts(1, 1, 1, 1), False,
                         {"train": 5, "val": 2, "test": 3, "sample": [WINDOW, 1]})
    second = SeriesResult(np.array([0.3, 0.0]), np.array([0, 0]), EventCounts(0, 0, 2, 0), False,
                          {"train": 4, "val": 1, "test": 2, "sample": [WINDOW, 1]})
    metrics = pooled_metrics([first, second], tmp_path / "scores.npz")
    assert metrics["auroc"] == 1.0 and metrics["auprc"] == 1.0
    assert metrics["event_precision"] == pytest.approx(1 / 3) and metrics["event_recall"] == 1
    with np.load(tmp_path / "scores.npz") as kept:  # for ROC curves in trackers and reports
        assert kept["labels"].tolist() == [0, 0, 1, 0, 0]
        assert kept["scores"].tolist() == [0.1, 0.2, 3.0, 0.3, 0.0]
    assert pooled_shape([first, second]) == {"train": 9, "val": 3, "test": 5,
                                             "sample": [WINDOW, 1], "series": 2}


def test_pooled_scores_are_ranked_in_double_precision() -> None:
    # Float32 would tie the first two scores and overflow the third.
    result = SeriesResult(np.array([1.0, 1.0 + 1e-9, 1e39]), np.array([0, 1, 1]),
                          EventCounts(), False, {})
    assert pooled_metrics([result])["auroc"] == 1.0


# -- the suite on a user's series --------------------------------------------------------------

def bench(tmp_path: Path, dataset: Path, **options: object) -> list[RunResult]:
    with Store(tmp_path / "runs.db") as store:
        return run_suite(TimeSeriesAnomalySuite(), store,
                         datasets=[str(dataset)], seeds=1, budget="quick", **options)


@pytest.mark.parametrize("uses_validation", [True, False])
def test_models_train_on_the_probation_only_split_by_time(
        recorder: ModuleType, tmp_path: Path, uses_validation: bool) -> None:
    recorder.Recorder.uses_validation = uses_validation
    n = 2000
    labels = wave_with_spike(n)[1]
    path = write_series(tmp_path / "ramp.csv", np.arange(n, dtype=float), labels)
    (row,) = bench(tmp_path, path)
    assert (row.setting, row.status) == ("all", "ok"), row.error
    (splits,) = recorder.SEEN
    layout = Layout.of(n)
    assert splits.train.y is None and splits.test.y is None  # labels never reach the model
    assert splits.info.shape == (WINDOW, 1) and splits.info.modality == "timeseries"
    # The series is a ramp, so a normalised value says which step it came from.
    step = (np.arange(n) - (layout.probation - 1) / 2) / np.arange(layout.probation).std()
    last_trained = splits.train.x.max()
    if uses_validation:
        assert len(splits.train) == layout.cut - WINDOW + 1
        assert last_trained == pytest.approx(step[layout.cut - 1], rel=1e-5)
        assert splits.val.x.min() == pytest.approx(step[layout.cut], rel=1e-5)
        assert splits.val.x.max() == pytest.approx(step[layout.probation - 1], rel=1e-5)
    else:  # the calibration windows train too
        assert splits.val is None
        assert last_trained == pytest.approx(step[layout.probation - 1], rel=1e-5)
    assert len(splits.test) == n - WINDOW + 1


def test_a_spike_after_the_probation_is_found(recorder: ModuleType, tmp_path: Path) -> None:
    values, labels = wave_with_spike()
    (row,) = bench(tmp_path, write_series(tmp_path / "wave.csv", values, labels))
    assert row.status == "ok", row.error
    assert row.metrics["auroc"] > 0.95 and row.metrics["event_recall"] == 1.0
    assert row.extra["series"] == 1 and row.extra["steps"] == len(values)
    assert row.extra["anomaly_windows"] == 1 and row.extra["window"] == WINDOW


def test_a_folder_of_series_with_a_constant_one(recorder: ModuleType, tmp_path: Path) -> None:
    folder = tmp_path / "series"
    folder.mkdir()
    write_series(folder / "wave.csv", *wave_with_spike())
    flat = np.full(1500, 7.0)
    flat[1200] = 8.0  # the flat line moves once, after its probation
    write_series(folder / "flat.csv", flat, np.zeros(1500, dtype=np.int64))
    (row,) = bench(tmp_path, folder)
    assert row.status == "ok", row.error
    assert row.extra["constant_probation"] == ["flat.csv"] and row.extra["series"] == 2
    assert np.isfinite(list(row.metrics.values())).all()
    assert row.extra["alarm_events"] >= 2  # the spike and the flat line's move both alarm


# -- bad input ---------------------------------------------------------------------------------

def test_a_short_series_fails_before_any_cell_runs(recorder: ModuleType, tmp_path: Path) -> None:
    values, labels = wave_with_spike(n=minimum_length() - 1, spike=800)
    path = write_series(tmp_path / "short.csv", values, labels)
    with pytest.raises(ZooError, match=r"series short.csv has 859 steps; suite 'ts-ad' needs "
                                       r"at least 860"):
        bench(tmp_path, path)
    assert recorder.SEEN == []


def test_unlabelled_or_anomaly_free_series_fail_before_any_cell(recorder: ModuleType,
                                                               tmp_path: Path) -> None:
    values, labels = wave_with_spike()
    with pytest.raises(ZooError, match=r"series plain\.csv has no labels; add a 'label' column"):
        bench(tmp_path, write_series(tmp_path / "plain.csv", values))
    with pytest.raises(ZooError, match="no series of setting 'all' has an anomaly"):
        bench(tmp_path, write_series(tmp_path / "calm.csv", values, labels * 0))
    assert recorder.SEEN == []


def test_nan_values_name_the_file_and_row(tmp_path: Path) -> None:
    path = write_series(tmp_path / "gap.csv", np.arange(5.0))
    path.write_text(path.read_text().replace(",3.0", ",nan"))
    with pytest.raises(ZooError, match=r"gap.csv, row 4 \(line 5\): value 'nan' is missing"):
        load_dataset(str(path))
    path.write_text(path.read_text().replace(",nan", ","))
    with pytest.raises(ZooError, match=r"gap.csv, row 4 \(line 5\): empty value"):
        load_dataset(str(path))


def test_rows_out_of_time_order_are_refused_but_a_clock_set_back_is_kept(
        tmp_path: Path) -> None:
    path = write_series(tmp_path / "shuffled.csv", np.arange(30.0))
    lines = path.read_text().splitlines()
    lines[3], lines[20] = lines[20], lines[3]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ZooError, match=r"shuffled.csv, row 4 \(line 5\): timestamp .* is before"
                                       r" an earlier row's .*; rows are steps in file order"):
        load_dataset(str(path))
    hour = write_series(tmp_path / "dst.csv", np.arange(24.0))
    repeated = hour.read_text().splitlines()  # 00:00 .. 01:55, then 01:00 .. 01:55 again
    hour.write_text("\n".join(repeated + repeated[13:]) + "\n")
    series = load_dataset(str(hour)).meta["series"]["dst.csv"]
    assert np.array_equal(series["values"], np.r_[np.arange(24.0), np.arange(12.0, 24.0)])


def test_bad_series_headers_timestamps_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,reading\n2014-01-01 00:00:00,1\n")
    with pytest.raises(ZooError, match="not a series header; expected 'timestamp,value'"):
        load_dataset(str(path))
    path.write_text("timestamp,value\n2014-01-01 00:00:00,1\nyesterday,2\n")
    with pytest.raises(ZooError, match=r"row 2 \(line 3\): timestamp 'yesterday' is not a date"):
        load_dataset(str(path))
    path.write_text("timestamp,value,label\n2014-01-01 00:00:00,1,2\n")
    with pytest.raises(ZooError, match=r"row 1 \(line 2\): label '2' is not 0"):
        load_dataset(str(path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ZooError, match=r"has no \.csv series files"):
        load_dataset(f"{empty}/")


def test_the_nab_loader_refuses_nan_values(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "realTest"
    folder.mkdir(parents=True)
    path = write_series(folder / "gap.csv", np.arange(4.0))
    path.write_text(path.read_text().replace(",2.0", ",NaN"))
    windows = tmp_path / "combined_windows.json"
    windows.write_text(json.dumps({"realTest/gap.csv": []}))
    with pytest.raises(ZooError, match=r"gap.csv, row 3 \(line 4\): value 'NaN' is missing"):
        nab([path, windows])


@pytest.mark.parametrize(("options", "message"), [
    ({"setting": "tweets"}, "has no series in setting 'tweets'; it has all"),
    ({"setting": "all"}, "unknown setting 'all'"),
    ({"classes": ["0"]}, "has no classes to choose"),
])
def test_bad_settings_are_one_line_errors(recorder: ModuleType, tmp_path: Path,
                                          options: dict, message: str) -> None:
    path = write_series(tmp_path / "wave.csv", *wave_with_spike())
    with pytest.raises(ZooError, match=message):
        bench(tmp_path, path, **options)


def test_datasets_that_are_not_series_are_refused(recorder: ModuleType, tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store, \
            pytest.raises(ZooError, match=r"'wine-ad' \(tabular, detect\) does not fit suite"):
        run_suite(TimeSeriesAnomalySuite(), store, datasets=["wine-ad"])


# -- leaderboard and CLI -----------------------------------------------------------------------

def stored(model: str, setting: str, auroc: float) -> RunResult:
    return RunResult(kind="bench", model=model, backbone=None, plugin="test", dataset="nab",
                     suite="ts-ad", suite_version="1", setting=setting, seed=0,
                     budget="quick", status="ok", metrics={"auroc": auroc})


def test_leaderboard_has_a_column_per_category_and_their_mean() -> None:
    rows = [stored("iforest", "aws", 0.6), stored("iforest", "tweets", 0.7),
            stored("vae", "aws", 0.8), stored("vae", "tweets", 0.5)]
    spec = plugins.get_host().suite("ts-ad")
    board = build_leaderboard(rows, suite="ts-ad", metrics=list(spec.metrics),
                              columns=spec.columns)
    (section,) = board.sections
    assert (section.dataset, section.columns) == ("nab", ["aws", "tweets"])
    overall = {entry.model: entry.summary["auroc"].mean for entry in section.entries}
    assert overall == pytest.approx({"iforest": 0.65, "vae": 0.65})


def zoo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          timeout=300)


@needs_nab
def test_cli_smoke_run_on_one_nab_category(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    done = zoo("bench", "ts-ad", "--budget", "smoke", "--models", "iforest", "--setting",
               "ad-exchange", "--seeds", "1", "--db", db, "--json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["setting"], row["status"]) == ("ad-exchange", "ok")
    assert row["extra"]["series"] == 2 and "smoke budget: 2 of 6 series" in row["extra"]["note"]
    assert 0 <= row["metrics"]["auroc"] <= 1 and "event_f1" in row["metrics"]
    board = zoo("leaderboard", "ts-ad", "--db", db).stdout
    assert "dataset nab, budget smoke" in board and "ad-exchange" in board


def test_cli_reports_a_short_series_in_one_line(tmp_path: Path) -> None:
    values, labels = wave_with_spike(n=500, spike=400)
    path = write_series(tmp_path / "short.csv", values, labels)
    done = zoo("bench", "ts-ad", "--datasets", str(path), "--models", "iforest", "--db",
               str(tmp_path / "runs.db"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "short.csv has 500 steps" in done.stderr and "Traceback" not in done.stderr
