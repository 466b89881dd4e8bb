"""Tools: typed tools (``@tool``), their registry, argument checks and results.

``execute`` runs an instrumented tool call under the current scope;
``Runtime.call_tool`` runs a registered tool the full way: arguments checked,
policies asked, the tool run in its :class:`ToolContext`, the result rendered.
"""

from actrio.actors._calls import execute_tool as execute
from actrio.tools._context import ToolContext as ToolContext
from actrio.tools._context import current_tool_context as current_tool_context
from actrio.tools._context import tool_context as tool_context
from actrio.tools._registry import ToolRegistry as ToolRegistry
from actrio.tools._results import DEFAULT_MAX_CHARS as DEFAULT_MAX_CHARS
from actrio.tools._results import ToolOutput as ToolOutput
from actrio.tools._results import render_result as render_result
from actrio.tools._tool import Tool as Tool
from actrio.tools._tool import tool as tool
from actrio.tools._validate import ArgumentLimits as ArgumentLimits
from actrio.tools._validate import parse_arguments as parse_arguments
from actrio.tools.errors import DuplicateTool as DuplicateTool
from actrio.tools.errors import ToolArgumentsError as ToolArgumentsError
from actrio.tools.errors import ToolDefinitionError as ToolDefinitionError
from actrio.tools.errors import ToolDenied as ToolDenied
from actrio.tools.errors import ToolError as ToolError
from actrio.tools.errors import ToolFailed as ToolFailed
from actrio.tools.errors import ToolTimeout as ToolTimeout
from actrio.tools.errors import UnknownTool as UnknownTool

__all__ = (
    "ArgumentLimits",
    "DEFAULT_MAX_CHARS",
    "DuplicateTool",
    "Tool",
    "ToolArgumentsError",
    "ToolContext",
    "ToolDefinitionError",
    "ToolDenied",
    "ToolError",
    "ToolFailed",
    "ToolOutput",
    "ToolRegistry",
    "ToolTimeout",
    "UnknownTool",
    "current_tool_context",
    "execute",
    "parse_arguments",
    "render_result",
    "tool",
    "tool_context",
)
