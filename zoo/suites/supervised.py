"""The ``supervised`` suite: classification and regression with a held-out test split.

Protocol: a seeded, stratified 70/15/15 train/validation/test split (the source's own test
split where it has one, validation then taken from its training part); tabular features
standardised with training statistics; the parameters with the lowest validation loss are
kept; the test split is scored once.
"""

from __future__ import annotations

from pathlib import Path

from zoo.data.splits import make_splits, standardize
from zoo.data.types import Dataset, Splits
from zoo.runs.results import Outcome
from zoo.suites.base import Budget, Cell, Suite
from zoo.suites.common import train_and_evaluate


class SupervisedSuite(Suite):
    name = "supervised"
    default_datasets = ("digits", "breast-cancer", "wine", "diabetes", "mnist", "fashion-mnist")
    default_seeds = 3
    budgets = {
        "smoke": Budget(max_epochs=2, max_train_rows=512, max_test_rows=512),
        "quick": Budget(max_epochs=40, max_time=120, patience=5, max_train_rows=20_000),
        "full": Budget(max_epochs=200, patience=15),
    }

    @classmethod
    def splits_for(cls, dataset: Dataset, task: str, seed: int) -> Splits:
        """The seeded, stratified train / validation / test split of the protocol."""
        return make_splits(dataset, seed=seed, task=task)

    def run_cell(self, cell: Cell, run_dir: Path | None = None) -> Outcome:
        dataset = self.load(cell.dataset)
        task = "classify" if "classify" in self.dataset_spec(cell.dataset).tasks else "regress"
        splits = make_splits(dataset, seed=cell.seed, task=task)
        if splits.info.modality == "tabular":
            splits = standardize(splits)
        return train_and_evaluate(self, cell, splits, run_dir)

