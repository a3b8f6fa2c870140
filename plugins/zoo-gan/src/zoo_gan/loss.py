"""Pure functions of the GAN objectives: the non-saturating loss and WGAN-GP.

The discriminator (critic) outputs one raw value per sample, shape ``(N,)``: a logit for the
non-saturating loss, an unbounded score for WGAN-GP. Every loss is a mean over the batch, to be
minimised.

- Non-saturating: Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
  https://arxiv.org/abs/1406.2661 (section 3: the generator maximises ``log D(G(z))``).
- WGAN-GP: Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
  https://arxiv.org/abs/1704.00028 (algorithm 1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of real samples as 1 and generated ones as 0.

    ``-log sigmoid(D(x)) - log(1 - sigmoid(D(G(z))))``, written with ``softplus`` so that large
    logits neither overflow nor lose precision.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss ``-log sigmoid(D(G(z)))``.

    Minimising ``log(1 - D(G(z)))`` (the minimax loss) gives vanishing gradients while the
    discriminator rejects the samples confidently, early in training; this loss has the same
    fixed point and strong gradients there.
    """
    return F.softplus(-fake_logits).mean()


def critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic's Wasserstein loss ``E[D(G(z))] - E[D(x)]`` (without the penalty)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator's Wasserstein loss ``-E[D(G(z))]``."""
    return -fake_scores.mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """Points on the segments between paired real and fake samples: ``mix * x + (1 - mix) * x~``.

    Args:
        real: Real samples ``(N, ...)``.
        fake: Generated samples, same shape.
        mix: One weight in ``[0, 1]`` per sample, ``(N,)``.
    """
    weight = mix.reshape(-1, *([1] * (real.dim() - 1)))
    return weight * real + (1 - weight) * fake


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor],
                     points: torch.Tensor) -> torch.Tensor:
    """``E[(||grad_x D(x)|| - 1)^2]`` at ``points`` (the two-sided penalty of WGAN-GP).

    The graph of the gradient is kept (``create_graph``), so that the penalty can be
    minimised through the critic's parameters.

    Args:
        critic: Maps samples ``(N, ...)`` to scores ``(N,)``.
        points: Where the gradient norm is measured, usually :func:`interpolate`'s output.
    """
    if not points.requires_grad:  # real and detached fake samples: no graph to x yet
        points = points.detach().requires_grad_()
    (grad,) = torch.autograd.grad(critic(points).sum(), points, create_graph=True)
    return (grad.reshape(len(grad), -1).norm(2, dim=1) - 1).pow(2).mean()
