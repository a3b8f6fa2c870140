"""Saving and loading trained models: a JSON card plus state files, never pickled code.

A checkpoint is a directory::

    card.json         model name, hyperparameters, data info, zoo version, metrics
    <state files>     written by the model's ``save_state`` (``weights.safetensors`` ...)

An ensemble's card has an ``ensemble`` entry and its members' checkpoints are inside it
(:mod:`zoo.models.ensemble`); :func:`load_model` loads both kinds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.data.splits import check_labels
from zoo.errors import ZooError, one_line

if TYPE_CHECKING:
    import numpy as np

    from zoo.data.types import Arrays, DataInfo

CARD = "card.json"
CARD_VERSION = 1


def save_model(model: Any, directory: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (built by :func:`zoo.create_model`) to ``directory``; return it."""
    from zoo.models.ensemble import MEMBERS_DIR, Ensemble

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_state(directory)
    if isinstance(model, Ensemble):  # each member a checkpoint of its own, inside this one
        for index, (member, record) in enumerate(zip(model.members, model.records,
                                                     strict=True)):
            save_model(member, directory / MEMBERS_DIR / str(index), extra=record)
        extra = {**model.card(), **(extra or {})}
    card = {
        "card_version": CARD_VERSION,
        "model": model.zoo_name,
        "hparams": model.hyperparameters(),
        "data_info": model.data_info.to_dict(),
        **(extra or {}),
    }
    (directory / CARD).write_text(json.dumps(card, indent=2, sort_keys=True, default=str))
    return directory


def member_runs(directory: Path, card: dict[str, Any]) -> list[str]:
    """The runs a checkpoint is made of: its own (its run id, else its folder), or an
    ensemble package's members', theirs in turn where a member is an ensemble."""
    from zoo.models.ensemble import ENSEMBLE, MEMBERS_DIR

    if ENSEMBLE not in card:
        return [str(card.get("run_id") or Path(directory).resolve())]
    folders = [Path(directory) / MEMBERS_DIR / str(i)
               for i in range(len(card[ENSEMBLE]["members"]))]
    return [run for folder in folders for run in member_runs(folder, read_card(folder))]


def read_card(directory: str | Path) -> dict[str, Any]:
    """The card of a checkpoint directory; a clear error when it is not one."""
    path = Path(directory) / CARD
    if not path.is_file():
        raise ZooError(f"{directory} is not a zoo checkpoint (no {CARD} in it)")
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ZooError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(card, dict):
        raise ZooError(f"{path} is not a JSON object of the model's description")
    missing = {"model", "hparams", "data_info"} - set(card)
    if missing:
        raise ZooError(f"{path} lacks {', '.join(sorted(missing))}")
    return card


def load_model(directory: str | Path) -> Any:
    """Rebuild a saved model from its card and load its state; no code is unpickled.

    Raises:
        ZooError: The card does not describe a model zoo can build, or the state files are
            missing, damaged, of another format or of other shapes than the card's model
            (one line naming the file and what is wrong).
    """
    from zoo.models.ensemble import ENSEMBLE

    directory = Path(directory)
    card = read_card(directory)
    if ENSEMBLE in card:
        return _load_ensemble(directory, card)
    model = _build(directory, card)
    try:
        model.load_state(directory)
    except ZooError:
        raise
    except Exception as exc:  # every library raises its own error for a bad or foreign file
        raise ZooError(_state_problem(directory, exc)) from None
    return model


def _load_ensemble(directory: Path, card: dict[str, Any]) -> Any:
    """An ensemble package: each member through :func:`load_model`, then the ensemble."""
    from zoo.models.ensemble import ENSEMBLE, MEMBER_KEYS, MEMBERS_DIR, restore_ensemble

    folders = [directory / MEMBERS_DIR / str(i) for i in range(len(card[ENSEMBLE]["members"]))]
    members = [load_model(folder) for folder in folders]
    records = [{key: member[key] for key in MEMBER_KEYS if key in member}
               for member in map(read_card, folders)]
    try:
        return restore_ensemble(directory, members, records)
    except ZooError:
        raise
    except Exception as exc:  # a missing or damaged file of validation scores
        raise ZooError(_state_problem(directory, exc)) from None


def _build(directory: Path, card: dict[str, Any]) -> Any:
    from zoo.data.types import DataInfo
    from zoo.models import create_model

    try:
        info = DataInfo.from_dict(card["data_info"])
        return create_model(card["model"], info, **card["hparams"])
    except ZooError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ZooError(f"{directory / CARD} does not describe a model {card['model']!r} can "
                       f"build ({one_line(exc)})") from None


def _state_problem(directory: Path, exc: Exception) -> str:
    """What is wrong with a checkpoint whose state would not load, in one line."""
    if isinstance(exc, FileNotFoundError):
        return f"checkpoint {directory} is incomplete: {one_line(exc)}"
    files = sorted(p.name for p in directory.iterdir() if p.name != CARD) or ["no state file"]
    return (f"checkpoint {directory}: {', '.join(files)} does not load into the model "
            f"{CARD} describes ({_shortened(one_line(exc))})")


def _shortened(text: str, limit: int = 300) -> str:
    """A library's message cut to ``limit`` characters (a state dict's lists every tensor)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_fits_model(name: str, arrays: Arrays, info: DataInfo) -> None:
    """Refuse data a model cannot be evaluated on, before any of it reaches the model.

    Args:
        name: The data, for the message.
        arrays: The samples to evaluate on, before any preprocessing.
        info: The model's data description (from its card).

    Raises:
        ZooError: Samples of another shape than the model's, or labels its task cannot score:
            none for ``classify`` / ``regress`` / ``detect``, anomaly labels of one value, or
            class ids the model does not have.
    """
    shape = tuple(arrays.x.shape[1:])
    if shape != tuple(info.shape):
        raise ZooError(f"{name} has samples of shape {shape}; the model was trained on "
                       f"{tuple(info.shape)}")
    if info.task not in ("classify", "regress", "detect"):
        return
    if info.task == "detect" or arrays.y is None:
        check_labels(name, arrays.y, info.task)
    if info.task == "classify" and info.n_classes is not None:
        _check_class_ids(name, arrays.y, info.n_classes)


def _check_class_ids(name: str, labels: np.ndarray, n_classes: int) -> None:
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= n_classes:
        raise ZooError(f"{name}: labels range over {labels.min()}..{labels.max()}, but the "
                       f"model knows the classes 0..{n_classes - 1}")
