"""Anomaly-detection protocols: the published splits, exactly, and labels kept out of training."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from zoo.data.types import Arrays, DataInfo, Dataset
from zoo.plugins import get_host
from zoo.store import Store
from zoo.suites import run_suite
from zoo.suites.detection import (
    PROTOCOLS,
    TabularAnomalySuite,
    detection_splits,
    pyod_split,
    semi_supervised_split,
    unsupervised_split,
)

LABELS = np.array([0] * 90 + [1] * 10)


def test_semi_trains_on_half_the_normals_and_tests_on_the_rest() -> None:
    train, test = semi_supervised_split(LABELS, seed=3)
    assert len(train) == 45 and LABELS[train].sum() == 0
    assert sorted(np.concatenate([train, test])) == list(range(100))
    assert LABELS[test].sum() == 10


def test_unsup_trains_on_a_bootstrap_and_tests_on_everything() -> None:
    train, test = unsupervised_split(LABELS, seed=3)
    assert len(train) == 100 and len(set(train)) < 100
    assert list(test) == list(range(100))


def test_pyod_split_is_sixty_forty_of_all_rows() -> None:
    train, test = pyod_split(LABELS, seed=3)
    assert (len(train), len(test)) == (60, 40)
    assert not set(train) & set(test)


@pytest.mark.parametrize("setting", sorted(PROTOCOLS))
def test_splits_are_seeded_and_training_never_sees_labels(setting: str) -> None:
    rng = np.random.default_rng(0)
    dataset = Dataset("toy", DataInfo("tabular", (3,), "detect"),
                      data=Arrays(rng.normal(size=(100, 3)).astype(np.float32), LABELS))
    first, again = (detection_splits(dataset, setting, seed=5) for _ in range(2))
    assert np.array_equal(first.train.x, again.train.x)
    assert first.train.y is None and first.val.y is None
    assert first.test.y is not None and set(np.unique(first.test.y)) == {0, 1}


def test_tabular_ad_runs_every_setting_on_an_adbench_table(tmp_path: Path) -> None:
    if not (Path(os.environ.get("ZOO_DATA_DIR", "/nonexistent"))
            / "adbench_classical" / "6_cardio.npz").exists():
        pytest.skip("ZOO_DATA_DIR does not hold the ADBench tables")
    with Store(tmp_path / "runs.db") as store:
        suite = TabularAnomalySuite(get_host())
        rows = [row for setting in PROTOCOLS for row in run_suite(
            suite, store, models=["iforest"], datasets=["cardio"], seeds=1, budget="smoke",
            setting=setting)]
    assert [row.status for row in rows] == ["ok"] * 3
    assert all(row.metrics["auroc"] > 0.8 for row in rows)
