"""Hierarchical budgets: validation, grants, charges, exhaustion, events (issue 6).

The DESIGN invariant under test: the sum charged to a budget never exceeds its
limit by more than one in-flight unit, and a child never spends what its parent
does not have.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from cattrs.errors import ClassValidationError
from hypothesis import event, given, settings
from hypothesis import strategies as st

from actrio._wire import converter, structure_tagged
from actrio.context._budget import (
    BUDGET_EVENT_KINDS,
    Budget,
    BudgetCharged,
    BudgetExceeded,
    BudgetExhausted,
    BudgetGranted,
    BudgetLedger,
    InvalidBudget,
    Spend,
)
from actrio.kernel import ActrioError, Event, UsageError

INT_FIELDS = ("context_tokens", "total_tokens", "model_calls", "tool_calls")
FLOAT_FIELDS = ("usd", "seconds")
CUMULATIVE = ("total_tokens", "usd", "seconds", "model_calls", "tool_calls")

# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", INT_FIELDS + FLOAT_FIELDS)
@pytest.mark.parametrize(
    ("value", "needle"),
    [(-1, "negative"), (True, "bool"), ("3", "str"), (float("nan"), ""), (float("inf"), "")],
)
def test_budget_rejects_bad_values_naming_the_field(field: str, value: object, needle: str) -> None:
    """B-02: no coercion; a bad limit is a typed ValueError naming its field."""
    with pytest.raises(InvalidBudget) as info:
        Budget(**{field: value})
    assert info.value.field == field
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, UsageError)
    assert str(info.value).startswith(f"{field}: ")
    assert needle in str(info.value)


@pytest.mark.parametrize("field", INT_FIELDS)
def test_int_fields_reject_floats(field: str) -> None:
    """Counts are ints: 1.5 tokens is refused, not truncated."""
    with pytest.raises(InvalidBudget, match="expected an int, got float") as info:
        Budget(**{field: 1.5})
    assert info.value.field == field


@pytest.mark.parametrize("field", CUMULATIVE)
@pytest.mark.parametrize("value", [-1, None, False, float("nan")])
def test_spend_rejects_bad_values(field: str, value: object) -> None:
    """A spend field cannot be negative, missing, a bool or NaN."""
    with pytest.raises(InvalidBudget) as info:
        Spend(**{field: value})
    assert info.value.field == field


def test_budget_accepts_zero_ints_for_floats_and_none() -> None:
    """Zero is a real limit; ints are fine where floats are expected."""
    budget = Budget(context_tokens=0, total_tokens=0, usd=1, seconds=0.5, model_calls=0)
    assert budget.usd == 1
    assert budget.tool_calls is None
    assert Budget.unlimited() == Budget()
    assert all(getattr(Budget.unlimited(), f) is None for f in INT_FIELDS + FLOAT_FIELDS)


def test_budget_min_is_fieldwise_with_none_as_no_limit() -> None:
    """``min`` keeps the tighter side of each field; None never wins over a number."""
    a = Budget(context_tokens=10, total_tokens=100, usd=2.0, model_calls=None, tool_calls=5)
    b = Budget(context_tokens=20, total_tokens=None, usd=1.5, seconds=3.0, tool_calls=7)
    assert a.min(b) == Budget(
        context_tokens=10, total_tokens=100, usd=1.5, seconds=3.0, model_calls=None, tool_calls=5
    )
    assert a.min(b) == b.min(a)
    assert a.min(Budget.unlimited()) == a


def test_spend_adds_fieldwise() -> None:
    """Spends add field by field."""
    total = Spend(total_tokens=1, usd=0.5, model_calls=1) + Spend(
        total_tokens=2, seconds=1.0, tool_calls=3
    )
    assert total == Spend(total_tokens=3, usd=0.5, seconds=1.0, model_calls=1, tool_calls=3)


def test_budget_exceeded_describes_itself_and_pickles() -> None:
    """The error names the path, the field, the limit and what was spent."""
    error = BudgetExceeded(path="root/a", field="usd", limit=1.0, spent=1.25)
    assert isinstance(error, ActrioError)
    assert str(error) == "budget 'root/a' exceeded usd: spent 1.25 of limit 1.0"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.field, copy.limit, copy.spent) == ("root/a", "usd", 1.0, 1.25)


@pytest.mark.parametrize("name", ["", "a/b", 3])
def test_ledger_names_are_checked(name: Any) -> None:
    """A ledger name is a non-empty path segment."""
    with pytest.raises(InvalidBudget) as info:
        BudgetLedger.root(Budget(), name=name)
    assert info.value.field == "name"
    root = BudgetLedger.root(Budget())
    with pytest.raises(InvalidBudget):
        root.grant(Budget(), name)


# --- grants -------------------------------------------------------------------------------


def test_grant_is_min_of_requested_and_remaining() -> None:
    """A child gets what it asked for, bounded by what the parent has left."""
    root = BudgetLedger.root(Budget(total_tokens=1000, usd=10.0, model_calls=5), name="run")
    root.charge(Spend(total_tokens=400, usd=9.0, model_calls=1))
    child = root.grant(Budget(total_tokens=800, usd=0.5, tool_calls=3), "a")
    assert child.path == "run/a"
    assert child.parent is root
    assert child.limit == Budget(total_tokens=600, usd=0.5, model_calls=4, tool_calls=3)


def test_grant_is_bounded_by_every_ancestor() -> None:
    """A grandchild is bounded by its grandparent's remaining too."""
    root = BudgetLedger.root(Budget(total_tokens=1000, seconds=60.0))
    mid = root.grant(Budget(), "mid")
    assert mid.limit == Budget(total_tokens=1000, seconds=60.0)
    sibling = root.grant(Budget(), "sibling")
    sibling.charge(Spend(total_tokens=900, seconds=10.0))
    # mid's own remaining is 1000, but the root only has 100 left.
    assert mid.remaining() == Budget(total_tokens=100, seconds=50.0)
    leaf = mid.grant(Budget(total_tokens=500, seconds=70.0), "leaf")
    assert leaf.limit == Budget(total_tokens=100, seconds=50.0)
    assert leaf.path == "root/mid/leaf"


def test_context_ceiling_is_inherited_and_not_charged() -> None:
    """context_tokens bounds one request; spending never lowers it."""
    root = BudgetLedger.root(Budget(context_tokens=8000, total_tokens=10))
    child = root.grant(Budget(context_tokens=16000), "c")
    assert child.limit.context_tokens == 8000
    child.charge(Spend(total_tokens=10))
    assert child.remaining().context_tokens == 8000
    assert child.check_context(8000) is None
    over = child.check_context(8001)
    assert isinstance(over, BudgetExceeded)
    assert (over.path, over.field, over.limit, over.spent) == (
        "root/c",
        "context_tokens",
        8000,
        8001,
    )
    assert child.exhausted is None
    assert BudgetLedger.root(Budget()).check_context(10**9) is None
    with pytest.raises(InvalidBudget):
        child.check_context(-1)


def test_remaining_never_goes_below_zero_and_grants_from_exhausted_are_empty() -> None:
    """Overspending clamps remaining at zero; a late grant gets nothing."""
    root = BudgetLedger.root(Budget(total_tokens=10, usd=1.0))
    root.charge(Spend(total_tokens=15, usd=1.5))
    assert root.remaining() == Budget(total_tokens=0, usd=0.0)
    assert root.grant(Budget(), "late").limit == Budget(total_tokens=0, usd=0.0)


# --- charges and exhaustion -------------------------------------------------------------------


def test_charges_flow_to_every_ancestor() -> None:
    """One charge on a leaf shows on the leaf, its parent and the root; not on siblings."""
    root = BudgetLedger.root(Budget())
    a = root.grant(Budget(), "a")
    b = root.grant(Budget(), "b")
    leaf = a.grant(Budget(), "leaf")
    spend = Spend(total_tokens=7, usd=0.25, seconds=1.5, model_calls=1, tool_calls=2)
    assert leaf.charge(spend) is None
    leaf.charge(spend)
    assert leaf.spent == a.spent == root.spent == spend + spend
    assert b.spent == Spend()
    assert a.chain() == [a, root]


def test_exhaustion_is_strictly_over_the_limit() -> None:
    """A limit of 3 model calls allows 3; the 4th breaks it."""
    root = BudgetLedger.root(Budget(model_calls=3))
    for _ in range(3):
        assert root.charge(Spend(model_calls=1)) is None
    assert root.exhausted is None
    assert root.remaining().model_calls == 0
    broken = root.charge(Spend(model_calls=1))
    assert isinstance(broken, BudgetExceeded)
    assert (broken.path, broken.field, broken.limit, broken.spent) == ("root", "model_calls", 3, 4)
    assert root.exhausted is broken


def test_child_over_its_own_limit_names_the_child_and_spares_siblings() -> None:
    """Overspending cancels the child, never the sibling (DESIGN table)."""
    root = BudgetLedger.root(Budget(usd=10.0))
    a = root.grant(Budget(usd=1.0), "a")
    b = root.grant(Budget(usd=1.0), "b")
    broken = a.charge(Spend(usd=1.5))
    assert broken is not None
    assert broken.path == "root/a"
    assert a.exhausted is broken
    assert root.exhausted is None
    assert b.exhausted is None
    assert b.check(Spend(usd=1.0)) is None
    assert b.charge(Spend(usd=1.0)) is None


def test_charge_breaking_an_ancestor_names_the_outermost() -> None:
    """If the charge breaks the parent too, the parent's subtree is the one to cancel."""
    root = BudgetLedger.root(Budget(total_tokens=100))
    a = root.grant(Budget(total_tokens=80), "a")
    b = root.grant(Budget(total_tokens=80), "b")
    leaf = a.grant(Budget(total_tokens=60), "leaf")
    assert b.charge(Spend(total_tokens=50)) is None
    broken = leaf.charge(Spend(total_tokens=70))  # leaf 70>60, a 70<=80, root 120>100
    assert broken is not None
    assert broken.path == "root"
    assert leaf.exhausted is not None
    assert leaf.exhausted.path == "root/a/leaf"
    assert a.exhausted is None
    assert root.exhausted is broken
    # A sibling's later in-flight charge reports the already-broken root again.
    again = b.charge(Spend(total_tokens=1))
    assert again is broken


def test_charge_breaking_only_a_grandparent() -> None:
    """The node charged can hold while an ancestor breaks (ceilings, not reservations)."""
    root = BudgetLedger.root(Budget(tool_calls=2))
    a = root.grant(Budget(), "a")
    b = root.grant(Budget(), "b")
    assert a.limit.tool_calls == b.limit.tool_calls == 2
    assert a.charge(Spend(tool_calls=2)) is None
    broken = b.charge(Spend(tool_calls=1))
    assert broken is not None
    assert (broken.path, broken.field) == ("root", "tool_calls")
    assert b.exhausted is None


def test_first_broken_field_in_fixed_order_is_named() -> None:
    """Several fields breaking at once: total_tokens, usd, seconds, model_calls, tool_calls."""
    root = BudgetLedger.root(Budget(usd=1.0, seconds=1.0, tool_calls=0))
    broken = root.charge(Spend(usd=2.0, seconds=2.0, tool_calls=1))
    assert broken is not None
    assert broken.field == "usd"


def test_check_is_a_dry_run_naming_the_outermost() -> None:
    """``check`` charges nothing and names the outermost ledger that would break."""
    root = BudgetLedger.root(Budget(total_tokens=100))
    child = root.grant(Budget(total_tokens=50), "c")
    assert child.check(Spend(total_tokens=50)) is None
    inner = child.check(Spend(total_tokens=60))
    assert inner is not None
    assert inner.path == "root/c"
    outer = child.check(Spend(total_tokens=101))
    assert outer is not None
    assert (outer.path, outer.spent) == ("root", 101)
    assert child.spent == root.spent == Spend()
    assert child.exhausted is None


def test_close_forbids_grants_and_charges_and_releases_nothing() -> None:
    """A closed ledger keeps its spending charged; using it again is misuse."""
    root = BudgetLedger.root(Budget(total_tokens=100))
    child = root.grant(Budget(total_tokens=60), "c")
    child.charge(Spend(total_tokens=10))
    child.close()
    child.close()
    assert child.closed
    assert not root.closed
    assert root.remaining().total_tokens == 90
    with pytest.raises(UsageError, match="cannot charge closed budget 'root/c'"):
        child.charge(Spend(total_tokens=1))
    with pytest.raises(UsageError, match="cannot grant from closed budget 'root/c'"):
        child.grant(Budget(), "x")
    assert root.spent.total_tokens == 10
    assert "root/c" in repr(child)


# --- events --------------------------------------------------------------------------------


def test_events_in_order_with_payloads() -> None:
    """Grants, charges and exhaustions are emitted synchronously, in order, nearest first."""
    events: list[Event] = []
    root = BudgetLedger.root(Budget(usd=1.0), name="run", emit=events.append)
    child = root.grant(Budget(usd=2.0, model_calls=1), "a")
    child.charge(Spend(usd=0.5, model_calls=1))
    child.charge(Spend(usd=0.75, model_calls=1))
    child.charge(Spend(usd=0.1))
    assert events == [
        BudgetGranted(
            path="run", parent_path=None, requested=Budget(usd=1.0), granted=Budget(usd=1.0)
        ),
        BudgetGranted(
            path="run/a",
            parent_path="run",
            requested=Budget(usd=2.0, model_calls=1),
            granted=Budget(usd=1.0, model_calls=1),
        ),
        BudgetCharged(
            path="run/a", spend=Spend(usd=0.5, model_calls=1), spent=Spend(usd=0.5, model_calls=1)
        ),
        BudgetCharged(
            path="run/a", spend=Spend(usd=0.75, model_calls=1), spent=Spend(usd=1.25, model_calls=2)
        ),
        BudgetExhausted(path="run/a", field="usd", limit=1.0, spent=1.25),
        BudgetExhausted(path="run", field="usd", limit=1.0, spent=1.25),
        # Exhaustion is announced once per ledger; later charges still show.
        BudgetCharged(path="run/a", spend=Spend(usd=0.1), spent=Spend(usd=1.35, model_calls=2)),
    ]


def test_events_round_trip_through_the_wire_converter() -> None:
    """Every budget event survives unstructure -> JSON -> structure_tagged."""
    assert set(BUDGET_EVENT_KINDS) == {"budget_granted", "budget_charged", "budget_exhausted"}
    events: list[Event] = []
    root = BudgetLedger.root(
        Budget(context_tokens=100, total_tokens=5, usd=0.5, seconds=2.0), emit=events.append
    )
    leaf = root.grant(Budget(model_calls=1, tool_calls=1), "leaf")
    leaf.charge(Spend(total_tokens=6, usd=0.25, seconds=1.0, model_calls=1, tool_calls=1))
    assert {type(e) for e in events} == {BudgetGranted, BudgetCharged, BudgetExhausted}
    for sent in events:
        data = json.loads(json.dumps(converter.unstructure(sent)))
        assert structure_tagged(data) == sent


def test_structured_events_validate_their_budgets() -> None:
    """A wire budget with a negative limit is refused on the way in."""
    data = converter.unstructure(
        BudgetGranted(path="r", parent_path=None, requested=Budget(), granted=Budget())
    )
    data["granted"]["usd"] = -1.0
    with pytest.raises(ClassValidationError) as info:
        structure_tagged(data)
    [inner] = info.value.exceptions  # structuring the granted Budget
    assert isinstance(inner, ClassValidationError)
    [error] = inner.exceptions
    assert isinstance(error, InvalidBudget)
    assert error.field == "usd"


# --- properties ---------------------------------------------------------------------------

UNIT = Spend(total_tokens=100, usd=1.0, seconds=1.0, model_calls=1, tool_calls=1)
"""The largest single charge the property draws: one in-flight unit."""

limits = st.builds(
    Budget,
    total_tokens=st.none() | st.integers(0, 400),
    usd=st.none() | st.floats(0, 6, allow_nan=False),
    seconds=st.none() | st.floats(0, 6, allow_nan=False),
    model_calls=st.none() | st.integers(0, 6),
    tool_calls=st.none() | st.integers(0, 6),
)
spends = st.builds(
    Spend,
    total_tokens=st.integers(0, UNIT.total_tokens),
    usd=st.floats(0, UNIT.usd, allow_nan=False),
    seconds=st.floats(0, UNIT.seconds, allow_nan=False),
    model_calls=st.integers(0, UNIT.model_calls),
    tool_calls=st.integers(0, UNIT.tool_calls),
)
operations = st.lists(
    st.tuples(st.booleans(), st.integers(0, 50), st.one_of(limits, spends, spends)),
    max_size=80,
)


def _within(value: float, bound: float | None, slack: float) -> bool:
    return bound is None or value <= bound + slack + 1e-9


def _check_invariants(nodes: list[BudgetLedger]) -> None:
    for n in nodes:
        for field in CUMULATIVE:
            spent = getattr(n.spent, field)
            assert _within(spent, getattr(n.limit, field), getattr(UNIT, field))
            if n.parent is not None:
                # Charges flow up, so a child never outspends its parent.
                assert spent <= getattr(n.parent.spent, field) + 1e-9
                assert _within(spent, getattr(n.parent.limit, field), getattr(UNIT, field))
        if n.exhausted is not None:
            assert n.exhausted.spent > n.exhausted.limit
            assert n.exhausted.spent <= n.exhausted.limit + getattr(UNIT, n.exhausted.field)


@settings(max_examples=150)
@given(root_limit=st.just(Budget()) | limits, ops=operations)
def test_property_spent_within_one_unit_and_child_within_parent(
    root_limit: Budget, ops: list[tuple[bool, int, Budget | Spend]]
) -> None:
    """DESIGN invariant: spent <= limit + one unit; a child never outspends its parent.

    The caller stops on the first exhaustion: it cancels the subtree the charge
    names and never charges or grants in it again.
    """
    root = BudgetLedger.root(root_limit)
    nodes = [root]
    cancelled: list[BudgetLedger] = []
    frozen: dict[str, Spend] = {}
    for is_grant, index, value in ops:
        node = nodes[index % len(nodes)]
        if any(top in node.chain() for top in cancelled):
            continue
        if isinstance(value, Budget):
            if is_grant:
                before = node.remaining()
                child = node.grant(value, f"n{len(nodes)}")
                assert child.limit == value.min(before)
                assert child.limit.min(before) == child.limit
                nodes.append(child)
            continue
        broken = node.charge(value)
        if broken is not None:
            top = next(n for n in node.chain() if n.path == broken.path)
            # The outermost exceeded ledger is named: nothing above it is exceeded.
            assert all(n.exhausted is None for n in top.chain()[1:])
            cancelled.append(top)
            event(f"exhausted at depth {len(top.chain())}")
            frozen.update(
                (n.path, n.spent)
                for n in top.chain() + nodes
                if n.exhausted and n.path not in frozen
            )
        _check_invariants(nodes)
    # No charge reached an exhausted ledger after the caller stopped it.
    for n in nodes:
        if n.path in frozen:
            assert n.spent == frozen[n.path]
