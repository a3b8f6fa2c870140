"""Registers the ``rnn`` backbone and model (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from zoo import HParam, ModelSpec, hookimpl
from zoo.plugins.specs import (
    ACTIVATION,
    BATCH_SIZE,
    DROPOUT,
    GRAD_CLIP,
    HIDDEN,
    LR,
    LR_SCHEDULE,
    MIXUP,
    OPTIMIZER,
    WEIGHT_DECAY,
)

#: ``RNNModel``'s hyperparameters.
HPARAMS = (
    HParam("cell", str, "lstm", choices=("lstm", "gru", "rnn"), search=("lstm", "gru"),
           help="lstm, gru or rnn (Elman)"),
    replace(HIDDEN, default=(128, 128),
            help="Width of each recurrent layer (one layer per entry; text: also the embedding)"),
    DROPOUT,
    replace(ACTIVATION, default="tanh", choices=("tanh", "relu"), search=("tanh", "relu"),
            help="Nonlinearity of cell=rnn"),
    MIXUP, OPTIMIZER, replace(LR, default=2e-3), LR_SCHEDULE, WEIGHT_DECAY, BATCH_SIZE,
    GRAD_CLIP,
)

#: The text-gen suite's sizes per budget (one ``hidden`` size per layer): our choice, two
#: LSTM layers of 256 for a CPU, three of 512 for a GPU.
RECIPES = {
    "text-gen/smoke": {"cell": "lstm", "hidden": (32,), "dropout": 0.0, "batch_size": 32},
    "text-gen/quick": {"cell": "lstm", "hidden": (256, 256), "dropout": 0.0, "batch_size": 32,
                       "lr": 2e-3},
    "text-gen/full": {"cell": "lstm", "hidden": (512, 512, 512), "dropout": 0.2,
                      "batch_size": 64, "lr": 2e-3, "lr_schedule": "cosine"},
}


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
        hparams=HPARAMS,
        recipes=RECIPES,
        paper="https://doi.org/10.1162/neco.1997.9.8.1735",
        summary="Recurrent network (LSTM, GRU): char language model, forecaster, classifier",
    ))
