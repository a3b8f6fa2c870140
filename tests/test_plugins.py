"""The plugin host: discovery, isolation of broken plugins, controls, lazy loading."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from zoo.errors import UnknownNameError, ZooError
from zoo.plugins import PluginHost

GOOD = """
from zoo import ModelSpec, hookimpl

@hookimpl
def zoo_register_models(register):
    register(ModelSpec(name="{name}", kind="method", tasks=("detect",),
                       modalities=("tabular",), implementation="x.y:Z"))
"""

BROKEN = {
    "syntax": ("def zoo_register_models(register)\n    pass\n", "SyntaxError"),
    "raising": ("from zoo import hookimpl\n\n@hookimpl\ndef zoo_register_models(register):\n"
                "    raise RuntimeError('boom')\n", "RuntimeError: boom"),
    "duplicate": (GOOD.format(name="good-model"),
                  "model 'good-model' is already registered by plugin 'a_good'"),
    "twice": (GOOD.format(name="twice") + "    register(ModelSpec(name='twice', kind='method',"
              " tasks=('detect',), modalities=('tabular',), implementation='x.y:Z'))\n",
              "plugin 'z_twice' registers model 'twice' twice"),
    "not_a_spec": ("from zoo import hookimpl\n\n@hookimpl\ndef zoo_register_suites(register):\n"
                   "    register('tabular-ad')\n",
                   "plugin 'z_not_a_spec' passed a str to register() in zoo_register_suites; "
                   "it takes a SuiteSpec"),
    "bad_spec": ("from zoo import ModelSpec, hookimpl\n\n@hookimpl\n"
                 "def zoo_register_models(register):\n"
                 "    register(ModelSpec(name='Bad Name', kind='method', tasks=('detect',),\n"
                 "             modalities=('tabular',), implementation='x:Y'))\n",
                 "model name 'Bad Name'"),
    "misspelt": ("from zoo import hookimpl\n\n@hookimpl\ndef zoo_register_modles(register):\n"
                 "    pass\n", "unknown hook 'zoo_register_modles'; did you mean "
                 "'zoo_register_models', "),
    "import_error": ("import not_a_module_anywhere\n", "ModuleNotFoundError"),
    "sys_exit": ("import sys\n\nsys.exit(3)\n", "SystemExit: 3"),
}


def write_plugins(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, source in files.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return directory


def fresh_host(tmp_path: Path, files: dict[str, str], **kwargs) -> PluginHost:
    return PluginHost(entry_points=[], default_plugins=(),
                      plugins_dir=write_plugins(tmp_path / "plugins", files), **kwargs)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_plugin_is_reported_and_the_rest_work(tmp_path: Path, kind: str) -> None:
    source, reason = BROKEN[kind]
    host = fresh_host(tmp_path, {"a_good": GOOD.format(name="good-model"), f"z_{kind}": source})
    assert "good-model" in host.models()
    broken = host.plugins[f"z_{kind}"]
    assert broken.status == "broken"
    assert reason in broken.reason
    assert host.plugins["a_good"].status == "ok"
    assert all(spec.plugin == "a_good" for spec in host.models().values())


def test_a_duplicate_is_a_plain_sentence_naming_both_sources(
        tmp_path: Path, installed: list[EntryPoint]) -> None:
    files = {"fake-one": GOOD.format(name="one"), "builtin-suites": GOOD.format(name="three"),
             "z-copy": GOOD.format(name="two")}
    host = PluginHost(entry_points=installed, default_plugins=("zoo._builtin.suites",),
                      plugins_dir=write_plugins(tmp_path / "plugins", files), env={})
    path = {name: tmp_path / "plugins" / f"{name}.py" for name in files}
    reasons = {name: info.reason for name, info in host.plugins.items() if info.reason}
    assert reasons == {
        f"builtin-suites ({path['builtin-suites']})":
            f"a plugin named 'builtin-suites' is already loaded (built into zoo), so this one "
            f"({path['builtin-suites']}) is not",
        f"fake-one ({path['fake-one']})":
            f"a plugin named 'fake-one' is already loaded (entry point of an unnamed "
            f"distribution), so this one ({path['fake-one']}) is not",
        "z-copy":
            f"model 'two' is already registered by plugin 'fake-two' (entry point of an "
            f"unnamed distribution), so plugin 'z-copy' ({path['z-copy']}) cannot register "
            f"it again"}
    host.add("fake-one-again", lambda: sys.modules["fake_one"], source="entry-point")
    assert host.plugins["fake-one-again"].reason.endswith(
        "fake_one.py'> is already loaded as plugin 'fake-one'")


def test_a_broken_plugin_contributes_nothing(tmp_path: Path) -> None:
    half = GOOD.format(name="first") + "\n\n@hookimpl\ndef zoo_register_datasets(register):\n" \
        "    raise ValueError('no data')\n"
    host = fresh_host(tmp_path, {"half": half})
    assert host.plugins["half"].status == "broken"
    assert "first" not in host.models()


def test_an_interrupt_while_a_plugin_loads_still_stops_the_command() -> None:
    def interrupted() -> object:
        raise KeyboardInterrupt

    host = PluginHost(entry_points=[], default_plugins=(), env={})
    with pytest.raises(KeyboardInterrupt):
        host.add("slow", interrupted)


BAD_PATHS = """
from zoo import DatasetSpec, ModelSpec, SuiteSpec, hookimpl

@hookimpl
def zoo_register_models(register):
    register(ModelSpec(name="no-class", kind="method", tasks=("detect",),
                       modalities=("tabular",),
                       implementation="zoo_plugins_dir.bad_paths:DoesNotExist"))
    register(ModelSpec(name="no-builder", kind="backbone", tasks=("classify",),
                       modalities=("tabular",),
                       implementation="zoo_mlp.lightning_module:MLPModel",
                       builder="zoo_plugins_dir.bad_paths:NoBuilder"))

@hookimpl
def zoo_register_datasets(register):
    register(DatasetSpec(name="no-loader", modality="tabular", tasks=("detect",),
                         loader="zoo_plugins_dir.bad_paths:no_loader"))

@hookimpl
def zoo_register_suites(register):
    register(SuiteSpec(name="no-module", implementation="no_such_module.suites:Suite",
                       tasks=("detect",), modalities=("tabular",), metrics=(("auroc", True),)))
"""


def test_an_implementation_that_does_not_import_is_one_line_naming_spec_and_plugin(
        tmp_path: Path, zoo_cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    directory = write_plugins(tmp_path / "plugins", {"bad_paths": BAD_PATHS})
    db = str(tmp_path / "runs.db")
    model = ("model 'no-class' of plugin 'bad_paths': cannot import its implementation "
             "'zoo_plugins_dir.bad_paths:DoesNotExist' (AttributeError: module "
             "'zoo_plugins_dir.bad_paths' has no attribute 'DoesNotExist')")
    train = zoo_cli("--plugins-dir", str(directory), "train", "no-class", "--data", "wine-ad",
                    "--db", db)
    assert (train.returncode, train.stderr.splitlines()) == (2, [f"Error: {model}"])
    bench = zoo_cli("--plugins-dir", str(directory), "bench", "no-module", "--db", db)
    assert (bench.returncode, bench.stderr.splitlines()) == (2, [
        "Error: suite 'no-module' of plugin 'bad_paths': cannot import its implementation "
        "'no_such_module.suites:Suite' (ModuleNotFoundError: No module named "
        "'no_such_module')"])
    cell = zoo_cli("--plugins-dir", str(directory), "bench", "embedded-ad", "--models",
                   "no-class", "--datasets", "wine-ad", "--seeds", "1", "--budget", "smoke",
                   "--db", db, "--json")
    assert [(row["status"], row["error"]) for row in json.loads(cell.stdout)] == [
        ("failed", model)]
    for args, kind, name, path in (
            (["iforest", "--data", "no-loader"], "dataset", "no-loader", "no_loader"),
            (["autoencoder[no-builder]", "--data", "wine-ad"], "backbone", "no-builder",
             "NoBuilder")):
        done = zoo_cli("--plugins-dir", str(directory), "train", *args, "--db", db)
        assert (done.returncode, done.stderr.splitlines()) == (2, [
            f"Error: {kind} {name!r} of plugin 'bad_paths': cannot import its implementation "
            f"'zoo_plugins_dir.bad_paths:{path}' (AttributeError: module "
            f"'zoo_plugins_dir.bad_paths' has no attribute '{path}')"])


MISNAMED_SUITE = """
from zoo import SuiteSpec, hookimpl
from zoo.suites import Suite


class Misnamed(Suite):
    name = "other-name"


@hookimpl
def zoo_register_suites(register):
    register(SuiteSpec(name="misnamed", implementation="zoo_plugins_dir.suites:Misnamed",
                       tasks=("detect",), modalities=("tabular",), metrics=(("auroc", True),)))
"""


def test_a_suite_class_named_apart_from_its_spec_is_one_line_naming_both(
        tmp_path: Path) -> None:
    host = fresh_host(tmp_path, {"suites": MISNAMED_SUITE})
    with pytest.raises(ZooError) as refused:
        host.suite("misnamed").load()
    assert str(refused.value) == (
        "suite 'misnamed' of plugin 'suites' builds a suite named 'other-name' "
        "(zoo_plugins_dir.suites:Misnamed); its class must set name = 'misnamed'")


def test_unknown_model_lists_close_matches(tmp_path: Path) -> None:
    host = fresh_host(tmp_path, {"a": GOOD.format(name="deep-svdd")})
    with pytest.raises(UnknownNameError, match="did you mean 'deep-svdd'"):
        host.model("deep-svd")


def _entry_point(name: str, module: str) -> EntryPoint:
    return EntryPoint(name=name, value=module, group="zoo.plugins")


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """Two fake installed distributions, importable from a temporary directory."""
    write_plugins(tmp_path / "site", {"fake_one": GOOD.format(name="one"),
                                      "fake_two": GOOD.format(name="two")})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return [_entry_point("fake-one", "fake_one"), _entry_point("fake-two", "fake_two")]


@pytest.mark.parametrize(("env", "expected"), [
    ({}, {"one", "two"}),
    ({"ZOO_PLUGINS": "fake-two"}, {"two"}),
    ({"ZOO_DISABLE_PLUGINS": "fake-one"}, {"two"}),
])
def test_allow_and_block_lists(installed: list[EntryPoint], env: dict[str, str],
                               expected: set[str]) -> None:
    host = PluginHost(entry_points=installed, default_plugins=(), env=env)
    assert set(host.models()) == expected


def test_builtins_load_through_the_same_path(installed: list[EntryPoint]) -> None:
    host = PluginHost(entry_points=installed, env={})
    assert {"builtin-datasets", "builtin-suites", "fake-one"} <= set(host.plugins)
    assert "supervised" in host.suites()
    assert host.plugins["builtin-suites"].suites == ["embedded-ad", "image-ad", "image-gen",
                                                   "supervised", "tabular-ad", "text-gen",
                                                   "ts-ad"]


def test_registration_hooks_run_once(tmp_path: Path) -> None:
    counting = GOOD.format(name="counted") + "\nCALLS = []\n_original = zoo_register_models\n"
    host = fresh_host(tmp_path, {"counting": counting})
    calls = []
    original = host.pm.hook.zoo_register_models.get_hookimpls()[0]
    wrapped = original.function

    def counted(register):
        calls.append(1)
        return wrapped(register)

    original.function = counted
    host.models()
    host.datasets()
    host.models()
    assert calls == [1]


def test_listing_models_imports_no_torch() -> None:
    code = ("import sys, zoo; names = zoo.list_models(); "
            "assert 'mlp' in names, names; "
            "heavy = [m for m in ('torch', 'lightning', 'sklearn') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("backbone", "expected"), [
    (None, {"backbone": "cnn", "hidden": 4, "lr": 0.5}),   # the image default backbone
    ("mlp", {"backbone": "mlp", "hidden": 64, "lr": 0.5}),  # image defaults, not cnn's
])
def test_defaults_by_modality_then_backbone(backbone: str | None,
                                            expected: dict[str, object]) -> None:
    from zoo.data.types import DataInfo
    from zoo.models import resolve_hparams
    from zoo.plugins.specs import BACKBONE, LR, HParam, ModelSpec, SpecError

    spec = ModelSpec(name="m", kind="method", tasks=("detect",),
                     modalities=("tabular", "image"), implementation="x:Y",
                     default_backbones={"image": "cnn"},
                     defaults={"*": {"lr": 0.5}, "image": {"hidden": 64},
                               "image[cnn]": {"hidden": 4}},
                     hparams=(BACKBONE, HParam("hidden", int, 8, low=1), LR))
    info = DataInfo("image", (1, 8, 8), "detect")
    overrides = {"backbone": backbone} if backbone else {}
    assert resolve_hparams(spec, info, overrides) == expected
    with pytest.raises(SpecError, match="undeclared modalities"):
        ModelSpec(name="m", kind="method", tasks=("detect",), modalities=("image",),
                  implementation="x:Y", defaults={"text[rnn]": {"hidden": 4}})


@pytest.mark.parametrize(("backbone", "error"), [
    ("cnnn", "unknown backbone 'cnnn'; did you mean 'cnn'"),
    ("knn", "'knn' is not a backbone; backbones: cnn, mlp, rnn, transformer"),
    ("rnn", "backbone 'rnn' does not support image data; it supports: text, timeseries")])
def test_a_methods_backbone_is_checked_before_the_method_is_built(backbone: str,
                                                                   error: str) -> None:
    from zoo.data.types import DataInfo
    from zoo.errors import ZooError
    from zoo.models import create_model

    with pytest.raises(ZooError, match=f"^{re.escape(error)}"):
        create_model(f"vae[{backbone}]", DataInfo("image", (1, 8, 8), "generate"))
