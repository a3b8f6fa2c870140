"""Training-step time of ``cnn`` backbone networks with channels-last weights (as built) and
with the same weights converted to the default contiguous layout.

Each network is an encoder and its mirrored decoder from ``get_backbone("cnn")`` trained as an
autoencoder (Adam, squared error, a fixed random batch) in one process with a fixed number of
torch threads. Both layouts start from the same weights and see the same batch; they are timed
in alternation (median of ``--repeats`` rounds of ``--steps`` steps, after warm-up steps), and
their losses after the timed steps are printed so that one can see they did the same work.
Prints a Markdown table; ``--json PATH`` keeps the figures.

    python benchmarks/perf/cnn_memory_format.py --threads 1
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from zoo import DataInfo
from zoo.models.backbones import get_backbone

#: name -> (image shape, code size, batch size, encoder options, decoder options)
NETWORKS: dict[str, tuple[tuple[int, int, int], int, int, dict[str, Any], dict[str, Any]]] = {
    "deep-svdd autoencoder (MNIST)": (
        (1, 28, 28), 32, 200, {"hidden": (8, 4), "bias": False},
        {"hidden": (4, 8), "bias": False, "stem": "reshape"}),
    "autoencoder[cnn] default (MNIST)": ((1, 28, 28), 32, 128, {}, {}),
    "strided, DCGAN-style (MNIST)": ((1, 28, 28), 32, 128, {"pool": "stride"},
                                     {"pool": "stride"}),
    "autoencoder[cnn] default (digits 8x8)": ((1, 8, 8), 16, 128, {}, {}),
}


def build(shape: tuple[int, int, int], code: int, encoder: dict[str, Any],
          decoder: dict[str, Any]) -> nn.Module:
    info = DataInfo("image", shape, "detect", value_range=(0.0, 1.0))
    backbone = get_backbone("cnn")
    return nn.Sequential(backbone.encoder(info, code, **encoder),
                         backbone.decoder(code, info, **decoder), nn.Sigmoid())


def trainer(network: nn.Module, batch: torch.Tensor) -> Callable[[int], float]:
    """A function that trains ``network`` for some steps and returns the last loss."""
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)

    def run(steps: int) -> float:
        for _ in range(steps):
            loss = (network(batch) - batch).pow(2).sum((1, 2, 3)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return float(loss.detach())

    return run


def measure(name: str, steps: int, repeats: int) -> dict[str, Any]:
    shape, code, batch_size, encoder, decoder = NETWORKS[name]
    torch.manual_seed(0)
    channels_last = build(shape, code, encoder, decoder)
    contiguous = copy.deepcopy(channels_last).to(memory_format=torch.contiguous_format)
    batch = torch.rand(batch_size, *shape)
    runners = {"channels_last": trainer(channels_last, batch),
               "contiguous": trainer(contiguous, batch)}
    times: dict[str, list[float]] = {layout: [] for layout in runners}
    losses: dict[str, float] = {}
    for run in runners.values():
        run(3)
    for _ in range(repeats):
        for layout, run in runners.items():
            started = time.perf_counter()
            losses[layout] = run(steps)
            times[layout].append((time.perf_counter() - started) / steps * 1000)
    ms = {layout: statistics.median(values) for layout, values in times.items()}
    return {"network": name, "batch": batch_size, "ms_per_step": ms,
            "speed_up": ms["contiguous"] / ms["channels_last"], "losses": losses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; the median is kept")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [measure(name, args.steps, args.repeats) for name in NETWORKS]
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats} "
          f"rounds of {args.steps} steps\n")
    print("| network | batch | channels-last ms/step | contiguous ms/step | speed-up | "
          "losses after (cl / contiguous) |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        ms, losses = row["ms_per_step"], row["losses"]
        print(f"| {row['network']} | {row['batch']} | {ms['channels_last']:.1f} | "
              f"{ms['contiguous']:.1f} | {row['speed_up']:.2f}x | "
              f"{losses['channels_last']:.4g} / {losses['contiguous']:.4g} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"threads": args.threads, "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
