"""Supervisors after Erlang/OTP: child specs, strategies, restart intensity.

A :class:`Supervisor` is an actor whose children are described by
:class:`ChildSpec` values. It starts them in order and stops them in reverse
order; when one exits it decides, from the child's restart type and its own
strategy, which children to restart. More than ``max_restarts`` restart
cycles within ``period`` seconds make it stop every child and escalate a
:class:`SupervisorEscalation` to its parent.

Each child runs inside a shielded cancel scope, so cancelling the supervisor
does not tear the children down all at once: the supervisor stops them one
by one, newest first, each within its own shutdown grace.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import attrs
import tenacity
import trio

from actrio.kernel._actor import Actor, ActorRef, Exit, _Cell, is_fatal
from actrio.kernel._events import (
    ActorRestarted,
    ErrorInfo,
    RestartCycle,
    ShutdownTimeout,
    SupervisorEscalated,
)
from actrio.kernel._exceptions import (
    ActorError,
    ActorStopped,
    FailureRecord,
    NameTaken,
    Reject,
    SpecError,
    StartError,
    SupervisorEscalation,
    UsageError,
)
from actrio.kernel._intensity import RestartIntensity
from actrio.kernel._mailbox import Request

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable

    from actrio.kernel._events import ExitReason

__all__ = (
    "BRUTAL_KILL",
    "ChildInfo",
    "ChildSpec",
    "DeleteChild",
    "RestartChild",
    "RestartType",
    "StartChild",
    "Strategy",
    "Supervisor",
    "SupervisorRequest",
    "TerminateChild",
    "WhichChildren",
)

Strategy: TypeAlias = Literal["one_for_one", "one_for_all", "rest_for_one"]
RestartType: TypeAlias = Literal["permanent", "transient", "temporary"]
BRUTAL_KILL: Final = "brutal_kill"
"""``ChildSpec.shutdown`` value: cancel the child and skip its ``on_stop``."""

HISTORY_LIMIT: Final = 100
"""How many restart cycles a supervisor remembers (at least ``max_restarts + 1``)."""

_STRATEGIES: Final = ("one_for_one", "one_for_all", "rest_for_one")
_RESTART_TYPES: Final = ("permanent", "transient", "temporary")


def _check_id(_: object, __: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value or "/" in value:
        raise SpecError("id", f"must be a non-empty string without '/', not {value!r}")


def _check_factory(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not callable(value):
        raise SpecError("factory", f"must be a callable returning an Actor, not {value!r}")


def _check_restart(_: object, __: attrs.Attribute[str], value: object) -> None:
    if value not in _RESTART_TYPES:
        raise SpecError("restart", f"must be one of {_RESTART_TYPES}, not {value!r}")


def _check_shutdown(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value == BRUTAL_KILL:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise SpecError(
            "shutdown", f"must be seconds >= 0 (math.inf allowed) or 'brutal_kill', not {value!r}"
        )


def _check_capacity(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError("capacity", f"must be a positive int or None, not {value!r}")


@attrs.frozen
class ChildSpec:
    """How a supervisor starts, restarts and stops one child.

    Attributes:
        id: Unique among the supervisor's children; also the child's name in
            its path.
        factory: Returns a fresh actor instance for each incarnation.
        restart: ``permanent`` (always restarted), ``transient`` (restarted
            only after a failure) or ``temporary`` (never restarted, and
            forgotten once it exits).
        shutdown: Seconds of grace for the child's ``on_stop`` when it is
            stopped, or ``"brutal_kill"`` to skip ``on_stop``.
        capacity: Mailbox capacity; the system default if None.
    """

    id: str = attrs.field(validator=_check_id)
    factory: Callable[[], Actor[Any]] = attrs.field(validator=_check_factory)
    restart: RestartType = attrs.field(default="permanent", kw_only=True, validator=_check_restart)
    shutdown: float | Literal["brutal_kill"] = attrs.field(
        default=5.0, kw_only=True, validator=_check_shutdown
    )
    capacity: int | None = attrs.field(default=None, kw_only=True, validator=_check_capacity)


@attrs.frozen(kw_only=True)
class ChildInfo:
    """What :class:`WhichChildren` reports about one child."""

    id: str
    ref: ActorRef[Any] | None
    restart: RestartType
    running: bool
    restarts: int


@attrs.frozen
class WhichChildren(Request[tuple[ChildInfo, ...]]):
    """Ask a supervisor for its children, in start order."""


@attrs.frozen
class StartChild(Request[ActorRef[Any]]):
    """Add a child spec and start it (it becomes the last child)."""

    spec: ChildSpec


@attrs.frozen
class TerminateChild(Request[None]):
    """Stop a child; it is not restarted, and a non-temporary spec is kept."""

    child_id: str


@attrs.frozen
class RestartChild(Request[ActorRef[Any]]):
    """Start a terminated child again from its kept spec."""

    child_id: str


@attrs.frozen
class DeleteChild(Request[None]):
    """Forget the spec of a terminated child."""

    child_id: str


SupervisorRequest: TypeAlias = (
    WhichChildren | StartChild | TerminateChild | RestartChild | DeleteChild
)


def _unboxed(error: ActorError) -> BaseException:
    """The original error inside a plain box; an escalation is its own story."""
    return error if isinstance(error, SupervisorEscalation) else error.error


def _should_restart(restart: RestartType, reason: ExitReason) -> bool:
    if restart == "permanent":
        return True
    if restart == "transient":
        return reason == "failed"
    return False


class _Child:
    __slots__ = ("cell", "done", "restarts", "running", "spec")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.cell: _Cell | None = None
        self.running = False
        self.restarts = 0
        self.done = trio.Event()

    @property
    def grace(self) -> float | None:
        shutdown = self.spec.shutdown
        return None if shutdown == BRUTAL_KILL else float(shutdown)


@attrs.frozen
class _ChildExit:
    child: _Child
    cell: _Cell
    incarnation: int
    exit: Exit


class Supervisor(Actor[SupervisorRequest]):
    """An actor that starts, watches and restarts its children.

    Args:
        children: Child specs, started in this order when the supervisor starts.
        strategy: ``one_for_one`` restarts only the child that exited;
            ``one_for_all`` stops the others (newest first) and restarts all;
            ``rest_for_one`` stops and restarts the children started after it.
        max_restarts: Restart cycles allowed within ``period``; 0 escalates
            at the first one.
        period: Length of the sliding window, in seconds (> 0, finite).
        backoff: A tenacity wait strategy (``tenacity.wait_exponential(...)``)
            giving the delay before each restart cycle (one sleep per cycle,
            however many children it restarts); its attempt number is the
            count of cycles in the current window. Requests to the
            supervisor wait while it sleeps.
        sleep: How to wait for the backoff; ``trio.sleep`` (so a
            ``MockClock`` makes it instant in tests).

    Raises:
        SpecError: For a bad flag or duplicate child ids, naming the field.
    """

    def __init__(
        self,
        children: Iterable[ChildSpec] = (),
        *,
        strategy: Strategy = "one_for_one",
        max_restarts: int = 3,
        period: float = 5.0,
        backoff: Callable[[tenacity.RetryCallState], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
    ) -> None:
        specs = list(children)
        for spec in specs:
            if not isinstance(spec, ChildSpec):
                raise SpecError("children", f"expected ChildSpec values, got {spec!r}")
        seen: set[str] = set()
        for spec in specs:
            if spec.id in seen:
                raise SpecError("children", f"duplicate child id {spec.id!r}")
            seen.add(spec.id)
        if strategy not in _STRATEGIES:
            raise SpecError("strategy", f"must be one of {_STRATEGIES}, not {strategy!r}")
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise SpecError("max_restarts", f"must be an int >= 0, not {max_restarts!r}")
        if (
            isinstance(period, bool)
            or not isinstance(period, int | float)
            or not 0 < period < math.inf
        ):
            raise SpecError("period", f"must be a finite number of seconds > 0, not {period!r}")
        if backoff is not None and not callable(backoff):
            raise SpecError("backoff", f"must be a tenacity wait strategy, not {backoff!r}")
        self.strategy: Strategy = strategy
        self.max_restarts = max_restarts
        self.period = float(period)
        self._specs = specs
        self._backoff = backoff
        self._sleep = sleep
        self._children: list[_Child] = []
        # Bounded, so a long-lived supervisor does not keep every traceback
        # it ever saw; it always covers the intensity window.
        self._history: deque[FailureRecord] = deque(maxlen=max(HISTORY_LIMIT, max_restarts + 1))
        self._intensity = RestartIntensity(max_restarts, self.period)
        self._exits_send, self._exits = trio.open_memory_channel[_ChildExit](math.inf)
        self._lock = trio.Lock()
        self._watch_scope = trio.CancelScope()

    spawns_children = True  # its children live in its nursery

    # -- lifecycle --

    async def on_start(self) -> None:
        """Start the exit watcher, then every child in order.

        Raises:
            StartError: Naming the first child that failed to start; the
                children already started are stopped in reverse order.
        """
        nursery = self._cell._nursery
        assert nursery is not None
        # The exit channel is unbounded by design: each child incarnation
        # reports at most once, so it never holds more than len(children).
        nursery.start_soon(self._watch_exits, name=f"{self._cell.path}:exits")
        for spec in self._specs:
            child = _Child(spec)
            self._children.append(child)
            await self._start(child)

    async def receive(self, message: SupervisorRequest) -> Any:
        """Handle a request; bad requests are refused without crashing."""
        async with self._lock:
            match message:
                case WhichChildren():
                    return tuple(self._info(c) for c in self._children)
                case StartChild(spec):
                    return await self._request_start(spec)
                case TerminateChild(child_id):
                    await self._terminate(self._find(child_id))
                    return None
                case RestartChild(child_id):
                    return await self._request_restart(self._find(child_id))
                case DeleteChild(child_id):
                    child = self._find(child_id)
                    if child.running:
                        raise Reject(
                            UsageError(f"child {child_id!r} is running; terminate it first")
                        )
                    self._children.remove(child)
                    return None
        raise Reject(UsageError(f"unknown supervisor request {message!r}"))

    async def _stop_children(self) -> None:
        # Runs shielded when this supervisor's incarnation ends, however it ends.
        self._watch_scope.cancel()
        async with self._lock:
            for child in reversed(list(self._children)):
                if child.running:
                    await self._stop(child, for_good=True)
                elif child.cell is not None:
                    await child.cell.close()

    # -- requests --

    def _info(self, child: _Child) -> ChildInfo:
        ref: ActorRef[Any] | None = None
        if child.cell is not None and child.running:
            ref = ActorRef(child.cell)
        return ChildInfo(
            id=child.spec.id,
            ref=ref,
            restart=child.spec.restart,
            running=child.running,
            restarts=child.restarts,
        )

    def _find(self, child_id: str) -> _Child:
        for child in self._children:
            if child.spec.id == child_id:
                return child
        raise Reject(UsageError(f"no child with id {child_id!r}"))

    async def _request_start(self, spec: ChildSpec) -> ActorRef[Any]:
        if not isinstance(spec, ChildSpec):
            raise Reject(SpecError("spec", f"expected a ChildSpec, got {spec!r}"))
        if any(c.spec.id == spec.id for c in self._children):
            raise Reject(NameTaken(f"a child with id {spec.id!r} already exists"))
        child = _Child(spec)
        self._children.append(child)
        try:
            await self._start(child)
        except StartError as error:
            self._children.remove(child)
            await self._close(child)
            raise Reject(error) from None
        assert child.cell is not None
        return ActorRef(child.cell)

    async def _request_restart(self, child: _Child) -> ActorRef[Any]:
        if child.running:
            raise Reject(UsageError(f"child {child.spec.id!r} is already running"))
        try:
            await self._start(child)
        except StartError as error:
            await self._close(child)
            raise Reject(error) from None
        assert child.cell is not None
        return ActorRef(child.cell)

    async def _terminate(self, child: _Child) -> None:
        if child.running:
            await self._stop(child, for_good=True)
        elif child.cell is not None:
            # Between incarnations (a restart that failed is queued): keep it down.
            child.cell.request_stop()
            await self._close(child)
        if child.spec.restart == "temporary" and child in self._children:
            self._children.remove(child)

    @staticmethod
    async def _close(child: _Child) -> None:
        if child.cell is not None:
            await child.cell.close()

    # -- starting and stopping one child --

    async def _start(self, child: _Child) -> None:
        cell = child.cell
        if cell is None or cell.closed:
            grace = child.grace
            cell = self._cell.system._new_cell(
                None,
                parent=self._cell,
                name=child.spec.id,
                capacity=child.spec.capacity,
                grace=grace,
            )
            child.cell = cell
        try:
            actor = child.spec.factory()
            if not isinstance(actor, Actor):
                raise UsageError(
                    f"factory of child {child.spec.id!r} returned {type(actor).__qualname__}, "
                    "not an Actor"
                )
        except Exception as error:
            if is_fatal(error):
                raise
            cell.incarnation += 1  # a failed start is an incarnation too
            raise cell.box(error, "on_start") from error
        child.done = trio.Event()
        child.running = True
        nursery = self._cell._nursery
        assert nursery is not None
        try:
            await nursery.start(self._run_child, child, cell, actor, name=cell.path)
        except BaseException:
            child.running = False
            raise

    async def _run_child(
        self,
        child: _Child,
        cell: _Cell,
        actor: Actor[Any],
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        # Once started, the child is shielded: only this supervisor stops its
        # children, one at a time. While starting it is not, so cancelling
        # whoever waits in nursery.start() also cancels the start.
        with trio.CancelScope() as scope:
            try:
                exit_ = await cell.run_incarnation(actor, _ShieldOnStart(scope, task_status))
            except BaseException:
                child.running = False
                child.done.set()
                await cell.close()
                raise
            child.running = False
            child.done.set()
            if not exit_.started:
                if exit_.error is not None:
                    raise exit_.error
                raise ActorStopped(f"{cell.path} stopped during on_start")
            self._exits_send.send_nowait(_ChildExit(child, cell, cell.incarnation, exit_))

    async def _stop(self, child: _Child, *, for_good: bool = False) -> None:
        cell = child.cell
        assert cell is not None
        brutal = child.grace is None
        if for_good:
            cell.request_stop(brutal=brutal)
        else:
            cell.interrupt(brutal=brutal)
        # A brutal kill has no grace of its own; it is reported as overdue
        # after the cell's grace (the system default) like any other stop.
        with trio.move_on_after(cell.grace) as waited:
            await child.done.wait()
        if waited.cancelled_caught:
            # trio cannot pierce a shield in user code: report, then keep waiting.
            await self._cell.system.bus.publish(
                ShutdownTimeout(actor_id=cell.id, path=cell.path, grace=cell.grace)
            )
            await child.done.wait()
        if for_good:
            await cell.close()

    # -- reacting to exits --

    async def _watch_exits(self) -> None:
        with self._watch_scope:
            async for first in self._exits:
                batch = [first]
                while True:
                    try:
                        batch.append(self._exits.receive_nowait())
                    except trio.WouldBlock:
                        break
                async with self._lock:
                    await self._handle_exits(batch)

    def _current(self, notice: _ChildExit) -> bool:
        child = notice.child
        return (
            child in self._children
            and child.cell is notice.cell
            and notice.incarnation == notice.cell.incarnation
            and not child.running
        )

    async def _handle_exits(self, batch: list[_ChildExit]) -> None:
        to_restart: list[_ChildExit] = []
        for notice in batch:
            if not self._current(notice):
                continue  # stale: this supervisor stopped or replaced it already
            child = notice.child
            if notice.cell.stop_requested or not _should_restart(
                child.spec.restart, notice.exit.reason
            ):
                await notice.cell.close()
                if child.spec.restart == "temporary":
                    self._children.remove(child)
                continue
            to_restart.append(notice)
        if to_restart:
            await self._restart_cycle(to_restart)

    async def _restart_cycle(self, notices: list[_ChildExit]) -> None:
        now = trio.current_time()
        errors = [n.exit.error for n in notices if n.exit.error is not None]
        error: BaseException | None
        if len(errors) > 1:
            error = ExceptionGroup("children failed in the same restart cycle", errors)
        else:
            error = errors[0] if errors else None
        failed = list(dict.fromkeys(n.child for n in notices))
        failed_ids = tuple(c.spec.id for c in failed)
        self._history.append(FailureRecord(failed_ids, now, error))
        allowed = self._intensity.add(now)
        taken_down = self._restart_set(failed)
        # Temporary bystanders are stopped with the others but never restarted.
        restarting = [c for c in taken_down if c.spec.restart != "temporary"]
        bus = self._cell.system.bus
        if bus.active:
            await bus.publish(
                RestartCycle(
                    supervisor_path=self._cell.path,
                    strategy=self.strategy,
                    failed=failed_ids,
                    errors=tuple(ErrorInfo.from_exception(_unboxed(e)) for e in errors),
                    restarting=tuple(c.spec.id for c in restarting) if allowed else (),
                    counted=True,
                )
            )
        if not allowed:
            await self._escalate()
            return
        # Stop the siblings the strategy takes down, newest first.
        for child in reversed(taken_down):
            if child.running:
                await self._stop(child)
        for child in taken_down:
            if child.spec.restart == "temporary":
                await self._close(child)
                self._children.remove(child)
        for child in restarting:
            if child.cell is not None and not child.cell.closed:
                child.cell.state = "restarting"
        delay = await self._backoff_delay()
        for child in restarting:
            await self._restart(child, delay)

    def _restart_set(self, failed: list[_Child]) -> list[_Child]:
        """The children the strategy takes down, in start order."""
        order = self._children
        if self.strategy == "one_for_one":
            return [c for c in order if c in failed]
        if self.strategy == "one_for_all":
            return [c for c in order if c in failed or c.running]
        first = min(order.index(c) for c in failed)
        return [c for c in order[first:] if c in failed or c.running]

    async def _backoff_delay(self) -> float:
        """Sleep the backoff once per cycle; return the delay."""
        if self._backoff is None:
            return 0.0
        state = tenacity.RetryCallState(retry_object=_RETRY, fn=None, args=(), kwargs={})
        state.attempt_number = max(1, len(self._intensity))
        delay = float(self._backoff(state))
        if delay > 0:
            await self._sleep(delay)
        return delay

    async def _restart(self, child: _Child, delay: float) -> None:
        cell = child.cell
        assert cell is not None
        if cell.stop_requested:
            # Stopped through its ref while waiting to restart: it stays down.
            await cell.close()
            return
        child.restarts += 1
        cell.restarts += 1
        try:
            await self._start(child)
        except ActorStopped:
            # Stopped through its ref while starting again.
            await cell.close()
            return
        except ActorError as error:
            # Failing to start again is one more failure, for the next cycle.
            self._exits_send.send_nowait(
                _ChildExit(child, cell, cell.incarnation, Exit("failed", error))
            )
            return
        bus = self._cell.system.bus
        if bus.active:
            await bus.publish(
                ActorRestarted(
                    actor_id=cell.id,
                    path=cell.path,
                    incarnation=cell.incarnation,
                    supervisor_path=self._cell.path,
                    delay=delay,
                )
            )

    async def _escalate(self) -> None:
        cell = self._cell
        escalation = SupervisorEscalation(
            actor_id=cell.id,
            path=cell.path,
            incarnation=cell.incarnation,
            history=tuple(self._history),
            max_restarts=self.max_restarts,
            period=self.period,
        )
        if cell.system.bus.active:
            await cell.system.bus.publish(
                SupervisorEscalated(
                    supervisor_id=cell.id,
                    path=cell.path,
                    failures=len(self._history),
                    max_restarts=self.max_restarts,
                    period=self.period,
                    error=ErrorInfo.from_exception(escalation.error),
                )
            )
        # Ends this incarnation as failed with exactly this error; the
        # children are stopped (newest first) on the way out.
        cell.crash(escalation)


class _ShieldOnStart:
    """A task status that shields the child's scope as it reports started."""

    def __init__(self, scope: trio.CancelScope, status: trio.TaskStatus[None]) -> None:
        self._scope = scope
        self._status = status

    def started(self, value: None = None) -> None:
        self._scope.shield = True
        self._status.started(value)


_RETRY: Final = tenacity.AsyncRetrying(sleep=trio.sleep)
"""Only there to build RetryCallState values for the backoff strategy."""
