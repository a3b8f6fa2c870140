"""image-ad: the Deep SVDD one-class protocol, class by class, and its per-class leaderboard."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from zoo import plugins
from zoo.data.loading import load_dataset
from zoo.data.preprocess import ContrastMinMax, preprocess_arrays
from zoo.data.types import Arrays, DataInfo, Dataset
from zoo.errors import ZooError
from zoo.reporting.leaderboard import Leaderboard, build_leaderboard, load_references
from zoo.reporting.render import render
from zoo.runs.results import RunResult
from zoo.runs.single import training_data
from zoo.runs.store import Store
from zoo.suites import run_suite
from zoo.suites.detection import TabularAnomalySuite
from zoo.suites.image_ad import (
    TEST_FRACTION,
    ImageAnomalySuite,
    labelled_split,
    one_class_splits,
)


def contrast_normalized(images: np.ndarray) -> np.ndarray:
    """The paper's global contrast normalisation, written out again to check the suite's."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    centred = flat - flat.mean(axis=1, keepdims=True)
    return centred / np.abs(centred).mean(axis=1, keepdims=True)


def nearest_labels(images: np.ndarray, dataset: Dataset) -> np.ndarray:
    """The label of the dataset image each (preprocessed) image came from.

    Contrast normalisation undoes any positive affine map, min-max scaling included, so the
    normalised images match their sources.
    """
    data = dataset.all()
    source = contrast_normalized(data.x)
    ours = contrast_normalized(images)
    distances = ((ours[:, None, :] - source[None, :, :]) ** 2).sum(axis=2)
    assert distances.min(axis=1).max() < 1e-6  # every image is one of the dataset's
    return data.y[distances.argmin(axis=1)]


def test_smoke_rows_name_their_class_and_train_on_that_class_only(
        recorder: ModuleType, tmp_path: Path) -> None:
    digits = load_dataset("digits")
    with Store(tmp_path / "runs.db") as store:
        rows = run_suite(ImageAnomalySuite(), store, datasets=["digits"],
                         classes=["0", "3"], seeds=1, budget="smoke")
    assert [(r.model, r.setting, r.status) for r in rows] == [
        ("recorder", "class-0", "ok"), ("recorder", "class-3", "ok")]
    assert all(row.metrics["auroc"] > 0.8 for row in rows)
    assert [row.extra["normal_class"] for row in rows] == ["0", "3"]
    for normal, splits in zip((0, 3), recorder.SEEN, strict=True):
        assert splits.train.y is None and splits.val.y is None  # no labels in training
        seen = np.concatenate([splits.train.x, splits.val.x])
        assert set(nearest_labels(seen, digits)) == {normal}
        assert splits.info.shape == (1, 8, 8) and splits.info.value_range == (0.0, 1.0)


@pytest.mark.parametrize("normal", [0, 7])
def test_the_whole_test_set_is_scored_with_every_other_class_anomalous(normal: int) -> None:
    digits = load_dataset("digits")
    train, test = labelled_split(digits)
    splits = one_class_splits(digits, normal, seed=2)
    assert len(train) + len(test) == len(digits.all())
    assert len(splits.test) == len(test) == pytest.approx(len(digits.all()) * TEST_FRACTION,
                                                          abs=1)
    assert np.array_equal(splits.test.y, (test.y != normal).astype(np.int64))
    assert np.array_equal(nearest_labels(splits.test.x, digits) != normal, splits.test.y == 1)
    held_out = len(splits.val)
    assert held_out == int(np.sum(train.y == normal) * 0.1)
    assert len(splits.train) + held_out == np.sum(train.y == normal)


def test_digits_split_is_fixed_and_stratified() -> None:
    digits = load_dataset("digits")
    (train, test), (again, _) = labelled_split(digits), labelled_split(digits)
    assert np.array_equal(train.x, again.x)
    shares = np.bincount(test.y) / np.bincount(digits.all().y)
    assert np.allclose(shares, TEST_FRACTION, atol=0.02)


def image_dataset(test_x: np.ndarray) -> Dataset:
    rng = np.random.default_rng(0)
    train = Arrays(rng.uniform(size=(40, 1, 4, 4)).astype(np.float32), np.arange(40) % 2)
    info = DataInfo("image", (1, 4, 4), "classify", n_classes=2, value_range=(0.0, 1.0))
    return Dataset("toy", info, train=train, test=Arrays(test_x, np.arange(len(test_x)) % 2))


def test_preprocessing_statistics_come_from_the_training_class_only() -> None:
    test_x = np.random.default_rng(1).uniform(size=(10, 1, 4, 4)).astype(np.float32)
    plain = one_class_splits(image_dataset(test_x), normal=1, seed=0)
    test_x[3] = 0.0
    test_x[3, 0, 0, 0] = 1.0  # one bright pixel: a contrast far beyond the training images'
    changed = one_class_splits(image_dataset(test_x), normal=1, seed=0)
    assert np.array_equal(plain.train.x, changed.train.x)
    assert np.array_equal(plain.val.x, changed.val.x)
    seen = np.concatenate([plain.train.x, plain.val.x])
    assert (seen.min(), seen.max()) == pytest.approx((0.0, 1.0), abs=1e-6)
    assert changed.test.x.max() > 1.5  # the test set is scaled as trained, never clipped


def test_mnist_statistics_match_the_official_code() -> None:
    if not (Path(os.environ.get("ZOO_DATA_DIR", "/nonexistent")) / "mnist").is_dir():
        pytest.skip("ZOO_DATA_DIR does not hold MNIST")
    mnist = load_dataset("mnist")
    # github.com/lukasruff/Deep-SVDD-PyTorch, src/datasets/mnist.py: min and max after GCN
    # of the training images per class.
    official = {0: (-0.8826567065619495, 9.001545489292527),
                1: (-0.6661464580883915, 20.108062262467364)}
    for normal, bounds in official.items():
        fitted = ContrastMinMax.fit(mnist.train.x[mnist.train.y == normal])
        assert (fitted.low, fitted.high) == pytest.approx(bounds, abs=1e-5)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"classes": ["12"]}, "class 12 is not a class of digits; valid: 0-9"),
    ({"classes": ["-1"]}, "class -1 is not a class of digits; valid: 0-9"),
    ({"classes": ["zero"]}, "class 'zero' is not a class number"),
    ({"setting": "semi"}, "choose classes with --classes"),
    ({"datasets": ["digits-ad"]}, "needs images with class labels"),
])
def test_bad_class_choices_are_one_line_errors(recorder: ModuleType, tmp_path: Path,
                                               kwargs: dict, message: str) -> None:
    options = {"datasets": ["digits"], "seeds": 1, "budget": "smoke", **kwargs}
    with Store(tmp_path / "runs.db") as store, pytest.raises(ZooError, match=message):
        run_suite(ImageAnomalySuite(), store, **options)
    assert recorder.SEEN == []


def test_other_suites_refuse_classes(tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store, pytest.raises(ZooError, match="no classes"):
        run_suite(TabularAnomalySuite(), store, datasets=["wine-ad"],
                  classes=["0"], budget="smoke")


def test_resume_runs_only_the_classes_not_stored(recorder: ModuleType, tmp_path: Path) -> None:
    suite = ImageAnomalySuite()
    done: list[tuple[str, bool]] = []
    with Store(tmp_path / "runs.db") as store:
        run_suite(suite, store, datasets=["digits"], classes=["3"], seeds=1, budget="smoke")
        run_suite(suite, store, datasets=["digits"], classes=["0", "3"], seeds=1,
                  budget="smoke", on_result=lambda row, skipped: done.append(
                      (row.setting, skipped)))
    assert done == [("class-0", False), ("class-3", True)]
    assert len(recorder.SEEN) == 2


def stored(model: str, dataset: str, normal: int, auroc: float, seed: int = 0) -> RunResult:
    return RunResult(kind="bench", model=model, backbone="cnn", plugin="test", dataset=dataset,
                     suite="image-ad", suite_version="1", setting=f"class-{normal}",
                     seed=seed, budget="full", status="ok",
                     metrics={"auroc": auroc, "auprc": auroc})


@pytest.fixture
def image_board_rows() -> list[RunResult]:
    return [stored("deep-svdd", "mnist", 0, 0.97), stored("deep-svdd", "mnist", 0, 0.99, 1),
            stored("deep-svdd", "mnist", 1, 0.99), stored("autoencoder", "mnist", 0, 0.95),
            stored("autoencoder", "mnist", 1, 0.995), stored("deep-svdd", "digits", 2, 0.9),
            stored("deep-svdd", "digits", 10, 0.8)]


def image_board(rows: list[RunResult]) -> Leaderboard:
    spec = plugins.get_host().suite("image-ad")
    return build_leaderboard(rows, suite="image-ad", metrics=list(spec.metrics),
                             references=load_references("image-ad"), columns=spec.columns)


def test_leaderboard_has_a_section_per_dataset_and_a_column_per_class(
        image_board_rows: list[RunResult]) -> None:
    board = image_board(image_board_rows)
    digits, mnist = board.sections
    assert (digits.dataset, digits.setting, digits.columns) == ("digits", None,
                                                                ["class-2", "class-10"])
    assert (mnist.dataset, mnist.columns) == ("mnist", ["class-0", "class-1"])
    entries = {entry.model: entry for entry in mnist.entries}
    svdd = entries["deep-svdd[cnn]"]
    assert svdd.cells["class-0"].stats["auroc"].mean == pytest.approx(0.98)
    assert svdd.cells["class-0"].stats["auroc"].seeds == 2
    assert svdd.summary["auroc"].mean == pytest.approx((0.98 + 0.99) / 2)
    assert (svdd.summary["auroc"].rank, entries["autoencoder[cnn]"].summary["auroc"].rank) \
        == (1.5, 1.5)
    paper = entries["One-Class Deep SVDD, paper (reported)"]
    assert paper.reported and paper.summary["auroc"].mean == pytest.approx((0.98 + 0.997) / 2)
    assert "One-Class Deep SVDD, official code re-run (reported)" in entries
    assert not any(entry.reported for entry in digits.entries)  # the paper has MNIST only


def test_leaderboard_renders_classes_as_columns_in_every_format(
        image_board_rows: list[RunResult]) -> None:
    board = image_board(image_board_rows)
    table = render(board, "table")
    assert "== dataset mnist, budget full ==" in table
    header = next(line for line in table.splitlines() if line.startswith("model"))
    assert header.split() == ["model", "class-2", "class-10", "mean", "rank"]
    assert "One-Class Deep SVDD, paper (reported)" in table
    lines = list(csv.DictReader(io.StringIO(render(board, "csv"))))
    paper = [(line["dataset"], line["setting"], line["mean"]) for line in lines
             if line["model"] == "One-Class Deep SVDD, paper (reported)"
             and line["metric"] == "auroc"]
    assert paper == [("mnist", "class-0", "0.98"), ("mnist", "class-1", "0.997"),
                     ("mnist", "(mean)", str((0.98 + 0.997) / 2))]
    section = json.loads(render(board, "json"))["sections"][1]
    assert (section["dataset"], section["settings"]) == ("mnist", ["class-0", "class-1"])
    assert section["entries"][0]["summary"]["auroc"]["settings"] == 2
    assert "| model | class-0 | class-1 | mean | rank |" in render(board, "md")


def zoo(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def test_cli_benches_one_class_and_shows_its_column(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    rows = json.loads(zoo("bench", "image-ad", "--budget", "smoke", "--datasets", "digits",
                          "--classes", "0", "--models", "iforest", "--seeds", "1", "--db", db,
                          "--json").stdout)
    assert [(row["setting"], row["status"]) for row in rows] == [("class-0", "ok")]
    assert rows[0]["metrics"]["auroc"] > 0.9
    board = zoo("leaderboard", "image-ad", "--db", db).stdout
    assert "dataset digits" in board and "class-0" in board and "iforest" in board


# -- single runs: zoo train / tune --normal-class ----------------------------------------------


def test_single_runs_train_on_the_suites_one_class_images() -> None:
    loaded = training_data("autoencoder", "digits", None, seed=2, normal_class=4)
    splits, record = loaded.preprocessed(loaded.splits)
    suite = one_class_splits(load_dataset("digits"), 4, seed=2)
    for ours, theirs in zip((splits.train, splits.val, splits.test),
                            (suite.train, suite.val, suite.test), strict=True):
        np.testing.assert_array_equal(ours.x, theirs.x)
    np.testing.assert_array_equal(splits.test.y, suite.test.y)
    # The card's record maps raw images as training did: what evaluate and serve apply.
    assert set(record) == {"contrast_minmax"}
    np.testing.assert_array_equal(preprocess_arrays(record, loaded.splits.test).x,
                                  splits.test.x)


def test_train_takes_a_normal_class_and_evaluate_rebuilds_its_split(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    run = json.loads(zoo("train", "autoencoder", "--data", "digits", "--normal-class", "3",
                         "--max-epochs", "1", "--db", db, "--json").stdout)
    assert (run["status"], run["setting"]) == ("ok", "class-3")
    assert run["extra"]["data_shape"]["test"] == 540  # digits' fixed test split: every class
    card = json.loads((Path(run["checkpoint"]) / "card.json").read_text())
    assert card["normal_class"] == 3 and set(card["preprocess"]) == {"contrast_minmax"}
    evaluated = json.loads(zoo("evaluate", run["id"], "--db", db, "--json").stdout)
    assert evaluated["setting"] == "class-3"
    assert 0 <= evaluated["metrics"]["auroc"] <= 1


def test_images_of_two_labels_are_anomaly_labels_unless_a_normal_class_is_chosen(
        tmp_path: Path) -> None:
    """0/1 anomaly labels on images keep the ``semi`` protocol, as in a table, and have no
    class to choose; class labels of a user's file train one class as the registered image
    datasets do."""
    digits = load_dataset("digits").all()
    two, ten = tmp_path / "two.npz", tmp_path / "ten.npz"
    np.savez(two, X=digits.x, y=(digits.y == 9).astype(int))  # 10% anomalies
    np.savez(ten, X=digits.x, y=digits.y)
    semi = training_data("autoencoder", str(two), None, seed=0)
    assert semi.normal_class is None and semi.splits.val.y is None
    assert set(np.unique(semi.splits.test.y)) == {0, 1}
    with pytest.raises(ZooError, match="has no classes to choose from"):
        training_data("autoencoder", str(two), None, seed=0, normal_class=1)
    one_class = training_data("autoencoder", str(ten), None, seed=0, normal_class=1)
    assert len(one_class.splits.test) == 540  # image-ad's fixed split of 1,797 images
    assert one_class.splits.test.y.mean() == pytest.approx(1 - 54 / 540, abs=0.01)


@pytest.mark.parametrize(("args", "message"), [
    (("--data", "digits"), "has class labels, not anomaly labels: choose the normal class, "
                           "e.g. --normal-class 0 (valid: 0-9)"),
    (("--data", "digits", "--normal-class", "10"), "class 10 is not a class of digits; "
                                                   "valid: 0-9"),
    (("--data", "breast-cancer-ad", "--normal-class", "0"),
     "--normal-class is for anomaly detection on images with class labels"),
])
def test_normal_class_mistakes_are_one_line_errors(args: tuple[str, ...], message: str,
                                                   tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "zoo", "train", "autoencoder", *args,
                           "--db", str(tmp_path / "runs.db")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # refused before any run started
