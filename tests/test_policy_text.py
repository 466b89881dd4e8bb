"""The text form of policies: grammar, exact errors, rendering, round trips (SH-11, SH-12)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings

from actrio.policy._compile import compile_policy
from actrio.policy._spec import Example, ExprSpec, PolicySpec, RefSpec, RequireSpec, TriggerSpec
from actrio.policy._text import (
    PolicySyntaxError,
    parse_policies,
    render_policies,
    render_policy,
)
from actrio.testing._policy_strategies import policies, policy_texts
from test_policy_spec import shell_allowlist, write_allowlist


def bound(name: str = "command", *path: str) -> ExprSpec:
    return ExprSpec(kind="ref", ref=RefSpec(kind="bound", name=name, path=path))


def inp(name: str, *path: str) -> ExprSpec:
    return ExprSpec(kind="ref", ref=RefSpec(kind="input", name=name, path=path))


def node(name: str, *path: str) -> ExprSpec:
    return ExprSpec(kind="ref", ref=RefSpec(kind="node", name=name, path=path))


def s(value: str) -> ExprSpec:
    return ExprSpec(kind="literal", type="string", value=value)


def call(receiver: ExprSpec, method: str, *args: ExprSpec) -> ExprSpec:
    return ExprSpec(kind="method_call", receiver=receiver, method=method, args=args)


def lit(type_: str, value: Any = None) -> ExprSpec:
    return ExprSpec(kind="literal", type=type_, value=value)  # type: ignore[arg-type]


def not_(expr: ExprSpec) -> ExprSpec:
    return ExprSpec(kind="not", expr=expr)


def or_(*exprs: ExprSpec) -> ExprSpec:
    return ExprSpec(kind="or", exprs=exprs)


def and_(*exprs: ExprSpec) -> ExprSpec:
    return ExprSpec(kind="and", exprs=exprs)


def condition(text: str, trigger: str = "os.shell(command)") -> ExprSpec:
    """The condition of ``deny <trigger> if <text>``."""
    (spec,) = parse_policies(f"deny {trigger} if {text}")
    assert spec.condition is not None
    return spec.condition


SHELL = TriggerSpec(capability="os.shell", bind={"command": "command"})
WRITE = TriggerSpec(capability="fs.write", bind={"path": "path"})

# ---------------------------------------------------------------- nemoir-runtime's examples


NEMOIR_TEXT = """\
# deny os.shell(command) if not (
#   command.eq("python run.py")
#   or command.starts_with("git commit -m ")
# )
policy shell-allowlist: deny os.shell(command) if not (
  command.eq("python run.py")
  or command.starts_with("git commit -m ")
)

policy write-allowlist: deny fs.write(path) if not path.eq(candidate_path)
"""


def test_nemoir_examples_parse_to_the_reference_specs() -> None:
    assert parse_policies(NEMOIR_TEXT) == (shell_allowlist, write_allowlist)


def test_nemoir_examples_render_to_one_line_each() -> None:
    assert render_policies([shell_allowlist, write_allowlist]) == (
        "policy shell-allowlist: deny os.shell(command) if not "
        '(command.eq("python run.py") or command.starts_with("git commit -m "))\n'
        "policy write-allowlist: deny fs.write(path) if not path.eq(candidate_path)\n"
    )
    assert parse_policies(render_policies([shell_allowlist, write_allowlist])) == (
        shell_allowlist,
        write_allowlist,
    )


def test_the_four_grammar_examples() -> None:
    text = """
deny os.shell(command) if not (command.eq("python run.py") or command.starts_with("git commit -m "))
deny fs.write(path) if not path.eq(candidate_path)
before fs.write(path) requires fs.read(path), user.confirm
before os.shell(command) if command.runs("git") requires user.confirm(message="run git?")
"""
    assert parse_policies(text) == (
        attrs.evolve(shell_allowlist, id="deny-os.shell-1"),
        attrs.evolve(write_allowlist, id="deny-fs.write-1"),
        PolicySpec(
            id="before-fs.write-1",
            kind="before",
            trigger=WRITE,
            requires=(
                RequireSpec(capability="fs.read", args={"path": bound("path")}),
                RequireSpec(capability="user.confirm"),
            ),
        ),
        PolicySpec(
            id="before-os.shell-1",
            kind="before",
            trigger=SHELL,
            condition=call(bound(), "runs", s("git")),
            requires=(RequireSpec(capability="user.confirm", args={"message": s("run git?")}),),
        ),
    )


# ---------------------------------------------------------------- statements


def test_derived_ids_count_per_kind_and_capability_and_skip_taken_ones() -> None:
    text = """
deny os.shell if true
policy deny-os.shell-2: deny os.shell if true
deny os.shell if false
before os.shell requires user.confirm
deny fs.write if true
"""
    ids = [spec.id for spec in parse_policies(text)]
    assert ids == [
        "deny-os.shell-1",
        "deny-os.shell-2",
        "deny-os.shell-3",
        "before-os.shell-1",
        "deny-fs.write-1",
    ]


def test_ids_descriptions_and_empty_triggers() -> None:
    text = """
policy 0.shell_rule-v2: deny os.shell() if true
policy "has space" "Why: \\u00e9 'quoted'": deny os.shell if true
policy 'single': before user.confirm requires user.confirm()
"""
    first, second, third = parse_policies(text)
    assert first.id == "0.shell_rule-v2"
    assert first.trigger == TriggerSpec(capability="os.shell")
    assert (second.id, second.description) == ("has space", "Why: é 'quoted'")
    assert third.id == "single"
    assert third.requires == (RequireSpec(capability="user.confirm"),)


def test_bindings_name_a_local_for_an_argument() -> None:
    (spec,) = parse_policies("deny fs.write(p=path, mode,) if p.eq(mode)")
    assert spec.trigger == TriggerSpec(capability="fs.write", bind={"p": "path", "mode": "mode"})
    assert spec.condition == call(bound("p"), "eq", bound("mode"))


def test_examples_attach_to_the_policy_above() -> None:
    text = """
policy a: deny os.shell(command) if not command.eq("ls")
match os.shell(command="rm -rf /")
# a comment between examples
not_match os.shell(command="ls", extra=[1, 2.5, {"k": null, "t": true}],)

not_match os.shell(command="ls") with workspace="/w", n=-3
policy b: before user.confirm requires user.confirm
match user.confirm
match user.confirm() with a={}
"""
    a, b = parse_policies(text)
    assert a.match == (Example(args={"command": "rm -rf /"}),)
    assert a.not_match == (
        Example(args={"command": "ls", "extra": [1, 2.5, {"k": None, "t": True}]}),
        Example(args={"command": "ls"}, inputs={"workspace": "/w", "n": -3}),
    )
    assert b.match == (Example(args={}), Example(args={}, inputs={"a": {}}))


def test_requirements_take_expressions_and_shorthands() -> None:
    text = (
        "before fs.write(path) requires fs.read(path, mode=input.mode, why=node.plan.reason), "
        'user.confirm(message="write?", default=false,)'
    )
    (spec,) = parse_policies(text)
    assert spec.requires == (
        RequireSpec(
            capability="fs.read",
            args={"path": bound("path"), "mode": inp("mode"), "why": node("plan", "reason")},
        ),
        RequireSpec(
            capability="user.confirm", args={"message": s("write?"), "default": lit("bool", False)}
        ),
    )
    (spec,) = parse_policies("before fs.write(path) requires fs.read(workspace)")
    assert spec.requires[0].args == {"workspace": inp("workspace")}


def test_empty_text_and_comments_give_no_policies() -> None:
    assert parse_policies("") == ()
    assert parse_policies("\n# only a comment\n   \n\t# another\n") == ()


def test_statements_span_lines_inside_brackets_and_crlf_is_fine() -> None:
    text = "deny os.shell(\r\n  command,\r\n) if command in [\r\n  'a',  # why a\r\n  'b',\r\n]\r\n"
    assert condition("command in ['a', 'b']") == parse_policies(text)[0].condition


# ---------------------------------------------------------------- expressions


def test_precedence_is_not_then_and_then_or() -> None:
    a, b, c = (call(bound(), "eq", s(v)) for v in "abc")
    text = 'command.eq("a") or command.eq("b") and not command.eq("c")'
    assert condition(text) == or_(a, and_(b, not_(c)))
    text = 'not command.eq("a") and command.eq("b") or command.eq("c")'
    assert condition(text) == or_(and_(not_(a), b), c)
    assert condition('(command.eq("a") or command.eq("b")) or command.eq("c")') == or_(or_(a, b), c)
    assert condition('command.eq("a") or command.eq("b") or command.eq("c")') == or_(a, b, c)
    assert condition('not not command.eq("a")') == not_(not_(a))


def test_in_lowers_to_or_of_eq_calls() -> None:
    assert condition('command in ["a", "b"]') == or_(
        call(bound(), "eq", s("a")), call(bound(), "eq", s("b"))
    )
    assert condition('command in ["a"]') == call(bound(), "eq", s("a"))
    assert condition('command not in ["a", x]') == not_(
        or_(call(bound(), "eq", s("a")), call(bound(), "eq", inp("x")))
    )
    assert condition('command.in(["a"])') == call(bound(), "in", lit("list", ("a",)))


def test_methods_chain_and_zero_arguments_need_no_parentheses() -> None:
    expected = call(call(bound(), "program"), "eq", s("git"))
    assert condition('command.program().eq("git")') == expected
    assert condition('command.program.eq("git")') == expected
    assert condition("command.is_absolute") == call(bound(), "is_absolute")
    assert condition('"abc".starts_with(command)') == call(s("abc"), "starts_with", bound())
    assert condition("(command == x).eq(true)") == call(
        ExprSpec(kind="compare", op="==", left=bound(), right=inp("x")), "eq", lit("bool", True)
    )


def test_names_resolve_to_bound_input_or_node_refs() -> None:
    assert condition("command") == bound()
    assert condition("workspace") == inp("workspace")
    assert condition("input.command") == inp("command")
    assert condition("input.not") == inp("not")
    assert condition('command["a"]["b c"]') == bound("command", "a", "b c")
    assert condition("node.plan.files") == node("plan", "files")
    assert condition('node.plan.files["x"]') == node("plan", "files", "x")
    assert condition('node.plan["a b"]') == node("plan", "a b")
    assert condition("node.plan") == node("plan")
    assert condition("node.plan.ok()") == call(node("plan"), "ok")
    assert condition('node.plan.files.contains("x")') == call(
        node("plan", "files"), "contains", s("x")
    )


@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparisons(op: str) -> None:
    expected = ExprSpec(kind="compare", op=op, left=bound(), right=lit("int", 3))  # type: ignore[arg-type]
    assert condition(f"command {op} 3") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t"', s('a"b\\c/d\b\f\n\r\t')),
        ("'it\\'s \"fine\"'", s('it\'s "fine"')),
        ('"\\u00e9\\ud83d\\ude00\\ud800x"', s("é😀\ud800x")),
        ('"\\ud800\\u0041"', s("\ud800A")),
        ("0", lit("int", 0)),
        ("-12", lit("int", -12)),
        ("9223372036854775807", lit("int", 2**63 - 1)),
        ("-9223372036854775808", lit("int", -(2**63))),
        ("1.5", lit("float", 1.5)),
        ("-2e3", lit("float", -2000.0)),
        ("1E-2", lit("float", 0.01)),
        ("true", lit("bool", True)),
        ("false", lit("bool", False)),
        ("null", lit("null")),
        ('[1, "a", null, 2.5, false,]', lit("list", (1, "a", None, 2.5, False))),
        ("[]", lit("list", ())),
    ],
)
def test_literals(text: str, expected: ExprSpec) -> None:
    assert condition(f"command.eq({text})") == call(bound(), "eq", expected)


# ---------------------------------------------------------------- errors with exact positions

UNBALANCED = """\
deny os.shell(command) if not (
  command.eq("python run.py")
)  or command.eq(x, (command.starts_with("git")
)
deny fs.write(path) if true
"""

ERRORS: dict[str, tuple[str, int, int, str]] = {
    "unbalanced-paren": (
        UNBALANCED,
        3,
        17,
        '"(" is never closed: expected ")", found "deny" at line 5, column 1',
    ),
    "unclosed-at-end": (
        "deny x if (a",
        1,
        11,
        '"(" is never closed: expected ")", found end of input at line 1, column 13',
    ),
    "unclosed-before-next-statement": (
        "deny x if a.b(\n\nmatch x",
        1,
        14,
        '"(" is never closed: expected ")", found "match" at line 3, column 1',
    ),
    "require-args": (
        "before x(path) requires fs.read(path or x)",
        1,
        38,
        'expected ")" after arguments, found "or"',
    ),
    "trigger-args": (
        "deny x(a b) if true",
        1,
        10,
        'expected ")" after the bound names, found "b"',
    ),
    "paren-expression": ("deny x if (a b)", 1, 14, 'expected ")" after the expression, found "b"'),
    "unterminated-string": ('deny x if "abc', 1, 11, "unterminated string"),
    "newline-in-string": ('deny x if "a\nb"', 1, 11, "unterminated string"),
    "cr-in-string": ("deny x if 'a\rb'", 1, 11, "unterminated string"),
    "control-in-string": ('deny x if "a\x01"', 1, 13, "control character U+0001 in a string"),
    "invalid-escape": ('deny x if "a\\q"', 1, 13, "invalid escape '\\\\q' in a string"),
    "short-unicode-escape": ('deny x if "\\u12"', 1, 12, "\\u needs four hex digits"),
    "bad-unicode-escape": ('deny x if "\\u12G4"', 1, 12, "\\u needs four hex digits"),
    "unexpected-char": ("deny x if a $ b", 1, 13, "unexpected character '$'"),
    "lone-minus": ("deny x if a == -b", 1, 16, "unexpected character '-'"),
    "lone-bang": ("deny x if a ! b", 1, 13, "unexpected character '!'"),
    "invisible-char": ("deny x if a\u202e", 1, 12, "unexpected character '\\u202e'"),
    "int-range": ("deny x if a == 9223372036854775808", 1, 16, "integer out of the 64-bit range"),
    "int-huge": ("deny x if a == 1" + "0" * 5000, 1, 16, "integer out of the 64-bit range"),
    "float-range": ("deny x if a == 1e999", 1, 16, "number out of range"),
    "trailing-garbage": ("deny x if a b", 1, 13, 'expected end of line, found "b"'),
    "trailing-after-example": (
        "deny x if a\nmatch x 3",
        2,
        9,
        "expected end of line, found number 3",
    ),
    "stray-close": ("deny x if a)", 1, 12, 'expected end of line, found ")"'),
    "deny-without-if": (
        "deny os.shell(command)",
        1,
        23,
        'expected "if" after the trigger, found end of input',
    ),
    "before-without-requires": (
        "before x(a)\n",
        1,
        12,
        'expected "if" or "requires" after the trigger, found end of line',
    ),
    "before-condition-without-requires": (
        "before x(a) if a",
        1,
        17,
        'expected "requires" after the condition, found end of input',
    ),
    "unknown-kind": ("allow x if a", 1, 1, 'expected "deny" or "before", found "allow"'),
    "policy-without-id": ("policy : deny x if a", 1, 8, 'expected a policy id after "policy"'),
    "policy-id-unterminated": ('policy "a: deny x if a', 1, 8, "unterminated string"),
    "policy-without-colon": (
        "policy a deny x if a",
        1,
        10,
        'expected ":" after the policy id, found "deny"',
    ),
    "capability-dot": ("deny os.(x) if a", 1, 9, 'expected a name after ".", found "("'),
    "capability-number": (
        "deny 1 if a",
        1,
        6,
        "expected a capability name like os.shell, found number 1",
    ),
    "keyword-binding": (
        "deny x(not) if true",
        1,
        8,
        '"not" is a keyword and cannot be a bound name',
    ),
    "double-binding": ("deny x(a, a=b) if true", 1, 11, '"a" is bound twice'),
    "binding-target": (
        "deny x(a=) if true",
        1,
        10,
        'expected an argument name after "=", found ")"',
    ),
    "string-condition": ('deny x if "yes"', 1, 11, "expected a condition, found a string literal"),
    "int-operand": ("deny x if a and 1", 1, 17, "expected a condition, found an int literal"),
    "list-under-not": ("deny x if not [1]", 1, 15, "expected a condition, found a list literal"),
    "not-without-in": ("deny x if a not b", 1, 17, 'expected "in" after "not", found "b"'),
    "in-without-list": ("deny x if a in b", 1, 16, 'expected "[" after "in", found "b"'),
    "in-empty": ("deny x if a in []", 1, 16, 'expected at least one option in the list after "in"'),
    "in-unclosed-list": (
        "deny x if a in ['a' 'b']",
        1,
        21,
        'expected "]" after the options, found string "b"',
    ),
    "method-name": ("deny x if a.", 1, 13, 'expected a method name after ".", found end of input'),
    "method-args": ("deny x if a.m(b c)", 1, 17, 'expected ")" after arguments, found "c"'),
    "list-item": (
        "deny x if a.eq([b])",
        1,
        17,
        'expected a literal value (list items are literals), found "b"',
    ),
    "list-unclosed": (
        "deny x if a.eq([1 2])",
        1,
        19,
        'expected "]" after list items, found number 2',
    ),
    "input-dot": ("deny x if input", 1, 16, 'expected "." after "input", found end of input'),
    "input-name": (
        "deny x if input.1",
        1,
        17,
        'expected an input name after "input.", found number 1',
    ),
    "node-dot": ("deny x if node", 1, 15, 'expected "." after "node", found end of input'),
    "node-name": (
        "deny x if node.",
        1,
        16,
        'expected a node name after "node.", found end of input',
    ),
    "node-field": (
        "deny x if node.a.",
        1,
        18,
        'expected a field or method name after ".", found end of input',
    ),
    "key-type": ("deny x if a[1]", 1, 13, "expected a non-empty string key, found number 1"),
    "key-empty": ('deny x if a[""]', 1, 13, 'expected a non-empty string key, found string ""'),
    "key-long": (
        f'deny x if a[1] == "{"x" * 40}"',
        1,
        13,
        "expected a non-empty string key, found number 1",
    ),
    "key-unclosed": ('deny x if a["k" b]', 1, 17, 'expected "]" after the key, found "b"'),
    "keyword-expression": ("deny x if requires", 1, 11, 'expected an expression, found "requires"'),
    "close-expression": ("deny x if )", 1, 11, 'expected an expression, found ")"'),
    "long-string-found": (
        'deny x if a.m(b "' + "y" * 40 + '")',
        1,
        17,
        'expected ")" after arguments, found string "' + "y" * 30 + '…"',
    ),
    "keyword-shorthand": ("before x requires a(not)", 1, 21, 'expected an expression, found "not"'),
    "double-parameter": ("before x requires a(p, p=1)", 1, 24, 'parameter "p" is given twice'),
    "parameter-name": (
        "before x requires a(1)",
        1,
        21,
        "expected a parameter name, found number 1",
    ),
    "example-first": ("match x", 1, 1, '"match" must follow a policy'),
    "example-capability": (
        "deny os.shell if true\nnot_match fs.write(path=1)",
        2,
        11,
        'example calls "fs.write" but the policy triggers on "os.shell"',
    ),
    "example-double-arg": ("deny x if true\nmatch x(a=1, a=2)", 2, 14, '"a" is given twice'),
    "example-without-value": (
        "deny x if true\nmatch x(a)",
        2,
        10,
        'expected "=" after "a", found ")"',
    ),
    "example-value": ("deny x if true\nmatch x(a=b)", 2, 11, 'expected a JSON value, found "b"'),
    "example-object-key": (
        "deny x if true\nmatch x(a={1: 2})",
        2,
        12,
        "expected a string key, found number 1",
    ),
    "example-object-colon": (
        'deny x if true\nmatch x(a={"k" 1})',
        2,
        16,
        'expected ":" after the key, found number 1',
    ),
    "example-with": ("deny x if true\nmatch x with", 2, 13, "expected a name, found end of input"),
    "duplicate-id": (
        "policy a: deny x if true\n\npolicy a: deny y if true",
        3,
        8,
        "duplicate policy id 'a' (first at line 1)",
    ),
    "deep-parens": (
        "deny x if " + "(" * 70 + "a" + ")" * 70,
        1,
        75,
        "expression nested deeper than 64 levels",
    ),
    "deep-not": (
        "deny x if " + "not " * 70 + "a",
        1,
        267,
        "expression nested deeper than 64 levels",
    ),
    "deep-chain": ("deny x if a" + ".m" * 70, 1, 140, "expression nested deeper than 64 levels"),
    "deep-example": (
        "deny x if a\nmatch x(a=" + "[" * 70,
        2,
        75,
        "expression nested deeper than 64 levels",
    ),
}


@pytest.mark.parametrize(("text", "line", "column", "message"), ERRORS.values(), ids=ERRORS.keys())
def test_syntax_errors_say_where_and_what(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(PolicySyntaxError) as info:
        parse_policies(text, source="rules.policy")
    error = info.value
    assert (error.line, error.column, error.message) == (line, column, message)
    assert error.source == "rules.policy"
    lines = text.split("\n")
    assert error.line_text == lines[line - 1].rstrip("\r")


def test_error_text_shows_the_line_and_a_caret() -> None:
    with pytest.raises(PolicySyntaxError) as info:
        parse_policies('deny x(a)\tif a.eq("b" "c")')
    assert str(info.value) == (
        '<policies>:1:23: expected ")" after arguments, found string "c"\n'
        '    deny x(a)\tif a.eq("b" "c")\n'
        "    " + " " * 9 + "\t" + " " * 12 + "^"
    )


def test_error_text_of_a_long_line_is_a_window_with_unprintables_replaced() -> None:
    text = "deny x if " + "a or " * 100 + "\x7f"
    with pytest.raises(PolicySyntaxError) as info:
        parse_policies(text)
    error = info.value
    assert error.column == len(text)
    _, shown, caret = str(error).split("\n")
    assert shown.startswith("    …")
    assert shown.endswith("\ufffd")
    assert len(shown) == 4 + 1 + 120
    assert caret.index("^") == shown.index("\ufffd")
    with pytest.raises(PolicySyntaxError) as info:
        parse_policies("deny x if $" + " a" * 200)
    _, shown, caret = str(info.value).split("\n")
    assert shown.startswith("    deny x if $")
    assert shown.endswith("…")
    assert caret == "    " + " " * 10 + "^"


def test_an_expression_too_deep_for_the_spec_is_reported_at_the_statement() -> None:
    """Few parentheses but many nodes: the spec's depth check, located at the statement."""
    inner = "a"
    for _ in range(30):
        inner = f"(a or b and ({inner}) == 1)"
    with pytest.raises(PolicySyntaxError) as info:
        parse_policies(f"\n  deny x if {inner}")
    assert (info.value.line, info.value.column) == (2, 3)
    assert info.value.message.endswith(": expression nested deeper than 64 levels")
    assert info.value.message.startswith("condition.exprs[1].exprs[1]")


def test_parse_takes_only_text() -> None:
    with pytest.raises(TypeError, match="takes a str, not bytes"):
        parse_policies(b"deny x if a")  # type: ignore[arg-type]


def test_b07_long_inputs_parse_in_linear_time() -> None:
    """A 20 000-way allowlist and a 1 MB string: no recursion, no quadratic work."""
    options = " or ".join(f'command.eq("c{i}")' for i in range(20_000))
    (spec,) = parse_policies(f"deny os.shell(command) if not ({options})")
    assert spec.condition is not None
    assert spec.condition.expr is not None
    assert len(spec.condition.expr.exprs) == 20_000
    big = "x" * 1_000_000
    (spec,) = parse_policies(f'deny os.shell(command) if command.eq("{big}")')
    assert spec.condition == call(bound(), "eq", s(big))


# ---------------------------------------------------------------- rendering


def test_render_escapes_what_would_not_show() -> None:
    spec = PolicySpec(
        id="a b",
        kind="deny",
        trigger=SHELL,
        condition=call(bound(), "eq", s('x\u202ey\u200b"\n\U000e0041\U0001f600')),
        description='say "hi"',
    )
    text = render_policy(spec)
    assert text == (
        'policy "a b" "say \\"hi\\"": deny os.shell(command) if '
        'command.eq("x\\u202ey\\u200b\\"\\n\\udb40\\udc41\U0001f600")'
    )
    assert parse_policies(text) == (spec,)


def test_render_writes_refs_so_they_resolve_back() -> None:
    trigger = TriggerSpec(capability="fs.write", bind={"p": "path", "command": "command"})
    spec = PolicySpec(
        id="refs",
        kind="before",
        trigger=trigger,
        condition=and_(
            call(inp("command"), "eq", inp("not")),
            call(node("plan", "files", "a b"), "eq", node("plan", "1x")),
            call(node("plan"), "ok"),
            ExprSpec(kind="compare", op="<", left=bound("p", "k"), right=lit("float", 1e16)),
        ),
        requires=(
            RequireSpec(
                capability="fs.read",
                args={
                    "p": bound("p"),
                    "command": inp("command"),
                    "workspace": inp("workspace"),
                    "not": inp("not"),
                    "q": bound("p", "x"),
                },
            ),
        ),
        match=(Example(args={"path": "/w/a"}, inputs={"candidate_path": "/w/a"}),),
        not_match=(Example(args={}),),
    )
    assert render_policy(spec) == (
        "policy refs: before fs.write(p=path, command) if input.command.eq(input.not) and "
        'node.plan.files["a b"].eq(node.plan["1x"]) and node.plan.ok() and p["k"] < 1e+16 '
        'requires fs.read(p, command=input.command, workspace, not=input.not, q=p["x"])\n'
        'match fs.write(path="/w/a") with candidate_path="/w/a"\n'
        "not_match fs.write"
    )
    assert parse_policies(render_policy(spec)) == (spec,)


def test_render_parenthesises_by_precedence() -> None:
    a, b, c = (call(bound(), "eq", s(v)) for v in "abc")
    cases = {
        'command.eq("a") or command.eq("b") and command.eq("c")': or_(a, and_(b, c)),
        '(command.eq("a") or command.eq("b")) and command.eq("c")': and_(or_(a, b), c),
        '(command.eq("a") or command.eq("b")) or command.eq("c")': or_(or_(a, b), c),
        'not (command.eq("a") and command.eq("b"))': not_(and_(a, b)),
        'not (command == "a")': not_(ExprSpec(kind="compare", op="==", left=bound(), right=s("a"))),
        '(command.eq("a") or false).eq(true)': call(
            or_(a, lit("bool", False)), "eq", lit("bool", True)
        ),
        "(not true) == (1 == 2)": ExprSpec(
            kind="compare",
            op="==",
            left=not_(lit("bool", True)),
            right=ExprSpec(kind="compare", op="==", left=lit("int", 1), right=lit("int", 2)),
        ),
    }
    for text, expr in cases.items():
        spec = PolicySpec(id="p", kind="deny", trigger=SHELL, condition=expr)
        assert render_policy(spec) == f"policy p: deny os.shell(command) if {text}"
        assert parse_policies(render_policy(spec)) == (spec,)


def test_an_in_node_renders_as_sugar_that_parses_to_its_lowering() -> None:
    expr = ExprSpec(kind="in", left=bound(), options=(s("a"), inp("b")))
    spec = PolicySpec(id="p", kind="deny", trigger=SHELL, condition=expr)
    text = render_policy(spec)
    assert text == 'policy p: deny os.shell(command) if command in ["a", b]'
    lowered = or_(call(bound(), "eq", s("a")), call(bound(), "eq", inp("b")))
    assert parse_policies(text) == (attrs.evolve(spec, condition=lowered),)
    not_in = attrs.evolve(spec, condition=not_(expr))
    assert render_policy(not_in).endswith('if not (command in ["a", b])')


# ---------------------------------------------------------------- properties


@settings(max_examples=120)
@given(spec=policies())
def test_parse_of_render_is_identity(spec: PolicySpec) -> None:
    """Property: parse(render(spec)) == spec for every construct the text form writes."""
    assert parse_policies(render_policy(spec)) == (spec,)


@settings(max_examples=60)
@given(text=policy_texts())
def test_render_of_parse_is_stable(text: str) -> None:
    """Property: valid text parses, and rendering what it parsed to is a fixed point."""
    specs = parse_policies(text)
    rendered = render_policies(specs)
    assert parse_policies(rendered) == specs
    assert render_policies(parse_policies(rendered)) == rendered


def test_the_deepest_allowed_nesting_works_end_to_end() -> None:
    """63 ``not`` over a ref is 64 levels: parsed, rendered, compiled, evaluated (B-07)."""
    text = "policy deep: deny x(flag) if " + "not " * 63 + "flag"
    (spec,) = parse_policies(text)
    assert render_policy(spec) == text
    compiled = compile_policy(spec)
    assert compiled.condition({"flag": True}, {}) is False
    assert compiled.condition({"flag": False}, {}) is True
    with pytest.raises(PolicySyntaxError, match="nested deeper than 64"):
        parse_policies("deny x(flag) if " + "not " * 64 + "flag")
