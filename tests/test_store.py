"""The runs store: schema, round trips, the no-NaN-score rule, resume, bad files, concurrency."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from zoo.data.loading import dataset_fingerprint
from zoo.errors import ZooError
from zoo.plugins import get_host
from zoo.runs.results import RunResult, environment, git_commit
from zoo.runs.store import (
    COLUMNS,
    JSON_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    STORE_COLUMNS,
    Store,
    default_db_path,
)
from zoo.suites.base import Cell, Suite
from zoo.suites.runner import cell_row

if TYPE_CHECKING:
    from multiprocessing.synchronize import Barrier, Event

WRITERS = 8
RESULTS_PER_WRITER = 100
CLAIMERS = 4
CELLS = 40


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
    assert sorted(columns) == sorted([*COLUMNS, *STORE_COLUMNS])  # later fields come last
    assert list(COLUMNS) == [f.name for f in fields(RunResult)]


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
    for seed, suffix in enumerate("12"):
        store.record(make_result(id="abcdef0" + suffix * 25, seed=seed))
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
    hit = store.completed(make_result(seed=seed, backbone=None, status="running"))
    assert (hit.id if hit else None) == (cell.id if found else None)


@pytest.mark.parametrize("change", [
    {"suite_version": "2"}, {"backbone": "mlp"}, {"setting": "semi"}, {"budget": "full"},
    {"dataset": "digits"}, {"hparams": {"latent_dim": 8}}, {"data_sha256": "f" * 64},
], ids=lambda change: next(iter(change)))
def test_completed_matches_the_whole_cell(store: Store, change: dict[str, str]) -> None:
    store.record(make_result())
    assert store.completed(make_result(status="running")) is not None
    assert store.completed(make_result(status="running", **change)) is None
    assert store.claim(make_result(**change)) is None  # another cell, claimed at once


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
    assert not path.parent.exists()  # created by a store that writes, not by asking


def _record_many(path: str, writer: int, barrier: Barrier) -> None:
    barrier.wait()
    with Store(path) as store:
        for seed in range(RESULTS_PER_WRITER):
            store.record(make_result(model=f"writer-{writer}", seed=seed))


def run_together(target: Callable[..., None], arguments: list[tuple[Any, ...]]) -> None:
    """Start one spawned process per argument tuple, released together by a barrier that is
    passed last; every one must exit 0."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(arguments))
    processes = [context.Process(target=target, args=(*args, barrier)) for args in arguments]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * len(processes)


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"  # not created beforehand: the writers also race to create it
    run_together(_record_many, [(str(path), i) for i in range(WRITERS)])
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


# -- claims: a suite cell runs once ------------------------------------------------------------
def test_claim_stores_a_running_row_owned_by_this_process(store: Store) -> None:
    cell = make_result(status="ok")
    assert store.claim(cell) is None
    assert store.get(cell.id).status == "running"
    row = store.owner(cell.id)
    assert (row["owner_pid"], row["owner_host"]) == (os.getpid(), os.uname().nodename)
    assert row["owner_started"] is not None


def test_the_owner_stays_after_finish_and_a_recorded_run_has_none(store: Store) -> None:
    started, recorded = make_result(seed=1), make_result(seed=2)
    store.start(started)
    store.finish(started.id, status="ok", metrics={}, seconds=1.0)
    assert store.owner(started.id)["owner_pid"] == os.getpid()
    store.record(recorded)
    assert store.owner(recorded.id) is None


@pytest.mark.parametrize(("status", "held"), [
    ("ok", True), ("diverged", True), ("running", True), ("failed", False)])
def test_claim_refuses_a_cell_done_or_running_and_retakes_a_failed_one(
        store: Store, status: str, held: bool) -> None:
    first = make_result(backbone=None, setting=None)  # NULL parts of the key still collide
    assert store.claim(first) is None
    if status != "running":
        store.finish(first.id, status=status, metrics={"fid": 1.0}, seconds=1.0)
    again = make_result(backbone=None, setting=None)
    holder = store.claim(again)
    assert (holder.id if holder else None) == (first.id if held else None)
    assert store.get(first.id).status == status


@pytest.mark.parametrize("change", [
    {"suite_version": "2"}, {"backbone": "mlp"}, {"setting": "semi"}, {"budget": "full"},
    {"dataset": "digits"}, {"seed": 1}, {"model": "gan"}, {"suite": "tabular-ad"},
])
def test_claim_keys_on_the_whole_cell(store: Store, change: dict[str, object]) -> None:
    assert store.claim(make_result()) is None
    assert store.claim(make_result(**change)) is None


def test_claim_takes_only_bench_runs(store: Store) -> None:
    with pytest.raises(ValueError, match="'train'"):
        store.claim(make_result(kind="train"))


def test_the_unique_rule_holds_for_every_writer(store: Store) -> None:
    store.record(make_result())
    with pytest.raises(ZooError, match="already running or done"):
        store.record(make_result())
    with pytest.raises(ZooError, match="already running or done"):
        store.start(make_result())
    store.record(make_result(status="failed"))  # failures never hold a cell
    store.record(make_result(kind="train", suite=None))
    store.record(make_result(kind="train", suite=None))


def _claim_cells(path: str, barrier: Barrier) -> None:
    barrier.wait()
    with Store(path) as store:
        for seed in range(CELLS):
            cell = make_result(seed=seed, model="claimed")
            if store.claim(cell) is None:
                store.finish(cell.id, status="ok", metrics={"fid": float(seed)}, seconds=0.0)


def test_concurrent_claims_run_each_cell_once(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    run_together(_claim_cells, [(str(path),)] * CLAIMERS)
    with Store(path) as store:
        runs = store.runs()
    assert sorted(run.seed for run in runs) == list(range(CELLS))
    assert {run.status for run in runs} == {"ok"}


# -- owners: a killed run does not stay running -------------------------------------------------
def _claim_then(path: str, cell: RunResult, claimed: Event, release: Event | None) -> None:
    with Store(path) as store:
        assert store.claim(cell) is None
        claimed.set()
        if release is None:
            os.kill(os.getpid(), signal.SIGKILL)
        release.wait(60)
        store.finish(cell.id, status="ok", metrics={"fid": 2.0}, seconds=1.0)


def claim_in_a_process(path: Path, cell: RunResult,
                       killed: bool) -> tuple[multiprocessing.Process, Event]:
    context = multiprocessing.get_context("spawn")
    claimed, release = context.Event(), context.Event()
    process = context.Process(target=_claim_then,
                              args=(str(path), cell, claimed, None if killed else release))
    process.start()
    assert claimed.wait(60)
    return process, release


def test_a_killed_owners_row_is_finished_as_interrupted_when_the_store_opens(
        tmp_path: Path) -> None:
    path, cell = tmp_path / "runs.db", make_result()
    process, _ = claim_in_a_process(path, cell, killed=True)
    process.join(60)
    assert process.exitcode == -signal.SIGKILL
    content = path.read_bytes()
    with Store(path, readonly=True) as reader:  # reading finishes nothing, but shows it
        [listed] = reader.runs()
        assert reader.runs(status="failed") == [listed] and reader.runs(status="running") == []
        for read in (reader.get(cell.id), listed):
            assert (read.status, read.error) == ("failed", "interrupted")
    assert path.read_bytes() == content
    with Store(path) as store:
        stored = store.get(cell.id)
        assert (stored.status, stored.error) == ("failed", "interrupted")
        assert store.claim(make_result()) is None  # the cell runs again, once
        assert store.claim(make_result()) is not None


def test_a_live_owners_row_stays_running_and_holds_its_cell(tmp_path: Path) -> None:
    path, cell = tmp_path / "runs.db", make_result()
    process, release = claim_in_a_process(path, cell, killed=False)
    try:
        with Store(path) as store:
            assert store.get(cell.id).status == "running"
            assert store.claim(make_result()).id == cell.id
    finally:
        release.set()
        process.join(60)
    assert process.exitcode == 0
    with Store(path) as store:
        assert store.get(cell.id).status == "ok"


@pytest.mark.parametrize(("owner", "gone"), [
    ("owner_started = owner_started + 1", True),  # the pid now belongs to another process
    ("owner_pid = 2147483646", True),  # no such process
    ("owner_host = 'another-host', owner_pid = 2147483646", False),  # cannot be checked
    ("owner_host = NULL, owner_pid = NULL", False),  # a row from before owners
])
def test_only_an_owner_gone_from_this_host_is_interrupted(tmp_path: Path, owner: str,
                                                          gone: bool) -> None:
    path, cell = tmp_path / "runs.db", make_result()
    with Store(path) as store:
        store.claim(cell)
        store._conn.execute(f"UPDATE runs SET {owner}")
        assert (store.claim(make_result()) is None) == gone
    with Store(path) as store:
        assert store.get(cell.id).status == ("failed" if gone else "running")


# -- migration from older versions ---------------------------------------------------------------
# The claim key of schema version 2, as that version's zoo computed it.
V2_KEY_FIELDS = ("suite", "suite_version", "model", "backbone", "dataset", "setting", "seed",
                 "budget")


def write_old(path: Path, version: int, rows: list[RunResult]) -> None:
    """A store of schema ``version`` holding ``rows`` as that version's zoo stored them: only
    the columns it had and, from version 2, its claim key."""
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        for step in range(1, version + 1):
            MIGRATIONS[step](conn)
        conn.execute(f"PRAGMA user_version = {version}")
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        for row in rows:
            values = {name: json.dumps(getattr(row, name)) if name in JSON_COLUMNS
                      else getattr(row, name) for name in COLUMNS if name in columns}
            if "cell_key" in columns:
                values["cell_key"] = json.dumps([getattr(row, name) for name in V2_KEY_FIELDS])
            conn.execute(f"INSERT INTO runs ({', '.join(values)}) "
                         f"VALUES ({', '.join(f':{name}' for name in values)})", values)


def test_a_version_1_store_with_duplicate_cells_migrates_and_keeps_every_row(
        tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    old = [make_result(created=f"2025-01-0{day}T00:00:00.000+00:00", status=status)
           for day, status in enumerate(("ok", "ok", "failed", "running"), start=1)]
    write_old(path, 1, old)
    with Store(path, readonly=True) as reader:  # read as it is, not migrated
        assert len(reader.runs()) == 4
    assert pragma(path, "user_version") == 1
    mnist = dataset_fingerprint("mnist")  # the registry's checksums of its files
    with Store(path) as store:
        assert store.runs() == [replace(row, data_sha256=mnist) for row in old]
        assert store.completed(make_result(data_sha256=mnist)).id == old[1].id
        assert store.claim(make_result(data_sha256=mnist)).id == old[1].id
        assert store.claim(make_result(seed=1, data_sha256=mnist)) is None
    assert pragma(path, "user_version") == SCHEMA_VERSION


def bench_row(suite: Suite, cell: Cell, **fields: Any) -> RunResult:
    """The running row a bench opens for ``cell``: hyperparameters and fingerprint included."""
    return replace(cell_row(suite, cell, "cpu"), **fields)


def test_a_version_2_store_keys_its_cells_by_content_so_an_unchanged_bench_skips_them(
        tmp_path: Path) -> None:
    table = tmp_path / "table.csv"
    table.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{int(i == 7)}\n" for i in range(20)))
    suite = get_host().suite("embedded-ad").load()()
    cells = [Cell("knn", None, dataset, "default", 0, "smoke")
             for dataset in ("wine-ad", str(table))]
    # As version 2 stored them: what the model reported, no fingerprint, the old key.
    old = [replace(bench_row(suite, cell), status="ok", data_sha256=None,
                   hparams={"n_neighbors": 5, "method": "largest"}) for cell in cells]
    path = tmp_path / "runs.db"
    write_old(path, 2, old)
    with Store(path) as store:
        assert [row.data_sha256 for row in store.runs()] == [None, dataset_fingerprint(
            str(table))]
        assert [store.claim(bench_row(suite, cell)).id for cell in cells] == [
            row.id for row in old]  # unchanged: skipped
        assert store.claim(bench_row(suite, cells[0], hparams={"n_neighbors": 3})) is None
        table.write_text(table.read_text() + "20,2,0\n")
        assert store.claim(bench_row(suite, cells[1])) is None  # the file changed: it runs


# -- read-only stores and damaged files ---------------------------------------------------------
def test_read_only_store_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "runs.db"
    with pytest.raises(ZooError, match=f"no runs database {re.escape(str(path))}"):
        Store(path, readonly=True)
    assert not (tmp_path / "no").exists()


def test_read_only_store_reads_but_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with Store(path) as store:
        store.record(make_result())
    content = path.read_bytes()
    with Store(path, readonly=True) as reader:
        assert [run.model for run in reader.runs()] == ["vae"]
        with pytest.raises(ZooError, match=r"cannot use runs database.*readonly"):
            reader.record(make_result(seed=1))
    assert path.read_bytes() == content



@pytest.fixture
def read_only_folder(tmp_path: Path) -> Path:
    """A folder nobody may create files in, root included (the immutable attribute), as on
    a read-only mount; skipped where ``chattr`` cannot set it."""
    folder = tmp_path / "archive"
    folder.mkdir()
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=False, capture_output=True)


def test_read_only_store_reads_a_database_in_a_read_only_folder(read_only_folder: Path) -> None:
    path = read_only_folder / "runs.db"
    with Store(path) as store:
        store.record(make_result())
    if subprocess.run(["chattr", "+i", str(read_only_folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs root on ext2/3/4)")
    with Store(path, readonly=True) as reader:  # SQLite cannot create runs.db-shm here
        assert [run.model for run in reader.runs()] == ["vae"]
    assert sorted(p.name for p in read_only_folder.iterdir()) == ["runs.db"]

SEEDS_STORED = range(300)


def corrupt_middle_page(path: Path) -> bytes:
    """A store of many pages with garbage in the middle one (the header is intact)."""
    with Store(path) as store:
        for seed in SEEDS_STORED:
            store.record(make_result(id=f"{seed:032x}", seed=seed, extra={"pad": "x" * 500}))
    content = bytearray(path.read_bytes())
    page = pragma(path, "page_size")
    middle = len(content) // page // 2 * page
    content[middle:middle + page] = b"\xa5" * page
    path.write_bytes(bytes(content))
    return bytes(content)


# Each reads every cell, so that it meets the corrupt page wherever it lies.
@pytest.mark.parametrize("use", [
    lambda store: store.runs(),
    lambda store: [store.get(f"{seed:032x}") for seed in SEEDS_STORED],
    lambda store: [store.completed(make_result(seed=seed)) for seed in SEEDS_STORED],
], ids=["runs", "get", "completed"])
def test_a_corrupt_page_read_is_one_error_naming_the_file(tmp_path: Path,
                                                          use: Callable) -> None:
    path = tmp_path / "runs.db"
    content = corrupt_middle_page(path)
    error = f"cannot use runs database {re.escape(str(path))}: "
    with pytest.raises(ZooError, match=error), Store(path, readonly=True) as store:
        use(store)
    assert path.read_bytes() == content


def test_a_corrupt_store_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    content = corrupt_middle_page(path)
    with pytest.raises(ZooError, match=f"cannot use runs database {re.escape(str(path))}: "):
        Store(path)
    assert path.read_bytes() == content
    assert not path.with_name("runs.db-wal").exists()
