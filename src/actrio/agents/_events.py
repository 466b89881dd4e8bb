"""The agent loop's events: one family, kind-tagged, on the runtime's bus.

Every event carries the ``run_id`` of the run it belongs to (a sub-agent's
run has its own id, and its ``RunStarted`` / ``RunEnded`` name the calling
run as ``parent_run_id``; ``rt.stream`` follows the whole tree), the
``agent`` that produced it and an actor ``path`` (of the agent's scope, or
for deltas the model call's), so scope-local subscribers see them too.

Content (prompts, answers, tool output) appears only where it is the point
of the event (deltas, which a stream consumer asked for; tool results, after
the runtime's secret masking and a length cut).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import attrs

from actrio._wire import register_kind_union
from actrio.kernel import Event
from actrio.types import Usage

__all__ = (
    "AGENT_EVENT_KINDS",
    "AgentEvent",
    "AgentTextDelta",
    "ContextCompressed",
    "HandedOff",
    "ModelCalled",
    "OutputRetried",
    "ReasoningTextDelta",
    "RunEnded",
    "RunStarted",
    "RunStatus",
    "ToolCallEnded",
    "ToolCallStarted",
)

RunStatus = Literal[
    "completed", "cancelled", "failed", "budget_exceeded", "max_steps", "interrupted"
]
"""How a run ended.

- ``completed``: the model gave a final answer (valid, with ``output_type``).
- ``cancelled``: :meth:`Runtime.cancel`, or the caller's scope, stopped it.
- ``failed``: an error stopped it (a provider error, a tool error with
  ``on_tool_error="propagate"``, output that stayed invalid, ...).
- ``budget_exceeded``: a limit of its own budget broke, or a charge it made
  broke an ancestor's (then the ancestor ends ``budget_exceeded`` and this
  run, cancelled with it, ``cancelled``).
- ``max_steps``: it used every step without a final answer.
- ``interrupted``: :meth:`Runtime.interrupt` stopped it to be resumed later
  (the result carries a :class:`~actrio.agents.RunSnapshot`).
"""


@attrs.frozen(kw_only=True)
class RunStarted(Event):
    """A run started (once per run: a handoff within it is a :class:`HandedOff`).

    Attributes:
        run_id: The run.
        agent: The agent's name.
        path: The actor path of the agent's scope.
        parent_run_id: For a sub-agent, the id of the run that called it.
    """

    kind: Literal["run_started"] = "run_started"
    run_id: str
    agent: str
    path: str
    parent_run_id: str | None = None


@attrs.frozen(kw_only=True)
class AgentTextDelta(Event):
    """A piece of the assistant's answer, as it streams.

    Attributes:
        run_id: The run.
        agent: The agent's name.
        path: The actor path of the model call's scope.
        step: The step (model call) number, from 1.
        text: The piece.
    """

    kind: Literal["agent_text_delta"] = "agent_text_delta"
    run_id: str
    agent: str
    path: str
    step: int
    text: str


@attrs.frozen(kw_only=True)
class ReasoningTextDelta(Event):
    """A piece of the model's reasoning (only when the agent asks for reasoning).

    Attributes:
        run_id: The run.
        agent: The agent's name.
        path: The actor path of the model call's scope.
        step: The step number.
        text: The piece.
        summary: Whether it is a provider's summary of the reasoning.
    """

    kind: Literal["reasoning_text_delta"] = "reasoning_text_delta"
    run_id: str
    agent: str
    path: str
    step: int
    text: str
    summary: bool = False


@attrs.frozen(kw_only=True)
class ModelCalled(Event):
    """A model call of the loop finished.

    Attributes:
        run_id: The run.
        agent: The agent's name.
        path: The actor path of the agent's scope.
        step: The step number.
        model: The model that answered.
        finish_reason: The normalised finish reason.
        tool_calls: How many tool calls the answer asked for.
        usage: Tokens used by this call.
        cost_usd: Its cost (0 when the model has no known price).
    """

    kind: Literal["model_called"] = "model_called"
    run_id: str
    agent: str
    path: str
    step: int
    model: str
    finish_reason: str
    tool_calls: int
    usage: Usage
    cost_usd: float


@attrs.frozen(kw_only=True)
class ToolCallStarted(Event):
    """The loop started a tool call the model asked for.

    Attributes:
        run_id: The run.
        agent: The agent's name.
        path: The actor path of the agent's scope.
        step: The step number.
        call_id: The model's call id.
        tool: The tool's name.
    """

    kind: Literal["tool_call_started"] = "tool_call_started"
    run_id: str
    agent: str
    path: str
    step: int
    call_id: str
    tool: str


@attrs.frozen(kw_only=True)
class ToolCallEnded(Event):
    """A tool call of the loop ended; its result goes back to the model.

    Attributes:
        run_id: The run.
        agent: The agent's name.
        path: The actor path of the agent's scope.
        step: The step number.
        call_id: The model's call id.
        tool: The tool's name.
        is_error: Whether the model is told it failed (denied, invalid,
            failed, cancelled).
        error_type: The exception's type name, for a failure.
        output: The text the model gets (secrets masked), cut to 1,000 characters.
    """

    kind: Literal["tool_call_ended"] = "tool_call_ended"
    run_id: str
    agent: str
    path: str
    step: int
    call_id: str
    tool: str
    is_error: bool
    error_type: str | None = None
    output: str = ""


@attrs.frozen(kw_only=True)
class OutputRetried(Event):
    """The final answer did not fit ``output_type``; the error went back to the model.

    Attributes:
        run_id: The run.
        agent: The agent's name.
        path: The actor path of the agent's scope.
        attempt: The retry's number, from 1.
        errors: The problems, as ``path: message`` lines.
    """

    kind: Literal["output_retried"] = "output_retried"
    run_id: str
    agent: str
    path: str
    attempt: int
    errors: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ContextCompressed(Event):
    """One compression stage ran before a model call.

    Attributes:
        run_id: The run.
        agent: The agent's name.
        path: The actor path of the agent's scope.
        step: The step number.
        stage: ``truncate_tool_results``, ``drop_oldest_turns`` or ``summarize``.
        tokens_before: Estimated input tokens before the stage.
        tokens_after: Estimated input tokens after it.
        retry: Whether it ran after the provider said the context was too long.
    """

    kind: Literal["context_compressed"] = "context_compressed"
    run_id: str
    agent: str
    path: str
    step: int
    stage: str
    tokens_before: int
    tokens_after: int
    retry: bool = False


@attrs.frozen(kw_only=True)
class HandedOff(Event):
    """The run moved from one agent to another (a handoff).

    Attributes:
        run_id: The run.
        agent: The agent that handed off.
        path: The actor path of its scope.
        to_agent: The agent that takes over.
    """

    kind: Literal["handed_off"] = "handed_off"
    run_id: str
    agent: str
    path: str
    to_agent: str


@attrs.frozen(kw_only=True)
class RunEnded(Event):
    """A run ended; one per :class:`RunStarted`, whatever happened.

    Attributes:
        run_id: The run.
        agent: The agent that ended it (after handoffs, the last one).
        path: The actor path of that agent's scope.
        status: How it ended (:data:`RunStatus`).
        reason: Why, for anything but ``completed``.
        steps: Model calls made.
        usage: Tokens used by every model call of the run (sub-agents' included).
        cost_usd: What they cost.
        parent_run_id: For a sub-agent, the id of the run that called it.
    """

    kind: Literal["run_ended"] = "run_ended"
    run_id: str
    agent: str
    path: str
    status: RunStatus
    reason: str | None = None
    steps: int = 0
    usage: Usage = attrs.field(factory=Usage)
    cost_usd: float = 0.0
    parent_run_id: str | None = None


AgentEvent: TypeAlias = (
    RunStarted
    | AgentTextDelta
    | ReasoningTextDelta
    | ModelCalled
    | ToolCallStarted
    | ToolCallEnded
    | OutputRetried
    | ContextCompressed
    | HandedOff
    | RunEnded
)
"""The closed union of the agent loop's events."""

AGENT_EVENT_KINDS = register_kind_union(AgentEvent)
