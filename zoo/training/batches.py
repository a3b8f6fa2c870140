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

zoo's own models (:class:`zoo.models.module.ZooModule`) take their training batches in
:class:`Blocks` of up to :data:`BLOCK_STEPS` consecutive batches, one Lightning training step
per block, so that the Trainer's per-step work (hooks, progress, batch transfer) is paid once
per block rather than once per optimiser step (``benchmarks/perf/RESULTS.md``). Under DDP a
block is one batch: DDP expects one backward per wrapped forward.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import lightning.pytorch as pl
import numpy as np
import torch

if TYPE_CHECKING:
    from zoo.data.types import Arrays, Splits

#: Optimiser steps per Lightning training step for a one-process run (at most: an epoch's last
#: block holds what is left, and a block ends early at ``max_steps`` or ``max_time``). The
#: Trainer costs 0.5 to 1 ms per training step on a CPU, as much as a small network's step;
#: over 32 steps it is 2 to 3 % of one.
BLOCK_STEPS = 32


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
        take = self.epoch_batches()
        for b in range(len(self)):
            yield take(b)

    def epoch_batches(self) -> Callable[[int], tuple[torch.Tensor, ...]]:
        """Start the next epoch: its batch ``b`` (this rank's share), for ``b`` below
        ``len(self)``."""
        order = self._order()
        self.epoch += 1

        def take(b: int) -> tuple[torch.Tensor, ...]:
            index = order[b * self.global_batch:(b + 1) * self.global_batch][
                self.rank::self.world_size]
            return tuple(t[index] for t in self.tensors)

        return take


class Block:
    """Consecutive mini-batches of one epoch, sliced only when iterated (each just before its
    optimiser step). Not a tensor collection, so Lightning hands it over untouched."""

    def __init__(self, take: Callable[[int], tuple[torch.Tensor, ...]], batches: range) -> None:
        self._take = take
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        return map(self._take, self.batches)


class Blocks:
    """An epoch of :class:`IndexBatches` in :class:`Block` s of up to ``steps`` batches.

    Args:
        batches: The epoch's batches, in order.
        steps: Batches per block.
    """

    def __init__(self, batches: IndexBatches, steps: int) -> None:
        self.batches = batches
        self.steps = steps

    @property
    def batch_count(self) -> int:
        """Mini-batches (optimiser steps of a one-optimiser model) per epoch."""
        return len(self.batches)

    def __len__(self) -> int:
        return -(-len(self.batches) // self.steps)

    def __iter__(self) -> Iterator[Block]:
        take, count = self.batches.epoch_batches(), len(self.batches)
        for start in range(0, count, self.steps):
            yield Block(take, range(start, min(start + self.steps, count)))


class TensorDataModule(pl.LightningDataModule):
    """Train and validation splits as in-memory batches on the trainer's device.

    Args:
        splits: The data; ``train`` is shuffled each epoch.
        batch_size: Samples per mini-batch per process.
        seed: Base seed of the per-epoch permutations.
        blocks: Training batches come in :class:`Blocks` (of :data:`BLOCK_STEPS`, one batch
            under DDP) for a model that trains a block per Lightning step; otherwise one batch
            per step.
    """

    def __init__(self, splits: Splits, *, batch_size: int, seed: int = 0,
                 blocks: bool = False) -> None:
        super().__init__()
        self.splits = splits
        self.batch_size = batch_size
        self.seed = seed
        self.blocks = blocks
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

    def train_dataloader(self) -> IndexBatches | Blocks:
        rank, world = self._rank()
        batches = IndexBatches(self.train, self.batch_size, shuffle=True, seed=self.seed,
                               rank=rank, world_size=world,
                               drop_last=len(self.train[0]) > self.batch_size * world)
        if not self.blocks:
            return batches
        return Blocks(batches, BLOCK_STEPS if world == 1 else 1)

    def val_dataloader(self) -> IndexBatches:
        rank, world = self._rank()
        return IndexBatches(self.val, max(self.batch_size, 1024), shuffle=False, rank=rank,
                            world_size=world)
