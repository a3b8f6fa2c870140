"""``zoo tune`` and ``--cv K``: search spaces, folds, sealed test splits, and studies run by
the real CLI in subprocesses (resumed after SIGKILL, shared by two processes, pruning)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from zoo import plugins
from zoo.cli import cli
from zoo.data.preprocess import Standardizer
from zoo.data.splits import cross_validation_folds, make_splits, sealed_test
from zoo.data.types import Arrays, DataInfo, Dataset, Splits
from zoo.errors import ZooError
from zoo.models import get_model_spec, resolve_hparams
from zoo.runs.executors import LocalExecutor, worker_setup
from zoo.runs.single import training_data
from zoo.runs.store import Store, current_owner
from zoo.tuning.scoring import Objective, choose_objective
from zoo.tuning.space import search_space
from zoo.tuning.study import (
    TuneRequest,
    open_storage,
    search,
    storage_location,
    study_history,
    tune,
)

TABLE = DataInfo(modality="tabular", shape=(6,), task="detect")
#: A throwaway model whose validation loss is ``10 * (1 - quality)`` at every epoch, so
#: that its trials rank (and prune) deterministically, and that reads the test split in
#: ``fit`` when ``peek`` is set.
TOY_PLUGIN = """
    import torch
    from zoo import HParam, ModelSpec, hookimpl
    from zoo.models.module import ZooModule


    class Toy(ZooModule):
        def __init__(self, data_info, quality: float = 1.0, peek: bool = False,
                     optimizer: str = "adam", lr: float = 0.01, batch_size: int = 64):
            super().__init__(data_info)
            self.save_hyperparameters(ignore=["data_info"])
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def fit(self, splits, config):
            if self.hparams.peek:
                splits.test.x
            return super().fit(splits, config)

        def training_step(self, batch, batch_idx):
            loss = (self.weight ** 2).sum() + 0 * batch[0].sum()
            self.log_epoch_mean("train_loss", loss.detach(), len(batch[0]))
            return loss

        def validation_step(self, batch, batch_idx):
            loss = 10 * (1 - self.hparams.quality) + 0 * self.weight.sum()
            self.log("val_loss", loss, batch_size=len(batch[0]))

        def score(self, x):
            return torch.as_tensor(x).float().pow(2).sum(1)


    @hookimpl
    def zoo_register_models(register):
        register(ModelSpec(
            name="toy", kind="method", tasks=("detect",), modalities=("tabular",),
            implementation="zoo_plugins_dir.toy:Toy",
            hparams=(HParam("quality", float, 1.0, low=0, high=1, search=(0.0, 1.0)),
                     HParam("peek", bool, False),
                     HParam("optimizer", str, "adam"),
                     HParam("lr", float, 0.01, low=0, search=(1e-3, 1e-1), log=True),
                     HParam("batch_size", int, 64))))
"""


def zoo(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"zoo {' '.join(args)} failed:\n{done.stderr}")
    return done


def trial_rows(db: Path) -> list:
    with Store(db, readonly=True) as store:
        return [row for row in store.runs() if row.kind == "tune"]


def trial_rows_so_far(db: Path) -> list:
    """The trial rows of a store that another process may still be creating."""
    try:
        return trial_rows(db) if db.exists() else []
    except ZooError:  # created, its schema not yet written
        return []


# -- the search space ---------------------------------------------------------------------------
def autoencoder_space(path: Path | None = None):
    spec = get_model_spec("autoencoder")
    return search_space(spec, resolve_hparams(spec, TABLE, {}), path)


def test_the_space_is_the_models_declaration() -> None:
    space = autoencoder_space()
    dimensions = {d.name: d for d in space.dimensions}
    assert dimensions["lr"].hparam.search == (1e-5, 1e-1) and dimensions["lr"].hparam.log
    assert dimensions["hidden"].keys() == ["hidden.0", "hidden.1"]  # the default's 2 layers
    assert "reduction" not in dimensions  # declared without a search: kept at its default
    assert space.defaults_trial(resolve_hparams(get_model_spec("autoencoder"), TABLE, {})) \
        ["lr"] == 1e-2  # the tabular default, not the declaration's 1e-3


def test_a_space_file_narrows_fixes_and_keeps(tmp_path: Path) -> None:
    import optuna

    path = tmp_path / "space.yaml"
    path.write_text("lr: {low: 1.0e-4, high: 1.0e-2, log: true}\noptimizer: [adam, adamw]\n"
                    "dropout: 0.1\nweight_decay: default\nhidden: {low: 8, high: 16}\n")
    space = autoencoder_space(path)
    assert space.fixed == {"dropout": 0.1}
    assert "weight_decay" not in {d.name for d in space.dimensions}
    for _ in range(5):
        hparams = space.suggest(optuna.create_study().ask())
        assert 1e-4 <= hparams["lr"] <= 1e-2 and hparams["optimizer"] in ("adam", "adamw")
        assert len(hparams["hidden"]) == 2 and all(8 <= h <= 16 for h in hparams["hidden"])


def test_the_space_file_of_the_tuning_page_is_valid(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "tuning.md").read_text()
    example = page.split("```yaml\n# space.yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "space.yaml").write_text(example)
    space = autoencoder_space(tmp_path / "space.yaml")
    assert space.fixed == {"dropout": 0.1}
    searched = {d.name: d.hparam for d in space.dimensions}
    assert searched["hidden"].search == (16, 128) and searched["hidden"].log
    assert searched["optimizer"].search == ("adam", "adamw") and "weight_decay" not in searched


def test_trials_are_grouped_by_model_and_data_in_wandb() -> None:
    from zoo.runs.results import RunResult
    from zoo.tracking.wandb_tracker import _group

    trial = RunResult(kind="tune", model="autoencoder", backbone="mlp", plugin="p",
                      dataset="cardio")
    assert _group(trial) == "tune/autoencoder[mlp]/cardio"


@pytest.mark.parametrize(("text", "message"), [
    ("lrr: {low: 0.1, high: 0.2}", "unknown hyperparameter 'lrr' in search space"),
    ("lr: {low: 0.1, high: 0.01}", "lr: search=(0.1, 0.01) must be (low, high), low < high"),
    ("dropout: {low: 0.1, high: 1.5}", "dropout=1.5 must be a number in [0, 1)"),
    ("lr: [0.1, 0.01]", "lr is a number, searched over a range"),
    ("lr: {low: 0.1, top: 0.2}", "lr must be {low: L, high: H[, log: true]}"),
    ("optimizer: [adam, sgdd]", "optimizer=sgdd must be one of"),
    ("- lr", "must be a mapping"),
])
def test_a_bad_space_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(ZooError, match=None) as refused:
        autoencoder_space(path)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_refused_space_file_leaves_no_study_behind(tmp_path: Path) -> None:
    # Otherwise the empty study keeps the refused command's settings and refuses the next one.
    (tmp_path / "space.yaml").write_text("lr: {low: 0.1, high: 0.01}")
    done = subprocess.run([sys.executable, "-m", "zoo", "tune", "autoencoder", "--data",
                           "breast-cancer-ad", "--space", str(tmp_path / "space.yaml"),
                           "--db", str(tmp_path / "runs.db")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2 and "must be (low, high)" in done.stderr
    assert not (tmp_path / "tune").exists()


@pytest.mark.parametrize(("model", "data", "metric", "higher"), [
    ("mlp", "wine", "val_accuracy", True),
    ("mlp", "diabetes", "val_r2", True),
    ("autoencoder", "breast-cancer-ad", "best_val_loss", False),  # semi: normal rows only
])
def test_the_objective_is_a_validation_metric(model: str, data: str, metric: str,
                                              higher: bool) -> None:
    loaded = training_data(model, data, None, seed=0)
    assert choose_objective(loaded, None) == Objective(metric, higher)


def test_a_detectors_objective_cannot_be_a_labelled_score_on_normal_rows() -> None:
    loaded = training_data("autoencoder", "breast-cancer-ad", None, seed=0)
    with pytest.raises(ZooError, match=r"--metric 'val_auroc' is not a validation metric .* "
                                       r"valid: best_val_loss \("):
        choose_objective(loaded, "val_auroc")


def test_a_model_without_a_validation_loss_is_tuned_by_validation_scores_only() -> None:
    loaded = training_data("logistic-regression", "wine", None, seed=0)
    assert choose_objective(loaded, None) == Objective("val_accuracy", True)
    with pytest.raises(ZooError, match=r"--metric 'best_val_loss' is not a validation metric "
                                       r"of logistic-regression .* valid: val_accuracy, "):
        choose_objective(loaded, "best_val_loss")


def test_a_study_with_nothing_to_compare_trials_by_is_refused_before_it_starts(
        tmp_path: Path) -> None:
    """iforest has no validation loss and breast-cancer-ad's validation rows (semi-supervised:
    normal rows only) no labels: every trial would end without a score."""
    db = tmp_path / "runs.db"
    done = subprocess.run([sys.executable, "-m", "zoo", "tune", "iforest", "--data",
                           "breast-cancer-ad", "--trials", "2", "--db", str(db)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: nothing to tune iforest by on 'breast-cancer-ad': it has no validation loss, "
        "and the validation rows have no labels to score it against (the test split is never "
        "an objective); tune a model that validates (e.g. autoencoder) or use data with "
        "labelled validation rows"]
    assert trial_rows_so_far(db) == [] and not (tmp_path / "tune").exists()


# -- folds and the sealed test split ------------------------------------------------------------
def numbered(n: int, y: np.ndarray | None) -> Arrays:
    """Rows whose first feature is their number, so a row is known wherever it goes."""
    return Arrays(np.tile(np.arange(n, dtype=np.float32)[:, None], (1, 6)), y)


def test_classification_folds_are_stratified_and_validate_each_row_once() -> None:
    y = np.array([0] * 60 + [1] * 30 + [2] * 15)
    dataset = Dataset("numbered", DataInfo("tabular", (6,), "classify", n_classes=3),
                      data=numbered(len(y), y))
    splits = make_splits(dataset, seed=0, task="classify")
    folds = cross_validation_folds(splits, 5, seed=0)
    pool = {*splits.train.x[:, 0], *splits.val.x[:, 0]}
    validated = [row for fold in folds for row in fold.val.x[:, 0]]
    assert len(validated) == len(set(validated)) and set(validated) == pool
    for fold in folds:
        assert not set(fold.train.x[:, 0]) & set(fold.val.x[:, 0])
        assert np.bincount(fold.val.y, minlength=3).min() >= 2  # every class in every fold
        with pytest.raises(ZooError, match="the test split is sealed"):
            fold.test.x  # noqa: B018
    assert not pool & set(splits.test.x[:, 0])


def test_series_folds_expand_forward_in_time() -> None:
    series = DataInfo("timeseries", (6,), "detect")
    splits = Splits(numbered(80, None), numbered(20, None), numbered(10, None), series)
    splits.val.x += 80  # the validation part follows the training part in time
    folds = cross_validation_folds(splits, 4, seed=0)
    previous_end, seen = -1.0, set()
    for fold in folds:
        train, val = fold.train.x[:, 0], fold.val.x[:, 0]
        assert train.max() < val.min() and train.min() == 0  # the past trains, the future
        assert val.min() > previous_end and not seen & set(val)  # validates, once each
        previous_end, seen = val.max(), seen | set(val)
    assert [len(fold.train) for fold in folds] == sorted(len(fold.train) for fold in folds)


def test_a_sealed_test_split_is_counted_but_never_read() -> None:
    splits = Splits(numbered(10, None), None, numbered(5, None), TABLE)
    sealed = sealed_test(splits, "tuning")
    assert len(sealed.test) == 5 and sealed.shape()["test"] == 5
    assert Standardizer.fit(splits.train.x).splits(sealed).test is sealed.test
    with pytest.raises(ZooError, match="sealed: tuning"):
        sealed.test.y  # noqa: B018


def test_too_many_folds_is_one_line() -> None:
    splits = Splits(numbered(8, None), None, numbered(2, None), TABLE)
    with pytest.raises(ZooError, match=r"--cv 5: .* 15 non-test rows for 5 folds; the data "
                                       r"has 8"):
        cross_validation_folds(splits, 5, seed=0)


def test_a_refused_fold_count_leaves_no_study_behind(tmp_path: Path) -> None:
    # Otherwise the empty study keeps --cv 500 and refuses the next command on its name.
    with Store(tmp_path / "runs.db") as store:
        with pytest.raises(ZooError, match=r"^--cv 500: .* 1500 non-test rows for 500 folds; "
                                           r"the data has 151$"):
            search(store, TuneRequest("mlp", "wine", cv=500))
        assert not (tmp_path / "tune").exists()
        search(store, TuneRequest("mlp", "wine", trials=1, max_epochs=1, pruner="none"))
    assert [row.status for row in trial_rows(tmp_path / "runs.db")] == ["ok"]


def test_train_cv_stores_a_run_per_fold_and_their_mean(tmp_path: Path) -> None:
    done = CliRunner().invoke(cli, ["train", "mlp", "--data", "wine", "--cv", "3",
                                    "--max-epochs", "1", "--db", str(tmp_path / "runs.db"),
                                    "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert [row["extra"]["cv"]["fold"] for row in result["folds"]] == [0, 1, 2]
    accuracies = [row["metrics"]["val_accuracy"] for row in result["folds"]]
    assert result["summary"]["val_accuracy"]["mean"] == pytest.approx(np.mean(accuracies))
    assert all(row["checkpoint"] is None and "accuracy" not in row["metrics"]
               for row in result["folds"])  # scored on validation folds; the test unread


# -- studies in this process: pruning, and the sealed test split ---------------------------------
@pytest.fixture
def toy_plugins(tmp_path: Path):
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "toy.py").write_text(textwrap.dedent(TOY_PLUGIN))
    plugins.configure(plugins_dir=directory)
    yield directory
    plugins.configure(plugins_dir=None)


def test_a_trial_worse_than_the_median_is_pruned_and_stored_so(tmp_path: Path,
                                                               toy_plugins: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        tune(store, TuneRequest("toy", "breast-cancer-ad", trials=3, max_epochs=3))
    rows = {row.extra["study"]["trial"]: row for row in trial_rows(tmp_path / "runs.db")}
    assert rows[0].status == "ok" and rows[0].hparams["quality"] == 1.0  # the defaults first
    assert rows[1].status == rows[2].status == "pruned"
    assert rows[1].error.startswith("pruned at epoch 1: val_loss=")
    assert rows[1].metrics["epochs"] == 1


def test_a_trial_that_reads_the_test_split_fails(tmp_path: Path, toy_plugins: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("peek: true\n")
    with Store(tmp_path / "runs.db") as store, \
            pytest.raises(ZooError, match="has no complete trial"):
        tune(store, TuneRequest("toy", "breast-cancer-ad", trials=2, max_epochs=1, space=space))
    rows = trial_rows(tmp_path / "runs.db")
    assert len(rows) == 2 and all(row.status == "failed" for row in rows)
    assert all("the test split is sealed: zoo tune chooses on validation rows only"
               in row.error for row in rows)


def test_a_grid_tries_its_own_points(tmp_path: Path, toy_plugins: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("quality: {low: 0.2, high: 0.8}\n")  # the default 1.0 is off the grid
    with Store(tmp_path / "runs.db") as store:
        result = tune(store, TuneRequest("toy", "breast-cancer-ad", trials=2, max_epochs=1,
                                         sampler="grid", pruner="none", space=space))
    assert result.trials["complete"] == 2 and result.trials["fail"] == 0
    for row in trial_rows(tmp_path / "runs.db"):
        assert row.hparams["quality"] in (0.2, 0.5, 0.8)
        assert row.hparams["lr"] in (1e-3, 1e-2, 1e-1)


def toy_defaults_started(store: Store) -> tuple[Any, Any]:
    """The toy's study with its trial 0, the defaults, asked (running)."""
    import optuna

    study = optuna.create_study(study_name="toy-breast-cancer-ad", storage=open_storage(
        storage_location(store, "toy-breast-cancer-ad", None)))
    study.enqueue_trial({"quality": 1.0, "lr": 0.01})
    return study, study.ask()


@pytest.mark.parametrize("jobs", [None, 1])
def test_defaults_whose_trial_failed_are_tried_again(tmp_path: Path, toy_plugins: Path,
                                                     jobs: int | None) -> None:
    """Trial 0, the defaults, failed (its process killed): the resumed study tries them
    again, in this process or on workers, so the best is never worse than the defaults."""
    from optuna.trial import TrialState

    with Store(tmp_path / "runs.db") as store:
        study, first = toy_defaults_started(store)
        study.tell(first, state=TrialState.FAIL)
        request = TuneRequest("toy", "breast-cancer-ad", trials=2, max_epochs=1,
                              sampler="random", pruner="none")
        if jobs is None:
            search(store, request)
        else:
            with LocalExecutor(jobs, worker_setup()) as executor:
                search(store, request, executor=executor)
    rows = {row.extra["study"]["trial"]: row for row in trial_rows(tmp_path / "runs.db")}
    assert sorted(rows) == [1, 2]
    assert rows[1].hparams["quality"] == 1.0 and rows[1].hparams["lr"] == 0.01
    assert rows[2].hparams["quality"] != 1.0  # sampled: the defaults are not tried twice


def test_defaults_another_live_process_runs_are_not_queued_twice(tmp_path: Path,
                                                                toy_plugins: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        _, first = toy_defaults_started(store)
        first.set_user_attr("owner", current_owner())  # alive: this process
        search(store, TuneRequest("toy", "breast-cancer-ad", trials=1, max_epochs=1,
                                  sampler="random", pruner="none"))
    assert [row.hparams["quality"] != 1.0 for row in trial_rows(tmp_path / "runs.db")] == [
        True]


def test_a_local_worker_runs_the_trials_and_prunes_them_through_the_study_storage(
        tmp_path: Path, toy_plugins: Path) -> None:
    """One worker, so that each trial is sampled and pruned knowing the one before; the
    worker reports the epoch curve to the journal, this process tells the results."""
    with Store(tmp_path / "runs.db") as store, LocalExecutor(1, worker_setup()) as executor:
        result = tune(store, TuneRequest("toy", "breast-cancer-ad", trials=3, max_epochs=3),
                      executor=executor)
    rows = {row.extra["study"]["trial"]: row for row in trial_rows(tmp_path / "runs.db")}
    assert rows[0].status == "ok" and rows[0].hparams["quality"] == 1.0
    assert rows[1].status == rows[2].status == "pruned"
    assert rows[1].error.startswith("pruned at epoch 1: val_loss=")
    assert result.trials == {"complete": 1, "pruned": 2, "fail": 0}
    shown = study_history(result.storage, result.study)
    assert [t["runs"] for t in shown["trials"]] == [[rows[n].id] for n in range(3)]


def test_a_grid_on_workers_tries_each_point_once_and_stops(tmp_path: Path,
                                                           toy_plugins: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("quality: {low: 0.2, high: 0.8}\nlr: 0.01\n")  # three points
    with Store(tmp_path / "runs.db") as store, LocalExecutor(2, worker_setup()) as executor:
        result = tune(store, TuneRequest("toy", "breast-cancer-ad", trials=5, max_epochs=1,
                                         sampler="grid", pruner="none", space=space),
                      executor=executor)
    assert result.trials == {"complete": 3, "pruned": 0, "fail": 0}
    assert sorted(row.hparams["quality"] for row in trial_rows(tmp_path / "runs.db")) == [
        0.2, 0.5, 0.8]


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize(("storage", "reason"), [
    ("foo://bar", "Can't load plugin: sqlalchemy.dialects:foo"),
    ("sqlite:////nonexistent2/x/s.db", "unable to open database file"),
    ("postgresql://u@127.0.0.1:1/db", "no database driver|connect"),
    ("table.csv", "the file is not an Optuna journal"),
    ("folder", "is a directory"),
])
def test_a_bad_storage_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   storage: str, reason: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ZooError) as refused:
        open_storage(storage)
    message = str(refused.value)
    assert message.startswith(f"--storage {storage}: ") and "\n" not in message
    assert re.search(reason, message) and message.endswith(
        "valid: a journal file's path, or an RDB URL such as sqlite:///FILE with its driver "
        "installed")
    assert (tmp_path / "table.csv").read_text() == "a,b\n1,2\n"  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "table.csv"]
    Store(tmp_path / "runs.db").close()  # --show reads a runs database that exists
    shown = CliRunner().invoke(cli, ["tune", "--show", "sq", "--storage", storage,
                                     "--db", str(tmp_path / "runs.db")])
    assert shown.exit_code == 2 and shown.output.strip() == f"Error: {message}"


@pytest.mark.parametrize("name", ["../../evil", "a/b", ".hidden", "two words"])
def test_a_study_name_that_is_not_a_plain_name_is_refused(tmp_path: Path, name: str) -> None:
    done = CliRunner().invoke(cli, ["tune", "mlp", "--data", "wine", "--study", name,
                                    "--db", str(tmp_path / "runs.db")])
    assert done.exit_code == 2
    assert done.output.strip() == (f"Error: study name {name!r} is not a plain name; valid: "
                                   f"letters, digits, '-', '_' and '.', not starting with '.'")
    assert not list(tmp_path.rglob("*.journal"))


def test_tune_stores_every_trial_and_fold_then_retrains_and_tests_once(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    result = json.loads(zoo("tune", "autoencoder", "--data", "breast-cancer-ad", "--trials", "3",
                            "--max-epochs", "2", "--sampler", "random", "--cv", "2",
                            "--runs-dir", str(tmp_path / "folders"), "--db", str(db),
                            "--json").stdout)
    assert result["study"] == "autoencoder-breast-cancer-ad"
    assert Path(result["storage"]) == tmp_path / "tune" / "autoencoder-breast-cancer-ad.journal"
    assert result["objective"] == {"metric": "best_val_loss", "higher_is_better": False}
    trials = trial_rows(db)
    folds = [(row.extra["study"]["trial"], row.extra["cv"]["fold"]) for row in trials]
    assert len(folds) == len(set(folds)) and {n for n, _ in folds} == {0, 1, 2}
    for row in trials:  # one row per fold, the trial's parameters in its config
        assert row.extra["study"]["name"] == result["study"] and row.extra["cv"]["folds"] == 2
        assert row.hparams["lr"] == row.extra["study"]["params"]["lr"]
        assert "auroc" not in row.metrics  # scored on validation rows only
    with Store(db, readonly=True) as store:
        trained = store.runs(kind="train")
        evaluated = store.runs(kind="evaluate")
    assert [row.id for row in trained] == [result["train_run"]]
    assert trained[0].extra["study"]["best_trial"] == result["best_trial"]
    assert trained[0].hparams["lr"] == result["best_params"]["lr"]
    assert [row.id for row in evaluated] == [result["evaluate_run"]]  # the test split, once
    assert evaluated[0].metrics == result["test_metrics"] and "auroc" in result["test_metrics"]
    for row in [*trials, *trained, *evaluated]:  # every run's folder where --runs-dir says
        assert Path(row.extra["run_dir"]).parent == tmp_path / "folders"
    shown = CliRunner().invoke(cli, ["tune", "--show", result["study"], "--db", str(db),
                                     "--json"])
    shown = json.loads(shown.output)
    assert [t["number"] for t in shown["trials"]] == [0, 1, 2]
    assert shown["final"]["evaluate_run"] == result["evaluate_run"]
    assert set(shown["importances"]) <= set(shown["trials"][0]["params"])


def test_two_identical_tune_commands_at_once_test_the_best_trial_once(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    command = [sys.executable, "-m", "zoo", "tune", "autoencoder", "--data", "breast-cancer-ad",
               "--trials", "2", "--max-epochs", "50", "--sampler", "random", "--pruner", "none",
               "--db", str(db)]
    with Store(db) as store:  # the trials alone: both commands below only conclude
        search(store, TuneRequest("autoencoder", "breast-cancer-ad", trials=2, max_epochs=50,
                                  sampler="random", pruner="none"))
    both = [subprocess.Popen([*command, "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for process in both:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout))
    first, second = results
    assert (first["train_run"], first["evaluate_run"]) == (second["train_run"],
                                                           second["evaluate_run"])
    with Store(db, readonly=True) as store:
        assert [row.id for row in store.runs(kind="train")] == [first["train_run"]]
        assert [row.id for row in store.runs(kind="evaluate")] == [first["evaluate_run"]]


def test_tune_on_ray_runs_every_trial_and_fold_once(tmp_path: Path, ray_head: str) -> None:
    """A Ray cluster the command joins, each fold a task; the data and the study's SQLite
    storage files named relative to the command's folder, which the cluster's workers
    (pruning their trials through that storage) do not share."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 4))
    rows = [",".join(f"{v:.4f}" for v in row) + f",{int(row[0] + row[1] > 0)}" for row in x]
    (tmp_path / "table.csv").write_text("a,b,c,d,label\n" + "\n".join(rows) + "\n")
    done = subprocess.run([sys.executable, "-m", "zoo", "tune", "mlp", "--data", "table.csv",
                           "--trials", "3", "--max-epochs", "5", "--sampler", "random",
                           "--storage", "sqlite:///studies.db", "--cv", "2",
                           "--ray-address", ray_head,
                           "--runs-dir", "folders", "--db", "runs.db", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    trials = trial_rows(tmp_path / "runs.db")
    assert sorted((row.extra["study"]["trial"], row.extra["cv"]["fold"]) for row in trials) == [
        (trial, fold) for trial in range(3) for fold in range(2)]
    assert all(row.status in ("ok", "pruned") for row in trials)
    assert all(Path(row.extra["run_dir"]).parent == tmp_path / "folders" for row in trials)
    assert result["trials"]["complete"] + result["trials"]["pruned"] == 3
    assert result["trials"]["fail"] == 0
    with Store(tmp_path / "runs.db", readonly=True) as store:
        assert len(store.runs(kind="train")) == len(store.runs(kind="evaluate")) == 1


@pytest.mark.slow
def test_two_processes_tune_one_study(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    result = json.loads(zoo("tune", "autoencoder", "--data", "breast-cancer-ad", "--trials", "5",
                            "--max-epochs", "30", "--sampler", "random", "--pruner", "none",
                            "--cv", "2", "--jobs", "2", "--db", str(db), "--json").stdout)
    folds = [(row.extra["study"]["trial"], row.extra["cv"]["fold"]) for row in trial_rows(db)]
    assert sorted(folds) == [(trial, fold) for trial in range(5) for fold in range(2)]
    assert result["trials"]["complete"] == 5
    with Store(db, readonly=True) as store:
        assert len(store.runs(kind="evaluate")) == 1


@pytest.mark.slow
def test_a_killed_study_resumes_without_losing_or_repeating_a_trial(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    command = [sys.executable, "-m", "zoo", "tune", "autoencoder", "--data", "breast-cancer-ad",
               "--trials", "4", "--max-epochs", "30", "--pruner", "none", "--db", str(db)]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(row.status == "ok" for row in trial_rows_so_far(db)):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    before = {row.extra["study"]["trial"]: row.id for row in trial_rows(db) if row.status == "ok"}
    done = json.loads(zoo(*command[3:], "--json").stdout)
    after = trial_rows(db)
    finished = [row for row in after if row.status == "ok"]
    numbers = [row.extra["study"]["trial"] for row in finished]
    assert len(numbers) == len(set(numbers)) == 4  # none repeated, the study complete
    assert all(before[n] in {row.id for row in finished} for n in before)  # none lost
    assert all(row.error == "interrupted" for row in after if row.status != "ok")
    assert done["trials"]["complete"] == 4 and done["trials"]["fail"] <= 1


def test_help_imports_neither_optuna_nor_torch(
        imported_by_commands: Callable[..., list[str]]) -> None:
    assert imported_by_commands([["--help"], ["tune", "--help"], ["train", "--help"]],
                                ("optuna", "torch", "lightning")) == []
