"""Kernel additions for scopes: hosted actors, pull streams, finishing subscriptions."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing

import actrio
from actrio._wire import structure_tagged
from actrio.kernel._util import open_body_nursery


@attrs.frozen
class Ping(actrio.Request[str]):
    text: str


class Echo(actrio.Actor[Ping]):
    async def receive(self, message: Ping) -> str:
        return message.text.upper()


class Leaf(actrio.Actor[Any]):
    async def receive(self, message: Any) -> None:
        pass


async def test_hosted_actor_answers_while_its_block_runs() -> None:
    async with actrio.open_actor_system() as system:
        async with system.host(Echo(), name="echo") as ref:
            assert system.lookup("/echo") == ref
            assert actrio.current_actor() == ref
            assert await ref.ask(Ping("hi")) == "HI"
        assert not ref.alive
        assert system.lookup("/echo") is None


async def test_hosted_actor_children_stop_when_the_block_ends() -> None:
    async with actrio.open_actor_system() as system:
        seen: list[actrio.Event] = []
        system.subscribe(seen.append)
        async with system.host(Echo(), name="host") as ref:
            child = await ref._cell.system._spawn(Leaf(), parent=ref._cell, name="c", capacity=None)
            assert child.path == "/host/c"
        assert not child.alive
        await trio.testing.wait_all_tasks_blocked()
    exits = [e.path for e in seen if isinstance(e, actrio.ActorExited)]
    assert exits == ["/host/c", "/host"]
    reasons = [e.reason for e in seen if isinstance(e, actrio.ActorExited)]
    assert reasons[-1] == "normal"


async def test_hosted_actor_nests_under_the_current_actor() -> None:
    async with actrio.open_actor_system() as system, system.host(Echo(), name="outer") as outer:
        async with system.host(Echo(), name="inner") as inner:
            assert inner.path == "/outer/inner"
            assert actrio.current_actor() == inner
        assert actrio.current_actor() == outer


async def test_hosted_block_error_passes_through_unwrapped() -> None:
    async with actrio.open_actor_system() as system:
        seen: list[actrio.Event] = []
        system.subscribe(seen.append)
        with pytest.raises(KeyError, match="boom"):
            async with system.host(Echo(), name="h"):
                raise KeyError("boom")
        await trio.testing.wait_all_tasks_blocked()
    assert [e.reason for e in seen if isinstance(e, actrio.ActorExited)] == ["failed"]


async def test_stopping_a_hosted_actor_cancels_its_block() -> None:
    async with actrio.open_actor_system() as system:
        reached_end = False
        async with system.host(Echo(), name="h") as ref:
            await ref.stop()
            await trio.sleep_forever()
            reached_end = True  # pragma: no cover - must not run
        assert not reached_end
        assert not ref.alive


async def test_hosted_deadline_cancels_the_block(autojump_clock: trio.abc.Clock) -> None:
    async with actrio.open_actor_system() as system:
        start = trio.current_time()
        async with system.host(Echo(), deadline=start + 3):
            await trio.sleep(10)
        assert trio.current_time() - start == pytest.approx(3)


async def test_host_refuses_bad_arguments() -> None:
    async with actrio.open_actor_system() as system:
        with pytest.raises(actrio.UsageError, match="Actor instance"):
            async with system.host("nope"):  # type: ignore[arg-type]
                pass  # pragma: no cover
        with pytest.raises(actrio.UsageError, match="ActorRef"):
            async with system.host(Echo(), parent="nope"):  # type: ignore[arg-type]
                pass  # pragma: no cover
        actor = Echo()
        async with system.host(actor):
            with pytest.raises(actrio.UsageError, match="already spawned"):
                async with system.host(actor):
                    pass  # pragma: no cover
        await system.spawn(Leaf(), name="dup")
        with pytest.raises(actrio.NameTaken):
            async with system.host(Echo(), name="dup"):
                pass  # pragma: no cover
        async with actrio.open_actor_system() as other:
            ref = await other.spawn(Leaf())
            with pytest.raises(actrio.UsageError, match="another actor system"):
                async with system.host(Echo(), parent=ref):
                    pass  # pragma: no cover
        stopped = await system.spawn(Leaf())
        await stopped.stop()
        with pytest.raises(actrio.ActorStopped):
            async with system.host(Echo(), parent=stopped):
                pass  # pragma: no cover


async def test_host_after_shutdown_is_refused() -> None:
    async with actrio.open_actor_system() as system:
        pass
    with pytest.raises(actrio.ActorStopped):
        async with system.host(Echo()):
            pass  # pragma: no cover


async def test_precancelled_host_starts_nothing() -> None:
    """S-21: a precancelled host raises Cancelled and registers nothing."""
    async with actrio.open_actor_system() as system:
        with trio.CancelScope() as scope:
            scope.cancel()
            async with system.host(Echo(), name="never"):
                pass  # pragma: no cover
        assert system.statistics().actors == 0


async def test_stream_reads_events_in_order_and_ends_with_the_bus() -> None:
    got: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        stream = system.stream(types=[actrio.ActorExited])

        async def read() -> None:
            async with stream:
                got.extend([event async for event in stream])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            for _ in range(3):
                ref = await system.spawn(Leaf())
                await ref.stop()
            # Leaving the system closes the bus; the reader drains and ends.
            await system._shutdown()
            await system.bus.aclose()
    assert [type(e) for e in got] == [actrio.ActorExited] * 3
    seqs = [e.seq for e in got]
    assert seqs == sorted(seqs)
    assert stream.statistics().delivered == 3


async def test_closing_a_stream_ends_iteration() -> None:
    async with actrio.open_actor_system() as system:
        async with system.stream() as stream:
            stream.close()
            assert [e async for e in stream] == []
        assert not stream.statistics().active


async def test_finish_delivers_what_was_queued_then_nothing() -> None:
    async with actrio.open_actor_system() as system:
        seen: list[int] = []
        gate = trio.Event()

        async def slow(event: actrio.Event) -> None:
            await gate.wait()
            seen.append(event.seq)

        sub = system.subscribe(slow)
        await system.publish(actrio.Event())
        await system.publish(actrio.Event())
        sub.finish()
        sub.finish()  # twice is harmless
        await system.publish(actrio.Event())  # after finish: not for this subscriber
        gate.set()
        await sub._done.wait()
        assert seen == [1, 2]


async def test_where_filters_events() -> None:
    async with actrio.open_actor_system() as system:
        seen: list[int] = []
        system.bus.subscribe(lambda e: seen.append(e.seq), where=lambda e: e.seq % 2 == 0)
        for _ in range(4):
            await system.publish(actrio.Event())
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [2, 4]


async def test_body_nursery_keeps_task_errors_grouped() -> None:
    async def fail() -> None:
        raise ValueError("task")

    async def run() -> None:
        async with open_body_nursery() as nursery:
            nursery.start_soon(fail)
            await trio.sleep_forever()

    with pytest.raises(ExceptionGroup) as info:
        await run()
    assert [type(e) for e in info.value.exceptions] == [ValueError]


async def test_body_nursery_groups_the_body_error_with_task_errors() -> None:
    async def fail_when_cancelled() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled as cancelled:
            raise ValueError("task") from cancelled

    async def run() -> None:
        async with open_body_nursery() as nursery:
            nursery.start_soon(fail_when_cancelled)
            await trio.testing.wait_all_tasks_blocked()
            raise KeyError("body")

    with pytest.raises(ExceptionGroup) as info:
        await run()
    assert {type(e) for e in info.value.exceptions} == {ValueError, KeyError}


def test_structure_tagged_rejects_unknown_shapes() -> None:
    with pytest.raises(ValueError, match="kind"):
        structure_tagged([1])
    with pytest.raises(ValueError, match="unknown kind"):
        structure_tagged({"kind": "no-such-kind"})
    event = structure_tagged(
        {
            "kind": "actor_exited",
            "seq": 1,
            "time": 0.0,
            "actor_id": "1",
            "path": "/a",
            "incarnation": 1,
            "reason": "normal",
        }
    )
    assert isinstance(event, actrio.ActorExited)
    assert event.path == "/a"


async def test_publish_within_gives_up_after_its_grace(autojump_clock: trio.abc.Clock) -> None:
    async with actrio.open_actor_system() as system:
        gate = trio.Event()

        async def stuck(event: actrio.Event) -> None:
            await gate.wait()

        system.subscribe(stuck, capacity=1)
        assert await system.bus.publish_within(actrio.Event(), 1.0)  # taken by the handler
        assert await system.bus.publish_within(actrio.Event(), 1.0)  # fills the queue
        with trio.CancelScope() as outer:
            outer.cancel()  # shielded: an enclosing cancel does not cut it short
            start = trio.current_time()
            assert not await system.bus.publish_within(actrio.Event(), 2.0)
            assert trio.current_time() - start == pytest.approx(2.0)
        gate.set()
