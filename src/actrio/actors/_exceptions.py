"""Errors of the actors layer (scopes and instrumented calls).

The tree::

    ActrioError
    ├── ScopeCancelled        an instrumented call's scope was cancelled
    └── ScopeTimeout (trio.TooSlowError)   a scope's own deadline passed
"""

from __future__ import annotations

import trio

from actrio.kernel import ActrioError

__all__ = ("ScopeCancelled", "ScopeTimeout")


class ScopeCancelled(ActrioError):
    """The scope of a tool or LLM call was cancelled, so the call has no result.

    Attributes:
        scope: The name of the cancelled scope.
        reason: Why it was cancelled.
    """

    def __init__(self, scope: str, reason: str) -> None:
        self.scope = scope
        self.reason = reason
        super().__init__(f"scope {scope!r} was cancelled: {reason}")


class ScopeTimeout(ActrioError, trio.TooSlowError):
    """A scope's own deadline (``timeout=`` or ``deadline=``) cancelled its body.

    Attributes:
        scope: The scope's name.
        deadline: The deadline, on trio's clock.
    """

    def __init__(self, scope: str, deadline: float) -> None:
        self.scope = scope
        self.deadline = deadline
        super().__init__(f"scope {scope!r} passed its deadline")
