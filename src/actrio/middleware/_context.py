"""Where calls find the runtime's global middleware: a contextvar, never a global."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actrio.middleware._registry import MiddlewareRegistry

__all__ = ("current_global_registry", "global_registry_var")

global_registry_var: contextvars.ContextVar[MiddlewareRegistry] = contextvars.ContextVar(
    "actrio.global_middleware"
)


def current_global_registry() -> MiddlewareRegistry | None:
    """The global middleware registry of the runtime the task runs in, if any."""
    return global_registry_var.get(None)
