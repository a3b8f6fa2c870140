"""What is special to the ``cnn`` backbone; the contract is tested from the registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from zoo import DataInfo, ZooError, create_model
from zoo.models.backbones import get_backbone

from zoo_cnn.torch_model import halved

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 7, 9), (2, 4, 5)]


def image(shape: tuple[int, ...]) -> DataInfo:
    return DataInfo("image", shape, "detect", value_range=(0.0, 1.0))


@pytest.mark.parametrize("pool", ["max", "stride"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_encoder_and_decoder_fit_any_image_size(shape: tuple[int, ...], pool: str) -> None:
    backbone = get_backbone("cnn")
    x = torch.rand(3, *shape)
    for hidden in [(8,), (8, 16), (4, 8, 16, 32)]:
        code = backbone.encoder(image(shape), 5, hidden=hidden, pool=pool)(x)
        assert code.shape == (3, 5)
        decoded = backbone.decoder(5, image(shape), hidden=hidden[::-1], pool=pool)(code)
        assert decoded.shape == x.shape


@pytest.mark.parametrize("pool", ["max", "stride"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_reshape_stem_decodes_a_code_that_fills_the_first_map(shape: tuple[int, ...],
                                                              pool: str) -> None:
    backbone = get_backbone("cnn")
    for hidden in [(8,), (16, 8)]:
        side = [halved(size, len(hidden) + 1) for size in shape[1:]]
        decoder = backbone.decoder(3 * side[0] * side[1], image(shape), hidden=hidden,
                                   pool=pool, stem="reshape")
        assert decoder(torch.randn(2, 3 * side[0] * side[1])).shape == (2, *shape)


def test_reshape_stem_is_the_deep_svdd_paper_mnist_decoder() -> None:
    """Ruff et al.'s MNIST autoencoder: the 32-value code as 2x4x4, leaky ReLU, then three
    times upsample and conv (2 -> 4 -> 8 -> 1 channels, 5x5), no linear layer; its maps are
    8x8, 14x14 (their second conv pads 1, not 2) and 28x28, so nothing is cropped."""
    decoder = get_backbone("cnn").decoder(32, image((1, 28, 28)), hidden=(4, 8), bias=False,
                                          stem="reshape")
    convs = [m for m in decoder.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (2, 4, (5, 5)), (4, 8, (5, 5)), (8, 1, (5, 5))]
    assert not any(isinstance(m, nn.Linear) for m in decoder.modules())
    assert sum(isinstance(m, nn.Upsample) for m in decoder.modules()) == 3
    normalized: list[tuple[int, ...]] = []
    for norm in (m for m in decoder.modules() if isinstance(m, nn.BatchNorm2d)):
        norm.register_forward_hook(lambda _m, args, _out: normalized.append(args[0].shape[1:]))
    assert decoder(torch.randn(2, 32)).shape == (2, 1, 28, 28)
    assert normalized == [(4, 8, 8), (8, 14, 14)]


def test_weights_are_channels_last() -> None:
    """The faster layout for these small convolutions on CPU (``benchmarks/perf``); a
    checkpoint stores them contiguous, so it loads into either layout."""
    backbone = get_backbone("cnn")
    for network in (backbone.encoder(image((1, 28, 28)), 8),
                    backbone.decoder(8, image((1, 28, 28)))):
        convs = [m for m in network.modules() if isinstance(m, nn.Conv2d)]
        assert convs and all(
            c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)


def test_decoder_output_is_raw_not_squashed() -> None:
    decoder = get_backbone("cnn").decoder(4, image((1, 8, 8)), batch_norm=False)
    assert not isinstance(decoder.output, (nn.Sigmoid, nn.Tanh))
    with torch.no_grad():
        nn.init.constant_(decoder.output.weight, 1.0)
        values = decoder(torch.randn(16, 4) * 10)
    assert values.min() < 0 or values.max() > 1  # logits, not probabilities


@pytest.mark.parametrize("pool", ["max", "stride"])
def test_bias_free_networks_have_no_bias_and_no_affine_norms(pool: str) -> None:
    backbone = get_backbone("cnn")
    for network in (backbone.encoder(image((1, 28, 28)), 32, bias=False, pool=pool),
                    backbone.decoder(32, image((1, 28, 28)), bias=False, pool=pool)):
        names = [name for name, _ in network.named_parameters()]
        assert names and not [name for name in names if name.endswith("bias")]
        norms = [m for m in network.modules() if isinstance(m, nn.BatchNorm2d)]
        assert norms and not any(m.affine for m in norms)


@pytest.mark.parametrize("stem", ["linear", "reshape"])
def test_batch_norm_eps_reaches_every_norm(stem: str) -> None:
    backbone = get_backbone("cnn")
    for network in (backbone.encoder(image((1, 28, 28)), 32, batch_norm_eps=1e-4),
                    backbone.decoder(32, image((1, 28, 28)), hidden=(4, 8), stem=stem,
                                     batch_norm_eps=1e-4)):
        norms = [m for m in network.modules() if isinstance(m, nn.BatchNorm2d)]
        assert norms and all(m.eps == 1e-4 for m in norms)
    default = backbone.encoder(image((1, 28, 28)), 32)  # PyTorch's eps unless told
    assert all(m.eps == 1e-5 for m in default.modules() if isinstance(m, nn.BatchNorm2d))


def test_deep_svdd_paper_mnist_lenet() -> None:
    """Ruff et al. 2018: conv 8x5x5, BN, leaky ReLU, pool; conv 4x5x5, ...; linear 4*7*7 -> 32."""
    encoder = get_backbone("cnn").encoder(image((1, 28, 28)), 32, hidden=(8, 4), bias=False)
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(8, (5, 5)), (4, (5, 5))]
    assert sum(isinstance(m, nn.MaxPool2d) for m in encoder.modules()) == 2
    assert sum(isinstance(m, nn.LeakyReLU) for m in encoder.modules()) == 2
    assert encoder[-1].in_features == 4 * 7 * 7 and encoder[-1].out_features == 32


@pytest.mark.parametrize(("options", "message"), [
    ({"kernal_size": 3}, "unknown option 'kernal_size'.*did you mean 'kernel_size'"),
    ({"pool": "avg"}, "unknown pool 'avg'; valid: max, stride"),
    ({"activation": "swish"}, "unknown activation 'swish'; valid: relu"),
    ({"kernel_size": 4}, "kernel_size=4 must be odd"),
    ({"hidden": ()}, "at least one positive channel count"),
    ({"dropout": 1.0}, r"dropout=1.0 must be in \[0, 1\)"),
    ({"batch_norm_eps": 0.0}, "batch_norm_eps=0.0 must be positive"),
])
def test_bad_options_are_one_line_errors(options: dict, message: str) -> None:
    with pytest.raises(ZooError, match=message):
        get_backbone("cnn").encoder(image((1, 8, 8)), 4, **options)


def test_bad_stems_are_one_line_errors() -> None:
    backbone = get_backbone("cnn")
    with pytest.raises(ZooError, match="unknown stem 'conv'; valid: linear, reshape"):
        backbone.decoder(32, image((1, 28, 28)), stem="conv")
    with pytest.raises(ZooError, match=r"cannot lay 30 inputs out as a 4x4 feature map.*"
                                       r"use stem=.linear."):
        backbone.decoder(30, image((1, 28, 28)), hidden=(4, 8), stem="reshape")
    with pytest.raises(ZooError, match="unknown option 'stem'"):  # the encoder has no stem
        backbone.encoder(image((1, 28, 28)), 32, stem="reshape")


def test_tables_are_refused() -> None:
    with pytest.raises(ZooError, match=r"needs images of shape \(C, H, W\).*use 'mlp'"):
        get_backbone("cnn").decoder(4, DataInfo("tabular", (6,), "detect"))


def test_classifier_gives_logits_for_28x28_images() -> None:
    info = DataInfo("image", (1, 28, 28), "classify", n_classes=10, value_range=(0.0, 1.0))
    model = create_model("cnn", info, seed=0)
    assert model.predict(torch.rand(5, 1, 28, 28)).shape == (5, 10)
