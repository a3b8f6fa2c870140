"""``SequenceModule``: a sequence backbone (``rnn``, ``transformer``) used on its own.

One module serves four tasks, on token windows (``text``: samples of shape ``(L,)``, int64 ids
below ``vocab_size``) and on series windows (``timeseries``: samples of shape ``(L, C)``):

- ``classify`` / ``regress``: the backbone's encoder maps a window to logits or values,
  trained as :class:`zoo.models.supervised.SupervisedModule` trains any network (cross-entropy; MSE
  on standardised targets).
- ``generate`` / ``detect``: the backbone's causal network predicts every step from the steps
  before it. Step 0 is predicted from a start symbol (token ``vocab_size``; a zero step for
  series, the mean of normalised data), so the likelihood is the whole window's:

  - text: a categorical over the vocabulary; the loss is the cross-entropy in nats per token;
  - series: a Gaussian per value with the predicted mean and one learned standard deviation per
    channel; the loss is the negative log-density per step.

  ``log_likelihood(x)`` sums the steps' log-probabilities (log-densities for series), in nats:
  exact, not a bound. ``score(x)`` is the mean negative log-likelihood per step: for series,
  up to constants, the squared forecast error in units of the learned deviation (the
  forecaster's prediction error). ``sample`` draws step by step (temperature; top-k for
  text); past ``L`` steps the context slides, the network seeing the start symbol and then
  the last ``L - 1`` steps, as in training.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo.errors import ZooError
from zoo.models.module import ZooModule
from zoo.models.supervised import SupervisedModule

if TYPE_CHECKING:
    from zoo.data.types import DataInfo, Splits
    from zoo.models.backbones import SequenceBackbone
    from zoo.training import TrainConfig

NEXT_STEP_TASKS = ("generate", "detect")
SUPERVISED_TASKS = ("classify", "regress")
#: Bounds on the learned log standard deviation of series values, so that a perfectly
#: predictable series (a constant) cannot drive the density to infinity.
LOG_STD_RANGE = (-7.0, 5.0)


def check_sequence_info(info: DataInfo, model: str) -> None:
    """Text windows ``(L,)`` with a vocabulary, or series windows ``(L, C)``; else a ZooError."""
    shape = tuple(info.shape)
    if info.modality == "text":
        if len(shape) != 1 or shape[0] < 1 or not info.vocab_size or info.vocab_size < 2:
            raise ZooError(f"model {model!r} needs text windows of shape (L,) with a "
                           f"vocabulary of at least 2 tokens, got shape {shape}, vocab_size "
                           f"{info.vocab_size}")
    elif info.modality == "timeseries":
        if len(shape) != 2 or min(shape) < 1:
            raise ZooError(f"model {model!r} needs series windows of shape (L, C), got {shape}")
    else:
        raise ZooError(f"model {model!r} takes text or timeseries data, not {info.modality}")


class SequenceModule(SupervisedModule):
    """Base of the sequence backbones' models. Subclasses build ``self.network`` with
    :meth:`build_network` after ``super().__init__`` and ``save_hyperparameters()``, and
    include ``optimizer``, ``lr``, ``weight_decay``, ``batch_size`` and ``grad_clip``
    (largest gradient norm; 0 turns clipping off) among their hyperparameters.

    Args:
        data_info: Text windows ``(L,)`` or series windows ``(L, C)``; any of the four tasks.
        mixup: Mixup strength for classifying series (blended windows); token ids cannot be
            blended, so it must be 0 for text and for the next-step tasks.
    """

    def __init__(self, data_info: DataInfo, mixup: float = 0.0) -> None:
        name = type(self).__name__
        check_sequence_info(data_info, name)
        if mixup and (data_info.modality == "text" or data_info.task in NEXT_STEP_TASKS):
            raise ZooError(f"{name}: mixup blends input windows, which works for classifying "
                           f"series only, not {data_info.modality} {data_info.task}")
        if data_info.task in SUPERVISED_TASKS:
            super().__init__(data_info, mixup=mixup)
            return
        if data_info.task not in NEXT_STEP_TASKS:
            raise ZooError(f"{name}: unknown task {data_info.task!r}; valid: "
                           f"{', '.join(SUPERVISED_TASKS + NEXT_STEP_TASKS)}")
        ZooModule.__init__(self, data_info)  # no supervised metrics or targets to keep
        if data_info.modality == "text":
            self.output_dim = int(data_info.vocab_size or 0)
        else:
            self.output_dim = data_info.shape[1]
            self.log_std = nn.Parameter(torch.zeros(self.output_dim))

    # -- building ------------------------------------------------------------------------------
    @property
    def next_step(self) -> bool:
        """Whether the model predicts each step from the previous ones (generate, detect)."""
        return self.data_info.task in NEXT_STEP_TASKS

    @property
    def is_text(self) -> bool:
        return self.data_info.modality == "text"

    @property
    def context(self) -> int:
        """The window length ``L`` the network is built for."""
        return int(self.data_info.shape[0])

    def build_network(self, backbone: SequenceBackbone, **options: Any) -> nn.Module:
        """The backbone's causal network (next-step tasks) or encoder (the others)."""
        if self.next_step:
            return backbone.causal(self.data_info, self.output_dim, **options)
        return backbone.encoder(self.data_info, self.output_dim, **options)

    # -- inputs --------------------------------------------------------------------------------
    def as_input(self, x: Any) -> torch.Tensor:
        """Samples as the network's dtype: int64 ids checked against the vocabulary, or
        float32 values."""
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        if not self.is_text:
            return x.float()
        if x.is_floating_point() and not torch.equal(x, x.round()):
            raise ZooError(f"text samples must be token ids (integers), got {x.dtype} values")
        x = x.long()
        vocab = int(self.data_info.vocab_size or 0)
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= vocab):
            raise ZooError(f"token ids must lie in [0, {vocab}), got ids from {int(x.min())} "
                           f"to {int(x.max())}")
        return x

    def shifted(self, x: torch.Tensor) -> torch.Tensor:
        """The network's input for predicting ``x``: the start symbol, then ``x`` but its last
        step."""
        # The start symbol shaped from x, not from len(x), so that the batch size traces (ONNX).
        first = x[:, :1]
        start = (torch.full_like(first, int(self.data_info.vocab_size or 0)) if self.is_text
                 else torch.zeros_like(first))
        return torch.cat([start, x[:, :-1]], 1)

    def start(self, n: int, device: torch.device) -> torch.Tensor:
        """The start symbol of ``n`` sequences: token ``vocab_size``, or one zero step."""
        if self.is_text:
            return torch.full((n, 1), int(self.data_info.vocab_size or 0), dtype=torch.long,
                              device=device)
        return torch.zeros(n, 1, self.output_dim, device=device)

    # -- likelihood ----------------------------------------------------------------------------
    def step_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x_t | x_<t)`` of every step, ``(N, L)``, in nats."""
        outputs = self.network(self.shifted(x))
        if self.is_text:
            return -F.cross_entropy(outputs.transpose(1, 2), x, reduction="none")
        log_std = self.log_std.clamp(*LOG_STD_RANGE)
        z = (x - outputs) / log_std.exp()
        return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    # -- training ------------------------------------------------------------------------------
    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        if self.next_step:
            return ZooModule.fit(self, splits, config)  # no targets to standardise
        return super().fit(splits, config)

    def training_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        if not self.next_step:
            return super().training_loss(batch)
        x = batch[0]  # detection data may carry labels in validation: never used
        loss = -self.step_log_likelihood(x).mean()
        self.log_epoch_mean("train_loss", loss, len(x))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        if not self.next_step:
            super().validation_step(batch, batch_idx)  # type: ignore[arg-type]
            return
        x = batch[0]
        self.log_epoch_mean("val_loss", -self.step_log_likelihood(x).mean(), len(x))

    # -- evaluate hooks ------------------------------------------------------------------------
    def predict(self, x: Any) -> torch.Tensor:
        self._require(not self.next_step, "predict", "classify or regress")
        return super().predict(self.as_input(x))

    def log_likelihood(self, x: Any) -> torch.Tensor:
        """``log p(x)`` of each window ``(N,)`` in nats (exact: the steps' sum)."""
        self._require(self.next_step, "log_likelihood", "generate or detect")
        return self.batched(lambda b: self.step_log_likelihood(b).sum(1), self.as_input(x))

    def score(self, x: Any) -> torch.Tensor:
        """Anomaly score of each window ``(N,)``: mean negative log-likelihood per step."""
        self._require(self.next_step, "score", "generate or detect")
        return self.batched(lambda b: -self.step_log_likelihood(b).mean(1), self.as_input(x))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, *,
               length: int | None = None, temperature: float = 1.0,
               top_k: int | None = None) -> torch.Tensor:
        """``n`` sequences of ``length`` steps (default ``L``) drawn step by step.

        Args:
            n: Number of sequences.
            generator: CPU generator for the draws (reproducible samples).
            length: Steps per sequence; longer than ``L`` slides the context.
            temperature: Divides the logits (text) or scales the noise (series); lower is
                more conservative.
            top_k: Text only: draw among the ``k`` most likely tokens.

        Returns:
            ``(n, length)`` token ids or ``(n, length, C)`` values, on the CPU.
        """
        self._require(self.next_step, "sample", "generate or detect")
        length = self.context if length is None else length
        if n < 0 or length < 1 or temperature <= 0:
            raise ZooError(f"sample needs n >= 0, length >= 1 and temperature > 0; got n={n}, "
                           f"length={length}, temperature={temperature}")
        if top_k is not None and (not self.is_text or top_k < 1):
            raise ZooError(f"top_k={top_k}: top-k sampling needs text and k >= 1")
        was_training = self.training
        self.eval()
        try:
            steps = self.start(n, self.device)[:, :0]
            for _ in range(length):
                window = torch.cat([self.start(n, self.device),
                                    steps[:, max(0, steps.shape[1] - self.context + 1):]], 1)
                prediction = self.network(window)[:, -1].float().cpu()
                drawn = self._draw(prediction, generator, temperature, top_k)
                steps = torch.cat([steps, drawn.unsqueeze(1).to(self.device)], 1)
        finally:
            self.train(was_training)
        return steps.cpu()

    def _draw(self, prediction: torch.Tensor, generator: torch.Generator | None,
              temperature: float, top_k: int | None) -> torch.Tensor:
        """One step per sequence from the network's last output."""
        if not self.is_text:
            std = self.log_std.detach().clamp(*LOG_STD_RANGE).exp().cpu()
            noise = torch.randn(prediction.shape, generator=generator)
            return prediction + noise * std * temperature
        logits = prediction / temperature
        if top_k is not None and top_k < logits.shape[-1]:
            kth = logits.topk(top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)

    def _require(self, condition: bool, hook: str, tasks: str) -> None:
        if not condition:
            raise ZooError(f"{hook}() is for models built for {tasks}; this one was built for "
                           f"{self.data_info.task}")
