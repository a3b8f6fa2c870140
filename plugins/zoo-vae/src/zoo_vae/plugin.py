"""Registers ``vae`` (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the variational autoencoder: ``mlp`` backbone for tables and series windows
    (flattened), ``cnn`` for images."""
    register(ModelSpec(
        name="vae", kind="method", tasks=("generate", "detect"),
        modalities=("tabular", "image", "timeseries"),
        implementation="zoo_vae.lightning_module:VAE",
        default_backbones={"tabular": "mlp", "image": "cnn", "timeseries": "mlp"},
        paper="https://arxiv.org/abs/1312.6114",
        summary="Variational autoencoder (Kingma & Welling 2014); IWAE NLL, score = -ELBO"))
