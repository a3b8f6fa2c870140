"""Registers the ``mlp`` backbone and supervised model (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="mlp",
        kind="backbone",
        tasks=("classify", "regress"),
        modalities=("tabular", "image", "timeseries"),  # any sample, flattened
        implementation="zoo_mlp.lightning_module:MLPModel",
        builder="zoo_mlp.torch_model:MLPBackbone",
        defaults={"image": {"hidden": (512, 256)}},
        paper="https://doi.org/10.1038/323533a0",
        summary="Multilayer perceptron: classifier / regressor, and encoder/decoder backbone",
    ))
