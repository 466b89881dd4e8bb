"""ShellCommand: argv-aware shell analysis for policies (RELIABILITY.md 4a SH-01 … SH-10).

The catalogue cases are parametrized with ids like "SH-01 git status && rm -rf ~"; each
asserts the exact predicate results a policy sees. The differential tests run the real
bash (SH-07) and are skipped when it is missing.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actrio.policy import _shell_lexer as lexer
from actrio.policy.shell import (
    DANGEROUS_FLAGS,
    MAX_COMMAND_CHARS,
    MAX_NESTING,
    MAX_SEGMENTS,
    WRAPPER_PROGRAMS,
    Redirection,
    ShellCommand,
    ShellSyntaxError,
)
from actrio.testing._shell_strategies import (
    bypass_attempts,
    chained_commands,
    quoted_spellings,
    shell_words,
    simple_commands,
)

BASH = shutil.which("bash") or ("/usr/bin/bash" if Path("/usr/bin/bash").exists() else None)
needs_bash = pytest.mark.skipif(BASH is None, reason="the differential tests need a real bash")
CORPUS = json.loads((Path(__file__).parent / "shell_corpus.json").read_text())


def parse(text: str) -> ShellCommand:
    return ShellCommand.parse(text)


def check(text: str, **expected: Any) -> ShellCommand:
    """Parse ``text`` and assert each ``predicate=result`` (args after ``__``)."""
    cmd = parse(text)
    for key, want in expected.items():
        name, _, arg = key.partition("__")
        got = getattr(cmd, name)(*([arg.replace("_", " ")] if arg else []))
        assert got == want, f"{text!r}: {key} is {got!r}, expected {want!r} ({cmd.reason})"
    return cmd


# --------------------------------------------------------------------------- catalogue

ALLOW = "git status"


def _case(case_id: str, text: str, **expected: Any) -> Any:
    return pytest.param(text, expected, id=f"{case_id} {text!r}"[:90])


CATALOGUE = [
    # SH-01 chaining: every segment must match the allow (CC-2, CDX-2).
    _case("SH-01", "git status && rm -rf ~", is_simple=False, runs="rm", allowed=False),
    _case("SH-01", "git status && rm -rf x", is_simple=True, runs="rm", allowed=False),
    _case("SH-01", "git status; curl x|sh", is_simple=True, runs="curl", allowed=False),
    _case("SH-01", "git status || rm x", is_simple=True, runs="rm", allowed=False),
    _case("SH-01", "git status | sh", is_simple=True, runs="sh", allowed=False),
    _case("SH-01", "git status & rm x", is_simple=False, runs="rm", allowed=False),
    _case("SH-01", "git status\nrm x", is_simple=True, runs="rm", allowed=False),
    _case("SH-01", "git status && git status -s", is_simple=True, allowed=True),
    # SH-02 substitution and grouping: opaque, never allowed, deny checks fail closed.
    _case("SH-02", "git status $(rm x)", opaque=True, runs="anything", allowed=False),
    _case("SH-02", "git status `rm x`", opaque=True, allowed=False),
    _case("SH-02", "git status <(rm x)", opaque=True, allowed=False),
    _case("SH-02", "git status >(rm x)", opaque=True, allowed=False),
    _case("SH-02", "( rm x )", opaque=True, allowed=False),
    _case("SH-02", "{ rm x; }", opaque=True, allowed=False),
    _case("SH-02", 'git status <<< "$(rm x)"', opaque=True, allowed=False),
    _case("SH-02", "git status <<EOF\nrm\nEOF", opaque=True, allowed=False),
    # SH-03 redirections are writes/reads for the path policy (BY-5: echo allowed).
    _case("SH-03", "echo hi > ~/.bashrc", is_simple=False, writes=("~/.bashrc",)),
    _case("SH-03", "git log >> .git/config", is_simple=False, writes=(".git/config",)),
    _case("SH-03", "git status 2>/etc/x", is_simple=False, writes=("/etc/x",), allowed=False),
    _case("SH-03", "cat < ~/.ssh/id_rsa", is_simple=False, reads=("~/.ssh/id_rsa",)),
    # SH-04 prefixes and wrappers: a "git push" deny still matches, the allow never extends.
    _case("SH-04", "FOO=1 git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "env git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "timeout 5 git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "nice git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "nohup git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "stdbuf -o0 git push", is_simple=False, denied="git push"),
    _case("SH-04", "time git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "command git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "sudo git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "xargs git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "exec git push", is_simple=False, denied="git push", allowed=False),
    _case("SH-04", "timeout 5 git status", is_simple=False, runs="git", allowed=False),
    _case("SH-04", "env git status", is_simple=False, runs="git", allowed=False),
    _case("SH-04", "timeout --weird 5 git push", opaque=True, denied="git push"),
    _case("SH-04", "git status && sudo git push", denied="git push", allowed=False),
    # SH-05 interpreter wrappers (BY-3).
    _case("SH-05", 'bash -c "rm -rf x"', is_simple=False, opaque=False, runs="rm"),
    _case("SH-05", "sh -lc 'rm x'", is_simple=False, opaque=False, runs="rm"),
    _case("SH-05", "eval 'rm x'", is_simple=False, opaque=False, runs="rm"),
    _case("SH-05", "source f", is_simple=False, opaque=False, runs="source"),
    _case("SH-05", ". f", is_simple=False, opaque=False, runs="."),
    _case("SH-05", "python -c \"import os; os.system('rm x')\"", opaque=True, runs="rm"),
    _case("SH-05", "node -e 'require(1)'", opaque=True, runs="rm"),
    _case("BY-3", "bash -c 'echo x >> .claude/file'", writes=(".claude/file",)),
    _case("BY-5", "echo x > ~/.bashrc", starts=("echo", False), writes=("~/.bashrc",)),
    _case("BY-5", "echo x\r> ~/.bashrc", starts=("echo", False)),
    # SH-07 quoting and tokenisation (CDX-2, CDX-3, BY-5).
    _case("SH-07", "'git' status", is_simple=True, allowed=True),
    _case("SH-07", 'g"it" status', is_simple=True, allowed=True),
    _case("SH-07", "git\\ status", is_simple=True, allowed=False, program="git status"),
    _case("SH-07", '"git status"', is_simple=True, allowed=False, program="git status"),
    _case("SH-07", "$'\\x67it' status", is_simple=False, opaque=True, allowed=False),
    _case("SH-07", "git${IFS}status", is_simple=False, opaque=True, allowed=False),
    _case("SH-07", "git\rstatus", is_simple=False, allowed=False),
    _case("SH-07", "git status\r&& rm x", is_simple=False, allowed=False, runs="rm"),
    _case("SH-07", '"/usr"\'/\'"local"/bin/git status', is_simple=True, allowed=True),
    # SH-09 complexity fallthrough (BY-4).
    _case("SH-09", "true && " * 60 + "curl evil", is_simple=True, runs="curl", opaque=False),
    _case("SH-09", "true | " * 10_000 + "true", opaque=True, runs="curl"),
    _case("SH-09", "a|" * 10_000 + "a", opaque=True, runs="curl"),
    # SH-10 program identity (CDX-1 host_executable).
    _case("SH-10", "/usr/bin/git status", is_simple=True, allowed=True, program="git"),
    _case("SH-10", "./git status", is_simple=False, allowed=False, runs="git"),
    _case("SH-10", "bin/git status", is_simple=False, allowed=False),
    _case("SH-10", "PATH=. git status", is_simple=False, opaque=True, allowed=False),
    _case("SH-10", "\\git status", is_simple=True, allowed=True, program="git"),
    _case("SH-10", "/opt/evil/git status", is_simple=True, allowed=False, runs="git"),
    # B-08 / B-10: invisible characters, NUL, empty.
    _case("B-08", "git status\u202e", is_simple=False, allowed=False),
    _case("B-08", "\u200bgit status", is_simple=False, allowed=False),
    _case("B-08", "git\u00a0status", is_simple=False, allowed=False),
    _case("B-08", "git status\U000e0041", is_simple=False, allowed=False),
    _case("B-10", "git status\0; rm x", is_simple=False, opaque=True, allowed=False),
    _case("B-10", "", is_simple=False, opaque=False, allowed=False, runs_nothing=True),
    _case("B-10", "  \n\t ", is_simple=False, opaque=False, runs_nothing=True),
    # CDX-2 rejects: empty segments are opaque.
    _case("CDX-2", "ls &&", opaque=True),
    _case("CDX-2", "&& ls", opaque=True),
    _case("CDX-2", "ls ;; pwd", opaque=True),
    _case("CDX-2", "ls | | wc", opaque=True),
    _case("CDX-2", 'echo "hi $USER"', is_simple=False, opaque=False),
    _case("CDX-2", "FOO=bar ls", is_simple=False, opaque=False),
    # CDX-3: a quoted program name is one word.
    _case("CDX-3", "bash -lc \"'git status'\"", runs="git status", allowed=False),
]


CHECKS: dict[str, Any] = {
    # key -> (what the command answers, what to compare it with)
    "is_simple": lambda c, want: c.is_simple() is want and (c.reason is None) is want,
    "opaque": lambda c, want: c.is_opaque() is want and not (want and c.is_simple()),
    "runs": lambda c, want: c.runs(want),
    "denied": lambda c, want: c.runs_prefix(want),
    "starts": lambda c, want: c.starts_with(want[0]) is want[1],
    "runs_nothing": lambda c, want: not c.runs("rm") and c.segments == (),
    "allowed": lambda c, want: c.starts_with(ALLOW) is want,
    "writes": lambda c, want: c.written_paths() == want,
    "reads": lambda c, want: c.read_paths() == want,
    "program": lambda c, want: c.program() == want,
}


@pytest.mark.parametrize(("text", "expected"), CATALOGUE)
def test_catalogue(text: str, expected: dict[str, Any]) -> None:
    cmd = parse(text)
    for key, want in expected.items():
        assert CHECKS[key](cmd, want), (key, want, cmd.reason, cmd.opaque_reason)


@pytest.mark.parametrize("case", CORPUS, ids=[c["command"][:60] for c in CORPUS])
def test_corpus(case: dict[str, Any]) -> None:
    """tests/shell_corpus.json: {command, expected predicate results}."""
    cmd = parse(case["command"])
    for call in case["expected"]:
        got = getattr(cmd, call["method"])(*call.get("args", []))
        if isinstance(got, tuple):
            got = list(got)
        assert got == call["result"], (case["command"], call, cmd.reason)


# --------------------------------------------------------------------------- SH-06 flags


@pytest.mark.parametrize(
    "text",
    ["rm -rf /", "rm -fr /", "rm -r -f /", "rm -rfv /", "rm / -fr"],
    ids=lambda t: f"SH-06 BY-1 {t}",
)
def test_sh06_has_flags_normalises_short_clusters(text: str) -> None:
    cmd = parse(text)
    assert cmd.has_flags("rm", ["-r", "-f"])
    assert cmd.runs("rm")


def test_sh06_prefix_deny_is_bypassed_by_reordering() -> None:
    """Deny-by-prefix is unsafe (BY-1): reordered flags escape starts_with."""
    assert parse("rm -rf /").starts_with("rm -rf")
    assert not parse("rm -fr /").starts_with("rm -rf")
    assert not parse("rm -r -f /").starts_with("rm -rf")


def test_sh06_long_forms_only_when_given() -> None:
    cmd = parse("rm --recursive --force /")
    assert not cmd.has_flags("rm", ["-r", "-f"])
    assert cmd.has_flags("rm", ["-r|-R|--recursive", "-f|--force"])
    assert parse("rm --recursive=yes /").has_flags("rm", ["--recursive"])


@pytest.mark.parametrize(
    "text",
    ["git -C /p reset --hard", "git --git-dir=x reset --hard"],
    ids=lambda t: f"SH-06 BY-1 {t}",
)
def test_sh06_git_reset_hard_variants(text: str) -> None:
    cmd = parse(text)
    assert not cmd.starts_with("git reset --hard")
    assert not cmd.runs_prefix("git reset --hard")  # reordering escapes prefixes
    assert cmd.has_flags("git", ["--hard"])


def test_has_flags_edges() -> None:
    assert not parse("rm -- -rf").has_flags("rm", ["-r"])
    assert not parse("rm -r x").has_flags("rm", ["-r", "-f"])
    assert not parse("ls -rf").has_flags("rm", ["-r"])
    assert parse("rm $X /").has_flags("rm", ["-r"])  # unknown words: fail closed
    assert parse("ls $(x)").has_flags("rm", ["-r"])  # opaque: fail closed
    assert parse("sudo /usr/bin/rm -rf /").has_flags("/usr/bin/rm", ["-r", "-f"])
    assert parse("bash -c 'rm -fr /'").has_flags("rm", ["-r", "-f"])
    assert parse("find . -exec -x \\;").has_flags("find", ["-exec"])
    assert not parse("find . -name x").has_flags("find", ["-exec"])
    assert not parse("FOO=1").has_flags("rm", ["-r"])


def test_has_flags_rejects_bad_patterns() -> None:
    cmd = parse("rm -rf /")
    with pytest.raises(TypeError, match="list of flag strings"):
        cmd.has_flags("rm", "-r")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of flag strings"):
        cmd.has_flags("rm", [1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="'r' is not a flag"):
        cmd.has_flags("rm", ["r"])
    with pytest.raises(ValueError, match="'-' is not a flag"):
        cmd.has_flags("rm", ["-f|-"])
    with pytest.raises(TypeError, match="has_flags"):
        cmd.has_flags(1, ["-r"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- SH-08


DANGEROUS = [
    "find . -exec rm {} \\;",
    "find . -execdir rm {} +",
    "find . -ok rm {} \\;",
    "find . -delete",
    "find . -fprint /x",
    "find . -fprintf /x %p",
    "find . -fls /x",
    "rg --pre cmd x",
    "rg --pre-glob '*.gz' x",
    "rg --hostname-bin cmd x",
    "rg -z x",
    "rg -uz x",
    "rg --search-zip x",
    "git -c core.pager=sh log",
    "git -ccore.pager=sh log",
    "git -C /p -c a=b log",
    "git --config-env=core.pager=X log",
    "git --exec-path=/tmp log",
    "git log --output=/x",
    "git grep -O x",
    "git rebase -x 'rm x' main",
    "git difftool -x cmd",
    "git fetch -u cmd origin",
    "git ls-remote --upload-pack=cmd origin",
    "git bisect run rm x",
    "git submodule foreach rm x",
    "git filter-branch x",
    "base64 -o f x",
    "base64 --output=f x",
    "sed -i s/a/b/ f",
    "sed -ni s/a/b/ f",
    "sed --in-place=.bak s/a/b/ f",
    "tar --to-command=sh -xf a.tar",
    "tar --use-compress-program=sh -xf a.tar",
    "tar -I sh -xf a.tar",
    "tar xIf sh a.tar",
    "tar --checkpoint-action=exec=sh -xf a.tar",
    "curl -o .bashrc http://x",
    "curl -sSo .bashrc http://x",
    "curl -O http://x",
    "curl -K cfg",
    "curl --output .bashrc http://x",
    "wget -O f http://x",
    "wget -o log http://x",
    "sort -o f x",
    "xargs ls",
    "sed $X f",
    "bash -c 'rg -z x'",
    "ls $(x)",
]
SAFE = [
    "find . -name x",
    "rg foo",
    "git log",
    "git status -s",
    "git",
    "git --version",
    "git -C /p log",
    "git grep x",
    "git fetch origin",
    "git bisect start",
    "base64 f",
    "sed s/a/b/ f",
    "sed -n p f",
    "tar -tf a.tar",
    "tar xf a.tar",
    "curl http://x",
    "wget http://x",
    "sort f",
    "ls $X",
    "FOO=1",
    "cat f",
]


@pytest.mark.parametrize("text", DANGEROUS, ids=lambda t: f"SH-08 {t}")
def test_sh08_dangerous_flags(text: str) -> None:
    assert parse(text).has_dangerous_flags()


@pytest.mark.parametrize("text", SAFE, ids=lambda t: f"SH-08 safe {t}")
def test_sh08_safe_flags(text: str) -> None:
    assert not parse(text).has_dangerous_flags()


def test_sh08_find_exec_is_word_simple() -> None:
    """starts_with("find") allows find -exec; has_dangerous_flags is the guard."""
    cmd = check("find . -exec rm {} \\;", is_simple=True, has_dangerous_flags=True)
    assert cmd.starts_with("find")
    assert cmd.runs("rm")
    assert cmd.segments[0].argv == ("find", ".", "-exec", "rm", "{}", ";")
    assert not parse("find . -name x -exec").runs("rm")
    assert set(DANGEROUS_FLAGS) >= {"find", "rg", "git", "base64", "sed", "tar", "curl", "wget"}


# --------------------------------------------------------------------------- SH-09


def test_sh09_huge_input_fails_closed_fast() -> None:
    started = time.perf_counter()
    for text in ("a" * 1_000_000, "a;" * 500_000, "'" * 1_000_000):
        cmd = parse(text)
        assert cmd.is_opaque()
        assert cmd.runs("rm")
        assert not cmd.starts_with("a")
        assert "longer than" in (cmd.reason or "")
    assert time.perf_counter() - started < 1.0


def test_sh09_segment_limit() -> None:
    at_limit = parse(" && ".join(["true"] * MAX_SEGMENTS))
    assert at_limit.is_simple()
    over = parse(" && ".join(["true"] * (MAX_SEGMENTS + 1)))
    assert over.is_opaque()
    assert f"more than {MAX_SEGMENTS} commands" in (over.reason or "")
    trailing = parse("true;" * (MAX_SEGMENTS + 1))
    assert trailing.is_opaque()


def test_sh09_linear_time_under_the_length_limit() -> None:
    pieces = ["'a b'", '"c\\"d"', "e\\ f", "g=h", "x" * 50]
    text = "echo " + " ".join(pieces * (MAX_COMMAND_CHARS // 80))
    assert len(text) < MAX_COMMAND_CHARS
    started = time.perf_counter()
    cmd = parse(text)
    assert time.perf_counter() - started < 1.0
    assert cmd.is_simple()


def test_nesting_limit() -> None:
    code = "rm x"
    for _ in range(MAX_NESTING):
        code = "bash -c " + shlex.quote(code)
    within = parse(code)
    assert not within.is_opaque()
    assert within.runs("rm")
    deeper = parse("bash -c " + shlex.quote(code))
    assert deeper.is_opaque()
    assert "nested more than" in (deeper.opaque_reason or "")


# --------------------------------------------------------------------------- lexer details


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("echo 'a b' \"c d\" e\\ f", ("echo", "a b", "c d", "e f")),
        ('echo "a\\"b\\$c\\\\d\\e"', ("echo", 'a"b$c\\d\\e')),
        ('echo "a\\\nb"', ("echo", "ab")),
        ("echo a\\\nb", ("echo", "ab")),
        ("echo \\\n#x", ("echo",)),
        ("echo a#b", ("echo", "a#b")),
        ("echo ''", ("echo", "")),
        ('echo ""x', ("echo", "x")),
        ("echo \\$HOME '$HOME' \"\\$HOME\"", ("echo", "$HOME", "$HOME", "$HOME")),
        ("echo {} a~b HEAD~1", ("echo", "{}", "a~b", "HEAD~1")),
        ("echo 'multi\nline'", ("echo", "multi\nline")),
        ("echo é 中", ("echo", "é", "中")),
        ("echo a!b", ("echo", "a!b")),
        ("git status # && rm -rf ~", ("git", "status")),
    ],
)
def test_lexer_words(text: str, argv: tuple[str, ...]) -> None:
    cmd = parse(text)
    assert cmd.is_simple(), cmd.reason
    assert cmd.segments[0].argv == argv


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("ls *.py", "glob '*'"),
        ("ls a?", "glob '?'"),
        ("ls [ab]", "glob '['"),
        ("ls ~", "tilde expansion"),
        ("ls x=~/a", "tilde expansion"),
        ("ls a:~/b", "tilde expansion"),
        ("echo {a,b}", "brace expansion"),
        ("echo {", "brace '{'"),
        ("echo $", "bare '$'"),
        ("echo a$", "bare '$'"),
        ("echo $1 x", "parameter expansion $1"),
        ("echo $@", "parameter expansion $@"),
        ("echo ${HOME}", "parameter expansion ${HOME}"),
        ('echo "$HOME"', "parameter expansion $HOME"),
        ('echo "a$\'"', "bare '$'"),
        ("echo $'a'", "ANSI-C quoting"),
        ('echo $"a"', "locale quoting"),
        ("echo a\\", "backslash at the end"),
        ("ls &", "operator '&'"),
        ("ls |& wc", "operator '|&'"),
        ("ls > f", "redirection '>' at column 4"),
        ("FOO=1 ls", "assignment 'FOO=1' at column 1"),
        ("./run", "relative program path './run'"),
        ("sudo ls", "wrapper 'sudo' at column 1"),
        ("echo x\u2028y", "U+2028 at column 7"),
    ],
)
def test_not_simple_reasons(text: str, fragment: str) -> None:
    cmd = parse(text)
    assert not cmd.is_simple()
    assert fragment in (cmd.reason or ""), cmd.reason


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("echo $(x)", "command substitution $(...) at column 6"),
        ("echo $((1+2))", "arithmetic expansion"),
        ("echo ${HOME:-x}", "parameter expansion ${...}"),
        ('echo "`x`"', "command substitution `...`"),
        ('echo "$(x)"', "command substitution $(...)"),
        ("echo 'a", "unterminated single quote at column 6"),
        ('echo "a', "unterminated double quote"),
        ("echo $'a", "unterminated ANSI-C quote"),
        ("echo $'a\\'", "unterminated ANSI-C quote"),
        ("echo 99999999999>x", "file descriptor number"),
        ("ls >", "redirection '>' without a target"),
        ("ls > ; x", "redirection '>' without a target"),
        ("ls ;& x", "case terminator"),
        ("ls <<- x", "here-document"),
        ("if true; then rm x; fi", "shell keyword 'if'"),
        ("! ls", "shell keyword '!'"),
        ("FOO=1 for x", "shell keyword 'for'"),
        ("ls ; ; pwd", "missing command before ';'"),
        ("\n; ls", "missing command before ';'"),
        ("ls |", "missing command after '|'"),
        ("echo x >$HOME/f", "redirection target '>$HOME/f'"[:20]),
        ("alias ls=rm", "renames programs"),
        ("export PATH=.", "may change what programs run"),
        ("export $X", "may change what programs run"),
        ("env PATH=. ls", "changes what programs run"),
        ("bash -c $X", "argument of 'bash' comes from an expansion"),
        ("bash $X", "comes from an expansion"),
        ("eval $X", "code comes from an expansion"),
        ("find $D -name x", "argument of 'find'"),
        ("python $X", "comes from an expansion"),
        ("$CMD x", "program name '$CMD'"),
        ("sudo -s ls", "runs a command that is not a plain argv"),
        ("env -S 'rm x'", "runs a command that is not a plain argv"),
        ("env --split-string='rm x'", "runs a command that is not a plain argv"),
        ("env --bogus ls", "unknown option '--bogus'"),
        ("env -Z ls", "unknown option '-Z'"),
        ("timeout", "missing an argument"),
        ("timeout $T rm", "argument of 'timeout'"),
        ("sudo -u $U rm", "argument of 'sudo'"),
        ("env $X=1 rm", "comes from an expansion"),
        ("env -- A=$X rm", "assignment given to a wrapper"),
        ("xargs -I {} rm {}", "xargs -I puts stdin words"),
        ("xargs -i rm {}", "xargs -I puts stdin words"),
        ("xargs --replace rm {}", "xargs -I puts stdin words"),
        ("xargs env", "xargs takes the command from stdin"),
        ("xargs sh -c", "xargs gives stdin words to 'sh'"),
        ("xargs -0 python3", "xargs gives stdin words to 'python3'"),
        ("xargs find", "xargs gives stdin words to 'find'"),
        ("doas -s", "doas -s runs a command that is not a plain argv"),
        ("awk '{print}' f", "program text can run commands"),
        ("perl -lne 'print' f", "perl -lne runs inline code"),
        ("python3.12 -W ignore -c 'x'", "runs inline code"),
        ("node --eval=x", "runs inline code"),
        ("find . -exec bash -c 'echo $(x)' \\;", "nested code"),
    ],
)
def test_opaque_reasons(text: str, fragment: str) -> None:
    cmd = parse(text)
    assert cmd.is_opaque()
    assert not cmd.is_simple()
    assert fragment in (cmd.opaque_reason or ""), cmd.opaque_reason
    assert cmd.runs("anything-at-all")
    assert cmd.has_dangerous_flags()


def test_segments_and_operators() -> None:
    cmd = parse("a && b || c; d | e\nf;\n\ng &&\n h")
    assert [s.argv for s in cmd.segments] == [(x,) for x in "abcdefgh"]
    assert [s.operator for s in cmd.segments] == ["&&", "||", ";", "|", "\n", ";", "&&", None]
    assert cmd.is_simple()
    assert parse("ls;").segments[0].operator == ";"
    assert parse("ls;#c\npwd").segments[1].argv == ("pwd",)


def test_assignments() -> None:
    seg = parse("FOO=1 BAR+=x ls -l").segments[0]
    assert seg.assignments == ("FOO=1", "BAR+=x")
    assert seg.argv == ("ls", "-l")
    for text in ('FOO"=bar" x', "\\FOO=bar x", "F\\OO=bar x", "1A=b x"):
        cmd = parse(text)
        assert cmd.is_simple(), (text, cmd.reason)
        assert cmd.segments[0].assignments == ()
    only = parse("FOO=1")
    assert only.segments[0].argv == ()
    assert only.segments[0].program is None
    assert not only.runs("FOO")


def test_redirections() -> None:
    cmd = parse("ls 2>>e &>f >|g 3<&0 >&2 <&- <>rw <<< w >&out 1>o <in")
    got = [(r.op, r.fd, r.target, r.writes(), r.reads()) for r in cmd.segments[0].redirections]
    assert got == [
        ("2>>", 2, "e", True, False),
        ("&>", None, "f", True, False),
        (">|", 1, "g", True, False),
        ("3<&", 3, "0", False, False),
        (">&", 1, "2", False, False),
        ("<&", 0, "-", False, False),
        ("<>", 0, "rw", True, True),
        ("<<<", 0, "w", False, False),
        (">&", 1, "out", True, False),
        ("1>", 1, "o", True, False),
        ("<", 0, "in", False, True),
    ]
    assert cmd.written_paths() == ("e", "f", "g", "rw", "out", "o")
    assert cmd.read_paths() == ("rw", "in")
    assert parse("cat <&file").read_paths() == ("file",)
    assert parse("> f").segments[0].argv == ()
    assert parse("a2>x").segments[0].argv == ("a2",)
    assert Redirection(">", 1, "x").exact
    assert not parse("ls > ~/x").segments[0].redirections[0].exact
    assert parse("ls $(x) > f").written_paths() == ()


# --------------------------------------------------------------------------- wrappers


@pytest.mark.parametrize(
    ("text", "wrappers", "command", "assignments"),
    [
        ("env -i FOO=1 rm x", ("env",), ("rm", "x"), ("FOO=1",)),
        ("env - -u X --unset=Y -C /d rm", ("env",), ("rm",), ()),
        ("env", ("env",), (), ()),
        ("sudo -u root --preserve-env -- rm", ("sudo",), ("rm",), ()),
        ("sudo --user=root A=1 rm", ("sudo",), ("rm",), ("A=1",)),
        ("nice -10 rm", ("nice",), ("rm",), ()),
        ("nice -n5 rm", ("nice",), ("rm",), ()),
        ("timeout -s KILL -k 1 5 rm", ("timeout",), ("rm",), ()),
        ("stdbuf -oL -e 0 rm", ("stdbuf",), ("rm",), ()),
        ("time -p rm", ("time",), ("rm",), ()),
        ("/usr/bin/time -o f rm", ("time",), ("rm",), ()),
        ("command -v rm", ("command",), ("rm",), ()),
        ("exec -a name rm", ("exec",), ("rm",), ()),
        ("builtin eval 'rm x'", ("builtin",), ("eval", "rm x"), ()),
        ("xargs", ("xargs",), ("echo",), ()),
        ("xargs -0 -I {} rm {}", ("xargs",), ("rm", "{}"), ()),
        ("sudo env A=1 nice -n 5 rm -fr /", ("sudo", "env", "nice"), ("rm", "-fr", "/"), ("A=1",)),
        ("doas -u root rm", ("doas",), ("rm",), ()),
        ("busybox rm", ("busybox",), ("rm",), ()),
        ("setsid -f rm", ("setsid",), ("rm",), ()),
        ("ionice -c 3 -t rm", ("ionice",), ("rm",), ()),
    ],
)
def test_wrappers(
    text: str, wrappers: tuple[str, ...], command: tuple[str, ...], assignments: tuple[str, ...]
) -> None:
    cmd = parse(text)
    seg = cmd.segments[0]
    assert (seg.wrappers, seg.command, seg.assignments) == (wrappers, command, assignments)
    assert not cmd.is_simple()
    for w in wrappers:
        assert cmd.runs(w)
    assert set(wrappers) <= WRAPPER_PROGRAMS


def test_wrapped_program_and_unknown_wrappers() -> None:
    assert parse("sudo git push").segments[0].program == "git"
    assert parse("env").segments[0].program is None
    assert not parse("env").runs("rm")
    # An unknown wrapper is simply a program: deny-by-name does not see through it.
    watch = parse("watch rm x")
    assert watch.is_simple()
    assert not watch.runs("rm")
    assert not watch.starts_with("git status")


# --------------------------------------------------------------------------- nested code


@pytest.mark.parametrize(
    ("text", "runs_rm", "simple"),
    [
        ("bash -o posix -c 'rm x'", True, False),
        ("bash --rcfile f -c 'rm x'", True, False),
        ("bash -O extglob -c 'rm x'", True, False),
        ("bash -xc 'rm x'", True, False),
        ("bash -c -- 'rm x'", True, False),
        ("bash -c", False, False),
        ("bash --norc script.sh", False, True),
        ("sh -- x", False, True),
        ("bash - x", False, True),
        ("eval -- 'rm x'", True, False),
        ("eval ''", False, False),
        ("trap 'rm x' EXIT", True, False),
        ("trap -- 'rm x' EXIT", True, False),
        ("trap -p", False, False),
        ("trap - EXIT", False, False),
        ("find . -exec sh -c 'rm x' \\;", True, True),
        ("find . -exec rm {} +", True, True),
        ("python run.py -c x", False, True),
        ("python -m http.server", False, True),
        ("python - < f", False, False),
        ("awk -f prog.awk f", False, True),
        ("awk -F: -f prog.awk f", False, True),
        ("awk -- '{print}' f", True, False),
        ("gawk -v x=1", False, True),
        ("awk --file=p.awk f", False, True),
        ("node --require x app.js", False, True),
        ("node --require=x app.js", False, True),
        ("python -B run.py", False, True),
        ("python -Wignore run.py", False, True),
        ("php -r 'x'", True, False),
        ("export FOO=1", False, True),
        ("declare -x FOO=1", False, True),
    ],
)
def test_nested_and_interpreters(text: str, runs_rm: bool, simple: bool) -> None:
    cmd = parse(text)
    assert cmd.runs("rm") is runs_rm
    assert cmd.is_simple() is simple, cmd.reason


def test_nested_code_is_parsed_again() -> None:
    seg = parse("bash -c 'git status && rm x'").segments[0]
    (inner,) = seg.nested
    assert [s.argv for s in inner.segments] == [("git", "status"), ("rm", "x")]
    assert parse("trap 'rm x' EXIT").segments[0].nested[0].segments[0].argv == ("rm", "x")
    with pytest.raises(ShellSyntaxError, match="bash -c runs a string as shell code"):
        parse("bash -c 'rm x'").starts_with("bash -c")


# --------------------------------------------------------------------------- predicates


def test_policy_methods_are_plain_methods() -> None:
    cmd = parse("git status")
    for name in ShellCommand.POLICY_METHODS:
        assert callable(getattr(cmd, name)), name
    for name in ("is_simple", "is_opaque", "program", "written_paths", "read_paths"):
        getattr(cmd, name)()
    assert "runs" in ShellCommand.POLICY_METHODS
    assert "parse" not in ShellCommand.POLICY_METHODS


def test_eq_is_exact() -> None:
    cmd = parse("git status")
    assert cmd.eq("git status")
    assert not cmd.eq("git  status")
    assert not cmd.eq("git status ")
    assert not cmd.eq("'git' status")
    assert cmd.text == "git status"


def test_contains_is_raw_substring() -> None:
    assert parse("curl http://evil").contains("evil")
    assert not parse('r"m" -rf x').contains("rm")  # quoting defeats it: deny only


def test_starts_with_word_boundaries_and_trailing_blank() -> None:
    assert not parse("git statusx").starts_with("git status")
    assert parse("git status").starts_with("git status")
    assert parse("git status -s").starts_with("git status")
    assert not parse("git status").starts_with("git status ")
    assert parse("git status -s").starts_with("git status\t")
    assert parse("git commit -m x").starts_with("git commit -m ")
    assert not parse("git commit -m").starts_with("git commit -m ")
    assert parse("git 'commit' -m 'a b'").starts_with("git commit -m 'a b'")
    assert parse("git status").starts_with("/usr/bin/git status")
    assert parse("/bin/git status").starts_with("git")
    assert not parse("/opt/git status").starts_with("git")
    assert parse("/opt/git status").starts_with("/opt/git")
    assert parse("echo 'a b'").starts_with("echo a\\ b")
    assert not parse("echo a b").starts_with("echo 'a b'")


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("", "not a simple command: empty command"),
        ("git status && ls", "one command without operators"),
        ("git status;", "one command without operators"),
        ("git $X", "not a simple command"),
        ("git status # note", "ends with '# note'"),
        ("git status \\\n", "remove it"),
    ],
)
def test_starts_with_rejects_bad_prefixes(prefix: str, message: str) -> None:
    with pytest.raises(ShellSyntaxError, match=re.escape(message)):
        parse("git status").starts_with(prefix)


def test_argv_starts_with() -> None:
    cmd = parse("/usr/bin/git commit -m 'a b' && git commit -m c")
    assert cmd.argv_starts_with(["git", "commit", "-m"])
    assert cmd.argv_starts_with(("/usr/bin/git",))
    assert not cmd.argv_starts_with(["git", "commit", "-m", "a b"])
    assert not parse("git commit $X").argv_starts_with(["git"])
    with pytest.raises(ShellSyntaxError, match="at least one word"):
        cmd.argv_starts_with([])
    with pytest.raises(TypeError, match="list of strings"):
        cmd.argv_starts_with("git")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of strings"):
        cmd.argv_starts_with([1])  # type: ignore[list-item]


def test_program() -> None:
    assert parse("git status").program() == "git"
    assert parse("/usr/local/bin/rg x").program() == "rg"
    assert parse("/opt/bin/rg x").program() == "/opt/bin/rg"
    assert parse("git status && ls").program() is None
    assert parse("sudo git status").program() is None
    assert parse("git $X").program() is None


def test_runs_matches_identity_or_basename() -> None:
    cmd = parse("/opt/tools/rm x")
    assert cmd.runs("rm")
    assert cmd.runs("/opt/tools/rm")
    assert parse("/usr/bin/rm x").runs("/bin/rm")
    assert not parse("git status").runs("rm")
    with pytest.raises(ValueError, match="needs a program name"):
        cmd.runs("")
    with pytest.raises(TypeError, match=r"runs\(\) takes a string, got int"):
        cmd.runs(3)  # type: ignore[arg-type]


def test_runs_prefix() -> None:
    assert parse("git push origin").runs_prefix("git push")
    assert parse("/usr/bin/git push").runs_prefix("git push")
    assert parse("/opt/x/git push").runs_prefix("git push")
    assert parse("bash -c 'git push'").runs_prefix("git push")
    assert parse("git $SUB").runs_prefix("git push")  # unknown words: fail closed
    assert parse("git $(x)").runs_prefix("git push")  # opaque: fail closed
    assert not parse("git pushx").runs_prefix("git push")
    assert not parse("git status && ls push").runs_prefix("git push")
    assert not parse("git push").runs_prefix("git push ")
    assert parse("git push -f").runs_prefix("git push ")
    assert not parse("FOO=1").runs_prefix("git")
    with pytest.raises(ShellSyntaxError, match="not a simple command"):
        parse("git push").runs_prefix("sudo git push")


def test_trusted_dirs_option() -> None:
    cmd = ShellCommand.parse("/opt/x/git status", trusted_dirs=["/opt/x/"])
    assert cmd.program() == "git"
    assert cmd.starts_with("git status")
    assert ShellCommand.parse("/usr/bin/git", trusted_dirs=()).program() == "/usr/bin/git"
    assert parse("/usr/bin/../bin/git").program() == "git"
    with pytest.raises(TypeError, match="iterable of paths"):
        ShellCommand.parse("ls", trusted_dirs="/usr/bin")
    with pytest.raises(TypeError, match="holds a int"):
        ShellCommand.parse("ls", trusted_dirs=[1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="'bin' is not an absolute path"):
        ShellCommand.parse("ls", trusted_dirs=["bin"])
    with pytest.raises(TypeError, match="iterable of paths"):
        ShellCommand.parse("ls", trusted_dirs=3)  # type: ignore[arg-type]


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="must be a str, got bytes"):
        ShellCommand.parse(b"ls")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"eq\(\) takes a string"):
        parse("ls").eq(None)  # type: ignore[arg-type]


def test_lexer_errors_carry_position() -> None:
    with pytest.raises(lexer.LexError) as info:
        list(lexer.tokens("echo $(x)"))
    assert info.value.offset == 5
    assert info.value.reason == "command substitution $(...)"


# --------------------------------------------------------------------------- properties

values = st.text(
    st.sampled_from("abc XYZ019_-./:,+%@^=~*?[]{}#!$`'\"\\;&|<>()\n\t" + "é中"),
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(values, min_size=1, max_size=5).flatmap(
        lambda vs: st.tuples(st.just(vs), st.tuples(*[quoted_spellings(v) for v in vs]))
    )
)
def test_quoted_words_reduce_to_their_values(case: tuple[list[str], tuple[str, ...]]) -> None:
    vals, spelled = case
    cmd = parse("echo " + " ".join(spelled))
    assert cmd.is_simple(), cmd.reason
    assert cmd.segments[0].argv == ("echo", *vals)


@settings(max_examples=100, deadline=None)
@given(st.lists(simple_commands(), min_size=1, max_size=5), st.data())
def test_starts_with_is_the_conjunction_over_segments(
    parts: list[str], data: st.DataObject
) -> None:
    ops = [data.draw(st.sampled_from(["&&", "||", ";", "|", "\n"])) for _ in parts[1:]]
    text = parts[0] + "".join(f" {op} {p}" for op, p in zip(ops, parts[1:], strict=True))
    prefix = data.draw(st.sampled_from(["git", "ls", "echo", "git status", "cat a"]))
    expected = all(parse(p).starts_with(prefix) for p in parts)
    assert parse(text).starts_with(prefix) is expected


@settings(max_examples=100, deadline=None)
@given(chained_commands())
def test_chained_commands_are_simple(text: str) -> None:
    cmd = parse(text)
    assert cmd.is_simple(), cmd.reason
    assert not cmd.is_opaque()
    assert cmd.segments[-1].operator is None


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=200) | st.text(st.sampled_from("ab $'\"\\;&|<>(){}#\n\r\0`~*"), max_size=60)
)
def test_parse_is_total(text: str) -> None:
    cmd = parse(text)
    assert cmd.text == text
    assert cmd.is_simple() is (cmd.reason is None)
    if cmd.is_opaque():
        assert not cmd.is_simple()
        assert cmd.runs("rm")
    if cmd.is_simple():
        assert cmd.segments
        assert all(s.exact and not s.redirections and not s.wrappers for s in cmd.segments)


@pytest.mark.parametrize("base", ["git status", "ls", "/usr/bin/git log", "npm test", "rm x"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bypass_attempts_are_never_allowed(base: str, data: st.DataObject) -> None:
    assert parse(base).starts_with(base)
    attempt = data.draw(bypass_attempts(base))
    assert not parse(attempt).starts_with(base), attempt


def test_bypass_attempts_needs_a_simple_base() -> None:
    with pytest.raises(ValueError, match="one simple command"):
        bypass_attempts("git status && ls")
    with pytest.raises(ValueError, match="one simple command"):
        bypass_attempts("git $X")


@settings(max_examples=50, deadline=None)
@given(shell_words(), simple_commands())
def test_strategies_produce_simple_text(word: str, command: str) -> None:
    assert parse("echo " + word).is_simple()
    assert parse(command).is_simple()


# --------------------------------------------------------------------------- SH-07 vs bash


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    assert BASH is not None
    env = {"PATH": "/nonexistent", "LC_ALL": "C.UTF-8", "HOME": str(cwd)}
    return subprocess.run(
        [BASH, "-c", script], capture_output=True, env=env, cwd=cwd, check=False, timeout=10
    )


def _bash_argv(command: str, cwd: Path) -> list[str]:
    """Argv bash builds for ``printf '%s\\0' <command>`` (printf is a builtin)."""
    done = _bash("printf '%s\\0' " + command, cwd)
    assert done.returncode == 0, (command, done.stderr)
    return [a.decode("utf-8", "surrogateescape") for a in done.stdout.split(b"\0")[:-1]]


@needs_bash
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(simple_commands())
def test_sh07_argv_equals_bash(tmp_path_factory: pytest.TempPathFactory, command: str) -> None:
    cwd = tmp_path_factory.getbasetemp()
    cmd = parse("printf '%s\\0' " + command)
    assert cmd.is_simple(), cmd.reason
    assert len(cmd.segments) == 1
    assert list(cmd.segments[0].argv[2:]) == _bash_argv(command, cwd)


FUZZ_ALPHABET = [*"ab x'\"\\$;&|<>()#~*{},=\n\t:-?%é\r", "\\\n", "2>", "{}", "a=", "!", "[", "`"]


@needs_bash
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(FUZZ_ALPHABET), max_size=14).map("".join))
def test_sh07_simple_means_bash_agrees(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    """Whatever the parser calls simple, bash splits into exactly the same words."""
    cwd = tmp_path_factory.getbasetemp()
    cmd = parse("printf '%s\\0' " + text)
    if cmd.is_simple() and len(cmd.segments) == 1:
        got = _bash_argv(text, cwd)
        argv = list(cmd.segments[0].argv[2:])
        assert argv == got or (not argv and got == [""])


_HANDLER = 'command_not_found_handle() { printf "%s\\0" "$@"; printf "\\1"; return 0; }\n'


@needs_bash
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(FUZZ_ALPHABET), max_size=14).map("".join))
def test_sh01_segments_equal_bash(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    """Segments joined by ; && and newline run in bash with exactly our argv."""
    cmd = parse("ab " + text)
    if not cmd.is_simple():
        return
    plain = all(
        s.operator in {None, ";", "&&", "\n"} and re.fullmatch("[abx]+", s.argv[0])
        for s in cmd.segments
    )
    if not plain:
        return
    out = _bash(_HANDLER + "ab " + text, tmp_path_factory.getbasetemp()).stdout
    runs = [r.split(b"\0")[:-1] for r in out.split(b"\1")[:-1]]
    assert runs == [[a.encode() for a in s.argv] for s in cmd.segments]
