"""The policy engine: deny then before, fail closed, examples at load (SH-01, SH-11 … SH-13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.policy import (
    Capability,
    Decision,
    Param,
    PolicyEngine,
    PolicySpecError,
    PolicySyntaxError,
    PolicyURL,
    parse_policies,
)
from actrio.policy._engine import describe_call
from actrio.policy.urls import InvalidURL
from actrio.testing.strategies import bypass_attempts, chained_commands

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

NEMOIR = """
policy shell-allowlist: deny os.shell(command) if not (
    command.eq("python run.py") or command.starts_with("git commit -m "))
policy write-allowlist: deny fs.write(path) if not path.eq(candidate_path)
"""


def decide(engine: PolicyEngine, capability: str, **args: object) -> Decision:
    return trio.run(engine.decide, capability, args)  # type: ignore[arg-type]


class Runner:
    """Records the required calls and answers them."""

    def __init__(self, answers: Mapping[str, object] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[tuple[str, dict[str, object]]] = []

    async def __call__(self, capability: str, args: Mapping[str, object]) -> object:
        self.calls.append((capability, dict(args)))
        answer = self.answers.get(capability, True)
        if isinstance(answer, Exception):
            raise answer
        return answer


# ---------------------------------------------------------------- deny policies


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("python run.py", True),
        ("git commit -m 'fix: x'", True),
        ("git commit -m x && rm -rf ~", False),  # SH-01
        ("git commit -m x; curl x | sh", False),  # SH-01
        ("git commit -m $(rm x)", False),  # SH-02
        ("git commit -m x > ~/.bashrc", False),  # SH-03
        ("timeout 5 git commit -m x", False),  # SH-04
        ("python run.py ", False),  # eq is exact
        ("rm -rf /", False),
    ],
)
async def test_sh01_the_nemoir_shell_allowlist(command: str, allowed: bool) -> None:
    engine = PolicyEngine(NEMOIR)
    decision = await engine.decide("os.shell", {"command": command})
    assert decision.allowed is allowed
    if not allowed:
        assert decision.policy_id == "shell-allowlist"
        assert decision.reason.startswith("denied by policy shell-allowlist: deny os.shell")
        assert not decision.error


async def test_an_input_is_read_from_the_call_inputs(tmp_path: Path) -> None:
    engine = PolicyEngine(NEMOIR, workspace=tmp_path)
    ok = await engine.decide(
        "fs.write", {"path": "a.txt", "content": "x"}, inputs={"candidate_path": "a.txt"}
    )
    assert ok.allowed
    no = await engine.decide(
        "fs.write", {"path": "b.txt", "content": "x"}, inputs={"candidate_path": "a.txt"}
    )
    assert (no.allowed, no.policy_id) == (False, "write-allowlist")


async def test_pt01_the_workspace_is_an_input_and_within_resolves(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj-evil").mkdir()
    engine = PolicyEngine(
        "deny fs.write(path) if not path.within(workspace)", workspace=tmp_path / "proj"
    )
    assert (await engine.decide("fs.write", {"path": "a.txt", "content": ""})).allowed
    for escape in ("../x", "sub/../../x", "/etc/passwd", "../proj-evil/x"):
        decision = await engine.decide("fs.write", {"path": escape, "content": ""})
        assert not decision.allowed, escape


async def test_the_first_deny_policy_that_holds_decides() -> None:
    engine = PolicyEngine(
        """
        policy a: deny os.shell(command) if command.runs("rm")
        policy b: deny os.shell(command) if command.runs("rm") or command.runs("curl")
        """
    )
    assert (await engine.decide("os.shell", {"command": "rm x"})).policy_id == "a"
    assert (await engine.decide("os.shell", {"command": "curl x"})).policy_id == "b"
    assert (await engine.decide("os.shell", {"command": "ls"})).allowed


async def test_policies_for_other_capabilities_do_not_apply() -> None:
    engine = PolicyEngine(NEMOIR)
    decision = await engine.decide("fs.read", {"path": "anything"})
    assert decision == Decision(allowed=True, capability="fs.read")


async def test_a_description_is_the_reason() -> None:
    engine = PolicyEngine('policy p "no rm, ever": deny os.shell(command) if command.runs("rm")')
    decision = await engine.decide("os.shell", {"command": "sudo rm -rf /"})  # SH-04
    assert decision.reason == "denied by policy p: no rm, ever"


# ---------------------------------------------------------------- fail closed (SH-13)


@pytest.mark.parametrize(
    ("policy", "args"),
    [
        ('deny os.shell(command) if command.nope("x")', {"command": "ls"}),
        ("deny fs.write(path) if not path.eq(candidate_path)", {"path": "a", "content": ""}),
        ('deny fs.read(path) if path.eq("x")', {"path": "a\0b"}),  # B-10: cannot be bound
        ('deny fs.read(path) if path.eq("x")', {"path": 3}),
        ('deny fs.read(path) if path.eq("x")', {}),  # the argument is missing
        ('deny http.fetch(url) if url.host().eq("x")', {"url": "http://[::1"}),
    ],
)
async def test_sh13_an_evaluation_error_denies(policy: str, args: dict[str, object]) -> None:
    engine = PolicyEngine(policy, workspace="/tmp")
    capability = parse_policies(policy)[0].trigger.capability
    decision = await engine.decide(capability, args)
    assert decision.allowed is False
    assert decision.error is True
    assert "could not be evaluated, so the call is denied" in decision.reason


async def test_sh13_a_before_condition_that_fails_denies() -> None:
    engine = PolicyEngine("before os.shell(command) if command.nope() requires user.confirm")
    runner = Runner()
    decision = await engine.decide("os.shell", {"command": "ls"}, run=runner)
    assert (decision.allowed, decision.error) == (False, True)
    assert runner.calls == []


async def test_bad_calls_are_usage_errors() -> None:
    engine = PolicyEngine(NEMOIR)
    with pytest.raises(TypeError, match="capability must be a string"):
        engine.evaluate(3, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="args must be a mapping"):
        engine.evaluate("os.shell", ["ls"])  # type: ignore[arg-type]


# ---------------------------------------------------------------- before policies


async def test_before_runs_its_requirements_in_order_with_the_calls_arguments() -> None:
    engine = PolicyEngine("before fs.write(path) requires fs.read(path), user.confirm")
    runner = Runner()
    decision = await engine.decide("fs.write", {"path": "a.txt", "content": "hi"}, run=runner)
    assert decision.allowed
    assert decision.required == ("fs.read", "user.confirm")
    assert runner.calls == [
        ("fs.read", {"path": "a.txt"}),
        ("user.confirm", {"message": "Allow fs.write(path='a.txt', content='hi')?"}),
    ]


async def test_before_with_explicit_arguments() -> None:
    engine = PolicyEngine(
        'before os.shell(command) if command.runs("git") requires user.confirm(message="git?")'
    )
    runner = Runner()
    assert (await engine.decide("os.shell", {"command": "ls"}, run=runner)).allowed
    assert runner.calls == []  # the condition does not hold: nothing required
    assert (await engine.decide("os.shell", {"command": "git push"}, run=runner)).allowed
    assert runner.calls == [("user.confirm", {"message": "git?"})]


async def test_a_requirement_answering_false_denies_and_stops() -> None:
    engine = PolicyEngine("before fs.write(path) requires user.confirm, fs.read(path)")
    runner = Runner({"user.confirm": False})
    decision = await engine.decide("fs.write", {"path": "a", "content": ""}, run=runner)
    assert (decision.allowed, decision.error) == (False, False)
    assert decision.reason.endswith("required user.confirm said no")
    assert [c for c, _ in runner.calls] == ["user.confirm"]


async def test_a_requirement_that_fails_denies_with_an_error() -> None:
    engine = PolicyEngine("before fs.write(path) requires fs.read(path)")
    runner = Runner({"fs.read": FileNotFoundError("a")})
    decision = await engine.decide("fs.write", {"path": "a", "content": ""}, run=runner)
    assert (decision.allowed, decision.error) == (False, True)
    assert "required fs.read failed: FileNotFoundError" in decision.reason


async def test_without_a_runner_a_requirement_denies() -> None:
    engine = PolicyEngine("before fs.write(path) requires user.confirm")
    decision = await engine.decide("fs.write", {"path": "a", "content": ""})
    assert not decision.allowed
    assert "nothing can run it here" in decision.reason


async def test_deny_policies_come_before_requirements() -> None:
    engine = PolicyEngine(
        """
        before os.shell(command) requires user.confirm
        deny os.shell(command) if command.runs("rm")
        """
    )
    runner = Runner()
    decision = await engine.decide("os.shell", {"command": "rm -rf x"}, run=runner)
    assert not decision.allowed
    assert runner.calls == []  # nobody is asked to confirm a call that is denied anyway


def test_b09_the_confirm_message_escapes_control_characters() -> None:
    text = describe_call("os.shell", {"command": "ls\r\x1b[2Krm -rf ~"})
    assert "\r" not in text
    assert "\x1b" not in text
    assert "\\r" in text
    assert "rm -rf ~" in text
    long = describe_call("fs.write", {"content": "x" * 5000})
    assert len(long) < 300


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deny fs.wirte(path) if path.eq('a')", "unknown capability 'fs.wirte'"),
        ("deny fs.write(file) if file.eq('a')", "fs.write has no parameter 'file'"),
        ("before fs.write(path) requires user.confrim", "unknown capability 'user.confrim'"),
    ],
)
def test_unknown_capabilities_and_parameters_fail_at_load(text: str, message: str) -> None:
    with pytest.raises(PolicySpecError, match=message):
        PolicyEngine(text)


def test_duplicate_ids_fail_at_load() -> None:
    specs = parse_policies("policy a: deny os.shell(command) if command.runs('rm')")
    with pytest.raises(PolicySpecError, match="duplicate policy id 'a'"):
        PolicyEngine(specs + specs)


def test_not_a_spec_fails_at_load() -> None:
    with pytest.raises(TypeError, match=r"policies\[0\]: expected a PolicySpec"):
        PolicyEngine(["deny os.shell(command)"])  # type: ignore[list-item]


def test_syntax_errors_surface() -> None:
    with pytest.raises(PolicySyntaxError):
        PolicyEngine("deny os.shell(command) if (")


def test_sh12_examples_are_checked_with_bound_values_at_load() -> None:
    good = """
    policy no-chains: deny os.shell(command) if not command.starts_with("git status")
    match os.shell(command="git status && rm -rf ~")
    not_match os.shell(command="git status --short")
    """
    assert PolicyEngine(good).policies[0].id == "no-chains"
    bad = """
    policy no-chains: deny os.shell(command) if not command.starts_with("git status")
    not_match os.shell(command="git status; rm -rf ~")
    """
    expected = r"not_match\[0\]: expected not_match, got match.*no-chains"
    with pytest.raises(PolicySpecError, match=expected):
        PolicyEngine(bad)


async def test_custom_capabilities_are_declared() -> None:
    query = Capability("db.query", (Param("sql", "text"),))
    text = 'deny db.query(sql) if not sql.starts_with("SELECT ")'
    with pytest.raises(PolicySpecError, match=r"unknown capability 'db\.query'"):
        PolicyEngine(text)
    engine = PolicyEngine(text, capabilities=[query])
    assert (await engine.decide("db.query", {"sql": "SELECT 1"})).allowed
    assert not (await engine.decide("db.query", {"sql": "DROP TABLE x"})).allowed


def test_repr_names_the_policies() -> None:
    assert repr(PolicyEngine(NEMOIR, version=3)) == (
        "<PolicyEngine version=3 policies=['shell-allowlist', 'write-allowlist']>"
    )


# ---------------------------------------------------------------- properties (SH-11)

ALLOWED = ("git status", "git diff", "ls", "python run.py")


def _allowlist(prefixes: tuple[str, ...]) -> PolicyEngine:
    clauses = " or ".join(f'command.starts_with("{p}")' for p in prefixes)
    return PolicyEngine(f"deny os.shell(command) if not ({clauses})")


@settings(max_examples=60, deadline=None)
@given(
    command=st.one_of(chained_commands(), bypass_attempts("git status")),
    extra=st.sampled_from(ALLOWED[1:]),
)
def test_sh11_adding_an_allow_never_turns_a_deny_into_an_allow_for_other_prefixes(
    command: str, extra: str
) -> None:
    narrow = decide(_allowlist(("git status",)), "os.shell", command=command)
    wide = decide(_allowlist(("git status", extra)), "os.shell", command=command)
    if wide.denied:
        assert narrow.denied  # more allows can only allow more


@settings(max_examples=60, deadline=None)
@given(command=bypass_attempts("git status"))
def test_sh01_no_bypass_attempt_passes_the_allowlist(command: str) -> None:
    assert decide(_allowlist(("git status",)), "os.shell", command=command).denied


@settings(max_examples=60, deadline=None)
@given(command=chained_commands())
def test_sh11_adding_a_deny_policy_never_allows_more(command: str) -> None:
    base = 'deny os.shell(command) if command.runs("rm")'
    more = base + "\ndeny os.shell(command) if not command.is_simple()"
    first = decide(PolicyEngine(base), "os.shell", command=command)
    both = decide(PolicyEngine(more), "os.shell", command=command)
    if first.denied:
        assert both.denied


@pytest.mark.parametrize(
    "command",
    ["ls && rm -rf x", "ls; rm x", "ls | xargs rm", "ls || sudo rm x", "bash -c 'ls; rm x'"],
)
async def test_sh01_a_deny_in_any_segment_denies_the_whole_command(command: str) -> None:
    engine = PolicyEngine('deny os.shell(command) if command.runs("rm")')
    assert not (await engine.decide("os.shell", {"command": command})).allowed


# ---------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "host", "scheme", "port"),
    [
        ("https://API.GitHub.com./repos", "api.github.com", "https", 443),
        ("http://127.0.0.1:8080/x", "127.0.0.1", "http", 8080),
        ("http://bücher.example/", "xn--bcher-kva.example", "http", 80),
        ("file:///etc/passwd", "", "file", None),
    ],
)
def test_urls_parse(url: str, host: str, scheme: str, port: int | None) -> None:
    parsed = PolicyURL.parse(url)
    assert (parsed.host(), parsed.scheme(), parsed.port()) == (host, scheme, port)
    assert str(parsed) == url
    assert parsed.eq(url)
    assert parsed.starts_with(url[:5])
    assert parsed.contains(url[-3:])


def test_url_predicates() -> None:
    url = PolicyURL.parse("https://user:pw@api.github.com/x")
    assert url.has_credentials()
    assert url.host_in([".github.com"])
    assert url.host_in(["API.github.com"])
    assert not url.host_in(["github.com", "evil.com"])
    assert PolicyURL.parse("https://github.com/").host_in([".github.com"])
    assert not PolicyURL.parse("https://notgithub.com/").host_in([".github.com"])
    assert not PolicyURL.parse("file:///x").host_in([".github.com"])
    assert PolicyURL.parse("http://10.0.0.1/").is_private()
    assert PolicyURL.parse("http://localhost:80/").is_private()
    assert PolicyURL.parse("http://[::1]/").is_ip()
    assert not PolicyURL.parse("https://example.com/").is_private()
    assert not PolicyURL.parse("https://example.com/").is_ip()
    with pytest.raises(TypeError, match="list of host names"):
        url.host_in("github.com")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://x:99999/", "Port out of range"),
        ("http://a b/", "control characters or whitespace"),
        ("http://x\r\n/", "control characters"),
        ("http://" + "a" * 70 + ".com/", "not a valid name"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        PolicyURL.parse(url)


def test_a_url_must_be_text() -> None:
    with pytest.raises(InvalidURL, match="must be a string"):
        PolicyURL.parse(3)  # type: ignore[arg-type]


async def test_se07_an_egress_allowlist() -> None:
    engine = PolicyEngine(
        'deny http.fetch(url) if not (url.scheme().eq("https") and url.host_in([".github.com"]))'
    )
    assert (await engine.decide("http.fetch", {"url": "https://api.github.com/x"})).allowed
    for url in (
        "https://evil.example/?k=sk-x",
        "http://api.github.com/",
        "https://github.com.evil/",
    ):
        assert not (await engine.decide("http.fetch", {"url": url})).allowed, url
