"""Ensembles (zoo.models.ensemble): combining, saving and loading, compatibility, suite cells."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data.types import Arrays, DataInfo
from zoo.errors import ZooError
from zoo.evaluation import detection_metrics
from zoo.models import create_model, display_name, split_ensemble_name
from zoo.models.checkpoints import load_model, save_model
from zoo.models.ensemble import build_ensemble, rank_normalise

TABLE = DataInfo("tabular", (6,), "classify", n_classes=3)
DETECT = DataInfo("tabular", (6,), "detect")
TEXT = DataInfo("text", (8,), "generate", vocab_size=5)
TINY = {"hidden": (8,)}


def _rows(n: int = 40, seed: int = 0) -> Arrays:
    generator = np.random.default_rng(seed)
    return Arrays(generator.normal(size=(n, 6)).astype(np.float32),
                  generator.integers(0, 2, n).astype(np.int64))


def _twins(name: str, info: DataInfo, **hparams: object) -> list[object]:
    """Two members with identical parameters (an ensemble of them must be the member)."""
    member = create_model(name, info, seed=0, **hparams)
    return [member, copy.deepcopy(member)]


def test_an_ensemble_of_identical_classifiers_is_the_member() -> None:
    members = _twins("mlp", TABLE, **TINY)
    ensemble = build_ensemble(members, [{}, {}], None)
    x = _rows().x
    expected = members[0].predict(x).log_softmax(1)
    assert torch.allclose(ensemble.predict(x), expected, atol=1e-6)
    assert torch.equal(ensemble.predict(x).argmax(1), members[0].predict(x).argmax(1))


def test_an_ensemble_of_identical_detectors_ranks_as_the_member() -> None:
    members = _twins("autoencoder", DETECT, **TINY)
    test = _rows(seed=1)
    ensemble = build_ensemble(members, [{}, {}], _rows(seed=2))
    alone, together = members[0].score(test.x), ensemble.score(test.x)
    assert torch.equal(alone.argsort(), together.argsort())
    assert detection_metrics(together, torch.as_tensor(test.y)) == \
        detection_metrics(alone, torch.as_tensor(test.y))


def test_a_mixture_of_identical_generators_has_the_members_likelihood() -> None:
    members = _twins("transformer", TEXT, layers=1, heads=1, dim=8)
    ensemble = build_ensemble(members, [{}, {}], None)
    x = np.random.default_rng(0).integers(0, 5, (4, 8))
    assert torch.allclose(ensemble.log_likelihood(x), members[0].log_likelihood(x), atol=1e-4)
    samples = ensemble.sample(6, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (6, 8) and int(samples.max()) < 5


def test_rank_normalisation_keeps_the_order_beyond_the_validation_scores() -> None:
    reference = torch.tensor([1.0, 2.0, 3.0, 4.0]).double()
    scores = torch.tensor([-5.0, 0.5, 1.0, 2.5, 4.0, 9.0, 20.0])
    normalised = rank_normalise(scores, reference)
    assert bool((normalised.diff() > 0).all())
    assert normalised[2] == pytest.approx(0.125) and normalised[4] == pytest.approx(0.875)


@pytest.mark.parametrize(("name", "info", "validation"),
                         [("mlp", TABLE, None), ("autoencoder", DETECT, _rows(seed=2))])
def test_a_saved_ensemble_loads_through_load_model_with_equal_outputs(
        tmp_path: Path, name: str, info: DataInfo, validation: Arrays | None) -> None:
    members = [create_model(name, info, seed=seed, **TINY) for seed in (0, 1)]
    ensemble = build_ensemble(members, [{"seed": 0}, {"seed": 1}], validation)
    save_model(ensemble, tmp_path / "package")
    loaded = load_model(tmp_path / "package")
    x = _rows(seed=3).x
    hook = "predict" if info.task == "classify" else "score"
    assert torch.equal(getattr(loaded, hook)(x), getattr(ensemble, hook)(x))
    assert loaded.zoo_name == "mlp@2" if name == "mlp" else loaded.zoo_name == "autoencoder@2"
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.pkl"))


@pytest.mark.parametrize(("other", "differs"), [
    (DataInfo("tabular", (6,), "classify", n_classes=4), "n_classes"),
    (DataInfo("tabular", (7,), "classify", n_classes=3), "shape"),
])
def test_incompatible_members_are_a_one_line_error(other: DataInfo, differs: str) -> None:
    members = [create_model("mlp", TABLE, seed=0, **TINY), create_model("mlp", other, **TINY)]
    with pytest.raises(ZooError, match=differs) as caught:
        build_ensemble(members, [{"run_id": "a"}, {"run_id": "b"}], None)
    assert "\n" not in str(caught.value)


def test_ensemble_names_put_the_backbone_before_the_size() -> None:
    assert split_ensemble_name("vae[cnn]@5") == ("vae[cnn]", 5)
    assert display_name("autoencoder@5", "mlp") == "autoencoder[mlp]@5"
    with pytest.raises(ZooError, match="N >= 2"):
        split_ensemble_name("mlp@1")


def test_a_suite_runs_an_ensemble_cell_as_one_entry_with_its_members_scores() -> None:
    from zoo.plugins import get_host
    from zoo.runs.store import Store
    from zoo.suites.runner import run_suite

    suite = get_host().suite("tabular-ad").load()()
    with Store(None) as store:
        [row] = run_suite(suite, store, models=["autoencoder@2"], datasets=["breast-cancer-ad"],
                          seeds=1, budget="smoke", setting="semi")
    assert row.status == "ok", row.error
    assert (row.model, row.display_model) == ("autoencoder@2", "autoencoder[mlp]@2")
    assert len(row.extra["member_metrics"]) == 2
    assert all("auroc" in metrics for metrics in row.extra["member_metrics"])


def test_zoo_bench_takes_an_ensemble_cell_by_name(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zoo.cli import cli

    done = CliRunner().invoke(cli, ["bench", "tabular-ad", "--models", "autoencoder@2",
                                    "--datasets", "breast-cancer-ad", "--setting", "semi",
                                    "--budget", "smoke", "--seeds", "1", "--quiet", "--json",
                                    "--db", str(tmp_path / "runs.db")])
    assert done.exit_code == 0, done.output
    assert "autoencoder@2" in done.output


def test_runs_of_other_splits_make_no_ensemble() -> None:
    from zoo.runs.single import ensemble_run, train_run
    from zoo.runs.store import Store

    train = {"backbone": None, "hparams": TINY, "accelerator": "cpu", "devices": 1,
             "max_epochs": 1}
    with Store(None) as store:
        runs = [train_run(store, "autoencoder", "breast-cancer-ad", seed=seed, **train).id
                for seed in (0, 1)]
        with pytest.raises(ZooError, match="differ in seed") as caught:
            ensemble_run(store, runs)
        with pytest.raises(ZooError, match="at least 2 runs"):
            ensemble_run(store, runs[:1])
    assert "\n" not in str(caught.value)


def test_a_run_counted_twice_makes_no_ensemble() -> None:
    from zoo.runs.single import ensemble_run, train_run
    from zoo.runs.store import Store

    train = {"backbone": None, "hparams": TINY, "accelerator": "cpu", "devices": 1,
             "max_epochs": 1, "seed": 0}
    with Store(None) as store:
        first, second = (train_run(store, "autoencoder", "breast-cancer-ad", init_seed=seed,
                                   **train).id for seed in (0, 1000))
        with pytest.raises(ZooError) as given_twice:
            ensemble_run(store, [first, first])
        made = ensemble_run(store, [first, second])
        with pytest.raises(ZooError) as inside:
            ensemble_run(store, [made.id, first])
        assert len(store.runs()) == 3  # the two members and the one ensemble
    assert str(given_twice.value) == (f"run {first} would be an ensemble member twice (given "
                                      f"twice); give each run once")
    assert str(inside.value) == (f"run {first} would be an ensemble member twice (in ensemble "
                                 f"{made.id} and given); give each run once")


def test_the_toolbox_pages_python_example_runs(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "toolbox.md").read_text()
    [example] = re.findall(r"^```python\n(.*?)^```", page, re.M | re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/toolbox.md", "exec"), {})
    assert (tmp_path / "my-ensemble" / "members" / "1" / "card.json").is_file()
