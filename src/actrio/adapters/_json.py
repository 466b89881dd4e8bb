"""JSON-ready copies of the vocabulary's mappings, for the adapters' request bodies.

A :class:`~actrio.types.ToolSpec`'s parameters, an output schema, a tool
call's arguments or a provider's extra body fields are any ``Mapping`` and
may hold tuples; ``json.dumps`` takes only dicts (with ``str``, number,
``bool`` or ``None`` keys, which it writes its own way) and writes tuples
as arrays. :func:`plain_json` copies such a value into dicts with ``str``
keys and lists, which also keeps the body's later edits (a provider's
``extras.body`` merged in) off the caller's objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ("plain_json",)

_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def plain_json(value: Any) -> Any:
    """``value`` with every mapping a ``dict`` keyed by ``str(key)`` and every tuple a list.

    Lists, dicts and mappings are copied (all the way down); anything else
    is returned as it is. The exact built-in types are told apart by
    ``type`` first (a schema is mostly strings and dicts): ``isinstance``
    against ``Mapping`` goes through the ABC machinery for every value.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {
            key if type(key) is str else str(key): plain_json(item) for key, item in value.items()
        }
    if kind is list or kind is tuple:
        return [plain_json(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    return value
