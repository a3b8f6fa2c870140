"""Time-series anomaly detection on NAB: each series learned from its probationary period.

The Numenta Anomaly Benchmark (Lavin and Ahmad, "Evaluating Real-time Anomaly Detection
Algorithms - the Numenta Anomaly Benchmark", ICMLA 2015, https://arxiv.org/abs/1510.03336;
data and code at github.com/numenta/NAB): 58 series, 365,558 steps, anomaly windows from
``labels/combined_windows.json``.

- **Settings** are NAB's categories (:data:`CATEGORIES`): ``artificial`` (artificialNoAnomaly
  and artificialWithAnomaly), ``aws``, ``ad-exchange``, ``known-cause``, ``traffic`` and
  ``tweets``; ``--setting tweets`` runs one. A user's series (a ``timestamp,value,label`` CSV
  or a folder of them) have no category: they run as one setting, :data:`USER_SETTING`.
- **A cell** is (model, dataset, category, seed) and runs every series of the category: a
  fresh model per series, built and trained with the cell's seed. Metrics pool the
  category's series. The leaderboard has a column per category and their mean, the overall
  score: each category weighs the same, whatever its number of series.
- **Probation**: NAB's probationary period, the first ``min(floor(0.15 n), 750)`` of a
  series' ``n`` steps (NAB's ``getProbationPeriod`` caps it at 15% of 5,000 steps; the cap
  shortens the 15 series longer than 5,000 steps). Everything learned about a series, and
  everything chosen for it, comes from its probation: the split is by time only, and labels
  are never read before scoring.
- **Normalisation**: each series minus its probation's mean, divided by its probation's
  standard deviation. A constant probation (NAB's ``art_flatline``) has none: the deviation
  is floored at :data:`STD_FLOOR` times the level (``max(|mean|, 1)``), so any later change
  is a large deviation; the row lists such series under ``constant_probation``.
- **Windows** of :data:`WINDOW` steps, one ending at every step ``t >= WINDOW - 1``; a model
  sees samples of shape ``(WINDOW, 1)`` (``DataInfo("timeseries", (WINDOW, 1), "detect")``)
  and scores each window. A step's score is that of the window ending at it; the first
  ``WINDOW - 1`` steps, which end no window, take the first window's.
- **Training and calibration**: the last :data:`CALIBRATION_FRACTION` of the probation (by
  time) is held out for calibration. Models train on the windows lying wholly in the part
  before it; the windows lying wholly in the calibration part are the validation split of
  models that select on one (early stopping, best parameters). Models that select nothing
  (the scikit-learn baselines) train on the calibration windows too: every window of the
  probation but the ``WINDOW - 1`` straddling the cut.
- **Score scale and threshold**: a series' raw scores are mapped by its calibration windows'
  scores, ``(s - median) / (max - median)``, so that 1 is the largest calibration score,
  which is the threshold: a step with a scaled score above 1 is an alarm. The scale makes
  the scores of different series and models comparable, so they can be pooled. When every
  calibration score is the same (a constant series) the spread is floored at
  :data:`SPREAD_FLOOR` times ``max(|median|, SPREAD_FLOOR)``: only a score above them
  alarms.
- **Metrics**, pooled over every step of the category's series, probation included:
  ``auroc`` (primary) and ``auprc`` of the scaled scores (torchmetrics, through
  :func:`zoo.evaluation.detection_metrics`); and event-level scores of the alarms. The
  anomaly windows are the maximal runs of label 1; a window is found when an alarm falls
  in it; the alarm events are the maximal runs of alarms, a true positive when it overlaps
  a window. ``event_precision`` = true alarm events / alarm events, ``event_recall`` = found
  windows / windows, ``event_f1`` their harmonic mean; each is 0 when undefined (no alarm,
  no window, or both 0). The row's ``extra`` counts series, steps, windows and alarm events.
- **Budgets** (:class:`SeriesBudget`; epochs, time and patience apply to each series):
  ``smoke`` trains one epoch on the first two series (by name) of the category that have
  labelled anomalies, and the row says so; ``quick`` (CPU minutes per category: at most 100
  epochs, 30 s and patience 10 per series) and ``full`` (300 epochs, patience 20) run every
  series. A probation holds at most 750 steps, so training sets are small (at most 494
  windows) and an epoch is a few batches.
- **Bad input** fails before any cell runs, in one line naming the series: a series too
  short to hold the windows of both probation parts (:func:`minimum_length`), a series
  without labels, or a setting without any anomaly to score. NaN values and rows out of
  time order are refused when the files are read (:mod:`zoo.data.series`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.data.loading import is_user_file
from zoo.data.types import Arrays, DataInfo, Dataset, Splits
from zoo.errors import ZooError
from zoo.runs.lifecycle import DATA_SHAPE_KEY, TEST_OUTPUTS_KEY, test_outputs_path
from zoo.runs.results import Outcome
from zoo.suites.base import Budget, Cell, Suite
from zoo.suites.common import train_model

if TYPE_CHECKING:
    from zoo.plugins.specs import DatasetSpec

#: Steps per window.
WINDOW = 32
#: NAB's probationary period: this share of a series' steps ...
PROBATION_FRACTION = 0.15
#: ... at most this many (NAB: 15% of 5,000).
PROBATION_CAP = 750
#: Share of the probation, at its end, held out to calibrate the threshold.
CALIBRATION_FRACTION = 0.3
#: Windows each of the two probation parts must hold at least.
MIN_WINDOWS = 8
#: Smallest standard deviation used to normalise, relative to ``max(|mean|, 1)``.
STD_FLOOR = 1e-6
#: Smallest calibration spread ``max - median``, relative to ``max(|median|, SPREAD_FLOOR)``.
SPREAD_FLOOR = 1e-6
#: A step whose scaled score is above this is an alarm: the largest calibration score.
ALARM_LEVEL = 1.0
#: Setting -> the NAB folders (``category`` of a series) it holds.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "artificial": ("artificialNoAnomaly", "artificialWithAnomaly"),
    "aws": ("realAWSCloudwatch",),
    "ad-exchange": ("realAdExchange",),
    "known-cause": ("realKnownCause",),
    "traffic": ("realTraffic",),
    "tweets": ("realTweets",),
}
#: The setting of series without a NAB category (a user's files).
USER_SETTING = "all"
WINDOW_INFO = DataInfo("timeseries", (WINDOW, 1), "detect")


# -- the protocol, step by step --------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Where the parts of a series of ``length`` steps lie: the probation is steps
    ``[0, probation)``, its calibration part ``[cut, probation)``. Window ``i`` covers steps
    ``i .. i + WINDOW - 1``."""

    length: int
    probation: int
    cut: int

    @classmethod
    def of(cls, length: int) -> Layout:
        probation = min(math.floor(PROBATION_FRACTION * length), PROBATION_CAP)
        return cls(length, probation, probation - round(CALIBRATION_FRACTION * probation))

    @property
    def train_windows(self) -> slice:
        """The windows lying wholly before the calibration part."""
        return slice(0, max(self.cut - WINDOW + 1, 0))

    @property
    def calibration_windows(self) -> slice:
        """The windows lying wholly in the calibration part."""
        return slice(self.cut, max(self.probation - WINDOW + 1, self.cut))

    @property
    def usable(self) -> bool:
        """Whether both parts hold at least :data:`MIN_WINDOWS` windows."""
        return min(_count(self.train_windows), _count(self.calibration_windows)) >= MIN_WINDOWS


def _count(windows: slice) -> int:
    return windows.stop - windows.start


def minimum_length() -> int:
    """The fewest steps a series needs: both probation parts hold :data:`MIN_WINDOWS` windows
    (both parts grow with the length, so the first usable length is the bound)."""
    return next(n for n in range(WINDOW, 10 * PROBATION_CAP) if Layout.of(n).usable)


def normalise(values: np.ndarray, probation: int) -> tuple[np.ndarray, bool]:
    """``values`` standardised with their first ``probation`` steps' mean and deviation
    (floored, see :data:`STD_FLOOR`), as float32; whether the probation was constant."""
    head = values[:probation].astype(np.float64)
    mean, std = float(head.mean()), float(head.std())
    floor = STD_FLOOR * max(abs(mean), 1.0)
    scaled = (values.astype(np.float64) - mean) / max(std, floor)
    return scaled.astype(np.float32), std < floor


def check_length(dataset: str, key: str, length: int) -> None:
    """Raise a one-line ZooError when a series of ``length`` steps cannot be scored."""
    if not Layout.of(length).usable:
        raise ZooError(f"{dataset}: series {key} has {length} steps; suite 'ts-ad' needs at "
                       f"least {minimum_length()} (its {PROBATION_FRACTION:.0%} probation must "
                       f"hold {MIN_WINDOWS} windows of {WINDOW} steps to train and "
                       f"{MIN_WINDOWS} to calibrate)")


def prepare_series(values: np.ndarray) -> tuple[np.ndarray, Layout, bool]:
    """A series' windows once normalised by its probation, where its parts lie, and whether
    the probation was constant."""
    layout = Layout.of(len(values))
    normalised, constant = normalise(values, layout.probation)
    return sliding_windows(normalised), layout, constant


def sliding_windows(values: np.ndarray) -> np.ndarray:
    """Every window of :data:`WINDOW` consecutive steps, ``(n - WINDOW + 1, WINDOW, 1)``."""
    return np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(values, WINDOW)[..., None])


def step_scores(window_scores: np.ndarray) -> np.ndarray:
    """A score per step: the window ending at it, the first window's for the first
    ``WINDOW - 1`` steps."""
    return np.concatenate([np.full(WINDOW - 1, window_scores[0]), window_scores])


@dataclass(frozen=True)
class ScoreScale:
    """Maps raw scores so that the calibration median is 0 and its maximum 1."""

    median: float
    spread: float

    @classmethod
    def fit(cls, calibration: np.ndarray) -> ScoreScale:
        """From the calibration windows' raw scores (never from labelled steps)."""
        median = float(np.median(calibration))
        floor = SPREAD_FLOOR * max(abs(median), SPREAD_FLOOR)
        return cls(median, max(float(calibration.max()) - median, floor))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return (scores.astype(np.float64) - self.median) / self.spread


def runs(mask: np.ndarray) -> np.ndarray:
    """The maximal runs of true values of a 1-D mask as ``(start, stop)`` rows (stop
    exclusive), in order."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges).reshape(-1, 2)


@dataclass
class EventCounts:
    """Event-level counts of one or more series.

    Args:
        windows: Anomaly windows (maximal runs of label 1).
        found: Windows with an alarm in them.
        alarms: Alarm events (maximal runs of alarms).
        true_alarms: Alarm events overlapping a window.
    """

    windows: int = 0
    found: int = 0
    alarms: int = 0
    true_alarms: int = 0

    @classmethod
    def of(cls, labels: np.ndarray, alarms: np.ndarray) -> EventCounts:
        """The counts of one series' per-step 0/1 labels and boolean alarms."""
        windows, events = runs(labels == 1), runs(alarms)
        return cls(len(windows), _hit(windows, alarms), len(events), _hit(events, labels == 1))

    def __add__(self, other: EventCounts) -> EventCounts:
        return EventCounts(self.windows + other.windows, self.found + other.found,
                           self.alarms + other.alarms, self.true_alarms + other.true_alarms)

    def metrics(self) -> dict[str, float]:
        """``event_precision``, ``event_recall`` and ``event_f1``; 0 where undefined."""
        precision = self.true_alarms / self.alarms if self.alarms else 0.0
        recall = self.found / self.windows if self.windows else 0.0
        total = precision + recall
        return {"event_precision": precision, "event_recall": recall,
                "event_f1": 2 * precision * recall / total if total else 0.0}


def _hit(spans: np.ndarray, marks: np.ndarray) -> int:
    """How many ``(start, stop)`` spans contain at least one true mark."""
    before = np.concatenate([[0], np.cumsum(marks, dtype=np.int64)])
    return int(np.count_nonzero(before[spans[:, 1]] > before[spans[:, 0]]))


@dataclass
class SeriesResult:
    """One series scored: scaled scores and labels per step, its event counts, and the
    shape of its windows (:meth:`Splits.shape`)."""

    scores: np.ndarray
    labels: np.ndarray
    counts: EventCounts
    constant_probation: bool
    shape: dict[str, Any]


def series_splits(windows: np.ndarray, layout: Layout) -> Splits:
    """Training and calibration windows of the probation; every window as the test part,
    unlabelled (the suite scores them all and reads the labels only afterwards)."""
    return Splits(train=Arrays(windows[layout.train_windows]),
                  val=Arrays(windows[layout.calibration_windows]),
                  test=Arrays(windows), info=WINDOW_INFO)


def pooled_metrics(results: list[SeriesResult],
                   outputs_path: Path | None = None) -> dict[str, float]:
    """AUROC and AUPRC over every step of ``results``, and the event-level metrics; given
    ``outputs_path``, every step's label and scaled score are kept there
    (:func:`zoo.evaluation.save_test_outputs`, in float64), as other detectors keep theirs."""
    import torch

    from zoo.evaluation import detection_metrics, order_preserving_unit_scale, save_test_outputs

    scores = torch.as_tensor(np.concatenate([r.scores for r in results]))
    labels = torch.as_tensor(np.concatenate([r.labels for r in results]))
    if outputs_path is not None:
        save_test_outputs(outputs_path, labels, scores=scores)
    # Ranked in float64: scaled scores span many orders of magnitude (a constant probation's
    # floored spread), which float32, where detection_metrics works, would tie or overflow.
    ranks = order_preserving_unit_scale(scores)
    counts = sum((r.counts for r in results), EventCounts())
    return {**detection_metrics(ranks, labels), **counts.metrics()}


def pooled_shape(results: list[SeriesResult]) -> dict[str, Any]:
    """The data shape of a cell (as :meth:`Splits.shape`): windows per split summed over its
    series, one window's shape, and how many series."""
    return {**{split: sum(r.shape[split] for r in results) for split in ("train", "val", "test")},
            "sample": list(WINDOW_INFO.shape), "series": len(results)}


# -- the suite -------------------------------------------------------------------------------

@dataclass(frozen=True)
class SeriesBudget(Budget):
    """A :class:`Budget` whose limits apply to each series, and ``max_series``: the first
    series (by name) with labelled anomalies kept at most (``None``: every series)."""

    max_series: int | None = None


def series_setting(series: dict[str, Any]) -> str:
    """The setting of a series: its NAB category's, else :data:`USER_SETTING`."""
    folder = series.get("category")
    return next((setting for setting, folders in CATEGORIES.items() if folder in folders),
                USER_SETTING)


def setting_series(dataset: Dataset, setting: str) -> list[str]:
    """The keys of the dataset's series in ``setting``, by name."""
    return sorted(key for key, series in dataset.meta["series"].items()
                  if series_setting(series) == setting)


class TimeSeriesAnomalySuite(Suite):
    """Time-series anomaly detection on NAB, a setting per category (module docstring)."""

    name = "ts-ad"
    settings = tuple(CATEGORIES)
    default_datasets = ("nab",)
    default_seeds = 3
    budgets = {
        "smoke": SeriesBudget(max_epochs=1, max_series=2),
        "quick": SeriesBudget(max_epochs=100, max_time=30, patience=10),
        "full": SeriesBudget(max_epochs=300, patience=20),
    }

    def dataset_tasks(self, spec: DatasetSpec) -> tuple[str, ...]:
        return ("detect",) if spec.modality == "timeseries" and "detect" in spec.tasks else ()

    def _check_dataset(self, name: str) -> str:
        if not is_user_file(name):
            spec = self.host.dataset(name)
            if not self.dataset_tasks(spec):
                raise ZooError(f"dataset {name!r} ({spec.modality}, {', '.join(spec.tasks)}) "
                               f"does not fit suite {self.name!r}: it needs labelled time "
                               f"series such as nab, or a timestamp,value,label CSV")
        return super()._check_dataset(name)

    def settings_for(self, dataset: str, setting: str | None,
                     classes: list[str] | None) -> list[str]:
        """The dataset's categories (``setting`` alone when given), each checked to run."""
        data = self.load(dataset)
        if "series" not in data.meta:
            raise ZooError(f"dataset {dataset!r} holds no separate series; give a "
                           f"timestamp,value,label CSV or a folder of them")
        present = list(dict.fromkeys(series_setting(s) for s in data.meta["series"].values()))
        if setting and setting not in present:
            raise ZooError(f"dataset {dataset!r} has no series in setting {setting!r}; it has "
                           f"{', '.join(present)}")
        chosen = [setting] if setting else sorted(present, key=self._setting_order)
        for name in chosen:
            self._check_series(data, name)
        return chosen

    def _setting_order(self, setting: str) -> int:
        return self.settings.index(setting) if setting in self.settings else len(self.settings)

    def _check_series(self, data: Dataset, setting: str) -> None:
        """Fail before any cell runs on a series the protocol cannot score."""
        keys = setting_series(data, setting)
        for key in keys:
            series = data.meta["series"][key]
            check_length(data.name, key, len(series["values"]))
            if series["labels"] is None:
                raise ZooError(f"{data.name}: series {key} has no labels; add a 'label' column "
                               f"(1 = anomaly, 0 = normal) to score it")
        if not any(data.meta["series"][key]["labels"].any() for key in keys):
            raise ZooError(f"{data.name}: no series of setting {setting!r} has an anomaly "
                           f"(label 1); AUROC needs some")

    @classmethod
    def splits_for(cls, dataset: Dataset, task: str, seed: int) -> Splits:
        """Every series cut as a cell cuts it, pooled into one training set: normalised by
        its probation, trained on its windows, validated on its calibration part, tested on
        every window (labelled by its last step, read only when scoring). ``seed`` is unused:
        the cut is by time."""
        parts, labels = [], []
        for key, series in dataset.meta["series"].items():
            check_length(dataset.name, key, len(series["values"]))
            windows, layout, _ = prepare_series(series["values"])
            parts.append(series_splits(windows, layout))
            labels.append(None if series.get("labels") is None
                          else series["labels"][WINDOW - 1:])
        y = None if any(part is None for part in labels) else np.concatenate(labels)
        return Splits(Arrays(np.concatenate([p.train.x for p in parts])),
                      Arrays(np.concatenate([p.val.x for p in parts])),
                      Arrays(np.concatenate([p.test.x for p in parts]), y),
                      replace(WINDOW_INFO, task=task))

    def run_cell(self, cell: Cell, run_dir: Path | None = None) -> Outcome:
        dataset = self.load(cell.dataset)
        budget = self.budgets[cell.budget]
        every = setting_series(dataset, cell.setting)
        chosen = self._budget_series(dataset, every, budget)
        results, hparams = [], {}
        for i, key in enumerate(chosen):
            series_dir = None if run_dir is None else run_dir / f"series-{i}"
            result, hparams = self._run_series(cell, key, dataset.meta["series"][key], budget,
                                               series_dir)
            results.append(result)
        extra = self._extra(chosen, results)
        if len(chosen) < len(every):
            extra["note"] = (f"{cell.budget} budget: {len(chosen)} of {len(every)} series, the "
                             f"first by name with labelled anomalies")
        outputs_path = test_outputs_path(run_dir, "detect")
        metrics = pooled_metrics(results, outputs_path)
        if outputs_path is not None:
            extra[TEST_OUTPUTS_KEY] = str(outputs_path)
        # Every series' model is built with the same hyperparameters: the last one's stand.
        return Outcome(metrics, hparams, extra)

    def _budget_series(self, dataset: Dataset, keys: list[str],
                       budget: SeriesBudget) -> list[str]:
        if budget.max_series is None or len(keys) <= budget.max_series:
            return keys
        # A smoke run must still have anomalies to score: only series with some are kept.
        labelled = [key for key in keys if dataset.meta["series"][key]["labels"].any()]
        return labelled[:budget.max_series]

    def _run_series(self, cell: Cell, key: str, series: dict[str, Any], budget: SeriesBudget,
                    run_dir: Path | None) -> tuple[SeriesResult, dict[str, Any]]:
        """Train a fresh model on one series' probation and score all of its steps; the
        result and the model's hyperparameters."""
        windows, layout, constant = prepare_series(series["values"])
        splits = series_splits(windows, layout)
        model, hparams = train_model(self, cell, splits, budget, run_dir)
        raw = np.asarray(model.score(windows), dtype=np.float64)
        if not np.isfinite(raw).all():
            raise ZooError(f"{cell.display_model} gave non-finite anomaly scores on series {key}")
        scale = ScoreScale.fit(raw[layout.calibration_windows])
        scores = scale(step_scores(raw))
        labels = series["labels"]
        counts = EventCounts.of(labels, scores > ALARM_LEVEL)
        return SeriesResult(scores, labels, counts, constant, splits.shape()), hparams

    def _extra(self, keys: list[str], results: list[SeriesResult]) -> dict[str, Any]:
        counts = sum((r.counts for r in results), EventCounts())
        extra: dict[str, Any] = {
            "series": len(results), "steps": sum(len(r.scores) for r in results),
            "anomaly_windows": counts.windows, "found_windows": counts.found,
            "alarm_events": counts.alarms, "true_alarm_events": counts.true_alarms,
            "window": WINDOW, DATA_SHAPE_KEY: pooled_shape(results)}
        constant = [key for key, r in zip(keys, results, strict=True) if r.constant_probation]
        if constant:
            extra["constant_probation"] = constant
        return extra
