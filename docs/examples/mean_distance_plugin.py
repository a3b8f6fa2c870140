"""A one-file zoo plugin: the ``mean-distance`` anomaly detector.

Scores each sample by its Euclidean distance to the mean of the training samples: the
farther from the mean, the more anomalous. It trains without gradients, so it implements the
train hook ``fit`` itself instead of a Lightning loop.

numpy and torch are imported inside the methods, never at module top: ``zoo models`` and
``zoo --help`` import this file to register the spec and must stay fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

# DataInfo is imported at run time: the conformance kit reads the __init__ type hints.
from zoo import DataInfo, HParam, ModelSpec, ZooError, ZooModel, hookimpl

if TYPE_CHECKING:
    import numpy as np
    import torch

    from zoo.data import Splits
    from zoo.training import TrainConfig

STATE_FILE = "mean.npy"
#: The __init__ arguments as data: zoo checks --set values against it before a run starts,
#: `zoo models mean-distance` shows it, and tuners search its `search` range.
TRIM = HParam("trim", float, 0.0, low=0, high=1, high_inclusive=False, search=(0.0, 0.2),
              help="Share of the farthest training samples dropped before the mean")


class MeanDistance(ZooModel):
    """Distance to the training mean; optionally a trimmed mean that ignores far samples.

    Args:
        data_info: The data the model is built for; samples are flattened.
        trim: Share of the training samples farthest from the mean that are dropped before
            the mean is computed again (0 keeps them all). Helps when the training data is
            contaminated with anomalies.
    """

    def __init__(self, data_info: DataInfo, trim: float = 0.0) -> None:
        if not 0.0 <= trim < 1.0:
            raise ZooError(f"mean-distance: trim={trim} must be in [0, 1)")
        self.data_info = data_info
        self.trim = trim
        self.mean: np.ndarray | None = None

    # -- train hook ------------------------------------------------------------------------
    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        """Compute the (trimmed) mean of ``splits.train``; labels are never read."""
        import numpy as np

        x = self._flat(splits.train.x)
        mean = x.mean(axis=0)
        if self.trim > 0:
            keep = max(1, math.ceil(len(x) * (1 - self.trim)))
            nearest = np.argsort(np.linalg.norm(x - mean, axis=1), kind="stable")[:keep]
            mean = x[nearest].mean(axis=0)
        self.mean = mean
        metrics = {"train_mean_distance": float(np.linalg.norm(x - mean, axis=1).mean())}
        if splits.val is not None and len(splits.val):
            metrics["val_mean_distance"] = float(self.score(splits.val.x).mean())
        return metrics

    # -- evaluate hook ---------------------------------------------------------------------
    def score(self, x: Any) -> torch.Tensor:
        """Anomaly scores ``(N,)``: distance to the training mean, higher = more anomalous."""
        import numpy as np
        import torch

        if self.mean is None:
            raise ZooError("mean-distance is not fitted: call fit() or load a checkpoint")
        distances = np.linalg.norm(self._flat(x) - self.mean, axis=1)
        return torch.from_numpy(distances.astype(np.float32))

    # -- persistence (no pickle) -----------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {"trim": self.trim}

    def save_state(self, directory: Path) -> None:
        import numpy as np

        if self.mean is None:
            raise ZooError("mean-distance is not fitted: nothing to save")
        np.save(Path(directory) / STATE_FILE, self.mean, allow_pickle=False)

    def load_state(self, directory: Path) -> None:
        import numpy as np

        mean = np.load(Path(directory) / STATE_FILE, allow_pickle=False)
        if mean.shape != (self.data_info.n_features,):
            raise ZooError(f"mean-distance: {STATE_FILE} has shape {mean.shape}, expected "
                           f"({self.data_info.n_features},)")
        self.mean = mean

    # -- helpers ---------------------------------------------------------------------------
    def _flat(self, x: Any) -> np.ndarray:
        """A batch ``(N, *shape)`` (numpy or torch) as float64 ``(N, n_features)``."""
        import numpy as np

        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1:] != tuple(self.data_info.shape):
            raise ZooError(f"mean-distance expects samples of shape "
                           f"{tuple(self.data_info.shape)}, got {x.shape[1:]}")
        return x.reshape(len(x), -1)


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    register(ModelSpec(
        name="mean-distance",
        kind="method",
        tasks=("detect",),
        modalities=("tabular",),
        # This module's own import path: "mean_distance_plugin" when installed,
        # "zoo_plugins_dir.mean_distance_plugin" when loaded from --plugins-dir.
        implementation=f"{__name__}:MeanDistance",
        hparams=(TRIM,),
        summary="Euclidean distance to the (trimmed) training mean",
    ))
