"""image-gen: FID / KID against closed forms, the cached reference classifier, the protocol."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from zoo.data.loading import load_dataset
from zoo.data.types import Arrays, DataInfo, Dataset
from zoo.errors import ZooError
from zoo.evaluation import likelihood_metrics
from zoo.evaluation.reference_features import Recipe, reference_classifier
from zoo.evaluation.samples import generation_metrics
from zoo.runs.store import Store
from zoo.suites import run_suite
from zoo.suites.image_gen import ImageGenerationSuite, fixed_split, setting_split

# Three generators that train nothing: one replays its training images (FID near the
# real-vs-real floor), one draws uniform noise (FID far above it), and one fits independent
# Bernoulli pixels and has a log-likelihood. Each records the splits it was given.
GENERATORS = '''
import math
import numpy as np
import torch
from zoo import DataInfo, ModelSpec, ZooModel, hookimpl

SEEN = {}


class Generator(ZooModel):
    uses_validation = False

    def __init__(self, data_info: DataInfo) -> None:
        self.data_info = data_info

    def fit(self, splits, config):
        SEEN[self.zoo_name] = splits
        self.train = torch.as_tensor(splits.train.x)
        return {}

    def hyperparameters(self):
        return {}


class Memoriser(Generator):
    def sample(self, n, generator=None):
        return self.train[torch.randint(len(self.train), (n,), generator=generator)]


class Noise(Generator):
    def sample(self, n, generator=None):
        return torch.rand((n, *self.data_info.shape), generator=generator)


class PixelBernoulli(Generator):
    uses_validation = True

    def fit(self, splits, config):
        super().fit(splits, config)
        self.p = self.train.double().mean(0).clamp(1e-3, 1 - 1e-3)
        return {}

    def sample(self, n, generator=None):
        return torch.bernoulli(self.p.expand(n, *self.p.shape), generator=generator).float()

    def log_likelihood(self, x):
        x = torch.as_tensor(x).double()
        terms = x * self.p.log() + (1 - x) * (1 - self.p).log()
        return terms.reshape(len(x), -1).sum(1)


@hookimpl
def zoo_register_models(register):
    for name, cls in (("memoriser", "Memoriser"), ("noise", "Noise"),
                      ("pixel-bernoulli", "PixelBernoulli")):
        register(ModelSpec(name=name, kind="method", tasks=("generate",),
                           modalities=("image",),
                           implementation=f"zoo_plugins_dir.generators:{cls}"))
'''
MODELS = ["memoriser", "noise", "pixel-bernoulli"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One classifier cache for the module: each reference classifier is trained once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def generators(cache: Path, monkeypatch: pytest.MonkeyPatch,
               throwaway_plugin: Callable[[str, str], ModuleType]) -> ModuleType:
    """A fresh host with the built-in datasets and suites and only the three generators."""
    monkeypatch.setenv("ZOO_CACHE_DIR", str(cache))
    return throwaway_plugin("generators", GENERATORS)


class Flatten(torch.nn.Module):
    """Identity features: FID and KID of the raw values, whose closed forms are known."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.num_features = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1).double()


def unbiased_cubic_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """Binkowski et al.'s unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written out."""
    d = x.shape[1]

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a @ b.T / d + 1) ** 3

    m = len(x)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.mean())


def test_fid_of_two_gaussians_is_their_frechet_distance() -> None:
    # N(0, I) vs N(mu, diag(s^2)): FID = |mu|^2 + sum (1 - s)^2
    rng = np.random.default_rng(0)
    mu, s = np.array([1.0, -2.0, 0.5]), np.array([1.0, 2.0, 0.5])
    real = torch.as_tensor(rng.normal(size=(40_000, 3)))
    fake = torch.as_tensor(mu + s * rng.normal(size=(40_000, 3)))
    metrics = generation_metrics(Flatten(3), real, fake, seed=0, kid_subsets=2,
                                 kid_subset_size=500)
    expected = (mu ** 2).sum() + ((1 - s) ** 2).sum()
    assert metrics["fid"] == pytest.approx(expected, rel=0.02)
    same = generation_metrics(Flatten(3), real, real, seed=0, kid_subsets=2)
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)


def test_kid_is_the_unbiased_cubic_mmd_and_seeded() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 4)), rng.normal(0.3, 1.0, size=(300, 4))
    whole = generation_metrics(Flatten(4), torch.as_tensor(x), torch.as_tensor(y), seed=0,
                               kid_subsets=3, kid_subset_size=300)  # every subset is all
    assert whole["kid"] == pytest.approx(unbiased_cubic_mmd(x, y), rel=1e-9)
    assert whole["kid_std"] == pytest.approx(0.0, abs=1e-12)
    state = torch.get_rng_state()
    runs = [generation_metrics(Flatten(4), torch.as_tensor(x), torch.as_tensor(y), seed=5,
                               kid_subsets=4, kid_subset_size=50)["kid"] for _ in range(2)]
    assert runs[0] == runs[1]
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is untouched


def test_bits_per_dimension_is_nats_over_d_ln2() -> None:
    metrics = likelihood_metrics(torch.tensor([-100.0, -80.0]), n_dims=784)
    assert metrics["nll"] == 90.0
    assert metrics["bpd"] == pytest.approx(90.0 / (784 * math.log(2)))
    with pytest.raises(ZooError, match="non-finite"):
        likelihood_metrics(torch.tensor([float("nan")]), n_dims=1)


def toy_images(seed: int) -> tuple[Arrays, Arrays]:
    """Two classes of 8x8 images: a bright top half or a bright bottom half, with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 240)
    x = rng.random((240, 1, 8, 8), dtype=np.float32) * 0.5
    x[y == 0, :, :4] += 0.5
    x[y == 1, :, 4:] += 0.5
    return Arrays(x[:200], y[:200]), Arrays(x[200:], y[200:])


TINY = Recipe(epochs=1, min_steps=30, batch_size=32)


def test_the_reference_classifier_is_cached_by_content(tmp_path: Path) -> None:
    train, test = toy_images(0)
    first = reference_classifier(train, test, 2, directory=tmp_path, recipe=TINY)
    assert not first.cached and first.accuracy > 0.9
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".safetensors"]
    again = reference_classifier(train, test, 2, directory=tmp_path, recipe=TINY)
    assert again.cached and again.key == first.key and again.accuracy == first.accuracy
    images = torch.as_tensor(test.x)
    assert torch.equal(first.features(images), again.features(images))
    assert first.features(images).dtype == torch.float64

    changed = Arrays(train.x.copy(), train.y)
    changed.x[0, 0, 0, 0] += 0.1  # one pixel of one image: another dataset, another key
    other = reference_classifier(changed, test, 2, directory=tmp_path, recipe=TINY)
    assert not other.cached and other.key != first.key
    retrained = reference_classifier(train, test, 2, directory=tmp_path,
                                     recipe=Recipe(epochs=1, min_steps=31, batch_size=32))
    assert not retrained.cached and retrained.key != first.key


def test_the_reference_classifier_trains_deterministically(tmp_path: Path) -> None:
    train, test = toy_images(0)
    state = torch.get_rng_state()
    one = reference_classifier(train, test, 2, directory=tmp_path / "a", recipe=TINY)
    two = reference_classifier(train, test, 2, directory=tmp_path / "b", recipe=TINY)
    images = torch.as_tensor(test.x)
    assert torch.equal(one.features(images), two.features(images))
    assert torch.equal(torch.get_rng_state(), state)


def test_digits_has_a_fixed_split_and_binarised_pixels_are_fixed() -> None:
    digits = load_dataset("digits")
    train, test = fixed_split(digits)
    assert (len(train), len(test)) == (1437, 360)
    binary_train, binary_test = setting_split(digits, "binarized")
    assert set(np.unique(binary_train.x)) == {0.0, 1.0}
    assert np.array_equal(binary_test.x, setting_split(digits, "binarized")[1].x)
    assert abs(binary_train.x.mean() - train.x.mean()) < 0.01


def test_a_table_does_not_fit_the_suite() -> None:
    table = Dataset("toy", DataInfo("tabular", (3,), "classify", n_classes=2),
                    data=Arrays(np.zeros((10, 3), np.float32), np.zeros(10, np.int64)))
    with pytest.raises(ZooError, match=r"needs images .* with class labels"):
        fixed_split(table)


def test_smoke_scores_order_generators_above_the_floor(generators: ModuleType,
                                                       tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        rows = {row.model: row for row in run_suite(
            ImageGenerationSuite(), store, models=MODELS,
            datasets=["digits"], seeds=1, budget="smoke")}
    assert {model: row.status for model, row in rows.items()} == dict.fromkeys(MODELS, "ok")
    memoriser, noise = rows["memoriser"].metrics, rows["noise"].metrics
    floor = memoriser["fid_floor"]
    assert all(row.metrics["fid_floor"] == floor for row in rows.values())
    # Real images replayed score about the floor (above or below it by chance); noise far more.
    assert floor / 2 < memoriser["fid"] < 2 * floor and noise["fid"] > 5 * floor
    assert memoriser["kid"] < noise["kid"] / 10
    for row in rows.values():
        assert row.metrics["ref_accuracy"] > 0.9
        assert "nll" not in row.metrics  # no likelihood on continuous pixels
        assert row.extra["n_samples"] == 128 and "note" in row.extra  # train subsampled
        png = Path(row.extra["samples"])
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.parent.name == row.id


def test_held_out_images_never_train_and_labels_never_reach_the_model(
        generators: ModuleType, tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        run_suite(ImageGenerationSuite(), store,
                  models=["memoriser", "pixel-bernoulli"], datasets=["digits"], seeds=1,
                  budget="smoke")
    plain, selecting = generators.SEEN["memoriser"], generators.SEEN["pixel-bernoulli"]
    assert plain.val is None and plain.train.y is None
    assert len(plain.train) == 256 and plain.info.task == "generate"
    assert selecting.val is not None and len(selecting.val) == 128
    train_rows = {row.tobytes() for row in selecting.train.x}
    assert not any(row.tobytes() in train_rows for row in selecting.val.x)


def test_binarized_reports_nll_for_likelihood_models_and_reuses_the_classifier(
        generators: ModuleType, tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        rows = {row.model: row for row in run_suite(
            ImageGenerationSuite(), store,
            models=["memoriser", "pixel-bernoulli"], datasets=["digits"], seeds=1,
            budget="smoke", setting="binarized")}
    bernoulli = rows["pixel-bernoulli"].metrics
    assert "nll" not in rows["memoriser"].metrics
    assert 0 < bernoulli["nll"] < 64 * math.log(2)  # better than a fair coin per pixel
    assert bernoulli["bpd"] == pytest.approx(bernoulli["nll"] / (64 * math.log(2)))
    key = rows["memoriser"].extra["reference_classifier"]["key"]
    again = ImageGenerationSuite().reference("digits", "binarized")
    assert again.cached and again.key == key
    default = ImageGenerationSuite().reference("digits", "default")
    assert default.key != key  # binarised images train their own classifier


def test_bench_and_leaderboard_from_the_command_line(cache: Path, tmp_path: Path) -> None:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "generators.py").write_text(textwrap.dedent(GENERATORS))
    env = {**os.environ, "ZOO_CACHE_DIR": str(cache), "ZOO_PLUGINS_DIR": str(directory)}
    db = str(tmp_path / "runs.db")

    def zoo(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True,
                              text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    rows = json.loads(zoo("bench", "image-gen", "--budget", "smoke", "--seeds", "1",
                          "--models", "memoriser,noise", "--datasets", "digits", "--db", db,
                          "--json"))
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert all(Path(row["extra"]["samples"]).is_file() for row in rows)
    board = zoo("leaderboard", "image-gen", "--db", db)
    assert "fid (lower is better, primary)" in board and "fid_floor (lower" not in board
    fid_table = board.split("kid (lower")[0]
    assert fid_table.index("noise") < fid_table.index("real data (floor)")
    assert "nll (lower" not in board  # the default setting has no likelihood by design
    assert board.index("memoriser") < board.index("noise")  # ranked by FID


class _Sampler:
    """A generator whose samples are a constant grey, or NaN."""

    def __init__(self, value: float) -> None:
        self.value = value

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.full((n, 1, 8, 8), self.value)


def test_a_trained_generator_leaves_a_grid_unless_its_samples_are_unusable(
        tmp_path: Path) -> None:
    from zoo.evaluation.samples import save_run_samples

    info = DataInfo("image", (1, 8, 8), "generate", value_range=(-1.0, 1.0))
    grid = save_run_samples(_Sampler(0.0), info, tmp_path / "ok", seed=0)
    assert grid is not None and grid.read_bytes().startswith(b"\x89PNG")
    with pytest.warns(UserWarning, match="no samples saved: the model's samples have non-fini"):
        assert save_run_samples(_Sampler(float("nan")), info, tmp_path / "nan", seed=0) is None
    assert not (tmp_path / "nan").exists()
