"""Reading OpenAI Responses answers: whole ``response`` objects and streamed events.

:class:`OpenAIResponsesStreamParser` turns the Responses API's typed stream
events into the neutral stream events, and reads a whole ``response``
object (``load``); :mod:`actrio.adapters.openai_responses` (the adapter and
its request bodies) uses it. The protocol facts it follows are listed in
that module's docstring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NoReturn

from actrio.adapters._accumulate import MessageBuilder, text_blocks, text_message
from actrio.adapters._json import loads_json
from actrio.adapters.errors import ProviderError, ProviderProtocolError, error_from_body
from actrio.types import (
    ModelResponse,
    Usage,
    UsageUpdate,
    _checked_usage,
    _model_response,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Mapping

    from actrio.adapters.sse import ServerSentEvent
    from actrio.messages import Message
    from actrio.types import FinishReason, StreamEvent

__all__ = ("OpenAIResponsesStreamParser", "PROVIDER")

PROVIDER: Final = "openai-responses"
_INCOMPLETE: Final[Mapping[str, FinishReason]] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}
_CUT_SHORT: Final = "the stream ended before the call was complete"
_NO_USAGE: Final = Usage()


# ---------------------------------------------------------------- reading helpers


def _protocol(message: str) -> ProviderProtocolError:
    return ProviderProtocolError(message, provider=PROVIDER)


def _decode(data: str) -> dict[str, Any] | None:
    """An event's payload; ``None`` for an empty one or a stray ``[DONE]``."""
    # An object needs no strip (loads_json reads blanks after it as json.loads does).
    text = data if data[:1] == "{" else data.strip()
    if not text or text == "[DONE]":
        return None
    try:
        payload = loads_json(text)
    except ValueError:
        raise _protocol(f"an event's data is not JSON: {data.strip()[:80]!r}") from None
    if not isinstance(payload, dict):
        raise _protocol(f"an event's data is not a JSON object: {data.strip()[:80]!r}")
    return payload


def _str(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _count(obj: Any, key: str) -> int:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 0


def _index(payload: dict[str, Any]) -> int:
    index = payload.get("output_index")
    if isinstance(index, int) and not isinstance(index, bool):
        return index
    raise _protocol(f"a {payload.get('type')} event without an integer output_index")


def _sub_index(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if isinstance(value, dict):
        return value
    raise _protocol(f"a {payload.get('type')} event without its {key!r} object")


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return _checked_usage(  # the counts are checked by _count
        input_tokens=_count(raw, "input_tokens"),
        output_tokens=_count(raw, "output_tokens"),
        cached_input_tokens=_count(raw.get("input_tokens_details"), "cached_tokens"),
        reasoning_tokens=_count(raw.get("output_tokens_details"), "reasoning_tokens"),
    )


def _finish(
    status: str | None, reason: str | None, called: bool, refused: bool
) -> tuple[FinishReason, str | None]:
    if status == "incomplete":
        return _INCOMPLETE.get(reason or "", "length"), reason or status
    if called:
        return "tool_calls", status
    if refused:
        return "refusal", status
    return "stop", status


def _read_response(body: dict[str, Any]) -> ModelResponse:
    """A whole response body, replayed through the stream parser (the general way)."""
    parser = OpenAIResponsesStreamParser()
    parser.load(body)
    return parser.response()


def _quick_response(body: dict[str, Any]) -> ModelResponse | None:
    """A completed response of message text alone, read without the stream parser.

    The commonest answer: ``status`` is ``completed`` and every output item is
    a ``message`` whose content is ``output_text`` parts with string text.
    The parser would append each non-empty text to one text part and
    finish with ``stop``; this builds that response directly. Anything else
    (a refusal, a function call, reasoning, another item or field type) is
    ``None``, and the caller replays the body through the parser
    (:func:`_read_response`).
    """
    if body.get("status") != "completed":
        return None
    output = body.get("output")
    if type(output) is not list:
        return None
    texts: list[str] = []
    for item in output:
        if type(item) is not dict or item.get("type") != "message":
            return None
        item_texts = text_blocks(item.get("content"), "output_text")
        if item_texts is None:
            return None
        texts += item_texts
    return _model_response(
        text_message(texts),
        "stop",
        _usage(body.get("usage")) or _NO_USAGE,
        model=_str(body, "model") or None,
        provider=PROVIDER,
        response_id=_str(body, "id") or None,
        raw_finish_reason="completed",
    )


def _some(*events: StreamEvent | None) -> list[StreamEvent]:
    return [e for e in events if e is not None]


# ---------------------------------------------------------------- stream parser


class OpenAIResponsesStreamParser:
    """Reads a Responses event stream (or a whole response) into one message.

    Feed it the stream's events in order; :attr:`done` turns true at
    ``response.completed`` or ``response.incomplete``. A whole response body
    is read with :meth:`load`.

    Attributes:
        builder: The message being accumulated.
        done: Whether the terminal event has arrived.
    """

    def __init__(self) -> None:
        self.builder = MessageBuilder(PROVIDER)
        self.done = False
        self._model: str | None = None
        self._response_id: str | None = None
        self._status: str | None = None
        self._reason: str | None = None
        self._usage = Usage()
        self._refused = False
        self._error: ProviderError | None = None
        self._seen_items = False
        # Text streamed so far per (kind, output index, content/summary index), for `.done`.
        self._texts: dict[Hashable, list[str]] = {}
        self._args: dict[int, list[str]] = {}
        self._ended: set[int] = set()
        # Reasoning blocks opened per output index, in order, and the item ids.
        self._reasoning: dict[int, list[Hashable]] = {}
        self._reasoning_ids: dict[int, str] = {}

    # ------------------------------------------------------------ protocol

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        """Take one SSE event; return the neutral events it produces.

        Raises:
            ProviderError: The typed error of an in-band ``error`` event or a
                ``response.failed`` (the first one, again, for later events).
            ProviderProtocolError: For data that is not a JSON object, or an
                event missing what it must carry.
        """
        return self._feed_data(event.data)

    def _feed_data(self, data: str, event: str = "message") -> list[StreamEvent]:
        """:meth:`feed` of an event given by its data and type (the core calls it directly)."""
        if self._error is not None:
            raise self._error
        payload = _decode(data)
        if payload is None or self.done:
            return []
        kind = payload.get("type")
        if kind == "response.output_text.delta" and (fast := self._text_delta(payload)) is not None:
            return fast
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            if isinstance(payload.get("error"), dict):
                self._raise(payload)
            return []
        return handler(self, payload)

    def load(self, body: dict[str, Any]) -> None:
        """Read a whole ``response`` object, as a non-streaming call returns it.

        Raises:
            ProviderError: The typed error of a ``failed`` response.
            ProviderProtocolError: For a response that is not finished or has
                no ``output`` list.
        """
        status = _str(body, "status") or "completed"
        if status == "failed":
            self._on_failed({"response": body})
        if status not in ("completed", "incomplete"):
            raise _protocol(f"the response's status is {status!r}, not a finished one")
        if not isinstance(body.get("output"), list):
            raise _protocol("the response has no output list")
        self._end(body, status)

    def response(self) -> ModelResponse:
        """The whole response (once :attr:`done`)."""
        return self._result(self.builder.message())

    def partial(self) -> ModelResponse:
        """What arrived so far; calls not ended are marked cut short.

        The finish reason is inferred from what arrived (``tool_calls``,
        ``refusal`` or ``stop``) as for a whole response: a partial answer is
        told apart by the error that carries it, not by its finish reason.
        """
        return self._result(self.builder.message(cut=_CUT_SHORT))

    def _result(self, message: Message) -> ModelResponse:
        finish, raw = _finish(self._status, self._reason, bool(message.tool_calls), self._refused)
        return _model_response(
            message,
            finish,
            self._usage,
            model=self._model,
            provider=PROVIDER,
            response_id=self._response_id,
            raw_finish_reason=raw,
        )

    # ------------------------------------------------------------ lifecycle

    def _on_snapshot(self, payload: dict[str, Any]) -> list[StreamEvent]:
        response = payload.get("response")
        if isinstance(response, dict):
            self._snapshot(response)
        return []

    def _snapshot(self, response: dict[str, Any]) -> None:
        self._response_id = _str(response, "id") or self._response_id
        self._model = _str(response, "model") or self._model

    def _on_completed(self, payload: dict[str, Any]) -> list[StreamEvent]:
        return self._end(_object(payload, "response"), "completed")

    def _on_incomplete(self, payload: dict[str, Any]) -> list[StreamEvent]:
        return self._end(_object(payload, "response"), "incomplete")

    def _end(self, response: dict[str, Any], status: str) -> list[StreamEvent]:
        self._snapshot(response)
        events = [] if self._seen_items else self._replay(response)
        self._status = _str(response, "status") or status
        self._reason = _str(response.get("incomplete_details"), "reason")
        usage = _usage(response.get("usage"))
        if usage is not None:
            self._usage = usage
            events.append(UsageUpdate(usage=usage))
        cut = self._status == "incomplete"
        for index in self.builder.open_tools():
            events += self._end_call(index, None, cut=cut)
        self.done = True
        return events

    def _replay(self, response: dict[str, Any]) -> list[StreamEvent]:
        """Read a response's output items as if each had come in ``output_item.done``."""
        events: list[StreamEvent] = []
        for index, item in enumerate(_list(response.get("output"))):
            events += self._on_item_done({"type": "output", "output_index": index, "item": item})
        return events

    def _on_failed(self, payload: dict[str, Any]) -> NoReturn:
        self.done = True
        response = payload.get("response")
        error = response.get("error") if isinstance(response, dict) else None
        self._raise({"error": error} if isinstance(error, dict) else None)

    def _on_error(self, payload: dict[str, Any]) -> NoReturn:
        if isinstance(payload.get("error"), dict):
            self._raise(payload)
        # The documented flat form: {"type": "error", "code", "message", "param"}.
        self._raise({"error": {k: payload.get(k) for k in ("code", "message", "param")}})

    def _raise(self, body: Any) -> NoReturn:
        # Kept: every later event raises it again (the first error wins).
        self._error = error_from_body(
            body, provider=PROVIDER, status=None, fallback="the response failed"
        )
        raise self._error

    # ------------------------------------------------------------ items

    def _on_item_added(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = _index(payload)
        item = _object(payload, "item")
        self._seen_items = True
        kind = item.get("type")
        if kind == "function_call":
            return self._start_call(index, item)
        item_id = _str(item, "id")
        if kind == "reasoning" and item_id is not None:
            self._reasoning_ids[index] = item_id
        return []

    def _on_item_done(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = _index(payload)
        item = _object(payload, "item")
        self._seen_items = True
        kind = item.get("type")
        if kind == "function_call":
            events = self._start_call(index, item)
            cut = item.get("status") == "incomplete"
            return events + self._end_call(index, item.get("arguments"), cut=cut)
        if kind == "reasoning":
            return self._reasoning_done(index, item)
        if kind == "message":
            return self._message_done(index, item)
        return []

    def _message_done(self, index: int, item: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for position, part in enumerate(_list(item.get("content"))):
            kind = _str(part, "type")
            if kind == "refusal":
                self._refused = True
            if kind in ("output_text", "refusal"):
                key = ("text", index, position)
                field = "text" if kind == "output_text" else "refusal"
                events += self._append_text(key, self._catch_up(key, _str(part, field)))
        return events

    # ------------------------------------------------------------ text

    def _on_text_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        key = ("text", _index(payload), _sub_index(payload, "content_index"))
        return self._append_text(key, _str(payload, "delta"))

    def _text_delta(self, payload: dict[str, Any]) -> list[StreamEvent] | None:
        """:meth:`_on_text_delta` of a delta whose indexes are integers and text a string.

        ``None`` leaves anything else to the handler (which reads a missing
        ``content_index`` as 0, and raises for a bad ``output_index``).
        """
        index = payload.get("output_index")
        sub = payload.get("content_index")
        delta = payload.get("delta")
        if type(index) is not int or type(sub) is not int or type(delta) is not str:
            return None
        if not delta:
            return []
        self._texts.setdefault(("text", index, sub), []).append(delta)
        event = self.builder.text(delta)
        return [] if event is None else [event]

    def _on_text_done(self, payload: dict[str, Any]) -> list[StreamEvent]:
        key = ("text", _index(payload), _sub_index(payload, "content_index"))
        return self._append_text(key, self._catch_up(key, _str(payload, "text")))

    def _on_refusal_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        self._refused = True
        key = ("text", _index(payload), _sub_index(payload, "content_index"))
        return self._append_text(key, _str(payload, "delta"))

    def _on_refusal_done(self, payload: dict[str, Any]) -> list[StreamEvent]:
        self._refused = True
        key = ("text", _index(payload), _sub_index(payload, "content_index"))
        return self._append_text(key, self._catch_up(key, _str(payload, "refusal")))

    def _append_text(self, key: Hashable, delta: str | None) -> list[StreamEvent]:
        if not delta:
            return []
        self._texts.setdefault(key, []).append(delta)
        return _some(self.builder.text(delta))

    def _catch_up(self, key: Hashable, full: str | None) -> str | None:
        """What ``full`` (a ``.done`` text) adds to what was streamed for ``key``.

        A text that does not extend the streamed one is ignored: the deltas
        were delivered already and text cannot be taken back.
        """
        if full is None:
            return None
        so_far = "".join(self._texts.get(key, ()))
        if full == so_far or not full.startswith(so_far):
            return None
        return full[len(so_far) :]

    # ------------------------------------------------------------ reasoning

    def _on_summary_part(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = _index(payload)
        key = ("summary", index, _sub_index(payload, "summary_index"))
        self._open_reasoning(index, key, summary=True, item_id=_str(payload, "item_id"))
        return []

    def _on_summary_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = _index(payload)
        key = ("summary", index, _sub_index(payload, "summary_index"))
        self._open_reasoning(index, key, summary=True, item_id=_str(payload, "item_id"))
        return self._append_reasoning(key, _str(payload, "delta"), summary=True)

    def _on_summary_done(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = _index(payload)
        key = ("summary", index, _sub_index(payload, "summary_index"))
        self._open_reasoning(index, key, summary=True, item_id=_str(payload, "item_id"))
        return self._append_reasoning(key, self._catch_up(key, _str(payload, "text")), summary=True)

    def _on_reasoning_text_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = _index(payload)
        key = ("content", index, _sub_index(payload, "content_index"))
        self._open_reasoning(index, key, summary=False, item_id=_str(payload, "item_id"))
        return self._append_reasoning(key, _str(payload, "delta"), summary=False)

    def _on_reasoning_text_done(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = _index(payload)
        key = ("content", index, _sub_index(payload, "content_index"))
        self._open_reasoning(index, key, summary=False, item_id=_str(payload, "item_id"))
        return self._append_reasoning(
            key, self._catch_up(key, _str(payload, "text")), summary=False
        )

    def _open_reasoning(
        self, index: int, key: Hashable, *, summary: bool, item_id: str | None = None
    ) -> None:
        keys = self._reasoning.setdefault(index, [])
        if key not in keys:
            keys.append(key)
            item_id = item_id or self._reasoning_ids.get(index)
            self.builder.reasoning_meta(key=key, summary=summary, id=item_id)

    def _append_reasoning(
        self, key: Hashable, delta: str | None, *, summary: bool
    ) -> list[StreamEvent]:
        if not delta:
            return []
        self._texts.setdefault(key, []).append(delta)
        return _some(self.builder.reasoning(delta, key=key, summary=summary))

    def _reasoning_done(self, index: int, item: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for kind, summary in (("summary", True), ("content", False)):
            for position, part in enumerate(_list(item.get(kind))):
                key = (kind, index, position)
                self._open_reasoning(index, key, summary=summary)
                full = self._catch_up(key, _str(part, "text"))
                events += self._append_reasoning(key, full, summary=summary)
        if not self._reasoning.get(index):
            # Nothing to read (no summary asked for): the part still carries the item back.
            self._open_reasoning(index, ("item", index, 0), summary=False)
        item_id = _str(item, "id") or self._reasoning_ids.get(index)
        encrypted = _str(item, "encrypted_content")
        for position, block in enumerate(self._reasoning[index]):
            self.builder.reasoning_meta(
                key=block, id=item_id, encrypted=encrypted if position == 0 else None
            )
        return events

    # ------------------------------------------------------------ function calls

    def _start_call(self, index: int, item: dict[str, Any]) -> list[StreamEvent]:
        if self.builder.has_tool(index):
            return []
        call_id = _str(item, "call_id") or _str(item, "id")
        name = _str(item, "name")
        if not call_id or not name:
            raise _protocol(f"the function_call item at output {index} has no call_id or name")
        start = self.builder.tool_start(index, call_id, name, provider_id=_str(item, "id"))
        return [start, *self._append_arguments(index, _str(item, "arguments"))]

    def _need_call(self, payload: dict[str, Any]) -> int:
        index = _index(payload)
        if not self.builder.has_tool(index):
            raise _protocol(f"arguments for output {index} came before its function_call item")
        return index

    def _on_arguments_delta(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = self._need_call(payload)
        return self._append_arguments(index, _str(payload, "delta"))

    def _on_arguments_done(self, payload: dict[str, Any]) -> list[StreamEvent]:
        index = self._need_call(payload)
        return self._end_call(index, _str(payload, "arguments"), cut=False)

    def _append_arguments(self, index: int, fragment: str | None) -> list[StreamEvent]:
        if not fragment or index in self._ended:
            return []
        self._args.setdefault(index, []).append(fragment)
        return _some(self.builder.tool_delta(index, fragment))

    def _end_call(self, index: int, full: Any, *, cut: bool) -> list[StreamEvent]:
        if index in self._ended:
            return []
        events = self._settle_arguments(index, full)
        self._ended.add(index)
        if cut:
            why = f"the response is incomplete ({self._reason or 'no reason given'})"
            return [*events, self.builder.tool_cut(index, why)]
        return events + _some(self.builder.tool_end(index))

    def _settle_arguments(self, index: int, full: Any) -> list[StreamEvent]:
        """Make the call's arguments ``full`` (the ``.done`` text), the source of truth."""
        if not isinstance(full, str):
            return []
        so_far = "".join(self._args.get(index, ()))
        if full == so_far:
            return []
        if full.startswith(so_far):
            return self._append_arguments(index, full[len(so_far) :])
        self.builder.tool_replace_arguments(index, full)
        self._args[index] = [full]
        return []


_P = OpenAIResponsesStreamParser
_HANDLERS: Final[Mapping[str, Callable[[_P, dict[str, Any]], list[StreamEvent]]]] = {
    "response.created": _P._on_snapshot,
    "response.in_progress": _P._on_snapshot,
    "response.queued": _P._on_snapshot,
    "response.output_item.added": _P._on_item_added,
    "response.output_item.done": _P._on_item_done,
    "response.output_text.delta": _P._on_text_delta,
    "response.output_text.done": _P._on_text_done,
    "response.refusal.delta": _P._on_refusal_delta,
    "response.refusal.done": _P._on_refusal_done,
    "response.function_call_arguments.delta": _P._on_arguments_delta,
    "response.function_call_arguments.done": _P._on_arguments_done,
    "response.reasoning_summary_part.added": _P._on_summary_part,
    "response.reasoning_summary_text.delta": _P._on_summary_delta,
    "response.reasoning_summary_text.done": _P._on_summary_done,
    "response.reasoning_text.delta": _P._on_reasoning_text_delta,
    "response.reasoning_text.done": _P._on_reasoning_text_done,
    "response.completed": _P._on_completed,
    "response.incomplete": _P._on_incomplete,
    "response.failed": _P._on_failed,
    "error": _P._on_error,
}
"""Event ``type`` → handler; anything else is ignored (unless it carries an ``error``)."""
