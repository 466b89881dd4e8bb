"""JSON Schema from annotations, and strict parsing of a model's JSON output."""

from __future__ import annotations

import enum
import json
import pickle
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, NewType, Optional, TypeVar, Union

import attr
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actrio import _output, _schema
from actrio._output import OutputValidationError, parse_json_output, parse_output
from actrio._schema import (
    Property,
    SchemaBuilder,
    SchemaError,
    is_strict_compatible,
    json_schema,
)
from actrio._wire import converter as wire

T = TypeVar("T")
UserId = NewType("UserId", int)


class Color(enum.IntEnum):
    RED = 1
    BLUE = 2


class Mood(enum.StrEnum):
    HAPPY = "happy"
    SAD = "sad"


class Mixed(enum.Enum):
    A = "a"
    ONE = 1
    HALF = 0.5
    NOTHING = None


class Empty(enum.Enum):
    pass


class Bad(enum.Enum):
    PAIR = (1, 2)


class NotAttrs:
    x: int


@attrs.frozen
class Item:
    """An item for sale.

    More about items, which is not the first paragraph.

    Attributes:
        name: What it is
            called, over two lines.
        price (float): What it costs.
        ghost: Not a field at all.
    """

    name: str
    price: float
    color: Color = Color.RED
    tags: tuple[str, ...] = ()


@attrs.frozen
class Node:
    """A tree node."""

    value: int
    children: list[Node] = attrs.Factory(list)
    parent: Node | None = None


@attrs.frozen
class Left:
    right: Right | None


@attrs.frozen
class Right:
    left: Left | None


@attrs.frozen
class Answer:
    items: list[Item]
    best: Annotated[Item, "the best one"]
    mood: Mood = Mood.HAPPY
    kind: Literal["a", "b"] = "a"
    path: Path | None = None
    scores: dict[str, float] = attrs.Factory(dict)
    tree: Node | None = None


def _twin() -> type[Any]:
    @attrs.frozen
    class Twin:
        x: int

    return Twin


TwinA = _twin()
TwinB = _twin()


@attrs.frozen
class Twins:
    a: TwinA  # type: ignore[valid-type]
    b: TwinB  # type: ignore[valid-type]
    again: TwinA  # type: ignore[valid-type]


@attrs.frozen
class Described:
    """Attributes:
    plain: From the docstring.
    both: From the docstring, but Annotated wins.
    item: A described reference.
    """

    plain: int
    both: Annotated[int, "from Annotated"]
    item: Item
    other: Annotated[str, 3]


OPAQUE = object()


@attrs.frozen
class Defaults:
    """Fields with defaults of every sort."""

    required: int
    number: int = 3
    nothing: int | None = None
    mood: Mood = Mood.SAD
    pair: tuple[int, ...] = (1, 2)
    listed: list[int] = attrs.Factory(list)
    item: Item = Item("pen", 1.5)
    anything: Any = OPAQUE
    nan: float = float("nan")


@attrs.frozen
class Everything:
    text: str
    count: int
    ratio: float
    flag: bool
    nothing: None
    literal: Literal["x", "y"]
    color: Color
    mood: Mood
    path: Path
    listed: list[int]
    tupled: tuple[str, ...]
    seq: Sequence[int]
    mapping: Mapping[str, int]
    anything: Any
    either: int | str
    maybe: Optional[float]  # noqa: UP045 - Optional is a supported spelling
    user: UserId


@attrs.frozen
class Checked:
    amount: int = attrs.field(validator=attrs.validators.ge(0))


def _fails_quietly(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    raise ValueError


@attrs.frozen
class Quiet:
    amount: int = attrs.field(validator=_fails_quietly)


@attrs.frozen
class Cat:
    kind: Literal["cat"]
    lives: int


@attrs.frozen
class Dog:
    kind: Literal["dog"]
    good: bool


@attrs.frozen
class Pets:
    pets: list[Cat | Dog]


@attrs.frozen
class Hidden:
    shown: int
    secret: int = attrs.field(init=False, default=0)


@attr.s
class Untyped:
    x = attr.ib()  # type: ignore[var-annotated]  # untyped on purpose


Typed = attrs.make_class("Typed", {"x": attrs.field(type=int)})


@attrs.frozen
class Broken:
    x: DoesNotExist  # type: ignore[name-defined]  # noqa: F821


@pytest.mark.parametrize("module", [_schema, _output])
def test_the_module_surface_is_a_sorted_tuple(module: Any) -> None:
    assert isinstance(module.__all__, tuple)
    assert list(module.__all__) == sorted(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


# ---------------------------------------------------------------- json_schema: types

NULL = {"type": "null"}


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, NULL),
        (type(None), NULL),
        (Path, {"type": "string"}),
        (PurePosixPath, {"type": "string"}),
        (Any, {}),
        (UserId, {"type": "integer"}),
        (Literal["a", "b"], {"type": "string", "enum": ["a", "b"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Literal[True], {"type": "boolean", "enum": [True]}),
        (Literal[None], NULL),
        (
            Literal["a", 1],
            {"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "integer", "enum": [1]}]},
        ),
        (Literal["a", None], {"anyOf": [{"type": "string", "enum": ["a"]}, NULL]}),
        (Literal[Color.BLUE], {"type": "integer", "enum": [2]}),
        (Color, {"type": "integer", "enum": [1, 2]}),
        (Mood, {"type": "string", "enum": ["happy", "sad"]}),
        (
            Mixed,
            {
                "anyOf": [
                    {"type": "string", "enum": ["a"]},
                    {"type": "integer", "enum": [1]},
                    {"type": "number", "enum": [0.5]},
                    NULL,
                ]
            },
        ),
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (typing.List[int], {"type": "array", "items": {"type": "integer"}}),  # noqa: UP006
        (tuple[str, ...], {"type": "array", "items": {"type": "string"}}),
        (Sequence[bool], {"type": "array", "items": {"type": "boolean"}}),
        (
            list[list[int]],
            {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        ),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (Mapping[str, Any], {"type": "object", "additionalProperties": {}}),
        (int | None, {"anyOf": [{"type": "integer"}, NULL]}),
        (Optional[int], {"anyOf": [{"type": "integer"}, NULL]}),  # noqa: UP045
        (None | int, {"anyOf": [NULL, {"type": "integer"}]}),
        (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),  # noqa: UP007
        (
            int | Literal["auto"] | None,
            {"anyOf": [{"type": "integer"}, {"type": "string", "enum": ["auto"]}, NULL]},
        ),
        (Annotated[int, "how many"], {"type": "integer", "description": "how many"}),
        (Annotated[int, 5, "first", "second"], {"type": "integer", "description": "first"}),
        (Annotated[int, 5], {"type": "integer"}),
        (
            Annotated[int | None, "maybe"],
            {"anyOf": [{"type": "integer"}, NULL], "description": "maybe"},
        ),
        (
            Annotated[int, "n"] | None,
            {"anyOf": [{"type": "integer", "description": "n"}, NULL]},
        ),
    ],
    ids=repr,
)
def test_schema_of_each_supported_type(tp: object, expected: dict[str, Any]) -> None:
    assert json_schema(tp) == expected
    assert json_schema(tp, strict=False) == expected


ITEM = {
    "type": "object",
    "description": "An item for sale.",
    "properties": {
        "name": {"type": "string", "description": "What it is called, over two lines."},
        "price": {"type": "number", "description": "What it costs."},
        "color": {"type": "integer", "enum": [1, 2]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "price", "color", "tags"],
    "additionalProperties": False,
}

NODE_DEF = {
    "type": "object",
    "description": "A tree node.",
    "properties": {
        "value": {"type": "integer"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
        "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, NULL]},
    },
    "required": ["value", "children", "parent"],
    "additionalProperties": False,
}


def test_an_attrs_class_is_the_root_object_inline() -> None:
    assert json_schema(Item) == ITEM


def test_nested_classes_go_under_defs() -> None:
    assert json_schema(Answer) == {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "best": {"anyOf": [{"$ref": "#/$defs/Item"}], "description": "the best one"},
            "mood": {"type": "string", "enum": ["happy", "sad"]},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "path": {"anyOf": [{"type": "string"}, NULL]},
            "scores": {"type": "object", "additionalProperties": {"type": "number"}},
            "tree": {"anyOf": [{"$ref": "#/$defs/Node"}, NULL]},
        },
        "required": ["items", "best", "mood", "kind", "path", "scores", "tree"],
        "additionalProperties": False,
        "$defs": {"Item": ITEM, "Node": NODE_DEF},
    }


def test_a_recursive_root_refers_to_itself_as_hash() -> None:
    assert json_schema(Node) == {
        "type": "object",
        "description": "A tree node.",
        "properties": {
            "value": {"type": "integer"},
            "children": {"type": "array", "items": {"$ref": "#"}},
            "parent": {"anyOf": [{"$ref": "#"}, NULL]},
        },
        "required": ["value", "children", "parent"],
        "additionalProperties": False,
    }


def test_a_recursive_class_below_the_root_is_one_def() -> None:
    assert json_schema(list[Node]) == {
        "type": "array",
        "items": {"$ref": "#/$defs/Node"},
        "$defs": {"Node": NODE_DEF},
    }


def test_mutually_recursive_classes() -> None:
    assert json_schema(Left) == {
        "type": "object",
        "properties": {"right": {"anyOf": [{"$ref": "#/$defs/Right"}, NULL]}},
        "required": ["right"],
        "additionalProperties": False,
        "$defs": {
            "Right": {
                "type": "object",
                "properties": {"left": {"anyOf": [{"$ref": "#"}, NULL]}},
                "required": ["left"],
                "additionalProperties": False,
            }
        },
    }


def test_classes_that_share_a_name_get_distinct_defs() -> None:
    twin = {
        "type": "object",
        "properties": {"x": {"type": "integer"}},
        "required": ["x"],
        "additionalProperties": False,
    }
    schema = json_schema(Twins)
    assert schema["properties"] == {
        "a": {"$ref": "#/$defs/Twin"},
        "b": {"$ref": "#/$defs/Twin2"},
        "again": {"$ref": "#/$defs/Twin"},
    }
    assert schema["$defs"] == {"Twin": twin, "Twin2": twin}


def test_descriptions_from_annotated_and_docstrings() -> None:
    assert json_schema(Described)["properties"] == {
        "plain": {"type": "integer", "description": "From the docstring."},
        "both": {"type": "integer", "description": "from Annotated"},
        "item": {"anyOf": [{"$ref": "#/$defs/Item"}], "description": "A described reference."},
        "other": {"type": "string"},
    }
    assert "description" not in json_schema(Described)  # the docstring opens with a section


@pytest.mark.parametrize(
    ("doc", "summary", "fields"),
    [
        (None, None, {}),
        ("", None, {}),
        ("One line.", "One line.", {}),
        ("Two\nlines.\n\nMore.", "Two lines.", {}),
        ("Summary.\nArgs:\n    x: not attributes", "Summary.", {}),
        (
            """Summary.

            Attributes:
                a: First.
                b (list[int]): Second,
                    continued.

                    And a second paragraph.
                c:
                    On the next line.
                *weird line
                    its continuation is dropped.

            Raises:
                ValueError: Not an attribute.
            """,
            "Summary.",
            {
                "a": "First.",
                "b": "Second, continued. And a second paragraph.",
                "c": "On the next line.",
            },
        ),
    ],
)
def test_docstring_parsing(doc: str | None, summary: str | None, fields: dict[str, str]) -> None:
    assert _schema._parse_docstring(doc) == (summary, fields)


def test_init_false_fields_are_left_out() -> None:
    assert list(json_schema(Hidden)["properties"]) == ["shown"]


def test_fields_typed_without_annotations() -> None:
    assert json_schema(Typed)["properties"] == {"x": {"type": "integer"}}


# ---------------------------------------------------------------- strict and not


def test_strict_mode_requires_every_field_and_allows_null_only_by_type() -> None:
    schema = json_schema(Defaults)
    assert schema["required"] == list(schema["properties"])
    assert schema["properties"]["number"] == {"type": "integer"}
    assert schema["properties"]["nothing"] == {"anyOf": [{"type": "integer"}, NULL]}
    assert not any("default" in prop for prop in schema["properties"].values())


def test_loose_mode_leaves_defaults_out_of_required_and_says_them() -> None:
    schema = json_schema(Defaults, strict=False)
    assert schema["required"] == ["required"]
    props = schema["properties"]
    assert props["required"] == {"type": "integer"}
    assert props["number"] == {"type": "integer", "default": 3}
    assert props["nothing"] == {"anyOf": [{"type": "integer"}, NULL], "default": None}
    assert props["mood"] == {"type": "string", "enum": ["happy", "sad"], "default": "sad"}
    assert props["pair"] == {"type": "array", "items": {"type": "integer"}, "default": [1, 2]}
    assert props["listed"] == {"type": "array", "items": {"type": "integer"}}  # a Factory
    assert props["item"] == {
        "anyOf": [{"$ref": "#/$defs/Item"}],
        "default": {"name": "pen", "price": 1.5, "color": 1, "tags": []},
    }
    assert props["anything"] == {}  # an object() has no JSON form
    assert props["nan"] == {"type": "number"}  # nor has NaN
    item = schema["$defs"]["Item"]
    assert item["required"] == ["name", "price"]
    assert item["properties"]["color"]["default"] == 1


# ---------------------------------------------------------------- rejected types


@attrs.frozen
class HasSet:
    items: list[set[int]]


@pytest.mark.parametrize(
    ("tp", "message"),
    [
        (HasSet, "HasSet.items[]: unsupported type set[int]"),
        (set[int], "set[int]: unsupported type set[int]"),
        (frozenset[str], "unsupported type frozenset[str]"),
        (bytes, "bytes: unsupported type bytes"),
        (tuple[int, str], "fixed-length tuple tuple[int, str] is not supported"),
        (tuple[int], "fixed-length tuple tuple[int] is not supported"),
        (tuple[()], "fixed-length tuple"),
        (dict[int, str], "dict[int, str]: mapping keys must be str"),
        (list, "list: list needs its item types"),
        (dict, "dict: dict needs its item types"),
        (tuple, "tuple needs its item types"),
        (set, "set needs its item types"),
        (Sequence, "Sequence needs its item types"),
        (Mapping, "Mapping needs its item types"),
        (typing.List, "list needs its item types"),  # noqa: UP006
        (NotAttrs, "NotAttrs: unsupported type NotAttrs"),
        (object, "unsupported type object"),
        (T, "~T: unsupported type variable ~T"),
        (list[T], "list[~T][]: unsupported type variable ~T"),  # type: ignore[valid-type]
        (type[int], "unsupported type type[int]"),
        (dict[str, bytes], "dict[str, bytes]{}: unsupported type bytes"),
        (int | bytes, "unsupported type bytes"),
        (Literal[b"x"], "b'x' in Literal[b'x'] is not a JSON scalar"),
        (Bad, "(1, 2) in Bad is not a JSON scalar"),
        (Empty, "Empty: Empty has no members"),
        (Untyped, "Untyped.x: field has no type annotation"),
        (Broken, "Broken: cannot resolve the annotations of"),
        ([1, 2], "unsupported type [1, 2]"),
    ],
    ids=repr,
)
def test_unsupported_types_are_refused_with_their_path(tp: object, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        json_schema(tp)
    assert message in str(info.value)
    assert isinstance(info.value, TypeError)


def test_parse_output_refuses_unsupported_types_before_reading() -> None:
    with pytest.raises(SchemaError, match=r"set\[int\]"):
        parse_output(set[int], "[1]")


# ---------------------------------------------------------------- caching


def test_callers_get_a_fresh_copy() -> None:
    first = json_schema(Answer)
    first["properties"]["items"]["items"]["$ref"] = "#/oops"
    first["$defs"]["Item"]["required"].append("oops")
    second = json_schema(Answer)
    assert second["properties"]["items"]["items"]["$ref"] == "#/$defs/Item"
    assert second["$defs"]["Item"] == ITEM
    assert json_schema(Answer) is not json_schema(Answer)


def test_unhashable_annotations_are_built_without_the_cache() -> None:
    tp = Annotated[int, {"not": "hashable"}, "described"]
    assert json_schema(tp) == {"type": "integer", "description": "described"}


# ---------------------------------------------------------------- the builder


def test_builder_shares_defs_between_properties() -> None:
    builder = SchemaBuilder()
    params = builder.object_schema(
        [
            Property("query", str, "What to look for."),
            Property("item", Item),
            Property("more", list[Item], has_default=True, default=()),
        ],
        path="search",
        description="Search things.",
    )
    assert builder.finish(params) == {
        "type": "object",
        "description": "Search things.",
        "properties": {
            "query": {"type": "string", "description": "What to look for."},
            "item": {"$ref": "#/$defs/Item"},
            "more": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        },
        "required": ["query", "item", "more"],
        "additionalProperties": False,
        "$defs": {"Item": ITEM},
    }


def test_builder_in_loose_mode_and_without_defs() -> None:
    builder = SchemaBuilder(strict=False)
    schema = builder.object_schema(
        [Property("limit", int, has_default=True, default=10)], path="search"
    )
    assert builder.finish(schema) == {
        "type": "object",
        "properties": {"limit": {"type": "integer", "default": 10}},
        "required": [],
        "additionalProperties": False,
    }


def test_builder_errors_name_the_given_path() -> None:
    with pytest.raises(SchemaError, match=r"^search\.tags\[\]: unsupported type bytes"):
        SchemaBuilder().schema_for(list[bytes], path="search.tags")


# ---------------------------------------------------------------- is_strict_compatible


def _object_nodes(node: object) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found += _object_nodes(value)
    elif isinstance(node, list):
        for value in node:
            found += _object_nodes(value)
    return found


STRICT_CLASSES = [Item, Node, Left, Twins, Described, Pets, Hidden, Checked, Cat]


@pytest.mark.parametrize("cls", STRICT_CLASSES, ids=lambda c: c.__name__)
def test_strict_schemas_are_strict_compatible(cls: type[Any]) -> None:
    schema = json_schema(cls)
    assert is_strict_compatible(schema)
    for node in _object_nodes(schema):
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])


@pytest.mark.parametrize(
    "tp",
    [Answer, Everything, dict[str, int], Any, Annotated[Any, "anything"], list[Any]],
    ids=repr,
)
def test_what_strict_mode_cannot_express(tp: object) -> None:
    assert not is_strict_compatible(json_schema(tp))


def test_loose_schemas_with_defaults_are_not_strict() -> None:
    assert not is_strict_compatible(json_schema(Defaults, strict=False))
    assert is_strict_compatible(json_schema(Item, strict=True))
    assert not is_strict_compatible(json_schema(Item, strict=False))


OBJECT = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}


@pytest.mark.parametrize(
    ("schema", "ok"),
    [
        ({"type": "string"}, True),
        ({"enum": ["a"]}, True),
        ({"const": 1}, True),
        (OBJECT, True),
        ({"type": ["object", "null"], "properties": {}, "additionalProperties": False}, True),
        ({"$ref": "#/$defs/X", "$defs": {"X": {"type": "integer"}}}, True),
        ({"anyOf": [{"type": "integer"}, NULL]}, True),
        ({"type": "array", "items": {"type": "string"}}, True),
        ({"type": ["array", "null"], "items": {"type": "string"}}, True),
        ({}, False),
        ({"description": "anything"}, False),
        ({"type": "array"}, False),
        ({"type": "array", "items": True}, False),
        ({"type": "array", "items": [{"type": "string"}]}, False),
        ({"type": "array", "items": {}}, False),
        ({"type": "object", "properties": {}}, False),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, False),
        ({**OBJECT, "properties": {"a": {"type": "string"}}}, False),
        ({**OBJECT, "required": ["a", "a"], "properties": {"a": {"type": "string"}}}, False),
        ({**OBJECT, "required": ["a"], "properties": {"a": {}}}, False),
        ({"$ref": "#/$defs/X", "description": "x"}, False),
        ({"type": "integer", "default": 1}, False),
        ({"oneOf": [{"type": "integer"}]}, False),
        ({"anyOf": [{"type": "integer"}, {}]}, False),
        ({"$ref": "#/$defs/X", "$defs": {"X": {}}}, False),
        ({"anyOf": ["not a schema"]}, False),
    ],
    ids=repr,
)
def test_is_strict_compatible_by_hand(schema: dict[str, Any], ok: bool) -> None:
    assert is_strict_compatible(schema) is ok


# ---------------------------------------------------------------- parse_output: accepted


def test_parse_every_supported_type() -> None:
    text = json.dumps(
        {
            "text": "hi",
            "count": 3,
            "ratio": 2,
            "flag": False,
            "nothing": None,
            "literal": "y",
            "color": 2,
            "mood": "sad",
            "path": "/tmp/x",
            "listed": [1, 2],
            "tupled": ["a"],
            "seq": [3],
            "mapping": {"k": 1},
            "anything": {"free": [1, "form"]},
            "either": "s",
            "maybe": None,
            "user": 7,
        }
    )
    value = parse_output(Everything, text)
    assert value == Everything(
        text="hi",
        count=3,
        ratio=2.0,
        flag=False,
        nothing=None,
        literal="y",
        color=Color.BLUE,
        mood=Mood.SAD,
        path=Path("/tmp/x"),
        listed=[1, 2],
        tupled=("a",),
        seq=(3,),
        mapping={"k": 1},
        anything={"free": [1, "form"]},
        either="s",
        maybe=None,
        user=UserId(7),
    )
    assert type(value.ratio) is float
    assert type(value.color) is Color
    assert type(value.mood) is Mood
    assert isinstance(value.seq, tuple)


@pytest.mark.parametrize(
    ("tp", "text", "expected"),
    [
        (int, "1", 1),
        (str, '"1"', "1"),
        (float, "1", 1.0),
        (float, "1.5", 1.5),
        (bool, "true", True),
        (None, "null", None),
        (Literal[1, "1"], '"1"', "1"),
        (Literal[1, "1"], "1", 1),
        (Literal[Color.RED], "1", Color.RED),
        (Mixed, "null", Mixed.NOTHING),
        (Mixed, "0.5", Mixed.HALF),
        (Mixed, "1", Mixed.ONE),
        (int | str, '"1"', "1"),
        (int | str, "1", 1),
        (int | float, "1", 1),
        (int | float, "1.5", 1.5),
        (Optional[int], "null", None),  # noqa: UP045
        (Annotated[list[int], "n"], "[1, 2]", [1, 2]),
        (dict[str, list[int]], '{"a": [1]}', {"a": [1]}),
        (Any, '{"a": [null]}', {"a": [None]}),
        (Union[int, Any], '"x"', "x"),  # noqa: UP007
        (PurePosixPath, '"a/b"', PurePosixPath("a/b")),
    ],
    ids=repr,
)
def test_parse_scalars_and_containers(tp: object, text: str, expected: object) -> None:
    value = parse_output(tp, text)
    assert value == expected
    assert type(value) is type(expected)


def test_parse_nested_and_recursive_classes() -> None:
    text = json.dumps(
        {
            "items": [{"name": "pen", "price": 1.5, "color": 2, "tags": ["x"]}],
            "best": {"name": "ink", "price": 3},
            "tree": {"value": 1, "children": [{"value": 2, "parent": {"value": 0}}]},
        }
    )
    assert parse_output(Answer, text) == Answer(
        items=[Item("pen", 1.5, Color.BLUE, ("x",))],
        best=Item("ink", 3.0),
        tree=Node(1, [Node(2, parent=Node(0))]),
    )


def test_parse_a_union_of_classes_by_trying_each() -> None:
    text = '{"pets": [{"kind": "dog", "good": true}, {"kind": "cat", "lives": 9}]}'
    assert parse_output(Pets, text) == Pets([Dog("dog", True), Cat("cat", 9)])


# ---------------------------------------------------------------- parse_output: refused


def _problems(tp: object, text: str) -> list[tuple[str, str]]:
    with pytest.raises(OutputValidationError) as info:
        parse_output(tp, text)
    return list(info.value.errors)


@pytest.mark.parametrize(
    ("tp", "text", "message"),
    [
        (int, '"1"', "expected integer, got string"),
        (int, "1.5", "expected integer, got number"),
        (int, "1.0", "expected integer, got number"),
        (int, "true", "expected integer, got boolean"),
        (str, "1", "expected string, got integer"),
        (str, "null", "expected string, got null"),
        (bool, '"yes"', "expected boolean, got string"),
        (bool, "1", "expected boolean, got integer"),
        (float, "true", "expected number, got boolean"),
        (float, '"1.5"', "expected number, got string"),
        (float, "1" + "0" * 400, "number is too large"),
        (None, "0", "expected null, got integer"),
        (Literal[1], "true", "expected one of 1, got true"),
        (Literal[1], "1.0", "expected one of 1, got 1.0"),
        (Literal["a", "b"], '"c"', 'expected one of "a", "b", got "c"'),
        (Color, '"1"', 'expected one of 1, 2, got "1"'),
        (Color, "true", "expected one of 1, 2, got true"),
        (Mood, '"HAPPY"', 'expected one of "happy", "sad", got "HAPPY"'),
        (Path, "1", "expected string, got integer"),
        (list[int], '"abc"', "expected array, got string"),
        (list[int], '{"a": 1}', "expected array, got object"),
        (tuple[int, ...], "{}", "expected array, got object"),
        (dict[str, int], "[]", "expected object, got array"),
        (Item, "[]", "expected object, got array"),
        (Item, '"pen"', "expected object, got string"),
        (int | None, '"x"', "expected integer or null, got string"),
        (float | str, "[]", "expected string or number, got array"),
        (Cat | Dog, '{"kind": "cow"}', "matches none of Cat | Dog"),
        (Checked, '{"amount": -1}', "'amount' must be >= 0: -1"),
        (Quiet, '{"amount": 1}', "ValueError"),
    ],
    ids=repr,
)
def test_no_silent_coercion(tp: object, text: str, message: str) -> None:
    assert _problems(tp, text) == [("$", message)]


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    text = json.dumps(
        {
            "items": [
                {"name": "ok", "price": 1},
                {"name": 1, "price": "1", "color": True, "zz": 1},
                {"name": "x"},
            ],
            "best": [],
            "kind": "c",
            "path": 1,
            "scores": {"a": "1", "b c": True, "fine": 2},
            "tree": {"value": 1, "children": [{"value": 2}, {"value": "3"}]},
            "bogus": 1,
            "also bogus": 2,
        }
    )
    assert _problems(Answer, text) == [
        ("$.items[1].name", "expected string, got integer"),
        ("$.items[1].price", "expected number, got string"),
        ("$.items[1].color", "expected one of 1, 2, got true"),
        ("$.items[1].zz", "unexpected key"),
        ("$.items[2].price", "required key is missing"),
        ("$.best", "expected object, got array"),
        ("$.kind", 'expected one of "a", "b", got "c"'),
        ("$.path", "expected string or null, got integer"),
        ("$.scores.a", "expected number, got string"),
        ('$.scores["b c"]', "expected number, got boolean"),
        ("$.tree.children[1].value", "expected integer, got string"),
        ('$["also bogus"]', "unexpected key"),
        ("$.bogus", "unexpected key"),
    ]


def test_paths_through_unions_of_classes() -> None:
    text = '{"pets": [{"kind": "cat", "lives": "9"}, {"kind": "dog", "good": true, "x": 1}]}'
    assert _problems(Pets, text) == [
        ("$.pets[0]", "matches none of Cat | Dog"),
        ("$.pets[1]", "matches none of Cat | Dog"),
    ]
    assert _problems(Node | None, '{"value": "1"}') == [("$.value", "expected integer, got string")]


def test_long_values_and_keys_are_cut_in_messages() -> None:
    [(path, message)] = _problems(Literal["a"], json.dumps("v" * 200))
    assert message == 'expected one of "a", got "' + "v" * 56 + "..."
    [(path, message)] = _problems(dict[str, int], json.dumps({"k" * 200 + " !": "x"}))
    assert path == '$["' + "k" * 56 + "...]"


def test_structuring_too_deep_is_a_validation_error() -> None:
    depth = 400
    text = '{"value": 1, "children": [' * depth + '{"value": 1}' + "]}" * depth
    assert _problems(Node, text) == [("$", "nested too deeply")]


# ---------------------------------------------------------------- JSON text


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2]}',
        '  \n {"a": [1, 2]}\n\n',
        '```json\n{"a": [1, 2]}\n```',
        '\n  ```JSON\n{"a": [1, 2]}\n```  \n',
        '```\n{"a": [1, 2]}\n```',
        '```json {"a": [1, 2]} ```',
    ],
    ids=repr,
)
def test_whitespace_and_one_fence_are_allowed(text: str) -> None:
    assert parse_json_output(text) == {"a": [1, 2]}


def test_a_fence_may_hold_backticks_in_strings() -> None:
    assert parse_json_output('```json\n{"code": "```py```"}\n```') == {"code": "```py```"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid JSON: Expecting value (line 1, column 1)"),
        ('{"a": 1} and more', "invalid JSON: Extra data (line 1, column 10)"),
        ('Here it is: {"a": 1}', "invalid JSON: Expecting value (line 1, column 1)"),
        ('```json\n{"a": 1}\n```\n```json\n{}\n```', "invalid JSON: Extra data (line 3, column 1)"),
        ('\n\n```json\n{"a": [}\n```', "invalid JSON: Expecting value (line 4, column 8)"),
        ("[1, NaN]", "invalid JSON: NaN is not valid JSON"),
        ("-Infinity", "invalid JSON: -Infinity is not valid JSON"),
        ('{"a": 1, "a": 2}', 'invalid JSON: duplicate key "a"'),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
    ],
    ids=lambda v: repr(v)[:40],
)
def test_invalid_json(text: str, message: str) -> None:
    with pytest.raises(OutputValidationError) as info:
        parse_json_output(text)
    assert info.value.errors == (("$", message),)
    assert info.value.type_name == "JSON"
    assert info.value.raw == text


def test_huge_numbers_are_invalid_json() -> None:
    with pytest.raises(OutputValidationError, match="invalid JSON: Exceeds the limit"):
        parse_json_output("1" * 5000)


def test_parse_output_reports_invalid_json_with_the_type_name() -> None:
    with pytest.raises(OutputValidationError) as info:
        parse_output(Item, '{"name": ')
    assert info.value.type_name == "Item"
    assert info.value.errors[0][0] == "$"


# ---------------------------------------------------------------- the error


def test_error_text_lists_every_problem() -> None:
    error = OutputValidationError("Item", [("$.a", "bad"), ("$.b[0]", "worse")], "{}")
    assert (
        str(error) == "model output is not a valid Item (2 problems)\n  $.a: bad\n  $.b[0]: worse"
    )
    one = OutputValidationError("Item", [("$", "bad")], "{}")
    assert str(one) == "model output is not a valid Item (1 problem)\n  $: bad"
    assert isinstance(error, ValueError)


def test_error_pickles() -> None:
    error = OutputValidationError("Item", [("$.a", "bad")], "{}")
    back = pickle.loads(pickle.dumps(error))
    assert (back.type_name, back.errors, back.raw) == ("Item", (("$.a", "bad"),), "{}")


def test_feedback_says_what_and_where_and_quotes_the_reply() -> None:
    raw = '{"name": 1, "price": 2}'
    with pytest.raises(OutputValidationError) as info:
        parse_output(Item, raw)
    assert info.value.feedback() == (
        "Your previous reply could not be read as Item.\n"
        "Problems:\n"
        "- $.name: expected string, got integer\n"
        "Your reply was:\n"
        '{"name": 1, "price": 2}\n'
        "Reply again with only JSON matching the schema, and no other text."
    )


def test_feedback_is_bounded() -> None:
    raw = json.dumps(["x"] * 1000)
    with pytest.raises(OutputValidationError) as info:
        parse_output(list[int], raw)
    error = info.value
    assert len(error.errors) == 1000
    assert len(str(error).splitlines()) == 1001
    feedback = error.feedback()
    assert "- $[19]: expected integer, got string" in feedback
    assert "$[20]" not in feedback
    assert "- ... and 980 more" in feedback
    assert raw[:2000] in feedback
    assert raw[:2001] not in feedback
    assert f"[... {len(raw) - 2000} more characters cut]" in feedback
    assert len(feedback) < 3500
    assert feedback.endswith("Reply again with only JSON matching the schema, and no other text.")


# ---------------------------------------------------------------- round trips

finite = st.floats(allow_nan=False, allow_infinity=False)
items = st.builds(
    Item,
    name=st.text(),
    price=finite,
    color=st.sampled_from(Color),
    tags=st.lists(st.text(), max_size=3).map(tuple),
)
nodes = st.recursive(
    st.builds(Node, value=st.integers(-(2**63), 2**63)),
    lambda children: st.builds(
        Node,
        value=st.integers(),
        children=st.lists(children, max_size=3),
        parent=st.none() | children,
    ),
    max_leaves=10,
)
answers = st.builds(
    Answer,
    items=st.lists(items, max_size=3),
    best=items,
    mood=st.sampled_from(Mood),
    kind=st.sampled_from(["a", "b"]),
    path=st.none() | st.sampled_from([Path("/tmp/x"), Path("rel/y")]),
    scores=st.dictionaries(st.text(), finite, max_size=3),
    tree=st.none() | nodes,
)
pets = st.builds(
    Pets,
    pets=st.lists(
        st.builds(Cat, kind=st.just("cat"), lives=st.integers())
        | st.builds(Dog, kind=st.just("dog"), good=st.booleans()),
        max_size=4,
    ),
)
examples = st.one_of(items, nodes, answers, pets)


@given(value=examples)
def test_round_trip_through_json(value: Any) -> None:
    assert parse_output(type(value), json.dumps(wire.unstructure(value))) == value


def _conforms(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """A small validator for the subset of JSON Schema that json_schema writes."""
    if "$ref" in schema:
        ref = schema["$ref"]
        target = root if ref == "#" else root["$defs"][ref.removeprefix("#/$defs/")]
        return _conforms(value, target, root)
    if "anyOf" in schema:
        return any(_conforms(value, option, root) for option in schema["anyOf"])
    kind = _schema._json_type(value)
    declared = schema.get("type", kind)
    keys = set(value) if isinstance(value, dict) else set()
    return (
        (kind == declared or (kind == "integer" and declared == "number"))
        and value in schema.get("enum", [value])
        and set(schema.get("required", [])) <= keys <= set(schema.get("properties", keys))
        and all(_conforms(sub, inner, root) for sub, inner in _children(value, schema))
    )


def _children(value: Any, schema: dict[str, Any]) -> list[tuple[Any, dict[str, Any]]]:
    if isinstance(value, list):
        return [(item, schema["items"]) for item in value]
    if isinstance(value, dict) and "properties" in schema:
        return [(sub, schema["properties"][key]) for key, sub in value.items()]
    if isinstance(value, dict):
        return [(sub, schema["additionalProperties"]) for sub in value.values()]
    return []


@given(value=examples)
def test_strict_schemas_accept_their_own_instances(value: Any) -> None:
    schema = json_schema(type(value))
    data = json.loads(json.dumps(wire.unstructure(value)))
    assert _conforms(data, schema, schema)
    assert not _conforms({**data, "unexpected": 1}, schema, schema)
