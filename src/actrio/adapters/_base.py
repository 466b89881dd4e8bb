"""The HTTP adapter core every provider shares: sending, retries, streaming, errors.

A provider adapter subclasses :class:`HTTPAdapter` and supplies five things:
the endpoint URL, its auth headers, the request body for a
:class:`~actrio.types.ModelRequest`, a parser for a non-streaming body, and
a :class:`StreamParser` for its event stream. Everything else is here, once:

- one pooled ``httpx.AsyncClient`` (the caller's, or one the adapter owns
  and closes in :meth:`HTTPAdapter.aclose`);
- retries through :mod:`actrio.adapters.retry`, with the same
  ``x-actrio-request-id`` on every attempt and ``x-actrio-retry-count``
  on every retry (1, 2, ...; the first attempt goes without it, which saves
  every call a header) (P-01, P-15);
- errors mapped by :mod:`actrio.adapters.errors` only;
- streams: bytes go straight into the SSE decoder (no line iterator), the
  call is retried only until the first event is delivered, after which a
  failure is a :class:`~actrio.adapters.errors.StreamInterrupted` carrying
  what arrived; a stream that ends without its terminal event is never a
  success; the response is always closed, shielded, within a bounded grace.
"""

from __future__ import annotations

import abc
import json
import os
from collections import deque
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, TypeVar

import attrs
import httpx
import trio

from actrio._ids import ProcessIds
from actrio.adapters._json import encode_json, loads_json
from actrio.adapters.errors import (
    AuthenticationError,
    ProviderConnectionError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeout,
    StreamInterrupted,
    error_from_response,
    redact_url,
)
from actrio.adapters.retry import RetryPolicy, retrying
from actrio.adapters.sse import SSEDecoder
from actrio.types import Finish, ModelRequest, ModelResponse, StreamEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
    from types import TracebackType
    from typing import Self

    from actrio.adapters._accumulate import MessageBuilder
    from actrio.adapters.sse import ServerSentEvent

__all__ = ("DEFAULT_TIMEOUT", "HTTPAdapter", "ModelStream", "StreamParser")

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=30.0)
"""Per-operation timeouts; ``read`` is also the longest silence a stream may have."""

T = TypeVar("T")

CLOSE_GRACE: Final = 2.0
"""Seconds a response gets to close (shielded) when the call ends or is cancelled."""

MAX_ERROR_BODY: Final = 64 * 1024
"""Bytes of an error body read before it is cut off."""

LONG_REQUEST_TOKENS: Final = 21_333
"""Above this ``max_tokens`` a non-streaming call is made as a stream (P-17).

The Anthropic SDK refuses non-streaming calls expected to take over ten
minutes (at 128,000 output tokens an hour, that is 21,333 tokens); proxies
drop idle connections long before such an answer arrives.
"""


class StreamParser(Protocol):
    """What a provider's stream parser offers the core.

    A parser may also have ``_feed_data(data, event_type)``, its :meth:`feed`
    of an event given by those two fields: the core then hands it each read
    that is one whole event (most are) without building a
    :class:`~actrio.adapters.sse.ServerSentEvent` for it. The four adapters'
    parsers have it; a parser without it gets every event through ``feed``.

    Attributes:
        builder: The message being accumulated.
        done: Whether the provider's terminal event has arrived (a stream
            that reaches EOF without it is truncated).
    """

    builder: MessageBuilder
    done: bool

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        """Take one SSE event; return the neutral events it produces.

        Raises:
            ProviderError: For an in-band error event (typed as for an HTTP error).
            ProviderProtocolError: For a payload that breaks the protocol.
        """
        ...

    def response(self) -> ModelResponse:
        """The whole response, once :attr:`done`."""
        ...

    def partial(self) -> ModelResponse:
        """What arrived so far, with unfinished tool calls marked incomplete."""
        ...


class _Secret:
    """A credential that never shows in ``repr``, ``str`` or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


def _timeout_kind(exc: httpx.TimeoutException) -> Any:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.WriteTimeout):
        return "write"
    if isinstance(exc, httpx.PoolTimeout):
        return "pool"
    return "read"


def _transport_error(exc: httpx.TransportError, provider: str) -> ProviderError:
    """The typed error for an httpx transport failure; the httpx error is not chained.

    (It holds the request, and with it the credential headers.)
    """
    detail = type(exc).__name__
    text = str(exc)
    if text:
        detail = f"{detail}: {text[:200]}"
    if isinstance(exc, httpx.TimeoutException):
        kind = _timeout_kind(exc)
        return ProviderTimeout(f"{kind} timeout ({detail})", kind=kind, provider=provider)
    return ProviderConnectionError(f"connection failed ({detail})", provider=provider)


_NO_DEADLINE: Final[AbstractContextManager[object]] = nullcontext()  # reusable: it holds nothing


def _deadline_scope(deadline_at: float | None) -> AbstractContextManager[object]:
    """``trio.fail_at(deadline_at)``, or nothing when there is no deadline."""
    return _NO_DEADLINE if deadline_at is None else trio.fail_at(deadline_at)


_call_ids = ProcessIds("actrio")  # for x-actrio-request-id


_set_request_id = ModelResponse.__dict__["request_id"].__set__
_set_attempts = ModelResponse.__dict__["attempts"].__set__
_set_raw = ModelResponse.__dict__["raw"].__set__


def _stamped(
    response: ModelResponse, request_id: str | None, attempts: int, raw: Any
) -> ModelResponse:
    """Set the call's metadata on a response just parsed, which nobody else holds.

    ``attrs.evolve`` would copy the whole value (and run its validators)
    again on every call; the values set here are plain metadata.
    """
    _set_request_id(response, request_id)
    _set_attempts(response, attempts)
    _set_raw(response, raw)
    return response


def _decoding_error(exc: httpx.DecodingError, provider: str) -> ProviderError:
    """A body whose content-encoding cannot be decoded (not retried: it would fail again)."""
    return ProviderProtocolError(
        f"the response body could not be decoded ({str(exc)[:200]})", provider=provider
    )


async def _close(response: httpx.Response) -> None:
    with trio.move_on_after(CLOSE_GRACE, shield=True):
        await response.aclose()


class HTTPAdapter(abc.ABC):
    """Base of the provider adapters: one model behind one HTTP API.

    Args:
        model: The provider's model name.
        base_url: The API root; each vendor's own convention (OpenAI-style
            APIs end in ``/v1``; Anthropic's and Gemini's are the host root).
        api_key: The key; when ``None`` it is read from the provider's usual
            environment variable at call time.
        http_client: A shared ``httpx.AsyncClient``; when ``None`` the
            adapter creates one on first use and closes it in :meth:`aclose`.
        headers: Extra request headers (a gateway's, a compatible server's).
        retry: The :class:`~actrio.adapters.retry.RetryPolicy`.
        timeout: httpx timeouts for a client the adapter creates itself.
        keep_raw: Keep the provider's body (or stream payloads) in
            :attr:`ModelResponse.raw`.
        limiter: A ``trio.CapacityLimiter`` bounding concurrent calls
            (share one across adapters for a global limit).
    """

    provider: ClassVar[str]
    default_base_url: ClassVar[str]
    api_key_env: ClassVar[tuple[str, ...]] = ()
    #: Response headers that carry the provider's request id, the usual one first.
    request_id_headers: ClassVar[tuple[str, ...]] = ("x-request-id", "request-id")
    #: Whether calls need a key (compatible local servers do not).
    needs_key: bool = True

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        keep_raw: bool = False,
        limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(f"{type(self).__name__}: model must be a non-empty str")
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"{type(self).__name__}: base_url must start with http:// or https://, "
                f"got {redact_url(base_url)!r}"
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"{type(self).__name__}: retry must be a RetryPolicy")
        self.model = model
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._key = _Secret(api_key) if api_key is not None else None
        self._client = http_client
        self._owns_client = http_client is None
        self.headers: dict[str, str] = dict(headers or {})
        self.retry = retry or RetryPolicy()
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.keep_raw = keep_raw
        self.limiter = limiter
        self.long_request_tokens = LONG_REQUEST_TOKENS

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, base_url={redact_url(self.base_url)!r})"
        )

    # ------------------------------------------------------------ provider hooks

    @abc.abstractmethod
    def _url(self, request: ModelRequest, *, stream: bool) -> str:
        """The endpoint for this call."""

    @abc.abstractmethod
    def _auth_headers(self, key: str | None) -> dict[str, str]:
        """Headers carrying the key (and any fixed provider headers)."""

    @abc.abstractmethod
    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body for ``request``."""

    @abc.abstractmethod
    def _parse(self, body: Any) -> ModelResponse:
        """A non-streaming response body as a :class:`ModelResponse`."""

    @abc.abstractmethod
    def _parser(self, request: ModelRequest) -> StreamParser:
        """A fresh parser for one stream."""

    def _effective_max_tokens(self, request: ModelRequest) -> int | None:
        """The output limit the call will really ask for (adapters that fill one in override)."""
        return request.max_tokens

    # ------------------------------------------------------------ client

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The client calls go through (created on first use if none was given)."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _api_key(self) -> str | None:
        if self._key is not None:
            return self._key.get()
        for name in self.api_key_env:
            value = os.environ.get(name)
            if value:
                return value
        if self.needs_key:
            names = " or ".join(self.api_key_env) or "an API key"
            raise AuthenticationError(
                f"no API key for {self.provider}: pass api_key= or set {names}",
                provider=self.provider,
            )
        return None

    # ------------------------------------------------------------ sending

    def _encode(self, request: ModelRequest, *, stream: bool) -> bytes:
        if not isinstance(request, ModelRequest):
            raise TypeError(
                f"{type(self).__name__}: expected a ModelRequest, got {type(request).__name__}"
            )
        body = self._body(request, stream=stream)
        return encode_json(body).encode()

    async def _send(
        self, request: ModelRequest, content: bytes, *, stream: bool, attempt: int, call_id: str
    ) -> httpx.Response:
        """One attempt: send, and map an error status to its typed error."""
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            **self.headers,
            **self._auth_headers(self._api_key()),
            "x-actrio-request-id": call_id,
        }
        if attempt:
            headers["x-actrio-retry-count"] = str(attempt)
        client = self.http_client
        http_request = client.build_request(
            "POST", self._url(request, stream=stream), content=content, headers=headers
        )
        try:
            response = await client.send(http_request, stream=True)
        except httpx.TransportError as exc:
            raise _transport_error(exc, self.provider) from None
        if response.status_code >= 400:
            try:
                body = await self._read_capped(response)
            finally:
                await _close(response)
            raise self._scrub(
                error_from_response(
                    response.status_code, response.headers, body, provider=self.provider
                )
            )
        return response

    def _scrub(self, error: ProviderError) -> ProviderError:
        """``error`` with the API key removed from its text (a server may echo it, SE-03)."""
        try:
            key = self._api_key()
        except AuthenticationError:
            key = None
        if key and key in error.message:
            error.message = error.message.replace(key, "REDACTED")
            error.args = (error.message,)
        return error

    @staticmethod
    async def _read_capped(response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass  # the status already says what happened; keep what arrived
        return b"".join(chunks)[:MAX_ERROR_BODY]

    def _deadline_at(self) -> float | None:
        deadline = self.retry.deadline
        return None if deadline is None else trio.current_time() + deadline

    def _request_id(self, response: httpx.Response) -> str | None:
        headers = response.headers
        for name in self.request_id_headers:
            value: str | None = headers.get(name)
            if value:
                return value
        return None

    # ------------------------------------------------------------ complete

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Send ``request`` and return the whole answer.

        Calls with a ``max_tokens`` above :attr:`long_request_tokens` are
        made as a stream and accumulated (a long non-streaming call would be
        dropped by idle-connection timeouts on the way, P-17).

        Raises:
            ProviderError: A typed subclass; see :mod:`actrio.adapters.errors`.
        """
        if not isinstance(request, ModelRequest):
            raise TypeError(
                f"{type(self).__name__}: expected a ModelRequest, got {type(request).__name__}"
            )
        max_tokens = self._effective_max_tokens(request)
        if max_tokens is not None and max_tokens > self.long_request_tokens:
            async with self.stream(request) as events:
                async for _ in events:
                    pass
            assert events.response is not None
            return events.response
        content = self._encode(request, stream=False)
        if self.limiter is not None:
            async with self.limiter:
                return await self._complete(request, content)
        return await self._complete(request, content)

    async def _complete(self, request: ModelRequest, content: bytes) -> ModelResponse:
        deadline_at = self._deadline_at()
        call_id = _call_ids.next()
        made = [1]  # the attempt under way, for the deadline's error
        try:
            with _deadline_scope(deadline_at):
                # The first attempt directly, not through ``once`` and
                # ``_retrying``: every await of a call resumes each frame
                # below it, once per socket wait.
                try:
                    return await self._complete_once(request, content, 1, call_id)
                except ProviderError as exc:
                    delay = self._delay_after_first(exc, deadline_at)

                async def once(attempt: int) -> ModelResponse:
                    made[0] = attempt
                    return await self._complete_once(request, content, attempt, call_id)

                return await self._retrying(once, deadline_at, first_delay=delay)
        except trio.TooSlowError:
            raise ProviderTimeout(
                f"the call's deadline of {self.retry.deadline} s passed",
                kind="deadline",
                provider=self.provider,
                attempts=made[0],
            ) from None

    def _delay_after_first(self, exc: ProviderError, deadline_at: float | None) -> float:
        """The wait before retrying the first attempt's ``exc``; re-raises it if not retried."""
        exc.attempts = 1
        policy = self.retry
        if policy.max_retries == 0 or not policy.should_retry(exc):
            raise exc
        delay = policy.delay(exc, 0)
        if deadline_at is not None and trio.current_time() + delay >= deadline_at:
            raise exc
        return delay

    async def _retrying(
        self,
        once: Callable[[int], Awaitable[T]],
        deadline_at: float | None,
        *,
        first_delay: float | None = None,
    ) -> T:
        """Run ``once(attempt)`` under the retry policy.

        The first attempt runs directly (most calls succeed, and tenacity's
        bookkeeping costs tens of microseconds); only after a retryable error
        does the tenacity loop take over, starting with the backoff.
        ``first_delay`` says the caller made the first attempt already, and
        how long to wait before the second.
        """
        if first_delay is None:
            try:
                return await once(1)
            except ProviderError as exc:
                delay = self._delay_after_first(exc, deadline_at)
        else:
            delay = first_delay
        await trio.sleep(delay)
        attempts = 1
        async for attempt in retrying(self.retry, deadline_at=deadline_at, done=1):
            with attempt:
                attempts += 1
                try:
                    return await once(attempts)
                except ProviderError as exc:
                    exc.attempts = attempts
                    raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _complete_once(
        self, request: ModelRequest, content: bytes, attempt: int, call_id: str
    ) -> ModelResponse:
        response = await self._send(
            request, content, stream=False, attempt=attempt - 1, call_id=call_id
        )
        try:
            try:
                data = await response.aread()
            except httpx.TransportError as exc:
                raise _transport_error(exc, self.provider) from None
            except httpx.DecodingError as exc:
                raise _decoding_error(exc, self.provider) from None
        finally:
            if not response.is_closed:
                await _close(response)
        request_id = self._request_id(response)
        try:
            body = loads_json(data)
        except ValueError as exc:
            raise ProviderProtocolError(
                f"the response body is not JSON ({exc.msg} at {exc.pos})"
                if isinstance(exc, json.JSONDecodeError)
                else "the response body is not JSON",
                provider=self.provider,
                status=response.status_code,
                request_id=request_id,
            ) from None
        try:
            result = self._parse(body)
        except ProviderError as exc:
            exc.request_id = exc.request_id or request_id
            exc.status = exc.status or response.status_code
            raise
        return _stamped(
            result, request_id or result.request_id, attempt, body if self.keep_raw else None
        )

    # ------------------------------------------------------------ stream

    def stream(self, request: ModelRequest) -> ModelStream:
        """Stream the answer: ``async with adapter.stream(request) as events: ...``.

        The ``async with`` sends the request (retrying until the first event
        arrives) and always closes the connection on the way out.
        """
        return ModelStream(self, request, self._encode(request, stream=True))


class ModelStream:
    """One streaming call: an async context manager and an async iterator of stream events.

    The last event is :class:`~actrio.types.Finish` with the whole response,
    also kept in :attr:`response`.

    Attributes:
        response: The final response, once the stream finished.
        attempts: HTTP attempts made.
    """

    def __init__(self, adapter: HTTPAdapter, request: ModelRequest, content: bytes) -> None:
        self._adapter = adapter
        self._request = request
        self._content = content
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._decoder = SSEDecoder()
        self._parser: StreamParser | None = None
        self._feed_data: Callable[[str, str], list[StreamEvent]] | None = None
        self._pending: deque[StreamEvent] = deque()
        self._delivered = False
        self._deferred: ProviderError | None = None
        self._finished = False
        self._entered = False
        self._raw: list[str] | None = [] if adapter.keep_raw else None
        self._deadline_at: float | None = None
        self._request_id: str | None = None
        self._borrowed = False
        self.response: ModelResponse | None = None
        self.attempts = 0

    # ------------------------------------------------------------ context

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("a ModelStream can be entered only once")
        self._entered = True
        adapter = self._adapter
        if adapter.limiter is not None:
            await adapter.limiter.acquire_on_behalf_of(self)
            self._borrowed = True
        try:
            await self._open()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (idempotent; shielded, within a bounded grace)."""
        await self.aclose_response()
        if self._borrowed:
            self._borrowed = False
            assert self._adapter.limiter is not None
            self._adapter.limiter.release_on_behalf_of(self)

    # ------------------------------------------------------------ opening

    async def _open(self) -> None:
        adapter = self._adapter
        self._deadline_at = adapter._deadline_at()
        call_id = _call_ids.next()

        async def once(attempt: int) -> None:
            self.attempts = attempt
            try:
                await self._attempt(call_id)
            except BaseException:
                await self.aclose_response()
                raise

        try:
            await adapter._retrying(once, self._deadline_at)
        except ProviderError as exc:
            if self._parser is not None and self._parser.builder.emitted:
                # The last attempt's answer had begun: its output and the
                # error came in the same read. Nothing was delivered, so a
                # retryable error was retried; the error that ends the
                # stream carries that output, which is not lost (P-07).
                raise await self._interrupted(exc) from exc
            raise

    async def aclose_response(self) -> None:
        """Close this attempt's response (before a retry)."""
        response, self._response = self._response, None
        chunks, self._chunks = self._chunks, None
        if chunks is not None:
            with trio.move_on_after(CLOSE_GRACE, shield=True):
                await chunks.aclose()  # type: ignore[attr-defined]
        if response is not None and not response.is_closed:  # httpx closes it at EOF
            await _close(response)

    async def _attempt(self, call_id: str) -> None:
        adapter = self._adapter
        self._decoder = SSEDecoder()
        self._parser = adapter._parser(self._request)
        # The parser's feed of an event given by its type and data, if it has one.
        self._feed_data = getattr(self._parser, "_feed_data", None)
        if self._raw is not None:
            self._raw.clear()
        try:
            with self._fail_at():
                response = await adapter._send(
                    self._request,
                    self._content,
                    stream=True,
                    attempt=self.attempts - 1,
                    call_id=call_id,
                )
                self._response = response
                self._request_id = adapter._request_id(response)
                content_type = response.headers.get("content-type", "")
                if "text/event-stream" not in content_type:
                    await self._not_a_stream(response, content_type)
        except trio.TooSlowError:
            raise self._deadline_error() from None
        # Bytes straight off the connection, unless a content-encoding needs
        # decoding or the body was read already (a transport's in-memory body).
        raw = "content-encoding" not in response.headers and not response.is_stream_consumed
        self._chunks = response.aiter_raw() if raw else response.aiter_bytes()
        # Read until the first output (text, reasoning or a tool call; a usage
        # update is not output): before it, a failure is safe to retry (P-09).
        self._pending = deque(await self._pull())
        while not self._finished and not self._parser.builder.emitted:
            self._pending.extend(await self._pull())

    async def _not_a_stream(self, response: httpx.Response, content_type: str) -> None:
        """A 200 that is not an event stream: an error envelope, or a protocol error."""
        adapter = self._adapter
        body = await adapter._read_capped(response)
        if b'"error"' in body:  # an error envelope sent with status 200
            raise error_from_response(200, response.headers, body, provider=adapter.provider)
        raise ProviderProtocolError(
            f"expected an event stream, got content-type {content_type or 'none'!r}",
            provider=adapter.provider,
            status=response.status_code,
            request_id=self._request_id,
        )

    # ------------------------------------------------------------ reading

    def _fail_at(self) -> AbstractContextManager[object]:
        return _deadline_scope(self._deadline_at)

    def _deadline_error(self) -> ProviderTimeout:
        return ProviderTimeout(
            f"the call's deadline of {self._adapter.retry.deadline} s passed",
            kind="deadline",
            provider=self._adapter.provider,
            attempts=self.attempts,
            request_id=self._request_id,
        )

    async def _pull(self) -> list[StreamEvent]:
        """Read until at least one event is ready (or the stream ends)."""
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        chunks = self._chunks
        assert chunks is not None
        while True:
            try:
                if self._deadline_at is None:
                    chunk = await chunks.__anext__()
                else:
                    with trio.fail_at(self._deadline_at):
                        chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return self._at_eof()
            except (trio.TooSlowError, httpx.TransportError, httpx.DecodingError) as exc:
                raise self._read_error(exc) from None
            if out := self._events(chunk):
                return out

    def _read_error(self, exc: Exception) -> ProviderError:
        """The typed error for a failed read of the body."""
        if isinstance(exc, trio.TooSlowError):
            return self._deadline_error()
        if isinstance(exc, httpx.TransportError):
            return _transport_error(exc, self._adapter.provider)
        assert isinstance(exc, httpx.DecodingError)
        return _decoding_error(exc, self._adapter.provider)

    def _events(self, chunk: bytes) -> list[StreamEvent]:
        """The stream events one read completes (often none, or one)."""
        parser = self._parser
        assert parser is not None
        raw = self._raw
        feed_data = self._feed_data
        if (
            feed_data is not None
            and type(chunk) is bytes
            and (lone := self._decoder._lone(chunk)) is not None
        ):
            # A read of one whole event (most are): its type and data go to
            # the parser without a ServerSentEvent built for them.
            if raw is not None:
                raw.append(lone[1])
            try:
                return feed_data(lone[1], lone[0])
            except ProviderError as exc:
                raise self._adapter._scrub(exc) from None
        out: list[StreamEvent] = []
        for event in self._decoder.feed(chunk):
            if raw is not None:
                raw.append(event.data)
            try:
                out += parser.feed(event)
            except ProviderError as exc:
                error = self._adapter._scrub(exc)
                if self._delivered and out:
                    # Deliver what came before the error first (P-07).
                    self._deferred = error
                    return out
                raise error from None
        return out

    def _at_eof(self) -> list[StreamEvent]:
        assert self._parser is not None
        self._chunks = None  # exhausted: there is nothing left to close
        self._decoder.end()
        if not self._parser.done:
            if not self._parser.builder.emitted:
                raise ProviderConnectionError(
                    "the stream ended before any output",
                    provider=self._adapter.provider,
                    request_id=self._request_id,
                )
            raise ProviderProtocolError(
                "the stream ended without its terminal event (truncated)",
                provider=self._adapter.provider,
                request_id=self._request_id,
            )
        response = attrs.evolve(
            self._parser.response(),
            request_id=self._request_id,
            attempts=self.attempts,
            raw=tuple(self._raw) if self._raw is not None else None,
        )
        self.response = response
        self._finished = True
        return [Finish(response=response)]

    def partial(self) -> ModelResponse | None:
        """What has arrived so far, or ``None`` before the request was sent."""
        if self._parser is None:
            return None
        return attrs.evolve(
            self._parser.partial(), request_id=self._request_id, attempts=self.attempts
        )

    # ------------------------------------------------------------ iteration

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StreamEvent:
        pending = self._pending
        if pending:
            await trio.lowlevel.checkpoint_if_cancelled()
            self._delivered = True
            return pending.popleft()
        if not self._entered:
            raise RuntimeError("use the stream inside `async with adapter.stream(request)`")
        chunks = self._chunks
        if self._finished or chunks is None:
            raise StopAsyncIteration
        try:
            if self._deadline_at is not None or self._deferred is not None:
                events = await self._pull()
            else:
                # _pull's loop, inlined: every await of the body resumes each
                # frame between the caller and httpx once per socket wait.
                while True:
                    try:
                        chunk = await chunks.__anext__()
                    except StopAsyncIteration:
                        events = self._at_eof()
                        break
                    except (httpx.TransportError, httpx.DecodingError) as exc:
                        raise self._read_error(exc) from None
                    if events := self._events(chunk):
                        break
        except ProviderError as exc:
            raise await self._interrupted(exc) from exc
        self._delivered = True
        if len(events) > 1:
            pending.extend(events[1:])
        return events[0]

    async def _interrupted(self, exc: ProviderError) -> StreamInterrupted:
        """Close the response; the error for a stream that broke after output."""
        partial = self.partial()
        assert partial is not None
        exc.attempts = self.attempts
        interrupted = StreamInterrupted(
            f"the stream broke after output had arrived: {exc.message}",
            partial=partial,
            cause=exc,
            provider=self._adapter.provider,
            status=exc.status,
            code=exc.code,
            request_id=self._request_id,
            attempts=self.attempts,
        )
        await self.aclose_response()
        return interrupted
