"""Lightning callbacks of the zoo's fit loop (imported only when training)."""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback, Checkpoint

from zoo.errors import Diverged


class BestWeights(Checkpoint):
    """Keeps a copy of the parameters with the lowest ``monitor`` value seen so far.

    Kept in memory rather than as a checkpoint file: loading it back needs no unpickling, and
    every DDP rank holds the same copy. A ``Checkpoint`` so that Lightning calls it after the
    module's ``on_train_epoch_end``, where epoch means are logged.
    """

    def __init__(self, monitor: str = "val_loss") -> None:
        self.monitor = monitor
        self.best_score = math.inf
        self.best_state: dict[str, Any] | None = None

    def _consider(self, trainer: Trainer, module: LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        score = float(value)
        if math.isfinite(score) and score < self.best_score:
            self.best_score = score
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}

    def on_validation_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        if not trainer.sanity_checking and self.monitor.startswith("val"):
            self._consider(trainer, module)

    def on_train_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        if not self.monitor.startswith("val"):
            self._consider(trainer, module)

    def restore(self, module: LightningModule) -> None:
        if self.best_state is not None:
            module.load_state_dict(self.best_state)


class DivergenceGuard(Callback):
    """Stops training with :class:`Diverged` as soon as the training loss is not finite."""

    def on_train_batch_end(self, trainer: Trainer, module: LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None and not bool(loss.detach().isfinite().all()):
            raise Diverged(f"training loss became {float(loss.detach().reshape(-1)[0])} at "
                           f"step {trainer.global_step}, epoch {trainer.current_epoch}")
