"""Every hook a zoo plugin can implement.

A plugin is a module (or object) with functions named like the specs below, decorated with
``zoo.hookimpl``. Installed plugins are found through the ``zoo.plugins`` entry-point group;
the core's own built-ins are registered through the same path (see ``zoo.plugins``).

Registration hooks take a ``register`` callback and are called once per process, lazily, the
first time anything asks for the registry. They must stay cheap: register specs that name
their implementation by import path, and import nothing heavy (torch, lightning) at module
top. A hook that raises marks its plugin broken; the other plugins keep working.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from zoo.results import RunResult
    from zoo.specs import DatasetSpec, ModelSpec, SuiteSpec
    from zoo.training import TrainConfig

hookspec = pluggy.HookspecMarker("zoo")


@hookspec
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register models by calling ``register(ModelSpec(...))`` once per model.

    Called once, lazily, when the model registry is first needed. A model name registered
    twice marks the later plugin broken; both plugins are named in the reason.
    """


@hookspec
def zoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets by calling ``register(DatasetSpec(...))`` once per dataset.

    Called once, lazily, when the dataset registry is first needed.
    """


@hookspec
def zoo_register_suites(register: Callable[[SuiteSpec], None]) -> None:
    """Register benchmark suites by calling ``register(SuiteSpec(...))`` once per suite.

    Called once, lazily, when the suite registry is first needed.
    """


@hookspec
def zoo_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``zoo`` command line (``@cli.command()``).

    Called once when the CLI starts. Import heavy libraries inside the command, not here.
    """


@hookspec
def zoo_trainer_callbacks(config: TrainConfig, run_dir: Path) -> list[Any]:
    """Return Lightning callbacks to add to a training run.

    Called for every run; the lists of all plugins are concatenated.
    """


@hookspec
def zoo_trainer_loggers(config: TrainConfig, run_dir: Path) -> list[Any]:
    """Return Lightning loggers for a training run.

    Called for every run; the lists of all plugins are concatenated. The core's default
    (a CSV logger in ``run_dir``) is a ``trylast`` implementation.
    """


@hookspec
def zoo_run_finished(result: RunResult) -> None:
    """Called once after a run (train, evaluate or a suite cell) is stored, on rank 0 only.

    ``result`` is the row as stored: status, metrics, seconds and where the model was saved.
    """
