"""Flag normalisation and the dangerous-flag table of shell policies (SH-06, SH-08).

:func:`flag_set` makes ``-rf``, ``-fr`` and ``-r -f`` compare equal;
:data:`DANGEROUS_FLAGS` lists the flags that turn a usually read-only tool
into one that writes files or runs commands (CDX-3). The table is documented
in :mod:`actrio.policy.shell`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence


def basename(program: str) -> str:
    """The last path component of ``program``."""
    return program.rsplit("/", 1)[-1]


#: Flags that make a usually read-only program write files or run commands (SH-08).
DANGEROUS_FLAGS: Final[dict[str, frozenset[str]]] = {
    name: frozenset(flags.split())
    for name, flags in {
        "find": "-exec -execdir -ok -okdir -delete -fprint -fprint0 -fprintf -fls",
        "rg": "--pre --pre-glob --hostname-bin -z --search-zip",
        "base64": "-o --output",
        "sed": "-i --in-place",
        "tar": "--to-command --use-compress-program -I --checkpoint-action --info-script "
        "--new-volume-script -F",
        "curl": "-o -O --output --remote-name --remote-name-all --output-dir -K --config "
        "-T --upload-file",
        "wget": "-O -o -a -P --output-document --output-file --append-output --directory-prefix",
        "sort": "-o --output --compress-program",
        "git": "--output --upload-pack --receive-pack --exec --extcmd --open-files-in-pager",
    }.items()
}
#: git options before the subcommand that set configuration (a pager, a hook...).
_GIT_GLOBAL_DANGERS: Final = ("-c", "--config-env", "--exec-path")
_GIT_GLOBAL_VALUED: Final = frozenset({"-C", "--git-dir", "--work-tree", "--namespace"})
#: git subcommands that run a command given on the command line.
_GIT_SUBCOMMAND_DANGERS: Final[dict[str, frozenset[str]]] = {
    "grep": frozenset({"-O"}),
    "rebase": frozenset({"-x"}),
    "difftool": frozenset({"-x"}),
    "fetch": frozenset({"-u"}),
    "pull": frozenset({"-u"}),
    "clone": frozenset({"-u"}),
    "ls-remote": frozenset({"-u"}),
}
_GIT_RUNNING_SUBCOMMANDS: Final = frozenset(
    {("filter-branch", ""), ("bisect", "run"), ("submodule", "foreach")}
)


def flag_set(args: Sequence[str]) -> frozenset[str]:
    """The flags written in ``args``, normalised for matching.

    Each ``-xyz`` word contributes itself and ``-x``, ``-y``, ``-z`` (so
    ``-rf`` == ``-r -f`` == ``-fr``); each ``--name=value`` contributes
    ``--name``. Words after ``--`` are operands and contribute nothing.
    """
    out: set[str] = set()
    for a in args:
        if a == "--":
            break
        if a.startswith("--"):
            out.add(a.partition("=")[0])
        elif a.startswith("-") and len(a) > 1:
            out.add(a)
            out.update("-" + ch for ch in a[1:])
    return frozenset(out)


def dangerous_flag(program: str, args: Sequence[str]) -> str | None:
    """The first dangerous flag of ``program args``, a program listed in the table."""
    name = basename(program)
    if name == "tar" and args and not args[0].startswith("-"):
        args = ("-" + args[0], *args[1:])
    table = DANGEROUS_FLAGS[name]
    if name == "git":
        found = _git_danger(args)
        if found is not None:
            return found
    present = flag_set(args)
    return next((f for f in sorted(table) if f in present), None)


def _git_danger(args: Sequence[str]) -> str | None:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        if a.startswith(_GIT_GLOBAL_DANGERS):
            return a
        i += 2 if a in _GIT_GLOBAL_VALUED else 1
    if i >= len(args):
        return None
    sub, rest = args[i], args[i + 1 :]
    if (sub, rest[0] if rest else "") in _GIT_RUNNING_SUBCOMMANDS or (sub, "") in (
        _GIT_RUNNING_SUBCOMMANDS
    ):
        return f"git {sub}"
    present = flag_set(rest)
    return next((f for f in sorted(_GIT_SUBCOMMAND_DANGERS.get(sub, ())) if f in present), None)
