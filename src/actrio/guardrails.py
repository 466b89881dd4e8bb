"""Guardrails: register checks that sanitize what observability sees or block a call.

Each function registers on the current runtime (global), or on ``scope``
(local to that scope's subtree, removed when it ends). Lower ``priority``
runs first; registering a ``name`` again on the same stage replaces it.
Functions may be sync or return an awaitable.

- tool sanitize-request ``(tool_name, args) -> args``: what events show;
  it gets a copy, so it never changes what runs.
- tool conditional-execution ``(tool_name, args) -> reason | None``: a
  reason blocks the tool (it does not run; a ``Mark`` of category
  ``guardrail`` is recorded and the call raises :class:`GuardrailBlocked`).
- LLM sanitize-request ``(request) -> request`` and sanitize-response
  ``(response) -> response``: observability only.
- LLM conditional-execution ``(request) -> reason | None``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from actrio._registration import deregister, register

if TYPE_CHECKING:
    from actrio.actors import Scope
    from actrio.codecs import LLMRequest
    from actrio.middleware import Registration

__all__ = (
    "LlmConditionalExecutionGuardrail",
    "LlmSanitizeRequestGuardrail",
    "LlmSanitizeResponseGuardrail",
    "ToolConditionalExecutionGuardrail",
    "ToolSanitizeGuardrail",
    "deregister_llm_conditional_execution",
    "deregister_llm_sanitize_request",
    "deregister_llm_sanitize_response",
    "deregister_tool_conditional_execution",
    "deregister_tool_sanitize_request",
    "register_llm_conditional_execution",
    "register_llm_sanitize_request",
    "register_llm_sanitize_response",
    "register_tool_conditional_execution",
    "register_tool_sanitize_request",
)

ToolSanitizeGuardrail: TypeAlias = Callable[[str, Any], Any]
ToolConditionalExecutionGuardrail: TypeAlias = Callable[
    [str, Any], "str | Awaitable[str | None] | None"
]
LlmSanitizeRequestGuardrail: TypeAlias = Callable[["LLMRequest"], Any]
LlmSanitizeResponseGuardrail: TypeAlias = Callable[[dict[str, Any]], Any]
LlmConditionalExecutionGuardrail: TypeAlias = Callable[
    ["LLMRequest"], "str | Awaitable[str | None] | None"
]


def register_tool_sanitize_request(
    name: str, priority: int, fn: ToolSanitizeGuardrail, *, scope: Scope | None = None
) -> Registration:
    """Register a tool sanitize-request guardrail; see the module docstring."""
    return register("tool_sanitize_request", name, priority, fn, scope)


def deregister_tool_sanitize_request(name: str, *, scope: Scope | None = None) -> bool:
    """Remove a tool sanitize-request guardrail by name; return whether there was one."""
    return deregister("tool_sanitize_request", name, scope)


def register_tool_conditional_execution(
    name: str, priority: int, fn: ToolConditionalExecutionGuardrail, *, scope: Scope | None = None
) -> Registration:
    """Register a tool conditional-execution guardrail; see the module docstring."""
    return register("tool_conditional_execution", name, priority, fn, scope)


def deregister_tool_conditional_execution(name: str, *, scope: Scope | None = None) -> bool:
    """Remove a tool conditional-execution guardrail by name; return whether there was one."""
    return deregister("tool_conditional_execution", name, scope)


def register_llm_sanitize_request(
    name: str, priority: int, fn: LlmSanitizeRequestGuardrail, *, scope: Scope | None = None
) -> Registration:
    """Register an LLM sanitize-request guardrail; see the module docstring."""
    return register("llm_sanitize_request", name, priority, fn, scope)


def deregister_llm_sanitize_request(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an LLM sanitize-request guardrail by name; return whether there was one."""
    return deregister("llm_sanitize_request", name, scope)


def register_llm_sanitize_response(
    name: str, priority: int, fn: LlmSanitizeResponseGuardrail, *, scope: Scope | None = None
) -> Registration:
    """Register an LLM sanitize-response guardrail; see the module docstring."""
    return register("llm_sanitize_response", name, priority, fn, scope)


def deregister_llm_sanitize_response(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an LLM sanitize-response guardrail by name; return whether there was one."""
    return deregister("llm_sanitize_response", name, scope)


def register_llm_conditional_execution(
    name: str, priority: int, fn: LlmConditionalExecutionGuardrail, *, scope: Scope | None = None
) -> Registration:
    """Register an LLM conditional-execution guardrail; see the module docstring."""
    return register("llm_conditional_execution", name, priority, fn, scope)


def deregister_llm_conditional_execution(name: str, *, scope: Scope | None = None) -> bool:
    """Remove an LLM conditional-execution guardrail by name; return whether there was one."""
    return deregister("llm_conditional_execution", name, scope)
