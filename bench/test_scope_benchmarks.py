"""Scope benchmarks: what instrumentation costs per tool call and per event.

Same method as ``test_kernel_benchmarks.py``: each benchmark runs a baseline
and the actrio subject in the same process, interleaved (``REPEAT`` rounds,
the order reversed every other round), each run in a fresh ``trio.run`` on
the real clock (``time.perf_counter``), with the garbage collector collected
beforehand and disabled during the run. It prints the best figure of each
side, their ratio and the range and median of the per-round ratios. Only
sanity is asserted (the work was done), never a time.

1. An instrumented tool call (``actrio.tools.execute`` in a runtime and a
   scope, with three global middleware and one lossless subscriber) against
   calling the tool's ``impl`` directly. Two more variants show where the
   cost goes: no middleware and no subscriber (the bare scope actor), and
   the subscriber without middleware (the events).
2. Events through the bus to one lossless subscriber against the same
   objects through a raw trio memory channel to a consumer task.

Run: ``python -m pytest bench/test_scope_benchmarks.py -s -q -p no:randomly``.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import TYPE_CHECKING, Any

import trio
from trio.lowlevel import checkpoint

import actrio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

#: Rounds per benchmark; each round runs every variant once.
REPEAT = 5
#: Tool calls per run.
TOOL_CALLS = 5_000
#: Events per run.
EVENTS = 100_000
#: Subscriber queue capacity, and the capacity of the raw channel.
CAPACITY = 1024

Sample = dict[str, float]


# ---------------------------------------------------------------- harness


def _run(fn: Callable[[], Awaitable[Sample]]) -> Sample:
    """Run ``fn`` under a fresh ``trio.run`` with the GC collected, then off."""
    gc.collect()
    gc.disable()
    try:
        return trio.run(fn)
    finally:
        gc.enable()


def _interleave(
    variants: dict[str, Callable[[], Awaitable[Sample]]], repeat: int = REPEAT
) -> dict[str, list[Sample]]:
    """Run every variant once per round, reversing the order every other round."""
    samples: dict[str, list[Sample]] = {name: [] for name in variants}
    order = list(variants)
    for i in range(repeat):
        for name in order if i % 2 == 0 else reversed(order):
            samples[name].append(_run(variants[name]))
    return samples


def _best(samples: list[Sample]) -> float:
    return min(s["elapsed"] for s in samples)


def _spread(baseline: list[Sample], subject: list[Sample]) -> str:
    """Range and median of the per-round ratios (subject time over baseline time)."""
    ratios = sorted(s["elapsed"] / b["elapsed"] for b, s in zip(baseline, subject, strict=True))
    digits = 0 if ratios[0] >= 100 else 2
    low, high, median = ratios[0], ratios[-1], statistics.median(ratios)
    return f"rounds {low:,.{digits}f}-{high:,.{digits}f}x, median {median:,.{digits}f}x"


# ---------------------------------------------------------------- 1. instrumented tool call


class _Counter:
    """A trivial sync subscriber: counts events, signals the N-th tool ScopeEnded."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.events = 0
        self.started = 0
        self.ended = 0
        self.tool_ended = 0
        self.done = trio.Event()

    def __call__(self, event: actrio.Event) -> None:
        self.events += 1
        kind = type(event)
        if kind is actrio.ScopeStarted:
            self.started += 1
        elif kind is actrio.ScopeEnded:
            self.ended += 1
            if event.name == "echo":  # type: ignore[attr-defined]
                self.tool_ended += 1
                if self.tool_ended == self.target:
                    self.done.set()


def _register_middleware(calls: dict[str, int]) -> None:
    """Three global middleware, one per stage a plain tool call runs through."""

    def sanitize(tool_name: str, args: Any) -> Any:
        calls["sanitize"] += 1
        return args

    def conditional(tool_name: str, args: Any) -> str | None:
        calls["conditional"] += 1
        return None

    async def execution(tool_name: str, args: Any, next_: Callable[[Any], Awaitable[Any]]) -> Any:
        calls["execution"] += 1
        return await next_(args)

    actrio.guardrails.register_tool_sanitize_request("bench-sanitize", 0, sanitize)
    actrio.guardrails.register_tool_conditional_execution("bench-conditional", 0, conditional)
    actrio.intercepts.register_tool_execution("bench-execution", 0, execution)


def test_instrumented_tool_call(report: Callable[[str], None]) -> None:
    arguments = [{"q": i} for i in range(TOOL_CALLS)]
    expected = sum(range(TOOL_CALLS))
    totals: dict[str, dict[str, int]] = {}

    def echo(variant: str) -> Callable[[Any], Awaitable[Any]]:
        """The tool, ``return args``, counting its calls in ``totals[variant]``."""
        seen = totals.setdefault(variant, {})
        seen["impl"] = 0

        async def impl(args: Any) -> Any:
            seen["impl"] += 1
            return args

        return impl

    async def direct() -> Sample:
        impl = echo("direct")
        total = 0
        await checkpoint()
        start = time.perf_counter()
        for args in arguments:
            total += (await impl(args))["q"]
        elapsed = time.perf_counter() - start
        totals["direct"]["sum"] = total
        return {"elapsed": elapsed}

    def instrumented(variant: str, *, middleware: bool, subscriber: bool) -> Callable[[], Any]:
        async def run() -> Sample:
            impl = echo(variant)
            seen = totals[variant]
            calls = {"sanitize": 0, "conditional": 0, "execution": 0}
            counter = _Counter(TOOL_CALLS)
            total = 0
            async with actrio.open_runtime() as rt:
                if subscriber:
                    rt.subscribe(counter)
                if middleware:
                    _register_middleware(calls)
                async with actrio.open_scope("bench"):
                    await checkpoint()
                    start = time.perf_counter()
                    for args in arguments:
                        total += (await actrio.tools.execute("echo", args, impl))["q"]
                    if subscriber:
                        await counter.done.wait()  # every event delivered
                    elapsed = time.perf_counter() - start
                seen["subscribers"] = rt.system.statistics().subscribers
            # The runtime has closed: the bus drained the bench scope's end too.
            seen.update(calls, sum=total, events=counter.events)
            seen.update(started=counter.started, ended=counter.ended, tool_ended=counter.tool_ended)
            return {"elapsed": elapsed}

        return run

    samples = _interleave(
        {
            "direct": direct,
            "full": instrumented("full", middleware=True, subscriber=True),
            "bare": instrumented("bare", middleware=False, subscriber=False),
            "events": instrumented("events", middleware=False, subscriber=True),
        }
    )

    n = TOOL_CALLS
    assert totals["direct"] == {"impl": n, "sum": expected}
    # Each call is one scope: ScopeStarted and ScopeEnded, plus the bench scope's pair.
    with_events = {"started": n + 1, "ended": n + 1, "tool_ended": n, "subscribers": 1}
    assert totals["full"] == {
        "impl": n,
        "sum": expected,
        "sanitize": n,
        "conditional": n,
        "execution": n,
        "events": totals["full"]["events"],
        **with_events,
    }
    assert totals["events"] == {
        "impl": n,
        "sum": expected,
        "sanitize": 0,
        "conditional": 0,
        "execution": 0,
        "events": totals["events"]["events"],
        **with_events,
    }
    assert totals["bare"] == {
        "impl": n,
        "sum": expected,
        "sanitize": 0,
        "conditional": 0,
        "execution": 0,
        "events": 0,
        "started": 0,
        "ended": 0,
        "tool_ended": 0,
        "subscribers": 0,
    }

    direct_us = _best(samples["direct"]) / n * 1e6
    per_call = {name: _best(samples[name]) / n * 1e6 for name in ("full", "bare", "events")}
    events_per_call = (totals["full"]["events"] - 4) / n  # minus the bench scope's actor + pair
    report(
        f"tool call, 3 middleware + 1 lossless subscriber: {per_call['full']:.1f} us/call vs "
        f"direct `await impl(args)` {direct_us:.2f} us = {per_call['full'] / direct_us:,.0f}x"
        f"  [{n:,} calls in one scope; {events_per_call:.0f} events per call;"
        f" {_spread(samples['direct'], samples['full'])}]"
    )
    report(
        f"tool call, no middleware, no subscriber: {per_call['bare']:.1f} us/call"
        f" = {per_call['bare'] / direct_us:,.0f}x direct"
        f"  [the scope actor alone; {_spread(samples['direct'], samples['bare'])}]"
    )
    report(
        f"tool call, 1 lossless subscriber, no middleware: {per_call['events']:.1f} us/call"
        f" = {per_call['events'] / direct_us:,.0f}x direct"
        f"  [events add {per_call['events'] - per_call['bare']:.1f} us,"
        f" the 3 middleware {per_call['full'] - per_call['events']:.1f} us;"
        f" {_spread(samples['direct'], samples['events'])}]"
    )


# ---------------------------------------------------------------- 2. events through the bus


def _marks() -> list[actrio.Mark]:
    return [
        actrio.Mark(
            uuid=f"00000000-0000-4000-8000-{i:012d}",
            parent_uuid=None,
            timestamp="2026-11-21T00:00:00.000000+00:00",
            name="bench",
            data={"i": i},
        )
        for i in range(EVENTS)
    ]


def test_bus_throughput(report: Callable[[str], None]) -> None:
    marks = _marks()
    counts: dict[str, dict[str, int]] = {}

    async def raw() -> Sample:
        send, receive = trio.open_memory_channel[actrio.Mark](CAPACITY)
        done = trio.Event()
        seen = {"count": 0}

        async def consumer() -> None:
            async for _event in receive:
                seen["count"] += 1
                if seen["count"] == EVENTS:
                    done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await checkpoint()
            start = time.perf_counter()
            for mark in marks:
                await send.send(mark)
            await done.wait()
            elapsed = time.perf_counter() - start
            nursery.cancel_scope.cancel()
        counts["raw"] = seen
        return {"elapsed": elapsed}

    def through_bus(variant: str, *, checkpointed: bool) -> Callable[[], Any]:
        async def run() -> Sample:
            done = trio.Event()
            seen = {"count": 0, "last_seq": 0}

            def handler(event: actrio.Event) -> None:
                seen["count"] += 1
                seen["last_seq"] = event.seq
                if seen["count"] == EVENTS:
                    done.set()

            async with actrio.open_actor_system() as system:
                sub = system.subscribe(handler, mode="lossless", capacity=CAPACITY)
                publish = system.publish if checkpointed else system.bus.publish
                await checkpoint()
                start = time.perf_counter()
                for mark in marks:
                    await publish(mark)
                await done.wait()
                elapsed = time.perf_counter() - start
                stats = sub.statistics()
                seen.update(delivered=stats.delivered, dropped=stats.dropped)
            counts[variant] = seen
            return {"elapsed": elapsed}

        return run

    samples = _interleave(
        {
            "raw": raw,
            "publish": through_bus("publish", checkpointed=True),
            "bus": through_bus("bus", checkpointed=False),
        }
    )

    on_bus = {"count": EVENTS, "last_seq": EVENTS, "delivered": EVENTS, "dropped": 0}
    assert counts == {"raw": {"count": EVENTS}, "publish": on_bus, "bus": on_bus}

    raw_time = _best(samples["raw"])
    for name, how in (
        ("publish", "`await system.publish(e)` (a checkpoint, like `send`)"),
        ("bus", "`await system.bus.publish(e)` (yields only when the queue is full)"),
    ):
        subject = _best(samples[name])
        report(
            f"events to 1 lossless subscriber via {how}: {EVENTS / subject / 1e3:.0f}k events/s"
            f" vs raw memory channel {EVENTS / raw_time / 1e3:.0f}k events/s;"
            f" time {subject / raw_time:.2f}x raw"
            f"  [{EVENTS:,} Marks, capacity {CAPACITY};"
            f" {_spread(samples['raw'], samples[name])} (time)]"
        )
