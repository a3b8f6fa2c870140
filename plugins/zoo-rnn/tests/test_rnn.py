"""What is special to the ``rnn`` family and to :mod:`zoo.models.sequence`, which it is the
first user of; the contract is tested from the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from zoo import DataInfo, ZooError, create_model
from zoo.data.types import Arrays, Splits
from zoo.models.backbones import get_backbone
from zoo.models.module import cosine_with_warmup
from zoo.training import TrainConfig

TEXT = DataInfo("text", (12,), "generate", vocab_size=5)
SERIES = DataInfo("timeseries", (20, 2), "detect")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("info", [TEXT, SERIES], ids=["text", "series"])
def test_causal_form_sees_no_future_step(info: DataInfo, cell: str) -> None:
    torch.manual_seed(0)
    network = get_backbone("rnn").causal(info, 3, hidden=(8, 8), cell=cell).eval()
    if info.modality == "text":
        x = torch.randint(0, 6, (4, 12))  # id 5 is the start symbol
        changed = x.clone()
        changed[:, 7] = (x[:, 7] + 1) % 6
    else:
        x = torch.randn(4, 20, 2)
        changed = x.clone()
        changed[:, 7] += 5.0
    before, after = network(x), network(changed)
    assert before.shape == (4, x.shape[1], 3)
    assert torch.equal(before[:, :7], after[:, :7])
    assert not torch.allclose(before[:, 7:], after[:, 7:])


def test_encoder_and_decoder_shapes() -> None:
    backbone = get_backbone("rnn")
    assert backbone.encoder(SERIES, 6, hidden=(8,))(torch.randn(3, 20, 2)).shape == (3, 6)
    assert backbone.encoder(TEXT, 6)(torch.randint(0, 5, (3, 12))).shape == (3, 6)
    assert backbone.decoder(4, SERIES, hidden=(8, 16))(torch.randn(3, 4)).shape == (3, 20, 2)


@pytest.mark.parametrize(("options", "message"), [
    ({"cel": "gru"}, "unknown option 'cel'.*did you mean 'cell'"),
    ({"cell": "transformer"}, "unknown cell 'transformer'; valid: lstm, gru, rnn"),
    ({"cell": "rnn", "activation": "gelu"}, "'gelu' is not available for cell 'rnn'; valid"),
    ({"batch_norm": True}, "no batch norm.*set batch_norm=false"),
    ({"hidden": ()}, "at least one positive layer width"),
    ({"dropout": 1.0}, r"dropout=1.0 must be in \[0, 1\)"),
])
def test_bad_options_are_one_line_errors(options: dict, message: str) -> None:
    with pytest.raises(ZooError, match=message):
        get_backbone("rnn").encoder(SERIES, 4, **options)


def test_text_has_no_decoder_and_images_are_refused() -> None:
    with pytest.raises(ZooError, match="decodes series, not text"):
        get_backbone("rnn").decoder(4, TEXT)
    with pytest.raises(ZooError, match=r"needs text windows \(L,\) or series windows"):
        get_backbone("rnn").encoder(DataInfo("image", (1, 8, 8), "detect"), 4)


def repeating_text(n: int, length: int, seed: int = 0) -> np.ndarray:
    """Windows of the cycle 0 1 2 3 4 0 1 ... at random phases: fully predictable after one
    token."""
    phases = np.random.default_rng(seed).integers(0, 5, n)
    return ((phases[:, None] + np.arange(length)) % 5).astype(np.int64)


def test_character_model_learns_a_cycle_and_samples_it_beyond_its_context() -> None:
    model = create_model("rnn", TEXT, seed=0, hidden=(32,), lr=2e-2, batch_size=32)
    test = repeating_text(16, 12, seed=1)
    untrained = float(-model.log_likelihood(test).mean())
    assert untrained == pytest.approx(12 * math.log(5), rel=0.1)  # about uniform
    model.fit(Splits(Arrays(repeating_text(128, 12)), None, Arrays(test), TEXT),
              TrainConfig(seed=0, accelerator="cpu", max_epochs=25, patience=None))
    # Only the first token (uniform over 5 phases) is uncertain: ln 5 = 1.61 nats.
    assert float(-model.log_likelihood(test).mean()) < math.log(5) + 0.3
    sample = model.sample(3, generator=torch.Generator().manual_seed(0), length=40, top_k=1)
    assert sample.shape == (3, 40) and sample.dtype == torch.long
    assert torch.equal(sample[:, 1:], (sample[:, :-1] + 1) % 5)  # the cycle, past 12 steps


def test_samples_are_reproducible_and_temperature_and_top_k_are_checked() -> None:
    model = create_model("rnn", TEXT, seed=0)
    draw = lambda **kw: model.sample(2, generator=torch.Generator().manual_seed(3), **kw)  # noqa: E731
    assert torch.equal(draw(), draw())
    assert draw(length=5, temperature=0.5).shape == (2, 5)
    with pytest.raises(ZooError, match="temperature > 0"):
        draw(temperature=0.0)
    with pytest.raises(ZooError, match="top-k sampling needs text"):
        create_model("rnn", SERIES, seed=0).sample(2, top_k=3)


def test_token_ids_outside_the_vocabulary_are_a_clear_error() -> None:
    model = create_model("rnn", TEXT, seed=0)
    with pytest.raises(ZooError, match=r"token ids must lie in \[0, 5\), got ids from 5 to 5"):
        model.log_likelihood(np.full((2, 12), 5))


def test_forecaster_scores_a_spike_above_the_pattern_it_learned() -> None:
    info = DataInfo("timeseries", (24, 1), "detect")
    t = np.arange(4000, dtype=np.float32)
    series = np.sin(t / 4)[:, None]
    windows = np.stack([series[i:i + 24] for i in range(0, 3000, 10)])
    model = create_model("rnn", info, seed=0, hidden=(32,), lr=2e-2, batch_size=50)
    model.fit(Splits(Arrays(windows), None, Arrays(windows[:1]), info),
              TrainConfig(seed=0, accelerator="cpu", max_epochs=10, patience=None))
    normal = np.stack([series[i:i + 24] for i in range(3000, 3900, 30)])
    spiked = normal.copy()
    spiked[:, 18] += 3.0
    scores, spike_scores = model.score(normal), model.score(spiked)
    assert bool((spike_scores > scores.max()).all())
    # Classes share one model: its predict hook is the supervised one only.
    with pytest.raises(ZooError, match=r"predict\(\) is for models built for classify"):
        model.predict(normal)


def test_mixup_is_refused_where_windows_cannot_be_blended() -> None:
    with pytest.raises(ZooError, match="mixup blends input windows"):
        create_model("rnn", DataInfo("text", (8,), "classify", n_classes=2, vocab_size=4),
                     mixup=0.2)


def test_cosine_schedule_warms_up_then_decays_to_a_tenth() -> None:
    assert cosine_with_warmup(0, 1000, 10) == pytest.approx(0.1)
    assert cosine_with_warmup(9, 1000, 10) == pytest.approx(1.0)
    assert cosine_with_warmup(505, 1000, 10) == pytest.approx(0.55)
    assert cosine_with_warmup(1000, 1000, 10) == pytest.approx(0.1)
    assert cosine_with_warmup(5000, 1000, 10) == pytest.approx(0.1)
    model = create_model("rnn", TEXT, seed=0, hidden=(8,), lr=1e-2, lr_schedule="cosine",
                         batch_size=16)
    model.fit(Splits(Arrays(repeating_text(64, 12)), None, Arrays(repeating_text(4, 12)), TEXT),
              TrainConfig(seed=0, accelerator="cpu", max_epochs=3, patience=None))
    # 12 steps: the last one ran at the end of the cosine, a tenth of lr.
    assert model.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-3, rel=0.05)
