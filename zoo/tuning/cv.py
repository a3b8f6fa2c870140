"""``--cv K``: k-fold cross-validation as K stored runs, one per fold, and their mean and spread.

The folds are cut from the non-test rows of the protocol's split
(:func:`zoo.data.splits.cross_validation_folds`: stratified for labelled classification and
detection, time-ordered and expanding for series and text); each fold trains on its
training rows and is scored on its validation rows; the test split stays sealed.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from zoo.data.splits import cross_validation_folds
from zoo.runs.results import new_run_id
from zoo.training import PRECISIONS
from zoo.tuning.scoring import scored_run

if TYPE_CHECKING:
    from pathlib import Path

    from zoo.runs.results import RunResult
    from zoo.runs.single import TrainingData
    from zoo.runs.store import Store

#: The ``extra`` key of a fold's row: ``{"id": the folds' shared id, "fold": i, "folds": k}``.
CV_KEY = "cv"


def cross_validate(store: Store, loaded: TrainingData, hparams: dict[str, Any], *, k: int,
                   seed: int, accelerator: str, max_epochs: int, kind: str = "train",
                   tags: dict[str, Any] | None = None,
                   first_fold_callbacks: tuple[Any, ...] = (),
                   precision: str = PRECISIONS[0], root: Path | None = None) -> list[RunResult]:
    """Train and score ``loaded.model`` on each of ``k`` folds; one stored run per fold.

    Stops after a fold that does not end ``ok`` (a pruned or failed fold decides the
    trial). ``first_fold_callbacks`` go to the first fold's training only: a tuner prunes
    on its epoch curve, which every trial has.
    """
    folds = cross_validation_folds(loaded.splits, k, seed)
    shared = new_run_id()
    rows: list[RunResult] = []
    for i, fold in enumerate(folds):
        fold_tags = {**(tags or {}), CV_KEY: {"id": shared, "fold": i, "folds": k}}
        row = scored_run(store, loaded, fold, hparams, kind=kind, seed=seed,
                         accelerator=accelerator, max_epochs=max_epochs, tags=fold_tags,
                         callbacks=first_fold_callbacks if i == 0 else (),
                         precision=precision, root=root)
        rows.append(row)
        if row.status != "ok":
            break
    return rows


def fold_summary(rows: list[RunResult]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation (0 for one fold) of each metric every fold has."""
    names = set.intersection(*(set(row.metrics) for row in rows)) if rows else set()
    summary = {}
    for name in sorted(names):
        values = [row.metrics[name] for row in rows]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        summary[name] = (statistics.fmean(values), spread)
    return summary
