"""Options and helpers that the command modules share (``zoo.cli`` and the commands in their
own modules import them from here, so that no module imports the package that imports it)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from zoo import plugins

#: How long after an interrupt was dropped (see :func:`_interruptible`) it is sent again.
RESEND_SECONDS = 0.01
JSON_HELP = "Print machine-readable JSON (documented in docs/cli.md)."
NORMAL_CLASS_OPTION = click.option(
    "--normal-class", type=click.IntRange(min=0), metavar="K",
    help="Anomaly detection on images with class labels (digits, mnist, fashion-mnist): "
         "train on class K, test with the other classes as anomalies (image-ad's protocol).")
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
    setting = f" ({row.setting})" if row.setting else ""
    click.echo(f"run {row.id}  {row.display_model} on {row.dataset}{setting}: {row.status}"
               f"{'  ' + metrics if metrics else ''}"
               f"{'  (' + row.error + ')' if row.error else ''}")
    if row.checkpoint:
        click.echo(f"checkpoint: {row.checkpoint}")
        from zoo.evaluation.samples import SAMPLE_FILES

        for name in SAMPLE_FILES if row.kind == "train" else ():
            if (samples := Path(row.checkpoint).parent / name).exists():
                click.echo(f"samples: {samples}")


ACCELERATOR_HELP = "auto: the GPUs when there is one, else the CPU."


@contextmanager
def _interruptible() -> Iterator[None]:
    """Let Ctrl-C and SIGTERM (``kill``, a scheduler's time limit) stop training: the runner
    then finishes the run's row as ``failed: interrupted`` instead of leaving it ``running``.

    SIGTERM raises ``SystemExit`` (status 143) as Ctrl-C raises ``KeyboardInterrupt``. Python
    drops such an exception when its signal arrives while a finalizer or weakref callback runs
    (importlib runs one for each module it imports), printing only "Exception ignored"; the
    signal is then sent again, to stop the command in ordinary code.
    """
    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    def send_again(unraisable: Any) -> None:
        signum = _interrupt_signal(unraisable.exc_value)
        if signum is None:
            previous_hook(unraisable)
            return
        # Sent from this thread, the signal's handler would run in this hook, and its
        # exception would be dropped again; from another thread, a moment later, it runs
        # once this hook has returned (and wakes a sleep, as a signal from outside does).
        resend = threading.Timer(RESEND_SECONDS, signal.pthread_kill,
                                 (threading.main_thread().ident, signum))
        resend.daemon = True
        resend.start()

    previous = signal.signal(signal.SIGTERM, stop)
    previous_hook, sys.unraisablehook = sys.unraisablehook, send_again
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous)


def _interrupt_signal(exc: BaseException | None) -> int | None:
    """The signal that raised ``exc`` in :func:`_interruptible`; None for any other error."""
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    if isinstance(exc, SystemExit) and exc.code == 128 + signal.SIGTERM:
        return signal.SIGTERM
    return None


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
             for row in [headers, ["-" * w for w in widths], *rows]]
    return "\n".join(lines)


def _check_names(model: str | None = None, data: str | None = None,
                 hparams: dict[str, Any] | None = None) -> None:
    """Fail fast on unknown names and bad hyperparameters (``hparams``, with the backbone of
    ``vae[cnn]``; an ensemble cell's ``autoencoder@5`` names ``autoencoder``), before torch is
    imported and any data is read."""
    from zoo.data.loading import is_user_file
    from zoo.models import check_hparams, split_ensemble_name, split_model_name

    host = plugins.get_host()
    if model is not None:
        base, backbone = split_model_name(split_ensemble_name(model)[0])
        named = {"backbone": backbone} if backbone else {}
        check_hparams(host.model(base), {**named, **(hparams or {})})
    if data is not None and not is_user_file(data):
        host.dataset(data)
