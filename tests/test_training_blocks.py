"""The fit loop's blocks: several optimiser steps per Lightning training step, each with the
per-step meaning of Lightning's automatic optimisation (step count, ``max_steps``, clipping,
schedulers, divergence) and the same parameters whichever way a step is taken."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from zoo.data.types import DataInfo
from zoo.models import create_model
from zoo.models.module import ZooModule, cosine_with_warmup
from zoo.testing import tiny_splits
from zoo.training import Diverged, TrainConfig
from zoo.training.batches import BLOCK_STEPS, Blocks, IndexBatches
from zoo.training.steps import planned_batches

#: tiny_splits(n=256) at batch 8: 32 training batches per epoch, one block.
N, BATCH = 256, 8


class Line(ZooModule):
    """A throwaway model: one weight fitted to the mean of ``x``; ``nan_at`` makes the loss
    of that batch (counted from 1) not finite."""

    def __init__(self, optimizer: str = "sgd", lr: float = 0.1, batch_size: int = BATCH,
                 lr_schedule: str = "constant", lr_milestone: int = 0, grad_clip: float = 0.0,
                 nan_at: int = 0) -> None:
        super().__init__(DataInfo("tabular", (4,), "detect"))
        self.save_hyperparameters()
        self.weight = torch.nn.Parameter(torch.full((1,), 5.0))
        self.batches = 0

    def training_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        self.batches += 1
        loss = (self.weight - batch[0].mean()).pow(2).sum()
        if self.batches == self.hparams["nan_at"]:
            loss = loss * math.nan
        self.log_epoch_mean("train_loss", loss, len(batch[0]))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self.log_epoch_mean("val_loss", (self.weight - batch[0].mean()).pow(2).sum(),
                            len(batch[0]))


class Recorder(Callback):
    """Records the learning rate at each epoch's start and the scheduler's count at the end."""

    def __init__(self, *, listen_to_steps: bool = False) -> None:
        self.lrs: list[float] = []
        self.scheduled: int | None = None
        self.optimizer_steps = 0
        if listen_to_steps:  # a hook only Lightning's own optimiser step calls
            self.on_before_optimizer_step = self._count  # type: ignore[method-assign]

    def _count(self, *args: Any) -> None:
        self.optimizer_steps += 1

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_end(self, trainer: Any, module: Any) -> None:
        if trainer.lr_scheduler_configs:
            self.scheduled = trainer.lr_scheduler_configs[0].scheduler.last_epoch


def fit(model: ZooModule, **config: Any) -> dict[str, float]:
    splits = tiny_splits("tabular", "detect", n=N)
    settings = {"max_epochs": 3, "accelerator": "cpu", "patience": None, **config}
    return model.fit(splits, TrainConfig(**settings))


def test_blocks_hand_out_the_epoch_batches_in_order() -> None:
    batches = IndexBatches((torch.arange(100),), 7, shuffle=True, seed=1, drop_last=True)
    blocks = Blocks(batches, 4)
    expected = [b[0] for b in IndexBatches((torch.arange(100),), 7, shuffle=True, seed=1,
                                           drop_last=True)]
    got = [batch[0] for block in blocks for batch in block]
    assert len(blocks) == 4 and blocks.batch_count == 14 == len(got)
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


@pytest.mark.parametrize("max_steps", [5, BLOCK_STEPS + 3])
def test_max_steps_stops_inside_a_block(max_steps: int) -> None:
    model = Line()
    metrics = fit(model, max_steps=max_steps, max_epochs=None)
    assert metrics["steps"] == max_steps == model.batches


def test_a_block_takes_one_optimizer_step_per_batch() -> None:
    metrics = fit(Line(), max_epochs=2)
    assert metrics["steps"] == 2 * N // BATCH


def test_divergence_names_the_batch_whose_loss_was_not_finite() -> None:
    with pytest.raises(Diverged, match="training loss became nan at step 7, epoch 0"):
        fit(Line(nan_at=7))


def test_step_schedulers_step_once_per_optimizer_step() -> None:
    recorder = Recorder()
    metrics = fit(Line(lr_schedule="cosine"), callbacks=(recorder,))
    assert recorder.scheduled == metrics["steps"]
    total = int(metrics["steps"])
    assert recorder.lrs[1] == pytest.approx(
        0.1 * cosine_with_warmup(total // 3, total, max(1, total // 50)))


def test_epoch_schedulers_step_at_each_epoch_end() -> None:
    recorder = Recorder()
    fit(Line(lr_milestone=1), callbacks=(recorder,))
    assert recorder.lrs == pytest.approx([0.1, 0.01, 0.01])


def test_grad_clip_bounds_each_step() -> None:
    model = Line(lr=1.0, grad_clip=1e-3)
    fit(model, max_steps=1, max_epochs=None)
    assert abs(float(model.weight.detach()) - 5.0) == pytest.approx(1e-3, rel=1e-3)


def test_hooks_on_the_step_take_lightnings_own_step_with_the_same_result() -> None:
    """A callback on the optimiser step is called once per step (Lightning's path); both
    paths end with the same parameters."""
    plain, hooked = Line(optimizer="adam"), Line(optimizer="adam")
    listener = Recorder(listen_to_steps=True)
    steps = fit(plain)["steps"]
    assert fit(hooked, callbacks=(listener,))["steps"] == steps == listener.optimizer_steps
    assert torch.equal(plain.weight, hooked.weight)


def test_planned_batches_counts_mini_batches_not_blocks() -> None:
    plans: list[float] = []

    class Plan(Callback):
        def on_train_start(self, trainer: Any, module: Any) -> None:
            plans.append(planned_batches(trainer))

    fit(Line(), callbacks=(Plan(),), max_epochs=2)
    fit(Line(), callbacks=(Plan(),), max_epochs=2, max_steps=50)
    assert plans == [2 * N // BATCH, 50]


def test_a_model_with_its_own_training_step_trains_the_lightning_way() -> None:
    """Lightning's contract still works: automatic optimisation, a batch per step."""

    class Own(Line):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self.training_loss(batch)

    model = Own()
    assert model.automatic_optimization and not model.trains_in_blocks
    assert fit(model, max_epochs=1)["steps"] == model.batches == N // BATCH
    assert create_model("mlp", tiny_splits("tabular", "classify").info).trains_in_blocks


@pytest.mark.filterwarnings("ignore:.*LeafSpec")
def test_grad_clip_acts_on_unscaled_gradients_under_a_gradient_scaler() -> None:
    """Under 16-mixed the loss is scaled; Lightning's own step unscales the gradients before
    the model's ``on_before_optimizer_step`` clips them."""
    import lightning.pytorch as pl
    from lightning.pytorch.plugins import MixedPrecision

    from zoo.training.batches import TensorDataModule

    model = Line(lr=1.0, grad_clip=1e-3)
    scaler = torch.amp.GradScaler("cpu")
    trainer = pl.Trainer(accelerator="cpu", max_steps=1, logger=False, limit_val_batches=0,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False,
                         plugins=[MixedPrecision("16-mixed", "cpu", scaler)])
    trainer.fit(model, datamodule=TensorDataModule(tiny_splits("tabular", "detect", n=N),
                                                   batch_size=BATCH, blocks=True))
    assert trainer.global_step == 1 and scaler.get_scale() > 1
    assert abs(float(model.weight.detach()) - 5.0) == pytest.approx(1e-3, rel=1e-3)
