"""Reading shared by every API: messages, content parts, tools, tool choice, usage."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import attrs

from actrio.codecs._base import (
    CodecError,
    _at,
    _copy_json,
    _item,
    _kind,
    _obj,
    _opt_int,
    _opt_obj,
    _opt_str,
    _req_str,
    _strs,
)
from actrio.codecs._values import AnnotatedLLMRequest, AnnotatedLLMResponse

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from actrio.codecs._values import _ToolChoice


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
