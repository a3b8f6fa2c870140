"""End-to-end: the real ``zoo`` command line in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from conftest import SleepyPlugin

BROKEN_PLUGINS = {
    "syntax_error": "def zoo_register_models(register)\n    pass\n",
    "raising_hook": """
        from zoo import hookimpl

        @hookimpl
        def zoo_register_models(register):
            raise RuntimeError("this plugin is broken on purpose")
    """,
    "duplicate_name": """
        from zoo import ModelSpec, hookimpl

        @hookimpl
        def zoo_register_models(register):
            register(ModelSpec(name="mlp", kind="backbone", tasks=("classify",),
                               modalities=("tabular",), implementation="x.y:Z"))
    """,
}


def zoo(*args: str, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"zoo {' '.join(args)} failed:\n{done.stderr}")
    return done


def zoo_json(*args: str, **kwargs) -> object:
    return json.loads(zoo(*args, "--json", **kwargs).stdout)


@pytest.fixture
def broken_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "plugins"
    directory.mkdir()
    for name, source in BROKEN_PLUGINS.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return directory


def test_first_party_plugins_are_listed_ok() -> None:
    plugins = {p["name"]: p for p in zoo_json("plugins")}
    for name in ("zoo-mlp", "zoo-baselines"):
        assert plugins[name]["status"] == "ok"
        assert plugins[name]["distribution"] == name
        assert plugins[name]["version"]
    assert "mlp" in plugins["zoo-mlp"]["models"]
    assert {"iforest", "ocsvm", "knn"} <= set(plugins["zoo-baselines"]["models"])


@pytest.mark.parametrize("command", [["plugins"], ["models"], ["datasets"], ["suites"],
                                     ["models", "mlp"]])
def test_every_command_works_beside_broken_plugins(broken_dir: Path,
                                                   command: list[str]) -> None:
    done = zoo("--plugins-dir", str(broken_dir), *command)
    assert done.stdout.strip()


def test_broken_plugins_are_listed_with_their_reason(broken_dir: Path) -> None:
    plugins = {p["name"]: p for p in zoo_json("--plugins-dir", str(broken_dir), "plugins")}
    assert "SyntaxError" in plugins["syntax_error"]["reason"]
    assert "broken on purpose" in plugins["raising_hook"]["reason"]
    assert "already registered by plugin 'zoo-mlp'" in plugins["duplicate_name"]["reason"]
    assert plugins["zoo-mlp"]["status"] == "ok"
    models = {m["name"]: m for m in zoo_json("--plugins-dir", str(broken_dir), "models")}
    assert models["mlp"]["plugin"] == "zoo-mlp"


def test_disabling_a_plugin_removes_its_models() -> None:
    names = {m["name"] for m in zoo_json("models", env={"ZOO_DISABLE_PLUGINS": "zoo-baselines"})}
    assert "mlp" in names and "iforest" not in names


@pytest.mark.parametrize(("args", "said"), [
    (("vea",), "no model matches 'vea'; did you mean 'vae'?"),
    (("vae*", "--task", "classify"),
     "no model matching 'vae*' has task 'classify'; without the filters: vae")])
def test_an_empty_listing_says_why_in_one_line(args: tuple[str, ...], said: str) -> None:
    done = zoo("models", *args)
    assert done.stdout == ""
    assert done.stderr.strip().startswith(said) and done.stderr.count("\n") == 1


def test_no_model_registered_says_so_and_where_to_look() -> None:
    done = zoo("models", env={"ZOO_PLUGINS": "no-such-plugin"})
    assert done.stderr.startswith("no model is registered") and "ZOO_PLUGINS" in done.stderr


def test_a_plugins_dir_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    done = zoo("--plugins-dir", str(tmp_path / "missing"), "models", check=False)
    assert done.returncode == 2 and "does not exist" in done.stderr


@pytest.mark.parametrize(("line", "said"), [
    ("devices: two", "devices: 'two' is not a valid integer"),
    ("max_epochs: -3", "max_epochs: -3 is not in the range x>=1"),
    ("seed: abc", "seed: 'abc' is not a valid integer"),
    ("seed: -1", "seed: -1 is not in the range x>=0"),
    ("seed: 1.5", "seed: '1.5' is not a valid integer"),
    ("max_epochs: true", "max_epochs: 'true' is not a valid integer"),
    ("normal_class: 2.0", "normal_class: '2.0' is not a valid integer"),
    ("accelerator: tpu", "accelerator: 'tpu' is not one of 'auto', 'cpu', 'gpu'"),
    ("backbone: [mlp]", "backbone must be one value"),
    ("precision: 8-true", "precision: '8-true' is not one of '32-true', 'bf16-mixed', '16-mixed'"),
])
def test_a_config_value_is_checked_as_its_option_is(tmp_path: Path, line: str,
                                                   said: str) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"model: mlp\ndata: wine\n{line}\n")
    db = tmp_path / "runs.db"
    done = zoo("train", "--config", str(config), "--db", str(db), check=False)
    assert done.returncode == 2
    assert done.stderr == f"Error: config {config}: {said}" + done.stderr.split(said, 1)[1]
    assert done.stderr.count("\n") == 1 and not db.exists()


def count_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def test_bench_stores_rows_resumes_and_prints_a_leaderboard(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    args = ["bench", "embedded-ad", "--budget", "smoke", "--seeds", "2",
            "--models", "iforest,knn", "--datasets", "wine-ad", "--db", str(db)]
    rows = zoo_json(*args)
    assert len(rows) == 4
    for row in rows:
        assert {"model", "backbone", "dataset", "setting", "seed", "status", "metrics",
                "seconds"} <= set(row)
        assert row["status"] == "ok" and 0 <= row["metrics"]["auroc"] <= 1
    assert zoo_json(*args) == rows  # resumed: every cell already stored
    assert count_rows(db) == 4
    board = zoo("leaderboard", "embedded-ad", "--db", str(db)).stdout
    assert "iforest" in board and "wine-ad" in board
    data = json.loads(zoo("leaderboard", "embedded-ad", "--db", str(db), "--format",
                          "json").stdout)
    assert data["suite"] == "embedded-ad"


def test_first_seed_spreads_seeds_over_runs_of_one_database(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    args = ["bench", "embedded-ad", "--budget", "smoke", "--models", "iforest", "--datasets",
            "wine-ad", "--db", str(db)]
    first = zoo_json(*args, "--seeds", "2")
    later = zoo_json(*args, "--seeds", "2", "--first-seed", "1")
    assert [row["seed"] for row in first] == [0, 1]
    assert [row["seed"] for row in later] == [1, 2]
    assert later[0] == first[1]  # seed 1 was stored by the first run, not run again
    assert count_rows(db) == 3


def test_train_from_a_config_then_evaluate_on_the_untouched_test_split(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    config = tmp_path / "run.yaml"
    config.write_text("model: mlp\ndata: wine\nmax_epochs: 5\nset:\n  hidden: 32,16\n")
    trained = zoo_json("train", "--config", str(config), "--set", "lr=0.003", "--db", db)
    assert trained["status"] == "ok"
    with sqlite3.connect(db) as conn:
        hparams = json.loads(conn.execute("SELECT hparams FROM runs").fetchone()[0])
    assert hparams["hidden"] == [32, 16] and hparams["lr"] == 0.003
    evaluated = zoo_json("evaluate", trained["id"][:8], "--data", "wine", "--db", db)
    assert evaluated["status"] == "ok"
    assert 0.5 < evaluated["metrics"]["accuracy"] <= 1
    by_default = zoo_json("evaluate", trained["id"][:8], "--db", db)  # the run's own data
    assert (by_default["dataset"], by_default["metrics"]) == ("wine", evaluated["metrics"])


def test_a_run_trained_in_bf16_mixed_says_so_and_evaluates(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    trained = zoo_json("train", "mlp", "--data", "wine", "--precision", "bf16-mixed",
                       "--max-epochs", "3", "--db", db)
    assert trained["status"] == "ok" and trained["extra"]["precision"] == "bf16-mixed"
    evaluated = zoo_json("evaluate", trained["id"][:8], "--db", db)
    assert evaluated["status"] == "ok" and 0 < evaluated["metrics"]["accuracy"] <= 1
    in_float32 = zoo_json("train", "mlp", "--data", "wine", "--max-epochs", "1", "--db", db)
    assert "precision" not in in_float32["extra"]


def test_a_gan_leaves_a_sample_grid_and_is_evaluated_by_fid_and_kid(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    trained = zoo_json("train", "gan[cnn]", "--data", "digits", "--max-epochs", "1",
                       "--db", db)
    grid = Path(trained["checkpoint"]).parent / "samples.png"
    assert grid.read_bytes().startswith(b"\x89PNG")
    first, again = (zoo_json("evaluate", trained["id"], "--db", db) for _ in range(2))
    assert first["status"] == "ok" and first["metrics"] == again["metrics"]  # seeded
    assert first["metrics"]["fid"] > 0 and first["metrics"]["ref_accuracy"] > 0.9


def test_a_character_model_trains_on_a_text_file_and_its_card_keeps_the_vocabulary(
        tmp_path: Path) -> None:
    text = tmp_path / "verse.txt"
    text.write_text("to be, or not to be: that is the question. " * 60, encoding="utf-8")
    db = str(tmp_path / "runs.db")
    trained = zoo_json("train", "rnn", "--data", str(text), "--max-epochs", "1", "--set",
                       "hidden=16", "--db", db)
    assert trained["status"] == "ok" and trained["metrics"]["best_val_loss"] > 0
    with sqlite3.connect(db) as conn:
        checkpoint = conn.execute("SELECT checkpoint FROM runs").fetchone()[0]
    card = json.loads((Path(checkpoint) / "card.json").read_text())
    assert card["vocab"] == sorted(set(text.read_text()))
    assert card["data_info"]["shape"] == [64]  # the text-gen suite's quick windows
    sample = (Path(checkpoint).parent / "sample.txt").read_text(encoding="utf-8")
    assert len(sample) == 1000 and set(sample) <= set(card["vocab"])
    evaluated = zoo_json("evaluate", trained["id"][:8], "--data", str(text), "--db", db)
    assert evaluated["metrics"]["bpd"] > 0  # bits per character on the held-out 10%


def test_a_forecaster_trains_on_a_series_file_and_scores_its_anomaly(tmp_path: Path) -> None:
    steps = np.arange(1200)
    values = np.sin(steps / 8)
    values[1000] += 6.0
    labels = (np.abs(steps - 1000) < 10).astype(int)
    series = tmp_path / "series.csv"
    stamps = np.datetime64("2024-01-01T00:00") + steps * np.timedelta64(5, "m")
    series.write_text("timestamp,value,label\n" + "".join(
        f"{t},{v:.5f},{y}\n" for t, v, y in zip(stamps.astype(str), values, labels,
                                                strict=True)))
    db = str(tmp_path / "runs.db")
    trained = zoo_json("train", "rnn", "--data", str(series), "--max-epochs", "20", "--set",
                       "hidden=16", "--set", "lr=0.01", "--db", db)
    assert trained["status"] == "ok"
    evaluated = zoo_json("evaluate", trained["id"][:8], "--data", str(series), "--db", db)
    assert evaluated["metrics"]["auroc"] > 0.8  # the windows around the spike stand out


def test_a_suite_runs_on_the_users_own_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    x[-10:] += 6
    path = tmp_path / "mine.csv"
    lines = ["a,b,c,d,label"] + [",".join(f"{v:.5f}" for v in row) + f",{int(i >= 190)}"
                                 for i, row in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")
    rows = zoo_json("bench", "embedded-ad", "--budget", "smoke", "--seeds", "1", "--models",
                    "iforest", "--datasets", str(path), "--db", str(tmp_path / "runs.db"))
    assert rows[0]["dataset"] == str(path) and rows[0]["metrics"]["auroc"] > 0.9


def write_csv_with_a_string(tmp_path: Path) -> Path:
    path = tmp_path / "table.csv"
    path.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    return path


@pytest.fixture(scope="module")
def stored_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results database holding one finished benchmark row."""
    db = tmp_path_factory.mktemp("stored") / "runs.db"
    zoo("bench", "embedded-ad", "--budget", "smoke", "--seeds", "1", "--models", "iforest",
        "--datasets", "wine-ad", "--db", str(db))
    return db


@pytest.mark.parametrize(("args", "message"), [
    (["train", "mlpp", "--data", "wine"], "did you mean 'mlp'"),
    (["train", "mlp", "--data", "wien"], "did you mean 'wine'"),
    (["train", "mlp", "--data", "wine", "--set", "lr=abc"], "lr='abc' must be a number > 0"),
    (["train", "mlp", "--data", "{csv}"], "'oops' is not a number"),
    (["bench", "no-such-suite"], "unknown suite"),
    (["leaderboard", "supervised", "--format", "xml"], "'xml' is not one of"),
    (["train", "mlp", "--data", "wine", "--seed", "-1"], "-1 is not in the range x>=0"),
    (["bench", "embedded-ad", "--models", ","], "--models ',' names nothing"),
    (["bench", "image-ad", "--classes", " ,", "--datasets", "digits"],
     "--classes ' ,' names nothing"),
])
def test_bad_input_is_one_line_and_loses_nothing(tmp_path: Path, stored_db: Path,
                                                  args: list[str], message: str) -> None:
    db = tmp_path / "runs.db"
    shutil.copy(stored_db, db)
    args = [a.replace("{csv}", str(write_csv_with_a_string(tmp_path))) for a in args]
    done = zoo(*args, "--db", str(db), check=False) if args[0] != "leaderboard" else \
        zoo(*args, check=False)
    assert done.returncode != 0
    error_lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(error_lines) <= 3, done.stderr  # click's usage lines at most, no traceback
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert count_rows(db) == 1


# A registered dataset's file, missing or corrupt, as every suite meets it before any cell.
MISSING_DATA = [  # suite, model, registered dataset whose files the empty data directory lacks
    ("supervised", "mlp", "mnist"),
    ("tabular-ad", "iforest", "cardio"),
    ("image-ad", "iforest", "mnist"),
    ("image-gen", "vae", "mnist"),
    ("text-gen", "rnn", "tiny-shakespeare"),
    ("ts-ad", "iforest", "nab"),
]


def bench_without_files(tmp_path: Path, suite: str, model: str, *datasets: str,
                        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``zoo bench SUITE`` at the smoke budget on ``datasets`` (the suite's default when
    none), offline, with an empty data directory unless ``env`` names another."""
    empty = tmp_path / "empty-data"
    empty.mkdir(exist_ok=True)
    chosen = ["--datasets", ",".join(datasets)] if datasets else []
    return zoo("bench", suite, "--models", model, *chosen, "--budget", "smoke", "--seeds", "1",
               "--db", str(tmp_path / "runs.db"),
               env={"ZOO_DATA_DIR": str(empty), "ZOO_OFFLINE": "1", **(env or {})},
               check=False)


def assert_refused_in_one_line(done: subprocess.CompletedProcess[str], db: Path,
                               *said: str) -> None:
    """Exit status 2, one line of error saying each of ``said``, and no row stored. A
    download's progress bar is no line of it: a terminal erases it (captured, ``text=True``
    turns its carriage returns into line breaks)."""
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines()
             if line.strip() and not line.rstrip().endswith("B/s]")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for part in said:
        assert part in done.stderr
    assert count_rows(db) == 0


@pytest.mark.parametrize(("suite", "model", "dataset"), MISSING_DATA)
def test_every_suite_refuses_a_missing_dataset_file_before_any_cell(
        tmp_path: Path, suite: str, model: str, dataset: str) -> None:
    done = bench_without_files(tmp_path, suite, model, dataset)
    assert_refused_in_one_line(done, tmp_path / "runs.db", "is missing and ZOO_OFFLINE=1 "
                               "forbids downloading", str(tmp_path / "empty-data"))


@pytest.mark.parametrize(("suite", "model", "defaults", "first_file"), [
    ("text-gen", "rnn", "tiny-shakespeare", "tinyshakespeare/input.txt"),
    ("ts-ad", "iforest", "nab", "nab/data/"),
])
def test_a_suite_without_its_default_datasets_says_which_files_are_missing(
        tmp_path: Path, suite: str, model: str, defaults: str, first_file: str) -> None:
    done = bench_without_files(tmp_path, suite, model)
    assert_refused_in_one_line(
        done, tmp_path / "runs.db",
        f"suite '{suite}' has none of its datasets ({defaults}) in the data directory "
        f"{tmp_path / 'empty-data'} (ZOO_DATA_DIR): dataset file {first_file}",
        "ZOO_OFFLINE=1 forbids downloading")
    assert "no model fits" not in done.stderr


@pytest.mark.parametrize(("suite", "model", "dataset", "said"), [
    ("text-gen", "rnn", "digits", "dataset 'digits' (image: classify, detect, generate) does "
                                  "not fit suite 'text-gen' (text: generate)"),
    ("supervised", "mlp", "nab", "dataset 'nab' (timeseries: detect) does not fit suite "
                                 "'supervised' (tabular or image: classify, regress)"),
    ("text-gen", "rnn", "{table}", "(tabular: classify, detect, generate) does not fit suite "
                                   "'text-gen' (text: generate)"),
])
def test_a_dataset_of_another_modality_is_refused_naming_both(
        tmp_path: Path, suite: str, model: str, dataset: str, said: str) -> None:
    table = tmp_path / "table.npz"
    np.savez(table, X=np.zeros((20, 3)), y=np.arange(20) % 2)
    done = bench_without_files(tmp_path, suite, model, dataset.format(table=table))
    assert_refused_in_one_line(done, tmp_path / "runs.db", said)


FAKE_TABLE_PLUGIN = """
    from zoo import DataFile, DatasetSpec, hookimpl

    @hookimpl
    def zoo_register_datasets(register):
        register(DatasetSpec(
            name="fake-table", modality="tabular", tasks=("detect",),
            loader="zoo.data.loaders:adbench",
            files=(DataFile("fake/table.npz", "http://127.0.0.1:9/table.npz", {sha256!r},
                            {size}),)))
"""


def fake_table_plugin(tmp_path: Path, content: bytes) -> Path:
    """A plugins folder registering ``fake-table``, whose one file's registered checksum and
    size are those of ``content`` and whose URL is a closed local port."""
    import hashlib

    plugin = tmp_path / "plugins"
    plugin.mkdir()
    (plugin / "fake_data.py").write_text(textwrap.dedent(FAKE_TABLE_PLUGIN).format(
        sha256=hashlib.sha256(content).hexdigest(), size=len(content)))
    return plugin


def test_a_file_with_a_wrong_checksum_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "fake").mkdir(parents=True)
    (data_dir / "fake" / "table.npz").write_bytes(b"not the real file")
    plugin = fake_table_plugin(tmp_path, b"the real file")
    done = zoo("--plugins-dir", str(plugin), "train", "iforest", "--data", "fake-table",
               "--db", str(tmp_path / "runs.db"), env={"ZOO_DATA_DIR": str(data_dir)},
               check=False)
    assert done.returncode != 0
    assert "sha256" in done.stderr and "Traceback" not in done.stderr


def test_a_bench_refuses_a_corrupt_dataset_file_before_any_cell(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "fake").mkdir(parents=True)
    (data_dir / "fake" / "table.npz").write_bytes(b"the real file, truncated")
    plugin = fake_table_plugin(tmp_path, b"the real file, truncated and more")
    done = zoo("--plugins-dir", str(plugin), "bench", "tabular-ad", "--datasets", "fake-table",
               "--models", "iforest", "--budget", "smoke", "--seeds", "1",
               "--db", str(tmp_path / "runs.db"), env={"ZOO_DATA_DIR": str(data_dir)},
               check=False)
    assert_refused_in_one_line(done, tmp_path / "runs.db", "has the wrong checksum",
                               "delete it to download it again")


def test_a_failed_download_is_one_line_without_the_downloaders_retries(tmp_path: Path) -> None:
    plugin = fake_table_plugin(tmp_path, b"never served")
    env = {key: value for key, value in os.environ.items() if key != "ZOO_OFFLINE"}
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "--plugins-dir", str(plugin), "bench", "tabular-ad",
         "--datasets", "fake-table", "--models", "iforest", "--budget", "smoke", "--seeds", "1",
         "--db", str(tmp_path / "runs.db")], capture_output=True, text=True, timeout=300,
        env={**env, "ZOO_DATA_DIR": str(tmp_path / "data")})
    assert_refused_in_one_line(done, tmp_path / "runs.db", "could not be downloaded",
                               "http://127.0.0.1:9/table.npz")


def test_ddp_on_two_cpu_processes_stores_one_row(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    row = zoo_json("train", "mlp", "--data", "wine", "--devices", "2", "--accelerator", "cpu",
                   "--max-epochs", "3", "--db", str(db))
    assert row["status"] == "ok"
    assert count_rows(db) == 1  # only rank 0 writes to the store
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT device FROM runs").fetchone()[0] == "cpu x2"


def test_a_ddp_bench_prints_one_json_document_from_rank_0(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    done = zoo("bench", "embedded-ad", "--budget", "smoke", "--models", "autoencoder",
               "--datasets", "wine-ad", "--seeds", "1", "--devices", "2", "--accelerator", "cpu",
               "--db", str(db), "--json")
    rows = json.loads(done.stdout)  # rank 1 prints nothing beside it
    assert [row["status"] for row in rows] == ["ok"]
    assert count_rows(db) == 1
    assert done.stderr.count("cells, 0 not ok") == 0  # --json: no summary line either




# Models that each lack one method of the contract.
CONTRACT_GAPS = """
    from zoo import DataInfo, ModelSpec, ZooModel, hookimpl


    class Complete(ZooModel):
        def __init__(self, data_info: DataInfo) -> None:
            self.data_info = data_info

        def fit(self, splits, config):
            return {}

        def hyperparameters(self):
            return {}

        def save_state(self, directory):
            pass

        def load_state(self, directory):
            pass

        def score(self, x):
            import torch

            return torch.zeros(len(x))


    def lacking(method):
        body = {k: v for k, v in vars(Complete).items() if k == "__init__" or not k.startswith("_")}
        del body[method]
        return type("No" + method.title().replace("_", ""), (ZooModel,), body)


    NoHyperparameters = lacking("hyperparameters")
    NoSaveState = lacking("save_state")
    NoScore = lacking("score")


    @hookimpl
    def zoo_register_models(register):
        for name in ("NoHyperparameters", "NoSaveState", "NoScore"):
            register(ModelSpec(name=name.lower(), kind="method", tasks=("detect",),
                               modalities=("tabular",), implementation=f"{__name__}:{name}"))
"""


@pytest.mark.parametrize(("model", "status", "said"), [
    ("nohyperparameters", 2, "Error: NoHyperparameters does not implement hyperparameters(), "
                             "required of every model: see docs/concepts.md"),
    ("noscore", 2, "Error: NoScore does not implement score(), required of a detect model: "
                   "see docs/concepts.md"),
    ("nosavestate", 1, "NoSaveState does not implement save_state(), required of every "
                       "model: see docs/concepts.md"),
])
def test_a_model_lacking_a_method_of_the_contract_is_one_line(tmp_path: Path, model: str,
                                                              status: int, said: str) -> None:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "gaps.py").write_text(textwrap.dedent(CONTRACT_GAPS))
    db = tmp_path / "runs.db"
    done = zoo("--plugins-dir", str(directory), "train", model, "--data", "wine-ad", "--db",
               str(db), "--json", check=False)
    assert done.returncode == status, done.stderr
    if status == 2:  # refused before it runs: nothing stored
        assert done.stderr.splitlines() == [said] and statuses(db) == []
    else:  # failed while it ran: stored failed with the reason
        assert json.loads(done.stdout)["error"] == said and "Traceback" not in done.stderr
        assert statuses(db) == ["failed"]


def test_a_killed_bench_leaves_its_row_failed_not_running(tmp_path: Path,
                                                          sleepy_plugin: SleepyPlugin) -> None:
    db = tmp_path / "runs.db"
    bench = sleepy_plugin.start("bench", "embedded-ad", "--models", "sleepy", "--datasets",
                                "wine-ad", "--seeds", "1", "--db", str(db))
    sleepy_plugin.wait_until_sleeping(bench)
    assert statuses(db) == ["running"]
    bench.send_signal(signal.SIGTERM)
    assert sleepy_plugin.exit_status(bench) == 128 + signal.SIGTERM
    assert statuses(db) == ["failed"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT error FROM runs").fetchone()[0] == "interrupted"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_an_interrupt_that_lands_in_a_finalizer_still_stops_the_command(signum: int) -> None:
    """A signal can arrive while a finalizer runs (importlib runs one for each module it
    imports): Python drops the exception its handler raises there, and the command would
    train on; the signal is sent again and stops it at the next line."""
    from zoo.cli.common import _interruptible

    class SignalledWhileFinalized:
        def __del__(self) -> None:
            signal.raise_signal(signum)  # the handler runs in here

    started = time.monotonic()
    with (pytest.raises(SystemExit if signum == signal.SIGTERM else KeyboardInterrupt),
          _interruptible()):
        SignalledWhileFinalized()
        time.sleep(30)  # trains on
    assert time.monotonic() - started < 10


def statuses(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db) as conn:
            return [status for (status,) in conn.execute("SELECT status FROM runs")]
    except sqlite3.OperationalError:  # the store is still creating its table
        return []


def gpu_visible() -> bool:
    import torch

    return torch.cuda.is_available()


TRAIN_WINE = ["train", "mlp", "--data", "wine"]


@pytest.mark.parametrize(("args", "said"), [
    ([*TRAIN_WINE, "--devices", "99"], "devices=99: accelerator 'auto' has "),
    (["bench", "embedded-ad", "--devices", "99", "--accelerator", "cpu"],
     "devices=99: accelerator 'cpu' has "),
    pytest.param([*TRAIN_WINE, "--accelerator", "gpu"], "accelerator 'gpu' asked for, but no GPU",
                 marks=pytest.mark.skipif(gpu_visible(), reason="a GPU is visible here")),
    ([*TRAIN_WINE, "--accelerator", "cpu", "--precision", "16-mixed"],
     "precision '16-mixed' needs a GPU"),
])
def test_more_devices_than_there_are_is_refused_before_anything_starts(
        tmp_path: Path, args: list[str], said: str) -> None:
    db = tmp_path / "runs.db"
    done = zoo(*args, "--db", str(db), check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: {said}"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    assert not db.exists()  # nothing stored, no process started


def zoo_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """The real CLI with stderr on a pseudo-terminal (100 columns) and stdout on a pipe:
    ``(exit status, stdout, stderr)``."""
    import fcntl
    import pty
    import struct
    import termios

    terminal, stderr = pty.openpty()
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "zoo", *args], stdout=subprocess.PIPE,
                               stderr=stderr, stdin=subprocess.DEVNULL)
    os.close(stderr)
    drawn = []
    while True:  # read as it comes: a full terminal buffer would block the child
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        drawn.append(chunk)
    os.close(terminal)
    stdout = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=300), stdout, b"".join(drawn).decode(errors="replace")


TRAIN = ["train", "mlp", "--data", "wine", "--max-epochs", "2", "--json"]
BENCH = ["bench", "embedded-ad", "--budget", "smoke", "--seeds", "2", "--models", "iforest",
         "--datasets", "wine-ad", "--json"]


@pytest.mark.parametrize(("command", "shown"), [
    (TRAIN, ["epoch 2/2", "step/s", "loss=", "val_loss="]),
    (BENCH, ["1/2 cells", "2/2 cells", "s left"]),  # elapsed, then an estimate of the rest
])
def test_a_terminal_gets_a_progress_bar_on_stderr_and_json_stays_clean(
        tmp_path: Path, command: list[str], shown: list[str]) -> None:
    status, stdout, stderr = zoo_on_a_terminal(*command, "--db", str(tmp_path / "runs.db"))
    assert status == 0, stderr
    assert "100%|" in stderr and all(text in stderr for text in shown), stderr
    assert json.loads(stdout)  # nothing but the JSON on stdout


@pytest.mark.parametrize(("command", "line"), [(TRAIN[:-1], "mlp on wine: ok"),
                                             (BENCH[:-1], "[      ok] iforest")])
def test_no_bar_without_a_terminal_or_with_quiet(tmp_path: Path, command: list[str],
                                                 line: str) -> None:
    piped = zoo(*command, "--db", str(tmp_path / "a.db"))
    assert line in piped.stdout + piped.stderr  # a log still reads what happened
    _, _, quiet = zoo_on_a_terminal(*command, "--quiet", "--db", str(tmp_path / "b.db"))
    for stderr in (piped.stderr, quiet):
        assert "%|" not in stderr and "\r" not in stderr.replace("\r\n", ""), stderr
    assert line not in quiet  # bench: no line per cell either
