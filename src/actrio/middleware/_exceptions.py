"""Errors of the middleware layer.

The tree::

    ActrioError
    ├── UsageError
    │   └── PluginConfigError (ValueError)   a bad plugin TOML file or config
    ├── MiddlewareError                       a guardrail or intercept raised
    ├── GuardrailBlocked                      a conditional guardrail said no
    └── PluginError                           a plugin failed to install
"""

from __future__ import annotations

from actrio.kernel import ActrioError, UsageError

__all__ = ("GuardrailBlocked", "MiddlewareError", "PluginConfigError", "PluginError")


class MiddlewareError(ActrioError):
    """A guardrail or intercept raised; only the call it ran for fails.

    The middleware's own exception is chained as ``__cause__``.

    Attributes:
        middleware: The registration name of the middleware.
        stage: Which hook it was registered for, like ``tool_request``.
        target: The name of the tool or model call.
        error: The exception it raised.
    """

    def __init__(self, *, middleware: str, stage: str, target: str, error: BaseException) -> None:
        self.middleware = middleware
        self.stage = stage
        self.target = target
        self.error = error
        super().__init__(
            f"{stage} middleware {middleware!r} failed for {target!r}: "
            f"{type(error).__qualname__}: {error}"
        )


class GuardrailBlocked(ActrioError):
    """A conditional-execution guardrail blocked a call; the call did not run.

    Attributes:
        guardrail: The registration name of the guardrail.
        target: The name of the tool or model call.
        reason: The reason the guardrail gave.
    """

    def __init__(self, *, guardrail: str, target: str, reason: str) -> None:
        self.guardrail = guardrail
        self.target = target
        self.reason = reason
        super().__init__(f"guardrail {guardrail!r} blocked {target!r}: {reason}")


class PluginError(ActrioError):
    """A plugin could not be found, loaded or installed.

    Attributes:
        plugin: The plugin's name.
    """

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(f"plugin {plugin!r}: {message}")


class PluginConfigError(UsageError, ValueError):
    """A plugin configuration (TOML file or config table) is invalid.

    Attributes:
        where: The path of the bad key, like ``plugins[1].config.level``.
    """

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}")
