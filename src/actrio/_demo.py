"""``actrio demo``: a supervised actor tree that crashes, restarts and recovers.

No API key and no network: the workers are plain actors. A later release
turns this into an agent-tree demo.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

from actrio.kernel import (
    Actor,
    ActorError,
    ActorExited,
    ActorFailed,
    ActorRestarted,
    ActorStarted,
    ChildSpec,
    Event,
    Request,
    RestartCycle,
    Supervisor,
    WhichChildren,
    open_actor_system,
)


@attrs.frozen
class Job(Request[str]):
    """Work for a worker: the job with number ``n``."""

    n: int


class Worker(Actor[Job]):
    """Does jobs, and crashes on every job whose number is a multiple of 4."""

    def __init__(self) -> None:
        self.done = 0

    async def receive(self, message: Job) -> str:
        await trio.sleep(0.01)
        if message.n % 4 == 0:
            raise RuntimeError(f"job {message.n} is cursed")
        self.done += 1
        return f"job {message.n} done ({self.done} by this incarnation)"


def describe(event: Event) -> str | None:
    """Render the events the demo narrates, one line each."""
    match event:
        case ActorStarted(path=path, incarnation=n):
            return f"started    {path} (incarnation {n})"
        case ActorFailed(path=path, error=error, message_type=mtype):
            return f"crashed    {path} on {mtype}: {error.type}: {error.message}"
        case RestartCycle(supervisor_path=sup, strategy=strategy, restarting=ids):
            return f"supervisor {sup} ({strategy}) restarts {', '.join(ids) or 'nothing'}"
        case ActorRestarted(path=path, incarnation=n):
            return f"restarted  {path} -> incarnation {n}"
        case ActorExited(path=path, reason=reason):
            return f"stopped    {path} ({reason})"
    return None


async def run_demo(jobs: int = 9) -> list[str]:
    """Run the demo and return the lines it printed."""
    lines: list[str] = []

    def show(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    def on_event(event: Event) -> None:
        text = describe(event)
        if text is not None:
            show(f"  [{event.seq:>3}] {text}")

    async with open_actor_system(shutdown_grace=2.0) as system:
        system.subscribe(on_event, name="demo-console")
        show("actrio demo: a supervisor with two workers, one_for_one, 5 restarts / 10 s")
        app = await system.spawn(
            Supervisor(
                [ChildSpec("alpha", Worker), ChildSpec("beta", Worker)],
                strategy="one_for_one",
                max_restarts=5,
                period=10.0,
            ),
            name="app",
        )
        for n in range(1, jobs + 1):
            children = await app.ask(WhichChildren())
            worker = children[n % 2].ref
            if worker is None:
                await trio.sleep(0.01)
                continue
            try:
                reply: Any = await worker.ask(Job(n))
                show(f"{worker.path}: {reply}")
            except ActorError as error:
                show(f"{worker.path}: job {n} failed ({error.error}); the supervisor restarts it")
            await trio.sleep(0.02)
        children = await app.ask(WhichChildren())
        summary = ", ".join(f"{c.id} restarted {c.restarts}x" for c in children)
        show(f"all jobs sent; {summary}; shutting down")
    show("the tree stopped cleanly: every started actor also stopped")
    return lines
