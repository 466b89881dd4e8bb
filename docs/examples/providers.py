"""Provider adapters without a network: a canned OpenAI-style server in a mock transport.

Shows a plain call, a stream, a typed error, structured output with its
validation error, a fallback chain, and the cost of a call. Run it:
``python docs/examples/providers.py``.
"""

from __future__ import annotations

import json

import attrs
import httpx
import trio

from actrio import Message, ModelRequest, OutputSchema, OutputValidationError
from actrio.adapters import FallbackModel, OpenAIChat, RateLimited, RetryPolicy, cost


def answer(text: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "model": "gpt-4.1-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
    }  # fmt: skip


def stream_body() -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"content": word}}]} for word in ("Hel", "lo")]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def server(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    if request.url.host == "busy.example":
        return httpx.Response(429, json={"error": {"message": "slow down", "code": None}})
    if body.get("stream"):
        return httpx.Response(200, content=stream_body(),
                              headers={"content-type": "text/event-stream"})  # fmt: skip
    if "response_format" in body:
        return httpx.Response(200, json=answer('{"name": "Oslo", "population": "many"}'))
    return httpx.Response(200, json=answer("Hello!"))


@attrs.frozen
class City:
    name: str
    population: int


async def main() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
        model = OpenAIChat("gpt-4.1-mini", api_key="sk-example", http_client=client)
        request = ModelRequest(messages=[Message.user("Say hello")])

        response = await model.complete(request)
        print("complete:", response.text, response.finish_reason, response.usage.total_tokens)

        async with model.stream(request) as events:
            kinds = [type(event).__name__ async for event in events]
        print("stream:", kinds)

        busy = OpenAIChat("gpt-4.1-mini", base_url="https://busy.example/v1", api_key="sk-x",
                          http_client=client, retry=RetryPolicy(max_retries=0))  # fmt: skip
        try:
            await busy.complete(request)
        except RateLimited as error:
            print("error:", type(error).__name__, error.status)

        chain = FallbackModel([busy, model])
        print("fallback:", (await chain.complete(request)).text)

        asked = ModelRequest(messages=[Message.user("Biggest city?")],
                             output=OutputSchema.for_type(City))  # fmt: skip
        try:
            (await model.complete(asked)).parse(City)
        except OutputValidationError as error:
            print("invalid output:", error.errors[0][0])

        print(f"cost: ${cost(response.usage, 'gpt-4.1-mini'):.6f}")


if __name__ == "__main__":
    trio.run(main)
