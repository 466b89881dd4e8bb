"""Instrumented calls: a tool or LLM call run as a Tool / Llm scope actor.

Each call runs the middleware pipeline of the runtime and of every enclosing
scope (see :mod:`actrio.middleware`)::

    request intercepts      rewrite what runs (tool args; LLM request + annotation)
    sanitize guardrails     rewrite what observability sees, on a copy
    ── ScopeStarted ──
    conditional guardrails  a reason blocks the call: a Mark, GuardrailBlocked
    execution intercepts    wrap the call: each gets ``next``
    (LLM) sanitize-response guardrails, on a copy, for the end event
    ── ScopeEnded ──

A middleware that raises fails only its call, with :class:`MiddlewareError`;
the callee's own exceptions pass through intercepts unchanged.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import attrs
import trio

from actrio._json import check_json, check_timeout, copy_json, to_json_safe
from actrio.actors._exceptions import ScopeCancelled
from actrio.actors._scope import END_EVENT_GRACE, Scope, current_scope, mark, open_call_scope
from actrio.codecs import (
    AnnotatedLLMRequest,
    AnnotatedLLMResponse,
    CodecError,
    LLMCodec,
    LLMRequest,
)
from actrio.events import JsonValue, ScopeType
from actrio.kernel import ActorSystem, UsageError, current_system
from actrio.kernel._actor import _Cell, _current_cell
from actrio.middleware._context import current_global_registry
from actrio.middleware._exceptions import GuardrailBlocked, MiddlewareError
from actrio.middleware._registry import MiddlewareRegistry, Registration, resolve

__all__ = ("LLMStream", "execute_llm", "execute_tool", "stream_llm")

ToolImpl = Callable[[JsonValue], Awaitable[JsonValue]]
LLMImpl = Callable[[LLMRequest], Awaitable[JsonValue]]
StreamImpl = Callable[
    [LLMRequest], "AsyncIterator[JsonValue] | Awaitable[AsyncIterator[JsonValue]]"
]


# -- the pipeline --


def _registries(here: Scope | None) -> list[MiddlewareRegistry]:
    registries: list[MiddlewareRegistry] = []
    root = current_global_registry()
    if root is not None:
        registries.append(root)
    if here is not None:
        registries.extend(s._middleware for s in here._lineage() if s._middleware is not None)
    return registries


async def _call(reg: Registration, target: str, *args: Any) -> Any:
    """Run one middleware; its failure becomes a MiddlewareError for this call."""
    try:
        result = reg.fn(*args)
        if inspect.isawaitable(result):
            result = await result
    except Exception as error:
        raise MiddlewareError(
            middleware=reg.name, stage=reg.stage, target=target, error=error
        ) from error
    return result


def _wrong_type(reg: Registration, target: str, expected: str, got: object) -> MiddlewareError:
    error = TypeError(f"returned {type(got).__qualname__}, expected {expected}")
    return MiddlewareError(middleware=reg.name, stage=reg.stage, target=target, error=error)


def _wrap(
    chain: Sequence[Registration],
    target: str,
    innermost: Callable[[Any], Awaitable[Any]],
    *,
    with_name: bool = True,
) -> Callable[[Any], Awaitable[Any]]:
    """Compose execution intercepts around ``innermost``; the first in order is outermost."""
    call = innermost
    for reg in reversed(chain):
        call = _layer(reg, target, call, with_name=with_name)
    return call


def _layer(
    reg: Registration,
    target: str,
    inner: Callable[[Any], Awaitable[Any]],
    *,
    with_name: bool,
) -> Callable[[Any], Awaitable[Any]]:
    passed: list[BaseException] = []

    async def next_(value: Any) -> Any:
        try:
            return await inner(value)
        except Exception as error:
            passed.append(error)  # the callee's error: let it through unchanged
            raise

    async def step(value: Any) -> Any:
        args = (target, value, next_) if with_name else (value, next_)
        try:
            result = reg.fn(*args)
            if inspect.isawaitable(result):
                result = await result
        except Exception as error:
            if any(error is seen for seen in passed):
                raise
            raise MiddlewareError(
                middleware=reg.name, stage=reg.stage, target=target, error=error
            ) from error
        return result

    return step


async def _check_conditions(
    chain: Sequence[Registration], target: str, scope: Scope, *args: Any
) -> None:
    for reg in chain:
        reason = await _call(reg, target, *args)
        if reason is None:
            continue
        if not isinstance(reason, str):
            raise _wrong_type(reg, target, "str | None", reason)
        await mark(
            reg.name,
            category="guardrail",
            data={"stage": reg.stage, "target": target, "reason": reason},
            scope=scope,
        )
        raise GuardrailBlocked(guardrail=reg.name, target=target, reason=reason)


def _check_call(name: str, impl: object, timeout: float | None) -> None:
    if not isinstance(name, str) or not name:
        raise UsageError(f"a call name must be a non-empty string, not {name!r}")
    if not callable(impl):
        raise UsageError(f"impl must be an async callable, got {type(impl).__qualname__}")
    check_timeout(timeout)


def _system_for(here: Scope | None) -> ActorSystem:
    return here._live_cell().system if here is not None else current_system()


def _raise_if_cancelled(scope: Scope) -> None:
    if scope.cancelled_caught:
        raise ScopeCancelled(scope.name, scope.cancel_reason or "stopped")


# -- tools --


async def execute_tool(
    name: str,
    args: JsonValue,
    impl: ToolImpl,
    *,
    metadata: JsonValue = None,
    timeout: float | None = None,
    redact: Callable[[JsonValue], JsonValue] | None = None,
) -> JsonValue:
    """Run ``await impl(args)`` as a Tool scope under the current scope.

    Args:
        name: The tool's name (the scope's name).
        args: The tool's arguments (JSON).
        impl: The tool: an async callable taking the arguments.
        metadata: Metadata (JSON) for the scope's events.
        timeout: Seconds the call may take.
        redact: Applied last to what the events show (arguments and
            result), after the sanitize guardrails: the runtime masks
            secrets with it.

    Returns:
        What ``impl`` returned (after execution intercepts).

    Raises:
        GuardrailBlocked: A conditional guardrail blocked it; ``impl`` did not run.
        MiddlewareError: A guardrail or intercept raised.
        ScopeCancelled: Its scope was cancelled (by its ref, say) before a result.
        ScopeTimeout: ``timeout`` passed.
        UsageError: For a bad argument.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    _check_call(name, impl, timeout)
    check_json(args, "args")
    check_json(metadata, "metadata")
    here = current_scope()
    system = _system_for(here)
    registries = _registries(here)
    view: JsonValue = None
    early: MiddlewareError | None = None
    try:
        for reg in resolve("tool_request", registries):
            args = await _call(reg, name, name, args)
        view = args
        sanitizers = resolve("tool_sanitize_request", registries)
        if sanitizers:
            view = copy_json(args)
            for reg in sanitizers:
                view = await _call(reg, name, name, view)
        view = to_json_safe(copy_json(view))  # a snapshot: the tool may mutate its args
        if redact is not None:
            view = redact(view)
    except MiddlewareError as error:
        early, view = error, None
    async with open_call_scope(
        system, here, name, ScopeType.TOOL, data=view, metadata=metadata, timeout=timeout
    ) as scope:
        if early is not None:
            raise early
        await _check_conditions(
            resolve("tool_conditional_execution", registries), name, scope, name, args
        )
        run = _wrap(resolve("tool_execution", registries), name, impl)
        result = await run(args)
        end_data = to_json_safe(copy_json(result))
        scope.end_data = end_data if redact is None else redact(end_data)
    _raise_if_cancelled(scope)
    return result


# -- LLM calls --


def _codec(codec: LLMCodec | str | None, request: LLMRequest) -> LLMCodec | None:
    # The codecs load with the first LLM call (import time).
    from actrio.codecs._registry import codec_for, detect_request_codec  # noqa: PLC0415

    if isinstance(codec, str):
        return codec_for(codec)
    if codec is not None:
        if not all(
            callable(getattr(codec, m, None))
            for m in ("decode_request", "decode_response", "accumulator")
        ):
            raise UsageError(f"codec must be an LLMCodec or a codec name, not {codec!r}")
        return codec
    return detect_request_codec(request.content)


def _annotate_request(codec: LLMCodec | None, request: LLMRequest) -> AnnotatedLLMRequest | None:
    if codec is None:
        return None
    try:
        return codec.decode_request(request.content)
    except CodecError:
        return None  # observability must not fail the call


def _annotate_response(codec: LLMCodec | None, body: JsonValue) -> AnnotatedLLMResponse | None:
    if not isinstance(body, dict):
        return None
    if codec is None:
        from actrio.codecs._registry import detect_response_codec  # noqa: PLC0415

        codec = detect_response_codec(body)
    if codec is None:
        return None
    try:
        return codec.decode_response(body)
    except CodecError:
        return None


@attrs.frozen
class _Prepared:
    request: LLMRequest
    view: JsonValue
    annotated: AnnotatedLLMRequest | None
    early: MiddlewareError | None


async def _prepare_llm(
    name: str,
    request: LLMRequest,
    codec: LLMCodec | None,
    registries: list[MiddlewareRegistry],
) -> _Prepared:
    annotated = _annotate_request(codec, request)
    try:
        for reg in resolve("llm_request", registries):
            out = await _call(reg, name, name, request, annotated)
            if not (
                isinstance(out, tuple)
                and len(out) == 2
                and isinstance(out[0], LLMRequest)
                and (out[1] is None or isinstance(out[1], AnnotatedLLMRequest))
            ):
                raise _wrong_type(reg, name, "(LLMRequest, AnnotatedLLMRequest | None)", out)
            request, annotated = out
        view = request
        sanitizers = resolve("llm_sanitize_request", registries)
        if sanitizers:
            view = LLMRequest(dict(view.headers), copy_json(dict(view.content)))
            for reg in sanitizers:
                view = await _call(reg, name, view)
                if not isinstance(view, LLMRequest):
                    raise _wrong_type(reg, name, "LLMRequest", view)
            annotated = _annotate_request(codec, view)
    except MiddlewareError as error:
        return _Prepared(request, None, None, error)
    # Headers (credentials) never reach events: only the body is recorded.
    return _Prepared(request, to_json_safe(copy_json(dict(view.content))), annotated, None)


async def _sanitize_response(
    chain: Sequence[Registration], name: str, response: JsonValue
) -> JsonValue:
    if not chain or not isinstance(response, dict):
        return response
    view: JsonValue = copy_json(response)
    for reg in chain:
        view = await _call(reg, name, view)
        if not isinstance(view, dict):
            raise _wrong_type(reg, name, "dict", view)
    return view


def _check_request(request: object) -> LLMRequest:
    if not isinstance(request, LLMRequest):
        raise UsageError(f"request must be an LLMRequest, not {type(request).__qualname__}")
    return request


async def execute_llm(
    name: str,
    request: LLMRequest,
    impl: LLMImpl,
    *,
    codec: LLMCodec | str | None = None,
    metadata: JsonValue = None,
    timeout: float | None = None,
) -> JsonValue:
    """Run ``await impl(request)`` as an Llm scope under the current scope.

    Args:
        name: The model or logical call name.
        request: Headers and JSON body for the provider.
        impl: The call: an async callable taking the (intercepted) request.
        codec: The codec for annotations, or its name; detected from the
            body when omitted (no annotation if none fits).
        metadata: Metadata (JSON) for the scope's events.
        timeout: Seconds the call may take.

    Returns:
        What ``impl`` returned (after execution intercepts).

    Raises:
        GuardrailBlocked: A conditional guardrail blocked it; ``impl`` did not run.
        MiddlewareError: A guardrail or intercept raised.
        ScopeCancelled: Its scope was cancelled before a result.
        ScopeTimeout: ``timeout`` passed.
        UsageError: For a bad argument.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    _check_call(name, impl, timeout)
    request = _check_request(request)
    check_json(metadata, "metadata")
    here = current_scope()
    system = _system_for(here)
    registries = _registries(here)
    chosen = _codec(codec, request)
    prepared = await _prepare_llm(name, request, chosen, registries)
    async with open_call_scope(
        system,
        here,
        name,
        ScopeType.LLM,
        data=prepared.view,
        metadata=metadata,
        timeout=timeout,
        annotated_request=prepared.annotated,
    ) as scope:
        if prepared.early is not None:
            raise prepared.early
        await _check_conditions(
            resolve("llm_conditional_execution", registries), name, scope, prepared.request
        )
        run = _wrap(resolve("llm_execution", registries), name, impl)
        response = await run(prepared.request)
        view = await _sanitize_response(
            resolve("llm_sanitize_response", registries), name, response
        )
        scope.end_data = to_json_safe(copy_json(view))
        scope.annotated_response = _annotate_response(chosen, view)
    _raise_if_cancelled(scope)
    return response


def stream_llm(
    name: str,
    request: LLMRequest,
    impl: StreamImpl,
    *,
    codec: LLMCodec | str | None = None,
    metadata: JsonValue = None,
    timeout: float | None = None,
) -> LLMStream:
    """Stream ``impl(request)`` as an Llm scope under the current scope.

    Iterate the returned :class:`LLMStream` directly, or (to close it early
    and deterministically) inside ``async with``::

        async with actrio.llm.stream_execute("gpt", request, impl) as chunks:
            async for chunk in chunks:
                ...

    The call runs as a task in the current scope's nursery (the top level
    if there is none) and hands each chunk over when the reader asks for
    it. The scope ends when the stream is exhausted, fails, or is closed;
    an abandoned stream is cancelled when its parent scope ends.

    Raises:
        UsageError: For a bad argument (at once, not on iteration).
    """
    _check_call(name, impl, timeout)
    request = _check_request(request)
    check_json(metadata, "metadata")
    chosen = _codec(codec, request)  # a bad codec fails here, not on iteration
    return LLMStream(name, request, impl, codec=chosen, metadata=metadata, timeout=timeout)


class LLMStream:
    """The chunks of a streamed LLM call; an async iterator and context manager.

    Raises from iteration what the call raised (:class:`GuardrailBlocked`,
    :class:`MiddlewareError`, the provider's error ...), and
    :class:`ScopeCancelled` if its scope was cancelled: a cancelled stream
    never just ends as if it were complete.
    """

    def __init__(
        self,
        name: str,
        request: LLMRequest,
        impl: StreamImpl,
        *,
        codec: LLMCodec | None,
        metadata: JsonValue,
        timeout: float | None,
    ) -> None:
        self._name = name
        self._request = request
        self._impl = impl
        self._codec = codec
        self._metadata = metadata
        self._timeout = timeout
        self._receive: trio.MemoryReceiveChannel[JsonValue] | None = None
        self._scope: Scope | None = None
        self._error: BaseException | None = None
        self._opened = trio.Event()
        self._finished = trio.Event()
        self._closed = False

    @property
    def scope(self) -> Scope | None:
        """The call's Llm scope, once it started."""
        return self._scope

    def __aiter__(self) -> LLMStream:
        return self

    async def __anext__(self) -> JsonValue:
        if self._receive is None:
            await self._start()
        assert self._receive is not None
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            await self._finished.wait()
        self._raise_outcome()
        raise StopAsyncIteration

    async def __aenter__(self) -> LLMStream:
        await trio.lowlevel.checkpoint()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the call if it still runs and wait (shielded, bounded) for its scope to end."""
        self._closed = True
        if self._receive is None:
            await trio.lowlevel.checkpoint()
            return
        self._receive.close()
        if self._scope is not None and not self._finished.is_set():
            self._scope.cancel("stream closed by its reader")
        with trio.move_on_after(END_EVENT_GRACE, shield=True):
            await self._finished.wait()

    def _raise_outcome(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            try:
                raise error
            finally:
                error = None
        if self._scope is not None and self._scope.status == "cancelled":
            raise ScopeCancelled(self._name, self._scope.cancel_reason or "stopped")

    async def _start(self) -> None:
        if self._closed:
            raise UsageError("this LLMStream was closed")
        here = current_scope()
        system = _system_for(here)
        registries = _registries(here)
        chosen = self._codec
        prepared = await _prepare_llm(self._name, self._request, chosen, registries)
        send, self._receive = trio.open_memory_channel[JsonValue](0)
        job = functools.partial(self._produce, system, here, registries, chosen, prepared, send)
        task_name = f"actrio.llm:{self._name}"
        if here is not None:
            cell = here._live_cell()
            nursery = cell._nursery
            assert nursery is not None
            nursery.start_soon(self._produce_in, cell, job, name=task_name)
        else:
            top = system._actors_nursery
            if top is None:
                raise UsageError("the actor system is shutting down; it cannot stream")
            # A fresh context: the call is a top-level scope, not a child of this task.
            start = functools.partial(top.start_soon, self._produce_in, None, job, name=task_name)
            contextvars.Context().run(start)
        await self._opened.wait()

    async def _produce_in(self, cell: _Cell | None, job: Callable[[], Awaitable[None]]) -> None:
        if cell is not None:
            _current_cell.set(cell)
        try:
            await job()
        except Exception as error:  # noqa: BLE001 - handed to the reader, not the parent
            self._error = error
        finally:
            self._opened.set()
            self._finished.set()

    async def _produce(  # noqa: PLR0917 - internal
        self,
        system: ActorSystem,
        here: Scope | None,
        registries: list[MiddlewareRegistry],
        codec: LLMCodec | None,
        prepared: _Prepared,
        send: trio.MemorySendChannel[JsonValue],
    ) -> None:
        async with (
            send,
            open_call_scope(
                system,
                here,
                self._name,
                ScopeType.LLM,
                data=prepared.view,
                metadata=self._metadata,
                timeout=self._timeout,
                annotated_request=prepared.annotated,
            ) as scope,
        ):
            self._scope = scope
            self._opened.set()
            if prepared.early is not None:
                raise prepared.early
            await _check_conditions(
                resolve("llm_conditional_execution", registries),
                self._name,
                scope,
                prepared.request,
            )
            stream = await _open_stream(
                resolve("llm_stream_execution", registries),
                self._name,
                self._impl,
                prepared.request,
            )
            await self._pump(
                scope, stream, send, codec, resolve("llm_sanitize_response", registries)
            )

    async def _pump(
        self,
        scope: Scope,
        stream: AsyncIterator[JsonValue],
        send: trio.MemorySendChannel[JsonValue],
        codec: LLMCodec | None,
        sanitizers: Sequence[Registration],
    ) -> None:
        accumulator = codec.accumulator() if codec is not None else None
        count = 0
        try:
            async for chunk in stream:
                if accumulator is not None and isinstance(chunk, dict):
                    view = await _sanitize_response(sanitizers, self._name, chunk)
                    try:
                        accumulator.feed(view)
                    except CodecError:
                        accumulator = None
                try:
                    await send.send(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    scope.cancel("stream closed by its reader")
                    await trio.lowlevel.checkpoint()
                count += 1
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with trio.move_on_after(END_EVENT_GRACE, shield=True):
                    await aclose()
        scope.end_data = {"chunks": count}
        if accumulator is not None:
            try:
                scope.annotated_response = accumulator.result()
            except CodecError:
                scope.annotated_response = None


async def _open_stream(
    chain: Sequence[Registration], name: str, impl: StreamImpl, request: LLMRequest
) -> AsyncIterator[JsonValue]:
    async def innermost(value: LLMRequest) -> AsyncIterator[JsonValue]:
        result = impl(value)
        if inspect.isawaitable(result):
            result = await result
        return result

    stream = await _wrap(chain, name, innermost, with_name=False)(request)
    if not hasattr(stream, "__anext__"):
        raise UsageError(f"the stream of {name!r} is not an async iterator: {stream!r}")
    return stream  # type: ignore[no-any-return]
