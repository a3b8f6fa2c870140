"""Meta-tests that keep the documentation honest.

- every hook in ``zoo.plugins.hookspecs`` is documented in ``docs/hooks.md`` with its exact
  signature, and nothing else is documented as a hook;
- the example plugin in ``docs/writing-a-plugin.md`` is ``docs/examples/mean_distance_plugin.py``
  verbatim, and it really works when loaded from a plugins directory;
- every command and option of the ``zoo`` CLI, and every key of its JSON output, is in
  ``docs/cli.md``;
- examples show what the code really does: a Python line's commented result, the JSON
  examples of ``docs/cli.md``, every suite version shown, the table of ``docs/suites.md``,
  every ``zoo ...`` command line of an example parses; and the plugin tutorial's commands
  work when followed verbatim in a fresh folder.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner

import zoo
import zoo.plugins
from zoo.cli import cli
from zoo.data import Arrays, Splits
from zoo.plugins import PluginHost, hookspecs
from zoo.plugins.specs import DatasetSpec, ModelSpec, SuiteSpec
from zoo.runs.results import RunResult
from zoo.training import TrainConfig

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLE = DOCS / "examples" / "mean_distance_plugin.py"
PLUGIN_NAME = EXAMPLE.stem  # a plugins-dir plugin is named after its file
MODEL = "mean-distance"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def hookspec_functions() -> dict[str, Callable[..., Any]]:
    return {name: fn for name, fn in vars(hookspecs).items()
            if name.startswith("zoo_") and callable(fn) and hasattr(fn, "zoo_spec")}


def signature_line(fn: Callable[..., Any]) -> str:
    """``def name(arg: Type, ...) -> Return`` as written in the source.

    ``zoo.plugins.hookspecs`` uses ``from __future__ import annotations``, so the annotations
    are the source strings.
    """
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {fn.__name__}({params}) -> {sig.return_annotation}"


def hook_sections(text: str) -> dict[str, str]:
    """``### `zoo_x` `` headings of hooks.md -> the text up to the next heading."""
    parts = re.split(r"^#{2,3} ", text, flags=re.M)
    sections = {}
    for part in parts:
        match = re.match(r"`(zoo_\w+)`\n", part)
        if match:
            sections[match.group(1)] = part
    return sections


# -- (a) hooks.md ---------------------------------------------------------------------------

def test_hookspecs_exist() -> None:
    assert len(hookspec_functions()) >= 7


@pytest.mark.parametrize("name", sorted(hookspec_functions()))
def test_every_hook_is_documented_with_its_exact_signature(name: str) -> None:
    fn = hookspec_functions()[name]
    section = hook_sections(read("hooks.md")).get(name)
    assert section is not None, f"docs/hooks.md has no section ### `{name}`"
    expected = signature_line(fn)
    assert f"```python\n{expected}\n```" in section, (
        f"docs/hooks.md: the section of {name} must show its signature exactly:\n{expected}")
    firstresult = "yes" if fn.zoo_spec.get("firstresult") else "no"
    assert f"**firstresult**: {firstresult}" in section


def test_every_documented_hook_exists() -> None:
    documented = set(hook_sections(read("hooks.md")))
    mentioned = set(re.findall(r"\bdef (zoo_\w+)\(", read("hooks.md")))
    assert documented | mentioned <= set(hookspec_functions())


# -- (b) the example is verbatim in writing-a-plugin.md -------------------------------------

def test_example_plugin_is_included_verbatim() -> None:
    match = re.search(r"<!-- example:mean_distance_plugin\.py -->\n```python\n(.*?)```\n"
                      r"<!-- /example -->", read("writing-a-plugin.md"), re.S)
    assert match, "docs/writing-a-plugin.md lacks the example:mean_distance_plugin.py block"
    assert match.group(1) == EXAMPLE.read_text(encoding="utf-8")


# -- (c) the example plugin works -----------------------------------------------------------

@pytest.fixture
def plugins_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "plugins"
    directory.mkdir()
    shutil.copy(EXAMPLE, directory / EXAMPLE.name)
    return directory


@pytest.fixture
def example_host(plugins_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginHost]:
    """A fresh host with the built-ins and the example only, installed as the process's."""
    host = PluginHost(entry_points=[], plugins_dir=plugins_dir, env={})
    monkeypatch.setattr(zoo.plugins, "_host", host)
    yield host
    sys.modules.pop(f"zoo_plugins_dir.{PLUGIN_NAME}", None)


def blob_splits(seed: int = 0) -> tuple[Splits, np.ndarray]:
    """Training samples from one Gaussian blob; a test set with 5 planted far points."""
    rng = np.random.default_rng(seed)
    info = zoo.DataInfo("tabular", (4,), "detect")
    train = rng.normal(size=(200, 4)).astype(np.float32)
    test = rng.normal(size=(50, 4)).astype(np.float32)
    far = np.arange(45, 50)
    test[far] += 8.0
    labels = np.zeros(50, dtype=np.int64)
    labels[far] = 1
    return Splits(Arrays(train), None, Arrays(test, labels), info), far


def test_example_plugin_loads_and_registers(example_host: PluginHost) -> None:
    info = example_host.plugins[PLUGIN_NAME]
    assert info.status == "ok", info.reason
    assert info.hooks == ["zoo_register_models"]
    spec = example_host.model(MODEL)
    assert spec.plugin == PLUGIN_NAME
    assert (spec.kind, spec.tasks, spec.modalities) == ("method", ("detect",), ("tabular",))
    assert all(i.status == "ok" for i in example_host.plugins.values())


def test_example_plugin_scores_far_points_highest(example_host: PluginHost) -> None:
    splits, far = blob_splits()
    model = zoo.create_model(MODEL, splits.info)
    metrics = model.fit(splits, TrainConfig(seed=0))
    assert all(np.isfinite(v) for v in metrics.values())
    scores = model.score(splits.test.x)
    assert tuple(scores.shape) == (len(splits.test),)
    assert set(np.argsort(scores.numpy())[-len(far):]) == set(far)


def test_example_plugin_hyperparameters_and_round_trip(example_host: PluginHost,
                                                       tmp_path: Path) -> None:
    splits, _ = blob_splits()
    model = zoo.create_model(MODEL, splits.info, trim="0.1")  # strings as from --set
    assert model.hyperparameters() == {"trim": 0.1}
    model.fit(splits, TrainConfig(seed=0))
    directory = zoo.save_model(model, tmp_path / "checkpoint")
    assert sorted(p.name for p in directory.iterdir()) == ["card.json", "mean.npy"]
    restored = zoo.load_model(directory)
    assert restored.hyperparameters() == {"trim": 0.1}
    np.testing.assert_array_equal(restored.score(splits.test.x).numpy(),
                                  model.score(splits.test.x).numpy())
    with pytest.raises(zoo.ZooError, match="unknown hyperparameter"):
        zoo.create_model(MODEL, splits.info, tirm=0.1)


def test_example_plugin_passes_the_conformance_kit(example_host: PluginHost,
                                                   tmp_path: Path) -> None:
    from zoo.testing import check_model, model_cases

    cases = model_cases(MODEL)
    assert [(c.modality, c.task) for c in cases] == [("tabular", "detect")]
    check_model(MODEL, "tabular", "detect", tmp_path)


def test_plugins_dir_option_lists_the_example(plugins_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoo.plugins, "_host", None)
    monkeypatch.setattr(zoo.plugins, "_plugins_dir", None)
    for variable in ("ZOO_PLUGINS", "ZOO_DISABLE_PLUGINS", "ZOO_PLUGINS_DIR"):
        monkeypatch.delenv(variable, raising=False)
    try:
        result = CliRunner().invoke(cli, ["--plugins-dir", str(plugins_dir), "models",
                                          "--task", "detect", "--json"])
    finally:
        sys.modules.pop(f"zoo_plugins_dir.{PLUGIN_NAME}", None)
    assert result.exit_code == 0, result.output
    assert MODEL in result.output


# -- (d) cli.md -----------------------------------------------------------------------------

def cli_sections(text: str) -> dict[str, str]:
    """``## `zoo NAME` `` headings of cli.md -> the text up to the next ``## ``."""
    return {match.group(1): match.group(2) for match in
            re.finditer(r"^## `zoo (\S+)`\n(.*?)(?=^## |\Z)", text, re.M | re.S)}


def help_commands() -> list[str]:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listing = result.output.split("Commands:", 1)[1]
    return re.findall(r"^  (\S+)", listing, re.M)


def test_help_lists_the_core_commands() -> None:
    assert set(help_commands()) == set(cli.commands)


def with_subcommands(command: click.Command) -> list[click.Command]:
    """A command and, for a group (``zoo runs``), its subcommands (``zoo runs show``),
    documented in the group's section."""
    if isinstance(command, click.Group):
        return [command, *command.commands.values()]
    return [command]


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_and_option_is_documented(command: str) -> None:
    section = cli_sections(read("cli.md")).get(command)
    assert section is not None, f"docs/cli.md has no section ## `zoo {command}`"
    for sub in with_subcommands(cli.commands[command])[1:]:
        assert f"### `zoo {command} {sub.name}`" in section, \
            f"docs/cli.md has no ### `zoo {command} {sub.name}` in ## `zoo {command}`"
    params = [param for sub in with_subcommands(cli.commands[command]) for param in sub.params]
    for param in params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}" in section, f"docs/cli.md: zoo {command} {opt}"
        elif isinstance(param, click.Argument):
            assert param.human_readable_name in section, \
                f"docs/cli.md: zoo {command} {param.human_readable_name}"


def test_global_options_are_documented() -> None:
    text = read("cli.md")
    for param in cli.params:
        for opt in param.opts:
            assert f"`{opt}" in text, f"docs/cli.md lacks the global option {opt}"


def json_keys() -> dict[str, set[str]]:
    """The keys each documented JSON output has, from the objects that produce them."""
    from zoo.plugins import PluginInfo
    from zoo.reporting.render import CSV_COLUMNS

    row = RunResult(kind="bench", model="m", plugin="p", dataset="d")
    model = ModelSpec(name="m", kind="method", tasks=("detect",), modalities=("tabular",),
                      implementation="a.b:C")
    dataset = DatasetSpec(name="d", modality="tabular", tasks=("detect",), loader="a.b:c")
    suite = SuiteSpec(name="s", implementation="a.b:C", tasks=("detect",),
                      modalities=("tabular",), metrics=(("auroc", True),))
    return {"bench": set(row.to_row()), "plugins": set(PluginInfo("p", "builtin").to_dict()),
            "models": set(model.to_dict()), "datasets": {*dataset.to_dict(), "present"},
            "suites": set(suite.to_dict()), "leaderboard": set(CSV_COLUMNS),
            "runs": runs_json_keys()}


# Objects whose keys are names (of metrics, hyperparameters, packages, curves), not keys.
NAMED_BY_DATA = {"metrics", "hparams", "versions", "extra", "curves", "trackers"}


def nested_keys(data: Any) -> set[str]:
    """Every key of a JSON object and of the objects in it, but the data-named ones'."""
    if isinstance(data, list):
        return set().union(*map(nested_keys, data))
    if not isinstance(data, dict):
        return set()
    return set(data).union(*(nested_keys(value) for key, value in data.items()
                             if key not in NAMED_BY_DATA))


def runs_json_keys() -> set[str]:
    """The keys of ``zoo runs --json`` and ``zoo runs show --json``, from a real store with
    one run that logged a curve."""
    import tempfile

    from zoo.reporting.runs import CURVES_FILE, listing_entry, run_detail
    from zoo.runs.lifecycle import runs_dir
    from zoo.runs.store import Store

    row = RunResult(kind="train", model="m", plugin="p", dataset="d")
    with tempfile.TemporaryDirectory() as home, Store(Path(home, "runs.db")) as store:
        store.start(row)  # started, not recorded: the row has an owner
        row = store.finish(row.id, status="ok", metrics={"loss": 1.0}, seconds=1.0)
        folder = runs_dir(store) / row.id
        folder.mkdir(parents=True)
        (folder / CURVES_FILE).write_text("epoch,step,val_loss\n0,0,1.5\n")
        detail = run_detail(store, row.id)
        curve, = detail["curves"].values()
        return {*nested_keys(listing_entry(row)), *nested_keys(detail), *curve}


@pytest.mark.parametrize("command", sorted(json_keys()))
def test_json_keys_are_documented(command: str) -> None:
    section = cli_sections(read("cli.md"))[command]
    missing = sorted(key for key in json_keys()[command]
                     if not re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", section))
    assert not missing, f"docs/cli.md, zoo {command}: undocumented keys {missing}"


# -- links between the pages ----------------------------------------------------------------

def test_index_links_every_page() -> None:
    index = read("index.md")
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/index.md does not link {page.name}"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_relative_links_resolve(page: str) -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", read(page)):
        assert (DOCS / target).exists(), f"docs/{page} links to missing {target}"


# -- (e) examples show what the code really does --------------------------------------------

README = DOCS.parent / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)


def commented_results() -> list[tuple[str, str, str]]:
    """``(page, expression, literal)`` for every Python example line ``zoo.f(...)  # value``
    whose comment is a Python literal: the value the expression is documented to give."""
    found = []
    for page in PAGES:
        for block in code_blocks(page.read_text(encoding="utf-8"), "python"):
            for match in re.finditer(r"^(zoo\.\w+\(.*\))\s+# (.+)$", block, re.M):
                try:
                    ast.literal_eval(match.group(2))
                except (ValueError, SyntaxError):
                    continue
                found.append((page.name, match.group(1), match.group(2)))
    return found


def test_examples_with_a_commented_result_exist() -> None:
    assert any("list_models" in expression for _, expression, _ in commented_results())


@pytest.mark.parametrize(("page", "expression", "literal"), commented_results())
def test_a_commented_result_is_what_the_expression_gives(page: str, expression: str,
                                                         literal: str) -> None:
    assert eval(expression, {"zoo": zoo}) == ast.literal_eval(literal), (
        f"{page}: {expression} no longer gives {literal}")


ELIDED = "..."  # an example's `...` line: the rest of a list, left out


def shows(documented: Any, real: Any) -> bool:
    """Whether a documented JSON value is the real one: the keys an object shows, a list
    whole or up to its ``...``, anything else equal."""
    if isinstance(documented, dict):
        return isinstance(real, dict) and all(
            key in real and shows(value, real[key]) for key, value in documented.items())
    if isinstance(documented, list):
        elided = bool(documented) and documented[-1] == ELIDED
        items = documented[:-1] if elided else documented
        return (isinstance(real, list) and len(items) <= len(real)
                and (elided or len(items) == len(real))
                and all(shows(d, r) for d, r in zip(items, real, strict=False)))
    return documented == real


@pytest.mark.parametrize("command", ["plugins", "models", "datasets", "suites"])
def test_json_examples_in_cli_md_show_the_real_entries(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--json"])
    assert result.exit_code == 0, result.output
    real = {entry["name"]: entry for entry in json.loads(result.output)}
    blocks = code_blocks(cli_sections(read("cli.md"))[command], "json")
    assert blocks, f"docs/cli.md, zoo {command}: no JSON example"
    for block in blocks:
        for shown in json.loads(re.sub(r"^(\s*)\.\.\.(,?)$", rf'\1"{ELIDED}"\2', block,
                                       flags=re.M)):
            assert shown["name"] in real, f"docs/cli.md, zoo {command}: no {shown['name']!r}"
            assert shows(shown, real[shown["name"]]), (
                f"docs/cli.md, zoo {command} --json has drifted from the real output:\n"
                f"{json.dumps(real[shown['name']], indent=2)}")


def documented_suite_versions() -> list[tuple[str, str, str]]:
    """``(page, suite, version)`` wherever an example shows a suite's version: leaderboard
    headers ``embedded-ad (version 2)`` and JSON rows (docs/suites.md's table: below)."""
    patterns = [r"^([a-z][\w-]*) \(version (\w+)\)$",
                r'"suite": "([^"]+)",\s*"suite_version": "([^"]+)"']
    return [(page.name, *match.groups()) for page in PAGES for pattern in patterns
            for match in re.finditer(pattern, page.read_text(encoding="utf-8"), re.M)]


def test_suite_versions_are_documented_somewhere() -> None:
    assert "cli.md" in {page for page, _, _ in documented_suite_versions()}


@pytest.mark.parametrize(("page", "suite", "version"), documented_suite_versions())
def test_documented_suite_versions_are_the_registered_ones(page: str, suite: str,
                                                           version: str) -> None:
    suites = zoo.plugins.get_host().suites()
    assert suite in suites, f"{page} shows a version of unknown suite {suite!r}"
    assert suites[suite].version == version, (
        f"{page}: {suite} is at version {suites[suite].version}, not {version}")


def suites_table() -> dict[str, dict[str, str]]:
    """The table of docs/suites.md: suite -> column -> text."""
    lines = [line for line in read("suites.md").splitlines() if line.startswith("| `")]
    header = [cell.strip() for cell in read("suites.md").split("| suite |", 1)[1]
              .splitlines()[0].split("|")[:-1]]
    table = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == len(header) + 1:
            table[cells[0].strip("`")] = dict(zip(["suite", *header], cells, strict=True))
    return table


@pytest.mark.parametrize("suite", sorted(zoo.plugins.get_host().suites()))
def test_the_table_of_suites_md_is_the_registry(suite: str) -> None:
    spec = zoo.plugins.get_host().suite(suite)
    row = suites_table().get(suite)
    assert row is not None, f"docs/suites.md: the table has no row for {suite}"
    assert row["version"] == spec.version
    assert row["tasks"] == ", ".join(spec.tasks)
    assert row["modalities"] == ", ".join(spec.modalities)
    assert row["default seeds"] == str(spec.load().default_seeds)
    assert row["metrics (primary first)"] == ", ".join(name for name, _ in spec.metrics)


def tutorial_section(title: str) -> str:
    return read("writing-a-plugin.md").split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_plugin_tutorial_works_when_followed_verbatim(tmp_path: Path) -> None:
    """Every command of writing-a-plugin.md for a plugins-dir file, run in a fresh folder
    (the tutorial's `pip install` lines aside: the test environment has what they install)."""
    sections = tutorial_section("As a `--plugins-dir` file") + tutorial_section(
        "Testing with the conformance kit")
    lines = [line[2:] for block in code_blocks(sections, "console")
             for line in block.splitlines() if line.startswith("$ ")]
    uses_pytest = next(i for i, line in enumerate(lines) if re.match(r"(\w+=\S+ )*pytest ", line))
    assert any(line.startswith("pip install") and "pytest" in line
               for line in lines[:uses_pytest]), "the tutorial runs pytest before installing it"
    commands = [line for line in lines if not line.startswith("pip ")]
    assert len(commands) >= 6
    shutil.copytree(EXAMPLE.parent, tmp_path / "docs" / "examples")
    test_file = next(block for block in code_blocks(sections, "python")
                     if block.startswith("# tests/test_conformance.py"))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_conformance.py").write_text(test_file)
    snippet = next(block for block in code_blocks(sections, "python") if "configure(" in block)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ZOO_PLUGINS", "ZOO_DISABLE", "ZOO_DB", "PYTEST_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
               ZOO_HOME=str(tmp_path / "home"))
    for command in [*commands, f"python -c {shlex.quote(snippet)}"]:
        done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{command}\n{done.stderr}"


def documented_commands() -> list[tuple[str, str]]:
    """``(page, command line)`` for every ``zoo ...`` line of a shell example."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in code_blocks(text, "console") + code_blocks(text, "bash"):
            for line in block.splitlines():
                command = line.removeprefix("$ ")
                if command.startswith("zoo "):
                    found.append((page.name, command))
    return found


def create_named_paths(command: click.Command, args: list[str], where: Path) -> None:
    """Create, under ``where``, the files and folders that ``args`` name for options that
    must exist (``--config``, ``--plugins-dir``): an example's own placeholders."""
    options = {opt: param for param in command.params for opt in param.opts}
    for option, value in itertools.pairwise(args):
        kind = getattr(options.get(option), "type", None)
        if isinstance(kind, click.Path) and kind.exists:
            path = where / value
            if kind.file_okay:
                path.touch()
            else:
                path.mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize(("page", "line"), documented_commands())
def test_every_documented_command_line_parses(page: str, line: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Options and their values as click checks them; names are not looked up here."""
    args = shlex.split(line, comments=True)[1:]
    monkeypatch.chdir(tmp_path)
    at = next((i for i, arg in enumerate(args) if arg in cli.commands), len(args))
    create_named_paths(cli, args[:at], tmp_path)
    try:
        with cli.make_context("zoo", args[:at + 1]):
            pass
    except click.exceptions.Exit as done:  # --help, --version
        assert done.exit_code == 0
        return
    assert at < len(args), f"{page}: {line}: no command"
    command = cli.commands[args[at]]
    create_named_paths(command, args[at + 1:], tmp_path)
    with command.make_context(args[at], args[at + 1:]):
        pass
