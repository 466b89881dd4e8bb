"""The actor system: the root nursery, the name registry and the event bus."""

from __future__ import annotations

import contextvars
import functools
import math
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from actrio.kernel._actor import Actor, ActorRef, _Cell, _current_cell
from actrio.kernel._bus import EventBus, EventStream, SubscriberMode, Subscription
from actrio.kernel._events import ActorExited, ExitReason
from actrio.kernel._exceptions import ActorStopped, NameTaken, UsageError
from actrio.kernel._mailbox import DEFAULT_CAPACITY, LazyMailbox
from actrio.kernel._util import open_body_nursery

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Collection

    from actrio.kernel._events import Event

__all__ = ("ActorSystem", "SystemStatistics", "current_system", "open_actor_system", "run")

T = TypeVar("T")

DEFAULT_SHUTDOWN_GRACE = 5.0

_current_system: contextvars.ContextVar[ActorSystem] = contextvars.ContextVar(
    "actrio.current_system"
)


@attrs.frozen(kw_only=True)
class SystemStatistics:
    """A snapshot of an actor system.

    Attributes:
        actors: Actors alive (not yet stopped for good), at every depth.
        spawned: Actors spawned since the system opened.
        last_seq: Sequence number of the latest event.
        subscribers: Active event subscribers.
    """

    actors: int
    spawned: int
    last_seq: int
    subscribers: int


def _check_capacity(capacity: int | None, what: str) -> None:
    if capacity is None:
        return
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        raise UsageError(f"{what} must be a positive int, not {capacity!r}")


def _check_grace(grace: float, what: str) -> None:
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0:
        raise UsageError(f"{what} must be a number of seconds >= 0, not {grace!r}")


class ActorSystem:
    """Owns the root of an actor tree; create it with :func:`open_actor_system`.

    Nothing is kept in module globals: two systems in one process never see
    each other's actors, names or events.
    """

    def __init__(
        self,
        service_nursery: trio.Nursery,
        *,
        mailbox_capacity: int,
        shutdown_grace: float,
    ) -> None:
        self.bus = EventBus(service_nursery)
        self.mailbox_capacity = mailbox_capacity
        self.shutdown_grace = shutdown_grace
        self._actors_nursery: trio.Nursery | None = None
        self._registry: dict[str, _Cell] = {}
        self._top: dict[str, _Cell] = {}
        self._spawned = 0
        self._shutdown_deadline = math.inf  # set once shutdown starts

    # -- public API --

    async def spawn(
        self, actor: Actor[Any], *, name: str | None = None, capacity: int | None = None
    ) -> ActorRef[Any]:
        """Start ``actor`` at the top of the tree and return its ref.

        Returns once its ``on_start`` has finished. An unhandled failure of a
        top-level actor propagates out of the ``open_actor_system`` block
        (structured concurrency); put it under a :class:`Supervisor` to have
        it restarted instead.

        Args:
            actor: A fresh actor instance (an instance runs only once).
            name: Its name, unique among its siblings; generated if omitted.
            capacity: Mailbox capacity; the system default if omitted.

        Raises:
            StartError: If ``on_start`` failed.
            NameTaken: If a top-level actor already has ``name``.
            ActorStopped: If the system is shutting down.
        """
        return await self._spawn(actor, parent=None, name=name, capacity=capacity)

    @asynccontextmanager
    async def host(
        self,
        actor: Actor[Any],
        *,
        parent: ActorRef[Any] | None = None,
        name: str | None = None,
        capacity: int | None = None,
        deadline: float = math.inf,
    ) -> AsyncIterator[ActorRef[Any]]:
        """Run ``actor`` hosted by the calling task, for the ``async with`` block.

        A hosted actor is a full actor (a cell in the tree, a mailbox, a
        message loop, children) whose nursery is opened right here, so the
        block itself is the actor's body. Everything of the actor runs inside
        one cancel scope (with ``deadline``): stopping the actor through its
        ref cancels the block, its children and its loop. When the block
        ends, its children are stopped and the loop closes; queued messages
        are dead-lettered. The block's own exceptions pass through unchanged.

        Args:
            actor: A fresh actor instance; ``on_start``/``on_stop`` are not
                called (the block is the actor's life).
            parent: The actor to host it under; by default the actor whose
                task is running (if it belongs to this system), else the top.
            name: Its name, unique among its siblings; generated if omitted.
            capacity: Mailbox capacity; the system default if omitted.
            deadline: A ``trio.current_time()`` deadline for the whole actor.

        Raises:
            UsageError: For a bad argument or an actor already spawned.
            NameTaken: If a sibling already has ``name``.
            ActorStopped: If the parent or the system has stopped.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if not isinstance(actor, Actor):
            raise UsageError(f"host() takes an Actor instance, got {type(actor).__qualname__}")
        if getattr(actor, "_cell", None) is not None:
            raise UsageError(f"{actor!r} was already spawned; host a fresh instance")
        parent_cell = self._host_parent(parent)
        cell = self._new_cell(actor, parent=parent_cell, name=name, capacity=capacity, lazy=True)
        actor._cell = cell
        cell.actor = actor
        cell.incarnation = 1
        token = _current_cell.set(cell)
        outcome: ExitReason = "normal"
        try:
            with trio.CancelScope(deadline=deadline) as scope:
                cell._scope = scope
                if cell.stop_requested or (parent_cell is not None and parent_cell.stop_requested):
                    scope.cancel()
                async with (
                    open_body_nursery() as nursery,
                    self._hosted_body(cell, actor, nursery),
                ):
                    yield ActorRef(cell)
            if scope.cancelled_caught:
                outcome = "stopped"
        except Exception:
            outcome = "failed"
            raise
        except BaseException:
            outcome = "cancelled"
            raise
        finally:
            cell._scope = None
            cell._nursery = None
            cell.state = "stopping"
            if self.bus.active:
                await self.bus.publish_within(
                    ActorExited(
                        actor_id=cell.id,
                        path=cell.path,
                        incarnation=cell.incarnation,
                        reason=outcome,
                    ),
                    cell.grace,
                )
            await cell.close()
            _current_cell.reset(token)

    @asynccontextmanager
    async def _hosted_body(
        self, cell: _Cell, actor: Actor[Any], nursery: trio.Nursery
    ) -> AsyncIterator[None]:
        mailbox = cell.mailbox
        assert isinstance(mailbox, LazyMailbox)
        cell._nursery = nursery
        cell.state = "running"
        loop_scope = trio.CancelScope()
        # The message loop starts with the first message sent: most hosted
        # actors (the scopes of tool and model calls) never get one.
        mailbox.on_first_put = functools.partial(
            nursery.start_soon, _hosted_loop, cell, actor, loop_scope, name=cell.path
        )
        try:
            if self.bus.active:
                await self.bus.publish_within(cell.started_event(actor), cell.grace)
            yield
        finally:
            mailbox.on_first_put = None
            cell._stop_subtree(include_self=False)
            loop_scope.cancel()

    def _host_parent(self, parent: ActorRef[Any] | None) -> _Cell | None:
        cell: _Cell | None
        if parent is not None:
            if not isinstance(parent, ActorRef):
                raise UsageError(f"parent must be an ActorRef, got {type(parent).__qualname__}")
            cell = parent._cell
            if cell.system is not self:
                raise UsageError(f"{cell.path} belongs to another actor system")
        else:
            current = _current_cell.get(None)
            cell = current if current is not None and current.system is self else None
        if cell is not None and cell.closed:
            raise ActorStopped(f"{cell.path} has stopped, so nothing can be hosted under it")
        if cell is None and self._actors_nursery is None:
            raise ActorStopped("the actor system is not running, so it cannot host actors")
        return cell

    def lookup(self, path: str) -> ActorRef[Any] | None:
        """Return the ref of the live actor at ``path`` (like ``/app/worker``), or None."""
        cell = self._registry.get(path)
        return None if cell is None else ActorRef(cell)

    def subscribe(
        self,
        handler: Callable[[Event], Awaitable[None] | None],
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        max_failures: int = 3,
        types: Collection[type[Event]] | None = None,
        name: str | None = None,
    ) -> Subscription:
        """Subscribe ``handler`` to this system's events.

        See :meth:`EventBus.subscribe` for the options.
        """
        return self.bus.subscribe(
            handler, mode=mode, capacity=capacity, max_failures=max_failures, types=types, name=name
        )

    def stream(
        self,
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        types: Collection[type[Event]] | None = None,
        name: str | None = None,
    ) -> EventStream:
        """Return a stream of this system's events, read with ``async for``.

        Example::

            async with system.stream(types=[ActorExited]) as events:
                async for event in events:
                    print(event.path, event.reason)

        See :meth:`EventBus.subscribe` for the options.
        """
        return self.bus.stream(mode=mode, capacity=capacity, types=types, name=name)

    async def publish(self, event: Event) -> None:
        """Publish an event on this system's bus. Always a checkpoint."""
        await trio.lowlevel.checkpoint_if_cancelled()
        await self.bus.publish(event)
        await trio.lowlevel.cancel_shielded_checkpoint()

    def statistics(self) -> SystemStatistics:
        """Return a snapshot of the system."""
        return SystemStatistics(
            actors=len(self._registry),
            spawned=self._spawned,
            last_seq=self.bus.last_seq,
            subscribers=len(self.bus._subscribers),
        )

    # -- kernel internals --

    def _new_cell(
        self,
        actor: Actor[Any] | None,
        *,
        parent: _Cell | None,
        name: str | None,
        capacity: int | None,
        grace: float | None = None,
        lazy: bool = False,
    ) -> _Cell:
        _check_capacity(capacity, "capacity")
        self._spawned += 1
        actor_id = str(self._spawned)
        if name is None:
            name = f"{type(actor).__name__}-{actor_id}"
        elif not isinstance(name, str) or not name or "/" in name:
            raise UsageError(f"an actor name must be a non-empty string without '/', not {name!r}")
        siblings = parent.children if parent is not None else self._top
        if name in siblings:
            where = parent.path if parent is not None else "the top level"
            raise NameTaken(f"an actor named {name!r} already runs at {where}")
        cell = _Cell(
            self,
            actor_id=actor_id,
            name=name,
            parent=parent,
            capacity=capacity or self.mailbox_capacity,
            grace=self.shutdown_grace if grace is None else grace,
            lazy=lazy,
        )
        siblings[name] = cell
        self._registry[cell.path] = cell
        return cell

    def _unregister(self, cell: _Cell) -> None:
        siblings = cell.parent.children if cell.parent is not None else self._top
        if siblings.get(cell.name) is cell:
            del siblings[cell.name]
        if self._registry.get(cell.path) is cell:
            del self._registry[cell.path]

    async def _spawn(
        self,
        actor: Actor[Any],
        *,
        parent: _Cell | None,
        name: str | None,
        capacity: int | None,
    ) -> ActorRef[Any]:
        await trio.lowlevel.checkpoint_if_cancelled()  # a cancelled spawn starts nothing
        if not isinstance(actor, Actor):
            raise UsageError(f"spawn() takes an Actor instance, got {type(actor).__qualname__}")
        if getattr(actor, "_cell", None) is not None:
            raise UsageError(f"{actor!r} was already spawned; spawn a fresh instance")
        nursery = self._actors_nursery if parent is None else parent._nursery
        if nursery is None and parent is not None and parent._scope is not None:
            await trio.lowlevel.checkpoint()
            raise UsageError(
                f"{parent.path} runs as a leaf actor (no method of "
                f"{type(parent.actor).__qualname__} mentions `spawn`), so it has no nursery "
                "for children; set `spawns_children = True` on the class"
            )
        if nursery is None:
            await trio.lowlevel.checkpoint()
            owner = "the actor system" if parent is None else parent.path
            raise ActorStopped(f"{owner} is not running, so it cannot spawn")
        cell = self._new_cell(actor, parent=parent, name=name, capacity=capacity)
        actor._cell = cell  # claimed now: spawning it again is refused at once
        if type(actor).on_start is Actor.on_start:
            # Nothing can fail before the first message: no need to wait.
            nursery.start_soon(self._run_unsupervised, cell, actor, name=cell.path)
            await trio.lowlevel.checkpoint()
        else:
            await nursery.start(self._run_unsupervised, cell, actor, name=cell.path)
        return ActorRef(cell)

    async def _run_unsupervised(
        self,
        cell: _Cell,
        actor: Actor[Any],
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            exit_ = await cell.run_incarnation(actor, task_status)
        finally:
            await cell.close()
        if exit_.error is not None:
            # Crash the parent (structured concurrency); before task_status.started()
            # this reaches the spawner instead, as a StartError.
            raise exit_.error
        if not exit_.started and exit_.reason == "shutdown":
            raise ActorStopped(f"{cell.path} shut down during on_start")

    async def _shutdown(self) -> None:
        # Stop top-level actors in reverse spawn order, within the grace.
        self._actors_nursery = None  # no new top-level actors from here on
        # One deadline for the whole shutdown: stops, on_stop hooks, drain.
        self._shutdown_deadline = trio.current_time() + self.shutdown_grace
        with trio.move_on_at(self._shutdown_deadline, shield=True):
            cells = list(self._top.values())
            for cell in reversed(cells):
                cell.request_stop()
                if _stop_is_observable(cell):
                    await cell.wait_closed()  # newest first, one at a time
            for cell in cells:
                if not cell.closed:  # no yield per actor already gone
                    await cell.wait_closed()


async def _hosted_loop(cell: _Cell, actor: Actor[Any], scope: trio.CancelScope) -> None:
    with scope:
        await cell._loop(actor)


def _stop_is_observable(cell: _Cell) -> bool:
    """Whether anyone could tell the order in which ``cell`` stopped."""
    actor = cell.actor
    return (
        cell.system.bus.active
        or actor is None
        or type(actor).on_stop is not Actor.on_stop
        or cell._nursery is not None
    )


@asynccontextmanager
async def open_actor_system(
    *,
    mailbox_capacity: int = DEFAULT_CAPACITY,
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
) -> AsyncIterator[ActorSystem]:
    """Open an actor system; leaving the block stops every actor in it.

    On exit, top-level actors are stopped in reverse spawn order (each one's
    subtree first), then subscribers drain their queues; all of it within
    ``shutdown_grace`` seconds, after which what is left is cancelled.

    Args:
        mailbox_capacity: Default mailbox capacity for spawned actors.
        shutdown_grace: Seconds allowed for each actor's ``on_stop`` and for
            the whole shutdown of the system.

    Raises:
        UsageError: For a bad option.
    """
    _check_capacity(mailbox_capacity, "mailbox_capacity")
    _check_grace(shutdown_grace, "shutdown_grace")
    # One nursery for actors and subscriber tasks. The body's own exception
    # comes out as it was raised; actors' failures come out grouped, as from trio.
    async with open_body_nursery() as nursery:
        system = ActorSystem(
            nursery, mailbox_capacity=mailbox_capacity, shutdown_grace=shutdown_grace
        )
        system._actors_nursery = nursery
        token = _current_system.set(system)
        try:
            yield system
        finally:
            try:
                await system._shutdown()
                with trio.CancelScope(shield=True):  # aclose bounds itself
                    remaining = system._shutdown_deadline - trio.current_time()
                    await system.bus.aclose(grace=max(0.0, remaining))
            finally:
                nursery.cancel_scope.cancel()
                _current_system.reset(token)


def current_system() -> ActorSystem:
    """Return the actor system of the running task.

    Raises:
        UsageError: Outside any actor system.
    """
    cell = _current_cell.get(None)
    if cell is not None:
        return cell.system  # right even with several systems open in one task
    system = _current_system.get(None)
    if system is None:
        raise UsageError("current_system() called outside an actor system")
    return system


def run(
    main: Callable[[ActorSystem], Awaitable[T]],
    *,
    mailbox_capacity: int = DEFAULT_CAPACITY,
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
    clock: trio.abc.Clock | None = None,
) -> T:
    """Run ``main(system)`` inside a fresh actor system under ``trio.run``.

    Returns:
        What ``main`` returned.
    """

    async def _main() -> T:
        async with open_actor_system(
            mailbox_capacity=mailbox_capacity, shutdown_grace=shutdown_grace
        ) as system:
            return await main(system)

    return trio.run(_main, clock=clock)
