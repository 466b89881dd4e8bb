"""Middleware registries: guardrails, intercepts and agent hooks, ordered by priority.

A registry belongs to a runtime (global middleware) or to a scope
(scope-local middleware, dropped when the scope ends); there is no module
level registry. A call made inside a scope runs the runtime's middleware and
that of every enclosing scope, merged in one order:

1. lower ``priority`` first;
2. for equal priority, the runtime's before the scopes', outer scopes before
   inner ones;
3. then in registration order.

Registering a name again on the same stage of the same registry replaces the
earlier registration; the replacement takes the new priority and counts as
registered last.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, get_args

import attrs

from actrio.kernel import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = (
    "GUARDRAIL_STAGES",
    "HOOK_STAGES",
    "INTERCEPT_STAGES",
    "MiddlewareRegistry",
    "Registration",
    "Stage",
)

Stage = Literal[
    "tool_sanitize_request",
    "tool_conditional_execution",
    "llm_sanitize_request",
    "llm_sanitize_response",
    "llm_conditional_execution",
    "tool_request",
    "tool_execution",
    "llm_request",
    "llm_execution",
    "llm_stream_execution",
    "before_model_call",
    "after_model_call",
    "before_tool_call",
    "after_tool_call",
    "before_compression",
    "after_compression",
]
"""The stages middleware registers for."""

STAGES: tuple[Stage, ...] = get_args(Stage)
GUARDRAIL_STAGES: tuple[Stage, ...] = (
    "tool_sanitize_request",
    "tool_conditional_execution",
    "llm_sanitize_request",
    "llm_sanitize_response",
    "llm_conditional_execution",
)
"""The guardrail stages (:mod:`actrio.guardrails`)."""
INTERCEPT_STAGES: tuple[Stage, ...] = (
    "tool_request",
    "tool_execution",
    "llm_request",
    "llm_execution",
    "llm_stream_execution",
)
"""The intercept stages (:mod:`actrio.intercepts`)."""
HOOK_STAGES: tuple[Stage, ...] = (
    "before_model_call",
    "after_model_call",
    "before_tool_call",
    "after_tool_call",
    "before_compression",
    "after_compression",
)
"""The agent-loop hook stages (:mod:`actrio.hooks`)."""


@attrs.frozen(kw_only=True)
class Registration:
    """One registered guardrail, intercept or hook.

    Attributes:
        stage: The hook it runs at.
        name: Its name, unique per stage within its registry.
        priority: Lower runs first.
        fn: The callable (sync, or returning an awaitable).
        owner: The plugin that installed it, if any.
        order: Registration order within its registry.
    """

    stage: Stage
    name: str
    priority: int
    fn: Callable[..., Any] = attrs.field(eq=False)
    owner: str | None = None
    order: int


class MiddlewareRegistry:
    """The guardrails, intercepts and hooks of one runtime or one scope."""

    def __init__(self) -> None:
        self._stages: dict[Stage, dict[str, Registration]] = {}
        self._sorted: dict[Stage, tuple[Registration, ...]] = {}
        self._counter = itertools.count()

    def register(
        self,
        stage: Stage,
        name: str,
        priority: int,
        fn: Callable[..., Any],
        *,
        owner: str | None = None,
    ) -> Registration:
        """Register ``fn`` at ``stage``; a registration of the same name is replaced.

        Raises:
            UsageError: For an unknown stage, an empty name, a priority that is
                not an int, or an ``fn`` that is not callable.
        """
        if stage not in STAGES:
            raise UsageError(f"unknown middleware stage {stage!r}; expected one of {STAGES}")
        if not isinstance(name, str) or not name:
            raise UsageError(f"a middleware name must be a non-empty string, not {name!r}")
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise UsageError(f"priority of {name!r} must be an int, not {priority!r}")
        if not callable(fn):
            raise UsageError(f"middleware {name!r} must be callable, got {type(fn).__qualname__}")
        registration = Registration(
            stage=stage,
            name=name,
            priority=priority,
            fn=fn,
            owner=owner,
            order=next(self._counter),
        )
        entries = self._stages.setdefault(stage, {})
        entries.pop(name, None)
        entries[name] = registration
        self._sorted.pop(stage, None)
        return registration

    def deregister(self, stage: Stage, name: str) -> bool:
        """Remove the registration ``name`` at ``stage``; return whether there was one."""
        entries = self._stages.get(stage)
        if entries is None or entries.pop(name, None) is None:
            return False
        self._sorted.pop(stage, None)
        return True

    def remove(self, registration: Registration) -> bool:
        """Remove exactly ``registration`` (not a later one of the same name)."""
        entries = self._stages.get(registration.stage, {})
        if entries.get(registration.name) is not registration:
            return False
        return self.deregister(registration.stage, registration.name)

    def remove_owner(self, owner: str) -> int:
        """Remove every registration installed by ``owner``; return how many."""
        removed = 0
        for stage, entries in self._stages.items():
            for name in [n for n, r in entries.items() if r.owner == owner]:
                del entries[name]
                removed += 1
            self._sorted.pop(stage, None)
        return removed

    def entries(self, stage: Stage) -> tuple[Registration, ...]:
        """The registrations at ``stage``, in run order."""
        cached = self._sorted.get(stage)
        if cached is None:
            cached = tuple(
                sorted(self._stages.get(stage, {}).values(), key=lambda r: (r.priority, r.order))
            )
            self._sorted[stage] = cached
        return cached

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._stages.values())

    def __repr__(self) -> str:
        return f"<MiddlewareRegistry with {len(self)} registrations>"


def resolve(stage: Stage, registries: Sequence[MiddlewareRegistry]) -> tuple[Registration, ...]:
    """The run order at ``stage`` over ``registries`` (the runtime's, then outer to inner)."""
    chains = [(tier, r.entries(stage)) for tier, r in enumerate(registries)]
    chains = [(tier, chain) for tier, chain in chains if chain]
    if not chains:
        return ()
    if len(chains) == 1:
        return chains[0][1]
    merged = [(reg.priority, tier, reg.order, reg) for tier, chain in chains for reg in chain]
    merged.sort(key=lambda item: item[:3])
    return tuple(item[3] for item in merged)
