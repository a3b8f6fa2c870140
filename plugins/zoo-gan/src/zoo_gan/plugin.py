"""Registers ``gan`` (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the GAN: DCGAN (non-saturating loss) or WGAN-GP, ``mlp`` for tables,
    ``cnn`` for images."""
    register(ModelSpec(
        name="gan", kind="method", tasks=("generate",), modalities=("tabular", "image"),
        implementation="zoo_gan.lightning_module:GAN",
        default_backbones={"tabular": "mlp", "image": "cnn"},
        paper="https://arxiv.org/abs/1511.06434",
        summary="GAN: DCGAN with the non-saturating loss, or WGAN-GP (loss=wgan-gp)"))
