"""Test metrics agree with scikit-learn's on scores of any scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from zoo.errors import ZooError
from zoo.evaluation import detection_metrics


@pytest.mark.parametrize("scale", [1e-3, 1.0, 50.0, 1e6])
def test_detection_metrics_match_sklearn_at_any_scale(scale: float) -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(500) < 0.1).astype(np.int64)
    scores = (rng.normal(size=500) + 1.5 * labels) * scale + 3 * scale
    scores[:20] = scores[20]  # ties must count as ties
    metrics = detection_metrics(torch.as_tensor(scores), torch.as_tensor(labels))
    assert metrics["auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)
    assert metrics["auprc"] == pytest.approx(average_precision_score(labels, scores), abs=1e-6)


def test_detection_metrics_reject_nan_scores_and_single_class_labels() -> None:
    with pytest.raises(ZooError, match="non-finite"):
        detection_metrics(torch.tensor([0.1, float("nan")]), torch.tensor([0, 1]))
    with pytest.raises(ZooError, match="both normal and anomalous"):
        detection_metrics(torch.tensor([0.1, 0.2]), torch.tensor([0, 0]))
