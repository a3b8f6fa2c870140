"""Default run hooks: a CSV logger in the run directory (``trylast``, so others come first)."""

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
