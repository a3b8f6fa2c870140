"""Mode-collapse detection: generated samples far less diverse than the data.

A generator that maps every latent vector to (almost) the same sample still has finite losses,
and an image metric computed on its samples would be stored as a score. Instead, after training,
the spread of a batch of generated samples is compared with the spread of as many training
samples, and a generator below a fraction of the data's spread raises :class:`ModeCollapse`, a
:class:`zoo.training.Diverged`, so that the run is stored as ``diverged`` with the reason.

The measure is the mean pairwise Euclidean distance (a sample's values flattened). It catches
total collapse (one or a few near-identical outputs); partial collapse (some of the data's
modes missing) is what a suite's FID / KID measure.
"""

from __future__ import annotations

import math

import torch
from zoo.training import Diverged


class ModeCollapse(Diverged):
    """The generator's samples are (nearly) all the same: the run is ``diverged``, not scored."""


def mean_pairwise_distance(samples: torch.Tensor) -> float:
    """Mean Euclidean distance over all pairs of distinct samples ``(N, ...)``, N >= 2."""
    flat = samples.detach().reshape(len(samples), -1).double()
    n = len(flat)
    if n < 2:
        raise ValueError(f"mean_pairwise_distance needs at least 2 samples, got {n}")
    # the diagonal (each sample with itself) is zero: sum over all, divide by the off-diagonal
    return float(torch.cdist(flat, flat).sum()) / (n * (n - 1))


def diversity_ratio(generated: torch.Tensor, real: torch.Tensor) -> float:
    """Mean pairwise distance of ``generated`` over that of ``real`` samples.

    About 1 when the generator spreads like the data, 0 for a constant generator. Data without
    any spread (all samples equal) makes any constant generator a perfect one: ratio 1.
    """
    generated_spread = mean_pairwise_distance(generated)
    real_spread = mean_pairwise_distance(real)
    if real_spread == 0:
        return 1.0 if generated_spread == 0 else math.inf
    return generated_spread / real_spread


def check_diversity(generated: torch.Tensor, real: torch.Tensor, threshold: float) -> float:
    """The :func:`diversity_ratio` of the samples, if the generator neither diverged nor collapsed.

    Raises:
        Diverged: Some generated values are not finite.
        ModeCollapse: The ratio is below ``threshold``.
    """
    if not bool(torch.isfinite(generated).all()):
        raise Diverged("the generator's samples are not finite")
    ratio = diversity_ratio(generated, real)
    if ratio < threshold:
        raise ModeCollapse(f"mode collapse: the generated samples' mean pairwise distance is "
                           f"{ratio:.3g} of the training data's, below the threshold {threshold:g} "
                           f"(collapse_threshold)")
    return ratio
