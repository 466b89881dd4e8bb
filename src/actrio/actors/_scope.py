"""Scopes as actors: :func:`open_scope`, the :class:`Scope` handle and :func:`mark`.

A scope is a hosted actor (see :meth:`ActorSystem.host`): the ``async with``
block is its body, its nursery holds the work and child actors started with
:meth:`Scope.start_soon` and :meth:`Scope.spawn`, and its cancel scope
carries its deadline. The current scope is the nearest scope actor above
the running task in the actor tree (found through the kernel's
current-actor contextvar), so concurrent tasks never see each other's
scopes and a scope's parent is always the scope whose nursery it runs in.

The life of a scope, as events::

    ScopeStarted  (after the scope actor started)
      ... events of its body, its tasks, its child scopes and actors ...
    ScopeEnded    (after all of them ended; published shielded)
"""

from __future__ import annotations

import datetime
import math
import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
import trio

from actrio._json import check_json, check_timeout
from actrio.actors._exceptions import ScopeTimeout
from actrio.events import (
    JsonValue,
    Mark,
    ScopeAttributes,
    ScopeEnded,
    ScopeStarted,
    ScopeStatus,
    ScopeType,
)
from actrio.kernel import (
    Actor,
    ActorRef,
    ActorStopped,
    ErrorInfo,
    Event,
    EventStream,
    SubscriberMode,
    Subscription,
    UsageError,
    current_system,
)
from actrio.kernel._actor import _Cell, _current_cell
from actrio.kernel._util import open_body_nursery
from actrio.middleware._registry import MiddlewareRegistry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Collection

    from actrio.codecs import AnnotatedLLMRequest, AnnotatedLLMResponse
    from actrio.kernel import ActorSystem

__all__ = ("Scope", "ScopeActor", "ScopeCancel", "current_scope", "mark", "open_scope")

#: Seconds a scope's end event may wait for room in subscriber queues.
END_EVENT_GRACE = 5.0


def _timestamp() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


@attrs.frozen
class ScopeCancel:
    """Message to a scope actor: cancel the scope and its subtree with ``reason``."""

    reason: str


class ScopeActor(Actor[ScopeCancel]):
    """The actor behind a :class:`Scope`; its ref takes :class:`ScopeCancel`."""

    spawns_children = True

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def receive(self, message: ScopeCancel) -> None:
        if not isinstance(message, ScopeCancel):
            raise UsageError(f"a scope actor takes ScopeCancel, not {type(message).__qualname__}")
        self.scope.cancel(message.reason)


class Scope:
    """Handle on a running scope, as given by :func:`open_scope`.

    Identity and payload are read-only; the handle also runs work in the
    scope, cancels it and registers scope-local subscribers and middleware.
    """

    def __init__(
        self,
        *,
        name: str,
        kind: ScopeType,
        attributes: ScopeAttributes,
        data: JsonValue,
        metadata: JsonValue,
        data_schema: dict[str, JsonValue] | None,
        category_profile: dict[str, JsonValue] | None,
        parent: Scope | None,
        deadline: float,
        own_deadline: float,
    ) -> None:
        self._uuid = str(uuid.uuid4())
        self._name = name
        self._kind = kind
        self._attributes = attributes
        self._data = data
        self._metadata = metadata
        self._data_schema = data_schema
        self._category_profile = category_profile
        self._parent = parent
        self._deadline = deadline
        self._own_deadline = own_deadline
        self._cell: _Cell | None = None
        self._tasks: trio.Nursery | None = None
        self._cancel_scope: trio.CancelScope | None = None
        self._cancel_reason: str | None = None
        self._middleware: MiddlewareRegistry | None = None
        self._subscriptions: list[Subscription] = []
        self._status: ScopeStatus | None = None
        self._ended = False
        self.end_data: JsonValue = None
        self.annotated_request: AnnotatedLLMRequest | None = None
        self.annotated_response: AnnotatedLLMResponse | None = None

    # -- identity (read-only) --

    @property
    def uuid(self) -> str:
        """The scope's unique id (as in its events)."""
        return self._uuid

    @property
    def name(self) -> str:
        """The scope's name."""
        return self._name

    @property
    def kind(self) -> ScopeType:
        """The scope's type."""
        return self._kind

    @property
    def attributes(self) -> ScopeAttributes:
        """The scope's attribute flags."""
        return self._attributes

    @property
    def parent(self) -> Scope | None:
        """The enclosing scope, None for a root scope."""
        return self._parent

    @property
    def parent_uuid(self) -> str | None:
        """The enclosing scope's uuid, None for a root scope."""
        return None if self._parent is None else self._parent._uuid

    @property
    def data(self) -> JsonValue:
        """Application data given when the scope was opened."""
        return self._data

    @property
    def metadata(self) -> JsonValue:
        """Metadata given when the scope was opened."""
        return self._metadata

    @property
    def deadline(self) -> float:
        """The effective deadline: the earlier of its own and its parent's."""
        return self._deadline

    @property
    def ref(self) -> ActorRef[ScopeCancel]:
        """The scope actor's ref.

        Raises:
            UsageError: Before the scope actor has started.
        """
        return ActorRef(self._live_cell())

    @property
    def path(self) -> str:
        """The scope actor's path in the actor tree."""
        return self._live_cell().path

    @property
    def status(self) -> ScopeStatus | None:
        """``ok``, ``error`` or ``cancelled`` once ended; None while running."""
        return self._status

    @property
    def cancel_reason(self) -> str | None:
        """The reason given to :meth:`cancel`, if it was called."""
        return self._cancel_reason

    @property
    def cancelled_caught(self) -> bool:
        """Whether the scope's own cancel scope stopped its body (as trio's has)."""
        return self._cancel_scope is not None and self._cancel_scope.cancelled_caught

    @property
    def middleware(self) -> MiddlewareRegistry:
        """This scope's local middleware; it applies to calls in its subtree."""
        if self._middleware is None:
            self._check_open("register middleware on")
            self._middleware = MiddlewareRegistry()
        return self._middleware

    # -- work --

    def start_soon(
        self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None
    ) -> None:
        """Run ``fn(*args)`` as a task in this scope; the scope ends after it.

        Its exception cancels the scope and comes out of the ``async with``.

        Raises:
            UsageError: Once the scope's body has ended.
        """
        tasks = self._tasks
        if tasks is None or self._ended:
            raise UsageError(f"scope {self._name!r} has ended; it cannot start work")
        tasks.start_soon(self._run_task, fn, args, name=name or getattr(fn, "__qualname__", None))

    async def _run_task(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        cell = self._live_cell()
        _current_cell.set(cell)  # this task's own context: its scope is this one
        await fn(*args)

    async def spawn(
        self, actor: Actor[Any], *, name: str | None = None, capacity: int | None = None
    ) -> ActorRef[Any]:
        """Start ``actor`` as a child of this scope's actor, in its nursery.

        It is stopped when the scope ends (after the body and its tasks).

        Raises:
            StartError: If its ``on_start`` failed.
            ActorStopped: If the scope has ended.
        """
        cell = self._cell
        if cell is None or self._ended:
            await trio.lowlevel.checkpoint()
            raise ActorStopped(f"scope {self._name!r} has ended; it cannot spawn")
        return await cell.system._spawn(actor, parent=cell, name=name, capacity=capacity)

    def cancel(self, reason: str = "cancelled") -> None:
        """Cancel the scope and everything in it; ``reason`` goes in its end event.

        The body exits at its next checkpoint without an exception, as from a
        cancelled ``trio.CancelScope``; :attr:`cancelled_caught` tells. The
        first reason given wins.
        """
        if not isinstance(reason, str):
            raise UsageError(f"a cancel reason must be a string, not {reason!r}")
        if self._ended:
            return
        if self._cancel_reason is None:
            self._cancel_reason = reason
        if self._cell is not None and not self._ended:
            self._cell.request_stop()

    # -- scope-local observers --

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
        """Subscribe ``handler`` to the events of this scope's subtree only.

        The subscription is finished when the scope ends: it still gets the
        scope's :class:`ScopeEnded` and whatever was queued, then nothing.
        Options are those of :meth:`ActorSystem.subscribe`.
        """
        cell = self._check_open("subscribe to")
        sub = cell.system.bus.subscribe(
            handler,
            mode=mode,
            capacity=capacity,
            max_failures=max_failures,
            types=types,
            name=name,
            where=self._in_subtree(cell.path),
        )
        self._subscriptions.append(sub)
        return sub

    def stream(
        self,
        *,
        mode: SubscriberMode = "lossless",
        capacity: int = 1024,
        types: Collection[type[Event]] | None = None,
    ) -> EventStream:
        """An :class:`EventStream` of this scope's subtree; it ends with the scope."""
        cell = self._check_open("stream")
        stream = cell.system.bus.stream(
            mode=mode, capacity=capacity, types=types, where=self._in_subtree(cell.path)
        )
        self._subscriptions.append(stream)
        return stream

    @staticmethod
    def _in_subtree(path: str) -> Callable[[Event], bool]:
        prefix = path + "/"

        def in_subtree(event: Event) -> bool:
            where = getattr(event, "path", None)
            return isinstance(where, str) and (where == path or where.startswith(prefix))

        return in_subtree

    # -- internals --

    def _live_cell(self) -> _Cell:
        if self._cell is None:
            raise UsageError(f"scope {self._name!r} has not started")
        return self._cell

    def _check_open(self, what: str) -> _Cell:
        if self._cell is None or self._ended:
            raise UsageError(f"scope {self._name!r} has ended; cannot {what} it")
        return self._cell

    def _lineage(self) -> list[Scope]:
        """This scope and its ancestors, outermost first."""
        chain: list[Scope] = []
        node: Scope | None = self
        while node is not None:
            chain.append(node)
            node = node._parent
        chain.reverse()
        return chain

    def _inherited_cancel_reason(self) -> str:
        now = trio.current_time()
        node: Scope | None = self
        while node is not None:
            if node._cancel_reason is not None:
                return node._cancel_reason
            if node._own_deadline <= now:
                return "deadline exceeded"
            node = node._parent
        if self._cell is not None and self._cell.stop_requested:
            return "stopped"  # through its ref, or by an actor above it
        return "cancelled from outside the scope"

    def __repr__(self) -> str:
        return f"<Scope {self._kind.value} {self._name!r} uuid={self._uuid}>"


def current_scope() -> Scope | None:
    """The scope the running task is in (the nearest scope actor above it), or None."""
    return _scope_of(_current_cell.get(None))


def _scope_of(cell: _Cell | None) -> Scope | None:
    while cell is not None:
        actor = cell.actor
        if isinstance(actor, ScopeActor):
            return actor.scope
        cell = cell.parent
    return None


def _resolve_parent(parent: Scope | None) -> tuple[ActorSystem, Scope | None]:
    cell = _current_cell.get(None)
    here = _scope_of(cell)
    if parent is None:
        return (here._live_cell().system if here is not None else current_system()), here
    if not isinstance(parent, Scope):
        raise UsageError(f"parent must be a Scope, got {type(parent).__qualname__}")
    if parent._ended or parent._cell is None:
        raise UsageError(f"scope {parent.name!r} has ended; it cannot be a parent")
    if parent is not here:
        # Its body would run outside that scope's nursery: the parent link
        # would not be the nursery link, and the child could outlive it.
        where = "outside any scope" if here is None else f"inside scope {here.name!r}"
        raise UsageError(
            f"open_scope(parent={parent.name!r}) called {where}; a scope's parent is the "
            "scope it runs in: use parent.start_soon(...) to run work in another scope"
        )
    return parent._cell.system, parent


def _check_options(
    name: str, kind: ScopeType, attributes: ScopeAttributes, deadline: float, timeout: float | None
) -> None:
    if not isinstance(name, str) or not name:
        raise UsageError(f"a scope name must be a non-empty string, not {name!r}")
    if not isinstance(kind, ScopeType):
        raise UsageError(f"kind must be a ScopeType, not {kind!r}")
    if not isinstance(attributes, ScopeAttributes):
        raise UsageError(f"attributes must be ScopeAttributes, not {attributes!r}")
    if not isinstance(deadline, int | float) or isinstance(deadline, bool) or math.isnan(deadline):
        raise UsageError(f"deadline must be a trio.current_time() value, not {deadline!r}")
    check_timeout(timeout)


def _kernel_name(scope: Scope) -> str:
    return f"{scope.kind.value}:{scope.name.replace('/', '%2F')}:{scope.uuid[:8]}"


@asynccontextmanager
async def open_scope(
    name: str,
    kind: ScopeType = ScopeType.AGENT,
    *,
    attributes: ScopeAttributes = ScopeAttributes.NONE,
    data: JsonValue = None,
    metadata: JsonValue = None,
    data_schema: dict[str, JsonValue] | None = None,
    category_profile: dict[str, JsonValue] | None = None,
    deadline: float = math.inf,
    timeout: float | None = None,
    parent: Scope | None = None,
) -> AsyncIterator[Scope]:
    """Open a scope actor as a child of the current scope; the block is its body.

    Example::

        async with actrio.open_scope("planner", actrio.ScopeType.AGENT) as scope:
            scope.start_soon(fetch, url)   # work inside the scope
            await actrio.mark("planned", data={"steps": 3})

    Args:
        name: The scope's name.
        kind: Its :class:`ScopeType`.
        attributes: Its :class:`ScopeAttributes` flags.
        data: Application data (JSON) for its events.
        metadata: Metadata (JSON) for its events.
        data_schema: A schema descriptor for ``data``.
        category_profile: Category-specific data for its events.
        deadline: A ``trio.current_time()`` deadline.
        timeout: Seconds from now; the effective deadline is the earliest of
            this, ``deadline`` and the parent's.
        parent: The parent scope, as a check: it must be the current scope
            (the scope whose nursery the block runs in). By default the
            current scope (None at the top).

    Raises:
        UsageError: For a bad argument (naming it), or outside an actor system.
        ScopeTimeout: When the scope's own deadline cancelled its body.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    _check_options(name, kind, attributes, deadline, timeout)
    check_json(data, "data")
    check_json(metadata, "metadata")
    check_json(data_schema, "data_schema")
    check_json(category_profile, "category_profile")
    system, parent = _resolve_parent(parent)
    async with open_call_scope(
        system,
        parent,
        name,
        kind,
        attributes=attributes,
        data=data,
        metadata=metadata,
        data_schema=data_schema,
        category_profile=category_profile,
        deadline=deadline,
        timeout=timeout,
    ) as scope:
        yield scope


@asynccontextmanager
async def open_call_scope(
    system: ActorSystem,
    parent: Scope | None,
    name: str,
    kind: ScopeType,
    *,
    attributes: ScopeAttributes = ScopeAttributes.NONE,
    data: JsonValue = None,
    metadata: JsonValue = None,
    data_schema: dict[str, JsonValue] | None = None,
    category_profile: dict[str, JsonValue] | None = None,
    deadline: float = math.inf,
    timeout: float | None = None,
    annotated_request: AnnotatedLLMRequest | None = None,
) -> AsyncIterator[Scope]:
    """Open a scope under an already resolved parent (arguments already checked)."""
    own = deadline if timeout is None else min(deadline, trio.current_time() + timeout)
    effective = min(own, math.inf if parent is None else parent.deadline)
    scope = Scope(
        name=name,
        kind=kind,
        attributes=attributes,
        data=data,
        metadata=metadata,
        data_schema=data_schema,
        category_profile=category_profile,
        parent=parent,
        deadline=effective,
        own_deadline=own,
    )
    scope.annotated_request = annotated_request
    async with _lifecycle(scope, system):
        yield scope


@asynccontextmanager
async def _lifecycle(scope: Scope, system: ActorSystem) -> AsyncIterator[None]:
    started = trio.current_time()
    announced = False
    outcome: tuple[ScopeStatus, BaseException | None] = ("ok", None)
    timed_out = False
    try:
        async with system.host(
            ScopeActor(scope), name=_kernel_name(scope), deadline=scope._own_deadline
        ) as ref:
            scope._cell = ref._cell
            scope._cancel_scope = ref._cell._scope
            announced = await _announce(scope, system)
            async with open_body_nursery() as tasks:
                scope._tasks = tasks
                yield
            scope._ended = True
            _orphan_children(scope)
        if scope.cancelled_caught:
            outcome = ("cancelled", None)
            timed_out = scope._cancel_reason is None and scope._own_deadline <= trio.current_time()
    except BaseException as error:
        outcome = (_status_of(error), error)
        raise
    finally:
        scope._ended = True
        scope._middleware = None
        scope._status = outcome[0]
        if announced:
            await _publish_end(scope, system, started, outcome)
        for sub in scope._subscriptions:
            sub.finish()
        scope._subscriptions.clear()
    if timed_out:
        raise ScopeTimeout(scope.name, scope.deadline)


def _orphan_children(scope: Scope) -> None:
    """Give the scopes still running under ``scope`` (abandoned streams) their reason."""
    for child in scope._live_cell().children.values():
        actor = child.actor
        if isinstance(actor, ScopeActor) and actor.scope._cancel_reason is None:
            actor.scope._cancel_reason = f"parent scope {scope.name!r} ended"


def _status_of(error: BaseException) -> ScopeStatus:
    if isinstance(error, trio.Cancelled):
        return "cancelled"
    if isinstance(error, BaseExceptionGroup):
        rest = error.split(trio.Cancelled)[1]
        return "cancelled" if rest is None else _status_of(rest.exceptions[0])
    return "error" if isinstance(error, Exception) else "cancelled"


async def _announce(scope: Scope, system: ActorSystem) -> bool:
    """Publish ScopeStarted, shielded; report whether it went out."""
    bus = system.bus
    if not bus.active:
        return True  # nobody listens: the end event will not be built either
    cell = scope._live_cell()
    event = ScopeStarted(
        uuid=scope.uuid,
        parent_uuid=scope.parent_uuid,
        timestamp=_timestamp(),
        name=scope.name,
        category=scope.kind.value,
        category_profile=scope._category_profile,
        attributes=scope.attributes.names(),
        data=scope.data,
        metadata=scope.metadata,
        data_schema=scope._data_schema,
        path=cell.path,
        actor_id=cell.id,
        annotated_request=scope.annotated_request,
    )
    return await bus.publish_within(event, END_EVENT_GRACE)


async def _publish_end(
    scope: Scope,
    system: ActorSystem,
    started: float,
    outcome: tuple[ScopeStatus, BaseException | None],
) -> None:
    bus = system.bus
    if not bus.active:
        return
    status, error = outcome
    cell = scope._live_cell()
    event = ScopeEnded(
        uuid=scope.uuid,
        parent_uuid=scope.parent_uuid,
        timestamp=_timestamp(),
        name=scope.name,
        category=scope.kind.value,
        category_profile=scope._category_profile,
        attributes=scope.attributes.names(),
        data=scope.end_data,
        metadata=scope.metadata,
        data_schema=scope._data_schema,
        path=cell.path,
        actor_id=cell.id,
        status=status,
        error=ErrorInfo.from_exception(error) if status == "error" and error else None,
        cancel_reason=scope._inherited_cancel_reason() if status == "cancelled" else None,
        duration=trio.current_time() - started,
        annotated_response=scope.annotated_response,
    )
    await bus.publish_within(event, END_EVENT_GRACE)


async def mark(
    name: str,
    *,
    data: JsonValue = None,
    metadata: JsonValue = None,
    category: str | None = None,
    category_profile: dict[str, JsonValue] | None = None,
    data_schema: dict[str, JsonValue] | None = None,
    scope: Scope | None = None,
) -> str:
    """Record a point-in-time :class:`Mark` event under the current scope.

    Returns:
        The mark's uuid.

    Raises:
        UsageError: For a bad argument, or outside an actor system.
    """
    await trio.lowlevel.checkpoint_if_cancelled()
    if not isinstance(name, str) or not name:
        raise UsageError(f"a mark name must be a non-empty string, not {name!r}")
    if category is not None and not isinstance(category, str):
        raise UsageError(f"category must be a string or None, not {category!r}")
    check_json(data, "data")
    check_json(metadata, "metadata")
    check_json(category_profile, "category_profile")
    check_json(data_schema, "data_schema")
    if scope is None:
        system, under = _resolve_parent(None)
    elif isinstance(scope, Scope) and scope._cell is not None and not scope._ended:
        system, under = scope._cell.system, scope
    else:
        raise UsageError(f"scope must be a running Scope, not {scope!r}")
    mark_id = str(uuid.uuid4())
    if system.bus.active:
        await system.bus.publish(
            Mark(
                uuid=mark_id,
                parent_uuid=None if under is None else under.uuid,
                path=None if under is None else under.path,
                timestamp=_timestamp(),
                name=name,
                category=category,
                category_profile=category_profile,
                data=data,
                metadata=metadata,
                data_schema=data_schema,
            )
        )
    await trio.lowlevel.cancel_shielded_checkpoint()
    return mark_id
