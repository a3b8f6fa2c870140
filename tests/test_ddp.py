"""DDP correctness: ranks share each epoch's samples exactly once, and two CPU processes
train every gradient-trained family as one process with the same global batch does."""

from __future__ import annotations

import pytest
import torch

from zoo.training.batches import IndexBatches

PER_RANK = 8


def epoch(n: int, world: int, rank: int, *, training: bool) -> list[torch.Tensor]:
    """One epoch's batches of sample ids for ``rank`` of ``world`` (batch 8 per rank)."""
    batches = IndexBatches((torch.arange(n),), PER_RANK, shuffle=training, seed=3, rank=rank,
                           world_size=world, drop_last=training and n > PER_RANK * world)
    return [batch[0] for batch in batches]


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("n", [5, 24, 27, 100])
@pytest.mark.parametrize("training", [True, False], ids=["train", "val"])
def test_ranks_see_each_sample_once_as_one_process_of_the_global_batch_does(
        n: int, world: int, training: bool) -> None:
    """Counted: every step's samples over the ranks are the one process's step with a
    ``world`` times larger batch; validation sees every sample exactly once; training drops
    only the last partial global batch, as the one process does, and only when there is
    more than one batch."""
    ranks = [epoch(n, world, rank, training=training) for rank in range(world)]
    one = IndexBatches((torch.arange(n),), PER_RANK * world, shuffle=training, seed=3,
                       drop_last=training and n > PER_RANK * world)
    single = [batch[0] for batch in one]
    assert all(len(steps) == len(single) for steps in ranks)  # else DDP waits forever
    for step, whole in enumerate(single):
        shares = [steps[step] for steps in ranks]
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
        assert sorted(torch.cat(shares).tolist()) == sorted(whole.tolist())
    seen = torch.cat([batch for steps in ranks for batch in steps]).bincount(minlength=n)
    assert int(seen.max()) == 1  # no sample twice
    global_batch = PER_RANK * world
    kept = n if not training or n <= global_batch else n // global_batch * global_batch
    assert int(seen.sum()) == kept
