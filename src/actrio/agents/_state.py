"""The state of a run: what a run tree shares, and what each agent in it keeps.

A *run tree* is one call of ``rt.run`` / ``rt.stream``: the root agent, the
agents it hands off to, and every sub-agent called as a tool below them. It
shares the runtime's tool host, the bus and a map from budget ledgers to
the agent that owns them, so a charge that breaks a limit anywhere stops
exactly the subtree of the ledger that broke.

Everything here is touched only from the one trio thread, with no await
between a read and the write that depends on it.
"""

from __future__ import annotations

import contextvars
import math
from typing import Any

import attrs

from actrio.actors._scope import END_EVENT_GRACE, Scope
from actrio.actors._tool_call import ToolHost
from actrio.adapters.router import Model
from actrio.agents._agent import Agent
from actrio.agents._result import RunResult
from actrio.context._budget import BudgetExceeded, BudgetLedger, Spend
from actrio.context._tokens import CharEstimator, TokenEstimator
from actrio.kernel import ActorSystem, Event
from actrio.messages import Message, ToolCallPart, ToolResultPart
from actrio.policy._spec import PolicySpec
from actrio.runtime import Runtime
from actrio.types import Usage

__all__ = ("AgentState", "RunTree", "Totals", "current_agent_state")

_current_state: contextvars.ContextVar[AgentState] = contextvars.ContextVar("actrio.agent_state")


def current_agent_state() -> AgentState | None:
    """The agent whose loop (or tool call) the running task is in, if any."""
    return _current_state.get(None)


@attrs.define(eq=False)
class RunTree:
    """What every agent of one run tree shares."""

    runtime: Runtime
    system: ActorSystem
    host: ToolHost
    run_ids: set[str] = attrs.field(factory=set)
    owners: dict[str, AgentState] = attrs.field(factory=dict)  # ledger path -> agent
    pending_events: list[Event] = attrs.field(factory=list)  # budget events to publish
    states: dict[str, AgentState] = attrs.field(factory=dict)  # run id -> current segment
    cancelled: dict[str, str] = attrs.field(factory=dict)  # run id -> reason, before it opened
    interrupted: dict[str, str] = attrs.field(factory=dict)  # run id -> reason
    results: dict[str, RunResult[Any]] = attrs.field(factory=dict)  # runs cancelled from outside
    _hosts: dict[tuple[int, tuple[int, ...]], ToolHost] = attrs.field(factory=dict)
    _names: dict[str, int] = attrs.field(factory=dict)  # ledger names given, by parent

    def emit(self, event: Event) -> None:
        """The ledgers' sink: queue the event; the loop publishes it at its next await."""
        self.pending_events.append(event)

    async def flush(self) -> None:
        """Publish the queued budget events, in order.

        Each waits for room at most :data:`END_EVENT_GRACE` seconds, and is
        not cancelled meanwhile: it also runs from cleanup (a run's end).
        """
        while self.pending_events:  # events charged meanwhile come in the next batch
            batch, self.pending_events = self.pending_events, []
            for event in batch:
                await self.system.bus.publish_within(event, END_EVENT_GRACE)

    def host_for(self, state: AgentState) -> ToolHost:
        """The tool host for ``state``'s agent: its tools, and every policy that applies.

        A sub-agent is bound by the policies of the agents that called it as
        well as its own: it can never do what its caller may not.
        """
        policies = state.policies()
        key = (id(state.agent), tuple(id(p) for p in policies))
        host = self._hosts.get(key)
        if host is None:
            from actrio.tools._registry import ToolRegistry  # noqa: PLC0415  # import time

            local = self.runtime._engine_for(policies) if policies else None
            registry = ToolRegistry(state.agent.tools)
            host = attrs.evolve(self.host, registry=registry, local_policies=local)
            self._hosts[key] = host
        return host

    def child_name(self, parent: BudgetLedger, name: str) -> str:
        """A ledger name unique under ``parent``: ``name``, then ``name-2``, ``name-3``..."""
        key = f"{parent.path}/{name}"
        count = self._names[key] = self._names.get(key, 0) + 1
        return name if count == 1 else f"{name}-{count}"

    def stop_for(self, broken: BudgetExceeded, fallback: AgentState) -> None:
        """Stop the subtree of the ledger that broke: its owner's, else ``fallback``'s."""
        self.owners.get(broken.path, fallback).stop_budget(broken)


@attrs.define(eq=False)
class Totals:
    """Usage and cost of a run and, through ``parent``, of every run above it."""

    usage: Usage = attrs.field(factory=Usage)
    cost_usd: float = 0.0
    unpriced: set[str] = attrs.field(factory=set)
    parent: Totals | None = None

    def add(self, usage: Usage, cost: float | None, model: str) -> None:
        """Add one model call here and on every ancestor."""
        node: Totals | None = self
        while node is not None:
            node.usage = node.usage + usage
            if cost is None:
                node.unpriced.add(model)
            else:
                node.cost_usd += cost
            node = node.parent


@attrs.define(eq=False)
class AgentState:
    """One agent's run (a segment of the run tree between handoffs).

    Attributes:
        tree: The run tree.
        run_id: This run's id (a sub-agent has its own).
        parent_run_id: The calling run, for a sub-agent.
        agent: The agent.
        model: Its resolved model.
        ledger: Its budget.
        messages: The whole transcript, system prompt first.
        working: What the model is sent: the transcript as compressed so far.
        totals: Usage and cost (shared with the calling run's, upwards).
        steps: Model calls made.
        scope: The agent's scope, once open.
        budget_error: Why a budget stopped this agent, if one did.
        estimator: Token counts: the agent's, or a :class:`CharEstimator`
            calibrated by the provider's usage only towards counting more
            (``max_ratio=4``), so a request is never thought smaller than it is.
        inputs: Values policies may refer to.
        inherited: Policies of the agents that called this one (a sub-agent).
        deadline: When the run's ``seconds`` budget ends (``trio.current_time()``).
    """

    tree: RunTree
    run_id: str
    parent_run_id: str | None
    agent: Agent[Any]
    model: Model
    ledger: BudgetLedger
    messages: list[Message]
    working: list[Message]
    totals: Totals
    inputs: dict[str, Any] | None = None
    steps: int = 0
    scope: Scope | None = None
    budget_error: BudgetExceeded | None = None
    estimator: TokenEstimator = attrs.field(factory=lambda: CharEstimator(max_ratio=4.0))
    output_retries: int = 0
    inherited: tuple[PolicySpec, ...] = ()  # the calling agents' policies
    deadline: float = math.inf  # the run's seconds budget, as a trio deadline
    pending_calls: tuple[ToolCallPart, ...] = ()  # unanswered calls of the last answer
    finished: dict[str, ToolResultPart] = attrs.field(factory=dict)  # their results so far

    def policies(self) -> tuple[PolicySpec, ...]:
        """The policies this agent's tool calls are decided by, beside the runtime's."""
        return (*self.inherited, *self.agent.policies)

    def enter(self) -> contextvars.Token[AgentState]:
        """Make this the current agent of the running task (and its children)."""
        return _current_state.set(self)

    @staticmethod
    def leave(token: contextvars.Token[AgentState]) -> None:
        """Undo :meth:`enter`."""
        _current_state.reset(token)

    def cancel(self, reason: str) -> None:
        """Cancel this agent's scope (and so everything under it) with ``reason``.

        Only called on a segment whose scope is open (it is registered then).
        """
        assert self.scope is not None
        self.scope.cancel(reason)

    def stop_budget(self, broken: BudgetExceeded) -> None:
        """A budget this agent owns broke: cancel its scope with that reason.

        The first break is the one reported; the scope's first reason wins too.
        """
        self.budget_error = self.budget_error or broken
        self.cancel(f"budget exceeded: {broken}")

    def refuse(self, spend: Spend) -> BudgetExceeded | None:
        """Whether ``spend`` would break a limit; if so, stop that subtree without charging."""
        broken = self.ledger.refuse(spend)
        if broken is not None:
            self.tree.stop_for(broken, self)
        return broken
