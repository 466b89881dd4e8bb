"""Scopes as actors: nesting, work inside a scope, cancellation with a reason, deadlines.

Run: python docs/examples/scopes.py
"""

import trio

import actrio


async def fetch(name: str, seconds: float) -> None:
    async with actrio.open_scope(name, actrio.ScopeType.RETRIEVER):
        await trio.sleep(seconds)


async def main() -> None:
    ended: list[actrio.ScopeEnded] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(ended.append, types=[actrio.ScopeEnded])

        async with actrio.open_scope(
            "planner", attributes=actrio.ScopeAttributes.PARALLEL, data={"goal": "demo"}
        ) as planner:
            # Work started in a scope runs in its nursery; the scope waits for it.
            planner.start_soon(fetch, "docs", 0.01)
            planner.start_soon(fetch, "code", 0.02)
            await actrio.mark("fanned-out", data={"tasks": 2})

        # Cancelling a scope cancels its whole subtree; the reason is recorded.
        async with actrio.open_scope("search") as search:
            search.start_soon(fetch, "slow", 60)
            await trio.sleep(0.01)
            search.cancel("user pressed stop")
        print(f"search cancelled: {search.cancelled_caught}")

        # A scope's own timeout raises ScopeTimeout; deadlines compose downward.
        try:
            async with actrio.open_scope("bounded", timeout=0.05) as bounded:
                async with actrio.open_scope("child", timeout=60) as child:
                    print(f"child deadline is the parent's: {child.deadline == bounded.deadline}")
                    await trio.sleep(1)
        except actrio.ScopeTimeout as error:
            print(f"timeout: {error}")

    # The runtime drained its subscribers on exit: every scope has ended.
    for event in ended:
        reason = f" ({event.cancel_reason})" if event.cancel_reason else ""
        print(f"ended {event.category} {event.name}: {event.status}{reason}")


if __name__ == "__main__":
    trio.run(main)
