"""The Anthropic Messages API: ``POST {base_url}/v1/messages``, streaming and not.

:class:`AnthropicMessages` speaks the Messages API over httpx (headers
``x-api-key`` and ``anthropic-version: 2023-06-01``); its
:class:`AnthropicStreamParser` reads the event stream. The dialect decisions:

Requests
    - System messages become the top-level ``system`` string (their texts
      joined by blank lines), left out when empty.
    - ``messages`` alternate user / assistant: consecutive turns of the same
      role are merged, tool messages become ``tool_result`` blocks
      (``tool_use_id``, ``content``, ``is_error`` when true) of a user turn,
      and in every user turn the ``tool_result`` blocks come first, as the
      API requires. Empty text parts are left out (the API refuses empty
      text blocks) and a turn left with no blocks is dropped.
    - Images: bytes and ``data:`` URLs become ``base64`` sources with their
      media type; ``http(s)`` URLs become ``url`` sources.
    - Assistant parts keep their order: text, ``tool_use`` (``input`` is the
      arguments object) and reasoning. Reasoning goes back only if it is
      Anthropic's: a ``thinking`` block (text and ``signature``, byte for
      byte) or, when redacted, a ``redacted_thinking`` block (``data`` =
      ``encrypted``). Anthropic reasoning without its signature (a stream
      cut short) cannot be verified by the API and is left out, and so is
      every other provider's reasoning.
    - ``max_tokens`` is required by the API: ``ModelRequest.max_tokens``,
      else the adapter's ``default_max_tokens`` (:data:`DEFAULT_MAX_TOKENS`,
      4096).
    - Reasoning ``raw`` and ``summary`` both turn on extended thinking,
      ``thinking: {type: "enabled", budget_tokens}``; the budget is
      ``AnthropicExtras.thinking_budget``, else :data:`THINKING_BUDGETS` by
      ``reasoning_effort`` (low 1024, medium 4096, high 16384; medium when
      unset). With reasoning ``none`` neither the budget nor the effort is
      sent. Thinking counts against ``max_tokens``: without an explicit
      ``max_tokens`` the adapter asks for budget + ``default_max_tokens``;
      an explicit ``max_tokens`` not above the budget is refused
      (:class:`~actrio.types.RequestError`), and so are the settings the API
      forbids with thinking: a ``temperature`` other than 1 and a
      ``tool_choice`` that forces a tool.
    - Tools are ``{name, description, input_schema}`` plus ``strict: true``
      for a strict :class:`~actrio.types.ToolSpec`. ``tool_choice``: auto ->
      ``auto``, required -> ``any``, none -> ``none``, a tool name ->
      ``{type: "tool", name}``; without tools ``auto`` and ``none`` are left
      out and ``required`` is refused.
    - Structured output is ``output_config: {format: {type: "json_schema",
      schema}}`` (Anthropic's structured outputs are always strict); the
      answer arrives as ordinary text.
    - ``temperature``, ``stop`` (``stop_sequences``) and the
      :class:`~actrio.types.AnthropicExtras` (``top_k``, ``top_p``,
      ``metadata.user_id``) are passed through; ``AnthropicExtras.body`` is
      merged last, recursively into JSON objects (so
      ``{"output_config": {"effort": "high"}}`` keeps a structured-output
      format). Other providers' extras are ignored.

Responses
    - Content blocks are read in order: ``text``, ``tool_use`` (parsed
      ``input``; missing or empty means ``{}``), ``thinking`` (a
      :class:`~actrio.messages.ReasoningPart` with its ``signature``) and
      ``redacted_thinking`` (``redacted``, ``encrypted`` = ``data``);
      unknown block types (server tools, ...) are skipped. A non-streaming
      body is read by the same :class:`~actrio.adapters._accumulate.MessageBuilder`
      as a stream, so both give the same message.
    - ``stop_reason``: ``end_turn``, ``stop_sequence`` and ``pause_turn`` ->
      stop; ``max_tokens`` and ``model_context_window_exceeded`` -> length;
      ``tool_use`` -> tool_calls; ``refusal`` -> refusal; anything else ->
      stop. The provider's word is kept in ``raw_finish_reason``.
    - At ``max_tokens`` a tool call still being written is marked
      ``complete=False`` and must not run (P-16): in a stream, every
      ``tool_use`` block without its ``content_block_stop`` when
      ``message_delta`` arrives; in a whole body, a ``tool_use`` block that
      is the last block.
    - Usage: input = ``input_tokens`` + ``cache_read_input_tokens`` +
      ``cache_creation_input_tokens``; cached input = cache reads; cache
      writes = cache creation; output = ``output_tokens``.

Streams
    - ``message_start`` ... ``message_stop``; the stream is done only at
      ``message_stop``. Events are dispatched on the parsed payload's
      ``type``, not on the ``event:`` line, which some streams leave out
      (fact 15; padded JSON is fine, fact 12); ``ping`` and unknown types are
      ignored. Deltas are routed by the block
      ``index``: ``text_delta``, ``input_json_delta`` (parsed only at
      ``content_block_stop``; only ``""`` fragments mean ``{}``),
      ``thinking_delta`` and ``signature_delta`` (kept byte for byte);
      ``citations_delta`` and unknown delta types are ignored;
      ``redacted_thinking`` arrives whole in ``content_block_start``.
    - ``message_delta`` usage is cumulative and final: its fields replace
      those of ``message_start`` (fact 58). A
      :class:`~actrio.types.UsageUpdate` is emitted at both.
    - An error payload (``type: "error"``, with or without an ``event:
      error`` line) raises the typed error of
      :func:`~actrio.adapters.errors.error_from_body` (``overloaded_error``
      -> :class:`~actrio.adapters.errors.Overloaded`); a payload that is not
      a JSON object raises
      :class:`~actrio.adapters.errors.ProviderProtocolError` (Anthropic sends
      no non-JSON keep-alives).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, assert_never
from urllib.parse import unquote_to_bytes

from actrio.adapters._accumulate import MessageBuilder, text_blocks, text_message
from actrio.adapters._base import HTTPAdapter
from actrio.adapters._json import loads_json, plain_json
from actrio.adapters.errors import ProviderProtocolError, error_from_body
from actrio.messages import ImagePart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from actrio.types import (
    AnthropicExtras,
    ModelRequest,
    ModelResponse,
    RequestError,
    Usage,
    UsageUpdate,
    _checked_usage,
    _model_response,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx
    import trio

    from actrio.adapters.retry import RetryPolicy
    from actrio.adapters.sse import ServerSentEvent
    from actrio.messages import Message, Part
    from actrio.types import FinishReason, StreamEvent, ToolSpec

__all__ = (
    "API_VERSION",
    "AnthropicMessages",
    "AnthropicStreamParser",
    "DEFAULT_MAX_TOKENS",
    "THINKING_BUDGETS",
)

PROVIDER: Final = "anthropic"

API_VERSION: Final = "2023-06-01"
"""The ``anthropic-version`` header sent with every request."""

DEFAULT_MAX_TOKENS: Final = 4096
"""``max_tokens`` when the request sets none (the API requires one)."""

THINKING_BUDGETS: Final[Mapping[str, int]] = {"low": 1024, "medium": 4096, "high": 16384}
"""Extended-thinking ``budget_tokens`` by ``reasoning_effort`` (medium when unset)."""

_FINISH: Final[Mapping[str, FinishReason]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
}

_CUT_AT_MAX_TOKENS: Final = (
    "the output token limit (max_tokens) was reached while writing this call"
)


def _protocol(message: str) -> ProviderProtocolError:
    return ProviderProtocolError(message, provider=PROVIDER)


# ---------------------------------------------------------------- request


def _merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Merge ``extra`` into ``target``, recursing where both sides are JSON objects."""
    for key, value in extra.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _merge(current, value)
        else:
            target[key] = plain_json(value)


def _image_source(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        return {"type": "base64", "media_type": part.media_type, "data": part.as_base64()}
    url = part.url
    assert url is not None
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    header, comma, payload = url[5:].partition(",")
    params = header.split(";")
    media_type = params[0].strip()
    if not comma or not media_type:
        raise RequestError(
            "ImagePart.url: a data: URL needs a media type and a comma before the data"
        )
    if params[-1].strip().lower() == "base64":
        data = "".join(payload.split())
    else:
        data = base64.b64encode(unquote_to_bytes(payload)).decode("ascii")
    return {"type": "base64", "media_type": media_type, "data": data}


def _reasoning_block(part: ReasoningPart) -> dict[str, Any] | None:
    if part.provider != PROVIDER:
        return None  # signatures are Anthropic's own: other providers' reasoning is dropped
    if part.redacted:
        if part.encrypted is None:
            return None
        return {"type": "redacted_thinking", "data": part.encrypted}
    if part.signature is None:
        return None  # cut short before its signature: the API would refuse it
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def _block(part: Part) -> dict[str, Any] | None:
    """The content block for ``part`` (``None``: nothing to send)."""
    match part:
        case TextPart():
            return {"type": "text", "text": part.text} if part.text else None
        case ImagePart():
            return {"type": "image", "source": _image_source(part)}
        case ToolCallPart():
            return {
                "type": "tool_use",
                "id": part.id,
                "name": part.name,
                "input": plain_json(part.arguments),
            }
        case ToolResultPart():
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": part.tool_call_id,
                "content": part.content,
            }
            if part.is_error:
                result["is_error"] = True
            return result
        case ReasoningPart():
            return _reasoning_block(part)
        case _:
            assert_never(part)


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Alternating user / assistant turns for ``messages`` (system messages left out)."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = [b for b in map(_block, message.parts) if b is not None]
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user" and len(turn["content"]) > 1:
            # Tool results must open a user turn; the sort is stable.
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return turns


def _tool(spec: ToolSpec) -> dict[str, Any]:
    tool: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "input_schema": plain_json(spec.parameters),
    }
    if spec.strict:
        tool["strict"] = True
    return tool


def _tool_choice(request: ModelRequest, *, thinking: bool) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if not request.tools:
        if choice == "required":
            raise RequestError("ModelRequest.tool_choice: 'required' needs at least one tool")
        return None  # auto / none without tools: nothing to say
    if choice in ("auto", "none"):
        return {"type": choice}
    if thinking:
        raise RequestError(
            f"ModelRequest.tool_choice: {choice!r} forces a tool call, which Anthropic does "
            "not allow with extended thinking (use 'auto', or reasoning='none')"
        )
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def _sampling(
    body: dict[str, Any],
    request: ModelRequest,
    extras: AnthropicExtras | None,
    *,
    thinking: bool,
) -> None:
    if request.temperature is not None:
        if thinking and request.temperature != 1:
            raise RequestError(
                f"ModelRequest.temperature: {request.temperature} with extended thinking; "
                "Anthropic allows only 1 (or none) when thinking is on"
            )
        body["temperature"] = request.temperature
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if extras is None:
        return
    if extras.top_k is not None:
        body["top_k"] = extras.top_k
    if extras.top_p is not None:
        body["top_p"] = extras.top_p
    if extras.user_id is not None:
        body["metadata"] = {"user_id": extras.user_id}


def _thinking_budget(request: ModelRequest, extras: AnthropicExtras | None) -> int | None:
    """The extended-thinking budget, or ``None`` when reasoning is off."""
    if request.reasoning == "none":
        return None
    if extras is not None and extras.thinking_budget is not None:
        return extras.thinking_budget
    return THINKING_BUDGETS[request.reasoning_effort or "medium"]


# ---------------------------------------------------------------- response


def _count(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return value


def _usage(raw: Mapping[str, Any]) -> Usage:
    read = _count(raw, "cache_read_input_tokens")
    write = _count(raw, "cache_creation_input_tokens")
    return _checked_usage(  # the counts are checked by _count
        input_tokens=_count(raw, "input_tokens") + read + write,
        output_tokens=_count(raw, "output_tokens"),
        cached_input_tokens=read,
        cache_write_tokens=write,
    )


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _str(mapping: Mapping[str, Any], key: str, where: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str):
        raise _protocol(f"{where}: {key!r} is not a string")
    return value


def _index(payload: Mapping[str, Any]) -> int:
    index = payload.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise _protocol(f"{payload.get('type')}: 'index' is not an integer")
    return index


def _object(payload: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise _protocol(f"{payload.get('type')}: {key!r} is not an object")
    return value


def _open_block(builder: MessageBuilder, index: int, block: Mapping[str, Any]) -> list[StreamEvent]:
    """Start the content block ``index`` (whole, for a non-streaming body)."""
    event: StreamEvent | None = None
    match block.get("type"):
        case "text":
            event = builder.text(_str(block, "text", "text block"))
        case "thinking":
            event = builder.reasoning(_str(block, "thinking", "thinking block"), key=index)
            signature = block.get("signature")
            if isinstance(signature, str) and signature:
                builder.reasoning_meta(key=index, signature=signature)
        case "redacted_thinking":
            data = _str(block, "data", "redacted_thinking block")
            builder.reasoning_meta(key=index, encrypted=data, redacted=True)
        case "tool_use":
            event = builder.tool_start(
                index, _str(block, "id", "tool_use block"), _str(block, "name", "tool_use block")
            )
            arguments = block.get("input")
            if isinstance(arguments, dict):
                if arguments:  # streams start with {} and send the input as deltas
                    builder.tool_arguments(index, arguments)
            elif arguments is not None:
                # Not an object: kept as raw text, so the call carries a problem.
                builder.tool_delta(index, json.dumps(arguments))
        case _:
            pass  # server tools, citations' search results, ...: not in the vocabulary
    return [] if event is None else [event]


def _response(
    builder: MessageBuilder,
    stop_reason: str | None,
    usage: Mapping[str, Any],
    *,
    model: str | None,
    response_id: str | None,
) -> ModelResponse:
    return _model_response(
        builder.message(),
        _FINISH.get(stop_reason or "", "stop"),
        _usage(usage),
        model=model,
        provider=PROVIDER,
        response_id=response_id,
        raw_finish_reason=stop_reason,
    )


def _quick_message(body: dict[str, Any]) -> ModelResponse | None:
    """A message of text blocks alone, read without the message builder.

    The commonest body: ``type`` is ``message`` and every content block is a
    ``text`` block with string text. :func:`_read_message` would append each
    non-empty text to one text part; this builds that response directly.
    Anything else (thinking, a tool call, another block or field type) is
    ``None``, and the caller reads the body the general way
    (:func:`_read_message`).
    """
    texts = text_blocks(body.get("content"), "text")
    if texts is None or body.get("type") != "message":
        return None
    stop_reason = _opt_str(body.get("stop_reason"))
    usage = body.get("usage")
    return _model_response(
        text_message(texts),
        _FINISH.get(stop_reason or "", "stop"),
        _usage(usage if isinstance(usage, dict) else {}),
        model=_opt_str(body.get("model")),
        provider=PROVIDER,
        response_id=_opt_str(body.get("id")),
        raw_finish_reason=stop_reason,
    )


def _parse_message(body: Any) -> ModelResponse:
    """A non-streaming Messages body as a :class:`ModelResponse`."""
    quick = _quick_message(body) if isinstance(body, dict) else None
    return quick if quick is not None else _read_message(body)


def _read_message(body: Any) -> ModelResponse:
    """A non-streaming Messages body read block by block (the general way)."""
    if not isinstance(body, dict):
        raise _protocol("the response body is not a JSON object")
    if body.get("type") == "error":
        raise error_from_body(body, provider=PROVIDER)
    content = body.get("content")
    if not isinstance(content, list):
        raise _protocol("the response has no 'content' list")
    stop_reason = _opt_str(body.get("stop_reason"))
    builder = MessageBuilder(PROVIDER)
    for index, block in enumerate(content):
        if not isinstance(block, dict):
            raise _protocol(f"content[{index}] is not an object")
        _open_block(builder, index, block)
        if block.get("type") == "tool_use":
            if stop_reason == "max_tokens" and index == len(content) - 1:
                builder.tool_cut(index, _CUT_AT_MAX_TOKENS)
            else:
                builder.tool_end(index)
    usage = body.get("usage")
    return _response(
        builder,
        stop_reason,
        usage if isinstance(usage, dict) else {},
        model=_opt_str(body.get("model")),
        response_id=_opt_str(body.get("id")),
    )


# ---------------------------------------------------------------- stream


class AnthropicStreamParser:
    """Reads one Messages event stream into neutral stream events.

    Attributes:
        builder: The message being accumulated.
        done: Whether ``message_stop`` has arrived.
    """

    def __init__(self) -> None:
        self.builder = MessageBuilder(PROVIDER)
        self.done = False
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self._model: str | None = None
        self._id: str | None = None

    def feed(self, event: ServerSentEvent) -> list[StreamEvent]:
        """Take one SSE event; return the neutral events it produces.

        Raises:
            ProviderError: For an error payload (typed by ``error_from_body``).
            ProviderProtocolError: For a payload that is not a JSON object or
                breaks the event grammar.
        """
        return self._feed_data(event.data, event.event)

    def _feed_data(self, data: str, event: str = "message") -> list[StreamEvent]:
        """:meth:`feed` of an event given by its data and type (the core calls it directly)."""
        if data[:1] != "{" and not data.strip():
            return []  # an event with an empty data line: nothing to read
        try:
            payload = loads_json(data)
        except ValueError:
            raise _protocol(f"an event's data is not JSON: {data[:80]!r}") from None
        if not isinstance(payload, dict):
            raise _protocol(f"an event's data is not a JSON object: {data[:80]!r}")
        kind = payload.get("type")
        if kind == "content_block_delta" and event != "error":
            text = self._text_delta(payload)
            if text is not None:
                delta = self.builder.text(text)
                return [] if delta is None else [delta]
        if kind == "error" or event == "error":
            raise error_from_body(payload, provider=PROVIDER, status=None)
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        return [] if handler is None else handler(self, payload)  # ping, types added later

    @staticmethod
    def _text_delta(payload: Mapping[str, Any]) -> str | None:
        """The text of a ``content_block_delta`` of a ``text_delta``, or ``None``.

        ``None`` leaves the event to its handler, which also raises every
        error: anything but an integer ``index`` and a ``delta`` object whose
        ``text`` is a string. For a well-formed text delta, all the handler
        would do is add the text.
        """
        delta = payload.get("delta")
        if type(delta) is not dict or delta.get("type") != "text_delta":
            return None
        text = delta.get("text")
        return text if type(text) is str and type(payload.get("index")) is int else None

    def _block_start(self, payload: Mapping[str, Any]) -> list[StreamEvent]:
        return _open_block(self.builder, _index(payload), _object(payload, "content_block"))

    def _block_delta(self, payload: Mapping[str, Any]) -> list[StreamEvent]:
        return self._delta(_index(payload), _object(payload, "delta"))

    def _block_stop(self, payload: Mapping[str, Any]) -> list[StreamEvent]:
        index = _index(payload)
        end = self.builder.tool_end(index) if self.builder.has_tool(index) else None
        return [] if end is None else [end]

    def _message_stop(self, payload: Mapping[str, Any]) -> list[StreamEvent]:
        self.done = True
        return []

    def _take_usage(self, usage: Any) -> list[StreamEvent]:
        if not isinstance(usage, dict):
            return []
        # Cumulative: later values replace earlier ones; a null says nothing.
        self._usage.update((k, v) for k, v in usage.items() if v is not None)
        return [UsageUpdate(usage=_usage(self._usage))]

    def _message_start(self, payload: Mapping[str, Any]) -> list[StreamEvent]:
        message = _object(payload, "message")
        self._id = _opt_str(message.get("id"))
        self._model = _opt_str(message.get("model"))
        return self._take_usage(message.get("usage"))

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[StreamEvent]:
        event: StreamEvent | None = None
        match delta.get("type"):
            case "text_delta":
                event = self.builder.text(_str(delta, "text", "text_delta"))
            case "input_json_delta":
                fragment = _str(delta, "partial_json", "input_json_delta")
                if not self.builder.has_tool(index):
                    raise _protocol(f"input_json_delta for block {index}, which is not a tool_use")
                event = self.builder.tool_delta(index, fragment)
            case "thinking_delta":
                event = self.builder.reasoning(_str(delta, "thinking", "thinking_delta"), key=index)
            case "signature_delta":
                signature = _str(delta, "signature", "signature_delta")
                self.builder.reasoning_meta(key=index, signature=signature)
            case _:
                pass  # citations_delta and delta types added later
        return [] if event is None else [event]

    def _message_delta(self, payload: Mapping[str, Any]) -> list[StreamEvent]:
        delta = payload.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            self._stop_reason = delta["stop_reason"]
        events: list[StreamEvent] = []
        # A block still open now will never end: cut it so it cannot run (P-16).
        why = (
            _CUT_AT_MAX_TOKENS
            if self._stop_reason == "max_tokens"
            else f"the message ended ({self._stop_reason}) before this call did"
        )
        events.extend(self.builder.tool_cut(index, why) for index in self.builder.open_tools())
        events.extend(self._take_usage(payload.get("usage")))
        return events

    def response(self) -> ModelResponse:
        """The whole response, once :attr:`done`."""
        return _response(
            self.builder, self._stop_reason, self._usage, model=self._model, response_id=self._id
        )

    def partial(self) -> ModelResponse:
        """What arrived so far; tool calls still open are marked incomplete."""
        return self.response()


_HANDLERS: Final[
    Mapping[str, Callable[[AnthropicStreamParser, Mapping[str, Any]], list[StreamEvent]]]
] = {
    "message_start": AnthropicStreamParser._message_start,
    "content_block_start": AnthropicStreamParser._block_start,
    "content_block_delta": AnthropicStreamParser._block_delta,
    "content_block_stop": AnthropicStreamParser._block_stop,
    "message_delta": AnthropicStreamParser._message_delta,
    "message_stop": AnthropicStreamParser._message_stop,
}


# ---------------------------------------------------------------- adapter


class AnthropicMessages(HTTPAdapter):
    """A Claude model behind the Anthropic Messages API.

    The key comes from ``api_key`` or ``ANTHROPIC_API_KEY``; ``base_url`` is
    the host root (``https://api.anthropic.com``). The dialect decisions are
    in the module docstring.

    Args:
        model: The model name, such as ``"claude-sonnet-4-5"``.
        base_url: The API root (host root, no ``/v1``).
        api_key: The key (sent as ``x-api-key``).
        http_client: A shared ``httpx.AsyncClient``.
        headers: Extra request headers (``anthropic-beta``, a gateway's).
        retry: The retry policy.
        timeout: httpx timeouts for a client the adapter creates itself.
        keep_raw: Keep the provider's body in ``ModelResponse.raw``.
        limiter: A ``trio.CapacityLimiter`` bounding concurrent calls.
        default_max_tokens: ``max_tokens`` for requests that set none (the
            API requires it); with extended thinking the budget is added.
    """

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://api.anthropic.com"
    api_key_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    request_id_headers: ClassVar[tuple[str, ...]] = ("request-id", "x-request-id")

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | None = None,
        keep_raw: bool = False,
        limiter: trio.CapacityLimiter | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        super().__init__(
            model,
            base_url=base_url,
            api_key=api_key,
            http_client=http_client,
            headers=headers,
            retry=retry,
            timeout=timeout,
            keep_raw=keep_raw,
            limiter=limiter,
        )
        if (
            isinstance(default_max_tokens, bool)
            or not isinstance(default_max_tokens, int)
            or default_max_tokens <= 0
        ):
            raise ValueError(
                f"AnthropicMessages: default_max_tokens must be an int > 0, "
                f"got {default_max_tokens!r}"
            )
        self.default_max_tokens = default_max_tokens

    def _max_tokens(self, request: ModelRequest, budget: int | None) -> int:
        """The ``max_tokens`` to send (thinking counts against it)."""
        if budget is None:
            return request.max_tokens or self.default_max_tokens
        if request.max_tokens is None:
            return budget + self.default_max_tokens
        if request.max_tokens <= budget:
            raise RequestError(
                f"ModelRequest.max_tokens: {request.max_tokens} must be above the thinking "
                f"budget of {budget} tokens (Anthropic counts thinking in max_tokens)"
            )
        return request.max_tokens

    def _effective_max_tokens(self, request: ModelRequest) -> int | None:
        """The ``max_tokens`` sent: the request's, else the default plus any thinking budget.

        The core makes a call above :attr:`long_request_tokens` as a stream (P-17).
        """
        if request.max_tokens is not None:
            return request.max_tokens
        budget = _thinking_budget(request, request.extras_for(AnthropicExtras))
        return self._max_tokens(request, budget)

    def _url(self, request: ModelRequest, *, stream: bool) -> str:
        return f"{self.base_url}/v1/messages"

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if key is not None:
            headers["x-api-key"] = key
        return headers

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        extras = request.extras_for(AnthropicExtras)
        budget = _thinking_budget(request, extras)
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self._max_tokens(request, budget),
        }
        # (System messages come first: a request without one at the start has none.)
        system = request.system_prompt if request.messages[0].role == "system" else ""
        if system:
            body["system"] = system
        body["messages"] = _messages(request.messages)
        if request.tools:
            body["tools"] = [_tool(spec) for spec in request.tools]
        choice = _tool_choice(request, thinking=budget is not None)
        if choice is not None:
            body["tool_choice"] = choice
        if budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if request.output is not None:
            body["output_config"] = {
                "format": {"type": "json_schema", "schema": plain_json(request.output.schema)}
            }
        _sampling(body, request, extras, thinking=budget is not None)
        body["stream"] = stream
        if extras is not None and extras.body:
            _merge(body, extras.body)
        return body

    def _parse(self, body: Any) -> ModelResponse:
        return _parse_message(body)

    def _parser(self, request: ModelRequest) -> AnthropicStreamParser:
        return AnthropicStreamParser()
