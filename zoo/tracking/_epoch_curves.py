"""A Lightning logger and callback sending a training's curves to the W&B run in progress.

Imported only inside a training (it imports lightning).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only


class EpochCurves(Logger):
    """Log what the training logs (losses, the validation metric, the learning rate) to the
    W&B run of the zoo run, with Lightning's ``epoch`` as the x-axis.

    Unlike Lightning's ``WandbLogger`` it never opens a W&B run of its own: only rank 0 logs,
    to the run the tracker opened there, so a distributed training makes one W&B run.

    Args:
        active_run: Returns the W&B run to log to, or None (then nothing is logged).
    """

    def __init__(self, active_run: Callable[[], Any]) -> None:
        super().__init__()
        self._active_run = active_run

    @property
    def name(self) -> str:
        return "wandb-curves"

    @property
    def version(self) -> str:
        return "0"

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """The tracker records the run's configuration when it opens the run."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        run = self._active_run()
        if run is not None:
            run.log({name: float(value) for name, value in metrics.items()})


class EpochLearningRate(Callback):
    """Log each optimiser's learning rate (``lr``, ``lr1`` ...) once per epoch, from rank 0.

    Args:
        active_run: Returns the W&B run to log to, or None (then nothing is logged).
    """

    def __init__(self, active_run: Callable[[], Any]) -> None:
        self._active_run = active_run

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        run = self._active_run()
        if run is None or not trainer.is_global_zero:
            return
        rates = {f"lr{i or ''}": float(optimizer.param_groups[0]["lr"])
                 for i, optimizer in enumerate(trainer.optimizers)}
        run.log({**rates, "epoch": trainer.current_epoch})
