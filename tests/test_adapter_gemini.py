"""The Gemini adapter: every recorded fixture replayed, and the request/answer mapping."""

from __future__ import annotations

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

from actrio.adapters.errors import (
    AuthenticationError,
    NotFound,
    ProviderConnectionError,
    ProviderProtocolError,
    RateLimited,
    ServerError,
    StreamInterrupted,
)
from actrio.adapters.gemini import PLACEHOLDER_SIGNATURE, Gemini, GeminiStreamParser
from actrio.adapters.retry import RetryPolicy
from actrio.adapters.sse import ServerSentEvent
from actrio.messages import (
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from actrio.types import (
    AnthropicExtras,
    Finish,
    GeminiExtras,
    ModelRequest,
    ModelResponse,
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
    from collections.abc import Callable, Iterable

    from actrio.types import StreamEvent

FIXTURES = PROVIDER_FIXTURES / "gemini"
KEY = "test-key-not-real"
NO_RETRY = RetryPolicy(max_retries=0)


# ---------------------------------------------------------------- plumbing


class ChunkStream(httpx.AsyncByteStream):
    """A response body delivered in the given pieces (an iterator, not a generator)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(list(chunks))
        self.closed = False

    def __aiter__(self) -> ChunkStream:  # type: ignore[override]
        return self

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self.closed = True


# httpx reads a body through nested async generators and closes only the outer one
# when a read stops early (encode/httpx#3686); trio warns when it finalizes the rest.
# ModelStream stops early on an in-band error, so those tests tolerate the warning;
# test_failed_stream_leaves_no_generator_to_the_gc shows it.
HTTPX_GENERATORS = pytest.mark.filterwarnings(r"ignore:Async generator 'httpx\.:ResourceWarning")


def sse(data: bytes, cuts: Iterable[int] = ()) -> httpx.Response:
    bounds = [0, *sorted(set(cuts)), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=ChunkStream(pieces)
    )


def meta_headers(name: str) -> dict[str, str]:
    path = FIXTURES / f"{name}.response-meta.json"
    if not path.exists():
        return {"content-type": "application/json; charset=UTF-8"}
    headers = json.loads(path.read_text())["headers"]
    return {
        k: ", ".join(v) if isinstance(v, list) else v
        for k, v in headers.items()
        if k not in ("content-length", "transfer-encoding")
    }


def json_response(name: str, status: int | None = None) -> httpx.Response:
    content = (FIXTURES / f"{name}.json").read_bytes()
    if status is None:
        error = json.loads(content).get("error")
        status = error["code"] if isinstance(error, dict) else 200
    return httpx.Response(status, headers=meta_headers(name), content=content)


def adapter(
    respond: Callable[[httpx.Request], httpx.Response],
    seen: list[httpx.Request] | None = None,
    **options: Any,
) -> Gemini:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return respond(request)

    options.setdefault("retry", NO_RETRY)
    options.setdefault("api_key", KEY)
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Gemini("gemini-2.5-flash", http_client=client, **options)


async def run_stream(model: Gemini, request: ModelRequest) -> tuple[list[StreamEvent], Any]:
    async with model.stream(request) as stream:
        events: list[StreamEvent] = [event async for event in stream]
    return events, stream.response


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def payloads(name: str) -> list[dict[str, Any]]:
    text = fixture_bytes(name).decode()
    return [json.loads(block[len("data: ") :]) for block in text.split("\r\n\r\n") if block]


def parts_of(name: str) -> list[dict[str, Any]]:
    return [p for d in payloads(name) for p in d["candidates"][0]["content"].get("parts", [])]


ASK = ModelRequest(messages=[Message.user("hi")])


# ---------------------------------------------------------------- expected answers

THOUGHT_PARTS = parts_of("stream-thought-summaries-then-text.sse")
VERTEX_SIGNATURE = parts_of("stream-function-call-partial-args-vertex.converted.sse")[0][
    "thoughtSignature"
]
NONSTREAM_SIGNATURE = json.loads(fixture_bytes("nonstream-function-call-thought-signature.json"))[
    "candidates"
][0]["content"]["parts"][0]["thoughtSignature"]


def gemini(**kw: Any) -> ModelResponse:
    return ModelResponse(provider="gemini", **kw)


STREAMS: dict[str, ModelResponse] = {
    "stream-text-crlf.sse": gemini(
        message=Message.assistant("The capital of France is Paris.\n"),
        finish_reason="stop",
        usage=Usage(input_tokens=13, output_tokens=8),
        model="gemini-2.0-flash-exp",
        response_id="w1peaMz6INOvnvgPgYfPiQY",
        raw_finish_reason="STOP",
    ),
    "stream-function-call-single-chunk.sse": gemini(
        message=Message.assistant(
            ToolCallPart(
                id="call-1lpeaMTxIpW1nvgP-O3vwQY-0",
                name="get_capital",
                arguments={"country": "France"},
            )
        ),
        finish_reason="tool_calls",
        usage=Usage(input_tokens=52, output_tokens=5),
        model="gemini-2.0-flash",
        response_id="1lpeaMTxIpW1nvgP-O3vwQY",
        raw_finish_reason="STOP",
    ),
    "stream-thought-summaries-then-text.sse": gemini(
        message=Message.assistant(
            [
                ReasoningPart(
                    text="".join(p["text"] for p in THOUGHT_PARTS if p.get("thought")),
                    summary=True,
                    provider="gemini",
                ),
                ReasoningPart(
                    summary=True,
                    signature=next(
                        p["thoughtSignature"] for p in THOUGHT_PARTS if "thoughtSignature" in p
                    ),
                    provider="gemini",
                ),
                TextPart(text="".join(p["text"] for p in THOUGHT_PARTS if not p.get("thought"))),
            ]
        ),
        finish_reason="stop",
        usage=Usage(input_tokens=34, output_tokens=469 + 787, reasoning_tokens=787),
        model="gemini-2.5-pro",
        response_id="beHBaJfEMIi-qtsP3769-Q8",
        raw_finish_reason="STOP",
    ),
    "stream-function-call-partial-args-vertex.converted.sse": gemini(
        message=Message.assistant(
            [
                ToolCallPart(
                    id="call-dqHOab6xGLzWodAPkPuViA4-0",
                    name="getWeather",
                    arguments={"location": "Boston"},
                    signature=VERTEX_SIGNATURE,
                ),
                ToolCallPart(
                    id="call-dqHOab6xGLzWodAPkPuViA4-1",
                    name="getWeather",
                    arguments={"location": "San Francisco"},
                ),
            ]
        ),
        finish_reason="tool_calls",
        usage=Usage(input_tokens=26, output_tokens=23 + 132, reasoning_tokens=132),
        model="gemini-3.1-pro-preview",
        response_id="dqHOab6xGLzWodAPkPuViA4",
        raw_finish_reason="STOP",
    ),
}

NONSTREAM: dict[str, ModelResponse] = {
    "nonstream-function-call-thought-signature": gemini(
        message=Message.assistant(
            ToolCallPart(
                id="call-g5YoaezOBeyrqtsPwYqL2Q8-0",
                name="get_capital",
                arguments={"country": "France"},
                signature=NONSTREAM_SIGNATURE,
            )
        ),
        finish_reason="tool_calls",
        usage=Usage(input_tokens=57, output_tokens=15 + 124, reasoning_tokens=124),
        model="gemini-2.5-pro",
        response_id="g5YoaezOBeyrqtsPwYqL2Q8",
        raw_finish_reason="STOP",
    ),
    "nonstream-text-finish-max-tokens": gemini(
        message=Message.assistant("The capital of France is"),
        finish_reason="length",
        usage=Usage(input_tokens=15, output_tokens=5),
        model="gemini-2.5-flash",
        response_id="R5MoavWNNp_8qtsP2fWD2A0",
        raw_finish_reason="MAX_TOKENS",
    ),
    "nonstream-safety-blocked": gemini(
        message=Message.assistant(),
        finish_reason="content_filter",
        usage=Usage(input_tokens=14),
        model="gemini-1.5-flash",
        response_id="5lpeaLOIBf__698Pv8HGgAg",
        raw_finish_reason="SAFETY",
    ),
    "structured-output-response-json-schema": gemini(
        message=Message.assistant('{"amount": 12.34}'),
        finish_reason="stop",
        usage=Usage(input_tokens=13, output_tokens=10 + 61, reasoning_tokens=61),
        model="gemini-2.5-flash",
        response_id="NMoLaoiyAvKIz7IPyp6DkQE",
        raw_finish_reason="STOP",
    ),
}


# ---------------------------------------------------------------- fixture replay


def check_events(events: list[StreamEvent], response: ModelResponse) -> None:
    """The events tell the same story as the final response."""
    assert isinstance(events[-1], Finish)
    assert events[-1].response == response
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == response.text
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == response.reasoning_text
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    ends = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [(s.id, s.name) for s in starts] == [(c.id, c.name) for c in response.tool_calls]
    assert [e.call for e in ends] == list(response.tool_calls)
    for start in starts:
        deltas = "".join(
            e.arguments for e in events if isinstance(e, ToolCallDelta) and e.index == start.index
        )
        if deltas:  # streamed arguments: the deltas spell the arguments' JSON
            assert json.loads(deltas) == response.tool_calls[start.index].arguments
    usages = [e.usage for e in events if isinstance(e, UsageUpdate)]
    assert usages[-1] == response.usage


@pytest.mark.parametrize("name", sorted(STREAMS))
async def test_stream_fixture(name: str) -> None:
    seen: list[httpx.Request] = []
    model = adapter(lambda _: sse(fixture_bytes(name)), seen)
    events, response = await run_stream(model, ASK)
    assert response == STREAMS[name]
    check_events(events, response)
    assert seen[0].url.params["alt"] == "sse"


@pytest.mark.parametrize("name", sorted(STREAMS))
async def test_stream_fixture_one_byte_at_a_time(name: str) -> None:
    data = fixture_bytes(name)
    model = adapter(lambda _: sse(data, range(1, len(data))))
    _, response = await run_stream(model, ASK)
    assert response == STREAMS[name]


@pytest.mark.parametrize("name", sorted(NONSTREAM))
async def test_nonstream_fixture(name: str) -> None:
    seen: list[httpx.Request] = []
    model = adapter(lambda _: json_response(name), seen, keep_raw=True)
    response = await model.complete(ASK)
    assert response == NONSTREAM[name]
    assert response.raw == json.loads(fixture_bytes(f"{name}.json"))
    assert seen[0].url.path.endswith(":generateContent")


async def test_structured_output_parses() -> None:
    @attrs.frozen
    class Payment:
        amount: float

    model = adapter(lambda _: json_response("structured-output-response-json-schema"))
    response = await model.complete(ASK)
    assert response.parse(Payment) == Payment(amount=12.34)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
async def test_stream_split_anywhere_gives_the_same_answer(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(STREAMS)))
    raw = fixture_bytes(name)
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=len(raw) - 1), max_size=40))
    model = adapter(lambda _: sse(raw, cuts))
    events, response = await run_stream(model, ASK)
    assert response == STREAMS[name]
    check_events(events, response)


# ---------------------------------------------------------------- truncated streams


def without_last_event(name: str) -> bytes:
    raw = fixture_bytes(name)
    body = raw[: -len(b"\r\n\r\n")]
    return body[: body.rindex(b"\r\n\r\n") + 4]


async def test_stream_without_finish_reason_is_interrupted() -> None:
    name = "stream-function-call-partial-args-vertex.converted.sse"
    model = adapter(lambda _: sse(without_last_event(name)))
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(model, ASK)
    partial = caught.value.partial
    first, second = partial.tool_calls
    assert first == STREAMS[name].tool_calls[0]
    assert second.name == "getWeather"
    assert second.arguments == {"location": "San Francisco"}
    assert not second.complete
    assert not second.executable
    assert partial.raw_finish_reason is None
    assert isinstance(caught.value.cause, ProviderProtocolError)


async def test_stream_without_finish_reason_then_terminator_succeeds() -> None:
    name = "stream-function-call-partial-args-vertex.converted.sse"
    finish = b'data: {"candidates":[{"content":{"parts":[]},"finishReason":"STOP"}]}\r\n\r\n'
    model = adapter(lambda _: sse(without_last_event(name) + finish))
    _, response = await run_stream(model, ASK)
    assert response.tool_calls == STREAMS[name].tool_calls
    assert response.finish_reason == "tool_calls"


async def test_text_stream_cut_before_finish_keeps_the_text() -> None:
    name = "stream-thought-summaries-then-text.sse"
    model = adapter(lambda _: sse(without_last_event(name)))
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(model, ASK)
    expected = STREAMS[name]
    assert caught.value.partial.reasoning_text == expected.reasoning_text
    assert expected.text.startswith(caught.value.partial.text)
    assert caught.value.partial.text


async def test_last_event_without_blank_line_is_discarded() -> None:
    # PROTOCOL-NOTES fact 9: the spec drops an unterminated event, and with it the finish.
    raw = fixture_bytes("stream-text-crlf.sse")[: -len(b"\r\n\r\n")]
    model = adapter(lambda _: sse(raw))
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(model, ASK)
    assert caught.value.partial.text == "The capital of France"


async def test_stream_without_any_output_is_a_connection_error() -> None:
    model = adapter(lambda _: sse(b""))
    with pytest.raises(ProviderConnectionError):
        await run_stream(model, ASK)


@HTTPX_GENERATORS
async def test_cancelled_stream_closes_the_response() -> None:
    raw = fixture_bytes("stream-text-crlf.sse")
    body_stream = ChunkStream([raw[:300], raw[300:]])
    model = adapter(
        lambda _: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=body_stream
        )
    )
    seen: list[StreamEvent] = []
    with trio.CancelScope() as scope:
        async with model.stream(ASK) as stream:
            async for event in stream:
                seen.append(event)
                scope.cancel()
    assert scope.cancelled_caught
    assert seen == [TextDelta(text="The")]
    assert body_stream.closed


# ---------------------------------------------------------------- errors


async def test_error_404_model_not_found() -> None:
    model = adapter(lambda _: json_response("error-404-model-not-found"))
    with pytest.raises(NotFound) as caught:
        await model.complete(ASK)
    error = caught.value
    assert (error.status, error.code, error.request_id) == (404, "NOT_FOUND", None)
    assert "gemini-3.6-flahs is not found" in error.message
    assert KEY not in str(error)
    assert KEY not in repr(error)


async def test_error_404_on_a_stream() -> None:
    model = adapter(lambda _: json_response("error-404-model-not-found"))
    with pytest.raises(NotFound):
        await run_stream(model, ASK)


async def test_error_429_retry_info() -> None:
    model = adapter(lambda _: json_response("error-429-resource-exhausted-retryinfo"))
    with pytest.raises(RateLimited) as caught:
        await model.complete(ASK)
    error = caught.value
    assert (error.status, error.code, error.retry_after) == (429, "RESOURCE_EXHAUSTED", 34.4)
    assert error.retryable


async def test_error_429_waits_retry_delay_then_retries(autojump_clock: trio.abc.Clock) -> None:
    answers = iter(
        [
            json_response("error-429-resource-exhausted-retryinfo"),
            json_response("nonstream-text-finish-max-tokens"),
        ]
    )
    model = adapter(lambda _: next(answers), retry=RetryPolicy(max_retries=1))
    start = trio.current_time()
    response = await model.complete(ASK)
    assert trio.current_time() - start == pytest.approx(34.4)
    assert response.attempts == 2
    assert response.text == "The capital of France is"


ERROR_500 = b'{"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}'
TEXT_CHUNK = b'data: {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]}\r\n\r\n'
TEXT_CHUNK_END = (
    b'data: {"candidates": [{"content": {"parts": [{"text": "Hel"}]}, "finishReason": "STOP"}]}'
    b"\r\n\r\n"
)


@HTTPX_GENERATORS
async def test_in_band_error_before_output() -> None:
    model = adapter(lambda _: sse(b"data: " + ERROR_500 + b"\r\n\r\n"))
    with pytest.raises(ServerError) as caught:
        await run_stream(model, ASK)
    assert (caught.value.status, caught.value.code) == (None, "INTERNAL")


@HTTPX_GENERATORS
async def test_in_band_error_in_a_list_after_output() -> None:
    error = b'[{"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}]'
    model = adapter(lambda _: sse(TEXT_CHUNK + b"data: " + error + b"\r\n\r\n", [len(TEXT_CHUNK)]))
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(model, ASK)
    assert isinstance(caught.value.cause, RateLimited)
    assert caught.value.partial.text == "Hel"


@HTTPX_GENERATORS
async def test_in_band_error_in_the_first_read_is_retryable(autojump_clock: trio.abc.Clock) -> None:
    # Nothing was delivered yet: the error is raised as itself, and the call retried.
    answers = iter([sse(TEXT_CHUNK + b"data: " + ERROR_500 + b"\r\n\r\n"), sse(TEXT_CHUNK_END)])
    model = adapter(lambda _: next(answers), retry=RetryPolicy(max_retries=1))
    events, response = await run_stream(model, ASK)
    assert response.text == "Hel"
    assert events[0] == TextDelta(text="Hel")


@HTTPX_GENERATORS
async def test_invalid_json_in_a_stream() -> None:
    model = adapter(lambda _: sse(TEXT_CHUNK + b"data: {not json\r\n\r\n", [len(TEXT_CHUNK)]))
    with pytest.raises(StreamInterrupted) as caught:
        await run_stream(model, ASK)
    assert isinstance(caught.value.cause, ProviderProtocolError)


async def test_error_envelope_with_status_200() -> None:
    model = adapter(lambda _: httpx.Response(200, content=ERROR_500))
    with pytest.raises(ServerError) as caught:
        await model.complete(ASK)
    assert caught.value.status == 200


async def test_body_that_is_not_an_object() -> None:
    model = adapter(lambda _: httpx.Response(200, content=b"[1, 2]"))
    with pytest.raises(ProviderProtocolError):
        await model.complete(ASK)


@pytest.mark.xfail(
    strict=True,
    reason="ModelStream closes only httpx's outer aiter_bytes generator when a stream fails "
    "mid-read; aiter_raw and BoundAsyncStream.__aiter__ are left to trio's GC finalizer",
)
@HTTPX_GENERATORS
async def test_failed_stream_leaves_no_generator_to_the_gc() -> None:
    model = adapter(lambda _: sse(TEXT_CHUNK + b"data: {not json\r\n\r\n", [len(TEXT_CHUNK)]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(StreamInterrupted):
            await run_stream(model, ASK)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_non_object_stream_payload() -> None:
    parser = GeminiStreamParser()
    with pytest.raises(ProviderProtocolError):
        parser.feed(ServerSentEvent(data="42"))
    with pytest.raises(ProviderProtocolError):
        parser.feed(ServerSentEvent(data="[]"))


# ---------------------------------------------------------------- URL and key


async def test_url_and_key_header() -> None:
    seen: list[httpx.Request] = []
    model = adapter(lambda _: json_response("nonstream-text-finish-max-tokens"), seen)
    await model.complete(ASK)
    request = seen[0]
    assert str(request.url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert request.headers["x-goog-api-key"] == KEY
    assert KEY not in str(request.url)
    assert "authorization" not in request.headers


async def test_stream_url() -> None:
    seen: list[httpx.Request] = []
    model = adapter(lambda _: sse(fixture_bytes("stream-text-crlf.sse")), seen)
    await run_stream(model, ASK)
    assert str(seen[0].url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
        ":streamGenerateContent?alt=sse"
    )


def test_api_version_base_url_and_model_paths() -> None:
    model = Gemini("gemini-2.5-pro", api_key=KEY, base_url="http://proxy:8080/", api_version="v1")
    assert model._url(ASK, stream=False) == (
        "http://proxy:8080/v1/models/gemini-2.5-pro:generateContent"
    )
    tuned = Gemini("tunedModels/my-model", api_key=KEY)
    assert tuned._url(ASK, stream=True).endswith(
        "/v1beta/tunedModels/my-model:streamGenerateContent?alt=sse"
    )
    assert tuned.api_version == "v1beta"


@pytest.mark.parametrize("version", ["", "v1/../x", "v1beta?key=1", 3])
def test_bad_api_version(version: Any) -> None:
    with pytest.raises(ValueError, match="api_version"):
        Gemini("gemini-2.5-flash", api_version=version)


async def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "from-google-env")
    seen: list[httpx.Request] = []
    model = adapter(lambda _: json_response("nonstream-text-finish-max-tokens"), seen, api_key=None)
    await model.complete(ASK)
    assert seen[0].headers["x-goog-api-key"] == "from-google-env"
    monkeypatch.setenv("GEMINI_API_KEY", "from-gemini-env")
    await model.complete(ASK)
    assert seen[1].headers["x-goog-api-key"] == "from-gemini-env"


async def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    model = adapter(lambda _: json_response("nonstream-text-finish-max-tokens"), api_key=None)
    with pytest.raises(AuthenticationError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        await model.complete(ASK)
    assert model._auth_headers(None) == {}


# ---------------------------------------------------------------- fixture requests


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


def normalize(value: Any, key: str = "") -> Any:
    """The fields that matter, spelled one way (SDK snake_case, OpenAPI types, extras gone)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = _camel(k)
            name = "parametersJsonSchema" if name == "parameters" else name
            if name == "responseModalities" or (key == "systemInstruction" and name == "role"):
                continue
            out[name] = normalize(v, name)
        if "generationConfig" in out and not out["generationConfig"]:
            del out["generationConfig"]
        return out
    if isinstance(value, list):
        return [normalize(v, key) for v in value]
    if key == "type" and isinstance(value, str):
        return value.lower()
    return value


def system_user(system: str, user: str) -> list[Message]:
    return [Message.system(system), Message.user(user)]


CAPITAL = ToolSpec(
    name="get_capital",
    description="Get the capital of a country.",
    parameters={
        "type": "object",
        "properties": {"country": {"type": "string", "description": "The country name."}},
        "required": ["country"],
    },
)

REQUESTS: dict[str, ModelRequest] = {
    "error-404-model-not-found": ModelRequest(messages=[Message.user("hello")]),
    "nonstream-function-call-thought-signature": ModelRequest(
        messages=system_user("You are a helpful chatbot.", "What is the capital of France?"),
        temperature=0.0,
        tools=[
            attrs.evolve(CAPITAL, parameters={**CAPITAL.parameters, "additionalProperties": False})
        ],
    ),
    "nonstream-safety-blocked": ModelRequest(
        messages=system_user("You hate the world!", "Tell me a joke about a Brazilians."),
        extras=[
            GeminiExtras(
                safety_settings=(
                    {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_LOW_AND_ABOVE"},
                )
            )
        ],
    ),
    "nonstream-text-finish-max-tokens": ModelRequest(
        messages=system_user("You are a helpful chatbot.", "What is the capital of France?"),
        max_tokens=5,
        extras=[GeminiExtras(thinking_budget=0)],
    ),
    "stream-function-call-single-chunk": ModelRequest(
        messages=system_user(
            "You are a helpful chatbot.", "What is the temperature of the capital of France?"
        ),
        tools=[
            CAPITAL,
            ToolSpec(
                name="get_temperature",
                description="Get the temperature in a city.",
                parameters={
                    "type": "object",
                    "properties": {"city": {"type": "string", "description": "The city name."}},
                    "required": ["city"],
                },
            ),
        ],
    ),
    "stream-text-crlf": ModelRequest(
        messages=system_user("You are a helpful chatbot.", "What is the capital of France?"),
        temperature=0.0,
    ),
    "stream-thought-summaries-then-text": ModelRequest(
        messages=system_user("You are a helpful assistant.", "How do I cross the street?"),
        reasoning="summary",
        tools=[ToolSpec(name="dummy", parameters={"type": "object", "properties": {}})],
    ),
    "structured-output-response-json-schema": ModelRequest(
        messages=[Message.user("Return exactly this payment amount: 12.34")],
        output=OutputSchema(
            name="Payment",
            schema=json.loads(fixture_bytes("structured-output-response-json-schema.request.json"))[
                "generationConfig"
            ]["responseJsonSchema"],
        ),
    ),
}


def test_every_request_fixture_is_covered() -> None:
    names = {p.name.removesuffix(".request.json") for p in FIXTURES.glob("*.request.json")}
    assert names == set(REQUESTS)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_fixture_shape(name: str) -> None:
    recorded = json.loads(fixture_bytes(f"{name}.request.json"))
    ours = Gemini("m", api_key=KEY)._body(REQUESTS[name], stream=name.startswith("stream"))
    assert normalize(ours) == normalize(recorded)


def test_every_fixture_is_replayed() -> None:
    replayed = set(STREAMS) | {f"{n}.json" for n in NONSTREAM}
    replayed |= {"error-404-model-not-found.json", "error-429-resource-exhausted-retryinfo.json"}
    bodies = {
        p.name
        for p in FIXTURES.iterdir()
        if not p.name.endswith((".request.json", ".response-meta.json"))
    }
    assert bodies == replayed


# ---------------------------------------------------------------- request building


def body(request: ModelRequest) -> dict[str, Any]:
    return Gemini("m", api_key=KEY)._body(request, stream=False)


PNG = b"\x89PNG\r\n\x1a\n"


def test_user_images() -> None:
    request = ModelRequest(
        messages=[
            Message.user(
                [
                    "look",
                    ImagePart(data=PNG, media_type="image/png"),
                    ImagePart(url="https://example.com/a/cat.JPG?size=big#x"),
                    ImagePart(url="https://example.com/dog", media_type="image/webp"),
                    ImagePart(url="data:image/gif;base64,R0lGOD=="),
                    ImagePart(url="data:;base64,AAAA", media_type="image/png"),
                ]
            )
        ]
    )
    assert body(request)["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "look"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {
                    "fileData": {
                        "mimeType": "image/jpeg",
                        "fileUri": "https://example.com/a/cat.JPG?size=big#x",
                    }
                },
                {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/dog"}},
                {"inlineData": {"mimeType": "image/gif", "data": "R0lGOD=="}},
                {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("https://example.com/picture", r"messages\[0\]\.parts\[0\]\.media_type"),
        ("https://example.com/file.bmp", "no known image extension"),
        ("data:image/png,rawbytes", "only in base64"),
        ("data:;base64,AAAA", "names no media type"),
    ],
)
def test_images_gemini_cannot_take(url: str, match: str) -> None:
    with pytest.raises(RequestError, match=match):
        body(ModelRequest(messages=[Message.user(ImagePart(url=url))]))


def test_only_system_messages_are_refused() -> None:
    with pytest.raises(RequestError, match="at least one user"):
        body(ModelRequest(messages=[Message.system("alone")]))


def test_system_instruction_has_every_system_message() -> None:
    request = ModelRequest(
        messages=[Message.system("one"), Message.system(["two", "three"]), Message.user("hi")]
    )
    assert body(request)["systemInstruction"] == {
        "parts": [{"text": "one"}, {"text": "two"}, {"text": "three"}]
    }


CALL_A = ToolCallPart(id="call-r-0", name="get_capital", arguments={"country": "France"})
CALL_B = ToolCallPart(id="call-r-1", name="get_temperature", arguments={"city": "Paris"})


def test_tool_round_trip() -> None:
    request = ModelRequest(
        messages=[
            Message.user("go"),
            Message.assistant([attrs.evolve(CALL_A, signature="sig-a"), CALL_B]),
            Message.tool("call-r-0", '{"capital": "Paris"}'),
            Message.tool("call-r-1", "[21, 22]", name="get_temperature"),
            Message.user("and?"),
        ]
    )
    assert body(request)["contents"] == [
        {"role": "user", "parts": [{"text": "go"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {
                        "name": "get_capital",
                        "args": {"country": "France"},
                        "id": "call-r-0",
                    },
                    "thoughtSignature": "sig-a",
                },
                {
                    "functionCall": {
                        "name": "get_temperature",
                        "args": {"city": "Paris"},
                        "id": "call-r-1",
                    }
                },
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_capital",
                        "id": "call-r-0",
                        "response": {"capital": "Paris"},
                    }
                },
                {
                    "functionResponse": {
                        "name": "get_temperature",
                        "id": "call-r-1",
                        "response": {"result": [21, 22]},
                    }
                },
                {"text": "and?"},
            ],
        },
    ]


def test_tool_results_text_and_errors() -> None:
    request = ModelRequest(
        messages=[
            Message.user("go"),
            Message.assistant([CALL_A, CALL_B]),
            Message(
                role="tool",
                parts=(
                    ToolResultPart(tool_call_id="call-r-0", content="Paris, of course"),
                    ToolResultPart(tool_call_id="call-r-1", content="no network", is_error=True),
                ),
            ),
        ]
    )
    responses = [p["functionResponse"] for p in body(request)["contents"][2]["parts"]]
    assert responses == [
        {"name": "get_capital", "id": "call-r-0", "response": {"result": "Paris, of course"}},
        {"name": "get_temperature", "id": "call-r-1", "response": {"error": "no network"}},
    ]


def test_result_name_comes_from_the_latest_call_with_that_id() -> None:
    again = attrs.evolve(CALL_B, id=CALL_A.id)
    request = ModelRequest(
        messages=[
            Message.user("go"),
            Message.assistant(CALL_A),
            Message.tool(CALL_A.id, "{}"),
            Message.assistant(again),
            Message.tool(CALL_A.id, "{}"),
        ]
    )
    contents = body(request)["contents"]
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "get_capital"
    assert contents[4]["parts"][0]["functionResponse"]["name"] == "get_temperature"


def test_first_unsigned_call_gets_the_placeholder_signature() -> None:
    request = ModelRequest(messages=[Message.user("go"), Message.assistant([CALL_A, CALL_B])])
    parts = body(request)["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == PLACEHOLDER_SIGNATURE
    assert "thoughtSignature" not in parts[1]


def test_reasoning_sent_back() -> None:
    request = ModelRequest(
        messages=[
            Message.user("go"),
            Message.assistant(
                [
                    ReasoningPart(text="hmm", summary=True, signature="s1", provider="gemini"),
                    ReasoningPart(text="theirs", signature="x", provider="anthropic"),
                    ReasoningPart(text="plain", provider="gemini"),
                    ReasoningPart(signature="s2", provider="gemini"),
                    TextPart(text="answer"),
                    ReasoningPart(signature="s3", provider="gemini"),
                    ReasoningPart(signature="s4", provider="gemini"),
                    CALL_A,
                    ReasoningPart(signature="s5", provider="gemini"),
                    ReasoningPart(signature="s6", provider="gemini"),
                    ReasoningPart(provider="gemini"),
                    TextPart(text="last"),
                ]
            ),
        ]
    )
    assert body(request)["contents"][1]["parts"] == [
        {"text": "hmm", "thought": True, "thoughtSignature": "s1"},
        {"text": "plain", "thought": True},
        {"text": "answer", "thoughtSignature": "s2"},
        {"text": "", "thoughtSignature": "s3"},
        {"text": "", "thoughtSignature": "s4"},
        {
            "functionCall": {
                "name": "get_capital",
                "args": {"country": "France"},
                "id": "call-r-0",
            },
            "thoughtSignature": PLACEHOLDER_SIGNATURE,
        },
        {"text": "", "thoughtSignature": "s5"},
        {"text": "", "thoughtSignature": "s6"},
        {"text": "last"},
    ]


def test_trailing_signature_goes_back_on_an_empty_text_part() -> None:
    # Gemini 3 streams a text's signature on a trailing empty part; it goes back the same way.
    answer = Message.assistant(["4", ReasoningPart(signature="end", provider="gemini")])
    request = ModelRequest(messages=[Message.user("2+2?"), answer])
    assert body(request)["contents"][1]["parts"] == [
        {"text": "4"},
        {"text": "", "thoughtSignature": "end"},
    ]


def test_empty_assistant_turns_and_foreign_reasoning_are_skipped() -> None:
    request = ModelRequest(
        messages=[
            Message.user("a"),
            Message.assistant(),
            Message.assistant(ReasoningPart(text="x", provider="openai-responses")),
            Message.user("b"),
        ]
    )
    assert body(request)["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]


def test_reasoning_answer_round_trip() -> None:
    """A parsed answer sent back gives Gemini what it sent, signatures in place."""
    answer = STREAMS["stream-thought-summaries-then-text.sse"]
    request = ModelRequest(messages=[Message.user("q"), answer.message, Message.user("more")])
    parts = body(request)["contents"][1]["parts"]
    signature = answer.reasoning[1].signature
    assert parts == [
        {"text": answer.reasoning[0].text, "thought": True},
        {"text": answer.text, "thoughtSignature": signature},
    ]


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        ("get_capital", {"mode": "ANY", "allowedFunctionNames": ["get_capital"]}),
    ],
)
def test_tool_choice(choice: str, config: dict[str, Any]) -> None:
    request = ModelRequest(messages=[Message.user("go")], tools=[CAPITAL], tool_choice=choice)
    out = body(request)
    assert out["toolConfig"] == {"functionCallingConfig": config}
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_capital",
                    "description": "Get the capital of a country.",
                    "parametersJsonSchema": dict(CAPITAL.parameters),
                }
            ]
        }
    ]


def test_generation_config() -> None:
    request = ModelRequest(
        messages=[Message.user("go")],
        temperature=0.5,
        max_tokens=100,
        stop=("END", "STOP"),
        output=OutputSchema(name="Out", schema={"type": "object", "properties": {}}),
        extras=[
            GeminiExtras(top_k=40, top_p=0.9, body={"generationConfig": {"seed": 7}, "x": [1]}),
            AnthropicExtras(top_k=3, body={"ignored": True}),
        ],
    )
    out = body(request)
    assert out["generationConfig"] == {
        "temperature": 0.5,
        "maxOutputTokens": 100,
        "stopSequences": ["END", "STOP"],
        "topK": 40,
        "topP": 0.9,
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object", "properties": {}},
        "seed": 7,
    }
    assert out["x"] == [1]
    assert "ignored" not in out


def test_extras_body_replaces_non_objects() -> None:
    request = ModelRequest(
        messages=[Message.user("go")],
        extras=[GeminiExtras(body={"contents": [], "generationConfig": {"candidateCount": 1}})],
    )
    out = body(request)
    assert out["contents"] == []
    assert out["generationConfig"] == {"candidateCount": 1}


def test_too_many_stop_sequences() -> None:
    request = ModelRequest(messages=[Message.user("go")], stop=tuple("abcdef"))
    with pytest.raises(RequestError, match=r"ModelRequest\.stop"):
        body(request)


@pytest.mark.parametrize(
    ("reasoning", "effort", "budget", "thinking"),
    [
        ("none", None, None, None),
        ("summary", None, None, {"includeThoughts": True}),
        ("raw", "low", None, {"includeThoughts": True, "thinkingBudget": 1024}),
        ("summary", "medium", None, {"includeThoughts": True, "thinkingBudget": 8192}),
        ("summary", "high", None, {"includeThoughts": True, "thinkingBudget": 24576}),
        ("summary", "high", 500, {"includeThoughts": True, "thinkingBudget": 500}),
        ("none", "low", None, {"thinkingBudget": 1024}),
        ("none", None, 0, {"thinkingBudget": 0}),
    ],
)
def test_thinking_config(
    reasoning: Any, effort: Any, budget: int | None, thinking: dict[str, Any] | None
) -> None:
    extras = [GeminiExtras(thinking_budget=budget)] if budget is not None else []
    request = ModelRequest(
        messages=[Message.user("go")],
        reasoning=reasoning,
        reasoning_effort=effort,
        extras=extras,
    )
    config = body(request).get("generationConfig", {})
    assert config.get("thinkingConfig") == thinking


# ---------------------------------------------------------------- answers, part by part


def chunk(*parts: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **extra}


def parse(*payloads_: dict[str, Any]) -> tuple[list[StreamEvent], GeminiStreamParser]:
    parser = GeminiStreamParser(model="asked-model")
    events: list[StreamEvent] = []
    for payload in payloads_:
        events.extend(parser.feed(ServerSentEvent(data=json.dumps(payload))))
    return events, parser


@pytest.mark.parametrize(
    ("raw", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("OTHER", "stop"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("LANGUAGE", "stop"),
    ],
)
def test_finish_reasons(raw: str, finish: str) -> None:
    _, parser = parse(chunk({"text": "x"}, finish=raw))
    response = parser.response()
    assert (response.finish_reason, response.raw_finish_reason) == (finish, raw)
    assert response.model == "asked-model"
    assert response.response_id is None


def test_blocked_prompt() -> None:
    payload = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": "gemini-2.5-flash",
    }
    events, parser = parse(payload)
    assert parser.done
    response = parser.response()
    assert response.message == Message.assistant()
    assert (response.finish_reason, response.raw_finish_reason) == (
        "content_filter",
        "PROHIBITED_CONTENT",
    )
    assert events == [UsageUpdate(usage=Usage(input_tokens=9))]


async def test_blocked_prompt_stream_and_complete() -> None:
    payload = b'{"promptFeedback": {"blockReason": "SAFETY"}}'
    model = adapter(lambda _: sse(b"data: " + payload + b"\r\n\r\n"))
    events, streamed = await run_stream(model, ASK)
    assert events == [Finish(response=streamed)]
    model = adapter(lambda _: httpx.Response(200, content=payload))
    response = await model.complete(ASK)
    assert response == streamed
    assert (response.finish_reason, response.raw_finish_reason) == ("content_filter", "SAFETY")


def test_feedback_without_block_reason_is_not_an_end() -> None:
    _, parser = parse({"promptFeedback": {"safetyRatings": []}}, {"candidates": "odd"})
    assert not parser.done


def test_usage_counts() -> None:
    meta = {
        "promptTokenCount": 100,
        "cachedContentTokenCount": 60,
        "toolUsePromptTokenCount": 10,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 5,
        "totalTokenCount": 135,
    }
    events, parser = parse(chunk({"text": "x"}, usageMetadata=meta))
    assert parser.usage == Usage(
        input_tokens=110, output_tokens=25, cached_input_tokens=60, reasoning_tokens=5
    )
    _, again = parse(
        chunk(usageMetadata={"promptTokenCount": "many", "candidatesTokenCount": True})
    )
    assert again.usage == Usage()
    assert UsageUpdate(usage=parser.usage) in events


def test_usage_update_only_when_it_changes() -> None:
    meta = {"promptTokenCount": 3}
    events, _ = parse(chunk({"text": "a"}, usageMetadata=meta), chunk(usageMetadata=meta))
    assert [e for e in events if isinstance(e, UsageUpdate)] == [
        UsageUpdate(usage=Usage(input_tokens=3))
    ]


def test_calls_with_ids_odd_args_and_signatures() -> None:
    events, parser = parse(
        chunk(
            {"functionCall": {"name": "a", "id": "given-id", "args": {"x": 1}}},
            {"functionCall": {"name": "b"}, "thoughtSignature": "sig"},
            {"functionCall": {"name": "c", "args": [1, 2]}},
            {"functionCall": {"name": "d", "args": None}},
            finish="STOP",
        ),
    )
    a, b, c, d = parser.response().tool_calls
    assert (a.id, a.arguments) == ("given-id", {"x": 1})
    assert (b.id, b.arguments, b.signature) == ("call-1", {}, "sig")
    assert c.id == "call-2"
    assert c.problem is not None
    assert not c.executable
    assert c.raw_arguments == "[1, 2]"
    assert (d.arguments, d.executable) == ({}, True)
    assert sum(isinstance(e, ToolCallEnd) for e in events) == 4


def test_thoughts_text_and_signatures() -> None:
    _, parser = parse(
        chunk({"text": "think ", "thought": True}, {"text": "more", "thought": True}),
        chunk({"text": "", "thought": True, "thoughtSignature": "t1"}),
        chunk({"text": "again", "thought": True}),
        chunk({"text": "answer", "thoughtSignature": "a1"}, {"text": " done"}),
        chunk({"inlineData": {"mimeType": "image/png", "data": "AA=="}, "thoughtSignature": "i1"}),
        chunk({"text": "", "thoughtSignature": "e1"}, "not a part", finish="STOP"),
    )
    assert parser.response().message.parts == (
        ReasoningPart(text="think more", summary=True, signature="t1", provider="gemini"),
        ReasoningPart(text="again", summary=True, provider="gemini"),
        ReasoningPart(summary=True, signature="a1", provider="gemini"),
        TextPart(text="answer done"),
        ReasoningPart(summary=True, signature="i1", provider="gemini"),
        ReasoningPart(summary=True, signature="e1", provider="gemini"),
    )


def test_content_without_parts() -> None:
    _, parser = parse({"candidates": [{"content": {}, "finishReason": "STOP"}]})
    assert parser.response().message == Message.assistant()
    _, parser = parse({"candidates": [{"finishReason": ""}]})
    assert not parser.done


# ---------------------------------------------------------------- streamed arguments


def streamed_call(name: str = "f", **extra: Any) -> dict[str, Any]:
    return {"functionCall": {"name": name, "willContinue": True, **extra}}


def partial_args(*args: dict[str, Any], more: bool = True) -> dict[str, Any]:
    call: dict[str, Any] = {"partialArgs": list(args)}
    if more:
        call["willContinue"] = True
    return {"functionCall": call}


def deltas(events: list[StreamEvent], index: int = 0) -> str:
    return "".join(e.arguments for e in events if isinstance(e, ToolCallDelta) and e.index == index)


def test_nested_streamed_arguments() -> None:
    events, parser = parse(
        chunk(streamed_call(partialArgs=[{"jsonPath": "$.title", "stringValue": "Soup"}])),
        chunk(
            partial_args(
                {
                    "jsonPath": "$.recipe.steps[0].text",
                    "stringValue": "Boil ",
                    "willContinue": True,
                },
            )
        ),
        chunk(
            partial_args(
                {"jsonPath": "$.recipe.steps[0].text", "stringValue": "wa", "willContinue": True}
            )
        ),
        chunk(partial_args({"jsonPath": "$.recipe.steps[0].text", "stringValue": "ter"})),
        chunk(
            partial_args(
                {"jsonPath": "$.recipe.steps[0].minutes", "numberValue": 10},
                {"jsonPath": "$.recipe.steps[1].text", "stringValue": 'Salt ✓ "q"'},
                {"jsonPath": "$.recipe.vegan", "boolValue": True},
                {"jsonPath": "$.recipe.note", "nullValue": None},
                {"jsonPath": "$.grid[0][0]", "numberValue": 2.5},
                {"jsonPath": "$.skipped"},
                "not an arg",
            )
        ),
        chunk({"functionCall": {}}, finish="STOP"),
    )
    expected = {
        "title": "Soup",
        "recipe": {
            "steps": [{"text": "Boil water", "minutes": 10}, {"text": 'Salt ✓ "q"'}],
            "vegan": True,
            "note": None,
        },
        "grid": [[2.5]],
    }
    (call,) = parser.response().tool_calls
    assert call.arguments == expected
    assert call.executable
    text = deltas(events)
    assert json.loads(text) == expected
    assert text == (
        '{"title":"Soup","recipe":{"steps":[{"text":"Boil water","minutes":10},'
        '{"text":"Salt ✓ \\"q\\""}],"vegan":true,"note":null},"grid":[[2.5]]}'
    )


def test_out_of_order_paths_still_give_the_right_arguments() -> None:
    events, parser = parse(
        chunk(streamed_call()),
        chunk(
            partial_args(
                {"jsonPath": "$.a.x", "numberValue": 1},
                {"jsonPath": "$.b", "numberValue": 2},
                {"jsonPath": "$.a.y", "numberValue": 3},
                {"jsonPath": "$.b", "stringValue": "s", "willContinue": True},
                {"jsonPath": "$.a.x", "stringValue": "late"},
                {"jsonPath": "$.b", "stringValue": "t"},
                {"jsonPath": "$.gap[1]", "numberValue": 0},
            ),
            more=False,
        ),
        chunk(finish="STOP"),
    )
    (call,) = parser.response().tool_calls
    assert call.arguments == {"a": {"x": "late", "y": 3}, "b": "st", "gap": [None, 0]}
    with pytest.raises(ValueError, match="Expecting"):
        json.loads(deltas(events))  # the text cannot follow; the arguments do


def test_string_continued_after_it_closed() -> None:
    events, parser = parse(
        chunk(streamed_call()),
        chunk(partial_args({"jsonPath": "$.s", "stringValue": "ab"})),
        chunk(partial_args({"jsonPath": "$.s", "stringValue": "cd"}), finish="STOP"),
    )
    assert parser.response().tool_calls[0].arguments == {"s": "abcd"}
    assert deltas(events) == '{"s":"ab"'  # no closing text: the JSON text went astray


@pytest.mark.parametrize(
    "path", ["location", "$", "$[0]", "$.a..b", "$.a[x]", None, "$.a[1234567]"]
)
def test_unsupported_json_path(path: Any) -> None:
    with pytest.raises(ProviderProtocolError, match="jsonPath"):
        parse(chunk(streamed_call(partialArgs=[{"jsonPath": path, "stringValue": "x"}])))


def test_streamed_call_cut_by_max_tokens() -> None:
    events, parser = parse(
        chunk(streamed_call()),
        chunk(partial_args({"jsonPath": "$.path", "stringValue": "/tm", "willContinue": True})),
        chunk(finish="MAX_TOKENS"),
    )
    (call,) = parser.response().tool_calls
    assert not call.complete
    assert call.arguments == {"path": "/tm"}
    assert "MAX_TOKENS" in (call.problem or "")
    assert isinstance(events[-1], ToolCallEnd)
    assert parser.response().finish_reason == "length"


def test_streamed_call_closed_by_next_call_and_by_finish() -> None:
    events, parser = parse(
        chunk(streamed_call("one")),
        chunk(partial_args({"jsonPath": "$.n", "numberValue": 1})),
        chunk({"functionCall": {"name": "two", "args": {"k": True}}}),
        chunk({"functionCall": {"partialArgs": []}}),  # nothing open: ignored
        chunk(streamed_call("three")),
        chunk(partial_args({"jsonPath": "$.z", "boolValue": False})),
        chunk({"text": "between"}),
        chunk(finish="STOP"),
    )
    one, two, three = parser.response().tool_calls
    assert (one.arguments, two.arguments, three.arguments) == ({"n": 1}, {"k": True}, {"z": False})
    assert all(c.executable for c in (one, two, three))
    assert json.loads(deltas(events, 2)) == {"z": False}


def test_partial_keeps_open_arguments_apart() -> None:
    _, parser = parse(
        chunk(streamed_call()),
        chunk(partial_args({"jsonPath": "$.list[0]", "stringValue": "a"})),
    )
    first = parser.partial()
    (call,) = first.tool_calls
    assert call.arguments == {"list": ["a"]}
    assert not call.complete
    parser.feed_payload(chunk(partial_args({"jsonPath": "$.list[1]", "stringValue": "b"})))
    assert call.arguments == {"list": ["a"]}  # what was handed out does not change
    assert parser.partial().tool_calls[0].arguments == {"list": ["a", "b"]}
    assert not parser.done
