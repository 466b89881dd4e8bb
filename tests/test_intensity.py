"""Restart intensity: RestartIntensity against OTP's sliding window (S-04, S-05).

The unit tests pin the window rule; the property tests compare it, and a
real Supervisor running under a virtual clock, with a plain reference model.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import example, given
from hypothesis import strategies as st

from actrio.kernel import (
    Actor,
    ActorError,
    ChildSpec,
    RestartIntensity,
    Supervisor,
    SupervisorEscalation,
    WhichChildren,
    open_actor_system,
)
from strategies import (
    CrashSchedule,
    crash_schedules,
    first_refused,
    intensity_flags,
    otp_window,
    sorted_timestamps,
)

# -- unit tests --------------------------------------------------------------


def test_s05_zero_max_restarts_refuses_the_first_restart() -> None:
    intensity = RestartIntensity(0, 5.0)
    assert intensity.add(0.0) is False
    assert len(intensity) == 1


def test_s04_allows_max_restarts_within_period_then_refuses() -> None:
    intensity = RestartIntensity(3, 10.0)
    assert [intensity.add(t) for t in (0.0, 3.0, 6.0)] == [True, True, True]
    assert intensity.add(9.0) is False
    assert len(intensity) == 4


def test_s04_restart_exactly_period_old_is_still_in_the_window() -> None:
    intensity = RestartIntensity(1, 10.0)
    assert intensity.add(0.0) is True
    # 0.0 >= 10.0 - 10.0: OTP keeps it, so this is the second restart in the window.
    assert intensity.add(10.0) is False
    assert len(intensity) == 2


def test_s04_restart_just_older_than_period_is_forgotten() -> None:
    intensity = RestartIntensity(1, 10.0)
    assert intensity.add(0.0) is True
    assert intensity.add(10.5) is True
    assert len(intensity) == 1


def test_s04_window_slides_over_spread_restarts() -> None:
    intensity = RestartIntensity(3, 10.0)
    assert all(intensity.add(t) for t in (0.0, 13.0, 26.0, 39.0))
    assert len(intensity) == 1


def test_s04_refused_restarts_stay_counted() -> None:
    # OTP adds the restart to the window before checking, refused or not.
    intensity = RestartIntensity(2, 10.0)
    assert [intensity.add(t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, False, False]
    assert len(intensity) == 4
    # Once the window has slid past them, restarts are allowed again.
    assert intensity.add(13.5) is True
    assert len(intensity) == 1


def test_s16_same_instant_restarts_each_count() -> None:
    intensity = RestartIntensity(2, 1.0)
    assert [intensity.add(5.0) for _ in range(3)] == [True, True, False]


def test_empty_intensity_has_length_zero() -> None:
    assert len(RestartIntensity(3, 5.0)) == 0


# -- property: RestartIntensity == OTP's window ---------------------------------


@given(flags=intensity_flags(), times=sorted_timestamps())
def test_s04_property_matches_otp_sliding_window(
    flags: tuple[int, float], times: list[float]
) -> None:
    max_restarts, period = flags
    intensity = RestartIntensity(max_restarts, period)
    expected = otp_window(times, max_restarts, period)
    got: list[bool] = []
    for index, now in enumerate(times):
        got.append(intensity.add(now))
        window = [r for r in times[: index + 1] if r >= now - period]
        assert len(intensity) == len(window), (index, now)
    assert got == expected


@given(
    max_restarts=st.integers(min_value=0, max_value=10),
    period=st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False),
    times=sorted_timestamps(max_size=50),
)
def test_s04_property_float_periods(max_restarts: int, period: float, times: list[float]) -> None:
    intensity = RestartIntensity(max_restarts, period)
    assert [intensity.add(t) for t in times] == otp_window(times, max_restarts, period)


# -- property: a real Supervisor escalates exactly when the model says ---------


@attrs.frozen
class _Crash:
    pass


class _Crasher(Actor[_Crash]):
    async def receive(self, message: _Crash) -> None:
        raise RuntimeError("scheduled crash")


@attrs.frozen(kw_only=True)
class _Outcome:
    crashes_sent: int
    escalation: SupervisorEscalation | None
    restarts: int | None
    factory_calls: int


def _run_schedule(schedule: CrashSchedule) -> _Outcome:
    calls = [0]

    def factory() -> _Crasher:
        calls[0] += 1
        return _Crasher()

    async def main() -> _Outcome:
        sent = 0
        restarts: int | None = None
        caught: list[SupervisorEscalation] = []
        try:
            with trio.fail_after(10_000):
                async with open_actor_system() as system:
                    sup = await system.spawn(
                        Supervisor(
                            [ChildSpec("w", factory)],
                            max_restarts=schedule.max_restarts,
                            period=schedule.period,
                        ),
                        name="sup",
                    )
                    (info,) = await sup.ask(WhichChildren())
                    assert info.ref is not None
                    worker = info.ref
                    for gap in schedule.gaps:
                        await trio.sleep(gap)
                        sent += 1
                        await worker.tell(_Crash())
                        # Let the supervisor handle the crash (restart or escalate).
                        await trio.testing.wait_all_tasks_blocked()
                    (info,) = await sup.ask(WhichChildren())
                    restarts = info.restarts
        except* SupervisorEscalation as group:
            caught.extend(e for e in group.exceptions if isinstance(e, SupervisorEscalation))
        assert len(caught) <= 1
        return _Outcome(
            crashes_sent=sent,
            escalation=caught[0] if caught else None,
            restarts=restarts,
            factory_calls=calls[0],
        )

    result: Any = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert isinstance(result, _Outcome)
    return result


@given(schedule=crash_schedules())
# Boundary: the 3rd crash is exactly `period` after the 1st, so it is still in the window.
@example(schedule=CrashSchedule(max_restarts=2, period=4.0, gaps=(1.0, 1.5, 2.5)))
@example(schedule=CrashSchedule(max_restarts=2, period=4.0, gaps=(1.0, 1.5, 3.0)))
def test_s04_property_supervisor_escalates_exactly_when_model_says(
    schedule: CrashSchedule,
) -> None:
    times = schedule.times
    refused = first_refused(times, schedule.max_restarts, schedule.period)
    outcome = _run_schedule(schedule)
    if refused is None:
        assert outcome.escalation is None
        assert outcome.crashes_sent == len(times)
        assert outcome.restarts == len(times)
        assert outcome.factory_calls == len(times) + 1
        return
    escalation = outcome.escalation
    assert escalation is not None, f"expected escalation at crash {refused}"
    # Escalated at exactly the refused crash: no later crash was sent, no
    # restart was attempted for the refused one.
    assert outcome.crashes_sent == refused + 1
    assert outcome.factory_calls == refused + 1
    assert escalation.path == "/sup"
    assert [record.time for record in escalation.history] == times[: refused + 1]
    assert all(record.child_ids == ("w",) for record in escalation.history)
    assert all(isinstance(record.error, ActorError) for record in escalation.history)


@pytest.mark.parametrize(
    ("max_restarts", "period", "gaps", "escalates_at"),
    [
        (3, 10.0, (0.0, 3.0, 3.0, 3.0), 3),
        (3, 10.0, (0.0, 3.0, 3.0, 4.0), 3),  # 4th restart exactly `period` after the 1st
        (3, 10.0, (0.0, 3.0, 3.0, 4.5), None),
        (3, 10.0, (0.0, 13.0, 13.0, 13.0), None),
        (0, 5.0, (1.0,), 0),
        (1, 0.5, (0.0, 0.0), 1),
    ],
)
def test_s04_supervisor_schedule_examples(
    max_restarts: int, period: float, gaps: tuple[float, ...], escalates_at: int | None
) -> None:
    schedule = CrashSchedule(max_restarts=max_restarts, period=period, gaps=gaps)
    assert first_refused(schedule.times, max_restarts, period) == escalates_at
    outcome = _run_schedule(schedule)
    if escalates_at is None:
        assert outcome.escalation is None
        assert outcome.restarts == len(gaps)
    else:
        assert outcome.escalation is not None
        assert len(outcome.escalation.history) == escalates_at + 1
        assert outcome.crashes_sent == escalates_at + 1
