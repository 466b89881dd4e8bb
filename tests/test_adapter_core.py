"""The adapters' shared pieces: error mapping, retry policy values, the message builder,
prices, model strings, the router and fallback chains."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from actrio.adapters._accumulate import MessageBuilder, parse_arguments
from actrio.adapters.cost import Price, PriceNotFound, PriceTable, cost
from actrio.adapters.errors import (
    AuthenticationError,
    BadRequest,
    ContextLengthExceeded,
    NotFound,
    Overloaded,
    PermissionDenied,
    ProviderConnectionError,
    ProviderError,
    ProviderProtocolError,
    QuotaExceeded,
    RateLimited,
    ServerError,
    StreamInterrupted,
    error_from_body,
    error_from_response,
    redact_headers,
    redact_url,
)
from actrio.adapters.openai_chat import OpenAIChat
from actrio.adapters.retry import RetryPolicy
from actrio.adapters.router import (
    PROVIDERS,
    FallbackModel,
    ModelRouter,
    ModelStringError,
    from_model_string,
)
from actrio.messages import Message, ReasoningPart, TextPart, ToolCallPart
from actrio.types import (
    Finish,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from provider_fixtures import PROVIDER_FIXTURES

if TYPE_CHECKING:
    from pathlib import Path

FIXTURES = PROVIDER_FIXTURES


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# ---------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("name", "status", "cls", "code"),
    [
        ("openai-chat/error-400-context-length-exceeded.json", 400, ContextLengthExceeded, None),
        (
            "openai-chat/error-400-context-length-exceeded-compact.json",
            400,
            ContextLengthExceeded,
            None,
        ),
        ("openai-chat/error-404-model-not-found.json", 404, NotFound, "model_not_found"),
        ("openai-chat/error-429-rate-limit-requests.json", 429, RateLimited, "rate_limit_exceeded"),
        (
            "openai-chat/error-429-request-too-large-tokens.transcribed.json",
            429,
            QuotaExceeded,
            "rate_limit_exceeded",
        ),
        ("openai-chat/openrouter-error-429.json", 429, RateLimited, None),
        ("openai-chat/groq-error-400-tool-use-failed.json", 400, BadRequest, "tool_use_failed"),
        (
            "openai-responses/error-429-insufficient-quota.json",
            429,
            QuotaExceeded,
            "insufficient_quota",
        ),
        ("openai-responses/error-400-model-not-found.json", 400, BadRequest, None),
        ("anthropic-messages/error-400-prompt-too-long.json", 400, ContextLengthExceeded, None),
        (
            "anthropic-messages/error-400-input-plus-max-tokens-exceed-context.json",
            400,
            ContextLengthExceeded,
            None,
        ),
        ("anthropic-messages/error-404-model-not-found.json", 404, NotFound, "not_found_error"),
        ("anthropic-messages/error-429-rate-limit.json", 429, RateLimited, "rate_limit_error"),
        ("anthropic-messages/error-529-overloaded.json", 529, Overloaded, "overloaded_error"),
        ("gemini/error-404-model-not-found.json", 404, NotFound, "NOT_FOUND"),
        (
            "gemini/error-429-resource-exhausted-retryinfo.json",
            429,
            RateLimited,
            "RESOURCE_EXHAUSTED",
        ),
    ],
)
def test_recorded_error_bodies_map_to_their_class(
    name: str, status: int, cls: type[ProviderError], code: str | None
) -> None:
    body = (FIXTURES / name).read_bytes()
    error = error_from_response(status, {}, body, provider="p")
    assert type(error) is cls
    assert error.status == status
    if code is not None:
        assert error.code == code
    assert error.message
    assert len(error.message) <= 500


def test_context_overflow_code_is_recognised_whatever_the_message() -> None:
    error = error_from_body(
        {"error": {"code": "context_length_exceeded", "message": "x"}}, provider="p", status=400
    )
    assert isinstance(error, ContextLengthExceeded)
    assert isinstance(error, BadRequest)


def test_request_ids_come_from_body_or_headers() -> None:
    body = _fixture("anthropic-messages/error-400-invalid-request.json")
    assert error_from_body(body, provider="a", status=400).request_id == body["request_id"]
    error = error_from_body({"error": {"message": "m"}}, provider="o", status=500,
                            headers={"X-Request-Id": "req_1"})  # fmt: skip
    assert error.request_id == "req_1"
    assert isinstance(error, ServerError)
    assert error.retryable


def test_gemini_retry_info_and_openai_try_again_text_give_retry_after() -> None:
    gemini = error_from_body(
        _fixture("gemini/error-429-resource-exhausted-retryinfo.json"), provider="g", status=429
    )
    assert isinstance(gemini, RateLimited)
    assert gemini.retry_after == pytest.approx(34.4)
    openai = error_from_body(
        _fixture("openai-chat/error-429-rate-limit-requests.json"), provider="o", status=429
    )
    assert isinstance(openai, RateLimited)
    assert openai.retry_after == 20
    ms = error_from_body(
        {"error": {"message": "Please try again in 644ms."}}, provider="o", status=429
    )
    assert ms.retry_after == pytest.approx(0.644)  # type: ignore[attr-defined]
    header = error_from_body({}, provider="o", status=429, headers={"retry-after": "3"})
    assert header.retry_after == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (401, AuthenticationError, False),
        (403, PermissionDenied, False),
        (408, ServerError, True),
        (409, ServerError, True),
        (413, BadRequest, False),
        (418, BadRequest, False),
        (422, BadRequest, False),
        (500, ServerError, True),
        (503, Overloaded, True),
        (599, ServerError, True),
    ],
)
def test_statuses_without_a_useful_body(
    status: int, cls: type[ProviderError], retryable: bool
) -> None:
    error = error_from_response(status, {}, b"", provider="p")
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.message == f"HTTP {status}"


def test_x_should_retry_overrides_the_status() -> None:
    no = error_from_response(503, {"x-should-retry": "false"}, b"", provider="p")
    yes = error_from_response(400, {"x-should-retry": "true"}, b"{}", provider="p")
    assert not no.retryable
    assert yes.retryable


def test_html_pages_are_collapsed_and_cut() -> None:
    page = b"<html>\n" + b"<p>bad gateway from the proxy</p>\n" * 200 + b"</html>"
    error = error_from_response(502, {}, page, provider="p")
    assert isinstance(error, ServerError)
    assert "\n" not in error.message
    assert len(error.message) == 500
    assert error.message.endswith("…")


@pytest.mark.parametrize(
    ("payload", "cls"),
    [
        (
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            Overloaded,
        ),
        ({"error": {"message": "Token limit reached", "code": 400}}, BadRequest),
        (
            {"error": {"message": "x", "type": "invalid_request_error", "status_code": 400}},
            BadRequest,
        ),
        ({"error": {"code": "server_error", "message": "boom"}}, ServerError),
        ([{"error": {"code": 503, "message": "unavailable", "status": "UNAVAILABLE"}}], Overloaded),
        ({"error": "plain words"}, ProviderError),
        ({"nothing": "here"}, ProviderProtocolError),
        ("not even an object", ProviderProtocolError),
    ],
)
def test_in_band_error_payloads(payload: Any, cls: type[ProviderError]) -> None:
    error = error_from_body(payload, provider="p", status=None)
    assert type(error) is cls
    assert error.status is None


def test_error_str_and_repr_name_the_context() -> None:
    error = RateLimited("slow down", provider="openai", status=429, code="c", request_id="r",
                        attempts=3, retry_after=2.0)  # fmt: skip
    assert str(error) == "slow down (provider=openai, status=429, code=c, request_id=r, attempts=3)"
    assert repr(error).startswith("RateLimited(")
    assert str(ProviderConnectionError("x")) == "x"


def test_redaction_of_urls_and_headers() -> None:
    assert (
        redact_url("https://u:p@proxy/v1?sig=abc&q=1")
        == "https://REDACTED:REDACTED@proxy/v1?sig=REDACTED&q=1"
    )
    assert redact_url("https://token@host/x?key=k") == "https://REDACTED@host/x?key=REDACTED"
    assert redact_url("https://api.openai.com/v1") == "https://api.openai.com/v1"
    assert redact_headers({"Authorization": "Bearer sk", "x-api-key": "k", "accept": "a"}) == {
        "Authorization": "REDACTED",
        "x-api-key": "REDACTED",
        "accept": "a",
    }


# ---------------------------------------------------------------- retry policy values


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_retries": -1}, ValueError),
        ({"max_retries": 1.5}, TypeError),
        ({"initial_backoff": float("inf")}, ValueError),
        ({"jitter": 2}, ValueError),
        ({"above_cap": "sometimes"}, ValueError),
        ({"deadline": 0}, ValueError),
        ({"deadline": -3}, ValueError),
        ({"retry_on": (ValueError,)}, TypeError),
    ],
)
def test_retry_policy_validation(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match="RetryPolicy"):
        RetryPolicy(**kwargs)


def test_retry_policy_never_retries_foreign_errors() -> None:
    policy = RetryPolicy()
    assert not policy.should_retry(ValueError("bug"))
    assert not policy.should_retry(NotFound("x"))
    assert policy.should_retry(ServerError("x"))
    assert not policy.should_retry(ServerError("x", retryable=False))
    assert policy.delay(RateLimited("x", retry_after=3.0), 0) == 3.0


# ---------------------------------------------------------------- message builder


def test_builder_orders_parts_merges_text_and_parses_arguments() -> None:
    b = MessageBuilder("anthropic")
    assert b.reasoning("hm", key=0) == ReasoningDelta(text="hm")
    assert b.reasoning("", key=0) is None
    b.reasoning_meta(key=0, signature="ab")
    b.reasoning_meta(key=0, signature="cd")
    assert b.text("Hel") == TextDelta(text="Hel")
    assert b.text("") is None
    b.text("lo")
    assert b.tool_start(3, "call", "f") == ToolCallStart(index=3, id="call", name="f")
    assert b.tool_delta(3, '{"a":') == ToolCallDelta(index=3, arguments='{"a":')
    assert b.tool_delta(3, None) is None
    b.tool_delta(3, " 1}")
    end = b.tool_end(3)
    assert isinstance(end, ToolCallEnd)
    assert end.call.arguments == {"a": 1}
    assert b.tool_end(3) is None  # ending twice is harmless
    assert b.tool_delta(3, '""') is None  # a late fragment after the end changes nothing
    b.text("bye")
    message = b.message()
    assert [type(p) for p in message.parts] == [ReasoningPart, TextPart, ToolCallPart, TextPart]
    assert message.parts[0] == ReasoningPart(text="hm", signature="abcd", provider="anthropic")
    assert message.text == "Hellobye"


def test_builder_marks_open_and_cut_tool_calls_incomplete() -> None:
    b = MessageBuilder("p")
    b.tool_start(0, "a", "f")
    b.tool_delta(0, '{"path": "/tm')
    b.tool_start(1, "b", "g")
    assert b.open_tools() == [0, 1]
    cut = b.tool_cut(0, "max_tokens")
    assert not cut.call.complete
    assert cut.call.problem == "max_tokens"
    assert cut.call.raw_arguments == '{"path": "/tm'
    message = b.message(cut="the stream broke")
    open_call = message.tool_calls[1]
    assert not open_call.complete
    assert open_call.problem == "the stream broke"
    assert not any(c.executable for c in message.tool_calls)


def test_builder_whole_arguments_and_late_ids() -> None:
    b = MessageBuilder("gemini")
    b.tool_start(0, "", "", signature="sig", provider_id="fc_1")
    b.tool_update(0, id="", name="")
    b.tool_update(0, id="call_0", name="f")
    b.tool_arguments(0, {"x": [1]})
    assert b.has_tool(0)
    assert not b.has_tool(1)
    end = b.tool_end(0)
    assert end is not None
    assert end.call == ToolCallPart(
        id="call_0", name="f", arguments={"x": [1]}, signature="sig", provider_id="fc_1"
    )
    b.reasoning_meta(key="r", encrypted="enc", redacted=True, id="rs_1")
    part = b.message().reasoning[0]
    assert (part.encrypted, part.redacted, part.id, part.text) == ("enc", True, "rs_1", "")


@pytest.mark.parametrize(
    ("raw", "arguments", "problem"),
    [
        (None, {}, None),
        ("", {}, None),
        ("  ", {}, None),
        ("null", {}, None),
        ('{"a": 1}', {"a": 1}, None),
        ("[1]", {}, "must be a JSON object"),
        ('{"a": ', {}, "not valid JSON"),
    ],
)
def test_parse_arguments(raw: str | None, arguments: dict[str, Any], problem: str | None) -> None:
    got, why = parse_arguments(raw)
    assert got == arguments
    if problem is None:
        assert why is None
    else:
        assert why is not None
        assert problem in why


def test_parse_arguments_refuses_runaway_sizes() -> None:
    _, why = parse_arguments('"' + "x" * (8 * 1024 * 1024) + '"')
    assert why is not None
    assert "limit" in why


# ---------------------------------------------------------------- prices


def test_default_prices_and_prefix_matching() -> None:
    table = PriceTable.default()
    assert table.get("gpt-4o-mini-2024-07-18") == table.prices["gpt-4o-mini"]
    assert table.get("gpt-4o-2024-08-06") == table.prices["gpt-4o"]
    assert table.get("openai/gpt-4.1") == table.prices["gpt-4.1"]
    assert table.get("models/gemini-2.5-flash") == table.prices["gemini-2.5-flash"]
    assert table.get("gpt-4") is None
    with pytest.raises(PriceNotFound, match="no price for model 'gpt-2'"):
        table.cost(Usage(), "gpt-2")


def test_cost_applies_each_price_to_its_tokens() -> None:
    price = Price(input=2.0, cached_input=0.5, cache_write=3.0, output=8.0)
    usage = Usage(
        input_tokens=1_000_000,
        cached_input_tokens=200_000,
        cache_write_tokens=100_000,
        output_tokens=500_000,
        reasoning_tokens=100_000,
    )
    # 700k plain * 2 + 200k cached * 0.5 + 100k written * 3 + 500k out * 8, per million
    assert price.cost(usage) == pytest.approx(1.4 + 0.1 + 0.3 + 4.0)
    assert Price(input=1.0, output=1.0).cached_input == 1.0
    assert cost(Usage(input_tokens=1_000_000), "claude-sonnet-4-5") == pytest.approx(3.0)


def test_price_tables_are_loaded_merged_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[models."mine"]\ninput = 1\noutput = 2\n')
    table = PriceTable.default().merged(PriceTable.load(path))
    assert table.price("mine") == Price(input=1, output=2)
    assert table.merged({"x": Price(input=0, output=0)}).get("x") is not None
    with pytest.raises(TypeError, match="expected a Price"):
        table.merged({"x": 1})  # type: ignore[dict-item]
    for text, match in [
        ("not toml [", "p.toml"),
        ("x = 1", "models"),
        ("[models]\nm = 1", "must be a table"),
        ('[models."m"]\ninput = 1\noutput = 1\nextra = 2', "unknown keys"),
        ('[models."m"]\ninput = -1\noutput = 1', "must be >= 0"),
        ('[models."m"]\ninput = "1"\noutput = 1', "expected a number"),
        ('[models."m"]\ninput = 1', "output"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match=match):
            PriceTable.load(path)


# ---------------------------------------------------------------- model strings and router


class FakeModel:
    """A model that answers from a script: a string answers, an exception is raised."""

    provider = "fake"

    def __init__(self, model: str, *script: str | Exception, **_: Any) -> None:
        self.model = model
        self.script = list(script)
        self.calls = 0

    def _next(self) -> str:
        self.calls += 1
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(message=Message.assistant(self._next()), finish_reason="stop")

    def stream(self, request: ModelRequest) -> FakeStream:
        return FakeStream(self)


class FakeStream:
    def __init__(self, model: FakeModel) -> None:
        self.model = model
        self.closed = False

    async def __aenter__(self) -> list[Any]:
        text = self.model._next()
        return [TextDelta(text=text), Finish(response=ModelResponse(
            message=Message.assistant(text), finish_reason="stop"))]  # fmt: skip

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True


REQUEST = ModelRequest(messages=[Message.user("hi")])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-4.1", "must look like 'provider:model'"),
        (":gpt", "must look like"),
        ("openai:", "must look like"),
        ("acme:model", "unknown provider 'acme'"),
        (3, "must be a str"),
    ],
)
def test_bad_model_strings(spec: Any, message: str) -> None:
    with pytest.raises(ModelStringError, match=message):
        from_model_string(spec)


def test_model_string_presets_pick_base_url_and_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def factory(model: str, **kwargs: Any) -> FakeModel:
        seen.update(kwargs, model=model)
        return FakeModel(model)

    monkeypatch.setattr("actrio.adapters.router._adapter_class", lambda path: factory)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "from-env")
    from_model_string("deepseek:deepseek-chat", retry=RetryPolicy(max_retries=0))
    assert seen["model"] == "deepseek-chat"
    assert seen["base_url"] == PROVIDERS["deepseek"].base_url
    assert seen["api_key"] == "from-env"
    assert seen["retry"] == RetryPolicy(max_retries=0)
    from_model_string("openrouter:openai/gpt-4o", api_key="given")
    assert seen["model"] == "openai/gpt-4o"
    assert seen["api_key"] == "given"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    seen.clear()
    from_model_string("openai:gpt-4.1")
    assert "base_url" not in seen
    assert seen["api_key"] is None


async def test_fallback_moves_on_only_for_chosen_errors() -> None:
    first = FakeModel("a", RateLimited("busy"))
    second = FakeModel("b", "from b")
    chain = FallbackModel([first, second])
    response = await chain.complete(REQUEST)
    assert response.text == "from b"
    assert [type(e) for e in chain.skipped] == [RateLimited]
    bad = FallbackModel([FakeModel("a", BadRequest("no")), FakeModel("b", "never")])
    with pytest.raises(BadRequest):
        await bad.complete(REQUEST)
    last = FallbackModel([FakeModel("a", Overloaded("x")), FakeModel("b", Overloaded("y"))])
    with pytest.raises(Overloaded, match="y"):
        await last.complete(REQUEST)


async def test_fallback_streams_fall_back_only_while_opening() -> None:
    first = FakeModel("a", ServerError("down"))
    second = FakeModel("b", "streamed")
    chain = FallbackModel([first, second], on=(ServerError,))
    async with chain.stream(REQUEST) as events:
        got = list(events)
    assert got[0] == TextDelta(text="streamed")
    both_down = FallbackModel([FakeModel("a", ServerError("1")), FakeModel("b", ServerError("2"))])
    with pytest.raises(ServerError, match="2"):
        async with both_down.stream(REQUEST):
            pass  # pragma: no cover - never entered
    assert len(both_down.skipped) == 1


async def test_a_stream_interrupted_while_opening_falls_back_on_its_cause() -> None:
    """P-07: output and a rate limit in the first read; nothing was delivered, so the chain
    moves on, and the skipped error carries the first model's output."""
    reads = (
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hal"}}]}\n\n'
        b'data: {"error":{"message":"slow down","code":429}}\n\n'
    )

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=reads, headers={"content-type": "text/event-stream"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        first = OpenAIChat("a", api_key="k", http_client=client, retry=RetryPolicy(max_retries=0))
        chain = FallbackModel([first, FakeModel("b", "from b")])
        async with chain.stream(REQUEST) as events:
            got = list(events)
        assert got[0] == TextDelta(text="from b")
        (skipped,) = chain.skipped
        assert isinstance(skipped, StreamInterrupted)
        assert isinstance(skipped.cause, RateLimited)
        assert skipped.partial.text == "Hal"
        # Not a cause the chain moves on for: the interruption is raised.
        strict = FallbackModel([first, FakeModel("b", "never")], on=(ServerError,))
        with pytest.raises(StreamInterrupted) as caught:
            async with strict.stream(REQUEST):
                pass  # pragma: no cover - never entered
        assert caught.value.partial.text == "Hal"


def test_fallback_needs_models() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FallbackModel([])
    with pytest.raises(TypeError, match=r"models\[0\]"):
        FallbackModel(["openai:gpt-4.1"])  # type: ignore[list-item]


async def test_router_resolves_names_patterns_chains_and_model_strings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[tuple[str, Any]] = []

    def factory(model: str, **kwargs: Any) -> FakeModel:
        made.append((model, kwargs["http_client"]))
        return FakeModel(model)

    monkeypatch.setattr("actrio.adapters.router._adapter_class", lambda path: factory)
    fixed = FakeModel("fixed")
    async with ModelRouter(
        {
            "fast": "openai:gpt-4.1-mini",
            "claude-*": "anthropic:{name}",
            "local-*": lambda name: FakeModel(name.upper()),
            "pinned": fixed,
        },
        fallbacks={"main": ["fast", "claude-sonnet-4-5"]},
    ) as router:
        assert router.resolve("pinned") is fixed
        assert router.resolve("fast").model == "gpt-4.1-mini"
        assert router.resolve("fast") is router.resolve("fast")  # made once
        assert router.resolve("claude-haiku-4-5").model == "claude-haiku-4-5"
        assert router.resolve("local-x").model == "LOCAL-X"
        assert router.resolve("gemini:gemini-2.5-flash").model == "gemini-2.5-flash"
        chain = router.resolve("main")
        assert isinstance(chain, FallbackModel)
        assert [m.model for m in chain.models] == ["gpt-4.1-mini", "claude-sonnet-4-5"]
        client = router.http_client
        assert all(c is client for _, c in made)  # one pooled client for all of them
        with pytest.raises(ModelStringError, match="no route for 'nothing'"):
            router.resolve("nothing")
    assert client.is_closed


async def test_router_refuses_loops_and_bad_routes() -> None:
    router = ModelRouter(fallbacks={"a": ["b"], "b": ["a"]})
    with pytest.raises(ModelStringError, match="loops: a -> b -> a"):
        router.resolve("a")
    with pytest.raises(ModelStringError, match="non-empty"):
        router.add("", "openai:x")
    with pytest.raises(TypeError, match="expected an adapter"):
        router.add("x", 3)  # type: ignore[arg-type]
    with pytest.raises(ModelStringError, match="non-empty list"):
        router.add_fallback("c", "openai:x")
    await router.aclose()  # nothing was created: nothing to close
    shared = httpx.AsyncClient()
    async with ModelRouter(http_client=shared) as borrowed:
        assert borrowed.http_client is shared
    assert not shared.is_closed  # the router does not close a client it was given
    await shared.aclose()


def test_p15_call_ids_are_unique_and_change_prefix_after_a_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from actrio import _ids  # noqa: PLC0415

    ids = _ids.ProcessIds("actrio")
    first = [ids.next() for _ in range(1000)]
    assert len(set(first)) == 1000
    assert all(i.startswith("actrio-") for i in first)
    prefix = first[0].rpartition("-")[0]
    assert {i.rpartition("-")[0] for i in first} == {prefix}
    # A forked child (another pid) must not repeat the parent's ids.
    monkeypatch.setattr(_ids.os, "getpid", lambda: -2)
    child = ids.next()
    assert child.rpartition("-")[0] != prefix
    assert child not in first
