"""The definition of an agent: :class:`Agent`, an immutable value.

An agent is what to run, not a running thing: the same :class:`Agent` may run
many times, concurrently, in any runtime. Each run is an Agent scope (an
actor) with its own model calls and tool calls below it; see
:mod:`actrio.agents._loop`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Generic, Literal, TypeVar

import attrs

from actrio.adapters.router import Model
from actrio.agents._result import AgentDefinitionError
from actrio.context._budget import Budget
from actrio.context._tokens import TokenEstimator
from actrio.policy._spec import PolicySpec
from actrio.tools._tool import Tool
from actrio.types import ReasoningMode

__all__ = ("DEFAULT_CONTEXT_WINDOW", "Agent", "OnToolError")

T = TypeVar("T")

OnToolError = Literal["isolate", "propagate"]
"""What a failing tool call does: become an error result for the model, or fail the run."""

DEFAULT_CONTEXT_WINDOW: Final = 128_000
"""Tokens assumed for a model whose window is not known (see :attr:`Agent.context_window`)."""

_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Known windows by model-name prefix (longest prefix wins); a model
#: object's own ``context_window`` attribute, or the agent's, comes first.
_WINDOWS: Final[Mapping[str, int]] = {
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-5": 400_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "claude": 200_000,
    "gemini-2": 1_048_576,
    "deepseek": 128_000,
}


def _check_name(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise AgentDefinitionError(
            f"Agent.name: {value!r} must be 1-64 characters of A-Z a-z 0-9 _ - "
            "(it names the agent's tool and handoff)"
        )


def _positive(name: str, *, optional: bool = False) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise AgentDefinitionError(f"Agent.{name}: expected an int >= 1, got {value!r}")

    return check


def _non_negative(name: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise AgentDefinitionError(f"Agent.{name}: expected an int >= 0, got {value!r}")

    return check


def _tools(value: Iterable[Tool | Agent[Any]]) -> tuple[Tool, ...]:
    if isinstance(value, Tool | Agent) or not isinstance(value, Iterable):
        raise AgentDefinitionError("Agent.tools: expected a list of Tool (or Agent) values")
    tools: list[Tool] = []
    for i, item in enumerate(value):
        if isinstance(item, Agent):
            tools.append(item.as_tool())
        elif isinstance(item, Tool):
            tools.append(item)
        else:
            raise AgentDefinitionError(
                f"Agent.tools[{i}]: expected a Tool (from @actrio.tool) or an Agent, "
                f"got {type(item).__name__}"
            )
    names = [t.name for t in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AgentDefinitionError(f"Agent.tools: more than one tool named {duplicates}")
    return tuple(tools)


def _handoffs(value: Iterable[Agent[Any]]) -> tuple[Agent[Any], ...]:
    if isinstance(value, Agent) or not isinstance(value, Iterable):
        raise AgentDefinitionError("Agent.handoffs: expected a list of Agent values")
    agents = tuple(value)
    for i, item in enumerate(agents):
        if not isinstance(item, Agent):
            raise AgentDefinitionError(
                f"Agent.handoffs[{i}]: expected an Agent, got {type(item).__name__}"
            )
    return agents


def _policies(value: Iterable[PolicySpec] | str) -> tuple[PolicySpec, ...]:
    """Parse policies at definition, so a bad one fails where the agent is written."""
    if isinstance(value, str):
        if not value.strip():
            return ()
        from actrio.policy._text import parse_policies  # noqa: PLC0415  # import time

        return tuple(parse_policies(value))
    specs = tuple(value)
    if specs:
        from actrio.policy._spec import PolicySpec  # noqa: PLC0415  # import time

        for i, spec in enumerate(specs):
            if not isinstance(spec, PolicySpec):
                raise AgentDefinitionError(
                    f"Agent.policies[{i}]: expected a PolicySpec or the text form, "
                    f"got {type(spec).__name__}"
                )
    return specs


def _check_model(_: object, __: object, value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if not all(hasattr(value, attr) for attr in ("complete", "stream", "model")):
        raise AgentDefinitionError(
            "Agent.model: expected a model string such as 'openai:gpt-4.1' or an adapter "
            f"(complete / stream / model), got {type(value).__name__}"
        )


def _check_output_type(_: object, __: object, value: Any) -> None:
    if value is None or value is str:
        return
    if not (isinstance(value, type) and attrs.has(value)):
        raise AgentDefinitionError(
            f"Agent.output_type: expected an attrs class (or str), got {value!r}"
        )


def _check_choice(name: str, choices: tuple[str, ...]) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if value not in choices:
            raise AgentDefinitionError(f"Agent.{name}: expected one of {choices}, got {value!r}")

    return check


def _check_estimator(_: object, __: object, value: Any) -> None:
    if value is not None and not callable(getattr(value, "count", None)):
        raise AgentDefinitionError(
            f"Agent.estimator: expected a TokenEstimator (with count()), got {type(value).__name__}"
        )


def _check_budget(_: object, __: object, value: Any) -> None:
    if value is not None and not isinstance(value, Budget):
        raise AgentDefinitionError(f"Agent.budget: expected a Budget, got {type(value).__name__}")


@attrs.frozen
class Agent(Generic[T]):
    """An agent: instructions, a model, tools, and the limits it runs under.

    Example::

        agent = actrio.Agent(
            "helper",
            "Answer briefly.",
            "openai:gpt-4.1-mini",
            tools=[read_file],
            budget=actrio.Budget(total_tokens=50_000, tool_calls=20),
        )
        async with actrio.open_runtime() as rt:
            result = await rt.run(agent, "What does notes.txt say?")

    Args:
        name: 1-64 characters of ``A-Z a-z 0-9 _ -``; names its scope, its
            tool (:meth:`as_tool`) and its handoff.
        instructions: The system prompt.
        model: A model string (``"anthropic:claude-sonnet-4-5"``) or an
            adapter (anything with ``complete``, ``stream`` and ``model``,
            such as :class:`actrio.testing.ScriptedModel`).
        tools: Tools it may call; an :class:`Agent` in the list becomes a
            sub-agent tool (:meth:`as_tool`).
        output_type: An attrs class the final answer must fit (asked of the
            provider in its native structured-output mode, checked with
            cattrs); ``None`` (or ``str``) for text.
        budget: Limits for each run (and what a sub-agent asks of its parent).
        policies: Policies applied to this agent's tool calls on top of the
            runtime's (specs, or their text form; parsed here).
        max_steps: Model calls a run may make.
        tool_concurrency: Tool calls of one answer that run at once.
        on_tool_error: ``"isolate"``: a failing call becomes an error result
            for the model, its siblings' results kept; ``"propagate"``: the
            run fails (after the siblings finish, their results kept).
        handoffs: Agents it may hand the conversation to.
        description: What it does, for the model of an agent that calls it.
        temperature: Sampling temperature.
        max_tokens: The output token limit of each call (also the output
            reserved in the context window; 4,096 when unset).
        reasoning: ``"none"``, ``"raw"`` or ``"summary"``; reasoning deltas
            are published only when it is not ``"none"``.
        context_window: Tokens the model's window holds; by default the
            model's ``context_window`` attribute, a known family's, or 128,000.
        keep_last_turns: Turns compression always keeps.
        max_tool_result_chars: The longest tool result kept whole when the
            request is over the window.
        summarize: Summarise what compression dropped, with a model call.
        summarizer: The model for summaries (default: the agent's).
        max_output_retries: Times an answer that does not fit
            ``output_type`` goes back to the model before the run fails.
        estimator: Counts tokens for fitting (any
            :class:`~actrio.context.TokenEstimator`, such as
            ``TiktokenEstimator()``; one with ``calibrate`` learns from the
            provider's usage, and is shared by every run of the agent). By
            default each run gets a :class:`~actrio.context.CharEstimator`
            that calibrates only towards counting more.

    Raises:
        AgentDefinitionError: For a bad value; the message names the field.
    """

    name: str = attrs.field(validator=_check_name)
    instructions: str = attrs.field(default="", validator=attrs.validators.instance_of(str))
    model: Model | str | None = attrs.field(default=None, validator=_check_model)
    tools: tuple[Tool, ...] = attrs.field(default=(), converter=_tools, kw_only=True)
    output_type: type[T] | None = attrs.field(
        default=None, validator=_check_output_type, kw_only=True
    )
    budget: Budget | None = attrs.field(default=None, validator=_check_budget, kw_only=True)
    policies: tuple[PolicySpec, ...] = attrs.field(default=(), converter=_policies, kw_only=True)
    max_steps: int = attrs.field(default=20, validator=_positive("max_steps"), kw_only=True)
    tool_concurrency: int = attrs.field(
        default=8, validator=_positive("tool_concurrency"), kw_only=True
    )
    on_tool_error: OnToolError = attrs.field(
        default="isolate",
        validator=_check_choice("on_tool_error", ("isolate", "propagate")),
        kw_only=True,
    )
    handoffs: tuple[Agent[Any], ...] = attrs.field(
        default=(), converter=_handoffs, kw_only=True, eq=False, repr=False
    )
    description: str = attrs.field(
        default="", validator=attrs.validators.instance_of(str), kw_only=True
    )
    temperature: float | None = attrs.field(default=None, kw_only=True)
    max_tokens: int | None = attrs.field(
        default=None, validator=_positive("max_tokens", optional=True), kw_only=True
    )
    reasoning: ReasoningMode = attrs.field(
        default="none",
        validator=_check_choice("reasoning", ("none", "raw", "summary")),
        kw_only=True,
    )
    context_window: int | None = attrs.field(
        default=None, validator=_positive("context_window", optional=True), kw_only=True
    )
    keep_last_turns: int = attrs.field(
        default=2, validator=_positive("keep_last_turns"), kw_only=True
    )
    max_tool_result_chars: int = attrs.field(
        default=20_000, validator=_positive("max_tool_result_chars"), kw_only=True
    )
    summarize: bool = attrs.field(
        default=True, validator=attrs.validators.instance_of(bool), kw_only=True
    )
    summarizer: Model | str | None = attrs.field(default=None, validator=_check_model, kw_only=True)
    max_output_retries: int = attrs.field(
        default=2, validator=_non_negative("max_output_retries"), kw_only=True
    )
    estimator: TokenEstimator | None = attrs.field(
        default=None, validator=_check_estimator, kw_only=True, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        names = {t.name for t in self.tools}
        for target in self.handoffs:
            if handoff_tool_name(target) in names:
                raise AgentDefinitionError(
                    f"Agent.handoffs: {handoff_tool_name(target)!r} is also a tool's name"
                )

    @property
    def structured(self) -> bool:
        """Whether the final answer must fit an attrs class."""
        return self.output_type is not None and self.output_type is not str

    def window_for(self, model: object) -> int:
        """The context window to fit requests to, for ``model``."""
        if self.context_window is not None:
            return self.context_window
        own = getattr(model, "context_window", None)
        if isinstance(own, int) and not isinstance(own, bool) and own > 0:
            return own
        name = str(getattr(model, "model", "") or "")
        best = max((p for p in _WINDOWS if name.startswith(p)), key=len, default=None)
        return _WINDOWS[best] if best is not None else DEFAULT_CONTEXT_WINDOW

    def as_tool(
        self,
        name: str | None = None,
        description: str | None = None,
        *,
        budget: Budget | None = None,
    ) -> Tool:
        """This agent as a tool another agent can call (a sub-agent).

        The call runs a child run of this agent inside the calling tool
        call's scope, granted ``min(budget or self.budget, the caller's
        remaining)``; its usage and cost are charged up the caller's chain.
        Its final output (text, or the JSON of its ``output_type``) is the
        tool's result. If it does not complete, the calling model gets an
        error result saying why (:class:`SubAgentStopped`).

        Args:
            name: The tool's name (default: the agent's).
            description: For the calling model (default: :attr:`description`,
                else the first line of the instructions).
            budget: What the sub-agent asks of its parent (default: :attr:`budget`).
        """
        from actrio.agents._subagent import subagent_tool  # noqa: PLC0415  # cycle

        return subagent_tool(self, name=name, description=description, budget=budget)


def handoff_tool_name(agent: Agent[Any]) -> str:
    """The name of the tool that hands the conversation to ``agent``."""
    return f"transfer_to_{agent.name}"[:64]
