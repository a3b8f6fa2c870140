"""``ZooModule``: the Lightning base class of every gradient-trained zoo model."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import numpy as np
import torch

from zoo.errors import ZooError
from zoo.models import ZooModel
from zoo.models.transfer import scale_learning_rate
from zoo.training import build_optimizer, fit_lightning
from zoo.training.steps import OptimizerSteps, planned_batches

if TYPE_CHECKING:
    from zoo.data.types import DataInfo, Splits
    from zoo.training import TrainConfig
    from zoo.training.batches import Block

WEIGHTS = "weights.safetensors"
#: ``lr_schedule="cosine"`` as nanoGPT: a linear warmup over at most this many steps (and at
#: most 2% of the run), then a cosine decay to this share of ``lr`` at the last step.
WARMUP_STEPS = 100
FINAL_LR_SHARE = 0.1
#: ``lr_milestone=E`` as Deep SVDD's official code: the learning rate times this from epoch E.
MILESTONE_FACTOR = 0.1


def cosine_with_warmup(step: int, total: int, warmup: int) -> float:
    """The learning-rate multiplier at optimiser step ``step`` of ``total``: a linear rise to 1
    over ``warmup`` steps, then a cosine to :data:`FINAL_LR_SHARE` (kept after ``total``)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * progress))


class ZooModule(ZooModel, pl.LightningModule):
    """A LightningModule that implements the zoo's train hook and persistence.

    Subclasses take ``data_info`` first, then explicit typed hyperparameters with defaults,
    including ``optimizer``, ``lr``, ``weight_decay`` and ``batch_size`` (and, to offer a
    learning-rate schedule, ``lr_schedule`` or ``lr_milestone``: :meth:`scheduled`), and call
    ``self.save_hyperparameters(ignore=["data_info"])``. They implement
    :meth:`training_loss` and ``validation_step`` (logging ``train_loss`` and ``val_loss``
    with :meth:`log_epoch_mean`) and the evaluate hooks of their tasks, usually through
    :meth:`batched`. A ``grad_clip`` hyperparameter above 0 clips the gradient norm of every
    step.

    The training loop: each Lightning training step hands :meth:`training_step` a block of
    consecutive mini-batches (:class:`zoo.training.batches.Blocks`: up to
    :data:`zoo.training.batches.BLOCK_STEPS` in one process, one under DDP), and the model takes
    one :meth:`optimization_step` per batch under manual optimisation, each at the cost of a
    hand-written PyTorch step (:mod:`zoo.training.steps`). ``max_steps``, ``max_time``,
    step- and epoch-interval schedulers, clipping, the divergence check of every batch's loss
    and the progress bar keep their per-step meaning; callbacks and loggers see one
    ``on_train_batch_end`` per block (its ``outputs["loss"]`` holds every batch's loss).

    - Most models implement :meth:`training_loss` (one batch's loss; the base class takes the
      step).
    - A model with several optimisers (a GAN) overrides :meth:`optimization_step` and takes
      each step with :meth:`take_step`.
    - A model that overrides Lightning's ``training_step`` itself trains the Lightning way
      instead: automatic optimisation, one batch per Trainer step (and its per-step cost).
    """

    onnx_unsupported = ""  # the evaluate hooks trace (zoo.models.onnx)
    #: Parameters (by name) that train at ``lr`` times :attr:`backbone_lr_scale`: set by
    #: :func:`zoo.models.transfer.initialize_from` (``zoo train --backbone-lr-scale``).
    scaled_parameters: frozenset[str] = frozenset()
    backbone_lr_scale: float = 1.0

    def __init__(self, data_info: DataInfo) -> None:
        super().__init__()
        self.data_info = data_info
        # Running sums of the epoch means, by mode (training: True, validation: False).
        self._epoch_sums: dict[bool, dict[str, tuple[torch.Tensor, int]]] = {}
        self._steps: OptimizerSteps | None = None  # while training in blocks
        self.automatic_optimization = not self.trains_in_blocks

    @property
    def trains_in_blocks(self) -> bool:
        """Whether the model trains a block of batches per Lightning step (it keeps the base
        class's ``training_step``)."""
        return type(self).training_step is ZooModule.training_step

    @property
    def runs_own_optimisers(self) -> bool:
        """Whether the model takes its optimiser steps itself (:meth:`optimization_step`
        overridden: several optimisers)."""
        return type(self).optimization_step is not ZooModule.optimization_step

    # -- epoch means, over every sample of every rank ------------------------------------------
    def log_epoch_mean(self, name: str, value: torch.Tensor, weight: int = 1) -> None:
        """Add ``value``, the mean over ``weight`` samples, to a mean logged once, at the end
        of the training or validation epoch.

        ``self.log`` in every ``training_step`` costs more than a small network's step; this
        keeps a running sum on the device instead. Under DDP the sums and counts of all ranks
        are added before dividing, so the mean is over every sample once however unevenly
        the ranks' shares fall, as one process's would be. Subclasses overriding
        ``on_train_epoch_end`` or ``on_validation_epoch_end`` call ``super()``'s.
        """
        sums = self._epoch_sums.setdefault(self.training, {})
        total, count = sums.get(name) or (torch.zeros((), device=value.device), 0)
        total.add_(value.detach(), alpha=weight)  # in place: one small kernel per call
        sums[name] = (total, count + weight)

    def on_train_epoch_end(self) -> None:
        self.flush_epoch_means(training=True)
        if self._steps is not None:
            self._steps.epoch_end()

    def on_validation_epoch_end(self) -> None:
        self.flush_epoch_means(training=False)

    def flush_epoch_means(self, *, training: bool) -> None:
        """Publish the training (or validation) epoch means added since the last flush, once.

        The fit loop's :class:`~zoo.training.callbacks.EpochMeans` calls this before the other
        callbacks' epoch-end hooks (Lightning calls the module's own after them, one epoch late
        for those callbacks); the module's hooks then find nothing left, and publish the means
        themselves under a plain Lightning ``Trainer``.
        """
        sums = self._epoch_sums.pop(training, {})
        if not sums:
            return
        totals = torch.stack([total for total, _ in sums.values()])
        counts = torch.tensor([float(count) for _, count in sums.values()], device=totals.device)
        # One all-reduce of every mean's sum and count under DDP: the same means on every rank.
        summed = self.trainer.strategy.reduce(torch.stack([totals, counts]), reduce_op="sum")
        means = summed[0] / summed[1]
        self._publish_epoch_means(list(sums), means)

    def _publish_epoch_means(self, names: list[str], means: torch.Tensor) -> None:
        """Hand the epoch means (``means[i]`` of ``names[i]``) to the callbacks and the loggers,
        as ``self.log`` would at the epoch's end, without its per-call bookkeeping (moving each
        metric's state object, about 0.5 ms a call: 5% of a small CNN's fit,
        ``benchmarks/perf/RESULTS.md``)."""
        trainer = self.trainer
        trainer.callback_metrics.update(zip(names, means.unbind(), strict=True))
        if not trainer.loggers:
            return
        # Each logger logs from rank 0 only (Lightning's loggers are rank-zero-only); the step
        # is the optimiser steps taken, the same for an epoch's training and validation lines.
        # One copy to the host for all the means (a float() each: a GPU sync each).
        values: dict[str, float] = dict(zip(names, means.tolist(), strict=True))
        values["epoch"] = trainer.current_epoch
        for logger in trainer.loggers:
            logger.log_metrics(values, step=trainer.global_step)
            logger.save()

    # -- train hook ----------------------------------------------------------------------------
    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        return fit_lightning(self, splits, config, batch_size=int(self.hparams["batch_size"]))

    def training_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The loss of one training mini-batch ``(x,)`` or ``(x, y)``, to minimise; log epoch
        means here (:meth:`log_epoch_mean`)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither training_loss "
                                  "nor optimization_step")

    def optimization_step(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Train on one mini-batch: :meth:`training_loss`, then :meth:`take_step`.

        Returns:
            The batch's loss, detached: the fit loop stops with ``Diverged`` when it is not
            finite.
        """
        loss = self.training_loss(batch)
        self.take_step(loss)
        return loss.detach()

    def take_step(self, loss: torch.Tensor, optimizer: int = 0) -> None:
        """One step of optimiser ``optimizer`` (its index in ``configure_optimizers``) on
        ``loss``: zero the gradients, back-propagate, clip, step, step-interval schedulers."""
        assert self._steps is not None, "take_step is for optimization_step, while training"
        self._steps.step(loss, optimizer)

    def training_step(self, block: Block, block_idx: int) -> dict[str, Any]:
        """One :meth:`optimization_step` per batch of ``block``, ending early at ``max_steps``
        or ``max_time``.

        Returns:
            ``loss``: every batch's loss, stacked; ``steps``: ``trainer.global_step`` after
            each batch.
        """
        assert self._steps is not None
        losses: list[torch.Tensor] = []
        steps: list[int] = []
        for batch in block:
            losses.append(self.optimization_step(batch))
            steps.append(self.trainer.global_step)
            if self._steps.block_over(steps[-1]):
                break
        return {"loss": torch.stack(losses), "steps": steps}

    def on_train_start(self) -> None:
        if self.trains_in_blocks:
            self._steps = OptimizerSteps(self.trainer, self, ZooModule)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning's own step (DDP, a gradient scaler) calls this after unscaling: clip here.
        if self._steps is not None:
            self._steps.clip(optimizer)

    def on_train_end(self) -> None:
        self._steps = None

    def configure_optimizers(self) -> Any:
        return self.scheduled(self.make_optimizer(
            self.hparams["optimizer"], self.parameters(), lr=self.hparams["lr"],
            weight_decay=self.hparams.get("weight_decay", 0.0)))

    def make_optimizer(self, name: str, params: Any, **options: Any) -> torch.optim.Optimizer:
        """:func:`zoo.training.build_optimizer` for this training: with torch's fused step
        unless a gradient scaler (``16-mixed``) unscales the gradients, which a fused step
        would do inside itself, after they were to be clipped."""
        trainer = self._trainer  # None outside a training (``self.trainer`` would raise)
        scaler = getattr(trainer.precision_plugin, "scaler", None) if trainer else None
        return build_optimizer(name, params, fused=scaler is None, **options)

    def scheduled(self, optimizer: torch.optim.Optimizer) -> Any:
        """``optimizer`` under the learning-rate schedule of the model's hyperparameters.

        Models that offer a schedule take one of: ``lr_schedule="cosine"``
        (:func:`cosine_with_warmup` over the run's estimated optimiser steps) or
        ``lr_milestone=E`` (:data:`MILESTONE_FACTOR` times ``lr`` from epoch ``E``). Without
        them (``lr_schedule="constant"``, ``lr_milestone=0``) the rate stays ``lr``. A
        fine-tune's backbone trains at :attr:`backbone_lr_scale` times the rate, in a
        parameter group of its own.
        """
        if self.backbone_lr_scale != 1.0:  # before a scheduler reads the groups' rates
            scale_learning_rate(optimizer, [p for name, p in self.named_parameters()
                                            if name in self.scaled_parameters],
                                self.backbone_lr_scale)
        cosine = self.hparams.get("lr_schedule", "constant") == "cosine"
        milestone = int(self.hparams.get("lr_milestone", 0))
        if cosine and milestone:
            raise ZooError(f"lr_schedule=cosine and lr_milestone={milestone} both set the "
                           "learning rate; choose one (lr_milestone=0 or lr_schedule=constant)")
        if milestone:
            return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.MultiStepLR(
                optimizer, milestones=[milestone], gamma=MILESTONE_FACTOR)}
        if not cosine:
            return optimizer
        total = planned_batches(self.trainer)
        if not math.isfinite(total):
            raise ZooError("lr_schedule=cosine needs a bound on epochs or steps to decay over; "
                           "set max_epochs or max_steps")
        steps = int(total)
        warmup = min(WARMUP_STEPS, max(1, steps // 50))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: cosine_with_warmup(step, steps, warmup))
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # -- evaluate hooks helpers ----------------------------------------------------------------
    @torch.no_grad()
    def batched(self, fn: Callable[[torch.Tensor], torch.Tensor], x: Any,
                batch_size: int = 4096) -> torch.Tensor:
        """Apply ``fn`` to ``x`` in eval mode, in batches on the module's device; CPU result."""
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        expected = tuple(self.data_info.shape)
        if tuple(x.shape[1:]) != expected:
            raise ZooError(f"model {self.zoo_name or type(self).__name__!r} expects samples of "
                           f"shape {expected}, got {tuple(x.shape[1:])}")
        was_training = self.training
        self.eval()
        try:
            outputs = [fn(x[i:i + batch_size].to(self.device)).cpu()
                       for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(outputs) if outputs else torch.empty(0)

    # -- persistence ---------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {k: v for k, v in self.hparams.items() if k != "data_info"}

    def save_state(self, directory: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(Path(directory) / WEIGHTS))

    def load_state(self, directory: Path) -> None:
        from safetensors.torch import load_file

        self.load_state_dict(load_file(str(Path(directory) / WEIGHTS)))
