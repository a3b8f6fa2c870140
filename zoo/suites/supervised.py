"""The ``supervised`` suite: classification and regression with a held-out test split.

Protocol: a seeded, stratified 70/15/15 train/validation/test split (the source's own test
split where it has one, validation then taken from its training part); tabular features
standardised with training statistics; the parameters with the lowest validation loss are
kept; the test split is scored once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional import accuracy, mean_squared_error, r2_score

from zoo.data.splits import make_splits, standardize
from zoo.suites.base import Budget, Cell, CellOutcome, Suite
from zoo.suites.common import apply_budget, train_model


class SupervisedSuite(Suite):
    name = "supervised"
    version = "1"
    task_of_model = ("classify", "regress")
    metrics = (("accuracy", True), ("cross_entropy", False), ("r2", True), ("mse", False))
    default_datasets = ("digits", "breast-cancer", "wine", "diabetes", "mnist", "fashion-mnist")
    default_seeds = 3
    budgets = {
        "smoke": Budget(max_epochs=2, max_train_rows=512, max_test_rows=512),
        "quick": Budget(max_epochs=40, max_time=120, patience=5, max_train_rows=20_000),
        "full": Budget(max_epochs=200, patience=15),
    }

    def run_cell(self, cell: Cell) -> CellOutcome:
        dataset = self.load(cell.dataset)
        task = "classify" if "classify" in self.dataset_spec(cell.dataset).tasks else "regress"
        splits = make_splits(dataset, seed=cell.seed, task=task)
        if splits.info.modality == "tabular":
            splits = standardize(splits)
        budget = self.budgets[cell.budget]
        splits, notes = apply_budget(splits, budget, cell.seed)
        model, hparams = train_model(self, cell, splits, splits.info, budget)
        outputs = model.predict(splits.test.x)
        target = torch.as_tensor(splits.test.y)
        metrics = (classification_metrics(outputs, target, splits.info.n_classes or 2)
                   if task == "classify" else regression_metrics(outputs, target))
        return CellOutcome(metrics, hparams, notes)


def classification_metrics(logits: torch.Tensor, target: torch.Tensor,
                           n_classes: int) -> dict[str, float]:
    logits = logits.float()
    return {
        "accuracy": float(accuracy(logits.argmax(1), target, task="multiclass",
                                   num_classes=n_classes)),
        "cross_entropy": float(F.cross_entropy(logits, target)),
    }


def regression_metrics(predicted: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    predicted, target = predicted.float().reshape(target.shape), target.float()
    return {"mse": float(mean_squared_error(predicted, target)),
            "r2": float(r2_score(predicted, target))}
