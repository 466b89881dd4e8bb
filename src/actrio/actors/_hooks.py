"""The agent-loop hook runners: one coroutine per hook stage (see :mod:`actrio.hooks`).

Each runner threads one value through the stage's hooks over the registries
that apply at ``here`` (the runtime's, then outer to inner scopes), in
:func:`~actrio.middleware._registry.resolve` order: each hook sees the
previous one's result, ``None`` keeps the value. A hook that raises, or
returns anything but ``None`` or the expected type, fails with
:class:`MiddlewareError` naming it and its stage; its target is the agent's
name (model and compression stages) or the tool's.

The agent loop calls these on every step, so with nothing registered a
runner costs the registry lookup and nothing more: it does not checkpoint
(the loop's own awaits do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from actrio.actors._calls import _call, _registries, _wrong_type
from actrio.middleware._registry import HOOK_STAGES, resolve
from actrio.types import ModelRequest, ModelResponse

if TYPE_CHECKING:
    from actrio.actors._scope import Scope
    from actrio.middleware._registry import Registration

__all__ = (
    "after_compression",
    "after_model_call",
    "after_tool_call",
    "before_compression",
    "before_model_call",
    "before_tool_call",
    "has_hooks",
)

T = TypeVar("T")

_REQUEST = "ModelRequest | None"
_RESPONSE = "ModelResponse | None"
_ARGUMENTS = "dict[str, Any] | None"
_TEXT = "str | None"


def _keep(
    reg: Registration, target: str, result: object, current: T, *, kind: type[T], expected: str
) -> T:
    """``result`` if it is a ``kind``, ``current`` if it is ``None``; else a MiddlewareError."""
    if result is None:
        return current
    if isinstance(result, kind):
        return result
    error = _wrong_type(reg, target, expected, result)
    raise error from error.error


def has_hooks(here: Scope | None) -> bool:
    """Whether any hook stage has a registration that applies at ``here``."""
    for registry in _registries(here):
        for stage in HOOK_STAGES:
            if registry.entries(stage):
                return True
    return False


async def before_model_call(agent: str, request: ModelRequest, here: Scope | None) -> ModelRequest:
    """Run the before-model-call hooks; return the request to send."""
    for reg in resolve("before_model_call", _registries(here)):
        result = await _call(reg, agent, agent, request)
        request = _keep(reg, agent, result, request, kind=ModelRequest, expected=_REQUEST)
    return request


async def after_model_call(
    agent: str, request: ModelRequest, response: ModelResponse, here: Scope | None
) -> ModelResponse:
    """Run the after-model-call hooks; return the response the loop acts on."""
    for reg in resolve("after_model_call", _registries(here)):
        result = await _call(reg, agent, agent, request, response)
        response = _keep(reg, agent, result, response, kind=ModelResponse, expected=_RESPONSE)
    return response


async def before_tool_call(
    tool: str, arguments: dict[str, Any], here: Scope | None
) -> dict[str, Any]:
    """Run the before-tool-call hooks; return the arguments to validate and decide on."""
    for reg in resolve("before_tool_call", _registries(here)):
        result = await _call(reg, tool, tool, arguments)
        arguments = _keep(reg, tool, result, arguments, kind=dict, expected=_ARGUMENTS)
    return arguments


async def after_tool_call(
    tool: str,
    arguments: dict[str, Any],
    output: str,
    error: BaseException | None,
    here: Scope | None,
) -> str:
    """Run the after-tool-call hooks; return the text the model gets."""
    for reg in resolve("after_tool_call", _registries(here)):
        result = await _call(reg, tool, tool, arguments, output, error)
        output = _keep(reg, tool, result, output, kind=str, expected=_TEXT)
    return output


async def before_compression(
    agent: str, request: ModelRequest, tokens: int, available: int, here: Scope | None
) -> ModelRequest:
    """Run the before-compression hooks; return the request to compress."""
    for reg in resolve("before_compression", _registries(here)):
        result = await _call(reg, agent, agent, request, tokens, available)
        request = _keep(reg, agent, result, request, kind=ModelRequest, expected=_REQUEST)
    return request


async def after_compression(
    agent: str,
    before: ModelRequest,
    after: ModelRequest,
    stages: tuple[str, ...],
    here: Scope | None,
) -> ModelRequest:
    """Run the after-compression hooks; return the compressed request to use."""
    for reg in resolve("after_compression", _registries(here)):
        result = await _call(reg, agent, agent, before, after, stages)
        after = _keep(reg, agent, result, after, kind=ModelRequest, expected=_REQUEST)
    return after
