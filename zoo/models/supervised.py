"""``SupervisedModule``: classification and regression for any network a backbone builds.

Classification trains with cross-entropy (optionally on mixup-blended pairs), regression
with mean squared error on targets standardised with training-split statistics. Each epoch
logs ``train_metric`` and ``val_metric`` (accuracy, or the mean squared error in the targets'
units) beside the losses, as epoch means over every sample (:meth:`ZooModule.log_epoch_mean`:
a running sum per step rather than a torchmetrics update, whose argument checks cost as much
as a small network's step); the validation loss drives early stopping and the best-parameters
rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.errors import ZooError
from zoo.models.module import ZooModule

if TYPE_CHECKING:
    from zoo.data.types import DataInfo, Splits
    from zoo.training import TrainConfig


class SupervisedModule(ZooModule):
    """Base of backbone models used alone as classifiers or regressors.

    Subclasses build ``self.network`` (mapping samples to :attr:`output_dim` values) in
    ``__init__`` after calling ``super().__init__(data_info, mixup=...)``.

    Args:
        data_info: ``task`` must be ``classify`` (``n_classes`` set) or ``regress``.
        mixup: Mixup strength alpha (Zhang et al., 2018, https://arxiv.org/abs/1710.09412);
            0 turns it off. Classification only.
    """

    def __init__(self, data_info: DataInfo, mixup: float = 0.0) -> None:
        super().__init__(data_info)
        if data_info.task == "classify":
            if not data_info.n_classes or data_info.n_classes < 2:
                raise ZooError("classification needs data with at least 2 classes")
            self.output_dim = data_info.n_classes
        elif data_info.task == "regress":
            self.output_dim = data_info.target_dim or 1
        else:
            raise ZooError(f"task {data_info.task!r} is not supervised; this model does "
                           "classify or regress")
        self.mixup = mixup
        self.register_buffer("target_mean", torch.zeros(self.output_dim))
        self.register_buffer("target_std", torch.ones(self.output_dim))
        self.network: nn.Module

    @property
    def classifies(self) -> bool:
        return self.data_info.task == "classify"

    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        if not self.classifies:  # statistics of the training split only
            y = torch.as_tensor(splits.train.y, dtype=torch.float32).reshape(len(splits.train),
                                                                              -1)
            self.target_mean.copy_(y.mean(0))
            self.target_std.copy_(y.std(0).clamp_min(1e-8) if len(y) > 1 else torch.ones(1))
        return super().fit(splits, config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def _loss(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.classifies:
            return F.cross_entropy(outputs, y)
        target = (y.reshape(len(y), -1).float() - self.target_mean) / self.target_std
        return F.mse_loss(outputs, target)

    def training_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, y = batch
        if self.classifies and self.mixup > 0:
            loss = self._mixup_loss(x, y)
        else:
            outputs = self(x)
            loss = self._loss(outputs, y)
            self.log_epoch_mean("train_metric", self._metric(outputs.detach(), y), len(x))
        self.log_epoch_mean("train_loss", loss, len(x))
        return loss

    def _mixup_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        lam = float(torch.distributions.Beta(self.mixup, self.mixup).sample())
        perm = torch.randperm(len(x), device=x.device)
        outputs = self(lam * x + (1 - lam) * x[perm])
        return lam * F.cross_entropy(outputs, y) + (1 - lam) * F.cross_entropy(outputs, y[perm])

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        outputs = self(x)
        self.log_epoch_mean("val_loss", self._loss(outputs, y), len(x))
        self.log_epoch_mean("val_metric", self._metric(outputs, y), len(x))

    def _metric(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The batch's accuracy, or mean squared error in the targets' units."""
        if self.classifies:
            return (outputs.argmax(1) == y).float().mean()
        return F.mse_loss(self._unstandardize(outputs), y.reshape(len(y), -1).float())

    def _unstandardize(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs * self.target_std + self.target_mean

    def predict(self, x: Any) -> torch.Tensor:
        """Class logits ``(N, n_classes)``, or predicted values ``(N,)`` / ``(N, targets)``."""
        outputs = self.batched(self, x)
        if self.classifies:
            return outputs
        values = self._unstandardize(outputs)
        return values.squeeze(1) if self.output_dim == 1 else values
