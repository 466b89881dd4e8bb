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

from typing import TYPE_CHECKING, Literal

import attrs
from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Sequence

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


# ---------------------------------------------------------------- supervision
#
# Times are multiples of 0.5 s so that virtual-clock arithmetic
# (``MockClock`` jumps, ``trio.sleep`` deadlines) is exact in binary floating
# point: a restart exactly ``period`` seconds old really lands on the window
# boundary, which is where an off-by-one in the sliding window would show.


def otp_window(times: Sequence[float], max_restarts: int, period: float) -> list[bool]:
    """OTP's supervisor intensity rule, written as plainly as possible.

    For each restart at ``now`` (in order): keep the earlier restarts ``R``
    with ``R >= now - period``, add ``now``, and allow the restart iff the
    window then holds at most ``max_restarts`` restarts.
    """
    window: list[float] = []
    allowed: list[bool] = []
    for now in times:
        window = [r for r in window if r >= now - period]
        window.append(now)
        allowed.append(len(window) <= max_restarts)
    return allowed


def first_refused(times: Sequence[float], max_restarts: int, period: float) -> int | None:
    """Index of the first restart the reference model refuses, or None."""
    for index, ok in enumerate(otp_window(times, max_restarts, period)):
        if not ok:
            return index
    return None


_HALVES = st.integers(min_value=0, max_value=40).map(lambda n: n / 2)


def intensity_flags() -> st.SearchStrategy[tuple[int, float]]:
    """``(max_restarts, period)`` pairs: small ints and positive half-seconds."""
    return st.tuples(
        st.integers(min_value=0, max_value=6),
        st.integers(min_value=1, max_value=24).map(lambda n: n / 2),
    )


def sorted_timestamps(*, max_size: int = 30) -> st.SearchStrategy[list[float]]:
    """Non-decreasing restart times.

    Mixes exact half-second grids (many boundary hits, repeated instants)
    with arbitrary finite floats.
    """
    grid = st.lists(_HALVES, max_size=max_size).map(
        lambda gaps: [sum(gaps[: i + 1]) for i in range(len(gaps))]
    )
    free = st.lists(
        st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
        max_size=max_size,
    ).map(sorted)
    return st.one_of(grid, free)


@attrs.frozen
class CrashSchedule:
    """A supervisor's flags and the gaps (seconds) before each crash of its child."""

    max_restarts: int
    period: float
    gaps: tuple[float, ...]

    @property
    def times(self) -> list[float]:
        """Crash times relative to the first moment, summed as trio.sleep does."""
        now = 0.0
        times: list[float] = []
        for gap in self.gaps:
            now = now + gap
            times.append(now)
        return times


def crash_schedules() -> st.SearchStrategy[CrashSchedule]:
    """Flags plus 1-8 crashes, gaps 0-6 s in half seconds."""
    return st.builds(
        CrashSchedule,
        max_restarts=st.integers(min_value=0, max_value=4),
        period=st.integers(min_value=1, max_value=16).map(lambda n: n / 2),
        gaps=st.lists(
            st.integers(min_value=0, max_value=12).map(lambda n: n / 2), min_size=1, max_size=8
        ).map(tuple),
    )
