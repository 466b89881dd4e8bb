"""Middleware (guardrails, intercepts, hooks), global on a runtime or local to a scope; plugins.

Register through :mod:`actrio.guardrails`, :mod:`actrio.intercepts` and
:mod:`actrio.hooks`; see :mod:`actrio.middleware._registry` for the run order.
"""

from actrio.middleware._exceptions import GuardrailBlocked as GuardrailBlocked
from actrio.middleware._exceptions import MiddlewareError as MiddlewareError
from actrio.middleware._exceptions import PluginConfigError as PluginConfigError
from actrio.middleware._exceptions import PluginError as PluginError
from actrio.middleware._plugins import PLUGIN_GROUP as PLUGIN_GROUP
from actrio.middleware._plugins import Plugin as Plugin
from actrio.middleware._plugins import PluginManager as PluginManager
from actrio.middleware._plugins import PluginRegistry as PluginRegistry
from actrio.middleware._plugins import discover_plugins as discover_plugins
from actrio.middleware._registry import GUARDRAIL_STAGES as GUARDRAIL_STAGES
from actrio.middleware._registry import HOOK_STAGES as HOOK_STAGES
from actrio.middleware._registry import INTERCEPT_STAGES as INTERCEPT_STAGES
from actrio.middleware._registry import MiddlewareRegistry as MiddlewareRegistry
from actrio.middleware._registry import Registration as Registration
from actrio.middleware._registry import Stage as Stage

__all__ = (
    "GUARDRAIL_STAGES",
    "GuardrailBlocked",
    "HOOK_STAGES",
    "INTERCEPT_STAGES",
    "MiddlewareError",
    "MiddlewareRegistry",
    "PLUGIN_GROUP",
    "Plugin",
    "PluginConfigError",
    "PluginError",
    "PluginManager",
    "PluginRegistry",
    "Registration",
    "Stage",
    "discover_plugins",
)
