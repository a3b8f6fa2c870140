"""What is special to the autoencoder detectors; the contract is tested from the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from zoo import DataInfo, ZooError, create_model, load_model, save_model
from zoo.data.types import Arrays, Splits
from zoo.testing import planted_outliers
from zoo.training import TrainConfig

from zoo_autoencoder.lightning_module import AutoEncoderDetector, DeepSVDD, auto_code_dim
from zoo_autoencoder.loss import (
    initial_center,
    one_class_loss,
    reconstruction_error,
    soft_boundary_loss,
    soft_boundary_radius,
    squared_distance,
)


def outliers_with_validation() -> Splits:
    """zoo.testing's planted outliers with a validation split, which these models select on."""
    return planted_outliers(n_train=400, n_val=100)


def config(epochs: int = 2, seed: int = 0) -> TrainConfig:
    return TrainConfig(seed=seed, accelerator="cpu", max_epochs=epochs, patience=None)


def trained(name: str, splits: Splits, epochs: int = 2, **hparams: Any) -> Any:
    model = create_model(name, splits.info, seed=0, **hparams)
    model.fit(splits, config(epochs))
    return model


# -- loss.py -----------------------------------------------------------------------------------
def test_center_guard_pushes_small_coordinates_to_plus_minus_eps() -> None:
    representation = torch.tensor([[0.05, -0.02, 0.0, 0.5, -0.3],
                                   [0.03, -0.04, 0.0, 0.7, -0.5]])
    center = initial_center(representation, eps=0.1)
    assert torch.allclose(center, torch.tensor([0.1, -0.1, 0.1, 0.6, -0.4]))


def test_reconstruction_error_is_a_per_sample_mean_or_sum() -> None:
    x = torch.zeros(2, 1, 2, 2)
    reconstruction = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]]], [[[2.0, 0.0], [0.0, 0.0]]]])
    assert torch.equal(reconstruction_error(x, reconstruction), torch.tensor([1.0, 1.0]))
    assert torch.equal(reconstruction_error(x, reconstruction, "sum"), torch.tensor([4.0, 4.0]))


def test_deep_svdd_objectives() -> None:
    distance = squared_distance(torch.tensor([[3.0, 4.0], [0.0, 1.0]]), torch.zeros(2))
    assert torch.equal(distance, torch.tensor([25.0, 1.0]))
    assert one_class_loss(distance) == 13.0
    # R^2 = 4: only the first point is outside, by 21; 4 + 21 / 2 / nu
    assert soft_boundary_loss(distance, torch.tensor(2.0), nu=0.5) == pytest.approx(4 + 21.0)


def test_soft_boundary_radius_leaves_nu_outside() -> None:
    distance = torch.arange(1, 101, dtype=torch.float32) ** 2  # distances 1 .. 100
    radius = soft_boundary_radius(distance, nu=0.1)
    assert radius == pytest.approx(90.1)
    assert float((distance.sqrt() > radius).float().mean()) == pytest.approx(0.1)


# -- deep-svdd ---------------------------------------------------------------------------------
def test_deep_svdd_network_has_no_bias_terms() -> None:
    model = DeepSVDD(DataInfo("tabular", (6,), "detect"))
    names = [name for name, _ in model.named_parameters()]
    assert names and not [name for name in names if name.endswith("bias")]
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms and all(not m.affine for m in norms)  # batch norm without affine terms


def test_center_is_the_guarded_mean_representation_of_the_training_data() -> None:
    splits = outliers_with_validation()
    model = trained("deep-svdd", splits, pretrain_epochs=0)
    assert bool((model.network.center.abs() >= 0.1).all())
    fresh = create_model("deep-svdd", splits.info, seed=0, batch_norm=False)
    fresh.initialize_center(splits.train.x)
    representation = fresh.batched(fresh.network.encoder, splits.train.x)
    assert torch.allclose(fresh.network.center, initial_center(representation, 0.1))


def test_center_after_pretraining_uses_batch_norms_running_statistics() -> None:
    splits = outliers_with_validation()
    model = create_model("deep-svdd", splits.info, seed=0, pretrain_epochs=1)
    model.pretrain(splits, config(1))
    model.initialize_center(splits.train.x)
    representation = model.batched(model.network.encoder, splits.train.x)  # eval mode
    assert torch.allclose(model.network.center, initial_center(representation, 0.1))


def test_pretraining_copies_the_autoencoder_encoder() -> None:
    splits = outliers_with_validation()
    model = create_model("deep-svdd", splits.info, seed=0, pretrain_epochs=2)
    before = {k: v.clone() for k, v in model.network.encoder.state_dict().items()}
    autoencoder, metrics = model.pretrain(splits, config())
    assert isinstance(autoencoder, AutoEncoderDetector) and metrics["epochs"] == 2
    assert not [n for n, _ in autoencoder.named_parameters() if n.endswith("bias")]
    copied = model.network.encoder.state_dict()
    for key, value in autoencoder.network.encoder.state_dict().items():
        assert torch.equal(copied[key], value.to(copied[key].device))
    assert any(not torch.equal(before[k], copied[k]) for k in before)


def test_pretraining_autoencoder_of_images_starts_from_the_code_itself() -> None:
    x = np.random.default_rng(0).random((40, 1, 8, 8), dtype=np.float32)
    splits = Splits(Arrays(x[:30]), Arrays(x[30:]), None, image_info())
    model = create_model("deep-svdd", splits.info, seed=0, pretrain_epochs=1)
    autoencoder, _ = model.pretrain(splits, config(1))
    assert not any(isinstance(m, nn.Linear) for m in autoencoder.network.decoder.modules())
    norms = [m for m in autoencoder.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(m.eps == 1e-4 for m in norms)  # pretraining shares the settings


@pytest.mark.parametrize(("model", "option", "backbone_option"), [
    ("autoencoder", {"decoder_stem": "reshape"}, "stem"),
    ("autoencoder", {"batch_norm_eps": 1e-4}, "batch_norm_eps"),
    ("deep-svdd", {"batch_norm_eps": 1e-4}, "batch_norm_eps")])
def test_cnn_options_are_refused_by_backbones_without_them(model: str, option: dict,
                                                           backbone_option: str) -> None:
    with pytest.raises(ZooError, match=f"unknown option '{backbone_option}' for backbone 'mlp'"):
        create_model(model, DataInfo("tabular", (6,), "detect"), **option)


def test_deep_svdd_refuses_a_decoder_stem_its_backbone_lacks_when_created() -> None:
    with pytest.raises(ZooError, match="unknown option 'stem' for backbone 'mlp'"):
        create_model("deep-svdd", DataInfo("tabular", (6,), "detect"), decoder_stem="reshape")


def test_checking_the_decoder_stem_leaves_the_seeded_weights_as_they_were() -> None:
    checked = create_model("deep-svdd", image_info(), seed=0, decoder_stem="linear")
    unchecked = create_model("deep-svdd", image_info(), seed=0)
    for key, value in checked.network.state_dict().items():
        assert torch.equal(value, unchecked.network.state_dict()[key])


def test_fit_reports_pretraining_metrics() -> None:
    splits = outliers_with_validation()
    metrics = create_model("deep-svdd", splits.info, seed=0, pretrain_epochs=1).fit(
        splits, config(1))
    assert metrics["ae_epochs"] == 1
    assert {"ae_best_val_loss", "best_val_loss"} <= set(metrics)


def test_soft_boundary_radius_stays_zero_during_warm_up() -> None:
    model = trained("deep-svdd", outliers_with_validation(), objective="soft-boundary",
                    warm_up_epochs=5, pretrain_epochs=0)
    assert float(model.network.radius) == 0.0


def test_soft_boundary_radius_is_updated_after_warm_up_and_saved(tmp_path: Path) -> None:
    splits = outliers_with_validation()
    model = trained("deep-svdd", splits, epochs=4, objective="soft-boundary", nu=0.2,
                    warm_up_epochs=1, pretrain_epochs=0)
    radius = float(model.network.radius)
    assert radius > 0
    outside = float((model.score(splits.train.x) > 0).float().mean())
    assert 0.05 < outside < 0.5  # about nu = 0.2 of the training points
    restored = load_model(save_model(model, tmp_path / "checkpoint"))
    assert float(restored.network.radius) == radius
    assert torch.equal(restored.network.center, model.network.center)
    assert torch.equal(restored.score(splits.test.x), model.score(splits.test.x))


def test_nu_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(ZooError, match="nu=0"):
        DeepSVDD(DataInfo("tabular", (6,), "detect"), objective="soft-boundary", nu=0.0)


def test_lr_milestone_divides_the_learning_rate_by_ten_from_that_epoch() -> None:
    model = DeepSVDD(DataInfo("tabular", (6,), "detect"), lr=1e-3, lr_milestone=2)
    setup = model.configure_optimizers()
    optimizer, scheduler = setup["optimizer"], setup["lr_scheduler"]
    rates = []
    for _ in range(4):  # epochs
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])
    constant = DeepSVDD(DataInfo("tabular", (6,), "detect"), lr=1e-3)
    assert isinstance(constant.configure_optimizers(), torch.optim.Optimizer)
    splits = outliers_with_validation()
    model = trained("deep-svdd", splits, epochs=3, lr_milestone=1, pretrain_epochs=0)
    assert model.score(splits.test.x).isfinite().all()


def test_negative_lr_milestone_is_refused() -> None:
    with pytest.raises(ZooError, match="lr_milestone=-1"):
        DeepSVDD(DataInfo("tabular", (6,), "detect"), lr_milestone=-1)
    with pytest.raises(ZooError, match="lr_milestone=-1"):
        AutoEncoderDetector(DataInfo("tabular", (6,), "detect"), lr_milestone=-1)


def test_pretraining_keeps_the_milestone_and_the_runs_epoch_bound() -> None:
    splits = outliers_with_validation()
    model = create_model("deep-svdd", splits.info, pretrain_epochs=50, lr_milestone=1,
                         weight_decay=1e-6, pretrain_weight_decay=1e-3)
    autoencoder, metrics = model.pretrain(splits, TrainConfig(max_epochs=2, patience=None))
    assert (autoencoder.hparams["lr_milestone"], autoencoder.hparams["weight_decay"]) == (1, 1e-3)
    assert autoencoder.hparams["reduction"] == "sum"  # the official code's pretraining loss
    assert metrics["epochs"] == 2
    default = create_model("deep-svdd", splits.info, weight_decay=1e-6)
    assert default.pretrain(splits, TrainConfig(max_epochs=1))[0].hparams["weight_decay"] == 1e-6


# -- both --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "hparams"), [
    ("autoencoder", {}),
    ("deep-svdd", {}),
    ("deep-svdd", {"objective": "soft-boundary", "warm_up_epochs": 3}),
], ids=["autoencoder", "deep-svdd", "deep-svdd-soft-boundary"])
def test_planted_outliers_rank_above_normals(name: str, hparams: dict[str, Any]) -> None:
    splits = outliers_with_validation()
    model = trained(name, splits, epochs=10, **hparams)
    auroc = roc_auc_score(splits.test.y, model.score(splits.test.x).numpy())
    assert auroc > 0.9


def test_code_size_is_automatic_unless_set() -> None:
    info = DataInfo("tabular", (21,), "detect")
    assert [auto_code_dim(n) for n in (6, 21, 100, 784)] == [8, 10, 32, 32]
    assert create_model("autoencoder", info, latent_dim="none").network.encoder[-1].out_features \
        == 10
    assert create_model("autoencoder", info, latent_dim="4").network.encoder[-1].out_features == 4
    assert create_model("deep-svdd", info, rep_dim="3").network.center.shape == (3,)


# -- images (cnn backbone) ---------------------------------------------------------------------
def image_info(value_range: tuple[float, float] | None = (0.0, 1.0)) -> DataInfo:
    return DataInfo("image", (1, 8, 8), "detect", value_range=value_range)


def test_images_default_to_the_cnn_backbone_and_the_papers_deep_svdd_setup() -> None:
    model = create_model("deep-svdd", image_info())
    hp = model.hparams
    assert (hp["backbone"], hp["rep_dim"], tuple(hp["hidden"])) == ("cnn", 32, (8, 4))
    assert (hp["lr"], hp["lr_milestone"], hp["weight_decay"], hp["batch_size"]) == (
        1e-4, 50, 5e-7, 200)
    assert hp["decoder_stem"] == "reshape"  # the paper's autoencoder: no linear layer
    assert hp["batch_norm_eps"] == 1e-4  # the official code's
    assert all(m.eps == 1e-4 for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert not model.uses_validation  # the official protocol: every image trains
    assert any(isinstance(m, nn.Conv2d) for m in model.modules())
    assert not [name for name, _ in model.named_parameters() if name.endswith("bias")]
    assert create_model("autoencoder", image_info()).hparams["backbone"] == "cnn"


def test_uses_validation_is_chosen_per_model_and_decides_the_training_rows() -> None:
    splits = outliers_with_validation()
    selecting = create_model("deep-svdd", splits.info)  # tables keep the hold-out
    assert selecting.uses_validation and selecting.training_splits(splits) is splits
    merged = create_model("deep-svdd", splits.info, uses_validation=False).training_splits(splits)
    assert merged.val is None and len(merged.train) == len(splits.train) + len(splits.val)
    assert create_model("deep-svdd", image_info(), uses_validation=True).uses_validation
    assert DeepSVDD.uses_validation  # an instance's choice leaves the class default alone


@pytest.mark.parametrize(("value_range", "low", "high"), [
    ((0.0, 1.0), 0.0, 1.0), ((-1.0, 1.0), -1.0, 1.0)])
def test_image_reconstructions_stay_in_the_value_range(value_range: tuple[float, float],
                                                        low: float, high: float) -> None:
    model = create_model("autoencoder", image_info(value_range), seed=0).eval()
    with torch.no_grad():
        reconstruction = model(torch.randn(8, 1, 8, 8) * 100)
    assert reconstruction.shape == (8, 1, 8, 8)
    assert low <= float(reconstruction.min()) and float(reconstruction.max()) <= high


def test_tables_and_unbounded_images_are_reconstructed_raw() -> None:
    for info in (DataInfo("tabular", (6,), "detect", value_range=(0.0, 1.0)), image_info(None)):
        assert isinstance(create_model("autoencoder", info).network.output, nn.Identity)


def test_cnn_autoencoder_scores_unlike_images_higher() -> None:
    rng = np.random.default_rng(0)
    stroke = np.zeros((1, 8, 8), dtype=np.float32)
    stroke[0, :, 3:5] = 1.0  # a vertical bar, jittered by noise
    normal = np.clip(stroke + rng.normal(0, 0.1, size=(300, 1, 8, 8)), 0, 1).astype(np.float32)
    other = np.clip(stroke.transpose(0, 2, 1) + rng.normal(0, 0.1, size=(40, 1, 8, 8)), 0, 1)
    x_test = np.concatenate([normal[-40:], other.astype(np.float32)])
    splits = Splits(Arrays(normal[:220]), Arrays(normal[220:260]),
                    Arrays(x_test, np.repeat(np.array([0, 1]), [40, 40])), image_info())
    model = trained("autoencoder", splits, epochs=5)
    assert roc_auc_score(splits.test.y, model.score(splits.test.x).numpy()) > 0.9
