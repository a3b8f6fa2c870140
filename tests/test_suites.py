"""Every registered suite: its spec's cheap metadata agrees with its implementation, and the
commands that only read that metadata import no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from zoo import plugins
from zoo.plugins.specs import SpecError, SuiteSpec

SUITES = sorted(plugins.get_host().suites())


@pytest.mark.parametrize("name", SUITES)
def test_a_suite_class_gives_numbers_to_exactly_its_specs_budgets(name: str) -> None:
    spec = plugins.get_host().suite(name)
    suite_class = spec.load()
    assert suite_class.name == spec.name
    assert tuple(suite_class.budgets) == spec.budgets


@pytest.mark.parametrize("name", SUITES)
def test_a_suite_reads_its_metadata_from_its_spec(name: str) -> None:
    host = plugins.get_host()
    suite = host.suite(name).load()()
    assert suite.spec is host.suite(name)
    assert suite.spec.metrics and all(isinstance(higher, bool) for _, higher in suite.spec.metrics)


def test_leaderboard_and_suites_listing_import_no_torch(tmp_path: Path) -> None:
    from zoo.runs.store import Store

    Store(tmp_path / "empty.db").close()
    code = ("import sys\n"
            "from click.testing import CliRunner\n"
            "from zoo.cli import cli\n"
            f"db = {str(tmp_path / 'empty.db')!r}\n"
            "for args in (['suites'], ['leaderboard', 'image-gen', '--db', db],\n"
            "             ['leaderboard', 'ts-ad', '--db', db, '--format', 'json']):\n"
            "    result = CliRunner().invoke(cli, args)\n"
            "    assert result.exit_code == 0, (args, result.output)\n"
            "heavy = [m for m in ('torch', 'lightning', 'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_unknown_budget_names_the_suites_own(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zoo.cli import cli

    result = CliRunner().invoke(cli, ["bench", "embedded-ad", "--budget", "huge",
                                      "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 2
    assert "unknown budget 'huge' for suite 'embedded-ad'; valid: smoke, quick, full" in (
        result.output)
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize(("options", "message"), [
    ({}, "metrics is empty"),
    ({"metrics": (("auroc", True),), "columns": "row"}, "unknown columns 'row'"),
    ({"metrics": (("auroc", True),), "floors": {"fid": "fid_floor"}},
     "floors for metrics it does not report"),
    ({"metrics": (("auroc", True),), "budgets": ()}, "budgets is empty"),
])
def test_a_suite_spec_without_usable_metadata_is_refused(options: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        SuiteSpec(name="s", implementation="m:S", tasks=("detect",), modalities=("tabular",),
                  **options)
