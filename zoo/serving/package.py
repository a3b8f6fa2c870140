"""Model packages: a checkpoint made deployable (``zoo export``), checked before it is loaded.

A package is a checkpoint directory (:mod:`zoo.models.checkpoints`: ``card.json`` and the
model's state files, loaded without unpickling) whose card also holds a ``package`` section:
the zoo and plugin versions, the input shape and dtype, the evaluate hooks it serves, for
detectors a threshold chosen on validation scores, the ONNX export and its parity, and the
sha256 of every file; and a ``digest`` of the card itself, so that a card or a file changed
after export is refused (integrity against edits and damage, not a signature).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.data.loading import load_dataset, warn_if_changed
from zoo.data.preprocess import preprocess_arrays
from zoo.data.types import Arrays, DataInfo
from zoo.errors import ZooError
from zoo.models.checkpoints import CARD, load_model, read_card, save_model
from zoo.models.onnx import (
    DATA_HOOKS,
    check_exportable,
    data_hooks,
    export_onnx,
    input_dtype,
    require_onnx,
)
from zoo.plugins import get_host
from zoo.runs.single import checkpoint_dir, task_splits

if TYPE_CHECKING:
    from zoo.runs.store import Store

#: A detector's stored threshold lets this share of normal validation rows through as
#: anomalous, unless ``zoo export --fpr`` says otherwise.
DEFAULT_FPR = 0.05
#: Validation rows ONNX parity is measured on, at most.
PARITY_ROWS = 256
RUNTIMES = ("eager", "onnx")
#: Card keys that :func:`zoo.models.checkpoints.save_model` writes itself.
_MODEL_KEYS = ("card_version", "model", "hparams", "data_info")
#: The hooks a package may serve.
_HOOKS = frozenset({*(hook for hooks in DATA_HOOKS.values() for hook in hooks), "sample"})
#: The card keys serving reads, their types, and whether a key must be there when the key
#: holding it is (an optional section's own keys are checked only when it is present).
_CARD_KEYS: tuple[tuple[str, type | tuple[type, ...], bool], ...] = (
    ("model", str, True), ("data_info", dict, True), ("data_info.task", str, True),
    ("package", dict, True), ("package.files", dict, True), ("package.hooks", list, True),
    ("package.input", dict, True), ("package.input.shape", list, True),
    ("package.input.dtype", str, True), ("package.plugin", dict, True),
    ("package.threshold", dict, False),
    ("package.threshold.value", (int, float, type(None)), False),
    ("package.onnx", dict, False), ("package.onnx.files", dict, True),
    ("preprocess", dict, False), ("vocab", (list, type(None)), False))
_JSON_TYPES: dict[type, str] = {str: "a string", dict: "an object", list: "a list",
                                int: "a number", float: "a number", type(None): "null"}


@dataclass
class Package:
    """A verified, loaded package: its card and the model that answers for it.

    ``model`` is the eager model, or for ``runtime="onnx"`` a
    :class:`zoo.models.onnx.OnnxModel` with the same evaluate hooks.
    """

    directory: Path
    card: dict[str, Any]
    model: Any
    runtime: str

    @property
    def info(self) -> DataInfo:
        return DataInfo.from_dict(self.card["data_info"])


def export_package(store: Store, run: str, out: Path, *, onnx: bool = False,
                   fpr: float = DEFAULT_FPR) -> Path:
    """Write the package of ``run`` (a stored run's id or a checkpoint directory) to ``out``.

    Args:
        store: The runs store that ``run`` is looked up in.
        run: A run id (or a unique prefix) or a checkpoint directory.
        out: A new or empty directory.
        onnx: Also export the data-taking evaluate hooks to ONNX, with parity measured on
            validation rows.
        fpr: A detector's threshold is the score that this share of the normal validation
            rows exceeds (test labels are never read).

    Returns:
        ``out``.

    Raises:
        ZooError: ``out`` is not empty, the run has no checkpoint, its training data cannot
            be loaded, or the ONNX export is refused (naming why).
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ZooError(f"--out {out} exists and is not an empty directory; choose a new one")
    source = checkpoint_dir(store, run)
    card = read_card(source)
    model = load_model(source)
    info = model.data_info
    validation = _validation_rows(card, info)
    section: dict[str, Any] = {
        "zoo_version": _version("zoo"), "plugin": _plugin_provenance(card["model"]),
        "input": {"shape": list(info.shape), "dtype": input_dtype(info)},
        "hooks": [*data_hooks(model, info.task), *(["sample"] if info.task == "generate"
                                                     else [])],
        "exported_from": str(source.resolve())}
    evaluation = latest_evaluation(store, source, card)
    if evaluation is not None:
        section["evaluation"] = evaluation
    if info.task == "detect":
        section["threshold"] = validation_threshold(model, validation, fpr)
    if onnx:
        check_exportable(model, info.task)
        rows = _parity_rows(validation, card, info)
    extra = {key: value for key, value in card.items() if key not in _MODEL_KEYS}
    try:
        save_model(model, out, extra=extra)
        if onnx:
            section["onnx"] = export_onnx(model, info.task, out, rows)
        _seal(out, section)
    except BaseException:  # never leave half a package behind, whatever stopped the export
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def validation_threshold(model: Any, validation: Arrays | None, fpr: float) -> dict[str, Any]:
    """The score above which a row is called anomalous: the ``1 - fpr`` quantile of the
    scores of the normal validation rows (all of them when they carry no labels).

    With no validation rows there is no threshold: the section says so instead of choosing
    one on other data.
    """
    if validation is None or not len(validation):
        return {"value": None, "reason": "the run's protocol has no validation split"}
    x = validation.x if validation.y is None else validation.x[validation.y == 0]
    scores = np.asarray(model.score(x), dtype=np.float64)
    value = float(np.quantile(scores, 1 - fpr, method="higher"))
    return {"value": value, "false_positive_rate": fpr, "chosen_on": "validation",
            "rows": len(x), "rule": "anomalous when score > value",
            "validation_false_positive_rate": float(np.mean(scores > value))}


def latest_evaluation(store: Store, checkpoint: Path,
                      card: dict[str, Any]) -> dict[str, Any] | None:
    """The test metrics of the latest successful ``zoo evaluate`` of ``checkpoint`` on its own
    data (reported in the card, never used to choose anything); ``None`` when there is none."""
    runs = [run for run in store.runs(kind="evaluate", status="ok", model=card["model"],
                                      dataset=card.get("dataset"))
            if run.checkpoint and Path(run.checkpoint).resolve() == checkpoint.resolve()]
    if not runs:
        return None
    return {"run_id": runs[-1].id, "dataset": runs[-1].dataset, "metrics": runs[-1].metrics}


def _validation_rows(card: dict[str, Any], info: DataInfo) -> Arrays | None:
    """The run's validation split, preprocessed as in training; ``None`` when the card names
    no data or the protocol has no validation split."""
    if not card.get("dataset"):
        return None
    data = str(card["dataset"])
    warn_if_changed(data, card.get("data_sha256"))
    splits = task_splits(load_dataset(data), info.task, int(card.get("seed", 0)),
                         card.get("normal_class"))
    if splits.val is None:
        return None
    return preprocess_arrays(card.get("preprocess", {}), splits.val)


def _parity_rows(validation: Arrays | None, card: dict[str, Any], info: DataInfo) -> np.ndarray:
    if validation is None or not len(validation):
        raise ZooError(f"ONNX parity is measured on the run's validation rows, and the card's "
                       f"data ({card.get('dataset')}) has none; export without --onnx")
    return np.asarray(validation.x[:PARITY_ROWS], dtype=input_dtype(info))


def _plugin_provenance(model: str) -> dict[str, Any]:
    host = get_host()
    plugin = host.plugins[host.model(model).plugin]
    return {"name": plugin.name, "distribution": plugin.distribution, "version": plugin.version}


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


# -- sealing and verifying ----------------------------------------------------------------------
def _seal(directory: Path, section: dict[str, Any]) -> None:
    """Add ``section`` (with every file's sha256) and the card's digest to the card."""
    card = read_card(directory)
    section["files"] = {path.name: _sha256(path) for path in sorted(directory.iterdir())
                        if path.is_file() and path.name != CARD}
    card["package"] = section
    card["digest"] = _card_digest(card)
    (directory / CARD).write_text(json.dumps(card, indent=2, sort_keys=True, default=str))


def _card_digest(card: dict[str, Any]) -> str:
    body = {key: value for key, value in card.items() if key != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_package(directory: str | Path) -> dict[str, Any]:
    """The card of a package after checking it: unchanged since export, every file intact,
    and the model's plugin installed at a compatible version.

    Raises:
        ZooError: One line naming what is wrong: not a package, the card or a file changed,
            a file missing, the plugin missing or of an incompatible version.
    """
    directory = Path(directory)
    card = read_card(directory)
    if "package" not in card or "digest" not in card:
        raise ZooError(f"{directory} is a checkpoint, not a package; make one with "
                       f"zoo export RUN --out DIR")
    if _card_digest(card) != card["digest"]:
        raise ZooError(f"{directory / CARD} was changed after export (its digest does not "
                       f"match); export the run again")
    _check_card_keys(directory, card)
    for name, digest in card["package"]["files"].items():
        path = directory / name
        if not path.is_file():
            raise ZooError(f"package {directory} lacks {name}")
        if _sha256(path) != digest:
            raise ZooError(f"{path} was changed after export (sha256 does not match the card)")
    check_plugin(card["model"], card["package"]["plugin"])
    return card


def _check_card_keys(directory: Path, card: dict[str, Any]) -> None:
    """Refuse a card lacking a key serving reads, or holding one of another type (a card made
    by hand or by another tool can carry a matching digest)."""
    def refuse(key: str, wanted: str) -> ZooError:
        return ZooError(f"package {directory}: {CARD} key {key} must be {wanted}; export the "
                        f"run again")

    for key, types, required in _CARD_KEYS:
        parent, _, name = key.rpartition(".")
        holder = _lookup(card, parent) if parent else card
        if not isinstance(holder, dict) or (name not in holder and not required):
            continue
        names = types if isinstance(types, tuple) else (types,)
        wanted = " or ".join(dict.fromkeys(_JSON_TYPES[t] for t in names))
        if name not in holder:
            raise ZooError(f"package {directory}: {CARD} lacks key {key} ({wanted}); export "
                           f"the run again")
        value = holder[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise refuse(key, f"{wanted}, not {_JSON_TYPES.get(type(value), 'a boolean')}")
    _check_card_values(card, refuse)


def _lookup(card: dict[str, Any], key: str) -> Any:
    value: Any = card
    for name in key.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _check_card_values(card: dict[str, Any], refuse: Callable[[str, str], ZooError]) -> None:
    """The values inside the card's lists and mappings that serving relies on."""
    section = card["package"]
    if not all(name == Path(name).name and isinstance(digest, str)
               for name, digest in section["files"].items()):
        raise refuse("package.files", "a mapping of the package's file names to their sha256")
    if not all(hook in _HOOKS and isinstance(name, str) and name in section["files"]
               for hook, name in section.get("onnx", {}).get("files", {}).items()):
        raise refuse("package.onnx.files", "a mapping of hooks to files of package.files")
    hooks = section["hooks"]
    if not all(isinstance(hook, str) and hook in _HOOKS for hook in hooks):
        raise refuse("package.hooks", f"a list of {', '.join(sorted(_HOOKS))}")
    shape = section["input"]["shape"]
    if not shape or not all(type(size) is int and size > 0 for size in shape):
        raise refuse("package.input.shape", "a list of positive integers")
    try:
        DataInfo.from_dict(card["data_info"])
    except (TypeError, ValueError, KeyError):
        raise refuse("data_info", "the model's data description (shape, task, ...)") from None


def check_plugin(model: str, exported: dict[str, Any]) -> None:
    """Refuse a package whose model's plugin is missing or of an incompatible version (another
    major version; for 0.x, another minor one)."""
    wanted = f"{exported.get('distribution') or exported.get('name')} {exported.get('version')}"
    host = get_host()
    if model not in host.models():
        raise ZooError(f"the package needs model {model!r} from plugin {wanted}, which is not "
                       f"installed (zoo plugins lists the installed ones)")
    installed = host.plugins[host.model(model).plugin].version
    if not compatible(exported.get("version"), installed):
        raise ZooError(f"the package was exported with plugin {wanted}; the installed "
                       f"version {installed} is incompatible (install {wanted.replace(' ', '==')}"
                       f" or export the run again)")


def compatible(exported: str | None, installed: str | None) -> bool:
    """Semantic versioning: the same major version (and for 0.x the same minor one)."""
    if exported is None or installed is None:
        return exported == installed
    a, b = exported.split("."), installed.split(".")
    width = 2 if a[0] == "0" else 1
    return a[:width] == b[:width]


def load_package(directory: str | Path, runtime: str = "eager") -> Package:
    """Verify a package (:func:`verify_package`) and load its model for ``runtime``.

    Raises:
        ZooError: The package fails verification, or cannot be served with ``runtime``
            (:func:`check_runtime`).
    """
    from zoo.models.onnx import OnnxModel

    directory = Path(directory)
    card = verify_package(directory)
    check_runtime(directory, card, runtime)
    if runtime == "eager":
        return Package(directory, card, load_model(directory), runtime)
    return Package(directory, card, OnnxModel(directory, card["package"]["onnx"],
                                              DataInfo.from_dict(card["data_info"])), runtime)


def check_runtime(directory: str | Path, card: dict[str, Any], runtime: str) -> None:
    """Refuse to serve a verified package with ``runtime`` when it cannot be: an unknown
    runtime, or ONNX for a package without an ONNX export or without the ``onnx`` extra."""
    if runtime not in RUNTIMES:
        raise ZooError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
    if runtime == "onnx":
        if not card["package"].get("onnx"):
            raise ZooError(f"package {directory} has no ONNX export; make one with zoo export "
                           f"--onnx, or serve it with --runtime eager")
        require_onnx()


def served_hooks(card: dict[str, Any], runtime: str) -> tuple[str, ...]:
    """The evaluate hooks a package answers for under ``runtime`` (ONNX: the exported ones)."""
    if runtime == "onnx":
        return tuple(card["package"].get("onnx", {}).get("files", {}))
    return tuple(card["package"]["hooks"])
