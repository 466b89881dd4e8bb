"""The Anthropic Messages codec."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from actrio.codecs._base import (
    CodecError,
    _arguments,
    _at,
    _copy_json,
    _item,
    _list,
    _obj,
    _opt_int,
    _opt_list,
    _opt_obj,
    _opt_str,
    _req_str,
    _strs,
    _text_of,
)
from actrio.codecs._reading import (
    _content,
    _part,
    _read_tools,
    _reject_error_body,
    _request,
    _response,
    _role,
    _tool_call,
    _tool_decl,
    _Turn,
    _with_error,
)

if TYPE_CHECKING:
    from actrio.codecs._values import (
        AnnotatedLLMRequest,
        AnnotatedLLMResponse,
        StreamAccumulator,
        _ToolChoice,
    )

__all__ = ("AnthropicMessagesCodec",)


_ANTHROPIC_MESSAGES: Final = "anthropic-messages"


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


_ANTHROPIC_CHOICES: Final = MappingProxyType({"auto": "auto", "any": "required", "none": "none"})


def _anthropic_choice(value: object) -> _ToolChoice:
    if not isinstance(value, Mapping):
        return None
    kind = value.get("type")
    if kind == "tool" and isinstance(value.get("name"), str):
        return {"name": value["name"]}
    return _ANTHROPIC_CHOICES.get(kind) if isinstance(kind, str) else None


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
