"""Plugin discovery, loading and the registries built from plugins' registration hooks.

Plugins come from three places, all registered through :meth:`PluginHost.add`:

1. the core's :data:`DEFAULT_PLUGINS` (built-in datasets, suites, default run hooks);
2. installed distributions' entry points in the ``zoo.plugins`` group;
3. ``*.py`` files in a plugins directory (``zoo --plugins-dir DIR`` or ``ZOO_PLUGINS_DIR``).

Loading is lazy and happens once per process (:func:`get_host`). A plugin that fails to
import, implements an unknown hook, raises in a hook or registers an invalid or duplicate
spec is marked broken with the reason, contributes nothing, and never stops the others.
``ZOO_PLUGINS=a,b`` loads only the named installed plugins; ``ZOO_DISABLE_PLUGINS=x,y``
skips the named ones (built-ins included).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pluggy

from zoo import hookspecs
from zoo.errors import UnknownNameError
from zoo.specs import DatasetSpec, ModelSpec, SuiteSpec

hookimpl = pluggy.HookimplMarker("zoo")

ENTRY_POINT_GROUP = "zoo.plugins"
DEFAULT_PLUGINS: tuple[str, ...] = (
    "zoo._builtin.datasets",
    "zoo._builtin.suites",
    "zoo._builtin.csv_logger",
)
_REGISTRATION_HOOKS = {
    "zoo_register_models": ("models", ModelSpec),
    "zoo_register_datasets": ("datasets", DatasetSpec),
    "zoo_register_suites": ("suites", SuiteSpec),
}
Spec = TypeVar("Spec", ModelSpec, DatasetSpec, SuiteSpec)


@dataclass
class PluginInfo:
    """What ``zoo plugins`` shows for one plugin."""

    name: str
    source: str  # "builtin", "entry-point" or the plugin file's path
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def status(self) -> str:
        return "broken" if self.reason else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "distribution": self.distribution,
                "source": self.source, "hooks": self.hooks, "models": self.models,
                "datasets": self.datasets, "suites": self.suites, "status": self.status,
                "reason": self.reason}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    return f"{type(exc).__name__}: {text}"


def _env_names(value: str | None) -> set[str]:
    return {n.strip() for n in (value or "").split(",") if n.strip()}


class PluginHost:
    """A plugin manager with its plugins' status and the registries they contribute.

    Tests build a fresh host with throwaway plugins instead of installing anything::

        host = PluginHost(entry_points=[], default_plugins=())
        host.add("my-plugin", lambda: my_module)
    """

    def __init__(self, *, entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
                 default_plugins: Iterable[str] = DEFAULT_PLUGINS,
                 plugins_dir: str | Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self.pm = pluggy.PluginManager("zoo")
        self.pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self._registry: dict[str, dict[str, Any]] | None = None
        self._allow = _env_names(env.get("ZOO_PLUGINS"))
        self._deny = _env_names(env.get("ZOO_DISABLE_PLUGINS"))
        for module_name in default_plugins:
            self.add(_builtin_name(module_name), lambda m=module_name: importlib.import_module(m),
                     source="builtin", distribution="zoo", version=_version("zoo"))
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(entry_points, key=lambda ep: ep.name):
            if self._allow and ep.name not in self._allow:
                continue
            dist = getattr(ep, "dist", None)
            self.add(ep.name, ep.load, source="entry-point",
                     distribution=dist.name if dist else None,
                     version=dist.version if dist else None)
        plugins_dir = plugins_dir or env.get("ZOO_PLUGINS_DIR")
        if plugins_dir:
            for path in sorted(Path(plugins_dir).glob("*.py")):
                if not path.name.startswith("_"):
                    self.add(path.stem, lambda p=path: _load_file(p), source=str(path))
        self._check_pending()

    # -- loading -------------------------------------------------------------------------------
    def add(self, name: str, load: Callable[[], object], *, source: str = "builtin",
            distribution: str | None = None, version: str | None = None) -> None:
        """Load one plugin and register it; a failure marks it broken instead of raising."""
        if name in self._deny:
            return
        if name in self._plugins:
            self._plugins[f"{name} ({source})"] = PluginInfo(
                name, source, distribution, version,
                reason=f"a plugin named {name!r} is already loaded from "
                       f"{self._plugins[name].source}")
            return
        info = self._plugins[name] = PluginInfo(name, source, distribution, version)
        try:
            plugin = load()
            self.pm.register(plugin, name=name)
        except Exception as exc:  # a broken plugin must never take the others down
            info.reason = _one_line(exc)
            return
        info.hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or ())

    def _check_pending(self) -> None:
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                self._mark_broken(self.pm.get_name(exc.plugin) or "?", _one_line(exc))

    def _mark_broken(self, name: str, reason: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        info = self._plugins.get(name)
        if info is not None and not info.reason:
            info.reason = reason
        if self._registry is not None:  # a plugin broken late contributes nothing either
            for specs in self._registry.values():
                for key in [k for k, s in specs.items() if s.plugin == name]:
                    del specs[key]
            if info is not None:
                info.models, info.datasets, info.suites = [], [], []

    @property
    def plugins(self) -> dict[str, PluginInfo]:
        """Every plugin by name, with problems found while registering already reported."""
        self.registry  # noqa: B018 - building it is what reveals registration problems
        return self._plugins

    def ok_plugins(self) -> Iterator[tuple[str, object]]:
        for name, info in self._plugins.items():
            if not info.reason:
                yield name, self.pm.get_plugin(name)

    # -- calling hooks in isolation ------------------------------------------------------------
    def call_each(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call every implementation of a hook in pluggy's order, isolating failures.

        An implementation that raises marks its plugin broken (with a warning) and the call
        goes on with the others; the results of the rest are returned.
        """
        results = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                result = impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception as exc:
                reason = f"{hook_name} raised {_one_line(exc)}"
                warnings.warn(f"zoo plugin {impl.plugin_name!r} is broken: {reason}",
                              stacklevel=2)
                self._mark_broken(impl.plugin_name, reason)
                continue
            if result is not None:
                results.append(result)
        return results

    # -- registries ----------------------------------------------------------------------------
    def _build_registry(self) -> dict[str, dict[str, Any]]:
        registry: dict[str, dict[str, Any]] = {kind: {} for kind, _ in
                                               _REGISTRATION_HOOKS.values()}
        for name, plugin in list(self.ok_plugins()):
            try:
                contributed = _registrations(self.pm, name, plugin)
                _check_duplicates(registry, contributed, name)
            except Exception as exc:
                self._mark_broken(name, _one_line(exc))
                continue
            for kind, specs in contributed.items():
                registry[kind].update(specs)
                setattr(self._plugins[name], kind, sorted(specs))
        return registry

    @property
    def registry(self) -> dict[str, dict[str, Any]]:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def models(self) -> dict[str, ModelSpec]:
        return self.registry["models"]

    def datasets(self) -> dict[str, DatasetSpec]:
        return self.registry["datasets"]

    def suites(self) -> dict[str, SuiteSpec]:
        return self.registry["suites"]

    def model(self, name: str) -> ModelSpec:
        return _lookup("model", name, self.models())

    def dataset(self, name: str) -> DatasetSpec:
        return _lookup("dataset", name, self.datasets())

    def suite(self, name: str) -> SuiteSpec:
        return _lookup("suite", name, self.suites())


class _DuplicateName(ValueError):
    pass


def _registrations(pm: pluggy.PluginManager, name: str,
                   plugin: object) -> dict[str, dict[str, Any]]:
    """Call one plugin's registration hooks; return its specs by registry."""
    contributed: dict[str, dict[str, Any]] = {}
    for hook_name, (kind, spec_type) in _REGISTRATION_HOOKS.items():
        specs: dict[str, Any] = contributed.setdefault(kind, {})

        def register(spec: Any, _kind: str = kind, _type: type = spec_type,
                     _specs: dict[str, Any] = specs) -> None:
            if not isinstance(spec, _type):
                raise TypeError(f"register() expects a {_type.__name__}, "
                                f"got {type(spec).__name__}")
            if spec.name in _specs:
                raise _DuplicateName(f"{_kind[:-1]} {spec.name!r} is registered twice")
            _specs[spec.name] = replace(spec, plugin=name)

        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register)
    return contributed


def _check_duplicates(registry: dict[str, dict[str, Any]],
                      contributed: dict[str, dict[str, Any]], name: str) -> None:
    for kind, specs in contributed.items():
        for spec_name in specs:
            if spec_name in registry[kind]:
                owner = registry[kind][spec_name].plugin
                raise _DuplicateName(f"{kind[:-1]} {spec_name!r} is already registered by "
                                     f"plugin {owner!r}")


def _lookup(what: str, name: str, specs: dict[str, Spec]) -> Spec:
    try:
        return specs[name]
    except KeyError:
        raise UnknownNameError(what, name, specs) from None


def _load_file(path: Path) -> ModuleType:
    module_name = f"zoo_plugins_dir.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _builtin_name(module_name: str) -> str:
    """``zoo._builtin.csv_logger`` -> ``builtin-csv-logger``."""
    return "builtin-" + module_name.rsplit(".", 1)[-1].replace("_", "-")


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


_host: PluginHost | None = None
_plugins_dir: str | Path | None = None


def configure(*, plugins_dir: str | Path | None = None) -> None:
    """Set options for the next load (the CLI's ``--plugins-dir``) and forget loaded plugins."""
    global _plugins_dir
    if plugins_dir != _plugins_dir:
        _plugins_dir = plugins_dir
        reset()


def reset() -> None:
    """Forget the loaded plugins; the next :func:`get_host` loads them afresh."""
    global _host
    _host = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use."""
    global _host
    if _host is None:
        _host = PluginHost(plugins_dir=_plugins_dir)
    return _host

