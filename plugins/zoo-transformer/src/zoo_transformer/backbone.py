"""The ``transformer`` backbone: checks a method's options, then builds the plain modules.

The transformer's own options are ``layers``, ``heads``, ``dim``, ``dropout``, ``bias`` and
``activation``. Methods also pass the options they share with the ``mlp`` and ``cnn``
backbones; each has a defined meaning here, none is dropped silently:

- ``hidden`` (layer widths): a residual stream has one width, so ``hidden=(w1, ..., wk)``
  builds ``k`` blocks of width ``max(w)`` (a mirrored decoder, ``hidden`` reversed, gets the
  same size as its encoder). Giving it together with ``dim`` or ``layers`` is an error.
- ``batch_norm``: the blocks normalise with layer norm. ``False`` is accepted (there is no
  batch norm); ``True`` is an error, as no batch norm would be added.
- ``activation``: the nonlinearity of the blocks' MLPs.

An unknown option or a bad value is a one-line :class:`zoo.ZooError` naming the valid ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.models.backbones import check_option_names
from zoo.models.sequence import check_sequence_info

from zoo_transformer.torch_model import (
    ACTIVATIONS,
    CausalTransformer,
    TransformerDecoder,
    TransformerEncoder,
)

if TYPE_CHECKING:
    from torch import nn
    from zoo.data.types import DataInfo

#: The transformer's own options with their defaults: nanoGPT's shakespeare-char CPU recipe
#: (4 layers, 4 heads, 128 dims, no dropout, no biases).
OPTIONS: dict[str, Any] = {"layers": 4, "heads": 4, "dim": 128, "dropout": 0.0,
                           "bias": False, "activation": "gelu"}
#: Options methods share with the other backbones, translated by :func:`checked_options`.
SHARED = ("hidden", "batch_norm")
NAME = "backbone 'transformer'"


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ZooError(f"{NAME}: {name}={value!r} must be a positive integer")
    return value


def checked_options(options: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the torch modules: ``options`` over :data:`OPTIONS`, with
    the shared ``hidden`` and ``batch_norm`` translated (see the module docstring), each
    value checked."""
    check_option_names("transformer", options, [*OPTIONS, *SHARED])
    options = dict(options)
    if options.pop("batch_norm", False):
        raise ZooError(f"{NAME} normalises with layer norm; batch_norm=True is not available "
                       "(pass batch_norm=False)")
    source = ""
    if "hidden" in options:
        hidden = options.pop("hidden")
        if "dim" in options or "layers" in options:
            raise ZooError(f"{NAME}: give either hidden (k blocks of width max(hidden)) or "
                           "dim and layers, not both")
        if isinstance(hidden, int | str) or not isinstance(hidden, Sequence) or not hidden:
            raise ZooError(f"{NAME}: hidden={hidden!r} must be a non-empty sequence of widths")
        widths = [_positive_int("hidden", width) for width in hidden]
        options.update(dim=max(widths), layers=len(widths))
        source = f" (from hidden={tuple(widths)})"
    resolved = {**OPTIONS, **options}
    for name in ("layers", "heads", "dim"):
        _positive_int(name, resolved[name])
    if resolved["dim"] % resolved["heads"]:
        raise ZooError(f"{NAME}: dim={resolved['dim']}{source} must be a multiple of "
                       f"heads={resolved['heads']} (each head gets dim / heads values)")
    if resolved["activation"] not in ACTIVATIONS:
        raise ZooError(f"{NAME}: unknown activation {resolved['activation']!r}; valid: "
                       f"{', '.join(ACTIVATIONS)}")
    if not isinstance(resolved["dropout"], int | float) or not 0 <= resolved["dropout"] < 1:
        raise ZooError(f"{NAME}: dropout={resolved['dropout']!r} must be in [0, 1)")
    if not isinstance(resolved["bias"], bool):
        raise ZooError(f"{NAME}: bias={resolved['bias']!r} must be true or false")
    return resolved


def _inputs(info: DataInfo) -> dict[str, int]:
    """``vocab_size`` for text windows ``(L,)``, ``channels`` for series ``(L, C)``."""
    check_sequence_info(info, "transformer")
    if info.modality == "text":
        return {"vocab_size": int(info.vocab_size or 0)}
    return {"channels": int(info.shape[1])}


class TransformerBackbone:
    """Builds transformers for token windows (``text``, ``(L,)``) and series
    (``timeseries``, ``(L, C)``).

    Options (every form): ``layers=4``, ``heads=4``, ``dim=128`` (a multiple of ``heads``),
    ``dropout=0.0``, ``bias=False`` (no biases in the linear layers and layer norms, as
    nanoGPT's recipe), ``activation="gelu"`` (also ``relu``, ``tanh``, ``leaky_relu``); and
    the shared ``hidden`` and ``batch_norm`` (see the module docstring).
    """

    def causal(self, info: DataInfo, out_dim: int, **options: Any) -> nn.Module:
        """Maps ``(N, T)`` ids up to ``vocab_size`` (the start symbol) or ``(N, T, C)``
        values to ``(N, T, out_dim)``, causally, for ``T <= L``; see
        :class:`CausalTransformer` (weight tying for ``out_dim == vocab_size``)."""
        return CausalTransformer(info.shape[0], out_dim, **_inputs(info),
                                 **checked_options(options))

    def encoder(self, info: DataInfo, out_dim: int, **options: Any) -> nn.Module:
        """Maps windows ``(N, L)`` ids or ``(N, L, C)`` values to ``(N, out_dim)``
        (bidirectional, mean-pooled)."""
        return TransformerEncoder(info.shape[0], out_dim, **_inputs(info),
                                  **checked_options(options))

    def decoder(self, in_dim: int, info: DataInfo, **options: Any) -> nn.Module:
        """Maps ``(N, in_dim)`` to series windows ``(N, L, C)`` (raw values)."""
        if info.modality == "text":
            raise ZooError(f"{NAME} has no text decoder: token windows are generated step by "
                           "step by the causal form (model 'transformer', task generate)")
        inputs = _inputs(info)
        return TransformerDecoder(in_dim, info.shape[0], inputs["channels"],
                                  **checked_options(options))
