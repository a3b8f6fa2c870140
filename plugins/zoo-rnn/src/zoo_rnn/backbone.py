"""The ``rnn`` backbone: checks a model's or method's options, then builds the plain modules.

Options: ``hidden`` (the width of each recurrent layer, one layer per entry), ``cell``
(``lstm``, ``gru``, ``rnn``), ``dropout``, ``bias``, and ``activation`` (``tanh`` or ``relu``,
the nonlinearity of ``cell="rnn"``; LSTM and GRU gates fix their own, so with them the
activation a method passes for other backbones is not used). Methods that pass the
``mlp`` backbone's ``batch_norm`` get a clear error when it is on: a recurrence has no batch
norm. Any other option is an error naming the valid ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.models.backbones import check_option_names

from zoo_rnn.torch_model import (
    ACTIVATIONS,
    CELLS,
    SequenceDecoder,
    SequenceEncoder,
    StepNetwork,
)

if TYPE_CHECKING:
    from torch import nn
    from zoo.data.types import DataInfo

#: Options besides ``hidden``, with their defaults.
OPTIONS: dict[str, Any] = {"cell": "lstm", "dropout": 0.0, "bias": True, "activation": "tanh",
                           "batch_norm": False}
DEFAULT_HIDDEN = (128, 128)


def sequence_shape(info: DataInfo) -> tuple[int, int | None]:
    """``(L, C)`` of series, ``(L, None)`` of text; anything else is a ZooError."""
    shape = tuple(info.shape)
    if info.modality == "text" and len(shape) == 1 and info.vocab_size:
        return shape[0], None
    if info.modality == "timeseries" and len(shape) == 2:
        return shape[0], shape[1]
    raise ZooError(f"backbone 'rnn' needs text windows (L,) or series windows (L, C), got "
                   f"{info.modality} data of shape {shape}; use 'cnn' or 'mlp' for images "
                   "and tables")


def checked_options(hidden: Sequence[int], options: dict[str, Any]) -> dict[str, Any]:
    """The recurrent stack's keyword arguments: ``options`` over :data:`OPTIONS`, checked."""
    check_option_names("rnn", options, ["hidden", *OPTIONS])
    resolved = {**OPTIONS, **options}
    if not hidden or min(hidden) < 1:
        raise ZooError(f"backbone 'rnn': hidden={tuple(hidden)} needs at least one positive "
                       "layer width")
    if resolved["cell"] not in CELLS:
        raise ZooError(f"backbone 'rnn': unknown cell {resolved['cell']!r}; valid: "
                       f"{', '.join(CELLS)}")
    if resolved["cell"] == "rnn" and resolved["activation"] not in ACTIVATIONS:
        raise ZooError(f"backbone 'rnn': activation {resolved['activation']!r} is not "
                       f"available for cell 'rnn'; valid: {', '.join(ACTIVATIONS)}")
    if not 0 <= resolved["dropout"] < 1:
        raise ZooError(f"backbone 'rnn': dropout={resolved['dropout']} must be in [0, 1)")
    if resolved.pop("batch_norm"):
        raise ZooError("backbone 'rnn' has no batch norm (statistics across a batch do not "
                       "suit a recurrence); set batch_norm=false")
    return resolved


class RNNBackbone:
    """Builds recurrent networks for text and time series (see the module's options)."""

    def causal(self, info: DataInfo, out_dim: int, *, hidden: Sequence[int] = DEFAULT_HIDDEN,
               **options: Any) -> nn.Module:
        """Maps ``(N, T)`` ids (up to ``vocab_size``, the start symbol) or ``(N, T, C)``
        values to ``(N, T, out_dim)``, step ``t`` seeing inputs ``0..t`` only."""
        _, channels = sequence_shape(info)
        return StepNetwork(None if channels else info.vocab_size, channels or 0, out_dim,
                           tuple(hidden), **checked_options(hidden, options))

    def encoder(self, info: DataInfo, out_dim: int, *, hidden: Sequence[int] = DEFAULT_HIDDEN,
                **options: Any) -> nn.Module:
        """Maps ``(N, L)`` ids or ``(N, L, C)`` values to ``(N, out_dim)``: the last step's
        state."""
        _, channels = sequence_shape(info)
        return SequenceEncoder(None if channels else info.vocab_size, channels or 0, out_dim,
                               tuple(hidden), **checked_options(hidden, options))

    def decoder(self, in_dim: int, info: DataInfo, *, hidden: Sequence[int] = DEFAULT_HIDDEN,
                **options: Any) -> nn.Module:
        """Maps ``(N, in_dim)`` to raw series ``(N, L, C)``; text has no decoder (it is
        generated step by step: use the model ``rnn``)."""
        length, channels = sequence_shape(info)
        if channels is None:
            raise ZooError("backbone 'rnn' decodes series, not text: text is generated step by "
                           "step by the model 'rnn'")
        return SequenceDecoder(in_dim, length, channels, tuple(hidden),
                               **checked_options(hidden, options))
