"""The runs store: schema, round trips, the no-NaN-score rule, resume, bad files, concurrency."""

from __future__ import annotations

import multiprocessing
import re
import sqlite3
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from zoo.errors import ZooError
from zoo.results import RunResult, environment, git_commit
from zoo.store import COLUMNS, SCHEMA_VERSION, Store, default_db_path

if TYPE_CHECKING:
    from multiprocessing.synchronize import Barrier

WRITERS = 8
RESULTS_PER_WRITER = 100


def make_result(**overrides: object) -> RunResult:
    values: dict[str, object] = {
        "kind": "bench", "model": "vae", "backbone": "cnn", "plugin": "zoo-vae",
        "plugin_version": "0.1.0", "dataset": "mnist", "suite": "image-gen",
        "suite_version": "1", "setting": None, "seed": 0, "budget": "smoke",
        "hparams": {"latent": 16, "optimizer": {"name": "adam", "lr": 1e-3}},
        "status": "ok", "metrics": {"fid": 31.5, "nll": 89.8}, "seconds": 1.25,
        "device": "cpu", "versions": {"torch": "2.3.0"}, "git_commit": "a" * 40,
        "checkpoint": "/tmp/ckpt", "extra": {"note": "train subsampled to 10000 rows",
                                             "class": 3},
    }
    return RunResult(**{**values, **overrides})


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "runs.db") as opened:
        yield opened


def pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_new_database_has_current_schema_wal_and_busy_timeout(store: Store) -> None:
    assert pragma(store.path, "user_version") == SCHEMA_VERSION
    assert pragma(store.path, "journal_mode") == "wal"
    assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_table_has_a_column_for_every_field(store: Store) -> None:
    columns = [row[1] for row in store._conn.execute("PRAGMA table_info(runs)")]
    assert columns == list(COLUMNS) == [f.name for f in fields(RunResult)]


def test_record_then_get_round_trips_every_field(store: Store) -> None:
    result = make_result()
    assert store.record(result) == result.id
    assert store.get(result.id) == result


def test_reopening_keeps_rows(tmp_path: Path) -> None:
    result = make_result()
    with Store(tmp_path / "runs.db") as first:
        first.record(result)
    with Store(tmp_path / "runs.db") as second:
        assert second.runs() == [result]


def test_missing_folders_are_created(tmp_path: Path) -> None:
    with Store(tmp_path / "a" / "b" / "runs.db") as store:
        assert store.path.is_file()


def test_start_then_finish(store: Store) -> None:
    run_id = store.start(make_result(status="ok", metrics={}, seconds=None, checkpoint=None,
                                     extra={"class": 3}))
    assert store.get(run_id).status == "running"
    finished = store.finish(run_id, status="ok", metrics={"fid": 12.0}, seconds=3.5,
                            checkpoint="/runs/x", extra={"note": "early stop"})
    assert finished == store.get(run_id)
    assert (finished.status, finished.metrics, finished.seconds) == ("ok", {"fid": 12.0}, 3.5)
    assert finished.checkpoint == "/runs/x"
    assert finished.extra == {"class": 3, "note": "early stop"}


def test_finish_keeps_the_checkpoint_given_at_start(store: Store) -> None:
    run_id = store.start(make_result(checkpoint="/runs/start"))
    assert store.finish(run_id, status="failed", metrics={}, seconds=1.0,
                        error="CUDA out of memory").checkpoint == "/runs/start"


def test_finish_twice_or_unknown_run_is_an_error(store: Store) -> None:
    run_id = store.start(make_result())
    store.finish(run_id, status="ok", metrics={"fid": 1.0}, seconds=1.0)
    with pytest.raises(ZooError, match="already finished"):
        store.finish(run_id, status="failed", metrics={}, seconds=1.0)
    with pytest.raises(ZooError, match="no run 'feedbeef'"):
        store.finish("feedbeef", status="ok", metrics={}, seconds=1.0)


def test_record_takes_only_finished_runs(store: Store) -> None:
    with pytest.raises(ValueError, match="start"):
        store.record(make_result(status="running"))


@pytest.mark.parametrize("status", ["running", "bogus"])
def test_finish_takes_only_finished_statuses(store: Store, status: str) -> None:
    with pytest.raises(ValueError, match=status):
        store.finish(store.start(make_result()), status=status, metrics={}, seconds=None)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("via", ["record", "finish"])
def test_non_finite_metric_is_never_stored_as_a_score(store: Store, bad: float, via: str) -> None:
    metrics = {"fid": bad, "kid": 0.02}
    if via == "record":
        run_id = store.record(make_result(metrics=metrics))
    else:
        run_id = store.finish(store.start(make_result()), status="ok", metrics=metrics,
                              seconds=1.0).id
    stored = store.get(run_id)
    assert stored.status == "diverged"
    assert stored.metrics == {"kid": 0.02}
    assert "fid" in stored.error


def test_failed_run_with_non_finite_metric_stays_failed_and_keeps_its_error(store: Store) -> None:
    stored = store.get(store.record(make_result(status="failed", error="boom",
                                                metrics={"loss": float("nan")})))
    assert stored.status == "failed"
    assert stored.metrics == {}
    assert stored.error.startswith("boom; ") and "loss" in stored.error


def test_get_accepts_a_unique_prefix(store: Store) -> None:
    for suffix in ("1", "2"):
        store.record(make_result(id="abcdef0" + suffix * 25))
    assert store.get("abcdef01").id == "abcdef0" + "1" * 25
    with pytest.raises(ZooError, match="several runs"):
        store.get("abcdef0")
    with pytest.raises(ZooError, match="at least 6"):
        store.get("abcde")
    with pytest.raises(ZooError, match="'0123456789'"):
        store.get("0123456789")


def test_runs_filters(store: Store) -> None:
    store.record(make_result(model="gan"))
    store.record(make_result(dataset="digits", status="failed"))
    store.record(make_result(kind="train", suite=None, suite_version=None))
    assert len(store.runs()) == 3
    assert [r.model for r in store.runs(model="gan")] == ["gan"]
    assert [r.dataset for r in store.runs(status="failed")] == ["digits"]
    assert [r.kind for r in store.runs(kind="train")] == ["train"]
    assert len(store.runs(suite="image-gen", dataset="mnist")) == 1


@pytest.mark.parametrize(("seed", "status", "found"), [
    (0, "ok", True), (1, "diverged", True), (2, "failed", False), (3, "running", False),
])
def test_completed_finds_only_ok_or_diverged_cells(store: Store, seed: int, status: str,
                                                  found: bool) -> None:
    cell = make_result(seed=seed, status=status, backbone=None, setting=None)
    store.start(cell) if status == "running" else store.record(cell)
    hit = store.completed("image-gen", "1", "vae", None, "mnist", None, seed, "smoke")
    assert (hit.id if hit else None) == (cell.id if found else None)


@pytest.mark.parametrize("change", [
    {"suite_version": "2"}, {"backbone": "mlp"}, {"setting": "semi"}, {"budget": "full"},
    {"dataset": "digits"},
])
def test_completed_matches_the_whole_cell(store: Store, change: dict[str, str]) -> None:
    store.record(make_result())
    cell = {"suite": "image-gen", "suite_version": "1", "model": "vae", "backbone": "cnn",
            "dataset": "mnist", "setting": None, "seed": 0, "budget": "smoke"}
    assert store.completed(**cell) is not None
    assert store.completed(**{**cell, **change}) is None


def test_database_from_a_newer_zoo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ZooError, match=f"{re.escape(str(path))}.*version {SCHEMA_VERSION + 1}"):
        Store(path)


@pytest.mark.parametrize("content", [b"not a database", b"\x00garbage" * 500])
def test_garbage_file_is_refused_and_left_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "runs.db"
    path.write_bytes(content)
    with pytest.raises(ZooError, match=re.escape(str(path))):
        Store(path)
    assert path.read_bytes() == content


def test_foreign_sqlite_database_with_a_runs_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (name TEXT)")
        conn.execute("INSERT INTO runs VALUES ('keep me')")
    with pytest.raises(ZooError, match=re.escape(str(path))):
        Store(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM runs").fetchall() == [("keep me",)]


@pytest.mark.parametrize(("env", "expected"), [
    ({"ZOO_DB": "{tmp}/a/b/x.db", "ZOO_HOME": "{tmp}/home"}, "{tmp}/a/b/x.db"),
    ({"ZOO_HOME": "{tmp}/home"}, "{tmp}/home/runs.db"),
    ({"XDG_DATA_HOME": "{tmp}/xdg"}, "{tmp}/xdg/zoo/runs.db"),
])
def test_default_db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         env: dict[str, str], expected: str) -> None:
    for name in ("ZOO_DB", "ZOO_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    if "XDG_DATA_HOME" in env and not Path(default_db_path()).is_relative_to(tmp_path):
        pytest.skip("this platform's user data dir ignores XDG_DATA_HOME")
    path = default_db_path()
    assert path == Path(expected.format(tmp=tmp_path))
    assert path.parent.is_dir()


def _record_many(path: str, writer: int, barrier: Barrier) -> None:
    barrier.wait()
    with Store(path) as store:
        for seed in range(RESULTS_PER_WRITER):
            store.record(make_result(model=f"writer-{writer}", seed=seed))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"  # not created beforehand: the writers also race to create it
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    writers = [context.Process(target=_record_many, args=(str(path), i, barrier))
               for i in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=60)
    assert [process.exitcode for process in writers] == [0] * WRITERS
    with Store(path) as store:
        runs = store.runs()
    assert len(runs) == len({run.id for run in runs}) == WRITERS * RESULTS_PER_WRITER
    assert all(sum(run.model == f"writer-{i}" for run in runs) == RESULTS_PER_WRITER
               for i in range(WRITERS))


def test_display_model_and_json_row() -> None:
    assert make_result().display_model == "vae[cnn]"
    assert make_result(backbone=None).display_model == "vae"
    row = make_result().to_row()
    assert {"id", "model", "backbone", "dataset", "suite", "suite_version", "setting", "seed",
            "budget", "status", "metrics", "seconds", "error", "extra"} <= set(row)


@pytest.mark.parametrize(("field", "value"), [("kind", "sweep"), ("status", "done")])
def test_run_result_rejects_unknown_kind_or_status(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=value):
        make_result(**{field: value})


def test_environment_outside_a_repository(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = environment(device="cuda:0")
    assert env["device"] == "cuda:0"
    assert env["git_commit"] is None
    assert "numpy" in env["versions"]


def test_git_commit_of_a_repository(tmp_path: Path) -> None:
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    try:
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git is not available")
    commit = git_commit(tmp_path)
    assert commit is not None and len(commit) == 40
