"""Hypothesis strategies and reference models for supervision tests.

Times are multiples of 0.5 s so that virtual-clock arithmetic
(``MockClock`` jumps, ``trio.sleep`` deadlines) is exact in binary floating
point: a restart exactly ``period`` seconds old really lands on the window
boundary, which is where an off-by-one in the sliding window would show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = (
    "CrashSchedule",
    "crash_schedules",
    "first_refused",
    "intensity_flags",
    "otp_window",
    "sorted_timestamps",
)


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
