"""The model-call actor: one step's model call, as an Llm scope under the agent.

::

    Llm scope (ScopeStarted; data: model, message and tool counts; no content)
      before_model_call hooks       may rewrite the request
      stream from the adapter       each text delta an AgentTextDelta event;
                                    reasoning deltas only when the agent asks
      after_model_call hooks        may rewrite the response
    ScopeEnded (end data: finish reason, usage)

Cancelling the agent's scope cancels the stream at its next event; the
adapter closes its response, shielded, within its grace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from actrio.actors import _hooks
from actrio.actors._calls import _raise_if_cancelled
from actrio.actors._scope import open_call_scope
from actrio.adapters.errors import ProviderProtocolError
from actrio.agents._events import AgentTextDelta, ReasoningTextDelta
from actrio.context._budget import BudgetLedger, Spend
from actrio.events import ScopeType
from actrio.types import Finish, ModelRequest, ModelResponse, ReasoningDelta, TextDelta

if TYPE_CHECKING:
    from actrio.adapters.router import Model
    from actrio.agents._state import AgentState

__all__ = ("ModelCallActor",)


class ModelCallActor:
    """Runs one model call of an agent's loop in its own Llm scope.

    Args:
        state: The agent's run.
        step: The step number (from 1).
        model: The model to call (the agent's, or its summarizer).
        name: The scope's name (the model's name by default).
        publish_deltas: Publish text deltas as events (summaries do not).
    """

    def __init__(
        self,
        state: AgentState,
        step: int,
        *,
        model: Model | None = None,
        name: str | None = None,
        publish_deltas: bool = True,
        ledger: BudgetLedger | None = None,
    ) -> None:
        self.state = state
        self.step = step
        self.model = model if model is not None else state.model
        self.name = name or str(self.model.model) or "model"
        self.publish_deltas = publish_deltas
        self.ledger = ledger if ledger is not None else state.ledger

    async def _count(self) -> None:
        """Count this call against the budget before it is made, or stop.

        Checking and charging happen together, with no await between, so
        concurrent agents can never make more calls than a limit allows. A
        call that would break a limit is not made: the broken ledger's owner
        (this agent or one above) is cancelled, and the cancellation lands
        here. Tokens and cost are charged when the answer comes.
        """
        state = self.state
        broken = self.ledger.refuse(Spend(model_calls=1, total_tokens=1, usd=1e-9))
        if broken is not None:
            state.tree.stop_for(broken, state)
            await state.tree.flush()
            await trio.lowlevel.checkpoint()
            raise broken  # pragma: no cover - the cancellation above always lands
        self.ledger.charge(Spend(model_calls=1))

    async def run(self, request: ModelRequest) -> ModelResponse:
        """Call the model with ``request``; return its whole response.

        Raises:
            ProviderError: What the adapter raised (after its own retries).
            MiddlewareError: A hook failed.
            ScopeCancelled: The call's scope was cancelled through its ref.
        """
        state = self.state
        here = state.scope
        await self._count()
        data = {
            "run_id": state.run_id,
            "agent": state.agent.name,
            "step": self.step,
            "model": self.name,
            "messages": len(request.messages),
            "tools": len(request.tools),
        }
        async with open_call_scope(
            state.tree.system, here, self.name, ScopeType.LLM, data=data
        ) as scope:
            if _hooks.has_hooks(scope):
                request = await _hooks.before_model_call(state.agent.name, request, scope)
            response = await self._stream(request, scope.path)
            if _hooks.has_hooks(scope):
                response = await _hooks.after_model_call(state.agent.name, request, response, scope)
            scope.end_data = {
                "finish_reason": response.finish_reason,
                "input_tokens": response.usage.input_tokens,
                "output_tokens": response.usage.output_tokens,
            }
        _raise_if_cancelled(scope)
        return response

    async def _stream(self, request: ModelRequest, path: str) -> ModelResponse:
        state = self.state
        bus = state.tree.system.bus
        reasoning = state.agent.reasoning != "none"
        async with self.model.stream(request) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    if self.publish_deltas:
                        await bus.publish(
                            AgentTextDelta(
                                run_id=state.run_id,
                                agent=state.agent.name,
                                path=path,
                                step=self.step,
                                text=event.text,
                            )
                        )
                elif isinstance(event, ReasoningDelta):
                    if reasoning and self.publish_deltas:
                        await bus.publish(
                            ReasoningTextDelta(
                                run_id=state.run_id,
                                agent=state.agent.name,
                                path=path,
                                step=self.step,
                                text=event.text,
                                summary=event.summary,
                            )
                        )
                elif isinstance(event, Finish):
                    return event.response
        raise ProviderProtocolError(
            f"the stream of {self.name!r} ended without its finish event", provider=None
        )
