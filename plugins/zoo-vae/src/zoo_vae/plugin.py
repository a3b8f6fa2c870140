"""Registers ``vae`` (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl

#: pythae's binarised-MNIST VAE (examples/scripts/reproducibility/vae.py): one hidden layer of
#: 400 and a 40-value latent. On zoo's binarised MNIST its validation negative ELBO is 99.2
#: nats after 100 epochs; the mlp backbone's own (256, 128) with 16 was at 102.5 after 35,
#: gaining under 0.1 an epoch.
PYTHAE_BINARY_MNIST = {"hidden": (400,), "latent_dim": 40}


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the variational autoencoder: ``mlp`` backbone for tables and series windows
    (flattened), ``cnn`` for images."""
    register(ModelSpec(
        name="vae", kind="method", tasks=("generate", "detect"),
        modalities=("tabular", "image", "timeseries"),
        implementation="zoo_vae.lightning_module:VAE",
        default_backbones={"tabular": "mlp", "image": "cnn", "timeseries": "mlp"},
        defaults={"image[mlp]": PYTHAE_BINARY_MNIST},
        paper="https://arxiv.org/abs/1312.6114",
        summary="Variational autoencoder (Kingma & Welling 2014); IWAE NLL, score = -ELBO"))
