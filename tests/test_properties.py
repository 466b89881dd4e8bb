"""Property tests: ordering, message accounting, no leftover tasks.

pytest-trio runs ``@given`` async tests in trio mode, one ``trio.run`` per
example; the ``autojump_clock`` fixture is shared by the examples, which is
harmless (virtual time only moves forward), hence the suppressed
``function_scoped_fixture`` health check.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import actrio
from strategies import (
    SenderPlan,
    Step,
    TreeShape,
    capacities,
    failure_schedules,
    pauses,
    sender_plans,
    stop_points,
    tree_shapes,
)

#: Virtual seconds; far beyond any example's needs, so hitting it means a hang.
DEADLINE = 10_000

property_settings = settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)


@attrs.frozen
class Tagged(actrio.Request[int]):
    sender: int
    seq: int


class Logger(actrio.Actor[Tagged]):
    """Logs each message on entry, then follows its failure schedule."""

    def __init__(self, schedule: tuple[Step, ...] = (), handle_time: float = 0.0) -> None:
        self.schedule = schedule
        self.handle_time = handle_time
        self.entered: list[tuple[int, int]] = []

    async def receive(self, message: Tagged) -> int:
        index = len(self.entered)
        self.entered.append((message.sender, message.seq))
        step = self.schedule[index] if index < len(self.schedule) else Step("ok", 0.0)
        if step.fate == "reject":
            raise actrio.Reject(ValueError(f"rejected #{index}"))
        if step.fate == "slow":
            await trio.sleep(step.seconds)
        elif self.handle_time:
            await trio.sleep(self.handle_time)
        return index


# ---------------------------------------------------------------- (1) ordering


@property_settings
@given(plans=sender_plans(), capacity=capacities, handle_time=pauses)
async def test_per_sender_order_is_preserved(
    autojump_clock: trio.abc.Clock,
    plans: tuple[SenderPlan, ...],
    capacity: int,
    handle_time: float,
) -> None:
    """Messages from one sender are handled in the order it sent them, none lost."""
    actor = Logger(handle_time=handle_time)
    with trio.fail_after(DEADLINE):  # a lost reply would hang: fail instead
        async with actrio.open_actor_system() as system:
            ref = await system.spawn(actor, capacity=capacity)

            async def sender(index: int, plan: SenderPlan) -> None:
                for seq, send in enumerate(plan.sends):
                    await trio.sleep(send.pause)
                    if send.kind == "tell":
                        await ref.tell(Tagged(index, seq))
                    else:
                        await ref.ask(Tagged(index, seq))

            async with trio.open_nursery() as nursery:
                for index, plan in enumerate(plans):
                    nursery.start_soon(sender, index, plan)
            # A final ask from a fresh sender flushes every earlier tell.
            await ref.ask(Tagged(-1, 0))
    for index, plan in enumerate(plans):
        got = [seq for sender, seq in actor.entered if sender == index]
        assert got == list(range(len(plan.sends))), f"sender {index}"
    assert actor.entered[-1] == (-1, 0)
    assert len(actor.entered) == sum(len(p.sends) for p in plans) + 1


# ---------------------------------------------------------------- (2) accounting


@property_settings
@given(
    plans=sender_plans(max_sends=10),
    schedule=failure_schedules(),
    capacity=capacities,
    stop_at=stop_points(),
)
async def test_every_accepted_message_is_handled_once_or_dead_lettered(
    autojump_clock: trio.abc.Clock,
    plans: tuple[SenderPlan, ...],
    schedule: tuple[Step, ...],
    capacity: int,
    stop_at: float | None,
) -> None:
    """Nothing is lost or duplicated, whenever the actor is stopped."""
    actor = Logger(schedule)
    events: list[actrio.Event] = []
    outcomes: dict[tuple[int, int], str] = {}
    with trio.fail_after(DEADLINE):  # a lost reply would hang: fail instead
        async with actrio.open_actor_system() as system:
            system.subscribe(events.append, capacity=4096)
            ref = await system.spawn(actor, name="subject", capacity=capacity)

            async def sender(index: int, plan: SenderPlan) -> None:
                for seq, send in enumerate(plan.sends):
                    await trio.sleep(send.pause)
                    key = (index, seq)
                    try:
                        if send.kind == "tell":
                            await ref.tell(Tagged(*key))
                            outcomes[key] = "told"
                        else:
                            await ref.ask(Tagged(*key))
                            outcomes[key] = "answered"
                    except actrio.ActorStopped:
                        outcomes[key] = f"{send.kind}-stopped"
                    except ValueError:
                        outcomes[key] = "rejected"

            async def stopper() -> None:
                assert stop_at is not None
                await trio.sleep(stop_at)
                await ref.stop()

            async with trio.open_nursery() as nursery:
                if stop_at is not None:
                    nursery.start_soon(stopper)
                for index, plan in enumerate(plans):
                    nursery.start_soon(sender, index, plan)
            await ref.stop()  # whatever is still queued is dead-lettered now
            mailbox = ref.statistics().mailbox

    entered = actor.entered
    assert len(entered) == len(set(entered)), "a message was handled twice"
    attempts = sum(len(p.sends) for p in plans)
    assert len(outcomes) == attempts
    for key, outcome in outcomes.items():
        if outcome in ("answered", "rejected"):
            assert key in entered, (key, outcome)
        elif outcome == "tell-stopped":
            assert key not in entered, (key, outcome)
    dead = [e for e in events if isinstance(e, actrio.MessageDeadLettered)]
    assert len(dead) == mailbox.dead_lettered
    assert all(e.path == "/subject" and e.message_type == "Tagged" for e in dead)
    accepted = attempts - mailbox.rejected
    assert accepted == len(entered) + mailbox.dead_lettered
    assert mailbox.queued == 0


# ---------------------------------------------------------------- (3) no leftover tasks


class Branch(actrio.Actor[Any]):
    def __init__(self, children: int) -> None:
        self.children = children

    async def on_start(self) -> None:
        for _ in range(self.children):
            await self.spawn(Logger(handle_time=0.1))

    async def receive(self, message: Any) -> int:
        await trio.sleep(0.1)
        return 0


async def _noop_handler(event: actrio.Event) -> None:
    await trio.sleep(0)


@property_settings
@given(shape=tree_shapes(), linger=st.sampled_from([0.0, 0.05, 1.0]))
async def test_no_task_is_left_after_the_system_closes(
    autojump_clock: trio.abc.Clock, shape: TreeShape, linger: float
) -> None:
    """Whatever was running, leaving the block ends every task it started."""
    baseline = trio.lowlevel.current_statistics().tasks_living
    with trio.fail_after(DEADLINE):  # a lost reply would hang: fail instead
        async with actrio.open_actor_system(shutdown_grace=1) as system:
            for n in range(shape.subscribers):
                system.subscribe(_noop_handler if n % 2 else (lambda event: None))
            refs = [await system.spawn(Branch(c)) for c in shape.children]
            async with trio.open_nursery() as nursery:
                for ref in refs:
                    for _ in range(shape.messages):
                        nursery.start_soon(ref.tell, Tagged(0, 0))
            for ref, early in zip(refs, shape.stop_early, strict=True):
                if early:
                    await ref.stop()
            await trio.sleep(linger)
            alive = sum(
                1 + c
                for c, early in zip(shape.children, shape.stop_early, strict=True)
                if not early
            )
            assert system.statistics().actors == alive
            # Sanity: the counter sees the actors' and subscribers' tasks.
            extra = trio.lowlevel.current_statistics().tasks_living - baseline
            assert extra >= alive + shape.subscribers
    assert trio.lowlevel.current_statistics().tasks_living == baseline
    assert system.statistics().actors == 0
