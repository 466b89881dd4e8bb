"""A team: a lead with two sub-agents as tools (one stopped by its budget), then a handoff.

Run: ``python docs/examples/agents_team.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

import actrio
from actrio.agents import HandedOff, RunEnded, RunResult
from actrio.context import Budget, BudgetGranted
from actrio.messages import ToolResultPart
from actrio.testing import ScriptedModel, Turn

if TYPE_CHECKING:
    from actrio.kernel import Event


@actrio.tool
async def search(query: str) -> str:
    """Search the notes."""
    return f"2 notes on {query!r}"


researcher = actrio.Agent(
    "researcher",
    "Find notes with the search tool; answer with what you found.",
    ScriptedModel([Turn.tool_call("search", {"query": "supervision"}), "Supervisors restart."]),
    tools=[search],
    description="Finds notes on a topic.",
)

# The checker asks for a second search, but may make only one tool call.
checker = actrio.Agent(
    "checker",
    "Check the claim against the notes.",
    ScriptedModel([Turn.tool_call("search", {"query": "claim"})] * 2 + ["never reached"]),
    tools=[search],
    budget=Budget(tool_calls=1),
)

lead = actrio.Agent(
    "lead",
    "Ask researcher and checker, then answer in one sentence.",
    ScriptedModel(
        [
            Turn.tool_calls(  # both sub-agents, in one answer: they run concurrently
                [("researcher", {"input": "supervision"}), ("checker", {"input": "restarts?"})]
            ),
            "Supervisors restart crashed actors; the claim could not be checked.",
        ]
    ),
    tools=[researcher, checker],
)

billing = actrio.Agent(
    "billing",
    "You handle refunds.",
    ScriptedModel(["Your refund is on its way."]),
    description="Refunds and invoices.",
)
triage = actrio.Agent(
    "triage",
    "Route the user to the right agent.",
    ScriptedModel([Turn.tool_call("transfer_to_billing")]),
    handoffs=[billing],
)


def tool_results(result: RunResult[object]) -> list[str]:
    """What the model was told, for each tool call, in the order it asked."""
    return [
        part.content
        for message in result.messages
        for part in message.parts
        if isinstance(part, ToolResultPart)
    ]


async def main() -> None:
    """Run the team, then the handoff; print what each did."""
    events: list[Event] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append, types=[RunEnded, HandedOff, BudgetGranted])
        result = await rt.run(lead, "Do supervisors restart actors?", budget=Budget(tool_calls=10))
        handed = await rt.run(triage, "I want a refund.")

    print(f"lead: {result.status}: {result.output}")
    for content in tool_results(result):
        print(f"  the lead's model saw: {content.split(' (budget')[0]}")
    team = sorted(
        (e for e in events if isinstance(e, RunEnded) and e.run_id != handed.run_id),
        key=lambda e: e.agent,
    )
    for ended in team:
        print(f"  run of {ended.agent}: {ended.status} after {ended.steps} model calls")
    grants = [e for e in events if isinstance(e, BudgetGranted) and e.parent_path == "lead"]
    for grant in sorted(grants, key=lambda e: e.path):  # paths: lead/<agent>.<run id>
        name = grant.path.split("/")[1].split(".")[0]
        print(f"  {name} was granted {grant.granted.tool_calls} tool calls")
    print(f"the lead's own model calls: {result.steps}")

    (hand_off,) = [e for e in events if isinstance(e, HandedOff)]
    print(f"handoff: {hand_off.agent} -> {hand_off.to_agent}")
    print(f"triage's run: {handed.status}, answered by {handed.agent}: {handed.output}")


if __name__ == "__main__":
    trio.run(main)
