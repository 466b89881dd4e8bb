"""Which registry a registration function writes to: a scope's, or the runtime's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actrio.actors import Scope
from actrio.kernel import UsageError
from actrio.middleware._context import current_global_registry

if TYPE_CHECKING:
    from collections.abc import Callable

    from actrio.middleware._registry import MiddlewareRegistry, Registration, Stage

__all__ = ("deregister", "register")


def _target(scope: Scope | None) -> MiddlewareRegistry:
    if scope is not None:
        if not isinstance(scope, Scope):
            raise UsageError(f"scope must be a Scope, not {type(scope).__qualname__}")
        return scope.middleware
    registry = current_global_registry()
    if registry is None:
        raise UsageError(
            "no runtime here: register inside `async with actrio.open_runtime()`, "
            "or pass scope= for scope-local middleware"
        )
    return registry


def register(
    stage: Stage, name: str, priority: int, fn: Callable[..., Any], scope: Scope | None
) -> Registration:
    """Register on ``scope``'s registry, or on the current runtime's."""
    return _target(scope).register(stage, name, priority, fn)


def deregister(stage: Stage, name: str, scope: Scope | None) -> bool:
    """Remove ``name`` at ``stage`` from ``scope``'s registry, or the runtime's."""
    return _target(scope).deregister(stage, name)
