"""Leaderboards: grouping, ranks, version filtering, reference rows and every renderer."""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import replace
from pathlib import Path

import pytest

from zoo.errors import ZooError
from zoo.reporting import leaderboard
from zoo.reporting.leaderboard import (
    Leaderboard,
    ReferenceRow,
    build_leaderboard,
    load_references,
)
from zoo.reporting.render import FORMATS, render
from zoo.runs.results import RunResult

AUROC = [("auroc", True)]


def run(model: str, dataset: str, auroc: float | None = None, *, seed: int = 0,
        status: str = "ok", version: str = "1", setting: str | None = None,
        backbone: str | None = None, budget: str = "quick",
        suite: str = "tabular-ad") -> RunResult:
    return RunResult(kind="bench", model=model, backbone=backbone, plugin="test",
                     dataset=dataset, suite=suite, suite_version=version, setting=setting,
                     seed=seed, budget=budget, status=status,
                     metrics={} if auroc is None else {"auroc": auroc})


def board_of(rows: list[RunResult], **kwargs: object) -> Leaderboard:
    return build_leaderboard(rows, suite="tabular-ad", metrics=kwargs.pop("metrics", AUROC),
                             **kwargs)


def entry(board: Leaderboard, model: str, section: int = 0) -> leaderboard.Entry:
    return next(e for e in board.sections[section].entries if e.model == model)


def test_cell_is_mean_and_sample_std_over_seeds_with_the_seed_count() -> None:
    values = [0.7, 0.8, 0.9]
    board = board_of([run("vae", "cardio", v, seed=s, backbone="mlp")
                      for s, v in enumerate(values)])
    stat = entry(board, "vae[mlp]").cells["cardio"].stats["auroc"]
    assert stat.mean == pytest.approx(0.8)
    assert stat.std == pytest.approx(statistics.stdev(values))
    assert stat.seeds == 3
    assert board.typical_seeds == 3


def test_one_seed_has_no_std() -> None:
    stat = entry(board_of([run("iforest", "cardio", 0.9)]), "iforest").cells["cardio"]
    assert stat.stats["auroc"].std is None


def test_failed_and_diverged_runs_are_counted_not_dropped() -> None:
    board = board_of([run("gan", "cardio", 0.6, seed=0), run("gan", "cardio", seed=1,
                                                             status="failed"),
                      run("gan", "thyroid", seed=0, status="diverged"),
                      run("gan", "thyroid", seed=1, status="running")])
    cells = entry(board, "gan").cells
    assert (cells["cardio"].stats["auroc"].seeds, cells["cardio"].failed) == (1, 1)
    assert (cells["thyroid"].stats, cells["thyroid"].diverged) == ({}, 1)
    table = render(board, "table")
    assert "1 failed" in table and "1 diverged" in table
    assert "1 run still running" in table


def test_a_seed_stored_twice_counts_once() -> None:
    # Identical benches started together before cells were claimed stored every cell twice.
    rows = [run("iforest", "cardio", value, seed=seed)
            for seed, value in ((0, 0.7), (1, 0.9), (0, 0.7), (1, 0.9), (1, 0.9))]
    stat = entry(board_of(rows), "iforest").cells["cardio"].stats["auroc"]
    assert (stat.seeds, stat.mean) == (2, pytest.approx(0.8))
    assert stat.std == pytest.approx(statistics.stdev([0.7, 0.9]))


def on_day(day: int, row: RunResult, **fields: object) -> RunResult:
    return replace(row, created=f"2026-01-{day:02d}T00:00:00.000+00:00", **fields)


def test_a_cell_run_again_with_other_hyperparameters_or_data_shows_its_latest_only() -> None:
    old = [on_day(1, run("iforest", "cardio", 0.9, seed=seed), hparams={"n_estimators": 100})
           for seed in range(3)]
    # The latest configuration: an ok seed (the model's report of every hyperparameter) and
    # a failed one (only those it was to be built with beyond the defaults): one cell.
    new = [on_day(2, run("iforest", "cardio", 0.5), hparams={"n_estimators": 50,
                                                              "max_samples": None}),
           on_day(3, run("iforest", "cardio", seed=1, status="failed"),
                  hparams={"n_estimators": 50})]
    board = board_of([*old, *new, run("knn", "cardio", 0.8)])
    cell = entry(board, "iforest").cells["cardio"]
    assert (cell.stats["auroc"].seeds, cell.stats["auroc"].mean, cell.failed) == (
        1, pytest.approx(0.5), 1)
    assert entry(board, "knn").cells["cardio"].stats["auroc"].seeds == 1
    assert "3 runs of earlier hyperparameters or data of their cell not shown; each cell " \
           "shows its latest configuration" in board.notes
    other_data = on_day(4, new[0], id="f" * 32, metrics={"auroc": 0.7}, data_sha256="f" * 64)
    stat = entry(board_of([*old, *new, other_data]), "iforest").cells["cardio"].stats["auroc"]
    assert (stat.seeds, stat.mean) == (1, pytest.approx(0.7))


def test_a_seed_that_failed_then_succeeded_is_not_counted_as_failed() -> None:
    interrupted = run("iforest", "cardio", seed=1, status="failed")
    rows = [run("iforest", "cardio", 0.8, seed=0), interrupted,
            run("iforest", "cardio", 0.6, seed=1), run("iforest", "cardio", seed=2,
                                                       status="failed"),
            run("iforest", "cardio", seed=2, status="failed")]
    cell = entry(board_of(rows), "iforest").cells["cardio"]
    assert (cell.stats["auroc"].seeds, cell.failed, cell.diverged) == (2, 1, 0)
    board = board_of([interrupted, run("iforest", "cardio", 0.6, seed=1)])
    assert "failed" not in render(board, "table")
    assert json.loads(render(board, "json"))["sections"][0]["entries"][0]["cells"][
        "cardio"]["failed"] == 0


def test_ties_share_the_average_rank() -> None:
    board = board_of([run("a", "d1", 0.9), run("b", "d1", 0.9), run("c", "d1", 0.5),
                      run("a", "d2", 0.7), run("b", "d2", 0.8), run("c", "d2", 0.9)])
    ranks = {e.model: e.summary["auroc"].rank for e in board.sections[0].entries}
    assert ranks == {"a": (1.5 + 3) / 2, "b": (1.5 + 2) / 2, "c": (3 + 1) / 2}
    assert [e.model for e in board.sections[0].entries] == ["b", "c", "a"]


def test_lower_is_better_ranks_the_smallest_first() -> None:
    board = board_of([run("a", "d1", 0.2), run("b", "d1", 0.1)], metrics=[("auroc", False)])
    assert entry(board, "b").summary["auroc"].rank == 1
    assert entry(board, "b").cells["d1"].stats["auroc"].best


def test_model_missing_a_dataset_is_ranked_over_the_ones_it_has_and_says_so() -> None:
    board = board_of([run("a", "d1", 0.9), run("a", "d2", 0.9), run("b", "d1", 0.5),
                      run("b", "d2", status="failed")])
    summary = entry(board, "b").summary["auroc"]
    assert (summary.rank, summary.ranked, summary.mean, summary.datasets) == (2, 1, 0.5, 1)
    assert any("b:" in note and "1 of 2" in note and "d2" in note
               for note in board.sections[0].notes)


def test_sections_split_settings_and_budgets() -> None:
    board = board_of([run("a", "d1", 0.9), run("a", "d1", 0.8, setting="semi"),
                      run("a", "d1", 0.7, budget="full")])
    assert [(s.setting, s.budget) for s in board.sections] == [
        (None, "full"), (None, "quick"), ("semi", "quick")]


@pytest.mark.parametrize(("asked", "shown", "value"), [
    (None, "10", 0.9),  # the newest, comparing versions as numbers
    ("2", "2", 0.1),
])
def test_one_suite_version_per_board(asked: str | None, shown: str, value: float) -> None:
    rows = [run("a", "d1", 0.5, version="1"), run("a", "d1", 0.1, version="2"),
            run("a", "d1", 0.9, version="10"), run("a", "d1", 0.3, suite="image-ad")]
    board = board_of(rows, suite_version=asked)
    assert board.suite_version == shown
    assert entry(board, "a").cells["d1"].stats["auroc"].mean == value
    assert any("2 runs of other suite versions" in note for note in board.notes)


def test_no_rows_gives_an_empty_board() -> None:
    board = board_of([])
    assert board.sections == [] and board.suite_version is None
    assert "no finished runs" in render(board, "table")


REFERENCES = [
    ReferenceRow("IForest", "d1", "", "auroc", 0.8, 0.02, "Han et al. 2022", "ADBench"),
    ReferenceRow("IForest", "d2", "", "auroc", 0.6, None, "Han et al. 2022", "ADBench"),
    ReferenceRow("IForest", "d3", "", "auroc", 0.99, None, "Han et al. 2022", "ADBench"),
    ReferenceRow("IForest", "d1", "semi", "auroc", 0.85, None, "Han et al. 2022", "ADBench"),
    ReferenceRow("IForest", "d1", "", "aucpr", 0.5, None, "Han et al. 2022", "ADBench"),
]


def test_reference_rows_are_marked_unranked_and_averaged_over_shared_datasets() -> None:
    # d2 is in the section but only failed for us; d3 we never ran: neither counts.
    board = board_of([run("iforest", "d1", 0.9), run("iforest", "d2", status="failed")],
                     references=REFERENCES)
    reported = entry(board, "IForest (reported)")
    assert reported.reported and reported.source == "Han et al. 2022"
    assert set(reported.cells) == {"d1", "d2"}
    assert reported.summary["auroc"].mean == 0.8
    assert reported.summary["auroc"].datasets == 1
    assert reported.summary["auroc"].rank is None
    assert entry(board, "iforest").summary["auroc"].rank == 1
    assert any("IForest (reported): mean over the 1 of 2" in n for n in board.sections[0].notes)
    assert "IForest (reported)" in render(board, "table")


def test_a_setting_specific_reference_overrides_the_any_setting_one() -> None:
    board = board_of([run("a", "d1", 0.5, setting="semi"), run("a", "d1", 0.5)],
                     references=REFERENCES)
    values = {section.setting: entry(board, "IForest (reported)", i).cells["d1"]
              .stats["auroc"].mean for i, section in enumerate(board.sections)}
    assert values == {None: 0.8, "semi": 0.85}


def test_the_best_mark_is_our_best_even_below_a_published_number() -> None:
    """``*`` is the best the significance marks compare with (ours), so a published number
    above it takes no mark and ours reads ``*``, never ``≈`` beside a number never tested."""
    board = board_of([run("a", "d1", 0.5)], references=REFERENCES)
    assert not entry(board, "IForest (reported)").cells["d1"].stats["auroc"].best
    ours = entry(board, "a").cells["d1"].stats["auroc"]
    assert ours.best and "0.5*" in render(board, "table") and "0.5≈" not in render(board, "table")


def test_load_references_supervised_has_lenet() -> None:
    lenet = [r for r in load_references("supervised") if r.model == "LeNet-5"]
    assert [(r.dataset, r.metric, r.value) for r in lenet] == [("mnist", "accuracy", 0.9905)]
    assert all(r.source for r in load_references("supervised"))


def test_suite_without_reference_file_has_none() -> None:
    assert load_references("no-such-suite") == []


@pytest.mark.parametrize(("text", "error"), [
    ("model,dataset,metric,value\n", "missing columns setting, std, source, protocol"),
    ("model,dataset,setting,metric,value,std,source,protocol\nA,d,,m,high,,s,p\n",
     "value 'high' is not a number"),
    ("model,dataset,setting,metric,value,std,source,protocol\nA,d,,m,,,s,p\n",
     "value is empty"),
])
def test_bad_reference_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             text: str, error: str) -> None:
    (tmp_path / "bad.csv").write_text(text)
    monkeypatch.setattr(leaderboard, "_references_dir", lambda: tmp_path)
    with pytest.raises(ZooError, match=error):
        load_references("bad")


@pytest.fixture
def full_board() -> Leaderboard:
    rows = [run("vae", dataset, value + seed / 100, seed=seed, backbone="mlp")
            for dataset, value in [("d1", 0.7), ("d2", 0.8)] for seed in range(3)]
    rows += [run("iforest", "d1", 0.9), run("iforest", "d2", status="diverged")]
    for row in rows:
        row.metrics["aucpr"] = 0.5
    return board_of(rows, metrics=[("auroc", True), ("aucpr", True)], references=REFERENCES)


def test_render_table_aligns_columns_and_marks_the_best(full_board: Leaderboard) -> None:
    lines = render(full_board, "table").splitlines()
    header = next(line for line in lines if line.startswith("model"))
    assert header.split() == ["model", "d1", "d2", "mean", "rank"]
    row = next(line for line in lines if line.startswith("IForest (reported)"))
    assert "0.8±0.02" in row
    assert any(line.startswith("iforest ") and "0.9*" in line for line in lines)
    assert "vae[mlp]" in render(full_board, "table")


def test_render_markdown_has_header_and_separator_rows(full_board: Leaderboard) -> None:
    lines = render(full_board, "md").splitlines()
    header = lines.index("| model | d1 | d2 | mean | rank |")
    assert lines[header + 1].startswith("| --- |")
    assert any("**0.9**" in line for line in lines)


def test_render_csv_parses_with_one_row_per_cell_and_mean(full_board: Leaderboard) -> None:
    rows = list(csv.DictReader(io.StringIO(render(full_board, "csv"))))
    auroc = [r for r in rows if r["metric"] == "auroc"]
    assert {(r["model"], r["dataset"]) for r in auroc} == {
        ("vae[mlp]", "d1"), ("vae[mlp]", "d2"), ("vae[mlp]", "(mean)"),
        ("iforest", "d1"), ("iforest", "d2"), ("iforest", "(mean)"),
        ("IForest (reported)", "d1"), ("IForest (reported)", "d2"),
        ("IForest (reported)", "(mean)")}
    diverged = next(r for r in auroc if (r["model"], r["dataset"]) == ("iforest", "d2"))
    assert (diverged["diverged"], diverged["mean"]) == ("1", "")
    # The reference gives aucpr only for d1, so only that cell appears for aucpr.
    assert {r["dataset"] for r in rows
            if r["metric"] == "aucpr" and r["reported"] == "True"} == {"d1", "(mean)"}


def test_render_json_has_the_documented_structure(full_board: Leaderboard) -> None:
    data = json.loads(render(full_board, "json"))
    assert data["format_version"] == 1
    assert (data["suite"], data["suite_version"]) == ("tabular-ad", "1")
    assert data["metrics"][0] == {"name": "auroc", "higher_is_better": True, "primary": True}
    section = data["sections"][0]
    assert section["datasets"] == ["d1", "d2"]
    vae = next(e for e in section["entries"] if e["model"] == "vae[mlp]")
    assert set(vae["cells"]["d1"]["metrics"]["auroc"]) == {"mean", "std", "seeds", "best",
                                                           "not_worse", "p_value"}
    assert set(vae["summary"]["auroc"]) == {"mean", "datasets", "rank", "ranked", "not_worse",
                                            "p_value"}
    assert set(section["significance"]["auroc"]) == {"best", "friedman_p", "models",
                                                     "datasets"}
    assert data["significance"]["alpha"] == 0.05


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_text(full_board: Leaderboard, fmt: str) -> None:
    assert render(full_board, fmt).endswith("\n")


def test_unknown_format_lists_the_valid_ones(full_board: Leaderboard) -> None:
    with pytest.raises(ZooError, match="did you mean 'md'"):
        render(full_board, "mdd")


def test_a_metric_grid_shows_only_the_datasets_and_models_that_report_it() -> None:
    classify = RunResult(kind="bench", model="logistic-regression", plugin="test",
                         dataset="wine", suite="supervised", suite_version="1", seed=0,
                         status="ok", metrics={"accuracy": 0.9})
    regress = RunResult(kind="bench", model="linear-regression", plugin="test",
                        dataset="diabetes", suite="supervised", suite_version="1", seed=0,
                        status="ok", metrics={"r2": 0.4})
    board = build_leaderboard([classify, regress], suite="supervised",
                              metrics=[("accuracy", True), ("r2", True)])
    table = render(board, "table")
    accuracy_grid, r2_grid = table.split("r2 (higher")
    assert "wine" in accuracy_grid and "diabetes" not in accuracy_grid
    assert "linear-regression" not in accuracy_grid
    assert "diabetes" in r2_grid and "logistic-regression" not in r2_grid
    assert "ranked and averaged" not in table


FID = [("fid", False), ("kid", False), ("nll", False)]
FLOORS = {"fid": "fid_floor", "kid": "kid_floor"}


def generated(model: str, dataset: str, fid: float, floor: float, *, seed: int,
              setting: str = "default", status: str = "ok") -> RunResult:
    return RunResult(kind="bench", model=model, plugin="test", dataset=dataset,
                     suite="image-gen", suite_version="1", setting=setting, seed=seed,
                     budget="smoke", status=status,
                     metrics={} if status != "ok" else {
                         "fid": fid, "kid": fid / 100, "fid_floor": floor,
                         "kid_floor": floor / 100})


@pytest.fixture
def floor_board() -> Leaderboard:
    # Two models share each seed's floor; a third seed ran only for "vae": every
    # (dataset, seed) counts once. "digits" has no floor for seed 1's failed run.
    rows = [generated(model, "mnist", fid, floor, seed=seed)
            for seed, floor in enumerate([2.0, 4.0])
            for model, fid in [("vae", 10.0 + seed), ("noise", 90.0)]]
    rows += [generated("vae", "mnist", 12.0, 6.0, seed=2),
             generated("vae", "digits", 8.0, 1.0, seed=0),
             generated("vae", "digits", 0.0, 0.0, seed=1, status="failed")]
    return build_leaderboard(rows, suite="image-gen", metrics=FID, floors=FLOORS)


def test_floor_row_is_the_mean_over_seeds_counting_each_seed_once(
        floor_board: Leaderboard) -> None:
    floor = entry(floor_board, "real data (floor)")
    assert floor.floor and not floor.reported
    mnist = floor.cells["mnist"].stats["fid"]
    assert (mnist.mean, mnist.seeds) == (4.0, 3)
    assert mnist.std == pytest.approx(statistics.stdev([2.0, 4.0, 6.0]))
    assert floor.cells["mnist"].stats["kid"].mean == pytest.approx(0.04)
    assert floor.cells["digits"].stats["fid"].seeds == 1
    assert floor.summary["fid"].mean == pytest.approx((4.0 + 1.0) / 2)


def test_floor_row_is_never_ranked_nor_best_and_comes_after_our_models(
        floor_board: Leaderboard) -> None:
    floor = entry(floor_board, "real data (floor)")
    assert floor.summary["fid"].rank is None
    assert not any(stat.best for cell in floor.cells.values() for stat in cell.stats.values())
    assert entry(floor_board, "vae").cells["mnist"].stats["fid"].best
    assert [e.model for e in floor_board.sections[0].entries] == [
        "vae", "noise", "real data (floor)"]
    fid_table = render(floor_board, "table").split("kid (lower")[0]
    floor_line = next(line for line in fid_table.splitlines()
                      if line.startswith("real data (floor)"))
    assert "*" not in floor_line and floor_line.split()[-1] == "-"
    assert any(note.startswith("real data (floor): real data scored against the test data")
               for note in floor_board.sections[0].notes)
    assert not any("(reported)" in note for note in floor_board.notes)


def test_floor_row_is_marked_in_json_and_csv(floor_board: Leaderboard) -> None:
    entries = json.loads(render(floor_board, "json"))["sections"][0]["entries"]
    assert [(e["model"], e["floor"], e["reported"]) for e in entries][-1] == (
        "real data (floor)", True, False)
    rows = list(csv.DictReader(io.StringIO(render(floor_board, "csv"))))
    assert {(r["metric"], r["dataset"]) for r in rows if r["floor"] == "True"} == {
        (metric, column) for metric in ("fid", "kid")
        for column in ("digits", "mnist", "(mean)")}


def test_floor_row_mean_is_over_the_datasets_our_runs_have() -> None:
    rows = [generated("vae", "mnist", 10.0, 2.0, seed=0),
            generated("vae", "digits", 0.0, 0.0, seed=0, status="diverged")]
    rows[0].metrics.pop("fid")  # an ok run that stored its floor but no fid
    rows.append(generated("gan", "digits", 20.0, 5.0, seed=0))
    board = build_leaderboard(rows, suite="image-gen", metrics=FID, floors=FLOORS)
    summary = entry(board, "real data (floor)").summary["fid"]
    assert (summary.mean, summary.datasets) == (5.0, 1)


def test_without_floors_there_is_no_floor_row() -> None:
    rows = [generated("vae", "mnist", 10.0, 2.0, seed=0)]
    board = build_leaderboard(rows, suite="image-gen", metrics=FID)
    assert [e.model for e in board.sections[0].entries] == ["vae"]
    assert "floor" not in render(board, "table")


@pytest.mark.parametrize("fmt", ["table", "md"])
def test_a_metric_without_rows_in_a_section_prints_no_table(floor_board: Leaderboard,
                                                            fmt: str) -> None:
    text = render(floor_board, fmt)
    assert "fid (lower is better, primary)" in text and "kid (lower is better)" in text
    assert "nll (lower" not in text


def test_a_reported_row_without_the_primary_metric_is_noted_on_one_it_reports() -> None:
    rows = [generated("vae", "mnist", 10.0, 2.0, seed=0, setting="binarized")]
    rows[0].metrics["nll"] = 90.0
    reference = ReferenceRow("VAE", "mnist", "binarized", "nll", 89.78, None, "pythae",
                             "200 importance samples")
    board = build_leaderboard(rows, suite="image-gen", metrics=FID, references=[reference],
                              floors=FLOORS)
    assert ("VAE (reported): nll mean over the 1 of 1 datasets it reports that our runs "
            "also have; source: pythae") in board.sections[0].notes
    assert "(reported) rows are published numbers, not ranked; see their sources" in board.notes


def test_a_section_where_every_run_failed_shows_the_failures_under_the_primary_metric() -> None:
    board = board_of([run("gan", "cardio", status="failed")],
                     metrics=[("auroc", True), ("aucpr", True)])
    table = render(board, "table")
    assert "auroc (higher is better, primary)" in table and "1 failed" in table
    assert "aucpr" not in table
