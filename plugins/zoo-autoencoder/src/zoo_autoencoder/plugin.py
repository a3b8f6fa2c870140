"""Registers ``autoencoder`` and ``deep-svdd`` (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the reconstruction-error autoencoder and Deep SVDD, both on the ``mlp``
    backbone for tables."""
    register(ModelSpec(
        name="autoencoder", kind="method", tasks=("detect",), modalities=("tabular",),
        implementation="zoo_autoencoder.lightning_module:AutoEncoderDetector",
        default_backbones={"tabular": "mlp"},
        paper="https://doi.org/10.1145/2689746.2689747",
        summary="Undercomplete autoencoder; anomaly score = reconstruction error"))
    register(ModelSpec(
        name="deep-svdd", kind="method", tasks=("detect",), modalities=("tabular",),
        implementation="zoo_autoencoder.lightning_module:DeepSVDD",
        default_backbones={"tabular": "mlp"},
        paper="http://proceedings.mlr.press/v80/ruff18a.html",
        summary="Deep SVDD (Ruff et al. 2018): one-class / soft-boundary hypersphere"))
