"""Deterministic models for tests: :class:`ScriptedModel` and :class:`FunctionModel`.

A :class:`ScriptedModel` plays a script of :class:`Turn` values, one per
call, through either ``complete`` or ``stream``; a :class:`FunctionModel`
computes each answer from the request. Both record every request they got
and keep the contract of actrio's HTTP adapters, so agent code cannot tell
them apart from a real provider::

    model = ScriptedModel([
        Turn.tool_call("read_file", {"path": "a.txt"}),
        Turn.text("It says hello.", chunks=3, delay=0.5),
    ])

Streams emit the events a real adapter does, in its order: text and
reasoning deltas, ``ToolCallStart`` / ``ToolCallDelta`` / ``ToolCallEnd``
keyed by the call's index, one ``UsageUpdate``, and ``Finish`` last; and
``complete`` returns exactly the response ``Finish`` carries. Delays use
``trio.sleep``, so tests under ``MockClock(autojump_threshold=0)`` (the
``autojump_clock`` fixture) run in virtual time.

Timing: the answer starts ``delay`` seconds after the call (the stream's
``async with`` waits it), and every chunk after the first, and a break,
comes ``delay`` seconds after the one before. ``complete`` takes exactly as
long as the whole stream would.
"""

from __future__ import annotations

import inspect
import json
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Self

import attrs
import trio

from actrio.adapters._accumulate import MessageBuilder
from actrio.adapters.errors import ProviderConnectionError, ProviderError, StreamInterrupted
from actrio.messages import Message, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from actrio.types import (
    Finish,
    FinishReason,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageUpdate,
)

if TYPE_CHECKING:
    from types import TracebackType

__all__ = (
    "Answer",
    "FunctionModel",
    "ScriptError",
    "ScriptExhausted",
    "ScriptPart",
    "ScriptedModel",
    "ScriptedStream",
    "ToolCall",
    "Turn",
)

_SHOWN: Final = 200
"""Characters of the last request message shown when a script runs out."""


class ScriptError(ValueError):
    """A turn was built from bad values; the message names the field."""


class ScriptExhausted(AssertionError):
    """A scripted model was called more times than its script has turns."""


# ---------------------------------------------------------------- values


def _arguments(value: Mapping[str, Any] | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return json.dumps(dict(value), separators=(",", ":"), ensure_ascii=False)
    raise ScriptError(
        f"ToolCall.arguments: expected a JSON object or JSON text, got {type(value).__name__}"
    )


@attrs.frozen(kw_only=True)
class ToolCall:
    """A tool call in a script.

    Attributes:
        name: The tool's name.
        arguments: The arguments as JSON text, streamed exactly as given (a
            mapping is encoded compactly; text that is not a JSON object
            gives a call with a ``problem``, as from a real model).
        id: The call id; ``None`` gives ``call_<call>_<index>``, unique per model.
    """

    name: str
    arguments: str = attrs.field(default="{}", converter=_arguments)
    id: str | None = None


ScriptPart = TextPart | ReasoningPart | ToolCall
"""What a turn's answer is made of."""


def _parts(value: Iterable[ScriptPart]) -> tuple[ScriptPart, ...]:
    parts = tuple(value)
    for i, part in enumerate(parts):
        if not isinstance(part, TextPart | ReasoningPart | ToolCall):
            raise ScriptError(
                f"Turn.parts[{i}]: expected a TextPart, ReasoningPart or ToolCall, "
                f"got {type(part).__name__}"
            )
    return parts


def _check_chunks(_: object, __: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScriptError(f"Turn.chunks: expected a count >= 1, got {value!r}")


def _check_delay(_: object, __: object, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScriptError(f"Turn.delay: expected finite seconds >= 0, got {value!r}")
    if value < 0:
        raise ScriptError(f"Turn.delay: expected finite seconds >= 0, got {value!r}")


def _check_after(_: object, __: object, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ScriptError(
            f"Turn.interrupt_after: expected a chunk count >= 1 (use Turn.error to fail "
            f"before any output), got {value!r}"
        )


@attrs.frozen(kw_only=True)
class Turn:
    """One scripted answer.

    Attributes:
        parts: Text, reasoning and tool calls, in the order they stream.
        chunks: How many deltas each text, reasoning and argument piece is
            split into (fewer for pieces shorter than that).
        delay: Seconds before the answer starts and between its chunks.
        usage: The usage reported; ``None`` derives it from the lengths of
            the request and the answer (about four characters a token).
        finish_reason: ``None`` gives ``tool_calls`` when there are calls,
            else ``stop``. With ``length`` the last tool call is cut short.
        raises: Raised instead of answering, by ``complete`` and when the
            stream is opened (after ``delay``); see :meth:`error`.
        interrupt_after: Break the stream after this many chunks (or, if it
            has fewer, just before its end): the next read raises
            :class:`StreamInterrupted` carrying what was streamed; ``complete`` raises the cause.
        interrupt_cause: The error that breaks it (default a
            :class:`ProviderConnectionError`).
    """

    parts: tuple[ScriptPart, ...] = attrs.field(default=(), converter=_parts)
    chunks: int = attrs.field(default=1, validator=_check_chunks)
    delay: float = attrs.field(default=0.0, validator=_check_delay)
    usage: Usage | None = None
    finish_reason: FinishReason | None = None
    raises: BaseException | None = None
    interrupt_after: int | None = attrs.field(default=None, validator=_check_after)
    interrupt_cause: ProviderError | None = None

    @classmethod
    def text(cls, text: str, *, reasoning: str | None = None, **options: Any) -> Turn:
        """A text answer, after ``reasoning`` when given; ``options`` are the other fields."""
        parts: list[ScriptPart] = [] if reasoning is None else [ReasoningPart(text=reasoning)]
        parts.append(TextPart(text=text))
        return cls(parts=parts, **options)

    @classmethod
    def reasoning(cls, reasoning: str, *, text: str = "", **options: Any) -> Turn:
        """Reasoning followed by ``text`` (if any); ``options`` are the other fields."""
        parts: list[ScriptPart] = [ReasoningPart(text=reasoning)]
        if text:
            parts.append(TextPart(text=text))
        return cls(parts=parts, **options)

    @classmethod
    def tool_call(
        cls,
        name: str,
        arguments: Mapping[str, Any] | str = "{}",
        *,
        id: str | None = None,
        text: str = "",
        **options: Any,
    ) -> Turn:
        """One tool call, after ``text`` (if any); ``options`` are the other fields."""
        return cls.tool_calls(
            [ToolCall(name=name, arguments=arguments, id=id)], text=text, **options
        )

    @classmethod
    def tool_calls(
        cls,
        calls: Iterable[ToolCall | tuple[str, Mapping[str, Any] | str]],
        *,
        text: str = "",
        **options: Any,
    ) -> Turn:
        """Several tool calls (``ToolCall`` or ``(name, arguments)``), after ``text`` if any."""
        parts: list[ScriptPart] = [TextPart(text=text)] if text else []
        parts.extend(
            call if isinstance(call, ToolCall) else ToolCall(name=call[0], arguments=call[1])
            for call in calls
        )
        return cls(parts=parts, **options)

    @classmethod
    def error(cls, exc: BaseException, *, delay: float = 0.0) -> Turn:
        """A call that raises ``exc`` (from ``complete``, or when the stream opens)."""
        return cls(raises=exc, delay=delay)

    def interrupted(self, after: int, cause: ProviderError | None = None) -> Turn:
        """This turn, its stream broken after ``after`` chunks (by ``cause``)."""
        return attrs.evolve(self, interrupt_after=after, interrupt_cause=cause)


# ---------------------------------------------------------------- playing


def _split(text: str, n: int) -> list[str]:
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tokens(chars: int) -> int:
    return -(-chars // 4)


def _request_chars(request: ModelRequest) -> int:
    total = 0
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, TextPart | ReasoningPart):
                total += len(part.text)
            elif isinstance(part, ToolResultPart):
                total += len(part.content)
            elif isinstance(part, ToolCallPart):
                total += len(part.name) + len(part.arguments_json)
    return total


def _usage(turn: Turn, request: ModelRequest) -> Usage:
    if turn.usage is not None:
        return turn.usage
    out = sum(len(p.text) for p in turn.parts if isinstance(p, TextPart))
    thought = sum(len(p.text) for p in turn.parts if isinstance(p, ReasoningPart))
    out += sum(len(p.name) + len(p.arguments) for p in turn.parts if isinstance(p, ToolCall))
    return Usage(
        input_tokens=_tokens(_request_chars(request)),
        output_tokens=_tokens(out) + _tokens(thought),
        reasoning_tokens=_tokens(thought),
    )


_CHUNK_EVENTS: Final = (TextDelta, ReasoningDelta, ToolCallDelta)


@attrs.frozen
class _Plan:
    """What one call delivers: ``(pause, event)`` steps, then a response or a break."""

    steps: tuple[tuple[float, StreamEvent], ...]
    response: ModelResponse | None
    broken: StreamInterrupted | None
    opening: float


def _events(turn: Turn, builder: MessageBuilder, call: int) -> Iterator[StreamEvent | None]:
    """Drive ``builder`` through ``turn`` lazily, so a break leaves it where the stream was."""
    last_tool = sum(isinstance(p, ToolCall) for p in turn.parts) - 1
    index = -1
    for i, part in enumerate(turn.parts):
        if isinstance(part, TextPart):
            for piece in _split(part.text, turn.chunks):
                yield builder.text(piece)
        elif isinstance(part, ReasoningPart):
            builder.reasoning_meta(
                key=i,
                summary=part.summary,
                signature=part.signature,
                encrypted=part.encrypted,
                redacted=part.redacted,
                id=part.id,
            )
            for piece in _split(part.text, turn.chunks):
                yield builder.reasoning(piece, key=i, summary=part.summary)
        else:
            index += 1
            yield builder.tool_start(index, part.id or f"call_{call}_{index}", part.name)
            for piece in _split(part.arguments, turn.chunks):
                yield builder.tool_delta(index, piece)
            if turn.finish_reason == "length" and index == last_tool:
                yield builder.tool_cut(index, "the answer reached the token limit")
            else:
                yield builder.tool_end(index)


class _Player:
    """Times one turn's events and stops them after ``interrupt_after`` chunks."""

    def __init__(self, turn: Turn, provider: str) -> None:
        self.turn = turn
        self.builder = MessageBuilder(provider)
        self.steps: list[tuple[float, StreamEvent]] = []

    def play(self, call: int) -> None:
        chunks = 0
        for event in _events(self.turn, self.builder, call):
            # The builder answers None only for empty fragments, which _split never makes.
            assert event is not None
            pause = 0.0
            if isinstance(event, _CHUNK_EVENTS):
                pause = self.turn.delay if chunks else 0.0
                chunks += 1
            self.steps.append((pause, event))
            if chunks == self.turn.interrupt_after:
                return


def _plan(turn: Turn, request: ModelRequest, call: int, model: str, provider: str) -> _Plan:
    player = _Player(turn, provider)
    player.play(call)
    if turn.interrupt_after is not None:
        cause = turn.interrupt_cause or ProviderConnectionError(
            "the scripted stream broke", provider=provider
        )
        message = player.builder.message(cut="the stream broke before the call ended")
        partial = ModelResponse(
            message=message,
            finish_reason="tool_calls" if message.tool_calls else "stop",
            model=model,
            provider=provider,
            response_id=f"{provider}-{call}",
        )
        broken = StreamInterrupted(
            f"the stream broke after output had arrived: {cause}",
            partial=partial,
            cause=cause,
            provider=provider,
        )
        return _Plan(tuple(player.steps), None, broken, turn.delay)
    message = player.builder.message()
    usage = _usage(turn, request)
    response = ModelResponse(
        message=message,
        finish_reason=turn.finish_reason or ("tool_calls" if message.tool_calls else "stop"),
        usage=usage,
        model=model,
        provider=provider,
        response_id=f"{provider}-{call}",
    )
    steps = [*player.steps, (0.0, UsageUpdate(usage=usage)), (0.0, Finish(response=response))]
    return _Plan(tuple(steps), response, None, turn.delay)


def _turn_of(response: ModelResponse) -> Turn:
    parts: list[ScriptPart] = []
    for part in response.message.parts:
        if isinstance(part, ToolCallPart):
            parts.append(ToolCall(name=part.name, arguments=part.arguments_json, id=part.id))
        elif isinstance(part, TextPart | ReasoningPart):  # pragma: no branch - assistant parts
            parts.append(part)
    return Turn(parts=parts, usage=response.usage, finish_reason=response.finish_reason)


Answer = Turn | str | ModelResponse
"""What a script entry or a function may give: a turn, a text, or a whole response."""


def _as_turn(answer: object, where: str) -> Turn:
    if isinstance(answer, Turn):
        return answer
    if isinstance(answer, str):
        return Turn.text(answer)
    raise ScriptError(
        f"{where}: expected a Turn, a str or a ModelResponse, got {type(answer).__name__}"
    )


def _plan_answer(
    answer: Answer, request: ModelRequest, call: int, *, model: str, provider: str, where: str
) -> _Plan:
    if isinstance(answer, ModelResponse):
        plan = _plan(_turn_of(answer), request, call, model, provider)
        steps = (*plan.steps[:-1], (0.0, Finish(response=answer)))
        return _Plan(steps, answer, None, 0.0)
    return _plan(_as_turn(answer, where), request, call, model, provider)


# ---------------------------------------------------------------- models


class _Recorder:
    """What both models share: recording, numbering, complete and stream."""

    def __init__(self, model: str, provider: str, context_window: int | None) -> None:
        if context_window is not None and (
            isinstance(context_window, bool)
            or not isinstance(context_window, int)
            or context_window <= 0
        ):
            raise ScriptError(f"context_window: expected an int > 0, got {context_window!r}")
        self._model = model
        self._provider = provider
        self.context_window = context_window
        self.requests: list[ModelRequest] = []

    @property
    def provider(self) -> str:
        """The adapter family (``ModelResponse.provider``)."""
        return self._provider

    @property
    def model(self) -> str:
        """The model name (``ModelResponse.model``)."""
        return self._model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self._model!r}, calls={len(self.requests)})"

    async def _answer(self, request: ModelRequest) -> Answer:
        raise NotImplementedError  # pragma: no cover - both subclasses define it

    async def _start(self, request: ModelRequest) -> _Plan:
        """Record the request, find the answer, wait the opening delay."""
        if not isinstance(request, ModelRequest):
            raise TypeError(f"expected a ModelRequest, got {type(request).__name__}")
        call = len(self.requests)
        self.requests.append(request)
        answer = await self._answer(request)
        plan = _plan_answer(
            answer, request, call, model=self._model, provider=self._provider, where=f"call {call}"
        )
        await trio.sleep(plan.opening)
        if isinstance(answer, Turn) and answer.raises is not None:
            raise answer.raises
        return plan

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """The whole answer: exactly the response the stream's ``Finish`` would carry.

        Raises:
            ScriptExhausted: If a script has no turn left.
            BaseException: A turn's ``raises``, or its ``interrupt_cause``.
        """
        plan = await self._start(request)
        await trio.sleep(sum(pause for pause, _ in plan.steps))
        if plan.broken is not None:
            await trio.sleep(plan.opening)
            assert plan.broken.cause is not None
            raise plan.broken.cause
        assert plan.response is not None
        return plan.response

    def stream(self, request: ModelRequest) -> ScriptedStream:
        """Stream the answer: ``async with model.stream(request) as events: ...``."""
        return ScriptedStream(self, request)


class ScriptedStream:
    """One streaming call to a scripted model: an async context manager and iterator.

    Attributes:
        response: The final response, once ``Finish`` was delivered.
    """

    def __init__(self, model: _Recorder, request: ModelRequest) -> None:
        self._model = model
        self._request = request
        self._entered = False
        self._closed = False
        self._plan: _Plan | None = None
        self._steps: deque[tuple[float, StreamEvent]] = deque()
        self.response: ModelResponse | None = None

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("a ScriptedStream can be entered only once")
        self._entered = True
        self._plan = await self._model._start(self._request)
        self._steps = deque(self._plan.steps)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the stream (idempotent); later reads end the iteration."""
        self._closed = True
        self._steps.clear()
        await trio.lowlevel.checkpoint()

    def partial(self) -> ModelResponse | None:
        """The partial answer of a broken stream, else ``None``."""
        if self._plan is None or self._plan.broken is None:
            return None
        return self._plan.broken.partial

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> StreamEvent:
        if not self._entered:
            raise RuntimeError("use the stream inside `async with model.stream(request)`")
        assert self._plan is not None
        if not self._steps:
            if self._closed or self._plan.broken is None:
                raise StopAsyncIteration
            await trio.sleep(self._plan.opening)
            self._closed = True
            broken = self._plan.broken
            raise broken from broken.cause
        pause, event = self._steps.popleft()
        await trio.sleep(pause)
        if isinstance(event, Finish):
            self.response = event.response
            self._closed = True
        return event


def _describe(message: Message) -> str:
    text = message.text or ", ".join(type(p).__name__ for p in message.parts)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "…"
    return f"{message.role}: {text!r}"


class ScriptedModel(_Recorder):
    """A model that plays scripted turns in order, for ``complete`` and ``stream`` alike.

    Args:
        turns: The answers, one per call: :class:`Turn` values, plain
            strings (a text turn) or whole :class:`ModelResponse` values.
        model: The model name it reports.
        provider: The adapter family it reports.
        context_window: The context window agents fit requests to (tokens);
            ``None`` lets them use their default.

    Attributes:
        requests: Every request received, in order (including failed calls).

    Raises:
        ScriptError: If an entry is none of those, or ``context_window`` is not > 0.
    """

    def __init__(
        self,
        turns: Iterable[Answer],
        *,
        model: str = "scripted",
        provider: str = "scripted",
        context_window: int | None = None,
    ) -> None:
        super().__init__(model, provider, context_window)
        self._turns: tuple[Answer, ...] = tuple(turns)
        for i, turn in enumerate(self._turns):
            if not isinstance(turn, ModelResponse):
                _as_turn(turn, f"ScriptedModel turns[{i}]")

    @property
    def remaining(self) -> int:
        """Turns not played yet."""
        return max(0, len(self._turns) - len(self.requests))

    async def _answer(self, request: ModelRequest) -> Answer:
        call = len(self.requests) - 1
        if call >= len(self._turns):
            raise ScriptExhausted(
                f"ScriptedModel {self._model!r} ran out of turns: the script has "
                f"{len(self._turns)} turn(s) and this is call {call + 1}; the request's last "
                f"message was {_describe(request.messages[-1])}"
            )
        return self._turns[call]


class FunctionModel(_Recorder):
    """A model whose answer is computed from the request.

    Args:
        fn: ``fn(request)`` giving a :class:`Turn`, a str or a
            :class:`ModelResponse`; it may be a coroutine function.
        model: The model name it reports.
        provider: The adapter family it reports.
        context_window: The context window agents fit requests to (tokens).

    Attributes:
        requests: Every request received, in order.
    """

    def __init__(
        self,
        fn: Callable[[ModelRequest], Answer | Awaitable[Answer]],
        *,
        model: str = "function",
        provider: str = "function",
        context_window: int | None = None,
    ) -> None:
        super().__init__(model, provider, context_window)
        self._fn = fn

    async def _answer(self, request: ModelRequest) -> Answer:
        answer = self._fn(request)
        if inspect.isawaitable(answer):
            answer = await answer
        return answer
