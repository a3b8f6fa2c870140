"""What is special to the ``transformer`` family; the contract is tested from the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from zoo import DataInfo, ZooError, create_model
from zoo.data.types import Arrays, Splits
from zoo.models.backbones import get_backbone
from zoo.training import TrainConfig

SMALL = {"layers": 2, "heads": 2, "dim": 16}


def text(length: int, vocab: int, task: str = "generate") -> DataInfo:
    return DataInfo("text", (length,), task, vocab_size=vocab)


def series(length: int, channels: int, task: str = "detect") -> DataInfo:
    return DataInfo("timeseries", (length, channels), task)


def inputs(info: DataInfo, n: int, steps: int, *, start: bool = False) -> torch.Tensor:
    """Random ids (up to the start symbol when ``start``) or values of ``steps`` steps."""
    if info.modality == "text":
        return torch.randint(0, int(info.vocab_size or 0) + start, (n, steps))
    return torch.randn(n, steps, info.shape[1])


INFOS = [text(16, 2), text(9, 12), text(33, 65), series(16, 1), series(8, 3), series(33, 2)]


def info_id(info: DataInfo) -> str:
    return f"{info.modality}-{'x'.join(map(str, info.shape))}-v{info.vocab_size}"


@pytest.mark.parametrize("info", INFOS, ids=info_id)
def test_every_form_gives_its_shape_for_any_length_up_to_l(info: DataInfo) -> None:
    backbone = get_backbone("transformer")
    length = info.shape[0]
    causal = backbone.causal(info, 5, **SMALL)
    encoder = backbone.encoder(info, 7, **SMALL)
    for steps in sorted({1, length // 2 or 1, length}):
        assert causal(inputs(info, 3, steps, start=True)).shape == (3, steps, 5)
        assert encoder(inputs(info, 3, steps)).shape == (3, 7)
    if info.modality == "timeseries":
        assert backbone.decoder(4, info, **SMALL)(torch.randn(3, 4)).shape == (3, *info.shape)
    with pytest.raises(ValueError, match=f"exceed the {length} learned positions"):
        causal(inputs(info, 1, length + 1))


@pytest.mark.parametrize("info", [text(12, 7), series(12, 2)], ids=info_id)
def test_causal_outputs_never_see_later_inputs(info: DataInfo) -> None:
    network = get_backbone("transformer").causal(info, 4, **SMALL).eval()
    x = inputs(info, 2, 12, start=True)
    for t in (0, 5, 11):
        changed = x.clone()
        changed[:, t] = (x[:, t] + 1) % 7 if info.modality == "text" else x[:, t] + 3.0
        before, after = network(x), network(changed)
        assert torch.equal(before[:, :t], after[:, :t])
        assert not torch.allclose(before[:, t], after[:, t])


@pytest.mark.parametrize("info", [text(12, 7, "classify"), series(12, 2, "classify")],
                         ids=info_id)
def test_encoder_attends_to_the_whole_window(info: DataInfo) -> None:
    encoder = get_backbone("transformer").encoder(info, 3, **SMALL).eval()
    x = inputs(info, 2, 12)
    changed = x.clone()
    changed[:, -1] = (x[:, -1] + 1) % 7 if info.modality == "text" else x[:, -1] + 3.0
    first_step = [encoder.trunk(encoder.inputs(v))[:, 0] for v in (x, changed)]
    assert not torch.allclose(*first_step)  # the first step sees the last one
    assert not torch.allclose(encoder(x), encoder(changed))


def test_next_token_head_is_tied_to_the_embedding_without_the_start_row() -> None:
    network = get_backbone("transformer").causal(text(8, 10), 10, **SMALL)
    assert network.head is None and network.inputs.weight.shape == (11, 16)
    x = torch.randint(0, 11, (2, 8))
    features = network.trunk(network.inputs(x))
    assert torch.allclose(network(x), features @ network.inputs.weight[:10].T)
    keys = list(network.state_dict())
    assert sum("inputs.weight" in k for k in keys) == 1 and not any("head" in k for k in keys)
    network(x).sum().backward()  # the output side trains the embedding's vocabulary rows
    assert network.inputs.weight.grad is not None
    assert network.inputs.weight.grad[:10].abs().sum() > 0
    untied = get_backbone("transformer").causal(text(8, 10), 3, **SMALL)
    assert isinstance(untied.head, nn.Linear) and untied(x).shape == (2, 8, 3)


def test_shared_method_options_map_onto_blocks() -> None:
    backbone = get_backbone("transformer")
    encoder = backbone.encoder(series(16, 1), 4, hidden=(64, 32), batch_norm=False,
                               activation="relu", bias=True, dropout=0.1)
    assert len(encoder.trunk.blocks) == 2 and encoder.trunk.norm.normalized_shape == (64,)
    assert any(isinstance(m, nn.ReLU) for m in encoder.modules())
    assert any(name.endswith("bias") for name, _ in encoder.named_parameters())
    bias_free = backbone.decoder(4, series(16, 1), **SMALL)  # bias=False by default
    assert not [name for name, _ in bias_free.named_parameters() if name.endswith("bias")]


@pytest.mark.parametrize(("info", "options", "message"), [
    (series(8, 1), {"layer": 2}, "unknown option 'layer'.*did you mean 'layers'"),
    (series(8, 1), {"dim": 130}, "dim=130 must be a multiple of heads=4"),
    (series(8, 1), {"hidden": (30,)}, r"dim=30 \(from hidden=\(30,\)\) must be a multiple"),
    (series(8, 1), {"hidden": (32,), "dim": 64}, "either hidden .* or dim and layers"),
    (series(8, 1), {"batch_norm": True}, "normalises with layer norm"),
    (series(8, 1), {"activation": "swish"}, "unknown activation 'swish'; valid: gelu"),
    (series(8, 1), {"dropout": 1.0}, r"dropout=1.0 must be in \[0, 1\)"),
    (series(8, 1), {"heads": 0}, "heads=0 must be a positive integer"),
    (DataInfo("tabular", (6,), "detect"), {}, "takes text or timeseries data, not tabular"),
])
def test_bad_options_and_data_are_one_line_errors(info: DataInfo, options: dict,
                                                  message: str) -> None:
    with pytest.raises(ZooError, match=message):
        get_backbone("transformer").encoder(info, 4, **options)


def test_text_has_no_decoder() -> None:
    with pytest.raises(ZooError, match=r"no text decoder.*causal form"):
        get_backbone("transformer").decoder(4, text(8, 5))


def fit(model: object, x: np.ndarray, epochs: int) -> None:
    info = model.data_info  # type: ignore[attr-defined]
    splits = Splits(Arrays(x), None, Arrays(x[:8]), info)
    model.fit(splits, TrainConfig(seed=0, accelerator="cpu", max_epochs=epochs,  # type: ignore
                                  patience=None))


def test_tiny_model_learns_a_repeating_pattern_and_samples_past_its_context() -> None:
    """Windows of ``0 1 2 3 4 0 1 ...`` from random offsets: after training only the first
    token (one of five) is uncertain, so log p(window) rises from 16 ln(1/5) towards ln(1/5)."""
    info = text(16, 5)
    offsets = np.random.default_rng(0).integers(0, 5, 256)
    x = (offsets[:, None] + np.arange(16)) % 5
    model = create_model("transformer", info, seed=0, layers=1, heads=2, dim=32, lr=1e-2,
                         batch_size=32)
    before = model.log_likelihood(x[:32]).mean()
    fit(model, x, epochs=6)
    after = model.log_likelihood(x[:32]).mean()
    assert before < -16 * math.log(5) * 0.8 and after > -2 * math.log(5)
    greedy = [model.sample(4, torch.Generator().manual_seed(seed), length=40, top_k=1)
              for seed in (0, 1)]
    assert greedy[0].shape == (4, 40) and torch.equal(*greedy)  # top-1: no randomness left
    assert torch.equal(greedy[0][:, 1:], (greedy[0][:, :-1] + 1) % 5)  # past L = 16 as well
    cold = model.sample(4, torch.Generator().manual_seed(0), length=40, temperature=1e-3)
    assert torch.equal(cold[:, 1:], (cold[:, :-1] + 1) % 5)
    hot = model.sample(64, torch.Generator().manual_seed(0), length=16, temperature=100.0)
    assert not torch.equal(hot[:, 1:], (hot[:, :-1] + 1) % 5)  # near uniform draws
    assert int(hot.min()) >= 0 and int(hot.max()) < 5


def test_forecaster_scores_a_spike_above_clean_windows() -> None:
    info = series(24, 1)
    rng = np.random.default_rng(0)
    phases = rng.uniform(0, 2 * math.pi, (192, 1, 1))
    steps = np.arange(24)[None, :, None]
    x = (np.sin(steps * 0.5 + phases) + 0.05 * rng.normal(size=(192, 24, 1))).astype(np.float32)
    model = create_model("transformer", info, seed=0, layers=1, heads=2, dim=32, lr=3e-3,
                         batch_size=32)
    fit(model, x, epochs=8)
    spiked = x[:32].copy()
    spiked[:, 15] += 4.0
    clean, anomalous = model.score(x[:32]), model.score(spiked)
    assert bool((anomalous > clean).all())
    assert float(anomalous.mean() - clean.mean()) > 0.1
    drawn = model.sample(3, torch.Generator().manual_seed(0), length=50)
    assert drawn.shape == (3, 50, 1) and bool(drawn.isfinite().all())
