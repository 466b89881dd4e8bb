"""What one command runs: program identity, wrappers, nested code, inline code.

Pure functions over a command's words (after quote removal) and a mask saying
which words are exact. :mod:`actrio.policy.shell` builds its segments with
them; the tables here are the ones its module docstring documents.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import attrs

from actrio.policy._shell_flags import basename

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Directories whose programs are known by their basename (SH-10).
DEFAULT_TRUSTED_DIRS: Final = frozenset(
    {"/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"}
)

#: Shells whose ``-c`` string is analysed again as a command.
SHELLS: Final = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash", "fish"})
#: Builtins that run their arguments as shell code.
CODE_BUILTINS: Final = frozenset({"eval", "trap"})
#: Builtins that run a script file in the current shell.
SOURCE_BUILTINS: Final = frozenset({"source", "."})
#: Builtins that change what a program name means for later commands.
RENAMING_BUILTINS: Final = frozenset({"alias", "hash", "enable"})
#: Builtins that set variables from their arguments.
DECLARING_BUILTINS: Final = frozenset({"export", "declare", "typeset", "local", "readonly"})
#: Variables that change which program a name runs, or run code themselves.
DANGEROUS_VARIABLES: Final = frozenset(
    {"PATH", "BASH_ENV", "ENV", "IFS", "LD_PRELOAD", "LD_LIBRARY_PATH", "SHELLOPTS", "BASHOPTS"}
)
#: ``find`` actions that run a command.
FIND_EXEC_ACTIONS: Final = frozenset({"-exec", "-execdir", "-ok", "-okdir"})


@attrs.frozen
class _Options:
    """How a wrapper or interpreter reads its options."""

    flags: frozenset[str] = frozenset()
    valued: frozenset[str] = frozenset()
    opaque: frozenset[str] = frozenset()
    positional: int = 0
    assignments: bool = False
    default: str | None = None


def _opts(
    flags: str = "",
    valued: str = "",
    opaque: str = "",
    *,
    positional: int = 0,
    assignments: bool = False,
    default: str | None = None,
) -> _Options:
    return _Options(
        frozenset(flags.split()),
        frozenset(valued.split()),
        frozenset(opaque.split()),
        positional,
        assignments,
        default,
    )


#: Wrappers: programs that run the command written after their own options.
WRAPPERS: Final[dict[str, _Options]] = {
    "env": _opts(
        "- -i -0 -v --ignore-environment --null --debug --default-signal --ignore-signal "
        "--block-signal --list-signal-handling",
        "-u --unset -C --chdir",
        "-S --split-string",
        assignments=True,
    ),
    "command": _opts("-p -v -V"),
    "builtin": _opts(),
    "exec": _opts("-c -l", "-a"),
    "nice": _opts(" ".join(f"-{d}" for d in range(10)), "-n --adjustment"),
    "nohup": _opts(),
    "timeout": _opts(
        "--preserve-status --foreground -v --verbose", "-s -k --signal --kill-after", positional=1
    ),
    "stdbuf": _opts("", "-i -o -e --input --output --error"),
    "time": _opts(
        "-p -a -v -q --append --verbose --quiet --portability", "-f -o --format --output"
    ),
    "sudo": _opts(
        "-A -b -E -H -K -k -l -n -P -S -V -v -N --askpass --background --preserve-env "
        "--set-home --remove-timestamp --reset-timestamp --list --non-interactive "
        "--preserve-groups --stdin --validate",
        "-C -D -g -h -p -R -r -T -t -U -u --close-from --chdir --group --host --prompt "
        "--chroot --role --command-timeout --type --other-user --user",
        "-s -i -e --shell --login --edit",
        assignments=True,
    ),
    "xargs": _opts(
        "-0 -p -r -t -x -o --null --interactive --no-run-if-empty --verbose --exit "
        "--open-tty --show-limits --replace --max-lines --eof",
        "-I -i -L -l -n -P -s -d -E -e -a --arg-file --delimiter --max-args --max-procs "
        "--max-chars --process-slot-var",
        default="echo",
    ),
    "doas": _opts("-n -L", "-u -C", "-s"),
    "busybox": _opts(),
    "setsid": _opts("-c -f -w --ctty --fork --wait"),
    "ionice": _opts("-t --ignore", "-c -n -p -P -u --class --classdata --pid --pgid --uid"),
}

_INLINE_CODE: Final[dict[str, tuple[frozenset[str], _Options]]] = {
    "python": (frozenset({"-c"}), _opts("", "-W -X -Q", "-m")),
    "node": (frozenset({"-e", "-p", "--eval", "--print"}), _opts("", "-r --require --import")),
    "bun": (frozenset({"-e", "-p", "--eval", "--print"}), _opts()),
    "perl": (frozenset({"-e", "-E"}), _opts("", "-I -M -m")),
    "ruby": (frozenset({"-e"}), _opts("", "-I -r")),
    "php": (frozenset({"-r"}), _opts("", "-d -c")),
    "lua": (frozenset({"-e"}), _opts("", "-l")),
    "Rscript": (frozenset({"-e"}), _opts()),
    "osascript": (frozenset({"-e"}), _opts()),
}
#: Versioned and alternative interpreter names; the group name is the canonical one.
_INTERPRETER_ALIASES: Final = re.compile(
    r"(?P<python>(?:python|pypy)[0-9.]*)|(?P<node>nodejs)|(?P<lua>luajit|lua[0-9.]+)"
    r"|(?P<perl>perl[0-9.]+)|(?P<ruby>ruby[0-9.]+)|(?P<php>php[0-9.]+)"
)
_AWKS: Final = frozenset({"awk", "gawk", "mawk", "nawk"})
_AWK_OPTIONS: Final = _opts("", "-F -v --field-separator --assign", "-f --file")
_SHELL_VALUED: Final = frozenset({"-o", "-O", "+o", "+O", "--rcfile", "--init-file"})


class _Opaque(Exception):
    """Raised inside the resolver; the segment is opaque for deny checks."""


@attrs.frozen
class Resolved:
    """What one command runs, after looking through its wrappers.

    Attributes:
        wrappers: Wrapper programs, outermost first.
        command: Argv of the wrapped (effective) command.
        program: Identity of ``command[0]``, or None when nothing runs.
        assignments: ``NAME=value`` words given to ``env`` or ``sudo``.
        code: Shell code this command runs (``sh -c``, ``eval``, ``trap``).
        argvs: Commands this command runs by argv (``find -exec``).
        reason: Why the command is not simple (from the program's side).
        opaque: Why deny checks must fail closed for this command.
    """

    wrappers: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    program: str | None = None
    assignments: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    argvs: tuple[tuple[str, ...], ...] = ()
    reason: str | None = None
    opaque: str | None = None


def normalise_dirs(dirs: object) -> frozenset[str]:
    """Check and normalise a ``trusted_dirs`` option.

    Raises:
        TypeError: ``dirs`` is a string or holds a non-string.
        ValueError: A directory is not absolute.
    """
    if isinstance(dirs, str) or not hasattr(dirs, "__iter__"):
        raise TypeError(f"trusted_dirs must be an iterable of paths, got {type(dirs).__name__}")
    out: set[str] = set()
    for d in dirs:
        if not isinstance(d, str):
            raise TypeError(f"trusted_dirs holds a {type(d).__name__}, expected str")
        if not d.startswith("/"):
            raise ValueError(f"trusted_dirs entry {d!r} is not an absolute path")
        out.add(posixpath.normpath(d))
    return frozenset(out)


def identity(word: str, trusted: frozenset[str]) -> str:
    """The name a program word is known by.

    A bare name is itself; an absolute path in a trusted directory is its
    basename; any other path is returned unchanged (so it never equals a bare
    name a policy wrote).
    """
    if "/" not in word or not word.startswith("/"):
        return word
    norm = posixpath.normpath(word)
    head, tail = posixpath.split(norm)
    return tail if head in trusted and tail else word


def is_relative_path(word: str) -> bool:
    """True for a program word that is a path relative to the working directory."""
    return "/" in word and not word.startswith("/")


def is_plain_program(word: str, trusted: frozenset[str]) -> bool:
    """True when :func:`resolve` finds nothing special in any exact argv starting with ``word``.

    That is: the program is not a wrapper, has no per-program rule (shells,
    ``eval``, ``find``, ...) and is not an interpreter. Then ``resolve`` of
    exact words stops at the first word, and :func:`_classify` returns the
    plain result: no wrapper, reason, opaque reason, code or argvs.
    """
    name = basename(identity(word, trusted))
    return name not in WRAPPERS and name not in _HANDLERS and _interpreter(name) is None


def resolve(words: Sequence[str], exact: Sequence[bool], trusted: frozenset[str]) -> Resolved:
    """Look through wrappers and find what ``words`` runs.

    Args:
        words: The command's argv (after leading assignments).
        exact: For each word, whether its value is exact.
        trusted: Trusted program directories.
    """
    wrappers: list[str] = []
    assignments: list[str] = []
    xargs_options: list[str] = []
    i = 0
    try:
        while i < len(words):
            if not exact[i]:
                raise _Opaque(f"program name {words[i]!r} comes from an expansion")
            name = basename(identity(words[i], trusted))
            spec = WRAPPERS.get(name)
            if spec is None:
                break
            wrappers.append(name)
            start, i = i + 1, _skip_options(spec, words, exact, i + 1, name)
            if name == "xargs":
                xargs_options.extend(words[start:i])
            i = _skip_assignments(spec, words, exact, i, assignments)
            if i >= len(words) and spec.default is not None:
                return _finish(wrappers, (spec.default,), (True,), trusted, assignments)
    except _Opaque as exc:
        return Resolved(
            tuple(wrappers), tuple(words[i:]), None, tuple(assignments), opaque=str(exc)
        )
    done = _finish(wrappers, tuple(words[i:]), tuple(exact[i:]), trusted, assignments)
    if "xargs" in wrappers:
        why = _xargs_risk(xargs_options, done)
        if why is not None:
            return attrs.evolve(done, opaque=why)
    return done


def _xargs_risk(options: Sequence[str], done: Resolved) -> str | None:
    """Why stdin words given by ``xargs`` may change what runs, else None."""
    for o in options:
        short = o.startswith("-") and not o.startswith("--")
        if o.startswith("--replace") or (short and ("I" in o or "i" in o)):
            return "xargs -I puts stdin words into the command"
    if done.program is None:
        return "xargs takes the command from stdin"
    name = basename(done.program)
    if name in SHELLS or name in CODE_BUILTINS or name == "find" or _interpreter(name):
        return f"xargs gives stdin words to {name!r}, which runs them as code"
    return None


def _skip_options(
    spec: _Options, words: Sequence[str], exact: Sequence[bool], i: int, owner: str
) -> int:
    """Return the index after ``owner``'s options and positional arguments."""
    n = len(words)
    while i < n:
        if not exact[i]:
            raise _Opaque(f"argument of {owner!r} comes from an expansion")
        w = words[i]
        if w == "--":
            i += 1
            break
        if w == "-" and "-" in spec.flags:
            i += 1
            continue
        if not w.startswith("-") or w == "-":
            break
        after = _option(spec, words, i, owner)
        if not all(exact[i:after]):
            raise _Opaque(f"argument of {owner!r} comes from an expansion")
        i = after
    end = i + spec.positional
    if end > n:
        raise _Opaque(f"{owner!r} is missing an argument")
    return end


def _option(spec: _Options, words: Sequence[str], i: int, owner: str) -> int:
    """Read the option word at ``i`` and return the index after it."""
    w = words[i]
    if w.startswith("--"):
        name, eq, _ = w.partition("=")
        if name in spec.opaque:
            raise _Opaque(f"{owner} {name} runs a command that is not a plain argv")
        if name in spec.valued:
            return i + (1 if eq else 2)
        if name in spec.flags:
            return i + 1
        raise _Opaque(f"unknown option {w!r} of {owner!r}")
    for k, ch in enumerate(w[1:], start=2):
        opt = "-" + ch
        if opt in spec.opaque:
            raise _Opaque(f"{owner} {opt} runs a command that is not a plain argv")
        if opt in spec.valued:
            return i + (1 if k < len(w) else 2)
        if opt not in spec.flags:
            raise _Opaque(f"unknown option {opt!r} of {owner!r}")
    return i + 1


def _skip_assignments(
    spec: _Options, words: Sequence[str], exact: Sequence[bool], i: int, out: list[str]
) -> int:
    if not spec.assignments:
        return i
    while i < len(words) and assignment_name(words[i]) is not None:
        if not exact[i]:
            raise _Opaque("assignment given to a wrapper comes from an expansion")
        out.append(words[i])
        i += 1
    return i


def assignment_name(word: str) -> str | None:
    """The variable name of a ``NAME=value`` word, else None."""
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\+?=", word)
    return m.group(1) if m else None


def dangerous_assignment(words: Sequence[str]) -> str | None:
    """The first word that sets a variable changing what names run, else None."""
    for w in words:
        name = assignment_name(w)
        if name is not None and (name in DANGEROUS_VARIABLES or name.startswith("BASH_FUNC_")):
            return w
    return None


def _finish(
    wrappers: list[str],
    command: tuple[str, ...],
    exact: tuple[bool, ...],
    trusted: frozenset[str],
    assignments: list[str],
) -> Resolved:
    """Classify the effective command once wrappers are peeled off."""
    risky = dangerous_assignment(assignments) if assignments else None
    if risky is not None:
        why = f"assignment {risky!r} changes what programs run"
        return Resolved(tuple(wrappers), command, None, tuple(assignments), opaque=why)
    if not command:
        return Resolved(tuple(wrappers), command, None, tuple(assignments))
    program = identity(command[0], trusted)
    base = Resolved(tuple(wrappers), command, program, tuple(assignments))
    return _classify(base, basename(program), command[1:], exact[1:])


def _classify(
    base: Resolved, name: str, args: tuple[str, ...], exact: tuple[bool, ...]
) -> Resolved:
    """Apply the per-program rules (shells, eval, interpreters, find, ...)."""
    handler = _HANDLERS.get(name, _interpreter_or_plain)
    return handler(base, name, args, exact)


def _source(base: Resolved, name: str, args: tuple[str, ...], exact: tuple[bool, ...]) -> Resolved:
    return attrs.evolve(base, reason=f"{name!r} runs a script in the current shell")


def _renaming(
    base: Resolved, name: str, args: tuple[str, ...], exact: tuple[bool, ...]
) -> Resolved:
    return attrs.evolve(
        base, reason=f"{name!r} changes what names run", opaque=f"{name!r} renames programs"
    )


def _declaring(
    base: Resolved, name: str, args: tuple[str, ...], exact: tuple[bool, ...]
) -> Resolved:
    risky = dangerous_assignment(args)
    if risky is None and all(exact):
        return base
    what = repr(risky) if risky else "an expanded word"
    return attrs.evolve(base, opaque=f"{name} {what} may change what programs run")


def _interpreter_or_plain(
    base: Resolved, name: str, args: tuple[str, ...], exact: tuple[bool, ...]
) -> Resolved:
    inline = _inline_code(name, args, exact)
    return base if inline is None else attrs.evolve(base, reason=inline, opaque=inline)


def _shell(base: Resolved, name: str, args: tuple[str, ...], exact: tuple[bool, ...]) -> Resolved:
    has_c = False
    i = 0
    while i < len(args):
        if not exact[i]:
            return attrs.evolve(base, opaque=f"argument of {name!r} comes from an expansion")
        w = args[i]
        if w[:1] not in {"-", "+"} or w in {"-", "+"}:
            break
        i += 1
        if w == "--":
            break
        if w in _SHELL_VALUED or (not w.startswith("--") and w[-1] in "oO"):
            i += 1
        elif not w.startswith("--") and "c" in w:
            has_c = True
    if not has_c:
        return base
    reason = f"{name} -c runs a string as shell code"
    if i >= len(args):
        return attrs.evolve(base, reason=reason)
    return attrs.evolve(base, reason=reason, code=(args[i],))


def _code_builtin(
    base: Resolved, name: str, args: tuple[str, ...], exact: tuple[bool, ...]
) -> Resolved:
    reason = f"{name!r} runs its arguments as shell code"
    if not all(exact):
        return attrs.evolve(base, reason=reason, opaque=f"{name} code comes from an expansion")
    if name == "eval":
        code = " ".join(args[1:] if args[:1] == ("--",) else args)
        return attrs.evolve(base, reason=reason, code=(code,) if code.strip() else ())
    rest = [a for a in args if a not in {"-p", "-l"}]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if len(rest) >= 2 and rest[0] != "-":
        return attrs.evolve(base, reason=reason, code=(rest[0],))
    return attrs.evolve(base, reason=reason)


def _find(base: Resolved, name: str, args: tuple[str, ...], exact: tuple[bool, ...]) -> Resolved:
    if not all(exact):
        return attrs.evolve(base, opaque="an argument of 'find' comes from an expansion")
    argvs: list[tuple[str, ...]] = []
    i = 0
    while i < len(args):
        if args[i] in FIND_EXEC_ACTIONS:
            end = i + 1
            while end < len(args) and args[end] not in {";", "+"}:
                end += 1
            if end > i + 1:
                argvs.append(args[i + 1 : end])
            i = end
        i += 1
    return attrs.evolve(base, argvs=tuple(argvs))


_Handler = Callable[[Resolved, str, tuple[str, ...], tuple[bool, ...]], Resolved]
_HANDLERS: Final[dict[str, _Handler]] = {
    **dict.fromkeys(SHELLS, _shell),
    **dict.fromkeys(CODE_BUILTINS, _code_builtin),
    **dict.fromkeys(SOURCE_BUILTINS, _source),
    **dict.fromkeys(RENAMING_BUILTINS, _renaming),
    **dict.fromkeys(DECLARING_BUILTINS, _declaring),
    "find": _find,
}


def _interpreter(name: str) -> str | None:
    if name in _INLINE_CODE or name in _AWKS:
        return name
    m = _INTERPRETER_ALIASES.fullmatch(name)
    return None if m is None else m.lastgroup


def _inline_code(name: str, args: tuple[str, ...], exact: tuple[bool, ...]) -> str | None:
    """Why ``name args`` runs inline code, or None."""
    kind = _interpreter(name)
    if kind is None:
        return None
    if kind in _AWKS:
        inline, spec = frozenset[str](), _AWK_OPTIONS
    else:
        inline, spec = _INLINE_CODE[kind]
    i = 0
    while i < len(args):
        if not exact[i]:
            return f"argument of {name!r} comes from an expansion"
        w = args[i]
        if not w.startswith("-") or w == "-":
            break
        if w == "--":
            i += 1
            break
        found = _scan_interpreter_option(w, inline, spec)
        if found == "inline":
            return f"{name} {w} runs inline code"
        if found == "stop":
            return None
        i += 2 if found == "valued" else 1
    if kind in _AWKS and i < len(args):
        return f"{name} program text can run commands"
    return None


def _scan_interpreter_option(w: str, inline: frozenset[str], spec: _Options) -> str:
    """Classify one option word: inline, stop, valued (takes next word) or flag."""
    if w.startswith("--"):
        name, eq, _ = w.partition("=")
        kind = _option_kind(name, inline, spec)
        return "flag" if kind == "valued" and eq else kind
    for k, ch in enumerate(w[1:], start=2):
        kind = _option_kind("-" + ch, inline, spec)
        if kind == "valued" and k < len(w):
            return "flag"  # the value is attached: -Wignore
        if kind != "flag":
            return kind
    return "flag"


def _option_kind(opt: str, inline: frozenset[str], spec: _Options) -> str:
    if opt in inline:
        return "inline"
    if opt in spec.opaque:
        return "stop"
    return "valued" if opt in spec.valued else "flag"
