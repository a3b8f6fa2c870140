"""``ZooModule``: the Lightning base class of every gradient-trained zoo model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
import numpy as np
import torch

from zoo.model import ZooModel
from zoo.training import build_optimizer, fit_lightning

if TYPE_CHECKING:
    from zoo.data.types import DataInfo, Splits
    from zoo.training import TrainConfig

WEIGHTS = "weights.safetensors"


class ZooModule(ZooModel, pl.LightningModule):
    """A LightningModule that implements the zoo's train hook and persistence.

    Subclasses take ``data_info`` first, then explicit typed hyperparameters with defaults,
    including ``optimizer``, ``lr``, ``weight_decay`` and ``batch_size``, and call
    ``self.save_hyperparameters(ignore=["data_info"])``. They implement ``training_step`` and
    ``validation_step`` (logging ``train_loss`` and ``val_loss``) and the evaluate hooks of
    their tasks, usually through :meth:`batched`.
    """

    def __init__(self, data_info: DataInfo) -> None:
        super().__init__()
        self.data_info = data_info
        self._epoch_sums: dict[str, tuple[torch.Tensor, int]] = {}

    # -- cheap training-epoch logging ----------------------------------------------------------
    def log_epoch_mean(self, name: str, value: torch.Tensor, weight: int = 1) -> None:
        """Add ``value`` (weighted) to a mean that is logged once, at the end of the epoch.

        ``self.log`` in every ``training_step`` costs more than a small network's step; this
        keeps a running sum on the device instead. Subclasses overriding
        ``on_train_epoch_end`` call ``super().on_train_epoch_end()``.
        """
        total, count = self._epoch_sums.get(name, (torch.zeros((), device=value.device), 0))
        self._epoch_sums[name] = (total + value.detach() * weight, count + weight)

    def on_train_epoch_end(self) -> None:
        for name, (total, count) in self._epoch_sums.items():
            self.log(name, total / count, sync_dist=True)
        self._epoch_sums.clear()

    # -- train hook ----------------------------------------------------------------------------
    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        return fit_lightning(self, splits, config, batch_size=int(self.hparams["batch_size"]))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return build_optimizer(self.hparams["optimizer"], self.parameters(),
                               lr=self.hparams["lr"],
                               weight_decay=self.hparams.get("weight_decay", 0.0))

    # -- evaluate hooks helpers ----------------------------------------------------------------
    @torch.no_grad()
    def batched(self, fn: Callable[[torch.Tensor], torch.Tensor], x: Any,
                batch_size: int = 4096) -> torch.Tensor:
        """Apply ``fn`` to ``x`` in eval mode, in batches on the module's device; CPU result."""
        x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        expected = tuple(self.data_info.shape)
        if tuple(x.shape[1:]) != expected:
            from zoo.errors import ZooError

            raise ZooError(f"model {self.zoo_name or type(self).__name__!r} expects samples of "
                           f"shape {expected}, got {tuple(x.shape[1:])}")
        was_training = self.training
        self.eval()
        try:
            outputs = [fn(x[i:i + batch_size].to(self.device)).cpu()
                       for i in range(0, len(x), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(outputs) if outputs else torch.empty(0)

    # -- persistence ---------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {k: v for k, v in self.hparams.items() if k != "data_info"}

    def save_state(self, directory: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(Path(directory) / WEIGHTS))

    def load_state(self, directory: Path) -> None:
        from safetensors.torch import load_file

        self.load_state_dict(load_file(str(Path(directory) / WEIGHTS)))
