"""Cheap, import-free descriptions of models, datasets and suites.

Plugins register these from their registration hooks. A spec names its implementation by
import path (``"package.module:Attribute"``), which is imported only when the thing is built,
so listing every model of every installed plugin never imports torch.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

TASKS = ("classify", "regress", "detect", "generate")
MODALITIES = ("tabular", "image", "text", "timeseries")
MODEL_KINDS = ("backbone", "method")
LEADERBOARD_COLUMNS = ("dataset", "setting")
BUDGET_NAMES = ("smoke", "quick", "full")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class SpecError(ValueError):
    """A spec that does not describe a valid model, dataset or suite."""


def import_object(path: str) -> Any:
    """Import ``"package.module:Attribute"`` and return the attribute."""
    module_name, _, attribute = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({k: _frozen(v) if isinstance(v, Mapping) else v
                             for k, v in mapping.items()})


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(f"{kind} name {name!r} must be lower-case letters, digits, '-', '.', '_'")


def _check_choices(kind: str, name: str, field_name: str, values: tuple[str, ...],
                   valid: tuple[str, ...]) -> None:
    if not values:
        raise SpecError(f"{kind} {name!r}: {field_name} is empty; valid: {', '.join(valid)}")
    bad = [v for v in values if v not in valid]
    if bad:
        raise SpecError(f"{kind} {name!r}: unknown {field_name} {', '.join(map(repr, bad))}; "
                        f"valid: {', '.join(valid)}")


def _check_import_path(kind: str, name: str, field_name: str, path: str | None) -> None:
    if path is not None and (not isinstance(path, str) or not _IMPORT_PATH.match(path)):
        raise SpecError(f"{kind} {name!r}: {field_name} {path!r} is not 'package.module:Name'")


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Args:
        name: Unique, stable registry name (``"vae"``, ``"deep-svdd"``).
        kind: ``"backbone"`` (an architecture family that builds encoders and decoders and is
            also a supervised model on its own) or ``"method"`` (a paradigm that takes a backbone).
        tasks: What the trained model does: ``classify``, ``regress``, ``detect``, ``generate``.
        modalities: Data it accepts: ``tabular``, ``image``, ``text``, ``timeseries``.
        implementation: Import path of the model class, built with
            ``cls(data_info=..., **hparams)``.
        defaults: Default hyperparameters per modality (``{"image": {"hidden": 256}}``); the key
            ``"*"`` applies to every modality, and a method's ``"image[cnn]"`` only to images
            on the ``cnn`` backbone (the more specific key wins).
        builder: ``kind="backbone"`` only: import path of the :class:`zoo.backbones.Backbone`
            that builds encoders and decoders for methods.
        default_backbones: ``kind="method"`` only: backbone name per modality.
        paper: Link to the paper the model follows.
        summary: One line for ``zoo models``.
        plugin: Filled in by the registry: the plugin that registered the spec.
    """

    name: str
    kind: str
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]
    implementation: str
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    builder: str | None = None
    default_backbones: Mapping[str, str] = field(default_factory=dict)
    paper: str = ""
    summary: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "defaults", _frozen(self.defaults))
        object.__setattr__(self, "default_backbones", _frozen(self.default_backbones))
        _check_name("model", self.name)
        if self.kind not in MODEL_KINDS:
            raise SpecError(f"model {self.name!r}: kind {self.kind!r} is not one of "
                            f"{', '.join(MODEL_KINDS)}")
        _check_choices("model", self.name, "tasks", self.tasks, TASKS)
        _check_choices("model", self.name, "modalities", self.modalities, MODALITIES)
        _check_import_path("model", self.name, "implementation", self.implementation)
        _check_import_path("model", self.name, "builder", self.builder)
        if self.kind == "backbone" and self.default_backbones:
            raise SpecError(f"model {self.name!r}: a backbone has no default_backbones")
        unknown = {key for key in self.defaults
                   if key != "*" and key.partition("[")[0] not in self.modalities}
        if unknown:
            raise SpecError(f"model {self.name!r}: defaults for undeclared modalities "
                            f"{sorted(unknown)}")

    def defaults_for(self, modality: str, backbone: str | None = None) -> dict[str, Any]:
        """Default hyperparameters for one modality and backbone: ``"*"``, then the
        modality's, then ``"modality[backbone]"``'s."""
        return {**self.defaults.get("*", {}), **self.defaults.get(modality, {}),
                **self.defaults.get(f"{modality}[{backbone}]", {})}

    def load(self) -> Any:
        """Import and return the implementation class."""
        return import_object(self.implementation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "tasks": list(self.tasks),
            "modalities": list(self.modalities), "plugin": self.plugin,
            "summary": self.summary, "paper": self.paper,
            "implementation": self.implementation,
            "default_backbones": dict(self.default_backbones),
        }


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, found under ``ZOO_DATA_DIR`` or fetched from ``url``.

    Args:
        path: Path relative to the data directory (``"mnist/train-images-idx3-ubyte.gz"``).
        url: Canonical public URL to download it from.
        sha256: Expected checksum; a file that does not match is never used.
        size: Size in bytes, for the progress bar and the error message.
    """

    path: str
    url: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Args:
        name: Unique registry name (``"mnist"``, ``"cardio"``).
        modality: ``tabular``, ``image``, ``text`` or ``timeseries``.
        tasks: Tasks the data supports (``classify`` needs class labels, ``detect`` needs
            anomaly labels in the test split).
        loader: Import path of ``loader(files: list[Path], **options) -> zoo.data.Dataset``.
        files: Files the loader reads; empty for embedded data.
        options: Keyword arguments for the loader.
        size: Human-readable size (``"70,000 x 1x28x28"``).
        source: Where the data comes from (citation or URL).
        summary: One line for ``zoo datasets``.
        plugin: Filled in by the registry.
    """

    name: str
    modality: str
    tasks: tuple[str, ...]
    loader: str
    files: tuple[DataFile, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    size: str = ""
    source: str = ""
    summary: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "files", tuple(self.files))
        object.__setattr__(self, "options", _frozen(self.options))
        _check_name("dataset", self.name)
        _check_choices("dataset", self.name, "modality", (self.modality,), MODALITIES)
        _check_choices("dataset", self.name, "tasks", self.tasks, TASKS)
        _check_import_path("dataset", self.name, "loader", self.loader)

    @property
    def embedded(self) -> bool:
        return not self.files

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "modality": self.modality, "tasks": list(self.tasks),
            "size": self.size, "source": self.source, "summary": self.summary,
            "plugin": self.plugin, "embedded": self.embedded,
            "files": [f.path for f in self.files],
        }


@dataclass(frozen=True)
class SuiteSpec:
    """A registered benchmark suite, with the metadata that listing it and printing its
    leaderboard need (so neither imports the suite's implementation, nor torch).

    Args:
        name: Unique registry name (``"supervised"``, ``"tabular-ad"``).
        implementation: Import path of the :class:`zoo.suites.Suite` subclass.
        tasks: Tasks whose models the suite scores.
        modalities: Modalities of its datasets.
        version: Version of the protocol. Bump it whenever a change could move a number:
            leaderboards never mix versions.
        metrics: ``(metric, higher is better)`` pairs; the first is the leaderboard's primary
            metric. At least one.
        floors: Leaderboard metric -> the stored metric holding its floor (what real data
            scores against the test data); shown as an unranked row.
        columns: What the leaderboard's columns are: ``dataset`` (a section per setting) or
            ``setting`` (a section per dataset, a column per setting: image-ad's classes).
        budgets: Names of the budgets ``zoo bench --budget`` accepts; the implementation
            gives each its numbers.
        summary: One line for ``zoo suites``.
        plugin: Filled in by the registry.
    """

    name: str
    implementation: str
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]
    version: str = "1"
    metrics: tuple[tuple[str, bool], ...] = ()
    floors: Mapping[str, str] = field(default_factory=dict)
    columns: str = "dataset"
    budgets: tuple[str, ...] = BUDGET_NAMES
    summary: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "metrics", tuple((str(m), bool(h)) for m, h in self.metrics))
        object.__setattr__(self, "floors", _frozen(self.floors))
        object.__setattr__(self, "budgets", tuple(self.budgets))
        _check_name("suite", self.name)
        _check_choices("suite", self.name, "tasks", self.tasks, TASKS)
        _check_choices("suite", self.name, "modalities", self.modalities, MODALITIES)
        _check_import_path("suite", self.name, "implementation", self.implementation)
        _check_choices("suite", self.name, "columns", (self.columns,), LEADERBOARD_COLUMNS)
        if not self.metrics:
            raise SpecError(f"suite {self.name!r}: metrics is empty; give at least one "
                            "(name, higher_is_better) pair")
        if not self.budgets:
            raise SpecError(f"suite {self.name!r}: budgets is empty")
        unknown = sorted(set(self.floors) - {m for m, _ in self.metrics})
        if unknown:
            raise SpecError(f"suite {self.name!r}: floors for metrics it does not report "
                            f"{unknown}")

    def load(self) -> Any:
        return import_object(self.implementation)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tasks": list(self.tasks),
                "modalities": list(self.modalities), "version": self.version,
                "metrics": [m for m, _ in self.metrics], "budgets": list(self.budgets),
                "summary": self.summary, "plugin": self.plugin}
