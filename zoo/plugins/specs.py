"""Cheap, import-free descriptions of models, datasets and suites.

Plugins register these from their registration hooks. A spec names its implementation by
import path (``"package.module:Attribute"``), which is imported only when the thing is built,
so listing every model of every installed plugin never imports torch.
"""

from __future__ import annotations

import importlib
import math
import re
import types
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from types import MappingProxyType
from typing import Any, Union, get_args, get_origin

from zoo.errors import ZooError, describe, unknown_name_message

TASKS = ("classify", "regress", "detect", "generate")
MODALITIES = ("tabular", "image", "text", "timeseries")
MODEL_KINDS = ("backbone", "method")
LEADERBOARD_COLUMNS = ("dataset", "setting")
BUDGET_NAMES = ("smoke", "quick", "full")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class SpecError(ValueError):
    """A spec that does not describe a valid model, dataset or suite."""


def import_object(path: str) -> Any:
    """Import ``"package.module:Attribute"`` and return the attribute."""
    module_name, _, attribute = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


def import_implementation(kind: str, name: str, plugin: str, path: str) -> Any:
    """:func:`import_object` of the implementation ``path`` of the ``kind`` ``name``.

    Raises:
        ZooError: The import failed: one line naming the spec, its plugin, the path and why.
    """
    try:
        return import_object(path)
    except Exception as exc:  # importing runs the plugin's module: anything may go wrong
        raise ZooError(f"{_owner(kind, name, plugin)}: cannot import its implementation "
                       f"{path!r} ({describe(exc)})") from None


def _owner(kind: str, name: str, plugin: str) -> str:
    """``model 'vae' of plugin 'zoo-vae'`` (without the plugin for a spec not registered)."""
    return f"{kind} {name!r}" + (f" of plugin {plugin!r}" if plugin else "")


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType({k: _frozen(v) if isinstance(v, Mapping) else v
                             for k, v in mapping.items()})


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(f"{kind} name {name!r} must be lower-case letters, digits, '-', '.', '_'")


def _check_choices(kind: str, name: str, field_name: str, values: tuple[str, ...],
                   valid: tuple[str, ...]) -> None:
    if not values:
        raise SpecError(f"{kind} {name!r}: {field_name} is empty; valid: {', '.join(valid)}")
    bad = [v for v in values if v not in valid]
    if bad:
        raise SpecError(f"{kind} {name!r}: unknown {field_name} {', '.join(map(repr, bad))}; "
                        f"valid: {', '.join(valid)}")


def _check_import_path(kind: str, name: str, field_name: str, path: str | None) -> None:
    if path is not None and (not isinstance(path, str) or not _IMPORT_PATH.match(path)):
        raise SpecError(f"{kind} {name!r}: {field_name} {path!r} is not 'package.module:Name'")


# -- hyperparameters ---------------------------------------------------------------------------
#: The types a hyperparameter (or each item of a tuple-valued one) may have.
SCALAR_TYPES = (bool, int, float, str)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"none", "null"}


def _members(annotation: Any) -> tuple[Any, ...]:
    """The options of a union (``int | None`` -> ``(int, NoneType)``), else ``(annotation,)``."""
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def _coerce(value: Any, annotation: Any) -> Any:
    """``value`` (a ``--set`` string, a YAML or a Python value) as ``annotation``, one of the
    types :class:`HParam` takes; ``ValueError`` when it is not one."""
    options = _members(annotation)
    if len(options) > 1:
        if type(None) in options and (value is None or str(value).lower() in _NONE):
            return None
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce(value, option)
            except (TypeError, ValueError):
                continue
        raise ValueError(value)
    if get_origin(annotation) is tuple:
        items = value.split(",") if isinstance(value, str) else value
        items = items if isinstance(items, list | tuple) else [items]
        return tuple(_coerce(item, get_args(annotation)[0]) for item in items)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ValueError(value)
    if isinstance(value, bool):  # an int to Python, never a number to a user
        raise ValueError(value)
    if annotation is int:
        return value if isinstance(value, int) else int(str(value), 10)
    if annotation is float:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    if not isinstance(value, str):
        raise ValueError(value)
    return value


def format_value(value: Any) -> str:
    """A value as ``--set`` takes it: ``256,128``, ``true``, ``none``, ``0.001``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(format_value(item) for item in value)
    return str(value)


@dataclass(frozen=True)
class HParam:
    """One hyperparameter of a model, declared as data (cheap: no import).

    ``zoo train --set`` and YAML values are checked against it before a run starts,
    ``zoo models NAME`` shows it, and tuners read it as their search space.

    Args:
        name: The ``__init__`` argument it sets.
        type: ``int``, ``float``, ``bool`` or ``str``; ``tuple[int, ...]`` (one or more items:
            ``--set hidden=128,64``) or ``tuple[float, float]`` (exactly that many);
            ``T | None`` when ``None`` is valid (``help`` says what it means); ``float | str``
            for a number or one of ``choices``.
        default: The value the model takes when nothing sets it (its ``__init__`` default).
        help: One line for ``zoo models NAME``.
        low: Smallest valid number (of each item of a tuple); ``None``: unbounded.
        high: Largest valid number (of each item of a tuple); ``None``: unbounded.
        low_inclusive: Whether ``low`` itself is valid (``lr``: ``low=0`` exclusive, ``> 0``).
        high_inclusive: Whether ``high`` itself is valid (``dropout``: ``[0, 1)``).
        choices: The valid strings; empty: any string.
        search: What a tuner explores, inside the valid values; ``None``: nothing (the
            hyperparameter keeps its default). Numbers: a ``(low, high)`` range (of each item
            of a tuple, whose length the default gives); strings and booleans: the values
            to try.
        log: Sample the ``search`` range on a log scale (learning rates, widths).
    """

    name: str
    type: Any
    default: Any
    _: KW_ONLY
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    choices: tuple[str, ...] = ()
    search: tuple[Any, ...] | None = None
    log: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.search is not None:
            object.__setattr__(self, "search", tuple(self.search))
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise SpecError(f"hyperparameter name {self.name!r} must be a Python identifier")
        self._check_type()
        self._check_range()
        self._check_search()
        try:
            self.parse(self.default)
        except ZooError as exc:
            raise SpecError(f"hyperparameter {exc}: its default is not valid") from None

    # -- the declared type -----------------------------------------------------------------------
    @property
    def nullable(self) -> bool:
        """Whether ``None`` is a valid value."""
        return type(None) in _members(self.type)

    @property
    def sequence(self) -> bool:
        """Whether the value is a tuple (``hidden=128,64``)."""
        return any(get_origin(option) is tuple for option in _members(self.type))

    @property
    def length(self) -> int | None:
        """The number of items of a fixed-length tuple; ``None`` for any other type."""
        for option in _members(self.type):
            if get_origin(option) is tuple and ... not in get_args(option):
                return len(get_args(option))
        return None

    @property
    def item_types(self) -> tuple[type, ...]:
        """The scalar types of the value (of each item of a tuple), ``None`` left out."""
        found: dict[type, None] = {}  # ordered, without repeats
        for option in _members(self.type):
            for item in get_args(option) if get_origin(option) is tuple else (option,):
                if item not in (..., type(None)):
                    found[item] = None
        return tuple(found)

    @property
    def numeric(self) -> bool:
        return any(t in (int, float) for t in self.item_types)

    def _check_type(self) -> None:
        options = [o for o in _members(self.type) if o is not type(None)]
        tuples = [o for o in options if get_origin(o) is tuple]
        supported = (self.item_types and set(self.item_types) <= set(SCALAR_TYPES)
                     and (not tuples or len(options) == 1)
                     and all(len(set(get_args(t)) - {...}) == 1 for t in tuples))
        if not supported:
            raise SpecError(f"hyperparameter {self.name!r}: type {self.type!r} is not one of "
                            "int, float, bool, str, tuple[T, ...], tuple[T, T], T | None, "
                            "float | str")
        if self.choices and str not in self.item_types:
            raise SpecError(f"hyperparameter {self.name!r}: choices need type str")

    def _check_range(self) -> None:
        if (self.low is not None or self.high is not None) and not self.numeric:
            raise SpecError(f"hyperparameter {self.name!r}: low and high need a number type")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise SpecError(f"hyperparameter {self.name!r}: low={self.low} > high={self.high}")

    def _check_search(self) -> None:
        if self.search is None:
            if self.log:
                raise SpecError(f"hyperparameter {self.name!r}: log needs a search range")
            return
        if self.numeric:
            valid = (len(self.search) == 2 and self.search[0] < self.search[1]
                     and all(self._in_range(bound) for bound in self.search)
                     and (not self.log or self.search[0] > 0))
            if not valid:
                raise SpecError(f"hyperparameter {self.name!r}: search={self.search} must be "
                                f"(low, high), low < high, within {self.valid_range()}"
                                f"{', low > 0 (log)' if self.log else ''}")
            return
        values = self._values()
        if self.log or not self.search or not set(self.search) <= set(values):
            raise SpecError(f"hyperparameter {self.name!r}: search={self.search} must be some "
                            f"of {', '.join(map(format_value, values)) or '(no choices)'}")

    def _values(self) -> tuple[Any, ...]:
        """Every valid value of a type without numbers: the choices, or false and true."""
        return self.choices or ((False, True) if bool in self.item_types else ())

    # -- checking values -------------------------------------------------------------------------
    def parse(self, value: Any, where: str = "") -> Any:
        """``value`` (a string from ``--set``, a YAML or a Python value) as the declared type.

        Args:
            value: The value to check.
            where: What the message names first (``"model 'mlp'"``).

        Raises:
            ZooError: One line naming the key, the value and the valid values
                (``model 'mlp': dropout=1.5 must be a number in [0, 1)``).
        """
        try:
            parsed = _coerce(value, self.type)
        except (TypeError, ValueError):
            shown = repr(value) if isinstance(value, str) else format_value(value)
            raise self._refusal(shown, where) from None
        if parsed is not None and not self._valid(parsed):
            raise self._refusal(format_value(parsed), where)
        return parsed

    def _refusal(self, shown: str, where: str) -> ZooError:
        prefix = f"{where}: " if where else ""
        return ZooError(f"{prefix}{self.name}={shown} must be {self.describe()}")

    def _valid(self, value: Any) -> bool:
        items = value if self.sequence else (value,)
        if self.sequence and (not items or self.length not in (None, len(items))):
            return False
        return all(self._valid_item(item) for item in items)

    def _valid_item(self, item: Any) -> bool:
        if isinstance(item, str):
            return not self.choices or item in self.choices
        return isinstance(item, bool) or self._in_range(item)

    def _in_range(self, number: float) -> bool:
        above = self.low is None or (number >= self.low if self.low_inclusive
                                     else number > self.low)
        below = self.high is None or (number <= self.high if self.high_inclusive
                                      else number < self.high)
        return above and below

    # -- describing it ---------------------------------------------------------------------------
    def type_name(self) -> str:
        """The type as ``zoo models NAME`` shows it: ``int,...``, ``float | none``."""
        text = " | ".join(t.__name__ for t in self.item_types)
        if self.sequence:
            text = f"{text},..." if self.length is None else ",".join([text] * self.length)
        return f"{text} | none" if self.nullable else text

    def valid_range(self) -> str:
        """The valid values, short: ``[0, 1)``, ``>= 1``, ``relu, gelu``, ``any``."""
        parts = []
        if self.numeric:
            parts.append(self._bounds() or "any")
        if self.choices:
            parts.append(", ".join(self.choices))
        elif str in self.item_types:
            parts.append("any string")
        if bool in self.item_types:
            parts.append("true, false")
        return " or ".join(parts)

    def describe(self) -> str:
        """The valid values in words: ``a number in [0, 1)``, ``none or an integer >= 1``."""
        bounds = self._bounds()
        words = []
        if self.numeric:
            integers = float not in self.item_types
            if not self.sequence:
                words.append(f"{'an integer' if integers else 'a number'} {bounds}".strip())
            else:
                count = "one or more" if self.length is None else str(self.length)
                each = f", each {bounds}" if bounds else ""
                words.append(f"{count} comma-separated {'integers' if integers else 'numbers'}"
                             f"{each}")
        if self.choices:
            words.append(f"one of {', '.join(self.choices)}")
        elif str in self.item_types:
            words.append("a string")
        if bool in self.item_types:
            words.append("true or false")
        return f"{'none or ' if self.nullable else ''}{' or '.join(words)}"

    def _bounds(self) -> str:
        low, high = format_value(self.low), format_value(self.high)
        if self.low is not None and self.high is not None:
            return (f"in {'[' if self.low_inclusive else '('}{low}, "
                    f"{high}{']' if self.high_inclusive else ')'}")
        if self.low is not None:
            return f"{'>=' if self.low_inclusive else '>'} {low}"
        if self.high is not None:
            return f"{'<=' if self.high_inclusive else '<'} {high}"
        return ""

    def search_text(self) -> str:
        """The search space as ``zoo models NAME`` shows it: ``[1e-05, 0.1] log``, ``adam,
        adamw``, ``all`` (every valid value), ``-`` (not searched)."""
        if self.search is None:
            return "-"
        if self.numeric:
            return f"[{self.search[0]}, {self.search[1]}]{' log' if self.log else ''}"
        if set(self.search) == set(self._values()):
            return "all"
        return ", ".join(map(format_value, self.search))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type_name(), "default": _plain(self.default),
                "help": self.help, "low": self.low, "high": self.high,
                "low_inclusive": self.low_inclusive, "high_inclusive": self.high_inclusive,
                "choices": list(self.choices), "valid": self.describe(),
                "search": _plain(self.search), "log": self.log}


def _plain(value: Any) -> Any:
    """Tuples as lists, for JSON."""
    return [_plain(item) for item in value] if isinstance(value, tuple) else value


# -- hyperparameters the core's bases and the backbone families share -------------------------
# Plugins declare these with their own defaults: ``replace(LR, default=2e-3)``.

#: Optimisers by name (:func:`zoo.training.build_optimizer`).
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")

BACKBONE = HParam("backbone", str, "mlp",
                  help="Backbone (by name) that builds the networks; default: per modality")
OPTIMIZER = HParam("optimizer", str, "adam", choices=OPTIMIZERS,
                   search=("adam", "adamw", "rmsprop", "nesterov"), help="Optimiser by name")
LR = HParam("lr", float, 1e-3, low=0, low_inclusive=False, search=(1e-5, 1e-1), log=True,
            help="Learning rate")
LR_SCHEDULE = HParam("lr_schedule", str, "constant", choices=("constant", "cosine"),
                     search=("constant", "cosine"),
                     help="constant, or cosine: a warmup, then a decay to a tenth of lr")
LR_MILESTONE = HParam("lr_milestone", int, 0, low=0,
                      help="Epoch from which the learning rate is a tenth of lr (0: constant)")
WEIGHT_DECAY = HParam("weight_decay", float, 0.0, low=0, search=(1e-6, 1e-1), log=True,
                      help="L2 penalty (decoupled for adamw)")
BATCH_SIZE = HParam("batch_size", int, 64, low=1, search=(16, 512), log=True,
                    help="Samples per mini-batch")
MIXUP = HParam("mixup", float, 0.0, low=0, search=(0.0, 0.4),
               help="Mixup alpha for classification (0: off)")
GRAD_CLIP = HParam("grad_clip", float, 1.0, low=0, search=(0.1, 5.0),
                   help="Largest gradient norm (0: no clipping)")
HIDDEN = HParam("hidden", tuple[int, ...], (256, 256), low=1, search=(16, 512), log=True,
                help="Width (channels for cnn) of each hidden layer")
DROPOUT = HParam("dropout", float, 0.0, low=0, high=1, high_inclusive=False, search=(0.0, 0.5),
                 help="Dropout probability after each hidden layer")
BATCH_NORM = HParam("batch_norm", bool, True, search=(False, True),
                    help="Batch normalisation in each hidden layer")
ACTIVATION = HParam("activation", str, "relu", choices=("relu", "gelu", "tanh", "leaky_relu"),
                    search=("relu", "gelu", "tanh", "leaky_relu"), help="Hidden activation")
BIAS = HParam("bias", bool, True, help="Bias terms in every layer")


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Args:
        name: Unique, stable registry name (``"vae"``, ``"deep-svdd"``).
        kind: ``"backbone"`` (an architecture family that builds encoders and decoders and is
            also a supervised model on its own) or ``"method"`` (a paradigm that takes a backbone).
        tasks: What the trained model does: ``classify``, ``regress``, ``detect``, ``generate``.
        modalities: Data it accepts: ``tabular``, ``image``, ``text``, ``timeseries``.
        implementation: Import path of the model class, built with
            ``cls(data_info=..., **hparams)``.
        defaults: Default hyperparameters per modality (``{"image": {"hidden": 256}}``); the key
            ``"*"`` applies to every modality, and a method's ``"image[cnn]"`` only to images
            on the ``cnn`` backbone (the more specific key wins).
        builder: ``kind="backbone"`` only: import path of the :class:`zoo.models.backbones.Backbone`
            that builds encoders and decoders for methods.
        default_backbones: ``kind="method"`` only: backbone name per modality.
        hparams: Every hyperparameter the implementation's ``__init__`` takes (all but
            ``data_info``), declared: ``--set`` values and ``defaults`` are checked against
            it, ``zoo models NAME`` shows it, tuners search it. A method that takes a
            backbone declares ``backbone`` (:data:`BACKBONE`).
        recipes: Hyperparameters a suite gives the model per budget, keyed
            ``"suite/budget"`` (``{"text-gen/quick": {"layers": 4}}``): the model's own
            sizes for a benchmark, checked against ``hparams`` like ``defaults``.
        paper: Link to the paper the model follows.
        summary: One line for ``zoo models``.
        plugin: Filled in by the registry: the plugin that registered the spec.
    """

    name: str
    kind: str
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]
    implementation: str
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    builder: str | None = None
    default_backbones: Mapping[str, str] = field(default_factory=dict)
    hparams: tuple[HParam, ...] = ()
    recipes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    paper: str = ""
    summary: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "defaults", _frozen(self.defaults))
        object.__setattr__(self, "default_backbones", _frozen(self.default_backbones))
        object.__setattr__(self, "recipes", _frozen(self.recipes))
        object.__setattr__(self, "hparams", tuple(self.hparams))
        _check_name("model", self.name)
        if self.kind not in MODEL_KINDS:
            raise SpecError(f"model {self.name!r}: kind {self.kind!r} is not one of "
                            f"{', '.join(MODEL_KINDS)}")
        _check_choices("model", self.name, "tasks", self.tasks, TASKS)
        _check_choices("model", self.name, "modalities", self.modalities, MODALITIES)
        _check_import_path("model", self.name, "implementation", self.implementation)
        _check_import_path("model", self.name, "builder", self.builder)
        if self.kind == "backbone" and self.default_backbones:
            raise SpecError(f"model {self.name!r}: a backbone has no default_backbones")
        unknown = {key for key in self.defaults
                   if key != "*" and key.partition("[")[0] not in self.modalities}
        if unknown:
            raise SpecError(f"model {self.name!r}: defaults for undeclared modalities "
                            f"{sorted(unknown)}")
        self._check_hparams()

    def _check_hparams(self) -> None:
        if not all(isinstance(h, HParam) for h in self.hparams):
            raise SpecError(f"model {self.name!r}: hparams must be HParam declarations")
        names = [h.name for h in self.hparams]
        if len(set(names)) != len(names):
            raise SpecError(f"model {self.name!r}: hyperparameters declared twice: "
                            f"{sorted({n for n in names if names.count(n) > 1})}")
        if "backbone" in names and self.kind == "backbone":
            raise SpecError(f"model {self.name!r}: a backbone takes no backbone")
        if self.default_backbones and "backbone" not in names:
            raise SpecError(f"model {self.name!r}: default_backbones need a declared "
                            "'backbone' hyperparameter")
        for field_name, table in (("defaults", self.defaults), ("recipes", self.recipes)):
            for key, values in table.items():
                for name, value in values.items():
                    try:
                        self.hparam(name).parse(value)
                    except ZooError as exc:
                        raise SpecError(f"model {self.name!r}: {field_name}[{key!r}]: "
                                        f"{exc}") from None

    def hparam(self, name: str) -> HParam:
        """The declaration of one hyperparameter; an unknown name is a one-line
        :class:`ZooError` listing the close matches and the valid names."""
        for declared in self.hparams:
            if declared.name == name:
                return declared
        if name == "backbone":
            raise ZooError(f"model {self.name!r} takes no backbone (it is not a method on "
                           f"one: use {self.name!r}, without [BACKBONE] or --backbone)")
        raise ZooError(unknown_name_message("hyperparameter", name,
                                            [h.name for h in self.hparams],
                                            f" for model {self.name!r}"))

    def backbone_for(self, modality: str, backbone: str | None = None) -> str | None:
        """The backbone a method runs on for ``modality``: ``backbone`` when given, else its
        default for the modality; ``None`` for a model that takes no backbone."""
        if not any(h.name == "backbone" for h in self.hparams):
            return None
        return backbone or self.default_backbones.get(modality)

    def recipe(self, suite: str, budget: str) -> dict[str, Any]:
        """The hyperparameters ``suite`` gives this model at ``budget`` (empty: the
        defaults)."""
        return dict(self.recipes.get(f"{suite}/{budget}", {}))

    def defaults_for(self, modality: str, backbone: str | None = None) -> dict[str, Any]:
        """Default hyperparameters for one modality and backbone: ``"*"``, then the
        modality's, then ``"modality[backbone]"``'s."""
        return {**self.defaults.get("*", {}), **self.defaults.get(modality, {}),
                **self.defaults.get(f"{modality}[{backbone}]", {})}

    def load(self) -> Any:
        """Import and return the implementation class (:func:`import_implementation`)."""
        return import_implementation("model", self.name, self.plugin, self.implementation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "tasks": list(self.tasks),
            "modalities": list(self.modalities), "plugin": self.plugin,
            "summary": self.summary, "paper": self.paper,
            "implementation": self.implementation,
            "default_backbones": dict(self.default_backbones),
            "hparams": [h.to_dict() for h in self.hparams],
            "defaults": {key: {name: _plain(value) for name, value in values.items()}
                         for key, values in self.defaults.items()},
        }


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, found under ``ZOO_DATA_DIR`` or fetched from ``url``.

    Args:
        path: Path relative to the data directory (``"mnist/train-images-idx3-ubyte.gz"``).
        url: Canonical public URL to download it from.
        sha256: Expected checksum; a file that does not match is never used.
        size: Size in bytes, for the progress bar and the error message.
    """

    path: str
    url: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Args:
        name: Unique registry name (``"mnist"``, ``"cardio"``).
        modality: ``tabular``, ``image``, ``text`` or ``timeseries``.
        tasks: Tasks the data supports (``classify`` needs class labels, ``detect`` needs
            anomaly labels in the test split).
        loader: Import path of ``loader(files: list[Path], **options) -> zoo.data.Dataset``.
        files: Files the loader reads; empty for embedded data.
        options: Keyword arguments for the loader.
        size: Human-readable size (``"70,000 x 1x28x28"``).
        source: Where the data comes from (citation or URL).
        summary: One line for ``zoo datasets``.
        plugin: Filled in by the registry.
    """

    name: str
    modality: str
    tasks: tuple[str, ...]
    loader: str
    files: tuple[DataFile, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    size: str = ""
    source: str = ""
    summary: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "files", tuple(self.files))
        object.__setattr__(self, "options", _frozen(self.options))
        _check_name("dataset", self.name)
        _check_choices("dataset", self.name, "modality", (self.modality,), MODALITIES)
        _check_choices("dataset", self.name, "tasks", self.tasks, TASKS)
        _check_import_path("dataset", self.name, "loader", self.loader)

    @property
    def embedded(self) -> bool:
        return not self.files

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "modality": self.modality, "tasks": list(self.tasks),
            "size": self.size, "source": self.source, "summary": self.summary,
            "plugin": self.plugin, "embedded": self.embedded,
            "files": [f.path for f in self.files],
        }


@dataclass(frozen=True)
class SuiteSpec:
    """A registered benchmark suite, with the metadata that listing it and printing its
    leaderboard need (so neither imports the suite's implementation, nor torch).

    Args:
        name: Unique registry name (``"supervised"``, ``"tabular-ad"``).
        implementation: Import path of the :class:`zoo.suites.Suite` subclass.
        tasks: Tasks whose models the suite scores.
        modalities: Modalities of its datasets.
        version: Version of the protocol. Bump it whenever a change could move a number:
            leaderboards never mix versions.
        metrics: ``(metric, higher is better)`` pairs; the first is the leaderboard's primary
            metric. At least one.
        floors: Leaderboard metric -> the stored metric holding its floor (what real data
            scores against the test data); shown as an unranked row.
        columns: What the leaderboard's columns are: ``dataset`` (a section per setting) or
            ``setting`` (a section per dataset, a column per setting: image-ad's classes).
        budgets: Names of the budgets ``zoo bench --budget`` accepts; the implementation
            gives each its numbers.
        summary: One line for ``zoo suites``.
        plugin: Filled in by the registry.
    """

    name: str
    implementation: str
    tasks: tuple[str, ...]
    modalities: tuple[str, ...]
    version: str = "1"
    metrics: tuple[tuple[str, bool], ...] = ()
    floors: Mapping[str, str] = field(default_factory=dict)
    columns: str = "dataset"
    budgets: tuple[str, ...] = BUDGET_NAMES
    summary: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "modalities", tuple(self.modalities))
        object.__setattr__(self, "metrics", tuple((str(m), bool(h)) for m, h in self.metrics))
        object.__setattr__(self, "floors", _frozen(self.floors))
        object.__setattr__(self, "budgets", tuple(self.budgets))
        _check_name("suite", self.name)
        _check_choices("suite", self.name, "tasks", self.tasks, TASKS)
        _check_choices("suite", self.name, "modalities", self.modalities, MODALITIES)
        _check_import_path("suite", self.name, "implementation", self.implementation)
        _check_choices("suite", self.name, "columns", (self.columns,), LEADERBOARD_COLUMNS)
        if not self.metrics:
            raise SpecError(f"suite {self.name!r}: metrics is empty; give at least one "
                            "(name, higher_is_better) pair")
        if not self.budgets:
            raise SpecError(f"suite {self.name!r}: budgets is empty")
        unknown = sorted(set(self.floors) - {m for m, _ in self.metrics})
        if unknown:
            raise SpecError(f"suite {self.name!r}: floors for metrics it does not report "
                            f"{unknown}")

    def load(self) -> Any:
        """Import and return the suite class (:func:`import_implementation`).

        Raises:
            ZooError: The class's ``name`` is not this spec's (the suite looks its spec up
                by it).
        """
        cls = import_implementation("suite", self.name, self.plugin, self.implementation)
        built = getattr(cls, "name", None)
        if built != self.name:
            raise ZooError(f"{_owner('suite', self.name, self.plugin)} builds a suite named "
                           f"{built!r} ({self.implementation}); its class must set "
                           f"name = {self.name!r}")
        return cls

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tasks": list(self.tasks),
                "modalities": list(self.modalities), "version": self.version,
                "metrics": [m for m, _ in self.metrics], "budgets": list(self.budgets),
                "summary": self.summary, "plugin": self.plugin}


@dataclass(frozen=True)
class TrackerSpec:
    """A registered experiment tracker, selected by name with ``--tracker`` / ``ZOO_TRACKER``.

    The plugin that registers it is the tracker: its run and trainer hooks
    (:data:`zoo.plugins.TRACKER_HOOKS`) are called only while its tracker is selected.

    Args:
        name: Unique registry name (``"csv"``, ``"wandb"``).
        summary: One line for ``zoo plugins`` and ``--help``.
        plugin: Filled in by the registry.
    """

    name: str
    summary: str = ""
    plugin: str = ""

    def __post_init__(self) -> None:
        _check_name("tracker", self.name)
