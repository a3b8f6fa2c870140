"""The detectors as zoo models: losses, steps, pretraining and ``score()``.

- :class:`AutoEncoderDetector` (``autoencoder``): an undercomplete autoencoder trained on
  (mostly) normal data; a sample's reconstruction error is its anomaly score.
- :class:`DeepSVDD` (``deep-svdd``): a bias-free network trained to map the data close to a
  fixed centre ``c``; a sample's squared distance to ``c`` is its anomaly score.

Both build their networks with a backbone by name: ``mlp`` for tables, ``cnn`` for images.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn
from zoo import DataInfo, ZooError  # DataInfo at run time: create_model reads __init__ hints
from zoo.models.backbones import Backbone, get_backbone
from zoo.models.module import ZooModule

from zoo_autoencoder.loss import (
    initial_center,
    one_class_loss,
    reconstruction_error,
    soft_boundary_loss,
    soft_boundary_radius,
)
from zoo_autoencoder.torch_model import AutoEncoder, DeepSVDDNetwork

if TYPE_CHECKING:
    import numpy as np
    from zoo.data.types import Splits
    from zoo.training import TrainConfig

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                    "adamw"]
Activation = Literal["relu", "gelu", "tanh", "leaky_relu"]
Objective = Literal["one-class", "soft-boundary"]
Stem = Literal["linear", "reshape"]


def auto_code_dim(n_features: int) -> int:
    """The code size used when none is given: half the features, between 8 and 32."""
    return min(32, max(8, n_features // 2))


def reconstruction_range(info: DataInfo) -> nn.Module | None:
    """The squashing that keeps reconstructed images in their value range: ``sigmoid`` for
    ``[0, 1]``, ``tanh`` for ``[-1, 1]``; ``None`` (raw outputs) for anything else, tables
    included (they are standardised, unbounded)."""
    value_range = tuple(info.value_range or ())
    if info.modality == "image" and value_range == (0.0, 1.0):
        return nn.Sigmoid()
    if info.modality == "image" and value_range == (-1.0, 1.0):
        return nn.Tanh()
    return None


def given_options(**options: Any) -> dict[str, Any]:
    """The ``options`` that are not ``None``: options only the ``cnn`` backbone has (``stem``,
    ``batch_norm_eps``) reach a backbone only when given, so the others refuse them by name."""
    return {name: value for name, value in options.items() if value is not None}


def check_decoder_stem(builder: Backbone, info: DataInfo, code_dim: int,
                       hidden: tuple[int, ...], stem: Stem) -> None:
    """Refuse a pretraining decoder ``stem`` the backbone lacks when the model is created, not
    when pretraining starts: builds a trial decoder under a forked RNG, so the model's seeded
    initial weights are the same as without the check."""
    with torch.random.fork_rng(devices=[]):
        builder.decoder(code_dim, info, hidden=tuple(reversed(hidden)), stem=stem)


def check_milestone(model: str, lr_milestone: int) -> None:
    if lr_milestone < 0:
        raise ZooError(f"{model}: lr_milestone={lr_milestone} must be an epoch >= 0 "
                       "(0: a constant learning rate)")


class AutoEncoderDetector(ZooModule):
    """Reconstruction-error anomaly detector.

    An autoencoder learns to reproduce normal data through a code narrower than its hidden
    layers; samples unlike the training data reconstruct badly. On small tables the code may
    be wider than the input: dropout and batch norm (on by default) then keep the network from
    copying its input (measurements in the plugin's README). Reconstructions of images with a
    known value range are squashed into it (:func:`reconstruction_range`). Trained with the
    squared reconstruction error of each sample (by default its mean over the sample's values);
    ``score(x)`` is that error. The validation loss is the same error on the (unlabelled)
    validation split.

    Hinton & Salakhutdinov, "Reducing the dimensionality of data with neural networks",
    Science 2006, https://doi.org/10.1126/science.1127647; as an anomaly detector: Sakurada &
    Yairi, MLSDA 2014, https://doi.org/10.1145/2689746.2689747.

    Args:
        data_info: The data the model is built for.
        backbone: Backbone (by name) that builds the encoder and the decoder.
        latent_dim: Size of the code; ``None``: :func:`auto_code_dim` of the feature count.
        hidden: Hidden widths of the encoder; the decoder mirrors them.
        dropout: Dropout probability after each hidden layer.
        batch_norm: Batch normalisation in each hidden layer.
        batch_norm_eps: ``cnn`` backbone only: added to batch norm's variance; ``None``: the
            backbone's default (PyTorch's 1e-5).
        activation: Hidden activation.
        bias: Bias terms in every layer (Deep SVDD pretrains a bias-free autoencoder).
        reduction: How a sample's squared errors combine: ``mean`` over its values, or
            ``sum`` (Deep SVDD's pretraining objective, to whose scale the official code's
            weight decay is set: with Adam's L2 penalty only the ratio of the two matters).
        decoder_stem: ``cnn`` backbone only: how the code becomes the decoder's first
            feature map, ``linear`` or ``reshape`` (no layer: the code is the map, as Deep
            SVDD's MNIST autoencoder); ``None``: the backbone's default.
        optimizer: Optimiser by name.
        lr: Learning rate.
        lr_milestone: Epoch from which the learning rate is a tenth of ``lr`` (0: constant).
        weight_decay: L2 penalty (decoupled for ``adamw``).
        batch_size: Samples per mini-batch.
    """

    def __init__(self, data_info: DataInfo, backbone: str = "mlp", latent_dim: int | None = None,
                 hidden: tuple[int, ...] = (64, 32), dropout: float = 0.2,
                 batch_norm: bool = True, batch_norm_eps: float | None = None,
                 activation: Activation = "relu", bias: bool = True,
                 reduction: Literal["mean", "sum"] = "mean", decoder_stem: Stem | None = None,
                 optimizer: Optimizer = "adam", lr: float = 1e-3, lr_milestone: int = 0,
                 weight_decay: float = 1e-5, batch_size: int = 64) -> None:
        super().__init__(data_info)
        check_milestone("autoencoder", lr_milestone)
        self.save_hyperparameters(ignore=["data_info"])
        code_dim = auto_code_dim(data_info.n_features) if latent_dim is None else latent_dim
        builder = get_backbone(backbone)
        options: dict[str, Any] = {"dropout": dropout, "batch_norm": batch_norm,
                                   "activation": activation, "bias": bias,
                                   **given_options(batch_norm_eps=batch_norm_eps)}
        stem = given_options(stem=decoder_stem)
        self.network = AutoEncoder(
            builder.encoder(data_info, code_dim, hidden=hidden, **options),
            builder.decoder(code_dim, data_info, hidden=tuple(reversed(hidden)), **options,
                            **stem),
            reconstruction_range(data_info))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x``."""
        return self.network(x)

    def errors(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample squared reconstruction error of a batch on the module's device."""
        return reconstruction_error(x, self.network(x), self.hparams["reduction"])

    def training_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = batch[0]
        loss = self.errors(x).mean()
        self.log_epoch_mean("train_loss", loss, len(x))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x = batch[0]
        self.log_epoch_mean("val_loss", self.errors(x).mean(), len(x))

    def score(self, x: Any) -> torch.Tensor:
        """Anomaly scores ``(N,)``: the squared reconstruction error of each sample (mean or
        sum over its values, as ``reduction``)."""
        return self.batched(self.errors, x)


class DeepSVDD(ZooModule):
    """Deep Support Vector Data Description.

    A network ``phi`` without bias terms maps the training data into a hypersphere of minimum
    volume around a centre ``c``, fixed beforehand as the mean representation of the training
    data (coordinates closer to zero than ``eps`` pushed out to ``+-eps``). Optionally the
    network is first the encoder of a bias-free autoencoder trained for ``pretrain_epochs``
    (the paper's pretraining) on the summed squared error of each sample, as the official code
    (its weight decays are set for that scale), and ``c`` is computed after that.

    - ``one-class``: minimise the mean squared distance ``||phi(x) - c||^2``; the score is
      that distance.
    - ``soft-boundary``: minimise ``R^2 + 1/nu * mean(max(0, d - R^2))``; after
      ``warm_up_epochs`` the radius ``R`` is set once an epoch, after its training steps, to
      the ``1 - nu`` quantile of the training distances; the score is ``d - R^2``.

    Weight decay is the paper's ``lambda`` (an L2 penalty through the optimiser). Centre and
    radius are buffers, saved and restored with the weights.

    Ruff et al., "Deep One-Class Classification", ICML 2018,
    http://proceedings.mlr.press/v80/ruff18a.html.

    Args:
        data_info: The data the model is built for.
        backbone: Backbone (by name) that builds the network (and the pretraining decoder).
        rep_dim: Size of the representation; ``None``: :func:`auto_code_dim` of the feature
            count.
        hidden: Hidden widths of the network; the pretraining decoder mirrors them.
        batch_norm: Batch normalisation (without affine terms) in each hidden layer.
        batch_norm_eps: ``cnn`` backbone only: added to batch norm's variance (the official
            code's is 1e-4); ``None``: the backbone's default (PyTorch's 1e-5).
        activation: Hidden activation (the paper uses leaky ReLU).
        objective: ``one-class`` or ``soft-boundary``.
        nu: Soft-boundary only: the fraction of training points allowed outside the sphere,
            in ``(0, 1]``.
        eps: Smallest magnitude of a coordinate of the centre.
        warm_up_epochs: Soft-boundary only: epochs trained with ``R = 0`` before ``R`` is set.
        pretrain_epochs: Epochs of autoencoder pretraining (0: none).
        decoder_stem: The pretraining decoder's stem (``cnn`` backbone only; see
            :class:`AutoEncoderDetector`).
        optimizer: Optimiser by name (also for pretraining).
        lr: Learning rate (also for pretraining).
        lr_milestone: Epoch from which the learning rate is a tenth of ``lr``, in pretraining
            and in Deep SVDD training, as the official code's ``lr_milestone`` (0: constant).
        weight_decay: The paper's weight decay ``lambda``.
        pretrain_weight_decay: Weight decay of pretraining; ``None``: ``weight_decay``.
        batch_size: Samples per mini-batch.
        uses_validation: Keep the parameters (of pretraining and of training) with the lowest
            validation loss, stopping early when a budget has patience. ``False``, the
            official code's protocol: suites put the validation rows into training and no
            epoch is chosen on held-out data (the fit loop then keeps the parameters of the
            lowest epoch-mean training loss; the official code keeps the last epoch's).
    """

    def __init__(self, data_info: DataInfo, backbone: str = "mlp", rep_dim: int | None = None,
                 hidden: tuple[int, ...] = (64, 32), batch_norm: bool = True,
                 batch_norm_eps: float | None = None,
                 activation: Activation = "leaky_relu", objective: Objective = "one-class",
                 nu: float = 0.1, eps: float = 0.1, warm_up_epochs: int = 10,
                 pretrain_epochs: int = 10, decoder_stem: Stem | None = None,
                 optimizer: Optimizer = "adam", lr: float = 1e-3,
                 lr_milestone: int = 0, weight_decay: float = 1e-6,
                 pretrain_weight_decay: float | None = None, batch_size: int = 64,
                 uses_validation: bool = True) -> None:
        super().__init__(data_info)
        if not 0 < nu <= 1:
            raise ZooError(f"deep-svdd: nu={nu} must be in (0, 1]")
        if eps <= 0:
            raise ZooError(f"deep-svdd: eps={eps} must be positive")
        check_milestone("deep-svdd", lr_milestone)
        self.save_hyperparameters(ignore=["data_info"])
        self.uses_validation = uses_validation
        self.rep_dim = auto_code_dim(data_info.n_features) if rep_dim is None else rep_dim
        builder = get_backbone(backbone)
        if decoder_stem is not None:
            check_decoder_stem(builder, data_info, self.rep_dim, hidden, decoder_stem)
        encoder = builder.encoder(data_info, self.rep_dim, hidden=hidden,
                                  batch_norm=batch_norm, activation=activation, bias=False,
                                  **given_options(batch_norm_eps=batch_norm_eps))
        self.network = DeepSVDDNetwork(encoder, self.rep_dim)
        self._radius_data: np.ndarray | None = None  # the training samples, while fitting
        self._radius_epoch = -1

    @property
    def soft_boundary(self) -> bool:
        return self.hparams["objective"] == "soft-boundary"

    # -- training ------------------------------------------------------------------------------
    def fit(self, splits: Splits, config: TrainConfig) -> dict[str, float]:
        """Pretrain (optionally), fix the centre on ``splits.train``, then train.

        Under a time budget pretraining may take half of ``config.max_time``; Deep SVDD
        training gets what is left. The metrics of pretraining come back prefixed ``ae_``
        (``ae_best_val_loss``, ``ae_epochs``, ``ae_steps``).
        """
        started = time.monotonic()
        metrics: dict[str, float] = {}
        if self.hparams["pretrain_epochs"] > 0:
            _, pretrained = self.pretrain(splits, config)
            metrics = {f"ae_{k}": v for k, v in pretrained.items()}
        self.initialize_center(splits.train.x)
        if config.max_time is not None:
            left = config.max_time - (time.monotonic() - started)
            config = replace(config, max_time=max(left, 1.0))
        self._radius_data, self._radius_epoch = splits.train.x, -1
        try:
            metrics.update(super().fit(splits, config))
        finally:
            self._radius_data = None
        return metrics

    def pretrain(self, splits: Splits,
                 config: TrainConfig) -> tuple[AutoEncoderDetector, dict[str, float]]:
        """Train a bias-free autoencoder whose encoder is shaped like ``phi``; copy its encoder.

        The autoencoder trains in a temporary run directory: its loggers' files would clash
        with the Deep SVDD run's in ``config.run_dir``; its summary metrics are returned.

        Returns:
            The trained autoencoder and its training metrics.
        """
        hp = self.hparams
        autoencoder = AutoEncoderDetector(
            self.data_info, backbone=hp["backbone"], latent_dim=self.rep_dim,
            hidden=hp["hidden"], dropout=0.0, batch_norm=hp["batch_norm"],
            batch_norm_eps=hp["batch_norm_eps"], activation=hp["activation"], bias=False,
            reduction="sum",
            decoder_stem=hp["decoder_stem"], optimizer=hp["optimizer"], lr=hp["lr"],
            lr_milestone=hp["lr_milestone"], batch_size=hp["batch_size"],
            weight_decay=hp["weight_decay"] if hp["pretrain_weight_decay"] is None
            else hp["pretrain_weight_decay"])
        autoencoder.zoo_name = "autoencoder"
        # The run's bounds hold for each phase: a budget of 30 epochs pretrains for at most 30.
        epochs = hp["pretrain_epochs"]
        if config.max_epochs is not None:
            epochs = min(epochs, config.max_epochs)
        pretrain_config = replace(
            config, max_epochs=epochs, run_dir=None,
            max_time=None if config.max_time is None else config.max_time / 2)
        metrics = autoencoder.fit(splits, pretrain_config)
        self.network.encoder.load_state_dict(autoencoder.network.encoder.state_dict())
        return autoencoder, metrics

    def initialize_center(self, x: np.ndarray | torch.Tensor) -> None:
        """Fix ``c`` as the mean representation of ``x`` (the paper's initial forward pass).

        After pretraining the pass runs in eval mode, as the official code's and as scoring:
        batch norm uses the running statistics pretraining left. Without pretraining those are
        still their initial values, so the pass runs in training mode, in mini-batches of
        ``batch_size``, normalising as the objective's steps will (on tabular pima an eval
        mode centre without pretraining scored 16 points of AUROC lower: the plugin's README).
        """
        if self.hparams["pretrain_epochs"] > 0:
            representation = self.batched(self.network.encoder, x)
        else:
            representation = self._training_mode_representation(x)
        self.network.center.copy_(initial_center(representation, self.hparams["eps"]))

    def _training_mode_representation(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        samples = torch.as_tensor(x).to(self.device)
        batches = [b for b in torch.split(samples, self.hparams["batch_size"]) if len(b) > 1]
        was_training = self.training
        self.train()
        try:
            with torch.no_grad():
                return torch.cat([self.network.encoder(b) for b in batches or [samples]])
        finally:
            self.train(was_training)

    def _loss(self, distance: torch.Tensor) -> torch.Tensor:
        if self.soft_boundary:
            return soft_boundary_loss(distance, self.network.radius, self.hparams["nu"])
        return one_class_loss(distance)

    def training_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = batch[0]
        loss = self._loss(self.network(x))
        self.log_epoch_mean("train_loss", loss, len(x))
        return loss

    def update_radius(self) -> None:
        """Soft-boundary, after the warm-up, once an epoch: set ``R`` to the ``1 - nu`` quantile
        of the training distances under the current network.

        Called before the epoch's validation (so the validation loss and the parameters that
        :class:`zoo.training.callbacks.BestWeights` keeps go with this ``R``), or at the
        epoch's end when there is no validation. Every DDP rank holds the whole training split
        and gets the same ``R``.
        """
        epoch = self.current_epoch
        if (not self.soft_boundary or self._radius_data is None or self._radius_epoch == epoch
                or epoch + 1 < self.hparams["warm_up_epochs"]):
            return
        self._radius_epoch = epoch
        distance = self.batched(self.network, self._radius_data)
        self.network.radius.copy_(soft_boundary_radius(distance, self.hparams["nu"]))

    def on_validation_epoch_start(self) -> None:
        self.update_radius()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self.update_radius()

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x = batch[0]
        self.log_epoch_mean("val_loss", self._loss(self.network(x)), len(x))

    # -- evaluate hook -------------------------------------------------------------------------
    def anomaly_scores(self, x: torch.Tensor) -> torch.Tensor:
        """``d`` (one-class) or ``d - R^2`` (soft-boundary) of a batch on the module's device."""
        distance = self.network(x)
        return distance - self.network.radius.pow(2) if self.soft_boundary else distance

    def score(self, x: Any) -> torch.Tensor:
        """Anomaly scores ``(N,)``: squared distance to the centre (minus ``R^2`` for the
        soft-boundary objective)."""
        return self.batched(self.anomaly_scores, x)
