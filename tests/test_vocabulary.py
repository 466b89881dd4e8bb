"""The neutral vocabulary: messages, requests, responses, stream events, usage."""

from __future__ import annotations

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actrio.messages import (
    ImagePart,
    Message,
    MessageError,
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
    OpenAIChatExtras,
    OpenAIResponsesExtras,
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
    from_wire,
    to_wire,
)


def _conversation() -> tuple[Message, ...]:
    call = ToolCallPart(id="c1", name="weather", arguments={"city": "Oslo"})
    return (
        Message.system("be brief"),
        Message.user(["what is this?", ImagePart(data=b"\x89PNG", media_type="image/png")]),
        Message.assistant(
            [ReasoningPart(text="think", signature="sig", provider="anthropic"), "let me see", call]
        ),
        Message.tool("c1", '{"temp": 3}', name="weather"),
    )


# ---------------------------------------------------------------- messages


def test_role_constructors_build_parts_from_strings() -> None:
    m = Message.user("hi")
    assert m.parts == (TextPart(text="hi"),)
    assert Message.assistant().parts == ()
    assert Message.tool("c", "r").parts == (ToolResultPart(tool_call_id="c", content="r"),)


def test_views_split_text_tool_calls_and_reasoning() -> None:
    m = _conversation()[2]
    assert m.text == "let me see"
    assert [c.name for c in m.tool_calls] == ["weather"]
    assert [r.text for r in m.reasoning] == ["think"]


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Message(role="robot", parts="x"), "Message.role"),  # type: ignore[arg-type]
        (lambda: Message.user([]), "at least one part"),
        (lambda: Message.system([ImagePart(url="https://x/y.png")]), r"parts\[0\].*ImagePart"),
        (
            lambda: Message.user([ToolCallPart(id="a", name="b")]),
            "cannot hold ToolCallPart",
        ),
        (lambda: Message(role="user", parts=3), "Message.parts"),  # type: ignore[arg-type]
        (lambda: TextPart(text=3), "TextPart.text"),  # type: ignore[arg-type]
        (ImagePart, "exactly one"),
        (lambda: ImagePart(url="https://a", data=b"x"), "exactly one"),
        (lambda: ImagePart(url="file:///etc/passwd"), "http"),
        (lambda: ImagePart(data=b"x"), "media_type"),
        (lambda: ImagePart(data="x", media_type="image/png"), "bytes"),  # type: ignore[arg-type]
        (lambda: ToolCallPart(id="a", name="b", arguments=[1]), "JSON object"),  # type: ignore[arg-type]
        (lambda: ToolCallPart(id="a", name="b", complete="no"), "complete"),  # type: ignore[arg-type]
        (lambda: ToolCallPart(id="a", name=None), "ToolCallPart.name"),  # type: ignore[arg-type]
        (lambda: Message.user("x").__class__(role="user", parts="x", name=1), "Message.name"),  # type: ignore[arg-type]
    ],
)
def test_bad_parts_are_refused_naming_the_field(build: object, match: str) -> None:
    with pytest.raises(MessageError, match=match):
        build()  # type: ignore[operator]


def test_tool_call_executable_and_arguments_json() -> None:
    ok = ToolCallPart(id="a", name="b", arguments={"x": 1})
    assert ok.executable
    assert ok.arguments_json == '{"x":1}'
    cut = ToolCallPart(id="a", name="b", raw_arguments='{"x": 1', complete=False, problem="cut")
    assert not cut.executable
    assert cut.arguments_json == '{"x": 1'


def test_image_base64_and_url_refusal() -> None:
    assert ImagePart(data=b"abc", media_type="image/png").as_base64() == "YWJj"
    with pytest.raises(MessageError, match="URL"):
        ImagePart(url="https://x/y.png").as_base64()


def test_secrets_and_bytes_stay_out_of_repr() -> None:
    part = ReasoningPart(text="t", signature="SIGNATURE", encrypted="ENCRYPTED")
    assert "SIGNATURE" not in repr(part)
    assert "ENCRYPTED" not in repr(part)
    assert "4 bytes" in repr(ImagePart(data=b"\x00\x01\x02\x03", media_type="image/png"))


# ---------------------------------------------------------------- request


def test_request_accepts_a_plain_string_and_a_single_message() -> None:
    assert ModelRequest(messages="hi").messages == (Message.user("hi"),)  # type: ignore[arg-type]
    assert ModelRequest(messages=Message.user("x")).messages[0].text == "x"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"messages": []}, "at least one"),
        ({"messages": 5}, "sequence of Message"),
        ({"messages": [Message.user("a"), Message.system("b")]}, "system messages must come first"),
        ({"messages": ["x"]}, r"messages\[0\]"),
        ({"messages": [Message.user("a"), Message.tool("nope", "r")]}, "no earlier assistant"),
        ({"tools": ["x"]}, r"tools\[0\]"),
        ({"tools": [ToolSpec(name="a"), ToolSpec(name="a")]}, "duplicate"),
        ({"tool_choice": "other"}, "tool_choice"),
        ({"output": {"type": "object"}}, "OutputSchema"),
        ({"temperature": -1}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"stop": [""]}, "stop"),
        ({"reasoning": "loud"}, "reasoning"),
        ({"reasoning_effort": "max"}, "reasoning_effort"),
        ({"extras": [GeminiExtras(), GeminiExtras()]}, "more than one"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(kwargs: dict[str, object], match: str) -> None:
    values: dict[str, object] = {"messages": [Message.user("hi")], **kwargs}
    with pytest.raises(RequestError, match=match):
        ModelRequest(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: ToolSpec(name="has space"), "ToolSpec.name"),
        (lambda: ToolSpec(name="x" * 65), "ToolSpec.name"),
        (lambda: ToolSpec(name="ok", description=3), "description"),  # type: ignore[arg-type]
        (lambda: ToolSpec(name="ok", parameters={"type": "string"}), "top level"),
        (lambda: ToolSpec(name="ok", parameters=[]), "schema object"),  # type: ignore[arg-type]
        (lambda: OutputSchema(name="a b", schema={"type": "object"}), "OutputSchema.name"),
        (lambda: OpenAIChatExtras(n=3), "exactly one"),
        (lambda: AnthropicExtras(thinking_budget=10), "1024"),
        (lambda: Usage(input_tokens=-1), "input_tokens"),
        (lambda: Usage(output_tokens=True), "output_tokens"),
    ],
)
def test_bad_specs_are_refused(build: object, match: str) -> None:
    with pytest.raises(RequestError, match=match):
        build()  # type: ignore[operator]


def test_tool_choice_may_name_a_tool_and_extras_are_found_by_type() -> None:
    request = ModelRequest(
        messages=[Message.system("a"), Message.system("b"), Message.user("x")],
        tools=[ToolSpec(name="lookup")],
        tool_choice="lookup",
        extras=[OpenAIChatExtras(seed=1), AnthropicExtras(top_k=3)],
    )
    assert request.extras_for(AnthropicExtras) == AnthropicExtras(top_k=3)
    assert request.extras_for(GeminiExtras) is None
    assert request.system_prompt == "a\n\nb"
    assert OpenAIChatExtras(n=1).n == 1


def test_usage_adds_up_and_totals() -> None:
    a = Usage(input_tokens=10, output_tokens=5, cached_input_tokens=2, reasoning_tokens=1)
    b = Usage(input_tokens=1, output_tokens=1, cache_write_tokens=1)
    total = a + b
    assert total == Usage(
        input_tokens=11,
        output_tokens=6,
        cached_input_tokens=2,
        cache_write_tokens=1,
        reasoning_tokens=1,
    )
    assert total.total_tokens == 17
    assert a.__add__(3) is NotImplemented  # type: ignore[operator]


def test_response_views() -> None:
    message = _conversation()[2]
    response = ModelResponse(message=message, finish_reason="tool_calls", raw={"x": 1})
    assert response.text == "let me see"
    assert response.reasoning_text == "think"
    assert response.tool_calls[0].arguments == {"city": "Oslo"}
    assert response.reasoning[0].signature == "sig"
    # raw is not part of equality: two answers are the same answer whatever the bytes were.
    assert response == attrs.evolve(response, raw=None)


# ---------------------------------------------------------------- wire form


def test_a_whole_conversation_round_trips_through_the_converter() -> None:
    request = ModelRequest(
        messages=_conversation(),
        tools=[ToolSpec(name="weather", description="d", strict=True)],
        tool_choice="required",
        output=OutputSchema(name="Answer", schema={"type": "object", "properties": {}}),
        temperature=0.2,
        max_tokens=100,
        stop=["END"],
        reasoning="summary",
        reasoning_effort="low",
        extras=[
            OpenAIChatExtras(seed=3, body={"x": 1}),
            OpenAIResponsesExtras(include=("reasoning.encrypted_content",)),
            AnthropicExtras(thinking_budget=2048),
            GeminiExtras(safety_settings=({"category": "c", "threshold": "t"},)),
        ],
    )
    data = to_wire(request)
    assert data["messages"][1]["parts"][1]["data"] == "iVBORw=="  # base64 on the wire
    assert from_wire(data, ModelRequest) == request


def test_every_stream_event_round_trips_by_kind() -> None:
    call = ToolCallPart(id="c", name="n", arguments={"a": [1, 2]})
    response = ModelResponse(
        message=Message.assistant(["hi", call]),
        finish_reason="tool_calls",
        usage=Usage(input_tokens=3),
        model="m",
        provider="p",
        request_id="r",
    )
    events: list[StreamEvent] = [
        TextDelta(text="hi"),
        ReasoningDelta(text="r", summary=True),
        ToolCallStart(index=0, id="c", name="n"),
        ToolCallDelta(index=0, arguments='{"a"'),
        ToolCallEnd(index=0, call=call),
        UsageUpdate(usage=Usage(output_tokens=1)),
        Finish(response=response),
    ]
    for event in events:
        assert from_wire(to_wire(event), StreamEvent) == event  # type: ignore[arg-type]


def test_wire_form_rejects_unknown_keys_and_bad_base64() -> None:
    with pytest.raises(cattrs.errors.ClassValidationError):
        from_wire({"role": "user", "parts": [], "nope": 1}, Message)
    bad = {"role": "user", "parts": [{"kind": "image", "data": "***", "media_type": "image/png"}]}
    with pytest.raises(cattrs.errors.ClassValidationError):
        from_wire(bad, Message)
    with pytest.raises(cattrs.errors.ClassValidationError):
        from_wire({"role": "user", "parts": [{"kind": "image", "data": 5}]}, Message)


@given(st.text(), st.binary(max_size=64), st.dictionaries(st.text(max_size=5), st.integers()))
def test_messages_round_trip_for_any_text_bytes_and_arguments(
    text: str, data: bytes, arguments: dict[str, int]
) -> None:
    for message in (
        Message.user([text, ImagePart(data=data, media_type="image/png")]),
        Message.assistant([text, ToolCallPart(id="i", name="n", arguments=arguments)]),
    ):
        assert from_wire(to_wire(message), Message) == message
