"""``user.confirm`` and ``user.elicit``: ask a person through the runtime's channel.

Both ask the human channel of the tool context (``open_runtime(human=...)``,
see :mod:`actrio.human`). Without one (outside a runtime, or a runtime with
``human=None``) they raise :class:`~actrio.human.HumanUnavailable` at once,
so a non-interactive run gets a clear error instead of a hang.

Run as a ``before`` policy's required call, the question carries the digest
of the call it is about (``ToolContext.approval_digest``); called by the
model, the digest of its own text (B-09).
"""

from __future__ import annotations

from typing import Annotated

from actrio.human import HumanUnavailable
from actrio.tools._context import HumanAsker, current_tool_context
from actrio.tools._tool import tool

__all__ = ("ask_user", "confirm_user")


def _channel(capability: str) -> HumanAsker:
    context = current_tool_context()
    if context.human is None:
        raise HumanUnavailable(
            f"{capability} needs a person, and there is no human channel here "
            "(run it in a runtime opened with human=...)"
        )
    return context.human


@tool(capability="user.confirm")
async def confirm_user(message: Annotated[str, "The yes/no question, shown as is."]) -> bool:
    """Ask the user to confirm; the answer is true (yes) or false (no)."""
    context = current_tool_context()
    answer = await _channel("user.confirm").ask(
        "confirm", message, call_id=context.call_id, digest=context.approval_digest
    )
    return answer is True


@tool(capability="user.elicit")
async def ask_user(question: Annotated[str, "The question to ask."]) -> str:
    """Ask the user a question; the answer is their text."""
    context = current_tool_context()
    answer = await _channel("user.elicit").ask(
        "elicit", question, call_id=context.call_id, digest=context.approval_digest
    )
    return str(answer)
