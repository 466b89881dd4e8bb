"""The policy events: what was decided about each tool call, and failures.

Kept apart from the policy actor so that ``import actrio`` (and reading a
JSONL export) knows these kinds without loading the policy engine.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import attrs

from actrio._wire import register_kind_union
from actrio.kernel import Event

__all__ = ("PolicyDecision", "PolicyErrored", "PolicyEvent")


@attrs.frozen(kw_only=True)
class PolicyDecision(Event):
    """What the policies decided about one tool call; one per call decided.

    Attributes:
        call_id: The call's id.
        tool: The tool's name.
        capability: Its capability (``None`` for a tool without one).
        args: The arguments decided on, with secrets masked and long
            values cut (SE-08).
        allowed: Whether the tool may run.
        policy_id: The policy that denied, if one did.
        reason: Why (secrets masked).
        error: Denied because something failed (fail closed, SH-13).
        cancelled: The call was cancelled before its decision; it did not run.
        version: The version of the policy set that decided.
        required: The required calls that ran first (``user.confirm``, ...).
        path: The actor path of the call's Tool scope.
        scope_uuid: The uuid of the call's Tool scope.
    """

    kind: Literal["policy_decision"] = "policy_decision"
    call_id: str
    tool: str
    capability: str | None
    args: Any = None
    allowed: bool
    policy_id: str | None = None
    reason: str = ""
    error: bool = False
    cancelled: bool = False
    version: int = 0
    required: tuple[str, ...] = ()
    path: str | None = None
    scope_uuid: str | None = None


@attrs.frozen(kw_only=True)
class PolicyErrored(Event):
    """A policy failed while deciding, so the call was denied (SH-13).

    Attributes:
        call_id: The call's id.
        tool: The tool's name.
        capability: The capability decided.
        policy_id: The policy that failed (``None`` if the failure was not
            in a policy).
        reason: What failed (secrets masked).
        version: The version of the policy set.
    """

    kind: Literal["policy_error"] = "policy_error"
    call_id: str
    tool: str
    capability: str | None
    policy_id: str | None = None
    reason: str = ""
    version: int = 0


PolicyEvent: TypeAlias = PolicyDecision | PolicyErrored
"""The closed union of policy events."""

POLICY_EVENT_KINDS = register_kind_union(PolicyEvent)
