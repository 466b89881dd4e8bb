"""Agent-layer actors: scopes, model calls, tool calls and agents.

Empty for now: they arrive with the scope and agent issues, built on
:mod:`actrio.kernel`.
"""

__all__ = ()
