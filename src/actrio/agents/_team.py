"""A team of agents under a supervisor: :class:`Team`, :class:`AgentWorker`.

Each agent of a team is served by an :class:`AgentWorker`, a kernel actor
that runs its agent for each :class:`RunAgent` it is asked. The workers are
children of one :class:`~actrio.kernel.Supervisor`, so the kernel's
supervision applies to agents: a run that fails crashes its worker, the
supervisor restarts it (``one_for_one`` by default) within its restart
intensity (``max_restarts`` in ``period`` seconds), and past that the
supervisor escalates. A worker's restart is an ``ActorRestarted`` event.

Another agent reaches a team member through :meth:`TeamHandle.tool`: the
call asks the worker, so the member's run happens in the worker's subtree,
not the caller's. Its budget is bounded by the caller's (what the caller has
left, at most the member's own budget) and what it spent is charged to the
caller's chain when it answers. A crashed member gives the caller an error
result; its next call reaches the restarted worker.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import attrs
import trio

from actrio.agents._agent import Agent
from actrio.agents._result import RunFailed, RunResult, SubAgentStopped
from actrio.agents._run import stream_agent
from actrio.agents._state import current_agent_state
from actrio.agents._subagent import AGENT_TOOL_PARAMETERS, describe
from actrio.context._budget import Budget, Spend
from actrio.kernel import (
    Actor,
    ActorError,
    ActorRef,
    ActorStopped,
    ChildSpec,
    Request,
    Strategy,
    Supervisor,
    UsageError,
    WhichChildren,
)
from actrio.runtime import Runtime
from actrio.tools._tool import Tool
from actrio.tools.errors import ToolError
from actrio.types import to_wire

__all__ = ("RESTART_WAIT", "AgentWorker", "MemberUnavailable", "RunAgent", "Team", "TeamHandle")

RESTART_WAIT: Final = 1.0
"""Seconds a call waits for a member's worker that is being restarted."""


@attrs.frozen
class RunAgent(Request[RunResult[Any]]):
    """Ask a worker to run its agent on ``input``; the reply is the :class:`RunResult`.

    Attributes:
        input: The user message.
        budget: Limits for this run (default: the agent's).
        started: Called with the run's id as it starts (so an asker that is
            cancelled can cancel the run too).
        parent_run_id: The run that asks (recorded in the member's run events).
    """

    input: str
    budget: Budget | None = None
    started: Callable[[str], None] | None = attrs.field(default=None, eq=False, repr=False)
    parent_run_id: str | None = None


class AgentWorker(Actor[RunAgent]):
    """Serves one agent: each :class:`RunAgent` is a run of it.

    A run that fails (``RunFailed``) crashes the worker, which is what its
    supervisor restarts. Every other status is an answer.

    Attributes:
        agent: The agent.
        runs: Runs this incarnation answered.
    """

    def __init__(self, agent: Agent[Any], runtime: Runtime) -> None:
        self.agent = agent
        self.runtime = runtime
        self.runs = 0

    async def receive(self, message: RunAgent) -> RunResult[Any]:
        """Run the agent; a failed run raises, and so crashes this worker."""
        stream = stream_agent(
            self.runtime,
            self.agent,
            message.input,
            budget=message.budget,
            parent_run_id=message.parent_run_id,
        )
        if message.started is not None:
            message.started(stream.run_id)
        async with stream:
            async for _ in stream:  # RunFailed at the end, for a failed run
                pass
        assert stream.result is not None  # else Cancelled went by
        self.runs += 1
        return stream.result


class MemberUnavailable(ToolError):
    """A team member could not answer (its worker crashed, or was stopped).

    Attributes:
        result: The failed run's result, when the worker crashed on a run
            (its usage was spent all the same).
    """

    def __init__(self, message: str, result: RunResult[Any] | None = None) -> None:
        super().__init__(message)
        self.result = result

    def feedback(self) -> str:
        """The text the calling model gets."""
        return str(self)


@attrs.frozen
class _WorkerFactory:
    agent: Agent[Any]
    runtime: Runtime

    def __call__(self) -> AgentWorker:
        return AgentWorker(self.agent, self.runtime)


class Team:
    """Agents served by :class:`AgentWorker` actors under one supervisor.

    Example::

        team = actrio.agents.Team("experts", [researcher, writer], max_restarts=3, period=60)
        async with actrio.open_runtime() as rt:
            experts = await team.start(rt)
            lead = actrio.Agent("lead", "...", model, tools=experts.tools())
            result = await rt.run(lead, "Write about supervision.")

    Args:
        name: The supervisor's name.
        agents: The members (distinct names).
        strategy: ``one_for_one``, ``one_for_all`` or ``rest_for_one``.
        max_restarts: Restarts allowed within ``period`` before escalating.
        period: The restart intensity's window, in seconds.

    Raises:
        UsageError: For a bad value.
    """

    def __init__(
        self,
        name: str,
        agents: list[Agent[Any]] | tuple[Agent[Any], ...],
        *,
        strategy: Strategy = "one_for_one",
        max_restarts: int = 3,
        period: float = 5.0,
    ) -> None:
        members = tuple(agents)
        if not members or not all(isinstance(a, Agent) for a in members):
            raise UsageError("Team(agents=...): expected a non-empty list of Agent values")
        names = [a.name for a in members]
        if len(set(names)) != len(names):
            raise UsageError(f"Team(agents=...): two members share a name in {names}")
        self.name = name
        self.agents = members
        self.strategy: Strategy = strategy
        self.max_restarts = max_restarts
        self.period = period

    async def start(self, runtime: Runtime) -> TeamHandle:
        """Start the supervisor and a worker per member in ``runtime``.

        Raises:
            SpecError: For a bad strategy or intensity (from the kernel).
        """
        supervisor = Supervisor(
            [ChildSpec(a.name, _WorkerFactory(a, runtime)) for a in self.agents],
            strategy=self.strategy,
            max_restarts=self.max_restarts,
            period=self.period,
        )
        ref = await runtime.system.spawn(supervisor, name=self.name)
        return TeamHandle(self, ref, runtime)


class TeamHandle:
    """A started :class:`Team`: ask its members, or give them to an agent as tools.

    Attributes:
        team: The team.
        supervisor: The supervisor's ref.
    """

    def __init__(self, team: Team, supervisor: ActorRef[Any], runtime: Runtime) -> None:
        self.team = team
        self.supervisor = supervisor
        self.runtime = runtime

    async def worker(self, name: str) -> ActorRef[RunAgent]:
        """The current worker of member ``name``.

        A worker being restarted is waited for, up to :data:`RESTART_WAIT`
        seconds.

        Raises:
            MemberUnavailable: No such member, or its worker is not running
                (its supervisor gave up, or was stopped).
        """
        with trio.move_on_after(RESTART_WAIT):
            while True:
                try:
                    children = await self.supervisor.ask(WhichChildren())
                except ActorStopped as error:
                    raise MemberUnavailable(
                        f"team member {name!r} is not running (its supervisor stopped)"
                    ) from error
                child = next((c for c in children if c.id == name), None)
                if child is None:
                    break
                if child.running and child.ref is not None:
                    ref: ActorRef[RunAgent] = child.ref
                    return ref
                await trio.sleep(0.01)  # being restarted
        raise MemberUnavailable(f"team member {name!r} is not running")

    async def ask(
        self,
        name: str,
        input: str,
        *,
        budget: Budget | None = None,
        parent_run_id: str | None = None,
    ) -> RunResult[Any]:
        """Run member ``name`` on ``input`` through its worker.

        ``parent_run_id`` names the asking run in the member's run events.

        Raises:
            MemberUnavailable: Its worker crashed on this run (it is being
                restarted) or is not running.
        """
        ref = await self.worker(name)
        started: list[str] = []
        try:
            return await ref.ask(RunAgent(input, budget, started.append, parent_run_id))
        except trio.Cancelled:
            for run_id in started:  # the asker's cancellation reaches the run
                self.runtime.cancel(run_id, "its caller was cancelled")
            raise
        except (ActorError, ActorStopped) as error:
            failed = _failed_run(error)
            cause = failed.result.error if failed is not None else None
            why = type(cause or error.__cause__ or error).__name__
            raise MemberUnavailable(
                f"team member {name!r} failed ({why}); its supervisor restarts it",
                failed.result if failed is not None else None,
            ) from error

    def tools(self) -> list[Tool]:
        """A tool per member, for another agent to call."""
        return [self.tool(agent) for agent in self.team.agents]

    def tool(self, agent: Agent[Any]) -> Tool:
        """The tool that asks ``agent``'s worker; see the module docstring."""
        handle = self

        async def ask_member(input: str) -> Any:  # the model's name for it
            caller = current_agent_state()
            budget = agent.budget
            if caller is not None:
                left = caller.ledger.remaining()
                budget = left if budget is None else budget.min(left)
            try:
                result = await handle.ask(
                    agent.name,
                    input,
                    budget=budget,
                    parent_run_id=caller.run_id if caller is not None else None,
                )
            except MemberUnavailable as error:
                if caller is not None and error.result is not None:
                    _charge(caller, error.result)  # a failed run spent all the same
                raise
            if caller is not None:
                _charge(caller, result)
            if not result.ok:
                raise SubAgentStopped(agent.name, result)
            output = result.output
            return json.dumps(to_wire(output)) if attrs.has(type(output)) else output

        return Tool.from_schema(
            agent.name,
            describe(agent, "team member"),
            AGENT_TOOL_PARAMETERS,
            ask_member,
        )


def _failed_run(error: BaseException) -> RunFailed | None:
    """The :class:`RunFailed` a worker crashed with, if that was the cause."""
    node: BaseException | None = error
    while node is not None:
        if isinstance(node, RunFailed):
            return node
        node = node.__cause__
    return None


def _charge(caller: Any, result: RunResult[Any]) -> None:
    """Charge a member's run (calls, tokens, money) to the caller's chain and totals."""
    spend = Spend(
        total_tokens=result.spent.total_tokens,
        usd=result.spent.usd,
        model_calls=result.spent.model_calls,
        tool_calls=result.spent.tool_calls,
    )
    caller.totals.add(result.usage, result.cost_usd, "")
    broken = caller.ledger.charge(spend)
    if broken is not None:
        caller.tree.stop_for(broken, caller)
