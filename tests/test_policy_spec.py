"""Policy specs: nemoir-runtime's shape, strict validation, the JSON form (SH-12, B-07)."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings

from actrio._wire import converter
from actrio.policy._spec import (
    KEYWORDS,
    MAX_EXPR_DEPTH,
    Example,
    ExprSpec,
    PolicySpec,
    PolicySpecError,
    RefSpec,
    RequireSpec,
    TriggerSpec,
    load_policies,
    policies_to_data,
    policies_to_json,
)
from actrio.testing._policy_strategies import policies

if TYPE_CHECKING:
    from pathlib import Path

# ------------------------------------------------------- nemoir-runtime's examples, verbatim

shell_allowlist = PolicySpec(
    id="shell-allowlist",
    kind="deny",
    trigger=TriggerSpec(capability="os.shell", bind={"command": "command"}),
    condition=ExprSpec(
        kind="not",
        expr=ExprSpec(
            kind="or",
            exprs=(
                ExprSpec(
                    kind="method_call",
                    receiver=ExprSpec(kind="ref", ref=RefSpec(kind="bound", name="command")),
                    method="eq",
                    args=(ExprSpec(kind="literal", type="string", value="python run.py"),),
                ),
                ExprSpec(
                    kind="method_call",
                    receiver=ExprSpec(kind="ref", ref=RefSpec(kind="bound", name="command")),
                    method="starts_with",
                    args=(ExprSpec(kind="literal", type="string", value="git commit -m "),),
                ),
            ),
        ),
    ),
)

write_allowlist = PolicySpec(
    id="write-allowlist",
    kind="deny",
    trigger=TriggerSpec(capability="fs.write", bind={"path": "path"}),
    condition=ExprSpec(
        kind="not",
        expr=ExprSpec(
            kind="method_call",
            receiver=ExprSpec(kind="ref", ref=RefSpec(kind="bound", name="path")),
            method="eq",
            args=(ExprSpec(kind="ref", ref=RefSpec(kind="input", name="candidate_path")),),
        ),
    ),
)

COMMAND = {"kind": "ref", "ref": {"kind": "bound", "name": "command"}}


def lit(type_: str, value: Any) -> dict[str, Any]:
    return {"kind": "literal", "type": type_, "value": value}


def eq_call(arg: Any) -> dict[str, Any]:
    return {"kind": "method_call", "receiver": COMMAND, "method": "eq", "args": [arg]}


def policy(**changes: Any) -> dict[str, Any]:
    """A valid deny policy as JSON data, with ``changes`` applied (None deletes a key)."""
    data: dict[str, Any] = {
        "id": "p",
        "kind": "deny",
        "trigger": {"capability": "os.shell", "bind": {"command": "command"}},
        "condition": eq_call(lit("string", "ls")),
    }
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


def test_the_reference_shapes_build_compare_and_hash() -> None:
    again = copy.deepcopy(shell_allowlist)
    assert again == shell_allowlist
    assert hash(again) == hash(shell_allowlist)
    assert shell_allowlist != write_allowlist
    assert shell_allowlist.trigger.bind == {"command": "command"}
    assert shell_allowlist.requires == ()
    assert shell_allowlist.description == ""


def test_expr_repr_shows_only_the_fields_its_kind_uses() -> None:
    ref = ExprSpec(kind="ref", ref=RefSpec(kind="bound", name="command"))
    assert repr(ref) == "ExprSpec(kind='ref', ref=RefSpec(kind='bound', name='command', path=()))"
    call = ExprSpec(kind="method_call", receiver=ref, method="program")
    assert repr(call) == f"ExprSpec(kind='method_call', receiver={ref!r}, method='program')"
    null = ExprSpec(kind="literal", type="null")
    assert repr(null) == "ExprSpec(kind='literal', type='null', value=None)"
    assert repr(shell_allowlist.trigger) == (
        "TriggerSpec(capability='os.shell', bind={'command': 'command'})"
    )


def test_literals_are_normalised() -> None:
    as_float = ExprSpec(kind="literal", type="float", value=1)
    assert as_float.value == 1.0
    assert isinstance(as_float.value, float)
    as_list = ExprSpec(kind="literal", type="list", value=["a", 1, None])
    assert as_list.value == ("a", 1, None)
    assert ExprSpec(kind="and", exprs=[as_float, as_float]).exprs == (as_float, as_float)


def test_mappings_are_frozen_but_compare_like_dicts() -> None:
    bind = {"command": "command"}
    trigger = TriggerSpec(capability="os.shell", bind=bind)
    bind["other"] = "x"  # the spec kept its own copy
    assert dict(trigger.bind) == {"command": "command"}
    assert trigger.bind == {"command": "command"}
    assert trigger.bind != {"command": "other"}
    assert trigger.bind != 3  # type: ignore[comparison-overlap]
    assert len(trigger.bind) == 1
    assert list(trigger.bind) == ["command"]
    assert repr(trigger.bind) == "{'command': 'command'}"
    with pytest.raises(TypeError):
        trigger.bind["x"] = "y"  # type: ignore[index]
    assert hash(trigger) == hash(TriggerSpec(capability="os.shell", bind={"command": "command"}))
    assert TriggerSpec(capability="user.confirm").bind == {}


def test_example_values_are_copied() -> None:
    args = {"command": ["ls", {"a": 1}]}
    example = Example(args=args)
    args["command"][1]["a"] = 2  # type: ignore[index]
    assert example.args == {"command": ["ls", {"a": 1}]}
    assert example.inputs == {}


# ---------------------------------------------------------------- the JSON form


def test_json_form_of_the_shell_allowlist_is_exact() -> None:
    (data,) = policies_to_data([shell_allowlist])
    assert data == {
        "id": "shell-allowlist",
        "kind": "deny",
        "trigger": {"capability": "os.shell", "bind": {"command": "command"}},
        "condition": {
            "kind": "not",
            "expr": {
                "kind": "or",
                "exprs": [
                    eq_call(lit("string", "python run.py")),
                    {
                        "kind": "method_call",
                        "receiver": COMMAND,
                        "method": "starts_with",
                        "args": [lit("string", "git commit -m ")],
                    },
                ],
            },
        },
    }


def test_json_form_of_every_optional_field() -> None:
    spec = PolicySpec(
        id="confirm-git",
        kind="before",
        trigger=TriggerSpec(capability="os.shell", bind={"command": "command"}),
        requires=(
            RequireSpec(capability="fs.read"),
            RequireSpec(
                capability="user.confirm",
                args={"message": ExprSpec(kind="literal", type="string", value="run git?")},
            ),
        ),
        condition=ExprSpec(
            kind="in",
            left=ExprSpec(kind="ref", ref=RefSpec(kind="node", name="plan", path=("files",))),
            options=(ExprSpec(kind="literal", type="list", value=("a", 1)),),
        ),
        match=(Example(args={"command": "git"}, inputs={"workspace": "/w"}),),
        not_match=(Example(args={"command": "ls"}),),
        description="ask first",
    )
    (data,) = policies_to_data([spec])
    assert data["requires"] == [
        {"capability": "fs.read"},
        {"capability": "user.confirm", "args": {"message": lit("string", "run git?")}},
    ]
    assert data["condition"] == {
        "kind": "in",
        "left": {"kind": "ref", "ref": {"kind": "node", "name": "plan", "path": ["files"]}},
        "options": [lit("list", ["a", 1])],
    }
    assert data["match"] == [{"args": {"command": "git"}, "inputs": {"workspace": "/w"}}]
    assert data["not_match"] == [{"args": {"command": "ls"}}]
    assert data["description"] == "ask first"
    assert load_policies(policies_to_json([spec])) == (spec,)


def test_references_round_trip_through_json() -> None:
    text = policies_to_json([shell_allowlist, write_allowlist])
    assert json.loads(text)["policies"][1]["id"] == "write-allowlist"
    assert load_policies(text) == (shell_allowlist, write_allowlist)
    assert load_policies(policies_to_json([], indent=None)) == ()


@settings(max_examples=80)
@given(spec=policies())
def test_load_of_dump_is_identity(spec: PolicySpec) -> None:
    """Property: load(dump(x)) == x, for policies using every construct."""
    assert load_policies(policies_to_json([spec])) == (spec,)
    assert load_policies(policies_to_data([spec])) == (spec,)


def test_every_source_form_loads(tmp_path: Path) -> None:
    data = policies_to_data([shell_allowlist])
    text = json.dumps(data)
    file = tmp_path / "policies.json"
    file.write_text(text, encoding="utf-8")
    expected = (shell_allowlist,)
    assert load_policies(text) == expected
    assert load_policies("  \n" + json.dumps({"policies": data})) == expected
    assert load_policies(text.encode()) == expected
    assert load_policies(file) == expected
    assert load_policies(str(file)) == expected
    assert load_policies(data) == expected
    assert load_policies(tuple(data)) == expected
    assert load_policies({"policies": data}) == expected
    assert load_policies("[]") == ()


def test_bad_sources_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicySpecError, match=r"^policies: expected JSON text .* or a path"):
        load_policies("policies.yaml")
    with pytest.raises(FileNotFoundError):
        load_policies(str(tmp_path / "missing.json"))
    with pytest.raises(TypeError, match="cannot load policies from int"):
        load_policies(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("[1", "policies: invalid JSON at line 1, column 3: Expecting ',' delimiter"),
        ("[NaN]", "policies: invalid JSON: NaN is not a JSON number"),
        (b"[\xff]", "policies: invalid JSON: 'utf-8' codec can't decode byte 0xff"),
        ('{"policy": []}', 'policies: expected a list or {"policies": [...]}, got an object'),
        ({}, 'policies: expected a list or {"policies": [...]}, got an object with keys none'),
        ('{"policies": 3}', "policies: expected a list of policies, got integer"),
    ],
)
def test_bad_json_documents(source: Any, message: str) -> None:
    with pytest.raises(PolicySpecError) as info:
        load_policies(source)
    assert str(info.value).startswith(message)
    assert info.value.path == "policies"
    assert info.value.policy_id is None


NOT_BOUND = "'cmd' is not bound by the trigger (bound: command)"
BAD_SPECS: dict[str, tuple[dict[str, Any] | Any, str]] = {
    "not-an-object": ([[1]], "policies[0]: expected an object, got list"),
    "missing-receiver": (
        policy(
            condition={
                "kind": "not",
                "expr": {
                    "kind": "or",
                    "exprs": [
                        eq_call(lit("string", "a")),
                        {"kind": "method_call", "method": "eq"},
                    ],
                },
            }
        ),
        "policies[0].condition.expr.exprs[1].receiver: method_call needs a receiver",
    ),
    "unknown-policy-key": (
        policy(extra=1),
        "policies[0]: unknown key 'extra'; expected one of id, kind, trigger, requires, "
        "condition, match, not_match, description",
    ),
    "unknown-trigger-key": (
        policy(trigger={"capability": "os.shell", "binds": {}}),
        "policies[0].trigger: unknown key 'binds'; expected one of capability, bind",
    ),
    "unknown-expr-key": (
        policy(condition=COMMAND | {"negate": True}),
        "policies[0].condition: unknown key 'negate'; expected one of kind, expr, exprs, ref,",
    ),
    "unknown-ref-key": (
        policy(condition={"kind": "ref", "ref": {"kind": "input", "name": "x", "field": "y"}}),
        "policies[0].condition.ref: unknown key 'field'; expected one of kind, name, path",
    ),
    "missing-id": (policy(id=None), "policies[0].id: required"),
    "missing-trigger": (policy(trigger=None), "policies[0].trigger: required"),
    "missing-capability": (
        policy(trigger={"bind": {}}),
        "policies[0].trigger.capability: required",
    ),
    "missing-expr-kind": (
        policy(condition={"expr": COMMAND}),
        "policies[0].condition.kind: required",
    ),
    "id-type": (policy(id=3), "policies[0].id: expected a string, got integer"),
    "empty-id": (policy(id=""), "policies[0].id: expected a non-empty string, got ''"),
    "kind": (policy(kind="allow"), "policies[0].kind: expected deny or before, got 'allow'"),
    "deny-without-condition": (
        policy(condition=None),
        "policies[0].condition: deny needs a condition",
    ),
    "deny-with-requires": (
        policy(requires=[{"capability": "user.confirm"}]),
        "policies[0].requires: deny takes no requires",
    ),
    "before-without-requires": (
        policy(kind="before"),
        "policies[0].requires: before needs requires",
    ),
    "requires-not-a-list": (
        policy(kind="before", requires={"capability": "x"}),
        "policies[0].requires: expected a list, got object",
    ),
    "capability": (
        policy(trigger={"capability": "os shell", "bind": {}}),
        "policies[0].trigger.capability: expected a dotted capability name like 'os.shell', "
        "got 'os shell'",
    ),
    "keyword-bind": (
        policy(
            trigger={"capability": "os.shell", "bind": {"not": "command"}},
            condition=lit("bool", True),
        ),
        "policies[0].trigger.bind.not: 'not' is a keyword and cannot be a bound name",
    ),
    "bind-value-type": (
        policy(trigger={"capability": "os.shell", "bind": {"command": 1}}),
        "policies[0].trigger.bind.command: expected a string, got integer",
    ),
    "bind-not-a-map": (
        policy(trigger={"capability": "os.shell", "bind": ["command"]}),
        "policies[0].trigger.bind: expected an object, got list",
    ),
    "bind-argument-name": (
        policy(trigger={"capability": "os.shell", "bind": {"command": "the command"}}),
        "policies[0].trigger.bind.command: argument name 'the command' is not an identifier",
    ),
    "unbound-name": (
        policy(condition={"kind": "ref", "ref": {"kind": "bound", "name": "cmd"}}),
        f"policies[0].condition.ref.name: {NOT_BOUND}",
    ),
    "string-literal-int": (
        policy(condition=eq_call(lit("string", 1))),
        "policies[0].condition.args[0].value: string literal needs a string, got integer",
    ),
    "int-literal-bool": (
        policy(condition=eq_call(lit("int", True))),
        "policies[0].condition.args[0].value: int literal needs an integer, got boolean",
    ),
    "int-literal-float": (
        policy(condition=eq_call(lit("int", 1.5))),
        "policies[0].condition.args[0].value: int literal needs an integer, got number",
    ),
    "int-literal-range": (
        policy(condition=eq_call(lit("int", 2**63))),
        "policies[0].condition.args[0].value: int literal out of the 64-bit range",
    ),
    "float-literal-string": (
        policy(condition=eq_call(lit("float", "1.0"))),
        "policies[0].condition.args[0].value: float literal needs a finite number, got string",
    ),
    "bool-literal-int": (
        policy(condition=eq_call(lit("bool", 1))),
        "policies[0].condition.args[0].value: bool literal needs true or false, got integer",
    ),
    "null-literal-zero": (
        policy(condition=eq_call(lit("null", 0))),
        "policies[0].condition.args[0].value: null literal needs null, got integer",
    ),
    "list-literal-nested": (
        policy(condition=eq_call(lit("list", ["a", ["b"]]))),
        "policies[0].condition.args[0].value[1]: list literal items are scalars, got list",
    ),
    "list-literal-item": (
        policy(condition=eq_call(lit("list", [True, 2**64]))),
        "policies[0].condition.args[0].value[1]: int literal out of the 64-bit range",
    ),
    "list-literal-string": (
        policy(condition=eq_call(lit("list", "ab"))),
        "policies[0].condition.args[0].value: list literal needs a list, got string",
    ),
    "literal-type": (
        policy(condition=eq_call(lit("str", "a"))),
        "policies[0].condition.args[0].type: unknown literal type 'str'; expected one of "
        "string, int, float, bool, null, list",
    ),
    "literal-condition": (
        policy(condition={"kind": "not", "expr": lit("string", "yes")}),
        "policies[0].condition.expr: a string literal is not a condition",
    ),
    "literal-in-args-is-fine-but-list-in-or-is-not": (
        policy(condition={"kind": "or", "exprs": [eq_call(lit("int", 1)), lit("list", [])]}),
        "policies[0].condition.exprs[1]: a list literal is not a condition",
    ),
    "compare-op": (
        policy(condition={"kind": "compare", "op": "=~", "left": COMMAND, "right": COMMAND}),
        "policies[0].condition.op: unknown compare op '=~'; expected one of == != < <= > >=",
    ),
    "compare-left": (
        policy(condition={"kind": "compare", "op": "==", "right": COMMAND}),
        "policies[0].condition.left: compare needs a left",
    ),
    "or-of-one": (
        policy(condition={"kind": "or", "exprs": [COMMAND]}),
        "policies[0].condition.exprs: or needs at least two exprs, got 1",
    ),
    "in-without-options": (
        policy(condition={"kind": "in", "left": COMMAND}),
        "policies[0].condition.options: in needs at least one option, got 0",
    ),
    "exprs-not-a-list": (
        policy(condition={"kind": "and", "exprs": COMMAND}),
        "policies[0].condition.exprs: expected a list, got object",
    ),
    "expr-not-an-object": (
        policy(condition={"kind": "and", "exprs": ["x", COMMAND]}),
        "policies[0].condition.exprs[0]: expected an object, got string",
    ),
    "extra-field-for-kind": (
        policy(condition={"kind": "not", "expr": COMMAND, "exprs": [COMMAND]}),
        "policies[0].condition.exprs: not takes no exprs",
    ),
    "expr-kind": (
        policy(condition={"kind": "xor"}),
        "policies[0].condition.kind: unknown expression kind 'xor'; expected one of not, and, or, "
        "ref, literal, method_call, compare, in",
    ),
    "expr-kind-type": (
        policy(condition={"kind": 1}),
        "policies[0].condition.kind: expected a string",
    ),
    "ref-kind": (
        policy(condition={"kind": "ref", "ref": {"kind": "env", "name": "x"}}),
        "policies[0].condition.ref.kind: unknown ref kind 'env'; expected input, bound or node",
    ),
    "ref-missing": (
        policy(condition={"kind": "ref"}),
        "policies[0].condition.ref: ref needs a ref",
    ),
    "ref-name": (
        policy(condition={"kind": "ref", "ref": {"kind": "input", "name": "a-b"}}),
        "policies[0].condition.ref.name: name 'a-b' is not an identifier",
    ),
    "ref-path-key": (
        policy(condition={"kind": "ref", "ref": {"kind": "input", "name": "a", "path": [""]}}),
        "policies[0].condition.ref.path[0]: keys are non-empty strings, got ''",
    ),
    "ref-path-type": (
        policy(condition={"kind": "ref", "ref": {"kind": "input", "name": "a", "path": "ab"}}),
        "policies[0].condition.ref.path: expected a list, got string",
    ),
    "method-name": (
        policy(condition={"kind": "method_call", "receiver": COMMAND, "method": "e q"}),
        "policies[0].condition.method: method 'e q' is not an identifier",
    ),
    "method-missing": (
        policy(condition={"kind": "method_call", "receiver": COMMAND}),
        "policies[0].condition.method: method must be a string, got null",
    ),
    "example-without-args": (policy(match=[{}]), "policies[0].match[0].args: required"),
    "examples-not-a-list": (policy(match={}), "policies[0].match: expected a list, got object"),
    "example-args-type": (
        policy(match=[{"args": []}]),
        "policies[0].match[0].args: expected an object, got list",
    ),
    "example-key": (
        policy(not_match=[{"args": {"a b": 1}}]),
        "policies[0].not_match[0].args.a b: name 'a b' is not an identifier",
    ),
    "example-value": (
        policy(match=[{"args": {"command": {1, 2}}}]),
        "policies[0].match[0].args.command: not a JSON value: set",
    ),
    "example-number": (
        policy(match=[{"args": {}, "inputs": {"n": [float("inf")]}}]),
        "policies[0].match[0].inputs.n[0]: not a JSON number: inf",
    ),
    "example-big-int": (
        policy(match=[{"args": {"n": 2**64}}]),
        "policies[0].match[0].args.n: not a JSON number: 18446744073709551616",
    ),
    "example-object-key": (
        policy(match=[{"args": {"n": {1: 2}}}]),
        "policies[0].match[0].args.n: object keys are strings, got 1",
    ),
    "description": (
        policy(description=1),
        "policies[0].description: expected a string, got integer",
    ),
    "require-args-type": (
        policy(
            kind="before",
            condition=None,
            requires=[{"capability": "fs.read", "args": {"path": "p"}}],
        ),
        "policies[0].requires[0].args.path: expected an object, got string",
    ),
    "require-args-map": (
        policy(kind="before", condition=None, requires=[{"capability": "fs.read", "args": []}]),
        "policies[0].requires[0].args: expected an object, got list",
    ),
    "require-unbound": (
        policy(
            kind="before",
            condition=None,
            requires=[
                {
                    "capability": "fs.read",
                    "args": {"path": {"kind": "ref", "ref": {"kind": "bound", "name": "cmd"}}},
                }
            ],
        ),
        f"policies[0].requires[0].args.path.ref.name: {NOT_BOUND}",
    ),
    "require-param-name": (
        policy(
            kind="before",
            condition=None,
            requires=[{"capability": "fs.read", "args": {"1": COMMAND}}],
        ),
        "policies[0].requires[0].args.1: parameter name '1' is not an identifier",
    ),
}


@pytest.mark.parametrize(("data", "message"), BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_bad_spec_names_its_path_and_policy(data: Any, message: str) -> None:
    with pytest.raises(PolicySpecError) as info:
        load_policies(data if isinstance(data, list) else [data])
    error = info.value
    assert str(error).startswith(message)
    assert f"{error.path}: {error.message}".startswith(message)
    given_id = data.get("id") if isinstance(data, dict) else None
    expected_id = given_id if isinstance(given_id, str) else None
    assert error.policy_id == expected_id
    if expected_id is not None:
        assert str(error).endswith(f" (policy {expected_id!r})")


def test_every_problem_is_reported() -> None:
    bad = [policy(id="a", kind="allow"), policy(id="b"), policy(id="c", extra=1, description=2)]
    with pytest.raises(PolicySpecError) as info:
        load_policies(bad)
    assert info.value.problems == (
        ("a", "policies[0].kind", "expected deny or before, got 'allow'"),
        ("c", "policies[2]", info.value.problems[1][2]),
        ("c", "policies[2].description", "expected a string, got integer"),
    )
    assert str(info.value).splitlines()[0] == (
        "policies[0].kind: expected deny or before, got 'allow' (policy 'a')"
    )
    assert len(str(info.value).splitlines()) == 3


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(PolicySpecError) as info:
        load_policies([policy(id="a"), policy(id="b"), policy(id="a")])
    assert str(info.value) == "policies[2].id: duplicate id 'a' (first at policies[0]) (policy 'a')"


# ---------------------------------------------------------------- depth (B-07)


def nested_json(levels: int) -> str:
    head = json.dumps(policy(condition=None))[:-1]  # drop the closing brace
    condition = '{"kind": "not", "expr": ' * levels + json.dumps(COMMAND) + "}" * levels
    return f'[{head}, "condition": {condition}}}]'


def nested_data(levels: int) -> list[dict[str, Any]]:
    condition: dict[str, Any] = dict(COMMAND)
    for _ in range(levels):
        condition = {"kind": "not", "expr": condition}
    return [policy(condition=condition)]


def test_b07_json_nested_ten_thousand_deep_is_a_typed_error() -> None:
    with pytest.raises(PolicySpecError, match=r"^policies: JSON nested too deeply$"):
        load_policies(nested_json(10_000))
    with pytest.raises(PolicySpecError, match=r"^policies: nested deeper than 144 levels$"):
        load_policies(nested_data(10_000))


def test_b07_nesting_just_past_the_limit_is_reported_with_its_path() -> None:
    assert load_policies(nested_json(MAX_EXPR_DEPTH - 1))[0].id == "p"
    with pytest.raises(PolicySpecError) as info:
        load_policies(nested_json(MAX_EXPR_DEPTH))
    assert info.value.path == "policies[0].condition" + ".expr" * MAX_EXPR_DEPTH
    assert info.value.message == "expression nested deeper than 64 levels"


def test_b07_deep_expression_built_in_python_is_a_typed_error() -> None:
    expr = ExprSpec(kind="ref", ref=RefSpec(kind="bound", name="command"))
    for _ in range(10_000):
        expr = ExprSpec(kind="not", expr=expr)
    trigger = TriggerSpec(capability="os.shell", bind={"command": "command"})
    with pytest.raises(PolicySpecError, match="expression nested deeper than 64 levels"):
        PolicySpec(id="deep", kind="deny", trigger=trigger, condition=expr)
    deep_arg = RequireSpec(capability="fs.read", args={"path": expr})
    with pytest.raises(PolicySpecError) as info:
        PolicySpec(id="deep", kind="before", trigger=trigger, requires=(deep_arg,))
    assert info.value.path.startswith("requires[0].args.path.expr.expr")


def test_b07_deep_example_values_are_a_typed_error() -> None:
    value: Any = 1
    for _ in range(10_000):
        value = [value]
    with pytest.raises(PolicySpecError, match=r"^args\.x(\[0\]){64}: nested deeper than 64"):
        Example(args={"x": value})


# ---------------------------------------------------------------- building values directly


def ref(name: str = "command") -> ExprSpec:
    return ExprSpec(kind="ref", ref=RefSpec(kind="bound", name=name))


TRIGGER = TriggerSpec(capability="os.shell", bind={"command": "command"})
DIRECT: dict[str, tuple[Any, str, str]] = {
    "method-call": (
        lambda: ExprSpec(kind="method_call", method="eq"),
        "receiver",
        "method_call needs a receiver",
    ),
    "receiver-type": (
        lambda: ExprSpec(kind="method_call", receiver="x", method="eq"),  # type: ignore[arg-type]
        "receiver",
        "expected an expression, got string",
    ),
    "args-type": (
        lambda: ExprSpec(kind="method_call", receiver=ref(), method="eq", args="x"),
        "args",
        "expected a list of expressions, got string",
    ),
    "args-item": (
        lambda: ExprSpec(kind="method_call", receiver=ref(), method="eq", args=(1,)),
        "args[0]",
        "expected an expression, got integer",
    ),
    "ref-type": (lambda: ExprSpec(kind="ref", ref="x"), "ref", "ref needs a ref, got string"),  # type: ignore[arg-type]
    "ref-name": (
        lambda: RefSpec(kind="bound", name="1x"),
        "name",
        "name '1x' is not an identifier",
    ),
    "ref-name-type": (lambda: RefSpec(kind="bound", name=1), "name", "name must be a string"),  # type: ignore[arg-type]
    "ref-path-item": (
        lambda: RefSpec(kind="node", name="n", path=(1,)),
        "path[0]",
        "keys are non-empty strings, got 1",
    ),
    "bind-type": (
        lambda: TriggerSpec(capability="x", bind=[("a", "b")]),
        "bind",
        "expected an object, got list",
    ),
    "bind-local": (
        lambda: TriggerSpec(capability="x", bind={"a b": "c"}),
        "bind.a b",
        "local name",
    ),
    "capability-type": (
        lambda: TriggerSpec(capability=1),  # type: ignore[arg-type]
        "capability",
        "expected a dotted capability name like 'os.shell', got 1",
    ),
    "require-arg": (
        lambda: RequireSpec(capability="fs.read", args={"path": "p"}),
        "args.path",
        "expected an expression, got string",
    ),
    "require-arg-missing": (
        lambda: RequireSpec(capability="fs.read", args={"path": None}),
        "args.path",
        "require needs an args.path",
    ),
    "example-args": (lambda: Example(args=[1]), "args", "expected an object, got list"),
    "policy-id": (
        lambda: PolicySpec(id=None, kind="deny", trigger=TRIGGER),  # type: ignore[arg-type]
        "id",
        "expected a non-empty string, got None",
    ),
    "policy-trigger": (
        lambda: PolicySpec(id="p", kind="deny", trigger="x", condition=ref()),  # type: ignore[arg-type]
        "trigger",
        "expected a TriggerSpec",
    ),
    "policy-condition": (
        lambda: PolicySpec(id="p", kind="deny", trigger=TRIGGER, condition="x"),  # type: ignore[arg-type]
        "condition",
        "expected an expression, got string",
    ),
    "policy-requires": (
        lambda: PolicySpec(id="p", kind="before", trigger=TRIGGER, requires="ab"),
        "requires",
        "expected a list, got string",
    ),
    "policy-requires-item": (
        lambda: PolicySpec(id="p", kind="before", trigger=TRIGGER, requires=(1,)),
        "requires[0]",
        "expected RequireSpec, got integer",
    ),
    "policy-match-item": (
        lambda: PolicySpec(id="p", kind="deny", trigger=TRIGGER, condition=ref(), match=({},)),
        "match[0]",
        "expected Example, got object",
    ),
    "ref-path-type": (
        lambda: RefSpec(kind="input", name="a", path="ab"),
        "path",
        "expected a list of keys, got string",
    ),
    "literal-nan": (
        lambda: ExprSpec(kind="literal", type="float", value=float("nan")),
        "value",
        "float literal needs a finite number, got nan",
    ),
}


@pytest.mark.parametrize(("build", "path", "message"), DIRECT.values(), ids=DIRECT.keys())
def test_values_check_themselves(build: Any, path: str, message: str) -> None:
    with pytest.raises(PolicySpecError) as info:
        build()
    assert info.value.path == path
    assert info.value.message.startswith(message)


def test_policy_errors_found_when_building_name_the_policy() -> None:
    with pytest.raises(PolicySpecError) as info:
        PolicySpec(id="p", kind="deny", trigger=TRIGGER, condition=ref("cmd"))
    assert info.value.policy_id == "p"
    assert str(info.value) == f"condition.ref.name: {NOT_BOUND} (policy 'p')"
    with pytest.raises(PolicySpecError) as info:
        ExprSpec(kind="xor")  # type: ignore[arg-type]
    assert str(info.value).startswith("kind: unknown expression kind 'xor'")
    assert PolicySpecError("plain").problems == ((None, "", "plain"),)
    assert str(PolicySpecError("plain")) == "plain"


def test_keywords_are_the_text_forms_reserved_words() -> None:
    assert {"not", "and", "or", "in", "input", "node", "true", "false", "null"} <= KEYWORDS
    for word in KEYWORDS:
        with pytest.raises(PolicySpecError):
            TriggerSpec(capability="x", bind={word: "arg"})


# ---------------------------------------------------------------- the shared converter


def test_the_shared_converter_knows_policies() -> None:
    data = converter.unstructure(write_allowlist)
    assert data == policies_to_data([write_allowlist])[0]
    assert converter.structure(data, PolicySpec) == write_allowlist
    with pytest.raises(PolicySpecError, match=r"^policies\[0\]\.id: required"):
        converter.structure({"kind": "deny"}, PolicySpec)


def test_b07_cyclic_data_is_a_typed_error() -> None:
    data = policy()
    data["condition"] = {"kind": "not", "expr": data}
    with pytest.raises(PolicySpecError, match=r"^policies: nested deeper than 144 levels$"):
        load_policies([data])
