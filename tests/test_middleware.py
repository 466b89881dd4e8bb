"""Middleware: the registry, and every guardrail and intercept stage through the public API.

Guardrails and intercepts are registered with :mod:`actrio.guardrails` and
:mod:`actrio.intercepts` inside ``actrio.open_runtime()`` (global) or with
``scope=`` (scope-local), and exercised through ``actrio.tools.execute`` and
``actrio.llm.execute`` / ``actrio.llm.stream_execute``. Events are read
after the runtime has closed, when every subscriber has drained.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import trio
import trio.testing

import actrio
from actrio import guardrails, intercepts
from actrio._wire import converter
from actrio.middleware import GUARDRAIL_STAGES, INTERCEPT_STAGES, MiddlewareRegistry
from actrio.middleware._registry import resolve

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

CANARY = "sk-test-canary"

# ---------------------------------------------------------------- helpers


def _noop(*_: Any) -> None:
    return None


def _started(events: list[actrio.Event], name: str) -> list[actrio.ScopeStarted]:
    return [e for e in events if isinstance(e, actrio.ScopeStarted) and e.name == name]


def _ended(events: list[actrio.Event], name: str) -> list[actrio.ScopeEnded]:
    return [e for e in events if isinstance(e, actrio.ScopeEnded) and e.name == name]


def _one_started(events: list[actrio.Event], name: str) -> actrio.ScopeStarted:
    found = _started(events, name)
    assert len(found) == 1, found
    return found[0]


def _one_ended(events: list[actrio.Event], name: str) -> actrio.ScopeEnded:
    found = _ended(events, name)
    assert len(found) == 1, found
    return found[0]


def _marks(events: list[actrio.Event]) -> list[actrio.Mark]:
    return [e for e in events if isinstance(e, actrio.Mark)]


def _flavored(fn: Callable[..., Any], flavor: str) -> Callable[..., Any]:
    """``fn`` itself (sync), or an async function returning its result."""
    if flavor == "sync":
        return fn

    async def async_fn(*args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        return fn(*args)

    return async_fn


async def _echo(args: Any) -> Any:
    await trio.lowlevel.checkpoint()
    return args


def _chat_request(user: str = "my ssn is 123-45-6789") -> actrio.LLMRequest:
    return actrio.LLMRequest(
        {"authorization": f"Bearer {CANARY}", "content-type": "application/json"},
        {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": user},
            ],
            "temperature": 0,
        },
    )


def _chat_response(text: str = "noted: 123-45-6789") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }


def _redact_text(text: str) -> str:
    return text.replace("123-45-6789", "[SSN]")


# ---------------------------------------------------------------- the registry


def test_register_returns_the_registration() -> None:
    registry = MiddlewareRegistry()
    reg = registry.register("tool_request", "tag", 5, _noop, owner="plugin-x")
    assert (reg.stage, reg.name, reg.priority, reg.owner) == ("tool_request", "tag", 5, "plugin-x")
    assert reg.fn is _noop
    assert registry.entries("tool_request") == (reg,)
    assert registry.entries("tool_execution") == ()
    assert len(registry) == 1


def test_same_name_same_stage_replaces_and_counts_as_registered_last() -> None:
    registry = MiddlewareRegistry()
    first = registry.register("tool_request", "a", 1, _noop)
    b = registry.register("tool_request", "b", 1, _noop)

    def other(*_: Any) -> None:
        return None

    replacement = registry.register("tool_request", "a", 1, other)
    assert registry.entries("tool_request") == (b, replacement)
    assert registry.entries("tool_request")[1].fn is other
    assert first not in registry.entries("tool_request")
    assert len(registry) == 2
    # The replacement takes its new priority.
    moved = registry.register("tool_request", "a", 0, other)
    assert registry.entries("tool_request") == (moved, b)


def test_same_name_on_another_stage_is_a_separate_registration() -> None:
    registry = MiddlewareRegistry()
    a = registry.register("tool_request", "x", 0, _noop)
    b = registry.register("tool_execution", "x", 0, _noop)
    assert registry.entries("tool_request") == (a,)
    assert registry.entries("tool_execution") == (b,)
    assert len(registry) == 2


def test_deregister_reports_whether_there_was_one() -> None:
    registry = MiddlewareRegistry()
    registry.register("llm_request", "a", 0, _noop)
    keep = registry.register("llm_request", "b", 0, _noop)
    assert registry.deregister("llm_request", "a") is True
    assert registry.deregister("llm_request", "a") is False
    assert registry.deregister("llm_execution", "b") is False  # other stage
    assert registry.deregister("tool_request", "never") is False  # stage never used
    assert registry.entries("llm_request") == (keep,)


def test_remove_removes_exactly_that_registration() -> None:
    registry = MiddlewareRegistry()
    old = registry.register("tool_request", "a", 0, _noop)
    new = registry.register("tool_request", "a", 0, _noop)
    assert registry.remove(old) is False  # replaced: a later one of the same name stays
    assert registry.entries("tool_request") == (new,)
    assert registry.remove(new) is True
    assert registry.entries("tool_request") == ()
    assert registry.remove(new) is False


def test_remove_owner_removes_every_stage_of_that_owner_only() -> None:
    registry = MiddlewareRegistry()
    registry.register("tool_request", "a", 0, _noop, owner="p")
    registry.register("llm_execution", "b", 0, _noop, owner="p")
    registry.register("tool_sanitize_request", "c", 0, _noop, owner="p")
    mine = registry.register("tool_request", "d", 0, _noop, owner="q")
    plain = registry.register("llm_execution", "e", 0, _noop)
    assert registry.remove_owner("p") == 3
    assert registry.entries("tool_request") == (mine,)
    assert registry.entries("llm_execution") == (plain,)
    assert registry.entries("tool_sanitize_request") == ()
    assert registry.remove_owner("p") == 0
    assert len(registry) == 2


@pytest.mark.parametrize(
    ("stage", "name", "priority", "fn", "needle"),
    [
        ("tool_nonsense", "a", 0, _noop, "'tool_nonsense'"),
        ("tool_request", "", 0, _noop, "name"),
        ("tool_request", 7, 0, _noop, "7"),
        ("tool_request", "a", "1", _noop, "priority of 'a'"),
        ("tool_request", "a", 1.5, _noop, "1.5"),
        ("tool_request", "a", True, _noop, "priority of 'a'"),
        ("tool_request", "a", 0, 42, "'a' must be callable"),
    ],
    ids=["stage", "empty-name", "int-name", "str-priority", "float-priority", "bool", "fn"],
)
def test_register_rejects_bad_arguments_naming_them(
    stage: Any, name: Any, priority: Any, fn: Any, needle: str
) -> None:
    registry = MiddlewareRegistry()
    with pytest.raises(actrio.UsageError) as info:
        registry.register(stage, name, priority, fn)
    assert needle in str(info.value)
    assert len(registry) == 0


def test_entries_run_by_priority_then_registration_order() -> None:
    registry = MiddlewareRegistry()
    c = registry.register("tool_execution", "c", 10, _noop)
    a = registry.register("tool_execution", "a", -3, _noop)
    b1 = registry.register("tool_execution", "b1", 0, _noop)
    b2 = registry.register("tool_execution", "b2", 0, _noop)
    assert registry.entries("tool_execution") == (a, b1, b2, c)
    registry.deregister("tool_execution", "b1")
    assert registry.entries("tool_execution") == (a, b2, c)  # the cached order is refreshed


def test_resolve_merges_by_priority_then_tier_then_registration_order() -> None:
    runtime, outer, inner = MiddlewareRegistry(), MiddlewareRegistry(), MiddlewareRegistry()
    # Registered inner-first, so registration counters alone would put the inner first.
    i0 = inner.register("tool_request", "i0", 0, _noop)
    i_neg = inner.register("tool_request", "i-neg", -1, _noop)
    o0 = outer.register("tool_request", "o0", 0, _noop)
    o5 = outer.register("tool_request", "o5", 5, _noop)
    r0a = runtime.register("tool_request", "r0a", 0, _noop)
    r0b = runtime.register("tool_request", "r0b", 0, _noop)
    order = resolve("tool_request", [runtime, outer, inner])
    assert [r.name for r in order] == ["i-neg", "r0a", "r0b", "o0", "i0", "o5"]
    assert order == (i_neg, r0a, r0b, o0, i0, o5)


def test_resolve_of_nothing_or_one_registry() -> None:
    runtime, empty = MiddlewareRegistry(), MiddlewareRegistry()
    assert resolve("llm_execution", []) == ()
    assert resolve("llm_execution", [runtime, empty]) == ()
    a = runtime.register("llm_execution", "a", 2, _noop)
    b = runtime.register("llm_execution", "b", 1, _noop)
    assert resolve("llm_execution", [runtime, empty]) == (b, a)
    assert resolve("llm_request", [runtime, empty]) == ()


# ---------------------------------------------------------------- public registration

PAIRS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    *(
        (
            stage,
            getattr(guardrails, f"register_{stage}"),
            getattr(guardrails, f"deregister_{stage}"),
        )
        for stage in GUARDRAIL_STAGES
    ),
    *(
        (
            stage,
            getattr(intercepts, f"register_{stage}"),
            getattr(intercepts, f"deregister_{stage}"),
        )
        for stage in INTERCEPT_STAGES
    ),
]


def test_every_stage_has_a_public_register_and_deregister_function() -> None:
    assert len(PAIRS) == 10
    assert {stage for stage, _, _ in PAIRS} == set(GUARDRAIL_STAGES) | set(INTERCEPT_STAGES)


@pytest.mark.parametrize(("stage", "register", "deregister"), PAIRS, ids=[p[0] for p in PAIRS])
async def test_public_functions_register_globally_and_on_a_scope(
    stage: str, register: Callable[..., Any], deregister: Callable[..., Any]
) -> None:
    async with actrio.open_runtime() as rt:
        reg = register("mw", 3, _noop)
        assert (reg.stage, reg.name, reg.priority, reg.fn) == (stage, "mw", 3, _noop)
        assert rt.middleware.entries(stage) == (reg,)
        async with actrio.open_scope("agent") as scope:
            local = register("mw", 1, _noop, scope=scope)
            assert scope.middleware.entries(stage) == (local,)
            assert rt.middleware.entries(stage) == (reg,)  # the global one is untouched
            assert deregister("mw", scope=scope) is True
            assert deregister("mw", scope=scope) is False
            assert scope.middleware.entries(stage) == ()
        assert deregister("mw") is True
        assert deregister("mw") is False
        assert len(rt.middleware) == 0


@pytest.mark.parametrize(("stage", "register", "deregister"), PAIRS, ids=[p[0] for p in PAIRS])
async def test_registering_outside_a_runtime_without_scope_is_a_usage_error(
    stage: str, register: Callable[..., Any], deregister: Callable[..., Any]
) -> None:
    with pytest.raises(actrio.UsageError, match="runtime"):
        register("mw", 0, _noop)
    with pytest.raises(actrio.UsageError, match="runtime"):
        deregister("mw")
    # An actor system alone is not a runtime either.
    async with actrio.open_actor_system():
        with pytest.raises(actrio.UsageError, match="runtime"):
            register("mw", 0, _noop)
    assert stage in GUARDRAIL_STAGES + INTERCEPT_STAGES


async def test_scope_middleware_works_in_a_plain_actor_system() -> None:
    async with actrio.open_actor_system(), actrio.open_scope("agent") as scope:
        intercepts.register_tool_request("tag", 0, lambda _n, a: {**a, "tagged": True}, scope=scope)
        assert await actrio.tools.execute("t", {}, _echo) == {"tagged": True}


async def test_scope_argument_must_be_a_scope() -> None:
    async with actrio.open_runtime():
        with pytest.raises(actrio.UsageError, match="scope must be a Scope"):
            guardrails.register_tool_sanitize_request("x", 0, _noop, scope="agent")  # type: ignore[arg-type]


async def test_register_validation_errors_surface_through_public_functions() -> None:
    async with actrio.open_runtime() as rt:
        with pytest.raises(actrio.UsageError, match="'bad' must be callable"):
            intercepts.register_tool_execution("bad", 0, None)  # type: ignore[arg-type]
        with pytest.raises(actrio.UsageError, match="priority of 'p'"):
            guardrails.register_llm_sanitize_request("p", "high", _noop)  # type: ignore[arg-type]
        assert len(rt.middleware) == 0


# ---------------------------------------------------------------- tool sanitize-request


async def test_tool_sanitize_request_changes_only_the_started_event_data() -> None:
    events: list[actrio.Event] = []
    received: list[Any] = []
    seen_by_sanitizer: list[tuple[str, Any]] = []

    async def tool(args: Any) -> Any:
        received.append(copy.deepcopy(args))
        await trio.lowlevel.checkpoint()
        return {"ok": True}

    def redact_in_place(name: str, args: Any) -> Any:
        seen_by_sanitizer.append((name, copy.deepcopy(args)))
        args["password"] = "***"  # mutates what it was given ...
        args["nested"]["token"] = "***"  # ... down to nested values
        args["nested"]["list"].append("extra")
        return args

    original = {"user": "ada", "password": "hunter2", "nested": {"token": "t0k", "list": [1]}}
    pristine = copy.deepcopy(original)
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        guardrails.register_tool_sanitize_request("redact", 0, redact_in_place)
        result = await actrio.tools.execute("login", original, tool)

    assert result == {"ok": True}
    assert received == [pristine]  # the tool got the real arguments
    assert original == pristine  # the caller's value is untouched
    assert seen_by_sanitizer == [("login", pristine)]
    started = _one_started(events, "login")
    assert started.data == {
        "user": "ada",
        "password": "***",
        "nested": {"token": "***", "list": [1, "extra"]},
    }
    assert _one_ended(events, "login").data == {"ok": True}


async def test_conditional_guardrails_judge_the_real_arguments_not_the_sanitized_view() -> None:
    judged: list[Any] = []

    def judge(_name: str, args: Any) -> str | None:
        judged.append(args)
        return "rm is not allowed" if args["cmd"].startswith("rm") else None

    async with actrio.open_runtime():
        # The sanitizer hides the command from observability; the guard must still see it.
        guardrails.register_tool_sanitize_request("hide", 0, lambda _n, a: {**a, "cmd": "***"})
        guardrails.register_tool_conditional_execution("judge", 0, judge)
        with pytest.raises(actrio.GuardrailBlocked, match="rm is not allowed"):
            await actrio.tools.execute("shell", {"cmd": "rm -rf /"}, _echo)
    assert judged == [{"cmd": "rm -rf /"}]


async def test_tool_sanitizers_chain_in_priority_order() -> None:
    events: list[actrio.Event] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        guardrails.register_tool_sanitize_request(
            "second", 20, lambda _n, a: {**a, "trail": [*a["trail"], "second"]}
        )
        guardrails.register_tool_sanitize_request(
            "first", 10, lambda _n, a: {**a, "trail": [*a["trail"], "first"]}
        )
        got = await actrio.tools.execute("t", {"trail": []}, _echo)
    assert got == {"trail": []}
    assert _one_started(events, "t").data == {"trail": ["first", "second"]}


async def test_a_raising_tool_sanitizer_fails_the_call_before_the_tool_runs() -> None:
    events: list[actrio.Event] = []
    calls: list[Any] = []

    async def tool(args: Any) -> Any:
        calls.append(args)
        await trio.lowlevel.checkpoint()
        return args

    cause = KeyError("no such field")

    def broken(_name: str, _args: Any) -> Any:
        raise cause

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        guardrails.register_tool_sanitize_request("broken", 0, broken)
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.tools.execute("t", {"a": 1}, tool)
    assert calls == []
    err = info.value
    assert (err.middleware, err.stage, err.target) == ("broken", "tool_sanitize_request", "t")
    assert err.error is cause
    assert err.__cause__ is cause
    # The scope still opened and closed, without showing the unsanitized arguments.
    assert _one_started(events, "t").data is None
    ended = _one_ended(events, "t")
    assert ended.status == "error"
    assert ended.error is not None
    assert ended.error.type == "MiddlewareError"


# ---------------------------------------------------------------- tool conditional-execution


async def test_tool_conditional_execution_blocks_with_a_guardrail_mark() -> None:
    events: list[actrio.Event] = []
    calls: list[Any] = []

    async def shell(args: Any) -> Any:
        calls.append(args)
        await trio.lowlevel.checkpoint()
        return "done"

    def deny_rm(name: str, args: Any) -> str | None:
        assert name == "shell"
        return "no deleting files" if args.get("cmd") == "rm" else None

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        guardrails.register_tool_conditional_execution("deny-rm", 0, deny_rm)
        async with actrio.open_scope("agent") as agent:
            with pytest.raises(actrio.GuardrailBlocked) as info:
                await actrio.tools.execute("shell", {"cmd": "rm"}, shell)
            assert await actrio.tools.execute("shell", {"cmd": "ls"}, shell) == "done"
            agent_uuid = agent.uuid

    assert calls == [{"cmd": "ls"}]  # the blocked call never ran
    blocked = info.value
    assert (blocked.guardrail, blocked.target, blocked.reason) == (
        "deny-rm",
        "shell",
        "no deleting files",
    )
    assert "no deleting files" in str(blocked)
    ends = _ended(events, "shell")
    assert [e.status for e in ends] == ["error", "ok"]
    assert ends[0].error is not None
    assert ends[0].error.type == "GuardrailBlocked"
    blocked_start = next(s for s in _started(events, "shell") if s.uuid == ends[0].uuid)
    assert blocked_start.parent_uuid == agent_uuid
    assert blocked_start.data == {"cmd": "rm"}  # the Tool scope did start
    (mark,) = _marks(events)
    assert mark.category == "guardrail"
    assert mark.name == "deny-rm"
    assert mark.parent_uuid == blocked_start.uuid  # under the Tool scope
    assert mark.path == blocked_start.path
    assert mark.data == {
        "stage": "tool_conditional_execution",
        "target": "shell",
        "reason": "no deleting files",
    }
    assert blocked_start.seq < mark.seq < ends[0].seq


async def test_tool_conditional_guardrails_stop_at_the_first_reason() -> None:
    asked: list[str] = []

    def guard(name: str, reason: str | None) -> Callable[[str, Any], str | None]:
        def check(_tool: str, _args: Any) -> str | None:
            asked.append(name)
            return reason

        return check

    async with actrio.open_runtime():
        guardrails.register_tool_conditional_execution("c", 3, guard("c", "never asked"))
        guardrails.register_tool_conditional_execution("a", 1, guard("a", None))
        guardrails.register_tool_conditional_execution("b", 2, guard("b", "b says no"))
        with pytest.raises(actrio.GuardrailBlocked) as info:
            await actrio.tools.execute("t", {}, _echo)
    assert asked == ["a", "b"]
    assert info.value.guardrail == "b"


async def test_a_conditional_guardrail_returning_a_non_string_is_a_middleware_error() -> None:
    async with actrio.open_runtime():
        guardrails.register_tool_conditional_execution("truthy", 0, lambda _n, _a: True)
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.tools.execute("t", {}, _echo)
    assert info.value.middleware == "truthy"
    assert info.value.stage == "tool_conditional_execution"
    assert isinstance(info.value.error, TypeError)
    assert "bool" in str(info.value)


# ---------------------------------------------------------------- LLM sanitize / conditional


async def test_llm_sanitize_request_and_response_change_only_event_data() -> None:
    events: list[actrio.Event] = []
    impl_saw: list[actrio.LLMRequest] = []
    response = _chat_response()
    pristine_response = copy.deepcopy(response)

    async def model(request: actrio.LLMRequest) -> Any:
        impl_saw.append(request)
        await trio.lowlevel.checkpoint()
        return response

    def redact_request(request: actrio.LLMRequest) -> actrio.LLMRequest:
        # In place, on the copy it was given ...
        request.content["messages"][1]["content"] = _redact_text(
            request.content["messages"][1]["content"]
        )
        # ... and a replaced body.
        return request.with_content({**request.content, "model": "redacted-model"})

    def redact_response(body: dict[str, Any]) -> dict[str, Any]:
        message = body["choices"][0]["message"]
        message["content"] = _redact_text(message["content"])
        return body

    request = _chat_request()
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        guardrails.register_llm_sanitize_request("redact-req", 0, redact_request)
        guardrails.register_llm_sanitize_response("redact-resp", 0, redact_response)
        got = await actrio.llm.execute("gpt", request, model)

    # The call itself is untouched.
    assert got is response
    assert response == pristine_response
    (seen,) = impl_saw
    assert seen.content["messages"][1]["content"] == "my ssn is 123-45-6789"
    assert seen.content["model"] == "gpt-4o-mini"
    assert seen.headers["authorization"] == f"Bearer {CANARY}"
    # What observability sees is sanitized.
    started = _one_started(events, "gpt")
    assert started.category == "llm"
    assert started.data["messages"][1]["content"] == "my ssn is [SSN]"
    assert started.data["model"] == "redacted-model"
    assert started.annotated_request is not None
    assert started.annotated_request.last_user_message() == "my ssn is [SSN]"
    assert started.annotated_request.model == "redacted-model"
    ended = _one_ended(events, "gpt")
    assert ended.status == "ok"
    assert ended.data["choices"][0]["message"]["content"] == "noted: [SSN]"
    assert ended.annotated_response is not None
    assert ended.annotated_response.response_text() == "noted: [SSN]"


async def test_an_intercepts_annotation_cannot_bypass_request_sanitizing() -> None:
    events: list[actrio.Event] = []

    def annotate(
        _name: str, request: actrio.LLMRequest, annotated: actrio.AnnotatedLLMRequest | None
    ) -> tuple[actrio.LLMRequest, actrio.AnnotatedLLMRequest | None]:
        assert annotated is not None
        return request, attrs.evolve(annotated, extra={"from": "intercept"})

    def redact(request: actrio.LLMRequest) -> actrio.LLMRequest:
        messages = [
            {**m, "content": _redact_text(m["content"])} for m in request.content["messages"]
        ]
        return request.with_content({**request.content, "messages": messages})

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_llm_request("annotate", 0, annotate)
        guardrails.register_llm_sanitize_request("redact", 0, redact)
        await actrio.llm.execute("gpt", _chat_request(), _echo)
    started = _one_started(events, "gpt")
    assert started.annotated_request is not None
    # The annotation is read again from the sanitized body, so the SSN does not leak.
    assert started.annotated_request.last_user_message() == "my ssn is [SSN]"
    assert "123-45-6789" not in json.dumps(converter.unstructure(started))


async def test_stream_sanitize_response_changes_only_the_accumulated_annotation() -> None:
    events: list[actrio.Event] = []
    pieces = ["your ssn ", "123-45-6789", " is noted"]

    async def impl(_request: actrio.LLMRequest) -> AsyncIterator[Any]:
        for piece in pieces:
            await trio.lowlevel.checkpoint()
            yield {
                "id": "chatcmpl-s",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }

    def redact(chunk: dict[str, Any]) -> dict[str, Any]:
        delta = chunk["choices"][0]["delta"]
        delta["content"] = delta["content"].replace("123-45-6789", "[SSN]")
        return chunk

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        guardrails.register_llm_sanitize_response("redact", 0, redact)
        got = [c async for c in actrio.llm.stream_execute("gpt", _chat_request(), impl)]
    assert "".join(c["choices"][0]["delta"]["content"] for c in got) == "".join(pieces)
    ended = _one_ended(events, "gpt")
    assert ended.annotated_response is not None
    assert ended.annotated_response.response_text() == "your ssn [SSN] is noted"


async def test_llm_sanitize_request_returning_a_non_request_is_a_middleware_error() -> None:
    calls: list[Any] = []

    async def model(request: actrio.LLMRequest) -> Any:
        calls.append(request)
        await trio.lowlevel.checkpoint()
        return {}

    async with actrio.open_runtime():
        guardrails.register_llm_sanitize_request("dicty", 0, lambda r: dict(r.content))
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.llm.execute("gpt", _chat_request(), model)
    assert calls == []
    assert (info.value.middleware, info.value.stage) == ("dicty", "llm_sanitize_request")
    assert isinstance(info.value.error, TypeError)


async def test_headers_never_appear_in_any_event_se03() -> None:
    """SE-03: credentials in request headers never reach an event, whatever the path."""
    events: list[actrio.Event] = []
    seen_headers: list[str] = []

    async def model(request: actrio.LLMRequest) -> Any:
        seen_headers.append(request.headers["authorization"])
        await trio.lowlevel.checkpoint()
        return _chat_response()

    async def failing_model(request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        raise RuntimeError(f"provider rejected {request!r} / {request}")

    async def streamed(request: actrio.LLMRequest) -> AsyncIterator[Any]:
        seen_headers.append(request.headers["authorization"])
        yield {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}}]}

    def sanitize(request: actrio.LLMRequest) -> actrio.LLMRequest:
        return request.with_content({**request.content, "temperature": 1})

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("agent"):
            # Plain call, no middleware.
            await actrio.llm.execute("plain", _chat_request(), model)
            # Failing provider whose message shows the request.
            with pytest.raises(RuntimeError):
                await actrio.llm.execute("failing", _chat_request(), failing_model)
            # Blocked by a guardrail.
            guardrails.register_llm_conditional_execution(
                "deny-blocked", 0, lambda r: "no" if r.content.get("model") == "blocked" else None
            )
            blocked = _chat_request().with_content({"model": "blocked", "messages": []})
            with pytest.raises(actrio.GuardrailBlocked):
                await actrio.llm.execute("blocked", blocked, model)
            # Streamed.
            async for _ in actrio.llm.stream_execute("streamed", _chat_request(), streamed):
                pass
            # With a sanitizer and a request intercept that adds another credential.
            guardrails.register_llm_sanitize_request("temp", 0, sanitize)
            intercepts.register_llm_request(
                "key", 0, lambda _n, r, a: (r.with_headers({"x-api-key": CANARY}), a)
            )
            await actrio.llm.execute("sanitized", _chat_request(), model)

    assert seen_headers == [f"Bearer {CANARY}"] * 3  # the provider did get the credential
    assert {"plain", "failing", "blocked", "streamed", "sanitized"} <= {
        e.name for e in events if isinstance(e, actrio.ScopeEnded)
    }
    failing = _one_ended(events, "failing")
    assert failing.error is not None
    assert "REDACTED" in failing.error.message
    for event in events:
        line = json.dumps(converter.unstructure(event))
        assert CANARY not in line, line
        assert "Bearer" not in line, line


async def test_llm_conditional_execution_blocks_the_call() -> None:
    events: list[actrio.Event] = []
    calls: list[Any] = []

    async def model(request: actrio.LLMRequest) -> Any:
        calls.append(request)
        await trio.lowlevel.checkpoint()
        return _chat_response()

    async def budget(request: actrio.LLMRequest) -> str | None:
        await trio.lowlevel.checkpoint()
        return "model too expensive" if request.content["model"] == "gpt-4-32k" else None

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        guardrails.register_llm_conditional_execution("budget", 0, budget)
        expensive = _chat_request().with_content({**_chat_request().content, "model": "gpt-4-32k"})
        with pytest.raises(actrio.GuardrailBlocked) as info:
            await actrio.llm.execute("big", expensive, model)
        await actrio.llm.execute("small", _chat_request(), model)

    assert len(calls) == 1
    assert calls[0].content["model"] == "gpt-4o-mini"
    assert (info.value.guardrail, info.value.target, info.value.reason) == (
        "budget",
        "big",
        "model too expensive",
    )
    started = _one_started(events, "big")
    ended = _one_ended(events, "big")
    assert ended.status == "error"
    assert ended.error is not None
    assert ended.error.type == "GuardrailBlocked"
    (mark,) = _marks(events)
    assert (mark.category, mark.name, mark.parent_uuid) == ("guardrail", "budget", started.uuid)
    assert mark.data == {
        "stage": "llm_conditional_execution",
        "target": "big",
        "reason": "model too expensive",
    }
    assert _one_ended(events, "small").status == "ok"


async def test_a_raising_llm_sanitize_response_fails_the_call() -> None:
    async def model(_request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        return _chat_response()

    async with actrio.open_runtime():
        guardrails.register_llm_sanitize_response("bad", 0, lambda _body: None)
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.llm.execute("gpt", _chat_request(), model)
    assert (info.value.middleware, info.value.stage) == ("bad", "llm_sanitize_response")
    assert isinstance(info.value.error, TypeError)


# ---------------------------------------------------------------- tool request intercepts


async def test_tool_request_intercepts_rewrite_what_the_tool_gets() -> None:
    events: list[actrio.Event] = []
    received: list[Any] = []

    async def search(args: Any) -> Any:
        received.append(args)
        await trio.lowlevel.checkpoint()
        return len(args["query"])

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_tool_request("limit", 2, lambda _n, a: {**a, "limit": 10})
        intercepts.register_tool_request(
            "strip", 1, lambda _n, a: {**a, "query": a["query"].strip()}
        )
        result = await actrio.tools.execute("search", {"query": "  trio  "}, search)
    assert received == [{"query": "trio", "limit": 10}]
    assert result == 4
    # The event shows the arguments that ran.
    assert _one_started(events, "search").data == {"query": "trio", "limit": 10}


async def test_a_raising_tool_request_intercept_is_a_middleware_error() -> None:
    calls: list[Any] = []

    async def tool(args: Any) -> Any:
        calls.append(args)
        await trio.lowlevel.checkpoint()

    cause = ValueError("bad query")

    async def reject(_name: str, _args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        raise cause

    async with actrio.open_runtime():
        intercepts.register_tool_request("reject", 0, reject)
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.tools.execute("search", {}, tool)
    assert calls == []
    assert (info.value.middleware, info.value.stage, info.value.target) == (
        "reject",
        "tool_request",
        "search",
    )
    assert info.value.__cause__ is cause
    assert "reject" in str(info.value)


# ---------------------------------------------------------------- execution intercepts


def _tracing(trail: list[str], label: str) -> Callable[..., Any]:
    async def wrap(name: str, args: Any, next_: Callable[[Any], Any]) -> Any:
        trail.append(f"enter {label}")
        result = await next_({**args, "via": [*args.get("via", []), label]})
        trail.append(f"exit {label}")
        return {"result": result, "by": label}

    return wrap


async def test_tool_execution_intercepts_wrap_lowest_priority_outermost() -> None:
    events: list[actrio.Event] = []
    trail: list[str] = []

    async def tool(args: Any) -> Any:
        trail.append("tool")
        await trio.lowlevel.checkpoint()
        return args["via"]

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_tool_execution("ten", 10, _tracing(trail, "ten"))
        intercepts.register_tool_execution("one", 1, _tracing(trail, "one"))
        intercepts.register_tool_execution("five", 5, _tracing(trail, "five"))
        result = await actrio.tools.execute("t", {}, tool)
    assert trail == [
        "enter one",
        "enter five",
        "enter ten",
        "tool",
        "exit ten",
        "exit five",
        "exit one",
    ]
    assert result == {
        "result": {"result": {"result": ["one", "five", "ten"], "by": "ten"}, "by": "five"},
        "by": "one",
    }
    assert _one_ended(events, "t").data == result


async def test_llm_execution_intercepts_wrap_lowest_priority_outermost() -> None:
    trail: list[str] = []

    async def model(request: actrio.LLMRequest) -> Any:
        trail.append(f"model {request.headers.get('x-trace')}")
        await trio.lowlevel.checkpoint()
        return _chat_response("hi")

    def layer(label: str) -> Callable[..., Any]:
        async def wrap(name: str, request: actrio.LLMRequest, next_: Any) -> Any:
            assert name == "gpt"
            trail.append(f"enter {label}")
            trace = f"{request.headers.get('x-trace', '')}{label}"
            response = await next_(request.with_headers({"x-trace": trace}))
            trail.append(f"exit {label}")
            return response

        return wrap

    async with actrio.open_runtime():
        intercepts.register_llm_execution("b", 2, layer("b"))
        intercepts.register_llm_execution("a", 1, layer("a"))
        response = await actrio.llm.execute("gpt", _chat_request(), model)
    assert trail == ["enter a", "enter b", "model ab", "exit b", "exit a"]
    assert response["choices"][0]["message"]["content"] == "hi"


async def test_an_execution_intercept_can_short_circuit() -> None:
    events: list[actrio.Event] = []
    calls: list[Any] = []

    async def tool(args: Any) -> Any:
        calls.append(args)
        await trio.lowlevel.checkpoint()
        return "fresh"

    async def model(request: actrio.LLMRequest) -> Any:
        calls.append(request)
        await trio.lowlevel.checkpoint()
        return _chat_response()

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_tool_execution("cache", 0, lambda _n, _a, _next: {"cached": True})
        intercepts.register_llm_execution(
            "cache", 0, lambda _n, _r, _next: _chat_response("cached")
        )
        assert await actrio.tools.execute("t", {}, tool) == {"cached": True}
        response = await actrio.llm.execute("gpt", _chat_request(), model)
    assert response["choices"][0]["message"]["content"] == "cached"
    assert calls == []
    assert _one_ended(events, "t").data == {"cached": True}
    llm_end = _one_ended(events, "gpt")
    assert llm_end.status == "ok"
    assert llm_end.annotated_response is not None
    assert llm_end.annotated_response.response_text() == "cached"


class ToolBroke(Exception):
    pass


async def test_the_callees_own_exception_passes_through_intercepts_unchanged() -> None:
    events: list[actrio.Event] = []
    boom = ToolBroke("disk full")

    async def tool(_args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        raise boom

    async def plain(_name: str, args: Any, next_: Any) -> Any:
        return await next_(args)

    rethrown: list[BaseException] = []

    async def rethrowing(_name: str, args: Any, next_: Any) -> Any:
        try:
            return await next_(args)
        except ToolBroke as error:
            rethrown.append(error)
            raise

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_tool_execution("plain", 0, plain)
        intercepts.register_tool_execution("rethrowing", 1, rethrowing)
        with pytest.raises(ToolBroke) as info:
            await actrio.tools.execute("t", {}, tool)
    assert info.value is boom
    assert rethrown == [boom]
    assert rethrown[0] is boom
    ended = _one_ended(events, "t")
    assert ended.status == "error"
    assert ended.error == actrio.ErrorInfo(type="ToolBroke", message="disk full")


async def test_the_llm_callees_own_exception_passes_through_unchanged() -> None:
    boom = ToolBroke("rate limited")

    async def model(_request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        raise boom

    async with actrio.open_runtime():
        intercepts.register_llm_execution("pass", 0, lambda _n, r, next_: next_(r))
        with pytest.raises(ToolBroke) as info:
            await actrio.llm.execute("gpt", _chat_request(), model)
    assert info.value is boom


async def test_an_intercepts_own_exception_becomes_a_middleware_error() -> None:
    events: list[actrio.Event] = []
    own = RuntimeError("intercept bug")
    calls: list[Any] = []

    async def tool(args: Any) -> Any:
        calls.append(args)
        await trio.lowlevel.checkpoint()
        raise ToolBroke("tool failed")

    async def translating(_name: str, args: Any, next_: Any) -> Any:
        try:
            return await next_(args)
        except ToolBroke:
            raise own from None

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_tool_execution("translating", 0, translating)
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.tools.execute("t", {"x": 1}, tool)
    assert calls == [{"x": 1}]
    err = info.value
    assert (err.middleware, err.stage, err.target) == ("translating", "tool_execution", "t")
    assert err.error is own
    assert err.__cause__ is own
    ended = _one_ended(events, "t")
    assert ended.error is not None
    assert ended.error.type == "MiddlewareError"
    assert "translating" in ended.error.message


async def test_an_inner_intercepts_error_is_not_wrapped_again_by_the_outer() -> None:
    own = RuntimeError("inner bug")
    outer_saw: list[BaseException] = []

    async def outer(_name: str, args: Any, next_: Any) -> Any:
        try:
            return await next_(args)
        except actrio.MiddlewareError as error:
            outer_saw.append(error)
            raise

    def inner(_name: str, _args: Any, _next: Any) -> Any:
        raise own

    async with actrio.open_runtime():
        intercepts.register_tool_execution("outer", 0, outer)
        intercepts.register_tool_execution("inner", 1, inner)
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.tools.execute("t", {}, _echo)
    assert info.value.middleware == "inner"
    assert info.value.error is own
    assert outer_saw == [info.value]


async def test_an_llm_execution_intercepts_own_exception_becomes_a_middleware_error() -> None:
    own = ValueError("bad wrap")

    async def wrap(_name: str, _request: Any, _next: Any) -> Any:
        await trio.lowlevel.checkpoint()
        raise own

    async with actrio.open_runtime():
        intercepts.register_llm_execution("wrap", 0, wrap)
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.llm.execute("gpt", _chat_request(), _echo)
    assert (info.value.middleware, info.value.stage, info.value.target) == (
        "wrap",
        "llm_execution",
        "gpt",
    )
    assert info.value.__cause__ is own


# ---------------------------------------------------------------- LLM request intercepts


async def test_llm_request_intercept_rewrites_request_and_annotation() -> None:
    events: list[actrio.Event] = []
    impl_saw: list[actrio.LLMRequest] = []
    intercept_saw: list[tuple[str, Any]] = []

    async def model(request: actrio.LLMRequest) -> Any:
        impl_saw.append(request)
        await trio.lowlevel.checkpoint()
        return _chat_response()

    def route(
        name: str, request: actrio.LLMRequest, annotated: actrio.AnnotatedLLMRequest | None
    ) -> tuple[actrio.LLMRequest, actrio.AnnotatedLLMRequest | None]:
        intercept_saw.append((name, annotated))
        assert annotated is not None
        rewritten = request.with_content({**request.content, "model": "gpt-4o"}).with_headers(
            {"x-route": "eu"}
        )
        return rewritten, attrs.evolve(annotated, model="gpt-4o", extra={"routed": True})

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_llm_request("route", 0, route)
        await actrio.llm.execute("gpt", _chat_request(), model)

    (seen,) = impl_saw
    assert seen.content["model"] == "gpt-4o"
    assert seen.headers["x-route"] == "eu"
    ((name, annotated),) = intercept_saw
    assert name == "gpt"
    assert annotated is not None
    assert annotated.api == "openai-chat"
    assert annotated.model == "gpt-4o-mini"  # the codec's reading of the original body
    started = _one_started(events, "gpt")
    assert started.data["model"] == "gpt-4o"
    assert started.annotated_request is not None
    assert started.annotated_request.model == "gpt-4o"
    assert started.annotated_request.extra == {"routed": True}


@pytest.mark.parametrize(
    "bad_return",
    [
        pytest.param(lambda _n, r, _a: r, id="request-only"),
        pytest.param(lambda _n, r, _a: (r, "annotation"), id="bad-annotation"),
        pytest.param(lambda _n, r, a: (dict(r.content), a), id="dict-request"),
        pytest.param(lambda _n, r, a: [r, a], id="list"),
        pytest.param(lambda _n, r, a: (r, a, None), id="triple"),
    ],
)
async def test_llm_request_intercept_with_a_wrong_return_type_names_the_middleware(
    bad_return: Callable[..., Any],
) -> None:
    events: list[actrio.Event] = []
    calls: list[Any] = []

    async def model(request: actrio.LLMRequest) -> Any:
        calls.append(request)
        await trio.lowlevel.checkpoint()
        return {}

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_llm_request("sloppy-router", 0, bad_return)
        with pytest.raises(actrio.MiddlewareError) as info:
            await actrio.llm.execute("gpt", _chat_request(), model)
    assert calls == []
    assert info.value.middleware == "sloppy-router"
    assert info.value.stage == "llm_request"
    assert "sloppy-router" in str(info.value)
    assert isinstance(info.value.error, TypeError)
    ended = _one_ended(events, "gpt")
    assert ended.status == "error"
    assert _one_started(events, "gpt").data is None


# ---------------------------------------------------------------- LLM stream execution


async def _drain(stream: AsyncIterator[Any]) -> list[Any]:
    return [chunk async for chunk in stream]


async def _pieces(_request: actrio.LLMRequest) -> AsyncIterator[Any]:
    for piece in ("hello ", "streaming ", "world"):
        await trio.lowlevel.checkpoint()
        yield piece


async def test_llm_stream_execution_intercept_wraps_the_iterator() -> None:
    events: list[actrio.Event] = []
    saw_request: list[actrio.LLMRequest] = []

    async def upper(request: actrio.LLMRequest, next_: Any) -> AsyncIterator[Any]:
        saw_request.append(request)
        inner = await next_(request)

        async def uppercased() -> AsyncIterator[Any]:
            async for chunk in inner:
                yield chunk.upper()

        return uppercased()

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_llm_stream_execution("upper", 0, upper)
        async with actrio.llm.stream_execute("gpt", _chat_request(), _pieces) as chunks:
            got = [chunk async for chunk in chunks]
        # Not used by plain execute.
        assert await actrio.llm.execute("plain", _chat_request(), _echo) == _chat_request()
    assert got == ["HELLO ", "STREAMING ", "WORLD"]
    assert len(saw_request) == 1
    ended = _one_ended(events, "gpt")
    assert ended.status == "ok"
    assert ended.data == {"chunks": 3}


async def test_llm_stream_execution_intercepts_nest_lowest_priority_outermost() -> None:
    def tagging(label: str) -> Callable[..., Any]:
        async def wrap(request: actrio.LLMRequest, next_: Any) -> AsyncIterator[Any]:
            inner = await next_(request)

            async def tagged() -> AsyncIterator[Any]:
                async for chunk in inner:
                    yield f"{label}({chunk})"

            return tagged()

        return wrap

    async with actrio.open_runtime():
        intercepts.register_llm_stream_execution("inner", 2, tagging("inner"))
        intercepts.register_llm_stream_execution("outer", 1, tagging("outer"))
        got = [c async for c in actrio.llm.stream_execute("gpt", _chat_request(), _pieces)]
    assert got == ["outer(inner(hello ))", "outer(inner(streaming ))", "outer(inner(world))"]


async def test_a_raising_stream_execution_intercept_raises_from_iteration() -> None:
    events: list[actrio.Event] = []
    own = RuntimeError("stream wrapper bug")

    def broken(_request: Any, _next: Any) -> Any:
        raise own

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_llm_stream_execution("broken", 0, broken)
        stream = actrio.llm.stream_execute("gpt", _chat_request(), _pieces)
        with pytest.raises(actrio.MiddlewareError) as info:
            await _drain(stream)
        await stream.aclose()
    assert (info.value.middleware, info.value.stage) == ("broken", "llm_stream_execution")
    assert info.value.__cause__ is own
    assert _one_ended(events, "gpt").status == "error"


# ---------------------------------------------------------------- sync and async middleware


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_tool_pipeline_with_sync_or_async_middleware(flavor: str) -> None:
    events: list[actrio.Event] = []
    received: list[Any] = []

    async def tool(args: Any) -> Any:
        received.append(args)
        await trio.lowlevel.checkpoint()
        return args["n"] * 2

    def execution(_name: str, args: Any, next_: Any) -> Any:
        async def run() -> Any:
            return {"wrapped": await next_(args)}

        return run()  # a sync callable returning an awaitable counts too

    async def async_execution(_name: str, args: Any, next_: Any) -> Any:
        return {"wrapped": await next_(args)}

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_tool_request("req", 0, _flavored(lambda _n, a: {**a, "n": 21}, flavor))
        guardrails.register_tool_sanitize_request(
            "san", 0, _flavored(lambda _n, a: {**a, "secret": "***"}, flavor)
        )
        guardrails.register_tool_conditional_execution(
            "cond", 0, _flavored(lambda _n, a: "odd" if a["n"] % 2 else None, flavor)
        )
        with pytest.raises(actrio.GuardrailBlocked, match="odd"):
            await actrio.tools.execute("t", {"n": 1, "secret": "s"}, tool)
        guardrails.deregister_tool_conditional_execution("cond")
        intercepts.register_tool_execution(
            "exec", 0, execution if flavor == "sync" else async_execution
        )
        result = await actrio.tools.execute("t", {"n": 1, "secret": "s"}, tool)
    assert result == {"wrapped": 42}
    assert received == [{"n": 21, "secret": "s"}]
    assert [s.data for s in _started(events, "t")] == [{"n": 21, "secret": "***"}] * 2


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_llm_pipeline_with_sync_or_async_middleware(flavor: str) -> None:
    events: list[actrio.Event] = []

    async def model(request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        return _chat_response(f"model={request.content['model']}")

    async def async_execution(_name: str, request: actrio.LLMRequest, next_: Any) -> Any:
        return await next_(request)

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        intercepts.register_llm_request(
            "req",
            0,
            _flavored(lambda _n, r, a: (r.with_content({**r.content, "model": "m2"}), a), flavor),
        )
        guardrails.register_llm_sanitize_request(
            "san", 0, _flavored(lambda r: r.with_content({**r.content, "hidden": True}), flavor)
        )
        guardrails.register_llm_sanitize_response(
            "san-resp", 0, _flavored(lambda b: {**b, "id": "sanitized"}, flavor)
        )
        guardrails.register_llm_conditional_execution("cond", 0, _flavored(lambda _r: None, flavor))
        intercepts.register_llm_execution(
            "exec", 0, (lambda _n, r, next_: next_(r)) if flavor == "sync" else async_execution
        )
        response = await actrio.llm.execute("gpt", _chat_request(), model)
    assert response["choices"][0]["message"]["content"] == "model=m2"
    assert response["id"] == "chatcmpl-1"
    started = _one_started(events, "gpt")
    assert started.data["model"] == "m2"
    assert started.data["hidden"] is True
    ended = _one_ended(events, "gpt")
    assert ended.data["id"] == "sanitized"
    assert ended.annotated_response is not None
    assert ended.annotated_response.id == "sanitized"


# ---------------------------------------------------------------- isolation


async def test_a_raising_middleware_fails_only_its_own_call_among_concurrent_siblings(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[actrio.Event] = []
    results: dict[int, Any] = {}

    async def tool(args: Any) -> Any:
        await trio.sleep(0.01 * (5 - args["n"]))
        return args["n"] * 10

    def flaky(_name: str, args: Any) -> str | None:
        if args["n"] == 2:
            raise RuntimeError("guard crashed")
        return None

    async def one(n: int) -> None:
        try:
            results[n] = await actrio.tools.execute("t", {"n": n}, tool)
        except actrio.MiddlewareError as error:
            results[n] = error

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        guardrails.register_tool_conditional_execution("flaky", 0, flaky)
        async with actrio.open_scope("agent"), trio.open_nursery() as nursery:
            for n in range(5):
                nursery.start_soon(one, n)

    failed = results.pop(2)
    assert isinstance(failed, actrio.MiddlewareError)
    assert (failed.middleware, failed.stage) == ("flaky", "tool_conditional_execution")
    assert results == {0: 0, 1: 10, 3: 30, 4: 40}
    statuses = sorted(e.status for e in _ended(events, "t"))
    assert statuses == ["error", "ok", "ok", "ok", "ok"]
    assert _one_ended(events, "agent").status == "ok"


# ---------------------------------------------------------------- scope-local middleware


def _tag(label: str) -> Callable[[str, Any], Any]:
    return lambda _n, a: {**a, "tags": [*a.get("tags", []), label]}


async def test_scope_local_middleware_applies_to_the_subtree_only_and_ends_with_it() -> None:
    results: dict[str, Any] = {}

    async with actrio.open_runtime():
        async with actrio.open_scope("parent") as parent:
            a_registered = trio.Event()
            b_done = trio.Event()

            async def scope_a() -> None:
                async with actrio.open_scope("a") as a:
                    intercepts.register_tool_request("tag-a", 0, _tag("a"), scope=a)
                    a_registered.set()
                    results["in a"] = await actrio.tools.execute("t", {}, _echo)
                    async with actrio.open_scope("a-child"):
                        results["in a-child"] = await actrio.tools.execute("t", {}, _echo)
                    await b_done.wait()  # a is still running while its sibling calls

            async def scope_b() -> None:
                await a_registered.wait()
                async with actrio.open_scope("b"):
                    results["in b"] = await actrio.tools.execute("t", {}, _echo)
                b_done.set()

            parent.start_soon(scope_a)
            parent.start_soon(scope_b)
        results["in parent after"] = await actrio.tools.execute("t", {}, _echo)

    assert results == {
        "in a": {"tags": ["a"]},
        "in a-child": {"tags": ["a"]},
        "in b": {},
        "in parent after": {},
    }


async def test_scope_local_middleware_is_dropped_when_the_scope_ends() -> None:
    async with actrio.open_runtime() as rt:
        async with actrio.open_scope("agent") as agent:
            reg = guardrails.register_tool_conditional_execution(
                "deny", 0, lambda _n, _a: "denied", scope=agent
            )
            assert agent.middleware.entries("tool_conditional_execution") == (reg,)
            with pytest.raises(actrio.GuardrailBlocked):
                await actrio.tools.execute("t", {}, _echo)
        assert rt.middleware.entries("tool_conditional_execution") == ()
        assert await actrio.tools.execute("t", {"ok": 1}, _echo) == {"ok": 1}
        # The ended scope takes no more registrations.
        with pytest.raises(actrio.UsageError, match="ended"):
            guardrails.register_tool_conditional_execution("again", 0, _noop, scope=agent)
        with pytest.raises(actrio.UsageError, match="ended"):
            guardrails.deregister_tool_conditional_execution("deny", scope=agent)
        with pytest.raises(actrio.UsageError, match="ended"):
            _ = agent.middleware


async def test_equal_priority_runs_runtime_then_outer_then_inner_scopes() -> None:
    async with (
        actrio.open_runtime(),
        actrio.open_scope("outer") as outer,
        actrio.open_scope("inner") as inner,
    ):
        # Registered innermost first: the tier, not the registration order, decides.
        intercepts.register_tool_request("i", 0, _tag("inner"), scope=inner)
        intercepts.register_tool_request("o", 0, _tag("outer"), scope=outer)
        intercepts.register_tool_request("r", 0, _tag("runtime"))
        intercepts.register_tool_request("early", -1, _tag("inner-early"), scope=inner)
        intercepts.register_tool_request("late", 1, _tag("runtime-late"))
        got = await actrio.tools.execute("t", {}, _echo)
    assert got == {"tags": ["inner-early", "runtime", "outer", "inner", "runtime-late"]}


async def test_same_name_in_a_scope_does_not_replace_the_global_one() -> None:
    async with actrio.open_runtime():
        intercepts.register_tool_request("tag", 0, _tag("global"))
        async with actrio.open_scope("agent") as agent:
            intercepts.register_tool_request("tag", 0, _tag("local"), scope=agent)
            inside = await actrio.tools.execute("t", {}, _echo)
        outside = await actrio.tools.execute("t", {}, _echo)
    assert inside == {"tags": ["global", "local"]}
    assert outside == {"tags": ["global"]}


async def test_scope_local_guardrails_apply_to_llm_calls_in_the_subtree() -> None:
    events: list[actrio.Event] = []

    async def model(_request: actrio.LLMRequest) -> Any:
        await trio.lowlevel.checkpoint()
        return _chat_response()

    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append)
        async with actrio.open_scope("redacting") as scope:
            guardrails.register_llm_sanitize_response(
                "redact", 0, lambda b: json.loads(_redact_text(json.dumps(b))), scope=scope
            )
            await actrio.llm.execute("inside", _chat_request(), model)
        await actrio.llm.execute("outside", _chat_request(), model)
    inside = _one_ended(events, "inside").annotated_response
    outside = _one_ended(events, "outside").annotated_response
    assert inside is not None
    assert outside is not None
    assert inside.response_text() == "noted: [SSN]"
    assert outside.response_text() == "noted: 123-45-6789"
