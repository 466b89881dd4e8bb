"""A tool call's arguments: bounded JSON reading, then strict structuring.

Reading (:func:`read_arguments`) is bounded before any recursion happens: the
size is checked first, then a bracket-depth prescan (a regular expression
that skips strings, run by ``re`` in C) refuses deep nesting before
``json.loads`` could recurse into it, so a 10 MB string or 100 000 nested
arrays are refused in milliseconds, never with a ``RecursionError``. Invalid
JSON, trailing text, duplicate keys and ``NaN``/``Infinity`` (also
``1e999``) are refused (B-01, B-07).

The value is then copied and checked by one iterative walk: JSON types only,
depth and size limits (again, for arguments given as a mapping), string
length, and no NUL character or unpaired surrogate in any string or key
(B-10).

Structuring (:class:`SignatureArguments`) goes parameter by parameter
through :mod:`actrio._output`'s strict cattrs converter: ``"yes"`` is not a
bool, ``123`` is not a path, ``1.0`` is not an int, ``true`` is not an int,
unknown keys are refused and missing ones reported (B-02). Paths must not be
empty or whitespace. Every problem is reported at once, with its JSON path.
"""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from actrio._output import (
    _INVALID,
    _converter,
    _key_path,
    _no_duplicates,
    _problems,
    _reject_constant,
)
from actrio._schema import _json_type
from actrio.tools.errors import ToolArgumentsError

if TYPE_CHECKING:
    from actrio.tools._tool import Tool

__all__ = (
    "ArgumentLimits",
    "ArgumentValidator",
    "Param",
    "SignatureArguments",
    "check_arguments",
    "parse_arguments",
    "read_arguments",
)

Problem = tuple[str, str]
"""One problem: ``(JSON path, message)``."""

_MAX_PROBLEMS: Final = 1000
"""The walk stops after this many problems (the error shows only the first few)."""

_NoneType = type(None)


def _positive(_: object, field: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"ArgumentLimits.{field.name}: expected a positive int, got {value!r}")


@attrs.frozen
class ArgumentLimits:
    """Bounds on a tool call's arguments, checked before they are parsed.

    Attributes:
        max_bytes: The most UTF-8 bytes the arguments' JSON text may have.
        max_depth: How deeply arrays and objects may nest (the arguments
            object itself is level 1).
        max_string_chars: The longest string (or key) allowed, in characters.
    """

    max_bytes: int = attrs.field(default=1_048_576, validator=_positive)
    max_depth: int = attrs.field(default=64, validator=_positive)
    max_string_chars: int = attrs.field(default=262_144, validator=_positive)


class ArgumentValidator(Protocol):
    """Checks a JSON arguments object against one tool's parameters."""

    def validate(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        """The arguments to call the tool with, and every problem found."""
        ...


class _Refused(Exception):
    """Raised inside reading: the arguments are refused for these problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def _refuse(message: str) -> _Refused:
    return _Refused([("$", message)])


# ---------------------------------------------------------------- reading JSON text

_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}"]')
"""A whole string (skipped), a bracket, or a quote that opens a string never closed."""
_DEPTH_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}


def _check_depth(text: str, max_depth: int) -> None:
    if text.count("[") + text.count("{") <= max_depth:
        return  # only brackets open levels: there are too few to nest deeper
    depth = 0
    for match in _TOKENS.finditer(text):
        step = _DEPTH_STEP.get(match.group())
        if step is None:
            if len(match.group()) == 1:
                return  # an unterminated string: the parser reports it
            continue
        depth += step
        if depth > max_depth:
            raise _refuse(f"nested deeper than {max_depth} levels")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _decode(raw: str | bytes | bytearray, limits: ArgumentLimits) -> str:
    if isinstance(raw, str):
        # A character is at least one byte: a long text is refused before encoding it.
        size = len(raw) if len(raw) > limits.max_bytes else _utf8_size(raw)
    else:
        size = len(raw)
    if size > limits.max_bytes:
        raise _refuse(f"arguments are {size:,} bytes or more; the limit is {limits.max_bytes:,}")
    if isinstance(raw, str):
        return raw
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(f"arguments are not UTF-8 (invalid byte at offset {exc.start})") from None


_DECODER: Final = json.JSONDecoder(
    parse_constant=_reject_constant, parse_float=_finite, object_pairs_hook=_no_duplicates
)
"""``json.loads`` with these hooks builds this decoder on every call; it holds no state."""


def _json(text: str) -> object:
    """``json.loads`` with the strict hooks: no NaN, no infinity, no duplicate keys."""
    if text.startswith("\ufeff"):
        # json.loads refuses a BOM before decoding; the decoder alone would not say why.
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite,
            object_pairs_hook=_no_duplicates,
        )
    return _DECODER.decode(text)


def _load_text(raw: str | bytes | bytearray, limits: ArgumentLimits) -> object:
    text = _decode(raw, limits)
    if not text.strip():
        return {}  # some providers send "" for a call without arguments
    _check_depth(text, limits.max_depth)
    try:
        return _json(text)
    except json.JSONDecodeError as exc:
        line, column = exc.lineno, exc.colno
        raise _refuse(f"invalid JSON: {exc.msg} (line {line}, column {column})") from None
    except ValueError as exc:  # duplicate keys, NaN, 1e999, an int of too many digits
        raise _refuse(f"invalid JSON: {exc}") from None


# ---------------------------------------------------------------- checking the value

_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def _string_problem(text: str, limits: ArgumentLimits) -> str | None:
    if len(text) > limits.max_string_chars:
        return (
            f"string of {len(text):,} characters exceeds the limit of {limits.max_string_chars:,}"
        )
    bad = _BAD_CHARS.search(text)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return f"NUL character at offset {bad.start()}"
    return f"unpaired surrogate at offset {bad.start()}"


def _scalar_problem(value: object, limits: ArgumentLimits) -> str | None:
    if isinstance(value, str):
        return _string_problem(value, limits)
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a JSON number"
    return f"{type(value).__qualname__} is not a JSON value"


def _child(path: str, step: str | int) -> str:
    return f"{path}[{step}]" if isinstance(step, int) else _key_path(path, step)


class _Walk:
    """One iterative pass that copies a JSON value and collects its problems."""

    def __init__(self, limits: ArgumentLimits) -> None:
        self.limits = limits
        self.problems: list[Problem] = []
        self.size = 0
        self.stack: list[tuple[object, dict[str, object] | list[object], str, int]] = []

    def add(self, path: str, message: str) -> None:
        if len(self.problems) == _MAX_PROBLEMS - 1:
            raise _Refused([*self.problems, ("$", "too many problems; stopped checking")])
        self.problems.append((path, message))

    def run(self, value: Mapping[Any, Any]) -> dict[str, object]:
        root: dict[str, object] = {}
        self.stack.append((value, root, "$", 1))
        while self.stack:
            source, target, path, depth = self.stack.pop()
            if isinstance(target, dict):
                assert isinstance(source, Mapping)
                self._object(source, target, path, depth)
            else:
                assert isinstance(source, list | tuple)
                for index, item in enumerate(source):
                    target.append(self._item(item, path, index, depth))
        return root

    def _object(
        self, source: Mapping[Any, Any], target: dict[str, object], path: str, depth: int
    ) -> None:
        for key, item in source.items():
            if not isinstance(key, str):
                self.add(path, f"key {key!r} is not a string")
                continue
            self.size += len(key)
            problem = _string_problem(key, self.limits)
            if problem is not None:
                self.add(_key_path(path, key), f"key: {problem}")
            target[key] = self._item(item, path, key, depth)

    def _item(self, item: object, path: str, step: str | int, depth: int) -> object:
        """Check (or, for a container, schedule) one member of the value at ``path``."""
        self.size += 1
        if self.size > self.limits.max_bytes:
            raise _refuse(f"arguments are larger than the limit of {self.limits.max_bytes:,} bytes")
        if isinstance(item, Mapping | list | tuple):
            if depth >= self.limits.max_depth:
                message = f"nested deeper than {self.limits.max_depth} levels"
                raise _Refused([(_child(path, step), message)])
            shell: dict[str, object] | list[object] = {} if isinstance(item, Mapping) else []
            self.stack.append((item, shell, _child(path, step), depth + 1))
            return shell
        if isinstance(item, str):
            self.size += len(item)
        problem = _scalar_problem(item, self.limits)
        if problem is not None:
            self.add(_child(path, step), problem)
        return item


def read_arguments(
    raw: str | bytes | bytearray | Mapping[str, Any], limits: ArgumentLimits
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The arguments object, copied and checked, and the problems found in it.

    Args:
        raw: JSON text (``str`` or UTF-8 ``bytes``), or an already parsed
            mapping. Empty or blank text means ``{}``.
        limits: The bounds to enforce.

    Returns:
        ``(None, problems)`` if the arguments cannot be used at all (not
        JSON, too large, too deep, not an object); else the checked copy and
        the problems of single values (a NUL in a string, a string too long),
        which the caller reports together with its own.
    """
    try:
        if isinstance(raw, Mapping):
            value: object = raw
        elif isinstance(raw, str | bytes | bytearray):
            value = _load_text(raw, limits)
        else:
            raise _refuse(f"expected JSON text or a mapping, got {type(raw).__qualname__}")
        if not isinstance(value, Mapping):
            raise _refuse(f"expected an object, got {_json_type(value)}")
        walk = _Walk(limits)
        data = walk.run(value)
    except _Refused as refused:
        return None, refused.problems
    return data, walk.problems


# ---------------------------------------------------------------- structuring


@attrs.frozen
class Param:
    """One parameter of a tool's function.

    Attributes:
        name: The parameter's (and the JSON key's) name.
        annotation: Its type.
        default: Its default, or ``attrs.NOTHING`` if it is required.
        null_is_default: Whether JSON ``null`` means "use the default" (the
            parameter has a default and its type does not allow None).
    """

    name: str
    annotation: object
    default: object = attrs.NOTHING
    null_is_default: bool = False

    @property
    def required(self) -> bool:
        """Whether the key must be present."""
        return self.default is attrs.NOTHING


def _structure(value: object, tp: object, path: str) -> tuple[object, list[Problem]]:
    try:
        return _converter.structure(value, _NoneType if tp is None else tp), []  # type: ignore[arg-type]
    except (*_INVALID, RecursionError) as exc:
        return None, [(path + sub[1:], message) for sub, message in _problems(exc)]


def _path_problems(value: object, raw: object, path: str) -> list[Problem]:
    """Empty or blank strings that became paths, anywhere in a structured value.

    The structured value and the JSON it came from are walked side by side:
    a path's own text is gone once it is a ``Path`` (``Path("")`` is ``.``).
    """
    found: list[Problem] = []
    stack = [(value, raw, path)]
    while stack:
        value, raw, path = stack.pop()
        if isinstance(value, PurePath) and isinstance(raw, str):
            if not raw.strip():
                found.append((path, "path is empty" if not raw else "path is only whitespace"))
        elif isinstance(value, enum.Enum | str):
            continue
        elif attrs.has(cls := type(value)) and isinstance(raw, dict):
            stack += [
                (getattr(value, f.name), raw[f.name], _key_path(path, f.name))
                for f in attrs.fields(cls)
                if f.init and f.name in raw
            ]
        elif isinstance(value, list | tuple) and isinstance(raw, list):
            stack += [
                (v, r, f"{path}[{i}]") for i, (v, r) in enumerate(zip(value, raw, strict=False))
            ]
        elif isinstance(value, dict) and isinstance(raw, dict):
            stack += [(v, raw[k], _key_path(path, k)) for k, v in value.items() if k in raw]
    return found


def _strings_only(arguments: SignatureArguments) -> frozenset[str] | None:
    """The parameter names when every parameter is a plain ``str``, else None."""
    if all(param.annotation is str for param in arguments.params):
        return frozenset(param.name for param in arguments.params)
    return None


@attrs.frozen
class SignatureArguments:
    """Validates arguments against a function's typed parameters.

    Attributes:
        params: The parameters, in signature order.
    """

    params: tuple[Param, ...]
    #: The names, when every parameter is a ``str`` (see :func:`_read_strings`).
    _strings: frozenset[str] | None = attrs.field(
        init=False,
        repr=False,
        eq=False,
        default=attrs.Factory(_strings_only, takes_self=True),
    )

    def validate(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        """Every parameter's value (defaults filled in), and every problem found."""
        out: dict[str, Any] = {}
        problems: list[Problem] = []
        for param in self.params:
            path = _key_path("$", param.name)
            if param.name not in data or (data[param.name] is None and param.null_is_default):
                if param.required:
                    problems.append((path, "required key is missing"))
                else:
                    out[param.name] = param.default
                continue
            value, found = _structure(data[param.name], param.annotation, path)
            if not found:
                found = _path_problems(value, data[param.name], path)
            problems += found
            out[param.name] = value
        known = {param.name for param in self.params}
        problems += [(_key_path("$", key), "unexpected key") for key in data if key not in known]
        return out, problems


def _read_strings(
    arguments: SignatureArguments, names: frozenset[str], text: str, limits: ArgumentLimits
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A valid call of a tool whose parameters are all ``str``, read in one pass; else None.

    Every check of :func:`read_arguments` and :meth:`SignatureArguments.validate`
    is made here, each as strictly or more: the size (a character is at most
    four UTF-8 bytes), the bracket count the depth prescan starts with, the
    strict JSON hooks, an object of known keys with ``str`` values (so no
    coercion, no unknown key, no nesting), string lengths, NUL characters and
    unpaired surrogates (``str.isprintable`` is False for both), the copied
    size, and every required key. On the first doubt it answers None, and the
    general path runs from the start, finds the same and reports the
    problems exactly as it always does.
    """
    value = _small_object(text, limits)
    if value is None or not _known_strings(value, names, limits):
        return None
    out: dict[str, Any] = {}
    for param in arguments.params:
        if param.name in value:
            out[param.name] = value[param.name]
        elif param.required:
            return None
        else:
            out[param.name] = param.default
    return value, out


def _small_object(text: str, limits: ArgumentLimits) -> dict[str, Any] | None:
    """The JSON object in ``text`` when it is within the size and depth bounds, else None."""
    max_bytes = limits.max_bytes
    if len(text) * 4 > max_bytes and _utf8_size(text) > max_bytes:
        return None
    if text.count("[") + text.count("{") > limits.max_depth:
        return None
    try:
        value = _DECODER.decode(text)  # a BOM or blank text is a JSONDecodeError here
    except (ValueError, RecursionError):
        return None
    return value if type(value) is dict else None


def _known_strings(value: dict[str, Any], names: frozenset[str], limits: ArgumentLimits) -> bool:
    """Every key is a parameter and every value a string without a problem, within the size."""
    max_chars = limits.max_string_chars
    size = 0
    for key, item in value.items():
        if key not in names or type(item) is not str:
            return False
        if len(key) > max_chars or len(item) > max_chars:
            return False
        if not item.isprintable() and _BAD_CHARS.search(item) is not None:
            return False
        size += len(key) + 1 + len(item)
    return size <= limits.max_bytes


def parse_arguments(
    tool: Tool,
    raw: str | bytes | bytearray | Mapping[str, Any],
    *,
    limits: ArgumentLimits | None = None,
) -> dict[str, Any]:
    """Read and validate a call's arguments for ``tool``.

    Args:
        tool: The tool called.
        raw: The arguments: JSON text (``str`` or UTF-8 ``bytes``) or a
            parsed mapping (as Anthropic and Gemini send them).
        limits: Bounds to enforce instead of the tool's own.

    Returns:
        The keyword arguments to call the tool's function with. For a
        ``@tool`` function every parameter is present, defaults filled in;
        for a :meth:`Tool.from_schema` tool, the validated object.

    Raises:
        ToolArgumentsError: With every problem found, each at its JSON path.
    """
    return check_arguments(tool, raw, limits=limits)[1]


def check_arguments(
    tool: Tool,
    raw: str | bytes | bytearray | Mapping[str, Any],
    *,
    limits: ArgumentLimits | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Like :func:`parse_arguments`, also returning the checked JSON object.

    Policies decide on the JSON (the exact values the model sent, B-08);
    the function is called with the keyword arguments built from it.

    Returns:
        ``(json_object, keyword_arguments)``.

    Raises:
        ToolArgumentsError: With every problem found, each at its JSON path.
    """
    limits = tool.limits if limits is None else limits
    validator = tool._validator
    if type(raw) is str and type(validator) is SignatureArguments:
        names = validator._strings
        if names is not None:
            done = _read_strings(validator, names, raw, limits)
            if done is not None:
                return done
    data, problems = read_arguments(raw, limits)
    if data is None:
        raise ToolArgumentsError(tool.name, problems)
    out, found = tool._validator.validate(data)
    if problems or found:
        raise ToolArgumentsError(tool.name, [*problems, *found])
    return data, out
