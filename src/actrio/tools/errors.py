"""The tools layer's exceptions.

Misuse at definition time, a model's bad call, and a tool's own failure are
kept apart::

    ActrioError
    └── ToolError                  base of every error of the tools layer
        ├── ToolDefinitionError    a tool defined wrongly (also UsageError, TypeError):
        │                          a sync function, a bad name, a parameter with no
        │                          JSON form, an invalid hand-written schema
        ├── DuplicateTool          a registry already holds that name (also UsageError,
        │                          ValueError)
        ├── UnknownTool            no tool has exactly that name (also KeyError)
        ├── ToolArgumentsError     the model's arguments do not fit the tool (ValueError)
        ├── ToolDenied             the policies denied the call; it never ran
        │                          (PermissionError)
        ├── ToolTimeout            the tool ran longer than its timeout (TimeoutError)
        └── ToolFailed             the tool raised; the original is ``__cause__``
                                   (RuntimeError)

:class:`ToolArgumentsError`, :class:`UnknownTool` and :class:`ToolDenied` go back
to the model:
their :meth:`~ToolArgumentsError.feedback` text is meant to go back to the
model as an error result. :class:`ToolFailed` names only the tool and the
exception's type, never its message or the arguments, so it can be shown and
logged without leaking what the tool was handling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actrio.kernel import ActrioError, UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = (
    "DuplicateTool",
    "ToolArgumentsError",
    "ToolDefinitionError",
    "ToolDenied",
    "ToolError",
    "ToolFailed",
    "ToolTimeout",
    "UnknownTool",
)

FEEDBACK_PROBLEMS = 20
"""How many problems :meth:`ToolArgumentsError.feedback` lists before summarising."""

_LISTED_NAMES = 50
"""How many available names :class:`UnknownTool` lists."""


class ToolError(ActrioError):
    """Base class of every error of the tools layer."""


class ToolDefinitionError(ToolError, UsageError, TypeError):
    """A tool was defined wrongly; the message names the tool and what is wrong."""


class DuplicateTool(ToolError, UsageError, ValueError):
    """A registry already holds a tool of this name.

    Attributes:
        name: The name taken.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"a tool named {self.name!r} is already registered; pass replace=True to replace it"


class UnknownTool(ToolError, KeyError):
    r"""No tool has exactly this name; look-alikes are never matched.

    The message shows the name with every non-ASCII character escaped, so a
    Cyrillic i (U+0456) in a look-alike of ``read_file`` shows as ``\u0456``,
    and lists the names there are.

    Attributes:
        name: The name asked for.
        available: The names that exist, in registration order.
    """

    def __init__(self, name: object, available: Sequence[str] = ()) -> None:
        super().__init__(name, tuple(available))
        self.name = name
        self.available: tuple[str, ...] = tuple(available)

    def __str__(self) -> str:
        shown = ", ".join(self.available[:_LISTED_NAMES]) or "none"
        if len(self.available) > _LISTED_NAMES:
            shown += f", ... ({len(self.available) - _LISTED_NAMES} more)"
        return f"no tool named {self.name!a} (names match exactly); available: {shown}"

    def feedback(self) -> str:
        """A message for the model: the name it used does not exist, and which do."""
        return f"{self}. Call one of the available tools by its exact name."


class ToolArgumentsError(ToolError, ValueError):
    """The arguments of a tool call do not fit the tool.

    Every problem is found at once, each with its JSON path (``$`` is the
    whole arguments object, ``$.options.depth`` a member).

    Attributes:
        tool: The tool's name.
        errors: Each problem as ``(JSON path, message)``.
    """

    def __init__(self, tool: str, errors: Sequence[tuple[str, str]]) -> None:
        super().__init__(tool, tuple(errors))
        self.tool = tool
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)

    def __str__(self) -> str:
        count = len(self.errors)
        head = f"invalid arguments for tool {self.tool!r} ({count} problem{'s' * (count != 1)})"
        return "\n".join([head, *self._lines("  ")])

    def _lines(self, indent: str) -> list[str]:
        shown = self.errors[:FEEDBACK_PROBLEMS]
        lines = [f"{indent}{path}: {message}" for path, message in shown]
        if len(self.errors) > len(shown):
            lines.append(f"{indent}... and {len(self.errors) - len(shown)} more")
        return lines

    def feedback(self) -> str:
        """A correction to send back to the model as the call's error result.

        It lists what was wrong and where (at most :data:`FEEDBACK_PROBLEMS`
        problems) and asks for a call that matches the tool's schema.
        """
        return "\n".join(
            [
                f"The arguments for tool {self.tool!r} were rejected:",
                *self._lines("- "),
                f"Call {self.tool!r} again with arguments that match its parameter schema.",
            ]
        )


class ToolTimeout(ToolError, TimeoutError):
    """The tool ran longer than its ``timeout``, and was cancelled.

    Attributes:
        tool: The tool's name.
        seconds: The timeout that passed.
    """

    def __init__(self, tool: str, seconds: float) -> None:
        super().__init__(f"tool {tool!r} timed out after {seconds:g} s")
        self.tool = tool
        self.seconds = seconds

    def __reduce__(self) -> tuple[type[ToolTimeout], tuple[str, float]]:
        return type(self), (self.tool, self.seconds)


class ToolFailed(ToolError, RuntimeError):
    """The tool raised an exception; it is chained as ``__cause__`` and kept in ``error``.

    The message names the tool and the exception's type only: the
    exception's own text may quote arguments or data the tool handled.

    Attributes:
        tool: The tool's name.
        error: The exception the tool raised.
    """

    def __init__(self, tool: str, error: BaseException) -> None:
        super().__init__(f"tool {tool!r} failed with {type(error).__qualname__}")
        self.tool = tool
        self.error = error

    def __reduce__(self) -> tuple[type[ToolFailed], tuple[str, BaseException]]:
        return type(self), (self.tool, self.error)


class ToolDenied(ToolError, PermissionError):
    """The policies denied the call, so the tool's code never ran.

    Attributes:
        tool: The tool's name.
        capability: The capability decided.
        policy_id: The policy that denied.
        reason: Why, for people and for the model.
        error: Whether it was denied because something failed (fail closed).
        version: The version of the policy set that decided.
    """

    def __init__(
        self,
        tool: str,
        capability: str | None,
        policy_id: str | None,
        reason: str,
        *,
        error: bool = False,
        version: int = 0,
    ) -> None:
        super().__init__(f"tool {tool!r} was denied: {reason}")
        self.tool = tool
        self.capability = capability
        self.policy_id = policy_id
        self.reason = reason
        self.error = error
        self.version = version

    def feedback(self) -> str:
        """The text to send back to the model as the call's error result."""
        return f"The call was not allowed and did not run: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        state = (self.capability, self.policy_id, self.reason, self.error, self.version)
        return _denied, (self.tool, state)


def _denied(tool: str, state: tuple[Any, ...]) -> ToolDenied:
    capability, policy_id, reason, error, version = state
    return ToolDenied(tool, capability, policy_id, reason, error=error, version=version)
