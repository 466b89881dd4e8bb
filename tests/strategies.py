"""Hypothesis strategies for plain-actor property tests.

They generate plain data (no actors, no trio objects), so a failing example
prints as something readable:

- :func:`sender_plans`: several concurrent senders, each with its own
  sequence of sends (tell or ask) and pauses between them;
- :func:`failure_schedules`: what a plain actor does with each message it
  takes (answer, reject, or stay busy for a while);
- :func:`stop_points`: when, in virtual seconds, the actor is stopped;
- :func:`tree_shapes`: a small actor tree to open and close.
"""

from __future__ import annotations

from typing import Literal

import attrs
from hypothesis import strategies as st

Kind = Literal["tell", "ask"]
Fate = Literal["ok", "reject", "slow"]

#: Mailbox capacities worth trying: 1 makes every second send wait.
capacities = st.integers(min_value=1, max_value=8)

#: Pauses between sends and handling times, in virtual seconds (0 is common).
pauses = st.sampled_from([0.0, 0.0, 0.0, 0.1, 0.5, 1.0])


@attrs.frozen
class Send:
    """One send of a sender: how, and how long to pause before it."""

    kind: Kind
    pause: float


@attrs.frozen
class SenderPlan:
    """The sends of one sender, in order."""

    sends: tuple[Send, ...]


@attrs.frozen
class Step:
    """What the actor does with one message it takes."""

    fate: Fate
    seconds: float


@attrs.frozen
class TreeShape:
    """Top-level actors, each with some children, plus subscribers."""

    children: tuple[int, ...]
    subscribers: int
    messages: int
    stop_early: tuple[bool, ...]


def sends(*, kinds: tuple[Kind, ...] = ("tell", "ask")) -> st.SearchStrategy[Send]:
    return st.builds(Send, kind=st.sampled_from(kinds), pause=pauses)


def sender_plans(
    *,
    max_senders: int = 4,
    max_sends: int = 12,
    kinds: tuple[Kind, ...] = ("tell", "ask"),
) -> st.SearchStrategy[tuple[SenderPlan, ...]]:
    """One to ``max_senders`` senders, each with up to ``max_sends`` sends."""
    plan = st.builds(
        SenderPlan,
        sends=st.lists(sends(kinds=kinds), max_size=max_sends).map(tuple),
    )
    return st.lists(plan, min_size=1, max_size=max_senders).map(tuple)


def failure_schedules(
    *, fates: tuple[Fate, ...] = ("ok", "reject", "slow"), max_size: int = 60
) -> st.SearchStrategy[tuple[Step, ...]]:
    """The actor's behaviour for the 1st, 2nd, ... message it takes.

    Messages beyond the schedule are answered at once (``ok``).
    """
    step = st.builds(Step, fate=st.sampled_from(fates), seconds=pauses)
    return st.lists(step, max_size=max_size).map(tuple)


def stop_points() -> st.SearchStrategy[float | None]:
    """When to stop the actor (virtual seconds), or None for never (until shutdown)."""
    return st.none() | st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.5, 1.0, 2.0, 5.0])


def tree_shapes(*, max_top: int = 4, max_children: int = 3) -> st.SearchStrategy[TreeShape]:
    return st.integers(min_value=0, max_value=max_top).flatmap(
        lambda top: st.builds(
            TreeShape,
            children=st.lists(
                st.integers(min_value=0, max_value=max_children), min_size=top, max_size=top
            ).map(tuple),
            subscribers=st.integers(min_value=0, max_value=2),
            messages=st.integers(min_value=0, max_value=5),
            stop_early=st.lists(st.booleans(), min_size=top, max_size=top).map(tuple),
        )
    )
