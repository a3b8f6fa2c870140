"""The runs store under the real ``zoo`` command line: identical benches started together, a
bench killed mid-suite and resumed, corrupt and missing database files.

Every bench here is the same small seeded suite, so each run must give the numbers of one
uninterrupted run into a database of its own.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from zoo.runs.results import RunResult
from zoo.runs.store import Store

ZOO = Path(sys.executable).with_name("zoo")
SUITE = "embedded-ad"
BENCH = ["bench", SUITE, "--budget", "smoke", "--models", "iforest,knn", "--datasets",
         "wine-ad", "--seeds", "2"]
CELLS = 4
IDENTICAL_BENCHES = 3
TIMEOUT_S = 300


def zoo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(ZOO), *args], capture_output=True, text=True, env=zoo_env(),
                          timeout=TIMEOUT_S)
    if check and done.returncode != 0:
        raise AssertionError(f"zoo {' '.join(args)} failed:\n{done.stderr}")
    return done


def zoo_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def start_bench(db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(ZOO), *BENCH, "--db", str(db), "--json"], env=zoo_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def leaderboard(db: Path) -> dict:
    return json.loads(zoo("leaderboard", SUITE, "--db", str(db), "--format", "json").stdout)


def rows_of(db: Path, where: str = "1", columns: str = "*") -> list[sqlite3.Row]:
    """The store's rows, read with plain SQLite from outside zoo."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(f"SELECT {columns} FROM runs WHERE {where}").fetchall()


def ok_cells(db: Path) -> dict[tuple, dict[str, float]]:
    """Metrics of each ``ok`` row by its cell; a cell stored twice fails the test."""
    rows = rows_of(db, "status = 'ok'")
    cells = {cell_of(row): json.loads(row["metrics"]) for row in rows}
    assert len(cells) == len(rows), "a cell was stored more than once"
    return cells


def cell_of(row: Mapping[str, Any]) -> tuple:
    return tuple(row[key] for key in ("model", "backbone", "dataset", "setting", "seed"))


def assert_close(ours: object, theirs: object, where: str = "") -> None:
    """Equal structures whose numbers agree within 1e-9 (the runs are seeded)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), where
        for key in ours:
            assert_close(ours[key], theirs[key], f"{where}/{key}")
    elif isinstance(ours, list) and isinstance(theirs, list):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_close(a, b, f"{where}[{i}]")
    elif isinstance(ours, float) and isinstance(theirs, float):
        assert math.isclose(ours, theirs, rel_tol=0, abs_tol=1e-9), where
    else:
        assert ours == theirs, where


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("uninterrupted") / "runs.db"
    zoo(*BENCH, "--db", str(db))
    return db


def running_rows(db: Path) -> list[str]:
    try:
        with sqlite3.connect(db) as conn:
            return [run_id for (run_id,) in conn.execute(
                "SELECT id FROM runs WHERE status = 'running'")]
    except sqlite3.OperationalError:  # the bench is still creating the store
        return []


def kill_while_a_cell_runs(bench: subprocess.Popen[str], db: Path) -> str:
    """SIGKILL ``bench`` while one of its cells is stored as running; return that row's id.

    The bench is stopped (SIGSTOP) as soon as a running row is seen and killed only if the
    row is still running then, so the kill lands mid-cell however fast the cells are.
    """
    deadline = time.monotonic() + TIMEOUT_S
    while bench.poll() is None and time.monotonic() < deadline:
        if running_rows(db):
            bench.send_signal(signal.SIGSTOP)
            if running := running_rows(db):
                bench.kill()
                bench.wait(TIMEOUT_S)
                return running[0]
            bench.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    raise AssertionError(f"the bench ended before a cell could be killed: {bench.returncode}")


def test_a_bench_killed_mid_suite_then_resumed_equals_an_uninterrupted_one(
        tmp_path: Path, uninterrupted: Path) -> None:
    db = tmp_path / "runs.db"
    bench = start_bench(db)
    killed = kill_while_a_cell_runs(bench, db)
    assert bench.returncode == -signal.SIGKILL
    assert len(ok_cells(db)) < CELLS

    rows = json.loads(zoo(*BENCH, "--db", str(db), "--json").stdout)

    assert [row["status"] for row in rows] == ["ok"] * CELLS
    assert [tuple(row) for row in rows_of(db, "status != 'ok'", "status, error, id")] == [
        ("failed", "interrupted", killed)]  # and its cell ran again, once
    assert_close(ok_cells(db), ok_cells(uninterrupted))
    board = leaderboard(db)
    assert_close(board, leaderboard(uninterrupted))
    assert not any("running" in note for note in board["notes"])
    assert "failed" not in zoo("leaderboard", SUITE, "--db", str(db)).stdout


def test_identical_benches_started_together_run_each_cell_once(
        tmp_path: Path, uninterrupted: Path) -> None:
    db = tmp_path / "runs.db"
    benches = [start_bench(db) for _ in range(IDENTICAL_BENCHES)]
    outputs = [bench.communicate(timeout=TIMEOUT_S) for bench in benches]
    assert [bench.returncode for bench in benches] == [0] * IDENTICAL_BENCHES, outputs
    cells = ok_cells(db)
    assert_close(cells, ok_cells(uninterrupted))
    assert len(rows_of(db)) == CELLS
    for stdout, _ in outputs:  # each reports every cell: done, run here, or running elsewhere
        assert {cell_of(row) for row in json.loads(stdout)} == set(cells)
    assert_close(leaderboard(db), leaderboard(uninterrupted))


def corrupt_middle_page(db: Path) -> bytes:
    """A store of many pages with garbage in its middle page (the header is intact)."""
    with Store(db) as store:
        for seed in range(300):
            store.record(RunResult(kind="bench", model="iforest", plugin="zoo-baselines",
                                   dataset="wine-ad", suite=SUITE, suite_version="2",
                                   setting="semi", seed=seed, budget="smoke", status="ok",
                                   metrics={"auroc": 0.5}, extra={"pad": "x" * 500}))
    content = bytearray(db.read_bytes())
    with sqlite3.connect(db) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    middle = len(content) // page // 2 * page
    content[middle:middle + page] = b"\xa5" * page
    db.write_bytes(bytes(content))
    return bytes(content)


@pytest.mark.parametrize("command", [["leaderboard", SUITE], BENCH], ids=["leaderboard", "bench"])
def test_a_corrupt_store_is_one_line_and_left_as_it_was(tmp_path: Path,
                                                        command: list[str]) -> None:
    db = tmp_path / "runs.db"
    content = corrupt_middle_page(db)
    done = zoo(*command, "--db", str(db), check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: cannot use runs database {db}: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert db.read_bytes() == content


def test_leaderboard_of_a_missing_store_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "no" / "such" / "runs.db"
    done = zoo("leaderboard", SUITE, "--db", str(db), check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: no runs database {db}: ")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "no").exists()
