"""``zoo train`` and ``zoo evaluate``: single runs, stored like suite cells.

Training splits the data exactly as the suites do for the model's task (seeded; for a
labelled anomaly dataset the ``semi`` protocol, so labels never reach training; for images with
class labels ``image-ad``'s one-class protocol around ``--normal-class``), fits the
preprocessing on the training split (tables standardised, one-class images scaled as
``image-ad`` scales them), keeps the best-validation parameters and saves a checkpoint whose
card records the dataset, seed, normal class and preprocessing. Evaluation on the same
dataset rebuilds that split and scores only its test part; on other data it scores it all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.data.loading import data_fingerprint, data_reference, load_dataset, warn_if_changed
from zoo.data.preprocess import (
    FittedTransform,
    Standardizer,
    one_class_detectable,
    one_class_scaling,
    preprocess_arrays,
    preprocess_record,
)
from zoo.data.types import Arrays, DataInfo, Dataset, Splits
from zoo.errors import ZooError
from zoo.evaluation import evaluate_model
from zoo.evaluation.samples import save_run_samples
from zoo.models import create_model, split_model_name
from zoo.models.checkpoints import check_fits_model, load_model, read_card, save_model
from zoo.plugins import get_host
from zoo.runs.lifecycle import (
    DATA_SHAPE_KEY,
    TEST_OUTPUTS_KEY,
    check_fitted,
    execute_run,
    global_rank,
    new_row,
    test_outputs_path,
)
from zoo.runs.results import Outcome, RunResult
from zoo.training import PRECISIONS, TrainConfig, device_name, precision_record

if TYPE_CHECKING:
    from zoo.evaluation.reference_features import ReferenceClassifier
    from zoo.runs.store import Store


#: What an ensemble's card takes from its first member's: the data, its split and how it was
#: preprocessed (equal in every member), so that ``zoo evaluate`` cuts the same test rows.
CARD_DATA_KEYS = ("dataset", "data_sha256", "seed", "task", "normal_class", "preprocess",
                  "vocab")


def choose_task(model_tasks: tuple[str, ...], dataset: Dataset, data_tasks: tuple[str, ...],
                model: str, wanted: str | None = None) -> str:
    """``wanted`` (the task the options ask for: ``detect`` with a normal class) when the
    model and the data have it; else the data's own task (inferred from a user's labels) when
    the model has it; else the model's first task that the data supports."""
    for task in (wanted, dataset.info.task):
        if task in model_tasks and task in data_tasks:
            return task
    for task in model_tasks:
        if task in data_tasks:
            return task
    raise ZooError(f"model {model!r} ({', '.join(model_tasks)}) cannot be trained on "
                   f"{dataset.name!r} ({', '.join(data_tasks)})")


#: The suite whose protocol makes detection data of images with class labels: one class normal.
ONE_CLASS_SUITE = "image-ad"


def one_class_data(dataset: Dataset, task: str, normal_class: int | None = None) -> bool:
    """Whether detection on ``dataset`` is one-class: images with class labels, and a normal
    class given or needed (more than two classes; 0/1 labels are anomaly labels unless a
    normal class is chosen)."""
    info = dataset.info
    if task != "detect" or not one_class_detectable(info.modality, (info.task,)):
        return False
    return normal_class is not None or (info.n_classes or 0) > 2


def protocol_suite(dataset: Dataset, task: str, normal_class: int | None = None) -> str:
    """The suite whose protocol cuts ``dataset`` for ``task`` when it is trained alone: text
    as ``text-gen`` cuts it, series as ``ts-ad``, one-class detection (:func:`one_class_data`)
    as ``image-ad``, other detection as ``tabular-ad`` and everything else as
    ``supervised``."""
    if dataset.info.modality == "text":
        return "text-gen"
    if "series" in dataset.meta:
        return "ts-ad"
    if one_class_data(dataset, task, normal_class):
        return ONE_CLASS_SUITE
    return "tabular-ad" if task == "detect" else "supervised"


def task_splits(dataset: Dataset, task: str, seed: int,
                normal_class: int | None = None) -> Splits:
    """Train / validation / test splits for ``task``, cut by the suite that owns the data's
    protocol (:func:`protocol_suite`); ``normal_class`` is the normal class of the one-class
    protocol, which needs one and which alone takes one.

    Raises:
        ZooError: ``normal_class`` is missing for, or given outside, the one-class protocol.
    """
    protocol = protocol_suite(dataset, task, normal_class)
    suite = get_host().suite(protocol).load()
    if protocol == ONE_CLASS_SUITE:
        return suite.splits_for(dataset, task, seed, normal_class=normal_class)
    if normal_class is not None:
        raise ZooError(f"--normal-class is for anomaly detection on images with class labels "
                       f"(such as digits, mnist, fashion-mnist); {dataset.name!r} "
                       f"({dataset.info.modality}) for {task} has no classes to choose from")
    return suite.splits_for(dataset, task, seed)


def _data_tasks(data: str, dataset: Dataset) -> tuple[str, ...]:
    host = get_host()
    tasks = host.dataset(data).tasks if data in host.datasets() else dataset.tasks
    if one_class_detectable(dataset.info.modality, tasks) and "detect" not in tasks:
        tasks = (*tasks, "detect")
    return tasks


@dataclass(frozen=True)
class FineTune:
    """Where a run starts from (``zoo train --init-from``; :mod:`zoo.models.transfer`).

    Args:
        source: A stored run (id or unique prefix) or a checkpoint / package directory.
        freeze: ``None``, ``"encoder"`` or ``"backbone"``.
        backbone_lr_scale: Multiplier of ``lr`` for the parameters outside the head.
    """

    source: str
    freeze: str | None = None
    backbone_lr_scale: float = 1.0

    def apply(self, store: Store, model: Any) -> dict[str, Any]:
        """Initialise ``model`` from the source; the report as stored with the run."""
        from zoo.models.ensemble import ENSEMBLE
        from zoo.models.transfer import initialize_from

        directory = checkpoint_dir(store, self.source)
        card = read_card(directory)
        if ENSEMBLE in card:
            raise ZooError(f"{self.source} is an ensemble; --init-from takes one model's run "
                           "or package (one of its members)")
        name = card.get("run_id") or str(directory.resolve())
        return initialize_from(model, load_model(directory), name, freeze=self.freeze,
                               backbone_lr_scale=self.backbone_lr_scale).to_dict()


@dataclass
class TrainingData:
    """What a single run of a model trains on, before preprocessing: the dataset as
    referenced and loaded, the task chosen for the model, the protocol's splits and the
    one-class protocol's normal class."""

    model: str
    backbone: str | None
    data: str
    dataset: Dataset
    task: str
    splits: Splits
    normal_class: int | None = None

    @property
    def sha256(self) -> str | dict[str, str] | None:
        return data_fingerprint(self.data)

    def preprocessed(self, splits: Splits) -> tuple[Splits, dict[str, Any]]:
        """``splits`` (these, or a fold of them) as the model trains on them, and the card's
        ``preprocess`` record: :func:`preprocessing` fitted on their training rows."""
        transform = preprocessing(splits, one_class=self.normal_class is not None)
        if transform is None:
            return splits, {}
        return transform.splits(splits), preprocess_record(transform)


def training_data(model: str, data: str, backbone: str | None, seed: int,
                  normal_class: int | None = None) -> TrainingData:
    """Load ``data`` and cut it for ``model`` (``vae[cnn]`` or ``vae`` with ``backbone``) as
    ``zoo train`` does (:func:`task_splits`, seeded; ``normal_class`` for images with class
    labels)."""
    base, named_backbone = split_model_name(model)
    spec = get_host().model(base)
    data = data_reference(data)
    dataset = load_dataset(data)
    task = choose_task(spec.tasks, dataset, _data_tasks(data, dataset), base,
                       wanted=None if normal_class is None else "detect")
    return TrainingData(base, backbone or named_backbone, data, dataset, task,
                        task_splits(dataset, task, seed, normal_class), normal_class)


def preprocessing(splits: Splits, *, one_class: bool) -> FittedTransform | None:
    """The preprocessing fitted on ``splits``' training rows: tables standardised, one-class
    images contrast-normalised and min-max scaled as ``image-ad`` does
    (:func:`~zoo.data.preprocess.one_class_scaling`); ``None`` for other data."""
    if splits.info.modality == "tabular":
        return Standardizer.fit(splits.train.x)
    return one_class_scaling(splits) if one_class else None


def one_class_setting(normal_class: int | None) -> str | None:
    """A single run's setting: ``class-K`` for normal class ``K``, as ``image-ad``'s rows."""
    if normal_class is None:
        return None
    return get_host().suite(ONE_CLASS_SUITE).load().class_setting(normal_class)


def train_run(store: Store, model: str, data: str, *, backbone: str | None,
              hparams: dict[str, Any], seed: int, accelerator: str, devices: int,
              max_epochs: int, progress_bar: bool = False,
              tags: dict[str, Any] | None = None, init_seed: int | None = None,
              fine_tune: FineTune | None = None, num_nodes: int = 1,
              precision: str = PRECISIONS[0],
              normal_class: int | None = None, root: Path | None = None) -> RunResult | None:
    """Train, save and store one run (its folder under ``root``, default beside the store);
    ``None`` on non-zero DDP ranks.

    ``progress_bar`` draws the training's progress on stderr (``TrainConfig.progress_bar``);
    ``devices`` processes on each of ``num_nodes`` machines train together (DDP);
    ``tags`` go into the row's ``extra`` (``zoo tune`` names the study and trial).
    ``seed`` cuts the data; ``init_seed`` (default ``seed``) initialises and trains the model,
    so that an ensemble's members share one split. ``fine_tune`` starts the model from
    another's tensors; what it loaded is stored in the row's and the card's ``init_from``.
    ``precision`` is Lightning's (:data:`zoo.training.PRECISIONS`); the row's ``extra``
    names it unless it is ``32-true``. ``normal_class`` makes detection data of images with
    class labels (:func:`task_splits`); the row's setting names it, as ``image-ad``'s do.
    """
    loaded = training_data(model, data, backbone, seed, normal_class)
    base, backbone, data, dataset, task = (loaded.model, loaded.backbone, loaded.data,
                                           loaded.dataset, loaded.task)
    data_sha256 = loaded.sha256
    splits, preprocess = loaded.preprocessed(loaded.splits)
    if backbone is not None:
        hparams = {"backbone": backbone, **hparams}
    init_seed = seed if init_seed is None else init_seed
    built = create_model(base, splits.info, seed=init_seed, **hparams)
    started: dict[str, Any] = {}
    if init_seed != seed:
        started["init_seed"] = init_seed
    if fine_tune is not None:
        started["init_from"] = fine_tune.apply(store, built)
    row = new_row("train", model=base, dataset=data,
                  device=device_name(accelerator, devices * num_nodes),
                  backbone=built.hyperparameters().get("backbone"), seed=seed,
                  hparams=built.hyperparameters(), setting=one_class_setting(normal_class),
                  extra={**(tags or {}), **precision_record(precision)})

    def train(run_dir: Path) -> Outcome:
        config = TrainConfig(seed=init_seed, accelerator=accelerator, devices=devices,
                             num_nodes=num_nodes, max_epochs=max_epochs, run_dir=run_dir,
                             progress_bar=progress_bar, precision=precision)
        metrics = built.fit(built.training_splits(splits), config)
        check_fitted(metrics)
        if global_rank() != 0:  # rank 0 saves what every rank trained
            return Outcome(metrics)
        extra = {"dataset": data, "data_sha256": data_sha256, "seed": seed,
                 "task": task, "run_id": row.id, "preprocess": preprocess,
                 "metrics": metrics, **started}
        if normal_class is not None:
            extra["normal_class"] = normal_class
        if "vocab" in dataset.meta:  # so that token ids can be read back as text
            extra["vocab"] = dataset.meta["vocab"]
        checkpoint = save_model(built, run_dir / "model", extra=extra).resolve()
        save_run_samples(built, splits.info, run_dir, seed, vocab=dataset.meta.get("vocab"))
        return Outcome(metrics, extra={DATA_SHAPE_KEY: splits.shape(), **started},
                       checkpoint=str(checkpoint))

    return execute_run(store, row, train, root=root)


def train_ensemble_run(store: Store, size: int, **train: Any) -> list[RunResult]:
    """``zoo train --ensemble N``: ``size`` members trained by :func:`train_run` (keyword
    arguments ``train``) on one split, from the seeds :func:`~zoo.models.ensemble.member_seed`
    gives, then :func:`ensemble_run` of them; every row, members first. No ensemble is made
    when a member does not end ``ok``; on the non-zero ranks of a distributed launch, which
    train every member with rank 0, nothing is returned (rank 0 makes the ensemble)."""
    from zoo.models.ensemble import member_seed

    rows = [train_run(store, init_seed=member_seed(train["seed"], index), **train)
            for index in range(size)]
    members = [row for row in rows if row is not None]
    if len(members) < size:
        return []
    if any(row.status != "ok" for row in members):
        return members
    ensemble = ensemble_run(store, [row.id for row in members])
    return members if ensemble is None else [*members, ensemble]


def ensemble_run(store: Store, runs: list[str],
                 out: str | Path | None = None) -> RunResult | None:
    """``zoo ensemble``: make one model of trained ``runs`` (ids or checkpoint directories),
    save it as a package (``out``, default the row's folder) and store the row (kind ``train``,
    model ``autoencoder@5``; ``zoo evaluate`` scores it like any run).

    Raises:
        ZooError: Fewer than 2 runs, ``out`` not empty, a run given twice (or given and in
            a given ensemble), or members not of one task, data, split and preprocessing
            (one line naming the first that differs).
    """
    from zoo.models.checkpoints import member_runs
    from zoo.models.ensemble import MEMBER_KEYS, build_ensemble, check_compatible, check_distinct

    if len(runs) < 2:
        raise ZooError(f"an ensemble needs at least 2 runs, got {len(runs)}")
    if out is not None and Path(out).exists() and any(Path(out).iterdir()):
        raise ZooError(f"--out {out} exists and is not empty; give a new directory")
    directories = [checkpoint_dir(store, run) for run in runs]
    cards = [read_card(directory) for directory in directories]
    names = [str(card.get("run_id") or directory)
             for card, directory in zip(cards, directories, strict=True)]
    check_distinct(names, [member_runs(directory, card)
                           for directory, card in zip(directories, cards, strict=True)])
    check_compatible(names, [DataInfo.from_dict(card["data_info"]) for card in cards], cards)
    first = cards[0]
    if not first.get("dataset"):
        raise ZooError(f"the card in {directories[0]} names no training data; ensembles are "
                       "made of runs of zoo train")
    members = [load_model(directory) for directory in directories]
    ensemble = build_ensemble(members, [{key: card[key] for key in MEMBER_KEYS if key in card}
                                        for card in cards], _validation_rows(first))
    data = data_reference(str(first["dataset"]))
    row = new_row("train", model=ensemble.zoo_name, dataset=data, device=device_name("auto"),
                  backbone=ensemble.hyperparameters().get("backbone"), seed=first.get("seed"),
                  hparams=ensemble.hyperparameters())

    def save(run_dir: Path) -> Outcome:
        extra = {**{key: first[key] for key in CARD_DATA_KEYS if key in first},
                 "run_id": row.id}
        checkpoint = save_model(ensemble, Path(out) if out else run_dir / "model", extra=extra)
        return Outcome({"members": float(len(members))}, extra={"ensemble_of": names},
                       checkpoint=str(checkpoint.resolve()))

    return execute_run(store, row, save)


def _validation_rows(card: dict[str, Any]) -> Arrays:
    """The validation rows of a run's split, preprocessed as its model saw them (its training
    rows where the protocol keeps none): what an ensemble may fit on, never test rows."""
    dataset = load_dataset(data_reference(str(card["dataset"])))
    splits = task_splits(dataset, DataInfo.from_dict(card["data_info"]).task,
                         int(card.get("seed", 0)), card.get("normal_class"))
    rows = splits.val if splits.val is not None and len(splits.val) else splits.train
    return preprocess_arrays(card.get("preprocess", {}), rows)


def checkpoint_dir(store: Store, run: str) -> Path:
    """The checkpoint directory ``run`` names: itself, or a stored run's (a unique prefix of
    its id); a run without one is a one-line error."""
    path = Path(run)
    if path.is_dir():
        return path
    stored = store.get(run)
    # A diverged run stored before its checkpoint was withheld may still name one.
    if not stored.checkpoint or stored.status == "diverged":
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


def evaluate_run(store: Store, run: str, data: str | None = None, *,
                 root: Path | None = None) -> RunResult | None:
    """Evaluate a checkpoint (or a stored run's) on ``data`` and store the result (its folder
    under ``root``, default beside the store); ``None`` on a non-zero rank of a distributed
    launch (rank 0 stores and reports).

    ``data=None`` is the dataset the model was trained on, whose test split is scored.
    """
    directory = checkpoint_dir(store, run)
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
    reference, setting = None, None
    if data == data_reference(str(card.get("dataset"))):  # older cards hold relative paths
        warn_if_changed(data, card.get("data_sha256"))
        splits = task_splits(dataset, info.task, seed, card.get("normal_class"))
        setting = one_class_setting(card.get("normal_class"))
        test, reference = splits.test, reference_for_samples(dataset, splits)
    else:
        test = dataset.all()
    check_fits_model(data, test, info)
    test = preprocess_arrays(card.get("preprocess", {}), test)
    row = new_row("evaluate", model=card["model"], dataset=data,
                  device=device_name("auto"), backbone=card["hparams"].get("backbone"),
                  seed=card.get("seed"), hparams=card["hparams"], checkpoint=str(directory),
                  setting=setting)

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

    return execute_run(store, row, evaluate, root=root)
