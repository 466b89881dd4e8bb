"""A mock model provider on 127.0.0.1, and an asyncio client driver, for the adapter benchmarks.

``python bench/mock_provider.py serve`` starts a small HTTP/1.1 keep-alive
server (asyncio protocol, standard library only) on two free ports, prints
``PORTS <live> <burst>`` and serves until its standard input closes. It is meant to run
in its own process, so that the server's CPU time is not spent on the event
loop being measured. It answers:

- ``POST /v1/chat/completions`` (OpenAI Chat),
- ``POST /v1/responses`` (OpenAI Responses),
- ``POST /v1/messages`` (Anthropic Messages),
- ``POST /v1beta/models/<model>:generateContent`` and
  ``:streamGenerateContent?alt=sse`` (Gemini, CRLF framing),

with a canned JSON body, or, when the request body has ``"stream": true``
(Gemini: the ``streamGenerateContent`` path), a :data:`EVENTS`-event
``text/event-stream`` response with chunked transfer encoding, one HTTP
chunk per event. On the *live* port each chunk is written to the socket on
its own, as events arrive from a model that generates them: a client that
keeps up reads one event per read, and the cost of a read dominates. On the
*burst* port the whole response goes out in one write, as from a cache or a
replay: the client reads it in large blocks, and parsing dominates. The OpenAI Chat
stream is shaped like ``openai-chat/stream-text-include-usage.sse`` from the
provider fixtures: a first chunk with the role, content deltas with
``usage: null`` and an ``obfuscation`` string, the finish chunk, the usage
chunk (``choices: []``) and ``data: [DONE]``. The other streams follow their
provider's fixtures the same way. Anything else gets a 404 JSON error.

``python bench/mock_provider.py client <kind>`` is a driver for client
libraries that cannot run under ``trio.run`` (LiteLLM), and for the official
``openai`` SDK under asyncio. It keeps one event loop and one client, and for
each line ``{"streams": k, "url": u}`` read from standard input it consumes
``k`` OpenAI Chat streams from the server at ``u`` one after the other,
timed with the GC collected then disabled, and writes one JSON line:
``elapsed`` seconds, ``chunks`` (what the library yielded) and the ``text``
of the last stream.
"""

from __future__ import annotations

import asyncio  # noqa: TID251  # a separate process: the server, and the asyncio-only clients
import gc
import json
import os
import random
import sys
import time
from typing import Any

#: SSE events in every streamed response.
EVENTS = 200
#: The words the streamed text cycles through.
WORDS = ("The", " capital", " of", " France", " is", " Paris", ".", " It", " is", " known")
#: The text of every non-streaming answer.
ANSWER = "The capital of France is Paris."

_CHAT_HEAD = (
    '{"id":"chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc","object":"chat.completion.chunk",'
    '"created":1782955818,"model":"gpt-4o-mini-2024-07-18","service_tier":"default",'
    '"system_fingerprint":"fp_d0469e1700","choices":['
)


def stream_text(deltas: int) -> str:
    """The text a stream with ``deltas`` text deltas carries."""
    return "".join(WORDS[i % len(WORDS)] for i in range(deltas))


def _padding(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijkLMNOPQRS0123456789") for _ in range(rng.randint(3, 12)))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------- canned streams


def chat_stream() -> list[bytes]:
    """OpenAI Chat: role chunk, 196 content deltas, finish, usage, ``[DONE]``."""
    rng = random.Random(200)
    deltas = EVENTS - 4
    payloads = [
        _CHAT_HEAD + '{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
        f'"logprobs":null,"finish_reason":null}}],"usage":null,"obfuscation":"{_padding(rng)}"}}'
    ]
    payloads += [
        _CHAT_HEAD + f'{{"index":0,"delta":{{"content":"{WORDS[i % len(WORDS)]}"}},'
        f'"logprobs":null,"finish_reason":null}}],"usage":null,"obfuscation":"{_padding(rng)}"}}'
        for i in range(deltas)
    ]
    payloads.append(
        _CHAT_HEAD + '{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],'
        f'"usage":null,"obfuscation":"{_padding(rng)}"}}'
    )
    payloads.append(
        _CHAT_HEAD + '],"usage":{"prompt_tokens":78,"completion_tokens":196,"total_tokens":274,'
        '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
        '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
        '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},'
        f'"obfuscation":"{_padding(rng)}"}}'
    )
    payloads.append("[DONE]")
    return [f"data: {p}\n\n".encode() for p in payloads]


def responses_stream() -> list[bytes]:
    """OpenAI Responses: created, in_progress, item and part added, deltas, the dones, completed."""
    rng = random.Random(201)
    deltas = EVENTS - 8
    text = stream_text(deltas)
    msg = "msg_00592e63e61b66660169fab1bada8481a28ef92eb62c168ead"
    response: dict[str, Any] = {
        "id": "resp_00592e63e61b66660169fab1b9f8e481a2b321356198d7ac1b",
        "object": "response",
        "created_at": 1778037177,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "model": "gpt-5.5-2026-04-23",
        "output": [],
        "usage": None,
    }
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    item = {
        "id": msg,
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
        {"type": "response.output_item.added", "item": item, "output_index": 0},
        {"type": "response.content_part.added", "content_index": 0, "item_id": msg,
         "output_index": 0, "part": part},
    ]  # fmt: skip
    events += [
        {
            "type": "response.output_text.delta",
            "content_index": 0,
            "delta": WORDS[i % len(WORDS)],
            "item_id": msg,
            "logprobs": [],
            "obfuscation": _padding(rng),
            "output_index": 0,
        }
        for i in range(deltas)
    ]
    done_part = {**part, "text": text}
    done_item = {**item, "status": "completed", "content": [done_part]}
    usage = {
        "input_tokens": 67,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": deltas,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 67 + deltas,
    }
    events += [
        {"type": "response.output_text.done", "content_index": 0, "item_id": msg,
         "logprobs": [], "output_index": 0, "text": text},
        {"type": "response.content_part.done", "content_index": 0, "item_id": msg,
         "output_index": 0, "part": done_part},
        {"type": "response.output_item.done", "item": done_item, "output_index": 0},
        {"type": "response.completed", "response": {
            **response, "status": "completed", "output": [done_item], "usage": usage}},
    ]  # fmt: skip
    out = []
    for seq, event in enumerate(events):
        event["sequence_number"] = seq
        out.append(f"event: {event['type']}\ndata: {_dumps(event)}\n\n".encode())
    return out


def anthropic_stream() -> list[bytes]:
    """Anthropic Messages: message_start, block start, ping, deltas, block stop, delta, stop."""
    deltas = EVENTS - 6
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {
            "id": "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK", "type": "message",
            "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]  # fmt: skip
    events += [
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": WORDS[i % len(WORDS)]},
        }
        for i in range(deltas)
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": deltas}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return [f"event: {e['type']}\ndata: {_dumps(e)}\n\n".encode() for e in events]


def gemini_stream() -> list[bytes]:
    """Gemini: one text part per chunk, usage on every chunk, STOP on the last; CRLF framing."""
    chunks = []
    for i in range(EVENTS):
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": WORDS[i % len(WORDS)]}], "role": "model"}
        }
        usage: dict[str, Any] = {"promptTokenCount": 15, "totalTokenCount": 15}
        if i == EVENTS - 1:
            candidate["finishReason"] = "STOP"
            usage = {"promptTokenCount": 15, "candidatesTokenCount": EVENTS,
                     "totalTokenCount": 15 + EVENTS}  # fmt: skip
        chunk = {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": "gemini-2.5-flash",
            "responseId": "w1peaMz6INOvnvgPgYfPiQY",
        }
        chunks.append(f"data: {_dumps(chunk)}\r\n\r\n".encode())
    return chunks


# ---------------------------------------------------------------- canned bodies

CHAT_BODY = {
    "id": "chatcmpl-BJjf61mLb9z5H45ClJzbx0UWKwjo1",
    "object": "chat.completion",
    "created": 1744043456,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ANSWER, "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 24,
        "completion_tokens": 8,
        "total_tokens": 32,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_898ac29719",
}
RESPONSES_BODY = {
    "id": "resp_0e9950da9eac6a780068fbaa1bc030819da585a6f85ddad1e6",
    "object": "response",
    "created_at": 1761323547,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "model": "gpt-4o-2024-08-06",
    "output": [
        {
            "id": "msg_0e9950da9eac6a780068fbaa1c738c819d8bddf998e57232c3",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": ANSWER}],
        }
    ],
    "usage": {
        "input_tokens": 67,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 8,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 75,
    },
}
ANTHROPIC_BODY = {
    "id": "msg_01Fg1JVgvCYUHWsxrj9GkpEv",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": ANSWER}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 20,
        "output_tokens": 10,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    },
}
GEMINI_BODY = {
    "candidates": [
        {"content": {"parts": [{"text": ANSWER}], "role": "model"}, "finishReason": "STOP"}
    ],
    "usageMetadata": {"promptTokenCount": 15, "candidatesTokenCount": 8, "totalTokenCount": 23},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "R5MoavWNNp_8qtsP2fWD2A0",
}


# ---------------------------------------------------------------- the server


def _chunked(events: list[bytes]) -> list[bytes]:
    """Each event as one HTTP/1.1 chunk, and the last chunk."""
    return [b"%x\r\n%s\r\n" % (len(e), e) for e in events] + [b"0\r\n\r\n"]


def _stream_head(request_id: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n"
        b"x-request-id: " + request_id + b"\r\n\r\n"
    )


def _json_response(status: str, body: Any, request_id: bytes) -> bytes:
    data = _dumps(body).encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n".encode()
        + b"x-request-id: "
        + request_id
        + b"\r\n\r\n"
        + data
    )


class _Routes:
    """The canned answers, encoded once."""

    def __init__(self) -> None:
        rid = b"req_bench"
        self.json = {
            "/v1/chat/completions": _json_response("200 OK", CHAT_BODY, rid),
            "/v1/responses": _json_response("200 OK", RESPONSES_BODY, rid),
            "/v1/messages": _json_response("200 OK", ANTHROPIC_BODY, rid),
        }
        self.streams = {
            "/v1/chat/completions": _chunked(chat_stream()),
            "/v1/responses": _chunked(responses_stream()),
            "/v1/messages": _chunked(anthropic_stream()),
        }
        self.gemini_json = _json_response("200 OK", GEMINI_BODY, rid)
        self.gemini_stream = _chunked(gemini_stream())
        self.head = _stream_head(rid)
        self.not_found = _json_response(
            "404 Not Found", {"error": {"message": "no such route", "type": "not_found"}}, rid
        )

    def answer(self, method: str, target: str, body: bytes) -> tuple[bytes, list[bytes]]:
        """The head (or whole answer) and the stream chunks for one request."""
        path = target.partition("?")[0]
        if method == "POST" and path.startswith("/v1beta/models/"):
            if path.endswith(":streamGenerateContent"):
                return self.head, self.gemini_stream
            if path.endswith(":generateContent"):
                return self.gemini_json, []
        elif method == "POST" and path in self.json:
            try:
                stream = json.loads(body).get("stream") is True
            except (ValueError, AttributeError):
                stream = False
            if stream:
                return self.head, self.streams[path]
            return self.json[path], []
        return self.not_found, []


class _Connection(asyncio.Protocol):
    """One keep-alive connection: parse requests as they complete, answer each at once."""

    def __init__(self, routes: _Routes, *, burst: bool) -> None:
        self.routes = routes
        self.burst = burst
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            head, chunks = self.routes.answer(method, target, body)
            if self.burst:
                self.transport.write(b"".join((head, *chunks)))
            else:
                self.transport.write(head)
                for chunk in chunks:  # one write per event, as a live stream arrives
                    self.transport.write(chunk)
            if headers.get("connection", "").lower() == "close":
                self.transport.close()
                self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve() -> None:
    """Serve until standard input closes; print ``PORTS <live> <burst>`` once listening."""
    loop = asyncio.get_running_loop()
    routes = _Routes()
    live = await loop.create_server(
        lambda: _Connection(routes, burst=False), "127.0.0.1", 0, backlog=256
    )
    burst = await loop.create_server(
        lambda: _Connection(routes, burst=True), "127.0.0.1", 0, backlog=256
    )
    ports = [server.sockets[0].getsockname()[1] for server in (live, burst)]
    print(f"PORTS {ports[0]} {ports[1]}", flush=True)
    stdin_closed = asyncio.Event()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            loop.remove_reader(sys.stdin.fileno())
            stdin_closed.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    async with live, burst:
        await stdin_closed.wait()


# ---------------------------------------------------------------- asyncio client driver

REQUEST_MESSAGES = [{"role": "user", "content": "hi"}]


async def _openai_sdk_streams(client: Any, streams: int) -> tuple[int, str]:
    chunks = 0
    text: list[str] = []
    for _ in range(streams):
        text = []
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=REQUEST_MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            chunks += 1
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
    return chunks, "".join(text)


async def _litellm_streams(url: str, streams: int) -> tuple[int, str]:
    import litellm  # noqa: PLC0415  # optional, and only in this process

    chunks = 0
    text: list[str] = []
    for _ in range(streams):
        text = []
        stream = await litellm.acompletion(
            model="openai/gpt-4o-mini",
            api_base=f"{url}/v1",
            api_key="sk-bench",
            messages=REQUEST_MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            chunks += 1
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
    return chunks, "".join(text)


def drive(kind: str) -> None:
    """Answer ``{"streams": k, "url": u}`` lines on stdin with timed runs on one loop."""
    # Libraries may print: keep standard output for the replies alone.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if kind == "litellm":
        import litellm  # noqa: PLC0415

        litellm.telemetry = False
        litellm.suppress_debug_info = True

        def run(k: int, url: str) -> tuple[int, str]:
            return loop.run_until_complete(_litellm_streams(url, k))

    elif kind == "openai-asyncio":
        import httpx  # noqa: PLC0415
        import openai  # noqa: PLC0415

        http = httpx.AsyncClient(
            trust_env=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            timeout=httpx.Timeout(30.0),
        )
        clients: dict[str, Any] = {}

        def run(k: int, url: str) -> tuple[int, str]:
            if url not in clients:
                clients[url] = openai.AsyncOpenAI(
                    base_url=f"{url}/v1", api_key="sk-bench", http_client=http
                )
            return loop.run_until_complete(_openai_sdk_streams(clients[url], k))

    else:
        raise SystemExit(f"unknown client kind {kind!r}")
    print(json.dumps({"ready": True}), file=out, flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        streams = int(command["streams"])
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            chunks, text = run(streams, command["url"])
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        reply = {"elapsed": elapsed, "chunks": chunks, "text": text}
        print(json.dumps(reply), file=out, flush=True)


def main(argv: list[str]) -> None:
    """``serve`` or ``client <kind>``."""
    if argv == ["serve"]:
        asyncio.run(serve())
    elif len(argv) == 2 and argv[0] == "client":
        drive(argv[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
