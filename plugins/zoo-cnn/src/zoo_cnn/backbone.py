"""The ``cnn`` backbone: checks a method's options, then builds the plain modules.

Methods pass the options they share with the ``mlp`` backbone (``hidden``, ``dropout``,
``batch_norm``, ``activation``, ``bias``) through unchanged; ``kernel_size`` and ``pool`` are
the convolution's own, ``batch_norm_eps`` the batch norm's. An unknown option or a bad value
is a :class:`zoo.ZooError` naming the valid ones, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.models.backbones import check_option_names

from zoo_cnn.torch_model import ACTIVATIONS, POOLS, STEMS, ConvDecoder, ConvEncoder

if TYPE_CHECKING:
    from torch import nn
    from zoo.data.types import DataInfo

#: The options ``encoder`` and ``decoder`` take besides ``hidden``, with their defaults.
OPTIONS: dict[str, Any] = {"kernel_size": 5, "batch_norm": True, "batch_norm_eps": 1e-5,
                           "activation": "leaky_relu", "bias": True, "dropout": 0.0,
                           "pool": "max"}
#: The decoder's own options: how its input becomes the first feature map.
DECODER_OPTIONS: dict[str, Any] = {**OPTIONS, "stem": "linear"}


def image_shape(info: DataInfo) -> tuple[int, int, int]:
    """``info.shape`` as ``(C, H, W)``; anything else is a :class:`ZooError`."""
    shape = tuple(info.shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ZooError(f"backbone 'cnn' needs images of shape (C, H, W), got "
                       f"{info.modality} data of shape {shape}; use 'mlp' for tables")
    return shape  # type: ignore[return-value]


def checked_options(hidden: Sequence[int], options: dict[str, Any],
                    defaults: dict[str, Any] = OPTIONS) -> dict[str, Any]:
    """``options`` over ``defaults``, each checked; the widths must be positive."""
    check_option_names("cnn", options, ["hidden", *defaults])
    resolved = {**defaults, **options}
    if not hidden or min(hidden) < 1:
        raise ZooError(f"backbone 'cnn': hidden={tuple(hidden)} needs at least one positive "
                       "channel count")
    kernel = resolved["kernel_size"]
    if kernel < 1 or kernel % 2 == 0:
        raise ZooError(f"backbone 'cnn': kernel_size={kernel} must be odd and positive "
                       "(same padding halves the resolution exactly)")
    if resolved["activation"] not in ACTIVATIONS:
        raise ZooError(f"backbone 'cnn': unknown activation {resolved['activation']!r}; "
                       f"valid: {', '.join(ACTIVATIONS)}")
    if resolved["pool"] not in POOLS:
        raise ZooError(f"backbone 'cnn': unknown pool {resolved['pool']!r}; valid: "
                       f"{', '.join(POOLS)}")
    if resolved.get("stem", "linear") not in STEMS:
        raise ZooError(f"backbone 'cnn': unknown stem {resolved['stem']!r}; valid: "
                       f"{', '.join(STEMS)}")
    if not resolved["batch_norm_eps"] > 0:
        raise ZooError(f"backbone 'cnn': batch_norm_eps={resolved['batch_norm_eps']} must be "
                       "positive")
    if not 0 <= resolved["dropout"] < 1:
        raise ZooError(f"backbone 'cnn': dropout={resolved['dropout']} must be in [0, 1)")
    return resolved


class CNNBackbone:
    """Builds convolutional encoders and decoders for images of any ``(C, H, W)``.

    Options (both methods): ``kernel_size=5`` (odd), ``batch_norm=True``,
    ``batch_norm_eps=1e-5`` (PyTorch's; Deep SVDD's code: 1e-4), ``activation="leaky_relu"``,
    ``bias=True`` (``False``: no bias anywhere, batch norm without affine terms, as Deep SVDD
    needs), ``dropout=0.0``, ``pool="max"`` (``"stride"``: DCGAN's strided and transposed
    convolutions); the decoder's ``stem="linear"`` (``"reshape"``: its input is the first
    feature map, as the Deep SVDD paper's MNIST autoencoder).
    See :class:`ConvEncoder` and :class:`ConvDecoder`.
    """

    def encoder(self, info: DataInfo, out_dim: int, *, hidden: Sequence[int] = (32, 64),
                **options: Any) -> nn.Module:
        """Maps images ``(N, C, H, W)`` to ``(N, out_dim)``."""
        return ConvEncoder(image_shape(info), out_dim, tuple(hidden),
                           **checked_options(hidden, options))

    def decoder(self, in_dim: int, info: DataInfo, *, hidden: Sequence[int] = (64, 32),
                **options: Any) -> nn.Module:
        """Maps ``(N, in_dim)`` to raw images ``(N, C, H, W)`` (no output activation)."""
        resolved = checked_options(hidden, options, DECODER_OPTIONS)
        try:
            return ConvDecoder(in_dim, image_shape(info), tuple(hidden), **resolved)
        except ValueError as error:  # the options are checked: only the reshape stem's fit
            raise ZooError(f"backbone 'cnn': {error}; use stem='linear' or another size") from None
