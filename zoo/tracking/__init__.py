"""Experiment tracking: the trackers a command uses, and the built-in W&B tracker.

A tracker is a plugin that registers a :class:`zoo.plugins.specs.TrackerSpec` and implements
the run hooks (``zoo_run_started``, ``zoo_run_finished``, ``zoo_suite_finished``) and the
trainer hooks; the plugin host calls those only while the tracker is selected
(``--tracker NAME[,NAME]``, ``ZOO_TRACKER``, default ``csv``). The W&B tracker
(:mod:`zoo.tracking.wandb_tracker`) is one of the core's default plugins, registered exactly
as a third-party tracker would be; it imports wandb only when it is selected and a run starts.

Owns: choosing the trackers (:func:`use_trackers`), the run config and leaderboard rows a
tracker logs, the W&B tracker. May import: zoo.errors, zoo.plugins, zoo.runs, zoo.data,
zoo.training, zoo.models, zoo.evaluation (a test checks it; imports run downward only).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.plugins import get_host

if TYPE_CHECKING:
    from zoo.runs.results import RunResult


def use_trackers(names: str, *, store_path: str | Path, wandb_project: str | None = None,
                 wandb_entity: str | None = None) -> tuple[str, ...]:
    """Select the trackers ``names`` (``"csv,wandb"``) for this process; returns them.

    W&B settings travel in W&B's own environment variables, so that the processes of a
    distributed run and wandb itself see them: ``--wandb-project`` / ``--wandb-entity``
    override ``WANDB_PROJECT`` / ``WANDB_ENTITY``, and ``WANDB_DIR`` defaults to the
    store's folder, so that W&B writes its runs in a ``wandb`` folder beside the store.

    Raises:
        UnknownNameError: A tracker no plugin registers (one line, with the valid ones).
    """
    selected = get_host().select_trackers(n.strip() for n in names.split(",") if n.strip())
    for variable, value in (("WANDB_PROJECT", wandb_project), ("WANDB_ENTITY", wandb_entity)):
        if value:
            os.environ[variable] = value
    os.environ.setdefault("WANDB_DIR", str(Path(store_path).resolve().parent))
    return selected


def run_config(run: RunResult) -> dict[str, Any]:
    """What a tracker records as a run's configuration: what ran, on what, where; the data
    by the fingerprint a suite cell's key uses."""
    from zoo.data.loading import dataset_fingerprint

    return {"kind": run.kind, "model": run.model, "backbone": run.backbone,
            "display_model": run.display_model, "plugin": run.plugin,
            "plugin_version": run.plugin_version, "dataset": run.dataset,
            "data_sha256": run.data_sha256 or dataset_fingerprint(run.dataset), "seed": run.seed,
            "suite": run.suite, "suite_version": run.suite_version, "setting": run.setting,
            "budget": run.budget, "hparams": dict(run.hparams), "device": run.device,
            "versions": dict(run.versions), "git_commit": run.git_commit, "zoo_run_id": run.id}


#: The columns of :func:`leaderboard_rows`, in order.
LEADERBOARD_COLUMNS = ("section", "column", "budget", "model", "reported", "floor", "source",
                       "metric", "mean", "std", "seeds", "rank")


def leaderboard_rows(board: dict[str, Any]) -> list[list[Any]]:
    """A leaderboard as ``zoo leaderboard --format json`` prints it, one flat row per
    section, entry, column and metric (:data:`LEADERBOARD_COLUMNS`), then one per entry
    and metric with its average rank (column ``"mean"``). ``section`` is the setting and
    ``column`` the dataset (the other way round on a board with setting columns, image-ad's).
    Published reference rows have ``reported`` true."""
    rows = []
    for section in board["sections"]:
        fixed = section.get("setting", section.get("dataset"))
        for entry in section["entries"]:
            common = [entry["model"], entry["reported"], entry["floor"], entry["source"]]
            for column, cell in entry["cells"].items():
                for metric, stat in cell["metrics"].items():
                    rows.append([fixed, column, section["budget"], *common, metric,
                                 stat["mean"], stat["std"], stat["seeds"], None])
            for metric, summary in entry["summary"].items():
                rows.append([fixed, "mean", section["budget"], *common, metric,
                             summary["mean"], None, None, summary["rank"]])
    return rows
