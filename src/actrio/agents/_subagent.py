"""Sub-agents: an agent called as a tool, as a child run in the caller's tree."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from actrio.agents._result import SubAgentStopped
from actrio.agents._state import current_agent_state
from actrio.context._budget import Budget
from actrio.kernel import UsageError
from actrio.messages import Message
from actrio.tools._tool import Tool
from actrio.types import to_wire

if TYPE_CHECKING:
    from actrio.agents._agent import Agent

__all__ = ("AGENT_TOOL_PARAMETERS", "describe", "subagent_tool")

AGENT_TOOL_PARAMETERS: Final = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "What to ask the agent."}},
    "required": ["input"],
    "additionalProperties": False,
}


def subagent_tool(
    agent: Agent[Any],
    *,
    name: str | None,
    description: str | None,
    budget: Budget | None,
) -> Tool:
    """Build the tool that runs ``agent`` as a sub-agent (see :meth:`Agent.as_tool`)."""
    if budget is not None and not isinstance(budget, Budget):
        raise UsageError(f"as_tool(budget=...): expected a Budget, got {type(budget).__name__}")
    asked = budget if budget is not None else agent.budget

    async def run_subagent(input: str) -> Any:  # the model's name for it
        parent = current_agent_state()
        if parent is None:
            raise UsageError(f"the sub-agent tool {agent.name!r} runs only inside an agent's run")
        from actrio.agents._loop import run_ids, run_tree  # noqa: PLC0415  # cycle

        tree = parent.tree
        run_id = run_ids.next()
        ledger = parent.ledger.grant(asked or Budget(), tree.child_name(parent.ledger, agent.name))
        model = tree.runtime._model(agent.model) or parent.model
        messages = [Message.user(input)]
        if agent.instructions:
            messages.insert(0, Message.system(agent.instructions))
        try:
            result = await run_tree(
                tree,
                agent,
                model,
                messages,
                ledger,
                run_id=run_id,
                parent_run_id=parent.run_id,
                parent_totals=parent.totals,
                inputs=parent.inputs,
                inherited=parent.policies(),
            )
        finally:
            ledger.close()
        if not result.ok:
            raise SubAgentStopped(agent.name, result)
        output = result.output
        return to_wire(output) if attrs.has(type(output)) else output

    return Tool.from_schema(
        name or agent.name,
        description or describe(agent, "agent"),
        AGENT_TOOL_PARAMETERS,
        run_subagent,
    )


def describe(agent: Agent[Any], what: str) -> str:
    """What the calling model is told an agent does: its description, else its first line."""
    first_line = agent.instructions.strip().split("\n", 1)[0]
    return agent.description or first_line or f"Ask the {what} {agent.name}."
