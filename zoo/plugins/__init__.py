"""Plugin discovery, loading and the registries built from plugins' registration hooks.

Plugins come from three places, all registered through :meth:`PluginHost.add`:

1. the core's :data:`DEFAULT_PLUGINS` (built-in datasets, suites, default run hooks);
2. installed distributions' entry points in the ``zoo.plugins`` group;
3. ``*.py`` files in a plugins directory (``zoo --plugins-dir DIR`` or ``ZOO_PLUGINS_DIR``).

Loading is lazy and happens once per process (:func:`get_host`). A plugin that fails to
import, implements an unknown hook or registers an invalid or duplicate spec is marked broken
with the reason, contributes nothing, and never stops the others. One whose hook raises
later, while a command runs, is marked broken and not called again, but what it registered
stays usable until the command ends.

Hooks are called through pluggy's own hook caller, ``host.hook.zoo_run_finished(result=row)``,
so ``tryfirst`` / ``trylast``, ``firstresult``, wrappers and historic hooks behave as pluggy
documents them. Isolation is added where a plugin is registered: pluggy is handed each run
hook wrapped in a function that turns the plugin's own exception into "this plugin is
broken" and a ``None`` result, which pluggy leaves out. Registration hooks are the
exception: the registry builder calls them one plugin at a time (to know who registered
what) and isolates them itself.
``ZOO_PLUGINS=a,b`` loads only the named installed plugins; ``ZOO_DISABLE_PLUGINS=x,y``
skips the named ones (built-ins included).

Owns: this module (the plugin host: discovery, loading, isolation, registries), `hookspecs`
(every hook) and `specs` (the cheap model, dataset and suite specs, hyperparameter
declarations). May import: zoo.errors (a test checks it; imports run downward only).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pluggy

from zoo.errors import UnknownNameError, describe, unknown_name_message
from zoo.plugins import hookspecs
from zoo.plugins.specs import DatasetSpec, ModelSpec, SuiteSpec, TrackerSpec

hookimpl = pluggy.HookimplMarker("zoo")

ENTRY_POINT_GROUP = "zoo.plugins"
DEFAULT_PLUGINS: tuple[str, ...] = (
    "zoo._builtin.datasets",
    "zoo._builtin.suites",
    "zoo._builtin.csv_logger",
    "zoo.tracking.wandb_tracker",
)
#: Hooks of a tracker plugin that are called only while one of its trackers is selected.
TRACKER_HOOKS = frozenset({"zoo_run_started", "zoo_run_finished", "zoo_suite_finished",
                           "zoo_trainer_loggers", "zoo_trainer_callbacks"})
#: The trackers used when neither ``--tracker`` nor ``ZOO_TRACKER`` names any.
DEFAULT_TRACKERS = ("csv",)
_REGISTRATION_HOOKS = {
    "zoo_register_models": ("models", ModelSpec),
    "zoo_register_datasets": ("datasets", DatasetSpec),
    "zoo_register_suites": ("suites", SuiteSpec),
    "zoo_register_trackers": ("trackers", TrackerSpec),
}
Spec = TypeVar("Spec", ModelSpec, DatasetSpec, SuiteSpec, TrackerSpec)


class PluginBrokenWarning(UserWarning):
    """A plugin found broken while a command runs (a hook of it raised); shown on stderr as
    its message alone, in one line (:func:`get_host`)."""


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
    trackers: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def status(self) -> str:
        return "broken" if self.reason else "ok"

    @property
    def origin(self) -> str:
        """Where the plugin comes from, as a reason names it."""
        if self.source == "builtin":
            return "built into zoo"
        if self.source == "entry-point":
            return f"entry point of {self.distribution or 'an unnamed distribution'}"
        return self.source

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "distribution": self.distribution,
                "source": self.source, "hooks": self.hooks, "models": self.models,
                "datasets": self.datasets, "suites": self.suites, "trackers": self.trackers,
                "status": self.status,
                "reason": self.reason}


def _env_names(value: str | None) -> set[str]:
    return set(_env_names_in_order(value))


def _env_names_in_order(value: str | None) -> tuple[str, ...]:
    """``"a, b,,a"`` -> ``("a", "b")``."""
    return tuple(dict.fromkeys(n.strip() for n in (value or "").split(",") if n.strip()))


class PluginHost:
    """A plugin manager with its plugins' status and the registries they contribute.

    Call a hook through pluggy's caller, :attr:`hook`::

        host.hook.zoo_run_finished(result=row)

    Tests build a fresh host with throwaway plugins instead of installing anything::

        host = PluginHost(entry_points=[], default_plugins=())
        host.add("my-plugin", lambda: my_module)
    """

    def __init__(self, *, entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
                 default_plugins: Iterable[str] = DEFAULT_PLUGINS,
                 plugins_dir: str | Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self.pm = _HookManager("zoo")
        self.pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self._registry: dict[str, dict[str, Any]] | None = None
        self._registering: str | None = None
        self._allow = _env_names(env.get("ZOO_PLUGINS"))
        self._deny = _env_names(env.get("ZOO_DISABLE_PLUGINS"))
        self._trackers: tuple[str, ...] | None = None
        self._tracker_env = env.get("ZOO_TRACKER")
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

    @property
    def hook(self) -> _SelectedHooks:
        """The hooks, called through pluggy: ``host.hook.zoo_run_started(run=row)``.

        pluggy orders the implementations, honours ``firstresult``, wrappers and historic
        hooks, and returns what it returns (a list of the non-``None`` results, unless the
        hook is first-result). An implementation that raises marks its plugin broken, with
        a warning, and counts as returning ``None``; the others still run. The
        :data:`TRACKER_HOOKS` of a plugin that registers trackers, none of them selected
        (:meth:`select_trackers`), are left out.
        """
        return _SelectedHooks(self)

    # -- trackers ------------------------------------------------------------------------------
    def select_trackers(self, names: Iterable[str]) -> tuple[str, ...]:
        """Use the trackers ``names`` (``--tracker``) from now on; returns them.

        Raises:
            UnknownNameError: A name no plugin registers, in one line with the valid ones.
        """
        selected = tuple(dict.fromkeys(names))
        if not selected:
            raise UnknownNameError("tracker", "", self.trackers())
        for name in selected:
            self.tracker(name)
        self._trackers = selected
        return selected

    def selected_trackers(self) -> tuple[str, ...]:
        """The trackers in use: :meth:`select_trackers`'s, else ``ZOO_TRACKER``'s, else
        those of :data:`DEFAULT_TRACKERS` that are registered."""
        if self._trackers is None:
            named = _env_names_in_order(self._tracker_env)
            return self.select_trackers(named) if named else tuple(
                name for name in DEFAULT_TRACKERS if name in self.trackers())
        return self._trackers

    def unselected_tracker_plugins(self) -> list[object]:
        """The registered plugins that register trackers, none of them selected."""
        selected = set(self.selected_trackers())
        owners: dict[str, bool] = {}
        for spec in self.trackers().values():
            owners[spec.plugin] = owners.get(spec.plugin, False) or spec.name in selected
        return [plugin for name, used in owners.items() if not used
                if (plugin := self.pm.get_plugin(name)) is not None]

    # -- loading -------------------------------------------------------------------------------
    def add(self, name: str, load: Callable[[], object], *, source: str = "builtin",
            distribution: str | None = None, version: str | None = None) -> None:
        """Load one plugin and register it; a failure marks it broken instead of raising."""
        if name in self._deny:
            return
        info = PluginInfo(name, source, distribution, version)
        if name in self._plugins:
            info.reason = (f"a plugin named {name!r} is already loaded "
                           f"({self._plugins[name].origin}), so this one ({info.origin}) is not")
            self._plugins[f"{name} ({source})"] = info
            return
        self._plugins[name] = info
        try:
            plugin = self._isolated(name, load())
            self._refuse_a_second_registration(plugin)
            self._registering = name
            self.pm.register(plugin, name=name)
        except _RegistrationError as exc:
            info.reason = str(exc)
            return
        # A broken plugin must never take the others down, nor end the command by calling
        # sys.exit() as it loads; KeyboardInterrupt still stops it.
        except (Exception, SystemExit) as exc:
            info.reason = describe(exc)
            return
        finally:
            self._registering = None
        if info.reason:  # a historic hook replayed to it while it was registered raised
            self.pm.unregister(name=name)
            return
        info.hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or ())

    def _refuse_a_second_registration(self, plugin: _IsolatedPlugin) -> None:
        # pluggy refuses an object registered twice; it sees each one's isolated copy instead
        for other, registered in self.pm.list_name_plugin():
            if isinstance(registered, _IsolatedPlugin) and registered.wraps(plugin):
                raise _RegistrationError(f"{plugin!r} is already loaded as plugin {other!r}")

    def _isolated(self, name: str, plugin: object) -> _IsolatedPlugin:
        """What pluggy registers for ``plugin``: its hooks, the run hooks isolated."""
        hooks = {}
        for attr in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            if opts is not None:
                hook_name = opts.get("specname") or attr
                hooks[attr] = (self._isolate(name, hook_name, getattr(plugin, attr), opts), opts)
        return _IsolatedPlugin(plugin, hooks)

    def _isolate(self, name: str, hook_name: str, function: Callable[..., Any],
                 opts: Mapping[str, Any]) -> Callable[..., Any]:
        if hook_name in _REGISTRATION_HOOKS:  # the registry builder isolates these itself
            return function

        def broken(exc: Exception) -> None:
            self._hook_raised(name, hook_name, exc)

        if opts.get("wrapper") or opts.get("hookwrapper"):
            if not inspect.isgeneratorfunction(function):
                return function  # pluggy refuses it, with its own reason, when registering
            return _isolated_wrapper(function, broken)
        return _isolated_call(function, broken)

    def _check_pending(self) -> None:
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                self._mark_broken(self.pm.get_name(exc.plugin) or "?",
                                  self._unknown_hook_message(exc.plugin) or describe(exc))

    def _unknown_hook_message(self, plugin: object) -> str:
        """``unknown hook 'zoo_register_model'; did you mean 'zoo_register_models'? valid:
        ...`` for the first hook of ``plugin`` that no spec declares (``""`` if none)."""
        callers = list(vars(self.pm.hook).values())
        valid = [caller.name for caller in callers if caller.has_spec()]
        for caller in callers:
            if not caller.has_spec() and any(impl.plugin is plugin and not impl.optionalhook
                                             for impl in caller.get_hookimpls()):
                return unknown_name_message("hook", caller.name, valid)
        return ""

    def _hook_raised(self, name: str, hook_name: str, exc: Exception) -> None:
        reason = f"{hook_name} raised {describe(exc)}"
        warnings.warn(f"zoo plugin {name!r} is broken: {reason}", PluginBrokenWarning,
                      stacklevel=2)
        self._mark_broken(name, reason)

    def _mark_broken(self, name: str, reason: str) -> None:
        # While pluggy is still adding a plugin's hooks, add() unregisters it once pluggy is done.
        if name != self._registering and self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        # What it registered before it broke stays: a run or bench already under way goes on
        # with its models, datasets and suites (a hook never stops the command).
        info = self._plugins.get(name)
        if info is not None and not info.reason:
            info.reason = reason

    @property
    def plugins(self) -> dict[str, PluginInfo]:
        """Every plugin by name, with problems found while registering already reported."""
        self.registry  # noqa: B018 - building it is what reveals registration problems
        return self._plugins

    def ok_plugins(self) -> Iterator[tuple[str, object]]:
        for name, info in self._plugins.items():
            if not info.reason:
                yield name, self.pm.get_plugin(name)

    # -- registries ----------------------------------------------------------------------------
    def _build_registry(self) -> dict[str, dict[str, Any]]:
        registry: dict[str, dict[str, Any]] = {kind: {} for kind, _ in
                                               _REGISTRATION_HOOKS.values()}
        for name, plugin in list(self.ok_plugins()):
            try:
                contributed = _registrations(self.pm, name, plugin)
                self._check_duplicates(registry, contributed, name)
            except _RegistrationError as exc:  # zoo's own sentence, naming what is wrong
                self._mark_broken(name, str(exc))
                continue
            except Exception as exc:
                self._mark_broken(name, describe(exc))
                continue
            for kind, specs in contributed.items():
                registry[kind].update(specs)
                setattr(self._plugins[name], kind, sorted(specs))
        return registry

    def _check_duplicates(self, registry: dict[str, dict[str, Any]],
                          contributed: dict[str, dict[str, Any]], name: str) -> None:
        for kind, specs in contributed.items():
            for spec_name in specs:
                if spec_name in registry[kind]:
                    owner = registry[kind][spec_name].plugin
                    raise _RegistrationError(
                        f"{kind[:-1]} {spec_name!r} is already registered by plugin {owner!r} "
                        f"({self._plugins[owner].origin}), so plugin {name!r} "
                        f"({self._plugins[name].origin}) cannot register it again")

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

    def trackers(self) -> dict[str, TrackerSpec]:
        return self.registry["trackers"]

    def tracker(self, name: str) -> TrackerSpec:
        return _lookup("tracker", name, self.trackers())


class _SelectedHooks:
    """pluggy's hook relay, less the tracker hooks of trackers not selected."""

    def __init__(self, host: PluginHost) -> None:
        self._host = host

    def __getattr__(self, name: str) -> Any:
        caller = getattr(self._host.pm.hook, name)
        if name not in TRACKER_HOOKS:
            return caller
        unselected = self._host.unselected_tracker_plugins()
        return self._host.pm.subset_hook_caller(name, unselected) if unselected else caller


class _IsolatedPlugin:
    """What pluggy registers for one plugin: its hook functions, as :class:`PluginHost` made
    them, with their hookimpl options (read back by :class:`_HookManager`)."""

    def __init__(self, plugin: object,
                 hooks: dict[str, tuple[Callable[..., Any], pluggy.HookimplOpts]]) -> None:
        self._zoo_plugin = plugin
        self._zoo_options = {attr: opts for attr, (_, opts) in hooks.items()}
        vars(self).update({attr: function for attr, (function, _) in hooks.items()})

    def wraps(self, other: _IsolatedPlugin) -> bool:
        """Whether both isolate the same plugin object."""
        return self._zoo_plugin is other._zoo_plugin

    def hook_options(self, attr: str) -> pluggy.HookimplOpts | None:
        return self._zoo_options.get(attr)

    def __repr__(self) -> str:  # pluggy's messages name the plugin as its author wrote it
        return repr(self._zoo_plugin)


class _HookManager(pluggy.PluginManager):
    """pluggy's manager, taking an isolated plugin's hook options from the original plugin."""

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        if isinstance(plugin, _IsolatedPlugin):
            return plugin.hook_options(name)
        return super().parse_hookimpl_opts(plugin, name)


def _isolated_call(function: Callable[..., Any],
                   broken: Callable[[Exception], None]) -> Callable[..., Any]:
    """``function``, with an exception it raises handed to ``broken`` and turned into None."""

    @functools.wraps(function)  # pluggy reads the argument names through __wrapped__
    def isolated(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            broken(exc)
            return None  # pluggy leaves None out of the results, and goes on under firstresult

    return isolated


def _isolated_wrapper(function: Callable[..., Generator[Any, Any, Any]],
                      broken: Callable[[Exception], None]) -> Callable[..., Any]:
    """A hook wrapper (new or old style) with an exception of its own handed to ``broken``.

    The wrapper's generator is driven as pluggy drives it. When it raises, or does not yield
    exactly once, the call goes on as if it were not there: the result it got stands.
    """

    @functools.wraps(function)
    def isolated(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
        teardown = function(*args, **kwargs)
        try:
            next(teardown)
        except StopIteration:
            broken(RuntimeError("the wrapper did not yield"))
            return (yield)
        except Exception as exc:
            broken(exc)
            return (yield)
        try:
            outcome = yield
        except BaseException as exc:  # only what isolation lets through: KeyboardInterrupt ...
            try:
                teardown.throw(exc)
            except StopIteration as stop:
                return stop.value  # the wrapper turned the error into a result, as pluggy allows
            raise
        try:
            teardown.send(outcome)
        except StopIteration as stop:
            return stop.value  # a new-style wrapper's result; pluggy ignores an old-style one's
        except Exception as exc:
            broken(exc)
            return outcome
        teardown.close()
        broken(RuntimeError("the wrapper yielded twice"))
        return outcome

    return isolated


class _RegistrationError(Exception):
    """A registration zoo refuses; its message is the plain sentence ``zoo plugins`` shows."""


def _registrations(pm: pluggy.PluginManager, name: str,
                   plugin: object) -> dict[str, dict[str, Any]]:
    """Call one plugin's registration hooks; return its specs by registry."""
    contributed: dict[str, dict[str, Any]] = {}
    for hook_name, (kind, spec_type) in _REGISTRATION_HOOKS.items():
        specs: dict[str, Any] = contributed.setdefault(kind, {})

        def register(spec: Any, _kind: str = kind, _type: type = spec_type,
                     _specs: dict[str, Any] = specs, _hook: str = hook_name) -> None:
            if not isinstance(spec, _type):
                raise _RegistrationError(f"plugin {name!r} passed a {type(spec).__name__} to "
                                         f"register() in {_hook}; it takes a {_type.__name__}")
            if spec.name in _specs:
                raise _RegistrationError(f"plugin {name!r} registers {_kind[:-1]} "
                                         f"{spec.name!r} twice")
            _specs[spec.name] = replace(spec, plugin=name)

        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register)
    return contributed


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
    # The CLI passes the same folder twice, as text before parsing and as a Path after;
    # loading the plugins twice would lose what happened to them the first time.
    plugins_dir = Path(plugins_dir) if plugins_dir is not None else None
    if plugins_dir != _plugins_dir:
        _plugins_dir = plugins_dir
        reset()


def configured_plugins_dir() -> Path | None:
    """The plugins directory :func:`configure` set (``--plugins-dir``), if any: a worker
    process of an executor loads the same plugins from it."""
    return Path(_plugins_dir) if _plugins_dir is not None else None


def reset() -> None:
    """Forget the loaded plugins; the next :func:`get_host` loads them afresh."""
    global _host
    _host = None


def get_host() -> PluginHost:
    """The process-wide plugin host, loaded on first use; from then on a
    :class:`PluginBrokenWarning` is shown as its one line."""
    global _host
    if _host is None:
        _show_broken_plugins_in_one_line()
        _host = PluginHost(plugins_dir=_plugins_dir)
    return _host


def _show_broken_plugins_in_one_line() -> None:
    """Show a :class:`PluginBrokenWarning` on stderr as its message alone, as docs/hooks.md
    promises, instead of Python's file, line, category and source line; other warnings as
    before. Recording warnings (``pytest.warns``) replaces this while it records."""
    shown = warnings.showwarning
    if getattr(shown, "zoo_one_line", False):
        return

    def showwarning(message: Warning | str, category: type[Warning], filename: str,
                    lineno: int, file: Any = None, line: str | None = None) -> None:
        if not issubclass(category, PluginBrokenWarning):
            shown(message, category, filename, lineno, file, line)
            return
        with suppress(OSError):  # stderr closed: the warning is lost, as Python's own would be
            (file or sys.stderr).write(f"{message}\n")

    showwarning.zoo_one_line = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning

