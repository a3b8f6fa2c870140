"""The built-in CSV tracker ``csv`` (the default one): per-epoch metrics in
``run_dir/metrics.csv``.

An ordinary tracker plugin on the hook any tracker's loggers use, ``trylast`` so that other
plugins' loggers come first. It implements no ``zoo_run_started`` / ``zoo_run_finished``: the
results store already keeps each run's row (see ``zoo.plugins.hookspecs``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.plugins import hookimpl
from zoo.plugins.specs import TrackerSpec

if TYPE_CHECKING:
    from zoo.training import TrainConfig


@hookimpl
def zoo_register_trackers(register: Callable[[TrackerSpec], None]) -> None:
    register(TrackerSpec("csv", summary="per-epoch metrics in each run's metrics.csv"))


@hookimpl(trylast=True)
def zoo_trainer_loggers(config: TrainConfig, run_dir: Path) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger

    return [CSVLogger(save_dir=str(run_dir), name="", version="")]
