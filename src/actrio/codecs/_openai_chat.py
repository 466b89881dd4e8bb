"""The OpenAI Chat Completions codec."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from actrio.codecs._base import (
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
    from collections.abc import Mapping

    from actrio.codecs._values import AnnotatedLLMRequest, AnnotatedLLMResponse, StreamAccumulator

__all__ = ("OpenAIChatCodec",)


_OPENAI_CHAT: Final = "openai-chat"


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
_CHAT_USAGE: Final = _UsageKeys(
    "prompt_tokens",
    "completion_tokens",
    ("prompt_tokens_details", "cached_tokens"),
    ("completion_tokens_details", "reasoning_tokens"),
    cached_fallback="prompt_cache_hit_tokens",  # DeepSeek
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
