"""Kernel lifecycle events.

Every event is a frozen attrs class deriving from :class:`Event`, with a
``kind`` tag as a ``Literal`` default. Events of one family form a closed
union (here :data:`KernelEvent`); later layers add their own families (scope,
model, tool, policy events) on the same bus and register them with the same
converter (:mod:`actrio._wire`).

``seq`` and ``time`` are stamped by the bus when the event is published:
``seq`` is a per-system monotonic counter starting at 1, ``time`` is
``trio.current_time()`` (virtual under a ``MockClock``).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import attrs

from actrio._wire import register_kind_union

ExitReason = Literal["normal", "shutdown", "stopped", "failed", "cancelled"]
"""Why an actor incarnation ended.

- ``normal``: it called :meth:`Actor.stop` on itself.
- ``shutdown``: it raised :class:`Shutdown`.
- ``stopped``: it was stopped through ``ref.stop()``, by its supervisor, by
  its parent stopping, or by the system shutting down.
- ``failed``: an ``Exception`` escaped it.
- ``cancelled``: a trio cancel scope enclosing the actor system was cancelled.
"""


@attrs.frozen(kw_only=True)
class ErrorInfo:
    """A serialisable summary of an exception.

    Attributes:
        type: The exception's qualified class name.
        message: ``str(exception)``.
    """

    type: str
    message: str

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorInfo:
        """Summarise ``error``."""
        return cls(type=type(error).__qualname__, message=str(error))


@attrs.frozen(kw_only=True)
class Event:
    """Base of every event on the bus.

    Attributes:
        seq: Per-system sequence number, stamped at publication (0 before).
        time: ``trio.current_time()`` at publication.
    """

    seq: int = 0
    time: float = 0.0


@attrs.frozen(kw_only=True)
class ActorStarted(Event):
    """An actor incarnation finished ``on_start`` and takes messages."""

    kind: Literal["actor_started"] = "actor_started"
    actor_id: str
    path: str
    actor_type: str
    incarnation: int
    parent_id: str | None


@attrs.frozen(kw_only=True)
class ActorExited(Event):
    """An actor incarnation ended; emitted once for every started incarnation."""

    kind: Literal["actor_exited"] = "actor_exited"
    actor_id: str
    path: str
    incarnation: int
    reason: ExitReason


@attrs.frozen(kw_only=True)
class ActorFailed(Event):
    """An ``Exception`` escaped an actor incarnation."""

    kind: Literal["actor_failed"] = "actor_failed"
    actor_id: str
    path: str
    incarnation: int
    phase: Literal["on_start", "receive", "on_stop", "children"]
    message_type: str | None
    error: ErrorInfo


@attrs.frozen(kw_only=True)
class ActorRestarted(Event):
    """A supervisor started a new incarnation of a child."""

    kind: Literal["actor_restarted"] = "actor_restarted"
    actor_id: str
    path: str
    incarnation: int
    supervisor_path: str
    delay: float


@attrs.frozen(kw_only=True)
class RestartCycle(Event):
    """A supervisor handles one or more child exits as one restart decision.

    Attributes:
        failed: Ids of the children whose exit started the cycle.
        errors: Their errors (several when children failed in the same tick).
        restarting: Ids of the children that will be restarted, in start order.
        counted: Whether the cycle counts toward restart intensity.
    """

    kind: Literal["restart_cycle"] = "restart_cycle"
    supervisor_path: str
    strategy: Literal["one_for_one", "one_for_all", "rest_for_one"]
    failed: tuple[str, ...]
    errors: tuple[ErrorInfo, ...]
    restarting: tuple[str, ...]
    counted: bool


@attrs.frozen(kw_only=True)
class SupervisorEscalated(Event):
    """A supervisor exceeded its restart intensity and escalated."""

    kind: Literal["supervisor_escalated"] = "supervisor_escalated"
    supervisor_id: str
    path: str
    failures: int
    max_restarts: int
    period: float
    error: ErrorInfo


@attrs.frozen(kw_only=True)
class MessageDeadLettered(Event):
    """A message was accepted by a mailbox but will never be handled.

    Refusals at send time are not dead letters: the sender is told directly
    (``WouldBlock`` or ``ActorStopped``).
    """

    kind: Literal["message_dead_lettered"] = "message_dead_lettered"
    actor_id: str
    path: str
    message_type: str
    reason: Literal["actor_stopped"]


@attrs.frozen(kw_only=True)
class CancellationIgnored(Event):
    """User code swallowed ``trio.Cancelled`` and carried on.

    The actor is still stopped (trio's cancellation is level-triggered: the
    next checkpoint raises again), but the swallow is a bug worth seeing.
    """

    kind: Literal["cancellation_ignored"] = "cancellation_ignored"
    actor_id: str
    path: str
    phase: Literal["on_start", "receive"]
    message_type: str | None


@attrs.frozen(kw_only=True)
class ShutdownTimeout(Event):
    """A child did not finish stopping within its shutdown grace."""

    kind: Literal["shutdown_timeout"] = "shutdown_timeout"
    actor_id: str
    path: str
    grace: float


@attrs.frozen(kw_only=True)
class EventsDropped(Event):
    """Delivered to a lossy subscriber in place of events it had no room for.

    Its ``seq`` is the sequence number of the newest dropped event, so the
    subscriber still sees sequence numbers rise.
    """

    kind: Literal["events_dropped"] = "events_dropped"
    subscriber: str
    count: int
    first_seq: int
    last_seq: int


@attrs.frozen(kw_only=True)
class SubscriberDisabled(Event):
    """A subscriber raised too often and receives no more events."""

    kind: Literal["subscriber_disabled"] = "subscriber_disabled"
    subscriber: str
    failures: int
    error: ErrorInfo


KernelEvent: TypeAlias = (
    ActorStarted
    | ActorExited
    | ActorFailed
    | ActorRestarted
    | RestartCycle
    | SupervisorEscalated
    | MessageDeadLettered
    | CancellationIgnored
    | ShutdownTimeout
    | EventsDropped
    | SubscriberDisabled
)
"""The closed union of the kernel's events."""

KERNEL_EVENT_KINDS = register_kind_union(KernelEvent)
