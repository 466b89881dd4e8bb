"""Plugins: named bundles of middleware and subscribers, installed and removed as one.

A plugin is any object with a ``name`` and an ``install(registry, config)``
method (:class:`Plugin`). It installs into a :class:`PluginRegistry`, which
tags every middleware registration with the plugin's name and tracks its
event subscriptions, so :meth:`PluginManager.uninstall` can take all of it
away again. Two optional attributes are looked up on the plugin:

- ``config_type``: an attrs class; the config table is structured into it
  with actrio's converter before ``install``, so unknown keys and bad values
  are reported with the path of the key.
- ``uninstall()``: called when the plugin is uninstalled, before its
  middleware and subscriptions are removed.

Plugins are activated from TOML::

    [[plugins]]
    name = "redact"          # required
    enabled = true           # optional, default true
    [plugins.config]         # optional, handed to the plugin
    level = "strict"

and found by name in a mapping the caller passes, or among the entry points
of the ``actrio.plugins`` group (:func:`discover_plugins`). Nothing here is
module-level state: a :class:`PluginManager` belongs to one runtime.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import cattrs
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.v import format_exception

from actrio._wire import converter
from actrio.kernel import UsageError
from actrio.middleware._exceptions import PluginConfigError, PluginError

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from actrio.kernel import Event, Subscription
    from actrio.middleware._registry import MiddlewareRegistry, Registration, Stage

__all__ = ("PLUGIN_GROUP", "Plugin", "PluginManager", "PluginRegistry", "discover_plugins")

PLUGIN_GROUP = "actrio.plugins"
"""The entry-point group :func:`discover_plugins` reads by default."""

_ENTRY_KEYS = ("config", "enabled", "name")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@runtime_checkable
class Plugin(Protocol):
    """What a plugin provides.

    Optional attributes, looked up with ``getattr``: ``config_type`` (an
    attrs class the config is structured into before :meth:`install`) and
    ``uninstall()`` (called on uninstall, before cleanup).

    Attributes:
        name: The plugin's name, unique among the installed plugins.
    """

    name: str

    def install(self, registry: PluginRegistry, config: Any) -> None:
        """Register the plugin's middleware and subscribers.

        Args:
            registry: Where to register; everything registered here is removed
                again when the plugin is uninstalled.
            config: An instance of ``config_type`` if the plugin declares
                one, else the config table as a dict (empty by default).
        """


class PluginRegistry:
    """What one plugin installs into; it remembers what to remove on uninstall.

    Args:
        middleware: The runtime's middleware registry.
        subscribe: The system's ``subscribe`` (see ``ActorSystem.subscribe``).
        owner: The plugin's name, recorded as the owner of its registrations.
    """

    def __init__(
        self,
        middleware: MiddlewareRegistry,
        subscribe: Callable[..., Subscription],
        owner: str,
    ) -> None:
        self._middleware = middleware
        self._subscribe = subscribe
        self._owner = owner
        self._subscriptions: list[Subscription] = []
        self._closed = False

    @property
    def plugin(self) -> str:
        """The name of the plugin this registry belongs to."""
        return self._owner

    def register(
        self, stage: Stage, name: str, priority: int, fn: Callable[..., Any]
    ) -> Registration:
        """Register middleware owned by the plugin (see ``MiddlewareRegistry.register``).

        Raises:
            UsageError: For a bad argument, or once the plugin is uninstalled.
        """
        self._check_open()
        return self._middleware.register(stage, name, priority, fn, owner=self._owner)

    def subscribe(
        self, handler: Callable[[Event], Awaitable[None] | None], **options: Any
    ) -> Subscription:
        """Subscribe ``handler`` to the system's events until the plugin is uninstalled.

        Args:
            handler: Called once per event (see ``ActorSystem.subscribe``).
            **options: The options of ``ActorSystem.subscribe``; ``name``
                defaults to ``plugin:<plugin name>``.

        Raises:
            UsageError: For a bad option, or once the plugin is uninstalled.
        """
        self._check_open()
        options.setdefault("name", f"plugin:{self._owner}")
        subscription = self._subscribe(handler, **options)
        self._subscriptions.append(subscription)
        return subscription

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError(f"plugin {self._owner!r} is uninstalled; it cannot register more")

    def _close(self) -> None:
        """Remove every registration and close every subscription of the plugin."""
        self._closed = True
        self._middleware.remove_owner(self._owner)
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()

    def __repr__(self) -> str:
        return f"<PluginRegistry of {self._owner!r}>"


@attrs.frozen
class _Installed:
    plugin: Plugin
    registry: PluginRegistry


class PluginManager:
    """Installs and uninstalls the plugins of one runtime.

    Args:
        middleware: The runtime's middleware registry.
        subscribe: The system's ``subscribe`` (see ``ActorSystem.subscribe``).
    """

    def __init__(
        self, middleware: MiddlewareRegistry, subscribe: Callable[..., Subscription]
    ) -> None:
        self._middleware = middleware
        self._subscribe = subscribe
        self._installed: dict[str, _Installed] = {}

    def installed(self) -> tuple[str, ...]:
        """The names of the installed plugins, in install order."""
        return tuple(self._installed)

    def install(self, plugin: Plugin, config: Any = None) -> None:
        """Install ``plugin`` with ``config``.

        Args:
            plugin: The plugin.
            config: A mapping (structured into the plugin's ``config_type`` if
                it has one), an instance of ``config_type``, or None for an
                empty table.

        Raises:
            UsageError: If ``plugin`` is not a :class:`Plugin` with a
                non-empty string name.
            PluginConfigError: If ``config`` does not fit; ``where`` names
                the bad key, like ``config.level``.
            PluginError: If a plugin of that name is already installed, or
                its ``install`` raised (the original error is chained, and
                whatever it had registered is removed again).
        """
        _check_plugin(plugin)
        self._refuse_installed(plugin.name)
        self._install(plugin, _prepare_config(plugin, config, "config"))

    def uninstall(self, name: str) -> bool:
        """Uninstall the plugin ``name``; return whether it was installed.

        The plugin's ``uninstall()`` hook runs first; then its middleware and
        subscriptions are removed, even if the hook raised.

        Raises:
            PluginError: If the ``uninstall()`` hook raised (chained); the
                plugin is uninstalled all the same.
        """
        installed = self._installed.pop(name, None)
        if installed is None:
            return False
        hook = getattr(installed.plugin, "uninstall", None)
        try:
            if hook is not None:
                hook()
        except Exception as error:
            raise PluginError(name, f"uninstall() raised {_describe(error)}") from error
        finally:
            installed.registry._close()
        return True

    def activate(
        self,
        source: Path | str | Mapping[str, Any],
        *,
        available: Mapping[str, Plugin | Callable[[], Plugin]] | None = None,
    ) -> tuple[str, ...]:
        """Install the plugins a TOML configuration lists, all or none.

        The whole configuration is checked, and every plugin found and its
        config structured, before anything is installed; if an install then
        fails, the plugins this call installed are uninstalled again.

        Args:
            source: A path to a TOML file, TOML text, or the parsed mapping.
            available: Plugins by name, each a :class:`Plugin` or a zero-arg
                factory of one; by default :func:`discover_plugins`.

        Returns:
            The names installed, in order; disabled entries are skipped (and
            their plugins not looked up).

        Raises:
            PluginConfigError: For invalid TOML, a key outside the schema, a
                bad value or an unknown plugin name; ``where`` is the key's
                path, like ``plugins[1].config.level``.
            PluginError: If a plugin cannot be loaded, is already installed,
                or fails to install.
        """
        entries = _parse_entries(_load_source(source))
        plugins = discover_plugins() if available is None else available
        plan: list[tuple[Plugin, Any]] = []
        for index, name, config in entries:
            plugin = _lookup(plugins, name, index)
            self._refuse_installed(name)
            plan.append((plugin, _prepare_config(plugin, config, f"plugins[{index}].config")))
        done: list[str] = []
        try:
            for plugin, config in plan:
                self._install(plugin, config)
                done.append(plugin.name)
        except BaseException as error:
            self._roll_back(done, error)
            raise
        return tuple(done)

    def _refuse_installed(self, name: str) -> None:
        if name in self._installed:
            raise PluginError(name, "is already installed; uninstall it first")

    def _install(self, plugin: Plugin, config: Any) -> None:
        registry = PluginRegistry(self._middleware, self._subscribe, plugin.name)
        try:
            plugin.install(registry, config)
        except Exception as error:
            registry._close()
            raise PluginError(plugin.name, f"install() raised {_describe(error)}") from error
        except BaseException:
            registry._close()
            raise
        self._installed[plugin.name] = _Installed(plugin, registry)

    def _roll_back(self, names: list[str], error: BaseException) -> None:
        for name in reversed(names):
            try:
                self.uninstall(name)
            except PluginError as hook_error:
                error.add_note(f"while rolling back: {hook_error}")

    def __repr__(self) -> str:
        return f"<PluginManager installed={list(self._installed)}>"


def discover_plugins(group: str = PLUGIN_GROUP) -> dict[str, Callable[[], Plugin]]:
    """Find the plugins installed under an entry-point group.

    Nothing is imported here: each factory loads its entry point when called.
    The entry point's name is the plugin's name; it may refer to a
    :class:`Plugin` instance, or to a class or zero-arg callable making one.

    Args:
        group: The entry-point group.

    Returns:
        A factory per plugin name. A factory raises :class:`PluginError`
        (naming the entry point) if the import or construction fails, if the
        result is not a plugin or has another name, or if two distributions
        define that name differently.
    """
    first: dict[str, EntryPoint] = {}
    factories: dict[str, Callable[[], Plugin]] = {}
    for entry_point in entry_points(group=group):
        seen = first.setdefault(entry_point.name, entry_point)
        if seen is entry_point:
            factories[entry_point.name] = functools.partial(_load_entry_point, entry_point)
        elif seen.value != entry_point.value:
            factories[entry_point.name] = functools.partial(_ambiguous, seen, entry_point)
    return factories


# -- plugins and entry points --


def _check_plugin(plugin: object) -> None:
    if not isinstance(plugin, Plugin) or not callable(plugin.install):
        raise UsageError(
            f"expected a Plugin (a `name` and an `install(registry, config)` method), "
            f"got {type(plugin).__qualname__}"
        )
    if not isinstance(plugin.name, str) or not plugin.name:
        raise UsageError(f"a plugin name must be a non-empty string, not {plugin.name!r}")


def _instantiate(obj: object, name: str, origin: str) -> Plugin:
    """The plugin ``obj`` is or makes; ``origin`` says where it came from, for errors."""
    # A plugin class passes the Protocol check itself (it has `name` and
    # `install`), so classes are always called.
    if isinstance(obj, type) or (not isinstance(obj, Plugin) and callable(obj)):
        try:
            obj = obj()
        except Exception as error:
            message = f"{origin} failed to make the plugin: {_describe(error)}"
            raise PluginError(name, message) from error
    try:
        _check_plugin(obj)
    except UsageError as error:
        raise PluginError(name, f"{origin} is not a valid plugin: {error}") from error
    assert isinstance(obj, Plugin)
    if obj.name != name:
        raise PluginError(name, f"{origin} gave a plugin named {obj.name!r}")
    return obj


def _entry_point_origin(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point.dist, "name", None) or "an unknown distribution"
    return f"entry point {entry_point.name} = {entry_point.value!r} (from {dist})"


def _load_entry_point(entry_point: EntryPoint) -> Plugin:
    origin = _entry_point_origin(entry_point)
    try:
        obj = entry_point.load()
    except Exception as error:
        raise PluginError(entry_point.name, f"cannot load {origin}: {_describe(error)}") from error
    return _instantiate(obj, entry_point.name, origin)


def _ambiguous(first: EntryPoint, second: EntryPoint) -> Plugin:
    raise PluginError(
        first.name,
        f"defined twice: {_entry_point_origin(first)} and {_entry_point_origin(second)}",
    )


def _lookup(
    available: Mapping[str, Plugin | Callable[[], Plugin]], name: str, index: int
) -> Plugin:
    if name not in available:
        known = ", ".join(sorted(available)) or "none"
        raise PluginConfigError(
            f"plugins[{index}].name", f"unknown plugin {name!r}; known plugins: {known}"
        )
    return _instantiate(available[name], name, f"available plugin {name!r}")


# -- configuration --


def _load_source(source: Path | str | Mapping[str, Any]) -> Mapping[Any, Any]:
    if isinstance(source, Mapping):
        return source
    if isinstance(source, Path):
        where = str(source)
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PluginConfigError(where, f"cannot read the file: {error}") from error
    elif isinstance(source, str):
        where, text = "<string>", source
    else:
        raise UsageError(
            f"plugin configuration must be a Path, TOML text or a mapping, "
            f"not {type(source).__qualname__}"
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        hint = ""
        if isinstance(source, str) and source.strip().endswith(".toml") and "\n" not in source:
            hint = " (a str is TOML text; pass a pathlib.Path to read a file)"
        raise PluginConfigError(where, f"invalid TOML: {error}{hint}") from error


def _parse_entries(document: Mapping[Any, Any]) -> list[tuple[int, str, Mapping[Any, Any]]]:
    """The enabled entries as ``(index, name, config)``, after checking the schema."""
    for key in document:
        if key != "plugins":
            raise PluginConfigError(_key(key), "unknown key; the only allowed key is 'plugins'")
    raw = document.get("plugins", [])
    if not isinstance(raw, list):
        raise PluginConfigError("plugins", f"expected an array of tables, got {_type(raw)}")
    enabled: list[tuple[int, str, Mapping[Any, Any]]] = []
    names: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"plugins[{index}]"
        name, on, config = _parse_entry(entry, where)
        if name in names:
            raise PluginConfigError(f"{where}.name", f"{name!r} is listed twice")
        names[name] = index
        if on:
            enabled.append((index, name, config))
    return enabled


def _parse_entry(entry: object, where: str) -> tuple[str, bool, Mapping[Any, Any]]:
    if not isinstance(entry, Mapping):
        raise PluginConfigError(where, f"expected a table, got {_type(entry)}")
    for key in entry:
        if key not in _ENTRY_KEYS:
            raise PluginConfigError(
                f"{where}.{_key(key)}", f"unknown key; allowed keys: {', '.join(_ENTRY_KEYS)}"
            )
    if "name" not in entry:
        raise PluginConfigError(f"{where}.name", "required key missing")
    name, enabled, config = entry["name"], entry.get("enabled", True), entry.get("config", {})
    if not isinstance(name, str) or not name:
        raise PluginConfigError(f"{where}.name", f"expected a non-empty string, got {name!r}")
    if not isinstance(enabled, bool):
        raise PluginConfigError(f"{where}.enabled", f"expected true or false, got {enabled!r}")
    if not isinstance(config, Mapping):
        raise PluginConfigError(f"{where}.config", f"expected a table, got {_type(config)}")
    return name, enabled, config


def _prepare_config(plugin: Plugin, config: Any, where: str) -> Any:
    """The value ``install`` receives: ``config`` structured, or a dict copy of it."""
    config_type = getattr(plugin, "config_type", None)
    if config_type is not None:
        if not attrs.has(config_type):
            raise PluginError(
                plugin.name, f"config_type must be an attrs class, not {config_type!r}"
            )
        if isinstance(config, config_type):
            return config
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise PluginConfigError(where, f"expected a table, got {_type(config)}")
    if config_type is None:
        return dict(config)
    try:
        return converter.structure(dict(config), config_type)
    except Exception as error:
        raise _config_error(error, where) from error


def _config_error(error: Exception, root: str) -> PluginConfigError:
    """Turn a cattrs error into one PluginConfigError located at the first bad key."""
    # cattrs owns the walk over nested errors: it calls the formatter once per
    # leaf, in the order of the lines it returns, each ending in the path.
    leaves: list[tuple[BaseException, Any]] = []

    def record(leaf: BaseException, type_: Any) -> str:
        leaves.append((leaf, type_))
        return ""

    lines = cattrs.transform_error(error, root, record)
    problems: list[tuple[str, str]] = []
    for line, (leaf, type_) in zip(lines, leaves, strict=True):
        path = line.removeprefix(" @ ")
        if isinstance(leaf, ForbiddenExtraKeysError):
            allowed = ", ".join(field.name for field in attrs.fields(leaf.cl))
            problems.extend(
                (f"{path}.{_key(key)}", f"unknown key; allowed keys: {allowed}")
                for key in sorted(leaf.extra_fields)
            )
        elif type_ is None and isinstance(leaf, ValueError | TypeError):
            problems.append((path, f"invalid value ({leaf})"))
        else:
            problems.append((path, format_exception(leaf, type_)))
    where, message = problems[0]
    if len(problems) > 1:
        message += "; also " + "; ".join(f"{p}: {m}" for p, m in problems[1:])
    return PluginConfigError(where, message)


def _key(key: object) -> str:
    """``key`` as it would be written in a TOML dotted key."""
    if isinstance(key, str) and _BARE_KEY.fullmatch(key):
        return key
    return json.dumps(key) if isinstance(key, str) else repr(key)


def _type(value: object) -> str:
    return type(value).__qualname__


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__qualname__}: {text}" if text else type(error).__qualname__
