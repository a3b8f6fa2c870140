"""Does bfloat16 autocast or ``torch.compile`` speed up a training step here? Hand loops only.

For each case of ``train_throughput.py`` (same networks, data, batches and optimisers), the
plain PyTorch training loop three ways: float32, under ``torch.autocast(dtype=bfloat16)``,
and with the network compiled (``torch.compile``, inductor, default mode). Reported per case
and mode: the first step's seconds (compilation happens there) and the steady steps/s of
the rest, median of ``--repeats`` fits, plus the final training loss (the check that the
arithmetic still trains). No zoo code runs: this decides which of the two zoo should offer,
as an upper bound on what either could give zoo's loop. ``train_throughput.py --precision
bf16-mixed`` then measures zoo's own loop in bfloat16 beside the hand loop.

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/perf/precision_compile.py
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
import train_throughput as tt  # the cases live there

MODES = ("float32", "bf16-autocast", "compile")


def fit(case: Any, splits: Any, mode: str) -> tuple[float, float, float]:
    """One hand-loop fit: (first step s, steady steps/s, last training loss)."""
    net = case.network(splits.info)
    net.load_state_dict(case.state)
    optimizer = case.optimizer(net)
    # torch.compile's wrapper: nn.Module.compile() in place left this torch's dynamo idle.
    model = torch.compile(net) if mode == "compile" else net
    train = tt._tensors(splits.train, torch.device("cpu"))
    forward = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if mode == "bf16-autocast" \
        else contextlib.nullcontext
    steps, first, start = 0, 0.0, time.perf_counter()
    steady_from = start
    for epoch in range(case.epochs):
        net.train()
        for batch in tt.index_batches(train, case.batch_size, epoch):
            with forward():
                loss, _ = case.loss(model, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if steps == 1:
                first = time.perf_counter() - start
                steady_from = time.perf_counter()
    steady = (steps - 1) / (time.perf_counter() - steady_from)
    return first, steady, float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(tt.cases()), choices=list(tt.cases()))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tt._quiet()
    torch.set_num_threads(1)
    print("| case | mode | first step s | steady steps/s | vs float32 | last training loss |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.cases:
        case = tt.cases()[name]
        splits = tt.prepare(case, 0)
        base = None
        for mode in MODES:
            runs = [fit(case, splits, mode) for _ in range(args.repeats)]
            steady = statistics.median(run[1] for run in runs)
            base = base or steady
            print(f"| {name} | {mode} | {runs[0][0]:.2f} | {steady:.1f} | {steady / base:.2f} "
                  f"| {runs[0][2]:.4f} |", flush=True)


if __name__ == "__main__":
    main()
