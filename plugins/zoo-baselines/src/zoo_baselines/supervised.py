"""Linear supervised baselines: the floor every backbone should beat on ``supervised``.

Both standardise the features on the training split by default (scikit-learn's advice for
penalised linear models; it also lets the solver converge on raw tables), then fit a linear
model. ``predict(x)`` returns what the suite expects of every model of the task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from zoo import DataInfo, ZooError  # DataInfo at run time: create_model reads __init__ hints

from zoo_baselines.base import SklearnModel, as_tensor

if TYPE_CHECKING:
    import torch


class Supervised(SklearnModel):
    """A model fitted on samples and targets that implements :meth:`predict`."""

    def __init__(self, data_info: DataInfo, standardize: bool, **hparams: Any) -> None:
        super().__init__(data_info, standardize=standardize, **hparams)
        self.standardize = standardize

    def predict(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Predictions for a batch ``(N, *shape)`` as a float32 tensor."""
        return as_tensor(self._predict(self.features(x)))

    def _predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for flattened samples ``(N, n_features)``."""
        raise NotImplementedError

    def _with_scaling(self, estimator: Any) -> Any:
        """``estimator`` behind a ``StandardScaler`` when ``standardize`` is set."""
        return make_pipeline(StandardScaler(), estimator) if self.standardize else estimator

    def _fit_estimator(self, estimator: Any, x: np.ndarray, y: np.ndarray | None) -> None:
        if y is None:
            raise ZooError(f"{self.label}: the training split has no targets")
        estimator.fit(x, self._targets(y))

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return y


class LogisticRegressionModel(Supervised):
    """Multinomial logistic regression with an L2 penalty.

    Cox, "The Regression Analysis of Binary Sequences", JRSS B 20(2), 1958,
    https://doi.org/10.1111/j.2517-6161.1958.tb00292.x; scikit-learn's ``LogisticRegression``
    (lbfgs). ``predict`` returns log-probabilities, ``(N, n_classes)``: logits up to a
    per-row constant, so cross-entropy and argmax work on them as on any classifier's
    logits. A class absent from the training split gets log-probability ``-inf``.

    Args:
        data_info: The data; ``n_classes`` sets the output width.
        C: Inverse L2 penalty strength (scikit-learn: 1.0).
        max_iter: Iteration limit of the lbfgs solver (scikit-learn: 100).
        standardize: Scale features to zero mean and unit variance on the training split.
    """

    def __init__(self, data_info: DataInfo, C: float = 1.0, max_iter: int = 100,
                 standardize: bool = True) -> None:
        super().__init__(data_info, standardize, C=C, max_iter=max_iter)
        self.C = C
        self.max_iter = max_iter

    def _new_estimator(self, seed: int) -> Any:
        return self._with_scaling(LogisticRegression(C=self.C, max_iter=self.max_iter,
                                                     random_state=seed))

    def _targets(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y).reshape(-1)
        n_classes = self._n_classes(y)
        if y.min() < 0 or y.max() >= n_classes:
            raise ZooError(f"{self.label}: class labels must be 0..{n_classes - 1}, "
                           f"got {y.min()}..{y.max()}")
        return y

    def _n_classes(self, y: np.ndarray) -> int:
        return self.data_info.n_classes or int(y.max()) + 1

    def _predict(self, x: np.ndarray) -> np.ndarray:
        estimator = self.fitted()
        classes = estimator.classes_
        out = np.full((len(x), self._n_classes(classes)), -np.inf)
        out[:, classes] = _log_proba(estimator.decision_function(x))
        return out

    def _validation_metrics(self, x: np.ndarray, y: np.ndarray | None) -> dict[str, float]:
        if y is None:
            return {}
        y = np.asarray(y).reshape(-1)
        log_proba = self._predict(self.features(x))
        return {"val_accuracy": float(np.mean(log_proba.argmax(axis=1) == y)),
                "val_loss": float(-np.mean(log_proba[np.arange(len(y)), y]))}


def _log_proba(decision: np.ndarray) -> np.ndarray:
    """Logistic regression's class log-probabilities from its decision function, computed in
    log space: scikit-learn's ``predict_log_proba`` takes the log of probabilities that
    underflow to 0 for confident predictions, and gives -inf (an infinite cross-entropy)."""
    from scipy.special import log_softmax

    if decision.ndim == 1:  # two classes: the decision is the logit of the second
        decision = np.stack([np.zeros_like(decision), decision], axis=1)
    return log_softmax(decision, axis=1)


class LinearRegressionModel(Supervised):
    """Least-squares linear regression, with a ridge penalty when ``alpha > 0``.

    Hoerl and Kennard, "Ridge Regression: Biased Estimation for Nonorthogonal Problems",
    Technometrics 12(1), 1970, https://doi.org/10.1080/00401706.1970.10488634.
    ``predict`` returns values shaped like the training targets: ``(N,)`` or
    ``(N, target_dim)``.

    Args:
        data_info: The data the model is built for.
        alpha: L2 penalty strength; 0 fits ordinary least squares (``LinearRegression``),
            more fits scikit-learn's ``Ridge``.
        standardize: Scale features to zero mean and unit variance on the training split
            (ordinary least squares predicts the same either way; the penalty does not).
    """

    def __init__(self, data_info: DataInfo, alpha: float = 0.0, standardize: bool = True) -> None:
        super().__init__(data_info, standardize, alpha=alpha)
        self.alpha = alpha

    def _new_estimator(self, seed: int) -> Any:
        linear = LinearRegression() if self.alpha == 0 else Ridge(alpha=self.alpha)
        return self._with_scaling(linear)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return self.fitted().predict(x)

    def _validation_metrics(self, x: np.ndarray, y: np.ndarray | None) -> dict[str, float]:
        if y is None:
            return {}
        predicted = self._predict(self.features(x)).reshape(np.shape(y))
        return {"val_loss": float(mean_squared_error(y, predicted)),
                "val_r2": float(r2_score(y, predicted))}
