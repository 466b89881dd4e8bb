"""The agent loop: an :class:`AgentActor` per agent, as an Agent scope.

One run, as scopes (each an actor in the nursery tree)::

    Agent scope "lead"                     AgentActor: the loop below
      Llm scope "gpt-4.1"                  ModelCallActor, one per step
      Tool scope "search"  ┐               ToolCallActors, concurrently
      Tool scope "expert"  ┘                 (a sub-agent: its own Agent scope below)
      Llm scope "gpt-4.1"                  the next step
    (a handoff closes this scope and opens the next agent's)

Each step: check the budget, build the request from the working context,
fit it to the window (compressing if needed), call the model, charge the
usage, then either run the tool calls it asked for and loop, or finish
(checking structured output, retrying with the error if it does not fit).

How a run ends (never silently):

- a final answer: ``completed``;
- ``max_steps`` model calls without one: ``max_steps``;
- a budget of this agent (or an ancestor) breaks: the broken ledger's
  owner is cancelled with the :class:`BudgetExceeded` as reason:
  ``budget_exceeded``;
- ``rt.cancel(run_id)``: ``cancelled``, with the reason; if the caller's
  own scope is cancelled instead, trio's ``Cancelled`` propagates (it is
  never swallowed) after the :class:`RunEnded` event is published;
- an error: ``failed`` (``rt.run`` raises :class:`RunFailed`).

Whatever the end, the result keeps the completed work: messages, the
results of tool calls that finished, usage and cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from actrio._ids import ProcessIds
from actrio.actors._exceptions import ScopeTimeout
from actrio.actors._scope import END_EVENT_GRACE, current_scope, open_call_scope
from actrio.adapters.errors import ContextLengthExceeded
from actrio.agents._agent import Agent, handoff_tool_name
from actrio.agents._compress import HARDER, fit_request
from actrio.agents._events import (
    HandedOff,
    ModelCalled,
    OutputRetried,
    RunEnded,
    RunStarted,
    RunStatus,
)
from actrio.agents._model_call import ModelCallActor
from actrio.agents._result import RunResult
from actrio.agents._snapshot import RunSnapshot
from actrio.agents._state import AgentState, RunTree, Totals
from actrio.agents._tool_calls import ToolRound
from actrio.context._budget import BudgetExceeded, BudgetLedger, Spend
from actrio.context._fit import ContextOverflow
from actrio.events import ScopeType
from actrio.messages import Message, ToolCallPart
from actrio.types import ModelRequest, ModelResponse, OutputSchema, OutputValidationError, ToolSpec

if TYPE_CHECKING:
    from actrio.adapters.router import Model
    from actrio.policy._spec import PolicySpec

__all__ = ("AgentActor", "account", "run_tree")

run_ids = ProcessIds("run")

_HANDOFF_PARAMETERS: Final = {"type": "object", "properties": {}, "additionalProperties": False}


async def account(
    state: AgentState, step: int, response: ModelResponse, *, ledger: BudgetLedger | None = None
) -> None:
    """Account for one model call's answer (a summary's too).

    Its tokens and cost are charged up the budget chain (the call itself was
    counted when it was made, in :class:`ModelCallActor`) and to the totals,
    and its :class:`ModelCalled` is published.
    """
    model = response.model or str(state.model.model)
    price = state.tree.runtime.prices.get(model)
    cost = price.cost(response.usage) if price is not None else None
    state.totals.add(response.usage, cost, model)
    spend = Spend(total_tokens=response.usage.total_tokens, usd=cost or 0.0)
    broken = (ledger or state.ledger).charge(spend)
    if broken is not None:
        state.tree.stop_for(broken, state)
    await state.tree.flush()
    await state.tree.system.bus.publish(
        ModelCalled(
            run_id=state.run_id,
            agent=state.agent.name,
            path=state.scope.path if state.scope is not None else "",
            step=step,
            model=model,
            finish_reason=response.finish_reason,
            tool_calls=len(response.tool_calls),
            usage=response.usage,
            cost_usd=cost or 0.0,
        )
    )


@attrs.define(eq=False)
class _Ending:
    """How a segment (one agent between handoffs) ended."""

    status: RunStatus | None = None
    output: Any = None
    reason: str | None = None
    error: BaseException | None = None
    handoff: Agent[Any] | None = None


class AgentActor:
    """The loop of one agent, run as the body of its Agent scope."""

    def __init__(self, state: AgentState) -> None:
        self.state = state

    def _request(self) -> ModelRequest:
        agent = self.state.agent
        tools = [t.spec for t in agent.tools]
        tools += [
            ToolSpec(
                name=handoff_tool_name(target),
                description=f"Hand the conversation to {target.name}: "
                + (target.description or target.instructions.split("\n", 1)[0]),
                parameters=_HANDOFF_PARAMETERS,
            )
            for target in agent.handoffs
        ]
        output = (
            OutputSchema.for_type(agent.output_type)
            if agent.output_type is not None and agent.structured
            else None
        )
        return ModelRequest(
            messages=tuple(self.state.working),
            tools=tools,
            output=output,
            temperature=agent.temperature,
            max_tokens=agent.max_tokens,
            reasoning=agent.reasoning,
        )

    def _append(self, message: Message) -> None:
        self.state.messages.append(message)
        self.state.working.append(message)

    async def run(self, ending: _Ending) -> None:
        """Step until an answer, a limit or a handoff; record how it ended in ``ending``."""
        state = self.state
        agent = state.agent
        if state.pending_calls and await self._tools(state.steps, state.pending_calls, ending):
            return  # a resumed run's unfinished tool calls, first
        while state.steps < agent.max_steps:
            step = state.steps + 1
            response = await self._call(step)
            state.steps = step  # counted once answered: an interrupted call is made again
            self._append(response.message)
            await account(state, step, response)
            calls = response.tool_calls
            if calls:
                if await self._tools(step, calls, ending):
                    return
                continue
            if await self._finish(response, ending):
                return
        ending.status = "max_steps"
        ending.reason = f"no final answer after {agent.max_steps} model calls"

    async def _call(self, step: int) -> ModelResponse:
        """Fit, call; on ContextLengthExceeded compress harder and try once more."""
        state = self.state
        request = await fit_request(state, self._request(), step)
        try:
            response = await ModelCallActor(state, step).run(request)
        except ContextLengthExceeded as error:
            estimate = state.estimator.count(request)
            target = int(estimate * HARDER)
            request = await fit_request(state, self._request(), step, target=target)
            try:
                response = await ModelCallActor(state, step).run(request)
            except ContextLengthExceeded as again:
                raise ContextOverflow(estimate, target) from again
            del error
        calibrate = getattr(state.estimator, "calibrate", None)
        if calibrate is not None:
            calibrate(state.estimator.count(request), response.usage.input_tokens)
        return response

    async def _tools(self, step: int, calls: tuple[Any, ...], ending: _Ending) -> bool:
        """Run the answer's tool calls; return whether the segment ends."""
        state = self.state
        handoffs = {handoff_tool_name(a): a for a in state.agent.handoffs}
        round_ = ToolRound(state, state.tree.host_for(state), step, calls, handoffs)
        round_.keep(state.finished)
        state.pending_calls = calls
        try:
            await round_.run()
        finally:
            if state.run_id in state.tree.interrupted:
                # Kept for the snapshot: finished results stay, the rest run again.
                state.finished = round_.finished()
            else:
                # Cancelled or not, every call is answered: finished results are kept.
                reason = state.scope.cancel_reason if state.scope is not None else None
                self._append(round_.message(reason or "cancelled"))
                state.pending_calls, state.finished = (), {}
        await state.tree.flush()
        failure = round_.first_error()
        if failure is not None and state.agent.on_tool_error == "propagate":
            ending.status = "failed"
            ending.error = failure
            ending.reason = f"a tool call failed: {failure}"
            return True
        target = round_.handoff()
        if target is not None:
            ending.handoff = target
            return True
        return False

    async def _finish(self, response: ModelResponse, ending: _Ending) -> bool:
        """A final answer: check it; return whether the segment ends."""
        agent = self.state.agent
        if not agent.structured:
            ending.status, ending.output = "completed", response.text
            return True
        assert agent.output_type is not None
        try:
            ending.output = response.parse(agent.output_type)
        except OutputValidationError as error:
            self.state.output_retries += 1
            if self.state.output_retries > agent.max_output_retries:
                ending.status, ending.error = "failed", error
                ending.reason = (
                    f"the answer did not fit {agent.output_type.__name__} after "
                    f"{agent.max_output_retries} retries"
                )
                return True
            self._append(Message.user(error.feedback()))
            await self._retried(error)
            return False
        ending.status = "completed"
        return True

    async def _retried(self, error: OutputValidationError) -> None:
        state = self.state
        await state.tree.system.bus.publish(
            OutputRetried(
                run_id=state.run_id,
                agent=state.agent.name,
                path=state.scope.path if state.scope is not None else "",
                attempt=self.state.output_retries,
                errors=tuple(f"{path}: {message}" for path, message in error.errors),
            )
        )


def _status_of(state: AgentState, ending: _Ending) -> None:
    """Settle the status of a segment whose scope was cancelled or timed out."""
    interrupted = state.tree.interrupted.get(state.run_id)
    if interrupted is not None and state.budget_error is None:
        ending.status, ending.reason = "interrupted", interrupted
    elif state.budget_error is not None:
        ending.status, ending.error = "budget_exceeded", state.budget_error
        ending.reason = f"budget exceeded: {state.budget_error}"
    else:
        ending.status = "cancelled"
        ending.reason = state.scope.cancel_reason if state.scope is not None else "cancelled"


async def _segment(state: AgentState, ending: _Ending, *, first: bool) -> None:
    """One agent's scope: run its loop, settle how it ended."""
    tree = state.tree
    scope = None
    try:
        async with open_call_scope(
            tree.system,
            current_scope(),
            state.agent.name,
            ScopeType.AGENT,
            data={"run_id": state.run_id, "agent": state.agent.name},
            deadline=state.deadline,  # the run's, across handoffs
        ) as scope:
            state.scope = scope
            tree.owners[state.ledger.path] = state
            tree.states[state.run_id] = state
            early = tree.cancelled.pop(state.run_id, None)
            if early is not None:
                scope.cancel(early)
            if first:
                await tree.system.bus.publish(
                    RunStarted(
                        run_id=state.run_id,
                        agent=state.agent.name,
                        path=scope.path,
                        parent_run_id=state.parent_run_id,
                    )
                )
            token = state.enter()
            try:
                await AgentActor(state).run(ending)
            finally:
                state.leave(token)
            if ending.status == "failed" and ending.error is not None:
                raise ending.error  # the scope ends in error too; the run records it
    except ScopeTimeout:
        limit = state.ledger.limit.seconds or 0.0
        state.budget_error = state.budget_error or BudgetExceeded(
            path=state.ledger.path, field="seconds", limit=limit, spent=limit
        )
    if scope is not None and (scope.cancelled_caught or state.budget_error is not None):
        _status_of(state, ending)


async def run_tree(
    tree: RunTree,
    agent: Agent[Any],
    model: Model,
    messages: list[Message],
    ledger: BudgetLedger,
    *,
    run_id: str,
    parent_run_id: str | None = None,
    parent_totals: Totals | None = None,
    inputs: dict[str, Any] | None = None,
    inherited: tuple[PolicySpec, ...] = (),
    resume: RunSnapshot | None = None,
) -> RunResult[Any]:
    """Run ``agent`` (and whoever it hands off to) on ``messages``; return the result.

    With ``resume``, go on from that snapshot instead (``agent`` is the one
    that was running; ``messages`` are ignored).

    A ``Cancelled`` from outside (the caller's scope) propagates after the
    :class:`RunEnded` event; every other end is a :class:`RunResult`.
    """
    tree.run_ids.add(run_id)
    tree.runtime._runs[run_id] = tree  # rt.cancel(run_id) reaches it
    totals = Totals(parent=parent_totals)
    state = AgentState(
        tree=tree,
        run_id=run_id,
        parent_run_id=parent_run_id,
        agent=agent,
        model=model,
        ledger=ledger,
        messages=list(messages),
        working=list(messages),
        totals=totals,
        inputs=inputs,
        inherited=inherited,
    )
    if agent.estimator is not None:
        state.estimator = agent.estimator
    seconds = ledger.remaining().seconds
    if seconds is not None:
        state.deadline = trio.current_time() + seconds
    steps = 0
    if resume is not None:
        steps = resume.steps - resume.agent_steps
        _restore(state, resume)
    first = True
    try:
        while True:
            ending = _Ending()
            try:
                await _segment(state, ending, first=first)
            except Exception as error:  # noqa: BLE001  # the run failed; reported in its result
                if ending.error is not error:
                    ending.reason = f"{type(error).__name__}: {error}"
                ending.status, ending.error = "failed", error
            steps += state.steps
            first = False
            if ending.handoff is None or ending.status is not None:
                break
            state = await _hand_off(state, ending.handoff, tree)
    except BaseException:
        reason = "cancelled from outside the run"
        # Whoever still listens (a RunStream's reader) gets the completed work.
        tree.results[run_id] = _result(
            state, totals, ledger, _Ending(status="cancelled", reason=reason), steps + state.steps
        )
        with trio.CancelScope(shield=True):
            await _ended(state, "cancelled", reason, steps + state.steps)
        raise
    finally:
        tree.runtime._runs.pop(run_id, None)
        tree.states.pop(run_id, None)
    await _ended(state, ending.status or "failed", ending.reason, steps)
    return _result(state, totals, ledger, ending, steps)


def _result(
    state: AgentState, totals: Totals, ledger: BudgetLedger, ending: _Ending, steps: int
) -> RunResult[Any]:
    status: RunStatus = ending.status or "failed"
    snapshot = _snapshot(state, steps, ending.reason) if status == "interrupted" else None
    return RunResult(
        run_id=state.run_id,
        agent=state.agent.name,
        status=status,
        output=ending.output if status == "completed" else None,
        messages=tuple(state.messages),
        usage=totals.usage,
        cost_usd=totals.cost_usd,
        steps=steps,
        reason=ending.reason,
        error=ending.error,
        unpriced_models=tuple(sorted(totals.unpriced)),
        snapshot=snapshot,
        spent=ledger.spent,
    )


def _restore(state: AgentState, snapshot: RunSnapshot) -> None:
    """Put a snapshot's progress back into a fresh state."""
    state.messages = list(snapshot.messages)
    state.working = list(snapshot.working)
    state.steps = snapshot.agent_steps
    state.output_retries = snapshot.output_retries
    state.pending_calls = snapshot.pending_calls
    state.finished = {part.tool_call_id: part for part in snapshot.finished}
    state.totals.usage = snapshot.usage
    state.totals.cost_usd = snapshot.cost_usd
    state.totals.unpriced.update(snapshot.unpriced_models)


def _unanswered(state: AgentState) -> tuple[ToolCallPart, ...]:
    """The calls of the last answer that no tool message answers yet."""
    if state.pending_calls:
        return state.pending_calls
    last = state.messages[-1] if state.messages else None
    if last is not None and last.role == "assistant":
        return last.tool_calls  # interrupted between the answer and its tool round
    return ()


def _snapshot(state: AgentState, steps: int, reason: str | None) -> RunSnapshot:
    root = state.ledger.chain()[-1]
    return RunSnapshot(
        run_id=state.run_id,
        agent=state.agent.name,
        messages=tuple(state.messages),
        working=tuple(state.working),
        steps=steps,
        agent_steps=state.steps,
        usage=state.totals.usage,
        cost_usd=state.totals.cost_usd,
        unpriced_models=tuple(sorted(state.totals.unpriced)),
        budget=root.limit,
        spent=root.spent,
        pending_calls=_unanswered(state),
        finished=tuple(state.finished.values()),
        output_retries=state.output_retries,
        inputs=state.inputs,
        reason=reason or "interrupted",
    )


async def _hand_off(state: AgentState, target: Agent[Any], tree: RunTree) -> AgentState:
    """Continue the conversation with ``target``: its own instructions, the same history."""
    await tree.system.bus.publish(
        HandedOff(
            run_id=state.run_id,
            agent=state.agent.name,
            path=state.scope.path if state.scope is not None else "",
            to_agent=target.name,
        )
    )
    history = [m for m in state.messages if m.role != "system"]
    if target.instructions:
        history.insert(0, Message.system(target.instructions))
    model = tree.runtime._model(target.model) or state.model
    next_state = AgentState(
        tree=tree,
        run_id=state.run_id,
        parent_run_id=state.parent_run_id,
        agent=target,
        model=model,
        ledger=state.ledger,
        messages=history,
        working=list(history),
        totals=state.totals,
        inputs=state.inputs,
        inherited=state.inherited,
        deadline=state.deadline,
    )
    if target.estimator is not None:
        next_state.estimator = target.estimator
    return next_state


async def _ended(state: AgentState, status: RunStatus, reason: str | None, steps: int) -> None:
    await state.tree.flush()
    await state.tree.system.bus.publish_within(
        RunEnded(
            run_id=state.run_id,
            agent=state.agent.name,
            path=state.scope.path if state.scope is not None else "",
            status=status,
            reason=reason,
            steps=steps,
            usage=state.totals.usage,
            cost_usd=state.totals.cost_usd,
            parent_run_id=state.parent_run_id,
        ),
        END_EVENT_GRACE,
    )
