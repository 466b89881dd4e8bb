"""The human-in-the-loop channel: events, respond(), responders, the console."""

from __future__ import annotations

import contextlib
import os

import pytest
import trio
import trio.testing
from cattrs.errors import ClassValidationError

import actrio
from actrio._wire import converter, structure_tagged
from actrio.human import (
    ConsoleResponder,
    HumanChannel,
    HumanRequest,
    HumanRequested,
    HumanResponded,
    HumanTimeout,
    HumanUnavailable,
    InvalidAnswer,
    UnknownHumanRequest,
    display_text,
)
from actrio.kernel import Event, UsageError, open_actor_system
from actrio.tools.official import ask_user, confirm_user


def test_display_text_escapes_everything_invisible() -> None:
    """B-08/B-09: controls, bidi overrides, zero-width and Tags characters are shown escaped."""
    assert display_text("plain text, café") == "plain text, café"
    shown = display_text("ls\r\x1b[2Jrm\u202e\u200d\U000e0041\n\t")
    assert shown == "ls\\r\\x1b[2Jrm\\u202e\\u200d\\U000e0041\\n\\t"
    assert shown.isprintable()


async def test_without_a_responder_asking_fails_at_once() -> None:
    async with open_actor_system() as system:
        channel = HumanChannel(system)
        assert not channel.available
        with pytest.raises(HumanUnavailable, match="human="):
            await channel.ask("confirm", "ok?")


async def test_bad_configuration_and_questions_are_usage_errors() -> None:
    async with open_actor_system() as system:
        with pytest.raises(UsageError, match="human="):
            HumanChannel(system, "console")  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="human_timeout"):
            HumanChannel(system, "external", timeout=0)
        channel = HumanChannel(system, "external")
        with pytest.raises(UsageError, match="kind"):
            await channel.ask("choose", "which?")  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="str"):
            await channel.ask("elicit", b"which?")  # type: ignore[arg-type]
        assert repr(channel) == "<HumanChannel external waiting=0>"


async def test_respond_answers_and_checks_the_answer() -> None:
    events: list[Event] = []
    async with actrio.open_runtime(human="external") as rt:
        rt.subscribe(events.append)
        answers: list[bool | str] = []

        async def ask() -> None:
            answers.append(await rt.human.ask("elicit", "name?", call_id="c1"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            [request] = rt.human.pending()
            assert (request.kind, request.text, request.call_id) == ("elicit", "name?", "c1")
            with pytest.raises(InvalidAnswer, match="str"):
                rt.respond(request.id, True)
            with pytest.raises(InvalidAnswer, match="characters"):
                rt.respond(request.id, "x" * 70_000)
            assert rt.human.pending() == (request,)  # still waiting after bad answers
            with pytest.raises(UnknownHumanRequest, match="waiting: h-"):
                rt.respond("h-nope", "x")
            rt.respond(request.id, "Ada")
            with pytest.raises(UnknownHumanRequest):
                rt.respond(request.id, "again")  # answered already
        assert answers == ["Ada"]
    requested = [e for e in events if isinstance(e, HumanRequested)]
    responded = [e for e in events if isinstance(e, HumanResponded)]
    assert [(e.question, e.text) for e in requested] == [("elicit", "name?")]
    assert [(e.status, e.answer, e.source) for e in responded] == [("answered", "Ada", "respond")]


async def test_a_confirm_takes_only_a_bool() -> None:
    async with actrio.open_runtime(human="external") as rt, trio.open_nursery() as nursery:
        nursery.start_soon(rt.human.ask, "confirm", "ok?")
        await trio.testing.wait_all_tasks_blocked()
        [request] = rt.human.pending()
        with pytest.raises(InvalidAnswer, match="bool"):
            rt.respond(request.id, "yes")
        rt.respond(request.id, False)


async def test_a_responder_answers_and_respond_may_win(
    autojump_clock: trio.testing.MockClock,
) -> None:
    events: list[Event] = []

    async def slow(request: HumanRequest) -> bool | str:
        await trio.sleep(10)
        return "from responder"

    async with actrio.open_runtime(human=slow) as rt:
        rt.subscribe(events.append)
        assert await rt.human.ask("elicit", "first?") == "from responder"
        async with trio.open_nursery() as nursery:
            results: list[bool | str] = []

            async def ask() -> None:
                results.append(await rt.human.ask("elicit", "second?"))

            nursery.start_soon(ask)
            await trio.sleep(1)
            [request] = rt.human.pending()
            rt.respond(request.id, "from respond")
        assert results == ["from respond"]
    sources = [e.source for e in events if isinstance(e, HumanResponded)]
    assert sources == ["responder", "respond"]


async def test_a_responder_that_fails_or_answers_wrongly_fails_the_question() -> None:
    async def broken(request: HumanRequest) -> bool | str:
        raise OSError("tty gone")

    async def wrong(request: HumanRequest) -> bool | str:
        return "yes"  # a confirm wants a bool

    async def late(request: HumanRequest) -> bool | str:
        return True

    events: list[Event] = []
    async with open_actor_system() as system:
        system.subscribe(events.append)
        with pytest.raises(HumanUnavailable, match="OSError: tty gone"):
            await HumanChannel(system, broken).ask("confirm", "ok?")
        with pytest.raises(InvalidAnswer):
            await HumanChannel(system, wrong).ask("confirm", "ok?")
        assert await HumanChannel(system, late).ask("confirm", "ok?") is True
    statuses = [e.status for e in events if isinstance(e, HumanResponded)]
    assert statuses == ["failed", "failed", "answered"]


async def test_a_question_times_out(autojump_clock: trio.testing.MockClock) -> None:
    events: list[Event] = []
    async with actrio.open_runtime(human="external", human_timeout=30) as rt:
        rt.subscribe(events.append)
        with pytest.raises(HumanTimeout, match="30 s"):
            await rt.human.ask("confirm", "ok?")
        assert rt.human.pending() == ()
    assert [e.status for e in events if isinstance(e, HumanResponded)] == ["timed_out"]


async def test_a_cancelled_question_ends_with_one_cancelled_event(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never(request: HumanRequest) -> bool | str:
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover

    events: list[Event] = []
    async with actrio.open_runtime(human=never) as rt:
        rt.subscribe(events.append)
        with trio.move_on_after(5):
            await rt.human.ask("confirm", "ok?")
    assert [e.status for e in events if isinstance(e, HumanResponded)] == ["cancelled"]


async def test_a_question_cancelled_before_it_is_published_leaves_no_events() -> None:
    events: list[Event] = []
    async with actrio.open_runtime(human="external") as rt:
        rt.subscribe(events.append)
        with trio.CancelScope() as scope:
            scope.cancel()
            await rt.human.ask("confirm", "ok?")
    assert not [e for e in events if isinstance(e, HumanRequested | HumanResponded)]


async def test_the_official_tools_ask_the_channel_of_their_runtime() -> None:
    async def person(request: HumanRequest) -> bool | str:
        return True if request.kind == "confirm" else f"answer to {request.text}"

    async with actrio.open_runtime(tools=[confirm_user, ask_user], human=person) as rt:
        assert (await rt.call_tool("confirm_user", {"message": "ok?"})).value is True
        elicited = await rt.call_tool("ask_user", {"question": "name?"})
        assert elicited.value == "answer to name?"


async def test_the_official_tools_fail_clearly_outside_a_runtime() -> None:
    with pytest.raises(actrio.tools.ToolFailed) as caught:
        await confirm_user.run({"message": "ok?"})
    assert isinstance(caught.value.error, HumanUnavailable)
    assert "human channel" in str(caught.value.error)


# ---------------------------------------------------------------- the console


class Console:
    """A pipe pair standing in for a terminal."""

    def __init__(self) -> None:
        self.in_read, self.in_write = os.pipe()
        self.out_read, self.out_write = os.pipe()

    def type(self, text: str) -> None:
        os.write(self.in_write, text.encode())

    def shown(self) -> str:
        os.set_blocking(self.out_read, False)
        try:
            return os.read(self.out_read, 65536).decode()
        except BlockingIOError:  # pragma: no cover - nothing written
            return ""

    def close(self) -> None:
        for fd in (self.in_read, self.in_write, self.out_read, self.out_write):
            with contextlib.suppress(OSError):
                os.close(fd)


@pytest.fixture
def console() -> Console:
    pipes = Console()
    yield pipes  # type: ignore[misc]
    pipes.close()


def request(kind: str, text: str) -> HumanRequest:
    return HumanRequest(id="h-1", kind=kind, text=text, digest="d" * 64)  # type: ignore[arg-type]


async def test_the_console_asks_and_reads_answers(console: Console) -> None:
    responder = ConsoleResponder(console.in_read, console.out_write, require_tty=False)
    console.type("maybe\nYes\n")
    assert await responder(request("confirm", "Allow ls?")) is True
    shown = console.shown()
    assert shown.count("[actrio] Allow ls? [y/N] ") == 2
    assert "please answer y or n" in shown
    console.type("\nAda Lovelace\r\n")
    assert await responder(request("confirm", "Again?")) is False  # Enter is no
    assert await responder(request("elicit", "Name?")) == "Ada Lovelace"
    assert "[actrio] Name?\n> " in console.shown()
    assert os.get_blocking(console.in_read)  # the shared descriptor is given back blocking


async def test_the_console_gives_up_after_three_unclear_answers(console: Console) -> None:
    responder = ConsoleResponder(console.in_read, console.out_write, require_tty=False)
    console.type("a\nb\nc\n")
    assert await responder(request("confirm", "ok?")) is False


async def test_the_console_refuses_a_non_terminal_and_an_ended_input(console: Console) -> None:
    strict = ConsoleResponder(console.in_read, console.out_write)
    with pytest.raises(HumanUnavailable, match="not a terminal"):
        await strict(request("confirm", "ok?"))
    loose = ConsoleResponder(console.in_read, console.out_write, require_tty=False)
    os.close(console.in_write)
    with pytest.raises(HumanUnavailable, match="ended"):
        await loose(request("elicit", "name?"))


async def test_the_console_refuses_an_endless_line(console: Console) -> None:
    responder = ConsoleResponder(console.in_read, console.out_write, require_tty=False)

    async def flood() -> None:
        chunk = b"x" * 4096
        with trio.move_on_after(5):
            for _ in range(20):
                await trio.to_thread.run_sync(os.write, console.in_write, chunk)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(flood)
        with pytest.raises(HumanUnavailable, match="over 65536 bytes"):
            await responder(request("elicit", "name?"))
        nursery.cancel_scope.cancel()


async def test_a_console_behind_the_runtime_fails_clearly_when_not_interactive(
    console: Console,
) -> None:
    """A CI run with the console responder and no terminal: a clear error, not a hang."""
    responder = ConsoleResponder(console.in_read, console.out_write)
    async with actrio.open_runtime(human=responder) as rt:
        with pytest.raises(HumanUnavailable, match="not a terminal"):
            await rt.human.ask("confirm", "ok?")


async def test_a_responder_finishing_after_respond_changes_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def stubborn(request: HumanRequest) -> bool | str:
        with trio.CancelScope(shield=True):  # answers even after being cancelled
            await trio.sleep(10)
        return "late"

    async with actrio.open_runtime(human=stubborn) as rt:
        results: list[bool | str] = []

        async def ask() -> None:
            results.append(await rt.human.ask("elicit", "name?"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.sleep(1)
            [waiting] = rt.human.pending()
            rt.respond(waiting.id, "first")
    assert results == ["first"]


@pytest.mark.parametrize("answer", [True, False, "Ada", None])
def test_human_events_round_trip_through_the_wire_form(answer: bool | str | None) -> None:
    """JSONL exports read back: the answer keeps its type (a bool stays a bool)."""
    event = HumanResponded(
        request_id="h-1", status="answered", answer=answer, source="respond", seq=3, time=1.5
    )
    again = structure_tagged(converter.unstructure(event))
    assert again == event
    assert type(again.answer) is type(answer)
    asked = HumanRequested(
        request_id="h-1", question="confirm", text="ok?", digest="d" * 64, call_id="c"
    )
    assert structure_tagged(converter.unstructure(asked)) == asked
    assert structure_tagged(converter.unstructure(asked)).digest == "d" * 64


def test_a_bad_answer_in_the_wire_form_is_refused() -> None:
    with pytest.raises(ClassValidationError) as caught:
        structure_tagged(
            {"kind": "human_responded", "request_id": "h", "status": "answered", "answer": 3}
        )
    [error] = caught.value.exceptions
    assert isinstance(error, TypeError)
    assert "got int" in str(error)
