"""The data types every loader returns and every model receives."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data to build itself.

    Args:
        modality: ``tabular``, ``image``, ``text`` or ``timeseries``.
        shape: Shape of one sample: ``(features,)`` for tables, ``(channels, height, width)``
            for images, ``(length,)`` for token sequences, ``(length, channels)`` for series.
        task: The task the data is used for in this run (``classify``, ``regress``,
            ``detect``, ``generate``).
        n_classes: Number of classes (``classify``) or ``None``.
        target_dim: Number of regression targets (``regress``) or ``None``.
        vocab_size: Number of distinct tokens (``text``) or ``None``.
        value_range: ``(low, high)`` of the features when they are bounded (images in
            ``[0, 1]``), else ``None``.
    """

    modality: str
    shape: tuple[int, ...]
    task: str
    n_classes: int | None = None
    target_dim: int | None = None
    vocab_size: int | None = None
    value_range: tuple[float, float] | None = None

    @property
    def n_features(self) -> int:
        """Number of values in one sample (the flattened shape)."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataInfo:
        data = dict(data)
        data["shape"] = tuple(data["shape"])
        if data.get("value_range") is not None:
            data["value_range"] = tuple(data["value_range"])
        return cls(**data)


@dataclass
class Arrays:
    """Samples and (optional) targets of one split, as numpy arrays.

    ``x`` is ``float32`` with shape ``(n, *info.shape)`` (``int64`` tokens for text); ``y`` is
    ``int64`` class labels (``classify``; ``0``/``1`` with 1 = anomaly for ``detect``) or
    ``float32`` targets (``regress``), or ``None``.
    """

    x: np.ndarray
    y: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index: np.ndarray) -> Arrays:
        return Arrays(self.x[index], None if self.y is None else self.y[index])


class SealedArrays(Arrays):
    """A split that may not be read: what tuning trials and cross-validation folds get as
    their test split, so that nothing chosen while tuning can have looked at it.

    Its length is known (rows are counted in run records); reading ``x`` or ``y`` raises.
    """

    def __init__(self, rows: int, why: str) -> None:  # no fields: there is nothing to read
        self._rows, self._why = rows, why

    def __len__(self) -> int:
        return self._rows

    def __repr__(self) -> str:
        return f"SealedArrays({self._rows} rows: {self._why})"

    def _refuse(self) -> Any:
        from zoo.errors import ZooError

        raise ZooError(f"the test split is sealed: {self._why}")

    x = property(_refuse)  # type: ignore[assignment]
    y = property(_refuse)  # type: ignore[assignment]


@dataclass
class Dataset:
    """A loaded dataset: all samples, or a fixed train/test split where the source has one.

    Args:
        name: Registry name or the user file's path.
        info: The data description (``task`` is the dataset's natural task).
        data: All samples when the source has no fixed split.
        train: The source's own training split (MNIST), else ``None``.
        test: The source's own test split, else ``None``.
        meta: Anything else the loader knows (feature names, timestamps, class names;
            ``tasks``: every task the data serves, when more than ``info.task``).
    """

    name: str
    info: DataInfo
    data: Arrays | None = None
    train: Arrays | None = None
    test: Arrays | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.train is None):
            raise ValueError("a Dataset has either `data` or a fixed `train` (+ `test`) split")

    @property
    def tasks(self) -> tuple[str, ...]:
        """Every task the data serves, its own (``info.task``, the default) first."""
        return tuple(self.meta.get("tasks", (self.info.task,)))

    def all(self) -> Arrays:
        """Every sample, the fixed splits concatenated where there are some."""
        if self.data is not None:
            return self.data
        import numpy as np

        parts = [a for a in (self.train, self.test) if a is not None]
        y = None if any(a.y is None for a in parts) else np.concatenate([a.y for a in parts])
        return Arrays(np.concatenate([a.x for a in parts]), y)


@dataclass
class Splits:
    """Train, validation and test splits of one dataset under one seed."""

    train: Arrays
    val: Arrays | None
    test: Arrays
    info: DataInfo

    def shape(self) -> dict[str, Any]:
        """Rows per split and the shape of one sample, as a run records them:
        ``{"train": rows, "val": rows, "test": rows, "sample": [...]}`` (``val`` 0 when
        there is none)."""
        return {"train": len(self.train), "val": 0 if self.val is None else len(self.val),
                "test": len(self.test), "sample": list(self.info.shape)}
