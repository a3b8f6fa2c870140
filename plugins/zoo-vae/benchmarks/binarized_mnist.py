"""Train ``vae`` on binarised MNIST and report the IWAE test NLL in nats, with wall times.

The reference (pythae, ``examples/scripts/reproducibility``; /work/shared/REFERENCES.md) is a
VAE at 89.78 nats with 200 importance samples, after 100 epochs (batch 100, lr 1e-3, latent
16). Pixels are binarised once by a Bernoulli draw of their intensities with a fixed seed
(stochastic binarisation, static afterwards), so that the Bernoulli likelihood is a proper
probability. Train and validation are zoo's split of the 60,000 training images (51,000 /
9,000, seed 0); the NLL is on the 10,000 test images. With ``--set dynamic_binarization=true``
the training images stay grey and the model draws them afresh every batch; validation and
test are binarised once as above, the same binary images in both protocols.

    ZOO_DATA_DIR=... python plugins/zoo-vae/benchmarks/binarized_mnist.py --epochs 3
    ZOO_DATA_DIR=... python plugins/zoo-vae/benchmarks/binarized_mnist.py --set hidden=400
    ZOO_DATA_DIR=... python plugins/zoo-vae/benchmarks/binarized_mnist.py --epochs 600 \
        --max-minutes 100 --set lr_schedule=cosine --set dynamic_binarization=true
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from zoo import create_model, save_model
from zoo.cli import parse_sets
from zoo.data import load_dataset
from zoo.data.splits import make_splits
from zoo.data.types import Arrays, Splits
from zoo.evaluation.images import save_grid_png
from zoo.training import TrainConfig


def binarized(arrays: Arrays, rng: np.random.Generator) -> Arrays:
    """Each pixel 1 with probability its intensity."""
    return Arrays((rng.random(arrays.x.shape) < arrays.x).astype(np.float32), arrays.y)


def binarized_mnist(seed: int = 0) -> tuple[Splits, Arrays]:
    """zoo's MNIST splits binarised once, and the grey training images (for dynamic
    binarisation; validation and test are the same binary images in both protocols)."""
    splits = make_splits(load_dataset("mnist"), seed=0, task="generate")
    rng = np.random.default_rng(seed)
    val = None if splits.val is None else binarized(splits.val, rng)
    # The training images are drawn even when only the grey ones are used, so that the test
    # images, drawn after them, are the same binary images in both protocols.
    binary = replace(splits, train=binarized(splits.train, rng), val=val,
                     test=binarized(splits.test, rng))
    return binary, splits.train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="mlp", help="mlp or cnn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop training after this long (the best weights so far are kept)")
    parser.add_argument("--iw-samples", type=int, default=200)
    parser.add_argument("--test-limit", type=int, default=None,
                        help="score only the first N test images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=Path, default=None,
                        help="write 64 samples of the trained model (grey levels) as a PNG")
    parser.add_argument("--save", type=Path, default=None,
                        help="save the trained model to this folder (zoo.save_model)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a hyperparameter of vae, as zoo train --set (repeatable)")
    args = parser.parse_args()
    hparams = parse_sets(args.sets)

    splits, grey_train = binarized_mnist()
    model = create_model(f"vae[{args.backbone}]", splits.info, seed=args.seed,
                         iw_samples=args.iw_samples, **hparams)
    if model.hparams["dynamic_binarization"]:
        splits = replace(splits, train=grey_train)
    started = time.perf_counter()
    metrics = model.fit(splits, TrainConfig(seed=args.seed, accelerator="cpu",
                                            max_epochs=args.epochs, patience=None,
                                            max_time=args.max_minutes and args.max_minutes * 60))
    train_seconds = time.perf_counter() - started
    if args.save:
        save_model(model, args.save)
    if args.grid:
        save_grid_png(model.sample(64, torch.Generator().manual_seed(args.seed)), args.grid,
                      scale=2)
    test_x = splits.test.x[:args.test_limit]
    started = time.perf_counter()
    nll = -model.log_likelihood(test_x).double().mean().item()
    nll_seconds = time.perf_counter() - started
    started = time.perf_counter()
    negative_elbo = model.score(test_x).double().mean().item()
    score_seconds = time.perf_counter() - started
    print(json.dumps({
        "backbone": args.backbone, "hparams": hparams, "epochs": args.epochs,
        "train_size": len(splits.train),
        "torch_threads": torch.get_num_threads(), **metrics,
        "train_seconds": round(train_seconds, 1), "test_size": len(test_x),
        "iw_samples": args.iw_samples, "test_nll": round(nll, 2),
        "nll_seconds": round(nll_seconds, 1), "test_negative_elbo": round(negative_elbo, 2),
        "score_seconds": round(score_seconds, 1)}, indent=1))


if __name__ == "__main__":
    main()
