"""Policy specs: frozen values in nemoir-runtime's shape, and their JSON form.

A policy gates one capability call. ``deny`` policies deny the call when
their condition holds; ``before`` policies run other capability calls first
(``requires``), when their condition holds or always if they have none::

    PolicySpec(id, kind, trigger, requires=(), condition=None,
               match=(), not_match=(), description="")
    TriggerSpec(capability, bind)          bind: local name -> argument name
    RequireSpec(capability, args={})       args: parameter -> ExprSpec
    ExprSpec(kind, ...)                    one node of the condition tree
    RefSpec(kind, name, path=())           input / bound / node reference
    Example(args, inputs={})               a self-test (SH-12, CDX-1)

Every value checks itself when built and raises :class:`PolicySpecError`
naming the field that is wrong. :func:`load_policies` reads the JSON form
(strict: no coercion, unknown keys rejected, every problem reported with its
JSON path and policy id) and :func:`policies_to_json` writes it back.

Rules beyond the field types:

- names (bound names, ref names, methods, arguments) are ASCII identifiers;
  bound names may not be one of :data:`KEYWORDS`, so the text form can
  always write them bare;
- ``and``/``or`` take at least two operands, ``in`` at least one option;
- a literal in a position that needs a condition must be a ``bool``;
- ``float`` literals accept an ``int`` (stored as float); ``list`` literals
  hold scalars only (stored as a tuple); integers fit in 64 bits;
- expressions nest at most :data:`MAX_EXPR_DEPTH` levels;
- ``Example`` values are JSON (copied when built; treat them as read-only).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar

import attrs

from actrio._json import copy_json
from actrio._wire import converter

__all__ = (
    "KEYWORDS",
    "MAX_EXPR_DEPTH",
    "Example",
    "ExprSpec",
    "PolicySpec",
    "PolicySpecError",
    "RefSpec",
    "RequireSpec",
    "TriggerSpec",
    "load_policies",
    "policies_to_data",
    "policies_to_json",
)

MAX_EXPR_DEPTH: Final = 64
"""How deeply a condition (or a requirement argument) may nest."""

_MAX_JSON_DEPTH: Final = 2 * MAX_EXPR_DEPTH + 16
_INT_RANGE: Final = range(-(2**63), 2**63)

KEYWORDS: Final = frozenset(
    {
        "and", "before", "deny", "false", "if", "in", "input", "match", "node", "not",
        "not_match", "null", "or", "policy", "requires", "true", "with",
    }
)  # fmt: skip
"""Words of the text form; none of them can be a bound name."""

ExprKind: TypeAlias = Literal["not", "and", "or", "ref", "literal", "method_call", "compare", "in"]
RefKind: TypeAlias = Literal["input", "bound", "node"]
LiteralType: TypeAlias = Literal["string", "int", "float", "bool", "null", "list"]
CompareOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]
Scalar: TypeAlias = str | int | float | bool | None
LiteralValue: TypeAlias = Scalar | tuple[Scalar, ...]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CAPABILITY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_V = TypeVar("_V")
Problem: TypeAlias = tuple[str, str]
"""A sub-path (relative to the value checked) and what is wrong there."""


class PolicySpecError(ValueError):
    """A policy spec is invalid.

    Attributes:
        message: What is wrong (of the first problem).
        policy_id: The id of the policy it is in, when known.
        path: Where: a JSON path such as ``policies[2].condition.exprs[1]``.
        problems: Every problem found, as ``(policy_id, path, message)``.
    """

    def __init__(
        self,
        message: str,
        *,
        policy_id: str | None = None,
        path: str = "",
        problems: tuple[tuple[str | None, str, str], ...] = (),
    ) -> None:
        self.message = message
        self.policy_id = policy_id
        self.path = path
        self.problems = problems or ((policy_id, path, message),)
        super().__init__("\n".join(_line(*p) for p in self.problems))


def _line(policy_id: str | None, path: str, message: str) -> str:
    where = f"{path}: " if path else ""
    owner = f" (policy {policy_id!r})" if policy_id is not None else ""
    return f"{where}{message}{owner}"


def _join(base: str, sub: str) -> str:
    if not sub or not base:
        return base or sub
    return base + sub if sub.startswith("[") else f"{base}.{sub}"


def _tname(value: object) -> str:
    """The JSON name of a value's type (Python's for anything else)."""
    names = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return names.get(type(value), type(value).__qualname__)


def _raise(problem: Problem | None, policy_id: str | None = None) -> None:
    if problem is not None:
        raise PolicySpecError(problem[1], policy_id=policy_id, path=problem[0])


class _FrozenMap(Mapping[str, _V], Generic[_V]):
    """An immutable mapping that compares equal to a dict with the same items."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, _V]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return repr(self._data)


def _freeze(value: Any) -> Any:
    return _FrozenMap(value) if isinstance(value, Mapping) else value


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list | tuple) else value


def _name_problem(field: str, value: object, what: str) -> Problem | None:
    if not isinstance(value, str):
        return field, f"{what} must be a string, got {_tname(value)}"
    if not _IDENT.match(value):
        return field, f"{what} {value!r} is not an identifier"
    return None


def _map_problem(field: str, value: object) -> Problem | None:
    if isinstance(value, Mapping):
        return None
    return field, f"expected an object, got {_tname(value)}"


@attrs.frozen
class RefSpec:
    """A reference read when a condition is evaluated.

    Attributes:
        kind: ``input`` (a run input, e.g. ``candidate_path``), ``bound`` (an
            argument the trigger binds) or ``node`` (a prior node's output,
            read from the ``outputs`` mapping given at evaluation).
        name: The input, bound or node name.
        path: Keys to follow into the value (mappings only).
    """

    kind: RefKind
    name: str
    path: tuple[str, ...] = attrs.field(default=(), converter=_tuple)

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("input", "bound", "node"):
            _raise(("kind", f"unknown ref kind {self.kind!r}; expected input, bound or node"))
        _raise(_name_problem("name", self.name, "name") or _keys_problem(self.path))


def _keys_problem(path: object) -> Problem | None:
    if not isinstance(path, tuple):
        return "path", f"expected a list of keys, got {_tname(path)}"
    for i, key in enumerate(path):
        if not isinstance(key, str) or not key:
            return f"path[{i}]", f"keys are non-empty strings, got {key!r}"
    return None


_NEEDS: Final[dict[str, tuple[str, ...]]] = {
    "not": ("expr",),
    "and": ("exprs",),
    "or": ("exprs",),
    "ref": ("ref",),
    "literal": ("type", "value"),
    "method_call": ("receiver", "method", "args"),
    "compare": ("op", "left", "right"),
    "in": ("left", "options"),
}
_FIELDS: Final = (
    "expr", "exprs", "ref", "type", "value", "receiver", "method", "args", "op", "left", "right",
    "options",
)  # fmt: skip
_ONE_EXPR: Final = frozenset({"expr", "receiver", "left", "right"})
_MANY_EXPRS: Final = frozenset({"exprs", "args", "options"})
_MIN_COUNT: Final = {"and": 2, "or": 2, "in": 1}
_OPS: Final = ("==", "!=", "<", "<=", ">", ">=")
_LITERAL_TYPES: Final = ("string", "int", "float", "bool", "null", "list")


_SCALAR_EXPECTED: Final[dict[str, tuple[Any, str]]] = {
    "string": (str, "a string"),
    "int": (int, "an integer"),
    "float": ((int, float), "a finite number"),
    "bool": (bool, "true or false"),
    "null": (type(None), "null"),
}


def _scalar_problem(type_: str, value: object) -> str | None:
    """What is wrong with a scalar literal ``value`` of ``type_``, if anything."""
    cls, what = _SCALAR_EXPECTED[type_]
    bad_bool = isinstance(value, bool) and type_ != "bool"
    if bad_bool or not isinstance(value, cls):
        return f"{type_} literal needs {what}, got {_tname(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{type_} literal needs {what}, got {value!r}"
    if type_ == "int" and value not in _INT_RANGE:
        return "int literal out of the 64-bit range"
    return None


_SCALAR_TYPES: Final = {str: "string", int: "int", float: "float", bool: "bool", type(None): "null"}


def _literal_problem(type_: object, value: object) -> Problem | None:
    if type_ not in _LITERAL_TYPES:
        return (
            "type",
            f"unknown literal type {type_!r}; expected one of {', '.join(_LITERAL_TYPES)}",
        )
    if type_ != "list":
        problem = _scalar_problem(str(type_), value)
        return None if problem is None else ("value", problem)
    if not isinstance(value, tuple):
        return "value", f"list literal needs a list, got {_tname(value)}"
    for i, item in enumerate(value):
        item_type = _SCALAR_TYPES.get(type(item))
        problem = (
            _scalar_problem(item_type, item)
            if item_type is not None
            else f"list literal items are scalars, got {_tname(item)}"
        )
        if problem is not None:
            return f"value[{i}]", problem
    return None


def _article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _many_problem(kind: str, field: str, value: object) -> Problem | None:
    if not isinstance(value, tuple):
        return field, f"expected a list of expressions, got {_tname(value)}"
    least = _MIN_COUNT.get(kind, 0)
    if len(value) < least:
        wanted = "one option" if least == 1 else f"two {field}"
        return field, f"{kind} needs at least {wanted}, got {len(value)}"
    for i, item in enumerate(value):
        if not isinstance(item, ExprSpec):
            return f"{field}[{i}]", f"expected an expression, got {_tname(item)}"
    return None


def _one_problem(kind: str, field: str, value: object) -> Problem | None:
    if value is None:
        return field, f"{kind} needs {_article(field)}"
    if not isinstance(value, ExprSpec):
        return field, f"expected an expression, got {_tname(value)}"
    return None


def _field_problem(kind: str, field: str, value: object) -> Problem | None:
    """Check one field the kind uses."""
    if field in _MANY_EXPRS:
        return _many_problem(kind, field, value)
    if field in _ONE_EXPR:
        return _one_problem(kind, field, value)
    if field == "ref" and not isinstance(value, RefSpec):
        return field, f"ref needs a ref, got {_tname(value)}"
    if field == "method":
        return _name_problem(field, value, "method")
    if field == "op" and value not in _OPS:
        return field, f"unknown compare op {value!r}; expected one of {' '.join(_OPS)}"
    return None


@attrs.frozen(repr=False)
class ExprSpec:
    """One node of a condition tree; ``kind`` says which fields it uses.

    ======== ===============================================================
    kind     fields
    ======== ===============================================================
    not      ``expr``
    and, or  ``exprs`` (two or more; evaluated left to right, short-circuit)
    ref      ``ref``
    literal  ``type`` (string, int, float, bool, null, list) and ``value``
    method   ``method_call``: ``receiver``, ``method``, ``args``
    compare  ``op`` (== != < <= > >=), ``left``, ``right``
    in       ``left``, ``options``: true when ``left`` equals an option, as
             ``or`` of ``eq`` calls would say (the text form lowers
             ``x in [...]`` to exactly that ``or``)
    ======== ===============================================================

    Fields a kind does not use must keep their defaults.
    """

    kind: ExprKind
    expr: ExprSpec | None = None
    exprs: tuple[ExprSpec, ...] = attrs.field(default=(), converter=_tuple)
    ref: RefSpec | None = None
    type: LiteralType | None = None
    value: LiteralValue = attrs.field(default=None, converter=_tuple)
    receiver: ExprSpec | None = None
    method: str | None = None
    args: tuple[ExprSpec, ...] = attrs.field(default=(), converter=_tuple)
    op: CompareOp | None = None
    left: ExprSpec | None = None
    right: ExprSpec | None = None
    options: tuple[ExprSpec, ...] = attrs.field(default=(), converter=_tuple)

    def __attrs_post_init__(self) -> None:
        _raise(self._problem())
        if self.type == "float" and isinstance(self.value, int):
            object.__setattr__(self, "value", float(self.value))

    def __repr__(self) -> str:
        # Only the fields the kind uses: the repr reads like the code that builds it.
        fields = [
            f"{f}={getattr(self, f)!r}"
            for f in _NEEDS[self.kind]
            if self.kind == "literal" or getattr(self, f) != _DEFAULTS[f]
        ]
        return f"ExprSpec({', '.join([f'kind={self.kind!r}', *fields])})"

    def _problem(self) -> Problem | None:
        needs = _NEEDS.get(self.kind)
        if needs is None:
            return (
                "kind",
                f"unknown expression kind {self.kind!r}; expected one of {', '.join(_NEEDS)}",
            )
        for field in _FIELDS:
            if field not in needs and getattr(self, field) != _DEFAULTS[field]:
                return field, f"{self.kind} takes no {field}"
        if self.kind == "literal":
            return _literal_problem(self.type, self.value)
        for field in needs:
            problem = _field_problem(self.kind, field, getattr(self, field))
            if problem is not None:
                return problem
        return None


_DEFAULTS: Final = {f.name: f.default for f in attrs.fields(ExprSpec)}


def _children(expr: ExprSpec) -> Iterator[tuple[str, ExprSpec, bool]]:
    """Each sub-expression with its field path and whether it must be a condition."""
    for field in _NEEDS[expr.kind]:
        if field in _ONE_EXPR:
            yield field, getattr(expr, field), expr.kind == "not"
        elif field in _MANY_EXPRS:
            for i, sub in enumerate(getattr(expr, field)):
                yield f"{field}[{i}]", sub, expr.kind in ("and", "or")


def _tree_problem(
    root: ExprSpec, base: str, bound: Mapping[str, str], cond: bool
) -> Problem | None:
    """Depth, bound names and literal conditions of a whole tree (iterative: any depth)."""
    stack: list[tuple[ExprSpec, tuple[Any, ...], int, bool]] = [(root, (None, base), 1, cond)]
    while stack:
        expr, link, depth, want_bool = stack.pop()
        if depth > MAX_EXPR_DEPTH:
            return _unlink(link), f"expression nested deeper than {MAX_EXPR_DEPTH} levels"
        if want_bool and expr.kind == "literal" and expr.type != "bool":
            return _unlink(link), f"{_article(str(expr.type))} literal is not a condition"
        ref = expr.ref
        if ref is not None and ref.kind == "bound" and ref.name not in bound:
            names = ", ".join(sorted(bound)) or "none"
            path = _join(_unlink(link), "ref.name")
            return path, f"{ref.name!r} is not bound by the trigger (bound: {names})"
        children = [(sub, (link, seg), depth + 1, b) for seg, sub, b in _children(expr)]
        stack.extend(reversed(children))
    return None


def _unlink(link: Any) -> str:
    parts: list[str] = []
    while link is not None:
        link, seg = link
        parts.append(seg)
    path = ""
    for seg in reversed(parts):
        path = _join(path, seg)
    return path


@attrs.frozen
class TriggerSpec:
    """The capability call a policy gates, and the arguments it binds.

    Attributes:
        capability: A dotted capability name, e.g. ``os.shell``.
        bind: Local name -> argument name of the call (``{"command": "command"}``).
    """

    capability: str
    bind: Mapping[str, str] = attrs.field(factory=dict, converter=_freeze)

    def __attrs_post_init__(self) -> None:
        _raise(_capability_problem(self.capability))
        _raise(_map_problem("bind", self.bind))
        for local, arg in self.bind.items():
            problem = _name_problem(f"bind.{local}", local, "local name")
            if problem is None and local in KEYWORDS:
                problem = f"bind.{local}", f"{local!r} is a keyword and cannot be a bound name"
            _raise(problem or _name_problem(f"bind.{local}", arg, "argument name"))


def _capability_problem(value: object) -> Problem | None:
    if not isinstance(value, str) or not _CAPABILITY.match(value):
        return "capability", f"expected a dotted capability name like 'os.shell', got {value!r}"
    return None


@attrs.frozen
class RequireSpec:
    """A capability call a ``before`` policy runs first.

    Attributes:
        capability: The capability to call, e.g. ``user.confirm``.
        args: Parameter name -> expression giving its value. When empty, the
            engine binds by name: each parameter of ``capability`` that
            shares its name with one of the trigger's bound names gets that
            bound value (``requires fs.read`` after ``fs.write(path)`` reads
            ``path``).
    """

    capability: str
    args: Mapping[str, ExprSpec] = attrs.field(factory=dict, converter=_freeze)

    def __attrs_post_init__(self) -> None:
        _raise(_capability_problem(self.capability))
        _raise(_map_problem("args", self.args))
        for name, value in self.args.items():
            _raise(_name_problem(f"args.{name}", name, "parameter name"))
            _raise(_one_problem("require", f"args.{name}", value))


def _json_problem(value: object, path: str) -> Problem | None:
    """The first part of ``value`` that is not JSON (iterative, depth-bounded)."""
    stack: list[tuple[object, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if item is None or isinstance(item, str | bool):
            continue
        if isinstance(item, int | float):
            problem = _scalar_problem("float", item)
            if problem is None and isinstance(item, int) and item not in _INT_RANGE:
                problem = "integer out of the 64-bit range"
            if problem is not None:
                return where, f"not a JSON number: {item!r}"
        elif depth >= MAX_EXPR_DEPTH:
            return where, f"nested deeper than {MAX_EXPR_DEPTH} levels"
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                if not isinstance(key, str):
                    return where, f"object keys are strings, got {key!r}"
                stack.append((sub, f"{where}.{key}", depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{where}[{i}]", depth + 1) for i, sub in enumerate(item))
        else:
            return where, f"not a JSON value: {_tname(item)}"
    return None


@attrs.frozen
class Example:
    """A self-test of a policy (SH-12, Codex ``match``/``not_match``).

    Attributes:
        args: The capability call's arguments (JSON values).
        inputs: Run inputs the condition may read (JSON values).
    """

    args: Mapping[str, Any] = attrs.field(converter=_freeze)
    inputs: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze)

    def __attrs_post_init__(self) -> None:
        for field in ("args", "inputs"):
            values = getattr(self, field)
            _raise(_map_problem(field, values))
            for key, value in values.items():
                _raise(
                    _name_problem(f"{field}.{key}", key, "name")
                    or _json_problem(value, f"{field}.{key}")
                )
            object.__setattr__(self, field, _FrozenMap(copy_json(dict(values))))


@attrs.frozen
class PolicySpec:
    """One policy, in nemoir-runtime's shape.

    Attributes:
        id: A unique, non-empty name.
        kind: ``deny`` (deny the call when ``condition`` holds) or
            ``before`` (run ``requires`` first, when ``condition`` holds or
            always if it is None).
        trigger: The call the policy gates.
        requires: ``before`` only: the calls to run first (at least one).
        condition: Required for ``deny``, optional for ``before``.
        match: Examples the condition must hold for.
        not_match: Examples it must not hold for.
        description: Free text for people.
    """

    id: str
    kind: Literal["deny", "before"]
    trigger: TriggerSpec
    requires: tuple[RequireSpec, ...] = attrs.field(default=(), converter=_tuple)
    condition: ExprSpec | None = None
    match: tuple[Example, ...] = attrs.field(default=(), converter=_tuple)
    not_match: tuple[Example, ...] = attrs.field(default=(), converter=_tuple)
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            _raise(("id", f"expected a non-empty string, got {self.id!r}"))
        _raise(self._shape_problem(), self.id)
        for field, cls in (("match", Example), ("not_match", Example), ("requires", RequireSpec)):
            for i, item in enumerate(getattr(self, field)):
                if not isinstance(item, cls):
                    _raise(
                        (f"{field}[{i}]", f"expected {cls.__name__}, got {_tname(item)}"), self.id
                    )
        if self.condition is not None:
            _raise(_tree_problem(self.condition, "condition", self.trigger.bind, True), self.id)
        for i, require in enumerate(self.requires):
            for name, arg in require.args.items():
                path = f"requires[{i}].args.{name}"
                _raise(_tree_problem(arg, path, self.trigger.bind, False), self.id)

    def _shape_problem(self) -> Problem | None:
        checks: list[tuple[bool, str, str]] = [
            (
                self.kind in ("deny", "before"),
                "kind",
                f"expected deny or before, got {self.kind!r}",
            ),
            (isinstance(self.trigger, TriggerSpec), "trigger", "expected a TriggerSpec"),
            (isinstance(self.description, str), "description", "expected a string"),
            (
                self.condition is None or isinstance(self.condition, ExprSpec),
                "condition",
                f"expected an expression, got {_tname(self.condition)}",
            ),
            (
                self.kind != "deny" or self.condition is not None,
                "condition",
                "deny needs a condition",
            ),
            (self.kind != "deny" or not self.requires, "requires", "deny takes no requires"),
            (self.kind != "before" or bool(self.requires), "requires", "before needs requires"),
        ]
        for field in ("requires", "match", "not_match"):
            value = getattr(self, field)
            checks.append(
                (isinstance(value, tuple), field, f"expected a list, got {_tname(value)}")
            )
        for ok, field, message in checks:
            if not ok:
                return field, message
        return None


# ---------------------------------------------------------------- the JSON form

_POLICY_KEYS: Final = {
    "id": "string",
    "kind": "string",
    "trigger": "trigger",
    "requires": "requires",
    "condition": "opt_expr",
    "match": "examples",
    "not_match": "examples",
    "description": "string",
}
_EXPR_KEYS: Final = {
    "kind": "string",
    "expr": "opt_expr",
    "exprs": "expr_list",
    "ref": "ref",
    "type": "string",
    "value": "raw",
    "receiver": "opt_expr",
    "method": "string",
    "args": "expr_list",
    "op": "string",
    "left": "opt_expr",
    "right": "opt_expr",
    "options": "expr_list",
}


class _Loader:
    """Structures parsed JSON into specs, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[tuple[str | None, str, str]] = []
        self.policy_id: str | None = None

    def problem(self, path: str, message: str) -> None:
        self.problems.append((self.policy_id, path, message))

    def struct(
        self, cls: type[Any], data: object, path: str, keys: Mapping[str, str], required: str
    ) -> Any:
        start = len(self.problems)
        if not isinstance(data, Mapping):
            self.problem(path, f"expected an object, got {_tname(data)}")
            return None
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            how = keys.get(key) if isinstance(key, str) else None
            if how is None:
                self.problem(path, f"unknown key {key!r}; expected one of {', '.join(keys)}")
            else:
                kwargs[key] = getattr(self, how)(value, _join(path, key))
        for key in required.split():
            if key not in data:
                self.problem(_join(path, key), "required")
        if len(self.problems) > start:
            return None
        try:
            return cls(**kwargs)
        except PolicySpecError as exc:
            self.problem(_join(path, exc.path), exc.message)
            return None

    def policy(self, data: object, path: str) -> PolicySpec | None:
        given = data.get("id") if isinstance(data, Mapping) else None
        self.policy_id = given if isinstance(given, str) else None
        spec: PolicySpec | None = self.struct(
            PolicySpec, data, path, _POLICY_KEYS, "id kind trigger"
        )
        return spec

    def string(self, value: object, path: str) -> object:
        if not isinstance(value, str):
            self.problem(path, f"expected a string, got {_tname(value)}")
        return value

    def raw(self, value: object, path: str) -> object:
        return value

    def seq(self, value: object, path: str, how: str) -> object:
        if not isinstance(value, list | tuple):
            self.problem(path, f"expected a list, got {_tname(value)}")
            return value
        return tuple(getattr(self, how)(item, f"{path}[{i}]") for i, item in enumerate(value))

    def mapping(self, value: object, path: str, how: str) -> object:
        if not isinstance(value, Mapping):
            self.problem(path, f"expected an object, got {_tname(value)}")
            return value
        return {k: getattr(self, how)(v, _join(path, str(k))) for k, v in value.items()}

    def trigger(self, value: object, path: str) -> object:
        keys = {"capability": "string", "bind": "str_map"}
        return self.struct(TriggerSpec, value, path, keys, "capability")

    def require(self, value: object, path: str) -> object:
        keys = {"capability": "string", "args": "expr_map"}
        return self.struct(RequireSpec, value, path, keys, "capability")

    def example(self, value: object, path: str) -> object:
        keys = {"args": "json_map", "inputs": "json_map"}
        return self.struct(Example, value, path, keys, "args")

    def ref(self, value: object, path: str) -> object:
        keys = {"kind": "string", "name": "string", "path": "str_list"}
        return self.struct(RefSpec, value, path, keys, "kind name")

    def expr(self, value: object, path: str) -> object:
        return self.struct(ExprSpec, value, path, _EXPR_KEYS, "kind")

    def opt_expr(self, value: object, path: str) -> object:
        return None if value is None else self.expr(value, path)

    def requires(self, value: object, path: str) -> object:
        return self.seq(value, path, "require")

    def examples(self, value: object, path: str) -> object:
        return self.seq(value, path, "example")

    def expr_list(self, value: object, path: str) -> object:
        return self.seq(value, path, "expr")

    def str_list(self, value: object, path: str) -> object:
        return self.seq(value, path, "string")

    def str_map(self, value: object, path: str) -> object:
        return self.mapping(value, path, "string")

    def expr_map(self, value: object, path: str) -> object:
        return self.mapping(value, path, "expr")

    def json_map(self, value: object, path: str) -> object:
        return self.mapping(value, path, "raw")


def _too_deep(data: object) -> bool:
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= _MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _parse_json(text: str | bytes) -> object:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise PolicySpecError("JSON nested too deeply", path="policies") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise PolicySpecError(f"invalid JSON at {where}: {exc.msg}", path="policies") from exc
    except ValueError as exc:
        raise PolicySpecError(f"invalid JSON: {exc}", path="policies") from exc


def _read(source: object) -> object:
    if isinstance(source, os.PathLike):
        return _parse_json(Path(source).read_bytes())
    if isinstance(source, bytes):
        return _parse_json(source)
    if isinstance(source, str):
        if source.lstrip()[:1] in ("[", "{"):
            return _parse_json(source)
        if source.endswith(".json"):
            return _parse_json(Path(source).read_bytes())
        message = "expected JSON text (starting with [ or {) or a path ending in .json"
        raise PolicySpecError(message, path="policies")
    if isinstance(source, Mapping | list | tuple):
        return source
    raise TypeError(f"cannot load policies from {type(source).__qualname__}")


def _items(data: object) -> list[object] | tuple[object, ...]:
    if _too_deep(data):
        raise PolicySpecError(f"nested deeper than {_MAX_JSON_DEPTH} levels", path="policies")
    if isinstance(data, Mapping):
        if set(data) != {"policies"}:
            keys = ", ".join(repr(k) for k in data) or "none"
            message = f'expected a list or {{"policies": [...]}}, got an object with keys {keys}'
            raise PolicySpecError(message, path="policies")
        data = data["policies"]
    if not isinstance(data, list | tuple):
        raise PolicySpecError(f"expected a list of policies, got {_tname(data)}", path="policies")
    return data


def load_policies(
    source: str | bytes | os.PathLike[str] | Mapping[str, Any] | list[Any] | tuple[Any, ...],
) -> tuple[PolicySpec, ...]:
    """Load policies from their JSON form.

    Args:
        source: JSON text (a ``str`` starting with ``[`` or ``{``, or
            ``bytes``), a path to a JSON file (an ``os.PathLike``, or a
            ``str`` ending in ``.json``), or already-parsed data. The top
            level is a list of policies or ``{"policies": [...]}``.

    Returns:
        The policies, in order.

    Raises:
        PolicySpecError: Listing every problem with its JSON path (e.g.
            ``policies[2].condition.exprs[1].receiver``) and policy id:
            invalid JSON, unknown or missing keys, wrong types, invalid
            specs, duplicate ids, nesting deeper than the limits.
        OSError: If a path cannot be read.
        TypeError: If ``source`` is none of the above.
    """
    items = _items(_read(source))
    loader = _Loader()
    specs = [loader.policy(item, f"policies[{i}]") for i, item in enumerate(items)]
    first: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec is not None and first.setdefault(spec.id, i) != i:
            loader.policy_id = spec.id
            message = f"duplicate id {spec.id!r} (first at policies[{first[spec.id]}])"
            loader.problem(f"policies[{i}].id", message)
    if loader.problems:
        policy_id, path, message = loader.problems[0]
        problems = tuple(loader.problems)
        raise PolicySpecError(message, policy_id=policy_id, path=path, problems=problems)
    return tuple(spec for spec in specs if spec is not None)


def _expr_data(expr: ExprSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": expr.kind}
    for field in _NEEDS[expr.kind]:
        value = getattr(expr, field)
        if isinstance(value, ExprSpec):
            out[field] = _expr_data(value)
        elif field in _MANY_EXPRS:
            if value:
                out[field] = [_expr_data(item) for item in value]
        elif isinstance(value, RefSpec):
            ref: dict[str, Any] = {"kind": value.kind, "name": value.name}
            out[field] = ref | ({"path": list(value.path)} if value.path else {})
        else:
            out[field] = list(value) if isinstance(value, tuple) else value
    return out


def _example_data(example: Example) -> dict[str, Any]:
    out = {"args": copy_json(dict(example.args))}
    return out | ({"inputs": copy_json(dict(example.inputs))} if example.inputs else {})


def _policy_data(spec: PolicySpec) -> dict[str, Any]:
    trigger = {"capability": spec.trigger.capability, "bind": dict(spec.trigger.bind)}
    out: dict[str, Any] = {"id": spec.id, "kind": spec.kind, "trigger": trigger}
    if spec.requires:
        out["requires"] = [
            {"capability": r.capability}
            | ({"args": {k: _expr_data(v) for k, v in r.args.items()}} if r.args else {})
            for r in spec.requires
        ]
    if spec.condition is not None:
        out["condition"] = _expr_data(spec.condition)
    for field in ("match", "not_match"):
        if getattr(spec, field):
            out[field] = [_example_data(e) for e in getattr(spec, field)]
    if spec.description:
        out["description"] = spec.description
    return out


def policies_to_data(policies: Iterable[PolicySpec]) -> list[dict[str, Any]]:
    """The JSON-ready form of ``policies`` (fields at their defaults left out)."""
    return [_policy_data(spec) for spec in policies]


def policies_to_json(policies: Iterable[PolicySpec], *, indent: int | None = 2) -> str:
    """The JSON text of ``policies``, as ``{"policies": [...]}``.

    ``load_policies(policies_to_json(p)) == tuple(p)`` for any valid policies.
    """
    return json.dumps({"policies": policies_to_data(policies)}, indent=indent)


def _structure_policy(data: Any, _: Any) -> PolicySpec:
    (spec,) = load_policies([data])
    return spec


# The shared converter learns the policy form too, so specs can travel inside other values.
converter.register_structure_hook(PolicySpec, _structure_policy)
converter.register_unstructure_hook(PolicySpec, _policy_data)
