"""A :class:`~zoo.reporting.leaderboard.Leaderboard` as text: a terminal table, Markdown,
CSV or JSON (:func:`render`). Every rule of what the board holds lives in
:mod:`zoo.reporting.leaderboard`; this module only lays it out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from zoo.errors import UnknownNameError
from zoo.reporting.leaderboard import (
    MEAN_ROW,
    Cell,
    Entry,
    Leaderboard,
    Metric,
    Section,
    Stat,
    Summary,
    column_key,
    sorted_entries,
)
from zoo.reporting.significance import ALPHA, MIN_SEEDS, OVERALL_TEST, PER_DATASET_TEST

FORMATS = ("table", "md", "csv", "json")
JSON_FORMAT_VERSION = 1
CSV_COLUMNS = ("suite", "suite_version", "setting", "budget", "model", "reported", "dataset",
               "metric", "mean", "std", "seeds", "failed", "diverged", "best", "datasets",
               "rank", "ranked", "source", "floor", "not_worse", "p_value", "test", "alpha")
#: The ``test`` column of the CSV: a cell's test and a mean line's (empty where untested).
CSV_TESTS = {"cell": "paired-t-holm", "mean": "friedman-wilcoxon-holm"}
#: Marks a number not significantly worse than the best (beside the best's own mark).
NOT_WORSE_MARK = "≈"


def render(board: Leaderboard, fmt: str = "table") -> str:
    """The leaderboard as text.

    Args:
        board: From :func:`build_leaderboard`.
        fmt: ``table`` (aligned plain text), ``md`` (GitHub Markdown), ``csv`` (one line per
            cell and metric, see :data:`CSV_COLUMNS`) or ``json`` (see :func:`to_json`).

    Raises:
        UnknownNameError: ``fmt`` is not one of :data:`FORMATS`.
    """
    renderers: dict[str, Callable[[Leaderboard], str]] = {
        "table": _render_table, "md": _render_markdown, "csv": _render_csv,
        "json": lambda b: json.dumps(to_json(b), indent=2) + "\n"}
    if fmt not in renderers:
        raise UnknownNameError("leaderboard format", fmt, FORMATS)
    return renderers[fmt](board)


def _number(value: float) -> str:
    return f"{value:.4g}"


def _cell_text(cell: Cell | None, metric: Metric, typical_seeds: int | None,
               mark_best: Callable[[str], str]) -> str:
    if cell is None:
        return "-"
    parts = []
    stat = cell.stats.get(metric.name)
    if stat is not None:
        text = _number(stat.mean) + (f"±{stat.std:.2g}" if stat.std is not None else "")
        if stat.not_worse and not stat.best:
            text += NOT_WORSE_MARK
        parts.append(mark_best(text) if stat.best else text)
        if stat.seeds is not None and stat.seeds != typical_seeds:
            parts.append(f"[{stat.seeds}]")
    problems = ", ".join(f"{count} {status}" for status, count in
                         (("failed", cell.failed), ("diverged", cell.diverged)) if count)
    if problems:
        parts.append(f"({problems})" if stat is not None else problems)
    return " ".join(parts) or "-"


def _summary_texts(summary: Summary, total: int) -> tuple[str, str]:
    mean = "-" if summary.mean is None else _number(summary.mean)
    if summary.mean is not None and summary.datasets < total:
        mean += f" [{summary.datasets}/{total}]"
    rank = "-" if summary.rank is None else f"{summary.rank:.2f}"
    if summary.not_worse:
        rank += NOT_WORSE_MARK
    if summary.rank is not None and summary.ranked < total:
        rank += f" [{summary.ranked}/{total}]"
    return mean, rank


def entries_for(section: Section, metric: Metric) -> list[Entry]:
    # A model is listed under the metrics it has a result (or a failure) for.
    datasets = section.columns_for(metric)
    ours = sorted_entries([entry for entry in section.entries if entry.ours], metric)
    ordered = ours + [entry for entry in section.entries if not entry.ours]
    return [entry for entry in ordered
            if entry.summary[metric.name].datasets
            or (entry.ours and any(
                (cell := entry.cells.get(d)) is not None and (cell.failed or cell.diverged)
                for d in datasets))]


def tabled_metrics(board: Leaderboard, section: Section) -> list[Metric]:
    """The metrics that get a table in ``section``: those with a number in it.

    A metric no run reports there (image-gen's NLL on continuous pixels) would print a table
    of nothing but the failures, which every other table shows already; when no metric has a
    number, the primary one alone shows the failures.
    """
    numbered = [metric for metric in board.metrics
                if any(entry.summary[metric.name].datasets for entry in section.entries)]
    return numbered or [metric for metric in board.metrics[:1] if entries_for(section, metric)]


def grid(board: Leaderboard, section: Section, metric: Metric,
          mark_best: Callable[[str], str]) -> tuple[list[str], list[list[str]]]:
    datasets = section.columns_for(metric)
    header = ["model", *datasets, "mean", "rank"]
    body = [[entry.model,
             *(_cell_text(entry.cells.get(dataset), metric, board.typical_seeds, mark_best)
               for dataset in datasets),
             *_summary_texts(entry.summary[metric.name], len(datasets))]
            for entry in entries_for(section, metric)]
    return header, body


def metric_title(board: Leaderboard, metric: Metric) -> str:
    direction = "higher is better" if metric.higher_is_better else "lower is better"
    primary = ", primary" if metric == board.metrics[0] else ""
    return f"{metric.name} ({direction}{primary})"


def board_title(board: Leaderboard) -> str:
    version = f" (version {board.suite_version})" if board.suite_version is not None else ""
    return f"{board.suite}{version}"


def significance_line(board: Leaderboard) -> str:
    """The header line saying what the marks test, and at what level."""
    axis = board.columns
    return (f"significance (alpha {ALPHA}, two-sided, Holm-corrected): per {axis}, a "
            f"{PER_DATASET_TEST} against the best of our models there (untested with fewer "
            f"than {MIN_SEEDS} shared seeds); overall, over the {axis}s, a {OVERALL_TEST} "
            f"(Demsar 2006); {NOT_WORSE_MARK} marks a number not significantly worse than the "
            f"best (on a rank, the best average rank included)")


def _aligned(header: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # Model names read left to right; numbers line up on the right.
        return "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths, strict=True)))

    return [line(header).rstrip(), "  ".join("-" * width for width in widths),
            *(line(row).rstrip() for row in body)]


def _render_table(board: Leaderboard) -> str:
    lines = [board_title(board)]
    if not board.sections:
        lines.append("no finished runs")
    else:
        lines.append(significance_line(board))
    for section in board.sections:
        lines += ["", f"== {section.title} =="]
        for metric in tabled_metrics(board, section):
            header, body = grid(board, section, metric, lambda text: text + "*")
            lines += ["", metric_title(board, metric), *_aligned(header, body)]
        lines += [f"  note: {note}" for note in section.notes]
    if board.sections:
        lines += ["", "notes:", f"  * our best per {board.columns}",
                  *(f"  {note}" for note in board.notes)]
    return "\n".join(lines) + "\n"


def _markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", r"\|") for cell in cells) + " |"


def _render_markdown(board: Leaderboard) -> str:
    lines = [f"## {board_title(board)}"]
    if not board.sections:
        lines += ["", "No finished runs."]
    else:
        lines += ["", significance_line(board)]
    for section in board.sections:
        lines += ["", f"### {section.title}"]
        for metric in tabled_metrics(board, section):
            header, body = grid(board, section, metric, lambda text: f"**{text}**")
            lines += ["", f"**{metric_title(board, metric)}**", "", _markdown_row(header),
                      "| --- |" + " ---: |" * (len(header) - 1),
                      *(_markdown_row(row) for row in body)]
        if section.notes:
            lines += ["", *(f"- {note}" for note in section.notes)]
    if board.sections:
        lines += ["", "Notes:", "", f"- **bold**: our best per {board.columns}",
                  *(f"- {note}" for note in board.notes)]
    return "\n".join(lines) + "\n"


def _render_csv(board: Leaderboard) -> str:
    # A line names its column under the board's column axis (dataset, or setting on a
    # transposed board) and its section under the other; "datasets" counts columns.
    axis = board.columns
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for section in board.sections:
        for metric in board.metrics:
            for entry in entries_for(section, metric):
                common = {"suite": board.suite, "suite_version": board.suite_version,
                          "setting": section.setting, "dataset": section.dataset,
                          "budget": section.budget, "model": entry.model,
                          "reported": entry.reported, "source": entry.source,
                          "floor": entry.floor}
                for column, cell in sorted(entry.cells.items(),
                                           key=lambda item: column_key(axis)(item[0])):
                    stat = cell.stats.get(metric.name)
                    if stat is None and not cell.failed and not cell.diverged:
                        continue
                    writer.writerow({**common, axis: column, "metric": metric.name,
                                     "failed": cell.failed, "diverged": cell.diverged,
                                     **(_stat_json(stat) if stat else {}),
                                     **_csv_test("cell", stat)})
                summary = entry.summary[metric.name]
                writer.writerow({**common, axis: MEAN_ROW, "metric": metric.name,
                                 "mean": summary.mean, "datasets": summary.datasets,
                                 "rank": summary.rank, "ranked": summary.ranked,
                                 "not_worse": summary.not_worse, "p_value": summary.p_value,
                                 **_csv_test("mean", summary)})
    return out.getvalue()


def _csv_test(kind: str, tested: Stat | Summary | None) -> dict[str, Any]:
    if tested is None or tested.not_worse is None:
        return {}
    return {"test": CSV_TESTS[kind], "alpha": ALPHA}


def _stat_json(stat: Stat) -> dict[str, Any]:
    return {"mean": stat.mean, "std": stat.std, "seeds": stat.seeds, "best": stat.best,
            "not_worse": stat.not_worse, "p_value": stat.p_value}


def _significance_json(axis: str) -> dict[str, Any]:
    return {"alpha": ALPHA, "sided": "two", "correction": "holm",
            f"per_{axis}": {"test": PER_DATASET_TEST, "min_seeds": MIN_SEEDS},
            "overall": {"test": OVERALL_TEST}}


def to_json(board: Leaderboard) -> dict[str, Any]:
    """The leaderboard as JSON-ready data; the structure below is stable.

    ::

        {"format_version": 1, "suite": str, "suite_version": str | null,
         "metrics": [{"name": str, "higher_is_better": bool, "primary": bool}],
         "typical_seeds": int | null,
         "significance": {"alpha": float, "sided": "two", "correction": "holm",
                          "per_dataset": {"test": str, "min_seeds": int},
                          "overall": {"test": str}},
         "notes": [str],
         "sections": [{"setting": str | null, "budget": str | null, "datasets": [str],
                       "notes": [str],
                       "significance": {metric: {"best": str | null,
                                                 "friedman_p": float | null,
                                                 "models": int, "datasets": int}},
                       "entries": [{"model": str, "reported": bool, "source": str,
                                    "floor": bool,
                                    "cells": {dataset: {"failed": int, "diverged": int,
                                              "metrics": {metric: {"mean": float,
                                                          "std": float | null,
                                                          "seeds": int | null,
                                                          "best": bool,
                                                          "not_worse": bool | null,
                                                          "p_value": float | null}}}},
                                    "summary": {metric: {"mean": float | null,
                                                "datasets": int, "rank": float | null,
                                                "ranked": int, "not_worse": bool | null,
                                                "p_value": float | null}}}]}]}

    Entries are in leaderboard order: ours by average rank on the primary metric, then the
    floor row (``"floor": true``, from a suite's ``floors``: real data against the test data,
    never ranked or best) where the suite has one, then the reported ones (published
    numbers). ``seeds`` is null for a reported number. On a board with setting columns
    (image-ad) the roles swap: a section has ``"dataset"`` instead of ``"setting"`` and
    ``"settings"`` (its columns) instead of ``"datasets"``, cells are keyed by setting and a
    summary counts ``"settings"``, and ``"per_dataset"`` reads ``"per_setting"``.

    ``not_worse`` (:mod:`zoo.reporting.significance`): a cell's number is not significantly
    worse than the best of our models on its dataset (true for that best), a summary's not
    worse over the datasets than the best by average rank; null where untested (reported and
    floor rows, too few seeds, a model missing a dataset). ``p_value`` is Holm-corrected.
    """
    return {
        "format_version": JSON_FORMAT_VERSION,
        "suite": board.suite,
        "suite_version": board.suite_version,
        "metrics": [{"name": metric.name, "higher_is_better": metric.higher_is_better,
                     "primary": i == 0} for i, metric in enumerate(board.metrics)],
        "typical_seeds": board.typical_seeds,
        "significance": _significance_json(board.columns),
        "notes": list(board.notes),
        "sections": [_section_json(section, board.columns) for section in board.sections],
    }


def _section_json(section: Section, axis: str) -> dict[str, Any]:
    fixed = "setting" if axis == "dataset" else "dataset"
    counted = f"{axis}s"
    return {
        fixed: getattr(section, fixed), "budget": section.budget,
        counted: list(section.columns), "notes": list(section.notes),
        "significance": {name: {"best": test.best, "friedman_p": test.friedman_p,
                                "models": test.models, counted: test.datasets}
                         for name, test in section.significance.items()},
        "entries": [{
            "model": entry.model, "reported": entry.reported, "source": entry.source,
            "floor": entry.floor,
            "cells": {column: {"failed": cell.failed, "diverged": cell.diverged,
                               "metrics": {name: _stat_json(stat)
                                           for name, stat in cell.stats.items()}}
                      for column, cell in sorted(entry.cells.items(),
                                                 key=lambda item: column_key(axis)(item[0]))},
            "summary": {name: {"mean": summary.mean, counted: summary.datasets,
                               "rank": summary.rank, "ranked": summary.ranked,
                               "not_worse": summary.not_worse, "p_value": summary.p_value}
                        for name, summary in entry.summary.items()},
        } for entry in section.entries],
    }
