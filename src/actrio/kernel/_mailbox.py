"""Mailboxes: bounded trio memory channels carrying frozen attrs messages."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
import trio

from actrio.kernel._exceptions import ActorStopped, InvalidMessage

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = (
    "DEFAULT_CAPACITY",
    "Ask",
    "LazyMailbox",
    "Mailbox",
    "MailboxStatistics",
    "Request",
    "check_message",
)

R = TypeVar("R")

DEFAULT_CAPACITY = 64
"""Mailbox capacity when neither the spawn call nor the system says otherwise."""


class Request(Generic[R]):
    """Base for message classes that expect a reply of type ``R``.

    Deriving from it lets ``ref.ask(msg)`` be typed precisely::

        @attrs.frozen
        class GetCount(Request[int]):
            pass

        count: int = await ref.ask(GetCount())

    Plain frozen attrs messages can be asked too; their reply is typed
    ``object``.
    """

    __slots__ = ()


@functools.cache
def _is_frozen_attrs(cls: type[Any]) -> bool:
    return attrs.has(cls) and attrs.inspect(cls).is_frozen


def check_message(message: object) -> None:
    """Raise :class:`InvalidMessage` unless ``message`` is a frozen attrs instance."""
    # Classes are hashable; mypy's view of type[Any] just does not say so.
    if not _is_frozen_attrs(type(message)):  # type: ignore[arg-type]
        raise InvalidMessage(
            f"messages must be instances of frozen attrs classes (@attrs.frozen), "
            f"got {type(message).__qualname__}: {message!r:.80}"
        )


class Ask(Generic[R]):
    """The envelope of an ``ask``: the message plus the slot its reply lands in."""

    __slots__ = ("_event", "error", "message", "value")

    def __init__(self, message: object) -> None:
        self.message = message
        self.value: Any = None
        self.error: BaseException | None = None
        self._event = trio.Event()

    @property
    def done(self) -> bool:
        """Whether a reply or an error has been set."""
        return self._event.is_set()

    def succeed(self, value: Any) -> None:
        """Deliver the reply (first result wins)."""
        if not self._event.is_set():
            self.value = value
            self._event.set()

    def fail(self, error: BaseException) -> None:
        """Deliver an error to the asker (first result wins)."""
        if not self._event.is_set():
            self.error = error
            self._event.set()

    async def wait(self) -> Any:
        """Wait for the reply; raise the error if one was set."""
        await self._event.wait()
        if self.error is not None:
            raise self.error
        return self.value


@attrs.frozen(kw_only=True)
class MailboxStatistics:
    """A snapshot of one mailbox.

    Attributes:
        queued: Messages accepted and not yet taken by the actor.
        capacity: The bound on ``queued``.
        processed: Messages the actor has finished handling (any incarnation).
        senders_waiting: Senders blocked in ``tell``/``ask`` for room.
        rejected: Sends refused because the mailbox was full or closed.
        dead_lettered: Accepted messages that will never be handled.
        closed: Whether the mailbox takes no more messages.
    """

    queued: int
    capacity: int
    processed: int
    senders_waiting: int
    rejected: int
    dead_lettered: int
    closed: bool


class Mailbox:
    """A bounded queue of messages (and ask envelopes) for one actor.

    It outlives a single incarnation: a supervisor restarting an actor hands
    the same mailbox to the new incarnation, so queued messages are kept.
    """

    __slots__ = (
        "_receive",
        "_send",
        "capacity",
        "closed",
        "dead_lettered",
        "owner",
        "processed",
        "rejected",
    )

    def __init__(self, capacity: int, *, owner: str = "the actor") -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(f"mailbox capacity must be a positive int, not {capacity!r}")
        # Unsubscripted on purpose: open_memory_channel[object] builds a
        # generic alias on every call, a third of the cost of a spawn.
        channel: tuple[trio.MemorySendChannel[object], trio.MemoryReceiveChannel[object]]
        channel = trio.open_memory_channel(capacity)
        self._send, self._receive = channel
        self.capacity = capacity
        self.owner = owner  # named in ActorStopped messages
        self.processed = 0
        self.rejected = 0
        self.dead_lettered = 0
        self.closed = False

    async def put(self, item: object) -> None:
        """Queue ``item``, waiting for room (backpressure). Always a checkpoint.

        Raises:
            ActorStopped: If the mailbox is, or becomes, closed.
        """
        if self.closed:
            await trio.lowlevel.checkpoint()
            self.rejected += 1
            raise ActorStopped(f"{self.owner} is stopped")
        try:
            await self._send.send(item)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.rejected += 1
            raise ActorStopped(f"{self.owner} stopped before it took the message") from None

    def put_nowait(self, item: object) -> None:
        """Queue ``item`` or raise.

        Raises:
            trio.WouldBlock: If the mailbox is full.
            ActorStopped: If the mailbox is closed.
        """
        if self.closed:
            self.rejected += 1
            raise ActorStopped(f"{self.owner} is stopped")
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            self.rejected += 1
            raise

    def close(self) -> list[object]:
        """Refuse further messages and return those still queued."""
        self.closed = True
        # Send side first: senders still waiting for room are refused
        # (ActorStopped), rather than let into the buffer and dead-lettered.
        self._send.close()
        left: list[object] = []
        while True:
            try:
                left.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        self._receive.close()
        return left

    def statistics(self) -> MailboxStatistics:
        """Return a snapshot of this mailbox."""
        stats = self._send.statistics()
        return MailboxStatistics(
            queued=stats.current_buffer_used,
            capacity=self.capacity,
            processed=self.processed,
            senders_waiting=stats.tasks_waiting_send,
            rejected=self.rejected,
            dead_lettered=self.dead_lettered,
            closed=self.closed,
        )


class LazyMailbox(Mailbox):
    """A mailbox that calls ``on_first_put`` before the first message is queued.

    Hosted actors use it to start their message loop only when somebody
    actually sends them something.
    """

    __slots__ = ("on_first_put",)

    def __init__(self, capacity: int, *, owner: str = "the actor") -> None:
        super().__init__(capacity, owner=owner)
        self.on_first_put: Callable[[], None] | None = None

    def _first_put(self) -> None:
        hook, self.on_first_put = self.on_first_put, None
        if hook is not None:
            hook()

    async def put(self, item: object) -> None:
        """Queue ``item`` (see :meth:`Mailbox.put`)."""
        if not self.closed:
            self._first_put()
        await super().put(item)

    def put_nowait(self, item: object) -> None:
        """Queue ``item`` or raise (see :meth:`Mailbox.put_nowait`)."""
        if not self.closed:
            self._first_put()
        super().put_nowait(item)
