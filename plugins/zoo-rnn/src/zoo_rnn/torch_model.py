"""Plain ``nn.Module`` recurrent networks (no Lightning, no zoo imports).

Three forms share one recurrent stack (:class:`RecurrentStack`):

- :class:`StepNetwork`: an output per step, each depending on the inputs up to that step (a
  unidirectional recurrence is causal by construction): next-step prediction;
- :class:`SequenceEncoder`: the last step's state to one vector per sequence;
- :class:`SequenceDecoder`: one vector to a whole series, the vector fed at every step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

CELLS = ("lstm", "gru", "rnn")
ACTIVATIONS = ("tanh", "relu")


class StepInput(nn.Module):
    """Token ids ``(N, T)`` to embeddings ``(N, T, width)``, or series ``(N, T, C)`` as they are.

    Args:
        vocab_size: Tokens of a text vocabulary; one more row is the start symbol. ``None``
            for series, whose values go to the recurrence unchanged.
        width: Embedding width (text only).
    """

    def __init__(self, vocab_size: int | None, width: int) -> None:
        super().__init__()
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size + 1, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.embedding is None else self.embedding(x)


class RecurrentStack(nn.Module):
    """Recurrent layers of the given widths, dropout between them.

    Args:
        in_dim: Features per input step.
        hidden: Width of each layer (one layer per entry).
        cell: ``lstm`` (Hochreiter & Schmidhuber 1997), ``gru`` (Cho et al. 2014) or ``rnn``
            (Elman, with ``activation``).
        dropout: Dropout on each layer's outputs.
        bias: Biases in the recurrent layers.
        activation: Nonlinearity of ``cell="rnn"``; LSTM and GRU gates fix their own.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], cell: str = "lstm",
                 dropout: float = 0.0, bias: bool = True, activation: str = "tanh") -> None:
        super().__init__()
        layers = []
        for width in hidden:
            if cell == "rnn":
                layers.append(nn.RNN(in_dim, width, batch_first=True, bias=bias,
                                     nonlinearity=activation))
            else:
                recurrent = nn.LSTM if cell == "lstm" else nn.GRU
                layers.append(recurrent(in_dim, width, batch_first=True, bias=bias))
            in_dim = width
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T, in_dim)`` to the last layer's outputs ``(N, T, hidden[-1])``."""
        for layer in self.layers:
            x = self.dropout(layer(x)[0])
        return x


class StepNetwork(nn.Module):
    """Input layer, recurrent stack and a linear head on every step: ``(N, T, out_dim)``."""

    def __init__(self, vocab_size: int | None, channels: int, out_dim: int,
                 hidden: Sequence[int], **stack: object) -> None:
        super().__init__()
        self.input = StepInput(vocab_size, hidden[0])
        self.stack = RecurrentStack(channels if vocab_size is None else hidden[0], hidden,
                                    **stack)  # type: ignore[arg-type]
        self.head = nn.Linear(hidden[-1], out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stack(self.input(x)))


class SequenceEncoder(StepNetwork):
    """The same network read at the last step only: ``(N, out_dim)`` per sequence."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stack(self.input(x))[:, -1])


class SequenceDecoder(nn.Module):
    """A vector ``(N, in_dim)`` to a series ``(N, length, channels)``: the vector is the input
    of every step of a recurrent stack, then a linear map to the channels per step.
    """

    def __init__(self, in_dim: int, length: int, channels: int, hidden: Sequence[int],
                 **stack: object) -> None:
        super().__init__()
        self.length = length
        self.stack = RecurrentStack(in_dim, hidden, **stack)  # type: ignore[arg-type]
        self.head = nn.Linear(hidden[-1], channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        steps = z.unsqueeze(1).expand(-1, self.length, -1)
        return self.head(self.stack(steps))
