"""Every hook a zoo plugin can implement.

A plugin is a module (or object) with functions named like the specs below, decorated with
``zoo.hookimpl``. Installed plugins are found through the ``zoo.plugins`` entry-point group;
the core's own built-ins are registered through the same path (see ``zoo.plugins``).

Registration hooks take a ``register`` callback and are called once per process, lazily, the
first time anything asks for the registry, one plugin at a time in loading order. They must
stay cheap: register specs that name their implementation by import path, and import nothing
heavy (torch, lightning) at module top.

The other hooks are called through pluggy's hook caller (``host.hook.zoo_run_finished(...)``):
``tryfirst`` / ``trylast``, wrappers (``wrapper=True``, ``hookwrapper=True``) work as pluggy
documents them. No hook is first-result or historic. A hook that raises marks its plugin
broken, with a warning; the other plugins keep working. Each hook says which built-in
implements it, or why none does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from zoo.plugins.specs import DatasetSpec, ModelSpec, SuiteSpec, TrackerSpec
    from zoo.runs.results import RunResult
    from zoo.training import TrainConfig

hookspec = pluggy.HookspecMarker("zoo")


@hookspec
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register models by calling ``register(ModelSpec(...))`` once per model.

    Called once, lazily, when the model registry is first needed. A model name registered
    twice marks the later plugin broken; both plugins are named in the reason.

    No built-in: the core ships no models; the first-party families are distributions under
    ``plugins/``, installed and registered exactly as third-party ones are.
    """


@hookspec
def zoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets by calling ``register(DatasetSpec(...))`` once per dataset.

    Called once, lazily, when the dataset registry is first needed. Built-in:
    ``builtin-datasets`` (the data the shared suites use).
    """


@hookspec
def zoo_register_suites(register: Callable[[SuiteSpec], None]) -> None:
    """Register benchmark suites by calling ``register(SuiteSpec(...))`` once per suite.

    Called once, lazily, when the suite registry is first needed. Built-in: ``builtin-suites``.
    """


@hookspec
def zoo_register_trackers(register: Callable[[TrackerSpec], None]) -> None:
    """Register experiment trackers by calling ``register(TrackerSpec(...))``.

    Called once, lazily, when the tracker registry is first needed. A plugin that registers
    a tracker is that tracker: its run and trainer hooks (``zoo_run_started``,
    ``zoo_run_finished``, ``zoo_suite_finished``, ``zoo_trainer_loggers``,
    ``zoo_trainer_callbacks``) are called only while one of its trackers is selected with
    ``--tracker NAME[,NAME]`` or ``ZOO_TRACKER`` (default ``csv``).

    Built-in: ``builtin-csv-logger`` registers ``csv``. Built-in: ``builtin-wandb-tracker``
    registers ``wandb``.
    """


@hookspec
def zoo_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``zoo`` command line (``@cli.command()``).

    Called once when the ``zoo`` script starts, before the command line is parsed. Import
    heavy libraries inside the command, not here.

    No built-in: the core's own commands are ``zoo.cli`` itself.
    """


@hookspec
def zoo_trainer_callbacks(config: TrainConfig, run_dir: Path) -> list[Any]:
    """Return Lightning callbacks to add to a training run.

    Called at the start of every Lightning fit, on every rank; the lists of all plugins are
    concatenated after the core's own callbacks.

    Built-in: ``builtin-wandb-tracker`` (the learning rate per epoch). The core's callbacks
    (best-validation weights, divergence guard, early stopping) are part of the training
    contract, so ``fit_lightning`` adds them itself and no plugin can remove them.
    """


@hookspec
def zoo_trainer_loggers(config: TrainConfig, run_dir: Path) -> list[Any]:
    """Return Lightning loggers for a training run.

    Called at the start of every Lightning fit, on every rank (a logger writes on rank 0,
    as Lightning's do); the lists of all plugins are concatenated. Built-in:
    ``builtin-csv-logger``, a ``trylast`` implementation returning a CSV logger that writes
    ``run_dir/metrics.csv``. Built-in: ``builtin-wandb-tracker`` (the curves of its W&B run).
    """


@hookspec
def zoo_run_started(run: RunResult) -> None:
    """Called once when a run (train, evaluate or a suite cell) starts, on rank 0 only.

    ``run`` is the row as opened: what runs, on what, with ``status="running"`` and no
    metrics yet. A tracker opens its run here and closes it in :func:`zoo_run_finished`; it
    may record where it tracks the run in ``run.extra[tracker name]``, with which the row is
    finished (``zoo runs show``).

    Built-in: ``builtin-wandb-tracker`` (records ``run.extra["wandb"]``); the results store
    records every run itself, before this hook is called, so that a failing plugin never
    loses a row. On an executor's worker the hook runs in the worker (with the training's
    trackers) on the ``running`` row the driver opened in the store.
    """


@hookspec
def zoo_run_finished(result: RunResult) -> None:
    """Called once after a run (train, evaluate or a suite cell) is stored, on rank 0 only.

    ``result`` is the row as stored: status, metrics, seconds and where the model was saved.
    ``result.id`` is the id :func:`zoo_run_started` got. A run interrupted by Ctrl-C or
    SIGTERM is stored ``failed`` with the error ``interrupted`` and the hook is called with
    it, as the interrupt goes on up, so that a tracker closes its run as failed.

    Built-in: ``builtin-wandb-tracker``; the results store records every run itself, before
    this hook is called, so that a failing plugin never loses a row. On an executor's worker
    the hook runs in the worker (with the training's trackers) on the finished row, which the
    driver stores just after, as given.
    """


@hookspec
def zoo_suite_finished(suite: str, leaderboard: dict[str, Any],
                       figures: dict[str, Path]) -> None:
    """Called once after ``zoo bench`` ran a suite, on rank 0 only.

    ``leaderboard`` is the suite's leaderboard over the whole store, as
    ``zoo leaderboard SUITE --format json`` prints it (``zoo.reporting.render.to_json``).
    ``figures`` are the leaderboard's figures as ``zoo report`` draws them (per section: the
    critical-difference diagram, heat map and bars; ``zoo.reporting.report.board_figures``),
    PNG files beside the store by name (``"setting-semi-budget-quick/cd"``). Drawing them
    costs matplotlib's import, so they are drawn only when a called implementation takes
    the ``figures`` argument; otherwise it is empty.

    Built-in: ``builtin-wandb-tracker`` logs the leaderboard as a table and the figures as
    images in a ``leaderboard`` run.
    """
