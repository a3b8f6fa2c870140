"""The ``cnn`` supervised model: a small convolutional image classifier."""

from __future__ import annotations

from typing import Literal

from zoo.data.types import DataInfo  # at run time: create_model reads the __init__ hints
from zoo.models.supervised import SupervisedModule

from zoo_cnn.backbone import CNNBackbone

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                    "adamw"]


class CNNModel(SupervisedModule):
    """Convolutional classifier: conv blocks that each halve the resolution, a linear head.

    With the defaults, two LeNet-style blocks (5x5 convolutions with 32 and 64 channels,
    batch norm, ReLU, 2x2 max-pooling, dropout) and a linear layer to the class logits.

    LeCun et al., "Gradient-based learning applied to document recognition", Proc. IEEE 1998,
    https://doi.org/10.1109/5.726791; batch norm: Ioffe & Szegedy 2015,
    https://arxiv.org/abs/1502.03167.

    Args:
        data_info: Images ``(C, H, W)`` of any size, with class labels.
        hidden: Channels of each conv block.
        kernel_size: Odd side of the convolution kernels.
        batch_norm: Batch normalisation after each convolution.
        activation: Hidden activation.
        pool: How a block halves the resolution: 2x2 ``max``-pooling or ``stride``-2 convs.
        dropout: Dropout probability after each block.
        mixup: Mixup alpha (0: off).
        optimizer: Optimiser by name.
        lr: Learning rate.
        weight_decay: L2 penalty (decoupled for ``adamw``).
        batch_size: Samples per mini-batch.
    """

    def __init__(self, data_info: DataInfo, hidden: tuple[int, ...] = (32, 64),
                 kernel_size: int = 5, batch_norm: bool = True,
                 activation: Literal["relu", "gelu", "tanh", "leaky_relu"] = "relu",
                 pool: Literal["max", "stride"] = "max", dropout: float = 0.25,
                 mixup: float = 0.0, optimizer: Optimizer = "adamw", lr: float = 1e-3,
                 weight_decay: float = 1e-4, batch_size: int = 128) -> None:
        super().__init__(data_info, mixup=mixup)
        self.save_hyperparameters(ignore=["data_info"])
        self.network = CNNBackbone().encoder(
            data_info, self.output_dim, hidden=hidden, kernel_size=kernel_size,
            batch_norm=batch_norm, activation=activation, pool=pool, dropout=dropout)
