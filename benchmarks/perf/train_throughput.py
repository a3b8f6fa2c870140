"""Training throughput: zoo's fit loop beside a hand-written PyTorch loop and the usual
DataLoader loop, on the same network, data, batch and optimiser.

Cases (``--cases``): ``mlp-128`` and ``mlp-512`` (a synthetic 10-class table, 16,000 + 4,000
rows x 64 features, hidden (256, 256), Adam), ``cnn`` (scikit-learn's 8x8 digits, 1,437 +
360 images, the default ``cnn``: two 5x5 conv blocks of 32 and 64 channels with batch norm,
AdamW, batch 128) and ``transformer`` (next-token model on synthetic token windows, 1,024 +
256 windows of 32 tokens, vocabulary 65, 2 blocks of 2 heads and 64 dims, AdamW with weight
decay on the matrices, gradient norm clipped to 1, batch 64). Dropout is 0 everywhere, so
that the three loops do the same arithmetic.

Runners, for each case:

- ``zoo``: ``zoo.create_model(...)`` then ``model.fit(splits, TrainConfig(max_epochs=E,
  patience=None, accelerator="cpu"))``: zoo's whole fit (Trainer, callbacks, CSV logger,
  per-epoch validation, best-validation parameters restored).
- ``hand``: the same network class (built by the family's backbone, checked equal to zoo's),
  the same initial weights, the same batches (one ``randperm`` per epoch seeded
  ``seed + epoch``, index slices, the last partial batch dropped), ``zero_grad / backward /
  [clip] / step``; per epoch the training loss (and accuracy) as tensor sums, a finiteness
  check, a validation pass in batches of ``max(batch, 1024)`` and a copy of the best
  parameters, as zoo does. It ends with the same best validation loss as zoo (printed: the
  check that both do the same work).
- ``dataloader``: the loop most PyTorch code writes: ``DataLoader(TensorDataset(...),
  batch_size=B, shuffle=True, drop_last=True)`` for training and a ``DataLoader`` for
  validation; otherwise as ``hand`` (its data order differs, so its losses do too).

Timing: each run is the whole fit call from a built model to trained weights, in one process,
``torch.set_num_threads(--threads)``; the runners are interleaved and their order rotated in
every repetition; reported are the median steps/s of ``--repeats``, the ratio zoo / hand of
the medians and paired per repetition, the ratio per CPU second, and zoo / dataloader.
``--profile CASE`` then prints cProfile's top functions (self time) of one zoo run.
The hand loops step the optimiser as zoo does, with torch's fused kernel (the same arithmetic,
so the ratio is the loops' own cost); ``--hand-optimizer default`` gives them torch's default
step instead, a Python loop over the parameters, as most hand-written loops have it.
``--precision bf16-mixed`` trains every runner with bfloat16 autocast (zoo through
``TrainConfig.precision``, the hand loops under ``torch.autocast``). ``--accelerator gpu``
runs all three on the first CUDA device (data on the device whole, as zoo keeps it; the
clock read after a synchronisation); it has not been run on a GPU here.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import io
import json
import logging
import math
import os
import platform
import pstats
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.data.types import Arrays, DataInfo, Splits
from zoo.training import TrainConfig

RUNNERS = ("zoo", "hand", "dataloader")
VOCAB, WINDOW = 65, 32

# -- cases -----------------------------------------------------------------------------------


@dataclass
class Case:
    """One model, its data and batch, and the same network and optimiser written by hand."""

    name: str
    model: str
    batch_size: int
    epochs: int
    hparams: dict[str, Any]
    splits: Callable[[int], Splits]
    network: Callable[[DataInfo], nn.Module]
    optimizer: Callable[[nn.Module, bool], torch.optim.Optimizer]  # (network, fused)
    loss: Callable[[nn.Module, tuple[torch.Tensor, ...]], tuple[torch.Tensor, torch.Tensor | None]]
    clip: float = 0.0
    state: dict[str, torch.Tensor] = field(default_factory=dict)


def table(seed: int) -> Splits:
    """A 10-class table labelled by a random teacher network; standardised features."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((20_000, 64), dtype=np.float32)
    w1 = rng.standard_normal((64, 32), dtype=np.float32)
    w2 = rng.standard_normal((32, 10), dtype=np.float32)
    y = (np.tanh(x @ w1) @ w2).argmax(1).astype(np.int64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    return _split(x, y, DataInfo("tabular", (64,), "classify", n_classes=10), 4_000)


def digits(seed: int) -> Splits:
    """scikit-learn's 8x8 digits as 1x8x8 images in [0, 1], shuffled with ``seed``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    x = (data.images[order] / 16.0).astype(np.float32)[:, None]
    y = data.target[order].astype(np.int64)
    info = DataInfo("image", (1, 8, 8), "classify", n_classes=10, value_range=(0.0, 1.0))
    return _split(x, y, info, 360)


def tokens(seed: int) -> Splits:
    """Windows of a random first-order Markov chain over 65 tokens (a learnable next token)."""
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.full(VOCAB, 0.1), VOCAB)
    cumulative = transitions.cumsum(1)
    n = 1_280
    x = np.empty((n, WINDOW), dtype=np.int64)
    x[:, 0] = rng.integers(0, VOCAB, n)
    for t in range(1, WINDOW):
        u = rng.random(n)[:, None]
        x[:, t] = np.minimum((u > cumulative[x[:, t - 1]]).sum(1), VOCAB - 1)
    info = DataInfo("text", (WINDOW,), "generate", vocab_size=VOCAB)
    return _split(x, None, info, 256)


def _split(x: np.ndarray, y: np.ndarray | None, info: DataInfo, n_val: int) -> Splits:
    train = Arrays(np.ascontiguousarray(x[:-n_val]), None if y is None else y[:-n_val])
    val = Arrays(np.ascontiguousarray(x[-n_val:]), None if y is None else y[-n_val:])
    return Splits(train, val, val, info)


def classify_loss(net: nn.Module,
                  batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Cross-entropy, and the correct predictions (zoo's training accuracy does this work)."""
    x, y = batch
    outputs = net(x)
    return F.cross_entropy(outputs, y), (outputs.detach().argmax(1) == y).sum()


def next_token_loss(net: nn.Module,
                    batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Cross-entropy of every token given the ones before it (the start symbol first)."""
    x = batch[0]
    shifted = torch.cat([torch.full_like(x[:, :1], VOCAB), x[:, :-1]], 1)
    return F.cross_entropy(net(shifted).transpose(1, 2), x), None


def mlp_network(info: DataInfo) -> nn.Module:
    from zoo_mlp.torch_model import MLP

    return MLP(info.n_features, 10, (256, 256), dropout=0.0)


def cnn_network(info: DataInfo) -> nn.Module:
    from zoo_cnn.backbone import CNNBackbone

    return CNNBackbone().encoder(info, 10, hidden=(32, 64), kernel_size=5, batch_norm=True,
                                 activation="relu", pool="max", dropout=0.0)


TRANSFORMER = {"layers": 2, "heads": 2, "dim": 64, "dropout": 0.0, "bias": False,
               "activation": "gelu"}


def transformer_network(info: DataInfo) -> nn.Module:
    from zoo_transformer.backbone import TransformerBackbone

    return TransformerBackbone().causal(info, VOCAB, **TRANSFORMER)


def transformer_optimizer(net: nn.Module, fused: bool) -> torch.optim.Optimizer:
    """AdamW with weight decay on the matrices and embeddings only (as zoo's transformer)."""
    groups = [{"params": [p for p in net.parameters() if p.dim() >= 2]},
              {"params": [p for p in net.parameters() if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.1, fused=fused or None)


def cases() -> dict[str, Case]:
    def mlp(batch: int) -> Case:
        return Case(f"mlp-{batch}", "mlp", batch, 3,
                    {"hidden": (256, 256), "dropout": 0.0, "optimizer": "adam", "lr": 1e-3},
                    table, mlp_network,
                    lambda net, fused: torch.optim.Adam(net.parameters(), lr=1e-3,
                                                        fused=fused or None),
                    classify_loss)

    return {case.name: case for case in [
        mlp(128), mlp(512),
        Case("cnn", "cnn", 128, 10, {"dropout": 0.0}, digits, cnn_network,
             lambda net, fused: torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4,
                                                  fused=fused or None),
             classify_loss),
        Case("transformer", "transformer", 64, 3, dict(TRANSFORMER), tokens,
             transformer_network, transformer_optimizer, next_token_loss, clip=1.0),
    ]}


def prepare(case: Case, seed: int) -> Splits:
    """The case's data, and its initial weights after checking that the hand loop's network
    is the very architecture zoo builds."""
    splits = case.splits(seed)
    torch.manual_seed(seed)
    zoo_net = zoo_model(case, splits).network
    net = case.network(splits.info)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    if str(zoo_net) != str(net) or shapes != {k: tuple(v.shape) for k, v in
                                              zoo_net.state_dict().items()}:
        raise SystemExit(f"{case.name}: zoo's network differs from the hand loop's:\n"
                         f"{zoo_net}\n{net}")
    case.state = {k: v.clone() for k, v in zoo_net.state_dict().items()}
    return splits


def zoo_model(case: Case, splits: Splits) -> Any:
    return zoo.create_model(case.model, splits.info, batch_size=case.batch_size,
                            **case.hparams)


# -- runners ---------------------------------------------------------------------------------


@dataclass
class Measurement:
    steps: int
    wall_s: float
    cpu_s: float
    best_val_loss: float

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.wall_s


def _device(args: argparse.Namespace) -> torch.device:
    return torch.device("cuda" if args.accelerator == "gpu" else "cpu")


def _autocast(args: argparse.Namespace) -> Any:
    """The hand loops' forward context for ``--precision``: Lightning's own for
    ``bf16-mixed`` (bfloat16 autocast in training and validation), none for ``32-true``."""
    if args.precision == "bf16-mixed":
        return torch.autocast(_device(args).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _sync(args: argparse.Namespace) -> None:
    if args.accelerator == "gpu":
        torch.cuda.synchronize()


def zoo_run(case: Case, splits: Splits, args: argparse.Namespace,
            profiler: cProfile.Profile | None = None) -> Measurement:
    model = zoo_model(case, splits)
    model.network.load_state_dict(case.state)
    config = TrainConfig(seed=args.seed, max_epochs=case.epochs, patience=None,
                         accelerator=args.accelerator, precision=args.precision)
    _sync(args)
    c0, t0 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = model.fit(splits, config)
    if profiler is not None:
        profiler.disable()
    _sync(args)
    t1, c1 = time.perf_counter(), time.process_time()
    return Measurement(int(result["steps"]), t1 - t0, c1 - c0, float(result["best_val_loss"]))


def _tensors(arrays: Arrays, device: torch.device) -> tuple[torch.Tensor, ...]:
    x = torch.from_numpy(arrays.x).to(device)
    return (x,) if arrays.y is None else (x, torch.from_numpy(arrays.y).to(device))


def index_batches(train: tuple[torch.Tensor, ...], batch_size: int,
                  seed: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """zoo's batches: one seeded permutation, index slices, the last partial batch dropped."""
    n = len(train[0])
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(train[0].device)
    for b in range(n // batch_size if n > batch_size else 1):
        index = order[b * batch_size:(b + 1) * batch_size]
        yield tuple(t[index] for t in train)


def hand_run(case: Case, splits: Splits, args: argparse.Namespace, *,
             dataloader: bool = False) -> Measurement:
    """Plain PyTorch: what zoo's fit does, written out (``dataloader``: with DataLoaders)."""
    from torch.utils.data import DataLoader, TensorDataset

    assert splits.val is not None
    device = _device(args)
    net = case.network(splits.info)
    net.load_state_dict(case.state)
    _sync(args)
    c0, t0 = time.process_time(), time.perf_counter()
    net.to(device)
    optimizer = case.optimizer(net, args.hand_optimizer == "fused")
    train, val = _tensors(splits.train, device), _tensors(splits.val, device)
    val_batch = max(case.batch_size, 1024)
    if dataloader:
        train_loader = DataLoader(TensorDataset(*train), batch_size=case.batch_size,
                                  shuffle=True, drop_last=True)
        val_loader = DataLoader(TensorDataset(*val), batch_size=val_batch)
    best_loss, best_state, steps = math.inf, None, 0
    for epoch in range(case.epochs):
        net.train()
        loss_sum, seen = torch.zeros((), device=device), 0
        correct = torch.zeros((), dtype=torch.long, device=device)
        batches = train_loader if dataloader else index_batches(train, case.batch_size,
                                                                  args.seed + epoch)
        for batch in batches:
            with _autocast(args):
                loss, right = case.loss(net, batch)
            optimizer.zero_grad()
            loss.backward()
            if case.clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), case.clip)
            optimizer.step()
            loss_sum += loss.detach() * len(batch[0])
            if right is not None:
                correct += right
            seen += len(batch[0])
            steps += 1
        if not math.isfinite(float(loss_sum) / seen):
            raise RuntimeError(f"{case.name}: the training loss diverged in epoch {epoch}")
        net.eval()
        with torch.inference_mode():
            val_sum = torch.zeros((), device=device)
            parts = val_loader if dataloader else (
                tuple(t[i:i + val_batch] for t in val) for i in range(0, len(val[0]), val_batch))
            for batch in parts:
                with _autocast(args):
                    loss, _ = case.loss(net, batch)
                val_sum += loss * len(batch[0])
        val_loss = float(val_sum) / len(val[0])
        if math.isfinite(val_loss) and val_loss < best_loss:
            best_loss = val_loss
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if best_state is not None:
        net.load_state_dict(best_state)
    _sync(args)
    t1, c1 = time.perf_counter(), time.process_time()
    return Measurement(steps, t1 - t0, c1 - c0, best_loss)


def run(runner: str, case: Case, splits: Splits, args: argparse.Namespace) -> Measurement:
    if runner == "zoo":
        return zoo_run(case, splits, args)
    return hand_run(case, splits, args, dataloader=runner == "dataloader")


# -- report ----------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def report(results: dict[str, dict[str, list[Measurement]]]) -> dict[str, Any]:
    print("| case | runner | steps | fit s | steps/s | zoo / this | zoo / this paired | "
          "zoo / this best-of | zoo / this per CPU s | best val loss |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary: dict[str, Any] = {}
    for name, by_runner in results.items():
        zoo_runs = by_runner["zoo"]
        zoo_rate = _median([m.steps_per_s for m in zoo_runs])
        zoo_cpu = _median([m.steps / m.cpu_s for m in zoo_runs])
        zoo_best = max(m.steps_per_s for m in zoo_runs)
        for runner, runs in by_runner.items():
            rate = _median([m.steps_per_s for m in runs])
            cpu = _median([m.steps / m.cpu_s for m in runs])
            paired = _median([m.wall_s / z.wall_s for m, z in zip(runs, zoo_runs, strict=True)])
            row = {"steps": runs[0].steps, "fit_s": _median([m.wall_s for m in runs]),
                   "steps_per_s": rate, "zoo_ratio": zoo_rate / rate, "zoo_ratio_paired": paired,
                   "zoo_ratio_best_of": zoo_best / max(m.steps_per_s for m in runs),
                   "zoo_ratio_cpu": zoo_cpu / cpu, "best_val_loss": runs[0].best_val_loss,
                   "runs": [vars(m) for m in runs]}
            summary[f"{name}/{runner}"] = row
            ratios = " | | | " if runner == "zoo" else (
                f"**{row['zoo_ratio']:.2f}** | {paired:.2f} | {row['zoo_ratio_best_of']:.2f} | "
                f"{row['zoo_ratio_cpu']:.2f}")
            print(f"| {name} | {runner} | {row['steps']} | {row['fit_s']:.3f} | {rate:.1f} | "
                  f"{ratios} | {row['best_val_loss']:.5f} |")
    return summary


def profile(case: Case, splits: Splits, args: argparse.Namespace) -> None:
    profiler = cProfile.Profile()
    measurement = zoo_run(case, splits, args, profiler)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    print(f"\n## cProfile: zoo, {case.name}, {measurement.steps} steps, "
          f"{measurement.wall_s:.2f} s under the profiler; top {args.top} by self time\n")
    print("```")
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))
    print("```")


# -- driver ----------------------------------------------------------------------------------


def _quiet() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(cases()), choices=list(cases()))
    parser.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=RUNNERS)
    parser.add_argument("--repeats", type=int, default=5, help="median of this many runs")
    parser.add_argument("--epochs-scale", type=float, default=1.0,
                        help="multiply every case's epochs (longer, steadier runs)")
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu",
                        help="gpu: data, network and all three loops on the first CUDA device")
    parser.add_argument("--hand-optimizer", choices=["fused", "default"], default="fused",
                        help="the hand loops' optimiser step: fused (zoo's, the same "
                        "arithmetic) or default (torch's per-tensor loop)")
    parser.add_argument("--precision", choices=["32-true", "bf16-mixed"], default="32-true",
                        help="every runner in this precision (bf16-mixed: bfloat16 autocast)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (0: leave torch's default)")
    parser.add_argument("--seed", type=int, default=0,
                        help="data, initial weights and the per-epoch permutations")
    parser.add_argument("--profile", nargs="*", default=[], choices=list(cases()),
                        help="after the timings, profile one zoo run of these of the cases")
    parser.add_argument("--top", type=int, default=25, help="rows of the profile listing")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    return parser.parse_args(argv)


def environment() -> dict[str, Any]:
    """Versions, the machine, its load, and the command line."""
    import lightning

    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "python": platform.python_version(),
            "torch": torch.__version__, "lightning": lightning.__version__,
            "zoo": zoo.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else None, "torch_threads": torch.get_num_threads(),
            "load_avg_at_start": [round(v, 2) for v in os.getloadavg()],
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "argv": sys.argv[1:]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _quiet()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    env = environment()
    print("# zoo training throughput: zoo's fit vs a hand-written loop vs a DataLoader loop\n")
    print(", ".join(f"{k}={v}" for k, v in env.items()) + "\n")
    chosen = {name: copy.copy(case) for name, case in cases().items() if name in args.cases}
    data = {}
    for case in chosen.values():
        case.epochs = max(1, round(case.epochs * args.epochs_scale))
        data[case.name] = prepare(case, args.seed)
        warm = copy.copy(case)
        warm.epochs = 1
        for runner in args.runners:  # imports, first-call initialisation, allocator
            run(runner, warm, data[case.name], args)
    results: dict[str, dict[str, list[Measurement]]] = {
        name: {runner: [] for runner in ("zoo", *[r for r in args.runners if r != "zoo"])}
        for name in chosen}
    for rep in range(args.repeats):
        for name, case in chosen.items():
            runners = list(results[name])
            shift = rep % len(runners)
            for runner in runners[shift:] + runners[:shift]:
                m = run(runner, case, data[name], args)
                results[name][runner].append(m)
                print(f"  rep {rep + 1} {name:<12} {runner:<10} {m.steps} steps "
                      f"{m.wall_s:.3f} s ({m.steps_per_s:.1f} steps/s), best val loss "
                      f"{m.best_val_loss:.5f}", file=sys.stderr, flush=True)
    print(f"steps/s over the whole fit call, median of {args.repeats}; zoo / this: zoo's "
          "steps/s over this runner's (of the medians; paired: median over repetitions of "
          "the ratio within a repetition; best-of: of the fastest runs; per CPU s: steps per "
          "process CPU second)\n")
    summary = report(results)
    for name in args.profile:
        if name in chosen:
            profile(chosen[name], data[name], args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"environment": env, "results": summary}, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
