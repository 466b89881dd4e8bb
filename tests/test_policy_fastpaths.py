"""Fast paths of policy decisions give exactly the answers of the slow ones (issue 5).

The shell lexer's shortcuts (plain words, runs of plain characters, a text of
plain words only) are checked against its general character-by-character
path on generated commands (SH-01, SH-07), including the bypass strategies
of :mod:`actrio.testing._shell_strategies`. The caches (parsed commands,
``starts_with`` prefixes, normalised trusted directories) are checked against
no cache; the invisible-character check against its per-character scan
(BY-5, B-08); the JSON depth shortcut against the full scan (B-07).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actrio.policy import PolicyEngine, shell
from actrio.policy import _shell_lexer as lexer
from actrio.policy import _shell_programs as programs
from actrio.policy._catalog import Binder
from actrio.policy.shell import (
    DEFAULT_TRUSTED_DIRS,
    MAX_SEGMENTS,
    ShellCommand,
    ShellSyntaxError,
    parse_normalised,
)
from actrio.testing._shell_strategies import (
    bypass_attempts,
    chained_commands,
    shell_words,
    simple_commands,
)
from actrio.tools import _validate

TRUSTED = programs.normalise_dirs(DEFAULT_TRUSTED_DIRS)
CORPUS = [
    case["command"]
    for case in json.loads((Path(__file__).parent / "shell_corpus.json").read_text())
]
SEED_POLICY = (
    'deny os.shell(command) if not (command.eq("python run.py") '
    'or command.starts_with("git commit -m "))'
)

#: Characters that steer the lexer, with plain ones, blanks and a few non-ASCII.
_SHELLISH = st.text(
    st.sampled_from([*"ab01 =~{}*?[]#$'\"\\`;&|<>()\n\t\r:-./,", "é", "\u00a0", "\u200b"]),
    max_size=24,
)
_COMMANDS = st.one_of(
    _SHELLISH,
    simple_commands(),
    chained_commands(),
    bypass_attempts("git status"),
    bypass_attempts("git commit -m x"),
    shell_words(),
    st.sampled_from(CORPUS),
)


class _Str(str):
    """A str subclass: parsed, never cached (its hash and equality are its own)."""

    __slots__ = ()


def _lex(text: str, *, fast: bool) -> object:
    """The raw segments of ``text``, or the LexError's reason and offset."""
    try:
        return lexer.segments(text, max_segments=MAX_SEGMENTS, fast=fast)
    except lexer.LexError as exc:
        return ("error", exc.reason, exc.offset)


def _tokens(text: str, *, fast: bool) -> list[object]:
    """The tokens of ``text`` up to the first LexError (then its reason and offset)."""
    out: list[object] = []
    try:
        out.extend(lexer._Lexer(text, fast=fast).tokens())
    except lexer.LexError as exc:
        out.append(("error", exc.reason, exc.offset))
    return out


@pytest.fixture(autouse=True)
def _cold_caches() -> None:
    shell._parse_cached.cache_clear()
    shell._prefix_cached.cache_clear()


# --------------------------------------------------------------------------- lexer


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_COMMANDS)
def test_sh07_fast_lexer_equals_the_general_path(text: str) -> None:
    """SH-01/SH-07: tokens and segments are the same with and without the shortcuts."""
    assert _tokens(text, fast=True) == _tokens(text, fast=False)
    assert _lex(text, fast=True) == _lex(text, fast=False)


@pytest.mark.parametrize(
    "text",
    [
        "python run.py",
        "FOO=1 BAR+=2 git status",
        "a=b =c 1=x x==y",
        "if true",
        "! git status",
        "git\tstatus  -s\r",
        "  ",
        "",
        "echo é\u00a0x",
        "git commit -m 'x'",
        "2>err git status",
        "a#b #c",
        "ls {} a{b}c ~ x=~",
        "echo a\\\nb",
    ],
)
def test_sh07_fast_lexer_examples(text: str) -> None:
    """SH-07: the shortcut cases by name (assignments, keywords, blanks, \\r, braces)."""
    assert _tokens(text, fast=True) == _tokens(text, fast=False)
    assert _lex(text, fast=True) == _lex(text, fast=False)


def test_plain_text_shortcut_keeps_assignments_and_keywords() -> None:
    """The whole-text shortcut still marks ``NAME=`` words and refuses keywords."""
    (seg,) = lexer.segments("FOO=1 =x git a=b", max_segments=MAX_SEGMENTS)
    assert [w.assignment for w in seg.words] == [True, False, False, True]
    assert [(w.start, w.end) for w in seg.words] == [(0, 5), (6, 8), (9, 12), (13, 16)]
    with pytest.raises(lexer.LexError, match="shell keyword 'then'"):
        lexer.segments("then x", max_segments=MAX_SEGMENTS)
    assert lexer.segments(" \t ", max_segments=MAX_SEGMENTS) == []
    with pytest.raises(lexer.LexError, match="more than 0 commands"):
        lexer.segments("ls", max_segments=0)


@given(st.text(st.sampled_from(list(";&|<>()\n")), min_size=1, max_size=4))
def test_operator_regex_takes_the_first_listed_operator(text: str) -> None:
    """One regular expression picks the operator the ordered list picks (longest first)."""
    m = lexer._OPERATOR.match(text)
    assert m is not None
    assert m.group() == next(o for o in lexer._OPERATORS if text.startswith(o))


# --------------------------------------------------------------------------- invisible


_INVISIBLE_SAMPLES = ["\ud800", "\u200b", "\u202e", "\u00a0", "\u2028", "\ue000", "\U000e0041"]


@given(
    st.text(
        st.one_of(st.characters(), st.sampled_from([*_INVISIBLE_SAMPLES, "\x7f", "\x85", "\u0378"]))
    )
)
def test_by5_invisible_shortcut_equals_the_scan(text: str) -> None:
    """BY-5/B-08: ``str.isprintable`` rules out exactly what the category scan would find."""
    assert shell._invisible(text) == shell._invisible_scan(text)


@pytest.mark.parametrize("ch", [*_INVISIBLE_SAMPLES, "\r", "\x00", "\x1b"])
def test_b08_invisible_characters_are_named(ch: str) -> None:
    found = shell._invisible(f"ls {ch}x")
    assert found == f"control or invisible character U+{ord(ch):04X} at column 4"
    assert shell._invisible("ls\t-l\nx y") is None


# --------------------------------------------------------------------------- caches


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_COMMANDS)
def test_parse_cache_gives_the_uncached_answer(text: str) -> None:
    """A cached parse equals a fresh one, cold and warm, and is shared when warm."""
    fresh = shell._parse(text, TRUSTED, 0)
    cold = parse_normalised(text, TRUSTED)
    warm = parse_normalised(text, TRUSTED)
    assert cold == fresh
    assert warm == cold
    if len(text) <= shell._CACHE_MAX_CHARS:  # longer texts are parsed every time
        assert warm is cold
    assert ShellCommand.parse(text) == fresh


def test_parse_does_not_depend_on_cwd_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is sound: parsing reads no filesystem, working directory or variable."""
    texts = ["git status", "./git status", "PATH=. git status", "cat ~/x > y", "/usr/bin/git"]
    before = [shell._parse(t, TRUSTED, 0) for t in texts]
    for t in texts:
        parse_normalised(t, TRUSTED)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "git").write_text("#!/bin/sh\n")
    assert [shell._parse(t, TRUSTED, 0) for t in texts] == before
    assert [parse_normalised(t, TRUSTED) for t in texts] == before


def test_parse_cache_is_keyed_by_trusted_dirs() -> None:
    opt = programs.normalise_dirs(["/opt/x"])
    assert parse_normalised("/opt/x/git status", opt).program() == "git"
    assert parse_normalised("/opt/x/git status", TRUSTED).program() == "/opt/x/git"


def test_parse_cache_is_bounded_and_skips_long_or_foreign_texts() -> None:
    """SH-09: at most ``_CACHE_SIZE`` commands, none longer than ``_CACHE_MAX_CHARS``."""
    for k in range(shell._CACHE_SIZE + 10):
        parse_normalised(f"echo {k}", TRUSTED)
    assert shell._parse_cached.cache_info().currsize == shell._CACHE_SIZE
    shell._parse_cached.cache_clear()
    long = "echo " + "x" * shell._CACHE_MAX_CHARS
    first = parse_normalised(long, TRUSTED)
    assert first == parse_normalised(long, TRUSTED)
    assert first is not parse_normalised(long, TRUSTED)
    foreign = parse_normalised(_Str("git status"), TRUSTED)
    assert foreign == shell._parse("git status", TRUSTED, 0)
    assert shell._parse_cached.cache_info().currsize == 0


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(simple_commands(), st.sampled_from(["", " ", "\t", "  "]))
def test_prefix_cache_gives_the_uncached_answer(command: str, tail: str) -> None:
    prefix = command + tail
    assert shell._prefix(prefix, TRUSTED) == shell._prefix_words(prefix, TRUSTED)
    assert shell._prefix(prefix, TRUSTED) == shell._prefix_words(prefix, TRUSTED)


@pytest.mark.parametrize(
    ("prefix", "message"),
    [("", "empty"), ("git status && ls", "operators"), ("git status #x", "ends with")],
)
def test_prefix_errors_are_raised_every_time(prefix: str, message: str) -> None:
    """A bad prefix is never cached: every evaluation raises (and fails closed, SH-13)."""
    for _ in range(2):
        with pytest.raises(ShellSyntaxError, match=message):
            shell._prefix(prefix, TRUSTED)
    assert shell._prefix_cached.cache_info().currsize == 0


def test_prefix_cache_is_keyed_by_trusted_dirs_and_skips_foreign_texts() -> None:
    opt = programs.normalise_dirs(["/opt/x"])
    assert shell._prefix("/opt/x/git status", opt) == (("git", "status"), False)
    assert shell._prefix("/opt/x/git status", TRUSTED) == (("/opt/x/git", "status"), False)
    assert shell._prefix(_Str("git commit -m "), TRUSTED) == (("git", "commit", "-m"), True)
    assert shell._prefix_cached.cache_info().currsize == 2


# --------------------------------------------------------------------------- binder


def test_binder_normalises_trusted_dirs_once() -> None:
    binder = Binder(trusted_dirs=frozenset({"/opt/x/"}))
    bound = binder.bind("os.shell", "command", "/opt/x/git status")
    assert isinstance(bound, ShellCommand)
    assert bound.program() == "git"
    assert bound.trusted_dirs == frozenset({"/opt/x"})
    assert bound == ShellCommand.parse("/opt/x/git status", trusted_dirs=["/opt/x/"])


@pytest.mark.parametrize(
    ("dirs", "error", "message"),
    [(frozenset({"bin"}), ValueError, "not an absolute path"), (frozenset({1}), TypeError, "int")],
)
def test_binder_with_invalid_trusted_dirs_fails_each_bind(
    dirs: frozenset[object], error: type[Exception], message: str
) -> None:
    """The binder is still built; each command bind raises as ``ShellCommand.parse`` does."""
    binder = Binder(trusted_dirs=dirs)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(error, match=message):
            binder.bind("os.shell", "command", "git status")
    assert binder.bind("user.confirm", "message", "ok?") == "ok?"


def test_sh13_engine_with_invalid_trusted_dirs_denies_with_an_error() -> None:
    engine = PolicyEngine(SEED_POLICY, trusted_dirs=["bin"])
    decision = engine.evaluate("os.shell", {"command": "python run.py"}).decision
    assert decision is not None
    assert decision.allowed is False
    assert decision.error is True


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(_COMMANDS)
def test_seed_policy_decides_alike_cold_and_warm(command: str) -> None:
    """The seed allow-list decides a call the same with an empty and a warm cache."""
    engine = PolicyEngine(SEED_POLICY)
    shell._parse_cached.cache_clear()
    cold = engine.evaluate("os.shell", {"command": command}).decision
    warm = engine.evaluate("os.shell", {"command": command}).decision
    assert cold == warm
    parsed = shell._parse(command, TRUSTED, 0)
    expected = command == "python run.py" or parsed.starts_with("git commit -m ")
    assert cold is not None
    assert cold.allowed is expected


# --------------------------------------------------------------------------- programs


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("python", "python"),
        ("python3", "python"),
        ("python3.11", "python"),
        ("pypy3", "python"),
        ("nodejs", "node"),
        ("node", "node"),
        ("luajit", "lua"),
        ("lua5.4", "lua"),
        ("perl5.36", "perl"),
        ("ruby3.2", "ruby"),
        ("php8.2", "php"),
        ("gawk", "gawk"),
        ("pythonx", None),
        ("nodejs2", None),
        ("luax", None),
        ("git", None),
    ],
)
def test_sh05_interpreter_names(name: str, kind: str | None) -> None:
    """SH-05: versioned interpreter names map to their kind with one expression."""
    assert programs._interpreter(name) == kind


# --------------------------------------------------------------------------- JSON depth


def _depth_scan(text: str, max_depth: int) -> bool:
    """The full bracket scan: True when it finds nesting deeper than ``max_depth``."""
    depth = 0
    for match in _validate._TOKENS.finditer(text):
        step = _validate._DEPTH_STEP.get(match.group())
        if step is None:
            if len(match.group()) == 1:
                return False
            continue
        depth += step
        if depth > max_depth:
            return True
    return False


def _check_depth_refuses(text: str, max_depth: int) -> bool:
    try:
        _validate._check_depth(text, max_depth)
    except _validate._Refused as refused:
        problems = refused.problems
    else:
        return False
    assert problems == [("$", f"nested deeper than {max_depth} levels")]
    return True


@given(st.text(st.sampled_from(list('[]{}"\\a:,')), max_size=20), st.integers(1, 5))
def test_b07_depth_shortcut_equals_the_scan(text: str, max_depth: int) -> None:
    """B-07: skipping the scan when few brackets are written never lets depth through."""
    assert _check_depth_refuses(text, max_depth) is _depth_scan(text, max_depth)


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("[[]]", False),
        ("[[[]]]", True),
        ('{"a": "[[[[[[[["}', False),
        ('{"a": [{"b": []}]}', True),
        ('{"a": [1], "b": {}, "c": []}', False),
    ],
)
def test_b07_depth_examples(text: str, refused: bool) -> None:
    assert _check_depth_refuses(text, 2) is refused
