"""The model contract, and building models from the registry.

Every model, whatever trains it, implements:

- the **train hook** ``fit(splits, config) -> dict[str, float]``: gradient-trained models inherit
  it from :class:`zoo.models.module.ZooModule` (a Lightning loop); others (scikit-learn baselines)
  implement it themselves;
- the **evaluate hooks** of its tasks, batched and without gradients:
  ``predict(x) -> Tensor`` (classify: logits; regress: values), ``score(x) -> Tensor[N]``
  (detect: higher = more anomalous), ``sample(n, generator=None) -> Tensor`` (generate) and
  optionally ``log_likelihood(x) -> Tensor[N]`` in nats;
- persistence without pickled code: ``save_state(directory)`` / ``load_state(directory)``,
  with the card (name, hyperparameters, data info) written by :mod:`zoo.models.checkpoints`.

Owns: this module (the contract, its Protocols and building models from the registry),
`module` (the Lightning base), `supervised` and `sequence` (the backbones' own models),
`backbones` (the backbone interface), `checkpoints` (save and load without unpickling),
`ensemble` (trained models combined as one), `transfer` (starting from another model's
tensors) and `onnx` (ONNX export of the evaluate hooks with parity, and running it in ONNX
Runtime).
May import: zoo.errors, zoo.plugins, zoo.data, zoo.training (a test checks it; imports run
downward only).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from zoo.errors import ZooError, unknown_name_message
from zoo.plugins import get_host
from zoo.plugins.specs import HParam, ModelSpec

if TYPE_CHECKING:
    import torch

    from zoo.data.types import DataInfo, Splits
    from zoo.training import TrainConfig



@runtime_checkable
class Predictor(Protocol):
    """The evaluate hook of ``classify`` (logits) and ``regress`` (values) models."""

    def predict(self, x: Any) -> torch.Tensor:
        """Outputs for a batch ``x``: ``(N, classes)`` logits or ``(N, ...)`` values."""
        ...


@runtime_checkable
class Detector(Protocol):
    """The evaluate hook of ``detect`` models; thresholding is separate from scoring."""

    def score(self, x: Any) -> torch.Tensor:
        """Anomaly scores ``(N,)``: higher is more anomalous."""
        ...


@runtime_checkable
class Sampler(Protocol):
    """The evaluate hook of ``generate`` models."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples in data space, drawn with ``generator`` (seeded: reproducible)."""
        ...


@runtime_checkable
class LikelihoodModel(Protocol):
    """The optional evaluate hook of ``generate`` models that have a likelihood."""

    def log_likelihood(self, x: Any) -> torch.Tensor:
        """``log p(x)`` in nats ``(N,)``; a bound says in its docstring that it is one."""
        ...


#: The evaluate hook each task requires, as a protocol the model class must satisfy.
TASK_PROTOCOLS: dict[str, type] = {"classify": Predictor, "regress": Predictor,
                                   "detect": Detector, "generate": Sampler}


class MissingMethod(ZooError, NotImplementedError):
    """A model class lacks a method of the contract: one line naming the class and the method
    (a ZooError, so that the CLI shows the line and a run stores it as its reason)."""

    def __init__(self, model_class: type, method: str, required_of: str = "every model") -> None:
        super().__init__(f"{model_class.__name__} does not implement {method}(), required of "
                         f"{required_of}: see docs/concepts.md")


class ZooModel:
    """Mixin with the parts of the contract that do not depend on how a model trains."""

    #: Registry name, set by :func:`create_model`.
    zoo_name: str = ""
    #: Whether ``fit`` uses ``splits.val`` (model selection, early stopping). Suites give
    #: models that do not the validation rows as training rows instead. A class default that
    #: a model may set per instance from an argument (``deep-svdd``'s ``uses_validation``).
    uses_validation: bool = True
    #: Why the evaluate hooks cannot be exported to ONNX with parity (``zoo export --onnx``),
    #: or ``""`` when they can: the Lightning base sets ``""``, a stochastic model says why.
    onnx_unsupported: str = "its learned state is not a torch module"
    data_info: DataInfo

    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        """Train on ``splits.train`` (``splits.val`` for model selection); return metrics."""
        raise MissingMethod(type(self), "fit")

    def training_splits(self, splits: Splits) -> Splits:
        """``splits`` as ``fit`` should get them: when this model selects nothing on the
        validation rows (``uses_validation`` false), they are moved into training."""
        from zoo.data.splits import with_validation_in_training

        return splits if self.uses_validation else with_validation_in_training(splits)

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments (except ``data_info``) that rebuild this model."""
        raise MissingMethod(type(self), "hyperparameters")

    def save_state(self, directory: Path) -> None:
        """Write the learned state into ``directory`` in a format that needs no unpickling."""
        raise MissingMethod(type(self), "save_state")

    def load_state(self, directory: Path) -> None:
        """Read back what :meth:`save_state` wrote."""
        raise MissingMethod(type(self), "load_state")


def list_models(pattern: str = "*", *, task: str | None = None,
                modality: str | None = None, kind: str | None = None) -> list[str]:
    """Names of registered models matching a shell-style ``pattern`` (``"vae*"``)."""
    return sorted(
        name for name, spec in get_host().models().items()
        if fnmatch.fnmatchcase(name, pattern)
        and (task is None or task in spec.tasks)
        and (modality is None or modality in spec.modalities)
        and (kind is None or spec.kind == kind)
    )


def get_model_spec(name: str) -> ModelSpec:
    """The spec of a registered model; an unknown name lists the close matches."""
    return get_host().model(name)


def get_backbone_spec(name: str, modality: str | None = None) -> ModelSpec:
    """The spec of a registered backbone that supports ``modality`` (any, when ``None``).

    Any other name is a one-line :class:`ZooError` listing the backbones, close matches first.
    """
    backbones = list_models(kind="backbone")
    if name not in backbones:
        if name in list_models():
            raise ZooError(f"{name!r} is not a backbone; backbones: "
                           f"{', '.join(backbones) or '(none)'}")
        raise ZooError(unknown_name_message("backbone", name, backbones))
    spec = get_model_spec(name)
    if modality is not None and modality not in spec.modalities:
        raise ZooError(f"backbone {name!r} does not support {modality} data; it supports: "
                       f"{', '.join(spec.modalities)}")
    return spec


def split_model_name(name: str) -> tuple[str, str | None]:
    """``"vae[cnn]"`` -> ``("vae", "cnn")``; ``"mlp"`` -> ``("mlp", None)``."""
    if name.endswith("]") and "[" in name:
        base, _, backbone = name[:-1].partition("[")
        return base, backbone
    return name, None


def check_hparams(spec: ModelSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (``--set`` strings, YAML or Python values) checked against ``spec``'s
    declaration and converted to the declared types; needs no data and imports no torch.

    An undeclared name, a value of the wrong type or outside the valid range, or a
    ``backbone`` that names no registered backbone is a one-line :class:`ZooError` naming the
    key, the value and what is valid.
    """
    checked = {key: spec.hparam(key).parse(value, f"model {spec.name!r}")
               for key, value in values.items()}
    if checked.get("backbone") is not None:
        get_backbone_spec(checked["backbone"])
    return checked


def resolve_hparams(spec: ModelSpec, info: DataInfo,
                    overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's defaults for the data's modality (and backbone), then ``overrides``, checked
    by :func:`check_hparams`; a method's backbone is chosen per modality when not given."""
    return modality_hparams(spec, info.modality, overrides)


def modality_hparams(spec: ModelSpec, modality: str,
                     overrides: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`resolve_hparams` knowing only the data's modality: what a model will be built
    with, before its data is loaded (a suite cell's key is made before the cell runs)."""
    if modality not in spec.modalities:
        raise ZooError(f"model {spec.name!r} does not support {modality} data; "
                       f"it supports: {', '.join(spec.modalities)}")
    hparams = check_hparams(spec, overrides)
    backbone = spec.backbone_for(modality, hparams.get("backbone"))
    if backbone is not None:
        get_backbone_spec(backbone, modality)
        hparams["backbone"] = backbone
    resolved = {**spec.defaults_for(modality, backbone), **hparams}
    _check_batch_norm(spec, resolved)
    return resolved


def _check_batch_norm(spec: ModelSpec, hparams: Mapping[str, Any]) -> None:
    """Refuse batch norm on mini-batches of one sample, for every model that declares both:
    its training statistics need two samples, and torch would fail the first step, after the
    run is stored. (A smaller last batch is dropped in training, so only ``batch_size``
    matters.)"""
    declared = {h.name for h in spec.hparams}
    if not {"batch_norm", "batch_size"} <= declared:
        return
    values = declared_hparams(spec, hparams)
    if values["batch_norm"] is True and values["batch_size"] < 2:
        raise ZooError(f"model {spec.name!r}: batch_norm=true needs batch_size >= 2: batch "
                       f"norm cannot normalise one sample")


def declared_hparams(spec: ModelSpec, hparams: Mapping[str, Any]) -> dict[str, Any]:
    """Every hyperparameter ``spec`` declares, with its value in ``hparams`` (else its
    declared default) as the declared type; keys ``spec`` does not declare (an ensemble's
    own ``members``) are left out.

    The same dict whether ``hparams`` is what a model is built from (:func:`resolve_hparams`:
    only what differs from the defaults) or what it reports (``hyperparameters()``: every
    argument, or only those it was given), so that a run is identified alike before and
    after it runs. A value its declaration refuses (a row from an older plugin) is kept as
    it is.
    """
    return {declared.name: _as_declared(declared, hparams.get(declared.name, declared.default))
            for declared in spec.hparams}


def _as_declared(declared: HParam, value: Any) -> Any:
    try:
        return declared.parse(value)
    except ZooError:
        return value


def create_model(name: str, data_info: DataInfo, *, seed: int | None = None,
                 **hparams: Any) -> Any:
    """Build a registered model for data described by ``data_info``.

    Args:
        name: Registry name, optionally with a backbone: ``"vae"`` or ``"vae[cnn]"``.
        data_info: What the model is built for (modality, shape, classes ...).
        seed: Seeds Python, numpy and torch before building, so that the initial
            parameters are reproducible.
        **hparams: Overrides of the spec's defaults, checked against its declaration
            (:func:`check_hparams`); strings are converted to the declared types.

    Returns:
        The model, an instance of the spec's implementation.
    """
    base, backbone = split_model_name(name)
    spec = get_model_spec(base)
    if backbone is not None:
        hparams.setdefault("backbone", backbone)
    resolved = resolve_hparams(spec, data_info, hparams)
    cls = spec.load()
    _check_evaluate_hooks(cls, spec.tasks)
    if seed is not None:
        seed_everything(seed)
    model = cls(data_info=data_info, **resolved)
    model.zoo_name = spec.name
    return model


def _check_evaluate_hooks(cls: type, tasks: tuple[str, ...]) -> None:
    """Refuse a class without the evaluate hook of one of its ``tasks`` before it trains, not
    when it is first scored.

    Raises:
        MissingMethod: Naming the class, the hook and the task.
    """
    for task in tasks:
        protocol = TASK_PROTOCOLS[task]
        if not issubclass(cls, protocol):
            hook = next(name for name in vars(protocol) if not name.startswith("_"))
            raise MissingMethod(cls, hook, f"a {task} model")


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators (torch only if it is imported)."""
    import random
    import sys

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


#: Joins a model name and an ensemble size: ``autoencoder@5`` is five seeds of ``autoencoder``
#: as one model (:mod:`zoo.models.ensemble`).
ENSEMBLE_MARK = "@"


def split_ensemble_name(name: str) -> tuple[str, int]:
    """``"vae[cnn]@5"`` -> ``("vae[cnn]", 5)``; a name without a size is one model:
    ``"mlp"`` -> ``("mlp", 1)``.

    Raises:
        ZooError: The size after ``@`` is not an integer of at least 2.
    """
    base, mark, size = name.rpartition(ENSEMBLE_MARK)
    if not mark:
        return name, 1
    if not size.isdigit() or int(size) < 2:
        raise ZooError(f"{name!r}: an ensemble is MODEL@N with N >= 2 members "
                       f"(autoencoder@5), not @{size}")
    return base, int(size)


def ensemble_name(members: list[str]) -> str:
    """The name of an ensemble of models named ``members``: ``autoencoder@5`` for five of one
    model, ``autoencoder+deep-svdd@2`` for two models."""
    distinct = list(dict.fromkeys(members))
    return f"{'+'.join(distinct)}{ENSEMBLE_MARK}{len(members)}"


def base_model(name: str) -> str:
    """The registered model a run's model name stands for: ``vae`` for ``vae[cnn]``, and for
    an ensemble its first member's (``autoencoder`` for ``autoencoder+deep-svdd@2``)."""
    member = split_ensemble_name(name)[0].partition("+")[0]
    return split_model_name(member)[0]


def display_name(name: str, backbone: str | None) -> str:
    """How leaderboards name a model: ``vae[cnn]`` for methods, ``mlp`` for backbones, and
    ``autoencoder[mlp]@5`` for an ensemble of five."""
    base, size = split_ensemble_name(name)
    shown = f"{base}[{backbone}]" if backbone else base
    return shown if size == 1 else f"{shown}{ENSEMBLE_MARK}{size}"
