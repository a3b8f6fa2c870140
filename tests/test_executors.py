"""Executors of suite cells: local worker processes and a real Ray cluster give the serial
run's rows, the driver alone writes the store, a dead worker's cell runs once more."""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zoo.errors import ZooError
from zoo.runs.executors import (
    Executor,
    LocalExecutor,
    RayExecutor,
    WorkerSetup,
    check_answers,
    check_writable,
    make_executor,
    run_tasks,
    worker_setup,
)
from zoo.runs.lifecycle import new_row
from zoo.runs.results import Outcome, RunResult
from zoo.runs.store import Store

# A detector that kills its own process the first time it trains on wine-ad (13 features),
# counting its starts in files in $ZOO_TEST_MARKER_DIR (which the driver forwards to its
# workers); on other data it trains at once.
DYING_PLUGIN = """
    import os
    import signal
    from pathlib import Path

    import numpy as np

    from zoo import DataInfo, ModelSpec, ZooModel, hookimpl


    class DiesOnce(ZooModel):
        uses_validation = False

        def __init__(self, data_info: DataInfo) -> None:
            self.data_info = data_info

        def fit(self, splits, config):
            features = splits.train.x.shape[1]
            marker = Path(os.environ["ZOO_TEST_MARKER_DIR"]) / f"{self.zoo_name}-{features}"
            with marker.open("a") as file:
                file.write("started\\n")
            if features == 13 and len(marker.read_text().splitlines()) == 1:
                os.kill(os.getpid(), signal.SIGKILL)
            return {}

        def hyperparameters(self):
            return {}

        def score(self, x):
            import torch

            return torch.as_tensor(np.asarray(x)).float().pow(2).sum(1)


    @hookimpl
    def zoo_register_models(register):
        register(ModelSpec(name="dies-once", kind="method", tasks=("detect",),
                           modalities=("tabular",), implementation=f"{__name__}:DiesOnce"))
"""
CELLS = ("--budget", "smoke", "--datasets", "wine-ad,breast-cancer-ad", "--seeds", "1")


def zoo_bench(db: Path, *args: str, plugins: Path | None = None,
              env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    first = ["--plugins-dir", str(plugins)] if plugins else []
    done = subprocess.run([sys.executable, "-m", "zoo", *first, "bench", "embedded-ad", *CELLS,
                           *args, "--db", str(db), "--json"], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def by_cell(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["model"], row["dataset"]): row for row in rows}


def stored_rows(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT model, dataset, status FROM runs ORDER BY model, dataset"
                            ).fetchall()


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """The autoencoder's two smoke cells, run one after the other in one process."""
    db = tmp_path_factory.mktemp("serial") / "runs.db"
    return by_cell(zoo_bench(db, "--models", "autoencoder"))


@pytest.fixture
def dying(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "dying.py").write_text(textwrap.dedent(DYING_PLUGIN))
    markers = tmp_path / "markers"
    markers.mkdir()
    return plugins, {"ZOO_TEST_MARKER_DIR": str(markers)}


def starts(env: dict[str, str]) -> dict[str, int]:
    """How often each dying model started, by model and number of features."""
    return {path.name: len(path.read_text().splitlines())
            for path in Path(env["ZOO_TEST_MARKER_DIR"]).iterdir()}


def assert_same_scores(ran: dict[str, Any], serial: dict[str, Any]) -> None:
    assert ran["status"] == serial["status"] == "ok"
    assert ran["metrics"].keys() == serial["metrics"].keys()
    for name, value in serial["metrics"].items():
        if name not in ("epochs", "steps"):
            assert ran["metrics"][name] == pytest.approx(value, rel=1e-5, abs=1e-6), name


def test_two_local_workers_equal_the_serial_run_and_a_rerun_runs_nothing(
        tmp_path: Path, serial: dict[tuple[str, str], dict[str, Any]]) -> None:
    db = tmp_path / "runs.db"
    local = ("--models", "autoencoder", "--executor", "local", "--jobs", "2")
    rows = by_cell(zoo_bench(db, *local, "--runs-dir", str(tmp_path / "folders")))
    assert rows.keys() == serial.keys()
    for cell, row in serial.items():
        assert_same_scores(rows[cell], row)
        assert Path(rows[cell]["extra"]["run_dir"]).parent == tmp_path / "folders"
        assert (tmp_path / "folders" / rows[cell]["id"] / "metrics.csv").exists()
    again = zoo_bench(db, *local)
    assert {row["id"] for row in again} == {row["id"] for row in rows.values()}
    assert len(stored_rows(db)) == 2


# -- a worker killed mid-run, on cheap work (no training) -------------------------------------
def die_then_work(markers: Path, deaths: int, folder: Path) -> Outcome:
    """Kill this process the first ``deaths`` times it runs for ``folder``'s run."""
    marker = markers / folder.name
    with marker.open("a") as file:
        file.write("started\n")
    if len(marker.read_text().splitlines()) <= deaths:
        os.kill(os.getpid(), signal.SIGKILL)
    return Outcome({"auroc": 0.5})


def dying_tasks(markers: Path, deaths: tuple[int, ...]) -> list[tuple[RunResult, Any]]:
    """One suite cell per seed, whose work dies ``deaths[seed]`` times."""
    return [(new_row("bench", model="iforest", dataset="wine-ad", device="cpu",
                     suite="embedded-ad", suite_version="2", setting="semi", seed=seed,
                     budget="smoke"), functools.partial(die_then_work, markers, count))
            for seed, count in enumerate(deaths)]


def check_one_rerun(tmp_path: Path, executor: Executor, failure: str) -> None:
    """Cells whose work dies 1, 0 and 99 times: the first runs twice and is ok, the third
    runs twice and fails; the store, written by this process alone, holds one row each."""
    markers = tmp_path / "markers"
    markers.mkdir()
    with Store(tmp_path / "runs.db") as store:
        rows = run_tasks(store, dying_tasks(markers, (1, 0, 99)), executor,
                         root=tmp_path / "folders")
        starts = [len((markers / row.id).read_text().splitlines()) for row in rows]
        assert starts == [2, 1, 2]
        assert [row.status for row in rows] == ["ok", "ok", "failed"]
        assert rows[2].error == f"worker died: {failure}, on each of 2 attempts"
        assert [(row.status, row.metrics) for row in store.runs()] == [
            (row.status, row.metrics) for row in rows]
        held = run_tasks(store, dying_tasks(markers, (1, 0)), executor,
                         root=tmp_path / "folders")  # done: nothing runs again
        assert [row.id for row in held] == [row.id for row in rows[:2]]
        assert len(store.runs()) == 3


def test_a_dead_local_worker_s_run_starts_once_more(tmp_path: Path) -> None:
    with LocalExecutor(2, WorkerSetup()) as executor:
        check_one_rerun(tmp_path, executor, "exit code -9")


def test_a_ray_task_whose_worker_dies_is_retried_once(tmp_path: Path) -> None:
    """A local Ray cluster started by the executor (``ray.init()`` without an address)."""
    pytest.importorskip("ray")
    # Ray's workers import this module to run die_then_work.
    setup = WorkerSetup({"PYTHONPATH": str(Path(__file__).parent)})
    with RayExecutor(setup) as executor:
        check_one_rerun(tmp_path, executor, "WorkerCrashedError")


@pytest.mark.slow
def test_a_two_node_ray_cluster_runs_a_bench_as_the_serial_run(
        tmp_path: Path, serial: dict[tuple[str, str], dict[str, Any]],
        dying: tuple[Path, dict[str, str]]) -> None:
    """A real Ray cluster on this machine: a head and a second node of one CPU each; the
    driver (``zoo bench``) joins it by address. A model whose worker is killed on wine-ad
    is retried once there."""
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    plugins, env = dying
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * 2**20, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
        db = tmp_path / "runs.db"
        rows = by_cell(zoo_bench(db, "--models", "autoencoder,dies-once", "--executor", "ray",
                                 "--ray-address", cluster.address, plugins=plugins, env=env))
    finally:
        cluster.shutdown()
    for cell, row in serial.items():
        assert_same_scores(rows[cell], row)
    assert [rows["dies-once", d]["status"] for d in ("wine-ad", "breast-cancer-ad")] == [
        "ok", "ok"]
    assert starts(env) == {"dies-once-13": 2, "dies-once-30": 1}
    assert len(stored_rows(db)) == 4


def test_a_ray_bench_finds_a_data_file_named_relative_to_the_command_s_folder(
        tmp_path: Path, ray_head: str) -> None:
    """The workers of a cluster the command joins run in a folder of their own; the cell's
    data is passed by absolute path, its row keeps the name given."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    lines = [",".join(f"{v:.4f}" for v in row) + f",{int(abs(row[0]) > 2)}" for row in x]
    (tmp_path / "table.csv").write_text("a,b,c,d,label\n" + "\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, "-m", "zoo", "bench", "tabular-ad", "--datasets",
                           "table.csv", "--models", "iforest", "--seeds", "1",
                           "--ray-address", ray_head, "--db", "runs.db", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert (row["status"], row["dataset"]) == ("ok", "table.csv"), row["error"]


def test_workers_get_the_drivers_paths_as_absolute_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ray worker runs in a folder of its own, where ``ZOO_DATA_DIR=../shared/data`` names
    nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_DATA_DIR", "../shared/data")
    monkeypatch.setenv("WANDB_DIR", "tracking")
    monkeypatch.setenv("WANDB_MODE", "offline")
    env = worker_setup().env
    assert env["ZOO_DATA_DIR"] == str(tmp_path / "../shared/data")
    assert env["WANDB_DIR"] == str(tmp_path / "tracking")
    assert env["WANDB_MODE"] == "offline"


def test_more_jobs_than_cores_and_options_of_another_executor_are_refused() -> None:
    cores = len(os.sched_getaffinity(0))
    with pytest.raises(ZooError, match=rf"--jobs {cores + 1}: this machine has {cores} core"):
        LocalExecutor(cores + 1, WorkerSetup())
    with pytest.raises(ZooError, match="--ray-address not used by --executor local"):
        make_executor("local", ray_address="auto")
    with pytest.raises(ZooError, match="--devices 2 trains one run over several processes"):
        make_executor("local", devices=2)
    with pytest.raises(ZooError, match="--ray-address not used by --executor local"):
        make_executor(None, jobs=1, ray_address="auto")  # --jobs alone means local


def test_without_executor_the_options_given_choose_it() -> None:
    assert make_executor(None) is None  # in-process
    with make_executor(None, jobs=1) as local:  # type: ignore[union-attr]
        assert isinstance(local, LocalExecutor) and local.slots == 1


def test_a_ray_address_where_no_cluster_answers_is_refused_at_once() -> None:
    """``ray.init`` would retry such an address for minutes without a word."""
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ZooError, match=rf"^--ray-address 127.0.0.1:{port}: no Ray cluster "
                                       rf"answers at 127.0.0.1:{port} \(Connection refused\)"):
        RayExecutor(WorkerSetup(), address=f"127.0.0.1:{port}")
    with pytest.raises(ZooError, match=r"'head' is not HOST:PORT .* ray://HOST:PORT or auto"):
        check_answers("head", "--ray-address")
    check_answers("auto", "--ray-address")  # Ray finds this machine's cluster itself


def test_a_runs_dir_that_cannot_be_written_is_refused_before_any_cell(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(ZooError, match=r"runs dir .*file/runs is not writable"):
        check_writable(blocked / "runs")
    with pytest.raises(ZooError, match="must be storage they all share"):
        check_writable(tmp_path / "elsewhere", token="abc")  # the driver's probe is not there


def test_without_ray_the_error_names_the_extra(tmp_path: Path) -> None:
    blocker = tmp_path / "ray"  # a package named ray that cannot be imported
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no ray here')\n")
    done = subprocess.run([sys.executable, "-m", "zoo", "bench", "embedded-ad", "--budget",
                           "smoke", "--executor", "ray", "--db", str(tmp_path / "runs.db")],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: --executor ray needs Ray: pip install 'zoo[ray]'")
