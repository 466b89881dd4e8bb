"""Intercepts: register hooks that rewrite or wrap tool and LLM calls.

Each function registers on the current runtime (global), or on ``scope``
(local to that scope's subtree, removed when it ends). Lower ``priority``
runs first (and, for execution intercepts, outermost); registering a
``name`` again on the same stage replaces it. Functions may be sync or
return an awaitable.

- tool request ``(tool_name, args) -> args``: rewrites what the tool gets.
- tool execution ``(tool_name, args, next) -> result``: wraps the tool;
  ``await next(args)`` runs the rest of the chain.
- LLM request ``(name, request, annotated) -> (request, annotated)``.
- LLM execution ``(name, request, next) -> response``.
- LLM stream execution ``(request, next) -> async iterator``: ``await
  next(request)`` gives the inner stream to wrap.

A hook that raises fails only its call, with :class:`MiddlewareError`; an
exception raised by ``next`` (the tool's own) passes through unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from actrio._registration import deregister, register

if TYPE_CHECKING:
    from actrio.actors import Scope
    from actrio.codecs import AnnotatedLLMRequest, LLMRequest
    from actrio.middleware import Registration

__all__ = (
    "LlmExecutionIntercept",
    "LlmRequestIntercept",
    "LlmStreamExecutionIntercept",
    "ToolExecutionIntercept",
    "ToolRequestIntercept",
    "deregister_llm_execution",
    "deregister_llm_request",
    "deregister_llm_stream_execution",
    "deregister_tool_execution",
    "deregister_tool_request",
    "register_llm_execution",
    "register_llm_request",
    "register_llm_stream_execution",
    "register_tool_execution",
    "register_tool_request",
)

ToolRequestIntercept: TypeAlias = Callable[[str, Any], Any]
ToolExecutionIntercept: TypeAlias = Callable[[str, Any, Callable[[Any], Awaitable[Any]]], Any]
LlmRequestIntercept: TypeAlias = Callable[
    [str, "LLMRequest", "AnnotatedLLMRequest | None"],
    "tuple[LLMRequest, AnnotatedLLMRequest | None] | Awaitable[Any]",
]
LlmExecutionIntercept: TypeAlias = Callable[
    [str, "LLMRequest", Callable[["LLMRequest"], Awaitable[Any]]], Any
]
LlmStreamExecutionIntercept: TypeAlias = Callable[
    ["LLMRequest", Callable[["LLMRequest"], Awaitable[AsyncIterator[Any]]]], Any
]


def register_tool_request(
    name: str, priority: int, fn: ToolRequestIntercept, *, scope: Scope | None = None
) -> Registration:
    """Register a tool request intercept; see the module docstring."""
    return register("tool_request", name, priority, fn, scope)


def deregister_tool_request(name: str, *, scope: Scope | None = None) -> bool:
    """Remove a tool request intercept by name; return whether there was one."""
    return deregister("tool_request", name, scope)


def register_tool_execution(
    name: str, priority: int, fn: ToolExecutionIntercept, *, scope: Scope | None = None
) -> Registration:
    """Register a tool execution intercept; see the module docstring."""
    return register("tool_execution", name, priority, fn, scope)


def deregister_tool_execution(name: str, *, scope: Scope | None = None) -> bool:
    """Remove a tool execution intercept by name; return whether there was one."""
    return deregister("tool_execution", name, scope)


def register_llm_request(
    name: str, priority: int, fn: LlmRequestIntercept, *, scope: Scope | None = None
) -> Registration:
    """Register an LLM request intercept; see the module docstring."""
    return register("llm_request", name, priority, fn, scope)


def deregister_llm_request(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an LLM request intercept by name; return whether there was one."""
    return deregister("llm_request", name, scope)


def register_llm_execution(
    name: str, priority: int, fn: LlmExecutionIntercept, *, scope: Scope | None = None
) -> Registration:
    """Register an LLM execution intercept; see the module docstring."""
    return register("llm_execution", name, priority, fn, scope)


def deregister_llm_execution(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an LLM execution intercept by name; return whether there was one."""
    return deregister("llm_execution", name, scope)


def register_llm_stream_execution(
    name: str, priority: int, fn: LlmStreamExecutionIntercept, *, scope: Scope | None = None
) -> Registration:
    """Register an LLM stream execution intercept; see the module docstring."""
    return register("llm_stream_execution", name, priority, fn, scope)


def deregister_llm_stream_execution(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an LLM stream execution intercept by name; return whether there was one."""
    return deregister("llm_stream_execution", name, scope)
