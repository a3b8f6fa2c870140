"""Test metrics by task, computed with torchmetrics from the models' evaluate hooks.

Owns: this module (test metrics by task), `samples` (drawing and checking samples, FID /
KID, grids, text), `reference_features` (the classifier FID and KID are measured in) and
`images` (image grids as PNG, binarisation). May import: zoo.errors, zoo.plugins, zoo.data,
zoo.models (a test checks it; imports run downward only).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional import accuracy, mean_squared_error, r2_score
from torchmetrics.functional.classification import binary_auroc, binary_average_precision

from zoo.errors import ZooError
from zoo.evaluation.samples import distances, draw_samples
from zoo.models import LikelihoodModel, Sampler

if TYPE_CHECKING:
    from pathlib import Path

    from zoo.data.types import Arrays, DataInfo


def classification_metrics(logits: torch.Tensor, target: torch.Tensor,
                           n_classes: int) -> dict[str, float]:
    """Accuracy and mean cross-entropy (nats) of class logits."""
    logits = logits.float()
    return {
        "accuracy": float(accuracy(logits.argmax(1), target, task="multiclass",
                                   num_classes=n_classes)),
        "cross_entropy": float(F.cross_entropy(logits, target)),
    }


def regression_metrics(predicted: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Mean squared error and R^2 of predicted values."""
    predicted, target = predicted.float().reshape(target.shape), target.float()
    return {"mse": float(mean_squared_error(predicted, target)),
            "r2": float(r2_score(predicted, target))}


def detection_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """AUROC and AUPRC of anomaly scores (higher = more anomalous) against 0/1 labels."""
    scores = scores.float().reshape(-1)
    if not bool(scores.isfinite().all()):
        raise ZooError("the model returned non-finite anomaly scores")
    labels = labels.long().reshape(-1)
    if labels.min() == labels.max():
        raise ZooError("AUROC needs both normal and anomalous samples in the test split")
    ranks = order_preserving_unit_scale(scores)
    return {"auroc": float(binary_auroc(ranks, labels)),
            "auprc": float(binary_average_precision(ranks, labels))}


def order_preserving_unit_scale(scores: torch.Tensor) -> torch.Tensor:
    """Dense ranks scaled into [0, 1]: same order and ties as ``scores``.

    torchmetrics treats binary scores outside [0, 1] as logits and squashes them with a
    sigmoid, which ties large scores in float32 and corrupts AUROC; ranks avoid that, and
    AUROC and AUPRC depend only on the order.
    """
    ranks = torch.unique(scores.double(), return_inverse=True)[1].double()
    return ranks / ranks.max().clamp(min=1)


def likelihood_metrics(log_likelihood: torch.Tensor, n_dims: int) -> dict[str, float]:
    """Mean negative log-likelihood in nats, and in bits per dimension.

    ``bpd = nll / (n_dims * ln 2)``: the code length per value (pixel, character) in bits.

    Raises:
        ZooError: A log-likelihood is not finite.
    """
    values = log_likelihood.double().reshape(-1)
    if not bool(values.isfinite().all()):
        raise ZooError("the model returned non-finite log-likelihoods")
    nll = float(-values.mean())
    return {"nll": nll, "bpd": nll / (n_dims * math.log(2))}


def sample_metrics(model: Any, features: torch.nn.Module, real: torch.Tensor,
                   seed: int) -> dict[str, float]:
    """FID and KID of as many samples of ``model`` as ``real`` images, drawn with ``seed``,
    measured as ``image-gen`` measures them (its KID subsets, on one CPU thread)."""
    return distances(features, real, draw_samples(model, len(real), tuple(real.shape[1:]), seed),
                     seed)


def save_test_outputs(path: Path, labels: torch.Tensor, **outputs: torch.Tensor) -> Path:
    """The test labels and what the model made of each row (a detector's ``scores``, a
    classifier's ``predictions``) as ``path`` (``.npz``: ``labels`` as int32, each output
    with its own dtype; a few kB per thousand rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: torch.as_tensor(values).detach().reshape(-1).cpu().numpy()
              for name, values in outputs.items()}
    np.savez_compressed(path, labels=labels.reshape(-1).numpy().astype(np.int32), **arrays)
    return path


def evaluate_model(model: Any, info: DataInfo, test: Arrays, *,
                   features: torch.nn.Module | None = None, seed: int = 0,
                   outputs_path: Path | None = None) -> dict[str, float]:
    """Score ``model`` on ``test`` with the metrics of ``info.task``.

    A generative model is scored by its log-likelihood when it has one and, given the
    ``features`` of a reference classifier, by the FID and KID of its samples (seeded by
    ``seed``) against the test images. Given ``outputs_path``, a detector's test labels and
    anomaly scores, or a classifier's test labels and predicted classes, are saved there
    (:func:`save_test_outputs`), for ROC curves and confusion matrices in reports and trackers.
    """
    if info.task in ("classify", "regress", "detect") and test.y is None:
        raise ZooError(f"evaluating a {info.task} model needs labels in the test data")
    target = None if test.y is None else torch.as_tensor(test.y)
    if info.task == "classify":
        logits = model.predict(test.x)
        if outputs_path is not None:
            save_test_outputs(outputs_path, target, predictions=logits.argmax(1).int())
        return classification_metrics(logits, target, info.n_classes or 2)
    if info.task == "regress":
        return regression_metrics(model.predict(test.x), target)
    if info.task == "detect":
        scores = model.score(test.x)
        if outputs_path is not None:
            save_test_outputs(outputs_path, target, scores=torch.as_tensor(scores).float())
        return detection_metrics(scores, target)
    metrics: dict[str, float] = {}
    if info.task == "generate" and isinstance(model, LikelihoodModel):
        metrics |= likelihood_metrics(model.log_likelihood(test.x), info.n_features)
    if info.task == "generate" and features is not None and isinstance(model, Sampler):
        metrics |= sample_metrics(model, features, torch.as_tensor(test.x), seed)
    if not metrics:
        raise ZooError(f"no test metric for task {info.task!r} of this model")
    return metrics
