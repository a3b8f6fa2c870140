"""Registers ``autoencoder`` and ``deep-svdd`` (cheap: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from zoo import HParam, ModelSpec, hookimpl
from zoo.plugins.specs import (
    ACTIVATION,
    BACKBONE,
    BATCH_NORM,
    BATCH_SIZE,
    BIAS,
    DROPOUT,
    HIDDEN,
    LR,
    LR_MILESTONE,
    OPTIMIZER,
    WEIGHT_DECAY,
)

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
#: The tabular defaults, chosen on validation data only: the grid point with the lowest mean
#: rank of validation loss over six tables (``benchmarks/choose_defaults.py``; the grids,
#: the tables and the ranking in ``benchmarks/results/tabular-ad.md``).
AUTOENCODER_TABULAR = {"dropout": 0.0, "batch_norm": False, "lr": 1e-2, "weight_decay": 1e-5}
DEEP_SVDD_TABULAR = {"batch_norm": True, "lr": 1e-2, "weight_decay": 1e-8}
#: Sequence backbones normalise with layer norm or none: batch norm (the mlp default) is off.
SEQUENCE_BACKBONES = {f"timeseries[{name}]": {"batch_norm": False}
                      for name in ("rnn", "transformer")}


#: The options both detectors forward to their backbone besides the shared ones.
BATCH_NORM_EPS = HParam("batch_norm_eps", float | None, None, low=0, low_inclusive=False,
                        help="cnn backbone only: added to batch norm's variance; "
                             "none: the backbone's (1e-5)")
DECODER_STEM = HParam("decoder_stem", str | None, None, choices=("linear", "reshape"),
                      help="cnn backbone only: the (pretraining) decoder's first feature map "
                           "from a linear layer or the code itself; none: the backbone's")
CODE_SIZE_HELP = "; none: half the features, between 8 and 32"

AUTOENCODER_HPARAMS = (
    BACKBONE,
    HParam("latent_dim", int | None, None, low=1, search=(4, 64), log=True,
           help="Size of the code" + CODE_SIZE_HELP),
    replace(HIDDEN, default=(64, 32), help="Hidden widths of the encoder; the decoder mirrors "
                                           "them"),
    replace(DROPOUT, default=0.2), BATCH_NORM, BATCH_NORM_EPS, ACTIVATION, BIAS,
    HParam("reduction", str, "mean", choices=("mean", "sum"),
           help="How a sample's squared errors combine into its score: mean or sum"),
    DECODER_STEM, OPTIMIZER, LR, LR_MILESTONE, replace(WEIGHT_DECAY, default=1e-5), BATCH_SIZE,
)
DEEP_SVDD_HPARAMS = (
    BACKBONE,
    HParam("rep_dim", int | None, None, low=1, search=(4, 64), log=True,
           help="Size of the representation" + CODE_SIZE_HELP),
    replace(HIDDEN, default=(64, 32), help="Hidden widths of the network; the pretraining "
                                           "decoder mirrors them"),
    BATCH_NORM, BATCH_NORM_EPS, replace(ACTIVATION, default="leaky_relu"),
    HParam("objective", str, "one-class", choices=("one-class", "soft-boundary"),
           search=("one-class", "soft-boundary"), help="one-class or soft-boundary"),
    HParam("nu", float, 0.1, low=0, high=1, low_inclusive=False, search=(0.01, 0.5), log=True,
           help="soft-boundary: the fraction of training points allowed outside the sphere"),
    HParam("eps", float, 0.1, low=0, low_inclusive=False,
           help="Smallest magnitude of a coordinate of the centre"),
    HParam("warm_up_epochs", int, 10, low=0,
           help="soft-boundary: epochs trained with R = 0 before R is set"),
    HParam("pretrain_epochs", int, 10, low=0, help="Epochs of autoencoder pretraining (0: none)"),
    DECODER_STEM, OPTIMIZER, LR, LR_MILESTONE, replace(WEIGHT_DECAY, default=1e-6),
    HParam("pretrain_weight_decay", float | None, None, low=0,
           help="Weight decay of pretraining; none: weight_decay"),
    BATCH_SIZE,
    HParam("uses_validation", bool, True,
           help="Keep the parameters with the lowest validation loss (false: the paper's "
                "protocol, validation rows train)"),
)


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
                                 "batch_size": 128},
                  "tabular[mlp]": AUTOENCODER_TABULAR, **SEQUENCE_BACKBONES},
        hparams=AUTOENCODER_HPARAMS,
        paper="https://doi.org/10.1145/2689746.2689747",
        summary="Undercomplete autoencoder; anomaly score = reconstruction error"))
    register(ModelSpec(
        name="deep-svdd", kind="method", tasks=("detect",),
        modalities=("tabular", "image", "timeseries"),
        implementation="zoo_autoencoder.lightning_module:DeepSVDD",
        default_backbones={"tabular": "mlp", "image": "cnn", "timeseries": "mlp"},
        defaults={"image[cnn]": DEEP_SVDD_IMAGE, "tabular[mlp]": DEEP_SVDD_TABULAR,
                  **SEQUENCE_BACKBONES},
        hparams=DEEP_SVDD_HPARAMS,
        paper="http://proceedings.mlr.press/v80/ruff18a.html",
        summary="Deep SVDD (Ruff et al. 2018): one-class / soft-boundary hypersphere"))
