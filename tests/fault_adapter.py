"""A tiny provider and a scripted fake of it, for the provider fault tests.

The fault tests (RELIABILITY.md section 2, SE-03, SE-04) exercise the shared
core (:class:`actrio.adapters._base.HTTPAdapter`, :mod:`actrio.adapters.retry`,
:mod:`actrio.adapters.errors`) through :class:`FaultAdapter`, whose protocol
is as small as a protocol can be, so that the tests depend on no real
provider's dialect:

- ``POST {base_url}/chat`` (the base URL's query string is kept), the key in
  ``authorization: Bearer ...``, a JSON body ``{"model", "input", "max_tokens",
  "stream"}``;
- a non-streaming answer ``{"text": "...", "usage": {"input": n, "output": n}}``;
- a stream of ``data:`` events, each a JSON object with any of
  ``{"usage": {...}}`` (a :class:`~actrio.types.UsageUpdate`, as Anthropic's
  ``message_start``), ``{"delta": "..."}``, ``{"tool": {"index", "id",
  "name"}}``, ``{"args": {"index", "delta"}}``, ``{"tool_end": index}``, and
  the terminal ``{"done": true, "finish": "stop" | "length"}``; at a
  ``length`` finish, tool calls still open are cut (P-16);
- an in-band error ``{"error": {"type": "overloaded_error", "message": "..."}}``
  raises the typed error of :func:`~actrio.adapters.errors.error_from_body`;
  a payload that is not a JSON object raises ``ProviderProtocolError``.

:class:`FakeProvider` is an ``httpx.MockTransport`` handler that answers the
n-th request with the n-th :class:`Reply` (the last one repeats), records
every request with its virtual arrival time and the number in flight, and
hands out bodies as :class:`ChunkStream` objects, which remember whether
they were closed: :meth:`FakeProvider.all_closed` is the "pool left clean"
check for an injected transport.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import httpx
import trio

from actrio.adapters._accumulate import MessageBuilder
from actrio.adapters._base import HTTPAdapter
from actrio.adapters.errors import ProviderProtocolError, error_from_body
from actrio.messages import Message, TextPart
from actrio.types import ModelRequest, ModelResponse, Usage, UsageUpdate

if TYPE_CHECKING:
    from collections.abc import Iterable

    from actrio.adapters.sse import ServerSentEvent
    from actrio.types import FinishReason, StreamEvent

__all__ = (
    "ChunkStream",
    "FakeProvider",
    "FaultAdapter",
    "FaultParser",
    "PROVIDER",
    "Reply",
    "chat_request",
    "done",
    "event",
    "json_reply",
    "sse_reply",
)

PROVIDER = "fault"
SSE_HEADERS: dict[str, str] = {"content-type": "text/event-stream"}


def chat_request(text: str = "hi", *, max_tokens: int | None = None) -> ModelRequest:
    """A one-message request."""
    return ModelRequest(messages=[Message.user(text)], max_tokens=max_tokens)


def event(payload: Mapping[str, Any] | str) -> bytes:
    """One SSE event: ``data: <json>`` and the blank line (a str is sent as it is)."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def done(finish: str = "stop") -> bytes:
    """The terminal event."""
    return event({"done": True, "finish": finish})


class FaultParser:
    """The stream parser of the tiny protocol (see the module docstring)."""

    def __init__(self) -> None:
        self.builder = MessageBuilder(PROVIDER)
        self.done = False
        self._usage = Usage()
        self._finish: FinishReason = "stop"

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        """Take one SSE event; return the neutral events it produces."""
        try:
            payload = json.loads(sse.data)
        except ValueError:
            raise ProviderProtocolError(
                f"an event's data is not JSON: {sse.data[:40]!r}", provider=PROVIDER
            ) from None
        if not isinstance(payload, dict):
            raise ProviderProtocolError("an event's data is not an object", provider=PROVIDER)
        if "error" in payload:
            raise error_from_body(payload, provider=PROVIDER, status=None)
        builder = self.builder
        out: list[StreamEvent | None] = []
        if "usage" in payload:
            self._usage = _usage(payload["usage"])
            out.append(UsageUpdate(usage=self._usage))
        if "delta" in payload:
            out.append(builder.text(payload["delta"]))
        if "tool" in payload:
            tool = payload["tool"]
            out.append(builder.tool_start(tool["index"], tool["id"], tool["name"]))
        if "args" in payload:
            out.append(builder.tool_delta(payload["args"]["index"], payload["args"]["delta"]))
        if "tool_end" in payload:
            out.append(builder.tool_end(payload["tool_end"]))
        if payload.get("done") is True:
            if payload.get("finish") == "length":
                self._finish = "length"
                out.extend(builder.tool_cut(i, "max_tokens") for i in builder.open_tools())
            self.done = True
        return [e for e in out if e is not None]

    def response(self) -> ModelResponse:
        """The whole response."""
        return ModelResponse(
            message=self.builder.message(),
            finish_reason=self._finish,
            usage=self._usage,
            model="fault-1",
            provider=PROVIDER,
        )

    def partial(self) -> ModelResponse:
        """What arrived so far."""
        return self.response()


def _usage(raw: Any) -> Usage:
    return Usage(input_tokens=int(raw.get("input", 0)), output_tokens=int(raw.get("output", 0)))


class FaultAdapter(HTTPAdapter):
    """An adapter for the tiny protocol.

    Args:
        model: The model name.
        fail_body: Make building the body raise ``ValueError`` (a bug, P-14).
        fail_parse: Make parsing a non-streaming body raise ``KeyError``.
        **kw: :class:`HTTPAdapter` options.
    """

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://fault.invalid/v1"
    api_key_env: ClassVar[tuple[str, ...]] = ("ACTRIO_FAULT_TEST_KEY",)

    def __init__(
        self,
        model: str = "fault-1",
        *,
        fail_body: bool = False,
        fail_parse: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(model, **kw)
        self.fail_body = fail_body
        self.fail_parse = fail_parse

    def _url(self, request: ModelRequest, *, stream: bool) -> str:
        url = httpx.URL(self.base_url)
        return str(url.copy_with(path=url.path.rstrip("/") + "/chat"))

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        return {} if key is None else {"authorization": f"Bearer {key}"}

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        if self.fail_body:
            raise ValueError("FaultAdapter: cannot encode this request")
        return {
            "model": self.model,
            "input": [m.text for m in request.messages],
            "max_tokens": request.max_tokens,
            "stream": stream,
        }

    def _parse(self, body: Any) -> ModelResponse:
        if self.fail_parse:
            raise KeyError("text")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise ProviderProtocolError("no text in the body", provider=PROVIDER)
        return ModelResponse(
            message=Message.assistant(TextPart(text=body["text"])),
            finish_reason="stop",
            usage=_usage(body.get("usage", {})),
            model=self.model,
            provider=PROVIDER,
        )

    def _parser(self, request: ModelRequest) -> FaultParser:
        return FaultParser()


# ---------------------------------------------------------------- the fake transport


class ChunkStream(httpx.AsyncByteStream):
    """A response body yielding ``chunks``, then raising ``error`` (a dropped connection).

    Attributes:
        closed: Whether httpx closed it (the response was released).
        sent: Chunks handed out so far.
    """

    def __init__(self, chunks: Iterable[bytes], error: BaseException | None = None) -> None:
        self.chunks = tuple(chunks)
        self.error = error
        self.closed = False
        self.sent = 0

    def __aiter__(self) -> ChunkStream:
        # An iterator object, not an async generator: trio warns about generators
        # abandoned half-way, and a body abandoned half-way is what these tests make.
        return self

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        if self.sent < len(self.chunks):
            self.sent += 1
            return self.chunks[self.sent - 1]
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


@attrs.frozen(kw_only=True)
class Reply:
    """One scripted answer.

    Attributes:
        status: The HTTP status.
        headers: Response headers.
        chunks: Body chunks, in order.
        cut: After the chunks, the connection drops (``RemoteProtocolError``).
        raise_: An exception type raised instead of answering (an httpx
            transport error gets the request).
        delay: Virtual seconds before answering (the request counts as in flight).
    """

    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    chunks: tuple[bytes, ...] = ()
    cut: bool = False
    raise_: type[BaseException] | None = None
    delay: float = 0.0


def json_reply(
    status: int = 200, body: Any = None, headers: Mapping[str, str] | None = None
) -> Reply:
    """A JSON answer (``body`` defaults to a successful ``{"text": "ok"}``)."""
    if body is None:
        body = {"text": "ok", "usage": {"input": 3, "output": 1}}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(
        status=status,
        headers={"content-type": "application/json", **(headers or {})},
        chunks=(data,),
    )


def sse_reply(
    *events: bytes, split: int | None = None, cut: bool = False, status: int = 200
) -> Reply:
    """An event stream: one chunk per event, or the bytes cut every ``split`` bytes."""
    if split is not None:
        data = b"".join(events)
        events = tuple(data[i : i + split] for i in range(0, len(data), split))
    return Reply(status=status, headers=SSE_HEADERS, chunks=tuple(events), cut=cut)


class FakeProvider:
    """A scripted provider behind ``httpx.MockTransport``.

    Attributes:
        requests: Every request received, in order.
        times: The virtual time each arrived.
        streams: Every body handed out.
        in_flight: Requests being answered now; ``max_in_flight`` the peak.
    """

    def __init__(self, *replies: Reply, hold: float = 0.0) -> None:
        if not replies:
            raise ValueError("FakeProvider needs at least one reply")
        self.replies = replies
        self.hold = hold
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self.streams: list[ChunkStream] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def client(self) -> httpx.AsyncClient:
        """A client whose transport is this fake."""
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))

    def adapter(self, **kw: Any) -> FaultAdapter:
        """A :class:`FaultAdapter` over this fake (key ``"sk-test"`` unless given)."""
        kw.setdefault("api_key", "sk-test")
        return FaultAdapter(http_client=self.client(), **kw)

    def reply_for(self, request: httpx.Request, number: int) -> Reply:
        """The reply to the ``number``-th request (override for content-based answers)."""
        return self.replies[min(number, len(self.replies) - 1)]

    async def handler(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        number = len(self.requests)
        self.requests.append(request)
        self.times.append(trio.current_time())
        reply = self.reply_for(request, number)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if reply.delay or self.hold:
                await trio.sleep(reply.delay or self.hold)
            else:
                await trio.lowlevel.checkpoint()
        finally:
            self.in_flight -= 1
        if reply.raise_ is not None:
            if issubclass(reply.raise_, httpx.TransportError):
                raise reply.raise_("scripted failure", request=request)
            raise reply.raise_("scripted failure")
        error = (
            httpx.RemoteProtocolError("peer closed connection", request=request)
            if reply.cut
            else None
        )
        stream = ChunkStream(reply.chunks, error)
        self.streams.append(stream)
        return httpx.Response(reply.status, headers=dict(reply.headers), stream=stream)

    def header(self, name: str) -> list[str | None]:
        """The value of header ``name`` in each request, in order."""
        return [r.headers.get(name) for r in self.requests]

    def all_closed(self) -> bool:
        """Whether every body handed out was closed (the pool is clean)."""
        return all(s.closed for s in self.streams)
