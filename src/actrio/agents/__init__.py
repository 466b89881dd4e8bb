"""Agents as supervised actor trees: :class:`Agent`, runs, results and their events.

An :class:`Agent` is a value (instructions, model, tools, limits). Running it
(``await rt.run(agent, input)``, ``rt.stream(agent, input)``, or
:func:`run_sync` from a script) opens an Agent scope whose actor runs the
loop: a model call per step in its own Llm scope, the tool calls of each
answer concurrently in their own Tool scopes (each asking the policy actor
first), sub-agents as child runs with a slice of the budget, and mandatory
context fitting before every call. See ``docs/agents.md``.
"""

from actrio.agents._agent import DEFAULT_CONTEXT_WINDOW as DEFAULT_CONTEXT_WINDOW
from actrio.agents._agent import Agent as Agent
from actrio.agents._agent import OnToolError as OnToolError
from actrio.agents._events import AGENT_EVENT_KINDS as AGENT_EVENT_KINDS
from actrio.agents._events import AgentEvent as AgentEvent
from actrio.agents._events import AgentTextDelta as AgentTextDelta
from actrio.agents._events import ContextCompressed as ContextCompressed
from actrio.agents._events import HandedOff as HandedOff
from actrio.agents._events import ModelCalled as ModelCalled
from actrio.agents._events import OutputRetried as OutputRetried
from actrio.agents._events import ReasoningTextDelta as ReasoningTextDelta
from actrio.agents._events import RunEnded as RunEnded
from actrio.agents._events import RunStarted as RunStarted
from actrio.agents._events import RunStatus as RunStatus
from actrio.agents._events import ToolCallEnded as ToolCallEnded
from actrio.agents._events import ToolCallStarted as ToolCallStarted
from actrio.agents._result import AgentDefinitionError as AgentDefinitionError
from actrio.agents._result import RunFailed as RunFailed
from actrio.agents._result import RunResult as RunResult
from actrio.agents._result import SubAgentStopped as SubAgentStopped
from actrio.agents._run import RunStream as RunStream
from actrio.agents._run import run_sync as run_sync
from actrio.agents._snapshot import SNAPSHOT_VERSION as SNAPSHOT_VERSION
from actrio.agents._snapshot import RunSnapshot as RunSnapshot
from actrio.agents._snapshot import SnapshotError as SnapshotError
from actrio.agents._team import AgentWorker as AgentWorker
from actrio.agents._team import MemberUnavailable as MemberUnavailable
from actrio.agents._team import RunAgent as RunAgent
from actrio.agents._team import Team as Team
from actrio.agents._team import TeamHandle as TeamHandle

__all__ = (
    "AGENT_EVENT_KINDS",
    "Agent",
    "AgentDefinitionError",
    "AgentEvent",
    "AgentTextDelta",
    "AgentWorker",
    "ContextCompressed",
    "DEFAULT_CONTEXT_WINDOW",
    "HandedOff",
    "MemberUnavailable",
    "ModelCalled",
    "OnToolError",
    "OutputRetried",
    "ReasoningTextDelta",
    "RunAgent",
    "RunEnded",
    "RunFailed",
    "RunResult",
    "RunSnapshot",
    "RunStarted",
    "RunStatus",
    "RunStream",
    "SNAPSHOT_VERSION",
    "SnapshotError",
    "SubAgentStopped",
    "Team",
    "TeamHandle",
    "ToolCallEnded",
    "ToolCallStarted",
    "run_sync",
)
