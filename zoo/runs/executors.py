"""Executors: the work of many runs in worker processes or on a Ray cluster, while the
driver alone writes the store.

A suite's cells (or a study's trials) are tasks: a ``running`` row and its work, a picklable
function of the run's folder. :func:`run_tasks` is the driver. As an executor has a free
slot it opens the next row in the store (a suite cell is claimed by its content key, so a
cell that finished is never run twice, whichever executor ran it, and a cell running in
another live process is left to it), hands the task to the executor, and stores each
finished row as it comes back. A worker runs :func:`zoo.runs.lifecycle.run_opened` (the run
hooks and the work under the failure rules) and returns the finished row; it never opens
the store, which may lie on a disk it cannot see. Run folders go under the driver's root
(``--runs-dir``), checked writable from the workers before any task starts; across machines
it must be storage they all share.

A worker that dies mid-run (killed, out of memory, a lost node) costs its run one retry:
the run starts once more on a fresh worker, and if that one dies too the row is stored
``failed`` saying so. An interrupt of the driver stores its open rows as
``failed: interrupted`` and stops the workers.

- :class:`LocalExecutor`: ``jobs`` worker processes on this machine (spawned, so CUDA and
  threads start clean), the cores' threads split between them, one GPU each in turn;
- :class:`RayExecutor`: each run a Ray task with its CPUs and (fractional) GPUs, retried
  once when its worker dies; ``ray`` (the ``zoo[ray]`` extra) is imported only here.

This module imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from zoo.errors import ZooError, describe
from zoo.plugins import configured_plugins_dir, get_host
from zoo.runs.lifecycle import Work, finished_row, open_run, run_opened, store_finished
from zoo.runs.results import INTERRUPTED, RunResult

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from zoo.runs.store import Store

EXECUTORS = ("in-process", "local", "ray")
#: The environment a worker copies from its driver: zoo's own settings (data folder, plugin
#: choices, trackers) and W&B's.
FORWARDED_PREFIXES = ("ZOO_", "WANDB_")
#: The forwarded variables that name a file or folder: a worker gets them as absolute paths,
#: since it may run in another folder (Ray's workers do).
PATH_VARIABLES = ("ZOO_CACHE_DIR", "ZOO_DATA_DIR", "ZOO_DB", "ZOO_HOME", "ZOO_PLUGINS_DIR",
                  "ZOO_SERVE_CONFIG", "WANDB_DIR")
#: How often the work of a run is started at most: once, and once more after its worker died.
ATTEMPTS = 2
#: How long a Ray cluster's address has to accept a connection.
CONNECT_SECONDS = 5.0
OnResult = Callable[[RunResult, bool], None]


@dataclass(frozen=True)
class Task:
    """One run for a worker: its row, opened in the driver's store, its work and its folder."""

    row: RunResult
    work: Work
    folder: Path


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process takes from its driver before its first run: environment
    variables (see :func:`worker_setup`), set before the worker imports anything heavy."""

    env: dict[str, str] = field(default_factory=dict)

    def apply(self) -> None:
        os.environ.update(self.env)

    def with_env(self, **env: str) -> WorkerSetup:
        return WorkerSetup({**self.env, **env})


def worker_setup() -> WorkerSetup:
    """This process's settings for its workers: the ``ZOO_*`` and ``WANDB_*`` variables
    (paths made absolute), the plugins directory (``--plugins-dir``) and the trackers
    selected (``--tracker``)."""
    env = {name: str(Path(value).absolute()) if name in PATH_VARIABLES and value else value
           for name, value in os.environ.items() if name.startswith(FORWARDED_PREFIXES)}
    plugins_dir = configured_plugins_dir()
    if plugins_dir is not None:
        env["ZOO_PLUGINS_DIR"] = str(plugins_dir.resolve())
    env["ZOO_TRACKER"] = ",".join(get_host().selected_trackers())
    return WorkerSetup(env)


def run_task(task: Task, setup: WorkerSetup | None = None) -> RunResult:
    """A worker's part of a run: ``setup`` applied, then the run's lifecycle after opening
    (:func:`~zoo.runs.lifecycle.run_opened`); the finished row, for the driver to store."""
    if setup is not None:
        setup.apply()
    finished = run_opened(task.row, task.work, task.folder, record=_as_finished)
    assert finished is not None  # a worker is never a non-zero DDP rank
    return finished


def _as_finished(row: RunResult) -> RunResult:
    return row


def died(row: RunResult, how: str) -> RunResult:
    """``row`` finished as ``failed`` because the worker running it died ``how``."""
    return finished_row(row, status="failed", metrics={}, seconds=None, checkpoint=None,
                        hparams=None, extra={}, error=f"worker died: {how}")


class Executor(Protocol):
    """Runs tasks somewhere and hands back their finished rows (see :func:`run_tasks`)."""

    @property
    def slots(self) -> int:
        """How many tasks it runs at once; the driver submits no more."""

    def check_root(self, root: Path) -> None:
        """Refuse (ZooError) a root of run folders its workers cannot write, before any task."""

    def submit(self, task: Task) -> None:
        """Start ``task``."""

    def wait(self) -> list[RunResult]:
        """Block until one or more submitted tasks end; their finished rows."""

    def close(self) -> None:
        """Stop the workers (a task still running is abandoned)."""


def run_tasks(store: Store, tasks: Iterable[tuple[RunResult, Work]], executor: Executor, *,
              root: Path, on_result: OnResult | None = None) -> list[RunResult]:
    """Run ``tasks`` (rows and their work) on ``executor``; every task's row, in order.

    ``tasks`` is read lazily, one task as a slot frees, so a generator may choose the next
    run from the rows already passed to ``on_result`` (a study's next trial). Each row is
    opened in ``store`` only then (a suite cell claimed: one done, or running in another
    live process, is passed to ``on_result`` as held elsewhere, ``True``); each finished row
    is stored here and passed to ``on_result`` (``False``). ``root`` holds the run folders
    and is checked before anything starts.
    """
    root = root.absolute()  # the workers' working folders are not the driver's
    executor.check_root(root)
    waiting = enumerate(tasks)
    more = True
    rows: dict[int, RunResult] = {}
    running: dict[str, tuple[int, float]] = {}  # row id -> (index, start)
    try:
        while more or running:
            while more and len(running) < executor.slots:
                if (task := next(waiting, None)) is None:
                    more = False
                    break
                index, (row, work) = task
                held = open_run(store, row)
                if held is not None:
                    rows[index] = held
                    if on_result:
                        on_result(held, True)
                    continue
                executor.submit(Task(row, work, root / row.id))
                running[row.id] = (index, time.perf_counter())
            for finished in executor.wait() if running else ():
                index, _ = running.pop(finished.id)
                rows[index] = store_finished(store, finished)
                if on_result:
                    on_result(rows[index], False)
    except BaseException:  # interrupted: the open rows say so, never stay "running"
        for run_id, (_, start) in running.items():
            store.finish(run_id, status="failed", metrics={}, error=INTERRUPTED,
                         seconds=time.perf_counter() - start)
        raise
    return [rows[index] for index in sorted(rows)]


def check_writable(root: Path, token: str | None = None) -> str:
    """Refuse a root of run folders this process cannot write; this host's name.

    With ``token``, also refuse one where the driver's probe file holding ``token``
    (:meth:`RayExecutor.check_root`) is not found: a folder of this machine, not the storage
    the driver writes.
    """
    host = socket.gethostname()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".zoo-writable-{host}-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ZooError(f"runs dir {root} is not writable on {host}: {exc.strerror or exc}; "
                       "give --runs-dir a folder every worker can write") from None
    if token is not None and _read(root / f".zoo-probe-{token}") != token:
        raise ZooError(f"runs dir {root} on {host} is not the driver's: on several machines "
                       "--runs-dir must be storage they all share (NFS, a cluster file system)")
    return host


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


# -- local worker processes ---------------------------------------------------------------------
def available_cores() -> int:
    """The cores this process may run on (its affinity mask, as ``taskset`` or a scheduler
    sets it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    task: Task | None = None


class LocalExecutor:
    """``jobs`` worker processes on this machine, each running one task at a time.

    Args:
        jobs: Worker processes, at most the cores available.
        setup: The driver's settings for the workers (:func:`worker_setup`); each worker's
            torch threads (``OMP_NUM_THREADS``) are its share of the cores.
        gpus: Visible GPU ids; worker ``i`` sees ``gpus[i % len(gpus)]`` alone.

    Raises:
        ZooError: ``jobs`` is below 1 or above the cores available.
    """

    def __init__(self, jobs: int, setup: WorkerSetup, *, gpus: Sequence[str] = ()) -> None:
        cores = available_cores()
        if not 1 <= jobs <= cores:
            raise ZooError(f"--jobs {jobs}: this machine has {cores} core"
                           f"{'' if cores == 1 else 's'} for workers; use --jobs 1 to {cores}")
        self.jobs = jobs
        self.setup = setup
        self.threads = max(1, cores // jobs)
        self.gpus = tuple(gpus)
        self.workers: list[_Worker] = []
        self.attempts: dict[str, int] = {}

    @property
    def slots(self) -> int:
        return self.jobs

    def check_root(self, root: Path) -> None:
        check_writable(root)  # the workers run here, as this user

    def _start(self, index: int) -> _Worker:
        import multiprocessing

        setup = self.setup.with_env(OMP_NUM_THREADS=str(self.threads))
        if self.gpus:
            setup = setup.with_env(CUDA_VISIBLE_DEVICES=self.gpus[index % len(self.gpus)])
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs, setup),
                                  name=f"zoo-worker-{index}", daemon=True)
        process.start()
        theirs.close()  # so that a dead worker's pipe reads as closed
        return _Worker(process, ours)

    def submit(self, task: Task) -> None:
        if len(self.workers) < self.jobs:
            self.workers.append(self._start(len(self.workers)))
        worker = next(w for w in self.workers if w.task is None)
        self.attempts[task.row.id] = self.attempts.get(task.row.id, 0) + 1
        worker.task = task
        worker.conn.send(task)

    def wait(self) -> list[RunResult]:
        from multiprocessing.connection import wait

        busy = [w for w in self.workers if w.task is not None]
        ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        finished = []
        for index, worker in enumerate(self.workers):
            if worker.task is None or not ready & {worker.conn, worker.process.sentinel}:
                continue
            task, worker.task = worker.task, None
            try:
                finished.append(worker.conn.recv())
            except (EOFError, OSError):
                row = self._replace_dead(index, task)
                if row is not None:
                    finished.append(row)
        return finished

    def _replace_dead(self, index: int, task: Task) -> RunResult | None:
        """Start a fresh worker for the dead one; rerun its task there unless that was its
        last attempt (then its failed row)."""
        dead = self.workers[index].process
        dead.join()
        self.workers[index] = self._start(index)
        how = f"exit code {dead.exitcode}"
        if self.attempts[task.row.id] >= ATTEMPTS:
            return died(task.row, f"{how}, on each of {ATTEMPTS} attempts")
        self.submit(task)
        return None

    def close(self) -> None:
        for worker in self.workers:
            if worker.task is None and worker.process.is_alive():
                worker.conn.send(None)
            else:
                worker.process.terminate()
        for worker in self.workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
            worker.conn.close()
        self.workers = []

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _serve(conn: Connection, setup: WorkerSetup) -> None:
    """A local worker: run each task the driver sends until it sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    setup.apply()
    while (task := conn.recv()) is not None:
        conn.send(run_task(task))


# -- Ray ----------------------------------------------------------------------------------------
def import_ray() -> Any:
    """The ``ray`` module, or one line naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ZooError("--executor ray needs Ray: pip install 'zoo[ray]'") from None
    return ray


def connect_ray(ray: Any, address: str | None, env: dict[str, str]) -> None:
    """``ray.init`` on the cluster at ``address`` (or ``RAY_ADDRESS``, as Ray reads it), or
    on a new one on this machine; one line when there is no cluster to join."""
    given, option = (address, "--ray-address") if address else (
        os.environ.get("RAY_ADDRESS"), "RAY_ADDRESS")
    if given:
        check_answers(given, option)
    try:
        ray.init(address=address, runtime_env={"env_vars": env}, include_dashboard=False,
                 log_to_driver=False, logging_level="WARNING")
    except ConnectionError as exc:  # "auto" with no cluster on this machine, among others
        reason = str(exc).split(". ")[0]
        raise ZooError(f"{option} {given}: {reason}; start one with `ray start --head`, or "
                       "leave --ray-address out to start one for this command") from None


def check_answers(address: str, option: str) -> None:
    """Refuse at once a cluster address where nothing listens, which ``ray.init`` would
    retry for minutes without a word."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ZooError(f"{option} {address!r} is not HOST:PORT (`ray start --head` prints "
                       "it), ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)),
                                 timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ZooError(f"{option} {address}: no Ray cluster answers at {host}:{port} "
                       f"({exc.strerror or exc}); start one there with `ray start --head`, or "
                       "leave --ray-address out to start one for this command") from None


class RayExecutor:
    """Each task a Ray task with its resources, retried once when its worker dies.

    Args:
        setup: The driver's settings for the workers (:func:`worker_setup`).
        address: A running cluster's address (``ray start --head`` prints it; ``auto`` finds
            one on this machine); None starts a local cluster on this machine's cores.
        cpus_per_task: CPUs Ray reserves for each task (also its torch threads).
        gpus_per_task: GPUs Ray reserves for each task; a fraction shares one GPU among
            small models.
    """

    def __init__(self, setup: WorkerSetup, *, address: str | None = None,
                 cpus_per_task: float = 1.0, gpus_per_task: float = 0.0) -> None:
        if cpus_per_task <= 0 or gpus_per_task < 0:
            raise ZooError(f"--cpus-per-cell {cpus_per_task} must be above 0 and "
                           f"--gpus-per-cell {gpus_per_task} at least 0")
        ray = import_ray()
        self.ray = ray
        # Ray sets a task's OMP_NUM_THREADS (torch's threads) to its CPUs itself.
        self.setup = setup
        # Ray prints its cluster's messages (a worker died ...) on stdout, where a command's
        # --json output goes; they are diagnostics, for stderr.
        self.stdout = contextlib.redirect_stdout(sys.stderr)
        self.stdout.__enter__()
        self.started = not ray.is_initialized()
        if self.started:
            try:
                connect_ray(ray, address, self.setup.env)
            except BaseException:
                self.stdout.__exit__(None, None, None)
                raise
        self.cpus, self.gpus = cpus_per_task, gpus_per_task
        self.remote = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task,
                                 max_retries=ATTEMPTS - 1, retry_exceptions=False)(run_task)
        self.pending: dict[Any, Task] = {}

    @property
    def slots(self) -> int:
        """Tasks the cluster fits at once, plus as many queued, so no worker waits."""
        resources = self.ray.cluster_resources()
        fits = int(resources.get("CPU", 1) // self.cpus)
        if self.gpus:
            fits = min(fits, int(resources.get("GPU", 0) // self.gpus))
        if fits < 1:
            raise ZooError(f"no node of the Ray cluster has {self.cpus} CPUs and {self.gpus} "
                           f"GPUs for a cell ({resources}); lower --cpus-per-cell or "
                           "--gpus-per-cell")
        return 2 * fits

    def check_root(self, root: Path) -> None:
        """Write a probe file into ``root`` here, then check on every alive node that it is
        there and that ``root`` is writable."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        token = uuid.uuid4().hex
        check_writable(root)
        probe = root / f".zoo-probe-{token}"
        probe.write_text(token)
        check = self.ray.remote(num_cpus=0)(check_writable)
        try:
            self.ray.get([check.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
                node["NodeID"], soft=False)).remote(root, token)
                for node in self.ray.nodes() if node["Alive"]])
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.as_instanceof_cause()
            raise (cause if isinstance(cause, ZooError) else ZooError(describe(cause))) from None
        finally:
            probe.unlink()

    def submit(self, task: Task) -> None:
        self.pending[self.remote.remote(task, self.setup)] = task

    def wait(self) -> list[RunResult]:
        ready, _ = self.ray.wait(list(self.pending), num_returns=1)
        finished = []
        for ref in ready:
            task = self.pending.pop(ref)
            try:
                finished.append(self.ray.get(ref))
            except self.ray.exceptions.RayTaskError as exc:  # the worker's setup failed
                finished.append(finished_row(
                    task.row, status="failed", metrics={}, seconds=None, checkpoint=None,
                    hparams=None, extra={}, error=describe(exc.as_instanceof_cause())))
            except self.ray.exceptions.RayError as exc:  # its worker died on every attempt
                finished.append(died(task.row, f"{type(exc).__name__}, on each of "
                                               f"{ATTEMPTS} attempts"))
        return finished

    def close(self) -> None:
        for ref in self.pending:
            self.ray.cancel(ref, force=True)
        self.pending.clear()
        if self.started:
            self.ray.shutdown()
        self.stdout.__exit__(None, None, None)

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def make_executor(kind: str | None, *, jobs: int | None = None,
                  ray_address: str | None = None, cpus_per_cell: float | None = None,
                  gpus_per_cell: float | None = None,
                  devices: int = 1) -> LocalExecutor | RayExecutor | None:
    """The executor a command's options name; None for ``in-process`` (the command's own
    loop, which alone can train a run with DDP over ``devices`` processes). Without ``kind``
    the options given choose: ``jobs`` local, a Ray option ray, none in-process.

    Raises:
        ZooError: An option of another executor, or ``devices`` above 1 with workers.
    """
    if kind is None:
        ray_given = (ray_address, cpus_per_cell, gpus_per_cell) != (None, None, None)
        kind = "local" if jobs is not None else "ray" if ray_given else "in-process"
    if kind not in EXECUTORS:
        raise ZooError(f"unknown executor {kind!r}; valid: {', '.join(EXECUTORS)}")
    given = {"--jobs": jobs, "--ray-address": ray_address, "--cpus-per-cell": cpus_per_cell,
             "--gpus-per-cell": gpus_per_cell}
    allowed = {"in-process": (), "local": ("--jobs",),
               "ray": ("--ray-address", "--cpus-per-cell", "--gpus-per-cell")}[kind]
    stray = [name for name, value in given.items() if value is not None and name not in allowed]
    if stray:
        raise ZooError(f"{', '.join(stray)} not used by --executor {kind}; "
                       "--jobs is for local, --ray-address and --*-per-cell for ray")
    if kind == "in-process":
        return None
    if devices > 1:
        raise ZooError(f"--devices {devices} trains one run over several processes, which "
                       f"--executor {kind}'s workers cannot start; use --devices 1, or the "
                       "in-process executor")
    if kind == "local":
        return LocalExecutor(jobs or available_cores(), worker_setup(), gpus=_visible_gpus())
    return RayExecutor(worker_setup(), address=ray_address,
                       cpus_per_task=cpus_per_cell if cpus_per_cell is not None else 1.0,
                       gpus_per_task=gpus_per_cell or 0.0)


def _visible_gpus() -> tuple[str, ...]:
    """This machine's GPU ids, as ``CUDA_VISIBLE_DEVICES`` names them (none: no GPU)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return tuple(v for v in visible.split(",") if v.strip())
    import torch

    return tuple(str(i) for i in range(torch.cuda.device_count()))
