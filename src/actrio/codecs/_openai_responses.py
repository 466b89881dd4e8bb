"""The OpenAI Responses codec."""

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
    _kind,
    _list,
    _obj,
    _opt_int,
    _opt_list,
    _opt_obj,
    _opt_str,
    _req_str,
    _text_of,
)
from actrio.codecs._reading import (
    _content,
    _openai_choice,
    _openai_usage,
    _read_tools,
    _reject_error_body,
    _request,
    _response,
    _role,
    _tool_call,
    _tool_decl,
    _Turn,
    _UsageKeys,
    _with_error,
)

if TYPE_CHECKING:
    from actrio.codecs._values import AnnotatedLLMRequest, AnnotatedLLMResponse, StreamAccumulator

__all__ = ("OpenAIResponsesCodec",)


_OPENAI_RESPONSES: Final = "openai-responses"


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
_RESPONSES_USAGE: Final = _UsageKeys(
    "input_tokens",
    "output_tokens",
    ("input_tokens_details", "cached_tokens"),
    ("output_tokens_details", "reasoning_tokens"),
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
