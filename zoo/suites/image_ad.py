"""One-class image anomaly detection: the Deep SVDD protocol, one normal class at a time.

Ruff et al., "Deep One-Class Classification", ICML 2018, section 4.1
(https://proceedings.mlr.press/v80/ruff18a.html):

- **A cell per normal class** ``k``; its row's setting is ``class-k``, so resuming and the
  leaderboard work per class. ``zoo bench image-ad --classes 0,3`` runs some; the default is
  every class of each dataset.
- **Training**: the training images of class ``k`` only, labels unused. A tenth of them, drawn
  with the cell's seed, is held out unlabelled for the validation loss of models that select
  on it; models that do not (the scikit-learn baselines, and ``deep-svdd[cnn]``, whose image
  defaults follow the official code: every image of the class, no epoch chosen on held-out
  data) train on those images too.
- **Test**: the whole test set; class ``k`` is normal (label 0), every other class is
  anomalous (label 1).
- **Splits**: MNIST and Fashion-MNIST keep their fixed 60,000 / 10,000 train / test split.
  digits has none, so the suite fixes one, as MNIST's is fixed: a split stratified by class
  with :data:`TEST_FRACTION` (30%) of the images for testing, drawn once with
  :data:`FIXED_SPLIT_SEED` and the same for every cell and seed (about 126 training and 54 test
  images per class). Seeds vary the models and the validation hold-out, never the test set.
- **Preprocessing**, the paper's, so that our numbers compare with its rows: global contrast
  normalisation of each image with the l1 norm (minus its mean pixel, divided by its mean
  absolute deviation from it), then min-max scaling with the smallest and largest value over
  the training images of class ``k``. These are the per-class constants of the official code
  (github.com/lukasruff/Deep-SVDD-PyTorch, ``src/datasets/mnist.py``), which
  :class:`ContrastMinMax` reproduces on MNIST. Test images go through the same map: no
  statistic is ever taken from the test set.
- **Value range**: the models are told ``value_range=(0, 1)``, the exact range of the training
  images they are fitted to, which is what a model builds its output layer for (the
  autoencoders' sigmoid, as in the paper's). Test images are not clipped, so images unlike
  class ``k`` can leave that range (on MNIST with class 0 normal, 3% of the test images have
  a pixel above 1, the largest near 2), exactly as in the paper.

Metrics: AUROC (primary) and AUPRC of the anomaly scores on the test set. The leaderboard has
a section per dataset with a column per normal class and the mean over classes, beside the
paper's MNIST rows (``benchmarks/references/image-ad.csv``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from zoo.data.loading import is_user_file
from zoo.data.preprocess import one_class_detectable, one_class_scaling
from zoo.data.splits import fixed_train_test
from zoo.data.types import Arrays, Dataset, Splits
from zoo.errors import ZooError
from zoo.plugins.specs import DatasetSpec
from zoo.runs.results import Outcome
from zoo.suites.base import Budget, Cell, Suite
from zoo.suites.common import train_and_evaluate

VALIDATION_FRACTION = 0.1
#: Share of a dataset without a fixed split (digits) that the suite holds out for testing.
TEST_FRACTION = 0.3
FIXED_SPLIT_SEED = 0
CLASS_PREFIX = "class-"


def class_setting(normal: int) -> str:
    """The setting of the cells whose normal class is ``normal``: ``class-3``."""
    return f"{CLASS_PREFIX}{normal}"


def normal_class(setting: str) -> int:
    """The normal class of a setting: ``class-3`` -> 3."""
    return int(setting.removeprefix(CLASS_PREFIX))


def labelled_split(dataset: Dataset) -> tuple[Arrays, Arrays]:
    """The dataset's fixed train / test split, or the suite's fixed stratified one.

    Raises:
        ZooError: The dataset has no class labels.
    """
    try:
        return fixed_train_test(dataset, test_fraction=TEST_FRACTION, seed=FIXED_SPLIT_SEED)
    except ZooError:
        raise ZooError(f"dataset {dataset.name!r} has no class labels; the one-class "
                       "protocol needs them to choose the normal class") from None


def class_count(dataset: Dataset) -> int:
    """How many classes the dataset's labels 0 .. K-1 name."""
    if dataset.info.n_classes:
        return dataset.info.n_classes
    train, test = labelled_split(dataset)
    return int(max(train.y.max(), test.y.max())) + 1


def one_class_split(dataset: Dataset, normal: int, seed: int) -> Splits:
    """Train on the training images of class ``normal``; test on the whole test set; the
    images as the dataset has them (:func:`one_class_splits` preprocesses them).

    Args:
        dataset: A labelled image dataset.
        normal: The normal class; test labels are 0 for it and 1 for every other class.
        seed: Draws the validation hold-out (a tenth of the training images).

    Returns:
        Splits whose training and validation rows carry no labels; their ``info`` is the
        preprocessed images' (``value_range`` ``(0, 1)``).
    """
    train, test = labelled_split(dataset)
    images = train.x[train.y == normal]
    order = np.random.default_rng(seed).permutation(len(images))
    n_val = int(len(images) * VALIDATION_FRACTION)
    val, fit = np.sort(order[:n_val]), np.sort(order[n_val:])
    info = replace(dataset.info, task="detect", n_classes=None, value_range=(0.0, 1.0))
    return Splits(train=Arrays(images[fit]), val=Arrays(images[val]) if n_val else None,
                  test=Arrays(test.x, (test.y != normal).astype(np.int64)), info=info)


def one_class_splits(dataset: Dataset, normal: int, seed: int) -> Splits:
    """:func:`one_class_split`, preprocessed by :func:`one_class_scaling`."""
    split = one_class_split(dataset, normal, seed)
    return one_class_scaling(split).splits(split)


def check_normal_class(dataset: Dataset, normal: int) -> None:
    """Refuse a normal class that is not one of the dataset's classes, naming them.

    Raises:
        ZooError: ``normal`` is outside ``0 .. K-1``.
    """
    count = class_count(dataset)
    if not 0 <= normal < count:
        raise ZooError(f"class {normal} is not a class of {dataset.name}; "
                       f"valid: 0-{count - 1}")


def parse_class(text: str) -> int:
    """A ``--classes`` entry as a class number.

    Raises:
        ZooError: ``text`` is not an integer.
    """
    try:
        return int(text)
    except ValueError:
        raise ZooError(f"class {text!r} is not a class number; give numbers such as "
                       "--classes 0,3") from None


class ImageAnomalySuite(Suite):
    """One-class anomaly detection on MNIST, Fashion-MNIST and digits (Deep SVDD protocol).

    Budgets: ``smoke`` trains one epoch on at most 128 images and tests on 512; ``quick``
    (CPU minutes per class) trains on at most 2,000 images of the class (MNIST has about
    6,000; the row says when it was cut) for up to 30 epochs or 2 minutes; ``full`` is the
    paper's: every training image of the class and 150 epochs (``deep-svdd[cnn]``, with its
    150 pretraining epochs: about 6 minutes a class on one CPU thread).
    """

    name = "image-ad"
    settings = ()  # one per normal class of each dataset: see settings_for
    default_datasets = ("digits", "mnist", "fashion-mnist")
    default_seeds = 3
    budgets = {
        "smoke": Budget(max_epochs=1, max_train_rows=128, max_test_rows=512),
        "quick": Budget(max_epochs=30, max_time=120, patience=5, max_train_rows=2000),
        "full": Budget(max_epochs=150),
    }

    def dataset_tasks(self, spec: DatasetSpec) -> tuple[str, ...]:
        return ("detect",) if one_class_detectable(spec.modality, spec.tasks) else ()

    def _check_dataset(self, name: str) -> str:
        if not is_user_file(name):
            spec = self.host.dataset(name)
            if not self.dataset_tasks(spec):
                raise ZooError(f"dataset {name!r} ({spec.modality}, {', '.join(spec.tasks)}) "
                               f"does not fit suite {self.name!r}: it needs images with class "
                               f"labels, such as {', '.join(self.default_datasets)}")
        return super()._check_dataset(name)

    def check_settings(self, setting: str | None, classes: list[str] | None) -> None:
        if setting:
            raise ZooError(f"suite {self.name!r} has a setting per normal class; choose "
                           "classes with --classes (e.g. --classes 0,3), not --setting")
        for text in classes or []:
            parse_class(text)

    def settings_for(self, dataset: str, setting: str | None,
                     classes: list[str] | None) -> list[str]:
        loaded = self.load(dataset)
        chosen = [parse_class(text) for text in classes] if classes else range(
            class_count(loaded))
        for normal in chosen:
            check_normal_class(loaded, normal)
        return [class_setting(normal) for normal in dict.fromkeys(chosen)]

    @classmethod
    def splits_for(cls, dataset: Dataset, task: str, seed: int,
                   normal_class: int | None = None) -> Splits:
        """The one-class split of ``dataset`` with ``normal_class`` normal, its images as the
        dataset has them (:func:`one_class_split`): ``zoo train --normal-class`` fits
        :func:`~zoo.data.preprocess.one_class_scaling` and keeps it in the model's card.

        Raises:
            ZooError: No normal class, or one the dataset lacks.
        """
        if normal_class is None:
            raise ZooError(f"dataset {dataset.name!r} has class labels, not anomaly labels: "
                           "choose the normal class, e.g. --normal-class 0 (valid: "
                           f"0-{class_count(dataset) - 1}); the other classes are anomalies")
        check_normal_class(dataset, normal_class)
        return one_class_split(dataset, normal_class, seed)

    #: The setting of a normal class, for single runs' rows (``zoo train --normal-class``).
    class_setting = staticmethod(class_setting)

    def run_cell(self, cell: Cell, run_dir: Path | None = None) -> Outcome:
        dataset = self.load(cell.dataset)
        normal = normal_class(cell.setting)
        outcome = train_and_evaluate(self, cell, one_class_splits(dataset, normal, cell.seed),
                                     run_dir)
        names = dataset.meta.get("class_names") or []
        if normal < len(names):
            outcome.extra["normal_class"] = names[normal]
        return outcome
