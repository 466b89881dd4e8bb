"""The OpenAI Chat adapter: every recorded fixture replayed, the dialects, the request body."""

from __future__ import annotations

import functools
import itertools
import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.adapters.errors import (
    AuthenticationError,
    BadRequest,
    ContextLengthExceeded,
    NotFound,
    ProviderError,
    ProviderProtocolError,
    QuotaExceeded,
    RateLimited,
    StreamInterrupted,
)
from actrio.adapters.openai_chat import (
    DIALECTS,
    ChatDialect,
    OpenAIChat,
    OpenAIChatStreamParser,
    infer_dialect,
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
    ReasoningDelta,
    RequestError,
    StreamEvent,
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
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

# ---------------------------------------------------------------- fixtures and a mock server


FIXTURES = PROVIDER_FIXTURES / "openai-chat"


def fixture(name: str) -> Path:
    return FIXTURES / name


def load(name: str) -> Any:
    return json.loads(fixture(name).read_bytes())


def meta(name: str) -> dict[str, Any] | None:
    """The ``.response-meta.json`` of the exchange ``name`` belongs to, if recorded."""
    stem = name.split(".", maxsplit=1)[0]
    path = fixture(f"{stem}.response-meta.json")
    return json.loads(path.read_bytes()) if path.exists() else None


_DROPPED = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def meta_headers(name: str) -> dict[str, str]:
    """The recorded response headers (bodies are stored decoded: length/encoding dropped)."""
    recorded = meta(name)
    if recorded is None:
        return {}
    return {
        k: ", ".join(v) if isinstance(v, list) else v
        for k, v in recorded["headers"].items()
        if k.lower() not in _DROPPED
    }


def payloads(name: str) -> list[dict[str, Any]]:
    """The JSON payloads of a fixture stream, read line by line (independently of the adapter)."""
    lines = fixture(name).read_text().splitlines()
    return [
        json.loads(line[5:])
        for line in lines
        if line.startswith("data:") and line[5:].strip() != "[DONE]"
    ]


def joined_reasoning(name: str) -> str:
    text = []
    for payload in payloads(name):
        for choice in payload.get("choices", []):
            delta = choice.get("delta", {})
            text.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
    return "".join(text)


class ChunkedBody(httpx.AsyncByteStream):
    """A response body delivered in the given network reads (iterable again and again).

    Its iterators are plain objects, not async generators: one abandoned
    half-way would be left to the garbage collector, which trio reports.
    """

    def __init__(self, chunks: Sequence[bytes]) -> None:
        self._chunks = list(chunks)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _Reads(self._chunks)

    async def aclose(self) -> None:
        pass


class _Reads:
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)

    def __aiter__(self) -> _Reads:
        return self

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        for chunk in self._chunks:
            return chunk
        raise StopAsyncIteration


# A stream that fails mid-read leaves httpx's own nested async generators
# (Response.aiter_raw, BoundAsyncStream.__aiter__) to the garbage collector,
# and trio warns: shared _base.ModelStream closes only the outer aiter_bytes
# (encode/httpx#3686; the strict xfail tests of test_adapter_anthropic.py and
# test_adapter_gemini.py show it).
HTTPX_GENERATORS = pytest.mark.filterwarnings(r"ignore:Async generator 'httpx\.:ResourceWarning")


def split_at(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    points = sorted({0, len(data), *cuts})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def by_event(data: bytes) -> list[bytes]:
    """One network read per SSE event (so deltas are delivered before a later error)."""
    return [part + b"\n\n" for part in data.split(b"\n\n") if part]


@attrs.define
class Server:
    """Serves canned responses in order (the last one repeats); records the requests."""

    responses: list[httpx.Response]
    requests: list[httpx.Request] = attrs.field(factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        canned = self.responses[min(len(self.requests), len(self.responses)) - 1]
        # A fresh response each time (the canned bodies can be iterated again).
        return httpx.Response(canned.status_code, headers=canned.headers, stream=canned.stream)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))

    def body(self, i: int = -1) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[i].content)
        return body


def sse_response(chunks: Sequence[bytes], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        200,
        headers={**(headers or {}), "content-type": "text/event-stream; charset=utf-8"},
        stream=ChunkedBody(chunks),
    )


def json_response(
    body: bytes | dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status, headers={"content-type": "application/json", **(headers or {})}, content=content
    )


NO_RETRY = RetryPolicy(max_retries=0)
HELLO = ModelRequest(messages=[Message.user("hi")])


def adapter_for(client: httpx.AsyncClient, **options: Any) -> OpenAIChat:
    options.setdefault("api_key", "sk-test")
    options.setdefault("retry", NO_RETRY)
    return OpenAIChat(options.pop("model", "test-model"), http_client=client, **options)


async def run_stream(
    server: Server, request: ModelRequest = HELLO, **options: Any
) -> tuple[list[StreamEvent], ModelResponse]:
    async with server.client() as client:
        adapter = adapter_for(client, **options)
        async with adapter.stream(request) as events:
            collected = [event async for event in events]
        assert events.response is not None
        return collected, events.response


async def run_complete(server: Server, request: ModelRequest = HELLO, **options: Any) -> Any:
    async with server.client() as client:
        return await adapter_for(client, **options).complete(request)


# ---------------------------------------------------------------- what each fixture must give


@attrs.frozen(kw_only=True)
class Expect:
    """The normalised answer a fixture must produce."""

    text: str = ""
    reasoning: str | None = None  # the reasoning text; None: read from the fixture itself
    calls: tuple[tuple[str, str, dict[str, Any]], ...] = ()
    usage: Usage = attrs.field(factory=Usage)
    finish: str = "stop"
    raw: str | None = "stop"
    kinds: tuple[str, ...] = ("text",)
    model: str | None = None
    request_id: str | None = None


def _call(id: str, name: str, **arguments: Any) -> tuple[str, str, dict[str, Any]]:
    return (id, name, arguments)


ANSWERS_54 = {
    "answers": [
        {"label": "Capital", "answer": "The capital of Mexico is Mexico City."},
        {"label": "Weather", "answer": "The weather in Mexico City is currently sunny."},
        {"label": "Product Name", "answer": "The product name is Pydantic AI."},
    ]
}

TOOLS = ("tool_call",)

STREAMS: dict[str, Expect] = {
    "deepseek-stream-reasoning-content.sse": Expect(
        text="Hello there! 😊 How can I help you today?",
        usage=Usage(input_tokens=6, output_tokens=212, reasoning_tokens=198),
        kinds=("reasoning", "text"),
        model="deepseek-reasoner",
    ),
    "groq-style-stream-tool-args-in-first-chunk.sse": Expect(
        calls=(_call("call_O17Uplv4lJvD6DVdIvFFeRMw", "test-tool", value="Sparkle Day"),),
        usage=Usage(input_tokens=18, output_tokens=439),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
    ),
    "openrouter-kimi-stream-tool-call-name-then-args-leading-space-line.sse": Expect(
        calls=(_call("llm_version:0", "llm_version"),),
        usage=Usage(input_tokens=56, output_tokens=12),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
        model="moonshotai/kimi-k2",
    ),
    # No finish_reason at all: the call makes it tool_calls.
    "openrouter-kimi-stream-tool-call-repeated-id-name.sse": Expect(
        calls=(_call("0", "llm_version"),),
        usage=Usage(input_tokens=57, output_tokens=17),
        finish="tool_calls",
        raw=None,
        kinds=TOOLS,
    ),
    "openrouter-stream-tool-call-arguments-null.sse": Expect(
        calls=(_call("0", "llm_version"),),
        usage=Usage(input_tokens=57, output_tokens=17),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
    ),
    "stream-finish-reason-length.sse": Expect(
        text='{"', usage=Usage(input_tokens=79, output_tokens=1), finish="length", raw="length"
    ),
    "stream-parallel-tool-calls-empty-args.sse": Expect(
        calls=(
            _call("call_q2UyBRP7eXNTzAoR8lEhjc9Z", "get_country"),
            _call("call_b51ijcpFkDiTQG1bQzsrmtW5", "get_product_name"),
        ),
        usage=Usage(input_tokens=364, output_tokens=40),
        finish="tool_calls",
        raw="tool_calls",
        kinds=("tool_call", "tool_call"),
    ),
    "stream-parallel-tool-calls-split-args.sse": Expect(
        calls=(
            _call(
                "call_JMW1whyEaYG438VE1OIflxA2",
                "GetWeatherArgs",
                city="Edinburgh",
                country="GB",
                units="c",
            ),
            _call(
                "call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price", ticker="AAPL", exchange="NASDAQ"
            ),
        ),
        usage=Usage(input_tokens=149, output_tokens=60),
        finish="tool_calls",
        raw="tool_calls",
        kinds=("tool_call", "tool_call"),
    ),
    "stream-refusal-json-schema.sse": Expect(
        text="I'm sorry, I can't assist with that request.",
        usage=Usage(input_tokens=79, output_tokens=11),
        finish="refusal",
        raw="stop",
    ),
    "stream-structured-output-json-schema.sse": Expect(
        text='{"city":"San Francisco","temperature":61,"units":"f"}',
        usage=Usage(input_tokens=79, output_tokens=14),
    ),
    "stream-text-include-usage.sse": Expect(
        text="The capital of the UK is London.",
        usage=Usage(input_tokens=78, output_tokens=9),
        model="gpt-4o-mini-2024-07-18",
    ),
    "stream-tool-call-54-arg-deltas.sse": Expect(
        calls=(("call_CCGIWaMeYWmxOQ91orkmTvzn", "final_result", ANSWERS_54),),
        usage=Usage(input_tokens=448, output_tokens=62),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
    ),
    "stream-tool-call-short-include-usage.sse": Expect(
        calls=(_call("call_ZR5UUuTt3pf61kjwAJIYdVMj", "get_capital", country="UK"),),
        usage=Usage(input_tokens=53, output_tokens=15),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
    ),
    "stream-tool-call-strict.sse": Expect(
        calls=(
            _call("call_CTf1nWJLqSeRgDqaCG27xZ74", "get_weather", city="San Francisco", state="CA"),
        ),
        usage=Usage(input_tokens=48, output_tokens=19),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
    ),
    "stream-tool-call-with-ratelimit-headers.sse": Expect(
        calls=(_call("call_1EYWDzueHEp8OsB8jJSEp7WB", "multiply", a=1231, b=2331),),
        usage=Usage(input_tokens=54, output_tokens=20),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
        request_id="req_c3e995e7a86953713a6dc1b17e399fd5",
    ),
    # usage on every chunk, a name-only header delta, an extra `arguments: ""` on the finish chunk
    "vllm-style-stream-tool-call-continuous-usage.sse": Expect(
        calls=(
            _call(
                "chatcmpl-tool-b3b307239370432d9910d4b79b4dbbaa",
                "searchGoogle",
                query="latest news on ai",
            ),
        ),
        usage=Usage(input_tokens=226, output_tokens=20),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
    ),
}

# Streams that reach EOF without a dispatched `data: [DONE]`, and the bytes that complete them.
TERMINATED: dict[str, tuple[bytes, Expect]] = {
    # Ends with "data: [DONE]\n": the sentinel is never dispatched (fact 9).
    "anthropic-compat-stream-tool-index-starts-at-1.sse": (
        b"\n",
        Expect(
            text="Reading it.",
            calls=(_call("toolu_sanitized", "read_file", path="a.txt"),),
            finish="tool_calls",
            raw="tool_calls",
            kinds=("text", "tool_call"),
        ),
    ),
    "deepseek-stream-reasoning-then-tool-call.converted.sse": (
        b"data: [DONE]\n\n",
        Expect(
            calls=(_call("call_00_ioIn7yN9p1ZOMNpDLwd4MgAF", "weather", location="San Francisco"),),
            usage=Usage(
                input_tokens=339, output_tokens=83, cached_input_tokens=320, reasoning_tokens=39
            ),
            finish="tool_calls",
            raw="tool_calls",
            kinds=("reasoning", "tool_call"),
        ),
    ),
    # xAI leaves the 227 reasoning tokens out of completion_tokens (26): output is 253.
    "xai-stream-reasoning-content-tool-call.converted.sse": (
        b"data: [DONE]\n\n",
        Expect(
            calls=(_call("call_79382389", "weather", location="San Francisco"),),
            usage=Usage(
                input_tokens=307, output_tokens=253, cached_input_tokens=306, reasoning_tokens=227
            ),
            finish="tool_calls",
            raw="tool_calls",
            kinds=("reasoning", "tool_call"),
            model="grok-3-mini",
        ),
    ),
}

# Streams that break with an error: (error class, code, partial reasoning, partial text).
BROKEN: dict[str, tuple[type[ProviderError], str | None, str]] = {
    "groq-stream-midstream-error-event.sse": (
        BadRequest,
        "tool_use_failed",
        "Tool call validation",
    ),
    "openrouter-stream-comments-and-inline-error.sse": (BadRequest, None, "Token limit reached"),
    "stream-n3-multiple-choices-json-schema.sse": (ProviderProtocolError, None, "n > 1"),
}


def check(response: ModelResponse, expect: Expect, name: str) -> None:
    expected_reasoning = expect.reasoning
    if expected_reasoning is None:
        expected_reasoning = joined_reasoning(name) if name.endswith(".sse") else ""
    assert response.text == expect.text
    assert response.reasoning_text == expected_reasoning
    assert all(p.provider == "openai-chat" and p.signature is None for p in response.reasoning)
    calls = [(c.id, c.name, dict(c.arguments)) for c in response.tool_calls]
    assert calls == list(expect.calls)
    assert all(c.executable for c in response.tool_calls)
    assert response.usage == expect.usage
    assert response.finish_reason == expect.finish
    assert response.raw_finish_reason == expect.raw
    assert tuple(p.kind for p in response.message.parts) == expect.kinds
    assert response.provider == "openai-chat"
    assert response.request_id == expect.request_id
    assert response.response_id
    if expect.model is not None:
        assert response.model == expect.model


def check_events(events: list[StreamEvent], response: ModelResponse) -> None:
    """The events tell the same story as the final response."""
    assert isinstance(events[-1], Finish)
    assert events[-1].response == response
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == response.text
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == (
        response.reasoning_text
    )
    assert [e.call for e in events if isinstance(e, ToolCallEnd)] == list(response.tool_calls)
    starts = [(e.id, e.name) for e in events if isinstance(e, ToolCallStart)]
    assert starts == [(c.id, c.name) for c in response.tool_calls]
    usages = [e.usage for e in events if isinstance(e, UsageUpdate)]
    assert (usages[-1] if usages else Usage()) == response.usage


# ---------------------------------------------------------------- every fixture is replayed


def test_every_fixture_is_replayed() -> None:
    sse = {p.name for p in FIXTURES.glob("*.sse")}
    assert sse == set(STREAMS) | set(TERMINATED) | set(BROKEN)
    bodies = {
        p.name
        for p in FIXTURES.glob("*.json")
        if ".request" not in p.name and "response-meta" not in p.name
    }
    assert bodies == set(NONSTREAM) | set(ERRORS)
    requests = {p.name for p in FIXTURES.glob("*.json") if ".request" in p.name}
    assert requests == set(REQUESTS)


@pytest.mark.parametrize("name", sorted(STREAMS))
@pytest.mark.parametrize("chunking", ["whole", "by-event", "7-bytes"])
async def test_stream_fixture(name: str, chunking: str) -> None:
    raw = fixture(name).read_bytes()
    chunks = {
        "whole": [raw],
        "by-event": by_event(raw),
        "7-bytes": [raw[i : i + 7] for i in range(0, len(raw), 7)],
    }[chunking]
    server = Server([sse_response(chunks, meta_headers(name))])
    events, response = await run_stream(server)
    check(response, STREAMS[name], name)
    check_events(events, response)


@pytest.mark.parametrize("name", sorted(TERMINATED))
async def test_stream_without_done_is_interrupted(name: str) -> None:
    raw = fixture(name).read_bytes()
    _, expect = TERMINATED[name]
    server = Server([sse_response([raw])])
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(server)
    assert isinstance(caught.value.cause, ProviderProtocolError)
    assert "terminal event" in str(caught.value)
    partial = caught.value.partial
    # Everything arrived (even the finish reason): only [DONE] is missing.
    check(partial, expect, name)


@pytest.mark.parametrize("name", sorted(TERMINATED))
async def test_stream_with_done_appended_succeeds(name: str) -> None:
    terminator, expect = TERMINATED[name]
    server = Server([sse_response([fixture(name).read_bytes() + terminator])])
    events, response = await run_stream(server)
    check(response, expect, name)
    check_events(events, response)


@HTTPX_GENERATORS
@pytest.mark.parametrize("name", sorted(BROKEN))
async def test_stream_breaking_with_an_error(name: str) -> None:
    cls, code, words = BROKEN[name]
    raw = fixture(name).read_bytes()
    # Delivered event by event, output arrives first: the error comes as an interruption.
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(Server([sse_response(by_event(raw))]))
    cause = caught.value.cause
    assert type(cause) is cls
    assert cause.code == code
    assert words in cause.message
    assert caught.value.partial.tool_calls == ()
    # Read in one piece, nothing was delivered yet, and there is no retry
    # left: the error still carries the output that came before it (P-07).
    with pytest.raises(StreamInterrupted) as whole:
        await run_stream(Server([sse_response([raw])]))
    assert type(whole.value.cause) is cls
    assert whole.value.cause.code == code
    assert whole.value.partial.message == caught.value.partial.message


@HTTPX_GENERATORS
async def test_groq_midstream_error_keeps_the_reasoning() -> None:
    name = "groq-stream-midstream-error-event.sse"
    raw = fixture(name).read_bytes()
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(Server([sse_response(by_event(raw))]))
    partial = caught.value.partial
    assert partial.reasoning_text == joined_reasoning(name)
    assert partial.reasoning_text.startswith("We need to call the tool")
    cause = caught.value.cause
    assert isinstance(cause, BadRequest)
    assert cause.status is None  # in-band: the HTTP status was 200


@HTTPX_GENERATORS
async def test_openrouter_inline_error_keeps_reasoning_and_usage() -> None:
    raw = fixture("openrouter-stream-comments-and-inline-error.sse").read_bytes()
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(Server([sse_response(by_event(raw))]))
    partial = caught.value.partial
    assert partial.reasoning_text == "We need to respond to a greeting. The user"
    assert partial.finish_reason == "length"
    assert partial.usage == Usage(input_tokens=43, output_tokens=10, reasoning_tokens=11)


@HTTPX_GENERATORS
async def test_n3_stream_is_refused_naming_n() -> None:
    raw = fixture("stream-n3-multiple-choices-json-schema.sse").read_bytes()
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(Server([sse_response(by_event(raw))]))
    assert "several choices (index 0 and 1)" in str(caught.value.cause)
    assert caught.value.partial.text == '{"'


# ---------------------------------------------------------------- split anywhere


def _good_stream(name: str) -> bytes:
    raw = fixture(name).read_bytes()
    return raw + TERMINATED[name][0] if name in TERMINATED else raw


async def _replay(name: str, chunks: list[bytes]) -> ModelResponse:
    _, response = await run_stream(Server([sse_response(chunks, meta_headers(name))]))
    return response


@functools.cache
def _whole(name: str) -> ModelResponse:
    return trio.run(_replay, name, [_good_stream(name)])


@pytest.mark.parametrize("name", sorted({*STREAMS, *TERMINATED}))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_split_anywhere_gives_the_same_response(name: str, data: st.DataObject) -> None:
    raw = _good_stream(name)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=24), label="cuts")
    assert trio.run(_replay, name, split_at(raw, cuts)) == _whole(name)


# ---------------------------------------------------------------- non-streaming bodies

FROM_FIXTURE = "<the fixture's own content>"

NONSTREAM: dict[str, Expect] = {
    "nonstream-text.json": Expect(
        text="The capital of France is Paris.",
        usage=Usage(input_tokens=24, output_tokens=8),
        model="gpt-4o-2024-08-06",
    ),
    "nonstream-tool-call.json": Expect(
        calls=(_call("call_SkEQ3ZGSJC8m6AvaIGNuuKdm", "get_capital", country="England"),),
        usage=Usage(input_tokens=104, output_tokens=16),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
    ),
    "nonstream-tool-call-pretty-printed-raw.json": Expect(
        calls=(_call("call_TTY8UFNo7rNCaOBUNtlRSvMG", "lookup_population", country="Crumpet"),),
        usage=Usage(input_tokens=92, output_tokens=17),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
        request_id="req_1e7dabaf1f0dba1ec89a134d3bde8476",
    ),
    "structured-output-json-schema-nonstream.json": Expect(
        text='{"city":"Mexico City","country":"Mexico"}',
        usage=Usage(input_tokens=92, output_tokens=15),
    ),
    "deepseek-nonstream-reasoning-content.json": Expect(
        text=FROM_FIXTURE,
        usage=Usage(input_tokens=12, output_tokens=789, reasoning_tokens=415),
        kinds=("reasoning", "text"),
    ),
    # `content: ""` makes no text part; `index` inside a non-stream call is ignored.
    "deepseek-nonstream-reasoning-tool-call.json": Expect(
        calls=(_call("call_00_9V0vrf86Pc9aelHCJMZqnJBo", "weather", location="San Francisco"),),
        usage=Usage(
            input_tokens=339, output_tokens=92, cached_input_tokens=320, reasoning_tokens=48
        ),
        finish="tool_calls",
        raw="tool_calls",
        kinds=("reasoning", "tool_call"),
    ),
    # Empty tool id synthesized; total 109 > 35 + 12: 62 unreported thinking tokens.
    "gemini-openai-compat-nonstream-tool-call.json": Expect(
        calls=(_call("call_0_3SE-aKjdCcCEz7IPxpqjCA", "get_current_time"),),
        usage=Usage(input_tokens=35, output_tokens=74, reasoning_tokens=62),
        finish="tool_calls",
        raw="tool_calls",
        kinds=TOOLS,
    ),
    "ollama-nonstream-tool-call-with-reasoning.json": Expect(
        calls=(_call("call_o2vnpxrw", "final_result", city="Paris", country="France"),),
        usage=Usage(input_tokens=206, output_tokens=194),
        finish="tool_calls",
        raw="tool_calls",
        kinds=("reasoning", "tool_call"),
    ),
    "ollama-structured-output-json-schema-reasoning.json": Expect(
        text='{ "city": "Paris", "country": "France" }',
        usage=Usage(input_tokens=136, output_tokens=15),
        kinds=("reasoning", "text"),
        model="qwen3:0.6b",
    ),
}


@pytest.mark.parametrize("name", sorted(NONSTREAM))
async def test_nonstream_fixture(name: str) -> None:
    body = load(name)
    message = body["choices"][0]["message"]
    expect = NONSTREAM[name]
    expect = attrs.evolve(
        expect,
        text=message["content"] if expect.text == FROM_FIXTURE else expect.text,
        reasoning=message.get("reasoning_content") or message.get("reasoning") or "",
    )
    server = Server([json_response(fixture(name).read_bytes(), headers=meta_headers(name))])
    response = await run_complete(server)
    check(response, expect, name)
    assert response.response_id == body["id"]
    assert response.attempts == 1


async def test_gemini_thought_signature_is_kept_byte_exact() -> None:
    name = "gemini-openai-compat-nonstream-tool-call.json"
    server = Server([json_response(fixture(name).read_bytes())])
    response = await run_complete(server, base_url="https://example.test/v1")
    expected = load(name)["choices"][0]["message"]["extra_content"]["google"]["thought_signature"]
    assert response.tool_calls[0].signature == expected


# ---------------------------------------------------------------- error bodies

ERRORS: dict[str, tuple[int, type[ProviderError], str | None]] = {
    "error-400-context-length-exceeded.json": (
        400,
        ContextLengthExceeded,
        "context_length_exceeded",
    ),
    "error-400-context-length-exceeded-compact.json": (
        400,
        ContextLengthExceeded,
        "context_length_exceeded",
    ),
    "error-404-model-not-found.json": (404, NotFound, "model_not_found"),
    "error-429-rate-limit-requests.json": (429, RateLimited, "rate_limit_exceeded"),
    "error-429-request-too-large-tokens.transcribed.json": (
        429,
        QuotaExceeded,
        "rate_limit_exceeded",
    ),
    "groq-error-400-tool-use-failed.json": (400, BadRequest, "tool_use_failed"),
    # OpenRouter's integer code is a status echo, not a code name.
    "openrouter-error-429.json": (429, RateLimited, None),
}


def error_response(name: str) -> httpx.Response:
    status, _, _ = ERRORS[name]
    recorded = meta(name)
    if recorded is not None:
        assert recorded["status"]["code"] == status
    headers = {"x-request-id": "req_fixture", **meta_headers(name)}
    return json_response(fixture(name).read_bytes(), status, headers)


@pytest.mark.parametrize("name", sorted(ERRORS))
@pytest.mark.parametrize("streaming", [False, True], ids=["complete", "stream"])
async def test_error_fixture(name: str, streaming: bool) -> None:
    status, cls, code = ERRORS[name]
    server = Server([error_response(name)])
    call = run_stream if streaming else run_complete
    with pytest.raises(ProviderError) as caught:
        await call(server)
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code, error.request_id) == (status, code, "req_fixture")
    assert error.provider == "openai-chat"
    assert " ".join(load(name)["error"]["message"].split())[:200] in error.message
    assert "sk-test" not in repr(error)
    assert len(server.requests) == 1


async def test_rate_limit_wait_comes_from_the_body_and_is_honoured(
    autojump_clock: trio.testing.MockClock,
) -> None:
    name = "error-429-rate-limit-requests.json"
    ok = json_response(fixture("nonstream-text.json").read_bytes())
    server = Server([error_response(name), ok])
    start = trio.current_time()
    response = await run_complete(server, retry=RetryPolicy(max_retries=2))
    assert trio.current_time() - start == pytest.approx(20.0)  # "Please try again in 20s"
    assert response.attempts == 2
    assert [r.headers.get("x-actrio-retry-count") for r in server.requests] == [None, "1"]


async def test_request_too_large_is_not_retried() -> None:
    server = Server([error_response("error-429-request-too-large-tokens.transcribed.json")])
    with pytest.raises(QuotaExceeded) as caught:
        await run_complete(server, retry=RetryPolicy(max_retries=3))
    assert caught.value.retryable is False
    assert len(server.requests) == 1


# ---------------------------------------------------------------- recorded request bodies


def fixture_request(data: dict[str, Any]) -> ModelRequest:
    """The neutral request equivalent to a recorded Chat Completions body (test-side reader)."""
    messages: list[Message] = []
    for m in data["messages"]:
        if m["role"] == "system":
            messages.append(Message.system(m["content"]))
        elif m["role"] == "user":
            messages.append(Message.user(m["content"]))
        elif m["role"] == "tool":
            messages.append(Message.tool(m["tool_call_id"], m["content"]))
        else:
            parts: list[Any] = []
            if reasoning := m.get("reasoning") or m.get("reasoning_content"):
                parts.append(ReasoningPart(text=reasoning, provider="openai-chat"))
            if m.get("content"):
                parts.append(TextPart(text=m["content"]))
            parts.extend(
                ToolCallPart(
                    id=c["id"],
                    name=c["function"]["name"],
                    arguments=json.loads(c["function"]["arguments"]),
                )
                for c in m.get("tool_calls", [])
            )
            messages.append(Message.assistant(parts))
    tools = [
        ToolSpec(
            name=f["name"],
            description=f.get("description", ""),
            parameters=f["parameters"],
            strict=f.get("strict", False),
        )
        for f in (t["function"] for t in data.get("tools", []))
    ]
    choice = data.get("tool_choice")
    if isinstance(choice, dict):
        choice = choice["function"]["name"]
    output = None
    if fmt := data.get("response_format"):
        schema = fmt["json_schema"]
        output = OutputSchema(
            name=schema["name"], schema=schema["schema"], strict=schema.get("strict", False)
        )
    return ModelRequest(
        messages=messages,
        tools=tools,
        tool_choice=choice,
        output=output,
        temperature=data.get("temperature"),
        max_tokens=data.get("max_tokens") or data.get("max_completion_tokens"),
        extras=[OpenAIChatExtras(n=data["n"])] if "n" in data else [],
    )


def shape(body: dict[str, Any]) -> dict[str, Any]:
    """The parts of a body that matter, with equivalent spellings made equal."""

    def message(m: dict[str, Any]) -> dict[str, Any]:
        return {
            "role": m["role"],
            "content": m.get("content"),
            "name": m.get("name"),
            "tool_call_id": m.get("tool_call_id"),
            "reasoning": m.get("reasoning") or m.get("reasoning_content"),
            "tool_calls": [
                (c["id"], c["type"], c["function"]["name"], json.loads(c["function"]["arguments"]))
                for c in m.get("tool_calls", [])
            ],
        }

    def tool(t: dict[str, Any]) -> tuple[Any, ...]:
        f = t["function"]
        return (
            t["type"],
            f["name"],
            f.get("description", ""),
            f["parameters"],
            f.get("strict", False),
        )

    fmt = body.get("response_format")
    return {
        "model": body["model"],
        "messages": [message(m) for m in body["messages"]],
        "tools": [tool(t) for t in body.get("tools", [])],
        "tool_choice": body.get("tool_choice"),
        "response_format": fmt
        and {
            "type": fmt["type"],
            "name": fmt["json_schema"]["name"],
            "schema": fmt["json_schema"]["schema"],
            "strict": fmt["json_schema"].get("strict", False),
        },
        "max_tokens": body.get("max_tokens", body.get("max_completion_tokens")),
        "temperature": body.get("temperature"),
        "stream": body.get("stream", False),
        "stream_options": body.get("stream_options"),
        "n": body.get("n"),
    }


REQUESTS = sorted(
    p.name for p in (FIXTURES.glob("*.request*.json") if FIXTURES else []) if p.is_file()
)

CANNED_JSON = {
    "id": "chatcmpl-x",
    "choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}],
}
CANNED_SSE = b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("name", REQUESTS)
async def test_request_fixture_body_has_the_recorded_shape(name: str) -> None:
    data = load(name)
    recorded = meta(name)
    uri = recorded["request"]["uri"] if recorded else "https://api.openai.com/v1/chat/completions"
    base_url = uri.removesuffix("/chat/completions")
    stream = data.get("stream", False)
    server = Server([sse_response([CANNED_SSE]) if stream else json_response(CANNED_JSON)])
    request = fixture_request(data)
    async with server.client() as client:
        adapter = adapter_for(client, base_url=base_url, model=data["model"])
        assert adapter.dialect.name == (infer_dialect(base_url) or "openai")
        if stream:
            async with adapter.stream(request) as events:
                async for _ in events:
                    pass
        else:
            await adapter.complete(request)
    sent = server.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == uri
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert shape(server.body()) == shape(data)


# ---------------------------------------------------------------- dialects and keys


@pytest.mark.parametrize(
    ("url", "dialect"),
    [
        ("https://api.openai.com/v1", "openai"),
        ("https://api.deepseek.com", "deepseek"),
        ("https://api.x.ai/v1", "xai"),
        ("https://api.groq.com/openai/v1", "groq"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("https://generativelanguage.googleapis.com/v1beta/openai", "gemini-openai"),
        ("https://ollama.com/v1", "ollama"),
        ("http://localhost:11434/v1", "ollama"),
        ("http://127.0.0.1:11434/v1", "ollama"),
        ("http://localhost:8000/v1", None),
        ("https://my-vllm.internal/v1", None),
        ("http://host:99999/v1", None),
        ("https://API.OpenAI.com/v1", "openai"),
    ],
)
def test_infer_dialect(url: str, dialect: str | None) -> None:
    assert infer_dialect(url) == dialect


def test_public_names() -> None:
    import actrio.adapters.openai_chat as module  # noqa: PLC0415 - the module object itself

    assert list(module.__all__) == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


@pytest.mark.parametrize(
    ("spec", "dialect", "needs_key"),
    [
        ("openai:gpt-4.1", "openai", True),
        ("deepseek:deepseek-reasoner", "deepseek", True),
        ("xai:grok-3-mini", "xai", True),
        ("groq:openai/gpt-oss-120b", "groq", True),
        ("openrouter:openai/gpt-4o", "openrouter", True),
        ("ollama:llama3.2", "ollama", False),
    ],
)
def test_model_strings_reach_the_right_dialect(spec: str, dialect: str, needs_key: bool) -> None:
    from actrio.adapters.router import from_model_string  # noqa: PLC0415 - integration only

    adapter = from_model_string(spec, api_key="k")
    assert isinstance(adapter, OpenAIChat)
    assert (adapter.dialect.name, adapter.needs_key) == (dialect, needs_key)


def test_every_preset_is_named_by_its_key() -> None:
    assert set(DIALECTS) >= {
        "openai",
        "deepseek",
        "xai",
        "ollama",
        "groq",
        "vllm",
        "llamacpp",
        "openrouter",
        "gemini-openai",
    }
    assert all(d.name == name for name, d in DIALECTS.items())


def test_dialect_choice() -> None:
    assert OpenAIChat("m").dialect is DIALECTS["openai"]
    custom = OpenAIChat("m", base_url="http://gpu-box:8000/v1")
    assert custom.dialect.name == "openai"
    assert custom.dialect.max_tokens_field == "max_tokens"  # unknown host: the common name
    explicit = OpenAIChat("m", base_url="http://proxy/v1", dialect="openai")
    assert explicit.dialect.max_tokens_field == "max_completion_tokens"
    assert OpenAIChat("m", base_url="http://x/v1", dialect="vllm").dialect is DIALECTS["vllm"]
    mine = ChatDialect(name="mine", stream_usage=False)
    assert OpenAIChat("m", dialect=mine).dialect is mine
    with pytest.raises(ValueError, match="unknown dialect 'nope'"):
        OpenAIChat("m", dialect="nope")


def test_repr_names_the_dialect_and_hides_secrets() -> None:
    adapter = OpenAIChat("m", base_url="https://u:pw@openrouter.ai/api/v1", api_key="sk-secret")
    text = repr(adapter)
    assert "dialect='openrouter'" in text
    assert "sk-secret" not in text
    assert "pw" not in text


def test_only_official_hosts_need_a_key() -> None:
    assert OpenAIChat("m").needs_key
    assert OpenAIChat("m", base_url="https://api.deepseek.com").needs_key
    assert not OpenAIChat("m", base_url="http://localhost:11434/v1").needs_key
    assert not OpenAIChat("m", base_url="http://gpu-box:8000/v1").needs_key


async def test_keys_follow_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek")
    server = Server([json_response(CANNED_JSON)])
    async with server.client() as client:
        for base_url in (
            "https://api.openai.com/v1",
            "https://api.deepseek.com",
            "http://gpu-box:8000/v1",
        ):
            await OpenAIChat("m", base_url=base_url, http_client=client).complete(HELLO)
        await OpenAIChat(
            "m", base_url="http://gpu-box:8000/v1", api_key="sk-mine", http_client=client
        ).complete(HELLO)
    auth = [r.headers.get("authorization") for r in server.requests]
    # An OPENAI_API_KEY in the environment never goes to a local server.
    assert auth == ["Bearer sk-openai", "Bearer sk-deepseek", None, "Bearer sk-mine"]
    assert [r.url.path for r in server.requests] == [
        "/v1/chat/completions",
        "/chat/completions",
        "/v1/chat/completions",
        "/v1/chat/completions",
    ]


async def test_missing_key_for_an_official_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XAI_API_KEY", raising=False)
    server = Server([json_response(CANNED_JSON)])
    with pytest.raises(AuthenticationError, match="XAI_API_KEY"):
        await run_complete(server, base_url="https://api.x.ai/v1", api_key=None)
    assert server.requests == []


# ---------------------------------------------------------------- request building


def body_for(request: ModelRequest, *, stream: bool = False, **options: Any) -> dict[str, Any]:
    adapter = OpenAIChat(options.pop("model", "m"), api_key="k", **options)
    return adapter._body(request, stream=stream)


def test_minimal_body() -> None:
    assert body_for(HELLO) == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
    }
    streamed = body_for(HELLO, stream=True)
    assert streamed["stream"] is True
    assert streamed["stream_options"] == {"include_usage": True}


def test_groq_gets_no_stream_options() -> None:
    body = body_for(HELLO, stream=True, dialect="groq")
    assert body["stream"] is True
    assert "stream_options" not in body


def test_messages_of_every_kind() -> None:
    request = ModelRequest(
        messages=[
            Message.system("Be terse."),
            Message(role="user", parts=("What is this?",), name="ann"),
            Message.user(
                [
                    "Look:",
                    ImagePart(url="https://example.test/cat.png"),
                    ImagePart(data=b"\x89PNG", media_type="image/png"),
                ]
            ),
            Message.assistant(
                [
                    ReasoningPart(text="hmm", provider="anthropic", signature="sig"),
                    "Calling.",
                    ToolCallPart(id="c1", name="look", arguments={"q": 1}),
                    ToolCallPart(id="c2", name="bad", raw_arguments='{"x":', complete=False),
                ]
            ),
            Message.tool("c1", "found"),
            Message.tool("c2", "boom", is_error=True),
            Message.assistant(),
        ]
    )
    assert body_for(request)["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "What is this?", "name": "ann"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": "https://example.test/cat.png"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
            ],
        },
        {
            "role": "assistant",
            "content": "Calling.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "look", "arguments": '{"q":1}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "bad", "arguments": '{"x":'}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "found"},
        {"role": "tool", "tool_call_id": "c2", "content": "Error: boom"},
        {"role": "assistant", "content": ""},
    ]


def test_deepseek_refuses_images() -> None:
    request = ModelRequest(messages=[Message.user(["hi", ImagePart(url="https://x.test/a.png")])])
    with pytest.raises(RequestError, match=r"messages\[0\]\.parts\[1\].*deepseek.*no images"):
        body_for(request, dialect="deepseek")


def _reasoning_history() -> ModelRequest:
    call = ToolCallPart(id="c1", name="look")
    return ModelRequest(
        messages=[
            Message.user("q"),
            Message.assistant([ReasoningPart(text="think 1", provider="openai-chat"), call]),
            Message.tool("c1", "r"),
            Message.assistant(
                [
                    ReasoningPart(text="think 2", provider="openai-chat"),
                    ReasoningPart(text="theirs", provider="anthropic", signature="s"),
                    "answer",
                ]
            ),
            Message.user("again"),
        ]
    )


@pytest.mark.parametrize(
    ("dialect", "field", "first", "second"),
    [
        ("openai", None, None, None),
        ("xai", None, None, None),
        # DeepSeek: required on tool-call turns, rejected or ignored on the others.
        ("deepseek", "reasoning_content", "think 1", None),
        ("ollama", "reasoning", "think 1", "think 2"),
    ],
)
def test_reasoning_echo_by_dialect(
    dialect: str, field: str | None, first: str | None, second: str | None
) -> None:
    messages = body_for(_reasoning_history(), dialect=dialect)["messages"]
    assistants = [m for m in messages if m["role"] == "assistant"]
    for m in assistants:
        assert {"reasoning", "reasoning_content"}.isdisjoint(set(m) - {field})
    if field is not None:
        assert assistants[0].get(field) == first
        assert assistants[1].get(field) == second
    assert "theirs" not in json.dumps(messages)


def test_thought_signatures_are_echoed_to_gemini_only() -> None:
    call = ToolCallPart(id="c1", name="look", signature="SIG+/=")
    request = ModelRequest(
        messages=[Message.user("q"), Message.assistant([call]), Message.tool("c1", "r")]
    )
    gemini = body_for(request, dialect="gemini-openai")["messages"][1]["tool_calls"][0]
    assert gemini["extra_content"] == {"google": {"thought_signature": "SIG+/="}}
    assert "extra_content" not in body_for(request)["messages"][1]["tool_calls"][0]


def _tool_request(choice: str | None) -> ModelRequest:
    return ModelRequest(
        messages=[Message.user("q")],
        tools=[
            ToolSpec(name="a", description="Tool A", strict=True),
            ToolSpec(
                name="b",
                parameters=MappingProxyType(
                    {"type": "object", "properties": {"x": {"enum": ("p", "q")}}}
                ),
            ),
        ],
        tool_choice=choice,
    )


def test_tools_and_tool_choice() -> None:
    body = body_for(_tool_request("auto"))
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "a",
                "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
                "description": "Tool A",
                "strict": True,
            },
        },
        {
            "type": "function",
            "function": {
                "name": "b",
                "parameters": {"type": "object", "properties": {"x": {"enum": ["p", "q"]}}},
            },
        },
    ]
    assert body["tool_choice"] == "auto"
    assert body_for(_tool_request("none"))["tool_choice"] == "none"
    assert body_for(_tool_request("required"))["tool_choice"] == "required"
    assert body_for(_tool_request("b"))["tool_choice"] == {
        "type": "function",
        "function": {"name": "b"},
    }
    assert "tool_choice" not in body_for(_tool_request(None))
    # A tool_choice without tools is not sent (OpenAI refuses it).
    bare = ModelRequest(messages=[Message.user("q")], tool_choice="auto")
    assert "tool_choice" not in body_for(bare)
    assert "tools" not in body_for(bare)


def test_llamacpp_named_tool_choice_becomes_required_with_that_tool() -> None:
    body = body_for(_tool_request("b"), dialect="llamacpp")
    assert body["tool_choice"] == "required"
    assert [t["function"]["name"] for t in body["tools"]] == ["b"]
    assert body_for(_tool_request("auto"), dialect="llamacpp")["tool_choice"] == "auto"


def test_structured_output_and_sampling() -> None:
    request = ModelRequest(
        messages=[Message.user("q")],
        output=OutputSchema(
            name="City", schema={"type": "object"}, strict=True, description="A city"
        ),
        temperature=0.2,
        max_tokens=50,
        stop=["END", "STOP"],
    )
    body = body_for(request)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "City",
            "schema": {"type": "object"},
            "strict": True,
            "description": "A city",
        },
    }
    assert body["temperature"] == 0.2
    assert body["stop"] == ["END", "STOP"]
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body
    local = body_for(request, base_url="http://gpu-box:8000/v1")
    assert local["max_tokens"] == 50
    assert "max_completion_tokens" not in local
    unstrict = attrs.evolve(request, output=OutputSchema(name="C", schema={"type": "object"}))
    assert "description" not in body_for(unstrict)["response_format"]["json_schema"]


@pytest.mark.parametrize(
    ("dialect", "effort", "expected"),
    [
        ("openai", "low", {"reasoning_effort": "low"}),
        ("deepseek", "high", {"reasoning_effort": "high"}),
        ("xai", "high", {"reasoning_effort": "high"}),
        ("openrouter", "medium", {"reasoning": {"effort": "medium"}}),
    ],
)
def test_reasoning_effort(dialect: str, effort: Any, expected: dict[str, Any]) -> None:
    body = body_for(
        ModelRequest(messages=[Message.user("q")], reasoning_effort=effort), dialect=dialect
    )
    assert {k: body[k] for k in expected} == expected
    plain = body_for(ModelRequest(messages=[Message.user("q")]), dialect=dialect)
    assert "reasoning_effort" not in plain
    assert "reasoning" not in plain


@pytest.mark.parametrize(("dialect", "effort"), [("xai", "medium"), ("llamacpp", "low")])
def test_reasoning_effort_a_dialect_cannot_express(dialect: str, effort: Any) -> None:
    request = ModelRequest(messages=[Message.user("q")], reasoning_effort=effort)
    with pytest.raises(RequestError, match=r"ModelRequest\.reasoning_effort"):
        body_for(request, dialect=dialect)


def test_extras_and_body_merged_last() -> None:
    extras = OpenAIChatExtras(
        seed=7,
        top_p=0.9,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        parallel_tool_calls=False,
        user="u1",
        service_tier="flex",
        n=1,
        body={"temperature": 0.5, "logit_bias": MappingProxyType({"42": -100})},
    )
    request = ModelRequest(
        messages=[Message.user("q")],
        temperature=1.0,
        extras=[extras, AnthropicExtras(top_k=3, body={"ignored": True})],
    )
    body = body_for(request)
    assert {k: body[k] for k in ("seed", "top_p", "presence_penalty", "frequency_penalty")} == {
        "seed": 7,
        "top_p": 0.9,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
    }
    assert (body["parallel_tool_calls"], body["user"], body["service_tier"], body["n"]) == (
        False,
        "u1",
        "flex",
        1,
    )
    assert body["temperature"] == 0.5  # extras.body wins
    assert body["logit_bias"] == {"42": -100}
    assert "ignored" not in body
    assert "top_k" not in body


def test_several_choices_cannot_be_asked_for() -> None:
    with pytest.raises(RequestError, match=r"OpenAIChatExtras\.n"):
        OpenAIChatExtras(n=3)
    request = ModelRequest(messages=[Message.user("q")], extras=[OpenAIChatExtras(body={"n": 2})])
    with pytest.raises(RequestError, match=r"OpenAIChatExtras\.body: n=2"):
        body_for(request)


# ---------------------------------------------------------------- the stream parser, case by case


def chunk(*choices: Any, **fields: Any) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps({"id": "r1", "choices": list(choices), **fields}))


def delta(finish: str | None = None, index: int = 0, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "finish_reason": finish}


def tc(
    index: int | None = None,
    id: str | None = None,
    name: str | None = None,
    args: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {**extra, "function": {}}
    if index is not None:
        out["index"] = index
    if id is not None:
        out["id"] = id
    if name is not None:
        out["function"]["name"] = name
    if args is not None:
        out["function"]["arguments"] = args
    return out


DONE = ServerSentEvent(data="[DONE]")


def feed(*events: ServerSentEvent) -> tuple[list[StreamEvent], OpenAIChatStreamParser]:
    parser = OpenAIChatStreamParser(model="asked-for")
    out: list[StreamEvent] = []
    for event in events:
        out.extend(parser.feed(event))
    return out, parser


def test_reasoning_content_wins_over_reasoning() -> None:
    events, parser = feed(
        chunk(delta(reasoning_content="A", reasoning="B")),
        chunk(delta(reasoning="C")),
        chunk(delta(content="done"), model="served"),
        DONE,
    )
    response = parser.response()
    assert response.reasoning_text == "AC"
    assert response.model == "served"
    assert response.response_id == "r1"
    assert [type(e) for e in events] == [ReasoningDelta, ReasoningDelta, TextDelta]


def test_ids_and_names_are_never_overwritten_or_concatenated() -> None:
    _, parser = feed(
        chunk(delta(tool_calls=[tc(0, "call_a", "get", "")])),
        chunk(delta(tool_calls=[tc(0, "", "", '{"x"')])),
        chunk(delta(tool_calls=[tc(0, "call_other", "other", ":1}")])),
        chunk(delta(tool_calls=[{"index": 0, "id": None, "type": None, "function": None}])),
        chunk(delta("tool_calls")),
        DONE,
    )
    (call,) = parser.response().tool_calls
    assert (call.id, call.name, call.arguments, call.executable) == (
        "call_a",
        "get",
        {"x": 1},
        True,
    )


def test_tool_index_need_not_start_at_zero_and_calls_interleave() -> None:
    _, parser = feed(
        chunk(delta(tool_calls=[tc(3, "c3", "a", '{"a"'), tc(5, "c5", "b", '{"b"')])),
        chunk(delta(tool_calls=[tc(5, args=":2}"), tc(3, args=":1}")])),
        chunk(delta("tool_calls")),
        DONE,
    )
    calls = parser.response().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("c3", "a", {"a": 1}),
        ("c5", "b", {"b": 2}),
    ]


def test_calls_without_index_are_told_apart_by_id_and_name() -> None:
    _, parser = feed(
        chunk(delta(tool_calls=[tc(None, "c1", "a", '{"n":')])),
        chunk(delta(tool_calls=[tc(None, None, None, "1}")])),
        chunk(delta(tool_calls=[tc(None, "c2", "b", "{}")])),
        chunk(delta(tool_calls=[tc(None, "c2", "b", "")])),
        chunk(delta(tool_calls=[tc(None, None, "c", "{}")])),
        DONE,
    )
    calls = parser.response().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("c1", "a", {"n": 1}),
        ("c2", "b", {}),
        ("call_2_r1", "c", {}),
    ]


def test_a_call_starts_when_its_name_arrives() -> None:
    events, parser = feed(
        chunk(delta(tool_calls=[tc(0, "c1", None, '{"a":')])),
        chunk(delta(tool_calls=[tc(0, None, "late", "1}")])),
        chunk(delta("tool_calls")),
        DONE,
    )
    assert [type(e) for e in events] == [ToolCallStart, ToolCallDelta, ToolCallEnd]
    (call,) = parser.response().tool_calls
    assert (call.id, call.name, call.arguments) == ("c1", "late", {"a": 1})


def test_a_call_that_never_gets_a_name_cannot_run() -> None:
    _, parser = feed(chunk(delta(tool_calls=[tc(0, "c1", None, "{}")])), chunk(delta("stop")), DONE)
    (call,) = parser.response().tool_calls
    assert call.name == ""
    assert not call.executable
    assert "never sent the tool's name" in (call.problem or "")


def test_whole_call_in_one_chunk_and_arguments_as_an_object() -> None:
    _, parser = feed(
        chunk(delta(tool_calls=[tc(0, "c1", "a", {"city": "Paris"})])),
        chunk(delta("tool_calls")),
        DONE,
    )
    assert parser.response().tool_calls[0].arguments == {"city": "Paris"}


def test_gemini_empty_ids_get_stable_unique_ids_and_keep_signatures() -> None:
    events = (
        chunk(
            delta(
                tool_calls=[
                    tc(0, "", "a", "{}", extra_content={"google": {"thought_signature": "S0"}}),
                    tc(1, "", "b", "{}"),
                ],
            )
        ),
        chunk(delta("tool_calls")),
        DONE,
    )
    _, parser = feed(*events)
    calls = parser.response().tool_calls
    assert [(c.id, c.signature) for c in calls] == [("call_0_r1", "S0"), ("call_1_r1", None)]
    _, again = feed(*events)
    assert again.response() == parser.response()
    # The signature may sit on the delta (as on the older message): it goes to the first call.
    _, parser = feed(
        chunk(
            delta(
                tool_calls=[tc(0, "", "a", "{}"), tc(1, "", "b", "{}")],
                extra_content={"google": {"thought_signature": "M"}},
            )
        ),
        DONE,
    )
    assert [c.signature for c in parser.response().tool_calls] == ["M", None]


def test_finish_twice_and_late_fragments_change_nothing() -> None:
    events, parser = feed(
        chunk(delta(tool_calls=[tc(0, "c1", "a", '{"x":1}')])),
        chunk(delta("tool_calls")),
        chunk(delta("tool_calls", tool_calls=[tc(0, args="")])),
        chunk(delta(tool_calls=[tc(0, args="garbage")])),
        DONE,
    )
    assert sum(isinstance(e, ToolCallEnd) for e in events) == 1
    (call,) = parser.response().tool_calls
    assert call.arguments == {"x": 1}


def test_length_while_a_call_is_open_cuts_it() -> None:
    _, parser = feed(
        chunk(delta(tool_calls=[tc(0, "c1", "a", '{"x": "abc')])),
        chunk(delta("length")),
        DONE,
    )
    response = parser.response()
    assert response.finish_reason == "length"
    (call,) = response.tool_calls
    assert not call.complete
    assert call.raw_arguments == '{"x": "abc'
    assert "output token limit" in (call.problem or "")


def test_calls_still_open_at_done_end_normally() -> None:
    events, parser = feed(chunk(delta(tool_calls=[tc(0, "c1", "a", "{}")])), DONE)
    assert isinstance(events[-1], ToolCallEnd)
    assert parser.done
    assert parser.response().finish_reason == "tool_calls"


def test_partial_marks_open_calls_incomplete() -> None:
    _, parser = feed(
        chunk(delta(content="Let me look. ")),
        chunk(delta(tool_calls=[tc(0, "c1", "a", '{"q":')])),
    )
    assert not parser.done
    partial = parser.partial()
    assert partial.text == "Let me look. "
    (call,) = partial.tool_calls
    assert not call.complete
    assert call.raw_arguments == '{"q":'


def test_usage_last_one_wins_and_updates_only_on_change() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    events, parser = feed(
        chunk(delta(content="a"), usage=usage),
        chunk(delta(content="b"), usage=usage),
        chunk(delta("stop"), usage={**usage, "completion_tokens": 2, "total_tokens": 7}),
        chunk(usage=None),
        DONE,
    )
    updates = [e.usage for e in events if isinstance(e, UsageUpdate)]
    assert updates == [
        Usage(input_tokens=5, output_tokens=1),
        Usage(input_tokens=5, output_tokens=2),
    ]
    assert parser.response().usage == updates[-1]


def test_groq_usage_in_x_groq() -> None:
    _, parser = feed(
        chunk(
            delta("stop", content="hi"),
            x_groq={"usage": {"prompt_tokens": 3, "completion_tokens": 2}},
        ),
        DONE,
    )
    assert parser.response().usage == Usage(input_tokens=3, output_tokens=2)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # OpenAI: reasoning inside completion_tokens, cached inside prompt_tokens.
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 50,
                "total_tokens": 150,
                "prompt_tokens_details": {"cached_tokens": 64},
                "completion_tokens_details": {"reasoning_tokens": 30},
            },
            Usage(input_tokens=100, output_tokens=50, cached_input_tokens=64, reasoning_tokens=30),
        ),
        # DeepSeek's cache field alone.
        (
            {"prompt_tokens": 10, "completion_tokens": 1, "prompt_cache_hit_tokens": 8},
            Usage(input_tokens=10, output_tokens=1, cached_input_tokens=8),
        ),
        # Nonsense counts are read as 0.
        (
            {"prompt_tokens": -1, "completion_tokens": True, "total_tokens": "9"},
            Usage(),
        ),
    ],
)
def test_usage_normalisation(usage: dict[str, Any], expected: Usage) -> None:
    _, parser = feed(chunk(delta("stop"), usage=usage), DONE)
    assert parser.response().usage == expected


@pytest.mark.parametrize("data", ["", "   ", ": keep-alive", "keep-alive", "PING"])
def test_keep_alive_data_is_skipped(data: str) -> None:
    events, parser = feed(ServerSentEvent(data=data), chunk(delta(content="x")), DONE)
    assert parser.response().text == "x"
    assert len(events) == 1


@pytest.mark.parametrize("data", ["{not json", "hello", "[1, 2]", "42"])
def test_payloads_that_are_not_json_objects_break_the_protocol(data: str) -> None:
    with pytest.raises(ProviderProtocolError, match="not"):
        feed(ServerSentEvent(data=data))


def test_error_event_with_plain_text() -> None:
    with pytest.raises(ProviderError, match="upstream exploded"):
        feed(ServerSentEvent(data="upstream exploded", event="error"))


def test_error_event_with_a_json_body_without_error_key() -> None:
    with pytest.raises(ProviderError):
        feed(ServerSentEvent(data='{"message": "bad"}', event="error"))
    with pytest.raises(ProviderError, match="overloaded"):
        feed(ServerSentEvent(data='[{"error": {"message": "overloaded"}}]', event="error"))


def test_inline_error_with_choices_raises_the_typed_error() -> None:
    with pytest.raises(RateLimited) as caught:
        feed(chunk(delta(content="x"), error={"code": 429, "message": "slow down"}))
    assert caught.value.status is None


def test_nothing_after_done_counts() -> None:
    events, parser = feed(chunk(delta(content="a")), DONE, chunk(delta(content="b")), DONE)
    assert parser.response().text == "a"
    assert len(events) == 1


def test_content_as_a_list_of_parts_and_odd_choice_fields() -> None:
    _, parser = feed(
        chunk({"index": "0", "delta": {"content": [{"type": "text", "text": "a"}, {"x": 1}]}}),
        chunk({"delta": None}, "not-a-choice"),
        chunk(delta(tool_calls=["not-a-call"])),
        ServerSentEvent(data='{"choices": null}'),
        DONE,
    )
    assert parser.response().text == "a"


def test_stream_refusal() -> None:
    _, parser = feed(
        chunk(delta(refusal="")), chunk(delta(refusal="No.")), chunk(delta("stop")), DONE
    )
    response = parser.response()
    assert (response.text, response.finish_reason, response.raw_finish_reason) == (
        "No.",
        "refusal",
        "stop",
    )


# ---------------------------------------------------------------- non-streaming, case by case


def parse(body: Any) -> ModelResponse:
    return OpenAIChat("asked-for", api_key="k")._parse(body)


def completion(
    message: dict[str, Any], finish: str | None = "stop", **fields: Any
) -> dict[str, Any]:
    return {
        "id": "r1",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        **fields,
    }


async def test_nonstream_body_after_blank_lines() -> None:
    # DeepSeek sends blank lines while a non-streaming request is queued (fact 4).
    server = Server([json_response(b"\n\n\n" + json.dumps(CANNED_JSON).encode())])
    assert (await run_complete(server)).text == "ok"


def test_nonstream_refusal() -> None:
    response = parse(completion({"content": None, "refusal": "I can't."}))
    assert (response.text, response.finish_reason) == ("I can't.", "refusal")
    assert response.model == "asked-for"
    assert response.usage == Usage()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([1], "not a JSON object"),
        ({"choices": []}, "no choices"),
        ({"object": "chat.completion"}, "no choices"),
        ({"choices": ["x"]}, "no choices"),
        (
            {"choices": [{"index": i, "message": {"content": "x"}} for i in range(3)]},
            "several choices",
        ),
    ],
)
def test_nonstream_protocol_errors(body: Any, words: str) -> None:
    with pytest.raises(ProviderProtocolError, match=words):
        parse(body)


async def test_nonstream_error_envelope_with_status_200() -> None:
    body = {"error": {"message": "Provider returned error", "code": 502}}
    server = Server([json_response(body, headers={"x-request-id": "req_1"})])
    with pytest.raises(ProviderError) as caught:
        await run_complete(server)
    assert caught.value.request_id == "req_1"
    assert caught.value.status == 200


def test_nonstream_tool_call_problems() -> None:
    response = parse(
        completion(
            {
                "tool_calls": [
                    {"id": "c1", "function": {"name": "a", "arguments": "[1]"}},
                    {"id": "c2", "function": {"arguments": "{}"}},
                    {"id": "c3", "function": {"name": "c", "arguments": {"k": "v"}}},
                    {"id": "c4", "function": {"name": "d", "arguments": None}},
                    {"id": "c5", "function": {"name": "e"}},
                    "junk",
                ]
            },
            finish="tool_calls",
        )
    )
    calls = response.tool_calls
    assert calls[0].problem is not None
    assert calls[0].raw_arguments == "[1]"
    assert "without a tool name" in (calls[1].problem or "")
    assert calls[2].arguments == {"k": "v"}
    assert [c.executable for c in calls] == [False, False, True, True, True]
    assert [dict(c.arguments) for c in calls[3:]] == [{}, {}]


def test_nonstream_length_cuts_the_last_call() -> None:
    response = parse(
        completion(
            {
                "tool_calls": [
                    {"id": "c1", "function": {"name": "a", "arguments": "{}"}},
                    {"id": "c2", "function": {"name": "b", "arguments": '{"x": "ab'}},
                ]
            },
            finish="length",
        )
    )
    assert response.finish_reason == "length"
    assert [c.complete for c in response.tool_calls] == [True, False]
    assert not response.tool_calls[1].executable


def test_nonstream_message_level_thought_signature() -> None:
    response = parse(
        completion(
            {
                "thought_signature": "MSG",
                "tool_calls": [
                    {"id": "", "function": {"name": "a", "arguments": "{}"}},
                    {"id": "", "function": {"name": "b", "arguments": "{}"}},
                ],
            },
            finish="tool_calls",
        )
    )
    assert [(c.id, c.signature) for c in response.tool_calls] == [
        ("call_0_r1", "MSG"),
        ("call_1_r1", None),
    ]
    no_id = parse({"choices": [{"message": {"tool_calls": [{"function": {"name": "a"}}]}}]})
    assert no_id.tool_calls[0].id == "call_0"


@pytest.mark.parametrize(
    ("raw", "calls", "expected"),
    [
        ("stop", False, "stop"),
        ("stop", True, "tool_calls"),  # OpenAI's answer to a forced tool_choice
        ("tool_calls", True, "tool_calls"),
        ("function_call", True, "tool_calls"),
        ("length", False, "length"),
        ("MAX_TOKENS", False, "length"),
        ("content_filter", False, "content_filter"),
        ("insufficient_system_resource", False, "stop"),
        (None, False, "stop"),
        (None, True, "tool_calls"),
    ],
)
def test_finish_reasons(raw: str | None, calls: bool, expected: str) -> None:
    message: dict[str, Any] = {"content": "x"}
    if calls:
        message["tool_calls"] = [{"id": "c", "function": {"name": "a", "arguments": "{}"}}]
    response = parse(completion(message, finish=raw))
    assert response.finish_reason == expected
    assert response.raw_finish_reason == raw
