"""Several stores read as one (``--db`` given several times): real benches over halves of the
seeds merge into the leaderboard of one bench over all of them, and a store copied into two
files counts each run once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.reporting.runs import select_runs
from zoo.runs.merge import merge_runs
from zoo.runs.results import RunResult
from zoo.runs.store import Store

BENCH = ["bench", "embedded-ad", "--budget", "smoke", "--models", "iforest,knn",
         "--datasets", "wine-ad,breast-cancer-ad", "--quiet"]


def zoo(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def leaderboard(*dbs: Path) -> dict:
    return json.loads(zoo("leaderboard", "embedded-ad", "--format", "json",
                          *(arg for db in dbs for arg in ("--db", str(db)))))


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Seeds 0-3 benched in one store, and seeds 0-1 and 2-3 in two others."""
    folder = tmp_path_factory.mktemp("merge")
    paths = {name: folder / f"{name}.db" for name in ("all", "first", "second")}
    zoo(*BENCH, "--seeds", "4", "--db", str(paths["all"]))
    zoo(*BENCH, "--seeds", "2", "--db", str(paths["first"]))
    zoo(*BENCH, "--seeds", "2", "--first-seed", "2", "--db", str(paths["second"]))
    return paths


def test_two_halves_of_the_seeds_merge_into_the_leaderboard_of_all(
        stores: dict[str, Path]) -> None:
    merged = leaderboard(stores["first"], stores["second"])
    assert merged == leaderboard(stores["all"])
    assert merged["typical_seeds"] == 4


def test_a_store_copied_into_two_files_counts_each_run_once(stores: dict[str, Path],
                                                            tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copyfile(stores["first"], copy)
    alone, twice = leaderboard(stores["first"]), leaderboard(stores["first"], copy)
    assert twice["sections"] == alone["sections"]
    assert twice["notes"] == [*alone["notes"], "8 runs found in more than one store (same run "
                                               "id) counted once"]
    listed = json.loads(zoo("runs", "--limit", "0", "--json", "--db", str(stores["first"]),
                            "--db", str(copy)))
    assert sorted(row["id"] for row in listed) == sorted(
        row["id"] for row in json.loads(zoo("runs", "--limit", "0", "--json", "--db",
                                            str(stores["first"]))))


def test_a_cell_benched_on_two_machines_counts_once_and_says_so(
        stores: dict[str, Path]) -> None:
    merged = leaderboard(stores["all"], stores["first"])
    assert merged["sections"] == leaderboard(stores["all"])["sections"]
    assert any(note.startswith("8 runs of 8 suite cells held by more than one store left "
                               "out") for note in merged["notes"])


def cell(status: str, created: str, run_id: str, **fields: object) -> RunResult:
    return RunResult(id=run_id, kind="bench", model="knn", plugin="test", dataset="wine-ad",
                     suite="embedded-ad", suite_version="2", seed=0, budget="smoke",
                     status=status, created=created, **fields)


def test_the_row_kept_for_a_shared_cell_is_its_latest_ok_one() -> None:
    failed_late = cell("failed", "2026-01-03", "c")
    ok_early, ok_late = cell("ok", "2026-01-01", "a"), cell("ok", "2026-01-02", "b")
    merged = merge_runs([[ok_early, failed_late], [ok_late]])
    assert [row.id for row in merged.rows] == ["b"]


@pytest.mark.parametrize("other", [{"hparams": {"n_neighbors": 3}},
                                   {"data_sha256": "f" * 64}], ids=["hparams", "data"])
def test_rows_of_a_cell_in_one_store_and_other_content_are_all_kept(
        other: dict[str, object]) -> None:
    one_store = [cell("failed", "2026-01-01", "a"), cell("ok", "2026-01-02", "b")]
    other_content = cell("ok", "2026-01-03", "c", **other)
    merged = merge_runs([one_store, [other_content]])
    assert [row.id for row in merged.rows] == ["a", "b", "c"] and merged.notes == []


def test_a_cell_stored_with_its_declared_defaults_spelt_out_is_the_same_cell() -> None:
    # A row stores what the model reports (every argument), a running row what it is
    # built with (only what differs from the defaults): one cell either way.
    merged = merge_runs([[cell("ok", "2026-01-01", "a", hparams={"n_neighbors": 5})],
                         [cell("ok", "2026-01-02", "b")]])
    assert [row.id for row in merged.rows] == ["b"]


def test_a_cell_failed_on_one_machine_and_ok_on_another_is_not_listed_as_failed(
        tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as first, Store(tmp_path / "b.db") as second:
        first.record(cell("ok", "2026-01-01", "a", metrics={"auroc": 0.9}))
        second.record(cell("failed", "2026-01-02", "b", error="boom"))
        assert select_runs([first, second], status="failed").rows == []
        assert [row.id for row in select_runs([first, second], status="ok").rows] == ["a"]
