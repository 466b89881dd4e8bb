"""Finding a codec: by name, or by the shape of a body."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from actrio.codecs._anthropic import _ANTHROPIC_MESSAGES, AnthropicMessagesCodec
from actrio.codecs._base import CodecError
from actrio.codecs._openai_chat import _OPENAI_CHAT, OpenAIChatCodec
from actrio.codecs._openai_responses import _OPENAI_RESPONSES, OpenAIResponsesCodec

if TYPE_CHECKING:
    from collections.abc import Iterable

    from actrio.codecs._values import LLMCodec

__all__ = ("codec_for", "detect_request_codec", "detect_response_codec")


_CODECS: Final[Mapping[str, LLMCodec]] = MappingProxyType(
    {
        _OPENAI_CHAT: OpenAIChatCodec(),
        _OPENAI_RESPONSES: OpenAIResponsesCodec(),
        _ANTHROPIC_MESSAGES: AnthropicMessagesCodec(),
    }
)


def codec_for(name: str) -> LLMCodec:
    """Return the codec for an API name.

    Args:
        name: ``openai-chat``, ``openai-responses`` or ``anthropic-messages``.

    Raises:
        CodecError: If no codec has that name.
    """
    codec = _CODECS.get(name) if isinstance(name, str) else None
    if codec is None:
        raise CodecError("name", f"unknown codec {name!r}; known: {', '.join(sorted(_CODECS))}")
    return codec


_ANTHROPIC_KEYS: Final = frozenset(
    {"system", "anthropic_version", "stop_sequences", "output_config"}
)
_ANTHROPIC_BLOCKS: Final = frozenset(
    {"tool_use", "tool_result", "thinking", "redacted_thinking", "document"}
)


def _block_types(messages: object) -> Iterable[str]:
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, Mapping) else None
        for block in content if isinstance(content, list) else ():
            kind = block.get("type") if isinstance(block, Mapping) else None
            if isinstance(kind, str):
                yield kind


def _looks_anthropic(body: Mapping[str, Any]) -> bool:
    if not _ANTHROPIC_KEYS.isdisjoint(body):
        return True
    tools = body.get("tools")
    if isinstance(tools, list) and any(
        isinstance(t, Mapping) and "input_schema" in t for t in tools
    ):
        return True
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") in ("auto", "any", "tool", "none"):
        return True
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and "budget_tokens" in thinking:
        return True
    return any(kind in _ANTHROPIC_BLOCKS for kind in _block_types(body.get("messages")))


def detect_request_codec(content: object) -> LLMCodec | None:
    """Guess a request body's API from its shape.

    An ``input`` key means Responses. ``messages`` with a top-level
    ``system``, ``anthropic_version``, ``stop_sequences`` or
    ``output_config``, tools with an ``input_schema``, an Anthropic-style
    ``tool_choice`` object, ``thinking`` with a ``budget_tokens``, or
    ``tool_use``/``tool_result``/``thinking`` blocks mean Anthropic; other
    ``messages`` bodies are read as Chat.
    A plain Anthropic body with none of these marks reads as Chat: the
    two shapes are the same there.

    Args:
        content: A request body.

    Returns:
        The codec, or ``None`` when the body has neither ``input`` nor
        ``messages``.
    """
    if not isinstance(content, Mapping):
        return None
    if "input" in content:
        return _CODECS[_OPENAI_RESPONSES]
    if "messages" not in content:
        return None
    return _CODECS[_ANTHROPIC_MESSAGES if _looks_anthropic(content) else _OPENAI_CHAT]


_ANTHROPIC_TYPES: Final = frozenset(
    {
        "message",
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
    }
)


def detect_response_codec(body: object) -> LLMCodec | None:
    """Guess a response body's (or a stream payload's) API from its shape.

    ``object == "chat.completion"`` (or ``"chat.completion.chunk"``) means
    Chat, ``object == "response"`` (or a ``response.*`` event) Responses,
    ``type == "message"`` (or an Anthropic stream event) Anthropic.

    Args:
        body: A response body or one decoded stream payload.

    Returns:
        The codec, or ``None`` when the shape says nothing (error bodies
        included).
    """
    if not isinstance(body, Mapping):
        return None
    obj, kind = body.get("object"), body.get("type")
    if obj in ("chat.completion", "chat.completion.chunk"):
        return _CODECS[_OPENAI_CHAT]
    if obj == "response" or (isinstance(kind, str) and kind.startswith("response.")):
        return _CODECS[_OPENAI_RESPONSES]
    if isinstance(kind, str) and kind in _ANTHROPIC_TYPES:
        return _CODECS[_ANTHROPIC_MESSAGES]
    return None
