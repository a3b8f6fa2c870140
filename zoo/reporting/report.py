"""A suite's stored runs as a report to publish (``zoo report``): a static page or Markdown.

:func:`write_report` turns the rows of one or more stores (:func:`read_stores`) into
``DIR/index.html`` (or ``DIR/index.md``) with its figures as PNG files in ``DIR/figures``,
so the page works from ``file://``, offline. It holds:

- a header: suite, version, budgets, settings, seeds, zoo and plugin versions, git commits,
  when and on what devices the runs were made (all read from the rows);
- the leaderboard (:func:`zoo.reporting.leaderboard.suite_leaderboard`, laid out by the same
  grid as ``zoo leaderboard``), published reference rows marked and never ranked;
- per section, on the primary metric: a critical-difference diagram (:func:`compare_models`),
  a models x datasets heat map and a bar chart of mean +/- std over seeds;
- per model: training curves (the runs' ``metrics.csv``), ROC curves of detectors (their
  ``scores.npz``), samples of generators (``extra["samples"]`` / ``extra["sample"]``);
- time and peak memory per model.

The content is built once as a list of blocks and written as HTML or Markdown, so both
formats say the same. matplotlib and scipy are imported only while drawing and testing.
"""

from __future__ import annotations

import html
import re
import shutil
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.reporting.leaderboard import (
    Entry,
    Leaderboard,
    Metric,
    Section,
    suite_leaderboard,
)
from zoo.reporting.render import (
    board_title,
    entries_for,
    grid,
    metric_title,
    significance_line,
    tabled_metrics,
)
from zoo.reporting.runs import CURVES_FILE, read_curves
from zoo.reporting.significance import ALPHA, holm
from zoo.runs.lifecycle import PEAK_MEMORY_KEY, SCORES_FILE, run_folder
from zoo.runs.results import RunResult

if TYPE_CHECKING:
    from zoo.plugins.specs import SuiteSpec

REPORT_FORMATS = ("html", "md")
FIGURES = "figures"
SAMPLE_KEYS = ("samples", "sample")  # extra keys of a generator's image grid / text sample
TEXT_SAMPLE_CHARS = 1200


@dataclass
class StoredRuns:
    """Rows read from one or more stores, merged as the leaderboard merges them; each run's
    folder (beside its store); and the notes saying what the merge left out."""

    rows: list[RunResult]
    folders: dict[str, Path]
    notes: list[str] = field(default_factory=list)


def read_stores(paths: Sequence[Path | None], *, suite: str) -> StoredRuns:
    """The runs of ``suite`` in every store of ``paths`` (``None``: the default store),
    merged by :func:`zoo.runs.merge.merge_runs`: each run and each suite cell counted once."""
    from zoo.runs.merge import merge_runs
    from zoo.runs.store import Store

    per_store: list[list[RunResult]] = []
    folders: dict[str, Path] = {}
    for path in paths or [None]:
        with Store(path, readonly=True) as store:
            rows = store.runs(suite=suite)
            for row in rows:
                folders.setdefault(row.id, run_folder(store, row))
            per_store.append(rows)
    merged = merge_runs(per_store)
    return StoredRuns(list(merged.rows), folders, list(merged.notes))


# -- the content, as blocks both formats write -----------------------------------------------

@dataclass
class Heading:
    text: str
    level: int


@dataclass
class Text:
    text: str


@dataclass
class Table:
    """Cells use Markdown's ``**bold**`` (our best per column); ``unranked`` rows (reported,
    floor) are marked; ``kind`` is the HTML table's class (``leaderboard``, ``facts`` ...)."""

    kind: str
    header: list[str]
    body: list[list[str]]
    unranked: list[bool] = field(default_factory=list)


@dataclass
class Figure:
    file: str  # relative to the report's folder
    caption: str


@dataclass
class Preformatted:
    text: str


Block = Heading | Text | Table | Figure | Preformatted


def write_report(runs: StoredRuns, spec: SuiteSpec, *, out: Path, setting: str | None = None,
                 fmt: str = "html", command: str | None = None) -> Path:
    """Write the report of ``spec``'s suite from ``runs`` into ``out``; the page's path.

    Args:
        runs: From :func:`read_stores`.
        spec: The suite (its metrics, columns, floors).
        out: The report's folder, created if needed; its ``figures`` folder is rewritten.
        setting: Only runs of this setting (default: every setting, a section each).
        fmt: ``html`` (``index.html``) or ``md`` (``index.md``), one of
            :data:`REPORT_FORMATS`.
        command: The command that made the report, shown in its header (regenerate it so).

    Raises:
        ZooError: ``fmt`` or ``setting`` is not valid, or there are no runs of the suite.
    """
    if fmt not in REPORT_FORMATS:
        raise ZooError(f"unknown report format {fmt!r}; valid: {', '.join(REPORT_FORMATS)}")
    rows = _selected_rows(runs.rows, spec.name, setting)
    board = suite_leaderboard(spec, rows, notes=runs.notes)
    shown = [row for row in rows if row.suite_version == board.suite_version]
    figures = out / FIGURES
    shutil.rmtree(figures, ignore_errors=True)
    figures.mkdir(parents=True)
    blocks = [*_header(board, shown, command), *_board_blocks(board, figures),
              *_cost_blocks(shown), *_model_blocks(shown, runs.folders, figures)]
    page = out / f"index.{fmt}"
    writer = _html if fmt == "html" else _markdown
    page.write_text(writer(f"zoo report: {board_title(board)}", blocks), encoding="utf-8")
    return page


def _selected_rows(rows: list[RunResult], suite: str, setting: str | None) -> list[RunResult]:
    suite_rows = [row for row in rows if row.suite == suite]
    if not suite_rows:
        raise ZooError(f"no runs of suite {suite!r} in the store; run `zoo bench {suite}` first")
    if setting is None:
        return suite_rows
    settings = sorted({row.setting or "" for row in suite_rows})
    if setting not in settings:
        raise ZooError(f"no runs of setting {setting!r} in suite {suite!r}; stored: "
                       f"{', '.join(s or '(default)' for s in settings)}")
    return [row for row in suite_rows if (row.setting or "") == setting]


def _joined(values: Iterable[Any]) -> str:
    present = sorted({str(value) for value in values if value not in (None, "")})
    return ", ".join(present) or "-"


def _header(board: Leaderboard, rows: list[RunResult], command: str | None) -> list[Block]:
    created = sorted(row.created for row in rows)
    plugins = {f"{row.plugin} {row.plugin_version or '(no version)'}" for row in rows}
    seeds = sorted({row.seed for row in rows if row.seed is not None})
    facts = [
        ("suite", board.suite), ("suite version", board.suite_version or "-"),
        ("budgets", _joined(row.budget for row in rows)),
        ("settings", _joined(row.setting or "(default)" for row in rows)),
        ("seeds", f"{len(seeds)} ({', '.join(map(str, seeds))})"),
        ("zoo", _joined(row.versions.get("zoo") for row in rows)),
        ("plugins", _joined(plugins)),
        ("git commits", _joined(row.git_commit for row in rows)),
        ("runs made", f"{created[0][:19]} to {created[-1][:19]} UTC" if created else "-"),
        ("devices", _joined(row.device for row in rows)),
        ("runs", ", ".join(f"{sum(row.status == s for row in rows)} {s}"
                           for s in ("ok", "failed", "diverged", "running")
                           if any(row.status == s for row in rows))),
        *([("made by", command)] if command else []),
    ]
    return [Heading(f"zoo report: {board_title(board)}", 1),
            Table("facts", ["what", "from the rows"], [list(fact) for fact in facts])]


def _board_blocks(board: Leaderboard, figures: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Leaderboard", 2)]
    if not board.sections:
        return [*blocks, Text("No finished runs.")]
    for number, section in enumerate(board.sections):
        blocks.append(Heading(section.title, 3))
        for metric in tabled_metrics(board, section):
            header, body = grid(board, section, metric, lambda text: f"**{text}**")
            unranked = [not entry.ours for entry in entries_for(section, metric)]
            blocks += [Text(f"**{metric_title(board, metric)}**"),
                       Table("leaderboard", header, body, unranked)]
        blocks += [Text(note) for note in section.notes]
        blocks += _section_figures(board, section, figures, f"section{number}")
    blocks += [Heading("Notes", 3), Text(f"**bold**: our best per {board.columns}; rows marked "
                                         "unranked are published or floor numbers"),
               Text(significance_line(board))]
    return blocks + [Text(note) for note in board.notes]


# -- the statistics over datasets ------------------------------------------------------------

@dataclass
class Comparison:
    """Our models compared over the datasets of a section on one metric.

    ``ranks``: average rank per model (1 is best), best first. ``friedman_p``: None with
    fewer than three models. ``pairs``: ``(a, b, p, Holm-adjusted p)`` per pair. ``groups``:
    the maximal runs of models (in rank order) no two of which differ significantly.
    """

    ranks: dict[str, float]
    datasets: int
    friedman_p: float | None
    pairs: list[tuple[str, str, float, float]]
    groups: list[list[str]]


def compare_models(means: dict[str, list[float]], higher_is_better: bool,
                   alpha: float = ALPHA) -> Comparison:
    """Friedman's test over datasets, then pairwise Wilcoxon signed-rank tests with Holm's
    correction (Demšar 2006, "Statistical comparisons of classifiers over multiple data
    sets", JMLR 7; Benavoli et al. 2016, "Should we really use post-hoc tests based on
    mean-ranks?", JMLR 17). Tests from scipy.stats; Holm's step-down from
    :func:`zoo.reporting.significance.holm`.

    When Friedman's test does not reject that all models are equal, no pair is called
    different (all models form one group), as Demšar recommends.

    Args:
        means: Per model, its mean score on each dataset, the datasets in the same order.
        higher_is_better: The metric's direction.
        alpha: Significance level.
    """
    from scipy.stats import friedmanchisquare, rankdata, wilcoxon

    models = list(means)
    table = [[means[model][d] for model in models] for d in range(len(means[models[0]]))]
    per_dataset = [rankdata([-v if higher_is_better else v for v in row]) for row in table]
    ranks = {model: statistics.fmean(float(r[i]) for r in per_dataset)
             for i, model in enumerate(models)}
    friedman_p = (float(friedmanchisquare(*means.values()).pvalue)
                  if len(models) >= 3 else None)
    pairs = [(a, b) for i, a in enumerate(models) for b in models[i + 1:]]
    raw = [_wilcoxon_p(wilcoxon, means[a], means[b]) for a, b in pairs]
    adjusted = holm(raw)
    rejected_overall = friedman_p is None or friedman_p < alpha
    different = {frozenset(pair) for pair, p in zip(pairs, adjusted, strict=True)
                 if rejected_overall and p < alpha}
    order = sorted(models, key=lambda model: ranks[model])
    return Comparison({model: ranks[model] for model in order}, len(table), friedman_p,
                      [(a, b, p, q) for (a, b), p, q in zip(pairs, raw, adjusted, strict=True)],
                      _groups(order, different))


def _wilcoxon_p(wilcoxon: Any, a: list[float], b: list[float]) -> float:
    # Identical scores on every dataset are no evidence of a difference (scipy refuses them).
    if all(x == y for x, y in zip(a, b, strict=True)):
        return 1.0
    p = float(wilcoxon(a, b).pvalue)
    return 1.0 if p != p else p


def _groups(order: list[str], different: set[frozenset[str]]) -> list[list[str]]:
    groups: list[list[str]] = []
    for start in range(len(order)):
        end = start
        while end + 1 < len(order) and all(frozenset((order[end + 1], other)) not in different
                                           for other in order[start:end + 1]):
            end += 1
        group = order[start:end + 1]
        if len(group) > 1 and not any(set(group) <= set(held) for held in groups):
            groups.append(group)
    return groups


def _section_means(section: Section, metric: Metric) -> tuple[list[str], dict[str, list[float]]]:
    """Our models with a mean on every dataset of the section that has any, and those means."""
    ours = [entry for entry in section.entries if entry.ours]
    datasets = [dataset for dataset in section.columns_for(metric)
                if any(_mean(entry, dataset, metric) is not None for entry in ours)]
    means: dict[str, list[float]] = {}
    for entry in ours:
        stats = [_mean(entry, dataset, metric) for dataset in datasets]
        if all(value is not None for value in stats):
            means[entry.model] = [value for value in stats if value is not None]
    return datasets, means


def _mean(entry: Entry, dataset: str, metric: Metric) -> float | None:
    cell = entry.cells.get(dataset)
    stat = cell.stats.get(metric.name) if cell else None
    return stat.mean if stat else None


def board_figures(board: Leaderboard, folder: Path) -> dict[str, Path]:
    """Draw the leaderboard's figures, as the report draws them, into ``folder`` as PNG
    files: per section, on the primary metric, the critical-difference diagram (where two or
    more models share two or more columns), the heat map and the bars.

    Returns:
        The files by name, ``"{section title as a slug}/{cd|heatmap|bars}"``
        (``"setting-semi-budget-quick/cd"``), in the report's order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    drawn: dict[str, Path] = {}
    for number, section in enumerate(board.sections):
        stem = f"section{number}"
        _, kinds = _draw_section(board, section, folder, stem)
        drawn |= {f"{_slug(section.title)}/{kind}": folder / f"{stem}-{kind}.png"
                  for kind in kinds}
    return drawn


def _draw_section(board: Leaderboard, section: Section, figures: Path,
                  stem: str) -> tuple[Comparison | None, list[str]]:
    """Draw the section's figures of its primary metric into ``figures``:
    ``{stem}-cd.png`` when models can be compared, ``{stem}-heatmap.png`` and
    ``{stem}-bars.png`` when a model has the metric. Returns the comparison (or None) and
    the kinds drawn (``cd``, ``heatmap``, ``bars``)."""
    metric = board.metrics[0]
    datasets, means = _section_means(section, metric)
    comparison, kinds = None, []
    if len(means) >= 2 and len(datasets) >= 2:
        comparison = compare_models(means, metric.higher_is_better)
        _draw_cd(comparison, figures / f"{stem}-cd.png")
        kinds.append("cd")
    if _scored_entries(section, metric):  # every run failed: nothing to draw
        _draw_heatmap(section, metric, figures / f"{stem}-heatmap.png")
        _draw_bars(section, metric, figures / f"{stem}-bars.png")
        kinds += ["heatmap", "bars"]
    return comparison, kinds


def _section_figures(board: Leaderboard, section: Section, figures: Path,
                     stem: str) -> list[Block]:
    metric = board.metrics[0]
    comparison, kinds = _draw_section(board, section, figures, stem)
    blocks: list[Block] = [Heading(f"{metric.name} over {board.columns}s", 4)]
    if comparison is None:
        blocks.append(Text(f"No critical-difference diagram: it needs two or more models with "
                           f"{metric.name} on two or more {board.columns}s."))
    else:
        blocks += [Figure(f"{FIGURES}/{stem}-cd.png", _cd_caption(comparison, board.columns)),
                   _pairs_table(comparison)]
    if "heatmap" not in kinds:
        return [*blocks, Text(f"No heat map or bars: no run has {metric.name}.")]
    return [*blocks,
            Figure(f"{FIGURES}/{stem}-heatmap.png", f"{metric.name}: mean over seeds"),
            Figure(f"{FIGURES}/{stem}-bars.png", f"{metric.name}: mean ± std over seeds")]


def _cd_caption(comparison: Comparison, axis: str) -> str:
    friedman = ("Friedman's test needs three or more models; pairs tested directly"
                if comparison.friedman_p is None
                else f"Friedman p = {comparison.friedman_p:.3g}")
    return (f"Critical-difference diagram: average rank over {comparison.datasets} {axis}s "
            f"(1 is best); {friedman}; a bar joins models no two of which differ by Wilcoxon "
            f"signed-rank tests with Holm's correction at alpha = {ALPHA} (scipy.stats)")


def _pairs_table(comparison: Comparison) -> Table:
    return Table("pairs", ["model", "against", "Wilcoxon p", "Holm p", f"different at {ALPHA}"],
                 [[a, b, f"{p:.3g}", f"{q:.3g}",
                   "yes" if not any({a, b} <= set(g) for g in comparison.groups) else "no"]
                  for a, b, p, q in comparison.pairs])


# -- the figures -----------------------------------------------------------------------------

def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> None:
    figure.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(figure)


def _draw_cd(comparison: Comparison, path: Path) -> None:
    plt = _pyplot()
    models = list(comparison.ranks)
    k = len(models)
    half = (k + 1) // 2  # models labelled on the left; the rest on the right
    lowest = max(0.6 + (half - 1) * 0.5, 0.25 + len(comparison.groups) * 0.15)
    figure, axes = plt.subplots(figsize=(8, 0.8 + 0.4 * (lowest + 0.6)))
    axes.set_xlim(0.5, k + 0.5)
    axes.set_ylim(lowest + 0.3, -0.6)
    axes.axis("off")
    axes.hlines(0, 1, k, color="black")
    for rank in range(1, k + 1):
        axes.vlines(rank, -0.1, 0.1, color="black")
        axes.text(rank, -0.25, str(rank), ha="center", va="bottom")
    for i, model in enumerate(models):
        rank = comparison.ranks[model]
        left = i < half
        y = 0.6 + (i if left else k - 1 - i) * 0.5
        edge = 0.6 if left else k + 0.4
        axes.plot([rank, rank, edge], [0, y, y], color="black", linewidth=1)
        axes.text(edge + (-0.05 if left else 0.05), y, f"{model} ({rank:.2f})",
                  ha="right" if left else "left", va="center")
    for level, group in enumerate(comparison.groups):
        y = 0.25 + level * 0.15
        axes.hlines(y, comparison.ranks[group[0]] - 0.03, comparison.ranks[group[-1]] + 0.03,
                    color="tab:red", linewidth=3)
    _save(figure, path)


def _scored_entries(section: Section, metric: Metric) -> list[Entry]:
    """Our models with ``metric`` on some column (a regressor has no accuracy)."""
    return [entry for entry in section.entries
            if entry.ours and entry.summary[metric.name].datasets]


def _draw_heatmap(section: Section, metric: Metric, path: Path) -> None:
    plt = _pyplot()
    datasets = section.columns_for(metric)
    ours = _scored_entries(section, metric)
    grid = [[_mean(entry, d, metric) for d in datasets] for entry in ours]
    values = [[float("nan") if v is None else v for v in row] for row in grid]
    figure, axes = plt.subplots(figsize=(1.6 + 0.9 * len(datasets), 1.2 + 0.45 * len(ours)))
    image = axes.imshow(values, cmap="viridis" if metric.higher_is_better else "viridis_r",
                        aspect="auto")
    axes.set_xticks(range(len(datasets)), datasets, rotation=45, ha="right")
    axes.set_yticks(range(len(ours)), [entry.model for entry in ours])
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            # Dark text on the light (yellow) end of viridis, light text on the dark end.
            light = value is not None and image.cmap(image.norm(value))[1] > 0.6
            axes.text(j, i, "-" if value is None else f"{value:.3f}", ha="center",
                      va="center", color="black" if light else "white", fontsize=8)
    figure.colorbar(image, ax=axes, label=metric.name)
    _save(figure, path)


def _draw_bars(section: Section, metric: Metric, path: Path) -> None:
    plt = _pyplot()
    datasets = section.columns_for(metric)
    ours = _scored_entries(section, metric)
    width = 0.8 / max(len(ours), 1)
    figure, axes = plt.subplots(figsize=(2 + 1.0 * len(datasets), 3.2))
    for i, entry in enumerate(ours):
        stats = [entry.cells[d].stats.get(metric.name) if d in entry.cells else None
                 for d in datasets]
        axes.bar([j + (i - (len(ours) - 1) / 2) * width for j in range(len(datasets))],
                 [s.mean if s else float("nan") for s in stats], width,
                 yerr=[(s.std or 0.0) if s else 0.0 for s in stats], capsize=3,
                 label=entry.model)
    axes.set_xticks(range(len(datasets)), datasets, rotation=45, ha="right")
    axes.set_ylabel(metric.name)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _save(figure, path)


# -- time, memory and per-model figures ------------------------------------------------------

def _by_model(rows: list[RunResult]) -> dict[str, list[RunResult]]:
    groups: dict[str, list[RunResult]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: (row.dataset, row.seed or 0, row.created)):
        groups[row.display_model].append(row)
    return dict(sorted(groups.items()))


def _cost_blocks(rows: list[RunResult]) -> list[Block]:
    body = []
    for model, runs in _by_model(rows).items():
        seconds = [run.seconds for run in runs if run.seconds is not None]
        peaks = [run.extra[PEAK_MEMORY_KEY] for run in runs if PEAK_MEMORY_KEY in run.extra]
        body.append([model, str(len(runs)),
                     f"{statistics.fmean(seconds):.2f}" if seconds else "-",
                     f"{sum(seconds):.1f}" if seconds else "-",
                     f"{max(peaks):.0f}" if peaks else "-"])
    return [Heading("Time and memory", 2),
            Text("Wall time per run from the rows; peak memory is the run process's peak "
                 "resident memory (CPU side, Linux; GPU memory not counted; '-' for runs "
                 "stored before it was recorded)."),
            Table("cost", ["model", "runs", "mean seconds", "total seconds",
                           "peak memory (MiB)"], body)]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _model_blocks(rows: list[RunResult], folders: dict[str, Path],
                  figures: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Models", 2)]
    for model, runs in _by_model(rows).items():
        ok = [run for run in runs if run.status == "ok"]
        blocks.append(Heading(model, 3))
        blocks += _curve_blocks(model, ok, folders, figures)
        blocks += _roc_blocks(model, ok, folders, figures)
        blocks += _sample_blocks(model, ok, folders, figures)
    return blocks


def _curve_blocks(model: str, runs: list[RunResult], folders: dict[str, Path],
                  figures: Path) -> list[Block]:
    logged = [(run, curves) for run in runs
              if (curves := read_curves(folders[run.id] / CURVES_FILE))]
    if not logged:
        return [Text("Training curves: none logged (the model does not train by epochs, or "
                     "its runs kept no metrics.csv).")]
    names = list(dict.fromkeys(name for _, curves in logged for name in curves))[:4]
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 2.8), squeeze=False,
                                layout="constrained")
    colors = _dataset_colors(run.dataset for run, _ in logged)
    for ax, name in zip(axes[0], names, strict=False):
        for run, curves in logged:
            if name in curves:
                # Markers keep a one-epoch run (a single point) visible.
                ax.plot(curves[name].values, color=colors[run.dataset], linewidth=1,
                        marker=".")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("logged step")
    _legend(figure, colors)
    file = f"{_slug(model)}-curves.png"
    _save(figure, figures / file)
    return [Figure(f"{FIGURES}/{file}", f"{model}: training curves, a line per run "
                                        "(colour: dataset)")]


def _dataset_colors(datasets: Iterable[str]) -> dict[str, Any]:
    palette = _pyplot().get_cmap("tab10")
    return {name: palette(i % 10) for i, name in enumerate(sorted(set(datasets)))}


def _legend(figure: Any, colors: dict[str, Any]) -> None:
    from matplotlib.lines import Line2D

    figure.legend([Line2D([], [], color=color) for color in colors.values()], list(colors),
                  fontsize=8, loc="upper center", ncols=min(len(colors), 5),
                  bbox_to_anchor=(0.5, 0.0))


def _roc_blocks(model: str, runs: list[RunResult], folders: dict[str, Path],
                figures: Path) -> list[Block]:
    import numpy as np

    scored: dict[str, list[tuple[RunResult, Any]]] = defaultdict(list)
    for run in runs:
        path = folders[run.id] / SCORES_FILE
        if path.is_file():
            with np.load(path) as saved:
                scored[run.dataset].append((run, (saved["labels"], saved["scores"])))
    if not scored:
        return []
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    figure, axes = plt.subplots(1, len(scored), figsize=(3.4 * len(scored), 3.2),
                                squeeze=False, layout="constrained")
    for ax, (dataset, saved) in zip(axes[0], sorted(scored.items()), strict=True):
        for run, (labels, scores) in saved:
            fpr, tpr, _ = roc_curve(labels, scores)
            ax.plot(fpr, tpr, linewidth=1,
                    label=f"seed {run.seed}: {roc_auc_score(labels, scores):.3f}")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        ax.set_title(dataset, fontsize=9)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(fontsize=7, loc="lower right", title="AUROC", title_fontsize=7)
    file = f"{_slug(model)}-roc.png"
    _save(figure, figures / file)
    return [Figure(f"{FIGURES}/{file}", f"{model}: ROC curves on the test data, a line per "
                                        "seed")]


def _sample_blocks(model: str, runs: list[RunResult], folders: dict[str, Path],
                   figures: Path) -> list[Block]:
    """The first seed's image grid or text sample on each dataset."""
    blocks: list[Block] = []
    shown: set[str] = set()
    for run in runs:
        sample = _sample_file(run, folders[run.id])
        if sample is None or run.dataset in shown:
            continue
        shown.add(run.dataset)
        if sample.suffix == ".png":
            file = f"{_slug(model)}-{_slug(run.dataset)}-samples.png"
            shutil.copyfile(sample, figures / file)
            blocks.append(Figure(f"{FIGURES}/{file}",
                                 f"{model} on {run.dataset}: samples, seed {run.seed}"))
        else:
            text = sample.read_text(encoding="utf-8", errors="replace")[:TEXT_SAMPLE_CHARS]
            blocks += [Text(f"{model} on {run.dataset}: text sample, seed {run.seed}"),
                       Preformatted(text)]
    return blocks


def _sample_file(run: RunResult, folder: Path) -> Path | None:
    # The row names the file; the folder it names may have moved with a copied store.
    for key in SAMPLE_KEYS:
        if key in run.extra:
            path = folder / Path(str(run.extra[key])).name
            return path if path.is_file() else None
    return None


# -- the two formats -------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
div.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
td:first-child, th:first-child { position: sticky; left: 0; background: #fff; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
table.facts td { text-align: left; }
tr.unranked td { background: #f3f0e6; font-style: italic; color: #555; }
img { max-width: min(100%, 60em); display: block; margin: 0.5em 0; }
figcaption { font-size: 0.85em; color: #555; margin-bottom: 1.5em; }
pre { background: #f6f6f6; padding: 0.6em; white-space: pre-wrap; }
"""


def _inline_html(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def _html(title: str, blocks: list[Block]) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            parts.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Table):
            parts.append(_html_table(block))
        elif isinstance(block, Figure):
            parts.append(f'<figure><img src="{html.escape(block.file)}" '
                         f'alt="{html.escape(block.caption)}"><figcaption>'
                         f"{html.escape(block.caption)}</figcaption></figure>")
        else:
            parts.append(f"<pre>{html.escape(block.text)}</pre>")
    return "\n".join([*parts, "</body></html>"]) + "\n"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in table.header)
    rows = []
    for i, row in enumerate(table.body):
        unranked = i < len(table.unranked) and table.unranked[i]
        cells = "".join(f"<td>{_inline_html(cell)}</td>" for cell in row)
        rows.append(f'<tr class="unranked">{cells}</tr>' if unranked else f"<tr>{cells}</tr>")
    # A board of many datasets (tabular-ad's 37) scrolls inside its box, the model column kept.
    return (f'<div class="scroll"><table class="{table.kind}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _markdown(title: str, blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Text):
            lines += [block.text, ""]
        elif isinstance(block, Table):
            lines += [*_markdown_table(block), ""]
        elif isinstance(block, Figure):
            lines += [f"![{block.caption}]({block.file})", "", f"*{block.caption}*", ""]
        else:
            lines += ["```text", block.text.rstrip("\n"), "```", ""]
    return "\n".join(lines)


def _markdown_table(table: Table) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", r"\|") for cell in cells) + " |"

    body = [row([f"*{cells[0]}* (unranked)", *cells[1:]]
                if i < len(table.unranked) and table.unranked[i] else cells)
            for i, cells in enumerate(table.body)]
    return [row(table.header), "| --- |" + " ---: |" * (len(table.header) - 1), *body]
