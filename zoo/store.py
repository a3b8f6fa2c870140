"""The runs store: every train, evaluate and suite-cell run as a row of a SQLite database.

The database runs in WAL mode with a 30 s busy timeout, and every write is one
``BEGIN IMMEDIATE`` transaction, so many processes (a sweep, DDP rank 0 of several jobs) can
write to one file at once and lose nothing. A run is stored when it starts (``running``) and
updated when it finishes; a crash leaves the row unfinished, never a half-written score.
Scores are finite numbers or nothing: a run that reports NaN or inf is stored as ``diverged``.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` brings an older file
up to date and a file written by a newer zoo is refused rather than misread.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs

from zoo.errors import ZooError
from zoo.results import FINISHED_STATUSES, RunResult

BUSY_TIMEOUT_S = 30.0
MIN_ID_PREFIX = 6
JSON_COLUMNS = frozenset({"hparams", "metrics", "versions", "extra"})
COLUMNS = tuple(f.name for f in fields(RunResult))


def default_db_path() -> Path:
    """Where runs are stored unless ``--db`` says otherwise; its folder is created.

    ``$ZOO_DB`` if set, else ``$ZOO_HOME/runs.db`` if ``ZOO_HOME`` is set, else ``runs.db`` in
    the user data directory (``~/.local/share/zoo`` on Linux).
    """
    if os.environ.get("ZOO_DB"):
        path = Path(os.environ["ZOO_DB"]).expanduser()
    elif os.environ.get("ZOO_HOME"):
        path = Path(os.environ["ZOO_HOME"]).expanduser() / "runs.db"
    else:
        path = Path(platformdirs.user_data_dir("zoo", appauthor=False)) / "runs.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _create_v1(conn: sqlite3.Connection) -> None:
    # Spelled out rather than derived from RunResult: a released schema never changes, later
    # fields arrive through a new migration.
    conn.execute("""
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            model TEXT NOT NULL,
            backbone TEXT,
            plugin TEXT NOT NULL,
            plugin_version TEXT,
            dataset TEXT NOT NULL,
            suite TEXT,
            suite_version TEXT,
            setting TEXT,
            seed INTEGER,
            budget TEXT,
            hparams TEXT NOT NULL,
            status TEXT NOT NULL,
            metrics TEXT NOT NULL,
            seconds REAL,
            device TEXT,
            versions TEXT NOT NULL,
            git_commit TEXT,
            error TEXT,
            checkpoint TEXT,
            created TEXT NOT NULL,
            extra TEXT NOT NULL
        )""")
    conn.execute("CREATE INDEX runs_by_suite ON runs (suite, suite_version, status)")
    conn.execute("CREATE INDEX runs_by_cell ON runs "
                 "(suite, suite_version, model, dataset, setting, seed, budget, backbone)")
    conn.execute("CREATE INDEX runs_by_created ON runs (created)")


# MIGRATIONS[v] turns a version v-1 database into version v. Append; never edit a released one.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _create_v1}
SCHEMA_VERSION = max(MIGRATIONS)


def checked_scores(status: str, metrics: Mapping[str, Any],
                   error: str | None) -> tuple[str, dict[str, float], str | None]:
    """Keep only finite metrics; an ``ok`` run with a NaN or inf metric becomes ``diverged``.

    Returns:
        ``(status, finite_metrics, error)`` where ``error`` names each non-finite metric.
    """
    finite: dict[str, float] = {}
    non_finite: list[str] = []
    for name, value in metrics.items():
        number = float(value)
        if math.isfinite(number):
            finite[name] = number
        else:
            non_finite.append(f"{name}={number}")
    if not non_finite:
        return status, finite, error
    reason = f"non-finite metric {', '.join(non_finite)}"
    return ("diverged" if status == "ok" else status), finite, (
        f"{error}; {reason}" if error else reason)


def _encode(name: str, value: Any) -> Any:
    if name not in JSON_COLUMNS:
        return value
    # default=str keeps a run whose hyperparameters hold a Path or similar storable.
    return json.dumps(value, sort_keys=True, default=str)


def _decode(row: sqlite3.Row) -> RunResult:
    return RunResult(**{name: json.loads(row[name]) if name in JSON_COLUMNS else row[name]
                        for name in COLUMNS})


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is
    # locked" at once rather than waiting out the busy timeout; so wait here instead.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    # IMMEDIATE takes the write lock up front, so a read-then-write cannot be overtaken.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Store:
    """The runs database at ``path``, open until :meth:`close` (or the end of a ``with``).

    Args:
        path: Database file; default :func:`default_db_path`. Its folder is created.

    Raises:
        ZooError: The file is not a SQLite database, was written by a newer zoo, or cannot
            be opened. The file is left as it was.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are begun explicitly, BEGIN IMMEDIATE.
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ZooError(f"cannot open runs database {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        try:
            # Read before anything writes: a garbage or newer file fails here, untouched.
            self._check_version(self._user_version(conn))
            _enable_wal(conn)
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ZooError(f"cannot use runs database {self.path}: {exc}") from None
        except ZooError:
            conn.close()
            raise
        return conn

    @staticmethod
    def _user_version(conn: sqlite3.Connection) -> int:
        return conn.execute("PRAGMA user_version").fetchone()[0]

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ZooError(f"{self.path} has runs schema version {version}, newer than this "
                           f"zoo reads ({SCHEMA_VERSION}); upgrade zoo or use another --db")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if self._user_version(conn) == SCHEMA_VERSION:
            return
        with _transaction(conn):
            # Read again under the write lock: another process may have migrated meanwhile.
            version = self._user_version(conn)
            self._check_version(version)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _insert(self, result: RunResult) -> str:
        status, metrics, error = checked_scores(result.status, result.metrics, result.error)
        row = replace(result, status=status, metrics=metrics, error=error)
        placeholders = ", ".join(f":{name}" for name in COLUMNS)
        with _transaction(self._conn) as conn:
            conn.execute(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({placeholders})",
                         {name: _encode(name, getattr(row, name)) for name in COLUMNS})
        return row.id

    def start(self, result: RunResult) -> str:
        """Store ``result`` as a ``running`` run and return its id; :meth:`finish` ends it."""
        return self._insert(replace(result, status="running"))

    def record(self, result: RunResult) -> str:
        """Store a finished run in one go and return its id.

        Raises:
            ValueError: ``result.status`` is ``running``; use :meth:`start` for that.
        """
        if result.status not in FINISHED_STATUSES:
            raise ValueError(f"record() stores finished runs, not {result.status!r} ones; "
                             "use start() and finish()")
        return self._insert(result)

    def finish(self, run_id: str, *, status: str, metrics: Mapping[str, float],
               seconds: float | None, error: str | None = None, checkpoint: str | None = None,
               hparams: Mapping[str, Any] | None = None,
               extra: Mapping[str, Any] | None = None) -> RunResult:
        """Finish a ``running`` run and return it as stored.

        Args:
            run_id: The full id :meth:`start` returned.
            status: ``ok``, ``failed`` or ``diverged``; ``ok`` with a NaN or inf metric is
                stored as ``diverged`` with an error naming the metric.
            metrics: Scores by name.
            seconds: Wall time.
            error: Why it failed or diverged.
            checkpoint: Where the model was saved; None keeps what :meth:`start` stored.
            hparams: The hyperparameters the model was built with; None keeps the stored ones.
            extra: Merged into the run's ``extra``.

        Raises:
            ZooError: No such run, or it already finished.
            ValueError: ``status`` is not a finished status.
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"finish status {status!r} is not one of "
                             f"{', '.join(FINISHED_STATUSES)}")
        status, finite, error = checked_scores(status, metrics, error)
        with _transaction(self._conn) as conn:
            row = conn.execute("SELECT status, extra FROM runs WHERE id = ?",
                               (run_id,)).fetchone()
            if row is None:
                raise ZooError(f"no run {run_id!r} in {self.path}")
            if row["status"] != "running":
                raise ZooError(f"run {run_id} already finished as {row['status']!r}")
            conn.execute(
                "UPDATE runs SET status = ?, metrics = ?, seconds = ?, error = ?,"
                " checkpoint = COALESCE(?, checkpoint), hparams = COALESCE(?, hparams),"
                " extra = ? WHERE id = ?",
                (status, _encode("metrics", finite), seconds, error, checkpoint,
                 None if hparams is None else _encode("hparams", dict(hparams)),
                 _encode("extra", {**json.loads(row["extra"]), **(extra or {})}), run_id))
        return self.get(run_id)

    def get(self, run_id: str) -> RunResult:
        """The run with id ``run_id``, or with a unique id prefix of at least 6 characters.

        Raises:
            ZooError: No run matches, the prefix is too short, or it matches several runs.
        """
        row = self._conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is not None:
            return _decode(row)
        if len(run_id) < MIN_ID_PREFIX:
            raise ZooError(f"no run {run_id!r} in {self.path} (a prefix needs at least "
                           f"{MIN_ID_PREFIX} characters)")
        rows = self._conn.execute("SELECT * FROM runs WHERE substr(id, 1, ?) = ? LIMIT 2",
                                  (len(run_id), run_id)).fetchall()
        if not rows:
            raise ZooError(f"no run {run_id!r} in {self.path}")
        if len(rows) > 1:
            raise ZooError(f"run id prefix {run_id!r} matches several runs in {self.path}; "
                           "give more characters")
        return _decode(rows[0])

    def runs(self, *, suite: str | None = None, status: str | None = None,
             kind: str | None = None, model: str | None = None,
             dataset: str | None = None) -> list[RunResult]:
        """Stored runs, oldest first, filtered by every argument that is not None."""
        filters = {"suite": suite, "status": status, "kind": kind, "model": model,
                   "dataset": dataset}
        given = {name: value for name, value in filters.items() if value is not None}
        where = " AND ".join(f"{name} = :{name}" for name in given) or "1"
        rows = self._conn.execute(f"SELECT * FROM runs WHERE {where} ORDER BY created, rowid",
                                  given).fetchall()
        return [_decode(row) for row in rows]

    def completed(self, suite: str, suite_version: str | None, model: str,
                  backbone: str | None, dataset: str, setting: str | None, seed: int | None,
                  budget: str | None) -> RunResult | None:
        """The latest ``ok`` or ``diverged`` run of one suite cell, or None if it must run.

        A diverged cell counts as done: re-running the same seed would diverge again. Failed
        and unfinished cells are run again.
        """
        row = self._conn.execute(
            "SELECT * FROM runs WHERE suite = ? AND suite_version IS ? AND model = ?"
            " AND backbone IS ? AND dataset = ? AND setting IS ? AND seed IS ? AND budget IS ?"
            " AND status IN ('ok', 'diverged') ORDER BY created DESC, rowid DESC LIMIT 1",
            (suite, suite_version, model, backbone, dataset, setting, seed, budget)).fetchone()
        return _decode(row) if row is not None else None
