"""The conformance kit: checks that a registered model honours the zoo's contract.

For each (model, modality, task) the spec declares, :func:`check_model` checks that the spec's
hyperparameter declaration matches the ``__init__`` (:func:`check_declaration`), builds the
model on tiny synthetic data, trains it briefly (the metrics ``fit`` returns finite), runs
every evaluate hook its tasks require and checks shapes and finiteness, determinism under a
seed, and that a save/load round trip gives identical outputs; :func:`check_onnx` checks
ONNX export parity. With the pytest plugin (installed with zoo) a test asks for the
``zoo_model_case`` fixture and is run once per registered case::

    def test_conformance(zoo_model_case, tmp_path):
        zoo_model_case.check(tmp_path)

``pytest --zoo-models 'vae*'`` (or the ini option ``zoo_models``) narrows the cases.

Owns: the conformance kit and its pytest plugin. May import: zoo.errors, zoo.plugins,
zoo.data, zoo.training, zoo.models (a test checks it; imports run downward only).
"""

from __future__ import annotations

import fnmatch
import inspect
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np

from zoo.data.types import Arrays, DataInfo, Splits
from zoo.models import TASK_PROTOCOLS, LikelihoodModel, ZooModel, create_model
from zoo.plugins import get_host

TINY_SHAPES = {"tabular": (6,), "image": (1, 8, 8), "text": (16,), "timeseries": (16, 1)}
N_CLASSES = 3
VOCAB = 12


@dataclass(frozen=True)
class ModelCase:
    """One (model, modality, task) combination a spec declares."""

    model: str
    modality: str
    task: str

    @property
    def id(self) -> str:
        return f"{self.model}-{self.modality}-{self.task}"

    def check(self, tmp_path: Path) -> None:
        check_model(self.model, self.modality, self.task, tmp_path)

    def check_onnx(self, tmp_path: Path) -> None:
        check_onnx(self.model, self.modality, self.task, tmp_path)


def model_cases(pattern: str = "*") -> list[ModelCase]:
    """Every (model, modality, task) of the registered models matching ``pattern``."""
    return [ModelCase(name, modality, task)
            for name, spec in sorted(get_host().models().items())
            if fnmatch.fnmatchcase(name, pattern)
            for modality in spec.modalities for task in spec.tasks]


def tiny_splits(modality: str, task: str, seed: int = 0, n: int = 96) -> Splits:
    """Small synthetic train / validation / test splits with a learnable signal."""
    rng = np.random.default_rng(seed)
    shape = TINY_SHAPES[modality]
    info = DataInfo(modality=modality, shape=shape, task=task,
                    n_classes=N_CLASSES if task == "classify" else None,
                    target_dim=1 if task == "regress" else None,
                    vocab_size=VOCAB if modality == "text" else None,
                    value_range=(0.0, 1.0) if modality == "image" else None)

    def part(size: int, anomalies: int = 0) -> Arrays:
        labels = rng.integers(0, N_CLASSES, size)
        if modality == "text":
            x = ((labels[:, None] + np.arange(shape[0])) % VOCAB).astype(np.int64)
        else:
            x = rng.normal(size=(size, *shape)).astype(np.float32) * 0.3
            x += labels.reshape(-1, *([1] * len(shape))).astype(np.float32)
            if modality == "image":
                x = 1 / (1 + np.exp(-x))
        if task == "classify":
            return Arrays(x, labels.astype(np.int64))
        if task == "regress":
            return Arrays(x, labels.astype(np.float32) * 2 + 1)
        if task == "detect":
            y = np.zeros(size, dtype=np.int64)
            if anomalies:
                y[-anomalies:] = 1
                if modality != "text":
                    x[-anomalies:] = x[-anomalies:] * 0 + (0.5 if modality == "image" else 8.0)
            return Arrays(x, y)
        return Arrays(x)

    train = part(n)
    if task == "detect":
        train = Arrays(train.x)  # detectors never see labels
    return Splits(train, part(n // 4), part(n // 2, anomalies=n // 8 if task == "detect" else 0),
                  info)


def planted_outliers(seed: int = 0, dim: int = 5, n_train: int = 300,
                     n_val: int = 0) -> Splits:
    """Tabular detection data any detector should solve: train (and validate) on a standard
    Gaussian blob; test on 200 fresh blob points plus 20 points 6-10 units outside it.

    The same seed gives the same arrays; ``n_val=0`` gives no validation split.
    """
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(20, dim))
    far = directions / np.linalg.norm(directions, axis=1, keepdims=True) * rng.uniform(
        6, 10, size=(20, 1))
    x_test = np.concatenate([rng.normal(size=(200, dim)), far]).astype(np.float32)
    y_test = np.repeat(np.array([0, 1], dtype=np.int64), [200, 20])
    train = Arrays(rng.normal(size=(n_train, dim)).astype(np.float32))
    val = Arrays(rng.normal(size=(n_val, dim)).astype(np.float32)) if n_val else None
    return Splits(train, val, Arrays(x_test, y_test), DataInfo("tabular", (dim,), "detect"))


def _train(name: str, splits: Splits, seed: int) -> Any:
    from zoo.training import TrainConfig

    model = create_model(name, splits.info, seed=seed)
    metrics = model.fit(splits, TrainConfig(seed=seed, accelerator="cpu", max_epochs=2,
                                            patience=None))
    # A run whose fit returns a NaN or inf metric is stored diverged, without a score.
    non_finite = {key: value for key, value in metrics.items() if not np.isfinite(value)}
    assert not non_finite, f"fit returned non-finite metrics {non_finite}"
    return model


def _outputs(model: Any, task: str, splits: Splits) -> dict[str, Any]:
    import torch

    x = splits.test.x
    n = len(x)
    outputs: dict[str, Any] = {}
    if task == "classify":
        logits = model.predict(x)
        assert tuple(logits.shape) == (n, N_CLASSES), f"predict gave {tuple(logits.shape)}"
        outputs["predict"] = logits
    elif task == "regress":
        values = model.predict(x)
        assert tuple(values.shape) == (n,), f"predict gave {tuple(values.shape)}, wanted ({n},)"
        outputs["predict"] = values
    elif task == "detect":
        scores = model.score(x)
        assert tuple(scores.shape) == (n,), f"score gave {tuple(scores.shape)}, wanted ({n},)"
        outputs["score"] = scores
    elif task == "generate":
        samples = model.sample(5, generator=torch.Generator().manual_seed(0))
        assert tuple(samples.shape) == (5, *splits.info.shape), \
            f"sample gave {tuple(samples.shape)}"
        outputs["sample"] = samples
        if isinstance(model, LikelihoodModel):
            ll = model.log_likelihood(x)
            assert tuple(ll.shape) == (n,), f"log_likelihood gave {tuple(ll.shape)}"
            outputs["log_likelihood"] = ll
    for hook, value in outputs.items():
        assert isinstance(value, torch.Tensor), f"{hook} must return a torch.Tensor"
        if value.is_floating_point():
            assert bool(value.isfinite().all()), f"{hook} returned non-finite values"
    return outputs


def _assert_same(a: dict[str, Any], b: dict[str, Any], what: str) -> None:
    import torch

    for hook in a:
        assert torch.allclose(a[hook].double(), b[hook].double(), rtol=1e-4, atol=1e-5), \
            f"{hook} differs {what}"


def check_spec(name: str) -> None:
    """The implementation imports, is a ZooModel, has typed defaults and the task's hooks."""
    spec = get_host().model(name)
    cls = spec.load()
    assert issubclass(cls, ZooModel), f"{spec.implementation} must subclass zoo.ZooModel"
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert parameters and parameters[0].name == "data_info", \
        "__init__ must take data_info first"
    for p in parameters[1:]:
        assert p.default is not p.empty, f"__init__ argument {p.name!r} needs a default"
        assert p.annotation is not p.empty, f"__init__ argument {p.name!r} needs a type hint"
    for task in spec.tasks:
        protocol = TASK_PROTOCOLS[task]
        assert issubclass(cls, protocol), \
            f"a {task} model must implement zoo.models.{protocol.__name__}"
    check_declaration(name)


def check_declaration(name: str) -> None:
    """The spec's ``hparams`` declare exactly the implementation's ``__init__`` arguments (all
    but ``data_info``), each with the ``__init__`` default (or the spec's ``"*"`` default) and
    type (a ``Literal`` hint as ``str`` with the same ``choices``)."""
    spec = get_host().model(name)
    cls = spec.load()
    arguments = {p.name: p for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
                 if p.name != "data_info" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    declared = {h.name: h for h in spec.hparams}
    undeclared = sorted(set(arguments) - set(declared))
    assert not undeclared, f"{name}: __init__ arguments missing from the spec's hparams: " \
                           f"{undeclared}"
    unknown = sorted(set(declared) - set(arguments))
    assert not unknown, f"{name}: hparams declared that __init__ does not take: {unknown}"
    hints = typing.get_type_hints(cls.__init__)
    for argument in arguments.values():
        hparam = declared[argument.name]
        default = spec.defaults.get("*", {}).get(argument.name, argument.default)
        assert hparam.default == default, \
            f"{name}: {argument.name} is declared with default {hparam.default!r}, " \
            f"__init__ has {default!r}"
        if argument.name in hints:
            hint, choices = _declared_form(hints[argument.name])
            assert (hint, choices) == _declared_form(hparam.type, hparam.choices), \
                f"{name}: {argument.name} is declared as {hparam.type_name()} " \
                f"{list(hparam.choices)}, __init__ takes {hints[argument.name]}"


def _declared_form(annotation: Any, choices: tuple[str, ...] = ()) -> tuple[set[Any], set[Any]]:
    """The options of a type (a ``Literal`` as ``str``) and the strings it allows."""
    options = (typing.get_args(annotation)
               if typing.get_origin(annotation) in (Union, types.UnionType) else (annotation,))
    allowed, literals = set(), set(choices)
    for option in options:
        if typing.get_origin(option) is Literal:
            allowed.add(str)
            literals |= set(typing.get_args(option))
        else:
            allowed.add(option)
    return allowed, literals


def check_model(name: str, modality: str, task: str, tmp_path: Path) -> None:
    """Run the whole conformance check for one case; raises AssertionError on a breach."""
    from zoo.models.checkpoints import load_model, save_model

    check_spec(name)
    splits = tiny_splits(modality, task)
    model = _train(name, splits, seed=0)
    first = _outputs(model, task, splits)
    again = _outputs(_train(name, splits, seed=0), task, splits)
    _assert_same(first, again, "between two trainings with the same seed")
    save_model(model, tmp_path / "checkpoint")
    restored = load_model(tmp_path / "checkpoint")
    _assert_same(first, _outputs(restored, task, splits), "after a save/load round trip")


def check_onnx(name: str, modality: str, task: str, tmp_path: Path) -> None:
    """ONNX parity for one case: the model's data-taking evaluate hooks, exported as
    ``zoo export --onnx`` exports them (traced on the validation rows), give in ONNX Runtime
    what they give eagerly on other rows (the test rows); a model that cannot be exported
    is refused with the reason it declares (``ZooModel.onnx_unsupported``)."""
    import pytest

    from zoo.errors import ZooError
    from zoo.models.onnx import (
        PARITY_ATOL,
        PARITY_RTOL,
        OnnxModel,
        export_onnx,
        unsupported_reason,
    )

    splits = tiny_splits(modality, task)
    # Untrained: training changes the weights, not the graph that is traced.
    model = create_model(name, splits.info, seed=0)
    reason = unsupported_reason(model, task)
    if reason:
        with pytest.raises(ZooError, match="cannot be exported to ONNX"):
            export_onnx(model, task, tmp_path, splits.val.x)
        return
    section = export_onnx(model, task, tmp_path, splits.val.x)
    exported = OnnxModel(tmp_path, section, splits.info)
    for hook in section["files"]:
        eager = getattr(model, hook)(splits.test.x).double().numpy()
        np.testing.assert_allclose(getattr(exported, hook)(splits.test.x).double().numpy(),
                                   eager, rtol=PARITY_RTOL, atol=PARITY_ATOL,
                                   err_msg=f"{name}: ONNX {hook} differs from eager")
