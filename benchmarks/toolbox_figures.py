"""The toolbox's acceptance figures (issue 23), through the real ``zoo`` CLI.

- ``transfer``: ``cnn`` on Fashion-MNIST initialised from a ``cnn`` trained on MNIST against
  one from scratch, test accuracy after 1 and 3 epochs (the same budget for both);
- ``ensemble``: a 5-seed ``autoencoder`` ensemble (``autoencoder@5`` cells of tabular-ad,
  semi setting, quick budget) against its members' mean test AUROC.

Run from the repository root with the data in ``ZOO_DATA_DIR``; every command is printed
before it runs, the figures as Markdown at the end::

    ZOO_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python benchmarks/toolbox_figures.py \\
        --db .zoo/toolbox.db transfer ensemble
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

#: The four tables of the `zoo tune` comparison (benchmarks/tune_acceptance.sh), none of them
#: among the six the tabular defaults were chosen on.
TABLES = ("wbc", "cardio", "glass", "cardiotocography")
EPOCHS = (1, 3)


def zoo(db: str, *args: str) -> Any:
    """Run ``zoo ARGS --db DB --json``; its parsed output."""
    command = [sys.executable, "-m", "zoo", *args, "--db", db, "--json"]
    print("$ zoo " + " ".join(args), file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"zoo {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def transfer(db: str) -> list[str]:
    source = zoo(db, "train", "cnn", "--data", "mnist", "--max-epochs", "1", "-q")
    lines = [f"source: cnn on mnist, 1 epoch, run {source['id'][:8]}", "",
             "| start | epochs | Fashion-MNIST test accuracy |", "| --- | --- | --- |"]
    for epochs in EPOCHS:
        for start, extra in (("scratch", ()), ("from MNIST", ("--init-from", source["id"]))):
            run = zoo(db, "train", "cnn", "--data", "fashion-mnist", "--max-epochs",
                      str(epochs), "-q", *extra)
            scored = zoo(db, "evaluate", run["id"])
            lines.append(f"| {start} | {epochs} | {scored['metrics']['accuracy']:.4f} |")
    return lines


def ensemble(db: str, seeds: int) -> list[str]:
    rows = zoo(db, "bench", "tabular-ad", "--models", "autoencoder@5", "--datasets",
               ",".join(TABLES), "--setting", "semi", "--budget", "quick", "--seeds",
               str(seeds))
    lines = ["| table | seeds | ensemble AUROC | mean member AUROC | best member AUROC |",
             "| --- | --- | --- | --- | --- |"]
    for table in TABLES:
        cells = [r for r in rows if r["dataset"] == table and r["status"] == "ok"]
        together = [r["metrics"]["auroc"] for r in cells]
        members = [[m["auroc"] for m in r["extra"]["member_metrics"]] for r in cells]
        mean_member = [statistics.fmean(m) for m in members]
        best_member = [max(m) for m in members]
        lines.append(f"| {table} | {len(cells)} | {_spread(together)} | "
                     f"{_spread(mean_member)} | {_spread(best_member)} |")
    return lines


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4f}" if values else "-"
    return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", nargs="+", choices=("transfer", "ensemble"))
    parser.add_argument("--db", required=True, help="Runs database (stored cells resume).")
    parser.add_argument("--seeds", type=int, default=3, help="Seeds of the ensemble cells.")
    args = parser.parse_args()
    for figure in args.figures:
        lines = transfer(args.db) if figure == "transfer" else ensemble(args.db, args.seeds)
        print(f"\n## {figure}\n\n" + "\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
