"""The policy actor: the one place a runtime's tool calls are decided.

Each runtime runs one :class:`PolicyActor` holding the current, versioned
:class:`~actrio.policy.PolicyEngine`. A tool call asks it to
:class:`Evaluate` before its code may run; the actor answers with the
:class:`~actrio.policy.Verdict` of the engine current *when the message is
handled*. :class:`ReplacePolicies` installs a new engine with the next
version, between two evaluations, so every verdict comes from exactly one
version and a replacement never tears one.

The actor only evaluates, which never waits. The required calls of
``before`` policies (``user.confirm``, ...) are run by the asking tool call,
as its child calls: the actor never waits on a person, and one call's
confirmation never holds up another's decision.

Decisions are published by the calling tool call as ``PolicyDecision``
events (:mod:`actrio.actors._policy_events`; exactly one per call whose
arguments were valid, even if it was cancelled while deciding), and a
decision made because something failed also as a ``PolicyErrored`` event
(kind ``policy_error``, SH-13).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from actrio.kernel import Actor, Request
from actrio.policy._engine import Decision, PolicyEngine, Verdict

__all__ = (
    "CurrentPolicies",
    "Evaluate",
    "PolicyActor",
    "PolicyMessage",
    "ReplacePolicies",
)


@attrs.frozen
class Evaluate(Request[Verdict]):
    """Evaluate one call under the current policies.

    Attributes:
        capability: The tool's capability; ``None`` for a tool without one
            (always allowed: no policy can name it).
        args: The call's checked JSON arguments.
        inputs: The run's inputs policies may refer to.
    """

    capability: str | None
    args: Mapping[str, Any]
    inputs: Mapping[str, Any] | None = None


@attrs.frozen
class ReplacePolicies(Request[int]):
    """Install ``engine``'s policies as the next version; the reply is that version.

    Build the engine first (``PolicyEngine(...)``), so a policy set that does
    not compile fails in the caller with its own error and changes nothing.
    """

    engine: PolicyEngine


@attrs.frozen
class CurrentPolicies(Request[PolicyEngine]):
    """Ask for the engine in force."""


PolicyMessage: TypeAlias = Evaluate | ReplacePolicies | CurrentPolicies


class PolicyActor(Actor[PolicyMessage]):
    """Holds the runtime's policy engine and evaluates calls against it.

    Args:
        engine: The initial engine; its version is kept.
    """

    def __init__(self, engine: PolicyEngine) -> None:
        self.engine = engine

    async def receive(self, message: PolicyMessage) -> Verdict | int | PolicyEngine:
        """Evaluate, replace, or report the engine."""
        if isinstance(message, Evaluate):
            return self._evaluate(message)
        if isinstance(message, ReplacePolicies):
            engine = copy.copy(message.engine)
            engine.version = self.engine.version + 1
            self.engine = engine
            return engine.version
        return self.engine

    def _evaluate(self, message: Evaluate) -> Verdict:
        engine = self.engine
        if message.capability is None:
            return Verdict(decision=Decision(allowed=True, capability="", version=engine.version))
        try:
            return engine.evaluate(message.capability, message.args, inputs=message.inputs)
        except Exception as error:  # noqa: BLE001  # fail closed: nothing may kill the actor
            reason = f"the call could not be evaluated ({type(error).__name__}), so it is denied"
            return Verdict(
                decision=Decision(
                    allowed=False,
                    capability=message.capability,
                    reason=reason,
                    error=True,
                    version=engine.version,
                )
            )
