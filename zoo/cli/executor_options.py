"""The options that choose where a command's many runs execute (the cells of ``zoo bench``,
the trials of ``zoo tune``): ``--executor``, ``--jobs``, ``--ray-address``,
``--cpus-per-cell``, ``--gpus-per-cell`` and ``--runs-dir``. docs/scale.md explains them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from zoo.runs.executors import EXECUTORS

if TYPE_CHECKING:
    from zoo.runs.executors import Executor


def executor_options(command: Any) -> Any:
    """Add the executor options to a click command (as keyword arguments of the same names)."""
    for option in reversed((
            click.option("--executor", type=click.Choice(EXECUTORS),
                         help="Where the runs execute: one after the other in this process "
                              "(in-process, the default), in --jobs local worker processes, "
                              "or as tasks on a Ray cluster (pip install 'zoo[ray]'); "
                              "--jobs alone means local, --ray-address or --*-per-cell alone "
                              "ray. This process alone writes the store."),
            click.option("--jobs", type=click.IntRange(min=1),
                         help="--executor local: worker processes (default: one per core; "
                              "the cores' threads are split between them)."),
            click.option("--ray-address",
                         help="--executor ray: the cluster to join (default: start one on "
                              "this machine)."),
            click.option("--cpus-per-cell", type=click.FloatRange(min=0, min_open=True),
                         help="--executor ray: CPUs reserved for each run (default 1)."),
            click.option("--gpus-per-cell", type=click.FloatRange(min=0),
                         help="--executor ray: GPUs reserved for each run; a fraction shares "
                              "a GPU (default 0)."),
            click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path),
                         help="Where run folders (logs, checkpoints) go (default: 'runs' "
                              "beside the store); across machines, storage they all share."),
    )):
        command = option(command)
    return command


@contextmanager
def opened_executor(executor: str | None, *, jobs: int | None, ray_address: str | None,
                    cpus_per_cell: float | None, gpus_per_cell: float | None,
                    devices: int) -> Iterator[Executor | None]:
    """The executor the options name (:func:`~zoo.runs.executors.make_executor`), closed (its
    workers stopped) at the end; None for ``in-process``."""
    from zoo.runs.executors import make_executor

    chosen = make_executor(executor, jobs=jobs, ray_address=ray_address,
                           cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell,
                           devices=devices)
    try:
        yield chosen
    finally:
        if chosen is not None:
            chosen.close()
