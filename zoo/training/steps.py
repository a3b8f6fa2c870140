"""Optimiser steps inside a training block, at the cost of a hand-written loop's.

A model that trains in blocks (:class:`zoo.training.batches.Blocks`) runs under Lightning's
manual optimisation and takes each of a block's optimiser steps through an
:class:`OptimizerSteps`. It keeps what Lightning's automatic optimisation gives: the optimiser
step count (``trainer.global_step``, so ``max_steps``), gradient-norm clipping through the
precision plugin, step- and epoch-interval learning-rate schedulers, and the end of a block
at ``max_steps`` or ``max_time``.

Lightning's ``manual_backward`` and ``LightningOptimizer.step`` add about 0.1 ms per step on
a CPU (they call every callback's ``on_before_backward``, ``on_after_backward`` and
``on_before_optimizer_step`` through the profiler): as much as 5 % of a small network's step.
So when nothing needs them (one process, no gradient scaler, no callback or model hook on the
backward or the optimiser step) the step is plain PyTorch's ``backward()`` and
``optimizer.step()``; otherwise (DDP, which prepares its gradient reducer in
``manual_backward``; ``16-mixed``; such hooks) Lightning's own calls.
"""

from __future__ import annotations

import math

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.strategies import SingleDeviceStrategy
from lightning.pytorch.utilities.model_helpers import is_overridden

#: Hooks that plain ``backward()`` / ``optimizer.step()`` would skip.
STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")


def plain_steps_possible(trainer: Trainer, module: LightningModule, base: type) -> bool:
    """Whether a step may bypass Lightning's ``manual_backward`` and optimiser wrapper: one
    process, no gradient scaler, and no callback (nor subclass of ``base``, the model's base
    class) implementing a hook of the backward or the optimiser step."""
    if not isinstance(trainer.strategy, SingleDeviceStrategy):
        return False
    if getattr(trainer.precision_plugin, "scaler", None) is not None:
        return False
    return not any(is_overridden(hook, module, base)
                   or any(is_overridden(hook, callback) for callback in trainer.callbacks)
                   for hook in STEP_HOOKS)


def planned_batches(trainer: Trainer) -> float:
    """Training mini-batches the fit will take: per epoch times ``max_epochs``, at most
    ``max_steps``; ``inf`` when neither bounds it. Usable from ``configure_optimizers``."""
    per_step = trainer.estimated_stepping_batches  # loads the training data
    per_epoch = getattr(trainer.train_dataloader, "batch_count", None)
    if per_epoch is None:  # one batch per Lightning step
        return per_step
    total = per_epoch * trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 \
        else math.inf
    return min(total, trainer.max_steps) if trainer.max_steps >= 0 else total


class OptimizerSteps:
    """The optimiser steps of one fit, built when training starts.

    Args:
        trainer: The running trainer (its optimisers and schedulers are set up).
        module: The model, under manual optimisation; its ``on_before_optimizer_step`` calls
            :meth:`clip` (Lightning's own step calls it after unscaling the gradients).
        base: The model's base class, whose own implementations of the step hooks do not
            count as listeners.
    """

    def __init__(self, trainer: Trainer, module: LightningModule, base: type) -> None:
        self.trainer = trainer
        self.module = module
        optimizers = module.optimizers()
        self.optimizers: list[LightningOptimizer] = (
            list(optimizers) if isinstance(optimizers, list) else [optimizers])
        self.plain = plain_steps_possible(trainer, module, base)
        self.max_norm = float(module.hparams.get("grad_clip", 0.0) or 0.0)
        self.step_schedulers = [
            [config for config in trainer.lr_scheduler_configs
             if config.interval == "step" and config.scheduler.optimizer is opt.optimizer]
            for opt in self.optimizers]
        self.timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        self.max_steps = trainer.max_steps

    def step(self, loss: torch.Tensor, index: int = 0) -> None:
        """Zero the gradients of optimiser ``index``, back-propagate ``loss``, clip the
        gradient norm to the model's ``grad_clip`` (when above 0), step, and step the
        optimiser's step-interval schedulers."""
        optimizer = self.optimizers[index]
        if self.plain:
            optimizer.optimizer.zero_grad()
            loss.backward()
            self.clip(optimizer.optimizer)
            # The manual-optimisation loop's step counters (trainer.global_step), which
            # LightningOptimizer.step would call.
            optimizer._on_before_step()
            optimizer.optimizer.step()
            optimizer._on_after_step()
        else:
            optimizer.zero_grad()
            self.module.manual_backward(loss)
            # Unscales the gradients (16-mixed), calls the model's on_before_optimizer_step
            # (which clips), then steps.
            optimizer.step()
        for config in self.step_schedulers[index]:
            if self.trainer.global_step % config.frequency == 0:
                config.scheduler.step()

    def clip(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the gradient norm of ``optimizer``'s parameters to the model's ``grad_clip``
        (nothing when it is 0)."""
        if self.max_norm > 0:
            self.module.clip_gradients(optimizer, gradient_clip_val=self.max_norm,
                                       gradient_clip_algorithm="norm")

    def block_over(self, global_step: int) -> bool:
        """``max_steps`` reached (``global_step``: the steps taken) or ``max_time`` spent: the
        block ends here (the trainer then stops at the block's end)."""
        if 0 <= self.max_steps <= global_step:
            return True
        remaining = self.timer.time_remaining() if self.timer is not None else None
        return remaining is not None and remaining <= 0

    def epoch_end(self) -> None:
        """Step the epoch-interval schedulers, as automatic optimisation does after
        ``on_train_epoch_end``."""
        epoch = self.trainer.current_epoch + 1
        for config in self.trainer.lr_scheduler_configs:
            if config.interval == "epoch" and epoch % config.frequency == 0:
                config.scheduler.step()
