"""Supervisors: strategies, intensity, restart types, requests (RELIABILITY.md S-*).

Every test runs on the virtual clock (``autojump_clock``) and is bounded by a
``trio.fail_after`` in virtual time, so a hang fails fast instead of blocking.
Events are recorded through a lossless subscriber; ``settle()`` waits until
every task (including the subscriber's) is blocked, so the record is complete.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pytest
import tenacity
import trio
import trio.testing

from actrio.kernel import (
    Actor,
    ActorError,
    ActorExited,
    ActorFailed,
    ActorRef,
    ActorRestarted,
    ActorStarted,
    ActorStopped,
    ChildInfo,
    ChildSpec,
    DeleteChild,
    Event,
    MessageDeadLettered,
    NameTaken,
    Request,
    RestartChild,
    RestartCycle,
    Shutdown,
    ShutdownTimeout,
    SpecError,
    StartChild,
    StartError,
    Supervisor,
    SupervisorEscalated,
    SupervisorEscalation,
    TerminateChild,
    UsageError,
    WhichChildren,
    open_actor_system,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from actrio.kernel import ActorSystem, RestartType

E = TypeVar("E", bound=Event)

#: Virtual-time bound of every test; far above anything a passing test needs.
DEADLINE = 600.0


# -- messages -----------------------------------------------------------------


class Boom(Exception):
    """The error test actors raise on purpose."""


@attrs.frozen
class Incr(Request[int]):
    n: int = 1


@attrs.frozen
class Get(Request[int]):
    pass


@attrs.frozen
class Crash(Request[None]):
    label: str = "boom"


@attrs.frozen
class Quit(Request[None]):
    """Ask the actor to stop itself (exit reason ``normal``)."""


@attrs.frozen
class RaiseShutdown(Request[None]):
    info: str | None = None
    with_info: bool = False


@attrs.frozen
class Note:
    n: int


@attrs.frozen
class WaitThen:
    """Wait for ``gate``, then crash if ``crash`` is set."""

    gate: trio.Event = attrs.field(eq=False)
    crash: bool = False


# -- actors -------------------------------------------------------------------

Log = list[tuple[Any, ...]]


class Worker(Actor[Any]):
    """Keeps a counter; records its lifecycle in a shared log."""

    def __init__(self, name: str, log: Log) -> None:
        self.name = name
        self.log = log
        self.total = 0

    async def on_start(self) -> None:
        self.log.append(("start", self.name))

    async def on_stop(self) -> None:
        self.log.append(("stop", self.name))

    async def receive(self, message: Any) -> Any:
        match message:
            case Incr(n):
                self.total += n
                return self.total
            case Get():
                return self.total
            case Crash(label):
                raise Boom(label)
            case Quit():
                self.stop()
                return None
            case RaiseShutdown(info, with_info):
                raise Shutdown(info) if with_info else Shutdown()
            case Note(n):
                self.log.append(("note", self.name, self.ref.statistics().incarnation, n))
                return None
            case WaitThen(gate, crash):
                await gate.wait()
                if crash:
                    raise Boom(self.name)
                return None
        raise AssertionError(f"unexpected message {message!r}")


class FailingStart(Worker):
    """A worker whose ``on_start`` fails (after ``delay`` seconds)."""

    def __init__(self, name: str, log: Log, delay: float = 0.0) -> None:
        super().__init__(name, log)
        self.delay = delay

    async def on_start(self) -> None:
        self.log.append(("start-attempt", self.name))
        if self.delay:
            await trio.sleep(self.delay)
        raise RuntimeError(f"{self.name} cannot start")


class Factory:
    """A child factory that counts its calls.

    The first ``good`` calls build a :class:`Worker`; later ones build
    ``then`` (default: Worker as well).
    """

    def __init__(
        self,
        name: str,
        log: Log,
        *,
        good: int | None = None,
        then: Callable[[str, Log], Actor[Any]] | None = None,
    ) -> None:
        self.name = name
        self.log = log
        self.good = good
        self.then = then
        self.calls = 0

    def __call__(self) -> Actor[Any]:
        self.calls += 1
        if self.good is not None and self.calls > self.good and self.then is not None:
            return self.then(self.name, self.log)
        return Worker(self.name, self.log)


class Recorder:
    """A sync event subscriber keeping every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[E], path: str | None = None) -> list[E]:
        found = [e for e in self.events if isinstance(e, kind)]
        if path is not None:
            found = [e for e in found if getattr(e, "path", None) == path]
        return found

    def exited(self, path: str, incarnation: int) -> ActorExited:
        (event,) = [e for e in self.of(ActorExited, path) if e.incarnation == incarnation]
        return event

    def started(self, path: str, incarnation: int) -> ActorStarted:
        (event,) = [e for e in self.of(ActorStarted, path) if e.incarnation == incarnation]
        return event


# -- helpers ------------------------------------------------------------------


async def settle() -> None:
    """Wait until every other task is blocked: restarts and event delivery done."""
    await trio.testing.wait_all_tasks_blocked()


async def children(sup: ActorRef[Any]) -> dict[str, ChildInfo]:
    infos = await sup.ask(WhichChildren())
    return {info.id: info for info in infos}


async def child_ref(sup: ActorRef[Any], child_id: str) -> ActorRef[Any]:
    ref = (await children(sup))[child_id].ref
    assert ref is not None, f"child {child_id} is not running"
    return ref


def factories(log: Log, names: Iterable[str] = "abc") -> dict[str, Factory]:
    return {name: Factory(name, log) for name in names}


def specs(facs: dict[str, Factory], **options: Any) -> list[ChildSpec]:
    return [ChildSpec(name, fac, **options) for name, fac in facs.items()]


async def spawn_sup(
    system: ActorSystem, child_specs: list[ChildSpec], **flags: Any
) -> ActorRef[Any]:
    return await system.spawn(Supervisor(child_specs, **flags), name="sup")


def only_escalation(group: BaseExceptionGroup[Any]) -> SupervisorEscalation:
    (error,) = group.exceptions
    assert isinstance(error, SupervisorEscalation)
    return error


# -- S-01..S-03: strategies ---------------------------------------------------------


async def test_s01_one_for_one_isolation(autojump_clock: trio.testing.MockClock) -> None:
    log: Log = []
    rec = Recorder()
    facs = factories(log)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, specs(facs), strategy="one_for_one")
            a, b, c = [await child_ref(sup, n) for n in "abc"]
            assert await a.ask(Incr(10)) == 10
            assert await b.ask(Incr(20)) == 20
            assert await c.ask(Incr(30)) == 30
            ids = {n: r.id for n, r in zip("abc", (a, b, c), strict=True)}

            with pytest.raises(ActorError):
                await b.ask(Crash("b down"))
            await settle()

            after = await children(sup)
            # A and C: same actor, same incarnation, in-actor state kept.
            for name, ref in (("a", a), ("c", c)):
                assert after[name].ref == ref
                assert after[name].restarts == 0
                assert ref.statistics().incarnation == 1
                assert ref.id == ids[name]
            assert await a.ask(Get()) == 10
            assert await c.ask(Get()) == 30
            # B: a new incarnation (fresh state) behind the same ref.
            assert after["b"].running
            assert after["b"].restarts == 1
            assert b.statistics().incarnation == 2
            assert await b.ask(Get()) == 0
            assert (facs["a"].calls, facs["b"].calls, facs["c"].calls) == (1, 2, 1)
            await settle()

            assert [e.path for e in rec.of(ActorFailed)] == ["/sup/b"]
            (failed,) = rec.of(ActorFailed)
            assert failed.error.type == "Boom"
            assert failed.message_type == "Crash"
            assert [(e.path, e.incarnation, e.reason) for e in rec.of(ActorExited)] == [
                ("/sup/b", 1, "failed")
            ]
            (cycle,) = rec.of(RestartCycle)
            assert cycle.supervisor_path == "/sup"
            assert cycle.strategy == "one_for_one"
            assert cycle.failed == ("b",)
            assert cycle.restarting == ("b",)
            assert cycle.counted is True
            # The cycle reports each failed child's original error, like ActorFailed.
            assert [e.type for e in cycle.errors] == ["Boom"]
            assert cycle.errors[0].message == "b down"
            (restarted,) = rec.of(ActorRestarted)
            assert (restarted.path, restarted.incarnation, restarted.supervisor_path) == (
                "/sup/b",
                2,
                "/sup",
            )
            assert restarted.actor_id == ids["b"]
            assert failed.seq < cycle.seq < restarted.seq
            assert rec.started("/sup/b", 2).seq < restarted.seq
            assert ("stop", "a") not in log
            assert ("stop", "c") not in log
            assert log.count(("stop", "b")) == 1


async def test_s02_one_for_all_restarts_everyone_in_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    facs = factories(log)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            # max_restarts=1: if the cycle were counted once per child, this escalates.
            sup = await spawn_sup(system, specs(facs), strategy="one_for_all", max_restarts=1)
            a, b, c = [await child_ref(sup, n) for n in "abc"]
            await a.ask(Incr(5))
            await c.ask(Incr(7))
            log.clear()

            with pytest.raises(ActorError):
                await b.ask(Crash())
            await settle()

            exited = rec.of(ActorExited)
            assert [(e.path, e.reason) for e in exited] == [
                ("/sup/b", "failed"),
                ("/sup/c", "stopped"),
                ("/sup/a", "stopped"),
            ]
            restarts = [e for e in rec.of(ActorStarted) if e.incarnation == 2]
            assert [e.path for e in restarts] == ["/sup/a", "/sup/b", "/sup/c"]
            # Everything stopped before anything restarted.
            assert max(e.seq for e in exited) < min(e.seq for e in restarts)
            assert [e.path for e in rec.of(ActorRestarted)] == ["/sup/a", "/sup/b", "/sup/c"]

            (cycle,) = rec.of(RestartCycle)
            assert cycle.failed == ("b",)
            assert cycle.restarting == ("a", "b", "c")
            assert rec.of(SupervisorEscalated) == []
            assert log == [
                ("stop", "b"),
                ("stop", "c"),
                ("stop", "a"),
                ("start", "a"),
                ("start", "b"),
                ("start", "c"),
            ]
            # New incarnations: state is fresh, refs still work, supervisor alive.
            assert [await r.ask(Get()) for r in (a, b, c)] == [0, 0, 0]
            assert [r.statistics().incarnation for r in (a, b, c)] == [2, 2, 2]
            assert [info.restarts for info in (await children(sup)).values()] == [1, 1, 1]
            assert sup.alive


@pytest.mark.parametrize(
    ("crashing", "restarted"),
    [("a", "abc"), ("b", "bc"), ("c", "c")],
)
async def test_s03_rest_for_one_restarts_the_rest(
    autojump_clock: trio.testing.MockClock, crashing: str, restarted: str
) -> None:
    log: Log = []
    rec = Recorder()
    facs = factories(log)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, specs(facs), strategy="rest_for_one")
            refs = {n: await child_ref(sup, n) for n in "abc"}
            for n, ref in refs.items():
                await ref.ask(Incr(ord(n)))
            log.clear()

            with pytest.raises(ActorError):
                await refs[crashing].ask(Crash())
            await settle()

            stopped_siblings = [n for n in reversed(restarted) if n != crashing]
            assert [(e.path, e.reason) for e in rec.of(ActorExited)] == [
                (f"/sup/{crashing}", "failed"),
                *((f"/sup/{n}", "stopped") for n in stopped_siblings),
            ]
            assert [e.path for e in rec.of(ActorRestarted)] == [f"/sup/{n}" for n in restarted]
            (cycle,) = rec.of(RestartCycle)
            assert cycle.failed == (crashing,)
            assert cycle.restarting == tuple(restarted)
            assert log == [
                ("stop", crashing),
                *(("stop", n) for n in stopped_siblings),
                *(("start", n) for n in restarted),
            ]
            for n, ref in refs.items():
                if n in restarted:
                    assert ref.statistics().incarnation == 2
                    assert await ref.ask(Get()) == 0
                    assert facs[n].calls == 2
                else:  # untouched: same incarnation, state kept
                    assert ref.statistics().incarnation == 1
                    assert await ref.ask(Get()) == ord(n)
                    assert facs[n].calls == 1


# -- S-04, S-05: intensity ------------------------------------------------------------


@pytest.mark.parametrize(
    "crash_at",
    [
        pytest.param((0.0, 3.0, 6.0, 9.0), id="4-crashes-in-9s"),
        pytest.param((0.0, 0.0, 0.0, 0.0), id="4-crashes-at-once"),
        pytest.param((0.0, 3.0, 6.0, 10.0), id="4th-exactly-period-after-1st"),
    ],
)
async def test_s04_intensity_exceeded_escalates(
    autojump_clock: trio.testing.MockClock, crash_at: tuple[float, ...]
) -> None:
    log: Log = []
    rec = Recorder()
    facs = factories(log)
    start = 0.0
    with trio.fail_after(DEADLINE), pytest.RaisesGroup(SupervisorEscalation) as group:
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, specs(facs), max_restarts=3, period=10.0)
            b = await child_ref(sup, "b")
            start = trio.current_time()
            for at in crash_at:
                await trio.sleep_until(start + at)
                await b.tell(Crash())
                await settle()
            await trio.sleep(100)  # the escalation must cancel this

    escalation = only_escalation(group.value)
    assert escalation.path == "/sup"
    assert escalation.phase == "children"
    history = escalation.history
    assert [record.time - start for record in history] == list(crash_at)
    assert all(record.child_ids == ("b",) for record in history)
    for record in history:
        assert isinstance(record.error, ActorError)
        assert isinstance(record.error.__cause__, Boom)
    assert escalation.error is history[-1].error
    assert "exceeded 3 restart(s) in 10.0s" in str(escalation)
    # The 4th crash was not restarted.
    assert facs["b"].calls == 4
    assert len(rec.of(ActorRestarted)) == 3
    cycles = rec.of(RestartCycle)
    assert len(cycles) == 4
    assert cycles[-1].restarting == ()
    (escalated,) = rec.of(SupervisorEscalated)
    assert (escalated.path, escalated.failures, escalated.max_restarts, escalated.period) == (
        "/sup",
        4,
        3,
        10.0,
    )
    # All children stopped, newest first, then the supervisor itself failed.
    last = cycles[-1].seq
    final = [(e.path, e.reason) for e in rec.of(ActorExited) if e.seq > last]
    assert final == [("/sup/c", "stopped"), ("/sup/a", "stopped"), ("/sup", "failed")]
    assert log[-2:] == [("stop", "c"), ("stop", "a")]


@pytest.mark.parametrize(
    "crash_at",
    [
        pytest.param((0.0, 13.0, 26.0, 39.0), id="spread-over-40s"),
        pytest.param((0.0, 3.0, 6.0, 10.5), id="1st-just-out-of-window"),
    ],
)
async def test_s04_window_slides_no_escalation(
    autojump_clock: trio.testing.MockClock, crash_at: tuple[float, ...]
) -> None:
    log: Log = []
    rec = Recorder()
    facs = factories(log)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, specs(facs), max_restarts=3, period=10.0)
            b = await child_ref(sup, "b")
            start = trio.current_time()
            for at in crash_at:
                await trio.sleep_until(start + at)
                await b.tell(Crash())
                await settle()
            info = (await children(sup))["b"]
            assert info.running
            assert info.restarts == 4
            assert b.statistics().incarnation == 5
            assert facs["b"].calls == 5
            assert sup.alive
            assert sup.statistics().incarnation == 1
            assert rec.of(SupervisorEscalated) == []
            assert len(rec.of(ActorRestarted)) == 4
            assert [e.restarting for e in rec.of(RestartCycle)] == [("b",)] * 4


async def test_s05_max_restarts_zero_escalates_at_first_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    facs = factories(log, "ab")
    with trio.fail_after(DEADLINE), pytest.RaisesGroup(SupervisorEscalation) as group:
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, specs(facs), max_restarts=0)
            b = await child_ref(sup, "b")
            await b.tell(Crash("first"))
            await trio.sleep(100)

    escalation = only_escalation(group.value)
    (record,) = escalation.history
    assert record.child_ids == ("b",)
    assert isinstance(record.error, ActorError)
    assert str(record.error.__cause__) == "first"
    assert facs["b"].calls == 1  # no restart attempted
    assert rec.of(ActorRestarted) == []
    (cycle,) = rec.of(RestartCycle)
    assert cycle.restarting == ()
    assert cycle.counted is True
    assert [(e.path, e.reason) for e in rec.of(ActorExited)] == [
        ("/sup/b", "failed"),
        ("/sup/a", "stopped"),
        ("/sup", "failed"),
    ]
    assert log[1] == ("start", "b")
    assert log.count(("start", "b")) == 1


# -- S-06, S-07: restart types --------------------------------------------------------

EXITS: dict[str, tuple[Any, str]] = {
    "normal": (Quit(), "normal"),
    "shutdown": (RaiseShutdown(), "shutdown"),
    "shutdown_info": (RaiseShutdown("maintenance", with_info=True), "shutdown"),
    "exception": (Crash(), "failed"),
}


def _expect_restart(restart: str, exit_kind: str) -> bool:
    if restart == "permanent":
        return True
    if restart == "transient":
        return exit_kind == "exception"
    return False


@pytest.mark.parametrize("exit_kind", list(EXITS))
@pytest.mark.parametrize("restart", ["permanent", "transient", "temporary"])
async def test_s06_restart_type_matrix(
    autojump_clock: trio.testing.MockClock, restart: RestartType, exit_kind: str
) -> None:
    log: Log = []
    rec = Recorder()
    x_fac = Factory("x", log)
    y_fac = Factory("y", log)
    message, reason = EXITS[exit_kind]
    expected = _expect_restart(restart, exit_kind)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(
                system, [ChildSpec("x", x_fac, restart=restart), ChildSpec("y", y_fac)]
            )
            x = await child_ref(sup, "x")
            # Queued together: the note waits behind the exit in the mailbox.
            x.tell_nowait(message)
            x.tell_nowait(Note(7))
            await settle()
            await trio.sleep(30)  # nothing late either
            await settle()

            kids = await children(sup)
            assert [(e.path, e.incarnation, e.reason) for e in rec.of(ActorExited)] == [
                ("/sup/x", 1, reason)
            ]
            if expected:
                assert x_fac.calls == 2
                assert kids["x"].running
                assert kids["x"].restarts == 1
                assert kids["x"].ref == x
                assert x.alive
                assert x.statistics().incarnation == 2
                assert await x.ask(Get()) == 0
                (cycle,) = rec.of(RestartCycle)
                assert cycle.failed == ("x",)
                assert len(cycle.errors) == (1 if exit_kind == "exception" else 0)
                assert [e.path for e in rec.of(ActorRestarted)] == ["/sup/x"]
                # The mailbox survived the restart: the new incarnation got the note.
                assert ("note", "x", 2, 7) in log
                assert rec.of(MessageDeadLettered) == []
            else:
                assert x_fac.calls == 1
                assert not x.alive
                # The note was never handled, and that is reported, not lost silently.
                assert not any(entry[0] == "note" for entry in log)
                assert x.statistics().mailbox.dead_lettered == 1
                assert [(e.path, e.message_type) for e in rec.of(MessageDeadLettered)] == [
                    ("/sup/x", "Note")
                ]
                assert rec.of(RestartCycle) == []
                assert rec.of(ActorRestarted) == []
                if restart == "temporary":
                    assert list(kids) == ["y"]  # forgotten
                else:
                    assert list(kids) == ["x", "y"]
                    assert kids["x"].running is False
                    assert kids["x"].ref is None
                    assert kids["x"].restarts == 0
                assert system.lookup("/sup/x") is None
                with pytest.raises(ActorStopped):
                    await x.ask(Get())
            assert y_fac.calls == 1
            assert sup.alive


@pytest.mark.parametrize("how", ["terminate_child", "ref_stop"])
@pytest.mark.parametrize("restart", ["permanent", "transient", "temporary"])
async def test_s06_child_stopped_on_purpose_is_never_restarted(
    autojump_clock: trio.testing.MockClock, restart: RestartType, how: str
) -> None:
    log: Log = []
    rec = Recorder()
    x_fac = Factory("x", log)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(
                system, [ChildSpec("x", x_fac, restart=restart), ChildSpec("y", Factory("y", log))]
            )
            x = await child_ref(sup, "x")
            if how == "terminate_child":
                await sup.ask(TerminateChild("x"))
            else:
                await x.stop()
            assert not x.alive
            await settle()
            await trio.sleep(30)
            await settle()

            assert x_fac.calls == 1
            assert ("stop", "x") in log
            assert rec.of(RestartCycle) == []
            assert rec.of(ActorRestarted) == []
            assert [(e.path, e.reason) for e in rec.of(ActorExited)] == [("/sup/x", "stopped")]
            kids = await children(sup)
            if restart == "temporary":
                assert list(kids) == ["y"]
            else:
                assert list(kids) == ["x", "y"]
                assert kids["x"].running is False
                assert kids["x"].ref is None
            assert system.lookup("/sup/x") is None
            assert sup.alive


@pytest.mark.parametrize(
    "stop_after",
    [
        pytest.param(0.5, id="during-backoff"),
        pytest.param(1.2, id="during-restart-on_start"),
    ],
)
async def test_s06_ref_stop_while_waiting_for_restart_stays_down(
    autojump_clock: trio.testing.MockClock, stop_after: float
) -> None:
    log: Log = []
    fac = Factory("w", log, good=1, then=lambda n, lg: FailingStart(n, lg, delay=0.5))
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(
                system,
                [ChildSpec("w", fac)],
                max_restarts=1000,
                period=10.0,
                backoff=tenacity.wait_fixed(1),
            )
            w = await child_ref(sup, "w")
            start = trio.current_time()
            await w.tell(Crash())
            await trio.sleep_until(start + stop_after)
            # Restart attempts: at 1.0 (fails at 1.5), 2.5 (fails at 3.0), ...
            with trio.fail_after(2.0):
                await w.stop()
            calls = fac.calls
            assert not w.alive
            await trio.sleep(30)
            await settle()
            assert fac.calls == calls  # it stays down
            info = (await children(sup))["w"]
            assert (info.running, info.ref) == (False, None)
            assert system.lookup("/sup/w") is None
            assert sup.alive


async def test_s06_terminate_child_stops_a_failing_restart_loop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    fac = Factory("w", log, good=1, then=lambda n, lg: FailingStart(n, lg, delay=0.25))
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(
                system,
                [ChildSpec("w", fac)],
                max_restarts=1000,
                period=10.0,
                backoff=tenacity.wait_fixed(1),
            )
            w = await child_ref(sup, "w")
            await w.tell(Crash())
            await trio.sleep(3.1)
            assert fac.calls >= 3
            with trio.fail_after(5.0):
                await sup.ask(TerminateChild("w"))
            calls = fac.calls
            await trio.sleep(30)
            await settle()
            assert fac.calls == calls  # no restart after TerminateChild returned
            info = (await children(sup))["w"]
            assert (info.running, info.ref) == (False, None)
            assert system.lookup("/sup/w") is None
            assert sup.alive


async def test_s07_temporary_bystander_is_stopped_and_forgotten(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    facs = factories(log, "atb")
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(
                system,
                [
                    ChildSpec("a", facs["a"]),
                    ChildSpec("t", facs["t"], restart="temporary"),
                    ChildSpec("b", facs["b"]),
                ],
                strategy="one_for_all",
            )
            t = await child_ref(sup, "t")
            b = await child_ref(sup, "b")
            await b.tell(Crash())
            await settle()

            assert not t.alive
            assert facs["t"].calls == 1
            assert (facs["a"].calls, facs["b"].calls) == (2, 2)
            assert ("stop", "t") in log
            assert [info.id for info in (await sup.ask(WhichChildren()))] == ["a", "b"]
            assert system.lookup("/sup/t") is None
            (cycle,) = rec.of(RestartCycle)
            assert "t" not in cycle.restarting
            assert [e.path for e in rec.of(ActorRestarted)] == ["/sup/a", "/sup/b"]
            assert [(e.path, e.reason) for e in rec.of(ActorExited)] == [
                ("/sup/b", "failed"),
                ("/sup/t", "stopped"),
                ("/sup/a", "stopped"),
            ]
            # A second crash does not bring it back either.
            await b.tell(Crash())
            await settle()
            assert facs["t"].calls == 1
            assert [info.id for info in (await sup.ask(WhichChildren()))] == ["a", "b"]


# -- S-09, S-10: failing starts ----------------------------------------------------------


@pytest.mark.parametrize(
    "stop_after",
    [
        pytest.param(5.1, id="during-backoff"),
        pytest.param(6.1, id="during-on_start"),
    ],
)
async def test_s09_stop_during_failing_restart_loop(
    autojump_clock: trio.testing.MockClock, stop_after: float
) -> None:
    log: Log = []
    fac = Factory("w", log, good=1, then=lambda n, lg: FailingStart(n, lg, delay=0.25))
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(
                system,
                [ChildSpec("w", fac)],
                max_restarts=1000,
                period=10.0,
                backoff=tenacity.wait_fixed(1),
            )
            w = await child_ref(sup, "w")
            start = trio.current_time()
            await w.tell(Crash())
            await trio.sleep_until(start + stop_after)
            assert fac.calls >= 5  # the loop is really running
            assert not (await children(sup))["w"].running

            before = trio.current_time()
            with trio.fail_after(1.0):
                await sup.stop()
            assert trio.current_time() - before < 1.0
            calls = fac.calls
            assert not sup.alive
            assert system.lookup("/sup") is None
            assert system.lookup("/sup/w") is None
            assert system.statistics().actors == 0

            await trio.sleep(60)
            await settle()
            assert fac.calls == calls  # no restart after the stop


async def test_s10_initial_start_failure_raises_start_error_naming_child(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    a_fac, x_fac, c_fac = Factory("a", log), Factory("x", log), Factory("c", log)
    b_fac = Factory("b", log, good=0, then=FailingStart)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            with pytest.raises(StartError) as exc_info:
                await spawn_sup(
                    system,
                    [
                        ChildSpec("a", a_fac),
                        ChildSpec("x", x_fac),
                        ChildSpec("b", b_fac),
                        ChildSpec("c", c_fac),
                    ],
                )
            await settle()

            error = exc_info.value
            assert "/sup/b" in str(error)
            chain: list[BaseException] = []
            cause: BaseException | None = error
            while cause is not None:
                chain.append(cause)
                cause = cause.__cause__
            child_errors = [e for e in chain if isinstance(e, StartError) and e.path == "/sup/b"]
            assert len(child_errors) == 1
            assert child_errors[0].phase == "on_start"
            assert isinstance(child_errors[0].__cause__, RuntimeError)
            assert str(child_errors[0].__cause__) == "b cannot start"

            # Started siblings stopped newest first; the rest never started.
            assert [entry for entry in log if entry[0] == "stop"] == [("stop", "x"), ("stop", "a")]
            assert c_fac.calls == 0
            exits = [(e.path, e.reason) for e in rec.of(ActorExited)]
            assert exits[:2] == [("/sup/x", "stopped"), ("/sup/a", "stopped")]
            assert "/sup/b" not in [path for path, _ in exits]  # never started
            # Nothing is left behind, and the system keeps working.
            assert system.statistics().actors == 0
            assert system.lookup("/sup") is None
            assert system.lookup("/sup/b") is None
            again = await system.spawn(Worker("z", log), name="sup")
            assert await again.ask(Incr(2)) == 2


async def test_s10_failure_in_on_start_during_restart_counts_toward_intensity(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    fac = Factory("w", log, good=1, then=FailingStart)
    with trio.fail_after(DEADLINE), pytest.RaisesGroup(SupervisorEscalation) as group:
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, [ChildSpec("w", fac)], max_restarts=2, period=10.0)
            w = await child_ref(sup, "w")
            await w.tell(Crash())
            await trio.sleep(100)

    escalation = only_escalation(group.value)
    history = escalation.history
    assert len(history) == 3
    first, *rest = (record.error for record in history)
    assert isinstance(first, ActorError)
    assert first.phase == "receive"
    for error in rest:
        assert isinstance(error, StartError)
        assert error.phase == "on_start"
        assert error.path == "/sup/w"
    assert fac.calls == 3
    assert log.count(("start-attempt", "w")) == 2
    assert len(rec.of(RestartCycle)) == 3
    assert rec.of(ActorRestarted) == []


async def test_s10_factory_error_during_one_for_all_restart_is_one_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    a_calls = [0]

    def a_factory() -> Actor[Any]:
        a_calls[0] += 1
        if a_calls[0] > 1:
            raise ValueError("factory broken")
        return Worker("a", log)

    with trio.fail_after(DEADLINE), pytest.RaisesGroup(SupervisorEscalation) as group:
        async with open_actor_system() as system:
            sup = await spawn_sup(
                system,
                [ChildSpec("a", a_factory), ChildSpec("b", Factory("b", log))],
                strategy="one_for_all",
                max_restarts=3,
                period=10.0,
            )
            b = await child_ref(sup, "b")
            await b.tell(Crash())
            await trio.sleep(100)

    escalation = only_escalation(group.value)
    history = escalation.history
    # b's crash, then one failure per failed restart of a: each names a once.
    assert [record.child_ids for record in history] == [("b",), ("a",), ("a",), ("a",)]
    for record in history[1:]:
        assert isinstance(record.error, StartError)
        assert isinstance(record.error.__cause__, ValueError)
    assert a_calls[0] == 4


# -- S-16, S-17 ------------------------------------------------------------------------


async def test_s16_simultaneous_failures_are_one_cycle(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    facs = factories(log)
    caught: list[SupervisorEscalation] = []
    cycles_before_escalation: list[RestartCycle] = []
    try:
        with trio.fail_after(DEADLINE):
            async with open_actor_system() as system:
                system.subscribe(rec)
                sup = await spawn_sup(
                    system, specs(facs), strategy="one_for_all", max_restarts=1, period=100.0
                )
                a, b, c = [await child_ref(sup, n) for n in "abc"]
                gate = trio.Event()
                await a.tell(WaitThen(gate, crash=True))
                await b.tell(WaitThen(gate, crash=True))
                await settle()
                gate.set()  # both raise in the same scheduler tick
                await settle()

                cycles_before_escalation.extend(rec.of(RestartCycle))
                # Counted once: max_restarts=1 survives it.
                assert sup.alive
                assert rec.of(SupervisorEscalated) == []
                assert [r.statistics().incarnation for r in (a, b, c)] == [2, 2, 2]
                assert [e.path for e in rec.of(ActorRestarted)] == [
                    "/sup/a",
                    "/sup/b",
                    "/sup/c",
                ]
                # A second cycle exceeds max_restarts=1.
                await c.tell(Crash())
                await trio.sleep(100)
    except* SupervisorEscalation as group:
        caught.extend(e for e in group.exceptions if isinstance(e, SupervisorEscalation))

    (cycle,) = cycles_before_escalation
    assert sorted(cycle.failed) == ["a", "b"]
    assert len(cycle.errors) == 2
    assert all(e.type != "ActorError" for e in cycle.errors)
    assert cycle.restarting == ("a", "b", "c")

    (escalation,) = caught
    first, second = escalation.history
    assert sorted(first.child_ids) == ["a", "b"]
    assert isinstance(first.error, ExceptionGroup)
    assert len(first.error.exceptions) == 2
    assert {e.path for e in first.error.exceptions if isinstance(e, ActorError)} == {
        "/sup/a",
        "/sup/b",
    }
    assert second.child_ids == ("c",)
    assert isinstance(second.error, ActorError)


class Parent(Actor[Any]):
    """Spawns two plain sub-actors in ``on_start``; crashes on ``Crash``."""

    def __init__(self, log: Log) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append(("start", "p", self.ref.statistics().incarnation))
        for name in ("s1", "s2"):
            await self.spawn(Worker(name, self.log), name=name)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise Boom("parent")
        return None


async def test_s17_children_stop_before_parent_restarts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, [ChildSpec("p", lambda: Parent(log))])
            p = await child_ref(sup, "p")
            old_subs = [system.lookup("/sup/p/s1"), system.lookup("/sup/p/s2")]
            assert all(s is not None and s.alive for s in old_subs)
            baseline = system.statistics().actors
            assert baseline == 4  # sup, p, s1, s2
            log.clear()

            await p.tell(Crash())
            await settle()

            assert p.statistics().incarnation == 2
            restart_at = log.index(("start", "p", 2))
            stops = [i for i, entry in enumerate(log) if entry[0] == "stop"]
            assert sorted(log[i][1] for i in stops) == ["s1", "s2"]
            assert all(i < restart_at for i in stops)
            p_started = rec.started("/sup/p", 2)
            for path in ("/sup/p/s1", "/sup/p/s2"):
                (exited,) = rec.of(ActorExited, path)
                assert exited.seq < p_started.seq
            assert rec.exited("/sup/p", 1).seq < p_started.seq
            # No orphans: the old sub-actors are gone, new ones replace them.
            assert all(s is not None and not s.alive for s in old_subs)
            new_subs = [system.lookup("/sup/p/s1"), system.lookup("/sup/p/s2")]
            assert all(s is not None and s.alive for s in new_subs)
            assert new_subs != old_subs
            assert system.statistics().actors == baseline
            assert p.statistics().children == 2


# -- S-23: validation -------------------------------------------------------------------


def _w() -> Actor[Any]:
    return Worker("w", [])


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        pytest.param({"strategy": "simple_one_for_one"}, "strategy", id="strategy-unknown"),
        pytest.param({"strategy": "ONE_FOR_ONE"}, "strategy", id="strategy-case"),
        pytest.param({"max_restarts": math.inf}, "max_restarts", id="max_restarts-inf"),
        pytest.param({"max_restarts": -1}, "max_restarts", id="max_restarts-negative"),
        pytest.param({"max_restarts": True}, "max_restarts", id="max_restarts-bool"),
        pytest.param({"max_restarts": 2.0}, "max_restarts", id="max_restarts-float"),
        pytest.param({"max_restarts": "3"}, "max_restarts", id="max_restarts-str"),
        pytest.param({"period": 0}, "period", id="period-zero"),
        pytest.param({"period": -1}, "period", id="period-negative"),
        pytest.param({"period": math.inf}, "period", id="period-inf"),
        pytest.param({"period": math.nan}, "period", id="period-nan"),
        pytest.param({"period": True}, "period", id="period-bool"),
        pytest.param({"period": "5"}, "period", id="period-str"),
        pytest.param({"backoff": 1.5}, "backoff", id="backoff-not-callable"),
    ],
)
def test_s23_bad_supervisor_flag_is_spec_error_naming_field(
    flags: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as exc_info:
        Supervisor([ChildSpec("a", _w)], **flags)
    assert exc_info.value.field == field
    assert isinstance(exc_info.value, ValueError)
    assert isinstance(exc_info.value, UsageError)
    assert str(exc_info.value).startswith(f"{field}:")


@pytest.mark.parametrize(
    ("args", "options", "field"),
    [
        pytest.param(("a", _w), {"restart": "sometimes"}, "restart", id="restart-unknown"),
        pytest.param(("a", _w), {"restart": None}, "restart", id="restart-none"),
        pytest.param(("a", _w), {"shutdown": -1}, "shutdown", id="shutdown-negative"),
        pytest.param(("a", _w), {"shutdown": -0.5}, "shutdown", id="shutdown-negative-float"),
        pytest.param(("a", _w), {"shutdown": -math.inf}, "shutdown", id="shutdown-minus-inf"),
        pytest.param(("a", _w), {"shutdown": math.nan}, "shutdown", id="shutdown-nan"),
        pytest.param(("a", _w), {"shutdown": True}, "shutdown", id="shutdown-bool"),
        pytest.param(("a", _w), {"shutdown": "kill"}, "shutdown", id="shutdown-str"),
        pytest.param(("a", None), {}, "factory", id="factory-none"),
        pytest.param(("a", "Worker"), {}, "factory", id="factory-str"),
        pytest.param(("", _w), {}, "id", id="id-empty"),
        pytest.param(("a/b", _w), {}, "id", id="id-slash"),
        pytest.param((3, _w), {}, "id", id="id-int"),
        pytest.param(("a", _w), {"capacity": 0}, "capacity", id="capacity-zero"),
        pytest.param(("a", _w), {"capacity": True}, "capacity", id="capacity-bool"),
    ],
)
def test_s23_bad_child_spec_is_spec_error_naming_field(
    args: tuple[Any, ...], options: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as exc_info:
        ChildSpec(*args, **options)
    assert exc_info.value.field == field
    assert isinstance(exc_info.value, ValueError)


def test_s23_duplicate_child_id_is_spec_error() -> None:
    with pytest.raises(SpecError) as exc_info:
        Supervisor([ChildSpec("a", _w), ChildSpec("b", _w), ChildSpec("a", _w)])
    assert exc_info.value.field == "children"
    assert "'a'" in str(exc_info.value)


def test_s23_non_spec_child_is_spec_error() -> None:
    with pytest.raises(SpecError) as exc_info:
        Supervisor([ChildSpec("a", _w), _w])  # type: ignore[list-item]
    assert exc_info.value.field == "children"


def test_s23_unknown_keywords_are_rejected_with_type_error() -> None:
    # Pinned: unknown options are rejected, not ignored.
    with pytest.raises(TypeError, match="intensity"):
        Supervisor([ChildSpec("a", _w)], intensity=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="kind"):
        ChildSpec("a", _w, kind="worker")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "flags",
    [
        {"max_restarts": 0, "period": 1e-3},
        {"strategy": "one_for_all", "max_restarts": 1000, "period": 86400},
        {"strategy": "rest_for_one", "backoff": tenacity.wait_fixed(1)},
    ],
)
def test_s23_valid_flags_are_accepted(flags: dict[str, Any]) -> None:
    sup = Supervisor([ChildSpec("a", _w)], **flags)
    assert sup.max_restarts == flags.get("max_restarts", 3)
    assert sup.period == float(flags.get("period", 5.0))


@pytest.mark.parametrize("shutdown", [0, 0.0, 2.5, math.inf, "brutal_kill"])
def test_s23_valid_shutdown_values_are_accepted(shutdown: Any) -> None:
    assert ChildSpec("a", _w, shutdown=shutdown).shutdown == shutdown


# -- supervisor requests --------------------------------------------------------------------


async def test_which_children_reports_start_order_and_state(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(
                system,
                [
                    ChildSpec("p", Factory("p", log)),
                    ChildSpec("tr", Factory("tr", log), restart="transient"),
                    ChildSpec("tm", Factory("tm", log), restart="temporary"),
                ],
            )
            infos = await sup.ask(WhichChildren())
            assert isinstance(infos, tuple)
            assert [(i.id, i.restart, i.running, i.restarts) for i in infos] == [
                ("p", "permanent", True, 0),
                ("tr", "transient", True, 0),
                ("tm", "temporary", True, 0),
            ]
            assert [i.ref.path for i in infos if i.ref is not None] == [
                "/sup/p",
                "/sup/tr",
                "/sup/tm",
            ]
            assert [("start", n) for n in ("p", "tr", "tm")] == log


async def test_start_child_appends_and_duplicate_is_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    a_fac = Factory("a", log)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, [ChildSpec("a", a_fac)])
            d_fac = Factory("d", log)
            d = await sup.ask(StartChild(ChildSpec("d", d_fac)))
            assert isinstance(d, ActorRef)
            assert d.path == "/sup/d"
            assert await d.ask(Incr(3)) == 3
            assert [i.id for i in await sup.ask(WhichChildren())] == ["a", "d"]

            with pytest.raises(NameTaken):
                await sup.ask(StartChild(ChildSpec("a", Factory("a2", log))))
            with pytest.raises(SpecError):
                await sup.ask(StartChild("not a spec"))  # type: ignore[arg-type]
            await settle()
            # Refused through Reject: the supervisor did not crash.
            assert sup.alive
            assert sup.statistics().incarnation == 1
            assert rec.of(ActorFailed) == []
            assert a_fac.calls == 1
            assert [i.id for i in await sup.ask(WhichChildren())] == ["a", "d"]
            # A started child is supervised like the others.
            await d.tell(Crash())
            await settle()
            assert d_fac.calls == 2
            assert d.statistics().incarnation == 2


async def test_start_child_failing_on_start_is_refused_and_leaves_no_trace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(system, [ChildSpec("a", Factory("a", log))])
            actors = system.statistics().actors
            with pytest.raises(StartError) as exc_info:
                await sup.ask(
                    StartChild(ChildSpec("x", Factory("x", log, good=0, then=FailingStart)))
                )
            assert exc_info.value.path == "/sup/x"
            assert sup.alive
            assert [i.id for i in await sup.ask(WhichChildren())] == ["a"]
            assert system.lookup("/sup/x") is None
            assert system.statistics().actors == actors
            # The id is free again: a good spec with the same id starts.
            x = await sup.ask(StartChild(ChildSpec("x", Factory("x", log))))
            assert await x.ask(Incr(1)) == 1
            assert sup.alive
            assert [i.id for i in await sup.ask(WhichChildren())] == ["a", "x"]


async def test_restart_child_failing_on_start_then_delete_frees_the_id(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    b_fac = Factory("b", log, good=1, then=FailingStart)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(
                system, [ChildSpec("a", Factory("a", log)), ChildSpec("b", b_fac)]
            )
            actors = system.statistics().actors
            await sup.ask(TerminateChild("b"))
            with pytest.raises(StartError) as exc_info:
                await sup.ask(RestartChild("b"))
            assert exc_info.value.path == "/sup/b"
            assert sup.alive
            info = (await children(sup))["b"]
            assert (info.running, info.ref) == (False, None)
            # The failed start leaves no live-looking actor behind.
            assert system.lookup("/sup/b") is None
            assert system.statistics().actors == actors - 1
            await sup.ask(DeleteChild("b"))
            b = await sup.ask(StartChild(ChildSpec("b", Factory("b", log))))
            assert await b.ask(Incr(1)) == 1
            assert sup.alive
            assert [i.id for i in await sup.ask(WhichChildren())] == ["a", "b"]


async def test_terminate_and_restart_child(autojump_clock: trio.testing.MockClock) -> None:
    log: Log = []
    rec = Recorder()
    b_fac = Factory("b", log)
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(
                system, [ChildSpec("a", Factory("a", log)), ChildSpec("b", b_fac)]
            )
            b = await child_ref(sup, "b")
            await b.ask(Incr(9))
            await sup.ask(TerminateChild("b"))
            assert not b.alive
            assert ("stop", "b") in log
            info = (await children(sup))["b"]
            assert (info.running, info.ref, info.restarts) == (False, None, 0)
            # Terminating a stopped child again is harmless.
            await sup.ask(TerminateChild("b"))

            new_b = await sup.ask(RestartChild("b"))
            assert isinstance(new_b, ActorRef)
            assert new_b.alive
            assert new_b.path == "/sup/b"
            assert await new_b.ask(Get()) == 0
            assert b_fac.calls == 2
            info = (await children(sup))["b"]
            assert info.running
            assert info.ref == new_b
            assert system.lookup("/sup/b") == new_b

            with pytest.raises(UsageError, match="already running"):
                await sup.ask(RestartChild("b"))
            with pytest.raises(UsageError, match="nope"):
                await sup.ask(TerminateChild("nope"))
            with pytest.raises(UsageError, match="nope"):
                await sup.ask(RestartChild("nope"))
            await settle()
            assert sup.alive
            assert sup.statistics().incarnation == 1
            assert rec.of(RestartCycle) == []
            assert [e.path for e in rec.of(ActorFailed)] == []


async def test_delete_child_refused_while_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(system, specs(factories(log, "ab")))
            b = await child_ref(sup, "b")
            with pytest.raises(UsageError, match="running") as exc_info:
                await sup.ask(DeleteChild("b"))
            assert type(exc_info.value) is UsageError  # not boxed: it came through Reject
            with pytest.raises(UsageError):
                await sup.ask(DeleteChild("nope"))
            with pytest.raises(UsageError, match="unknown supervisor request"):
                await sup.ask(Get())
            await settle()
            assert sup.alive
            assert sup.statistics().incarnation == 1
            assert rec.of(ActorFailed) == []
            assert b.alive
            assert [i.id for i in await sup.ask(WhichChildren())] == ["a", "b"]

            await sup.ask(TerminateChild("b"))
            await sup.ask(DeleteChild("b"))
            assert [i.id for i in await sup.ask(WhichChildren())] == ["a"]
            with pytest.raises(UsageError):
                await sup.ask(RestartChild("b"))
            # The id can be reused after deletion.
            again = await sup.ask(StartChild(ChildSpec("b", Factory("b", log))))
            assert again.alive


async def test_s08_terminate_brutal_kill_child_skips_on_stop_without_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(
                system,
                [ChildSpec("k", Factory("k", log), shutdown="brutal_kill")],
            )
            k = await child_ref(sup, "k")
            before = trio.current_time()
            await sup.ask(TerminateChild("k"))
            await settle()
            assert trio.current_time() == before
            assert not k.alive
            assert ("stop", "k") not in log  # brutal_kill skips on_stop
            assert [(e.path, e.reason) for e in rec.of(ActorExited)] == [("/sup/k", "stopped")]
            # A brutal kill has no grace to exceed: nothing to report.
            assert rec.of(ShutdownTimeout) == []


# -- mailbox across restarts, backoff, nesting ----------------------------------------------


async def test_restart_keeps_mailbox_and_boxes_error_for_asker(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(system, specs(factories(log, "b")))
            b = await child_ref(sup, "b")
            gate = trio.Event()
            await b.tell(WaitThen(gate))
            errors: list[ActorError] = []

            async def ask_crash() -> None:
                try:
                    await b.ask(Crash("mid-queue"))
                except ActorError as error:
                    errors.append(error)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask_crash)
                await settle()
                for n in range(5):
                    await b.tell(Note(n))
                assert b.statistics().mailbox.queued == 6
                gate.set()
            await settle()

            notes = [entry for entry in log if entry[0] == "note"]
            assert notes == [("note", "b", 2, n) for n in range(5)]
            stats = b.statistics()
            assert stats.incarnation == 2
            assert stats.mailbox.dead_lettered == 0
            assert stats.mailbox.queued == 0

    # The asker got the boxed failure.
    (error,) = errors
    assert type(error) is ActorError
    assert error.actor_id == b.id
    assert error.path == "/sup/b"
    assert error.incarnation == 1
    assert error.phase == "receive"
    assert error.message_type == "Crash"
    assert isinstance(error.__cause__, Boom)
    assert error.error is error.__cause__
    assert str(error.__cause__) == "mid-queue"


async def test_one_for_all_sibling_keeps_its_queued_messages(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(system, specs(factories(log, "ab")), strategy="one_for_all")
            a = await child_ref(sup, "a")
            b = await child_ref(sup, "b")
            gate = trio.Event()  # never set: a is busy until the restart interrupts it
            await a.tell(WaitThen(gate))
            for n in range(3):
                await a.tell(Note(n))
            await settle()
            assert a.statistics().mailbox.queued == 3
            await b.tell(Crash())
            await settle()

            assert [entry for entry in log if entry[0] == "note"] == [
                ("note", "a", 2, n) for n in range(3)
            ]
            assert a.statistics().mailbox.dead_lettered == 0
            assert (a.statistics().incarnation, b.statistics().incarnation) == (2, 2)


async def test_backoff_delays_restarts(autojump_clock: trio.testing.MockClock) -> None:
    log: Log = []
    rec = Recorder()
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            sup = await spawn_sup(
                system,
                specs(factories(log, "w")),
                max_restarts=10,
                period=10.0,
                backoff=tenacity.wait_exponential(multiplier=1),
            )
            w = await child_ref(sup, "w")
            start = trio.current_time()
            # Crashes at 0 and 2 share a window (attempts 1, 2); at 20 the window is fresh.
            for at in (0.0, 2.0, 20.0):
                await trio.sleep_until(start + at)
                await w.tell(Crash())
                await settle()
            await trio.sleep(30)
            await settle()

            cycles = rec.of(RestartCycle)
            restarted = rec.of(ActorRestarted)
            assert [c.time - start for c in cycles] == [0.0, 2.0, 20.0]
            assert [r.delay for r in restarted] == [1.0, 2.0, 1.0]
            assert [r.time - c.time for c, r in zip(cycles, restarted, strict=True)] == [
                1.0,
                2.0,
                1.0,
            ]
            assert [rec.started("/sup/w", n).time - start for n in (2, 3, 4)] == [1.0, 4.0, 21.0]
            assert w.statistics().incarnation == 4


async def test_backoff_message_sent_while_restarting_waits_for_new_incarnation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            sup = await spawn_sup(
                system, specs(factories(log, "w")), backoff=tenacity.wait_fixed(3)
            )
            w = await child_ref(sup, "w")
            start = trio.current_time()
            await w.tell(Crash())
            assert await w.ask(Incr(4)) == 4  # queued during the backoff
            assert trio.current_time() - start == 3.0
            assert w.statistics().incarnation == 2


async def test_nested_supervisor_escalation_is_a_child_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: Log = []
    rec = Recorder()
    w_fac = Factory("w", log)
    inner_calls = [0]

    def inner() -> Supervisor:
        inner_calls[0] += 1
        return Supervisor([ChildSpec("w", w_fac)], max_restarts=0)

    with trio.fail_after(DEADLINE):
        async with open_actor_system() as system:
            system.subscribe(rec)
            outer = await system.spawn(
                Supervisor([ChildSpec("inner", inner, shutdown=math.inf)], max_restarts=3),
                name="outer",
            )
            inner_ref = await child_ref(outer, "inner")
            w = await child_ref(inner_ref, "w")
            await w.tell(Crash())
            await settle()

            (escalated,) = rec.of(SupervisorEscalated)
            assert escalated.path == "/outer/inner"
            cycles = {c.supervisor_path: c for c in rec.of(RestartCycle)}
            assert set(cycles) == {"/outer/inner", "/outer"}
            assert cycles["/outer/inner"].restarting == ()
            assert cycles["/outer"].failed == ("inner",)
            assert [e.type for e in cycles["/outer"].errors] == ["SupervisorEscalation"]
            assert cycles["/outer"].restarting == ("inner",)
            (failed_inner,) = rec.of(ActorFailed, "/outer/inner")
            assert "/outer/inner/w" in failed_inner.error.message

            assert inner_calls[0] == 2
            assert w_fac.calls == 2
            assert inner_ref.statistics().incarnation == 2
            assert (await children(outer))["inner"].restarts == 1
            new_w = system.lookup("/outer/inner/w")
            assert new_w is not None
            assert new_w.alive
            assert await new_w.ask(Incr(1)) == 1
            assert outer.alive
            assert outer.statistics().incarnation == 1
