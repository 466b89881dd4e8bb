"""actrio: an actor-model runtime for LLM agents, built on trio.

Every scope, tool call and model call is an actor in a trio nursery tree, so
cancellation, budgeting and supervision follow structured concurrency.
"""

from typing import TYPE_CHECKING

from actrio import guardrails as guardrails
from actrio import hooks as hooks
from actrio import intercepts as intercepts
from actrio import llm as llm
from actrio import tools as tools
from actrio._version import __version__ as __version__
from actrio.actors import Scope as Scope
from actrio.actors import ScopeCancel as ScopeCancel
from actrio.actors import ScopeCancelled as ScopeCancelled
from actrio.actors import ScopeTimeout as ScopeTimeout
from actrio.actors import current_scope as current_scope
from actrio.actors import mark as mark
from actrio.actors import open_scope as open_scope
from actrio.codecs import AnnotatedLLMRequest as AnnotatedLLMRequest
from actrio.codecs import AnnotatedLLMResponse as AnnotatedLLMResponse
from actrio.codecs import LLMRequest as LLMRequest
from actrio.events import Mark as Mark
from actrio.events import ScopeAttributes as ScopeAttributes
from actrio.events import ScopeEnded as ScopeEnded
from actrio.events import ScopeEvent as ScopeEvent
from actrio.events import ScopeStarted as ScopeStarted
from actrio.events import ScopeType as ScopeType
from actrio.kernel import *  # noqa: F403 - the kernel's surface is actrio's surface
from actrio.kernel import __all__ as _kernel_all
from actrio.messages import Message as Message
from actrio.middleware import GuardrailBlocked as GuardrailBlocked
from actrio.middleware import MiddlewareError as MiddlewareError
from actrio.middleware import Plugin as Plugin
from actrio.middleware import PluginConfigError as PluginConfigError
from actrio.middleware import PluginError as PluginError
from actrio.runtime import Runtime as Runtime
from actrio.runtime import current_runtime as current_runtime
from actrio.runtime import open_runtime as open_runtime
from actrio.tools import Tool as Tool
from actrio.tools import ToolRegistry as ToolRegistry
from actrio.tools import tool as tool
from actrio.types import ModelRequest as ModelRequest
from actrio.types import ModelResponse as ModelResponse
from actrio.types import OutputSchema as OutputSchema
from actrio.types import OutputValidationError as OutputValidationError
from actrio.types import ToolSpec as ToolSpec
from actrio.types import Usage as Usage

__all__ = tuple(
    sorted(
        (
            "Agent",
            "AnnotatedLLMRequest",
            "AnnotatedLLMResponse",
            "Budget",
            "BudgetExceeded",
            "GuardrailBlocked",
            "LLMRequest",
            "Mark",
            "Message",
            "MiddlewareError",
            "ModelRequest",
            "ModelResponse",
            "OutputSchema",
            "OutputValidationError",
            "Plugin",
            "PluginConfigError",
            "PluginError",
            "RunFailed",
            "RunResult",
            "Runtime",
            "Scope",
            "ScopeAttributes",
            "ScopeCancel",
            "ScopeCancelled",
            "ScopeEnded",
            "ScopeEvent",
            "ScopeStarted",
            "ScopeTimeout",
            "ScopeType",
            "Tool",
            "ToolRegistry",
            "ToolSpec",
            "Usage",
            "__version__",
            "current_runtime",
            "current_scope",
            "guardrails",
            "hooks",
            "intercepts",
            "llm",
            "mark",
            "open_runtime",
            "open_scope",
            "run_sync",
            "tool",
            "tools",
            *_kernel_all,
        )
    )
)


if TYPE_CHECKING:  # what the lazy names below are, for type checkers
    from actrio import adapters as adapters
    from actrio import agents as agents
    from actrio import context as context
    from actrio import policy as policy
    from actrio import testing as testing
    from actrio.agents import Agent as Agent
    from actrio.agents import RunFailed as RunFailed
    from actrio.agents import RunResult as RunResult
    from actrio.agents import run_sync as run_sync
    from actrio.context import Budget as Budget
    from actrio.context import BudgetExceeded as BudgetExceeded

#: Names loaded on first use: the agent layer pulls in httpx (through the
#: adapters), so ``import actrio`` stays light until an agent is defined.
_LAZY: dict[str, tuple[str, str | None]] = {
    "Agent": ("actrio.agents", "Agent"),
    "Budget": ("actrio.context", "Budget"),
    "BudgetExceeded": ("actrio.context", "BudgetExceeded"),
    "RunFailed": ("actrio.agents", "RunFailed"),
    "RunResult": ("actrio.agents", "RunResult"),
    "run_sync": ("actrio.agents", "run_sync"),
    "adapters": ("actrio.adapters", None),
    "agents": ("actrio.agents", None),
    "context": ("actrio.context", None),
    "policy": ("actrio.policy", None),
    "testing": ("actrio.testing", None),
}


def __getattr__(name: str) -> object:
    lazy = _LAZY.get(name)
    if lazy is None:
        raise AttributeError(f"module 'actrio' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    module = importlib.import_module(lazy[0])
    return module if lazy[1] is None else getattr(module, lazy[1])
