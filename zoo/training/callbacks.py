"""Lightning callbacks of the zoo's fit loop (imported only when training)."""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback, Checkpoint

from zoo.errors import Diverged
from zoo.training.progress import StepBar


class BestWeights(Checkpoint):
    """Keeps a copy of the parameters with the lowest ``monitor`` value seen so far.

    Kept in memory rather than as a checkpoint file: loading it back needs no unpickling, and
    every DDP rank holds the same copy. A ``Checkpoint`` so that Lightning calls it after the
    module's ``on_train_epoch_end`` and ``on_validation_epoch_end``, where epoch means are
    logged.
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

    def on_validation_end(self, trainer: Trainer, module: LightningModule) -> None:
        # After the module's on_validation_epoch_end, where epoch means are logged.
        if not trainer.sanity_checking and self.monitor.startswith("val"):
            self._consider(trainer, module)

    def on_train_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        if not self.monitor.startswith("val"):
            self._consider(trainer, module)

    def restore(self, module: LightningModule) -> None:
        if self.best_state is not None:
            module.load_state_dict(self.best_state)


def step_loss(outputs: Any) -> Any:
    """The loss a ``training_step`` returned (a tensor, or ``None`` under manual
    optimisation), from what Lightning hands to ``on_train_batch_end``."""
    return outputs.get("loss") if isinstance(outputs, dict) else outputs


class DivergenceGuard(Callback):
    """Stops training with :class:`Diverged` as soon as the training loss is not finite."""

    def on_train_batch_end(self, trainer: Trainer, module: LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        loss = step_loss(outputs)
        if loss is not None and not bool(loss.detach().isfinite().all()):
            raise Diverged(f"training loss became {float(loss.detach().reshape(-1)[0])} at "
                           f"step {trainer.global_step}, epoch {trainer.current_epoch}")


class TrainingProgress(Callback):
    """Draws the run's :class:`zoo.training.progress.StepBar` on stderr: steps, epoch, losses.

    Only rank 0 draws. ``loss`` is the latest step's, and the last epoch's mean
    ``train_loss`` at each new epoch (the only one a model under manual optimisation, a GAN,
    shows); ``val_loss`` is the last validation's.
    """

    def __init__(self) -> None:
        self._bar: StepBar | None = None

    def on_train_start(self, trainer: Trainer, module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        total = trainer.num_training_batches * epochs if epochs else None
        if trainer.max_steps > 0:
            total = min(total or math.inf, trainer.max_steps)
        self._bar = StepBar(total if total is not None and math.isfinite(total) else None,
                            epochs)

    def on_train_epoch_start(self, trainer: Trainer, module: LightningModule) -> None:
        if self._bar is not None:
            self._show_epoch_losses(trainer)
            self._bar.epoch(trainer.current_epoch)

    def on_train_batch_end(self, trainer: Trainer, module: LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        if self._bar is not None:
            loss = step_loss(outputs)
            self._bar.step(loss if loss is not None
                           else trainer.callback_metrics.get("train_loss"))

    def on_train_end(self, trainer: Trainer, module: LightningModule) -> None:
        if self._bar is not None:
            self._show_epoch_losses(trainer)
        self._close()

    def on_exception(self, trainer: Trainer, module: LightningModule,
                     exception: BaseException) -> None:
        self._close()

    def _show_epoch_losses(self, trainer: Trainer) -> None:
        """The last epoch's means, logged after the callbacks' ``on_train_epoch_end``."""
        metrics = trainer.callback_metrics
        self._bar.show(loss=metrics.get("train_loss"), val_loss=metrics.get("val_loss"))

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
