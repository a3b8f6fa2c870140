"""Saving and loading trained models: a JSON card plus state files, never pickled code.

A checkpoint is a directory::

    card.json         model name, hyperparameters, data info, zoo version, metrics
    <state files>     written by the model's ``save_state`` (``weights.safetensors`` ...)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

CARD = "card.json"
CARD_VERSION = 1


def save_model(model: Any, directory: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (built by :func:`zoo.create_model`) to ``directory``; return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_state(directory)
    card = {
        "card_version": CARD_VERSION,
        "model": model.zoo_name,
        "hparams": model.hyperparameters(),
        "data_info": model.data_info.to_dict(),
        **(extra or {}),
    }
    (directory / CARD).write_text(json.dumps(card, indent=2, sort_keys=True, default=str))
    return directory


def read_card(directory: str | Path) -> dict[str, Any]:
    """The card of a checkpoint directory; a clear error when it is not one."""
    path = Path(directory) / CARD
    if not path.is_file():
        raise ZooError(f"{directory} is not a zoo checkpoint (no {CARD} in it)")
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ZooError(f"{path} is not valid JSON: {exc}") from None
    missing = {"model", "hparams", "data_info"} - set(card)
    if missing:
        raise ZooError(f"{path} lacks {', '.join(sorted(missing))}")
    return card


def load_model(directory: str | Path) -> Any:
    """Rebuild a saved model from its card and load its state; no code is unpickled."""
    from zoo.data.types import DataInfo
    from zoo.models import create_model

    card = read_card(directory)
    model = create_model(card["model"], DataInfo.from_dict(card["data_info"]), **card["hparams"])
    model.load_state(Path(directory))
    return model
