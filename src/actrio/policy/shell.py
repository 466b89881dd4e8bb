r"""Argv-aware shell command analysis for policies (RELIABILITY.md SH-01 … SH-10).

A policy such as::

    deny os.shell(command) if command.runs("rm")
    allow os.shell(command) if command.starts_with("git status")

binds ``command`` to a :class:`ShellCommand`. The command is split the way bash
splits it: into *segments* (simple commands joined by ``&& || ; | |& &`` or a
newline), each with the argv bash would pass after quote removal. Allow checks
hold only for commands the parser can prove are plain words; deny checks fail
closed on anything it cannot see through.

Parsing is total: :meth:`ShellCommand.parse` never raises for a string. A
command that cannot be proven plain is *not simple* and carries a ``reason``
naming the construct and its column (1-based, counted over the whole text).
A command whose programs cannot be determined at all is also *opaque*
(``opaque_reason``); an opaque command is never simple. NUL bytes, empty and
whitespace-only commands are not simple (B-10): a shell tool rejects them by
requiring :meth:`is_simple`.

The model is ``bash -c TEXT``, non-interactive: no aliases, no history
expansion. The subset accepted as simple is POSIX, so ``sh -c`` (dash) splits
those commands the same way. Code nested in ``zsh -c`` or ``fish -c`` is
analysed with bash rules; anything unusual in it is opaque.

Guarantees
==========

==========================================  ========================================
Construct                                   Effect
==========================================  ========================================
words in ``'..'``, ``".."``, ``\x``         exact argv, equal to bash's (SH-07)
``#`` comment at the start of a word        ignored, as bash does
``&& || ; |`` and newline between commands  simple; every segment checked (SH-01)
empty segment (``ls &&``, ``; ls``, ``;;``) opaque (bash would reject it)
``&`` (background), ``|&``                  not simple
``$VAR``, ``${VAR}``, ``$'..'``, ``$".."``  not simple (value unknown); opaque when
                                            it names the program
``*`` ``?`` ``[`` unquoted                  not simple (depends on the filesystem)
``~`` at word start or after ``=``/``:``    not simple (tilde expansion)
``{a,b}`` (non-empty unquoted braces)       not simple; ``{}`` alone stays literal
``$(..)``, backticks, ``$((..))``,         opaque (SH-02)
``${x:-..}`` and other ``${..}`` forms
``<(..)``, ``>(..)``, ``( )``, ``<<``       opaque (SH-02)
keywords (``if``, ``for``, ``{``, ``!``…)   opaque
redirections (``>``, ``>>``, ``2>``, ``<``) not simple; targets in
                                            :meth:`written_paths`/:meth:`read_paths`
                                            (SH-03), ``~`` kept for the path policy;
                                            opaque if the target has another expansion
``FOO=1 cmd``                               not simple (assignment); opaque for
                                            ``PATH``, ``LD_PRELOAD``, ``BASH_ENV``…
wrappers: ``env command builtin exec nice`` not simple; :meth:`runs` sees through
``nohup timeout stdbuf time sudo xargs``    them (SH-04); unknown option: opaque;
``doas busybox setsid ionice``              ``xargs -I``, ``xargs sh -c``: opaque
``sh/bash/zsh… -c CODE``, ``eval``, ``trap`` not simple; CODE analysed again, up to
                                            :data:`MAX_NESTING` levels (SH-05)
``find … -exec CMD ;``                      simple; CMD analysed like ``-c`` code
``source``/``.``                            not simple
``python -c``, ``node -e``, ``perl -e``,    not simple and opaque (inline code)
``ruby -e``, ``php -r``, ``awk 'prog'``
``alias``, ``hash``, ``enable``             not simple and opaque (rename programs)
``./git``, ``bin/git`` (relative program)   not simple (SH-10)
``/usr/bin/git`` (trusted directory)        program ``git``; other absolute paths
                                            keep their full path as program
control characters (``\r``…), invisible     not simple (BY-5, B-08); bash reads
Unicode (format, separators, private use)   ``\r`` as a word character, and so
                                            does the lexer
NUL byte                                    opaque (execve would cut the text)
empty or whitespace-only                    not simple, not opaque (nothing runs)
over :data:`MAX_COMMAND_CHARS` characters   opaque, without scanning (SH-09)
over :data:`MAX_SEGMENTS` segments          opaque, stops at the limit (SH-09)
==========================================  ========================================

Predicates (all listed in :attr:`ShellCommand.POLICY_METHODS`)
==============================================================

- :meth:`~ShellCommand.eq`: exact string equality with the original text; no
  normalisation of blanks or quotes.
- :meth:`~ShellCommand.starts_with` / :meth:`~ShellCommand.argv_starts_with`:
  true only for a simple command whose *every* segment's argv begins with
  the prefix words (word boundaries, program identity normalised). A blank at
  the end of a ``starts_with`` prefix demands at least one more word. These
  are the safe *allow* form.
- :meth:`~ShellCommand.contains`: substring of the raw text. Fine for deny
  rules, never safe for allow rules (quoting defeats it: ``r"m"``).
- :meth:`~ShellCommand.program`: the program of a single-segment simple
  command, else None.
- :meth:`~ShellCommand.runs`, :meth:`~ShellCommand.runs_prefix`,
  :meth:`~ShellCommand.has_flags`, :meth:`~ShellCommand.has_dangerous_flags`:
  *deny* helpers. They look
  through wrappers and nested code and answer True for an opaque command.
  Prefix denies (``starts_with("rm -rf")``) are bypassed by flag reordering
  (BY-1, SH-06) and are unsafe; use ``has_flags`` for flag-aware denies.
  ``runs`` cannot see programs started by other programs (git aliases,
  editors, ``make``, scripts, ``sed``'s ``e`` command); only allow-lists over
  simple commands, plus an OS sandbox, are a boundary.
  ``runs`` does not look through ``ssh``, ``watch``, ``su``, ``chroot`` or
  other wrappers not in :data:`WRAPPER_PROGRAMS`: for it they are programs.
- ``find . -exec rm {} \;`` *is* simple, so ``starts_with("find")`` allows it
  (SH-08): pair such allows with ``not command.has_dangerous_flags()``.
- :meth:`~ShellCommand.written_paths` / :meth:`~ShellCommand.read_paths`:
  redirection targets for the path policy (SH-03); not files a program opens
  itself.

Dangerous flags (:data:`DANGEROUS_FLAGS`, SH-08, CDX-3)
=======================================================

=========  ==============================================================
Program    Flags that write files or run commands
=========  ==============================================================
find       ``-exec -execdir -ok -okdir -delete -fprint -fprint0 -fprintf -fls``
rg         ``--pre --pre-glob --hostname-bin -z --search-zip``
git        ``-c --config-env --exec-path`` before the subcommand;
           ``--output --upload-pack --receive-pack --exec --extcmd
           --open-files-in-pager`` anywhere; ``grep -O``, ``rebase -x``,
           ``difftool -x``, ``fetch/pull/clone/ls-remote -u``; ``bisect
           run``, ``submodule foreach``, ``filter-branch``
base64     ``-o --output``
sed        ``-i --in-place`` (a script's ``e``/``w`` commands are not seen)
tar        ``--to-command --use-compress-program -I --checkpoint-action
           --info-script --new-volume-script -F`` (``tar xIf`` counts)
curl       ``-o -O --output --remote-name --remote-name-all --output-dir -K
           --config -T --upload-file``
wget       ``-O -o -a -P --output-document --output-file --append-output
           --directory-prefix``
sort       ``-o --output --compress-program``
xargs      always (it runs commands with words from stdin)
=========  ==============================================================

Short flags match inside clusters (``curl -sSo f``), ``--name`` matches
``--name=value``. The table is not exhaustive: allow only the tools you need.
"""

from __future__ import annotations

import functools
import shlex
import unicodedata
from typing import TYPE_CHECKING, ClassVar, Final

import attrs

from actrio.policy import _shell_flags as shell_flags
from actrio.policy import _shell_lexer as lexer
from actrio.policy import _shell_programs as programs
from actrio.policy._shell_flags import DANGEROUS_FLAGS
from actrio.policy._shell_programs import DEFAULT_TRUSTED_DIRS, WRAPPERS

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = (
    "DANGEROUS_FLAGS",
    "DEFAULT_TRUSTED_DIRS",
    "MAX_COMMAND_CHARS",
    "MAX_NESTING",
    "MAX_SEGMENTS",
    "Redirection",
    "Segment",
    "ShellCommand",
    "ShellSyntaxError",
    "WRAPPER_PROGRAMS",
)

#: Longer commands are opaque without being scanned (SH-09).
MAX_COMMAND_CHARS: Final = 64 * 1024
#: Commands with more segments are opaque; lexing stops at the limit (SH-09, BY-4).
MAX_SEGMENTS: Final = 64
#: ``sh -c`` / ``eval`` / ``find -exec`` code nested deeper than this is opaque.
MAX_NESTING: Final = 3
#: Programs :meth:`ShellCommand.runs` looks through (SH-04).
WRAPPER_PROGRAMS: Final = frozenset(WRAPPERS)

#: Parses of this many top-level commands are kept (:func:`parse_normalised`).
_CACHE_SIZE: Final = 256
#: Longer commands are parsed every time, so the cache stays small.
_CACHE_MAX_CHARS: Final = 4096

_INVISIBLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
_WRITE_OPS: Final = frozenset({">", ">>", ">|", "&>", "&>>", "<>"})
_READ_OPS: Final = frozenset({"<", "<>"})


class ShellSyntaxError(ValueError):
    """A pattern given to a shell predicate cannot match any command.

    Raised by :meth:`ShellCommand.starts_with`,
    :meth:`ShellCommand.runs_prefix` and :meth:`ShellCommand.argv_starts_with`
    for an empty prefix or one that is not a single simple command; the
    message names the prefix and why. A policy evaluator that fails closed
    on predicate errors (SH-13) turns it into a deny.
    """


@attrs.frozen
class Redirection:
    """One redirection of a segment.

    Attributes:
        op: The operator as written, fd number included: ``">"``, ``"2>"``,
            ``">>"``, ``"&>"``, ``"<"``, ``"2>&"``, ``"<<<"``.
        fd: The file descriptor redirected (0 for input, 1 for output unless
            written), or None for ``&>``/``&>>`` (stdout and stderr).
        target: The target word after quote removal; a leading ``~`` is kept
            for the path policy to expand.
        exact: False when the target contains an expansion (a tilde too).
    """

    op: str
    fd: int | None
    target: str
    exact: bool = True

    def writes(self) -> bool:
        """True when the target is a path this redirection may write."""
        base = self.op.lstrip("0123456789")
        return base in _WRITE_OPS or (base == ">&" and not _is_fd_word(self.target))

    def reads(self) -> bool:
        """True when the target is a path this redirection reads."""
        base = self.op.lstrip("0123456789")
        return base in _READ_OPS or (base == "<&" and not _is_fd_word(self.target))


@attrs.frozen
class Segment:
    """One simple command of a :class:`ShellCommand`.

    Attributes:
        argv: Words after quote removal, as bash passes them (leading
            assignments excluded).
        operator: The operator joining it to the next segment (``"&&"``,
            ``"||"``, ``";"``, ``"|"``, ``"|&"``, ``"&"``, a newline), or None.
        redirections: Its redirections, in order.
        assignments: Leading ``NAME=value`` words (and those given to
            ``env``/``sudo``).
        wrappers: Wrapper programs looked through, outermost first.
        command: Argv of the effective command after the wrappers.
        program: Identity of the effective program (see module docstring), or
            None when nothing runs or it is unknown.
        exact: Every word's value is known (no expansions).
        nested: Commands run as code by this one (``sh -c``, ``eval``,
            ``trap``, ``find -exec``), parsed again.
        opaque_reason: Why deny checks must fail closed here, or None.
    """

    argv: tuple[str, ...]
    operator: str | None
    redirections: tuple[Redirection, ...] = ()
    assignments: tuple[str, ...] = ()
    wrappers: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    program: str | None = None
    exact: bool = True
    nested: tuple[ShellCommand, ...] = ()
    opaque_reason: str | None = None


@attrs.frozen
class ShellCommand:
    """A shell command, split into segments, with policy predicates.

    Build one with :meth:`parse`. The module docstring lists what each
    construct does to :meth:`is_simple` and :meth:`is_opaque`.

    Attributes:
        text: The exact original text.
        segments: The simple commands, in order; empty for a text that could
            not be split (or holds no command).
        reason: Why the command is not simple, or None when it is.
        opaque_reason: Why deny checks fail closed, or None.
        trusted_dirs: Directories whose programs are known by basename.
    """

    POLICY_METHODS: ClassVar[frozenset[str]] = frozenset(
        {
            "argv_starts_with",
            "contains",
            "eq",
            "has_dangerous_flags",
            "has_flags",
            "is_opaque",
            "is_simple",
            "program",
            "read_paths",
            "runs",
            "runs_prefix",
            "starts_with",
            "written_paths",
        }
    )

    text: str
    segments: tuple[Segment, ...]
    reason: str | None
    opaque_reason: str | None = None
    trusted_dirs: frozenset[str] = attrs.field(default=DEFAULT_TRUSTED_DIRS, repr=False)

    @classmethod
    def parse(
        cls, text: str, *, trusted_dirs: Iterable[str] = DEFAULT_TRUSTED_DIRS
    ) -> ShellCommand:
        """Parse ``text``; never raises for a string.

        Parsing reads nothing but its arguments, so the (immutable) results
        for recent short commands are shared.

        Args:
            text: The command as the shell tool will pass it to ``bash -c``.
            trusted_dirs: Absolute directories whose programs are known by
                basename (``/usr/bin/git`` is ``git``); programs elsewhere keep
                their full path as identity (SH-10).

        Raises:
            TypeError: ``text`` is not a string, or ``trusted_dirs`` is not an
                iterable of strings.
            ValueError: A ``trusted_dirs`` entry is not absolute.
        """
        if not isinstance(text, str):
            raise TypeError(f"a shell command must be a str, got {type(text).__name__}")
        return parse_normalised(text, programs.normalise_dirs(trusted_dirs))

    # ---------------------------------------------------------- allow side

    def is_simple(self) -> bool:
        """True when every segment is plain words joined by ``&& || ; |``."""
        return self.reason is None

    def eq(self, text: str) -> bool:
        """True when ``text`` equals the original command exactly (no normalising)."""
        return self.text == _require_str(text, "eq")

    def starts_with(self, prefix: str) -> bool:
        """True when the command is simple and every segment starts with ``prefix``.

        ``prefix`` is tokenized like a command; words match whole words, so
        ``"git status"`` matches ``git status -s`` but not ``git statusx``. A
        trailing blank (``"git commit -m "``) requires at least one more word.

        Raises:
            ShellSyntaxError: ``prefix`` is empty or not one simple command.
        """
        words, more = _prefix(_require_str(prefix, "starts_with"), self.trusted_dirs)
        return self._every_segment_starts(words, more=more)

    def argv_starts_with(self, words: list[str]) -> bool:
        """Like :meth:`starts_with`, with the prefix given as argv words.

        Raises:
            TypeError: ``words`` is not a list or tuple of strings.
            ShellSyntaxError: ``words`` is empty.
        """
        if not isinstance(words, list | tuple) or not all(isinstance(w, str) for w in words):
            raise TypeError("argv_starts_with() takes a list of strings")
        if not words:
            raise ShellSyntaxError("argv_starts_with() needs at least one word")
        head = programs.identity(words[0], self.trusted_dirs)
        return self._every_segment_starts((head, *words[1:]), more=False)

    def program(self) -> str | None:
        """The program of a single-segment simple command, else None.

        A trusted absolute path gives its basename; another absolute path is
        returned whole.
        """
        if not self.is_simple() or len(self.segments) != 1:
            return None
        return self.segments[0].program

    def contains(self, text: str) -> bool:
        """True when ``text`` is a substring of the raw command (deny rules only)."""
        return _require_str(text, "contains") in self.text

    # ----------------------------------------------------------- deny side

    def is_opaque(self) -> bool:
        """True when the programs this command runs cannot all be determined."""
        return self.opaque_reason is not None

    def runs(self, program: str) -> bool:
        """True when the command may run ``program``.

        Looks through wrappers, ``sh -c``/``eval``/``trap`` code and ``find
        -exec``; matches the program identity or its basename. True for any
        opaque command (fail closed).

        Raises:
            ValueError: ``program`` is empty.
        """
        name = _require_str(program, "runs")
        if not name:
            raise ValueError("runs() needs a program name")
        target = programs.identity(name, self.trusted_dirs)
        if self.is_opaque():
            return True
        for seg in self._all_segments():
            candidates = (*seg.wrappers, seg.program) if seg.program else seg.wrappers
            if any(_same_program(c, target) for c in candidates):
                return True
        return False

    def runs_prefix(self, prefix: str) -> bool:
        """True when some segment may run a command starting with ``prefix``.

        The deny-side counterpart of :meth:`starts_with`: *any* segment,
        after wrappers and inside nested code, whose effective argv starts
        with the prefix words (``deny … if command.runs_prefix("git push")``
        matches ``sudo git push`` and ``FOO=1 git push``). A segment running
        the prefix's program with words that are not exact matches too, and
        so does an opaque command. Flag reordering still escapes it
        (``git -C /p push``): see :meth:`has_flags`.

        Raises:
            ShellSyntaxError: ``prefix`` is empty or not one simple command.
        """
        words, more = _prefix(_require_str(prefix, "runs_prefix"), self.trusted_dirs)
        if self.is_opaque():
            return True
        n = len(words)
        for seg in self._all_segments():
            if seg.program is None or not _same_program(seg.program, words[0]):
                continue
            argv = (words[0], *seg.command[1:])
            if not seg.exact or (argv[:n] == words and (not more or len(argv) > n)):
                return True
        return False

    def has_flags(self, program: str, flags: list[str]) -> bool:
        """True when a segment running ``program`` has every flag in ``flags``.

        Short flags are matched inside clusters (``-r`` is in ``-rf``, ``-fr``,
        ``-rfv``); ``--name`` matches ``--name=value``; a flag written like
        ``-exec`` (one dash, several letters) matches that whole word. An entry
        may list alternatives: ``"-r|-R|--recursive"``. Words after ``--`` are
        not flags. True for an opaque command, and for a matching segment
        whose words are not exact.

        Raises:
            TypeError: ``flags`` is not a list of strings.
            ValueError: A flag does not start with ``-``.
        """
        name = _require_str(program, "has_flags")
        if not isinstance(flags, list | tuple) or not all(isinstance(f, str) for f in flags):
            raise TypeError("has_flags() takes a list of flag strings")
        wanted = [tuple(f.split("|")) for f in flags]
        for alternatives in wanted:
            for alt in alternatives:
                if not alt.startswith("-") or alt == "-":
                    raise ValueError(f"has_flags(): {alt!r} is not a flag")
        if self.is_opaque():
            return True
        target = programs.identity(name, self.trusted_dirs)
        for seg in self._all_segments():
            if seg.program is None or not _same_program(seg.program, target):
                continue
            present = shell_flags.flag_set(seg.command[1:])
            if not seg.exact or all(any(a in present for a in alts) for alts in wanted):
                return True
        return False

    def has_dangerous_flags(self) -> bool:
        """True when a segment uses a flag listed in :data:`DANGEROUS_FLAGS`.

        Also true under ``xargs`` (its arguments come from stdin), for a
        listed program whose words are not exact, and for an opaque command.
        """
        if self.is_opaque():
            return True
        for seg in self._all_segments():
            if "xargs" in seg.wrappers:
                return True
            if seg.program is None:
                continue
            if shell_flags.basename(seg.program) not in DANGEROUS_FLAGS:
                continue
            if not seg.exact or shell_flags.dangerous_flag(seg.program, seg.command[1:]):
                return True
        return False

    def written_paths(self) -> tuple[str, ...]:
        """Targets of output redirections (``>``, ``>>``, ``&>``, ``<>``, ``>&file``).

        Includes nested ``sh -c`` code (BY-3). Only redirections are listed,
        not files a program writes itself (``tee``, ``cp``, ``sed -i``). For
        an opaque command the list is incomplete: check :meth:`is_opaque`.
        """
        return tuple(
            r.target for seg in self._all_segments() for r in seg.redirections if r.writes()
        )

    def read_paths(self) -> tuple[str, ...]:
        """Targets of input redirections (``<``, ``<>``), nested code included."""
        return tuple(
            r.target for seg in self._all_segments() for r in seg.redirections if r.reads()
        )

    # ------------------------------------------------------------- helpers

    def _all_segments(self) -> Iterator[Segment]:
        for seg in self.segments:
            yield seg
            for inner in seg.nested:
                yield from inner._all_segments()

    def _every_segment_starts(self, words: tuple[str, ...], *, more: bool) -> bool:
        if not self.is_simple():
            return False
        n = len(words)
        for seg in self.segments:
            argv = (seg.program or "", *seg.argv[1:])
            if argv[:n] != words or (more and len(argv) <= n):
                return False
        return True


def _require_str(value: object, method: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{method}() takes a string, got {type(value).__name__}")
    return value


def _is_fd_word(word: str) -> bool:
    return word == "-" or (word.isascii() and word.isdigit())


def _same_program(candidate: str, target: str) -> bool:
    return candidate == target or shell_flags.basename(candidate) == target


def parse_normalised(text: str, trusted: frozenset[str]) -> ShellCommand:
    """:meth:`ShellCommand.parse` for ``trusted`` already normalised.

    Parsing is a pure function of the text and the trusted directories (no
    filesystem, environment or working directory), and a :class:`ShellCommand`
    is immutable, so the parses of recent short commands are shared.
    """
    if type(text) is str and len(text) <= _CACHE_MAX_CHARS:
        return _parse_cached(text, trusted)
    return _parse(text, trusted, 0)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_cached(text: str, trusted: frozenset[str]) -> ShellCommand:
    return _parse(text, trusted, 0)


def _prefix(prefix: str, trusted: frozenset[str]) -> tuple[tuple[str, ...], bool]:
    """Tokenize a ``starts_with`` prefix into words and a needs-more flag.

    Policies pass the same literal prefix on every call: its words are kept.
    """
    if type(prefix) is str:
        return _prefix_cached(prefix, trusted)
    return _prefix_words(prefix, trusted)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _prefix_cached(prefix: str, trusted: frozenset[str]) -> tuple[tuple[str, ...], bool]:
    return _prefix_words(prefix, trusted)


def _prefix_words(prefix: str, trusted: frozenset[str]) -> tuple[tuple[str, ...], bool]:
    cmd = _parse(prefix, trusted, 0)
    if not cmd.is_simple():
        raise ShellSyntaxError(f"prefix {prefix!r} is not a simple command: {cmd.reason}")
    if len(cmd.segments) != 1 or cmd.segments[0].operator is not None:
        raise ShellSyntaxError(f"prefix {prefix!r} must be one command without operators")
    last = max(tok.end for tok in lexer.tokens(prefix) if isinstance(tok, lexer.Word))
    tail = prefix[last:]
    if tail.strip(" \t"):
        raise ShellSyntaxError(f"prefix {prefix!r} ends with {tail.strip()!r}; remove it")
    seg = cmd.segments[0]
    return (seg.program or "", *seg.argv[1:]), bool(tail)


def _parse(text: str, trusted: frozenset[str], depth: int) -> ShellCommand:
    def opaque(why: str) -> ShellCommand:
        return ShellCommand(text, (), why, why, trusted)

    if len(text) > MAX_COMMAND_CHARS:
        return opaque(f"command is longer than {MAX_COMMAND_CHARS} characters")
    if "\0" in text:
        return opaque(f"NUL byte at column {text.index(chr(0)) + 1}")
    if depth > MAX_NESTING:
        return opaque(f"code nested more than {MAX_NESTING} levels deep")
    try:
        raw = lexer.segments(text, max_segments=MAX_SEGMENTS)
    except lexer.LexError as exc:
        return opaque(str(exc))
    segments = tuple(_segment(r, trusted, depth) for r in raw)
    reason = _invisible(text)
    if not segments:
        reason = reason or "empty command"
    for _, why in segments:
        reason = reason or why
    opaque_reason = next((s.opaque_reason for s, _ in segments if s.opaque_reason), None)
    return ShellCommand(text, tuple(s for s, _ in segments), reason, opaque_reason, trusted)


def _invisible(text: str) -> str | None:
    """Name the first control or invisible character (BY-5, B-08)."""
    # str.isprintable is False exactly for the categories "C*" and "Z*" but
    # the ASCII space: the same set as _INVISIBLE_CATEGORIES, checked in C.
    if text.isprintable():
        return None
    return _invisible_scan(text)


def _invisible_scan(text: str) -> str | None:
    for i, ch in enumerate(text):
        if ch in "\n\t ":
            continue
        if unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
            return f"control or invisible character U+{ord(ch):04X} at column {i + 1}"
    return None


def _segment(
    raw: lexer.RawSegment, trusted: frozenset[str], depth: int
) -> tuple[Segment, str | None]:
    """Build one segment and the first reason it is not simple."""
    k = 0
    while k < len(raw.words) and raw.words[k].assignment:
        k += 1
    leading, words = raw.words[:k], raw.words[k:]
    argv = tuple([w.value for w in words])
    exact = tuple([w.expansion is None for w in words])
    resolved = programs.resolve(argv, exact, trusted)
    redirections = tuple([_redirection(r) for r in raw.redirections])
    nested: tuple[ShellCommand, ...] = ()
    if resolved.code or resolved.argvs:
        nested = tuple(
            [_parse(code, trusted, depth + 1) for code in resolved.code]
            + [_parse(shlex.join(a), trusted, depth + 1) for a in resolved.argvs]
        )
    opaque = resolved.opaque or _opaque_segment(leading, raw, nested)
    seg = Segment(
        argv,
        raw.operator,
        redirections,
        tuple([w.value for w in leading]) + resolved.assignments,
        resolved.wrappers,
        resolved.command,
        resolved.program,
        all(exact),
        nested,
        opaque,
    )
    reason = _first_reason(raw, leading, words, resolved)
    if reason is None and opaque is not None:
        reason = opaque
    return seg, reason


def _opaque_segment(
    leading: tuple[lexer.Word, ...], raw: lexer.RawSegment, nested: tuple[ShellCommand, ...]
) -> str | None:
    risky = programs.dangerous_assignment([w.value for w in leading]) if leading else None
    if risky is not None:
        return f"assignment {risky!r} changes what programs run"
    for r in raw.redirections:
        if r.target.expansion is not None and not r.target.tilde_only:
            return f"redirection target {r.target.raw!r} comes from an expansion"
    return next((f"nested code: {n.opaque_reason}" for n in nested if n.opaque_reason), None)


def _first_reason(
    raw: lexer.RawSegment,
    leading: tuple[lexer.Word, ...],
    words: tuple[lexer.Word, ...],
    resolved: programs.Resolved,
) -> str | None:
    """Why this segment is not simple, checked in the order of the table."""
    return next(_reasons(raw, leading, words, resolved), None)


def _reasons(
    raw: lexer.RawSegment,
    leading: tuple[lexer.Word, ...],
    words: tuple[lexer.Word, ...],
    resolved: programs.Resolved,
) -> Iterator[str]:
    if leading:
        yield f"assignment {leading[0].raw!r} at column {leading[0].start + 1}"
    for w in words:
        if w.expansion is not None:
            yield f"{w.expansion} at column {w.expansion_at + 1}"
    if raw.redirections:
        op = raw.redirections[0].operator
        yield f"redirection {op.op!r} at column {op.start + 1}"
    if raw.operator in {"&", "|&"}:
        yield f"operator {raw.operator!r} after {words[0].raw!r}"
    if programs.is_relative_path(words[0].value):
        yield f"relative program path {words[0].value!r} at column {words[0].start + 1}"
    if resolved.wrappers:
        yield f"wrapper {resolved.wrappers[0]!r} at column {words[0].start + 1}"
    if resolved.reason or resolved.opaque:
        yield resolved.reason or resolved.opaque or ""


def _redirection(raw: lexer.RawRedirection) -> Redirection:
    op = raw.operator
    if op.fd is not None:
        fd: int | None = op.fd
    elif op.op in {"&>", "&>>"}:
        fd = None
    else:
        fd = 0 if op.op.startswith("<") else 1
    written = op.op if op.fd is None else f"{op.fd}{op.op}"
    return Redirection(written, fd, raw.target.value, raw.target.expansion is None)
