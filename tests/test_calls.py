"""Instrumented calls: ``actrio.tools.execute``, ``actrio.llm.execute`` and ``stream_execute``.

Each call runs as a Tool / Llm scope actor under the current scope; these
tests read its events (after the runtime closed and every subscriber drained),
its cancellation and timeouts, and the life of a streamed call.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing

import actrio
from actrio.codecs import AnthropicMessagesCodec

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# ---------------------------------------------------------------- provider bodies

OPENAI_CHAT_BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "temperature": 0,
    "max_tokens": 16,
}

OPENAI_CHAT_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
}

ANTHROPIC_BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "system": "You are terse.",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]}],
}

ANTHROPIC_RESPONSE: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "4"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 1},
}

HEADERS = {"authorization": "Bearer sk-test-not-a-key"}


def _request(body: dict[str, Any] | None = None) -> actrio.LLMRequest:
    return actrio.LLMRequest(HEADERS, copy.deepcopy(OPENAI_CHAT_BODY if body is None else body))


def _chat_chunks(pieces: list[str]) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-s",
            "object": "chat.completion.chunk",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": piece}) for piece in pieces),
        chunk({}, "stop"),
    ]


def _anthropic_chunks(pieces: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "type": "message_start",
            "message": {
                "id": "msg_s",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [],
                "usage": {"input_tokens": 12, "output_tokens": 0},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
            for p in pieces
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 7},
        },
        {"type": "message_stop"},
    ]


# ---------------------------------------------------------------- helpers


def _of(events: list[actrio.Event], cls: type[Any], name: str) -> list[Any]:
    return [e for e in events if isinstance(e, cls) and e.name == name]


def _one(events: list[actrio.Event], cls: type[Any], name: str) -> Any:
    found = _of(events, cls, name)
    assert len(found) == 1, found
    return found[0]


def _streaming(chunks: list[Any], *, cleanup: list[str] | None = None) -> Any:
    async def impl(_request: actrio.LLMRequest) -> AsyncIterator[Any]:
        try:
            for item in chunks:
                await trio.lowlevel.checkpoint()
                yield item
        finally:
            if cleanup is not None:
                cleanup.append("closed")

    return impl


async def _read_into(stream: AsyncIterator[Any], got: list[Any]) -> None:
    """Read ``stream`` to its end, keeping the chunks in ``got`` even if it raises."""
    async for chunk in stream:
        got.append(chunk)  # noqa: PERF401 - got must keep the chunks read before a raise


async def _echo(args: Any) -> Any:
    await trio.lowlevel.checkpoint()
    return args


# ---------------------------------------------------------------- tools


async def test_tool_call_runs_as_a_tool_scope_under_the_current_scope() -> None:
    events: list[actrio.Event] = []
    inside: list[actrio.Scope | None] = []

    async def add(args: Any) -> Any:
        inside.append(actrio.current_scope())
        await trio.lowlevel.checkpoint()
        return args["a"] + args["b"]

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("agent") as agent:
            result = await actrio.tools.execute(
                "add", {"a": 1, "b": 2}, add, metadata={"trace": "t-1"}
            )
            agent_uuid, agent_path = agent.uuid, agent.path

    assert result == 3
    (scope,) = inside
    assert scope is not None
    assert scope.kind is actrio.ScopeType.TOOL
    assert scope.name == "add"
    assert scope.parent_uuid == agent_uuid
    assert scope.status == "ok"

    started = _one(events, actrio.ScopeStarted, "add")
    ended = _one(events, actrio.ScopeEnded, "add")
    assert started.category == "tool"
    assert started.parent_uuid == agent_uuid
    assert started.uuid == scope.uuid == ended.uuid
    assert started.data == {"a": 1, "b": 2}
    assert started.metadata == {"trace": "t-1"}
    assert started.annotated_request is None
    assert started.path.startswith(agent_path + "/")
    assert ended.category == "tool"
    assert ended.status == "ok"
    assert ended.data == 3
    assert ended.error is None
    assert ended.cancel_reason is None
    assert ended.duration >= 0
    assert started.seq < ended.seq
    # The scope is an actor: the kernel reports it too.
    actor_started = [
        e for e in events if isinstance(e, actrio.ActorStarted) and e.path == started.path
    ]
    actor_exited = [
        e for e in events if isinstance(e, actrio.ActorExited) and e.path == started.path
    ]
    assert len(actor_started) == 1
    assert len(actor_exited) == 1
    assert actor_started[0].actor_id == started.actor_id
    assert actor_started[0].seq < started.seq


async def test_a_top_level_tool_call_has_no_parent() -> None:
    events: list[actrio.Event] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        assert await actrio.tools.execute("ping", {"x": [1, 2]}, _echo) == {"x": [1, 2]}
    started = _one(events, actrio.ScopeStarted, "ping")
    assert started.parent_uuid is None
    assert _one(events, actrio.ScopeEnded, "ping").data == {"x": [1, 2]}


async def test_a_tool_call_also_works_in_a_plain_actor_system() -> None:
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        async with actrio.open_scope("agent"):
            assert await actrio.tools.execute("t", "arg", _echo) == "arg"
    assert _one(events, actrio.ScopeEnded, "t").status == "ok"


async def test_a_non_json_result_is_returned_but_described_in_the_event() -> None:
    events: list[actrio.Event] = []
    marker = object()

    async def tool(_args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        return marker

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        assert await actrio.tools.execute("t", None, tool) is marker
    data = _one(events, actrio.ScopeEnded, "t").data
    assert data["type"] == "object"
    assert data["repr"] == repr(marker)


async def test_a_tool_exception_propagates_unchanged_and_the_scope_ends_error() -> None:
    events: list[actrio.Event] = []
    boom = ConnectionError("no such user")

    async def tool(_args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        raise boom

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        with pytest.raises(ConnectionError) as info:
            await actrio.tools.execute("t", {}, tool)
    assert info.value is boom
    ended = _one(events, actrio.ScopeEnded, "t")
    assert ended.status == "error"
    assert ended.error == actrio.ErrorInfo(type="ConnectionError", message="no such user")
    assert ended.data is None


async def test_a_tool_mutating_its_arguments_does_not_rewrite_the_started_event() -> None:
    events: list[actrio.Event] = []

    async def tool(args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        args["visited"] = True
        args["items"].append("added-by-tool")
        return None

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        await actrio.tools.execute("t", {"items": []}, tool)
    assert _one(events, actrio.ScopeStarted, "t").data == {"items": []}


async def test_tool_timeout_raises_scope_timeout_and_the_scope_ends_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[actrio.Event] = []
    cleaned: list[float] = []

    async def slow(_args: Any) -> Any:
        try:
            await trio.sleep(10)
        finally:
            cleaned.append(trio.current_time())
        return "late"

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        start = trio.current_time()
        with pytest.raises(actrio.ScopeTimeout) as info:
            await actrio.tools.execute("slow", {}, slow, timeout=1.5)
        elapsed = trio.current_time() - start
    assert isinstance(info.value, trio.TooSlowError)
    assert elapsed == pytest.approx(1.5)
    assert cleaned == [pytest.approx(start + 1.5)]  # S-13: cleanup ran under the cancel
    ended = _one(events, actrio.ScopeEnded, "slow")
    assert ended.status == "cancelled"
    assert ended.cancel_reason == "deadline exceeded"
    assert ended.duration == pytest.approx(1.5)


async def test_llm_timeout_raises_scope_timeout(autojump_clock: trio.testing.MockClock) -> None:
    events: list[actrio.Event] = []

    async def slow(_request: actrio.LLMRequest) -> Any:
        await trio.sleep(60)
        return OPENAI_CHAT_RESPONSE

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        with pytest.raises(actrio.ScopeTimeout):
            await actrio.llm.execute("gpt", _request(), slow, timeout=2)
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "cancelled"
    assert ended.duration == pytest.approx(2)


async def test_a_tool_that_finishes_in_time_is_not_affected_by_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def quick(_args: Any) -> Any:
        await trio.sleep(0.5)
        return "done"

    async with actrio.open_runtime():
        assert await actrio.tools.execute("quick", {}, quick, timeout=1) == "done"


async def test_cancelling_the_enclosing_scope_cancels_the_tool_call(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[actrio.Event] = []
    tool_saw: list[str] = []
    entered = trio.Event()
    after_call: list[bool] = []

    async def waiting(_args: Any) -> Any:
        entered.set()
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            tool_saw.append("cancelled")
            raise

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("agent") as agent:

            async def stop_it() -> None:
                await entered.wait()
                await trio.sleep(1)
                agent.cancel("user pressed stop")

            agent.start_soon(stop_it)
            await actrio.tools.execute("wait", {}, waiting)
            after_call.append(True)
        assert agent.cancelled_caught
    assert after_call == []
    assert tool_saw == ["cancelled"]
    ended = _one(events, actrio.ScopeEnded, "wait")
    assert ended.status == "cancelled"
    assert ended.cancel_reason == "user pressed stop"
    agent_end = _one(events, actrio.ScopeEnded, "agent")
    assert agent_end.status == "cancelled"
    assert agent_end.cancel_reason == "user pressed stop"


async def test_cancelling_the_call_scope_itself_raises_scope_cancelled() -> None:
    events: list[actrio.Event] = []
    scopes: list[actrio.Scope] = []

    async def waiting(_args: Any) -> Any:
        scope = actrio.current_scope()
        assert scope is not None
        scopes.append(scope)
        await trio.sleep_forever()

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("agent") as agent:

            async def stop_the_tool() -> None:
                while not scopes:
                    await trio.sleep(0)
                await scopes[0].ref.tell(actrio.ScopeCancel("operator said no"))

            agent.start_soon(stop_the_tool)
            with pytest.raises(actrio.ScopeCancelled, match="operator said no"):
                await actrio.tools.execute("wait", {}, waiting)
        assert not agent.cancelled_caught
    ended = _one(events, actrio.ScopeEnded, "wait")
    assert ended.status == "cancelled"
    assert ended.cancel_reason == "operator said no"
    assert _one(events, actrio.ScopeEnded, "agent").status == "ok"


# ---------------------------------------------------------------- LLM calls


async def test_llm_call_annotates_an_openai_chat_body() -> None:
    events: list[actrio.Event] = []
    got: list[actrio.LLMRequest] = []

    async def model(request: actrio.LLMRequest) -> Any:
        got.append(request)
        await trio.lowlevel.checkpoint()
        return copy.deepcopy(OPENAI_CHAT_RESPONSE)

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("agent") as agent:
            response = await actrio.llm.execute("gpt-4o-mini", _request(), model, metadata={"k": 1})
            agent_uuid = agent.uuid

    assert response == OPENAI_CHAT_RESPONSE
    assert got[0].content == OPENAI_CHAT_BODY
    started = _one(events, actrio.ScopeStarted, "gpt-4o-mini")
    ended = _one(events, actrio.ScopeEnded, "gpt-4o-mini")
    assert started.category == ended.category == "llm"
    assert started.parent_uuid == agent_uuid
    assert started.data == OPENAI_CHAT_BODY  # the body, never the headers
    assert started.metadata == {"k": 1}
    annotated = started.annotated_request
    assert annotated is not None
    assert annotated.api == "openai-chat"
    assert annotated.model == "gpt-4o-mini"
    assert annotated.system_prompt() == "You are terse."
    assert annotated.last_user_message() == "What is 2+2?"
    assert annotated.params == {"temperature": 0, "max_tokens": 16}
    assert ended.status == "ok"
    assert ended.data == OPENAI_CHAT_RESPONSE
    out = ended.annotated_response
    assert out is not None
    assert out.api == "openai-chat"
    assert out.response_text() == "4"
    assert out.finish_reason == "stop"
    assert out.usage == {"input_tokens": 20, "output_tokens": 1, "total_tokens": 21}


async def test_llm_call_annotates_an_anthropic_messages_body() -> None:
    events: list[actrio.Event] = []

    async def model(_request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        return copy.deepcopy(ANTHROPIC_RESPONSE)

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        await actrio.llm.execute("claude", _request(ANTHROPIC_BODY), model)

    started = _one(events, actrio.ScopeStarted, "claude")
    assert started.data == ANTHROPIC_BODY
    annotated = started.annotated_request
    assert annotated is not None
    assert annotated.api == "anthropic-messages"
    assert annotated.model == "claude-sonnet-4-5"
    assert annotated.system_prompt() == "You are terse."
    assert annotated.last_user_message() == "What is 2+2?"
    ended = _one(events, actrio.ScopeEnded, "claude")
    out = ended.annotated_response
    assert out is not None
    assert out.api == "anthropic-messages"
    assert out.response_text() == "4"
    assert out.finish_reason == "stop"
    assert out.usage == {"input_tokens": 12, "output_tokens": 1, "total_tokens": 13}


@pytest.mark.parametrize(
    "codec", ["anthropic-messages", AnthropicMessagesCodec()], ids=["by-name", "instance"]
)
async def test_codec_can_be_chosen_explicitly(codec: Any) -> None:
    events: list[actrio.Event] = []
    # Without Anthropic-only keys this body would be read as OpenAI Chat.
    body = {
        "model": "claude-haiku",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }

    async def model(_request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        return copy.deepcopy(ANTHROPIC_RESPONSE)

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        await actrio.llm.execute("detected", _request(body), model)
        await actrio.llm.execute("chosen", _request(body), model, codec=codec)
    detected = _one(events, actrio.ScopeStarted, "detected").annotated_request
    chosen = _one(events, actrio.ScopeStarted, "chosen").annotated_request
    assert detected is not None
    assert detected.api == "openai-chat"
    assert chosen is not None
    assert chosen.api == "anthropic-messages"
    assert chosen.last_user_message() == "hi"
    chosen_out = _one(events, actrio.ScopeEnded, "chosen").annotated_response
    assert chosen_out is not None
    assert chosen_out.api == "anthropic-messages"


async def test_an_unknown_codec_name_is_a_usage_error_before_the_call() -> None:
    events: list[actrio.Event] = []
    calls: list[Any] = []

    async def model(request: actrio.LLMRequest) -> Any:
        calls.append(request)
        await trio.lowlevel.checkpoint()
        return {}

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        with pytest.raises(actrio.UsageError, match="unknown codec 'gemini'"):
            await actrio.llm.execute("gpt", _request(), model, codec="gemini")
    assert calls == []
    assert [e for e in events if isinstance(e, actrio.ScopeStarted)] == []


async def test_a_body_no_codec_reads_gets_no_annotation_but_the_call_runs() -> None:
    events: list[actrio.Event] = []

    async def model(_request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        return {"text": "completion"}

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        # Not a messages body at all; and a messages body of the wrong shape.
        assert await actrio.llm.execute("legacy", _request({"prompt": "hi"}), model) == {
            "text": "completion"
        }
        await actrio.llm.execute("broken", _request({"messages": 5}), model)
    for name in ("legacy", "broken"):
        assert _one(events, actrio.ScopeStarted, name).annotated_request is None
        ended = _one(events, actrio.ScopeEnded, name)
        assert ended.status == "ok"
        assert ended.annotated_response is None
        assert ended.data == {"text": "completion"}


# ---------------------------------------------------------------- streaming


async def test_a_fully_consumed_stream_ends_ok_with_the_accumulated_response() -> None:
    events: list[actrio.Event] = []
    pieces = ["The ", "answer ", "is ", "4."]
    chunks = _chat_chunks(pieces)
    got: list[Any] = []

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("agent") as agent:
            stream = actrio.llm.stream_execute("gpt", _request(), _streaming(chunks))
            assert stream.scope is None  # nothing runs before the first read
            got.extend([chunk async for chunk in stream])
            assert stream.scope is not None
            assert stream.scope.status == "ok"
            agent_uuid = agent.uuid

    assert got == chunks
    started = _one(events, actrio.ScopeStarted, "gpt")
    assert started.category == "llm"
    assert started.parent_uuid == agent_uuid
    assert started.annotated_request is not None
    assert started.annotated_request.api == "openai-chat"
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "ok"
    assert ended.data == {"chunks": len(chunks)}
    out = ended.annotated_response
    assert out is not None
    assert out.response_text() == "".join(pieces)
    assert out.finish_reason == "stop"


async def test_an_anthropic_stream_is_accumulated() -> None:
    events: list[actrio.Event] = []
    pieces = ["Two ", "plus ", "two ", "is ", "four."]
    chunks = _anthropic_chunks(pieces)

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        got = [
            c
            async for c in actrio.llm.stream_execute(
                "claude", _request(ANTHROPIC_BODY), _streaming(chunks)
            )
        ]
    assert got == chunks
    ended = _one(events, actrio.ScopeEnded, "claude")
    assert ended.data == {"chunks": len(chunks)}
    out = ended.annotated_response
    assert out is not None
    assert out.api == "anthropic-messages"
    assert out.response_text() == "".join(pieces)
    assert out.finish_reason == "stop"
    assert out.usage is not None
    assert out.usage["output_tokens"] == 7


async def test_breaking_early_and_closing_cancels_the_stream_scope() -> None:
    events: list[actrio.Event] = []
    cleanup: list[str] = []
    chunks = _chat_chunks(["a", "b", "c", "d"])

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        stream = actrio.llm.stream_execute("gpt", _request(), _streaming(chunks, cleanup=cleanup))
        got = []
        async for chunk in stream:
            got.append(chunk)
            if len(got) == 2:
                break
        await stream.aclose()
        assert stream.scope is not None
        assert stream.scope.status == "cancelled"
        await stream.aclose()  # idempotent

    assert got == chunks[:2]
    assert cleanup == ["closed"]  # S-13: the provider's cleanup ran
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "cancelled"
    assert ended.cancel_reason == "stream closed by its reader"


async def test_a_closed_stream_cannot_be_read_again() -> None:
    async with actrio.open_runtime():
        stream = actrio.llm.stream_execute("gpt", _request(), _streaming(["x"]))
        await stream.aclose()  # before it started: nothing ran
        assert stream.scope is None
        with pytest.raises(actrio.UsageError, match="closed"):
            await stream.__anext__()


async def test_the_async_with_form_reads_and_closes_the_stream() -> None:
    events: list[actrio.Event] = []
    cleanup: list[str] = []
    chunks = _chat_chunks(["x", "y"])

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.llm.stream_execute("full", _request(), _streaming(chunks)) as stream:
            full = [c async for c in stream]
        async with actrio.llm.stream_execute(
            "partial", _request(), _streaming(chunks, cleanup=cleanup)
        ) as stream:
            async for chunk in stream:
                first = chunk
                break

    assert full == chunks
    assert first == chunks[0]
    assert cleanup == ["closed"]
    assert _one(events, actrio.ScopeEnded, "full").status == "ok"
    partial = _one(events, actrio.ScopeEnded, "partial")
    assert partial.status == "cancelled"
    assert partial.cancel_reason == "stream closed by its reader"


async def test_an_abandoned_stream_is_cancelled_when_its_parent_scope_ends() -> None:
    events: list[actrio.Event] = []
    cleanup: list[str] = []
    chunks = _chat_chunks(["never", "read", "further"])

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("agent"):
            stream = actrio.llm.stream_execute(
                "gpt", _request(), _streaming(chunks, cleanup=cleanup)
            )
            first = await stream.__anext__()
            # The body ends without reading on or closing the stream.
        assert stream.scope is not None
        assert stream.scope.status == "cancelled"

    assert first == chunks[0]
    assert cleanup == ["closed"]
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "cancelled"
    assert ended.cancel_reason is not None
    assert "agent" in ended.cancel_reason
    assert "parent" in ended.cancel_reason
    agent_end = _one(events, actrio.ScopeEnded, "agent")
    assert agent_end.status == "ok"
    assert ended.seq < agent_end.seq


async def test_an_abandoned_top_level_stream_is_cancelled_when_the_runtime_closes() -> None:
    events: list[actrio.Event] = []
    cleanup: list[str] = []
    chunks = _chat_chunks(["a", "b", "c"])
    with trio.fail_after(30):  # the runtime must not wait for the abandoned stream forever
        async with actrio.open_runtime() as rt:
            rt.subscribe(events.append)
            stream = actrio.llm.stream_execute(
                "gpt", _request(), _streaming(chunks, cleanup=cleanup)
            )
            assert await stream.__anext__() == chunks[0]
    assert cleanup == ["closed"]
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "cancelled"
    assert ended.cancel_reason


class ProviderError(Exception):
    pass


async def test_an_impl_raising_mid_stream_reraises_from_iteration() -> None:
    events: list[actrio.Event] = []
    boom = ProviderError("503 overloaded")
    chunks = _chat_chunks(["par", "tial"])

    async def impl(_request: actrio.LLMRequest) -> AsyncIterator[Any]:
        for chunk in chunks[:2]:
            await trio.lowlevel.checkpoint()
            yield chunk
        raise boom

    got: list[Any] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("agent") as agent:
            with pytest.raises(ProviderError) as info:
                await _read_into(actrio.llm.stream_execute("gpt", _request(), impl), got)
        assert agent.status == "ok"  # handed to the reader, not to the parent
    assert info.value is boom
    assert got == chunks[:2]
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "error"
    assert ended.error == actrio.ErrorInfo(type="ProviderError", message="503 overloaded")


async def test_an_impl_failing_before_the_first_chunk_raises_on_first_read() -> None:
    boom = ProviderError("401")

    async def impl(_request: actrio.LLMRequest) -> AsyncIterator[Any]:
        await trio.lowlevel.checkpoint()
        raise boom

    async with actrio.open_runtime():
        stream = actrio.llm.stream_execute("gpt", _request(), impl)
        with pytest.raises(ProviderError) as info:
            await stream.__anext__()
        await stream.aclose()
    assert info.value is boom


async def test_an_impl_returning_a_non_iterator_is_a_usage_error_on_iteration() -> None:
    async def impl(_request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        return ["not", "async"]

    async with actrio.open_runtime():
        with pytest.raises(actrio.UsageError, match="not an async iterator"):
            async for _ in actrio.llm.stream_execute("gpt", _request(), impl):
                pass


async def test_an_awaitable_impl_returning_an_async_iterator_is_accepted() -> None:
    async def impl(request: actrio.LLMRequest) -> AsyncIterator[Any]:
        await trio.lowlevel.checkpoint()
        return _streaming(["a", "b"])(request)

    async with actrio.open_runtime():
        got = [c async for c in actrio.llm.stream_execute("gpt", _request(), impl)]
    assert got == ["a", "b"]


async def test_a_guardrail_blocked_stream_raises_on_first_iteration() -> None:
    events: list[actrio.Event] = []
    calls: list[Any] = []

    def impl(request: actrio.LLMRequest) -> AsyncIterator[Any]:
        calls.append(request)
        return _streaming(["x"])(request)

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        actrio.guardrails.register_llm_conditional_execution("no-stream", 0, lambda _r: "not today")
        stream = actrio.llm.stream_execute("gpt", _request(), impl)  # creating it is fine
        got: list[Any] = []
        with pytest.raises(actrio.GuardrailBlocked) as info:
            await _read_into(stream, got)
        await stream.aclose()
    assert got == []
    assert calls == []
    assert (info.value.guardrail, info.value.reason) == ("no-stream", "not today")
    started = _one(events, actrio.ScopeStarted, "gpt")
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "error"
    assert ended.error is not None
    assert ended.error.type == "GuardrailBlocked"
    (mark,) = [e for e in events if isinstance(e, actrio.Mark)]
    assert (mark.category, mark.parent_uuid) == ("guardrail", started.uuid)


async def test_streaming_at_the_top_level_without_a_scope() -> None:
    events: list[actrio.Event] = []
    chunks = _chat_chunks(["top", "level"])
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        assert actrio.current_scope() is None
        got = [c async for c in actrio.llm.stream_execute("gpt", _request(), _streaming(chunks))]
    assert got == chunks
    started = _one(events, actrio.ScopeStarted, "gpt")
    assert started.parent_uuid is None
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "ok"
    assert ended.data == {"chunks": len(chunks)}
    assert ended.annotated_response is not None
    assert ended.annotated_response.response_text() == "toplevel"


async def test_a_stream_timeout_cancels_it(autojump_clock: trio.testing.MockClock) -> None:
    events: list[actrio.Event] = []

    async def slow(_request: actrio.LLMRequest) -> AsyncIterator[Any]:
        yield "first"
        await trio.sleep(30)
        yield "never"

    got: list[Any] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        with pytest.raises(actrio.ScopeTimeout):
            await _read_into(actrio.llm.stream_execute("gpt", _request(), slow, timeout=5), got)
    assert got == ["first"]
    ended = _one(events, actrio.ScopeEnded, "gpt")
    assert ended.status == "cancelled"
    assert ended.cancel_reason == "deadline exceeded"
    assert ended.duration == pytest.approx(5)


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("name", "args", "impl", "needle"),
    [
        pytest.param("t", {}, "not callable", "impl", id="impl-str"),
        pytest.param("t", {}, None, "impl", id="impl-none"),
        pytest.param("", {}, _echo, "name", id="empty-name"),
        pytest.param(5, {}, _echo, "name", id="int-name"),
        pytest.param("t", object(), _echo, "args", id="object-args"),
        pytest.param("t", {"s": {1, 2}}, _echo, "args", id="set-inside"),
        pytest.param("t", {1: "x"}, _echo, "key", id="int-key"),
        pytest.param("t", {"f": math.nan}, _echo, "args", id="nan"),
    ],
)
async def test_tool_bad_arguments_are_usage_errors_before_any_scope(
    name: Any, args: Any, impl: Any, needle: str
) -> None:
    events: list[actrio.Event] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        with pytest.raises(actrio.UsageError) as info:
            await actrio.tools.execute(name, args, impl)
    assert needle in str(info.value)
    assert [e for e in events if isinstance(e, actrio.ScopeStarted)] == []


async def test_tool_bad_metadata_and_timeout_are_usage_errors() -> None:
    async with actrio.open_runtime():
        with pytest.raises(actrio.UsageError, match="metadata"):
            await actrio.tools.execute("t", {}, _echo, metadata={"x": object()})
        with pytest.raises(actrio.UsageError, match="timeout"):
            await actrio.tools.execute("t", {}, _echo, timeout=-1)
        with pytest.raises(actrio.UsageError, match="timeout"):
            await actrio.tools.execute("t", {}, _echo, timeout="5")  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [math.nan, True], ids=["nan", "bool"])
async def test_call_timeout_is_checked_like_open_scope(timeout: Any) -> None:
    async with actrio.open_runtime():
        with pytest.raises(actrio.UsageError, match="timeout"):
            await actrio.tools.execute("t", {}, _echo, timeout=timeout)


async def test_llm_bad_arguments_are_usage_errors() -> None:
    async with actrio.open_runtime():
        with pytest.raises(actrio.UsageError, match="LLMRequest"):
            await actrio.llm.execute("gpt", OPENAI_CHAT_BODY, _echo)  # type: ignore[arg-type]
        with pytest.raises(actrio.UsageError, match="impl"):
            await actrio.llm.execute("gpt", _request(), 42)  # type: ignore[arg-type]
        with pytest.raises(actrio.UsageError, match="name"):
            await actrio.llm.execute("", _request(), _echo)


@pytest.mark.parametrize(
    ("name", "request_", "impl", "needle"),
    [
        pytest.param("gpt", {"messages": []}, _streaming([]), "LLMRequest", id="dict-request"),
        pytest.param("gpt", None, _streaming([]), "LLMRequest", id="no-request"),
        pytest.param("gpt", "REQUEST", "impl", "impl", id="non-callable"),
        pytest.param("", "REQUEST", _streaming([]), "name", id="empty-name"),
    ],
)
def test_stream_bad_arguments_raise_at_once(
    name: str, request_: Any, impl: Any, needle: str
) -> None:
    if request_ == "REQUEST":
        request_ = _request()
    # No await, no runtime: the call itself raises.
    with pytest.raises(actrio.UsageError) as info:
        actrio.llm.stream_execute(name, request_, impl)
    assert needle in str(info.value)


def test_stream_bad_metadata_raises_at_once() -> None:
    with pytest.raises(actrio.UsageError, match="metadata"):
        actrio.llm.stream_execute("gpt", _request(), _streaming([]), metadata={"bad": {1}})


def test_stream_unknown_codec_name_raises_at_once() -> None:
    with pytest.raises(actrio.UsageError, match="unknown codec"):
        actrio.llm.stream_execute("gpt", _request(), _streaming([]), codec="gemini")


async def test_a_codec_that_is_not_a_codec_is_a_usage_error() -> None:
    async with actrio.open_runtime():
        with pytest.raises(actrio.UsageError, match="codec"):
            await actrio.llm.execute("gpt", _request(), _echo, codec=42)  # type: ignore[arg-type]


async def test_calls_outside_an_actor_system_are_usage_errors() -> None:
    with pytest.raises(actrio.UsageError):
        await actrio.tools.execute("t", {}, _echo)
    with pytest.raises(actrio.UsageError):
        await actrio.llm.execute("gpt", _request(), _echo)
