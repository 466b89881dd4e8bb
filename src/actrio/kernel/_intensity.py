"""Restart intensity: OTP's sliding window of recent restarts."""

from __future__ import annotations

from collections import deque

__all__ = ("RestartIntensity",)


class RestartIntensity:
    """Counts restarts in a sliding window, exactly as Erlang/OTP's supervisor.

    A restart at time ``now`` forgets restarts older than ``now - period``
    (one exactly ``period`` old is kept), records ``now``, and is allowed
    while the window holds at most ``max_restarts`` restarts. With
    ``max_restarts=0`` the first restart is refused.
    """

    __slots__ = ("_times", "max_restarts", "period")

    def __init__(self, max_restarts: int, period: float) -> None:
        self.max_restarts = max_restarts
        self.period = period
        self._times: deque[float] = deque()

    def add(self, now: float) -> bool:
        """Record a restart at ``now``; return whether it stays within intensity."""
        threshold = now - self.period
        times = self._times
        while times and times[0] < threshold:
            times.popleft()
        times.append(now)
        return len(times) <= self.max_restarts

    def __len__(self) -> int:
        """How many restarts the window holds."""
        return len(self._times)
