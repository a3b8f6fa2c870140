"""Registers the ``rnn`` backbone and model (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register ``rnn``: a sequence model on its own (classifier, regressor, character
    language model, forecaster) and an encoder/decoder family for methods (``vae[rnn]``)."""
    register(ModelSpec(
        name="rnn",
        kind="backbone",
        tasks=("classify", "regress", "generate", "detect"),
        modalities=("text", "timeseries"),
        implementation="zoo_rnn.lightning_module:RNNModel",
        builder="zoo_rnn.backbone:RNNBackbone",
        paper="https://doi.org/10.1162/neco.1997.9.8.1735",
        summary="Recurrent network (LSTM, GRU): char language model, forecaster, classifier",
    ))
