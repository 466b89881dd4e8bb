"""Model strings, a router from names to adapters, and fallback chains.

A model string names a provider family and a model::

    from_model_string("openai:gpt-4.1")                 # OpenAI Chat Completions
    from_model_string("openai-responses:o4-mini")       # the Responses API
    from_model_string("anthropic:claude-sonnet-4-5")
    from_model_string("gemini:gemini-2.5-flash")
    from_model_string("deepseek:deepseek-reasoner")     # compatible servers, by preset
    from_model_string("ollama:llama3.2")                # http://localhost:11434/v1, no key

Any other OpenAI-compatible server is ``OpenAIChat(model, base_url=...)``.
Keys come from the provider's usual environment variable unless
``api_key=`` is given (see :data:`PROVIDERS`).

A :class:`ModelRouter` maps names and glob patterns to adapters (or model
strings), shares one pooled ``httpx.AsyncClient`` among the adapters it
creates, and builds :class:`FallbackModel` chains that move to the next
model on chosen error types (by default the transient ones: rate limits,
overload, server errors, timeouts, connection failures). A stream falls
back only while it is being opened: once an event has been delivered, a
failure is the caller's (a :class:`~actrio.adapters.errors.StreamInterrupted`).
"""

from __future__ import annotations

import fnmatch
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import attrs
import httpx

from actrio.adapters.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
    StreamInterrupted,
)

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager
    from types import TracebackType
    from typing import Self

    from actrio.adapters._base import HTTPAdapter
    from actrio.types import ModelRequest, ModelResponse

__all__ = (
    "DEFAULT_FALLBACK_ON",
    "FallbackModel",
    "Model",
    "ModelRouter",
    "ModelStringError",
    "PROVIDERS",
    "ProviderPreset",
    "from_model_string",
)


@runtime_checkable
class Model(Protocol):
    """What every adapter offers (and what a user's own adapter must offer).

    Attributes:
        provider: The adapter family.
        model: The model name.
    """

    @property
    def provider(self) -> str:
        """The adapter family."""
        ...

    @property
    def model(self) -> str:
        """The model name."""
        ...

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """The whole answer to ``request``."""
        ...

    def stream(self, request: ModelRequest) -> AbstractAsyncContextManager[Any]:
        """``async with model.stream(request) as events: async for event in events``."""
        ...


class ModelStringError(ValueError):
    """A model string or router name could not be resolved."""


@attrs.frozen(kw_only=True)
class ProviderPreset:
    """How a model-string prefix becomes an adapter.

    Attributes:
        adapter: ``"module:Class"`` of the adapter, imported on first use.
        base_url: The base URL to pass, or ``None`` for the adapter's default.
        api_key_env: Environment variables holding the key, in order; empty
            for servers that take none.
    """

    adapter: str
    base_url: str | None = None
    api_key_env: tuple[str, ...] = ()


_CHAT: Final = "actrio.adapters.openai_chat:OpenAIChat"

PROVIDERS: Final[Mapping[str, ProviderPreset]] = {
    "openai": ProviderPreset(adapter=_CHAT, api_key_env=("OPENAI_API_KEY",)),
    "openai-chat": ProviderPreset(adapter=_CHAT, api_key_env=("OPENAI_API_KEY",)),
    "openai-responses": ProviderPreset(
        adapter="actrio.adapters.openai_responses:OpenAIResponses",
        api_key_env=("OPENAI_API_KEY",),
    ),
    "anthropic": ProviderPreset(
        adapter="actrio.adapters.anthropic:AnthropicMessages", api_key_env=("ANTHROPIC_API_KEY",)
    ),
    "gemini": ProviderPreset(
        adapter="actrio.adapters.gemini:Gemini", api_key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY")
    ),
    "google": ProviderPreset(
        adapter="actrio.adapters.gemini:Gemini", api_key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY")
    ),
    "deepseek": ProviderPreset(
        adapter=_CHAT, base_url="https://api.deepseek.com/v1", api_key_env=("DEEPSEEK_API_KEY",)
    ),
    "xai": ProviderPreset(
        adapter=_CHAT, base_url="https://api.x.ai/v1", api_key_env=("XAI_API_KEY",)
    ),
    "groq": ProviderPreset(
        adapter=_CHAT, base_url="https://api.groq.com/openai/v1", api_key_env=("GROQ_API_KEY",)
    ),
    "openrouter": ProviderPreset(
        adapter=_CHAT, base_url="https://openrouter.ai/api/v1", api_key_env=("OPENROUTER_API_KEY",)
    ),
    "ollama": ProviderPreset(adapter=_CHAT, base_url="http://localhost:11434/v1"),
}
"""Model-string prefixes and the adapters they make."""


def _adapter_class(path: str) -> Callable[..., HTTPAdapter]:
    module, _, name = path.partition(":")
    cls: Callable[..., HTTPAdapter] = getattr(importlib.import_module(module), name)
    return cls


def from_model_string(
    spec: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    http_client: httpx.AsyncClient | None = None,
    **options: Any,
) -> HTTPAdapter:
    """The adapter a model string names, such as ``"anthropic:claude-sonnet-4-5"``.

    Args:
        spec: ``"<provider>:<model>"``; the providers are the keys of
            :data:`PROVIDERS`. Everything after the first ``:`` is the model
            (OpenRouter names such as ``openrouter:openai/gpt-4o`` work).
        api_key: The key; else read from the preset's environment variables.
        base_url: Overrides the preset's base URL.
        http_client: A shared client for the adapter.
        **options: Passed to the adapter (``retry=``, ``headers=``, ...).

    Raises:
        ModelStringError: If ``spec`` has no provider or an unknown one.
    """
    if not isinstance(spec, str):
        raise ModelStringError(f"a model string must be a str, got {type(spec).__name__}")
    provider, sep, model = spec.partition(":")
    if not sep or not provider or not model:
        raise ModelStringError(
            f"model string {spec!r} must look like 'provider:model', e.g. 'openai:gpt-4.1' "
            f"(providers: {', '.join(sorted(PROVIDERS))})"
        )
    preset = PROVIDERS.get(provider.lower())
    if preset is None:
        raise ModelStringError(
            f"unknown provider {provider!r} in model string {spec!r}; known: "
            f"{', '.join(sorted(PROVIDERS))} (any OpenAI-compatible server: "
            "OpenAIChat(model, base_url=...))"
        )
    if api_key is None:
        api_key = next((os.environ[v] for v in preset.api_key_env if os.environ.get(v)), None)
    url = base_url or preset.base_url
    kwargs: dict[str, Any] = dict(options)
    if url is not None:
        kwargs["base_url"] = url
    return _adapter_class(preset.adapter)(model, api_key=api_key, http_client=http_client, **kwargs)


# ---------------------------------------------------------------- fallback

DEFAULT_FALLBACK_ON: Final[tuple[type[ProviderError], ...]] = (
    RateLimited,
    ServerError,
    ProviderTimeout,
    ProviderConnectionError,
)
"""Errors that move a fallback chain to its next model by default."""


class FallbackModel:
    """Models tried in order: the next one is used when one fails with an ``on`` error.

    Other errors (a bad request, a context overflow, a bug) propagate at
    once. When every model fails, the last error is raised.

    Attributes:
        models: The chain, in order.
        on: The error classes that move to the next model.
    """

    provider = "fallback"

    def __init__(
        self, models: Sequence[Model], *, on: tuple[type[ProviderError], ...] = DEFAULT_FALLBACK_ON
    ) -> None:
        if not models:
            raise ValueError("FallbackModel: at least one model is needed")
        for i, model in enumerate(models):
            if not isinstance(model, Model):
                raise TypeError(f"FallbackModel: models[{i}] is not a model adapter: {model!r}")
        self.models = tuple(models)
        self.on = tuple(on)
        self.model = self.models[0].model
        #: Errors of the last call that made it move on, in order.
        self.skipped: list[ProviderError] = []

    def __repr__(self) -> str:
        return f"FallbackModel({list(self.models)!r})"

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Ask each model in turn until one answers.

        Raises:
            ProviderError: The first error not in ``on``, or the last one.
        """
        skipped: list[ProviderError] = []
        for model in self.models[:-1]:
            try:
                return await model.complete(request)
            except self.on as exc:
                skipped.append(exc)
            finally:
                self.skipped = skipped
        return await self.models[-1].complete(request)

    def stream(self, request: ModelRequest) -> _FallbackStream:
        """Stream from the first model whose stream opens."""
        return _FallbackStream(self, request)


def _falls_back(exc: ProviderError, on: tuple[type[ProviderError], ...]) -> bool:
    """Whether a stream that failed to open moves on to the next model.

    A stream that fails while it is being opened has delivered nothing: an
    interruption there (output and an error in the first read) moves on
    when its cause would.
    """
    if isinstance(exc, on):
        return True
    return isinstance(exc, StreamInterrupted) and isinstance(exc.cause, on)


class _FallbackStream:
    def __init__(self, chain: FallbackModel, request: ModelRequest) -> None:
        self._chain = chain
        self._request = request
        self._inner: AbstractAsyncContextManager[Any] | None = None
        self._events: Any = None

    async def __aenter__(self) -> Any:
        chain = self._chain
        skipped: list[ProviderError] = []
        for i, model in enumerate(chain.models):
            inner = model.stream(self._request)
            try:
                self._events = await inner.__aenter__()
            except ProviderError as exc:
                if i == len(chain.models) - 1 or not _falls_back(exc, chain.on):
                    chain.skipped = skipped
                    raise
                skipped.append(exc)
                continue
            self._inner = inner
            chain.skipped = skipped
            return self._events
        raise AssertionError("unreachable: the last model either opens or raises")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        inner, self._inner = self._inner, None
        if inner is None:
            return None
        return await inner.__aexit__(exc_type, exc, tb)


# ---------------------------------------------------------------- router

Target = Model | str | Callable[[str], Model]


class ModelRouter:
    """Names and patterns to adapters, with fallback chains and one shared HTTP client.

    ::

        async with ModelRouter(
            {"fast": "openai:gpt-4.1-mini", "claude-*": "anthropic:{name}"},
            fallbacks={"main": ["openai:gpt-4.1", "anthropic:claude-sonnet-4-5"]},
        ) as router:
            response = await router.resolve("main").complete(request)

    A name resolves, in order, to: a fallback chain of that name; an exact
    route; the first matching glob pattern (``{name}`` in a model-string
    target is replaced by the name; a callable target is called with it);
    else the name itself as a model string. Adapters made from strings are
    created once and share the router's client.

    Args:
        routes: Name or glob pattern to an adapter, a model string or a factory.
        fallbacks: Chain name to the names (resolved as above) to try in order.
        fallback_on: Errors that move a chain to its next model.
        http_client: The client shared by adapters made from strings; when
            ``None`` the router creates one and closes it in :meth:`aclose`.
    """

    def __init__(
        self,
        routes: Mapping[str, Target] | None = None,
        *,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        fallback_on: tuple[type[ProviderError], ...] = DEFAULT_FALLBACK_ON,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._routes: dict[str, Target] = {}
        self._fallbacks: dict[str, tuple[str, ...]] = {}
        self.fallback_on = fallback_on
        self._client = http_client
        self._owns_client = http_client is None
        self._made: dict[str, Model] = {}
        for pattern, target in (routes or {}).items():
            self.add(pattern, target)
        for name, chain in (fallbacks or {}).items():
            self.add_fallback(name, chain)

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The shared client (created on first use if none was given)."""
        if self._client is None:
            from actrio.adapters._base import DEFAULT_TIMEOUT  # noqa: PLC0415 - avoids a cycle

            self._client = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
        return self._client

    def add(self, pattern: str, target: Target) -> None:
        """Route ``pattern`` (a name or a glob such as ``"gpt-*"``) to ``target``."""
        if not isinstance(pattern, str) or not pattern:
            raise ModelStringError("a route pattern must be a non-empty str")
        if not (isinstance(target, str | Model) or callable(target)):
            raise TypeError(
                f"route {pattern!r}: expected an adapter, a model string or a factory, "
                f"got {type(target).__name__}"
            )
        self._routes[pattern] = target

    def add_fallback(self, name: str, chain: Sequence[str]) -> None:
        """Make ``name`` a fallback chain over ``chain`` (names or model strings)."""
        if isinstance(chain, str) or not chain:
            raise ModelStringError(f"fallback {name!r}: expected a non-empty list of names")
        self._fallbacks[name] = tuple(chain)

    def resolve(self, name: str) -> Model:
        """The model ``name`` routes to.

        Raises:
            ModelStringError: If nothing matches and ``name`` is not a model
                string, or a fallback chain refers to itself.
        """
        return self._resolve(name, ())

    def _resolve(self, name: str, seen: tuple[str, ...]) -> Model:
        if name in seen:
            raise ModelStringError(f"fallback chain loops: {' -> '.join((*seen, name))}")
        chain = self._fallbacks.get(name)
        if chain is not None:
            return FallbackModel(
                [self._resolve(n, (*seen, name)) for n in chain], on=self.fallback_on
            )
        target = self._routes.get(name)
        if target is None:
            target = next(
                (t for p, t in self._routes.items() if fnmatch.fnmatchcase(name, p)), None
            )
        if target is None:
            if ":" not in name:
                known = sorted({*self._routes, *self._fallbacks})
                raise ModelStringError(
                    f"no route for {name!r} (routes: {known}); use a model string such as "
                    "'openai:gpt-4.1'"
                )
            target = name
        if isinstance(target, str):
            return self._make(target.replace("{name}", name))
        if isinstance(target, Model):
            return target
        return target(name)

    def _make(self, spec: str) -> Model:
        model = self._made.get(spec)
        if model is None:
            made: Model = from_model_string(spec, http_client=self.http_client)
            model = self._made[spec] = made
        return model

    async def aclose(self) -> None:
        """Close the shared client if the router created it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
