"""Registers the ``transformer`` backbone and sequence model (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register ``transformer``: a sequence classifier, regressor, generator and forecaster
    on its own, an encoder / causal / decoder family for methods."""
    register(ModelSpec(
        name="transformer",
        kind="backbone",
        tasks=("classify", "regress", "generate", "detect"),
        modalities=("text", "timeseries"),
        implementation="zoo_transformer.lightning_module:TransformerModel",
        builder="zoo_transformer.backbone:TransformerBackbone",
        paper="https://arxiv.org/abs/1706.03762",
        summary="Pre-norm transformer (GPT-2 / nanoGPT blocks): sequence model and backbone",
    ))
