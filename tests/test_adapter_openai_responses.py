"""The OpenAI Responses adapter: every recorded fixture replayed, request shapes, stream edges."""

from __future__ import annotations

import gc
import itertools
import json
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actrio.adapters.errors import (
    BadRequest,
    ContextLengthExceeded,
    ProviderConnectionError,
    ProviderError,
    ProviderProtocolError,
    QuotaExceeded,
    ServerError,
    StreamInterrupted,
)
from actrio.adapters.openai_responses import OpenAIResponses, OpenAIResponsesStreamParser
from actrio.adapters.retry import RetryPolicy
from actrio.adapters.sse import ServerSentEvent, SSEDecoder
from actrio.messages import (
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
)
from actrio.types import (
    Finish,
    ModelRequest,
    ModelResponse,
    OpenAIChatExtras,
    OpenAIResponsesExtras,
    OutputSchema,
    ReasoningDelta,
    RequestError,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    ToolSpec,
    Usage,
    UsageUpdate,
)
from provider_fixtures import PROVIDER_FIXTURES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

    from actrio.types import StreamEvent

FIXTURES = PROVIDER_FIXTURES / "openai-responses"
KEY = "sk-test-responses-key-0000"
PROVIDER = "openai-responses"
URL = "https://api.openai.com/v1/responses"
HOP_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection"})

SUCCESS_STREAMS = (
    "stream-function-call",
    "stream-function-call-with-ratelimit-headers",
    "stream-reasoning-item-then-function-call-args",
    "stream-reasoning-summary-deltas-then-text",
    "stream-text-after-tool-result",
    "stream-text-basic",
)
ERROR_STREAM = "stream-error-event-then-response-failed.converted"
NONSTREAM = (
    "nonstream-function-call",
    "nonstream-reasoning-and-function-call",
    "nonstream-reasoning-summary-encrypted-content",
    "nonstream-text",
    "nonstream-text-pretty-printed-raw",
    "structured-output-text-format-json-schema",
)
HELLO = ModelRequest(messages=[Message.user("hello")])

# The shared core leaves httpx's nested body generators unclosed when a stream
# stops before EOF (an in-band error); trio warns when the garbage collector
# finalizes them. test_core_closes_abandoned_bodies shows it (strict xfail);
# until _base.py is fixed, the tests that stop a stream early ignore the warning.
CORE_LEAK = pytest.mark.filterwarnings(
    "ignore:Async generator '.*' was garbage collected before it had been exhausted:ResourceWarning"
)


# ---------------------------------------------------------------- fixture files


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def raw_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def meta(name: str) -> tuple[int, dict[str, str]]:
    """Status and headers of a recorded response (headers httpx would re-derive dropped)."""
    path = FIXTURES / f"{name}.response-meta.json"
    if not path.exists():
        return 200, {}
    data = json.loads(path.read_text())
    headers = {
        k: ", ".join(v) if isinstance(v, list) else v
        for k, v in data["headers"].items()
        if k.lower() not in HOP_HEADERS
    }
    return data["status"]["code"], headers


def payloads(name: str) -> list[dict[str, Any]]:
    """The JSON payloads of a recorded stream, in order."""
    return [json.loads(e.data) for e in SSEDecoder().feed(raw_bytes(f"{name}.sse"))]


def done_items(name: str) -> dict[int, dict[str, Any]]:
    """The items of a stream's ``output_item.done`` events, by output index."""
    return {
        p["output_index"]: p["item"]
        for p in payloads(name)
        if p["type"] == "response.output_item.done"
    }


def terminal(name: str) -> dict[str, Any]:
    return payloads(name)[-1]["response"]


def frame(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    kind = "message" if isinstance(payload, str) else payload.get("type", "message")
    return f"event: {kind}\ndata: {data}\n\n".encode()


def without_terminal(data: bytes) -> tuple[bytes, bytes]:
    """A recorded stream split before its last (terminal) event."""
    cut = data.rindex(b"event: response.")
    return data[:cut], data[cut:]


# ---------------------------------------------------------------- transport


class ChunkedBody(httpx.AsyncByteStream):
    """A response body delivered in the given pieces.

    It iterates without an async generator, so that abandoning it leaves
    nothing for the garbage collector to finalize.
    """

    def __init__(self, data: bytes, cuts: Sequence[int] = ()) -> None:
        bounds = [0, *sorted(set(cuts)), len(data)]
        self.chunks = [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        self._next = 0
        self.closed = False

    def __aiter__(self) -> ChunkedBody:
        return self

    async def __anext__(self) -> bytes:
        if self._next == len(self.chunks):
            raise StopAsyncIteration
        self._next += 1
        return self.chunks[self._next - 1]

    async def aclose(self) -> None:
        self.closed = True


def sse(data: bytes, *, cuts: Sequence[int] = (), headers: dict[str, str] | None = None) -> Any:
    def reply(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={**(headers or {}), "content-type": "text/event-stream; charset=utf-8"},
            stream=ChunkedBody(data, cuts),
        )

    return reply


def json_reply(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()

    def reply(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers={**(headers or {}), "content-type": "application/json"}, content=content
        )

    return reply


@attrs.define
class Server:
    """Answers the n-th request with the n-th reply (the last repeats); keeps the requests."""

    replies: list[Callable[[httpx.Request], httpx.Response]]
    requests: list[httpx.Request] = attrs.Factory(list)
    bodies: list[ChunkedBody] = attrs.Factory(list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.replies[min(len(self.requests), len(self.replies)) - 1](request)
        if isinstance(response.stream, ChunkedBody):
            self.bodies.append(response.stream)
        return response

    def all_closed(self) -> bool:
        """Whether every streamed body was closed (the connection went back clean)."""
        return all(body.closed for body in self.bodies)

    def body(self, n: int = -1) -> Any:
        return json.loads(self.requests[n].content)


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., tuple[OpenAIResponses, Server]]]:
    clients: list[httpx.AsyncClient] = []

    def factory(
        *replies: Callable[[httpx.Request], httpx.Response], **kw: Any
    ) -> tuple[OpenAIResponses, Server]:
        server = Server(list(replies))
        client = httpx.AsyncClient(transport=httpx.MockTransport(server))
        clients.append(client)
        kw.setdefault("retry", RetryPolicy(max_retries=0))
        kw.setdefault("api_key", KEY)
        return OpenAIResponses(kw.pop("model", "gpt-test"), http_client=client, **kw), server

    yield factory
    for client in clients:
        await client.aclose()


async def run_stream(
    adapter: OpenAIResponses, request: ModelRequest = HELLO
) -> tuple[list[StreamEvent], ModelResponse]:
    async with adapter.stream(request) as stream:
        events: list[StreamEvent] = [event async for event in stream]
    last = events[-1]
    assert isinstance(last, Finish)
    assert stream.response == last.response
    return events[:-1], last.response


def parser_feed(parser: OpenAIResponsesStreamParser, *items: dict[str, Any] | str) -> list[Any]:
    out: list[Any] = []
    for item in items:
        data = item if isinstance(item, str) else json.dumps(item)
        out += parser.feed(ServerSentEvent(data=data))
    return out


# ---------------------------------------------------------------- event builders


def added(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def item_done(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def call_item(**kw: Any) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "lookup",
        "arguments": "",
        **kw,
    }


def args_delta(index: int, delta: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.delta", "output_index": index, "delta": delta}


def args_done(index: int, arguments: str) -> dict[str, Any]:
    return {
        "type": "response.function_call_arguments.done",
        "output_index": index,
        "arguments": arguments,
    }


def text_delta(delta: str, index: int = 0, content: int = 0) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "output_index": index,
        "content_index": content,
        "delta": delta,
    }


def completed(**response: Any) -> dict[str, Any]:
    body = {"id": "resp_1", "model": "gpt-x", "status": "completed", "output": [], **response}
    return {"type": "response.completed", "response": body}


def incomplete(reason: str | None, **response: Any) -> dict[str, Any]:
    details = None if reason is None else {"reason": reason}
    body = {"status": "incomplete", "incomplete_details": details, "output": [], **response}
    return {"type": "response.incomplete", "response": body}


def reasoning(text: str = "", **kw: Any) -> ReasoningPart:
    return ReasoningPart(text=text, provider=PROVIDER, **kw)


# ---------------------------------------------------------------- non-streaming fixtures


def parts_of(items: Iterable[dict[str, Any]]) -> list[Any]:
    """The parts the adapter must read from recorded output items, written independently."""
    parts: list[Any] = []
    for item in items:
        if item["type"] == "message":
            parts.append(TextPart(text="".join(c["text"] for c in item["content"])))
        elif item["type"] == "function_call":
            parts.append(
                ToolCallPart(
                    id=item["call_id"],
                    name=item["name"],
                    arguments=json.loads(item["arguments"]),
                    provider_id=item["id"],
                )
            )
        else:
            summaries = item["summary"] or [{"text": ""}]
            parts.extend(
                reasoning(
                    s["text"],
                    summary=bool(item["summary"]),
                    id=item["id"],
                    encrypted=item["encrypted_content"] if i == 0 else None,
                )
                for i, s in enumerate(summaries)
            )
    return parts


def expected_nonstream(name: str) -> ModelResponse:
    body = load(f"{name}.json")
    usage = {
        "nonstream-function-call": Usage(input_tokens=40, output_tokens=18),
        "nonstream-reasoning-and-function-call": Usage(
            input_tokens=88, output_tokens=65, reasoning_tokens=45
        ),
        "nonstream-reasoning-summary-encrypted-content": Usage(
            input_tokens=34, output_tokens=226, reasoning_tokens=59
        ),
        "nonstream-text": Usage(input_tokens=67, output_tokens=11),
        "nonstream-text-pretty-printed-raw": Usage(input_tokens=11, output_tokens=5),
        "structured-output-text-format-json-schema": Usage(input_tokens=89, output_tokens=16),
    }[name]
    parts = parts_of(body["output"])
    called = any(isinstance(p, ToolCallPart) for p in parts)
    return ModelResponse(
        message=Message.assistant(parts),
        finish_reason="tool_calls" if called else "stop",
        usage=usage,
        model=body["model"],
        provider=PROVIDER,
        request_id=meta(name)[1].get("x-request-id"),
        response_id=body["id"],
        raw_finish_reason="completed",
    )


@pytest.mark.parametrize("name", NONSTREAM)
async def test_nonstream_fixture(name: str, make: Any) -> None:
    status, headers = meta(name)
    adapter, server = make(json_reply(raw_bytes(f"{name}.json"), status=status, headers=headers))
    response = await adapter.complete(HELLO)
    assert response == expected_nonstream(name)
    assert str(server.requests[0].url) == URL
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert server.body()["stream"] is False


async def test_nonstream_reasoning_kept_byte_exact(make: Any) -> None:
    name = "nonstream-reasoning-summary-encrypted-content"
    item = load(f"{name}.json")["output"][0]
    adapter, _ = make(json_reply(raw_bytes(f"{name}.json")))
    response = await adapter.complete(HELLO)
    (part,) = response.reasoning
    assert part.encrypted == item["encrypted_content"]
    assert part.text == item["summary"][0]["text"]
    assert part.summary
    assert response.reasoning_text == part.text
    assert response.text.startswith("```python")
    assert part.text not in response.text  # reasoning stays apart from the answer


async def test_structured_output_fixture_parses(make: Any) -> None:
    @attrs.frozen
    class CityLocation:
        city: str
        country: str

    name = "structured-output-text-format-json-schema"
    adapter, _ = make(json_reply(raw_bytes(f"{name}.json")))
    response = await adapter.complete(HELLO)
    assert response.parse(CityLocation) == CityLocation(city="Mexico City", country="Mexico")


# ---------------------------------------------------------------- streaming fixtures


def expected_stream(name: str) -> ModelResponse:
    """Built from the fixture's own ``.done`` items (not its deltas) and terminal event."""
    final = terminal(name)
    parts = parts_of(item for _, item in sorted(done_items(name).items()))
    usage = final["usage"]
    called = any(isinstance(p, ToolCallPart) for p in parts)
    return ModelResponse(
        message=Message.assistant(parts),
        finish_reason="tool_calls" if called else "stop",
        usage=Usage(
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            cached_input_tokens=usage["input_tokens_details"]["cached_tokens"],
            reasoning_tokens=usage["output_tokens_details"]["reasoning_tokens"],
        ),
        model=final["model"],
        provider=PROVIDER,
        request_id=meta(name)[1].get("x-request-id"),
        response_id=final["id"],
        raw_finish_reason="completed",
    )


@pytest.mark.parametrize("name", SUCCESS_STREAMS)
async def test_stream_fixture(name: str, make: Any) -> None:
    _, headers = meta(name)
    adapter, server = make(sse(raw_bytes(f"{name}.sse"), headers=headers))
    events, response = await run_stream(adapter)
    expected = expected_stream(name)
    assert response == expected
    assert server.body()["stream"] is True
    # The deltas add up to what the response holds.
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == expected.text
    summary = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert summary == expected.reasoning_text
    assert all(e.summary for e in events if isinstance(e, ReasoningDelta))
    ends = [e.call for e in events if isinstance(e, ToolCallEnd)]
    assert tuple(ends) == expected.tool_calls
    for start in (e for e in events if isinstance(e, ToolCallStart)):
        fragments = [e.arguments for e in events if isinstance(e, ToolCallDelta)]
        assert json.loads("".join(fragments)) == expected.tool_calls[0].arguments
        assert start.id == expected.tool_calls[0].id
    assert [e.usage for e in events if isinstance(e, UsageUpdate)] == [expected.usage]
    assert server.all_closed()


def test_the_core_numbers_of_the_stream_fixtures() -> None:
    """A few values written out, so the derived expectations cannot drift together."""
    call = expected_stream("stream-function-call").tool_calls[0]
    assert call.arguments == {"country": "France"}
    assert call.id == "call_kL0PCQV7M2WMoVX8V8OtYSAL"
    assert call.provider_id == "fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2"
    multiply = expected_stream("stream-function-call-with-ratelimit-headers")
    assert multiply.tool_calls[0].arguments == {"a": 1231, "b": 2331}
    assert multiply.request_id == "req_996657ef97514aeb93f449d57303514d"
    assert multiply.usage == Usage(input_tokens=58, output_tokens=23)
    summary = expected_stream("stream-reasoning-summary-deltas-then-text")
    assert len(summary.reasoning) == 4
    assert summary.usage == Usage(input_tokens=13, output_tokens=1680, reasoning_tokens=1408)
    gpt5 = expected_stream("stream-reasoning-item-then-function-call-args")
    assert gpt5.usage.reasoning_tokens == 448
    assert gpt5.tool_calls[0].arguments == {"result": 6666}
    assert expected_stream("stream-text-basic").text == "pong"


async def test_stream_tool_index_is_the_output_index(make: Any) -> None:
    name = "stream-reasoning-item-then-function-call-args"
    adapter, _ = make(sse(raw_bytes(f"{name}.sse")))
    events, response = await run_stream(adapter)
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.name) for s in starts] == [(1, "final_result")]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(deltas) == 6
    assert {d.index for d in deltas} == {1}
    # The reasoning item comes first, with the encrypted content of its output_item.done.
    first = response.message.parts[0]
    assert isinstance(first, ReasoningPart)
    assert first.encrypted == done_items(name)[0]["encrypted_content"]
    assert first.id == "rs_0050471a34b36ae60068c97bac4dcc819595fd0f80d6b3c405"


@pytest.mark.parametrize("name", SUCCESS_STREAMS)
async def test_stream_equals_reading_its_terminal_response(name: str, make: Any) -> None:
    """The stream gives what a non-streaming call with the terminal body gives.

    Only the encrypted reasoning differs: OpenAI encrypts the item anew for
    ``output_item.done`` and for ``response.completed`` (the stream keeps the former).
    """
    adapter, _ = make(sse(raw_bytes(f"{name}.sse")), json_reply(terminal(name)))
    _, streamed = await run_stream(adapter)
    whole = await adapter.complete(HELLO)

    def opaque(response: ModelResponse) -> ModelResponse:
        parts = tuple(
            attrs.evolve(p, encrypted=None) if isinstance(p, ReasoningPart) else p
            for p in response.message.parts
        )
        return attrs.evolve(response, message=Message.assistant(parts), request_id=None)

    assert opaque(streamed) == opaque(whole)


# ---------------------------------------------------------------- truncated streams


@pytest.mark.parametrize("name", SUCCESS_STREAMS)
async def test_stream_without_terminal_event_is_interrupted(name: str, make: Any) -> None:
    head, tail = without_terminal(raw_bytes(f"{name}.sse"))
    adapter, server = make(sse(head, cuts=range(0, len(head), 997)), sse(head + tail))
    expected = expected_stream(name)
    with pytest.raises(StreamInterrupted) as info:
        await run_stream(adapter)
    partial = info.value.partial
    assert isinstance(info.value.cause, ProviderProtocolError)
    assert partial.text == expected.text
    assert partial.reasoning == expected.reasoning
    assert partial.tool_calls == expected.tool_calls  # they had ended before the cut
    assert partial.usage == Usage()  # usage only comes with the terminal event
    assert server.all_closed()
    # With the terminator appended, the same stream succeeds.
    _, response = await run_stream(adapter)
    assert attrs.evolve(response, request_id=None) == attrs.evolve(expected, request_id=None)


async def test_stream_cut_in_the_arguments_marks_the_call_incomplete(make: Any) -> None:
    data = raw_bytes("stream-function-call.sse")
    cut = data.index(b"event: response.function_call_arguments.delta", 1)
    for _ in range(3):
        cut = data.index(b"event: response.function_call_arguments.delta", cut + 1)
    adapter, _ = make(sse(data[:cut]))
    with pytest.raises(StreamInterrupted) as info:
        await run_stream(adapter)
    (call,) = info.value.partial.tool_calls
    assert not call.complete
    assert not call.executable
    assert call.raw_arguments == '{"country":"'
    assert call.problem == "the stream ended before the call was complete"
    assert info.value.partial.finish_reason == "tool_calls"


async def test_stream_ending_before_any_output_is_retried(make: Any, autojump_clock: Any) -> None:
    data = raw_bytes("stream-text-basic.sse")
    early = data[: data.index(b"event: response.output_item.added")]
    adapter, server = make(sse(early), sse(data), retry=RetryPolicy(max_retries=1))
    _, response = await run_stream(adapter)
    assert response.text == "pong"
    assert response.attempts == 2
    assert len(server.requests) == 2
    adapter, _ = make(sse(early))
    with pytest.raises(ProviderConnectionError):
        await run_stream(adapter)


# ---------------------------------------------------------------- random splits


def _split_run(data: bytes, cuts: Sequence[int]) -> Any:
    """Feed ``data`` in pieces through the decoder and a parser: events, response or error."""
    decoder = SSEDecoder()
    parser = OpenAIResponsesStreamParser()
    events: list[Any] = []
    try:
        for chunk in ChunkedBody(data, cuts).chunks:
            for event in decoder.feed(chunk):
                events += parser.feed(event)
    except ProviderError as exc:
        return type(exc), exc.code, exc.message
    decoder.end()
    assert parser.done
    return events, parser.response()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_splits_give_the_same_result(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from((*SUCCESS_STREAMS, ERROR_STREAM)))
    body = raw_bytes(f"{name}.sse")
    cuts = data.draw(st.lists(st.integers(1, len(body) - 1), max_size=60), label="cuts")
    assert _split_run(body, cuts) == _split_run(body, ())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
async def test_random_splits_through_the_adapter(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(SUCCESS_STREAMS))
    body = raw_bytes(f"{name}.sse")
    cuts = data.draw(st.lists(st.integers(1, len(body) - 1), max_size=30), label="cuts")
    results = []
    for pieces in ((), cuts):
        server = Server([sse(body, cuts=pieces)])
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            adapter = OpenAIResponses("gpt-test", api_key=KEY, http_client=client)
            results.append(await run_stream(adapter))
    assert results[0] == results[1]


# ---------------------------------------------------------------- errors


def _served_error(name: str, status: int | None = None) -> tuple[int, dict[str, str]]:
    recorded, headers = meta(name)
    # The recordings kept no request id; one is added to check that it is carried.
    return status or recorded, {**headers, "x-request-id": f"req_{name}"}


@pytest.mark.parametrize(
    ("name", "status", "cls", "code"),
    [
        ("error-400-invalid-param-stream-request", None, BadRequest, "decimal_below_min_value"),
        ("error-400-model-not-found", None, BadRequest, "model_not_found"),
        ("error-429-insufficient-quota", 429, QuotaExceeded, "insufficient_quota"),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_error_fixture(
    *,
    name: str,
    status: int | None,
    cls: type[ProviderError],
    code: str,
    streaming: bool,
    make: Any,
    autojump_clock: Any,
) -> None:
    status, headers = _served_error(name, status)
    body = raw_bytes(f"{name}.json")
    # The default retry policy: none of these may be retried.
    adapter, server = make(json_reply(body, status=status, headers=headers), retry=RetryPolicy())
    call = run_stream(adapter) if streaming else adapter.complete(HELLO)
    with pytest.raises(ProviderError) as info:
        await call
    error = info.value
    assert type(error) is cls
    assert (error.status, error.code, error.request_id) == (status, code, f"req_{name}")
    assert error.message == load(f"{name}.json")["error"]["message"]
    assert error.provider == PROVIDER
    assert error.attempts == 1
    assert len(server.requests) == 1
    assert KEY not in repr(error)


CONTEXT = load("error-context-length-exceeded.error-object.transcribed.json")


async def test_context_length_as_http_400(make: Any) -> None:
    adapter, _ = make(json_reply({"error": CONTEXT}, status=400))
    with pytest.raises(ContextLengthExceeded) as info:
        await adapter.complete(HELLO)
    assert (info.value.status, info.value.code) == (400, "context_length_exceeded")
    assert info.value.message == CONTEXT["message"]


def _failing_stream(*before: dict[str, Any], error: dict[str, Any]) -> bytes:
    failed = {
        "type": "response.failed",
        "response": {"id": "resp_1", "status": "failed", "error": {"code": error.get("code")}},
    }
    events = [
        {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-x"}},
        *before,
        {"type": "error", "sequence_number": 5, "error": error},
        failed,
    ]
    return b"".join(frame(e) for e in events)


@CORE_LEAK
async def test_context_length_in_band_before_output(make: Any) -> None:
    adapter, _ = make(sse(_failing_stream(error=CONTEXT)))
    with pytest.raises(ContextLengthExceeded) as info:
        await run_stream(adapter)
    assert (info.value.status, info.value.code) == (None, "context_length_exceeded")


@CORE_LEAK
async def test_context_length_in_band_after_output(make: Any) -> None:
    message = added(0, {"type": "message", "id": "msg_1", "content": []})
    data = _failing_stream(message, text_delta("Hel"), error=CONTEXT)
    # The error arrives in a later read than the delta, which is delivered first.
    adapter, server = make(sse(data, cuts=[data.index(b"event: error")]))
    events: list[Any] = []

    async def collect() -> None:
        async with adapter.stream(HELLO) as stream:
            async for event in stream:
                events.append(event)  # noqa: PERF401 - kept up to the error

    with pytest.raises(StreamInterrupted) as info:
        await collect()
    assert events == [TextDelta(text="Hel")]
    assert isinstance(info.value.cause, ContextLengthExceeded)
    assert info.value.code == "context_length_exceeded"
    assert info.value.partial.text == "Hel"
    assert server.all_closed()


@CORE_LEAK
async def test_error_event_fixture(make: Any, autojump_clock: Any) -> None:
    adapter, server = make(sse(raw_bytes(f"{ERROR_STREAM}.sse")), retry=RetryPolicy())
    with pytest.raises(QuotaExceeded) as info:
        await run_stream(adapter)
    assert (info.value.status, info.value.code) == (None, "insufficient_quota")
    assert info.value.message.startswith("You exceeded your current quota")
    assert len(server.requests) == 1  # not retryable
    assert server.all_closed()


@CORE_LEAK  # for the teardown; the test itself records the warnings
@pytest.mark.xfail(
    strict=True,
    reason="_base.ModelStream abandons httpx's nested body generators on an in-band error",
)
async def test_core_closes_abandoned_bodies(make: Any) -> None:
    adapter, _ = make(sse(raw_bytes(f"{ERROR_STREAM}.sse")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(QuotaExceeded):
            await run_stream(adapter)
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


def test_first_error_wins() -> None:
    parser = OpenAIResponsesStreamParser()
    error_event, failed = payloads(ERROR_STREAM)[2:]
    with pytest.raises(QuotaExceeded) as first:
        parser_feed(parser, error_event)
    with pytest.raises(QuotaExceeded) as second:
        parser_feed(parser, failed)
    assert second.value is first.value
    with pytest.raises(QuotaExceeded) as third:
        parser_feed(parser, "not even JSON")
    assert third.value is first.value
    assert not parser.done  # the error event is not terminal
    other = OpenAIResponsesStreamParser()
    failed["response"]["error"] = {"code": "server_error", "message": "boom"}
    with pytest.raises(ServerError) as only:
        parser_feed(other, failed)
    assert other.done
    assert only.value.code == "server_error"


def test_failed_without_error_object() -> None:
    parser = OpenAIResponsesStreamParser()
    with pytest.raises(ProviderError) as info:
        parser_feed(parser, {"type": "response.failed", "response": {"status": "failed"}})
    assert type(info.value) is ProviderError
    assert info.value.message == "the response failed"


def test_flat_error_event_and_foreign_error_payloads() -> None:
    flat = {"type": "error", "code": "server_error", "message": "oops", "param": None}
    with pytest.raises(ServerError) as info:
        parser_feed(OpenAIResponsesStreamParser(), flat)
    assert info.value.message == "oops"
    foreign = {"type": "something.new", "error": {"type": "overloaded_error", "message": "busy"}}
    with pytest.raises(ServerError, match="busy"):
        parser_feed(OpenAIResponsesStreamParser(), foreign)


# ---------------------------------------------------------------- request shapes


def _tools_of(fixture: dict[str, Any], *, strict_default: bool = False) -> list[ToolSpec]:
    return [
        ToolSpec(
            name=t["name"],
            description=t.get("description") or "",
            parameters=t["parameters"],
            strict=t.get("strict", strict_default),
        )
        for t in fixture.get("tools", ())
    ]


def _norm_item(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type", "message")
    if kind == "message":
        content = item["content"]
        text_type = "input_text" if item["role"] == "user" else "output_text"
        if isinstance(content, str):
            content = [{"type": text_type, "text": content}]
        return {"role": item["role"], "content": [dict(c) for c in content]}
    if kind == "function_call":
        return {
            "type": kind,
            "call_id": item["call_id"],
            "name": item["name"],
            "arguments": json.loads(item["arguments"]),
        }
    return {k: item[k] for k in ("type", "call_id", "output")}


def shape(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of a body that matter, in a comparable form."""
    out: dict[str, Any] = {}
    for key in (
        "model",
        "instructions",
        "tool_choice",
        "text",
        "temperature",
        "max_output_tokens",
        "store",
        "stream",
        "previous_response_id",
        "service_tier",
    ):
        if body.get(key) not in (None, ""):
            out[key] = body[key]
    out["input"] = [
        _norm_item(i)
        for i in body["input"]
        if not (i.get("role") == "assistant" and i.get("content") == "")
    ]
    if body.get("tools"):
        out["tools"] = [
            {
                "type": t["type"],
                "name": t["name"],
                "description": t.get("description") or "",
                "parameters": t["parameters"],
            }
            for t in body["tools"]
        ]
    config = {k: v for k, v in (body.get("reasoning") or {}).items() if v is not None}
    if config:
        out["reasoning"] = config
    if body.get("include"):
        out["include"] = sorted(body["include"])
    return out


def _equivalent_requests() -> Iterator[tuple[str, dict[str, Any], ModelRequest]]:
    def fx(name: str) -> dict[str, Any]:
        return load(f"{name}.request.json")

    encrypted = OpenAIResponsesExtras(include=("reasoning.encrypted_content",))
    name = "error-400-invalid-param-stream-request"
    # temperature -1 cannot be asked for (ModelRequest refuses it), so it is left out.
    yield (
        name,
        {},
        ModelRequest(messages=[Message.system(""), Message.user("What is the capital of France?")]),
    )
    yield (
        "error-400-model-not-found",
        {},
        ModelRequest(messages=[Message.user("hello")], extras=[encrypted]),
    )
    name = "nonstream-function-call"
    yield (
        name,
        {},
        ModelRequest(
            messages=[Message.user("What is the capital of PotatoLand?")],
            tools=_tools_of(fx(name)),
            tool_choice="auto",
        ),
    )
    name = "nonstream-reasoning-and-function-call"
    yield (
        name,
        {},
        ModelRequest(
            messages=[Message.user(fx(name)["input"][0]["content"])],
            tools=_tools_of(fx(name), strict_default=True),
            reasoning_effort="high",
        ),
    )
    name = "nonstream-reasoning-summary-encrypted-content"
    yield (
        name,
        {},
        ModelRequest(
            messages=[
                Message.system("You are a helpful coding assistant."),
                Message.user(fx(name)["input"][0]["content"]),
            ],
            reasoning="summary",
            reasoning_effort="high",
        ),
    )
    yield (
        "nonstream-text-pretty-printed-raw",
        {},
        ModelRequest(messages=[Message.user("Reply with exactly: pong")], reasoning_effort="low"),
    )
    name = "nonstream-text"
    call = ToolCallPart(
        id="call_YfwRsW8sUxDKipwyhWTzOXCA", name="get_capital", arguments={"country": "PotatoLand"}
    )
    yield (
        name,
        {},
        ModelRequest(
            messages=[
                Message.user("What is the capital of PotatoLand?"),
                Message.assistant([call]),
                Message.tool(call.id, "Potato City"),
            ],
            tools=_tools_of(fx(name)),
            tool_choice="auto",
        ),
    )
    name = "structured-output-text-format-json-schema"
    fmt = fx(name)["text"]["format"]
    call = ToolCallPart(id="call_tTAThu8l2S9hNky2krdwijGP", name="get_user_country")
    yield (
        name,
        {},
        ModelRequest(
            messages=[
                Message.user("What is the largest city in the user country?"),
                Message.assistant(["", call]),
                Message.tool(call.id, "Mexico"),
            ],
            tools=_tools_of(fx(name)),
            tool_choice="auto",
            output=OutputSchema(name=fmt["name"], schema=fmt["schema"], strict=fmt["strict"]),
        ),
    )
    name = "stream-function-call-with-ratelimit-headers"
    yield (
        name,
        {},
        ModelRequest(
            messages=[Message.user(fx(name)["input"][0]["content"])],
            tools=_tools_of(fx(name), strict_default=True),
            reasoning_effort="low",
        ),
    )
    name = "stream-function-call"
    yield (
        name,
        {},
        ModelRequest(
            messages=[Message.system(""), Message.user("What is the capital of France?")],
            tools=_tools_of(fx(name)),
            tool_choice="auto",
        ),
    )
    name = "stream-reasoning-item-then-function-call-args"
    yield (
        name,
        {},
        ModelRequest(
            messages=[Message.user("Calculate 100 * 200 / 3")],
            tools=_tools_of(fx(name)),
            tool_choice="required",
            reasoning_effort="low",
            extras=[OpenAIResponsesExtras(service_tier="flex")],
        ),
    )
    yield (
        "stream-reasoning-summary-deltas-then-text",
        {"reasoning_summary": "detailed"},
        ModelRequest(
            messages=[Message.user("How do I cross the street?")],
            reasoning="summary",
            reasoning_effort="high",
        ),
    )
    name = "stream-text-after-tool-result"
    call = ToolCallPart(
        id="fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2",
        name="get_capital",
        arguments={"country": "France"},
    )
    yield (
        name,
        {},
        ModelRequest(
            messages=[
                Message.system(""),
                Message.user("What is the capital of France?"),
                Message.assistant([call]),
                Message.tool(call.id, "Paris"),
            ],
            tools=_tools_of(fx(name)),
            tool_choice="auto",
        ),
    )
    yield (
        "stream-text-basic",
        {},
        ModelRequest(messages=[Message.user("Reply with exactly: pong")], reasoning_effort="low"),
    )


EQUIVALENT = list(_equivalent_requests())


def test_every_request_fixture_has_an_equivalent() -> None:
    names = {p.name.removesuffix(".request.json") for p in FIXTURES.glob("*.request.json")}
    assert names == {name for name, _, _ in EQUIVALENT}


@pytest.mark.parametrize(
    ("name", "options", "request_"), EQUIVALENT, ids=[e[0] for e in EQUIVALENT]
)
def test_request_shape_matches_fixture(
    name: str, options: dict[str, Any], request_: ModelRequest
) -> None:
    recorded = load(f"{name}.request.json")
    adapter = OpenAIResponses(recorded["model"], api_key=KEY, **options)
    ours = shape(json.loads(adapter._encode(request_, stream=recorded["stream"])))
    theirs = shape(recorded)
    theirs.pop("temperature", None)  # -1 in the invalid-param recording
    assert set(ours) - set(theirs) <= {"store"}  # always sent: stateless unless asked
    assert {k: ours.get(k) for k in theirs} == theirs
    sent = json.loads(adapter._encode(request_, stream=recorded["stream"]))
    for ours_tool, their_tool in zip(sent.get("tools", ()), recorded.get("tools", ()), strict=True):
        if "strict" in their_tool:
            assert ours_tool["strict"] is their_tool["strict"]


# ---------------------------------------------------------------- request building


def body_of(request: ModelRequest, **options: Any) -> dict[str, Any]:
    adapter = OpenAIResponses("gpt-test", api_key=KEY, **options)
    return json.loads(adapter._encode(request, stream=False))


def test_minimal_body() -> None:
    assert body_of(HELLO) == {
        "model": "gpt-test",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello"}],
            }
        ],
        "store": False,
        "stream": False,
    }


def test_user_images_by_url_and_bytes() -> None:
    request = ModelRequest(
        messages=[
            Message.system("Be brief."),
            Message.system("Really."),
            Message.user(
                [
                    "What is this?",
                    ImagePart(url="https://example.com/cat.png"),
                    ImagePart(data=b"\x89PNG", media_type="image/png"),
                ]
            ),
        ]
    )
    body = body_of(request)
    assert body["instructions"] == "Be brief.\n\nReally."
    assert body["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                {
                    "type": "input_image",
                    "image_url": "https://example.com/cat.png",
                    "detail": "auto",
                },
                {
                    "type": "input_image",
                    "image_url": "data:image/png;base64,iVBORw==",
                    "detail": "auto",
                },
            ],
        }
    ]


def _history(*assistant: Any, store: bool = False) -> list[dict[str, Any]]:
    calls = [p for p in assistant if isinstance(p, ToolCallPart)]
    messages = [Message.user("go"), Message.assistant(list(assistant))]
    messages += [Message.tool(c.id, "ok", is_error=True) for c in calls]
    request = ModelRequest(messages=messages, extras=[OpenAIResponsesExtras(store=store)])
    return body_of(request)["input"][1:]


def test_assistant_items_keep_their_order() -> None:
    items = _history(
        reasoning("first", summary=True, id="rs_1", encrypted="enc=="),
        reasoning("second", summary=True, id="rs_1"),
        ToolCallPart(id="call_1", name="a", arguments={"x": 1}, provider_id="fc_1"),
        TextPart(text="one "),
        TextPart(text="two"),
        ToolCallPart(id="call_2", name="b"),
    )
    assert items == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [
                {"type": "summary_text", "text": "first"},
                {"type": "summary_text", "text": "second"},
            ],
            "encrypted_content": "enc==",
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "a",
            "arguments": '{"x":1}',
            "id": "fc_1",
        },
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "one "},
                {"type": "output_text", "text": "two"},
            ],
        },
        {"type": "function_call", "call_id": "call_2", "name": "b", "arguments": "{}"},
        # is_error has no Responses equivalent: the output is sent as it is.
        {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
        {"type": "function_call_output", "call_id": "call_2", "output": "ok"},
    ]


def test_reasoning_items_split_by_id_and_text_and_raw_content() -> None:
    items = _history(
        reasoning("thinking", id="rs_1", encrypted="e1"),
        reasoning("", id="rs_2", encrypted="e2"),
        TextPart(text=""),  # empty text is not sent
        reasoning("", id="rs_3", encrypted="e3"),
        TextPart(text="done"),
    )
    assert items == [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "thinking"}],
            "encrypted_content": "e1",
        },
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "e2"},
        {"type": "reasoning", "id": "rs_3", "summary": [], "encrypted_content": "e3"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "done"}],
        },
    ]


def test_foreign_reasoning_is_dropped_silently() -> None:
    items = _history(
        ReasoningPart(text="hmm", signature="sig", provider="anthropic"),
        ReasoningPart(text="no provider"),
        ToolCallPart(id="call_1", name="a", provider_id="fc_1"),
    )
    assert [i["type"] for i in items] == ["function_call", "function_call_output"]
    assert items[0]["id"] == "fc_1"  # nothing of ours was dropped


def test_unsendable_reasoning_drops_and_unlinks_the_calls() -> None:
    call = ToolCallPart(id="call_1", name="a", provider_id="fc_1")
    # Not stored: an item without encrypted content cannot be looked up.
    items = _history(reasoning("s", summary=True, id="rs_1"), call, TextPart(text="t"))
    assert [i["type"] for i in items] == ["function_call", "message", "function_call_output"]
    assert "id" not in items[0]
    # Stored: the id is enough, and the call keeps its item id.
    items = _history(reasoning("s", summary=True, id="rs_1"), call, store=True)
    assert items[0] == {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "s"}],
    }
    assert items[1]["id"] == "fc_1"
    # Without an id, reasoning can never be sent.
    items = _history(reasoning("s", encrypted="e"), call, store=True)
    assert [i["type"] for i in items] == ["function_call", "function_call_output"]
    assert "id" not in items[0]


def test_tools_choice_output_sampling() -> None:
    tools = [
        ToolSpec(name="a", description="A tool."),
        ToolSpec(name="b", parameters={"type": "object", "properties": {}}, strict=True),
    ]
    output = OutputSchema(
        name="Answer",
        schema={"type": "object", "properties": {"x": {"type": "integer"}}},
        description="The answer.",
    )
    request = ModelRequest(
        messages=[Message.user("hi")],
        tools=tools,
        tool_choice="b",
        output=output,
        temperature=0.2,
        max_tokens=100,
    )
    body = body_of(request)
    assert body["tools"] == [
        {
            "type": "function",
            "name": "a",
            "description": "A tool.",
            "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
            "strict": False,
        },
        {
            "type": "function",
            "name": "b",
            "description": "",
            "parameters": {"type": "object", "properties": {}},
            "strict": True,
        },
    ]
    assert body["tool_choice"] == {"type": "function", "name": "b"}
    assert body["text"] == {
        "format": {
            "type": "json_schema",
            "name": "Answer",
            "schema": dict(output.schema),
            "strict": True,
            "description": "The answer.",
        }
    }
    assert (body["temperature"], body["max_output_tokens"]) == (0.2, 100)
    for choice in ("auto", "none", "required"):
        assert body_of(attrs.evolve(request, tool_choice=choice))["tool_choice"] == choice
    plain = body_of(attrs.evolve(request, output=attrs.evolve(output, description=None)))
    assert "description" not in plain["text"]["format"]


def test_stop_and_names_are_refused() -> None:
    with pytest.raises(RequestError, match=r"ModelRequest\.stop"):
        body_of(ModelRequest(messages=[Message.user("hi")], stop=["END"]))
    named = Message(role="user", parts="hi", name="alice")
    with pytest.raises(RequestError, match=r"messages\[1\]\.name"):
        body_of(ModelRequest(messages=[Message.system("s"), named]))


@pytest.mark.parametrize(
    ("mode", "effort", "store", "include", "reasoning_"),
    [
        ("none", None, False, (), None),
        ("none", "low", False, ("reasoning.encrypted_content",), {"effort": "low"}),
        ("summary", None, False, ("reasoning.encrypted_content",), {"summary": "auto"}),
        ("raw", "high", False, ("reasoning.encrypted_content",), {"effort": "high"}),
        ("raw", None, False, ("reasoning.encrypted_content",), None),
        ("summary", "medium", True, (), {"effort": "medium", "summary": "auto"}),
    ],
)
def test_reasoning_modes(
    mode: Any, effort: Any, store: bool, include: tuple[str, ...], reasoning_: Any
) -> None:
    request = ModelRequest(
        messages=[Message.user("hi")],
        reasoning=mode,
        reasoning_effort=effort,
        extras=[OpenAIResponsesExtras(store=store)],
    )
    body = body_of(request)
    assert body.get("reasoning") == reasoning_
    assert tuple(body.get("include", ())) == include
    assert body["store"] is store


def test_reasoning_summary_option() -> None:
    request = ModelRequest(messages=[Message.user("hi")], reasoning="summary")
    assert body_of(request, reasoning_summary="concise")["reasoning"] == {"summary": "concise"}
    with pytest.raises(ValueError, match="reasoning_summary"):
        OpenAIResponses("gpt-test", reasoning_summary="verbose")  # type: ignore[arg-type]


def test_extras_fields_include_and_body_merge() -> None:
    extras = OpenAIResponsesExtras(
        store=True,
        previous_response_id="resp_0",
        include=("file_search_call.results", "file_search_call.results"),
        top_p=0.5,
        user="u-1",
        service_tier="flex",
        body={"temperature": 0.1, "truncation": "auto"},
    )
    request = ModelRequest(
        messages=[Message.user("hi")],
        temperature=0.9,
        reasoning_effort="low",
        extras=[OpenAIChatExtras(seed=1), extras],
    )
    body = body_of(request)
    assert body["include"] == ["file_search_call.results"]  # stored: no encrypted content needed
    assert {k: body[k] for k in ("previous_response_id", "top_p", "user", "service_tier")} == {
        "previous_response_id": "resp_0",
        "top_p": 0.5,
        "user": "u-1",
        "service_tier": "flex",
    }
    assert (body["temperature"], body["truncation"], body["store"]) == (0.1, "auto", True)
    assert "seed" not in body
    unstored = attrs.evolve(extras, store=False)
    assert body_of(attrs.evolve(request, extras=[unstored]))["include"] == [
        "file_search_call.results",
        "reasoning.encrypted_content",
    ]


async def test_key_url_and_headers(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    reply = json_reply(load("nonstream-text.json"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    adapter, server = make(
        reply, api_key=None, base_url="https://gateway.example/v1/", headers={"x-team": "a"}
    )
    await adapter.complete(HELLO)
    sent = server.requests[0]
    assert str(sent.url) == "https://gateway.example/v1/responses"
    assert sent.headers["authorization"] == "Bearer sk-from-env"
    assert sent.headers["x-team"] == "a"
    assert adapter._auth_headers(None) == {}
    assert OpenAIResponses.provider == PROVIDER
    assert OpenAIResponses.api_key_env == ("OPENAI_API_KEY",)


async def test_keep_raw(make: Any) -> None:
    body = load("nonstream-text.json")
    adapter, _ = make(json_reply(body), keep_raw=True)
    assert (await adapter.complete(HELLO)).raw == body


# ---------------------------------------------------------------- reading whole responses


def _parse(body: Any) -> ModelResponse:
    return OpenAIResponses("gpt-test", api_key=KEY)._parse(body)


def test_refusal_and_unknown_items() -> None:
    body = {
        "id": "resp_1",
        "status": "completed",
        "output": [
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {
                "type": "message",
                "content": [
                    {"type": "refusal", "refusal": "I can't help with that."},
                    {"type": "something_new"},
                ],
            },
        ],
        "usage": {"input_tokens": "x", "output_tokens": -1, "input_tokens_details": None},
    }
    response = _parse(body)
    assert response.text == "I can't help with that."
    assert (response.finish_reason, response.raw_finish_reason) == ("refusal", "completed")
    assert response.usage == Usage()


@pytest.mark.parametrize(
    ("reason", "finish", "raw"),
    [
        ("max_output_tokens", "length", "max_output_tokens"),
        ("content_filter", "content_filter", "content_filter"),
        ("something_else", "length", "something_else"),
        (None, "length", "incomplete"),
    ],
)
def test_incomplete_response_cuts_unfinished_calls(
    reason: str | None, finish: str, raw: str
) -> None:
    body = incomplete(reason)["response"]
    body["output"] = [
        call_item(arguments='{"a":1}', status="completed"),
        call_item(id="fc_2", call_id="call_2", arguments='{"b":', status="incomplete"),
    ]
    response = _parse(body)
    assert (response.finish_reason, response.raw_finish_reason) == (finish, raw)
    whole, cut = response.tool_calls
    assert whole.executable
    assert whole.arguments == {"a": 1}
    assert not cut.complete
    assert cut.raw_arguments == '{"b":'
    assert cut.problem is not None
    assert "incomplete" in cut.problem


async def test_failed_response_body_raises_its_error(make: Any) -> None:
    body = {"id": "resp_1", "status": "failed", "output": [], "error": {"code": "server_error"}}
    adapter, _ = make(json_reply(body, headers={"x-request-id": "req_9"}))
    with pytest.raises(ServerError) as info:
        await adapter.complete(HELLO)
    assert (info.value.code, info.value.status, info.value.request_id) == (
        "server_error",
        200,
        "req_9",
    )


def test_unreadable_bodies() -> None:
    with pytest.raises(ProviderProtocolError, match="not a JSON object"):
        _parse([])
    with pytest.raises(ProviderProtocolError, match="'queued'"):
        _parse({"status": "queued", "output": []})
    with pytest.raises(ProviderProtocolError, match="no output list"):
        _parse({"status": "completed", "output": None})
    with pytest.raises(ProviderProtocolError, match="integer output_index"):
        parser_feed(OpenAIResponsesStreamParser(), {"type": "response.output_item.done"})
    with pytest.raises(ProviderProtocolError, match="'item' object"):
        _parse({"output": [["not", "an", "item"]]})
    with pytest.raises(ProviderProtocolError, match="no call_id or name"):
        _parse({"output": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]})
    with pytest.raises(BadRequest, match="bad key"):
        _parse({"error": {"type": "invalid_request_error", "message": "bad key"}})


def test_missing_status_reads_as_completed_and_call_id_falls_back() -> None:
    response = _parse({"output": [{"type": "function_call", "id": "fc_9", "name": "t"}]})
    assert response.finish_reason == "tool_calls"
    (call,) = response.tool_calls
    assert (call.id, call.provider_id, call.arguments) == ("fc_9", "fc_9", {})


# ---------------------------------------------------------------- stream edges


def test_ignored_payloads_and_bad_json() -> None:
    parser = OpenAIResponsesStreamParser()
    assert parser_feed(parser, "", "  ", "[DONE]", {"type": "response.new_thing"}, {"x": 1}) == []
    assert parser_feed(parser, {"type": 5}, {"type": "response.created", "response": None}) == []
    with pytest.raises(ProviderProtocolError, match="not JSON"):
        parser_feed(parser, "{oops")
    with pytest.raises(ProviderProtocolError, match="not a JSON object"):
        parser_feed(parser, "[1, 2]")
    with pytest.raises(ProviderProtocolError, match="'response' object"):
        parser_feed(parser, {"type": "response.completed"})
    assert not parser.done


def test_events_after_the_terminal_event_are_ignored() -> None:
    parser = OpenAIResponsesStreamParser()
    parser_feed(parser, completed())
    assert parser.done
    assert parser_feed(parser, text_delta("late"), {"type": "error", "error": {}}) == []
    assert parser.response().text == ""
    assert parser.partial() == parser.response()


def test_refusal_stream() -> None:
    parser = OpenAIResponsesStreamParser()
    refusal = {"type": "response.refusal.delta", "output_index": 0, "content_index": 0}
    events = parser_feed(
        parser,
        added(0, {"type": "message", "id": "msg_1", "content": []}),
        {**refusal, "delta": "I can't"},
        {**refusal, "type": "response.refusal.done", "refusal": "I can't help."},
        item_done(
            0, {"type": "message", "content": [{"type": "refusal", "refusal": "I can't help."}]}
        ),
        completed(),
    )
    assert events == [TextDelta(text="I can't"), TextDelta(text=" help.")]
    response = parser.response()
    assert (response.text, response.finish_reason) == ("I can't help.", "refusal")


def test_done_texts_complete_the_deltas_and_never_rewrite_them() -> None:
    parser = OpenAIResponsesStreamParser()
    done = {"type": "response.output_text.done", "output_index": 0, "content_index": 0}
    events = parser_feed(
        parser,
        text_delta("Hel"),
        {**done, "text": "Hello"},
        text_delta("X", content=1),
        {**done, "content_index": 1, "text": "Different"},  # not an extension: ignored
        {**done, "content_index": 2},  # no text at all
        item_done(0, {"type": "message", "content": [{"type": "output_text", "text": "Hello"}]}),
    )
    assert events == [TextDelta(text="Hel"), TextDelta(text="lo"), TextDelta(text="X")]
    assert parser.partial().text == "HelloX"


def test_message_only_in_item_done() -> None:
    parser = OpenAIResponsesStreamParser()
    content = [
        {"type": "output_text", "text": "a"},
        {"type": "output_text", "text": "b"},
        "junk",
    ]
    events = parser_feed(parser, item_done(0, {"type": "message", "content": content}))
    assert events == [TextDelta(text="a"), TextDelta(text="b")]
    assert parser.partial().message.parts == (TextPart(text="ab"),)


def test_arguments_done_is_the_source_of_truth() -> None:
    parser = OpenAIResponsesStreamParser()
    events = parser_feed(
        parser,
        added(0, call_item(arguments='{"a"')),
        args_delta(0, ":"),
        args_done(0, '{"a":1}'),  # the tail the deltas missed
        item_done(0, call_item(arguments='{"a":1}')),
        added(1, call_item(id="fc_2", call_id="call_2")),
        args_delta(1, '{"b":'),
        args_delta(1, "2}"),
        args_done(1, '{"b":3}'),  # differs: it wins
        args_delta(1, "ignored after the end"),
        completed(),
    )
    start = ToolCallStart(index=0, id="call_1", name="lookup")
    assert events[:4] == [
        start,
        ToolCallDelta(index=0, arguments='{"a"'),
        ToolCallDelta(index=0, arguments=":"),
        ToolCallDelta(index=0, arguments="1}"),
    ]
    ends = [e.call for e in events if isinstance(e, ToolCallEnd)]
    assert [c.arguments for c in ends] == [{"a": 1}, {"b": 3}]
    assert [c.provider_id for c in ends] == ["fc_1", "fc_2"]
    assert parser.response().tool_calls == tuple(ends)


def test_call_only_in_item_done_and_protocol_errors() -> None:
    parser = OpenAIResponsesStreamParser()
    events = parser_feed(parser, item_done(3, call_item(arguments='{"z":0}')))
    assert [type(e) for e in events] == [ToolCallStart, ToolCallDelta, ToolCallEnd]
    assert events[-1].call.arguments == {"z": 0}
    with pytest.raises(ProviderProtocolError, match="before its function_call item"):
        parser_feed(parser, args_delta(4, "{}"))
    with pytest.raises(ProviderProtocolError, match="before its function_call item"):
        parser_feed(parser, args_done(5, "{}"))


@pytest.mark.parametrize(
    ("terminal_event", "finish", "complete"),
    [
        (incomplete("max_output_tokens"), "length", False),
        (completed(), "tool_calls", True),
    ],
)
def test_open_calls_at_the_terminal_event(
    terminal_event: dict[str, Any], finish: str, complete: bool
) -> None:
    parser = OpenAIResponsesStreamParser()
    events = parser_feed(
        parser,
        added(0, call_item()),
        args_delta(0, '{"q": "abc"}' if complete else '{"q": "ab'),
        terminal_event,
    )
    (end,) = [e for e in events if isinstance(e, ToolCallEnd)]
    assert end.call.complete is complete
    response = parser.response()
    assert response.finish_reason == finish
    if not complete:
        assert end.call.problem == "the response is incomplete (max_output_tokens)"
        assert response.raw_finish_reason == "max_output_tokens"


def test_reasoning_summary_and_raw_text_streams() -> None:
    parser = OpenAIResponsesStreamParser()
    summary = {"output_index": 0, "summary_index": 0, "item_id": "rs_1"}
    raw = {"output_index": 1, "content_index": 0, "item_id": "rs_2"}
    events = parser_feed(
        parser,
        added(0, {"type": "reasoning", "id": "rs_1", "summary": []}),
        {"type": "response.reasoning_summary_part.added", **summary},
        {"type": "response.reasoning_summary_text.delta", **summary, "delta": "Plan"},
        {"type": "response.reasoning_summary_text.done", **summary, "text": "Plan it."},
        {
            "type": "response.reasoning_summary_text.delta",
            **summary,
            "summary_index": 1,
            "delta": "B",
        },
        item_done(
            0,
            {
                "type": "reasoning",
                "id": "rs_1",
                "encrypted_content": "enc-1",
                "summary": [
                    {"type": "summary_text", "text": "Plan it."},
                    {"type": "summary_text", "text": "B"},
                    {"type": "summary_text", "text": "C"},  # never streamed
                ],
            },
        ),
        added(1, {"type": "reasoning", "id": "rs_2"}),
        {"type": "response.reasoning_text.delta", **raw, "delta": "raw "},
        {"type": "response.reasoning_text.done", **raw, "text": "raw text"},
        item_done(1, {"type": "reasoning", "id": "rs_2", "content": [{"text": "raw text"}]}),
        added(2, {"type": "reasoning"}),
        item_done(2, {"type": "reasoning", "id": "rs_3", "encrypted_content": "enc-3"}),
        completed(),
    )
    assert [e for e in events if isinstance(e, ReasoningDelta)] == [
        ReasoningDelta(text="Plan", summary=True),
        ReasoningDelta(text=" it.", summary=True),
        ReasoningDelta(text="B", summary=True),
        ReasoningDelta(text="C", summary=True),
        ReasoningDelta(text="raw ", summary=False),
        ReasoningDelta(text="text", summary=False),
    ]
    assert parser.response().message.parts == (
        reasoning("Plan it.", summary=True, id="rs_1", encrypted="enc-1"),
        reasoning("B", summary=True, id="rs_1"),
        reasoning("C", summary=True, id="rs_1"),
        reasoning("raw text", id="rs_2"),
        reasoning("", id="rs_3", encrypted="enc-3"),
    )


def test_terminal_event_alone_carries_the_output() -> None:
    parser = OpenAIResponsesStreamParser()
    output = [{"type": "message", "content": [{"type": "output_text", "text": "whole"}]}]
    usage = {"input_tokens": 5, "output_tokens": 2, "input_tokens_details": {"cached_tokens": 4}}
    events = parser_feed(parser, completed(output=output, usage=usage))
    expected_usage = Usage(input_tokens=5, output_tokens=2, cached_input_tokens=4)
    assert events == [TextDelta(text="whole"), UsageUpdate(usage=expected_usage)]
    response = parser.response()
    assert (response.text, response.usage, response.model) == ("whole", expected_usage, "gpt-x")


def test_partial_before_the_end() -> None:
    parser = OpenAIResponsesStreamParser()
    parser_feed(
        parser,
        {"type": "response.created", "response": {"id": "resp_7", "model": "m"}},
        text_delta("so far"),
        added(1, call_item()),
    )
    partial = parser.partial()
    assert partial.text == "so far"
    assert (partial.response_id, partial.model, partial.provider) == ("resp_7", "m", PROVIDER)
    assert partial.finish_reason == "tool_calls"
    assert not partial.tool_calls[0].complete
    assert isinstance(parser.builder.message().parts[0], TextPart)
