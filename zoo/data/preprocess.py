"""Preprocessing fitted on the training split only and stored with the model (its card's
``preprocess``): tables are standardised, one-class images contrast-normalised and scaled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from zoo.data.types import Arrays, Splits


class FittedTransform:
    """A map of samples fitted on training rows, applied alike to every split, and kept in
    a card's ``preprocess`` under :attr:`key` as plain data (:meth:`to_dict`,
    :meth:`from_dict`)."""

    key: ClassVar[str]

    def transform(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FittedTransform:
        raise NotImplementedError

    def arrays(self, arrays: Arrays | None) -> Arrays | None:
        from zoo.data.types import Arrays, SealedArrays

        if arrays is None or isinstance(arrays, SealedArrays):  # nothing to scale: unread
            return arrays
        return Arrays(self.transform(arrays.x), arrays.y)

    def splits(self, splits: Splits) -> Splits:
        from zoo.data.types import Splits

        return Splits(self.arrays(splits.train), self.arrays(splits.val),
                      self.arrays(splits.test), splits.info)


@dataclass
class Standardizer(FittedTransform):
    """Per-feature ``(x - mean) / std`` with statistics of the training split only.

    A constant feature keeps ``std = 1``: it becomes 0, never NaN.
    """

    key: ClassVar[str] = "standardize"

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

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        return cls(np.asarray(data["mean"]), np.asarray(data["std"]))


def contrast_normalize(images: np.ndarray) -> np.ndarray:
    """Global contrast normalisation with the l1 norm, per image (float64, same shape).

    Each image minus its mean pixel, divided by the mean absolute value of the result
    (Ruff et al. 2018, section 4.1; Goodfellow et al., "Deep Learning", section 12.2.1.1).
    """
    flat = images.reshape(len(images), -1).astype(np.float64)
    centred = flat - flat.mean(axis=1, keepdims=True)
    scale = np.abs(centred).mean(axis=1, keepdims=True)
    # A blank image is all zeros once centred: keep them rather than divide by zero.
    return (centred / np.where(scale > 0, scale, 1.0)).reshape(images.shape)


@dataclass(frozen=True)
class ContrastMinMax(FittedTransform):
    """Deep SVDD's image preprocessing: contrast normalisation, then min-max with bounds
    fitted on the normal class's training images (``image-ad``'s protocol).

    Args:
        low: The smallest contrast-normalised pixel of the images it was fitted on.
        high: The largest one.
    """

    key: ClassVar[str] = "contrast_minmax"
    low: float
    high: float

    @classmethod
    def fit(cls, images: np.ndarray) -> ContrastMinMax:
        """Bounds from ``images``: the normal class's training images, never test images."""
        normalized = contrast_normalize(images)
        return cls(float(normalized.min()), float(normalized.max()))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Images normalised and scaled: the fitted images span exactly [0, 1]."""
        span = (self.high - self.low) or 1.0
        return ((contrast_normalize(x) - self.low) / span).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContrastMinMax:
        return cls(float(data["low"]), float(data["high"]))


def one_class_detectable(modality: str, tasks: Sequence[str]) -> bool:
    """Whether data of ``modality`` and ``tasks`` makes one-class detection data: images with
    class labels, one class normal and the others anomalous (``image-ad``'s protocol)."""
    return modality == "image" and "classify" in tasks


def one_class_scaling(split: Splits) -> ContrastMinMax:
    """:class:`ContrastMinMax` fitted on every training image of a one-class split's normal
    class (its validation hold-out included, as the paper's per-class constants are)."""
    normal = [split.train.x] + ([split.val.x] if split.val is not None else [])
    return ContrastMinMax.fit(np.concatenate(normal))


#: A card's ``preprocess`` keys and the transforms they record, in the order they apply.
TRANSFORMS: dict[str, type[FittedTransform]] = {
    cls.key: cls for cls in (ContrastMinMax, Standardizer)}


def preprocess_record(transform: FittedTransform | None) -> dict[str, Any]:
    """What a card keeps of ``transform`` as its ``preprocess``: ``{}`` for none."""
    return {} if transform is None else {transform.key: transform.to_dict()}


def preprocess_arrays(preprocess: dict[str, Any], arrays: Arrays) -> Arrays:
    """``arrays`` as the model saw its training data: a card's ``preprocess`` applied.

    The one preprocessing of every inference path (``zoo evaluate``, ``zoo serve``, ONNX
    export), so that their outputs agree.
    """
    for key, cls in TRANSFORMS.items():
        if preprocess.get(key):
            arrays = cls.from_dict(preprocess[key]).arrays(arrays)
    return arrays
