"""pytest plugin of the conformance kit: the ``zoo_model_case`` fixture, one per case."""

from __future__ import annotations

from typing import Any

import pytest

#: The ``--zoo-models`` pattern, when it matches no registered model.
_UNMATCHED = pytest.StashKey[str]()


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
    if not cases:  # pytest would skip the test quietly, and a misspelt pattern pass CI
        metafunc.config.stash[_UNMATCHED] = pattern
    metafunc.parametrize("zoo_model_case", cases, ids=[c.id for c in cases])


def pytest_collection_finish(session: pytest.Session) -> None:
    # Raised here, after collection, pytest reports a usage error; raised while collecting,
    # it would be one more collection error with a traceback.
    pattern = session.config.stash.get(_UNMATCHED, None)
    if pattern is not None:
        from zoo.errors import unknown_name_message
        from zoo.models import list_models

        raise pytest.UsageError(unknown_name_message(
            "model", pattern, list_models(), where=" (the --zoo-models / zoo_models pattern)"))


@pytest.fixture
def zoo_model_case(request: pytest.FixtureRequest) -> Any:
    """The (model, modality, task) case this test instance checks (see ``zoo.testing``)."""
    return request.param
