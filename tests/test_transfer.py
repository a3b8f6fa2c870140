"""Transfer learning (zoo.models.transfer): what loads, what freezes, the backbone's rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zoo.data.types import Arrays, DataInfo, Splits
from zoo.errors import ZooError
from zoo.models import create_model
from zoo.models.transfer import head_parameters, initialize_from
from zoo.training import TrainConfig

IMAGES = DataInfo("image", (1, 8, 8), "classify", n_classes=3, value_range=(0.0, 1.0))
CNN = {"hidden": (4, 8), "kernel_size": 3, "batch_size": 16}


def _image_splits(info: DataInfo) -> Splits:
    generator = np.random.default_rng(0)

    def rows(n: int) -> Arrays:
        return Arrays(generator.random((n, *info.shape)).astype(np.float32),
                      generator.integers(0, info.n_classes or 2, n).astype(np.int64))

    return Splits(rows(48), rows(16), rows(16), info)


def test_loaded_tensors_equal_the_sources_and_the_other_head_stays_new() -> None:
    source = create_model("cnn", IMAGES, seed=0, **CNN)
    target = create_model("cnn", DataInfo("image", (1, 8, 8), "classify", n_classes=5), seed=1,
                          **CNN)
    report = initialize_from(target, source, "mnist-run")
    theirs, ours = source.state_dict(), target.state_dict()
    assert report.loaded and all(torch.equal(ours[name], theirs[name]) for name in report.loaded)
    head = set(head_parameters(target))
    assert head <= set(report.new) and head <= set(report.skipped)
    assert "tensors loaded" in report.summary()


def test_frozen_parameters_do_not_change_and_the_head_trains(tmp_path: Path) -> None:
    source = create_model("cnn", IMAGES, seed=0, **CNN)
    target = create_model("cnn", IMAGES, seed=1, **CNN)
    report = initialize_from(target, source, "source", freeze="backbone")
    before = {name: p.detach().clone() for name, p in target.named_parameters()}
    target.fit(_image_splits(IMAGES), TrainConfig(seed=0, max_epochs=2, run_dir=tmp_path,
                                                  accelerator="cpu"))
    after = dict(target.named_parameters())
    assert report.frozen and all(torch.equal(after[n], before[n]) for n in report.frozen)
    assert any(not torch.equal(after[n], before[n]) for n in head_parameters(target))


def test_the_backbone_trains_at_a_scaled_rate_in_its_own_parameter_group() -> None:
    target = create_model("cnn", IMAGES, seed=1, lr=0.01, **CNN)
    initialize_from(target, create_model("cnn", IMAGES, seed=0, **CNN), "source",
                    backbone_lr_scale=0.1)
    optimizer = target.configure_optimizers()
    rates = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    parameters = dict(target.named_parameters())
    head = set(head_parameters(target))
    assert {rates[id(parameters[n])] for n in head} == {0.01}
    backbone = [rates[id(p)] for n, p in parameters.items() if n not in head]
    assert backbone == pytest.approx([0.001] * len(backbone))


def test_an_autoencoders_encoder_loads_into_deep_svdd_by_layer_order() -> None:
    info = DataInfo("tabular", (6,), "detect")
    # Layers in the same order as Deep SVDD's (batch norm: the tabular autoencoder has none by
    # default), with dropout between them that Deep SVDD lacks.
    autoencoder = create_model("autoencoder", info, seed=0, hidden=(8, 4), bias=False,
                               batch_norm=True, dropout=0.2)
    svdd = create_model("deep-svdd", info, seed=1, hidden=(8, 4))
    report = initialize_from(svdd, autoencoder, "ae")
    theirs, ours = autoencoder.state_dict(), svdd.state_dict()
    weights = [n for n in ours if n.startswith("network.encoder.") and n.endswith(".weight")]
    assert weights and set(weights) <= set(report.loaded)
    assert all(torch.equal(ours[n], theirs[report.renamed.get(n, n)]) for n in report.loaded)
    assert report.renamed  # dropout layers shift the autoencoder's indices


def test_a_text_transformer_initialises_a_sequence_classifier() -> None:
    text = DataInfo("text", (8,), "generate", vocab_size=5)
    small = {"layers": 1, "heads": 1, "dim": 8}
    generator = create_model("transformer", text, seed=0, **small)
    classifier = create_model("transformer", DataInfo("text", (8,), "classify", n_classes=2,
                                                      vocab_size=5), seed=1, **small)
    report = initialize_from(classifier, generator, "char-lm")
    trunk = [n for n in classifier.state_dict() if n.startswith("network.trunk.")]
    assert trunk and set(trunk) <= set(report.loaded)
    assert any(n.startswith("network.head.") for n in report.new)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"freeze": "encoder"}, "no encoder parameters"),
    ({"backbone_lr_scale": 0.0}, "must be > 0"),
])
def test_bad_fine_tuning_choices_are_one_line_errors(kwargs: dict, message: str) -> None:
    source = create_model("cnn", IMAGES, seed=0, **CNN)
    with pytest.raises(ZooError, match=message):
        initialize_from(create_model("cnn", IMAGES, **CNN), source, "source", **kwargs)


def test_a_model_without_tensors_cannot_be_a_source() -> None:
    info = DataInfo("tabular", (6,), "detect")
    with pytest.raises(ZooError, match="no tensors to transfer"):
        initialize_from(create_model("autoencoder", info), create_model("iforest", info), "if")
