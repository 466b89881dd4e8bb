"""The agent layer's smaller pieces, one at a time."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
import trio

import actrio
from actrio.adapters import ProviderProtocolError
from actrio.agents import AgentDefinitionError, RunFailed, RunResult
from actrio.agents._compress import _GAP_NOTE, _leading_user, _render
from actrio.agents._tool_calls import error_text
from actrio.context import BudgetExceeded
from actrio.messages import Message, ToolCallPart
from actrio.middleware import GuardrailBlocked
from actrio.policy import PolicySpec
from actrio.testing import ScriptedModel, Turn
from actrio.tools import ToolTimeout
from actrio.types import ModelRequest, TextDelta

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def test_handoffs_must_be_a_list_of_agents() -> None:
    with pytest.raises(AgentDefinitionError, match="list of Agent"):
        actrio.Agent("a", handoffs=actrio.Agent("b"))  # type: ignore[arg-type]


def test_policy_specs_are_accepted_as_values() -> None:
    (spec,) = actrio.Agent("a", policies='deny os.shell(command) if command.eq("x")').policies
    assert isinstance(spec, PolicySpec)
    assert actrio.Agent("b", policies=[spec]).policies == (spec,)


def test_a_result_without_an_assistant_message_has_no_text() -> None:
    result = RunResult(run_id="r", agent="a", status="cancelled", messages=(Message.user("hi"),))
    assert result.text == ""
    assert not result.ok


def test_the_gap_note_puts_a_user_message_first() -> None:
    call = ToolCallPart(id="c", name="t", arguments={})
    request = ModelRequest(
        messages=(Message.system("s"), Message.assistant([call]), Message.tool("c", "r"))
    )
    fixed = _leading_user(request)
    assert [m.role for m in fixed.messages] == ["system", "user", "assistant", "tool"]
    assert fixed.messages[1].text == _GAP_NOTE
    only_system = ModelRequest(messages=(Message.system("s"),))
    assert _leading_user(only_system) is only_system


def test_the_summarizer_sees_calls_and_cut_results() -> None:
    call = ToolCallPart(id="c", name="search", arguments={"q": "x"})
    text = _render(
        (Message.user("find x"), Message.assistant([call]), Message.tool("c", "y" * 5000))
    )
    assert 'assistant called search({"q":"x"})' in text
    assert "[... 5000 characters]" in text
    assert _render((Message.assistant([call]),)).startswith("assistant called")
    thought = actrio.messages.ReasoningPart(text="hmm")
    assert _render((Message.assistant([thought]), Message.tool("c", "ok"))) == "result of c: ok"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ToolTimeout("t", 1.0), "Error: "),
        (GuardrailBlocked(guardrail="g", target="t", reason="no"), ""),
        (ValueError("private"), "Error: the tool call failed (ValueError)"),
        (BudgetExceeded(path="a", field="tool_calls", limit=1, spent=2), "Error: "),
    ],
)
def test_what_the_model_is_told_about_a_failure(error: BaseException, expected: str) -> None:
    text = error_text(error)
    assert text.startswith(expected)
    assert "private" not in text


class NoFinish:
    """A model whose stream ends without its finish event."""

    model = "broken"
    provider = "broken"

    async def complete(self, request: ModelRequest) -> Any:
        raise NotImplementedError

    @asynccontextmanager
    async def stream(self, request: ModelRequest) -> AsyncIterator[Any]:
        async def events() -> AsyncIterator[Any]:
            yield TextDelta(text="half")

        yield events()


async def test_a_stream_without_its_finish_event_fails_the_run() -> None:
    async with actrio.open_runtime() as rt:
        with pytest.raises(RunFailed) as caught:
            await rt.run(actrio.Agent("a", "", NoFinish()), "go")
    assert isinstance(caught.value.__cause__, ProviderProtocolError)
    assert "without its finish event" in str(caught.value.__cause__)


async def test_a_handoff_to_an_agent_without_instructions_keeps_the_history() -> None:
    quiet = actrio.Agent("quiet", "", ScriptedModel(["done"]))
    first = actrio.Agent(
        "first",
        "Route.",
        ScriptedModel([Turn.tool_call("transfer_to_quiet", {})]),
        handoffs=[quiet],
    )
    async with actrio.open_runtime() as rt:
        result = await rt.run(first, "go")
    assert result.agent == "quiet"
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "assistant"]


async def test_a_stream_started_inside_a_scope_runs_as_its_child() -> None:
    async with actrio.open_runtime() as rt:
        events: list[Any] = []
        rt.subscribe(events.append)
        async with actrio.open_scope("outer") as outer:
            stream = rt.stream(actrio.Agent("a", "", ScriptedModel(["x"])), "go")
            kinds = [e.kind async for e in stream]
        assert kinds[-1] == "run_ended"
        (agent_scope,) = [e for e in events if isinstance(e, actrio.ScopeStarted) and e.name == "a"]
        assert agent_scope.parent_uuid == outer.uuid


async def test_closing_an_unstarted_stream_does_nothing() -> None:
    async with actrio.open_runtime() as rt:
        stream = rt.stream(actrio.Agent("a", "", ScriptedModel(["x"])), "go")
        await stream.aclose()
        assert stream.result is None
        assert stream.run_id.startswith("run-")


async def test_a_stream_cannot_start_once_the_runtime_is_closing() -> None:
    async with actrio.open_runtime() as rt:
        stream = rt.stream(actrio.Agent("a", "", ScriptedModel(["x"])), "go")
    with pytest.raises(actrio.ActorStopped, match="not running"):
        await stream.__anext__()


async def test_a_streamed_run_cancelled_from_outside_still_ends_its_stream(
    autojump_clock: Any,
) -> None:
    @actrio.tool
    async def wait() -> str:
        """Wait forever."""
        await trio.sleep_forever()
        return "never"  # pragma: no cover

    agent = actrio.Agent("a", "", ScriptedModel([Turn.tool_call("wait", {})]), tools=[wait])
    kinds: list[str] = []

    async def read(stream: actrio.agents.RunStream) -> None:
        async for event in stream:
            kinds.append(event.kind)  # noqa: PERF401 - kept if the end raises

    async with (
        actrio.open_runtime() as rt,
        trio.open_nursery() as nursery,
        actrio.open_scope("holder") as holder,
    ):
        stream = rt.stream(agent, "go")
        await stream.__aenter__()  # the run is a task of this scope
        nursery.start_soon(read, stream)  # the reader is not
        await trio.sleep(1)
        holder.cancel("holder closed")
    assert kinds[0] == "run_started"
    assert kinds[-1] == "run_ended"
    # Cancelled went up its scope, but the reader still gets the completed work.
    result = stream.result
    assert result is not None
    assert (result.status, result.reason) == ("cancelled", "cancelled from outside the run")
    assert [m.role for m in result.messages] == ["user", "assistant", "tool"]
    assert result.steps == 1


async def test_a_list_of_messages_is_a_valid_input() -> None:
    model = ScriptedModel(["x"])
    async with actrio.open_runtime() as rt:
        await rt.run(actrio.Agent("a", "", model), [Message.user("one"), Message.user("two")])
    assert [m.text for m in model.requests[0].messages] == ["one", "two"]


async def test_a_stream_after_the_runtime_closed_is_refused() -> None:
    agent = actrio.Agent("a", "", ScriptedModel(["x", "y"]))
    async with actrio.open_runtime() as rt:
        await rt.run(agent, "first")  # the tool host (policy actor) exists now
        stream = rt.stream(agent, "go")
    with pytest.raises(actrio.UsageError, match="shutting down"):
        await stream.__aenter__()


async def test_entering_a_started_stream_again_is_harmless() -> None:
    async with actrio.open_runtime() as rt:
        stream = rt.stream(actrio.Agent("a", "", ScriptedModel(["x"])), "go")
        first = await stream.__anext__()
        assert await stream.__aenter__() is stream
        rest = [e.kind async for e in stream]
    assert first.kind == "run_started"
    assert rest[-1] == "run_ended"


async def test_a_reader_outside_the_runtime_sees_its_stream_end() -> None:
    agent = actrio.Agent("a", "", ScriptedModel([Turn.text("x", delay=10)]))
    kinds: list[str] = []

    async def read(stream: actrio.agents.RunStream) -> None:
        async for event in stream:
            kinds.append(event.kind)  # noqa: PERF401 - kept if the end raises

    async with trio.open_nursery() as nursery, actrio.open_runtime() as rt:
        stream = rt.stream(agent, "go")
        await stream.__aenter__()
        nursery.start_soon(read, stream)
        await trio.sleep(0.1)
    assert kinds[0] == "run_started"


async def test_a_stuck_subscriber_cannot_hold_a_cancelled_run_forever(autojump_clock: Any) -> None:
    """S-13: cleanup publishing is shielded but bounded: each end event (the
    scopes' and the run's) waits for room at most the end-event grace."""

    async def stuck(event: object) -> None:
        await trio.sleep_forever()

    model = ScriptedModel([Turn.tool_call("nope", {}), "x"])
    agent = actrio.Agent("a", "", model, budget=actrio.Budget(total_tokens=10_000))
    async with actrio.open_runtime(shutdown_grace=1) as rt:
        rt.subscribe(stuck, capacity=1)
        start = trio.current_time()
        with trio.move_on_after(3):
            await rt.run(agent, "go")
        # the Llm scope's, the Agent scope's and the run's end events, at most
        assert trio.current_time() - start <= 3 + 4 * actrio.actors._scope.END_EVENT_GRACE
