"""Small trio helpers shared by the kernel and the layers above it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ("open_body_nursery",)


@asynccontextmanager
async def open_body_nursery() -> AsyncIterator[trio.Nursery]:
    """A nursery from which the block's own exception comes out unwrapped.

    trio wraps every exception leaving a nursery in an ``ExceptionGroup``.
    For a block that instruments user code, the user's own exception must
    come through as it was raised; so when the group holds nothing but the
    exception the block raised (and ``Cancelled`` from tasks cancelled
    alongside it, which re-arrives at the next checkpoint anyway), that
    exception is re-raised instead. Errors of the nursery's tasks still come
    out as a group, as from trio.
    """
    body_error: BaseException | None = None
    unwrapped: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                yield nursery
            except BaseException as error:
                body_error = error
                raise
    except BaseExceptionGroup as group:
        if body_error is None or not _only(group, body_error):
            raise
        unwrapped = body_error
    if unwrapped is not None:
        try:
            raise unwrapped
        finally:
            unwrapped = body_error = None  # no reference cycle through this frame


def _only(group: BaseExceptionGroup[BaseException], error: BaseException) -> bool:
    """Whether ``group`` holds just ``error`` (or trio's copy of it), besides Cancelled."""
    rest = _without_cancelled(group)
    if not isinstance(rest, BaseExceptionGroup) or len(rest.exceptions) != 1:
        return False
    return _same(rest.exceptions[0], _without_cancelled(error))


def _without_cancelled(error: BaseException) -> BaseException | None:
    if isinstance(error, BaseExceptionGroup):
        return error.split(trio.Cancelled)[1]
    return error


def _same(found: BaseException | None, error: BaseException | None) -> bool:
    if found is error:
        return True
    # Splitting a group derives new group objects around the same leaves.
    return (
        isinstance(found, BaseExceptionGroup)
        and isinstance(error, BaseExceptionGroup)
        and found.message == error.message
        and len(found.exceptions) == len(error.exceptions)
        and all(_same(a, b) for a, b in zip(found.exceptions, error.exceptions, strict=True))
    )
