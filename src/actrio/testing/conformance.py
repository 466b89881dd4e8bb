"""A conformance suite any model adapter can run against itself, including users' own.

Give it a factory that builds your adapter over an ``httpx.AsyncClient``
(the suite injects a transport that replays canned provider traffic) and a
few recorded :class:`Exchange` values in your provider's protocol; it checks
the contract every actrio adapter keeps:

- ``stream``: exactly one :class:`~actrio.types.Finish`, last; the text,
  reasoning and tool-call argument deltas add up to the final response;
  every tool call starts once, before its deltas, and ends once, after
  them, in the response's order; the last usage update is the final usage;
- the same bytes split at any points (one byte at a time, random reads)
  give the same response;
- the connection is closed when the ``async with`` ends, also after an
  early ``break`` and after a cancellation while waiting for bytes;
- a stream cut short at any event boundary is an error, never a success;
- ``complete`` gives an assistant message with a normalised finish reason;
- error statuses raise a :class:`~actrio.adapters.errors.ProviderError`
  carrying the status;
- the API key never appears in the adapter's ``repr`` or in any error.

Use it from a test (pytest-trio; virtual time keeps retry backoff instant)::

    async def test_my_adapter_conforms(autojump_clock):
        await assert_conforms(
            lambda client, key: MyAdapter("m", api_key=key, http_client=client),
            [Exchange(name="text", body=Path("text.sse").read_bytes(), stream=True)],
        )
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
import httpx
import trio

from actrio.adapters.errors import ProviderError
from actrio.messages import Message
from actrio.types import (
    Finish,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    UsageUpdate,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from actrio.adapters.router import Model

__all__ = ("ConformanceError", "Exchange", "assert_conforms", "check_adapter")

_FINISH_REASONS: Final = frozenset({"stop", "length", "tool_calls", "content_filter", "refusal"})
_CUTS: Final = 8
"""Truncation points tried per stream (spread over its events)."""


class ConformanceError(AssertionError):
    """An adapter broke the contract; the message lists every problem."""


def _default_request() -> ModelRequest:
    return ModelRequest(messages=(Message.user("hello"),))


@attrs.frozen(kw_only=True)
class Exchange:
    """One canned provider answer.

    Attributes:
        name: Shown in problem reports.
        body: The response body: an event stream when ``stream``, else JSON.
        stream: Whether to call ``stream`` (else ``complete``).
        status: The HTTP status; 400 and above must raise a ProviderError.
        headers: Extra response headers.
        request: The request to send (the canned answer is returned whatever
            it is; pass one that makes sense for the body, e.g. with tools).
        expect_error: The error class expected, for error exchanges.
    """

    name: str
    body: bytes
    stream: bool = False
    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    request: ModelRequest = attrs.field(factory=_default_request)
    expect_error: type[ProviderError] | None = None


class _Body(httpx.AsyncByteStream):
    """A response body in chosen chunks that records whether it was closed."""

    def __init__(self, chunks: Sequence[bytes], *, hang: bool = False) -> None:
        self.chunks = chunks
        self.hang = hang
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _Chunks(self)

    async def aclose(self) -> None:
        self.closed = True


class _Chunks:
    """An iterator over a body's chunks (a plain object, so nothing is left to the GC)."""

    def __init__(self, body: _Body) -> None:
        self.body = body
        self.position = 0

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        if self.position < len(self.body.chunks):
            self.position += 1
            return self.body.chunks[self.position - 1]
        if self.body.hang:
            await trio.sleep_forever()
        raise StopAsyncIteration


class _Replay:
    """A mock transport serving one exchange's bytes, split as told."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.bodies: list[_Body] = []
        self.requests: list[httpx.Request] = []
        self.chunks: Sequence[bytes] = [exchange.body]
        self.hang = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = _Body(self.chunks, hang=self.hang)
        self.bodies.append(body)
        content_type = "text/event-stream" if self.exchange.stream else "application/json"
        headers = {"content-type": content_type, **self.exchange.headers}
        return httpx.Response(self.exchange.status, headers=headers, stream=body)

    def all_closed(self) -> bool:
        return all(b.closed for b in self.bodies)


def _events_boundaries(body: bytes) -> list[int]:
    """Byte offsets just after each blank line (event terminators), LF or CRLF framing."""
    marks: list[int] = []
    for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        start = 0
        while (found := body.find(sep, start)) != -1:
            marks.append(found + len(sep))
            start = found + len(sep)
    return sorted(set(marks))


class _Checker:
    def __init__(self, make: Callable[[httpx.AsyncClient, str], Model], seed: int) -> None:
        self.make = make
        self.key = f"sk-conformance-{uuid.uuid4().hex}"
        self.problems: list[str] = []
        self.rng = random.Random(seed)  # noqa: S311 - reproducible splits, not secrets

    def problem(self, exchange: Exchange, text: str) -> None:
        self.problems.append(f"{exchange.name}: {text}")

    def _leaks(self, text: str) -> bool:
        return self.key in text

    def check_error(self, exchange: Exchange, error: BaseException) -> None:
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            if self._leaks(str(current)) or self._leaks(repr(current)):
                self.problem(exchange, f"the API key appears in {type(current).__name__}")
            current = current.__cause__ or current.__context__

    async def _run(
        self, exchange: Exchange, replay: _Replay, *, stop_after: int | None = None
    ) -> tuple[list[Any], BaseException | None]:
        events: list[Any] = []
        async with httpx.AsyncClient(transport=httpx.MockTransport(replay.handler)) as client:
            adapter = self.make(client, self.key)
            if self._leaks(repr(adapter)):
                self.problem(exchange, "the API key appears in the adapter's repr")
            try:
                if exchange.stream:
                    async with adapter.stream(exchange.request) as stream:
                        async for event in stream:
                            events.append(event)
                            if stop_after is not None and len(events) >= stop_after:
                                break
                else:
                    events.append(await adapter.complete(exchange.request))
            except ProviderError as exc:
                self.check_error(exchange, exc)
                return events, exc
        return events, None

    # ------------------------------------------------------------ checks

    async def check(self, exchange: Exchange) -> None:
        replay = _Replay(exchange)
        events, error = await self._run(exchange, replay)
        if not replay.all_closed():
            self.problem(exchange, "the response was not closed")
        if exchange.status >= 400 or exchange.expect_error is not None:
            self._expect_error(exchange, error)
            return
        if error is not None:
            self.problem(exchange, f"raised {error!r}")
            return
        if not exchange.stream:
            self._check_response(exchange, events[0])
            return
        response = self._check_events(exchange, events)
        if response is None:
            return
        await self._check_splits(exchange, response)
        await self._check_early_exit(exchange)
        await self._check_cancel(exchange)
        await self._check_truncation(exchange)

    def _expect_error(self, exchange: Exchange, error: BaseException | None) -> None:
        if error is None:
            self.problem(exchange, f"status {exchange.status} did not raise")
            return
        if exchange.expect_error is not None and not isinstance(error, exchange.expect_error):
            self.problem(
                exchange,
                f"raised {type(error).__name__}, expected {exchange.expect_error.__name__}",
            )
        if exchange.status >= 400 and getattr(error, "status", None) != exchange.status:
            self.problem(exchange, f"the error's status is {getattr(error, 'status', None)}")

    def _check_response(self, exchange: Exchange, response: Any) -> None:
        if not isinstance(response, ModelResponse):
            self.problem(exchange, f"complete() returned {type(response).__name__}")
            return
        if response.message.role != "assistant":
            self.problem(exchange, f"the message role is {response.message.role!r}")
        if response.finish_reason not in _FINISH_REASONS:
            self.problem(exchange, f"finish_reason {response.finish_reason!r} is not normalised")
        if response.finish_reason == "tool_calls" and not response.tool_calls:
            self.problem(exchange, "finish_reason is tool_calls but there are no tool calls")

    def _check_events(self, exchange: Exchange, events: list[Any]) -> ModelResponse | None:
        finishes = [e for e in events if isinstance(e, Finish)]
        if len(finishes) != 1 or not isinstance(events[-1], Finish):
            self.problem(exchange, f"expected exactly one Finish, last; got {len(finishes)}")
            return None
        response = finishes[0].response
        self._check_response(exchange, response)
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        if text != response.text:
            self.problem(exchange, "the text deltas do not add up to the response text")
        reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
        if reasoning != response.reasoning_text:
            self.problem(exchange, "the reasoning deltas do not add up to the response reasoning")
        usages = [e.usage for e in events if isinstance(e, UsageUpdate)]
        if usages and usages[-1] != response.usage:
            self.problem(exchange, "the last usage update is not the final usage")
        self._check_tool_events(exchange, events, response)
        return response

    def _check_tool_events(
        self, exchange: Exchange, events: list[Any], response: ModelResponse
    ) -> None:
        started: dict[int, list[str]] = {}
        ended: list[ToolCallEnd] = []
        for event in events:
            if isinstance(event, ToolCallStart):
                if event.index in started:
                    self.problem(exchange, f"tool call {event.index} started twice")
                started[event.index] = []
            elif isinstance(event, ToolCallDelta):
                if event.index not in started or any(e.index == event.index for e in ended):
                    self.problem(exchange, f"a delta of tool call {event.index} outside its span")
                else:
                    started[event.index].append(event.arguments)
            elif isinstance(event, ToolCallEnd):
                if event.index not in started:
                    self.problem(exchange, f"tool call {event.index} ended without starting")
                ended.append(event)
        if [e.call for e in ended] != list(response.tool_calls):
            self.problem(exchange, "the ended tool calls are not the response's tool calls")
        self._check_tool_arguments(exchange, started, ended)

    def _check_tool_arguments(
        self, exchange: Exchange, started: dict[int, list[str]], ended: list[ToolCallEnd]
    ) -> None:
        for end in ended:
            fragments = started.get(end.index) or []
            if end.call.executable and fragments:
                try:
                    parsed = json.loads("".join(fragments))
                except ValueError:
                    parsed = None
                if parsed != end.call.arguments:
                    self.problem(
                        exchange,
                        f"tool call {end.index}: the deltas do not add up to the arguments",
                    )

    async def _final(self, exchange: Exchange, chunks: Sequence[bytes]) -> Any:
        replay = _Replay(exchange)
        replay.chunks = chunks
        events, error = await self._run(exchange, replay)
        if error is not None:
            return error
        return events[-1].response if events and isinstance(events[-1], Finish) else None

    async def _check_splits(self, exchange: Exchange, response: ModelResponse) -> None:
        body = exchange.body
        bytewise = [body[i : i + 1] for i in range(len(body))] if len(body) <= 20_000 else []
        cuts = sorted(self.rng.sample(range(1, len(body)), min(len(body) - 1, 40)))
        randomly = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        for label, chunks in (("one byte at a time", bytewise), ("random reads", randomly)):
            if not chunks:
                continue
            got = await self._final(exchange, chunks)
            if got != response:
                self.problem(exchange, f"split {label}, the response differs: {got!r}")

    async def _check_early_exit(self, exchange: Exchange) -> None:
        replay = _Replay(exchange)
        await self._run(exchange, replay, stop_after=1)
        if not replay.all_closed():
            self.problem(exchange, "the response was not closed after an early break")

    async def _check_cancel(self, exchange: Exchange) -> None:
        boundaries = _events_boundaries(exchange.body)
        if len(boundaries) < 2:
            return
        replay = _Replay(exchange)
        replay.chunks = [exchange.body[: boundaries[-2]]]
        replay.hang = True
        with trio.move_on_after(5) as scope:
            await self._run(exchange, replay)
        if not scope.cancelled_caught:
            self.problem(exchange, "a stream waiting for bytes finished instead of hanging")
        if not replay.all_closed():
            self.problem(exchange, "the response was not closed after a cancellation")

    async def _check_truncation(self, exchange: Exchange) -> None:
        boundaries = _events_boundaries(exchange.body)[:-1]
        if not boundaries:
            return
        step = max(1, len(boundaries) // _CUTS)
        for cut in boundaries[::step]:
            got = await self._final(exchange, [exchange.body[:cut]])
            if not isinstance(got, ProviderError):
                self.problem(exchange, f"cut at byte {cut}, the stream did not fail: {got!r}")
                return


async def check_adapter(
    make: Callable[[httpx.AsyncClient, str], Model],
    exchanges: Sequence[Exchange],
    *,
    seed: int = 0,
) -> list[str]:
    """Run the suite; return the problems found (empty when the adapter conforms).

    Args:
        make: Builds the adapter from a client and an API key (a canary the
            suite looks for in reprs and errors).
        exchanges: Canned answers in the adapter's protocol.
        seed: Seeds the random splits.
    """
    checker = _Checker(make, seed)
    for exchange in exchanges:
        await checker.check(exchange)
    return checker.problems


async def assert_conforms(
    make: Callable[[httpx.AsyncClient, str], Model],
    exchanges: Sequence[Exchange],
    *,
    seed: int = 0,
) -> None:
    """Run the suite and raise if anything is wrong.

    Raises:
        ConformanceError: Listing every problem found.
    """
    problems = await check_adapter(make, exchanges, seed=seed)
    if problems:
        raise ConformanceError("adapter does not conform:\n- " + "\n- ".join(problems))
