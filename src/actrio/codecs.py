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

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, runtime_checkable

import attrs

from actrio._wire import converter
from actrio.kernel import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

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

_OPENAI_CHAT: Final = "openai-chat"
_OPENAI_RESPONSES: Final = "openai-responses"
_ANTHROPIC_MESSAGES: Final = "anthropic-messages"


class CodecError(UsageError, ValueError):
    """A body is not of the shape its API defines.

    The message names the JSON path of the offending value, like
    ``messages[2].content: expected a string or a list of parts, got int``.

    Attributes:
        path: The JSON path of the offending value (``""`` for the body itself).
        problem: What is wrong with it.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or 'body'}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem))


# ---------------------------------------------------------------- JSON access


def _kind(value: object) -> str:
    """The JSON-ish name of a value's type, for error messages."""
    if value is None:
        return "null"
    for cls, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(value, cls):
            return name
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _obj(value: object, path: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise CodecError(path, f"expected an object, got {_kind(value)}")


def _list(value: object, path: str) -> Sequence[Any]:
    if isinstance(value, list | tuple):
        return value
    raise CodecError(path, f"expected a list, got {_kind(value)}")


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise CodecError(_at(path, key), f"expected a string, got {_kind(value)}")


def _req_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = _opt_str(obj, key, path)
    if value is None:
        raise CodecError(_at(path, key), "expected a string, got null")
    return value


def _opt_obj(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    return None if value is None else _obj(value, _at(path, key))


def _opt_list(obj: Mapping[str, Any], key: str, path: str) -> Sequence[Any] | None:
    value = obj.get(key)
    return None if value is None else _list(value, _at(path, key))


def _opt_int(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = obj.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise CodecError(_at(path, key), f"expected an integer, got {_kind(value)}")


def _strs(obj: Mapping[str, Any], path: str, *keys: str) -> dict[str, str]:
    """The string values of ``keys`` that ``obj`` has."""
    found = {key: _opt_str(obj, key, path) for key in keys}
    return {key: value for key, value in found.items() if value is not None}


def _text_of(obj: Mapping[str, Any], key: str) -> str:
    """``obj[key]`` if it is a string, else ``""``: streamed text starts from there."""
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON data, tuples turned into lists."""
    if isinstance(value, Mapping):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(item) for item in value]
    return value


def _arguments(value: object, path: str) -> str:
    """Tool-call arguments as JSON text; absent or empty reads as ``"{}"``."""
    if value is None or value == "":
        return "{}"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        try:
            return json.dumps(_copy_json(value), separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise CodecError(path, f"not serializable as JSON: {exc}") from exc
    raise CodecError(path, f"expected a JSON string or object, got {_kind(value)}")


# ---------------------------------------------------------------- values


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
            module docstring). System prompts come first as ``system``
            messages; tool results are ``tool`` messages.
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


# ---------------------------------------------------------------- shared reading


@attrs.define
class _Turn:
    """A message being assembled from parts, blocks or items."""

    role: str
    texts: list[str] = attrs.Factory(list)
    parts: list[dict[str, Any]] = attrs.Factory(list)
    tool_calls: list[dict[str, Any]] = attrs.Factory(list)
    reasoning: list[str] = attrs.Factory(list)
    tool_call_id: str | None = None

    def empty(self) -> bool:
        return not (self.texts or self.parts or self.tool_calls or self.reasoning)

    def absorb(self, other: _Turn) -> None:
        self.texts += other.texts
        self.parts += other.parts
        self.tool_calls += other.tool_calls
        self.reasoning += other.reasoning

    def build(self) -> dict[str, Any]:
        content = "\n".join(self.texts) if self.texts else None
        message: dict[str, Any] = {"role": self.role, "content": content}
        if self.parts:
            message["parts"] = _copy_json(self.parts)
        if self.tool_calls:
            message["tool_calls"] = _copy_json(self.tool_calls)
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        reasoning = "\n".join(text for text in self.reasoning if text)
        if reasoning:
            message["reasoning"] = reasoning
        return message


def _tool_call(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    # An empty id (Gemini's OpenAI-compatible endpoint sends "") is no id.
    return {"id": call_id or None, "name": name, "arguments": arguments or "{}"}


def _media_part(kind: str, url: str | None) -> dict[str, Any]:
    """Summarise a URL-addressed medium; inline ``data:`` URLs by size only."""
    part: dict[str, Any] = {"type": kind}
    if url is None:
        return part
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        part["media_type"] = header[5:].split(";")[0]
        part["data_length"] = len(data)
    else:
        part["url"] = url
    return part


def _image_url_part(part: Mapping[str, Any], path: str) -> dict[str, Any]:
    raw = part.get("image_url")
    inner = _at(path, "image_url")
    url = raw if isinstance(raw, str) else _opt_str(_obj(raw, inner), "url", inner)
    return _media_part("image", url)


def _input_image_part(part: Mapping[str, Any], path: str) -> dict[str, Any]:
    return {
        **_media_part("image", _opt_str(part, "image_url", path)),
        **_strs(part, path, "file_id"),
    }


def _source_part(kind: str) -> Callable[[Mapping[str, Any], str], dict[str, Any]]:
    """Summarise an Anthropic block with a ``source`` (image, document)."""

    def summarise(block: Mapping[str, Any], path: str) -> dict[str, Any]:
        source = _opt_obj(block, "source", path) or {}
        inner = _at(path, "source")
        part: dict[str, Any] = {
            "type": kind,
            **_strs(source, inner, "media_type", "url", "file_id"),
        }
        data = source.get("data")
        if isinstance(data, str):
            part["data_length"] = len(data)
        return part

    return summarise


def _nested_part(
    kind: str, key: str, *fields: str
) -> Callable[[Mapping[str, Any], str], dict[str, Any]]:
    """Summarise a part whose details sit under ``key`` (Chat audio, files)."""

    def summarise(part: Mapping[str, Any], path: str) -> dict[str, Any]:
        inner = _opt_obj(part, key, path) or {}
        return {"type": kind, **_strs(inner, _at(path, key), *fields)}

    return summarise


def _flat_part(kind: str, *fields: str) -> Callable[[Mapping[str, Any], str], dict[str, Any]]:
    def summarise(part: Mapping[str, Any], path: str) -> dict[str, Any]:
        return {"type": kind, **_strs(part, path, *fields)}

    return summarise


# Content parts of every API: the text-bearing ones and how to summarise the rest.
_TEXT_FIELDS: Final = MappingProxyType(
    {"text": "text", "input_text": "text", "output_text": "text", "refusal": "refusal"}
)
_PART_SUMMARIES: Final = MappingProxyType(
    {
        "image_url": _image_url_part,
        "input_image": _input_image_part,
        "image": _source_part("image"),
        "document": _source_part("file"),
        "input_audio": _nested_part("audio", "input_audio", "format"),
        "file": _nested_part("file", "file", "file_id", "filename"),
        "input_file": _flat_part("file", "file_id", "filename", "file_url"),
    }
)


def _part(value: object, path: str, turn: _Turn) -> None:
    part = _obj(value, path)
    kind = _req_str(part, "type", path)
    field = _TEXT_FIELDS.get(kind)
    if field is not None:
        turn.texts.append(_req_str(part, field, path))
        return
    summarise = _PART_SUMMARIES.get(kind)
    turn.parts.append(summarise(part, path) if summarise else {"type": kind})


def _content(value: object, path: str, turn: _Turn) -> None:
    """Read a content value: null, a string, or a list of parts."""
    if value is None:
        return
    if isinstance(value, str):
        turn.texts.append(value)
        return
    if not isinstance(value, list | tuple):
        raise CodecError(path, f"expected a string or a list of parts, got {_kind(value)}")
    for index, part in enumerate(value):
        _part(part, _item(path, index), turn)


def _role(message: Mapping[str, Any], path: str, roles: Mapping[str, str]) -> str:
    raw = _req_str(message, "role", path)
    role = roles.get(raw)
    if role is None:
        raise CodecError(_at(path, "role"), f"expected one of {', '.join(roles)}, got {raw!r}")
    return role


def _tool_decl(spec: Mapping[str, Any], path: str, schema_key: str) -> dict[str, Any]:
    return {
        "name": _req_str(spec, "name", path),
        "description": _opt_str(spec, "description", path),
        "parameters": _copy_json(_opt_obj(spec, schema_key, path)),
    }


def _read_tools(
    raw: Sequence[Any] | None,
    path: str,
    declare: Callable[[Mapping[str, Any], str], dict[str, Any] | None],
    others: list[Any],
) -> list[dict[str, Any]]:
    """Declared tools; those ``declare`` does not take go to ``others``."""
    tools = []
    for index, value in enumerate(raw or ()):
        tool_path = _item(path, index)
        tool = _obj(value, tool_path)
        declared = declare(tool, tool_path)
        if declared is None:
            others.append(_copy_json(tool))
        else:
            tools.append(declared)
    return tools


_CHOICE_WORDS: Final = frozenset({"auto", "none", "required"})


def _openai_choice(value: object) -> _ToolChoice:
    """Normalize a Chat or Responses ``tool_choice`` (or legacy ``function_call``)."""
    if isinstance(value, str):
        return value if value in _CHOICE_WORDS else None
    if not isinstance(value, Mapping):
        return None
    function = value.get("function")
    if isinstance(function, Mapping) and isinstance(function.get("name"), str):
        return {"name": function["name"]}
    if value.get("type") in (None, "function", "custom") and isinstance(value.get("name"), str):
        return {"name": value["name"]}
    return None


_ANTHROPIC_CHOICES: Final = MappingProxyType({"auto": "auto", "any": "required", "none": "none"})


def _anthropic_choice(value: object) -> _ToolChoice:
    if not isinstance(value, Mapping):
        return None
    kind = value.get("type")
    if kind == "tool" and isinstance(value.get("name"), str):
        return {"name": value["name"]}
    return _ANTHROPIC_CHOICES.get(kind) if isinstance(kind, str) else None


def _request(
    body: Mapping[str, Any],
    *,
    api: str,
    turns: Iterable[_Turn],
    tools: list[dict[str, Any]] | None,
    choice_keys: tuple[str, ...],
    normalize_choice: Callable[[object], _ToolChoice],
    params: frozenset[str],
    consumed: frozenset[str],
    extra: dict[str, Any],
) -> AnnotatedLLMRequest:
    """Assemble an annotated request; ``extra`` already holds what was set aside."""
    choice: _ToolChoice = None
    for key in choice_keys:
        raw = body.get(key)
        if raw is not None:
            choice = normalize_choice(raw)
            if choice is None:
                extra[key] = _copy_json(raw)
            break
    taken = consumed | params | set(choice_keys)
    extra.update({key: _copy_json(value) for key, value in body.items() if key not in taken})
    chosen = {key: _copy_json(value) for key, value in body.items() if key in params}
    return AnnotatedLLMRequest(
        messages=tuple(turn.build() for turn in turns),
        model=_opt_str(body, "model", ""),
        params=chosen or None,
        tools=None if tools is None else tuple(tools),
        tool_choice=choice,
        extra=extra,
        api=api,
    )


def _describe_error(error: object) -> str:
    if not isinstance(error, Mapping):
        return repr(error)
    kind = error.get("type") or error.get("code")
    message = error.get("message")
    return f"{kind}: {message}" if kind is not None else str(message)


def _reject_error_body(body: Mapping[str, Any], expected: str) -> None:
    """Raise for a provider error envelope, which is not a response."""
    error = body.get("error")
    if body.get("type") == "error" or (expected not in body and error is not None):
        raise CodecError(
            "error", f"the body is a provider error, not a response ({_describe_error(error)})"
        )


def _response(
    body: Mapping[str, Any],
    *,
    api: str,
    message: dict[str, Any] | None,
    finish_reason: str | None,
    usage: dict[str, int] | None,
    api_specific: dict[str, Any],
    consumed: frozenset[str],
    extra: dict[str, Any] | None = None,
) -> AnnotatedLLMResponse:
    calls = None if message is None else message.get("tool_calls")
    left = {key: _copy_json(value) for key, value in body.items() if key not in consumed}
    return AnnotatedLLMResponse(
        id=_opt_str(body, "id", ""),
        model=_opt_str(body, "model", ""),
        message=message,
        tool_calls=tuple(_copy_json(calls)) if calls else None,
        finish_reason=finish_reason,
        usage=usage,
        api_specific=api_specific,
        extra={**left, **(extra or {})},
        api=api,
    )


def _with_error(response: AnnotatedLLMResponse, error: Any) -> AnnotatedLLMResponse:
    """Record an in-band stream error unless the body already carries one."""
    if error is None or (response.api_specific or {}).get("error") is not None:
        return response
    return attrs.evolve(response, api_specific={**(response.api_specific or {}), "error": error})


@attrs.frozen
class _UsageKeys:
    input: str
    output: str
    cached: tuple[str, str]
    reasoning: tuple[str, str]
    cached_fallback: str | None = None


_CHAT_USAGE: Final = _UsageKeys(
    "prompt_tokens",
    "completion_tokens",
    ("prompt_tokens_details", "cached_tokens"),
    ("completion_tokens_details", "reasoning_tokens"),
    cached_fallback="prompt_cache_hit_tokens",  # DeepSeek
)
_RESPONSES_USAGE: Final = _UsageKeys(
    "input_tokens",
    "output_tokens",
    ("input_tokens_details", "cached_tokens"),
    ("output_tokens_details", "reasoning_tokens"),
)


def _detail(usage: Mapping[str, Any], keys: tuple[str, str], path: str) -> int | None:
    details = _opt_obj(usage, keys[0], path)
    return None if details is None else _opt_int(details, keys[1], _at(path, keys[0]))


def _openai_usage(value: object, path: str, keys: _UsageKeys) -> dict[str, int] | None:
    if value is None:
        return None
    usage = _obj(value, path)
    tokens_in = _opt_int(usage, keys.input, path) or 0
    tokens_out = _opt_int(usage, keys.output, path) or 0
    total = _opt_int(usage, "total_tokens", path)
    result = {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        # Reported totals are kept as they are: xAI's include reasoning tokens
        # that its completion_tokens leave out.
        "total_tokens": tokens_in + tokens_out if total is None else total,
    }
    cached = _detail(usage, keys.cached, path)
    if cached is None and keys.cached_fallback is not None:
        cached = _opt_int(usage, keys.cached_fallback, path)
    reasoning = _detail(usage, keys.reasoning, path)
    if cached is not None:
        result["cached_input_tokens"] = cached
    if reasoning is not None:
        result["reasoning_tokens"] = reasoning
    return result


def _anthropic_usage(value: object, path: str) -> dict[str, int] | None:
    """Anthropic counts cache reads and writes apart from ``input_tokens``; add them in."""
    if value is None:
        return None
    usage = _obj(value, path)
    read = _opt_int(usage, "cache_read_input_tokens", path)
    written = _opt_int(usage, "cache_creation_input_tokens", path) or 0
    tokens_in = (_opt_int(usage, "input_tokens", path) or 0) + (read or 0) + written
    tokens_out = _opt_int(usage, "output_tokens", path) or 0
    result = {
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "total_tokens": tokens_in + tokens_out,
    }
    if read is not None:
        result["cached_input_tokens"] = read
    return result


# ---------------------------------------------------------------- OpenAI Chat


_CHAT_ROLES: Final = MappingProxyType(
    {
        "system": "system",
        "developer": "system",
        "user": "user",
        "assistant": "assistant",
        "tool": "tool",
        "function": "tool",
    }
)
_CHAT_PARAMS: Final = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "stream",
        "stream_options",
        "n",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
    }
)
_CHAT_FINISH: Final = MappingProxyType(
    {
        "stop": "stop",
        "length": "length",
        "tool_calls": "tool_calls",
        "content_filter": "content_filter",
        "function_call": "tool_calls",
    }
)


def _chat_tool_call(value: object, path: str) -> dict[str, Any]:
    call = _obj(value, path)
    call_id = _opt_str(call, "id", path)
    custom = _opt_obj(call, "custom", path)
    if custom is not None:
        inner = _at(path, "custom")
        arguments = _arguments(custom.get("input"), _at(inner, "input"))
        return _tool_call(call_id, _req_str(custom, "name", inner), arguments)
    function = _obj(call.get("function"), _at(path, "function"))
    return _function_call(function, _at(path, "function"), call_id)


def _function_call(function: Mapping[str, Any], path: str, call_id: str | None) -> dict[str, Any]:
    arguments = _arguments(function.get("arguments"), _at(path, "arguments"))
    return _tool_call(call_id, _req_str(function, "name", path), arguments)


def _chat_turn(value: object, path: str, default_role: str | None = None) -> _Turn:
    message = _obj(value, path)
    if default_role is not None and message.get("role") is None:
        role = default_role
    else:
        role = _role(message, path, _CHAT_ROLES)
    turn = _Turn(role)
    _content(message.get("content"), _at(path, "content"), turn)
    refusal = _opt_str(message, "refusal", path)
    if refusal and not any(turn.texts):
        turn.texts = [refusal]
    # DeepSeek and xAI say reasoning_content, Ollama and vLLM reasoning.
    reasoning = _opt_str(message, "reasoning_content", path)
    turn.reasoning.append(reasoning or _opt_str(message, "reasoning", path) or "")
    for index, call in enumerate(_opt_list(message, "tool_calls", path) or ()):
        turn.tool_calls.append(_chat_tool_call(call, _item(_at(path, "tool_calls"), index)))
    legacy = _opt_obj(message, "function_call", path)
    if legacy is not None:
        turn.tool_calls.append(_function_call(legacy, _at(path, "function_call"), None))
    if role == "tool":
        turn.tool_call_id = _opt_str(message, "tool_call_id", path)
    return turn


def _chat_declare(tool: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    for key in ("function", "custom"):
        spec = _opt_obj(tool, key, path)
        if spec is not None:
            return _tool_decl(spec, _at(path, key), "parameters")
    return None


def _decode_chat_request(content: object) -> AnnotatedLLMRequest:
    body = _obj(content, "")
    turns = [
        _chat_turn(message, _item("messages", index))
        for index, message in enumerate(_list(body.get("messages"), "messages"))
    ]
    others: list[Any] = []
    raw_tools = _opt_list(body, "tools", "")
    legacy = _opt_list(body, "functions", "")
    tools = _read_tools(raw_tools, "tools", _chat_declare, others)
    tools += [
        _tool_decl(_obj(spec, _item("functions", index)), _item("functions", index), "parameters")
        for index, spec in enumerate(legacy or ())
    ]
    extra: dict[str, Any] = {"other_tools": others} if others else {}
    return _request(
        body,
        api=_OPENAI_CHAT,
        turns=turns,
        tools=None if raw_tools is None and legacy is None else tools,
        choice_keys=("tool_choice", "function_call"),
        normalize_choice=_openai_choice,
        params=_CHAT_PARAMS,
        consumed=frozenset({"messages", "model", "tools", "functions"}),
        extra=extra,
    )


@attrs.frozen
class _ChatChoice:
    index: int
    message: dict[str, Any] | None
    finish_reason: str | None
    refused: bool


def _chat_choice(value: object, path: str) -> _ChatChoice:
    choice = _obj(value, path)
    index = _opt_int(choice, "index", path) or 0
    raw = _opt_obj(choice, "message", path)
    message = None if raw is None else _chat_turn(raw, _at(path, "message"), "assistant").build()
    refused = bool(raw and raw.get("refusal"))
    return _ChatChoice(index, message, _opt_str(choice, "finish_reason", path), refused)


def _chat_finish(choice: _ChatChoice) -> str | None:
    return "refusal" if choice.refused else _CHAT_FINISH.get(choice.finish_reason or "")


_CHAT_CONSUMED: Final = frozenset(
    {"id", "model", "object", "choices", "usage", "system_fingerprint", "service_tier", "created"}
)


def _decode_chat_response(value: object) -> AnnotatedLLMResponse:
    body = _obj(value, "")
    _reject_error_body(body, "choices")
    choices = sorted(
        (
            _chat_choice(choice, _item("choices", index))
            for index, choice in enumerate(_list(body.get("choices"), "choices"))
        ),
        key=lambda choice: choice.index,
    )
    first = choices[0] if choices else _ChatChoice(0, None, None, refused=False)
    api_specific: dict[str, Any] = {"finish_reason": first.finish_reason}
    api_specific.update(_strs(body, "", "system_fingerprint", "service_tier"))
    extra = None
    if len(choices) > 1:
        extra = {
            "choices": [
                {"index": c.index, "message": c.message, "finish_reason": _chat_finish(c)}
                for c in choices
            ]
        }
    return _response(
        body,
        api=_OPENAI_CHAT,
        message=first.message,
        finish_reason=_chat_finish(first),
        usage=_openai_usage(body.get("usage"), "usage", _CHAT_USAGE),
        api_specific=api_specific,
        consumed=_CHAT_CONSUMED,
        extra=extra,
    )


@attrs.define
class _ChatCallState:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = attrs.Factory(list)


@attrs.define
class _ChatChoiceState:
    content: list[str] | None = None
    refusal: list[str] = attrs.Factory(list)
    reasoning: list[str] = attrs.Factory(list)
    calls: dict[int, _ChatCallState] = attrs.Factory(dict)
    last_call: int = 0
    finish_reason: str | None = None

    def index_for(self, call_id: str | None, name: str | None) -> int:
        """Where a tool-call delta without an ``index`` belongs."""
        for index, call in self.calls.items():
            if call_id is not None and call.id == call_id:
                return index
        if (call_id or name) and self.calls:
            return max(self.calls) + 1
        return self.last_call

    def message(self) -> dict[str, Any]:
        calls = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name or "", "arguments": "".join(call.arguments)},
            }
            for _, call in sorted(self.calls.items())
            if call.name or "".join(call.arguments)
        ]
        return {
            "role": "assistant",
            "content": None if self.content is None else "".join(self.content),
            "refusal": "".join(self.refusal) or None,
            "reasoning_content": "".join(self.reasoning) or None,
            "tool_calls": calls or None,
        }


def _feed_chat_call(state: _ChatChoiceState, value: object, path: str) -> None:
    call = _obj(value, path)
    call_id = _opt_str(call, "id", path) or None
    function = _opt_obj(call, "function", path) or {}
    inner = _at(path, "function")
    name = _opt_str(function, "name", inner) or None
    index = _opt_int(call, "index", path)
    if index is None:
        index = state.index_for(call_id, name)
    slot = state.calls.setdefault(index, _ChatCallState())
    state.last_call = index
    # Some servers repeat id and name in every delta, others send "": assign, never append.
    slot.id = call_id or slot.id
    slot.name = name or slot.name
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        slot.arguments.append(arguments)
    elif arguments is not None:
        slot.arguments.append(_arguments(arguments, _at(inner, "arguments")))


def _feed_chat_delta(state: _ChatChoiceState, delta: Mapping[str, Any], path: str) -> None:
    content = _opt_str(delta, "content", path)
    if content is not None:
        state.content = state.content if state.content is not None else []
        state.content.append(content)
    refusal = _opt_str(delta, "refusal", path)
    reasoning = _opt_str(delta, "reasoning_content", path) or _opt_str(delta, "reasoning", path)
    state.refusal += [refusal] if refusal else []
    state.reasoning += [reasoning] if reasoning else []
    for index, call in enumerate(_opt_list(delta, "tool_calls", path) or ()):
        _feed_chat_call(state, call, _item(_at(path, "tool_calls"), index))
    legacy = _opt_obj(delta, "function_call", path)
    if legacy is not None:
        _feed_chat_call(state, {"index": 0, "function": legacy}, _at(path, "function_call"))


@attrs.define
class _ChatAccumulator:
    meta: dict[str, Any] = attrs.Factory(dict)
    choices: dict[int, _ChatChoiceState] = attrs.Factory(dict)
    usage: Any = None
    error: Any = None

    def feed(self, chunk: Mapping[str, Any]) -> None:
        body = _obj(chunk, "")
        for key, value in _strs(body, "", "id", "model", "system_fingerprint").items():
            self.meta.setdefault(key, value)
        if body.get("usage") is not None:
            _openai_usage(body["usage"], "usage", _CHAT_USAGE)
            # Usage is cumulative: vLLM sends it on every chunk, OpenAI on the last.
            self.usage = _copy_json(body["usage"])
        if body.get("error") is not None:
            self.error = _copy_json(body["error"])
        for index, value in enumerate(_opt_list(body, "choices", "") or ()):
            path = _item("choices", index)
            choice = _obj(value, path)
            state = self.choices.setdefault(
                _opt_int(choice, "index", path) or 0, _ChatChoiceState()
            )
            state.finish_reason = _opt_str(choice, "finish_reason", path) or state.finish_reason
            delta = _opt_obj(choice, "delta", path) or {}
            _feed_chat_delta(state, delta, _at(path, "delta"))

    def result(self) -> AnnotatedLLMResponse:
        choices = [
            {"index": index, "message": state.message(), "finish_reason": state.finish_reason}
            for index, state in sorted(self.choices.items())
        ]
        body = {**self.meta, "choices": choices, "usage": self.usage}
        return _with_error(_decode_chat_response(body), self.error)


# ---------------------------------------------------------------- OpenAI Responses


_RESPONSES_ROLES: Final = MappingProxyType(
    {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
)
_RESPONSES_PARAMS: Final = frozenset(
    {
        "temperature",
        "top_p",
        "max_output_tokens",
        "max_tool_calls",
        "top_logprobs",
        "stream",
        "stream_options",
    }
)


def _responses_message(item: Mapping[str, Any], path: str) -> _Turn:
    turn = _Turn(_role(item, path, _RESPONSES_ROLES))
    _content(item.get("content"), _at(path, "content"), turn)
    return turn


def _responses_function_call(item: Mapping[str, Any], path: str) -> _Turn:
    call_id = _opt_str(item, "call_id", path) or _opt_str(item, "id", path)
    key = "arguments" if item.get("type") == "function_call" else "input"
    arguments = _arguments(item.get(key), _at(path, key))
    return _Turn(
        "assistant", tool_calls=[_tool_call(call_id, _req_str(item, "name", path), arguments)]
    )


def _responses_call_output(item: Mapping[str, Any], path: str) -> _Turn:
    turn = _Turn("tool", tool_call_id=_opt_str(item, "call_id", path))
    _content(item.get("output"), _at(path, "output"), turn)
    return turn


def _responses_reasoning(item: Mapping[str, Any], path: str) -> _Turn:
    texts = []
    for key in ("summary", "content"):
        for index, value in enumerate(_opt_list(item, key, path) or ()):
            part_path = _item(_at(path, key), index)
            texts.append(_req_str(_obj(value, part_path), "text", part_path))
    return _Turn("assistant", reasoning=texts)


_RESPONSES_ITEMS: Final = MappingProxyType(
    {
        "message": _responses_message,
        "function_call": _responses_function_call,
        "custom_tool_call": _responses_function_call,
        "function_call_output": _responses_call_output,
        "custom_tool_call_output": _responses_call_output,
        "reasoning": _responses_reasoning,
    }
)


def _responses_item(value: object, path: str) -> tuple[str, _Turn | None]:
    """An item's type and its turn; ``None`` for an item type not understood."""
    item = _obj(value, path)
    kind = _opt_str(item, "type", path) or "message"
    read = _RESPONSES_ITEMS.get(kind)
    return kind, None if read is None else read(item, path)


def _responses_turns(body: Mapping[str, Any], unparsed: list[Any]) -> list[_Turn]:
    turns: list[_Turn] = []
    instructions = _opt_str(body, "instructions", "")
    if instructions:
        turns.append(_Turn("system", texts=[instructions]))
    raw = body.get("input")
    if isinstance(raw, str):
        return [*turns, _Turn("user", texts=[raw])]
    if raw is None:
        return turns
    if not isinstance(raw, list | tuple):
        raise CodecError("input", f"expected a string or a list of items, got {_kind(raw)}")
    for index, value in enumerate(raw):
        _, turn = _responses_item(value, _item("input", index))
        if turn is None:
            unparsed.append(_copy_json(value))
        elif turn.role == "assistant" and turns and turns[-1].role == "assistant":
            # Reasoning, text and calls of one assistant turn are separate items here.
            turns[-1].absorb(turn)
        else:
            turns.append(turn)
    return turns


def _responses_declare(tool: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    if tool.get("type") in ("function", "custom"):
        return _tool_decl(tool, path, "parameters")
    return None


def _decode_responses_request(content: object) -> AnnotatedLLMRequest:
    body = _obj(content, "")
    unparsed: list[Any] = []
    turns = _responses_turns(body, unparsed)
    others: list[Any] = []
    raw_tools = _opt_list(body, "tools", "")
    tools = _read_tools(raw_tools, "tools", _responses_declare, others)
    extra: dict[str, Any] = {"other_tools": others} if others else {}
    if unparsed:
        extra["unparsed_input"] = unparsed
    return _request(
        body,
        api=_OPENAI_RESPONSES,
        turns=turns,
        tools=None if raw_tools is None else tools,
        choice_keys=("tool_choice",),
        normalize_choice=_openai_choice,
        params=_RESPONSES_PARAMS,
        consumed=frozenset({"input", "instructions", "model", "tools"}),
        extra=extra,
    )


_INCOMPLETE: Final = MappingProxyType(
    {"max_output_tokens": "length", "content_filter": "content_filter"}
)


def _responses_finish(
    status: str | None, reason: str | None, called: bool, refused: bool
) -> str | None:
    if status == "completed":
        if called:
            return "tool_calls"
        return "refusal" if refused else "stop"
    if status == "incomplete":
        return _INCOMPLETE.get(reason or "")
    return None


def _has_refusal(value: object) -> bool:
    content = value.get("content") if isinstance(value, Mapping) else None
    return isinstance(content, list) and any(
        isinstance(part, Mapping) and part.get("type") == "refusal" for part in content
    )


_RESPONSES_CONSUMED: Final = frozenset(
    {"id", "model", "object", "output", "status", "incomplete_details", "error", "usage"}
)


def _decode_responses_response(value: object) -> AnnotatedLLMResponse:
    body = _obj(value, "")
    _reject_error_body(body, "output")
    output = _list(body.get("output"), "output")
    turn = _Turn("assistant")
    for index, item in enumerate(output):
        kind, read = _responses_item(item, _item("output", index))
        if read is None or read.role != "assistant":
            turn.parts.append({"type": kind})
        else:
            turn.absorb(read)
    status = _opt_str(body, "status", "")
    incomplete = _opt_obj(body, "incomplete_details", "")
    reason = None if incomplete is None else _opt_str(incomplete, "reason", "incomplete_details")
    refused = any(_has_refusal(item) for item in output)
    api_specific: dict[str, Any] = {"status": status}
    if reason is not None:
        api_specific["incomplete_reason"] = reason
    if body.get("error") is not None:
        api_specific["error"] = _copy_json(body["error"])
    return _response(
        body,
        api=_OPENAI_RESPONSES,
        message=turn.build() if output else None,
        finish_reason=_responses_finish(status, reason, bool(turn.tool_calls), refused),
        usage=_openai_usage(body.get("usage"), "usage", _RESPONSES_USAGE),
        api_specific=api_specific,
        consumed=_RESPONSES_CONSUMED,
    )


@attrs.define
class _ResponsesSlot:
    """One output item of a Responses stream: the item as added, plus its deltas."""

    item: dict[str, Any]
    done: bool = False
    texts: dict[tuple[str, int], list[str]] = attrs.Factory(dict)
    summary: dict[int, list[str]] = attrs.Factory(dict)
    arguments: list[str] = attrs.Factory(list)
    arguments_done: str | None = None

    def materialize(self) -> dict[str, Any]:
        if self.done:
            return dict(_copy_json(self.item))
        item = dict(_copy_json(self.item))
        if self.arguments or self.arguments_done is not None:
            joined = _text_of(item, "arguments") + "".join(self.arguments)
            item["arguments"] = joined if self.arguments_done is None else self.arguments_done
        _extend_parts(item, "content", self.texts)
        _extend_parts(item, "summary", {("summary_text", i): p for i, p in self.summary.items()})
        return item


def _extend_parts(
    item: dict[str, Any], key: str, pieces: Mapping[tuple[str, int], list[str]]
) -> None:
    """Append streamed text pieces to the parts of ``item[key]``."""
    if not pieces:
        return
    parts = item.get(key)
    parts = list(parts) if isinstance(parts, list) else []
    for (kind, index), texts in sorted(pieces.items()):
        while len(parts) <= index:
            parts.append({"type": kind})
        part = parts[index] if isinstance(parts[index], dict) else {"type": kind}
        field = "refusal" if kind == "refusal" else "text"
        parts[index] = {**part, field: _text_of(part, field) + "".join(texts)}
    item[key] = parts


_TERMINAL_EVENTS: Final = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)
# A text delta event, the part type it streams, and the item type it implies.
_TEXT_DELTAS: Final = MappingProxyType(
    {
        "response.output_text.delta": ("output_text", "message"),
        "response.refusal.delta": ("refusal", "message"),
        "response.reasoning_text.delta": ("reasoning_text", "reasoning"),
    }
)


@attrs.define
class _ResponsesAccumulator:
    snapshot: dict[str, Any] = attrs.Factory(dict)
    slots: dict[int, _ResponsesSlot] = attrs.Factory(dict)
    ids: dict[str, int] = attrs.Factory(dict)
    error: Any = None

    def feed(self, chunk: Mapping[str, Any]) -> None:
        event = _obj(chunk, "")
        kind = _req_str(event, "type", "")
        if kind in _TERMINAL_EVENTS:
            response = _obj(event.get("response"), "response")
            try:  # check the snapshot whole now, so that result() cannot fail later
                _decode_responses_response({**response, "output": response.get("output") or []})
            except CodecError as exc:
                raise CodecError(_at("response", exc.path), exc.problem) from None
            self.snapshot = _copy_json(response)
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._item(event, done=kind.endswith("done"))
        elif kind in _TEXT_DELTAS:
            part_type, item_type = _TEXT_DELTAS[kind]
            slot = self._slot(event, item_type)
            key = (part_type, _opt_int(event, "content_index", "") or 0)
            slot.texts.setdefault(key, []).append(_req_str(event, "delta", ""))
        elif kind == "response.reasoning_summary_text.delta":
            slot = self._slot(event, "reasoning")
            index = _opt_int(event, "summary_index", "") or 0
            slot.summary.setdefault(index, []).append(_req_str(event, "delta", ""))
        elif kind == "response.function_call_arguments.delta":
            self._slot(event, "function_call").arguments.append(_req_str(event, "delta", ""))
        elif kind == "response.function_call_arguments.done":
            self._slot(event, "function_call").arguments_done = _req_str(event, "arguments", "")
        elif kind == "error":
            self.error = _copy_json(event.get("error", event))

    def _item(self, event: Mapping[str, Any], *, done: bool) -> None:
        index = _opt_int(event, "output_index", "")
        item = _obj(event.get("item"), "item")
        _responses_item(item, "item")
        if index is None:
            raise CodecError("output_index", "expected an integer, got null")
        slot = self.slots.get(index)
        if slot is None or done:
            self.slots[index] = _ResponsesSlot(_copy_json(item), done=done)
        else:
            slot.item = _copy_json(item)  # deltas came first; keep them
        item_id = _opt_str(item, "id", "item")
        if item_id is not None:
            self.ids[item_id] = index

    def _slot(self, event: Mapping[str, Any], kind: str) -> _ResponsesSlot:
        """The slot an event's delta belongs to, made up if the item was never added."""
        item_id = _opt_str(event, "item_id", "")
        index = _opt_int(event, "output_index", "")
        if index is None:
            index = self.ids.get(item_id or "", max(self.slots, default=-1) + 1)
        if index not in self.slots:
            skeleton: dict[str, Any] = {"type": kind, "id": item_id}
            if kind == "function_call":
                skeleton["name"] = ""
            if kind == "message":
                skeleton["role"] = "assistant"
            self.slots[index] = _ResponsesSlot(skeleton)
            if item_id is not None:
                self.ids[item_id] = index
        return self.slots[index]

    def result(self) -> AnnotatedLLMResponse:
        body = dict(self.snapshot)
        final = body.get("output")
        merged = dict(enumerate(final)) if isinstance(final, list) else {}
        merged.update({index: slot.materialize() for index, slot in self.slots.items()})
        body["output"] = [item for _, item in sorted(merged.items())]
        return _with_error(_decode_responses_response(body), self.error)


# ---------------------------------------------------------------- Anthropic Messages


_ANTHROPIC_ROLES: Final = MappingProxyType({"user": "user", "assistant": "assistant"})
_ANTHROPIC_PARAMS: Final = frozenset(
    {"max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "stream"}
)
_ANTHROPIC_STOP: Final = MappingProxyType(
    {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "tool_use": "tool_calls",
        "refusal": "refusal",
    }
)


def _anthropic_block(
    block: Mapping[str, Any], path: str, turn: _Turn, raw_arguments: str | None = None
) -> _Turn | None:
    """Read one content block into ``turn``; a tool result becomes its own turn."""
    kind = _req_str(block, "type", path)
    if kind == "tool_result":
        result = _Turn("tool", tool_call_id=_opt_str(block, "tool_use_id", path))
        _content(block.get("content"), _at(path, "content"), result)
        return result
    if kind == "tool_use":
        if raw_arguments is None:
            raw_arguments = _arguments(block.get("input"), _at(path, "input"))
        name = _req_str(block, "name", path)
        turn.tool_calls.append(_tool_call(_opt_str(block, "id", path), name, raw_arguments))
    elif kind == "thinking":
        turn.reasoning.append(_opt_str(block, "thinking", path) or "")
    else:
        _part(block, path, turn)
    return None


def _anthropic_message(value: object, path: str) -> list[_Turn]:
    message = _obj(value, path)
    role = _role(message, path, _ANTHROPIC_ROLES)
    content = message.get("content")
    content_path = _at(path, "content")
    current = _Turn(role)
    if not isinstance(content, list | tuple):
        _content(content, content_path, current)
        return [current]
    turns: list[_Turn] = []
    for index, value_ in enumerate(content):
        block_path = _item(content_path, index)
        result = _anthropic_block(_obj(value_, block_path), block_path, current)
        if result is not None:
            if not current.empty():
                turns.append(current)
                current = _Turn(role)
            turns.append(result)
    if not current.empty() or not turns:
        turns.append(current)
    return turns


def _anthropic_declare(tool: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    # Server tools (web_search_20250305, bash_..., ...) carry a versioned type.
    if tool.get("type") in (None, "custom"):
        return _tool_decl(tool, path, "input_schema")
    return None


def _decode_anthropic_request(content: object) -> AnnotatedLLMRequest:
    body = _obj(content, "")
    turns: list[_Turn] = []
    if body.get("system") is not None:
        system = _Turn("system")
        _content(body["system"], "system", system)
        turns.append(system)
    for index, message in enumerate(_list(body.get("messages"), "messages")):
        turns += _anthropic_message(message, _item("messages", index))
    others: list[Any] = []
    raw_tools = _opt_list(body, "tools", "")
    tools = _read_tools(raw_tools, "tools", _anthropic_declare, others)
    extra: dict[str, Any] = {"other_tools": others} if others else {}
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and "disable_parallel_tool_use" in choice:
        extra["disable_parallel_tool_use"] = choice["disable_parallel_tool_use"]
    return _request(
        body,
        api=_ANTHROPIC_MESSAGES,
        turns=turns,
        tools=None if raw_tools is None else tools,
        choice_keys=("tool_choice",),
        normalize_choice=_anthropic_choice,
        params=_ANTHROPIC_PARAMS,
        consumed=frozenset({"system", "messages", "model", "tools"}),
        extra=extra,
    )


_ANTHROPIC_CONSUMED: Final = frozenset(
    {
        "id",
        "model",
        "type",
        "role",
        "content",
        "stop_reason",
        "stop_sequence",
        "stop_details",
        "usage",
    }
)


def _anthropic_response(body: Mapping[str, Any], turn: _Turn | None) -> AnnotatedLLMResponse:
    stop_reason = _opt_str(body, "stop_reason", "")
    api_specific: dict[str, Any] = {"stop_reason": stop_reason}
    for key in ("stop_sequence", "stop_details"):
        if body.get(key) is not None:
            api_specific[key] = _copy_json(body[key])
    usage = _opt_obj(body, "usage", "")
    written = None if usage is None else usage.get("cache_creation_input_tokens")
    if written is not None:
        api_specific["cache_creation_input_tokens"] = written
    return _response(
        body,
        api=_ANTHROPIC_MESSAGES,
        message=None if turn is None else turn.build(),
        finish_reason=_ANTHROPIC_STOP.get(stop_reason or ""),
        usage=_anthropic_usage(usage, "usage"),
        api_specific=api_specific,
        consumed=_ANTHROPIC_CONSUMED,
    )


def _decode_anthropic_response(value: object) -> AnnotatedLLMResponse:
    body = _obj(value, "")
    _reject_error_body(body, "content")
    content = _list(body.get("content"), "content")
    turn = _Turn("assistant")
    for index, block in enumerate(content):
        block_path = _item("content", index)
        if _anthropic_block(_obj(block, block_path), block_path, turn) is not None:
            turn.parts.append({"type": "tool_result"})
    return _anthropic_response(body, turn if content else None)


# A delta type, the block type it implies, and the delta's text field.
_ANTHROPIC_DELTAS: Final = MappingProxyType(
    {
        "text_delta": ("text", "text"),
        "input_json_delta": ("tool_use", "partial_json"),
        "thinking_delta": ("thinking", "thinking"),
    }
)


@attrs.define
class _AnthropicSlot:
    block: dict[str, Any]
    pieces: list[str] = attrs.Factory(list)

    def read_into(self, turn: _Turn, path: str) -> None:
        block = dict(self.block)
        kind = block.get("type")
        raw_arguments = None
        if kind == "tool_use":
            # The input comes only as JSON text fragments; keep that text as it is,
            # even when the stream was cut short inside it.
            raw_arguments = "".join(self.pieces) or None
        elif kind in ("text", "thinking") and self.pieces:
            block[kind] = _text_of(block, kind) + "".join(self.pieces)
        if _anthropic_block(block, path, turn, raw_arguments) is not None:
            turn.parts.append({"type": "tool_result"})


@attrs.define
class _AnthropicAccumulator:
    message: dict[str, Any] = attrs.Factory(dict)
    slots: dict[int, _AnthropicSlot] = attrs.Factory(dict)
    stop: dict[str, Any] = attrs.Factory(dict)
    usage: dict[str, Any] = attrs.Factory(dict)
    error: Any = None

    def feed(self, chunk: Mapping[str, Any]) -> None:
        event = _obj(chunk, "")
        kind = _req_str(event, "type", "")
        if kind == "message_start":
            message = _obj(event.get("message"), "message")
            _strs(message, "message", "id", "model")
            self._usage(_opt_obj(message, "usage", "message"), "message.usage")
            self.message = _copy_json(message)
        elif kind == "content_block_start":
            index = self._index(event)
            block = _obj(event.get("content_block"), "content_block")
            _anthropic_block(block, "content_block", _Turn("assistant"))
            self.slots[index] = _AnthropicSlot(_copy_json(block))
        elif kind == "content_block_delta":
            self._delta(self._index(event), _obj(event.get("delta"), "delta"))
        elif kind == "message_delta":
            delta = _opt_obj(event, "delta", "") or {}
            _opt_str(delta, "stop_reason", "delta")
            self._usage(_opt_obj(event, "usage", ""), "usage")
            keys = ("stop_reason", "stop_sequence", "stop_details")
            self.stop.update({key: _copy_json(delta[key]) for key in keys if key in delta})
        elif kind == "error":
            self.error = _copy_json(event.get("error", event))

    @staticmethod
    def _index(event: Mapping[str, Any]) -> int:
        index = _opt_int(event, "index", "")
        if index is None:
            raise CodecError("index", "expected an integer, got null")
        return index

    def _usage(self, usage: Mapping[str, Any] | None, path: str) -> None:
        # message_delta usage is cumulative and may restate (and correct) input counts.
        fresh = {
            key: _copy_json(value) for key, value in (usage or {}).items() if value is not None
        }
        _anthropic_usage({**self.usage, **fresh}, path)
        self.usage.update(fresh)

    def _delta(self, index: int, delta: Mapping[str, Any]) -> None:
        kind = _req_str(delta, "type", "delta")
        if kind == "signature_delta":
            _req_str(delta, "signature", "delta")
            return
        known = _ANTHROPIC_DELTAS.get(kind)
        if known is None:
            return
        block_type, field = known
        piece = _req_str(delta, field, "delta")
        slot = self.slots.get(index)
        if slot is None:
            skeleton = (
                {"type": block_type, "name": ""}
                if block_type == "tool_use"
                else {"type": block_type}
            )
            self.slots[index] = slot = _AnthropicSlot(skeleton)
        slot.pieces.append(piece)

    def result(self) -> AnnotatedLLMResponse:
        turn = _Turn("assistant")
        for index, slot in sorted(self.slots.items()):
            slot.read_into(turn, _item("content", index))
        body = {
            **_strs(self.message, "message", "id", "model"),
            **self.stop,
            "usage": self.usage or None,
        }
        return _with_error(_anthropic_response(body, turn if self.slots else None), self.error)


# ---------------------------------------------------------------- codecs


@attrs.frozen
class OpenAIChatCodec:
    """OpenAI Chat Completions, and the servers that speak it.

    DeepSeek, vLLM, Ollama, llama.cpp, Groq, OpenRouter and xAI dialects are
    read too: ``reasoning_content`` or ``reasoning`` fields, usage on any
    chunk, tool-call indexes that do not start at 0, repeated ids and names.
    """

    name: ClassVar[str] = _OPENAI_CHAT

    def decode_request(self, content: Mapping[str, Any]) -> AnnotatedLLMRequest:
        """Read a ``/v1/chat/completions`` request body.

        Args:
            content: The JSON body.

        Raises:
            CodecError: If the body is not of the API's shape.
        """
        return _decode_chat_request(content)

    def decode_response(self, body: Mapping[str, Any]) -> AnnotatedLLMResponse:
        """Read a ``chat.completion`` body; the first choice is the message.

        Args:
            body: The JSON body.

        Raises:
            CodecError: If the body is not of the API's shape, or is an
                error body.
        """
        return _decode_chat_response(body)

    def accumulator(self) -> StreamAccumulator:
        """Return an accumulator of ``chat.completion.chunk`` payloads."""
        return _ChatAccumulator()


@attrs.frozen
class OpenAIResponsesCodec:
    """The OpenAI Responses API.

    Consecutive assistant-side input items (reasoning, assistant messages,
    function calls) read as one assistant message.
    """

    name: ClassVar[str] = _OPENAI_RESPONSES

    def decode_request(self, content: Mapping[str, Any]) -> AnnotatedLLMRequest:
        """Read a ``/v1/responses`` request body.

        Args:
            content: The JSON body.

        Raises:
            CodecError: If the body is not of the API's shape.
        """
        return _decode_responses_request(content)

    def decode_response(self, body: Mapping[str, Any]) -> AnnotatedLLMResponse:
        """Read a ``response`` body; its output items make one assistant message.

        Args:
            body: The JSON body.

        Raises:
            CodecError: If the body is not of the API's shape, or is an
                error body.
        """
        return _decode_responses_response(body)

    def accumulator(self) -> StreamAccumulator:
        """Return an accumulator of Responses stream events."""
        return _ResponsesAccumulator()


@attrs.frozen
class AnthropicMessagesCodec:
    """The Anthropic Messages API.

    The top-level ``system`` reads as the first message; ``tool_result``
    blocks read as ``tool`` messages; ``thinking`` blocks as reasoning.
    """

    name: ClassVar[str] = _ANTHROPIC_MESSAGES

    def decode_request(self, content: Mapping[str, Any]) -> AnnotatedLLMRequest:
        """Read a ``/v1/messages`` request body.

        Args:
            content: The JSON body.

        Raises:
            CodecError: If the body is not of the API's shape.
        """
        return _decode_anthropic_request(content)

    def decode_response(self, body: Mapping[str, Any]) -> AnnotatedLLMResponse:
        """Read a ``message`` body.

        Args:
            body: The JSON body.

        Raises:
            CodecError: If the body is not of the API's shape, or is an
                error body.
        """
        return _decode_anthropic_response(body)

    def accumulator(self) -> StreamAccumulator:
        """Return an accumulator of Anthropic stream events."""
        return _AnthropicAccumulator()


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
