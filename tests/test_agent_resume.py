"""Interrupting a run, serialising it, and resuming it in a new runtime.

The property pinned: with a deterministic model and tools, a run that is
interrupted (during its tool calls, during a model call, or while a person
is asked to confirm), written to JSON, read back and resumed in a fresh
runtime ends exactly as the uninterrupted run: same output, transcript,
steps and usage.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

import actrio
from actrio.agents import (
    RunResult,
    RunSnapshot,
    RunStarted,
    SnapshotError,
    ToolCallEnded,
    ToolCallStarted,
)
from actrio.context import Budget
from actrio.human import HumanRequested
from actrio.testing import ScriptedModel, ToolCall, Turn
from actrio.types import Usage

SCRIPT = [
    Turn.tool_calls(
        [
            ToolCall(name="work", arguments={"tag": "quick", "seconds": 1}, id="c1"),
            ToolCall(name="work", arguments={"tag": "long", "seconds": 50}, id="c2"),
        ]
    ),
    Turn.tool_call("work", {"tag": "third", "seconds": 1}, id="c3"),
    Turn.text("all done"),
]

runs: list[str] = []


@actrio.tool
async def work(tag: str, seconds: float) -> str:
    """Work for a while."""
    await trio.sleep(seconds)
    runs.append(tag)
    return f"{tag} ok"


def agent_with(model: ScriptedModel) -> actrio.Agent[Any]:
    return actrio.Agent("worker", "Work.", model, tools=[work], budget=Budget(tool_calls=10))


async def uninterrupted() -> RunResult[Any]:
    async with actrio.open_runtime() as rt:
        return await rt.run(agent_with(ScriptedModel(SCRIPT)), "start")


async def interrupt_when(model: ScriptedModel, ready: Any, *, human: Any = None) -> RunResult[Any]:
    """Run until ``ready(event)``, then interrupt; return the interrupted result."""
    async with actrio.open_runtime(human=human) as rt:
        stream = rt.stream(agent_with(model), "start")
        async with stream:
            async for event in stream:
                if ready(event):
                    assert rt.interrupt(stream.run_id, "closing the laptop")
        assert stream.result is not None
        return stream.result


def same_run(a: RunResult[Any], b: RunResult[Any]) -> None:
    assert (a.status, a.output, a.steps) == (b.status, b.output, b.steps)
    assert a.messages == b.messages
    assert a.usage == b.usage


async def test_interrupted_during_tool_calls_resumes_to_the_same_result(
    autojump_clock: Any,
) -> None:
    runs.clear()
    expected = await uninterrupted()
    runs.clear()
    first = ScriptedModel(SCRIPT)
    interrupted = await interrupt_when(
        first, lambda e: isinstance(e, ToolCallEnded) and e.call_id == "c1"
    )
    assert interrupted.status == "interrupted"
    assert interrupted.reason == "closing the laptop"
    assert runs == ["quick"]
    snapshot = interrupted.snapshot
    assert snapshot is not None
    assert [c.id for c in snapshot.pending_calls] == ["c1", "c2"]
    assert [p.content for p in snapshot.finished] == ["quick ok"]
    assert snapshot.spent.tool_calls == 2
    text = snapshot.to_json()
    restored = RunSnapshot.from_json(text)
    assert restored == snapshot

    runs.clear()
    second = ScriptedModel(SCRIPT[first.remaining * -1 :])  # the turns not played yet
    async with actrio.open_runtime() as rt:
        events: list[Any] = []
        rt.subscribe(events.append)
        result = await rt.resume(agent_with(second), restored)
    assert runs == ["long", "third"]  # the finished call did not run again
    same_run(result, expected)
    assert result.run_id == snapshot.run_id
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [e.call_id for e in started] == ["c2", "c3"]
    assert [e.kind for e in events if isinstance(e, RunStarted)] == ["run_started"]


async def test_interrupted_during_a_model_call_makes_that_call_again(
    autojump_clock: Any,
) -> None:
    script = [Turn.text("slow answer", delay=30)]
    async with actrio.open_runtime() as rt:
        expected = await rt.run(agent_with(ScriptedModel(script)), "start")
    first = ScriptedModel(script)
    interrupted = await interrupt_when(first, lambda e: isinstance(e, RunStarted))
    snapshot = interrupted.snapshot
    assert snapshot is not None
    assert (snapshot.steps, snapshot.usage) == (0, Usage())
    async with actrio.open_runtime() as rt:
        result = await rt.resume(agent_with(ScriptedModel(script)), snapshot)
    same_run(result, expected)


async def test_interrupted_while_a_person_is_asked_resumes_and_asks_again(
    autojump_clock: Any,
) -> None:
    @actrio.tool(capability="os.shell")
    async def shell(command: str) -> str:
        """Run a command."""
        return f"ran {command}"

    policy = "before os.shell(command) requires user.confirm"
    script = [Turn.tool_call("shell", {"command": "make"}, id="s1"), Turn.text("built")]

    def agent(model: ScriptedModel) -> actrio.Agent[Any]:
        return actrio.Agent("builder", "", model, tools=[shell])

    asked: list[str] = []

    async def run_answering(rt: actrio.Runtime, go: Any) -> RunResult[Any]:
        async def answer(event: Any) -> None:
            if isinstance(event, HumanRequested):
                asked.append(event.text)
                rt.respond(event.request_id, True)

        rt.subscribe(answer)
        result: RunResult[Any] = await go()
        return result

    async with actrio.open_runtime(policies=policy, human="external") as rt:
        expected = await run_answering(rt, lambda: rt.run(agent(ScriptedModel(script)), "go"))
    async with actrio.open_runtime(policies=policy, human="external") as rt:
        stream = rt.stream(agent(ScriptedModel(script)), "go")
        async with stream:
            async for event in stream:
                if isinstance(event, ToolCallStarted):
                    await trio.sleep(1)  # the confirmation is waiting now
                    assert rt.interrupt(stream.run_id)
        interrupted = stream.result
    assert interrupted is not None
    assert interrupted.status == "interrupted"
    assert interrupted.snapshot is not None
    assert interrupted.snapshot.finished == ()
    text = interrupted.snapshot.to_json()
    async with actrio.open_runtime(policies=policy, human="external") as rt:
        result = await run_answering(
            rt,
            lambda: rt.resume(agent(ScriptedModel(script[1:])), RunSnapshot.from_json(text)),
        )
    same_run(result, expected)
    assert len(asked) == 2  # once for the reference run, once after resuming


async def test_a_resumed_run_keeps_its_budget_spent(autojump_clock: Any) -> None:
    script = [Turn.tool_call("work", {"tag": "x", "seconds": 5})] * 4 + [Turn.text("never")]
    model = ScriptedModel(script)
    agent = actrio.Agent("w", "", model, tools=[work], budget=Budget(tool_calls=3))
    async with actrio.open_runtime() as rt:
        stream = rt.stream(agent, "go")
        seen = 0
        async with stream:
            async for event in stream:
                if isinstance(event, ToolCallEnded):
                    seen += 1
                    if seen == 2:
                        rt.interrupt(stream.run_id)
    snapshot = stream.result.snapshot if stream.result else None
    assert snapshot is not None
    assert snapshot.spent.tool_calls == 2
    second = ScriptedModel(script[model.remaining * -1 :])
    agent2 = actrio.Agent("w", "", second, tools=[work], budget=Budget(tool_calls=3))
    async with actrio.open_runtime() as rt:
        result = await rt.resume(agent2, snapshot)
    assert result.status == "budget_exceeded"  # the third call was the last allowed


async def test_a_handed_off_agent_is_found_by_name_on_resume() -> None:
    snapshot = RunSnapshot(
        run_id="run-x",
        agent="billing",
        messages=(actrio.Message.user("refund"),),
        working=(actrio.Message.user("refund"),),
    )
    billing = actrio.Agent("billing", "", ScriptedModel(["refunded"]))
    triage = actrio.Agent("triage", "", ScriptedModel([]), handoffs=[billing])
    async with actrio.open_runtime() as rt:
        result = await rt.resume(triage, snapshot)
        assert (result.agent, result.output) == ("billing", "refunded")
        with pytest.raises(SnapshotError, match="'billing' is neither 'other'"):
            await rt.resume(actrio.Agent("other", "", ScriptedModel([])), snapshot)
        with pytest.raises(actrio.UsageError, match="RunSnapshot"):
            await rt.resume(triage, {"run_id": "x"})  # type: ignore[arg-type]
        with pytest.raises(actrio.UsageError, match="Agent"):
            await rt.resume("triage", snapshot)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "must be JSON"),
        ("[]", "JSON object"),
        ('{"version": 99}', "version 99"),
        ('{"version": 1, "run_id": "r"}', "does not fit"),
        (
            '{"version": 1, "run_id": "r", "agent": "a", "messages": [], "working": [], "x": 1}',
            "does not fit",
        ),
    ],
)
def test_a_bad_snapshot_is_refused_clearly(text: str, match: str) -> None:
    with pytest.raises(SnapshotError, match=match):
        RunSnapshot.from_json(text)


async def test_only_a_root_run_can_be_interrupted(autojump_clock: Any) -> None:
    worker = actrio.Agent(
        "worker",
        "",
        ScriptedModel([Turn.tool_call("work", {"tag": "w", "seconds": 100}), "x"]),
        tools=[work],
    )
    lead = actrio.Agent(
        "lead", "", ScriptedModel([Turn.tool_call("worker", {"input": "go"}), "ok"]), tools=[worker]
    )
    async with actrio.open_runtime() as rt:
        stream = rt.stream(lead, "go")
        async with stream:
            async for event in stream:
                if isinstance(event, RunStarted) and event.agent == "worker":
                    with pytest.raises(actrio.UsageError, match="sub-agent"):
                        rt.interrupt(event.run_id)
                    assert rt.interrupt(stream.run_id)
        assert stream.result is not None
        assert stream.result.status == "interrupted"
        assert not rt.interrupt(stream.run_id)  # it ended
        with pytest.raises(actrio.UsageError, match="reason"):
            rt.interrupt("x", "")


def test_a_snapshot_taken_between_an_answer_and_its_tool_round_keeps_the_calls() -> None:
    from actrio.agents._loop import _snapshot  # noqa: PLC0415 - the unit under test
    from actrio.agents._state import AgentState, Totals  # noqa: PLC0415
    from actrio.context import BudgetLedger  # noqa: PLC0415
    from actrio.messages import ToolCallPart  # noqa: PLC0415

    call = ToolCallPart(id="c1", name="work", arguments={"tag": "x", "seconds": 1})
    messages = [actrio.Message.user("go"), actrio.Message.assistant([call])]
    state = AgentState(
        tree=None,  # type: ignore[arg-type]
        run_id="run-1",
        parent_run_id=None,
        agent=actrio.Agent("worker"),
        model=ScriptedModel([]),
        ledger=BudgetLedger.root(Budget(), name="worker"),
        messages=messages,
        working=list(messages),
        totals=Totals(),
    )
    snapshot = _snapshot(state, 1, "stop")
    assert snapshot.pending_calls == (call,)
    state.messages.append(actrio.Message.tool("c1", "done"))
    assert _snapshot(state, 1, None).pending_calls == ()
