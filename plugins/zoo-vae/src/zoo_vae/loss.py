"""Pure functions of the variational autoencoder: densities, KL, ELBO and the IWAE bound.

Every log-density is in nats and summed over a sample's values, so a batch ``(N, ...)`` gives
``(N,)``. Latent posteriors are diagonal Gaussians given by a mean and a log-variance.

- VAE: Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014,
  https://arxiv.org/abs/1312.6114.
- beta-VAE: Higgins et al., ICLR 2017, https://openreview.net/forum?id=Sy2fzU9gl.
- IWAE bound: Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016,
  https://arxiv.org/abs/1509.00519.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def _per_sample_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum over everything but the first dimension: ``(N, ...) -> (N,)``."""
    return values.reshape(len(values), -1).sum(1)


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean, diag(exp(log_var))) || N(0, I))`` of each row ``(N, latent_dim)``: ``(N,)``.

    The closed form of the paper's appendix B:
    ``-1/2 * sum(1 + log_var - mean^2 - exp(log_var))``.
    """
    return -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum(1)


def bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``log p(x | logits)`` of independent Bernoulli values: ``(N, ...) -> (N,)``.

    A proper log-probability for binary ``x``; for grey levels in ``[0, 1]`` it is the usual
    (unnormalised) binary cross-entropy objective.
    """
    return -_per_sample_sum(F.binary_cross_entropy_with_logits(logits, x, reduction="none"))


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor,
                            log_std: torch.Tensor) -> torch.Tensor:
    """``log N(x | mean, exp(log_std)^2)`` of independent values: ``(N, ...) -> (N,)``.

    ``log_std`` broadcasts against ``x`` (one per feature, or a scalar).
    """
    z = (x - mean) * torch.exp(-log_std)
    return _per_sample_sum(-0.5 * (z.pow(2) + LOG_2PI) - log_std)


def diagonal_gaussian_log_density(z: torch.Tensor, mean: torch.Tensor,
                                  log_var: torch.Tensor) -> torch.Tensor:
    """``log N(z | mean, diag(exp(log_var)))`` over the last dimension: ``(..., d) -> (...)``."""
    return -0.5 * ((z - mean).pow(2) * torch.exp(-log_var) + log_var + LOG_2PI).sum(-1)


def standard_normal_log_density(z: torch.Tensor) -> torch.Tensor:
    """``log N(z | 0, I)`` over the last dimension: ``(..., d) -> (...)``."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


def negative_elbo(log_likelihood: torch.Tensor, kl: torch.Tensor,
                  beta: float = 1.0) -> torch.Tensor:
    """``-(E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)))`` per sample, in nats.

    With ``beta = 1`` an upper bound on ``-log p(x)``; ``beta > 1`` is the beta-VAE objective.
    """
    return beta * kl - log_likelihood


def iwae_bound(log_weights: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The importance-weighted bound ``log (1/k) sum_i w_i`` from ``k`` log-weights along ``dim``.

    ``log w_i = log p(x, z_i) - log q(z_i | x)`` with ``z_i ~ q(z | x)``. Its expectation is a
    lower bound on ``log p(x)`` that never decreases with ``k``, equals the ELBO at ``k = 1``
    and tends to ``log p(x)`` as ``k`` grows (Burda et al. 2016, theorem 1). For any fixed
    weights it is at least their mean (Jensen), the ``k``-sample ELBO estimate.
    """
    return torch.logsumexp(log_weights, dim) - math.log(log_weights.shape[dim])
