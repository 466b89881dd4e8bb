"""Mailboxes: message validation, capacity and backpressure, statistics, dead letters (S-18)."""

from __future__ import annotations

import dataclasses
from typing import Any

import attrs
import pytest
import tenacity
import trio
import trio.testing

import actrio
from actrio.kernel._mailbox import check_message

# ---------------------------------------------------------------- messages


@attrs.frozen
class Item:
    n: int


@attrs.frozen(kw_only=True)
class KwItem:
    n: int


@attrs.frozen(slots=False)
class DictItem:
    n: int


@attrs.frozen
class Query(actrio.Request[int]):
    n: int


@attrs.frozen
class Crash:
    pass


@attrs.define
class MutableItem:
    n: int


@dataclasses.dataclass(frozen=True)
class DataclassItem:
    n: int


class Plain:
    pass


# ---------------------------------------------------------------- helpers


def of_type(events: list[actrio.Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


class Gate(actrio.Actor[Any]):
    """Blocks in receive until ``opened`` is set; records what it handled."""

    def __init__(self) -> None:
        self.opened = trio.Event()
        self.busy = trio.Event()
        self.seen: list[object] = []

    async def receive(self, message: Any) -> Any:
        self.busy.set()
        await self.opened.wait()
        self.seen.append(message)
        return getattr(message, "n", None)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(Item(1), id="frozen"),
        pytest.param(KwItem(n=1), id="frozen-kw-only"),
        pytest.param(DictItem(1), id="frozen-no-slots"),
        pytest.param(Query(1), id="frozen-request"),
        pytest.param(Crash(), id="frozen-empty"),
    ],
)
def test_frozen_attrs_instances_are_valid_messages(message: object) -> None:
    check_message(message)  # does not raise


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(MutableItem(1), id="attrs-define"),
        pytest.param({"n": 1}, id="dict"),
        pytest.param(Plain(), id="plain-object"),
        pytest.param(DataclassItem(1), id="frozen-dataclass"),
        pytest.param(Item, id="frozen-class-itself"),
        pytest.param(None, id="none"),
        pytest.param(42, id="int"),
        pytest.param((1, 2), id="tuple"),
    ],
)
def test_other_values_are_invalid_messages(message: object) -> None:
    with pytest.raises(actrio.InvalidMessage, match="frozen attrs") as info:
        check_message(message)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, actrio.UsageError)
    assert isinstance(info.value, actrio.ActrioError)


async def test_invalid_message_is_refused_before_touching_the_mailbox(
    autojump_clock: trio.abc.Clock,
) -> None:
    actor = Gate()
    actor.opened.set()
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(actor, capacity=1)
        for bad in (MutableItem(1), {"n": 1}, Plain()):
            with pytest.raises(actrio.InvalidMessage):
                await ref.tell(bad)
            with pytest.raises(actrio.InvalidMessage):
                ref.tell_nowait(bad)
            with pytest.raises(actrio.InvalidMessage):
                await ref.ask(bad)
        mailbox = ref.statistics().mailbox
        assert (mailbox.queued, mailbox.processed, mailbox.rejected) == (0, 0, 0)
        assert await ref.ask(Query(7)) == 7
        assert actor.seen == [Query(7)]


# ---------------------------------------------------------------- capacity


async def test_capacity_defaults_and_overrides(autojump_clock: trio.abc.Clock) -> None:
    assert actrio.DEFAULT_CAPACITY == 64
    async with actrio.open_actor_system() as system:
        default = await system.spawn(Gate())
        custom = await system.spawn(Gate(), capacity=3)
        assert default.statistics().mailbox.capacity == 64
        assert custom.statistics().mailbox.capacity == 3
    async with actrio.open_actor_system(mailbox_capacity=5) as system:
        ref = await system.spawn(Gate())
        assert ref.statistics().mailbox.capacity == 5
        sup = await system.spawn(
            actrio.Supervisor(
                [actrio.ChildSpec("a", Gate), actrio.ChildSpec("b", Gate, capacity=2)]
            )
        )
        infos = await sup.ask(actrio.WhichChildren())
        capacities = {i.id: i.ref.statistics().mailbox.capacity for i in infos if i.ref}
        assert capacities == {"a": 5, "b": 2}


@pytest.mark.parametrize("capacity", [0, -1, True, 1.5, "8"])
async def test_bad_capacity_is_refused(autojump_clock: trio.abc.Clock, capacity: object) -> None:
    with pytest.raises(actrio.UsageError):
        async with actrio.open_actor_system(mailbox_capacity=capacity):  # type: ignore[arg-type]
            pass
    async with actrio.open_actor_system() as system:
        with pytest.raises(actrio.UsageError):
            await system.spawn(Gate(), capacity=capacity)  # type: ignore[arg-type]
        assert system.statistics().actors == 0
    with pytest.raises(actrio.SpecError) as info:
        actrio.ChildSpec("a", Gate, capacity=capacity)  # type: ignore[arg-type]
    assert info.value.field == "capacity"


async def test_tell_waits_while_full_and_resumes_when_room_frees(
    autojump_clock: trio.abc.Clock,
) -> None:
    actor = Gate()
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(actor, capacity=2)
        await ref.tell(Item(0))
        await actor.busy.wait()  # the actor holds 0; the mailbox is empty again
        await ref.tell(Item(1))
        await ref.tell(Item(2))
        done: list[float] = []

        async def late_sender() -> None:
            await ref.tell(Item(3))
            done.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(late_sender)
            await trio.sleep(5)
            stats = ref.statistics().mailbox
            assert (stats.queued, stats.senders_waiting) == (2, 1)
            assert done == []
            actor.opened.set()
        assert done == [5.0]
        assert await ref.ask(Query(4)) == 4
        assert actor.seen == [Item(0), Item(1), Item(2), Item(3), Query(4)]
        stats = ref.statistics().mailbox
        assert (stats.queued, stats.senders_waiting, stats.processed, stats.rejected) == (
            0,
            0,
            5,
            0,
        )


async def test_ask_also_waits_for_room(autojump_clock: trio.abc.Clock) -> None:
    actor = Gate()
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(actor, capacity=1)
        await ref.tell(Item(0))
        await actor.busy.wait()
        await ref.tell(Item(1))
        answers: list[int] = []

        async def asker() -> None:
            answers.append(await ref.ask(Query(2)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(asker)
            await trio.testing.wait_all_tasks_blocked()
            assert ref.statistics().mailbox.senders_waiting == 1
            actor.opened.set()
        assert answers == [2]


async def test_tell_nowait_raises_would_block_and_counts_the_refusal(
    autojump_clock: trio.abc.Clock,
) -> None:
    assert actrio.WouldBlock is trio.WouldBlock
    actor = Gate()
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        ref = await system.spawn(actor, capacity=3)
        ref.tell_nowait(Item(0))
        await actor.busy.wait()
        for i in range(1, 4):
            ref.tell_nowait(Item(i))
        for i in range(4, 9):
            with pytest.raises(actrio.WouldBlock):
                ref.tell_nowait(Item(i))
        stats = ref.statistics().mailbox
        assert (stats.queued, stats.rejected, stats.dead_lettered) == (3, 5, 0)
        actor.opened.set()
        await trio.testing.wait_all_tasks_blocked()
        assert actor.seen == [Item(i) for i in range(4)]
        ref.tell_nowait(Item(9))  # room again
        await trio.testing.wait_all_tasks_blocked()
        assert actor.seen[-1] == Item(9)
    # Refusals at send time are the sender's business, not dead letters.
    assert of_type(events, actrio.MessageDeadLettered) == []


async def test_mailbox_statistics_is_a_frozen_snapshot(autojump_clock: trio.abc.Clock) -> None:
    actor = Gate()
    async with actrio.open_actor_system() as system:
        ref = await system.spawn(actor, capacity=4)
        await ref.tell(Item(0))
        await actor.busy.wait()
        await ref.tell(Item(1))
        snapshot = ref.statistics().mailbox
        assert isinstance(snapshot, actrio.MailboxStatistics)
        assert attrs.has(type(snapshot))
        assert attrs.inspect(actrio.MailboxStatistics).is_frozen
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            snapshot.queued = 0  # type: ignore[misc]
        assert snapshot == actrio.MailboxStatistics(
            queued=1,
            capacity=4,
            processed=0,
            senders_waiting=0,
            rejected=0,
            dead_lettered=0,
            closed=False,
        )
        actor.opened.set()
        await trio.testing.wait_all_tasks_blocked()
        assert snapshot.queued == 1  # unchanged: a snapshot
        assert ref.statistics().mailbox.processed == 2


# ---------------------------------------------------------------- dead letters


async def test_queued_messages_are_dead_lettered_when_the_actor_stops(
    autojump_clock: trio.abc.Clock,
) -> None:
    actor = Gate()
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        ref = await system.spawn(actor, name="g", capacity=10)
        outcomes: dict[int, str] = {}

        async def asker(n: int) -> None:
            try:
                await ref.ask(Query(n))
            except actrio.ActorStopped:
                outcomes[n] = "stopped"
            else:
                outcomes[n] = "answered"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(asker, 0)  # taken: in progress when the stop lands
            await actor.busy.wait()
            await ref.tell(Item(1))
            nursery.start_soon(asker, 2)
            await trio.testing.wait_all_tasks_blocked()
            await ref.tell(Item(3))
            nursery.start_soon(asker, 4)
            await trio.testing.wait_all_tasks_blocked()
            assert ref.statistics().mailbox.queued == 4
            with trio.fail_after(5):
                await ref.stop()
        assert outcomes == {0: "stopped", 2: "stopped", 4: "stopped"}
        stats = ref.statistics().mailbox
        assert (stats.queued, stats.dead_lettered, stats.processed, stats.closed) == (0, 4, 0, True)
        with pytest.raises(actrio.ActorStopped):
            await ref.tell(Item(5))
    assert actor.seen == []
    dead = of_type(events, actrio.MessageDeadLettered)
    assert [(d.path, d.message_type, d.reason) for d in dead] == [
        ("/g", "Item", "actor_stopped"),
        ("/g", "Query", "actor_stopped"),
        ("/g", "Item", "actor_stopped"),
        ("/g", "Query", "actor_stopped"),
    ]
    assert all(d.actor_id == ref.id for d in dead)
    (exit_,) = of_type(events, actrio.ActorExited)
    assert all(d.seq > exit_.seq for d in dead)


async def test_sender_blocked_on_a_full_mailbox_gets_actor_stopped(
    autojump_clock: trio.abc.Clock,
) -> None:
    actor = Gate()
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        ref = await system.spawn(actor, capacity=1)
        await ref.tell(Item(0))
        await actor.busy.wait()
        await ref.tell(Item(1))
        result: list[str] = []

        async def blocked() -> None:
            try:
                await ref.tell(Item(2))
            except actrio.ActorStopped:
                result.append("stopped")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(blocked)
            await trio.testing.wait_all_tasks_blocked()
            with trio.fail_after(5):
                await ref.stop()
        assert result == ["stopped"]
        stats = ref.statistics().mailbox
        assert (stats.dead_lettered, stats.rejected) == (1, 1)
    assert len(of_type(events, actrio.MessageDeadLettered)) == 1  # Item(1), not Item(2)


# ---------------------------------------------------------------- S-18


class Worker(actrio.Actor[Any]):
    """Crashes on Crash; records (incarnation, n) for each Item."""

    log: list[tuple[int, int]]

    async def receive(self, message: Any) -> None:
        if isinstance(message, Crash):
            raise RuntimeError("crash")
        self.log.append((actrio.current_actor().statistics().incarnation, message.n))


async def test_s18_mailbox_during_restart_keeps_ten_and_refuses_forty(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-18: capacity 10 while restarting: 10 delivered in order, 40 refused to the sender."""
    log: list[tuple[int, int]] = []

    def factory() -> Worker:
        worker = Worker()
        worker.log = log
        return worker

    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        sup = await system.spawn(
            actrio.Supervisor(
                [actrio.ChildSpec("w", factory, capacity=10)], backoff=tenacity.wait_fixed(5)
            ),
            name="sup",
        )
        (info,) = await sup.ask(actrio.WhichChildren())
        ref = info.ref
        assert ref is not None
        await ref.tell(Crash())
        await trio.sleep(1)  # inside the 5 s backoff
        assert ref.statistics().incarnation == 1
        accepted: list[int] = []
        refused: list[int] = []
        for n in range(50):
            try:
                ref.tell_nowait(Item(n))
            except actrio.WouldBlock:
                refused.append(n)
            else:
                accepted.append(n)
        assert accepted == list(range(10))
        assert refused == list(range(10, 50))
        stats = ref.statistics()
        assert (stats.mailbox.queued, stats.mailbox.rejected) == (10, 40)
        await trio.sleep(10)
        stats = ref.statistics()
        assert (stats.incarnation, stats.restarts, stats.state) == (2, 1, "running")
        assert log == [(2, n) for n in range(10)]
        assert (stats.mailbox.queued, stats.mailbox.processed) == (0, 10)
    assert of_type(events, actrio.MessageDeadLettered) == []
    (restarted,) = of_type(events, actrio.ActorRestarted)
    assert (restarted.path, restarted.incarnation, restarted.delay) == ("/sup/w", 2, 5.0)


async def test_s18_state_is_restarting_during_the_backoff(autojump_clock: trio.abc.Clock) -> None:
    """S-18: between incarnations the statistics say ``restarting``."""

    async with actrio.open_actor_system() as system:
        sup = await system.spawn(
            actrio.Supervisor([actrio.ChildSpec("w", Worker)], backoff=tenacity.wait_fixed(5))
        )
        (info,) = await sup.ask(actrio.WhichChildren())
        ref = info.ref
        assert ref is not None
        await ref.tell(Crash())
        await trio.sleep(1)
        assert ref.statistics().state == "restarting"
        await trio.sleep(10)
        assert ref.statistics().state == "running"


async def test_s18_messages_queued_when_stopped_for_good_are_dead_lettered(
    autojump_clock: trio.abc.Clock,
) -> None:
    """S-18: terminating a child mid-backoff dead-letters its queue; askers get ActorStopped."""
    events: list[actrio.Event] = []
    async with actrio.open_actor_system() as system:
        system.subscribe(events.append)
        sup = await system.spawn(
            actrio.Supervisor(
                [actrio.ChildSpec("w", Worker, capacity=10)], backoff=tenacity.wait_fixed(5)
            ),
            name="sup",
        )
        (info,) = await sup.ask(actrio.WhichChildren())
        ref = info.ref
        assert ref is not None
        await ref.tell(Crash())
        await trio.sleep(1)
        for n in range(3):
            ref.tell_nowait(Item(n))
        outcome: list[str] = []

        async def asker() -> None:
            try:
                await ref.ask(Query(9))
            except actrio.ActorStopped:
                outcome.append("stopped")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(asker)
            await trio.testing.wait_all_tasks_blocked()
            assert ref.statistics().mailbox.queued == 4
            with trio.fail_after(30):
                await ref.stop()
        assert outcome == ["stopped"]
        assert ref.statistics().mailbox.dead_lettered == 4
    dead = of_type(events, actrio.MessageDeadLettered)
    assert [d.message_type for d in dead] == ["Item", "Item", "Item", "Query"]
    assert {d.path for d in dead} == {"/sup/w"}
