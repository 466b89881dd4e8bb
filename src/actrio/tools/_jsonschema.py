"""Hand-written parameter schemas: checked at registration, then used to validate.

A small JSON Schema subset, enough for tool parameters, and nothing it cannot
check (fail closed):

- checked keywords: ``type``, ``properties``, ``required``,
  ``additionalProperties``, ``items``, ``enum`` and ``const`` (JSON scalars),
  ``anyOf``, ``$ref`` (local: ``#`` or ``#/...``), ``$defs`` /
  ``definitions``, ``minimum``, ``maximum``, ``exclusiveMinimum``,
  ``exclusiveMaximum``, ``minLength``, ``maxLength``, ``minItems``,
  ``maxItems``;
- annotations, ignored: ``description``, ``title``, ``default``,
  ``examples``, ``format``, ``$comment``, ``$schema``, ``$id``;
- anything else (``pattern``, ``oneOf``, ``allOf``, ``not``, a typo such as
  ``requried``) is refused at registration, as are unknown ``type`` names
  (``"strng"``), unresolvable ``$ref``, and ``$ref``/``anyOf`` cycles that
  never reach a value (``A -> B -> A``). Recursion through ``properties``,
  ``items`` or ``additionalProperties`` is fine: each step consumes a level
  of the value, and values are at most :attr:`ArgumentLimits.max_depth` deep.

Two simplifications: ``$ref`` and ``anyOf`` take only annotations as
siblings; and an object schema (one with ``type`` or ``properties``) without
``additionalProperties`` forbids unknown keys (only ``true`` or a schema
allows them), so that a forgotten keyword fails closed (B-02).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs

from actrio._output import _key_path, _matches, _show
from actrio._schema import _JSON_TYPE_NAMES, _json_type
from actrio.tools.errors import ToolDefinitionError

__all__ = ("SchemaArguments", "check_schema")

Problem = tuple[str, str]

_ANNOTATIONS: Final = frozenset(
    {"description", "title", "default", "examples", "format", "$comment", "$schema", "$id"}
)
_SCHEMA_MAPS: Final = ("properties", "$defs", "definitions")
_SCHEMA_VALUES: Final = ("items", "additionalProperties")
_NUMBERS: Final = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_COUNTS: Final = ("minLength", "maxLength", "minItems", "maxItems")
_CHECKED: Final = frozenset(
    {"type", "required", "enum", "const", "anyOf", "$ref", *_SCHEMA_MAPS, *_SCHEMA_VALUES}
    | set(_NUMBERS)
    | set(_COUNTS)
)
_MAX_NODES: Final = 10_000
"""The most subschemas a hand-written schema may have."""
_MAX_DEPTH: Final = 64
"""How deeply subschemas may nest."""
_BUDGET_PER_VALUE: Final = 8
_BUDGET_BASE: Final = 1_000
"""How many subschema checks one validation may make: this many per value, plus a base.

It bounds ``anyOf`` backtracking, which could otherwise take time exponential
in the depth of the value.
"""


def _fail(loc: str, message: str) -> ToolDefinitionError:
    return ToolDefinitionError(f"{loc}: {message}")


def _pointer(root: Mapping[str, Any], ref: str) -> object:
    """The node a local ``$ref`` names, or None."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: object = root
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float)


def _check_keywords(node: Mapping[str, Any], loc: str) -> None:
    for key in node:
        if key not in _CHECKED and key not in _ANNOTATIONS:
            raise _fail(loc, f"unknown or unsupported keyword {key!r}")
    _check_type(node, loc)
    if "enum" in node and not (
        isinstance(node["enum"], list) and node["enum"] and all(map(_is_scalar, node["enum"]))
    ):
        raise _fail(f"{loc}.enum", "expected a non-empty list of JSON scalars")
    if "const" in node and not _is_scalar(node["const"]):
        raise _fail(f"{loc}.const", "expected a JSON scalar")
    for key in _NUMBERS:
        if key in node and (isinstance(node[key], bool) or not isinstance(node[key], int | float)):
            raise _fail(f"{loc}.{key}", "expected a number")
    for key in _COUNTS:
        value = node.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _fail(f"{loc}.{key}", "expected a non-negative integer")
    for key in ("$ref", "anyOf"):
        extra = set(node) - _ANNOTATIONS - {key, "$defs", "definitions"}
        if key in node and extra:
            raise _fail(loc, f"{key} takes only annotations beside it, not {sorted(extra)}")
    _check_required(node, loc)


def _check_type(node: Mapping[str, Any], loc: str) -> None:
    kind = node.get("type", [])
    kinds = kind if isinstance(kind, list) else [kind]
    if "type" in node and (not kinds or len(set(map(repr, kinds))) != len(kinds)):
        raise _fail(f"{loc}.type", "expected a type name or a list of distinct type names")
    for name in kinds:
        if name not in _JSON_TYPE_NAMES:
            raise _fail(f"{loc}.type", f"{name!r} is not a JSON Schema type")


def _check_required(node: Mapping[str, Any], loc: str) -> None:
    required = node.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise _fail(f"{loc}.required", "expected a list of property names")
    if len(set(required)) != len(required):
        raise _fail(f"{loc}.required", "names a property twice")
    missing = [name for name in required if name not in node.get("properties", {})]
    if missing:
        raise _fail(f"{loc}.required", f"names {missing[0]!r}, which is not in properties")


def _children(node: Mapping[str, Any], loc: str) -> Iterator[tuple[object, str]]:
    """The subschemas of ``node``, each with its location; raises for malformed ones."""
    for key in _SCHEMA_MAPS:
        if key in node:
            if not isinstance(node[key], Mapping):
                raise _fail(f"{loc}.{key}", "expected an object of schemas")
            yield from ((sub, f"{loc}.{key}.{name}") for name, sub in node[key].items())
    if "items" in node:
        yield node["items"], f"{loc}.items"
    if not isinstance(node.get("additionalProperties"), bool | None):
        yield node["additionalProperties"], f"{loc}.additionalProperties"
    if "anyOf" in node:
        options = node["anyOf"]
        if not isinstance(options, list) or not options:
            raise _fail(f"{loc}.anyOf", "expected a non-empty list of schemas")
        yield from ((sub, f"{loc}.anyOf[{i}]") for i, sub in enumerate(options))


def _walk(root: Mapping[str, Any], where: str) -> dict[int, tuple[Mapping[str, Any], str]]:
    """Every subschema by id, with its location, each checked on its own."""
    nodes: dict[int, tuple[Mapping[str, Any], str]] = {}
    stack: list[tuple[object, str, int]] = [(root, where, 1)]
    while stack:
        node, loc, depth = stack.pop()
        if not isinstance(node, Mapping):
            raise _fail(loc, f"expected a schema object, got {_json_type(node)}")
        if id(node) in nodes:
            continue
        if len(nodes) >= _MAX_NODES or depth > _MAX_DEPTH:
            raise _fail(loc, f"too large: at most {_MAX_NODES:,} subschemas, {_MAX_DEPTH} deep")
        nodes[id(node)] = (node, loc)
        _check_keywords(node, loc)
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not isinstance(_pointer(root, ref), Mapping):
                raise _fail(f"{loc}.$ref", f"{ref!r} does not resolve to a schema in {where}")
        stack.extend((sub, sub_loc, depth + 1) for sub, sub_loc in _children(node, loc))
    return nodes


def _shortcuts(node: Mapping[str, Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """What a value checked against ``node`` is checked against next, at the same level."""
    if "$ref" in node:
        target = _pointer(root, node["$ref"])
        assert isinstance(target, Mapping)  # _walk checked every $ref
        return [target]
    return list(node.get("anyOf", []))


def _check_cycles(root: Mapping[str, Any], nodes: dict[int, tuple[Mapping[str, Any], str]]) -> None:
    """Refuse a ``$ref``/``anyOf`` loop: validating it would never reach a value."""
    done: set[int] = set()
    for start, _ in nodes.values():
        if id(start) in done:
            continue
        trail: list[Mapping[str, Any]] = []
        on_trail: set[int] = set()
        stack: list[tuple[Mapping[str, Any], bool]] = [(start, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                on_trail.discard(id(trail.pop()))
                done.add(id(node))
                continue
            if id(node) in on_trail:
                loop = [nodes[id(n)][1] for n in trail[[id(n) for n in trail].index(id(node)) :]]
                cycle = " -> ".join([*loop, nodes[id(node)][1]])
                raise _fail(loop[0], f"$ref cycle that never reaches a value: {cycle}")
            if id(node) in done:
                continue
            trail.append(node)
            on_trail.add(id(node))
            stack.append((node, True))
            stack.extend((nxt, False) for nxt in _shortcuts(node, root))


def check_schema(schema: object, *, where: str = "parameters") -> None:
    """Check a hand-written parameters schema (B-04).

    Args:
        schema: The schema; its root must be ``{"type": "object", ...}``.
        where: How messages name the schema's root.

    Raises:
        ToolDefinitionError: Naming the location of the first problem, like
            ``parameters.properties.path.type: 'strng' is not a JSON Schema type``.
    """
    if not isinstance(schema, Mapping) or schema.get("type") != "object":
        raise _fail(where, 'the root must be an object schema: {"type": "object", ...}')
    _check_cycles(schema, _walk(schema, where))
    try:
        json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail(where, f"not JSON: {exc}") from exc


# ---------------------------------------------------------------- validating values


@attrs.frozen
class SchemaArguments:
    """Validates arguments against a hand-written schema checked by :func:`check_schema`.

    Attributes:
        schema: The parameters schema.
    """

    schema: Mapping[str, Any]

    def validate(self, data: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        """``data`` itself, and every problem found."""
        run = _Run(self.schema, budget=_BUDGET_PER_VALUE * _count(data) + _BUDGET_BASE)
        try:
            run.check(data, self.schema, "$")
        except _TooComplex:
            return data, [("$", "too complex to validate against this schema")]
        return data, run.problems


def _count(value: object) -> int:
    """How many values ``value`` holds, itself included."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


class _TooComplex(Exception):
    """The work budget of one validation ran out."""


def _accepts(leaf: Mapping[str, Any], kind: str) -> bool:
    if "type" not in leaf:
        return True
    kinds = leaf["type"] if isinstance(leaf["type"], list) else [leaf["type"]]
    return kind in kinds or (kind == "integer" and "number" in kinds)


def _expected(leaves: list[Mapping[str, Any]]) -> str:
    kinds: list[str] = []
    for leaf in leaves:
        found = leaf["type"] if isinstance(leaf["type"], list) else [leaf["type"]]
        kinds += [kind for kind in found if kind not in kinds]
    return " or ".join(kinds)


class _Run:
    """One validation: the problems found, and the work left."""

    def __init__(self, root: Mapping[str, Any], *, budget: int = 0) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.budget = budget

    def leaves(self, schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The schemas a value must match one of, with ``$ref`` and ``anyOf`` expanded."""
        out: list[Mapping[str, Any]] = []
        seen: set[int] = set()
        stack = [schema]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            nxt = _shortcuts(node, self.root)
            if nxt:
                stack.extend(reversed(nxt))
            else:
                out.append(node)
        return out

    def check(self, value: object, schema: Mapping[str, Any], path: str) -> None:
        """Add the problems of ``value`` against ``schema`` at ``path``."""
        leaves = self.leaves(schema)
        kind = _json_type(value)
        fits = [leaf for leaf in leaves if _accepts(leaf, kind)]
        if not fits:
            self.problems.append((path, f"expected {_expected(leaves)}, got {kind}"))
        elif len(fits) == 1:
            self.leaf(value, fits[0], path)
        else:
            for leaf in fits:
                trial = _Run(self.root, budget=self.budget)
                trial.leaf(value, leaf, path)
                self.budget = trial.budget
                if not trial.problems:
                    return
            self.problems.append((path, f"matches none of the {len(fits)} schemas it may match"))

    def leaf(self, value: object, leaf: Mapping[str, Any], path: str) -> None:
        """Add the problems of ``value`` against one schema without ``$ref`` or ``anyOf``."""
        self.budget -= 1
        if self.budget < 0:
            raise _TooComplex
        allowed = leaf["enum"] if "enum" in leaf else [leaf["const"]] if "const" in leaf else None
        if allowed is not None and not any(_matches(value, option) for option in allowed):
            shown = ", ".join(map(_show, allowed))
            self.problems.append((path, f"expected one of {shown}, got {_show(value)}"))
            return
        if isinstance(value, dict):
            self.object(value, leaf, path)
        elif isinstance(value, list):
            self.bounds(len(value), leaf, path, low="minItems", high="maxItems", unit="items")
            if "items" in leaf:
                for index, item in enumerate(value):
                    self.check(item, leaf["items"], f"{path}[{index}]")
        elif isinstance(value, str):
            self.bounds(
                len(value), leaf, path, low="minLength", high="maxLength", unit="characters"
            )
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.number(value, leaf, path)

    def bounds(
        self, size: int, leaf: Mapping[str, Any], path: str, *, low: str, high: str, unit: str
    ) -> None:
        """Check a length against ``low``/``high`` keywords."""
        if size < leaf.get(low, 0):
            self.problems.append((path, f"expected at least {leaf[low]} {unit}, got {size}"))
        if high in leaf and size > leaf[high]:
            self.problems.append((path, f"expected at most {leaf[high]} {unit}, got {size}"))

    def number(self, value: float, leaf: Mapping[str, Any], path: str) -> None:
        """Check a number against the numeric bounds."""
        failed = [
            (op, leaf[key])
            for key, op, broken in (
                ("minimum", ">=", operator.lt),
                ("maximum", "<=", operator.gt),
                ("exclusiveMinimum", ">", operator.le),
                ("exclusiveMaximum", "<", operator.ge),
            )
            if key in leaf and broken(value, leaf[key])
        ]
        for op, bound in failed:
            self.problems.append((path, f"expected a number {op} {bound}, got {_show(value)}"))

    def object(self, value: dict[str, Any], leaf: Mapping[str, Any], path: str) -> None:
        """Check an object's keys and members."""
        properties = leaf.get("properties", {})
        for name in leaf.get("required", []):
            if name not in value:
                self.problems.append((_key_path(path, name), "required key is missing"))
        # Unknown keys are refused unless allowed; a schema that says nothing about objects
        # (no type, no properties) takes any object.
        extra = leaf.get("additionalProperties", "properties" not in leaf and "type" not in leaf)
        for key, item in value.items():
            where = _key_path(path, key)
            if key in properties:
                self.check(item, properties[key], where)
            elif isinstance(extra, Mapping):
                self.check(item, extra, where)
            elif extra is not True:
                self.problems.append((where, "unexpected key"))
