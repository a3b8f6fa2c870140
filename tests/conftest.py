"""Shared fixtures: an isolated zoo home per test, plugin state restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zoo import plugins

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_zoo(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Runs and databases go to a temporary ZOO_HOME; the plugin host is rebuilt after."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path_factory.mktemp("zoo-home")))
    monkeypatch.delenv("ZOO_DB", raising=False)
    monkeypatch.delenv("ZOO_PLUGINS_DIR", raising=False)
    yield
    plugins.configure(plugins_dir=None)
    plugins.reset()
