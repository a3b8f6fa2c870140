"""Steps shared by the suites' ``run_cell``: budgets applied to splits, models trained."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.models import create_model, split_ensemble_name
from zoo.models.ensemble import Ensemble, build_ensemble, member_seed
from zoo.runs.lifecycle import DATA_SHAPE_KEY, TEST_OUTPUTS_KEY, check_fitted, test_outputs_path
from zoo.runs.results import Outcome
from zoo.training import TrainConfig

#: The ``extra`` key of an ensemble cell's members' own test metrics, member by member.
MEMBER_METRICS_KEY = "member_metrics"

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
    if isinstance(model, Ensemble):  # so that a board can set it beside its mean member
        notes[MEMBER_METRICS_KEY] = [evaluate_model(member, splits.info, splits.test)
                                     for member in model.members]
    return Outcome(metrics, hparams, notes)


def train_model(suite: Suite, cell: Cell, splits: Splits, budget: Budget,
                run_dir: Path | None) -> tuple[Any, dict[str, Any]]:
    """Build the cell's model for the splits' data (with the suite's
    :meth:`~zoo.suites.base.Suite.cell_overrides`, such as a recipe for the budget, so that
    it is the model the cell's key names) and train it under the budget.

    Args:
        suite: The running suite (its accelerator, devices and nodes).
        cell: The cell: model, backbone and seed.
        splits: The data; ``splits.val`` goes into training for models that select nothing.
        budget: Epochs, time and patience.
        run_dir: Where training logs go (``None``: nowhere kept).

    Returns:
        The trained model and the hyperparameters that rebuild it. For an ensemble cell
        (``autoencoder@5``), an :class:`~zoo.models.ensemble.Ensemble` of that many members,
        trained on the same splits from the seeds of
        :func:`~zoo.models.ensemble.member_seed` (each member's logs in
        ``run_dir/member<i>``), and the members' hyperparameters with the ensemble's.
    """
    name, size = split_ensemble_name(cell.model)
    overrides = suite.cell_overrides(cell)
    if size == 1:
        return _trained(suite, name, cell.seed, splits, budget, run_dir, overrides)
    seeds = [member_seed(cell.seed, index) for index in range(size)]
    members = [_trained(suite, name, seed, splits, budget,
                        None if run_dir is None else run_dir / f"member{index}", overrides)[0]
               for index, seed in enumerate(seeds)]
    validation = splits.val if splits.val is not None and len(splits.val) else splits.train
    model = build_ensemble(members, [{"seed": seed} for seed in seeds], validation)
    return model, {**members[0].hyperparameters(), **model.hyperparameters()}


def _trained(suite: Suite, name: str, seed: int, splits: Splits, budget: Budget,
             run_dir: Path | None, overrides: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    model = create_model(name, splits.info, seed=seed, **overrides)
    splits = model.training_splits(splits)
    config = TrainConfig(seed=seed, accelerator=suite.accelerator, devices=suite.devices,
                         num_nodes=suite.num_nodes,
                         max_epochs=budget.max_epochs, max_time=budget.max_time,
                         patience=budget.patience, run_dir=run_dir)
    check_fitted(model.fit(splits, config))
    return model, model.hyperparameters()
