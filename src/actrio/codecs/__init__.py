"""Codecs: read LLM provider bodies into one normalized, annotated shape.

Middleware that looks at LLM traffic (a budget guard, a redactor, a tracer)
should not need to know three wire formats. A codec reads one provider API's
JSON and returns the same view whichever API it came from::

    LLMRequest                  what goes over the wire: headers + JSON body
    AnnotatedLLMRequest         the normalized reading of a request body
    AnnotatedLLMResponse        the normalized reading of a response body or stream
    LLMCodec                    the protocol the three codecs share
    ├── OpenAIChatCodec         "openai-chat"         /v1/chat/completions (+ compatible servers)
    ├── OpenAIResponsesCodec    "openai-responses"    /v1/responses
    └── AnthropicMessagesCodec  "anthropic-messages"  /v1/messages
    StreamAccumulator           folds decoded SSE payloads into one AnnotatedLLMResponse
    CodecError                  a body not of its API's shape (a UsageError and a ValueError)

Every API's messages come out as::

    {"role": "system" | "user" | "assistant" | "tool",
     "content": str | None,                      # text parts joined by newlines
     "parts": [{"type": "image", ...}, ...],     # optional: non-text parts, summarised
     "tool_calls": [{"id": str | None, "name": str, "arguments": str}],  # optional
     "tool_call_id": str,                        # optional: on tool results
     "reasoning": str}                           # optional: thinking / reasoning text

Tool arguments stay raw JSON text (Anthropic's ``input`` objects are
serialized compactly); missing, null or empty arguments read as ``"{}"``.

The reading is a view, and lossy by design: it never changes the body it
reads, copies what it keeps, and puts top-level keys it does not understand
into ``extra``. Error bodies (``{"error": ...}``) are not responses: decoding
one raises :class:`CodecError`. In-band stream errors are kept in the
accumulated response's ``api_specific["error"]``.
"""

from typing import TYPE_CHECKING

from actrio.codecs._base import CodecError as CodecError
from actrio.codecs._values import AnnotatedLLMRequest as AnnotatedLLMRequest
from actrio.codecs._values import AnnotatedLLMResponse as AnnotatedLLMResponse
from actrio.codecs._values import LLMCodec as LLMCodec
from actrio.codecs._values import LLMRequest as LLMRequest
from actrio.codecs._values import StreamAccumulator as StreamAccumulator

__all__ = (
    "AnnotatedLLMRequest",
    "AnnotatedLLMResponse",
    "AnthropicMessagesCodec",
    "CodecError",
    "LLMCodec",
    "LLMRequest",
    "OpenAIChatCodec",
    "OpenAIResponsesCodec",
    "StreamAccumulator",
    "codec_for",
    "detect_request_codec",
    "detect_response_codec",
)

if TYPE_CHECKING:  # loaded on first use, below
    from actrio.codecs._anthropic import AnthropicMessagesCodec as AnthropicMessagesCodec
    from actrio.codecs._openai_chat import OpenAIChatCodec as OpenAIChatCodec
    from actrio.codecs._openai_responses import OpenAIResponsesCodec as OpenAIResponsesCodec
    from actrio.codecs._registry import codec_for as codec_for
    from actrio.codecs._registry import detect_request_codec as detect_request_codec
    from actrio.codecs._registry import detect_response_codec as detect_response_codec

#: The codecs themselves load on first use: ``import actrio`` only needs the
#: values (``LLMRequest``, the annotations), not three wire formats' readers.
_LAZY = {
    "AnthropicMessagesCodec": "actrio.codecs._anthropic",
    "OpenAIChatCodec": "actrio.codecs._openai_chat",
    "OpenAIResponsesCodec": "actrio.codecs._openai_responses",
    "codec_for": "actrio.codecs._registry",
    "detect_request_codec": "actrio.codecs._registry",
    "detect_response_codec": "actrio.codecs._registry",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'actrio.codecs' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(module), name)
