"""The values codecs trade in, and the protocols the codecs implement."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import attrs

from actrio._wire import converter
from actrio.codecs._base import CodecError, _kind

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = (
    "AnnotatedLLMRequest",
    "AnnotatedLLMResponse",
    "LLMCodec",
    "LLMRequest",
    "StreamAccumulator",
)


_SECRET_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
    }
)
_SECRET_WORDS: Final = ("token", "secret", "key")


def _is_secret_header(name: str) -> bool:
    low = name.lower()
    return low in _SECRET_HEADERS or any(word in low for word in _SECRET_WORDS)


def _check_headers(_: object, __: object, value: object) -> None:
    if not isinstance(value, Mapping):
        raise CodecError("headers", f"expected a mapping of str to str, got {_kind(value)}")
    for name, item in value.items():
        if not isinstance(name, str):
            raise CodecError("headers", f"expected string header names, got {_kind(name)}")
        if not isinstance(item, str):
            # The value itself is never shown: it may be a credential.
            raise CodecError(f"headers[{name!r}]", f"expected a string, got {_kind(item)}")


def _check_content(_: object, __: object, value: object) -> None:
    if not isinstance(value, Mapping):
        raise CodecError("content", f"expected a JSON object, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise CodecError("content", f"expected string keys, got {_kind(key)}")


@attrs.frozen(kw_only=False, repr=False)
class LLMRequest:
    """An LLM request as it goes over the wire: HTTP headers and the JSON body.

    Both mappings are copied into read-only views on construction, so the
    value cannot change under the code that holds it; nested JSON values are
    shared, and must not be mutated either. Credential-bearing headers
    (``authorization``, ``x-api-key``, anything with ``token``, ``secret``
    or ``key`` in its name, ...) never appear in ``repr()`` or ``str()``.

    Attributes:
        headers: The request headers, name to value.
        content: The provider JSON body.

    Raises:
        CodecError: If ``headers`` is not a mapping of str to str, or
            ``content`` is not a mapping with str keys.
    """

    headers: Mapping[str, str] = attrs.field(validator=_check_headers)
    content: Mapping[str, Any] = attrs.field(validator=_check_content)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))
        object.__setattr__(self, "content", MappingProxyType(dict(self.content)))

    def __repr__(self) -> str:
        shown = {
            name: "REDACTED" if _is_secret_header(name) else value
            for name, value in self.headers.items()
        }
        return f"LLMRequest(headers={shown!r}, content={dict(self.content)!r})"

    def with_headers(self, headers: Mapping[str, str] | None = None, /, **more: str) -> LLMRequest:
        """Return a copy with headers added or replaced.

        Header names match case-insensitively: ``{"Authorization": ...}``
        replaces an existing ``authorization`` header.

        Args:
            headers: Headers to set, name to value.
            **more: More headers to set, for names that are identifiers.

        Returns:
            A new request; this one is unchanged.
        """
        merged = dict(self.headers)
        for name, value in {**(headers or {}), **more}.items():
            for old in [key for key in merged if key.lower() == name.lower()]:
                del merged[old]
            merged[name] = value
        return attrs.evolve(self, headers=merged)

    def with_content(self, content: Mapping[str, Any], /) -> LLMRequest:
        """Return a copy with the body replaced by ``content``.

        Args:
            content: The new JSON body.

        Returns:
            A new request; this one is unchanged.
        """
        return attrs.evolve(self, content=content)


_ToolChoice = str | dict[str, Any] | None


def _structure_tool_choice(value: object, _: object) -> _ToolChoice:
    if value is None or isinstance(value, str | dict):
        return value
    raise ValueError(f"expected a string, an object or null, got {_kind(value)}")


# cattrs cannot tell a str from a dict inside a union by itself.
converter.register_structure_hook(_ToolChoice, _structure_tool_choice)


def _first_text(messages: Iterable[dict[str, Any]], role: str) -> str | None:
    for message in messages:
        if message.get("role") == role:
            content = message.get("content")
            return content if isinstance(content, str) else None
    return None


@attrs.frozen(kw_only=True)
class AnnotatedLLMRequest:
    """The normalized reading of a request body, the same for every API.

    Attributes:
        messages: The conversation, in the normalized message shape (see the
            :mod:`actrio.codecs` docstring). System prompts come first as
            ``system`` messages; tool results are ``tool`` messages.
        model: The model name, if the body names one.
        params: Sampling and limit parameters (temperature, top_p,
            max_tokens, stop, seed, stream, ...) under the API's own names.
        tools: Declared tools as ``{"name", "description", "parameters"}``.
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or ``{"name": ...}``.
        extra: Every top-level key the codec does not understand, and
            provider built-in tools (``other_tools``).
        api: The codec that read the body.
    """

    messages: tuple[dict[str, Any], ...]
    model: str | None = None
    params: dict[str, Any] | None = None
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: str | dict[str, Any] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)
    api: str

    def system_prompt(self) -> str | None:
        """Return the text of the first system message, if any."""
        return _first_text(self.messages, "system")

    def last_user_message(self) -> str | None:
        """Return the text of the last user message, if any."""
        return _first_text(reversed(self.messages), "user")

    def has_tool_calls(self) -> bool:
        """Return whether the request declares any tools."""
        return bool(self.tools)


@attrs.frozen(kw_only=True)
class AnnotatedLLMResponse:
    """The normalized reading of a response body or a whole stream.

    Attributes:
        id: The provider's response id.
        model: The model that answered.
        message: The assistant message in the normalized shape, or ``None``
            when the response holds no output at all.
        tool_calls: The message's tool calls, if it made any.
        finish_reason: ``"stop"``, ``"length"``, ``"tool_calls"``,
            ``"content_filter"``, ``"refusal"`` or ``None`` (unknown, or not
            finished).
        usage: ``input_tokens`` (cached ones included), ``output_tokens``,
            ``total_tokens``, and ``cached_input_tokens`` and
            ``reasoning_tokens`` when reported.
        api_specific: The raw finish/stop reason, status, fingerprint and
            other fields that only one API has; ``error`` for an in-band error.
        extra: Top-level keys the codec does not understand; ``choices`` for
            ``n > 1`` Chat responses.
        api: The codec that read the body.
    """

    id: str | None = None
    model: str | None = None
    message: dict[str, Any] | None = None
    tool_calls: tuple[dict[str, Any], ...] | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    api_specific: dict[str, Any] | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)
    api: str

    def response_text(self) -> str | None:
        """Return the assistant's text, if it wrote any."""
        return None if self.message is None else self.message.get("content")

    def has_tool_calls(self) -> bool:
        """Return whether the assistant called any tools."""
        return bool(self.tool_calls)


# ---------------------------------------------------------------- protocols


@runtime_checkable
class StreamAccumulator(Protocol):
    """Folds one stream's decoded SSE payloads into one response.

    ``result()`` may be called at any time, also mid-stream: it builds a
    fresh snapshot and leaves the accumulator as it was.
    """

    def feed(self, chunk: Mapping[str, Any]) -> None:
        """Take one decoded SSE ``data:`` payload.

        Args:
            chunk: The JSON payload of one event.

        Raises:
            CodecError: If the payload is not of the API's shape.
        """

    def result(self) -> AnnotatedLLMResponse:
        """Return the response the stream amounts to so far."""
        ...


@runtime_checkable
class LLMCodec(Protocol):
    """Reads one provider API's request and response bodies."""

    @property
    def name(self) -> str:
        """The API's name: ``openai-chat``, ``openai-responses`` or ``anthropic-messages``."""
        ...

    def decode_request(self, content: Mapping[str, Any]) -> AnnotatedLLMRequest:
        """Read a request body.

        Args:
            content: The JSON body.

        Raises:
            CodecError: If the body is not of the API's shape.
        """
        ...

    def decode_response(self, body: Mapping[str, Any]) -> AnnotatedLLMResponse:
        """Read a non-streaming response body.

        Args:
            body: The JSON body.

        Raises:
            CodecError: If the body is not of the API's shape, or is an
                error body.
        """
        ...

    def accumulator(self) -> StreamAccumulator:
        """Return a fresh accumulator for one streaming response."""
        ...
