"""What a run gives back: :class:`RunResult`, and the agent layer's errors."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs

from actrio.agents._events import RunStatus
from actrio.agents._snapshot import RunSnapshot
from actrio.context._budget import Spend
from actrio.kernel import ActrioError, UsageError
from actrio.messages import Message
from actrio.tools.errors import ToolError
from actrio.types import Usage

__all__ = ("AgentDefinitionError", "RunFailed", "RunResult", "SubAgentStopped")

T = TypeVar("T")


class AgentDefinitionError(UsageError, ValueError):
    """An :class:`Agent` was defined with a bad value; the message names the field."""


@attrs.frozen(kw_only=True)
class RunResult(Generic[T]):
    """The outcome of a run, whatever its status.

    A run that did not complete keeps every piece of completed work: the
    messages up to the point it stopped (tool calls that finished with
    their results; calls that were cut off answered by an error result
    saying so), the usage and the cost of every model call that returned.

    Attributes:
        run_id: The run's id (what :meth:`Runtime.cancel` takes).
        agent: The agent that produced the result (the last one, after handoffs).
        status: ``completed``, ``cancelled``, ``failed``, ``budget_exceeded``
            or ``max_steps``. Only ``completed`` is a success.
        output: The final answer: an instance of the agent's ``output_type``
            when it has one, else the text. ``None`` unless ``completed``.
        messages: The whole conversation, system prompt first.
        usage: Tokens of every model call (sub-agents' included).
        cost_usd: Their cost from the adapters' price data (a model with no
            known price counts 0; see :attr:`unpriced_models`).
        steps: Model calls made by this run's own agents.
        reason: Why it did not complete (``None`` when it did).
        error: The exception behind ``failed`` / ``budget_exceeded``, if any.
        unpriced_models: Models that answered but have no price.
        snapshot: For an ``interrupted`` run, what :meth:`Runtime.resume` takes.
        spent: What the run charged to its budget (calls made, tokens, money).
    """

    run_id: str
    agent: str
    status: RunStatus
    output: T | None = attrs.field(default=None, eq=False)
    messages: tuple[Message, ...] = ()
    usage: Usage = attrs.field(factory=Usage)
    cost_usd: float = 0.0
    steps: int = 0
    reason: str | None = None
    error: BaseException | None = attrs.field(default=None, eq=False, repr=False)
    unpriced_models: tuple[str, ...] = ()
    snapshot: RunSnapshot | None = attrs.field(default=None, eq=False, repr=False)
    spent: Spend = attrs.field(factory=Spend)

    @property
    def ok(self) -> bool:
        """Whether the run completed (and so :attr:`output` is its answer)."""
        return self.status == "completed"

    @property
    def text(self) -> str:
        """The last assistant message's text ("" if there is none)."""
        for message in reversed(self.messages):
            if message.role == "assistant":
                return message.text
        return ""


class RunFailed(ActrioError):
    """A run stopped because of an error; :attr:`result` keeps its completed work.

    The error itself is ``__cause__``.

    Attributes:
        result: The run's result, with status ``failed``.
    """

    def __init__(self, result: RunResult[Any]) -> None:
        super().__init__(f"run {result.run_id} of agent {result.agent!r} failed: {result.reason}")
        self.result = result


class SubAgentStopped(ToolError):
    """A sub-agent called as a tool did not complete; the calling model is told why.

    Attributes:
        agent: The sub-agent's name.
        result: Its result.
    """

    def __init__(self, agent: str, result: RunResult[Any]) -> None:
        super().__init__(
            f"sub-agent {agent!r} did not complete: {result.status}"
            + (f" ({result.reason})" if result.reason else "")
        )
        self.agent = agent
        self.result = result

    def feedback(self) -> str:
        """The text the calling model gets."""
        return str(self)
