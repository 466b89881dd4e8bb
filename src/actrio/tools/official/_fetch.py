"""Fetch one URL through the runtime's pooled client, with a byte cap and checked redirects.

:func:`fetch` is the machinery behind the ``http.fetch`` tool. The policy
engine has already approved the URL; this module makes the request and
keeps it inside the lines it was approved for:

- **Only what is asked is sent**: methods are limited to
  :data:`ALLOWED_METHODS`, schemes to ``allowed_schemes`` (``file:``,
  ``ftp:``, ``javascript:`` are refused), URLs carrying credentials
  (``user:pass@``) are refused unless allowed, and header names and values
  are checked (no CR, LF or other control character, ASCII only, B-09).
  The headers that frame or route a request (``host``,
  ``content-length``, ``transfer-encoding``, ...) are set by the client
  from the URL and body and refused from the caller, so a request cannot
  be steered to a virtual host the policy did not see.
- **The body is bounded** (B-05): it is streamed and reading stops after
  ``max_bytes``; the response is always closed, so an unread rest closes
  the connection instead of being downloaded.
- **Redirects are re-checked**: off by default (the 3xx comes back as the
  result); when followed, each hop is checked against the scheme
  allow-list, the credential rule and ``max_redirects``; a hop from https
  to http is refused; ``authorization``, ``cookie`` and
  ``proxy-authorization`` are dropped when the origin changes; and an
  optional ``check_redirect`` hook (the runtime's policy) may refuse a hop
  before it is requested.
- **Secrets are not echoed** (SE-03 style): request headers such as
  ``authorization`` or ``cookie`` are the caller's choice and are sent, but
  no result, ``repr`` or error message shows request headers; response
  headers in :data:`REDACTED_HEADERS` (``set-cookie``, ...) are shown as
  ``[REDACTED]``; credentials in a URL are never shown.

The time limit covers the whole exchange, redirects included, and raises
:class:`FetchTimeout`: a half-read body is rarely worth more than knowing
the server was too slow.

Errors::

    ToolError
    ├── InvalidRequest        a bad method, URL, header or body (ValueError)
    ├── FetchUsageError       fetch called with unsupported options (UsageError, ValueError)
    ├── RedirectRefused       a redirect hop was not allowed (ValueError)
    │   └── TooManyRedirects  more than ``max_redirects`` hops
    ├── FetchTimeout          the time limit passed (TimeoutError)
    └── FetchFailed           the transport failed; the httpx error is ``__cause__``
                              (ConnectionError)
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from types import MappingProxyType
from typing import Final

import attrs
import httpx
import trio

from actrio.kernel import UsageError
from actrio.tools.errors import ToolError

__all__ = (
    "ALLOWED_METHODS",
    "REDACTED_HEADERS",
    "FetchFailed",
    "FetchResult",
    "FetchTimeout",
    "FetchUsageError",
    "InvalidRequest",
    "RedirectRefused",
    "TooManyRedirects",
    "fetch",
)

ALLOWED_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The HTTP methods :func:`fetch` sends."""

REDACTED_HEADERS: Final = frozenset(
    {"authorization", "cookie", "proxy-authorization", "set-cookie", "set-cookie2", "x-api-key"}
)
"""Response headers whose values a result shows as ``[REDACTED]``."""

_CLIENT_HEADERS: Final = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
"""Request headers the client derives from the URL and body; refused from the caller."""

_ORIGIN_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})
"""Request headers dropped when a redirect leaves the origin."""

_TEXT_TYPES: Final = frozenset(
    {
        "application/ecmascript",
        "application/javascript",
        "application/json",
        "application/toml",
        "application/x-ndjson",
        "application/x-www-form-urlencoded",
        "application/x-yaml",
        "application/xml",
        "application/yaml",
    }
)
"""Media types outside ``text/*`` (and ``+json``, ``+xml``) that are decoded as text."""

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[^\t\x20-\x7e]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_MAX_HEADERS: Final = 50
"""How many distinct response headers a result keeps."""

_MAX_HEADER_VALUE: Final = 1000
"""How many characters of a response header's value a result keeps."""

_SHOWN_URL: Final = 200
"""How many characters of a URL an error message shows."""

_REDIRECT_CODES: Final = frozenset({301, 302, 303, 307, 308})


class InvalidRequest(ToolError, ValueError):
    """The request cannot be sent as given; the message never quotes a header's value.

    Attributes:
        field: What was wrong: ``method``, ``url``, ``headers['X-A']``, ``body``.
        reason: Why, in a few words.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidRequest], tuple[str, str]]:
        return type(self), (self.field, self.reason)


class FetchUsageError(ToolError, UsageError, ValueError):
    """:func:`fetch` was called with options it does not support."""


class RedirectRefused(ToolError, ValueError):
    """A redirect was not followed: its target broke a rule, or the hook refused it."""


class TooManyRedirects(RedirectRefused):
    """More than ``max_redirects`` redirects in a row."""


class FetchTimeout(ToolError, TimeoutError):
    """The exchange took longer than its time limit.

    Attributes:
        url: The URL requested, without credentials.
        seconds: The time limit.
    """

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(f"fetching {url} timed out after {seconds:g} s")
        self.url = url
        self.seconds = seconds

    def __reduce__(self) -> tuple[type[FetchTimeout], tuple[str, float]]:
        return type(self), (self.url, self.seconds)


class FetchFailed(ToolError, ConnectionError):
    """The transport failed (connection refused, reset, bad protocol); the error is ``__cause__``.

    The message names the URL (without credentials) and the httpx error's
    type, never its text.

    Attributes:
        url: The URL requested, without credentials.
    """

    def __init__(self, url: str, error: BaseException) -> None:
        super().__init__(f"fetching {url} failed: {type(error).__name__}")
        self.url = url


def _frozen_headers(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class FetchResult:
    """A response, its body cut at ``max_bytes``, with secrets redacted.

    Attributes:
        url: The final URL (after redirects), without credentials.
        method: The method of the final request.
        status: The status code.
        reason: The reason phrase.
        headers: Response headers, lower-case names; repeated ones joined
            with ``", "``; those in :data:`REDACTED_HEADERS` redacted; at most
            50, each value cut at 1 000 characters.
        content_type: The ``content-type`` header, if any.
        content: The body's first ``max_bytes`` bytes (decoded from any
            ``content-encoding``).
        text: The body decoded (charset from ``content-type``, else UTF-8,
            invalid bytes replaced) when it is textual; ``None`` when binary.
        truncated: Whether the body was longer than ``max_bytes``.
        bytes_total_known: The body's whole size when known: its length
            when read to the end, else the declared ``content-length`` of an
            unencoded body, else ``None``.
        redirects: How many redirects were followed.
        max_bytes: The byte cap the body was read to.
    """

    url: str
    method: str
    status: int
    reason: str
    headers: Mapping[str, str] = attrs.field(converter=_frozen_headers, hash=False)
    content_type: str | None
    content: bytes = attrs.field(repr=False)
    text: str | None = attrs.field(repr=False)
    truncated: bool
    bytes_total_known: int | None
    redirects: int
    max_bytes: int

    def to_text(self) -> str:
        """Render the result for the model: status line, headers, then the body.

        A cut body ends with a marker, e.g. ``[body truncated: 5,000,000
        bytes total, first 1,000,000 shown]``; a binary body is described,
        not shown.
        """
        lines = [f"HTTP {self.status} {self.reason}".rstrip() + f" ({self.method} {self.url})"]
        if self.redirects:
            lines.append(f"[followed {self.redirects} redirect{'s' * (self.redirects != 1)}]")
        lines.extend(f"{name}: {value}" for name, value in self.headers.items())
        lines.append("")
        if self.text is not None:
            lines.append(self.text if self.content else "(empty body)")
        else:
            kind = self.content_type or "unknown type"
            lines.append(f"[binary body: {len(self.content):,} bytes of {kind}, not shown]")
        if self.truncated:
            size = self.bytes_total_known
            total = "total size unknown" if size is None else f"{size:,} bytes total"
            lines.append(f"[body truncated: {total}, first {self.max_bytes:,} bytes shown]")
        return "\n".join(lines)


async def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    client: httpx.AsyncClient,
    max_bytes: int = 1_000_000,
    timeout: float = 30.0,
    allowed_schemes: Collection[str] = ("http", "https"),
    follow_redirects: bool = False,
    max_redirects: int = 5,
    allow_credentials: bool = False,
    check_redirect: Callable[[str], Awaitable[None]] | None = None,
) -> FetchResult:
    """Send one request through ``client`` and return its status, headers and capped body.

    Args:
        url: An absolute URL with a scheme in ``allowed_schemes``.
        method: One of :data:`ALLOWED_METHODS`, any case.
        headers: Request headers; client-owned ones (``host``,
            ``content-length``, ...) are refused. Values are sent, never shown.
        body: The request body; a string is sent as UTF-8.
        client: The runtime's pooled client; :func:`fetch` never makes its own.
        max_bytes: Bytes of the body kept; reading stops past them.
        timeout: Seconds (trio's clock) for the whole exchange, redirects included.
        allowed_schemes: Lower-case URL schemes that may be requested.
        follow_redirects: Whether to follow 301, 302, 303, 307 and 308;
            when ``False`` the redirect response is the result.
        max_redirects: Redirects followed at most.
        allow_credentials: Whether a URL may carry ``user:password@``.
        check_redirect: Awaited with each redirect target before it is
            requested; it raises to refuse it (the runtime passes its policy
            check, so a redirect cannot reach a host the policy would deny).

    Returns:
        The response, its body cut at ``max_bytes``.

    Raises:
        InvalidRequest: If the method, URL, a header or the body is not allowed.
        FetchUsageError: If an option is out of range or of the wrong type.
        RedirectRefused: If a redirect target breaks a rule (scheme,
            credentials, https to http) or ``check_redirect`` refuses it.
        TooManyRedirects: If more than ``max_redirects`` redirects follow in a row.
        FetchTimeout: If the exchange takes longer than ``timeout``, or the
            client's own timeouts pass.
        FetchFailed: If the transport fails.
    """
    schemes = _check_options(client, max_bytes, timeout, allowed_schemes, max_redirects)
    request = _Request(
        method=_method(method),
        url=_url(url, schemes, allow_credentials=allow_credentials, error=_invalid_url),
        headers=_headers(headers),
        content=_body(body),
    )
    hops = _Hops(schemes, allow_credentials, max_redirects if follow_redirects else -1)
    shown = _shown(request.url)
    try:
        with trio.fail_after(timeout):
            return await _exchange(client, request, hops, max_bytes, check_redirect)
    except (trio.TooSlowError, httpx.TimeoutException) as error:
        raise FetchTimeout(shown, timeout) from error
    except httpx.RequestError as error:
        raise FetchFailed(shown, error) from error


@attrs.frozen
class _Request:
    method: str
    url: httpx.URL
    headers: dict[str, str]
    content: bytes | None


@attrs.frozen
class _Hops:
    schemes: frozenset[str]
    allow_credentials: bool
    limit: int
    """Redirects followed at most; -1 when redirects are not followed."""


async def _exchange(
    client: httpx.AsyncClient,
    request: _Request,
    hops: _Hops,
    max_bytes: int,
    check_redirect: Callable[[str], Awaitable[None]] | None,
) -> FetchResult:
    followed = 0
    while True:
        async with client.stream(
            request.method,
            request.url,
            headers=request.headers,
            content=request.content,
            follow_redirects=False,
        ) as response:
            if hops.limit < 0 or not response.has_redirect_location:
                return await _read(response, request, max_bytes, followed)
            location = response.headers["location"]
            status = response.status_code
        followed += 1
        if followed > hops.limit:
            raise TooManyRedirects(f"more than {hops.limit} redirects in a row")
        request = _redirected(request, status, location, hops)
        if check_redirect is not None:
            await check_redirect(str(request.url))


def _redirected(request: _Request, status: int, location: str, hops: _Hops) -> _Request:
    # httpx has parsed ``location`` already: an invalid one failed the request
    # as a RemoteProtocolError.
    target = request.url.join(location)
    target = _url(target, hops.schemes, allow_credentials=hops.allow_credentials, error=_refused)
    if request.url.scheme == "https" and target.scheme == "http":
        raise RedirectRefused(f"redirect from https to http refused: {_shown(target)}")
    method, content, headers = request.method, request.content, dict(request.headers)
    # What browsers (and httpx) do: 303 becomes GET, and so do 301/302 after a POST.
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, content = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    if _origin(target) != _origin(request.url):
        headers = {k: v for k, v in headers.items() if k.lower() not in _ORIGIN_HEADERS}
    return _Request(method=method, url=target, headers=headers, content=content)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


async def _read(
    response: httpx.Response, request: _Request, max_bytes: int, redirects: int
) -> FetchResult:
    body = bytearray()
    truncated = False
    chunks = response.aiter_bytes()
    try:
        async for chunk in chunks:
            room = max_bytes - len(body)
            if len(chunk) > room:
                body += chunk[:room]
                truncated = True
                break
            body += chunk
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]  # an async generator
    content = bytes(body)
    content_type = response.headers.get("content-type")
    return FetchResult(
        url=_shown(request.url),
        method=request.method,
        status=response.status_code,
        reason=response.reason_phrase,
        headers=_response_headers(response.headers),
        content_type=content_type,
        content=content,
        text=_text(content, content_type, response.charset_encoding, final=not truncated),
        truncated=truncated,
        bytes_total_known=_total(response.headers, len(content), truncated=truncated),
        redirects=redirects,
        max_bytes=max_bytes,
    )


def _total(headers: httpx.Headers, read: int, *, truncated: bool) -> int | None:
    if not truncated:
        return read
    declared = headers.get("content-length", "")
    if headers.get("content-encoding", "identity").lower() != "identity":
        return None  # the declared length is of the encoded body
    return int(declared) if declared.isascii() and declared.isdigit() else None


def _response_headers(headers: httpx.Headers) -> dict[str, str]:
    joined: dict[str, list[str]] = {}
    for name, value in headers.multi_items():
        key = name.lower()
        if key in joined:
            joined[key].append(value)
        elif len(joined) < _MAX_HEADERS:
            joined[key] = [value]
    return {
        name: "[REDACTED]" if name in REDACTED_HEADERS else _cap(", ".join(values))
        for name, values in joined.items()
    }


def _cap(value: str) -> str:
    return value if len(value) <= _MAX_HEADER_VALUE else value[:_MAX_HEADER_VALUE] + "..."


def _text(
    content: bytes, content_type: str | None, charset: str | None, *, final: bool
) -> str | None:
    if content_type is None:
        # No declared type: text if it has no NUL and is valid UTF-8.
        if b"\0" in content:
            return None
        try:
            return codecs.getincrementaldecoder("utf-8")().decode(content, final=final)
        except UnicodeDecodeError:
            return None
    mime = content_type.split(";", 1)[0].strip().lower()
    if not (mime.startswith("text/") or mime.endswith(("+json", "+xml")) or mime in _TEXT_TYPES):
        return None
    decoder = codecs.getincrementaldecoder(_encoding(charset))(errors="replace")
    return decoder.decode(content, final=final)


def _encoding(charset: str | None) -> str:
    if charset:
        try:
            b"a".decode(charset, "replace")  # unknown or not a text encoding (rot13)
        except (LookupError, ValueError):
            return "utf-8"
        return charset
    return "utf-8"


def _check_options(
    client: object,
    max_bytes: object,
    timeout: object,
    allowed_schemes: object,
    max_redirects: object,
) -> frozenset[str]:
    if not isinstance(client, httpx.AsyncClient):
        raise FetchUsageError(f"client must be an httpx.AsyncClient, not {type(client).__name__}")
    for name, number in (("max_bytes", max_bytes), ("max_redirects", max_redirects)):
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise FetchUsageError(f"{name} must be an int >= 0, got {number!r}")
    if not (isinstance(timeout, int | float) and not math.isnan(timeout) and timeout > 0):
        raise FetchUsageError(f"timeout must be a number > 0, got {timeout!r}")
    if isinstance(allowed_schemes, str | bytes) or not isinstance(allowed_schemes, Collection):
        raise FetchUsageError("allowed_schemes must be a collection of scheme names")
    schemes = frozenset(allowed_schemes)
    if not all(isinstance(s, str) and s.isascii() and s.islower() for s in schemes):
        raise FetchUsageError(f"allowed_schemes must be lower-case names, got {sorted(schemes)!r}")
    return schemes


def _method(method: object) -> str:
    if not isinstance(method, str):
        raise InvalidRequest("method", f"must be a str, not {type(method).__name__}")
    upper = method.upper()
    if upper not in ALLOWED_METHODS:
        allowed = ", ".join(sorted(ALLOWED_METHODS))
        raise InvalidRequest("method", f"{method[:20]!a} is not one of {allowed}")
    return upper


def _invalid_url(reason: str) -> Exception:
    return InvalidRequest("url", reason)


def _refused(reason: str) -> Exception:
    return RedirectRefused(f"redirect target {reason}")


def _url(
    url: object,
    schemes: frozenset[str],
    *,
    allow_credentials: bool,
    error: Callable[[str], Exception],
) -> httpx.URL:
    if isinstance(url, str):
        bad = _CONTROL.search(url)
        if bad:
            raise error(f"contains a control character at position {bad.start()}")
        try:
            url = httpx.URL(url)
        except httpx.InvalidURL as invalid:
            raise error("is not a valid URL") from invalid
    if not isinstance(url, httpx.URL):
        raise error(f"must be a str, not {type(url).__name__}")
    if url.scheme not in schemes:
        allowed = ", ".join(sorted(schemes)) or "none"
        raise error(f"scheme {url.scheme!r} is not allowed (allowed: {allowed})")
    if not url.host:
        raise error("has no host")
    if url.userinfo and not allow_credentials:
        raise error("carries credentials (user:password@), which are not allowed")
    return url


def _shown(url: httpx.URL) -> str:
    text = str(url.copy_with(userinfo=b""))
    return text if len(text) <= _SHOWN_URL else text[:_SHOWN_URL] + "..."


def _headers(headers: object) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidRequest("headers", f"must be a mapping, not {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise InvalidRequest(f"headers[{str(name)[:50]!a}]", "is not a valid header name")
        field = f"headers[{name!r}]"
        if not isinstance(value, str):
            raise InvalidRequest(field, f"value must be a str, not {type(value).__name__}")
        bad = _BAD_VALUE.search(value)
        if bad:
            what = "CR or LF" if bad.group() in "\r\n" else "a control or non-ASCII character"
            raise InvalidRequest(field, f"value contains {what} at position {bad.start()}")
        if name.lower() in _CLIENT_HEADERS:
            raise InvalidRequest(field, "is set by the client from the URL and body")
        checked[name] = value
    return checked


def _body(body: object) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8", "replace")
    raise InvalidRequest("body", f"must be str, bytes or None, not {type(body).__name__}")
