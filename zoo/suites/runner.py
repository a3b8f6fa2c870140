"""Running a suite: one stored row per cell, resumable, failures recorded, never fatal."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from zoo.errors import ZooError
from zoo.results import RunResult, environment
from zoo.suites.base import Cell, CellOutcome, Suite

if TYPE_CHECKING:
    from zoo.store import Store

OnResult = Callable[[RunResult, bool], None]
T = TypeVar("T")


def runs_dir(store: Store) -> Path:
    """Where runs stored in ``store`` keep their logs and checkpoints."""
    return Path(store.path).parent / "runs"


def global_rank() -> int:
    """This process's rank in a distributed run (0 outside one), from the launcher's env."""
    for variable in ("RANK", "SLURM_PROCID"):
        if variable in os.environ:
            return int(os.environ[variable])
    local = int(os.environ.get("LOCAL_RANK", 0))
    node = int(os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", 0)))
    return node * int(os.environ.get("LOCAL_WORLD_SIZE", 1)) + local


def describe_failure(exc: BaseException) -> str:
    """One line for the result row: the exception type and its message."""
    message = " ".join(str(exc).split())
    if isinstance(exc, ZooError):
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def attempt(store: Store, row_id: str, work: Callable[[], T], *,
            primary: bool) -> tuple[str, str | None, T | None]:
    """Run ``work`` for a started row: ``(status, error, result)``, never raising on failure.

    A non-finite loss is ``diverged``, any other exception ``failed`` with a one-line reason;
    an interrupt (Ctrl-C, SystemExit) finishes the row as ``failed: interrupted`` and goes on.
    """
    from zoo.errors import Diverged

    start = time.perf_counter()
    try:
        return "ok", None, work()
    except Diverged as exc:
        return "diverged", describe_failure(exc), None
    except Exception as exc:  # one failing run must not stop the others
        return "failed", describe_failure(exc), None
    except BaseException:  # interrupted: the row says so, never stays "running"
        if primary:
            store.finish(row_id, status="failed", metrics={}, error="interrupted",
                         seconds=time.perf_counter() - start)
        raise


def run_suite(suite: Suite, store: Store, *, models: list[str] | None = None,
              datasets: list[str] | None = None, seeds: int | None = None,
              first_seed: int = 0, budget: str = "quick", setting: str | None = None,
              classes: list[str] | None = None,
              on_result: OnResult | None = None) -> list[RunResult]:
    """Run every cell not already in ``store``; return all the cells' rows.

    Each cell is claimed in the store before it runs (:meth:`~zoo.store.Store.claim`): a
    cell already stored (``ok`` or ``diverged``) or running in another live process is
    skipped and its row passed to ``on_result`` as skipped, so an interrupted benchmark
    resumes where it stopped and identical benches started together run each cell once. A
    cell that raises is stored as ``failed`` with the reason and the suite goes on; a
    non-finite loss is stored as ``diverged``. The seeds are
    ``first_seed .. first_seed + seeds - 1`` (``seeds`` default: the suite's), so that seeds
    can be spread over processes or machines. ``classes`` chooses the normal classes of a
    one-class suite (image-ad; default every class).
    """
    if first_seed < 0:
        raise ZooError(f"first_seed={first_seed} must be >= 0")
    count = seeds if seeds is not None else suite.default_seeds
    cells = suite.cells(models=models, datasets=datasets,
                        seeds=range(first_seed, first_seed + count),
                        budget=budget, setting=setting, classes=classes)
    if not cells:
        raise ZooError(f"nothing to run: no model fits the selected datasets of suite "
                       f"{suite.name!r}")
    from zoo.training import device_name

    env = environment(device_name(suite.accelerator, suite.devices))
    primary = global_rank() == 0
    rows = []
    for cell in cells:
        row = _cell_row(suite, cell, env)
        # Rank 0 claims the cell; the other ranks of a DDP run only read, and follow it.
        held = store.claim(row) if primary else store.completed(
            suite.name, suite.spec.version, cell.model, cell.backbone, cell.dataset,
            cell.setting, cell.seed, cell.budget)
        if held is not None:  # done, or running in another process: not run here
            rows.append(held)
            if on_result:
                on_result(held, True)
            continue
        row = _run_cell(suite, store, cell, row, primary=primary)
        rows.append(row)
        if on_result:
            on_result(row, False)
    return rows


def _cell_row(suite: Suite, cell: Cell, env: dict) -> RunResult:
    spec = suite.host.model(cell.model)
    plugin = suite.host.plugins.get(spec.plugin)
    return RunResult(
        id=uuid.uuid4().hex, kind="bench", model=cell.model, backbone=cell.backbone,
        plugin=spec.plugin, plugin_version=plugin.version if plugin else None,
        dataset=cell.dataset, suite=suite.name, suite_version=suite.spec.version,
        setting=cell.setting, seed=cell.seed, budget=cell.budget, hparams={},
        status="running", metrics={}, seconds=None, device=env.get("device"),
        versions=env.get("versions", {}), git_commit=env.get("git_commit"),
    )


def _run_cell(suite: Suite, store: Store, cell: Cell, row: RunResult, *,
              primary: bool) -> RunResult:
    if primary:
        suite.host.hook.zoo_run_started(run=row)
    start = time.perf_counter()
    status, error, outcome = attempt(store, row.id,
                                     lambda: suite.run_cell(cell, runs_dir(store) / row.id),
                                     primary=primary)
    seconds = time.perf_counter() - start
    if not primary:
        return row
    outcome = outcome or CellOutcome({})
    store.finish(row.id, status=status, metrics=outcome.metrics, seconds=seconds, error=error,
                 hparams=outcome.hparams, extra=outcome.extra)
    stored = store.get(row.id)
    suite.host.hook.zoo_run_finished(result=stored)
    return stored
