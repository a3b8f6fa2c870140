"""Hooks called through pluggy's hook caller, with zoo's isolation around each implementation.

Each pluggy feature (ordering, ``firstresult``, both kinds of wrapper, historic hooks) and
each of zoo's hooks is tested with throwaway plugins on a fresh :class:`PluginHost`.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from zoo import hookimpl, plugins
from zoo.plugins import PluginHost, hookspecs
from zoo.runs.results import RunResult
from zoo.training import TrainConfig

hookspec = pluggy.HookspecMarker("zoo")


class TestOnlySpecs:
    """Hooks only these tests declare: zoo has no first-result or historic hook."""

    @hookspec(firstresult=True)
    def zoo_test_first(self, value: int) -> int | None:
        """The first non-None result."""

    @hookspec(historic=True)
    def zoo_test_historic(self, value: int) -> None:
        """Remembered and replayed to plugins registered later."""


def empty_host() -> PluginHost:
    host = PluginHost(entry_points=[], default_plugins=(), env={})
    host.pm.add_hookspecs(TestOnlySpecs)
    return host


def add(host: PluginHost, name: str, plugin: object) -> None:
    host.add(name, lambda: plugin, source="entry-point", distribution=f"dist-{name}")
    assert host.plugins[name].status == "ok", host.plugins[name].reason


class Loggers:
    """A plugin on ``zoo_trainer_loggers`` returning ``[name]``, in the order it is asked."""

    def __init__(self, name: str, calls: list[str], **opts: bool) -> None:
        self.name, self.calls = name, calls

        def zoo_trainer_loggers(config: TrainConfig, run_dir: Path) -> list[Any]:
            calls.append(name)
            return [name]

        self.zoo_trainer_loggers = hookimpl(**opts)(zoo_trainer_loggers)


def call_loggers(host: PluginHost, tmp_path: Path) -> list[list[Any]]:
    return host.hook.zoo_trainer_loggers(config=TrainConfig(), run_dir=tmp_path)


def a_row(**changes: Any) -> RunResult:
    return RunResult(**{"kind": "train", "model": "m", "plugin": "p", "dataset": "d",
                        **changes})


# -- pluggy's features ----------------------------------------------------------------------

def test_tryfirst_and_trylast_order_the_calls(tmp_path: Path) -> None:
    host, calls = empty_host(), []
    for name, opts in [("last", {"trylast": True}), ("plain-1", {}),
                       ("first", {"tryfirst": True}), ("plain-2", {})]:
        add(host, name, Loggers(name, calls, **opts))
    # pluggy: tryfirst, then the most recently registered first, then trylast
    assert call_loggers(host, tmp_path) == [["first"], ["plain-2"], ["plain-1"], ["last"]]
    assert calls == ["first", "plain-2", "plain-1", "last"]


def test_the_builtin_csv_logger_comes_after_any_plugin(tmp_path: Path) -> None:
    host = PluginHost(entry_points=[], default_plugins=("zoo._builtin.csv_logger",), env={})
    add(host, "mine", Loggers("mine", []))
    results = call_loggers(host, tmp_path)
    assert results[0] == ["mine"]
    assert [type(logger).__name__ for logger in results[1]] == ["CSVLogger"]


def test_firstresult_stops_at_the_first_result_and_skips_a_raising_one() -> None:
    host, calls = empty_host(), []

    def plugin(name: str, result: int | None, **opts: bool) -> object:
        class Plugin:
            @hookimpl(**opts)
            def zoo_test_first(self, value: int) -> int | None:
                calls.append(name)
                if result is None and name == "raising":
                    raise RuntimeError("no answer")
                return None if result is None else value + result
        return Plugin()

    add(host, "three", plugin("three", 3))
    add(host, "two", plugin("two", 2))
    add(host, "none", plugin("none", None))
    add(host, "raising", plugin("raising", None, tryfirst=True))
    with pytest.warns(UserWarning, match="'raising' is broken"):
        assert host.hook.zoo_test_first(value=10) == 12
    assert calls == ["raising", "none", "two"]


class NewStyleWrapper:
    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    @hookimpl(wrapper=True)
    def zoo_trainer_loggers(self, config: TrainConfig, run_dir: Path) -> Iterator[None]:
        results = yield
        self.seen.append(list(results))
        return [*results, ["added by the wrapper"]]


class OldStyleWrapper:
    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    @hookimpl(hookwrapper=True)
    def zoo_trainer_loggers(self, config: TrainConfig, run_dir: Path) -> Iterator[None]:
        outcome = yield
        self.seen.append(list(outcome.get_result()))
        outcome.force_result([*outcome.get_result(), ["added by the wrapper"]])


@pytest.mark.parametrize("wrapper", [NewStyleWrapper, OldStyleWrapper])
def test_a_wrapper_sees_the_results_and_can_change_them(tmp_path: Path, wrapper: type) -> None:
    host, seen = empty_host(), []
    add(host, "wrapper", wrapper(seen))
    add(host, "a", Loggers("a", []))
    add(host, "b", Loggers("b", [], trylast=True))
    assert call_loggers(host, tmp_path) == [["a"], ["b"], ["added by the wrapper"]]
    assert seen == [[["a"], ["b"]]]


def test_a_historic_call_reaches_plugins_registered_later() -> None:
    host, got = empty_host(), []

    def plugin(name: str, fail: bool = False) -> object:
        class Plugin:
            @hookimpl
            def zoo_test_historic(self, value: int) -> None:
                if fail:
                    raise ValueError("too late")
                got.append((name, value))
        return Plugin()

    add(host, "early", plugin("early"))
    host.hook.zoo_test_historic.call_historic(kwargs={"value": 7})
    add(host, "late", plugin("late"))
    assert got == [("early", 7), ("late", 7)]
    with pytest.warns(UserWarning, match="'late-raising' is broken"):
        host.add("late-raising", lambda: plugin("late-raising", fail=True))
    assert host.plugins["late-raising"].reason == "zoo_test_historic raised ValueError: too late"
    assert host.pm.get_plugin("late-raising") is None
    host.hook.zoo_test_historic.call_historic(kwargs={"value": 8})
    assert got[2:] == [("late", 8), ("early", 8)]  # the most recently registered first


# -- isolation ------------------------------------------------------------------------------

class Finished:
    def __init__(self, name: str, calls: list[str], fail: bool = False, **opts: bool) -> None:
        def zoo_run_finished(result: RunResult) -> None:
            calls.append(name)
            if fail:
                raise RuntimeError("tracker down\n  (server said no)")

        self.zoo_run_finished = hookimpl(**opts)(zoo_run_finished)


def test_a_raising_implementation_breaks_only_its_own_plugin() -> None:
    host, calls = empty_host(), []
    add(host, "before", Finished("before", calls, tryfirst=True))
    add(host, "raising", Finished("raising", calls, fail=True))
    add(host, "after", Finished("after", calls, trylast=True))
    reason = "zoo_run_finished raised RuntimeError: tracker down (server said no)"
    with pytest.warns(UserWarning) as warned:
        assert host.hook.zoo_run_finished(result=a_row()) == []
    assert [str(w.message) for w in warned] == [f"zoo plugin 'raising' is broken: {reason}"]
    assert calls == ["before", "raising", "after"]
    info = host.plugins["raising"]
    assert (info.status, info.reason) == ("broken", reason)
    assert [i.status for n, i in host.plugins.items() if n != "raising"] == ["ok", "ok"]
    host.hook.zoo_run_finished(result=a_row())  # a broken plugin is not called again
    assert calls[3:] == ["before", "after"]


FINISHED_RAISES = """
    import numpy as np
    import torch

    from zoo import DataInfo, ModelSpec, ZooModel, hookimpl


    class Centre(ZooModel):
        def __init__(self, data_info: DataInfo) -> None:
            self.data_info = data_info

        def fit(self, splits, config):
            self.centre = np.asarray(splits.train.x).mean(axis=0)
            return {}

        def hyperparameters(self):
            return {}

        def score(self, x):
            return torch.as_tensor(((np.asarray(x) - self.centre) ** 2).sum(axis=1))


    @hookimpl
    def zoo_register_models(register):
        register(ModelSpec(name="centre", kind="method", tasks=("detect",),
                           modalities=("tabular",),
                           implementation="zoo_plugins_dir.finished_raises:Centre"))


    @hookimpl
    def zoo_run_finished(result):
        raise RuntimeError("tracker down")
"""


def test_a_plugin_whose_run_hook_raises_keeps_its_models_for_every_bench_cell(
        tmp_path: Path, throwaway_plugin: Any) -> None:
    from zoo.runs.store import Store
    from zoo.suites.runner import run_suite

    throwaway_plugin("finished_raises", FINISHED_RAISES)
    host = plugins.get_host()
    with (pytest.warns(UserWarning, match="'finished_raises' is broken: zoo_run_finished "
                                          "raised RuntimeError: tracker down"),
          Store(tmp_path / "runs.db") as store):
        rows = run_suite(host.suite("embedded-ad").load()(), store, models=["centre"],
                         datasets=["wine-ad", "breast-cancer-ad"], seeds=2, budget="smoke")
        stored = [row.status for row in store.runs()]
    assert [row.status for row in rows] == stored == ["ok"] * 4
    info = host.plugins["finished_raises"]
    assert (info.status, info.models) == ("broken", ["centre"])


def _raises_before_yield(self: object, config: TrainConfig, run_dir: Path) -> Iterator[None]:
    raise RuntimeError("setup failed")
    yield


def _raises_after_yield(self: object, config: TrainConfig, run_dir: Path) -> Iterator[None]:
    yield
    raise RuntimeError("teardown failed")


def _never_yields(self: object, config: TrainConfig, run_dir: Path) -> Iterator[None]:
    return
    yield


def _yields_twice(self: object, config: TrainConfig, run_dir: Path) -> Iterator[None]:
    yield
    yield


@pytest.mark.parametrize("style", ["wrapper", "hookwrapper"])
@pytest.mark.parametrize(("body", "reason"), [
    (_raises_before_yield, "RuntimeError: setup failed"),
    (_raises_after_yield, "RuntimeError: teardown failed"),
    (_never_yields, "RuntimeError: the wrapper did not yield"),
    (_yields_twice, "RuntimeError: the wrapper yielded twice"),
])
def test_a_raising_wrapper_breaks_only_its_own_plugin(tmp_path: Path, style: str, body: Any,
                                                      reason: str) -> None:
    host = empty_host()
    add(host, "wrapper", type("Wrapper", (), {"zoo_trainer_loggers":
                                              hookimpl(**{style: True})(body)})())
    add(host, "a", Loggers("a", []))
    with pytest.warns(UserWarning, match="'wrapper' is broken"):
        assert call_loggers(host, tmp_path) == [["a"]]
    assert host.plugins["wrapper"].reason == f"zoo_trainer_loggers raised {reason}"
    assert host.plugins["a"].status == "ok"


def test_a_wrapper_that_is_not_a_generator_is_refused_when_loaded() -> None:
    host = empty_host()

    class NotAGenerator:
        @hookimpl(wrapper=True)
        def zoo_run_finished(self, result: RunResult) -> None:
            pass

    host.add("bad-wrapper", lambda: NotAGenerator())
    assert "generator function" in host.plugins["bad-wrapper"].reason


# -- every hook, through a third-party plugin -----------------------------------------------

COMMANDS = {
    "hello": """
        import click

        from zoo import hookimpl


        @hookimpl
        def zoo_register_commands(cli):
            @cli.command("hello")
            @click.argument("name")
            def hello(name):
                \"\"\"Greet NAME.\"\"\"
                import zoo.cli

                click.echo(f"hello {name}; the zoo group: {cli is zoo.cli.cli}")
    """,
    "raising": """
        from zoo import hookimpl


        @hookimpl
        def zoo_register_commands(cli):
            raise RuntimeError("no commands today")
    """,
}


def zoo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "ZOO_PLUGINS": "none"})


def test_a_plugin_adds_a_command_beside_one_whose_hook_raises(tmp_path: Path) -> None:
    directory = tmp_path / "plugins"
    directory.mkdir()
    for name, source in COMMANDS.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
    done = zoo("--plugins-dir", str(directory), "hello", "world")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello world; the zoo group: True\n"
    assert done.stderr.splitlines() == ["zoo plugin 'raising' is broken: zoo_register_commands "
                                        "raised RuntimeError: no commands today"]
    listed = {p["name"]: p for p in json.loads(zoo("--plugins-dir", str(directory), "plugins",
                                                   "--json").stdout)}
    assert listed["hello"]["status"] == "ok"
    assert listed["raising"]["reason"] == ("zoo_register_commands raised RuntimeError: "
                                           "no commands today")


class Tracker:
    """A third-party tracker: a plugin on the run hooks and the trainer hooks."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.logged: list[list[dict[str, float]]] = []  # per logger, what it was given
        self.epochs: list[int] = []
        # By run folder: (hook, epoch, trainer.callback_metrics) at each epoch end.
        self.seen: dict[Path, list[tuple[str, int, dict[str, float]]]] = {}

    @hookimpl
    def zoo_run_started(self, run: RunResult) -> None:
        self.events.append(("started", run))

    @hookimpl
    def zoo_run_finished(self, result: RunResult) -> None:
        self.events.append(("finished", result))

    @hookimpl
    def zoo_trainer_callbacks(self, config: TrainConfig, run_dir: Path) -> list[Any]:
        from lightning.pytorch.callbacks import Callback

        self.events.append(("callbacks", (config, run_dir)))
        epochs = self.epochs
        seen = self.seen.setdefault(run_dir, [])

        def record(hook: str, trainer: Any) -> None:
            metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
            seen.append((hook, trainer.current_epoch, metrics))

        class EpochCounter(Callback):
            def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
                epochs.append(trainer.current_epoch)
                record("train", trainer)

            def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
                record("validation", trainer)

        return [EpochCounter()]

    @hookimpl
    def zoo_trainer_loggers(self, config: TrainConfig, run_dir: Path) -> list[Any]:
        from lightning.pytorch.loggers import Logger

        self.events.append(("loggers", (config, run_dir)))
        logged: list[dict[str, float]] = []
        self.logged.append(logged)

        class ListLogger(Logger):
            name, version = "list", "0"

            def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
                pass

            def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
                logged.append(dict(metrics))

        return [ListLogger()]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tracker, list[Any]]]:
    """A fresh host with the built-ins, zoo-mlp and the tracker; mlp trained on wine for two
    epochs, evaluated, and run as one cell of the supervised suite."""
    from zoo.runs.single import evaluate_run, train_run
    from zoo.runs.store import Store
    from zoo.suites.runner import run_suite

    mlp = importlib.metadata.entry_points(group="zoo.plugins", name="zoo-mlp")
    host = PluginHost(entry_points=mlp, env={})
    tracker = Tracker()
    add(host, "tracker", tracker)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plugins, "_host", host)
        with Store(tmp_path_factory.mktemp("tracked") / "runs.db") as store:
            trained = train_run(store, "mlp", "wine", backbone=None, hparams={}, seed=0,
                                accelerator="cpu", devices=1, max_epochs=2)
            evaluated = evaluate_run(store, trained.id)
            cells = run_suite(host.suite("supervised").load()(), store, models=["mlp"],
                              datasets=["wine"], seeds=1, budget="smoke")
    yield tracker, [trained, evaluated, *cells]


def test_a_tracker_gets_started_and_finished_for_every_run(
        tracked: tuple[Tracker, list[RunResult]]) -> None:
    tracker, stored = tracked
    runs = [(kind, row) for kind, row in tracker.events if kind in ("started", "finished")]
    assert [kind for kind, _ in runs] == ["started", "finished"] * 3
    for (_, started), (_, finished), row in zip(runs[::2], runs[1::2], stored, strict=True):
        assert (started.id, started.status, started.metrics) == (row.id, "running", {})
        assert finished == row
        assert (started.kind, started.model, started.dataset) == (row.kind, "mlp", "wine")
    assert [row.kind for row in stored] == ["train", "evaluate", "bench"]
    assert all(row.status == "ok" and row.metrics for row in stored)


def test_a_trackers_trainer_hooks_get_the_run_and_its_epoch_metrics(
        tracked: tuple[Tracker, list[RunResult]]) -> None:
    tracker, stored = tracked
    trainer_calls = [args for kind, args in tracker.events if kind in ("callbacks", "loggers")]
    config, run_dir = trainer_calls[0]
    assert isinstance(config, TrainConfig)
    assert (config.seed, config.max_epochs) == (0, 2)
    assert run_dir == Path(stored[0].checkpoint).parent
    assert trainer_calls[1] == (config, run_dir)
    assert tracker.epochs[:2] == [0, 1]
    names_by_epoch: dict[float, set[str]] = {}
    for metrics in tracker.logged[0]:
        names_by_epoch.setdefault(metrics["epoch"], set()).update(metrics)
    assert list(names_by_epoch) == [0, 1]
    assert all({"train_loss", "val_loss"} <= names for names in names_by_epoch.values())
    assert (run_dir / "metrics.csv").is_file()  # the built-in CSV logger still writes its own


def test_a_trackers_callbacks_see_each_epochs_own_metrics_as_the_csv_logs_them(
        tracked: tuple[Tracker, list[RunResult]]) -> None:
    import csv

    tracker, stored = tracked
    run_dir = Path(stored[0].checkpoint).parent
    logged: dict[int, dict[str, float]] = {}
    with (run_dir / "metrics.csv").open() as rows:
        for row in csv.DictReader(rows):
            logged.setdefault(int(row.pop("epoch")), {}).update(
                {name: float(value) for name, value in row.items() if value and name != "step"})
    seen = tracker.seen[run_dir]
    assert [(hook, epoch) for hook, epoch, _ in seen] == [
        ("validation", 0), ("train", 0), ("validation", 1), ("train", 1)]
    for hook, epoch, metrics in seen:
        names = ("val_loss", "val_metric") if hook == "validation" else list(logged[epoch])
        assert {name: metrics[name] for name in names} == pytest.approx(
            {name: logged[epoch][name] for name in names}), (hook, epoch)


# -- the hook surface stays honest ----------------------------------------------------------

HOOKS = sorted(name for name in vars(hookspecs) if name.startswith("zoo_"))


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_names_its_builtin_or_why_there_is_none(name: str) -> None:
    host = PluginHost(entry_points=[], env={})
    builtins = [plugin for plugin, info in host.plugins.items() if name in info.hooks]
    doc = " ".join(getattr(hookspecs, name).__doc__.split())
    if builtins:
        assert all(f"Built-in: ``{plugin}``" in doc for plugin in builtins), doc
    else:
        assert "No built-in: " in doc, f"{name} has no built-in and does not say why"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_implemented_by_a_throwaway_plugin_in_the_tests(name: str) -> None:
    sources = [path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_*.py")]
    assert any(f"def {name}(" in source for source in sources)
