"""Leaderboards: one suite's stored runs as models x datasets, beside published numbers.

:func:`build_leaderboard` turns runs (from :meth:`zoo.runs.store.Store.runs`) into a
:class:`Leaderboard`, plain data; :func:`zoo.reporting.render.render` prints it as a terminal
table, Markdown, CSV or JSON.

The rules, each visible in the output:

- One suite version per board (default the newest present); runs of other versions are left
  out and counted in a note, never mixed in.
- A section per (setting, budget). A cell is one model on one dataset: mean and sample
  standard deviation over its ``ok`` seeds, with the seed count; failed and diverged seeds are
  counted in the cell, not dropped. Seeds are counted, never rows: a seed stored twice counts
  once (its latest ``ok`` row), and a seed that failed and later succeeded counts as ``ok``.
- One configuration per cell: a cell run again with other hyperparameters or other data (a
  model's changed defaults, a replaced file: another key in the store) shows only the runs
  of its latest configuration, that of its most recent run; the earlier ones are left out
  and counted in a note, never mixed into its mean.
- Per section and metric, each model's mean over datasets and average rank over datasets
  (ties share the average of their ranks). A model without a result on some dataset is
  ranked over the datasets it has, and a note says which are missing.
- Published reference rows (:func:`load_references`) are shown as ``"<model> (reported)"``
  for the datasets of the section; their mean is over those datasets only (the ones both
  they and our runs have) and they are not ranked, since they come from other code under
  their own protocol.
- A suite that measures what real data scores against the test data (image-gen's
  ``fid_floor``: the best a model can expect) names it in ``floors``; each section then has
  an unranked ``"real data (floor)"`` row in that metric's table: per dataset the mean ± std
  over the seeds of the stored floor metric, its mean over the datasets our runs have.
- Significance (:mod:`zoo.reporting.significance`): per dataset, each of our models is
  tested against the best of ours on that dataset, paired over seeds (``not_worse`` and
  ``p_value`` of its :class:`Stat`); per section and metric, over the datasets every tested
  model has, against the best by average rank (those of its :class:`Summary`, and the
  section's :class:`OverallTest`). Reported and floor rows are never tested.
- A suite whose settings split one dataset into parts (image-ad: a setting per normal class)
  asks for ``columns="setting"``: the board is transposed, a section per (dataset, budget)
  and a column per setting, and every rule above applies with "dataset" read as "setting"
  (the mean and rank of a model are over the classes of one dataset).
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import json
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from zoo.errors import ZooError
from zoo.reporting.significance import over_datasets, paired_over_seeds
from zoo.runs.merge import standing
from zoo.runs.results import RunResult
from zoo.runs.store import key_hparams

if TYPE_CHECKING:
    from zoo.plugins.specs import SuiteSpec

#: What a board's columns can be; the sections are per value of the other one (and budget).
COLUMN_AXES = ("dataset", "setting")
REFERENCE_COLUMNS = ("model", "dataset", "setting", "metric", "value", "std", "source",
                     "protocol")
MEAN_ROW = "(mean)"
FLOOR_ROW = "real data (floor)"


class Metric(NamedTuple):
    """A leaderboard metric; the board's first metric is the primary one, used to sort."""

    name: str
    higher_is_better: bool


@dataclass(frozen=True)
class ReferenceRow:
    """A published number to print beside ours.

    Args:
        model: Model name as the source names it (``"IForest"``).
        dataset: Our dataset name (``"mnist"``).
        setting: The suite setting it belongs to; ``""`` applies to every setting.
        metric: Our metric name, on our scale (``accuracy`` as a fraction 0-1).
        value: The published value.
        std: The published standard deviation, None when not given.
        source: Citation: authors, year, title, and where in the paper.
        protocol: How the number was obtained, where it differs from our suite.
    """

    model: str
    dataset: str
    setting: str
    metric: str
    value: float
    std: float | None
    source: str
    protocol: str


@dataclass
class Stat:
    """One metric of one cell: mean and sample std over seeds (std None for one seed).

    ``seeds`` is None for a reported number. ``best`` marks the best mean of its dataset.
    ``per_seed`` holds our value per seed (empty for reported and floor numbers).
    ``not_worse``: not significantly worse than the best of our models on this dataset
    (True for that best itself), None where not tested (too few shared seeds, a reported or
    floor number); ``p_value`` is the test's Holm-corrected p-value.
    """

    mean: float
    std: float | None
    seeds: int | None
    best: bool = False
    per_seed: dict[int | None, float] = field(default_factory=dict, repr=False)
    not_worse: bool | None = None
    p_value: float | None = None


@dataclass
class Cell:
    """One model on one dataset: a :class:`Stat` per metric and the runs that gave none."""

    stats: dict[str, Stat] = field(default_factory=dict)
    failed: int = 0
    diverged: int = 0


@dataclass
class Summary:
    """One model over the datasets of a section, for one metric.

    ``mean`` is over the ``datasets`` it has a result on; ``rank`` (None for reported rows)
    is its average rank over the ``ranked`` datasets. On a board with setting columns both
    count settings. ``not_worse``: not significantly worse over the datasets than the best by
    average rank (True for that best), None where not tested (a model missing a dataset, a
    section of one dataset or one model, reported and floor rows); ``p_value`` is the
    Wilcoxon test's Holm-corrected p-value (None for the best, or when the Friedman test did
    not reject).
    """

    mean: float | None
    datasets: int
    rank: float | None = None
    ranked: int = 0
    not_worse: bool | None = None
    p_value: float | None = None


@dataclass
class OverallTest:
    """The test over datasets of one section and metric: the ``best`` model by average rank
    (None when nothing was tested), the Friedman p-value (None when not made: fewer than
    three models), and how many ``models`` and ``datasets`` (columns) it was over."""

    best: str | None
    friedman_p: float | None
    models: int
    datasets: int


@dataclass
class Entry:
    """A row of a section: one of our models, a reported one (``source`` says where from) or
    the floor (``floor``: what real data scores, from our runs, not ranked)."""

    model: str
    reported: bool
    cells: dict[str, Cell] = field(default_factory=dict)
    summary: dict[str, Summary] = field(default_factory=dict)
    source: str = ""
    floor: bool = False

    @property
    def ours(self) -> bool:
        """Whether this is one of our models, ranked against the others."""
        return not (self.reported or self.floor)


@dataclass
class Section:
    """All runs of one setting and budget: a grid of entries x datasets per metric.

    On a board with setting columns, a section holds one ``dataset`` (``setting`` is None)
    and its ``columns`` are settings.
    """

    setting: str | None
    budget: str | None
    columns: list[str]
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)
    #: Per metric, the columns our runs report it on (a suite mixing classification and
    #: regression has accuracy on some datasets and R^2 on others).
    scored: dict[str, list[str]] = field(default_factory=dict)
    dataset: str | None = None
    #: Per metric, the significance test over its datasets.
    significance: dict[str, OverallTest] = field(default_factory=dict)

    def columns_for(self, metric: Metric) -> list[str]:
        return self.scored.get(metric.name) or self.columns

    @property
    def title(self) -> str:
        parts = [f"{label} {value}" for label, value in
                 (("dataset", self.dataset), ("setting", self.setting),
                  ("budget", self.budget)) if value]
        return ", ".join(parts) or "all runs"


@dataclass
class Leaderboard:
    """One suite version's leaderboard; build it with :func:`build_leaderboard`."""

    suite: str
    suite_version: str | None
    metrics: list[Metric]
    sections: list[Section]
    typical_seeds: int | None
    notes: list[str] = field(default_factory=list)
    #: What the columns are, one of :data:`COLUMN_AXES`.
    columns: str = "dataset"


def build_leaderboard(rows: Iterable[RunResult], *, suite: str,
                      metrics: Sequence[tuple[str, bool]],
                      references: Iterable[ReferenceRow] = (),
                      suite_version: str | None = None,
                      columns: str = "dataset",
                      floors: Mapping[str, str] = {},
                      notes: Sequence[str] = ()) -> Leaderboard:
    """Aggregate one suite's runs into a leaderboard.

    Args:
        rows: Stored runs; rows of other suites are ignored, ``running`` ones are counted.
        suite: The suite to show.
        metrics: ``(name, higher_is_better)`` pairs; the first is the primary metric.
        references: Published rows to show beside ours (:func:`load_references`).
        suite_version: The version to show; default the newest present.
        columns: ``dataset`` (a section per setting and budget) or ``setting`` (a section per
            dataset and budget, a column per setting; its spec's ``columns``).
        floors: Board metric -> the stored metric holding its floor (the suite's ``floors``);
            each section gets a :data:`FLOOR_ROW` for them.
        notes: Board notes from where the rows came from, added after the board's own (what
            merging several stores left out: :class:`zoo.runs.merge.MergedRuns` ``notes``).

    Returns:
        The :class:`Leaderboard`; with no finished runs it has no sections.

    Raises:
        ValueError: ``metrics`` is empty or ``columns`` is not one of :data:`COLUMN_AXES`.
    """
    board_metrics = [Metric(name, bool(higher)) for name, higher in metrics]
    if not board_metrics:
        raise ValueError("a leaderboard needs at least one metric")
    if columns not in COLUMN_AXES:
        raise ValueError(f"columns {columns!r} is not one of {', '.join(COLUMN_AXES)}")
    suite_rows = [row for row in rows if row.suite == suite]
    version = suite_version if suite_version is not None else _newest_version(suite_rows)
    shown = [row for row in suite_rows if row.suite_version == version]
    finished, superseded = _latest_configurations(
        [row for row in shown if row.status != "running"])
    references = list(references)
    transposed = columns == "setting"
    if transposed:  # the same rules with the two axes exchanged; undone on the sections
        finished = [replace(row, dataset=row.setting or "", setting=row.dataset)
                    for row in finished]
        references = [replace(ref, dataset=ref.setting, setting=ref.dataset)
                      for ref in references]
    sections = [_build_section(setting, budget, runs, board_metrics, references, columns,
                               floors)
                for (setting, budget), runs in _grouped(
                    finished, lambda row: (row.setting, row.budget)).items()]
    if transposed:
        for section in sections:
            section.dataset, section.setting = section.setting, None
    board = Leaderboard(suite, version, board_metrics, sections, _typical_seeds(sections),
                        columns=columns)
    board.notes = [*_board_notes(board, suite_rows, version,
                                 sum(row.status == "running" for row in shown), superseded),
                   *notes]
    return board


def _latest_configurations(runs: list[RunResult]) -> tuple[list[RunResult], int]:
    """The runs of each cell's latest configuration (:func:`_configuration`), and how many
    runs of earlier ones were left out."""
    def cell(run: RunResult) -> tuple[Any, ...]:
        return run.setting, run.budget, run.display_model, run.dataset

    latest: dict[tuple[Any, ...], RunResult] = {}
    for run in runs:
        held = latest.get(cell(run))
        if held is None or (run.created, run.id) > (held.created, held.id):
            latest[cell(run)] = run
    kept = [run for run in runs if _configuration(run) == _configuration(latest[cell(run)])]
    return kept, len(runs) - len(kept)


def _configuration(run: RunResult) -> str:
    """What a run of a cell was run with, as its key in the runs store holds it: its
    hyperparameters and its data's fingerprint."""
    return json.dumps([key_hparams(run), run.data_sha256], sort_keys=True, default=str)


def suite_leaderboard(spec: SuiteSpec, rows: Iterable[RunResult], *,
                      notes: Sequence[str] = ()) -> Leaderboard:
    """The leaderboard of the suite ``spec`` over ``rows``, with its metrics, columns, floors
    and published reference rows: what ``zoo leaderboard``, ``zoo report`` and the trackers'
    leaderboard run all show."""
    return build_leaderboard(rows, suite=spec.name, metrics=list(spec.metrics),
                             references=load_references(spec.name), columns=spec.columns,
                             floors=dict(spec.floors), notes=notes)


def _version_key(version: str | None) -> tuple[tuple[int, int, str], ...]:
    # Numeric parts compare as numbers ("10" after "9"); None sorts oldest.
    if version is None:
        return ()
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"[.\-+_]", version))


def _newest_version(rows: list[RunResult]) -> str | None:
    versions = {row.suite_version for row in rows}
    return max(versions, key=_version_key) if versions else None


def _grouped(rows: Iterable[RunResult],
             key: Callable[[RunResult], Any]) -> dict[Any, list[RunResult]]:
    groups: dict[Any, list[RunResult]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return dict(sorted(groups.items(), key=lambda item: tuple(
        "" if part is None else str(part) for part in item[0])))


def _natural_key(name: str) -> list[tuple[int, int, str]]:
    # "class-10" after "class-9": digit runs compare as numbers.
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name) if part]


def column_key(columns: str) -> Callable[[str], Any]:
    # Settings are numbered (class-0 .. class-9); dataset names keep their plain order.
    return _natural_key if columns == "setting" else str


def _build_section(setting: str | None, budget: str | None, runs: list[RunResult],
                   metrics: list[Metric], references: list[ReferenceRow], columns: str,
                   floors: Mapping[str, str]) -> Section:
    datasets = sorted({run.dataset for run in runs}, key=column_key(columns))
    ours = [_our_entry(model, model_runs, metrics)
            for (model,), model_runs in _grouped(runs, lambda r: (r.display_model,)).items()]
    floor = _floor_entries(runs, [m for m in metrics if m.name in floors], floors)
    reported = _reported_entries(references, setting, datasets, metrics)
    scored = {metric.name: [d for d in datasets if _has_metric(ours, d, metric)
                            or not any(_has_metric(ours, d, m) for m in metrics)]
              for metric in metrics}
    significance = {}
    for metric in metrics:
        metric_datasets = scored[metric.name] or datasets
        _summarise(ours, [*floor, *reported], metric, metric_datasets)
        _rank(ours, metric, metric_datasets)
        _mark_best(ours, metric, metric_datasets)  # the best the significance marks refer to
        _test_per_column(ours, metric, metric_datasets)
        significance[metric.name] = _test_over_columns(ours, metric, metric_datasets)
    section = Section(setting, budget, datasets,
                      sorted_entries(ours, metrics[0]) + floor + reported, scored=scored,
                      significance=significance)
    section.notes = _section_notes(section, metrics, columns, floors)
    return section


def _has_metric(entries: list[Entry], dataset: str, metric: Metric) -> bool:
    return any(_stat(entry, dataset, metric) is not None for entry in entries)


def _our_entry(model: str, runs: list[RunResult], metrics: list[Metric]) -> Entry:
    return Entry(model, reported=False, cells={
        dataset: _cell(cell_runs, metrics)
        for (dataset,), cell_runs in _grouped(runs, lambda run: (run.dataset,)).items()})


def _cell(runs: list[RunResult], metrics: list[Metric]) -> Cell:
    outcome = _outcome_per_seed(runs)
    ok = [run for run in outcome.values() if run.status == "ok"]
    cell = Cell(failed=sum(run.status == "failed" for run in outcome.values()),
                diverged=sum(run.status == "diverged" for run in outcome.values()))
    for metric in metrics:
        per_seed = {run.seed: run.metrics[metric.name] for run in ok
                    if metric.name in run.metrics}
        if per_seed:
            cell.stats[metric.name] = replace(_seed_stat(list(per_seed.values())),
                                              per_seed=per_seed)
    return cell


def _outcome_per_seed(runs: list[RunResult]) -> dict[int | None, RunResult]:
    """The one run that stands for each seed of a cell: its latest ``ok`` run, else its
    latest ``diverged`` one, else its latest ``failed`` one.

    A seed counts once however many rows it has (identical benches before cells were
    claimed stored some twice), and a failure that a later run of the seed made good (an
    interrupted bench, resumed) is not counted.
    """
    chosen: dict[int | None, RunResult] = {}
    for run in runs:
        held = chosen.get(run.seed)
        if held is None or standing(run) > standing(held):
            chosen[run.seed] = run
    return chosen


def _seed_stat(values: list[float]) -> Stat:
    """Mean and sample std of one value per seed."""
    std = statistics.stdev(values) if len(values) > 1 else None
    return Stat(statistics.fmean(values), std, len(values))


def _floor_entries(runs: list[RunResult], metrics: list[Metric],
                   floors: Mapping[str, str]) -> list[Entry]:
    """The section's :data:`FLOOR_ROW` (none without floors): per dataset, each metric's
    floor as a mean over seeds."""
    entry = Entry(FLOOR_ROW, reported=False, floor=True)
    for (dataset,), dataset_runs in _grouped(runs, lambda run: (run.dataset,)).items():
        cell = Cell()
        for metric in metrics:
            values = _floor_per_seed(dataset_runs, floors[metric.name])
            if values:
                cell.stats[metric.name] = _seed_stat(values)
        if cell.stats:
            entry.cells[dataset] = cell
    return [entry] if entry.cells else []


def _floor_per_seed(runs: list[RunResult], stored: str) -> list[float]:
    # Every model's row of a seed carries the same floor: one value per seed, so a seed
    # counts once however many models ran it (their mean, should rows ever disagree).
    by_seed: dict[int, list[float]] = defaultdict(list)
    for run in runs:
        if run.status == "ok" and stored in run.metrics:
            by_seed[run.seed].append(run.metrics[stored])
    return [statistics.fmean(values) for values in by_seed.values()]


def _reported_entries(references: list[ReferenceRow], setting: str | None,
                      datasets: list[str], metrics: list[Metric]) -> list[Entry]:
    names = {metric.name for metric in metrics}
    applicable = [ref for ref in references
                  if ref.setting in ("", setting or "") and ref.dataset in datasets
                  and ref.metric in names]
    # A row for this exact setting overrides an any-setting row of the same number.
    applicable.sort(key=lambda ref: ref.setting != "")
    entries: dict[str, Entry] = {}
    sources: dict[str, dict[str, None]] = defaultdict(dict)  # ordered sets of citations
    for ref in applicable:
        entry = entries.setdefault(ref.model, Entry(f"{ref.model} (reported)", reported=True))
        cell = entry.cells.setdefault(ref.dataset, Cell())
        cell.stats[ref.metric] = Stat(ref.value, ref.std, seeds=None)
        sources[ref.model][ref.source] = None
    for name, entry in entries.items():
        entry.source = "; ".join(filter(None, sources[name]))
    return [entries[name] for name in sorted(entries)]


def _stat(entry: Entry, dataset: str, metric: Metric) -> Stat | None:
    cell = entry.cells.get(dataset)
    return cell.stats.get(metric.name) if cell is not None else None


def _summarise(ours: list[Entry], unranked: list[Entry], metric: Metric,
               datasets: list[str]) -> None:
    for entry in ours:
        entry.summary[metric.name] = _mean_summary(entry, metric, datasets)
    # A floor or reported mean over datasets we have no number on would compare different
    # averages.
    ours_have = [dataset for dataset in datasets
                 if any(_stat(entry, dataset, metric) is not None for entry in ours)]
    for entry in unranked:
        entry.summary[metric.name] = _mean_summary(entry, metric, ours_have)


def _mean_summary(entry: Entry, metric: Metric, datasets: list[str]) -> Summary:
    values = [stat.mean for dataset in datasets
              if (stat := _stat(entry, dataset, metric)) is not None]
    return Summary(statistics.fmean(values) if values else None, len(values))


def _rank(ours: list[Entry], metric: Metric, datasets: list[str]) -> None:
    # Only our runs are ranked: reported numbers come from other code and protocols.
    ranks: dict[str, list[float]] = defaultdict(list)
    for dataset in datasets:
        scored = [(entry.model, stat.mean) for entry in ours
                  if (stat := _stat(entry, dataset, metric)) is not None]
        values = [value for _, value in scored]
        for (model, _), rank in zip(scored, _average_ranks(values, metric.higher_is_better),
                                    strict=True):
            ranks[model].append(rank)
    for entry in ours:
        summary = entry.summary[metric.name]
        summary.rank = statistics.fmean(ranks[entry.model]) if ranks[entry.model] else None
        summary.ranked = len(ranks[entry.model])


def _average_ranks(values: list[float], higher_is_better: bool) -> list[float]:
    """Rank 1 for the best value; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=higher_is_better)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _mark_best(entries: list[Entry], metric: Metric, datasets: list[str]) -> None:
    for dataset in datasets:
        stats = [stat for entry in entries
                 if (stat := _stat(entry, dataset, metric)) is not None]
        if stats:
            choose = max if metric.higher_is_better else min
            best = choose(stat.mean for stat in stats)
            for stat in stats:
                stat.best = stat.mean == best


def _oriented(value: float, metric: Metric) -> float:
    """A score turned so that higher is better, as the tests take them."""
    return value if metric.higher_is_better else -value


def _oriented_per_seed(stat: Stat, metric: Metric) -> dict[int | None, float]:
    return {seed: _oriented(value, metric) for seed, value in stat.per_seed.items()}


def _test_per_column(ours: list[Entry], metric: Metric, datasets: list[str]) -> None:
    """Mark, per dataset, our models not significantly worse than the best of ours there."""
    choose = max if metric.higher_is_better else min
    for dataset in datasets:
        stats = {entry.model: stat for entry in ours
                 if (stat := _stat(entry, dataset, metric)) is not None}
        if not stats:
            continue
        best = choose(stats, key=lambda model: stats[model].mean)
        verdicts = paired_over_seeds(_oriented_per_seed(stats[best], metric), {
            model: _oriented_per_seed(stat, metric)
            for model, stat in stats.items() if model != best})
        # A lone model (or one without enough seeds beside it) was tested against nothing:
        # marking it would claim a test that never ran.
        if verdicts:
            stats[best].not_worse = True
        for model, verdict in verdicts.items():
            stats[model].not_worse, stats[model].p_value = verdict.not_worse, verdict.p_value


def _test_over_columns(ours: list[Entry], metric: Metric, datasets: list[str]) -> OverallTest:
    """Mark our models not significantly worse over ``datasets`` than the best by average
    rank; only the models with a result on every dataset are tested."""
    complete = [entry for entry in ours
                if all(_stat(entry, dataset, metric) is not None for dataset in datasets)]
    if len(complete) < 2 or len(datasets) < 2:
        return OverallTest(None, None, len(complete), len(datasets))
    best = sorted_entries(complete, metric)[0]
    scores = {entry.model: [_oriented(stat.mean, metric) for dataset in datasets
                            if (stat := _stat(entry, dataset, metric)) is not None]
              for entry in complete}
    friedman, verdicts = over_datasets(best.model, scores)
    best.summary[metric.name].not_worse = True
    for entry in complete:
        if entry.model in verdicts:
            summary = entry.summary[metric.name]
            summary.not_worse = verdicts[entry.model].not_worse
            summary.p_value = verdicts[entry.model].p_value
    return OverallTest(best.model, friedman, len(complete), len(datasets))


def sorted_entries(entries: list[Entry], primary: Metric) -> list[Entry]:
    def key(entry: Entry) -> tuple[float, float, str]:
        summary = entry.summary[primary.name]
        rank = summary.rank if summary.rank is not None else math.inf
        if summary.mean is None:
            return rank, math.inf, entry.model
        return rank, -summary.mean if primary.higher_is_better else summary.mean, entry.model
    return sorted(entries, key=key)


def _section_notes(section: Section, metrics: list[Metric], columns: str,
                   floors: Mapping[str, str]) -> list[str]:
    notes = []
    primary = metrics[0]
    datasets = section.columns_for(primary)
    total = len(datasets)
    for entry in section.entries:
        summary = entry.summary[primary.name]
        if entry.reported:
            notes.append(_reported_note(entry, metrics, columns))
        elif entry.floor:
            notes.append(_floor_note(entry, metrics, columns, floors))
        elif 0 < summary.ranked < total:
            missing = [dataset for dataset in datasets
                       if _stat(entry, dataset, primary) is None]
            notes.append(f"{entry.model}: ranked and averaged over {summary.ranked} of {total} "
                         f"{columns}s; no {primary.name} on {', '.join(missing)}")
    return notes


def _reported_note(entry: Entry, metrics: list[Metric], columns: str) -> str:
    # Counted on the first metric the row reports: a row without the primary metric (a
    # published NLL beside our FIDs) would otherwise read "0 of 0".
    metric = next(m for m in metrics if any(m.name in cell.stats for cell in entry.cells.values()))
    reported = sum(metric.name in cell.stats for cell in entry.cells.values())
    named = "" if metric == metrics[0] else f"{metric.name} "
    return (f"{entry.model}: {named}mean over the {entry.summary[metric.name].datasets} of "
            f"{reported} {columns}s it reports that our runs also have; source: {entry.source}")


def _floor_note(entry: Entry, metrics: list[Metric], columns: str,
                floors: Mapping[str, str]) -> str:
    stored = ", ".join(f"{m.name} from {floors[m.name]}" for m in metrics
                       if any(m.name in cell.stats for cell in entry.cells.values()))
    return (f"{entry.model}: real data scored against the test data ({stored}), the best a "
            f"model can expect; mean ± std over seeds, not ranked, its mean over the "
            f"{columns}s our runs have")


def _typical_seeds(sections: list[Section]) -> int | None:
    counts = Counter(stat.seeds for section in sections for entry in section.entries
                     for cell in entry.cells.values() for stat in cell.stats.values()
                     if stat.seeds is not None)
    return counts.most_common(1)[0][0] if counts else None


def _board_notes(board: Leaderboard, suite_rows: list[RunResult], version: str | None,
                 running: int, superseded: int) -> list[str]:
    notes = []
    if board.typical_seeds is not None:
        notes.append(f"mean ± sample std over seeds ({board.typical_seeds} per cell; [n] marks "
                     f"a cell with n seeds); [k/n]: a mean or rank over k of n {board.columns}s")
    other = Counter(row.suite_version for row in suite_rows if row.suite_version != version)
    if other:
        listed = ", ".join(str(v) for v in sorted(other, key=_version_key))
        notes.append(f"{_count(sum(other.values()), 'run')} of other suite versions ({listed}) "
                     "not shown; versions are never mixed")
    if running:
        notes.append(f"{_count(running, 'run')} still running not shown")
    if superseded:
        notes.append(f"{_count(superseded, 'run')} of earlier hyperparameters or data of their "
                     "cell not shown; each cell shows its latest configuration")
    if any(entry.reported for section in board.sections for entry in section.entries):
        notes.append("(reported) rows are published numbers, not ranked; see their sources")
    return notes


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _references_dir() -> Traversable:
    try:
        return importlib.resources.files("zoo.references")
    except ModuleNotFoundError:
        # A source checkout used without installing: pyproject maps zoo.references to this
        # folder only in installed (or editable) builds.
        return Path(__file__).resolve().parents[1] / "benchmarks" / "references"


def load_references(suite: str) -> list[ReferenceRow]:
    """The published reference rows for ``suite``; none when it has no reference file.

    Read from ``benchmarks/references/<suite>.csv`` (package ``zoo.references``).

    Raises:
        ZooError: The file lacks a column or has a value that is not a number.
    """
    resource = _references_dir().joinpath(f"{suite}.csv")
    if not resource.is_file():
        return []
    return parse_references(resource.read_text(encoding="utf-8"), name=str(resource))


def parse_references(text: str, *, name: str) -> list[ReferenceRow]:
    """Parse a reference CSV (columns :data:`REFERENCE_COLUMNS`); ``name`` is for errors."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in REFERENCE_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise ZooError(f"{name}: missing columns {', '.join(missing)}; expected "
                       f"{','.join(REFERENCE_COLUMNS)}")
    return [_reference_row(record, f"{name}:{reader.line_num}") for record in reader]


def _reference_row(record: dict[str, str], where: str) -> ReferenceRow:
    def number(column: str) -> float | None:
        text = (record[column] or "").strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise ZooError(f"{where}: {column} {text!r} is not a number") from None

    value = number("value")
    if value is None:
        raise ZooError(f"{where}: value is empty")
    return ReferenceRow(model=record["model"].strip(), dataset=record["dataset"].strip(),
                        setting=(record["setting"] or "").strip(),
                        metric=record["metric"].strip(), value=value, std=number("std"),
                        source=(record["source"] or "").strip(),
                        protocol=(record["protocol"] or "").strip())
