"""Typed tools: a schema from the signature, strict arguments, capped results.

Run: ``python docs/examples/tools.py``.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

import trio

from actrio import ToolRegistry, tool
from actrio.tools import ToolArgumentsError, UnknownTool


@tool(capability="fs.read", timeout=5.0)
async def search(
    query: Annotated[str, "What to look for."],
    limit: int = 10,
    order: Literal["relevance", "date"] = "relevance",
) -> list[str]:
    """Search the notes.

    Args:
        limit: How many results at most.
    """
    return [f"{query} #{n} by {order}" for n in range(min(limit, 2))]


async def main() -> None:
    tools = ToolRegistry([search])
    print(json.dumps(tools.get("search").spec.parameters["required"]))
    print(await search.run('{"query": "trio", "limit": 2, "order": "date"}'))
    try:
        await search.run('{"query": 3, "limit": "2", "extra": true}')
    except ToolArgumentsError as error:
        print(error.feedback().splitlines()[0])
    try:
        tools.get("Search")
    except UnknownTool as error:
        print(f"unknown: {error}")


if __name__ == "__main__":
    trio.run(main)
