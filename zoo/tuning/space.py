"""The search space of ``zoo tune``: a model's hyperparameter declarations, overridable by YAML.

Each :class:`~zoo.plugins.specs.HParam` with a ``search`` is a dimension: a number range
(on a log scale where ``log``), or the strings or booleans to try. A tuple-valued
hyperparameter (``hidden=64,32``) is searched item by item (``hidden.0``, ``hidden.1``), as
many items as its default for the data's modality has. A YAML file changes the space, key by
key::

    lr: {low: 1.0e-4, high: 1.0e-2, log: true}   # a range (log optional)
    optimizer: [adam, adamw]                     # the strings or booleans to try
    dropout: 0.1                                 # a fixed value: not searched
    weight_decay: default                        # not searched, kept at its default

Every value is checked against the declaration: an unknown name, bounds outside the valid
values or ``low >= high`` are one-line errors. Cheap: imports neither Optuna nor torch (a
trial is anything with Optuna's ``suggest_*`` methods).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zoo.errors import ZooError, unknown_name_message
from zoo.plugins.specs import HParam, ModelSpec, SpecError, format_value

#: How many values of a number range the grid sampler tries: both ends and the middle.
GRID_POINTS = 3
_RANGE_KEYS = {"low", "high", "log"}


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: its declaration (whose ``search`` and ``log`` say what
    is tried) and, for a tuple, how many items it has."""

    hparam: HParam
    items: int | None = None

    @property
    def name(self) -> str:
        return self.hparam.name

    def keys(self) -> list[str]:
        """The parameter names a study records: ``lr``; ``hidden.0``, ``hidden.1``."""
        if self.items is None:
            return [self.name]
        return [f"{self.name}.{i}" for i in range(self.items)]

    @property
    def integer(self) -> bool:
        return self.hparam.numeric and float not in self.hparam.item_types

    def suggest(self, trial: Any) -> Any:
        """This dimension's value for an Optuna ``trial``."""
        values = [self._suggest_one(trial, key) for key in self.keys()]
        return tuple(values) if self.items is not None else values[0]

    def _suggest_one(self, trial: Any, key: str) -> Any:
        search = self.hparam.search
        assert search is not None
        if not self.hparam.numeric:
            return trial.suggest_categorical(key, list(search))
        low, high = search
        if self.integer:
            return trial.suggest_int(key, math.ceil(low), int(high), log=self.hparam.log)
        return trial.suggest_float(key, float(low), float(high), log=self.hparam.log)

    def grid(self) -> dict[str, list[Any]]:
        """The values the grid sampler tries per key: the choices, or both ends and the
        (geometric, for a log range) middle of a range."""
        search = self.hparam.search
        assert search is not None
        if not self.hparam.numeric:
            values = list(search)
        else:
            low, high = search
            middle = math.sqrt(low * high) if self.hparam.log else (low + high) / 2
            values = [low, middle, high]
            values = sorted({round(v) for v in values}) if self.integer else values
        return {key: values for key in self.keys()}

    def describe(self) -> str:
        """``lr: [1e-05, 0.1] log``, ``optimizer: adam, adamw``, ``hidden: 2 x [16, 512] log``."""
        text = self.hparam.search_text()
        return f"{self.name}: {self.items} x {text}" if self.items is not None else \
            f"{self.name}: {text}"


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions searched and the values fixed instead of the defaults."""

    dimensions: tuple[Dimension, ...]
    fixed: Mapping[str, Any]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The hyperparameters of one trial: each dimension's suggestion, and the fixed ones."""
        return {**self.fixed, **{d.name: d.suggest(trial) for d in self.dimensions}}

    def grid(self) -> dict[str, list[Any]]:
        """Every key's grid values (:meth:`Dimension.grid`), for Optuna's ``GridSampler``."""
        return {key: values for d in self.dimensions for key, values in d.grid().items()}

    def defaults_trial(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The study parameters that reproduce the model's defaults, for the dimensions whose
        default lies in the searched range (a first trial: tuning then never ends worse on
        validation than the defaults)."""
        params: dict[str, Any] = {}
        for dimension in self.dimensions:
            value = defaults.get(dimension.name, dimension.hparam.default)
            values = value if dimension.items is not None else (value,)
            if value is None or len(values) != len(dimension.keys()):
                continue
            if all(_in_search(dimension.hparam, v) for v in values):
                params.update(zip(dimension.keys(), values, strict=True))
        return params

    def describe(self) -> list[str]:
        lines = [d.describe() for d in self.dimensions]
        return lines + [f"{name} = {format_value(value)} (fixed)"
                        for name, value in self.fixed.items()]

    def to_dict(self) -> dict[str, Any]:
        return {"search": [d.describe() for d in self.dimensions],
                "fixed": {name: format_value(value) for name, value in self.fixed.items()}}


def _in_search(hparam: HParam, value: Any) -> bool:
    search = hparam.search
    assert search is not None
    if isinstance(value, bool) or not hparam.numeric:
        return value in search
    return isinstance(value, int | float) and search[0] <= value <= search[1]


def search_space(spec: ModelSpec, defaults: Mapping[str, Any],
                 path: Path | None = None) -> SearchSpace:
    """The search space of ``spec`` for data whose resolved defaults are ``defaults``
    (:meth:`ModelSpec.defaults_for`: a tuple's length comes from them), with the YAML file
    ``path`` applied.

    Raises:
        ZooError: The file cannot be read, names an unknown hyperparameter, or gives a value
            or a range outside the declaration; or nothing is left to search.
    """
    overrides = read_space_file(path) if path is not None else {}
    if path is not None:
        check_space_names(spec, overrides, path)
    where = f"search space {path}" if path is not None else f"model {spec.name!r}"
    dimensions, fixed = [], {}
    for hparam in spec.hparams:
        if hparam.name in overrides:
            hparam, value = _overridden(spec, hparam, overrides[hparam.name], where)
            if hparam.search is None:
                if value is not _DEFAULT:
                    fixed[hparam.name] = value
                continue
        if hparam.search is None:
            continue
        default = defaults.get(hparam.name, hparam.default)
        items = len(default) if hparam.sequence and default is not None else None
        if hparam.sequence and items is None:
            items = hparam.length or 1
        dimensions.append(Dimension(hparam, items))
    if not dimensions:
        raise ZooError(f"{where}: nothing to search (no hyperparameter declares a search "
                       f"range); give ranges in a --space file")
    return SearchSpace(tuple(dimensions), fixed)


_DEFAULT = object()


def _overridden(spec: ModelSpec, hparam: HParam, value: Any,
                where: str) -> tuple[HParam, Any]:
    """``hparam`` with the YAML value applied: a new search (a range or a list of values),
    or no search and the fixed value (:data:`_DEFAULT` for ``default``)."""
    try:
        if isinstance(value, Mapping):
            unknown = set(value) - _RANGE_KEYS
            if unknown or not {"low", "high"} <= set(value):
                raise ZooError(f"{where}: {hparam.name} must be {{low: L, high: H[, log: "
                               f"true]}}, a list of values or one value; got {dict(value)}")
            bounds = tuple(hparam.parse(value[key], where) for key in ("low", "high"))
            if hparam.sequence:  # a tuple's range is the range of each of its items
                bounds = tuple(b[0] for b in bounds)
            return replace(hparam, search=bounds, log=bool(value.get("log", False))), None
        if isinstance(value, list):
            if hparam.numeric:
                raise ZooError(f"{where}: {hparam.name} is a number, searched over a range "
                               f"{{low: L, high: H}}, not a list of values")
            return replace(hparam, search=tuple(hparam.parse(v, where) for v in value),
                           log=False), None
        if value == "default":
            return replace(hparam, search=None, log=False), _DEFAULT
        return replace(hparam, search=None, log=False), hparam.parse(value, where)
    except SpecError as exc:
        reason = str(exc).replace(f"hyperparameter {hparam.name!r}: ", f"{hparam.name}: ")
        raise ZooError(f"{where}: {reason}") from None


def read_space_file(path: Path) -> dict[str, Any]:
    """The YAML mapping of a ``--space`` file; names are checked by :func:`search_space`."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ZooError(f"cannot read search space {path}: {' '.join(str(exc).split())}") \
            from None
    if not isinstance(data, dict) or not data:
        raise ZooError(f"search space {path} must be a mapping of hyperparameter: range, "
                       f"values or value")
    return data


def check_space_names(spec: ModelSpec, overrides: Mapping[str, Any], path: Path) -> None:
    """Refuse a ``--space`` key that the model does not declare, naming the close ones."""
    names = [h.name for h in spec.hparams]
    for key in overrides:
        if key not in names:
            raise ZooError(unknown_name_message("hyperparameter", str(key), names,
                                                f" in search space {path} for model "
                                                f"{spec.name!r}"))
