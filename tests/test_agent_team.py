"""A team of agents under a supervisor: restarts within the kernel's intensity.

A member whose run fails crashes its worker actor; the supervisor restarts
it (S-01: one_for_one, only that worker) and the caller's model gets an
error result; the next call reaches the new incarnation. Past the restart
intensity the supervisor escalates (S-04). A caller's budget bounds a
member and is charged with what it spent; cancelling the caller cancels the
member's run.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

import actrio
from actrio.adapters import ServerError
from actrio.agents import MemberUnavailable, RunEnded, Team
from actrio.context import Budget
from actrio.kernel import ActorRestarted, Event, SupervisorEscalation
from actrio.testing import ScriptedModel, Turn

BOOM = ServerError("upstream down", status=503)


class Recorder:
    def __init__(self, rt: actrio.Runtime) -> None:
        self.events: list[Event] = []
        rt.subscribe(self.events.append)

    def of(self, *types: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, types)]


async def test_a_failed_member_is_restarted_and_answers_the_next_call() -> None:
    flaky = actrio.Agent("flaky", "", ScriptedModel([Turn.error(BOOM), "second try works"]))
    steady = actrio.Agent("steady", "", ScriptedModel(["steady answer"]))
    team = Team("experts", [flaky, steady], max_restarts=2, period=60)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        experts = await team.start(rt)
        steady_before = await experts.worker("steady")
        lead_model = ScriptedModel(
            [
                Turn.tool_calls([("flaky", {"input": "q"}), ("steady", {"input": "q"})]),
                Turn.tool_call("flaky", {"input": "again"}),
                "both answered",
            ]
        )
        lead = actrio.Agent("lead", "", lead_model, tools=experts.tools())
        result = await rt.run(lead, "go")
        assert await experts.worker("steady") == steady_before  # one_for_one
    assert result.output == "both answered"
    contents = [
        (p.content, p.is_error) for m in result.messages if m.role == "tool" for p in m.parts
    ]
    assert contents[0][1] is True
    assert "flaky" in contents[0][0]
    assert contents[1] == ("steady answer", False)
    assert contents[2] == ("second try works", False)
    restarts = events.of(ActorRestarted)
    assert [r.path.rsplit("/", 1)[-1] for r in restarts] == ["flaky"]


async def test_past_its_intensity_the_supervisor_escalates() -> None:
    broken = actrio.Agent("broken", "", ScriptedModel([Turn.error(BOOM)] * 5))
    team = Team("fragile", [broken], max_restarts=1, period=60)
    failures: list[str] = []

    async def crash_twice() -> None:
        async with actrio.open_runtime() as rt:
            experts = await team.start(rt)
            for attempt in ("1", "2"):
                with pytest.raises(MemberUnavailable, match="broken"):
                    await experts.ask("broken", attempt)
                failures.append(attempt)
            await trio.sleep_forever()  # the escalation ends the runtime

    with pytest.raises(BaseExceptionGroup) as caught:
        await crash_twice()
    assert failures == ["1", "2"]
    matched, _ = caught.value.split(SupervisorEscalation)
    assert matched is not None


async def test_a_member_is_bounded_by_its_callers_budget_and_charges_it() -> None:
    @actrio.tool
    async def step() -> str:
        """One step."""
        await trio.lowlevel.checkpoint()
        return "stepped"

    member = actrio.Agent(
        "member",
        "",
        ScriptedModel([Turn.tool_call("step", {})] * 5 + ["never"]),
        tools=[step],
        budget=Budget(tool_calls=10),
    )
    team = Team("t", [member])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        experts = await team.start(rt)
        lead = actrio.Agent(
            "lead",
            "",
            ScriptedModel([Turn.tool_call("member", {"input": "go"}), "done"]),
            tools=experts.tools(),
        )
        result = await rt.run(lead, "go", budget=Budget(tool_calls=3))
    member_end = next(e for e in events.of(RunEnded) if e.agent == "member")
    assert member_end.status == "budget_exceeded"  # 3 left for the lead, 1 used by its call
    assert result.status == "completed"
    assert result.usage.total_tokens > member_end.usage.total_tokens


async def test_cancelling_the_caller_cancels_the_members_run(autojump_clock: Any) -> None:
    @actrio.tool
    async def wait() -> str:
        """Wait long."""
        await trio.sleep(1000)
        return "waited"  # pragma: no cover

    member = actrio.Agent("member", "", ScriptedModel([Turn.tool_call("wait", {})]), tools=[wait])
    team = Team("t", [member])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        experts = await team.start(rt)
        lead = actrio.Agent(
            "lead",
            "",
            ScriptedModel([Turn.tool_call("member", {"input": "go"})]),
            tools=experts.tools(),
        )
        stream = rt.stream(lead, "go")
        async with stream:
            async for event in stream:
                if event.kind == "tool_call_started":
                    await trio.sleep(5)
                    rt.cancel(stream.run_id, "enough")
        await trio.sleep(1)
        ends = {e.agent: e.status for e in events.of(RunEnded)}
    assert ends == {"lead": "cancelled", "member": "cancelled"}


async def test_a_member_asked_directly_returns_its_result() -> None:
    team = Team("t", [actrio.Agent("solo", "", ScriptedModel(["hello"]))])
    async with actrio.open_runtime() as rt:
        experts = await team.start(rt)
        result = await experts.ask("solo", "hi")
        assert result.output == "hello"
        with pytest.raises(MemberUnavailable, match="'nobody' is not running"):
            await experts.worker("nobody")


def test_a_team_checks_its_members() -> None:
    with pytest.raises(actrio.UsageError, match="non-empty list"):
        Team("t", [])
    with pytest.raises(actrio.UsageError, match="non-empty list"):
        Team("t", ["a"])  # type: ignore[list-item]
    a = actrio.Agent("a")
    with pytest.raises(actrio.UsageError, match="share a name"):
        Team("t", [a, a])


async def test_a_members_run_names_the_run_that_asked() -> None:
    team = Team("t", [actrio.Agent("member", "", ScriptedModel(["m"]))])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        experts = await team.start(rt)
        lead = actrio.Agent(
            "lead",
            "",
            ScriptedModel([Turn.tool_call("member", {"input": "q"}), "ok"]),
            tools=experts.tools(),
        )
        result = await rt.run(lead, "go")
    ends = {e.agent: e for e in events.of(RunEnded)}
    assert ends["member"].parent_run_id == result.run_id
    assert ends["lead"].parent_run_id is None


async def test_a_crashed_members_spending_is_charged_to_its_caller() -> None:
    @actrio.tool
    async def step() -> str:
        """One step."""
        await trio.lowlevel.checkpoint()
        return "stepped"

    member = actrio.Agent(
        "member", "", ScriptedModel([Turn.tool_call("step", {}), Turn.error(BOOM)]), tools=[step]
    )
    team = Team("t", [member])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        experts = await team.start(rt)
        lead = actrio.Agent(
            "lead",
            "",
            ScriptedModel([Turn.tool_call("member", {"input": "go"}), "ok"]),
            tools=experts.tools(),
        )
        result = await rt.run(lead, "go")
    member_end = next(e for e in events.of(RunEnded) if e.agent == "member")
    assert member_end.status == "failed"
    assert member_end.usage.total_tokens > 0
    lead_own = sum(
        e.usage.total_tokens
        for e in events.of(actrio.agents.ModelCalled)
        if e.run_id == result.run_id
    )
    assert result.usage.total_tokens == lead_own + member_end.usage.total_tokens
    content = next(m for m in result.messages if m.role == "tool").parts[0].content  # type: ignore[union-attr]
    assert "failed (ServerError)" in content
