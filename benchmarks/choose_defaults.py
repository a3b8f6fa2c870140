"""Choose a model's tabular defaults on validation data only, over a stated set of tables.

Runs ``zoo tune MODEL --sampler grid --pruner none --space GRID`` on each table (the ``semi``
protocol's split: half of the normal rows train, a tenth of those validate, the test split is
sealed while trials run), so every table scores the same grid points by their lowest
validation loss. The points are ranked per table (1 = lowest loss) and the chosen defaults
are the point with the lowest mean rank over the tables (ties: the lower geometric mean of
the loss relative to each table's best). Nothing here reads a test metric: ``zoo tune`` does
retrain its best point and test it once, as it always does, and this script ignores that.

Usage::

    ZOO_DATA_DIR=../shared/data python benchmarks/choose_defaults.py autoencoder \\
        --grid benchmarks/defaults/autoencoder.yaml --db .zoo/defaults.db \\
        --tables thyroid pima ionosphere vowels satellite wdbc

Prints Markdown: the top points with their rank and loss on each table, the former defaults'
place, and the chosen point. Studies are resumed, so a killed run is started again as is.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ZOO = str(Path(sys.executable).with_name("zoo"))


def tune(model: str, table: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run (or resume) the grid study of ``model`` on ``table``; return ``zoo tune --show``."""
    study = f"defaults-{model}-{table}-seed{args.seed}"
    common = ["--db", str(args.db), "--json"]
    subprocess.run([ZOO, "tune", model, "--data", table, "--sampler", "grid", "--pruner", "none",
                    "--space", str(args.grid), "--trials", str(args.points),
                    "--max-epochs", str(args.max_epochs), "--seed", str(args.seed),
                    "--study", study, *common], check=True, stdout=subprocess.DEVNULL)
    shown = subprocess.run([ZOO, "tune", "--show", study, *common], check=True,
                           capture_output=True, text=True)
    return json.loads(shown.stdout)


def point_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def losses_by_point(study: dict[str, Any]) -> dict[str, float]:
    """Each complete grid point's validation loss (a point tried twice keeps its first)."""
    losses: dict[str, float] = {}
    for trial in study["trials"]:
        if trial["state"] == "complete" and math.isfinite(trial["value"]):
            losses.setdefault(point_key(trial["params"]), trial["value"])
    return losses


def rank(losses: dict[str, float]) -> dict[str, float]:
    """1 for the lowest loss; ties share their mean rank."""
    ordered = sorted(losses.values())
    return {point: ordered.index(loss) + (ordered.count(loss) + 1) / 2
            for point, loss in losses.items()}


def shared_ranks(tables: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each table's :func:`rank` of the points scored on every table."""
    shared = set.intersection(*(set(losses) for losses in tables.values()))
    return {table: rank({p: losses[p] for p in shared}) for table, losses in tables.items()}


def choose(tables: dict[str, dict[str, float]],
           ranks: dict[str, dict[str, float]]) -> list[tuple[str, float, float]]:
    """The points of ``ranks`` (:func:`shared_ranks`), best first: (point, mean rank,
    geometric mean of the loss relative to each table's best)."""
    shared = next(iter(ranks.values()))
    best = {table: min(losses[p] for p in shared) for table, losses in tables.items()}
    scored = []
    for point in shared:
        mean_rank = statistics.fmean(ranks[t][point] for t in tables)
        relative = math.exp(statistics.fmean(
            math.log(max(tables[t][point], 1e-12) / max(best[t], 1e-12)) for t in tables))
        scored.append((point, mean_rank, relative))
    return sorted(scored, key=lambda item: (item[1], item[2]))


def markdown(model: str, tables: dict[str, dict[str, float]],
             ranks: dict[str, dict[str, float]], scored: list[tuple[str, float, float]],
             former: str | None, top: int) -> str:
    names = list(tables)
    lines = [f"### `{model}`: {len(scored)} grid points scored on all {len(names)} tables",
             "", "| # | point | mean rank | loss / table's best | " + " | ".join(names) + " |",
             "|---:|---|---:|---:|" + "---:|" * len(names)]
    shown = [(i, item) for i, item in enumerate(scored, 1) if i <= top or item[0] == former]
    for i, (point, mean_rank, relative) in shown:
        label = ", ".join(f"{k}={v}" for k, v in json.loads(point).items())
        if point == former:
            label += " (former defaults)"
        cells = " | ".join(f"{tables[t][point]:.4g} ({ranks[t][point]:g})" for t in names)
        lines.append(f"| {i} | {label} | {mean_rank:.2f} | {relative:.3f} | {cells} |")
    lines += ["", f"Chosen: `{scored[0][0]}`"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--grid", type=Path, required=True, help="zoo tune --space YAML file")
    parser.add_argument("--tables", nargs="+", required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--points", type=int, required=True, help="the grid's size")
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--former", type=json.loads, default=None,
                        help="the former defaults as a JSON object of the grid's keys")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    tables = {table: losses_by_point(tune(args.model, table, args)) for table in args.tables}
    former = point_key(args.former) if args.former else None
    ranks = shared_ranks(tables)
    print(markdown(args.model, tables, ranks, choose(tables, ranks), former, args.top))


if __name__ == "__main__":
    main()
