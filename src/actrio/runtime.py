"""The runtime: an actor system plus what instrumented work needs beside it.

:func:`open_runtime` opens an actor system and owns the global middleware
registry and the installed plugins. Later layers add the tool registry, the
policy actor and the model adapters. Nothing is kept in module globals, so
two runtimes in one process never see each other's middleware or events.
"""

from __future__ import annotations

import contextvars
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from actrio.kernel import (
    DEFAULT_CAPACITY,
    ActorSystem,
    Event,
    EventStream,
    SubscriberMode,
    Subscription,
    UsageError,
    open_actor_system,
)
from actrio.kernel._system import DEFAULT_SHUTDOWN_GRACE
from actrio.middleware._context import global_registry_var
from actrio.middleware._exceptions import PluginError
from actrio.middleware._plugins import Plugin, PluginManager
from actrio.middleware._registry import MiddlewareRegistry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
    from pathlib import Path

__all__ = ("Runtime", "current_runtime", "open_runtime")

_current_runtime: contextvars.ContextVar[Runtime] = contextvars.ContextVar("actrio.runtime")


class Runtime:
    """What :func:`open_runtime` gives: the system, global middleware, plugins.

    Attributes:
        system: The actor system everything runs in.
        middleware: The global guardrails and intercepts.
        plugins: Install, activate and uninstall plugins.
    """

    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self.middleware = MiddlewareRegistry()
        self.plugins = PluginManager(self.middleware, system.subscribe)

    def subscribe(
        self,
        handler: Callable[[Event], Awaitable[None] | None],
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        max_failures: int = 3,
        types: Collection[type[Event]] | None = None,
        name: str | None = None,
    ) -> Subscription:
        """Subscribe ``handler`` to every event of the runtime (see ``ActorSystem.subscribe``)."""
        return self.system.subscribe(
            handler, mode=mode, capacity=capacity, max_failures=max_failures, types=types, name=name
        )

    def stream(
        self,
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        types: Collection[type[Event]] | None = None,
    ) -> EventStream:
        """Every event of the runtime as an async iterator; use inside ``async with``.

        Example::

            async with rt.stream(types=[actrio.ScopeEnded]) as events:
                async for event in events:
                    print(event.name, event.status)
        """
        return self.system.stream(mode=mode, capacity=capacity, types=types)

    def __repr__(self) -> str:
        return f"<Runtime plugins={list(self.plugins.installed())} middleware={self.middleware!r}>"


@asynccontextmanager
async def open_runtime(
    *,
    plugins: Path | str | Mapping[str, Any] | None = None,
    available_plugins: Mapping[str, Plugin | Callable[[], Plugin]] | None = None,
    mailbox_capacity: int = DEFAULT_CAPACITY,
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
) -> AsyncIterator[Runtime]:
    """Open a runtime; leaving the block stops everything in it.

    Args:
        plugins: Plugins to activate: a TOML file path, TOML text, or the
            parsed mapping (``[[plugins]] name = "..."`` with a ``config``
            table each).
        available_plugins: Where to find plugins by name; by default those
            installed under the ``actrio.plugins`` entry-point group.
        mailbox_capacity: Default mailbox capacity of actors.
        shutdown_grace: Seconds allowed for shutdown.

    Raises:
        PluginConfigError: For a bad plugin configuration.
        PluginError: If a plugin fails to install.
    """
    async with open_actor_system(
        mailbox_capacity=mailbox_capacity, shutdown_grace=shutdown_grace
    ) as system:
        runtime = Runtime(system)
        token = _current_runtime.set(runtime)
        registry_token = global_registry_var.set(runtime.middleware)
        failure: PluginError | None = None
        try:
            if plugins is not None:
                runtime.plugins.activate(plugins, available=available_plugins)
            yield runtime
        finally:
            failure = _uninstall_all(runtime)
            global_registry_var.reset(registry_token)
            _current_runtime.reset(token)
        if failure is not None:
            raise failure


def _uninstall_all(runtime: Runtime) -> PluginError | None:
    """Uninstall every plugin, newest first; return the first failure, if any."""
    first: PluginError | None = None
    for name in reversed(runtime.plugins.installed()):
        try:
            runtime.plugins.uninstall(name)
        except PluginError as error:
            first = first or error
    return first


def current_runtime() -> Runtime:
    """The runtime the running task is in.

    Raises:
        UsageError: Outside any runtime.
    """
    runtime = _current_runtime.get(None)
    if runtime is None:
        raise UsageError("current_runtime() called outside `async with actrio.open_runtime()`")
    return runtime
