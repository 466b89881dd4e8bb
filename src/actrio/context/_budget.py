"""Hierarchical budgets: limits that split down the scope tree, spending that flows up.

A :class:`BudgetLedger` is one node of a tree. The root holds a :class:`Budget`;
:meth:`BudgetLedger.grant` makes a child whose limit is the field-wise minimum
of what it asked for and what its parent (and, transitively, every ancestor)
has left. :meth:`BudgetLedger.charge` records one :class:`Spend` on the node and
on every ancestor, so a child can never spend what its parent does not have
without the parent seeing it at once.

Decisions:

- *Exceeded* means ``spent > limit``: a limit of 3 model calls allows 3. Since
  every earlier charge left ``spent <= limit``, a node is exceeded by at most
  the one charge (the "in-flight unit") that broke it.
- :meth:`BudgetLedger.charge` never raises on overspending: what was spent was
  spent, so it is recorded, and the charge returns the *outermost* exceeded
  node on the chain, as a :class:`BudgetExceeded`. That node's subtree is the
  one to cancel: if only the child broke its own limit, the child; if the
  charge broke an ancestor's limit, the whole ancestor subtree, since every
  scope under it shares the missing money. The caller (the parent's actor)
  decides what to do; siblings of a child that broke only its own limit are
  untouched.
- Grants are ceilings, not reservations: a parent's remaining budget only
  drops when a descendant actually spends. Two children granted 100 tokens
  each from a parent with 150 left may both start; whichever pushes the parent
  over is stopped then. :meth:`BudgetLedger.close` therefore releases nothing;
  it only forbids further grants and charges on that node.
- ``context_tokens`` is a per-request ceiling, not a running total: it is
  never charged, and :meth:`BudgetLedger.check_context` tells whether one
  request of a given size fits. A child's ceiling is at most its parent's.
- When several fields break at once, the first in the order ``total_tokens,
  usd, seconds, model_calls, tool_calls`` is named.

Concurrency: all accounting is synchronous and meant to run on the one trio
thread; there is no await between reading and writing a node, so no lock is
needed. It must not be shared across threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, TypeAlias, TypeVar

import attrs

from actrio._wire import register_kind_union
from actrio.kernel import ActrioError, Event, UsageError

__all__ = (
    "BUDGET_EVENT_KINDS",
    "Budget",
    "BudgetCharged",
    "BudgetEvent",
    "BudgetExceeded",
    "BudgetExhausted",
    "BudgetGranted",
    "BudgetLedger",
    "InvalidBudget",
    "Spend",
)

_INT_FIELDS = frozenset({"context_tokens", "total_tokens", "model_calls", "tool_calls"})
_CUMULATIVE = ("total_tokens", "usd", "seconds", "model_calls", "tool_calls")
"""The charged fields, in the order an exhaustion names them."""


class InvalidBudget(UsageError, ValueError):
    """A budget, spend or ledger name was given a value it cannot hold.

    Attributes:
        field: The name of the offending field.
    """

    def __init__(self, field: str, message: str) -> None:
        """Name ``field`` and say what was wrong with it."""
        super().__init__(f"{field}: {message}")
        self.field = field


class BudgetExceeded(ActrioError):
    """A ledger spent more than one of its limits allows.

    Attributes:
        path: The exceeded ledger's path (``root/child/...``); cancel its subtree.
        field: The limit that broke, e.g. ``"usd"``.
        limit: That limit's value.
        spent: What the ledger had spent (or would have) in that field.
    """

    def __init__(self, *, path: str, field: str, limit: float, spent: float) -> None:
        """Describe the broken limit."""
        super().__init__(f"budget {path!r} exceeded {field}: spent {spent} of limit {limit}")
        self.path = path
        self.field = field
        self.limit = limit
        self.spent = spent

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle through the keyword constructor."""
        return (_rebuild_exceeded, (self.path, self.field, self.limit, self.spent))


def _rebuild_exceeded(path: str, field: str, limit: float, spent: float) -> BudgetExceeded:
    return BudgetExceeded(path=path, field=field, limit=limit, spent=spent)


def _check_amount(field: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool):
        raise InvalidBudget(field, "expected a number, got bool")
    if field in _INT_FIELDS:
        if not isinstance(value, int):
            raise InvalidBudget(field, f"expected an int, got {type(value).__name__}")
    elif not isinstance(value, int | float):
        raise InvalidBudget(field, f"expected a number, got {type(value).__name__}")
    elif not math.isfinite(value):
        raise InvalidBudget(field, f"expected a finite number, got {value!r}")
    if value < 0:
        raise InvalidBudget(field, f"must not be negative, got {value!r}")


def _limit(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _check_amount(attribute.name, value, optional=True)


def _amount(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _check_amount(attribute.name, value, optional=False)


_N = TypeVar("_N", int, float)


def _min(a: _N | None, b: _N | None) -> _N | None:
    """The tighter limit; ``None`` is no limit."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


@attrs.frozen(kw_only=True)
class Budget:
    """Limits for a scope; any subset may be set, ``None`` means unlimited.

    Attributes:
        context_tokens: Ceiling on the size of one model request, in tokens.
        total_tokens: Tokens in and out, summed over every model call.
        usd: Money spent, in US dollars.
        seconds: Wall-clock (or charged) time.
        model_calls: Number of model calls.
        tool_calls: Number of tool calls.

    Raises:
        InvalidBudget: A field is negative, NaN, infinite, a bool, or not a
            number (counts must be ints).
    """

    context_tokens: int | None = attrs.field(default=None, validator=_limit)
    total_tokens: int | None = attrs.field(default=None, validator=_limit)
    usd: float | None = attrs.field(default=None, validator=_limit)
    seconds: float | None = attrs.field(default=None, validator=_limit)
    model_calls: int | None = attrs.field(default=None, validator=_limit)
    tool_calls: int | None = attrs.field(default=None, validator=_limit)

    @classmethod
    def unlimited(cls) -> Budget:
        """Return a budget with no limit at all."""
        return cls()

    def min(self, other: Budget) -> Budget:
        """Return the field-wise tighter of two budgets (``None`` is no limit)."""
        return Budget(
            context_tokens=_min(self.context_tokens, other.context_tokens),
            total_tokens=_min(self.total_tokens, other.total_tokens),
            usd=_min(self.usd, other.usd),
            seconds=_min(self.seconds, other.seconds),
            model_calls=_min(self.model_calls, other.model_calls),
            tool_calls=_min(self.tool_calls, other.tool_calls),
        )


@attrs.frozen(kw_only=True)
class Spend:
    """What one charge costs (or what a ledger has spent so far).

    Attributes:
        total_tokens: Tokens in and out.
        usd: Money, in US dollars.
        seconds: Time.
        model_calls: Model calls.
        tool_calls: Tool calls.

    Raises:
        InvalidBudget: A field is negative, NaN, infinite, a bool, or not a
            number (counts must be ints).
    """

    total_tokens: int = attrs.field(default=0, validator=_amount)
    usd: float = attrs.field(default=0.0, validator=_amount)
    seconds: float = attrs.field(default=0.0, validator=_amount)
    model_calls: int = attrs.field(default=0, validator=_amount)
    tool_calls: int = attrs.field(default=0, validator=_amount)

    def __add__(self, other: Spend) -> Spend:
        """Return the field-wise sum."""
        return Spend(
            total_tokens=self.total_tokens + other.total_tokens,
            usd=self.usd + other.usd,
            seconds=self.seconds + other.seconds,
            model_calls=self.model_calls + other.model_calls,
            tool_calls=self.tool_calls + other.tool_calls,
        )


@attrs.frozen(kw_only=True)
class BudgetGranted(Event):
    """A ledger was opened: a root, or a child granted from its parent.

    Attributes:
        path: The new ledger's path.
        parent_path: Its parent's path, ``None`` for a root.
        requested: What was asked for.
        granted: The limit it got: ``requested`` bounded by what was left.
    """

    kind: Literal["budget_granted"] = "budget_granted"
    path: str
    parent_path: str | None
    requested: Budget
    granted: Budget


@attrs.frozen(kw_only=True)
class BudgetCharged(Event):
    """A spend was charged to a ledger and all of its ancestors.

    Attributes:
        path: The ledger the charge was made on.
        spend: The charge.
        spent: That ledger's total after the charge.
    """

    kind: Literal["budget_charged"] = "budget_charged"
    path: str
    spend: Spend
    spent: Spend


@attrs.frozen(kw_only=True)
class BudgetExhausted(Event):
    """A ledger spent past one of its limits (emitted once per ledger).

    Attributes:
        path: The exhausted ledger.
        field: The limit that broke.
        limit: Its value.
        spent: What the ledger had spent in that field.
    """

    kind: Literal["budget_exhausted"] = "budget_exhausted"
    path: str
    field: str
    limit: float
    spent: float


BudgetEvent: TypeAlias = BudgetGranted | BudgetCharged | BudgetExhausted
"""The closed union of budget events."""

BUDGET_EVENT_KINDS = register_kind_union(BudgetEvent)

Emit: TypeAlias = Callable[[Event], None]


def _discard(_: Event) -> None:
    """Drop an event (the default sink)."""


class BudgetLedger:
    """One node of a budget tree: its limit, what it and its subtree spent.

    Build the root with :meth:`root` and children with :meth:`grant`; never
    call the constructor directly.
    """

    def __init__(
        self, *, name: str, limit: Budget, parent: BudgetLedger | None, emit: Emit
    ) -> None:
        """Make a node; use :meth:`root` or :meth:`grant` instead."""
        self.name: str = name
        self.limit: Budget = limit
        self.parent: BudgetLedger | None = parent
        self.path: str = name if parent is None else f"{parent.path}/{name}"
        self._emit = emit
        self._spent = Spend()
        self._exhausted: BudgetExceeded | None = None
        self._closed = False

    @classmethod
    def root(cls, budget: Budget, *, name: str = "root", emit: Emit | None = None) -> BudgetLedger:
        """Open the root of a budget tree.

        Args:
            budget: Its limit.
            name: Its name, the first segment of every path below it.
            emit: Called synchronously with each event of the tree.

        Raises:
            InvalidBudget: If ``name`` is empty or contains ``/``.
        """
        _check_name(name)
        ledger = cls(name=name, limit=budget, parent=None, emit=emit or _discard)
        ledger._emit(BudgetGranted(path=name, parent_path=None, requested=budget, granted=budget))
        return ledger

    @property
    def spent(self) -> Spend:
        """What this ledger and every ledger below it spent."""
        return self._spent

    @property
    def exhausted(self) -> BudgetExceeded | None:
        """How this ledger's own limit first broke, or ``None`` while it holds."""
        return self._exhausted

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def chain(self) -> list[BudgetLedger]:
        """Return this ledger and its ancestors, nearest first."""
        chain: list[BudgetLedger] = []
        node: BudgetLedger | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def remaining(self) -> Budget:
        """Return what may still be spent here, bounded by every ancestor.

        Cumulative fields are ``limit - spent`` (never below zero);
        ``context_tokens`` is the ceiling itself.
        """
        own = Budget(
            context_tokens=self.limit.context_tokens,
            total_tokens=_left_int(self.limit.total_tokens, self._spent.total_tokens),
            usd=_left(self.limit.usd, self._spent.usd),
            seconds=_left(self.limit.seconds, self._spent.seconds),
            model_calls=_left_int(self.limit.model_calls, self._spent.model_calls),
            tool_calls=_left_int(self.limit.tool_calls, self._spent.tool_calls),
        )
        return own if self.parent is None else own.min(self.parent.remaining())

    def grant(self, requested: Budget, name: str) -> BudgetLedger:
        """Open a child whose limit is ``requested`` bounded by :meth:`remaining`.

        Args:
            requested: What the child asks for (``Budget.unlimited()`` for all that is left).
            name: The child's name, the last segment of its path.

        Raises:
            InvalidBudget: If ``name`` is empty or contains ``/``.
            UsageError: If this ledger is closed.
        """
        _check_name(name)
        self._check_open("grant from")
        granted = requested.min(self.remaining())
        child = BudgetLedger(name=name, limit=granted, parent=self, emit=self._emit)
        self._emit(
            BudgetGranted(
                path=child.path, parent_path=self.path, requested=requested, granted=granted
            )
        )
        return child

    def check(self, spend: Spend) -> BudgetExceeded | None:
        """Tell whether charging ``spend`` would exceed a limit, without charging.

        Returns:
            The outermost ledger on the chain that would be exceeded, or ``None``.
        """
        broken: BudgetExceeded | None = None
        for node in self.chain():
            broken = node._breach(node._spent + spend) or broken
        return broken

    def refuse(self, spend: Spend) -> BudgetExceeded | None:
        """Tell whether ``spend`` would exceed a limit; if so, refuse it.

        Nothing is charged: the work is not done. The outermost ledger that
        would break is marked :attr:`exhausted` (with what it would have
        spent) and its :class:`BudgetExhausted` is emitted, once, so the
        subtree to stop is known and seen, as after a charge.

        Returns:
            The outermost ledger on the chain that would be exceeded, or ``None``.
        """
        broken = self.check(spend)
        if broken is not None:
            node = next(n for n in self.chain() if n.path == broken.path)
            if node._exhausted is None:
                node._exhausted = broken
                self._emit(
                    BudgetExhausted(
                        path=broken.path,
                        field=broken.field,
                        limit=float(broken.limit),
                        spent=float(broken.spent),
                    )
                )
        return broken

    def check_context(self, tokens: int) -> BudgetExceeded | None:
        """Tell whether one request of ``tokens`` fits the ``context_tokens`` ceiling.

        Nothing is charged and nothing is marked exhausted: the caller shrinks
        the request or gives up.

        Raises:
            InvalidBudget: If ``tokens`` is not a non-negative int.
        """
        _check_amount("context_tokens", tokens, optional=False)
        ceiling = self.limit.context_tokens
        if ceiling is not None and tokens > ceiling:
            return BudgetExceeded(
                path=self.path, field="context_tokens", limit=ceiling, spent=tokens
            )
        return None

    def charge(self, spend: Spend) -> BudgetExceeded | None:
        """Charge ``spend`` here and on every ancestor.

        The charge is always recorded. Each ledger whose limit breaks for the
        first time is marked :attr:`exhausted` and a :class:`BudgetExhausted`
        is emitted for it, nearest first, after the :class:`BudgetCharged`.

        Returns:
            The outermost exceeded ledger on the chain (cancel its subtree), or
            ``None`` if every limit holds.

        Raises:
            UsageError: If this ledger is closed.
        """
        self._check_open("charge")
        chain = self.chain()
        for node in chain:
            node._spent = node._spent + spend
        self._emit(BudgetCharged(path=self.path, spend=spend, spent=self._spent))
        outermost: BudgetExceeded | None = None
        for node in chain:
            if node._exhausted is None:
                node._exhausted = node._breach(node._spent)
                if node._exhausted is not None:
                    broken = node._exhausted
                    self._emit(
                        BudgetExhausted(
                            path=broken.path,
                            field=broken.field,
                            limit=float(broken.limit),
                            spent=float(broken.spent),
                        )
                    )
            outermost = node._exhausted or outermost
        return outermost

    def close(self) -> None:
        """Mark a finished ledger; its spending stays charged, nothing is released.

        Grants are ceilings, not reservations, so there is nothing to give
        back. Closing twice is allowed.
        """
        self._closed = True

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise UsageError(f"cannot {action} closed budget {self.path!r}")

    def _breach(self, spent: Spend) -> BudgetExceeded | None:
        for field in _CUMULATIVE:
            limit: float | None = getattr(self.limit, field)
            value: float = getattr(spent, field)
            if limit is not None and value > limit:
                return BudgetExceeded(path=self.path, field=field, limit=limit, spent=value)
        return None

    def __repr__(self) -> str:
        """Show the path, limit and spend."""
        return f"<BudgetLedger {self.path!r} limit={self.limit!r} spent={self._spent!r}>"


def _left(limit: float | None, spent: float) -> float | None:
    return None if limit is None else max(0.0, limit - spent)


def _left_int(limit: int | None, spent: int) -> int | None:
    return None if limit is None else max(0, limit - spent)


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name or "/" in name:
        raise InvalidBudget("name", f"expected a non-empty str without '/', got {name!r}")
