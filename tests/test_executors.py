"""Executors of suite cells: local worker processes and a real Ray cluster give the serial
run's rows, the driver alone writes the store, a dead worker's cell runs once more."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from zoo.errors import ZooError
from zoo.runs.executors import LocalExecutor, WorkerSetup, check_writable, make_executor

# Detectors that kill their own process the first N times they train on wine-ad (13
# features), counting their starts in files in $ZOO_TEST_MARKER_DIR (which the driver
# forwards to its workers); on other data they train at once.
DYING_PLUGIN = """
    import os
    import signal
    from pathlib import Path

    import numpy as np

    from zoo import DataInfo, ModelSpec, ZooModel, hookimpl


    class Dying(ZooModel):
        uses_validation = False
        deaths = 0

        def __init__(self, data_info: DataInfo) -> None:
            self.data_info = data_info

        def fit(self, splits, config):
            features = splits.train.x.shape[1]
            marker = Path(os.environ["ZOO_TEST_MARKER_DIR"]) / f"{self.zoo_name}-{features}"
            with marker.open("a") as file:
                file.write("started\\n")
            if features == 13 and len(marker.read_text().splitlines()) <= self.deaths:
                os.kill(os.getpid(), signal.SIGKILL)
            return {}

        def hyperparameters(self):
            return {}

        def score(self, x):
            import torch

            return torch.as_tensor(np.asarray(x)).float().pow(2).sum(1)


    class DiesOnce(Dying):
        deaths = 1


    class DiesAlways(Dying):
        deaths = 99


    @hookimpl
    def zoo_register_models(register):
        for name, kind in (("dies-once", "DiesOnce"), ("dies-always", "DiesAlways")):
            register(ModelSpec(name=name, kind="method", tasks=("detect",),
                               modalities=("tabular",), implementation=f"{__name__}:{kind}"))
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
        tmp_path: Path, serial: dict[tuple[str, str], dict[str, Any]],
        dying: tuple[Path, dict[str, str]]) -> None:
    plugins, env = dying
    db = tmp_path / "runs.db"
    rows = by_cell(zoo_bench(db, "--models",
                             "autoencoder,dies-once,dies-always", "--executor", "local",
                             "--jobs", "2", "--runs-dir", str(tmp_path / "folders"),
                             plugins=plugins, env=env))
    for cell, row in serial.items():
        assert_same_scores(rows[cell], row)
        assert Path(rows[cell]["extra"]["run_dir"]).parent == tmp_path / "folders"
    # On wine-ad each worker killed rerun exactly once; breast-cancer-ad's cells ran once.
    assert starts(env) == {"dies-once-13": 2, "dies-always-13": 2, "dies-once-30": 1,
                           "dies-always-30": 1}
    assert rows["dies-once", "wine-ad"]["status"] == "ok"
    assert rows["dies-always", "wine-ad"]["status"] == "failed"
    assert rows["dies-always", "wine-ad"]["error"] == (
        "worker died: exit code -9, on each of 2 attempts")
    assert len(stored_rows(db)) == 6  # one row per cell, the reruns included

    again = zoo_bench(db, "--models", "autoencoder,dies-once",
                      "--executor", "local", "--jobs", "2", plugins=plugins, env=env)
    assert {row["id"] for row in again} == {rows[cell]["id"] for cell in by_cell(again)}
    assert starts(env)["dies-once-13"] == 2  # nothing ran again
    assert len(stored_rows(db)) == 6


def test_a_two_node_ray_cluster_equals_the_serial_run(
        tmp_path: Path, serial: dict[tuple[str, str], dict[str, Any]],
        dying: tuple[Path, dict[str, str]]) -> None:
    """A real Ray cluster on this machine: a head and a second node of one CPU each; the
    driver (``zoo bench``) joins it by address. A killed worker's task is retried once."""
    cluster_utils = pytest.importorskip("ray.cluster_utils")
    plugins, env = dying
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * 2**20, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
        db = tmp_path / "runs.db"
        rows = by_cell(zoo_bench(db, "--models",
                                 "autoencoder,dies-once", "--executor", "ray",
                                 "--ray-address", cluster.address, plugins=plugins,
                                 env=env))
    finally:
        cluster.shutdown()
    for cell, row in serial.items():
        assert_same_scores(rows[cell], row)
    assert [rows["dies-once", d]["status"] for d in ("wine-ad", "breast-cancer-ad")] == [
        "ok", "ok"]
    assert starts(env) == {"dies-once-13": 2, "dies-once-30": 1}
    assert len(stored_rows(db)) == 4


def test_more_jobs_than_cores_and_options_of_another_executor_are_refused() -> None:
    cores = len(os.sched_getaffinity(0))
    with pytest.raises(ZooError, match=rf"--jobs {cores + 1}: this machine has {cores} core"):
        LocalExecutor(cores + 1, WorkerSetup())
    with pytest.raises(ZooError, match="--ray-address not used by --executor local"):
        make_executor("local", ray_address="auto")
    with pytest.raises(ZooError, match="--devices 2 trains one run over several processes"):
        make_executor("local", devices=2)


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
