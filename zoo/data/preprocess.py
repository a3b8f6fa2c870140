"""Feature standardisation fitted on the training split only, stored with the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from zoo.data.types import Arrays, Splits


@dataclass
class Standardizer:
    """Per-feature ``(x - mean) / std`` with statistics of the training split only.

    A constant feature keeps ``std = 1``: it becomes 0, never NaN.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        x = np.asarray(x, dtype=np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0)
        # A spread below float32 resolution is a constant column: dividing would amplify noise.
        std[std <= np.finfo(np.float32).eps * np.maximum(1.0, np.abs(mean))] = 1.0
        return cls(mean, std)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def arrays(self, arrays: Arrays | None) -> Arrays | None:
        from zoo.data.types import Arrays, SealedArrays

        if arrays is None or isinstance(arrays, SealedArrays):  # nothing to scale: unread
            return arrays
        return Arrays(self.transform(arrays.x), arrays.y)

    def splits(self, splits: Splits) -> Splits:
        from zoo.data.types import Splits

        return Splits(self.arrays(splits.train), self.arrays(splits.val),
                      self.arrays(splits.test), splits.info)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        return cls(np.asarray(data["mean"]), np.asarray(data["std"]))


def preprocess_arrays(preprocess: dict[str, Any], arrays: Arrays) -> Arrays:
    """``arrays`` as the model saw its training data: a card's ``preprocess`` applied.

    The one preprocessing of every inference path (``zoo evaluate``, ``zoo serve``, ONNX
    export), so that their outputs agree.
    """
    standardize = preprocess.get("standardize")
    return Standardizer.from_dict(standardize).arrays(arrays) if standardize else arrays
