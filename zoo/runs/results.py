"""One stored run (train, evaluate or a suite cell) and the environment it ran in.

A :class:`RunResult` is a row of the runs store (:mod:`zoo.runs.store`) and what the
``zoo_run_finished`` hook receives. It is plain data: importing this module imports neither
torch nor numpy, so the CLI can list runs and print leaderboards fast.
"""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zoo.models import display_name

RUN_KINDS = ("train", "evaluate", "bench", "tune")
RUN_STATUSES = ("running", "ok", "failed", "diverged", "pruned")
FINISHED_STATUSES = ("ok", "failed", "diverged", "pruned")
#: The error of a run whose process was stopped (Ctrl-C, SIGTERM) or killed mid-run.
INTERRUPTED = "interrupted"
# Distributions whose versions change numbers; read from metadata so nothing heavy is imported.
TRACKED_DISTRIBUTIONS = ("zoo", "torch", "lightning", "torchmetrics", "scikit-learn", "numpy")


def new_run_id() -> str:
    """A fresh run id: 32 hex characters (uuid4)."""
    return uuid.uuid4().hex


def utc_now() -> str:
    """The current time as an ISO 8601 string in UTC (``2025-01-31T12:00:00.123+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(kw_only=True)
class RunResult:
    """One run as stored: what ran, on what, how it ended and where.

    Args:
        id: Unique run id, 32 hex characters; a unique prefix of 6 or more finds it.
        kind: ``"train"``, ``"evaluate"``, ``"bench"`` (one cell of a suite) or ``"tune"``
            (a trial of ``zoo tune``, or one fold of a trial; ``extra`` names the study).
        model: Registered model name (``"vae"``).
        backbone: Backbone name for methods that take one (``"cnn"``), else None.
        plugin: Plugin that registered the model.
        plugin_version: That plugin's distribution version, None for a plugin file.
        dataset: Dataset name.
        suite: Suite name for bench runs.
        suite_version: Version of the suite's protocol; leaderboards never mix versions.
        setting: Protocol variant within a suite (``"semi"``), None for the default.
        seed: Random seed of the run.
        budget: ``"smoke"``, ``"quick"`` or ``"full"`` for bench runs.
        data_sha256: For bench runs, what identifies the content of the dataset
            (:func:`zoo.data.loading.dataset_fingerprint`: a user's file's sha256), part of
            the cell's key; None for embedded data and for other runs.
        hparams: Hyperparameters the model was built with.
        status: ``"running"``, ``"ok"``, ``"failed"``, ``"diverged"`` or ``"pruned"`` (a
            tuning trial stopped early by the pruner; its metrics are the last epoch's).
        metrics: Scores by metric name; only finite numbers are ever stored.
        seconds: Wall time of the run.
        device: Where it ran (``"cuda:0"``, ``"cpu"``).
        versions: Package versions by distribution name (see :func:`environment`).
        git_commit: Commit of the working directory's repository, if it was one.
        error: Why the run failed or diverged; ``"interrupted"`` for a run whose process was
            stopped (Ctrl-C, SIGTERM) or was found gone (killed, crashed) by the store.
        checkpoint: Where the trained model was saved.
        created: When the run started, ISO 8601 in UTC.
        extra: Anything else worth keeping (``{"class": 3}``, ``{"note": "..."}``).
    """

    id: str = field(default_factory=new_run_id)
    kind: str
    model: str
    backbone: str | None = None
    plugin: str
    plugin_version: str | None = None
    dataset: str
    suite: str | None = None
    suite_version: str | None = None
    setting: str | None = None
    seed: int | None = None
    budget: str | None = None
    data_sha256: str | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    device: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    error: str | None = None
    checkpoint: str | None = None
    created: str = field(default_factory=utc_now)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in RUN_KINDS:
            raise ValueError(f"run kind {self.kind!r} is not one of {', '.join(RUN_KINDS)}")
        if self.status not in RUN_STATUSES:
            raise ValueError(f"run status {self.status!r} is not one of "
                             f"{', '.join(RUN_STATUSES)}")

    @property
    def display_model(self) -> str:
        """The name leaderboards show: ``"vae[cnn]"`` for a method on a backbone, else the model
        (:func:`zoo.models.display_name`)."""
        return display_name(self.model, self.backbone)

    def to_row(self) -> dict[str, Any]:
        """The stable JSON row printed by ``zoo bench --json``.

        Keys: ``id, model, backbone, dataset, suite, suite_version, setting, seed, budget,
        status, metrics, seconds, error, extra, checkpoint``. New keys may be added; none is
        renamed.
        """
        return {
            "id": self.id, "model": self.model, "backbone": self.backbone,
            "dataset": self.dataset, "suite": self.suite, "suite_version": self.suite_version,
            "setting": self.setting, "seed": self.seed, "budget": self.budget,
            "status": self.status, "metrics": dict(self.metrics), "seconds": self.seconds,
            "error": self.error, "extra": dict(self.extra), "checkpoint": self.checkpoint,
        }


@dataclass
class Outcome:
    """What a run's work produced (a suite cell's, a training's, an evaluation's).

    Args:
        metrics: Test metrics by name.
        hparams: The hyperparameters the model was built with; None keeps the row's.
        extra: Notes merged into the row's ``extra``.
        checkpoint: Where the model was saved; None keeps the row's.
    """

    metrics: dict[str, float]
    hparams: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None


@functools.cache  # one process, one set of versions and one checkout: asked once
def package_versions() -> dict[str, str]:
    """Installed versions of :data:`TRACKED_DISTRIBUTIONS`; those not installed are left out."""
    versions = {}
    for distribution in TRACKED_DISTRIBUTIONS:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def git_commit(directory: str | Path | None = None) -> str | None:
    """The commit checked out in ``directory`` (default: the working directory), or None.

    None when the directory is not in a git repository or git is not installed: a run outside
    a repository is normal and must not fail for it. Asked once per directory and process.
    """
    return _commit_in(Path(directory or Path.cwd()).resolve())


@functools.cache
def _commit_in(directory: Path) -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def environment(device: str | None = None) -> dict[str, Any]:
    """The :class:`RunResult` fields describing where a run ran.

    Use as ``RunResult(..., **environment(device="cuda:0"))``.

    Args:
        device: The device the caller runs on; this module does not import torch to find it.

    Returns:
        ``{"versions": {...}, "git_commit": str | None, "device": device}``.
    """
    return {"versions": dict(package_versions()), "git_commit": git_commit(), "device": device}
