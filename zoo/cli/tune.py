"""``zoo tune``: Bayesian hyperparameter search on Optuna, every trial a stored run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli.common import (
    ACCELERATOR_HELP,
    DB_OPTION,
    JSON_HELP,
    NORMAL_CLASS_OPTION,
    _check_names,
    _echo_json,
    _interruptible,
    _open_store,
    _table,
    _use_trackers,
    tracker_options,
)
from zoo.cli.executor_options import executor_options, opened_executor
from zoo.errors import ZooError
from zoo.training import ACCELERATORS
from zoo.tuning import PRUNERS, SAMPLERS


@click.command("tune")
@click.argument("model", required=False)
@click.option("--data", help="Registered dataset name, or a .npz / .csv file.")
@NORMAL_CLASS_OPTION
@click.option("--backbone", help="Backbone for a method (e.g. cnn for vae).")
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True,
              help="Finished (complete or pruned) trials the study should hold, counted over "
                   "every process and earlier runs of it.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="tpe", show_default=True,
              help="tpe (Bayesian, default), gp (Gaussian process), random or grid (both ends "
                   "and the middle of each range).")
@click.option("--pruner", type=click.Choice(PRUNERS), default="median", show_default=True,
              help="Stop trials whose validation loss curve is worse than the median of the "
                   "others' (median), by successive halving, or never (none).")
@click.option("--space", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="YAML file changing the search space (docs/tuning.md); default: the "
                   "search ranges the model declares ('zoo models MODEL').")
@click.option("--metric", help="Validation metric to optimise: best_val_loss, or val_<metric> "
                               "where the validation rows have labels (default: the "
                               "protocol's first metric on them, else best_val_loss).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Stop starting trials after this many seconds.")
@click.option("--study", "study_name",
              help="Study name (default: MODEL[-BACKBONE]-DATA[-class-K]).")
@click.option("--storage", help="Optuna storage: a journal file path or an RDB URL "
                                "(default: tune/STUDY.journal beside the runs database).")
@click.option("--cv", type=click.IntRange(min=2),
              help="Score each trial by K-fold cross-validation on the non-test rows "
                   "(the folds' mean).")
@click.option("--max-epochs", type=click.IntRange(min=1), default=20, show_default=True,
              help="Epochs per trial (and for the retrain with the best parameters).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the split, the training and the sampler.")
@click.option("--accelerator", type=click.Choice(ACCELERATORS), default="auto",
              help=ACCELERATOR_HELP)
@click.option("--show", "show", metavar="STUDY",
              help="Print STUDY's trials and parameter importances, and stop.")
@executor_options
@DB_OPTION
@tracker_options
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def tune_command(model: str | None, data: str | None, normal_class: int | None,
                 backbone: str | None, trials: int,
                 sampler: str, pruner: str, space: Path | None, metric: str | None,
                 timeout: float | None, study_name: str | None,
                 storage: str | None, cv: int | None, max_epochs: int, seed: int,
                 accelerator: str, show: str | None, executor: str | None, jobs: int | None,
                 ray_address: str | None, cpus_per_cell: float | None,
                 gpus_per_cell: float | None, runs_dir: Path | None, db: Path | None,
                 trackers: str, wandb_project: str | None, wandb_entity: str | None,
                 as_json: bool) -> None:
    """Search MODEL's hyperparameters on --data by their validation score, every trial a
    stored run; then retrain the best and evaluate it once on the test split."""
    if show:
        _show(show, storage, db, as_json)
        return
    if not model or not data:
        raise ZooError("tune needs a MODEL and --data (or --show STUDY)")
    _check_names(model, data, {"backbone": backbone} if backbone else {})
    from zoo.tuning.study import TuneRequest, conclude, search

    request = TuneRequest(model=model, data=data, normal_class=normal_class,
                          backbone=backbone, trials=trials,
                          sampler=sampler, pruner=pruner, space=space, metric=metric,
                          timeout=timeout, study=study_name, storage=storage, cv=cv,
                          max_epochs=max_epochs, seed=seed, accelerator=accelerator,
                          runs_dir=runs_dir)
    with _open_store(db) as store, _interruptible():
        _use_trackers(store, trackers, wandb_project, wandb_entity)
        with opened_executor(executor, jobs=jobs, ray_address=ray_address,
                             cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell,
                             devices=1) as workers:
            search(store, request, on_trial=None if as_json else _trial_line,
                   executor=workers)
        result = conclude(store, request)
    if as_json:
        _echo_json(result.to_dict())
        return
    _print_result(result)


def _trial_line(trial: Any) -> None:
    complete = trial.state.name == "COMPLETE"  # a pruned trial's value is its last report
    value = f"value={trial.value:.4g}  " if complete else ""
    params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    click.echo(f"[trial {trial.number:>3} {trial.state.name.lower():>8}] {value}{params}",
               err=True)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _print_result(result: Any) -> None:
    from zoo.plugins.specs import format_value

    counts = ", ".join(f"{n} {state}" for state, n in result.trials.items())
    click.echo(f"study {result.study} ({counts}) in {result.storage}")
    click.echo(f"best trial {result.best_trial}: {result.objective.metric}="
               f"{result.best_value:.4g} (validation)")
    for name, value in sorted(result.best_params.items()):
        click.echo(f"  {name} = {format_value(value)}")
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.test_metrics.items()))
    click.echo(f"retrained: run {result.train_run}; test (once): run {result.evaluate_run}  "
               f"{metrics}")


def _show(name: str, storage: str | None, db: Path | None, as_json: bool) -> None:
    from zoo.tuning.study import storage_location, study_history

    with _open_store(db, readonly=True) as store:
        history = study_history(storage_location(store, name, storage), name)
    if as_json:
        _echo_json(history)
        return
    settings = " ".join(f"{k}={v}" for k, v in history["settings"].items() if v is not None)
    click.echo(f"study {name} ({history['direction']} {history['settings']['metric']}) "
               f"{settings}")
    rows = [[str(t["number"]), t["state"], "" if t["value"] is None else f"{t['value']:.4g}",
             "" if t["seconds"] is None else f"{t['seconds']:.1f}",
             " ".join(f"{k}={_short(v)}" for k, v in t["params"].items())]
            for t in history["trials"]]
    click.echo(_table(rows, ["trial", "state", "value", "seconds", "params"]))
    if history["importances"]:
        click.echo("importances: " + ", ".join(f"{k}={v:.2f}"
                                                for k, v in history["importances"].items()))
    if history["final"]:
        final = history["final"]
        click.echo(f"best trial {final['best_trial']} retrained: run {final['train_run']}, "
                   f"evaluated on test: run {final['evaluate_run']}")
