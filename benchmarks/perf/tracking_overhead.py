"""The cost of ``--tracker wandb``: ``zoo bench`` with and without it, interleaved.

Runs ``zoo bench SUITE --budget BUDGET --seeds N`` (default: embedded-ad, quick, 3 seeds) as
fresh processes, each on a fresh database, alternating ``--tracker csv`` (the default) and
``--tracker csv,wandb`` for ``--rounds`` rounds, so that a machine busy with other work slows
both alike. W&B runs offline (HOME without credentials, ``WANDB_MODE=offline``). One torch
thread per process. Prints Markdown (each run's wall time, the medians, and their ratio
against the 1.10x goal) and exits 0 when it could measure; ``--json PATH`` keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.10
VARIANTS = {"csv": "csv", "wandb": "csv,wandb"}


def bench_seconds(args: argparse.Namespace, trackers: str, folder: Path) -> tuple[float, int]:
    """Wall seconds of one ``zoo bench``, and how many cells it stored."""
    folder.mkdir()
    db = folder / "runs.db"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WANDB_")},
           "HOME": str(folder), "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1",
           "ZOO_TRACKER": trackers}
    command = [sys.executable, "-m", "zoo", "bench", args.suite, "--budget", args.budget,
               "--seeds", str(args.seeds), "--db", str(db), "--json", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"zoo bench failed ({trackers}):\n{done.stderr[-2000:]}")
    return seconds, len(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="embedded-ad")
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cells = 0
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            order = list(VARIANTS) if round_ % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                seconds, cells = bench_seconds(args, VARIANTS[name],
                                               Path(scratch) / f"{name}-{round_}")
                times[name].append(seconds)
                print(f"round {round_ + 1}, {name}: {seconds:.1f} s", file=sys.stderr)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["wandb"] / medians["csv"]
    command = f"zoo bench {args.suite} --budget {args.budget} --seeds {args.seeds}"
    print(f"## `--tracker wandb` overhead: `{command}` ({cells} cells)\n")
    print("| tracker | runs (s) | median (s) |\n| --- | --- | ---: |")
    for name, values in times.items():
        print(f"| `{VARIANTS[name]}` | {', '.join(f'{v:.1f}' for v in values)} | "
              f"{medians[name]:.1f} |")
    verdict = "PASS" if ratio <= GOAL else "FAIL"
    print(f"\nratio wandb / csv: **{ratio:.3f}x** (goal <= {GOAL:.2f}x: {verdict})")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "cells": cells, "times": times,
                                         "medians": medians, "ratio": ratio, "goal": GOAL},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
