"""Checks and copies of JSON values (what scope data, tool args and results are)."""

from __future__ import annotations

import math
from typing import Any

from actrio.kernel import UsageError

__all__ = ("MAX_DEPTH", "check_json", "check_timeout", "copy_json", "to_json_safe")

MAX_DEPTH = 64
"""How deeply JSON values may nest."""


def check_json(value: Any, where: str) -> None:
    """Raise :class:`UsageError` naming the first part of ``value`` that is not JSON.

    Allowed: ``None``, bool, int, finite float, str, lists/tuples and dicts
    with str keys, nested at most :data:`MAX_DEPTH` deep.
    """
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if item is None or isinstance(item, str | bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise UsageError(f"{path}: {item!r} is not a JSON number")
            continue
        if depth >= MAX_DEPTH:
            raise UsageError(f"{path}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise UsageError(f"{path}: key {key!r} is not a string")
                stack.append((sub, f"{path}[{key!r}]", depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{path}[{i}]", depth + 1) for i, sub in enumerate(item))
        else:
            raise UsageError(f"{path}: {type(item).__qualname__} is not a JSON value")


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (lists and dicts copied, scalars shared)."""
    if isinstance(value, dict):
        return {key: copy_json(sub) for key, sub in value.items()}
    if isinstance(value, list | tuple):
        return [copy_json(sub) for sub in value]
    return value


def to_json_safe(value: Any) -> Any:
    """``value`` if it is JSON, else a small description of it (for events)."""
    try:
        check_json(value, "value")
    except UsageError:
        return {"type": type(value).__qualname__, "repr": repr(value)[:200]}
    return value


def check_timeout(timeout: object, what: str = "timeout") -> None:
    """Raise :class:`UsageError` unless ``timeout`` is None or a number of seconds >= 0."""
    if timeout is None:
        return
    if (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or math.isnan(timeout)
        or timeout < 0
    ):
        raise UsageError(f"{what} must be a number of seconds >= 0, not {timeout!r}")
