"""Hypothesis strategies for a tool's calls: valid ones, and ones that must be refused.

:func:`tool_calls` reads a :class:`~actrio.tools.Tool` (made by ``@tool`` or
:meth:`~actrio.tools.Tool.from_schema`) and generates :class:`ToolCall`
cases. A valid case carries the keyword arguments validation must produce;
an invalid one carries the JSON path its error must name. Invalid cases are
built from a valid one by one change: an unexpected key, a missing required
key, a value of a JSON type the parameter does not take, or arguments that
are not an object at all.

Limitations: attrs validators and ``minimum``-style bounds in hand-written
schemas are not known to the generator beyond what it reads from the
schema; in a union, a member is generated only for JSON types no earlier
member takes (the earlier member would win); changes are made at the top
level of the arguments only.
"""

from __future__ import annotations

import enum
import json
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePath
from typing import Annotated, Any, Literal

import attrs
from hypothesis import strategies as st

from actrio._output import _json_kinds, _key_path
from actrio._schema import _ARRAYS, _OBJECTS, _UNIONS, _json_type
from actrio.tools._jsonschema import SchemaArguments, _Run
from actrio.tools._validate import SignatureArguments

if typing.TYPE_CHECKING:
    from actrio.tools import Tool

__all__ = ("Mutation", "ToolCall", "tool_calls")

Mutation = Literal["valid", "extra key", "missing required", "wrong type", "not an object"]
"""How a generated call was made: valid, or broken in one way."""

Pair = tuple[object, object]
"""A JSON value and the Python value validation must turn it into."""

_OMIT = object()
_SAMPLES: dict[str, object] = {
    "string": "x",
    "integer": 7,
    "number": 0.5,
    "boolean": True,
    "null": None,
    "array": [],
    "object": {},
}
_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
"""What a JSON string may hold: no NUL, no unpaired surrogate."""
_TEXT = st.text(_CHARS, max_size=12)
_JSON_SCALARS = st.none() | st.booleans() | st.integers() | _TEXT
_JSON = st.recursive(
    _JSON_SCALARS | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


@attrs.frozen
class ToolCall:
    """One generated call of a tool.

    Attributes:
        arguments: The arguments, as parsed JSON (send :attr:`text` for the raw form).
        mutation: ``"valid"``, or the one change that makes the call invalid.
        expected: For a valid call, the keyword arguments validation returns.
        path: For an invalid call, a JSON path its error names.
    """

    arguments: object
    mutation: Mutation
    expected: Mapping[str, Any] | None = None
    path: str | None = None

    @property
    def valid(self) -> bool:
        """Whether validation must accept the call."""
        return self.mutation == "valid"

    @property
    def text(self) -> str:
        """The arguments as JSON text."""
        return json.dumps(self.arguments, ensure_ascii=False)


# ---------------------------------------------------------------- from Python types


class _Types:
    """Pair strategies for annotations, sharing one cache for (recursive) attrs classes."""

    def __init__(self) -> None:
        self.classes: dict[type[Any], st.SearchStrategy[Pair]] = {}

    def pairs(self, tp: object) -> st.SearchStrategy[Pair]:  # noqa: PLR0911 - one case per type form
        origin = typing.get_origin(tp)
        if origin is Annotated:
            return self.pairs(tp.__origin__)  # type: ignore[attr-defined]
        if origin in _UNIONS:
            return self.union(typing.get_args(tp))
        if origin is Literal:
            return st.sampled_from(typing.get_args(tp)).map(_member_pair)
        if origin in _ARRAYS:
            make = list if origin is list else tuple
            items = st.lists(self.pairs(typing.get_args(tp)[0]), max_size=3)
            return items.map(lambda got: ([j for j, _ in got], make(p for _, p in got)))
        if origin in _OBJECTS:
            values = st.dictionaries(_TEXT, self.pairs(typing.get_args(tp)[1]), max_size=3)
            return values.map(
                lambda got: (
                    {k: j for k, (j, _) in got.items()},
                    {k: p for k, (_, p) in got.items()},
                )
            )
        if isinstance(tp, typing.NewType):
            return self.pairs(tp.__supertype__)
        if isinstance(tp, type) and attrs.has(tp):
            return self.attrs_class(tp)
        return _plain(tp)

    def union(self, members: Sequence[object]) -> st.SearchStrategy[Pair]:
        options: list[st.SearchStrategy[Pair]] = []
        taken: set[str] = set()
        for member in members:
            kinds = _json_kinds(member)
            if not kinds <= taken:
                options.append(self.pairs(member).filter(_not_in(frozenset(taken))))
            taken |= kinds
        return st.one_of(options)

    def attrs_class(self, cls: type[Any]) -> st.SearchStrategy[Pair]:
        if cls not in self.classes:
            self.classes[cls] = st.deferred(lambda: self._fields(cls))
        return self.classes[cls]

    def _fields(self, cls: type[Any]) -> st.SearchStrategy[Pair]:
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = [f for f in attrs.fields(cls) if f.init]
        parts = st.fixed_dictionaries({f.name: self.pairs(hints[f.name]) for f in fields})
        return parts.map(
            lambda got: (
                {name: j for name, (j, _) in got.items()},
                cls(**{f.alias: got[f.name][1] for f in fields}),
            )
        )


def _not_in(kinds: frozenset[str]) -> Callable[[Pair], bool]:
    """Keep pairs whose JSON type no earlier union member takes."""
    return lambda pair: _json_type(pair[0]) not in kinds


def _member_pair(member: object) -> Pair:
    return (member.value if isinstance(member, enum.Enum) else member), member


def _plain(tp: object) -> st.SearchStrategy[Pair]:
    if tp is None or tp is type(None):
        return st.just((None, None))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp)).map(_member_pair)
    if isinstance(tp, type) and issubclass(tp, PurePath):
        text = _TEXT.filter(lambda s: bool(s.strip()))
        return text.map(lambda s: (s, tp(s)))
    scalars: dict[object, st.SearchStrategy[Any]] = {
        bool: st.booleans(),
        int: st.integers(),
        float: st.floats(allow_nan=False, allow_infinity=False),
        str: _TEXT,
    }
    return scalars.get(tp, _JSON).map(lambda value: (value, value))


def _wrong_kinds(accepted: frozenset[str]) -> list[str]:
    if "number" in accepted:
        accepted |= {"integer"}
    return [kind for kind in _SAMPLES if kind not in accepted]


def _signature_valid(
    validator: SignatureArguments,
) -> st.SearchStrategy[tuple[dict[str, Any], dict[str, Any]]]:
    types = _Types()
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for param in validator.params:
        value = types.pairs(param.annotation)
        if not param.required:
            nulls = [st.just((None, param.default))] if param.null_is_default else []
            value = st.one_of(st.just((_OMIT, param.default)), *nulls, value)
        parts[param.name] = value

    def assemble(got: dict[str, Pair]) -> tuple[dict[str, Any], dict[str, Any]]:
        sent = {name: j for name, (j, _) in got.items() if j is not _OMIT}
        return sent, {name: p for name, (_, p) in got.items()}

    return st.fixed_dictionaries(parts).map(assemble)


def _signature_accepted(validator: SignatureArguments) -> dict[str, frozenset[str]]:
    return {
        param.name: _json_kinds(param.annotation) | ({"null"} if param.null_is_default else set())
        for param in validator.params
    }


# ---------------------------------------------------------------- from JSON schemas


class _Schemas:
    """Value strategies for the subschemas of one hand-written schema."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.cache: dict[int, st.SearchStrategy[Any]] = {}

    def values(self, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
        if id(schema) not in self.cache:
            leaves = _Run(self.root).leaves(schema)
            self.cache[id(schema)] = st.deferred(
                lambda: st.one_of([self.leaf(leaf) for leaf in leaves])
            )
        return self.cache[id(schema)]

    def leaf(self, leaf: Mapping[str, Any]) -> st.SearchStrategy[Any]:
        if "enum" in leaf:
            return st.sampled_from(leaf["enum"])
        if "const" in leaf:
            return st.just(leaf["const"])
        kinds = leaf.get("type", ["null", "boolean", "string"])
        return st.one_of([self.kind(kind, leaf) for kind in _listed(kinds)])

    def kind(self, kind: str, leaf: Mapping[str, Any]) -> st.SearchStrategy[Any]:  # noqa: PLR0911 - one case per JSON type
        if kind == "string":
            low = leaf.get("minLength", 0)
            return st.text(
                _CHARS,
                min_size=low,
                max_size=min(leaf.get("maxLength", low + 12), low + 12),
            )
        if kind == "integer":
            return _integers(leaf)
        if kind == "number":
            return _numbers(leaf)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            low = leaf.get("minItems", 0)
            items = self.values(leaf["items"]) if "items" in leaf else _JSON
            return st.lists(
                items, min_size=low, max_size=min(leaf.get("maxItems", low + 3), low + 3)
            )
        return self.object(leaf)

    def object(self, leaf: Mapping[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        properties = leaf.get("properties", {})
        required = set(leaf.get("required", []))
        return st.fixed_dictionaries(
            {name: self.values(properties[name]) for name in properties if name in required},
            optional={
                name: self.values(sub) for name, sub in properties.items() if name not in required
            },
        )

    def accepted(self, schema: Mapping[str, Any]) -> frozenset[str]:
        kinds: set[str] = set()
        for leaf in _Run(self.root).leaves(schema):
            kinds |= set(_listed(leaf.get("type", list(_SAMPLES))))
        return frozenset(kinds)


def _listed(kinds: str | list[str]) -> list[str]:
    return kinds if isinstance(kinds, list) else [kinds]


def _integers(leaf: Mapping[str, Any]) -> st.SearchStrategy[int]:
    low = leaf.get("minimum", -(10**6))
    high = leaf.get("maximum", 10**6)
    if "exclusiveMinimum" in leaf:
        low = max(low, math.floor(leaf["exclusiveMinimum"]) + 1)
    if "exclusiveMaximum" in leaf:
        high = min(high, math.ceil(leaf["exclusiveMaximum"]) - 1)
    return st.integers(math.ceil(low), math.floor(high))


def _numbers(leaf: Mapping[str, Any]) -> st.SearchStrategy[float]:
    low = leaf.get("exclusiveMinimum", leaf.get("minimum"))
    high = leaf.get("exclusiveMaximum", leaf.get("maximum"))
    return st.floats(
        low,
        high,
        allow_nan=False,
        allow_infinity=False,
        exclude_min="exclusiveMinimum" in leaf,
        exclude_max="exclusiveMaximum" in leaf,
    )


# ---------------------------------------------------------------- cases


@attrs.frozen
class _Shape:
    valid: st.SearchStrategy[tuple[dict[str, Any], dict[str, Any]]]
    required: tuple[str, ...]
    accepted: dict[str, frozenset[str]]
    closed: bool


def _shape(tool: Tool) -> _Shape:
    validator = tool._validator
    if isinstance(validator, SignatureArguments):
        return _Shape(
            _signature_valid(validator),
            tuple(p.name for p in validator.params if p.required),
            _signature_accepted(validator),
            closed=True,
        )
    assert isinstance(validator, SchemaArguments)
    root = validator.schema
    schemas = _Schemas(root)
    properties = root.get("properties", {})
    return _Shape(
        schemas.object(root).map(lambda sent: (sent, sent)),
        tuple(root.get("required", [])),
        {name: schemas.accepted(sub) for name, sub in properties.items()},
        closed=root.get("additionalProperties", False) is False,
    )


@st.composite
def _case(draw: st.DrawFn, shape: _Shape, valid: bool | None) -> ToolCall:
    sent, expected = draw(shape.valid)
    mutations: list[Mutation] = [] if valid is False else ["valid"]
    if valid is not True:
        mutations.append("not an object")
        mutations += ["missing required"] if shape.required else []
        mutations += ["extra key"] if shape.closed else []
        mutations += ["wrong type"] if any(map(_wrong_kinds, shape.accepted.values())) else []
    mutation = draw(st.sampled_from(mutations))
    if mutation == "valid":
        return ToolCall(sent, "valid", expected=expected)
    if mutation == "not an object":
        return ToolCall(draw(st.sampled_from([[], "x", 1, None])), mutation, path="$")
    if mutation == "missing required":
        name = draw(st.sampled_from(shape.required))
        return ToolCall(
            {k: v for k, v in sent.items() if k != name}, mutation, path=_key_path("$", name)
        )
    if mutation == "extra key":
        key = draw(_TEXT.filter(lambda k: k not in shape.accepted))
        return ToolCall({**sent, key: 0}, mutation, path=_key_path("$", key))
    name = draw(st.sampled_from([n for n, kinds in shape.accepted.items() if _wrong_kinds(kinds)]))
    kind = draw(st.sampled_from(_wrong_kinds(shape.accepted[name])))
    return ToolCall({**sent, name: _SAMPLES[kind]}, mutation, path=_key_path("$", name))


def tool_calls(tool: Tool, *, valid: bool | None = None) -> st.SearchStrategy[ToolCall]:
    """Calls of ``tool``: valid ones, invalid ones, or both.

    Args:
        tool: A tool made by ``@tool`` or :meth:`Tool.from_schema`.
        valid: ``True`` for valid calls only, ``False`` for invalid ones
            only, ``None`` for both.

    Returns:
        A strategy of :class:`ToolCall`. For a valid call,
        ``parse_arguments(tool, call.text) == call.expected``; for an
        invalid one, ``parse_arguments`` raises ``ToolArgumentsError`` with
        ``call.path`` among the error paths.
    """
    return _case(_shape(tool), valid)
