"""Declared hyperparameters: checked before a run starts, shown by ``zoo models NAME``, and
consistent with every registered model's ``__init__``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import zoo


def zoo_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def stored_rows(db: Path) -> int:
    from zoo.runs.store import Store

    if not db.exists():
        return 0
    with Store(db) as store:
        return len(store.runs())


# -- through the real command line ---------------------------------------------------------

@pytest.mark.parametrize(("model", "setting", "error"), [
    ("mlp", "hidden=-5", "model 'mlp': hidden=-5 must be one or more comma-separated integers, "
                         "each >= 1"),
    ("mlp", "hidden=0", "model 'mlp': hidden=0 must be one or more comma-separated integers, "
                        "each >= 1"),
    ("mlp", "dropout=1.5", "model 'mlp': dropout=1.5 must be a number in [0, 1)"),
    ("mlp", "lr=-1", "model 'mlp': lr=-1.0 must be a number > 0"),
    ("mlp", "batch_size=0", "model 'mlp': batch_size=0 must be an integer >= 1"),
    ("mlp", "mixup=-1", "model 'mlp': mixup=-1.0 must be a number >= 0"),
    ("mlp", "lr=fast", "model 'mlp': lr='fast' must be a number > 0"),
    ("mlp", "batch_size=1.5", "model 'mlp': batch_size='1.5' must be an integer >= 1"),
    ("mlp", "optimizer=adamm", "model 'mlp': optimizer=adamm must be one of sgd, momentum, "
                               "nesterov, adagrad, adadelta, rmsprop, adam, adamw"),
    ("mlp", "lrr=0.1", "unknown hyperparameter 'lrr' for model 'mlp'; did you mean 'lr'? valid: "
                       "activation, batch_norm, batch_size, dropout, hidden, lr, mixup, "
                       "optimizer, weight_decay"),
    ("logistic-regression", "backbone=cnn", "model 'logistic-regression' takes no backbone (it "
                                           "is not a method on one: use 'logistic-regression', "
                                           "without [BACKBONE] or --backbone)"),
    # a backbone option forwarded by a method is the method's own declared hyperparameter
    ("autoencoder", "batch_norm_eps=0", "model 'autoencoder': batch_norm_eps=0.0 must be none "
                                        "or a number > 0"),
    ("vae[cnn]", "hidden=16,0", "model 'vae': hidden=16,0 must be none or one or more "
                                "comma-separated integers, each >= 1"),
    ("gan", "betas=0.5", "model 'gan': betas=0.5 must be none or 2 comma-separated numbers, "
                         "each in [0, 1)"),
])
def test_bad_hyperparameters_end_in_one_line_before_anything_is_stored(
        tmp_path: Path, model: str, setting: str, error: str) -> None:
    db = tmp_path / "runs.db"
    done = zoo_cli("train", model, "--data", "wine", "--set", setting, "--db", str(db))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"Error: {error}"]
    assert stored_rows(db) == 0


def batch_norm_models() -> list[str]:
    """The models declaring ``batch_norm`` and a ``batch_size`` that may be 1."""
    specs = [zoo.get_model_spec(name) for name in zoo.list_models()]
    return [spec.name for spec in specs if {"batch_norm", "batch_size"} <= {
        h.name for h in spec.hparams} and (spec.hparam("batch_size").low or 0) < 2]


def test_batch_norm_on_batches_of_one_ends_in_one_line_before_anything_is_stored(
        tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    done = zoo_cli("train", "mlp", "--data", "wine", "--set", "batch_norm=true", "--set",
                   "batch_size=1", "--max-epochs", "1", "--db", str(db))
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["Error: model 'mlp': batch_norm=true needs batch_size "
                                        ">= 2: batch norm cannot normalise one sample"]
    assert stored_rows(db) == 0


def test_batch_norm_on_batches_of_one_is_refused_for_every_model_that_has_both() -> None:
    from zoo.models import modality_hparams

    assert {"mlp", "cnn", "autoencoder"} <= set(batch_norm_models())
    for name in batch_norm_models():
        spec = zoo.get_model_spec(name)
        modality = spec.modalities[0]
        with pytest.raises(zoo.ZooError, match=rf"^model '{name}': batch_norm=true needs "
                                               r"batch_size >= 2"):
            modality_hparams(spec, modality, {"batch_norm": True, "batch_size": 1})
        modality_hparams(spec, modality, {"batch_norm": False, "batch_size": 1})


def test_a_configs_hyperparameters_are_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("model: mlp\ndata: wine\nset:\n  hidden: [64, -1]\n")
    db = tmp_path / "runs.db"
    done = zoo_cli("train", "--config", str(config), "--db", str(db))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "Error: model 'mlp': hidden=64,-1 must be one or more comma-separated integers, "
        "each >= 1"]
    assert stored_rows(db) == 0


def test_a_config_whose_set_is_no_mapping_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("model: mlp\ndata: wine\nset: [lr, 0.1]\n")
    done = zoo_cli("train", "--config", str(config), "--db", str(tmp_path / "runs.db"))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"Error: config {config}: set must be a mapping of hyperparameters (key: value)"]


def test_checking_hyperparameters_imports_no_torch() -> None:
    code = ("import sys; from zoo import get_model_spec; from zoo.models import check_hparams; "
            "checked = check_hparams(get_model_spec('vae'), "
            "{'backbone': 'cnn', 'hidden': '32,64', 'dropout': 'none', 'beta': '2'}); "
            "assert checked == {'backbone': 'cnn', 'hidden': (32, 64), 'dropout': None, "
            "'beta': 2.0}, checked; "
            "heavy = [m for m in ('torch', 'lightning') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_zoo_models_name_shows_the_hyperparameters() -> None:
    done = zoo_cli("models", "mlp")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("mlp: Multilayer perceptron")
    header = next(line for line in lines if line.startswith("hyperparameter"))
    assert header.split() == ["hyperparameter", "type", "default", "valid", "search", "help"]
    rows = {line.split()[0]: line.split() for line in lines[lines.index(header) + 2:]
            if line and not line.startswith(("defaults", "("))}
    assert list(rows) == [h.name for h in zoo.get_model_spec("mlp").hparams]
    assert rows["hidden"][1:5] == ["int,...", "256,256", ">=", "1"]
    assert rows["dropout"][1:6] == ["float", "0.1", "in", "[0,", "1)"]
    assert "defaults for image: hidden=512,256" in lines
    listing = zoo_cli("models", "ml*").stdout.splitlines()  # a pattern lists, even of one
    assert listing[0].split()[:2] == ["model", "kind"]


def test_zoo_models_json_has_the_declaration() -> None:
    [entry] = json.loads(zoo_cli("models", "gan", "--json").stdout)
    by_name = {h["name"]: h for h in entry["hparams"]}
    assert list(by_name) == [h.name for h in zoo.get_model_spec("gan").hparams]
    assert by_name["betas"] == {
        "name": "betas", "type": "float,float | none", "default": None,
        "help": by_name["betas"]["help"], "low": 0, "high": 1, "low_inclusive": True,
        "high_inclusive": False, "choices": [], "search": None, "log": False,
        "valid": "none or 2 comma-separated numbers, each in [0, 1)"}
    assert by_name["lr"]["search"] == [1e-5, 1e-1] and by_name["lr"]["log"]
    assert entry["defaults"] == {}


# -- every registered model: its declaration matches its class ------------------------------

@pytest.mark.parametrize("name", zoo.list_models())
def test_declaration_matches_the_implementation(name: str) -> None:
    from zoo.testing import check_declaration

    check_declaration(name)


DRIFTED = '''
from typing import Literal

from zoo import DataInfo, HParam, ModelSpec, ZooModel, hookimpl


class Model(ZooModel):
    def __init__(self, data_info: DataInfo, width: int = 8,
                 mode: Literal["a", "b"] = "a") -> None:
        self.data_info = data_info


WIDTH = HParam("width", int, 8, low=1)
MODE = HParam("mode", str, "a", choices=("a", "b"))


@hookimpl
def zoo_register_models(register):
    for name, hparams in {
        "exact": (WIDTH, MODE),
        "missing": (WIDTH,),
        "extra": (WIDTH, MODE, HParam("depth", int, 2)),
        "other-default": (HParam("width", int, 16, low=1), MODE),
        "other-type": (HParam("width", float, 8.0), MODE),
        "other-choices": (WIDTH, HParam("mode", str, "a", choices=("a", "c"))),
    }.items():
        register(ModelSpec(name=name, kind="method", tasks=("detect",),
                           modalities=("tabular",), hparams=hparams,
                           implementation="zoo_plugins_dir.drifted:Model"))
'''


@pytest.mark.parametrize(("name", "error"), [
    ("missing", r"__init__ arguments missing from the spec's hparams: \['mode'\]"),
    ("extra", r"hparams declared that __init__ does not take: \['depth'\]"),
    ("other-default", "width is declared with default 16, __init__ has 8"),
    ("other-type", "width is declared as float"),
    ("other-choices", r"mode is declared as str \['a', 'c'\]"),
])
def test_the_kit_finds_a_declaration_that_drifted_from_init(
        throwaway_plugin: Callable[[str, str], ModuleType], name: str, error: str) -> None:
    from zoo.testing import check_declaration

    throwaway_plugin("drifted", DRIFTED)
    check_declaration("exact")
    with pytest.raises(AssertionError, match=error):
        check_declaration(name)


# -- the declaration itself -----------------------------------------------------------------

@pytest.mark.parametrize(("value", "parsed"), [
    ("128, 64", (128, 64)), ([32], (32,)), (16, (16,)), ("none", None), (None, None)])
def test_values_are_converted_to_the_declared_type(value: object, parsed: object) -> None:
    from zoo.plugins.specs import HIDDEN, HParam

    hidden = HParam("hidden", tuple[int, ...] | None, None, low=1)
    assert hidden.parse(value) == parsed
    gamma = HParam("gamma", float | str, "auto", low=0, low_inclusive=False,
                   choices=("scale", "auto"))
    assert (gamma.parse("0.5"), gamma.parse("scale")) == (0.5, "scale")
    assert HParam("flag", bool, False).parse("yes") is True
    with pytest.raises(zoo.ZooError, match="must be one or more comma-separated integers"):
        HIDDEN.parse("none")  # not nullable: 'none' is no width


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"name": "lr", "type": float, "default": -1.0, "low": 0}, "lr=-1.0 must be a number >= 0"),
    ({"name": "p", "type": float, "default": 0.1, "high": 1, "search": (0.0, 2.0)},
     r"search=\(0.0, 2.0\) must be \(low, high\)"),
    ({"name": "lr", "type": float, "default": 0.1, "low": 0, "search": (0.0, 1.0),
      "log": True}, "low > 0 \\(log\\)"),
    ({"name": "n", "type": int, "default": 1, "choices": ("a",)}, "choices need type str"),
    ({"name": "x", "type": list, "default": []}, "is not one of int, float"),
    ({"name": "s", "type": str, "default": "a", "choices": ("a", "b"), "search": ("c",)},
     "must be some of a, b"),
])
def test_a_bad_declaration_is_a_spec_error(kwargs: dict[str, object], error: str) -> None:
    from zoo.plugins.specs import HParam, SpecError

    with pytest.raises(SpecError, match=error):
        HParam(**kwargs)


def test_spec_defaults_must_be_declared_and_valid() -> None:
    from zoo.plugins.specs import DROPOUT, HIDDEN, ModelSpec, SpecError

    def spec(defaults: dict[str, dict[str, object]]) -> ModelSpec:
        return ModelSpec(name="m", kind="backbone", tasks=("classify",),
                         modalities=("tabular",), implementation="a.b:C",
                         hparams=(HIDDEN, DROPOUT), defaults=defaults)

    assert spec({"tabular": {"hidden": (4,)}}).defaults_for("tabular") == {"hidden": (4,)}
    with pytest.raises(SpecError, match=r"unknown hyperparameter 'hiden'.*did you mean 'hidden'"):
        spec({"tabular": {"hiden": (4,)}})
    with pytest.raises(SpecError, match=r"defaults\['tabular'\]: dropout=1.0 must be"):
        spec({"tabular": {"dropout": 1.0}})
