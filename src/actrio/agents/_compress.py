"""Mandatory context fitting before every model call of the loop.

The request is measured against the model's window minus the output
reserved (and the budget's ``context_tokens`` ceiling). Over it, the
pipeline runs, each stage an event with the tokens before and after:

1. ``truncate_tool_results``: oversized tool results keep head and tail;
2. ``drop_oldest_turns``: the oldest turns go, keeping the system prompt,
   the last turns and every tool call with its result;
3. ``summarize``: what stage 2 dropped is summarised by a model call (a
   child Llm scope charged to a slice of the agent's budget) and kept as a
   system note; if the summary does not fit or fails, the request goes
   without it (stage 2 alone already fits).

A request still over the window is never sent: :class:`ContextOverflow`.
The compressed conversation becomes the agent's working context, so the
next step starts from it; the run's transcript keeps everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

from actrio.actors import _hooks
from actrio.agents._events import ContextCompressed
from actrio.context._budget import Budget, Spend
from actrio.context._fit import ContextOverflow, fit
from actrio.messages import Message, TextPart, ToolCallPart, ToolResultPart
from actrio.types import ModelRequest

if TYPE_CHECKING:
    from actrio.agents._state import AgentState

__all__ = ("DEFAULT_RESERVE", "HARDER", "SUMMARY_PREFIX", "fit_request", "reserve_for")

DEFAULT_RESERVE: Final = 4096
"""Output tokens reserved when the agent sets no ``max_tokens`` (capped at window / 4)."""

HARDER: Final = 0.6
"""After the provider said "too long", the next try aims at this share of the estimate."""

SUMMARY_PREFIX: Final = "Summary of the earlier conversation (older turns were removed):\n"

_GAP_NOTE: Final = "[Earlier turns were removed to fit the context window.]"

_SUMMARY_INSTRUCTIONS: Final = (
    "Summarise the conversation below so that you can continue it without seeing it. "
    "Keep facts, decisions, results of tool calls that matter, and open tasks. "
    "Be brief; write plain text."
)

_SHOWN_RESULT: Final = 2000
"""Characters of each tool result shown to the summarizer."""


def reserve_for(state: AgentState, window: int) -> int:
    """The output tokens kept free in ``window``."""
    agent = state.agent
    return agent.max_tokens if agent.max_tokens is not None else min(DEFAULT_RESERVE, window // 4)


async def fit_request(
    state: AgentState, request: ModelRequest, step: int, *, target: int | None = None
) -> ModelRequest:
    """Return ``request`` fitted to the window; compress (and record it) when over.

    Args:
        state: The agent's run; its working context becomes the result's messages.
        request: The request built from the working context.
        step: The step number, for events.
        target: Input tokens to aim at instead of what the window allows
            (a retry after the provider said the context was too long).

    Raises:
        ContextOverflow: Even the smallest request is over.
        MiddlewareError: A compression hook failed.
    """
    agent = state.agent
    window = agent.window_for(state.model)
    reserve = reserve_for(state, window)
    available = window - reserve
    ceiling = state.ledger.remaining().context_tokens
    if ceiling is not None:
        available = min(available, ceiling)
    if target is not None:
        available = min(available, target)
    tokens = state.estimator.count(request)
    if tokens <= available:
        return request
    scope = state.scope
    hooks = _hooks.has_hooks(scope)
    before = request
    if hooks:
        request = await _hooks.before_compression(agent.name, request, tokens, available, scope)
    result = fit(
        request,
        window=available + reserve,
        reserve_output=reserve,
        estimator=state.estimator,
        keep_last=agent.keep_last_turns,
        max_tool_result_chars=agent.max_tool_result_chars,
    )
    stages = [(s.name, s.tokens_before, s.tokens_after) for s in result.stages]
    if not result.fits:
        await _publish(state, step, stages, retry=target is not None)
        raise ContextOverflow(result.tokens, available)
    fitted = _leading_user(result.request)
    if result.dropped and agent.summarize:
        summarized = await _summarize(state, step, fitted, result.dropped, available)
        if summarized is not None:
            after = state.estimator.count(summarized)
            stages.append(("summarize", state.estimator.count(fitted), after))
            fitted = summarized
    await _publish(state, step, stages, retry=target is not None)
    if hooks:
        fitted = await _hooks.after_compression(
            agent.name, before, fitted, tuple(s[0] for s in stages), scope
        )
    state.working = list(fitted.messages)
    return fitted


def _leading_user(request: ModelRequest) -> ModelRequest:
    """Make the first message after the system prompt a user message.

    Dropping turns can leave an assistant message first, which some
    providers (Anthropic) reject; a short note says turns were removed.
    """
    messages = list(request.messages)
    first = next((i for i, m in enumerate(messages) if m.role != "system"), None)
    if first is None or messages[first].role == "user":
        return request
    messages.insert(first, Message.user(_GAP_NOTE))
    return _evolve(request, messages)


def _evolve(request: ModelRequest, messages: list[Message]) -> ModelRequest:
    return attrs.evolve(request, messages=tuple(messages))


async def _publish(
    state: AgentState, step: int, stages: list[tuple[str, int, int]], *, retry: bool
) -> None:
    path = state.scope.path if state.scope is not None else ""
    for name, before, after in stages:
        await state.tree.system.bus.publish(
            ContextCompressed(
                run_id=state.run_id,
                agent=state.agent.name,
                path=path,
                step=step,
                stage=name,
                tokens_before=before,
                tokens_after=after,
                retry=retry,
            )
        )


def _render(messages: tuple[Message, ...]) -> str:
    lines: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, TextPart):
                lines.append(f"{message.role}: {part.text}")
            elif isinstance(part, ToolCallPart):
                lines.append(f"{message.role} called {part.name}({part.arguments_json})")
            elif isinstance(part, ToolResultPart):
                content = part.content
                if len(content) > _SHOWN_RESULT:
                    content = content[:_SHOWN_RESULT] + f" [... {len(part.content)} characters]"
                lines.append(f"result of {part.tool_call_id}: {content}")
    return "\n".join(lines)


async def _summarize(
    state: AgentState,
    step: int,
    fitted: ModelRequest,
    dropped: tuple[Message, ...],
    available: int,
) -> ModelRequest | None:
    """Stage 3: summarise ``dropped`` with a model call; ``None`` if it cannot help."""
    from actrio.agents._loop import account  # noqa: PLC0415  # cycle
    from actrio.agents._model_call import ModelCallActor  # noqa: PLC0415

    text = _render(dropped)
    if not text:
        return None
    summarizer = state.tree.runtime._model(state.agent.summarizer) or state.model
    ask = ModelRequest(
        messages=(Message.system(_SUMMARY_INSTRUCTIONS), Message.user(text)),
        max_tokens=max(64, min(1024, available // 8)),
    )
    # The summary's own budget slice: one model call, charged up the chain.
    # No room for it is no reason to stop the agent: it goes without.
    if state.ledger.check(Spend(model_calls=2, total_tokens=2)) is not None:  # and the call
        return None
    ledger = state.ledger.grant(Budget(model_calls=1), f"summary-{step}")
    try:
        response = await ModelCallActor(
            state, step, model=summarizer, name="summarize", publish_deltas=False, ledger=ledger
        ).run(ask)
    except Exception:  # noqa: BLE001  # stage 2 alone already fits; go without it
        ledger.close()
        return None
    await account(state, step, response, ledger=ledger)
    ledger.close()
    summary = response.text.strip()
    if not summary:
        return None
    messages = list(fitted.messages)
    system_end = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    messages.insert(system_end, Message.system(SUMMARY_PREFIX + summary))
    summarized = _evolve(fitted, messages)
    if state.estimator.count(summarized) > available:
        return None
    return summarized
