"""The built-in W&B tracker ``wandb``: every run, suite cell and leaderboard in Weights & Biases.

An ordinary tracker plugin (see ``docs/tracking.md``): one W&B run per zoo run, opened in
``zoo_run_started`` and finished in ``zoo_run_finished`` (both rank 0 only, so a
distributed run makes one W&B run), per-epoch curves from a trainer logger, and a
``leaderboard`` run after a suite. wandb is imported only when a run starts.

The hooks only queue the W&B calls: one writer thread makes them in order (:class:`_Run`,
:func:`_submit`), so that wandb's work and its waits on its service process overlap the
next cells' training instead of adding to it. The writer's queue is drained as the
interpreter exits (after Ctrl-C and SIGTERM too); :func:`flush` waits for it in-process.

Offline first: without credentials (``WANDB_API_KEY`` or a netrc entry) the runs are written
offline under ``WANDB_DIR`` and the command ends with the one ``wandb sync`` line that
uploads them; online, a W&B that cannot be reached in :data:`INIT_TIMEOUT` seconds gives
one warning and the command's runs go offline. A W&B error is a warning and never fails a run.
"""

from __future__ import annotations

import atexit
import html
import netrc
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.plugins import hookimpl
from zoo.plugins.specs import TrackerSpec
from zoo.runs.lifecycle import DATA_SHAPE_KEY, TEST_OUTPUTS_KEY
from zoo.tracking import LEADERBOARD_COLUMNS, leaderboard_rows, run_config

if TYPE_CHECKING:
    from zoo.runs.results import RunResult
    from zoo.training import TrainConfig

#: Seconds wandb may take to reach its server before the runs go offline
#: (``WANDB_INIT_TIMEOUT`` overrides it).
INIT_TIMEOUT = 10
DEFAULT_PROJECT = "zoo"
#: What zoo's run config already records (versions, device, git commit) or a run does not
#: need (system stats and probing, console capture, code): each costs wandb time in every
#: run of a suite.
LEAN_SETTINGS = {"silent": True, "console": "off", "x_disable_stats": True,
                 "x_disable_meta": True, "x_disable_machine_info": True,
                 "x_save_requirements": False, "disable_git": True, "save_code": False,
                 "disable_job_creation": True}
#: The most points a logged ROC or PR curve keeps: W&B draws each from a table, whose
#: building, type checks and artifact cost time in proportion to its rows in every cell.
CURVE_POINTS = 100
_JOB_TYPES = {"train": "train", "evaluate": "eval", "bench": "train", "tune": "tune"}
_state: dict[str, Any] = {"run": None, "writer": None, "offline": False, "sync_line_due": False}


@hookimpl
def zoo_register_trackers(register: Callable[[TrackerSpec], None]) -> None:
    register(TrackerSpec("wandb", summary="Weights & Biases: runs, curves, media, artifacts "
                                          "(offline without credentials)"))


@hookimpl
def zoo_run_started(run: RunResult) -> None:
    """Open the W&B run of a zoo run (on the writer thread): grouped per suite cell over
    seeds, tagged, configured."""
    handle = _Run()
    _state["run"] = handle
    _submit(handle.open, group=_group(run), job_type=_JOB_TYPES[run.kind], name=_name(run),
            tags=_tags(run), config=run_config(run))


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
    model package; finish the run (on the writer thread)."""
    handle, _state["run"] = _state["run"], None
    if handle is not None:
        handle.end_epoch()
        _submit(handle.finish, result)


@hookimpl
def zoo_suite_finished(suite: str, leaderboard: dict[str, Any],
                       figures: dict[str, Path]) -> None:
    """One ``leaderboard`` run logging the suite's leaderboard once, as a table, and the
    report's figures of it (critical-difference diagram, heat map, bars) as images."""
    _submit(_log_leaderboard, suite, leaderboard, dict(figures))


def active_run() -> _Run | None:
    """The W&B run of the zoo run in progress in this process, or None: what the training's
    logger logs its curves to (:meth:`_Run.log`)."""
    return _state["run"]


def flush() -> None:
    """Wait until the writer thread has made every W&B call asked of it so far.

    A command need not call it: the writer is joined, its queue drained, when the
    interpreter exits (Ctrl-C and ``SystemExit`` included), before wandb's own exit hooks.
    """
    if _state["writer"] is not None:
        _state["writer"].submit(lambda: None).result()


class _Run:
    """One zoo run's W&B run, as the hooks and the training see it.

    The W&B calls (init, log, finish) run in order on the writer thread (:func:`_submit`),
    so that they overlap the training and the next suite cells instead of waiting on wandb's
    service. The curves a training logs are merged per epoch (one W&B history row per
    epoch, not one per Lightning call).
    """

    def __init__(self) -> None:
        self.wandb_run: Any = None  # set on the writer thread; None if the init failed
        self._epoch: dict[str, float] = {}
        self._has_curves = False

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
            _submit(self._send, self._epoch)
            self._epoch = {}

    def open(self, **fields: Any) -> None:
        self.wandb_run = _init(**fields)

    def _send(self, metrics: dict[str, float]) -> None:
        if self.wandb_run is None:
            return
        if not self._has_curves:  # only runs with curves need the epoch axis defined
            self.wandb_run.define_metric("epoch")
            self.wandb_run.define_metric("*", step_metric="epoch")
            self._has_curves = True
        self.wandb_run.log(metrics)

    def finish(self, result: RunResult) -> None:
        run = self.wandb_run
        if run is None:  # the start failed, and was reported then
            return
        try:
            run.summary.update({**result.metrics, "status": result.status,
                                "seconds": result.seconds, "error": result.error})
            if DATA_SHAPE_KEY in result.extra:  # known once the work has loaded the data
                run.config.update({"data_shape": result.extra[DATA_SHAPE_KEY]},
                                  allow_val_change=True)
            _log_media(run, result)
            _log_test_outputs(run, result)
            _log_model(run, result)
        finally:
            run.finish(exit_code=0 if result.status == "ok" else 1)


def _submit(call: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Make a W&B call on the writer thread, after those asked before it."""
    if _state["writer"] is None:
        from concurrent.futures import ThreadPoolExecutor

        # A pool's threads are joined, their queues drained, as the interpreter exits.
        _state["writer"] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-wandb")
    _state["writer"].submit(_warn_on_error, call, *args, **kwargs)


def _warn_on_error(call: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """A W&B error is a warning: the row is stored whatever becomes of its W&B run."""
    try:
        call(*args, **kwargs)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:300]
        print(f"warning: W&B tracker: {type(exc).__name__}: {reason}", file=sys.stderr)


def _log_leaderboard(suite: str, leaderboard: dict[str, Any], figures: dict[str, Path]) -> None:
    import wandb

    config = {"suite": suite, "suite_version": leaderboard["suite_version"],
              "metrics": leaderboard["metrics"]}
    run = _init(group=_chosen_group(f"{suite}/leaderboard"), job_type="leaderboard",
                name=f"{suite}-leaderboard", tags=[suite], config=config)
    try:
        table = wandb.Table(columns=list(LEADERBOARD_COLUMNS), data=leaderboard_rows(leaderboard))
        images = {f"figures/{name}": wandb.Image(str(path), caption=name)
                  for name, path in figures.items()}
        run.log({"leaderboard": table, **images})
    finally:
        run.finish()


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


def _init(**fields: Any) -> Any:
    """``wandb.init`` with zoo's defaults: offline without credentials; offline, with one
    warning for the whole process, once W&B could not be reached."""
    import wandb

    mode = os.environ.get("WANDB_MODE") or ("online" if _has_credentials() else "offline")
    if _state["offline"]:
        mode = "offline"
    try:
        run = _start(wandb, mode, **fields)
    except Exception as exc:
        if mode in ("offline", "disabled"):
            raise
        reason = " ".join(str(exc).split()).split(" Consider ")[0][:200]
        print(f"warning: W&B cannot be reached ({reason}); the runs of this command are "
              "written offline", file=sys.stderr)
        _state["offline"], mode = True, "offline"
        run = _start(wandb, mode, **fields)
    if mode == "offline" and not _state["sync_line_due"]:
        _state["sync_line_due"] = True
        atexit.register(_print_sync_line, Path(os.environ.get("WANDB_DIR") or ".").resolve())
    return run


def _start(wandb: Any, mode: str, **fields: Any) -> Any:
    directory = Path(os.environ.get("WANDB_DIR") or ".")
    directory.mkdir(parents=True, exist_ok=True)
    run = wandb.init(project=os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT,
                     entity=os.environ.get("WANDB_ENTITY") or None, dir=str(directory),
                     mode=mode, reinit="create_new",
                     settings=wandb.Settings(**LEAN_SETTINGS, init_timeout=_init_timeout()),
                     **fields)
    return run


def _init_timeout() -> float:
    """W&B's own ``WANDB_INIT_TIMEOUT`` when set, else :data:`INIT_TIMEOUT`."""
    return float(os.environ.get("WANDB_INIT_TIMEOUT") or INIT_TIMEOUT)


def _has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def _print_sync_line(directory: Path) -> None:
    print("W&B runs written offline; upload them with: "
          f"wandb sync {directory / 'wandb'}/offline-run-*", file=sys.stderr)


def _log_media(run: Any, result: RunResult) -> None:
    """The sample grid and text sample the run made: a suite cell names them in its row's
    ``extra``, ``zoo train`` leaves them beside the model it saved."""
    import wandb

    from zoo.evaluation.samples import SAMPLE_FILES

    places = [Path(p) for key in ("samples", "sample") if (p := result.extra.get(key))]
    if result.kind == "train" and result.checkpoint:
        places += [Path(result.checkpoint).parent / name for name in SAMPLE_FILES]
    for path in dict.fromkeys(places):
        if path.suffix == ".png" and path.is_file():
            run.log({"samples": wandb.Image(str(path))})
        elif path.suffix == ".txt" and path.is_file():
            text = path.read_text(errors="replace")[:2000]
            run.log({"sample_text": wandb.Html(f"<pre>{html.escape(text)}</pre>")})


def _log_test_outputs(run: Any, result: RunResult) -> None:
    """A detector's ROC and PR curves and its normal and anomalous test rows' scores as
    histograms, or a classifier's confusion matrix, from the test outputs the run kept."""
    import numpy as np

    path = Path(result.extra.get(TEST_OUTPUTS_KEY) or "")
    if not path.is_file():
        return
    with np.load(path) as saved:
        outputs = dict(saved)
    if "scores" in outputs:
        _log_detection(run, outputs["labels"], outputs["scores"])
    if "predictions" in outputs:
        _log_confusion_matrix(run, outputs["labels"], outputs["predictions"])


def _log_detection(run: Any, labels: Any, scores: Any) -> None:
    import wandb
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    run.log({"roc_curve": _line(fpr, tpr, "false positive rate", "true positive rate", "ROC"),
             "pr_curve": _line(recall, precision, "recall", "precision", "precision-recall"),
             "test_scores/normal": wandb.Histogram(scores[labels == 0]),
             "test_scores/anomalous": wandb.Histogram(scores[labels == 1])})


def _line(x: Any, y: Any, x_name: str, y_name: str, title: str) -> Any:
    """A W&B line plot of at most :data:`CURVE_POINTS` of the points ``(x, y)``, evenly
    spaced along the curve and keeping both ends."""
    import numpy as np
    import wandb

    keep = np.unique(np.linspace(0, len(x) - 1, min(len(x), CURVE_POINTS)).round().astype(int))
    # Typed columns spare wandb inferring, row by row, a type per cell.
    table = wandb.Table(columns=[x_name, y_name],
                        data=[[float(a), float(b)] for a, b in zip(x[keep], y[keep], strict=True)],
                        dtype=[float, float], optional=False)
    return wandb.plot.line(table, x_name, y_name, title=title)


def _log_confusion_matrix(run: Any, labels: Any, predictions: Any) -> None:
    import wandb

    n_classes = int(max(labels.max(), predictions.max())) + 1
    run.log({"confusion_matrix": wandb.plot.confusion_matrix(
        y_true=labels.tolist(), preds=predictions.tolist(),
        class_names=[str(label) for label in range(n_classes)])})


def _log_model(run: Any, result: RunResult) -> None:
    """The saved model package (card + safetensors) as a model artifact aliased ``best``."""
    import wandb

    package = Path(result.checkpoint or "")
    if result.kind == "evaluate" or not result.checkpoint or not package.is_dir():
        return
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{result.display_model}-{Path(result.dataset).name}")
    artifact = wandb.Artifact(name, type="model", metadata={"zoo_run_id": result.id,
                                                            **result.metrics})
    artifact.add_dir(str(package))
    run.log_artifact(artifact, aliases=["best", "latest"])
