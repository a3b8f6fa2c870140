"""Registers the ``cnn`` backbone and supervised model (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from zoo import HParam, ModelSpec, hookimpl
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

#: ``CNNModel``'s hyperparameters.
HPARAMS = (
    replace(HIDDEN, default=(32, 64)),
    HParam("kernel_size", int, 5, low=1,
           help="Odd side of the convolution kernels (same padding)"),
    BATCH_NORM, ACTIVATION,
    HParam("pool", str, "max", choices=("max", "stride"), search=("max", "stride"),
           help="How a block halves the resolution: 2x2 max-pooling or stride-2 convs"),
    replace(DROPOUT, default=0.25), MIXUP, replace(OPTIMIZER, default="adamw"), LR,
    replace(WEIGHT_DECAY, default=1e-4), replace(BATCH_SIZE, default=128),
)


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register ``cnn``: an image classifier on its own, an encoder/decoder family for
    methods (``vae[cnn]``, ``deep-svdd[cnn]``)."""
    register(ModelSpec(
        name="cnn",
        kind="backbone",
        tasks=("classify",),
        modalities=("image",),
        implementation="zoo_cnn.lightning_module:CNNModel",
        builder="zoo_cnn.backbone:CNNBackbone",
        hparams=HPARAMS,
        paper="https://doi.org/10.1109/5.726791",
        summary="Convolutional network (LeNet / DCGAN blocks): image classifier and backbone",
    ))
