"""Image generation: FID and KID in a reference classifier's features, NLL where defined.

The protocol, per cell (model, dataset, setting, seed):

- **Splits**: MNIST and Fashion-MNIST keep their fixed 60,000 / 10,000 train / test split.
  digits has none, so the suite fixes one as MNIST's is fixed: :data:`TEST_FRACTION` of the
  images, stratified by class, drawn once with :data:`FIXED_SPLIT_SEED`, the same for every
  cell. From the training images the cell's seed draws a **held-out set** as large as the
  test set (10,000 on MNIST, 360 on digits, as pythae's 50,000 / 10,000 MNIST split). The
  model trains on the rest, without labels; models that select on a validation loss
  (``uses_validation``) get the held-out set as validation, the others never see it.
- **Samples**: ``model.sample(n, generator)`` with a generator seeded by the cell's seed,
  ``n`` = the number of test images; compared as the model returns them.
- **FID and KID** (:func:`zoo.evaluation.samples.generation_metrics`) between the ``n`` samples and
  the ``n`` test images, in the penultimate-layer features of the dataset's reference
  classifier (:mod:`zoo.evaluation.reference_features`): a small CNN trained once per dataset
  and setting on the fixed training split, cached by a hash of that data and its recipe.
  Rows record its key and test accuracy (``ref_accuracy``); numbers are comparable only
  under the same key. Not Inception features: these FIDs are not comparable with published
  Inception FIDs.
- **The floor**: the same FID and KID between the test images and the ``n`` held-out
  training images, real against real: what a perfect generator would score with ``n``
  samples (FID is biased upwards at finite ``n``). Stored in every row as ``fid_floor`` and
  ``kid_floor``, the same for every model of a dataset and seed, and shown on the
  leaderboard as an unranked ``real data (floor)`` row of the FID and KID tables (mean ± std
  over seeds).
- **Likelihood** (``binarized`` only): for models with ``log_likelihood``, ``nll`` = minus
  its mean over the test images, in nats, and ``bpd`` = ``nll / (D ln 2)`` bits per pixel
  (``D`` = pixels per image). On binary pixels this is a log-probability, comparable with the
  published binarised-MNIST numbers (pythae VAE 89.78 nats, 200 importance samples;
  ``benchmarks/references/image-gen.csv``); a model's bound says it is a bound (the VAE's
  IWAE estimate is a lower bound on ``log p``, so its ``nll`` is an upper bound). In
  ``default``, pixels are continuous in [0, 1], where a Bernoulli "likelihood" is not a
  probability and densities of different decoders do not compare, so no NLL is reported.
- **Sample grid**: the first 64 samples as ``samples.png`` in the run's folder; the row's
  ``extra["samples"]`` has its path.

Settings:

- ``default``: pixels in [0, 1] as loaded.
- ``binarized``: every pixel drawn once as 1 with probability its intensity (stochastic
  binarisation, Salakhutdinov & Murray 2008) with :data:`BINARIZATION_SEED`, training and
  test images alike, then fixed for every cell: the binarised-MNIST protocol of the
  likelihood literature. Larochelle & Murray's fixed binarised MNIST is one such draw; ours is
  another, which moves a VAE's NLL by well under a nat.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.data.splits import fixed_train_test
from zoo.data.types import Arrays, DataInfo, Dataset, Splits
from zoo.errors import ZooError
from zoo.evaluation.images import binarize
from zoo.evaluation.reference_features import ReferenceClassifier, reference_classifier
from zoo.evaluation.samples import distances, draw_samples, save_sample_grid
from zoo.models import LikelihoodModel, base_model
from zoo.runs.lifecycle import DATA_SHAPE_KEY
from zoo.runs.results import Outcome
from zoo.suites.base import Budget, Cell, Suite
from zoo.suites.common import apply_budget, subsample, train_model

#: Share of a dataset without a fixed split (digits) that the suite holds out for testing.
TEST_FRACTION = 0.2
FIXED_SPLIT_SEED = 0
BINARIZATION_SEED = 0
SETTINGS = ("default", "binarized")


def fixed_split(dataset: Dataset) -> tuple[Arrays, Arrays]:
    """The dataset's fixed train / test split, or the suite's fixed stratified one.

    Raises:
        ZooError: The dataset is not images with class labels (the reference classifier
            needs them).
    """
    parts = [a for a in (dataset.data, dataset.train, dataset.test) if a is not None]
    if dataset.info.modality != "image" or len(dataset.info.shape) != 3 or any(
            a.y is None for a in parts):
        raise ZooError(f"dataset {dataset.name!r} does not fit suite 'image-gen': it needs "
                       "images (C, H, W) with class labels, such as digits, mnist, "
                       "fashion-mnist")
    return fixed_train_test(dataset, test_fraction=TEST_FRACTION, seed=FIXED_SPLIT_SEED)


def setting_split(dataset: Dataset, setting: str) -> tuple[Arrays, Arrays]:
    """The fixed split with the setting's pixels: as loaded, or binarised once."""
    train, test = fixed_split(dataset)
    if setting == "binarized":
        # Two fixed draws: one for the training images, another for the test images.
        train = Arrays(binarize(train.x, BINARIZATION_SEED), train.y)
        test = Arrays(binarize(test.x, BINARIZATION_SEED + 1), test.y)
    return train, test


def generation_splits(train: Arrays, test: Arrays, info: DataInfo, seed: int) -> Splits:
    """Hold out as many training images as there are test images (the real-vs-real floor
    and validation set), drawn with ``seed``; the model's splits carry no labels."""
    n_held_out = len(test)
    if len(train) <= n_held_out:
        raise ZooError(f"{len(train)} training images are too few to hold out {n_held_out} "
                       "(as many as the test images) for the real-vs-real floor")
    order = np.random.default_rng(seed).permutation(len(train))
    held_out, kept = np.sort(order[:n_held_out]), np.sort(order[n_held_out:])
    return Splits(train=Arrays(train.x[kept]), val=Arrays(train.x[held_out]),
                  test=Arrays(test.x), info=replace(info, task="generate", n_classes=None))


class ImageGenerationSuite(Suite):
    """Image generation on digits, MNIST and Fashion-MNIST: FID, KID, their floor, NLL.

    Budgets: ``smoke`` (seconds) trains one epoch on at most 256 images and scores 128 test
    images; ``quick`` (CPU minutes) trains on at most 10,000 images (the row says when it was
    cut) for up to 30 epochs or 3 minutes with early stopping, and scores every test image;
    ``full`` is pythae's MNIST recipe length, 100 epochs on every training image, for a GPU.
    """

    name = "image-gen"
    settings = SETTINGS
    default_datasets = ("digits", "mnist", "fashion-mnist")
    default_seeds = 3
    budgets = {
        "smoke": Budget(max_epochs=1, max_train_rows=256, max_test_rows=128),
        "quick": Budget(max_epochs=30, max_time=180, patience=5, max_train_rows=10_000),
        "full": Budget(max_epochs=100),
    }

    def __init__(self, *, accelerator: str = "auto", devices: int = 1,
                 num_nodes: int = 1) -> None:
        super().__init__(accelerator=accelerator, devices=devices, num_nodes=num_nodes)
        # Made once per suite run and shared by its cells:
        self._splits: dict[tuple[str, str], tuple[Arrays, Arrays]] = {}
        self._classifiers: dict[tuple[str, str], ReferenceClassifier] = {}
        self._floors: dict[tuple[str, str, int, str], dict[str, float]] = {}

    def run_cell(self, cell: Cell, run_dir: Path | None = None) -> Outcome:
        train, test = self.setting_split(cell.dataset, cell.setting)
        reference = self.reference(cell.dataset, cell.setting)
        info = self.load(cell.dataset).info
        budget = self.budgets[cell.budget]
        splits, notes = apply_budget(generation_splits(train, test, info, cell.seed), budget,
                                     cell.seed)
        n = len(splits.test)
        held_out, _ = subsample(splits.val, n, cell.seed)  # as many as the test images
        splits = replace(splits, val=held_out)
        model_splits = self.model_splits(cell, splits)
        notes[DATA_SHAPE_KEY] = model_splits.shape()
        model, hparams = train_model(self, cell, model_splits, budget, run_dir)
        samples = draw_samples(model, n, info.shape, cell.seed)
        real = torch.as_tensor(splits.test.x)
        metrics = distances(reference.features, real, samples, cell.seed)
        metrics |= self.floor(cell, reference, real, torch.as_tensor(held_out.x))
        metrics["ref_accuracy"] = reference.accuracy
        if cell.setting == "binarized" and isinstance(model, LikelihoodModel):
            from zoo.evaluation import likelihood_metrics

            metrics |= likelihood_metrics(model.log_likelihood(splits.test.x),
                                          info.n_features)
        extra: dict[str, Any] = {**notes, "n_samples": n,
                                 "reference_classifier": reference.describe()}
        if run_dir is not None:
            extra["samples"] = str(save_sample_grid(samples, run_dir / "samples.png"))
        return Outcome(metrics, hparams, extra)

    def setting_split(self, dataset: str, setting: str) -> tuple[Arrays, Arrays]:
        """The dataset's fixed split in the setting's pixels, made once per suite run."""
        if (dataset, setting) not in self._splits:
            self._splits[dataset, setting] = setting_split(self.load(dataset), setting)
        return self._splits[dataset, setting]

    def reference(self, dataset: str, setting: str) -> ReferenceClassifier:
        """The reference classifier of the setting's fixed training split (cached on disk)."""
        if (dataset, setting) not in self._classifiers:
            train, test = self.setting_split(dataset, setting)
            n_classes = self.load(dataset).info.n_classes or int(train.y.max()) + 1
            self._classifiers[dataset, setting] = reference_classifier(train, test, n_classes)
        return self._classifiers[dataset, setting]

    def model_splits(self, cell: Cell, splits: Splits) -> Splits:
        """The held-out images as validation for models that select on it, else nothing:
        ``train_model`` would otherwise train on them, and they are the floor's real set."""
        if self.host.model(base_model(cell.model)).load().uses_validation:
            return splits
        return replace(splits, val=None)

    def floor(self, cell: Cell, reference: ReferenceClassifier, real: torch.Tensor,
              held_out: torch.Tensor) -> dict[str, float]:
        """FID and KID of held-out training images against the test images (real vs real),
        once per dataset, setting, seed and budget: the same for every model."""
        key = (cell.dataset, cell.setting, cell.seed, cell.budget)
        if key not in self._floors:
            floor = distances(reference.features, real, held_out, cell.seed)
            self._floors[key] = {"fid_floor": floor["fid"], "kid_floor": floor["kid"]}
        return self._floors[key]
