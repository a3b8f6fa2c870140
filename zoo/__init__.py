"""zoo: a plugin-based research zoo for generative and anomaly-detection models.

The public API. Importing ``zoo`` is cheap: torch and lightning are imported only by the
functions that train or evaluate.

    >>> import zoo
    >>> zoo.list_models("mlp*")
    ['mlp']
"""

from __future__ import annotations

from zoo.data import DataInfo, Dataset, load_dataset
from zoo.errors import UnknownNameError, ZooError
from zoo.models import ZooModel, create_model, get_model_spec, list_models
from zoo.models.checkpoints import load_model, save_model
from zoo.plugins import hookimpl
from zoo.plugins.specs import DataFile, DatasetSpec, HParam, ModelSpec, SuiteSpec, TrackerSpec

__version__ = "0.1.0"

__all__ = [
    "DataFile",
    "DataInfo",
    "Dataset",
    "DatasetSpec",
    "HParam",
    "ModelSpec",
    "SuiteSpec",
    "TrackerSpec",
    "UnknownNameError",
    "ZooError",
    "ZooModel",
    "__version__",
    "create_model",
    "get_model_spec",
    "hookimpl",
    "list_models",
    "load_dataset",
    "load_model",
    "save_model",
]
