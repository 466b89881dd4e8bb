"""The kernel's exceptions.

Three groups are kept apart: signals that user code raises on purpose, misuse
of the API, and runtime failures::

    Shutdown                     signal: "stop me, reason shutdown"
    Reject                       signal: "answer this ask with an error, keep running"
    ActrioError
    ├── UsageError               misuse of the API (also a TypeError or ValueError)
    │   ├── InvalidMessage       a message that is not a frozen attrs instance (TypeError)
    │   ├── SpecError            a bad supervisor flag or child spec (ValueError)
    │   └── NameTaken            a sibling already has that name (ValueError)
    ├── ActorStopped             the actor is not running: tell/ask/stop on a dead ref
    └── ActorError               a failure inside an actor, boxed with provenance
        ├── StartError           ``on_start`` failed while the actor was being spawned
        └── SupervisorEscalation restart intensity exceeded; carries the history

``WouldBlock`` is trio's own :class:`trio.WouldBlock`, re-exported, so code
that already catches it keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from collections.abc import Sequence

Phase = Literal["on_start", "receive", "on_stop", "children"]


class Shutdown(Exception):
    """Raise inside an actor to stop it with exit reason ``shutdown``.

    A ``transient`` child that exits this way is not restarted; a
    ``permanent`` one is (Erlang/OTP semantics).

    Args:
        info: Optional detail, like OTP's ``{shutdown, Info}``.
    """

    def __init__(self, info: object = None) -> None:
        super().__init__(info)
        self.info = info


class Reject(Exception):
    """Raise inside ``receive`` to answer an ``ask`` with ``error`` and keep running.

    The asker gets ``error`` itself (not boxed); the actor does not crash.
    For a ``tell`` there is nobody to answer, so the message is just dropped.

    Args:
        error: The exception the asker receives.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class ActrioError(Exception):
    """Base class of every error actrio raises on its own."""


class UsageError(ActrioError):
    """The API was used in a way it does not support."""


class InvalidMessage(UsageError, TypeError):
    """A message was not an instance of a frozen attrs class."""


class SpecError(UsageError, ValueError):
    """A supervisor flag or child spec is invalid.

    Attributes:
        field: The name of the offending field.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class NameTaken(UsageError, ValueError):
    """A sibling actor already has this name."""


class ActorStopped(ActrioError):
    """The actor is not running, so it cannot take or answer a message."""


class ActorError(ActrioError):
    """A failure inside an actor, boxed with its provenance.

    The original exception is chained as ``__cause__``.

    Attributes:
        actor_id: Stable id of the actor (the same across restarts).
        path: The actor's path in the tree, like ``/app/worker``.
        incarnation: Which incarnation failed (1 for the first start).
        phase: Where it failed: ``on_start``, ``receive``, ``on_stop`` or
            ``children`` (a child of an unsupervised actor failed).
        message_type: Name of the message type being handled, if any.
        error: The original exception.
    """

    def __init__(
        self,
        *,
        actor_id: str,
        path: str,
        incarnation: int,
        phase: Phase,
        message_type: str | None,
        error: BaseException,
    ) -> None:
        where = f" handling {message_type}" if message_type else ""
        super().__init__(
            f"actor {path} (incarnation {incarnation}) failed in {phase}{where}: "
            f"{type(error).__name__}: {error}"
        )
        self.actor_id = actor_id
        self.path = path
        self.incarnation = incarnation
        self.phase = phase
        self.message_type = message_type
        self.error = error


class StartError(ActorError):
    """An actor (or a supervisor's child) failed while starting."""


@attrs.frozen
class FailureRecord:
    """One restart cycle handled by a supervisor.

    Attributes:
        child_ids: The children whose exit caused the cycle.
        time: ``trio.current_time()`` when the cycle was handled.
        error: The child's error; an ``ExceptionGroup`` when several children
            failed in the same tick; ``None`` when a permanent child merely
            exited (normally or with ``Shutdown``).
    """

    child_ids: tuple[str, ...]
    time: float
    error: BaseException | None


class SupervisorEscalation(ActorError):
    """A supervisor exceeded its restart intensity and gave up.

    All its children were stopped, in reverse start order, before this was
    raised into the parent's nursery.

    Attributes:
        history: Every failure the supervisor handled, oldest first.
    """

    def __init__(
        self,
        *,
        actor_id: str,
        path: str,
        incarnation: int,
        history: Sequence[FailureRecord],
        max_restarts: int,
        period: float,
    ) -> None:
        last = history[-1].error
        cause = last if last is not None else Shutdown(f"children {history[-1].child_ids} exited")
        super().__init__(
            actor_id=actor_id,
            path=path,
            incarnation=incarnation,
            phase="children",
            message_type=None,
            error=cause,
        )
        self.args = (
            f"supervisor {path} exceeded {max_restarts} restart(s) in {period}s "
            f"after {len(history)} restart cycle(s); last: {type(cause).__name__}: {cause}",
        )
        self.history = tuple(history)
