"""Classical anomaly detectors with PyOD's default settings.

Each detector fits on the training samples alone (labels are never read) and scores new
samples with ``score(x)``: higher is more anomalous. Scores are never thresholded here; the
suites rank them (AUROC, AUPRC). Defaults follow PyOD (https://github.com/yzhao062/pyod) so
that our rows compare with its published benchmarks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import OneClassSVM
from zoo import DataInfo, ZooError  # DataInfo at run time: create_model reads __init__ hints

from zoo_baselines.base import SklearnModel, as_tensor

if TYPE_CHECKING:
    import torch

_AGGREGATES = {"largest": np.max, "mean": np.mean, "median": np.median}


class Detector(SklearnModel):
    """An unsupervised detector: fits on samples only and implements :meth:`score`."""

    def _fit_estimator(self, estimator: Any, x: np.ndarray, y: np.ndarray | None) -> None:
        estimator.fit(x)

    def score(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Anomaly scores of a batch ``(N, *shape)``: a float32 ``(N,)`` tensor, higher = more
        anomalous."""
        return as_tensor(self._scores(self.features(x)))

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """Anomaly scores of flattened samples ``(N, n_features)``."""
        raise NotImplementedError


class IForest(Detector):
    """Isolation Forest: anomalies are isolated by fewer random axis-aligned splits.

    Liu, Ting and Zhou, "Isolation Forest", ICDM 2008,
    https://doi.org/10.1109/ICDM.2008.17. The score is the paper's
    ``s(x, psi) = 2 ** (-E[h(x)] / c(psi))`` in ``(0, 1]`` (scikit-learn's ``-score_samples``),
    which ranks exactly as PyOD's ``IForest.decision_function``.

    Args:
        data_info: The data the model is built for.
        n_estimators: Number of isolation trees (PyOD: 100).
        max_samples: Subsample size per tree; ``None`` means the paper's and PyOD's ``"auto"``,
            ``min(256, n_train)``.
    """

    trusted_types = frozenset({"sklearn.tree._tree.Tree"})

    def __init__(self, data_info: DataInfo, n_estimators: int = 100,
                 max_samples: int | None = None) -> None:
        super().__init__(data_info, n_estimators=n_estimators, max_samples=max_samples)
        self.n_estimators = n_estimators
        self.max_samples = max_samples

    def _new_estimator(self, seed: int) -> IsolationForest:
        return IsolationForest(n_estimators=self.n_estimators,
                               max_samples="auto" if self.max_samples is None
                               else self.max_samples,
                               random_state=seed)

    def _scores(self, x: np.ndarray) -> np.ndarray:
        return -self.fitted().score_samples(x)


class OCSVM(Detector):
    """One-class SVM: the smallest kernel-space region holding most of the training data.

    Schölkopf et al., "Estimating the Support of a High-Dimensional Distribution", Neural
    Computation 13(7), 2001, https://doi.org/10.1162/089976601750264965. The score is minus
    the signed distance to the learned boundary (scikit-learn's ``-decision_function``),
    positive outside it: exactly PyOD's ``OCSVM.decision_function``. Centred on the boundary,
    it keeps its resolution where normal and anomalous samples meet when the suites cast it
    to float32. Deterministic: the seed is unused.

    Args:
        data_info: The data the model is built for.
        kernel: Kernel function (PyOD: ``"rbf"``).
        nu: Upper bound on the fraction of training errors and lower bound on the fraction of
            support vectors, in ``(0, 1]`` (PyOD: 0.5).
        gamma: Kernel coefficient for ``rbf``, ``poly`` and ``sigmoid``: a number, ``"auto"``
            (``1 / n_features``, PyOD's default) or ``"scale"``
            (``1 / (n_features * x.var())``, scikit-learn's default).
    """

    def __init__(self, data_info: DataInfo,
                 kernel: Literal["rbf", "linear", "poly", "sigmoid"] = "rbf",
                 nu: float = 0.5, gamma: Literal["scale", "auto"] | float = "auto") -> None:
        super().__init__(data_info, kernel=kernel, nu=nu, gamma=gamma)
        self.kernel = kernel
        self.nu = nu
        self.gamma = gamma

    def _new_estimator(self, seed: int) -> OneClassSVM:
        return OneClassSVM(kernel=self.kernel, nu=self.nu, gamma=self.gamma)

    def _scores(self, x: np.ndarray) -> np.ndarray:
        return -self.fitted().decision_function(x)


class KNN(Detector):
    """k-nearest-neighbour distance: far from the training data is anomalous.

    Ramaswamy, Rastogi and Shim, "Efficient Algorithms for Mining Outliers from Large Data
    Sets", SIGMOD 2000, https://doi.org/10.1145/342009.335437 (``"largest"``: the distance to
    the k-th neighbour); Angiulli and Pizzuti, "Fast Outlier Detection in High Dimensional
    Spaces", PKDD 2002, https://doi.org/10.1007/3-540-45681-3_2 (``"mean"``). As in PyOD's
    ``KNN.decision_function``, new samples are compared with every training sample.
    Deterministic: the seed is unused.

    Args:
        data_info: The data the model is built for.
        n_neighbors: ``k`` (PyOD: 5); the training split needs at least ``k`` samples.
        method: How the ``k`` Euclidean distances become one score: ``"largest"`` (PyOD's
            default), ``"mean"`` or ``"median"``.
    """

    trusted_types = frozenset({"sklearn.metrics._dist_metrics.EuclideanDistance64",
                               "sklearn.neighbors._kd_tree.KDTree"})

    def __init__(self, data_info: DataInfo, n_neighbors: int = 5,
                 method: Literal["largest", "mean", "median"] = "largest") -> None:
        super().__init__(data_info, n_neighbors=n_neighbors, method=method)
        self.n_neighbors = n_neighbors
        self.method = method

    def _new_estimator(self, seed: int) -> NearestNeighbors:
        return NearestNeighbors(n_neighbors=self.n_neighbors)

    def _fit_estimator(self, estimator: Any, x: np.ndarray, y: np.ndarray | None) -> None:
        if len(x) < self.n_neighbors:
            raise ZooError(f"{self.label}: n_neighbors={self.n_neighbors} needs at least "
                           f"{self.n_neighbors} training samples, got {len(x)}")
        super()._fit_estimator(estimator, x, y)

    def score(self, x: torch.Tensor | np.ndarray, *, exclude_self: bool = False) -> torch.Tensor:
        """Anomaly scores of a batch ``(N, *shape)``: a float32 ``(N,)`` tensor.

        Args:
            x: Samples to score.
            exclude_self: Set only when ``x`` is (a subset of) the training data: each
                sample's nearest match, itself, is then not counted as a neighbour, which gives
                PyOD's training scores ``decision_scores_``. The suites score a disjoint test
                split and leave it off.
        """
        return as_tensor(self._scores(self.features(x), skip=int(exclude_self)))

    def _scores(self, x: np.ndarray, skip: int = 0) -> np.ndarray:
        distances, _ = self.fitted().kneighbors(x, n_neighbors=self.n_neighbors + skip)
        return _AGGREGATES[self.method](distances[:, skip:], axis=1)
