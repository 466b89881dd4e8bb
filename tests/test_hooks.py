"""Agent hooks: the six hook stages, registered with :mod:`actrio.hooks`, run by the runner.

The runner (``actrio.actors._hooks``) is what the agent loop calls around
model calls, tool calls and context compression; these tests drive it
directly with real ``ModelRequest`` / ``ModelResponse`` values, with hooks
registered inside ``actrio.open_runtime()`` (global), with ``scope=``
(scope-local) and by a plugin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, get_args

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import actrio
from actrio import guardrails, hooks, intercepts
from actrio.actors import _hooks
from actrio.messages import Message
from actrio.middleware import (
    GUARDRAIL_STAGES,
    HOOK_STAGES,
    INTERCEPT_STAGES,
    MiddlewareError,
    PluginRegistry,
)
from actrio.middleware._registry import STAGES, Stage
from actrio.types import ModelRequest, ModelResponse

# ---------------------------------------------------------------- values

REQUEST = ModelRequest(messages=(Message.system("Be terse."), Message.user("hi")))
RESPONSE = ModelResponse(message=Message.assistant("answer"), finish_reason="stop")
ARGUMENTS: dict[str, Any] = {"path": "notes.txt"}
BEFORE = ModelRequest(messages=(Message.system("Be terse."), Message.user("long " * 50)))
STAGES_RUN = ("truncate_tool_results",)


def _bump_request(request: ModelRequest, tag: str) -> ModelRequest:
    return attrs.evolve(request, messages=(*request.messages, Message.user(tag)))


def _request_tags(request: ModelRequest) -> list[str]:
    return [m.text for m in request.messages[2:]]


def _bump_response(response: ModelResponse, tag: str) -> ModelResponse:
    return attrs.evolve(response, message=Message.assistant(f"{response.text}|{tag}"))


def _response_tags(response: ModelResponse) -> list[str]:
    return response.text.split("|")[1:]


def _bump_arguments(arguments: dict[str, Any], tag: str) -> dict[str, Any]:
    return {**arguments, "tags": [*arguments.get("tags", []), tag]}


def _argument_tags(arguments: dict[str, Any]) -> list[str]:
    return list(arguments.get("tags", []))


def _bump_text(text: str, tag: str) -> str:
    return f"{text}|{tag}"


def _text_tags(text: str) -> list[str]:
    return text.split("|")[1:]


@attrs.frozen
class Case:
    """One hook stage: how to register it, run it, and rewrite its value."""

    stage: Stage
    register: Callable[..., Any]
    deregister: Callable[..., Any]
    target: str
    initial: Any
    run: Callable[[Any, actrio.Scope | None], Awaitable[Any]]
    args: Callable[[Any], tuple[Any, ...]]  # what a hook gets, given the threaded value
    index: int  # where the threaded value sits in those arguments
    bump: Callable[[Any, str], Any]
    tags: Callable[[Any], list[str]]
    wrong: Any  # a plausible value of the wrong type
    expected: str


CASES = [
    Case(
        stage="before_model_call",
        register=hooks.register_before_model_call,
        deregister=hooks.deregister_before_model_call,
        target="agent",
        initial=REQUEST,
        run=lambda v, here: _hooks.before_model_call("agent", v, here),
        args=lambda v: ("agent", v),
        index=1,
        bump=_bump_request,
        tags=_request_tags,
        wrong=RESPONSE,
        expected="ModelRequest | None",
    ),
    Case(
        stage="after_model_call",
        register=hooks.register_after_model_call,
        deregister=hooks.deregister_after_model_call,
        target="agent",
        initial=RESPONSE,
        run=lambda v, here: _hooks.after_model_call("agent", REQUEST, v, here),
        args=lambda v: ("agent", REQUEST, v),
        index=2,
        bump=_bump_response,
        tags=_response_tags,
        wrong=REQUEST,
        expected="ModelResponse | None",
    ),
    Case(
        stage="before_tool_call",
        register=hooks.register_before_tool_call,
        deregister=hooks.deregister_before_tool_call,
        target="read_file",
        initial=ARGUMENTS,
        run=lambda v, here: _hooks.before_tool_call("read_file", v, here),
        args=lambda v: ("read_file", v),
        index=1,
        bump=_bump_arguments,
        tags=_argument_tags,
        wrong='{"path": "other.txt"}',
        expected="dict[str, Any] | None",
    ),
    Case(
        stage="after_tool_call",
        register=hooks.register_after_tool_call,
        deregister=hooks.deregister_after_tool_call,
        target="read_file",
        initial="file contents",
        run=lambda v, here: _hooks.after_tool_call("read_file", ARGUMENTS, v, None, here),
        args=lambda v: ("read_file", ARGUMENTS, v, None),
        index=2,
        bump=_bump_text,
        tags=_text_tags,
        wrong=b"file contents",
        expected="str | None",
    ),
    Case(
        stage="before_compression",
        register=hooks.register_before_compression,
        deregister=hooks.deregister_before_compression,
        target="agent",
        initial=REQUEST,
        run=lambda v, here: _hooks.before_compression("agent", v, 900, 500, here),
        args=lambda v: ("agent", v, 900, 500),
        index=1,
        bump=_bump_request,
        tags=_request_tags,
        wrong=RESPONSE,
        expected="ModelRequest | None",
    ),
    Case(
        stage="after_compression",
        register=hooks.register_after_compression,
        deregister=hooks.deregister_after_compression,
        target="agent",
        initial=REQUEST,
        run=lambda v, here: _hooks.after_compression("agent", BEFORE, v, STAGES_RUN, here),
        args=lambda v: ("agent", BEFORE, v, STAGES_RUN),
        index=2,
        bump=_bump_request,
        tags=_request_tags,
        wrong=("messages",),
        expected="ModelRequest | None",
    ),
]
IDS = [case.stage for case in CASES]
FLAVORS = ["sync", "async"]


# ---------------------------------------------------------------- helpers


def _flavored(fn: Callable[..., Any], flavor: str) -> Callable[..., Any]:
    """``fn`` itself (sync), or an async function returning its result."""
    if flavor == "sync":
        return fn

    async def async_fn(*args: Any) -> Any:
        await trio.lowlevel.checkpoint()
        return fn(*args)

    return async_fn


@attrs.define
class Log:
    """What each hook saw: its label and its arguments, in call order."""

    calls: list[tuple[str, tuple[Any, ...]]] = attrs.Factory(list)

    def labels(self) -> list[str]:
        return [label for label, _ in self.calls]


def _tagger(case: Case, label: str, log: Log, flavor: str = "sync") -> Callable[..., Any]:
    """A hook that records its call and appends ``label`` to the threaded value."""

    def hook(*args: Any) -> Any:
        log.calls.append((label, args))
        return case.bump(args[case.index], label)

    return _flavored(hook, flavor)


def _keeper(label: str, log: Log, flavor: str = "sync") -> Callable[..., Any]:
    """A hook that records its call and returns None (keep the value)."""

    def hook(*args: Any) -> None:
        log.calls.append((label, args))

    return _flavored(hook, flavor)


def _noop(*_: Any) -> None:
    return None


# ---------------------------------------------------------------- the stages


def test_guardrail_and_intercept_stages_are_unchanged_and_hooks_are_appended() -> None:
    assert GUARDRAIL_STAGES == (
        "tool_sanitize_request",
        "tool_conditional_execution",
        "llm_sanitize_request",
        "llm_sanitize_response",
        "llm_conditional_execution",
    )
    assert INTERCEPT_STAGES == (
        "tool_request",
        "tool_execution",
        "llm_request",
        "llm_execution",
        "llm_stream_execution",
    )
    assert HOOK_STAGES == (
        "before_model_call",
        "after_model_call",
        "before_tool_call",
        "after_tool_call",
        "before_compression",
        "after_compression",
    )
    assert STAGES == get_args(Stage) == GUARDRAIL_STAGES + INTERCEPT_STAGES + HOOK_STAGES


def test_every_hook_stage_has_a_public_register_and_deregister_function() -> None:
    pairs = {(f"register_{s}", f"deregister_{s}") for s in HOOK_STAGES}
    public = {n for n in hooks.__all__ if n.startswith(("register_", "deregister_"))}
    assert public == {name for pair in pairs for name in pair}
    assert [case.stage for case in CASES] == list(HOOK_STAGES)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_public_functions_register_globally_and_on_a_scope(case: Case) -> None:
    async with actrio.open_runtime() as rt:
        reg = case.register("h", 3, _noop)
        assert (reg.stage, reg.name, reg.priority, reg.fn, reg.owner) == (
            case.stage,
            "h",
            3,
            _noop,
            None,
        )
        assert rt.middleware.entries(case.stage) == (reg,)
        async with actrio.open_scope("agent") as scope:
            local = case.register("h", 1, _noop, scope=scope)
            assert scope.middleware.entries(case.stage) == (local,)
            assert rt.middleware.entries(case.stage) == (reg,)  # the global one is untouched
            assert case.deregister("h", scope=scope) is True
            assert case.deregister("h", scope=scope) is False
            assert scope.middleware.entries(case.stage) == ()
        assert case.deregister("h") is True
        assert case.deregister("h") is False
        assert len(rt.middleware) == 0


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_registering_outside_a_runtime_without_scope_is_a_usage_error(case: Case) -> None:
    with pytest.raises(actrio.UsageError, match="runtime"):
        case.register("h", 0, _noop)
    with pytest.raises(actrio.UsageError, match="runtime"):
        case.deregister("h")
    async with actrio.open_actor_system():  # an actor system alone is not a runtime
        with pytest.raises(actrio.UsageError, match="runtime"):
            case.register("h", 0, _noop)


async def test_registration_arguments_are_checked() -> None:
    async with actrio.open_runtime() as rt:
        with pytest.raises(actrio.UsageError, match="'bad' must be callable"):
            hooks.register_before_tool_call("bad", 0, None)  # type: ignore[arg-type]
        with pytest.raises(actrio.UsageError, match="priority of 'p'"):
            hooks.register_after_model_call("p", "high", _noop)  # type: ignore[arg-type]
        with pytest.raises(actrio.UsageError, match="scope must be a Scope"):
            hooks.register_after_tool_call("s", 0, _noop, scope="agent")  # type: ignore[arg-type]
        assert len(rt.middleware) == 0


# ---------------------------------------------------------------- running


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_with_nothing_registered_the_value_comes_back_as_is_without_a_checkpoint(
    case: Case,
) -> None:
    with trio.testing.assert_no_checkpoints():
        assert await case.run(case.initial, None) is case.initial  # no runtime at all
    async with actrio.open_runtime(), actrio.open_scope("agent") as scope:
        guardrails.register_tool_sanitize_request("g", 0, _noop)
        intercepts.register_tool_request("i", 0, _noop, scope=scope)
        with trio.testing.assert_no_checkpoints():
            assert await case.run(case.initial, scope) is case.initial
            assert await case.run(case.initial, None) is case.initial


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_global_hook_gets_the_stage_arguments_and_rewrites_the_value(
    case: Case, flavor: str
) -> None:
    log = Log()
    async with actrio.open_runtime():
        case.register("tag", 0, _tagger(case, "a", log, flavor))
        result = await case.run(case.initial, None)
    assert log.calls == [("a", case.args(case.initial))]
    assert case.tags(result) == ["a"]
    assert result == case.bump(case.initial, "a")


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_rewrites_thread_through_in_priority_then_runtime_outer_inner_order(
    case: Case, flavor: str
) -> None:
    log = Log()
    async with (
        actrio.open_runtime(),
        actrio.open_scope("outer") as outer,
        actrio.open_scope("inner") as inner,
    ):
        case.register("g5", 5, _tagger(case, "g5", log, flavor))
        case.register("i1", 1, _tagger(case, "i1", log, flavor), scope=inner)
        case.register("o1", 1, _tagger(case, "o1", log, flavor), scope=outer)
        case.register("g1", 1, _tagger(case, "g1", log, flavor))
        case.register("i0", 0, _tagger(case, "i0", log, flavor), scope=inner)
        case.register("g5b", 5, _tagger(case, "g5b", log, flavor))
        case.register("i1b", 1, _tagger(case, "i1b", log, flavor), scope=inner)
        result = await case.run(case.initial, inner)
    order = ["i0", "g1", "o1", "i1", "i1b", "g5", "g5b"]
    assert log.labels() == order
    assert case.tags(result) == order
    for position, (_, args) in enumerate(log.calls):
        # each hook saw the previous hooks' rewrites, and the other arguments unchanged
        assert case.tags(args[case.index]) == order[:position]
        assert args == case.args(args[case.index])


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_registering_a_name_again_replaces_it_and_counts_as_last(case: Case) -> None:
    log = Log()
    async with actrio.open_runtime():
        case.register("a", 0, _tagger(case, "a-old", log))
        case.register("b", 1, _tagger(case, "b", log))
        case.register("a", 1, _tagger(case, "a-new", log))
        result = await case.run(case.initial, None)
    assert log.labels() == ["b", "a-new"]
    assert case.tags(result) == ["b", "a-new"]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_none_keeps_the_value(case: Case, flavor: str) -> None:
    log = Log()
    async with actrio.open_runtime():
        case.register("keep", 0, _keeper("keep", log, flavor))
        assert await case.run(case.initial, None) is case.initial
        case.register("tag", 1, _tagger(case, "tag", log, flavor))
        case.register("keep-again", 2, _keeper("keep-again", log, flavor))
        result = await case.run(case.initial, None)
    assert log.labels() == ["keep", "keep", "tag", "keep-again"]
    assert log.calls[2][1][case.index] is case.initial  # what the keeper kept
    assert log.calls[3][1][case.index] is result  # the rewrite, passed on and kept
    assert case.tags(result) == ["tag"]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_wrong_return_type_is_a_middleware_error_naming_hook_and_stage(
    case: Case, flavor: str
) -> None:
    log = Log()
    async with actrio.open_runtime():
        case.register("first", 0, _tagger(case, "first", log, flavor))
        case.register("bad", 1, _flavored(lambda *_: case.wrong, flavor))
        case.register("later", 2, _tagger(case, "later", log, flavor))
        with pytest.raises(MiddlewareError) as caught:
            await case.run(case.initial, None)
    error = caught.value
    assert (error.middleware, error.stage, error.target) == ("bad", case.stage, case.target)
    assert isinstance(error.error, TypeError)
    assert error.__cause__ is error.error
    assert f"returned {type(case.wrong).__qualname__}, expected {case.expected}" in str(error)
    assert str(error).startswith(f"{case.stage} middleware 'bad' failed for {case.target!r}")
    assert log.labels() == ["first"]  # the chain stops at the bad hook


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_raising_hook_is_a_middleware_error_naming_hook_and_stage(
    case: Case, flavor: str
) -> None:
    log = Log()
    boom = ValueError("hook exploded")

    def explode(*_: Any) -> Any:
        raise boom

    async with actrio.open_runtime(), actrio.open_scope("agent") as scope:
        case.register("boom", 0, _flavored(explode, flavor), scope=scope)
        case.register("later", 1, _tagger(case, "later", log, flavor))
        with pytest.raises(MiddlewareError) as caught:
            await case.run(case.initial, scope)
    error = caught.value
    assert (error.middleware, error.stage, error.target) == ("boom", case.stage, case.target)
    assert error.error is boom
    assert error.__cause__ is boom
    assert "ValueError: hook exploded" in str(error)
    assert log.calls == []


class _Stop(BaseException):
    """Not an Exception: like cancellation, it must pass through unwrapped."""


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_base_exception_from_a_hook_passes_through_unwrapped(case: Case) -> None:
    def stop(*_: Any) -> Any:
        raise _Stop

    async with actrio.open_runtime():
        case.register("stop", 0, stop)
        with pytest.raises(_Stop):
            await case.run(case.initial, None)


async def test_a_hook_can_be_cancelled_from_outside(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        await trio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async with actrio.open_runtime():
        hooks.register_before_tool_call("slow", 0, slow)
        with trio.move_on_after(1) as cancel_scope:
            await _hooks.before_tool_call("read_file", ARGUMENTS, None)
    assert cancel_scope.cancelled_caught


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_deregistered_hooks_no_longer_run(case: Case) -> None:
    log = Log()
    async with actrio.open_runtime(), actrio.open_scope("agent") as scope:
        case.register("g", 0, _tagger(case, "g", log))
        case.register("s", 0, _tagger(case, "s", log), scope=scope)
        assert case.tags(await case.run(case.initial, scope)) == ["g", "s"]
        assert case.deregister("g") is True
        assert case.tags(await case.run(case.initial, scope)) == ["s"]
        assert case.deregister("s", scope=scope) is True
        assert await case.run(case.initial, scope) is case.initial
        assert case.deregister("s", scope=scope) is False
    assert log.labels() == ["g", "s", "s"]


async def test_scope_hooks_apply_only_in_that_scope_s_subtree_and_end_with_it() -> None:
    async with actrio.open_runtime():
        async with actrio.open_scope("agent") as agent:
            hooks.register_after_tool_call("mask", 0, lambda *_: "[masked]", scope=agent)
            async with actrio.open_scope("step") as step:
                assert await _hooks.after_tool_call("t", {}, "secret", None, step) == "[masked]"
            assert await _hooks.after_tool_call("t", {}, "secret", None, agent) == "[masked]"
        async with actrio.open_scope("sibling") as sibling:
            assert await _hooks.after_tool_call("t", {}, "secret", None, sibling) == "secret"
        assert await _hooks.after_tool_call("t", {}, "secret", None, None) == "secret"
        # The scope has ended: its hooks were dropped with it.
        assert await _hooks.after_tool_call("t", {}, "secret", None, agent) == "secret"


async def test_scope_hooks_work_in_a_plain_actor_system() -> None:
    async with actrio.open_actor_system(), actrio.open_scope("agent") as scope:
        hooks.register_before_tool_call("tag", 0, lambda _t, a: {**a, "tagged": True}, scope=scope)
        got = await _hooks.before_tool_call("read_file", {"path": "a"}, scope)
    assert got == {"path": "a", "tagged": True}


async def test_after_tool_call_sees_the_failure_and_rewrites_the_error_text() -> None:
    failure = PermissionError("denied by policy")
    seen: list[tuple[Any, ...]] = []

    def explain(tool: str, arguments: dict[str, Any], output: str, error: Any) -> str | None:
        seen.append((tool, arguments, output, error))
        if error is None:
            return None
        return f"{output} (ask the user before retrying {tool})"

    async with actrio.open_runtime():
        hooks.register_after_tool_call("explain", 0, explain)
        ok = await _hooks.after_tool_call("write_file", ARGUMENTS, "wrote 3 bytes", None, None)
        failed = await _hooks.after_tool_call(
            "write_file", ARGUMENTS, "error: denied by policy", failure, None
        )
    assert ok == "wrote 3 bytes"
    assert failed == "error: denied by policy (ask the user before retrying write_file)"
    assert seen[1][3] is failure


async def test_after_compression_keeps_before_fixed_while_after_threads() -> None:
    seen: list[tuple[ModelRequest, ModelRequest]] = []

    def pin_system(
        agent: str, before: ModelRequest, after: ModelRequest, stages: tuple[str, ...]
    ) -> ModelRequest:
        seen.append((before, after))
        return _bump_request(after, f"{agent}:{','.join(stages)}")

    async with actrio.open_runtime():
        hooks.register_after_compression("one", 0, pin_system)
        hooks.register_after_compression("two", 1, pin_system)
        result = await _hooks.after_compression("agent", BEFORE, REQUEST, STAGES_RUN, None)
    assert [before for before, _ in seen] == [BEFORE, BEFORE]
    assert seen[1][1] == _bump_request(REQUEST, "agent:truncate_tool_results")
    assert _request_tags(result) == ["agent:truncate_tool_results"] * 2


# ---------------------------------------------------------------- has_hooks


async def test_has_hooks_is_false_with_nothing_registered() -> None:
    assert _hooks.has_hooks(None) is False  # no runtime
    async with actrio.open_runtime(), actrio.open_scope("agent") as scope:
        assert _hooks.has_hooks(None) is False
        assert _hooks.has_hooks(scope) is False
        # Guardrails and intercepts are not hooks.
        guardrails.register_tool_conditional_execution("g", 0, _noop)
        intercepts.register_tool_execution("i", 0, _noop, scope=scope)
        assert _hooks.has_hooks(scope) is False


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_has_hooks_sees_a_global_hook_of_any_stage(case: Case) -> None:
    async with actrio.open_runtime(), actrio.open_scope("agent") as scope:
        case.register("h", 0, _noop)
        assert _hooks.has_hooks(None) is True
        assert _hooks.has_hooks(scope) is True
        case.deregister("h")
        assert _hooks.has_hooks(scope) is False


async def test_has_hooks_sees_scope_hooks_only_in_that_scope_s_subtree() -> None:
    async with actrio.open_runtime():
        async with actrio.open_scope("agent") as agent:
            hooks.register_before_compression("h", 0, _noop, scope=agent)
            async with actrio.open_scope("step") as step:
                assert _hooks.has_hooks(step) is True
            assert _hooks.has_hooks(agent) is True
            assert _hooks.has_hooks(None) is False
        async with actrio.open_scope("sibling") as sibling:
            assert _hooks.has_hooks(sibling) is False
        assert _hooks.has_hooks(agent) is False  # ended, and its hooks with it


# ---------------------------------------------------------------- plugins


class HookPlugin:
    """Registers one tagging hook per hook stage."""

    def __init__(self) -> None:
        self.name = "hooky"
        self.log = Log()

    def install(self, registry: PluginRegistry, config: Any) -> None:
        for case in CASES:
            registry.register(
                case.stage, "tag", int(config["priority"]), _tagger(case, "p", self.log)
            )


async def test_a_plugin_can_register_every_hook_stage() -> None:
    plugin = HookPlugin()
    document = {"plugins": [{"name": "hooky", "config": {"priority": 7}}]}
    async with actrio.open_runtime(plugins=document, available_plugins={"hooky": plugin}) as rt:
        for case in CASES:
            (reg,) = rt.middleware.entries(case.stage)
            assert (reg.owner, reg.priority) == ("hooky", 7)
            assert case.tags(await case.run(case.initial, None)) == ["p"]
        assert _hooks.has_hooks(None) is True
        assert rt.plugins.uninstall("hooky") is True
        assert _hooks.has_hooks(None) is False
        for case in CASES:
            assert await case.run(case.initial, None) is case.initial
    assert len(plugin.log.calls) == len(CASES)


# ---------------------------------------------------------------- ordering property

_PLAN = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # tier: runtime, outer scope, inner scope
        st.sampled_from(["a", "b", "c"]),  # name (a repeat on a tier replaces)
        st.integers(min_value=0, max_value=2),  # priority
    ),
    min_size=1,
    max_size=8,
)


def _appender(label: str) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    def append(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"order": [*arguments["order"], label]}

    return append


@settings(max_examples=30)
@given(plan=_PLAN)
def test_hooks_run_in_priority_then_tier_then_registration_order(
    plan: list[tuple[int, str, int]],
) -> None:
    """Ties: the runtime's, then outer, then inner scopes; a re-registration counts last."""

    async def main() -> list[str]:
        async with (
            actrio.open_runtime(),
            actrio.open_scope("outer") as outer,
            actrio.open_scope("inner") as inner,
        ):
            for index, (tier, name, priority) in enumerate(plan):
                scope = (None, outer, inner)[tier]
                hooks.register_before_tool_call(
                    name, priority, _appender(f"{tier}:{name}:{index}"), scope=scope
                )
            result = await _hooks.before_tool_call("t", {"order": []}, inner)
        return list(result["order"])

    got = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    live: dict[tuple[int, str], tuple[int, int]] = {}
    for index, (tier, name, priority) in enumerate(plan):
        live[tier, name] = (priority, index)
    ranked = sorted(live.items(), key=lambda item: (item[1][0], item[0][0], item[1][1]))
    assert got == [f"{tier}:{name}:{index}" for (tier, name), (_, index) in ranked]
