"""Training samples per second of every gradient-trained family, on a CPU or a GPU.

Each case is one model with its default hyperparameters on the data its suite trains it on,
split and preprocessed as ``zoo train`` does (``zoo.runs.single.training_data``):

- ``mlp`` and ``cnn`` classify MNIST; ``vae[cnn]`` and ``gan[cnn]`` generate it;
  ``autoencoder[cnn]`` and ``deep-svdd[cnn]`` (no pretraining: its training loop alone)
  detect on it (``zoo train --normal-class 0``: class 0's training images);
- ``rnn`` and ``transformer`` model tiny-shakespeare's characters;
- ``autoencoder[mlp]`` detects on the ``shuttle`` table.

For each case a warm-up fit of ``--warmup-steps`` optimiser steps (CUDA context, kernels and
allocator out of the way), then a fit of ``--steps`` steps (``TrainConfig.max_steps``, no
early stopping), timed from the call to trained weights: set-up, moving the data to the
device and any validation pass that falls inside those steps included. Reported: samples/s
(steps x batch / wall seconds), steps/s, ms per step and the batch size. A GPU's clock is
read after ``torch.cuda.synchronize()``.

Needs ``ZOO_DATA_DIR`` with MNIST, tiny-shakespeare and the ADBench tables (on a GPU machine
without ``../shared``, a copy in a git-ignored folder of the checkout).

    OMP_NUM_THREADS=1 ZOO_DATA_DIR=../shared/data python benchmarks/perf/family_throughput.py
    ZOO_DATA_DIR=.data python benchmarks/perf/family_throughput.py --accelerator gpu \\
        --steps 500 --json /tmp/family_throughput_gpu.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: (model name, dataset, normal class, hyperparameters beyond the defaults)
CASES: tuple[tuple[str, str, int | None, dict[str, Any]], ...] = (
    ("mlp", "mnist", None, {}),
    ("cnn", "mnist", None, {}),
    ("rnn", "tiny-shakespeare", None, {}),
    ("transformer", "tiny-shakespeare", None, {}),
    ("vae[cnn]", "mnist", None, {}),
    ("gan[cnn]", "mnist", None, {}),
    ("autoencoder[cnn]", "mnist", 0, {}),
    ("deep-svdd[cnn]", "mnist", 0, {"pretrain_epochs": 0}),
    ("autoencoder[mlp]", "shuttle", None, {}),
)


@dataclass
class Measurement:
    case: str
    dataset: str
    batch_size: int
    steps: int
    wall_s: float

    @property
    def samples_per_s(self) -> float:
        return self.steps * self.batch_size / self.wall_s

    @property
    def ms_per_step(self) -> float:
        return self.wall_s * 1e3 / self.steps


def training_splits(model: str, dataset: str, normal_class: int | None, seed: int) -> Any:
    """The splits ``zoo train MODEL --data DATASET [--normal-class K]`` trains on,
    preprocessed as it preprocesses them."""
    from zoo.runs.single import training_data

    loaded = training_data(model, dataset, None, seed, normal_class)
    splits, _ = loaded.preprocessed(loaded.splits)
    return splits


def timed_fit(model_name: str, splits: Any, hparams: dict[str, Any], steps: int,
              accelerator: str, precision: str, seed: int) -> tuple[float, int, int]:
    """Wall seconds of one fit of ``steps`` optimiser steps; the steps taken; the batch."""
    import torch

    import zoo
    from zoo.training import TrainConfig

    model = zoo.create_model(model_name, splits.info, seed=seed, **hparams)
    config = TrainConfig(seed=seed, max_epochs=None, max_steps=steps, patience=None,
                         accelerator=accelerator, precision=precision)
    gpu = accelerator == "gpu"
    if gpu:
        torch.cuda.synchronize()
    start = time.perf_counter()
    metrics = model.fit(model.training_splits(splits), config)
    if gpu:
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    return wall, int(metrics.get("steps", steps)), int(model.hparams["batch_size"])


def measure(model: str, dataset: str, normal_class: int | None, hparams: dict[str, Any],
            args: argparse.Namespace) -> Measurement:
    splits = training_splits(model, dataset, normal_class, args.seed)
    timed_fit(model, splits, hparams, args.warmup_steps, args.accelerator, args.precision,
              args.seed)
    wall, steps, batch = timed_fit(model, splits, hparams, args.steps, args.accelerator,
                                   args.precision, args.seed)
    return Measurement(model, dataset, batch, steps, wall)


def device_description(accelerator: str) -> str:
    import torch

    if accelerator == "gpu":
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [model for model, *_ in CASES]
    parser.add_argument("--cases", nargs="+", default=names, choices=names)
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--precision", default="32-true",
                        choices=["32-true", "bf16-mixed", "16-mixed"])
    parser.add_argument("--steps", type=int, default=100, help="optimiser steps timed")
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    from zoo.training import quiet_lightning

    quiet_lightning()
    device = device_description(args.accelerator)
    print(f"# Training throughput per family: {device}, {args.precision}, "
          f"{args.steps} steps after {args.warmup_steps} warm-up steps\n")
    print("| case | data | batch | samples/s | steps/s | ms/step |\n|---|---|---:|---:|---:|---:|")
    results = []
    for model, dataset, normal_class, hparams in CASES:
        if model not in args.cases:
            continue
        m = measure(model, dataset, normal_class, hparams, args)
        results.append(m)
        print(f"| {m.case} | {m.dataset} | {m.batch_size} | {m.samples_per_s:,.0f} | "
              f"{m.steps / m.wall_s:.1f} | {m.ms_per_step:.2f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({
            "device": device, "precision": args.precision, "steps": args.steps,
            "results": [{**asdict(m), "samples_per_s": m.samples_per_s} for m in results],
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
