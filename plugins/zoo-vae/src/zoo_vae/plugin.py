"""Registers ``vae`` (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from zoo import HParam, ModelSpec, hookimpl
from zoo.plugins.specs import (
    ACTIVATION,
    BACKBONE,
    BATCH_NORM,
    BATCH_SIZE,
    DROPOUT,
    HIDDEN,
    LR,
    LR_SCHEDULE,
    OPTIMIZER,
    WEIGHT_DECAY,
)

#: pythae's binarised-MNIST VAE (examples/scripts/reproducibility/vae.py): one hidden layer of
#: 400 and a 40-value latent. On zoo's binarised MNIST its validation negative ELBO is 99.2
#: nats after 100 epochs; the mlp backbone's own (256, 128) with 16 was at 102.5 after 35,
#: gaining under 0.1 an epoch.
PYTHAE_BINARY_MNIST = {"hidden": (400,), "latent_dim": 40}


#: ``VAE``'s hyperparameters; ``none`` for a backbone option keeps the backbone's own.
HPARAMS = (
    BACKBONE,
    HParam("latent_dim", int, 16, low=1, search=(2, 64), log=True, help="Size of z"),
    replace(HIDDEN, type=tuple[int, ...] | None, default=None,
            help="Hidden sizes of the encoder; the decoder mirrors them; none: the backbone's"),
    replace(DROPOUT, type=float | None, default=None),
    replace(BATCH_NORM, type=bool | None, default=None),
    replace(ACTIVATION, type=str | None, default=None),
    HParam("likelihood", str, "auto", choices=("auto", "bernoulli", "gaussian"),
           help="p(x|z); auto: bernoulli for data in [0, 1], else gaussian"),
    HParam("gaussian_std", float | None, None, low=0, low_inclusive=False,
           help="gaussian only: a fixed standard deviation; none: learned per feature"),
    HParam("beta", float, 1.0, low=0, low_inclusive=False, search=(0.1, 10.0), log=True,
           help="Weight of the KL term (1: the VAE; > 1: beta-VAE)"),
    HParam("dynamic_binarization", bool, False,
           help="bernoulli only: draw each training batch afresh as binary pixels"),
    HParam("iw_samples", int, 200, low=1, help="Importance samples of log_likelihood"),
    HParam("score_samples", int, 10, low=1, help="Latent draws averaged by score"),
    OPTIMIZER, LR, LR_SCHEDULE, WEIGHT_DECAY, replace(BATCH_SIZE, default=100),
)


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
        hparams=HPARAMS,
        paper="https://arxiv.org/abs/1312.6114",
        summary="Variational autoencoder (Kingma & Welling 2014); IWAE NLL, score = -ELBO"))
