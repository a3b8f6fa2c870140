"""Registers the ``mlp`` backbone and supervised model (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from zoo import ModelSpec, hookimpl
from zoo.plugins.specs import (
    ACTIVATION,
    BATCH_NORM,
    BATCH_SIZE,
    DROPOUT,
    HIDDEN,
    LR,
    MIXUP,
    OPTIMIZER,
    WEIGHT_DECAY,
)

#: ``MLPModel``'s hyperparameters (the backbone's options are the first four).
HPARAMS = (replace(HIDDEN, default=(256, 256)), replace(DROPOUT, default=0.1),
           replace(BATCH_NORM, default=False), ACTIVATION, MIXUP, OPTIMIZER, LR, WEIGHT_DECAY,
           replace(BATCH_SIZE, default=128))


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
        hparams=HPARAMS,
        paper="https://doi.org/10.1038/323533a0",
        summary="Multilayer perceptron: classifier / regressor, and encoder/decoder backbone",
    ))
