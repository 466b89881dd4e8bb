"""Typed tools: ``@tool`` schemas, definition errors, calling, the registry, results.

Argument validation (B-01, B-02, B-07, B-10) and hand-written schemas (B-04)
are in ``test_tools_validation.py``.
"""

from __future__ import annotations

import datetime
import enum
import json
import pickle
from collections.abc import Callable  # noqa: TC003 - tool annotations are evaluated at run time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

import actrio.tools
from actrio._schema import is_strict_compatible
from actrio.kernel import ActrioError, UsageError
from actrio.tools import (
    DEFAULT_MAX_CHARS,
    DuplicateTool,
    Tool,
    ToolArgumentsError,
    ToolDefinitionError,
    ToolError,
    ToolFailed,
    ToolOutput,
    ToolRegistry,
    ToolTimeout,
    UnknownTool,
    render_result,
    tool,
)
from actrio.tools import errors as tool_errors
from actrio.types import ToolSpec

if TYPE_CHECKING:
    from collections.abc import Sequence


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Options:
    """How to list.

    Attributes:
        depth: How deep to go.
    """

    depth: int
    follow: bool = False


@attrs.frozen
class Node:
    name: str
    children: list[Node] = attrs.Factory(list)


# ---------------------------------------------------------------- schemas


async def search(query: str, *, limit: int, ratio: float, exact: bool, nothing: None) -> str:
    """Search the index.

    Second paragraph, not part of the description.

    Args:
        query: What to look for.
        limit: At most this many hits,
            counted after filtering.
    """
    return query


def test_scalar_parameters_schema() -> None:
    t = tool(search)
    assert t.name == "search"
    assert t.description == "Search the index."
    assert t.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for."},
            "limit": {
                "type": "integer",
                "description": "At most this many hits, counted after filtering.",
            },
            "ratio": {"type": "number"},
            "exact": {"type": "boolean"},
            "nothing": {"type": "null"},
        },
        "required": ["query", "limit", "ratio", "exact", "nothing"],
        "additionalProperties": False,
    }
    assert t.strict is True
    assert t.capability is None
    assert t.timeout is None


@tool(name="list-dir", capability="fs.read", timeout=30.0)
async def list_dir(
    path: Path,
    *,
    recursive: bool = False,
    color: Color = Color.RED,
    mode: Literal["fast", "slow"] = "fast",
    tags: list[str] | None = None,
    sizes: tuple[int, ...] = (),
    options: Options | None = None,
    tree: Node | None = None,
) -> list[str]:
    """List a directory.

    Args:
        path: The directory.
        recursive: Descend into subdirectories.
    """
    return [str(path), str(recursive)]


def test_every_supported_type_schema() -> None:
    """Defaults become nullable but stay required (strict mode); null means the default."""
    assert list_dir.name == "list-dir"
    assert list_dir.capability == "fs.read"
    assert list_dir.timeout == 30.0
    assert list_dir.parameters == {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "The directory."},
            "recursive": {
                "anyOf": [{"type": "boolean"}, {"type": "null"}],
                "description": "Descend into subdirectories. (null: use the default, false)",
            },
            "color": {
                "anyOf": [{"type": "string", "enum": ["red", "blue"]}, {"type": "null"}],
                "description": 'Null: use the default, "red"',
            },
            "mode": {
                "anyOf": [{"type": "string", "enum": ["fast", "slow"]}, {"type": "null"}],
                "description": 'Null: use the default, "fast"',
            },
            "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
            "sizes": {
                "anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}],
                "description": "Null: use the default, []",
            },
            "options": {"anyOf": [{"$ref": "#/$defs/Options"}, {"type": "null"}]},
            "tree": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
        },
        "required": ["path", "recursive", "color", "mode", "tags", "sizes", "options", "tree"],
        "additionalProperties": False,
        "$defs": {
            "Options": {
                "type": "object",
                "description": "How to list.",
                "properties": {
                    "depth": {"type": "integer", "description": "How deep to go."},
                    "follow": {"type": "boolean"},
                },
                "required": ["depth", "follow"],
                "additionalProperties": False,
            },
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name", "children"],
                "additionalProperties": False,
            },
        },
    }


async def described(
    a: Annotated[int, "From Annotated."],
    b: Annotated[Options, "Options, from Annotated."],
    c: str = "x",
    d: Annotated[int, "Annotated d."] = 3,
) -> None:
    """Describe things.

    Args:
        a: From the docstring (Annotated wins).
        b: Also from the docstring.
        c: From the docstring.
        d: Docstring d.
    """


def test_descriptions_from_annotated_win_over_args() -> None:
    props = tool(described).parameters["properties"]
    assert props["a"] == {"type": "integer", "description": "From Annotated."}
    assert props["b"] == {
        "anyOf": [{"$ref": "#/$defs/Options"}],
        "description": "Options, from Annotated.",
    }
    assert props["c"]["description"] == 'From the docstring. (null: use the default, "x")'
    assert props["d"]["description"] == "Annotated d. (null: use the default, 3)"


def test_explicit_name_and_description_win() -> None:
    t = tool(name="find", description="Find things.")(search)
    assert (t.name, t.description) == ("find", "Find things.")


async def undocumented(x: int) -> int:
    return x


def test_no_docstring_means_empty_description() -> None:
    assert tool(undocumented).description == ""


def test_docstring_with_only_args_section() -> None:
    async def f(x: int) -> None:
        """Args:
        x: The x.
        """

    t = tool(f)
    assert t.description == ""
    assert t.parameters["properties"]["x"] == {"type": "integer", "description": "The x."}


async def optional_none(x: int | None = 5, y: Any = None) -> None:
    """Defaults whose type already takes None: null means None."""


def test_optional_parameter_null_means_none() -> None:
    t = tool(strict=False)(optional_none)
    assert t.parameters["properties"]["x"] == {
        "anyOf": [{"type": "integer"}, {"type": "null"}],
        "default": 5,
    }
    assert t.parameters["required"] == []
    assert actrio.tools.parse_arguments(t, '{"x": null}') == {"x": None, "y": None}
    assert actrio.tools.parse_arguments(t, "{}") == {"x": 5, "y": None}


async def loose(counts: dict[str, int], anything: Any, limit: int = 10, when: Any = object) -> None:
    """Non-strict: free-form objects allowed."""


def test_non_strict_mode_allows_free_form_types_and_optional_keys() -> None:
    t = tool(strict=False)(loose)
    assert t.strict is False
    assert t.spec.strict is False
    assert t.parameters == {
        "type": "object",
        "properties": {
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "anything": {},
            "limit": {"type": "integer", "default": 10},
            "when": {},
        },
        "required": ["counts", "anything"],
        "additionalProperties": False,
    }
    args = actrio.tools.parse_arguments(t, '{"counts": {"a": 1}, "anything": [1], "limit": null}')
    assert args == {"counts": {"a": 1}, "anything": [1], "limit": 10, "when": object}


STRICT_TOOLS = [tool(search), list_dir, tool(described), tool(undocumented)]


@pytest.mark.parametrize("t", STRICT_TOOLS, ids=lambda t: t.name)
def test_strict_schemas_are_strict_compatible(t: Tool) -> None:
    assert is_strict_compatible(t.parameters)
    spec = t.spec
    assert spec == ToolSpec(
        name=t.name, description=t.description, parameters=t.parameters, strict=True
    )


def test_tool_is_a_frozen_hashable_value() -> None:
    t = tool(search)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        t.name = "other"  # type: ignore[misc]
    assert t == tool(search)
    assert hash(t) == hash(tool(search))
    assert t != tool(name="other")(search)
    assert "_validator" not in repr(t)


# ---------------------------------------------------------------- bad definitions


def sync_fn(x: int) -> int:
    return x


async def star_args(*paths: str) -> None:
    pass


async def star_kwargs(**options: str) -> None:
    pass


async def positional_only(x: int, /) -> None:
    pass


async def unannotated(x) -> None:  # type: ignore[no-untyped-def]
    pass


async def callable_param(callback: Callable[[int], int]) -> None:
    pass


async def set_param(items: set[int]) -> None:
    pass


async def pair_param(pair: tuple[int, str]) -> None:
    pass


async def nested_set(options: list[set[int]]) -> None:
    pass


async def any_param(x: Any) -> None:
    pass


async def dict_param(counts: dict[str, int]) -> None:
    pass


async def unresolvable(x: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
    pass


async def generator_fn(x: int) -> Any:
    yield x


BAD_DEFINITIONS: list[tuple[str, Callable[[], object], str]] = [
    ("sync function", lambda: tool(sync_fn), "await trio.to_thread.run_sync("),  # type: ignore[arg-type]
    ("async generator", lambda: tool(generator_fn), "is not an async function"),
    ("not callable", lambda: tool(name="x")(42), "expected an async function, got 42"),  # type: ignore[arg-type]
    ("*args", lambda: tool(star_args), "*paths is not supported"),
    ("**kwargs", lambda: tool(star_kwargs), "**options is not supported"),
    ("positional-only", lambda: tool(positional_only), "parameter 'x' is positional-only"),
    ("unannotated", lambda: tool(unannotated), "parameter 'x' has no type annotation"),
    ("Callable", lambda: tool(callable_param), "parameter 'callback': callback: unsupported"),
    ("set", lambda: tool(set_param), "parameter 'items': items: unsupported type set[int]"),
    ("fixed tuple", lambda: tool(pair_param), "parameter 'pair': pair: fixed-length tuple"),
    ("nested set", lambda: tool(nested_set), "parameter 'options': options[]: unsupported"),
    ("Any in strict mode", lambda: tool(any_param), "parameter x (Any) cannot be expressed"),
    ("dict in strict mode", lambda: tool(dict_param), "counts (dict[str, int]) cannot be"),
    ("unresolvable annotation", lambda: tool(unresolvable), "cannot read its signature"),
    ("name with a space", lambda: tool(name="read file")(undocumented), "'read file' must be"),
    ("empty name", lambda: tool(name="")(undocumented), "'' must be 1-64 characters"),
    ("name too long", lambda: tool(name="x" * 65)(undocumented), "must be 1-64 characters"),
    ("non-ASCII name", lambda: tool(name="read_f\u0456le")(undocumented), "must be 1-64"),
    ("name with newline", lambda: tool(name="read\n")(undocumented), "must be 1-64"),
    ("positional name", lambda: tool("read")(undocumented), "use @tool(name='read')"),  # type: ignore[call-overload]
    ("bad capability", lambda: tool(capability="fs read")(undocumented), "capability 'fs read'"),
    ("empty capability", lambda: tool(capability="")(undocumented), "dotted words"),
    ("capability type", lambda: tool(capability=3)(undocumented), "capability 3"),  # type: ignore[call-overload]
    ("zero timeout", lambda: tool(timeout=0)(undocumented), "positive number of seconds"),
    ("negative timeout", lambda: tool(timeout=-1)(undocumented), "not -1"),
    ("infinite timeout", lambda: tool(timeout=float("inf"))(undocumented), "not inf"),
    ("bool timeout", lambda: tool(timeout=True)(undocumented), "not True"),
    ("str timeout", lambda: tool(timeout="3")(undocumented), "not '3'"),  # type: ignore[call-overload]
    ("description type", lambda: tool(description=3)(undocumented), "description must be"),  # type: ignore[call-overload]
]


@pytest.mark.parametrize(
    ("make", "message"),
    [pytest.param(make, message, id=f"B-04 {name}") for name, make, message in BAD_DEFINITIONS],
)
def test_bad_definitions_are_refused_naming_the_problem(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(ToolDefinitionError) as info:
        make()
    assert message in str(info.value)
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value, UsageError)


async def mixed_strictness(ok: int, counts: dict[str, int], fine: list[str]) -> None:
    pass


def test_strict_mode_names_only_the_parameters_it_cannot_express() -> None:
    with pytest.raises(ToolDefinitionError) as info:
        tool(mixed_strictness)
    assert "parameter counts (dict[str, int]) cannot be expressed" in str(info.value)


def test_sync_function_message_shows_how_to_wrap_it() -> None:
    with pytest.raises(ToolDefinitionError) as info:
        tool(sync_fn)  # type: ignore[arg-type]
    text = str(info.value)
    assert "sync_fn is not an async function" in text
    assert "async def sync_fn(...):" in text
    assert "return await trio.to_thread.run_sync(blocking_fn, ...)" in text


def test_schema_error_is_chained() -> None:
    with pytest.raises(ToolDefinitionError) as info:
        tool(set_param)
    assert isinstance(info.value.__cause__, TypeError)


# ---------------------------------------------------------------- calling


async def test_run_validates_then_calls() -> None:
    assert await list_dir.run('{"path": "src", "recursive": true}') == ["src", "True"]
    assert await list_dir.run(b'{"path": "src"}') == ["src", "False"]
    assert await list_dir({"path": "src", "recursive": None}) == ["src", "False"]


async def test_call_with_no_arguments() -> None:
    calls: list[str] = []

    @tool
    async def ping() -> str:
        calls.append("ping")
        return "pong"

    assert await ping() == "pong"
    assert await ping.run("") == "pong"
    assert calls == ["ping", "ping"]


async def test_invalid_arguments_never_reach_the_function() -> None:
    calls: list[object] = []

    @tool
    async def delete(path: Path) -> None:
        calls.append(path)

    with pytest.raises(ToolArgumentsError) as info:
        await delete.run('{"path": 123}')
    assert info.value.errors == (("$.path", "expected string, got integer"),)
    assert calls == []


async def test_a_failing_tool_is_boxed_without_its_message() -> None:
    secret = "sk-canary-1234"

    @tool
    async def leaky(token: str) -> None:
        raise ValueError(f"bad token {token}")

    with pytest.raises(ToolFailed) as info:
        await leaky.run({"token": secret})
    failed = info.value
    assert str(failed) == "tool 'leaky' failed with ValueError"
    assert secret not in str(failed)
    assert secret not in repr(failed)
    assert failed.tool == "leaky"
    assert isinstance(failed.error, ValueError)
    assert failed.__cause__ is failed.error
    assert isinstance(failed, RuntimeError)


async def test_tool_errors_raised_on_purpose_pass_unchanged() -> None:
    @tool
    async def picky(path: str) -> None:
        raise ToolArgumentsError("picky", [("$.path", "no such file")])

    with pytest.raises(ToolArgumentsError) as info:
        await picky.run({"path": "x"})
    assert info.value.tool == "picky"


async def test_timeout_raises_tool_timeout(autojump_clock: trio.testing.MockClock) -> None:
    @tool(timeout=5)
    async def slow() -> None:
        await trio.sleep(10)

    with pytest.raises(ToolTimeout) as info:
        await slow.run()
    assert (info.value.tool, info.value.seconds) == ("slow", 5)
    assert str(info.value) == "tool 'slow' timed out after 5 s"
    assert isinstance(info.value, TimeoutError)
    assert trio.current_time() == pytest.approx(5)


async def test_fast_call_within_timeout(autojump_clock: trio.testing.MockClock) -> None:
    @tool(timeout=5)
    async def quick() -> int:
        await trio.sleep(1)
        return 1

    assert await quick.run() == 1


async def test_outer_cancellation_is_not_a_timeout(autojump_clock: trio.testing.MockClock) -> None:
    @tool(timeout=50)
    async def slow() -> None:
        await trio.sleep(100)

    with trio.move_on_after(1) as scope:
        await slow.run()
    assert scope.cancelled_caught


async def test_run_is_a_checkpoint() -> None:
    @tool
    async def instant() -> int:
        return 1

    with trio.testing.assert_checkpoints():
        await instant.run()


# ---------------------------------------------------------------- the registry


def make_tool(name: str, capability: str | None = None) -> Tool:
    async def fn() -> str:
        return name

    return tool(name=name, capability=capability)(fn)


def test_registry_keeps_registration_order() -> None:
    a, b, c = make_tool("b_tool", "fs.read"), make_tool("a_tool", "fs.write"), make_tool("c_tool")
    registry = ToolRegistry([a, b])
    registry.add(c)
    assert registry.names() == ("b_tool", "a_tool", "c_tool")
    assert list(registry) == [a, b, c]
    assert len(registry) == 3
    assert registry.specs() == (a.spec, b.spec, c.spec)
    assert registry.get("a_tool") is b
    assert "a_tool" in registry
    assert "nope" not in registry
    assert a not in registry  # names, not tools
    assert repr(registry) == "ToolRegistry(['b_tool', 'a_tool', 'c_tool'])"


def test_registry_duplicates_and_replace() -> None:
    first, second = make_tool("t"), make_tool("t")
    registry = ToolRegistry([first, make_tool("u")])
    with pytest.raises(DuplicateTool) as info:
        registry.add(second)
    assert info.value.name == "t"
    assert "already registered; pass replace=True" in str(info.value)
    assert isinstance(info.value, ValueError)
    registry.add(second, replace=True)
    assert registry.get("t") is second
    assert registry.names() == ("t", "u")
    with pytest.raises(DuplicateTool):
        ToolRegistry([first, second])


def test_registry_remove() -> None:
    t = make_tool("t")
    registry = ToolRegistry([t])
    assert registry.remove("t") is t
    assert len(registry) == 0
    with pytest.raises(UnknownTool):
        registry.remove("t")


def test_registry_refuses_non_tools() -> None:
    with pytest.raises(TypeError, match="expected a Tool"):
        ToolRegistry().add(search)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("read_f\u0456le", id="B-03 Cyrillic i"),
        pytest.param("Read_File", id="B-03 case"),
        pytest.param("read_file ", id="B-03 trailing space"),
        pytest.param("read-file", id="B-03 dash for underscore"),
        pytest.param("read_file\u200b", id="B-03 zero-width space"),
        pytest.param("", id="B-03 empty"),
    ],
)
def test_lookup_is_exact(name: str) -> None:
    registry = ToolRegistry([make_tool("read_file"), make_tool("list_dir")])
    assert name not in registry
    with pytest.raises(UnknownTool) as info:
        registry.get(name)
    error = info.value
    assert error.name == name
    assert error.available == ("read_file", "list_dir")
    assert str(error).endswith("(names match exactly); available: read_file, list_dir")
    assert ascii(name) in str(error)
    assert isinstance(error, KeyError)


def test_unknown_tool_shows_hidden_characters_and_gives_feedback() -> None:
    error = UnknownTool("read_f\u0456le", ["read_file"])
    assert "'read_f\\u0456le'" in str(error)
    assert error.feedback() == (
        "no tool named 'read_f\\u0456le' (names match exactly); available: read_file."
        " Call one of the available tools by its exact name."
    )


def test_unknown_tool_lists_at_most_fifty_names() -> None:
    names = [f"t{i}" for i in range(60)]
    text = str(UnknownTool("x", names))
    assert "t49, ... (10 more)" in text
    assert "t50" not in text
    assert str(UnknownTool("x")).endswith("available: none")


def test_lookup_of_a_non_string() -> None:
    registry = ToolRegistry([make_tool("t")])
    with pytest.raises(UnknownTool):
        registry.get(3)  # type: ignore[arg-type]
    assert 3 not in registry


def test_by_capability_matches_dotted_prefixes() -> None:
    read, write, net = make_tool("r", "fs.read"), make_tool("w", "fs.write"), make_tool("n", "net")
    fsx = make_tool("x", "fsx.read")
    registry = ToolRegistry([read, write, net, fsx, make_tool("none")])
    assert registry.by_capability("fs") == (read, write)
    assert registry.by_capability("fs.read") == (read,)
    assert registry.by_capability("fs.rea") == ()
    assert registry.by_capability("net") == (net,)


def test_registries_are_independent() -> None:
    one, two = ToolRegistry(), ToolRegistry()
    one.add(make_tool("t"))
    assert "t" not in two


# ---------------------------------------------------------------- errors


def test_error_tree() -> None:
    for cls in (
        ToolDefinitionError,
        DuplicateTool,
        UnknownTool,
        ToolArgumentsError,
        ToolTimeout,
        ToolFailed,
    ):
        assert issubclass(cls, ToolError)
        assert cls.__name__ in (tool_errors.__doc__ or "")
    assert issubclass(ToolError, ActrioError)
    assert issubclass(ToolArgumentsError, ValueError)
    assert issubclass(UnknownTool, KeyError)
    assert issubclass(DuplicateTool, UsageError)


@pytest.mark.parametrize(
    "error",
    [
        ToolDefinitionError("bad"),
        DuplicateTool("t"),
        UnknownTool("t", ["a"]),
        ToolArgumentsError("t", [("$.x", "bad")]),
        ToolTimeout("t", 1.5),
        ToolFailed("t", ValueError("v")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle(error: ToolError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)


def test_arguments_error_text_and_feedback() -> None:
    errors = [(f"$.p{i}", "unexpected key") for i in range(25)]
    error = ToolArgumentsError("t", errors)
    lines = str(error).splitlines()
    assert lines[0] == "invalid arguments for tool 't' (25 problems)"
    assert lines[1] == "  $.p0: unexpected key"
    assert lines[-1] == "  ... and 5 more"
    feedback = error.feedback().splitlines()
    assert feedback[0] == "The arguments for tool 't' were rejected:"
    assert feedback[1] == "- $.p0: unexpected key"
    assert feedback[-2] == "- ... and 5 more"
    assert feedback[-1] == "Call 't' again with arguments that match its parameter schema."
    one = ToolArgumentsError("t", [("$", "bad")])
    assert str(one) == "invalid arguments for tool 't' (1 problem)\n  $: bad"


# ---------------------------------------------------------------- results


def test_plain_text_result() -> None:
    out = render_result("hello\nworld\ttab\r\n")
    assert out == ToolOutput("hello\nworld\ttab\r\n", False, False, 17, 17)


@attrs.frozen
class Hit:
    path: Path
    line: int
    color: Color


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"a": 1, "b": [True, None, 1.5]}, '{"a":1,"b":[true,null,1.5]}'),
        ([1, 2], "[1,2]"),
        ((1, "é"), '[1,"é"]'),
        (None, "null"),
        (3, "3"),
        (2.5, "2.5"),
        (True, "true"),
        (Hit(Path("a.py"), 3, Color.BLUE), '{"path":"a.py","line":3,"color":"blue"}'),
        ({"when": datetime.date(2024, 1, 2)}, '{"when":"2024-01-02"}'),
        ({"s": {1}}, '{"s":[1]}'),
        ({"b": bytearray(b"\xffok")}, '{"b":"\ufffdok"}'),
        ({"b": b"\xffok"}, '{"b":"/29r"}'),  # bytes in a structure: the wire form, base64
        ({"p": PurePosixPath("x/y")}, '{"p":"x/y"}'),
        ({"ctl": "\x1b[31m\x00"}, '{"ctl":"\\u001b[31m\\u0000"}'),
    ],
    ids=lambda v: type(v).__name__,
)
def test_json_results(value: object, text: str) -> None:
    out = render_result(value)
    assert out.text == text
    assert out.is_json
    assert not out.truncated
    assert out.original_chars == len(text)
    assert out.original_bytes == len(text.encode())


def test_unknown_objects_inside_json_are_short_reprs() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "Thing" + "!" * 1000

    out = render_result({"t": Thing()})
    assert out.is_json
    value = json.loads(out.text)["t"]
    assert value.startswith("Thing!")
    assert len(value) <= 200


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"x": float("nan")}, id="NaN"),
        pytest.param({(1, 2): "tuple key"}, id="tuple key"),
    ],
)
def test_results_that_are_not_json_fall_back_to_a_repr(value: object) -> None:
    out = render_result(value)
    assert not out.is_json
    assert out.text == repr(value)


def test_cyclic_and_deep_results_fall_back_to_a_bounded_repr() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    assert render_result(cyclic).text == "[[[[[[[...]]]]]]]"
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    out = render_result(deep)
    assert not out.is_json
    assert len(out.text) < 100


def test_b05_oversized_text_keeps_the_head_and_states_the_original_size() -> None:
    big = "a" * 104_857_600
    out = render_result(big)
    assert out.truncated
    assert out.text == (
        "a" * 16_000 + "\n[… truncated: 104,857,600 bytes (104,857,600 characters) total,"
        " showing the first 16,000 characters]"
    )
    assert (out.original_chars, out.original_bytes) == (104_857_600, 104_857_600)


def test_b05_sizes_count_utf8_bytes() -> None:
    out = render_result("é" * 20, max_chars=5)
    assert out.text.startswith("ééééé\n[… truncated: 40 bytes (20 characters) total")


def test_b05_huge_json_list_is_capped() -> None:
    out = render_result(list(range(1_000_000)), max_chars=100)
    assert out.is_json
    assert out.truncated
    assert out.text.startswith("[0,1,2,3")
    assert len(out.text.split("\n")[0]) == 100
    assert out.original_chars == len(json.dumps(list(range(1_000_000)), separators=(",", ":")))


def test_b05_b06_endless_nul_bytes_are_capped_and_escaped() -> None:
    out = render_result(b"\x00" * 10_000_000, max_chars=40)
    assert out.text == (
        "\\x00" * 10 + "\n[… truncated: 10,000,000 bytes (10,000,000 characters) total,"
        " showing the first 10 characters]"
    )
    assert not out.replaced


def test_b06_invalid_utf8_is_replaced_with_a_note() -> None:
    out = render_result(b"ok \xff\xfe end")
    assert out.text == (
        "ok \ufffd\ufffd end\n[binary output: bytes that are not UTF-8 were replaced with U+FFFD]"
    )
    assert out.replaced
    assert out.original_bytes == 9
    assert out.original_chars == 9


def test_b06_a_multibyte_character_split_across_chunks_decodes_whole() -> None:
    data = b"a" * ((1 << 20) - 1) + "é".encode()
    out = render_result(data, max_chars=2)
    assert not out.replaced
    assert out.original_chars == 1 << 20
    assert out.original_bytes == (1 << 20) + 1


def test_b06_invalid_bytes_in_the_first_chunk_of_many() -> None:
    out = render_result(b"\xff" + b"a" * (1 << 20), max_chars=3)
    assert out.replaced
    assert out.text.startswith("\ufffdaa\n[… truncated: 1,048,577 bytes (1,048,577 characters)")
    assert out.text.endswith("[binary output: bytes that are not UTF-8 were replaced with U+FFFD]")


def test_b06_valid_utf8_bytes_and_other_buffers() -> None:
    assert render_result(b"caf\xc3\xa9").text == "café"
    assert render_result(bytearray(b"x")).text == "x"
    assert render_result(memoryview(b"yz")).text == "yz"
    assert render_result(b"") == ToolOutput("", False, False, 0, 0)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("a\x00b", "a\\x00b", id="B-06 NUL"),
        pytest.param("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m", id="B-06 ANSI"),
        pytest.param("\x7f\x85", "\\x7f\\x85", id="B-06 DEL and C1"),
        pytest.param("abc\u202eevil", "abc\\u202eevil", id="B-08 bidi override"),
        pytest.param("a\u200db", "a\\u200db", id="B-08 zero-width joiner"),
        pytest.param("x\U000e0041", "x\\U000e0041", id="B-08 tag character"),
        pytest.param("\ufeffbom", "\\ufeffbom", id="B-08 BOM"),
    ],
)
def test_invisible_and_control_characters_are_escaped(value: str, text: str) -> None:
    assert render_result(value).text == text


def test_b08_escapes_inside_json_are_json_escapes() -> None:
    value = {"s": "a\u202eb\U000e0041\x85"}
    out = render_result(value)
    assert out.text == '{"s":"a\\u202eb\\udb40\\udc41\\u0085"}'
    assert json.loads(out.text) == value


def test_unpaired_surrogates_are_replaced() -> None:
    out = render_result("a\ud800b")
    assert out.text == "a\ufffdb"
    assert out.replaced
    assert render_result({"s": "\udfff"}).text == '{"s":"\ufffd"}'


def test_an_escape_is_never_split_by_the_cap() -> None:
    out = render_result("ab\x00cd", max_chars=3)
    assert out.text.startswith("ab\n[… truncated: 5 bytes (5 characters) total,")
    assert out.text.endswith("showing the first 2 characters]")
    out = render_result("\x00\x00\x00", max_chars=9)
    assert out.text.startswith("\\x00\\x00\n")


def test_default_cap() -> None:
    assert DEFAULT_MAX_CHARS == 16_000
    assert not render_result("a" * 16_000).truncated
    assert render_result("a" * 16_001).truncated


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_max_chars_must_be_positive(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_chars must be a positive int"):
        render_result("x", max_chars=bad)


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=[]), max_size=40)


@given(value=ANY_TEXT | st.binary(max_size=40) | st.lists(ANY_TEXT, max_size=3))
def test_b06_result_text_always_encodes(value: str | bytes | Sequence[str]) -> None:
    """Event JSON encoding never fails: the text is valid UTF-8 and JSON."""
    out = render_result(value, max_chars=30)
    out.text.encode("utf-8")
    assert json.loads(json.dumps(out.text, ensure_ascii=False)) == out.text
    assert not any(0xD800 <= ord(c) < 0xE000 for c in out.text)
