"""pytest fixtures for testing code built on actrio: scripted models, a runtime, its events.

Enable it in your top-level ``conftest.py`` (pytest reads ``pytest_plugins``
only there)::

    pytest_plugins = ["actrio.testing.pytest_plugin"]

It is deliberately not registered as a ``pytest11`` entry point: an entry
point loads into every pytest session of every project installed next to
actrio, adding its fixtures, marker and hook to suites that never asked for
them (and shadowing fixtures of the same names). Listed in
``pytest_plugins``, the fixtures appear only where they are asked for.

Fixtures:

- ``scripted_model``: ``scripted_model(*turns, **options)`` makes a
  :class:`~actrio.testing.ScriptedModel`. When the test has passed, a model
  with turns left unplayed fails it at teardown (opt out per model with
  ``allow_unused=True``).
- ``function_model``: ``function_model(fn, **options)`` makes a
  :class:`~actrio.testing.FunctionModel`.
- ``actrio_runtime``: a :class:`~actrio.Runtime` from
  ``open_runtime(human="external", secrets_from_env=False)``; options come
  from ``@pytest.mark.actrio_runtime(**open_runtime_options)``.
- ``actrio_events``: an :class:`EventLog` of every event of
  ``actrio_runtime``.

``actrio_runtime`` and ``actrio_events`` are async fixtures: they need
pytest-trio (``trio_mode = true``, or ``@pytest.mark.trio`` on the test).

How events are recorded: one lossless subscription whose handler is
:meth:`EventLog.record`, a plain function. The bus gives each subscription
one FIFO queue and one task, so events are recorded exactly in ``seq``
order, and a lossless queue never drops one. The subscription is opened
inside ``actrio_runtime`` right after the runtime opens (when the test uses
``actrio_events``), so no fixture of yours can publish before it listens.
Delivery is asynchronous: an event is in the log once the subscription's
task has run, so in a test body wait for it with :meth:`EventLog.wait_for`.
At teardown ``actrio_events`` waits until the log has caught up with every
event published so far, so events published just before the test returned
are never lost (not even with ``shutdown_grace=0``, which cuts the bus's own
drain short); events of the runtime's own shutdown are recorded as the bus
drains.
"""

from __future__ import annotations

import difflib
import inspect
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

import pytest
import trio

from actrio.kernel import Event
from actrio.runtime import open_runtime
from actrio.testing._scripted import FunctionModel, ScriptedModel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator

    from actrio.runtime import Runtime
    from actrio.testing._scripted import Answer
    from actrio.types import ModelRequest

__all__ = ("EventLog", "FunctionModelFactory", "ScriptedModelFactory")

E = TypeVar("E", bound=Event)

_MARKER: Final = "actrio_runtime"
"""The marker that carries ``open_runtime`` options for the ``actrio_runtime`` fixture."""

_DEFAULTS: Final[dict[str, Any]] = {"human": "external", "secrets_from_env": False}
"""What ``actrio_runtime`` passes to ``open_runtime`` unless the marker says otherwise."""

_CAPACITY: Final = 1 << 16
"""The log's queue bound: large, so recording never holds a publisher back in practice."""

_SETTLE_TIMEOUT: Final = 5.0
"""Seconds ``actrio_events`` waits at teardown for the log to catch up with the bus."""

_SHOWN: Final = 20
"""Kinds listed in a ``wait_for`` timeout message (the latest ones)."""

_REPORTS: Final = pytest.StashKey[dict[str, pytest.TestReport]]()
_TAP: Final = pytest.StashKey["_Tap"]()


# ---------------------------------------------------------------- the event log


def _kind(event: Event) -> str:
    kind = getattr(event, "kind", None)
    return kind if isinstance(kind, str) else type(event).__name__


def _matcher(target: object) -> tuple[Callable[[Event], bool], str]:
    """A test for ``wait_for``'s argument, and how to name it in a message."""
    if isinstance(target, str):
        return (lambda event: _kind(event) == target), f"{target!r} event"
    if isinstance(target, type):
        if not issubclass(target, Event):
            raise TypeError(f"wait_for() takes an Event subclass, not the class {target.__name__}")
        cls = target
        return (lambda event: isinstance(event, cls)), f"{cls.__name__} event"
    if callable(target):
        name = getattr(target, "__qualname__", None) or repr(target)
        return (lambda event: bool(target(event))), f"event matching {name}"
    raise TypeError(
        "wait_for() takes a kind (str), an Event subclass or a predicate, "
        f"not {type(target).__name__}"
    )


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
    return float(timeout)


class EventLog:
    """Events of a runtime in bus order, with ways to look them up and wait for them.

    The ``actrio_events`` fixture gives one recording ``actrio_runtime``; to
    record another runtime, subscribe a log yourself::

        log = EventLog()
        rt.subscribe(log.record)

    An event's kind is its ``kind`` field (the class name for an event
    without one).
    """

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._base = 0  # how many events clear() forgot: the index of _events[0]
        self._last_seq = 0
        self._arrived = trio.lowlevel.ParkingLot()

    @property
    def events(self) -> list[Event]:
        """The events recorded since the last :meth:`clear`, in bus order (a copy)."""
        return list(self._events)

    def record(self, event: Event) -> None:
        """Add ``event``: the subscription handler (use it as ``rt.subscribe(log.record)``).

        Raises:
            TypeError: ``event`` is not an :class:`~actrio.kernel.Event`.
        """
        if not isinstance(event, Event):
            raise TypeError(f"EventLog.record() takes an Event, not {type(event).__name__}")
        self._events.append(event)
        self._last_seq = max(self._last_seq, event.seq)
        self._arrived.unpark_all()

    def kinds(self) -> list[str]:
        """The kind of every recorded event, in order."""
        return [_kind(event) for event in self._events]

    @overload
    def of(self, event_type: type[E], /) -> list[E]: ...

    @overload
    def of(self, *event_types: type[Event]) -> list[Event]: ...

    def of(self, *event_types: type[Event]) -> list[Any]:
        """The recorded events that are instances of any of ``event_types``, in order.

        Raises:
            TypeError: No type was given, or one is not an ``Event`` subclass.
        """
        if not event_types:
            raise TypeError("of() needs at least one Event subclass")
        for i, cls in enumerate(event_types):
            if not (isinstance(cls, type) and issubclass(cls, Event)):
                raise TypeError(f"of() argument {i}: expected an Event subclass, got {cls!r}")
        return [event for event in self._events if isinstance(event, event_types)]

    def where(self, kind: str) -> list[Event]:
        """The recorded events whose kind is ``kind``, in order.

        Raises:
            TypeError: ``kind`` is not a str.
        """
        if not isinstance(kind, str):
            raise TypeError(f"where() takes a kind (str), not {type(kind).__name__}")
        return [event for event in self._events if _kind(event) == kind]

    @overload
    async def wait_for(self, kind_or_predicate: type[E], *, timeout: float = ...) -> E: ...

    @overload
    async def wait_for(
        self, kind_or_predicate: str | Callable[[Event], bool], *, timeout: float = ...
    ) -> Event: ...

    async def wait_for(
        self,
        kind_or_predicate: str | type[Event] | Callable[[Event], bool],
        *,
        timeout: float = 5.0,
    ) -> Event:
        """The first event since the last :meth:`clear` matching, waiting for it if need be.

        Args:
            kind_or_predicate: A kind (``"policy_decision"``), an ``Event``
                subclass, or a function of an event returning whether it matches.
            timeout: Seconds to wait (virtual under the ``autojump_clock``).

        Returns:
            The earliest matching event recorded since the last ``clear()``.

        Raises:
            trio.TooSlowError: None arrived within ``timeout``; the message
                names what was awaited and the kinds recorded.
            TypeError: For an argument that is none of those.
            ValueError: For a negative or NaN ``timeout``.
        """
        match, what = _matcher(kind_or_predicate)
        seconds = _check_timeout(timeout)
        await trio.lowlevel.checkpoint_if_cancelled()
        found = self._find(match, self._base)
        if found is not None:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return found
        try:
            with trio.fail_after(seconds):
                while True:
                    start = self._base + len(self._events)
                    await self._arrived.park()
                    found = self._find(match, start)
                    if found is not None:
                        return found
        except trio.TooSlowError:
            kinds = self.kinds()
            shown = ("…, " if len(kinds) > _SHOWN else "") + ", ".join(kinds[-_SHOWN:])
            raise trio.TooSlowError(
                f"no {what} within {seconds:g}s; {len(kinds)} event(s) recorded since the "
                f"last clear(): [{shown}]"
            ) from None

    def _find(self, match: Callable[[Event], bool], start: int) -> Event | None:
        """The first event at absolute index ``start`` or later that matches."""
        for event in self._events[max(0, start - self._base) :]:
            if match(event):
                return event
        return None

    def clear(self) -> None:
        """Forget the events recorded so far (later ones are still recorded)."""
        self._base += len(self._events)
        self._events.clear()

    def __len__(self) -> int:
        return len(self._events)

    def __repr__(self) -> str:
        return f"<EventLog events={len(self._events)} last_seq={self._last_seq}>"


class _Tap:
    """An event log subscribed to a runtime, and where the bus stood when it began."""

    def __init__(self, runtime: Runtime) -> None:
        self.log = EventLog()
        # Every event stamped after this one reaches the subscription below.
        self.log._last_seq = runtime.system.bus.last_seq
        self.runtime = runtime
        runtime.subscribe(
            self.log.record, mode="lossless", capacity=_CAPACITY, name="actrio_events"
        )

    async def settle(self) -> None:
        """Wait until the log holds every event published so far (bounded)."""
        target = self.runtime.system.bus.last_seq
        with trio.move_on_after(_SETTLE_TIMEOUT):
            while self.log._last_seq < target:
                await self.log._arrived.park()


# ---------------------------------------------------------------- model factories


class ScriptedModelFactory:
    """What the ``scripted_model`` fixture gives: call it to make a ScriptedModel.

    Attributes:
        models: Every model made, in order.
    """

    def __init__(self) -> None:
        self.models: list[ScriptedModel] = []
        self._may_leave: set[int] = set()

    def __call__(self, *turns: Answer, allow_unused: bool = False, **options: Any) -> ScriptedModel:
        """``ScriptedModel(turns, **options)``, checked at teardown unless ``allow_unused``.

        Raises:
            TypeError: ``allow_unused`` is not a bool, or an option is unknown.
            ScriptError: A turn is not a ``Turn``, a str or a ``ModelResponse``.
        """
        if not isinstance(allow_unused, bool):
            raise TypeError(f"allow_unused must be a bool, not {allow_unused!r}")
        model = ScriptedModel(turns, **options)
        if allow_unused:
            self._may_leave.add(len(self.models))
        self.models.append(model)
        return model

    def unplayed(self) -> list[str]:
        """One line for each model that had to play every turn but has some left."""
        lines = []
        for i, model in enumerate(self.models):
            if model.remaining and i not in self._may_leave:
                total = model.remaining + len(model.requests)
                lines.append(
                    f"scripted_model #{i + 1} (model={model.model!r}) left {model.remaining} "
                    f"of its {total} turn(s) unplayed"
                )
        return lines


class FunctionModelFactory:
    """What the ``function_model`` fixture gives: call it to make a FunctionModel.

    Attributes:
        models: Every model made, in order.
    """

    def __init__(self) -> None:
        self.models: list[FunctionModel] = []

    def __call__(
        self, fn: Callable[[ModelRequest], Answer | Awaitable[Answer]], **options: Any
    ) -> FunctionModel:
        """``FunctionModel(fn, **options)``.

        Raises:
            TypeError: An option is unknown.
        """
        model = FunctionModel(fn, **options)
        self.models.append(model)
        return model


# ---------------------------------------------------------------- runtime options


def _runtime_options(item: pytest.Item) -> dict[str, Any]:
    """``open_runtime`` options: the defaults, then the markers, the closest last.

    Raises:
        TypeError: A marker has a positional argument or an unknown option.
    """
    accepted = inspect.signature(open_runtime).parameters
    options = dict(_DEFAULTS)
    for marker in reversed(list(item.iter_markers(_MARKER))):
        if marker.args:
            raise TypeError(
                f"@pytest.mark.{_MARKER} takes open_runtime() options as keywords only, "
                f"got positional {marker.args!r}"
            )
        for key in marker.kwargs:
            if key not in accepted:
                close = difflib.get_close_matches(key, accepted, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise TypeError(
                    f"@pytest.mark.{_MARKER} got an unknown option {key!r}{hint}; "
                    f"open_runtime() takes: {', '.join(accepted)}"
                )
        options.update(marker.kwargs)
    return options


# ---------------------------------------------------------------- pytest hooks


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``actrio_runtime`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): open_runtime() options for the actrio_runtime fixture",
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so fixtures can tell how the test went."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def scripted_model(request: pytest.FixtureRequest) -> Iterator[ScriptedModelFactory]:
    """Make scripted models; a passed test fails if one left turns unplayed.

    Example::

        def test_answer(scripted_model):
            model = scripted_model(Turn.text("hi"), "bye", model="m")
            ...
    """
    factory = ScriptedModelFactory()
    yield factory
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is None or not call.passed:
        return  # it failed, was skipped or never ran: that is the news, not the script
    unplayed = factory.unplayed()
    if unplayed:
        pytest.fail(
            "\n".join(
                [
                    "the test passed, but scripted turns were never played:",
                    *unplayed,
                    "(pass allow_unused=True to scripted_model(...) if that is intended)",
                ]
            ),
            pytrace=False,
        )


@pytest.fixture
def function_model() -> FunctionModelFactory:
    """Make function models: ``function_model(fn, **options)``."""
    return FunctionModelFactory()


@pytest.fixture
async def actrio_runtime(request: pytest.FixtureRequest) -> AsyncIterator[Runtime]:
    """A runtime for the test, closed after it; options by ``@pytest.mark.actrio_runtime``.

    The defaults are ``human="external"`` (questions wait for
    ``rt.respond``) and ``secrets_from_env=False`` (the test's environment
    does not change what is masked).
    """
    options = _runtime_options(request.node)
    async with open_runtime(**options) as runtime:
        if "actrio_events" in request.fixturenames:
            # Subscribe before any other fixture gets the runtime.
            request.node.stash[_TAP] = _Tap(runtime)
        yield runtime


@pytest.fixture
async def actrio_events(
    actrio_runtime: Runtime, request: pytest.FixtureRequest
) -> AsyncIterator[EventLog]:
    """Every event of ``actrio_runtime``, in bus order (see :class:`EventLog`)."""
    tap = request.node.stash.get(_TAP, None)
    if tap is None or tap.runtime is not actrio_runtime:
        tap = _Tap(actrio_runtime)  # actrio_runtime is a fixture of the user's
    yield tap.log
    await tap.settle()
