"""Run one command in its own process group, with a minimal environment and bounded output.

:func:`run_command` is the machinery behind the ``os.shell`` tool. The
policy engine has already approved the exact command; this module runs it
and makes sure of four things:

- **Nothing outlives the call** (S-22): the command runs in a new session,
  so its process group holds everything it starts. On timeout or
  cancellation the whole group gets SIGTERM, then SIGKILL after
  ``kill_grace`` seconds, and the direct child is always reaped. When the
  command ends on its own, whatever it left running in its group
  (``sleep 300 &``) is ended the same way. A process that moves itself to
  a new session (``setsid``, a daemon) leaves the group and is out of reach.
- **No secrets reach it** (SE-06, BY-10): its environment is built from
  scratch, from an allow-list of names (:data:`DEFAULT_ENV_PASSTHROUGH`)
  and the ``env`` given; a name matching :data:`SECRET_ENV_PATTERNS` is
  dropped from the pass-through and refused in ``env``.
- **Output is bounded** (B-05): stdout and stderr are read concurrently;
  the first ``max_output`` bytes of each are kept and the rest is read and
  counted, so the command never blocks on a full pipe and ``yes`` costs no
  memory (its timeout ends it).
- **Output is text** (B-06): bytes are decoded as UTF-8 with invalid
  sequences replaced, so the result always encodes as JSON.

A timeout does not raise: the result comes back with ``timed_out=True``
and the output read so far, for the model to see. A cancellation of the
calling task ends the group the same way and then propagates.

Errors::

    ToolError
    ├── InvalidCommand        the command, an argv item or cwd is unusable (ValueError)
    ├── CommandUsageError     run_command called with unsupported options
    │   │                     (UsageError, ValueError)
    │   └── SecretInEnvironment   ``env`` names a secret-looking variable
    └── CommandNotStarted     the program could not be started (OSError)

POSIX only: on Windows :func:`run_command` raises :class:`NotImplementedError`.
No thread is started (on Linux older than 5.3, trio itself waits for a
child in a worker thread).
"""

from __future__ import annotations

import codecs
import contextlib
import fnmatch
import math
import os
import signal
import subprocess
import sys
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs
import trio

from actrio.kernel import UsageError
from actrio.tools.errors import ToolError

if TYPE_CHECKING:
    from trio.abc import ReceiveStream, SendStream

__all__ = (
    "DEFAULT_ENV_PASSTHROUGH",
    "SECRET_ENV_PATTERNS",
    "CommandNotStarted",
    "CommandResult",
    "CommandUsageError",
    "InvalidCommand",
    "SecretInEnvironment",
    "is_secret_env_name",
    "minimal_environment",
    "run_command",
)

DEFAULT_ENV_PASSTHROUGH: Final[frozenset[str]] = frozenset(
    {
        "HOME",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "LOGNAME",
        "PATH",
        "SHELL",
        "TERM",
        "TMPDIR",
        "TZ",
        "USER",
    }
)
"""The variables a command inherits from ``os.environ`` by default."""

SECRET_ENV_PATTERNS: Final[tuple[str, ...]] = (
    "*API_KEY*",
    "*_TOKEN",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*CREDENTIAL*",
    "*PRIVATE_KEY*",
    "OPENAI_*",
    "ANTHROPIC_*",
    "GEMINI_*",
    "GOOGLE_API_KEY",
    "AWS_*",
    "AZURE_*",
)
"""Shell-style patterns of variable names that never reach a command.

Matched case-insensitively against the whole name (``fnmatch``): ``*``
stands for any run of characters. A matching name is dropped from the
pass-through without a word and refused in an explicit ``env``.
"""

_CHUNK: Final = 64 * 1024
"""Bytes read from a pipe at a time."""

_POLL: Final = 0.02
"""Seconds between two checks that a process group is gone."""

_MIN_DRAIN: Final = 0.2
"""Seconds the pipes are read, at least, after the group has ended."""


class InvalidCommand(ToolError, ValueError):
    """The command cannot be run as given: empty, a NUL byte, a missing cwd.

    Attributes:
        field: What was wrong: ``command``, ``argv[2]``, ``cwd``.
        reason: Why, in a few words.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidCommand], tuple[str, str]]:
        return type(self), (self.field, self.reason)


class CommandUsageError(ToolError, UsageError, ValueError):
    """:func:`run_command` was called with options it does not support."""


class SecretInEnvironment(CommandUsageError):
    """An explicit ``env`` names a variable that matches :data:`SECRET_ENV_PATTERNS`.

    The message names the variable and the pattern, never its value.

    Attributes:
        name: The variable's name.
        pattern: The pattern it matched.
    """

    def __init__(self, name: str, pattern: str) -> None:
        super().__init__(
            f"env variable {name!r} matches the secret pattern {pattern!r};"
            " secrets are never passed to commands"
        )
        self.name = name
        self.pattern = pattern

    def __reduce__(self) -> tuple[type[SecretInEnvironment], tuple[str, str]]:
        return type(self), (self.name, self.pattern)


class CommandNotStarted(ToolError, OSError):
    """The program could not be started; the ``OSError`` is ``__cause__``.

    Attributes:
        program: The program that was to run (``argv[0]``).
    """

    def __init__(self, program: str, error: OSError) -> None:
        super().__init__(
            error.errno, f"cannot start {program!r}: {error.strerror or type(error).__name__}"
        )
        self.program = program

    def __str__(self) -> str:
        return str(self.strerror)


@attrs.frozen
class CommandResult:
    """What a command did: its exit, its (bounded) output and how long it took.

    Attributes:
        stdout: The first ``max_output`` bytes of standard output, decoded.
        stderr: The first ``max_output`` bytes of standard error, decoded.
        stdout_bytes_total: How many bytes of standard output were read.
        stderr_bytes_total: How many bytes of standard error were read.
        truncated: Whether either stream was longer than ``max_output``.
        exit_code: The exit status, or ``None`` if a signal ended the process.
        signal: The signal that ended the process, or ``None``.
        timed_out: Whether the timeout passed and the command was killed.
        duration: Seconds from start to the end of the group, on trio's clock.
        max_output: The byte cap each stream was kept to.
    """

    stdout: str
    stderr: str
    stdout_bytes_total: int
    stderr_bytes_total: int
    truncated: bool
    exit_code: int | None
    signal: int | None
    timed_out: bool
    duration: float
    max_output: int

    def to_text(self) -> str:
        """Render the result for the model: status, then each non-empty stream.

        A stream longer than the cap ends with a marker giving its full
        size, e.g. ``[stdout truncated: 1,048,576 bytes total, first
        65,536 shown]``.
        """
        parts = [self._status()]
        streams = (
            ("stdout", self.stdout, self.stdout_bytes_total),
            ("stderr", self.stderr, self.stderr_bytes_total),
        )
        for name, text, total in streams:
            if not total:
                continue
            parts.append(f"{name}:\n{text.removesuffix(chr(10))}")
            if total > self.max_output:
                parts.append(
                    f"[{name} truncated: {total:,} bytes total, first {self.max_output:,} shown]"
                )
        if not (self.stdout_bytes_total or self.stderr_bytes_total):
            parts.append("(no output)")
        return "\n".join(parts)

    def _status(self) -> str:
        if self.signal is not None:
            end = f"killed by signal {_signal_name(self.signal)}"
        else:
            end = f"exit code {self.exit_code}"
        if self.timed_out:
            return f"timed out and stopped after {self.duration:.1f} s; {end}"
        return end


def _signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return str(number)


def is_secret_env_name(name: str) -> str | None:
    """Return the pattern of :data:`SECRET_ENV_PATTERNS` that ``name`` matches, if any.

    Args:
        name: An environment variable's name; case does not matter.

    Returns:
        The first matching pattern, or ``None`` when the name looks harmless.
    """
    upper = name.upper()
    return next((p for p in SECRET_ENV_PATTERNS if fnmatch.fnmatchcase(upper, p)), None)


def minimal_environment(
    env: Mapping[str, str] | None = None,
    passthrough: Collection[str] = DEFAULT_ENV_PASSTHROUGH,
) -> dict[str, str]:
    """Build a command's environment from scratch (SE-06).

    Args:
        env: Variables to set explicitly; they win over the pass-through.
        passthrough: Names copied from ``os.environ`` when set there.

    Returns:
        The environment: passed-through names without the secret-looking
        ones, then ``env``.

    Raises:
        SecretInEnvironment: If a name in ``env`` matches :data:`SECRET_ENV_PATTERNS`.
        CommandUsageError: If ``passthrough`` is a bare string, or ``env`` is
            not a mapping of names to values without NUL bytes and ``=``.
    """
    if isinstance(passthrough, str | bytes) or not all(isinstance(n, str) for n in passthrough):
        raise CommandUsageError("env_passthrough must be a collection of str names")
    if env is not None and not isinstance(env, Mapping):
        raise CommandUsageError(f"env must be a mapping, not {_tname(env)}")
    result = {
        name: os.environ[name]
        for name in sorted(passthrough)
        if name in os.environ and is_secret_env_name(name) is None
    }
    for name, value in (env or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise CommandUsageError("env must map str names to str values")
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise CommandUsageError(f"env name {name!r} or its value is not a valid variable")
        pattern = is_secret_env_name(name)
        if pattern is not None:
            raise SecretInEnvironment(name, pattern)
        result[name] = value
    return result


async def run_command(
    command: str | Sequence[str],
    *,
    cwd: Path,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    env_passthrough: Collection[str] = DEFAULT_ENV_PASSTHROUGH,
    max_output: int = 64 * 1024,
    kill_grace: float = 2.0,
    stdin: bytes | None = None,
    shell: str = "/bin/bash",
) -> CommandResult:
    """Run a command in its own process group and return its bounded output.

    Args:
        command: A string, run as ``[shell, "-c", command]`` exactly as
            given, or an argv sequence, run directly.
        cwd: The working directory; it must exist and be a directory.
        timeout: Seconds (trio's clock) after which the group is killed and
            the result comes back with ``timed_out=True``; ``None`` for none.
        env: Variables to set on top of the pass-through; secret-looking
            names are refused.
        env_passthrough: Names copied from ``os.environ``; secret-looking
            names are dropped.
        max_output: Bytes kept of each of stdout and stderr.
        kill_grace: Seconds between SIGTERM and SIGKILL to the group.
        stdin: Bytes written to the command's standard input, which is then
            closed; ``None`` gives it ``/dev/null``, so it never waits for input.
        shell: The shell a string command runs under.

    Returns:
        The exit status, the output read and whether the timeout passed.

    Raises:
        NotImplementedError: On Windows.
        InvalidCommand: If the command is empty or whitespace, an argv item
            or cwd holds a NUL byte, or cwd is not an existing directory.
        SecretInEnvironment: If ``env`` names a secret-looking variable.
        CommandUsageError: If an option is out of range or of the wrong type.
        CommandNotStarted: If the program cannot be started.
        trio.Cancelled: When the calling task is cancelled, after the group
            has been ended and the child reaped.
    """
    if sys.platform == "win32":
        raise NotImplementedError("run_command needs POSIX process groups (Linux, macOS)")
    argv = _argv(command, shell)
    directory = _directory(cwd)
    _check_options(timeout, max_output, kill_grace, stdin, shell)
    environment = minimal_environment(env, env_passthrough)
    start = trio.current_time()
    proc = await _start(argv, directory, environment, with_stdin=stdin is not None)
    out, err = _Capture(max_output), _Capture(max_output)
    ended = False
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(out.drain, proc.stdout)
            nursery.start_soon(err.drain, proc.stderr)
            if stdin is not None:
                assert proc.stdin is not None
                nursery.start_soon(_feed, proc.stdin, stdin)
            with trio.move_on_after(math.inf if timeout is None else timeout) as deadline:
                await proc.wait()
            await _end_group(proc, kill_grace, reaped=not deadline.cancelled_caught)
            ended = True
            # Whatever is still in the pipes is read, unless a process that
            # left the group holds them open.
            with trio.move_on_after(max(kill_grace, _MIN_DRAIN)):
                await out.eof.wait()
                await err.eof.wait()
            nursery.cancel_scope.cancel()
    finally:
        if not ended:
            await _end_group(proc, kill_grace, reaped=False)
        with trio.CancelScope(shield=True):
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    await pipe.aclose()
    code = proc.returncode
    assert code is not None
    return CommandResult(
        stdout=out.text(),
        stderr=err.text(),
        stdout_bytes_total=out.total,
        stderr_bytes_total=err.total,
        truncated=out.total > max_output or err.total > max_output,
        exit_code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        timed_out=deadline.cancelled_caught,
        duration=trio.current_time() - start,
        max_output=max_output,
    )


def _argv(command: object, shell: str) -> list[str]:
    if isinstance(command, str):
        if not command.strip():
            raise InvalidCommand("command", "is empty")
        _check_nul("command", command)
        return [shell, "-c", command]
    if isinstance(command, bytes | bytearray) or not isinstance(command, Sequence):
        expected = "a str or a sequence of str"
        raise InvalidCommand("command", f"must be {expected}, not {_tname(command)}")
    if not command:
        raise InvalidCommand("command", "is an empty argv")
    for index, item in enumerate(command):
        if not isinstance(item, str):
            raise InvalidCommand(f"argv[{index}]", f"must be a str, not {_tname(item)}")
        _check_nul(f"argv[{index}]", item)
    if not command[0].strip():
        raise InvalidCommand("argv[0]", "is empty")
    return list(command)


def _check_nul(field: str, text: str) -> None:
    if "\0" in text:
        raise InvalidCommand(field, f"contains a NUL byte at position {text.index(chr(0))}")


def _tname(value: object) -> str:
    return type(value).__name__


def _directory(cwd: object) -> Path:
    if not isinstance(cwd, str | os.PathLike):
        raise InvalidCommand("cwd", f"must be a path, not {_tname(cwd)}")
    path = Path(cwd)
    _check_nul("cwd", str(path))
    # One stat: cheaper than a worker thread, and actrio starts none.
    if not path.is_dir():
        raise InvalidCommand("cwd", f"{str(path)!r} is not an existing directory")
    return path


def _check_options(
    timeout: float | None, max_output: int, kill_grace: float, stdin: bytes | None, shell: str
) -> None:
    if timeout is not None and not (isinstance(timeout, int | float) and timeout >= 0):
        raise CommandUsageError(f"timeout must be None or a number >= 0, got {timeout!r}")
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 0:
        raise CommandUsageError(f"max_output must be an int >= 0, got {max_output!r}")
    if not (isinstance(kill_grace, int | float) and math.isfinite(kill_grace) and kill_grace >= 0):
        raise CommandUsageError(f"kill_grace must be a finite number >= 0, got {kill_grace!r}")
    if stdin is not None and not isinstance(stdin, bytes):
        raise CommandUsageError(f"stdin must be bytes or None, not {_tname(stdin)}")
    if not isinstance(shell, str) or not shell or "\0" in shell:
        raise CommandUsageError(f"shell must be a path without NUL bytes, got {shell!r}")


async def _start(
    argv: list[str], cwd: Path, env: dict[str, str], *, with_stdin: bool
) -> trio.Process:
    try:
        return await trio.lowlevel.open_process(
            argv,
            stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            # A new session is a new process group whose id is the child's
            # pid: the whole tree the command starts can be signalled at once.
            start_new_session=True,
        )
    except OSError as error:
        raise CommandNotStarted(argv[0], error) from error


@attrs.define
class _Capture:
    """The head of one output stream, and a count of all of it."""

    limit: int
    head: bytearray = attrs.field(factory=bytearray)
    total: int = 0
    eof: trio.Event = attrs.field(factory=trio.Event)

    async def drain(self, stream: ReceiveStream | None) -> None:
        assert stream is not None
        while chunk := await stream.receive_some(_CHUNK):
            self.total += len(chunk)
            room = self.limit - len(self.head)
            if room > 0:
                self.head += chunk[:room]
        self.eof.set()

    def text(self) -> str:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # A cut head may end inside a character: that partial tail is
        # dropped rather than shown as U+FFFD.
        return decoder.decode(bytes(self.head), final=self.total <= self.limit)


async def _feed(stream: SendStream, data: bytes) -> None:
    # A command that exits (or closes stdin) without reading it all is not an error.
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(data)
    await stream.aclose()


def _signal_group(pgid: int, signum: int) -> None:
    # Gone already, or a member we may not signal (a setuid program): nothing to do.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _end_group(proc: trio.Process, grace: float, *, reaped: bool) -> None:
    """SIGTERM the group, SIGKILL it after ``grace``, and reap the child; never cancelled.

    Until the child is reaped its zombie keeps the group id from being
    reused, so signals go to the group before the first ``wait()`` that
    reaps it. After that the stragglers keep the id alive themselves;
    between the last check that they exist and the SIGKILL, the id could
    only be reused if the pid space wrapped around in that instant.
    """
    pgid = proc.pid
    # ``proc.returncode`` is not read here: reading it reaps the child.
    if reaped and not _group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    with trio.move_on_after(grace, shield=True) as waited:
        await proc.wait()
        while _group_alive(pgid):
            await trio.sleep(_POLL)
    if waited.cancelled_caught:
        _signal_group(pgid, signal.SIGKILL)
    with trio.CancelScope(shield=True):
        await proc.wait()
