"""A scripted HTTP/1.1 server on 127.0.0.1 for fault tests of HTTP clients.

An injected ``httpx`` transport cannot show read timeouts, slow-drip streams,
half-sent bodies, resets or what is left in the client's connection pool; a
real socket can. The server runs inside the test's own trio run, so every
delay in a script is a ``trio.sleep`` and follows the virtual clock of
``trio.testing.MockClock(autojump_threshold=0)`` (pytest-trio's
``autojump_clock``): a 6 s stall against a 5 s read timeout costs no real time.

Usage::

    async def test_retry(autojump_clock: trio.testing.MockClock) -> None:
        async with open_scripted_server() as server:
            server.route(
                "POST",
                "/v1/chat",
                respond(429, {"error": "slow down"}, {"retry-after": "2"}),
                [*sse(["data: 1\\n\\n"]), Close()],  # disconnect mid-stream
                [Status(200), Drip(b"data: 2\\n\\n", 4.0)],  # a byte every 4 s
            )
            async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
                ...
            await server.wait_connections_closed()
            assert [r.path for r in server.requests] == ["/v1/chat"] * 3

A script is a sequence of steps played in order for one request:
``Status`` sends the status line and headers; ``Body`` and ``Drip`` send body
bytes; ``Sleep`` waits; ``Close`` drops the connection at once (FIN, or RST
with ``reset=True``) and ``Hang`` sends nothing more until the client leaves.
Body framing is chosen when ``Status`` is played:

- a ``content-length`` header in ``Status`` (``respond`` sets one) or a 204/304
  code: body bytes go out as they are, the script owns the length;
- a ``transfer-encoding`` header (``sse`` sets one), or any step after
  ``Status`` that is not a ``Body``: chunked, one chunk per ``Body`` and per
  dripped byte, and the terminating chunk when the script ends normally;
- only ``Body`` steps after ``Status``: ``content-length`` is added.

Bytes played before any ``Status`` go out raw, for malformed responses. A
script that ends normally leaves the connection open for the next request
(keep-alive) unless it sent no ``Status`` or either side said
``connection: close``.

Successive requests to a route get successive scripts and the last script
repeats; assert ``server.requests`` to count attempts. Unrouted requests get
a 404 JSON body. Routes match the path without its query string; the record
keeps the full request target. While a script plays the server keeps reading
the socket, so a client that closes (or times out and drops the connection)
cancels the script at once and ``connections_open`` falls back to 0.

Use the numeric ``server.url`` (127.0.0.1): a name such as ``localhost`` is
resolved in a worker thread, and the autojump clock would jump to the
client's connect timeout while that thread runs.
"""

from __future__ import annotations

import http
import json
import socket
import struct
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Literal, TypeAlias, assert_never

import attrs
import httpx
import trio

__all__ = (
    "Body",
    "Close",
    "Drip",
    "Hang",
    "Recorded",
    "Script",
    "ScriptedServer",
    "Sleep",
    "Status",
    "Step",
    "open_connections",
    "open_scripted_server",
    "respond",
    "sse",
)

HeaderPairs: TypeAlias = tuple[tuple[str, str], ...]
_MAX_HEAD = 64 * 1024
_NO_BODY = frozenset({204, 304})
_Outcome: TypeAlias = Literal["keep", "close", "reset", "gone"]


def _header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> HeaderPairs:
    if headers is None:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), str(value)) for name, value in items)


@attrs.frozen
class Recorded:
    """One request as the server received it.

    Attributes:
        method: The request method, as sent.
        path: The full request target, query string included.
        headers: Header pairs in order, names lower-cased.
        body: The request body (chunked bodies are decoded).
        connection: Ordinal of the server-side connection it arrived on.
    """

    method: str
    path: str
    headers: HeaderPairs
    body: bytes
    connection: int

    def header(self, name: str) -> str | None:
        """Return the first value of header ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


@attrs.frozen
class Status:
    """Send the status line and headers; picks the body framing (module docs)."""

    code: int = 200
    headers: HeaderPairs = attrs.field(default=(), converter=_header_pairs)
    reason: str | None = None


@attrs.frozen
class Body:
    """Send ``data`` as one piece (one chunk when chunked; empty data sends nothing)."""

    data: bytes


@attrs.frozen
class Sleep:
    """Wait ``seconds`` with ``trio.sleep`` (virtual under a MockClock)."""

    seconds: float


@attrs.frozen
class Drip:
    """Send ``data`` one byte at a time, sleeping ``interval`` before each byte."""

    data: bytes
    interval: float


@attrs.frozen
class Close:
    """Drop the connection now, without ending the body; ``reset`` sends RST, not FIN."""

    reset: bool = False


@attrs.frozen
class Hang:
    """Send nothing more until the client goes away or the server closes."""


Step: TypeAlias = Status | Body | Sleep | Drip | Close | Hang
Script: TypeAlias = Sequence[Step]


def respond(
    status: int = 200,
    body: bytes | str | Mapping[str, object] = b"",
    headers: Mapping[str, str] | None = None,
    *,
    content_type: str = "application/json",
) -> list[Step]:
    """Build a complete response with ``content-length``; a mapping body is sent as JSON."""
    if isinstance(body, Mapping):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body
    pairs = {"content-type": content_type}
    if status not in _NO_BODY:  # 204 and 304 must not carry a length
        pairs["content-length"] = str(len(data))
    return [Status(status, pairs | dict(headers or {})), Body(data)]


def sse(
    events: Iterable[bytes | str],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    chunk_delay: float = 0.0,
) -> list[Step]:
    """Build a chunked ``text/event-stream`` response, one chunk per item, sent verbatim.

    Items are not framed: write ``"data: ...\\n\\n"`` yourself (or split an event
    over several items to test partial lines). ``chunk_delay`` sleeps between
    chunks. Append ``Close()`` or ``Hang()`` to break the stream.
    """
    pairs = {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        "transfer-encoding": "chunked",
        **(headers or {}),
    }
    steps: list[Step] = [Status(status, pairs)]
    for index, event in enumerate(events):
        if index and chunk_delay:
            steps.append(Sleep(chunk_delay))
        steps.append(Body(event.encode() if isinstance(event, str) else event))
    return steps


def open_connections(client: httpx.AsyncClient) -> int:
    """Count the client's pooled connections that are busy (neither idle nor closed).

    "Left clean" means 0: no connection is still serving a request or opening.
    An idle keep-alive connection is clean; httpx reuses or closes it. This reads
    private attributes of httpx 0.28 (``_transport._pool``) and httpcore 1.0.
    """
    transport = client._transport
    if not isinstance(transport, httpx.AsyncHTTPTransport):
        raise TypeError(f"expected the default httpx transport, got {transport!r}")
    pool = transport._pool.connections
    return sum(1 for conn in pool if not (conn.is_idle() or conn.is_closed()))


class _BadRequest(Exception):
    """The client sent something this server does not parse."""


class _Reader:
    """Buffered reads from one connection; EOF and resets read as an empty chunk."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def _fill(self) -> bool:
        try:
            data = await self._stream.receive_some(65536)
        except trio.BrokenResourceError:
            data = b""
        self._buffer += data
        return bool(data)

    async def wait_eof(self) -> None:
        """Buffer whatever arrives until the client closes its side."""
        while await self._fill():
            pass

    async def until(self, delimiter: bytes) -> bytes | None:
        """Return the bytes before ``delimiter`` (consumed), or None at EOF."""
        while (end := self._buffer.find(delimiter)) < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise _BadRequest("header section too long")
            if not await self._fill():
                return None
        data = bytes(self._buffer[:end])
        del self._buffer[: end + len(delimiter)]
        return data

    async def exactly(self, size: int) -> bytes | None:
        """Return the next ``size`` bytes, or None at EOF."""
        while len(self._buffer) < size:
            if not await self._fill():
                return None
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def chunked(self) -> bytes | None:
        """Decode a chunked body (trailers are dropped), or None at EOF."""
        parts: list[bytes] = []
        while (line := await self.until(b"\r\n")) is not None:
            try:
                size = int(line.split(b";")[0], 16)
            except ValueError:
                raise _BadRequest(f"bad chunk size {line!r}") from None
            if size == 0:
                while (trailer := await self.until(b"\r\n")) is not None:
                    if not trailer:
                        return b"".join(parts)
                return None
            data = await self.exactly(size + 2)
            if data is None:
                return None
            parts.append(data[:-2])
        return None


def _parse_head(head: bytes) -> tuple[str, str, HeaderPairs]:
    request_line, *lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(f"bad request line {request_line!r}")
    headers: list[tuple[str, str]] = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequest(f"bad header line {line!r}")
        headers.append((name.lower(), value.strip()))
    return parts[0], parts[1], tuple(headers)


def _has_token(headers: HeaderPairs, name: str, token: str) -> bool:
    return any(key.lower() == name and token in value.lower() for key, value in headers)


def _head(status: Status, rest: Script) -> tuple[bytes, bool]:
    """Render the status line and headers; return them and whether the body is chunked."""
    headers = list(status.headers)
    names = {name.lower() for name, _ in headers}
    chunked = False
    if "content-length" in names or status.code in _NO_BODY:
        pass
    elif "transfer-encoding" in names:
        chunked = True
    elif all(isinstance(step, Body) for step in rest):
        length = sum(len(step.data) for step in rest if isinstance(step, Body))
        headers.append(("content-length", str(length)))
    else:
        headers.append(("transfer-encoding", "chunked"))
        chunked = True
    reason = status.reason
    if reason is None:
        try:
            reason = http.HTTPStatus(status.code).phrase
        except ValueError:
            reason = "Unknown"
    lines = [f"HTTP/1.1 {status.code} {reason}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1"), chunked


async def _play(stream: trio.SocketStream, script: Script) -> _Outcome:
    """Play one response script; say what to do with the connection afterwards."""
    chunked = responded = close_after = False

    async def send(data: bytes) -> None:
        if data:
            await stream.send_all(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

    for index, step in enumerate(script):
        match step:
            case Status():
                head, chunked = _head(step, script[index + 1 :])
                await stream.send_all(head)
                responded = True
                close_after = _has_token(step.headers, "connection", "close")
            case Body(data=data):
                await send(data)
            case Drip(data=data, interval=interval):
                for byte in data:
                    await trio.sleep(interval)
                    await send(bytes([byte]))
            case Sleep(seconds=seconds):
                await trio.sleep(seconds)
            case Close(reset=reset):
                return "reset" if reset else "close"
            case Hang():
                await trio.sleep_forever()
            case _:
                assert_never(step)
    if chunked:
        await stream.send_all(b"0\r\n\r\n")
    return "keep" if responded and not close_after else "close"


@attrs.define(eq=False)
class _Route:
    scripts: tuple[Script, ...]
    served: int = 0

    def next_script(self) -> Script:
        script = self.scripts[min(self.served, len(self.scripts) - 1)]
        self.served += 1
        return script


class ScriptedServer:
    """The server's state: routes, recorded requests and connection counts.

    Attributes:
        url: ``http://127.0.0.1:PORT``, the base URL for the client.
        requests: Every parsed request, in arrival order.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: list[Recorded] = []
        self._routes: dict[tuple[str, str], _Route] = {}
        self._accepted = 0
        self._open = 0
        self._all_closed = trio.Event()
        self._all_closed.set()

    @property
    def connections_open(self) -> int:
        """Server-side connections currently open."""
        return self._open

    @property
    def connections_accepted(self) -> int:
        """Connections accepted since the server started."""
        return self._accepted

    def route(self, method: str, path: str, *scripts: Script) -> None:
        """Answer ``method path`` with ``scripts`` in turn, the last one repeating.

        Routing the same method and path again replaces its scripts.

        Raises:
            ValueError: No script was given, or a script is empty.
        """
        if not scripts or not all(scripts):
            raise ValueError("route() needs at least one non-empty script")
        self._routes[method.upper(), path] = _Route(tuple(tuple(s) for s in scripts))

    async def wait_connections_closed(self) -> None:
        """Wait until no server-side connection is open (bound it with ``trio.fail_after``)."""
        await trio.lowlevel.checkpoint()
        while self._open:
            await self._all_closed.wait()

    def _script_for(self, request: Recorded) -> Script:
        route = self._routes.get((request.method.upper(), request.path.partition("?")[0]))
        if route is None:
            return respond(
                404, {"error": "no route", "method": request.method, "path": request.path}
            )
        return route.next_script()

    async def _handle(self, stream: trio.SocketStream) -> None:
        number = self._accepted
        self._accepted += 1
        if not self._open:
            self._all_closed = trio.Event()
        self._open += 1
        try:
            async with stream:
                outcome = await self._converse(stream, number)
                if outcome == "reset":
                    stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            self._open -= 1
            if not self._open:
                self._all_closed.set()

    async def _converse(self, stream: trio.SocketStream, number: int) -> _Outcome:
        reader = _Reader(stream)
        try:
            while True:
                request = await self._read_request(reader, number)
                if request is None:
                    return "gone"
                self.requests.append(request)
                outcome = await self._answer(stream, reader, self._script_for(request))
                if outcome != "keep" or _has_token(request.headers, "connection", "close"):
                    return outcome
        except _BadRequest as exc:
            body = json.dumps({"error": str(exc)}).encode()
            await _play(stream, [Status(400, {"connection": "close"}), Body(body)])
            return "close"
        except trio.BrokenResourceError:
            return "gone"

    async def _read_request(self, reader: _Reader, number: int) -> Recorded | None:
        head = await reader.until(b"\r\n\r\n")
        if head is None:
            return None
        method, target, headers = _parse_head(head)
        if _has_token(headers, "transfer-encoding", "chunked"):
            body = await reader.chunked()
        else:
            length = next((v for k, v in headers if k == "content-length"), "0")
            if not length.isdigit():
                raise _BadRequest(f"bad content-length {length!r}")
            body = await reader.exactly(int(length))
        if body is None:
            return None
        return Recorded(method, target, headers, body, number)

    async def _answer(self, stream: trio.SocketStream, reader: _Reader, script: Script) -> _Outcome:
        """Play ``script`` while watching the socket, so a client that leaves cancels it."""
        outcome: _Outcome = "gone"
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                await reader.wait_eof()
                nursery.cancel_scope.cancel()

            async def play() -> None:
                nonlocal outcome
                try:
                    outcome = await _play(stream, script)
                except trio.BrokenResourceError:
                    outcome = "gone"
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            nursery.start_soon(play)
        return outcome


@asynccontextmanager
async def open_scripted_server() -> AsyncIterator[ScriptedServer]:
    """Serve on 127.0.0.1 (a free port) in the current trio run; cancel it all on exit."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    server = ScriptedServer(f"http://127.0.0.1:{port}")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, server._handle, listeners)
        yield server
        nursery.cancel_scope.cancel()
