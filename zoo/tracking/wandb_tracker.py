"""The built-in W&B tracker ``wandb``: every run, suite cell and leaderboard in Weights & Biases.

An ordinary tracker plugin (see ``docs/tracking.md``): one W&B run per zoo run, opened in
``zoo_run_started`` and finished in ``zoo_run_finished`` (both rank 0 only, so a
distributed run makes one W&B run), per-epoch curves from a trainer logger, and a
``leaderboard`` run after a suite.

The hooks only send picklable requests (configs, metrics, paths of the files a run wrote)
to one writer process (:mod:`zoo.tracking._wandb_writer`), started on the first tracked run,
which imports wandb and makes the W&B calls in order, so that wandb's work and its waits on
its service can run on another core beside the training instead of between its steps. The
zoo process drains and joins the writer as it exits (after Ctrl-C and SIGTERM too), waiting
at most :data:`WRITER_EXIT_TIMEOUT` seconds; :func:`flush` does the same in-process. A
writer that died is one warning line; the runs' rows are stored as usual.

Offline first: without credentials (``WANDB_API_KEY`` or a netrc entry) the runs are written
offline under ``WANDB_DIR`` and the command ends with the one ``wandb sync`` line that
uploads them; online, a W&B that cannot be reached in ``INIT_TIMEOUT`` seconds gives
one warning and the command's runs go offline. A W&B error is a warning and never fails a run.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pickle
import queue
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.plugins import hookimpl
from zoo.plugins.specs import TrackerSpec
from zoo.runs.lifecycle import DATA_SHAPE_KEY, TEST_OUTPUTS_KEY
from zoo.tracking import LEADERBOARD_COLUMNS, leaderboard_rows, run_config
from zoo.tracking._wandb_writer import DEFAULT_PROJECT, chosen_mode, runs_folder

if TYPE_CHECKING:
    from zoo.runs.results import RunResult
    from zoo.training import TrainConfig

#: The longest the zoo process waits, as it exits, for the writer to finish the W&B runs
#: asked of it; then the writer is stopped, with one warning.
WRITER_EXIT_TIMEOUT = 120.0
#: The row's ``extra`` key of its W&B run's link (:func:`_link`).
LINK_KEY = "wandb"
_JOB_TYPES = {"train": "train", "evaluate": "eval", "bench": "train", "tune": "tune"}
_state: dict[str, Any] = {"run": None, "writer": None}
_run_keys = itertools.count()


@hookimpl
def zoo_register_trackers(register: Callable[[TrackerSpec], None]) -> None:
    register(TrackerSpec("wandb", summary="Weights & Biases: runs, curves, media, artifacts "
                                          "(offline without credentials)"))


@hookimpl
def zoo_run_started(run: RunResult) -> None:
    """Open the W&B run of a zoo run (in the writer), with the zoo run's id: grouped per suite
    cell over seeds, tagged, configured; its link goes in the row (``zoo runs show``)."""
    handle = _Run()
    _state["run"] = handle
    if (link := _link(run.id)) is not None:
        run.extra[LINK_KEY] = link
    _submit("open", handle.key, {"id": run.id, "group": _group(run),
                                 "job_type": _JOB_TYPES[run.kind], "name": _name(run),
                                 "tags": _tags(run), "config": run_config(run)})


@hookimpl
def zoo_trainer_loggers(config: TrainConfig, run_dir: Path) -> list[Any]:
    from zoo.tracking._epoch_curves import EpochCurves

    return [EpochCurves(active_run)]


@hookimpl
def zoo_trainer_callbacks(config: TrainConfig, run_dir: Path) -> list[Any]:
    from zoo.tracking._epoch_curves import EpochLearningRate

    return [EpochLearningRate(active_run)]


@hookimpl
def zoo_run_finished(result: RunResult) -> None:
    """Summary = the stored row's metrics; the data's shape in the config; media and the
    model package; finish the run (in the writer)."""
    handle, _state["run"] = _state["run"], None
    if handle is not None:
        handle.end_epoch()
        _submit("finish", handle.key, _outcome(result))


@hookimpl
def zoo_suite_finished(suite: str, leaderboard: dict[str, Any],
                       figures: dict[str, Path]) -> None:
    """One ``leaderboard`` run logging the suite's leaderboard once, as a table, and the
    report's figures of it (critical-difference diagram, heat map, bars) as images."""
    fields = {"group": _chosen_group(f"{suite}/leaderboard"), "job_type": "leaderboard",
              "name": f"{suite}-leaderboard", "tags": [suite],
              "config": {"suite": suite, "suite_version": leaderboard["suite_version"],
                         "metrics": leaderboard["metrics"]}}
    _submit("leaderboard", fields, list(LEADERBOARD_COLUMNS), leaderboard_rows(leaderboard),
            {name: str(path) for name, path in figures.items()})


def active_run() -> _Run | None:
    """The W&B run of the zoo run in progress in this process, or None: what the training's
    logger logs its curves to (:meth:`_Run.log`)."""
    return _state["run"]


def flush() -> None:
    """Wait until the writer has made every W&B call asked of it so far and wandb has
    written the runs' files out (at most :data:`WRITER_EXIT_TIMEOUT` seconds), then stop it;
    the next tracked run starts a new one.

    A command need not call it: it runs as the interpreter exits (Ctrl-C and
    ``SystemExit`` included). Code that runs zoo's runs in its own process and reads the
    W&B runs back calls it first.
    """
    writer, _state["writer"] = _state["writer"], None
    if writer is not None:
        writer.close()


class _Run:
    """One zoo run's W&B run, as the hooks and the training see it: the key the writer
    knows it by. The curves a training logs are merged per epoch (one W&B history row per
    epoch, not one per Lightning call)."""

    def __init__(self) -> None:
        self.key = next(_run_keys)
        self._epoch: dict[str, float] = {}

    def log(self, metrics: dict[str, float]) -> None:
        """Log ``metrics`` (curves: they carry their ``epoch``) to the run."""
        if self._epoch and self._epoch.get("epoch") != metrics.get("epoch"):
            self.end_epoch()
        self._epoch.update(metrics)
        if "epoch" not in metrics:
            self.end_epoch()

    def end_epoch(self) -> None:
        """Send what was logged for the current epoch."""
        if self._epoch:
            _submit("log", self.key, self._epoch)
            self._epoch = {}


class _Writer:
    """The writer process (:mod:`zoo.tracking._wandb_writer`, a fresh interpreter: wandb is
    imported only there) and the thread feeding it.

    The feeder thread pickles the requests to the writer's stdin, so that a hook never
    waits on a full pipe while wandb is busy; closing the pipe is what stops the writer.
    """

    def __init__(self) -> None:
        import subprocess
        import threading

        # wandb's service (a Go program the writer starts) runs on one scheduler thread
        # unless the user says otherwise: with one per core, its idle threads spin on the
        # cores the training uses (about 1.5 s more CPU per 55 offline runs, measured).
        env = {"GOMAXPROCS": "1", **os.environ}
        self._process = subprocess.Popen([sys.executable, "-m", "zoo.tracking._wandb_writer"],
                                         stdin=subprocess.PIPE, env=env)
        self._pending: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        # A daemon: the interpreter's exit must not wait for it before the atexit hooks run.
        self._feeder = threading.Thread(target=self._feed, name="zoo-wandb-feeder", daemon=True)
        self._feeder.start()
        self._lost = False

    def submit(self, request: tuple[Any, ...]) -> None:
        if not self._lost and self._process.poll() is not None:
            self._warn_lost(f"stopped with exit code {self._process.returncode}")
        if not self._lost:
            self._pending.put(request)

    def close(self) -> None:
        """Stop the writer after the requests before; wait for it, a bounded time."""
        import subprocess

        self._pending.put(None)
        deadline = time.monotonic() + WRITER_EXIT_TIMEOUT
        with contextlib.suppress(KeyboardInterrupt, subprocess.TimeoutExpired):  # a 2nd Ctrl-C
            self._feeder.join(WRITER_EXIT_TIMEOUT)
            self._process.wait(max(deadline - time.monotonic(), 0.0))
        if self._process.poll() is None:
            self._warn_lost(f"did not finish in {WRITER_EXIT_TIMEOUT:g} s and was stopped")
            self._process.kill()
            self._process.wait()
        elif self._process.returncode and not self._lost:
            self._warn_lost(f"stopped with exit code {self._process.returncode}")

    def _feed(self) -> None:
        pipe = self._process.stdin
        assert pipe is not None
        try:
            while (request := self._pending.get()) is not None:
                pipe.write(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
                pipe.flush()
        except OSError:  # the writer is gone: submit() or close() says so
            pass
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _warn_lost(self, why: str) -> None:
        self._lost = True
        print(f"warning: W&B tracker: the W&B writer process {why}; the runs' rows are "
              "stored, their W&B runs may be incomplete", file=sys.stderr)


def _submit(*request: Any) -> None:
    """Send a request to the writer, after those sent before it; start it on the first."""
    if _state["writer"] is None:
        _state["writer"] = _Writer()
        atexit.unregister(flush)  # registered once
        atexit.register(flush)
    _state["writer"].submit(request)


def _link(run_id: str) -> dict[str, str] | None:
    """Where the W&B run of zoo run ``run_id`` is: its path, its local folder, and for an
    offline run the line that uploads it; None when W&B is disabled.

    wandb names the folder by the second the run starts, in the writer, so the folder is
    recorded as a pattern that only this run's folder matches (``zoo runs show`` finds it).
    """
    mode = chosen_mode()
    if mode == "disabled":
        return None
    project = os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT
    kind = "offline-run" if mode == "offline" else "run"
    folder = runs_folder() / f"{kind}-*-{run_id}"
    link = {"path": "/".join(filter(None, (os.environ.get("WANDB_ENTITY"), project, run_id))),
            "dir": str(folder)}
    if mode == "offline":
        link["sync"] = f"wandb sync {folder}"
    return link


def _outcome(result: RunResult) -> dict[str, Any]:
    """What the writer records of a finished run: the stored row's metrics as the summary,
    its resolved hyperparameters, the data's shape, the files of its media, test outputs and
    model package."""
    return {"summary": {**result.metrics, "status": result.status, "seconds": result.seconds,
                        "error": result.error},
            "exit_code": 0 if result.status == "ok" else 1,
            "hparams": dict(result.hparams),
            "data_shape": result.extra.get(DATA_SHAPE_KEY),
            "media": [str(path) for path in _media(result)],
            "test_outputs": result.extra.get(TEST_OUTPUTS_KEY),
            "model": _model(result)}


def _media(result: RunResult) -> list[Path]:
    """The sample grid and text sample the run made: a suite cell names them in its row's
    ``extra``, ``zoo train`` leaves them beside the model it saved."""
    places = [Path(p) for key in ("samples", "sample") if (p := result.extra.get(key))]
    if result.kind == "train" and result.checkpoint:
        from zoo.evaluation.samples import SAMPLE_FILES

        places += [Path(result.checkpoint).parent / name for name in SAMPLE_FILES]
    return list(dict.fromkeys(places))


def _model(result: RunResult) -> dict[str, Any] | None:
    """The saved model package (card + safetensors) to log as a model artifact, if any."""
    package = Path(result.checkpoint or "")
    if result.kind == "evaluate" or not result.checkpoint or not package.is_dir():
        return None
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{result.display_model}-{Path(result.dataset).name}")
    return {"name": name, "package": str(package),
            "metadata": {"zoo_run_id": result.id, **result.metrics}}


def _group(run: RunResult) -> str:
    """``WANDB_RUN_GROUP``, else ``{suite}/{model}/{dataset}`` (``{kind}/...`` outside a
    suite), so that W&B's grouping shows a cell's mean and spread over its seeds."""
    return _chosen_group(f"{run.suite or run.kind}/{run.display_model}/{run.dataset}")


def _chosen_group(default: str) -> str:
    return os.environ.get("WANDB_RUN_GROUP") or default


def _name(run: RunResult) -> str:
    return f"{run.display_model}-{run.dataset}-{run.seed}"


def _tags(run: RunResult) -> list[str]:
    """Kind, suite, setting, budget and family: the plugin that registers the model."""
    tags = [run.kind, run.suite, run.setting, run.budget, run.plugin]
    return [tag for tag in dict.fromkeys(tags) if tag]
