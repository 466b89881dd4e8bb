"""Reading Gemini answers: whole ``GenerateContentResponse`` bodies and streamed chunks.

:class:`GeminiStreamParser` turns the chunks of ``streamGenerateContent?alt=sse``
into the neutral stream events (with Vertex's streamed function-call
arguments), and a whole body is read by the quick reader of a text answer
or fed to that parser; :mod:`actrio.adapters.gemini` (the adapter and its
request bodies) uses both. The protocol facts they follow are listed in
that module's docstring.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from typing import TYPE_CHECKING, Any, Final

import attrs

from actrio.adapters._accumulate import MessageBuilder, text_blocks, text_message
from actrio.adapters._json import loads_json
from actrio.adapters.errors import ProviderProtocolError, error_from_body
from actrio.types import (
    ModelResponse,
    ToolCallDelta,
    Usage,
    UsageUpdate,
    _checked_usage,
    _model_response,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from actrio.adapters.sse import ServerSentEvent
    from actrio.messages import Message
    from actrio.types import FinishReason, StreamEvent

__all__ = ("GeminiStreamParser", "PROVIDER")

PROVIDER: Final = "gemini"

_FILTERED: Final = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
_NO_USAGE: Final = Usage()


# ---------------------------------------------------------------- streamed arguments

_PATH: Final = re.compile(r"\$((?:\.[^.\[\]]+|\[\d{1,5}\])+)")
_SEGMENT: Final = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def _path(raw: object) -> list[str | int]:
    match = _PATH.fullmatch(raw) if isinstance(raw, str) else None
    if match is None or not match.group(1).startswith("."):
        raise ProviderProtocolError(
            f"unsupported functionCall.partialArgs jsonPath {str(raw)[:100]!r}",
            provider=PROVIDER,
        )
    return [key if key else int(index) for key, index in _SEGMENT.findall(match.group(1))]


def _child(node: Any, segment: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(segment)
    if isinstance(node, list) and isinstance(segment, int) and segment < len(node):
        return node[segment]
    return None


def _put(node: Any, segment: str | int, value: Any) -> None:
    if isinstance(node, list):
        assert isinstance(segment, int)
        node.extend([None] * (segment + 1 - len(node)))
    node[segment] = value


@attrs.define
class _Frame:
    segment: str | int
    array: bool
    children: int = 0


class _StreamedArguments:
    """One call's arguments, built from Vertex ``partialArgs``, and their JSON text."""

    def __init__(self) -> None:
        self.value: dict[str, Any] = {}
        self._sent: list[str] = []
        self._stack: list[_Frame] = []
        self._open_string: list[str | int] | None = None  # the path of a string left open

    def feed(self, partial_args: object) -> str:
        """Apply a ``partialArgs`` list; return the JSON text it adds."""
        out: list[str] = []
        for arg in partial_args if isinstance(partial_args, list) else ():
            if not isinstance(arg, dict):
                continue
            path = _path(arg.get("jsonPath"))
            if "stringValue" in arg:
                value = arg["stringValue"]
            elif "numberValue" in arg:
                value = arg["numberValue"]
            elif "boolValue" in arg:
                value = arg["boolValue"]
            elif "nullValue" in arg:
                value = None
            else:
                continue
            out.append(self._set(path, value, open_string=arg.get("willContinue") is True))
        delta = "".join(out)
        if delta:
            self._sent.append(delta)
        return delta

    def _set(self, path: list[str | int], value: Any, *, open_string: bool) -> str:
        node: Any = self.value
        for segment, following in itertools.pairwise(path):
            child = _child(node, segment)
            if not isinstance(child, list if isinstance(following, int) else dict):
                child = [] if isinstance(following, int) else {}
                _put(node, segment, child)
            node = child
        leaf = path[-1]
        current = _child(node, leaf)
        if isinstance(value, str) and isinstance(current, str):
            _put(node, leaf, current + value)  # a string streamed in pieces
            if self._open_string != path:
                return ""  # its text is closed already: close() will notice
            if not open_string:
                self._open_string = None
            return json.dumps(value, ensure_ascii=False)[1:-1] + ("" if open_string else '"')
        _put(node, leaf, value)
        text = json.dumps(value, ensure_ascii=False)
        prefix = self._navigate(path)
        if isinstance(value, str) and open_string:
            self._open_string = path
            return prefix + text[:-1]
        return prefix + text

    def _navigate(self, path: list[str | int]) -> str:
        """JSON text from the last value written to the key of the value at ``path``."""
        out: list[str] = []
        if self._open_string is not None:
            out.append('"')
        self._open_string = None
        if not self._stack:
            self._stack.append(_Frame("", array=False))
            out.append("{")
        containers, leaf = path[:-1], path[-1]
        keep = 1
        while (
            keep < len(self._stack)
            and keep <= len(containers)
            and self._stack[keep].segment == containers[keep - 1]
        ):
            keep += 1
        while len(self._stack) > keep:
            out.append("]" if self._stack.pop().array else "}")
        for depth in range(len(self._stack) - 1, len(containers)):
            following = containers[depth + 1] if depth + 1 < len(containers) else leaf
            out.append(self._key(containers[depth]))
            array = isinstance(following, int)
            out.append("[" if array else "{")
            self._stack.append(_Frame(containers[depth], array=array))
        out.append(self._key(leaf))
        return "".join(out)

    def _key(self, segment: str | int) -> str:
        parent = self._stack[-1]
        comma = "," if parent.children else ""
        parent.children += 1
        if isinstance(segment, int):
            return comma
        return f"{comma}{json.dumps(segment, ensure_ascii=False)}:"

    def close(self) -> str:
        """The text that completes the arguments' JSON, or ``""`` if it cannot."""
        whole = json.dumps(self.value, ensure_ascii=False, separators=(",", ":"))
        sent = "".join(self._sent)
        return whole[len(sent) :] if whole.startswith(sent) else ""


# ---------------------------------------------------------------- answers


def _count(meta: Mapping[str, Any], key: str) -> int:
    value = meta.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def _usage(meta: Mapping[str, Any]) -> Usage:
    prompt = _count(meta, "promptTokenCount") + _count(meta, "toolUsePromptTokenCount")
    thoughts = _count(meta, "thoughtsTokenCount")
    return _checked_usage(  # the counts are checked by _count
        input_tokens=prompt,
        output_tokens=_count(meta, "candidatesTokenCount") + thoughts,
        cached_input_tokens=min(_count(meta, "cachedContentTokenCount"), prompt),
        reasoning_tokens=thoughts,
    )


def _finish_reason(raw: str | None, *, blocked: bool, called: bool) -> FinishReason:
    if blocked or raw in _FILTERED:
        return "content_filter"
    if raw == "MAX_TOKENS":
        return "length"
    return "tool_calls" if called else "stop"


def _read_answer(body: Any, model: str) -> ModelResponse:
    """A whole body, fed to the stream parser as one chunk (the general way)."""
    parser = GeminiStreamParser(model=model)
    parser.feed_payload(body)
    return parser.response()


def _quick_answer(body: Any, model: str) -> ModelResponse | None:
    """An answer of text alone, read without the stream parser.

    The commonest body: no ``error``, and a first candidate whose content
    parts are all ``{"text": <str>}``. The parser would append each non-empty
    text to one text part; this builds that response directly. Anything else
    (a thought, a signature, a function call, a blocked prompt, another
    field or type) is ``None``, and the caller feeds the body to the parser
    (:func:`_read_answer`).
    """
    if type(body) is not dict or body.get("error") is not None:
        return None
    candidates = body.get("candidates")
    if type(candidates) is not list or not candidates:
        return None
    candidate = candidates[0]
    if type(candidate) is not dict:
        return None
    content = candidate.get("content")
    texts = text_blocks(content.get("parts") if type(content) is dict else None, None)
    if texts is None:
        return None
    finish = candidate.get("finishReason")
    raw = finish if type(finish) is str and finish else None
    meta = body.get("usageMetadata")
    version = body.get("modelVersion")
    response_id = body.get("responseId")
    return _model_response(
        text_message(texts),
        _finish_reason(raw, blocked=False, called=False),
        _usage(meta) if type(meta) is dict else _NO_USAGE,
        model=version if type(version) is str and version else model,
        provider=PROVIDER,
        response_id=response_id if type(response_id) is str and response_id else None,
        raw_finish_reason=raw,
    )


class GeminiStreamParser:
    """Reads ``GenerateContentResponse`` payloads: the chunks of a stream, or a whole body.

    Args:
        model: The model asked for (used when the answer names none).

    Attributes:
        builder: The message being accumulated.
        done: Whether a chunk with a ``finishReason`` (or a blocked prompt) arrived.
    """

    def __init__(self, *, model: str | None = None) -> None:
        self.builder = MessageBuilder(PROVIDER)
        self.done = False
        self.usage = Usage()
        self._model = model
        self._response_id: str | None = None
        self._finish: str | None = None
        self._blocked = False
        self._calls = 0
        self._blocks = 0
        self._thought: int | None = None
        self._open: int | None = None
        self._arguments: _StreamedArguments | None = None
        # The last usageMetadata read, and its values' types (see _take_usage).
        self._meta: dict[str, Any] | None = None
        self._meta_types: tuple[type, ...] = ()

    # ------------------------------------------------------------ input

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        """Take one SSE event.

        Raises:
            ProviderError: For an in-band error payload (typed as for an HTTP error).
            ProviderProtocolError: For a payload that is not a JSON object.
        """
        return self._feed_data(event.data)

    def _feed_data(self, data: str, event: str = "message") -> list[StreamEvent]:
        """:meth:`feed` of an event given by its data and type (the core calls it directly)."""
        try:
            payload = loads_json(data)
        except ValueError:
            raise ProviderProtocolError(
                f"a stream event is not JSON: {data[:100]!r}", provider=PROVIDER
            ) from None
        return self.feed_payload(payload)

    def feed_payload(self, payload: Any) -> list[StreamEvent]:
        """Take one parsed ``GenerateContentResponse`` (a chunk or a whole answer).

        Raises:
            ProviderError: For an error envelope.
            ProviderProtocolError: For anything but a JSON object.
        """
        if not isinstance(payload, dict):
            if (
                isinstance(payload, list)
                and payload
                and isinstance(payload[0], dict)
                and payload[0].get("error") is not None
            ):
                raise error_from_body(payload, provider=PROVIDER, status=None)
            raise ProviderProtocolError(
                f"expected a GenerateContentResponse object, got {type(payload).__name__}",
                provider=PROVIDER,
            )
        if payload.get("error") is not None:
            raise error_from_body(payload, provider=PROVIDER, status=None)
        if isinstance(model := payload.get("modelVersion"), str) and model:
            self._model = model
        if isinstance(response_id := payload.get("responseId"), str) and response_id:
            self._response_id = response_id
        events: list[StreamEvent] = []
        candidates = payload.get("candidates")
        if (text := self._lone_text(candidates)) is not None:
            self._thought = None  # what _part does with a text part
            if delta := self.builder.text(text):
                events.append(delta)
        elif isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
            self._candidate(candidates[0], events)
        elif isinstance(feedback := payload.get("promptFeedback"), dict):
            reason = feedback.get("blockReason")
            if isinstance(reason, str) and reason:
                self._finish = reason
                self._blocked = True
                self.done = True
        meta = payload.get("usageMetadata")
        if isinstance(meta, dict):
            self._take_usage(meta, events)
        return events

    def _lone_text(self, candidates: object) -> str | None:
        """The text of the commonest chunk, or ``None`` for :meth:`_candidate` to read it.

        That chunk's one candidate has no finish reason and one content part,
        ``{"text": <str>}`` alone: all :meth:`_candidate` would do with it is
        add the text. (It reads nothing else of a candidate or its content.)
        """
        if type(candidates) is not list or len(candidates) != 1:
            return None
        candidate = candidates[0]
        if type(candidate) is not dict or candidate.get("finishReason") is not None:
            return None
        content = candidate.get("content")
        parts = content.get("parts") if type(content) is dict else None
        if type(parts) is not list or len(parts) != 1:
            return None
        part = parts[0]
        if type(part) is not dict or len(part) != 1:
            return None
        text = part.get("text")
        return text if type(text) is str else None

    def _take_usage(self, meta: dict[str, Any], events: list[StreamEvent]) -> None:
        """Read ``usageMetadata``, which Gemini repeats on every chunk.

        The same counts as last time (equal values of the same types, so
        ``1`` and ``true`` differ) give the same usage, which is not read again.
        """
        types = tuple(map(type, meta.values()))
        if meta == self._meta and types == self._meta_types:
            return
        self._meta, self._meta_types = meta, types
        usage = _usage(meta)
        if usage != self.usage:
            self.usage = usage
            events.append(UsageUpdate(usage=usage))

    def _candidate(self, candidate: Mapping[str, Any], events: list[StreamEvent]) -> None:
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict):
                self._part(part, events)
        finish = candidate.get("finishReason")
        if isinstance(finish, str) and finish:
            self._finish = finish
            self.done = True
            if self._open is not None and finish == "MAX_TOKENS":
                self._cut(events, "the output token limit (MAX_TOKENS) cut the call short")
            else:
                self._close(events)

    def _part(self, part: Mapping[str, Any], events: list[StreamEvent]) -> None:
        builder = self.builder
        signature = part.get("thoughtSignature")
        signature = signature if isinstance(signature, str) and signature else None
        text = part.get("text")
        text = text if isinstance(text, str) else None
        if part.get("thought") is True:
            if self._thought is None:
                self._blocks += 1
                self._thought = self._blocks
            key = ("thought", self._thought)
            if event := builder.reasoning(text, key=key, summary=True):
                events.append(event)
            if signature is not None:
                builder.reasoning_meta(key=key, summary=True, signature=signature)
                self._thought = None  # one signature per reasoning part
            return
        self._thought = None
        call = part.get("functionCall")
        if isinstance(call, dict):
            self._function_call(call, signature, events)
            return
        if signature is not None:
            self._blocks += 1
            key = ("signature", self._blocks)
            builder.reasoning_meta(key=key, summary=True, signature=signature)
        if delta := builder.text(text):
            events.append(delta)

    def _function_call(
        self, call: Mapping[str, Any], signature: str | None, events: list[StreamEvent]
    ) -> None:
        builder = self.builder
        name = call.get("name")
        if not isinstance(name, str) or not name:
            # A continuation of the call whose arguments are streaming (Vertex).
            if self._open is None or self._arguments is None:
                return
            self._stream_arguments(call.get("partialArgs"), events)
            if call.get("willContinue") is not True:
                self._close(events)
            return
        self._close(events)
        index = self._calls
        self._calls += 1
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            call_id = f"call-{self._response_id}-{index}" if self._response_id else f"call-{index}"
        events.append(builder.tool_start(index, call_id, name, signature=signature))
        args = call.get("args")
        if args is None and call.get("willContinue") is True:
            self._open = index
            self._arguments = _StreamedArguments()
            self._stream_arguments(call.get("partialArgs"), events)
            return
        if isinstance(args, dict):
            builder.tool_arguments(index, args)
        elif args is not None:  # not an object: the builder records the problem
            builder.tool_delta(index, json.dumps(args))
        self._end(index, events)

    def _stream_arguments(self, partial_args: object, events: list[StreamEvent]) -> None:
        assert self._open is not None
        assert self._arguments is not None
        if delta := self._arguments.feed(partial_args):
            events.append(ToolCallDelta(index=self._open, arguments=delta))

    def _close(self, events: list[StreamEvent]) -> None:
        """End the call whose arguments were streaming, if there is one."""
        index, arguments = self._open, self._arguments
        if index is None or arguments is None:
            return
        self._open = self._arguments = None
        if closing := arguments.close():
            events.append(ToolCallDelta(index=index, arguments=closing))
        self.builder.tool_arguments(index, arguments.value)
        self._end(index, events)

    def _end(self, index: int, events: list[StreamEvent]) -> None:
        end = self.builder.tool_end(index)
        assert end is not None  # each call ends once: indexes are never reused
        events.append(end)

    def _cut(self, events: list[StreamEvent], why: str) -> None:
        index, arguments = self._open, self._arguments
        assert index is not None
        assert arguments is not None
        self._open = self._arguments = None
        self.builder.tool_arguments(index, arguments.value)
        events.append(self.builder.tool_cut(index, why))

    # ------------------------------------------------------------ output

    def _answer(self, message: Message) -> ModelResponse:
        return _model_response(
            message,
            _finish_reason(self._finish, blocked=self._blocked, called=bool(message.tool_calls)),
            self.usage,
            model=self._model,
            provider=PROVIDER,
            response_id=self._response_id,
            raw_finish_reason=self._finish,
        )

    def response(self) -> ModelResponse:
        """The whole answer."""
        return self._answer(self.builder.message())

    def partial(self) -> ModelResponse:
        """What arrived so far; calls not ended are marked incomplete."""
        if self._open is not None and self._arguments is not None:
            self.builder.tool_arguments(self._open, copy.deepcopy(self._arguments.value))
        return self._answer(self.builder.message(cut="the stream ended before the call did"))
