"""Character-level language modelling: loss in nats and bits per character, a sample per run.

The protocol of nanoGPT's shakespeare-char (Karpathy, github.com/karpathy/nanoGPT:
``data/shakespeare_char/prepare.py``, ``config/train_shakespeare_char.py``), per cell (model,
dataset, seed, budget):

- **Text**: a registered dataset of modality ``text`` with task ``generate``, whose
  ``data.x`` is one sequence of character ids and ``meta["vocab"]`` its characters
  (``tiny-shakespeare``: 1,115,394 characters, 65 distinct); or a user's UTF-8 ``.txt``
  file by path, its vocabulary its own sorted characters.
- **Reported split**: nanoGPT's 90/10 split by position: the first ``int(0.9 n)``
  characters train (1,003,854), the last 10% (111,540) are the reported split, the one
  nanoGPT calls "validation". Its loss is the suite's metric ``loss``; nothing selects on it.
- **Selection split**: the last :data:`SELECTION_FRACTION` (5%) of the training text, by
  position (50,192 characters), is the validation split of models that select on one
  (early stopping, keeping the parameters with the lowest validation loss); they train on
  the first 95% (953,662). Models that select nothing train on all of the 90%. This is
  stricter than nanoGPT, which trains on all of the 90% and reports the lowest loss over
  training on the reported split itself, so it selects its checkpoint on the split it
  reports.
- **Windows**: of the budget's context length ``L`` (``smoke`` 16, ``quick`` 64, ``full``
  256). The training text is cut into non-overlapping windows of ``L`` on a grid shifted by
  an offset in ``[0, L)`` drawn with the cell's seed; the selection and reported splits into
  consecutive non-overlapping windows from their first character. A tail shorter than a
  window is dropped: at ``L`` = 256 the last 180 of the 111,540 reported characters (52 at
  64, 4 at 16).
- **Metrics**: ``loss`` = ``-sum(log_likelihood(windows)) / (windows x L)`` in nats per
  character (primary) and ``bpc`` = ``loss / ln 2`` in bits per character, both lower is
  better. ``log_likelihood`` is each whole window's log-probability: its first character is
  predicted from a start symbol, with no context, each later one from those before it in the
  window. nanoGPT's loss averages 200 batches of random windows (20 in its CPU recipe) whose
  first target has one character of context; ours scores every window once and gives each
  window's first character none, so it is slightly stricter (higher) for the same network.
- **Sample**: ``model.sample(1, generator, length=SAMPLE_LENGTH)`` with a generator seeded by
  the cell's seed (temperature 1, no top-k), decoded with the dataset's vocabulary and saved
  as ``sample.txt`` in the run's folder; the row's ``extra["sample"]`` has its path and
  ``extra["sample_start"]`` its first :data:`SAMPLE_PREVIEW` characters.
- **Recipes**: each model's spec gives its sizes per budget (``recipes["text-gen/quick"]``;
  the transformer's are nanoGPT's CPU recipe for ``quick``, its GPU recipe for ``full``),
  passed to ``create_model``; a model without a recipe gets its spec's defaults. The
  budgets bound epochs, not nanoGPT's iterations: an epoch is one pass over the training
  windows.

Models need ``sample(n, generator, *, length)`` and ``log_likelihood(x)`` in nats on
``DataInfo("text", (L,), "generate", vocab_size=V)``; samples are int64 windows ``(N, L)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from zoo.data.types import Arrays, DataInfo, Dataset, Splits
from zoo.errors import ZooError
from zoo.evaluation.samples import draw_text, save_text
from zoo.models import LikelihoodModel, Sampler, base_model
from zoo.runs.lifecycle import DATA_SHAPE_KEY
from zoo.runs.results import Outcome
from zoo.suites.base import Budget, Cell, Suite
from zoo.suites.common import apply_budget, train_model

#: nanoGPT's split: the first 90% of the characters train, the last 10% are reported.
TRAIN_FRACTION = 0.9
#: The end of the training text held out, by position, for the models' model selection.
SELECTION_FRACTION = 0.05
#: How many characters of the sample (:data:`zoo.evaluation.samples.SAMPLE_LENGTH`) the row quotes.
SAMPLE_PREVIEW = 200

@dataclass(frozen=True, kw_only=True)
class TextBudget(Budget):
    """A :class:`Budget` with the context length ``L`` of every window.

    Args:
        context: Characters per window: what the model sees and is scored on.
    """

    context: int


#: ``smoke`` (seconds): 1 epoch on 256 windows of 16 characters, 128 reported windows
#: scored. ``quick`` (CPU): nanoGPT's CPU recipe's windows of 64, up to 20 epochs or 15
#: minutes of training, patience 3. ``full`` (GPU): its GPU recipe's windows of 256, up to
#: 100 epochs (its 5,000 iterations of 64 windows are about 86 of ours), patience 10.
TEXT_BUDGETS: dict[str, TextBudget] = {
    "smoke": TextBudget(max_epochs=1, max_train_rows=256, max_test_rows=128, context=16),
    "quick": TextBudget(max_epochs=20, max_time=900, patience=3, context=64),
    "full": TextBudget(max_epochs=100, patience=10, context=256),
}


def character_ids(dataset: Dataset) -> np.ndarray:
    """The dataset's text as one 1-D array of int64 character ids.

    Raises:
        ZooError: The dataset is not one sequence of text with its vocabulary.
    """
    info = dataset.info
    if (info.modality != "text" or dataset.data is None or dataset.data.x.ndim != 1
            or "vocab" not in dataset.meta):
        raise ZooError(f"dataset {dataset.name!r} does not fit suite 'text-gen': it needs one "
                       f"text as character ids with its vocabulary, such as tiny-shakespeare "
                       f"or a .txt file")
    return np.asarray(dataset.data.x, dtype=np.int64)


def split_text(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, selection, reported)``: nanoGPT's 90/10 split by position, the last
    :data:`SELECTION_FRACTION` of its training part held out for model selection."""
    n_train = int(len(ids) * TRAIN_FRACTION)
    n_fit = n_train - int(n_train * SELECTION_FRACTION)
    return ids[:n_fit], ids[n_fit:n_train], ids[n_train:]


def windows(ids: np.ndarray, context: int, offset: int = 0) -> np.ndarray:
    """Consecutive non-overlapping windows ``(N, context)`` from ``ids[offset:]``; a tail
    shorter than a window is dropped.

    Raises:
        ZooError: Not one whole window fits.
    """
    n = (len(ids) - offset) // context
    if n < 1:
        raise ZooError(f"a text part of {len(ids):,} characters holds no window of {context} "
                       f"(offset {offset}); use a longer text")
    return ids[offset:offset + n * context].reshape(n, context)


def text_splits(ids: np.ndarray, vocab_size: int, context: int, seed: int) -> Splits:
    """Windows of the three parts: training on a grid shifted by a seeded offset,
    validation (model selection) and test (the reported split) from their first character."""
    train, selection, reported = split_text(ids)
    offset = int(np.random.default_rng(seed).integers(context))
    info = DataInfo("text", (context,), "generate", vocab_size=vocab_size)
    return Splits(train=Arrays(windows(train, context, offset)),
                  val=Arrays(windows(selection, context)),
                  test=Arrays(windows(reported, context)), info=info)


def character_metrics(log_likelihood: Any, n_windows: int, context: int) -> dict[str, float]:
    """``loss`` in nats per character and ``bpc`` in bits per character of windows whose
    log-probabilities (nats) are ``log_likelihood``.

    Raises:
        ZooError: Not one finite value per window.
    """
    values = torch.as_tensor(log_likelihood).detach().double().cpu()
    if tuple(values.shape) != (n_windows,):
        raise ZooError(f"log_likelihood returned shape {tuple(values.shape)}; expected "
                       f"({n_windows},), one log-probability per window")
    if not bool(values.isfinite().all()):
        raise ZooError("the model returned non-finite log-likelihoods")
    loss = float(-values.sum()) / (n_windows * context)
    return {"loss": loss, "bpc": loss / math.log(2)}


def require_hooks(model_class: type, name: str) -> None:
    """Fail before training when the model cannot be scored.

    Raises:
        ZooError: ``sample`` or ``log_likelihood`` is missing.
    """
    missing = [hook for hook, protocol in (("sample", Sampler), ("log_likelihood", LikelihoodModel))
               if not issubclass(model_class, protocol)]
    if missing:
        raise ZooError(f"model {name!r} has no {' or '.join(missing)}(); suite 'text-gen' "
                       f"needs sample(n, generator, length=...) and log_likelihood(x) in nats")


class TextGenerationSuite(Suite):
    """Character-level language modelling on tiny-shakespeare: loss (nats/char), bpc, samples.

    Budgets: :data:`TEXT_BUDGETS`; model sizes per budget: each model spec's ``recipes``.
    """

    name = "text-gen"
    default_datasets = ("tiny-shakespeare",)
    default_seeds = 3
    budgets: ClassVar[dict[str, Budget]] = dict(TEXT_BUDGETS)

    @classmethod
    def splits_for(cls, dataset: Dataset, task: str, seed: int) -> Splits:
        """The text cut as at the ``quick`` budget: windows of its context, nanoGPT's 90/10
        split, the end of the 90% held out for validation."""
        splits = text_splits(character_ids(dataset), len(dataset.meta["vocab"]),
                             TEXT_BUDGETS["quick"].context, seed)
        return replace(splits, info=replace(splits.info, task=task))

    def run_cell(self, cell: Cell, run_dir: Path | None = None) -> Outcome:
        require_hooks(self.host.model(base_model(cell.model)).load(), cell.display_model)
        budget = TEXT_BUDGETS[cell.budget]
        dataset = self.load(cell.dataset)
        ids = character_ids(dataset)
        vocab = dataset.meta["vocab"]
        splits = text_splits(ids, len(vocab), budget.context, cell.seed)
        splits, notes = apply_budget(splits, budget, cell.seed)
        model, hparams = train_model(self, cell, splits, budget, run_dir)
        metrics = character_metrics(model.log_likelihood(splits.test.x), len(splits.test),
                                    budget.context)
        text = draw_text(model, vocab, cell.seed)
        extra: dict[str, Any] = {
            **notes, "context": budget.context, DATA_SHAPE_KEY: splits.shape(),
            "sample_start": text[:SAMPLE_PREVIEW]}
        if run_dir is not None:
            extra["sample"] = str(save_text(text, run_dir / "sample.txt"))
        return Outcome(metrics, hparams, extra)
