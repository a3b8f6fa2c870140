"""text-gen: nanoGPT's split, windows, nats and bits per character, samples, reference rows."""

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

from zoo import plugins
from zoo.data.loading import load_dataset
from zoo.data.types import Arrays, DataInfo, Dataset
from zoo.errors import ZooError
from zoo.evaluation.samples import SAMPLE_LENGTH, decode
from zoo.models import resolve_hparams
from zoo.runs.store import Store
from zoo.suites import run_suite
from zoo.suites.text_gen import (
    SAMPLE_PREVIEW,
    TEXT_BUDGETS,
    TextGenerationSuite,
    character_ids,
    character_metrics,
    split_text,
    text_splits,
    windows,
)

SHAKESPEARE = Path(os.environ.get("ZOO_DATA_DIR", "/nonexistent")) / "tinyshakespeare/input.txt"
needs_shakespeare = pytest.mark.skipif(not SHAKESPEARE.is_file(),
                                       reason="ZOO_DATA_DIR does not hold tiny-shakespeare")

# Three text models that need no gradient: a smoothed bigram (count) model, a uniform one
# whose loss is exactly ln V, and one that cannot be scored. Each records the splits it got.
LANGUAGE_MODELS = '''
import math
from pathlib import Path

import numpy as np
import torch
from zoo import DataInfo, HParam, ModelSpec, ZooModel, hookimpl

SEEN = {}


class TextModel(ZooModel):
    uses_validation = False

    def __init__(self, data_info: DataInfo) -> None:
        self.data_info = data_info
        self.vocab = int(data_info.vocab_size)

    def fit(self, splits, config):
        SEEN[self.zoo_name] = splits
        return {}

    def hyperparameters(self):
        return {}

    def save_state(self, directory: Path) -> None:
        pass

    def load_state(self, directory: Path) -> None:
        pass


class Bigram(TextModel):
    """p(x_t | x_t-1) from smoothed counts; the first character of a window follows a
    start symbol (id V), as the suite's models predict it."""

    uses_validation = True

    def __init__(self, data_info: DataInfo, smoothing: float = 1.0) -> None:
        super().__init__(data_info)
        self.smoothing = smoothing

    def fit(self, splits, config):
        super().fit(splits, config)
        counts = np.full((self.vocab + 1, self.vocab), self.smoothing)
        x = splits.train.x
        np.add.at(counts, (self.previous(x).ravel(), x.ravel()), 1)
        self.log_p = torch.as_tensor(np.log(counts / counts.sum(1, keepdims=True)))
        n = splits.val.x.size
        return {"val_loss": float(-self.log_likelihood(splits.val.x).sum()) / n}

    def previous(self, x):
        return np.concatenate([np.full((len(x), 1), self.vocab), x[:, :-1]], 1)

    def hyperparameters(self):
        return {"smoothing": self.smoothing}

    def log_likelihood(self, x):
        x = np.asarray(x)
        return self.log_p[self.previous(x), x].sum(1)

    def sample(self, n, generator=None, *, length=None, temperature=1.0, top_k=None):
        length = self.data_info.shape[0] if length is None else length
        steps = torch.full((n, 1), self.vocab)
        for _ in range(length):
            logits = self.log_p[steps[:, -1]] / temperature
            if top_k is not None:
                kth = logits.topk(top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, -math.inf)
            drawn = torch.multinomial(logits.softmax(-1), 1, generator=generator)
            steps = torch.cat([steps, drawn], 1)
        return steps[:, 1:]

    def save_state(self, directory: Path) -> None:
        np.save(Path(directory) / "log_p.npy", self.log_p.numpy())

    def load_state(self, directory: Path) -> None:
        self.log_p = torch.as_tensor(np.load(Path(directory) / "log_p.npy"))


class Uniform(TextModel):
    def log_likelihood(self, x):
        x = np.asarray(x)
        return torch.full((len(x),), -x.shape[1] * math.log(self.vocab), dtype=torch.float64)

    def sample(self, n, generator=None, *, length=None, temperature=1.0, top_k=None):
        length = self.data_info.shape[0] if length is None else length
        return torch.randint(self.vocab, (n, length), generator=generator)


class Mute(TextModel):
    """Generates nothing: the suite must refuse it before training."""


@hookimpl
def zoo_register_models(register):
    smoothing = HParam("smoothing", float, 1.0, low=0, low_inclusive=False)
    for name, cls, hparams in (("bigram", "Bigram", (smoothing,)), ("uniform", "Uniform", ()),
                               ("mute", "Mute", ())):
        register(ModelSpec(name=name, kind="method", tasks=("generate",),
                           modalities=("text",), hparams=hparams,
                           recipes={"text-gen/smoke": {"smoothing": 0.5}} if hparams else {},
                           implementation=f"zoo_plugins_dir.language_models:{cls}"))
'''


@pytest.fixture
def language_models(throwaway_plugin: Callable[[str, str], ModuleType]) -> ModuleType:
    """A fresh host with the built-in datasets and suites and only the three text models."""
    return throwaway_plugin("language_models", LANGUAGE_MODELS)


@pytest.fixture
def verse(tmp_path: Path) -> Path:
    """A user's text file of 20,000 characters: a few lines repeated, easy for a bigram."""
    lines = ["To be, or not to be, that is the question:\n",
             "Whether 'tis nobler in the mind to suffer\n",
             "The slings and arrows of outrageous fortune,\n"]
    path = tmp_path / "verse.txt"
    path.write_text(("".join(lines) * 200)[:20_000], encoding="utf-8")
    return path


@needs_shakespeare
def test_nanogpt_split_sizes_on_tiny_shakespeare() -> None:
    ids = character_ids(load_dataset("tiny-shakespeare"))
    train, selection, reported = split_text(ids)
    assert (len(train) + len(selection), len(reported)) == (1_003_854, 111_540)
    assert len(selection) == 50_192  # 5% of the training text, its end
    splits = text_splits(ids, 65, 64, seed=0)
    assert splits.test.x.shape == (1742, 64)  # 111,540 // 64; the last 52 characters dropped
    assert np.array_equal(splits.test.x.ravel(), ids[1_003_854:1_003_854 + 1742 * 64])
    assert splits.info == DataInfo("text", (64,), "generate", vocab_size=65)


def test_windows_are_consecutive_and_drop_the_tail() -> None:
    ids = np.arange(100)
    cut = windows(ids, 8, offset=3)
    assert cut.shape == (12, 8)  # 97 characters after the offset: 12 windows, 1 dropped
    assert np.array_equal(cut.ravel(), np.arange(3, 99))
    with pytest.raises(ZooError, match="holds no window of 8"):
        windows(np.arange(7), 8)


def test_parts_are_disjoint_by_position_and_the_offset_is_seeded() -> None:
    ids = np.arange(10_000)  # each id is its position
    splits = text_splits(ids, 10_000, 16, seed=0)
    n_train = 9_000
    assert splits.train.x.max() < splits.val.x.min()
    assert splits.val.x.max() < n_train <= splits.test.x.min()
    assert splits.val.x[0, 0] == n_train - n_train // 20  # the selection part starts at 95%
    offsets = {int(text_splits(ids, 10_000, 16, seed=s).train.x[0, 0]) for s in range(6)}
    assert len(offsets) > 1 and offsets <= set(range(16))
    again = text_splits(ids, 10_000, 16, seed=0)
    assert np.array_equal(again.train.x, splits.train.x)


def test_uniform_likelihood_is_ln_vocab_nats_and_log2_bits() -> None:
    log_likelihood = torch.full((5,), -8 * math.log(65), dtype=torch.float64)
    metrics = character_metrics(log_likelihood, n_windows=5, context=8)
    assert metrics["loss"] == pytest.approx(math.log(65), rel=1e-12)
    assert metrics["bpc"] == pytest.approx(math.log2(65), rel=1e-12)
    # Per character over all windows, not a mean of per-window means: the same here.
    assert character_metrics(torch.tensor([-2.0, -6.0]), 2, 4)["loss"] == 1.0
    with pytest.raises(ZooError, match=r"shape \(3,\); expected \(2,\)"):
        character_metrics(torch.zeros(3), 2, 4)
    with pytest.raises(ZooError, match="non-finite"):
        character_metrics(torch.tensor([-1.0, -math.inf]), 2, 4)


def test_decode_checks_ids_against_the_vocabulary() -> None:
    assert decode(torch.tensor([1, 0, 2]), ["a", "b", "c"]) == "bac"
    with pytest.raises(ZooError, match=r"lie in \[0, 3\)"):
        decode(torch.tensor([3]), ["a", "b", "c"])
    with pytest.raises(ZooError, match="one sequence of integer ids"):
        decode(torch.zeros(2, 2, dtype=torch.long), ["a"])


def test_a_table_does_not_fit_the_suite() -> None:
    table = Dataset("toy", DataInfo("tabular", (3,), "detect"),
                    data=Arrays(np.zeros((10, 3), np.float32)))
    with pytest.raises(ZooError, match="needs one text as character ids"):
        character_ids(table)


@pytest.mark.parametrize("budget", sorted(TEXT_BUDGETS))
def test_recipes_are_valid_hyperparameters_of_the_installed_models(budget: str) -> None:
    host = plugins.get_host()
    recipes = {name: spec.recipe("text-gen", budget) for name, spec in host.models().items()}
    recipes = {name: recipe for name, recipe in recipes.items() if recipe}
    if not recipes:
        pytest.skip("no model with a text-gen recipe is installed")
    info = DataInfo("text", (TEXT_BUDGETS[budget].context,), "generate", vocab_size=65)
    for name, recipe in recipes.items():  # an unknown name or a value of the wrong type raises
        resolved = resolve_hparams(host.model(name), info, recipe)
        assert resolved.items() >= recipe.items()


def test_smoke_run_on_a_text_file(language_models: ModuleType, verse: Path,
                                  tmp_path: Path) -> None:
    with Store(tmp_path / "runs.db") as store:
        rows = {row.model: row for row in run_suite(
            TextGenerationSuite(), store, models=["bigram", "uniform", "mute"],
            datasets=[str(verse)], seeds=1, budget="smoke")}
    vocab = sorted(set(verse.read_text()))
    uniform, bigram, mute = rows["uniform"], rows["bigram"], rows["mute"]
    assert uniform.status == bigram.status == "ok"
    assert uniform.metrics["loss"] == pytest.approx(math.log(len(vocab)), rel=1e-12)
    assert uniform.metrics["bpc"] == pytest.approx(math.log2(len(vocab)), rel=1e-12)
    assert bigram.metrics["loss"] < uniform.metrics["loss"] - 1  # the verse repeats
    assert bigram.hparams == {"smoothing": 0.5}  # the budget's recipe reached the model
    assert mute.status == "failed" and "has no sample or log_likelihood()" in mute.error

    seen = language_models.SEEN
    assert seen["bigram"].val is not None and seen["uniform"].val is None  # selects nothing
    assert seen["bigram"].train.x.shape == (256, 16)  # smoke: 256 training windows of 16
    assert bigram.extra["data_shape"] == {"train": 256, "val": 56, "test": 125, "sample": [16]}
    for row in (uniform, bigram):
        sample = Path(row.extra["sample"])
        text = sample.read_text(encoding="utf-8")
        assert sample.parent.name == row.id and len(text) == SAMPLE_LENGTH
        assert set(text) <= set(vocab) and row.extra["sample_start"] == text[:SAMPLE_PREVIEW]


def test_a_missing_text_file_is_a_clear_error(language_models: ModuleType,
                                              tmp_path: Path) -> None:
    suite = TextGenerationSuite()
    with pytest.raises(ZooError, match="no such data file"):
        suite.load(str(tmp_path / "absent.txt"))


@needs_shakespeare
def test_bench_and_leaderboard_from_the_command_line(tmp_path: Path) -> None:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "language_models.py").write_text(textwrap.dedent(LANGUAGE_MODELS))
    env = {**os.environ, "ZOO_PLUGINS_DIR": str(directory)}
    db = str(tmp_path / "runs.db")

    def zoo(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True,
                              text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    (row,) = json.loads(zoo("bench", "text-gen", "--budget", "smoke", "--seeds", "1",
                            "--models", "bigram", "--db", db, "--json"))
    assert row["status"] == "ok" and row["dataset"] == "tiny-shakespeare"
    assert 2.0 < row["metrics"]["loss"] < math.log(65)  # a bigram: ~2.5 nats per character
    vocab = load_dataset("tiny-shakespeare").meta["vocab"]
    assert set(Path(row["extra"]["sample"]).read_text(encoding="utf-8")) <= set(vocab)
    board = zoo("leaderboard", "text-gen", "--db", db)
    assert "loss (lower is better, primary)" in board and "bpc (lower is better)" in board
    loss_table = board.split("bpc (lower")[0]
    assert "nanoGPT GPU recipe (6 layers, 384 dims, context 256) (reported)" in loss_table
    assert "1.47" in loss_table and "1.88" in loss_table
    assert loss_table.index("bigram") < loss_table.index("nanoGPT")  # ours first, ranked
