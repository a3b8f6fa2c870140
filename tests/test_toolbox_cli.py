"""End-to-end, the real ``zoo`` CLI: ``zoo train --ensemble``, ``zoo ensemble`` and
``zoo train --init-from`` on embedded data, each result stored and evaluated as any run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

Cli = Callable[..., CompletedProcess[str]]
TRAIN = ("train", "autoencoder", "--data", "breast-cancer-ad", "--max-epochs", "1",
         "--set", "hidden=8", "-q")


def _ok(done: CompletedProcess[str]) -> object:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ensembles_and_fine_tunes_through_the_cli(zoo_cli: Cli, tmp_path: Path) -> None:
    rows = _ok(zoo_cli(*TRAIN, "--set", "bias=false", "--ensemble", "2", "--json"))
    first, second, made = rows
    assert made["model"] == "autoencoder@2" and made["status"] == "ok"
    assert second["extra"]["init_seed"] == 1000 and first["seed"] == second["seed"] == 0
    package = tmp_path / "package"
    again = _ok(zoo_cli("ensemble", first["id"], second["id"], "--out", str(package), "--json"))
    card = json.loads((package / "card.json").read_text())
    assert [m["run_id"] for m in card["ensemble"]["members"]] == [first["id"], second["id"]]
    assert again["checkpoint"] == str(package.resolve())
    evaluated = _ok(zoo_cli("evaluate", str(package), "--json"))
    assert evaluated["model"] == "autoencoder@2" and 0 <= evaluated["metrics"]["auroc"] <= 1

    done = zoo_cli("train", "deep-svdd", "--data", "breast-cancer-ad", "--max-epochs", "1",
                   "--set", "hidden=8", "--set", "pretrain_epochs=0", "--init-from",
                   first["id"], "--freeze", "backbone", "--backbone-lr-scale", "0.5", "-q")
    assert done.returncode == 0, done.stderr
    assert f"initialised from {first['id']}:" in done.stdout
    checkpoint = done.stdout.split("checkpoint: ")[1].split()[0]
    card = json.loads((Path(checkpoint) / "card.json").read_text())
    assert card["init_from"]["source"] == first["id"]
    assert card["init_from"]["loaded"] and card["init_from"]["freeze"] == "backbone"
