"""Test metrics agree with scikit-learn's on scores of any scale; ``zoo evaluate`` refuses, in
one line, data and checkpoints it cannot use."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from zoo.data.types import Arrays, DataInfo
from zoo.errors import ZooError
from zoo.evaluation import detection_metrics
from zoo.models.checkpoints import check_fits_model, load_model


@pytest.mark.parametrize("scale", [1e-3, 1.0, 50.0, 1e6])
def test_detection_metrics_match_sklearn_at_any_scale(scale: float) -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(500) < 0.1).astype(np.int64)
    scores = (rng.normal(size=500) + 1.5 * labels) * scale + 3 * scale
    scores[:20] = scores[20]  # ties must count as ties
    metrics = detection_metrics(torch.as_tensor(scores), torch.as_tensor(labels))
    assert metrics["auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)
    assert metrics["auprc"] == pytest.approx(average_precision_score(labels, scores), abs=1e-6)


def test_detection_metrics_reject_nan_scores_and_single_class_labels() -> None:
    with pytest.raises(ZooError, match="non-finite"):
        detection_metrics(torch.tensor([0.1, float("nan")]), torch.tensor([0, 1]))
    with pytest.raises(ZooError, match="both normal and anomalous"):
        detection_metrics(torch.tensor([0.1, 0.2]), torch.tensor([0, 0]))


# -- zoo evaluate refuses data and checkpoints it cannot use, in one line -----------------------

def write_table(path: Path, n_features: int, rows: int = 60, seed: int = 0,
                classes: int = 0) -> Path:
    """A CSV of ``rows`` rows, ``n_features`` columns and labels: 0/1 with 10% anomalies, or
    ``classes`` classes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, n_features))
    labels = np.arange(rows) % classes if classes else (np.arange(rows) % 10 == 0).astype(int)
    x += 4 * labels[:, None]
    header = ",".join(f"f{j}" for j in range(n_features))
    lines = [f"{header},label"] + [",".join(f"{v:.4f}" for v in row) + f",{label}"
                                   for row, label in zip(x, labels, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An mlp (3 classes) and an iforest checkpoint trained, in this process, on 3-feature
    tables."""
    from zoo.runs.single import train_run
    from zoo.runs.store import Store

    folder = tmp_path_factory.mktemp("trained")
    data = {"mlp": write_table(folder / "classes.csv", 3, classes=3),
            "iforest": write_table(folder / "anomalies.csv", 3)}
    with Store(folder / "runs.db") as store:
        return {model: Path(train_run(store, model, str(path), backbone=None, hparams={},
                                      seed=0, accelerator="cpu", devices=1,
                                      max_epochs=1).checkpoint)
                for model, path in data.items()}


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The error line of a refused command, after checking it is one line with exit status 2."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    return lines[0]


def test_evaluating_on_data_of_another_shape_is_one_line(
        checkpoints: dict[str, Path], tmp_path: Path, zoo_cli: Callable[..., Any]) -> None:
    other = write_table(tmp_path / "two.csv", 2)
    done = zoo_cli("evaluate", str(checkpoints["mlp"]), "--data", str(other),
                   "--db", str(tmp_path / "runs.db"))
    assert one_line_error(done) == (f"Error: {other} has samples of shape (2,); the model was "
                                    f"trained on (3,)")


@pytest.mark.parametrize(("info", "labels", "problem"), [
    (DataInfo("tabular", (3,), "detect"), None,
     "'t.csv' has no labels; detect needs 0/1 labels (1 = anomaly)"),
    (DataInfo("tabular", (3,), "detect"), [0, 0, 0, 0],
     "every label is 0, so there are no anomalies (label 1) to score against"),
    (DataInfo("image", (3,), "detect"), [0, 3, 9, 1],  # another dataset's class labels
     "labels 0..9 are not anomaly labels; detect scores against 0 (normal) and 1 (anomaly)"),
    (DataInfo("tabular", (3,), "classify", n_classes=2), [0, 1, 2, 1],
     "labels range over 0..2, but the model knows the classes 0..1"),
    (DataInfo("tabular", (3,), "regress"), None, "'t.csv' has no labels; regress needs labels"),
])
def test_labels_a_model_cannot_be_scored_on_are_refused(info: DataInfo, labels: list[int] | None,
                                                        problem: str) -> None:
    arrays = Arrays(np.zeros((4, 3), np.float32), None if labels is None else np.array(labels))
    with pytest.raises(ZooError, match=re.escape(problem)):
        check_fits_model("t.csv", arrays, info)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def randomise(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(2000))


def widen_the_card(path: Path) -> None:
    card = json.loads(path.read_text())
    card["data_info"]["shape"] = [7]
    path.write_text(json.dumps(card))


@pytest.mark.parametrize(("model", "file", "damage", "problem"), [
    ("mlp", "weights.safetensors", Path.unlink,
     "is incomplete: No such file or directory: {dir}/weights.safetensors"),
    ("mlp", "weights.safetensors", truncate,
     ": weights.safetensors does not load into the model card.json describes (Error while "
     "deserializing header"),
    ("mlp", "weights.safetensors", randomise,
     ": weights.safetensors does not load into the model card.json describes (Error while "
     "deserializing header"),
    ("mlp", "card.json", widen_the_card,
     ": weights.safetensors does not load into the model card.json describes (Error(s) in "
     "loading state_dict for MLPModel: size mismatch"),
    ("iforest", "estimator.skops", randomise,
     ": estimator.skops does not load into the model card.json describes (File is not a zip "
     "file)"),
    ("iforest", "card.json", lambda path: path.write_text("{not json"),
     "card.json is not valid JSON"),
])
def test_a_damaged_checkpoint_is_a_zoo_error_naming_the_file(
        checkpoints: dict[str, Path], tmp_path: Path, model: str, file: str,
        damage: Callable[[Path], None], problem: str) -> None:
    directory = tmp_path / "model"
    shutil.copytree(checkpoints[model], directory)
    damage(directory / file)
    with pytest.raises(ZooError) as error:
        load_model(directory)
    assert problem.format(dir=directory) in str(error.value)
    assert str(directory) in str(error.value) and "\n" not in str(error.value)


def test_a_random_estimator_file_is_one_line_from_the_cli(
        checkpoints: dict[str, Path], tmp_path: Path, zoo_cli: Callable[..., Any]) -> None:
    directory = tmp_path / "model"
    shutil.copytree(checkpoints["iforest"], directory)
    randomise(directory / "estimator.skops")
    done = zoo_cli("evaluate", str(directory), "--db", str(tmp_path / "runs.db"))
    assert one_line_error(done) == (f"Error: checkpoint {directory}: estimator.skops does not "
                                    f"load into the model card.json describes (File is not a "
                                    f"zip file)")


def test_a_run_on_a_relative_path_is_evaluated_from_any_folder_and_says_when_it_changed(
        tmp_path: Path, zoo_cli: Callable[..., Any]) -> None:
    here, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    table = write_table(here / "mine.csv", 3)
    db = str(tmp_path / "runs.db")
    trained = zoo_cli("train", "iforest", "--data", "mine.csv", "--db", db, "--json", cwd=here)
    row = json.loads(trained.stdout)
    assert row["dataset"] == str(table)
    evaluated = zoo_cli("evaluate", row["id"], "--db", db, "--json", cwd=elsewhere)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["metrics"]["auroc"] > 0.9
    assert "changed" not in evaluated.stderr
    write_table(table, 3, seed=1)
    again = zoo_cli("evaluate", row["id"], "--db", db, "--json", cwd=elsewhere)
    warnings = [line for line in again.stderr.splitlines() if "changed" in line]
    assert again.returncode == 0 and len(warnings) == 1
    assert warnings[0].startswith(f"warning: {table} has changed since the run was trained")
