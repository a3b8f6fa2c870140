"""Plain ``nn.Module`` convolutional encoders and decoders (no Lightning, no zoo).

Every block halves (encoder) or doubles (decoder) the resolution. Halving rounds up, so any
image size and any depth work (a side of 1 stays 1); the decoder doubles from the encoder's
smallest feature map, trims each doubled map toward the encoder's size at that depth, and crops
the result to the image size.

Weights are kept channels-last: on one CPU thread that makes a training step of the Deep SVDD
autoencoder 1.7 times as fast, the default autoencoder 1.25 times (``benchmarks/perf``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh,
                                           "leaky_relu": nn.LeakyReLU}
POOLS = ("max", "stride")
STEMS = ("linear", "reshape")


def halved(size: int, times: int) -> int:
    """A side of ``size`` after ``times`` halvings, each rounding up."""
    for _ in range(times):
        size = (size + 1) // 2
    return size


def _norm_activation(width: int, batch_norm: bool, activation: str, bias: bool,
                     dropout: float, batch_norm_eps: float) -> list[nn.Module]:
    """``[BatchNorm] -> activation -> [Dropout]``; without ``bias`` the norm has no affine
    terms (a shift would be a bias)."""
    layers: list[nn.Module] = []
    if batch_norm:
        layers.append(nn.BatchNorm2d(width, eps=batch_norm_eps, affine=bias))
    layers.append(ACTIVATIONS[activation]())
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


def reshaped_channels(in_dim: int, height: int, width: int) -> int:
    """The channels of ``in_dim`` values laid out as a ``height x width`` feature map.

    Raises:
        ValueError: ``in_dim`` does not divide among the map's pixels.
    """
    if in_dim % (height * width):
        raise ValueError(f"stem='reshape' cannot lay {in_dim} inputs out as a {height}x{width} "
                         f"feature map ({in_dim} is not a multiple of {height * width})")
    return in_dim // (height * width)


class Trim(nn.Module):
    """Cuts ``rows`` pixels off the top and the bottom of a feature map, ``cols`` off its left
    and right: on a map a same-padded convolution made, the convolution with that much less
    padding (28x28 MNIST: a doubled 16x16 map trimmed to 14x14, as the Deep SVDD paper's
    decoder pads)."""

    def __init__(self, rows: int, cols: int) -> None:
        super().__init__()
        self.rows, self.cols = rows, cols

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., self.rows:x.shape[-2] - self.rows, self.cols:x.shape[-1] - self.cols]


def _doubling(channels: int, size: int, kernel_size: int, pool: str,
              bias: bool) -> list[nn.Module]:
    """Layers that double the resolution: a transposed conv (``stride``) or nearest
    upsampling and a conv (``max``)."""
    padding = kernel_size // 2
    if pool == "stride":  # output_padding makes the (odd) kernel double exactly
        return [nn.ConvTranspose2d(channels, size, kernel_size, stride=2, padding=padding,
                                   output_padding=1, bias=bias)]
    return [nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(channels, size, kernel_size, padding=padding, bias=bias)]


def _trimmed(doubled: tuple[int, int], target: tuple[int, int]) -> tuple[list[nn.Module],
                                                                           tuple[int, int]]:
    """The :class:`Trim` (if any) that takes a doubled map evenly toward the encoder's size
    there, and the map's size after it; an odd excess leaves one pixel to the final crop."""
    rows, cols = ((d - t) // 2 for d, t in zip(doubled, target, strict=True))
    size = (doubled[0] - 2 * rows, doubled[1] - 2 * cols)
    return ([Trim(rows, cols)] if rows or cols else []), size


class ConvEncoder(nn.Sequential):
    """Conv blocks that each halve the resolution, then flatten and a linear head.

    A block is ``Conv(k x k, same padding) -> [BatchNorm] -> activation -> MaxPool(2)``
    (``pool="max"``, LeNet: LeCun et al. 1998, https://doi.org/10.1109/5.726791) or
    ``Conv(k x k, stride 2) -> [BatchNorm] -> activation`` (``pool="stride"``, DCGAN: Radford
    et al. 2016, https://arxiv.org/abs/1511.06434), each followed by dropout when
    ``dropout > 0``. With ``hidden=(8, 4)``, ``kernel_size=5``, ``pool="max"``,
    ``activation="leaky_relu"``, ``bias=False`` on 1x28x28 it is the Deep SVDD paper's MNIST
    LeNet (Ruff et al., ICML 2018, http://proceedings.mlr.press/v80/ruff18a.html).

    Args:
        shape: Image shape ``(C, H, W)``.
        out_dim: Output features.
        hidden: Channels of each block.
        kernel_size: Odd side of the square convolution kernels.
        batch_norm: Batch normalisation after each convolution.
        activation: ``relu``, ``gelu``, ``tanh`` or ``leaky_relu``.
        bias: Bias terms anywhere; ``False`` also drops batch norm's affine terms.
        batch_norm_eps: Added to batch norm's variance before its root divides: maps with a
            smaller variance are not scaled up to unit variance (Deep SVDD's code: 1e-4).
        dropout: Dropout probability after each block.
        pool: How a block halves the resolution: ``max`` or ``stride``.
    """

    def __init__(self, shape: Sequence[int], out_dim: int, hidden: Sequence[int] = (32, 64),
                 kernel_size: int = 5, batch_norm: bool = True, activation: str = "leaky_relu",
                 bias: bool = True, batch_norm_eps: float = 1e-5, dropout: float = 0.0,
                 pool: str = "max") -> None:
        channels, height, width = shape
        layers: list[nn.Module] = []
        for size in hidden:
            stride = 2 if pool == "stride" else 1
            # a bias before batch norm is cancelled by its mean subtraction
            layers.append(nn.Conv2d(channels, size, kernel_size, stride=stride,
                                    padding=kernel_size // 2, bias=bias and not batch_norm))
            layers += _norm_activation(size, batch_norm, activation, bias, 0.0, batch_norm_eps)
            if pool == "max":
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            channels = size
        features = channels * halved(height, len(hidden)) * halved(width, len(hidden))
        layers += [nn.Flatten(), nn.Linear(features, out_dim, bias=bias)]
        super().__init__(*layers)
        self.to(memory_format=torch.channels_last)


class ConvDecoder(nn.Module):
    """A stem to a small feature map, blocks that each double it, a conv to the image.

    The ``linear`` stem is ``Linear -> [BatchNorm] -> activation``, reshaped to ``hidden[0]``
    channels at the resolution the encoder with ``len(hidden)`` blocks ends at. The
    ``reshape`` stem has no parameters: the input itself, reshaped to one more halving's
    resolution (``in_dim`` divided among its pixels as channels) and passed through the
    activation, is the first feature map, and one more doubling comes before the last conv;
    with ``hidden=(4, 8)``, ``kernel_size=5``, ``bias=False``, ``activation="leaky_relu"`` on
    1x28x28 from 32 inputs (2 channels of 4x4) it is the decoder of the Deep SVDD paper's
    MNIST autoencoder (Ruff et al., ICML 2018, github.com/lukasruff/Deep-SVDD-PyTorch). Then
    per width a block ``TransposedConv(k x k, stride 2)`` (``pool="stride"``, DCGAN) or
    ``Upsample(2, nearest) -> Conv(k x k)`` (``pool="max"``, the mirror of max-pooling) ``->
    [BatchNorm] -> activation -> [Dropout]``, the doubled map first trimmed (:class:`Trim`) by
    whole pixels on each side toward the encoder's size at that depth; last a ``Conv(k x k)``
    to the image's channels, cropped to its height and width. The output has no activation:
    methods apply ``sigmoid`` or ``tanh`` themselves.

    Args:
        in_dim: Input features.
        shape: Image shape ``(C, H, W)``.
        hidden: Channels of each block.
        kernel_size: Odd side of the square convolution kernels.
        batch_norm: Batch normalisation after each hidden layer.
        activation: ``relu``, ``gelu``, ``tanh`` or ``leaky_relu``.
        bias: Bias terms anywhere; ``False`` also drops batch norm's affine terms.
        batch_norm_eps: Added to batch norm's variance before its root divides: maps with a
            smaller variance are not scaled up to unit variance (Deep SVDD's code: 1e-4).
        dropout: Dropout probability after each block.
        pool: How the matching encoder halves the resolution: ``max`` or ``stride``.
        stem: ``linear`` or ``reshape`` (``in_dim`` must then divide among the first map's
            pixels).
    """

    def __init__(self, in_dim: int, shape: Sequence[int], hidden: Sequence[int] = (64, 32),
                 kernel_size: int = 5, batch_norm: bool = True, activation: str = "leaky_relu",
                 bias: bool = True, batch_norm_eps: float = 1e-5, dropout: float = 0.0,
                 pool: str = "max", stem: str = "linear") -> None:
        super().__init__()
        channels, self.height, self.width = shape
        doublings = len(hidden) + (stem == "reshape")
        height, width = halved(self.height, doublings), halved(self.width, doublings)
        if stem == "reshape":
            in_channels = reshaped_channels(in_dim, height, width)
            self.project = nn.Sequential(nn.Unflatten(1, (in_channels, height, width)),
                                         ACTIVATIONS[activation]())
        else:
            self.project = nn.Sequential(
                nn.Linear(in_dim, hidden[0] * height * width, bias=bias and not batch_norm),
                nn.Unflatten(1, (hidden[0], height, width)),
                *_norm_activation(hidden[0], batch_norm, activation, bias, dropout,
                                  batch_norm_eps))
            in_channels = hidden[0]
        blocks: list[nn.Module] = []
        for block, size in enumerate(hidden):
            blocks += _doubling(in_channels, size, kernel_size, pool, bias and not batch_norm)
            depth = doublings - 1 - block  # the encoder's halvings at this resolution
            trim, (height, width) = _trimmed(
                (2 * height, 2 * width),
                (halved(self.height, depth), halved(self.width, depth)))
            blocks += trim + _norm_activation(size, batch_norm, activation, bias, dropout,
                                              batch_norm_eps)
            in_channels = size
        self.blocks = nn.Sequential(*blocks)
        if stem == "reshape":
            self.output = nn.Sequential(*_doubling(in_channels, channels, kernel_size, pool, bias))
        else:
            self.output = nn.Conv2d(in_channels, channels, kernel_size, padding=kernel_size // 2,
                                    bias=bias)
        self.to(memory_format=torch.channels_last)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` (raw values, no output activation) from ``(N, in_dim)``."""
        return self.output(self.blocks(self.project(z)))[..., :self.height, :self.width]
