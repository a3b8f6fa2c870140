"""Registers the classical baselines; imports nothing heavier than zoo itself.

The baselines are methods that take no backbone: their ``__init__`` has no ``backbone``
argument, so zoo injects none and the leaderboard names them plainly (``iforest``).
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl

_DETECT_MODALITIES = ("tabular", "image", "timeseries")  # samples are flattened


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register ``iforest``, ``ocsvm``, ``knn``, ``logistic-regression`` and
    ``linear-regression``."""
    register(ModelSpec(
        name="iforest", kind="method", tasks=("detect",), modalities=_DETECT_MODALITIES,
        implementation="zoo_baselines.detectors:IForest",
        paper="https://doi.org/10.1109/ICDM.2008.17",
        summary="Isolation Forest (Liu et al. 2008), PyOD defaults"))
    register(ModelSpec(
        name="ocsvm", kind="method", tasks=("detect",), modalities=_DETECT_MODALITIES,
        implementation="zoo_baselines.detectors:OCSVM",
        paper="https://doi.org/10.1162/089976601750264965",
        summary="One-class SVM (Schölkopf et al. 2001), PyOD defaults"))
    register(ModelSpec(
        name="knn", kind="method", tasks=("detect",), modalities=_DETECT_MODALITIES,
        implementation="zoo_baselines.detectors:KNN",
        paper="https://doi.org/10.1145/342009.335437",
        summary="Distance to the k-th nearest training sample (Ramaswamy et al. 2000)"))
    register(ModelSpec(
        name="logistic-regression", kind="method", tasks=("classify",),
        modalities=("tabular", "image"),
        implementation="zoo_baselines.supervised:LogisticRegressionModel",
        paper="https://doi.org/10.1111/j.2517-6161.1958.tb00292.x",
        summary="Multinomial logistic regression on standardised features (scikit-learn)"))
    register(ModelSpec(
        name="linear-regression", kind="method", tasks=("regress",), modalities=("tabular",),
        implementation="zoo_baselines.supervised:LinearRegressionModel",
        paper="https://doi.org/10.1080/00401706.1970.10488634",
        summary="Least squares, ridge when alpha > 0 (scikit-learn)"))
