"""The adapters' JSON: reading provider payloads, and writing request bodies.

:func:`loads_json` is ``json.loads`` with less overhead for the commonest
payload (one JSON object), and with JSON nested too deeply for the
interpreter a ``ValueError`` like any other bad JSON, never a
``RecursionError``. :func:`encode_json` is the compact encoder of request
bodies.

A :class:`~actrio.types.ToolSpec`'s parameters, an output schema, a tool
call's arguments or a provider's extra body fields are any ``Mapping`` and
may hold tuples; ``json.dumps`` takes only dicts (with ``str``, number,
``bool`` or ``None`` keys, which it writes its own way) and writes tuples
as arrays. :func:`plain_json` copies such a value into dicts with ``str``
keys and lists, which also keeps the body's later edits (a provider's
``extras.body`` merged in) off the caller's objects.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ("TooDeep", "encode_json", "loads_json", "plain_json")

_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


# What ``JSONDecoder.__init__`` builds as its ``scan_once`` (typeshed types the
# argument as a scanner, not the decoder the scanner reads its settings from).
_scan_json: Final[Callable[[str, int], tuple[Any, int]]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]
)

#: ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``, which
#: builds this encoder on every call; it holds only its settings, so one is shared.
encode_json: Final[Callable[[Any], str]] = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False
).encode


class TooDeep(ValueError):
    """JSON nested deeper than the interpreter's recursion limit lets ``json`` read."""

    def __init__(self) -> None:
        super().__init__("JSON nested too deeply to read (over the interpreter's recursion limit)")


def loads_json(text: str | bytes) -> Any:
    """``json.loads(text)``, with less overhead for a text that is one JSON object.

    ``json.loads`` reaches the C scanner through three Python calls and two
    regular expressions (leading and trailing blanks); a stream payload or a
    response body is an object with nothing around it, and is handed to the
    scanner directly. Bytes that start with ``{`` and no NUL are UTF-8 by
    ``json.loads``' own detection, and are decoded as it decodes them. Any
    other text (blanks around it, not an object, not JSON) goes through
    ``json.loads``, which returns or raises exactly as it always does, with
    one exception: nesting too deep for the interpreter is :class:`TooDeep`
    (a ``ValueError``, as every other unreadable payload), not the
    ``RecursionError`` ``json`` raises, so a hostile payload is a protocol
    error like any other.
    """
    try:
        if type(text) is bytes and text[:1] == b"{" and text[1:2] != b"\0":
            text = text.decode("utf-8", "surrogatepass")  # (UnicodeDecodeError is a ValueError)
        if type(text) is str and text[:1] == "{":
            try:
                value, end = _scan_json(text, 0)
            except (StopIteration, ValueError):
                pass  # not JSON: json.loads raises the error it names
            else:
                if end == len(text):
                    return value
        return json.loads(text)
    except RecursionError:
        raise TooDeep from None


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
