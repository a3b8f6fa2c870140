"""Registers the ``cnn`` backbone and supervised model (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl


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
        paper="https://doi.org/10.1109/5.726791",
        summary="Convolutional network (LeNet / DCGAN blocks): image classifier and backbone",
    ))
