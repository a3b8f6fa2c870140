"""Lightning callbacks of the zoo's fit loop (imported only when training)."""

from __future__ import annotations

import math
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback, Checkpoint

from zoo.errors import Diverged
from zoo.training.progress import StepBar
from zoo.training.steps import planned_batches


class BestWeights(Checkpoint):
    """Keeps a copy of the parameters with the lowest ``monitor`` value seen so far.

    Kept in memory rather than as a checkpoint file: loading it back needs no unpickling, and
    every DDP rank holds the same copy. A ``Checkpoint`` so that Lightning calls it after the
    other callbacks' and the module's epoch-end hooks, where epoch means are published
    (:class:`EpochMeans`).
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
        # After every on_validation_epoch_end, where epoch means are published.
        if not trainer.sanity_checking and self.monitor.startswith("val"):
            self._consider(trainer, module)

    def on_train_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        if not self.monitor.startswith("val"):
            self._consider(trainer, module)

    def restore(self, module: LightningModule) -> None:
        if self.best_state is not None:
            module.load_state_dict(self.best_state)


class EpochMeans(Callback):
    """Publishes a ``ZooModule``'s epoch means (``train_loss``, ``val_loss`` ...) to
    ``trainer.callback_metrics`` and the loggers in its own epoch-end hooks
    (:meth:`zoo.models.module.ZooModule.flush_epoch_means`).

    The fit loop's first callback: Lightning calls the callbacks' ``on_train_epoch_end`` and
    ``on_validation_epoch_end`` before the module's, so every other callback (a tracker's, a
    tuner's pruning) would read the previous epoch's means if the module published them.
    """

    def on_train_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        _flush_epoch_means(module, training=True)

    def on_validation_epoch_end(self, trainer: Trainer, module: LightningModule) -> None:
        _flush_epoch_means(module, training=False)


def _flush_epoch_means(module: LightningModule, *, training: bool) -> None:
    flush = getattr(module, "flush_epoch_means", None)  # a plain LightningModule has none
    if flush is not None:
        flush(training=training)


def step_losses(outputs: Any) -> Any:
    """The losses a ``training_step`` returned, from what Lightning hands to
    ``on_train_batch_end``: one per batch of a block (a 1-d tensor), one scalar, or
    ``None``."""
    return outputs.get("loss") if isinstance(outputs, dict) else outputs


class DivergenceGuard(Callback):
    """Stops training with :class:`Diverged` when a training loss is not finite: any batch's
    of a block (checked once per block, naming the batch's step)."""

    def on_train_batch_end(self, trainer: Trainer, module: LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        losses = step_losses(outputs)
        if losses is None:
            return
        finite = losses.detach().reshape(-1).isfinite()
        if bool(finite.all()):
            return
        first = int((~finite).nonzero()[0])
        steps = outputs.get("steps") if isinstance(outputs, dict) else None
        step = steps[first] if steps else trainer.global_step
        raise Diverged(f"training loss became {float(losses.reshape(-1)[first])} at "
                       f"step {step}, epoch {trainer.current_epoch}")


class TrainingProgress(Callback):
    """Draws the run's :class:`zoo.training.progress.StepBar` on stderr: steps, epoch, losses.

    Only rank 0 draws; the bar counts mini-batches. ``loss`` is the latest batch's (a block's
    last), and the last epoch's mean ``train_loss`` at each new epoch; ``val_loss`` is the last
    validation's.
    """

    def __init__(self) -> None:
        self._bar: StepBar | None = None

    def on_train_start(self, trainer: Trainer, module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        total = planned_batches(trainer)
        self._bar = StepBar(total if math.isfinite(total) else None, epochs)

    def on_train_epoch_start(self, trainer: Trainer, module: LightningModule) -> None:
        if self._bar is not None:
            self._show_epoch_losses(trainer)
            self._bar.epoch(trainer.current_epoch)

    def on_train_batch_end(self, trainer: Trainer, module: LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        if self._bar is not None:
            losses = step_losses(outputs)
            if losses is None:
                self._bar.step(trainer.callback_metrics.get("train_loss"))
            else:
                losses = losses.detach().reshape(-1)
                self._bar.step(losses[-1], batches=len(losses))

    def on_train_end(self, trainer: Trainer, module: LightningModule) -> None:
        if self._bar is not None:
            self._show_epoch_losses(trainer)
        self._close()

    def on_exception(self, trainer: Trainer, module: LightningModule,
                     exception: BaseException) -> None:
        self._close()

    def _show_epoch_losses(self, trainer: Trainer) -> None:
        """The last epoch's means (:class:`EpochMeans`)."""
        metrics = trainer.callback_metrics
        self._bar.show(loss=metrics.get("train_loss"), val_loss=metrics.get("val_loss"))

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
