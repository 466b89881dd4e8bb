"""Bindings made on first use: a shell command is parsed only when a predicate needs it.

The engine binds ``os.shell(command)`` to a :class:`~actrio.policy.shell.ShellCommand`.
Parsing costs far more than most predicates over it, and some predicates
can be answered without it. So the engine binds a command as a
:class:`PendingCommand` inside a :class:`LazyBound` mapping, and a compiled
method call with literal arguments on a bound name (and ``name in [...]``)
first asks the pending value (:func:`deferring`, :meth:`PendingCommand.answer`). Anything it
cannot answer reads the name from the mapping, which parses then, exactly
as the eager binding did; the parse is kept for the rest of the call.

What :meth:`PendingCommand.answer` settles without a parse, and why the
answer is the parsed command's own:

- ``eq(s)`` and ``contains(s)`` for a string ``s``: they read only
  ``ShellCommand.text``, the exact text bound (a ``str``, never a subclass).
- ``starts_with(p)``, in the cases :func:`quick_starts_with` proves: False
  when a segment certainly does not start with the prefix, True for one
  plain command whose every check of the parse passes.

Every other method, argument or doubt answers ``None`` (parse, then ask),
including a prefix that is not valid: the parsed command raises its error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from actrio.policy import _shell_lexer as lexer
from actrio.policy import _shell_programs as programs
from actrio.policy import shell
from actrio.policy.shell import MAX_COMMAND_CHARS, ShellCommand, parse_normalised

if TYPE_CHECKING:
    from actrio.policy._spec import ExprSpec

__all__ = (
    "LazyBound",
    "PendingCommand",
    "answer_in",
    "bound_name",
    "deferring",
    "quick_starts_with",
)

Fn: TypeAlias = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], Any]
"""A compiled expression: ``fn(bound, inputs, outputs)``."""

#: The head of a text :func:`_segments_fail` reads: word characters that are
#: literal wherever they stand (see ``_PLAIN_WORD`` in the lexer), blanks, and
#: the command separators ``; & |`` and newline. It stops at quoting,
#: expansions, globs, braces, ``#``, redirections and parentheses.
_HEAD: Final = re.compile(r"[^<>()\\'\"$`*?\[~{}#]*")
_SEPARATORS: Final = re.compile(r"[;&|\n]+")
_WORD: Final = re.compile(r"[^ \t]+")
_BLANKS_AND_SEPARATORS: Final = frozenset(" \t;&|\n")


def quick_starts_with(
    text: str, words: tuple[str, ...], more: bool, trusted: frozenset[str]
) -> bool | None:
    r"""``ShellCommand.parse(text).starts_with(prefix)`` when it is known without the parse.

    ``words`` and ``more`` are the prefix as :func:`actrio.policy.shell._prefix`
    gives them. ``starts_with`` is True only for a *simple* command whose
    every segment's argv, program identity first, begins with ``words`` (and
    has one more word when ``more``). In a simple command every word is a
    bash word without expansions, no segment has assignments, redirections
    or wrappers (so the program is the identity of the first word), and the
    only operators are ``&& || ; |`` and newlines. So:

    - A text the lexer reads as words between blanks only
      (:func:`actrio.policy._shell_lexer.split_words`) is at most one
      command with these words. If they do not start with ``words``, the
      answer is False (simple or not). If they do, it is True when the
      command is simple: every character printable, the first word not an
      assignment, a keyword or a relative path, and
      :func:`~actrio.policy._shell_programs.resolve` finding no wrapper, no
      reason, nothing opaque and no nested code (certain for a
      :func:`~actrio.policy._shell_programs.is_plain_program`); this is
      every check ``_parse``, ``_segment`` and ``_reasons`` make of such a
      segment.
    - Any other text is False when a segment of its plain head does not
      start with ``words`` (:func:`_segments_fail`).

    Returns:
        The answer, or None when only the parse can tell.
    """
    if len(text) > MAX_COMMAND_CHARS:
        return None  # the parse calls it opaque without scanning it
    match = _HEAD.match(text)
    assert match is not None  # the pattern matches the empty string
    head, complete = match.group(), match.end() == len(text)
    # A separator in the head: more than one command (the lexer reads no such text).
    found = lexer.split_words(text) if _SEPARATORS.search(head) is None else None
    if found is None:
        return False if _segments_fail(head, complete, words, more, trusted) else None
    raws, values = found
    if not raws:
        return None
    argv = tuple(values)
    n = len(words)
    if _with_program(argv, trusted)[:n] != words or (more and len(argv) <= n):
        return False
    return True if _simple(text, raws[0], argv, trusted) else None


def _simple(text: str, first: str, argv: tuple[str, ...], trusted: frozenset[str]) -> bool:
    """Whether one command of exact words, ``first`` as written, is simple (see above)."""
    if (
        not text.isprintable()
        or lexer.is_assignment(first)
        or first in lexer.RESERVED_WORDS
        or programs.is_relative_path(argv[0])
    ):
        return False
    if programs.is_plain_program(argv[0], trusted):
        return True
    resolved = programs.resolve(argv, (True,) * len(argv), trusted)
    return not (
        resolved.wrappers
        or resolved.reason is not None
        or resolved.opaque is not None
        or resolved.code
        or resolved.argvs
    )


def _segments_fail(
    head: str, complete: bool, words: tuple[str, ...], more: bool, trusted: frozenset[str]
) -> bool:
    """True when a segment of the plain head of a text does not start with ``words``.

    In a simple command, the head (``_HEAD``; ``complete`` when it is the
    whole text) splits at ``; & |`` and newlines into exactly the segments'
    leading words, and at blanks into their argv. Only complete words count:
    a word running into the character that stopped the head (``g'it'``) is
    not read, and the last segment of a head that stopped early may have
    more words.
    """
    groups = _SEPARATORS.split(head)
    n = len(words)
    for k, group in enumerate(groups):
        argv = _WORD.findall(group)
        if k == len(groups) - 1 and not complete:
            if head and head[-1] not in _BLANKS_AND_SEPARATORS:
                argv = argv[:-1]  # the word goes on past the head: unknown
            seen = min(len(argv), n)
            if seen and _with_program(argv, trusted)[:seen] != words[:seen]:
                return True
        elif argv:
            full = _with_program(argv, trusted)
            if full[:n] != words or (more and len(full) <= n):
                return True
    return False


def _with_program(argv: Sequence[str], trusted: frozenset[str]) -> tuple[str, ...]:
    return (programs.identity(argv[0], trusted), *argv[1:])


class PendingCommand:
    """A shell command bound but not parsed yet.

    Attributes:
        text: The command, exactly as the call gave it (a ``str``).
        trusted: The normalised trusted directories it is parsed with.
    """

    __slots__ = ("_parsed", "text", "trusted")

    def __init__(self, text: str, trusted: frozenset[str]) -> None:
        """Defer parsing ``text`` (an exact ``str``) with ``trusted`` directories."""
        self.text = text
        self.trusted = trusted
        self._parsed: ShellCommand | None = None

    def value(self) -> ShellCommand:
        """The parsed command, parsed on the first call (as the eager binding parses it)."""
        if self._parsed is None:
            self._parsed = parse_normalised(self.text, self.trusted)
        return self._parsed

    def answer(self, method: str, args: tuple[object, ...]) -> bool | None:
        """What ``self.value().<method>(*args)`` returns, if known without the parse; else None.

        None also for anything that would raise: the parsed command then
        raises the same error.
        """
        if len(args) != 1 or type(args[0]) is not str:
            return None
        arg = args[0]
        if method == "eq":
            return self.text == arg
        if method == "contains":
            return arg in self.text
        if method == "starts_with":
            return self._starts_with(arg)
        return None

    def _starts_with(self, prefix: str) -> bool | None:
        try:
            words, more = shell._prefix(prefix, self.trusted)
        except Exception:  # noqa: BLE001  # the parsed command raises it again, as an error
            return None
        return quick_starts_with(self.text, words, more, self.trusted)

    def __repr__(self) -> str:
        return f"PendingCommand({self.text!r})"


class LazyBound(Mapping[str, object]):
    """A policy's bound values, some of them :class:`PendingCommand` until first read.

    Reading a pending name (``bound["command"]``) parses it and keeps the
    result, so the mapping reads like the eagerly bound one: the same keys,
    in the same order, with the same values.

    Attributes:
        pending: The pending values by bound name; compiled predicates ask
            them first (:meth:`PendingCommand.answer`).
    """

    __slots__ = ("_values", "pending")

    def __init__(self, values: dict[str, object], pending: dict[str, PendingCommand]) -> None:
        """Bind ``values``; the names in ``pending`` must also be keys of ``values``."""
        self._values = values
        self.pending = pending

    def __getitem__(self, name: str) -> object:
        value = self._values[name]
        if type(value) is PendingCommand:
            value = self._values[name] = value.value()
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._values  # without parsing

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"LazyBound({self._values!r})"


def bound_name(expr: ExprSpec) -> str | None:
    """The name ``expr`` reads when it is a bound name itself (no key path)."""
    ref = expr.ref
    if expr.kind != "ref" or ref is None or ref.kind != "bound" or ref.path:
        return None
    return ref.name


def answer_in(pending: PendingCommand, options: tuple[tuple[object], ...]) -> bool | None:
    """``left in [options]`` as the pending value answers each ``eq``, or None."""
    for option in options:
        answer = pending.answer("eq", option)
        if answer is None:
            return None
        if answer:
            return True
    return False


def deferring(name: str, ask: Callable[[PendingCommand], bool | None], general: Fn) -> Fn:
    """``general``, but first ask a pending bound value (see the module docstring).

    The engine binds a shell command as a :class:`PendingCommand` inside a
    :class:`LazyBound`; ``ask`` gets the answer the parsed command would give,
    or None, and then ``general`` reads the name (which parses it).
    """

    def fn(b: Mapping[str, Any], i: Mapping[str, Any], o: Mapping[str, Any]) -> Any:
        if type(b) is LazyBound:
            pending = b.pending.get(name)
            if pending is not None:
                answer = ask(pending)
                if answer is not None:
                    return answer
        return general(b, i, o)

    return fn
