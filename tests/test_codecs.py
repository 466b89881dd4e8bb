"""The codecs: recorded provider traffic replayed, every normalization rule, fuzzing."""

from __future__ import annotations

import json
import pickle
from typing import TYPE_CHECKING, Any

import cattrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actrio.codecs
from actrio._wire import converter
from actrio.codecs import (
    AnnotatedLLMRequest,
    AnnotatedLLMResponse,
    AnthropicMessagesCodec,
    CodecError,
    LLMCodec,
    LLMRequest,
    OpenAIChatCodec,
    OpenAIResponsesCodec,
    StreamAccumulator,
    codec_for,
    detect_request_codec,
    detect_response_codec,
)
from actrio.kernel import ActrioError, UsageError
from provider_fixtures import PROVIDER_FIXTURES

if TYPE_CHECKING:
    from pathlib import Path

CHAT = OpenAIChatCodec()
RESPONSES = OpenAIResponsesCodec()
ANTHROPIC = AnthropicMessagesCodec()
APIS = ("openai-chat", "openai-responses", "anthropic-messages")


FIXTURES = PROVIDER_FIXTURES


def _files(suffix: str) -> list[tuple[str, str]]:
    return [
        (api, path.name)
        for api in APIS
        if (FIXTURES / api).is_dir()
        for path in sorted((FIXTURES / api).iterdir())
        if path.name.endswith(suffix)
    ]


REQUEST_FILES = [f for f in _files(".json") if ".request" in f[1]]
BODY_FILES = [f for f in _files(".json") if ".request" not in f[1] and "response-meta" not in f[1]]
SSE_FILES = _files(".sse")


def fixture_path(api: str, name: str) -> Path:
    return FIXTURES / api / name


def load(api: str, name: str) -> Any:
    return json.loads(fixture_path(api, name).read_bytes().decode("utf-8"))


def sse_payloads(raw: str) -> list[dict[str, Any]]:
    """The JSON ``data:`` payloads of an SSE body, in order.

    Events split on blank lines (CRLF too); ``[DONE]``, comments, lines that
    do not start with ``data:`` (per the spec, `` data:`` names another
    field) and non-JSON data are skipped. An event not closed by a blank
    line at EOF is kept, as real servers do close it.
    """
    payloads = []
    for event in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        data = [
            line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:")
        ]
        joined = "\n".join(data)
        if not data or joined.strip() == "[DONE]":
            continue
        try:
            value = json.loads(joined)
        except ValueError:
            continue
        if isinstance(value, dict):
            payloads.append(value)
    return payloads


def replay(api: str, name: str) -> AnnotatedLLMResponse:
    accumulator = codec_for(api).accumulator()
    for payload in sse_payloads(fixture_path(api, name).read_bytes().decode("utf-8")):
        accumulator.feed(payload)
    return accumulator.result()


def feed_all(codec: LLMCodec, chunks: list[dict[str, Any]]) -> AnnotatedLLMResponse:
    accumulator = codec.accumulator()
    for chunk in chunks:
        accumulator.feed(chunk)
    return accumulator.result()


def round_trip(value: Any) -> Any:
    return converter.structure(json.loads(json.dumps(converter.unstructure(value))), type(value))


def is_error_body(name: str) -> bool:
    return "error" in name


def call(name: str, arguments: str, call_id: str | None = None) -> dict[str, Any]:
    return {"id": call_id, "name": name, "arguments": arguments}


# ---------------------------------------------------------------- the SSE helper


def test_sse_helper_handles_crlf_comments_done_and_unterminated_events() -> None:
    raw = ': comment\r\n\r\ndata: {"a": 1}\r\n\r\n data: {"b": 2}\n\ndata:{"c":\ndata: 3}\n\n'
    raw += 'event: ping\n\ndata: keep-alive\n\ndata: [DONE]\n\ndata: [1]\n\ndata: {"d": 4}'
    assert sse_payloads(raw) == [{"a": 1}, {"c": 3}, {"d": 4}]


# ---------------------------------------------------------------- every fixture


@pytest.mark.parametrize(("api", "name"), REQUEST_FILES)
def test_every_recorded_request_decodes_and_round_trips(api: str, name: str) -> None:
    body = load(api, name)
    request = codec_for(api).decode_request(body)
    assert request.api == api
    assert request.messages
    assert all(m["role"] in {"system", "user", "assistant", "tool"} for m in request.messages)
    assert request.model == body.get("model")
    assert round_trip(request) == request
    assert load(api, name) == body  # decoding does not touch the body


# Anthropic bodies with no Anthropic-only mark: the same JSON is a valid Chat body.
AMBIGUOUS_REQUESTS = {
    "error-404-model-not-found.request.json",
    "error-404-not-found-count-tokens.request.json",
}


@pytest.mark.parametrize(("api", "name"), REQUEST_FILES)
def test_recorded_requests_are_detected_by_shape(api: str, name: str) -> None:
    detected = detect_request_codec(load(api, name))
    assert detected is not None
    if api == "anthropic-messages" and name in AMBIGUOUS_REQUESTS:
        assert detected.name == "openai-chat"
    else:
        assert detected.name == api


@pytest.mark.parametrize(("api", "name"), BODY_FILES)
def test_every_recorded_body_decodes_or_is_an_error(api: str, name: str) -> None:
    body = load(api, name)
    codec = codec_for(api)
    if is_error_body(name):
        with pytest.raises(CodecError):
            codec.decode_response(body)
        assert detect_response_codec(body) is None
        return
    response = codec.decode_response(body)
    assert response.api == api
    assert response.message is not None
    assert response.finish_reason in {"stop", "tool_calls"}
    assert response.usage is not None
    assert response.usage["total_tokens"] >= response.usage["output_tokens"]
    for tool_call in response.tool_calls or ():
        json.loads(tool_call["arguments"])
    assert round_trip(response) == response
    detected = detect_response_codec(body)
    assert detected is not None
    assert detected.name == api


@pytest.mark.parametrize(("api", "name"), SSE_FILES)
def test_every_recorded_stream_accumulates_and_round_trips(api: str, name: str) -> None:
    response = replay(api, name)
    assert response.api == api
    assert round_trip(response) == response
    if response.finish_reason == "tool_calls":
        assert response.tool_calls
        for tool_call in response.tool_calls:
            assert json.loads(tool_call["arguments"]) is not None
    payloads = sse_payloads(fixture_path(api, name).read_text(encoding="utf-8"))
    detected = [detect_response_codec(p) for p in payloads]
    # Error events (and pings) look alike across APIs; the others name theirs.
    assert {c.name for c in detected if c is not None} <= {api}
    assert any(c is not None for c in detected) or all(p["type"] == "error" for p in payloads)


# ---------------------------------------------------------------- OpenAI Chat, recorded


def test_chat_request_with_tool_history() -> None:
    request = CHAT.decode_request(load("openai-chat", "nonstream-tool-call.request.json"))
    assert request.messages == (
        {"role": "user", "content": "What is the capital of France?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call(
                    "get_capital",
                    '{"country":"France"}',
                    "pyd_ai_504f8147f83f44f3a5f14d87bfd01bda",
                )
            ],
        },
        {
            "role": "tool",
            "content": "Paris",
            "tool_call_id": "pyd_ai_504f8147f83f44f3a5f14d87bfd01bda",
        },
        {"role": "assistant", "content": "The capital of France is Paris.\n"},
        {"role": "user", "content": "What is the capital of England?"},
    )
    assert request.model == "gpt-4o-mini"
    assert request.params == {"n": 1, "stream": False}
    assert request.tool_choice == "auto"
    assert request.tools is not None
    assert request.tools[0]["name"] == "get_capital"
    assert request.tools[0]["description"] == "Get the capital of a country."
    assert request.tools[0]["parameters"]["required"] == ["country"]
    assert request.has_tool_calls()
    assert request.last_user_message() == "What is the capital of England?"
    assert request.system_prompt() is None
    assert request.extra == {}


def test_chat_request_system_prompt_and_response_format() -> None:
    text = CHAT.decode_request(load("openai-chat", "nonstream-text.request.json"))
    assert text.system_prompt() == "You are a helpful assistant."
    assert not text.has_tool_calls()
    structured = CHAT.decode_request(
        load("openai-chat", "structured-output-json-schema-nonstream.request.json")
    )
    assert structured.extra["response_format"]["json_schema"]["name"] == "result"


def test_chat_nonstream_tool_call_body() -> None:
    response = CHAT.decode_response(load("openai-chat", "nonstream-tool-call.json"))
    assert response.id == "chatcmpl-BEhL3fZWgTz2Z57jXexYbQPsOBUm3"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.tool_calls == (
        call("get_capital", '{"country":"England"}', "call_SkEQ3ZGSJC8m6AvaIGNuuKdm"),
    )
    assert response.finish_reason == "tool_calls"
    assert response.response_text() is None
    assert response.has_tool_calls()
    assert response.usage == {
        "input_tokens": 104,
        "output_tokens": 16,
        "total_tokens": 120,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
    }
    assert response.api_specific == {
        "finish_reason": "tool_calls",
        "system_fingerprint": "fp_b8bc95a0ac",
        "service_tier": "default",
    }


def test_chat_dialect_bodies() -> None:
    deepseek = CHAT.decode_response(
        load("openai-chat", "deepseek-nonstream-reasoning-tool-call.json")
    )
    assert deepseek.tool_calls == (
        call("weather", '{"location": "San Francisco"}', "call_00_9V0vrf86Pc9aelHCJMZqnJBo"),
    )
    assert deepseek.message is not None
    assert deepseek.message["reasoning"].startswith("The user is asking for the weather")
    assert deepseek.usage == {
        "input_tokens": 339,
        "output_tokens": 92,
        "total_tokens": 431,
        "cached_input_tokens": 320,
        "reasoning_tokens": 48,
    }
    gemini = CHAT.decode_response(
        load("openai-chat", "gemini-openai-compat-nonstream-tool-call.json")
    )
    assert gemini.tool_calls == (call("get_current_time", "{}"),)  # id "" is no id
    ollama = CHAT.decode_response(
        load("openai-chat", "ollama-structured-output-json-schema-reasoning.json")
    )
    assert json.loads(ollama.response_text() or "") == {"city": "Paris", "country": "France"}
    assert ollama.message is not None
    assert ollama.message["reasoning"].startswith("Okay, the user is asking")


def test_chat_stream_text_with_usage_chunk() -> None:
    response = replay("openai-chat", "stream-text-include-usage.sse")
    assert response.response_text() == "The capital of the UK is London."
    assert response.id == "chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc"
    assert response.model == "gpt-4o-mini-2024-07-18"
    assert response.finish_reason == "stop"
    assert response.tool_calls is None
    assert response.usage == {
        "input_tokens": 78,
        "output_tokens": 9,
        "total_tokens": 87,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
    }


def test_chat_stream_53_argument_fragments() -> None:
    response = replay("openai-chat", "stream-tool-call-54-arg-deltas.sse")
    assert response.tool_calls is not None
    (only,) = response.tool_calls
    assert only["name"] == "final_result"
    assert only["id"] == "call_CCGIWaMeYWmxOQ91orkmTvzn"
    answers = json.loads(only["arguments"])["answers"]
    assert [a["label"] for a in answers] == ["Capital", "Weather", "Product Name"]
    assert answers[2]["answer"] == "The product name is Pydantic AI."
    assert response.usage is not None
    assert response.usage["total_tokens"] == 510


def test_chat_stream_parallel_calls_keyed_by_index() -> None:
    response = replay("openai-chat", "stream-parallel-tool-calls-split-args.sse")
    assert response.tool_calls is not None
    first, second = response.tool_calls
    assert (first["id"], first["name"]) == ("call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs")
    assert json.loads(first["arguments"]) == {"city": "Edinburgh", "country": "GB", "units": "c"}
    assert (second["id"], second["name"]) == ("call_DNYTawLBoN8fj3KN6qU9N1Ou", "get_stock_price")
    assert json.loads(second["arguments"]) == {"ticker": "AAPL", "exchange": "NASDAQ"}
    assert response.usage == {
        "input_tokens": 149,
        "output_tokens": 60,
        "total_tokens": 209,
        "reasoning_tokens": 0,
    }
    empty = replay("openai-chat", "stream-parallel-tool-calls-empty-args.sse")
    assert empty.tool_calls == (
        call("get_country", "{}", "call_q2UyBRP7eXNTzAoR8lEhjc9Z"),
        call("get_product_name", "{}", "call_b51ijcpFkDiTQG1bQzsrmtW5"),
    )


def test_chat_stream_tool_index_starting_at_1() -> None:
    response = replay("openai-chat", "anthropic-compat-stream-tool-index-starts-at-1.sse")
    assert response.response_text() == "Reading it."
    assert response.tool_calls == (call("read_file", '{"path": "a.txt"}', "toolu_sanitized"),)
    assert response.finish_reason == "tool_calls"
    assert response.usage is None


def test_chat_stream_dialect_quirks() -> None:
    repeated = replay("openai-chat", "openrouter-kimi-stream-tool-call-repeated-id-name.sse")
    assert repeated.tool_calls == (call("llm_version", "{}", "0"),)
    assert repeated.finish_reason is None  # the recording never sends one
    spaced = replay(
        "openai-chat", "openrouter-kimi-stream-tool-call-name-then-args-leading-space-line.sse"
    )
    assert spaced.tool_calls == (call("llm_version", "{}", "llm_version:0"),)
    null_args = replay("openai-chat", "openrouter-stream-tool-call-arguments-null.sse")
    assert null_args.tool_calls == (call("llm_version", "{}", "0"),)
    assert null_args.finish_reason == "tool_calls"
    vllm = replay("openai-chat", "vllm-style-stream-tool-call-continuous-usage.sse")
    assert vllm.tool_calls == (
        call(
            "searchGoogle",
            '{"query": "latest news on ai"}',
            "chatcmpl-tool-b3b307239370432d9910d4b79b4dbbaa",
        ),
    )
    assert vllm.usage == {"input_tokens": 226, "output_tokens": 20, "total_tokens": 246}
    groq = replay("openai-chat", "groq-style-stream-tool-args-in-first-chunk.sse")
    assert groq.tool_calls is not None
    assert json.loads(groq.tool_calls[0]["arguments"]) == {"value": "Sparkle Day"}
    assert groq.usage == {"input_tokens": 18, "output_tokens": 439, "total_tokens": 457}


def test_chat_stream_reasoning_dialects() -> None:
    deepseek = replay("openai-chat", "deepseek-stream-reasoning-content.sse")
    assert deepseek.response_text() == "Hello there! 😊 How can I help you today?"
    assert deepseek.message is not None
    assert deepseek.message["reasoning"].startswith('Hmm, the user just said "Hello".')
    assert deepseek.usage == {
        "input_tokens": 6,
        "output_tokens": 212,
        "total_tokens": 218,
        "cached_input_tokens": 0,
        "reasoning_tokens": 198,
    }
    xai = replay("openai-chat", "xai-stream-reasoning-content-tool-call.converted.sse")
    assert xai.tool_calls == (call("weather", '{"location":"San Francisco"}', "call_79382389"),)
    assert xai.finish_reason == "tool_calls"
    # xAI's total counts reasoning tokens its completion_tokens leave out: kept as reported.
    assert xai.usage == {
        "input_tokens": 307,
        "output_tokens": 26,
        "total_tokens": 560,
        "cached_input_tokens": 306,
        "reasoning_tokens": 227,
    }
    tool = replay("openai-chat", "deepseek-stream-reasoning-then-tool-call.converted.sse")
    assert tool.tool_calls == (
        call("weather", '{"location": "San Francisco"}', "call_00_ioIn7yN9p1ZOMNpDLwd4MgAF"),
    )


def test_chat_stream_in_band_errors() -> None:
    groq = replay("openai-chat", "groq-stream-midstream-error-event.sse")
    assert groq.finish_reason is None
    assert groq.api_specific is not None
    assert groq.api_specific["error"]["code"] == "tool_use_failed"
    assert groq.api_specific["error"]["status_code"] == 400
    assert groq.message is not None
    assert groq.message["reasoning"].startswith("We need")
    openrouter = replay("openai-chat", "openrouter-stream-comments-and-inline-error.sse")
    assert openrouter.finish_reason == "length"
    assert openrouter.api_specific is not None
    assert openrouter.api_specific["error"] == {"code": 400, "message": "Token limit reached"}
    assert openrouter.usage is not None
    assert openrouter.usage["reasoning_tokens"] == 11


def test_chat_stream_refusal_length_and_n3() -> None:
    refusal = replay("openai-chat", "stream-refusal-json-schema.sse")
    assert refusal.response_text() == "I'm sorry, I can't assist with that request."
    assert refusal.finish_reason == "refusal"
    assert refusal.api_specific is not None
    assert refusal.api_specific["finish_reason"] == "stop"
    length = replay("openai-chat", "stream-finish-reason-length.sse")
    assert length.response_text() == '{"'
    assert length.finish_reason == "length"
    n3 = replay("openai-chat", "stream-n3-multiple-choices-json-schema.sse")
    temperatures = [json.loads(c["message"]["content"])["temperature"] for c in n3.extra["choices"]]
    assert temperatures == [65, 61, 59]
    assert n3.response_text() == '{"city":"San Francisco","temperature":65,"units":"f"}'
    assert [c["finish_reason"] for c in n3.extra["choices"]] == ["stop"] * 3


def test_chat_stream_strict_tool_and_structured_output() -> None:
    strict = replay("openai-chat", "stream-tool-call-strict.sse")
    assert strict.tool_calls is not None
    assert json.loads(strict.tool_calls[0]["arguments"]) == {"city": "San Francisco", "state": "CA"}
    structured = replay("openai-chat", "stream-structured-output-json-schema.sse")
    assert json.loads(structured.response_text() or "") == {
        "city": "San Francisco",
        "temperature": 61,
        "units": "f",
    }
    multiply = replay("openai-chat", "stream-tool-call-with-ratelimit-headers.sse")
    assert multiply.tool_calls is not None
    assert json.loads(multiply.tool_calls[0]["arguments"]) == {"a": 1231, "b": 2331}


# ---------------------------------------------------------------- OpenAI Responses, recorded


def test_responses_request_with_tool_round_trip() -> None:
    request = RESPONSES.decode_request(load("openai-responses", "nonstream-text.request.json"))
    assert request.messages == (
        {"role": "user", "content": "What is the capital of PotatoLand?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call("get_capital", '{"country":"PotatoLand"}', "call_YfwRsW8sUxDKipwyhWTzOXCA")
            ],
        },
        {"role": "tool", "content": "Potato City", "tool_call_id": "call_YfwRsW8sUxDKipwyhWTzOXCA"},
    )
    assert request.tools == (
        {
            "name": "get_capital",
            "description": None,
            "parameters": {
                "additionalProperties": False,
                "properties": {"country": {"type": "string"}},
                "required": ["country"],
                "type": "object",
            },
        },
    )
    assert request.tool_choice == "auto"


def test_responses_request_merges_one_assistant_turn() -> None:
    request = RESPONSES.decode_request(
        load("openai-responses", "structured-output-text-format-json-schema.request.json")
    )
    assert request.messages[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [call("get_user_country", "{}", "call_tTAThu8l2S9hNky2krdwijGP")],
    }
    assert request.extra["text"]["format"]["name"] == "CityLocation"
    instructed = RESPONSES.decode_request(
        load("openai-responses", "nonstream-reasoning-summary-encrypted-content.request.json")
    )
    assert instructed.system_prompt() == "You are a helpful coding assistant."
    assert instructed.extra["reasoning"] == {"effort": "high", "summary": "auto"}


def test_responses_bodies() -> None:
    call_body = RESPONSES.decode_response(load("openai-responses", "nonstream-function-call.json"))
    assert call_body.tool_calls == (
        call("get_capital", '{"country":"PotatoLand"}', "call_YfwRsW8sUxDKipwyhWTzOXCA"),
    )
    assert call_body.finish_reason == "tool_calls"
    assert call_body.api_specific == {"status": "completed"}
    assert call_body.extra["billing"] == {"payer": "developer"}
    pong = RESPONSES.decode_response(
        load("openai-responses", "nonstream-text-pretty-printed-raw.json")
    )
    assert pong.response_text() == "pong"
    assert pong.finish_reason == "stop"
    assert pong.usage == {
        "input_tokens": 11,
        "output_tokens": 5,
        "total_tokens": 16,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
    }
    summary = RESPONSES.decode_response(
        load("openai-responses", "nonstream-reasoning-summary-encrypted-content.json")
    )
    assert summary.message is not None
    assert summary.message["reasoning"].startswith("**Generating factorial function**")
    assert (summary.response_text() or "").startswith("```python\ndef factorial(n: int) -> int:")
    assert summary.usage is not None
    assert summary.usage["reasoning_tokens"] == 59


def test_responses_streams() -> None:
    pong = replay("openai-responses", "stream-text-basic.sse")
    assert pong.response_text() == "pong"
    assert pong.id == "resp_00592e63e61b66660169fab1b9f8e481a2b321356198d7ac1b"
    assert pong.finish_reason == "stop"
    function = replay("openai-responses", "stream-function-call.sse")
    assert function.tool_calls == (
        call("get_capital", '{"country":"France"}', "call_kL0PCQV7M2WMoVX8V8OtYSAL"),
    )
    assert function.usage is not None
    assert function.usage["total_tokens"] == 271
    reasoning = replay("openai-responses", "stream-reasoning-item-then-function-call-args.sse")
    assert reasoning.tool_calls == (
        call("final_result", '{"result":6666}', "call_CWXgs68YprAjp6t0371hiPOI"),
    )
    assert reasoning.usage is not None
    assert reasoning.usage["reasoning_tokens"] == 448
    multiply = replay("openai-responses", "stream-function-call-with-ratelimit-headers.sse")
    assert multiply.tool_calls is not None
    assert json.loads(multiply.tool_calls[0]["arguments"]) == {"a": 1231, "b": 2331}


def test_responses_stream_failure() -> None:
    failed = replay("openai-responses", "stream-error-event-then-response-failed.converted.sse")
    assert failed.finish_reason is None
    assert failed.message is None
    assert failed.model == "gpt-5-nano-2025-08-07"
    assert failed.api_specific is not None
    assert failed.api_specific["status"] == "failed"
    assert failed.api_specific["error"]["code"] == "insufficient_quota"


def test_responses_deltas_alone_give_the_terminal_text() -> None:
    """Drop every event that carries whole items: the deltas must add up to the same."""
    payloads = sse_payloads(
        fixture_path("openai-responses", "stream-reasoning-summary-deltas-then-text.sse").read_text(
            encoding="utf-8"
        )
    )
    whole = {"response.output_item.done", "response.completed"}
    partial = feed_all(RESPONSES, [p for p in payloads if p["type"] not in whole])
    full = feed_all(RESPONSES, payloads)
    assert full.message is not None
    assert partial.message is not None
    assert partial.response_text() == full.response_text()
    assert len(full.response_text() or "") == 1251
    assert partial.message["reasoning"] == full.message["reasoning"]
    assert full.message["reasoning"].startswith("**Providing street crossing instructions**")
    assert full.message["reasoning"].count("\n**") == 3  # four summary parts
    assert partial.finish_reason is None  # no terminal event
    assert full.finish_reason == "stop"
    assert full.usage is not None
    assert full.usage["reasoning_tokens"] == 1408


# ---------------------------------------------------------------- Anthropic, recorded


def test_anthropic_request_splits_tool_results() -> None:
    request = ANTHROPIC.decode_request(
        load("anthropic-messages", "stream-text-after-tool-result.request.json")
    )
    ids = ["toolu_01LtHJmixrs9NcWQkK8hu8hj", "toolu_01N8a4jWyf116qKTMqKKmjyt"]
    assert request.messages == (
        {"role": "user", "content": "Two names for a pet pelican"},
        {
            "role": "assistant",
            "content": " ",
            "tool_calls": [call("pelican_name_generator", "{}", i) for i in ids],
        },
        {"role": "tool", "content": "Charles", "tool_call_id": ids[0]},
        {"role": "tool", "content": "Sammy", "tool_call_id": ids[1]},
    )
    assert request.params == {"max_tokens": 8192, "temperature": 1.0, "stream": True}
    assert request.tools == (
        {
            "name": "pelican_name_generator",
            "description": "",
            "parameters": {"properties": {}, "type": "object"},
        },
    )


def test_anthropic_request_system_and_choice() -> None:
    request = ANTHROPIC.decode_request(
        load("anthropic-messages", "nonstream-text-and-parallel-tool-use.request.json")
    )
    assert (request.system_prompt() or "").strip().startswith("Use the `retrieve_entity_info`")
    assert request.tool_choice == "auto"
    assert request.last_user_message() == (
        "Alice, Bob, Charlie and Daisy are a family. Who is the youngest?"
    )
    thinking = ANTHROPIC.decode_request(
        load("anthropic-messages", "nonstream-thinking-then-tool-use.request.json")
    )
    assert thinking.extra == {"thinking": {"budget_tokens": 3000, "type": "enabled"}}


def test_anthropic_bodies() -> None:
    parallel = ANTHROPIC.decode_response(
        load("anthropic-messages", "nonstream-text-and-parallel-tool-use.json")
    )
    assert parallel.tool_calls is not None
    assert [json.loads(c["arguments"]) for c in parallel.tool_calls] == [
        {"name": n} for n in ("Alice", "Bob", "Charlie", "Daisy")
    ]
    assert parallel.tool_calls[0]["id"] == "toolu_0167cfEnoQaPviGdVXA95zcu"
    assert parallel.finish_reason == "tool_calls"
    assert parallel.usage == {
        "input_tokens": 423,
        "output_tokens": 202,
        "total_tokens": 625,
        "cached_input_tokens": 0,
    }
    thinking = ANTHROPIC.decode_response(
        load("anthropic-messages", "nonstream-thinking-then-tool-use.json")
    )
    assert thinking.message is not None
    assert thinking.message["reasoning"].startswith("The user is asking about the largest city")
    assert thinking.tool_calls == (
        call("get_user_country", "{}", "toolu_01YGzqpRE16Vricda3Aqcejo"),
    )
    system = ANTHROPIC.decode_response(
        load("anthropic-messages", "nonstream-text-with-system.json")
    )
    assert system.response_text() == "The capital of France is Paris."
    assert system.finish_reason == "stop"
    assert system.api_specific == {"stop_reason": "end_turn", "cache_creation_input_tokens": 0}


def test_anthropic_streams() -> None:
    ping = replay("anthropic-messages", "stream-text-with-ping.sse")
    assert ping.response_text() == "Hello there!"
    assert ping.finish_reason == "stop"
    assert ping.usage == {"input_tokens": 11, "output_tokens": 6, "total_tokens": 17}
    weather = replay("anthropic-messages", "stream-text-then-tool-use-input-json-delta.sse")
    assert weather.response_text() == "I'll check the current weather in Paris for you."
    assert weather.tool_calls == (
        call("get_weather", '{"location": "Paris"}', "toolu_01NRLabsLyVHZPKxbKvkfSMn"),
    )
    parallel = replay(
        "anthropic-messages", "stream-parallel-tool-use-padded-json-ratelimit-headers.sse"
    )
    assert parallel.tool_calls is not None
    assert [c["arguments"] for c in parallel.tool_calls] == ["{}", "{}"]
    assert parallel.usage is not None
    assert parallel.usage["input_tokens"] == 542
    no_args = replay("anthropic-messages", "tool-no-args.converted.sse")
    assert no_args.tool_calls == (call("updateIssueList", "{}", "toolu_01QE1WLsSVp5hy5Q3GmGTmjP"),)


def test_anthropic_stream_thinking_and_redacted_thinking() -> None:
    thinking = replay("anthropic-messages", "stream-thinking-signature-padded-json.sse")
    assert thinking.message is not None
    assert thinking.message["reasoning"].startswith("The user wants two names for a pet pelican")
    assert thinking.response_text() == (
        '1. **Pouch** - references their iconic bill pouch\n2. **Pelé** - playful take on "pelican"'
    )
    redacted = replay("anthropic-messages", "stream-redacted-thinking.sse")
    assert redacted.message is not None
    assert redacted.message["parts"] == [{"type": "redacted_thinking"}] * 2
    assert (redacted.response_text() or "").startswith("I notice that you've sent what")


def test_anthropic_stream_truncation_refusal_and_usage() -> None:
    truncated = replay("anthropic-messages", "stream-max-tokens-truncated-tool-input.sse")
    assert truncated.finish_reason == "length"
    assert truncated.tool_calls is not None
    arguments = truncated.tool_calls[0]["arguments"]
    assert arguments.startswith('{"filename": "taxes.txt", "lines_of_text": [')
    with pytest.raises(ValueError, match="Unterminated string"):
        json.loads(arguments)  # the raw text, cut where the stream stopped
    refusal = replay("anthropic-messages", "stream-refusal-stop-reason.sse")
    assert refusal.finish_reason == "refusal"
    assert refusal.response_text() == ""
    assert refusal.api_specific is not None
    assert refusal.api_specific["stop_details"]["category"] == "cyber"
    corrected = replay("anthropic-messages", "message-delta-input-tokens.converted.sse")
    assert corrected.usage == {"input_tokens": 61, "output_tokens": 2, "total_tokens": 63}


def test_anthropic_stream_errors() -> None:
    midstream = replay("anthropic-messages", "stream-midstream-overloaded-error.constructed.sse")
    assert midstream.response_text() == "Hello there"
    assert midstream.finish_reason is None
    assert midstream.api_specific is not None
    assert midstream.api_specific["error"]["type"] == "overloaded_error"
    first = replay("anthropic-messages", "stream-first-event-overloaded-error.test-authored.sse")
    assert first.message is None
    assert first.id is None
    assert first.api_specific == {
        "stop_reason": None,
        "error": {"details": None, "type": "overloaded_error", "message": "Overloaded"},
    }


# ---------------------------------------------------------------- LLMRequest


def test_llm_request_redacts_credentials_in_repr_and_str() -> None:
    secrets = {
        "Authorization": "Bearer sk-live-123",
        "x-api-key": "sk-ant-456",
        "api-key": "azure-789",
        "x-goog-api-key": "goog-000",
        "Proxy-Authorization": "Basic cHJveHk=",
        "X-Session-Token": "tok-111",
        "x-client-secret": "shh-222",
        "OpenAI-Project-Key": "proj-333",
    }
    request = LLMRequest({**secrets, "content-type": "application/json"}, {"model": "m"})
    for text in (repr(request), str(request), f"{request}", repr([request])):
        for value in secrets.values():
            assert value not in text
        assert "'REDACTED'" in text
        assert "application/json" in text
        assert "'model': 'm'" in text
    assert request.headers["Authorization"] == "Bearer sk-live-123"


def test_llm_request_validates_its_fields() -> None:
    with pytest.raises(CodecError, match=r"^headers: expected a mapping of str to str, got list"):
        LLMRequest([], {})  # type: ignore[arg-type]
    with pytest.raises(CodecError, match=r"^headers: expected string header names, got int"):
        LLMRequest({1: "x"}, {})  # type: ignore[dict-item]
    with pytest.raises(
        CodecError, match=r"^headers\['authorization'\]: expected a string, got int"
    ):
        LLMRequest({"authorization": 12345}, {})  # type: ignore[dict-item]
    with pytest.raises(CodecError, match=r"^content: expected a JSON object, got string"):
        LLMRequest({}, "body")  # type: ignore[arg-type]
    with pytest.raises(CodecError, match=r"^content: expected string keys, got int"):
        LLMRequest({}, {1: 2})  # type: ignore[dict-item]
    with pytest.raises(CodecError, match=r"^headers\['x'\]: expected a string, got bytes"):
        LLMRequest({"x": b"raw"}, {})  # type: ignore[dict-item]


def test_llm_request_is_a_value() -> None:
    headers = {"a": "1"}
    content: dict[str, Any] = {"model": "m"}
    request = LLMRequest(headers, content)
    headers["a"] = "2"
    content["model"] = "changed"
    assert request.headers == {"a": "1"}
    assert request.content == {"model": "m"}
    with pytest.raises(TypeError):
        request.content["model"] = "x"  # type: ignore[index]
    assert request == LLMRequest({"a": "1"}, {"model": "m"})


def test_llm_request_with_helpers_return_new_values() -> None:
    request = LLMRequest({"Authorization": "old", "accept": "*/*"}, {"model": "m"})
    updated = request.with_headers({"authorization": "new"}, x_trace="t1")
    assert updated.headers == {"accept": "*/*", "authorization": "new", "x_trace": "t1"}
    assert request.headers == {"Authorization": "old", "accept": "*/*"}
    assert request.with_headers() == request
    replaced = request.with_content({"model": "other"})
    assert replaced.content == {"model": "other"}
    assert replaced.headers == request.headers
    assert request.content == {"model": "m"}
    with pytest.raises(CodecError, match="content"):
        request.with_content([])  # type: ignore[arg-type]


# ---------------------------------------------------------------- Chat rules


def test_chat_request_roles_parts_and_reasoning() -> None:
    request = CHAT.decode_request(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                        {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
                        {"type": "input_audio", "input_audio": {"data": "..", "format": "wav"}},
                        {"type": "file", "file": {"file_id": "f1", "filename": "a.pdf"}},
                        {"type": "video_url"},
                        {"type": "text", "text": "twice"},
                    ],
                },
                {"role": "assistant", "content": None, "refusal": "no", "reasoning": "r1"},
                {"role": "assistant", "content": "x", "reasoning_content": "r2", "reasoning": "r3"},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "nope"}]},
                {"role": "function", "name": "f", "content": "42"},
            ],
        }
    )
    assert request.messages == (
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": "look\ntwice",
            "parts": [
                {"type": "image", "url": "https://x/y.png"},
                {"type": "image", "media_type": "image/png", "data_length": 4},
                {"type": "audio", "format": "wav"},
                {"type": "file", "file_id": "f1", "filename": "a.pdf"},
                {"type": "video_url"},
            ],
        },
        {"role": "assistant", "content": "no", "reasoning": "r1"},
        {"role": "assistant", "content": "x", "reasoning": "r2"},
        {"role": "assistant", "content": "nope"},
        {"role": "tool", "content": "42"},
    )
    assert request.system_prompt() == "be brief"
    assert request.last_user_message() == "look\ntwice"


def test_chat_request_tool_calls_arguments_normalized() -> None:
    request = CHAT.decode_request(
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "a", "type": "function", "function": {"name": "f", "arguments": ""}},
                        {"id": "b", "function": {"name": "g", "arguments": {"x": [1, "é"]}}},
                        {"id": "", "function": {"name": "h"}},
                        {"id": "c", "type": "custom", "custom": {"name": "sh", "input": "ls"}},
                    ],
                    "function_call": {"name": "legacy", "arguments": '{"k":1}'},
                }
            ]
        }
    )
    assert request.messages[0]["tool_calls"] == [
        call("f", "{}", "a"),
        call("g", '{"x":[1,"é"]}', "b"),
        call("h", "{}"),
        call("sh", "ls", "c"),
        call("legacy", '{"k":1}'),
    ]
    assert request.messages[0]["content"] is None


def test_chat_request_tools_choice_params_and_extra() -> None:
    body: dict[str, Any] = {
        "model": "gpt",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
            {"type": "custom", "custom": {"name": "c", "description": "free text"}},
            {"type": "web_search_preview"},
        ],
        "functions": [{"name": "old", "description": "legacy"}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "temperature": 0.2,
        "max_completion_tokens": 5,
        "stop": ["\n"],
        "seed": 7,
        "response_format": {"type": "json_object"},
        "user": "u1",
    }
    request = CHAT.decode_request(body)
    assert request.tools == (
        {"name": "f", "description": None, "parameters": {"type": "object"}},
        {"name": "c", "description": "free text", "parameters": None},
        {"name": "old", "description": "legacy", "parameters": None},
    )
    assert request.tool_choice == {"name": "f"}
    assert request.params == {
        "temperature": 0.2,
        "max_completion_tokens": 5,
        "stop": ["\n"],
        "seed": 7,
    }
    assert request.extra == {
        "other_tools": [{"type": "web_search_preview"}],
        "response_format": {"type": "json_object"},
        "user": "u1",
    }
    # The reading is a copy: changing it leaves the body alone, and the other way round.
    request.extra["response_format"]["type"] = "text"
    assert body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("choice", "expected", "left_over"),
    [
        ("auto", "auto", None),
        ("none", "none", None),
        ("required", "required", None),
        ({"type": "function", "function": {"name": "f"}}, {"name": "f"}, None),
        ("sometimes", None, "sometimes"),
        (
            {"type": "allowed_tools", "allowed_tools": {}},
            None,
            {"type": "allowed_tools", "allowed_tools": {}},
        ),
        (3, None, 3),
    ],
)
def test_chat_tool_choice(choice: Any, expected: Any, left_over: Any) -> None:
    request = CHAT.decode_request({"messages": [], "tool_choice": choice})
    assert request.tool_choice == expected
    assert request.extra.get("tool_choice") == left_over
    assert request.tools is None


def test_chat_legacy_function_call_choice() -> None:
    request = CHAT.decode_request({"messages": [], "function_call": {"name": "f"}})
    assert request.tool_choice == {"name": "f"}
    assert request.extra == {}


def test_chat_response_finish_reasons() -> None:
    def finish(message: dict[str, Any], reason: str | None) -> AnnotatedLLMResponse:
        return CHAT.decode_response(
            {
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": reason}],
            }
        )

    text = {"role": "assistant", "content": "hi"}
    for raw in ("stop", "length", "tool_calls", "content_filter"):
        assert finish(text, raw).finish_reason == raw
    legacy = finish(
        {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}, "function_call"
    )
    assert legacy.finish_reason == "tool_calls"
    assert legacy.tool_calls == (call("f", "{}"),)
    refused = finish({"role": "assistant", "content": None, "refusal": "I can't."}, "stop")
    assert refused.finish_reason == "refusal"
    assert refused.response_text() == "I can't."
    odd = finish({"content": "x"}, "eos")  # no role: assistant is implied
    assert odd.finish_reason is None
    assert odd.api_specific == {"finish_reason": "eos"}
    assert odd.message == {"role": "assistant", "content": "x"}


def test_chat_response_usage_variants_and_no_choices() -> None:
    response = CHAT.decode_response(
        {
            "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "prompt_cache_hit_tokens": 8},
            "x_groq": {"id": "req"},
        }
    )
    assert response.message is None
    assert response.finish_reason is None
    assert response.usage == {
        "input_tokens": 10,
        "output_tokens": 4,
        "total_tokens": 14,
        "cached_input_tokens": 8,
    }
    assert response.extra == {"x_groq": {"id": "req"}}
    assert CHAT.decode_response({"choices": [], "usage": {}}).usage == {
        "input_tokens": 0,
        "output_tokens": 0,
        "total_tokens": 0,
    }
    empty = CHAT.decode_response({"choices": [{"index": 0, "finish_reason": "stop"}]})
    assert empty.message is None
    assert empty.finish_reason == "stop"


def test_chat_stream_synthetic_deltas() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> dict[str, Any]:
        return {
            "id": "c1",
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **more,
        }

    response = feed_all(
        CHAT,
        [
            chunk({"role": "assistant", "content": None}),
            # No index: the first call is placed by its id, later fragments follow it.
            chunk({"tool_calls": [{"id": "x", "function": {"name": "f", "arguments": '{"a"'}}]}),
            chunk({"tool_calls": [{"function": {"arguments": ":1}"}}]}),
            chunk({"tool_calls": [{"id": "x", "function": {"arguments": ""}}]}),
            chunk({"tool_calls": [{"id": "y", "function": {"name": "g", "arguments": {"b": 2}}}]}),
            chunk(
                {
                    "tool_calls": [
                        {"index": 7, "id": None, "function": {"name": None, "arguments": ""}}
                    ]
                }
            ),
            chunk(
                {},
                "tool_calls",
                usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            ),
            chunk(
                {},
                "tool_calls",
                usage={"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
            ),
            {"choices": None, "usage": None},
        ],
    )
    assert response.tool_calls == (call("f", '{"a":1}', "x"), call("g", '{"b":2}', "y"))
    assert response.finish_reason == "tool_calls"
    assert response.usage == {"input_tokens": 1, "output_tokens": 3, "total_tokens": 4}
    assert response.response_text() is None
    legacy = feed_all(
        CHAT,
        [
            chunk({"function_call": {"name": "old", "arguments": '{"q":'}}),
            chunk({"function_call": {"arguments": "1}"}}, "function_call"),
        ],
    )
    assert legacy.tool_calls == (call("old", '{"q":1}'),)
    assert legacy.finish_reason == "tool_calls"
    orphan = feed_all(CHAT, [chunk({"tool_calls": [{"function": {"arguments": "{}"}}]})])
    assert orphan.tool_calls == (call("", "{}"),)


def test_chat_stream_result_is_a_snapshot() -> None:
    accumulator = CHAT.accumulator()
    accumulator.feed({"choices": [{"index": 0, "delta": {"content": "Hel"}}]})
    assert accumulator.result().response_text() == "Hel"
    accumulator.feed({"choices": [{"index": 0, "delta": {"content": "lo"}}]})
    assert accumulator.result().response_text() == "Hello"
    assert feed_all(CHAT, []).message is None


# ---------------------------------------------------------------- Responses rules


def test_responses_request_items() -> None:
    request = RESPONSES.decode_request(
        {
            "model": "gpt-5",
            "instructions": "sys",
            "input": [
                {"role": "developer", "content": "dev"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "see"},
                        {"type": "input_image", "image_url": "https://i/1.png"},
                        {"type": "input_image", "file_id": "file-1"},
                        {"type": "input_file", "filename": "a.pdf", "file_data": "..."},
                    ],
                },
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "think"}],
                },
                {"role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
                {"type": "function_call", "id": "fc_1", "name": "f", "arguments": "{}"},
                {"type": "custom_tool_call", "call_id": "ct_1", "name": "sh", "input": "ls"},
                {
                    "type": "function_call_output",
                    "call_id": "fc_1",
                    "output": [{"type": "input_text", "text": "out"}],
                },
                {"type": "custom_tool_call_output", "call_id": "ct_1", "output": "files"},
                {"type": "item_reference", "id": "msg_9"},
            ],
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "description": "d",
                    "parameters": {"type": "object"},
                },
                {"type": "custom", "name": "sh"},
                {"type": "web_search"},
            ],
            "tool_choice": {"type": "function", "name": "f"},
            "max_output_tokens": 100,
            "reasoning": {"effort": "low"},
        }
    )
    assert request.messages == (
        {"role": "system", "content": "sys"},
        {"role": "system", "content": "dev"},
        {
            "role": "user",
            "content": "see",
            "parts": [
                {"type": "image", "url": "https://i/1.png"},
                {"type": "image", "file_id": "file-1"},
                {"type": "file", "filename": "a.pdf"},
            ],
        },
        {
            "role": "assistant",
            "content": "calling",
            "tool_calls": [call("f", "{}", "fc_1"), call("sh", "ls", "ct_1")],
            "reasoning": "think",
        },
        {"role": "tool", "content": "out", "tool_call_id": "fc_1"},
        {"role": "tool", "content": "files", "tool_call_id": "ct_1"},
    )
    assert request.tools == (
        {"name": "f", "description": "d", "parameters": {"type": "object"}},
        {"name": "sh", "description": None, "parameters": None},
    )
    assert request.tool_choice == {"name": "f"}
    assert request.params == {"max_output_tokens": 100}
    assert request.extra == {
        "other_tools": [{"type": "web_search"}],
        "unparsed_input": [{"type": "item_reference", "id": "msg_9"}],
        "reasoning": {"effort": "low"},
    }


def test_responses_request_string_or_no_input() -> None:
    text = RESPONSES.decode_request({"model": "m", "input": "hello"})
    assert text.messages == ({"role": "user", "content": "hello"},)
    assert text.tools is None
    bare = RESPONSES.decode_request({"input": None, "previous_response_id": "resp_1"})
    assert bare.messages == ()
    assert bare.extra == {"previous_response_id": "resp_1"}
    mcp = {"type": "mcp", "server_label": "s", "name": "t"}
    assert RESPONSES.decode_request({"input": "x", "tool_choice": mcp}).extra == {
        "tool_choice": mcp
    }


def test_responses_response_finish_reasons() -> None:
    def body(status: str | None, output: list[Any], reason: str | None = None) -> dict[str, Any]:
        details = None if reason is None else {"reason": reason}
        return {
            "object": "response",
            "status": status,
            "output": output,
            "incomplete_details": details,
        }

    message = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "hi"}],
    }
    refusal = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "refusal", "refusal": "no"}],
    }
    function = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    assert RESPONSES.decode_response(body("completed", [message])).finish_reason == "stop"
    assert (
        RESPONSES.decode_response(body("completed", [message, function])).finish_reason
        == "tool_calls"
    )
    refused = RESPONSES.decode_response(body("completed", [refusal]))
    assert refused.finish_reason == "refusal"
    assert refused.response_text() == "no"
    length = RESPONSES.decode_response(body("incomplete", [message], "max_output_tokens"))
    assert length.finish_reason == "length"
    assert length.api_specific == {"status": "incomplete", "incomplete_reason": "max_output_tokens"}
    filtered = RESPONSES.decode_response(body("incomplete", [], "content_filter"))
    assert filtered.finish_reason == "content_filter"
    assert filtered.message is None
    assert RESPONSES.decode_response(body("incomplete", [], "other")).finish_reason is None
    assert RESPONSES.decode_response(body("in_progress", [message])).finish_reason is None
    search = RESPONSES.decode_response(
        body(
            "completed",
            [
                {"type": "web_search_call", "id": "ws"},
                {"type": "function_call_output", "call_id": "c", "output": "x"},
                message,
            ],
        )
    )
    assert search.message == {
        "role": "assistant",
        "content": "hi",
        "parts": [{"type": "web_search_call"}, {"type": "function_call_output"}],
    }


def test_responses_stream_synthetic_events() -> None:
    response = feed_all(
        RESPONSES,
        [
            {
                "type": "response.created",
                "response": {"id": "r1", "model": "m", "status": "in_progress", "output": []},
            },
            # Deltas for items that were never added still land somewhere sensible.
            {
                "type": "response.output_text.delta",
                "output_index": 0,
                "item_id": "msg_1",
                "content_index": 0,
                "delta": "Hi",
            },
            {
                "type": "response.refusal.delta",
                "item_id": "msg_1",
                "content_index": 1,
                "delta": "No",
            },
            {
                "type": "response.reasoning_text.delta",
                "output_index": 1,
                "content_index": 0,
                "delta": "hm",
            },
            {
                "type": "response.reasoning_summary_text.delta",
                "output_index": 1,
                "summary_index": 0,
                "delta": "sum",
            },
            {"type": "response.function_call_arguments.delta", "output_index": 2, "delta": '{"a"'},
            {
                "type": "response.output_item.added",
                "output_index": 2,
                "item": {
                    "type": "function_call",
                    "id": "fc_2",
                    "call_id": "call_2",
                    "name": "f",
                    "arguments": "",
                },
            },
            {"type": "response.function_call_arguments.delta", "item_id": "fc_2", "delta": ":1}"},
            {
                "type": "response.output_item.added",
                "output_index": 3,
                "item": {
                    "type": "function_call",
                    "id": "fc_3",
                    "call_id": "call_3",
                    "name": "g",
                    "arguments": "",
                },
            },
            {
                "type": "response.function_call_arguments.delta",
                "output_index": 3,
                "delta": "{broken",
            },
            {
                "type": "response.function_call_arguments.done",
                "output_index": 3,
                "arguments": '{"b":2}',
            },
            {"type": "response.content_part.added", "output_index": 0},
            {
                "type": "response.output_item.done",
                "output_index": 4,
                "item": {"type": "web_search_call"},
            },
            {"type": "response.some_future_event", "output_index": 9},
        ],
    )
    assert response.id == "r1"
    assert response.message == {
        "role": "assistant",
        "content": "Hi\nNo",
        "parts": [{"type": "web_search_call"}],
        "tool_calls": [call("f", '{"a":1}', "call_2"), call("g", '{"b":2}', "call_3")],
        "reasoning": "sum\nhm",
    }
    assert response.finish_reason is None  # still in progress
    errored = feed_all(RESPONSES, [{"type": "error", "code": "server_error", "message": "boom"}])
    assert errored.api_specific == {
        "status": None,
        "error": {"type": "error", "code": "server_error", "message": "boom"},
    }


def test_responses_stream_terminal_output_fills_gaps() -> None:
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "whole"}],
    }
    response = feed_all(
        RESPONSES,
        [
            {
                "type": "response.completed",
                "response": {
                    "status": "completed",
                    "output": [item],
                    "usage": {"input_tokens": 2, "output_tokens": 1},
                },
            }
        ],
    )
    assert response.response_text() == "whole"
    assert response.finish_reason == "stop"
    assert response.usage == {"input_tokens": 2, "output_tokens": 1, "total_tokens": 3}


# ---------------------------------------------------------------- Anthropic rules


def test_anthropic_request_blocks() -> None:
    request = ANTHROPIC.decode_request(
        {
            "model": "claude",
            "system": [
                {"type": "text", "text": "one", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "two"},
            ],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/jpeg",
                                "data": "QUJD",
                            },
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://i/2.png"}},
                        {"type": "document", "source": {"type": "file", "file_id": "file_1"}},
                        {"type": "text", "text": "what is this?"},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "redacted_thinking", "data": "xyz"},
                        {"type": "tool_use", "id": "tu_1", "name": "look", "input": {"q": "x"}},
                        {
                            "type": "server_tool_use",
                            "id": "st_1",
                            "name": "web_search",
                            "input": {},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "before"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "tu_1",
                            "content": [
                                {"type": "text", "text": "seen"},
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/png",
                                        "data": "AA",
                                    },
                                },
                            ],
                        },
                        {"type": "tool_result", "tool_use_id": "tu_2", "is_error": True},
                        {"type": "text", "text": "thanks"},
                    ],
                },
                {"role": "user", "content": []},
            ],
            "tools": [
                {"name": "look", "description": "d", "input_schema": {"type": "object"}},
                {"type": "custom", "name": "c", "input_schema": {"type": "object"}},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
            ],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "stop_sequences": ["END"],
            "top_k": 5,
            "metadata": {"user_id": "u"},
        }
    )
    assert request.messages == (
        {"role": "system", "content": "one\ntwo"},
        {
            "role": "user",
            "content": "what is this?",
            "parts": [
                {"type": "image", "media_type": "image/jpeg", "data_length": 4},
                {"type": "image", "url": "https://i/2.png"},
                {"type": "file", "file_id": "file_1"},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "parts": [{"type": "redacted_thinking"}, {"type": "server_tool_use"}],
            "tool_calls": [call("look", '{"q":"x"}', "tu_1")],
            "reasoning": "hmm",
        },
        {"role": "user", "content": "before"},
        {
            "role": "tool",
            "content": "seen",
            "parts": [{"type": "image", "media_type": "image/png", "data_length": 2}],
            "tool_call_id": "tu_1",
        },
        {"role": "tool", "content": None, "tool_call_id": "tu_2"},
        {"role": "user", "content": "thanks"},
        {"role": "user", "content": None},
    )
    assert request.system_prompt() == "one\ntwo"
    assert request.last_user_message() is None
    assert [t["name"] for t in request.tools or ()] == ["look", "c"]
    assert request.tool_choice == "required"
    assert request.params == {"stop_sequences": ["END"], "top_k": 5}
    assert request.extra == {
        "other_tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
        "disable_parallel_tool_use": True,
        "metadata": {"user_id": "u"},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "f"}, {"name": "f"}),
        ({"type": "tool"}, None),
        ({"type": "sometimes"}, None),
        ({"type": 1}, None),
        ("auto", None),
    ],
)
def test_anthropic_tool_choice(choice: Any, expected: Any) -> None:
    request = ANTHROPIC.decode_request(
        {"messages": [{"role": "user", "content": "x"}], "tool_choice": choice}
    )
    assert request.tool_choice == expected
    assert ("tool_choice" in request.extra) == (expected is None)


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "refusal"),
        ("pause_turn", None),
        (None, None),
    ],
)
def test_anthropic_stop_reasons(stop_reason: str | None, expected: str | None) -> None:
    response = ANTHROPIC.decode_response(
        {
            "type": "message",
            "content": [{"type": "text", "text": "x"}],
            "stop_reason": stop_reason,
            "stop_sequence": "END" if stop_reason == "stop_sequence" else None,
        }
    )
    assert response.finish_reason == expected
    assert response.api_specific is not None
    assert response.api_specific["stop_reason"] == stop_reason
    assert ("stop_sequence" in response.api_specific) == (stop_reason == "stop_sequence")


def test_anthropic_usage_counts_cache_tokens_as_input() -> None:
    response = ANTHROPIC.decode_response(
        {
            "type": "message",
            "content": [],
            "usage": {
                "input_tokens": 10,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 50,
                "output_tokens": 5,
            },
        }
    )
    assert response.message is None
    assert response.usage == {
        "input_tokens": 160,
        "output_tokens": 5,
        "total_tokens": 165,
        "cached_input_tokens": 100,
    }
    assert response.api_specific == {"stop_reason": None, "cache_creation_input_tokens": 50}
    odd = ANTHROPIC.decode_response({"content": [{"type": "tool_result", "tool_use_id": "x"}]})
    assert odd.message == {"role": "assistant", "content": None, "parts": [{"type": "tool_result"}]}


def test_anthropic_stream_synthetic_events() -> None:
    response = feed_all(
        ANTHROPIC,
        [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "model": "claude",
                    "usage": {"input_tokens": 5, "output_tokens": 1},
                },
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "implied"},
            },
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "thinking", "thinking": ""},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "thinking_delta", "thinking": "deep"},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "signature_delta", "signature": "sig"},
            },
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"z":0}'},
            },
            {
                "type": "content_block_start",
                "index": 3,
                "content_block": {"type": "tool_use", "id": "tu", "name": "f", "input": {"pre": 1}},
            },
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "citations_delta", "citation": {}},
            },
            {
                "type": "content_block_start",
                "index": 4,
                "content_block": {"type": "tool_result", "tool_use_id": "tu"},
            },
            {"type": "ping"},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 9, "input_tokens": None},
            },
            {"type": "message_stop"},
        ],
    )
    assert response.id == "msg_1"
    assert response.message == {
        "role": "assistant",
        "content": "implied",
        "parts": [{"type": "tool_result"}],
        "tool_calls": [call("", '{"z":0}'), call("f", '{"pre":1}', "tu")],
        "reasoning": "deep",
    }
    assert response.finish_reason == "tool_calls"
    assert response.usage == {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14}


# ---------------------------------------------------------------- errors and their paths


@pytest.mark.parametrize(
    ("codec", "body", "message"),
    [
        (CHAT, [], "body: expected an object, got list"),
        (CHAT, {}, "messages: expected a list, got null"),
        (
            CHAT,
            {"messages": [{"role": "user"}, {"role": "user"}, {"role": "user", "content": 5}]},
            "messages[2].content: expected a string or a list of parts, got int",
        ),
        (
            CHAT,
            {"messages": [{"role": "wizard"}]},
            "messages[0].role: expected one of system, developer, user, assistant, tool, "
            "function, got 'wizard'",
        ),
        (CHAT, {"messages": [{"content": "x"}]}, "messages[0].role: expected a string, got null"),
        (
            CHAT,
            {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
            "messages[0].content[0].type: expected a string, got null",
        ),
        (
            CHAT,
            {"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
            "messages[0].content[0].text: expected a string, got int",
        ),
        (
            CHAT,
            {"messages": [{"role": "user", "content": ["x"]}]},
            "messages[0].content[0]: expected an object, got string",
        ),
        (
            CHAT,
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages[0].content[0].image_url: expected an object, got null",
        ),
        (
            CHAT,
            {"messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]},
            "messages[0].tool_calls[0].function.name: expected a string, got null",
        ),
        (
            CHAT,
            {"messages": [{"role": "assistant", "tool_calls": [{"id": "x"}]}]},
            "messages[0].tool_calls[0].function: expected an object, got null",
        ),
        (
            CHAT,
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"function": {"name": "f", "arguments": 3}}],
                    }
                ]
            },
            "messages[0].tool_calls[0].function.arguments: "
            "expected a JSON string or object, got int",
        ),
        (
            CHAT,
            {"messages": [{"role": "assistant", "reasoning_content": ["x"]}]},
            "messages[0].reasoning_content: expected a string, got list",
        ),
        (CHAT, {"messages": [], "tools": {}}, "tools: expected a list, got object"),
        (CHAT, {"messages": [], "tools": [1]}, "tools[0]: expected an object, got int"),
        (
            CHAT,
            {"messages": [], "tools": [{"function": {"name": "f", "parameters": "x"}}]},
            "tools[0].function.parameters: expected an object, got string",
        ),
        (CHAT, {"messages": [], "model": 4}, "model: expected a string, got int"),
        (RESPONSES, {"input": 1}, "input: expected a string or a list of items, got int"),
        (
            RESPONSES,
            {"input": [{"type": "function_call", "arguments": "{}"}]},
            "input[0].name: expected a string, got null",
        ),
        (
            RESPONSES,
            {"input": [{"type": "reasoning", "summary": [{"type": "summary_text"}]}]},
            "input[0].summary[0].text: expected a string, got null",
        ),
        (
            RESPONSES,
            {"input": [{"role": "tool", "content": "x"}]},
            "input[0].role: expected one of system, developer, user, assistant, got 'tool'",
        ),
        (
            RESPONSES,
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": 5}]}]},
            "input[0].content[0].image_url: expected a string, got int",
        ),
        (
            ANTHROPIC,
            {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
            "messages[0].content[0].type: expected a string, got null",
        ),
        (
            ANTHROPIC,
            {"messages": [{"role": "system", "content": "x"}]},
            "messages[0].role: expected one of user, assistant, got 'system'",
        ),
        (
            ANTHROPIC,
            {"system": 5, "messages": []},
            "system: expected a string or a list of parts, got int",
        ),
        (
            ANTHROPIC,
            {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "input": {}}]}]},
            "messages[0].content[0].name: expected a string, got null",
        ),
        (
            ANTHROPIC,
            {"messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]},
            "messages[0].content[0].source: expected an object, got string",
        ),
        (
            ANTHROPIC,
            {
                "messages": [
                    {"role": "user", "content": [{"type": "document", "source": {"url": 1}}]}
                ]
            },
            "messages[0].content[0].source.url: expected a string, got int",
        ),
        (
            ANTHROPIC,
            {"messages": [], "tools": [{"input_schema": {}}]},
            "tools[0].name: expected a string, got null",
        ),
    ],
)
def test_bad_requests_name_the_path(codec: LLMCodec, body: Any, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode_request(body)
    assert str(caught.value) == message
    assert caught.value.path == message.split(":", maxsplit=1)[0].removeprefix("body")


@pytest.mark.parametrize(
    ("codec", "body", "message"),
    [
        (
            CHAT,
            {"error": {"type": "rate_limit", "message": "slow down"}},
            "error: the body is a provider error, not a response (rate_limit: slow down)",
        ),
        (CHAT, {"error": "boom"}, "error: the body is a provider error, not a response ('boom')"),
        (
            CHAT,
            {"error": {"message": "no type"}},
            "error: the body is a provider error, not a response (no type)",
        ),
        (CHAT, {"id": "x"}, "choices: expected a list, got null"),
        (
            CHAT,
            {"choices": [{"message": {"content": 1}}]},
            "choices[0].message.content: expected a string or a list of parts, got int",
        ),
        (CHAT, {"choices": [{"index": "0"}]}, "choices[0].index: expected an integer, got string"),
        (
            CHAT,
            {"choices": [], "usage": {"prompt_tokens": "7"}},
            "usage.prompt_tokens: expected an integer, got string",
        ),
        (
            CHAT,
            {"choices": [], "usage": {"prompt_tokens": True}},
            "usage.prompt_tokens: expected an integer, got bool",
        ),
        (
            CHAT,
            {"choices": [], "usage": {"prompt_tokens_details": {"cached_tokens": 1.5}}},
            "usage.prompt_tokens_details.cached_tokens: expected an integer, got float",
        ),
        (
            RESPONSES,
            {"error": {"code": "model_not_found", "message": "m"}},
            "error: the body is a provider error, not a response (model_not_found: m)",
        ),
        (
            RESPONSES,
            {"output": [{"type": "function_call", "name": "f", "arguments": 1}]},
            "output[0].arguments: expected a JSON string or object, got int",
        ),
        (
            RESPONSES,
            {"output": [], "incomplete_details": {"reason": 1}},
            "incomplete_details.reason: expected a string, got int",
        ),
        (
            ANTHROPIC,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "error: the body is a provider error, not a response (overloaded_error: Overloaded)",
        ),
        (ANTHROPIC, {"type": "message", "content": "hi"}, "content: expected a list, got string"),
        (
            ANTHROPIC,
            {"content": [{"type": "text", "text": "x"}], "stop_reason": 1},
            "stop_reason: expected a string, got int",
        ),
        (ANTHROPIC, {"content": [], "usage": []}, "usage: expected an object, got list"),
    ],
)
def test_bad_responses_name_the_path(codec: LLMCodec, body: Any, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode_response(body)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("codec", "chunk", "message"),
    [
        (CHAT, [], "body: expected an object, got list"),
        (
            CHAT,
            {"choices": [{"delta": {"content": 1}}]},
            "choices[0].delta.content: expected a string, got int",
        ),
        (
            CHAT,
            {"choices": [{"delta": {"tool_calls": [{"index": "a"}]}}]},
            "choices[0].delta.tool_calls[0].index: expected an integer, got string",
        ),
        (
            CHAT,
            {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": 5}}]}}]},
            "choices[0].delta.tool_calls[0].function.arguments: "
            "expected a JSON string or object, got int",
        ),
        (
            CHAT,
            {"choices": [], "usage": {"completion_tokens": "x"}},
            "usage.completion_tokens: expected an integer, got string",
        ),
        (CHAT, {"choices": "x"}, "choices: expected a list, got string"),
        (RESPONSES, {}, "type: expected a string, got null"),
        (
            RESPONSES,
            {"type": "response.created", "response": None},
            "response: expected an object, got null",
        ),
        (
            RESPONSES,
            {"type": "response.output_item.added", "item": {"type": "message", "role": "user"}},
            "output_index: expected an integer, got null",
        ),
        (
            RESPONSES,
            {"type": "response.completed", "response": {"status": "completed", "usage": []}},
            "response.usage: expected an object, got list",
        ),
        (
            RESPONSES,
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"type": "function_call"},
            },
            "item.name: expected a string, got null",
        ),
        (
            RESPONSES,
            {"type": "response.output_text.delta", "output_index": 0, "delta": None},
            "delta: expected a string, got null",
        ),
        (
            ANTHROPIC,
            {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}},
            "index: expected an integer, got null",
        ),
        (
            ANTHROPIC,
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}},
            "delta.text: expected a string, got null",
        ),
        (
            ANTHROPIC,
            {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta"}},
            "delta.signature: expected a string, got null",
        ),
        (
            ANTHROPIC,
            {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use"}},
            "content_block.name: expected a string, got null",
        ),
        (
            ANTHROPIC,
            {"type": "message_start", "message": {"usage": {"input_tokens": "1"}}},
            "message.usage.input_tokens: expected an integer, got string",
        ),
        (
            ANTHROPIC,
            {"type": "message_delta", "delta": {"stop_reason": 3}},
            "delta.stop_reason: expected a string, got int",
        ),
    ],
)
def test_bad_stream_payloads_name_the_path(codec: LLMCodec, chunk: Any, message: str) -> None:
    accumulator = codec.accumulator()
    with pytest.raises(CodecError) as caught:
        accumulator.feed(chunk)
    assert str(caught.value) == message


def test_arguments_that_are_not_json_serializable() -> None:
    with pytest.raises(
        CodecError, match=r"^messages\[0\]\.tool_calls\[0\]\.function\.arguments: not serializable"
    ):
        CHAT.decode_request(
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [{"function": {"name": "f", "arguments": {("a",): 1}}}],
                    }
                ]
            }
        )


def test_codec_error_is_a_usage_error_and_a_value_error() -> None:
    error = CodecError("messages[0]", "expected an object, got int")
    assert isinstance(error, UsageError)
    assert isinstance(error, ActrioError)
    assert isinstance(error, ValueError)
    assert str(error) == "messages[0]: expected an object, got int"
    assert (error.path, error.problem) == ("messages[0]", "expected an object, got int")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.path) == (CodecError, str(error), "messages[0]")


# ---------------------------------------------------------------- registry and detection


def test_codec_for_and_the_protocols() -> None:
    assert codec_for("openai-chat") == CHAT
    assert codec_for("openai-responses") == RESPONSES
    assert codec_for("anthropic-messages") == ANTHROPIC
    assert (OpenAIChatCodec.name, OpenAIResponsesCodec.name, AnthropicMessagesCodec.name) == APIS
    for name in APIS:
        codec = codec_for(name)
        assert isinstance(codec, LLMCodec)
        assert codec.name == name
        assert isinstance(codec.accumulator(), StreamAccumulator)
    with pytest.raises(
        CodecError,
        match=r"^name: unknown codec 'gemini'; "
        r"known: anthropic-messages, openai-chat, openai-responses$",
    ):
        codec_for("gemini")
    with pytest.raises(CodecError, match="unknown codec None"):
        codec_for(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"input": "hi"}, "openai-responses"),
        ({"model": "m", "input": [], "messages": []}, "openai-responses"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "openai-chat"),
        (
            {
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                "max_tokens": 9,
            },
            "openai-chat",
        ),
        ({"messages": [], "system": "s"}, "anthropic-messages"),
        ({"messages": [], "anthropic_version": "vertex-2023-10-16"}, "anthropic-messages"),
        ({"messages": [], "stop_sequences": ["x"]}, "anthropic-messages"),
        ({"messages": [], "tools": [{"name": "f", "input_schema": {}}]}, "anthropic-messages"),
        (
            {"messages": [], "tools": [{"type": "function", "function": {"name": "f"}}, 3]},
            "openai-chat",
        ),
        ({"messages": [], "tool_choice": {"type": "any"}}, "anthropic-messages"),
        (
            {"messages": [], "tool_choice": {"type": "function", "function": {"name": "f"}}},
            "openai-chat",
        ),
        (
            {"messages": [], "thinking": {"type": "enabled", "budget_tokens": 1024}},
            "anthropic-messages",
        ),
        ({"messages": [], "thinking": {"type": "enabled"}}, "openai-chat"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}
                ]
            },
            "anthropic-messages",
        ),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "tool_use"}]}]},
            "anthropic-messages",
        ),
        (
            {"messages": [{"role": "user", "content": [1, {"type": "image_url"}]}, "x"]},
            "openai-chat",
        ),
        ({"messages": "not a list"}, "openai-chat"),
        ({"prompt": "hi"}, None),
        ([], None),
        ("input", None),
    ],
)
def test_detect_request_codec(body: Any, expected: str | None) -> None:
    detected = detect_request_codec(body)
    assert (detected and detected.name) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"object": "chat.completion"}, "openai-chat"),
        ({"object": "chat.completion.chunk"}, "openai-chat"),
        ({"object": "response"}, "openai-responses"),
        ({"type": "response.output_text.delta"}, "openai-responses"),
        ({"type": "message"}, "anthropic-messages"),
        ({"type": "content_block_delta"}, "anthropic-messages"),
        ({"type": "error", "error": {}}, None),
        ({"error": {"message": "x"}}, None),
        ({"type": 3}, None),
        ([], None),
    ],
)
def test_detect_response_codec(body: Any, expected: str | None) -> None:
    detected = detect_response_codec(body)
    assert (detected and detected.name) == expected


# ---------------------------------------------------------------- values and the wire


def test_public_surface() -> None:
    exported = actrio.codecs.__all__
    assert isinstance(exported, tuple)
    assert list(exported) == sorted(exported)
    for name in exported:
        assert getattr(actrio.codecs, name) is not None


def test_annotated_values_round_trip_through_the_converter() -> None:
    request = AnnotatedLLMRequest(
        messages=({"role": "user", "content": "hi", "parts": [{"type": "image", "url": "u"}]},),
        model="m",
        params={"temperature": 0.5},
        tools=({"name": "f", "description": None, "parameters": {"type": "object"}},),
        tool_choice={"name": "f"},
        extra={"k": [1, None]},
        api="openai-chat",
    )
    assert round_trip(request) == request
    for choice in ("auto", None):
        variant = AnnotatedLLMRequest(messages=(), tool_choice=choice, api="openai-chat")
        assert round_trip(variant) == variant
    response = AnnotatedLLMResponse(
        id="r",
        model="m",
        message={"role": "assistant", "content": None, "tool_calls": [call("f", "{}")]},
        tool_calls=(call("f", "{}"),),
        finish_reason="tool_calls",
        usage={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
        api_specific={"stop_reason": "tool_use"},
        api="anthropic-messages",
    )
    assert round_trip(response) == response
    with pytest.raises(cattrs.errors.ClassValidationError) as caught:
        converter.structure({"messages": [], "tool_choice": 3, "api": "x"}, AnnotatedLLMRequest)
    (cause,) = caught.value.exceptions
    assert str(cause) == "expected a string, an object or null, got int"


def test_annotated_helpers_on_edge_shapes() -> None:
    request = AnnotatedLLMRequest(messages=({"role": "system", "content": None},), api="x")
    assert request.system_prompt() is None
    assert request.last_user_message() is None
    assert not request.has_tool_calls()
    response = AnnotatedLLMResponse(api="x")
    assert response.response_text() is None
    assert not response.has_tool_calls()
    assert response.extra == {}


# ---------------------------------------------------------------- fuzzing

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.sampled_from(
        ["text", "tool_use", "function", "message", "assistant", "user", "{}", "data:x,y"]
    )
)
KEYS = st.sampled_from(
    [
        "role",
        "content",
        "type",
        "text",
        "tool_calls",
        "function",
        "name",
        "arguments",
        "id",
        "messages",
        "input",
        "output",
        "choices",
        "delta",
        "index",
        "message",
        "usage",
        "item",
        "response",
        "content_block",
        "partial_json",
        "tool_use_id",
        "call_id",
        "source",
        "system",
        "tools",
        "tool_choice",
        "summary",
        "prompt_tokens",
        "input_tokens",
        "finish_reason",
        "stop_reason",
        "output_index",
        "status",
        "error",
        "image_url",
        "url",
        "refusal",
    ]
) | st.text(max_size=4)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)

SEEDS: list[tuple[str, str, Any]] = [
    (
        "openai-chat",
        "request",
        {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
            "tools": [{"type": "function", "function": {"name": "f"}}],
        },
    ),
    (
        "openai-chat",
        "response",
        {
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}],
                    },
                }
            ],
            "usage": {"prompt_tokens": 1},
        },
    ),
    (
        "openai-chat",
        "chunk",
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]},
                }
            ]
        },
    ),
    (
        "openai-responses",
        "request",
        {
            "input": [
                {"type": "function_call", "name": "f", "arguments": "{}"},
                {"type": "reasoning", "summary": []},
            ]
        },
    ),
    (
        "openai-responses",
        "response",
        {
            "status": "completed",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": "x"}]}],
        },
    ),
    (
        "openai-responses",
        "chunk",
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "function_call", "name": "f"},
        },
    ),
    (
        "anthropic-messages",
        "request",
        {
            "system": "s",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": []}],
                }
            ],
        },
    ),
    (
        "anthropic-messages",
        "response",
        {
            "type": "message",
            "content": [{"type": "tool_use", "name": "f", "input": {}}],
            "usage": {"input_tokens": 1},
        },
    ),
    (
        "anthropic-messages",
        "chunk",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
]


def _recorded_seeds() -> list[tuple[str, str, Any]]:
    seeds = []
    for api, name in REQUEST_FILES:
        seeds.append((api, "request", load(api, name)))
    for api, name in BODY_FILES:
        if not is_error_body(name):
            seeds.append((api, "response", load(api, name)))
    for api, name in SSE_FILES:
        payloads = sse_payloads(fixture_path(api, name).read_text(encoding="utf-8"))
        seeds += [(api, "chunk", payload) for payload in payloads[:12]]
    return seeds


ALL_SEEDS = SEEDS + _recorded_seeds()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:6]):
            found += _paths(item, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any, *, delete: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    if delete and not rest and isinstance(copy, dict):
        del copy[head]
        return copy
    copy[head] = _replace(copy[head], rest, new, delete=delete)
    return copy


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, str, Any]:
    api, kind, seed = draw(st.sampled_from(ALL_SEEDS))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(seed)))
        seed = _replace(seed, path, draw(JSON), delete=draw(st.booleans()))
    return api, kind, seed


def _decode(api: str, kind: str, value: Any) -> Any:
    codec = codec_for(api)
    if kind == "request":
        return codec.decode_request(value)
    if kind == "response":
        return codec.decode_response(value)
    accumulator = codec.accumulator()
    accumulator.feed(value)
    return accumulator.result()


def _check_decodes_or_codec_error(api: str, kind: str, value: Any) -> None:
    try:
        decoded = _decode(api, kind, value)
    except CodecError:
        return
    assert isinstance(decoded, AnnotatedLLMRequest | AnnotatedLLMResponse)
    assert round_trip(decoded) == decoded


@settings(max_examples=300, deadline=None)
@given(mutants())
def test_fuzz_mutated_traffic_decodes_or_raises_codec_error(case: tuple[str, str, Any]) -> None:
    _check_decodes_or_codec_error(*case)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(APIS), st.sampled_from(["request", "response", "chunk"]), JSON)
def test_fuzz_random_json_decodes_or_raises_codec_error(api: str, kind: str, value: Any) -> None:
    _check_decodes_or_codec_error(api, kind, value)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(APIS),
    st.lists(st.sampled_from(ALL_SEEDS).map(lambda seed: seed[2]) | JSON, max_size=8),
)
def test_fuzz_streams_of_mixed_payloads(api: str, chunks: list[Any]) -> None:
    """A rejected payload leaves the accumulator usable: ``result()`` never fails."""
    accumulator = codec_for(api).accumulator()
    for chunk in chunks:
        try:
            accumulator.feed(chunk)
        except CodecError:
            continue
    result = accumulator.result()
    assert round_trip(result) == result


@given(JSON)
def test_fuzz_detection_never_raises(value: Any) -> None:
    for detected in (detect_request_codec(value), detect_response_codec(value)):
        assert detected is None or detected.name in APIS


def test_the_codecs_load_on_first_use() -> None:
    """``import actrio`` needs the values, not the three readers (import time)."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys, actrio, actrio.codecs as c\n"
        "print(sorted(m for m in sys.modules if m.startswith('actrio.codecs._')))\n"
        "print(c.codec_for('openai-chat').name, c.OpenAIChatCodec.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    loaded, used = done.stdout.splitlines()
    assert loaded == "['actrio.codecs._base', 'actrio.codecs._values']"
    assert used == "openai-chat OpenAIChatCodec"
    with pytest.raises(AttributeError, match="nope"):
        _ = actrio.codecs.nope  # type: ignore[attr-defined]
