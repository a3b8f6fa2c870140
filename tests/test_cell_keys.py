"""Suite cells keyed by their content: a cell runs again when its model's hyperparameters or
its data change, never when nothing did, whichever executor or version of zoo stored it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from zoo.data.types import DataInfo
from zoo.models import create_model, modality_hparams
from zoo.plugins import get_host
from zoo.runs.lifecycle import new_row
from zoo.runs.store import CELL_KEY_FIELDS, Store, cell_key_of, key_hparams
from zoo.suites.runner import run_suite

# knn under another name, its default k read from $ZOO_TEST_K when the plugins load: a
# model whose defaults change between two benches, as after a plugin upgrade.
TUNED_KNN_PLUGIN = """
    import os

    from zoo import HParam, ModelSpec, hookimpl


    @hookimpl
    def zoo_register_models(register):
        register(ModelSpec(
            name="knn-tuned", kind="method", tasks=("detect",), modalities=("tabular",),
            implementation="zoo_baselines.detectors:KNN",
            hparams=(HParam("n_neighbors", int, 5, low=1), HParam("method", str, "largest")),
            defaults={"*": {"n_neighbors": int(os.environ.get("ZOO_TEST_K", "5"))}}))
"""
SMOKE = ("--budget", "smoke", "--seeds", "2")
INFOS = {"tabular": DataInfo("tabular", (6,), "detect"),
         "image": DataInfo("image", (1, 8, 8), "detect", value_range=(0.0, 1.0)),
         "text": DataInfo("text", (16,), "generate", vocab_size=10),
         "timeseries": DataInfo("timeseries", (16, 1), "detect")}


def write_table(path: Path, rows: int = 40) -> Path:
    """A tiny detection table: two features, 0/1 labels with a few anomalies."""
    path.write_text("a,b,label\n" + "".join(f"{i % 7},{(i * 3) % 5},{int(i % 10 == 9)}\n"
                                           for i in range(rows)))
    return path


def zoo_bench(db: Path, *args: str, plugins: Path | None = None,
              env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    first = ["--plugins-dir", str(plugins)] if plugins else []
    done = subprocess.run([sys.executable, "-m", "zoo", *first, "bench", "embedded-ad", *SMOKE,
                           *args, "--db", str(db), "--json"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ids(rows: list[dict[str, Any]]) -> set[str]:
    return {row["id"] for row in rows}


def stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def assert_keys_kept(db: Path) -> None:
    """Each row's key, made when its cell was claimed, is the key of the row as finished."""
    with sqlite3.connect(db) as conn:
        claimed = dict(conn.execute("SELECT id, cell_key FROM runs").fetchall())
    with Store(db, readonly=True) as store:
        assert {run.id: cell_key_of(run) for run in store.runs()} == claimed


def as_version_2(db: Path) -> None:
    """Turn ``db`` into the store version 2 of zoo would have written for the same runs: no
    fingerprints, and its claim key (the cell's fields only)."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        for row in conn.execute("SELECT * FROM runs WHERE cell_key IS NOT NULL").fetchall():
            conn.execute("UPDATE runs SET cell_key = ? WHERE id = ?", (
                json.dumps([row[name] for name in CELL_KEY_FIELDS]), row["id"]))
        conn.execute("ALTER TABLE runs DROP COLUMN data_sha256")
        conn.execute("PRAGMA user_version = 2")


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "tuned.py").write_text(textwrap.dedent(TUNED_KNN_PLUGIN))
    return folder


def leaderboard(db: Path, plugins: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "zoo", "--plugins-dir", str(plugins),
                           "leaderboard", "embedded-ad", "--db", str(db), "--format", "json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_bench_reruns_the_cells_whose_hyperparameters_or_data_changed_and_only_those(
        tmp_path: Path, plugins: Path) -> None:
    db, table = tmp_path / "runs.db", write_table(tmp_path / "table.csv")
    bench = ("--models", "knn-tuned", "--datasets", str(table))
    first = zoo_bench(db, *bench, plugins=plugins)
    assert_keys_kept(db)
    as_version_2(db)  # upgraded from a zoo that keyed cells without their content
    assert ids(zoo_bench(db, *bench, plugins=plugins)) == ids(first)  # unchanged: skipped
    tuned = zoo_bench(db, *bench, plugins=plugins, env={"ZOO_TEST_K": "1"})
    assert not ids(tuned) & ids(first) and stored(db) == 4
    # The board shows the latest configuration's seeds, never a mean mixing both.
    board = leaderboard(db, plugins)
    auroc = board["sections"][0]["entries"][0]["cells"][str(table)]["metrics"]["auroc"]
    assert auroc["seeds"] == 2
    assert auroc["mean"] == pytest.approx(sum(row["metrics"]["auroc"] for row in tuned) / 2)
    assert any(note.startswith("2 runs of earlier hyperparameters or data")
               for note in board["notes"])
    write_table(table, rows=50)
    changed = zoo_bench(db, *bench, plugins=plugins, env={"ZOO_TEST_K": "1"})
    assert not ids(changed) & (ids(first) | ids(tuned)) and stored(db) == 6


def test_a_cell_finished_by_one_executor_is_skipped_by_the_other(tmp_path: Path) -> None:
    db, table = tmp_path / "runs.db", write_table(tmp_path / "table.csv")
    bench = ("--models", "knn", "--datasets", str(table))
    serial = zoo_bench(db, *bench)  # seeds 0 and 1
    local = zoo_bench(db, *bench, "--seeds", "4", "--executor", "local", "--jobs", "2")
    assert ids(serial) < ids(local) and stored(db) == 4  # seeds 2 and 3 ran on the workers
    assert_keys_kept(db)
    with Store(db) as store:  # the serial runner, in this process, skips the workers' cells
        again = run_suite(get_host().suite("embedded-ad").load()(), store, models=["knn"],
                          datasets=[str(table)], seeds=4, budget="smoke")
    assert {row.id for row in again} == ids(local)


@pytest.mark.parametrize(("name", "modality"), [
    (name, modality) for name, spec in sorted(get_host().models().items())
    for modality in spec.modalities])
def test_a_cell_has_one_key_before_and_after_its_model_is_built(name: str,
                                                                modality: str) -> None:
    """The key a cell is claimed under (the hyperparameters it will be built with) is the
    key of its finished row (those the model reports), so that migrated rows, merged stores
    and leaderboards find the cell again."""
    spec = get_host().model(name)
    task = next(task for task in ("detect", "generate", "classify", "regress")
                if task in spec.tasks)
    info = INFOS[modality]
    info = DataInfo(modality, info.shape, task, n_classes=3 if task == "classify" else None,
                    target_dim=1 if task == "regress" else None, vocab_size=info.vocab_size,
                    value_range=info.value_range)
    before = new_row("bench", model=name, dataset="wine-ad", device="cpu", suite="s",
                     hparams=modality_hparams(spec, modality, {}))
    built = create_model(name, info, seed=0).hyperparameters()
    assert cell_key_of(before) == cell_key_of(new_row(
        "bench", model=name, dataset="wine-ad", device="cpu", suite="s", hparams=built))


def test_an_ensemble_cell_is_keyed_by_its_members_hyperparameters() -> None:
    hparams = modality_hparams(get_host().model("autoencoder"), "tabular", {})
    before = new_row("bench", model="autoencoder@3", dataset="wine-ad", device="cpu",
                     hparams=hparams)
    after = new_row("bench", model="autoencoder@3", dataset="wine-ad", device="cpu",
                    hparams={**hparams, "members": 3, "combine": "mean"})
    assert key_hparams(before) == key_hparams(after)
    assert cell_key_of(before) == cell_key_of(after)
