r"""The text form of policies: a parser with line/column errors, and a renderer.

Example::

    # only two shell commands
    policy shell-allowlist: deny os.shell(command) if not (
        command.eq("python run.py") or command.starts_with("git commit -m ")
    )
    match os.shell(command="python run.py")
    not_match os.shell(command="rm -rf /")

    deny fs.write(path) if not path.eq(candidate_path)
    match fs.write(path="/w/a.txt") with candidate_path="/w/b.txt"
    before fs.write(path) requires fs.read(path), user.confirm
    before os.shell(command) if command.runs("git") requires user.confirm(message="run git?")

Grammar (EBNF)::

    file        = { [ statement ] NEWLINE } ;
    statement   = policy | example ;
    policy      = [ "policy" policy_id [ STRING ] ":" ] ( deny | before ) ;
    deny        = "deny" trigger "if" expr ;
    before      = "before" trigger [ "if" expr ] "requires" require { "," require } ;
    trigger     = capability [ "(" [ binding { "," binding } [ "," ] ] ")" ] ;
    binding     = NAME [ "=" NAME ] ;                 (* local name [= argument] *)
    require     = capability [ "(" [ req_arg { "," req_arg } [ "," ] ] ")" ] ;
    req_arg     = NAME [ "=" expr ] ;                 (* "path" means "path=path" *)
    example     = ( "match" | "not_match" ) capability [ "(" [ pairs ] ")" ]
                  [ "with" pairs ] ;                  (* args, then run inputs *)
    pairs       = NAME "=" json { "," NAME "=" json } [ "," ] ;
    json        = scalar | "[" [ json { "," json } [ "," ] ] "]"
                | "{" [ STRING ":" json { "," STRING ":" json } [ "," ] ] "}" ;
    expr        = and_expr { "or" and_expr } ;
    and_expr    = not_expr { "and" not_expr } ;
    not_expr    = "not" not_expr | comparison ;
    comparison  = postfix [ cmp_op postfix | [ "not" ] "in" "[" expr { "," expr } [ "," ] "]" ] ;
    cmp_op      = "==" | "!=" | "<" | "<=" | ">" | ">=" ;
    postfix     = primary { "." NAME [ "(" [ expr { "," expr } [ "," ] ] ")" ] } ;
    primary     = literal | reference | "(" expr ")" ;
    reference   = ( "input" "." NAME | "node" "." NAME [ "." NAME ] | NAME ) { "[" STRING "]" } ;
    literal     = scalar | "[" [ scalar { "," scalar } [ "," ] ] "]" ;
    scalar      = STRING | NUMBER | "true" | "false" | "null" ;
    capability  = NAME { "." NAME } ;
    policy_id   = ID | STRING ;

Lexical rules: ``NAME`` is ``[A-Za-z_][A-Za-z0-9_]*``; ``ID`` is
``[A-Za-z0-9_][A-Za-z0-9_.-]*``; ``STRING`` is double- or single-quoted with
JSON escapes (plus ``\'``); ``NUMBER`` is a JSON number, an int unless it has
a fraction or exponent, within 64 bits. ``#`` starts a comment. A newline
ends a statement, except inside ``()``, ``[]`` or ``{}``.

Meaning:

- Precedence is ``not`` > ``and`` > ``or``; a chain ``a or b or c`` is one
  ``or`` with three operands, a parenthesised ``(a or b) or c`` stays nested.
- A bare name is the trigger's bound name if it binds one, else a run input
  (inputs are open: any name is accepted); ``input.x`` is always an input;
  ``node.n.f`` reads field ``f`` of node ``n``'s output (``.f(`` is a method
  call on the whole output instead); ``["k"]`` follows a key.
- ``x.m`` and ``x.m()`` are the same zero-argument method call.
- ``x in [a, b]`` is sugar: it lowers to ``x.eq(a) or x.eq(b)``, exactly as
  nemoir-runtime does (one option: just ``x.eq(a)``); ``x not in [...]``
  is ``not`` of that. The renderer never writes the sugar back, except for
  an ``in`` kind node built elsewhere (that one does not round-trip).
- ``fs.write(p=path)`` binds local ``p`` to argument ``path``;
  ``os.shell(command)`` is ``os.shell(command=command)``.
- A policy without ``policy <id>:`` gets the id ``<kind>-<capability>-<n>``
  (``deny-os.shell-1``): ``n`` counts the unnamed policies with the same
  kind and capability from 1, in file order, skipping ids already taken.
- ``match``/``not_match`` lines attach an :class:`Example` to the policy
  above them; the capability must be the policy's trigger.
- Expressions nest at most :data:`MAX_EXPR_DEPTH` levels.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NamedTuple

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
    _article,
)

__all__ = ("PolicySyntaxError", "parse_policies", "render_policies", "render_policy")


class PolicySyntaxError(ValueError):
    """The text form could not be parsed.

    Attributes:
        message: What was expected and what was found.
        source: The name of the text (a file name, or ``<policies>``).
        line: 1-based line of the problem.
        column: 1-based column (in characters) of the problem.
        line_text: The offending line.
    """

    def __init__(self, message: str, *, source: str, line: int, column: int, line_text: str):
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        self.line_text = line_text
        shown, caret = _excerpt(line_text, column)
        super().__init__(f"{source}:{line}:{column}: {message}\n    {shown}\n    {caret}")


def _excerpt(text: str, column: int, width: int = 120) -> tuple[str, str]:
    """The line (a window of it if long, unprintables replaced) and a caret under ``column``."""
    start = max(0, min(column - 1 - width // 2, len(text) - width))
    shown = "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in text[start:][:width])
    lead = "…" if start else ""
    tail = "…" if start + width < len(text) else ""
    pad = "".join(
        "\t" if c == "\t" else " " for c in (lead + shown)[: len(lead) + column - 1 - start]
    )
    return lead + shown + tail, pad + "^"


class _Tok(NamedTuple):
    kind: str  # name, string, number, op, newline, eof
    value: Any
    text: str
    offset: int
    line: int
    col: int
    first: bool  # the first token on its line


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_SPACE = re.compile(r"(?:[ \t\f\r]+|#[^\n]*)+")
_SPACE_NL = re.compile(r"(?:[ \t\f\r\n]+|#[^\n]*)+")
_CHUNK = {'"': re.compile(r'[^"\\\x00-\x1f]+'), "'": re.compile(r"[^'\\\x00-\x1f]+")}
_ESCAPES: Final = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n"}
_ESCAPES.update({"r": "\r", "t": "\t"})
_OPS2: Final = ("==", "!=", "<=", ">=")
_OPS1: Final = "()[]{},.=:<>"
_OPENERS: Final = "([{"
_CMP: Final = ("==", "!=", "<", "<=", ">", ">=")
_STATEMENT_WORDS: Final = ("policy", "deny", "before", "match", "not_match")
_INT_DIGITS: Final = 19


class _Lexer:
    """Turns text into tokens on demand (one pass, linear time)."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.first = True
        self.depth = 0

    def error(self, message: str, offset: int, line: int, line_start: int) -> PolicySyntaxError:
        end = self.text.find("\n", line_start)
        line_text = self.text[line_start : end if end >= 0 else len(self.text)].rstrip("\r")
        col = offset - line_start + 1
        return PolicySyntaxError(
            message, source=self.source, line=line, column=col, line_text=line_text
        )

    def fail_here(self, message: str, offset: int | None = None) -> PolicySyntaxError:
        where = self.pos if offset is None else offset
        return self.error(message, where, self.line, self.line_start)

    def skip(self) -> None:
        space = _SPACE_NL if self.depth else _SPACE
        found = space.match(self.text, self.pos)
        if found is None:
            return
        newlines = found.group().count("\n")
        if newlines:
            self.line += newlines
            self.line_start = self.text.rfind("\n", self.pos, found.end()) + 1
            self.first = True
        self.pos = found.end()

    def token(self, kind: str, value: Any, start: int) -> _Tok:
        col = start - self.line_start + 1
        tok = _Tok(kind, value, self.text[start : self.pos], start, self.line, col, self.first)
        self.first = False
        return tok

    def next(self) -> _Tok:
        self.skip()
        start, text = self.pos, self.text
        if start >= len(text):
            return self.token("eof", None, start)
        char = text[start]
        if char == "\n":
            tok = self.token("newline", None, start)
            self.pos, self.line, self.line_start, self.first = (
                start + 1,
                self.line + 1,
                start + 1,
                True,
            )
            return tok
        if char in "\"'":
            return self.token("string", self.string(), start)
        found = _NAME.match(text, start) or _NUMBER.match(text, start)
        if found is not None:
            self.pos = found.end()
            if found.re is _NAME:
                return self.token("name", found.group(), start)
            return self.token("number", self.number(found), start)
        return self.op(char, start)

    def op(self, char: str, start: int) -> _Tok:
        two = self.text[start : start + 2]
        if two in _OPS2:
            self.pos += 2
            return self.token("op", two, start)
        if char not in _OPS1:
            shown = repr(char) if char.isprintable() else f"'\\u{ord(char):04x}'"
            raise self.fail_here(f"unexpected character {shown}")
        self.pos += 1
        if char in _OPENERS:
            self.depth += 1
        elif char in ")]}":
            self.depth = max(0, self.depth - 1)
        return self.token("op", char, start)

    def number(self, found: re.Match[str]) -> int | float:
        text = found.group()
        if found.group(1) is None and found.group(2) is None:
            value = int(text) if len(text.lstrip("-")) <= _INT_DIGITS else 2**63
            if -(2**63) <= value < 2**63:
                return value
            raise self.fail_here("integer out of the 64-bit range", found.start())
        number = float(text)
        if number in (float("inf"), float("-inf")):
            raise self.fail_here("number out of range", found.start())
        return number

    def string(self) -> str:
        start, quote, text = self.pos, self.text[self.pos], self.text
        chunk, parts, pos = _CHUNK[quote], [], start + 1
        while True:
            found = chunk.match(text, pos)
            if found is not None:
                parts.append(found.group())
                pos = found.end()
            char = text[pos : pos + 1]
            if char == quote:
                self.pos = pos + 1
                return "".join(parts)
            if char in ("", "\n", "\r"):
                raise self.fail_here("unterminated string", start)
            if char != "\\":
                raise self.fail_here(f"control character U+{ord(char):04X} in a string", pos)
            decoded, pos = self.escape(pos)
            parts.append(decoded)

    def escape(self, pos: int) -> tuple[str, int]:
        code = self.text[pos + 1 : pos + 2]
        if code in _ESCAPES:
            return _ESCAPES[code], pos + 2
        if code != "u":
            raise self.fail_here(f"invalid escape {self.text[pos : pos + 2]!r} in a string", pos)
        first = self.hex4(pos)
        if 0xD800 <= first < 0xDC00 and self.text[pos + 6 : pos + 8] == "\\u":
            second = self.hex4(pos + 6)
            if 0xDC00 <= second < 0xE000:
                return chr(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)), pos + 12
        return chr(first), pos + 6

    def hex4(self, pos: int) -> int:
        digits = self.text[pos + 2 : pos + 6]
        if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise self.fail_here("\\u needs four hex digits", pos)
        return int(digits, 16)

    def policy_id(self) -> _Tok:
        self.skip()
        if self.text[self.pos : self.pos + 1] in ("'", '"'):
            start = self.pos
            return self.token("string", self.string(), start)
        found = _ID.match(self.text, self.pos)
        if found is None:
            raise self.fail_here('expected a policy id after "policy"')
        self.pos = found.end()
        return self.token("name", found.group(), found.start())


def _describe(tok: _Tok) -> str:
    if tok.kind == "eof":
        return "end of input"
    if tok.kind == "newline":
        return "end of line"
    if tok.kind == "string":
        return f"string {_quote(tok.value[:30] + ('…' if len(tok.value) > 30 else ''))}"
    if tok.kind == "number":
        return f"number {tok.text}"
    return f'"{tok.text}"'


class _Draft:
    """A policy being parsed (examples arrive on later lines)."""

    def __init__(self, start: _Tok, id_tok: _Tok | None, description: str) -> None:
        self.start = start
        self.id_tok = id_tok
        self.id: str | None = None if id_tok is None else id_tok.value
        self.description = description
        self.fields: dict[str, Any] = {}
        self.match: list[Example] = []
        self.not_match: list[Example] = []

    def build(self) -> PolicySpec:
        assert self.id is not None
        return PolicySpec(
            id=self.id,
            description=self.description,
            match=tuple(self.match),
            not_match=tuple(self.not_match),
            **self.fields,
        )


class _Parser:
    """Recursive descent over :class:`_Lexer` tokens, one token of lookahead."""

    def __init__(self, text: str, source: str) -> None:
        self.lex = _Lexer(text, source)
        self.tok = self.lex.next()
        self.depth = 0
        self.bound: Mapping[str, str] = {}

    # ------------------------------------------------------------ helpers

    def fail(self, message: str, tok: _Tok | None = None) -> PolicySyntaxError:
        at = self.tok if tok is None else tok
        return self.lex.error(message, at.offset, at.line, at.offset - at.col + 1)

    def advance(self) -> _Tok:
        tok, self.tok = self.tok, self.lex.next()
        return tok

    def is_name(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.value in words

    def is_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.value == op

    def expect_op(self, op: str, context: str) -> None:
        if not self.is_op(op):
            raise self.fail(f'expected "{op}" {context}, found {_describe(self.tok)}')
        self.advance()

    def name(self, what: str) -> str:
        if self.tok.kind != "name":
            raise self.fail(f"expected {what}, found {_describe(self.tok)}")
        return str(self.advance().value)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_EXPR_DEPTH:
            raise self.fail(f"expression nested deeper than {MAX_EXPR_DEPTH} levels")

    def still_open(self, opener: _Tok, op: str) -> None:
        """Blame ``opener`` if the text ended, or a new statement began, inside it."""
        tok = self.tok
        new_statement = tok.first and tok.kind == "name" and tok.value in _STATEMENT_WORDS
        if tok.kind == "eof" or new_statement:
            found = f"{_describe(tok)} at line {tok.line}, column {tok.col}"
            message = f'"{opener.value}" is never closed: expected "{op}", found {found}'
            raise self.fail(message, opener)

    def close(self, opener: _Tok, op: str, context: str) -> None:
        if not self.is_op(op):
            self.still_open(opener, op)
            raise self.fail(f'expected "{op}" {context}, found {_describe(self.tok)}')
        self.advance()

    def delimited(self, close: str, context: str, item: Callable[[], object]) -> _Tok:
        opener = self.advance()
        while not self.is_op(close):
            self.still_open(opener, close)
            item()
            if not self.is_op(","):
                break
            self.advance()
        self.close(opener, close, context)
        return opener

    # ------------------------------------------------------------ statements

    def parse_file(self) -> tuple[PolicySpec, ...]:
        drafts: list[_Draft] = []
        while self.tok.kind != "eof":
            if self.tok.kind != "newline":
                if self.is_name("match", "not_match"):
                    self.example(drafts)
                else:
                    drafts.append(self.policy())
                if self.tok.kind not in ("newline", "eof"):
                    raise self.fail(f"expected end of line, found {_describe(self.tok)}")
            self.advance()
        return self.finish(drafts)

    def policy(self) -> _Draft:
        start, id_tok, description = self.tok, None, ""
        if self.is_name("policy"):
            id_tok = self.lex.policy_id()
            self.advance()
            if self.tok.kind == "string":
                description = self.advance().value
            self.expect_op(":", "after the policy id")
        draft = _Draft(start, id_tok, description)
        if not self.is_name("deny", "before"):
            raise self.fail(f'expected "deny" or "before", found {_describe(self.tok)}')
        kind = self.advance().value
        draft.fields.update(kind=kind, trigger=self.trigger())
        if kind == "deny" or self.is_name("if"):
            if not self.is_name("if"):
                raise self.fail(f'expected "if" after the trigger, found {_describe(self.tok)}')
            self.advance()
            draft.fields["condition"] = self.condition()
        if kind == "before":
            after = '"requires" after the condition' if "condition" in draft.fields else None
            draft.fields["requires"] = self.requires(
                after or '"if" or "requires" after the trigger'
            )
        return draft

    def trigger(self) -> TriggerSpec:
        capability = self.capability()
        bind: dict[str, str] = {}

        def binding() -> None:
            tok = self.tok
            local = self.name("a bound name")
            if local in KEYWORDS:
                raise self.fail(f'"{local}" is a keyword and cannot be a bound name', tok)
            if local in bind:
                raise self.fail(f'"{local}" is bound twice', tok)
            bind[local] = local
            if self.is_op("="):
                self.advance()
                bind[local] = self.name('an argument name after "="')

        if self.is_op("("):
            self.delimited(")", "after the bound names", binding)
        self.bound = bind
        return TriggerSpec(capability=capability, bind=bind)

    def capability(self) -> str:
        parts = [self.name("a capability name like os.shell")]
        while self.is_op("."):
            self.advance()
            parts.append(self.name('a name after "."'))
        return ".".join(parts)

    def requires(self, after: str) -> tuple[RequireSpec, ...]:
        if not self.is_name("requires"):
            raise self.fail(f"expected {after}, found {_describe(self.tok)}")
        self.advance()
        requires = [self.require()]
        while self.is_op(","):
            self.advance()
            requires.append(self.require())
        return tuple(requires)

    def require(self) -> RequireSpec:
        capability = self.capability()
        args: dict[str, ExprSpec] = {}

        def arg() -> None:
            tok = self.tok
            key = self.name("a parameter name")
            if key in args:
                raise self.fail(f'parameter "{key}" is given twice', tok)
            if self.is_op("="):
                self.advance()
                args[key] = self.expr()
            else:
                args[key] = self.named_ref(tok)

        if self.is_op("("):
            self.delimited(")", "after arguments", arg)
        return RequireSpec(capability=capability, args=args)

    def example(self, drafts: list[_Draft]) -> None:
        which = self.advance()
        if not drafts:
            raise self.fail(f'"{which.value}" must follow a policy', which)
        draft, tok = drafts[-1], self.tok
        capability, trigger = self.capability(), draft.fields["trigger"].capability
        if capability != trigger:
            message = f'example calls "{capability}" but the policy triggers on "{trigger}"'
            raise self.fail(message, tok)
        args: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        if self.is_op("("):
            self.delimited(")", "after arguments", lambda: self.pair(args))
        if self.is_name("with"):
            self.advance()
            self.pair(inputs)
            while self.is_op(","):
                self.advance()
                self.pair(inputs)
        getattr(draft, which.value).append(Example(args=args, inputs=inputs))

    def pair(self, into: dict[str, Any]) -> None:
        tok = self.tok
        key = self.name("a name")
        if key in into:
            raise self.fail(f'"{key}" is given twice', tok)
        self.expect_op("=", f'after "{key}"')
        into[key] = self.json_value()

    def json_value(self) -> Any:
        self.enter()
        if self.is_op("["):
            items: list[Any] = []
            self.delimited("]", "after list items", lambda: items.append(self.json_value()))
            value: Any = items
        elif self.is_op("{"):
            value = {}
            self.delimited("}", "after object items", lambda: self.json_item(value))
        else:
            value = self.scalar("a JSON value").value
        self.depth -= 1
        return value

    def json_item(self, into: dict[str, Any]) -> None:
        if self.tok.kind != "string":
            raise self.fail(f"expected a string key, found {_describe(self.tok)}")
        key = self.advance().value
        self.expect_op(":", "after the key")
        into[key] = self.json_value()

    def finish(self, drafts: list[_Draft]) -> tuple[PolicySpec, ...]:
        taken: dict[str, _Draft] = {}
        for draft in drafts:
            if draft.id is not None and taken.setdefault(draft.id, draft) is not draft:
                first = taken[draft.id].start
                message = f"duplicate policy id {draft.id!r} (first at line {first.line})"
                raise self.fail(message, draft.id_tok)
        counters: dict[str, int] = {}
        for draft in drafts:
            if draft.id is None:
                base = f"{draft.fields['kind']}-{draft.fields['trigger'].capability}"
                n = counters.get(base, 0) + 1
                while f"{base}-{n}" in taken:
                    n += 1
                counters[base], draft.id = n, f"{base}-{n}"
                taken[draft.id] = draft
        specs = []
        for draft in drafts:
            try:
                specs.append(draft.build())
            except PolicySpecError as exc:
                raise self.fail(f"{exc.path}: {exc.message}", draft.start) from None
        return tuple(specs)

    # ------------------------------------------------------------ expressions

    def condition(self) -> ExprSpec:
        tok = self.tok
        return self.need_bool(self.expr(), tok)

    def need_bool(self, expr: ExprSpec, tok: _Tok) -> ExprSpec:
        if expr.kind == "literal" and expr.type != "bool":
            raise self.fail(f"expected a condition, found {_article(str(expr.type))} literal", tok)
        return expr

    def expr(self) -> ExprSpec:
        self.enter()
        expr = self.chain("or", self.and_expr)
        self.depth -= 1
        return expr

    def and_expr(self) -> ExprSpec:
        return self.chain("and", self.not_expr)

    def chain(self, word: str, operand: Callable[[], ExprSpec]) -> ExprSpec:
        items = [(self.tok, operand())]
        while self.is_name(word):
            self.advance()
            items.append((self.tok, operand()))
        if len(items) == 1:
            return items[0][1]
        return ExprSpec(kind=word, exprs=tuple(self.need_bool(e, tok) for tok, e in items))  # type: ignore[arg-type]

    def not_expr(self) -> ExprSpec:
        if not self.is_name("not"):
            return self.comparison()
        self.advance()
        self.enter()
        tok = self.tok
        operand = self.need_bool(self.not_expr(), tok)
        self.depth -= 1
        return ExprSpec(kind="not", expr=operand)

    def comparison(self) -> ExprSpec:
        left = self.postfix()
        if self.tok.kind == "op" and self.tok.value in _CMP:
            op = self.advance().value
            return ExprSpec(kind="compare", op=op, left=left, right=self.postfix())
        if self.is_name("not"):
            self.advance()
            if not self.is_name("in"):
                raise self.fail(f'expected "in" after "not", found {_describe(self.tok)}')
            return ExprSpec(kind="not", expr=self.in_list(left))
        if self.is_name("in"):
            return self.in_list(left)
        return left

    def in_list(self, left: ExprSpec) -> ExprSpec:
        self.advance()
        if not self.is_op("["):
            raise self.fail(f'expected "[" after "in", found {_describe(self.tok)}')
        options: list[ExprSpec] = []
        opener = self.delimited("]", "after the options", lambda: options.append(self.expr()))
        if not options:
            raise self.fail('expected at least one option in the list after "in"', opener)
        eqs = [ExprSpec(kind="method_call", receiver=left, method="eq", args=(o,)) for o in options]
        return eqs[0] if len(eqs) == 1 else ExprSpec(kind="or", exprs=tuple(eqs))

    def postfix(self) -> ExprSpec:
        expr, links = self.primary(), 0
        while self.is_op("."):
            self.advance()
            method = self.name('a method name after "."')
            expr = ExprSpec(kind="method_call", receiver=expr, method=method, args=self.call_args())
            links += 1
            self.enter()
        self.depth -= links
        return expr

    def call_args(self) -> tuple[ExprSpec, ...]:
        args: list[ExprSpec] = []
        if self.is_op("("):
            self.delimited(")", "after arguments", lambda: args.append(self.expr()))
        return tuple(args)

    def primary(self) -> ExprSpec:
        if self.tok.kind in ("string", "number") or self.is_name("true", "false", "null"):
            return self.scalar("an expression")
        if self.is_op("["):
            items: list[Any] = []

            def item() -> None:
                items.append(self.scalar("a literal value (list items are literals)").value)

            self.delimited("]", "after list items", item)
            return ExprSpec(kind="literal", type="list", value=tuple(items))
        if self.is_op("("):
            opener = self.advance()
            self.still_open(opener, ")")
            expr = self.expr()
            self.close(opener, ")", "after the expression")
            return expr
        if self.tok.kind == "name":
            return self.reference()
        raise self.fail(f"expected an expression, found {_describe(self.tok)}")

    def scalar(self, what: str) -> ExprSpec:
        tok = self.tok
        if tok.kind == "string":
            type_, value = "string", tok.value
        elif tok.kind == "number":
            type_, value = ("int" if isinstance(tok.value, int) else "float"), tok.value
        elif self.is_name("true", "false"):
            type_, value = "bool", tok.value == "true"
        elif self.is_name("null"):
            type_, value = "null", None
        else:
            raise self.fail(f"expected {what}, found {_describe(tok)}")
        self.advance()
        return ExprSpec(kind="literal", type=type_, value=value)  # type: ignore[arg-type]

    def reference(self) -> ExprSpec:
        tok = self.advance()
        if tok.value == "input":
            self.expect_op(".", 'after "input"')
            ref = RefSpec(kind="input", name=self.name('an input name after "input."'))
        elif tok.value == "node":
            self.expect_op(".", 'after "node"')
            node = self.name('a node name after "node."')
            path: tuple[str, ...] = ()
            if self.is_op("."):
                self.advance()
                field = self.name('a field or method name after "."')
                if self.is_op("("):  # a method call on the node's whole output
                    whole = ExprSpec(kind="ref", ref=RefSpec(kind="node", name=node))
                    return ExprSpec(
                        kind="method_call", receiver=whole, method=field, args=self.call_args()
                    )
                path = (field,)
            ref = RefSpec(kind="node", name=node, path=path)
        else:
            return self.named_ref(tok)
        return self.subscripts(ref)

    def named_ref(self, tok: _Tok) -> ExprSpec:
        name = str(tok.value)
        if name in KEYWORDS:
            raise self.fail(f"expected an expression, found {_describe(tok)}", tok)
        kind = "bound" if name in self.bound else "input"
        return self.subscripts(RefSpec(kind=kind, name=name))  # type: ignore[arg-type]

    def subscripts(self, ref: RefSpec) -> ExprSpec:
        path = list(ref.path)
        while self.is_op("["):
            opener = self.advance()
            if self.tok.kind != "string" or not self.tok.value:
                raise self.fail(f"expected a non-empty string key, found {_describe(self.tok)}")
            path.append(self.advance().value)
            self.close(opener, "]", "after the key")
        return ExprSpec(kind="ref", ref=RefSpec(kind=ref.kind, name=ref.name, path=tuple(path)))


def parse_policies(text: str, *, source: str = "<policies>") -> tuple[PolicySpec, ...]:
    """Parse the text form (see the module docstring for the grammar).

    Args:
        text: The policies; an empty text (or only comments) gives ``()``.
        source: A name for the text in error messages, e.g. a file name.

    Returns:
        The policies, in order.

    Raises:
        PolicySyntaxError: At the first problem, with its line and column.
        TypeError: If ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_policies() takes a str, not {type(text).__qualname__}")
    return _Parser(text, source).parse_file()


# ---------------------------------------------------------------- rendering

_PLAIN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LEVEL: Final = {"or": 1, "and": 2, "not": 3, "compare": 4, "in": 4}


def _quote(text: str) -> str:
    """A double-quoted string the parser reads back; unprintable characters escaped."""
    out = json.dumps(text, ensure_ascii=False)
    if out.isprintable():
        return out
    return "".join(c if c.isprintable() else _escape(c) for c in out)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _json(value: Any) -> str:
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_json(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_quote(k)}: {_json(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def _ref(ref: RefSpec, bound: Mapping[str, str]) -> str:
    path = ref.path
    if ref.kind == "bound":
        head = ref.name
    elif ref.kind == "input":
        plain = ref.name not in KEYWORDS and ref.name not in bound
        head = ref.name if plain else f"input.{ref.name}"
    else:
        head = f"node.{ref.name}"
        if path and _PLAIN_NAME.match(path[0]):
            head, path = f"{head}.{path[0]}", path[1:]
    return head + "".join(f"[{_quote(key)}]" for key in path)


def _render(expr: ExprSpec, bound: Mapping[str, str]) -> tuple[str, int]:
    """The text of ``expr`` and its precedence level (higher binds tighter)."""

    def wrap(sub: ExprSpec | None, need: int) -> str:
        assert sub is not None
        text, level = _render(sub, bound)
        return f"({text})" if level < need else text

    def plain(subs: Iterable[ExprSpec]) -> str:
        return ", ".join(_render(sub, bound)[0] for sub in subs)

    match expr.kind:
        case "or" | "and":
            need = _LEVEL[expr.kind] + 1
            text = f" {expr.kind} ".join(wrap(sub, need) for sub in expr.exprs)
        case "not":
            inner = expr.expr
            assert inner is not None
            text = "not " + wrap(inner, 5 if inner.kind in ("compare", "in") else 3)
        case "compare":
            text = f"{wrap(expr.left, 5)} {expr.op} {wrap(expr.right, 5)}"
        case "in":
            text = f"{wrap(expr.left, 5)} in [{plain(expr.options)}]"
        case "method_call":
            text = f"{wrap(expr.receiver, 5)}.{expr.method}({plain(expr.args)})"
        case "ref":
            assert expr.ref is not None
            text = _ref(expr.ref, bound)
        case _:
            text = _json(expr.value)
    return text, _LEVEL.get(expr.kind, 5)


def _example(which: str, capability: str, example: Example) -> str:
    args = ", ".join(f"{k}={_json(v)}" for k, v in example.args.items())
    text = f"{which} {capability}({args})" if args else f"{which} {capability}"
    if example.inputs:
        text += " with " + ", ".join(f"{k}={_json(v)}" for k, v in example.inputs.items())
    return text


def _require(require: RequireSpec, bound: Mapping[str, str]) -> str:
    args = []
    for key, value in require.args.items():
        ref = value.ref
        same = ref is not None and ref.name == key and not ref.path and key not in KEYWORDS
        short = (
            same
            and ref is not None
            and (ref.kind == "bound" or (ref.kind == "input" and key not in bound))
        )
        args.append(key if short else f"{key}={_render(value, bound)[0]}")
    return f"{require.capability}({', '.join(args)})" if args else require.capability


def render_policy(spec: PolicySpec) -> str:
    """The text form of one policy (its examples on the lines after it).

    ``parse_policies(render_policy(p)) == (p,)`` for every valid policy
    without ``in`` kind nodes (the text form writes those as sugar that
    parses back to ``or`` of ``eq`` calls). Strings are double-quoted with
    unprintable characters escaped, so the text shows what runs.
    """
    bound = spec.trigger.bind
    pid = spec.id if _PLAIN_ID.match(spec.id) else _quote(spec.id)
    head = f"policy {pid}" + (f" {_quote(spec.description)}" if spec.description else "")
    binds = ", ".join(k if k == v else f"{k}={v}" for k, v in bound.items())
    trigger = f"{spec.trigger.capability}({binds})" if binds else spec.trigger.capability
    text = f"{head}: {spec.kind} {trigger}"
    if spec.condition is not None:
        text += " if " + _render(spec.condition, bound)[0]
    if spec.requires:
        text += " requires " + ", ".join(_require(r, bound) for r in spec.requires)
    lines = [text]
    lines += [_example("match", spec.trigger.capability, e) for e in spec.match]
    lines += [_example("not_match", spec.trigger.capability, e) for e in spec.not_match]
    return "\n".join(lines)


def render_policies(policies: Iterable[PolicySpec]) -> str:
    """The text form of several policies, one per line (plus example lines)."""
    return "".join(render_policy(spec) + "\n" for spec in policies)
