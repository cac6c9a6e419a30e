"""The plugin registry: discovers plugins through the `promptdsl` entry-point group and indexes
what their hooks return by name.

Built-ins live in the `promptdsl` distribution and use the very same entry points; setting
PROMPTDSL_DISABLE_PLUGIN_AUTOLOAD=1 loads only those, ignoring third-party packages.
"""
from __future__ import annotations

import importlib.metadata as metadata
import os
from dataclasses import dataclass, field, replace

import pluggy

from . import hookspecs
from .diagnostics import suggestion_hint
from .errors import PluginError

GROUP = "promptdsl"
DISABLE_ENV = "PROMPTDSL_DISABLE_PLUGIN_AUTOLOAD"
OWN_DIST = "promptdsl"

# kind -> hook name; the registry keeps one dict per kind
KINDS = {
    "methods": "promptdsl_methods",
    "verbalizers": "promptdsl_verbalizers",
    "knowledge_sources": "promptdsl_knowledge_sources",
    "data_formats": "promptdsl_data_formats",
    "model_sources": "promptdsl_model_sources",
    "metrics": "promptdsl_metrics",
    "loggers": "promptdsl_loggers",
}


@dataclass
class PluginInfo:
    name: str          # entry-point name or the name given to `register`
    package: str       # distribution name, or "<registered>"
    version: str
    builtin: bool


@dataclass
class Registry:
    methods: dict = field(default_factory=dict)
    verbalizers: dict = field(default_factory=dict)
    knowledge_sources: dict = field(default_factory=dict)
    data_formats: dict = field(default_factory=dict)
    model_sources: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    loggers: dict = field(default_factory=dict)
    plugins: list = field(default_factory=list)

    def format_for(self, path) -> object | None:
        """The data format whose extension matches `path` (longest extension wins), or None."""
        name = str(path).lower()
        best = None
        for spec in self.data_formats.values():
            for ext in spec.extensions:
                if name.endswith(ext.lower()) and (best is None or len(ext) > best[0]):
                    best = (len(ext), spec)
        return best[1] if best else None


_manager: pluggy.PluginManager | None = None
_infos: dict[int, PluginInfo] = {}
_registry: Registry | None = None


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    autoload = not os.environ.get(DISABLE_ENV)
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist is not None else "<unknown>"
        builtin = dist == OWN_DIST
        if not (builtin or autoload):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the tool down
            raise PluginError(f"plugin `{ep.name}` from package `{dist}` failed to load: {exc}") from exc
        if pm.is_registered(plugin):
            continue
        version = ep.dist.version if ep.dist is not None else "?"
        _infos[id(plugin)] = PluginInfo(ep.name, dist, version, builtin)
        _validated(pm, plugin, name=f"{dist}:{ep.name}")
    return pm


def _who(plugin) -> str:
    info = _infos.get(id(plugin))
    if info is None:
        return f"plugin {plugin!r}"
    if info.package == "<registered>":
        return f"plugin `{info.name}`"
    return f"plugin `{info.name}` from package `{info.package}`"


def _validated(pm: pluggy.PluginManager, plugin, name: str | None) -> None:
    """Register `plugin`; a hook implementation pluggy rejects, or one whose name is no
    promptdsl hook (a misspelt `promptdsl_method`, found by `check_pending`), is a PluginError
    naming the plugin, which is then left unregistered."""
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{_who(plugin)}: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        unknown = [hook for hook, caller in vars(pm.hook).items()
                   if not hook.startswith("_") and not caller.has_spec()
                   and any(impl.plugin is exc.plugin for impl in caller.get_hookimpls())]
        pm.unregister(exc.plugin)
        hint = suggestion_hint(unknown[0], KINDS.values(), "the hooks are")
        raise PluginError(f"{_who(exc.plugin)} implements `{unknown[0]}`, which is not a "
                          f"promptdsl hook; {hint}") from exc


def plugin_manager() -> pluggy.PluginManager:
    global _manager
    if _manager is None:
        _manager = _new_manager()
    return _manager


def register(plugin, name: str | None = None) -> None:
    """Register a plugin object or module at run time (tests, notebooks)."""
    global _registry
    pm = plugin_manager()
    _infos[id(plugin)] = PluginInfo(name or getattr(plugin, "__name__", repr(plugin)),
                                   "<registered>", "", False)
    try:
        _validated(pm, plugin, name=name)
    except PluginError:
        _infos.pop(id(plugin), None)
        raise
    _registry = None


def unregister(plugin) -> None:
    global _registry
    plugin_manager().unregister(plugin)
    _infos.pop(id(plugin), None)
    _registry = None


def reset() -> None:
    """Forget everything; the next `get_registry()` discovers plugins again."""
    global _manager, _registry
    _manager, _registry = None, None
    _infos.clear()


def _describe(info: PluginInfo | None) -> str:
    if info is None:
        return "<unknown>"
    return f"{info.package} {info.version}".strip()


def get_registry() -> Registry:
    """The registry of everything the loaded plugins provide (built once, then cached)."""
    global _registry
    if _registry is not None:
        return _registry
    pm = plugin_manager()
    reg = Registry()
    for kind, hook_name in KINDS.items():
        table = getattr(reg, kind)
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            origin = _describe(_infos.get(id(impl.plugin)))
            for spec in impl.function() or []:
                spec = replace(spec, origin=origin)
                if spec.name in table:
                    raise PluginError(
                        f"two plugins define the {kind[:-1].replace('_', ' ')} `{spec.name}`: "
                        f"{table[spec.name].origin} and {origin}")
                table[spec.name] = spec
    seen = set()
    for plugin in pm.get_plugins():
        info = _infos.get(id(plugin))
        if info and id(plugin) not in seen:
            seen.add(id(plugin))
            reg.plugins.append(info)
    reg.plugins.sort(key=lambda i: (not i.builtin, i.package, i.name))
    _registry = reg
    return reg
