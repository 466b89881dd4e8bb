"""Streaming a run's events as they happen, and cancelling a run from its stream.

Run: ``python docs/examples/agents_streaming.py``.
"""

from __future__ import annotations

import trio

import actrio
from actrio.agents import AgentTextDelta, RunEnded, ToolCallEnded, ToolCallStarted
from actrio.messages import ToolResultPart
from actrio.testing import ScriptedModel, Turn


@actrio.tool
async def lookup(city: str) -> str:
    """Look up the weather of a city."""
    return f"{city}: 21 C, sunny"


@actrio.tool
async def wait_for_approval(what: str) -> str:
    """Wait until someone approves (in this example, no one does)."""
    await trio.sleep(60)
    return "approved"


weather = actrio.Agent(
    "weather",
    "Answer with the lookup tool.",
    ScriptedModel(
        [
            Turn.tool_call("lookup", {"city": "Lyon"}),
            Turn.text("It is sunny in Lyon, 21 C.", chunks=4),  # four text deltas
        ]
    ),
    tools=[lookup],
)

cautious = actrio.Agent(
    "cautious",
    "Ask for approval first.",
    ScriptedModel([Turn.tool_call("wait_for_approval", {"what": "deploy"}), "never reached"]),
    tools=[wait_for_approval],
)


async def main() -> None:
    """Stream one run to its end, then cancel another from its stream."""
    async with actrio.open_runtime() as rt:
        # 1. Every event of the run, in order; the text arrives as deltas.
        stream = rt.stream(weather, "Weather in Lyon?")
        async for event in stream:
            if isinstance(event, AgentTextDelta):
                print(f"delta {event.text!r}")
            elif isinstance(event, ToolCallEnded):
                print(f"{event.kind} {event.tool} -> {event.output}")
            elif isinstance(event, RunEnded):
                print(f"{event.kind} {event.status} after {event.steps} steps")
            else:
                print(event.kind)
        assert stream.result is not None
        print(f"result: {stream.result.output}")

        # 2. Cancel a run by its id; the stream still ends with its RunEnded.
        async with rt.stream(cautious, "Deploy it.") as stream:
            async for event in stream:
                if isinstance(event, ToolCallStarted):
                    rt.cancel(stream.run_id, "user pressed stop")
        assert stream.result is not None
        print(f"cancelled run: {stream.result.status} ({stream.result.reason})")
        (unfinished,) = stream.result.messages[-1].parts
        assert isinstance(unfinished, ToolResultPart)
        print(f"the unfinished call's result: {unfinished.content}")


if __name__ == "__main__":
    trio.run(main)
