"""The Anthropic Messages adapter: every fixture replayed, request bodies, split streams."""

from __future__ import annotations

import base64
import gc
import itertools
import json
import warnings
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.adapters.anthropic import (
    API_VERSION,
    DEFAULT_MAX_TOKENS,
    THINKING_BUDGETS,
    AnthropicMessages,
    AnthropicStreamParser,
)
from actrio.adapters.errors import (
    BadRequest,
    ContextLengthExceeded,
    NotFound,
    Overloaded,
    ProviderConnectionError,
    ProviderError,
    ProviderProtocolError,
    RateLimited,
    StreamInterrupted,
)
from actrio.adapters.retry import RetryPolicy
from actrio.adapters.sse import ServerSentEvent
from actrio.messages import (
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
)
from actrio.types import (
    AnthropicExtras,
    Finish,
    ModelRequest,
    ModelResponse,
    OpenAIChatExtras,
    OutputSchema,
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
    from collections.abc import Callable, Iterable

    from actrio.types import StreamEvent

FIXTURES = PROVIDER_FIXTURES / "anthropic-messages"
MODEL = "claude-test"
KEY = "sk-ant-test-key"
HI = ModelRequest(messages=[Message.user("hi")])

# A stream closed before its end leaves httpx's own nested async generators
# (Response.aiter_raw, BoundAsyncStream.__aiter__) to the garbage collector,
# and trio warns; nothing outside httpx can close them (encode/httpx#3686).
# Shown by test_a_stream_closed_early_leaves_no_httpx_generator_behind below.
HTTPX_GENERATORS = pytest.mark.filterwarnings("ignore:Async generator 'httpx\\.:ResourceWarning")


# ---------------------------------------------------------------- plumbing


class ChunkStream(httpx.AsyncByteStream):
    """A response body delivered in the given chunks.

    Its iterator is a plain object, not an async generator: one abandoned
    half-way would be left for the garbage collector, which trio reports.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(list(chunks))
        self.closed = False

    def __aiter__(self) -> ChunkStream:
        return self

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        for chunk in self._chunks:
            return chunk
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


class Server:
    """A MockTransport handler: serves the queued replies in order, records the requests."""

    def __init__(self, *replies: Callable[[], httpx.Response]) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        self.streams: list[ChunkStream] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.replies.pop(0)()
        if isinstance(response.stream, ChunkStream):
            self.streams.append(response.stream)
        return response

    @property
    def all_closed(self) -> bool:
        """Whether every stream body served was closed (the connection released)."""
        return all(stream.closed for stream in self.streams)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


def meta_headers(name: str) -> dict[str, str]:
    """The recorded response headers of ``name``, minus the framing ones that no longer apply."""
    path = FIXTURES / f"{name}.response-meta.json"
    if not path.exists():
        return {}
    headers = json.loads(path.read_text())["headers"]
    drop = {"content-length", "content-encoding", "transfer-encoding"}
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def sse_reply(
    data: bytes, *, chunks: list[bytes] | None = None, headers: dict[str, str] | None = None
) -> Callable[[], httpx.Response]:
    def reply() -> httpx.Response:
        return httpx.Response(
            200,
            headers={**(headers or {}), "content-type": "text/event-stream; charset=utf-8"},
            stream=ChunkStream(chunks if chunks is not None else [data]),
        )

    return reply


def json_reply(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[], httpx.Response]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()

    def reply() -> httpx.Response:
        return httpx.Response(
            status,
            headers={"content-type": "application/json", **(headers or {})},
            content=content,
        )

    return reply


def make_adapter(server: Server, **kw: Any) -> AnthropicMessages:
    kw.setdefault("api_key", KEY)
    kw.setdefault("retry", RetryPolicy(max_retries=0))
    return AnthropicMessages(
        MODEL, http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)), **kw
    )


async def run_stream(
    adapter: AnthropicMessages, request: ModelRequest = HI
) -> tuple[list[StreamEvent], ModelResponse]:
    async with adapter.stream(request) as events:
        collected = [event async for event in events]
    last = collected[-1]
    assert isinstance(last, Finish)
    assert events.response == last.response
    return collected, last.response


async def collect_into(delivered: list[StreamEvent], adapter: AnthropicMessages) -> None:
    """Stream ``HI``, keeping each event in ``delivered`` as it comes (an error may follow)."""
    async with adapter.stream(HI) as events:
        async for event in events:
            delivered.append(event)  # noqa: PERF401 - what came before the error is the point


def build_body(request: ModelRequest, *, stream: bool = False, **kw: Any) -> dict[str, Any]:
    """The JSON body the adapter sends for ``request`` (as bytes on the wire, decoded)."""
    adapter = AnthropicMessages(MODEL, api_key=KEY, **kw)
    body: dict[str, Any] = json.loads(adapter._encode(request, stream=stream))
    return body


def payloads(name: str) -> list[dict[str, Any]]:
    """The JSON payloads of a fixture stream (a plain line scan: an independent oracle)."""
    text = (FIXTURES / f"{name}.sse").read_text(encoding="utf-8")
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def deltas(name: str, kind: str, field: str) -> str:
    return "".join(
        p["delta"][field]
        for p in payloads(name)
        if p["type"] == "content_block_delta" and p["delta"]["type"] == kind
    )


def fixture_bytes(name: str, *, terminate: bool = False) -> bytes:
    data = (FIXTURES / f"{name}.sse").read_bytes()
    if terminate and not data.endswith(b"\n\n"):
        data += b"\n" if data.endswith(b"\n") else b"\n\n"
    return data


def by_event(data: bytes) -> list[bytes]:
    """``data`` cut after every blank line: one SSE event per chunk."""
    pieces = data.split(b"\n\n")
    return [p + b"\n\n" for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


def response(  # noqa: PLR0917 - the expectation tables read best positionally
    parts: list[Any],
    finish: str,
    raw: str | None,
    usage: Usage,
    model: str,
    response_id: str,
    request_id: str | None = None,
) -> ModelResponse:
    return ModelResponse(
        message=Message(role="assistant", parts=tuple(parts)),
        finish_reason=finish,  # type: ignore[arg-type]
        usage=usage,
        model=model,
        provider="anthropic",
        request_id=request_id,
        response_id=response_id,
        raw_finish_reason=raw,
    )


def anthropic_reasoning(**kw: Any) -> ReasoningPart:
    return ReasoningPart(provider="anthropic", **kw)


# ---------------------------------------------------------------- expected results


def _truncated_tool() -> ToolCallPart:
    name = "stream-max-tokens-truncated-tool-input"
    return ToolCallPart(
        id="toolu_01EKqbqmZrGRXy18eN7m9kvY",
        name="make_file",
        arguments={},
        raw_arguments=deltas(name, "input_json_delta", "partial_json"),
        complete=False,
        problem="the output token limit (max_tokens) was reached while writing this call",
    )


def _redacted() -> list[ReasoningPart]:
    return [
        anthropic_reasoning(redacted=True, encrypted=p["content_block"]["data"])
        for p in payloads("stream-redacted-thinking")
        if p["type"] == "content_block_start" and p["content_block"]["type"] == "redacted_thinking"
    ]


def _thinking_then_text(name: str) -> list[Any]:
    return [
        anthropic_reasoning(
            text=deltas(name, "thinking_delta", "thinking"),
            signature=deltas(name, "signature_delta", "signature"),
        ),
        TextPart(text=deltas(name, "text_delta", "text")),
    ]


HAIKU = "claude-haiku-4-5-20251001"
PELICAN = "pelican_name_generator"

EXPECTED_STREAMS: dict[str, Callable[[], ModelResponse]] = {
    "message-delta-input-tokens.converted": lambda: response(
        [TextPart(text="pong")],
        "stop",
        "end_turn",
        Usage(input_tokens=61, output_tokens=2),  # message_delta's, not message_start's 43
        "claude-opus-4-5-20251101",
        "msg_3196a1cc08de4d76b85b8f5777c0d42b",
    ),
    "stream-max-tokens-truncated-tool-input": lambda: response(
        [
            TextPart(
                text="I'll create a comprehensive tax guide for someone with multiple W2s and "
                "save it in a file called taxes.txt. Let me do that for you now."
            ),
            _truncated_tool(),
        ],
        "length",
        "max_tokens",
        Usage(input_tokens=450, output_tokens=124),
        "claude-3-7-sonnet-20250219",
        "msg_01UdjYBBipA9omjYhicnevgq",
    ),
    "stream-parallel-tool-use-padded-json-ratelimit-headers": lambda: response(
        [
            ToolCallPart(id="toolu_01LtHJmixrs9NcWQkK8hu8hj", name=PELICAN),
            ToolCallPart(id="toolu_01N8a4jWyf116qKTMqKKmjyt", name=PELICAN),
        ],
        "tool_calls",
        "tool_use",
        Usage(input_tokens=542, output_tokens=62),
        HAIKU,
        "msg_01V2noLbAb2NgKnjaNw6Cn3w",
        "req_011CZkTfmdQovVWg8SG5f6Lq",
    ),
    "stream-redacted-thinking": lambda: response(
        [
            *_redacted(),
            TextPart(text=deltas("stream-redacted-thinking", "text_delta", "text")),
        ],
        "stop",
        "end_turn",
        Usage(input_tokens=92, output_tokens=189),
        "claude-sonnet-4-5-20250929",
        "msg_018XZkwvj9asBiffg3fXt88s",
    ),
    "stream-refusal-stop-reason": lambda: response(
        [],
        "refusal",
        "refusal",
        Usage(input_tokens=20, output_tokens=0),
        "claude-opus-4-7",
        "msg_01RefusalTestMessage123456789",
    ),
    "stream-text-after-tool-result": lambda: response(
        [TextPart(text=deltas("stream-text-after-tool-result", "text_delta", "text"))],
        "stop",
        "end_turn",
        Usage(input_tokens=678, output_tokens=82),
        HAIKU,
        "msg_01XMATm4UFnjP841TckVuNF4",
        "req_011CZkTfpqPnYcgCs7qMz1za",
    ),
    "stream-text-then-tool-use-input-json-delta": lambda: response(
        [
            TextPart(text="I'll check the current weather in Paris for you."),
            ToolCallPart(
                id="toolu_01NRLabsLyVHZPKxbKvkfSMn",
                name="get_weather",
                arguments={"location": "Paris"},
            ),
        ],
        "tool_calls",
        "tool_use",
        Usage(input_tokens=377, output_tokens=65),
        "claude-sonnet-4-20250514",
        "msg_019Q1hrJbZG26Fb9BQhrkHEr",
    ),
    "stream-text-with-ping": lambda: response(
        [TextPart(text="Hello there!")],
        "stop",
        "end_turn",
        Usage(input_tokens=11, output_tokens=6),
        "claude-3-opus-latest",
        "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK",
    ),
    "stream-thinking-signature-padded-json": lambda: response(
        _thinking_then_text("stream-thinking-signature-padded-json"),
        "stop",
        "end_turn",
        Usage(input_tokens=46, output_tokens=133),
        HAIKU,
        "msg_01Eg56TYRnKCEgWtZu2yjR1t",
        "req_011CZknLUJYvpB2LarebrVDv",
    ),
    "stream-thinking-signature-then-text": lambda: response(
        _thinking_then_text("stream-thinking-signature-then-text"),
        "stop",
        "end_turn",
        Usage(input_tokens=43, output_tokens=282),
        "claude-sonnet-4-20250514",
        "msg_01ALwQ87pTS7hH1PjSdC9wJD",
    ),
    "structured-output-stream-output-config": lambda: response(
        [TextPart(text=deltas("structured-output-stream-output-config", "text_delta", "text"))],
        "stop",
        "end_turn",
        Usage(input_tokens=230, output_tokens=94),
        "claude-sonnet-4-5-20250929",
        "msg_01HGSyDK4y9Spcd6ySQumMNC",
        "req_011CZkUqhE8yGry9H4DHPno4",
    ),
    "tool-no-args.converted": lambda: response(
        [
            TextPart(text="I'll update the issue list for you."),
            ToolCallPart(id="toolu_01QE1WLsSVp5hy5Q3GmGTmjP", name="updateIssueList"),
        ],
        "tool_calls",
        "tool_use",
        Usage(input_tokens=565, output_tokens=48),
        "claude-sonnet-4-5-20250929",
        "msg_01GE2RKp1VYsPzdFs3sS9z5S",
    ),
}

UNTERMINATED = (
    "stream-max-tokens-truncated-tool-input",
    "stream-refusal-stop-reason",
    "stream-text-then-tool-use-input-json-delta",
    "stream-text-with-ping",
)
ERROR_STREAMS = (
    "stream-first-event-overloaded-error.test-authored",
    "stream-midstream-overloaded-error.constructed",
    "stream-midstream-overloaded-error.test-authored",
)


def test_every_fixture_is_covered() -> None:
    streams = {p.name.removesuffix(".sse") for p in FIXTURES.glob("*.sse")}
    assert streams == set(EXPECTED_STREAMS) | set(ERROR_STREAMS)
    assert {n for n in streams if not fixture_bytes(n).endswith(b"\n\n")} == set(UNTERMINATED)
    bodies = {
        p.name.removesuffix(".json")
        for p in FIXTURES.glob("*.json")
        if not p.name.endswith((".request.json", ".response-meta.json"))
    }
    assert bodies == set(EXPECTED_BODIES) | set(EXPECTED_ERRORS)
    requests = {p.name.removesuffix(".request.json") for p in FIXTURES.glob("*.request.json")}
    assert requests == set(EQUIVALENT_REQUESTS)


# ---------------------------------------------------------------- streams


@pytest.mark.parametrize("name", sorted(EXPECTED_STREAMS))
async def test_stream_fixture_replays_to_the_expected_response(name: str) -> None:
    data = fixture_bytes(name, terminate=True)
    server = Server(sse_reply(data, chunks=by_event(data), headers=meta_headers(name)))
    events, result = await run_stream(make_adapter(server))
    expected = EXPECTED_STREAMS[name]()
    assert result == expected
    assert result.request_id == expected.request_id
    # The deltas add up to the final text; every tool call was announced and ended.
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == result.text
    ended = [e.call for e in events if isinstance(e, ToolCallEnd)]
    assert tuple(ended) == result.tool_calls
    assert [e.id for e in events if isinstance(e, ToolCallStart)] == [c.id for c in ended]
    usages = [e.usage for e in events if isinstance(e, UsageUpdate)]
    assert usages[-1] == result.usage


@pytest.mark.parametrize("name", UNTERMINATED)
async def test_stream_without_final_blank_line_is_interrupted(name: str) -> None:
    """The spec drops an unterminated last event: no message_stop, so never a success (fact 9)."""
    data = fixture_bytes(name)
    server = Server(sse_reply(data, chunks=by_event(data)))
    if name == "stream-refusal-stop-reason":
        # No output before the cut (the refusal's only text block is empty): nothing
        # was delivered, so it is a retryable connection error, not an interruption.
        with pytest.raises(ProviderConnectionError, match="before any output"):
            await run_stream(make_adapter(server))
        assert server.all_closed
        return
    with pytest.raises(StreamInterrupted) as info:
        await run_stream(make_adapter(server))
    assert info.value.partial == EXPECTED_STREAMS[name]()
    assert isinstance(info.value.cause, ProviderError)
    assert server.all_closed
    assert info.value.provider == "anthropic"


async def test_stream_events_in_order() -> None:
    data = fixture_bytes("message-delta-input-tokens.converted")
    events, result = await run_stream(make_adapter(Server(sse_reply(data))))
    assert events == [
        UsageUpdate(usage=Usage(input_tokens=43, output_tokens=1)),
        TextDelta(text="p"),
        TextDelta(text="ong"),
        UsageUpdate(usage=Usage(input_tokens=61, output_tokens=2)),
        Finish(response=result),
    ]


async def test_stream_tool_call_events() -> None:
    name = "stream-text-then-tool-use-input-json-delta"
    events, _ = await run_stream(
        make_adapter(Server(sse_reply(fixture_bytes(name, terminate=True))))
    )
    tool_events = [e for e in events if isinstance(e, ToolCallStart | ToolCallDelta | ToolCallEnd)]
    assert tool_events == [
        ToolCallStart(index=1, id="toolu_01NRLabsLyVHZPKxbKvkfSMn", name="get_weather"),
        ToolCallDelta(index=1, arguments='{"locati'),
        ToolCallDelta(index=1, arguments='on": "P'),
        ToolCallDelta(index=1, arguments="ar"),
        ToolCallDelta(index=1, arguments='is"}'),
        ToolCallEnd(
            index=1,
            call=ToolCallPart(
                id="toolu_01NRLabsLyVHZPKxbKvkfSMn",
                name="get_weather",
                arguments={"location": "Paris"},
            ),
        ),
    ]


async def test_max_tokens_cuts_the_open_tool_call() -> None:
    """P-16: the half-written call ends as incomplete when message_delta says max_tokens."""
    name = "stream-max-tokens-truncated-tool-input"
    events, result = await run_stream(
        make_adapter(Server(sse_reply(fixture_bytes(name, terminate=True))))
    )
    (end,) = [e for e in events if isinstance(e, ToolCallEnd)]
    assert not end.call.complete
    assert not end.call.executable
    assert end.call.raw_arguments == deltas(name, "input_json_delta", "partial_json")
    assert result.finish_reason == "length"
    assert not any(c.executable for c in result.tool_calls)


async def test_thinking_signature_is_byte_exact() -> None:
    name = "stream-thinking-signature-padded-json"
    _, result = await run_stream(make_adapter(Server(sse_reply(fixture_bytes(name)))))
    (reasoning,) = result.reasoning
    signature = deltas(name, "signature_delta", "signature")
    assert signature.startswith("EuYDCmMIDBgCKkC05Zda4P+Cdk/LQKE+")
    assert reasoning.signature == signature
    assert reasoning.provider == "anthropic"
    assert "Pelé" in reasoning.text  # a multi-byte character kept whole
    assert result.text == (
        '1. **Pouch** - references their iconic bill pouch\n2. **Pelé** - playful take on "pelican"'
    )


async def test_structured_output_stream_parses() -> None:
    name = "structured-output-stream-output-config"
    _, result = await run_stream(make_adapter(Server(sse_reply(fixture_bytes(name)))))
    dog = json.loads(result.text)
    assert dog["name"] == "Biscuit"
    assert dog["age"] == 4


@HTTPX_GENERATORS
async def test_first_event_error_is_typed_and_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    error = fixture_bytes("stream-first-event-overloaded-error.test-authored")
    server = Server(sse_reply(error))
    with pytest.raises(Overloaded) as info:
        await run_stream(make_adapter(server))
    assert server.all_closed
    assert info.value.code == "overloaded_error"
    assert info.value.status is None
    assert info.value.retryable
    # Nothing was delivered, so the stream is retried.
    ok = fixture_bytes("stream-text-with-ping", terminate=True)
    server = Server(sse_reply(error), sse_reply(ok))
    adapter = make_adapter(server, retry=RetryPolicy(max_retries=2))
    async with adapter.stream(HI) as events:
        collected = [e async for e in events]
        assert events.attempts == 2
    assert isinstance(collected[-1], Finish)
    assert collected[-1].response.text == "Hello there!"
    assert [r.headers.get("x-actrio-retry-count") for r in server.requests] == [None, "1"]
    assert server.all_closed


@HTTPX_GENERATORS
@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("stream-midstream-overloaded-error.constructed", "Hello there"),
        ("stream-midstream-overloaded-error.test-authored", "Hello"),
    ],
)
async def test_midstream_error_interrupts_with_partial(name: str, text: str) -> None:
    data = fixture_bytes(name)
    server = Server(sse_reply(data, chunks=by_event(data)))
    delivered: list[StreamEvent] = []
    with pytest.raises(StreamInterrupted) as info:
        await collect_into(delivered, make_adapter(server, retry=RetryPolicy(max_retries=3)))
    assert len(server.requests) == 1  # never replayed after output
    assert server.all_closed
    assert info.value.partial.text == text
    assert "".join(e.text for e in delivered if isinstance(e, TextDelta)) == text
    assert isinstance(info.value.cause, Overloaded)
    assert info.value.code == "overloaded_error"


@pytest.mark.xfail(
    strict=True,
    reason="shared _base.ModelStream closes response.aiter_bytes() early; httpx's inner "
    "generators are left for GC and trio warns (encode/httpx#3686)",
)
async def test_a_stream_closed_early_leaves_no_httpx_generator_behind() -> None:
    data = fixture_bytes("stream-text-with-ping", terminate=True)
    server = Server(sse_reply(data, chunks=by_event(data)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with make_adapter(server).stream(HI) as events:
            async for _ in events:
                break
        for _ in range(3):  # trio finalizes an abandoned generator in a task of its own
            gc.collect()
            await trio.testing.wait_all_tasks_blocked()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == []


# ---------------------------------------------------------------- split anywhere


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("name", sorted(EXPECTED_STREAMS))
@settings(max_examples=15, deadline=None)
@given(data=st.data())
async def test_split_stream_gives_the_same_response(name: str, data: st.DataObject) -> None:
    stream = fixture_bytes(name, terminate=True)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=40), label="cuts")
    server = Server(sse_reply(stream, chunks=_cut(stream, cuts), headers=meta_headers(name)))
    _, result = await run_stream(make_adapter(server))
    assert result == EXPECTED_STREAMS[name]()


@pytest.mark.parametrize("name", UNTERMINATED)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
async def test_split_unterminated_stream_is_interrupted(name: str, data: st.DataObject) -> None:
    stream = fixture_bytes(name)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=40), label="cuts")
    server = Server(sse_reply(stream, chunks=_cut(stream, cuts)))
    if name == "stream-refusal-stop-reason":  # no output before the cut: see above
        with pytest.raises(ProviderConnectionError, match="before any output"):
            await run_stream(make_adapter(server))
        assert server.all_closed
        return
    with pytest.raises(StreamInterrupted) as info:
        await run_stream(make_adapter(server))
    assert info.value.partial == EXPECTED_STREAMS[name]()
    assert server.all_closed


@HTTPX_GENERATORS
@pytest.mark.parametrize("name", ERROR_STREAMS)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
async def test_split_error_stream_fails_typed(name: str, data: st.DataObject) -> None:
    """Before any delivery the error itself is raised; after it, StreamInterrupted."""
    stream = fixture_bytes(name)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20), label="cuts")
    server = Server(sse_reply(stream, chunks=_cut(stream, cuts)))
    with pytest.raises(ProviderError) as info:
        await run_stream(make_adapter(server))
    assert server.all_closed
    error = info.value
    if isinstance(error, StreamInterrupted):
        assert isinstance(error.cause, Overloaded)
        assert error.partial.text in ("Hello there", "Hello")
    else:
        assert type(error) is Overloaded


# ---------------------------------------------------------------- non-streaming


def _body(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


EXPECTED_BODIES: dict[str, Callable[[], ModelResponse]] = {
    "nonstream-text-with-system": lambda: response(
        [TextPart(text="The capital of France is Paris.")],
        "stop",
        "end_turn",
        Usage(input_tokens=20, output_tokens=10),
        "claude-3-opus-20240229",
        "msg_01Fg1JVgvCYUHWsxrj9GkpEv",
    ),
    "nonstream-text-and-parallel-tool-use": lambda: response(
        [
            TextPart(text=_body("nonstream-text-and-parallel-tool-use")["content"][0]["text"]),
            *(
                ToolCallPart(id=i, name="retrieve_entity_info", arguments={"name": n})
                for i, n in [
                    ("toolu_0167cfEnoQaPviGdVXA95zcu", "Alice"),
                    ("toolu_01EEe2V5HD1Ac4rKiUR4HD2T", "Bob"),
                    ("toolu_01XFyAjstT3966qvRynZyVPo", "Charlie"),
                    ("toolu_013mnQZbgtK2oe3Mo3XKJsx3", "Daisy"),
                ]
            ),
        ],
        "tool_calls",
        "tool_use",
        Usage(input_tokens=423, output_tokens=202),
        "claude-haiku-4-5-20251001",
        "msg_011S3wxtqL5CVescWqS3zeg2",
    ),
    "nonstream-thinking-then-tool-use": lambda: response(
        [
            anthropic_reasoning(
                text=_body("nonstream-thinking-then-tool-use")["content"][0]["thinking"],
                signature=_body("nonstream-thinking-then-tool-use")["content"][0]["signature"],
            ),
            TextPart(
                text="I'll help you find the largest city in your country. First, let me "
                "determine which country you're from."
            ),
            ToolCallPart(id="toolu_01YGzqpRE16Vricda3Aqcejo", name="get_user_country"),
        ],
        "tool_calls",
        "tool_use",
        Usage(input_tokens=398, output_tokens=155),
        "claude-sonnet-4-20250514",
        "msg_01WvueFjZVbHcj4H4zUzeGv2",
    ),
    "tool-no-args.nonstream": lambda: response(
        [
            TextPart(text=_body("tool-no-args.nonstream")["content"][0]["text"]),
            ToolCallPart(id="toolu_01LRmxn9vGM1d2DZSDBowdZ1", name="updateIssueList"),
        ],
        "tool_calls",
        "tool_use",
        Usage(input_tokens=602, output_tokens=93),
        "claude-3-opus-20240229",
        "msg_01GCBaV8gyWAYgMVggRqZbuQ",
    ),
    "structured-output-output-config-json-schema": lambda: response(
        [TextPart(text='{"city":"London","country":"United Kingdom","population":9002488}')],
        "stop",
        "end_turn",
        Usage(input_tokens=196, output_tokens=19),
        "claude-sonnet-4-5-20250929",
        "msg_01Hfgh959WDWjL5jkM2FQXTL",
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_BODIES))
async def test_body_fixture_parses_to_the_expected_response(name: str) -> None:
    raw = (FIXTURES / f"{name}.json").read_bytes()
    server = Server(json_reply(raw, headers=meta_headers(name)))
    result = await make_adapter(server, keep_raw=True).complete(HI)
    assert result == EXPECTED_BODIES[name]()
    assert result.raw == json.loads(raw)
    assert result.attempts == 1
    assert server.bodies[0]["stream"] is False


async def test_complete_reads_the_request_id_header() -> None:
    server = Server(
        json_reply(_body("nonstream-text-with-system"), headers={"request-id": "req_abc"})
    )
    result = await make_adapter(server).complete(attrs.evolve(HI, max_tokens=10))
    assert result.request_id == "req_abc"
    assert server.bodies[0]["max_tokens"] == 10


# ---------------------------------------------------------------- errors

EXPECTED_ERRORS: dict[str, tuple[type[ProviderError], int, str, str, bool]] = {
    "error-400-input-plus-max-tokens-exceed-context": (
        ContextLengthExceeded,
        400,
        "invalid_request_error",
        "req_011CUWu7a8bGeMSvA9d7DRLa",
        False,
    ),
    "error-400-invalid-request": (
        BadRequest,
        400,
        "invalid_request_error",
        "req_011Ca7jT9AHpgXgdv8igm4z9",
        False,
    ),
    "error-400-prompt-too-long": (
        ContextLengthExceeded,
        400,
        "invalid_request_error",
        "req_011CWdepJvA2D819tdYYq4h7",
        False,
    ),
    "error-404-model-not-found": (
        NotFound,
        404,
        "not_found_error",
        "req_011CdufXo8Y2LVfY2veyuQWG",
        False,
    ),
    "error-404-not-found-count-tokens": (
        NotFound,
        404,
        "not_found_error",
        "req_011CVEA3SF7rnb3DuBZytqQa",
        False,
    ),
    "error-429-rate-limit": (
        RateLimited,
        429,
        "rate_limit_error",
        "req_011CZrU3xcqt5z3XzEkovTus",
        True,
    ),
    "error-529-overloaded": (
        Overloaded,
        529,
        "overloaded_error",
        "req_01RCc7MbLyQNtGKzBTv8VCep",
        True,
    ),
}


def _error_reply(name: str) -> Callable[[], httpx.Response]:
    _, status, *_ = EXPECTED_ERRORS[name]
    return json_reply(
        (FIXTURES / f"{name}.json").read_bytes(), status=status, headers=meta_headers(name)
    )


@pytest.mark.parametrize("name", sorted(EXPECTED_ERRORS))
@pytest.mark.parametrize("streaming", [False, True])
async def test_error_fixture_raises_the_typed_error(name: str, streaming: bool) -> None:
    cls, status, code, request_id, retryable = EXPECTED_ERRORS[name]
    server = Server(_error_reply(name))
    adapter = make_adapter(server)
    call = run_stream(adapter) if streaming else adapter.complete(HI)
    with pytest.raises(ProviderError) as info:
        await call
    error = info.value
    assert type(error) is cls
    assert (error.status, error.code, error.request_id) == (status, code, request_id)
    assert error.retryable is retryable
    assert error.provider == "anthropic"
    assert KEY not in str(error)
    assert KEY not in repr(error)


async def test_overloaded_529_is_retried(autojump_clock: trio.testing.MockClock) -> None:
    server = Server(
        _error_reply("error-529-overloaded"), json_reply(_body("tool-no-args.nonstream"))
    )
    adapter = make_adapter(server, retry=RetryPolicy(max_retries=2))
    result = await adapter.complete(HI)
    assert result.attempts == 2
    assert result.tool_calls[0].name == "updateIssueList"
    ids = {r.headers["x-actrio-request-id"] for r in server.requests}
    assert len(ids) == 1


async def test_error_envelope_with_status_200_is_typed() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(Overloaded):
        await make_adapter(Server(json_reply(body))).complete(HI)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"id": "msg_1", "type": "message"},
        {"content": ["text"]},
    ],
)
async def test_malformed_body_is_a_protocol_error(body: Any) -> None:
    with pytest.raises(ProviderProtocolError):
        await make_adapter(Server(json_reply(body))).complete(HI)


# ---------------------------------------------------------------- response details


def parse(content: list[Any], stop_reason: str | None = "end_turn", **extra: Any) -> ModelResponse:
    adapter = AnthropicMessages(MODEL, api_key=KEY)
    body = {"id": "msg_1", "model": "m", "content": content, "stop_reason": stop_reason, **extra}
    return adapter._parse(body)


@pytest.mark.parametrize(
    ("raw", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "refusal"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons(raw: str | None, finish: str) -> None:
    result = parse([{"type": "text", "text": "x"}], raw)
    assert result.finish_reason == finish
    assert result.raw_finish_reason == raw


def test_usage_adds_cache_reads_and_writes_to_input() -> None:
    usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 1000,
        "output_tokens": 5,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000},
        "server_tool_use": None,
    }
    assert parse([], usage=usage).usage == Usage(
        input_tokens=1110, output_tokens=5, cached_input_tokens=100, cache_write_tokens=1000
    )
    assert parse([], usage={"input_tokens": None, "output_tokens": -1}).usage == Usage()
    assert parse([], usage="nonsense").usage == Usage()


def test_tool_inputs_missing_null_or_not_objects() -> None:
    result = parse(
        [
            {"type": "tool_use", "id": "a", "name": "t"},
            {"type": "tool_use", "id": "b", "name": "t", "input": None},
            {"type": "tool_use", "id": "c", "name": "t", "input": "oops"},
            {"type": "tool_use", "id": "d", "name": "t", "input": {"x": [1, {"y": 2}]}},
        ],
        "tool_use",
    )
    a, b, c, d = result.tool_calls
    assert (a.arguments, a.executable) == ({}, True)
    assert (b.arguments, b.executable) == ({}, True)
    assert (c.executable, c.raw_arguments) == (False, '"oops"')
    assert "object" in (c.problem or "")
    assert (d.arguments, d.executable) == ({"x": [1, {"y": 2}]}, True)


def test_whole_body_at_max_tokens_cuts_the_last_tool_call() -> None:
    content = [
        {"type": "tool_use", "id": "a", "name": "t", "input": {"x": 1}},
        {"type": "tool_use", "id": "b", "name": "t", "input": {"x": 2}},
    ]
    first, last = parse(content, "max_tokens").tool_calls
    assert first.executable
    assert (last.complete, last.executable) == (False, False)
    assert last.arguments == {"x": 2}
    assert all(c.executable for c in parse(content, "tool_use").tool_calls)


def test_unknown_blocks_are_skipped_and_empty_text_has_no_part() -> None:
    result = parse(
        [
            {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
            {"type": "text", "text": ""},
            {"type": "text", "text": "a", "citations": [{"type": "web"}]},
            {"type": "text", "text": "b"},
        ]
    )
    assert result.message.parts == (TextPart(text="ab"),)


def test_thinking_with_empty_signature_has_none() -> None:
    result = parse(
        [
            {"type": "thinking", "thinking": "hm", "signature": ""},
            {"type": "redacted_thinking", "data": "ENC"},
        ]
    )
    assert result.reasoning == (
        anthropic_reasoning(text="hm"),
        anthropic_reasoning(redacted=True, encrypted="ENC"),
    )


@pytest.mark.parametrize(
    "block",
    [
        {"type": "text", "text": 5},
        {"type": "tool_use", "name": "t", "input": {}},
        {"type": "redacted_thinking"},
        {"type": "thinking", "signature": "s"},
    ],
)
def test_malformed_blocks_are_protocol_errors(block: dict[str, Any]) -> None:
    with pytest.raises(ProviderProtocolError):
        parse([block])


# ---------------------------------------------------------------- stream parser details


def feed_all(*payloads: Any, event: str = "message") -> tuple[AnthropicStreamParser, list[Any]]:
    parser = AnthropicStreamParser()
    out: list[Any] = []
    for payload in payloads:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        out.extend(parser.feed(ServerSentEvent(data=data, event=event)))
    return parser, out


START = {"type": "message_start", "message": {"id": "msg_x", "model": "m"}}


def block_start(index: int, **block: Any) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, **delta: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def test_parser_ignores_pings_unknown_events_and_delta_types() -> None:
    parser, out = feed_all(
        START,
        {"type": "ping"},
        {"type": "some_future_event", "x": 1},
        {"type": 7},
        "",
        block_start(0, type="text", text=""),
        block_delta(0, type="citations_delta", citation={"type": "char_location"}),
        block_delta(0, type="future_delta", x=1),
        block_delta(0, type="text_delta", text="ok"),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_stop"},
    )
    assert out == [TextDelta(text="ok")]  # message_start without usage: no UsageUpdate
    assert parser.done
    assert parser.response().text == "ok"
    assert parser.response().model == "m"


def test_parser_error_payload_without_event_line() -> None:
    """Fact 15: dispatch on data.type; an error needs no ``event: error`` line."""
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(Overloaded) as info:
        feed_all(START, error)
    assert info.value.status is None
    with pytest.raises(RateLimited):
        feed_all({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})


def test_parser_error_event_with_a_non_error_payload() -> None:
    with pytest.raises(ProviderProtocolError):
        feed_all({"type": "ping"}, event="error")


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[1, 2]",
        {"type": "content_block_start", "index": "0", "content_block": {"type": "text"}},
        {"type": "content_block_start", "index": True, "content_block": {"type": "text"}},
        {"type": "content_block_start", "index": 0},
        {"type": "content_block_delta", "index": 0, "delta": "x"},
        {"type": "message_start", "message": None},
        block_delta(0, type="text_delta", text=None),
        block_delta(0, type="input_json_delta", partial_json="{}"),  # block 0 is no tool_use
        block_delta(0, type="signature_delta"),
    ],
)
def test_parser_protocol_errors(payload: Any) -> None:
    with pytest.raises(ProviderProtocolError):
        feed_all(START, payload)


def test_parser_tool_input_whole_in_block_start() -> None:
    parser, out = feed_all(
        START,
        block_start(0, type="tool_use", id="t1", name="f", input={"a": 1}),
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_stop", "index": 0},  # a repeated stop changes nothing
        block_delta(0, type="input_json_delta", partial_json="late"),
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}},
        {"type": "message_stop"},
    )
    call = ToolCallPart(id="t1", name="f", arguments={"a": 1})
    assert out == [
        ToolCallStart(index=0, id="t1", name="f"),
        ToolCallEnd(index=0, call=call),
    ]
    assert parser.response().tool_calls == (call,)
    assert parser.response().usage == Usage()


def test_parser_cuts_a_tool_left_open_at_any_stop_reason() -> None:
    parser, out = feed_all(
        START,
        block_start(0, type="tool_use", id="t1", name="f", input={}),
        block_delta(0, type="input_json_delta", partial_json='{"a": 1}'),
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": None},
    )
    (end,) = [e for e in out if isinstance(e, ToolCallEnd)]
    assert not end.call.complete
    assert "tool_use" in (end.call.problem or "")
    assert not any(isinstance(e, UsageUpdate) for e in out)
    assert parser.response().finish_reason == "tool_calls"


def test_parser_partial_marks_open_tools() -> None:
    parser, _ = feed_all(
        START,
        block_start(0, type="tool_use", id="t1", name="f", input={}),
        block_delta(0, type="input_json_delta", partial_json='{"a": '),
    )
    assert not parser.done
    (call,) = parser.partial().tool_calls
    assert not call.complete
    assert call.raw_arguments == '{"a": '


def test_parser_usage_is_cumulative_and_nulls_keep_values() -> None:
    _, out = feed_all(
        {
            "type": "message_start",
            "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 50}},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 9, "cache_read_input_tokens": None},
        },
    )
    assert [e.usage for e in out] == [
        Usage(input_tokens=55, cached_input_tokens=50),
        Usage(input_tokens=55, output_tokens=9, cached_input_tokens=50),
    ]


def test_parser_thinking_block_start_with_text_and_signature() -> None:
    parser, out = feed_all(
        START,
        block_start(0, type="thinking", thinking="a", signature="S1"),
        block_delta(0, type="thinking_delta", thinking="b"),
        block_delta(0, type="thinking_delta", thinking=""),
        block_delta(0, type="signature_delta", signature="S2"),
        {"type": "content_block_stop", "index": 0},
    )
    assert [e.text for e in out] == ["a", "b"]
    assert parser.partial().reasoning == (anthropic_reasoning(text="ab", signature="S1S2"),)


# ---------------------------------------------------------------- requests: the fixtures


def _tool_history() -> list[Message]:
    first = ToolCallPart(id="toolu_01LtHJmixrs9NcWQkK8hu8hj", name=PELICAN)
    second = ToolCallPart(id="toolu_01N8a4jWyf116qKTMqKKmjyt", name=PELICAN)
    return [
        Message.user("Two names for a pet pelican"),
        Message.assistant([" ", first, second]),
        Message.tool(first.id, "Charles"),
        Message.tool(second.id, "Sammy"),
    ]


PELICAN_TOOL = ToolSpec(name=PELICAN, parameters={"properties": {}, "type": "object"})
ENTITY_TOOL = ToolSpec(
    name="retrieve_entity_info",
    description="Get the knowledge about the given entity.",
    parameters={
        "additionalProperties": False,
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
        "type": "object",
    },
)
CITY_SCHEMA = {
    "additionalProperties": False,
    "properties": {
        "city": {"type": "string"},
        "country": {"type": "string"},
        "population": {"type": "integer"},
    },
    "required": ["city", "country", "population"],
    "type": "object",
}
DOG_SCHEMA = {
    "type": "object",
    "title": "Dog",
    "properties": {
        "name": {"type": "string", "title": "Name"},
        "age": {"type": "integer", "title": "Age"},
        "bio": {"type": "string", "title": "Bio"},
    },
    "additionalProperties": False,
    "required": ["name", "age", "bio"],
}
ENTITY_SYSTEM = (
    "\n    Use the `retrieve_entity_info` tool to get information about a specific person.\n"
    "    If you need to use `retrieve_entity_info` to get information about multiple people, "
    "try\n    to call them in parallel as much as possible.\n    Think step by step and then "
    "provide a single most probable concise answer.\n    "
)

# name -> (model, stream, request); the body built must equal the recorded one.
EQUIVALENT_REQUESTS: dict[str, tuple[str, bool, ModelRequest]] = {
    "error-400-invalid-request": (
        "claude-opus-4-6",
        False,
        ModelRequest(
            messages=[Message.user("What is 2+2?")],
            extras=[AnthropicExtras(body={"output_config": {"effort": "xhigh"}})],
        ),
    ),
    "error-404-model-not-found": (
        "claude-sonet-4-5",
        False,
        ModelRequest(messages=[Message.user("hello")]),
    ),
    "error-404-not-found-count-tokens": (
        "claude-does-not-exist",
        False,
        ModelRequest(messages=[Message.user("hello")]),
    ),
    "nonstream-text-and-parallel-tool-use": (
        "claude-haiku-4-5",
        False,
        ModelRequest(
            messages=[
                Message.system(ENTITY_SYSTEM),
                Message.user("Alice, Bob, Charlie and Daisy are a family. Who is the youngest?"),
            ],
            tools=[ENTITY_TOOL],
            tool_choice="auto",
        ),
    ),
    "nonstream-text-with-system": (
        "claude-3-opus-latest",
        False,
        ModelRequest(
            messages=[
                Message.system("You are a helpful assistant.\n\n"),
                Message.user("What is the capital of France?"),
            ]
        ),
    ),
    "nonstream-thinking-then-tool-use": (
        "claude-sonnet-4-0",
        False,
        ModelRequest(
            messages=[Message.user("What is the largest city in the user country?")],
            tools=[ToolSpec(name="get_user_country")],
            tool_choice="auto",
            max_tokens=4096,
            reasoning="raw",
            extras=[AnthropicExtras(thinking_budget=3000)],
        ),
    ),
    "stream-parallel-tool-use-padded-json-ratelimit-headers": (
        "claude-haiku-4-5-20251001",
        True,
        ModelRequest(
            messages=[Message.user("Two names for a pet pelican")],
            tools=[PELICAN_TOOL],
            temperature=1.0,
            max_tokens=8192,
        ),
    ),
    "stream-redacted-thinking": (
        "claude-sonnet-4-5-20250929",
        True,
        ModelRequest(
            messages=[
                Message.user(
                    "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98"
                    "432ECCCE4C1253D5E2D82641AC0E52CC2876CB"
                )
            ],
            max_tokens=4096,
            reasoning="raw",
            reasoning_effort="low",
        ),
    ),
    "stream-text-after-tool-result": (
        "claude-haiku-4-5-20251001",
        True,
        ModelRequest(
            messages=_tool_history(), tools=[PELICAN_TOOL], temperature=1.0, max_tokens=8192
        ),
    ),
    "stream-thinking-signature-padded-json": (
        "claude-haiku-4-5-20251001",
        True,
        ModelRequest(
            messages=[Message.user("Two names for a pet pelican, be brief")],
            temperature=1.0,
            max_tokens=8192,
            reasoning="summary",
            extras=[AnthropicExtras(thinking_budget=1024)],
        ),
    ),
    "stream-thinking-signature-then-text": (
        "claude-sonnet-4-0",
        True,
        ModelRequest(
            messages=[Message.user("How do I cross the street?")],
            max_tokens=4096,
            reasoning="raw",
            reasoning_effort="low",
        ),
    ),
    "structured-output-output-config-json-schema": (
        "claude-sonnet-4-5",
        False,
        ModelRequest(
            messages=[Message.user("Tell me about London")],
            output=OutputSchema(name="CityLocation", schema=CITY_SCHEMA),
        ),
    ),
    "structured-output-stream-output-config": (
        "claude-sonnet-4-5",
        True,
        ModelRequest(
            messages=[Message.user("Invent a good dog")],
            output=OutputSchema(name="Dog", schema=DOG_SCHEMA),
            temperature=1.0,
            max_tokens=8192,
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(EQUIVALENT_REQUESTS))
def test_request_body_matches_the_recorded_one(name: str) -> None:
    model, stream, request = EQUIVALENT_REQUESTS[name]
    recorded = json.loads((FIXTURES / f"{name}.request.json").read_text())
    adapter = AnthropicMessages(model, api_key=KEY)
    body = json.loads(adapter._encode(request, stream=stream))
    if name.endswith("count-tokens"):  # another endpoint: only model and messages apply
        body = {k: body[k] for k in recorded}
    assert body == recorded


async def test_request_goes_to_messages_with_auth_headers() -> None:
    server = Server(json_reply(_body("nonstream-text-with-system")))
    adapter = make_adapter(server, base_url="https://gateway.example/anthropic/")
    await adapter.complete(HI)
    (request,) = server.requests
    assert str(request.url) == "https://gateway.example/anthropic/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == API_VERSION == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert KEY not in repr(adapter)


async def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env")
    server = Server(json_reply(_body("nonstream-text-with-system")))
    await make_adapter(server, api_key=None).complete(HI)
    assert server.requests[0].headers["x-api-key"] == "sk-ant-env"
    assert AnthropicMessages.default_base_url == "https://api.anthropic.com"
    assert AnthropicMessages.provider == "anthropic"


def test_keyless_subclass_sends_no_key_header() -> None:
    class Local(AnthropicMessages):
        needs_key = False

    assert Local(MODEL)._auth_headers(None) == {"anthropic-version": API_VERSION}


# ---------------------------------------------------------------- requests: the branches


def messages_of(*messages: Message, **kw: Any) -> list[dict[str, Any]]:
    body = build_body(ModelRequest(messages=list(messages), **kw))
    result: list[dict[str, Any]] = body["messages"]
    return result


def test_defaults_and_system() -> None:
    body = build_body(HI)
    assert body == {
        "model": MODEL,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "stream": False,
    }
    body = build_body(
        ModelRequest(messages=[Message.system("a"), Message.system("b"), Message.user("q")]),
        stream=True,
    )
    assert body["system"] == "a\n\nb"
    assert body["stream"] is True
    assert build_body(HI, default_max_tokens=100)["max_tokens"] == 100
    assert build_body(attrs.evolve(HI, max_tokens=7))["max_tokens"] == 7


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_default_max_tokens_is_checked(bad: Any) -> None:
    with pytest.raises(ValueError, match="default_max_tokens"):
        AnthropicMessages(MODEL, default_max_tokens=bad)


def test_same_role_turns_merge_and_tool_results_lead_user_turns() -> None:
    call = ToolCallPart(id="c1", name="f", arguments={"a": 1})
    other = ToolCallPart(id="c2", name="f")
    turns = messages_of(
        Message.user("one"),
        Message.user("two"),
        Message.assistant("thinking aloud"),
        Message.assistant([call, other]),
        Message.user("an aside"),
        Message.tool("c1", "result 1"),
        Message.tool("c2", "boom", is_error=True),
        Message.user("next"),
    )
    assert turns == [
        {"role": "user", "content": [{"type": "text", "text": t} for t in ("one", "two")]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "thinking aloud"},
                {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
                {"type": "tool_use", "id": "c2", "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "result 1"},
                {"type": "tool_result", "tool_use_id": "c2", "content": "boom", "is_error": True},
                {"type": "text", "text": "an aside"},
                {"type": "text", "text": "next"},
            ],
        },
    ]


def test_empty_text_is_dropped_with_its_turn() -> None:
    turns = messages_of(
        Message.user("a"), Message.assistant(""), Message.assistant(), Message.user(["", "b"])
    )
    assert turns == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_images() -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    encoded = base64.b64encode(png).decode()
    (turn,) = messages_of(
        Message.user(
            [
                ImagePart(data=png, media_type="image/png"),
                ImagePart(url="https://example.com/cat.jpg"),
                ImagePart(url=f"data:image/png;base64,{encoded[:8]}\n{encoded[8:]}"),
                ImagePart(url="data:image/svg+xml;charset=utf-8,%3Csvg%2F%3E"),
            ]
        )
    )
    assert [block["source"] for block in turn["content"]] == [
        {"type": "base64", "media_type": "image/png", "data": encoded},
        {"type": "url", "url": "https://example.com/cat.jpg"},
        {"type": "base64", "media_type": "image/png", "data": encoded},
        {
            "type": "base64",
            "media_type": "image/svg+xml",
            "data": base64.b64encode(b"<svg/>").decode(),
        },
    ]
    assert all(block["type"] == "image" for block in turn["content"])


@pytest.mark.parametrize("url", ["data:image/png;base64", "data:;base64,AAAA", "data:,abc"])
def test_unusable_data_urls_are_refused(url: str) -> None:
    with pytest.raises(RequestError, match=r"ImagePart\.url"):
        messages_of(Message.user([ImagePart(url=url)]))


def test_reasoning_goes_back_only_when_it_is_anthropics_and_replayable() -> None:
    call = ToolCallPart(id="c1", name="f")
    (_, turn, _) = messages_of(
        Message.user("q"),
        Message.assistant(
            [
                anthropic_reasoning(text="hm", signature="SIG/+="),
                anthropic_reasoning(redacted=True, encrypted="ENC=="),
                anthropic_reasoning(text="cut short"),  # no signature
                anthropic_reasoning(redacted=True),  # no payload
                ReasoningPart(text="theirs", signature="x", provider="openai-responses"),
                ReasoningPart(text="anon"),
                call,
            ]
        ),
        Message.tool("c1", "ok"),
    )
    assert turn["content"] == [
        {"type": "thinking", "thinking": "hm", "signature": "SIG/+="},
        {"type": "redacted_thinking", "data": "ENC=="},
        {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
    ]


async def test_a_streamed_answer_round_trips_into_the_next_request() -> None:
    name = "nonstream-thinking-then-tool-use"
    result = await make_adapter(Server(json_reply(_body(name)))).complete(HI)
    (call,) = result.tool_calls
    turns = messages_of(
        Message.user("What is the largest city in the user country?"),
        result.message,
        Message.tool(call.id, "France"),
        reasoning="raw",
    )
    recorded = _body(name)["content"]
    assert turns[1]["content"] == recorded  # thinking first, byte-exact signature
    assert turns[2]["content"] == [
        {"type": "tool_result", "tool_use_id": call.id, "content": "France"}
    ]


def test_tools_and_strict() -> None:
    body = build_body(
        ModelRequest(
            messages=[Message.user("q")],
            tools=[ToolSpec(name="a", description="does a", strict=True), ToolSpec(name="b")],
        )
    )
    assert body["tools"] == [
        {
            "name": "a",
            "description": "does a",
            "input_schema": {"type": "object", "properties": {}, "additionalProperties": False},
            "strict": True,
        },
        {
            "name": "b",
            "description": "",
            "input_schema": {"type": "object", "properties": {}, "additionalProperties": False},
        },
    ]
    assert "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("a", {"type": "tool", "name": "a"}),
    ],
)
def test_tool_choice(choice: str, expected: dict[str, Any]) -> None:
    request = ModelRequest(messages=[Message.user("q")], tools=[ToolSpec(name="a")])
    assert build_body(attrs.evolve(request, tool_choice=choice))["tool_choice"] == expected


def test_tool_choice_without_tools() -> None:
    for choice in ("auto", "none"):
        body = build_body(ModelRequest(messages=[Message.user("q")], tool_choice=choice))
        assert "tool_choice" not in body
        assert "tools" not in body
    with pytest.raises(RequestError, match="tool_choice"):
        build_body(ModelRequest(messages=[Message.user("q")], tool_choice="required"))


def test_output_schema_and_sampling_and_extras() -> None:
    request = ModelRequest(
        messages=[Message.user("q")],
        output=OutputSchema(name="City", schema=CITY_SCHEMA, strict=False),
        temperature=0.2,
        stop=("END", "STOP"),
        extras=[
            OpenAIChatExtras(seed=1, body={"seed": 2}),
            AnthropicExtras(top_k=5, top_p=0.9, user_id="u-1"),
        ],
    )
    body = build_body(request)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": CITY_SCHEMA}}
    assert body["temperature"] == 0.2
    assert body["stop_sequences"] == ["END", "STOP"]
    assert (body["top_k"], body["top_p"], body["metadata"]) == (5, 0.9, {"user_id": "u-1"})
    assert "seed" not in body
    assert "thinking" not in body


def test_extras_body_merges_last_and_recursively() -> None:
    request = ModelRequest(
        messages=[Message.user("q")],
        output=OutputSchema(name="City", schema=CITY_SCHEMA),
        extras=[
            AnthropicExtras(
                body={
                    "output_config": {"effort": "high"},
                    "max_tokens": 99,
                    "service_tier": "auto",
                    "messages": ({"role": "user", "content": "raw"},),
                }
            )
        ],
    )
    body = build_body(request)
    assert body["output_config"] == {
        "format": {"type": "json_schema", "schema": CITY_SCHEMA},
        "effort": "high",
    }
    assert body["max_tokens"] == 99
    assert body["service_tier"] == "auto"
    assert body["messages"] == [{"role": "user", "content": "raw"}]


@pytest.mark.parametrize(("effort", "budget"), [(None, 4096), *THINKING_BUDGETS.items()])
def test_thinking_budget_from_effort(effort: Any, budget: int) -> None:
    body = build_body(attrs.evolve(HI, reasoning="raw", reasoning_effort=effort))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == budget + DEFAULT_MAX_TOKENS


def test_thinking_budget_rules() -> None:
    extras = [AnthropicExtras(thinking_budget=2000)]
    request = attrs.evolve(HI, reasoning="summary", reasoning_effort="high", extras=extras)
    body = build_body(request, default_max_tokens=500)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 2500
    assert build_body(attrs.evolve(request, max_tokens=2001))["max_tokens"] == 2001
    with pytest.raises(RequestError, match=r"max_tokens.*2000"):
        build_body(attrs.evolve(request, max_tokens=2000))
    # Reasoning off: neither budget nor effort is sent.
    body = build_body(attrs.evolve(request, reasoning="none"))
    assert "thinking" not in body
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS


def test_thinking_refuses_what_the_api_forbids() -> None:
    request = ModelRequest(
        messages=[Message.user("q")], tools=[ToolSpec(name="a")], reasoning="raw"
    )
    assert build_body(attrs.evolve(request, temperature=1))["temperature"] == 1
    with pytest.raises(RequestError, match="temperature"):
        build_body(attrs.evolve(request, temperature=0.5))
    for forced in ("required", "a"):
        with pytest.raises(RequestError, match="tool_choice"):
            build_body(attrs.evolve(request, tool_choice=forced))
    assert build_body(attrs.evolve(request, tool_choice="auto"))["tool_choice"] == {"type": "auto"}


async def test_long_thinking_call_is_made_as_a_stream() -> None:
    """P-17 with the adapter's own max_tokens: budget + default above the long-call limit."""
    data = fixture_bytes("stream-text-with-ping", terminate=True)
    server = Server(sse_reply(data))
    adapter = make_adapter(server)
    request = attrs.evolve(HI, reasoning="raw", extras=[AnthropicExtras(thinking_budget=30_000)])
    result = await adapter.complete(request)
    assert result.text == "Hello there!"
    (body,) = server.bodies
    assert body["stream"] is True
    assert body["max_tokens"] == 30_000 + DEFAULT_MAX_TOKENS
    # Below the limit it stays a plain call.
    server = Server(json_reply(_body("nonstream-text-with-system")))
    await make_adapter(server).complete(attrs.evolve(HI, reasoning="raw"))
    assert server.bodies[0]["stream"] is False


def test_parser_message_delta_without_stop_reason_keeps_none() -> None:
    parser, out = feed_all(START, {"type": "message_delta", "delta": {}, "usage": {}})
    assert out == [UsageUpdate(usage=Usage())]
    assert parser.partial().raw_finish_reason is None
    assert parser.partial().finish_reason == "stop"


async def test_complete_refuses_what_is_not_a_request() -> None:
    server = Server()
    with pytest.raises(TypeError, match="ModelRequest"):
        await make_adapter(server).complete("hi")  # type: ignore[arg-type]
    assert server.requests == []
