"""Anomaly-detection suites on tables: protocols of the published ADBench re-run.

Settings (``../shared/REFERENCES.md``, Livernoche et al., ICLR 2024, re-running ADBench):

- ``semi``: train on a random 50% of the normal samples; test on the other 50% of the
  normals plus every anomaly.
- ``unsup``: train on a bootstrap resample of the whole dataset, labels unused; test on the
  whole dataset.

Labels never reach training. Features are standardised with training statistics. A tenth
of the training rows is held out (still without labels) for the deep models' validation
loss. Metrics: AUROC and AUPRC of the anomaly scores on the test split.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from zoo.data.splits import standardize
from zoo.data.types import Arrays, Dataset, Splits
from zoo.errors import ZooError
from zoo.suites.base import Budget, Cell, CellOutcome, Suite
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


PROTOCOLS = {"semi": semi_supervised_split, "unsup": unsupervised_split}


def detection_splits(dataset: Dataset, setting: str, seed: int) -> Splits:
    """The setting's train / validation / test split, labels removed from training."""
    data = dataset.all()
    if data.y is None:
        raise ZooError(f"dataset {dataset.name!r} has no anomaly labels to evaluate against")
    y = data.y.astype(np.int64)
    if set(np.unique(y)) - {0, 1}:
        raise ZooError(f"dataset {dataset.name!r}: anomaly labels must be 0 (normal) or 1")
    if y.sum() == 0 or y.sum() == len(y):
        raise ZooError(f"dataset {dataset.name!r} needs both normal and anomalous samples")
    train_index, test_index = PROTOCOLS[setting](y, seed)
    rng = np.random.default_rng(seed + 1)
    shuffled = rng.permutation(train_index)
    n_val = int(len(shuffled) * VALIDATION_FRACTION)
    val_index, fit_index = shuffled[:n_val], shuffled[n_val:]
    info = replace(dataset.info, task="detect")
    return Splits(train=Arrays(data.x[fit_index]),
                  val=Arrays(data.x[val_index]) if n_val else None,
                  test=Arrays(data.x[test_index], y[test_index]), info=info)


class DetectionSuite(Suite):
    """Tabular anomaly detection under the ``semi`` and ``unsup`` protocols."""

    task_of_model = ("detect",)
    metrics = (("auroc", True), ("auprc", True))
    settings = ("semi", "unsup")
    default_seeds = 5

    def run_cell(self, cell: Cell, run_dir: Path | None = None) -> CellOutcome:
        dataset = self.load(cell.dataset)
        splits = detection_splits(dataset, cell.setting, cell.seed)
        if splits.info.modality == "tabular":
            splits = standardize(splits)
        return train_and_evaluate(self, cell, splits, run_dir)


class EmbeddedAnomalySuite(DetectionSuite):
    """A small anomaly suite on scikit-learn's bundled data: runs anywhere, no download."""

    name = "embedded-ad"
    version = "1"
    default_datasets = ("breast-cancer-ad", "wine-ad", "digits-ad")
    default_seeds = 3
    budgets = {
        "smoke": Budget(max_epochs=2, max_train_rows=256),
        "quick": Budget(max_epochs=50, max_time=60, patience=5),
        "full": Budget(max_epochs=200, patience=20),
    }
