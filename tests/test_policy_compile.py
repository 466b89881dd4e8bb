"""Compiled policies: dispatch, fail-closed errors, boolean laws, examples (SH-11/12/13)."""

from __future__ import annotations

import operator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.policy._compile import (
    CompiledPolicy,
    ExampleCase,
    PolicyEvaluationError,
    PolicyExampleError,
    Requirement,
    bind_by_name,
    check_examples,
    compile_policy,
)
from actrio.policy._spec import (
    Example,
    ExprSpec,
    PolicySpec,
    PolicySpecError,
    RefSpec,
    TriggerSpec,
)
from actrio.policy._text import parse_policies
from actrio.testing._policy_strategies import DEFAULT_VALUES, bindings, expressions
from test_policy_spec import shell_allowlist, write_allowlist

# ---------------------------------------------------------------- fake receivers


class Command:
    """A stand-in for a shell command value with policy methods."""

    POLICY_METHODS = frozenset({"program", "runs", "eq", "boom", "maybe"})

    def __init__(self, *argv: str) -> None:
        self.argv = argv

    def program(self) -> str:
        return self.argv[0]

    def runs(self, name: str) -> bool:
        return self.argv[0] == name

    def eq(self, other: object) -> bool:
        return other == " ".join(self.argv)

    def boom(self) -> bool:
        raise RuntimeError("kaput")

    def maybe(self) -> str:
        return "yes"

    def secret(self) -> bool:
        return True


class Leaf:
    """Answers ``check()`` with a fixed result (or raises), counting the calls."""

    POLICY_METHODS = frozenset({"check"})

    def __init__(self, result: bool | str) -> None:
        self.result = result
        self.calls = 0

    def check(self) -> bool:
        self.calls += 1
        if self.result == "error":
            raise ValueError("leaf failed")
        assert isinstance(self.result, bool)
        return self.result


class Loose:
    """Lists its policy methods in a set, not a frozenset: not accepted."""

    POLICY_METHODS = {"check"}  # noqa: RUF012 - wrong on purpose

    def check(self) -> bool:
        return True


@attrs.frozen
class Version:
    """Compares with a custom ``==`` that may misbehave."""

    value: Any

    def __eq__(self, other: object) -> Any:
        if self.value == "raise":
            raise ValueError("cannot compare")
        if self.value == "weird":
            return "maybe"
        return isinstance(other, Version) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


class Text(str):
    """A str subclass without policy methods: the str methods still apply."""

    __slots__ = ()


def policy_with(text: str) -> CompiledPolicy:
    (spec,) = parse_policies(text)
    return compile_policy(spec)


def holds(text: str, inputs: dict[str, Any] | None = None, **bound: Any) -> bool:
    """Evaluate ``deny x(<bound names>) if <text>``."""
    names = ", ".join(bound)
    compiled = policy_with(f"deny x({names}) if {text}")
    return compiled.condition(bound, inputs or {})


def error_of(
    text: str, inputs: dict[str, Any] | None = None, **bound: Any
) -> PolicyEvaluationError:
    with pytest.raises(PolicyEvaluationError) as info:
        holds(text, inputs, **bound)
    return info.value


# ---------------------------------------------------------------- nemoir-runtime's examples


@pytest.mark.parametrize(
    ("command", "denied"),
    [
        ("python run.py", False),
        ("git commit -m 'fix'", False),
        ("git commit -m ", False),
        ("git push", True),
        ("python run.py ", True),
        ("", True),
    ],
)
def test_the_shell_allowlist(command: str, denied: bool) -> None:
    compiled = compile_policy(shell_allowlist)
    assert compiled.applies("os.shell")
    assert not compiled.applies("fs.write")
    assert compiled.condition({"command": command}, {}) is denied


def test_the_write_allowlist_reads_an_input() -> None:
    compiled = compile_policy(write_allowlist)
    assert compiled.condition({"path": "/w/a"}, {"candidate_path": "/w/a"}) is False
    assert compiled.condition({"path": "/w/b"}, {"candidate_path": "/w/a"}) is True
    with pytest.raises(PolicyEvaluationError) as info:
        compiled.condition({"path": "/w/a"}, {})
    error = info.value
    assert (error.policy_id, error.path) == ("write-allowlist", "condition.expr.args[0]")
    assert error.message == "input 'candidate_path' is missing"
    assert str(error) == (
        "policy 'write-allowlist': condition.expr.args[0]: input 'candidate_path' is missing"
    )


def test_compiled_policy_surface() -> None:
    compiled = compile_policy(shell_allowlist)
    assert compiled.id == "shell-allowlist"
    assert compiled.kind == "deny"
    assert compiled.spec is shell_allowlist
    assert repr(compiled).startswith("CompiledPolicy(spec=PolicySpec(id='shell-allowlist'")
    assert "holds" not in repr(compiled)
    with pytest.raises(TypeError, match="takes a PolicySpec, not dict"):
        compile_policy({})  # type: ignore[arg-type]


# ---------------------------------------------------------------- str methods


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('c.eq("git status")', True),
        ('c.eq("git")', False),
        ('c.starts_with("git ")', True),
        ('c.starts_with("status")', False),
        ('c.ends_with("status")', True),
        ('c.ends_with("git")', False),
        ('c.contains("t s")', True),
        ('c.contains("ts")', False),
        ('c.in(["a", "git status"])', True),
        ('c.in(["a"])', False),
        ('c in ["a", "git status"]', True),
        ('c not in ["a", "git status"]', False),
        ("c.eq(other)", False),
        ("c.in(allowed)", True),
        ("c.eq(c)", True),
    ],
)
def test_str_methods(text: str, expected: bool) -> None:
    inputs = {"other": "x", "allowed": ["git status"]}
    assert holds(text, inputs, c="git status") is expected
    # a str subclass has no POLICY_METHODS: the same built-ins apply, through the slow path
    assert holds(text, inputs, c=Text("git status")) is expected


STR_METHODS = "it has contains, ends_with, eq, in, starts_with"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("c.eq(1)", "str.eq needs a string argument, got int"),
        ("c.starts_with(n)", "str.starts_with needs a string argument, got null"),
        ("c.in(other)", "str.in needs a list of strings, got str"),
        ("c.in(mixed)", "str.in needs a string argument, got int"),
        ('c.in(["a", 1])', "str.in needs a string argument, got int"),
        ('c.starts_with("a", "b")', "str.starts_with takes 1 argument, got 2"),
        ("c.eq", "str.eq takes 1 argument, got 0"),
        ("c.explode", f"str has no policy method 'explode' ({STR_METHODS})"),
        ('c.explode("x")', f"str has no policy method 'explode' ({STR_METHODS})"),
    ],
)
def test_str_methods_reject_bad_calls(text: str, message: str) -> None:
    inputs = {"other": "x", "mixed": ["a", 2], "n": None}
    for value in ("git", Text("git")):
        error = error_of(text, inputs, c=value)
        assert error.message == message
        assert error.path == "condition"


# ---------------------------------------------------------------- other receivers


def test_policy_methods_of_other_receivers() -> None:
    git = Command("git", "status")
    assert holds('c.runs("git")', c=git) is True
    assert holds('c.program().eq("git")', c=git) is True
    assert holds('c.program.starts_with("gi")', c=git) is True
    assert holds('c.eq("git status")', c=git) is True  # the fast path hands objects on
    assert holds('c.eq("ls")', c=git) is False
    assert holds('c in ["ls", "git status"]', c=git) is True


@pytest.mark.parametrize(
    ("text", "value", "message"),
    [
        ("c.secret()", Command("ls"), "Command has no policy method 'secret'"),
        ("c.boom()", Command("ls"), "Command.boom raised RuntimeError: kaput"),
        ("c.maybe()", Command("ls"), "Command.maybe gave str, not a bool"),
        ('c.runs("a", "b")', Command("ls"), "Command.runs raised TypeError: "),
        ("c.check()", Loose(), "Loose has no policy method 'check'"),
        ('c.eq("1")', 1, "int has no policy method 'eq'"),
        ('c.eq("1")', None, "null has no policy method 'eq'"),
        ('c.starts_with("1")', ["1"], "list has no policy method 'starts_with'"),
    ],
)
def test_other_receivers_fail_closed(text: str, value: object, message: str) -> None:
    error = error_of(text, c=value)
    assert error.message.startswith(message)
    assert error.path == "condition"


def test_a_raising_method_is_chained_as_the_cause() -> None:
    error = error_of("c.boom()", c=Command("ls"))
    assert isinstance(error.__cause__, RuntimeError)


def test_short_circuit_never_calls_the_second_operand() -> None:
    """``and``/``or`` stop at the deciding operand (nemoir-runtime: they short-circuit)."""
    for text, first in [("a.check() or b.check()", True), ("a.check() and b.check()", False)]:
        a, b = Leaf(first), Leaf("error")
        assert holds(text, a=a, b=b) is first
        assert (a.calls, b.calls) == (1, 0)
    a, b, c = Leaf(False), Leaf(True), Leaf("error")
    assert holds("a.check() or b.check() or c.check()", a=a, b=b, c=c) is True
    assert (a.calls, b.calls, c.calls) == (1, 1, 0)
    a, b, c = Leaf(True), Leaf(False), Leaf("error")
    assert holds("a.check() and b.check() and c.check()", a=a, b=b, c=c) is False
    assert (a.calls, b.calls, c.calls) == (1, 1, 0)


def test_in_stops_at_the_first_equal_option() -> None:
    assert holds('c in ["a", "b", n]', {"n": 1}, c="a") is True
    error = error_of('c in ["a", "b", n]', {"n": 1}, c="z")
    assert error.message == "str.eq needs a string argument, got int"
    in_node = ExprSpec(
        kind="in",
        left=ExprSpec(kind="ref", ref=_ref("c")),
        options=(_lit("a"), _input("n")),
    )
    compiled = _compile(in_node, "c")
    assert compiled.condition({"c": "a"}, {}) is True
    assert compiled.condition({"c": Command("b")}, {"n": "b"}) is True
    assert compiled.condition({"c": "b"}, {"n": "c"}) is False
    with pytest.raises(PolicyEvaluationError) as info:
        compiled.condition({"c": "b"}, {})
    assert info.value.path == "condition.options[1]"


# ---------------------------------------------------------------- conditions are bools


def test_a_condition_must_be_a_bool_not_truthy() -> None:
    assert holds("flag", flag=True) is True
    assert holds("not flag", flag=True) is False
    assert holds("flag or other", flag=False, other=True) is True
    for value in ("yes", 1, None, [True]):
        error = error_of("flag", flag=value)
        assert error.message.startswith("a condition must be a bool, got ")
    assert error_of("not flag", flag=1).path == "condition.expr"
    assert error_of("a.eq(b) and flag", flag="x", a="1", b="1").path == "condition.exprs[1]"
    assert holds("true") is True
    assert holds("not true") is False


def test_a_before_policy_without_condition_always_applies() -> None:
    compiled = policy_with("before fs.write(path) requires fs.read(path), user.confirm")
    assert compiled.condition({}, {}) is True
    assert compiled.kind == "before"


# ---------------------------------------------------------------- references


def test_references_read_bound_inputs_and_node_outputs() -> None:
    outputs = {"plan": {"files": {"main": "a.py"}, "ok": True}}
    compiled = policy_with('deny x(a) if node.plan.files["main"].eq(a) and node.plan["ok"]')
    assert compiled.condition({"a": "a.py"}, {}, outputs) is True
    assert compiled.condition({"a": "b.py"}, {}, outputs) is False
    assert holds('a["k"].eq("v")', a={"k": "v"}) is True
    assert holds('input.a["k"].eq("v")', {"a": {"k": "w"}}, a="x") is False


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "output of node 'plan' is missing"),
        ({"plan": {}}, "key 'files' is missing"),
        ({"plan": ["a"]}, "cannot read key 'files' of list"),
        ({"plan": {"files": "a.py"}}, "cannot read key 'main' of str"),
    ],
)
def test_missing_references_are_errors(outputs: dict[str, Any], message: str) -> None:
    compiled = policy_with('deny x(a) if node.plan.files["main"].eq(a)')
    with pytest.raises(PolicyEvaluationError) as info:
        compiled.condition({"a": "a.py"}, {}, outputs)
    assert (info.value.path, info.value.message) == ("condition.receiver", message)
    with pytest.raises(PolicyEvaluationError) as info:
        compiled.condition({}, {}, {"plan": {"files": {"main": "a"}}})
    assert info.value.message == "bound argument 'a' is missing"


def test_anything_unexpected_while_evaluating_is_an_evaluation_error() -> None:
    class Broken(dict[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise RuntimeError("storage offline")

    compiled = policy_with('deny x(a) if a.eq("x")')
    with pytest.raises(PolicyEvaluationError) as info:
        compiled.condition(Broken(), {})
    assert (info.value.path, info.value.message) == ("condition", "RuntimeError: storage offline")
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(PolicyEvaluationError, match="TypeError"):
        compiled.condition(None, {})  # type: ignore[arg-type]


# ---------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 == 1.0", True),
        ("2 > 1.5", True),
        ("1 >= 2", False),
        ('"a" < "b"', True),
        ('"b" <= "a"', False),
        ("true == true", True),
        ("true != false", True),
        ("null == null", True),
        ('[1, "a"] == list', True),
        ("[1] != list", True),
        ("v == w", True),
        ("v == x", False),
    ],
)
def test_comparisons_within_a_family(text: str, expected: bool) -> None:
    inputs = {"list": [1, "a"], "v": Version(1), "w": Version(1), "x": Version(2)}
    assert holds(text, inputs) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('1 == "1"', "cannot compare int == str"),
        ("true == 1", "cannot compare bool == int"),
        ("null != 0", "cannot compare null != int"),
        ("v == 1", "cannot compare Version == int"),
        ("true < false", "< orders strings and numbers, not bool"),
        ("[1] < [2]", "< orders strings and numbers, not tuple"),
        ("null >= null", ">= orders strings and numbers, not null"),
        ("bad == v", "== raised ValueError: cannot compare"),
        ("weird == v", "== gave str, not a bool"),
    ],
)
def test_comparisons_across_families_are_errors(text: str, message: str) -> None:
    inputs = {"v": Version(1), "bad": Version("raise"), "weird": Version("weird")}
    error = error_of(text, inputs)
    assert (error.path, error.message) == ("condition", message)


# ---------------------------------------------------------------- requirements


def test_requirements_are_evaluated() -> None:
    compiled = policy_with(
        'before fs.write(path) requires fs.read(path), user.confirm(message="write?", to=node.n.x)'
    )
    assert compiled.requirements({"path": "/w/a"}, {}, {"n": {"x": 1}}) == (
        Requirement(capability="fs.read", args={"path": "/w/a"}, by_name=False),
        Requirement(capability="user.confirm", args={"message": "write?", "to": 1}, by_name=False),
    )
    with pytest.raises(PolicyEvaluationError) as info:
        compiled.requirements({"path": "/w/a"}, {})
    assert (info.value.path, info.value.message) == (
        "requires[1].args.to",
        "output of node 'n' is missing",
    )
    bare = policy_with("before fs.write(path) requires user.confirm")
    assert bare.requirements({"path": "/w"}, {}) == (
        Requirement(capability="user.confirm", args={}, by_name=True),
    )


# ---------------------------------------------------------------- examples (SH-12)

EXAMPLES = """
policy shell: deny os.shell(command) if not command in ["python run.py", "git status"]
match os.shell(command="rm -rf /")
not_match os.shell(command="git status")
not_match os.shell(command="python run.py")
"""


def test_examples_are_listed_match_first() -> None:
    compiled = policy_with(EXAMPLES)
    cases = compiled.examples()
    assert [(c.which, c.index, c.expected) for c in cases] == [
        ("match", 0, True),
        ("not_match", 0, False),
        ("not_match", 1, False),
    ]
    assert cases[0] == ExampleCase(
        which="match", index=0, example=Example(args={"command": "rm -rf /"})
    )


def test_sh12_passing_examples_check_cleanly() -> None:
    check_examples(policy_with(EXAMPLES))
    check_examples(compile_policy(shell_allowlist))  # no examples: nothing to do


@pytest.mark.parametrize(
    ("line", "path", "expected", "got", "message"),
    [
        (
            'match os.shell(command="git status")',
            "match[1]",
            "match",
            "not_match",
            "expected match, got not_match for args {'command': 'git status'}",
        ),
        (
            'not_match os.shell(command="ls")',
            "not_match[2]",
            "not_match",
            "match",
            "expected not_match, got match for args {'command': 'ls'}",
        ),
        (
            "not_match os.shell(command=1)",
            "not_match[2]",
            "not_match",
            "error",
            "expected not_match, got error (condition.expr.exprs[0]: int has no policy method "
            "'eq') for args {'command': 1}",
        ),
        (
            "match os.shell(cmd=1)",
            "match[1]",
            "match",
            "error",
            "expected match, got error (cannot bind: the example has no argument 'command') "
            "for args {'cmd': 1}",
        ),
    ],
)
def test_sh12_a_failing_example_names_policy_example_and_outcome(
    line: str, path: str, expected: str, got: str, message: str
) -> None:
    with pytest.raises(PolicyExampleError) as info:
        check_examples(policy_with(EXAMPLES + line))
    error = info.value
    assert isinstance(error, PolicySpecError)
    assert (error.policy_id, error.path, error.expected, error.got) == (
        "shell",
        path,
        expected,
        got,
    )
    assert error.message == message
    assert str(error) == f"{path}: {message} (policy 'shell')"
    assert error.example.args == dict(error.example.args)


def test_sh12_examples_bind_through_the_engines_binder() -> None:
    compiled = policy_with(
        'deny os.shell(command) if not command.runs("git")\n'
        'match os.shell(command="ls -l")\n'
        'not_match os.shell(command="git status")'
    )
    with pytest.raises(PolicyExampleError, match="got error"):
        check_examples(compiled)  # plain strings have no .runs()

    def as_command(example: Example) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"command": Command(*example.args["command"].split())}, dict(example.inputs)

    check_examples(compiled, as_command)

    def refuses(example: Example) -> tuple[dict[str, Any], dict[str, Any]]:
        raise ValueError("not a command")

    with pytest.raises(PolicyExampleError, match=r"cannot bind: not a command"):
        check_examples(compiled, refuses)


def test_bind_by_name_follows_the_trigger() -> None:
    trigger = TriggerSpec(capability="fs.write", bind={"p": "path"})
    example = Example(args={"path": "/w/a", "mode": "w"}, inputs={"workspace": "/w"})
    assert bind_by_name(trigger, example) == ({"p": "/w/a"}, {"workspace": "/w"})
    with pytest.raises(LookupError):
        bind_by_name(trigger, Example(args={}))


# ---------------------------------------------------------------- properties (SH-11, SH-13)

NAMES = ("a", "b")


def _ref(name: str) -> RefSpec:
    return RefSpec(kind="bound", name=name)


def _lit(value: str) -> ExprSpec:
    return ExprSpec(kind="literal", type="string", value=value)


def _input(name: str) -> ExprSpec:
    return ExprSpec(kind="ref", ref=RefSpec(kind="input", name=name))


def _compile(condition: ExprSpec, *names: str) -> CompiledPolicy:
    trigger = TriggerSpec(capability="x", bind={n: n for n in names or NAMES})
    return compile_policy(PolicySpec(id="p", kind="deny", trigger=trigger, condition=condition))


def outcome(condition: ExprSpec, bound: dict[str, Any]) -> bool | str:
    try:
        return _compile(condition, *bound).condition(bound, {})
    except PolicyEvaluationError:
        return "error"


def eager(expr: ExprSpec, bound: dict[str, Any]) -> Any:  # noqa: PLR0911 - a return per kind
    """A reference evaluator without short-circuit (every operand evaluated)."""
    sub = [eager(e, bound) for e in (*expr.exprs, *expr.args, *expr.options)]
    match expr.kind:
        case "literal":
            return expr.value
        case "ref":
            assert expr.ref is not None
            return bound[expr.ref.name]
        case "not":
            assert expr.expr is not None
            return not eager(expr.expr, bound)
        case "and":
            return all(sub)
        case "or":
            return any(sub)
        case "compare":
            assert expr.left is not None
            assert expr.right is not None
            ops = {"==": operator.eq, "!=": operator.ne, "<": operator.lt}
            ops |= {"<=": operator.le, ">": operator.gt, ">=": operator.ge}
            return ops[str(expr.op)](eager(expr.left, bound), eager(expr.right, bound))
        case "in":
            assert expr.left is not None
            return eager(expr.left, bound) in sub
        case _:
            assert expr.receiver is not None
            receiver, (arg,) = eager(expr.receiver, bound), sub
            tests = {"eq": receiver.__eq__, "starts_with": receiver.startswith}
            tests |= {"ends_with": receiver.endswith, "contains": receiver.__contains__}
            tests |= {"in": lambda options: receiver in options}
            return tests[str(expr.method)](arg)


def neg(expr: ExprSpec) -> ExprSpec:
    return ExprSpec(kind="not", expr=expr)


@settings(max_examples=150)
@given(
    a=expressions(NAMES, errors=True, sugar=True, max_leaves=4),
    b=expressions(NAMES, errors=True, sugar=True, max_leaves=4),
    bound=bindings(NAMES),
)
def test_sh11_de_morgan_holds_errors_included(
    a: ExprSpec, b: ExprSpec, bound: dict[str, str]
) -> None:
    """not (a and b) == (not a) or (not b); not (a or b) == (not a) and (not b)."""
    both = (a, b)
    assert outcome(neg(ExprSpec(kind="and", exprs=both)), bound) == outcome(
        ExprSpec(kind="or", exprs=(neg(a), neg(b))), bound
    )
    assert outcome(neg(ExprSpec(kind="or", exprs=both)), bound) == outcome(
        ExprSpec(kind="and", exprs=(neg(a), neg(b))), bound
    )


@settings(max_examples=150)
@given(expr=expressions(NAMES, sugar=True, max_leaves=10), bound=bindings(NAMES))
def test_sh11_short_circuit_never_changes_an_error_free_result(
    expr: ExprSpec, bound: dict[str, str]
) -> None:
    assert outcome(expr, bound) == eager(expr, bound)


@settings(max_examples=100)
@given(
    kind=st.sampled_from(["and", "or"]),
    results=st.lists(st.sampled_from([True, False, "error"]), min_size=2, max_size=5),
)
def test_sh13_an_evaluated_failing_operand_fails_the_whole(kind: str, results: list[Any]) -> None:
    """The documented rule: the first operand that is not neutral decides.

    Operands run left to right; ``False`` is neutral for ``or`` and ``True``
    for ``and``. The first non-neutral one decides: its value, or an error
    if it failed. Nothing after it runs. All neutral: the neutral value.
    """
    names = tuple(f"o{k}" for k in range(len(results)))
    leaves = {name: Leaf(result) for name, result in zip(names, results, strict=True)}
    calls = tuple(
        ExprSpec(kind="method_call", receiver=ExprSpec(kind="ref", ref=_ref(n)), method="check")
        for n in names
    )
    compiled = _compile(ExprSpec(kind=kind, exprs=calls), *names)  # type: ignore[arg-type]
    neutral = kind == "and"
    deciding = next((k for k, r in enumerate(results) if r != neutral), None)
    try:
        got: Any = compiled.condition(leaves, {})
    except PolicyEvaluationError as exc:
        got, where = "error", exc.path
    else:
        where = ""
    assert where == (f"condition.exprs[{deciding}]" if got == "error" else "")
    assert got == (neutral if deciding is None else results[deciding])
    last = len(results) - 1 if deciding is None else deciding
    assert [leaves[n].calls for n in names] == [int(k <= last) for k in range(len(names))]


@settings(max_examples=150)
@given(
    allowed=st.lists(expressions(NAMES, max_leaves=4), min_size=1, max_size=3),
    extra=expressions(NAMES, errors=True, max_leaves=4),
    bound=bindings(NAMES),
)
def test_sh11_adding_an_allow_clause_never_denies_an_allowed_call(
    allowed: list[ExprSpec], extra: ExprSpec, bound: dict[str, str]
) -> None:
    """deny if not (A or B) -> deny if not (A or B or C): allowed calls stay allowed."""

    def allowlist(clauses: list[ExprSpec]) -> ExprSpec:
        inner = clauses[0] if len(clauses) == 1 else ExprSpec(kind="or", exprs=tuple(clauses))
        return neg(inner)

    before = outcome(allowlist(allowed), bound)
    after = outcome(allowlist([*allowed, extra]), bound)
    if before is False:  # allowed, without error
        assert after is False
    if after is True:  # denied now, without error: it was denied before too
        assert before is True


@settings(max_examples=60)
@given(bound=bindings(("command",), (*DEFAULT_VALUES, "git commit -m x", "python run.py ")))
def test_the_compiled_allowlist_agrees_with_the_reference_evaluator(bound: dict[str, str]) -> None:
    assert shell_allowlist.condition is not None
    assert outcome(shell_allowlist.condition, bound) == eager(shell_allowlist.condition, bound)


def test_examples_in_a_policy_spec_error_path() -> None:
    """A PolicyExampleError is a PolicySpecError: a loader catching one catches both."""
    error = PolicyExampleError(
        "m", policy_id="p", path="match[0]", expected="match", got="error", example=Example(args={})
    )
    assert isinstance(error, ValueError)
    assert error.problems == (("p", "match[0]", "m"),)
