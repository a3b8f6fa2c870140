"""Options and helpers that the command modules share (``zoo.cli`` and the commands in their
own modules import them from here, so that no module imports the package that imports it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

JSON_HELP = "Print machine-readable JSON (documented in docs/cli.md)."
DB_OPTION = click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                         help="Results database (default: $ZOO_DB or the user data dir).")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _open_store(db: Path | None, *, readonly: bool = False) -> Any:
    from zoo.runs.store import Store

    return Store(db, readonly=readonly)


def tracker_options(command: Any) -> Any:
    """``--tracker``, ``--wandb-project`` and ``--wandb-entity`` (docs/tracking.md)."""
    for option in reversed((
            click.option("--tracker", "trackers", envvar="ZOO_TRACKER", default="csv",
                         show_default=True, metavar="NAME[,NAME]",
                         help="Experiment trackers to log the runs to (default $ZOO_TRACKER "
                              "or csv); 'zoo plugins --json' lists the trackers plugins register."),
            click.option("--wandb-project", help="W&B project (default $WANDB_PROJECT or zoo)."),
            click.option("--wandb-entity", help="W&B entity (default $WANDB_ENTITY)."))):
        command = option(command)
    return command


def _use_trackers(store: Any, trackers: str, wandb_project: str | None,
                  wandb_entity: str | None) -> None:
    from zoo.tracking import use_trackers

    use_trackers(trackers, store_path=store.path, wandb_project=wandb_project,
                 wandb_entity=wandb_entity)


def _report(row: Any, as_json: bool) -> None:
    if as_json:
        _echo_json(row.to_row())
        return
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(row.metrics.items()))
    click.echo(f"run {row.id}  {row.display_model} on {row.dataset}: {row.status}"
               f"{'  ' + metrics if metrics else ''}"
               f"{'  (' + row.error + ')' if row.error else ''}")
    if row.checkpoint:
        click.echo(f"checkpoint: {row.checkpoint}")
        from zoo.evaluation.samples import SAMPLE_FILES

        for name in SAMPLE_FILES if row.kind == "train" else ():
            if (samples := Path(row.checkpoint).parent / name).exists():
                click.echo(f"samples: {samples}")
