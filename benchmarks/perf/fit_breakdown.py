"""Where the wall time of one zoo fit goes, beside the same fit written by hand.

Fits a model (default ``autoencoder``) on a table's ``tabular-ad --budget quick --setting
semi`` split (the split and budget of ``tabular_ad_vs_pyod.py``), ``--repeats`` times after
one warm-up fit, and splits each fit's wall time by timing these calls (wrapped for the run):

- the optimiser steps (``ZooModule.optimization_step``: forward, loss, backward, step);
- the rest of the training blocks (``ZooModule.training_step`` around the steps: slicing the
  batches, the step count, the time check);
- Lightning's validation loop (``_EvaluationLoop.run``) and, within it, the model's
  ``validation_step`` calls (the forward passes);
- the rest of Lightning's epoch loop and the fit loop's epoch ends (callbacks: early
  stopping, best weights), and the set-up and tear-down around the fit loop.

Then the same fit by hand: the model's own ``training_loss`` and ``validation_step`` in a plain
PyTorch loop, with the same optimiser (torch's fused step), batch size, per-epoch
permutations, epochs and steps as the zoo fit took, a validation pass after each epoch. Its
time is what the fit would cost with no framework around the model at all. Where PyOD is
installed, PyOD's fit of the same detector with its defaults is timed beside them, as
``tabular_ad_vs_pyod.py`` does (``fit`` on the training and validation rows), in the same
rotation.

Works for models that train through ``training_loss`` (one optimiser, no pretraining):
``autoencoder``, ``mlp``-backed detectors and classifiers.

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/perf/fit_breakdown.py --dataset cardio
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tabular_ad_vs_pyod import PYOD_NAMES, quick_split, run_pyod

PARTS = ("fit", "fit loop", "epoch loop", "blocks", "steps", "validation loop",
         "validation steps", "epoch ends")


def instrument(totals: dict[str, float]) -> None:
    """Wrap the calls of :data:`PARTS` (for this process) to add their wall time to
    ``totals``."""
    from lightning.pytorch.loops.evaluation_loop import _EvaluationLoop
    from lightning.pytorch.loops.fit_loop import _FitLoop
    from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop

    from zoo.models.module import ZooModule

    def timed(owner: type, name: str, part: str) -> None:
        call: Callable[..., Any] = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                totals[part] += time.perf_counter() - start

        setattr(owner, name, wrapper)

    timed(_FitLoop, "run", "fit loop")
    timed(_FitLoop, "on_advance_end", "epoch ends")
    timed(_TrainingEpochLoop, "run", "epoch loop")
    timed(_EvaluationLoop, "run", "validation loop")
    timed(ZooModule, "training_step", "blocks")
    timed(ZooModule, "optimization_step", "steps")
    # validation_step is each model's own: wrapped per model class in zoo_fit.


def zoo_fit(model_name: str, splits: Any, budget: Any, seed: int,
            totals: dict[str, float]) -> dict[str, float]:
    import zoo
    from zoo.training import TrainConfig

    model = zoo.create_model(model_name, splits.info, seed=seed)
    cls = type(model)
    if "validation_step" in cls.__dict__ and not hasattr(cls.validation_step, "timed"):
        step = cls.validation_step

        def validation_step(self: Any, *args: Any) -> Any:
            start = time.perf_counter()
            try:
                return step(self, *args)
            finally:
                totals["validation steps"] += time.perf_counter() - start

        validation_step.timed = True  # type: ignore[attr-defined]
        cls.validation_step = validation_step
    config = TrainConfig(seed=seed, max_epochs=budget.max_epochs, max_time=budget.max_time,
                         patience=budget.patience, accelerator="cpu")
    start = time.perf_counter()
    metrics = model.fit(model.training_splits(splits), config)
    totals["fit"] += time.perf_counter() - start
    return metrics


def hand_fit(model_name: str, splits: Any, seed: int, epochs: int, steps: int) -> float:
    """The fit's training and validation in a plain loop: wall seconds."""
    import torch

    import zoo
    from zoo.training import build_optimizer
    from zoo.training.batches import IndexBatches, to_tensors

    torch.manual_seed(seed)
    model = zoo.create_model(model_name, splits.info, seed=seed)
    hp = model.hparams
    optimizer = build_optimizer(hp["optimizer"], model.parameters(), lr=hp["lr"],
                                weight_decay=hp.get("weight_decay", 0.0))
    train = IndexBatches(to_tensors(splits.train), int(hp["batch_size"]), shuffle=True,
                         seed=seed, drop_last=len(splits.train) > int(hp["batch_size"]))
    val = to_tensors(splits.val)
    start = time.perf_counter()
    taken = 0
    for _ in range(epochs):
        model.train()
        for batch in train:
            loss = model.training_loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            taken += 1
            if taken == steps:
                break
        model.eval()
        with torch.no_grad():
            model.validation_step(val, 0)
        model._epoch_sums.clear()  # the epoch means zoo would log: not needed here
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="cardio")
    parser.add_argument("--model", default="autoencoder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    splits, budget = quick_split(args.dataset, args.seed)
    totals: dict[str, float] = defaultdict(float)
    instrument(totals)
    metrics = zoo_fit(args.model, splits, budget, args.seed, totals)  # warm-up
    epochs, steps = int(metrics["epochs"]), int(metrics["steps"])
    hand_fit(args.model, splits, args.seed, epochs, steps)
    with_pyod = args.model in PYOD_NAMES and importlib.util.find_spec("pyod") is not None
    if with_pyod:
        run_pyod(args.model, splits, args.seed, dataset=args.dataset, rep=-1)
    runs: list[dict[str, float]] = []
    hand: list[float] = []
    pyod: list[float] = []
    for _ in range(args.repeats):
        totals.clear()
        zoo_fit(args.model, splits, budget, args.seed, totals)
        runs.append(dict(totals))
        hand.append(hand_fit(args.model, splits, args.seed, epochs, steps))
        if with_pyod:
            pyod.append(run_pyod(args.model, splits, args.seed, dataset=args.dataset,
                                 rep=0).fit_s)
    median = {part: statistics.median(run.get(part, 0.0) for run in runs) for part in PARTS}
    rows = [
        ("optimiser steps", median["steps"]),
        ("blocks around the steps", median["blocks"] - median["steps"]),
        ("validation: the model's validation_step", median["validation steps"]),
        ("validation: Lightning's loop around it",
         median["validation loop"] - median["validation steps"]),
        ("epoch loop, the rest", median["epoch loop"] - median["blocks"]
         - median["validation loop"]),
        ("epoch ends (callbacks)", median["epoch ends"]),
        ("fit loop, the rest", median["fit loop"] - median["epoch loop"]
         - median["epoch ends"]),
        ("set-up and tear-down", median["fit"] - median["fit loop"]),
    ]
    print(f"# zoo fit of `{args.model}` on {args.dataset} (seed {args.seed}, quick budget): "
          f"{epochs} epochs, {steps} optimiser steps; median of {args.repeats}\n")
    print("| part | ms | per epoch | share |\n|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1e3:.1f} | {seconds * 1e3 / epochs:.2f} | "
              f"{seconds / median['fit']:.0%} |")
    print(f"| **zoo fit** | **{median['fit'] * 1e3:.1f}** | {median['fit'] * 1e3 / epochs:.2f} "
          "| 100% |")
    hand_s = statistics.median(hand)
    print(f"| the same fit by hand | {hand_s * 1e3:.1f} | {hand_s * 1e3 / epochs:.2f} | "
          f"{hand_s / median['fit']:.0%} |")
    if pyod:
        pyod_s = statistics.median(pyod)
        print(f"| PyOD's fit, its defaults | {pyod_s * 1e3:.1f} | | "
              f"{pyod_s / median['fit']:.0%} |")
    print(f"\nzoo ms per optimiser step {median['steps'] * 1e3 / steps:.3f}; by hand (its "
          f"validation included) {hand_s * 1e3 / steps:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
