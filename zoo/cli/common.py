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
