"""Hooks: register functions the agent loop runs around model calls, tool calls and compression.

Each function registers on the current runtime (global), or on ``scope``
(local to that scope's subtree, removed when it ends). Lower ``priority``
runs first; for equal priority the runtime's hooks run before the scopes',
outer scopes before inner ones; registering a ``name`` again on the same
stage replaces it. Hooks may be sync or return an awaitable.

Every hook may rewrite one value: it returns the new value, or ``None`` to
keep the one it got. The hooks of a stage run in order, each seeing the
previous one's result.

- before model call ``(agent_name, request) -> ModelRequest | None``: may
  rewrite the :class:`~actrio.types.ModelRequest` about to be sent.
- after model call ``(agent_name, request, response) -> ModelResponse |
  None``: may rewrite the :class:`~actrio.types.ModelResponse` the loop
  acts on; ``request`` is what was sent.
- before tool call ``(tool_name, arguments) -> dict[str, Any] | None``:
  may rewrite the arguments. It runs before validation and the policy
  decision, so a rewrite is still validated and decided. ``arguments`` is
  the dict the call will use: return a new dict rather than mutating it.
- after tool call ``(tool_name, arguments, output, error) -> str | None``:
  may rewrite the text the model gets. ``error`` is the failure when the
  call failed (``output`` is then the error text the model would see), else
  ``None``.
- before compression ``(agent_name, request, tokens, available) ->
  ModelRequest | None``: runs before the request is compressed to fit the
  context window; ``tokens`` is the request's estimate, ``available`` what
  the window leaves for it.
- after compression ``(agent_name, before, after, stages) -> ModelRequest |
  None``: may rewrite the compressed request ``after``; ``before`` is the
  request before compression and ``stages`` names the compression stages
  that changed it.

A hook that raises, or returns anything but ``None`` or the expected type,
fails the step it ran for with :class:`~actrio.middleware.MiddlewareError`
naming the hook and the stage (a wrong type is a chained ``TypeError``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from actrio._registration import deregister, register

if TYPE_CHECKING:
    from actrio.actors import Scope
    from actrio.middleware import Registration
    from actrio.types import ModelRequest, ModelResponse

__all__ = (
    "AfterCompressionHook",
    "AfterModelCallHook",
    "AfterToolCallHook",
    "BeforeCompressionHook",
    "BeforeModelCallHook",
    "BeforeToolCallHook",
    "deregister_after_compression",
    "deregister_after_model_call",
    "deregister_after_tool_call",
    "deregister_before_compression",
    "deregister_before_model_call",
    "deregister_before_tool_call",
    "register_after_compression",
    "register_after_model_call",
    "register_after_tool_call",
    "register_before_compression",
    "register_before_model_call",
    "register_before_tool_call",
)

BeforeModelCallHook: TypeAlias = Callable[
    [str, "ModelRequest"], "ModelRequest | Awaitable[ModelRequest | None] | None"
]
AfterModelCallHook: TypeAlias = Callable[
    [str, "ModelRequest", "ModelResponse"],
    "ModelResponse | Awaitable[ModelResponse | None] | None",
]
BeforeToolCallHook: TypeAlias = Callable[
    [str, dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any] | None] | None"
]
AfterToolCallHook: TypeAlias = Callable[
    [str, dict[str, Any], str, "BaseException | None"], "str | Awaitable[str | None] | None"
]
BeforeCompressionHook: TypeAlias = Callable[
    [str, "ModelRequest", int, int], "ModelRequest | Awaitable[ModelRequest | None] | None"
]
AfterCompressionHook: TypeAlias = Callable[
    [str, "ModelRequest", "ModelRequest", tuple[str, ...]],
    "ModelRequest | Awaitable[ModelRequest | None] | None",
]


def register_before_model_call(
    name: str, priority: int, fn: BeforeModelCallHook, *, scope: Scope | None = None
) -> Registration:
    """Register a before-model-call hook; see the module docstring."""
    return register("before_model_call", name, priority, fn, scope)


def deregister_before_model_call(name: str, *, scope: Scope | None = None) -> bool:
    """Remove a before-model-call hook by name; return whether there was one."""
    return deregister("before_model_call", name, scope)


def register_after_model_call(
    name: str, priority: int, fn: AfterModelCallHook, *, scope: Scope | None = None
) -> Registration:
    """Register an after-model-call hook; see the module docstring."""
    return register("after_model_call", name, priority, fn, scope)


def deregister_after_model_call(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an after-model-call hook by name; return whether there was one."""
    return deregister("after_model_call", name, scope)


def register_before_tool_call(
    name: str, priority: int, fn: BeforeToolCallHook, *, scope: Scope | None = None
) -> Registration:
    """Register a before-tool-call hook; see the module docstring."""
    return register("before_tool_call", name, priority, fn, scope)


def deregister_before_tool_call(name: str, *, scope: Scope | None = None) -> bool:
    """Remove a before-tool-call hook by name; return whether there was one."""
    return deregister("before_tool_call", name, scope)


def register_after_tool_call(
    name: str, priority: int, fn: AfterToolCallHook, *, scope: Scope | None = None
) -> Registration:
    """Register an after-tool-call hook; see the module docstring."""
    return register("after_tool_call", name, priority, fn, scope)


def deregister_after_tool_call(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an after-tool-call hook by name; return whether there was one."""
    return deregister("after_tool_call", name, scope)


def register_before_compression(
    name: str, priority: int, fn: BeforeCompressionHook, *, scope: Scope | None = None
) -> Registration:
    """Register a before-compression hook; see the module docstring."""
    return register("before_compression", name, priority, fn, scope)


def deregister_before_compression(name: str, *, scope: Scope | None = None) -> bool:
    """Remove a before-compression hook by name; return whether there was one."""
    return deregister("before_compression", name, scope)


def register_after_compression(
    name: str, priority: int, fn: AfterCompressionHook, *, scope: Scope | None = None
) -> Registration:
    """Register an after-compression hook; see the module docstring."""
    return register("after_compression", name, priority, fn, scope)


def deregister_after_compression(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an after-compression hook by name; return whether there was one."""
    return deregister("after_compression", name, scope)
