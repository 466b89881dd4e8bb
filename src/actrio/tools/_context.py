"""What a running tool may know about its call: :class:`ToolContext`.

The runtime sets the context for the duration of each tool call it runs
(``Runtime.call_tool``); a tool reads it with :func:`current_tool_context`.
Outside a runtime the context is :data:`DEFAULT_CONTEXT`: no workspace (the
official file tools then work relative to the current directory), no HTTP
client (the fetch tool opens its own) and no human channel (``user.confirm``
and ``user.elicit`` raise).
"""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import attrs
import httpx

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = (
    "DEFAULT_CONTEXT",
    "HumanAsker",
    "ToolContext",
    "current_tool_context",
    "tool_context",
)


class HumanAsker(Protocol):
    """Asks a person a question; what the runtime's human channel offers tools."""

    def ask(
        self,
        kind: Literal["confirm", "elicit"],
        text: str,
        *,
        call_id: str | None = None,
        digest: str | None = None,
    ) -> Awaitable[bool | str]:
        """Ask, and wait for the answer: a bool for ``confirm``, a str for ``elicit``.

        ``digest`` is what the answer approves (B-09); without one, the
        question's text is what it approves.
        """
        ...


@attrs.frozen(kw_only=True)
class ToolContext:
    """The call a tool is running for, and what the runtime lends it.

    Attributes:
        call_id: The call's id (the model's tool-call id when there is one).
        tool: The tool's name.
        capability: The tool's capability, if any.
        workspace: The directory relative paths are taken from; ``None``
            means the current directory.
        protected: Names no file tool writes under (``.git``, ``.actrio``).
        http: The runtime's shared HTTP client, if any.
        human: The runtime's human-in-the-loop channel, if any.
        approval_digest: When this call is a required call of another (a
            ``before`` policy's ``user.confirm``), that call's digest: the
            sha256 of its tool name and exact arguments, which the person's
            answer approves (B-09, ``actrio.human.call_digest``).
    """

    call_id: str | None = None
    tool: str | None = None
    capability: str | None = None
    workspace: Path | None = None
    # policy.paths.DEFAULT_PROTECTED, spelt out: importing the policy package
    # here would load it with every ``import actrio`` (a test keeps them equal).
    protected: tuple[str, ...] = (".git", ".actrio")
    http: httpx.AsyncClient | None = attrs.field(default=None, repr=False)
    human: HumanAsker | None = attrs.field(default=None, repr=False)
    approval_digest: str | None = None

    @property
    def root(self) -> Path:
        """The workspace, or the current directory when there is none."""
        return self.workspace if self.workspace is not None else Path.cwd()


DEFAULT_CONTEXT = ToolContext()
"""The context outside any runtime call."""

_context: contextvars.ContextVar[ToolContext] = contextvars.ContextVar("actrio.tool_context")


def current_tool_context() -> ToolContext:
    """The context of the tool call the running task is in (or :data:`DEFAULT_CONTEXT`)."""
    return _context.get(DEFAULT_CONTEXT)


class tool_context:  # noqa: N801  # used like a function: ``with tool_context(ctx):``
    """Set the tool context for a ``with`` block (the runtime does this per call).

    Args:
        context: The context tools in the block see.
    """

    __slots__ = ("_context", "_token")

    def __init__(self, context: ToolContext) -> None:
        self._context = context
        self._token: contextvars.Token[ToolContext] | None = None

    def __enter__(self) -> ToolContext:
        self._token = _context.set(self._context)
        return self._context

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None
        _context.reset(self._token)
