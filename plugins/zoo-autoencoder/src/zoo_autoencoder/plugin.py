"""Registers ``autoencoder`` and ``deep-svdd`` (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

from zoo import ModelSpec, hookimpl

#: Deep SVDD's MNIST setup (Ruff et al. 2018 and their code, github.com/lukasruff/
#: Deep-SVDD-PyTorch): the bias-free LeNet (8 and 4 channels, 5x5, max-pooling; the ``cnn``
#: backbone's defaults), a 32-value representation, Adam at lr 1e-4 and a tenth of it from
#: epoch 50 (in pretraining too), weight decay 5e-7, batches of 200, 150 epochs of autoencoder
#: pretraining with weight decay 5e-4, its decoder starting from the code itself as a feature
#: map (on MNIST 2 channels of 4x4; no linear layer), batch norm with eps 1e-4 (the code's
#: ``BatchNorm2d(..., eps=1e-04, affine=False)``); and its protocol: every training image of
#: the class trains, no validation hold-out selects the parameters kept.
DEEP_SVDD_IMAGE = {"rep_dim": 32, "hidden": (8, 4), "lr": 1e-4, "lr_milestone": 50,
                   "weight_decay": 5e-7, "batch_size": 200, "pretrain_epochs": 150,
                   "pretrain_weight_decay": 5e-4, "decoder_stem": "reshape",
                   "batch_norm_eps": 1e-4, "uses_validation": False}
#: Sequence backbones normalise with layer norm or none: batch norm (the mlp default) is off.
SEQUENCE_BACKBONES = {f"timeseries[{name}]": {"batch_norm": False}
                      for name in ("rnn", "transformer")}


@hookimpl
def zoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the reconstruction-error autoencoder and Deep SVDD: on the ``mlp`` backbone
    for tables and series windows (flattened), on the ``cnn`` backbone for images."""
    register(ModelSpec(
        name="autoencoder", kind="method", tasks=("detect",),
        modalities=("tabular", "image", "timeseries"),
        implementation="zoo_autoencoder.lightning_module:AutoEncoderDetector",
        default_backbones={"tabular": "mlp", "image": "cnn", "timeseries": "mlp"},
        defaults={"image[cnn]": {"latent_dim": 32, "hidden": (32, 64), "dropout": 0.0,
                                 "batch_size": 128}, **SEQUENCE_BACKBONES},
        paper="https://doi.org/10.1145/2689746.2689747",
        summary="Undercomplete autoencoder; anomaly score = reconstruction error"))
    register(ModelSpec(
        name="deep-svdd", kind="method", tasks=("detect",),
        modalities=("tabular", "image", "timeseries"),
        implementation="zoo_autoencoder.lightning_module:DeepSVDD",
        default_backbones={"tabular": "mlp", "image": "cnn", "timeseries": "mlp"},
        defaults={"image[cnn]": DEEP_SVDD_IMAGE, **SEQUENCE_BACKBONES},
        paper="http://proceedings.mlr.press/v80/ruff18a.html",
        summary="Deep SVDD (Ruff et al. 2018): one-class / soft-boundary hypersphere"))
