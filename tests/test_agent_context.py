"""Context fitting in the loop, hooks around it, and cancelling part of a tree.

Before every model call the request is fitted to the window minus the output
reserved: never sent when known to be over; compressed in stages (each an
event with tokens before and after); a provider's "context too long"
compresses harder and retries once, then fails clearly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import pytest
import trio

import actrio
from actrio import hooks
from actrio.adapters import ContextLengthExceeded
from actrio.agents import ContextCompressed, RunEnded, RunFailed, ToolCallEnded
from actrio.agents._compress import SUMMARY_PREFIX
from actrio.context import Budget, CharEstimator, ContextOverflow
from actrio.messages import Message
from actrio.middleware import MiddlewareError
from actrio.testing import FunctionModel, ScriptedModel, Turn
from actrio.types import ModelRequest, ModelResponse

if TYPE_CHECKING:
    from actrio.kernel import Event

WORDS = "lorem ipsum dolor sit amet " * 40  # ~1,080 characters


def history(turns: int) -> list[Message]:
    messages: list[Message] = []
    for i in range(turns):
        messages += [Message.user(f"{i}: {WORDS}"), Message.assistant(f"noted {i}")]
    return messages


class Recorder:
    def __init__(self, rt: actrio.Runtime) -> None:
        self.events: list[Event] = []
        rt.subscribe(self.events.append)

    def of(self, *types: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, types)]


def answering(window: int, sent: list[ModelRequest], summary: str = "They talked.") -> Any:
    """A model that checks every request it gets against its window."""
    estimator = CharEstimator()

    def answer(request: ModelRequest) -> str:
        if request.system_prompt.startswith("Summarise"):
            return summary
        sent.append(request)
        assert estimator.count(request) <= window - (request.max_tokens or 0)
        return "fine"

    return answer


async def test_an_over_long_request_is_compressed_with_an_event_per_stage() -> None:
    sent: list[ModelRequest] = []
    model = FunctionModel(answering(2000, sent), context_window=2000)
    agent = actrio.Agent("a", "Be brief.", model, max_tokens=200, keep_last_turns=1)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "and now?", history=history(8))
    assert result.output == "fine"
    stages = events.of(ContextCompressed)
    assert [s.stage for s in stages] == ["drop_oldest_turns", "summarize"]
    assert all(s.tokens_after < s.tokens_before for s in stages[:1])
    (request,) = sent
    assert request.messages[0].text == "Be brief."
    assert request.messages[1].role == "system"
    assert request.messages[1].text.startswith(SUMMARY_PREFIX + "They talked.")
    assert request.messages[-1].text == "and now?"
    assert len(result.messages) == 1 + 16 + 1 + 1  # the transcript keeps everything
    summary_scopes = [e for e in events.of(actrio.ScopeStarted) if e.name == "summarize"]
    assert len(summary_scopes) == 1


async def test_the_working_context_stays_compressed_for_the_next_step() -> None:
    sent: list[ModelRequest] = []
    answer = answering(2000, sent)
    calls = 0

    def with_tool(request: ModelRequest) -> Any:
        nonlocal calls
        if request.system_prompt.startswith("Summarise"):
            return answer(request)
        calls += 1
        if calls == 1:
            sent.append(request)
            return Turn.tool_call("add", {"a": 1, "b": 1})
        return answer(request)

    @actrio.tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    model = FunctionModel(with_tool, context_window=2000)
    agent = actrio.Agent("a", "", model, tools=[add], max_tokens=200, keep_last_turns=1)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        await rt.run(agent, "go", history=history(8))
    assert len(events.of(ContextCompressed)) == 2  # only before the first call
    first, second = sent
    assert len(second.messages) == len(first.messages) + 2


async def test_without_summaries_the_gap_is_noted_as_a_user_message() -> None:
    sent: list[ModelRequest] = []
    model = FunctionModel(answering(1500, sent), context_window=1500)
    agent = actrio.Agent("a", "", model, max_tokens=100, keep_last_turns=1, summarize=False)
    long_turn = [
        Message.user("start " + WORDS),
        Message.assistant([actrio.messages.ToolCallPart(id="c", name="t", arguments={})]),
        Message.tool("c", WORDS * 3),
        Message.assistant("so " + WORDS),
    ]
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        await rt.run(agent, "next", history=long_turn)
    (request,) = sent
    first = next(m for m in request.messages if m.role != "system")
    assert first.role == "user"
    assert {s.stage for s in events.of(ContextCompressed)} <= {
        "truncate_tool_results",
        "drop_oldest_turns",
    }


async def test_a_failing_summary_is_left_out() -> None:
    sent: list[ModelRequest] = []
    inner = answering(2000, sent)

    def answer(request: ModelRequest) -> Any:
        if request.system_prompt.startswith("Summarise"):
            return Turn.error(actrio.adapters.ServerError("down", status=500))
        return inner(request)

    model = FunctionModel(answer, context_window=2000)
    agent = actrio.Agent("a", "", model, max_tokens=200, keep_last_turns=1)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "go", history=history(8))
    assert result.ok
    assert [s.stage for s in events.of(ContextCompressed)] == ["drop_oldest_turns"]
    assert not any(m.text.startswith(SUMMARY_PREFIX) for m in sent[0].messages)


async def test_the_summarizer_model_is_configurable_and_charged() -> None:
    summarizer = ScriptedModel(["short summary"], model="gpt-4.1-nano")
    sent: list[ModelRequest] = []
    model = FunctionModel(answering(2000, sent), context_window=2000)
    agent = actrio.Agent("a", "", model, max_tokens=200, keep_last_turns=1, summarizer=summarizer)
    async with actrio.open_runtime() as rt:
        result = await rt.run(agent, "go", history=history(8))
    assert len(summarizer.requests) == 1
    assert result.cost_usd > 0  # the summary's cost, from its price
    assert any(m.text == SUMMARY_PREFIX + "short summary" for m in sent[0].messages)


async def test_the_budgets_context_ceiling_is_the_window_when_smaller() -> None:
    sent: list[ModelRequest] = []
    model = FunctionModel(answering(10_000, sent), context_window=100_000)
    agent = actrio.Agent("a", "", model, summarize=False, keep_last_turns=1)
    async with actrio.open_runtime() as rt:
        await rt.run(agent, "go", history=history(8), budget=Budget(context_tokens=1200))
    assert CharEstimator().count(sent[0]) <= 1200


async def test_context_length_exceeded_compresses_harder_and_retries_once() -> None:
    calls: list[int] = []

    def answer(request: ModelRequest) -> Any:
        if request.system_prompt.startswith("Summarise"):
            return "earlier stuff"
        calls.append(len(request.messages))
        if len(calls) == 1:
            return Turn.error(ContextLengthExceeded("too long", status=400))
        return "made it"

    model = FunctionModel(answer, context_window=100_000)
    agent = actrio.Agent("a", "", model, keep_last_turns=1)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "go", history=history(8))
    assert result.output == "made it"
    assert calls[1] < calls[0]
    retried = [s for s in events.of(ContextCompressed) if s.retry]
    assert retried
    assert retried[0].tokens_after < retried[0].tokens_before


async def test_context_length_exceeded_twice_fails_clearly() -> None:
    model = ScriptedModel([Turn.error(ContextLengthExceeded("too long", status=400))] * 2)
    agent = actrio.Agent("a", "", model, keep_last_turns=1, summarize=False)
    async with actrio.open_runtime() as rt:
        with pytest.raises(RunFailed) as caught:
            await rt.run(agent, "go", history=history(4))
    error = caught.value.__cause__
    assert isinstance(error, ContextOverflow)
    assert isinstance(error.__cause__, ContextLengthExceeded)
    assert len(model.requests) == 2


# ---------------------------------------------------------------- hooks


async def test_hooks_see_and_rewrite_model_calls_tool_calls_and_compression() -> None:
    seen: list[str] = []

    def before_model(agent: str, request: ModelRequest) -> ModelRequest:
        seen.append(f"before_model:{agent}")
        return ModelRequest(
            messages=(*request.messages, Message.user("(hooked)")), tools=request.tools
        )

    def after_model(agent: str, request: ModelRequest, response: ModelResponse) -> None:
        seen.append(f"after_model:{response.finish_reason}")

    def before_tool(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        seen.append(f"before_tool:{tool}")
        return {**arguments, "b": 100}

    def after_tool(tool: str, arguments: dict[str, Any], output: str, error: object) -> str:
        seen.append(f"after_tool:{output}")
        return output + "!"

    def before_compression(agent: str, request: ModelRequest, tokens: int, available: int) -> None:
        seen.append("before_compression")
        assert tokens > available

    def after_compression(
        agent: str, before: ModelRequest, after: ModelRequest, stages: tuple[str, ...]
    ) -> None:
        seen.append(f"after_compression:{','.join(stages)}")

    @actrio.tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    model = ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 2}), "ok"], context_window=2000)
    agent = actrio.Agent("a", "", model, tools=[add], max_tokens=200, summarize=False)
    async with actrio.open_runtime() as rt:
        hooks.register_before_model_call("m1", 0, before_model)
        hooks.register_after_model_call("m2", 0, after_model)
        hooks.register_before_tool_call("t1", 0, before_tool)
        hooks.register_after_tool_call("t2", 0, after_tool)
        hooks.register_before_compression("c1", 0, before_compression)
        hooks.register_after_compression("c2", 0, after_compression)
        result = await rt.run(agent, "go", history=history(8))
    assert model.requests[0].messages[-1].text == "(hooked)"
    tool_message = next(m for m in result.messages if m.role == "tool")
    assert tool_message.parts[0].content == "101!"  # type: ignore[union-attr]
    assert seen[:2] == ["before_compression", "after_compression:drop_oldest_turns"]
    assert "before_tool:add" in seen
    assert "after_tool:101" in seen
    assert seen.count("before_model:a") == 2


async def test_a_failing_before_tool_hook_fails_only_that_call() -> None:
    def refuse(tool: str, arguments: dict[str, Any]) -> None:
        raise ValueError("not today")

    model = ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 2}), "ok"])

    @actrio.tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    async with actrio.open_runtime() as rt:
        hooks.register_before_tool_call("no", 0, refuse)
        events = Recorder(rt)
        result = await rt.run(actrio.Agent("a", "", model, tools=[add]), "go")
    assert result.ok
    (ended,) = events.of(ToolCallEnded)
    assert (ended.is_error, ended.error_type) == (True, "MiddlewareError")


async def test_a_failing_after_tool_hook_replaces_the_output_with_its_error() -> None:
    def broken(tool: str, arguments: dict[str, Any], output: str, error: object) -> str:
        raise RuntimeError("oops")

    model = ScriptedModel([Turn.tool_call("add", {"a": 1, "b": 2}), "ok"])

    @actrio.tool
    async def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    async with actrio.open_runtime() as rt:
        hooks.register_after_tool_call("broken", 0, broken)
        result = await rt.run(actrio.Agent("a", "", model, tools=[add]), "go")
    content = next(m for m in result.messages if m.role == "tool").parts[0].content  # type: ignore[union-attr]
    assert "broken" in content


async def test_a_failing_model_hook_fails_the_run() -> None:
    def broken(agent: str, request: ModelRequest) -> None:
        raise RuntimeError("no")

    async with actrio.open_runtime() as rt:
        hooks.register_before_model_call("broken", 0, broken)
        with pytest.raises(RunFailed) as caught:
            await rt.run(actrio.Agent("a", "", ScriptedModel(["x"])), "go")
    assert isinstance(caught.value.__cause__, MiddlewareError)


# ---------------------------------------------------------------- part of a tree


async def test_cancelling_a_sub_agents_run_stops_only_it(autojump_clock: Any) -> None:
    @actrio.tool
    async def wait(seconds: float) -> str:
        """Wait."""
        await trio.sleep(seconds)
        return "waited"

    worker = actrio.Agent(
        "worker",
        "",
        ScriptedModel([Turn.tool_call("wait", {"seconds": 100}), "never"]),
        tools=[wait],
    )
    lead_model = ScriptedModel([Turn.tool_call("worker", {"input": "go"}), "carried on"])
    lead = actrio.Agent("lead", "", lead_model, tools=[worker])
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)

        async def cancel_worker() -> None:
            await trio.sleep(5)
            (started,) = [e for e in events.of(actrio.agents.RunStarted) if e.agent == "worker"]
            assert rt.cancel(started.run_id, "not needed")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_worker)
            result = await rt.run(lead, "go")
    assert result.output == "carried on"
    ends = {e.agent: e for e in events.of(RunEnded)}
    assert ends["worker"].status == "cancelled"
    assert ends["worker"].reason == "not needed"
    assert ends["lead"].status == "completed"
    content = next(m for m in result.messages if m.role == "tool").parts[0].content  # type: ignore[union-attr]
    assert "cancelled (not needed)" in content


@pytest.mark.parametrize(
    ("summary", "budget", "why"),
    [
        ("", None, "an empty summary"),
        ("x" * 50_000, None, "a summary too big to fit"),
        ("fine", Budget(model_calls=1), "no budget left for a summary call"),
    ],
)
async def test_a_summary_that_cannot_help_is_left_out(
    summary: str, budget: Budget | None, why: str
) -> None:
    sent: list[ModelRequest] = []
    model = FunctionModel(answering(2000, sent, summary=summary), context_window=2000)
    agent = actrio.Agent("a", "", model, max_tokens=200, keep_last_turns=1)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "go", history=history(8), budget=budget)
    assert result.ok, why
    assert [s.stage for s in events.of(ContextCompressed)] == ["drop_oldest_turns"], why
    assert not any(m.text.startswith(SUMMARY_PREFIX) for m in sent[0].messages), why


async def test_an_agents_own_estimator_decides_what_fits() -> None:
    class Pessimist:
        """Counts every request as huge: everything old must go."""

        def count(self, value: Any, /) -> int:
            messages = value.messages if isinstance(value, ModelRequest) else value
            return 300 * len(messages)

    sent: list[ModelRequest] = []
    model = FunctionModel(lambda r: sent.append(r) or "ok", context_window=1000)  # type: ignore[func-returns-value]
    agent = actrio.Agent(
        "a", "", model, max_tokens=100, summarize=False, keep_last_turns=1, estimator=Pessimist()
    )
    async with actrio.open_runtime() as rt:
        await rt.run(agent, "go", history=history(3))
    assert len(sent[0].messages) == 3  # 300 tokens each: 900 fit, the oldest turns went
    with pytest.raises(actrio.agents.AgentDefinitionError, match="estimator"):
        actrio.Agent("b", estimator=object())  # type: ignore[arg-type]


def test_the_default_estimator_never_learns_to_count_less() -> None:
    """A provider reporting fewer tokens than chars / 4 never makes requests look smaller."""
    from actrio.agents._state import AgentState  # noqa: PLC0415

    factory = attrs.fields(AgentState).estimator.default.factory  # type: ignore[union-attr]
    estimator = factory()
    assert estimator.calibrate(1000, 500)  # "it was only half that"
    assert estimator.ratio == 4.0
    assert estimator.calibrate(1000, 2000)  # "it was twice that": learnt
    assert estimator.ratio < 4.0


async def test_a_summary_call_is_announced_with_its_usage() -> None:
    sent: list[ModelRequest] = []
    model = FunctionModel(answering(2000, sent), context_window=2000)
    agent = actrio.Agent("a", "", model, max_tokens=200, keep_last_turns=1)
    async with actrio.open_runtime() as rt:
        events = Recorder(rt)
        result = await rt.run(agent, "go", history=history(8))
    called = events.of(actrio.agents.ModelCalled)
    assert len(called) == 2  # the summary, then the answer
    total = called[0].usage + called[1].usage
    assert total == result.usage
