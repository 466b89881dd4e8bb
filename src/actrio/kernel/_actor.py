"""Actors: a trio task with a typed mailbox, living in its parent's nursery.

An :class:`Actor` subclass holds the behaviour. At run time each actor has an
``_Cell``: its identity (id, path), its mailbox and the bookkeeping of its
incarnations. A supervisor restarting an actor runs a new incarnation (a new
instance from the child spec's factory) in the same cell, so the
:class:`ActorRef` and the queued messages survive the restart.

The cell's task is::

    cell task
    └── nursery (the actor's children live here)
        └── on_start, then the message loop (in the cell task itself)

so stopping or crashing an actor stops its children first, and the actor
tree is the nursery tree.
"""

from __future__ import annotations

import contextvars
import functools
import math
import traceback
import types
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, overload

import attrs
import trio

from actrio.kernel._events import (
    ActorExited,
    ActorFailed,
    ActorStarted,
    CancellationIgnored,
    ErrorInfo,
    ExitReason,
    MessageDeadLettered,
)
from actrio.kernel._exceptions import (
    ActorError,
    ActorStopped,
    Phase,
    Reject,
    Shutdown,
    StartError,
    UsageError,
)
from actrio.kernel._mailbox import (
    Ask,
    LazyMailbox,
    Mailbox,
    MailboxStatistics,
    Request,
    check_message,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from actrio.kernel._system import ActorSystem

__all__ = ("Actor", "ActorRef", "ActorStatistics", "current_actor")

M = TypeVar("M")
R = TypeVar("R")
A = TypeVar("A", bound="Actor[Any]")

#: How many queued messages the loop handles back to back before yielding.
FAIRNESS_BATCH = 256

ActorState = Literal["starting", "running", "restarting", "stopping", "stopped"]

_current_cell: contextvars.ContextVar[_Cell] = contextvars.ContextVar("actrio.current_actor")


def _mentions(code: types.CodeType, name: str) -> bool:
    return name in code.co_names or any(
        _mentions(const, name) for const in code.co_consts if isinstance(const, types.CodeType)
    )


@functools.cache
def spawns_children(cls: type[Actor[Any]]) -> bool:
    """Whether actors of ``cls`` get a nursery for children.

    ``cls.spawns_children`` decides when set; otherwise a class none of whose
    methods mentions ``spawn`` is a leaf: it runs under a bare cancel scope,
    which costs far less than a nursery.
    """
    declared = cls.spawns_children
    if declared is not None:
        return declared
    for klass in cls.__mro__:
        if klass in (Actor, Generic, object):
            continue
        for value in vars(klass).values():
            func = value.fget if isinstance(value, property) else value
            code = getattr(getattr(func, "__func__", func), "__code__", None)
            if isinstance(code, types.CodeType) and _mentions(code, "spawn"):
                return True
    return False


def _cancel_probe() -> Callable[[], bool]:
    """Return an O(1) test of "is the running task's current scope cancelled?".

    ``trio.current_effective_deadline()`` answers too, but walks the whole
    chain of enclosing scopes, recursively: slow per message, and a
    RecursionError on deep trees. trio keeps the answer on the cancel status
    of the task's innermost scope, which stays the same object for as long
    as the caller stays in that scope; fall back to the public call should
    trio's internals change.
    """
    status = getattr(trio.lowlevel.current_task(), "_cancel_status", None)
    if isinstance(getattr(status, "effectively_cancelled", None), bool):
        return lambda: status.effectively_cancelled  # type: ignore[union-attr]
    return lambda: trio.current_effective_deadline() == -math.inf  # pragma: no cover


def _is_cancelled() -> bool:
    return _cancel_probe()()


def _release_frames(error: BaseException) -> None:
    """Drop the locals of finished frames in ``error``'s tracebacks.

    A stored error (in a supervisor's history, an asker's hands) otherwise
    keeps every frame it passed through alive, and those frames hold the
    actor, its cell and the error itself: reference cycles that only the
    garbage collector can free. File and line information stays.
    """
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        traceback.clear_frames(exc.__traceback__)  # skips frames still running
        todo.extend(e for e in (exc.__cause__, exc.__context__) if e is not None)
        if isinstance(exc, BaseExceptionGroup):
            todo.extend(exc.exceptions)


def is_fatal(error: BaseException) -> bool:
    """Whether ``error`` must bypass every restart decision.

    Anything that is not an ``Exception`` (``Cancelled``, ``KeyboardInterrupt``,
    ``SystemExit``, ...) and ``MemoryError`` are fatal, also inside groups.
    """
    if isinstance(error, BaseExceptionGroup):
        return any(is_fatal(e) for e in error.exceptions)
    return not isinstance(error, Exception) or isinstance(error, MemoryError)


@attrs.frozen(kw_only=True)
class ActorStatistics:
    """A snapshot of one actor.

    Attributes:
        actor_id: Stable id (the same across restarts).
        path: Path in the tree.
        state: ``starting``, ``running``, ``restarting``, ``stopping`` or ``stopped``.
        incarnation: Number of the current (or last) incarnation.
        restarts: How many times a supervisor restarted it.
        children: Child actors alive right now.
        mailbox: The mailbox's own snapshot.
    """

    actor_id: str
    path: str
    state: ActorState
    incarnation: int
    restarts: int
    children: int
    mailbox: MailboxStatistics


@attrs.frozen
class Exit:
    """How one incarnation ended."""

    reason: ExitReason
    error: ActorError | None = None
    started: bool = True


class Actor(Generic[M]):
    """Base class of actors; subclass it and implement :meth:`receive`.

    ``M`` is the type of message the actor takes. The value :meth:`receive`
    returns is the reply to an ``ask``::

        @attrs.frozen
        class Add(Request[int]):
            n: int

        class Counter(Actor[Add]):
            def __init__(self) -> None:
                self.total = 0

            async def receive(self, message: Add) -> int:
                self.total += message.n
                return self.total
    """

    _cell: _Cell

    spawns_children: ClassVar[bool | None] = None
    """Whether this actor gets a nursery for children.

    ``None`` (the default) decides from the class's code: if no method
    mentions ``spawn``, the actor is a leaf and runs under a bare cancel
    scope, which is cheaper. Set it to ``True`` when children are spawned
    from code the class does not contain (a helper function, say).
    """

    async def on_start(self) -> None:
        """Run before the first message; may spawn children. Failing here counts as a crash."""

    async def receive(self, message: M) -> Any:
        """Handle one message; the return value is the reply to an ``ask``."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement receive()")

    async def on_stop(self) -> None:
        """Clean up after the last message, children already stopped.

        Runs shielded from cancellation for at most the actor's shutdown
        grace. It is skipped for a ``brutal_kill`` stop.
        """

    # -- inside the actor --

    @property
    def ref(self) -> ActorRef[M]:
        """This actor's own reference."""
        return ActorRef(self._cell)

    @property
    def system(self) -> ActorSystem:
        """The actor system this actor runs in."""
        return self._cell.system

    async def spawn(
        self, actor: A, *, name: str | None = None, capacity: int | None = None
    ) -> ActorRef[Any]:
        """Start ``actor`` as a child living in this actor's nursery.

        The child stops before this actor does; an unhandled failure of the
        child crashes this actor (put a :class:`Supervisor` in between to
        restart instead). Returns once the child's ``on_start`` finished.

        Raises:
            StartError: If the child's ``on_start`` failed.
            NameTaken: If a sibling already has ``name``.
        """
        return await self._cell.system._spawn(
            actor, parent=self._cell, name=name, capacity=capacity
        )

    def stop(self) -> None:
        """Stop this actor after the current message, with exit reason ``normal``."""
        self._cell.exit_requested = True

    async def _stop_children(self) -> None:
        """Stop children before the nursery is cancelled (runs shielded).

        Plain actors have nothing to do here: their children are cancelled
        all at once with the nursery. :class:`Supervisor` overrides it to stop
        its children one by one in reverse start order.
        """


class ActorRef(Generic[M]):
    """A handle to send messages to an actor; it stays valid across restarts.

    Refs compare equal when they point at the same actor.
    """

    __slots__ = ("_cell",)

    def __init__(self, cell: _Cell) -> None:
        self._cell = cell

    @property
    def id(self) -> str:
        """The actor's stable id."""
        return self._cell.id

    @property
    def path(self) -> str:
        """The actor's path in the tree, like ``/app/worker``."""
        return self._cell.path

    @property
    def alive(self) -> bool:
        """Whether the actor can still take messages."""
        return not self._cell.mailbox.closed

    async def tell(self, message: M) -> None:
        """Send ``message``, waiting while the mailbox is full. Always a checkpoint.

        Raises:
            InvalidMessage: If ``message`` is not a frozen attrs instance.
            ActorStopped: If the actor is stopped.
        """
        check_message(message)
        await self._cell.mailbox.put(message)

    def tell_nowait(self, message: M) -> None:
        """Send ``message`` without waiting.

        Raises:
            InvalidMessage: If ``message`` is not a frozen attrs instance.
            trio.WouldBlock: If the mailbox is full.
            ActorStopped: If the actor is stopped.
        """
        check_message(message)
        self._cell.mailbox.put_nowait(message)

    @overload
    async def ask(self, message: Request[R]) -> R: ...
    @overload
    async def ask(self, message: M) -> Any: ...
    async def ask(self, message: Any) -> Any:
        """Send ``message`` and wait for the value ``receive`` returns for it.

        Bound it with the caller's cancel scope (``trio.fail_after``). If the
        asker is cancelled after the message was queued, the actor still
        handles it and the reply is discarded.

        Raises:
            InvalidMessage: If ``message`` is not a frozen attrs instance.
            ActorError: If ``receive`` raised; the original is chained.
            ActorStopped: If the actor stopped before it replied.
        """
        check_message(message)
        envelope: Ask[Any] = Ask(message)
        await self._cell.mailbox.put(envelope)
        return await envelope.wait()

    async def stop(self) -> None:
        """Stop the actor and wait until it (and its subtree) has stopped.

        Its children stop first, then its ``on_stop`` runs; queued messages
        are dead-lettered and their askers get :class:`ActorStopped`. A
        supervised actor stopped this way is not restarted. Stopping a
        stopped actor does nothing. Always a checkpoint.
        """
        cell = self._cell
        cell.request_stop()
        if _current_cell.get(None) is cell:
            # Stopping yourself: the cancellation lands at this checkpoint.
            await trio.lowlevel.checkpoint()
            return
        await cell.wait_closed()

    def statistics(self) -> ActorStatistics:
        """Return a snapshot of the actor and its mailbox."""
        return self._cell.statistics()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other._cell is self._cell

    def __hash__(self) -> int:
        return hash(self._cell)

    def __repr__(self) -> str:
        return f"<ActorRef {self._cell.path} id={self._cell.id}>"


def current_actor() -> ActorRef[Any]:
    """Return the ref of the actor whose task (or subtask) is running.

    Raises:
        UsageError: Outside any actor.
    """
    cell = _current_cell.get(None)
    if cell is None:
        raise UsageError("current_actor() called outside an actor")
    return ActorRef(cell)


class _Cell:
    """Identity, mailbox and incarnation bookkeeping of one actor."""

    __slots__ = (
        "__weakref__",
        "_closed_event",
        "_current_ask",
        "_forced_exit",
        "_nursery",
        "_scope",
        "actor",
        "brutal",
        "children",
        "closed",
        "exit_requested",
        "grace",
        "id",
        "incarnation",
        "mailbox",
        "name",
        "parent",
        "path",
        "restarts",
        "state",
        "stop_requested",
        "system",
    )

    def __init__(
        self,
        system: ActorSystem,
        *,
        actor_id: str,
        name: str,
        parent: _Cell | None,
        capacity: int,
        grace: float,
        lazy: bool = False,
    ) -> None:
        self.system = system
        self.id = actor_id
        self.name = name
        self.parent = parent
        self.path: str = f"{parent.path if parent is not None else ''}/{name}"
        self.mailbox = (LazyMailbox if lazy else Mailbox)(capacity, owner=self.path)
        self.grace = grace
        self.brutal = False
        self.state: ActorState = "starting"
        self.incarnation = 0
        self.restarts = 0
        self.children: dict[str, _Cell] = {}
        self.actor: Actor[Any] | None = None
        self.exit_requested = False
        self.stop_requested = False
        self.closed = False
        self._closed_event: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        self._scope: trio.CancelScope | None = None
        self._forced_exit: Exit | None = None
        self._current_ask: Ask[Any] | None = None

    # -- control from outside the incarnation --

    def request_stop(self, *, brutal: bool = False) -> None:
        """Stop the running incarnation (reason ``stopped``) and keep it stopped."""
        self.stop_requested = True
        self.interrupt(brutal=brutal)

    def interrupt(self, *, brutal: bool = False) -> None:
        """Stop the running incarnation only (reason ``stopped``); a restart may follow.

        The unsupervised subtree below is cancelled scope by scope, each actor
        through its own scope, walking the tree without recursion, so every
        task absorbs its own ``Cancelled`` and exits cleanly. Supervisors stop
        their own children, in order, so the walk stops there.
        """
        self.brutal = self.brutal or brutal
        if not self.children:  # the common case: a leaf
            if self._scope is not None:
                self._scope.cancel()
            return
        self._stop_subtree(include_self=True)

    def _stop_subtree(self, *, include_self: bool) -> None:
        # Descendants are stopped for good: unsupervised children never restart.
        stack = [self] if include_self else self._unsupervised_children()
        while stack:
            cell = stack.pop()
            if cell is not self:
                cell.stop_requested = True
            if cell._scope is not None:
                cell._scope.cancel()
            stack.extend(cell._unsupervised_children())

    def _unsupervised_children(self) -> list[_Cell]:
        actor = self.actor
        if actor is not None and type(actor)._stop_children is not Actor._stop_children:
            return []  # a supervisor stops its own children, in order
        return list(self.children.values())

    async def wait_closed(self) -> None:
        """Wait until the actor has stopped for good."""
        if self.closed:
            await trio.lowlevel.checkpoint()
            return
        if self._closed_event is None:
            self._closed_event = trio.Event()
        await self._closed_event.wait()

    def crash(self, error: ActorError) -> None:
        """End the running incarnation as ``failed`` with exactly ``error``."""
        self._forced_exit = Exit("failed", error)
        if self._scope is not None:
            self._scope.cancel()

    def statistics(self) -> ActorStatistics:
        return ActorStatistics(
            actor_id=self.id,
            path=self.path,
            state=self.state,
            incarnation=self.incarnation,
            restarts=self.restarts,
            children=len(self.children),
            mailbox=self.mailbox.statistics(),
        )

    def started_event(self, actor: Actor[Any]) -> ActorStarted:
        """The ``ActorStarted`` event of the running incarnation."""
        return ActorStarted(
            actor_id=self.id,
            path=self.path,
            actor_type=type(actor).__qualname__,
            incarnation=self.incarnation,
            parent_id=self.parent.id if self.parent else None,
        )

    # -- one incarnation --

    def box(self, error: BaseException, phase: Phase, message: object = None) -> ActorError:
        cls = StartError if phase == "on_start" else ActorError
        boxed = cls(
            actor_id=self.id,
            path=self.path,
            incarnation=self.incarnation,
            phase=phase,
            message_type=None if message is None else type(message).__qualname__,
            error=error,
        )
        boxed.__cause__ = error
        return boxed

    async def run_incarnation(
        self,
        actor: Actor[Any],
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> Exit:
        """Run ``actor`` as this cell's next incarnation until it ends.

        Returns how it ended. Raises only what must not be handled here:
        cancellation of an enclosing scope and fatal errors, after cleanup.
        """
        self.incarnation += 1
        self.actor = actor
        actor._cell = self
        self.exit_requested = False
        self._forced_exit = None
        self.brutal = False
        _current_cell.set(self)
        self.state = "starting"
        exit_: Exit | None = None
        outer: BaseException | None = None
        try:
            if spawns_children(type(actor)):  # type: ignore[arg-type]  # classes hash
                exit_ = await self._live_with_nursery(actor, task_status)
            else:
                with trio.CancelScope() as scope:
                    self._scope = scope
                    if self.stop_requested:
                        scope.cancel()
                    exit_ = await self._live(actor, task_status)
        except Exception as error:
            if is_fatal(error):
                raise
            exit_ = Exit("failed", self.box(error, "children"), self._started())
        except BaseException as error:
            outer = error  # an enclosing scope's Cancelled, or a fatal error
            raise
        finally:
            exit_ = await self._end_incarnation(actor, exit_, outer, started=self._started())
        return exit_

    async def _end_incarnation(
        self, actor: Actor[Any], exit_: Exit | None, outer: BaseException | None, *, started: bool
    ) -> Exit:
        """Settle the exit reason, run on_stop, report; never raises Cancelled."""
        self._scope = None
        self._nursery = None
        self.state = "stopping"
        forced = self._pop_forced_exit()
        if forced is not None:
            exit_ = forced
        elif exit_ is None:
            exit_ = Exit("stopped", started=started)
        if exit_.reason == "stopped" and outer is not None:
            exit_ = Exit("cancelled", started=started)
        if self._current_ask is not None:
            self._current_ask.fail(ActorStopped(f"{self.path} stopped while handling this message"))
            self._current_ask = None
        if exit_.started and not self.brutal and type(actor).on_stop is not Actor.on_stop:
            with trio.move_on_at(self._grace_deadline(), shield=True):
                exit_ = await self._run_on_stop(actor, exit_)
        if exit_.error is not None:
            _release_frames(exit_.error)
        if self.system.bus.active:
            # Its own scope: an on_stop that overran its grace still gets
            # its exit reported.
            with trio.move_on_after(self.grace, shield=True):
                await self._publish_exit(actor, exit_)
        return exit_

    def _grace_deadline(self) -> float:
        return min(trio.current_time() + self.grace, self.system._shutdown_deadline)

    async def _live_with_nursery(
        self, actor: Actor[Any], task_status: trio.TaskStatus[None]
    ) -> Exit | None:
        # The loop runs under its own scope inside the nursery, and the
        # nursery's scope is never cancelled by us: children are stopped
        # through their own scopes, so each absorbs its own Cancelled and the
        # nursery exits cleanly. (Cancelling the nursery's scope would make
        # every descendant's Cancelled travel up to it, as exception groups
        # nested as deep as the tree, which trio cannot free past a few
        # hundred levels.)
        exit_: Exit | None = None  # stays None if the scope absorbs a stop
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                with trio.CancelScope() as scope:
                    self._scope = scope
                    if self.stop_requested:
                        scope.cancel()
                    exit_ = await self._live(actor, task_status)
            finally:
                self._scope = None
                if type(actor)._stop_children is not Actor._stop_children:
                    # Unbounded on purpose: the hook bounds each child's stop.
                    with trio.CancelScope(shield=True):
                        await actor._stop_children()
                self._stop_subtree(include_self=False)
        return exit_

    async def _live(self, actor: Actor[Any], task_status: trio.TaskStatus[None]) -> Exit:
        try:
            if type(actor).on_start is not Actor.on_start:
                await trio.lowlevel.checkpoint_if_cancelled()
                await actor.on_start()
                if _is_cancelled():
                    await self._swallowed("on_start", None)
        except Shutdown:
            return Exit("shutdown", started=False)
        except Exception as error:
            if isinstance(error, MemoryError):
                raise
            return Exit("failed", self.box(error, "on_start"), started=False)
        self.state = "running"  # from here on, the incarnation counts as started
        bus = self.system.bus
        if bus.active:
            await bus.publish(self.started_event(actor))
        task_status.started()
        try:
            await self._loop(actor)
        except Shutdown:
            return Exit("shutdown")
        except ActorError as boxed:
            if boxed.actor_id == self.id and boxed.incarnation == self.incarnation:
                return Exit("failed", boxed)
            return Exit("failed", self.box(boxed, "receive"))
        return Exit("normal")

    async def _loop(self, actor: Actor[Any]) -> None:
        mailbox = self.mailbox
        receive = mailbox._receive.receive
        receive_nowait = mailbox._receive.receive_nowait
        handle = actor.receive
        cancelled = _cancel_probe()
        while not self._exit_pending():
            item = await receive()
            batch = 0
            while True:
                # Not cancelled here: receive() raises if we are, and so does
                # the check after each message below.
                if type(item) is Ask:
                    await self._handle_ask(handle, item)
                else:
                    try:
                        await handle(item)
                    except Reject:
                        pass  # nobody waits for a reply to a tell
                    except Shutdown:
                        raise
                    except Exception as error:
                        if isinstance(error, MemoryError):
                            raise
                        raise self.box(error, "receive", item) from error
                mailbox.processed += 1
                if cancelled():
                    await self._swallowed("receive", item)
                if self._exit_pending():
                    return
                batch += 1
                if batch >= FAIRNESS_BATCH:
                    # Bound the run without a schedule point when the queue stays full.
                    await trio.lowlevel.checkpoint()
                    batch = 0
                try:
                    item = receive_nowait()
                except trio.WouldBlock:
                    break

    async def _handle_ask(self, handle: Callable[[Any], Awaitable[Any]], item: Ask[Any]) -> None:
        self._current_ask = item
        try:
            value = await handle(item.message)
        except Reject as rejected:
            item.fail(rejected.error)
        except Shutdown:
            item.fail(ActorStopped(f"{self.path} shut down handling this message"))
            raise
        except Exception as error:
            if isinstance(error, MemoryError):
                raise
            boxed = self.box(error, "receive", item.message)
            item.fail(boxed)
            raise boxed from error
        else:
            item.succeed(value)
        self._current_ask = None

    def _pop_forced_exit(self) -> Exit | None:
        forced, self._forced_exit = self._forced_exit, None
        return forced

    def _started(self) -> bool:
        # _live sets "running" once on_start is done; nothing else does
        # until the incarnation ends. (A method, for the type checker's sake.)
        return self.state == "running"

    def _exit_pending(self) -> bool:
        # A method, not the attribute, so type checkers do not assume that
        # awaiting the handler cannot change it.
        return self.exit_requested

    async def _swallowed(self, phase: Literal["on_start", "receive"], item: object) -> None:
        # User code returned normally inside a cancelled scope: it swallowed
        # trio.Cancelled. Report it, then let the cancellation land for real.
        await self._report_swallowed(phase, item)
        await trio.lowlevel.checkpoint()
        raise AssertionError("a cancelled checkpoint returned")  # pragma: no cover

    async def _report_swallowed(self, phase: Literal["on_start", "receive"], item: object) -> None:
        bus = self.system.bus
        if not bus.active:
            return
        message = item.message if type(item) is Ask else item
        with trio.move_on_after(self.grace, shield=True):
            await bus.publish(
                CancellationIgnored(
                    actor_id=self.id,
                    path=self.path,
                    phase=phase,
                    message_type=None if message is None else type(message).__qualname__,
                )
            )

    async def _run_on_stop(self, actor: Actor[Any], exit_: Exit) -> Exit:
        try:
            await actor.on_stop()
        except Exception as error:
            if isinstance(error, MemoryError):
                raise
            return Exit("failed", self.box(error, "on_stop"), started=exit_.started)
        return exit_

    async def _publish_exit(self, actor: Actor[Any], exit_: Exit) -> None:
        bus = self.system.bus
        if bus.active:
            if exit_.error is not None:
                err = exit_.error
                await bus.publish(
                    ActorFailed(
                        actor_id=self.id,
                        path=self.path,
                        incarnation=self.incarnation,
                        phase=err.phase,
                        message_type=err.message_type,
                        error=ErrorInfo.from_exception(err.error),
                    )
                )
            if exit_.started:
                await bus.publish(
                    ActorExited(
                        actor_id=self.id,
                        path=self.path,
                        incarnation=self.incarnation,
                        reason=exit_.reason,
                    )
                )

    async def close(self) -> None:
        """End the actor for good: refuse messages, dead-letter what is queued.

        Never raises ``Cancelled``: the dead-letter events are published
        shielded, within the grace.
        """
        if self.closed or self.mailbox.closed:
            return
        self.state = "stopped"
        # Break the actor <-> cell link: nothing of a stopped actor is cyclic.
        self.actor = None
        self._forced_exit = None
        left = self.mailbox.close()
        self.mailbox.dead_lettered += len(left)
        for item in left:
            if type(item) is Ask:
                item.fail(ActorStopped(f"{self.path} stopped before handling this message"))
        self.system._unregister(self)
        try:
            bus = self.system.bus
            if left and bus.active:
                with trio.move_on_after(self.grace, shield=True):
                    for item in left:
                        message = item.message if type(item) is Ask else item
                        await bus.publish(
                            MessageDeadLettered(
                                actor_id=self.id,
                                path=self.path,
                                message_type=type(message).__qualname__,
                                reason="actor_stopped",
                            )
                        )
        finally:
            # Set last, so whoever waits for the stop also waits for its events.
            self.closed = True
            if self._closed_event is not None:
                self._closed_event.set()
