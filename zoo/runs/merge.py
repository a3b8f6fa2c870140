"""Several runs stores read as one: the rows of stores made on several machines, merged.

``--db`` may be given several times (``zoo leaderboard``, ``zoo runs``, ``zoo report``); the
rows of every store are merged by :func:`merge_runs` under two rules, each stated in the
returned notes when it left a row out:

- A row whose id an earlier store already holds is the same run, copied (a store duplicated
  into two files): it counts once, as the first store has it.
- A suite cell (its key, :func:`~zoo.runs.store.cell_key_of`: suite version, model,
  backbone, dataset, setting, budget, seed, hyperparameters and the data's fingerprint) with
  rows in more than one store keeps one row, the one that
  stands for the cell: its latest ``ok`` row, else its latest ``diverged`` one, else its
  latest ``failed`` one, else its latest ``running`` one (latest by start time, then id).
  This is the rule a leaderboard applies to a seed stored twice in one store, so merged and
  single stores agree. Rows of a cell held in one store only are all kept, as that store
  has them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from zoo.runs.results import RunResult
from zoo.runs.store import cell_key_of

#: Which row of a cell stands for it, from least to most telling.
STATUS_PREFERENCE = ("running", "failed", "diverged", "ok")


@dataclass
class MergedRuns:
    """The rows of one or more stores, oldest first, and what merging them left out."""

    rows: list[RunResult]
    notes: list[str] = field(default_factory=list)


def standing(row: RunResult) -> tuple[int, str, str]:
    """How telling a row of a cell is: by :data:`STATUS_PREFERENCE`, then the latest; the
    row with the greatest standing stands for its cell (or seed)."""
    return STATUS_PREFERENCE.index(row.status), row.created, row.id


def merge_runs(per_store: Sequence[Sequence[RunResult]]) -> MergedRuns:
    """Merge the rows of several stores (each oldest first) under the module's two rules.

    Args:
        per_store: Each store's rows, in the order the stores were given.

    Returns:
        The merged rows, oldest first (one store's rows come back as they were, in order);
        a note per rule that left rows out.
    """
    seen: set[str] = set()
    copies = 0
    unique: list[tuple[int, RunResult]] = []
    for index, rows in enumerate(per_store):
        for row in rows:
            if row.id in seen:
                copies += 1
                continue
            seen.add(row.id)
            unique.append((index, row))
    kept, dropped, cells = _one_row_per_shared_cell(unique)
    notes = []
    if copies:
        notes.append(f"{_runs(copies)} found in more than one store (same run id) counted once")
    if dropped:
        notes.append(f"{_runs(dropped)} of {cells} suite cells held by more than one store "
                     "left out: each such cell counts once, its latest ok row (else latest "
                     "diverged, then failed)")
    return MergedRuns(sorted(kept, key=lambda row: row.created), notes)


def _one_row_per_shared_cell(
        rows: list[tuple[int, RunResult]]) -> tuple[list[RunResult], int, int]:
    """The rows kept, the rows left out and the number of cells held by several stores."""
    by_cell: dict[str, list[tuple[int, RunResult]]] = defaultdict(list)
    for index, row in rows:
        key = cell_key_of(row)
        if key is not None:
            by_cell[key].append((index, row))
    left_out: set[str] = set()
    shared = 0
    for cell_rows in by_cell.values():
        if len({index for index, _ in cell_rows}) > 1:
            shared += 1
            chosen = max((row for _, row in cell_rows), key=standing)
            left_out.update(row.id for _, row in cell_rows if row is not chosen)
    return [row for _, row in rows if row.id not in left_out], len(left_out), shared


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"
