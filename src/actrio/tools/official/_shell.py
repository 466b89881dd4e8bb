"""The shell tool: ``run_shell`` (``os.shell``), over :func:`run_command`.

The command runs as ``bash -c command`` in the workspace
(:attr:`ToolContext.root <actrio.tools._context.ToolContext.root>`), in its own
process group with a minimal environment that carries no provider keys
(SE-06); stdout and stderr are each cut at :data:`SHELL_MAX_OUTPUT` bytes
(B-05); after :data:`SHELL_TIMEOUT` seconds the whole group is stopped and
the result says ``timed_out`` (S-22). A non-zero exit is a result, not an
error: the model reads the exit code and stderr.

The shell is not a path sandbox: a command the policies allowed can read
and write wherever the user running actrio can. Authorization is the
policies' job (``os.shell(command)`` binds a parsed
:class:`~actrio.policy.shell.ShellCommand`); OS-level confinement is the
deployment's.
"""

from __future__ import annotations

from typing import Final

import attrs

from actrio.tools._context import current_tool_context
from actrio.tools._tool import tool
from actrio.tools.official._process import run_command

__all__ = ("SHELL_MAX_OUTPUT", "SHELL_TIMEOUT", "ShellResult", "run_shell")

SHELL_TIMEOUT: Final = 120.0
"""Seconds a ``run_shell`` command may run before its process group is stopped."""

SHELL_MAX_OUTPUT: Final = 16 * 1024
"""Bytes of each of stdout and stderr a ``run_shell`` result keeps."""


@attrs.frozen
class ShellResult:
    """What ``run_shell`` returns to the model (rendered as JSON).

    The fields run from the short ones to the long ones, stderr before
    stdout, so that a result cut to the model's size limit keeps the status
    and the error text.

    Attributes:
        exit_code: The exit status, or ``None`` if a signal ended the command.
        signal: The signal that ended it, or ``None``.
        timed_out: Whether :data:`SHELL_TIMEOUT` passed and the group was stopped.
        stdout_truncated: Whether stdout was longer than :data:`SHELL_MAX_OUTPUT`.
        stderr_truncated: Whether stderr was longer than :data:`SHELL_MAX_OUTPUT`.
        stdout_bytes: How many bytes the command wrote to stdout.
        stderr_bytes: How many bytes the command wrote to stderr.
        stderr: The head of stderr, decoded as UTF-8 (invalid bytes replaced).
        stdout: The head of stdout, decoded likewise.
    """

    exit_code: int | None
    signal: int | None
    timed_out: bool
    stdout_truncated: bool
    stderr_truncated: bool
    stdout_bytes: int
    stderr_bytes: int
    stderr: str
    stdout: str


@tool(name="run_shell", capability="os.shell")
async def run_shell(command: str) -> ShellResult:
    """Run a shell command (bash) in the workspace and return its exit code and output.

    Args:
        command: The command line, run with ``bash -c``.

    Returns:
        The exit code, whether it timed out, and the head of stdout and stderr.
    """
    result = await run_command(
        command,
        cwd=current_tool_context().root,
        timeout=SHELL_TIMEOUT,
        max_output=SHELL_MAX_OUTPUT,
    )
    return ShellResult(
        exit_code=result.exit_code,
        signal=result.signal,
        timed_out=result.timed_out,
        stdout_truncated=result.stdout_bytes_total > result.max_output,
        stderr_truncated=result.stderr_bytes_total > result.max_output,
        stdout_bytes=result.stdout_bytes_total,
        stderr_bytes=result.stderr_bytes_total,
        stderr=result.stderr,
        stdout=result.stdout,
    )
