"""Pure functions of the autoencoder detectors: reconstruction error and the Deep SVDD objectives.

Deep SVDD: Ruff et al., "Deep One-Class Classification", ICML 2018,
http://proceedings.mlr.press/v80/ruff18a.html. Squared distances ``d = ||phi(x) - c||^2`` go in;
the radius ``R`` is a distance (not squared), as in the paper.
"""

from __future__ import annotations

from typing import Literal

import torch


def reconstruction_error(x: torch.Tensor, reconstruction: torch.Tensor,
                         reduction: Literal["mean", "sum"] = "mean") -> torch.Tensor:
    """Squared error of each sample, the mean or the sum over all its values:
    ``(N, ...) -> (N,)``."""
    squared = (x - reconstruction).pow(2).flatten(1)  # not len(x): the batch size traces
    return squared.sum(1) if reduction == "sum" else squared.mean(1)


def squared_distance(representation: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """``||phi(x) - c||^2`` of each representation ``(N, rep_dim)``: ``(N,)``."""
    return (representation - center).pow(2).sum(1)


def one_class_loss(distance: torch.Tensor) -> torch.Tensor:
    """One-class Deep SVDD (paper eq. 4, without weight decay): the mean squared distance."""
    return distance.mean()


def soft_boundary_loss(distance: torch.Tensor, radius: torch.Tensor, nu: float) -> torch.Tensor:
    """Soft-boundary Deep SVDD (paper eq. 3, without weight decay).

    ``R^2 + 1/nu * mean(max(0, d - R^2))``: the sphere's volume plus the penalty of the points
    outside it; ``nu`` in ``(0, 1]`` bounds the fraction of points left outside.
    """
    squared_radius = radius.pow(2)
    return squared_radius + torch.relu(distance - squared_radius).mean() / nu


def soft_boundary_radius(distance: torch.Tensor, nu: float) -> torch.Tensor:
    """The radius that leaves a fraction ``nu`` of the points outside: the ``1 - nu`` quantile
    of the distances ``sqrt(d)`` (the paper's update of ``R`` by line search)."""
    return torch.quantile(distance.detach().double().clamp_min(0).sqrt(), 1 - nu).to(
        distance.dtype)


def initial_center(representation: torch.Tensor, eps: float = 0.1) -> torch.Tensor:
    """The centre ``c``: the mean representation of the training data, each coordinate at
    least ``eps`` away from zero.

    A coordinate of ``c`` near zero lets a bias-free network reach ``c`` with all-zero weights
    there (the collapse the paper warns of, section 3.3), so it is moved to ``+-eps`` keeping
    its sign (an exact zero goes to ``+eps``).
    """
    center = representation.detach().double().mean(0)
    small = center.abs() < eps
    sign = torch.where(center < 0, -1.0, 1.0).to(center)
    return torch.where(small, sign * eps, center).to(representation.dtype)
