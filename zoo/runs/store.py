"""The runs store: every train, evaluate and suite-cell run as a row of a SQLite database.

The database runs in WAL mode with a 30 s busy timeout, and every write is one
``BEGIN IMMEDIATE`` transaction, so many processes (a sweep, DDP rank 0 of several jobs) can
write to one file at once and lose nothing. A run is stored when it starts (``running``) and
updated when it finishes; a crash leaves the row unfinished, never a half-written score.
Scores are finite numbers or nothing: a run that reports NaN or inf is stored as ``diverged``.

A suite cell is *claimed* (:meth:`Store.claim`): in one transaction its row is stored as
``running`` unless the cell is done (``ok`` or ``diverged``) or running in a live process. A
unique index on the cell's key over ``running``, ``ok`` and ``diverged`` bench rows backs the
rule, so any number of identical benches together run each cell once. The key is the cell's
content (:func:`cell_key_of`): suite, suite version, model, backbone, dataset, setting, seed,
budget, the model's hyperparameters (every declared one, defaults included) and the dataset's
fingerprint (``data_sha256``); a cell whose model's defaults, recipe or data changed is
another cell, and runs.

A ``running`` row records its owner: host name, pid and the process's start time (so a reused
pid is not taken for the owner). Opening a store read-write finishes the ``running`` rows whose
owner on this host is gone (killed, crashed) as ``failed`` with error ``interrupted``; their
cells are claimed again. Owners on other hosts cannot be checked and are taken as alive.

A read-only store (``readonly=True``, for commands that only read) writes nothing, creates no
file or folder and does not migrate. A store opened to write checks every page first, so a
corrupt file is refused before anything is written to it; any SQLite error (a corrupt page
met by a read-only store, a lock held past the timeout) is one :class:`~zoo.errors.ZooError`
line naming the file.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` brings an older file
up to date and a file written by a newer zoo is refused rather than misread.
"""

from __future__ import annotations

import functools
import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import platformdirs

from zoo.errors import ZooError
from zoo.models import base_model, declared_hparams
from zoo.plugins import get_host
from zoo.runs.results import FINISHED_STATUSES, INTERRUPTED, RunResult

BUSY_TIMEOUT_S = 30.0
MIN_ID_PREFIX = 6
JSON_COLUMNS = frozenset({"hparams", "metrics", "versions", "extra"})
COLUMNS = tuple(f.name for f in fields(RunResult))
# The store's own columns, beside one per RunResult field: the claim key and the owner.
OWNER_COLUMNS = ("owner_host", "owner_pid", "owner_started")
STORE_COLUMNS = ("cell_key", *OWNER_COLUMNS)
# The fields that name a suite cell; its key adds its hyperparameters and data_sha256.
CELL_KEY_FIELDS = ("suite", "suite_version", "model", "backbone", "dataset", "setting", "seed",
                   "budget")
DONE_STATUSES = ("ok", "diverged")  # a diverged cell is done: the same seed diverges again
# The rows that hold their cell; the same condition as the unique index's, so it is used.
HOLDS_CELL = "status IN ('running', 'ok', 'diverged')"

P = ParamSpec("P")
T = TypeVar("T")


def default_db_path() -> Path:
    """Where runs are stored unless ``--db`` says otherwise (its folder is not created here).

    ``$ZOO_DB`` if set, else ``$ZOO_HOME/runs.db`` if ``ZOO_HOME`` is set, else ``runs.db`` in
    the user data directory (``~/.local/share/zoo`` on Linux).
    """
    if os.environ.get("ZOO_DB"):
        return Path(os.environ["ZOO_DB"]).expanduser()
    if os.environ.get("ZOO_HOME"):
        return Path(os.environ["ZOO_HOME"]).expanduser() / "runs.db"
    return Path(platformdirs.user_data_dir("zoo", appauthor=False)) / "runs.db"


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


def _v2_cell_key(values: Sequence[Any]) -> str:
    """The claim key of schema version 2 (its :data:`CELL_KEY_FIELDS` values as JSON), for
    that version's migration."""
    return json.dumps(list(values))


def cell_key_of(result: RunResult) -> str | None:
    """The claim key of a bench run's suite cell, None for other runs: its
    :data:`CELL_KEY_FIELDS`, its hyperparameters as :func:`key_hparams` gives them and its
    ``data_sha256``, as JSON with sorted keys.

    The same before the cell runs (its row holds the hyperparameters the model will be built
    with) and after (the model's own report of them), so that rows of one cell from any
    executor, store or version of zoo meet. Never NULL, so a backbone or setting of None
    still makes two equal cells collide in the unique index (SQLite treats NULLs in a unique
    index as distinct).
    """
    if result.kind != "bench":
        return None
    return json.dumps([*(getattr(result, name) for name in CELL_KEY_FIELDS),
                       key_hparams(result), result.data_sha256], sort_keys=True, default=str)


def key_hparams(result: RunResult) -> dict[str, Any]:
    """A run's hyperparameters as its cell's key holds them: every one its model declares,
    defaults included (:func:`zoo.models.declared_hparams`); as stored for a model no
    installed plugin registers."""
    try:
        spec = get_host().model(base_model(result.model))
    except ZooError:
        return dict(result.hparams)
    return declared_hparams(spec, result.hparams)


def _add_claims_and_owners_v2(conn: sqlite3.Connection) -> None:
    for column in ("cell_key TEXT", "owner_host TEXT", "owner_pid INTEGER",
                   "owner_started INTEGER"):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    conn.executemany("UPDATE runs SET cell_key = ? WHERE rowid = ?", _v1_cell_keys(conn))
    conn.execute("CREATE UNIQUE INDEX runs_claimed_cells ON runs (cell_key)"
                 " WHERE status IN ('running', 'ok', 'diverged')")
    conn.execute("CREATE INDEX runs_running ON runs (owner_host) WHERE status = 'running'")


def _v1_cell_keys(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    # Rows from before claims may hold a done cell several times: only its latest ok/diverged
    # row takes the key, older copies stay outside the unique rule (kept, still shown). Their
    # running rows have no owner to check, so they too stay outside and never block a cell.
    failed: list[tuple[str, int]] = []
    latest_done: dict[str, int] = {}
    for row in conn.execute(f"SELECT rowid, status, {', '.join(CELL_KEY_FIELDS)} FROM runs"
                            " WHERE kind = 'bench' ORDER BY created, rowid"):
        key = _v2_cell_key([row[name] for name in CELL_KEY_FIELDS])
        if row["status"] in DONE_STATUSES:
            latest_done[key] = row["rowid"]
        elif row["status"] == "failed":
            failed.append((key, row["rowid"]))
    return failed + list(latest_done.items())


def _key_cells_by_content_v3(conn: sqlite3.Connection) -> None:
    # Rows from before fingerprints take their data's fingerprint as it is now (the registry's
    # checksums, a user's file at its path), and keys from the hyperparameters they stored:
    # so an unchanged bench resumed after the upgrade skips them, and a changed one runs.
    # Rows outside the unique rule (older copies of a cell) stay outside.
    from zoo.data.loading import dataset_fingerprint

    conn.execute("ALTER TABLE runs ADD COLUMN data_sha256 TEXT")
    fingerprints: dict[str, str | None] = {}
    updates = []
    for row in conn.execute("SELECT rowid, * FROM runs WHERE kind = 'bench'").fetchall():
        dataset = row["dataset"]
        if dataset not in fingerprints:
            fingerprints[dataset] = dataset_fingerprint(dataset)
        # Only the columns of this version: a later one may add fields.
        run = RunResult(kind="bench", plugin=row["plugin"], hparams=json.loads(row["hparams"]),
                        data_sha256=fingerprints[dataset],
                        **{name: row[name] for name in CELL_KEY_FIELDS})
        key = cell_key_of(run) if row["cell_key"] is not None else None
        updates.append((run.data_sha256, key, row["rowid"]))
    conn.executemany("UPDATE runs SET data_sha256 = ?, cell_key = ? WHERE rowid = ?", updates)


# MIGRATIONS[v] turns a version v-1 database into version v. Append; never edit a released one.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _create_v1, 2: _add_claims_and_owners_v2, 3: _key_cells_by_content_v3}
SCHEMA_VERSION = max(MIGRATIONS)


def process_start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after boot, from ``/proc/PID/stat``.

    Returns:
        None when the process does not exist or is a zombie (dead, not yet reaped), and on a
        system without ``/proc``.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2, the command name, may hold spaces and ")": fields 3.. follow its last ")".
    after_name = stat[stat.rindex(")") + 1:].split()
    state, start_ticks = after_name[0], after_name[22 - 3]
    return None if state in ("Z", "X") else int(start_ticks)


def current_owner() -> dict[str, Any]:
    """This process as the owner of a ``running`` row: :data:`OWNER_COLUMNS` by name."""
    pid = os.getpid()
    return {"owner_host": socket.gethostname(), "owner_pid": pid,
            "owner_started": process_start_time(pid)}


def owner_is_gone(host: str | None, pid: int | None, started: int | None) -> bool:
    """Whether the process that owns a ``running`` row surely no longer runs.

    Only an owner on this host can be checked; an unknown owner (a row from before owners
    were recorded) or one on another host counts as alive. Where the start time is known, a
    process with the owner's pid but another start time is a reused pid: the owner is gone.
    """
    if host != socket.gethostname() or pid is None or pid <= 0:
        return False
    if started is not None and Path("/proc/self/stat").exists():
        return process_start_time(pid) != started
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the pid exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


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
    # A read-only store of an older version lacks the later columns: their fields default.
    present = set(row.keys())
    return RunResult(**{name: json.loads(row[name]) if name in JSON_COLUMNS else row[name]
                        for name in COLUMNS if name in present})


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
        if conn.in_transaction:  # SQLite has already rolled back after some errors
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open ``path`` for reading only. A WAL database needs its ``-shm`` file, which SQLite
    creates beside it; where the folder is read-only (a read-only mount, an archive) and the
    file is missing, no process can be writing there, so the file is opened as immutable."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                           isolation_level=None)
    try:
        conn.execute("PRAGMA user_version")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode != sqlite3.SQLITE_CANTOPEN:
            raise
        conn.close()
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
    return conn


def _reported(method: Callable[Concatenate[Store, P], T]) -> Callable[Concatenate[Store, P], T]:
    """Report any SQLite error of a store method (a corrupt page, a lock held past the busy
    timeout) as one line naming the file; its transaction has been rolled back."""
    @functools.wraps(method)
    def reporting(self: Store, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise ZooError(f"cannot use runs database {self.path}: {exc}") from None
    return reporting


class Store:
    """The runs database at ``path``, open until :meth:`close` (or the end of a ``with``).

    Args:
        path: Database file; default :func:`default_db_path`. Opened read-write, its folder
            is created and the file migrated to the current schema.
        readonly: Open for reading only: nothing is written, migrated or created.

    Raises:
        ZooError: The file is not a zoo runs database, was written by a newer zoo, is
            corrupt, or cannot be opened; read-only, also when it does not exist. The file is
            left as it was.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 readonly: bool = False) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.readonly = readonly
        self._conn = self._connect()
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun explicitly, BEGIN IMMEDIATE.
        try:
            if self.readonly:
                if not self.path.is_file():
                    raise ZooError(f"no runs database {self.path}: nothing has been stored "
                                   "there (--db or $ZOO_DB names the database)")
                conn = _connect_readonly(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S,
                                       isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ZooError(f"cannot open runs database {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        return conn

    @_reported
    def _prepare(self) -> None:
        # Read before anything writes: a garbage or newer file fails here, untouched.
        version = self._user_version()
        self._check_version(version)
        if self.readonly:
            if version == 0:
                raise ZooError(f"cannot use runs database {self.path}: not a zoo runs "
                               "database (no schema version)")
            return
        self._check_integrity()
        _enable_wal(self._conn)
        self._migrate()
        self._finish_orphans()

    def _check_integrity(self) -> None:
        # A corrupt page is met only by the statement that reads it, maybe after this store
        # wrote elsewhere: a store that writes looks at every page first (milliseconds).
        problem = self._conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if problem != "ok":
            raise ZooError(f"cannot use runs database {self.path}: database disk image is "
                           f"malformed ({' '.join(problem.replace('***', '').split())})")

    def _user_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ZooError(f"{self.path} has runs schema version {version}, newer than this "
                           f"zoo reads ({SCHEMA_VERSION}); upgrade zoo or use another --db")

    def _migrate(self) -> None:
        if self._user_version() == SCHEMA_VERSION:
            return
        with _transaction(self._conn) as conn:
            # Read again under the write lock: another process may have migrated meanwhile.
            version = self._user_version()
            self._check_version(version)
            for step in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[step](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _orphans(self) -> list[str]:
        """Ids of the ``running`` rows whose owner on this host is gone."""
        rows = self._conn.execute(
            "SELECT id, owner_host, owner_pid, owner_started FROM runs"
            " WHERE status = 'running' AND owner_host = ?", (socket.gethostname(),))
        return [row["id"] for row in rows if owner_is_gone(
            row["owner_host"], row["owner_pid"], row["owner_started"])]

    def _finish_orphans(self) -> None:
        # Looked for first without the write lock: most opens find nothing to finish.
        if not self._orphans():
            return
        with _transaction(self._conn):
            self._interrupt(self._orphans())

    def _interrupt(self, run_ids: list[str]) -> None:
        self._conn.execute(
            f"UPDATE runs SET status = 'failed', error = ? WHERE status = 'running'"
            f" AND id IN ({', '.join('?' * len(run_ids))})", (INTERRUPTED, *run_ids))

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _insert(self, conn: sqlite3.Connection, result: RunResult) -> str:
        """Insert ``result`` inside the caller's transaction; a running row gets its owner."""
        status, metrics, error = checked_scores(result.status, result.metrics, result.error)
        row = replace(result, status=status, metrics=metrics, error=error)
        values = {name: _encode(name, getattr(row, name)) for name in COLUMNS}
        values["cell_key"] = cell_key_of(row)
        values.update(current_owner() if status == "running" else dict.fromkeys(OWNER_COLUMNS))
        try:
            conn.execute(f"INSERT INTO runs ({', '.join(values)})"
                         f" VALUES ({', '.join(f':{name}' for name in values)})", values)
        except sqlite3.IntegrityError:
            raise ZooError(f"suite cell {values['cell_key']} is already running or done in "
                           f"{self.path}; claim() a cell before running it") from None
        return row.id

    @_reported
    def start(self, result: RunResult) -> str:
        """Store ``result`` as a ``running`` run and return its id; :meth:`finish` ends it.

        A suite cell is opened with :meth:`claim` instead, so that it never runs twice.
        """
        with _transaction(self._conn) as conn:
            return self._insert(conn, replace(result, status="running"))

    @_reported
    def claim(self, result: RunResult) -> RunResult | None:
        """Claim the suite cell of bench run ``result``: store it as ``running``, owned by
        this process, unless the cell is already taken; all in one transaction.

        A ``running`` row of the cell whose owner on this host is gone is finished as
        ``failed: interrupted`` first, and the cell claimed.

        Returns:
            None when ``result`` is stored and this process must run the cell (then
            :meth:`finish` it); else the row that holds the cell: ``ok`` or ``diverged``
            (done), or ``running`` in a live process.

        Raises:
            ValueError: ``result`` is not a bench run.
        """
        key = cell_key_of(result)
        if key is None:
            raise ValueError(f"claim() takes suite cells (bench runs), not {result.kind!r} runs")
        with _transaction(self._conn) as conn:
            held = self._holder(key)
            if held is not None:
                if not (held["status"] == "running" and owner_is_gone(
                        *(held[name] for name in OWNER_COLUMNS))):
                    return _decode(held)
                self._interrupt([held["id"]])
            self._insert(conn, replace(result, status="running"))
        return None

    @_reported
    def record(self, result: RunResult) -> str:
        """Store a finished run in one go and return its id.

        Raises:
            ValueError: ``result.status`` is ``running``; use :meth:`start` for that.
            ZooError: ``result`` is a suite cell that is already done or running.
        """
        if result.status not in FINISHED_STATUSES:
            raise ValueError(f"record() stores finished runs, not {result.status!r} ones; "
                             "use start() and finish()")
        with _transaction(self._conn) as conn:
            return self._insert(conn, result)

    @_reported
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

    @_reported
    def get(self, run_id: str) -> RunResult:
        """The run with id ``run_id``, or with a unique id prefix of at least 6 characters.

        Raises:
            ZooError: No run matches, the prefix is too short, or it matches several runs.
        """
        row = self._conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is not None:
            return self._read(row)
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
        return self._read(rows[0])

    @_reported
    def owner(self, run_id: str) -> dict[str, Any] | None:
        """The process that ran run ``run_id`` (its full id): :data:`OWNER_COLUMNS` by name,
        or None for a run stored finished in one go (:meth:`record`) or before owners were
        recorded."""
        row = self._conn.execute(f"SELECT {', '.join(OWNER_COLUMNS)} FROM runs WHERE id = ?",
                                 (run_id,)).fetchone()
        if row is None or row["owner_host"] is None:
            return None
        return {name: row[name] for name in OWNER_COLUMNS}

    @_reported
    def runs(self, *, suite: str | None = None, status: str | None = None,
             kind: str | None = None, model: str | None = None,
             dataset: str | None = None) -> list[RunResult]:
        """Stored runs, oldest first, filtered by every argument that is not None."""
        filters = {"suite": suite, "status": status, "kind": kind, "model": model,
                   "dataset": dataset}
        given = {name: value for name, value in filters.items() if value is not None}
        if self.readonly:  # the status read may differ from the stored one (_read)
            given.pop("status", None)
        where = " AND ".join(f"{name} = :{name}" for name in given) or "1"
        rows = self._conn.execute(f"SELECT * FROM runs WHERE {where} ORDER BY created, rowid",
                                  given).fetchall()
        return [run for run in map(self._read, rows) if status is None or run.status == status]

    def _read(self, row: sqlite3.Row) -> RunResult:
        """A stored row as a run. A read-only store finishes no orphan, so it shows a
        ``running`` row whose owner on this host is gone as the ``failed: interrupted`` row
        the next store opened for writing will make of it."""
        run = _decode(row)
        owned = "owner_host" in row.keys()  # noqa: SIM118 (a Row's `in` looks at its values)
        if (self.readonly and run.status == "running" and owned
                and owner_is_gone(row["owner_host"], row["owner_pid"], row["owner_started"])):
            return replace(run, status="failed", error=INTERRUPTED)
        return run

    @_reported
    def completed(self, cell: RunResult) -> RunResult | None:
        """The ``ok`` or ``diverged`` run of the suite cell of bench run ``cell`` (the cell
        of its :func:`cell_key_of`), or None if it must run.

        A diverged cell counts as done: re-running the same seed would diverge again. Failed
        and unfinished cells are run again. To run a cell, :meth:`claim` it.

        Raises:
            ValueError: ``cell`` is not a bench run.
        """
        key = cell_key_of(cell)
        if key is None:
            raise ValueError(f"completed() takes suite cells (bench runs), not {cell.kind!r} "
                             "runs")
        held = self._holder(key)
        return _decode(held) if held is not None and held["status"] in DONE_STATUSES else None

    def _holder(self, key: str) -> sqlite3.Row | None:
        """The one row that holds the cell ``key`` (running, ok or diverged), if any."""
        return self._conn.execute(f"SELECT * FROM runs WHERE cell_key = ? AND {HOLDS_CELL}",
                                  (key,)).fetchone()
