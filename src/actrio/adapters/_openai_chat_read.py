"""Reading OpenAI Chat Completions answers: whole bodies and streamed chunks.

:class:`OpenAIChatStreamParser` turns ``chat.completion.chunk`` events into
the neutral stream events, and :func:`_parse_response` reads a
non-streaming body; :mod:`actrio.adapters.openai_chat` (the adapter, its
dialects and request bodies) uses both. The protocol facts they follow are
listed in that module's docstring.
"""

from __future__ import annotations

import json
import json.decoder
import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import attrs

from actrio.adapters._accumulate import MessageBuilder, parse_arguments
from actrio.adapters._json import loads_json
from actrio.adapters.errors import (
    ProviderError,
    ProviderProtocolError,
    error_from_body,
)
from actrio.messages import (
    Message,
    ReasoningPart,
    ToolCallPart,
    _assistant_message,
    _text_part,
)
from actrio.types import (
    FinishReason,
    ModelResponse,
    Usage,
    UsageUpdate,
    _checked_usage,
    _model_response,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from actrio.adapters.sse import ServerSentEvent
    from actrio.messages import Part
    from actrio.types import StreamEvent

__all__ = ("PROVIDER", "OpenAIChatStreamParser")

PROVIDER: Final = "openai-chat"


# ---------------------------------------------------------------- reading helpers

_FINISH: Final[Mapping[str, FinishReason]] = MappingProxyType(
    {
        "stop": "stop",
        "end_turn": "stop",
        "stop_sequence": "stop",
        "eos": "stop",
        "length": "length",
        "max_tokens": "length",
        "model_length": "length",
        "tool_calls": "tool_calls",
        "function_call": "tool_calls",
        "tool_use": "tool_calls",
        "content_filter": "content_filter",
        "safety": "content_filter",
        "refusal": "refusal",
    }
)
"""Finish reasons seen from OpenAI and compatible servers; any other word is ``stop``."""

_CUT: Final = "the output token limit was reached while the call was being written"
_NO_USAGE: Final = Usage()
_KEEP_ALIVES: Final = frozenset({"keep-alive", "keepalive", "ping"})


def _is_length(raw: str | None) -> bool:
    return raw is not None and _FINISH.get(raw.lower()) == "length"


def _finish(raw: str | None, *, refused: bool, has_calls: bool) -> FinishReason:
    if refused:
        return "refusal"
    if raw is None:
        return "tool_calls" if has_calls else "stop"
    mapped = _FINISH.get(raw.lower(), "stop")
    return "tool_calls" if mapped == "stop" and has_calls else mapped


def _not_json(data: str, kind: str) -> list[StreamEvent]:
    """Stream data that is not JSON: nothing for a keep-alive, else the error it is.

    Raises:
        ProviderError: For an ``error`` event.
        ProviderProtocolError: For data that is neither JSON nor a keep-alive.
    """
    text = data.strip()
    if kind == "error":
        raise error_from_body(None, provider=PROVIDER, fallback=text or None) from None
    if not text or text.startswith(":") or text.lower() in _KEEP_ALIVES:
        return []  # a gateway's keep-alive sent as data (fact 4)
    raise ProviderProtocolError(
        f"a stream event is not JSON: {text[:80]!r}", provider=PROVIDER
    ) from None


def _not_an_object(payload: Any, data: str, kind: str) -> ProviderError:
    """The error for stream data that is JSON but not an object."""
    if kind == "error":
        return error_from_body(payload, provider=PROVIDER, fallback=data)
    return ProviderProtocolError(
        f"a stream event is not a JSON object: {data[:80]!r}", provider=PROVIDER
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def _usage(data: Any) -> Usage | None:
    """A chunk's or body's ``usage`` object, normalised (module docstring); ``None`` if absent."""
    if not isinstance(data, dict):
        return None
    prompt = _count(data.get("prompt_tokens"))
    output = _count(data.get("completion_tokens"))
    cached = _count(_obj(data.get("prompt_tokens_details")).get("cached_tokens"))
    reasoning = _count(_obj(data.get("completion_tokens_details")).get("reasoning_tokens"))
    gap = _count(data.get("total_tokens")) - prompt - output
    if gap > 0:  # reasoning left out of completion_tokens (xAI, Gemini)
        output += gap
        reasoning = reasoning or gap
    return _checked_usage(  # the counts are checked by _count; a positive gap is added
        input_tokens=prompt,
        output_tokens=output,
        cached_input_tokens=cached or _count(data.get("prompt_cache_hit_tokens")),
        reasoning_tokens=reasoning,
    )


def _reasoning(fields: dict[str, Any]) -> str:
    """The reasoning text of a message or delta; ``reasoning_content`` wins over ``reasoning``."""
    return _str(fields.get("reasoning_content")) or _str(fields.get("reasoning"))


def _content(value: Any) -> str:
    """Message content: a string, or (some servers) a list of text parts."""
    if isinstance(value, list):
        return "".join(_str(_obj(item).get("text")) for item in value)
    return _str(value)


def _signature(fields: dict[str, Any]) -> str | None:
    """Gemini's ``extra_content.google.thought_signature``, if present."""
    value = _obj(_obj(fields.get("extra_content")).get("google")).get("thought_signature")
    return value if isinstance(value, str) and value else None


def _synth_id(index: int, response_id: str | None) -> str:
    """An id for a call the server sent without one (Gemini): stable and unique per response."""
    return f"call_{index}_{response_id}" if response_id else f"call_{index}"


def _several_choices(first: int, other: int) -> ProviderProtocolError:
    return ProviderProtocolError(
        f"the response has several choices (index {first} and {other}): n > 1 is not "
        "supported, actrio takes exactly one choice",
        provider=PROVIDER,
    )


def _arguments(raw: Any) -> tuple[Mapping[str, Any], str | None, str | None]:
    """(arguments, raw text kept, problem) of a non-streamed call."""
    if isinstance(raw, dict):  # some servers send an object, not a JSON string
        return raw, None, None
    text = raw if isinstance(raw, str) else None
    arguments, problem = parse_arguments(text)
    return arguments, (text if problem is not None else None), problem


def _response_calls(
    message: dict[str, Any], response_id: str | None, *, cut: bool
) -> list[ToolCallPart]:
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return []
    # Older Gemini puts the signature on the message: it belongs to the first call.
    fallback = _signature(message) or (_str(message.get("thought_signature")) or None)
    out: list[ToolCallPart] = []
    for position, raw_call in enumerate(c for c in calls if isinstance(c, dict)):
        function = _obj(raw_call.get("function"))
        name = _str(function.get("name"))
        arguments, raw_arguments, problem = _arguments(function.get("arguments"))
        if not name:
            problem = "the server sent the call without a tool name"
        out.append(
            ToolCallPart(
                id=_str(raw_call.get("id")) or _synth_id(position, response_id),
                name=name,
                arguments=arguments,
                raw_arguments=raw_arguments,
                problem=problem,
                signature=_signature(raw_call) or (fallback if position == 0 else None),
            )
        )
    if cut and out:
        out[-1] = attrs.evolve(out[-1], complete=False, problem=_CUT)
    return out


def _parse_response(body: Any, *, model: str) -> ModelResponse:
    """A non-streaming ``chat.completion`` body as a :class:`ModelResponse`.

    Raises:
        ProviderError: For an error envelope (sent with status 200).
        ProviderProtocolError: For a body that is not a completion, or has
            more than one choice.
    """
    if not isinstance(body, dict):
        raise ProviderProtocolError("the response body is not a JSON object", provider=PROVIDER)
    if body.get("error") is not None:
        raise error_from_body(body, provider=PROVIDER)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ProviderProtocolError("the response has no choices", provider=PROVIDER)
    if len(choices) > 1:
        raise _several_choices(0, len(choices) - 1)
    choice = choices[0]
    message = _obj(choice.get("message"))
    response_id = _str(body.get("id")) or None
    raw_finish = _str(choice.get("finish_reason")) or None
    refusal = _str(message.get("refusal"))
    parts: list[Part] = []
    if reasoning := _reasoning(message):
        parts.append(ReasoningPart(text=reasoning, provider=PROVIDER))
    if text := _content(message.get("content")) + refusal:
        parts.append(_text_part(text))
    calls = _response_calls(message, response_id, cut=_is_length(raw_finish))
    if calls:
        parts.extend(calls)
    return _model_response(
        _assistant_message(tuple(parts)),
        _finish(raw_finish, refused=bool(refusal), has_calls=bool(calls)),
        _usage(body.get("usage")) or _NO_USAGE,
        model=_str(body.get("model")) or model,
        provider=PROVIDER,
        response_id=response_id,
        raw_finish_reason=raw_finish,
    )


# ---------------------------------------------------------------- streaming


class _Pending:
    """A streamed tool call whose name has not arrived yet."""

    __slots__ = ("chunks", "id", "name", "signature")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.signature: str | None = None
        self.chunks: list[str] = []


# ---------------------------------------------------------------- text chunks read as text

#: A text chunk's ``choices``, up to the opening quote of its ``content``.
_CONTENT_AT: Final = ',"choices":[{"index":0,"delta":{"content":"'
#: What may follow that content string: the end of the delta, the choice's
#: null ``logprobs`` and ``finish_reason``, a null ``usage``, OpenAI's
#: ``obfuscation`` padding, and the end of the chunk.
_TEXT_TAIL: Final = re.compile(
    r'\}(?:,"logprobs":null)?(?:,"finish_reason":null)?\}\]'
    r'(?:,"usage":null)?(?:,"obfuscation":"[A-Za-z0-9]*")?\}'
)
#: How many text chunks of a stream a head is learned from, at most.
_HEAD_TRIES: Final = 4
#: ``json``'s own string scanner (the C one where there is one), as ``json.loads`` uses it.
_scan_string: Final[Callable[[str, int], tuple[str, int]]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _learn_head(data: str) -> tuple[str, str | None] | None:
    """The head of a text chunk (its text up to the content string), and the model it names.

    ``data`` is a chunk :meth:`OpenAIChatStreamParser._text_chunk` took: no
    error, no usage, one choice of ``content`` text alone. ``None`` unless
    the text before :data:`_CONTENT_AT` is an object's members: then that
    text is a complete top-level prefix of the chunk (the marker cannot sit
    inside a string of it, whose quotes would be unbalanced), and a chunk
    that starts with the same head reads its fields as this one did. Of
    them, a text chunk's reading uses only ``model``.
    """
    at = data.find(_CONTENT_AT)
    if at < 0:
        return None
    try:
        fields = loads_json(data[:at] + "}")  # JSON that ends with "}" is an object
    except ValueError:
        return None
    model = fields.get("model")
    return data[: at + len(_CONTENT_AT)], model if isinstance(model, str) and model else None


class OpenAIChatStreamParser:
    """Reads one ``chat.completion.chunk`` stream (see the module docstring for the rules).

    Args:
        model: The model asked for (used when the chunks do not say).

    Attributes:
        builder: The message being accumulated.
        done: Whether ``data: [DONE]`` has arrived.
    """

    def __init__(self, *, model: str) -> None:
        self.builder = MessageBuilder(PROVIDER)
        self.done = False
        self._model = model
        self._response_id: str | None = None
        self._choice: int | None = None
        self._raw_finish: str | None = None
        self._refused = False
        self._usage: Usage | None = None
        self._pending: dict[int, _Pending] = {}
        self._ids: dict[int, str] = {}
        self._names: dict[int, str] = {}
        self._last_index: int | None = None
        # The head of this stream's text chunks, once learned (_learn_head), and its model.
        self._head: str | None = None
        self._head_model: str | None = None
        self._head_tries = _HEAD_TRIES

    # ------------------------------------------------------------ feeding

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        """Take one SSE event; return the neutral events it produces.

        Raises:
            ProviderError: For an in-band error (typed by ``error_from_body``).
            ProviderProtocolError: For a payload that is not JSON, or a second choice.
        """
        return self._feed_data(event.data, event.event)

    def _feed_data(self, data: str, kind: str = "message") -> list[StreamEvent]:
        """:meth:`feed` of an event given by its data and type (the core calls it directly)."""
        if self.done:
            return []
        head = self._head
        if (
            head is not None
            and kind != "error"
            and data.startswith(head)
            and (fast := self._text_by_text(data, len(head))) is not None
        ):
            return fast
        if data[:1] != "{" and data.lstrip().startswith("[DONE]"):
            self.done = True
            return self._close_tools()
        try:
            payload = loads_json(data)
        except ValueError:
            return _not_json(data, kind)
        if type(payload) is not dict:
            raise _not_an_object(payload, data, kind)
        if (fast := self._text_chunk(payload, kind)) is not None:
            if self._head_tries and (head is None or not data.startswith(head)):
                self._learn_head(data)
            return fast
        return self._feed_payload(payload, data, kind)

    def _feed_payload(self, payload: dict[str, Any], data: str, kind: str) -> list[StreamEvent]:
        """The general reading of a chunk: usage, errors, ids, every choice."""
        usage = _usage(payload.get("usage"))
        if usage is None and "x_groq" in payload:
            usage = _usage(_obj(payload["x_groq"]).get("usage"))
        if payload.get("error") is not None or kind == "error":
            self._usage = usage or self._usage  # the partial answer keeps its cost
            raise error_from_body(payload, provider=PROVIDER, fallback=data)
        if self._response_id is None:
            self._response_id = _str(payload.get("id")) or None
        self._model = _str(payload.get("model")) or self._model
        out: list[StreamEvent] = []
        choices = payload.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict):
                    out.extend(self._feed_choice(choice))
        if usage is not None and usage != self._usage:
            self._usage = usage
            out.append(UsageUpdate(usage=usage))
        return out

    def _text_chunk(self, payload: dict[str, Any], kind: str) -> list[StreamEvent] | None:
        """The events of the commonest chunk, or ``None`` for the general path to read it.

        That chunk continues the one choice already seen with a delta of
        ``content`` text alone, no finish reason, and no usage or error: all
        the general path would do with it is note the model and add the text.
        """
        choices = payload.get("choices")
        if type(choices) is not list or len(choices) != 1:
            return None
        choice = choices[0]
        if type(choice) is not dict or choice.get("finish_reason") is not None:
            return None
        delta = choice.get("delta")
        if type(delta) is not dict or len(delta) != 1:
            return None
        text = delta.get("content")
        index = choice.get("index", 0)
        if (
            type(text) is not str
            or type(index) is not int
            or index != self._choice
            or self._response_id is None
            or payload.get("usage") is not None
            or payload.get("error") is not None
            or "x_groq" in payload
            or kind == "error"
        ):
            return None
        model = payload.get("model")
        if isinstance(model, str) and model:
            self._model = model
        out = self.builder.text(text)
        return [] if out is None else [out]

    def _learn_head(self, data: str) -> None:
        """Learn the head of a text chunk :meth:`_text_chunk` read (a few tries a stream)."""
        self._head_tries -= 1
        if (learned := _learn_head(data)) is not None:
            self._head, self._head_model = learned

    def _text_by_text(self, data: str, start: int) -> list[StreamEvent] | None:
        """:meth:`_text_chunk`'s reading of a chunk that starts with the learned head.

        The rest must be the content string (read by ``json``'s own string
        scanner, strictly) and one of the tails of :data:`_TEXT_TAIL`, to
        the end: then the whole chunk is the JSON :meth:`_text_chunk` took
        when the head was learned, with another text. ``None`` for anything
        else, which is read as JSON.
        """
        try:
            text, end = _scan_string(data, start)
        except ValueError:
            return None
        if _TEXT_TAIL.fullmatch(data, end) is None:
            return None
        if self._head_model is not None:
            self._model = self._head_model
        out = self.builder.text(text)
        return [] if out is None else [out]

    def _feed_choice(self, choice: dict[str, Any]) -> list[StreamEvent]:
        index = choice.get("index", 0)
        index = index if isinstance(index, int) else 0
        if self._choice is None:
            self._choice = index
        elif index != self._choice:
            raise _several_choices(self._choice, index)
        delta = _obj(choice.get("delta"))
        out: list[StreamEvent | None] = []
        if reasoning := _reasoning(delta):
            out.append(self.builder.reasoning(reasoning))
        out.append(self.builder.text(_content(delta.get("content"))))
        if refusal := _str(delta.get("refusal")):
            self._refused = True
            out.append(self.builder.text(refusal))
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            fallback = _signature(delta)
            for call in calls:
                if isinstance(call, dict):
                    out.extend(self._feed_call(call, fallback))
                    fallback = None
        finish = choice.get("finish_reason")
        if isinstance(finish, str) and finish:
            self._raw_finish = finish
            out.extend(self._close_tools())
        return [e for e in out if e is not None]

    def _call_index(self, call: dict[str, Any], call_id: str, name: str) -> int:
        index = call.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        # No index (some servers): a different id or name starts the next call.
        last = self._last_index
        if last is None:
            return 0
        if (call_id and self._ids.get(last, call_id) != call_id) or (
            name and self._names.get(last, name) != name
        ):
            return max([*self._ids, *self._names, last]) + 1
        return last

    def _feed_call(self, call: dict[str, Any], fallback: str | None) -> list[StreamEvent | None]:
        function = _obj(call.get("function"))
        call_id = _str(call.get("id"))
        name = _str(function.get("name"))
        index = self._call_index(call, call_id, name)
        self._last_index = index
        if call_id:
            self._ids.setdefault(index, call_id)
        if name:
            self._names.setdefault(index, name)
        arguments = function.get("arguments")
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments, ensure_ascii=False)
        fragment = arguments if isinstance(arguments, str) else None
        if self.builder.has_tool(index):
            # Ids and names repeated in later deltas (OpenRouter) never overwrite.
            return [self.builder.tool_delta(index, fragment)]
        pending = self._pending.setdefault(index, _Pending())
        pending.id = pending.id or call_id
        pending.name = pending.name or name
        pending.signature = pending.signature or _signature(call) or fallback
        if fragment:
            pending.chunks.append(fragment)
        return self._start(index) if pending.name else []

    def _start(self, index: int) -> list[StreamEvent | None]:
        pending = self._pending.pop(index)
        call_id = pending.id or _synth_id(index, self._response_id)
        start = self.builder.tool_start(index, call_id, pending.name, signature=pending.signature)
        return [start, self.builder.tool_delta(index, "".join(pending.chunks))]

    def _close_tools(self) -> list[StreamEvent]:
        out: list[StreamEvent | None] = []
        for index in list(self._pending):  # never named: cannot run
            out.extend(self._start(index))
            out.append(self.builder.tool_cut(index, "the server never sent the tool's name"))
        cut = _is_length(self._raw_finish)
        out.extend(
            self.builder.tool_cut(index, _CUT) if cut else self.builder.tool_end(index)
            for index in self.builder.open_tools()
        )
        return [e for e in out if e is not None]

    # ------------------------------------------------------------ results

    def response(self) -> ModelResponse:
        """The whole response, once :attr:`done`."""
        return self._result(self.builder.message())

    def partial(self) -> ModelResponse:
        """What arrived so far; unfinished tool calls are marked incomplete.

        The finish reason is the server's if it sent one, else inferred from
        what arrived (``tool_calls`` or ``stop``): a partial answer is told
        apart by the error that carries it, not by its finish reason.
        """
        return self._result(self.builder.message(cut="the stream broke before the call ended"))

    def _result(self, message: Message) -> ModelResponse:
        return _model_response(
            message,
            _finish(self._raw_finish, refused=self._refused, has_calls=bool(message.tool_calls)),
            self._usage or _NO_USAGE,
            model=self._model,
            provider=PROVIDER,
            response_id=self._response_id,
            raw_finish_reason=self._raw_finish,
        )
