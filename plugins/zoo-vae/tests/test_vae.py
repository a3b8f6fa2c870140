"""What is special to the VAE; the contract (shapes, determinism, save/load) is tested from the
registry by the conformance kit."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import distributions as D
from zoo import DataInfo, ZooError, create_model
from zoo.data.types import Arrays, Splits
from zoo.testing import tiny_splits
from zoo.training import TrainConfig

from zoo_vae import lightning_module
from zoo_vae.loss import (
    bernoulli_log_likelihood,
    diagonal_gaussian_log_density,
    gaussian_kl,
    gaussian_log_likelihood,
    iwae_bound,
    negative_elbo,
    standard_normal_log_density,
)
from zoo_vae.torch_model import MIN_STD


def trained(splits: Splits, epochs: int = 3, **hparams: Any) -> Any:
    model = create_model("vae", splits.info, seed=0, **hparams)
    model.fit(splits, TrainConfig(seed=0, accelerator="cpu", max_epochs=epochs, patience=None))
    return model


# -- loss.py -----------------------------------------------------------------------------------
def test_kl_matches_torch_distributions() -> None:
    generator = torch.Generator().manual_seed(0)
    mean, log_var = torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator)
    posterior = D.Independent(D.Normal(mean, (0.5 * log_var).exp()), 1)
    prior = D.Independent(D.Normal(torch.zeros(3), torch.ones(3)), 1)
    assert torch.allclose(gaussian_kl(mean, log_var), D.kl_divergence(posterior, prior),
                          atol=1e-5)
    # KL(N(0, I) || N(0, I)) = 0; KL(N(1, 1) || N(0, 1)) = 1/2 per dimension
    assert torch.equal(gaussian_kl(torch.zeros(1, 4), torch.zeros(1, 4)), torch.zeros(1))
    assert gaussian_kl(torch.ones(1, 4), torch.zeros(1, 4)).item() == pytest.approx(2.0)


def test_bernoulli_log_likelihood_matches_torch_distributions() -> None:
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 1, 3, 3, generator=generator) * 3
    x = torch.bernoulli(torch.full((4, 1, 3, 3), 0.4), generator=generator)
    expected = D.Bernoulli(logits=logits).log_prob(x).sum((1, 2, 3))
    assert torch.allclose(bernoulli_log_likelihood(x, logits), expected, atol=1e-5)


def test_gaussian_log_likelihood_matches_torch_distributions() -> None:
    generator = torch.Generator().manual_seed(2)
    x, mean = torch.randn(6, 5, generator=generator), torch.randn(6, 5, generator=generator)
    log_std = torch.randn(5, generator=generator) * 0.5
    expected = D.Normal(mean, log_std.exp()).log_prob(x).sum(1)
    assert torch.allclose(gaussian_log_likelihood(x, mean, log_std), expected, atol=1e-5)
    # a narrow density is above one: its log is positive
    assert gaussian_log_likelihood(mean, mean, torch.tensor(math.log(0.01))).min() > 0


def test_latent_densities_match_torch_distributions() -> None:
    generator = torch.Generator().manual_seed(3)
    z, mean, log_var = (torch.randn(7, 2, 4, generator=generator) for _ in range(3))
    expected = D.Independent(D.Normal(mean, (0.5 * log_var).exp()), 1).log_prob(z)
    assert torch.allclose(diagonal_gaussian_log_density(z, mean, log_var), expected, atol=1e-5)
    assert torch.allclose(standard_normal_log_density(z),
                          D.Independent(D.Normal(0.0, torch.ones(4)), 1).log_prob(z), atol=1e-5)


def test_negative_elbo_weighs_the_kl_term() -> None:
    assert negative_elbo(torch.tensor([-10.0]), torch.tensor([2.0])).item() == 12.0
    assert negative_elbo(torch.tensor([-10.0]), torch.tensor([2.0]), beta=4.0).item() == 18.0


def test_iwae_bound_is_at_least_the_mean_log_weight() -> None:
    log_weights = torch.randn(50, 8, generator=torch.Generator().manual_seed(4)) * 3
    bound = iwae_bound(log_weights, dim=0)
    assert bool((bound >= log_weights.mean(0)).all())  # Jensen, for any fixed weights
    assert torch.equal(iwae_bound(log_weights[:1], dim=0), log_weights[0])  # k = 1: the ELBO
    equal = torch.full((10, 3), -5.0)
    assert torch.allclose(iwae_bound(equal, dim=0), torch.full((3,), -5.0))


# -- the model ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def image_vae() -> Any:
    # mlp: these properties do not depend on the backbone, and it trains fastest
    return trained(tiny_splits("image", "generate"), epochs=5, backbone="mlp", latent_dim=4)


def test_likelihood_follows_the_value_range() -> None:
    image = DataInfo("image", (1, 8, 8), "generate", value_range=(0.0, 1.0))
    table = DataInfo("tabular", (6,), "detect")
    assert create_model("vae", image).likelihood == "bernoulli"
    assert create_model("vae", table).likelihood == "gaussian"
    assert create_model("vae", image, likelihood="gaussian").likelihood == "gaussian"
    with pytest.raises(ZooError, match="likelihood='bernoulli' needs data in"):
        create_model("vae", table, likelihood="bernoulli")


def test_gaussian_scale_is_learned_per_feature_or_fixed() -> None:
    table = DataInfo("tabular", (6,), "detect")
    learned = create_model("vae", table).network.observation
    assert learned.log_std is not None and learned.log_std.shape == (6,)
    fixed = create_model("vae", table, gaussian_std=0.5).network.observation
    assert fixed.log_std is None and fixed.current_log_std() == pytest.approx(math.log(0.5))
    learned.log_std.data.fill_(-20.0)  # a collapsing scale stops at the floor
    assert float(learned.current_log_std().detach().min()) == pytest.approx(math.log(MIN_STD))


@pytest.mark.parametrize("dynamic", [False, True])
def test_dynamic_binarization_draws_binary_training_batches(dynamic: bool) -> None:
    image = DataInfo("image", (1, 8, 8), "generate", value_range=(0.0, 1.0))
    model = create_model("vae[mlp]", image, seed=0, dynamic_binarization=dynamic)
    seen = []

    def recording_objective(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return torch.zeros(len(x))

    model.objective = recording_objective
    model.log_epoch_mean = lambda *args: None  # no trainer to log to
    grey = torch.full((64, 1, 8, 8), 0.5)
    model.training_loss((grey,))
    binary = bool(torch.all((seen[0] == 0) | (seen[0] == 1)))
    assert binary == dynamic
    if dynamic:  # one with probability the grey level
        assert 0.4 < float(seen[0].mean()) < 0.6


def test_dynamic_binarization_needs_the_bernoulli_likelihood() -> None:
    with pytest.raises(ZooError, match="dynamic_binarization=True needs the Bernoulli"):
        create_model("vae", DataInfo("tabular", (6,), "detect"), dynamic_binarization=True)


@pytest.mark.parametrize(("key", "value"), [("latent_dim", 0), ("beta", -1.0),
                                            ("iw_samples", 0), ("gaussian_std", 0.0)])
def test_bad_hyperparameters_are_one_line_errors(key: str, value: Any) -> None:
    with pytest.raises(ZooError, match=f"^model 'vae': {key}=.* must be .*(> 0|>= 1)$"):
        create_model("vae", DataInfo("tabular", (6,), "detect"), **{key: value})


def test_an_unknown_backbone_lists_the_backbones() -> None:
    with pytest.raises(ZooError, match="mlp"):
        create_model("vae[no-such-net]", DataInfo("tabular", (6,), "detect"))


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])  # digits, MNIST
def test_cnn_is_the_image_default_at_the_suites_shapes(shape: tuple[int, ...]) -> None:
    model = create_model("vae", DataInfo("image", shape, "generate", value_range=(0.0, 1.0)))
    assert model.hparams["backbone"] == "cnn"
    x = torch.rand(3, *shape)
    assert model.sample(2).shape == (2, *shape)
    assert model.log_likelihood(x, samples=5).shape == model.score(x).shape == (3,)


def test_a_backbone_without_the_modality_is_refused() -> None:
    with pytest.raises(ZooError, match="backbone 'cnn' does not support tabular data"):
        create_model("vae[cnn]", DataInfo("tabular", (6,), "detect"))


def test_iwae_bound_rises_with_k_on_a_fixed_model() -> None:
    """An untrained model with its weights scaled up: ``q(z|x)`` is far from the posterior, so
    more importance samples tighten the bound by many nats, well beyond the estimates' noise."""
    splits = tiny_splits("image", "generate")
    model = create_model("vae[mlp]", splits.info, seed=0, latent_dim=4)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3)
    bounds = [float(model.log_likelihood(splits.test.x, samples=k).mean()) for k in (1, 10, 100)]
    assert bounds[0] + 50 < bounds[1] < bounds[2] - 10


def test_one_importance_sample_is_the_elbo(image_vae: Any) -> None:
    # k = 1 is a one-draw ELBO (Monte Carlo KL); score is the ELBO with the KL in closed form
    x = tiny_splits("image", "generate").test.x
    assert float(image_vae.log_likelihood(x, samples=1).mean()) == pytest.approx(
        -float(image_vae.score(x).mean()), abs=0.5)


def test_log_likelihood_in_bounded_chunks_agrees(image_vae: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    x = tiny_splits("image", "generate").test.x[:12]
    whole = image_vae.log_likelihood(x, samples=100)  # all 12 x 100 draws in one pass
    monkeypatch.setattr(lightning_module, "EVAL_ROWS", 50)  # 1 sample x 50 draws per pass
    chunked = image_vae.log_likelihood(x, samples=100)
    # other draws, the same estimate: equal up to the importance-sampling noise
    assert torch.allclose(whole, chunked, atol=1.0)
    assert float(whole.mean()) == pytest.approx(float(chunked.mean()), abs=0.2)
    assert torch.equal(chunked, image_vae.log_likelihood(x, samples=100))  # seeded draws


def test_samples_are_probabilities_and_follow_the_generator(image_vae: Any) -> None:
    first = image_vae.sample(7, generator=torch.Generator().manual_seed(5))
    assert first.shape == (7, 1, 8, 8) and 0 <= float(first.min()) <= float(first.max()) <= 1
    assert torch.equal(first, image_vae.sample(7, generator=torch.Generator().manual_seed(5)))
    assert image_vae.sample(0).shape == (0, 1, 8, 8)
    with pytest.raises(ZooError, match="n must be >= 0"):
        image_vae.sample(-1)


def test_negative_elbo_flags_planted_outliers() -> None:
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, 8))  # normal rows lie near a 2-d plane in 8-d
    normal = (rng.normal(size=(600, 2)) @ basis + 0.1 * rng.normal(size=(600, 8)))
    outliers = rng.normal(size=(20, 8)) * 3
    test_x = np.concatenate([normal[500:], outliers]).astype(np.float32)
    labels = np.repeat([0, 1], [100, 20])
    splits = Splits(Arrays(normal[:400].astype(np.float32)),
                    Arrays(normal[400:500].astype(np.float32)), Arrays(test_x, labels),
                    DataInfo("tabular", (8,), "detect"))
    scores = trained(splits, epochs=10, latent_dim=2).score(test_x).numpy()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(labels, scores) > 0.95


# -- end to end --------------------------------------------------------------------------------
def zoo_train(db: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "ZOO_DATA_DIR": os.environ.get("ZOO_DATA_DIR", "/work/shared/data")}
    done = subprocess.run([sys.executable, "-m", "zoo", "train", "vae", "--data", "digits",
                           "--backbone", "mlp", "--accelerator", "cpu", "--max-epochs", "2",
                           "--db", str(db), "--json",
                           *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path: Path) -> None:
    """Two DDP processes of 50 samples each see, batch for batch, the same 100 samples as one
    process with batch 100 (ranks take interleaved slices of one seeded permutation), so the
    two runs take the same optimiser steps on the same data. What still differs is the
    reparameterisation noise (each rank draws its own) and the order of floating-point sums,
    so the best validation loss (about 28.5 nats after 2 epochs; 0.03 % apart when measured)
    must agree to within 1 %. On the ``mlp`` backbone: ``cnn``'s batch norm would normalise
    over 50 samples per process instead of 100, a real (if small) difference."""
    db = tmp_path / "runs.db"
    ddp = zoo_train(db, "--devices", "2", "--set", "batch_size=50")
    single = zoo_train(db, "--devices", "1")
    assert ddp["status"] == single["status"] == "ok"
    import sqlite3

    with sqlite3.connect(db) as conn:  # only rank 0 writes to the store
        assert conn.execute("SELECT device FROM runs").fetchall() == [("cpu x2",), ("cpu",)]
    assert ddp["metrics"]["steps"] == single["metrics"]["steps"]
    assert ddp["metrics"]["best_val_loss"] == pytest.approx(single["metrics"]["best_val_loss"],
                                                            rel=0.01)
