"""The process machinery of ``os.shell``: real subprocesses, groups, env, bounded output.

Covers S-22 (the whole group is killed), SE-06 (no secrets in the child's
environment), B-05 (bounded output), B-06 (invalid UTF-8), B-10 (NUL and
empty commands).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import time
from pathlib import Path

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.kernel import UsageError
from actrio.tools.errors import ToolError
from actrio.tools.official import _process
from actrio.tools.official._process import (
    DEFAULT_ENV_PASSTHROUGH,
    SECRET_ENV_PATTERNS,
    CommandNotStarted,
    CommandResult,
    CommandUsageError,
    InvalidCommand,
    SecretInEnvironment,
    is_secret_env_name,
    minimal_environment,
    run_command,
)

CANARY = "sk-test-canary-5f0c9e1d7a"
GRACE = 0.3


def _gone(pid: int) -> bool:
    """Whether ``pid`` is dead: no /proc entry, or a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _same_file(a: str, b: Path) -> bool:
    return os.path.samefile(a, b)


def _reaped(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


async def _eventually(check: object, pid: int, seconds: float = 5.0) -> bool:
    assert callable(check)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check(pid):
            return True
        await trio.sleep(0.02)
    return bool(check(pid))


# ---------------------------------------------------------------- basics


async def test_echo_exit_code_and_stderr(tmp_path: Path) -> None:
    result = await run_command("echo hi; echo oops >&2; exit 3", cwd=tmp_path)
    assert (result.stdout, result.stderr) == ("hi\n", "oops\n")
    assert (result.exit_code, result.signal, result.timed_out, result.truncated) == (
        3,
        None,
        False,
        False,
    )
    assert (result.stdout_bytes_total, result.stderr_bytes_total) == (3, 5)
    assert result.duration >= 0
    assert result.to_text() == "exit code 3\nstdout:\nhi\nstderr:\noops"


async def test_cwd_is_respected(tmp_path: Path) -> None:
    (tmp_path / "marker.txt").write_text("here")
    result = await run_command("pwd; cat marker.txt", cwd=tmp_path)
    where, content = result.stdout.split("\n")
    assert _same_file(where, tmp_path)
    assert content == "here"


async def test_stdin_bytes_are_fed_and_closed(tmp_path: Path) -> None:
    result = await run_command("wc -c; cat", cwd=tmp_path, stdin=b"abc\n")
    assert result.stdout.split() == ["4"]
    result = await run_command(["cat"], cwd=tmp_path, stdin=b"line one\nline two\n")
    assert result.stdout == "line one\nline two\n"


async def test_stdin_the_command_never_reads_is_not_an_error(tmp_path: Path) -> None:
    result = await run_command(["true"], cwd=tmp_path, stdin=b"x" * 1_000_000)
    assert result.exit_code == 0


async def test_without_stdin_the_command_reads_dev_null(tmp_path: Path) -> None:
    with trio.fail_after(10):
        result = await run_command("cat; echo done", cwd=tmp_path)
    assert result.stdout == "done\n"


async def test_argv_runs_without_a_shell(tmp_path: Path) -> None:
    result = await run_command(["printf", "%s|", "a b", "$HOME", "; rm -rf x"], cwd=tmp_path)
    assert result.stdout == "a b|$HOME|; rm -rf x|"


async def test_string_command_runs_under_the_given_shell(tmp_path: Path) -> None:
    result = await run_command("echo $0", cwd=tmp_path, shell="/bin/sh")
    assert result.stdout == "/bin/sh\n"


@settings(max_examples=25, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0")))
async def test_argv_text_round_trips(text: str) -> None:
    result = await run_command(["printf", "%s", text], cwd=Path.cwd())
    assert result.stdout == text


# ---------------------------------------------------------------- SE-06


@pytest.mark.parametrize(
    "command",
    ["env", "printenv", "cat /proc/self/environ", ["env"], ["cat", "/proc/self/environ"]],
)
async def test_se06_provider_keys_never_reach_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str | list[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", CANARY + "-ant")
    monkeypatch.setenv("MY_SERVICE_TOKEN", CANARY + "-svc")
    monkeypatch.setenv("UNLISTED_HARMLESS", "visible-only-if-passed")
    result = await run_command(
        command,
        cwd=tmp_path,
        env_passthrough={*DEFAULT_ENV_PASSTHROUGH, "MY_SERVICE_TOKEN", "OPENAI_API_KEY"},
    )
    assert result.exit_code == 0
    for leaked in (CANARY, "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MY_SERVICE_TOKEN"):
        assert leaked not in result.stdout
    assert "UNLISTED_HARMLESS" not in result.stdout
    assert "PATH=" in result.stdout


async def test_se06_explicit_env_is_set_but_secrets_are_refused(tmp_path: Path) -> None:
    result = await run_command("echo $GREETING", cwd=tmp_path, env={"GREETING": "hello"})
    assert result.stdout == "hello\n"
    for name in ("OPENAI_API_KEY", "openai_api_key", "GitHub_Token", "DB_PASSWORD", "AWS_REGION"):
        with pytest.raises(SecretInEnvironment) as caught:
            await run_command("env", cwd=tmp_path, env={name: CANARY})
        assert caught.value.name == name
        assert CANARY not in str(caught.value)
        assert isinstance(caught.value, UsageError | ValueError)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("OPENAI_API_KEY", "*API_KEY*"),
        ("api_key", "*API_KEY*"),
        ("GITHUB_TOKEN", "*_TOKEN"),
        ("CLIENT_SECRET_ID", "*SECRET*"),
        ("PGPASSWORD", "*PASSWORD*"),
        ("ANTHROPIC_BASE_URL", "ANTHROPIC_*"),
        ("gemini_model", "GEMINI_*"),
        ("AWS_PROFILE", "AWS_*"),
        ("Azure_Tenant", "AZURE_*"),
        ("PATH", None),
        ("HOME", None),
        ("TOKENIZERS_PARALLELISM", None),
    ],
)
def test_is_secret_env_name(name: str, pattern: str | None) -> None:
    assert is_secret_env_name(name) == pattern
    assert pattern is None or pattern in SECRET_ENV_PATTERNS


def test_minimal_environment_is_built_from_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/x")
    monkeypatch.delenv("TZ", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY)
    env = minimal_environment({"A": "1"}, {"HOME", "TZ", "AWS_SECRET_ACCESS_KEY"})
    assert env == {"HOME": "/home/x", "A": "1"}
    assert minimal_environment({"HOME": "/override"}, {"HOME"}) == {"HOME": "/override"}


@pytest.mark.parametrize(
    ("env", "passthrough"),
    [
        ({"A": 1}, ()),
        ({2: "x"}, ()),
        ({"": "x"}, ()),
        ({"A=B": "x"}, ()),
        ({"A\0": "x"}, ()),
        ({"A": "x\0y"}, ()),
        (None, "PATH"),
        (None, ["PATH", 1]),
        ([("A", "1")], ()),
    ],
)
def test_minimal_environment_rejects_bad_input(env: object, passthrough: object) -> None:
    with pytest.raises(CommandUsageError):
        minimal_environment(env, passthrough)  # type: ignore[arg-type]


# ---------------------------------------------------------------- B-05 / B-06


async def test_b05_output_is_capped_and_counted(tmp_path: Path) -> None:
    result = await run_command("yes | head -c 10000000; head -c 300000 /dev/zero >&2", cwd=tmp_path)
    assert result.exit_code == 0
    assert len(result.stdout) == 64 * 1024
    assert result.stdout.startswith("y\ny\n")
    assert (result.stdout_bytes_total, result.stderr_bytes_total) == (10_000_000, 300_000)
    assert len(result.stderr) == 64 * 1024
    assert result.truncated
    text = result.to_text()
    assert "[stdout truncated: 10,000,000 bytes total, first 65,536 shown]" in text
    assert "[stderr truncated: 300,000 bytes total, first 65,536 shown]" in text
    assert len(text) < 3 * 64 * 1024


async def test_b05_endless_output_is_ended_by_the_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    result = await run_command(
        "cat /dev/zero", cwd=tmp_path, timeout=0.5, max_output=1000, kill_grace=GRACE
    )
    assert time.monotonic() - started < 10
    assert result.timed_out
    assert result.truncated
    assert len(result.stdout) == 1000
    assert result.stdout_bytes_total > 1000


async def test_b05_a_cut_inside_a_character_drops_the_partial_tail(tmp_path: Path) -> None:
    result = await run_command(["printf", "aé"], cwd=tmp_path, max_output=2)
    assert (result.stdout, result.stdout_bytes_total, result.truncated) == ("a", 3, True)
    result = await run_command(["printf", "aé"], cwd=tmp_path, max_output=0)
    assert (result.stdout, result.truncated) == ("", True)
    assert "[stdout truncated: 3 bytes total, first 0 shown]" in result.to_text()


async def test_b06_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    result = await run_command(r"printf '\xff\xfe\x00abc\x1b[31m'; printf '\xc3' >&2", cwd=tmp_path)
    assert result.stdout == "\ufffd\ufffd\x00abc\x1b[31m"
    assert result.stderr == "\ufffd"
    assert json.loads(json.dumps(result.to_text())) == result.to_text()


# ---------------------------------------------------------------- S-22


async def test_s22_timeout_returns_the_partial_output(tmp_path: Path) -> None:
    started = time.monotonic()
    result = await run_command(
        "echo partial; sleep 30", cwd=tmp_path, timeout=0.5, kill_grace=GRACE
    )
    assert time.monotonic() - started < 10
    assert result.timed_out
    assert result.stdout == "partial\n"
    assert (result.exit_code, result.signal) == (None, signal.SIGTERM)
    assert result.to_text().startswith("timed out and stopped after ")
    assert "killed by signal SIGTERM (15)" in result.to_text()


async def test_s22_timeout_kills_a_background_grandchild(tmp_path: Path) -> None:
    result = await run_command(
        "sleep 300 & echo $! > pidfile; wait", cwd=tmp_path, timeout=0.5, kill_grace=GRACE
    )
    assert result.timed_out
    grandchild = int((tmp_path / "pidfile").read_text())
    assert await _eventually(_gone, grandchild)


async def test_s22_a_term_trapping_command_is_killed_after_the_grace(tmp_path: Path) -> None:
    started = time.monotonic()
    result = await run_command(
        "trap '' TERM; sleep 30 & echo $! > pidfile; wait",
        cwd=tmp_path,
        timeout=0.3,
        kill_grace=GRACE,
    )
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert result.signal == signal.SIGKILL
    assert GRACE <= elapsed < 10
    assert await _eventually(_gone, int((tmp_path / "pidfile").read_text()))


async def test_s22_cancellation_kills_the_group_reaps_and_propagates(tmp_path: Path) -> None:
    with trio.move_on_after(0.5) as scope:
        await run_command(
            "echo $$ > leader; sleep 300 & echo $! > grandchild; wait",
            cwd=tmp_path,
            kill_grace=GRACE,
        )
        pytest.fail("run_command returned under cancellation")
    assert scope.cancelled_caught
    leader = int((tmp_path / "leader").read_text())
    # The leader is our child: it must be reaped at once, not left a zombie.
    assert _reaped(leader)
    assert await _eventually(_gone, int((tmp_path / "grandchild").read_text()))


async def test_s22_what_a_finished_command_leaves_in_its_group_is_ended(tmp_path: Path) -> None:
    result = await run_command("sleep 300 & echo $!", cwd=tmp_path, timeout=10, kill_grace=GRACE)
    assert not result.timed_out
    assert result.exit_code == 0
    assert await _eventually(_gone, int(result.stdout))


async def test_s22_an_escaped_process_holding_the_pipe_does_not_hang(tmp_path: Path) -> None:
    # setsid leaves the group: out of reach, but the call still returns.
    started = time.monotonic()
    result = await run_command(
        "setsid sleep 3 & echo $! ; echo bye", cwd=tmp_path, timeout=10, kill_grace=GRACE
    )
    assert time.monotonic() - started < 2.5
    escaped, bye = result.stdout.split()
    assert bye == "bye"
    os.kill(int(escaped), signal.SIGKILL)


# ---------------------------------------------------------------- B-10 and misuse


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ("", "command"),
        ("   \n\t", "command"),
        ("echo a\0b", "command"),
        ([], "command"),
        ([""], "argv[0]"),
        (["  "], "argv[0]"),
        (["echo", "a\0"], "argv[1]"),
        (["echo", 3], "argv[1]"),
        (b"echo hi", "command"),
        (42, "command"),
    ],
)
async def test_b10_invalid_commands_are_rejected(
    tmp_path: Path, command: object, field: str
) -> None:
    with pytest.raises(InvalidCommand) as caught:
        await run_command(command, cwd=tmp_path)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert isinstance(caught.value, ToolError | ValueError)
    assert str(caught.value).startswith(f"{field}: ")


async def test_b10_nul_position_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidCommand, match="NUL byte at position 6"):
        await run_command("echo a\0", cwd=tmp_path)


@pytest.mark.parametrize("cwd", ["missing", "file.txt", "nul\0dir", 17])
async def test_b10_cwd_must_be_an_existing_directory(tmp_path: Path, cwd: object) -> None:
    (tmp_path / "file.txt").write_text("x")
    where = tmp_path / cwd if isinstance(cwd, str) else cwd
    with pytest.raises(InvalidCommand) as caught:
        await run_command("true", cwd=where)  # type: ignore[arg-type]
    assert caught.value.field == "cwd"


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": -1},
        {"timeout": "5"},
        {"max_output": -1},
        {"max_output": True},
        {"max_output": 1.5},
        {"kill_grace": float("nan")},
        {"kill_grace": -0.1},
        {"stdin": "text"},
        {"shell": ""},
        {"shell": "/bin/ba\0sh"},
        {"shell": None},
    ],
)
async def test_bad_options_are_usage_errors(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(CommandUsageError):
        await run_command("true", cwd=tmp_path, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("command", "shell"), [(["/nonexistent/program"], "/bin/bash"), ("true", "/no/such/sh")]
)
async def test_a_program_that_cannot_start_is_a_typed_error(
    tmp_path: Path, command: str | list[str], shell: str
) -> None:
    with pytest.raises(CommandNotStarted) as caught:
        await run_command(command, cwd=tmp_path, shell=shell)
    assert isinstance(caught.value, OSError)
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    assert caught.value.program in ("/nonexistent/program", "/no/such/sh")
    assert str(caught.value).startswith(f"cannot start {caught.value.program!r}")


async def test_windows_is_refused_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(sys, "platform", "win32")
        with pytest.raises(NotImplementedError, match="POSIX"):
            await run_command("true", cwd=tmp_path)


def test_errors_pickle_with_their_fields() -> None:
    error = pickle.loads(pickle.dumps(InvalidCommand("argv[1]", "is bad")))
    assert (error.field, error.reason) == ("argv[1]", "is bad")
    secret = pickle.loads(pickle.dumps(SecretInEnvironment("X_TOKEN", "*_TOKEN")))
    assert (secret.name, secret.pattern) == ("X_TOKEN", "*_TOKEN")


# ---------------------------------------------------------------- rendering and internals


def _result(**changes: object) -> CommandResult:
    fields: dict[str, object] = {
        "stdout": "",
        "stderr": "",
        "stdout_bytes_total": 0,
        "stderr_bytes_total": 0,
        "truncated": False,
        "exit_code": 0,
        "signal": None,
        "timed_out": False,
        "duration": 0.01,
        "max_output": 10,
    }
    return CommandResult(**(fields | changes))  # type: ignore[arg-type]


def test_to_text_without_output_or_with_an_unknown_signal() -> None:
    assert _result().to_text() == "exit code 0\n(no output)"
    assert _result(exit_code=None, signal=250).to_text() == "killed by signal 250\n(no output)"
    only_err = _result(stderr="bad\n", stderr_bytes_total=4, exit_code=2)
    assert only_err.to_text() == "exit code 2\nstderr:\nbad"


def test_group_checks_treat_a_foreign_member_as_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(pgid: int, signum: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "killpg", refuse)
    assert _process._group_alive(12345)
    _process._signal_group(12345, signal.SIGTERM)  # refused quietly
