"""actrio: an actor-model runtime for LLM agents, built on trio.

Every scope, tool call and model call is an actor in a trio nursery tree, so
cancellation, budgeting and supervision follow structured concurrency.
"""

from actrio import guardrails as guardrails
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
            "AnnotatedLLMRequest",
            "AnnotatedLLMResponse",
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
            "intercepts",
            "llm",
            "mark",
            "open_runtime",
            "open_scope",
            "tool",
            "tools",
            *_kernel_all,
        )
    )
)


def __getattr__(name: str) -> object:
    # The adapters pull in httpx; ``import actrio`` stays light until they are used.
    if name in ("adapters", "context", "policy", "testing"):
        import importlib  # noqa: PLC0415

        return importlib.import_module(f"actrio.{name}")
    raise AttributeError(f"module 'actrio' has no attribute {name!r}")
