"""``complete()``'s quick readers and cheaper builders give what the general paths give.

The per-call benchmark (``bench/test_adapter_benchmarks.py``, issue 4) made a
non-streaming call cheaper; each shortcut is checked here against the path it
skips, on every recorded fixture and on generated input:

- the quick readers of a text-only answer (``_quick_response`` of the
  Responses API, ``_quick_message`` of Anthropic, ``_quick_answer`` of
  Gemini) against the general readers (the Responses stream parser
  replaying the body, the block-by-block Anthropic reader, the Gemini stream
  parser fed the body as one chunk): the same response, or ``None`` where
  the general reader raises or reads anything but text (P-16: a tool call
  cut short is never read the quick way);
- the private constructors of :mod:`actrio.messages` and
  :mod:`actrio.types` against the public, validating ones: every response
  any path builds survives a rebuild through the public constructors;
- :func:`~actrio.adapters._json.plain_json` and the shared JSON encoder
  against what they replace (the adapters' recursive ``_plain`` and
  ``json.dumps``);
- the request bodies built without the default extras or a scan for system
  messages, against the bodies built with them;
- ``complete()`` end to end through an injected transport, on every
  non-streaming fixture (P-15: the request id is stamped on the answer).
"""

from __future__ import annotations

import collections
import copy
import json
import math
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs
import httpx
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.adapters import _base, _json
from actrio.adapters._accumulate import MessageBuilder, text_blocks, text_message
from actrio.adapters._json import plain_json
from actrio.adapters.anthropic import AnthropicMessages, _quick_message, _read_message
from actrio.adapters.errors import ProviderError
from actrio.adapters.gemini import Gemini, _model_path, _quick_answer, _read_answer
from actrio.adapters.openai_chat import OpenAIChat
from actrio.adapters.openai_responses import OpenAIResponses, _quick_response, _read_response
from actrio.adapters.retry import RetryPolicy
from actrio.adapters.sse import SSEDecoder
from actrio.messages import (
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    _assistant_message,
    _text_part,
)
from actrio.types import (
    AnthropicExtras,
    GeminiExtras,
    ModelRequest,
    ModelResponse,
    OpenAIResponsesExtras,
    OutputSchema,
    ToolSpec,
    Usage,
    _model_response,
    from_wire,
    to_wire,
)
from provider_fixtures import PROVIDER_FIXTURES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from actrio.adapters._base import HTTPAdapter

MODEL = "model-x"


# ---------------------------------------------------------------- bodies


def _json_bodies(provider: str) -> Iterator[tuple[str, Any]]:
    """Every recorded non-streaming body (answers and errors) of ``provider``."""
    for path in sorted((PROVIDER_FIXTURES / provider).glob("*.json")):
        if ".request" in path.name or path.name.endswith(".response-meta.json"):
            continue
        yield path.name, json.loads(path.read_text(encoding="utf-8"))


def _stream_payloads(provider: str) -> Iterator[tuple[str, Any]]:
    """The JSON payloads of every recorded stream of ``provider``."""
    for path in sorted((PROVIDER_FIXTURES / provider).glob("*.sse")):
        events = SSEDecoder().feed(path.read_bytes())
        for position, event in enumerate(events):
            try:
                payload = json.loads(event.data)
            except ValueError:
                continue  # [DONE], keep-alives, a deliberately broken event
            yield f"{path.name}#{position}", payload


def _responses_bodies() -> list[tuple[str, Any]]:
    """Responses bodies: the recorded ones, and every ``response`` object a stream carries."""
    bodies = list(_json_bodies("openai-responses"))
    for name, payload in _stream_payloads("openai-responses"):
        if isinstance(payload, dict) and isinstance(payload.get("response"), dict):
            bodies.append((name, payload["response"]))
    return bodies


def _anthropic_bodies() -> list[tuple[str, Any]]:
    """Messages bodies: the recorded ones, and the ``message`` of every ``message_start``."""
    bodies = list(_json_bodies("anthropic-messages"))
    for name, payload in _stream_payloads("anthropic-messages"):
        if isinstance(payload, dict) and isinstance(payload.get("message"), dict):
            bodies.append((name, payload["message"]))
    return bodies


def _gemini_bodies() -> list[tuple[str, Any]]:
    """Gemini bodies: the recorded ones, and every chunk of a stream (each one a body)."""
    return list(_json_bodies("gemini")) + list(_stream_payloads("gemini"))


def _outcome(read: Callable[[], ModelResponse]) -> ModelResponse | ProviderError:
    try:
        return read()
    except ProviderError as exc:
        return exc


def assert_public(response: ModelResponse) -> None:
    """``response`` is a value the public constructors build too, equal in every way."""
    rebuilt = from_wire(to_wire(response), ModelResponse)  # through every validator
    assert rebuilt == response
    assert repr(rebuilt) == repr(response)
    assert Message(role="assistant", parts=response.message.parts) == response.message


def assert_quick_is_general(
    quick: Callable[[Any], ModelResponse | None],
    general: Callable[[Any], ModelResponse],
    body: Any,
) -> ModelResponse | None:
    """The quick reader gives the general reader's response, or declines (``None``).

    It declines wherever the general reader raises. Neither reader may change
    the body.
    """
    before = copy.deepcopy(body)
    fast = quick(body)
    assert body == before
    slow = _outcome(lambda: general(body))
    assert body == before
    if fast is None:
        return None
    assert isinstance(slow, ModelResponse), slow
    assert fast == slow
    assert fast.message.parts == slow.message.parts  # the same part classes, in order
    assert_public(fast)
    return fast


RESPONSES = _responses_bodies()
ANTHROPIC = _anthropic_bodies()
GEMINI = _gemini_bodies()


def _gemini_general(body: Any) -> ModelResponse:
    return _read_answer(body, MODEL)


def _gemini_quick(body: Any) -> ModelResponse | None:
    return _quick_answer(body, MODEL)


def _responses_quick(body: Any) -> ModelResponse | None:
    return _quick_response(body) if isinstance(body, dict) else None


def _anthropic_quick(body: Any) -> ModelResponse | None:
    return _quick_message(body) if isinstance(body, dict) else None


@pytest.mark.parametrize(("name", "body"), RESPONSES, ids=[n for n, _ in RESPONSES])
def test_responses_fixtures_read_as_the_parser_reads_them(name: str, body: Any) -> None:
    assert_quick_is_general(_responses_quick, _read_response, body)


@pytest.mark.parametrize(("name", "body"), ANTHROPIC, ids=[n for n, _ in ANTHROPIC])
def test_anthropic_fixtures_read_as_the_general_reader_reads_them(name: str, body: Any) -> None:
    """P-16: a ``tool_use`` cut short by ``max_tokens`` is left to the general reader."""
    assert_quick_is_general(_anthropic_quick, _read_message, body)


@pytest.mark.parametrize(("name", "body"), GEMINI, ids=[n for n, _ in GEMINI])
def test_gemini_fixtures_read_as_the_parser_reads_them(name: str, body: Any) -> None:
    assert_quick_is_general(_gemini_quick, _gemini_general, body)


@pytest.mark.parametrize(
    ("quick", "general", "bodies", "texts"),
    [
        (_responses_quick, _read_response, RESPONSES, {"nonstream-text.json"}),
        (_anthropic_quick, _read_message, ANTHROPIC, {"nonstream-text-with-system.json"}),
        (
            _gemini_quick,
            _gemini_general,
            GEMINI,
            {"structured-output-response-json-schema.json"},
        ),
    ],
    ids=["openai-responses", "anthropic", "gemini"],
)
def test_the_quick_readers_take_the_text_answers_of_the_fixtures(
    quick: Callable[[Any], ModelResponse | None],
    general: Callable[[Any], ModelResponse],
    bodies: list[tuple[str, Any]],
    texts: set[str],
) -> None:
    """The recorded text answers take the quick way (else the checks above prove nothing)."""
    taken = {name for name, body in bodies if quick(body) is not None}
    assert texts <= taken
    declined = [name for name, body in bodies if quick(body) is None]
    assert declined  # and tool calls, reasoning and errors do not
    for name, body in bodies:
        if name in texts:
            response = quick(body)
            assert response is not None
            assert response.text
            assert response == general(body)


# ---------------------------------------------------------------- generated bodies

_ONE_IN_FIVE = st.sampled_from(range(5))  # (integers() would lean to its ends)
_ONE_IN_TEN = st.sampled_from(range(10))
_ONE_IN_FOUR = st.sampled_from(range(4))


def _mostly(usual: st.SearchStrategy[Any], *odd: st.SearchStrategy[Any]) -> Any:
    """``usual`` nine times in ten, else one of ``odd``: bodies near the quick shape."""
    return _ONE_IN_TEN.flatmap(lambda n: usual if n or not odd else st.one_of(*odd))


_TEXTS = _mostly(st.text(min_size=1, max_size=4), st.just(""), st.none(), st.integers(-1, 1))
_COUNTS = _mostly(st.integers(0, 40), st.integers(-2, -1), st.booleans(), st.none(), st.just("7"))
_IDS = _mostly(st.just("id-1"), st.just(""), st.none(), st.integers(0, 1))


def _fields(draw: st.DrawFn, fields: Mapping[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """A dict of ``fields``, each left out one time in five."""
    return {key: draw(values) for key, values in fields.items() if draw(_ONE_IN_FIVE)}


def _extra(draw: st.DrawFn, body: dict[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with each of ``fields`` (an error, a blocked prompt, ...) one time in four."""
    body.update({key: value for key, value in fields.items() if not draw(_ONE_IN_FOUR)})
    return body


@st.composite
def responses_bodies(draw: st.DrawFn) -> Any:
    part = _mostly(
        st.builds(dict, type=st.just("output_text"), text=_TEXTS, annotations=st.just([])),
        st.builds(dict, type=st.sampled_from(["refusal", "input_text"]), text=_TEXTS),
        st.just({"type": "refusal", "refusal": "no"}),
        st.just("text"),
    )
    item = _mostly(
        st.builds(dict, type=st.just("message"), content=st.lists(part, max_size=3)),
        st.builds(dict, type=st.just("message"), content=st.sampled_from([None, [1], {}])),
        st.just({"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}),
        st.just({"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]}),
        st.just({"type": "web_search_call"}),
        st.integers(0, 1),
    )
    usage = st.fixed_dictionaries(
        {},
        optional={
            "input_tokens": _COUNTS,
            "output_tokens": _COUNTS,
            "input_tokens_details": st.fixed_dictionaries({"cached_tokens": _COUNTS}),
            "output_tokens_details": st.fixed_dictionaries({"reasoning_tokens": _COUNTS}),
        },
    )
    body = _fields(
        draw,
        {
            "status": _mostly(st.just("completed"), st.sampled_from(["incomplete", "failed", 1])),
            "output": _mostly(st.lists(item, max_size=3), st.none(), st.just({})),
            "usage": _mostly(usage, st.none()),
            "id": _IDS,
            "model": _IDS,
        },
    )
    return _extra(
        draw,
        body,
        {
            "incomplete_details": {"reason": "max_output_tokens"},
            "error": {"code": "server_error", "message": "boom"},
        },
    )


@st.composite
def anthropic_bodies(draw: st.DrawFn) -> Any:
    block = _mostly(
        st.builds(dict, type=st.just("text"), text=_TEXTS),
        st.builds(dict, type=st.just("thinking"), thinking=_TEXTS, signature=st.just("sig")),
        st.just({"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}),
        st.just({"type": "redacted_thinking", "data": "xyz"}),
        st.just({"type": "server_tool_use"}),
        st.integers(0, 1),
    )
    usage = st.fixed_dictionaries(
        {},
        optional={
            key: _COUNTS
            for key in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            )
        },
    )
    body = _fields(
        draw,
        {
            "type": _mostly(st.just("message"), st.sampled_from(["error", "other"])),
            "content": _mostly(st.lists(block, max_size=3), st.none()),
            "stop_reason": _mostly(
                st.sampled_from(["end_turn", "stop_sequence"]),
                st.sampled_from(["max_tokens", "tool_use", "refusal", "x", "", 3]),
            ),
            "usage": _mostly(usage, st.none()),
            "id": _IDS,
            "model": _IDS,
        },
    )
    return _extra(draw, body, {"error": {"type": "overloaded_error", "message": "busy"}})


@st.composite
def gemini_bodies(draw: st.DrawFn) -> Any:
    part = _mostly(
        st.builds(dict, text=_TEXTS),
        st.builds(dict, text=_TEXTS, thought=st.booleans()),
        st.builds(dict, text=_TEXTS, thoughtSignature=st.sampled_from(["sig", ""])),
        st.just({"functionCall": {"name": "f", "args": {"a": 1}}}),
        st.just({}),
        st.integers(0, 1),
    )
    content = _mostly(
        st.builds(dict, parts=st.lists(part, max_size=3), role=st.just("model")),
        st.builds(dict, parts=st.sampled_from([None, {}])),
        st.none(),
    )
    candidate = _mostly(
        st.fixed_dictionaries(
            {"content": content},
            optional={
                "finishReason": _mostly(
                    st.just("STOP"), st.sampled_from(["MAX_TOKENS", "SAFETY", "", "OTHER", 1])
                )
            },
        ),
        st.integers(0, 1),
    )
    meta = st.fixed_dictionaries(
        {},
        optional={
            key: _COUNTS
            for key in (
                "promptTokenCount",
                "toolUsePromptTokenCount",
                "candidatesTokenCount",
                "thoughtsTokenCount",
                "cachedContentTokenCount",
            )
        },
    )
    body = _fields(
        draw,
        {
            "candidates": _mostly(st.lists(candidate, min_size=1, max_size=2), st.just([])),
            "usageMetadata": _mostly(meta, st.none()),
            "modelVersion": _IDS,
            "responseId": _IDS,
        },
    )
    body = _extra(
        draw,
        body,
        {
            "promptFeedback": {"blockReason": "SAFETY"},
            "error": {"code": 500, "message": "boom", "status": "INTERNAL"},
        },
    )
    return draw(_mostly(st.just(body), st.just([body]), st.just("text")))


@settings(max_examples=300)
@given(responses_bodies())
def test_generated_responses_bodies_read_as_the_parser_reads_them(body: Any) -> None:
    assert_quick_is_general(_responses_quick, _read_response, body)


@settings(max_examples=300)
@given(anthropic_bodies())
def test_generated_anthropic_bodies_read_as_the_general_reader_reads_them(body: Any) -> None:
    assert_quick_is_general(_anthropic_quick, _read_message, body)


@settings(max_examples=300)
@given(gemini_bodies())
def test_generated_gemini_bodies_read_as_the_parser_reads_them(body: Any) -> None:
    assert_quick_is_general(_gemini_quick, _gemini_general, body)


def test_quick_readers_merge_text_and_skip_empty_text() -> None:
    """Several text blocks make one text part, as the message builder makes them."""
    body = {
        "type": "message",
        "content": [
            {"type": "text", "text": "a"},
            {"type": "text", "text": ""},
            {"type": "text", "text": "b"},
        ],
        "stop_reason": "end_turn",
    }
    quick = _quick_message(body)
    assert quick is not None
    assert quick.message.parts == (TextPart(text="ab"),)
    assert quick == _read_message(body)
    empty = _quick_message({"type": "message", "content": [{"type": "text", "text": ""}]})
    assert empty is not None
    assert empty.message.parts == ()


def test_text_blocks_reads_only_text() -> None:
    assert text_blocks([{"type": "t", "text": "a"}, {"type": "t", "text": ""}], "t") == ["a"]
    assert text_blocks([{"text": "a"}], None) == ["a"]
    assert text_blocks([{"text": "a", "thought": False}], None) is None
    assert text_blocks([{"type": "u", "text": "a"}], "t") is None
    assert text_blocks([{"type": "t", "text": None}], "t") is None
    assert text_blocks(["a"], "t") is None
    assert text_blocks(({"type": "t", "text": "a"},), "t") is None  # JSON lists only
    assert text_blocks([], "t") == []


# ---------------------------------------------------------------- private constructors

_ANY_TEXT = st.text(max_size=20)


@given(_ANY_TEXT, st.lists(_ANY_TEXT, max_size=3))
def test_private_message_constructors_build_the_public_values(text: str, texts: list[str]) -> None:
    part = _text_part(text)
    assert part == TextPart(text=text)
    assert (repr(part), hash(part), to_wire(part)) == (
        repr(TextPart(text=text)),
        hash(TextPart(text=text)),
        to_wire(TextPart(text=text)),
    )
    parts = (
        _text_part(text),
        ReasoningPart(text=text, provider="p"),
        ToolCallPart(id="c", name="f"),
    )
    message = _assistant_message(parts)
    public = Message(role="assistant", parts=parts)
    assert message == public
    assert (repr(message), to_wire(message)) == (repr(public), to_wire(public))
    hashable = (_text_part(text), ReasoningPart(text=text))  # (a call's arguments are a dict)
    assert hash(_assistant_message(hashable)) == hash(Message(role="assistant", parts=hashable))
    assert message.text == public.text
    assert message.tool_calls == public.tool_calls
    builder = MessageBuilder("p")
    for piece in texts:
        builder.text(piece)
    assert text_message([t for t in texts if t]) == builder.message()


@given(
    finish=st.sampled_from(["stop", "length", "tool_calls", "content_filter", "refusal"]),
    model=st.one_of(st.none(), _ANY_TEXT),
    response_id=st.one_of(st.none(), _ANY_TEXT),
    raw=st.one_of(st.none(), _ANY_TEXT),
)
def test_private_response_constructor_builds_the_public_value(
    finish: Any, model: str | None, response_id: str | None, raw: str | None
) -> None:
    message = Message.assistant("hi")
    usage = Usage(input_tokens=3, output_tokens=4)
    fast = _model_response(
        message, finish, usage, model=model, provider="p", response_id=response_id,
        raw_finish_reason=raw,
    )  # fmt: skip
    public = ModelResponse(
        message=message,
        finish_reason=finish,
        usage=usage,
        model=model,
        provider="p",
        response_id=response_id,
        raw_finish_reason=raw,
    )
    assert fast == public
    assert attrs.asdict(fast, recurse=False) == attrs.asdict(public, recurse=False)  # every slot
    assert (repr(fast), to_wire(fast)) == (repr(public), to_wire(public))
    assert (fast.request_id, fast.attempts, fast.raw) == (None, 1, None)
    assert attrs.evolve(fast, attempts=2) == attrs.evolve(public, attempts=2)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.model = "other"  # type: ignore[misc]


def test_stamped_sets_the_call_metadata_only() -> None:
    """P-15: the request id, the attempts and the raw body are set; the rest is kept."""
    response = ModelResponse(message=Message.assistant("x"), finish_reason="stop", model="m")
    stamped = _base._stamped(response, "req-9", 3, {"raw": 1})
    assert stamped is response
    assert (stamped.request_id, stamped.attempts, stamped.raw) == ("req-9", 3, {"raw": 1})
    assert stamped == ModelResponse(
        message=Message.assistant("x"),
        finish_reason="stop",
        model="m",
        request_id="req-9",
        attempts=3,
    )


def test_no_deadline_is_one_shared_empty_scope() -> None:
    assert _base._deadline_scope(None) is _base._deadline_scope(None)
    with _base._deadline_scope(None), _base._deadline_scope(None):  # re-entrant
        pass


# ---------------------------------------------------------------- JSON helpers


def _plain_before(value: Any) -> Any:
    """What the adapters' ``_plain`` was, before :func:`plain_json`."""
    if isinstance(value, collections.abc.Mapping):
        return {str(k): _plain_before(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_before(v) for v in value]
    return value


class _Str(str):
    __slots__ = ()


class _List(list[Any]):
    pass


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.text(max_size=3).map(_Str),
    st.just(b"x"),
)
_KEYS = st.one_of(
    st.text(max_size=3),
    st.text(max_size=3).map(_Str),
    st.integers(-2, 2),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
)
_NESTED = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.lists(inner, max_size=3).map(_List),
        st.dictionaries(_KEYS, inner, max_size=3),
        st.dictionaries(_KEYS, inner, max_size=3).map(MappingProxyType),
        st.dictionaries(_KEYS, inner, max_size=3).map(collections.OrderedDict),
    ),
    max_leaves=12,
)


def _shares_a_container(copied: Any, original: Any) -> bool:
    if isinstance(copied, dict | list) and copied is original:
        return True
    if isinstance(copied, dict) and isinstance(original, collections.abc.Mapping):
        return any(
            _shares_a_container(copied[str(k)], v) for k, v in original.items() if str(k) in copied
        )
    if isinstance(copied, list) and isinstance(original, list | tuple):
        return any(_shares_a_container(c, o) for c, o in zip(copied, original, strict=True))
    return False


@given(_NESTED)
def test_plain_json_is_the_plain_it_replaces(value: Any) -> None:
    fast, slow = plain_json(value), _plain_before(value)
    assert fast == slow
    assert type(fast) is type(slow)
    assert repr(fast) == repr(slow)  # the same key and value types, in the same order
    assert not _shares_a_container(fast, value)


@given(_NESTED, st.booleans())
def test_the_shared_encoder_is_json_dumps(value: Any, nan: bool) -> None:
    value = [value, math.nan, math.inf] if nan else value
    try:
        expected: Any = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        expected = (type(exc), str(exc))
    try:
        got: Any = _json.encode_json(value)
    except (TypeError, ValueError) as exc:
        got = (type(exc), str(exc))
    assert got == expected


def test_the_shared_encoder_refuses_a_cycle_as_json_dumps_does() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference"):
        _json.encode_json(cycle)
    assert _json.encode_json({"é": [1.5, None]}) == '{"é":[1.5,null]}'  # after an error


# ---------------------------------------------------------------- request bodies

SYSTEM = Message.system("Be terse.")
USER = Message.user("hi")
TOOL = ToolSpec(
    name="weather",
    description="The weather.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
SCHEMA = OutputSchema(name="answer", schema={"type": "object", "properties": {}})

_REQUESTS = st.builds(
    ModelRequest,
    messages=st.sampled_from([(USER,), (SYSTEM, USER), (SYSTEM, SYSTEM, USER)]),
    tools=st.sampled_from([(), (TOOL,)]),
    output=st.sampled_from([None, SCHEMA]),
    temperature=st.sampled_from([None, 0.5]),
    max_tokens=st.sampled_from([None, 2000]),
    reasoning=st.sampled_from(["none", "raw", "summary"]),
    reasoning_effort=st.sampled_from([None, "low", "high"]),
)


def _system_scan(request: ModelRequest) -> bool:
    return any(m.role == "system" for m in request.messages)


@settings(max_examples=100)
@given(_REQUESTS, st.booleans())
def test_responses_body_without_extras_is_the_body_with_the_default_ones(
    request: ModelRequest, stream: bool
) -> None:
    adapter = OpenAIResponses(MODEL, api_key="k")
    with_default = attrs.evolve(request, extras=(OpenAIResponsesExtras(),))
    assert adapter._encode(request, stream=stream) == adapter._encode(with_default, stream=stream)
    body = adapter._body(request, stream=stream)
    assert ("instructions" in body) == _system_scan(request)
    if _system_scan(request):
        assert body["instructions"] == request.system_prompt


@settings(max_examples=100)
@given(_REQUESTS, st.booleans())
def test_anthropic_system_is_the_system_prompt(request: ModelRequest, stream: bool) -> None:
    # (Thinking forbids a temperature and needs room above its budget: not the point here.)
    request = attrs.evolve(request, reasoning="none", reasoning_effort=None)
    body = AnthropicMessages(MODEL, api_key="k")._body(request, stream=stream)
    assert body.get("system") == (request.system_prompt or None)
    assert ("system" in body) == _system_scan(request)


def test_bodies_are_json_dumps_of_the_body() -> None:
    request = ModelRequest(
        messages=[SYSTEM, Message.user("é ✓ \u2028")], tools=[TOOL], output=SCHEMA
    )
    for cls in (OpenAIChat, OpenAIResponses, AnthropicMessages, Gemini):
        adapter: HTTPAdapter = cls(MODEL, api_key="k")
        for stream in (False, True):
            body = adapter._body(request, stream=stream)
            expected = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            assert adapter._encode(request, stream=stream) == expected


def test_extras_merged_into_a_schema_leave_the_request_alone() -> None:
    """A provider's extra body fields merged into the body never reach the caller's schema."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    merge = {"properties": {"b": {"type": "integer"}}}
    anthropic = ModelRequest(
        messages=[USER],
        output=OutputSchema(name="o", schema=schema),
        extras=[AnthropicExtras(body={"output_config": {"format": {"schema": merge}}})],
    )
    gemini = ModelRequest(
        messages=[USER],
        output=OutputSchema(name="o", schema=schema),
        extras=[GeminiExtras(body={"generationConfig": {"responseJsonSchema": merge}})],
    )
    before = copy.deepcopy(schema)
    out = AnthropicMessages(MODEL, api_key="k")._body(anthropic, stream=False)
    assert set(out["output_config"]["format"]["schema"]["properties"]) == {"a", "b"}
    out = Gemini(MODEL, api_key="k")._body(gemini, stream=False)
    assert set(out["generationConfig"]["responseJsonSchema"]["properties"]) == {"a", "b"}
    assert schema == before


def test_chat_user_text_is_the_message_text() -> None:
    body = OpenAIChat(MODEL, api_key="k")._body(
        ModelRequest(messages=[Message.user("one"), Message.user(["a", "b"])]), stream=False
    )
    assert [m["content"] for m in body["messages"]] == ["one", "ab"]


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "tunedModels/my model", "a b?c#d", "ü"])
def test_gemini_model_path_is_quoted_once_per_model(model: str) -> None:
    path = model if "/" in model else f"models/{model}"
    assert _model_path(model) == quote(path, safe="/")
    assert _model_path(model) is _model_path(model)
    adapter = Gemini(model, api_key="k", base_url="https://g.example")
    assert adapter._url(ModelRequest(messages=[USER]), stream=True) == (
        f"https://g.example/v1beta/{quote(path, safe='/')}:streamGenerateContent?alt=sse"
    )


# ---------------------------------------------------------------- complete() end to end

ASK = ModelRequest(messages=[USER])
_GENERAL: dict[str, Callable[[Any], ModelResponse]] = {
    "openai-chat": lambda body: OpenAIChat(MODEL, api_key="k")._parse(body),
    "openai-responses": _read_response,
    "anthropic-messages": _read_message,
    "gemini": _gemini_general,
}
_CLASSES: dict[str, type[HTTPAdapter]] = {
    "openai-chat": OpenAIChat,
    "openai-responses": OpenAIResponses,
    "anthropic-messages": AnthropicMessages,
    "gemini": Gemini,
}
_ANSWERS = [
    (path.parent.name, path)
    for path in sorted(PROVIDER_FIXTURES.glob("*/*.json"))
    if ".request" not in path.name
    and not path.name.endswith(".response-meta.json")
    and not path.name.startswith("error-")
    and "error" not in path.name.split("-")[:2]
]


@pytest.mark.parametrize(("provider", "path"), _ANSWERS, ids=[f"{p}/{f.name}" for p, f in _ANSWERS])
@pytest.mark.parametrize("keep_raw", [False, True])
async def test_complete_gives_the_general_readers_answer(
    provider: str, path: Path, keep_raw: bool
) -> None:
    """P-15: the answer of the general reader, stamped with the request id and attempts."""
    data = await trio.Path(path).read_bytes()
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            headers={"content-type": "application/json", "request-id": "req-7"},
            content=data,
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        adapter = _CLASSES[provider](
            MODEL,
            api_key="k",
            http_client=client,
            keep_raw=keep_raw,
            retry=RetryPolicy(max_retries=0),
        )
        response = await adapter.complete(ASK)
    body = json.loads(data)
    expected = _GENERAL[provider](body)
    assert response == attrs.evolve(expected, request_id="req-7", attempts=1)
    assert response.raw == (body if keep_raw else None)
    assert_public(response)
    (request,) = seen
    assert request.headers["x-actrio-request-id"].startswith("actrio-")
    assert request.content == adapter._encode(ASK, stream=False)
