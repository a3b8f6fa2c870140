"""The local runs browser: stored runs as a listing (``zoo runs``) and one run in detail
(``zoo runs show``): its config, metrics, per-epoch curves, files and tracker links.

Everything here reads: the store is opened read-only by the caller, and the run's folder
(:func:`zoo.runs.lifecycle.run_folder`) is only listed and its ``metrics.csv`` (the built-in CSV
tracker's per-epoch log) parsed. Nothing heavy is imported, so browsing a store starts fast.

A tracker that wants its link shown stores it in the row's ``extra`` under its own name, in
``zoo_run_started``; the W&B tracker's is ``extra["wandb"] = {"path": ..., "dir": ...,
"sync": ...}`` (the run path ``entity/project/id``, its folder, as a pattern with the time
wandb started it left open, and for an offline run the ``wandb sync ...`` line that uploads
it).
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import glob
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.plugins import get_host
from zoo.runs.lifecycle import run_folder
from zoo.runs.merge import MergedRuns, merge_runs
from zoo.runs.results import INTERRUPTED, RUN_KINDS, RUN_STATUSES, RunResult
from zoo.runs.store import MIN_ID_PREFIX, Store

#: ``--status`` values: the stored statuses, and ``interrupted`` for the ``failed`` rows whose
#: process was stopped or found gone.
STATUS_FILTERS = (*RUN_STATUSES, INTERRUPTED)
#: The headline of a train / evaluate run: the first of these it has (detect, classify,
#: regress, generate images, generate text, then training's own), else its first metric.
HEADLINE_METRICS = ("auroc", "accuracy", "r2", "fid", "nll", "loss", "best_val_loss")
#: The CSV tracker's per-epoch log in a run's folder.
CURVES_FILE = "metrics.csv"
#: Columns of that log that are the x-axis, not curves.
CURVE_AXES = ("epoch", "step")
#: Trackers whose link a row's ``extra`` may hold, shown apart from the other notes.
TRACKER_KEYS = ("wandb",)
#: What ``extra["wandb"]`` holds, in the order shown: the run path, the line that uploads an
#: offline run, its folder.
WANDB_KEYS = ("path", "sync", "dir")
SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 40
ID_SHOWN = 8  # characters of an id in the listing: enough to pass back to `zoo runs show`
LISTING_HEADERS = ["id", "kind", "model", "dataset", "seed", "status", "headline", "seconds",
                   "when"]


def check_filter(option: str, value: str | None, valid: Sequence[str]) -> None:
    """Refuse a ``--status`` / ``--kind`` value that no row can have, naming the valid ones.

    Raises:
        ZooError: ``value`` is given and is not in ``valid``.
    """
    if value is not None and value not in valid:
        raise ZooError(f"unknown {option} {value!r}; valid: {', '.join(valid)}")


def select_runs(stores: Sequence[Store], *, suite: str | None = None,
                model: str | None = None, dataset: str | None = None,
                status: str | None = None, kind: str | None = None) -> MergedRuns:
    """Stored runs matching every filter given, newest first, from one or more stores merged
    (:func:`~zoo.runs.merge.merge_runs`: each run and suite cell counted once).

    Args:
        stores: The runs stores.
        suite: Suite name.
        model: Model name; ``vae[cnn]`` also matches the backbone, ``vae`` any backbone.
        dataset: Dataset name or file path as stored.
        status: One of :data:`STATUS_FILTERS`.
        kind: One of :data:`~zoo.runs.results.RUN_KINDS`.

    Raises:
        ZooError: ``status`` or ``kind`` is not a valid value.
    """
    check_filter("--status", status, STATUS_FILTERS)
    check_filter("--kind", kind, RUN_KINDS)
    base_model = model.split("[", 1)[0] if model else None
    # Merged before the status filter: a cell's rows differ only in status, and which one
    # stands for a cell held by several stores depends on all of them.
    merged = merge_runs([store.runs(suite=suite, model=base_model, dataset=dataset, kind=kind)
                         for store in stores])
    rows = merged.rows
    if status == INTERRUPTED:
        rows = [row for row in rows if row.status == "failed" and row.error == INTERRUPTED]
    elif status is not None:
        rows = [row for row in rows if row.status == status]
    if model and "[" in model:
        rows = [row for row in rows if row.display_model == model]
    return MergedRuns(rows[::-1], merged.notes)


def describe_filters(stores: Sequence[Store], **filters: str | None) -> str:
    """One line for an empty listing: which filters left nothing, in which databases."""
    paths = ", ".join(str(store.path) for store in stores)
    given = ", ".join(f"{name} {value!r}" for name, value in filters.items() if value)
    if given:
        return f"no runs with {given} in {paths} ('zoo runs' without filters lists all)"
    return f"no runs in {paths} yet"


def _suite_metrics(suite: str) -> tuple[str, ...]:
    suites = get_host().suites()  # a suite whose plugin is gone falls back to the others' rule
    return tuple(name for name, _ in suites[suite].metrics) if suite in suites else ()


def headline(row: RunResult) -> tuple[str, float] | None:
    """The one metric that sums a run up: for a suite cell the first of its suite's metrics
    that the row has (the primary one, or ``r2`` for a regression cell of ``supervised``);
    otherwise the first of :data:`HEADLINE_METRICS` it has, else its first metric by name.

    Returns:
        ``(metric, value)``, or None for a run without metrics (failed, running).
    """
    preferred = (*(_suite_metrics(row.suite) if row.suite else ()), *HEADLINE_METRICS)
    name = next((m for m in preferred if m in row.metrics), min(row.metrics, default=None))
    return None if name is None else (name, row.metrics[name])


def shown_status(row: RunResult) -> str:
    """The status as the listing shows it: ``failed: interrupted`` for a stopped run."""
    return f"{row.status}: {INTERRUPTED}" if row.error == INTERRUPTED else row.status


def listing_entry(row: RunResult) -> dict[str, Any]:
    """One run of ``zoo runs --json``: :meth:`RunResult.to_row` plus ``kind``, ``created``,
    ``display_model`` and ``headline`` (``{"metric", "value"}`` or null)."""
    best = headline(row)
    return {**row.to_row(), "kind": row.kind, "created": row.created,
            "display_model": row.display_model,
            "headline": None if best is None else {"metric": best[0], "value": best[1]}}


def listing_rows(rows: Sequence[RunResult]) -> list[list[str]]:
    """The runs as cells of a table under :data:`LISTING_HEADERS`."""
    return [[row.id[:ID_SHOWN], row.kind, row.display_model, row.dataset,
             "" if row.seed is None else str(row.seed), shown_status(row),
             _headline_text(row), "" if row.seconds is None else f"{row.seconds:.1f}",
             _when(row.created)] for row in rows]


def _headline_text(row: RunResult) -> str:
    best = headline(row)
    return "" if best is None else f"{best[0]}={best[1]:.4g}"


def _when(created: str) -> str:
    """``2026-12-06 23:58`` (UTC) from a stored ISO 8601 time."""
    return created[:16].replace("T", " ")


def find_run(store: Store, run_id: str) -> RunResult:
    """The run with id ``run_id`` or a unique prefix of it (6 characters or more).

    Raises:
        ZooError: No run matches (naming the stored ids closest to ``run_id``), the prefix is
            too short or matches several runs.
    """
    try:
        return store.get(run_id)
    except ZooError as exc:
        ids = [row.id for row in store.runs()]
        if len(run_id) < MIN_ID_PREFIX or any(i.startswith(run_id) for i in ids):
            raise  # too short, or ambiguous: the store's message says which
        prefixes = {i[:len(run_id)]: i for i in ids}
        close = difflib.get_close_matches(run_id, prefixes, n=3, cutoff=0.5)
        hint = (f"; close: {', '.join(prefixes[c][:max(ID_SHOWN, len(run_id))] for c in close)}"
                if close else "")
        raise ZooError(f"{exc}{hint} ('zoo runs' lists the stored runs)") from None


@dataclasses.dataclass
class Curve:
    """One metric logged per epoch: its values in order, their minimum and the last one."""

    values: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"min": min(self.values), "last": self.values[-1], "points": len(self.values),
                "values": self.values}


def read_curves(path: Path) -> dict[str, Curve]:
    """Every metric of a CSV tracker log (``metrics.csv``), in column order, with its finite
    values in the order they were logged; the axes (epoch, step) and empty columns left out.

    Lightning writes training and validation values of one epoch on separate lines, each
    leaving the other's columns empty; a missing or unreadable file has no curves.
    """
    try:
        with path.open(newline="") as handle:
            lines = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    curves: dict[str, Curve] = {}
    for name in lines[0] if lines else ():
        values = [_number(line.get(name)) for line in lines]
        finite = [v for v in values if v is not None and math.isfinite(v)]
        if name not in CURVE_AXES and finite:
            curves[name] = Curve(finite)
    return curves


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """``values`` as a line of block characters, low to high; more than ``width`` values are
    averaged in ``width`` equal spans first."""
    if len(values) > width:
        spans = [values[i * len(values) // width:(i + 1) * len(values) // width]
                 for i in range(width)]
        values = [sum(span) / len(span) for span in spans]
    low, high = min(values), max(values)
    scale = (len(SPARK_LEVELS) - 1) / (high - low) if high > low else 0.0
    return "".join(SPARK_LEVELS[round((v - low) * scale)] for v in values)


def run_files(row: RunResult, folder: Path) -> dict[str, Any]:
    """Where a run's files are: its folder (logs, samples; None when it left none), its
    checkpoint folder, and every file in the run's folder outside the checkpoint."""
    checkpoint = Path(row.checkpoint) if row.checkpoint else None
    files = sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                   if path.is_file() and not (checkpoint and path.is_relative_to(checkpoint)))
    return {"folder": str(folder) if folder.is_dir() else None,
            "checkpoint": row.checkpoint, "files": files}


def run_detail(store: Store, run_id: str) -> dict[str, Any]:
    """Everything ``zoo runs show`` prints about one run (its ``--json``).

    Returns:
        ``{"run": every stored field, "display_model", "headline", "owner", "curves":
        {metric: {"min", "last", "points", "values"}}, "files": {"folder", "checkpoint",
        "files"}, "trackers": {name: link}}``; ``owner`` is ``{"host", "pid"}`` or None.
    """
    row = find_run(store, run_id)
    folder = run_folder(store, row).resolve()
    entry = listing_entry(row)
    owner = store.owner(row.id)
    return {"run": dataclasses.asdict(row), "display_model": entry["display_model"],
            "headline": entry["headline"],
            "owner": None if owner is None else {"host": owner["owner_host"],
                                                 "pid": owner["owner_pid"]},
            "curves": {name: curve.to_dict()
                       for name, curve in read_curves(folder / CURVES_FILE).items()},
            "files": run_files(row, folder),
            "trackers": {key: _found_folder(row.extra[key]) for key in TRACKER_KEYS
                         if key in row.extra}}


def _found_folder(link: Mapping[str, Any]) -> dict[str, Any]:
    """``link`` with its ``dir`` pattern replaced by the one folder it matches, if there is
    exactly one (W&B names a run's folder by the second it started)."""
    found = glob.glob(link.get("dir", ""))
    return {**link, "dir": found[0]} if len(found) == 1 else dict(link)


def format_detail(detail: Mapping[str, Any]) -> str:
    """:func:`run_detail` as text: config, metrics, curves with sparklines, files, the error
    of a run that did not end ``ok``, tracker links."""
    run = detail["run"]
    best = detail["headline"]
    lines = [f"run {run['id']}  {run['kind']}  {detail['display_model']} on {run['dataset']}:"
             f" {run['status']}" + (f"  {best['metric']}={best['value']:.4g}" if best else "")]
    if run["error"]:
        lines.append(f"  error: {run['error']}")
    lines += ["", "config", *_pairs(_config(run, detail["owner"]))]
    lines += ["", "metrics", *(_pairs({name: f"{value:.6g}" for name, value
                                       in sorted(run["metrics"].items())}) or ["  (none)"])]
    lines += ["", "curves", *(_curve_lines(detail["curves"]) or ["  (no per-epoch log)"])]
    lines += ["", "files", *_pairs(_file_lines(detail["files"]))]
    notes = {k: v for k, v in run["extra"].items() if k not in TRACKER_KEYS}
    if notes:
        lines += ["", "notes", *_pairs(notes)]
    if "wandb" in detail["trackers"]:
        link = detail["trackers"]["wandb"]
        lines += ["", "W&B", *_pairs({key: link[key] for key in (*WANDB_KEYS, *link)
                                      if key in link})]
    return "\n".join(lines)


def _config(run: Mapping[str, Any], owner: Mapping[str, Any] | None) -> dict[str, Any]:
    plugin = f"{run['plugin']} {run['plugin_version'] or ''}".strip()
    suite = f"{run['suite']} (version {run['suite_version']})" if run["suite"] else None
    config = {"model": run["model"], "backbone": run["backbone"], "plugin": plugin,
              "dataset": run["dataset"], "suite": suite, "setting": run["setting"],
              "seed": run["seed"], "budget": run["budget"],
              "hparams": " ".join(f"{k}={v}" for k, v in sorted(run["hparams"].items())),
              "device": run["device"],
              "versions": " ".join(f"{k}={v}" for k, v in sorted(run["versions"].items())),
              "git commit": run["git_commit"], "created": run["created"],
              "seconds": None if run["seconds"] is None else f"{run['seconds']:.2f}",
              "owner": None if owner is None else f"{owner['host']} pid {owner['pid']}"}
    return {key: value for key, value in config.items() if value not in (None, "")}


def _curve_lines(curves: Mapping[str, Mapping[str, Any]]) -> list[str]:
    width = max(map(len, curves), default=0)
    return [f"  {name:<{width}}  min {curve['min']:<10.4g} last {curve['last']:<10.4g} "
            f"{sparkline(curve['values'])}" for name, curve in curves.items()]


def _file_lines(files: Mapping[str, Any]) -> dict[str, Any]:
    shown = {"folder": files["folder"] or "(none: the run left no files)",
             "checkpoint": files["checkpoint"], "contents": "  ".join(files["files"])}
    return {key: value for key, value in shown.items() if value}


def _pairs(values: Mapping[str, Any]) -> list[str]:
    width = max(map(len, values), default=0)
    return [f"  {key + ':':<{width + 1}} {value}" for key, value in values.items()]
