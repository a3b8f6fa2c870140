"""Registers the ``transformer`` backbone and sequence model (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from zoo import HParam, ModelSpec, hookimpl
from zoo.plugins.specs import (
    ACTIVATION,
    BATCH_SIZE,
    BIAS,
    DROPOUT,
    GRAD_CLIP,
    LR,
    LR_SCHEDULE,
    MIXUP,
    OPTIMIZER,
    WEIGHT_DECAY,
)

#: ``TransformerModel``'s hyperparameters (nanoGPT's names).
HPARAMS = (
    HParam("layers", int, 4, low=1, search=(1, 8), help="Transformer blocks"),
    HParam("heads", int, 4, low=1, help="Attention heads; dim must be a multiple of it"),
    HParam("dim", int, 128, low=1, help="Width of the residual stream (a multiple of heads)"),
    DROPOUT,
    replace(BIAS, default=False, help="Biases in the linear layers and layer norms"),
    replace(ACTIVATION, default="gelu"), MIXUP, replace(OPTIMIZER, default="adamw"), LR,
    LR_SCHEDULE, replace(WEIGHT_DECAY, default=0.1), BATCH_SIZE, GRAD_CLIP,
)

#: The text-gen suite's sizes per budget: nanoGPT's CPU (``quick``) and GPU (``full``)
#: shakespeare-char recipes, ``full`` with its warmup and cosine decay to a tenth of ``lr``.
RECIPES = {
    "text-gen/smoke": {"layers": 1, "heads": 2, "dim": 32, "dropout": 0.0, "batch_size": 32},
    "text-gen/quick": {"layers": 4, "heads": 4, "dim": 128, "dropout": 0.0, "batch_size": 12,
                       "lr": 1e-3},
    "text-gen/full": {"layers": 6, "heads": 6, "dim": 384, "dropout": 0.2, "batch_size": 64,
                      "lr": 1e-3, "lr_schedule": "cosine"},
}


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
        hparams=HPARAMS,
        recipes=RECIPES,
        paper="https://arxiv.org/abs/1706.03762",
        summary="Pre-norm transformer (GPT-2 / nanoGPT blocks): sequence model and backbone",
    ))
