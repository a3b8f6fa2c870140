"""The ``rnn`` model: a recurrent network on its own, for every task of a sequence model."""

from __future__ import annotations

from typing import Literal

from zoo.data.types import DataInfo  # at run time: create_model reads the __init__ hints
from zoo.models.sequence import SequenceModule

from zoo_rnn.backbone import RNNBackbone

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                    "adamw"]


class RNNModel(SequenceModule):
    """LSTM / GRU / Elman network: classifier or regressor of windows (the last step's state),
    or next-step model (character language model, forecaster) with ``sample``,
    ``log_likelihood`` and ``score``; see :mod:`zoo.models.sequence` for the tasks.

    Hochreiter & Schmidhuber, "Long short-term memory", Neural Computation 1997,
    https://doi.org/10.1162/neco.1997.9.8.1735; Cho et al. 2014 (GRU),
    https://arxiv.org/abs/1406.1078; the character model as Karpathy's char-rnn,
    https://github.com/karpathy/char-rnn.

    Args:
        data_info: Text windows ``(L,)`` or series windows ``(L, C)``.
        cell: ``lstm``, ``gru`` or ``rnn`` (Elman).
        hidden: Width of each recurrent layer (one layer per entry); for text also the
            embedding width.
        dropout: Dropout on each layer's outputs.
        activation: Nonlinearity of ``cell="rnn"``.
        mixup: Mixup alpha for classifying series (0: off).
        optimizer: Optimiser by name.
        lr: Learning rate.
        lr_schedule: ``constant``, or ``cosine``: a warmup then cosine decay to a tenth of
            ``lr`` over the run (:func:`zoo.models.module.cosine_with_warmup`).
        weight_decay: L2 penalty (decoupled for ``adamw``).
        batch_size: Windows per mini-batch.
        grad_clip: Largest gradient norm (0: no clipping); recurrences need it.
    """

    def __init__(self, data_info: DataInfo, cell: Literal["lstm", "gru", "rnn"] = "lstm",
                 hidden: tuple[int, ...] = (128, 128), dropout: float = 0.0,
                 activation: Literal["tanh", "relu"] = "tanh", mixup: float = 0.0,
                 optimizer: Optimizer = "adam", lr: float = 2e-3,
                 lr_schedule: Literal["constant", "cosine"] = "constant",
                 weight_decay: float = 0.0,
                 batch_size: int = 64, grad_clip: float = 1.0) -> None:
        super().__init__(data_info, mixup=mixup)
        self.save_hyperparameters(ignore=["data_info"])
        self.network = self.build_network(RNNBackbone(), cell=cell, hidden=hidden,
                                          dropout=dropout, activation=activation)
