"""The cost of ``--tracker wandb``: ``zoo bench`` with and without it, interleaved.

Runs ``zoo bench SUITE --budget BUDGET --seeds N`` (default: embedded-ad, quick, 3 seeds) as
fresh processes, each on a fresh database, alternating ``--tracker csv`` (the default) and
``--tracker csv,wandb`` for ``--rounds`` rounds, so that a machine busy with other work slows
both alike. W&B runs offline (HOME without credentials, ``WANDB_MODE=offline``); a
``csv,wandb`` run that did not write one W&B run per cell plus the leaderboard's fails the
measurement. One torch thread per process. Prints Markdown (each run's wall and CPU time,
the medians, and the ratio of the wall medians against the 1.10x goal; the CPU ratio is the
steadier figure on a machine shared with other work) and exits 0 when it could measure;
``--json PATH`` keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.10
VARIANTS = {"csv": "csv", "wandb": "csv,wandb"}


def bench_seconds(args: argparse.Namespace, trackers: str,
                  folder: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of one ``zoo bench`` (the CPU time of its process and of every
    process it waited for, wandb's service included), and how many cells it stored."""
    folder.mkdir()
    db = folder / "runs.db"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WANDB_")},
           "HOME": str(folder), "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1",
           "ZOO_TRACKER": trackers}
    command = [sys.executable, "-m", "zoo", "bench", args.suite, "--budget", args.budget,
               "--seeds", str(args.seeds), "--db", str(db), "--json", "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"zoo bench failed ({trackers}):\n{done.stderr[-2000:]}")
    cells = len(json.loads(done.stdout))
    written = len(list((folder / "wandb").glob("offline-run-*")))
    if "wandb" in trackers and written != cells + 1:  # a cell's run each, and the leaderboard's
        sys.exit(f"W&B wrote {written} runs for {cells} cells:\n{done.stderr[-2000:]}")
    return seconds, cpu, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="embedded-ad")
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cells = 0
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            order = list(VARIANTS) if round_ % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                seconds, used, cells = bench_seconds(args, VARIANTS[name],
                                                     Path(scratch) / f"{name}-{round_}")
                times[name].append(seconds)
                cpu[name].append(used)
                print(f"round {round_ + 1}, {name}: {seconds:.1f} s, CPU {used:.1f} s",
                      file=sys.stderr)
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    ratio = medians["wandb"] / medians["csv"]
    cpu_ratio = cpu_medians["wandb"] / cpu_medians["csv"]
    command = f"zoo bench {args.suite} --budget {args.budget} --seeds {args.seeds}"
    print(f"## `--tracker wandb` overhead: `{command}` ({cells} cells)\n")
    print("| tracker | wall per run (s) | median wall (s) | CPU per run (s) | median CPU (s) |\n"
          "| --- | --- | ---: | --- | ---: |")
    for name, values in times.items():
        print(f"| `{VARIANTS[name]}` | {', '.join(f'{v:.1f}' for v in values)} | "
              f"{medians[name]:.1f} | {', '.join(f'{v:.1f}' for v in cpu[name])} | "
              f"{cpu_medians[name]:.1f} |")
    verdict = "PASS" if ratio <= GOAL else "FAIL"
    print(f"\nratio wandb / csv: wall **{ratio:.3f}x** (goal <= {GOAL:.2f}x: {verdict}), "
          f"CPU {cpu_ratio:.3f}x")
    if args.json:
        args.json.write_text(json.dumps({"command": command, "cells": cells, "times": times,
                                         "cpu": cpu, "medians": medians, "ratio": ratio,
                                         "cpu_ratio": cpu_ratio, "goal": GOAL},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
