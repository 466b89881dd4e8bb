"""Provider errors: one exception tree, mapped from httpx and provider bodies here only.

::

    ProviderError                      status, code, request_id, provider, attempts, retryable
    ├── BadRequest                     400, 413, 422 and other client errors
    │   └── ContextLengthExceeded      the prompt (plus max_tokens) is over the window
    ├── AuthenticationError            401
    ├── PermissionDenied               403 (and billing errors)
    ├── NotFound                       404 (unknown model, unknown endpoint)
    ├── RateLimited                    429; ``retry_after`` in seconds when the server said
    │   └── QuotaExceeded              429 no wait can fix: no credit, request over the limit
    ├── ServerError                    500, 502, 504 and other 5xx; 408, 409
    │   └── Overloaded                 503, 529, ``overloaded_error``
    ├── ProviderTimeout                ``kind``: connect, read, write, pool or deadline
    ├── ProviderConnectionError        the connection failed or dropped before any output
    ├── StreamInterrupted              the stream broke after output arrived; ``partial`` has it
    └── ProviderProtocolError          the provider sent something that is not its protocol

Every error carries the HTTP status (or ``None``), the provider's error code,
the request id, the attempts made and whether retrying could help
(``retryable``). Messages come from the provider's body, truncated to
:data:`MAX_MESSAGE` characters; API keys never appear in them: every header
and URL is redacted before it is put anywhere (:func:`redact_url`,
:func:`redact_headers`).
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from actrio.adapters._json import loads_json

if TYPE_CHECKING:
    from collections.abc import Mapping

    from actrio.types import ModelResponse

__all__ = (
    "AuthenticationError",
    "BadRequest",
    "ContextLengthExceeded",
    "NotFound",
    "Overloaded",
    "PermissionDenied",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderProtocolError",
    "ProviderTimeout",
    "QuotaExceeded",
    "RateLimited",
    "ServerError",
    "StreamInterrupted",
    "TimeoutKind",
    "error_from_body",
    "error_from_response",
    "parse_retry_after",
    "redact_headers",
    "redact_url",
)

MAX_MESSAGE: Final = 500
"""Longest provider message kept in an error (an HTML page is cut here)."""

TimeoutKind = Literal["connect", "read", "write", "pool", "deadline"]


class ProviderError(Exception):
    """Base of every error a provider adapter raises.

    Attributes:
        message: What went wrong, from the provider where it said.
        provider: The adapter family (``"openai-chat"``, ``"anthropic"``, ...).
        status: The HTTP status, or ``None`` (no response, or an in-band error).
        code: The provider's error code or type (``"context_length_exceeded"``,
            ``"overloaded_error"``, ...), or ``None``.
        request_id: The provider's request id, or ``None``.
        attempts: HTTP attempts made before giving up.
        retryable: Whether trying again could succeed.
        server_retry: What the server's ``x-should-retry`` header said
            (``True`` / ``False``), or ``None`` when it said nothing. It
            overrides the class and the status in the retry decision.
    """

    #: Whether errors of this class are worth retrying by default.
    default_retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        attempts: int = 1,
        retryable: bool | None = None,
        server_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.code = code
        self.request_id = request_id
        self.attempts = attempts
        self.retryable = self.default_retryable if retryable is None else retryable
        self.server_retry = server_retry

    def __str__(self) -> str:
        where = [
            f"{name}={value}"
            for name, value in (
                ("provider", self.provider),
                ("status", self.status),
                ("code", self.code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        if self.attempts != 1:
            where.append(f"attempts={self.attempts}")
        return f"{self.message} ({', '.join(where)})" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class BadRequest(ProviderError):
    """The provider refused the request as malformed or too large (400, 413, 422)."""


class ContextLengthExceeded(BadRequest):
    """The prompt, or the prompt plus ``max_tokens``, is over the model's context window."""


class AuthenticationError(ProviderError):
    """The API key is missing, wrong or revoked (401)."""


class PermissionDenied(ProviderError):
    """The key may not use this model or feature, or the account cannot pay (403)."""


class NotFound(ProviderError):
    """The model or endpoint does not exist (404)."""


class RateLimited(ProviderError):
    """Too many requests or tokens (429).

    Attributes:
        retry_after: Seconds the provider asked to wait, if it said.
    """

    default_retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class QuotaExceeded(RateLimited):
    """A 429 that waiting cannot fix: no credit left, or one request over the token limit."""

    default_retryable = False


class ServerError(ProviderError):
    """The provider failed (5xx), timed out on its side (408) or hit a conflict (409)."""

    default_retryable = True


class Overloaded(ServerError):
    """The provider is overloaded (529, 503, ``overloaded_error``)."""


class ProviderTimeout(ProviderError):
    """A timeout: connecting, reading, writing, waiting for the pool, or the call's deadline.

    Attributes:
        kind: ``connect``, ``read``, ``write``, ``pool`` or ``deadline``.
    """

    default_retryable = True

    def __init__(self, message: str, *, kind: TimeoutKind, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.kind = kind
        if kind == "deadline":
            self.retryable = False


class ProviderConnectionError(ProviderError):
    """The connection failed, or the response ended before any output arrived."""

    default_retryable = True


class StreamInterrupted(ProviderError):
    """A stream broke after output had been delivered; it is never replayed.

    Attributes:
        partial: What arrived, as a response: text and reasoning so far, tool
            calls with ``complete=False`` unless they had finished.
        cause: The error that broke it (a timeout, an in-band error, a
            disconnect), also set as ``__cause__``.
    """

    def __init__(
        self, message: str, *, partial: ModelResponse, cause: BaseException | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.partial = partial
        self.cause = cause


class ProviderProtocolError(ProviderError):
    """The provider sent something its protocol does not allow (bad JSON, bad event order)."""


# ---------------------------------------------------------------- redaction

_SECRET_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
    }
)
_SECRET_PARAMS: Final = frozenset({"key", "api_key", "apikey", "sig", "signature", "token"})
REDACTED: Final = "REDACTED"


def _secret_name(name: str) -> bool:
    low = name.lower()
    return low in _SECRET_HEADERS or any(w in low for w in ("token", "secret", "key", "auth"))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with every credential value replaced by ``REDACTED``."""
    return {k: (REDACTED if _secret_name(k) else v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    """``url`` with user info and credential-like query values replaced (SE-04).

    ``https://u:p@proxy/v1?sig=abc&q=1`` becomes
    ``https://REDACTED:REDACTED@proxy/v1?sig=REDACTED&q=1``.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        masked = f"{REDACTED}:{REDACTED}" if ":" in userinfo else REDACTED
        netloc = f"{masked}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [
                (k, REDACTED if k.lower() in _SECRET_PARAMS or _secret_name(k) else v)
                for k, v in pairs
            ],
            safe="",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# ---------------------------------------------------------------- retry-after

_MAX_HEADER_SECONDS: Final = 365 * 24 * 3600.0
_TRY_AGAIN: Final = re.compile(r"try again in (\d+(?:\.\d+)?)(ms|s)\b", re.IGNORECASE)
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)s")


def _positive(value: float) -> float | None:
    if math.isfinite(value) and 0 < value <= _MAX_HEADER_SECONDS:
        return value
    return None


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a response asks to wait, or ``None`` if it does not say usably.

    Order (as the OpenAI SDK): ``retry-after-ms`` (milliseconds), then
    ``retry-after`` as seconds (integer or float), then as an HTTP date
    measured from ``now`` (wall clock). Zero, negative, non-finite, absurdly
    large or unparsable values, and dates in the past, give ``None``: the
    caller falls back to its own backoff (P-02). ``headers`` is looked up
    case-insensitively.
    """
    low = {k.lower(): v for k, v in headers.items()}
    raw_ms = low.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = _positive(float(raw_ms) / 1000)
        except ValueError:
            value = None
        if value is not None:
            return value
    raw = low.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if len(raw) <= 20:
        try:
            return _positive(float(raw))
        except ValueError:
            pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return _positive(when.timestamp() - current)


def _retry_after_from_body(message: str, details: Any) -> float | None:
    # Gemini: details[] has a google.rpc.RetryInfo with retryDelay "34.4s".
    if isinstance(details, list):
        for item in details:
            if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
                delay = item.get("retryDelay")
                if isinstance(delay, str) and (m := _DURATION.fullmatch(delay)):
                    return _positive(float(m.group(1)))
    # OpenAI: "Please try again in 20s" / "in 644ms".
    if m := _TRY_AGAIN.search(message):
        value = float(m.group(1))
        return _positive(value / 1000 if m.group(2).lower() == "ms" else value)
    return None


# ---------------------------------------------------------------- mapping

_CONTEXT_PATTERNS: Final = re.compile(
    r"context[_ ]length|maximum context|context window|prompt is too long|"
    r"exceed(?:s|ed)? (?:the )?context|input token count.*exceeds|too many tokens in",
    re.IGNORECASE,
)
_QUOTA_CODES: Final = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
_BY_STATUS: Final[Mapping[int, type[ProviderError]]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    408: ServerError,
    409: ServerError,
    413: BadRequest,
    422: BadRequest,
    429: RateLimited,
    503: Overloaded,
    529: Overloaded,
}
_BY_TYPE: Final[Mapping[str, type[ProviderError]]] = {
    # Anthropic error types, also seen in-band.
    "invalid_request_error": BadRequest,
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDenied,
    "billing_error": PermissionDenied,
    "not_found_error": NotFound,
    "request_too_large": BadRequest,
    "rate_limit_error": RateLimited,
    "api_error": ServerError,
    "timeout_error": ServerError,
    "overloaded_error": Overloaded,
    # Google RPC statuses.
    "INVALID_ARGUMENT": BadRequest,
    "FAILED_PRECONDITION": BadRequest,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": PermissionDenied,
    "NOT_FOUND": NotFound,
    "RESOURCE_EXHAUSTED": RateLimited,
    "INTERNAL": ServerError,
    "UNAVAILABLE": Overloaded,
    "DEADLINE_EXCEEDED": ServerError,
    # OpenAI in-band codes.
    "server_error": ServerError,
    "rate_limit_exceeded": RateLimited,
    "context_length_exceeded": ContextLengthExceeded,
    "insufficient_quota": QuotaExceeded,
}


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _fields(body: Any) -> tuple[str | None, str | None, str | None, Any, str | None]:
    """(message, code, type, details, request_id) from any provider's error envelope."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # Gemini streams wrap errors in a list
    if not isinstance(body, dict):
        return None, None, None, None, None
    request_id = body.get("request_id") if isinstance(body.get("request_id"), str) else None
    error = body.get("error")
    if isinstance(error, str):
        return error, None, None, None, request_id
    if not isinstance(error, dict):
        return None, None, None, None, request_id
    message = error.get("message")
    code = error.get("code")
    kind = error.get("type") or error.get("status")
    # OpenRouter: integer codes and the upstream's own body in metadata.raw.
    code_text = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
    return (
        message if isinstance(message, str) else None,
        code_text,
        kind if isinstance(kind, str) else None,
        error.get("details"),
        request_id,
    )


def _classify(  # noqa: PLR0911 - one return per rung of evidence
    code: str | None, kind: str | None, message: str | None, status: int | None, *, has_text: bool
) -> type[ProviderError]:
    """The error class, from the most specific evidence to the least."""
    if code == "context_length_exceeded" or (
        (status in (400, 413) or kind in ("invalid_request_error", "INVALID_ARGUMENT", None))
        and message is not None
        and _CONTEXT_PATTERNS.search(message)
    ):
        return ContextLengthExceeded
    too_large = (
        (status == 429 or kind in ("tokens", "requests"))
        and message is not None
        and "request too large" in message.lower()
    )
    if code in _QUOTA_CODES or kind in _QUOTA_CODES or too_large:
        return QuotaExceeded
    # A specific code beats the status; the status beats a generic type
    # (OpenAI sends "invalid_request_error" with its 404s).
    if code is not None and code in _BY_TYPE:
        return _BY_TYPE[code]
    if status is not None and status in _BY_STATUS:
        return _BY_STATUS[status]
    if kind is not None and kind in _BY_TYPE:
        return _BY_TYPE[kind]
    if status is not None:
        if status >= 500:
            return ServerError
        if status >= 400:
            return BadRequest
    if message is None and not has_text:
        return ProviderProtocolError
    return ProviderError


def error_from_body(
    body: Any,
    *,
    provider: str | None,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    fallback: str | None = None,
) -> ProviderError:
    """The typed error for a provider's error body (HTTP error or in-band event).

    The class comes from, in order: a context-overflow code or message; the
    provider's error type or code; the HTTP status; else ``ProviderError``
    (``ProviderProtocolError`` when nothing in the body is an error at all).
    ``x-should-retry`` overrides whether it is retryable.

    Args:
        body: The parsed JSON body or event payload (anything).
        provider: The adapter family, for the message.
        status: The HTTP status, or ``None`` for an in-band error.
        headers: Response headers (request id, retry-after, x-should-retry).
        fallback: Text to use when the body has no message (a raw body).
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    message, code, kind, details, request_id = _fields(body)
    request_id = request_id or headers.get("x-request-id") or headers.get("request-id")
    text = _clip(message or fallback or (f"HTTP {status}" if status else ""))
    if not text:
        text = "the provider reported an error without a message"
    # A numeric `code` is an HTTP status echo (OpenRouter, Groq), not a code name.
    name = code if code is not None and not code.isdigit() else kind
    inline_status = None
    if code is not None and code.isdigit():
        inline_status = int(code)
    elif isinstance(body, dict) and isinstance(body.get("error"), dict):
        raw_status = body["error"].get("status_code")
        inline_status = raw_status if isinstance(raw_status, int) else None
    effective = status if status is not None else inline_status
    cls = _classify(code, kind, message, effective, has_text=fallback is not None)
    kw: dict[str, Any] = {
        "provider": provider,
        "status": status,
        "code": name,
        "request_id": request_id,
    }
    should = headers.get("x-should-retry")
    if should in ("true", "false"):
        kw["retryable"] = kw["server_retry"] = should == "true"
    if issubclass(cls, RateLimited):
        kw["retry_after"] = parse_retry_after(headers) or _retry_after_from_body(
            message or "", details
        )
    return cls(text, **kw)


def error_from_response(
    status: int, headers: Mapping[str, str], content: bytes, *, provider: str | None
) -> ProviderError:
    """The typed error for an HTTP error response (status >= 400).

    A JSON body is read for the provider's envelope; anything else (an HTML
    page from a proxy, plain text) becomes the message, whitespace-collapsed
    and cut to :data:`MAX_MESSAGE` characters.
    """
    text = content.decode("utf-8", errors="replace")
    try:
        body: Any = loads_json(text)
    except ValueError:
        body = None
    fallback = _clip(text) if text.strip() else f"HTTP {status}"
    if body is not None and _fields(body)[0] is None:
        fallback = _clip(text)
    return error_from_body(
        body, provider=provider, status=status, headers=headers, fallback=fallback
    )
