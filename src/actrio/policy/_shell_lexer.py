r"""Tokenizer and segmenter for the bash subset that shell policies understand.

The lexer follows bash's own rules for what it accepts, so the words it returns
are exactly the argv bash would pass (see the guarantees table in
:mod:`actrio.policy.shell`):

- blanks are space and tab only; ``\r`` and every other character are word
  characters, as in bash;
- single quotes, double quotes (where ``\`` escapes only ``$ ` " \`` and
  newline), backslash escapes outside quotes, backslash-newline as a line
  continuation, ``#`` comments at the start of a word;
- operators ``&& || ; | |& &`` and newline separate commands; redirection
  operators (with an optional file-descriptor number) take the next word as
  their target.

Two kinds of trouble are told apart. A construct the lexer cannot delimit
without a full bash parser (command substitution, subshells, here-documents,
shell keywords, case terminators) raises :class:`LexError`: the caller treats
the whole command as opaque. An expansion whose *boundaries* are known but
whose *value* is not (``$HOME``, ``${x}``, globs, tildes, braces, ``$'..'``)
is recorded on the :class:`Word` and the words still come out. Every loop
moves forward through the text, so the cost is linear and nothing recurses.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Operators, longest first so that the first match is bash's longest token.
_OPERATORS: Final = (
    ";;&",
    "&>>",
    "<<<",
    "<<-",
    "&&",
    "||",
    ";;",
    ";&",
    "|&",
    "&>",
    ">>",
    ">|",
    "<<",
    "<>",
    ">&",
    "<&",
    ";",
    "&",
    "|",
    "<",
    ">",
    "(",
    ")",
    "\n",
)
#: The first of ``_OPERATORS`` written at a position (alternatives are tried in order).
_OPERATOR: Final = re.compile("|".join(re.escape(o) for o in _OPERATORS))
#: Operators that end a command.
CONTROL_OPERATORS: Final = frozenset({"&&", "||", ";", "|", "|&", "&", "\n"})
#: Operators that bind the following word as a redirection target.
REDIRECTION_OPERATORS: Final = frozenset(
    {"<", ">", ">>", ">|", "<>", "&>", "&>>", ">&", "<&", "<<<"}
)
_STRUCTURAL: Final = {
    ";;": "case terminator ';;'",
    ";;&": "case terminator ';;&'",
    ";&": "case terminator ';&'",
    "<<": "here-document '<<'",
    "<<-": "here-document '<<-'",
    "(": "subshell or grouping '('",
    ")": "subshell or grouping ')'",
}
#: Words bash reads as syntax when they start a command.
RESERVED_WORDS: Final = frozenset(
    {
        "!",
        "[[",
        "]]",
        "{",
        "}",
        "case",
        "coproc",
        "do",
        "done",
        "elif",
        "else",
        "esac",
        "fi",
        "for",
        "function",
        "if",
        "in",
        "select",
        "then",
        "until",
        "while",
    }
)
_METACHARS: Final = frozenset(" \t\n;&|<>()")
_BLANKS: Final = frozenset(" \t")
_GLOB: Final = frozenset("*?[")
_DQUOTE_ESCAPES: Final = frozenset('$`"\\\n')
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?")
_SIMPLE_BRACED: Final = re.compile(r"\{(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])\}")
_SPECIAL_PARAMS: Final = frozenset("@*#?$!-0123456789")
_IO_NUMBER: Final = re.compile(r"[0-9]+(?=[<>])")
_DIGITS: Final = frozenset("0123456789")
_MAX_FD_DIGITS: Final = 9
#: Characters :meth:`_Lexer._plain` only appends (no glob, tilde, brace or ``=``
#: role), outside metacharacters and quoting: read as one run.
_RUN: Final = re.compile(r"[^ \t\n;&|<>()\\'\"$`*?\[~{}=]+")
#: A whole word of such characters, ``=`` allowed: read without a word state.
_PLAIN_WORD: Final = re.compile(r"[^ \t\n;&|<>()\\'\"$`*?\[~{}]+")
#: A character that stops :func:`segments` from splitting the text on blanks
#: alone (an operator, quoting, an expansion, a comment).
_NOT_PLAIN_TEXT: Final = re.compile(r"[\n;&|<>()\\'\"$`*?\[~{}#]")
_BLANK_SEPARATED: Final = re.compile(r"[^ \t]+")
#: A word of such characters and quoted strings (the double-quoted ones without
#: ``\\``, ``$`` or a backquote), quotes removed by :func:`_unquote`.
_QUOTED_WORD: Final = re.compile(r"""(?:[^ \t\n;&|<>()\\'"$`*?\[~{}]|'[^']*'|"[^"\\$`]*")+""")
#: A whole text of such words between blanks, none starting with ``#``.
_QUOTED_TEXT: Final = re.compile(
    r"""[ \t]*(?:(?!\#)%s(?:[ \t]+|\Z))*""" % _QUOTED_WORD.pattern  # noqa: UP031
)
_QUOTED_PART: Final = re.compile(r"""'([^']*)'|"([^"]*)"|([^'"]+)""")


class LexError(ValueError):
    """A construct the lexer cannot delimit; the command is opaque.

    Attributes:
        reason: What was found, e.g. ``"command substitution $(...)"``.
        offset: Index of the offending character in the text.
    """

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at column {offset + 1}")
        self.reason = reason
        self.offset = offset


@attrs.frozen
class Word:
    """One word after quote removal.

    Attributes:
        value: The word as bash passes it; for a word with an expansion, the
            source spelling with quotes removed (an approximation).
        start: Index of the word's first character in the text.
        end: Index just past the word's last character.
        expansion: What makes the value unknown (e.g. ``"parameter expansion
            $HOME"``), or None for an exact word.
        expansion_at: Index of that expansion, or -1.
        assignment: The word starts with an unquoted ``NAME=`` or ``NAME+=``.
        raw: The word's source text.
        tilde_only: Its only expansions are tildes (a path policy can expand
            them with :func:`os.path.expanduser`).
    """

    value: str
    start: int
    end: int
    expansion: str | None
    expansion_at: int
    assignment: bool
    raw: str
    tilde_only: bool = False


@attrs.frozen
class Operator:
    """An operator token, with the file descriptor number written before it.

    Attributes:
        op: The operator text, e.g. ``"&&"`` or ``">>"``.
        start: Index of the first character (of the fd number, if any).
        fd: The explicit file descriptor (``2`` in ``2>``), or None.
    """

    op: str
    start: int
    fd: int | None = None


@attrs.frozen
class RawRedirection:
    """A redirection operator with its target word."""

    operator: Operator
    target: Word


@attrs.frozen
class RawSegment:
    """One command: its words, redirections, and the operator after it."""

    words: tuple[Word, ...]
    redirections: tuple[RawRedirection, ...]
    operator: str | None


@attrs.define
class _WordState:
    """Mutable state while one word is read."""

    start: int
    chars: list[str] = attrs.Factory(list)
    quoted: bool = False
    expansion: str | None = None
    expansion_at: int = -1
    assignment: bool = False
    saw_equals: bool = False
    brace_at: int = -1
    prev_plain: str = ""
    only_tilde: bool = True

    def flag(self, what: str, offset: int) -> None:
        """Record an expansion; the first one is the one reported."""
        if not what.startswith("tilde"):
            self.only_tilde = False
        if self.expansion is None:
            self.expansion = what
            self.expansion_at = offset


class _Lexer:
    """A single forward pass over ``text``."""

    def __init__(self, text: str, *, fast: bool = True) -> None:
        self.text = text
        self.pos = 0
        # False reads every character through the general path (see segments).
        self.fast = fast

    def tokens(self) -> Iterator[Word | Operator]:
        """Yield tokens in order; raises LexError on an opaque construct."""
        text = self.text
        n = len(text)
        while self.pos < n:
            c = text[self.pos]
            if c in _BLANKS:
                self.pos += 1
            elif c == "\\" and text.startswith("\\\n", self.pos):
                self.pos += 2
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif c in _METACHARS:
                yield self._operator(None, self.pos)
            elif c in _DIGITS and (m := _IO_NUMBER.match(text, self.pos)) is not None:
                digits = m.group()
                if len(digits) > _MAX_FD_DIGITS:
                    raise LexError(f"file descriptor number {digits[:12]}... too large", m.start())
                self.pos = m.end()
                yield self._operator(int(digits), m.start())
            else:
                yield self._word()

    def _operator(self, fd: int | None, start: int) -> Operator:
        text = self.text
        m = _OPERATOR.match(text, self.pos)
        assert m is not None  # called at a metacharacter, and each is an operator
        op = m.group()
        if op in _STRUCTURAL:
            raise LexError(_STRUCTURAL[op], self.pos)
        if op in {"<", ">"} and text.startswith("(", self.pos + 1):
            raise LexError(f"process substitution {op}(...)", self.pos)
        self.pos += len(op)
        return Operator(op, start, fd)

    def _word(self) -> Word:
        text = self.text
        n = len(text)
        start = self.pos
        if self.fast:
            plain = self._plain_word()
            if plain is not None:
                return plain
        st = _WordState(start)
        while self.pos < n and text[self.pos] not in _METACHARS:
            c = text[self.pos]
            if c == "\\":
                self._backslash(st)
            elif c == "'":
                self._single(st)
            elif c == '"':
                self._double(st)
            elif c == "$":
                self._dollar(st, in_double=False)
            elif c == "`":
                raise LexError("command substitution `...`", self.pos)
            elif self.fast and (m := _RUN.match(text, self.pos)) is not None:
                # The same as _plain for each character: append, remember the last.
                run = m.group()
                st.chars.append(run)
                st.prev_plain = run[-1]
                self.pos = m.end()
            else:
                self._plain(st, c)
        value = "".join(st.chars)
        raw = text[start : self.pos]
        if raw in {"{", "}"}:
            st.flag(f"brace {raw!r}", start)
        tilde = st.expansion is not None and st.only_tilde
        return Word(
            value, start, self.pos, st.expansion, st.expansion_at, st.assignment, raw, tilde
        )

    def _plain_word(self) -> Word | None:
        """The word at ``pos`` if it has no quote, expansion or brace; else None."""
        text, start = self.text, self.pos
        m = _PLAIN_WORD.match(text, start)
        if m is None:
            return None
        end = m.end()
        if end < len(text) and text[end] not in _METACHARS:
            return None
        self.pos = end
        return _bare_word(m.group(), start)

    def _plain(self, st: _WordState, c: str) -> None:
        offset = self.pos
        if c in _GLOB:
            st.flag(f"glob {c!r}", offset)
        elif c == "~" and (offset == st.start or st.prev_plain in {"=", ":"}):
            st.flag("tilde expansion '~'", offset)
        elif c == "{" and st.brace_at < 0:
            st.brace_at = len(st.chars)
        elif c == "}" and 0 <= st.brace_at < len(st.chars) - 1:
            st.flag("brace expansion '{...}'", offset)
        elif c == "=" and not st.saw_equals:
            st.saw_equals = True
            name = "".join(st.chars)
            st.assignment = not st.quoted and _ASSIGN_NAME.fullmatch(name) is not None
        st.chars.append(c)
        st.prev_plain = c
        self.pos += 1

    def _backslash(self, st: _WordState) -> None:
        text = self.text
        nxt = text[self.pos + 1 : self.pos + 2]
        if nxt == "\n":
            # A line continuation vanishes before bash splits words.
            self.pos += 2
            return
        st.prev_plain = ""
        if nxt == "":
            # bash keeps or drops a final backslash depending on the line
            # continuations before it, so its value is not known.
            st.flag("backslash at the end of the text", self.pos)
            st.chars.append("\\")
            self.pos += 1
        else:
            st.quoted = True
            st.chars.append(nxt)
            self.pos += 2

    def _single(self, st: _WordState) -> None:
        end = self.text.find("'", self.pos + 1)
        if end < 0:
            raise LexError("unterminated single quote", self.pos)
        st.quoted = True
        st.prev_plain = ""
        st.chars.append(self.text[self.pos + 1 : end])
        self.pos = end + 1

    def _double(self, st: _WordState) -> None:
        text = self.text
        open_at = self.pos
        st.quoted = True
        st.prev_plain = ""
        self.pos += 1
        while True:
            if self.pos >= len(text):
                raise LexError("unterminated double quote", open_at)
            c = text[self.pos]
            if c == '"':
                self.pos += 1
                return
            if c == "\\" and text[self.pos + 1 : self.pos + 2] in _DQUOTE_ESCAPES:
                nxt = text[self.pos + 1]
                if nxt != "\n":
                    st.chars.append(nxt)
                self.pos += 2
            elif c == "$":
                self._dollar(st, in_double=True)
            elif c == "`":
                raise LexError("command substitution `...`", self.pos)
            else:
                st.chars.append(c)
                self.pos += 1

    def _dollar(self, st: _WordState, *, in_double: bool) -> None:
        text = self.text
        at = self.pos
        nxt = text[at + 1 : at + 2]
        st.prev_plain = ""
        if nxt == "(":
            what = "arithmetic expansion $((...))" if text.startswith("((", at + 1) else None
            raise LexError(what or "command substitution $(...)", at)
        if nxt == "{":
            m = _SIMPLE_BRACED.match(text, at + 1)
            if m is None:
                raise LexError("parameter expansion ${...}", at)
            end = m.end()
            st.flag(f"parameter expansion ${m.group()}", at)
        elif nxt == "'" and not in_double:
            end = self._ansi_c_end(at)
            st.flag("ANSI-C quoting $'...'", at)
        elif nxt == '"' and not in_double:
            # $"..." is a translated string; the double quote is read next.
            end = at + 1
            st.flag('locale quoting $"..."', at)
        elif (m := _NAME.match(text, at + 1)) is not None:
            end = m.end()
            st.flag(f"parameter expansion ${m.group()}", at)
        elif nxt and nxt in _SPECIAL_PARAMS:
            end = at + 2
            st.flag(f"parameter expansion ${nxt}", at)
        else:
            end = at + 1
            st.flag("bare '$'", at)
        st.chars.append(text[at:end])
        self.pos = end

    def _ansi_c_end(self, at: int) -> int:
        text = self.text
        i = at + 2
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 2
            elif c == "'":
                return i + 1
            else:
                i += 1
        raise LexError("unterminated ANSI-C quote $'...'", at)


def tokens(text: str) -> Iterator[Word | Operator]:
    """Yield the tokens of ``text``.

    Raises:
        LexError: At the first construct the lexer cannot delimit.
    """
    return _Lexer(text).tokens()


def segments(text: str, *, max_segments: int, fast: bool = True) -> list[RawSegment]:
    """Split ``text`` into commands joined by control operators.

    Args:
        text: The command text.
        max_segments: Stop with a LexError once there are more commands.
        fast: Take the shortcuts for plain words (the default). False reads
            every character the general way: the reference the shortcuts
            are tested against, with the same result.

    Raises:
        LexError: For an opaque construct, a missing command next to an
            operator, a shell keyword, or too many commands.
    """
    if fast and max_segments >= 1:
        found = _words_only(text)
        if found is not None:
            return found
    splitter = _Splitter(max_segments)
    for tok in _Lexer(text, fast=fast).tokens():
        if isinstance(tok, Word):
            splitter.word(tok)
        else:
            splitter.operator(tok)
    return splitter.finish(len(text))


def _bare_word(raw: str, start: int, value: str | None = None) -> Word:
    """A word without expansions or braces (its ``value``: ``raw``); ``NAME=`` is an assignment."""
    value = raw if value is None else value
    return Word(value, start, start + len(raw), None, -1, is_assignment(raw), raw)


def is_assignment(raw: str) -> bool:
    """Whether a word without expansions (as written) is an assignment: ``NAME=`` or ``NAME+=``.

    The name holds no quote, so a quote before the first ``=`` makes it a
    plain word, as :meth:`_Lexer._plain` decides.
    """
    equals = raw.find("=")
    return equals > 0 and _ASSIGN_NAME.fullmatch(raw, 0, equals) is not None


def split_words(text: str) -> tuple[list[str], list[str]] | None:
    r"""The words of a text of words between blanks only, as written and as values; else None.

    Two shapes qualify: plain words (each is what :meth:`_Lexer._plain_word`
    reads), and words of plain characters and plain quoted strings (without
    ``\``, ``$`` or a backquote), none starting with ``#``. Such a text is
    one command (or none), without operators, redirections or expansions:
    globs, tildes and braces are only special unquoted, and none is a plain
    character. A value is its word after quote removal.
    """
    if _NOT_PLAIN_TEXT.search(text) is None:
        raws = _BLANK_SEPARATED.findall(text)
        return raws, raws
    if _QUOTED_TEXT.fullmatch(text) is not None:
        raws = _QUOTED_WORD.findall(text)
        return raws, [_unquote(raw) for raw in raws]
    return None


def _unquote(raw: str) -> str:
    if '"' not in raw:
        return raw.replace("'", "")  # single-quoted strings hold no quote
    if "'" not in raw:
        return raw.replace('"', "")  # and these double-quoted ones no quote either
    return "".join([m[1] or m[2] or m[3] or "" for m in _QUOTED_PART.finditer(raw)])


def _words_only(text: str) -> list[RawSegment] | None:
    """:func:`segments` for a text :func:`split_words` reads, else None."""
    found = split_words(text)
    if found is None:
        return None
    words: list[Word] = []
    end = 0
    for raw, value in zip(*found, strict=True):
        start = text.find(raw, end)  # only blanks come before it: this is where it starts
        end = start + len(raw)
        words.append(_bare_word(raw, start, value))
    for word in words:
        _check_keyword(word, [])  # what _Splitter checks, word by word
        if not word.assignment:
            break  # the command word: the words after it are arguments
    return [RawSegment(tuple(words), (), None)] if words else []


@attrs.define
class _Splitter:
    """Groups tokens into segments; state for :func:`segments`."""

    max_segments: int
    out: list[RawSegment] = attrs.Factory(list)
    words: list[Word] = attrs.Factory(list)
    redirections: list[RawRedirection] = attrs.Factory(list)
    pending: Operator | None = None
    last_op: str = "\n"

    def word(self, tok: Word) -> None:
        if self.pending is not None:
            self.redirections.append(RawRedirection(self.pending, tok))
            self.pending = None
        else:
            _check_keyword(tok, self.words)
            self.words.append(tok)

    def operator(self, tok: Operator) -> None:
        self._no_pending()
        if tok.op in REDIRECTION_OPERATORS:
            self.pending = tok
            return
        if not self.words and not self.redirections:
            if tok.op == "\n" and self.last_op in CONTROL_OPERATORS:
                return
            raise LexError(f"missing command before {tok.op!r}", tok.start)
        self._close(tok.op, tok.start)
        self.last_op = tok.op

    def finish(self, end: int) -> list[RawSegment]:
        self._no_pending()
        if self.words or self.redirections:
            self._close(None, end)
        elif self.last_op in {"&&", "||", "|", "|&"}:
            raise LexError(f"missing command after {self.last_op!r}", end)
        return self.out

    def _no_pending(self) -> None:
        if self.pending is not None:
            raise LexError(f"redirection {self.pending.op!r} without a target", self.pending.start)

    def _close(self, op: str | None, offset: int) -> None:
        self.out.append(RawSegment(tuple(self.words), tuple(self.redirections), op))
        if len(self.out) > self.max_segments:
            raise LexError(f"more than {self.max_segments} commands", offset)
        self.words, self.redirections = [], []


def _check_keyword(word: Word, before: list[Word]) -> None:
    """Raise if ``word`` is a shell keyword in command position."""
    if word.raw in RESERVED_WORDS and all(w.assignment for w in before):
        raise LexError(f"shell keyword {word.raw!r}", word.start)
