"""Plain ``nn.Module``s of a GAN (no Lightning, no zoo); a backbone builds the inner networks."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class Generator(nn.Module):
    """A decoder from latent vectors to samples, its raw outputs mapped to the data's range.

    For bounded data ``(low, high)`` (images in ``[0, 1]``) the output is
    ``low + (high - low) * sigmoid(raw)``: DCGAN's ``tanh`` output on data scaled to
    ``[-1, 1]``, up to that affine map (``sigmoid(r) = (1 + tanh(r / 2)) / 2``). Unbounded data
    (standardised tables) gets the raw outputs.

    Args:
        decoder: Maps ``(N, latent_dim)`` to raw samples ``(N, *shape)``.
        latent_dim: Size of the latent vectors.
        value_range: ``(low, high)`` of bounded data, or ``None``.
    """

    def __init__(self, decoder: nn.Module, latent_dim: int,
                 value_range: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.value_range = value_range

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Samples ``(N, *shape)`` from latent vectors ``(N, latent_dim)``."""
        raw = self.decoder(z)
        if self.value_range is None:
            return raw
        low, high = self.value_range
        return low + (high - low) * torch.sigmoid(raw)

    @torch.no_grad()
    def standing_statistics(self, latents: Iterable[torch.Tensor]) -> None:
        """Set every batch norm's running statistics to the exact mean over ``latents``'
        batches (BigGAN's "standing statistics", Brock et al. 2019,
        https://arxiv.org/abs/1809.11096, appendix C.1).

        Sampling runs in eval mode, with the running statistics; their exponential average
        lags behind a generator that changes at every step, and early in training it still
        holds its initial values, which shrink the samples' spread. The generator's mode is
        left as it was.
        """
        norms = [m for m in self.modules() if isinstance(m, BATCH_NORMS)]
        if not norms:
            return
        momenta = [norm.momentum for norm in norms]
        was_training = self.training
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average over the batches below
        self.train()
        try:
            for z in latents:
                self(z)
        finally:
            for norm, momentum in zip(norms, momenta, strict=True):
                norm.momentum = momentum
            self.train(was_training)


class Discriminator(nn.Module):
    """An encoder to one raw value per sample: a logit (non-saturating loss) or a critic score.

    Bounded data is first mapped affinely from ``(low, high)`` to ``[-1, 1]``, the range DCGAN's
    discriminator sees; unbounded (standardised) data goes in as it is.

    Args:
        encoder: Maps samples ``(N, *shape)`` to ``(N, 1)``.
        value_range: ``(low, high)`` of bounded data, or ``None``.
    """

    def __init__(self, encoder: nn.Module,
                 value_range: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.value_range = value_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One raw value per sample: ``(N,)``."""
        if self.value_range is not None:
            low, high = self.value_range
            x = (x - low) * (2 / (high - low)) - 1
        return self.encoder(x).reshape(len(x))
