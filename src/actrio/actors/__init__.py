"""Actors of the agent runtime: scopes, instrumented calls, the policy actor (later: agents)."""

from typing import TYPE_CHECKING

from actrio.actors._calls import LLMStream as LLMStream
from actrio.actors._exceptions import ScopeCancelled as ScopeCancelled
from actrio.actors._exceptions import ScopeTimeout as ScopeTimeout
from actrio.actors._scope import Scope as Scope
from actrio.actors._scope import ScopeActor as ScopeActor
from actrio.actors._scope import ScopeCancel as ScopeCancel
from actrio.actors._scope import current_scope as current_scope
from actrio.actors._scope import mark as mark
from actrio.actors._scope import open_scope as open_scope

if TYPE_CHECKING:
    from actrio.actors._policy_events import PolicyDecision as PolicyDecision
    from actrio.actors._policy_events import PolicyErrored as PolicyErrored
    from actrio.actors._policy_events import PolicyEvent as PolicyEvent

__all__ = (
    "LLMStream",
    "PolicyDecision",
    "PolicyErrored",
    "PolicyEvent",
    "Scope",
    "ScopeActor",
    "ScopeCancel",
    "ScopeCancelled",
    "ScopeTimeout",
    "current_scope",
    "mark",
    "open_scope",
)


def __getattr__(name: str) -> object:
    # The policy events load on first use; ``import actrio`` stays light.
    if name in ("PolicyDecision", "PolicyErrored", "PolicyEvent"):
        from actrio.actors import _policy_events  # noqa: PLC0415

        return getattr(_policy_events, name)
    raise AttributeError(f"module 'actrio.actors' has no attribute {name!r}")
