"""``zoo train`` and ``zoo evaluate``: single runs, stored like suite cells.

Training splits the data exactly as the suites do for the model's task (seeded; for a
labelled anomaly dataset the ``semi`` protocol, so labels never reach training), fits tabular
standardisation on the training split, keeps the best-validation parameters and saves a
checkpoint whose card records the dataset, seed and preprocessing. Evaluation on the same
dataset rebuilds that split and scores only its test part; on other data it scores it all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.data.loading import data_fingerprint, data_reference, load_dataset, warn_if_changed
from zoo.data.preprocess import Standardizer
from zoo.data.types import Dataset, Splits
from zoo.errors import ZooError
from zoo.evaluation import evaluate_model
from zoo.evaluation.samples import save_run_samples
from zoo.models import create_model, split_model_name
from zoo.models.checkpoints import check_fits_model, load_model, read_card, save_model
from zoo.plugins import get_host
from zoo.runs.lifecycle import (
    DATA_SHAPE_KEY,
    TEST_OUTPUTS_KEY,
    execute_run,
    global_rank,
    new_row,
    test_outputs_path,
)
from zoo.runs.results import Outcome, RunResult
from zoo.training import TrainConfig, device_name

if TYPE_CHECKING:
    from zoo.evaluation.reference_features import ReferenceClassifier
    from zoo.runs.store import Store


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


def protocol_suite(dataset: Dataset, task: str) -> str:
    """The suite whose protocol cuts ``dataset`` for ``task`` when it is trained alone: text
    as ``text-gen`` cuts it, series as ``ts-ad``, detection as ``tabular-ad`` and everything
    else as ``supervised``."""
    if dataset.info.modality == "text":
        return "text-gen"
    if "series" in dataset.meta:
        return "ts-ad"
    return "tabular-ad" if task == "detect" else "supervised"


def task_splits(dataset: Dataset, task: str, seed: int) -> Splits:
    """Train / validation / test splits for ``task``, cut by the suite that owns the data's
    protocol (:func:`protocol_suite`)."""
    return get_host().suite(protocol_suite(dataset, task)).load().splits_for(dataset, task, seed)


def _data_tasks(data: str, dataset: Dataset) -> tuple[str, ...]:
    host = get_host()
    if data in host.datasets():
        return host.dataset(data).tasks
    return dataset.tasks


def train_run(store: Store, model: str, data: str, *, backbone: str | None,
              hparams: dict[str, Any], seed: int, accelerator: str, devices: int,
              max_epochs: int, progress_bar: bool = False,
              num_nodes: int = 1) -> RunResult | None:
    """Train, save and store one run; ``None`` on non-zero DDP ranks.

    ``progress_bar`` draws the training's progress on stderr (``TrainConfig.progress_bar``);
    ``devices`` processes on each of ``num_nodes`` machines train together (DDP).
    """
    base, named_backbone = split_model_name(model)
    backbone = backbone or named_backbone
    spec = get_host().model(base)
    data = data_reference(data)
    dataset = load_dataset(data)
    data_sha256 = data_fingerprint(data)
    task = choose_task(spec.tasks, dataset, _data_tasks(data, dataset), base)
    splits = task_splits(dataset, task, seed)
    standardizer = None
    if splits.info.modality == "tabular":
        standardizer = Standardizer.fit(splits.train.x)
        splits = standardizer.splits(splits)
    if backbone is not None:
        hparams = {"backbone": backbone, **hparams}
    built = create_model(base, splits.info, seed=seed, **hparams)
    row = new_row("train", model=base, dataset=data,
                  device=device_name(accelerator, devices * num_nodes),
                  backbone=built.hyperparameters().get("backbone"), seed=seed,
                  hparams=built.hyperparameters())

    def train(run_dir: Path) -> Outcome:
        config = TrainConfig(seed=seed, accelerator=accelerator, devices=devices,
                             num_nodes=num_nodes, max_epochs=max_epochs, run_dir=run_dir,
                             progress_bar=progress_bar)
        metrics = built.fit(built.training_splits(splits), config)
        if global_rank() != 0:  # rank 0 saves what every rank trained
            return Outcome(metrics)
        extra = {"dataset": data, "data_sha256": data_sha256, "seed": seed,
                 "task": task, "run_id": row.id,
                 "preprocess": {"standardize": standardizer.to_dict()} if standardizer else {},
                 "metrics": metrics}
        if "vocab" in dataset.meta:  # so that token ids can be read back as text
            extra["vocab"] = dataset.meta["vocab"]
        checkpoint = save_model(built, run_dir / "model", extra=extra).resolve()
        save_run_samples(built, splits.info, run_dir, seed, vocab=dataset.meta.get("vocab"))
        return Outcome(metrics, extra={DATA_SHAPE_KEY: splits.shape()},
                       checkpoint=str(checkpoint))

    return execute_run(store, row, train)


def _checkpoint_dir(store: Store, run: str) -> Path:
    path = Path(run)
    if path.is_dir():
        return path
    stored = store.get(run)
    if not stored.checkpoint:
        raise ZooError(f"run {stored.id} has no checkpoint (status {stored.status})")
    return Path(stored.checkpoint)


def reference_for_samples(dataset: Dataset, splits: Splits) -> ReferenceClassifier | None:
    """The classifier in whose features ``image-gen`` measures FID and KID, trained on the
    run's own training split (cached on disk) so that it never saw the test images; ``None``
    unless the run generates labelled images."""
    train = splits.train
    if splits.info.task != "generate" or splits.info.modality != "image" or train.y is None:
        return None
    from zoo.evaluation.reference_features import reference_classifier

    n_classes = dataset.info.n_classes or int(train.y.max()) + 1
    return reference_classifier(train, splits.test, n_classes)


def evaluate_run(store: Store, run: str, data: str | None = None) -> RunResult | None:
    """Evaluate a checkpoint (or a stored run's) on ``data`` and store the result; ``None`` on
    a non-zero rank of a distributed launch (rank 0 stores and reports).

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
    row = new_row("evaluate", model=card["model"], dataset=data,
                  device=device_name("auto"), backbone=card["hparams"].get("backbone"),
                  seed=card.get("seed"), hparams=card["hparams"], checkpoint=str(directory))

    def evaluate(run_dir: Path) -> Outcome:
        outputs_path = test_outputs_path(run_dir, info.task)
        metrics = evaluate_model(model, info, test, seed=seed, outputs_path=outputs_path,
                                 features=None if reference is None else reference.features)
        if reference is not None and "fid" in metrics:
            metrics["ref_accuracy"] = reference.accuracy
        extra: dict[str, Any] = {DATA_SHAPE_KEY: {"test": len(test), "sample": list(info.shape)}}
        if outputs_path is not None:
            extra[TEST_OUTPUTS_KEY] = str(outputs_path)
        return Outcome(metrics, extra=extra)

    return execute_run(store, row, evaluate)
