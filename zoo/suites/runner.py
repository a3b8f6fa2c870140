"""Running a suite: one stored row per cell, resumable, failures recorded, never fatal.

Every cell goes through the run lifecycle (:mod:`zoo.runs.lifecycle`): claimed in the store
by its content key, run under the failure rules, finished, announced to the hooks. Cells run
in this process one after the other (every rank of a DDP run takes part in each), or on an
executor's workers (:mod:`zoo.runs.executors`: local processes, a Ray cluster), this
process alone writing the store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.plugins import get_host
from zoo.runs.lifecycle import Work, execute_run, new_row, runs_dir
from zoo.runs.results import Outcome, RunResult
from zoo.suites.base import Cell, Suite

if TYPE_CHECKING:
    from zoo.runs.executors import Executor
    from zoo.runs.store import Store

OnResult = Callable[[RunResult, bool], None]


def run_suite(suite: Suite, store: Store, *, models: list[str] | None = None,
              datasets: list[str] | None = None, seeds: int | None = None,
              first_seed: int = 0, budget: str = "quick", setting: str | None = None,
              classes: list[str] | None = None, on_result: OnResult | None = None,
              on_plan: Callable[[int], None] | None = None, executor: Executor | None = None,
              root: Path | None = None) -> list[RunResult]:
    """Run every cell not already in ``store``; return all the cells' rows.

    Each cell is claimed in the store before it runs (:meth:`~zoo.runs.store.Store.claim`): a
    cell already stored (``ok`` or ``diverged``) or running in another live process is
    skipped and its row passed to ``on_result`` as skipped, so an interrupted benchmark
    resumes where it stopped and identical benches started together run each cell once. A
    cell that raises is stored as ``failed`` with the reason and the suite goes on; a
    non-finite loss is stored as ``diverged``. The seeds are
    ``first_seed .. first_seed + seeds - 1`` (``seeds`` default: the suite's), so that seeds
    can be spread over processes or machines. ``classes`` chooses the normal classes of a
    one-class suite (image-ad; default every class). ``on_plan`` is told the number of
    cells before the first runs, ``on_result`` each cell's row (and whether it was already
    stored) as it ends. ``executor`` runs the cells on its workers (None: in this process,
    one after the other); ``root`` holds the run folders (default: beside the store).
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

    if on_plan:
        on_plan(len(cells))
    device = device_name(suite.accelerator, suite.devices * suite.num_nodes)
    if executor is not None:
        from zoo.runs.executors import run_tasks

        tasks = [(cell_row(suite, cell, device), cell_work(suite, cell)) for cell in cells]
        return run_tasks(store, tasks, executor, root=root or runs_dir(store),
                         on_result=on_result)
    rows = []
    for cell in cells:
        row = cell_row(suite, cell, device)
        ran = execute_run(store, row, lambda run_dir, cell=cell: suite.run_cell(cell, run_dir),
                          root=root)
        result = ran or row  # a non-zero DDP rank stores nothing; rank 0 reports
        rows.append(result)
        if on_result:
            on_result(result, result.id != row.id)  # another row holds the cell: not run here
    return rows


def cell_work(suite: Suite, cell: Cell) -> Work:
    """The work of ``cell`` as a picklable function of its folder, for an executor's worker:
    it runs the cell on that process's own copy of ``suite`` (its data loaded once), a
    user's data file named by its absolute path, which a worker in another folder (a Ray
    node's) finds."""
    from zoo.data.loading import data_reference

    located = replace(cell, dataset=data_reference(cell.dataset))
    return functools.partial(_run_cell, suite.name, suite.accelerator, suite.devices, located)


def _run_cell(suite: str, accelerator: str, devices: int, cell: Cell, run_dir: Path) -> Outcome:
    return _suite(suite, accelerator, devices).run_cell(cell, run_dir)


@functools.cache
def _suite(name: str, accelerator: str, devices: int) -> Suite:
    suite: Suite = get_host().suite(name).load()(accelerator=accelerator, devices=devices)
    return suite


def cell_row(suite: Suite, cell: Cell, device: str) -> RunResult:
    """The cell's ``running`` row, with what its key needs before it runs: the
    hyperparameters its model will be built with and its data's fingerprint."""
    from zoo.data.loading import dataset_fingerprint

    return new_row("bench", model=cell.model, dataset=cell.dataset, device=device,
                   backbone=cell.backbone, suite=suite.name, suite_version=suite.spec.version,
                   setting=cell.setting, seed=cell.seed, budget=cell.budget,
                   hparams=suite.cell_hparams(cell),
                   data_sha256=dataset_fingerprint(cell.dataset))
