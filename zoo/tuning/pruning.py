"""The epoch-end callback that reports a trial's validation loss to Optuna and prunes it.

zoo's own rather than optuna-integration's ``PyTorchLightningPruningCallback``, which breaks
on Lightning upgrades and under DDP (optuna #4499, #6043). Imported only when training.
"""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from zoo.errors import Pruned

#: The epoch curve reported: every model that validates logs it.
REPORTED = "val_loss"


class ReportToTrial(Callback):
    """After each validation epoch, report ``val_loss`` to the Optuna ``trial`` (negated when
    the study maximises, so that the pruner compares in the study's direction) and stop the
    run with :class:`~zoo.errors.Pruned` when the pruner says so.

    Args:
        trial: The Optuna trial of this run.
        maximize: Whether the study maximises its objective.
    """

    def __init__(self, trial: Any, *, maximize: bool) -> None:
        self.trial = trial
        self.sign = -1.0 if maximize else 1.0

    def on_validation_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        value = trainer.callback_metrics.get(REPORTED)
        if trainer.sanity_checking or value is None or not math.isfinite(float(value)):
            return
        epoch = trainer.current_epoch
        self.trial.report(self.sign * float(value), step=epoch)
        if self.trial.should_prune():
            raise Pruned(f"pruned at epoch {epoch + 1}: {REPORTED}={float(value):.4g} was "
                         f"worse than the other trials' at that epoch",
                         {f"last_{REPORTED}": float(value), "epochs": float(epoch + 1)})
