"""The event bus: typed events fanned out to subscribers with bounded queues.

Each subscriber owns a bounded queue and a task that feeds its handler, so a
slow or failing subscriber never stalls the others beyond its own policy:

- ``lossless``: a publisher waits while the queue is full (backpressure);
  nothing is ever dropped.
- ``lossy``: a full queue drops its oldest event; the subscriber then gets
  one :class:`EventsDropped` saying how many it missed.

A handler that raises is isolated: after ``max_failures`` failures it is
disabled and one :class:`SubscriberDisabled` event is published.
"""

from __future__ import annotations

import inspect
import math
from collections import deque
from typing import TYPE_CHECKING, Literal, TypeVar

import attrs
import trio

from actrio.kernel._events import ErrorInfo, Event, EventsDropped, SubscriberDisabled
from actrio.kernel._exceptions import UsageError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection
    from types import TracebackType

__all__ = ("EventBus", "EventStream", "SubscriberMode", "SubscriberStatistics", "Subscription")

E = TypeVar("E", bound=Event)
S = TypeVar("S", bound="Subscription")

SubscriberMode = Literal["lossless", "lossy"]


@attrs.frozen(kw_only=True)
class SubscriberStatistics:
    """A snapshot of one subscription.

    Attributes:
        name: The subscriber's name.
        mode: ``lossless`` or ``lossy``.
        queued: Events waiting in its queue.
        capacity: The queue's bound.
        delivered: Events handed to the handler so far.
        dropped: Events a lossy queue discarded so far.
        failures: How many times the handler raised.
        active: False once closed or disabled.
    """

    name: str
    mode: SubscriberMode
    queued: int
    capacity: int
    delivered: int
    dropped: int
    failures: int
    active: bool


class Subscription:
    """A handle on one subscriber; use it to inspect or close the subscription.

    It is also a context manager that closes the subscription on exit.
    """

    def __init__(
        self,
        bus: EventBus,
        handler: Callable[[Event], Awaitable[None] | None] | None,
        *,
        name: str,
        mode: SubscriberMode,
        capacity: int,
        max_failures: int,
        types: tuple[type[Event], ...] | None,
        where: Callable[[Event], bool] | None = None,
    ) -> None:
        self._bus = bus
        self._handler = handler
        self.name = name
        self.mode: SubscriberMode = mode
        self._capacity = capacity
        self._max_failures = max_failures
        self._types = types
        self._where = where
        self._queue: deque[Event] = deque()
        self._not_empty = trio.lowlevel.ParkingLot()
        self._not_full = trio.lowlevel.ParkingLot()
        self._delivered = 0
        self._dropped = 0
        self._dropped_first = 0
        self._dropped_last = 0
        self._pending_drop_count = 0
        self._failures = 0
        self._active = True
        self._draining = False
        self._done = trio.Event()
        # Shielded, so an enclosing cancel does not cut delivery short; the
        # bus closes every subscription (cancelling this) when it shuts down.
        self._scope = trio.CancelScope(shield=True)

    def wants(self, event: Event) -> bool:
        """Whether this subscription takes ``event``."""
        return (
            self._active
            and (self._types is None or isinstance(event, self._types))
            and (self._where is None or self._where(event))
        )

    def statistics(self) -> SubscriberStatistics:
        """Return a snapshot of this subscription."""
        return SubscriberStatistics(
            name=self.name,
            mode=self.mode,
            queued=len(self._queue),
            capacity=self._capacity,
            delivered=self._delivered,
            dropped=self._dropped,
            failures=self._failures,
            active=self._active,
        )

    def close(self) -> None:
        """Stop delivering to this subscriber; queued events are discarded."""
        if not self._active:
            return
        self._active = False
        self._queue.clear()
        self._scope.cancel()
        self._bus._forget(self)
        self._not_empty.unpark_all()
        self._not_full.unpark_all()
        self._done.set()

    def finish(self) -> None:
        """Take no new events, but deliver those already queued, then end."""
        if not self._active:
            return
        self._bus._forget(self)
        self._draining = True
        self._not_empty.unpark_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the publishing side (called by the bus) --

    def _has_room(self) -> bool:
        return len(self._queue) < self._capacity

    def _put_lossy(self, event: Event) -> None:
        if len(self._queue) >= self._capacity:
            lost = self._queue.popleft()
            self._dropped += 1
            if self._pending_drop_count == 0:
                self._dropped_first = lost.seq
            self._pending_drop_count += 1
            self._dropped_last = lost.seq
        self._queue.append(event)
        self._not_empty.unpark()

    async def _wait_for_room(self) -> None:
        while self._active and len(self._queue) >= self._capacity:
            await self._not_full.park()

    # -- the consuming side (its own task) --

    async def _next(self) -> Event | None:
        while self._active and not self._queue:
            if self._draining:
                self._active = False  # drained: nothing more will come
                self._bus._forget(self)
                return None
            await self._not_empty.park()
        if not self._active:
            return None
        if self._pending_drop_count:
            notice = EventsDropped(
                seq=self._dropped_last,
                time=trio.current_time(),
                subscriber=self.name,
                count=self._pending_drop_count,
                first_seq=self._dropped_first,
                last_seq=self._dropped_last,
            )
            self._pending_drop_count = 0
            return notice
        event = self._queue.popleft()
        self._not_full.unpark()
        return event

    async def _run(self) -> None:
        try:
            with self._scope:
                while (event := await self._next()) is not None:
                    await self._deliver(event)
        finally:
            self._done.set()

    async def _deliver(self, event: Event) -> None:
        try:
            handler = self._handler
            assert handler is not None  # only handler subscriptions run a task
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        except Exception as error:  # noqa: BLE001 - a faulty subscriber is isolated, never fatal
            self._failures += 1
            if self._failures >= self._max_failures:
                self.close()
                await self._bus.publish(
                    SubscriberDisabled(
                        subscriber=self.name,
                        failures=self._failures,
                        error=ErrorInfo.from_exception(error),
                    )
                )
        else:
            self._delivered += 1


class EventStream(Subscription):
    """A subscription read by iterating it, instead of through a handler task.

    Use it as an async context manager, which closes it on exit::

        async with system.stream() as events:
            async for event in events:
                ...

    Iteration ends once the bus has closed and the queue is drained (or the
    stream was closed). The queue is bounded like any subscriber's: in
    ``lossless`` mode a slow reader slows the publishers down.
    """

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        event = await self._next()
        if event is None:
            self._done.set()
            await trio.lowlevel.checkpoint()
            raise StopAsyncIteration
        self._delivered += 1
        await trio.lowlevel.checkpoint()
        return event

    async def __aenter__(self) -> EventStream:
        await trio.lowlevel.checkpoint()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await trio.lowlevel.checkpoint_if_cancelled()


class EventBus:
    """Fans events out to subscribers and stamps them with ``seq`` and ``time``.

    Owned by an actor system; its subscriber tasks run in the system's
    nursery. Publishing with no subscriber costs one integer increment.
    """

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._subscribers: list[Subscription] = []
        self._seq = 0
        self._names = 0
        self._lock = trio.StrictFIFOLock()
        self._closed = False

    @property
    def active(self) -> bool:
        """Whether anyone is listening (skip building events when not)."""
        return bool(self._subscribers)

    @property
    def last_seq(self) -> int:
        """The sequence number of the latest stamped event (0 if none)."""
        return self._seq

    def subscribe(
        self,
        handler: Callable[[Event], Awaitable[None] | None],
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        max_failures: int = 3,
        types: Collection[type[Event]] | None = None,
        name: str | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> Subscription:
        """Register ``handler`` (sync or async) to receive events.

        Args:
            handler: Called once per event, in ``seq`` order, from the
                subscriber's own task.
            mode: ``lossless`` (publishers wait for room) or ``lossy`` (the
                oldest queued event is dropped and reported).
            capacity: The queue bound, at least 1.
            max_failures: Disable the subscriber after this many raises.
            types: Only deliver events that are instances of these classes.
            name: A name for statistics and events; generated if omitted.
            where: A further filter, called synchronously by publishers; it
                must be cheap and must not raise (for library layers).

        Raises:
            UsageError: For a bad option, or once the bus has closed.
        """
        sub = self._new(Subscription, handler, mode, capacity, max_failures, types, name, where)
        self._nursery.start_soon(sub._run, name=f"actrio.subscriber:{sub.name}")
        return sub

    def stream(
        self,
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        types: Collection[type[Event]] | None = None,
        name: str | None = None,
        where: Callable[[Event], bool] | None = None,
    ) -> EventStream:
        """Return an :class:`EventStream`: events read with ``async for``.

        The options are those of :meth:`subscribe`. The stream takes events
        from the moment it is created.

        Raises:
            UsageError: For a bad option, or once the bus has closed.
        """
        return self._new(EventStream, None, mode, capacity, 1, types, name, where)

    def _new(  # noqa: PLR0917 - internal, positional on purpose
        self,
        cls: type[S],
        handler: Callable[[Event], Awaitable[None] | None] | None,
        mode: SubscriberMode,
        capacity: int,
        max_failures: int,
        types: Collection[type[Event]] | None,
        name: str | None,
        where: Callable[[Event], bool] | None,
    ) -> S:
        if mode not in ("lossless", "lossy"):
            raise UsageError(f"mode must be 'lossless' or 'lossy', not {mode!r}")
        if not isinstance(capacity, int) or capacity < 1:
            raise UsageError(f"capacity must be a positive int, not {capacity!r}")
        if not isinstance(max_failures, int) or max_failures < 1:
            raise UsageError(f"max_failures must be a positive int, not {max_failures!r}")
        if self._closed:
            raise UsageError("the event bus is closed")
        self._names += 1
        sub = cls(
            self,
            handler,
            name=name or f"subscriber-{self._names}",
            mode=mode,
            capacity=capacity,
            max_failures=max_failures,
            types=tuple(types) if types is not None else None,
            where=where,
        )
        self._subscribers.append(sub)
        return sub

    def _forget(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.remove(sub)

    def _stamp(self, event: E) -> E:
        self._seq += 1
        return attrs.evolve(event, seq=self._seq, time=trio.current_time())

    def publish_nowait(self, event: Event) -> bool:
        """Publish ``event`` if that needs no waiting; return whether it did.

        It does when no publisher waits before it and every lossless queue
        has room. Otherwise nothing happens (no sequence number is taken).
        """
        subs = self._subscribers
        if not subs:
            self._seq += 1
            return True
        if not self._lock.locked() and all(s._has_room() or s.mode == "lossy" for s in subs):
            self._deliver_now(self._stamp(event), subs)
            return True
        return False

    async def publish_within(self, event: Event, grace: float) -> bool:
        """Publish ``event`` from cleanup code: never cancelled, bounded by ``grace``.

        Publishes at once when nothing must wait; otherwise waits for room
        shielded from cancellation for at most ``grace`` seconds.

        Returns:
            Whether the event was published (False: the grace ran out).
        """
        if self.publish_nowait(event):
            return True
        with trio.move_on_after(grace, shield=True):
            await self.publish(event)
            return True
        return False

    async def publish(self, event: Event) -> None:
        """Stamp ``event`` and queue it for every interested subscriber.

        Waits while a lossless subscriber's queue is full. The event is
        stamped only once every lossless queue has room, and then delivered
        to all subscribers at once: a publisher cancelled while waiting
        publishes nothing and leaves no gap in the sequence. Events from
        concurrent publishers keep the order of their sequence numbers.
        """
        if self.publish_nowait(event):
            return
        async with self._lock:
            # Publishers are serialised by the lock and consumers only take
            # from queues, so room found here is still there below.
            for sub in list(self._subscribers):
                if sub.mode == "lossless" and sub.wants(event):
                    await sub._wait_for_room()
            self._deliver_now(self._stamp(event), list(self._subscribers))

    @staticmethod
    def _deliver_now(event: Event, subs: list[Subscription]) -> None:
        for sub in subs:
            if not sub.wants(event):
                continue
            if sub.mode == "lossy":
                sub._put_lossy(event)
            else:
                sub._queue.append(event)
                sub._not_empty.unpark()

    async def aclose(self, grace: float = math.inf) -> None:
        """Let subscribers drain what they have queued, then stop them.

        Args:
            grace: Seconds to wait for the drain before discarding the rest.
        """
        self._closed = True
        try:
            with trio.move_on_after(grace):
                # Let publishers already waiting for room finish first.
                async with self._lock:
                    subs = list(self._subscribers)
                    for sub in subs:
                        sub._draining = True
                        sub._not_empty.unpark_all()
                for sub in subs:
                    await sub._done.wait()
        finally:
            # Whatever cut the drain short, no subscriber task outlives the bus.
            for sub in list(self._subscribers):
                sub.close()
