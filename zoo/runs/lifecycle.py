"""One lifecycle for every run: ``zoo train``, ``zoo evaluate`` and each suite cell.

:func:`execute_run` owns a run from start to end::

    open its row          a suite cell is claimed atomically by its content key
                          (Store.claim), so identical commands never run it twice
    zoo_run_started       rank 0 only
    the work              its process's peak memory measured from here (Linux);
                          under the failure rules: ``ok``; ``diverged`` on a non-finite
                          loss; ``pruned`` when a tuner stops it (the metrics it had);
                          ``failed`` with a one-line reason on any other error; an
                          interrupt (Ctrl-C, SIGTERM) finishes the row as
                          ``failed: interrupted``, calls zoo_run_finished with it (so
                          trackers close their run as failed) and goes on up
    finish the row        rank 0 only; ``extra[PEAK_MEMORY_KEY]`` holds the peak memory,
                          ``extra[RUN_DIR_KEY]`` the run's folder
    zoo_run_finished      rank 0 only, with the row as stored

The steps after opening are :func:`run_opened`, which an executor's worker runs on a row its
driver opened (:mod:`zoo.runs.executors`): the work and the hooks run in the worker, the
driver alone writes the store.

:func:`new_row` builds every :class:`RunResult` a run starts from, so plugin, versions,
device and commit are filled in one place. The work is a function of the run's folder that
returns an :class:`Outcome`. This module imports nothing heavy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import Diverged, Pruned, describe
from zoo.models import base_model
from zoo.plugins import get_host
from zoo.runs.results import INTERRUPTED, Outcome, RunResult, environment

if TYPE_CHECKING:
    from zoo.runs.store import Store

#: The work of a run: given the run's folder (logs, checkpoint, samples), what it produced.
Work = Callable[[Path], Outcome]
#: Stores a finished row and returns it as stored.
Record = Callable[[RunResult], RunResult]
#: A detection run's test labels and anomaly scores in its folder, for ROC curves in reports.
SCORES_FILE = "scores.npz"
#: A classification run's test labels and predicted classes in its folder, for confusion
#: matrices.
PREDICTIONS_FILE = "predictions.npz"
#: The ``extra`` key naming the file of a run's test labels and outputs (scores or
#: predictions), so that trackers find it.
TEST_OUTPUTS_KEY = "test_outputs"
#: The ``extra`` key of the rows per split and the sample shape of a run's data
#: (:meth:`zoo.data.types.Splits.shape`), for trackers' run configs.
DATA_SHAPE_KEY = "data_shape"
_TEST_OUTPUT_FILES = {"detect": SCORES_FILE, "classify": PREDICTIONS_FILE}
#: The ``extra`` key of the run's peak resident memory in MiB (Linux only; the CPU side:
#: GPU memory is not counted).
PEAK_MEMORY_KEY = "peak_rss_mib"
#: The ``extra`` key of the run's folder (logs, checkpoint, samples): ``--runs-dir`` may put
#: it anywhere, on storage the machines of a cluster share.
RUN_DIR_KEY = "run_dir"


def runs_dir(store: Store) -> Path:
    """Where runs stored in ``store`` keep their logs and checkpoints."""
    return Path(store.path).parent / "runs"


def test_outputs_path(run_dir: Path | None, task: str) -> Path | None:
    """Where a run of ``task`` in ``run_dir`` keeps its test labels and outputs: a detector's
    :data:`SCORES_FILE`, a classifier's :data:`PREDICTIONS_FILE`; None for other tasks or
    without a folder."""
    name = _TEST_OUTPUT_FILES.get(task)
    return None if run_dir is None or name is None else run_dir / name


def global_rank() -> int:
    """This process's rank in a distributed run (0 outside one), from the launcher's env."""
    for variable in ("RANK", "SLURM_PROCID"):
        if variable in os.environ:
            return int(os.environ[variable])
    local = int(os.environ.get("LOCAL_RANK", 0))
    node = int(os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", 0)))
    return node * int(os.environ.get("LOCAL_WORLD_SIZE", 1)) + local


def new_row(kind: str, *, model: str, dataset: str, device: str | None,
            **fields: Any) -> RunResult:
    """A ``running`` row of ``model`` (an ensemble's ``autoencoder@5`` too), with its plugin
    (an ensemble's first member's), that plugin's version, the package versions, ``device``
    and the git commit filled in; ``fields`` are the rest (``backbone``, ``seed``,
    ``hparams``, ``suite`` ...)."""
    host = get_host()
    spec = host.model(base_model(model))
    plugin = host.plugins.get(spec.plugin)
    env = environment(device)
    return RunResult(kind=kind, model=model, dataset=dataset, plugin=spec.plugin,
                     plugin_version=plugin.version if plugin else None, device=env["device"],
                     versions=env["versions"], git_commit=env["git_commit"], **fields)


def execute_run(store: Store, row: RunResult, work: Work, *,
                root: Path | None = None) -> RunResult | None:
    """Open ``row``, run ``work`` under the failure rules, finish the row, call the hooks.

    Args:
        store: Where the row is opened and finished.
        row: The ``running`` row to open (a suite cell is claimed).
        work: The run's work, given its folder.
        root: The folder that holds run folders (default: the store's :func:`runs_dir`).

    Returns:
        The row as stored when this process ran it; for a suite cell already done or running
        in another process, the row that holds it (its id is not ``row.id``); ``None`` on a
        non-zero rank of a distributed run, which stores nothing (rank 0 reports).
    """
    primary = global_rank() == 0
    held = open_run(store, row, primary=primary)
    if held is not None:
        return held
    start = time.perf_counter()
    try:
        # Absolute: the row records its folder, and is read from other working folders.
        return run_opened(row, work, ((root or runs_dir(store)) / row.id).absolute(),
                          record=partial(store_finished, store) if primary else None)
    except BaseException:  # interrupted: the row says so, never stays "running"
        if primary and store.get(row.id).status == "running":  # not yet finished
            # and trackers close the run they opened for it, as failed
            get_host().hook.zoo_run_finished(result=store.finish(
                row.id, status="failed", metrics={}, error=INTERRUPTED,
                seconds=time.perf_counter() - start, extra=row.extra))
        raise


def open_run(store: Store, row: RunResult, *, primary: bool = True) -> RunResult | None:
    """Store ``row`` as ``running`` (a suite cell: claim it); None when this process must run
    it, else the row that holds the cell (done, or running in another live process).

    Rank 0 opens the row; the other ranks of a distributed run follow it and only read
    whether a cell is done.
    """
    if row.kind != "bench":
        if primary:
            store.start(row)
        return None
    if primary:
        return store.claim(row)
    return store.completed(row)


def run_opened(row: RunResult, work: Work, folder: Path, *,
               record: Record | None) -> RunResult | None:
    """The lifecycle of a row already opened in a store, wherever its work runs: the
    ``zoo_run_started`` hook, ``work`` under the failure rules, the finished row handed to
    ``record``, the ``zoo_run_finished`` hook with what ``record`` returned.

    An executor's worker runs this with ``record`` returning the row as is (its driver, the
    store's only writer, stores it with :func:`store_finished`); an interrupt goes on up
    for the opener to finish the row as ``failed: interrupted``.

    Args:
        row: The opened ``running`` row.
        work: The run's work, given ``folder``.
        folder: The run's folder, recorded in the row's ``extra[RUN_DIR_KEY]``.
        record: Stores the finished row and returns it as stored; None on a non-zero rank
            of a distributed run, which calls no hooks and records nothing.

    Returns:
        What ``record`` returned; None without ``record``.
    """
    host = get_host()
    if record is not None:
        host.hook.zoo_run_started(run=row)
    start = time.perf_counter()
    memory_counted = _reset_peak_memory()
    status, error, outcome = "ok", None, Outcome({})
    try:
        outcome = work(folder)
    except Diverged as exc:
        status, error = "diverged", describe(exc)
    except Pruned as exc:
        status, error, outcome = "pruned", describe(exc), Outcome(exc.metrics)
    except Exception as exc:  # one failing run must not stop the others
        status, error = "failed", describe(exc)
    if record is None:
        return None
    extra = dict(outcome.extra)
    peak = _peak_memory_mib() if memory_counted else None
    if peak is not None:
        extra[PEAK_MEMORY_KEY] = peak
    extra[RUN_DIR_KEY] = str(folder)
    stored = record(finished_row(row, status=status, metrics=outcome.metrics,
                                 seconds=time.perf_counter() - start, error=error,
                                 checkpoint=outcome.checkpoint, hparams=outcome.hparams,
                                 extra=extra))
    host.hook.zoo_run_finished(result=stored)
    return stored


def finished_row(row: RunResult, *, status: str, metrics: Mapping[str, float],
                 seconds: float | None, error: str | None, checkpoint: str | None,
                 hparams: Mapping[str, Any] | None, extra: Mapping[str, Any]) -> RunResult:
    """``row`` finished as :meth:`Store.finish <zoo.runs.store.Store.finish>` stores it: only
    finite scores, a non-finite one making an ``ok`` run ``diverged``; ``checkpoint`` and
    ``hparams`` kept when None; ``extra`` merged."""
    from zoo.runs.store import checked_scores

    status, finite, error = checked_scores(status, metrics, error)
    return replace(row, status=status, metrics=finite, seconds=seconds, error=error,
                   checkpoint=checkpoint if checkpoint is not None else row.checkpoint,
                   hparams=dict(hparams) if hparams is not None else row.hparams,
                   extra={**row.extra, **extra})


def check_fitted(metrics: Mapping[str, float]) -> None:
    """Stop the run with :class:`Diverged` when a metric its model's ``fit`` returned is not
    finite (the rule :func:`~zoo.runs.store.checked_scores` stores rows by), before the model
    is scored or saved: a diverged run keeps no score, and no checkpoint for ``zoo evaluate``.
    """
    from zoo.runs.store import checked_scores

    status, _, error = checked_scores("ok", metrics, None)
    if status != "ok":
        raise Diverged(f"fit returned a {error}")


def store_finished(store: Store, row: RunResult) -> RunResult:
    """Finish the ``running`` row ``row.id`` in ``store`` as ``row`` says; the row as stored."""
    return store.finish(row.id, status=row.status, metrics=row.metrics, seconds=row.seconds,
                        error=row.error, checkpoint=row.checkpoint, hparams=row.hparams,
                        extra=row.extra)


def run_folder(store: Store, row: RunResult) -> Path:
    """Where ``row`` keeps its logs and checkpoint: the folder it recorded, else the store's
    :func:`runs_dir`."""
    recorded = row.extra.get(RUN_DIR_KEY)
    return Path(recorded) if recorded else runs_dir(store) / row.id


def _reset_peak_memory() -> bool:
    """Reset this process's peak resident memory so it measures this run alone (a bench
    process runs many cells); whether it could (Linux 4.0+ only)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_memory_mib() -> float | None:
    """This process's peak resident memory since the last reset, in MiB (``VmHWM``)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None
