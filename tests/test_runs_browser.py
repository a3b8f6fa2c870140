"""The local runs browser through the real ``zoo`` command line: ``zoo runs`` and
``zoo runs show`` on a store holding ok (real runs), failed, diverged and interrupted rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.runs.results import INTERRUPTED, RunResult
from zoo.runs.store import Store

WANDB = {"path": "me/zoo/abc123", "dir": "/tmp/wandb/offline-run-1",
         "sync": "wandb sync /tmp/wandb/offline-run-1"}


def zoo(*args: str, check: bool = True,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True,
                          text=True, env=os.environ, timeout=300, cwd=cwd)
    if check and done.returncode != 0:
        raise AssertionError(f"zoo {' '.join(args)} failed:\n{done.stderr}")
    return done


def zoo_json(*args: str) -> object:
    return json.loads(zoo(*args, "--json").stdout)


def stored_row(status: str, error: str | None, **fields: object) -> RunResult:
    row = RunResult(kind="bench", model="vae", backbone="mlp", plugin="zoo-vae",
                    dataset="wine-ad", suite="embedded-ad", suite_version="2",
                    setting="semi", seed=0, budget="smoke", status=status, error=error,
                    seconds=1.5)
    for name, value in fields.items():
        setattr(row, name, value)
    return row


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A store with a real train run, a real bench cell, and failed, diverged, interrupted
    and W&B-tracked rows written with the Store API; the name of each row -> its id."""
    db = tmp_path_factory.mktemp("runs-browser") / "runs.db"
    train = zoo_json("train", "mlp", "--data", "wine", "--max-epochs", "2", "--db", str(db))
    evaluated = zoo_json("evaluate", train["id"], "--db", str(db))
    bench, = zoo_json("bench", "supervised", "--models", "mlp", "--datasets", "wine",
                      "--budget", "smoke", "--seeds", "1", "--db", str(db))
    written = {
        "failed": stored_row("failed", "RuntimeError: boom", seed=1),
        "diverged": stored_row("diverged", "non-finite loss at epoch 3", seed=2),
        "interrupted": stored_row("failed", INTERRUPTED, seed=3),
        "tracked": stored_row("ok", None, kind="train", suite=None, suite_version=None,
                              setting=None, budget=None, seed=4, dataset="digits",
                              metrics={"zeta": 2.0, "best_val_loss": 0.25},
                              extra={"wandb": WANDB, "note": "tracked"}),
    }
    with Store(db) as runs:
        ids = {name: runs.record(row) for name, row in written.items()}
    return {"db": str(db), "train": train["id"], "evaluate": evaluated["id"],
            "bench": bench["id"], **ids}


def listing(store: dict[str, str], *args: str) -> list[dict[str, object]]:
    return zoo_json("runs", "--db", store["db"], *args)


def test_the_listing_shows_every_run_newest_first_with_its_headline(
        store: dict[str, str]) -> None:
    entries = {entry["id"]: entry for entry in listing(store)}
    order = ["train", "evaluate", "bench", "failed", "diverged", "interrupted", "tracked"]
    assert list(entries) == [store[name] for name in reversed(order)]
    headlines = {name: entries[store[name]]["headline"] for name in order}
    # a cell: its suite's primary metric; train: the first of the sensible list; none when failed
    assert headlines["bench"]["metric"] == "accuracy"
    assert headlines["train"]["metric"] == "best_val_loss"
    assert headlines["evaluate"]["metric"] == "accuracy"
    assert headlines["tracked"] == {"metric": "best_val_loss", "value": 0.25}
    assert headlines["failed"] is None
    assert entries[store["diverged"]]["display_model"] == "vae[mlp]"
    assert entries[store["bench"]]["kind"] == "bench"

    text = zoo("runs", "--db", store["db"]).stdout
    lines = text.splitlines()
    assert lines[0].split() == ["id", "kind", "model", "dataset", "seed", "status", "headline",
                                "seconds", "when"]
    assert lines[2].startswith(store["tracked"][:8])
    assert "failed: interrupted" in text and "diverged" in text
    assert any(line.startswith(store["bench"][:8]) and "accuracy=" in line for line in lines)


@pytest.mark.parametrize(("args", "names"), [
    (["--kind", "bench"], ["interrupted", "diverged", "failed", "bench"]),
    (["--status", "interrupted"], ["interrupted"]),
    (["--status", "failed"], ["interrupted", "failed"]),
    (["--model", "vae[mlp]", "--status", "diverged"], ["diverged"]),
    (["--model", "mlp"], ["bench", "evaluate", "train"]),
    (["--kind", "evaluate"], ["evaluate"]),
    (["--suite", "supervised"], ["bench"]),
    (["--dataset", "digits"], ["tracked"]),
    (["--limit", "2"], ["tracked", "interrupted"]),
    (["--limit", "0", "--status", "ok"], ["tracked", "bench", "evaluate", "train"]),
])
def test_filters_select_the_runs(store: dict[str, str], args: list[str],
                                 names: list[str]) -> None:
    assert [entry["id"] for entry in listing(store, *args)] == [store[n] for n in names]


@pytest.mark.parametrize(("args", "said"), [
    (["--status", "done"], "unknown --status 'done'; valid: running, ok, failed, diverged, "
                           "pruned, interrupted"),
    (["--kind", "cell"], "unknown --kind 'cell'; valid: train, evaluate, bench, tune"),
])
def test_an_unknown_status_or_kind_is_one_line_naming_the_valid_ones(
        store: dict[str, str], args: list[str], said: str) -> None:
    done = zoo("runs", "--db", store["db"], *args, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == f"Error: {said}"


def test_a_limited_listing_says_how_many_runs_it_leaves_out(store: dict[str, str]) -> None:
    done = zoo("runs", "--db", store["db"], "--limit", "3")
    assert len(done.stdout.splitlines()) == 2 + 3
    assert done.stderr.strip() == "4 older runs not shown (--limit 0 shows all)"
    assert zoo("runs", "--db", store["db"], "--limit", "0").stderr == ""


def test_an_empty_listing_says_what_was_filtered(store: dict[str, str]) -> None:
    done = zoo("runs", "--db", store["db"], "--model", "gan", "--status", "ok")
    assert done.stdout == ""
    assert done.stderr.strip() == (f"no runs with model 'gan', status 'ok' in {store['db']} "
                                   "('zoo runs' without filters lists all)")
    assert listing(store, "--model", "gan") == []


def test_a_missing_database_is_one_line_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing" / "runs.db"
    for args in (["runs"], ["runs", "show", "abcdef"]):
        done = zoo(*args, "--db", str(missing), check=False)
        assert done.returncode == 2
        assert done.stderr.startswith(f"Error: no runs database {missing}")
        assert len(done.stderr.strip().splitlines()) == 1
    assert not missing.parent.exists()


def test_show_a_trained_run_by_prefix(store: dict[str, str]) -> None:
    text = zoo("runs", "show", store["train"][:8], "--db", store["db"]).stdout
    assert text.startswith(f"run {store['train']}  train  mlp on wine: ok  best_val_loss=")
    for shown in ("plugin:     zoo-mlp ", "hparams:    activation=relu", "versions:",
                  "torch=", "git commit:", "owner:", "folder:", "checkpoint:",
                  "contents:   hparams.yaml  metrics.csv"):
        assert shown in text
    curve = next(line for line in text.splitlines() if line.strip().startswith("train_loss"))
    assert "min " in curve and "last " in curve
    assert curve.rstrip()[-2:] in ("█▁", "▁█")  # two epochs, one point each

    detail = zoo_json("runs", "show", store["train"][:6], "--db", store["db"])
    assert detail["run"]["id"] == store["train"]
    assert detail["run"]["hparams"]["hidden"] == [256, 256]
    assert detail["curves"]["val_loss"]["points"] == 2
    assert detail["curves"]["val_loss"]["last"] == detail["run"]["metrics"]["best_val_loss"]
    assert Path(detail["files"]["checkpoint"], "card.json").is_file()
    assert detail["files"]["files"] == ["hparams.yaml", "metrics.csv"]
    assert detail["trackers"] == {}


def test_a_run_stored_through_a_relative_db_is_shown_from_any_folder(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    trained = json.loads(zoo("train", "mlp", "--data", "wine", "--max-epochs", "2", "--db",
                             "stores/runs.db", "--json", cwd=tmp_path / "project").stdout)
    detail = zoo_json("runs", "show", trained["id"], "--db",
                      str(tmp_path / "project" / "stores" / "runs.db"))
    assert detail["files"]["folder"] == str(tmp_path / "project" / "stores" / "runs" /
                                            trained["id"])
    assert detail["curves"]["val_loss"]["points"] == 2


def test_show_a_suite_cell(store: dict[str, str]) -> None:
    detail = zoo_json("runs", "show", store["bench"], "--db", store["db"])
    assert detail["headline"]["metric"] == "accuracy"
    assert detail["run"]["suite"] == "supervised"
    assert {"train_loss", "val_loss"} <= set(detail["curves"])
    text = zoo("runs", "show", store["bench"], "--db", store["db"]).stdout
    assert "suite:      supervised (version " in text and "budget:     smoke" in text


@pytest.mark.parametrize(("name", "status", "error"), [
    ("failed", "failed", "RuntimeError: boom"),
    ("diverged", "diverged", "non-finite loss at epoch 3"),
    ("interrupted", "failed", INTERRUPTED),
])
def test_show_a_run_that_did_not_end_ok_gives_its_error(store: dict[str, str], name: str,
                                                        status: str, error: str) -> None:
    text = zoo("runs", "show", store[name], "--db", store["db"]).stdout
    lines = text.splitlines()
    assert lines[0] == f"run {store[name]}  bench  vae[mlp] on wine-ad: {status}"
    assert lines[1] == f"  error: {error}"
    assert "(no per-epoch log)" in text and "(none: the run left no files)" in text
    assert "owner:" not in text  # recorded in one go: no process owned it
    assert "W&B" not in text


def test_show_gives_the_wandb_run_path_and_sync_command(store: dict[str, str]) -> None:
    text = zoo("runs", "show", store["tracked"], "--db", store["db"]).stdout
    w_and_b = text.split("\nW&B\n", 1)[1].splitlines()
    assert w_and_b == [f"  path: {WANDB['path']}", f"  sync: {WANDB['sync']}",
                       f"  dir:  {WANDB['dir']}"]
    assert "  note: tracked" in text
    assert zoo_json("runs", "show", store["tracked"], "--db", store["db"])["trackers"] == {
        "wandb": WANDB}


def test_an_unknown_id_lists_the_close_ones(store: dict[str, str]) -> None:
    typo = store["bench"][:7] + ("0" if store["bench"][7] != "0" else "1")
    done = zoo("runs", "show", typo, "--db", store["db"], check=False)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(f"Error: no run {typo!r} in {store['db']}; close: ")
    assert store["bench"][:8] in done.stderr
    short = zoo("runs", "show", store["bench"][:3], "--db", store["db"], check=False)
    assert short.returncode == 2 and "at least 6 characters" in short.stderr


def test_listing_options_before_show_are_refused(store: dict[str, str]) -> None:
    done = zoo("runs", "--db", store["db"], "show", store["bench"], check=False)
    assert done.returncode == 2
    assert "--db before `show` is an option of the listing" in done.stderr


@pytest.mark.parametrize("args", [["runs"], ["runs", "show", "TRAIN"]])
def test_browsing_imports_no_torch_numpy_or_lightning(store: dict[str, str],
                                                      args: list[str]) -> None:
    argv = ["zoo", *[store["train"] if a == "TRAIN" else a for a in args], "--db", store["db"]]
    code = ("import sys; from zoo.cli import main; sys.argv = " + repr(argv) + "\n"
            "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done\n"
            "heavy = [m for m in ('torch', 'numpy', 'lightning') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
