"""Tools: instrumented tool calls (``execute``) under the current scope."""

from actrio.actors._calls import execute_tool as execute

__all__ = ("execute",)
