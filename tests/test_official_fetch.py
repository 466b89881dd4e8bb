"""The HTTP machinery of ``http.fetch``: checks, caps, redirects, decoding, redaction.

Most cases go through ``httpx.MockTransport``; one streams 5 MB from a real
socket on 127.0.0.1 to show the byte cap stops reading (B-05).
"""

from __future__ import annotations

import gzip
import pickle
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import httpx
import pytest
import trio
import trio.testing

from actrio.kernel import UsageError
from actrio.tools.errors import ToolError
from actrio.tools.official._fetch import (
    ALLOWED_METHODS,
    FetchFailed,
    FetchResult,
    FetchTimeout,
    FetchUsageError,
    InvalidRequest,
    RedirectRefused,
    TooManyRedirects,
    fetch,
)

SECRET = "Bearer sk-test-canary-93a1f"
Handler = Callable[[httpx.Request], Any]


@attrs.define
class Recorder:
    """A MockTransport handler that records every request it is sent."""

    respond: Handler
    requests: list[httpx.Request] = attrs.field(factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.respond(request)
        if isinstance(response, httpx.Response):
            return response
        awaited: httpx.Response = await response
        return awaited


def _client(recorder: Recorder) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(recorder))


def _ok(content: bytes = b"hello", **headers: str) -> Handler:
    return lambda request: httpx.Response(200, content=content, headers=headers)


async def _fetch(respond: Handler, url: str = "https://example.test/page", **options: Any) -> Any:
    recorder = Recorder(respond)
    async with _client(recorder) as client:
        result = await fetch(url, client=client, **options)
    return result, recorder.requests


# ---------------------------------------------------------------- basics


async def test_get_text_with_redacted_response_headers() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content="héllo".encode(),
            headers=[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Set-Cookie", "session=abc123"),
                ("Set-Cookie", "other=def456"),
                ("X-Multi", "a"),
                ("x-multi", "b"),
            ],
        )

    result, requests = await _fetch(respond, headers={"Authorization": SECRET, "Cookie": "c=1"})
    assert requests[0].headers["authorization"] == SECRET  # the caller's choice: sent
    assert (result.status, result.reason, result.method) == (200, "OK", "GET")
    assert result.url == "https://example.test/page"
    assert result.text == "héllo"
    assert result.content == "héllo".encode()
    assert result.content_type == "text/plain; charset=utf-8"
    assert (result.truncated, result.bytes_total_known, result.redirects) == (False, 6, 0)
    assert result.headers["set-cookie"] == "[REDACTED]"
    assert result.headers["x-multi"] == "a, b"
    text = result.to_text()
    assert text.startswith("HTTP 200 OK (GET https://example.test/page)\n")
    assert text.endswith("\n\nhéllo")
    for shown in (text, repr(result), str(result)):
        assert SECRET not in shown
        assert "abc123" not in shown
    assert hash(result) == hash(attrs.evolve(result))


async def test_method_is_case_insensitive_and_body_is_sent() -> None:
    result, requests = await _fetch(_ok(), method="post", body="çà")
    assert result.method == "POST"
    assert requests[0].method == "POST"
    assert requests[0].content == "çà".encode()
    _, requests = await _fetch(_ok(), method="PUT", body=b"\x00\xff")
    assert requests[0].content == b"\x00\xff"
    _, requests = await _fetch(_ok(), method="DELETE", body="\ud800")
    assert requests[0].content == b"?"


async def test_head_has_an_empty_body() -> None:
    result, _ = await _fetch(lambda r: httpx.Response(204), method="HEAD")
    assert (result.content, result.text, result.bytes_total_known) == (b"", "", 0)
    assert (
        result.to_text() == "HTTP 204 No Content (HEAD https://example.test/page)\n\n(empty body)"
    )


async def test_error_statuses_are_results() -> None:
    result, _ = await _fetch(lambda r: httpx.Response(404, text="nope"))
    assert (result.status, result.text) == (404, "nope")


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "GET\r\nX: y", "", 5])
async def test_only_allowed_methods(method: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await _fetch(_ok(), method=method)
    assert caught.value.field == "method"
    assert "TRACE" not in ALLOWED_METHODS


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.test/x",
        "javascript:alert(1)",
        "//example.test/no-scheme",
        "http:///no-host",
        "https://example.test/\x00",
        "https://example.test/a\r\nHost: evil",
        "http://[::1",
        "https://user:pw@example.test/",
        b"https://example.test/",
    ],
)
async def test_bad_urls_are_refused_before_any_request(url: object) -> None:
    recorder = Recorder(_ok())
    async with _client(recorder) as client:
        with pytest.raises(InvalidRequest) as caught:
            await fetch(url, client=client)  # type: ignore[arg-type]
    assert caught.value.field == "url"
    assert "pw" not in str(caught.value)
    assert recorder.requests == []


async def test_credentials_in_the_url_only_when_allowed_and_never_shown() -> None:
    result, requests = await _fetch(
        _ok(), url="https://user:pw-secret@example.test/x", allow_credentials=True
    )
    assert requests[0].headers["authorization"].startswith("Basic ")
    assert result.url == "https://example.test/x"
    assert "pw-secret" not in result.to_text() + repr(result)


async def test_allowed_schemes_can_be_narrowed() -> None:
    with pytest.raises(InvalidRequest, match=r"scheme 'http' is not allowed \(allowed: https\)"):
        await _fetch(_ok(), url="http://example.test/", allowed_schemes=["https"])
    with pytest.raises(InvalidRequest, match=r"allowed: none"):
        await _fetch(_ok(), allowed_schemes=())


@pytest.mark.parametrize(
    ("headers", "field", "reason"),
    [
        ({"X-A": "ok\r\nInjected: 1"}, "headers['X-A']", "CR or LF at position 2"),
        ({"X-A": "ok\nInjected: 1"}, "headers['X-A']", "CR or LF at position 2"),
        ({"X-A": "a\x00b"}, "headers['X-A']", "control or non-ASCII character at position 1"),
        ({"X-A": "é"}, "headers['X-A']", "control or non-ASCII"),
        ({"X-A": 1}, "headers['X-A']", "must be a str"),
        ({"X Bad": "v"}, "headers['X Bad']", "not a valid header name"),
        ({"X:Y": "v"}, "headers['X:Y']", "not a valid header name"),
        ({"": "v"}, "headers['']", "not a valid header name"),
        ({"X\r\nY": "v"}, "headers['X\\r\\nY']", "not a valid header name"),
        ({3: "v"}, "headers['3']", "not a valid header name"),
        ({"Host": "evil.test"}, "headers['Host']", "set by the client"),
        ({"content-length": "5"}, "headers['content-length']", "set by the client"),
        ({"Transfer-Encoding": "chunked"}, "headers['Transfer-Encoding']", "set by the client"),
        ([("X-A", "b")], "headers", "must be a mapping"),
    ],
)
async def test_b09_header_names_and_values_are_checked(
    headers: object, field: str, reason: str
) -> None:
    recorder = Recorder(_ok())
    async with _client(recorder) as client:
        with pytest.raises(InvalidRequest) as caught:
            await fetch("https://example.test/", client=client, headers=headers)  # type: ignore[arg-type]
    assert (caught.value.field, recorder.requests) == (field, [])
    assert reason in caught.value.reason
    assert "Injected" not in str(caught.value)


async def test_body_must_be_text_or_bytes() -> None:
    with pytest.raises(InvalidRequest, match="body: must be str, bytes or None, not dict"):
        await _fetch(_ok(), method="POST", body={"a": 1})


@pytest.mark.parametrize(
    "options",
    [
        {"max_bytes": -1},
        {"max_bytes": True},
        {"max_redirects": -1},
        {"timeout": 0},
        {"timeout": float("nan")},
        {"timeout": "5"},
        {"allowed_schemes": "https"},
        {"allowed_schemes": 5},
        {"allowed_schemes": ["HTTPS"]},
        {"allowed_schemes": [1]},
    ],
)
async def test_bad_options_are_usage_errors(options: dict[str, Any]) -> None:
    with pytest.raises(FetchUsageError) as caught:
        await _fetch(_ok(), **options)
    assert isinstance(caught.value, UsageError | ValueError)


async def test_client_must_be_an_async_client() -> None:
    with httpx.Client() as sync_client, pytest.raises(FetchUsageError, match="AsyncClient"):
        await fetch("https://example.test/", client=sync_client)  # type: ignore[arg-type]


# ---------------------------------------------------------------- redirects


def _redirects(table: dict[str, tuple[int, str]]) -> Handler:
    def respond(request: httpx.Request) -> httpx.Response:
        hop = table.get(str(request.url))
        if hop is None:
            return httpx.Response(200, text=f"landed on {request.url}")
        status, location = hop
        return httpx.Response(status, headers={"location": location})

    return respond


CHAIN = {
    "https://example.test/page": (301, "/second"),
    "https://example.test/second": (302, "https://other.test/third"),
}


async def test_redirects_are_not_followed_by_default() -> None:
    result, requests = await _fetch(_redirects(CHAIN))
    assert (result.status, result.headers["location"], len(requests)) == (301, "/second", 1)


async def test_redirects_followed_with_each_hop_checked() -> None:
    seen: list[str] = []

    async def check(url: str) -> None:
        seen.append(url)

    result, requests = await _fetch(
        _redirects(CHAIN),
        follow_redirects=True,
        check_redirect=check,
        headers={"Authorization": SECRET, "X-Keep": "1"},
    )
    assert result.url == "https://other.test/third"
    assert result.text == "landed on https://other.test/third"
    assert result.redirects == 2
    assert "[followed 2 redirects]" in result.to_text()
    assert seen == ["https://example.test/second", "https://other.test/third"]
    # Same origin keeps the credentials; another origin does not get them.
    assert requests[1].headers["authorization"] == SECRET
    assert "authorization" not in requests[2].headers
    assert requests[2].headers["x-keep"] == "1"


async def test_one_redirect_is_singular() -> None:
    result, _ = await _fetch(
        _redirects({"https://example.test/page": (308, "/b")}), follow_redirects=True
    )
    assert "[followed 1 redirect]" in result.to_text()


async def test_a_redirect_loop_stops_at_the_limit() -> None:
    loop = {"https://example.test/page": (302, "/page")}
    recorder = Recorder(_redirects(loop))
    async with _client(recorder) as client:
        with pytest.raises(TooManyRedirects, match="more than 3 redirects"):
            await fetch(
                "https://example.test/page", client=client, follow_redirects=True, max_redirects=3
            )
    assert len(recorder.requests) == 4


@pytest.mark.parametrize(
    ("location", "match"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("ftp://example.test/x", "scheme 'ftp' is not allowed"),
        ("http://example.test/plain", "from https to http"),
        ("https://u:p@example.test/", "carries credentials"),
    ],
)
async def test_a_bad_redirect_target_is_refused(location: str, match: str) -> None:
    recorder = Recorder(_redirects({"https://example.test/page": (302, location)}))
    async with _client(recorder) as client:
        with pytest.raises(RedirectRefused, match=match) as caught:
            await fetch("https://example.test/page", client=client, follow_redirects=True)
    assert len(recorder.requests) == 1
    assert isinstance(caught.value, ToolError | ValueError)


@pytest.mark.parametrize("follow", [True, False])
async def test_an_invalid_location_fails_the_fetch(follow: bool) -> None:
    # httpx parses the location of every 3xx, followed or not.
    respond = _redirects({"https://example.test/page": (302, "https://example.test/\x00")})
    with pytest.raises(FetchFailed) as caught:
        await _fetch(respond, follow_redirects=follow)
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)


async def test_the_redirect_hook_can_refuse_a_hop() -> None:
    class Denied(Exception):
        pass

    async def deny(url: str) -> None:
        raise Denied(url)

    recorder = Recorder(_redirects({"https://example.test/page": (302, "https://evil.test/")}))
    async with _client(recorder) as client:
        with pytest.raises(Denied, match="evil"):
            await fetch(
                "https://example.test/page",
                client=client,
                follow_redirects=True,
                check_redirect=deny,
            )
    assert [str(r.url) for r in recorder.requests] == ["https://example.test/page"]


@pytest.mark.parametrize(
    ("status", "method", "then", "keeps_body"),
    [
        (303, "POST", "GET", False),
        (303, "HEAD", "HEAD", False),
        (302, "POST", "GET", False),
        (301, "POST", "GET", False),
        (302, "PUT", "PUT", True),
        (307, "POST", "POST", True),
        (308, "PATCH", "PATCH", True),
    ],
)
async def test_redirect_methods(status: int, method: str, then: str, keeps_body: bool) -> None:
    result, requests = await _fetch(
        _redirects({"https://example.test/page": (status, "/next")}),
        method=method,
        body=b"payload" if method != "HEAD" else None,
        headers={"Content-Type": "application/octet-stream"},
        follow_redirects=True,
    )
    assert requests[1].method == result.method == then
    assert (requests[1].content == b"payload") is keeps_body
    assert ("content-type" in requests[1].headers) is (keeps_body or method == "HEAD")


async def test_a_redirect_without_location_is_the_result() -> None:
    result, requests = await _fetch(lambda r: httpx.Response(302), follow_redirects=True)
    assert (result.status, len(requests)) == (302, 1)


# ---------------------------------------------------------------- decoding (B-06)


@pytest.mark.parametrize(
    ("content", "content_type", "text"),
    [
        ("café".encode("latin-1"), "text/html; charset=ISO-8859-1", "café"),
        ("café".encode(), "text/plain; charset=x-no-such-charset", "café"),
        ("café".encode(), "text/plain; charset=rot13", "café"),
        (b"ok \xff\xfe", "text/plain", "ok \ufffd\ufffd"),
        (b'{"a": 1}', "application/json", '{"a": 1}'),
        (b'{"a": 1}', "application/vnd.api+json", '{"a": 1}'),
        (b"<a/>", "image/svg+xml", "<a/>"),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png", None),
        (b"plain words", None, "plain words"),
        (b"nul\x00inside", None, None),
        (b"\xff\xfe not utf-8", None, None),
    ],
)
async def test_b06_charset_decoding_and_binary(
    content: bytes, content_type: str | None, text: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    result, _ = await _fetch(lambda r: httpx.Response(200, content=content, headers=headers))
    assert result.text == text
    assert result.content == content
    if text is None:
        kind = content_type or "unknown type"
        assert f"[binary body: {len(content):,} bytes of {kind}, not shown]" in result.to_text()


# ---------------------------------------------------------------- caps (B-05)


async def test_b05_body_is_cut_at_max_bytes() -> None:
    result, _ = await _fetch(_ok(b"x" * 5000, **{"content-type": "text/plain"}), max_bytes=1000)
    assert (len(result.content), result.truncated, result.bytes_total_known) == (1000, True, 5000)
    assert result.text == "x" * 1000
    assert result.to_text().endswith("[body truncated: 5,000 bytes total, first 1,000 bytes shown]")


async def test_b05_exactly_max_bytes_is_not_truncated() -> None:
    result, _ = await _fetch(_ok(b"x" * 1000), max_bytes=1000)
    assert (result.truncated, result.bytes_total_known) == (False, 1000)


async def test_b05_unknown_total_and_a_cut_character() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield "aé".encode()

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks(), headers={"content-type": "text/plain"})

    result, _ = await _fetch(respond, max_bytes=5)
    assert (result.content, result.text) == (b"a\xc3\xa9a\xc3", "aéa")
    assert result.bytes_total_known is None
    assert "[body truncated: total size unknown, first 5 bytes shown]" in result.to_text()


async def test_b05_encoded_body_has_no_known_total_when_cut() -> None:
    packed = gzip.compress(b"z" * 100_000)

    def respond(request: httpx.Request) -> httpx.Response:
        headers = {"content-encoding": "gzip", "content-type": "text/plain"}
        return httpx.Response(200, content=packed, headers=headers)

    result, _ = await _fetch(respond, max_bytes=10)
    assert (result.content, result.bytes_total_known) == (b"z" * 10, None)


async def test_b05_a_bad_declared_length_is_ignored() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 100

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks(), headers={"content-length": "lots"})

    result, _ = await _fetch(respond, max_bytes=10)
    assert (result.truncated, result.bytes_total_known) == (True, None)


async def test_response_headers_are_capped() -> None:
    many = [(f"x-h{i}", "v") for i in range(60)] + [("x-h0", "again"), ("x-long", "y" * 5000)]
    result, _ = await _fetch(lambda r: httpx.Response(200, headers=many))
    assert len(result.headers) == 50
    assert result.headers["x-h0"] == "v, again"
    assert "x-long" not in result.headers
    result, _ = await _fetch(lambda r: httpx.Response(200, headers={"x-long": "y" * 5000}))
    assert result.headers["x-long"] == "y" * 1000 + "..."


# ---------------------------------------------------------------- time and transport errors


async def test_timeout_raises_fetch_timeout(autojump_clock: trio.testing.MockClock) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await trio.sleep(60)
        return httpx.Response(200)

    start = trio.current_time()
    with pytest.raises(FetchTimeout) as caught:
        await _fetch(slow, url="https://u:pw@example.test/x", allow_credentials=True, timeout=30)
    assert trio.current_time() - start == pytest.approx(30)
    assert (caught.value.url, caught.value.seconds) == ("https://example.test/x", 30)
    assert str(caught.value) == "fetching https://example.test/x timed out after 30 s"
    assert isinstance(caught.value, TimeoutError)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ReadTimeout("read timed out " + SECRET), FetchTimeout),
        (httpx.ConnectError("refused " + SECRET), FetchFailed),
        (httpx.RemoteProtocolError("garbage " + SECRET), FetchFailed),
    ],
)
async def test_transport_errors_are_mapped(error: Exception, expected: type[Exception]) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(expected) as caught:
        await _fetch(respond, headers={"Authorization": SECRET})
    assert caught.value.__cause__ is error
    assert SECRET not in str(caught.value)
    if expected is FetchFailed:
        assert (
            str(caught.value)
            == f"fetching https://example.test/page failed: {type(error).__name__}"
        )
        assert isinstance(caught.value, ConnectionError)


async def test_a_long_url_is_shortened_in_messages() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no")

    with pytest.raises(FetchFailed) as caught:
        await _fetch(respond, url="https://example.test/" + "a" * 500)
    assert caught.value.url.endswith("...")
    assert len(caught.value.url) == 203


def test_errors_pickle_with_their_fields() -> None:
    invalid = pickle.loads(pickle.dumps(InvalidRequest("method", "bad")))
    assert (invalid.field, invalid.reason) == ("method", "bad")
    timeout = pickle.loads(pickle.dumps(FetchTimeout("https://a.test/", 3.0)))
    assert (timeout.url, timeout.seconds) == ("https://a.test/", 3.0)


def test_result_headers_are_read_only() -> None:
    result = FetchResult(
        url="https://a.test/",
        method="GET",
        status=200,
        reason="",
        headers={"a": "1"},
        content_type=None,
        content=b"",
        text="",
        truncated=False,
        bytes_total_known=0,
        redirects=0,
        max_bytes=10,
    )
    with pytest.raises(TypeError):
        result.headers["b"] = "2"  # type: ignore[index]
    assert result.to_text().startswith("HTTP 200 (GET https://a.test/)")


# ---------------------------------------------------------------- real socket (B-05)

TOTAL = 5_000_000


@attrs.define
class _Served:
    sent: int = 0
    broken: bool = False
    done: trio.Event = attrs.field(factory=trio.Event)


async def _stream_5mb(stream: trio.SocketStream, served: _Served) -> None:
    request = b""
    while b"\r\n\r\n" not in request:
        request += await stream.receive_some(4096)
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
    await stream.send_all(head + f"content-length: {TOTAL}\r\n\r\n".encode())
    chunk = b"\x00" * 16384
    try:
        while served.sent < TOTAL:
            await stream.send_all(chunk)
            served.sent += len(chunk)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        served.broken = True
    finally:
        served.done.set()
        await stream.aclose()


# httpcore's nested body generators are left for the GC when a body is not read to
# its end, and trio warns about each (encode/httpx#3686, encode/httpcore#1019); the
# connection itself is closed, which is what this test checks.
@pytest.mark.filterwarnings(r"ignore:Async generator 'http(x|core)\.:ResourceWarning")
async def test_b05_real_socket_cap_stops_reading_and_closes(nursery: trio.Nursery) -> None:
    served = _Served()
    listeners = await nursery.start(
        trio.serve_listeners,
        lambda stream: _stream_5mb(stream, served),
        await trio.open_tcp_listeners(0, host="127.0.0.1"),
    )
    port = listeners[0].socket.getsockname()[1]
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)]
    )
    async with httpx.AsyncClient(transport=transport) as client:
        result = await fetch(f"http://127.0.0.1:{port}/big", client=client, max_bytes=100_000)
        with trio.fail_after(10):
            await served.done.wait()
        pool = transport._pool
        assert pool.connections == []  # not kept for reuse: the unread rest was dropped
    assert (len(result.content), result.truncated) == (100_000, True)
    assert result.bytes_total_known == TOTAL
    assert result.text is None
    assert served.broken
    assert served.sent < TOTAL // 2
