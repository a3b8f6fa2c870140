"""Steps shared by the suites' ``run_cell``: budgets applied to splits, models trained."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.models import create_model
from zoo.runs.lifecycle import DATA_SHAPE_KEY, TEST_OUTPUTS_KEY, test_outputs_path
from zoo.runs.results import Outcome
from zoo.training import TrainConfig

if TYPE_CHECKING:
    from pathlib import Path

    from zoo.data.types import Arrays, Splits
    from zoo.suites.base import Budget, Cell, Suite


def subsample(arrays: Arrays, limit: int | None, seed: int) -> tuple[Arrays, bool]:
    """At most ``limit`` rows drawn without replacement; whether anything was dropped."""
    if limit is None or len(arrays) <= limit:
        return arrays, False
    index = np.sort(np.random.default_rng(seed).choice(len(arrays), limit, replace=False))
    return arrays.subset(index), True


def apply_budget(splits: Splits, budget: Budget, seed: int) -> tuple[Splits, dict[str, Any]]:
    """Subsample training (and, for smoke budgets, test) rows; notes for the result row."""
    from zoo.data.types import Splits

    notes: dict[str, Any] = {}
    train, cut = subsample(splits.train, budget.max_train_rows, seed)
    if cut:
        notes["note"] = (f"train subsampled to {len(train)} of {len(splits.train)} rows "
                         "by the budget")
    test, cut_test = subsample(splits.test, budget.max_test_rows, seed)
    if cut_test:
        notes["test_rows"] = len(test)
    return Splits(train, splits.val, test, splits.info), notes


def train_and_evaluate(suite: Suite, cell: Cell, splits: Splits,
                       run_dir: Path | None) -> Outcome:
    """The common tail of ``run_cell``: budget, training, test metrics, the data's shape
    under the budget (``extra["data_shape"]``); a detector's test
    scores or a classifier's predictions are kept in ``run_dir`` when given
    (:func:`~zoo.runs.lifecycle.test_outputs_path`, named by ``extra["test_outputs"]``)."""
    from zoo.evaluation import evaluate_model

    budget = suite.budgets[cell.budget]
    splits, notes = apply_budget(splits, budget, cell.seed)
    notes[DATA_SHAPE_KEY] = splits.shape()
    model, hparams = train_model(suite, cell, splits, budget, run_dir)
    outputs_path = test_outputs_path(run_dir, splits.info.task)
    metrics = evaluate_model(model, splits.info, splits.test, outputs_path=outputs_path)
    if outputs_path is not None:
        notes[TEST_OUTPUTS_KEY] = str(outputs_path)
    return Outcome(metrics, hparams, notes)


def train_model(suite: Suite, cell: Cell, splits: Splits, budget: Budget,
                run_dir: Path | None,
                hparams: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """Build the cell's model for the splits' data and train it under the budget.

    Args:
        suite: The running suite (its accelerator, devices and nodes).
        cell: The cell: model, backbone and seed.
        splits: The data; ``splits.val`` goes into training for models that select nothing.
        budget: Epochs, time and patience.
        run_dir: Where training logs go (``None``: nowhere kept).
        hparams: Overrides of the spec's defaults, such as a suite's recipe for the budget
            (``None``: the defaults).

    Returns:
        The trained model and the hyperparameters that rebuild it.
    """
    overrides = dict(hparams or {})
    if cell.backbone is not None:
        overrides["backbone"] = cell.backbone
    model = create_model(cell.model, splits.info, seed=cell.seed, **overrides)
    splits = model.training_splits(splits)
    config = TrainConfig(seed=cell.seed, accelerator=suite.accelerator, devices=suite.devices,
                         num_nodes=suite.num_nodes,
                         max_epochs=budget.max_epochs, max_time=budget.max_time,
                         patience=budget.patience, run_dir=run_dir)
    model.fit(splits, config)
    return model, model.hyperparameters()
