"""ONNX parity for every registered model (the conformance kit, over the registry): exported
evaluate hooks give in ONNX Runtime what they give eagerly, and a model that cannot be
exported says why.

The default run covers every task and every modality of each model at least once; the other
combinations (the same graphs on other data) run under the ``slow`` marker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zoo.testing import ModelCase, model_cases


def onnx_cases() -> Iterator[Any]:
    seen: set[tuple[str, str]] = set()
    for case in model_cases():
        covered = {(case.model, case.task), (case.model, case.modality)} <= seen
        seen |= {(case.model, case.task), (case.model, case.modality)}
        yield pytest.param(case, id=case.id, marks=[pytest.mark.slow] if covered else [])


@pytest.mark.parametrize("case", list(onnx_cases()))
def test_onnx_parity(case: ModelCase, tmp_path: Path) -> None:
    case.check_onnx(tmp_path)
