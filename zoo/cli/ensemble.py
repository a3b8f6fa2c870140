"""``zoo ensemble``: several trained runs as one model (:mod:`zoo.models.ensemble`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zoo.cli.common import (
    DB_OPTION,
    JSON_HELP,
    _open_store,
    _report,
    _use_trackers,
    tracker_options,
)


@click.command("ensemble")
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of the package (new or empty; default: the run's folder).")
@DB_OPTION
@tracker_options
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def ensemble_command(runs: tuple[str, ...], out: Path | None, db: Path | None, trackers: str,
                     wandb_project: str | None, wandb_entity: str | None,
                     as_json: bool) -> None:
    """Make one model of trained RUN... (ids or checkpoint directories) and store it.

    Members need the same task, data, split (--seed) and preprocessing. They combine by
    task: mean probabilities, mean values, mean rank-normalised scores (on their validation
    scores) or a mixture of generators. 'zoo evaluate RUN' scores the ensemble.
    """
    from zoo.runs.single import ensemble_run

    with _open_store(db) as store:
        _use_trackers(store, trackers, wandb_project, wandb_entity)
        row = ensemble_run(store, list(runs), out)
    if row is None:
        return
    _report(row, as_json)
    if row.status != "ok":
        sys.exit(1)
