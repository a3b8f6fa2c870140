"""One stored run trained on one split and scored on its validation rows: a tuning trial, or
one fold of ``--cv``; and the objective metric a study optimises.

The test split of what is scored here is sealed (:func:`zoo.data.splits.sealed_test`):
scores are validation scores, named ``val_<metric>`` (``val_auroc``, ``val_accuracy``), and
``best_val_loss``, the lowest validation loss of the training.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.models import create_model
from zoo.plugins import get_host
from zoo.runs.lifecycle import DATA_SHAPE_KEY, check_fitted, execute_run, new_row
from zoo.runs.results import Outcome
from zoo.runs.single import protocol_suite
from zoo.training import PRECISIONS, TrainConfig, device_name, precision_record

if TYPE_CHECKING:
    from zoo.data.types import Splits
    from zoo.runs.results import RunResult
    from zoo.runs.single import TrainingData
    from zoo.runs.store import Store

#: The validation loss a training keeps the parameters of (every model that validates).
LOSS_METRIC = "best_val_loss"
VALIDATION_PREFIX = "val_"
#: The default objective of a task whose suite scores several tasks (``supervised``: its
#: first metric, accuracy, is not a regressor's); other tasks take their suite's first.
PRIMARY_METRICS = {"classify": "accuracy", "regress": "r2"}


@dataclass(frozen=True)
class Objective:
    """What a study optimises: a stored metric and whether higher is better."""

    metric: str
    higher_is_better: bool

    @property
    def direction(self) -> str:
        """Optuna's word for it: ``maximize`` or ``minimize``."""
        return "maximize" if self.higher_is_better else "minimize"


def validation_labelled(splits: Splits) -> bool:
    """Whether the validation rows can be scored with the task's metrics: they have the
    labels a classifier, regressor or detector is scored against (a generator's
    validation score is its loss)."""
    val = splits.val
    return (splits.info.task != "generate" and val is not None and len(val) > 0
            and val.y is not None)


def choose_objective(loaded: TrainingData, metric: str | None) -> Objective:
    """The objective of a study on ``loaded``: ``metric`` (``best_val_loss`` or
    ``val_<metric of the protocol's suite>``), by default the suite's primary metric on the
    validation rows where they have labels, else the validation loss.

    Raises:
        ZooError: ``metric`` is not one of those, naming the valid ones; or there is none: the
            model has no validation loss and the validation rows no labels.
    """
    valid: dict[str, bool] = {}  # the default first
    if validation_labelled(loaded.splits):
        suite = get_host().suite(protocol_suite(loaded.dataset, loaded.task,
                                                 loaded.normal_class))
        scored = {VALIDATION_PREFIX + name: higher for name, higher in suite.metrics}
        primary = VALIDATION_PREFIX + PRIMARY_METRICS.get(loaded.task, "")
        valid = {primary: scored[primary]} | scored if primary in scored else scored
    if get_host().model(loaded.model).load().uses_validation:
        valid[LOSS_METRIC] = False
    if not valid:
        raise ZooError(f"nothing to tune {loaded.model} by on {loaded.data!r}: it has no "
                       f"validation loss, and the validation rows have no labels to score "
                       f"it against (the test split is never an objective); tune a model "
                       f"that validates (e.g. autoencoder) or use data with labelled "
                       f"validation rows")
    metric = metric or next(iter(valid))
    if metric not in valid:
        raise ZooError(f"--metric {metric!r} is not a validation metric of {loaded.model} on "
                       f"{loaded.data!r} for {loaded.task}; valid: {', '.join(valid)} (the "
                       f"test split is never an objective)")
    return Objective(metric, valid[metric])


def scored_run(store: Store, loaded: TrainingData, splits: Splits, hparams: dict[str, Any], *,
               kind: str, seed: int, accelerator: str, max_epochs: int,
               tags: dict[str, Any], callbacks: tuple[Any, ...] = (),
               precision: str = PRECISIONS[0], root: Path | None = None) -> RunResult:
    """Train ``loaded.model`` with ``hparams`` on ``splits.train``, score it on
    ``splits.val`` and store the run (kind ``kind``, ``tags`` in its ``extra``, its folder
    under ``root``, default beside the store); no checkpoint is kept. ``splits.test`` must
    be sealed: nothing here reads it."""
    prepared, built = prepared_model(loaded, splits, hparams, seed)
    row = scored_row(loaded, built, kind=kind, seed=seed, accelerator=accelerator, tags=tags,
                     precision=precision)
    stored = execute_run(store, row, functools.partial(
        train_and_score, built, prepared, seed=seed, accelerator=accelerator,
        max_epochs=max_epochs, callbacks=callbacks, precision=precision), root=root)
    assert stored is not None  # tuning runs in one process: rank 0
    return stored


def prepared_model(loaded: TrainingData, splits: Splits, hparams: dict[str, Any],
                   seed: int) -> tuple[Splits, Any]:
    """``splits`` preprocessed, and ``loaded.model`` built for them with ``hparams`` (its
    backbone added)."""
    splits, _ = loaded.preprocessed(splits)
    if loaded.backbone is not None:
        hparams = {"backbone": loaded.backbone, **hparams}
    return splits, create_model(loaded.model, splits.info, seed=seed, **hparams)


def scored_row(loaded: TrainingData, built: Any, *, kind: str, seed: int, accelerator: str,
               tags: dict[str, Any], precision: str = PRECISIONS[0]) -> RunResult:
    """The ``running`` row of a scored run of ``built``."""
    return new_row(kind, model=loaded.model, dataset=loaded.data,
                   device=device_name(accelerator),
                   backbone=built.hyperparameters().get("backbone"), seed=seed,
                   hparams=built.hyperparameters(),
                   extra={**tags, **precision_record(precision)})


def train_and_score(built: Any, splits: Splits, run_dir: Path, *, seed: int, accelerator: str,
                    max_epochs: int, callbacks: tuple[Any, ...] = (),
                    precision: str = PRECISIONS[0]) -> Outcome:
    """The work of a scored run: ``built`` trained on ``splits`` (preprocessed), its
    training metrics and validation scores.

    A model that selects nothing on validation rows (``uses_validation`` false) trains on the
    training rows alone here, so that its validation scores are not training scores.
    """
    config = TrainConfig(seed=seed, accelerator=accelerator, max_epochs=max_epochs,
                         run_dir=run_dir, callbacks=callbacks, precision=precision)
    fitted = splits if built.uses_validation else replace(splits, val=None)
    metrics = built.fit(fitted, config)
    check_fitted(metrics)
    metrics |= validation_scores(built, splits, seed)
    return Outcome(metrics, extra={DATA_SHAPE_KEY: splits.shape()})


def validation_scores(model: Any, splits: Splits, seed: int) -> dict[str, float]:
    """The task's metrics of ``model`` on the validation rows, as ``val_<metric>``; none
    where the rows have no labels to score against."""
    from zoo.evaluation import evaluate_model

    if not validation_labelled(splits):
        return {}
    assert splits.val is not None
    scores = evaluate_model(model, splits.info, splits.val, seed=seed)
    return {VALIDATION_PREFIX + name: value for name, value in scores.items()}
