"""Lifecycle events: a live stream for a UI, and a JSONL export read back.

Run: python docs/examples/events.py
"""

import tempfile
from pathlib import Path

import trio

import actrio
from actrio.observe import load_jsonl, open_jsonl_exporter


async def echo(args: dict[str, str]) -> dict[str, str]:
    return {"echo": args["text"]}


async def ui(stream: actrio.EventStream) -> None:
    """What a UI would do: render scope events as they come."""
    async for event in stream:
        if isinstance(event, actrio.ScopeStarted):
            print(f"start {event.category:<5} {event.name}")
        elif isinstance(event, actrio.ScopeEnded):
            print(f"end   {event.category:<5} {event.name} -> {event.status}")
        elif isinstance(event, actrio.Mark):
            print(f"mark  {event.name} {event.data}")


async def main() -> None:
    path = Path(tempfile.mkdtemp()) / "run.jsonl"
    async with actrio.open_runtime() as rt, trio.open_nursery() as nursery:
        stream = rt.stream(types=[actrio.ScopeStarted, actrio.ScopeEnded, actrio.Mark])
        nursery.start_soon(ui, stream)
        async with open_jsonl_exporter(rt, path) as exporter:
            async with actrio.open_scope("assistant"):
                await actrio.tools.execute("echo", {"text": "hi"}, echo)
                await actrio.mark("answered", data={"ok": True})
        await trio.sleep(0.01)  # let the UI catch up, then stop it
        stream.close()

    events = load_jsonl(path)
    print(f"exported {exporter.written} events; read back {len(events)}")
    ends = [e for e in events if isinstance(e, actrio.ScopeEnded)]
    print(f"tool result in the export: {ends[0].data}")


if __name__ == "__main__":
    trio.run(main)
