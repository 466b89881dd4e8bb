"""Running agents: ``rt.run``, ``rt.stream(agent, input)``, ``rt.cancel`` and :func:`run_sync`."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import trio

from actrio.actors._scope import END_EVENT_GRACE, current_scope
from actrio.agents._agent import Agent
from actrio.agents._events import RunEnded
from actrio.agents._loop import run_ids, run_tree
from actrio.agents._result import RunFailed, RunResult
from actrio.agents._snapshot import RunSnapshot, SnapshotError
from actrio.agents._state import RunTree
from actrio.context._budget import Budget, BudgetLedger, Spend
from actrio.kernel import UsageError
from actrio.messages import Message

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from actrio.adapters.router import Model
    from actrio.kernel import Event, EventStream
    from actrio.runtime import Runtime

__all__ = (
    "RunStream",
    "cancel_run",
    "interrupt_run",
    "resume_agent",
    "run_agent",
    "run_sync",
    "start_messages",
)


def start_messages(
    agent: Agent[Any], input: str | Message | Iterable[Message], history: Iterable[Message]
) -> list[Message]:
    """The conversation a run starts from: instructions, history, then the input."""
    messages: list[Message] = []
    if agent.instructions:
        messages.append(Message.system(agent.instructions))
    for i, message in enumerate(history):
        if not isinstance(message, Message):
            raise UsageError(f"history[{i}]: expected a Message, got {type(message).__name__}")
        if message.role != "system":
            messages.append(message)
    if isinstance(input, str):
        messages.append(Message.user(input))
    elif isinstance(input, Message):
        messages.append(input)
    elif isinstance(input, Iterable):
        for i, message in enumerate(input):
            if not isinstance(message, Message):
                raise UsageError(f"input[{i}]: expected a Message, got {type(message).__name__}")
            messages.append(message)
    else:
        raise UsageError(
            f"input: expected a str, a Message or a list of Message, got {type(input).__name__}"
        )
    if not any(m.role != "system" for m in messages):
        raise UsageError("input: the run needs at least one message besides the instructions")
    return messages


class _Prepared:
    """Everything a run needs before its first step, checked up front."""

    def __init__(
        self,
        runtime: Runtime,
        agent: Agent[Any],
        input: str | Message | Iterable[Message] | None,
        *,
        budget: Budget | None,
        history: Iterable[Message],
        inputs: Mapping[str, Any] | None,
    ) -> None:
        if not isinstance(agent, Agent):
            raise UsageError(f"expected an Agent, got {type(agent).__name__}")
        if budget is not None and not isinstance(budget, Budget):
            raise UsageError(f"budget: expected a Budget, got {type(budget).__name__}")
        model = runtime._model(agent.model)
        if model is None:
            raise UsageError(f"agent {agent.name!r} has no model: give Agent(model=...)")
        self.model: Model = model
        self.runtime = runtime
        self.agent = agent
        self.resume: RunSnapshot | None = None
        self.messages = start_messages(agent, input, history) if input is not None else []
        self.budget = budget if budget is not None else (agent.budget or Budget())
        self.inputs = dict(inputs) if inputs is not None else None
        self.run_id = run_ids.next()
        self.parent_run_id: str | None = None  # a team member's caller

    @classmethod
    def resuming(cls, runtime: Runtime, agent: Agent[Any], snapshot: RunSnapshot) -> _Prepared:
        """A run that goes on from ``snapshot``, with ``agent`` (or one it hands off to)."""
        if not isinstance(snapshot, RunSnapshot):
            raise UsageError(f"expected a RunSnapshot, got {type(snapshot).__name__}")
        if not isinstance(agent, Agent):
            raise UsageError(f"expected an Agent, got {type(agent).__name__}")
        active = _find_agent(agent, snapshot.agent)
        prepared = cls(
            runtime, active, None, budget=snapshot.budget, history=(), inputs=snapshot.inputs
        )
        prepared.resume = snapshot
        prepared.run_id = snapshot.run_id
        return prepared

    async def run(self, tree: RunTree) -> RunResult[Any]:
        ledger = BudgetLedger.root(self.budget, name=self.agent.name, emit=tree.emit)
        if self.resume is not None and self.resume.spent != Spend():
            ledger.charge(self.resume.spent)  # the limits hold across the interruption
        runs = self.runtime._runs
        try:
            return await run_tree(
                tree,
                self.agent,
                self.model,
                self.messages,
                ledger,
                run_id=self.run_id,
                parent_run_id=self.parent_run_id,
                inputs=self.inputs,
                resume=self.resume,
            )
        finally:
            for run_id in tree.run_ids:
                runs.pop(run_id, None)
            ledger.close()

    async def tree(self) -> RunTree:
        host = await self.runtime._tool_host()
        tree = RunTree(runtime=self.runtime, system=self.runtime.system, host=host)
        tree.run_ids.add(self.run_id)
        self.runtime._runs[self.run_id] = tree  # cancellable from now on
        return tree


async def run_agent(
    runtime: Runtime,
    agent: Agent[Any],
    input: str | Message | Iterable[Message],
    *,
    budget: Budget | None = None,
    history: Iterable[Message] = (),
    inputs: Mapping[str, Any] | None = None,
) -> RunResult[Any]:
    """Run ``agent`` to its end; see :meth:`Runtime.run`."""
    await trio.lowlevel.checkpoint_if_cancelled()
    prepared = _Prepared(runtime, agent, input, budget=budget, history=history, inputs=inputs)
    tree = await prepared.tree()
    result = await prepared.run(tree)
    if result.status == "failed":
        raise RunFailed(result) from result.error
    return result


def _find_agent(agent: Agent[Any], name: str) -> Agent[Any]:
    """``agent`` or an agent it hands off to (at any depth) named ``name``."""
    seen: set[int] = set()
    queue = [agent]
    while queue:
        candidate = queue.pop(0)
        if candidate.name == name:
            return candidate
        if id(candidate) not in seen:
            seen.add(id(candidate))
            queue.extend(candidate.handoffs)
    raise SnapshotError(
        f"the snapshot's agent {name!r} is neither {agent.name!r} nor an agent it hands off to"
    )


async def resume_agent(
    runtime: Runtime, agent: Agent[Any], snapshot: RunSnapshot
) -> RunResult[Any]:
    """Go on with an interrupted run; see :meth:`Runtime.resume`."""
    await trio.lowlevel.checkpoint_if_cancelled()
    prepared = _Prepared.resuming(runtime, agent, snapshot)
    tree = await prepared.tree()
    result = await prepared.run(tree)
    if result.status == "failed":
        raise RunFailed(result) from result.error
    return result


def interrupt_run(runtime: Runtime, run_id: str, reason: str) -> bool:
    """Interrupt a running root run, to be resumed; see :meth:`Runtime.interrupt`."""
    if not isinstance(reason, str) or not reason:
        raise UsageError(f"reason: expected a non-empty str, got {reason!r}")
    tree = runtime._runs.get(run_id) if isinstance(run_id, str) else None
    if tree is None:
        return cancel_run(runtime, run_id, reason)  # checks run_id; False for a finished run
    state = tree.states.get(run_id)
    if state is not None and state.parent_run_id is not None:
        raise UsageError(
            f"run {run_id!r} is a sub-agent's: interrupt its root run (sub-agents start over)"
        )
    tree.interrupted[run_id] = reason
    return cancel_run(runtime, run_id, reason)


def cancel_run(runtime: Runtime, run_id: str, reason: str) -> bool:
    """Cancel a running run (or sub-agent run); see :meth:`Runtime.cancel`."""
    if not isinstance(run_id, str):
        raise UsageError(f"run_id: expected a str, got {type(run_id).__name__}")
    if not isinstance(reason, str) or not reason:
        raise UsageError(f"reason: expected a non-empty str, got {reason!r}")
    tree = runtime._runs.get(run_id)
    if tree is None:
        return False
    state = tree.states.get(run_id)
    if state is None:
        tree.cancelled[run_id] = reason  # before its scope opened: applied when it does
        return True
    state.cancel(reason)
    return True


class RunStream:
    """A run's events as they happen, then its result.

    Iterate it (``async for event in rt.stream(agent, input)``), or, to stop
    early and deterministically, inside ``async with`` (leaving the block
    cancels the run if it still runs, and waits for its end). The events
    are the agent events of the run tree (deltas, model and tool calls,
    compression, handoffs, sub-agents' runs), in bus order, ending with the root's
    :class:`RunEnded`. :attr:`result` is then the :class:`RunResult`
    (also when the run's own scope was cancelled from outside: status
    ``cancelled``, with the completed work); a failed run raises
    :class:`RunFailed` from the iteration's end.

    The run starts at the first ``__anext__`` (or ``__aenter__``), as a task
    of the current scope (of the runtime's top level outside any scope).
    """

    def __init__(self, prepared: _Prepared, capacity: int) -> None:
        self._prepared = prepared
        self._capacity = capacity
        self._events: EventStream | None = None
        self._done = trio.Event()
        self._ended = False
        self.result: RunResult[Any] | None = None
        self._error: BaseException | None = None

    @property
    def run_id(self) -> str:
        """The run's id (for :meth:`Runtime.cancel`), known before it starts."""
        return self._prepared.run_id

    async def _start(self) -> None:
        tree = await self._prepared.tree()
        here = current_scope()
        job = functools.partial(self._run, tree)
        name = f"actrio.run:{self.run_id}"
        if here is not None:
            nursery = here._live_cell()._nursery
            assert nursery is not None
            start = functools.partial(nursery.start_soon, job, name=name)
        else:
            top = self._prepared.runtime.system._actors_nursery
            if top is None:
                raise UsageError("the runtime is shutting down; it cannot start a run")
            # A fresh context: a top-level run, not a child of this task.
            start = functools.partial(contextvars.Context().run, top.start_soon, job, name=name)
        run_ids = tree.run_ids
        self._events = self._prepared.runtime.system.bus.stream(
            capacity=self._capacity, where=lambda e: getattr(e, "run_id", None) in run_ids
        )
        start()

    async def _run(self, tree: RunTree) -> None:
        try:
            self.result = await self._prepared.run(tree)
        except BaseException as error:
            # Cancelled from outside: the reader still gets what was done.
            self.result = tree.results.pop(self.run_id, None)
            self._error = error
            raise
        finally:
            self._done.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._events is None:
            await self._start()
        assert self._events is not None
        if not self._ended:
            try:
                event = await self._events.__anext__()
            except StopAsyncIteration:
                self._ended = True
            else:
                if isinstance(event, RunEnded) and event.run_id == self.run_id:
                    self._ended = True
                    self._events.close()
                return event
        await self._done.wait()
        if self.result is not None and self.result.status == "failed":
            raise RunFailed(self.result) from self.result.error
        raise StopAsyncIteration

    async def __aenter__(self) -> Self:
        if self._events is None:
            await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel the run if it still runs and wait (shielded, bounded) for its end."""
        if self._events is None:
            await trio.lowlevel.checkpoint()
            return
        self._events.close()
        if not self._done.is_set():
            cancel_run(self._prepared.runtime, self.run_id, "stream closed by its reader")
        with trio.move_on_after(END_EVENT_GRACE, shield=True):
            await self._done.wait()


def stream_agent(
    runtime: Runtime,
    agent: Agent[Any],
    input: str | Message | Iterable[Message],
    *,
    budget: Budget | None = None,
    history: Iterable[Message] = (),
    inputs: Mapping[str, Any] | None = None,
    capacity: int = 1024,
    parent_run_id: str | None = None,
) -> RunStream:
    """Stream a run's events; see :meth:`Runtime.stream`.

    ``parent_run_id`` names the run that asked for this one (a team member's
    caller); its ``RunStarted`` / ``RunEnded`` carry it.
    """
    prepared = _Prepared(runtime, agent, input, budget=budget, history=history, inputs=inputs)
    prepared.parent_run_id = parent_run_id
    return RunStream(prepared, capacity)


def run_sync(
    agent: Agent[Any],
    input: str | Message | Iterable[Message],
    *,
    budget: Budget | None = None,
    history: Iterable[Message] = (),
    **runtime_options: Any,
) -> RunResult[Any]:
    """Run ``agent`` in a fresh runtime, from synchronous code (a script).

    Opens a runtime (``runtime_options`` go to :func:`actrio.open_runtime`),
    runs the agent with ``trio.run``, closes everything.

    Raises:
        UsageError: Called from inside a running trio loop (use ``await rt.run``).
        RunFailed: The run failed.
    """
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        pass
    else:
        raise UsageError("run_sync() cannot run inside trio: use `await rt.run(agent, input)`")
    from actrio.runtime import open_runtime  # noqa: PLC0415  # cycle

    async def main() -> RunResult[Any]:
        async with open_runtime(**runtime_options) as rt:
            return await rt.run(agent, input, budget=budget, history=history)

    return trio.run(main)
