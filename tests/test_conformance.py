"""The adapter conformance suite (actrio.testing), run against every actrio adapter with
recorded traffic, and shown to catch adapters that break the contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from actrio.adapters import (
    AnthropicMessages,
    BadRequest,
    Gemini,
    NotFound,
    OpenAIChat,
    OpenAIResponses,
    Overloaded,
    RateLimited,
    RetryPolicy,
)
from actrio.messages import Message
from actrio.testing import ConformanceError, Exchange, assert_conforms, check_adapter
from actrio.types import Finish, ModelRequest, TextDelta, ToolSpec
from provider_fixtures import PROVIDER_FIXTURES

if TYPE_CHECKING:
    import httpx

    from actrio.adapters import Model

FIXTURES = PROVIDER_FIXTURES
NO_RETRY = RetryPolicy(max_retries=0)
TOOLS = ModelRequest(
    messages=[Message.user("go")],
    tools=[ToolSpec(name="get_weather"), ToolSpec(name="final_result")],
)


def _stream(name: str, *, append: bytes = b"") -> Exchange:
    return Exchange(
        name=name, body=(FIXTURES / name).read_bytes() + append, stream=True, request=TOOLS
    )


def _body(name: str, status: int = 200, error: type[Exception] | None = None) -> Exchange:
    return Exchange(
        name=name,
        body=(FIXTURES / name).read_bytes(),
        status=status,
        expect_error=error,  # type: ignore[arg-type]
        request=TOOLS,
    )


CASES: dict[str, tuple[Any, list[Exchange]]] = {
    "openai-chat": (
        lambda client, key: OpenAIChat("gpt-4o", api_key=key, http_client=client, retry=NO_RETRY),
        [
            _stream("openai-chat/stream-text-include-usage.sse"),
            _stream("openai-chat/stream-parallel-tool-calls-split-args.sse"),
            _stream("openai-chat/stream-tool-call-54-arg-deltas.sse"),
            _stream("openai-chat/deepseek-stream-reasoning-content.sse"),
            _stream("openai-chat/vllm-style-stream-tool-call-continuous-usage.sse"),
            _body("openai-chat/nonstream-tool-call.json"),
            _body("openai-chat/error-404-model-not-found.json", 404, NotFound),
            _body("openai-chat/error-429-rate-limit-requests.json", 429, RateLimited),
        ],
    ),
    "openai-responses": (
        lambda client, key: OpenAIResponses(
            "gpt-5", api_key=key, http_client=client, retry=NO_RETRY
        ),
        [
            _stream("openai-responses/stream-text-basic.sse"),
            _stream("openai-responses/stream-reasoning-item-then-function-call-args.sse"),
            _stream("openai-responses/stream-function-call.sse"),
            _body("openai-responses/nonstream-reasoning-and-function-call.json"),
            _body("openai-responses/error-400-model-not-found.json", 400, BadRequest),
        ],
    ),
    "anthropic": (
        lambda client, key: AnthropicMessages(
            "claude-sonnet-4-5", api_key=key, http_client=client, retry=NO_RETRY
        ),
        [
            _stream("anthropic-messages/stream-thinking-signature-then-text.sse"),
            _stream(
                "anthropic-messages/stream-parallel-tool-use-padded-json-ratelimit-headers.sse"
            ),
            _stream(
                "anthropic-messages/stream-text-then-tool-use-input-json-delta.sse", append=b"\n\n"
            ),
            _body("anthropic-messages/nonstream-text-and-parallel-tool-use.json"),
            _body("anthropic-messages/error-529-overloaded.json", 529, Overloaded),
        ],
    ),
    "gemini": (
        lambda client, key: Gemini(
            "gemini-2.5-flash", api_key=key, http_client=client, retry=NO_RETRY
        ),
        [
            _stream("gemini/stream-text-crlf.sse"),
            _stream("gemini/stream-function-call-single-chunk.sse"),
            _stream("gemini/stream-thought-summaries-then-text.sse"),
            _body("gemini/nonstream-function-call-thought-signature.json"),
            _body("gemini/error-404-model-not-found.json", 404, NotFound),
        ],
    ),
}


@pytest.mark.parametrize("provider", sorted(CASES))
async def test_every_adapter_conforms(provider: str, autojump_clock: object) -> None:
    make, exchanges = CASES[provider]
    await assert_conforms(make, exchanges)


# ---------------------------------------------------------------- the suite can fail


class Leaky:
    """Wraps an adapter and breaks the contract in chosen ways."""

    def __init__(self, inner: Model, key: str, *, drop_text: bool = False) -> None:
        self.inner = inner
        self.key = key
        self.drop_text = drop_text
        self.provider = inner.provider
        self.model = inner.model

    def __repr__(self) -> str:
        return f"Leaky(key={self.key})"

    async def complete(self, request: ModelRequest) -> Any:
        return await self.inner.complete(request)

    def stream(self, request: ModelRequest) -> Any:
        return _Dropping(self.inner.stream(request), drop_text=self.drop_text)


class _Dropping:
    def __init__(self, inner: Any, *, drop_text: bool) -> None:
        self.inner = inner
        self.drop_text = drop_text

    async def __aenter__(self) -> Any:
        events = await self.inner.__aenter__()
        return self._filtered(events)

    async def _filtered(self, events: Any) -> Any:
        dropped = False
        async for event in events:
            if self.drop_text and not dropped and isinstance(event, TextDelta):
                dropped = True
                continue
            yield event
        yield Finish(response=event.response)  # a second Finish

    async def __aexit__(self, *exc: object) -> Any:
        return await self.inner.__aexit__(*exc)


async def test_the_suite_reports_a_leaked_key_dropped_deltas_and_two_finishes(
    autojump_clock: object,
) -> None:
    def make(client: httpx.AsyncClient, key: str) -> Leaky:
        return Leaky(
            OpenAIChat("gpt-4o", api_key=key, http_client=client, retry=NO_RETRY),
            key,
            drop_text=True,
        )

    problems = await check_adapter(make, [_stream("openai-chat/stream-text-include-usage.sse")])
    text = "\n".join(problems)
    assert "the API key appears in the adapter's repr" in text
    assert "expected exactly one Finish" in text
    with pytest.raises(ConformanceError, match="does not conform"):
        await assert_conforms(make, [_stream("openai-chat/stream-text-include-usage.sse")])


async def test_the_suite_reports_an_error_status_that_does_not_raise(
    autojump_clock: object,
) -> None:
    wrong = Exchange(
        name="wrong",
        body=(FIXTURES / "openai-chat/nonstream-text.json").read_bytes(),
        expect_error=NotFound,
    )
    problems = await check_adapter(CASES["openai-chat"][0], [wrong])
    assert problems == ["wrong: status 200 did not raise"]
