"""``zoo train`` and ``zoo evaluate``: single runs, stored like suite cells.

Training splits the data exactly as the suites do for the model's task (seeded; for a
labelled anomaly dataset the ``semi`` protocol, so labels never reach training), fits tabular
standardisation on the training split, keeps the best-validation parameters and saves a
checkpoint whose card records the dataset, seed and preprocessing. Evaluation on the same
dataset rebuilds that split and scores only its test part; on other data it scores it all.
"""

from __future__ import annotations

import time
import uuid
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.checkpoints import check_fits_model, load_model, read_card, save_model
from zoo.data.loading import data_fingerprint, data_reference, load_dataset, warn_if_changed
from zoo.data.preprocess import Standardizer
from zoo.data.splits import check_training_rows, make_splits
from zoo.data.types import Arrays, Dataset, Splits
from zoo.errors import ZooError
from zoo.evaluation import evaluate_model
from zoo.model import create_model, display_name, split_model_name
from zoo.plugins import get_host
from zoo.results import RunResult, environment
from zoo.suites.detection import detection_splits
from zoo.suites.runner import attempt, describe_failure, global_rank, runs_dir
from zoo.training import TrainConfig, device_name

if TYPE_CHECKING:
    from zoo.data.types import DataInfo
    from zoo.store import Store
    from zoo.suites.reference_features import ReferenceClassifier


def choose_task(model_tasks: tuple[str, ...], dataset: Dataset, data_tasks: tuple[str, ...],
                model: str) -> str:
    """The data's own task (inferred from a user's labels) when the model has it, else the
    model's first task that the data supports."""
    if dataset.info.task in model_tasks and dataset.info.task in data_tasks:
        return dataset.info.task
    for task in model_tasks:
        if task in data_tasks:
            return task
    raise ZooError(f"model {model!r} ({', '.join(model_tasks)}) cannot be trained on "
                   f"{dataset.name!r} ({', '.join(data_tasks)})")


def task_splits(dataset: Dataset, task: str, seed: int) -> Splits:
    """Train / validation / test splits for ``task``, as the suites make them."""
    if dataset.info.modality == "text":
        return text_windows(dataset, task, seed)
    if "series" in dataset.meta:
        return series_windows(dataset, task)
    if task == "detect":
        if dataset.all().y is not None:
            return detection_splits(dataset, "semi", seed)
        data = Arrays(dataset.all().x)
        check_training_rows(dataset.name, len(data), "training on every row (no labels)")
        return Splits(data, None, data, replace(dataset.info, task="detect"))
    return make_splits(dataset, seed=seed, task=task)


def text_windows(dataset: Dataset, task: str, seed: int) -> Splits:
    """A text cut as the ``text-gen`` suite cuts it at its ``quick`` budget: windows of 64
    characters, nanoGPT's 90/10 split, the end of the 90% held out for validation."""
    from zoo.suites.text_gen import TEXT_BUDGETS, character_ids, text_splits

    splits = text_splits(character_ids(dataset), len(dataset.meta["vocab"]),
                         TEXT_BUDGETS["quick"].context, seed)
    return replace(splits, info=replace(splits.info, task=task))


def series_windows(dataset: Dataset, task: str) -> Splits:
    """Series cut as the ``ts-ad`` suite cuts each of them, pooled into one training set:
    normalised by their probation, trained on its windows, validated on its calibration
    part, tested on every window (labelled by its last step, read only when scoring)."""
    import numpy as np

    from zoo.suites.ts_ad import WINDOW, WINDOW_INFO, check_length, prepare_series, series_splits

    parts, labels = [], []
    for key, series in dataset.meta["series"].items():
        check_length(dataset.name, key, len(series["values"]))
        windows, layout, _ = prepare_series(series["values"])
        parts.append(series_splits(windows, layout))
        labels.append(None if series.get("labels") is None else series["labels"][WINDOW - 1:])
    y = None if any(part is None for part in labels) else np.concatenate(labels)
    return Splits(Arrays(np.concatenate([p.train.x for p in parts])),
                  Arrays(np.concatenate([p.val.x for p in parts])),
                  Arrays(np.concatenate([p.test.x for p in parts]), y),
                  replace(WINDOW_INFO, task=task))


def _data_tasks(data: str, dataset: Dataset) -> tuple[str, ...]:
    host = get_host()
    if data in host.datasets():
        return host.dataset(data).tasks
    return dataset.tasks


def train_run(store: Store, model: str, data: str, *, backbone: str | None,
              hparams: dict[str, Any], seed: int, accelerator: str, devices: int,
              max_epochs: int) -> RunResult | None:
    """Train, save and store one run; ``None`` on non-zero DDP ranks."""
    base, named_backbone = split_model_name(model)
    backbone = backbone or named_backbone
    host = get_host()
    spec = host.model(base)
    data = data_reference(data)
    dataset = load_dataset(data)
    data_sha256 = data_fingerprint(data)
    task = choose_task(spec.tasks, dataset, _data_tasks(data, dataset), base)
    splits = task_splits(dataset, task, seed)
    standardizer = None
    if splits.info.modality == "tabular":
        standardizer = Standardizer.fit(splits.train.x)
        splits = standardizer.splits(splits)
    built = create_model(display_name(base, backbone), splits.info, seed=seed, **hparams)
    chosen_backbone = built.hyperparameters().get("backbone")
    env = environment(device_name(accelerator, devices))
    plugin = host.plugins.get(spec.plugin)
    row = RunResult(
        id=uuid.uuid4().hex, kind="train", model=base, backbone=chosen_backbone,
        plugin=spec.plugin, plugin_version=plugin.version if plugin else None, dataset=data,
        suite=None, suite_version=None, setting=None, seed=seed, budget=None,
        hparams=built.hyperparameters(), status="running", metrics={}, seconds=None,
        device=env.get("device"), versions=env.get("versions", {}),
        git_commit=env.get("git_commit"))
    primary = global_rank() == 0
    if primary:
        store.start(row)
    run_dir = runs_dir(store) / row.id
    config = TrainConfig(seed=seed, accelerator=accelerator, devices=devices,
                         max_epochs=max_epochs, run_dir=run_dir)
    fit_splits = built.training_splits(splits)
    start = time.perf_counter()
    status, error, fitted = attempt(store, row.id, lambda: built.fit(fit_splits, config),
                                    primary=primary)
    metrics, checkpoint = fitted or {}, None
    if not primary:
        return None
    if status == "ok":
        extra = {"dataset": data, "data_sha256": data_sha256, "seed": seed,
                 "task": task, "run_id": row.id,
                 "preprocess": {"standardize": standardizer.to_dict()} if standardizer else {},
                 "metrics": metrics}
        if "vocab" in dataset.meta:  # so that token ids can be read back as text
            extra["vocab"] = dataset.meta["vocab"]
        checkpoint = str(save_model(built, run_dir / "model", extra=extra).resolve())
        save_samples(built, splits.info, run_dir, seed, vocab=dataset.meta.get("vocab"))
    store.finish(row.id, status=status, metrics=metrics, seconds=time.perf_counter() - start,
                 error=error, checkpoint=checkpoint)
    stored = store.get(row.id)
    host.call_each("zoo_run_finished", result=stored)
    return stored


def _checkpoint_dir(store: Store, run: str) -> Path:
    path = Path(run)
    if path.is_dir():
        return path
    stored = store.get(run)
    if not stored.checkpoint:
        raise ZooError(f"run {stored.id} has no checkpoint (status {stored.status})")
    return Path(stored.checkpoint)


SAMPLE_FILES = ("samples.png", "sample.txt")  # what an image / a text generator leaves


def save_samples(model: Any, info: DataInfo, run_dir: Path, seed: int, *,
                 vocab: list[str] | None = None) -> Path | None:
    """Samples of a trained generator in its run folder, drawn with ``seed``, for a first
    look: a grid of 64 images, or 1,000 characters of text (decoded with ``vocab``), as the
    ``image-gen`` and ``text-gen`` suites save them.

    Returns ``None`` for other models, or with a warning when the samples are unusable: the
    run is stored as trained either way (``zoo evaluate`` reports the fault).
    """
    if info.task != "generate" or not hasattr(model, "sample"):
        return None
    try:
        if info.modality == "image":
            return _save_image_samples(model, info, run_dir / SAMPLE_FILES[0], seed)
        if info.modality == "text" and vocab:
            from zoo.suites.text_gen import TextGenerationSuite, save_text

            text = TextGenerationSuite.sample_text(model, vocab, seed)
            return save_text(text, run_dir / SAMPLE_FILES[1])
    except ZooError as exc:
        warnings.warn(f"no samples saved: {exc}", stacklevel=2)
    return None


def _save_image_samples(model: Any, info: DataInfo, path: Path, seed: int) -> Path:
    from zoo.suites.image_gen import GRID_IMAGES, draw_samples, save_sample_grid

    return save_sample_grid(draw_samples(model, GRID_IMAGES, info.shape, seed), path,
                            info.value_range or (0.0, 1.0))


def reference_for_samples(dataset: Dataset, splits: Splits) -> ReferenceClassifier | None:
    """The classifier in whose features ``image-gen`` measures FID and KID, trained on the
    run's own training split (cached on disk) so that it never saw the test images; ``None``
    unless the run generates labelled images."""
    train = splits.train
    if splits.info.task != "generate" or splits.info.modality != "image" or train.y is None:
        return None
    from zoo.suites.reference_features import reference_classifier

    n_classes = dataset.info.n_classes or int(train.y.max()) + 1
    return reference_classifier(train, splits.test, n_classes)


def evaluate_run(store: Store, run: str, data: str | None = None) -> RunResult:
    """Evaluate a checkpoint (or a stored run's) on ``data`` and store the result.

    ``data=None`` is the dataset the model was trained on, whose test split is scored.
    """
    directory = _checkpoint_dir(store, run)
    card = read_card(directory)
    if data is None:
        if not card.get("dataset"):
            raise ZooError(f"the card in {directory} names no training data; give --data")
        data = str(card["dataset"])
    data = data_reference(data)
    model = load_model(directory)
    dataset = load_dataset(data)
    info = model.data_info
    seed = int(card.get("seed", 0))
    reference = None
    if data == data_reference(str(card.get("dataset"))):  # older cards hold relative paths
        warn_if_changed(data, card.get("data_sha256"))
        splits = task_splits(dataset, info.task, seed)
        test, reference = splits.test, reference_for_samples(dataset, splits)
    else:
        test = dataset.all()
    check_fits_model(data, test, info)
    standardize = card.get("preprocess", {}).get("standardize")
    if standardize:
        test = Standardizer.from_dict(standardize).arrays(test)
    start = time.perf_counter()
    status, error, metrics = "ok", None, {}
    try:
        metrics = evaluate_model(model, info, test, seed=seed,
                                 features=None if reference is None else reference.features)
        if reference is not None and "fid" in metrics:
            metrics["ref_accuracy"] = reference.accuracy
    except ZooError as exc:
        status, error = "failed", describe_failure(exc)
    env = environment(device_name("auto"))
    spec = get_host().model(card["model"])
    row = RunResult(
        id=uuid.uuid4().hex, kind="evaluate", model=card["model"],
        backbone=card["hparams"].get("backbone"), plugin=spec.plugin, plugin_version=None,
        dataset=data, suite=None, suite_version=None, setting=None,
        seed=card.get("seed"), budget=None, hparams=card["hparams"], status=status,
        metrics=metrics, seconds=time.perf_counter() - start, device=env.get("device"),
        versions=env.get("versions", {}), git_commit=env.get("git_commit"), error=error,
        checkpoint=str(directory))
    store.record(row)
    stored = store.get(row.id)
    get_host().call_each("zoo_run_finished", result=stored)
    return stored
