"""``zoo report``: a real small store (two models, two datasets, three seeds, smoke budget)
turned into a page that a real headless Chromium loads, and the statistics it draws."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.reporting.leaderboard import suite_leaderboard
from zoo.reporting.report import compare_models
from zoo.runs.lifecycle import PEAK_MEMORY_KEY, SCORES_FILE
from zoo.runs.store import Store

SUITE = "embedded-ad"
DATASETS = ("breast-cancer-ad", "wine-ad")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# A page beside the report that loads it in a frame and writes what it finds into its own DOM,
# which --dump-dom prints (file:// pages share an origin under --allow-file-access-from-files).
PROBE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="page" src="index.html" width="1200" height="800"></iframe>
<script>
document.getElementById("page").addEventListener("load", () => {
  const doc = document.getElementById("page").contentDocument;
  const rows = [...doc.querySelectorAll("table.leaderboard tbody tr")].map(
    (row) => ({model: row.cells[0].textContent, unranked: row.classList.contains("unranked")}));
  const images = [...doc.images].map(
    (img) => ({src: img.getAttribute("src"), loaded: img.complete && img.naturalWidth > 0}));
  document.getElementById("result").textContent = JSON.stringify({rows, images});
});
</script></body></html>
"""


def zoo(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store made by the real ``zoo bench`` at the smoke budget."""
    folder = tmp_path_factory.mktemp("report-store")
    zoo("bench", SUITE, "--budget", "smoke", "--models", "iforest,knn", "--seeds", "3",
        "--datasets", ",".join(DATASETS), "--db", "store.db", "-q", cwd=folder)
    return folder / "store.db"


@pytest.fixture(scope="module")
def report(store: Path) -> Path:
    """The report's folder, as ``zoo report`` writes it."""
    page = zoo("report", SUITE, "--db", str(store), "--out", "report", cwd=store.parent)
    assert page.strip() == "report/index.html"
    return store.parent / "report"


def test_detection_cells_keep_scores_and_peak_memory(store: Path) -> None:
    with Store(store, readonly=True) as opened:
        rows = opened.runs(suite=SUITE)
    assert len(rows) == 12
    for row in rows:
        assert row.extra[PEAK_MEMORY_KEY] > 0
        with np.load(store.parent / "runs" / row.id / SCORES_FILE) as saved:
            assert set(np.unique(saved["labels"])) == {0, 1}
            assert saved["scores"].shape == saved["labels"].shape


def leaderboard_models(store: Path) -> list[str]:
    board = json.loads(zoo("leaderboard", SUITE, "--db", str(store), "--format", "json",
                           cwd=store.parent))
    return sorted(entry["model"] for section in board["sections"]
                  for _ in board["metrics"] for entry in section["entries"])


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=10000", *args],
                          capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get "
                    "install chromium; .ci/run installs it)")
def test_report_loads_in_headless_chromium(store: Path, report: Path,
                                           tmp_path: Path) -> None:
    (report / "probe.html").write_text(PROBE)
    probed = chromium("--allow-file-access-from-files", "--dump-dom",
                      (report / "probe.html").as_uri())
    found = json.loads(html.unescape(re.search(r'<pre id="result">(.*?)</pre>',
                                               probed.stdout, re.S).group(1)))
    assert sorted(row["model"] for row in found["rows"]) == leaderboard_models(store)
    assert not any(row["unranked"] for row in found["rows"])
    figures = sorted(path.name for path in (report / "figures").glob("*.png"))
    assert sorted(Path(img["src"]).name for img in found["images"]) == figures
    assert {"section0-cd.png", "section0-heatmap.png", "section0-bars.png", "iforest-roc.png",
            "knn-roc.png"} <= set(figures)
    assert all(img["loaded"] for img in found["images"]), found["images"]

    screenshot = tmp_path / "report.png"
    shown = chromium("--window-size=1280,3600", f"--screenshot={screenshot}",
                     (report / "index.html").as_uri())
    console = [line for line in shown.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert screenshot.stat().st_size > 10_000
    print(f"report screenshot: {screenshot}")


def test_markdown_report_links_the_same_figures(store: Path, report: Path) -> None:
    zoo("report", SUITE, "--db", str(store), "--db", str(store), "--out", "md", "--format",
        "md", cwd=store.parent)
    page = (store.parent / "md" / "index.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", page)
    assert sorted(Path(link).name for link in linked) == sorted(
        path.name for path in (report / "figures").glob("*.png"))
    assert all((store.parent / "md" / link).is_file() for link in linked)
    assert "| knn |" in page and "| iforest |" in page
    assert f"zoo report {SUITE} --db" in page  # the command that regenerates it


def test_a_section_whose_runs_all_failed_gets_no_figures(tmp_path: Path) -> None:
    from zoo import plugins
    from zoo.reporting.report import StoredRuns, board_figures, write_report
    from zoo.runs.results import RunResult

    failed = RunResult(kind="bench", model="iforest", plugin="zoo-baselines", dataset="wine-ad",
                       suite=SUITE, suite_version="1", setting="semi", budget="smoke", seed=0,
                       status="failed", error="boom")
    spec = plugins.get_host().suite(SUITE)
    board = suite_leaderboard(spec, [failed])
    assert len(board.sections) == 1 and board_figures(board, tmp_path / "figures") == {}
    page = write_report(StoredRuns([failed], {}), spec, out=tmp_path / "report", fmt="md")
    assert "No heat map or bars: no run has auroc." in page.read_text(encoding="utf-8")


def test_a_dataset_where_every_run_failed_leaves_the_cd_diagram_of_the_others(
        store: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from zoo import plugins
    from zoo.reporting.report import board_figures

    with Store(store, readonly=True) as opened:
        runs = opened.runs()
    failed = [replace(run, id=f"{run.id[:-4]}fail", dataset="digits-ad", status="failed",
                      metrics={}, error="boom") for run in runs]
    board = suite_leaderboard(plugins.get_host().suite(SUITE), [*runs, *failed])
    [section] = board.sections
    assert "digits-ad" in section.columns_for(board.metrics[0])
    assert any(name.endswith("/cd") for name in board_figures(board, tmp_path))


def test_compare_models_separates_a_clearly_better_model() -> None:
    # Eight datasets: "best" wins everywhere; "tied-a" and "tied-b" trade places.
    best = [0.95, 0.93, 0.97, 0.91, 0.96, 0.94, 0.92, 0.98]
    tied_a = [0.71, 0.74, 0.69, 0.73, 0.70, 0.72, 0.75, 0.68]
    tied_b = [0.72, 0.73, 0.70, 0.72, 0.71, 0.71, 0.74, 0.69]
    comparison = compare_models({"tied-a": tied_a, "best": best, "tied-b": tied_b},
                                higher_is_better=True)
    assert comparison.ranks == {"best": 1.0, "tied-a": 2.5, "tied-b": 2.5}
    assert comparison.friedman_p is not None and comparison.friedman_p < 0.05
    assert [set(group) for group in comparison.groups] == [{"tied-a", "tied-b"}]


def test_compare_models_calls_nothing_different_when_friedman_does_not_reject() -> None:
    comparison = compare_models({"a": [0.9, 0.8, 0.7], "b": [0.8, 0.9, 0.7],
                                 "c": [0.7, 0.8, 0.9]}, higher_is_better=True)
    assert comparison.friedman_p is not None and comparison.friedman_p >= 0.05
    assert comparison.groups == [list(comparison.ranks)]


@pytest.mark.parametrize(("args", "message"), [
    (("--setting", "bogus"), "no runs of setting 'bogus' in suite 'embedded-ad'; stored: semi"),
    (("--format", "pdf"), "Invalid value for '--format'"),
])
def test_bad_input_is_one_line(store: Path, args: tuple[str, ...], message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "zoo", "report", SUITE, "--db", str(store),
                           "--out", "bad", *args], capture_output=True, text=True,
                          cwd=store.parent, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (store.parent / "bad").exists()
