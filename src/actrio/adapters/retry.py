"""Retries: which errors, how many times, how long to wait, and the overall deadline.

A :class:`RetryPolicy` is explicit about everything tenacity would
otherwise default (tenacity's defaults retry any exception forever, P-14):
the error classes, the number of attempts, the jittered exponential backoff,
how a server's ``Retry-After`` is honoured and up to what cap, and a
deadline for the whole call. :func:`retrying` builds the tenacity loop with
``sleep=trio.sleep``, so backoff follows trio's clock (virtual in tests) and
a cancellation during a backoff ends the call at once (P-13).

The rules, pinned by tests:

- The n-th retry (n = 0, 1, ...) waits ``min(initial_backoff * 2**n,
  max_backoff)`` scaled by a random factor in ``[1 - jitter, 1]`` (P-04).
- A server's wait (``retry-after-ms``, ``Retry-After`` seconds or HTTP date,
  Gemini's ``RetryInfo``) replaces the backoff when it is at most
  ``max_retry_after``; above it, ``above_cap="raise"`` gives up at once with
  the :class:`~actrio.adapters.errors.RateLimited` error (the OpenAI SDK's
  choice; the caller, or a fallback chain, decides), and
  ``above_cap="backoff"`` ignores the header and backs off (P-02).
- ``x-should-retry`` from the server overrides the status (P-03).
- No retry is started that would end after the deadline.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
import tenacity
import trio

from actrio.adapters.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("DEFAULT_RETRY_ON", "RetryPolicy", "retrying")

DEFAULT_RETRY_ON: Final[tuple[type[ProviderError], ...]] = (
    RateLimited,
    ServerError,
    ProviderTimeout,
    ProviderConnectionError,
)
"""Errors retried by default (each also has to say it is ``retryable``)."""


def _nonneg(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"RetryPolicy.{attribute.name}: expected a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name}: must be >= 0, got {value!r}")


def _check_retry_on(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, tuple) or not all(
        isinstance(c, type) and issubclass(c, ProviderError) for c in value
    ):
        raise TypeError("RetryPolicy.retry_on: expected a tuple of ProviderError subclasses")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How an adapter retries a failed call.

    Attributes:
        max_retries: Retries after the first attempt (0 = one attempt).
        retry_on: Error classes that may be retried; an error is retried
            only if it is one of them *and* ``error.retryable``.
        initial_backoff: Seconds before the first retry, before jitter.
        max_backoff: The backoff never exceeds this many seconds.
        jitter: Each backoff is scaled by a random factor in ``[1 - jitter, 1]``.
        max_retry_after: The longest server-requested wait honoured, in seconds.
        above_cap: What to do when the server asks for more than
            ``max_retry_after``: ``"raise"`` the error, or ``"backoff"`` as
            if it had not said.
        deadline: Seconds for the whole call (every attempt, every backoff
            and, for a stream, every read), or ``None``. When it passes the
            call fails with ``ProviderTimeout(kind="deadline")``.
    """

    max_retries: int = attrs.field(default=2, validator=_nonneg)
    retry_on: tuple[type[ProviderError], ...] = attrs.field(
        default=DEFAULT_RETRY_ON, converter=tuple, validator=_check_retry_on
    )
    initial_backoff: float = attrs.field(default=0.5, validator=_nonneg)
    max_backoff: float = attrs.field(default=8.0, validator=_nonneg)
    jitter: float = attrs.field(default=0.25, validator=_nonneg)
    max_retry_after: float = attrs.field(default=60.0, validator=_nonneg)
    above_cap: Literal["raise", "backoff"] = "raise"
    deadline: float | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.max_retries, int):
            raise TypeError(f"RetryPolicy.max_retries: expected an int, got {self.max_retries!r}")
        if self.jitter > 1:
            raise ValueError(f"RetryPolicy.jitter: must be <= 1, got {self.jitter!r}")
        if self.above_cap not in ("raise", "backoff"):
            raise ValueError(
                f"RetryPolicy.above_cap: expected 'raise' or 'backoff', got {self.above_cap!r}"
            )
        if self.deadline is not None:
            _nonneg(None, attrs.fields(RetryPolicy).deadline, self.deadline)
            if self.deadline == 0:
                raise ValueError("RetryPolicy.deadline: must be > 0")

    def backoff(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (0-based), jitter included."""
        base = min(self.initial_backoff * 2.0 ** min(retry, 64), self.max_backoff)
        return base * (1.0 - self.jitter * rng())

    def should_retry(self, error: BaseException) -> bool:
        """Whether ``error`` may be retried (never for anything but a ProviderError).

        The server's ``x-should-retry`` header, when it sent one, decides over
        ``retry_on`` and the error's own ``retryable`` (P-03).
        """
        if not isinstance(error, ProviderError) or error.server_retry is False:
            return False
        if error.server_retry is None and (
            not isinstance(error, self.retry_on) or not error.retryable
        ):
            return False
        return not (
            isinstance(error, RateLimited)
            and error.retry_after is not None
            and error.retry_after > self.max_retry_after
            and self.above_cap == "raise"
        )

    def delay(self, error: BaseException | None, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` after ``error``."""
        if (
            isinstance(error, RateLimited)
            and error.retry_after is not None
            and error.retry_after <= self.max_retry_after
        ):
            return error.retry_after
        return self.backoff(retry)


def retrying(
    policy: RetryPolicy, *, deadline_at: float | None, done: int = 0
) -> tenacity.AsyncRetrying:
    """A tenacity loop for ``policy``; ``deadline_at`` is an absolute ``trio.current_time()``.

    ``done`` counts attempts already made before the loop (their backoff
    included), so the loop's attempts and waits continue the same sequence.

    Used as ``async for attempt in retrying(...): with attempt: ...``. Only
    :class:`ProviderError` values the policy accepts are retried; anything
    else (a bug, ``trio.Cancelled``, ``KeyboardInterrupt``) is re-raised at
    once.
    """

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return policy.delay(error, state.attempt_number - 1 + done)

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number + done > policy.max_retries:
            return True
        return deadline_at is not None and trio.current_time() + state.upcoming_sleep >= deadline_at

    return tenacity.AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=tenacity.retry_if_exception(policy.should_retry),
        sleep=trio.sleep,
        reraise=True,
    )
