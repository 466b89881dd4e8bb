"""Tool-call actors: the tool calls of one answer, run concurrently, answered in order.

Each call the model asked for becomes a :class:`ToolCallActor`: a task in the
agent scope's nursery that runs the runtime's tool-call path (its own Tool
scope, the policy actor asked first; see :mod:`actrio.actors._tool_call`)
and sends its :class:`ToolOutcome` to the agent over a memory channel. At
most ``tool_concurrency`` run at once. The agent answers every call, in the
model's order, whatever finished first.

With ``on_tool_error="isolate"`` (the default) a failure (denied, invalid
arguments, unknown tool, timeout, an exception in the tool, a sub-agent that
stopped) becomes an error result for the model; its siblings run on. With
``"propagate"`` the siblings still finish, every result is kept, and then the
run fails with the first failure.

If the agent is cancelled meanwhile, the calls still running are cancelled
with it, and the transcript gets their error results ("cancelled") beside
the finished ones, so no completed work is lost and the conversation stays
well formed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from actrio.actors import _hooks
from actrio.actors._tool_call import ToolHost, call_tool
from actrio.agents._agent import Agent
from actrio.agents._events import ToolCallEnded, ToolCallStarted
from actrio.agents._state import AgentState
from actrio.context._budget import Spend
from actrio.messages import Message, ToolCallPart, ToolResultPart
from actrio.middleware._exceptions import GuardrailBlocked, MiddlewareError
from actrio.tools.errors import ToolError, ToolFailed

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("ToolCallActor", "ToolOutcome", "ToolRound", "error_text")

_EVENT_OUTPUT: Final = 1000
"""Characters of a tool's output a :class:`ToolCallEnded` event carries."""


@attrs.frozen(kw_only=True)
class ToolOutcome:
    """What a tool-call actor sends its agent.

    Attributes:
        index: The call's position in the model's answer.
        part: The result for the model.
        error: The failure, if it failed (``None`` on success).
        handoff: The agent to hand off to, for a handoff call.
    """

    index: int
    part: ToolResultPart
    error: BaseException | None = attrs.field(default=None, eq=False)
    handoff: Agent[Any] | None = attrs.field(default=None, eq=False)


def error_text(error: BaseException) -> str:
    """What the model is told about a failed call (never a tool's exception text)."""
    feedback = getattr(error, "feedback", None)
    if isinstance(error, ToolError | GuardrailBlocked) and callable(feedback):
        return str(feedback())
    if isinstance(error, ToolFailed | MiddlewareError):
        return f"Error: {error}"
    if isinstance(error, ToolError | GuardrailBlocked):
        return f"Error: {error}"
    return f"Error: the tool call failed ({type(error).__name__})"


class ToolCallActor:
    """Runs one tool call of an answer and reports its outcome to the agent."""

    def __init__(  # noqa: PLR0917 - internal, built in one place
        self,
        state: AgentState,
        host: ToolHost,
        step: int,
        index: int,
        call: ToolCallPart,
        handoffs: dict[str, Agent[Any]],
    ) -> None:
        self.state = state
        self.host = host
        self.step = step
        self.index = index
        self.call = call
        self.handoffs = handoffs

    async def run(
        self,
        limiter: trio.CapacityLimiter,
        send: trio.MemorySendChannel[ToolOutcome],
        record: Callable[[ToolOutcome], None],
    ) -> None:
        """Run the call (when the limiter lets it) and send the outcome.

        ``record`` keeps the outcome the moment it is known (synchronously),
        so a cancellation on the way back cannot lose a call that finished;
        the message on ``send`` (whose buffer holds every call's) follows.
        """
        self._record = record
        async with send, limiter:
            outcome = await self._outcome()
            record(outcome)
            send.send_nowait(outcome)

    def _result(self, content: str, *, error: BaseException | None = None) -> ToolOutcome:
        part = ToolResultPart(
            tool_call_id=self.call.id,
            content=content,
            is_error=error is not None,
            name=self.call.name,
        )
        return ToolOutcome(index=self.index, part=part, error=error)

    async def _outcome(self) -> ToolOutcome:
        call, state = self.call, self.state
        if not call.executable:
            why = call.problem or "the call was cut short (the answer hit its token limit)"
            return self._result(f"Error: not run: {why}", error=ToolError(why))
        target = self.handoffs.get(call.name)
        if target is not None:
            part = ToolResultPart(
                tool_call_id=call.id, content=f"Transferred to {target.name}.", name=call.name
            )
            return ToolOutcome(index=self.index, part=part, handoff=target)
        broken = state.refuse(Spend(tool_calls=1))
        if broken is not None:
            return self._result(f"Error: not run: budget exceeded ({broken})", error=broken)
        state.ledger.charge(Spend(tool_calls=1))  # cannot break: refused just above
        path = state.scope.path if state.scope is not None else ""
        bus = state.tree.system.bus
        await bus.publish(
            ToolCallStarted(
                run_id=state.run_id,
                agent=state.agent.name,
                path=path,
                step=self.step,
                call_id=call.id,
                tool=call.name,
            )
        )
        arguments: dict[str, Any] = dict(call.arguments)
        error: BaseException | None = None
        try:
            if _hooks.has_hooks(state.scope):
                arguments = await _hooks.before_tool_call(call.name, arguments, state.scope)
            result = await call_tool(
                self.host,
                call.name,
                arguments,
                call_id=call.id,
                inputs=state.inputs,
                on_result=lambda done: self._record(self._result(done.output.text)),
            )
            output = result.output.text
        except Exception as failure:  # noqa: BLE001  # isolated into the result; see below
            error = failure
            output = self.host.redactor.text(error_text(failure))
        if _hooks.has_hooks(state.scope):
            output = await self._after(arguments, output, error)
        await bus.publish(
            ToolCallEnded(
                run_id=state.run_id,
                agent=state.agent.name,
                path=path,
                step=self.step,
                call_id=call.id,
                tool=call.name,
                is_error=error is not None,
                error_type=type(error).__name__ if error is not None else None,
                output=output[:_EVENT_OUTPUT],
            )
        )
        return self._result(output, error=error)

    async def _after(
        self, arguments: dict[str, Any], output: str, error: BaseException | None
    ) -> str:
        try:
            return await _hooks.after_tool_call(
                self.call.name, arguments, output, error, self.state.scope
            )
        except MiddlewareError as failure:
            return error_text(failure)


@attrs.define(eq=False)
class ToolRound:
    """The tool calls of one answer: run them, collect the outcomes in order."""

    state: AgentState
    host: ToolHost
    step: int
    calls: tuple[ToolCallPart, ...]
    handoffs: dict[str, Agent[Any]]
    outcomes: list[ToolOutcome | None] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.outcomes = [None] * len(self.calls)

    def keep(self, finished: dict[str, ToolResultPart]) -> None:
        """Take results of calls that finished before (a resumed run): they do not run again."""
        for index, call in enumerate(self.calls):
            part = finished.get(call.id)
            if part is not None:
                handoff = self.handoffs.get(call.name)
                self.outcomes[index] = ToolOutcome(index=index, part=part, handoff=handoff)

    def finished(self) -> dict[str, ToolResultPart]:
        """The results so far, by call id."""
        return {o.part.tool_call_id: o.part for o in self.outcomes if o is not None}

    async def run(self) -> None:
        """Run every call not yet answered; return when all have (or raise if cancelled)."""
        limiter = trio.CapacityLimiter(self.state.agent.tool_concurrency)
        send, receive = trio.open_memory_channel[ToolOutcome](len(self.calls))
        async with trio.open_nursery() as nursery, receive:
            async with send:
                for index, call in enumerate(self.calls):
                    if self.outcomes[index] is not None:
                        continue
                    actor = ToolCallActor(
                        self.state, self.host, self.step, index, call, self.handoffs
                    )
                    nursery.start_soon(
                        actor.run, limiter, send.clone(), self._keep, name=f"tool:{call.name}"
                    )
            async for outcome in receive:
                self._keep(outcome)

    def _keep(self, outcome: ToolOutcome) -> None:
        self.outcomes[outcome.index] = outcome

    def message(self, reason: str = "cancelled") -> Message:
        """The tool message answering every call, in order; unfinished ones say ``reason``."""
        parts = [
            outcome.part
            if outcome is not None
            else ToolResultPart(
                tool_call_id=call.id,
                content=f"Error: not completed: {reason}",
                is_error=True,
                name=call.name,
            )
            for call, outcome in zip(self.calls, self.outcomes, strict=True)
        ]
        return Message(role="tool", parts=tuple(parts))

    def first_error(self) -> BaseException | None:
        """The first failure in the model's order, if any."""
        for outcome in self.outcomes:
            if outcome is not None and outcome.error is not None:
                return outcome.error
        return None

    def handoff(self) -> Agent[Any] | None:
        """The first handoff asked for, in the model's order."""
        for outcome in self.outcomes:
            if outcome is not None and outcome.handoff is not None:
                return outcome.handoff
        return None
