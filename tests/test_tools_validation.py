"""A tool call's arguments: B-01, B-02, B-07, B-10, hand-written schemas (B-04), properties."""

from __future__ import annotations

import enum
import types
from pathlib import Path
from typing import Annotated, Any, Literal, NewType

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.testing._tool_strategies import ToolCall, tool_calls
from actrio.tools import (
    ArgumentLimits,
    Tool,
    ToolArgumentsError,
    ToolDefinitionError,
    parse_arguments,
    tool,
)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Options:
    depth: int
    follow: bool = False
    exclude: tuple[Path, ...] = ()


@attrs.frozen
class Node:
    name: str
    children: list[Node] = attrs.Factory(list)


@tool
async def list_dir(path: Path, recursive: bool = False, options: Options | None = None) -> str:
    """List a directory."""
    return str(path)


@tool
async def shell(command: str, timeout: float = 10.0) -> str:
    """Run a command."""
    return command


@tool
async def build(tree: Node) -> int:
    """Build a tree."""
    return 0


def problems(t: Tool, raw: Any, **kwargs: Any) -> tuple[tuple[str, str], ...]:
    with pytest.raises(ToolArgumentsError) as info:
        parse_arguments(t, raw, **kwargs)
    assert info.value.tool == t.name
    return info.value.errors


# ---------------------------------------------------------------- B-01


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param('{"path": "a', "invalid JSON: Unterminated string", id="B-01 unterminated"),
        pytest.param(
            '{"path": "a"} x',
            "invalid JSON: Extra data (line 1, column 15)",
            id="B-01 trailing text",
        ),
        pytest.param('{"path": "a"}\n{}', "Extra data (line 2, column 1)", id="B-01 two objects"),
        pytest.param(
            '{"path": "a", "path": "b"}', 'duplicate key "path"', id="B-01 duplicate keys"
        ),
        pytest.param('{"path": NaN}', "NaN is not valid JSON", id="B-01 NaN"),
        pytest.param('{"path": Infinity}', "Infinity is not valid JSON", id="B-01 Infinity"),
        pytest.param('{"path": -Infinity}', "-Infinity is not valid JSON", id="B-01 -Infinity"),
        pytest.param('{"path": 1e999}', "number 1e999 is out of range", id="B-01 1e999"),
        pytest.param(
            '{"path": ' + "9" * 5000 + "}", "invalid JSON: Exceeds the limit", id="B-01 huge int"
        ),
        pytest.param(
            "{'path': 'a'}",
            "Expecting property name enclosed in double quotes",
            id="B-01 single quotes",
        ),
        pytest.param('\ufeff{"path": "a"}', "Unexpected UTF-8 BOM", id="B-01 BOM"),
        pytest.param(
            b'{"path": "\xff"}', "not UTF-8 (invalid byte at offset 10)", id="B-01 bytes not UTF-8"
        ),
        pytest.param("[]", "expected an object, got array", id="B-01 array"),
        pytest.param('"a"', "expected an object, got string", id="B-01 string"),
        pytest.param("null", "expected an object, got null", id="B-01 null"),
        pytest.param(42, "expected JSON text or a mapping, got int", id="B-01 not text"),
    ],
)
def test_b01_invalid_json_is_refused(raw: Any, message: str) -> None:
    found = problems(list_dir, raw)
    assert len(found) == 1
    path, text = found[0]
    assert path == "$"
    assert message in text


def test_b01_empty_text_means_no_arguments() -> None:
    assert parse_arguments(tool(name="ping")(_noop), "") == {}
    assert parse_arguments(tool(name="ping")(_noop), b"  \n") == {}
    assert problems(list_dir, "") == (("$.path", "required key is missing"),)


async def _noop() -> None:
    pass


# ---------------------------------------------------------------- B-02


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            '{"path": "a", "force": true}', [("$.force", "unexpected key")], id="B-02 extra key"
        ),
        pytest.param(
            '{"path": "a", "recursive": "yes"}',
            [("$.recursive", "expected boolean, got string")],
            id="B-02 recursive: yes",
        ),
        pytest.param(
            '{"path": "a", "recursive": 1}',
            [("$.recursive", "expected boolean, got integer")],
            id="B-02 recursive: 1",
        ),
        pytest.param(
            '{"path": 123}', [("$.path", "expected string, got integer")], id="B-02 path: 123"
        ),
        pytest.param(
            '{"path": ["a"]}', [("$.path", "expected string, got array")], id="B-02 path: list"
        ),
        pytest.param("{}", [("$.path", "required key is missing")], id="B-02 missing required"),
        pytest.param(
            '{"path": null}', [("$.path", "expected string, got null")], id="B-02 null for required"
        ),
        pytest.param(
            '{"path": "a", "options": {"depth": "3"}}',
            [("$.options.depth", "expected integer, got string")],
            id="B-02 '3' is not an int",
        ),
        pytest.param(
            '{"path": "a", "options": {"depth": true}}',
            [("$.options.depth", "expected integer, got boolean")],
            id="B-02 bool is not an int",
        ),
        pytest.param(
            '{"path": "a", "options": {"depth": 1.0}}',
            [("$.options.depth", "expected integer, got number")],
            id="B-02 1.0 is not an int",
        ),
        pytest.param(
            '{"path": "a", "options": {}}',
            [("$.options.depth", "required key is missing")],
            id="B-02 nested missing",
        ),
        pytest.param(
            '{"path": "a", "options": {"depth": 1, "deep": 2}}',
            [("$.options.deep", "unexpected key")],
            id="B-02 nested extra key",
        ),
        pytest.param(
            '{"path": "a", "options": "deep"}',
            [("$.options", "expected object or null, got string")],
            id="B-02 string for object",
        ),
        pytest.param(
            '{"path": "a", "options": {"depth": 1, "exclude": [1]}}',
            [("$.options.exclude[0]", "expected string, got integer")],
            id="B-02 123 is not a path",
        ),
        pytest.param(
            '{"path": "a", "weird key": 1}',
            [('$["weird key"]', "unexpected key")],
            id="B-02 odd key",
        ),
    ],
)
def test_b02_mistyped_arguments_are_refused(raw: str, expected: list[tuple[str, str]]) -> None:
    assert list(problems(list_dir, raw)) == expected


def test_b02_every_problem_is_reported_at_once() -> None:
    raw = (
        '{"path": 1, "recursive": "yes", "options": {"depth": 1.5, "x": 2,'
        ' "exclude": ["", 3]}, "zz": 1, "yy": null}'
    )
    assert problems(list_dir, raw) == (
        ("$.path", "expected string, got integer"),
        ("$.recursive", "expected boolean, got string"),
        ("$.options.depth", "expected integer, got number"),
        ("$.options.exclude[1]", "expected string, got integer"),
        ("$.options.x", "unexpected key"),
        ("$.zz", "unexpected key"),
        ("$.yy", "unexpected key"),
    )


def test_b02_floats_take_integers_but_not_bools() -> None:
    assert parse_arguments(shell, '{"command": "ls", "timeout": 3}') == {
        "command": "ls",
        "timeout": 3.0,
    }
    assert problems(shell, '{"command": "ls", "timeout": false}') == (
        ("$.timeout", "expected number, got boolean"),
    )


@tool(strict=False)
async def choose(level: Level, mode: Literal["a", 1], tags: dict[str, int] | None = None) -> None:
    """Pick."""


def test_b02_enums_and_literals_match_value_and_json_type() -> None:
    assert parse_arguments(choose, '{"level": 2, "mode": 1, "tags": null}') == {
        "level": Level.HIGH,
        "mode": 1,
        "tags": None,
    }
    found = problems(choose, '{"level": "2", "mode": true, "tags": {"a": "1"}}')
    assert found[0] == ("$.level", 'expected one of 1, 2, got "2"')
    assert found[1] == ("$.mode", 'expected one of "a", 1, got true')
    assert found[2] == ("$.tags.a", "expected integer, got string")


def test_valid_arguments_fill_in_defaults() -> None:
    assert parse_arguments(list_dir, {"path": "src"}) == {
        "path": Path("src"),
        "recursive": False,
        "options": None,
    }
    args = parse_arguments(list_dir, '{"path": "src", "recursive": null, "options": {"depth": 2}}')
    assert args == {"path": Path("src"), "recursive": False, "options": Options(2)}


def test_annotated_parameters_validate_as_their_type() -> None:
    @tool
    async def f(x: Annotated[int, "An x."]) -> None:
        pass

    assert parse_arguments(f, '{"x": 1}') == {"x": 1}
    assert problems(f, '{"x": "1"}') == (("$.x", "expected integer, got string"),)


def test_none_annotated_parameter() -> None:
    @tool
    async def f(x: None) -> None:
        pass

    assert parse_arguments(f, '{"x": null}') == {"x": None}
    assert problems(f, '{"x": 0}') == (("$.x", "expected null, got integer"),)


# ---------------------------------------------------------------- B-07


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "[" * 100_000 + "]" * 100_000,
            ("$", "nested deeper than 64 levels"),
            id="B-07 100k arrays",
        ),
        pytest.param(
            '{"a":' * 100_000 + "1" + "}" * 100_000,
            ("$", "nested deeper than 64 levels"),
            id="B-07 100k objects",
        ),
        pytest.param(
            '{"path": ' + "[" * 100_000,
            ("$", "nested deeper than 64 levels"),
            id="B-07 unclosed arrays",
        ),
        pytest.param(
            '{"path": "' + "a" * 10_000_000 + '"}',
            ("$", "arguments are 10,000,012 bytes or more; the limit is 1,048,576"),
            id="B-07 10 MB string",
        ),
        pytest.param(
            b'{"path": "' + b"a" * 10_000_000 + b'"}',
            ("$", "arguments are 10,000,012 bytes or more; the limit is 1,048,576"),
            id="B-07 10 MB bytes",
        ),
        pytest.param(
            '{"path": "' + "\u00e9" * 600_000 + '"}',
            ("$", "arguments are 1,200,012 bytes or more; the limit is 1,048,576"),
            id="B-07 size in UTF-8 bytes",
        ),
    ],
)
def test_b07_hostile_size_and_depth_are_refused(
    raw: str | bytes, expected: tuple[str, str]
) -> None:
    assert problems(list_dir, raw) == (expected,)


def test_b07_brackets_inside_strings_do_not_count() -> None:
    raw = '{"path": "' + "[" * 1000 + '\\"{"}'
    assert parse_arguments(list_dir, raw)["path"] == Path("[" * 1000 + '"{')


def test_b07_an_unterminated_string_ends_the_prescan() -> None:
    (found,) = problems(list_dir, '{"path": "' + "[" * 1000)
    assert found[1].startswith("invalid JSON: Unterminated string")


def test_b07_deep_mapping_arguments_are_refused_without_recursion() -> None:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(100_000):
        inner["a"] = {}
        inner = inner["a"]
    found = problems(list_dir, deep)
    assert len(found) == 1
    assert found[0][1] == "nested deeper than 64 levels"
    assert found[0][0].startswith("$.a.a.a")


def test_b07_large_mapping_arguments_are_refused() -> None:
    raw = {"path": "a", "items": ["x" * 1000] * 2000}
    assert problems(list_dir, raw) == (
        ("$", "arguments are larger than the limit of 1,048,576 bytes"),
    )


def test_b07_long_strings_are_refused() -> None:
    limits = ArgumentLimits(max_string_chars=10)
    assert problems(list_dir, {"path": "a" * 11}, limits=limits) == (
        ("$.path", "string of 11 characters exceeds the limit of 10"),
    )
    assert problems(list_dir, {"path": "a", "k" * 11: 1}, limits=limits) == (
        ("$.kkkkkkkkkkk", "key: string of 11 characters exceeds the limit of 10"),
        ("$.kkkkkkkkkkk", "unexpected key"),
    )


def test_b07_depth_limit_is_exact() -> None:
    limits = ArgumentLimits(max_depth=3)
    assert parse_arguments(build, '{"tree": {"name": "a", "children": []}}', limits=limits)
    assert problems(build, '{"tree": {"name": "a", "children": [{}]}}', limits=limits) == (
        ("$", "nested deeper than 3 levels"),
    )
    assert problems(build, {"tree": {"name": "a", "children": [{}]}}, limits=limits) == (
        ("$.tree.children[0]", "nested deeper than 3 levels"),
    )


def test_b07_a_recursive_class_at_the_depth_limit_validates() -> None:
    node: dict[str, Any] = {"name": "leaf", "children": []}
    for _ in range(30):  # each Node adds an object and an array: 63 levels with the root
        node = {"name": "n", "children": [node]}
    args = parse_arguments(build, {"tree": node})
    assert isinstance(args["tree"], Node)


def test_limits_are_positive_ints() -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="expected a positive int"):
            ArgumentLimits(max_bytes=bad)  # type: ignore[arg-type]


def test_tool_limits_apply() -> None:
    @tool(limits=ArgumentLimits(max_bytes=20))
    async def small(x: str) -> None:
        pass

    assert small.limits.max_bytes == 20
    assert problems(small, '{"x": "' + "a" * 20 + '"}')[0][1].startswith("arguments are 29 bytes")


def test_too_many_problems_stop_the_walk() -> None:
    found = problems(list_dir, {"path": ["\x00"] * 5000})
    assert len(found) == 1000
    assert found[-1] == ("$", "too many problems; stopped checking")


# ---------------------------------------------------------------- B-10 and mappings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            '{"path": "a\\u0000b"}', ("$.path", "NUL character at offset 1"), id="B-10 NUL in path"
        ),
        pytest.param('{"path": ""}', ("$.path", "path is empty"), id="B-10 empty path"),
        pytest.param(
            '{"path": " \\t "}', ("$.path", "path is only whitespace"), id="B-10 whitespace path"
        ),
        pytest.param(
            '{"path": "a", "options": {"depth": 1, "exclude": ["x", " "]}}',
            ("$.options.exclude[1]", "path is only whitespace"),
            id="B-10 nested path",
        ),
        pytest.param(
            '{"path": "a", "x\\u0000": 1}',
            ('$["x\\u0000"]', "key: NUL character at offset 1"),
            id="B-10 NUL in key",
        ),
        pytest.param(
            '{"path": "\\ud800"}',
            ("$.path", "unpaired surrogate at offset 0"),
            id="B-10 lone surrogate",
        ),
    ],
)
def test_b10_nul_and_empty_paths_are_refused(raw: str, expected: tuple[str, str]) -> None:
    assert expected in problems(list_dir, raw)


def test_b10_nul_in_a_command_is_refused() -> None:
    assert problems(shell, {"command": "ls\x00 -la"}) == (
        ("$.command", "NUL character at offset 2"),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param({"path": object()}, ("$.path", "object is not a JSON value"), id="object"),
        pytest.param(
            {"path": "a", "recursive": float("nan")},
            ("$.recursive", "nan is not a JSON number"),
            id="NaN",
        ),
        pytest.param({"path": "a", 1: 2}, ("$", "key 1 is not a string"), id="int key"),
    ],
)
def test_mapping_arguments_must_be_json(raw: Any, expected: tuple[str, str]) -> None:
    assert expected in problems(list_dir, raw)


def test_mapping_arguments_are_copied_and_normalised() -> None:
    raw = types.MappingProxyType(
        {"path": "a", "options": types.MappingProxyType({"depth": 1, "exclude": ("x",)})}
    )
    args = parse_arguments(list_dir, raw)
    assert args["options"] == Options(1, exclude=(Path("x"),))


# ---------------------------------------------------------------- hand-written schemas (B-04)


def schema_tool(parameters: dict[str, Any], name: str = "handmade", **kwargs: Any) -> Tool:
    async def fn(**args: Any) -> dict[str, Any]:
        return args

    return Tool.from_schema(name, "A hand-written tool.", parameters, fn, **kwargs)


def obj(properties: dict[str, Any], required: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        **extra,
    }


READ = obj(
    {
        "path": {"type": "string", "minLength": 1, "description": "The file."},
        "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
        "mode": {"enum": ["text", "bytes"]},
        "options": {"anyOf": [{"$ref": "#/$defs/Options"}, {"type": "null"}]},
    },
    **{
        "$defs": {
            "Options": obj(
                {
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                    "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                }
            )
        }
    },
)


async def test_schema_tool_validates_and_calls_with_keywords() -> None:
    t = schema_tool(READ, capability="fs.read", timeout=3)
    assert t.strict is True
    assert t.spec.parameters == READ
    assert t.parameters is not READ  # copied
    args = {"path": "a", "limit": None, "mode": "text", "options": {"tags": ["x"], "ratio": 0.5}}
    assert await t.run(args) == args
    assert parse_arguments(t, '{"path": "a", "limit": 3, "mode": "bytes", "options": null}') == {
        "path": "a",
        "limit": 3,
        "mode": "bytes",
        "options": None,
    }


def test_schema_tool_reports_every_problem_with_its_path() -> None:
    t = schema_tool(READ)
    raw = {
        "path": "",
        "limit": 0,
        "mode": "lines",
        "options": {"tags": ["a", 1, "c"], "ratio": 1, "x": True},
        "extra": 1,
    }
    assert problems(t, raw) == (
        ("$.path", "expected at least 1 characters, got 0"),
        ("$.limit", "expected a number >= 1, got 0"),
        ("$.mode", 'expected one of "text", "bytes", got "lines"'),
        ("$.options.tags", "expected at most 2 items, got 3"),
        ("$.options.tags[1]", "expected string, got integer"),
        ("$.options.ratio", "expected a number < 1, got 1"),
        ("$.options.x", "unexpected key"),
        ("$.extra", "unexpected key"),
    )
    assert problems(t, {"limit": 101.5, "options": {"tags": [], "ratio": 0}}) == (
        ("$.path", "required key is missing"),
        ("$.mode", "required key is missing"),
        ("$.limit", "expected integer or null, got number"),
        ("$.options.ratio", "expected a number > 0, got 0"),
    )


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        pytest.param(
            {"type": "integer"}, True, "expected integer, got boolean", id="bool is not integer"
        ),
        pytest.param(
            {"type": "integer"}, 1.0, "expected integer, got number", id="1.0 is not integer"
        ),
        pytest.param(
            {"type": "number"}, "1", "expected number, got string", id="string is not number"
        ),
        pytest.param(
            {"type": "number", "maximum": 2}, 3, "expected a number <= 2, got 3", id="maximum"
        ),
        pytest.param(
            {"type": "string", "maxLength": 2},
            "abc",
            "expected at most 2 characters, got 3",
            id="maxLength",
        ),
        pytest.param(
            {"type": "array", "minItems": 1}, [], "expected at least 1 items, got 0", id="minItems"
        ),
        pytest.param({"const": "x"}, "y", 'expected one of "x", got "y"', id="const"),
        pytest.param(
            {"enum": [1, 2]}, True, "expected one of 1, 2, got true", id="enum by JSON type"
        ),
        pytest.param(
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
            1,
            "expected string or null, got integer",
            id="nullable",
        ),
        pytest.param(
            {"type": ["string", "null"]}, [], "expected string or null, got array", id="type list"
        ),
    ],
)
def test_schema_values(schema: dict[str, Any], value: object, expected: str) -> None:
    t = schema_tool(obj({"v": schema}))
    assert problems(t, {"v": value}) == (("$.v", expected),)


def test_schema_any_of_tries_each_fitting_option() -> None:
    t = schema_tool(
        obj(
            {
                "v": {
                    "anyOf": [
                        obj({"a": {"type": "integer"}}),
                        obj({"b": {"type": "string"}}),
                    ]
                }
            }
        )
    )
    assert parse_arguments(t, {"v": {"b": "x"}}) == {"v": {"b": "x"}}
    assert parse_arguments(t, {"v": {"a": 1}}) == {"v": {"a": 1}}
    assert problems(t, {"v": {"c": 1}}) == (("$.v", "matches none of the 2 schemas it may match"),)


def test_schema_additional_properties() -> None:
    closed = schema_tool({"type": "object", "properties": {"a": {"type": "integer"}}})
    assert closed.strict is False
    assert problems(closed, {"b": 1}) == (("$.b", "unexpected key"),)
    assert parse_arguments(closed, {}) == {}
    opened = schema_tool({"type": "object", "additionalProperties": True})
    assert parse_arguments(opened, {"b": [1]}) == {"b": [1]}
    typed = schema_tool({"type": "object", "additionalProperties": {"type": "integer"}})
    assert problems(typed, {"a": 1, "b": "2"}) == (("$.b", "expected integer, got string"),)


def test_schema_without_type_takes_any_value() -> None:
    t = schema_tool({"type": "object", "properties": {"v": {"description": "anything"}}})
    values: list[object] = [1, "x", None, [1], {"a": {}}]
    for value in values:
        assert parse_arguments(t, {"v": value}) == {"v": value}


def test_recursive_schema_is_accepted_and_validates() -> None:
    tree = obj({"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}})
    t = schema_tool(tree)
    assert parse_arguments(t, {"name": "a", "children": [{"name": "b", "children": []}]})
    assert problems(t, {"name": "a", "children": [{"name": 1, "children": []}]}) == (
        ("$.children[0].name", "expected string, got integer"),
    )


def test_definitions_and_escaped_pointers_resolve() -> None:
    schema = obj(
        {"a": {"$ref": "#/definitions/a~1b"}, "b": {"$ref": "#/definitions/t~0"}},
        definitions={"a/b": {"type": "integer"}, "t~": {"type": "string"}},
    )
    assert parse_arguments(schema_tool(schema), {"a": 1, "b": "x"}) == {"a": 1, "b": "x"}


def test_shared_subschemas_are_checked_once() -> None:
    shared = {"type": "integer"}
    schema = obj(
        {"a": shared, "b": shared, "c": {"anyOf": [{"$ref": "#/$defs/I"}, {"$ref": "#/$defs/I"}]}},
        **{"$defs": {"I": shared}},
    )
    t = schema_tool(schema)
    assert parse_arguments(t, {"a": 1, "b": 2, "c": 3}) == {"a": 1, "b": 2, "c": 3}
    assert problems(t, {"a": 1, "b": 2, "c": "3"}) == (("$.c", "expected integer, got string"),)


def test_exponential_any_of_is_bounded() -> None:
    """A schema that makes every level try two options stops at its work budget."""
    schema = obj(
        {"v": {"$ref": "#/$defs/L"}},
        **{
            "$defs": {
                "L": {
                    "anyOf": [
                        {"type": "array", "items": {"$ref": "#/$defs/L"}, "maxItems": 0},
                        {"type": "array", "items": {"$ref": "#/$defs/L"}},
                        {"type": "integer"},
                    ]
                }
            }
        },
    )
    value: object = "x"
    for _ in range(40):
        value = [value]
    found = problems(schema_tool(schema), {"v": value})
    assert ("$", "too complex to validate against this schema") in found


def test_strict_claim_on_schema_tools() -> None:
    loose = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert schema_tool(loose, strict=False).strict is False
    assert schema_tool(READ, strict=False).strict is False
    with pytest.raises(ToolDefinitionError, match="do not follow OpenAI's strict rules"):
        schema_tool(loose, strict=True)


A_B_CYCLE = {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}
DEEP: dict[str, Any] = {"type": "object"}
for _ in range(70):
    DEEP = {"type": "object", "properties": {"x": DEEP}}
WIDE = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(10_001)}}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        pytest.param({"type": "strng"}, "the root must be an object", id="B-04 root type typo"),
        pytest.param(
            obj({"a": {"type": "strng"}}),
            "parameters.properties.a.type: 'strng' is not a JSON Schema type",
            id="B-04 type strng",
        ),
        pytest.param(
            obj({"a": {"type": ["string", "string"]}}),
            "list of distinct type names",
            id="B-04 type list repeats",
        ),
        pytest.param(
            obj({"a": {"type": []}}), "list of distinct type names", id="B-04 empty type list"
        ),
        pytest.param(
            {"type": "array", "items": {"type": "string"}},
            "the root must be an object",
            id="B-04 array root",
        ),
        pytest.param({"properties": {}}, "the root must be an object", id="B-04 root without type"),
        pytest.param([], "the root must be an object", id="B-04 root not a mapping"),
        pytest.param(
            obj({"a": {"$ref": "#/$defs/Missing"}}),
            "'#/$defs/Missing' does not resolve",
            id="B-04 unresolvable ref",
        ),
        pytest.param(
            obj({"a": {"$ref": "http://x/s.json"}}), "does not resolve", id="B-04 remote ref"
        ),
        pytest.param(obj({"a": {"$ref": 3}}), "3 does not resolve", id="B-04 ref not a string"),
        pytest.param(
            obj({"a": {"$ref": "#/properties/a/type"}}),
            "does not resolve to a schema",
            id="B-04 ref to a non-schema",
        ),
        pytest.param(
            obj({"a": {"$ref": "#/$defs/A"}}, **{"$defs": A_B_CYCLE}),
            "parameters.$defs.B: $ref cycle that never reaches a value:"
            " parameters.$defs.B -> parameters.$defs.A -> parameters.$defs.B",
            id="B-04 ref cycle",
        ),
        pytest.param(
            obj(
                {"a": {"$ref": "#/$defs/A"}},
                **{"$defs": {"A": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/A"}]}}},
            ),
            "$ref cycle",
            id="B-04 anyOf cycle",
        ),
        pytest.param(
            obj({"a": {"type": "string", "requried": []}}),
            "unknown or unsupported keyword 'requried'",
            id="B-04 keyword typo",
        ),
        pytest.param(
            obj({"a": {"type": "string", "pattern": "^a"}}),
            "unsupported keyword 'pattern'",
            id="B-04 pattern",
        ),
        pytest.param(
            obj({"a": {"oneOf": [{"type": "string"}]}}),
            "unsupported keyword 'oneOf'",
            id="B-04 oneOf",
        ),
        pytest.param(
            obj({"a": {"type": "string"}}, required=["a", "b"]),
            "names 'b', which is not in properties",
            id="B-04 required unknown",
        ),
        pytest.param(
            obj({"a": {"type": "string"}}, required="a"),
            "expected a list of property names",
            id="B-04 required not a list",
        ),
        pytest.param(
            obj({"a": {"type": "string"}}, required=["a", "a"]),
            "names a property twice",
            id="B-04 required twice",
        ),
        pytest.param(
            obj({"a": {"enum": []}}), "non-empty list of JSON scalars", id="B-04 empty enum"
        ),
        pytest.param(
            obj({"a": {"enum": [{"x": 1}]}}),
            "non-empty list of JSON scalars",
            id="B-04 enum of objects",
        ),
        pytest.param(obj({"a": {"const": [1]}}), "expected a JSON scalar", id="B-04 const array"),
        pytest.param(
            obj({"a": {"type": "integer", "minimum": "1"}}),
            ".minimum: expected a number",
            id="B-04 minimum string",
        ),
        pytest.param(
            obj({"a": {"type": "string", "minLength": -1}}),
            ".minLength: expected a non-negative integer",
            id="B-04 negative minLength",
        ),
        pytest.param(
            obj(
                {"a": {"$ref": "#/$defs/S", "type": "string"}},
                **{"$defs": {"S": {"type": "string"}}},
            ),
            "$ref takes only annotations beside it",
            id="B-04 ref sibling",
        ),
        pytest.param(
            obj({"a": {"anyOf": []}}), "anyOf: expected a non-empty list", id="B-04 empty anyOf"
        ),
        pytest.param(
            obj({"a": {"anyOf": [{"type": "string"}], "type": "string"}}),
            "anyOf takes only annotations",
            id="B-04 anyOf sibling",
        ),
        pytest.param(
            {"type": "object", "properties": []},
            "properties: expected an object of schemas",
            id="B-04 properties not a mapping",
        ),
        pytest.param(
            obj({"a": {"type": "array", "items": [{"type": "string"}]}}),
            "items: expected a schema object, got array",
            id="B-04 tuple items",
        ),
        pytest.param(
            obj({"a": True}),
            "properties.a: expected a schema object, got boolean",
            id="B-04 boolean schema",
        ),
        pytest.param(
            obj({"a": {"type": "string", "default": object()}}),
            "not JSON",
            id="B-04 default not JSON",
        ),
        pytest.param(DEEP, "too large", id="B-04 too deep"),
        pytest.param(WIDE, "too large", id="B-04 too many subschemas"),
    ],
)
def test_b04_invalid_schemas_are_refused_at_registration(schema: Any, message: str) -> None:
    with pytest.raises(ToolDefinitionError) as info:
        schema_tool(schema)
    assert message in str(info.value)
    assert str(info.value).startswith("tool 'handmade': parameters")


def test_b04_self_reference_is_a_cycle() -> None:
    schema = obj({"a": {"$ref": "#/$defs/A"}}, **{"$defs": {"A": {"$ref": "#/$defs/A"}}})
    with pytest.raises(ToolDefinitionError) as info:
        schema_tool(schema)
    assert str(info.value).endswith(
        "$ref cycle that never reaches a value: parameters.$defs.A -> parameters.$defs.A"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"name": "bad name"}, "'bad name' must be 1-64", id="name"),
        pytest.param({"description": None}, "description must be a str", id="description"),
        pytest.param({"capability": "a..b"}, "capability 'a..b'", id="capability"),
        pytest.param({"timeout": 0}, "timeout must be a positive number", id="timeout"),
        pytest.param({"fn": lambda **_: None}, "is not an async function", id="sync fn"),
    ],
)
def test_from_schema_checks_its_options(kwargs: dict[str, Any], message: str) -> None:
    async def fn(**args: Any) -> None:
        pass

    options: dict[str, Any] = {"name": "t", "description": "", "parameters": obj({}), "fn": fn}
    options.update(kwargs)
    with pytest.raises(ToolDefinitionError) as info:
        Tool.from_schema(**options)
    assert message in str(info.value)


# ---------------------------------------------------------------- properties


class Mood(enum.Enum):
    HAPPY = "happy"
    NUMBER = 2


@attrs.frozen
class Filters:
    kinds: list[Literal["file", "dir"]]
    mood: Mood | None = None
    weights: dict[str, float] = attrs.Factory(dict)


@tool(strict=False)
async def rich(
    path: Path,
    *,
    pattern: str,
    count: int,
    ratio: float,
    flag: bool,
    either: int | str,
    numbers: tuple[float, ...],
    level: Level = Level.LOW,
    filters: Filters | None = None,
    tree: Node | None = None,
    extra: dict[str, list[int]] = {},  # noqa: B006 - a JSON default, never mutated
    anything: Any = None,
) -> None:
    """Every supported parameter type."""


UserId = NewType("UserId", int)


@tool
async def odd(a: Annotated[int, "An int."], uid: UserId, choice: str | Literal["x"] = "x") -> None:
    """Annotated, NewType, and a union member that never wins."""


@tool
async def nothing_required(limit: int = 3, name: str | None = None) -> None:
    """No required parameters."""


HANDMADE = schema_tool(READ, "read")
LOOSE_HANDMADE = schema_tool(
    {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "exclusiveMinimum": 0.5, "exclusiveMaximum": 9},
            "b": {"type": "number", "minimum": -1, "maximum": 1},
            "c": {"type": "array", "minItems": 1},
            "d": {"type": "boolean"},
            "e": {"const": "fixed"},
            "f": {},
        },
        "required": ["a"],
        "additionalProperties": True,
    },
    "loose",
)

TREE_HANDMADE = schema_tool(
    obj({"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#"}}}),
    "tree",
)

PROPERTY_TOOLS = [
    list_dir,
    shell,
    build,
    choose,
    rich,
    odd,
    nothing_required,
    HANDMADE,
    LOOSE_HANDMADE,
    TREE_HANDMADE,
]


def check(t: Tool, call: ToolCall) -> None:
    if call.valid:
        assert parse_arguments(t, call.text) == call.expected
        assert parse_arguments(t, call.arguments) == call.expected  # type: ignore[arg-type]
        return
    with pytest.raises(ToolArgumentsError) as info:
        parse_arguments(t, call.text)
    assert call.path in [path for path, _ in info.value.errors], (call, info.value.errors)


@pytest.mark.parametrize("t", PROPERTY_TOOLS, ids=lambda t: t.name)
@settings(max_examples=60)
@given(data=st.data())
def test_generated_valid_calls_round_trip(t: Tool, data: st.DataObject) -> None:
    call = data.draw(tool_calls(t, valid=True))
    assert call.valid
    assert call.path is None
    check(t, call)


@pytest.mark.parametrize("t", PROPERTY_TOOLS, ids=lambda t: t.name)
@settings(max_examples=60)
@given(data=st.data())
def test_generated_invalid_calls_name_the_right_path(t: Tool, data: st.DataObject) -> None:
    call = data.draw(tool_calls(t, valid=False))
    assert not call.valid
    assert call.expected is None
    check(t, call)


@given(call=tool_calls(list_dir))
def test_mixed_calls(call: ToolCall) -> None:
    check(list_dir, call)
