"""The W&B writer process: every wandb call of the W&B tracker, made in order, in a child process.

The tracker's hooks (:mod:`zoo.tracking.wandb_tracker`) send it picklable requests on its
stdin (configs, metric dicts, paths of files the zoo process wrote), never live objects, so
that wandb's Python work (import, run setup, records, tables, artifacts) runs on another core
instead of between the training's steps under the zoo process's GIL. Only this process
imports wandb. It ignores SIGINT, so a Ctrl-C in the terminal cannot cut a run's files short:
the zoo process drains and joins it as it exits.

A request is a tuple ``(verb, *args)``:

- ``("open", key, fields)``: ``wandb.init(**fields)`` with zoo's defaults, as run ``key``;
- ``("log", key, metrics)``: one epoch's curves;
- ``("finish", key, outcome)``: summary, data shape, media, test curves, model; finish;
- ``("leaderboard", fields, columns, rows, figures)``: one run logging a suite's leaderboard.

Its stdin closing stops it: wandb's service writes the runs out, and the ``wandb sync`` line
is printed when a run went offline.
"""

from __future__ import annotations

import html
import netrc
import os
import pickle
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

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


def serve() -> None:
    """Make the W&B calls asked on stdin (pickled requests), in order, until it closes: the
    zoo process closes it to stop the writer, or its end closes as the zoo process dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)  # whatever wandb prints joins zoo's messages, never a command's --json
    writer = _Writer()
    try:
        while (request := _next(sys.stdin.buffer)) is not None:
            verb, *args = request
            _warn_on_error(getattr(writer, verb), *args)
    finally:
        writer.close()
    # The files are written (wandb's service has stopped). Skip the interpreter's teardown of
    # wandb's modules (about 0.4 s, measured), which the zoo process would wait for as it exits.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _next(requests: BinaryIO) -> tuple[Any, ...] | None:
    try:
        return pickle.load(requests)
    except EOFError:
        return None


def _warn_on_error(call: Any, *args: Any) -> None:
    """A W&B error is a warning: the row is stored whatever becomes of its W&B run."""
    try:
        call(*args)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:300]
        print(f"warning: W&B tracker: {type(exc).__name__}: {reason}", file=sys.stderr)


class _Writer:
    """The open W&B runs by key, and whether the runs of this command go offline."""

    def __init__(self) -> None:
        self._runs: dict[int, Any] = {}  # None where the init failed (warned then)
        self._with_curves: set[int] = set()
        self._offline = False  # W&B could not be reached: the rest goes offline
        self._wrote_offline = False

    def open(self, key: int, fields: dict[str, Any]) -> None:
        self._runs[key] = None
        self._runs[key] = self._init(**fields)

    def log(self, key: int, metrics: dict[str, float]) -> None:
        run = self._runs.get(key)
        if run is None:
            return
        if key not in self._with_curves:  # only runs with curves need the epoch axis defined
            run.define_metric("epoch")
            run.define_metric("*", step_metric="epoch")
            self._with_curves.add(key)
        run.log(metrics)

    def finish(self, key: int, outcome: dict[str, Any]) -> None:
        run = self._runs.pop(key, None)
        self._with_curves.discard(key)
        if run is None:  # the start failed, and was reported then
            return
        try:
            run.summary.update(outcome["summary"])
            # Known once the work has built the model and loaded the data.
            known = {"hparams": outcome["hparams"], "data_shape": outcome["data_shape"]}
            run.config.update({key: value for key, value in known.items() if value is not None},
                              allow_val_change=True)
            _log_media(run, [Path(p) for p in outcome["media"]])
            if outcome["test_outputs"]:
                _log_test_outputs(run, Path(outcome["test_outputs"]))
            if outcome["model"]:
                _log_model(run, **outcome["model"])
        finally:
            run.finish(exit_code=outcome["exit_code"])

    def leaderboard(self, fields: dict[str, Any], columns: list[str], rows: list[list[Any]],
                    figures: dict[str, str]) -> None:
        import wandb

        run = self._init(**fields)
        try:
            images = {f"figures/{name}": wandb.Image(path, caption=name)
                      for name, path in figures.items()}
            run.log({"leaderboard": wandb.Table(columns=columns, data=rows), **images})
        finally:
            run.finish()

    def close(self) -> None:
        """Stop wandb's service, which writes the runs' files out; then the sync line."""
        if "wandb" in sys.modules:
            sys.modules["wandb"].teardown()
        if self._wrote_offline:
            print("W&B runs written offline; upload them with: "
                  f"wandb sync {runs_folder()}/offline-run-*", file=sys.stderr)

    def _init(self, **fields: Any) -> Any:
        """``wandb.init`` with zoo's defaults: offline without credentials; offline, with one
        warning for the whole command, once W&B could not be reached."""
        import wandb

        mode = chosen_mode()
        if self._offline:
            mode = "offline"
        try:
            run = _start(wandb, mode, **fields)
        except Exception as exc:
            if mode in ("offline", "disabled"):
                raise
            reason = " ".join(str(exc).split()).split(" Consider ")[0][:200]
            print(f"warning: W&B cannot be reached ({reason}); the runs of this command are "
                  "written offline", file=sys.stderr)
            self._offline, mode = True, "offline"
            # The failed start holds the run's id in wandb's service until the service stops:
            # stop it, or, while another run is open in it, let wandb give this run a new id.
            if any(run is not None for run in self._runs.values()):
                fields.pop("id", None)
            else:
                wandb.teardown()
            run = _start(wandb, mode, **fields)
        self._wrote_offline |= mode == "offline"
        return run


def _start(wandb: Any, mode: str, **fields: Any) -> Any:
    directory = Path(os.environ.get("WANDB_DIR") or ".")
    directory.mkdir(parents=True, exist_ok=True)
    return wandb.init(project=os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT,
                      entity=os.environ.get("WANDB_ENTITY") or None, dir=str(directory),
                      mode=mode, reinit="create_new",
                      settings=wandb.Settings(**LEAN_SETTINGS, init_timeout=_init_timeout()),
                      **fields)


def runs_folder() -> Path:
    """The folder wandb writes its runs' folders in: ``wandb`` in ``WANDB_DIR``."""
    return Path(os.environ.get("WANDB_DIR") or ".").resolve() / "wandb"


def chosen_mode() -> str:
    """W&B's mode for this command's runs: ``WANDB_MODE``, else online with credentials and
    offline without (a W&B that cannot be reached sends the runs offline later)."""
    return os.environ.get("WANDB_MODE") or ("online" if _has_credentials() else "offline")


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


def _log_media(run: Any, places: list[Path]) -> None:
    """The sample grids (``.png``) and text samples (``.txt``) among ``places``."""
    import wandb

    for path in places:
        if path.suffix == ".png" and path.is_file():
            run.log({"samples": wandb.Image(str(path))})
        elif path.suffix == ".txt" and path.is_file():
            text = path.read_text(errors="replace")[:2000]
            run.log({"sample_text": wandb.Html(f"<pre>{html.escape(text)}</pre>")})


def _log_test_outputs(run: Any, path: Path) -> None:
    """A detector's ROC and PR curves and its normal and anomalous test rows' scores as
    histograms, or a classifier's confusion matrix, from the test outputs the run kept."""
    import numpy as np

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


def _log_model(run: Any, name: str, package: str, metadata: dict[str, Any]) -> None:
    """The saved model package (card + safetensors) as a model artifact aliased ``best``."""
    import wandb

    artifact = wandb.Artifact(name, type="model", metadata=metadata)
    artifact.add_dir(package)
    run.log_artifact(artifact, aliases=["best", "latest"])


if __name__ == "__main__":
    serve()
