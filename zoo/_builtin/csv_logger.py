"""The built-in CSV tracker: per-epoch metrics in ``run_dir/metrics.csv``.

An ordinary plugin on the hook any tracker's loggers use, ``trylast`` so that other plugins'
loggers come first. It implements no ``zoo_run_started`` / ``zoo_run_finished``: the results
store already keeps each run's row (see ``zoo.plugins.hookspecs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.plugins import hookimpl

if TYPE_CHECKING:
    from zoo.training import TrainConfig


@hookimpl(trylast=True)
def zoo_trainer_loggers(config: TrainConfig, run_dir: Path) -> list[Any]:
    from lightning.pytorch.loggers import CSVLogger

    return [CSVLogger(save_dir=str(run_dir), name="", version="")]
