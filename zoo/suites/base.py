"""The ``Suite`` base class: what a benchmark declares and how one cell is run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from zoo.data.loading import is_user_file
from zoo.data.types import Dataset, Splits
from zoo.errors import ZooError
from zoo.models import (
    ENSEMBLE_MARK,
    base_model,
    display_name,
    modality_hparams,
    split_ensemble_name,
    split_model_name,
)
from zoo.plugins import get_host
from zoo.plugins.specs import DatasetSpec, ModelSpec
from zoo.runs.results import Outcome


@dataclass(frozen=True)
class Budget:
    """How much compute one cell may use.

    Args:
        max_epochs: Upper bound on training epochs.
        max_time: Upper bound on training seconds per cell (``None``: none).
        patience: Early-stopping patience in validations (``None``: off).
        max_train_rows: Training rows kept at most (subsampled, and the row says so).
        max_test_rows: Test rows kept at most (smoke only; ``None``: all).
    """

    max_epochs: int
    max_time: float | None = None
    patience: int | None = None
    max_train_rows: int | None = None
    max_test_rows: int | None = None


@dataclass(frozen=True)
class Cell:
    """One unit of a benchmark: a model on a dataset under a setting, budget and seed."""

    model: str
    backbone: str | None
    dataset: str
    setting: str
    seed: int
    budget: str

    @property
    def display_model(self) -> str:
        return display_name(self.model, self.backbone)


class Suite:
    """A benchmark suite. Subclasses set the class attributes and implement :meth:`run_cell`.

    The suite owns data, splits, seeds, budget and metrics; models only supply the
    evaluate hooks. Its cheap metadata (tasks, version, metrics, floors, leaderboard columns,
    budget names) is declared once, on its registered :class:`~zoo.plugins.specs.SuiteSpec`
    (:attr:`spec`); :attr:`budgets` gives each budget name its numbers.
    """

    name: ClassVar[str]
    settings: ClassVar[tuple[str, ...]] = ("default",)
    default_datasets: ClassVar[tuple[str, ...]]
    default_seeds: ClassVar[int] = 3
    budgets: ClassVar[dict[str, Budget]]

    def __init__(self, *, accelerator: str = "auto", devices: int = 1,
                 num_nodes: int = 1) -> None:
        # The process-wide registry, as create_model uses: tests swap it, never pass one.
        self.host = get_host()
        self.spec = self.host.suite(self.name)
        self.accelerator = accelerator
        self.devices = devices
        self.num_nodes = num_nodes
        self._loaded: dict[str, Dataset] = {}

    # -- what to run ---------------------------------------------------------------------------
    def dataset_tasks(self, spec: DatasetSpec) -> tuple[str, ...]:
        """The model tasks this suite evaluates on ``spec`` (empty: the dataset does not fit,
        being of none of the suite's modalities or tasks)."""
        if spec.modality not in self.spec.modalities:
            return ()
        return tuple(t for t in self.spec.tasks if t in spec.tasks)

    def fits(self, model: ModelSpec, dataset: DatasetSpec) -> bool:
        return (dataset.modality in model.modalities
                and any(t in model.tasks for t in self.dataset_tasks(dataset)))

    def select_datasets(self, requested: list[str] | None) -> list[str]:
        """The requested datasets (must exist and fit), or the defaults whose files are
        present; when none is, every default, made available by :meth:`_fetch_defaults`."""
        from zoo.data.files import present

        if requested:
            return [self._check_dataset(name) for name in requested]
        defaults = [name for name in self.default_datasets if name in self.host.datasets()]
        chosen = [name for name in defaults if present(self.host.dataset(name))]
        if chosen or not defaults:
            return chosen
        self._fetch_defaults(defaults)
        return defaults

    def _fetch_defaults(self, defaults: list[str]) -> None:
        """Download the suite's default datasets, none of which is present; offline (or when
        one cannot be had) say so in one line naming the suite, the file and where it goes,
        rather than leave nothing to run and blame the models."""
        from zoo.data.files import DATA_DIR_ENV, data_dir, fetch_dataset

        try:
            for name in defaults:
                fetch_dataset(self.host.dataset(name))
        except ZooError as exc:
            raise ZooError(f"suite {self.name!r} has none of its datasets "
                           f"({', '.join(defaults)}) in the data directory {data_dir()} "
                           f"({DATA_DIR_ENV}): {exc}") from None

    def _check_dataset(self, name: str) -> str:
        if is_user_file(name):
            return name  # a user's file, checked when loaded
        self._check_fits(name, self.host.dataset(name))
        return name

    def _check_fits(self, name: str, spec: DatasetSpec) -> None:
        """Refuse a dataset of none of the suite's modalities or tasks, naming both sides,
        rather than find no model for it and blame the models.

        Raises:
            ZooError: ``spec`` does not fit (:meth:`dataset_tasks` is empty).
        """
        if not self.dataset_tasks(spec):
            raise ZooError(f"dataset {name!r} ({spec.modality}: {', '.join(spec.tasks)}) "
                           f"does not fit suite {self.name!r} "
                           f"({' or '.join(self.spec.modalities)}: {', '.join(self.spec.tasks)})")

    def make_available(self, name: str) -> None:
        """Fetch a registered dataset's files before any cell runs: each present one verified
        by its sha256, a missing one downloaded (unless ``ZOO_OFFLINE=1``), so that a file
        that is corrupt or cannot be had refuses the whole bench in one line instead of
        failing every cell on it. A user's file is read (and so checked) by
        :meth:`dataset_spec`.

        Raises:
            ZooError: A file is corrupt, or missing and cannot be downloaded.
        """
        if not is_user_file(name):
            from zoo.data.files import fetch_dataset

            fetch_dataset(self.host.dataset(name))

    def select_models(self, requested: list[str] | None) -> list[tuple[str, str | None]]:
        """``(model, backbone)`` pairs: the requested ones, or every fitting model. An ensemble
        cell is asked for as ``MODEL@N`` (``autoencoder@5``, ``vae[cnn]@3``): its model is
        ``autoencoder@5``, trained as N seeds and scored as one model."""
        if requested:
            pairs = []
            for name in requested:
                named, size = split_ensemble_name(name)
                base, backbone = split_model_name(named)
                spec = self.host.model(base)
                if not any(t in spec.tasks for t in self.spec.tasks):
                    raise ZooError(f"model {base!r} ({', '.join(spec.tasks)}) does not fit suite "
                                   f"{self.name!r} ({', '.join(self.spec.tasks)})")
                pairs.append((base if size == 1 else f"{base}{ENSEMBLE_MARK}{size}", backbone))
            return pairs
        return [(name, None) for name, spec in sorted(self.host.models().items())
                if any(t in spec.tasks for t in self.spec.tasks)]

    def cells(self, *, models: list[str] | None, datasets: list[str] | None,
              seeds: Sequence[int], budget: str, setting: str | None,
              classes: list[str] | None = None) -> list[Cell]:
        if budget not in self.budgets:
            raise ZooError(f"unknown budget {budget!r}; valid: {', '.join(self.budgets)}")
        self.check_settings(setting, classes)
        model_pairs = self.select_models(models)
        planned = [(dataset, fitting) for dataset in self.select_datasets(datasets)
                   if (fitting := self._fitting_models(dataset, model_pairs))]
        for dataset, _ in planned:  # every file checked before any dataset is read
            self.make_available(dataset)
        cells = []
        for dataset, fitting in planned:
            settings = self.settings_for(dataset, setting, classes)
            for base, chosen in fitting:
                for s in settings:
                    for seed in seeds:
                        cells.append(Cell(base, chosen, dataset, s, seed, budget))
        return cells

    def _fitting_models(self, dataset: str, model_pairs: list[tuple[str, str | None]]
                        ) -> list[tuple[str, str | None]]:
        """The ``(model, backbone)`` pairs that run on ``dataset``, each backbone resolved
        for the dataset's modality."""
        dspec = self.dataset_spec(dataset)
        if is_user_file(dataset):  # its modality and tasks are known once it is read
            self._check_fits(dataset, dspec)
        fitting = []
        for base, backbone in model_pairs:
            mspec = self.host.model(base_model(base))
            if self.fits(mspec, dspec):
                fitting.append((base, mspec.backbone_for(dspec.modality, backbone)))
        return fitting

    def check_settings(self, setting: str | None, classes: list[str] | None) -> None:
        """Fail on a setting or class choice this suite does not have, before any work.

        Raises:
            ZooError: ``setting`` is not one of :attr:`settings`, or ``classes`` is given to a
                suite without a setting per class.
        """
        if classes:
            raise ZooError(f"suite {self.name!r} has no classes to choose; --classes is for "
                           f"one-class suites such as image-ad")
        if setting and setting not in self.settings:
            raise ZooError(f"unknown setting {setting!r} for suite {self.name!r}; valid: "
                           f"{', '.join(self.settings)}")

    def settings_for(self, dataset: str, setting: str | None,
                     classes: list[str] | None) -> list[str]:
        """The settings to run on ``dataset`` (checked by :meth:`check_settings`).

        The default is ``setting`` or the suite's first; a suite whose settings depend on the
        dataset (image-ad: one per normal class) overrides this.
        """
        return [setting or self.settings[0]]

    def dataset_spec(self, name: str) -> DatasetSpec:
        if is_user_file(name):
            dataset = self.load(name)
            return DatasetSpec(name="user-file", modality=dataset.info.modality,
                               tasks=dataset.tasks, loader="zoo.data.loading:load_dataset")
        return self.host.dataset(name)

    def load(self, name: str) -> Dataset:
        """The dataset, loaded once per suite run."""
        if name not in self._loaded:
            from zoo.data.loading import load_dataset

            self._loaded[name] = load_dataset(name)
        return self._loaded[name]

    @classmethod
    def splits_for(cls, dataset: Dataset, task: str, seed: int) -> Splits:
        """How this suite's protocol cuts ``dataset`` for ``task`` outside a cell (``zoo
        train``, ``zoo evaluate``): train / validation / test, seeded by ``seed``."""
        raise ZooError(f"suite {cls.name!r} does not cut data for single runs")

    def cell_overrides(self, cell: Cell) -> dict[str, Any]:
        """What the cell's model is built with beyond its defaults: its spec's recipe for this
        suite and budget (:meth:`~zoo.plugins.specs.ModelSpec.recipe`) and the cell's
        backbone."""
        overrides = self.host.model(base_model(cell.model)).recipe(self.name, cell.budget)
        if cell.backbone is not None:
            overrides["backbone"] = cell.backbone
        return overrides

    def cell_hparams(self, cell: Cell) -> dict[str, Any]:
        """The hyperparameters the cell's model will be built with (its spec's defaults for
        the dataset's modality, then :meth:`cell_overrides`), known before anything is
        trained: part of the cell's key in the runs store."""
        return modality_hparams(self.host.model(base_model(cell.model)),
                                self.dataset_spec(cell.dataset).modality,
                                self.cell_overrides(cell))

    # -- running -------------------------------------------------------------------------------
    def run_cell(self, cell: Cell, run_dir: Path | None = None) -> Outcome:
        """Train ``cell.model`` on the cell's training split and score it on its test split.

        ``run_dir`` is where the cell's training logs go (``None``: nowhere kept).
        """
        raise NotImplementedError
