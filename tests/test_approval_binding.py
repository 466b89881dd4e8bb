"""B-09: an approval binds to a digest of exactly what will run.

A ``before`` policy's ``user.confirm`` shows the person a question and a
digest: the sha256 of the asking call's tool name and exact arguments
(``call_digest``), or, for a question about nothing but itself, of its exact
text (``text_digest``). ``respond(..., digest=...)`` answers only the request
with that digest; and after the answers the call takes the digest again and
is denied, its code never run, if the arguments changed while it waited.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from typing import TYPE_CHECKING, Any

import attrs
import hypothesis
import pytest
import trio
import trio.testing
from cattrs.errors import ClassValidationError
from hypothesis import strategies as st

import actrio
import actrio.human
from actrio._wire import converter, structure_tagged
from actrio.actors import PolicyDecision, PolicyErrored
from actrio.actors._tool_call import call_tool
from actrio.human import (
    ApprovalMismatch,
    ConsoleResponder,
    DigestError,
    HumanError,
    HumanRequest,
    HumanRequested,
    HumanResponded,
    call_digest,
    display_text,
    text_digest,
)
from actrio.kernel import Event, UsageError
from actrio.policy import PolicyEngine, Verdict
from actrio.testing.strategies import json_values
from actrio.tools import Tool, ToolDenied, tool
from actrio.tools.official import ask_user, confirm_user

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping

BEFORE = "before os.shell(command) requires user.confirm"

HEX = frozenset("0123456789abcdef")


class Ran:
    """What reached a tool's code."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []


def shell_tool(ran: Ran) -> Tool:
    @tool(name="shell", capability="os.shell")
    async def shell(command: str, env: list[str] | None = None) -> str:
        """Pretend to run a command."""
        ran.calls.append({"command": command, "env": env})
        return f"ran {command}"

    return shell


class Leaky(PolicyEngine):
    """An agent's policies that keep the arguments they were shown (an audit log, say).

    The runtime hands them a shallow copy: nested lists are the call's own,
    so whoever holds this can change the arguments in place.
    """

    def __init__(self, policies: str) -> None:
        super().__init__(policies)
        self.seen: list[Mapping[str, object]] = []

    def evaluate(
        self,
        capability: str,
        args: Mapping[str, object],
        *,
        inputs: Mapping[str, object] | None = None,
        outputs: Mapping[str, object] | None = None,
    ) -> Verdict:
        self.seen.append(args)
        return super().evaluate(capability, args, inputs=inputs, outputs=outputs)

    def shell_args(self) -> Any:
        [args] = [a for a in self.seen if "env" in a]
        return args


def sha256_of(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_digest(value: str) -> bool:
    return len(value) == 64 and set(value) <= HEX


# ---------------------------------------------------------------- the digest


def test_b09_the_call_digest_is_the_sha256_of_the_canonical_call() -> None:
    """B-09: documented encoding: JSON of [tool, arguments], keys sorted, no spaces, UTF-8."""
    args = {"command": "ls", "env": ["A=1"], "café": None}
    digest = call_digest("shell", args)
    assert is_digest(digest)
    assert digest == sha256_of(["shell", args])
    assert digest == call_digest("shell", dict(reversed(args.items())))  # key order
    assert call_digest("shell", {"b": {"y": 1, "x": 2}, "a": 0}) == call_digest(
        "shell", {"a": 0, "b": {"x": 2, "y": 1}}
    )


@pytest.mark.parametrize(
    ("tool_name", "changed"),
    [
        ("shell", {"command": "git statvs"}),  # one byte
        ("shell", {"command": "git status "}),  # a trailing space
        ("shell", {"command": "git status" + " " * 5000 + "; rm -rf ~"}),
        ("shell", {"command": "git status\r"}),
        ("shell", {"command": "git\u200bstatus"}),  # zero-width space
        ("shell", {"command": "git status\u202e"}),  # bidi override
        ("shell", {"command": "git status", "extra": None}),
        ("shell", {"command": ["git status"]}),
        ("Shell", {"command": "git status"}),  # the tool's name counts
    ],
)
def test_b09_any_change_gives_another_digest(tool_name: str, changed: dict[str, Any]) -> None:
    assert call_digest(tool_name, changed) != call_digest("shell", {"command": "git status"})


def test_b09_json_types_are_told_apart() -> None:
    """A bool is not an int, an int is not a str, a list's order counts."""
    digests = {
        call_digest("t", {"x": value})
        for value in (True, 1, 1.5, "1", None, [1, 2], [2, 1], {"1": 1})
    }
    assert len(digests) == 8


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(st.dictionaries(st.text(max_size=4), json_values(), max_size=4))
def test_b09_the_digest_survives_a_json_round_trip_and_key_order(args: dict[str, Any]) -> None:
    """What a UI receives as JSON and sends back digests the same."""
    digest = call_digest("t", args)
    assert call_digest("t", json.loads(json.dumps(args))) == digest
    assert call_digest("t", dict(reversed(args.items()))) == digest


def test_b09_a_text_digest_covers_the_raw_text_not_its_escaped_display() -> None:
    """``a\\rb`` (backslash, r) and ``a<CR>b`` look the same escaped; their digests differ."""
    assert display_text("a\rb") == display_text("a\\rb")
    assert text_digest("a\rb") != text_digest("a\\rb")
    assert text_digest("ok?") == hashlib.sha256(b'"ok?"').hexdigest()
    assert text_digest("ok? ") != text_digest("ok?")
    # a question's digest is never a call's: a JSON string is not a JSON array
    assert text_digest('["t",{}]') != call_digest("t", {})
    assert text_digest("\ud800") != text_digest("\ud801")  # lone surrogates are digested


def _cycle() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("arguments", "where"),
    [
        ({"x": math.nan}, r"\$\['x'\]: nan is not a JSON number"),
        ({"x": [1, math.inf]}, r"\$\['x'\]\[1\]: inf is not a JSON number"),
        ({"x": {1: "a"}}, r"\$\['x'\]: key 1 is not a string"),
        ({"x": {"a", "b"}}, r"\$\['x'\]: set is not a JSON value"),
        ({"x": b"bytes"}, "bytes is not a JSON value"),
        ({"x": object()}, "object is not a JSON value"),
        (_cycle(), "nested deeper than 64 levels"),
        (_deep(100), "nested deeper than 64 levels"),
    ],
)
def test_b09_arguments_json_cannot_encode_exactly_have_no_digest(
    arguments: dict[str, Any], where: str
) -> None:
    with pytest.raises(DigestError, match=where) as caught:
        call_digest("t", arguments)
    assert isinstance(caught.value, HumanError)
    assert isinstance(caught.value, TypeError)


def test_b09_a_digest_needs_a_str_name_and_a_mapping() -> None:
    with pytest.raises(DigestError, match="tool name"):
        call_digest(3, {})  # type: ignore[arg-type]
    with pytest.raises(DigestError, match="mapping"):
        call_digest("t", [("a", 1)])  # type: ignore[arg-type]
    assert call_digest("t", _deep(60)) == sha256_of(["t", _deep(60)])


def test_b09_the_new_names_are_public() -> None:
    for name in ("ApprovalMismatch", "DigestError", "call_digest", "text_digest"):
        assert name in actrio.human.__all__
    assert list(actrio.human.__all__) == sorted(actrio.human.__all__)
    assert issubclass(ApprovalMismatch, HumanError)
    assert issubclass(ApprovalMismatch, ValueError)


def test_b09_the_event_carries_its_digest_through_the_wire_form() -> None:
    digest = call_digest("shell", {"command": "ls"})
    asked = HumanRequested(
        request_id="h-1", question="confirm", text="Allow?", digest=digest, call_id="c"
    )
    data = converter.unstructure(asked)
    assert data["digest"] == digest
    assert structure_tagged(data) == asked
    del data["digest"]
    with pytest.raises(ClassValidationError):
        structure_tagged(data)


# ---------------------------------------------------------------- asking and answering


@contextlib.asynccontextmanager
async def waiting_shell(
    ran: Ran, arguments: Mapping[str, Any], *, policies: str = BEFORE
) -> AsyncIterator[tuple[actrio.Runtime, HumanRequested, list[Any]]]:
    """A runtime whose shell call is waiting for a person: yields (rt, event, outcome)."""
    outcome: list[Any] = []
    async with (
        actrio.open_runtime(tools=[shell_tool(ran)], policies=policies, human="external") as rt,
        rt.stream(types=[HumanRequested]) as stream,
        trio.open_nursery() as nursery,
    ):

        async def call() -> None:
            try:
                outcome.append(await rt.call_tool("shell", arguments, call_id="c"))
            except ToolDenied as denied:
                outcome.append(denied)

        nursery.start_soon(call)
        async for event in stream:
            assert isinstance(event, HumanRequested)
            yield rt, event, outcome
            break


async def test_b09_the_event_carries_the_digest_of_what_runs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ran = Ran()
    args = {"command": "ls\r\x1b[2Jrm -rf ~", "env": ["PATH=/bin"]}
    async with waiting_shell(ran, args) as (rt, event, outcome):
        assert event.digest == call_digest("shell", args)
        assert event.call_id == "c/user.confirm"
        [request] = rt.human.pending()
        assert request.digest == event.digest
        assert ran.calls == []
        rt.respond(event.request_id, True, digest=event.digest)
    [result] = outcome
    assert result.decision.allowed
    assert ran.calls == [args]
    assert call_digest("shell", ran.calls[0]) == event.digest


async def test_b09_a_wrong_digest_answers_nothing_and_a_right_one_still_works(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ran = Ran()
    events: list[Event] = []
    other = call_digest("shell", {"command": "ls "})
    async with waiting_shell(ran, {"command": "ls"}) as (rt, event, outcome):
        rt.subscribe(events.append, types=[HumanResponded])
        with pytest.raises(ApprovalMismatch) as caught:
            rt.respond(event.request_id, True, digest=other)
        message = str(caught.value)
        assert event.request_id in message
        assert event.digest[:12] in message
        assert other[:12] in message
        assert event.digest not in message  # short forms only
        assert (caught.value.request_id, caught.value.expected, caught.value.given) == (
            event.request_id,
            event.digest,
            other,
        )
        with pytest.raises(ApprovalMismatch, match="names int"):
            rt.respond(event.request_id, True, digest=3)  # type: ignore[arg-type]
        with pytest.raises(ApprovalMismatch, match=r"\\r"):
            rt.respond(event.request_id, True, digest="\rabc")
        await trio.sleep(3600)  # an hour later it still waits; nothing ran
        assert [r.id for r in rt.human.pending()] == [event.request_id]
        assert ran.calls == []
        assert events == []
        rt.respond(event.request_id, True, digest=event.digest)
    [result] = outcome
    assert result.decision.allowed
    assert ran.calls == [{"command": "ls", "env": None}]
    [done] = events
    assert isinstance(done, HumanResponded)
    assert (done.status, done.answer, done.source) == ("answered", True, "respond")


async def test_b09_an_answer_meant_for_one_call_cannot_approve_another(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two calls wait; a UI that mixes up its answers is refused, not obeyed."""
    ran = Ran()
    asked: list[Any] = []  # HumanRequested events
    async with (
        actrio.open_runtime(tools=[shell_tool(ran)], policies=BEFORE, human="external") as rt,
        trio.open_nursery() as nursery,
    ):
        rt.subscribe(asked.append, types=[HumanRequested])

        async def call(command: str) -> None:
            with contextlib.suppress(ToolDenied):
                await rt.call_tool("shell", {"command": command})

        nursery.start_soon(call, "ls")
        nursery.start_soon(call, "rm -rf ~")
        await trio.testing.wait_all_tasks_blocked()
        safe, unsafe = sorted(asked, key=lambda e: "rm" in e.text)
        with pytest.raises(ApprovalMismatch):
            rt.respond(unsafe.request_id, True, digest=safe.digest)
        rt.respond(safe.request_id, True, digest=safe.digest)
        rt.respond(unsafe.request_id, False, digest=unsafe.digest)
    assert [c["command"] for c in ran.calls] == ["ls"]


async def test_b09_without_a_digest_respond_works_as_before(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ran = Ran()
    async with waiting_shell(ran, {"command": "ls"}) as (rt, event, outcome):
        rt.respond(event.request_id, True)
    assert outcome[0].decision.allowed
    assert [c["command"] for c in ran.calls] == ["ls"]


async def test_b09_a_question_about_nothing_else_digests_its_exact_text(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The model's own confirm_user / ask_user, and a direct question: the text is the subject."""
    asked: list[Any] = []  # HumanRequested events
    async with (
        actrio.open_runtime(tools=[confirm_user, ask_user], human="external") as rt,
        trio.open_nursery() as nursery,
    ):
        rt.subscribe(asked.append, types=[HumanRequested])
        nursery.start_soon(rt.call_tool, "confirm_user", {"message": "Deploy\u202e?"})
        nursery.start_soon(rt.call_tool, "ask_user", {"question": "Name?"})
        nursery.start_soon(rt.human.ask, "confirm", "ok?")
        await trio.testing.wait_all_tasks_blocked()
        by_text = {e.text: e for e in asked}
        assert set(by_text) == {"Deploy\\u202e?", "Name?", "ok?"}
        assert by_text["Deploy\\u202e?"].digest == text_digest("Deploy\u202e?")  # raw, not shown
        assert by_text["Name?"].digest == text_digest("Name?")
        assert by_text["ok?"].digest == text_digest("ok?")
        for event in asked:
            answer: bool | str = "Ada" if event.question == "elicit" else True
            rt.respond(event.request_id, answer, digest=event.digest)


async def test_b09_a_registered_confirm_tool_reads_the_calls_digest_from_its_context() -> None:
    """A user's own user.confirm tool, run as a required call, knows what it approves."""
    ran = Ran()
    digests: list[str | None] = []

    @tool(capability="user.confirm")
    async def my_confirm(message: str) -> bool:
        """A custom confirmation: reads the digest from its context."""
        digests.append(actrio.tools.current_tool_context().approval_digest)
        return True

    async with actrio.open_runtime(tools=[shell_tool(ran), my_confirm], policies=BEFORE) as rt:
        await rt.call_tool("shell", {"command": "ls"})
        await rt.call_tool("my_confirm", {"message": "direct"})  # not a required call
    assert digests == [call_digest("shell", {"command": "ls"}), None]


async def test_b09_asking_with_a_malformed_digest_is_a_usage_error() -> None:
    async with actrio.open_runtime(human="external") as rt:
        for bad in ("abc", "A" * 64, "g" * 64, 64):
            with pytest.raises(UsageError, match="64 lowercase hex"):
                await rt.human.ask("confirm", "ok?", digest=bad)  # type: ignore[arg-type]
        assert rt.human.pending() == ()


# ---------------------------------------------------------------- binding at run time


async def leaky_call(
    ran: Ran,
    tool_: Tool,
    arguments: dict[str, Any],
    on_asked: Any,
    *,
    events: list[Event],
) -> Any:
    """Call ``tool_`` under leaky agent policies; ``on_asked(rt, event, leaky)`` answers.

    Returns the call's result, or the ``ToolDenied`` it raised.
    """
    leaky = Leaky(BEFORE)
    async with (
        actrio.open_runtime(tools=[tool_], human="external") as rt,
        rt.stream(types=[HumanRequested]) as stream,
        trio.open_nursery() as nursery,
    ):
        rt.subscribe(events.append)
        host = attrs.evolve(await rt._tool_host(), local_policies=leaky)

        async def answer() -> None:
            async for event in stream:
                assert isinstance(event, HumanRequested)
                on_asked(rt, event, leaky)

        nursery.start_soon(answer)
        try:
            return await call_tool(host, tool_.name, arguments, call_id="c")
        except ToolDenied as denied:
            return denied
        finally:
            nursery.cancel_scope.cancel()


async def test_b09_arguments_changed_in_place_during_the_wait_are_denied(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The person approves what was shown; the argv changes meanwhile: the tool never runs."""
    ran = Ran()
    events: list[Event] = []

    def tamper_then_approve(rt: actrio.Runtime, event: HumanRequested, leaky: Leaky) -> None:
        leaky.shell_args()["env"].append("LD_PRELOAD=/tmp/evil.so")
        rt.respond(event.request_id, True, digest=event.digest)  # the digest shown: accepted

    denied = await leaky_call(
        ran,
        shell_tool(ran),
        {"command": "make", "env": ["CC=gcc"]},
        tamper_then_approve,
        events=events,
    )
    assert isinstance(denied, ToolDenied)
    assert "changed after they were approved" in str(denied)
    assert ran.calls == []  # never ran
    [asked] = [e for e in events if isinstance(e, HumanRequested)]
    now = call_digest("shell", {"command": "make", "env": ["CC=gcc", "LD_PRELOAD=/tmp/evil.so"]})
    assert asked.digest == call_digest("shell", {"command": "make", "env": ["CC=gcc"]})
    assert f"approved digest {asked.digest[:12]}, now digest {now[:12]}" in str(denied)
    assert denied.error
    [decision] = [e for e in events if isinstance(e, PolicyDecision) and e.call_id == "c"]
    assert not decision.allowed
    assert decision.error
    assert decision.required == ("user.confirm",)
    [errored] = [e for e in events if isinstance(e, PolicyErrored)]
    assert errored.call_id == "c"
    assert "changed after they were approved" in errored.reason


async def test_b09_arguments_made_undigestible_during_the_wait_are_denied(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ran = Ran()

    def tamper_then_approve(rt: actrio.Runtime, event: HumanRequested, leaky: Leaky) -> None:
        leaky.shell_args()["env"].append({"a", "set"})
        rt.respond(event.request_id, True)

    denied = await leaky_call(
        ran, shell_tool(ran), {"command": "make", "env": []}, tamper_then_approve, events=[]
    )
    assert isinstance(denied, ToolDenied)
    assert "now arguments without a digest" in str(denied)
    assert ran.calls == []


async def test_b09_what_runs_is_a_copy_taken_when_the_digest_matched(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A change after the check (while the decision is published) cannot reach the tool.

    A schema tool is called with its validated JSON object itself, so without
    the private copy the tool would see the later change.
    """
    seen: list[list[str]] = []

    async def run(command: str, env: list[str]) -> str:
        await trio.testing.wait_all_tasks_blocked()  # the subscriber below has run
        seen.append(list(env))
        return "ok"

    schema_shell = Tool.from_schema(
        "shell",
        "Pretend to run a command.",
        {
            "type": "object",
            "properties": {
                "command": {"type": "string"},
                "env": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["command", "env"],
            "additionalProperties": False,
        },
        run,
        capability="os.shell",
    )
    leaked: list[Leaky] = []
    events: list[Event] = []

    def approve(rt: actrio.Runtime, event: HumanRequested, leaky: Leaky) -> None:
        leaked.append(leaky)

        def tamper(decision: Event) -> None:
            if isinstance(decision, PolicyDecision) and decision.call_id == "c":
                leaky.shell_args()["env"].append("LD_PRELOAD=/tmp/evil.so")

        rt.subscribe(tamper, types=[PolicyDecision])
        rt.respond(event.request_id, True, digest=event.digest)

    result = await leaky_call(
        Ran(), schema_shell, {"command": "make", "env": ["CC=gcc"]}, approve, events=events
    )
    assert result.decision.allowed
    assert leaked[0].shell_args()["env"] == ["CC=gcc", "LD_PRELOAD=/tmp/evil.so"]  # it changed
    assert seen == [["CC=gcc"]]  # after the check: the tool ran what was approved


async def test_b09_the_callers_mapping_changed_during_the_wait_does_not_reach_the_tool(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The caller's own mapping is copied when checked: changing it later changes nothing."""
    ran = Ran()
    args: dict[str, Any] = {"command": "make", "env": ["CC=gcc"]}
    async with waiting_shell(ran, args) as (rt, event, outcome):
        args["command"] = "rm -rf ~"
        args["env"].append("LD_PRELOAD=/tmp/evil.so")
        rt.respond(event.request_id, True, digest=event.digest)
    assert outcome[0].decision.allowed
    assert ran.calls == [{"command": "make", "env": ["CC=gcc"]}]


async def test_b09_every_required_question_of_a_call_carries_the_same_digest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The runtime's and the agent's before policies each ask; both ask about one digest."""
    ran = Ran()
    asked: list[Any] = []  # HumanRequested events

    async def person(rt: actrio.Runtime) -> None:
        async with rt.stream(types=[HumanRequested]) as stream:
            async for event in stream:
                assert isinstance(event, HumanRequested)
                asked.append(event)
                rt.respond(event.request_id, True, digest=event.digest)

    decided: list[PolicyDecision] = []

    async def record(rt: actrio.Runtime) -> None:
        async with rt.stream(types=[PolicyDecision]) as stream:
            async for event in stream:
                assert isinstance(event, PolicyDecision)
                decided.append(event)

    async with (
        actrio.open_runtime(tools=[shell_tool(ran)], policies=BEFORE, human="external") as rt,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(person, rt)
        nursery.start_soon(record, rt)
        await trio.testing.wait_all_tasks_blocked()
        host = attrs.evolve(await rt._tool_host(), local_policies=PolicyEngine(BEFORE))
        await call_tool(host, "shell", {"command": "ls"})
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert [e.digest for e in asked] == [call_digest("shell", {"command": "ls"})] * 2
    assert ran.calls == [{"command": "ls", "env": None}]
    # The decision reports both sets' required calls, the runtime's first.
    (shell,) = [d for d in decided if d.capability == "os.shell"]
    assert shell.required == ("user.confirm", "user.confirm")


# ---------------------------------------------------------------- the console


@pytest.fixture
def pipes() -> Iterator[tuple[int, int, int, int]]:
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    yield in_read, in_write, out_read, out_write
    for fd in (in_read, in_write, out_read, out_write):
        with contextlib.suppress(OSError):
            os.close(fd)


def shown(fd: int) -> str:
    os.set_blocking(fd, False)
    return os.read(fd, 65536).decode()


async def test_b09_the_console_shows_the_short_digest_with_the_question(
    pipes: tuple[int, int, int, int],
) -> None:
    in_read, in_write, out_read, out_write = pipes
    responder = ConsoleResponder(in_read, out_write, require_tty=False)
    digest = call_digest("shell", {"command": "ls"})
    os.write(in_write, b"y\nAda\n")
    request = HumanRequest(id="h-1", kind="confirm", text="Allow ls?", digest=digest)
    assert await responder(request) is True
    assert shown(out_read) == f"[actrio] digest {digest[:12]}\n[actrio] Allow ls? [y/N] "
    elicit = HumanRequest(id="h-2", kind="elicit", text="Name?", digest=text_digest("Name?"))
    assert await responder(elicit) == "Ada"
    assert shown(out_read) == f"[actrio] digest {text_digest('Name?')[:12]}\n[actrio] Name?\n> "


async def test_b09_the_console_shows_the_digest_of_the_call_that_runs(
    pipes: tuple[int, int, int, int],
) -> None:
    in_read, in_write, out_read, out_write = pipes
    ran = Ran()
    os.write(in_write, b"y\n")
    responder = ConsoleResponder(in_read, out_write, require_tty=False)
    async with actrio.open_runtime(tools=[shell_tool(ran)], policies=BEFORE, human=responder) as rt:
        await rt.call_tool("shell", {"command": "ls\r"})
    digest = call_digest("shell", {"command": "ls\r"})
    text = shown(out_read)
    assert f"[actrio] digest {digest[:12]}\n" in text
    assert digest not in text
    assert "ls\\\\r" in text  # escaped, as B-08 shows it
    assert ran.calls == [{"command": "ls\r", "env": None}]
