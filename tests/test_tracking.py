"""Trackers: choosing them (``--tracker``, ``ZOO_TRACKER``), a tracker that raises, the JSON-lines
example of docs/tracking.md, and the built-in W&B tracker with the real wandb library offline.

W&B's runs are read back from wandb's own run files: ``run-*.wandb`` is a log of 32 KiB blocks
after a 7-byte ``:W&B`` header, each record a ``wandb.proto`` ``Record`` message split into
chunks with a 7-byte header (checksum, length, type), as wandb's data store writes them.
"""

from __future__ import annotations

import html
import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from sklearn.metrics import roc_curve

from zoo import hookimpl, plugins
from zoo.errors import UnknownNameError
from zoo.plugins import PluginHost
from zoo.plugins.specs import TrackerSpec
from zoo.runs.results import RunResult
from zoo.tracking import LEADERBOARD_COLUMNS, leaderboard_rows

if TYPE_CHECKING:
    from conftest import SleepyPlugin

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "docs" / "examples"


def zoo(*args: str, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real ``zoo`` CLI, offline: no W&B credentials reach it (HOME has no netrc)."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("WANDB_") and k != "ZOO_TRACKER"}
    done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"zoo {' '.join(args)} failed:\n{done.stderr}")
    return done


def wandb_env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "WANDB_SILENT": "true"}


# -- choosing trackers ------------------------------------------------------------------------

class CountingTracker:
    """A throwaway tracker plugin registering ``counting``."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.suites: list[str] = []

    @hookimpl
    def zoo_register_trackers(self, register: Any) -> None:
        register(TrackerSpec("counting"))

    @hookimpl
    def zoo_run_started(self, run: RunResult) -> None:
        self.started.append(run.id)

    @hookimpl
    def zoo_suite_finished(self, suite: str, leaderboard: dict[str, Any]) -> None:
        self.suites.append(suite)


def host_with(tracker: object, env: dict[str, str] | None = None) -> PluginHost:
    host = PluginHost(entry_points=[], env=env or {})
    host.add("counting", lambda: tracker, source="entry-point")
    assert host.plugins["counting"].status == "ok", host.plugins["counting"].reason
    return host


def a_row() -> RunResult:
    return RunResult(kind="train", model="m", plugin="p", dataset="d")


def test_a_tracker_is_called_only_while_selected() -> None:
    tracker = CountingTracker()
    host = host_with(tracker)
    assert host.selected_trackers() == ("csv",)
    host.hook.zoo_run_started(run=a_row())
    host.hook.zoo_suite_finished(suite="s", leaderboard={}, figures={})
    assert tracker.started == [] and tracker.suites == []
    assert host.select_trackers(["csv", "counting"]) == ("csv", "counting")
    host.hook.zoo_run_started(run=a_row())
    host.hook.zoo_suite_finished(suite="s", leaderboard={}, figures={})
    assert len(tracker.started) == 1 and tracker.suites == ["s"]
    assert host.plugins["counting"].trackers == ["counting"]
    assert {"csv", "wandb", "counting"} == set(host.trackers())


def test_zoo_tracker_is_the_default_selection() -> None:
    tracker = CountingTracker()
    host = host_with(tracker, env={"ZOO_TRACKER": "counting"})
    host.hook.zoo_run_started(run=a_row())
    assert host.selected_trackers() == ("counting",) and len(tracker.started) == 1


def test_an_unknown_tracker_is_one_line_naming_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown tracker 'wandbb'; did you mean "
                                               r"'wandb'\? valid: counting, csv, wandb"):
        host_with(CountingTracker()).select_trackers(["csv", "wandbb"])
    done = zoo("train", "mlp", "--data", "wine", "--tracker", "csv,nope", "--db",
               str(tmp_path / "runs.db"), check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: unknown tracker 'nope'; valid: csv, wandb"]


def test_listing_imports_neither_wandb_nor_torch(
        imported_by_commands: Callable[..., list[str]]) -> None:
    assert imported_by_commands([["--help"], ["models"], ["plugins"]],
                                ("wandb", "torch", "lightning"),
                                env={**os.environ, "ZOO_TRACKER": "wandb"}) == []


RAISING_TRACKER = """
    from zoo import TrackerSpec, hookimpl


    @hookimpl
    def zoo_register_trackers(register):
        register(TrackerSpec("raising"))


    @hookimpl
    def zoo_run_started(run):
        raise ConnectionError("the tracking server is down")
"""


def test_a_tracker_that_raises_never_fails_the_run(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "raising.py").write_text(textwrap.dedent(RAISING_TRACKER))
    db = tmp_path / "runs.db"
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    done = zoo("--plugins-dir", str(plugins), "bench", "embedded-ad", "--budget", "smoke",
               "--models", "iforest", "--datasets", "wine-ad", "--seeds", "2",
               "--tracker", "raising,wandb", "--db", str(db), "--json",
               env={**wandb_env(tmp_path), "WANDB_DIR": str(not_a_folder)})
    assert [row["status"] for row in json.loads(done.stdout)] == ["ok", "ok"]
    assert ("zoo plugin 'raising' is broken: zoo_run_started raised ConnectionError: "
            "the tracking server is down") in done.stderr
    # W&B's calls fail in its writer process (WANDB_DIR is a file): a warning per W&B run.
    warned = [line for line in done.stderr.splitlines()
              if line.startswith("warning: W&B tracker: FileExistsError")]
    assert len(warned) == 3  # two cells and the leaderboard
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs").fetchall() == [("ok",), ("ok",)]


FIGURES_TRACKER = """
    import json
    import os

    from zoo import TrackerSpec, hookimpl


    @hookimpl
    def zoo_register_trackers(register):
        register(TrackerSpec("figures"))


    @hookimpl
    def zoo_suite_finished(suite, leaderboard, figures):
        with open(os.environ["FIGURES_LOG"], "w") as log:
            json.dump({name: str(path) for name, path in figures.items()}, log)
"""


def test_the_leaderboards_figures_reach_a_suite_finished_that_takes_them(
        tmp_path: Path) -> None:
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    (plugins_dir / "figures.py").write_text(textwrap.dedent(FIGURES_TRACKER))
    log = tmp_path / "figures.json"
    db = tmp_path / "store" / "runs.db"
    zoo("--plugins-dir", str(plugins_dir), "bench", "embedded-ad", "--budget", "smoke",
        "--models", "iforest,knn", "--datasets", "wine-ad,breast-cancer-ad", "--seeds", "1",
        "--tracker", "figures", "--db", str(db), env={"FIGURES_LOG": str(log)})
    figures = {name: Path(path) for name, path in json.loads(log.read_text()).items()}
    assert list(figures) == ["setting-semi-budget-smoke/cd", "setting-semi-budget-smoke/heatmap",
                             "setting-semi-budget-smoke/bars"]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in figures.values())
    assert {path.parent for path in figures.values()} == {
        db.parent / "runs" / "leaderboard-figures" / "embedded-ad"}


def test_the_jsonl_example_tracker_records_runs_epochs_and_the_leaderboard(
        tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    env = {"ZOO_JSONL_FILE": str(log), "ZOO_TRACKER": "jsonl"}
    db = str(tmp_path / "runs.db")
    trained = json.loads(zoo("--plugins-dir", str(EXAMPLES), "train", "mlp", "--data", "wine",
                             "--max-epochs", "2", "--db", db, "--json", env=env).stdout)
    zoo("--plugins-dir", str(EXAMPLES), "bench", "embedded-ad", "--budget", "smoke",
        "--models", "iforest", "--datasets", "wine-ad", "--seeds", "1", "--db", db, env=env)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["event"] for e in events] == ["started", "epoch", "epoch", "finished",
                                             "started", "finished", "leaderboard"]
    assert events[3]["metrics"] == trained["metrics"]
    assert [e["epoch"] for e in events[1:3]] == [0, 1]
    assert events[-1]["leaderboard"]["suite"] == "embedded-ad"
    assert not (Path(trained["checkpoint"]).parent / "metrics.csv").exists()  # csv not chosen
    # Its zoo_suite_finished takes no figures, so none were drawn.
    assert not (tmp_path / "runs" / "leaderboard-figures").exists()


# -- W&B, offline, read back from its own run files ------------------------------------------

def wandb_records(path: Path) -> Iterator[Any]:
    """Every ``Record`` of a ``run-*.wandb`` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, position, chunks = 32 * 1024, 7, b""
    while position + 7 <= len(data):
        left = block - position % block
        _checksum, length, kind = struct.unpack("<IHB", data[position:position + 7])
        if left < 7 or (length, kind) == (0, 0):  # the rest of a block is padding
            position += left
            continue
        chunks += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunks)
            chunks = b""
            yield record


class WandbRun:
    """What one offline W&B run wrote: its run record, config, summary, history, artifacts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.artifacts: list[Any] = []
        for record in wandb_records(next(folder.glob("run-*.wandb"))):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                self.run = record.run
                self.config.update({u.key: json.loads(u.value_json)
                                    for u in record.run.config.update})
            elif kind == "config":  # updated after the start: the data's shape
                self.config.update({_key(u): json.loads(u.value_json)
                                    for u in record.config.update})
            elif kind == "summary":
                self.summary.update({_key(u): json.loads(u.value_json)
                                     for u in record.summary.update})
            elif kind == "history":
                self.history.append({_key(i): json.loads(i.value_json)
                                     for i in record.history.item})
            elif kind == "artifact":
                self.artifacts.append(record.artifact)
            elif kind == "exit":
                self.exit_code: int | None = record.exit.exit_code


def _key(item: Any) -> str:
    return item.key or ".".join(item.nested_key)


def wandb_runs(root: Path) -> list[WandbRun]:
    return [WandbRun(folder) for folder in sorted((root / "wandb").glob("offline-run-*"))]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    """mlp trained on wine for two epochs with ``--tracker wandb``, no W&B credentials."""
    tmp_path = tmp_path_factory.mktemp("wandb-train")
    db = tmp_path / "store" / "runs.db"
    db.parent.mkdir()
    done = zoo("train", "mlp", "--data", "wine", "--max-epochs", "2", "--db", str(db),
               "--tracker", "wandb", "--json", env=wandb_env(tmp_path))
    return db.parent, json.loads(done.stdout), done.stderr


def test_without_credentials_a_run_is_written_offline_beside_the_store(
        trained: tuple[Path, dict[str, Any], str]) -> None:
    store_dir, _, stderr = trained
    [run] = wandb_runs(store_dir)
    sync = [line for line in stderr.splitlines() if "wandb sync" in line]
    assert sync == ["W&B runs written offline; upload them with: "
                    f"wandb sync {store_dir / 'wandb'}/offline-run-*"]
    assert (run.run.project, run.run.job_type, run.run.display_name) == (
        "zoo", "train", "mlp-wine-0")
    assert run.run.run_group == "train/mlp/wine"


def test_a_wandb_run_records_config_curves_summary_and_the_model(
        trained: tuple[Path, dict[str, Any], str]) -> None:
    _, row, _ = trained
    [run] = wandb_runs(trained[0])
    config = run.config
    assert (config["model"], config["dataset"], config["seed"]) == ("mlp", "wine", 0)
    assert config["zoo_run_id"] == row["id"]
    assert config["hparams"]["hidden"] and config["device"] == "cpu"
    assert config["data_shape"] == row["extra"]["data_shape"]
    assert config["data_shape"]["sample"] == [13] and config["data_shape"]["train"] > 0
    assert {"zoo", "torch", "lightning"} <= set(config["versions"])
    curves: dict[int, set[str]] = {}
    for logged in run.history:
        curves.setdefault(logged["epoch"], set()).update(logged)
    assert list(curves) == [0, 1]
    assert all({"train_loss", "val_loss", "val_metric", "lr"} <= names
               for names in curves.values())
    assert {k: run.summary[k] for k in row["metrics"]} == row["metrics"]
    [artifact] = run.artifacts
    assert artifact.type == "model" and "best" in artifact.aliases
    files = {entry.path for entry in artifact.manifest.contents}
    assert any(path.endswith(".safetensors") for path in files) and "card.json" in files


def test_a_bench_makes_one_wandb_run_per_cell_and_one_leaderboard_run(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    args = ["bench", "embedded-ad", "--budget", "smoke", "--models", "iforest,knn",
            "--datasets", "wine-ad", "--seeds", "2", "--db", str(db), "--json",
            "--tracker", "csv,wandb", "--wandb-project", "zoo-tests", "--wandb-entity", "my-lab"]
    rows = json.loads(zoo(*args, env=wandb_env(tmp_path)).stdout)
    runs = wandb_runs(tmp_path)
    cells = [run for run in runs if run.run.job_type == "train"]
    [board] = [run for run in runs if run.run.job_type == "leaderboard"]
    assert len(runs) == 5
    by_id = {run.config["zoo_run_id"]: run for run in cells}
    assert set(by_id) == {row["id"] for row in rows}
    for row in rows:
        run = by_id[row["id"]]
        assert (run.run.project, run.run.entity) == ("zoo-tests", "my-lab")
        assert run.run.run_group == f"embedded-ad/{row['model']}/wine-ad"
        assert run.run.display_name == f"{row['model']}-wine-ad-{row['seed']}"
        assert {"bench", "embedded-ad", "smoke", "zoo-baselines"} <= set(run.run.tags)
        assert (run.config["suite"], run.config["budget"]) == ("embedded-ad", "smoke")
        assert {k: run.summary[k] for k in row["metrics"]} == row["metrics"]
        stored = json.loads(zoo("runs", "show", row["id"], "--db", str(db), "--json",
                                env=wandb_env(tmp_path)).stdout)
        assert run.config["hparams"] == stored["run"]["hparams"] != {}  # resolved ones
        assert run.run.run_id == row["id"]
        pattern = f"{tmp_path / 'wandb'}/offline-run-*-{row['id']}"
        assert stored["run"]["extra"]["wandb"] == {
            "path": f"my-lab/zoo-tests/{row['id']}", "dir": pattern,
            "sync": f"wandb sync {pattern}"}
        assert stored["trackers"]["wandb"]["dir"] == str(run.folder)  # the one it matches
    [table_file] = board.folder.glob("files/media/table/leaderboard_*.table.json")
    table = json.loads(table_file.read_text())
    expected = json.loads(zoo("leaderboard", "embedded-ad", "--db", str(db), "--format",
                              "json").stdout)
    assert table["columns"] == list(LEADERBOARD_COLUMNS)
    assert table["data"] == json.loads(json.dumps(leaderboard_rows(expected)))
    figures = tmp_path / "runs" / "leaderboard-figures" / "embedded-ad"  # one dataset: no CD
    for name, drawn in (("heatmap", "section0-heatmap.png"), ("bars", "section0-bars.png")):
        key = f"figures/setting-semi-budget-smoke/{name}"
        assert board.summary[f"{key}._type"] == "image-file"
        [image] = board.folder.glob(f"files/media/images/{key}_*.png")
        assert image.read_bytes() == (figures / drawn).read_bytes()
    zoo(*args, env=wandb_env(tmp_path))  # resumed: every cell is stored, none runs again
    again = wandb_runs(tmp_path)
    assert sorted(run.run.job_type for run in again) == ["leaderboard"] * 2 + ["train"] * 4


#: How ``zoo`` exits when stopped: SIGTERM's conventional status, click's ``Aborted!`` on Ctrl-C.
STOPPED_EXIT_CODES = {"sigterm": 128 + signal.SIGTERM, "ctrl-c": 1}


@pytest.mark.parametrize("stop", list(STOPPED_EXIT_CODES))
def test_a_stopped_bench_writes_every_wandb_run_it_opened(
        stop: str, tmp_path: Path, sleepy_plugin: SleepyPlugin) -> None:
    """The W&B calls run in a writer process: a SIGTERM to zoo, or a terminal's Ctrl-C (a
    SIGINT to the whole process group, the writer included), while the second cell trains
    still leaves the first cell's run whole and the second's closed, as failed."""
    db = tmp_path / "runs.db"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WANDB_")},
           **wandb_env(tmp_path), "ZOO_TRACKER": "wandb"}
    bench = sleepy_plugin.start("bench", "embedded-ad", "--budget", "smoke", "--models",
                                "iforest,sleepy", "--datasets", "wine-ad", "--seeds", "1",
                                "--db", str(db), env=env, start_new_session=True)
    sleepy_plugin.wait_until_sleeping(bench)
    assert stored(db) == [("iforest", "ok"), ("sleepy", "running")]
    if stop == "sigterm":
        bench.send_signal(signal.SIGTERM)
    else:
        os.killpg(bench.pid, signal.SIGINT)
    assert sleepy_plugin.exit_status(bench, timeout=120) == STOPPED_EXIT_CODES[stop]
    runs = {run.config["model"]: run for run in wandb_runs(tmp_path)}
    assert sorted(runs) == ["iforest", "sleepy"] and stored(db) == [("iforest", "ok"),
                                                                    ("sleepy", "failed")]
    assert runs["iforest"].exit_code == 0 and "roc_curve_table._type" in runs["iforest"].summary
    assert runs["sleepy"].exit_code != 0
    assert "W&B writer" not in bench.stderr.read()


def test_a_writer_that_died_is_one_warning_and_the_rows_are_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.runs.store import Store
    from zoo.suites.runner import run_suite
    from zoo.tracking import use_trackers, wandb_tracker

    for variable in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(variable)
    for variable, value in {**wandb_env(tmp_path), "WANDB_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(variable, value)
    with Store(tmp_path / "runs.db") as store:
        use_trackers("wandb", store_path=store.path)
        wandb_tracker._submit("log", -1, {})  # starts the writer, as a run's start does
        writer = wandb_tracker._state["writer"]._process
        writer.kill()
        writer.wait()
        rows = run_suite(plugins.get_host().suite("embedded-ad").load()(), store,
                         models=["iforest"], datasets=["wine-ad"], seeds=2, budget="smoke")
    wandb_tracker.flush()
    assert [row.status for row in rows] == ["ok", "ok"]
    warned = [line for line in capsys.readouterr().err.splitlines() if "W&B writer" in line]
    assert warned == ["warning: W&B tracker: the W&B writer process stopped with exit code -9; "
                      "the runs' rows are stored, their W&B runs may be incomplete"]


def stored(db: Path) -> list[tuple[str, str]]:
    """The store's (model, status) rows, oldest first; none while it is being created."""
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT model, status FROM runs ORDER BY created").fetchall()
    except sqlite3.OperationalError:
        return []


def test_the_tracker_example_is_included_verbatim_in_tracking_md() -> None:
    page = (REPO / "docs" / "tracking.md").read_text(encoding="utf-8")
    start = page.index("<!-- example:jsonl_tracker.py -->\n```python\n")
    block = page[start:].split("```python\n", 1)[1].split("```\n<!-- /example -->")[0]
    assert block == (EXAMPLES / "jsonl_tracker.py").read_text(encoding="utf-8")


def test_with_a_key_but_no_network_the_runs_go_offline_after_one_warning(tmp_path: Path) -> None:
    env = {**wandb_env(tmp_path), "WANDB_API_KEY": "0123456789" * 4, "WANDB_INIT_TIMEOUT": "3",
           "WANDB_BASE_URL": "http://127.0.0.1:9", "WANDB_RUN_GROUP": "my-study",
           "WANDB_PROJECT": "from-env"}
    done = zoo("bench", "embedded-ad", "--budget", "smoke", "--models", "iforest",
               "--datasets", "wine-ad", "--seeds", "2", "--tracker", "wandb",
               "--db", str(tmp_path / "runs.db"), env=env)
    warned = [line for line in done.stderr.splitlines() if "W&B cannot be reached" in line]
    assert len(warned) == 1 and warned[0].startswith("warning: ")
    runs = wandb_runs(tmp_path)
    assert sorted(run.run.job_type for run in runs) == ["leaderboard", "train", "train"]
    assert {(run.run.run_group, run.run.project) for run in runs} == {("my-study", "from-env")}
    assert "wandb sync" in done.stderr


def test_a_generators_samples_are_logged_as_media(tmp_path: Path) -> None:
    text = tmp_path / "verse.txt"
    text.write_text("to be, or not to be: that is the question. " * 60, encoding="utf-8")
    db = str(tmp_path / "runs.db")
    rows = [json.loads(zoo("train", model, "--data", data, "--max-epochs", "1", "--db", db,
                           "--tracker", "wandb", "--json", env=wandb_env(tmp_path)).stdout)
            for model, data in (("gan[cnn]", "digits"), ("rnn", str(text)))]
    images, texts = wandb_runs(tmp_path)
    assert images.summary["samples._type"] == "image-file"
    assert [p.suffix for p in images.folder.glob("files/media/images/samples_*")] == [".png"]
    assert texts.summary["sample_text._type"] == "html-file"
    sample = (Path(rows[1]["checkpoint"]).parent / "sample.txt").read_text(encoding="utf-8")
    page = next(texts.folder.glob("files/media/html/sample_text_*")).read_text()
    assert f"<pre>{html.escape(sample)}</pre>" in page
    assert all("best" in run.artifacts[0].aliases for run in (images, texts))


def test_a_distributed_training_makes_one_wandb_run(tmp_path: Path) -> None:
    row = json.loads(zoo("train", "mlp", "--data", "wine", "--devices", "2", "--accelerator",
                         "cpu", "--max-epochs", "2", "--db", str(tmp_path / "runs.db"),
                         "--tracker", "wandb", "--json", env=wandb_env(tmp_path)).stdout)
    [run] = wandb_runs(tmp_path)
    assert run.config["zoo_run_id"] == row["id"] and run.config["device"] == "cpu x2"
    assert sorted({logged["epoch"] for logged in run.history}) == [0, 1]


def test_a_distributed_bench_makes_one_wandb_run_per_cell(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    zoo("bench", "supervised", "--budget", "smoke", "--models", "mlp", "--datasets", "wine",
        "--seeds", "1", "--devices", "2", "--accelerator", "cpu", "--db", str(db),
        "--tracker", "wandb", env=wandb_env(tmp_path))
    runs = wandb_runs(tmp_path)
    assert sorted(run.run.job_type for run in runs) == ["leaderboard", "train"]
    [cell] = [run for run in runs if run.run.job_type == "train"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id FROM runs").fetchall() == [(cell.config["zoo_run_id"],)]


def test_an_evaluation_is_an_eval_run_under_wandb_dir(
        trained: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    store_dir, row, _ = trained
    env = {**wandb_env(tmp_path), "WANDB_DIR": str(tmp_path / "elsewhere")}
    evaluated = json.loads(zoo("evaluate", row["id"], "--db", str(store_dir / "runs.db"),
                               "--tracker", "wandb", "--json", env=env).stdout)
    [run] = wandb_runs(tmp_path / "elsewhere")
    assert (run.run.job_type, run.run.run_group) == ("eval", "evaluate/mlp/wine")
    assert run.config["data_sha256"] is None  # wine is embedded in scikit-learn
    assert run.config["data_shape"] == evaluated["extra"]["data_shape"]
    assert run.config["data_shape"]["sample"] == [13]
    assert Path(evaluated["extra"]["test_outputs"]).name == "predictions.npz"
    assert {k: run.summary[k] for k in evaluated["metrics"]} == evaluated["metrics"]
    assert [artifact.type for artifact in run.artifacts] == ["run_table"]  # and no model


#: The media a cell's W&B run has, as keys of its summary: a detector's, a classifier's, an
#: image generator's and a text generator's.
DETECTOR_MEDIA = ("roc_curve_table._type", "pr_curve_table._type", "test_scores/normal._type",
                  "test_scores/anomalous._type")
CLASSIFIER_MEDIA = ("confusion_matrix_table._type",)
#: Per registered suite, a small smoke cell (model, dataset, setting, normal classes) and the
#: media its W&B run must have. Suites whose cells go through the shared
#: ``zoo.suites.common.train_and_evaluate`` that other tests here run already (embedded-ad,
#: supervised) are marked slow.
SUITE_CELLS = {
    "embedded-ad": pytest.param("iforest", "wine-ad", None, None, DETECTOR_MEDIA,
                                marks=pytest.mark.slow),
    "tabular-ad": pytest.param("iforest", "wine-ad", "semi", None, DETECTOR_MEDIA,
                               marks=pytest.mark.slow),
    "image-ad": pytest.param("iforest", "digits", None, ["0"], DETECTOR_MEDIA,
                             marks=pytest.mark.slow),
    "supervised": pytest.param("logistic-regression", "wine", None, None, CLASSIFIER_MEDIA,
                               marks=pytest.mark.slow),
    "image-gen": pytest.param("gan", "digits", "default", None, ("samples._type",)),
    "text-gen": pytest.param("rnn", "verse.txt", None, None, ("sample_text._type",)),
    "ts-ad": pytest.param("iforest", "nab", "artificial", None, DETECTOR_MEDIA),
}


def test_every_suite_has_a_tracked_cell() -> None:
    assert set(SUITE_CELLS) == set(plugins.get_host().suites())


@pytest.mark.parametrize(("suite", "model", "dataset", "setting", "classes", "media"),
                         [pytest.param(name, *param.values, marks=param.marks, id=name)
                          for name, param in SUITE_CELLS.items()])
def test_every_suites_cell_logs_its_data_shape_and_media(
        suite: str, model: str, dataset: str, setting: str | None, classes: list[str] | None,
        media: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In process (a suite run as ``zoo bench`` runs it, without the process start), so that
    every suite's cell costs only its smoke training."""
    from zoo.runs.store import Store
    from zoo.suites.runner import run_suite
    from zoo.tracking import use_trackers, wandb_tracker

    for variable in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(variable)
    for variable, value in {**wandb_env(tmp_path), "WANDB_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(variable, value)
    if dataset == "verse.txt":
        dataset = str(tmp_path / dataset)
        Path(dataset).write_text("to be, or not to be: that is the question. " * 60)
    with Store(tmp_path / "runs.db") as store:
        use_trackers("wandb", store_path=store.path)
        spec = plugins.get_host().suite(suite)
        [row] = run_suite(spec.load()(), store, models=[model], datasets=[dataset], seeds=1,
                          budget="smoke", setting=setting, classes=classes)
    wandb_tracker.flush()  # the W&B calls run in a writer process, stopped here
    [run] = wandb_runs(tmp_path)
    assert row.status == "ok", row.error
    assert run.config["zoo_run_id"] == row.id
    assert run.config["data_shape"] == row.extra["data_shape"]
    assert run.config["data_shape"]["test"] > 0 and run.config["data_shape"]["sample"]
    assert {k: run.summary[k] for k in row.metrics} == row.metrics
    assert set(media) <= set(run.summary), sorted(run.summary)
    if "samples._type" in media:
        [grid] = run.folder.glob("files/media/images/samples_*.png")
        assert grid.read_bytes() == Path(row.extra["samples"]).read_bytes()
    if "sample_text._type" in media:
        page = next(run.folder.glob("files/media/html/sample_text_*")).read_text()
        assert html.escape(Path(row.extra["sample"]).read_text()[:50]) in page
    if media == DETECTOR_MEDIA:  # the curves and histograms of the scores the row kept
        with np.load(row.extra["test_outputs"]) as saved:
            labels = saved["labels"]
        assert len(labels) == sum(run.summary["test_scores/normal.values"]) + sum(
            run.summary["test_scores/anomalous.values"])
        assert sum(run.summary["test_scores/anomalous.values"]) == labels.sum() > 0


def media_table(run: WandbRun, key: str) -> dict[str, Any]:
    """A table the run logged under ``key`` (a chart logs its data as ``{key}_table``)."""
    [path] = run.folder.glob(f"files/media/table/{key}_*.table.json")
    return json.loads(path.read_text())


def test_detection_and_classification_cells_log_curves_histograms_and_confusion_matrix(
        tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    rows = [json.loads(zoo("bench", suite, "--budget", "smoke", "--models", model,
                           "--datasets", data, "--seeds", "1", "--db", db, "--tracker", "wandb",
                           "--json", env=wandb_env(tmp_path)).stdout)[0]
            for suite, model, data in (("embedded-ad", "iforest", "wine-ad"),
                                       ("supervised", "logistic-regression", "wine"))]
    detector, classifier = (run for run in wandb_runs(tmp_path) if run.run.job_type == "train")
    with np.load(rows[0]["extra"]["test_outputs"]) as saved:
        labels, scores = saved["labels"], saved["scores"]
    assert detector.config["data_shape"] == {**rows[0]["extra"]["data_shape"],
                                             "test": len(labels), "sample": [13]}
    fpr, tpr, _ = roc_curve(labels, scores)
    roc = media_table(detector, "roc_curve_table")
    assert roc["columns"] == ["false positive rate", "true positive rate"]
    assert roc["data"][0] == [fpr[0], tpr[0]] and roc["data"][-1] == [fpr[-1], tpr[-1]]
    pr = media_table(detector, "pr_curve_table")
    assert pr["columns"] == ["recall", "precision"] and pr["data"][-1] == [0.0, 1.0]
    for name, label in (("normal", 0), ("anomalous", 1)):
        assert detector.summary[f"test_scores/{name}._type"] == "histogram"
        assert sum(detector.summary[f"test_scores/{name}.values"]) == (labels == label).sum()
    with np.load(rows[1]["extra"]["test_outputs"]) as saved:
        labels, predictions = saved["labels"], saved["predictions"]
    matrix = media_table(classifier, "confusion_matrix_table")
    assert matrix["columns"] == ["Actual", "Predicted", "nPredictions"]
    counts = {(actual, predicted): n for actual, predicted, n in matrix["data"]}
    assert counts == {(str(a), str(p)): float(((labels == a) & (predictions == p)).sum())
                      for a in range(3) for p in range(3)}
    correct = sum(n for (actual, predicted), n in counts.items() if actual == predicted)
    assert correct / len(labels) == pytest.approx(rows[1]["metrics"]["accuracy"])


def test_a_logged_curve_keeps_at_most_curve_points_with_both_ends(tmp_path: Path) -> None:
    from zoo.tracking._wandb_writer import CURVE_POINTS, _line

    x = np.linspace(0.0, 1.0, 5000)
    data = _line(x, x**2, "x", "y", "a curve").table.data
    assert len(data) == CURVE_POINTS and data[0] == [0.0, 0.0] and data[-1] == [1.0, 1.0]


@pytest.mark.slow
def test_tuning_trials_are_tune_runs_grouped_by_model_and_data(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    zoo("tune", "mlp", "--data", "wine", "--trials", "2", "--max-epochs", "1", "--db", str(db),
        "--tracker", "wandb", "--json", env=wandb_env(tmp_path))
    runs = wandb_runs(tmp_path)
    trials = [run for run in runs if run.run.job_type == "tune"]
    assert len(trials) == 2 and {run.run.run_group for run in trials} == {"tune/mlp/wine"}
    assert sorted(run.run.job_type for run in runs) == ["eval", "train", "tune", "tune"]
