"""The variational autoencoder as a zoo model: the ELBO, the steps and the evaluate hooks.

- ``sample(n)``: ``E[x|z]`` for ``z ~ N(0, I)``, in data space;
- ``log_likelihood(x)``: the IWAE lower bound on ``log p(x)``, in nats;
- ``score(x)``: the negative ELBO, higher = more anomalous.

The encoder and decoder come from a backbone by name (``mlp`` for tables, ``cnn`` for images).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import torch
from zoo import DataInfo, ZooError  # DataInfo at run time: create_model reads __init__ hints
from zoo.models.backbones import get_backbone
from zoo.models.module import ZooModule

from zoo_vae.loss import (
    diagonal_gaussian_log_density,
    gaussian_kl,
    iwae_bound,
    negative_elbo,
    standard_normal_log_density,
)
from zoo_vae.torch_model import (
    BernoulliObservation,
    GaussianObservation,
    VariationalAutoEncoder,
    reparameterize,
)

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
                    "adamw"]
Activation = Literal["relu", "gelu", "tanh", "leaky_relu"]
Likelihood = Literal["auto", "bernoulli", "gaussian"]

#: Decoder rows (samples x latent draws) per forward pass of the evaluate hooks: bounds their
#: memory whatever ``iw_samples`` and the batch are.
EVAL_ROWS = 4096
#: Seed of the latent draws of ``score`` and ``log_likelihood`` when no generator is given, so
#: that a trained model gives the same values on every call.
EVAL_SEED = 0


def resolve_likelihood(likelihood: Likelihood, info: DataInfo) -> Literal["bernoulli",
                                                                          "gaussian"]:
    """``auto``: Bernoulli for data in ``[0, 1]`` (images), Gaussian otherwise (standardised
    tables). A Bernoulli likelihood for other data is refused."""
    unit_range = info.value_range is not None and tuple(info.value_range) == (0.0, 1.0)
    if likelihood == "auto":
        return "bernoulli" if unit_range else "gaussian"
    if likelihood == "bernoulli" and not unit_range:
        raise ZooError(f"vae: likelihood='bernoulli' needs data in [0, 1], this data has "
                       f"value_range {info.value_range}; use likelihood=gaussian or auto")
    return likelihood


class VAE(ZooModule):
    """Variational autoencoder.

    An encoder maps ``x`` to a diagonal Gaussian ``q(z|x)``, a decoder maps ``z`` to
    ``p(x|z)``, and the prior is ``p(z) = N(0, I)``. Training minimises the negative evidence
    lower bound (ELBO), per sample in nats, with one reparameterised draw of ``z`` and the KL
    term in closed form; ``beta`` weighs the KL term (beta-VAE). ``train_loss`` and ``val_loss``
    are that objective: the negative ELBO when ``beta = 1``.

    ``p(x|z)`` is Bernoulli (decoder outputs are logits) for data in ``[0, 1]``, Gaussian
    (decoder outputs are means) otherwise, with a learned per-feature standard deviation or a
    fixed one (``gaussian_std``), so that the log-likelihood is a density.

    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014,
    https://arxiv.org/abs/1312.6114; beta-VAE: Higgins et al., ICLR 2017,
    https://openreview.net/forum?id=Sy2fzU9gl; log-likelihood by importance sampling: Burda,
    Grosse & Salakhutdinov, ICLR 2016, https://arxiv.org/abs/1509.00519.

    Args:
        data_info: The data the model is built for.
        backbone: Backbone (by name) that builds the encoder and the decoder.
        latent_dim: Size of ``z`` (16, as pythae's MNIST benchmark).
        hidden: Hidden sizes of the encoder (widths for ``mlp``, channels for ``cnn``); the
            decoder mirrors them. ``None``, here and in the next three: the backbone's own
            default (``mlp``: widths (256, 128), no dropout, no batch norm, ReLU; ``cnn``:
            channels (32, 64), no dropout, batch norm, leaky ReLU).
        dropout: Dropout probability in the backbone's hidden layers.
        batch_norm: Batch normalisation in the backbone's hidden layers.
        activation: Hidden activation.
        likelihood: ``p(x|z)``: ``bernoulli``, ``gaussian``, or ``auto`` (Bernoulli when the
            data lies in ``[0, 1]``, else Gaussian).
        gaussian_std: Gaussian only: a fixed standard deviation; ``None`` learns one per
            feature.
        beta: Weight of the KL term (1: the VAE; > 1: beta-VAE).
        dynamic_binarization: Bernoulli only: each training batch is drawn afresh as binary
            pixels, one with probability the pixel's grey level, so the model never sees the
            same binary image twice (Burda et al. 2016's MNIST protocol; it removes the
            overfitting to one binarisation). Validation and the evaluate hooks take the data
            as given: binarise it once for a log-probability.
        iw_samples: Importance samples ``k`` of ``log_likelihood`` (200, as pythae's VAE row).
        score_samples: Latent draws averaged by ``score``'s reconstruction term.
        optimizer: Optimiser by name.
        lr: Learning rate.
        lr_schedule: ``constant``, or ``cosine``: a warmup then cosine decay to a tenth of
            ``lr`` over the run (:func:`zoo.models.module.cosine_with_warmup`).
        weight_decay: L2 penalty (decoupled for ``adamw``).
        batch_size: Samples per mini-batch.
    """

    onnx_unsupported = ("score and log_likelihood are Monte-Carlo estimates drawn from torch's "
                        "seeded generator, which ONNX Runtime cannot reproduce")

    def __init__(self, data_info: DataInfo, backbone: str = "mlp", latent_dim: int = 16,
                 hidden: tuple[int, ...] | None = None, dropout: float | None = None,
                 batch_norm: bool | None = None, activation: Activation | None = None,
                 likelihood: Likelihood = "auto", gaussian_std: float | None = None,
                 beta: float = 1.0, dynamic_binarization: bool = False,
                 iw_samples: int = 200, score_samples: int = 10,
                 optimizer: Optimizer = "adam", lr: float = 1e-3,
                 lr_schedule: Literal["constant", "cosine"] = "constant",
                 weight_decay: float = 0.0, batch_size: int = 100) -> None:
        super().__init__(data_info)
        check_positive(latent_dim=latent_dim, iw_samples=iw_samples,
                       score_samples=score_samples, beta=beta)
        if gaussian_std is not None:
            check_positive(gaussian_std=gaussian_std)
        self.save_hyperparameters(ignore=["data_info"])
        self.likelihood = resolve_likelihood(likelihood, data_info)
        if dynamic_binarization and self.likelihood != "bernoulli":
            raise ZooError("vae: dynamic_binarization=True needs the Bernoulli likelihood "
                           f"(data in [0, 1]); this model's likelihood is {self.likelihood}")
        observation = (BernoulliObservation() if self.likelihood == "bernoulli"
                       else GaussianObservation(tuple(data_info.shape), gaussian_std))
        options = {"dropout": dropout, "batch_norm": batch_norm, "activation": activation}
        encoder, decoder = build_networks(backbone, data_info, latent_dim, hidden,
                                          {k: v for k, v in options.items() if v is not None})
        self.network = VariationalAutoEncoder(encoder, decoder, observation, latent_dim)

    # -- training ------------------------------------------------------------------------------
    def objective(self, x: torch.Tensor) -> torch.Tensor:
        """The training objective of each sample ``(N,)``: one draw of ``z``, closed-form KL."""
        mean, log_var = self.network.encode(x)
        _, log_px = next(self._draws(x, mean, log_var, samples=1, generator=None))
        return negative_elbo(log_px[0], gaussian_kl(mean, log_var), self.hparams["beta"])

    def training_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = batch[0]
        if self.hparams["dynamic_binarization"]:
            x = torch.bernoulli(x)
        loss = self.objective(x).mean()
        self.log_epoch_mean("train_loss", loss, len(x))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x = batch[0]
        self.log_epoch_mean("val_loss", self.objective(x).mean(), len(x))

    # -- evaluate hooks ------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples ``(n, *shape)`` in data space: ``E[x|z]`` for ``z ~ N(0, I)``.

        For a Bernoulli likelihood these are the probabilities of a one (grey levels in
        ``[0, 1]``), for a Gaussian the means; no observation noise is added. ``z`` is drawn
        with ``generator`` (on its own device) or, without one, torch's global generator.
        """
        if n < 0:
            raise ZooError(f"vae: cannot draw n={n} samples; n must be >= 0")
        z = self._noise((n, self.network.latent_dim), generator)
        was_training = self.training
        self.eval()
        try:
            parts = [self.network.mean(chunk).cpu() for chunk in z.split(EVAL_ROWS)]
        finally:
            self.train(was_training)
        return torch.cat(parts) if parts else torch.empty(0, *self.data_info.shape)

    def log_likelihood(self, x: Any, samples: int | None = None,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """The IWAE estimate of ``log p(x)`` of each sample ``(N,)``, in nats.

        ``log (1/k) sum_i p(x, z_i) / q(z_i|x)`` with ``k`` draws ``z_i ~ q(z|x)``: a
        stochastic lower bound on ``log p(x)`` whose expectation rises with ``k`` towards it
        (Burda et al. 2016). Under a Bernoulli likelihood it is a log-probability only for
        binary ``x``.

        Args:
            x: Samples ``(N, *shape)``, numpy or torch.
            samples: ``k``; ``None``: the ``iw_samples`` hyperparameter.
            generator: Source of the draws, on the model's device; ``None``: a fresh one seeded
                with :data:`EVAL_SEED`, so repeated calls agree.
        """
        k = self.hparams["iw_samples"] if samples is None else samples
        check_positive(samples=k)
        if generator is None:
            generator = self._eval_generator()

        def bound(batch: torch.Tensor) -> torch.Tensor:
            mean, log_var = self.network.encode(batch)
            log_weights = torch.cat([
                log_px + standard_normal_log_density(z)
                - diagonal_gaussian_log_density(z, mean, log_var)
                for z, log_px in self._draws(batch, mean, log_var, k, generator)])
            return iwae_bound(log_weights, dim=0)

        return self.batched(bound, x, batch_size=max(1, EVAL_ROWS // k))

    def score(self, x: Any) -> torch.Tensor:
        """Anomaly scores ``(N,)``: the negative ELBO in nats (``beta = 1``), higher = more
        anomalous.

        The KL term is exact; the reconstruction term averages ``score_samples`` draws from a
        generator seeded with :data:`EVAL_SEED`, so repeated calls agree.
        """
        k = self.hparams["score_samples"]
        generator = self._eval_generator()

        def elbo_loss(batch: torch.Tensor) -> torch.Tensor:
            mean, log_var = self.network.encode(batch)
            log_px = torch.cat([log_px for _, log_px in
                                self._draws(batch, mean, log_var, k, generator)])
            return negative_elbo(log_px.mean(0), gaussian_kl(mean, log_var))

        return self.batched(elbo_loss, x, batch_size=max(1, EVAL_ROWS // k))

    # -- helpers -------------------------------------------------------------------------------
    def _eval_generator(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(EVAL_SEED)

    def _noise(self, shape: tuple[int, ...],
               generator: torch.Generator | None) -> torch.Tensor:
        """Standard normal values on the module's device, drawn by ``generator`` if given."""
        device = self.device if generator is None else generator.device
        return torch.randn(shape, generator=generator, device=device).to(self.device)

    def _draws(self, x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, samples: int,
               generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``samples`` draws ``z ~ q(z|x)`` per sample, in chunks of at most
        :data:`EVAL_ROWS` decoder rows: ``z`` ``(c, N, latent_dim)`` and ``log p(x|z)``
        ``(c, N)`` of each chunk of ``c`` draws."""
        n = len(x)
        per_chunk = max(1, EVAL_ROWS // max(n, 1))
        for start in range(0, samples, per_chunk):
            c = min(per_chunk, samples - start)
            z = reparameterize(mean, log_var, self._noise((c, *mean.shape), generator))
            repeated = x.expand(c, *x.shape).reshape(c * n, *x.shape[1:])
            log_px = self.network.log_likelihood(repeated, z.reshape(c * n, -1))
            yield z, log_px.reshape(c, n)


def check_positive(**values: float) -> None:
    """Raise a one-line :class:`ZooError` naming the first value that is not positive."""
    for name, value in values.items():
        if not value > 0:
            raise ZooError(f"vae: {name}={value} must be positive")


def build_networks(backbone: str, info: DataInfo, latent_dim: int,
                   hidden: tuple[int, ...] | None,
                   options: dict[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The encoder (to means and log-variances) and decoder (to raw outputs) of a backbone.

    ``hidden`` is passed only when given, so that each backbone keeps its own sizes (widths
    for ``mlp``, channels for ``cnn``); the decoder mirrors it. ``options`` go to both.
    """
    builder = get_backbone(backbone)
    encoder_sizes = {} if hidden is None else {"hidden": tuple(hidden)}
    decoder_sizes = {} if hidden is None else {"hidden": tuple(reversed(hidden))}
    return (builder.encoder(info, 2 * latent_dim, **encoder_sizes, **options),
            builder.decoder(latent_dim, info, **decoder_sizes, **options))
