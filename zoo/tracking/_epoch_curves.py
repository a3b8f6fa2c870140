"""A Lightning callback logging a training's curves to the W&B run in progress, per epoch.

Imported only inside a training (it imports lightning).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lightning.pytorch.callbacks import Callback


class EpochCurves(Callback):
    """Log every epoch's scalar metrics and learning rate, with ``epoch`` as the x-axis.

    Args:
        active_run: Returns the W&B run to log to, or None (then nothing is logged). Only
            rank 0 logs: the other ranks of a distributed run have no W&B run.
    """

    def __init__(self, active_run: Callable[[], Any]) -> None:
        self._active_run = active_run

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        run = self._active_run()
        if run is None or not trainer.is_global_zero:
            return
        values = {name: float(value) for name, value in trainer.callback_metrics.items()
                  if getattr(value, "numel", lambda: 1)() == 1}
        for i, optimizer in enumerate(trainer.optimizers):
            values[f"lr{i or ''}"] = float(optimizer.param_groups[0]["lr"])
        run.log({**values, "epoch": trainer.current_epoch})
