"""The ``mlp`` supervised model: a multilayer perceptron classifier or regressor."""

from __future__ import annotations

from typing import Literal

from zoo.data.types import DataInfo
from zoo.models.supervised import SupervisedModule
from zoo_mlp.torch_model import MLP

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                    "adamw"]


class MLPModel(SupervisedModule):
    """Multilayer perceptron trained by mini-batch gradient descent.

    Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors",
    Nature 1986, https://doi.org/10.1038/323533a0.

    Args:
        data_info: Tabular, image or series data; images and series windows are flattened.
        hidden: Width of each hidden layer.
        dropout: Dropout probability after each hidden layer.
        batch_norm: Batch normalisation in each hidden layer.
        activation: Hidden activation.
        mixup: Mixup alpha for classification (0: off).
        optimizer: Optimiser by name.
        lr: Learning rate.
        weight_decay: L2 penalty (decoupled for ``adamw``).
        batch_size: Samples per mini-batch.
    """

    def __init__(self, data_info: DataInfo, hidden: tuple[int, ...] = (256, 256),
                 dropout: float = 0.1, batch_norm: bool = False,
                 activation: Literal["relu", "gelu", "tanh", "leaky_relu"] = "relu",
                 mixup: float = 0.0, optimizer: Optimizer = "adam", lr: float = 1e-3,
                 weight_decay: float = 0.0, batch_size: int = 128) -> None:
        super().__init__(data_info, mixup=mixup)
        self.save_hyperparameters(ignore=["data_info"])
        self.network = MLP(data_info.n_features, self.output_dim, hidden, dropout=dropout,
                           batch_norm=batch_norm, activation=activation)
