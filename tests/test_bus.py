"""The event bus: ordering, stamping, backpressure, loss reporting, isolation."""

from __future__ import annotations

from typing import Literal

import attrs
import pytest
import trio
import trio.testing

import actrio


@attrs.frozen(kw_only=True)
class Ping(actrio.Event):
    kind: Literal["ping"] = "ping"
    n: int


@attrs.frozen(kw_only=True)
class Pong(actrio.Event):
    kind: Literal["pong"] = "pong"
    n: int


@attrs.frozen
class Hello(actrio.Request[str]):
    who: str


class Greeter(actrio.Actor[Hello]):
    async def receive(self, message: Hello) -> str:
        return f"hello {message.who}"


def started(n: int = 0) -> actrio.ActorStarted:
    return actrio.ActorStarted(
        actor_id=str(n), path=f"/a{n}", actor_type="X", incarnation=1, parent_id=None
    )


def assert_no_gap(seqs: list[int]) -> None:
    """Strictly increasing by exactly one: sequence order, nothing missing."""
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


# ---------------------------------------------------------------- basics


async def test_sync_handler_gets_events_in_seq_order_starting_at_one() -> None:
    seen: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(seen.append)
        for n in range(5):
            await system.publish(Ping(n=n))
        await trio.testing.wait_all_tasks_blocked()
        assert [e.seq for e in seen] == [1, 2, 3, 4, 5]
        assert [e.n for e in seen if isinstance(e, Ping)] == [0, 1, 2, 3, 4]
        assert system.statistics().last_seq == 5


async def test_async_handler_gets_events_in_seq_order() -> None:
    seen: list[int] = []

    async def handler(event: actrio.Event) -> None:
        await trio.sleep(0)
        seen.append(event.seq)

    async with actrio.open_actor_system() as system:
        system.subscribe(handler)
        for n in range(20):
            await system.publish(Ping(n=n))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == list(range(1, 21))


async def test_publish_stamps_a_copy_and_leaves_the_original_alone() -> None:
    seen: list[actrio.Event] = []
    original = started(1)
    async with actrio.open_actor_system() as system:
        system.subscribe(seen.append)
        await system.publish(original)
        await trio.testing.wait_all_tasks_blocked()
    assert original.seq == 0
    assert original.time == 0.0
    assert len([e for e in seen if isinstance(e, actrio.ActorStarted)]) == 1
    (delivered,) = [e for e in seen if isinstance(e, actrio.ActorStarted)]
    assert delivered.seq == 1
    assert attrs.evolve(delivered, seq=0, time=0.0) == original


async def test_seq_is_per_system_each_starting_at_one() -> None:
    first: list[int] = []
    second: list[int] = []
    async with actrio.open_actor_system() as a, actrio.open_actor_system() as b:
        a.subscribe(lambda e: first.append(e.seq))
        b.subscribe(lambda e: second.append(e.seq))
        for n in range(3):
            await a.publish(Ping(n=n))
        await b.publish(Ping(n=0))
        await a.publish(Ping(n=3))
        await b.publish(Ping(n=1))
        await trio.testing.wait_all_tasks_blocked()
        assert first == [1, 2, 3, 4]
        assert second == [1, 2]
        assert a.statistics().last_seq == 4
        assert b.statistics().last_seq == 2


async def test_seq_counts_events_published_with_no_subscriber() -> None:
    seen: list[int] = []
    async with actrio.open_actor_system() as system:
        assert system.statistics().last_seq == 0
        await system.publish(Ping(n=0))
        await system.publish(Ping(n=1))
        assert system.statistics().last_seq == 2
        system.subscribe(lambda e: seen.append(e.seq))
        await system.publish(Ping(n=2))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [3]


async def test_time_is_the_virtual_clock_at_publication(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(seen.append)
        t0 = trio.current_time()
        await system.publish(Ping(n=0))
        await trio.sleep(7.5)
        await system.publish(Ping(n=1))
        await trio.sleep(100)
        await system.publish(Ping(n=2))
        await trio.testing.wait_all_tasks_blocked()
    assert [e.time for e in seen] == pytest.approx([t0, t0 + 7.5, t0 + 107.5])
    assert autojump_clock.current_time() == pytest.approx(t0 + 107.5)


async def test_types_filter() -> None:
    pings: list[actrio.Event] = []
    starts: list[actrio.Event] = []
    both: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(pings.append, types=[Ping])
        system.subscribe(starts.append, types=(actrio.ActorStarted,))
        system.subscribe(both.append, types={Ping, actrio.ActorStarted})
        await system.publish(Ping(n=0))
        await system.publish(Pong(n=0))
        await system.publish(started())
        await system.publish(Ping(n=1))
        await trio.testing.wait_all_tasks_blocked()
    assert [(type(e), e.seq) for e in pings] == [(Ping, 1), (Ping, 4)]
    assert [(type(e), e.seq) for e in starts] == [(actrio.ActorStarted, 3)]
    assert [e.seq for e in both] == [1, 3, 4]


async def test_types_filter_takes_base_classes() -> None:
    seen: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(seen.append, types=[actrio.Event])
        await system.publish(Ping(n=0))
        await system.publish(Pong(n=0))
        await trio.testing.wait_all_tasks_blocked()
    assert [type(e) for e in seen[:2]] == [Ping, Pong]


async def test_close_stops_delivery() -> None:
    seen: list[int] = []
    async with actrio.open_actor_system() as system:
        sub = system.subscribe(lambda e: seen.append(e.seq))
        other: list[int] = []
        system.subscribe(lambda e: other.append(e.seq))
        assert system.statistics().subscribers == 2
        await system.publish(Ping(n=0))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [1]
        sub.close()
        assert sub.statistics().active is False
        assert system.statistics().subscribers == 1
        await system.publish(Ping(n=1))
        await system.publish(Ping(n=2))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [1]
        assert other == [1, 2, 3]
        sub.close()  # idempotent
        assert sub.statistics().active is False


async def test_close_discards_what_is_still_queued() -> None:
    seen: list[int] = []
    async with actrio.open_actor_system() as system:
        sub = system.subscribe(lambda e: seen.append(e.seq), capacity=10)
        # No checkpoint between the publications and close(): the subscriber
        # task has not run yet, so everything is still queued.
        await system.bus.publish(Ping(n=0))
        await system.bus.publish(Ping(n=1))
        assert sub.statistics().queued == 2
        sub.close()
        assert sub.statistics().queued == 0
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []


async def test_context_manager_closes_the_subscription() -> None:
    seen: list[int] = []
    async with actrio.open_actor_system() as system:
        with system.subscribe(lambda e: seen.append(e.seq)) as sub:
            assert isinstance(sub, actrio.Subscription)
            await system.publish(Ping(n=0))
            await trio.testing.wait_all_tasks_blocked()
            assert sub.statistics().active is True
        assert sub.statistics().active is False
        assert system.statistics().subscribers == 0
        await system.publish(Ping(n=1))
        await trio.testing.wait_all_tasks_blocked()
        assert seen == [1]


async def test_statistics_snapshot() -> None:
    async with actrio.open_actor_system() as system:
        sub = system.subscribe(lambda e: None, mode="lossy", capacity=7, name="watcher")
        before = sub.statistics()
        assert before == actrio.SubscriberStatistics(
            name="watcher",
            mode="lossy",
            queued=0,
            capacity=7,
            delivered=0,
            dropped=0,
            failures=0,
            active=True,
        )
        await system.publish(Ping(n=0))
        await system.publish(Ping(n=1))
        await trio.testing.wait_all_tasks_blocked()
        after = sub.statistics()
        # A snapshot: the old one did not change, the new one counts.
        assert before.delivered == 0
        assert after.delivered == 2
        assert after.queued == 0
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            after.delivered = 5  # type: ignore[misc]


async def test_generated_names_are_distinct() -> None:
    async with actrio.open_actor_system() as system:
        names = {system.subscribe(lambda e: None).name for _ in range(3)}
        assert len(names) == 3
        assert all(isinstance(n, str) and n for n in names)
        assert system.subscribe(lambda e: None).statistics().mode == "lossless"


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "x"},
        {"mode": "LOSSY"},
        {"capacity": 0},
        {"capacity": -3},
        {"capacity": 1.5},
        {"max_failures": 0},
        {"max_failures": -1},
    ],
)
async def test_bad_options_are_usage_errors(options: dict[str, object]) -> None:
    async with actrio.open_actor_system() as system:
        with pytest.raises(actrio.UsageError):
            system.subscribe(lambda e: None, **options)  # type: ignore[arg-type]
        assert system.statistics().subscribers == 0


async def test_subscribe_after_the_system_closed_is_a_usage_error() -> None:
    async with actrio.open_actor_system() as system:
        pass
    with pytest.raises(actrio.UsageError):
        system.subscribe(lambda e: None)


# ---------------------------------------------------------------- checkpoints


async def test_publish_is_a_checkpoint_with_no_subscriber() -> None:
    async with actrio.open_actor_system() as system:
        with trio.testing.assert_checkpoints():
            await system.publish(Ping(n=0))


async def test_publish_is_a_checkpoint_with_subscribers() -> None:
    async with actrio.open_actor_system() as system:
        system.subscribe(lambda e: None)
        system.subscribe(lambda e: None, mode="lossy")
        with trio.testing.assert_checkpoints():
            await system.publish(Ping(n=0))


async def test_publish_in_a_cancelled_scope_raises_and_publishes_nothing() -> None:
    seen: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(seen.append)
        with trio.CancelScope() as scope:
            scope.cancel()
            await system.publish(Ping(n=0))
        assert scope.cancelled_caught
        await trio.testing.wait_all_tasks_blocked()
        assert seen == []
        assert system.statistics().last_seq == 0


# ---------------------------------------------------------------- lossless


async def test_lossless_backpressure_slows_publishers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seqs: list[int] = []
    queued_samples: list[int] = []

    async def slow(event: actrio.Event) -> None:
        await trio.sleep(1)
        if isinstance(event, Ping):
            seqs.append(event.seq)

    async with actrio.open_actor_system(shutdown_grace=1000) as system:
        sub = system.subscribe(slow, capacity=4, name="slow")
        t0 = trio.current_time()
        for n in range(100):
            await system.publish(Ping(n=n))
            queued_samples.append(sub.statistics().queued)
        publishing_took = trio.current_time() - t0
        # Four events fit in the queue and one is in the handler; the other 95
        # had to wait for one second of handling each.
        assert 94 <= publishing_took <= 96
        assert max(queued_samples) <= 4
        assert max(queued_samples) == 4  # the queue did fill up
        while sub.statistics().delivered < 100:
            await trio.sleep(0.5)
            assert sub.statistics().queued <= 4
        stats = sub.statistics()
    assert seqs == list(range(1, 101))
    assert_no_gap(seqs)
    assert stats.dropped == 0
    assert stats.delivered == 100
    assert trio.current_time() - t0 == pytest.approx(100, abs=1)


async def test_lossless_backpressure_on_one_subscriber_does_not_lose_for_another(
    autojump_clock: trio.testing.MockClock,
) -> None:
    slow_seen: list[int] = []
    fast_seen: list[int] = []

    async def slow(event: actrio.Event) -> None:
        await trio.sleep(0.1)
        slow_seen.append(event.seq)

    async with actrio.open_actor_system(shutdown_grace=1000) as system:
        system.subscribe(lambda e: fast_seen.append(e.seq), capacity=2)
        system.subscribe(slow, capacity=3)
        for n in range(50):
            await system.publish(Ping(n=n))
    assert fast_seen == list(range(1, 51))
    assert slow_seen == list(range(1, 51))


async def test_concurrent_publishers_keep_seq_order_without_gaps(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[actrio.Event] = []
    queued_samples: list[int] = []

    async def handler(event: actrio.Event) -> None:
        await trio.sleep(0.01)
        seen.append(event)

    async def publisher(system: actrio.ActorSystem, who: int) -> None:
        for n in range(40):
            await system.publish(Ping(n=who * 1000 + n))
            if n % 7 == who:
                await trio.sleep(0.003 * who)

    async def sample(sub: actrio.Subscription) -> None:
        while True:
            queued_samples.append(sub.statistics().queued)
            await trio.sleep(0.005)

    async with actrio.open_actor_system(shutdown_grace=1000) as system:
        sub = system.subscribe(handler, capacity=3)
        async with trio.open_nursery() as sampling:
            sampling.start_soon(sample, sub)
            async with trio.open_nursery() as nursery:
                for who in range(6):
                    nursery.start_soon(publisher, system, who)
            sampling.cancel_scope.cancel()
        assert system.statistics().last_seq == 240
    pings = [e for e in seen if isinstance(e, Ping)]
    assert len(pings) == 240
    assert_no_gap([e.seq for e in pings])
    assert pings[0].seq == 1
    # Every publisher's own events keep their order.
    for who in range(6):
        mine = [e.n - who * 1000 for e in pings if e.n // 1000 == who]
        assert mine == list(range(40))
    assert max(queued_samples) <= 3


async def test_lossless_subscribers_drain_on_exit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[actrio.Event] = []

    async def slowish(event: actrio.Event) -> None:
        await trio.sleep(0.1)
        seen.append(event)

    async with actrio.open_actor_system() as system:
        sub = system.subscribe(slowish, capacity=100)
        ref = await system.spawn(Greeter(), name="greeter")
        assert await ref.ask(Hello("you")) == "hello you"
        for n in range(10):
            await system.publish(Ping(n=n))
        # Most of it is still queued when the block ends.
        assert sub.statistics().queued >= 9
    assert [e.n for e in seen if isinstance(e, Ping)] == list(range(10))
    kinds = [type(e) for e in seen]
    assert kinds.count(actrio.ActorStarted) == 1
    # The actor's exit happens during the shutdown, after the block ended.
    exits = [e for e in seen if isinstance(e, actrio.ActorExited)]
    assert [(e.path, e.reason) for e in exits] == [("/greeter", "stopped")]
    assert_no_gap([e.seq for e in seen])
    assert sub.statistics().active is False


async def test_exit_events_of_the_shutdown_reach_a_fast_subscriber() -> None:
    seen: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(seen.append)
        for name in ("a", "b", "c"):
            await system.spawn(Greeter(), name=name)
    exits = [e for e in seen if isinstance(e, actrio.ActorExited)]
    # Top-level actors stop in reverse spawn order.
    assert [e.path for e in exits] == ["/c", "/b", "/a"]
    assert_no_gap([e.seq for e in seen])


@attrs.frozen
class Job:
    n: int


class Stuck(actrio.Actor[Job]):
    """Blocks on its first message, so the rest stays in its mailbox."""

    async def receive(self, message: Job) -> None:
        await trio.sleep_forever()


@pytest.mark.parametrize("capacity", [1, 2, 1024])
async def test_every_event_of_the_shutdown_reaches_a_lossless_subscriber(capacity: int) -> None:
    # Stopping Stuck publishes ActorExited and then one MessageDeadLettered per
    # message left in its mailbox; a small queue makes those publishers wait
    # for room while the system is already draining its subscribers.
    seen: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(seen.append, capacity=capacity)
        ref = await system.spawn(Stuck(), name="stuck")
        for n in range(6):
            await ref.tell(Job(n))
        await trio.testing.wait_all_tasks_blocked()
    dead = [e for e in seen if isinstance(e, actrio.MessageDeadLettered)]
    assert len(dead) == 5
    assert all(e.path == "/stuck" and e.message_type == "Job" for e in dead)
    assert [e.seq for e in seen] == list(range(1, system.statistics().last_seq + 1))


async def test_a_cancelled_publish_leaves_no_gap_for_lossless_subscribers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fast: list[int] = []
    slow_seen: list[int] = []

    async def slow(event: actrio.Event) -> None:
        await trio.sleep(1)
        slow_seen.append(event.seq)

    async with actrio.open_actor_system() as system:
        system.subscribe(lambda e: fast.append(e.seq), capacity=100)
        system.subscribe(slow, capacity=1)
        await system.publish(Ping(n=0))
        await system.publish(Ping(n=1))
        with trio.move_on_after(0.5) as scope:
            await system.publish(Ping(n=2))  # waits for room in the slow queue
        assert scope.cancelled_caught
        await system.publish(Ping(n=3))
        await trio.sleep(10)
    # Whether or not the cancelled event counts as published, both lossless
    # subscribers must agree on it, and neither may see a gap.
    assert slow_seen == fast
    assert_no_gap(slow_seen)
    assert slow_seen[0] == 1


async def test_drain_on_exit_is_bounded_by_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[int] = []

    async def slow(event: actrio.Event) -> None:
        await trio.sleep(1)
        seen.append(event.seq)

    t0 = trio.current_time()
    async with actrio.open_actor_system(shutdown_grace=3.5) as system:
        system.subscribe(slow, capacity=100)
        for n in range(20):
            await system.publish(Ping(n=n))
    took = trio.current_time() - t0
    assert 3 <= len(seen) <= 4
    assert seen == list(range(1, len(seen) + 1))
    assert took < 20


# ---------------------------------------------------------------- lossy


async def test_lossy_reports_exactly_what_it_dropped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[actrio.Event] = []

    async def slow(event: actrio.Event) -> None:
        seen.append(event)
        await trio.sleep(1)

    async with actrio.open_actor_system(shutdown_grace=1000) as system:
        sub = system.subscribe(slow, mode="lossy", capacity=4, name="lossy")
        t0 = trio.current_time()
        for n in range(100):
            await system.publish(Ping(n=n))
            assert sub.statistics().queued <= 4
        # A lossy subscriber never slows a publisher down.
        assert trio.current_time() - t0 < 1
        await trio.sleep(20)
        stats = sub.statistics()

    pings = [e for e in seen if isinstance(e, Ping)]
    notices = [e for e in seen if isinstance(e, actrio.EventsDropped)]
    assert notices, "a full lossy queue must report what it dropped"
    assert stats.dropped > 0
    assert sum(e.count for e in notices) == stats.dropped
    assert len(pings) + stats.dropped == 100
    assert stats.delivered == len(pings) + len(notices)
    assert len(seen) == len(pings) + len(notices)
    # Sequence numbers keep rising, notices included.
    seqs = [e.seq for e in seen]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    for notice in notices:
        assert notice.subscriber == "lossy"
        assert notice.last_seq - notice.first_seq + 1 == notice.count
        assert notice.seq == notice.last_seq
    # The ping seqs plus the dropped ranges cover 1..100 exactly once.
    covered = [e.seq for e in pings]
    for notice in notices:
        covered.extend(range(notice.first_seq, notice.last_seq + 1))
    assert sorted(covered) == list(range(1, 101))


async def test_lossy_drops_in_several_bursts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[actrio.Event] = []

    async def slow(event: actrio.Event) -> None:
        seen.append(event)
        await trio.sleep(1)

    async with actrio.open_actor_system(shutdown_grace=1000) as system:
        sub = system.subscribe(slow, mode="lossy", capacity=2)
        for _burst in range(3):
            for n in range(10):
                await system.publish(Ping(n=n))
            await trio.sleep(10)
        stats = sub.statistics()
    notices = [e for e in seen if isinstance(e, actrio.EventsDropped)]
    pings = [e for e in seen if isinstance(e, Ping)]
    assert len(notices) == 3
    assert sum(e.count for e in notices) == stats.dropped
    assert len(pings) + stats.dropped == 30
    for notice in notices:
        assert notice.last_seq - notice.first_seq + 1 == notice.count
    seqs = [e.seq for e in seen]
    assert seqs == sorted(seqs)


async def test_lossy_subscriber_does_not_stall_a_lossless_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lossless: list[int] = []

    async def stuck(event: actrio.Event) -> None:
        await trio.sleep(1000)

    async with actrio.open_actor_system(shutdown_grace=1) as system:
        system.subscribe(stuck, mode="lossy", capacity=1)
        system.subscribe(lambda e: lossless.append(e.seq), capacity=2)
        t0 = trio.current_time()
        for n in range(50):
            await system.publish(Ping(n=n))
        await trio.testing.wait_all_tasks_blocked()
        assert trio.current_time() - t0 < 1
        assert lossless == list(range(1, 51))


# ---------------------------------------------------------------- faulty subscribers


async def test_faulty_subscriber_is_disabled_and_isolated(
    autojump_clock: trio.testing.MockClock,
) -> None:
    healthy: list[actrio.Event] = []
    calls = 0

    def faulty(event: actrio.Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError(f"boom {calls}")

    async with actrio.open_actor_system() as system:
        ref = await system.spawn(Greeter(), name="greeter")
        bad = system.subscribe(faulty, max_failures=3, name="bad")
        system.subscribe(healthy.append, name="good")
        assert system.statistics().subscribers == 2
        for n in range(10):
            await system.publish(Ping(n=n))
            assert await ref.ask(Hello(str(n))) == f"hello {n}"
        await trio.testing.wait_all_tasks_blocked()
        stats = bad.statistics()
        assert stats.active is False
        assert stats.failures == 3
        assert stats.delivered == 0
        assert calls == 3
        assert system.statistics().subscribers == 1
        assert await ref.ask(Hello("after")) == "hello after"
        assert ref.statistics().state == "running"

    disabled = [e for e in healthy if isinstance(e, actrio.SubscriberDisabled)]
    assert len(disabled) == 1
    (notice,) = disabled
    assert notice.subscriber == "bad"
    assert notice.failures == 3
    assert notice.error == actrio.ErrorInfo(type="RuntimeError", message="boom 3")
    assert notice.seq > 0
    # The healthy subscriber saw every ping, in order, with no gap overall.
    assert [e.n for e in healthy if isinstance(e, Ping)] == list(range(10))
    assert_no_gap([e.seq for e in healthy])


async def test_async_faulty_subscriber_is_disabled() -> None:
    healthy: list[actrio.Event] = []

    async def faulty(event: actrio.Event) -> None:
        await trio.sleep(0)
        raise ValueError("nope")

    async with actrio.open_actor_system() as system:
        bad = system.subscribe(faulty, max_failures=1, name="async-bad")
        system.subscribe(healthy.append, types=[actrio.SubscriberDisabled])
        await system.publish(Ping(n=0))
        await system.publish(Ping(n=1))
        await trio.testing.wait_all_tasks_blocked()
        assert bad.statistics().active is False
        assert bad.statistics().failures == 1
    assert [(e.subscriber, e.failures, e.error.type) for e in healthy] == [
        ("async-bad", 1, "ValueError")
    ]


async def test_failures_below_the_limit_are_counted_not_fatal() -> None:
    seen: list[int] = []

    def flaky(event: actrio.Event) -> None:
        if event.seq % 2:
            raise RuntimeError("odd")
        seen.append(event.seq)

    async with actrio.open_actor_system() as system:
        sub = system.subscribe(flaky, max_failures=100)
        for n in range(10):
            await system.publish(Ping(n=n))
        await trio.testing.wait_all_tasks_blocked()
        stats = sub.statistics()
        assert stats.active is True
        assert stats.failures == 5
        assert stats.delivered == 5
        assert seen == [2, 4, 6, 8, 10]
