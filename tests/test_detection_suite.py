"""Anomaly-detection protocols: the published splits, exactly, and labels kept out of training."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zoo.data.types import Arrays, DataInfo, Dataset
from zoo.models import list_models
from zoo.runs.store import Store
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
        suite = TabularAnomalySuite()
        rows = [row for setting in PROTOCOLS for row in run_suite(
            suite, store, models=["iforest"], datasets=["cardio"], seeds=1, budget="smoke",
            setting=setting)]
    assert [row.status for row in rows] == ["ok"] * 3
    assert all(row.metrics["auroc"] > 0.8 for row in rows)


def awkward_table(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(300, 5))
    y = np.zeros(300, dtype=np.int64)
    y[-15:] = 1
    x[-15:] += 4
    if kind == "constant-columns":
        x[:, 1] = 7.0
        x[:, 3] = 0.0
    elif kind == "duplicated-rows":
        x[:200] = x[0]
    elif kind == "three-anomalies":
        y[:] = 0
        y[-3:] = 1
    return x.astype(np.float32), y


@pytest.mark.parametrize("kind", ["constant-columns", "duplicated-rows", "three-anomalies"])
def test_every_detector_copes_with_awkward_tables(tmp_path: Path, kind: str) -> None:
    x, y = awkward_table(kind, np.random.default_rng(0))
    path = tmp_path / f"{kind}.npz"
    np.savez(path, X=x, y=y)
    models = list_models(task="detect", modality="tabular")
    with Store(tmp_path / "runs.db") as store:
        rows = run_suite(TabularAnomalySuite(), store, datasets=[str(path)],
                         seeds=1, budget="smoke", setting="semi")
    assert len(rows) == len(models) >= 5
    assert {row.status for row in rows} == {"ok"}, [(r.model, r.error) for r in rows]
    assert all(np.isfinite(row.metrics["auroc"]) for row in rows)


def test_nan_cells_in_a_users_file_are_a_clear_error(tmp_path: Path) -> None:
    from zoo.errors import ZooError

    x, y = awkward_table("plain", np.random.default_rng(0))
    x[10, 2] = np.nan
    path = tmp_path / "holes.npz"
    np.savez(path, X=x, y=y)
    with Store(tmp_path / "runs.db") as store, pytest.raises(ZooError, match=r"X\[10, 2\] is nan"):
        run_suite(TabularAnomalySuite(), store, datasets=[str(path)], seeds=1,
                  budget="smoke", models=["iforest"])


# -- a user's labelled table is detection data whatever its share of anomalies ----------------

def many_anomalies(path: Path, write_mat: Callable[..., Path], share: float = 0.34) -> Path:
    """An ADBench-format table (X, 0/1 y) with ``share`` anomalies (yeast has 34%), written as
    ``.npz``, ``.csv`` or ``.mat`` (v7.3 when the name says ``v73``, y a column of doubles as
    ODDS has it)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4))
    y = (np.arange(150) < share * 150).astype(np.int64)
    x[y == 1] += 3
    if path.suffix == ".npz":
        np.savez(path, X=x, y=y)
    elif path.suffix == ".csv":
        lines = ["a,b,c,d,label"] + [",".join(f"{v:.5f}" for v in row) + f",{label}"
                                     for row, label in zip(x, y, strict=True)]
        path.write_text("\n".join(lines) + "\n")
    else:
        write_mat(path, {"X": x, "y": y[:, None].astype(np.float64)}, v73="v73" in path.name)
    return path


@pytest.mark.parametrize("name", ["yeast-like.npz", "yeast-like.csv", "yeast-like.mat",
                                  "yeast-like-v73.mat"])
def test_a_detection_suite_takes_a_users_table_with_many_anomalies(
        tmp_path: Path, write_mat: Callable[..., Path], name: str) -> None:
    path = many_anomalies(tmp_path / name, write_mat)
    with Store(tmp_path / "runs.db") as store:
        rows = run_suite(TabularAnomalySuite(), store, models=["iforest"],
                         datasets=[str(path)], seeds=1, budget="smoke", setting="semi")
    assert [row.status for row in rows] == ["ok"] and rows[0].metrics["auroc"] > 0.9


def test_zoo_bench_and_zoo_train_take_the_task_asked_for(
        tmp_path: Path, zoo_cli: Callable[..., Any], write_mat: Callable[..., Path]) -> None:
    npz = many_anomalies(tmp_path / "yeast.npz", write_mat)
    csv = many_anomalies(tmp_path / "fault.csv", write_mat)
    db = str(tmp_path / "runs.db")
    bench = zoo_cli("bench", "tabular-ad", "--datasets", str(npz), "--models", "iforest",
                    "--budget", "smoke", "--seeds", "1", "--db", db, "--json")
    assert bench.returncode == 0, bench.stderr
    assert [row["status"] for row in json.loads(bench.stdout)] == ["ok"]
    trained = zoo_cli("train", "iforest", "--data", str(csv), "--db", db, "--json")
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["status"] == "ok"


def test_the_task_is_what_the_model_asks_for_and_the_labels_only_the_default() -> None:
    from zoo.runs.single import choose_task

    labels = np.array([0, 1] * 10)  # 50% ones: inferred classify
    dataset = Dataset("t", DataInfo("tabular", (2,), "classify", n_classes=2),
                      data=Arrays(np.zeros((20, 2), np.float32), labels),
                      meta={"tasks": ("classify", "detect", "generate")})
    assert choose_task(("detect",), dataset, dataset.tasks, "iforest") == "detect"
    assert choose_task(("classify", "regress"), dataset, dataset.tasks, "mlp") == "classify"
    assert choose_task(("generate", "detect"), dataset, dataset.tasks, "vae") == "generate"
    # A normal class asks for detection: a vae detects rather than generates.
    assert choose_task(("generate", "detect"), dataset, dataset.tasks, "vae",
                       wanted="detect") == "detect"
