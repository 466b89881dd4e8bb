"""A first agent: one tool, a scripted model (no API key), and its result.

Run: ``python docs/examples/agents_quickstart.py``.
"""

from __future__ import annotations

import trio

import actrio
from actrio.messages import Message, ToolCallPart, ToolResultPart
from actrio.testing import ScriptedModel, Turn


@actrio.tool
async def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


# The script stands in for the model: first a tool call, then the answer.
model = ScriptedModel(
    [
        Turn.tool_call("word_count", {"text": "the quick brown fox"}),
        Turn.text("It has 4 words."),
    ],
    model="gpt-4.1-mini",  # the name it reports, so the usage has a price
)

agent = actrio.Agent(
    "counter",
    "Count words with the word_count tool, then answer in one sentence.",
    model,
    tools=[word_count],
)


def show(message: Message) -> str:
    """One line per message: its text, the tool calls it asks for, or their results."""
    parts = []
    for part in message.parts:
        if isinstance(part, ToolCallPart):
            parts.append(f"{part.name}({part.arguments})")
        elif isinstance(part, ToolResultPart):
            parts.append(f"-> {part.content}")
    return message.text or ", ".join(parts)


async def main() -> None:
    """Run the agent once; print its result and its conversation."""
    async with actrio.open_runtime() as rt:
        result = await rt.run(agent, "How many words are in 'the quick brown fox'?")
    print(f"{result.status}: {result.output}")
    print(f"steps: {result.steps}, tokens: {result.usage.total_tokens}")
    print(f"cost: ${result.cost_usd:.6f}")
    for message in result.messages:
        print(f"  {message.role:9} {show(message)}")


if __name__ == "__main__":
    trio.run(main)
