"""Provider adapters, reached directly over httpx (no vendor SDK, no LiteLLM).

Every adapter offers ``await adapter.complete(request)`` and
``async with adapter.stream(request) as events: async for event in events``
over the neutral vocabulary of :mod:`actrio.types` and :mod:`actrio.messages`.

- :class:`OpenAIChat`: OpenAI Chat Completions and compatible servers
  (DeepSeek, xAI, Groq, OpenRouter, Ollama, vLLM, llama.cpp, Gemini's
  OpenAI endpoint), by dialect.
- :class:`OpenAIResponses`: the OpenAI Responses API.
- :class:`AnthropicMessages`: the Anthropic Messages API.
- :class:`Gemini`: Google Gemini ``generateContent``.

Errors are one tree (:mod:`actrio.adapters.errors`), retries one explicit
policy (:class:`RetryPolicy`), model strings and fallback chains live in
:mod:`actrio.adapters.router`, prices in :mod:`actrio.adapters.cost`. See
``docs/providers.md``.
"""

from actrio.adapters._base import HTTPAdapter as HTTPAdapter
from actrio.adapters._base import ModelStream as ModelStream
from actrio.adapters.anthropic import AnthropicMessages as AnthropicMessages
from actrio.adapters.cost import Price as Price
from actrio.adapters.cost import PriceNotFound as PriceNotFound
from actrio.adapters.cost import PriceTable as PriceTable
from actrio.adapters.cost import cost as cost
from actrio.adapters.errors import AuthenticationError as AuthenticationError
from actrio.adapters.errors import BadRequest as BadRequest
from actrio.adapters.errors import ContextLengthExceeded as ContextLengthExceeded
from actrio.adapters.errors import NotFound as NotFound
from actrio.adapters.errors import Overloaded as Overloaded
from actrio.adapters.errors import PermissionDenied as PermissionDenied
from actrio.adapters.errors import ProviderConnectionError as ProviderConnectionError
from actrio.adapters.errors import ProviderError as ProviderError
from actrio.adapters.errors import ProviderProtocolError as ProviderProtocolError
from actrio.adapters.errors import ProviderTimeout as ProviderTimeout
from actrio.adapters.errors import QuotaExceeded as QuotaExceeded
from actrio.adapters.errors import RateLimited as RateLimited
from actrio.adapters.errors import ServerError as ServerError
from actrio.adapters.errors import StreamInterrupted as StreamInterrupted
from actrio.adapters.gemini import Gemini as Gemini
from actrio.adapters.openai_chat import ChatDialect as ChatDialect
from actrio.adapters.openai_chat import OpenAIChat as OpenAIChat
from actrio.adapters.openai_responses import OpenAIResponses as OpenAIResponses
from actrio.adapters.retry import RetryPolicy as RetryPolicy
from actrio.adapters.router import FallbackModel as FallbackModel
from actrio.adapters.router import Model as Model
from actrio.adapters.router import ModelRouter as ModelRouter
from actrio.adapters.router import ModelStringError as ModelStringError
from actrio.adapters.router import from_model_string as from_model_string

__all__ = (
    "AnthropicMessages",
    "AuthenticationError",
    "BadRequest",
    "ChatDialect",
    "ContextLengthExceeded",
    "FallbackModel",
    "Gemini",
    "HTTPAdapter",
    "Model",
    "ModelRouter",
    "ModelStream",
    "ModelStringError",
    "NotFound",
    "OpenAIChat",
    "OpenAIResponses",
    "Overloaded",
    "PermissionDenied",
    "Price",
    "PriceNotFound",
    "PriceTable",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderProtocolError",
    "ProviderTimeout",
    "QuotaExceeded",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "StreamInterrupted",
    "cost",
    "from_model_string",
)
