"""A one-file tracker plugin: ``jsonl`` appends every run to a JSON-lines file.

Select it with ``zoo --plugins-dir docs/examples train ... --tracker jsonl`` (or
``ZOO_TRACKER=jsonl``). It writes one line when a run starts, one per training epoch and one
when the run is stored, plus one per leaderboard after ``zoo bench``, to
``$ZOO_JSONL_FILE`` (default ``zoo-runs.jsonl`` in the working directory). A tracker for
MLflow or TensorBoard has the same shape: open the service's run in ``zoo_run_started``, log
curves from a trainer callback, close the run in ``zoo_run_finished``.

Lightning is imported inside the hook that trains, never at module top: ``zoo --help`` imports
this file to register the tracker's name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo import TrackerSpec, hookimpl


def _write(event: str, **fields: Any) -> None:
    path = Path(os.environ.get("ZOO_JSONL_FILE", "zoo-runs.jsonl"))
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"event": event, **fields}, default=str) + "\n")


@hookimpl
def zoo_register_trackers(register: Callable[[TrackerSpec], None]) -> None:
    register(TrackerSpec("jsonl", summary="every run as JSON lines in $ZOO_JSONL_FILE"))


@hookimpl
def zoo_run_started(run: Any) -> None:
    _write("started", id=run.id, kind=run.kind, model=run.display_model, dataset=run.dataset,
           seed=run.seed, suite=run.suite, hparams=run.hparams)


@hookimpl
def zoo_trainer_callbacks(config: Any, run_dir: Path) -> list[Any]:
    from lightning.pytorch.callbacks import Callback

    class EpochLines(Callback):
        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if trainer.is_global_zero:  # one line per epoch, not one per process
                _write("epoch", run_dir=str(run_dir), epoch=trainer.current_epoch,
                       metrics={k: float(v) for k, v in trainer.callback_metrics.items()})

    return [EpochLines()]


@hookimpl
def zoo_run_finished(result: Any) -> None:
    _write("finished", id=result.id, status=result.status, metrics=result.metrics,
           error=result.error, checkpoint=result.checkpoint)


@hookimpl
def zoo_suite_finished(suite: str, leaderboard: dict[str, Any]) -> None:
    _write("leaderboard", suite=suite, leaderboard=leaderboard)
