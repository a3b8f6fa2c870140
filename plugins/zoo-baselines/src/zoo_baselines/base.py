"""What every scikit-learn baseline shares: input checks, fitting and pickle-free persistence.

A baseline wraps one scikit-learn estimator. It overrides zoo's train hook (``fit``) instead of
faking a Lightning loop, flattens each sample to one feature vector, and saves the fitted
estimator with `skops <https://skops.readthedocs.io/en/stable/persistence.html>`_, which
loads only types it is told to trust, so a checkpoint can never run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from zoo import DataInfo, ZooError, ZooModel

if TYPE_CHECKING:
    import torch
    from zoo.data.types import Splits
    from zoo.training import TrainConfig

STATE_FILE = "estimator.skops"


class SklearnModel(ZooModel):
    """A zoo model backed by one fitted scikit-learn estimator.

    Subclasses take their hyperparameters as explicit, typed ``__init__`` arguments, pass them
    on to ``super().__init__``, build the unfitted estimator in :meth:`_new_estimator` and fit
    it in :meth:`_fit_estimator`.

    Args:
        data_info: The data the model is built for; samples are flattened to
            ``data_info.n_features`` values.
        **hparams: The subclass's constructor arguments, returned by :meth:`hyperparameters`.
    """

    #: Types outside skops' default trust list that this model's fitted estimator holds.
    trusted_types: ClassVar[frozenset[str]] = frozenset()
    uses_validation: ClassVar[bool] = False  # no model selection: validation rows train

    def __init__(self, data_info: DataInfo, **hparams: Any) -> None:
        self.data_info = data_info
        self._hparams = hparams
        self.estimator: Any = None

    # -- the contract --------------------------------------------------------------------------
    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        """Fit on ``splits.train``; return validation metrics where cheap, else ``{}``.

        Args:
            splits: The data; only ``splits.train`` is fitted, ``splits.val`` is only scored.
            config: The run's training settings; only ``config.seed`` is used, as the
                estimator's ``random_state``.

        Raises:
            ZooError: If the samples have the wrong number of features, or scikit-learn
                rejects the data or a hyperparameter.
        """
        estimator = self._new_estimator(seed=int(getattr(config, "seed", 0)))
        x = self.features(splits.train.x)
        try:
            self._fit_estimator(estimator, x, splits.train.y)
        except ValueError as exc:
            raise ZooError(f"{self.label}: {exc}") from exc
        self.estimator = estimator
        return {} if splits.val is None else self._validation_metrics(splits.val.x, splits.val.y)

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments (except ``data_info``) that rebuild this model."""
        return dict(self._hparams)

    def save_state(self, directory: Path) -> None:
        """Write the fitted estimator to ``directory/estimator.skops``."""
        import skops.io

        skops.io.dump(self.fitted(), Path(directory) / STATE_FILE)

    def load_state(self, directory: Path) -> None:
        """Load ``directory/estimator.skops``, trusting only the types this model uses.

        Raises:
            ZooError: If the file is missing, holds a type outside :attr:`trusted_types`, or
                holds an estimator of another kind or feature count than this model's.
        """
        import skops.io

        path = Path(directory) / STATE_FILE
        if not path.is_file():
            raise ZooError(f"{self.label}: {path} is missing; was this checkpoint saved by it?")
        untrusted = set(skops.io.get_untrusted_types(file=path))
        unexpected = untrusted - self.trusted_types
        if unexpected:
            raise ZooError(f"{self.label}: refusing to load {path}: it holds types this model "
                           f"never uses: {', '.join(sorted(unexpected))}")
        estimator = skops.io.load(path, trusted=sorted(untrusted))
        self._check_loaded(estimator, path)
        self.estimator = estimator

    # -- helpers for subclasses ----------------------------------------------------------------
    @property
    def label(self) -> str:
        """The registry name in messages (the class name when built without the registry)."""
        return self.zoo_name or type(self).__name__

    def fitted(self) -> Any:
        """The fitted estimator; a clear error before :meth:`fit` or :meth:`load_state`."""
        if self.estimator is None:
            raise ZooError(f"{self.label} is not fitted yet: call fit(splits, config) or "
                           f"load a checkpoint first")
        return self.estimator

    def features(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """A batch ``(N, *shape)`` as a float64 ``(N, n_features)`` array.

        Raises:
            ZooError: If the samples do not have ``data_info.n_features`` values.
        """
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        x = np.asarray(x)
        expected = self.data_info.n_features
        got = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
        if got != expected:
            raise ZooError(f"{self.label}: expected {expected} features per sample "
                           f"(shape {tuple(self.data_info.shape)}), got {got} "
                           f"(batch shape {tuple(x.shape)})")
        return x.reshape(len(x), expected).astype(np.float64, copy=False)

    def _new_estimator(self, seed: int) -> Any:
        """The unfitted estimator for this model's hyperparameters."""
        raise NotImplementedError

    def _fit_estimator(self, estimator: Any, x: np.ndarray, y: np.ndarray | None) -> None:
        """Fit ``estimator`` on the flattened training samples ``x`` (and targets ``y``)."""
        raise NotImplementedError

    def _validation_metrics(self, x: np.ndarray, y: np.ndarray | None) -> dict[str, float]:
        """Metrics on the validation split; none unless a subclass has cheap ones."""
        return {}

    def _check_loaded(self, estimator: Any, path: Path) -> None:
        expected = _structure(self._new_estimator(seed=0))
        if _structure(estimator) != expected:
            raise ZooError(f"{self.label}: {path} holds a {type(estimator).__name__}, "
                           f"not the {expected[0].__name__} this model's hyperparameters build")
        n_features = getattr(estimator, "n_features_in_", self.data_info.n_features)
        if n_features != self.data_info.n_features:
            raise ZooError(f"{self.label}: {path} was fitted on {n_features} features, but the "
                           f"model is built for {self.data_info.n_features}")


def as_tensor(values: np.ndarray) -> torch.Tensor:
    """``values`` as a contiguous float32 CPU tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))


def _structure(estimator: Any) -> tuple[type, ...]:
    """The estimator's type, and its steps' types when it is a pipeline."""
    steps = getattr(estimator, "steps", [])
    return (type(estimator), *(type(step) for _, step in steps))
