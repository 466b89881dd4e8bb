"""The stream parsers' fast paths for text read exactly as their general paths.

Each parser reads its commonest event without its general dispatch:

- ``OpenAIChatStreamParser._text_by_text``: a chunk that starts with the
  head learned from an earlier text chunk (its fields up to the content
  string), read as text: the content string by ``json``'s string scanner,
  then one of a few fixed tails, without building the chunk's objects;

- ``OpenAIResponsesStreamParser._text_delta``: a ``response.output_text.delta``
  with integer indexes and a string delta;
- ``AnthropicStreamParser._text_delta``: a ``content_block_delta`` of a
  ``text_delta`` with an integer index and a string text;
- ``GeminiStreamParser._lone_text``: a chunk whose one candidate has no finish
  reason and one ``{"text": <str>}`` part; and ``_take_usage``, which does not
  read again the ``usageMetadata`` Gemini repeats on every chunk.

Each is checked against the parser with the shortcut switched off, event by
event (the events out, or the error raised) and at the end (the response,
the partial answer, whether output was emitted), on every recorded stream of
its provider and on generated sequences that break each condition in turn
(P-09, P-10).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.adapters.anthropic import AnthropicStreamParser
from actrio.adapters.errors import ProviderError
from actrio.adapters.gemini import GeminiStreamParser
from actrio.adapters.openai_chat import OpenAIChatStreamParser
from actrio.adapters.openai_responses import OpenAIResponsesStreamParser
from actrio.adapters.sse import ServerSentEvent, SSEDecoder
from actrio.types import TextDelta, Usage, UsageUpdate
from provider_fixtures import PROVIDER_FIXTURES

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from actrio.types import StreamEvent

# ---------------------------------------------------------------- the parsers, with and without


class CountingResponses(OpenAIResponsesStreamParser):
    taken = 0

    def _text_delta(self, payload: dict[str, Any]) -> list[StreamEvent] | None:
        events = super()._text_delta(payload)
        self.taken += events is not None
        return events


class GeneralResponses(OpenAIResponsesStreamParser):
    def _text_delta(self, payload: dict[str, Any]) -> list[StreamEvent] | None:
        return None


class CountingAnthropic(AnthropicStreamParser):
    taken = 0

    def _text_delta(self, payload: Mapping[str, Any]) -> str | None:  # type: ignore[override]
        text = AnthropicStreamParser._text_delta(payload)
        self.taken += text is not None
        return text


class GeneralAnthropic(AnthropicStreamParser):
    def _text_delta(self, payload: Mapping[str, Any]) -> str | None:  # type: ignore[override]
        return None


class CountingGemini(GeminiStreamParser):
    taken = 0

    def _lone_text(self, candidates: object) -> str | None:
        text = super()._lone_text(candidates)
        self.taken += text is not None
        return text


class GeneralGemini(GeminiStreamParser):
    def _lone_text(self, candidates: object) -> str | None:
        return None

    def _take_usage(self, meta: dict[str, Any], events: list[StreamEvent]) -> None:
        self._meta = None  # read the usage of every chunk
        super()._take_usage(meta, events)


PAIRS: dict[str, tuple[Any, Any]] = {
    "openai-responses": (CountingResponses, GeneralResponses),
    "anthropic-messages": (CountingAnthropic, GeneralAnthropic),
    "gemini": (lambda: CountingGemini(model="m"), lambda: GeneralGemini(model="m")),
}


def step(parser: Any, event: ServerSentEvent) -> Any:
    try:
        return parser.feed(event)
    except ProviderError as exc:
        return type(exc), str(exc), exc.code, exc.status


def results(parser: Any) -> tuple[Any, ...]:
    def outcome(fn: Any) -> Any:
        try:
            return fn()
        except ProviderError as exc:
            return type(exc), str(exc)

    response = outcome(parser.response) if parser.done else None
    return response, outcome(parser.partial), parser.builder.emitted, parser.done


def assert_same_parsing(provider: str, events: Sequence[ServerSentEvent]) -> int:
    """Feed ``events`` to ``provider``'s parser with and without its fast path; compare all.

    Returns:
        How many events the fast path read.
    """
    fast_factory, general_factory = PAIRS[provider]
    fast, general = fast_factory(), general_factory()
    for event in events:
        assert step(fast, event) == step(general, event), event
    assert results(fast) == results(general)
    taken: int = fast.taken
    return taken


def fixture_events(path: Path) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = decoder.feed(path.read_bytes())
    decoder.end()
    return events


FIXTURES = [p for name in PAIRS for p in sorted((PROVIDER_FIXTURES / name).glob("*.sse"))]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recorded_streams_parse_as_the_general_path_does(path: Path) -> None:
    assert_same_parsing(path.parent.name, fixture_events(path))


@pytest.mark.parametrize("provider", list(PAIRS))
def test_the_fast_paths_read_the_recorded_text(provider: str) -> None:
    """The comparison above is not vacuous: each fast path reads recorded events."""
    taken = sum(
        assert_same_parsing(provider, fixture_events(path))
        for path in sorted((PROVIDER_FIXTURES / provider).glob("*.sse"))
    )
    assert taken >= 5


def sse(payload: Any, kind: str = "message") -> ServerSentEvent:
    return ServerSentEvent(json.dumps(payload), kind)


# ---------------------------------------------------------------- Responses

_TEXT_ITEM = {"type": "message", "id": "m1", "role": "assistant", "content": []}
_RESPONSES_SETUP = [
    {"type": "response.created", "response": {"id": "r1", "model": "gpt-x", "status": "x"}},
    {"type": "response.output_item.added", "output_index": 0, "item": _TEXT_ITEM},
    {
        "type": "response.content_part.added",
        "output_index": 0,
        "content_index": 0,
        "part": {"type": "output_text", "text": ""},
    },
]


def _text_delta(**fields: Any) -> dict[str, Any]:
    payload = {"type": "response.output_text.delta", "output_index": 0, "content_index": 0}
    return {**payload, "delta": "Hi", "item_id": "m1", **fields}


_ODD = [True, "0", None, -1, 1, 1.0]
_RESPONSES_EVENTS = st.one_of(
    st.builds(_text_delta),
    st.builds(_text_delta, output_index=st.sampled_from(_ODD)),
    st.builds(_text_delta, content_index=st.sampled_from(_ODD)),
    st.builds(_text_delta, delta=st.sampled_from(["", None, 7, " there", "\u2028"])),
    st.just({"type": "response.output_text.delta", "delta": "x"}),
    st.just({"type": "response.output_text.delta", "output_index": 0, "delta": "x"}),
    st.builds(
        lambda text: {
            "type": "response.output_text.done",
            "output_index": 0,
            "content_index": 0,
            "text": text,
        },
        st.sampled_from(["Hi", "HiHi there", "other", ""]),
    ),
    st.just(
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "n"}
    ),
    st.just({"type": "error", "code": "server_error", "message": "boom"}),
    st.just(
        {
            "type": "response.completed",
            "response": {"id": "r1", "status": "completed", "output": [], "usage": None},
        }
    ),
)


@settings(max_examples=300)
@given(events=st.lists(_RESPONSES_EVENTS, max_size=8))
def test_generated_responses_events_parse_as_the_general_path_does(
    events: list[dict[str, Any]],
) -> None:
    assert_same_parsing("openai-responses", [sse(e) for e in [*_RESPONSES_SETUP, *events]])


def test_responses_fast_path_keeps_the_text_for_the_done_event() -> None:
    """The ``.done`` event adds only what the deltas did not carry, as on the general path."""
    parser = OpenAIResponsesStreamParser()
    for payload in _RESPONSES_SETUP:
        parser.feed(sse(payload))
    assert parser._text_delta(_text_delta(delta="Hel")) == [TextDelta(text="Hel")]
    assert parser._text_delta(_text_delta(delta="")) == []
    assert parser._text_delta(_text_delta(output_index=True)) is None
    done = {"type": "response.output_text.done", "output_index": 0, "content_index": 0}
    assert parser.feed(sse({**done, "text": "Hello"})) == [TextDelta(text="lo")]


# ---------------------------------------------------------------- Anthropic

_ANTHROPIC_SETUP = [
    {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 3}},
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
]


def _block_delta(index: Any = 0, **delta: Any) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "text_delta", "text": "Hi", **delta},
    }


_ANTHROPIC_EVENTS = st.tuples(
    st.one_of(
        st.builds(_block_delta),
        st.builds(_block_delta, index=st.sampled_from(_ODD)),
        st.builds(_block_delta, text=st.sampled_from(["", None, 7, " there"])),
        st.builds(_block_delta, type=st.sampled_from(["thinking_delta", "input_json_delta", 3])),
        st.just({"type": "content_block_delta", "index": 0, "delta": "x"}),
        st.just({"type": "content_block_delta", "index": 0}),
        st.just({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}}),
        st.just({"type": "ping"}),
        st.just({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
        st.just({"type": "content_block_stop", "index": 0}),
        st.just({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}}),
        st.just({"type": "message_stop"}),
    ),
    st.sampled_from(["message", "message", "content_block_delta", "error"]),
)


@settings(max_examples=300)
@given(events=st.lists(_ANTHROPIC_EVENTS, max_size=8))
def test_generated_anthropic_events_parse_as_the_general_path_does(
    events: list[tuple[dict[str, Any], str]],
) -> None:
    setup = [sse(e, e["type"]) for e in _ANTHROPIC_SETUP]
    assert_same_parsing("anthropic-messages", [*setup, *(sse(e, kind) for e, kind in events)])


@pytest.mark.parametrize("data", ["", "  ", "\t\n"])
def test_anthropic_blank_data_is_nothing(data: str) -> None:
    assert AnthropicStreamParser().feed(ServerSentEvent(data)) == []


# ---------------------------------------------------------------- Gemini


def _gemini(
    text: Any = "Hi",
    *,
    part: Mapping[str, Any] | None = None,
    parts: Any = None,
    candidate: Mapping[str, Any] | None = None,
    candidates: Any = None,
    meta: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    one_part = {"text": text, **(part or {})}
    content = {"parts": [one_part] if parts is None else parts, "role": "model"}
    one = {"content": content, **(candidate or {})}
    payload: dict[str, Any] = {
        "candidates": [one] if candidates is None else candidates,
        "usageMetadata": {"promptTokenCount": 15, "totalTokenCount": 15} if meta is None else meta,
        "modelVersion": "gemini-x",
        "responseId": "r1",
        **(extra or {}),
    }
    return payload


_GEMINI_CHUNKS = st.one_of(
    st.builds(_gemini),
    st.builds(_gemini, st.sampled_from(["", None, 7, " there", "\u2028"])),
    st.builds(
        _gemini,
        part=st.sampled_from(
            [
                {"thought": True},
                {"thought": False},
                {"thoughtSignature": "sig"},
                {"functionCall": {"name": "f", "args": {"a": 1}}},
            ]
        ),
    ),
    st.builds(_gemini, parts=st.sampled_from([[], [{"text": "a"}, {"text": "b"}], [None], "x"])),
    st.builds(
        _gemini,
        candidate=st.sampled_from(
            [
                {"finishReason": "STOP"},
                {"finishReason": ""},
                {"finishReason": "MAX_TOKENS"},
                {"finishReason": 3},
                {"safetyRatings": []},
                {"content": {"parts": [{"text": "x"}]}},
                {"content": None},
            ]
        ),
    ),
    st.builds(
        _gemini,
        candidates=st.sampled_from(
            [[], None, [None], "x", [{"content": {"parts": [{"text": "a"}]}}] * 2]
        ),
    ),
    st.builds(
        _gemini,
        meta=st.sampled_from(
            [
                {"promptTokenCount": 15, "totalTokenCount": 15},
                {"promptTokenCount": 15.0, "totalTokenCount": 15},
                {"promptTokenCount": True, "totalTokenCount": 15},
                {"promptTokenCount": 1, "totalTokenCount": 15},
                {"totalTokenCount": 15, "promptTokenCount": 15},
                {"promptTokenCount": 15, "candidatesTokenCount": 4, "totalTokenCount": 19},
                {"promptTokenCount": 15, "thoughtsTokenCount": 2},
                {},
                "x",
            ]
        ),
    ),
    st.builds(
        _gemini,
        extra=st.sampled_from(
            [
                {"error": {"code": 500, "message": "boom", "status": "INTERNAL"}},
                {"error": None},
                {"modelVersion": ""},
                {"modelVersion": "other"},
                {"responseId": 3},
                {"promptFeedback": {"blockReason": "SAFETY"}},
            ]
        ),
    ),
)


@settings(max_examples=300)
@given(chunks=st.lists(_GEMINI_CHUNKS, max_size=8))
def test_generated_gemini_chunks_parse_as_the_general_path_does(
    chunks: list[dict[str, Any]],
) -> None:
    fast, general = CountingGemini(model="m"), GeneralGemini(model="m")
    for chunk in chunks:
        event = sse(chunk)
        assert step(fast, event) == step(general, event), chunk
        assert fast.usage == general.usage
    assert results(fast) == results(general)


def test_gemini_usage_repeated_is_read_once_and_changes_are_seen() -> None:
    """Equal counts of another type (``true``, ``15.0``) are not the same usage."""
    parser = GeminiStreamParser(model="m")
    assert parser.feed(sse(_gemini("a"))) == [
        TextDelta(text="a"),
        UsageUpdate(usage=Usage(input_tokens=15)),
    ]
    assert parser.feed(sse(_gemini("b"))) == [TextDelta(text="b")]
    floats = {"promptTokenCount": 15.0, "totalTokenCount": 15}
    assert parser.feed(sse(_gemini("c", meta=floats))) == [
        TextDelta(text="c"),
        UsageUpdate(usage=Usage()),  # a float is not a count
    ]
    assert parser.feed(sse(_gemini("d"))) == [
        TextDelta(text="d"),
        UsageUpdate(usage=Usage(input_tokens=15)),
    ]
    assert parser.usage == Usage(input_tokens=15)


# ---------------------------------------------------------------- OpenAI Chat, read as text


class CountingChat(OpenAIChatStreamParser):
    taken = 0

    def _text_by_text(self, data: str, start: int) -> list[StreamEvent] | None:
        events = super()._text_by_text(data, start)
        self.taken += events is not None
        return events


class GeneralChat(OpenAIChatStreamParser):
    """Neither the text-chunk shortcut nor, so, a learned head."""

    def _text_chunk(self, payload: dict[str, Any], kind: str) -> list[StreamEvent] | None:
        return None


PAIRS["openai-chat"] = (lambda: CountingChat(model="m"), lambda: GeneralChat(model="m"))

_HEAD = (
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x",'
    '"service_tier":"default","system_fingerprint":"fp_1"'
)
_AT = ',"choices":[{"index":0,"delta":{"content":'
_TAIL = '},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"ab12"}'
_ROLE = ServerSentEvent(
    _HEAD + ',"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}'
)
_OTHER = _HEAD.replace('"gpt-x"', '"other"')
_HEADS = st.sampled_from(
    [
        _HEAD,
        _HEAD.replace('"gpt-x"', '"other"'),
        _HEAD.replace('"gpt-x"', '""'),
        _HEAD.replace('"gpt-x"', "3"),
        _HEAD.replace('"id":"chatcmpl-1",', ""),
        _HEAD + ',"model":"dup"',
        _HEAD + ',"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}',
        _HEAD + ',"error":{"message":"boom"}',
        _HEAD + ',"x_groq":{}',
        _HEAD + ',"choices":[]',
        _HEAD.replace("{", "{ ", 1),
        '{"model":"gpt-x"',
        '{"id":"x,\\"choices\\":[{\\"index\\":0"',
    ]
)
_ATS = st.sampled_from(
    [
        _AT,
        _AT.replace('"index":0', '"index":1'),
        _AT.replace(":[{", ": [{"),
        ',"choices":[{"delta":{"content":',
    ]
)
_TEXTS = st.one_of(
    st.text(max_size=6).map(json.dumps),
    st.text(max_size=6).map(lambda t: json.dumps(t, ensure_ascii=False)),
    st.sampled_from(
        [
            '"\\ud800"',
            '"a\\u2028b"',
            '"tab\there"',  # a raw control character: not JSON
            '"\\x"',
            '"open',
            '"quote \\" inside"',
            "null",
            "7",
        ]
    ),
)
_TAILS = st.sampled_from(
    [
        _TAIL,
        "}}]}",
        '}}],"usage":null}',
        '},"finish_reason":null}]}',
        '},"logprobs":null,"finish_reason":null}],"obfuscation":"x"}',
        '},"logprobs":null,"finish_reason":"stop"}]}',
        '},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":2}}',
        '},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"a-b"}',
        ',"role":"assistant"},"finish_reason":null}]}',
        ',"reasoning_content":null},"finish_reason":null}]}',
        '}}],"model":"late"}',
        '}}],"choices":[]}',
        '}}],"error":{"message":"boom","code":500}}',
        '}},{"index":1,"delta":{"content":"b"}}]}',
        '},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"a\\"}',
        "}}]} ",
        "}}]}x",
        "}}]",
    ]
)


#: A text chunk with one of its four parts changed (or none: its text is generated).
_VARIANTS = st.one_of(
    _TEXTS.map(lambda text: _HEAD + _AT + text + _TAIL),
    _HEADS.map(lambda head: head + _AT + '"x"' + _TAIL),
    _ATS.map(lambda at: _HEAD + at + '"x"' + _TAIL),
    _TAILS.map(lambda tail: _HEAD + _AT + '"x"' + tail),
    # Another model noted by chunks the shortcut does not take (a finish, a role).
    st.sampled_from(
        [
            _OTHER + _AT + '"x"},"logprobs":null,"finish_reason":"stop"}]}',
            _OTHER + ',"choices":[{"index":0,"delta":{"role":"assistant"}}]}',
        ]
    ),
)
#: The chunk a head is learned from.
_FIRST = ServerSentEvent(_HEAD + _AT + '"Hi"' + _TAIL)


@settings(max_examples=500)
@given(
    chunks=st.lists(
        st.tuples(_VARIANTS, st.sampled_from(["message", "message", "message", "error"])),
        max_size=6,
    ),
    learned=st.booleans(),
    done=st.booleans(),
)
def test_generated_chat_chunks_read_as_text_read_as_json(
    chunks: list[tuple[str, str]], learned: bool, done: bool
) -> None:
    """Every way a chunk can differ from its learned head's form, each read as JSON reads it.

    Heads with other fields, a duplicate or another model; choices of
    another index or layout; texts with escapes, surrogates, raw control
    characters, or not strings; tails with a finish reason, a usage, other
    padding, more delta fields, a late model, more choices, an error, bytes
    after the object, or cut short (P-09, P-10).
    """
    first = [_FIRST] if learned else []
    events = [_ROLE, *first, *(ServerSentEvent(text, kind) for text, kind in chunks)]
    assert_same_parsing("openai-chat", [*events, *([ServerSentEvent("[DONE]")] if done else [])])


def test_chat_chunks_are_read_as_text_once_a_head_is_learned() -> None:
    """The generated comparison is not vacuous: the usual chunk takes the shortcut."""
    texts = ['"Hel"', '"lo"', '"\\u2028"', '""', '"!"']
    events = [_ROLE, *(ServerSentEvent(_HEAD + _AT + t + _TAIL) for t in texts)]
    assert assert_same_parsing("openai-chat", events) == 4  # the first one teaches the head
    # A chunk with the head that the shortcut leaves to JSON teaches nothing new.
    late = ServerSentEvent(_HEAD + _AT + '"x"}}],"model":"late"}')
    parser = CountingChat(model="m")
    for event in [*events, late, events[-1]]:
        parser.feed(event)
    assert parser.taken == 5
    assert parser._head_tries == 3
    assert parser.partial().model == "gpt-x"  # the head's model, again
    parser = OpenAIChatStreamParser(model="m")
    for event in events:
        parser.feed(event)
    parser.feed(ServerSentEvent("[DONE]"))
    assert parser.response().text == "Hello\u2028!"
    assert parser.response().model == "gpt-x"


def test_a_head_is_learned_from_a_few_chunks_at_most() -> None:
    """Chunks whose heads all differ (a counter in them) cost a few tries, then none."""
    parser = CountingChat(model="m")
    parser.feed(_ROLE)
    for i in range(10):
        head = _HEAD.replace('"created":1', f'"created":{i + 2}')
        parser.feed(ServerSentEvent(head + _AT + '"x"' + _TAIL))
    assert parser._head_tries == 0
    assert parser.taken == 0
    assert parser.partial().text == "x" * 10
