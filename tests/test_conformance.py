"""Every registered model honours the contract (the conformance kit, over the registry)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from zoo.testing import ModelCase


def test_conformance(zoo_model_case: ModelCase, tmp_path: Path) -> None:
    zoo_model_case.check(tmp_path)


def test_a_model_pattern_matching_no_model_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_kit.py").write_text("def test_kit(zoo_model_case):\n    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--zoo-models", "mlpp", str(tmp_path / "test_kit.py")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4  # pytest's usage error, not a pass with the test skipped
    assert ("ERROR: unknown model 'mlpp' (the --zoo-models / zoo_models pattern); did you "
            "mean 'mlp'? valid: ") in done.stderr
