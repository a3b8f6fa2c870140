"""pytest plugin of the conformance kit: the ``zoo_model_case`` fixture, one per case."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--zoo-models", default=None,
                     help="shell-style pattern of the models the zoo conformance kit checks")
    parser.addini("zoo_models", default="*",
                  help="shell-style pattern of the models the zoo conformance kit checks")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "zoo_model_case" not in metafunc.fixturenames:
        return
    from zoo.testing import model_cases

    pattern = (metafunc.config.getoption("--zoo-models")
               or metafunc.config.getini("zoo_models") or "*")
    cases = model_cases(pattern)
    metafunc.parametrize("zoo_model_case", cases, ids=[c.id for c in cases])


@pytest.fixture
def zoo_model_case(request: pytest.FixtureRequest) -> Any:
    """The (model, modality, task) case this test instance checks (see ``zoo.testing``)."""
    return request.param
