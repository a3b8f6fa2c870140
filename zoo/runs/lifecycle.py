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
    finish the row        rank 0 only; ``extra[PEAK_MEMORY_KEY]`` holds the peak memory
    zoo_run_finished      rank 0 only, with the row as stored

:func:`new_row` builds every :class:`RunResult` a run starts from, so plugin, versions,
device and commit are filled in one place. The work is a function of the run's folder that
returns an :class:`Outcome`. This module imports nothing heavy.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
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


def execute_run(store: Store, row: RunResult, work: Work) -> RunResult | None:
    """Open ``row``, run ``work`` under the failure rules, finish the row, call the hooks.

    Returns:
        The row as stored when this process ran it; for a suite cell already done or running
        in another process, the row that holds it (its id is not ``row.id``); ``None`` on a
        non-zero rank of a distributed run, which stores nothing (rank 0 reports).
    """
    primary = global_rank() == 0
    if row.kind == "bench":
        held = _claim(store, row, primary=primary)
        if held is not None:
            return held
    elif primary:
        store.start(row)
    host = get_host()
    if primary:
        host.hook.zoo_run_started(run=row)
    start = time.perf_counter()
    memory_counted = _reset_peak_memory()
    status, error, outcome = "ok", None, Outcome({})
    try:
        outcome = work(runs_dir(store) / row.id)
    except Diverged as exc:
        status, error = "diverged", describe(exc)
    except Pruned as exc:
        status, error, outcome = "pruned", describe(exc), Outcome(exc.metrics)
    except Exception as exc:  # one failing run must not stop the others
        status, error = "failed", describe(exc)
    except BaseException:  # interrupted: the row says so, never stays "running"
        if primary:  # and trackers close the run they opened for it, as failed
            host.hook.zoo_run_finished(result=store.finish(
                row.id, status="failed", metrics={}, error=INTERRUPTED,
                seconds=time.perf_counter() - start))
        raise
    if not primary:
        return None
    peak = _peak_memory_mib() if memory_counted else None
    extra = outcome.extra if peak is None else {**outcome.extra, PEAK_MEMORY_KEY: peak}
    stored = store.finish(row.id, status=status, metrics=outcome.metrics,
                          seconds=time.perf_counter() - start, error=error,
                          checkpoint=outcome.checkpoint, hparams=outcome.hparams,
                          extra=extra)
    host.hook.zoo_run_finished(result=stored)
    return stored


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


def _claim(store: Store, row: RunResult, *, primary: bool) -> RunResult | None:
    """Rank 0 claims the cell; the other ranks of a distributed run follow it and only read
    whether it is done. Returns the row holding the cell when it is not this run's."""
    if primary:
        return store.claim(row)
    return store.completed(row.suite or "", row.suite_version, row.model, row.backbone,
                           row.dataset, row.setting, row.seed, row.budget)
