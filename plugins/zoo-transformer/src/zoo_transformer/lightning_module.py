"""The ``transformer`` model: a transformer used on its own on token and series windows."""

from __future__ import annotations

from typing import Any, Literal

from zoo.data.types import DataInfo  # at run time: create_model reads the __init__ hints
from zoo.models.sequence import SequenceModule

from zoo_transformer.backbone import TransformerBackbone

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                    "adamw"]
Activation = Literal["gelu", "relu", "tanh", "leaky_relu"]


class TransformerModel(SequenceModule):
    """GPT-style transformer: sequence classifier / regressor (bidirectional encoder,
    mean-pooled) and autoregressive generator / forecaster (causal, next step from the steps
    before it; text with the output head tied to the token embedding).

    The defaults are nanoGPT's shakespeare-char CPU recipe: 4 pre-norm blocks of 4 heads and
    128 dims, no dropout, no biases, AdamW at lr 1e-3 with weight decay 0.1 and the gradient
    norm clipped to 1.

    Vaswani et al., "Attention is all you need", NeurIPS 2017, https://arxiv.org/abs/1706.03762;
    the pre-norm GPT-2 block: Radford et al. 2019,
    https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf;
    nanoGPT: Karpathy, https://github.com/karpathy/nanoGPT.

    Args:
        data_info: Text windows ``(L,)`` or series windows ``(L, C)``; classify, regress,
            generate or detect (see :class:`zoo.models.sequence.SequenceModule`).
        layers: Number of blocks.
        heads: Attention heads per block.
        dim: Width of the residual stream; a multiple of ``heads``.
        dropout: Embedding, attention and residual dropout.
        bias: Bias terms in the linear layers and the layer norms.
        activation: The blocks' MLP nonlinearity.
        mixup: Mixup alpha for classifying series (0: off).
        optimizer: Optimiser by name.
        lr: Learning rate.
        lr_schedule: ``constant``, or ``cosine``: nanoGPT's warmup then cosine decay to a
            tenth of ``lr`` over the run (:func:`zoo.models.module.cosine_with_warmup`).
        weight_decay: Decoupled for ``adamw``; applied to the weight matrices and embeddings
            only, never to biases, layer norms or the series' learned deviations (as nanoGPT).
        batch_size: Windows per mini-batch.
        grad_clip: Largest gradient norm (0: no clipping).
    """

    def __init__(self, data_info: DataInfo, layers: int = 4, heads: int = 4, dim: int = 128,
                 dropout: float = 0.0, bias: bool = False, activation: Activation = "gelu",
                 mixup: float = 0.0, optimizer: Optimizer = "adamw", lr: float = 1e-3,
                 lr_schedule: Literal["constant", "cosine"] = "constant",
                 weight_decay: float = 0.1, batch_size: int = 64,
                 grad_clip: float = 1.0) -> None:
        super().__init__(data_info, mixup=mixup)
        self.save_hyperparameters(ignore=["data_info"])
        self.network = self.build_network(TransformerBackbone(), layers=layers, heads=heads,
                                          dim=dim, dropout=dropout, bias=bias,
                                          activation=activation)

    def configure_optimizers(self) -> Any:
        # Decaying a gain, a bias or a deviation towards zero only hurts; nanoGPT decays the
        # parameters with two or more dimensions (weight matrices, embeddings).
        decay = [p for p in self.parameters() if p.dim() >= 2]
        rest = [p for p in self.parameters() if p.dim() < 2]
        groups = [{"params": decay}, {"params": rest, "weight_decay": 0.0}]
        return self.scheduled(self.make_optimizer(self.hparams["optimizer"], groups,
                                                  lr=self.hparams["lr"],
                                                  weight_decay=self.hparams["weight_decay"]))
