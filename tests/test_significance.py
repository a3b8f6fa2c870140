"""Significance marks of the leaderboard: on a real store holding one clearly better model
and two indistinguishable ones, through the real ``zoo leaderboard`` in every format."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from zoo.reporting.leaderboard import build_leaderboard
from zoo.reporting.render import NOT_WORSE_MARK
from zoo.reporting.significance import ALPHA, holm
from zoo.runs.results import RunResult
from zoo.runs.store import Store

SUITE = "embedded-ad"  # a registered suite: the CLI takes its metrics (auroc first)
DATASETS = [f"d{i}" for i in range(8)]  # 8: the Wilcoxon test can reject after Holm
SEED_OFFSETS = [0.02, -0.02, 0.04, -0.04, 0.0]  # 5 seeds; twin-b's are twin-a's mirrored


def scores() -> dict[str, dict[str, list[float]]]:
    """Per model and dataset, auroc per seed. ``strong`` is far above the twins everywhere;
    the twins differ by a little, in turn up and down, and mirror each other's seed noise."""
    table: dict[str, dict[str, list[float]]] = {"strong": {}, "twin-a": {}, "twin-b": {}}
    for i, dataset in enumerate(DATASETS):
        shift = (-1) ** i * (i + 1) * 0.001
        table["strong"][dataset] = [0.95 + o / 4 for o in SEED_OFFSETS]
        table["twin-a"][dataset] = [0.7 + shift + o for o in SEED_OFFSETS]
        table["twin-b"][dataset] = [0.7 - shift - o for o in SEED_OFFSETS]
    return table


def rows() -> list[RunResult]:
    return [RunResult(kind="bench", model=model, plugin="test", dataset=dataset, suite=SUITE,
                      suite_version="2", setting="semi", seed=seed, budget="smoke",
                      status="ok", metrics={"auroc": value, "auprc": value / 2})
            for model, per_dataset in scores().items()
            for dataset, values in per_dataset.items() for seed, value in enumerate(values)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("significance") / "runs.db"
    with Store(path) as db:
        for row in rows():
            db.record(row)
    return path


def leaderboard(db: Path, fmt: str) -> str:
    done = subprocess.run([sys.executable, "-m", "zoo", "leaderboard", SUITE, "--db", str(db),
                           "--format", fmt], capture_output=True, text=True, check=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    return done.stdout


def test_json_marks_the_twins_alike_and_the_strong_model_alone(store: Path) -> None:
    data = json.loads(leaderboard(store, "json"))
    assert data["significance"]["alpha"] == ALPHA
    section = data["sections"][0]
    entries = {entry["model"]: entry for entry in section["entries"]}
    for dataset in DATASETS:
        cell = {model: entries[model]["cells"][dataset]["metrics"]["auroc"]
                for model in entries}
        # On each dataset the twins are far below strong, and the better twin is no better.
        assert cell["strong"]["not_worse"] and cell["strong"]["best"]
        assert not cell["twin-a"]["not_worse"] and not cell["twin-b"]["not_worse"]
        assert cell["twin-a"]["p_value"] < ALPHA and cell["twin-b"]["p_value"] < ALPHA
    overall = {model: entries[model]["summary"]["auroc"] for model in entries}
    test = section["significance"]["auroc"]
    assert (test["best"], test["models"], test["datasets"]) == ("strong", 3, 8)
    assert test["friedman_p"] < ALPHA
    assert overall["strong"]["not_worse"] and overall["strong"]["p_value"] is None
    assert not overall["twin-a"]["not_worse"] and not overall["twin-b"]["not_worse"]


def test_without_the_strong_model_the_twins_are_indistinguishable(tmp_path: Path) -> None:
    board = build_leaderboard([row for row in rows() if row.model != "strong"], suite=SUITE,
                              metrics=[("auroc", True)])
    section = board.sections[0]
    for dataset in DATASETS:
        stats = [entry.cells[dataset].stats["auroc"] for entry in section.entries]
        assert all(stat.not_worse for stat in stats)
        assert sorted(stat.p_value is None for stat in stats) == [False, True]  # best: None
    assert all(entry.summary["auroc"].not_worse for entry in section.entries)
    assert section.significance["auroc"].friedman_p is None  # two models: Wilcoxon alone


@pytest.mark.parametrize("fmt", ["table", "md"])
def test_text_formats_state_the_test_and_mark_only_the_best(store: Path, fmt: str) -> None:
    text = leaderboard(store, fmt)
    assert "significance (alpha 0.05" in text and "paired t-test" in text
    assert "Friedman test" in text and "Wilcoxon signed-rank" in text
    grid = [line for line in text.splitlines() if line.lstrip("| ").startswith(
        ("strong", "twin-a", "twin-b"))]
    strong = next(line for line in grid if "strong" in line)
    assert f"1.00{NOT_WORSE_MARK}" in strong
    assert all(NOT_WORSE_MARK not in line for line in grid if "twin" in line)


def test_csv_has_the_marks_the_test_and_alpha(store: Path) -> None:
    lines = list(csv.DictReader(io.StringIO(leaderboard(store, "csv"))))
    auroc = {(line["model"], line["dataset"]): line for line in lines
             if line["metric"] == "auroc"}
    assert auroc["strong", "d0"]["not_worse"] == "True"
    assert auroc["twin-a", "d0"]["not_worse"] == "False"
    assert float(auroc["twin-a", "d0"]["p_value"]) < ALPHA
    assert (auroc["twin-b", "(mean)"]["test"], auroc["twin-b", "(mean)"]["alpha"]) == (
        "friedman-wilcoxon-holm", "0.05")
    assert auroc["strong", "d0"]["test"] == "paired-t-holm"


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_the_marks_follow_the_metric_direction(higher_is_better: bool) -> None:
    turned = [replace(row, metrics={"auroc": row.metrics["auroc"] if higher_is_better
                                    else 1 - row.metrics["auroc"]}) for row in rows()]
    board = build_leaderboard(turned, suite=SUITE, metrics=[("auroc", higher_is_better)])
    marks = {entry.model: (entry.cells["d0"].stats["auroc"].not_worse,
                           entry.summary["auroc"].not_worse)
             for entry in board.sections[0].entries}
    assert marks == {"strong": (True, True), "twin-a": (False, False),
                     "twin-b": (False, False)}


def test_fewer_seeds_than_the_minimum_are_not_tested() -> None:
    two_seeds = [row for row in rows() if row.seed in (0, 1)]
    board = build_leaderboard(two_seeds, suite=SUITE, metrics=[("auroc", True)])
    twin = next(e for e in board.sections[0].entries if e.model == "twin-a")
    assert twin.cells["d0"].stats["auroc"].not_worse is None
    assert twin.cells["d0"].stats["auroc"].p_value is None


def test_a_model_tested_against_nothing_is_not_marked() -> None:
    # One of ours beside a published row: no test ran, so no mark, in any format.
    alone = [row for row in rows() if row.model == "strong"]
    board = build_leaderboard(alone, suite=SUITE, metrics=[("auroc", True)])
    entry = board.sections[0].entries[0]
    assert entry.cells["d0"].stats["auroc"].not_worse is None
    assert entry.summary["auroc"].not_worse is None


def test_deterministic_models_are_judged_without_warnings() -> None:
    # The same score on every seed: zero-variance differences, where scipy warns.
    def fixed(model: str, value: float) -> list[RunResult]:
        return [RunResult(kind="bench", model=model, plugin="test", dataset=dataset,
                          suite=SUITE, seed=seed, budget="smoke", status="ok",
                          metrics={"auroc": value}) for dataset in ("d0", "d1")
                for seed in range(3)]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        board = build_leaderboard([*fixed("knn", 0.9), *fixed("same", 0.9),
                                   *fixed("lower", 0.8)], suite=SUITE,
                                  metrics=[("auroc", True)])
    stats = {entry.model: entry.cells["d0"].stats["auroc"] for entry in board.sections[0].entries}
    assert stats["same"].not_worse and stats["knn"].not_worse
    assert stats["lower"].not_worse is False


def test_a_model_the_best_by_rank_loses_to_head_to_head_is_not_marked_worse() -> None:
    # "lead" has the best average rank (it always beats "third"), yet "rival" beats it by far
    # on 10 of 16 datasets and loses by a little on 6: the Wilcoxon test rejects, in
    # rival's favour.
    table = {f"big{i}": {"rival": 0.9, "lead": 0.6 - 0.01 * i, "third": 0.4 - 0.01 * i}
             for i in range(10)}
    table |= {f"small{j}": {"lead": 0.8, "third": 0.79 - 0.0001 * j, "rival": 0.78 - 0.001 * j}
              for j in range(6)}
    board = build_leaderboard(
        [RunResult(kind="bench", model=model, plugin="test", dataset=dataset, suite=SUITE,
                   seed=0, budget="smoke", status="ok", metrics={"auroc": value})
         for dataset, models in table.items() for model, value in models.items()],
        suite=SUITE, metrics=[("auroc", True)])
    section = board.sections[0]
    summaries = {entry.model: entry.summary["auroc"] for entry in section.entries}
    assert section.significance["auroc"].best == "lead"
    assert summaries["rival"].p_value < ALPHA and summaries["rival"].not_worse
    assert summaries["third"].p_value < ALPHA and summaries["third"].not_worse is False


def test_holm_adjusts_step_down_and_keeps_the_order() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.9, 0.8]) == [1.0, 1.0]  # capped at 1, never below an earlier step
    assert holm([0.9, 0.02]) == pytest.approx([0.9, 0.04])
