"""Plain ``nn.Module`` multilayer perceptrons, and the ``mlp`` backbone that builds them (no
Lightning; from zoo only the backbone option check)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import nn

from zoo.models.backbones import check_option_names

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh,
                                           "leaky_relu": nn.LeakyReLU}


class MLP(nn.Sequential):
    """Flatten, then ``Linear -> [BatchNorm] -> activation -> [Dropout]`` blocks, then a head.

    Args:
        in_dim: Input features (after flattening).
        out_dim: Output features.
        hidden: Width of each hidden layer.
        dropout: Dropout probability after each hidden activation.
        batch_norm: Batch normalisation before each hidden activation.
        activation: ``relu``, ``gelu``, ``tanh`` or ``leaky_relu``.
        bias: Use biases (Deep SVDD needs a bias-free network).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256),
                 dropout: float = 0.0, batch_norm: bool = False, activation: str = "relu",
                 bias: bool = True) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_dim
        for size in hidden:
            layers.append(nn.Linear(width, size, bias=bias and not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size, affine=bias))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, out_dim, bias=bias))
        super().__init__(*layers)


#: The options ``encoder`` and ``decoder`` take besides ``hidden``.
OPTIONS = ("dropout", "batch_norm", "activation", "bias")


def checked_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` unchanged; an unknown name is a :class:`ZooError` naming the valid ones."""
    check_option_names("mlp", options, ["hidden", *OPTIONS])
    return options


class MLPBackbone:
    """Builds MLP encoders and decoders for tables, and for images and series windows
    (flattened)."""

    def encoder(self, info: Any, out_dim: int, *, hidden: Sequence[int] = (256, 128),
                **options: Any) -> nn.Module:
        return MLP(info.n_features, out_dim, hidden, **checked_options(options))

    def decoder(self, in_dim: int, info: Any, *, hidden: Sequence[int] = (128, 256),
                **options: Any) -> nn.Module:
        return nn.Sequential(MLP(in_dim, math.prod(info.shape), hidden,
                                 **checked_options(options)),
                             nn.Unflatten(1, tuple(info.shape)))
