"""Plain ``nn.Module``s of the variational autoencoder (no Lightning, no zoo).

A backbone builds the encoder and the decoder; these modules turn their raw outputs into a
diagonal Gaussian posterior ``q(z|x)`` and an observation model ``p(x|z)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zoo_vae.loss import bernoulli_log_likelihood, gaussian_log_likelihood

#: Floor of a learned Gaussian standard deviation, in units of the (standardised) data. A
#: constant feature would otherwise shrink its deviation towards zero and its density towards
#: infinity; at the floor it adds a bounded ``-log(0.01) - log(2 pi)/2 ~ 3.7`` nats.
MIN_STD = 1e-2


class BernoulliObservation(nn.Module):
    """``p(x|z)``: independent Bernoulli values whose logits are the decoder's outputs."""

    def log_likelihood(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """``log p(x|z)`` of each sample ``(N,)``."""
        return bernoulli_log_likelihood(x, decoded)

    def mean(self, decoded: torch.Tensor) -> torch.Tensor:
        """``E[x|z]``: the probabilities of a one."""
        return torch.sigmoid(decoded)


class GaussianObservation(nn.Module):
    """``p(x|z)``: independent Gaussians around the decoder's outputs.

    Args:
        shape: Shape of one sample.
        std: A fixed standard deviation for every value; ``None`` learns one per feature
            (floored at :data:`MIN_STD`).
    """

    def __init__(self, shape: tuple[int, ...], std: float | None = None) -> None:
        super().__init__()
        self.fixed_log_std = None if std is None else math.log(std)
        self.log_std = nn.Parameter(torch.zeros(shape)) if std is None else None

    def current_log_std(self) -> torch.Tensor | float:
        """The log standard deviation in use: learned per feature, or the fixed one."""
        if self.log_std is None:
            return self.fixed_log_std
        return self.log_std.clamp(min=math.log(MIN_STD))

    def log_likelihood(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """``log p(x|z)`` of each sample ``(N,)``: a density, so it may be positive."""
        log_std = torch.as_tensor(self.current_log_std(), dtype=x.dtype, device=x.device)
        return gaussian_log_likelihood(x, decoded, log_std)

    def mean(self, decoded: torch.Tensor) -> torch.Tensor:
        """``E[x|z]``: the decoder's outputs."""
        return decoded


class VariationalAutoEncoder(nn.Module):
    """Encoder to ``q(z|x) = N(mean, diag(exp(log_var)))``, decoder to ``p(x|z)``.

    Args:
        encoder: Maps samples ``(N, *shape)`` to ``(N, 2 * latent_dim)``: means, then
            log-variances.
        decoder: Maps latents ``(N, latent_dim)`` to raw outputs ``(N, *shape)`` that
            ``observation`` reads (Bernoulli logits or Gaussian means).
        observation: :class:`BernoulliObservation` or :class:`GaussianObservation`.
        latent_dim: Size of ``z``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module,
                 observation: BernoulliObservation | GaussianObservation,
                 latent_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.observation = observation
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of ``q(z|x)``, each ``(N, latent_dim)``."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Raw decoder outputs ``(N, *shape)`` of latents ``(N, latent_dim)``."""
        return self.decoder(z)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p(x|z)`` of each sample ``(N,)``."""
        return self.observation.log_likelihood(x, self.decode(z))

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """``E[x|z]`` in data space ``(N, *shape)``."""
        return self.observation.mean(self.decode(z))


def reparameterize(mean: torch.Tensor, log_var: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``z = mean + exp(log_var / 2) * noise``: a differentiable draw from ``q(z|x)`` given
    standard normal ``noise`` (the paper's reparameterisation trick, section 2.4)."""
    return mean + torch.exp(0.5 * log_var) * noise
