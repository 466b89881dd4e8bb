"""Kernel benchmarks: actrio against the raw trio code it is built from.

Each benchmark runs a raw-trio baseline and the actrio equivalent in the same
process, interleaved (``REPEAT`` pairs, the order alternating), on the real
clock (``time.perf_counter``). It prints the best figure of each side and
their ratio against the goal. Only sanity is asserted (the work was done);
the times are reported, never asserted, because machines are noisy.

Timed runs happen with the garbage collector collected beforehand and
disabled during the run, as ``timeit`` does; allocation cost shows up in the
memory benchmark instead.

Run: ``python -m pytest bench -s -q -p no:randomly``.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from typing import TYPE_CHECKING, Any

import attrs
import trio
import trio.testing
from trio.lowlevel import checkpoint

import actrio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

#: Baseline/subject pairs per timing benchmark.
REPEAT = 5
#: Mailbox capacity, and the capacity of every raw channel.
CAPACITY = 64

TELL_COUNT = 100_000
ASK_COUNT = 20_000
SPAWN_COUNT = 10_000
MEMORY_COUNT = 10_000
MEMORY_REPEAT = 3
TREE_TOP, TREE_MID, TREE_LEAF = 10, 10, 100
TREE_ACTORS = TREE_TOP * (1 + TREE_MID * (1 + TREE_LEAF))  # 10,110

Sample = dict[str, float]


@attrs.frozen
class Msg:
    n: int


# ---------------------------------------------------------------- harness


def _run(fn: Callable[[], Awaitable[Sample]]) -> Sample:
    """Run ``fn`` under a fresh ``trio.run`` with the GC collected, then off."""
    gc.collect()
    gc.disable()
    try:
        return trio.run(fn)
    finally:
        gc.enable()


@attrs.frozen
class Comparison:
    """Interleaved samples of a baseline and a subject; ``elapsed`` is the figure."""

    baseline: list[Sample]
    subject: list[Sample]

    @property
    def best_baseline(self) -> Sample:
        return min(self.baseline, key=lambda s: s["elapsed"])

    @property
    def best_subject(self) -> Sample:
        return min(self.subject, key=lambda s: s["elapsed"])

    @property
    def time_ratio(self) -> float:
        """Best subject time over best baseline time (lower is better for actrio)."""
        return self.best_subject["elapsed"] / self.best_baseline["elapsed"]

    def spread(self, *, inverse: bool = False) -> str:
        """The range of per-pair ratios, to show how noisy the run was.

        Time ratios (subject over baseline), or rate ratios with ``inverse``.
        """
        pairs = sorted(
            (b["elapsed"] / s["elapsed"]) if inverse else (s["elapsed"] / b["elapsed"])
            for b, s in zip(self.baseline, self.subject, strict=True)
        )
        return f"pairs {pairs[0]:.2f}-{pairs[-1]:.2f}x, median {statistics.median(pairs):.2f}x"


def _compare(
    baseline: Callable[[], Awaitable[Sample]],
    subject: Callable[[], Awaitable[Sample]],
    repeat: int = REPEAT,
) -> Comparison:
    base: list[Sample] = []
    subj: list[Sample] = []
    for i in range(repeat):
        if i % 2 == 0:
            base.append(_run(baseline))
            subj.append(_run(subject))
        else:
            subj.append(_run(subject))
            base.append(_run(baseline))
    return Comparison(base, subj)


def _verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


# ---------------------------------------------------------------- 1. tell -> receive


def test_tell_throughput(report: Callable[[str], None]) -> None:
    messages = [Msg(i) for i in range(TELL_COUNT)]
    received = {"raw": 0, "actrio": 0}

    async def raw() -> Sample:
        send, receive = trio.open_memory_channel[Msg](CAPACITY)
        done = trio.Event()

        async def receiver() -> None:
            count = 0
            while True:
                await receive.receive()
                count += 1
                if count == TELL_COUNT:
                    received["raw"] = count
                    done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await checkpoint()
            start = time.perf_counter()
            for message in messages:
                await send.send(message)
            await done.wait()
            elapsed = time.perf_counter() - start
            nursery.cancel_scope.cancel()
        return {"elapsed": elapsed}

    class Counter(actrio.Actor[Msg]):
        def __init__(self) -> None:
            self.count = 0
            self.done = trio.Event()

        async def receive(self, message: Msg) -> None:
            self.count += 1
            if self.count == TELL_COUNT:
                received["actrio"] = self.count
                self.done.set()

    async def subject() -> Sample:
        async with actrio.open_actor_system(mailbox_capacity=CAPACITY) as system:
            counter = Counter()
            ref = await system.spawn(counter)
            await checkpoint()
            start = time.perf_counter()
            for message in messages:
                await ref.tell(message)
            await counter.done.wait()
            elapsed = time.perf_counter() - start
        return {"elapsed": elapsed}

    result = _compare(raw, subject)
    assert received == {"raw": TELL_COUNT, "actrio": TELL_COUNT}

    raw_rate = TELL_COUNT / result.best_baseline["elapsed"]
    actrio_rate = TELL_COUNT / result.best_subject["elapsed"]
    ratio = actrio_rate / raw_rate
    report(
        f"tell->receive throughput: actrio {actrio_rate / 1e3:.0f}k msg/s vs raw channel "
        f"{raw_rate / 1e3:.0f}k msg/s = {ratio:.2f}x (goal >= 1.0x) {_verdict(ratio >= 1.0)}"
        f"  [{TELL_COUNT:,} msgs, capacity {CAPACITY}; {result.spread(inverse=True)}]"
    )


# ---------------------------------------------------------------- 2. ask round trip


@attrs.frozen
class Ping:
    n: int


class _RawRequest:
    """What a hand-written trio request/reply carries: the message and a reply slot."""

    __slots__ = ("event", "message", "value")

    def __init__(self, message: Ping) -> None:
        self.message = message
        self.value: int | None = None
        self.event = trio.Event()


class _Echo(actrio.Actor[Ping]):
    async def receive(self, message: Ping) -> int:
        return message.n


def test_ask_round_trip(report: Callable[[str], None]) -> None:
    pings = [Ping(i) for i in range(ASK_COUNT)]
    expected = sum(range(ASK_COUNT))
    totals = {"raw": 0, "actrio": 0}

    async def raw() -> Sample:
        send, receive = trio.open_memory_channel[_RawRequest](CAPACITY)

        async def server() -> None:
            async for request in receive:
                request.value = request.message.n
                request.event.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(server)
            await checkpoint()
            total = 0
            start = time.perf_counter()
            for ping in pings:
                request = _RawRequest(ping)
                await send.send(request)
                await request.event.wait()
                total += request.value  # type: ignore[operator]
            elapsed = time.perf_counter() - start
            nursery.cancel_scope.cancel()
        totals["raw"] = total
        return {"elapsed": elapsed}

    async def subject() -> Sample:
        async with actrio.open_actor_system(mailbox_capacity=CAPACITY) as system:
            ref = await system.spawn(_Echo())
            await checkpoint()
            total = 0
            start = time.perf_counter()
            for ping in pings:
                total += await ref.ask(ping)
            elapsed = time.perf_counter() - start
        totals["actrio"] = total
        return {"elapsed": elapsed}

    result = _compare(raw, subject)
    assert totals == {"raw": expected, "actrio": expected}

    raw_us = result.best_baseline["elapsed"] / ASK_COUNT * 1e6
    actrio_us = result.best_subject["elapsed"] / ASK_COUNT * 1e6
    ratio = result.time_ratio
    report(
        f"ask round trip: actrio {actrio_us:.1f} us vs raw trio ping-pong {raw_us:.1f} us "
        f"= {ratio:.2f}x (goal <= 1.5x) {_verdict(ratio <= 1.5)}"
        f"  [{ASK_COUNT:,} round trips; {result.spread()}]"
    )


# ---------------------------------------------------------------- 3. spawn + stop


class _Idle(actrio.Actor[Msg]):
    async def receive(self, message: Msg) -> None:
        pass


async def _blocked_on(receive: trio.MemoryReceiveChannel[Any]) -> None:
    await receive.receive()


def test_spawn_and_stop(report: Callable[[str], None]) -> None:
    counts = {"raw": 0, "actrio": 0, "actrio_left": -1}

    async def raw() -> Sample:
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            senders = []
            for _ in range(SPAWN_COUNT):
                send, receive = trio.open_memory_channel[Any](CAPACITY)
                senders.append(send)
                nursery.start_soon(_blocked_on, receive)
            # Two scheduling rounds: every new task has run to its receive().
            await checkpoint()
            await checkpoint()
            counts["raw"] = len(nursery.child_tasks)
            spawned = time.perf_counter()
            nursery.cancel_scope.cancel()
        end = time.perf_counter()
        return {"elapsed": end - start, "spawn": spawned - start, "stop": end - spawned}

    async def subject() -> Sample:
        start = time.perf_counter()
        async with actrio.open_actor_system(mailbox_capacity=CAPACITY) as system:
            refs = [await system.spawn(_Idle()) for _ in range(SPAWN_COUNT)]
            await checkpoint()
            await checkpoint()
            counts["actrio"] = system.statistics().actors
            spawned = time.perf_counter()
        end = time.perf_counter()
        counts["actrio_left"] = sum(ref.alive for ref in refs)
        return {"elapsed": end - start, "spawn": spawned - start, "stop": end - spawned}

    result = _compare(raw, subject)
    assert counts == {"raw": SPAWN_COUNT, "actrio": SPAWN_COUNT, "actrio_left": 0}

    base, subj = result.best_baseline, result.best_subject
    ratio = result.time_ratio
    per = 1e6 / SPAWN_COUNT
    report(
        f"spawn+stop {SPAWN_COUNT:,}: actrio {subj['elapsed'] * 1e3:.0f} ms vs raw tasks "
        f"{base['elapsed'] * 1e3:.0f} ms = {ratio:.2f}x (goal <= 2.0x) {_verdict(ratio <= 2.0)}"
        f"  [per actor: spawn {subj['spawn'] * per:.1f} us + stop {subj['stop'] * per:.1f} us;"
        f" per raw task: start {base['spawn'] * per:.1f} us + cancel {base['stop'] * per:.1f} us;"
        f" {result.spread()}]"
    )


# ---------------------------------------------------------------- 4. memory per idle actor


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_per_idle_actor(report: Callable[[str], None]) -> None:
    counts = {"raw": 0, "actrio": 0}

    async def raw() -> Sample:
        async with trio.open_nursery() as nursery:
            before = _traced()
            senders = []
            for _ in range(MEMORY_COUNT):
                send, receive = trio.open_memory_channel[Any](CAPACITY)
                senders.append(send)
                nursery.start_soon(_blocked_on, receive)
            await trio.testing.wait_all_tasks_blocked()
            after = _traced()
            counts["raw"] = len(nursery.child_tasks)
            nursery.cancel_scope.cancel()
        return {"elapsed": (after - before) / MEMORY_COUNT}

    async def subject() -> Sample:
        async with actrio.open_actor_system(mailbox_capacity=CAPACITY) as system:
            before = _traced()
            refs = [await system.spawn(_Idle()) for _ in range(MEMORY_COUNT)]
            await trio.testing.wait_all_tasks_blocked()
            after = _traced()
            counts["actrio"] = system.statistics().actors
            del refs
        return {"elapsed": (after - before) / MEMORY_COUNT}

    tracemalloc.start()
    try:
        # "elapsed" holds bytes per task here; the harness takes the smallest.
        result = _compare(raw, subject, repeat=MEMORY_REPEAT)
    finally:
        tracemalloc.stop()
    assert counts == {"raw": MEMORY_COUNT, "actrio": MEMORY_COUNT}

    raw_bytes = statistics.median(s["elapsed"] for s in result.baseline)
    actrio_bytes = statistics.median(s["elapsed"] for s in result.subject)
    ratio = actrio_bytes / raw_bytes
    report(
        f"memory per idle actor: actrio {actrio_bytes:,.0f} B vs raw task+channel "
        f"{raw_bytes:,.0f} B = {ratio:.2f}x (goal <= 1.3x) {_verdict(ratio <= 1.3)}"
        f"  [{MEMORY_COUNT:,} idle, tracemalloc after gc, median of {MEMORY_REPEAT}]"
    )


# ---------------------------------------------------------------- 5. cancelling a tree


class _Leaf(actrio.Actor[Msg]):
    async def receive(self, message: Msg) -> None:
        pass


class _Mid(actrio.Actor[Msg]):
    async def on_start(self) -> None:
        for _ in range(TREE_LEAF):
            await self.spawn(_Leaf())

    async def receive(self, message: Msg) -> None:
        pass


class _Top(actrio.Actor[Msg]):
    async def on_start(self) -> None:
        for _ in range(TREE_MID):
            await self.spawn(_Mid())

    async def receive(self, message: Msg) -> None:
        pass


async def _raw_node(
    fanout: int,
    child: Callable[..., Awaitable[None]] | None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A raw tree node: a nursery of ``fanout`` children, then blocked on its own channel."""
    _send, receive = trio.open_memory_channel[Any](CAPACITY)
    async with trio.open_nursery() as nursery:
        for _ in range(fanout):
            if child is None:
                leaf_send, leaf_receive = trio.open_memory_channel[Any](CAPACITY)
                nursery.start_soon(_raw_leaf, leaf_send, leaf_receive)
            else:
                await nursery.start(child)
        task_status.started()
        await receive.receive()


async def _raw_leaf(
    send: trio.MemorySendChannel[Any], receive: trio.MemoryReceiveChannel[Any]
) -> None:
    await receive.receive()


async def _raw_mid(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    await _raw_node(TREE_LEAF, None, task_status)


async def _raw_top(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    await _raw_node(TREE_MID, _raw_mid, task_status)


def _count_tasks(nursery: trio.Nursery) -> int:
    return sum(
        1 + sum(_count_tasks(child) for child in task.child_nurseries)
        for task in nursery.child_tasks
    )


def test_cancel_tree(report: Callable[[str], None]) -> None:
    counts = {"raw": 0, "actrio": 0, "actrio_left": -1}

    async def raw() -> Sample:
        async with trio.open_nursery() as nursery:
            for _ in range(TREE_TOP):
                await nursery.start(_raw_top)
            await trio.testing.wait_all_tasks_blocked()
            counts["raw"] = _count_tasks(nursery)
            start = time.perf_counter()
            nursery.cancel_scope.cancel()
        return {"elapsed": time.perf_counter() - start}

    async def subject() -> Sample:
        start = 0.0
        with trio.CancelScope() as scope:
            async with actrio.open_actor_system(mailbox_capacity=CAPACITY) as system:
                for _ in range(TREE_TOP):
                    await system.spawn(_Top())
                await trio.testing.wait_all_tasks_blocked()
                counts["actrio"] = system.statistics().actors
                start = time.perf_counter()
                scope.cancel()
                await trio.sleep_forever()
        elapsed = time.perf_counter() - start
        counts["actrio_left"] = system.statistics().actors
        return {"elapsed": elapsed}

    result = _compare(raw, subject)
    assert counts == {"raw": TREE_ACTORS, "actrio": TREE_ACTORS, "actrio_left": 0}

    raw_ms = result.best_baseline["elapsed"] * 1e3
    actrio_ms = result.best_subject["elapsed"] * 1e3
    ratio = result.time_ratio
    report(
        f"cancel 3-level tree of {TREE_ACTORS:,}: actrio {actrio_ms:.0f} ms vs raw nurseries "
        f"{raw_ms:.0f} ms = {ratio:.2f}x (goal <= 2.0x) {_verdict(ratio <= 2.0)}"
        f"  [{TREE_TOP}x{TREE_MID}x{TREE_LEAF}; per actor {actrio_ms * 1e3 / TREE_ACTORS:.1f} us"
        f" vs {raw_ms * 1e3 / TREE_ACTORS:.1f} us per task; {result.spread()}]"
    )
