"""Plain ``nn.Module``s of the detectors (no Lightning, no zoo); a backbone builds the layers."""

from __future__ import annotations

import torch
from torch import nn

from zoo_autoencoder.loss import squared_distance


class AutoEncoder(nn.Module):
    """An encoder to a low-dimensional code and a decoder back to the input space.

    Args:
        encoder: Maps samples ``(N, *shape)`` to codes ``(N, latent_dim)``.
        decoder: Maps codes back to samples ``(N, *shape)``.
        output: Applied to the decoder's output (``nn.Sigmoid()`` keeps reconstructions of
            images in ``[0, 1]``); ``None``: the decoder's output as it is.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module,
                 output: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.output = output if output is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x``."""
        return self.output(self.decoder(self.encoder(x)))


class DeepSVDDNetwork(nn.Module):
    """A bias-free encoder ``phi`` with the hypersphere's centre ``c`` and radius ``R``.

    Centre and radius are buffers: not trained by gradient descent, but part of the state
    dict, so a checkpoint restores them with the weights.

    Args:
        encoder: Maps samples to representations ``(N, rep_dim)``; without bias terms
            (Ruff et al. 2018, section 3.3: a bias lets the network map everything to ``c``).
        rep_dim: Size of the representation.
    """

    center: torch.Tensor
    radius: torch.Tensor

    def __init__(self, encoder: nn.Module, rep_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("center", torch.zeros(rep_dim))
        self.register_buffer("radius", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The squared distance ``||phi(x) - c||^2`` of each sample: ``(N,)``."""
        return squared_distance(self.encoder(x), self.center)
