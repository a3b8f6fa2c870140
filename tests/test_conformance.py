"""Every registered model honours the contract (the conformance kit, over the registry)."""

from __future__ import annotations

from pathlib import Path

from zoo.testing import ModelCase


def test_conformance(zoo_model_case: ModelCase, tmp_path: Path) -> None:
    zoo_model_case.check(tmp_path)
