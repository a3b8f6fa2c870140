"""The GAN as a zoo model: manual optimisation of generator and discriminator, ``sample()``.

:class:`GAN` (``gan``) trains a generator and a discriminator, both built by a backbone by name
(``mlp`` for tables, ``cnn`` for images), with the non-saturating loss (DCGAN) or the
Wasserstein loss with gradient penalty (WGAN-GP). A GAN has no validation loss to select
parameters on: it keeps its final parameters, and checks after training that its samples are
not collapsed (:mod:`zoo_gan.collapse`).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import torch
from zoo import DataInfo, ZooError  # DataInfo at run time: create_model reads __init__ hints
from zoo.data.types import Splits
from zoo.models.backbones import get_backbone
from zoo.models.module import ZooModule
from zoo.training import fit_lightning

from zoo_gan.collapse import check_diversity
from zoo_gan.loss import (
    critic_loss,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    interpolate,
    wasserstein_generator_loss,
)
from zoo_gan.torch_model import Discriminator, Generator

if TYPE_CHECKING:
    import numpy as np
    from zoo.training import TrainConfig

Loss = Literal["non-saturating", "wgan-gp"]

#: Adam's settings and discriminator steps per generator step, per loss, when not given:
#: DCGAN's (Radford et al. 2016, section 4) and WGAN-GP's (Gulrajani et al. 2017, algorithm 1).
PAPER_SETTINGS: dict[str, dict[str, Any]] = {
    "non-saturating": {"lr": 2e-4, "betas": (0.5, 0.999), "n_critic": 1},
    "wgan-gp": {"lr": 1e-4, "betas": (0.0, 0.9), "n_critic": 5},
}

#: Options that make a backbone's networks follow DCGAN's architecture guidelines: strided
#: (transposed) convolutions instead of pooling.
DCGAN_OPTIONS: dict[str, dict[str, Any]] = {"cnn": {"pool": "stride"}}

#: Samples generated (and training samples drawn) by the collapse check after training.
COLLAPSE_SAMPLES = 500

#: Batches of latent vectors that set the generator's batch-norm statistics after training.
STANDING_BATCHES = 16
#: The optimisers' places in ``configure_optimizers``.
GENERATOR, DISCRIMINATOR = 0, 1


class GAN(ZooModule):
    """Generative adversarial network: DCGAN with the non-saturating loss, or WGAN-GP.

    The generator is the backbone's decoder from ``latent_dim`` standard normal values to a
    sample (ReLU, batch norm), its raw output mapped into the data's range (``sigmoid`` scaled
    to ``value_range`` for images, identity for standardised tables; see
    :class:`zoo_gan.torch_model.Generator`). The discriminator is the backbone's encoder to one
    value (leaky ReLU; batch norm only with the non-saturating loss: the WGAN-GP critic has
    none, because the gradient penalty is defined per sample).

    - ``non-saturating``: the discriminator minimises the cross-entropy of real vs generated
      samples; the generator minimises ``-log D(G(z))`` (Goodfellow et al. 2014).
    - ``wgan-gp``: the critic minimises ``E[D(G(z))] - E[D(x)] + gp_weight * E[(||grad D||
      - 1)^2]`` at random points between real and generated samples, ``n_critic`` times per
      generator step; the generator minimises ``-E[D(G(z))]``.

    Trained with Lightning's manual optimisation: one discriminator step on every batch, one
    generator step every ``n_critic`` batches. DDP-safe: every process takes the same steps
    (its own batch, its own latent draws and its own penalty points), and both optimisers'
    gradients are averaged across processes.

    After training, ``fit`` draws 500 samples and raises :class:`zoo_gan.collapse.ModeCollapse`
    (the run is ``diverged``) if their mean pairwise distance is below ``collapse_threshold``
    times that of 500 training samples. There is no ``log_likelihood``: a GAN defines its density
    only implicitly and has no tractable likelihood; suites score its samples (FID / KID).

    Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
    Generative Adversarial Networks", ICLR 2016, https://arxiv.org/abs/1511.06434; Goodfellow
    et al., "Generative Adversarial Nets", NeurIPS 2014, https://arxiv.org/abs/1406.2661;
    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
    https://arxiv.org/abs/1704.00028.

    Args:
        data_info: The data the model is built for.
        backbone: Backbone (by name) that builds the generator and the discriminator.
        loss: ``non-saturating`` (DCGAN) or ``wgan-gp``.
        latent_dim: Size of the generator's input noise.
        hidden: Hidden widths (channels for ``cnn``) of the discriminator; the generator uses
            them reversed. ``None``: the backbone's own defaults.
        batch_norm: Batch normalisation in the generator, and in the discriminator with the
            non-saturating loss (never in the WGAN-GP critic).
        n_critic: Discriminator steps per generator step; ``None``: 1 (non-saturating), 5
            (WGAN-GP).
        gp_weight: Weight ``lambda`` of the gradient penalty (``wgan-gp`` only).
        lr: Adam's learning rate for both networks; ``None``: 2e-4 (non-saturating), 1e-4
            (WGAN-GP).
        betas: Adam's ``(beta1, beta2)``; ``None``: ``(0.5, 0.999)`` (non-saturating),
            ``(0.0, 0.9)`` (WGAN-GP).
        batch_size: Real (and generated) samples per mini-batch.
        collapse_threshold: Smallest accepted ratio of the generated samples' mean pairwise
            distance to the training data's, in ``[0, 1)``; 0 turns the check off.
    """

    #: Nothing is selected on validation rows: suites give them to training instead.
    uses_validation = False

    def __init__(self, data_info: DataInfo, backbone: str = "mlp",
                 loss: Loss = "non-saturating", latent_dim: int = 64,
                 hidden: tuple[int, ...] | None = None, batch_norm: bool = True,
                 n_critic: int | None = None, gp_weight: float = 10.0, lr: float | None = None,
                 betas: tuple[float, float] | None = None, batch_size: int = 64,
                 collapse_threshold: float = 0.1) -> None:
        super().__init__(data_info)
        _check_hyperparameters(latent_dim, n_critic, gp_weight, lr, betas, batch_size,
                               collapse_threshold)
        self.save_hyperparameters(ignore=["data_info"])
        paper = PAPER_SETTINGS[loss]
        self.n_critic: int = paper["n_critic"] if n_critic is None else n_critic
        self.lr: float = paper["lr"] if lr is None else lr
        self.betas: tuple[float, float] = paper["betas"] if betas is None else tuple(betas)
        self.generator, self.discriminator = self._networks(data_info)
        self._noise: torch.Generator | None = None  # per-process latent draws, while fitting
        self._batches = 0

    def _networks(self, info: DataInfo) -> tuple[Generator, Discriminator]:
        hp = self.hparams
        builder = get_backbone(hp["backbone"])
        extra = DCGAN_OPTIONS.get(hp["backbone"], {})
        d_widths: dict[str, Any] = {}
        g_widths: dict[str, Any] = {}
        if hp["hidden"] is not None:
            d_widths["hidden"] = tuple(hp["hidden"])
            g_widths["hidden"] = tuple(reversed(hp["hidden"]))
        decoder = builder.decoder(hp["latent_dim"], info, batch_norm=hp["batch_norm"],
                                  activation="relu", **g_widths, **extra)
        encoder = builder.encoder(info, 1, batch_norm=hp["batch_norm"] and not self.wasserstein,
                                  activation="leaky_relu", **d_widths, **extra)
        return (Generator(decoder, hp["latent_dim"], info.value_range),
                Discriminator(encoder, info.value_range))

    @property
    def wasserstein(self) -> bool:
        return self.hparams["loss"] == "wgan-gp"

    # -- training ------------------------------------------------------------------------------
    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        """Train on ``splits.train``; keep the final parameters; check the samples' diversity.

        The validation split is not used: a GAN's losses rank no parameters (the discriminator's
        loss measures the current discriminator as much as the generator).

        Returns:
            ``final_d_loss``, ``final_g_loss`` (the last epoch's means), ``epochs``, ``steps``
            (optimiser steps of both networks) and ``diversity_ratio``.

        Raises:
            zoo.training.Diverged: A loss or a generated sample became non-finite.
            zoo_gan.collapse.ModeCollapse: The generated samples are collapsed.
        """
        train_only = Splits(splits.train, None, splits.test, splits.info)
        with warnings.catch_warnings():
            # the data module offers a validation loader; without validation rows it is unused
            warnings.filterwarnings("ignore", message=".*no `validation_step`")
            metrics = fit_lightning(self, train_only, config,
                                    batch_size=int(self.hparams["batch_size"]), keep_best=False)
        self.standing_statistics(seed=config.seed)
        metrics["diversity_ratio"] = self.check_diversity(splits.train.x, seed=config.seed)
        return metrics

    def standing_statistics(self, seed: int = 0) -> None:
        """Fix the generator's batch-norm statistics for sampling: exact means over
        ``STANDING_BATCHES`` training-sized batches of latent vectors drawn with ``seed``.

        Every DDP process computes the same statistics (same parameters, same draws).
        """
        draw = torch.Generator().manual_seed(seed)
        size = (int(self.hparams["batch_size"]), int(self.hparams["latent_dim"]))
        self.generator.standing_statistics(
            torch.randn(size, generator=draw).to(self.device) for _ in range(STANDING_BATCHES))

    def check_diversity(self, x: np.ndarray | torch.Tensor, seed: int = 0) -> float:
        """The diversity ratio of 500 samples against 500 rows of ``x`` (both drawn with
        ``seed``), if it is at least ``collapse_threshold``.

        Raises:
            zoo_gan.collapse.ModeCollapse: The ratio is below ``collapse_threshold``.
        """
        draw = torch.Generator().manual_seed(seed)
        real = torch.as_tensor(x)
        real = real[torch.randperm(len(real), generator=draw)[:COLLAPSE_SAMPLES]]
        generated = self.sample(len(real), generator=draw)
        return check_diversity(generated, real, self.hparams["collapse_threshold"])

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.make_optimizer("adam", self.generator.parameters(), lr=self.lr,
                                    betas=self.betas),
                self.make_optimizer("adam", self.discriminator.parameters(), lr=self.lr,
                                    betas=self.betas)]

    def on_fit_start(self) -> None:
        # Each DDP process draws its own latent vectors (the same ones in every process would
        # give the discriminator copies of one generated batch); the base seed is the one the
        # fit loop set, so a run is reproducible.
        self._noise = torch.Generator(device=self.device)
        self._noise.manual_seed(torch.initial_seed() + self.global_rank)
        self._batches = 0

    def latent(self, n: int) -> torch.Tensor:
        """``n`` latent vectors from this process's training noise."""
        return torch.randn(n, self.hparams["latent_dim"], generator=self._noise,
                           device=self.device)

    def optimization_step(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """One discriminator step; one generator step every ``n_critic`` batches.

        Returns the sum of the losses computed, so that the fit loop's divergence guard stops
        the run when either becomes non-finite.
        """
        real = batch[0]
        d_loss = self.discriminator_loss(real)
        self.take_step(d_loss, DISCRIMINATOR)
        self.log_epoch_mean("d_loss", d_loss, len(real))
        self._batches += 1
        if self._batches % self.n_critic:
            return d_loss.detach()
        g_loss = self.generator_loss(len(real))
        self.take_step(g_loss, GENERATOR)
        self.log_epoch_mean("g_loss", g_loss, len(real))
        return (d_loss + g_loss).detach()

    def discriminator_loss(self, real: torch.Tensor) -> torch.Tensor:
        """The discriminator's (critic's) loss on a real batch and as many generated samples."""
        fake = self.generator(self.latent(len(real)))
        # Under DDP every backward has to reach every parameter (the gradient reducer waits
        # for each one; finding unused parameters is off). The generator's gradients computed
        # here are cleared before its own step.
        if self.trainer.world_size == 1:
            fake = fake.detach()
        real_out, fake_out = self.discriminator(real), self.discriminator(fake)
        if not self.wasserstein:
            return discriminator_loss(real_out, fake_out)
        mix = torch.rand(len(real), generator=self._noise, device=self.device)
        penalty = gradient_penalty(self.discriminator, interpolate(real, fake, mix))
        return critic_loss(real_out, fake_out) + self.hparams["gp_weight"] * penalty

    def generator_loss(self, n: int) -> torch.Tensor:
        """The generator's loss on ``n`` fresh samples."""
        scores = self.discriminator(self.generator(self.latent(n)))
        return wasserstein_generator_loss(scores) if self.wasserstein else generator_loss(scores)

    # -- evaluate hook -------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples ``(n, *data_info.shape)`` in the data's space, on the CPU.

        The latent vectors are drawn on the CPU from ``generator`` (torch's global generator
        when ``None``), so a seeded generator gives the same samples on any device. The
        generator network runs in eval mode (batch norm with its running statistics), so a
        sample does not depend on the others drawn with it.
        """
        if n < 0:
            raise ZooError(f"gan: cannot draw n={n} samples; n must be >= 0")
        z = torch.randn(n, self.hparams["latent_dim"], generator=generator)
        was_training = self.training
        self.eval()
        try:
            samples = [self.generator(chunk.to(self.device)).cpu() for chunk in z.split(4096)]
        finally:
            self.train(was_training)
        return torch.cat(samples) if n else torch.empty(0, *self.data_info.shape)


def _check_hyperparameters(latent_dim: int, n_critic: int | None, gp_weight: float,
                           lr: float | None, betas: tuple[float, float] | None,
                           batch_size: int, collapse_threshold: float) -> None:
    """A :class:`ZooError` naming the valid range of the first bad hyperparameter."""
    if latent_dim < 1:
        raise ZooError(f"gan: latent_dim={latent_dim} must be >= 1")
    if n_critic is not None and n_critic < 1:
        raise ZooError(f"gan: n_critic={n_critic} must be >= 1")
    if gp_weight < 0:
        raise ZooError(f"gan: gp_weight={gp_weight} must be >= 0")
    if lr is not None and lr <= 0:
        raise ZooError(f"gan: lr={lr} must be positive")
    if betas is not None and (len(betas) != 2 or not all(0 <= b < 1 for b in betas)):
        raise ZooError(f"gan: betas={betas} must be two numbers in [0, 1)")
    if batch_size < 2:
        raise ZooError(f"gan: batch_size={batch_size} must be >= 2 (batch norm needs two)")
    if not 0 <= collapse_threshold < 1:
        raise ZooError(f"gan: collapse_threshold={collapse_threshold} must be in [0, 1)")
