"""The run lifecycle: one path that opens, runs, finishes and announces every run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from zoo import plugins
from zoo.errors import Diverged, ZooError
from zoo.plugins import PluginHost, hookimpl
from zoo.runs.lifecycle import execute_run, new_row
from zoo.runs.results import Outcome, RunResult
from zoo.runs.store import Store


class Tracker:
    """A throwaway tracker plugin: records the run hooks it is called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    @hookimpl
    def zoo_run_started(self, run: RunResult) -> None:
        self.calls.append(("started", run.id, run.status))

    @hookimpl
    def zoo_run_finished(self, result: RunResult) -> None:
        self.calls.append(("finished", result.id, result.status))


@pytest.fixture
def tracker(monkeypatch: pytest.MonkeyPatch) -> Tracker:
    host = PluginHost()
    tracked = Tracker()
    host.add("tracker", lambda: tracked)
    monkeypatch.setattr(plugins, "_host", host)
    return tracked


def train_row() -> RunResult:
    return new_row("train", model="mlp", dataset="wine", device="cpu", seed=0)


def raising(exc: BaseException) -> Callable[[Path], Outcome]:
    def work(run_dir: Path) -> Outcome:
        raise exc
    return work


@pytest.mark.parametrize(("work", "status", "error"), [
    (lambda run_dir: Outcome({"accuracy": 0.5}, checkpoint=str(run_dir)), "ok", None),
    (lambda run_dir: Outcome({"accuracy": float("nan")}), "diverged",
     "non-finite metric accuracy=nan"),
    (raising(Diverged("training loss became nan at step 3")), "diverged",
     "training loss became nan at step 3"),
    (raising(ZooError("the data has  one\nrow")), "failed", "the data has one row"),
    (raising(KeyError("x")), "failed", "KeyError: 'x'"),
])
def test_every_run_ends_ok_diverged_or_failed_with_one_line(
        work: Callable[[Path], Outcome], status: str, error: str | None, tracker: Tracker,
        tmp_path: Path) -> None:
    row = train_row()
    with Store(tmp_path / "runs.db") as store:
        stored = execute_run(store, row, work)
        assert stored == store.get(row.id)
    assert stored.status == status and stored.error == error
    assert tracker.calls == [("started", row.id, "running"), ("finished", row.id, status)]
    if status == "ok":
        assert stored.checkpoint == str(tmp_path / "runs" / row.id)


def test_an_interrupted_run_is_stored_as_such_and_the_interrupt_goes_on(
        tracker: Tracker, tmp_path: Path) -> None:
    row = train_row()
    with Store(tmp_path / "runs.db") as store:
        with pytest.raises(KeyboardInterrupt):
            execute_run(store, row, raising(KeyboardInterrupt()))
        stored = store.get(row.id)
    assert (stored.status, stored.error) == ("failed", "interrupted")
    # Trackers hear of it, so that they close the run they opened as failed.
    assert tracker.calls == [("started", row.id, "running"), ("finished", row.id, "failed")]


def test_a_non_zero_rank_stores_nothing_and_calls_no_hook(
        tracker: Tracker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    with Store(tmp_path / "runs.db") as store:
        assert execute_run(store, train_row(), lambda run_dir: Outcome({"accuracy": 1.0})) is None
        assert store.runs() == []
    assert tracker.calls == []


def test_a_cell_held_by_another_row_is_not_run_again(tracker: Tracker, tmp_path: Path) -> None:
    def cell() -> RunResult:
        return new_row("bench", model="mlp", dataset="wine", device="cpu", suite="supervised",
                       suite_version="2", setting="default", seed=0, budget="smoke")

    ran: list[Path] = []

    def work(run_dir: Path) -> Outcome:
        ran.append(run_dir)
        return Outcome({"accuracy": 0.9})

    with Store(tmp_path / "runs.db") as store:
        first = execute_run(store, cell(), work)
        again = execute_run(store, cell(), work)
    assert first is not None and again == first and len(ran) == 1
    assert [call[0] for call in tracker.calls] == ["started", "finished"]
