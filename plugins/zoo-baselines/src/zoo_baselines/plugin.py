"""Registers the classical baselines; imports nothing heavier than zoo itself.

The baselines are methods that take no backbone: their ``__init__`` has no ``backbone``
argument, so zoo injects none and the leaderboard names them plainly (``iforest``).
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import HParam, ModelSpec, hookimpl

_DETECT_MODALITIES = ("tabular", "image", "timeseries")  # samples are flattened
_STANDARDIZE = HParam("standardize", bool, True,
                      help="Scale features to zero mean and unit variance on the training split")


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register ``iforest``, ``ocsvm``, ``knn``, ``logistic-regression`` and
    ``linear-regression``."""
    register(ModelSpec(
        name="iforest", kind="method", tasks=("detect",), modalities=_DETECT_MODALITIES,
        implementation="zoo_baselines.detectors:IForest",
        hparams=(HParam("n_estimators", int, 100, low=1, search=(50, 500), log=True,
                        help="Number of isolation trees"),
                 HParam("max_samples", int | None, None, low=1,
                        help="Subsample size per tree; none: min(256, training samples)")),
        paper="https://doi.org/10.1109/ICDM.2008.17",
        summary="Isolation Forest (Liu et al. 2008), PyOD defaults"))
    register(ModelSpec(
        name="ocsvm", kind="method", tasks=("detect",), modalities=_DETECT_MODALITIES,
        implementation="zoo_baselines.detectors:OCSVM",
        hparams=(HParam("kernel", str, "rbf", choices=("rbf", "linear", "poly", "sigmoid"),
                        search=("rbf", "linear", "poly", "sigmoid"), help="Kernel function"),
                 HParam("nu", float, 0.5, low=0, high=1, low_inclusive=False,
                        search=(0.01, 0.5), log=True,
                        help="Bound on the fraction of training errors and support vectors"),
                 HParam("gamma", float | str, "auto", low=0, low_inclusive=False,
                        choices=("scale", "auto"),
                        help="Kernel coefficient: a number, auto (1 / features) or scale")),
        paper="https://doi.org/10.1162/089976601750264965",
        summary="One-class SVM (Schölkopf et al. 2001), PyOD defaults"))
    register(ModelSpec(
        name="knn", kind="method", tasks=("detect",), modalities=_DETECT_MODALITIES,
        implementation="zoo_baselines.detectors:KNN",
        hparams=(HParam("n_neighbors", int, 5, low=1, search=(1, 50), log=True,
                        help="k; the training split needs at least k samples"),
                 HParam("method", str, "largest", choices=("largest", "mean", "median"),
                        search=("largest", "mean", "median"),
                        help="How the k distances become one score")),
        paper="https://doi.org/10.1145/342009.335437",
        summary="Distance to the k-th nearest training sample (Ramaswamy et al. 2000)"))
    register(ModelSpec(
        name="logistic-regression", kind="method", tasks=("classify",),
        modalities=("tabular", "image"),
        implementation="zoo_baselines.supervised:LogisticRegressionModel",
        hparams=(HParam("C", float, 1.0, low=0, low_inclusive=False, search=(1e-3, 1e3),
                        log=True, help="Inverse L2 penalty strength"),
                 HParam("max_iter", int, 100, low=1, help="Iteration limit of the lbfgs solver"),
                 _STANDARDIZE),
        paper="https://doi.org/10.1111/j.2517-6161.1958.tb00292.x",
        summary="Multinomial logistic regression on standardised features (scikit-learn)"))
    register(ModelSpec(
        name="linear-regression", kind="method", tasks=("regress",), modalities=("tabular",),
        implementation="zoo_baselines.supervised:LinearRegressionModel",
        hparams=(HParam("alpha", float, 0.0, low=0, search=(1e-4, 1e2), log=True,
                        help="Ridge penalty (0: least squares)"),
                 _STANDARDIZE),
        paper="https://doi.org/10.1080/00401706.1970.10488634",
        summary="Least squares, ridge when alpha > 0 (scikit-learn)"))
