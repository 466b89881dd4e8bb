"""The scripted HTTP/1.1 server (tests/httpserver.py) against a real httpx client.

Tests that involve time take ``autojump_clock``: the server's sleeps and the
client's timeouts are both virtual, so they finish in milliseconds.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import pytest
import trio
import trio.testing

from httpserver import (
    Body,
    Close,
    Drip,
    Hang,
    ScriptedServer,
    Sleep,
    Status,
    Step,
    open_connections,
    open_scripted_server,
    respond,
    sse,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

EVENTS = ['data: {"n": 1}\n\n', 'data: {"n": 2}\n\n', "data: [DONE]\n\n"]


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with open_scripted_server() as srv:
        yield srv


def client_for(server: ScriptedServer, read: float = 5.0) -> httpx.AsyncClient:
    # trust_env=False: a proxy from the environment must not reroute 127.0.0.1.
    return httpx.AsyncClient(
        base_url=server.url, timeout=httpx.Timeout(5.0, read=read), trust_env=False
    )


async def test_full_json_response_and_recorded_request(server: ScriptedServer) -> None:
    server.route("POST", "/v1/chat", respond(200, {"ok": True}, {"x-request-id": "r-1"}))
    async with client_for(server) as client:
        response = await client.post(
            "/v1/chat?beta=1", json={"q": "hi"}, headers={"Authorization": "Bearer k"}
        )
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["x-request-id"] == "r-1"
    assert response.headers["content-type"] == "application/json"
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat?beta=1")
    assert request.body == b'{"q":"hi"}'
    assert request.header("Authorization") == "Bearer k"
    assert request.header("content-length") == "10"
    assert ("content-type", "application/json") in request.headers
    assert all(name == name.lower() for name, _ in request.headers)


async def test_chunked_request_body_is_decoded(server: ScriptedServer) -> None:
    server.route("PUT", "/upload", respond(204))

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"abc", b"", b"defgh"):
            yield part

    async with client_for(server) as client:
        response = await client.put("/upload", content=parts())
    assert response.status_code == 204
    [request] = server.requests
    assert request.header("transfer-encoding") == "chunked"
    assert request.body == b"abcdefgh"


async def test_malformed_request_gets_400_and_is_not_recorded(server: ScriptedServer) -> None:
    port = int(server.url.rpartition(":")[2])
    received = b""
    with trio.fail_after(5):
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(b"NONSENSE\r\n\r\n")
            while chunk := await stream.receive_some():
                received += chunk
    assert received.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"connection: close" in received
    assert server.requests == []


async def test_unknown_route_is_404_json(server: ScriptedServer) -> None:
    async with client_for(server) as client:
        response = await client.get("/nowhere?x=1")
    assert response.status_code == 404
    assert response.json() == {"error": "no route", "method": "GET", "path": "/nowhere?x=1"}


async def test_sse_chunks_arrive_as_scripted(
    server: ScriptedServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.route("POST", "/stream", sse(EVENTS, chunk_delay=0.5))
    async with client_for(server) as client:
        start = trio.current_time()
        async with client.stream("POST", "/stream") as response:
            assert response.headers["content-type"] == "text/event-stream"
            assert response.headers["transfer-encoding"] == "chunked"
            arrivals = [(trio.current_time() - start, c) async for c in response.aiter_raw()]
    assert [chunk for _, chunk in arrivals] == [event.encode() for event in EVENTS]
    assert [at for at, _ in arrivals] == pytest.approx([0.0, 0.5, 1.0], abs=1e-6)


async def test_only_body_steps_get_content_length(server: ScriptedServer) -> None:
    server.route("GET", "/a", [Status(201, {"x-a": "1"}), Body(b"ab"), Body(b"cd")])
    async with client_for(server) as client:
        response = await client.get("/a")
    assert response.status_code == 201
    assert response.headers["content-length"] == "4"
    assert "transfer-encoding" not in response.headers
    assert response.content == b"abcd"


async def test_successive_scripts_then_the_last_repeats(server: ScriptedServer) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    server.route(
        "POST",
        "/v1/chat",
        respond(429, {"error": "rate"}, {"retry-after": "2"}),
        respond(502, html, content_type="text/html"),
        respond(200, {"ok": 1}),
    )
    async with client_for(server) as client:
        responses = [await client.post("/v1/chat?try=" + str(n)) for n in range(4)]
    assert [r.status_code for r in responses] == [429, 502, 200, 200]
    assert responses[0].headers["retry-after"] == "2"
    assert responses[1].text == html
    assert responses[1].headers["content-type"] == "text/html"
    assert [r.path for r in server.requests] == [f"/v1/chat?try={n}" for n in range(4)]


async def test_route_rejects_empty_scripts(server: ScriptedServer) -> None:
    with pytest.raises(ValueError, match="non-empty script"):
        server.route("GET", "/x")
    with pytest.raises(ValueError, match="non-empty script"):
        server.route("GET", "/x", respond(), [])


async def test_keep_alive_reuses_one_connection(server: ScriptedServer) -> None:
    server.route("GET", "/a", respond(200, b"1"))
    server.route("POST", "/b", sse(EVENTS))
    client = client_for(server)
    assert (await client.get("/a")).content == b"1"
    assert (await client.post("/b")).text == "".join(EVENTS)
    assert (await client.get("/a")).content == b"1"
    assert [r.connection for r in server.requests] == [0, 0, 0]
    assert server.connections_accepted == 1
    assert server.connections_open == 1
    assert open_connections(client) == 0  # idle in the pool: clean
    await client.aclose()
    with trio.fail_after(5):
        await server.wait_connections_closed()
    assert server.connections_open == 0


@pytest.mark.parametrize(
    ("script", "error", "received"),
    [
        pytest.param([*sse(EVENTS[:2]), Close()], httpx.RemoteProtocolError, 2, id="mid-sse"),
        pytest.param([*sse(EVENTS[:1]), Close(reset=True)], httpx.ReadError, 1, id="mid-sse-reset"),
        pytest.param([Status(200), Close()], httpx.RemoteProtocolError, 0, id="empty-200"),
        pytest.param(
            [Status(200, {"content-length": "50"}), Body(b"{}"), Close()],
            httpx.RemoteProtocolError,
            1,
            id="short-content-length",
        ),
        pytest.param([Close()], httpx.RemoteProtocolError, None, id="before-status"),
        pytest.param([Body(b"garbage\r\n\r\n")], httpx.RemoteProtocolError, None, id="garbage"),
    ],
)
async def test_broken_responses(
    server: ScriptedServer, script: list[Step], error: type[Exception], received: int | None
) -> None:
    server.route("POST", "/stream", script)
    chunks: list[bytes] = []
    async with client_for(server) as client:
        with pytest.raises(error):  # noqa: PT012 - from the status line or from the body
            async with client.stream("POST", "/stream") as response:
                async for chunk in response.aiter_raw():
                    chunks.append(chunk)  # noqa: PERF401 - keep what came before the error
        assert (len(chunks) if received is not None else None) == received
        assert open_connections(client) == 0
    with trio.fail_after(5):
        await server.wait_connections_closed()


async def test_hang_times_out_in_virtual_time(
    server: ScriptedServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.route("POST", "/v1/chat", [Hang()])
    async with client_for(server, read=5.0) as client:
        start, real_start = trio.current_time(), time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/chat", json={})
        assert trio.current_time() - start == pytest.approx(5.0)
        assert time.perf_counter() - real_start < 2.0
        assert open_connections(client) == 0
        # The client dropped the timed-out connection; the server saw it go.
        with trio.fail_after(1):
            await server.wait_connections_closed()


@pytest.mark.parametrize(("interval", "completes"), [(4.0, True), (6.0, False)])
async def test_drip_against_read_timeout(
    server: ScriptedServer, autojump_clock: trio.testing.MockClock, interval: float, completes: bool
) -> None:
    data = b'data: {"n": 1}\n\n'
    server.route("POST", "/stream", [Status(200), Drip(data, interval)])
    async with client_for(server, read=5.0) as client:
        start = trio.current_time()
        if completes:
            response = await client.post("/stream")
            assert response.content == data
            assert trio.current_time() - start == pytest.approx(interval * len(data))
        else:
            with pytest.raises(httpx.ReadTimeout):
                await client.post("/stream")
            assert trio.current_time() - start == pytest.approx(5.0)
        assert open_connections(client) == 0
    with trio.fail_after(1):
        await server.wait_connections_closed()


@pytest.mark.parametrize(("delay", "completes"), [(4.0, True), (6.0, False)])
async def test_sleep_before_status_against_read_timeout(
    server: ScriptedServer, autojump_clock: trio.testing.MockClock, delay: float, completes: bool
) -> None:
    server.route("GET", "/slow", [Sleep(delay), *respond(200, b"late")])
    async with client_for(server, read=5.0) as client:
        if completes:
            assert (await client.get("/slow")).content == b"late"
        else:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/slow")


async def test_open_connections_counts_a_stream_left_open(
    server: ScriptedServer, autojump_clock: trio.testing.MockClock
) -> None:
    server.route("POST", "/stream", [*sse(EVENTS), Hang()])
    async with client_for(server) as client:
        assert open_connections(client) == 0
        async with client.stream("POST", "/stream") as response:
            assert response.status_code == 200
            assert open_connections(client) == 1
            assert server.connections_open == 1
        # Closing an unfinished response closes its connection, which is clean.
        assert open_connections(client) == 0
        with trio.fail_after(1):
            await server.wait_connections_closed()


async def test_leaving_the_server_drops_open_connections() -> None:
    errors: list[Exception] = []
    async with (
        httpx.AsyncClient(trust_env=False) as client,
        trio.open_nursery() as nursery,
        open_scripted_server() as server,
    ):
        server.route("GET", "/", [Hang()])

        async def request() -> None:
            try:
                await client.get(server.url + "/")
            except httpx.HTTPError as exc:
                errors.append(exc)

        nursery.start_soon(request)
        await trio.testing.wait_all_tasks_blocked()
        assert server.connections_open == 1
    # The server left first; the client saw its connection drop.
    assert [type(exc) for exc in errors] == [httpx.RemoteProtocolError]
