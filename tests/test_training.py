"""The trainer factory and fit loop: optimisers, best parameters, divergence, time budget."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from zoo.data.types import DataInfo
from zoo.errors import ZooError
from zoo.models import create_model
from zoo.models.module import ZooModule
from zoo.runs.store import Store
from zoo.testing import tiny_splits
from zoo.training import (
    FUSED_OPTIMIZERS,
    OPTIMIZERS,
    Diverged,
    TrainConfig,
    build_optimizer,
)
from zoo.training.callbacks import BestWeights


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains_the_mlp(name: str) -> None:
    splits = tiny_splits("tabular", "classify")
    model = create_model("mlp", splits.info, seed=0, optimizer=name, lr=0.05 if name in (
        "sgd", "momentum", "nesterov", "adagrad") else 1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    metrics = model.fit(splits, TrainConfig(max_epochs=2, accelerator="cpu", patience=None))
    assert np.isfinite(metrics["best_val_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_take_torchs_fused_step_where_it_has_one(name: str) -> None:
    params = list(torch.nn.Linear(3, 2).parameters())
    fused = build_optimizer(name, params, lr=0.1).defaults.get("fused")
    assert bool(fused) == (name in FUSED_OPTIMIZERS["cpu"])
    assert not build_optimizer(name, params, lr=0.1, fused=False).defaults.get("fused")


def test_unknown_optimizer_is_a_clear_error() -> None:
    with pytest.raises(Exception, match="unknown optimizer 'lbfgs'; valid: sgd"):
        build_optimizer("lbfgs", [torch.zeros(1, requires_grad=True)], lr=0.1)


def test_bf16_mixed_trains_the_steps_of_a_block_under_bfloat16_autocast() -> None:
    splits = tiny_splits("tabular", "classify")
    model = create_model("mlp", splits.info, seed=0)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    seen: list[tuple[bool, torch.dtype]] = []
    first.register_forward_hook(lambda module, _, out: seen.append((module.training, out.dtype)))
    metrics = model.fit(splits, TrainConfig(max_epochs=2, accelerator="cpu", patience=None,
                                            precision="bf16-mixed"))
    assert np.isfinite(metrics["best_val_loss"]) and metrics["steps"] >= 2
    assert (True, torch.bfloat16) in seen and (False, torch.bfloat16) in seen
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # autocast, not a cast


@pytest.mark.parametrize(("precision", "said"), [
    ("64-true", "unknown precision '64-true'; valid: 32-true, bf16-mixed, 16-mixed"),
    ("16-mixed", "precision '16-mixed' needs a GPU"),
])
def test_a_precision_zoo_does_not_train_in_is_refused(precision: str, said: str) -> None:
    splits = tiny_splits("tabular", "classify")
    model = create_model("mlp", splits.info, seed=0)
    with pytest.raises(ZooError, match=said):
        model.fit(splits, TrainConfig(max_epochs=1, accelerator="cpu", precision=precision))


def test_best_weights_keeps_the_lowest_validation_loss() -> None:
    module = torch.nn.Linear(2, 1)
    best = BestWeights("val_loss")
    trainer = SimpleNamespace(callback_metrics={}, sanity_checking=False)
    snapshots = []
    for loss in (0.9, 0.4, 0.7):
        with torch.no_grad():
            module.weight.add_(1.0)
        snapshots.append(module.weight.detach().clone())
        trainer.callback_metrics = {"val_loss": torch.tensor(loss)}
        best.on_validation_end(trainer, module)
    best.restore(module)
    assert best.best_score == pytest.approx(0.4)
    assert torch.equal(module.weight, snapshots[1])


def test_the_fit_restores_the_best_validation_parameters() -> None:
    splits = tiny_splits("tabular", "regress")
    model = create_model("mlp", splits.info, seed=0, lr=0.05)
    metrics = model.fit(splits, TrainConfig(max_epochs=8, accelerator="cpu", patience=None))
    with torch.no_grad():
        x = torch.as_tensor(splits.val.x)
        target = (torch.as_tensor(splits.val.y).reshape(-1, 1) - model.target_mean) \
            / model.target_std
        val_loss = torch.nn.functional.mse_loss(model.eval()(x), target)
    assert float(val_loss) == pytest.approx(metrics["best_val_loss"], rel=1e-4)


#: ScriptedValidation's validation loss, epoch by epoch: the lowest at epoch 1, then two worse.
SCRIPTED_VAL_LOSSES = (1.0, 0.5, 0.8, 0.9, 0.3, 0.2)


class ScriptedValidation(ZooModule):
    """A throwaway model whose validation loss at epoch ``e`` is ``SCRIPTED_VAL_LOSSES[e]``
    and whose ``trained_in`` buffer holds the epoch it last trained in."""

    def __init__(self, data_info: DataInfo, optimizer: str = "sgd", lr: float = 0.0,
                 batch_size: int = 64) -> None:
        super().__init__(data_info)
        self.save_hyperparameters(ignore=["data_info"])
        self.layer = torch.nn.Linear(data_info.shape[0], 1)
        self.register_buffer("trained_in", torch.tensor(-1))

    def training_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        self.trained_in.fill_(self.current_epoch)
        loss = self.layer(batch[0]).pow(2).mean()
        self.log_epoch_mean("train_loss", loss.detach())
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self.log_epoch_mean("val_loss", torch.tensor(SCRIPTED_VAL_LOSSES[self.current_epoch]))


def test_early_stopping_and_best_weights_use_each_epochs_own_validation_loss() -> None:
    splits = tiny_splits("tabular", "regress")
    model = ScriptedValidation(splits.info)
    metrics = model.fit(splits, TrainConfig(max_epochs=len(SCRIPTED_VAL_LOSSES),
                                            accelerator="cpu", patience=2))
    # Best at epoch 1, no better at epochs 2 and 3: stopped after epoch 3, epoch 1's kept.
    assert metrics["epochs"] == 4
    assert metrics["best_val_loss"] == pytest.approx(0.5)
    assert int(model.trained_in) == 1


def test_a_non_finite_loss_raises_diverged() -> None:
    splits = tiny_splits("tabular", "regress")
    splits.train.y[:] = np.float32(1e38)
    splits.train.y[0] = np.float32(-1e38)
    model = create_model("mlp", splits.info, seed=0, lr=1e6)
    with pytest.raises(Diverged, match="training loss became"):
        model.fit(splits, TrainConfig(max_epochs=3, accelerator="cpu", patience=None))


def test_a_diverged_suite_cell_is_stored_as_diverged(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.suites import run_suite
    from zoo.suites.supervised import SupervisedSuite

    def explode(self, *args, **kwargs):
        raise Diverged("training loss became nan at step 3, epoch 0")

    monkeypatch.setattr("zoo.models.module.ZooModule.fit", explode)
    with Store(tmp_path / "runs.db") as store:
        rows = run_suite(SupervisedSuite(), store, models=["mlp"],
                         datasets=["wine"], seeds=1, budget="smoke")
    assert [row.status for row in rows] == ["diverged"]
    assert rows[0].metrics == {} and "nan" in rows[0].error


# A detector whose fit says its loss is NaN, without raising Diverged.
FIT_NAN_PLUGIN = """
    import torch
    from zoo import DataInfo, ModelSpec, ZooModel, hookimpl


    class FitNaN(ZooModel):
        def __init__(self, data_info: DataInfo) -> None:
            self.data_info = data_info

        def fit(self, splits, config):
            return {"train_loss": float("nan")}

        def score(self, x):
            return torch.zeros(len(x))

        def hyperparameters(self):
            return {}

        def save_state(self, directory):
            pass

        def load_state(self, directory):
            pass


    @hookimpl
    def zoo_register_models(register):
        register(ModelSpec(name="fit-nan", kind="method", tasks=("detect",),
                           modalities=("tabular",), implementation=f"{__name__}:FitNaN"))
"""


def test_a_fit_returning_a_non_finite_loss_is_diverged_with_no_score_or_checkpoint(
        tmp_path: Path, throwaway_plugin: Any) -> None:
    from zoo.plugins import get_host
    from zoo.runs.single import evaluate_run, train_run
    from zoo.suites import run_suite

    throwaway_plugin("fit_nan", FIT_NAN_PLUGIN)
    with Store(tmp_path / "runs.db") as store:
        cells = run_suite(get_host().suite("embedded-ad").load()(), store, models=["fit-nan"],
                          datasets=["wine-ad"], seeds=1, budget="smoke")
        trained = train_run(store, "fit-nan", "wine-ad", backbone=None, hparams={}, seed=0,
                            accelerator="cpu", devices=1, max_epochs=1)
        assert trained is not None
        for row in (*cells, trained):
            assert (row.status, row.metrics, row.checkpoint) == ("diverged", {}, None)
            assert row.error == "fit returned a non-finite metric train_loss=nan"
        with pytest.raises(ZooError, match="has no checkpoint \\(status diverged\\)"):
            evaluate_run(store, trained.id)
        # a diverged row stored before its checkpoint was withheld still names one
        older = store.record(replace(trained, id="0" * 32, checkpoint=str(tmp_path)))
        with pytest.raises(ZooError, match="has no checkpoint \\(status diverged\\)"):
            evaluate_run(store, older)


def test_the_conformance_kit_refuses_a_fit_returning_a_non_finite_loss(
        tmp_path: Path, throwaway_plugin: Any) -> None:
    from zoo.testing import check_model

    throwaway_plugin("fit_nan", FIT_NAN_PLUGIN)
    with pytest.raises(AssertionError, match="fit returned non-finite metrics"):
        check_model("fit-nan", "tabular", "detect", tmp_path)


def test_max_time_bounds_training() -> None:
    splits = tiny_splits("tabular", "classify", n=4096)
    model = create_model("mlp", splits.info, seed=0, batch_size=8)
    metrics = model.fit(splits, TrainConfig(max_epochs=1000, max_time=1.0, accelerator="cpu",
                                            patience=None))
    assert metrics["epochs"] < 1000


class Scheduled(ZooModule):
    """A throwaway model offering both learning-rate schedules a ZooModule knows."""

    def __init__(self, lr_schedule: str = "constant", lr_milestone: int = 0,
                 optimizer: str = "adam", lr: float = 1e-3) -> None:
        super().__init__(DataInfo("tabular", (2,), "regress"))
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(2, 1)


def test_a_model_takes_one_learning_rate_schedule() -> None:
    assert isinstance(Scheduled().configure_optimizers(), torch.optim.Optimizer)
    assert "lr_scheduler" in Scheduled(lr_milestone=3).configure_optimizers()
    with pytest.raises(ZooError, match="choose one"):
        Scheduled(lr_schedule="cosine", lr_milestone=3).configure_optimizers()
