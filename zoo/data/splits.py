"""Train / validation / test splits, reproducible from a seed, train-only standardisation,
cross-validation folds of the non-test rows, and sealed test splits for tuning."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from zoo.data.types import Arrays, DataInfo, Dataset, Splits
from zoo.errors import ZooError
from zoo.plugins.specs import TASKS

if TYPE_CHECKING:
    import numpy as np

#: Modalities whose sample order is time: split by position (past -> future), never shuffled.
ORDERED_MODALITIES = ("timeseries", "text")
#: The fewest training rows a run may have: fewer have no spread to standardise by or to learn
#: a distribution from, so they would train "ok" on nothing.
MIN_TRAIN_ROWS = 3
_STRATIFIED_TASKS = ("classify", "detect")
_LABELLED_TASKS = ("classify", "regress")


def make_splits(dataset: Dataset, *, seed: int, task: str, val_fraction: float = 0.15,
                test_fraction: float = 0.15) -> Splits:
    """Split a dataset into train, validation and test sets.

    - A dataset with a fixed train/test split (MNIST) keeps its test set; the validation set
      is ``val_fraction`` of its training set and ``test_fraction`` is unused.
    - Otherwise the test and validation sets are ``test_fraction`` and ``val_fraction`` of all
      samples.
    - ``timeseries`` and ``text`` are split by position: the first part trains, the next
      validates, the last tests (no shuffling: the model never sees the future).
    - Otherwise samples are shuffled, stratified by label for ``classify`` and ``detect`` when
      every class has at least two members (else unstratified).

    Args:
        dataset: The loaded dataset.
        seed: Same seed, same splits.
        task: The task of this run; it replaces ``dataset.info.task`` in the splits' info.
        val_fraction: Share held out for validation; 0 gives ``val=None``.
        test_fraction: Share held out for testing (datasets without a fixed test set).

    Raises:
        ZooError: An unknown task, a task that needs labels the data lacks, fractions outside
            [0, 1) or too few samples to split.
    """
    import numpy as np

    info = _info_for_task(dataset, task)
    fixed_test = dataset.train is not None and dataset.test is not None
    _check_fractions(val_fraction, 0.0 if fixed_test else test_fraction)
    rng = np.random.default_rng(seed)
    ordered = info.modality in ORDERED_MODALITIES
    fractions = (val_fraction, None if fixed_test else test_fraction)
    n = len(dataset.train) if fixed_test else len(dataset.all())
    _check_enough(dataset.name, n, *fractions)
    n_test, n_val = _held_out_counts(n, *fractions)
    if fixed_test:
        pool, test = dataset.train, dataset.test
    else:
        pool, test = _hold_out(dataset.all(), n_test, task, ordered, rng)
    train, val = _hold_out(pool, n_val, task, ordered, rng) if n_val else (pool, None)
    return Splits(train=train, val=val, test=test, info=info)


def with_validation_in_training(splits: Splits) -> Splits:
    """The validation rows moved into training, for models that select nothing on them."""
    if splits.val is None or not len(splits.val):
        return splits
    return Splits(_concatenated(splits.train, splits.val), None, splits.test, splits.info)


def standardize(splits: Splits) -> Splits:
    """Tabular splits scaled with the training split's statistics (see :class:`Standardizer`)."""
    from zoo.data.preprocess import Standardizer

    if splits.info.modality != "tabular":
        raise ValueError(f"standardize is for tabular data, not {splits.info.modality}")
    scaled = Standardizer.fit(splits.train.x).splits(splits)
    return replace(scaled, info=replace(splits.info, value_range=None))


def fixed_train_test(dataset: Dataset, *, test_fraction: float,
                     seed: int = 0) -> tuple[Arrays, Arrays]:
    """The dataset's own train / test split, or one drawn once and kept fixed.

    Suites that vary only the models across seeds (image-ad, image-gen) need a test set that
    never changes: MNIST's fixed split, and for a dataset without one (digits) a split
    stratified by class with ``test_fraction`` of the samples, always drawn with ``seed``.

    Raises:
        ZooError: The dataset has no class labels to stratify by.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    parts = [a for a in (dataset.data, dataset.train, dataset.test) if a is not None]
    if any(a.y is None for a in parts):
        raise ZooError(f"dataset {dataset.name!r} has no class labels")
    if dataset.train is not None and dataset.test is not None:
        return dataset.train, dataset.test
    data = dataset.all()
    train, test = train_test_split(np.arange(len(data)), test_size=test_fraction,
                                   random_state=seed, stratify=data.y)
    return data.subset(np.sort(train)), data.subset(np.sort(test))


def _info_for_task(dataset: Dataset, task: str) -> DataInfo:
    if task not in TASKS:
        raise ZooError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    # The parts as they are: concatenating a fixed split just to look at labels would copy it.
    parts = [a for a in (dataset.data, dataset.train, dataset.test) if a is not None]
    if task in _LABELLED_TASKS and any(a.y is None for a in parts):
        raise ZooError(f"dataset {dataset.name!r} has no labels, so it cannot be used "
                       f"for {task}")
    if task == "classify":
        import numpy as np

        check_labels(dataset.name, np.concatenate([a.y for a in parts]), task)
    info = replace(dataset.info, task=task)
    if task == "classify" and info.n_classes is None:  # e.g. anomaly labels used as classes
        info = replace(info, n_classes=max(int(a.y.max()) for a in parts) + 1)
    return info


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1
            and val_fraction + test_fraction < 1):
        raise ZooError(f"val_fraction {val_fraction} and test_fraction {test_fraction} must "
                       f"each be in [0, 1) and sum to less than 1")


def _held_out_counts(n: int, val_fraction: float,
                     test_fraction: float | None) -> tuple[int, int]:
    """``(n_test, n_val)`` of ``n`` samples; one test sample at least, none held out of a
    fixed split's training set (``test_fraction=None``)."""
    n_test = 0 if test_fraction is None else max(1, round(n * test_fraction))
    return n_test, round(n * val_fraction)


def _split_is_enough(n: int, val_fraction: float, test_fraction: float | None) -> bool:
    """Whether ``n`` samples leave :data:`MIN_TRAIN_ROWS` to train on and a validation sample
    when there is a validation fraction."""
    n_test, n_val = _held_out_counts(n, val_fraction, test_fraction)
    return n - n_test - n_val >= MIN_TRAIN_ROWS and (n_val >= 1 or val_fraction == 0)


def _check_enough(name: str, n: int, val_fraction: float, test_fraction: float | None) -> None:
    if not _split_is_enough(n, val_fraction, test_fraction):
        smallest = next(m for m in range(n + 1, 10**7)
                        if _split_is_enough(m, val_fraction, test_fraction))
        raise ZooError(f"dataset {name!r}: {n} samples are too few for a train/validation/test "
                       f"split; it needs at least {smallest} ({MIN_TRAIN_ROWS} to train on)")


def check_training_rows(name: str, n_train: int, how: str) -> None:
    """Refuse a protocol that leaves fewer than :data:`MIN_TRAIN_ROWS` rows to train on.

    Args:
        name: The dataset, for the message.
        n_train: The rows the protocol trains on.
        how: The protocol in words, e.g. ``"setting 'semi' (half of the 4 normal rows)"``.

    Raises:
        ZooError: Too few training rows, saying how many are needed.
    """
    if n_train < MIN_TRAIN_ROWS:
        raise ZooError(f"dataset {name!r}: {how} leaves {n_train} rows to train on; at least "
                       f"{MIN_TRAIN_ROWS} are needed")


def check_labels(name: str, labels: np.ndarray | None, task: str) -> None:
    """Refuse labels that cannot train or score ``task``: none at all, a single class for
    ``classify``, or for ``detect`` labels other than 0 / 1 (class labels) or of one value.

    Raises:
        ZooError: What is wrong with the labels, and what the task needs.
    """
    import numpy as np

    if labels is None:
        needs = "0/1 labels (1 = anomaly)" if task == "detect" else "labels"
        raise ZooError(f"dataset {name!r} has no labels; {task} needs {needs}")
    values = np.unique(labels)
    if task == "classify" and len(values) < 2:
        raise ZooError(f"dataset {name!r}: every label is {values[0]}, a single class; "
                       f"classify needs two classes or more")
    if task == "detect" and not set(values.tolist()) <= {0, 1}:
        raise ZooError(f"dataset {name!r}: labels {values.min()}..{values.max()} are not "
                       f"anomaly labels; detect scores against 0 (normal) and 1 (anomaly) "
                       f"(a --normal-class run scores its own dataset's test split)")
    if task == "detect" and len(values) < 2:
        missing = "anomalies (label 1)" if values[0] == 0 else "normal samples (label 0)"
        raise ZooError(f"dataset {name!r}: every label is {values[0]}, so there are no "
                       f"{missing} to score against; detect needs both 0 (normal) and "
                       f"1 (anomaly)")


def _hold_out(arrays: Arrays, n_out: int, task: str, ordered: bool,
              rng: np.random.Generator) -> tuple[Arrays, Arrays]:
    """Split ``arrays`` into ``(kept, held_out)`` with ``n_out`` samples held out.

    Ordered data keeps its head and holds out its tail; other data is shuffled, stratified
    where :func:`_stratify_by` allows.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    n_keep = len(arrays) - n_out
    if ordered:  # slices, so a long text or series is not copied
        head = Arrays(arrays.x[:n_keep], None if arrays.y is None else arrays.y[:n_keep])
        tail = Arrays(arrays.x[n_keep:], None if arrays.y is None else arrays.y[n_keep:])
        return head, tail
    keep, out = train_test_split(
        np.arange(len(arrays)), test_size=n_out,
        random_state=int(rng.integers(2**31 - 1)),  # sklearn takes an int seed, not a Generator
        stratify=_stratify_by(arrays.y, task, n_keep, n_out))
    return arrays.subset(keep), arrays.subset(out)


def _stratify_by(labels: np.ndarray | None, task: str, n_keep: int,
                 n_out: int) -> np.ndarray | None:
    """The labels to stratify on, or ``None`` where stratification is impossible.

    scikit-learn needs every class to have two members and each side to have room for one
    of every class.
    """
    import numpy as np

    if labels is None or task not in _STRATIFIED_TASKS:
        return None
    counts = np.unique(labels, return_counts=True)[1]
    if counts.min() < 2 or min(n_keep, n_out) < len(counts):
        return None
    return labels


def sealed_test(splits: Splits, why: str) -> Splits:
    """``splits`` with its test split replaced by a :class:`SealedArrays` of as many rows, so
    that whatever trains or chooses on them cannot read it (reading raises ``ZooError``)."""
    from zoo.data.types import SealedArrays

    return replace(splits, test=SealedArrays(len(splits.test), why))


def check_fold_count(splits: Splits, k: int) -> None:
    """Refuse ``k`` folds that :func:`cross_validation_folds` cannot cut from ``splits``,
    without cutting them (a study checks ``--cv K`` before it is created).

    Raises:
        ZooError: ``k`` below 2 or more folds than the pool has rows for.
    """
    n = len(splits.train) + (0 if splits.val is None else len(splits.val))
    ordered = splits.info.modality in ORDERED_MODALITIES
    needed = (k + 1) * MIN_TRAIN_ROWS if ordered else k * MIN_TRAIN_ROWS
    if k < 2 or n < needed:
        raise ZooError(f"--cv {k}: cross-validation needs 2 folds or more, and {needed} "
                       f"non-test rows for {k} folds; the data has {n}")


def cross_validation_folds(splits: Splits, k: int, seed: int) -> list[Splits]:
    """``k`` train / validation folds of the non-test rows of ``splits`` (train and val
    pooled), each with the test split sealed (:func:`sealed_test`).

    - ``timeseries`` and ``text`` (ordered data): time-ordered expanding folds, scikit-learn's
      ``TimeSeriesSplit``: the pool cut into ``k + 1`` consecutive blocks, fold ``i`` trains on
      blocks ``0..i`` and validates on block ``i + 1``, so it never trains on the future;
    - labelled ``classify`` and ``detect`` data: stratified folds (the labels only choose
      the folds and score the validation rows; they never reach training beyond what the
      protocol already gives it);
    - anything else: shuffled folds.

    Every pooled row is in exactly one validation fold (in at most one for ordered data,
    whose first block only ever trains). Same seed, same folds.

    Raises:
        ZooError: ``k`` below 2 or more folds than the pool has rows for.
    """
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    check_fold_count(splits, k)
    pool = splits.train if splits.val is None else _concatenated(splits.train, splits.val)
    n = len(pool)
    ordered = splits.info.modality in ORDERED_MODALITIES
    rows = np.arange(n)
    if ordered:
        cuts = TimeSeriesSplit(n_splits=k).split(rows)
    elif _stratify_by(pool.y, splits.info.task, n - n // k, n // k) is not None \
            and np.unique(pool.y, return_counts=True)[1].min() >= k:
        cuts = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(rows, pool.y)
    else:
        cuts = KFold(n_splits=k, shuffle=True, random_state=seed).split(rows)
    sealed = sealed_test(splits, "cross-validation folds choose on validation rows only")
    return [replace(sealed, train=pool.subset(np.sort(fit)), val=pool.subset(np.sort(held)))
            for fit, held in cuts]


def _concatenated(first: Arrays, second: Arrays) -> Arrays:
    import numpy as np

    y = None if first.y is None or second.y is None else np.concatenate([first.y, second.y])
    return Arrays(np.concatenate([first.x, second.x]), y)
