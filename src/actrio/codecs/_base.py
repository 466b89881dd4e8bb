"""The codecs' error, and typed access to JSON values that names the path of a bad one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from actrio.kernel import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("CodecError",)


class CodecError(UsageError, ValueError):
    """A body is not of the shape its API defines.

    The message names the JSON path of the offending value, like
    ``messages[2].content: expected a string or a list of parts, got int``.

    Attributes:
        path: The JSON path of the offending value (``""`` for the body itself).
        problem: What is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or 'body'}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem))


def _kind(value: object) -> str:
    """The JSON-ish name of a value's type, for error messages."""
    if value is None:
        return "null"
    for cls, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(value, cls):
            return name
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _obj(value: object, path: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise CodecError(path, f"expected an object, got {_kind(value)}")


def _list(value: object, path: str) -> Sequence[Any]:
    if isinstance(value, list | tuple):
        return value
    raise CodecError(path, f"expected a list, got {_kind(value)}")


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise CodecError(_at(path, key), f"expected a string, got {_kind(value)}")


def _req_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = _opt_str(obj, key, path)
    if value is None:
        raise CodecError(_at(path, key), "expected a string, got null")
    return value


def _opt_obj(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    return None if value is None else _obj(value, _at(path, key))


def _opt_list(obj: Mapping[str, Any], key: str, path: str) -> Sequence[Any] | None:
    value = obj.get(key)
    return None if value is None else _list(value, _at(path, key))


def _opt_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise CodecError(_at(path, key), f"expected an integer, got {_kind(value)}")


def _strs(obj: Mapping[str, Any], path: str, *keys: str) -> dict[str, str]:
    """The string values of ``keys`` that ``obj`` has."""
    found = {key: _opt_str(obj, key, path) for key in keys}
    return {key: value for key, value in found.items() if value is not None}


def _text_of(obj: Mapping[str, Any], key: str) -> str:
    """``obj[key]`` if it is a string, else ``""``: streamed text starts from there."""
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON data, tuples turned into lists."""
    if isinstance(value, Mapping):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(item) for item in value]
    return value


def _arguments(value: object, path: str) -> str:
    """Tool-call arguments as JSON text; absent or empty reads as ``"{}"``."""
    if value is None or value == "":
        return "{}"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        try:
            return json.dumps(_copy_json(value), separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise CodecError(path, f"not serializable as JSON: {exc}") from exc
    raise CodecError(path, f"expected a JSON string or object, got {_kind(value)}")
