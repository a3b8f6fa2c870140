"""Train every gradient-trained family on tiny data, in one process or as one rank of a
``torchrun --nproc-per-node 2`` group, and write what rank 0 measured as JSON.

Usage: ``python ddp_families.py OUT.json`` (one process) or ``torchrun --standalone
--nproc-per-node 2 ddp_families.py OUT.json`` (two CPU processes, gloo). The global batch is
the same either way: each of ``w`` ranks takes ``GLOBAL_BATCH / w`` samples a step. Rank 0
evaluates the trained model on the whole test split (evaluation is not sharded: every rank
holds the whole trained model, and rank 0 scores every test sample once).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import torch

from zoo.models import create_model
from zoo.testing import tiny_splits
from zoo.training import TrainConfig

GLOBAL_BATCH = 32
#: Family: (modality, task, hyperparameters). No dropout and no batch norm where the family
#: has them: masks are drawn per rank, and batch norm normalises each rank's share of the
#: batch on CPU (SyncBatchNorm, which DDP on GPUs uses, has no CPU kernel).
FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "mlp": ("tabular", "classify", {"dropout": 0.0}),
    "cnn": ("image", "classify", {"dropout": 0.0, "batch_norm": False}),
    "rnn": ("timeseries", "classify", {}),
    "transformer": ("text", "generate", {}),
    "autoencoder": ("tabular", "detect", {"dropout": 0.0, "batch_norm": False}),
    "deep-svdd": ("tabular", "detect", {"batch_norm": False, "pretrain_epochs": 1}),
    "vae": ("tabular", "detect", {}),
    "gan": ("image", "generate", {}),
}


def evaluate(model: Any, task: str, splits: Any) -> dict[str, float]:
    """What rank 0 reports of the trained model on the whole test split."""
    test = splits.test
    if task == "detect":
        from sklearn.metrics import roc_auc_score

        scores = model.score(test.x)
        return {"test_rows": float(len(scores)), "auroc": float(roc_auc_score(test.y, scores))}
    if task == "classify":
        predicted = model.predict(test.x).argmax(1).numpy()
        return {"test_rows": float(len(predicted)), "accuracy": float((predicted == test.y).mean())}
    samples = model.sample(256, generator=torch.Generator().manual_seed(0))
    return {"sample_mean": float(samples.float().mean())}


def main(out: str) -> None:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    results = {}
    for family, (modality, task, hparams) in FAMILIES.items():
        splits = tiny_splits(modality, task, n=96)
        model = create_model(family, splits.info, seed=0, batch_size=GLOBAL_BATCH // world,
                             **hparams)
        config = TrainConfig(seed=0, accelerator="cpu", devices=world, max_epochs=2,
                             patience=None)
        fitted = model.fit(model.training_splits(splits), config)
        results[family] = {"fit": fitted, "eval": evaluate(model, task, splits)}
    if int(os.environ.get("RANK", "0")) == 0:
        with open(out, "w") as file:
            json.dump(results, file)


if __name__ == "__main__":
    main(sys.argv[1])
