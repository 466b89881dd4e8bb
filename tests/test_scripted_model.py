"""ScriptedModel and FunctionModel: deterministic models that keep the adapter contract."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.adapters._accumulate import parse_arguments
from actrio.adapters.errors import (
    Overloaded,
    ProviderConnectionError,
    RateLimited,
    StreamInterrupted,
)
from actrio.adapters.router import Model
from actrio.messages import ImagePart, Message, ReasoningPart, TextPart, ToolCallPart
from actrio.testing._scripted import (
    FunctionModel,
    ScriptedModel,
    ScriptError,
    ScriptExhausted,
    ToolCall,
    Turn,
)
from actrio.types import (
    Finish,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
    UsageUpdate,
)

REQUEST = ModelRequest(messages="hello there")


async def collect(model: Model, request: ModelRequest = REQUEST) -> list[StreamEvent]:
    async with model.stream(request) as events:
        return [event async for event in events]


async def drain(events: Any, got: list[StreamEvent]) -> None:
    """Read a stream expected to break, keeping what it delivered first."""
    while True:
        got.append(await anext(events))


def check_events(events: list[StreamEvent]) -> ModelResponse:
    """The contract actrio.testing.conformance checks for real adapters."""
    assert isinstance(events[-1], Finish)
    assert sum(isinstance(e, Finish) for e in events) == 1
    response = events[-1].response
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == response.text
    assert (
        "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == response.reasoning_text
    )
    usages = [e.usage for e in events if isinstance(e, UsageUpdate)]
    assert usages == [response.usage]
    assert isinstance(events[-2], UsageUpdate)
    started: dict[int, str] = {}
    open_calls: set[int] = set()
    ended: list[ToolCallPart] = []
    for event in events:
        if isinstance(event, ToolCallStart):
            assert event.index not in started
            started[event.index] = ""
            open_calls.add(event.index)
        elif isinstance(event, ToolCallDelta):
            assert event.index in open_calls
            started[event.index] += event.arguments
        elif isinstance(event, ToolCallEnd):
            assert event.index in open_calls
            open_calls.remove(event.index)
            ended.append(event.call)
            if event.call.complete:
                assert parse_arguments(started[event.index]) == (
                    dict(event.call.arguments),
                    event.call.problem,
                )
    assert not open_calls
    assert ended == list(response.tool_calls)
    return response


# ---------------------------------------------------------------- strategies

_texts = st.text(alphabet="abcé xyz{}\"'", max_size=12)
_names = st.from_regex(r"[a-z_]{1,8}", fullmatch=True)
_arguments = st.one_of(
    st.dictionaries(_names, st.integers() | st.text(max_size=4), max_size=3),
    st.sampled_from(["{}", "", '{"a": 1}', "{bad", "[1]", "null"]),
)
_parts = st.lists(
    st.one_of(
        _texts.map(lambda t: TextPart(text=t)),
        st.builds(ReasoningPart, text=_texts, summary=st.booleans()),
        st.builds(ToolCall, name=_names, arguments=_arguments),
    ),
    max_size=5,
)
turns = st.builds(
    Turn,
    parts=_parts,
    chunks=st.integers(1, 5),
    finish_reason=st.sampled_from([None, "stop", "length", "content_filter"]),
    interrupt_after=st.none() | st.none() | st.integers(1, 6),
)


@settings(max_examples=80, deadline=None)
@given(turn=turns)
async def test_complete_equals_the_streams_finish(turn: Turn) -> None:
    """Each turn kind: complete() is exactly Finish.response; events keep the contract."""
    streamed, completed = ScriptedModel([turn]), ScriptedModel([turn])
    if turn.interrupt_after is not None:
        got: list[StreamEvent] = []
        async with streamed.stream(REQUEST) as stream:
            with pytest.raises(StreamInterrupted) as caught:
                await drain(stream, got)
        chunks = [e for e in got if isinstance(e, TextDelta | ReasoningDelta | ToolCallDelta)]
        assert len(chunks) <= turn.interrupt_after
        partial = caught.value.partial
        assert "".join(e.text for e in got if isinstance(e, TextDelta)) == partial.text
        ended = [e.call for e in got if isinstance(e, ToolCallEnd)]
        assert ended == list(partial.tool_calls[: len(ended)])
        assert all(not c.complete for c in partial.tool_calls[len(ended) :])
        with pytest.raises(ProviderConnectionError):
            await completed.complete(REQUEST)
        return
    events = await collect(streamed)
    response = check_events(events)
    assert await completed.complete(REQUEST) == response
    expected_reason = turn.finish_reason or ("tool_calls" if response.tool_calls else "stop")
    assert response.finish_reason == expected_reason
    assert [e.id for e in response.tool_calls] == [f"call_0_{i}" for i in range(len(e_calls(turn)))]


def e_calls(turn: Turn) -> list[ToolCall]:
    return [p for p in turn.parts if isinstance(p, ToolCall)]


async def test_protocol_and_names() -> None:
    scripted = ScriptedModel([], model="m1", provider="p1")
    function = FunctionModel(lambda r: "x")
    assert isinstance(scripted, Model)
    assert isinstance(function, Model)
    assert (scripted.model, scripted.provider) == ("m1", "p1")
    assert (function.model, function.provider) == ("function", "function")
    assert repr(scripted) == "ScriptedModel(model='m1', calls=0)"
    response = await ScriptedModel(["hi"], model="m1", provider="p1").complete(REQUEST)
    assert (response.model, response.provider, response.response_id) == ("m1", "p1", "p1-0")


# ---------------------------------------------------------------- chunking


async def test_text_is_split_into_chunks() -> None:
    events = await collect(ScriptedModel([Turn.text("abcdefg", chunks=3)]))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["abc", "def", "g"]
    events = await collect(ScriptedModel([Turn.text("ab", chunks=5)]))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a", "b"]
    events = await collect(ScriptedModel([Turn.text("")]))
    assert [type(e) for e in events] == [UsageUpdate, Finish]
    assert check_events(events).text == ""


async def test_tool_calls_stream_keyed_by_index() -> None:
    turn = Turn.tool_calls(
        [("read", {"path": "a"}), ToolCall(name="write", arguments='{"x":1}', id="mine")],
        text="ok",
        chunks=2,
    )
    events = await collect(ScriptedModel([turn]))
    kinds = [(type(e).__name__, getattr(e, "index", None)) for e in events]
    assert kinds == [
        ("TextDelta", None),
        ("TextDelta", None),
        ("ToolCallStart", 0),
        ("ToolCallDelta", 0),
        ("ToolCallDelta", 0),
        ("ToolCallEnd", 0),
        ("ToolCallStart", 1),
        ("ToolCallDelta", 1),
        ("ToolCallDelta", 1),
        ("ToolCallEnd", 1),
        ("UsageUpdate", None),
        ("Finish", None),
    ]
    response = check_events(events)
    assert [(c.id, c.name, dict(c.arguments)) for c in response.tool_calls] == [
        ("call_0_0", "read", {"path": "a"}),
        ("mine", "write", {"x": 1}),
    ]
    assert response.finish_reason == "tool_calls"


async def test_single_tool_call_and_bad_arguments() -> None:
    """OAI-1: arguments that are not a JSON object give a call with a problem."""
    model = ScriptedModel([Turn.tool_call("t", "{bad", id="c1"), Turn.tool_call("t")])
    bad = (await model.complete(REQUEST)).tool_calls[0]
    assert (bad.id, bad.executable, bad.raw_arguments) == ("c1", False, "{bad")
    assert "not valid JSON" in (bad.problem or "")
    empty = (await model.complete(REQUEST)).tool_calls[0]
    assert (empty.id, dict(empty.arguments), empty.executable) == ("call_1_0", {}, True)


async def test_length_cuts_the_last_tool_call() -> None:
    """ANT-3: a tool call cut by the token limit must not run."""
    turn = Turn.tool_calls([("a", {}), ("b", {"x": 1})], finish_reason="length")
    response = check_events(await collect(ScriptedModel([turn])))
    first, last = response.tool_calls
    assert first.executable
    assert not last.complete
    assert response.finish_reason == "length"


async def test_reasoning_parts() -> None:
    part = ReasoningPart(text="think", signature="sig", encrypted="enc", id="r1", summary=True)
    response = await ScriptedModel([Turn(parts=[part, TextPart(text="a")])]).complete(REQUEST)
    got = response.reasoning[0]
    assert (got.text, got.signature, got.encrypted, got.id, got.summary, got.provider) == (
        "think",
        "sig",
        "enc",
        "r1",
        True,
        "scripted",
    )
    model = ScriptedModel([Turn.reasoning("why"), Turn.reasoning("why", text="so"), "plain"])
    assert [(r.reasoning_text, r.text) for r in [await model.complete(REQUEST) for _ in "abc"]] == [
        ("why", ""),
        ("why", "so"),
        ("", "plain"),
    ]
    response = await ScriptedModel([Turn.text("t", reasoning="r")]).complete(REQUEST)
    assert [p.kind for p in response.message.parts] == ["reasoning", "text"]


# ---------------------------------------------------------------- usage


async def test_default_usage_is_derived_from_lengths() -> None:
    request = ModelRequest(
        messages=[
            Message.system("abcd"),
            Message.user(["abcd", ImagePart(url="https://x/y.png")]),
            Message.assistant(
                [ReasoningPart(text="abcd"), ToolCallPart(id="c", name="ab", arguments={})]
            ),
            Message.tool("c", "abcdefgh"),
        ]
    )
    # 4 + 4 + 4 + (2 + 2) + 8 = 24 characters: 6 tokens.
    turn = Turn.text("abcde", reasoning="abc")
    usage = (await ScriptedModel([turn]).complete(request)).usage
    assert usage == Usage(input_tokens=6, output_tokens=2 + 1, reasoning_tokens=1)
    given_usage = Usage(input_tokens=100, output_tokens=7)
    events = await collect(ScriptedModel([Turn.text("x", usage=given_usage)]))
    assert check_events(events).usage == given_usage


# ---------------------------------------------------------------- time


async def test_delays_use_virtual_time(autojump_clock: trio.testing.MockClock) -> None:
    model = ScriptedModel([Turn.text("abcdef", chunks=3, delay=2.0)] * 2)
    start = trio.current_time()
    stamps = []
    async with model.stream(REQUEST) as events:
        stamps.append(trio.current_time() - start)
        stamps.extend([trio.current_time() - start async for _ in events])
    assert stamps == [2.0, 2.0, 4.0, 6.0, 6.0, 6.0]
    start = trio.current_time()
    await model.complete(REQUEST)
    assert trio.current_time() - start == 6.0


async def test_error_after_delay(autojump_clock: trio.testing.MockClock) -> None:
    start = trio.current_time()
    with pytest.raises(RateLimited):
        await ScriptedModel([Turn.error(RateLimited("slow down"), delay=1.5)]).complete(REQUEST)
    assert trio.current_time() - start == 1.5


async def test_cancel_during_delay_leaves_nothing(autojump_clock: trio.testing.MockClock) -> None:
    before = trio.lowlevel.current_statistics().tasks_living
    model = ScriptedModel([Turn.text("abc", chunks=3, delay=10)])
    with trio.move_on_after(15):
        async with model.stream(REQUEST) as events:
            async for _ in events:
                pass
    assert trio.current_time() == 15
    assert trio.lowlevel.current_statistics().tasks_living == before


# ---------------------------------------------------------------- errors


async def test_error_turns_raise_from_complete_and_stream_open() -> None:
    error = Overloaded("busy", provider="scripted", status=529)
    model = ScriptedModel([Turn.error(error), Turn.error(error), "after"])
    with pytest.raises(Overloaded) as caught:
        await model.complete(REQUEST)
    assert caught.value is error
    opened = False
    with pytest.raises(Overloaded):
        async with model.stream(REQUEST):
            opened = True  # pragma: no cover - the open fails
    assert not opened
    assert (await model.complete(REQUEST)).text == "after"
    assert len(model.requests) == 3


async def test_interruption_carries_what_was_streamed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    turn = Turn.tool_calls([("a", {"k": "vv"})], text="hello", chunks=2, delay=1).interrupted(3)
    model = ScriptedModel([turn, turn])
    got: list[StreamEvent] = []
    start = trio.current_time()
    async with model.stream(REQUEST) as events:
        with pytest.raises(StreamInterrupted) as caught:
            await drain(events, got)
        assert events.partial() is caught.value.partial
        assert events.response is None
        with pytest.raises(StopAsyncIteration):
            await events.__anext__()
    assert trio.current_time() - start == 4  # open, 2 more chunks, the break
    assert [type(e) for e in got] == [TextDelta, TextDelta, ToolCallStart, ToolCallDelta]
    partial = caught.value.partial
    assert partial.text == "hello"
    (call,) = partial.tool_calls
    assert not call.complete
    assert call.raw_arguments == got[3].arguments  # type: ignore[union-attr]
    assert isinstance(caught.value.cause, ProviderConnectionError)
    assert caught.value.__cause__ is caught.value.cause
    start = trio.current_time()
    with pytest.raises(ProviderConnectionError):
        await model.complete(REQUEST)
    assert trio.current_time() - start == 4


async def test_interruption_with_cause_and_past_the_end() -> None:
    cause = Overloaded("overloaded_error", code="overloaded_error")
    turn = Turn.text("hi", chunks=2).interrupted(after=10, cause=cause)
    model = ScriptedModel([turn, turn])
    async with model.stream(REQUEST) as events:
        assert events.partial() is not None
        got: list[StreamEvent] = []
        with pytest.raises(StreamInterrupted) as caught:
            await drain(events, got)
    assert [type(e) for e in got] == [TextDelta, TextDelta]
    assert caught.value.cause is cause
    assert caught.value.partial.text == "hi"
    with pytest.raises(Overloaded):
        await model.complete(REQUEST)


# ---------------------------------------------------------------- script bookkeeping


async def test_exhaustion_names_the_count_and_last_message() -> None:
    model = ScriptedModel(["one", "two"])
    assert model.remaining == 2
    await model.complete(REQUEST)
    await collect(model)
    assert model.remaining == 0
    request = ModelRequest(messages=[Message.user("first"), Message.user("please do x")])
    with pytest.raises(ScriptExhausted) as caught:
        await model.complete(request)
    text = str(caught.value)
    assert "'scripted'" in text
    assert "2 turn(s)" in text
    assert "call 3" in text
    assert "user: 'please do x'" in text
    assert model.remaining == 0
    assert model.requests[-1] is request
    with pytest.raises(ScriptExhausted, match="call 4"):
        await collect(model)


async def test_exhaustion_message_is_bounded_and_shows_tool_results() -> None:
    with pytest.raises(ScriptExhausted) as caught:
        await ScriptedModel([]).complete(ModelRequest(messages="y" * 1000))
    assert "y" * 200 + "…" in str(caught.value)
    assert "y" * 201 not in str(caught.value)
    request = ModelRequest(
        messages=[
            Message.user("go"),
            Message.assistant(ToolCallPart(id="c", name="t")),
            Message.tool("c", "result"),
        ]
    )
    with pytest.raises(ScriptExhausted, match="tool: 'ToolResultPart'"):
        await ScriptedModel([]).complete(request)


async def test_requests_are_recorded_in_order() -> None:
    model = ScriptedModel(["a", "b", "c"])
    requests = [ModelRequest(messages=f"q{i}") for i in range(3)]
    await model.complete(requests[0])
    await collect(model, requests[1])
    await model.complete(requests[2])
    assert model.requests == requests
    assert repr(model) == "ScriptedModel(model='scripted', calls=3)"


async def test_model_response_entries_pass_through() -> None:
    given_response = ModelResponse(
        message=Message.assistant(
            [
                ReasoningPart(text="r"),
                TextPart(text="t"),
                ToolCallPart(id="k", name="n", arguments={"a": 1}),
            ]
        ),
        finish_reason="tool_calls",
        usage=Usage(input_tokens=3),
        model="real",
        provider="anthropic",
    )
    model = ScriptedModel([given_response, given_response])
    assert await model.complete(REQUEST) is given_response
    events = await collect(model)
    assert events[-1] == Finish(response=given_response)
    assert check_events(events) is given_response


# ---------------------------------------------------------------- FunctionModel


async def test_function_model_sync_and_async() -> None:
    def sync(request: ModelRequest) -> Turn | str:
        last = request.messages[-1].text
        return Turn.tool_call("echo", {"text": last}) if last.startswith("!") else last.upper()

    async def asynchronous(request: ModelRequest) -> str:
        await trio.lowlevel.checkpoint()
        return f"{len(request.messages)} messages"

    model = FunctionModel(sync)
    assert (await model.complete(ModelRequest(messages="hi"))).text == "HI"
    response = check_events(await collect(model, ModelRequest(messages="!x")))
    assert dict(response.tool_calls[0].arguments) == {"text": "!x"}
    assert [r.messages[-1].text for r in model.requests] == ["hi", "!x"]
    other = FunctionModel(asynchronous, model="m")
    assert (await other.complete(REQUEST)).text == "1 messages"
    assert check_events(await collect(other)).text == "1 messages"


async def test_function_model_bad_answer() -> None:
    model = FunctionModel(lambda r: 42)  # type: ignore[arg-type, return-value]
    with pytest.raises(ScriptError, match="call 0: expected a Turn, a str or a ModelResponse"):
        await model.complete(REQUEST)


# ---------------------------------------------------------------- stream object


async def test_early_close_leaves_nothing_running() -> None:
    before = trio.lowlevel.current_statistics().tasks_living
    model = ScriptedModel([Turn.text("abcdef", chunks=6).interrupted(4)])
    async with model.stream(REQUEST) as events:
        async for _ in events:
            break
    with pytest.raises(StopAsyncIteration):
        await events.__anext__()
    await events.aclose()
    assert trio.lowlevel.current_statistics().tasks_living == before


async def test_stream_misuse() -> None:
    model = ScriptedModel(["a", "b"])
    stream = model.stream(REQUEST)
    with pytest.raises(RuntimeError, match="inside `async with"):
        await stream.__anext__()
    assert stream.partial() is None
    async with stream:
        assert stream.partial() is None
        with pytest.raises(RuntimeError, match="only once"):
            await stream.__aenter__()
        assert [type(e) async for e in stream] == [TextDelta, UsageUpdate, Finish]
        assert stream.response is not None
        assert stream.response.text == "a"
    with pytest.raises(TypeError, match="expected a ModelRequest"):
        await model.complete("hi")  # type: ignore[arg-type]


async def test_streams_are_checkpoints() -> None:
    model = ScriptedModel(["a"])
    with trio.testing.assert_checkpoints():
        async with model.stream(REQUEST) as events:
            with trio.testing.assert_checkpoints():
                await events.__anext__()


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"chunks": 0}, "Turn.chunks"),
        ({"chunks": True}, "Turn.chunks"),
        ({"delay": -1}, "Turn.delay"),
        ({"delay": float("nan")}, "Turn.delay"),
        ({"delay": "1"}, "Turn.delay"),
        ({"delay": True}, "Turn.delay"),
        ({"interrupt_after": 0}, "Turn.interrupt_after"),
        ({"parts": ["text"]}, r"Turn.parts\[0\]"),
    ],
)
def test_bad_turns_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ScriptError, match=field):
        Turn(**options)


def test_bad_script_entries() -> None:
    with pytest.raises(ScriptError, match=r"ToolCall.arguments: expected a JSON object"):
        ToolCall(name="t", arguments=[1])  # type: ignore[arg-type]
    with pytest.raises(ScriptError, match=r"turns\[1\]: expected a Turn"):
        ScriptedModel(["ok", 3])  # type: ignore[list-item]
