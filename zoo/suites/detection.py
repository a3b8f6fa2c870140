"""Anomaly-detection suites on tables: protocols of the published ADBench re-run.

Settings (``../shared/REFERENCES.md``, Livernoche et al., ICLR 2024, re-running ADBench):

- ``semi``: train on a random 50% of the normal samples; test on the other 50% of the
  normals plus every anomaly.
- ``unsup``: train on a bootstrap resample of the whole dataset, labels unused; test on the
  whole dataset.
- ``60/40``: PyOD's benchmark (Zhao et al., JMLR 2019): a random 60% of the rows, labels
  unused, trains; the other 40% tests.

Labels never reach training. Features are standardised with training statistics. A tenth
of the training rows is held out (still without labels) for the validation loss of models
that select on it; models that do not (the scikit-learn baselines) train on those rows too.
Metrics: AUROC and AUPRC of the anomaly scores on the test split.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from zoo.data.splits import check_labels, check_training_rows, standardize
from zoo.data.types import Arrays, Dataset, Splits
from zoo.errors import ZooError
from zoo.runs.results import Outcome
from zoo.suites.base import Budget, Cell, Suite
from zoo.suites.common import train_and_evaluate

VALIDATION_FRACTION = 0.1


def semi_supervised_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train: half of the normals; test: the other half plus all anomalies."""
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(y == 0))
    half = len(normal) // 2
    return np.sort(normal[:half]), np.sort(np.concatenate([normal[half:],
                                                           np.flatnonzero(y == 1)]))


def unsupervised_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train: a bootstrap resample of every row; test: every row."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, len(y), len(y)), np.arange(len(y))


def pyod_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """PyOD's benchmark: a random 60% of every row (labels unused) trains, 40% tests."""
    order = np.random.default_rng(seed).permutation(len(y))
    cut = round(0.6 * len(y))
    return np.sort(order[:cut]), np.sort(order[cut:])


PROTOCOLS = {"semi": semi_supervised_split, "unsup": unsupervised_split, "60/40": pyod_split}


def detection_splits(dataset: Dataset, setting: str, seed: int) -> Splits:
    """The setting's train / validation / test split, labels removed from training."""
    data = dataset.all()
    if data.y is None:
        raise ZooError(f"dataset {dataset.name!r} has no anomaly labels to evaluate against")
    y = data.y.astype(np.int64)
    if set(np.unique(y)) - {0, 1}:
        raise ZooError(f"dataset {dataset.name!r}: anomaly labels must be 0 (normal) or 1")
    check_labels(dataset.name, y, "detect")
    train_index, test_index = PROTOCOLS[setting](y, seed)
    rng = np.random.default_rng(seed + 1)
    shuffled = rng.permutation(train_index)
    n_val = int(len(shuffled) * VALIDATION_FRACTION)
    val_index, fit_index = shuffled[:n_val], shuffled[n_val:]
    check_training_rows(dataset.name, len(fit_index),
                        f"setting {setting!r} on {len(y)} rows ({int(y.sum())} anomalies)")
    info = replace(dataset.info, task="detect")
    return Splits(train=Arrays(data.x[fit_index]),
                  val=Arrays(data.x[val_index]) if n_val else None,
                  test=Arrays(data.x[test_index], y[test_index]), info=info)


class DetectionSuite(Suite):
    """Tabular anomaly detection under the ``semi`` and ``unsup`` protocols."""

    settings = ("semi", "unsup", "60/40")
    default_seeds = 5

    @classmethod
    def splits_for(cls, dataset: Dataset, task: str, seed: int) -> Splits:
        """The ``semi`` protocol when the data has labels (which never reach training; labels
        of one class are a one-line error); unlabelled data trains and is scored whole."""
        if dataset.all().y is not None:
            return detection_splits(dataset, "semi", seed)
        data = Arrays(dataset.all().x)
        check_training_rows(dataset.name, len(data), "training on every row (no labels)")
        return Splits(data, None, data, replace(dataset.info, task=task))

    def run_cell(self, cell: Cell, run_dir: Path | None = None) -> Outcome:
        dataset = self.load(cell.dataset)
        splits = detection_splits(dataset, cell.setting, cell.seed)
        if splits.info.modality == "tabular":
            splits = standardize(splits)
        return train_and_evaluate(self, cell, splits, run_dir)


class EmbeddedAnomalySuite(DetectionSuite):
    """A small anomaly suite on scikit-learn's bundled data: runs anywhere, no download."""

    name = "embedded-ad"
    default_datasets = ("breast-cancer-ad", "wine-ad", "digits-ad")
    default_seeds = 3
    budgets = {
        "smoke": Budget(max_epochs=2, max_train_rows=256),
        "quick": Budget(max_epochs=50, max_time=60, patience=5),
        "full": Budget(max_epochs=200, patience=20),
    }


ADBENCH_TABLES = (
    "aloi", "annthyroid", "breastw", "campaign", "cardio", "cardiotocography", "celeba",
    "cover", "donors", "glass", "hepatitis", "http", "internetads", "ionosphere", "letter",
    "lymphography", "mammography", "adbench-mnist", "musk", "optdigits", "pendigits", "pima",
    "satellite", "satimage-2", "shuttle", "skin", "smtp", "stamps", "thyroid", "vowels",
    "waveform", "wbc", "wdbc", "adbench-wine", "wpbc",
)


class TabularAnomalySuite(DetectionSuite):
    """ADBench's classical tables (and the embedded ones) under the published protocols.

    Published numbers (``benchmarks/references/tabular-ad.csv``) are printed beside ours
    for the same dataset and setting. The ``quick`` budget trains on at most 10,000 rows
    (the row says so) and scores the whole test split; ``full`` uses every row.
    """

    name = "tabular-ad"
    default_datasets = (*ADBENCH_TABLES, "breast-cancer-ad", "wine-ad")
    default_seeds = 5
    budgets = {
        "smoke": Budget(max_epochs=2, max_train_rows=512, max_test_rows=2048),
        "quick": Budget(max_epochs=50, max_time=120, patience=5, max_train_rows=10_000),
        "full": Budget(max_epochs=200, patience=20),
    }
