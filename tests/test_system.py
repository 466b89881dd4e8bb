"""The actor system: run, registry, names, shutdown order and grace, isolation, leaks (S-19)."""

from __future__ import annotations

import gc
import math
import os
import weakref
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import actrio

# ---------------------------------------------------------------- messages and actors


@attrs.frozen
class Ping(actrio.Request[str]):
    pass


@attrs.frozen
class Crash:
    pass


@attrs.frozen
class Who(actrio.Request[Any]):
    pass


def of_type(events: list[actrio.Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


class Echo(actrio.Actor[Any]):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise RuntimeError("crash")
        if isinstance(message, Who):
            return actrio.current_system()
        return "pong"


class Parent(actrio.Actor[Any]):
    """Spawns the named children in on_start."""

    def __init__(self, *children: str) -> None:
        self.children = children

    async def on_start(self) -> None:
        for name in self.children:
            await self.spawn(Echo(), name=name)

    async def receive(self, message: Any) -> Any:
        return "pong"


class SlowStop(actrio.Actor[Any]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.finished = False

    async def receive(self, message: Any) -> None:
        pass

    async def on_stop(self) -> None:
        await trio.sleep(self.seconds)
        self.finished = True


# ---------------------------------------------------------------- run / current_system


def test_run_returns_what_main_returns() -> None:
    async def main(system: actrio.ActorSystem) -> tuple[str, bool]:
        ref = await system.spawn(Echo(), name="echo")
        return await ref.ask(Ping()), actrio.current_system() is system

    result = actrio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert result == ("pong", True)


def test_run_passes_its_options_to_the_system() -> None:
    async def main(system: actrio.ActorSystem) -> tuple[int, float]:
        ref = await system.spawn(Echo())
        return ref.statistics().mailbox.capacity, system.shutdown_grace

    assert actrio.run(main, mailbox_capacity=7, shutdown_grace=1.5) == (7, 1.5)


async def test_current_system_inside_and_outside(autojump_clock: trio.abc.Clock) -> None:
    with pytest.raises(actrio.UsageError):
        actrio.current_system()
    async with actrio.open_actor_system() as system:
        assert actrio.current_system() is system
        ref = await system.spawn(Echo())
        assert await ref.ask(Who()) is system
    with pytest.raises(actrio.UsageError):
        actrio.current_system()


@pytest.mark.parametrize(
    "options",
    [
        {"shutdown_grace": -1},
        {"shutdown_grace": math.nan},
        {"shutdown_grace": True},
        {"shutdown_grace": "5"},
        {"mailbox_capacity": 0},
    ],
)
async def test_bad_system_options_are_usage_errors(options: dict[str, Any]) -> None:
    with pytest.raises(actrio.UsageError):
        async with actrio.open_actor_system(**options):
            raise AssertionError("opened with a bad option")


# ---------------------------------------------------------------- registry and names


async def test_lookup_finds_live_actors_by_path(autojump_clock: trio.abc.Clock) -> None:
    async with actrio.open_actor_system() as system:
        a = await system.spawn(Parent("b", "c"), name="a")
        b = system.lookup("/a/b")
        assert b is not None
        assert b.path == "/a/b"
        assert await b.ask(Ping()) == "pong"
        assert system.lookup("/a") == a
        assert system.lookup("/b") is None
        assert system.lookup("/a/x") is None
        assert system.lookup("a/b") is None
        assert system.statistics().actors == 3
        await b.stop()
        assert system.lookup("/a/b") is None
        assert system.lookup("/a/c") is not None
        await a.stop()
        assert system.lookup("/a/c") is None
        assert system.statistics().actors == 0


async def test_duplicate_sibling_names_raise_name_taken(autojump_clock: trio.abc.Clock) -> None:
    async with actrio.open_actor_system() as system:
        first = await system.spawn(Echo(), name="x")
        with pytest.raises(actrio.NameTaken) as info:
            await system.spawn(Echo(), name="x")
        assert isinstance(info.value, actrio.UsageError)
        assert isinstance(info.value, ValueError)
        assert system.lookup("/x") == first
        assert system.statistics().actors == 1

        class Twins(actrio.Actor[Any]):
            async def on_start(self) -> None:
                await self.spawn(Echo(), name="x")  # same name, other parent: fine
                with pytest.raises(actrio.NameTaken):
                    await self.spawn(Echo(), name="x")

            async def receive(self, message: Any) -> None:
                pass

        await system.spawn(Twins(), name="twins")
        assert system.lookup("/twins/x") is not None
        assert system.lookup("/twins/x") != first
        await first.stop()
        again = await system.spawn(Echo(), name="x")  # free once stopped
        assert again != first
        assert system.lookup("/x") == again


@pytest.mark.parametrize("name", ["", "a/b", "/a"])
async def test_bad_names_are_usage_errors(autojump_clock: trio.abc.Clock, name: str) -> None:
    async with actrio.open_actor_system() as system:
        with pytest.raises(actrio.UsageError):
            await system.spawn(Echo(), name=name)
        assert system.statistics().actors == 0


async def test_generated_names_are_unique(autojump_clock: trio.abc.Clock) -> None:
    async with actrio.open_actor_system() as system:
        refs = [await system.spawn(Echo()) for _ in range(5)]
        assert len({r.path for r in refs}) == 5
        assert len({r.id for r in refs}) == 5
        assert all(system.lookup(r.path) == r for r in refs)


async def test_spawn_after_the_system_closed_raises_actor_stopped(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with actrio.open_actor_system() as system:
        pass
    with pytest.raises(actrio.ActorStopped):
        await system.spawn(Echo())


async def test_statistics_and_publish(autojump_clock: trio.abc.Clock) -> None:
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        stats = system.statistics()
        assert isinstance(stats, actrio.SystemStatistics)
        assert attrs.inspect(actrio.SystemStatistics).is_frozen
        assert (stats.actors, stats.spawned, stats.last_seq, stats.subscribers) == (0, 0, 0, 0)
        system.subscribe(events.append)
        await system.spawn(Parent("k"), name="p")
        await trio.sleep(3)
        await system.publish(actrio.ShutdownTimeout(actor_id="x", path="/x", grace=1.0))
        stats = system.statistics()
        assert (stats.actors, stats.spawned, stats.subscribers) == (2, 2, 1)
        assert stats.last_seq == 3  # two ActorStarted, one published
    published = events[2]
    assert isinstance(published, actrio.ShutdownTimeout)
    assert (published.seq, published.time) == (3, 3.0)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_two_systems_do_not_see_each_other(autojump_clock: trio.abc.Clock) -> None:
    events_a: list[actrio.Event] = []
    events_b: list[actrio.Event] = []
    async with actrio.open_actor_system() as a, actrio.open_actor_system() as b:
        a.subscribe(events_a.append)
        b.subscribe(events_b.append)
        in_a = await a.spawn(Echo(), name="same")
        in_b = await b.spawn(Echo(), name="same")  # no NameTaken across systems
        assert in_a != in_b
        assert a.lookup("/same") == in_a
        assert b.lookup("/same") == in_b
        await b.spawn(Echo(), name="only-b")
        assert a.lookup("/only-b") is None
        assert (a.statistics().actors, b.statistics().actors) == (1, 2)
        await in_b.stop()
        assert in_a.alive
    assert {e.path for e in of_type(events_a, actrio.ActorStarted)} == {"/same"}
    assert {e.path for e in of_type(events_b, actrio.ActorStarted)} == {"/same", "/only-b"}


async def test_current_system_in_an_actor_is_its_own_with_two_systems_open(
    autojump_clock: trio.abc.Clock,
) -> None:
    async with actrio.open_actor_system() as a, actrio.open_actor_system() as b:
        in_a = await a.spawn(Echo(), name="x")
        in_b = await b.spawn(Echo(), name="x")
        assert await in_b.ask(Who()) is b
        assert await in_a.ask(Who()) is a


# ---------------------------------------------------------------- shutdown


async def test_leaving_the_block_stops_top_level_actors_in_reverse_spawn_order(
    autojump_clock: trio.abc.Clock,
) -> None:
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        await system.spawn(Echo(), name="first")
        await system.spawn(Parent("k1", "k2"), name="second")
        await system.spawn(Echo(), name="third")
        refs = [system.lookup(p) for p in ("/first", "/second", "/third", "/second/k1")]
    assert all(r is not None and not r.alive for r in refs)
    exits = sorted(of_type(events, actrio.ActorExited), key=lambda e: e.seq)
    order = [e.path for e in exits]
    assert order[0] == "/third"
    assert set(order[1:3]) == {"/second/k1", "/second/k2"}  # the subtree first
    assert order[3:] == ["/second", "/first"]
    reasons = {e.path: e.reason for e in exits}
    # Top-level actors are stopped, and their parent stops the children, each
    # through its own scope: "stopped" too ("cancelled" is for an enclosing
    # scope that actrio did not cancel).
    assert set(reasons.values()) == {"stopped"}
    assert system.statistics().actors == 0


async def test_shutdown_grace_bounds_one_slow_on_stop(autojump_clock: trio.abc.Clock) -> None:
    actor = SlowStop(100)
    events: list[actrio.Event] = []
    async with actrio.open_actor_system(shutdown_grace=2) as system:
        system.subscribe(events.append)
        await system.spawn(actor, name="slow")
        t0 = trio.current_time()
    assert trio.current_time() - t0 == pytest.approx(2.0)
    assert not actor.finished


async def test_shutdown_grace_bounds_the_whole_shutdown(autojump_clock: trio.abc.Clock) -> None:
    """The docstring: stopping, draining, all of it within ``shutdown_grace``."""
    actors = [SlowStop(100) for _ in range(3)]
    async with actrio.open_actor_system(shutdown_grace=2) as system:
        for actor in actors:
            await system.spawn(actor)
        t0 = trio.current_time()
    assert trio.current_time() - t0 <= 2.0
    assert not any(a.finished for a in actors)


async def test_quick_on_stop_finishes_within_the_grace(autojump_clock: trio.abc.Clock) -> None:
    actors = [SlowStop(1) for _ in range(3)]
    async with actrio.open_actor_system(shutdown_grace=5) as system:
        for actor in actors:
            await system.spawn(actor)
        t0 = trio.current_time()
    assert all(a.finished for a in actors)
    assert trio.current_time() - t0 == pytest.approx(3.0)  # one after the other


async def test_failing_top_level_actor_propagates_out_of_the_block(
    autojump_clock: trio.abc.Clock,
) -> None:
    bystander = SlowStop(0)
    with pytest.RaisesGroup(
        pytest.RaisesExc(actrio.ActorError, check=lambda e: e.path == "/bad")
    ) as info:
        async with actrio.open_actor_system() as system:
            await system.spawn(bystander, name="bystander")
            bad = await system.spawn(Echo(), name="bad")
            await bad.tell(Crash())
            await trio.sleep(10)
            raise AssertionError("the body should have been cancelled")
    (error,) = info.value.exceptions
    assert isinstance(error, actrio.ActorError)
    assert error.phase == "receive"
    assert error.message_type == "Crash"
    assert isinstance(error.__cause__, RuntimeError)
    assert bystander.finished  # the others were stopped cleanly
    assert system.statistics().actors == 0


# ---------------------------------------------------------------- S-19


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _crash_cycles(system: actrio.ActorSystem, cycles: int) -> actrio.ActorRef[Any]:
    sup = await system.spawn(
        actrio.Supervisor([actrio.ChildSpec("w", Echo)], max_restarts=cycles + 1, period=1.0),
        name="sup",
    )
    for n in range(1, cycles + 1):
        (info,) = await sup.ask(actrio.WhichChildren())
        assert info.ref is not None
        await info.ref.tell(Crash())
        with trio.fail_after(5):
            while True:
                (info,) = await sup.ask(actrio.WhichChildren())
                if info.running and info.restarts == n:
                    break
                await trio.sleep(0)
    return sup


async def test_s19_no_reference_cycles_after_1000_crash_restart_cycles(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-19: gc.DEBUG_SAVEALL finds no garbage cycles left by 1 000 crash/restart cycles."""
    gc.collect()
    old_flags = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        async with actrio.open_actor_system() as system:
            sup = await _crash_cycles(system, 1000)
            (info,) = await sup.ask(actrio.WhichChildren())
            assert info.restarts == 1000
        del system, sup, info
        gc.collect()
        garbage = len(gc.garbage)
        kinds = sorted({type(o).__name__ for o in gc.garbage})[:15]
    finally:
        gc.set_debug(old_flags)
        gc.garbage.clear()
        gc.collect()
    assert garbage == 0, f"{garbage} objects in reference cycles, e.g. {kinds}"


async def test_s19_resources_back_to_baseline_after_1000_crash_restart_cycles(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-19: fds, live actors and temporary child specs do not accumulate."""
    fds = _open_fds()
    async with actrio.open_actor_system() as system:
        baseline = system.statistics().actors
        sup = await _crash_cycles(system, 1000)
        assert system.statistics().actors == baseline + 2  # the supervisor and its child
        assert _open_fds() == fds

        # Temporary children: started, crashed, forgotten.
        spec_refs: list[weakref.ref[actrio.ChildSpec]] = []
        for n in range(200):
            spec = actrio.ChildSpec(f"tmp{n}", Echo, restart="temporary")
            spec_refs.append(weakref.ref(spec))
            ref = await sup.ask(actrio.StartChild(spec))
            del spec
            await ref.tell(Crash())
            with trio.fail_after(5):
                while ref.alive:
                    await trio.sleep(0)
        await trio.testing.wait_all_tasks_blocked()
        children = await sup.ask(actrio.WhichChildren())
        assert [c.id for c in children] == ["w"]
        assert system.statistics().actors == baseline + 2
        await sup.stop()
        assert system.statistics().actors == baseline
    gc.collect()
    alive = [r for r in spec_refs if r() is not None]
    assert alive == [], f"{len(alive)} temporary child specs still referenced"
    assert _open_fds() == fds
