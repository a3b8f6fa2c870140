"""Registers ``gan`` (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from zoo import HParam, ModelSpec, hookimpl
from zoo.plugins.specs import BACKBONE, BATCH_NORM, BATCH_SIZE, HIDDEN, LR

#: ``GAN``'s hyperparameters; ``none`` takes the paper's setting for the loss.
HPARAMS = (
    BACKBONE,
    HParam("loss", str, "non-saturating", choices=("non-saturating", "wgan-gp"),
           search=("non-saturating", "wgan-gp"), help="non-saturating (DCGAN) or wgan-gp"),
    HParam("latent_dim", int, 64, low=1, search=(16, 256), log=True,
           help="Size of the generator's input noise"),
    replace(HIDDEN, type=tuple[int, ...] | None, default=None,
            help="Hidden widths of the discriminator; the generator's reversed; "
                 "none: the backbone's"),
    replace(BATCH_NORM, help="Batch normalisation (never in the WGAN-GP critic)"),
    HParam("n_critic", int | None, None, low=1,
           help="Discriminator steps per generator step; none: 1 (non-saturating), 5 (wgan-gp)"),
    HParam("gp_weight", float, 10.0, low=0, search=(1.0, 20.0),
           help="Weight of the gradient penalty (wgan-gp)"),
    replace(LR, type=float | None, default=None,
            help="Adam's learning rate; none: 2e-4 (non-saturating), 1e-4 (wgan-gp)"),
    HParam("betas", tuple[float, float] | None, None, low=0, high=1, high_inclusive=False,
           help="Adam's beta1,beta2; none: 0.5,0.999 (non-saturating), 0.0,0.9 (wgan-gp)"),
    replace(BATCH_SIZE, low=2, help="Samples per mini-batch (batch norm needs two)"),
    HParam("collapse_threshold", float, 0.1, low=0, high=1, high_inclusive=False,
           help="Smallest accepted sample diversity, relative to the data's (0: no check)"),
)


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the GAN: DCGAN (non-saturating loss) or WGAN-GP, ``mlp`` for tables,
    ``cnn`` for images."""
    register(ModelSpec(
        name="gan", kind="method", tasks=("generate",), modalities=("tabular", "image"),
        implementation="zoo_gan.lightning_module:GAN",
        default_backbones={"tabular": "mlp", "image": "cnn"},
        hparams=HPARAMS,
        paper="https://arxiv.org/abs/1511.06434",
        summary="GAN: DCGAN with the non-saturating loss, or WGAN-GP (loss=wgan-gp)"))
