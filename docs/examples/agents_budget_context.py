"""Budgets and context fitting in a run: a budget stop, then a compressed request.

Run: ``python docs/examples/agents_budget_context.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

import actrio
from actrio.agents import ContextCompressed, RunEnded
from actrio.context import Budget, BudgetCharged, BudgetExhausted, BudgetGranted
from actrio.messages import Message
from actrio.testing import ScriptedModel, Turn

if TYPE_CHECKING:
    from actrio.kernel import Event


@actrio.tool
async def fetch_page(n: int) -> str:
    """Fetch page ``n`` of the report."""
    return f"page {n}: ..."


# 1. A budget stop: the model would read pages for ever; three model calls are allowed.
reader = actrio.Agent(
    "reader",
    "Read the report page by page.",
    ScriptedModel([Turn.tool_call("fetch_page", {"n": n}) for n in range(1, 10)]),
    tools=[fetch_page],
    budget=Budget(model_calls=3),
)

# 2. Context fitting: 8 long earlier turns do not fit a 2,000-token window.
WORDS = "lorem ipsum dolor sit amet " * 40
history: list[Message] = []
for i in range(8):
    history += [Message.user(f"note {i}: {WORDS}"), Message.assistant(f"noted {i}")]

model = ScriptedModel(["Eight notes, all lorem ipsum."], context_window=2_000)
summarizer = ScriptedModel(["The user sent eight notes of lorem ipsum; each was noted."])
archivist = actrio.Agent(
    "archivist",
    "Answer from the notes.",
    model,
    max_tokens=200,  # reserved for the answer: the input may use 1,800 tokens
    keep_last_turns=1,
    summarizer=summarizer,
)


async def main() -> None:
    """Run both agents; print the budget and compression events."""
    events: list[Event] = []
    kinds = [BudgetGranted, BudgetCharged, BudgetExhausted, ContextCompressed, RunEnded]
    async with actrio.open_runtime() as rt:
        rt.subscribe(events.append, types=kinds)
        stopped = await rt.run(reader, "Summarise the report.")
        fitted = await rt.run(archivist, "What did I send?", history=history)

    print(f"reader: {stopped.status}: {stopped.reason}")
    charges = []
    for event in events:
        if isinstance(event, BudgetGranted) and event.path == "reader":
            print(f"  granted {event.path}: model_calls={event.granted.model_calls}")
        elif isinstance(event, BudgetCharged) and event.path == "reader":
            spend = event.spend
            charges.append(
                "model call" if spend.model_calls else "tool call" if spend.tool_calls else "tokens"
            )
        elif isinstance(event, BudgetExhausted):
            print(f"  exhausted {event.path}: {event.field}, {event.spent:g} > {event.limit:g}")
    print(f"  charged: {', '.join(charges)}")
    print(f"  tool results kept: {sum(m.role == 'tool' for m in stopped.messages)}")

    print(f"archivist: {fitted.status}: {fitted.output}")
    for event in events:
        if isinstance(event, ContextCompressed):
            print(f"  {event.stage}: {event.tokens_before} -> {event.tokens_after} tokens")
    sent = model.requests[0].messages
    print(f"  the model got {len(sent)} messages; the transcript keeps {len(fitted.messages)}")
    print(f"  the note: {sent[1].role}: {sent[1].text.splitlines()[0]}")


if __name__ == "__main__":
    trio.run(main)
