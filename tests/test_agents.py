"""The agent loop end to end, on ScriptedModel / FunctionModel, in virtual time.

What is pinned here: a run's statuses and what each keeps; tool calls run
concurrently and are answered in the model's order; a failing tool is
isolated (or propagates after its siblings finish); a denied call never
runs; structured output retries; sub-agents and handoffs; cancellation from
``rt.cancel`` and from the caller's scope (S-12: never swallowed);
``rt.stream``; ``run_sync``.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
import trio

import actrio
from actrio.agents import (
    AgentDefinitionError,
    AgentTextDelta,
    HandedOff,
    ModelCalled,
    OutputRetried,
    ReasoningTextDelta,
    RunEnded,
    RunFailed,
    RunResult,
    RunStarted,
    SubAgentStopped,
    ToolCallEnded,
    ToolCallStarted,
)
from actrio.context import Budget, BudgetExceeded, BudgetExhausted
from actrio.events import ScopeEnded, ScopeStarted
from actrio.kernel import Event, UsageError
from actrio.messages import Message, ToolCallPart, ToolResultPart
from actrio.testing import FunctionModel, ScriptedModel, Turn
from actrio.types import ModelRequest, ModelResponse


def tool_results(result: RunResult[Any]) -> list[tuple[str, str, bool]]:
    """(call id, content, is_error) of every tool result, in transcript order."""
    return [
        (p.tool_call_id, p.content, p.is_error)
        for m in result.messages
        if m.role == "tool"
        for p in m.parts
        if isinstance(p, ToolResultPart)
    ]


class Recorder:
    """Every event of a runtime, in order."""

    def __init__(self, rt: actrio.Runtime) -> None:
        self.events: list[Event] = []
        rt.subscribe(self.events.append)

    def of(self, *types: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, types)]


@actrio.tool
async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@actrio.tool
async def nap(seconds: float, tag: str) -> str:
    """Sleep, then return the tag."""
    await trio.sleep(seconds)
    return tag


@actrio.tool
async def explode() -> str:
    """Always fails."""
    raise RuntimeError("the secret internals")


@attrs.frozen
class Verdict:
    value: int
    why: str


# ---------------------------------------------------------------- definition


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "has space"}, "name"),
        ({"name": ""}, "name"),
        ({"model": 42}, "model"),
        ({"tools": [42]}, "tools[0]"),
        ({"tools": add}, "tools"),
        ({"tools": [add, add]}, "more than one tool"),
        ({"output_type": dict}, "output_type"),
        ({"budget": {"tool_calls": 1}}, "budget"),
        ({"max_steps": 0}, "max_steps"),
        ({"tool_concurrency": True}, "tool_concurrency"),
        ({"on_tool_error": "ignore"}, "on_tool_error"),
        ({"handoffs": [1]}, "handoffs[0]"),
        ({"reasoning": "loud"}, "reasoning"),
        ({"max_output_retries": -1}, "max_output_retries"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"policies": [1]}, "policies[0]"),
    ],
)
def test_a_bad_definition_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    args = {"name": "ok", **kwargs}
    name = args.pop("name")
    with pytest.raises(AgentDefinitionError, match=field.replace("[", r"\[").replace("]", r"\]")):
        actrio.Agent(name, **args)


def test_a_handoff_cannot_shadow_a_tool() -> None:
    target = actrio.Agent("b")
    shadow = actrio.Tool.from_schema(
        "transfer_to_b", "x", {"type": "object", "properties": {}}, add.fn
    )
    with pytest.raises(AgentDefinitionError, match="transfer_to_b"):
        actrio.Agent("a", tools=[shadow], handoffs=[target])


def test_policy_text_is_parsed_at_definition() -> None:
    agent = actrio.Agent("a", policies='deny os.shell(command) if not command.eq("ls")')
    assert [p.kind for p in agent.policies] == ["deny"]
    assert actrio.Agent("b", policies="  ").policies == ()
    with pytest.raises(actrio.policy.PolicySyntaxError):
        actrio.Agent("c", policies="deny os.shell(command) if (")


def test_the_context_window_comes_from_the_agent_the_model_or_its_family() -> None:
    assert actrio.Agent("a", context_window=1000).window_for(None) == 1000
    assert actrio.Agent("a").window_for(ScriptedModel([], context_window=777)) == 777
    assert actrio.Agent("a").window_for(ScriptedModel([], model="claude-x")) == 200_000
    assert actrio.Agent("a").window_for(ScriptedModel([], model="gpt-4.1-mini")) == 1_047_576
    assert actrio.Agent("a").window_for(ScriptedModel([])) == actrio.agents.DEFAULT_CONTEXT_WINDOW


# ---------------------------------------------------------------- running


async def test_a_text_answer_completes_with_usage_cost_and_messages() -> None:
    model = ScriptedModel([Turn.text("Hello there.")], model="gpt-4.1-mini")
    agent = actrio.Agent("greeter", "Be kind.", model)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "Hi")
    assert result.ok
    assert result.status == "completed"
    assert result.output == result.text == "Hello there."
    assert [m.role for m in result.messages] == ["system", "user", "assistant"]
    assert result.steps == 1
    assert result.usage.total_tokens > 0
    assert result.cost_usd > 0
    assert result.unpriced_models == ()
    assert result.reason is None
    assert [m.role for m in model.requests[0].messages] == ["system", "user"]
    kinds = [e.kind for e in events.of(RunStarted, ModelCalled, RunEnded)]
    assert kinds == ["run_started", "model_called", "run_ended"]
    (ended,) = events.of(RunEnded)
    assert (ended.status, ended.steps, ended.usage) == ("completed", 1, result.usage)


async def test_an_unpriced_model_costs_nothing_and_is_named() -> None:
    async with actrio.open_runtime() as rt:
        result = await rt.run(actrio.Agent("a", "", ScriptedModel(["x"])), "Hi")
    assert result.cost_usd == 0
    assert result.unpriced_models == ("scripted",)


async def test_tools_run_concurrently_and_answer_in_the_models_order(autojump_clock: Any) -> None:
    model = ScriptedModel(
        [
            Turn.tool_calls(
                [
                    ("nap", {"seconds": 3, "tag": "a"}),
                    ("nap", {"seconds": 1, "tag": "b"}),
                    ("add", {"a": 1, "b": 2}),
                ]
            ),
            Turn.text("done"),
        ]
    )
    agent = actrio.Agent("a", "", model, tools=[nap, add])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        start = trio.current_time()
        result = await rt.run(agent, "go")
        elapsed = trio.current_time() - start
    assert elapsed == pytest.approx(3)  # concurrently: the longest, not the sum
    assert [c for _, c, _ in tool_results(result)] == ["a", "b", "3"]
    ended = [e.call_id for e in events.of(ToolCallEnded)]
    calls = [c.id for c in next(m for m in result.messages if m.tool_calls).tool_calls]
    assert ended == [calls[2], calls[1], calls[0]]  # finished in another order
    assert len(events.of(ToolCallStarted)) == 3
    second = model.requests[1].messages
    assert [m.role for m in second] == ["user", "assistant", "tool"]


async def test_tool_concurrency_bounds_how_many_run_at_once(autojump_clock: Any) -> None:
    running = peak = 0

    @actrio.tool
    async def work() -> str:
        """Work a while."""
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await trio.sleep(1)
        running -= 1
        return "ok"

    model = ScriptedModel([Turn.tool_calls([("work", {})] * 7), Turn.text("done")])
    agent = actrio.Agent("a", "", model, tools=[work], tool_concurrency=3)
    async with actrio.open_runtime() as rt:
        start = trio.current_time()
        result = await rt.run(agent, "go")
        assert trio.current_time() - start == pytest.approx(3)
    assert peak == 3
    assert [c for _, c, _ in tool_results(result)] == ["ok"] * 7


async def test_a_failing_tool_is_isolated_and_its_siblings_kept() -> None:
    model = ScriptedModel(
        [Turn.tool_calls([("add", {"a": 2, "b": 2}), ("explode", {})]), Turn.text("sorry")]
    )
    agent = actrio.Agent("a", "", model, tools=[add, explode])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "go")
    assert result.status == "completed"
    (ok, failed) = tool_results(result)
    assert ok[1:] == ("4", False)
    assert failed[2] is True
    assert "explode" in failed[1]
    assert "secret internals" not in failed[1]  # a tool's own text never goes out
    ended = events.of(ToolCallEnded)
    assert sorted((e.tool, e.is_error, e.error_type) for e in ended) == [
        ("add", False, None),
        ("explode", True, "ToolFailed"),
    ]


async def test_propagate_fails_the_run_after_the_siblings_finish(autojump_clock: Any) -> None:
    model = ScriptedModel(
        [Turn.tool_calls([("nap", {"seconds": 5, "tag": "slow"}), ("explode", {})]), "never"]
    )
    agent = actrio.Agent("a", "", model, tools=[nap, explode], on_tool_error="propagate")
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        with pytest.raises(RunFailed) as caught:
            await rt.run(agent, "go")
    result = caught.value.result
    assert result.status == "failed"
    assert "a tool call failed" in (result.reason or "")
    assert isinstance(caught.value.__cause__, actrio.tools.ToolFailed)
    assert tool_results(result)[0][1:] == ("slow", False)
    assert model.remaining == 1  # the model was not asked again
    (agent_end,) = [e for e in events.of(ScopeEnded) if e.name == "a"]
    assert agent_end.status == "error"  # the Agent scope says so too


async def test_unknown_tools_bad_arguments_and_cut_calls_go_back_as_errors() -> None:
    cut = ModelResponse(
        message=Message.assistant(
            [
                ToolCallPart(id="c1", name="add", arguments={}, complete=False),
                ToolCallPart(id="c2", name="nope", arguments={}),
                ToolCallPart(id="c3", name="add", arguments={"a": "x", "b": 1}),
            ]
        ),
        finish_reason="tool_calls",
    )
    model = ScriptedModel([cut, Turn.text("ok")])
    ran: list[int] = []

    @actrio.tool
    async def add(a: int, b: int) -> int:
        """Add."""
        ran.append(a)
        return a + b

    agent = actrio.Agent("a", "", model, tools=[add])
    async with actrio.open_runtime() as rt:
        result = await rt.run(agent, "go")
    assert ran == []
    (c1, c2, c3) = tool_results(result)
    assert all(is_error for _, _, is_error in (c1, c2, c3))
    assert "cut short" in c1[1]
    assert "nope" in c2[1]
    assert "'a'" in c3[1] or "a:" in c3[1] or "$.a" in c3[1]


async def test_a_denied_call_never_runs_and_the_model_is_told(tmp_path: Any) -> None:
    ran: list[str] = []

    @actrio.tool(capability="os.shell")
    async def shell(command: str) -> str:
        """Run a command."""
        ran.append(command)
        return "ran"

    model = ScriptedModel(
        [Turn.tool_calls([("shell", {"command": "rm -rf /"}), ("shell", {"command": "ls"})]), "ok"]
    )
    agent = actrio.Agent("a", "", model, tools=[shell])
    policy = 'deny os.shell(command) if not command.argv_starts_with(["ls"])'
    async with actrio.open_runtime(policies=policy) as rt:
        result = await rt.run(agent, "go")
    assert ran == ["ls"]
    (denied, allowed) = tool_results(result)
    assert denied[2]
    assert "denied" in denied[1].lower()
    assert allowed[1:] == ("ran", False)


async def test_an_agents_own_policies_apply_on_top_of_the_runtimes() -> None:
    ran: list[str] = []

    @actrio.tool(capability="os.shell")
    async def shell(command: str) -> str:
        """Run a command."""
        ran.append(command)
        return "ran"

    calls = [("shell", {"command": "ls"}), ("shell", {"command": "pwd"})]
    strict = actrio.Agent(
        "strict",
        "",
        ScriptedModel([Turn.tool_calls(calls), "ok"]),
        tools=[shell],
        policies='deny os.shell(command) if not command.eq("ls")',
    )
    loose = actrio.Agent("loose", "", ScriptedModel([Turn.tool_calls(calls), "ok"]), tools=[shell])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        strict_result = await rt.run(strict, "go")
        loose_result = await rt.run(loose, "go")
    assert sorted(ran) == ["ls", "ls", "pwd"]
    assert [e for _, _, e in tool_results(strict_result)] == [False, True]
    assert [e for _, _, e in tool_results(loose_result)] == [False, False]
    decisions = events.of(actrio.actors.PolicyDecision)
    assert sorted(d.allowed for d in decisions) == [False, True, True, True]


# ---------------------------------------------------------------- structured output


async def test_structured_output_is_parsed_and_asked_natively() -> None:
    model = ScriptedModel([Turn.text('{"value": 3, "why": "sum"}')])
    agent = actrio.Agent("a", "", model, output_type=Verdict)
    async with actrio.open_runtime() as rt:
        result = await rt.run(agent, "go")
    assert result.output == Verdict(3, "sum")
    output = model.requests[0].output
    assert output is not None
    assert output.name == "Verdict"
    assert set(output.schema["required"]) == {"value", "why"}


async def test_an_invalid_answer_goes_back_to_the_model_each_retry_an_event() -> None:
    model = ScriptedModel(
        [Turn.text('{"value": "x"}'), Turn.text("not json"), Turn.text('{"value": 1, "why": "y"}')]
    )
    agent = actrio.Agent("a", "", model, output_type=Verdict)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "go")
    assert result.output == Verdict(1, "y")
    retries = events.of(OutputRetried)
    assert [r.attempt for r in retries] == [1, 2]
    assert any("value" in line for line in retries[0].errors)
    feedback = model.requests[1].messages[-1]
    assert feedback.role == "user"
    assert "value" in feedback.text


async def test_an_answer_that_stays_invalid_fails_the_run() -> None:
    model = ScriptedModel([Turn.text("{}")] * 2)
    agent = actrio.Agent("a", "", model, output_type=Verdict, max_output_retries=1)
    async with actrio.open_runtime() as rt:
        with pytest.raises(RunFailed) as caught:
            await rt.run(agent, "go")
    assert caught.value.result.output is None
    assert "after 1 retries" in (caught.value.result.reason or "")
    assert isinstance(caught.value.__cause__, actrio.OutputValidationError)


# ---------------------------------------------------------------- limits


async def test_max_steps_ends_the_run_without_an_answer() -> None:
    model = ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 1})] * 3)
    agent = actrio.Agent("a", "", model, tools=[add], max_steps=3)
    async with actrio.open_runtime() as rt:
        result = await rt.run(agent, "go")
    assert result.status == "max_steps"
    assert result.output is None
    assert result.steps == 3
    assert len(tool_results(result)) == 3


@pytest.mark.parametrize(
    ("budget", "field", "model_calls", "tools_run"),
    [
        (Budget(tool_calls=2), "tool_calls", 3, 2),
        (Budget(model_calls=2), "model_calls", 2, 2),
    ],
)
async def test_a_broken_budget_stops_the_run(
    budget: Budget, field: str, model_calls: int, tools_run: int
) -> None:
    model = ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 1})] * 5 + ["never"])
    agent = actrio.Agent("a", "", model, tools=[add])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "go", budget=budget)
    assert result.status == "budget_exceeded"
    assert isinstance(result.error, BudgetExceeded)
    assert result.error.field == field
    assert len(model.requests) == model_calls
    assert [c for _, c, _ in tool_results(result)].count("2") == tools_run
    (exhausted,) = events.of(BudgetExhausted)
    assert exhausted.field == field
    assert events.of(RunEnded)[-1].status == "budget_exceeded"


async def test_a_token_budget_is_exceeded_by_at_most_the_call_in_flight() -> None:
    model = ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 1})] * 9 + ["never"])
    agent = actrio.Agent("a", "", model, tools=[add], budget=Budget(total_tokens=60))
    async with actrio.open_runtime() as rt:
        result = await rt.run(agent, "go")
    assert result.status == "budget_exceeded"
    last = model.requests[-1]
    assert result.usage.total_tokens > 60
    assert len(model.requests) < 10
    assert last is not None


async def test_a_seconds_budget_is_a_deadline(autojump_clock: Any) -> None:
    model = ScriptedModel([Turn.tool_call("nap", {"seconds": 100, "tag": "x"}), "never"])
    agent = actrio.Agent("a", "", model, tools=[nap], budget=Budget(seconds=10))
    async with actrio.open_runtime() as rt:
        start = trio.current_time()
        result = await rt.run(agent, "go")
        assert trio.current_time() - start == pytest.approx(10)
    assert result.status == "budget_exceeded"
    assert isinstance(result.error, BudgetExceeded)
    assert result.error.field == "seconds"
    ((_, content, is_error),) = tool_results(result)
    assert is_error
    assert "not completed" in content


# ---------------------------------------------------------------- cancellation


async def test_rt_cancel_stops_the_run_and_keeps_completed_work(autojump_clock: Any) -> None:
    late: list[str] = []

    @actrio.tool
    async def slow(tag: str, seconds: float) -> str:
        """Sleep."""
        await trio.sleep(seconds)
        late.append(tag)
        return tag

    model = ScriptedModel(
        [
            Turn.tool_calls(
                [("slow", {"tag": "fast", "seconds": 1}), ("slow", {"tag": "slow", "seconds": 50})]
            ),
            "never",
        ]
    )
    agent = actrio.Agent("a", "", model, tools=[slow])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        async with trio.open_nursery() as nursery:
            stream = rt.stream(agent, "go")

            async def consume() -> None:
                async for event in stream:
                    if isinstance(event, ToolCallEnded):
                        assert rt.cancel(stream.run_id, "user pressed stop")

            nursery.start_soon(consume)
        result = stream.result
        assert result is not None
        await trio.sleep(100)
    assert late == ["fast"]  # the slow tool never got past its sleep
    assert result.status == "cancelled"
    assert result.reason == "user pressed stop"
    assert result.output is None
    assert tool_results(result)[0][1:] == ("fast", False)
    assert tool_results(result)[1][2] is True
    assert "user pressed stop" in tool_results(result)[1][1]
    assert model.remaining == 1
    assert not rt.cancel(stream.run_id, "again")  # it ended
    starts = {e.uuid for e in events.of(ScopeStarted)}
    ends = {e.uuid for e in events.of(ScopeEnded)}
    assert starts == ends
    statuses = {e.name: e.status for e in events.of(ScopeEnded)}
    assert statuses["a"] == "cancelled"


async def test_cancelling_the_callers_scope_propagates_and_is_recorded(
    autojump_clock: Any,
) -> None:
    model = ScriptedModel([Turn.tool_call("nap", {"seconds": 100, "tag": "x"}), "never"])
    agent = actrio.Agent("a", "", model, tools=[nap])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        with trio.move_on_after(5) as cancel_scope:
            await rt.run(agent, "go")
            pytest.fail("a cancelled run must not return")  # pragma: no cover
        assert cancel_scope.cancelled_caught
        await trio.sleep(1)
    (ended,) = events.of(RunEnded)
    assert ended.status == "cancelled"
    assert rt._runs == {}


async def test_cancel_checks_its_arguments_and_unknown_runs() -> None:
    async with actrio.open_runtime() as rt:
        assert rt.cancel("run-nope") is False
        with pytest.raises(UsageError, match="run_id"):
            rt.cancel(42)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="reason"):
            rt.cancel("x", "")


async def test_a_run_cancelled_before_its_scope_opens_starts_cancelled() -> None:
    model = ScriptedModel(["never"])
    agent = actrio.Agent("a", "", model)
    async with actrio.open_runtime() as rt:
        stream = rt.stream(agent, "go")
        async with stream:
            assert rt.cancel(stream.run_id, "changed my mind")
            kinds = [e.kind async for e in stream]
        assert stream.result is not None
        assert stream.result.status == "cancelled"
        assert stream.result.reason == "changed my mind"
    assert kinds[-1] == "run_ended"
    assert model.requests == []


# ---------------------------------------------------------------- streaming


async def test_stream_yields_the_runs_events_then_ends() -> None:
    model = ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 2}), Turn.text("three", chunks=3)])
    agent = actrio.Agent("a", "", model, tools=[add])
    async with actrio.open_runtime() as rt:
        other = ScriptedModel(["other"])
        stream = rt.stream(agent, "go")
        events = [e async for e in stream]
        await rt.run(actrio.Agent("b", "", other), "x")  # not in the stream
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started"
    assert kinds[-1] == "run_ended"
    assert "tool_call_ended" in kinds
    deltas = "".join(e.text for e in events if isinstance(e, AgentTextDelta))
    assert deltas == "three"
    assert stream.result is not None
    assert stream.result.output == "three"
    assert all(getattr(e, "run_id", None) == stream.run_id for e in events)


async def test_a_failed_streamed_run_raises_at_the_end() -> None:
    model = ScriptedModel([Turn.error(actrio.adapters.ServerError("boom", status=500))])
    async with actrio.open_runtime() as rt:
        stream = rt.stream(actrio.Agent("a", "", model), "go")
        seen: list[str] = []

        async def consume() -> None:
            async for event in stream:
                seen.append(event.kind)  # noqa: PERF401 - kept when the end raises

        with pytest.raises(RunFailed):
            await consume()
    assert seen[-1] == "run_ended"


async def test_leaving_a_stream_early_cancels_its_run(autojump_clock: Any) -> None:
    model = ScriptedModel([Turn.tool_call("nap", {"seconds": 100, "tag": "x"}), "never"])
    agent = actrio.Agent("a", "", model, tools=[nap])
    async with actrio.open_runtime() as rt:
        async with rt.stream(agent, "go") as stream:
            async for event in stream:
                if isinstance(event, ToolCallStarted):
                    break
        assert stream.result is not None
        assert stream.result.status == "cancelled"
        assert stream.result.reason == "stream closed by its reader"


async def test_stream_without_an_agent_is_the_event_stream() -> None:
    async with actrio.open_runtime() as rt:
        with pytest.raises(UsageError, match="give the agent"):
            rt.stream(None, "x")  # type: ignore[call-overload]
        async with rt.stream(types=[RunEnded]) as events:
            await rt.run(actrio.Agent("a", "", ScriptedModel(["x"])), "go")
            async for event in events:
                assert isinstance(event, RunEnded)
                break


async def test_reasoning_deltas_are_published_only_when_asked() -> None:
    turn = Turn.text("answer", reasoning="thinking hard")
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        await rt.run(actrio.Agent("quiet", "", ScriptedModel([turn])), "go")
        await rt.run(actrio.Agent("loud", "", ScriptedModel([turn]), reasoning="raw"), "go")
    reasoning = events.of(ReasoningTextDelta)
    assert {e.agent for e in reasoning} == {"loud"}
    assert "".join(e.text for e in reasoning) == "thinking hard"


# ---------------------------------------------------------------- inputs


async def test_bad_run_arguments_are_usage_errors() -> None:
    agent = actrio.Agent("a", "", ScriptedModel(["x"]))
    async with actrio.open_runtime() as rt:
        with pytest.raises(UsageError, match="expected an Agent"):
            await rt.run("agent", "x")  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="no model"):
            await rt.run(actrio.Agent("nomodel"), "x")
        with pytest.raises(UsageError, match="budget"):
            await rt.run(agent, "x", budget=5)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="input"):
            await rt.run(agent, 42)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match=r"input\[0\]"):
            await rt.run(agent, [42])  # type: ignore[list-item]
        with pytest.raises(UsageError, match=r"history\[0\]"):
            await rt.run(agent, "x", history=["hi"])  # type: ignore[list-item]
        with pytest.raises(UsageError, match="at least one message"):
            await rt.run(agent, [])


async def test_history_and_message_inputs_continue_a_conversation() -> None:
    model = ScriptedModel(["again"])
    agent = actrio.Agent("a", "New rules.", model)
    history = [Message.system("Old rules."), Message.user("hi"), Message.assistant("hello")]
    async with actrio.open_runtime() as rt:
        await rt.run(agent, Message.user("and now?"), history=history)
    sent = model.requests[0].messages
    assert [(m.role, m.text) for m in sent] == [
        ("system", "New rules."),
        ("user", "hi"),
        ("assistant", "hello"),
        ("user", "and now?"),
    ]


async def test_a_model_string_is_resolved_once_per_runtime_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx  # noqa: PLC0415 - only here

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "gpt-4.1-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "over http"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        agent = actrio.Agent("a", "", "openai:gpt-4.1-mini")
        async with actrio.open_runtime(http=http) as rt:
            first = rt._model("openai:gpt-4.1-mini")
            with pytest.raises(Exception, match="stream"):  # the mock answers JSON, not SSE
                await rt.run(agent, "x")
            assert rt._model("openai:gpt-4.1-mini") is first
        assert rt._models == {}
    assert bodies


# ---------------------------------------------------------------- sub-agents


async def test_a_sub_agent_runs_in_the_callers_tree_with_its_usage_counted() -> None:
    expert = actrio.Agent(
        "expert", "You know things.", ScriptedModel(["42"]), description="Knows things."
    )
    lead_model = ScriptedModel([Turn.tool_call("expert", {"input": "the answer?"}), "It is 42."])
    lead = actrio.Agent("lead", "Lead.", lead_model, tools=[expert])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(lead, "go")
    assert result.output == "It is 42."
    assert tool_results(result)[0][1:] == ("42", False)
    (spec,) = lead_model.requests[0].tools
    assert (spec.name, spec.description) == ("expert", "Knows things.")
    (sub_end,) = [e for e in events.of(RunEnded) if e.parent_run_id is not None]
    (root_end,) = [e for e in events.of(RunEnded) if e.parent_run_id is None]
    assert sub_end.parent_run_id == root_end.run_id == result.run_id
    assert result.usage == sub_end.usage + lead_usage(events, result.run_id)
    started = {e.name: e for e in events.of(ScopeStarted)}
    assert started["expert"].path.startswith(started["lead"].path + "/")
    tool_scope = [e for e in events.of(ScopeStarted) if e.name == "expert" and e.category == "tool"]
    assert tool_scope
    assert result.steps == 2  # the lead's own model calls


def lead_usage(events: Recorder, run_id: str) -> Any:
    total = actrio.Usage()
    for event in events.of(ModelCalled):
        if event.run_id == run_id:
            total = total + event.usage
    return total


async def test_a_sub_agent_over_its_budget_gives_the_caller_a_tool_error() -> None:
    worker = actrio.Agent(
        "worker",
        "",
        ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 1})] * 5),
        tools=[add],
        budget=Budget(tool_calls=1),
    )
    lead = actrio.Agent(
        "lead",
        "",
        ScriptedModel([Turn.tool_call("worker", {"input": "go"}), "done"]),
        tools=[worker],
    )
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(lead, "go", budget=Budget(tool_calls=10))
    assert result.status == "completed"
    ((_, content, is_error),) = tool_results(result)[-1:]
    assert is_error
    assert "budget_exceeded" in content
    grants = [e for e in events.of(actrio.context.BudgetGranted) if e.parent_path is not None]
    assert grants[0].granted.tool_calls == 1


async def test_a_sub_agent_never_gets_more_than_its_parent_has_left() -> None:
    worker = actrio.Agent(
        "worker",
        "",
        ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 1})] * 5),
        tools=[add],
        budget=Budget(tool_calls=100),
    )
    lead = actrio.Agent(
        "lead",
        "",
        ScriptedModel([Turn.tool_call("worker", {"input": "go"}), "never"]),
        tools=[worker],
    )
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(lead, "go", budget=Budget(tool_calls=3))
    # The lead's own call used 1; the worker was granted what was left (2),
    # then its third call broke the lead's limit: the whole lead subtree stops.
    grants = [e for e in events.of(actrio.context.BudgetGranted) if e.parent_path is not None]
    assert grants[0].granted.tool_calls == 2
    assert result.status == "budget_exceeded"


def test_a_sub_agent_tool_outside_a_run_is_a_usage_error() -> None:
    tool = actrio.Agent("x", "", ScriptedModel([])).as_tool()

    async def main() -> None:
        await tool({"input": "hi"})

    with pytest.raises(actrio.tools.ToolFailed) as caught:
        trio.run(main)
    assert isinstance(caught.value.error, UsageError)
    assert "inside an agent's run" in str(caught.value.error)
    with pytest.raises(UsageError, match="Budget"):
        actrio.Agent("x").as_tool(budget=3)  # type: ignore[arg-type]


async def test_a_structured_sub_agent_returns_its_json() -> None:
    judge = actrio.Agent(
        "judge", "", ScriptedModel(['{"value": 1, "why": "w"}']), output_type=Verdict
    )
    lead = actrio.Agent(
        "lead", "", ScriptedModel([Turn.tool_call("judge", {"input": "?"}), "ok"]), tools=[judge]
    )
    async with actrio.open_runtime() as rt:
        result = await rt.run(lead, "go")
    assert tool_results(result)[0][1] == '{"value":1,"why":"w"}'


def test_sub_agent_stopped_feedback_names_the_status() -> None:
    stopped = SubAgentStopped(
        "w", RunResult(run_id="r", agent="w", status="cancelled", reason="stop")
    )
    assert stopped.feedback() == "sub-agent 'w' did not complete: cancelled (stop)"


# ---------------------------------------------------------------- handoffs


async def test_a_handoff_continues_the_conversation_with_the_other_agent() -> None:
    billing_model = ScriptedModel(["Refunded."])
    billing = actrio.Agent("billing", "You handle money.", billing_model, description="Money.")
    triage_model = ScriptedModel([Turn.tool_call("transfer_to_billing", {})])
    triage = actrio.Agent("triage", "Route.", triage_model, handoffs=[billing])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(triage, "refund please")
    assert (result.status, result.agent, result.output) == ("completed", "billing", "Refunded.")
    assert result.steps == 2
    (spec,) = triage_model.requests[0].tools
    assert spec.name == "transfer_to_billing"
    assert "Money." in spec.description
    sent = billing_model.requests[0].messages
    assert sent[0].text == "You handle money."
    assert [m.role for m in sent] == ["system", "user", "assistant", "tool"]
    (handed,) = events.of(HandedOff)
    assert (handed.agent, handed.to_agent) == ("triage", "billing")
    assert len(events.of(RunStarted)) == len(events.of(RunEnded)) == 1


# ---------------------------------------------------------------- sync


def test_run_sync_runs_from_a_script() -> None:
    result = actrio.run_sync(actrio.Agent("a", "", ScriptedModel(["hi"])), "x")
    assert result.output == "hi"


async def test_run_sync_refuses_inside_trio() -> None:
    with pytest.raises(UsageError, match="cannot run inside trio"):
        actrio.run_sync(actrio.Agent("a", "", ScriptedModel(["hi"])), "x")


# ---------------------------------------------------------------- the tree


async def test_every_scope_of_a_run_ends_and_children_end_first(autojump_clock: Any) -> None:
    expert = actrio.Agent(
        "expert",
        "",
        ScriptedModel([Turn.tool_call("nap", {"seconds": 1, "tag": "z"}), "e"]),
        tools=[nap],
    )
    lead = actrio.Agent(
        "lead",
        "",
        ScriptedModel(
            [Turn.tool_calls([("expert", {"input": "q"}), ("add", {"a": 1, "b": 1})]), "l"]
        ),
        tools=[expert, add],
    )
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        await rt.run(lead, "go")
    order = [(type(e).__name__, e.uuid) for e in events.of(ScopeStarted, ScopeEnded)]
    started = [u for kind, u in order if kind == "ScopeStarted"]
    ended = [u for kind, u in order if kind == "ScopeEnded"]
    assert sorted(started) == sorted(ended)
    parents = {e.uuid: e.parent_uuid for e in events.of(ScopeStarted)}
    position = {u: i for i, u in enumerate(ended)}
    for child, parent in parents.items():
        if parent in position:
            assert position[child] < position[parent]
    kinds = sorted({e.category for e in events.of(ScopeStarted)})
    assert kinds == ["agent", "llm", "tool"]


async def test_no_model_call_for_a_request_known_to_be_over_the_window() -> None:
    model = FunctionModel(lambda request: "x", context_window=100)
    agent = actrio.Agent("a", "", model, max_tokens=50, summarize=False)
    async with actrio.open_runtime() as rt:
        with pytest.raises(RunFailed) as caught:
            await rt.run(agent, "word " * 500)
    assert isinstance(caught.value.__cause__, actrio.context.ContextOverflow)
    assert model.requests == []
    assert math.isfinite(caught.value.__cause__.needed)


def test_module_attributes_load_lazily() -> None:
    assert actrio.Agent is actrio.agents.Agent
    assert actrio.Budget is actrio.context.Budget
    assert actrio.RunResult is RunResult
    assert actrio.run_sync is actrio.agents.run_sync
    assert actrio.BudgetExceeded is BudgetExceeded
    assert actrio.RunFailed is RunFailed
    with pytest.raises(AttributeError, match="nope"):
        _ = actrio.nope  # type: ignore[attr-defined]


def test_agent_events_read_back_from_the_wire() -> None:
    from actrio._wire import converter, structure_tagged  # noqa: PLC0415

    event = RunEnded(run_id="r", agent="a", path="/p", status="cancelled", reason="x")
    assert structure_tagged(converter.unstructure(event)) == event
    assert isinstance(ModelRequest, type)


async def test_a_handoff_does_not_restart_the_seconds_budget(autojump_clock: Any) -> None:
    slow = actrio.Agent("slow", "", ScriptedModel([Turn.text("late", delay=8)]))
    first = actrio.Agent(
        "first",
        "",
        ScriptedModel([Turn.tool_call("transfer_to_slow", {}, delay=5)]),
        handoffs=[slow],
    )
    async with actrio.open_runtime() as rt:
        start = trio.current_time()
        result = await rt.run(first, "go", budget=Budget(seconds=10))
        assert trio.current_time() - start == pytest.approx(10)
    assert result.status == "budget_exceeded"
    assert result.agent == "slow"


async def test_a_sub_agent_is_bound_by_its_callers_policies() -> None:
    ran: list[str] = []

    @actrio.tool(capability="os.shell")
    async def shell(command: str) -> str:
        """Run a command."""
        await trio.lowlevel.checkpoint()
        ran.append(command)
        return "ran"

    helper = actrio.Agent(
        "helper",
        "",
        ScriptedModel([Turn.tool_call("shell", {"command": "rm -rf /"}), "tried"]),
        tools=[shell],
    )
    lead = actrio.Agent(
        "lead",
        "",
        ScriptedModel([Turn.tool_call("helper", {"input": "clean up"}), "done"]),
        tools=[helper],
        policies='deny os.shell(command) if not command.eq("ls")',
    )
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(lead, "go")
    assert ran == []
    assert result.ok
    (decision,) = [d for d in events.of(actrio.actors.PolicyDecision) if d.tool == "shell"]
    assert not decision.allowed


async def test_a_confirmation_pauses_only_the_call_that_asks(autojump_clock: Any) -> None:
    done: list[tuple[str, float]] = []

    @actrio.tool(capability="os.shell")
    async def shell(command: str) -> str:
        """Run a command."""
        await trio.lowlevel.checkpoint()
        done.append((command, trio.current_time()))
        return f"ran {command}"

    @actrio.tool
    async def look() -> str:
        """Look around."""
        await trio.lowlevel.checkpoint()
        done.append(("look", trio.current_time()))
        return "looked"

    model = ScriptedModel([Turn.tool_calls([("shell", {"command": "make"}), ("look", {})]), "ok"])
    agent = actrio.Agent("a", "", model, tools=[shell, look])
    policy = "before os.shell(command) requires user.confirm"
    async with actrio.open_runtime(policies=policy, human="external") as rt:

        async def answer_later(event: Event) -> None:
            if isinstance(event, actrio.human.HumanRequested):
                await trio.sleep(30)
                rt.respond(event.request_id, True)

        rt.subscribe(answer_later)
        start = trio.current_time()
        result = await rt.run(agent, "go")
    assert result.ok
    times = {name: t - start for name, t in done}
    assert times["look"] < 1  # the sibling did not wait for the person
    assert times["make"] >= 30


async def test_a_sub_agent_called_twice_gets_a_ledger_each() -> None:
    helper = actrio.Agent("helper", "", ScriptedModel(["one", "two"]))
    lead = actrio.Agent(
        "lead",
        "",
        ScriptedModel(
            [Turn.tool_calls([("helper", {"input": "a"}), ("helper", {"input": "b"})]), "ok"]
        ),
        tools=[helper],
    )
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        await rt.run(lead, "go")
    paths = sorted(
        e.path for e in events.of(actrio.context.BudgetGranted) if e.parent_path is not None
    )
    assert paths == ["lead/helper", "lead/helper-2"]


async def test_runs_are_costed_at_the_runtimes_prices() -> None:
    from actrio.adapters import Price, PriceTable  # noqa: PLC0415 - only here

    model = ScriptedModel(["hi"], model="house-model")
    async with actrio.open_runtime() as rt:
        assert rt.prices is PriceTable.default()  # parsed once, shared
        rt.prices = rt.prices.merged({"house-model": Price(input=1_000_000.0, output=1_000_000.0)})
        result = await rt.run(actrio.Agent("a", "", model), "x")
        with pytest.raises(UsageError, match="PriceTable"):
            rt.prices = {"house-model": 1}  # type: ignore[assignment]
    assert result.cost_usd == pytest.approx(result.usage.total_tokens)
    assert result.unpriced_models == ()
