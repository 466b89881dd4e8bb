"""Actors and refs: tell/ask/stop, boxed errors, children, cancellation (S-11..S-13, S-20, S-21)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import attrs
import pytest
import trio
import trio.testing

import actrio

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


# ---------------------------------------------------------------- messages


@attrs.frozen
class Add(actrio.Request[int]):
    n: int


@attrs.frozen
class Ping(actrio.Request[str]):
    pass


@attrs.frozen
class Note:
    text: str


@attrs.frozen
class Boom:
    pass


@attrs.frozen
class Go:
    pass


@attrs.frozen
class WhoAmI(actrio.Request[Any]):
    pass


@attrs.define
class Mutable:
    x: int = 0


@dataclasses.dataclass(frozen=True)
class FrozenDataclass:
    x: int = 0


# ---------------------------------------------------------------- helpers


def leaves(error: BaseException) -> Iterator[BaseException]:
    """The non-group exceptions inside ``error``, depth first."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaves(inner)
    else:
        yield error


def of_type(events: list[actrio.Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def child_ref(sup: actrio.ActorRef[Any], child_id: str) -> actrio.ActorRef[Any]:
    for info in await sup.ask(actrio.WhichChildren()):
        if info.id == child_id:
            assert info.ref is not None
            return info.ref
    raise AssertionError(f"no child {child_id!r}")


async def foreign_cancelled() -> trio.Cancelled:
    """A trio.Cancelled instance whose cancel scope is no longer active."""
    with trio.CancelScope() as scope:
        scope.cancel()
        try:
            await trio.sleep(0)
        except trio.Cancelled as cancelled:
            return cancelled
    raise AssertionError("the precancelled sleep did not raise")


class Counter(actrio.Actor[Add]):
    def __init__(self) -> None:
        self.total = 0

    async def receive(self, message: Add) -> int:
        self.total += message.n
        return self.total


class Recorder(actrio.Actor[Any]):
    def __init__(self) -> None:
        self.seen: list[object] = []

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        if isinstance(message, Ping):
            return "pong"
        return None


class Failing(actrio.Actor[Any]):
    """Raises ``error`` for Boom, answers Ping otherwise."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Boom):
            raise self.error
        return "pong"


class Idle(actrio.Actor[Any]):
    async def receive(self, message: Any) -> None:
        pass


# ---------------------------------------------------------------- tell / ask


async def test_typed_ask_returns_what_receive_returns(autojump_clock: trio.abc.Clock) -> None:
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(Counter(), name="counter")
        first: int = await ref.ask(Add(1))
        second: int = await ref.ask(Add(2))
        assert (first, second) == (1, 3)
        assert await ref.ask(Add(3)) == 6


async def test_tells_are_handled_in_send_order(autojump_clock: trio.abc.Clock) -> None:
    actor = Recorder()
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(actor)
        for i in range(20):
            await ref.tell(Note(str(i)))
        assert await ref.ask(Ping()) == "pong"
        assert actor.seen[:20] == [Note(str(i)) for i in range(20)]
        assert ref.statistics().mailbox.processed == 21


async def test_ask_on_failing_receive_raises_boxed_actor_error(
    autojump_clock: trio.abc.Clock,
) -> None:
    original = ValueError("bad input")
    async with actrio.open_actor_system() as system:
        sup = await system.spawn(
            actrio.Supervisor([actrio.ChildSpec("w", lambda: Failing(original))]), name="sup"
        )
        ref = await child_ref(sup, "w")
        with pytest.raises(actrio.ActorError) as info:
            await ref.ask(Boom())
        error = info.value
        assert type(error) is actrio.ActorError
        assert error.actor_id == ref.id
        assert error.path == "/sup/w"
        assert error.incarnation == 1
        assert error.message_type == "Boom"
        assert error.phase == "receive"
        assert error.__cause__ is original
        assert error.error is original
        # The supervisor restarted it: the same ref answers from incarnation 2.
        with trio.fail_after(5):
            while ref.statistics().incarnation < 2 or ref.statistics().state != "running":
                await trio.sleep(0.01)
        assert await ref.ask(Ping()) == "pong"


async def test_reject_answers_the_asker_and_the_actor_keeps_running(
    autojump_clock: trio.abc.Clock,
) -> None:
    refusal = ValueError("not today")

    class Picky(actrio.Actor[Any]):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, Boom):
                raise actrio.Reject(refusal)
            return "pong"

    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        ref = await system.spawn(Picky(), name="picky")
        with pytest.raises(ValueError, match="not today") as info:
            await ref.ask(Boom())
        assert info.value is refusal
        await ref.tell(Boom())  # nobody to answer: just dropped
        assert await ref.ask(Ping()) == "pong"
        stats = ref.statistics()
        assert stats.state == "running"
        assert stats.incarnation == 1
        assert stats.mailbox.processed == 3
    assert of_type(events, actrio.ActorFailed) == []


async def _send(ref: actrio.ActorRef[Any], how: str) -> None:
    if how == "tell":
        await ref.tell(Note("late"))
    elif how == "ask":
        await ref.ask(Ping())
    else:
        ref.tell_nowait(Note("late"))


@pytest.mark.parametrize("send", ["tell", "ask", "tell_nowait"])
async def test_sending_to_a_stopped_actor_raises_actor_stopped_at_once(
    autojump_clock: trio.abc.Clock, send: str
) -> None:
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(Recorder())
        await ref.stop()
        assert not ref.alive
        with trio.fail_after(1), pytest.raises(actrio.ActorStopped):
            await _send(ref, send)
        stats = ref.statistics()
        assert stats.state == "stopped"
        assert stats.mailbox.closed
        assert stats.mailbox.rejected == 1


async def test_stop_is_idempotent(autojump_clock: trio.abc.Clock) -> None:
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        ref = await system.spawn(Recorder(), name="r")
        await ref.stop()
        with trio.fail_after(1):
            await ref.stop()
            await ref.stop()
    exits = of_type(events, actrio.ActorExited)
    assert [(e.path, e.reason) for e in exits] == [("/r", "stopped")]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"text": "hi"}, id="dict"),
        pytest.param(Mutable(1), id="attrs-define-mutable"),
        pytest.param(object(), id="plain-object"),
        pytest.param(FrozenDataclass(1), id="frozen-dataclass"),
        pytest.param(Note, id="a-class-not-an-instance"),
        pytest.param("text", id="str"),
    ],
)
async def test_non_frozen_attrs_messages_raise_invalid_message(
    autojump_clock: trio.abc.Clock, bad: object
) -> None:
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(Recorder())
        with pytest.raises(actrio.InvalidMessage) as info:
            await ref.tell(bad)
        assert isinstance(info.value, TypeError)
        assert isinstance(info.value, actrio.UsageError)
        with pytest.raises(TypeError):
            await ref.ask(bad)
        with pytest.raises(actrio.InvalidMessage):
            ref.tell_nowait(bad)
        mailbox = ref.statistics().mailbox
        assert (mailbox.queued, mailbox.processed) == (0, 0)
        assert ref.alive


async def test_tell_nowait_raises_actrio_would_block_when_full(
    autojump_clock: trio.abc.Clock,
) -> None:
    assert actrio.WouldBlock is trio.WouldBlock
    release = trio.Event()

    class Stuck(actrio.Actor[Any]):
        async def receive(self, message: Any) -> None:
            await release.wait()

    async with actrio.open_actor_system() as system:
        ref = await system.spawn(Stuck(), capacity=2)
        ref.tell_nowait(Note("taken"))
        await trio.testing.wait_all_tasks_blocked()  # the actor holds it
        ref.tell_nowait(Note("q1"))
        ref.tell_nowait(Note("q2"))
        with pytest.raises(trio.WouldBlock):
            ref.tell_nowait(Note("refused"))
        assert ref.statistics().mailbox.queued == 2
        release.set()


# ---------------------------------------------------------------- spawning


async def test_spawning_a_non_actor_is_a_usage_error(autojump_clock: trio.abc.Clock) -> None:
    class Parent(actrio.Actor[Any]):
        async def receive(self, message: Any) -> Any:
            with pytest.raises(actrio.UsageError):
                await self.spawn(object())  # type: ignore[type-var]
            return "checked"

    async with actrio.open_actor_system() as system:
        with pytest.raises(actrio.UsageError):
            await system.spawn(Recorder)  # type: ignore[arg-type]
        with pytest.raises(actrio.UsageError):
            await system.spawn(object())  # type: ignore[arg-type]
        assert system.statistics().actors == 0
        parent = await system.spawn(Parent())
        assert await parent.ask(Ping()) == "checked"
        assert parent.statistics().children == 0


async def test_spawning_the_same_instance_twice_is_a_usage_error(
    autojump_clock: trio.abc.Clock,
) -> None:
    actor = Recorder()
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(actor, name="once")
        with pytest.raises(actrio.UsageError):
            await system.spawn(actor, name="twice")
        assert system.lookup("/twice") is None
        assert system.statistics().actors == 1
        await ref.stop()
        with pytest.raises(actrio.UsageError):
            await system.spawn(actor, name="again")


async def test_on_start_failure_raises_start_error_at_spawn(
    autojump_clock: trio.abc.Clock,
) -> None:
    original = RuntimeError("no config")

    class Broken(actrio.Actor[Any]):
        async def on_start(self) -> None:
            await trio.sleep(1)
            raise original

        async def receive(self, message: Any) -> None:
            raise AssertionError("never started")

    async with actrio.open_actor_system() as system:
        with pytest.raises(actrio.StartError) as info:
            await system.spawn(Broken(), name="broken")
        error = info.value
        assert isinstance(error, actrio.ActorError)
        assert error.phase == "on_start"
        assert error.path == "/broken"
        assert error.incarnation == 1
        assert error.message_type is None
        assert error.__cause__ is original
        assert system.lookup("/broken") is None
        assert system.statistics().actors == 0
        # The system is still usable, and the name is free again.
        ref = await system.spawn(Recorder(), name="broken")
        assert await ref.ask(Ping()) == "pong"


async def test_unsupervised_child_failure_crashes_its_parent(
    autojump_clock: trio.abc.Clock,
) -> None:
    original = ValueError("child bad")
    stopped: list[str] = []

    class Parent(actrio.Actor[Any]):
        async def on_start(self) -> None:
            self.child = await self.spawn(Failing(original), name="kid")

        async def receive(self, message: Any) -> None:
            pass

        async def on_stop(self) -> None:
            stopped.append("parent")

    parent = Parent()
    events: list[actrio.Event] = []
    with pytest.RaisesGroup(actrio.ActorError) as info:
        async with actrio.open_actor_system() as system:
            system.subscribe(events.append)
            await system.spawn(parent, name="p")
            await parent.child.tell(Boom())
            await trio.sleep(10)
            raise AssertionError("the system block should have been cancelled")
    (error,) = info.value.exceptions
    assert isinstance(error, actrio.ActorError)
    assert (error.path, error.phase) == ("/p", "children")
    child_errors = list(leaves(error.error))
    assert len(child_errors) == 1
    child_error = child_errors[0]
    assert isinstance(child_error, actrio.ActorError)
    assert (child_error.path, child_error.phase) == ("/p/kid", "receive")
    assert child_error.__cause__ is original
    assert stopped == ["parent"]
    failed = [(e.path, e.phase) for e in of_type(events, actrio.ActorFailed)]
    assert failed == [("/p/kid", "receive"), ("/p", "children")]


# ---------------------------------------------------------------- children


async def test_children_live_under_their_parent_and_stop_first(
    autojump_clock: trio.abc.Clock,
) -> None:
    class Parent(actrio.Actor[Any]):
        async def on_start(self) -> None:
            self.kids = [await self.spawn(Recorder(), name=f"c{i}") for i in range(3)]

        async def receive(self, message: Any) -> None:
            pass

    parent = Parent()
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        ref = await system.spawn(parent, name="p")
        assert ref.statistics().children == 3
        assert [k.path for k in parent.kids] == ["/p/c0", "/p/c1", "/p/c2"]
        assert system.lookup("/p/c1") == parent.kids[1]
        assert await parent.kids[2].ask(Ping()) == "pong"
        await ref.stop()
        assert not any(k.alive for k in parent.kids)
        assert system.lookup("/p/c1") is None
        assert system.statistics().actors == 0
    exits = of_type(events, actrio.ActorExited)
    assert exits[-1].path == "/p"
    assert sorted(e.path for e in exits[:-1]) == ["/p/c0", "/p/c1", "/p/c2"]


async def test_self_stop_and_shutdown_set_the_exit_reason(autojump_clock: trio.abc.Clock) -> None:
    class Quitter(actrio.Actor[Any]):
        def __init__(self, how: str) -> None:
            self.how = how

        async def receive(self, message: Any) -> None:
            if self.how == "stop":
                self.stop()
            else:
                raise actrio.Shutdown("done")

    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        normal = await system.spawn(Quitter("stop"), name="normal")
        shut = await system.spawn(Quitter("shutdown"), name="shut")
        await normal.tell(Go())
        await shut.tell(Go())
        with trio.fail_after(1):
            while normal.alive or shut.alive:
                await trio.sleep(0.01)
    reasons = {e.path: e.reason for e in of_type(events, actrio.ActorExited)}
    assert reasons == {"/normal": "normal", "/shut": "shutdown"}


async def test_current_actor_inside_and_outside(autojump_clock: trio.abc.Clock) -> None:
    class Introspective(actrio.Actor[Any]):
        async def receive(self, message: Any) -> Any:
            return actrio.current_actor(), actrio.current_system(), self.ref

    with pytest.raises(actrio.UsageError):
        actrio.current_actor()
    async with actrio.open_actor_system() as system:
        with pytest.raises(actrio.UsageError):
            actrio.current_actor()  # the system body is not an actor
        ref = await system.spawn(Introspective())
        me, my_system, own = await ref.ask(WhoAmI())
        assert me == ref
        assert own == ref
        assert my_system is system


async def test_statistics_snapshots_are_frozen_attrs(autojump_clock: trio.abc.Clock) -> None:
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(Counter(), name="c")
        await ref.ask(Add(1))
        snapshot = ref.statistics()
        assert isinstance(snapshot, actrio.ActorStatistics)
        assert attrs.has(type(snapshot))
        assert attrs.inspect(type(snapshot)).is_frozen
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            snapshot.state = "stopped"  # type: ignore[misc]
        assert (snapshot.path, snapshot.state, snapshot.incarnation) == ("/c", "running", 1)
        assert snapshot.mailbox.processed == 1
        await ref.ask(Add(1))
        assert snapshot.mailbox.processed == 1  # a snapshot, not a live view
        assert ref.statistics().mailbox.processed == 2


# ---------------------------------------------------------------- S-11


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit, MemoryError])
async def test_s11_fatal_error_is_not_restarted_and_propagates(
    autojump_clock: trio.abc.Clock, fatal: type[BaseException]
) -> None:
    """S-11: KeyboardInterrupt, SystemExit, MemoryError bypass the restart decider."""
    raised = fatal("fatal")
    calls: list[int] = []

    class Fatal(actrio.Actor[Any]):
        async def receive(self, message: Any) -> None:
            raise raised

    def factory() -> Fatal:
        calls.append(1)
        return Fatal()

    events: list[actrio.Event] = []
    with pytest.RaisesGroup(fatal, allow_unwrapped=True, flatten_subgroups=True) as info:
        async with actrio.open_actor_system() as system:
            system.subscribe(events.append)
            sup = await system.spawn(
                actrio.Supervisor([actrio.ChildSpec("c", factory)], max_restarts=10), name="sup"
            )
            ref = await child_ref(sup, "c")
            await ref.tell(Boom())
            await trio.sleep(10)
    assert list(leaves(info.value)) == [raised]
    assert len(calls) == 1
    assert of_type(events, actrio.RestartCycle) == []
    assert of_type(events, actrio.ActorRestarted) == []


async def test_s11_foreign_cancelled_is_not_a_failure(autojump_clock: trio.abc.Clock) -> None:
    """S-11: a trio.Cancelled from a foreign scope is fatal: never restarted."""
    calls: list[int] = []

    class Leaky(actrio.Actor[Any]):
        async def receive(self, message: Any) -> None:
            raise await foreign_cancelled()

    def factory() -> Leaky:
        calls.append(1)
        return Leaky()

    events: list[actrio.Event] = []
    with trio.fail_after(30), contextlib.suppress(BaseException):
        async with actrio.open_actor_system() as system:
            system.subscribe(events.append)
            sup = await system.spawn(
                actrio.Supervisor([actrio.ChildSpec("c", factory)], max_restarts=10), name="sup"
            )
            ref = await child_ref(sup, "c")
            await ref.tell(Boom())
            await trio.sleep(10)
    assert len(calls) == 1, "a foreign Cancelled was treated as a restartable exit"
    assert of_type(events, actrio.RestartCycle) == []
    assert of_type(events, actrio.ActorRestarted) == []


# ---------------------------------------------------------------- S-12


class Swallower(actrio.Actor[Any]):
    """Swallows trio.Cancelled in receive, in one of two styles, never re-raising."""

    def __init__(self, style: str) -> None:
        self.style = style
        self.log: list[str] = []
        self.busy = trio.Event()

    async def receive(self, message: Any) -> None:
        self.busy.set()
        if self.style == "base":
            try:
                await trio.sleep(100)
            except BaseException:
                self.log.append("swallowed")
        else:
            try:
                try:
                    await trio.sleep(100)
                except Exception:
                    self.log.append("exception")
            except BaseException:
                self.log.append("swallowed")


@pytest.mark.parametrize("style", ["base", "exception-then-base"])
@pytest.mark.parametrize("how", ["ref.stop", "leave-system"])
async def test_s12_swallowed_cancel_still_stops_and_is_reported(
    autojump_clock: trio.abc.Clock, style: str, how: str
) -> None:
    """S-12: a receive that swallows Cancelled cannot keep the tree alive."""
    actor = Swallower(style)
    events: list[actrio.Event] = []
    with trio.fail_after(10):
        async with actrio.open_actor_system() as system:
            system.subscribe(events.append)
            ref = await system.spawn(actor, name="sw")
            await ref.tell(Go())
            await actor.busy.wait()
            await trio.sleep(1)
            if how == "ref.stop":
                await ref.stop()
                assert not ref.alive
    assert trio.current_time() < 10
    assert not ref.alive
    assert "swallowed" in actor.log
    assert "exception" not in actor.log
    ignored = of_type(events, actrio.CancellationIgnored)
    assert [(e.path, e.phase, e.message_type) for e in ignored] == [("/sw", "receive", "Go")]
    exits = of_type(events, actrio.ActorExited)
    assert [e.path for e in exits] == ["/sw"]
    assert ignored[0].seq < exits[0].seq


async def test_s12_swallowed_cancel_in_on_start_is_reported(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-12: swallowing the spawner's cancellation in on_start is reported too."""

    class SwallowStart(actrio.Actor[Any]):
        def __init__(self) -> None:
            self.swallowed = False

        async def on_start(self) -> None:
            try:
                await trio.sleep(100)
            except BaseException:
                self.swallowed = True

        async def receive(self, message: Any) -> None:
            pass

    actor = SwallowStart()
    events: list[actrio.Event] = []
    with trio.fail_after(10):
        async with actrio.open_actor_system() as system:
            system.subscribe(events.append)
            with trio.move_on_after(1) as scope:
                await system.spawn(actor, name="a")
            assert scope.cancelled_caught
            assert actor.swallowed
            await trio.sleep(1)
            assert system.lookup("/a") is None
    ignored = of_type(events, actrio.CancellationIgnored)
    assert [(e.path, e.phase, e.message_type) for e in ignored] == [("/a", "on_start", None)]


# ---------------------------------------------------------------- S-13


class SlowCleanup(actrio.Actor[Any]):
    """Mid-await in receive; unshielded cleanup in receive, slow on_stop."""

    def __init__(self, on_stop_seconds: float) -> None:
        self.on_stop_seconds = on_stop_seconds
        self.log: list[tuple[str, float]] = []
        self.busy = trio.Event()

    async def receive(self, message: Any) -> None:
        self.busy.set()
        try:
            await trio.sleep(100)
        finally:
            try:
                await trio.sleep(1)  # unshielded cleanup: cancelled again
                self.log.append(("finally-completed", trio.current_time()))
            except trio.Cancelled:
                self.log.append(("finally-cancelled", trio.current_time()))
                raise

    async def on_stop(self) -> None:
        self.log.append(("on_stop-start", trio.current_time()))
        await trio.sleep(self.on_stop_seconds)
        self.log.append(("on_stop-done", trio.current_time()))


async def test_s13_on_stop_is_shielded_after_cancel_mid_await(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-13: unshielded cleanup is cancelled; on_stop's awaits complete."""
    actor = SlowCleanup(on_stop_seconds=1)
    events: list[actrio.Event] = []
    async with actrio.open_actor_system(shutdown_grace=5) as system:
        system.subscribe(events.append)
        ref = await system.spawn(actor, name="s")
        await ref.tell(Go())
        await actor.busy.wait()
        await trio.sleep(1)
        t0 = trio.current_time()
        await ref.stop()
        assert trio.current_time() - t0 == pytest.approx(1.0)
    assert actor.log == [
        ("finally-cancelled", t0),
        ("on_stop-start", t0),
        ("on_stop-done", t0 + 1),
    ]
    exits = of_type(events, actrio.ActorExited)
    assert [(e.path, e.reason) for e in exits] == [("/s", "stopped")]
    assert exits[0].time == pytest.approx(t0 + 1)


async def test_s13_on_stop_is_cut_at_the_shutdown_grace(autojump_clock: trio.abc.Clock) -> None:
    """S-13: a 10 s on_stop under shutdown_grace=2 is cut at 2 s."""
    actor = SlowCleanup(on_stop_seconds=10)
    async with actrio.open_actor_system(shutdown_grace=2) as system:
        ref = await system.spawn(actor, name="s")
        await ref.tell(Go())
        await actor.busy.wait()
        t0 = trio.current_time()
        await ref.stop()
        assert trio.current_time() - t0 == pytest.approx(2.0)
        assert not ref.alive
    assert [what for what, _ in actor.log] == ["finally-cancelled", "on_stop-start"]


async def test_s13_actor_exited_is_emitted_even_when_on_stop_overruns_grace(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-13: the exit event is always emitted, also when on_stop is cut by the grace."""
    actor = SlowCleanup(on_stop_seconds=10)
    events: list[actrio.Event] = []
    async with actrio.open_actor_system(shutdown_grace=2) as system:
        system.subscribe(events.append)
        ref = await system.spawn(actor, name="s")
        await ref.tell(Go())
        await actor.busy.wait()
        await ref.stop()
    exits = of_type(events, actrio.ActorExited)
    assert [e.path for e in exits] == ["/s"]


async def test_s13_leaving_the_system_runs_on_stop_of_a_busy_actor(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-13: leaving the block while an actor is mid-await still runs on_stop."""
    actor = SlowCleanup(on_stop_seconds=1)
    events: list[actrio.Event] = []
    async with actrio.open_actor_system(shutdown_grace=5) as system:
        system.subscribe(events.append)
        await system.spawn(actor, name="s")
        await system.spawn(Recorder(), name="bystander")
        await system.spawn(SlowCleanup(on_stop_seconds=0), name="quick")
        ref = system.lookup("/s")
        assert ref is not None
        await ref.tell(Go())
        await actor.busy.wait()
    assert [what for what, _ in actor.log] == ["finally-cancelled", "on_stop-start", "on_stop-done"]
    exits = {e.path: e.reason for e in of_type(events, actrio.ActorExited)}
    assert exits == {"/s": "stopped", "/bystander": "stopped", "/quick": "stopped"}


async def test_s13_cancelling_an_enclosing_scope_still_emits_exit_events(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-13: cancelling the scope around the system: on_stop runs, ActorExited is delivered."""
    actor = SlowCleanup(on_stop_seconds=1)
    events: list[actrio.Event] = []
    with trio.CancelScope() as outer:
        async with actrio.open_actor_system(shutdown_grace=5) as system:
            system.subscribe(events.append)
            ref = await system.spawn(actor, name="s")
            await ref.tell(Go())
            await actor.busy.wait()
            outer.cancel()
            await trio.sleep(1)
    assert outer.cancelled_caught
    assert [what for what, _ in actor.log] == ["finally-cancelled", "on_stop-start", "on_stop-done"]
    exits = of_type(events, actrio.ActorExited)
    assert [(e.path, e.reason) for e in exits] == [("/s", "cancelled")]


# ---------------------------------------------------------------- S-20


CHAIN_SCRIPT = r"""
import json
import os
import sys

import trio
import trio.testing

import actrio


class Link(actrio.Actor):
    def __init__(self, depth):
        self.depth = depth

    async def on_start(self):
        if self.depth > 1:
            await self.spawn(Link(self.depth - 1), name="c")

    async def receive(self, message):
        pass


report = {"stage": "spawning"}


async def main(depth):
    events = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append, capacity=4096)
        with trio.fail_after(60):
            root = await system.spawn(Link(depth), name="root")
        report["spawned"] = system.statistics().actors
        report["deepest_found"] = system.lookup("/root" + "/c" * (depth - 1)) is not None
        report["stage"] = "stopping"
        with trio.fail_after(60):
            await root.stop()
        report["stage"] = "closing the system"
        report["after_stop"] = system.statistics().actors
    exits = [e for e in events if isinstance(e, actrio.ActorExited)]
    report["exits"] = len(exits)
    report["distinct_paths"] = len({e.path for e in exits})
    depths = [e.path.count("/") for e in exits]
    report["children_first"] = depths == sorted(depths, reverse=True)
    del report["stage"]
    return report


def summary(error):
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    chain = [error]
    while chain[-1].__cause__ is not None and len(chain) < 5000:
        chain.append(chain[-1].__cause__)
    deepest = max((getattr(e, "path", "") for e in chain), key=len)
    names = " <- ".join(dict.fromkeys(type(e).__name__ for e in chain))
    where = f", deepest failing actor at depth {deepest.count('/')}" if deepest else ""
    return f"while {report['stage']}{where}: {names}: {str(chain[-1])[:200]}"


try:
    clock = trio.testing.MockClock(autojump_threshold=0)
    result = trio.run(main, int(sys.argv[1]), clock=clock)
except BaseException as error:
    result = {"error": summary(error)}
print("REPORT " + json.dumps(result), flush=True)
os._exit(0)  # a crashed run leaves coroutines whose finalizers only add noise
"""


def test_s20_thousand_deep_actor_chain_stops_cleanly() -> None:
    """S-20: a 1 000-deep chain starts and stops without RecursionError.

    Runs in a child interpreter: a run that crashes trio itself leaves
    half-finished coroutines behind that would corrupt later tests.
    """
    proc = subprocess.run(
        [sys.executable, "-c", CHAIN_SCRIPT, "1000"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    reports = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert reports, proc.stderr[-3000:]
    report = json.loads(reports[-1].removeprefix("REPORT "))
    assert "error" not in report, report["error"]
    assert report == {
        "spawned": 1000,
        "deepest_found": True,
        "after_stop": 0,
        "exits": 1000,
        "distinct_paths": 1000,
        "children_first": True,  # children before their parent
    }


async def test_s20_five_thousand_nested_cancel_scopes_in_receive(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-20: stopping an actor parked under 5 000 nested cancel scopes."""

    class Nested(actrio.Actor[Any]):
        def __init__(self) -> None:
            self.entered = 0
            self.unwound = False
            self.busy = trio.Event()

        async def receive(self, message: Any) -> None:
            with contextlib.ExitStack() as stack:
                for _ in range(5000):
                    stack.enter_context(trio.CancelScope())
                    self.entered += 1
                self.busy.set()
                try:
                    await trio.sleep_forever()
                finally:
                    self.unwound = True

    actor = Nested()
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        ref = await system.spawn(actor, name="n")
        await ref.tell(Go())
        await actor.busy.wait()
        with trio.fail_after(5):
            await ref.stop()
    assert actor.entered == 5000
    assert actor.unwound
    assert [(e.path, e.reason) for e in of_type(events, actrio.ActorExited)] == [("/n", "stopped")]


# ---------------------------------------------------------------- S-21


class Lean(actrio.Actor[Any]):
    """No on_start: spawn takes the start_soon path."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def receive(self, message: Any) -> int:
        self.log.append("receive")
        return 1


class WithStart(Lean):
    async def on_start(self) -> None:
        self.log.append("on_start")


def _event() -> actrio.Event:
    return actrio.ShutdownTimeout(actor_id="x", path="/x", grace=1.0)


async def test_s21_public_async_apis_are_checkpoints_on_fast_paths(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-21: tell, ask, stop, spawn, publish always checkpoint, even with room."""
    log: list[str] = []
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(Lean(log), name="lean")
        calls: list[tuple[str, Callable[[], Any]]] = [
            ("tell", lambda: ref.tell(Note("x"))),
            ("ask", lambda: ref.ask(Ping())),
            ("spawn-lean", lambda: system.spawn(Lean(log))),
            ("spawn-with-on_start", lambda: system.spawn(WithStart(log))),
            ("publish", lambda: system.publish(_event())),
            ("publish-with-subscriber", lambda: system.publish(_event())),
        ]
        for what, call in calls:
            if what == "publish-with-subscriber":
                system.subscribe(lambda event: None)
            with trio.testing.assert_checkpoints():
                await call()
            assert ref.statistics().mailbox.queued <= 1, what
        victim = await system.spawn(Lean(log))
        with trio.testing.assert_checkpoints():
            await victim.stop()
        with trio.testing.assert_checkpoints():
            await victim.stop()  # already stopped


async def test_s21_precancelled_tell_and_ask_have_no_side_effects(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-21: a precancelled tell/ask raises Cancelled and queues nothing."""
    log: list[str] = []
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(Lean(log), name="lean")
        await trio.testing.wait_all_tasks_blocked()
        before = ref.statistics().mailbox
        for send in (lambda: ref.tell(Note("x")), lambda: ref.ask(Ping())):
            with trio.CancelScope() as scope:
                scope.cancel()
                await send()
                raise AssertionError("a precancelled send did not raise Cancelled")
            assert scope.cancelled_caught
        await trio.sleep(1)
        after = ref.statistics().mailbox
        assert (after.queued, after.processed, after.rejected) == (0, 0, 0)
        assert after == before
        assert log == []


@pytest.mark.parametrize("kind", [Lean, WithStart])
async def test_s21_precancelled_spawn_has_no_side_effects(
    autojump_clock: trio.abc.Clock, kind: type[Lean]
) -> None:
    """S-21: a precancelled spawn raises Cancelled and starts nothing."""
    log: list[str] = []
    async with actrio.open_actor_system() as system:
        before = system.statistics().actors
        with trio.CancelScope() as scope:
            scope.cancel()
            await system.spawn(kind(log), name="ghost")
            raise AssertionError("a precancelled spawn did not raise Cancelled")
        assert scope.cancelled_caught
        await trio.sleep(1)
        assert system.lookup("/ghost") is None
        assert system.statistics().actors == before
        assert log == []


async def test_s21_precancelled_publish_has_no_side_effects(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-21: a precancelled publish raises Cancelled and stamps nothing."""
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        await system.publish(_event())
        seq = system.statistics().last_seq
        with trio.CancelScope() as scope:
            scope.cancel()
            await system.publish(_event())
            raise AssertionError("a precancelled publish did not raise Cancelled")
        assert scope.cancelled_caught
        await trio.sleep(1)
        assert system.statistics().last_seq == seq
    assert len(of_type(events, actrio.ShutdownTimeout)) == 1
