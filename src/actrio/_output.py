"""Strict parsing of a model's JSON output into a Python type.

:func:`parse_output` reads the model's reply into a type that
:func:`actrio._schema.json_schema` accepts, through a private cattrs converter
with no silent coercion, and reports every problem at once with its JSON
path, in an :class:`OutputValidationError` whose
:meth:`~OutputValidationError.feedback` can be sent back to the model.
:func:`parse_json_output` reads JSON with no type to check it against.

The converter's hooks ask :mod:`actrio._schema` what a type means (its JSON
kinds, its name), so the schema sent and the parsing of the reply agree.

Errors::

    ValueError
     └── OutputValidationError  the model's text is not JSON of the type
"""

from __future__ import annotations

import enum
import json
import re
import typing
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from actrio._schema import (
    _ARRAYS,
    _JSON_TYPE_NAMES,
    _OBJECTS,
    _SCALARS,
    _UNIONS,
    _json_type,
    _json_value,
    _NoneType,
    _shared_schema,
    _type_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = (
    "OutputValidationError",
    "parse_json_output",
    "parse_output",
)

T = TypeVar("T")

FEEDBACK_ECHO_CHARS = 2000
"""How much of the model's reply :meth:`OutputValidationError.feedback` quotes back."""

FEEDBACK_PROBLEMS = 20
"""How many problems :meth:`OutputValidationError.feedback` lists before summarising."""

_SHOW_CHARS = 60
"""How much of one offending value (or key) an error message quotes."""


# ---------------------------------------------------------------- JSON text -> value


class OutputValidationError(ValueError):
    """The model's reply is not JSON of the requested type.

    Attributes:
        type_name: The requested type, as named in messages.
        errors: Each problem as ``(JSON path, message)``, paths like
            ``$.items[2].price``; ``$`` for the whole reply.
        raw: The model's reply, whole.
    """

    def __init__(self, type_name: str, errors: Sequence[tuple[str, str]], raw: str) -> None:
        super().__init__(type_name, tuple(errors), raw)
        self.type_name = type_name
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)
        self.raw = raw

    def __str__(self) -> str:
        count = len(self.errors)
        head = f"model output is not a valid {self.type_name} ({count} problem{'s' * (count != 1)})"
        return "\n".join([head, *(f"  {path}: {message}" for path, message in self.errors)])

    def feedback(self) -> str:
        """A correction prompt to send back to the model.

        It says what was wrong and where, quotes the model's own reply (cut
        to :data:`FEEDBACK_ECHO_CHARS`) and asks for JSON matching the
        schema. It holds nothing but the type name, the paths and messages,
        and the model's text, so it carries no secrets of the caller.
        """
        shown = self.errors[:FEEDBACK_PROBLEMS]
        lines = [
            f"Your previous reply could not be read as {self.type_name}.",
            "Problems:",
            *(f"- {path}: {message}" for path, message in shown),
        ]
        if len(self.errors) > len(shown):
            lines.append(f"- ... and {len(self.errors) - len(shown)} more")
        echo = self.raw[:FEEDBACK_ECHO_CHARS]
        if len(self.raw) > FEEDBACK_ECHO_CHARS:
            echo += f"\n[... {len(self.raw) - FEEDBACK_ECHO_CHARS} more characters cut]"
        lines += [
            "Your reply was:",
            echo,
            "Reply again with only JSON matching the schema, and no other text.",
        ]
        return "\n".join(lines)


_FENCE = re.compile(r"```(?:json)?(?P<body>.*?)```", re.DOTALL | re.IGNORECASE)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {_show(key)}")
        out[key] = value
    return out


def _load(text: str, type_name: str) -> Any:
    start, end = 0, len(text)
    fence = _FENCE.fullmatch(text.strip())
    if fence is not None:
        start = len(text) - len(text.lstrip()) + fence.start("body")
        end = start + len(fence.group("body"))
    try:
        return json.loads(
            text[start:end], parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
        )
    except json.JSONDecodeError as exc:
        pos = start + exc.pos
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        message = f"invalid JSON: {exc.msg} (line {line}, column {column})"
    except ValueError as exc:
        message = f"invalid JSON: {exc}"
    except RecursionError:
        message = "invalid JSON: nested too deeply"
    raise OutputValidationError(type_name, [("$", message)], text)


def parse_json_output(text: str) -> Any:
    """Parse a model's reply as JSON, with no type to check it against.

    Surrounding whitespace and one enclosing ```` ```json ```` fence are
    allowed; anything else around the JSON is an error. ``NaN``, ``Infinity``
    and duplicate keys are refused.

    Raises:
        OutputValidationError: If the text is not JSON (path ``$``, with the
            line and column of the problem in ``text``).
    """
    return _load(text, "JSON")


@overload
def parse_output(tp: type[T], text: str) -> T: ...
@overload
def parse_output(tp: object, text: str) -> Any: ...
def parse_output(tp: object, text: str) -> Any:
    """Parse a model's reply into ``tp``, strictly.

    The JSON is read as by :func:`parse_json_output`, then structured with no
    silent coercion: ``"1"`` is not an int, ``1`` is not a str, ``"yes"`` is
    not a bool, ``1.5`` is not an int (an int is a float, though); Literal and
    Enum values must match by value and JSON type; unknown keys are refused.
    Keys of fields with defaults may be absent. ``Sequence[T]`` becomes a
    tuple, ``Mapping[str, T]`` a dict.

    Args:
        tp: Any annotation :func:`~actrio._schema.json_schema` accepts.
        text: The model's reply.

    Raises:
        SchemaError: If ``tp`` has no JSON Schema form.
        OutputValidationError: With every problem found, each at its JSON path.
    """
    _shared_schema(tp, True)  # cached; refuses the types the converter is not set up for
    type_name = _type_name(tp)
    data = _load(text, type_name)
    try:
        return _converter.structure(data, typing.cast("Any", _NoneType if tp is None else tp))
    except _INVALID as exc:
        problems = _problems(exc)
    raise OutputValidationError(type_name, problems, text)


_INVALID = (cattrs.BaseValidationError, TypeError, ValueError, KeyError)
"""What structuring raises for input that does not fit."""
_NOTES = (AttributeValidationNote, IterableValidationNote)


def _key_path(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{_show(key)}]"


def _problems(exc: BaseException) -> list[tuple[str, str]]:
    """Every leaf problem under a cattrs validation error, with its JSON path.

    A walk with a stack, not recursion: a reply nested deep enough to exhaust
    Python's stack while structuring must not do it again here.
    """
    found: list[tuple[str, str]] = []
    stack: list[tuple[BaseException, str]] = [(exc, "$")]
    while stack:
        exc, path = stack.pop()
        if isinstance(exc, RecursionError):  # cattrs collects it like any other error
            return [("$", "nested too deeply")]
        if isinstance(exc, ForbiddenExtraKeysError):
            found += [(_key_path(path, key), "unexpected key") for key in sorted(exc.extra_fields)]
        elif isinstance(exc, KeyError):  # cattrs reading a required key that is not there
            found.append((path, "required key is missing"))
        elif isinstance(exc, cattrs.BaseValidationError):
            stack += [(sub, _step(path, sub)) for sub in reversed(exc.exceptions)]
        else:
            found.append((path, str(exc) or type(exc).__name__))
    return found


def _step(path: str, exc: BaseException) -> str:
    """``path`` extended by the field, index or key the last cattrs note on ``exc`` names."""
    notes = getattr(exc, "__notes__", [])
    note = next((n for n in reversed(notes) if isinstance(n, _NOTES)), None)
    if isinstance(note, AttributeValidationNote):
        return _key_path(path, note.name)
    if isinstance(note, IterableValidationNote):
        index = note.index
        return f"{path}[{index}]" if isinstance(index, int) else _key_path(path, index)
    return path  # a problem of the object itself, such as an attrs validator's


# ---------------------------------------------------------------- the converter


def _show(value: object) -> str:
    """A short JSON rendering of a value from the model, for messages."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOW_CHARS else f"{text[: _SHOW_CHARS - 3]}..."


def _expected(what: str, value: object) -> TypeError:
    return TypeError(f"expected {what}, got {_json_type(value)}")


def _json_kinds(tp: object) -> frozenset[str]:
    """The JSON types a value of ``tp`` can have (to pick a union member)."""
    schema = _shared_schema(tp, False)
    options = schema.get("anyOf", [schema])
    kinds = {kind for option in options for kind in _option_kinds(option)}
    if "number" in kinds:
        kinds.add("integer")
    return frozenset(kinds)


def _option_kinds(option: Mapping[str, Any]) -> list[str]:
    if "$ref" in option or "properties" in option:
        return ["object"]
    if "type" not in option:  # Any
        return list(_JSON_TYPE_NAMES)
    return [option["type"]]


def _matches(value: object, allowed: object) -> bool:
    return value == allowed and _json_type(value) == _json_type(allowed)


def _structure_scalar(value: object, tp: type[Any]) -> object:
    """One hook for every class cattrs dispatches by class (str, int, Enum, Path ...)."""
    if issubclass(tp, enum.Enum):
        for member in tp:
            if _matches(value, member.value):
                return member
        options = ", ".join(_show(member.value) for member in tp)
        raise ValueError(f"expected one of {options}, got {_show(value)}")
    if issubclass(tp, PurePath):
        if not isinstance(value, str):
            raise _expected("string", value)
        return tp(value)
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _expected("number", value)
        try:
            return float(value)
        except OverflowError:
            raise ValueError("number is too large") from None
    kind = _SCALARS[tp]["type"]
    if _json_type(value) != kind:
        raise _expected(kind, value)
    return value


def _literal_hook(tp: object) -> Callable[[object, object], object]:
    members = typing.get_args(tp)
    options = ", ".join(_show(_json_value(member)) for member in members)

    def structure(value: object, _: object) -> object:
        for member in members:
            if _matches(value, _json_value(member)):
                return member
        raise ValueError(f"expected one of {options}, got {_show(value)}")

    return structure


def _union_hook(tp: object) -> Callable[[object, object], object]:
    members = typing.get_args(tp)
    kinds = [(member, _json_kinds(member)) for member in members]
    every_kind = {kind for _, accepts in kinds for kind in accepts}
    if "number" in every_kind:
        every_kind.discard("integer")  # said once: a number may be an integer
    expected = " or ".join(kind for kind in _JSON_TYPE_NAMES if kind in every_kind)
    names = " | ".join(_type_name(member) for member in members)

    def structure(value: object, _: object) -> object:
        fits = [member for member, accepts in kinds if _json_type(value) in accepts]
        if not fits:
            raise _expected(expected, value)
        if len(fits) == 1:  # the only candidate: its own errors are the useful ones
            return _converter.structure(value, fits[0])
        for member in fits:
            try:
                return _converter.structure(value, member)
            except _INVALID:
                continue
        raise ValueError(f"matches none of {names}")

    return structure


def _noted(exc: Exception, index: int | str, tp: object) -> Exception:
    exc.add_note(IterableValidationNote(f"@ {index!r}", index, tp))
    return exc


def _array_hook(tp: object) -> Callable[[object, object], object]:
    item = typing.get_args(tp)[0]
    make: Callable[[list[object]], object] = list if typing.get_origin(tp) is list else tuple

    def structure(value: object, _: object) -> object:
        if not isinstance(value, list):
            raise _expected("array", value)
        out, errors = [], []
        for index, entry in enumerate(value):
            try:
                out.append(_converter.structure(entry, item))
            except _INVALID as exc:  # collected, to report every item at once
                errors.append(_noted(exc, index, item))
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, list)
        return make(out)

    return structure


def _mapping_hook(tp: object) -> Callable[[object, object], object]:
    item = typing.get_args(tp)[1]

    def structure(value: object, _: object) -> object:
        if not isinstance(value, dict):
            raise _expected("object", value)
        out, errors = {}, []
        for key, entry in value.items():
            try:
                out[key] = _converter.structure(entry, item)
            except _INVALID as exc:  # collected, to report every value at once
                errors.append(_noted(exc, key, item))
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, dict)
        return out

    return structure


def _attrs_hook(cls: type[Any]) -> Callable[[object, object], object]:
    fields = make_dict_structure_fn(cls, _converter)

    def structure(value: object, _: object) -> object:
        if not isinstance(value, dict):
            raise _expected("object", value)
        return fields(value, cls)

    return structure


def _origin_in(*origins: object) -> Callable[[object], bool]:
    return lambda tp: typing.get_origin(tp) in origins


_converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
"""actrio's wire converter's rules, plus strict Literal, Enum, Path and container hooks.

A separate converter, so that nothing here changes how the wire form reads.
cattrs dispatches classes by ``singledispatch`` before anything else, and a
class like ``IntEnum`` would reach the ``int`` hook; so every class goes
through :func:`_structure_scalar`, which looks at the exact class.
"""
for _cls in (str, int, float, bool, enum.Enum, PurePath, Path):
    _converter.register_structure_hook(_cls, _structure_scalar)
_converter.register_structure_hook(_NoneType, lambda value, _: _structure_scalar(value, _NoneType))
_converter.register_structure_hook_factory(_origin_in(Literal), _literal_hook)
_converter.register_structure_hook_factory(_origin_in(*_UNIONS), _union_hook)
_converter.register_structure_hook_factory(_origin_in(*_ARRAYS), _array_hook)
_converter.register_structure_hook_factory(_origin_in(*_OBJECTS), _mapping_hook)
_converter.register_structure_hook_factory(
    lambda tp: isinstance(tp, type) and attrs.has(tp), _attrs_hook
)
