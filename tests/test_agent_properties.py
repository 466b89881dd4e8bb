"""Property tests of the agent loop: random scripts, tool failures, delays, cancels, budgets.

Each hypothesis example runs its own ``trio.run`` on a virtual clock
(``MockClock(autojump_threshold=0)``) from a sync ``@given`` test, as in
``test_scope_properties.py``. A script is a list of model turns, each asking
for 1-4 calls of a tool that sleeps a random whole number of virtual seconds
and maybe raises, then a final text turn; ``tool_concurrency``, the model's
delays and its reported usage are random too. Model and tool activity
happens at whole seconds only, and cancels at half seconds, so "before" and
"after" a cancel are never the same instant.

Invariants (the issue's words):

1. every started scope ends: one ``ScopeEnded`` per ``ScopeStarted`` (by
   uuid), children end before their parents (TRIO-4);
2. no tool runs after its run is cancelled: once ``rt.cancel`` returned, no
   tool body starts and none resumes past its sleep; status ``cancelled``
   with the reason (S-13, TRIO-1);
3. budgets are never exceeded by more than one in-flight call; the status
   is ``budget_exceeded`` exactly when a limit broke;
4. completed work is in the result: each call the model asked for is
   answered by exactly one result, in the model's order; a body that
   returned has its exact output there; a raising tool is an error result
   (never the exception's text) beside its siblings' results (ANT-3);
5. a cancelled run never reports success.

Sub-agents: a child's spending never exceeds its grant, and the parent's
totals include the child's usage.

Two bugs these properties found are pinned at the end as regression tests:
a result whose body returned was dropped when the run stopped at that very
instant, and concurrent sub-agents could overspend ``model_calls`` (a model
call is now counted when it is made, with no await between check and charge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import attrs
import pytest
import trio
import trio.testing
from hypothesis import event, given, settings
from hypothesis import strategies as st

import actrio
from actrio.agents import (
    AgentTextDelta,
    ModelCalled,
    RunEnded,
    RunFailed,
    RunResult,
    ToolCallEnded,
    ToolCallStarted,
)
from actrio.context import BudgetCharged, BudgetExhausted, BudgetGranted, Spend
from actrio.kernel import Event
from actrio.messages import Message, ToolResultPart
from actrio.testing import FunctionModel, ScriptedModel, ToolCall, Turn
from actrio.tools import ToolFailed
from actrio.types import ModelRequest, Usage

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

REASON = "the user pressed stop"
FINAL = "all done"


def run_virtual(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


class ToolBoom(Exception):
    """What a failing tool raises; its text must never reach the model."""


# ---------------------------------------------------------------- scripts


@attrs.frozen
class Call:
    """One tool call of a script: how long its body sleeps, and whether it then raises."""

    delay: int
    fails: bool


@attrs.frozen
class Script:
    """A run's script: tool rounds, then a final text; delays and usage per turn."""

    rounds: tuple[tuple[Call, ...], ...]
    delays: tuple[int, ...]  # one per turn (len(rounds) + 1)
    usages: tuple[Usage, ...]  # one per turn
    concurrency: int
    chunks: int = 1  # of the final answer, ``delay`` apart: a cancel may land mid-stream

    @property
    def calls(self) -> list[Call]:
        return [call for round_ in self.rounds for call in round_]

    def ids(self, index: int) -> list[str]:
        """The call ids of round ``index`` (``c<n>``, n numbering every call of the script)."""
        first = sum(len(r) for r in self.rounds[:index])
        return [f"c{first + k}" for k in range(len(self.rounds[index]))]

    def turns(self) -> list[Turn]:
        turns: list[Turn] = []
        n = 0
        for i, round_ in enumerate(self.rounds):
            calls = []
            for call in round_:
                arguments = {"n": n, "delay": call.delay, "fails": call.fails}
                calls.append(ToolCall(name="work", arguments=arguments, id=f"c{n}"))
                n += 1
            turns.append(Turn.tool_calls(calls, delay=self.delays[i], usage=self.usages[i]))
        final = Turn.text(FINAL, chunks=self.chunks, delay=self.delays[-1], usage=self.usages[-1])
        turns.append(final)
        return turns


tool_calls = st.builds(Call, delay=st.integers(0, 3), fails=st.booleans())
usages = st.builds(Usage, input_tokens=st.integers(1, 30), output_tokens=st.integers(1, 10))


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    rounds = draw(st.lists(st.lists(tool_calls, min_size=1, max_size=4).map(tuple), max_size=4))
    turns = len(rounds) + 1
    return Script(
        rounds=tuple(rounds),
        delays=tuple(draw(st.lists(st.integers(0, 2), min_size=turns, max_size=turns))),
        usages=tuple(draw(st.lists(usages, min_size=turns, max_size=turns))),
        concurrency=draw(st.integers(1, 4)),
        chunks=draw(st.integers(1, 3)),
    )


# ---------------------------------------------------------------- playing


@attrs.define
class Played:
    """What one run did, seen from outside and from inside the tool bodies."""

    script: Script
    model: ScriptedModel
    ended: RunResult[Any] | None = None
    raised: RunFailed | None = None
    streamed: list[Event] = attrs.field(factory=list)
    events: list[Event] = attrs.field(factory=list)
    log: list[tuple[str, int, float]] = attrs.field(factory=list)  # (what, n, when)
    cancel_returned: bool | None = None
    cancelled_at: float | None = None
    asked_before_cancel: int = 0  # model requests made when rt.cancel returned
    ended_at: float | None = None  # when the stream ended
    most_at_once: int = 0

    @property
    def result(self) -> RunResult[Any]:
        assert self.ended is not None, "the run has not ended"
        return self.ended

    def times(self, what: str) -> dict[int, float]:
        return {n: at for kind, n, at in self.log if kind == what}


def work_tool(played: Played) -> actrio.Tool:
    running = [0]

    @actrio.tool
    async def work(n: int, delay: int, fails: bool) -> str:
        """Sleep ``delay`` virtual seconds, then fail or return ``done-<n>``."""
        played.log.append(("start", n, trio.current_time()))
        running[0] += 1
        played.most_at_once = max(played.most_at_once, running[0])
        try:
            await trio.sleep(delay)
            played.log.append(("resume", n, trio.current_time()))
        finally:
            running[0] -= 1
        if fails:
            played.log.append(("raise", n, trio.current_time()))
            raise ToolBoom(f"secret-{n}")
        played.log.append(("return", n, trio.current_time()))
        return f"done-{n}"

    return work


async def play(
    script: Script,
    *,
    budget: actrio.Budget | None = None,
    on_tool_error: Literal["isolate", "propagate"] = "isolate",
    cancel_at: float | None = None,
) -> Played:
    model = ScriptedModel(script.turns())
    played = Played(script=script, model=model)
    agent = actrio.Agent(
        "worker",
        "Do the work.",
        model,
        tools=[work_tool(played)],
        tool_concurrency=script.concurrency,
        on_tool_error=on_tool_error,
    )

    async with actrio.open_runtime() as rt:
        rt.subscribe(played.events.append)
        stream = rt.stream(agent, "go", budget=budget)

        async def canceller() -> None:
            assert cancel_at is not None
            await trio.sleep(cancel_at)
            played.cancel_returned = rt.cancel(stream.run_id, REASON)
            played.cancelled_at = trio.current_time()
            played.asked_before_cancel = len(model.requests)
            played.log.append(("cancel", -1, played.cancelled_at))

        async with stream, trio.open_nursery() as nursery:
            if cancel_at is not None:
                nursery.start_soon(canceller)
            try:
                async for item in stream:
                    played.streamed.append(item)
            except RunFailed as failure:
                played.raised = failure
            played.ended_at = trio.current_time()
            nursery.cancel_scope.cancel()
        assert stream.result is not None
        played.ended = stream.result
    return played


# ---------------------------------------------------------------- invariants


def check_scopes(events: list[Event]) -> None:
    """Invariant 1: one ScopeEnded per ScopeStarted; children end before their parents."""
    started: dict[str, tuple[int, actrio.ScopeStarted]] = {}
    ended: dict[str, list[int]] = {}
    for i, item in enumerate(events):
        if isinstance(item, actrio.ScopeStarted):
            assert item.uuid not in started, f"scope {item.path} started twice"
            started[item.uuid] = (i, item)
        elif isinstance(item, actrio.ScopeEnded):
            assert item.uuid in started, f"scope {item.path} ended without starting"
            assert started[item.uuid][1].path == item.path
            ended.setdefault(item.uuid, []).append(i)
    assert started, "a run opens scopes"
    for uuid, (i, start) in started.items():
        assert len(ended.get(uuid, [])) == 1, f"scope {start.path} ended {ended.get(uuid)}"
        parent = start.parent_uuid
        if parent is not None and parent in started:
            assert started[parent][0] < i, f"{start.path} started before its parent"
            assert ended[uuid][0] < ended[parent][0], f"{start.path} ended after its parent"


def tool_results(messages: tuple[Message, ...]) -> dict[str, list[ToolResultPart]]:
    results: dict[str, list[ToolResultPart]] = {}
    for message in messages:
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                results.setdefault(part.tool_call_id, []).append(part)
    return results


def check_transcript(played: Played, *, dropped: str | None = None) -> None:
    """Invariant 4: every call answered once, in order; finished work kept exactly.

    ``dropped``: a prefix a finished call's result may have instead of its
    outcome, for runs stopped at the very instant a sibling finished (the
    bug pinned by ``test_a_result_that_returned_before_the_cancel_is_kept``).
    """
    messages = played.result.messages
    asked: list[list[str]] = []
    for i, message in enumerate(messages):
        calls = message.tool_calls if message.role == "assistant" else ()
        if not calls:
            assert message.role != "tool" or (
                messages[i - 1].role == "assistant" and messages[i - 1].tool_calls
            ), f"a tool message without calls before it at {i}"
            continue
        ids = [c.id for c in calls]
        asked.append(ids)
        assert i + 1 < len(messages), f"calls {ids} were never answered"
        answer = messages[i + 1]
        assert answer.role == "tool", f"calls {ids} answered by a {answer.role} message"
        got = [p.tool_call_id for p in answer.parts if isinstance(p, ToolResultPart)]
        assert got == ids, f"answers {got} for calls {ids}"
    # the model's rounds, in the model's order
    assert asked == [played.script.ids(i) for i in range(len(asked))]
    results = tool_results(messages)
    returned, raised = played.times("return"), played.times("raise")
    started = played.times("start")
    for n in range(len(played.script.calls)):
        parts = results.get(f"c{n}", [])
        assert len(parts) <= 1, f"c{n} answered {len(parts)} times"
        finished = n in returned or n in raised
        if finished and dropped and parts and parts[0].content.startswith(dropped):
            event("a finished call's result was dropped by the stop")
            continue
        if n in returned:
            assert parts, f"c{n} returned but its result is not in the messages"
            assert parts[0].content == f"done-{n}", parts[0]
            assert not parts[0].is_error
        elif parts:
            assert parts[0].is_error, f"c{n} did not return, yet {parts[0]}"
            assert f"secret-{n}" not in parts[0].content, "the exception's text leaked"
            assert parts[0].content.startswith("Error"), parts[0]
        if n in raised and parts:
            assert parts[0].content == "Error: tool 'work' failed with ToolBoom", parts[0]
        if n not in started:
            assert not any(p.content == f"done-{n}" for p in parts)


def check_common(played: Played, *, dropped: str | None = None) -> None:
    """What every run keeps: scopes, transcript, concurrency, one RunEnded that agrees."""
    check_scopes(played.events)
    check_transcript(played, dropped=dropped)
    event(f"status: {played.result.status}")
    assert played.most_at_once <= played.script.concurrency
    ends = [e for e in played.events if isinstance(e, RunEnded)]
    assert len(ends) == 1, ends
    assert ends[0].status == played.result.status
    assert ends[0].usage == played.result.usage
    assert (played.raised is not None) == (played.result.status == "failed")
    if played.streamed:  # rt.stream: the run's events, ending with its RunEnded
        assert played.streamed[-1] == ends[0]
        assert all(getattr(e, "run_id", None) == ends[0].run_id for e in played.streamed)
    if played.result.status != "completed":
        assert played.result.output is None
        assert played.result.reason


def charged_tokens(played: Played) -> int:
    """Tokens of the model calls that were charged (in the order they were made)."""
    calls = [e for e in played.events if isinstance(e, BudgetCharged)]
    return sum(e.spend.total_tokens for e in calls)


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(script=scripts())
def test_uncancelled_runs_answer_every_call_and_end_every_scope(script: Script) -> None:
    """Invariants 1 and 4 with random failures (isolated), delays and concurrency."""

    async def main() -> None:
        played = await play(script)
        check_common(played)
        result = played.result
        assert result.status == "completed", result.reason
        assert result.output == FINAL
        deltas = [e.text for e in played.streamed if isinstance(e, AgentTextDelta)]
        assert "".join(deltas) == FINAL
        assert len(deltas) == min(script.chunks, len(FINAL))
        assert len(played.model.requests) == len(script.rounds) + 1 == result.steps
        # each call ran exactly once; its siblings' failures did not stop it
        assert sorted(played.times("start")) == list(range(len(script.calls)))
        for n, call in enumerate(script.calls):
            assert (n in played.times("raise")) == call.fails
        ended = {e.call_id: e for e in played.events if isinstance(e, ToolCallEnded)}
        assert sorted(ended) == sorted(f"c{n}" for n in range(len(script.calls)))
        for n, call in enumerate(script.calls):
            assert ended[f"c{n}"].is_error == call.fails
            assert ended[f"c{n}"].error_type == ("ToolFailed" if call.fails else None)
        assert result.usage == sum(script.usages, Usage())
        assert charged_tokens(played) == result.usage.total_tokens

    run_virtual(main)


@settings(max_examples=300, deadline=None)
@given(script=scripts(), cancel_at=st.integers(0, 14).map(lambda s: s + 0.5))
def test_no_tool_runs_after_its_run_is_cancelled(script: Script, cancel_at: float) -> None:
    """Invariants 2, 5 (and 1, 4 under cancellation): rt.cancel stops the tools at once."""

    async def main() -> None:
        played = await play(script, cancel_at=cancel_at)
        check_common(played)
        result = played.result
        if played.cancel_returned is None:
            # the run ended before the canceller woke
            assert result.status == "completed"
            return
        at = played.cancelled_at
        assert at == cancel_at
        if not played.cancel_returned:
            assert result.status == "completed", "rt.cancel said no run was running"
            return
        assert result.status == "cancelled", (result.status, result.reason)
        assert result.reason == REASON
        for what in ("start", "resume", "return", "raise"):
            late = {n: t for n, t in played.times(what).items() if t > at}
            assert not late, f"tool bodies {what} after the cancel at {at}: {late}"
        # the model is not asked again, and the run ends at once (no virtual time passes)
        assert len(played.model.requests) == played.asked_before_cancel
        assert played.ended_at == at
        assert FINAL not in [m.text for m in result.messages if m.role == "assistant"]
        assert result.steps == len([e for e in played.events if isinstance(e, ModelCalled)])
        started, finished = played.times("start"), played.times("resume")
        if any(n not in finished for n in started):
            event("cancelled while a tool slept")

    run_virtual(main)


@settings(max_examples=300, deadline=None)
@given(script=scripts(), limit=st.integers(0, 8))
def test_a_tool_call_budget_bounds_the_tools_that_run(script: Script, limit: int) -> None:
    """Invariant 3 for Budget(tool_calls=k): at most k bodies run; exceeded iff asked for more."""

    async def main() -> None:
        played = await play(script, budget=actrio.Budget(tool_calls=limit))
        check_common(played)
        result = played.result
        assert len(played.times("start")) <= limit
        begun = [e for e in played.events if isinstance(e, ToolCallStarted)]
        assert len(begun) <= limit
        asked = len(script.calls)
        if asked > limit:
            assert result.status == "budget_exceeded", result.reason
            assert "tool_calls" in (result.reason or "")
            # the round that broke it is the last the model was asked for
            total, breaking = 0, 0
            for i, round_ in enumerate(script.rounds):
                total += len(round_)
                if total > limit:
                    breaking = i
                    break
            assert len(played.model.requests) == breaking + 1
        else:
            assert result.status == "completed", result.reason
            assert len(played.times("start")) == asked

    run_virtual(main)


@settings(max_examples=300, deadline=None)
@given(script=scripts(), limit=st.integers(0, 6))
def test_a_model_call_budget_bounds_the_model_calls(script: Script, limit: int) -> None:
    """Invariant 3 for Budget(model_calls=k): at most k requests; exceeded iff more were needed."""

    async def main() -> None:
        played = await play(script, budget=actrio.Budget(model_calls=limit))
        check_common(played)
        result = played.result
        turns = len(script.rounds) + 1
        assert len(played.model.requests) == min(limit, turns)
        if turns > limit:
            assert result.status == "budget_exceeded", result.reason
            assert "model_calls" in (result.reason or "")
        else:
            assert result.status == "completed", result.reason

    run_virtual(main)


def token_oracle(script: Script, limit: int) -> tuple[int, bool]:
    """How many model calls a total_tokens limit lets through, and whether it breaks."""
    spent = 0
    for i, usage in enumerate(script.usages):
        if spent + 1 > limit:  # the loop refuses a call that cannot fit one token
            return i, True
        spent += usage.total_tokens
        if spent > limit:
            return i + 1, True
    return len(script.usages), False


@settings(max_examples=300, deadline=None)
@given(script=scripts(), limit=st.integers(0, 150))
def test_a_token_budget_is_exceeded_by_one_call_at_most(script: Script, limit: int) -> None:
    """Invariant 3 for Budget(total_tokens=k): spent <= k + the last call's tokens."""

    async def main() -> None:
        played = await play(script, budget=actrio.Budget(total_tokens=limit))
        check_common(played)
        result = played.result
        calls, breaks = token_oracle(script, limit)
        assert len(played.model.requests) == calls
        spent = result.usage.total_tokens
        assert spent == sum(u.total_tokens for u in script.usages[:calls])
        assert charged_tokens(played) == spent
        if calls:
            assert spent <= limit + script.usages[calls - 1].total_tokens
        if breaks:
            assert result.status == "budget_exceeded", result.reason
            assert "total_tokens" in (result.reason or "")
        else:
            assert result.status == "completed", result.reason
            assert spent <= limit

    run_virtual(main)


@settings(max_examples=300, deadline=None)
@given(script=scripts())
def test_a_propagated_tool_failure_fails_the_run_and_keeps_the_siblings(script: Script) -> None:
    """Invariant 4 with on_tool_error="propagate": RunFailed, siblings' results kept."""

    async def main() -> None:
        played = await play(script, on_tool_error="propagate")
        check_common(played)
        failing = next((i for i, r in enumerate(script.rounds) if any(c.fails for c in r)), None)
        if failing is None:
            assert played.result.status == "completed"
            return
        assert played.raised is not None
        assert played.raised.result is played.result
        assert isinstance(played.raised.__cause__, ToolFailed)
        assert played.result.status == "failed"
        # no model call after the failing round, and every sibling of it finished
        assert len(played.model.requests) == failing + 1
        results = tool_results(played.result.messages)
        for call_id, call in zip(script.ids(failing), script.rounds[failing], strict=True):
            (part,) = results[call_id]
            assert part.is_error == call.fails
            if not call.fails:
                assert part.content == f"done-{call_id[1:]}"

    run_virtual(main)


@st.composite
def failing_rounds(draw: st.DrawFn) -> Script:
    """One round of up to four calls, at least one of them failing, then the final text."""
    calls = draw(st.lists(tool_calls, max_size=3))
    calls.insert(draw(st.integers(0, len(calls))), Call(delay=draw(st.integers(0, 3)), fails=True))
    return Script(
        rounds=(tuple(calls),),
        delays=(0, 0),
        usages=(draw(usages), draw(usages)),
        concurrency=draw(st.integers(1, 4)),
    )


@settings(max_examples=50, deadline=None)
@given(script=failing_rounds())
def test_rt_run_raises_run_failed_with_the_siblings_results(script: Script) -> None:
    """``rt.run`` raises RunFailed for a propagated failure; ``.result`` keeps the round."""

    async def main() -> None:
        model = ScriptedModel(script.turns())
        played = Played(script=script, model=model)
        agent = actrio.Agent(
            "worker",
            model=model,
            tools=[work_tool(played)],
            tool_concurrency=script.concurrency,
            on_tool_error="propagate",
        )
        async with actrio.open_runtime() as rt:
            with pytest.raises(RunFailed) as caught:
                await rt.run(agent, "go")
        played.ended = caught.value.result
        assert played.result.status == "failed"
        assert played.result.reason == (f"a tool call failed: {caught.value.__cause__}")
        assert len(model.requests) == 1
        check_transcript(played)
        results = tool_results(played.result.messages)
        for call_id, call in zip(script.ids(0), script.rounds[0], strict=True):
            (part,) = results[call_id]
            assert part.is_error == call.fails
            assert part.content == (
                "Error: tool 'work' failed with ToolBoom" if call.fails else f"done-{call_id[1:]}"
            )

    run_virtual(main)


# ---------------------------------------------------------------- sub-agents


@attrs.frozen
class Delegation:
    """A parent that delegates to a sub-agent under random budgets."""

    rounds: tuple[int, ...]  # sub-agent calls per parent round
    chores: int  # tool calls each sub-agent run makes before answering
    child_delay: int
    parent_budget: actrio.Budget
    child_budget: actrio.Budget
    concurrency: int


def budgets(*, most: int) -> st.SearchStrategy[actrio.Budget]:
    small = st.none() | st.integers(0, most)
    return st.builds(
        actrio.Budget,
        model_calls=small,
        tool_calls=small,
        total_tokens=st.none() | st.integers(0, 12 * most),
    )


delegations = st.builds(
    Delegation,
    rounds=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
    chores=st.integers(0, 2),
    child_delay=st.integers(0, 2),
    parent_budget=budgets(most=12),
    child_budget=budgets(most=4),
    concurrency=st.integers(1, 3),
)

TURN_USAGE = Usage(input_tokens=4, output_tokens=2)  # 6 tokens a call, every call


async def delegate(plan: Delegation) -> tuple[RunResult[Any], list[Event], list[ModelRequest]]:
    @actrio.tool
    async def chore(delay: int) -> str:
        """A sub-agent's own tool call."""
        await trio.sleep(delay)
        return "chore done"

    def child_answer(request: ModelRequest) -> Turn:
        done = any(m.role == "tool" for m in request.messages)
        if plan.chores and not done:
            calls = [("chore", {"delay": plan.child_delay})] * plan.chores
            return Turn.tool_calls(calls, delay=plan.child_delay, usage=TURN_USAGE)
        return Turn.text("child answer", delay=plan.child_delay, usage=TURN_USAGE)

    child_model = FunctionModel(child_answer)
    child = actrio.Agent("helper", "Help.", child_model, tools=[chore], budget=plan.child_budget)
    turns = [
        Turn.tool_calls([("helper", {"input": "help"})] * k, delay=1, usage=TURN_USAGE)
        for k in plan.rounds
    ]
    parent_model = ScriptedModel([*turns, Turn.text(FINAL, usage=TURN_USAGE)])
    parent = actrio.Agent(
        "lead", "Lead.", parent_model, tools=[child], tool_concurrency=plan.concurrency
    )
    events: list[Event] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        result = await rt.run(parent, "go", budget=plan.parent_budget)
    return result, events, [*parent_model.requests, *child_model.requests]


def within(spent: float, limit: float | None, slack: float = 0) -> bool:
    return limit is None or spent <= limit + slack


@settings(max_examples=300, deadline=None)
@given(plan=delegations)
def test_a_sub_agent_spends_within_its_grant_and_is_counted_by_its_parent(
    plan: Delegation,
) -> None:
    """Sub-agents: a child never spends past its grant; the parent's totals include it."""

    async def main() -> None:
        result, events, requests = await delegate(plan)
        check_scopes(events)
        per_call = TURN_USAGE.total_tokens
        grants = {e.path: e.granted for e in events if isinstance(e, BudgetGranted)}
        root = grants["lead"]
        charged: dict[str, Spend] = {}
        for e in events:
            if isinstance(e, BudgetCharged):
                charged[e.path] = charged.get(e.path, Spend()) + e.spend
        children = [e for e in events if isinstance(e, RunEnded) and e.parent_run_id]
        ledgers = [path for path in grants if path.startswith("lead/helper")]
        assert len(children) == len(ledgers) <= sum(plan.rounds)
        for path in ledgers:
            granted, used = grants[path], charged.get(path, Spend())
            for field in ("model_calls", "tool_calls", "total_tokens"):
                mine = getattr(granted, field)
                for ceiling in (getattr(plan.child_budget, field), getattr(root, field)):
                    assert ceiling is None or (mine is not None and mine <= ceiling), granted
            # a child never spends past its grant (tokens: by its one in-flight call)
            assert within(used.model_calls, granted.model_calls), (used, granted)
            assert within(used.tool_calls, granted.tool_calls), (used, granted)
            assert within(used.total_tokens, granted.total_tokens, per_call), (used, granted)
        for end in children:
            assert end.status in {"completed", "budget_exceeded", "cancelled"}
            event(f"sub-agent: {end.status}")
        # the children's reported usage is what was charged to their ledgers
        on_children = sum(charged.get(path, Spend()).total_tokens for path in ledgers)
        assert sum(e.usage.total_tokens for e in children) == on_children
        # the parent's totals: its own calls plus every child's
        own = charged.get("lead", Spend()).total_tokens
        assert result.usage.total_tokens == own + sum(e.usage.total_tokens for e in children)
        total = sum(charged.values(), Spend())
        assert result.usage.total_tokens == total.total_tokens
        # the root's limits: exact for calls (counted when made); tokens may be
        # overspent by one call per concurrent sub-agent (known only on return)
        assert within(total.tool_calls, root.tool_calls)
        assert within(len(requests), root.model_calls), (len(requests), root)
        assert within(total.model_calls, root.model_calls)
        assert within(total.total_tokens, root.total_tokens, per_call * plan.concurrency)
        broke = any(isinstance(e, BudgetExhausted) and e.path == "lead" for e in events)
        assert (result.status == "budget_exceeded") == broke, result.reason
        if result.status == "completed":
            assert result.output == FINAL
            for field in ("model_calls", "tool_calls", "total_tokens"):
                assert within(getattr(total, field), getattr(root, field))
        event(f"status: {result.status}")

    run_virtual(main)


# ---------------------------------------------------------------- pinned bugs


def test_a_result_that_returned_before_the_cancel_is_kept() -> None:
    """Invariant 4: the tool body returned, then the run was cancelled: its result is kept."""

    async def main() -> None:
        returned = trio.Event()

        @actrio.tool
        async def quick() -> str:
            """Finish, and say so just before returning."""
            await trio.sleep(1)
            returned.set()  # the canceller runs only once this task yields, after the return
            return "finished"

        model = ScriptedModel([Turn.tool_call("quick", id="q"), Turn.text(FINAL)])
        agent = actrio.Agent("worker", model=model, tools=[quick])
        async with actrio.open_runtime() as rt:
            stream = rt.stream(agent, "go")

            async def canceller() -> None:
                await returned.wait()
                assert rt.cancel(stream.run_id, REASON)

            async with stream, trio.open_nursery() as nursery:
                nursery.start_soon(canceller)
                async for _ in stream:
                    pass
        assert stream.result is not None
        assert stream.result.status == "cancelled"
        (part,) = tool_results(stream.result.messages)["q"]
        assert part.content == "finished"  # was: "Error: not completed: the user pressed stop"

    run_virtual(main)


def test_a_cancel_right_after_the_stream_opens_cancels_the_run() -> None:
    """Invariant 5: ``RunStream.run_id`` is for ``rt.cancel`` "known before it starts"."""

    async def main() -> None:
        agent = actrio.Agent("worker", model=ScriptedModel([Turn.text(FINAL, delay=10)]))
        async with actrio.open_runtime() as rt, rt.stream(agent, "go") as stream:
            cancelled = rt.cancel(stream.run_id, REASON)
            async for _ in stream:
                pass
        assert stream.result is not None
        assert (cancelled, stream.result.status) == (True, "cancelled")
        assert stream.result.reason == REASON
        assert trio.current_time() < 10

    run_virtual(main)


def test_leaving_a_stream_at_once_cancels_its_run() -> None:
    """Invariant 5: leaving the ``async with`` cancels the run and waits for its end."""

    async def main() -> None:
        agent = actrio.Agent("worker", model=ScriptedModel([Turn.text(FINAL, delay=100)]))
        async with actrio.open_runtime() as rt:
            stream = rt.stream(agent, "go")
            async with stream:
                pass
            left_at = trio.current_time()
            assert stream.result is not None
            assert stream.result.status == "cancelled"
            assert stream.result.reason == "stream closed by its reader"
            assert left_at < 1

    run_virtual(main)


def test_concurrent_sub_agents_keep_to_the_model_call_budget() -> None:
    """Invariant 3: Budget(model_calls=2), three concurrent sub-agents: 2 model calls at most."""

    async def main() -> None:
        child_model = ScriptedModel([Turn.text("child answer", delay=1)] * 3)
        child = actrio.Agent("helper", "Help.", child_model)
        calls = [("helper", {"input": "help"})] * 3
        parent_model = ScriptedModel([Turn.tool_calls(calls), Turn.text(FINAL)])
        parent = actrio.Agent("lead", "Lead.", parent_model, tools=[child], tool_concurrency=3)
        async with actrio.open_runtime() as rt:
            result = await rt.run(parent, "go", budget=actrio.Budget(model_calls=2))
        assert result.status == "budget_exceeded"
        made = len(parent_model.requests) + len(child_model.requests)
        assert made <= 2, f"{made} model calls under Budget(model_calls=2)"  # actual: 4

    run_virtual(main)
