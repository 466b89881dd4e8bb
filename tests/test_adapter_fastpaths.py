"""The adapters' fast paths give exactly what the general paths they skip give.

The streaming benchmarks (``bench/test_adapter_benchmarks.py``) made the
commonest shapes cheap; each shortcut is checked here against the path it
skips, on the recorded fixtures and on generated input:

- ``SSEDecoder._lone``: a read that is one whole event, dispatched without
  splitting it into lines (against a decoder without it; P-11);
- ``loads_json``: ``json.loads`` without its Python wrapper (against
  ``json.loads``: same value, same error);
- ``OpenAIChatStreamParser._text_chunk``: a chunk of ``content`` text alone
  (against the parser's general path);
- ``ModelStream`` handing an event's type and data to the parser's
  ``_feed_data`` without building a ``ServerSentEvent`` (against a parser
  that has only ``feed``), for all four adapters, errors included (P-07,
  P-09, P-10, SE-03);
- the private event constructors of :mod:`actrio.types` (against the
  public ones), and the close of a stream that finished.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.adapters import _gemini_read as gemini_module
from actrio.adapters import _openai_chat_read as openai_chat_module
from actrio.adapters import _openai_responses_read as openai_responses_module
from actrio.adapters import anthropic as anthropic_module
from actrio.adapters._accumulate import parse_arguments
from actrio.adapters._base import ModelStream
from actrio.adapters._json import TooDeep, loads_json
from actrio.adapters.anthropic import AnthropicMessages, AnthropicStreamParser
from actrio.adapters.errors import ProviderError, ProviderProtocolError, StreamInterrupted
from actrio.adapters.gemini import Gemini, GeminiStreamParser
from actrio.adapters.openai_chat import OpenAIChat, OpenAIChatStreamParser
from actrio.adapters.openai_responses import OpenAIResponses, OpenAIResponsesStreamParser
from actrio.adapters.retry import RetryPolicy
from actrio.adapters.sse import ServerSentEvent, SSEDecoder, _new_event
from actrio.messages import Message
from actrio.types import (
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    Usage,
    _checked_usage,
    _reasoning_delta,
    _text_delta,
    _tool_call_delta,
    from_wire,
    to_wire,
)
from provider_fixtures import PROVIDER_FIXTURES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence
    from pathlib import Path

    from actrio.adapters._accumulate import MessageBuilder
    from actrio.adapters._base import HTTPAdapter
    from actrio.types import ModelResponse, StreamEvent


# ---------------------------------------------------------------- the SSE decoder


class SlowDecoder(SSEDecoder):
    """The decoder with its one-event fast path turned off: every read is split into lines."""

    __slots__ = ()

    def _lone(self, chunk: bytes) -> tuple[str, str] | None:
        return None


class CountingDecoder(SSEDecoder):
    """The decoder, counting the reads its fast path dispatched."""

    __slots__ = ("taken",)

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0

    def _lone(self, chunk: bytes) -> tuple[str, str] | None:
        lone = super()._lone(chunk)
        self.taken += lone is not None
        return lone


def assert_same_decoding(chunks: Sequence[bytes]) -> int:
    """Feed ``chunks`` to both decoders; everything observable must agree.

    Returns:
        How many reads the fast path dispatched.
    """
    fast, slow = CountingDecoder(), SlowDecoder()
    for chunk in chunks:
        assert fast.feed(chunk) == slow.feed(chunk), chunk
        assert (fast.last_event_id, fast.retry) == (slow.last_event_id, slow.retry)
    assert fast.end() == slow.end()
    return fast.taken


def test_lone_reads_one_data_line() -> None:
    """P-11: the read ``data: ...`` + blank line is one event, the id carried along."""
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 7\n\n") == []  # settles the BOM; sets the id
    assert decoder._lone(b'data: {"a": 1}\n\n') == ("message", '{"a": 1}')
    assert decoder.last_event_id == "7"
    assert decoder.feed(b"data:  two spaces\n\n") == [ServerSentEvent(" two spaces", id="7")]
    assert decoder.feed(b"data: \n\n") == [ServerSentEvent("", id="7")]


def test_lone_reads_an_event_line_then_a_data_line() -> None:
    decoder = SSEDecoder()
    decoder.feed(b":\n")
    assert decoder._lone(b"event: content_block_delta\ndata: {}\n\n") == (
        "content_block_delta",
        "{}",
    )
    assert decoder._lone(b"event: \ndata: x\n\n") == ("message", "x")  # empty type: message
    assert decoder._lone(b"event: a:b\ndata: x\n\n") == ("a:b", "x")
    assert decoder._lone(b"event:  x\ndata: y\n\n") == (" x", "y")


def test_lone_reads_crlf_framing() -> None:
    """Gemini frames its events with CRLF; a lone CR is a line ending of its own."""
    decoder = SSEDecoder()
    decoder.feed(b":\r\n")
    assert decoder._lone(b"data: {}\r\n\r\n") == ("message", "{}")
    assert decoder._lone(b"event: e\r\ndata: {}\r\n\r\n") == ("e", "{}")
    assert decoder._lone(b"data: a\rb\r\n\r\n") is None  # two lines: a, then b
    assert decoder._lone(b"data: a\r\n\r") is None
    assert decoder.feed(b"data: a\rdata: b\r\n\r\n") == [ServerSentEvent("a\nb")]


@pytest.mark.parametrize(
    "chunk",
    [
        b"",
        b"\n",
        b"\n\n",
        b"data: x\n",  # no blank line yet
        b"data: x",
        b"data:x\n\n",  # no space: left to the general path
        b"data: x\n\ndata: y\n\n",  # two events
        b"data: x\ndata: y\n\n",  # two data lines
        b"event: x\n\n",  # no data: nothing is dispatched
        b"event: x\nid: 1\n\n",
        b"id: 1\ndata: x\n\n",
        b": comment\n\n",
        b"event: x\ndata: y\n",
        b"event: x\ndata: y\n\nevent: z\ndata: w\n\n",
        b"data: x\r\n\n",  # CRLF and LF mixed
        b"data: x\n\r\n",
    ],
)
def test_lone_leaves_other_reads_to_the_general_path(chunk: bytes) -> None:
    decoder = SSEDecoder()
    decoder.feed(b":\n")
    before = decoder.last_event_id, list(decoder._partial), list(decoder._data)
    assert decoder._lone(chunk) is None
    assert (decoder.last_event_id, decoder._partial, decoder._data) == before


@pytest.mark.parametrize(
    "before",
    [
        b"",  # the stream's first read: the BOM is not settled yet
        b":\ndata: held",  # a partial line
        b":\ndata: held\n",  # data waiting for its blank line
        b":\nevent: held\n",  # an event type waiting for its data
        b":\nretry: 5\n",  # a retry waiting for its event
        b":\r",  # a CR whose LF may come next
    ],
)
def test_lone_needs_nothing_held_over(before: bytes) -> None:
    """P-11: anything left from an earlier read sends the next read down the general path."""
    decoder = SSEDecoder()
    decoder.feed(before)
    assert decoder._lone(b"data: x\n\n") is None
    assert_same_decoding([before, b"data: x\n\n", b"data: y\n\n"])


_TEXT = st.text(st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=8)
_LINE = st.one_of(
    _TEXT.map(lambda t: f"data: {t}"),
    _TEXT.map(lambda t: f"data:{t}"),
    _TEXT.map(lambda t: f"event: {t}"),
    _TEXT.map(lambda t: f"id: {t}"),
    st.sampled_from(["retry: 1500", "retry: x", "data", ": ping", " data: x", "id: a\0b", "id"]),
    st.just(""),
)
_ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def _event_streams(draw: st.DrawFn) -> list[bytes]:
    """A stream of mixed lines and endings, read one event at a time, with a few extra cuts."""
    events = draw(st.lists(st.lists(_LINE, max_size=4), max_size=8))
    uniform = draw(st.booleans())
    ending = draw(_ENDINGS)
    reads = [b"\xef\xbb\xbf" if draw(st.booleans()) else b""]
    for lines in events:
        text = "".join(line + (ending if uniform else draw(_ENDINGS)) for line in [*lines, ""])
        reads.append(text.encode())
    if draw(st.booleans()) and len(reads) > 1:  # cut one read in two
        i = draw(st.integers(1, len(reads) - 1))
        at = draw(st.integers(0, len(reads[i])))
        reads[i : i + 1] = [reads[i][:at], reads[i][at:]]
    return reads


@settings(max_examples=300)
@given(_event_streams())
def test_one_event_reads_decode_as_the_general_path_does(reads: list[bytes]) -> None:
    """P-11: LF, CRLF, CR, BOM, comments, ids, retries, unknown fields, split reads."""
    assert_same_decoding(reads)


def test_the_fixtures_read_one_event_at_a_time_take_the_fast_path() -> None:
    """Every recorded stream, one read per event: the same events, mostly by the fast path."""
    taken = total = 0
    for path in sorted(PROVIDER_FIXTURES.glob("*/*.sse")):
        reads = by_event(path.read_bytes())
        taken += assert_same_decoding(reads)
        total += len(reads)
    assert taken > total * 0.8  # not a vacuous comparison


def test_the_fast_event_constructor_builds_the_public_value() -> None:
    event = _new_event("x", "message", "7", None)
    assert event == ServerSentEvent("x", id="7")
    assert repr(event) == repr(ServerSentEvent("x", id="7"))
    assert hash(event) == hash(ServerSentEvent("x", id="7"))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]


# ---------------------------------------------------------------- loads_json

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def outcome(fn: Callable[[Any], Any], text: str | bytes) -> tuple[str, Any]:
    try:
        return "value", fn(text)
    except ValueError as exc:  # JSONDecodeError: compare its message, which names the position
        return type(exc).__name__, str(exc)


@given(
    value=_JSON,
    indent=st.sampled_from([None, 0, 2]),
    around=st.sampled_from(["", " ", "\n", "\t \r\n"]),
)
def test_loads_json_is_json_loads(value: Any, indent: int | None, around: str) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    assert outcome(loads_json, text) == outcome(json.loads, text)
    assert outcome(loads_json, around + text + around) == outcome(json.loads, around + text)


@given(
    value=_JSON,
    codec=st.sampled_from(["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-32", "utf-16"]),
)
def test_loads_json_of_bytes_is_json_loads(value: Any, codec: str) -> None:
    """A body is read as ``json.loads`` reads bytes: its encoding detected the same way."""
    data = json.dumps(value, ensure_ascii=False).encode(codec, "surrogatepass")
    assert outcome(loads_json, data) == outcome(json.loads, data)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"a": 1',
        '{"a": 1} x',
        '{"a": 1}{}',
        '{"a": 1} ',
        '{"a": NaN, "b": -Infinity}',
        '{"a": 1, "a": 2}',
        "\ufeff{}",
        "{'a': 1}",
        '{"a": "\\ud800"}',
        '{"a": "\x00"}',
        "[DONE]",
        "keep-alive",
        '"text"',
        "42",
    ],
)
def test_loads_json_is_json_loads_on_odd_texts(text: str) -> None:
    assert repr(outcome(loads_json, text)) == repr(outcome(json.loads, text))
    data = text.encode("utf-8", "surrogatepass")
    assert repr(outcome(loads_json, data)) == repr(outcome(json.loads, data))


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b"{}",
        b'{"a":"\xff"}',  # not UTF-8
        b'{"a":"\xed\xa0\x80"}',  # a surrogate, as surrogatepass lets through
        b"{\x00",
        b"{\x00\x00\x00",
        b'{"a": 1} x',
        b"\xef\xbb\xbf{}",
        b"",
    ],
)
def test_loads_json_is_json_loads_on_odd_bytes(data: bytes) -> None:
    assert repr(outcome(loads_json, data)) == repr(outcome(json.loads, data))


DEEP = '{"a":' + "[" * 100_000 + "]" * 100_000 + "}"


@pytest.mark.parametrize(
    "parser",
    [
        lambda: OpenAIChatStreamParser(model="m"),
        OpenAIResponsesStreamParser,
        AnthropicStreamParser,
        lambda: GeminiStreamParser(model="m"),
    ],
)
def test_deeply_nested_payload_is_a_protocol_error(parser: Callable[[], Any]) -> None:
    """P-10: JSON nested past the recursion limit is a typed protocol error, not a crash."""
    with pytest.raises(ProviderProtocolError, match="not JSON"):
        parser().feed(ServerSentEvent(DEEP))
    with pytest.raises(ProviderProtocolError, match="not JSON"):
        parser()._feed_data(DEEP, "message")


@pytest.mark.parametrize("text", [DEEP, "[" * 100_000, " " + DEEP])
def test_loads_json_of_deep_nesting_is_a_value_error(text: str) -> None:
    with pytest.raises(TooDeep, match="nested too deeply"):
        loads_json(text)
    with pytest.raises(TooDeep):
        loads_json(text.encode())


async def test_a_deeply_nested_body_is_a_protocol_error_or_an_http_error() -> None:
    """P-10: ``complete()`` of a 200 that is too deep; an error page too deep keeps its status."""
    bodies = iter([(200, DEEP), (400, DEEP)])

    def answer(_: httpx.Request) -> httpx.Response:
        status, body = next(bodies)
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        adapter = OpenAIChat("m", api_key=KEY, http_client=client, retry=RetryPolicy(max_retries=0))
        with pytest.raises(ProviderProtocolError, match="not JSON"):
            await adapter.complete(ASK)
        with pytest.raises(ProviderError) as info:
            await adapter.complete(ASK)
        assert info.value.status == 400


def test_deeply_nested_tool_arguments_are_a_recorded_problem() -> None:
    """Arguments too deep to read mark the call as bad; nothing raises."""
    arguments, problem = parse_arguments('{"x":' + "[" * 100_000 + "]" * 100_000 + "}")
    assert arguments == {}
    assert problem is not None
    assert "not valid JSON" in problem
    assert "nested too deeply" in problem


# ---------------------------------------------------------------- the chat parser


class GeneralChatParser(OpenAIChatStreamParser):
    """The chat parser without its text-chunk fast path."""

    def _text_chunk(self, payload: dict[str, Any], kind: str) -> list[StreamEvent] | None:
        return None


def step(parser: OpenAIChatStreamParser, event: ServerSentEvent) -> Any:
    try:
        return parser.feed(event)
    except ProviderError as exc:
        return type(exc), str(exc), exc.code, exc.status


def results(parser: OpenAIChatStreamParser) -> tuple[Any, ...]:
    response: ModelResponse | None = parser.response() if parser.done else None
    return response, parser.partial(), parser.builder.emitted, parser.done


class CountingChatParser(OpenAIChatStreamParser):
    """The chat parser, counting the chunks its fast paths read (as JSON, or as text)."""

    taken = 0
    by_text = 0

    def _text_chunk(self, payload: dict[str, Any], kind: str) -> list[StreamEvent] | None:
        events = super()._text_chunk(payload, kind)
        self.taken += events is not None
        return events

    def _text_by_text(self, data: str, start: int) -> list[StreamEvent] | None:
        events = super()._text_by_text(data, start)
        self.taken += events is not None
        self.by_text += events is not None
        return events


def assert_same_parsing(events: Sequence[ServerSentEvent]) -> int:
    """Feed ``events`` to the chat parser with and without the fast path; compare all.

    Returns:
        How many events the fast path read.
    """
    fast, general = CountingChatParser(model="m"), GeneralChatParser(model="m")
    for event in events:
        assert step(fast, event) == step(general, event), event
    assert results(fast) == results(general)
    return fast.taken


def fixture_events(path: Path) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = decoder.feed(path.read_bytes())
    decoder.end()
    return events


CHAT_FIXTURES = sorted((PROVIDER_FIXTURES / "openai-chat").glob("*.sse"))


@pytest.mark.parametrize("path", CHAT_FIXTURES, ids=lambda p: p.name)
def test_chat_fixtures_parse_as_the_general_path_does(path: Path) -> None:
    assert_same_parsing(fixture_events(path))


def test_chat_fast_path_reads_the_text_chunks_of_the_fixtures() -> None:
    """Most recorded streams are tool calls or reasoning; their 39 plain text chunks take it."""
    taken = sum(assert_same_parsing(fixture_events(path)) for path in CHAT_FIXTURES)
    assert taken >= 39  # the comparison above is not vacuous


def _chunk(
    *,
    content: Any = "Hi",
    index: Any = 0,
    finish: Any = None,
    extra_delta: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": index,
        "delta": {"content": content, **(extra_delta or {})},
        "logprobs": None,
        "finish_reason": finish,
    }
    payload: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-x",
        "choices": [choice],
        "usage": None,
        **(extra or {}),
    }
    for key in drop:
        payload.pop(key, None)
        choice.pop(key, None)
    return payload


_CHUNKS = st.one_of(
    st.builds(_chunk, content=st.sampled_from(["Hi", "", " there", None, 7, [{"text": "a"}]])),
    st.builds(_chunk, index=st.sampled_from([0, 1, True, "0", None, -1])),
    st.builds(_chunk, finish=st.sampled_from(["stop", "length", "", 0, "tool_calls"])),
    st.builds(
        _chunk,
        extra_delta=st.sampled_from(
            [
                {"role": "assistant"},
                {"reasoning_content": "r"},
                {"reasoning": "r"},
                {"refusal": "no"},
                {"refusal": None},
                {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f"}}]},
            ]
        ),
    ),
    st.builds(
        _chunk,
        extra=st.sampled_from(
            [
                {"usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
                {"x_groq": {"usage": {"prompt_tokens": 1}}},
                {"x_groq": {}},
                {"error": {"message": "boom", "code": 500}},
                {"error": None},
                {"model": ""},
                {"model": 3},
                {"model": "other"},
                {"id": ""},
                {"choices": []},
                {"choices": [None]},
                {"choices": "x"},
            ]
        ),
    ),
    st.builds(_chunk, drop=st.sampled_from([("id",), ("model",), ("usage",), ("index",)])),
    st.builds(
        lambda a, b: {**a, "choices": [*a["choices"], *b["choices"]]},
        st.builds(_chunk),
        st.builds(_chunk, index=st.sampled_from([0, 1])),
    ),
)


@settings(max_examples=300)
@given(
    chunks=st.lists(st.tuples(_CHUNKS, st.sampled_from(["message", "message", "error"]))),
    done=st.booleans(),
)
def test_generated_chat_chunks_parse_as_the_general_path_does(
    chunks: list[tuple[dict[str, Any], str]], done: bool
) -> None:
    """Every condition of the fast path, each broken in turn, in any order (P-09)."""
    events = [ServerSentEvent(json.dumps(c), kind) for c, kind in chunks]
    assert_same_parsing([*events, *([ServerSentEvent("[DONE]")] if done else [])])


def test_chat_fast_path_notes_the_model_and_the_text() -> None:
    parser = OpenAIChatStreamParser(model="asked")
    first = _chunk(content="", extra_delta={"role": "assistant"})
    assert parser.feed(ServerSentEvent(json.dumps(first))) == []
    assert parser._text_chunk(_chunk(content="a", extra={"model": "m2"}), "message") == [
        TextDelta(text="a")
    ]
    assert parser._text_chunk(_chunk(content="", extra={"model": "m2"}), "message") == []
    assert parser._text_chunk(_chunk(content="b", extra={"model": ""}), "message") == [
        TextDelta(text="b")
    ]
    parser.feed(ServerSentEvent("[DONE]"))
    response = parser.response()
    assert (response.text, response.model) == ("ab", "m2")


def test_chat_fast_path_waits_for_the_first_chunk() -> None:
    """Before a choice was seen (and the response id noted), chunks take the general path."""
    parser = OpenAIChatStreamParser(model="m")
    assert parser._text_chunk(_chunk(), "message") is None
    parser.feed(ServerSentEvent(json.dumps(_chunk(drop=("id",)))))
    assert parser._text_chunk(_chunk(), "message") is None  # still no response id


# ---------------------------------------------------------------- ModelStream and _feed_data


class FeedOnly:
    """A parser offering only the :class:`StreamParser` protocol (no ``_feed_data``)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @property
    def builder(self) -> MessageBuilder:
        builder: MessageBuilder = self._inner.builder
        return builder

    @property
    def done(self) -> bool:
        return bool(self._inner.done)

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        events: list[StreamEvent] = self._inner.feed(event)
        return events

    def response(self) -> ModelResponse:
        response: ModelResponse = self._inner.response()
        return response

    def partial(self) -> ModelResponse:
        response: ModelResponse = self._inner.partial()
        return response


def feed_only(cls: type[HTTPAdapter]) -> type[HTTPAdapter]:
    """``cls`` with its stream parser wrapped in :class:`FeedOnly`."""

    class Plain(cls):  # type: ignore[valid-type,misc]
        def _parser(self, request: ModelRequest) -> Any:
            return FeedOnly(super()._parser(request))

    return Plain


class Reads(httpx.AsyncByteStream):
    """A body delivered in the given reads; its iterator is no async generator (trio warns)."""

    def __init__(self, reads: Sequence[bytes | bytearray]) -> None:
        self._reads = list(reads)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _Reader(iter(self._reads))

    async def aclose(self) -> None:
        pass


class _Reader:
    def __init__(self, reads: Any) -> None:
        self._reads = reads

    def __aiter__(self) -> _Reader:
        return self

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        for read in self._reads:
            read_: bytes = read  # as given: bytes, or a bytearray to test that path
            return read_
        raise StopAsyncIteration


def by_event(data: bytes) -> list[bytes]:
    """One read per event (after each blank line, whatever the line endings)."""
    return [part for part in re.split(rb"(?<=\r\n\r\n)|(?<=\n\n)|(?<=\r\r)", data) if part]


def read_by_event(path: Path) -> list[bytes]:
    """The recorded stream ``path``, one read per event."""
    return by_event(path.read_bytes())


KEY = "sk-fast-path-secret"
ASK = ModelRequest(messages=[Message.user("hi")])
PROVIDERS: dict[str, type[HTTPAdapter]] = {
    "openai-chat": OpenAIChat,
    "openai-responses": OpenAIResponses,
    "anthropic-messages": AnthropicMessages,
    "gemini": Gemini,
}
STREAMS = sorted(PROVIDER_FIXTURES.glob("*/*.sse"))


async def run(
    cls: type[HTTPAdapter], reads: Sequence[bytes | bytearray], **options: Any
) -> tuple[list[StreamEvent], Any, int]:
    """Stream ``reads`` through ``cls``: the events, then the response or the error, and
    the connections left open."""
    transport = httpx.MockTransport(
        lambda _: httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "x-request-id": "req-1"},
            stream=Reads(reads),
        )
    )
    events: list[StreamEvent] = []
    options.setdefault("retry", RetryPolicy(max_retries=0))
    async with httpx.AsyncClient(transport=transport) as client:
        adapter = cls("model-x", api_key=KEY, http_client=client, **options)
        try:
            async with adapter.stream(ASK) as stream:
                async for event in stream:
                    events.append(event)  # noqa: PERF401 - the events before an error count
        except ProviderError as exc:
            return events, describe(exc), 0
    return events, stream.response, 0


def describe(exc: ProviderError) -> tuple[Any, ...]:
    partial = exc.partial if isinstance(exc, StreamInterrupted) else None
    cause = exc.cause if isinstance(exc, StreamInterrupted) else None
    return type(exc), str(exc), exc.code, exc.request_id, partial, type(cause), str(cause)


@pytest.mark.parametrize("keep_raw", [False, True])
@pytest.mark.parametrize("path", STREAMS, ids=lambda p: f"{p.parent.name}/{p.name}")
async def test_fixture_streams_give_what_feed_gives(path: Path, keep_raw: bool) -> None:
    """P-07, P-09, P-10: text, calls, usage, errors and partial answers, raw payloads kept."""
    cls = PROVIDERS[path.parent.name]
    reads = read_by_event(path)
    fast = await run(cls, reads, keep_raw=keep_raw)
    plain = await run(feed_only(cls), reads, keep_raw=keep_raw)
    assert fast == plain
    if keep_raw and not isinstance(fast[1], tuple):
        assert fast[1].raw == plain[1].raw  # (raw is left out of ModelResponse's ==)


@pytest.mark.parametrize(
    "parser",
    [
        lambda: OpenAIChatStreamParser(model="m"),
        OpenAIResponsesStreamParser,
        AnthropicStreamParser,
        lambda: GeminiStreamParser(model="m"),
    ],
)
def test_feed_data_is_feed(parser: Callable[[], Any]) -> None:
    """Each parser's ``_feed_data(data, type)`` is its ``feed(ServerSentEvent(data, type))``."""
    for path in STREAMS:
        by_event_, by_data = parser(), parser()
        for event in fixture_events(path):
            one = _outcome(functools.partial(by_event_.feed, event))
            assert one == _outcome(functools.partial(by_data._feed_data, event.data, event.event))
        assert _outcome(by_event_.partial) == _outcome(by_data.partial)


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ProviderError as exc:
        return type(exc), str(exc)


async def test_an_in_band_error_through_the_fast_path_is_scrubbed() -> None:
    """SE-03, P-09: a key echoed in an error event is redacted, as on the general path."""
    reads = [
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
        b'data: {"error":{"message":"bad key ' + KEY.encode() + b'","code":"x"}}\n\n',
    ]
    fast = await run(OpenAIChat, reads)
    assert fast == await run(feed_only(OpenAIChat), reads)
    kind, message, *_ = fast[1]
    assert kind is StreamInterrupted
    assert KEY not in message
    assert "REDACTED" in message


async def test_a_read_of_several_events_takes_the_general_path() -> None:
    """An error after output in the same read is delivered after that output (P-07)."""
    text = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"%s"}}]}\n\n'
    reads = [
        text % b"a",
        text % b"b" + text % b"c" + b'data: {"error":{"message":"boom"}}\n\n',
    ]
    events, error, _ = await run(OpenAIChat, reads)
    assert [e.text for e in events] == ["a", "b", "c"]  # type: ignore[union-attr]
    assert error[0] is StreamInterrupted
    assert error[4].text == "abc"


@pytest.mark.parametrize(("status", "attempts"), [(None, 1), (429, 3)])
async def test_output_in_the_first_read_is_not_lost_to_an_error(
    status: int | None, attempts: int, autojump_clock: trio.abc.Clock
) -> None:
    """P-07, P-09: output and an in-band error in the very first read.

    Nothing was delivered, so a retryable error is retried (every attempt
    here fails the same way). The error that ends the stream is a
    ``StreamInterrupted`` carrying the last attempt's output, retryable or
    not: it is never dropped.
    """
    code = b',"code":%d' % status if status else b""
    reads = [
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n'
        b'data: {"error":{"message":"boom"%s}}\n\n' % code
    ]
    events, error, _ = await run(OpenAIChat, reads, retry=RetryPolicy(max_retries=2))
    assert events == []
    kind, message, _, request_id, partial, cause, cause_message = error
    assert kind is StreamInterrupted
    assert partial.text == "Hello"
    assert partial.attempts == attempts
    assert "boom" in message
    assert "boom" in cause_message
    assert request_id == "req-1"
    assert cause is not StreamInterrupted


async def test_a_body_of_bytearrays_is_read_as_bytes() -> None:
    """Reads that are not ``bytes`` (a custom transport's) go through the general path."""
    reads = [bytearray(r) for r in read_by_event(STREAMS[0])]
    assert await run(OpenAIChat, reads) == await run(OpenAIChat, [bytes(r) for r in reads])


# ---------------------------------------------------------------- closing a finished stream


async def test_a_finished_stream_is_closed_once_and_the_pool_is_empty() -> None:
    """httpx closes the response at EOF; aclose then has nothing left to close."""
    path = PROVIDER_FIXTURES / "openai-chat" / "stream-text-include-usage.sse"
    closes: list[int] = []

    class Counted(Reads):
        async def aclose(self) -> None:
            closes.append(1)

    transport = httpx.MockTransport(
        lambda _: httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=Counted(read_by_event(path)),
        )
    )
    async with httpx.AsyncClient(transport=transport) as client:
        adapter = OpenAIChat("m", api_key=KEY, http_client=client)
        async with adapter.stream(ASK) as stream:
            async for _ in stream:
                pass
            response = stream._response
            assert stream._chunks is None
            assert response is not None
            assert response.is_closed
        assert getattr(stream, "_response") is None  # noqa: B009 - mypy narrowed it above
        assert closes == [1]


async def test_a_stream_left_early_is_closed() -> None:
    path = PROVIDER_FIXTURES / "openai-chat" / "stream-text-include-usage.sse"
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(
            lambda _: httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=Reads(read_by_event(path)),
            )
        )
    ) as client:
        adapter = OpenAIChat("m", api_key=KEY, http_client=client)
        async with adapter.stream(ASK) as stream:
            async for _ in stream:
                break
            response = stream._response
            assert response is not None
            assert not response.is_closed
        assert getattr(response, "is_closed")  # noqa: B009 - mypy narrowed it above


def test_model_stream_is_the_public_stream_type() -> None:
    adapter = OpenAIChat("m", api_key=KEY)
    assert isinstance(adapter.stream(ASK), ModelStream)


# ---------------------------------------------------------------- private event constructors


@pytest.mark.parametrize(
    ("fast", "public"),
    [
        (lambda: _text_delta("a"), lambda: TextDelta(text="a")),
        (lambda: _reasoning_delta("r", True), lambda: ReasoningDelta(text="r", summary=True)),
        (lambda: _reasoning_delta("r", False), lambda: ReasoningDelta(text="r")),
        (lambda: _tool_call_delta(2, "{"), lambda: ToolCallDelta(index=2, arguments="{")),
    ],
)
def test_fast_event_constructors_build_the_public_values(
    fast: Callable[[], Any], public: Callable[[], Any]
) -> None:
    value, expected = fast(), public()
    assert type(value) is type(expected)
    assert value == expected
    assert hash(value) == hash(expected)
    assert repr(value) == repr(expected)
    assert to_wire(value) == to_wire(expected)
    assert from_wire(to_wire(value), type(expected)) == expected
    assert attrs.asdict(value) == attrs.asdict(expected)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        value.kind = "x"


# ---------------------------------------------------------------- the rest of the touched modules
# Branches of _base.py, _accumulate.py and types.py that no other test file reaches.


def test_adapter_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="model must be a non-empty str"):
        OpenAIResponses("")
    with pytest.raises(TypeError, match="retry must be a RetryPolicy"):
        Gemini("m", retry=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a ModelRequest, got str"):
        OpenAIChat("m", api_key=KEY).stream("hi")  # type: ignore[arg-type]


async def test_an_adapter_without_a_client_makes_one_and_closes_it() -> None:
    async with Gemini("m", api_key=KEY) as adapter:
        client = adapter.http_client
        assert adapter.http_client is client
        assert not client.is_closed
    assert getattr(client, "is_closed")  # noqa: B009 - mypy narrowed it above
    assert adapter._client is None
    await adapter.aclose()  # again: nothing left to close


def test_a_keyless_adapter_sends_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    class Local(AnthropicMessages):
        needs_key = False

    assert Local("m")._api_key() is None
    error = ProviderError("the server said no")
    assert Local("m")._scrub(error) is error
    with pytest.raises(ProviderError, match="no API key for anthropic"):
        AnthropicMessages("m")._api_key()
    assert AnthropicMessages("m")._scrub(error).message == "the server said no"


async def test_a_model_stream_is_used_inside_async_with_once() -> None:
    reads = read_by_event(PROVIDER_FIXTURES / "openai-chat" / "stream-text-include-usage.sse")
    transport = httpx.MockTransport(
        lambda _: httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Reads(reads)
        )
    )
    async with httpx.AsyncClient(transport=transport) as client:
        stream = OpenAIChat("m", api_key=KEY, http_client=client).stream(ASK)
        assert stream.partial() is None  # nothing sent yet
        with pytest.raises(RuntimeError, match="inside `async with"):
            await stream.__anext__()
        async with stream:
            assert [e async for e in stream][-1].kind == "finish"
        with pytest.raises(RuntimeError, match="entered only once"):
            await stream.__aenter__()


def test_builder_updates_and_late_argument_copies() -> None:
    parser = AnthropicStreamParser()
    builder = parser.builder
    builder.tool_start(0, "c1", "f")
    builder.tool_update(0, id="c2", name="g", signature="sig")
    builder.tool_replace_arguments(0, '{"a": 1}')
    end = builder.tool_end(0)
    assert end is not None
    builder.tool_replace_arguments(0, '{"a": 2}')  # after the end: changes nothing
    call = builder.message().tool_calls[0]
    assert (call.id, call.name, call.signature) == ("c2", "g", "sig")
    assert dict(call.arguments) == {"a": 1}
    assert call == end.call


def test_a_request_refuses_one_str_as_its_stop_sequences() -> None:
    with pytest.raises(ValueError, match=r"ModelRequest\.stop: expected a sequence of strings"):
        ModelRequest(messages=[Message.user("hi")], stop="END")


_COUNTS = st.one_of(
    st.integers(-3, 2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=1),
)


@given(st.tuples(*[st.integers(0, 2**70)] * 5))
def test_checked_usage_is_usage(counts: tuple[int, int, int, int, int]) -> None:
    fields = (
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    )
    usage = _checked_usage(*counts)
    expected = Usage(**dict(zip(fields, counts, strict=True)))
    assert usage == expected
    assert (repr(usage), hash(usage)) == (repr(expected), hash(expected))
    assert usage + usage == expected + expected
    assert to_wire(usage) == to_wire(expected)


@pytest.mark.parametrize(
    ("usage_of", "keys"),
    [
        (
            openai_chat_module._usage,
            {
                "prompt_tokens": None,
                "completion_tokens": None,
                "total_tokens": None,
                "prompt_cache_hit_tokens": None,
                "prompt_tokens_details": "cached_tokens",
                "completion_tokens_details": "reasoning_tokens",
            },
        ),
        (
            openai_responses_module._usage,
            {
                "input_tokens": None,
                "output_tokens": None,
                "input_tokens_details": "cached_tokens",
                "output_tokens_details": "reasoning_tokens",
            },
        ),
        (
            anthropic_module._usage,
            {
                "input_tokens": None,
                "output_tokens": None,
                "cache_read_input_tokens": None,
                "cache_creation_input_tokens": None,
            },
        ),
        (
            gemini_module._usage,
            {
                "promptTokenCount": None,
                "toolUsePromptTokenCount": None,
                "thoughtsTokenCount": None,
                "candidatesTokenCount": None,
                "cachedContentTokenCount": None,
            },
        ),
    ],
    ids=["openai-chat", "openai-responses", "anthropic", "gemini"],
)
@given(data=st.data())
def test_every_parser_usage_passes_the_public_checks(
    usage_of: Callable[[Any], Usage | None], keys: dict[str, str | None], data: st.DataObject
) -> None:
    """The counts a parser reads are checked before the unvalidated constructor gets them."""
    raw: dict[str, Any] = {}
    for key, inner in keys.items():
        if data.draw(st.booleans()):
            count = data.draw(_COUNTS)
            raw[key] = count if inner is None else {inner: count}
    usage = usage_of(raw)
    assert usage is not None
    assert Usage(**attrs.asdict(usage)) == usage  # the public validators accept every field
