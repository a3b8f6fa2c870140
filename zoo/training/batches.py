"""Mini-batches as index slices of tensors that live on the training device whole.

Small datasets (every suite's tables, MNIST) fit in device memory, so there is no DataLoader,
no worker process and no per-sample collation: each batch is one indexing operation.

Under DDP the ranks share each *global* batch of one permutation (the same on every rank):
rank ``r`` of ``w`` takes the global batch's samples ``r, r + w, ...``. So ``w`` processes of
batch ``b`` take the same optimiser steps on the same samples as one process of batch
``w * b``: in an epoch no sample is seen twice and none is dropped that one process would
see (training drops the last, partial global batch when there is more than one, as one
process does; validation drops nothing, the ranks' shares of its last batch differing by
one sample at most).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import lightning.pytorch as pl
import numpy as np
import torch

if TYPE_CHECKING:
    from zoo.data.types import Arrays, Splits


def to_tensors(arrays: Arrays) -> tuple[torch.Tensor, ...]:
    """``(x,)`` or ``(x, y)`` as tensors sharing memory with the numpy arrays."""
    x = torch.from_numpy(np.ascontiguousarray(arrays.x))
    if arrays.y is None:
        return (x,)
    return x, torch.from_numpy(np.ascontiguousarray(arrays.y))


class IndexBatches:
    """An epoch of mini-batches over tensors, shuffled with a per-epoch seed.

    Args:
        tensors: Tensors with the same first dimension.
        batch_size: Samples per batch per rank; a global batch is ``batch_size * world_size``.
        shuffle: Draw a new permutation each epoch (training) or keep the order.
        seed: Base seed of the permutations; epoch ``e`` uses ``seed + e``.
        rank: This process's rank; ``world_size`` processes share each global batch.
        drop_last: Drop the last, smaller global batch (training, so batch norm never sees
            one sample).
    """

    def __init__(self, tensors: tuple[torch.Tensor, ...], batch_size: int, *, shuffle: bool,
                 seed: int = 0, rank: int = 0, world_size: int = 1,
                 drop_last: bool = False) -> None:
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.epoch = 0

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.world_size

    def _order(self) -> torch.Tensor:
        n = len(self.tensors[0])
        device = self.tensors[0].device
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            return torch.randperm(n, generator=generator).to(device)
        return torch.arange(n, device=device)

    def __len__(self) -> int:
        full, rest = divmod(len(self.tensors[0]), self.global_batch)
        return full if (self.drop_last and full > 0) or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        order = self._order()
        self.epoch += 1
        for b in range(len(self)):
            index = order[b * self.global_batch:(b + 1) * self.global_batch][
                self.rank::self.world_size]
            yield tuple(t[index] for t in self.tensors)


class TensorDataModule(pl.LightningDataModule):
    """Train and validation splits as in-memory batches on the trainer's device."""

    def __init__(self, splits: Splits, *, batch_size: int, seed: int = 0) -> None:
        super().__init__()
        self.splits = splits
        self.batch_size = batch_size
        self.seed = seed
        self.train: tuple[torch.Tensor, ...] = ()
        self.val: tuple[torch.Tensor, ...] = ()

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device if self.trainer else torch.device("cpu")
        self.train = tuple(t.to(device) for t in to_tensors(self.splits.train))
        if self.splits.val is not None and len(self.splits.val):
            self.val = tuple(t.to(device) for t in to_tensors(self.splits.val))

    def _rank(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def train_dataloader(self) -> IndexBatches:
        rank, world = self._rank()
        return IndexBatches(self.train, self.batch_size, shuffle=True, seed=self.seed,
                            rank=rank, world_size=world,
                            drop_last=len(self.train[0]) > self.batch_size * world)

    def val_dataloader(self) -> IndexBatches:
        rank, world = self._rank()
        return IndexBatches(self.val, max(self.batch_size, 1024), shuffle=False, rank=rank,
                            world_size=world)
