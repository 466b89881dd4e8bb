"""The OpenAI Responses API: ``POST {base_url}/responses``, streaming and not.

:class:`OpenAIResponses` turns a :class:`~actrio.types.ModelRequest` into a
Responses body and reads the answer back, from a whole ``response`` object or
from its event stream (:class:`OpenAIResponsesStreamParser`). Both paths run
through the same code: a non-streamed body is read as if each of its output
items had arrived in an ``output_item.done`` event, so the two give the same
message.

Dialect decisions:

- **Stateless by default.** ``store`` is sent as ``false`` unless
  :class:`~actrio.types.OpenAIResponsesExtras` says ``store=True``. With
  reasoning on (``reasoning`` not ``"none"``, or an effort given) and
  ``store`` off, ``include: ["reasoning.encrypted_content"]`` is added so the
  reasoning can be carried into the next turn.
- **System messages become** ``instructions`` (their text joined by blank
  lines, :attr:`ModelRequest.system_prompt`), not ``system`` / ``developer``
  input items: ``instructions`` is the field the API documents for them, and
  it is not carried over by ``previous_response_id``, as a system prompt
  should not be.
- **Input items.** A user message is one ``message`` item of ``input_text``
  and ``input_image`` parts (an image given by bytes becomes a ``data:`` URL;
  ``detail`` is ``"auto"``). An assistant message becomes, in its order:
  ``message`` items of ``output_text`` for its text, ``function_call`` items
  (``call_id``, ``name``, the arguments as JSON text, and ``id`` =
  :attr:`~actrio.messages.ToolCallPart.provider_id` when known) and
  ``reasoning`` items. A tool result is a ``function_call_output`` item; the
  API has no error flag, so ``is_error`` is not sent (the tool's text should
  say it failed). ``Message.name`` has no Responses equivalent and is refused
  with :class:`~actrio.types.RequestError`, as are stop sequences.
- **Reasoning sent back.** Only parts whose ``provider`` is
  ``"openai-responses"`` are sent; others are dropped silently. Consecutive
  parts with the same item ``id`` (one reasoning item yields one part per
  summary entry) become one ``reasoning`` item with every summary text, the
  raw ``reasoning_text`` content if any, and the ``encrypted_content``. A part
  without an ``id`` cannot be sent, and without ``store`` neither can an item
  without ``encrypted_content`` (the API looks the id up and fails with "Items
  are not persisted when store is set to false"); when a reasoning item of a
  message is dropped, that message's function calls are sent without their
  ``id``, so the API does not reject them for missing their reasoning item.
- **Reasoning asked for.** ``reasoning_effort`` is ``reasoning.effort``;
  ``reasoning="summary"`` asks for ``reasoning.summary`` (``"auto"`` unless
  the adapter is built with ``reasoning_summary="detailed"`` or
  ``"concise"``). ``reasoning="raw"`` asks for no summary: OpenAI's models do
  not expose raw reasoning (only the encrypted item, kept for the next turn),
  but servers that do (open-weight models) send ``reasoning_text``, which is
  read as raw reasoning.
- **Tools** are flat ``{"type": "function", name, description, parameters,
  strict}``; ``strict`` is always sent because the API's default is ``true``.
  A named ``tool_choice`` is ``{"type": "function", "name": ...}``. Structured
  output is ``text.format = {"type": "json_schema", name, schema, strict}``.
- **Reading.** Each output item is read in order: message text (and refusal
  text, which makes the finish reason ``refusal``), ``function_call`` items as
  :class:`~actrio.messages.ToolCallPart` (``id`` = ``call_id``,
  ``provider_id`` = the ``fc_…`` item id), reasoning items as
  :class:`~actrio.messages.ReasoningPart` (one per summary entry with
  ``summary=True``, one per ``reasoning_text`` content entry, or one empty
  part when the item has neither; the item ``id`` on each, the
  ``encrypted_content`` on the first). Other item types (built-in tools) are
  skipped. The finish reason is ``tool_calls`` when a completed response
  called a function, ``refusal`` when it refused, else ``stop``; an
  ``incomplete`` response is ``length`` (``max_output_tokens``) or
  ``content_filter``, and its unfinished function calls are marked cut short.
  ``raw_finish_reason`` is the status, or the ``incomplete_details.reason``.
  A ``failed`` response raises the typed error of its ``error``.
- **Streams.** Events are dispatched on the payload's ``type``; unknown
  events and fields are ignored. Text and reasoning-summary deltas are keyed
  by output index and content / summary index; function-call arguments by
  output index (which is also the index of the ``ToolCallStart`` /
  ``ToolCallDelta`` / ``ToolCallEnd`` events). The full text in a ``.done``
  event or in ``output_item.done`` is the source of truth: a missing tail is
  emitted as one more delta, and full arguments that differ from the deltas
  replace them. A reasoning item's ``encrypted_content`` is taken from its
  ``output_item.done``. ``response.completed`` and ``response.incomplete``
  end the stream (usage and status come from them; if no output item events
  came at all, their ``output`` is read instead); ``response.failed`` and an
  in-band ``{"type": "error"}`` event raise the typed error, the first one
  winning. There is no ``[DONE]`` (a stray one from a compatible server is
  ignored); a stream without a terminal event is truncated.
- **Usage** comes from ``response.usage``: ``input_tokens`` (cached tokens
  included, ``input_tokens_details.cached_tokens`` says how many),
  ``output_tokens`` (reasoning included, ``output_tokens_details``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

from actrio.adapters._base import HTTPAdapter
from actrio.adapters._openai_responses_read import (
    PROVIDER,
    OpenAIResponsesStreamParser,
    _quick_response,
    _read_response,
)
from actrio.adapters.errors import ProviderProtocolError, error_from_body
from actrio.messages import ImagePart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from actrio.types import (
    ModelResponse,
    OpenAIResponsesExtras,
    RequestError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    import trio

    from actrio.adapters.retry import RetryPolicy
    from actrio.messages import Message, Part
    from actrio.types import ModelRequest, OutputSchema, ToolSpec

__all__ = ("OpenAIResponses", "OpenAIResponsesStreamParser", "ReasoningSummary")

ENCRYPTED_REASONING: Final = "reasoning.encrypted_content"

ReasoningSummary = Literal["auto", "concise", "detailed"]
"""How detailed a reasoning summary ``reasoning="summary"`` asks for."""

_SUMMARIES: Final = ("auto", "concise", "detailed")
_NO_EXTRAS: Final = OpenAIResponsesExtras()


class OpenAIResponses(HTTPAdapter):
    """A model behind the OpenAI Responses API (``POST {base_url}/responses``).

    The dialect (how requests are written and answers read) is described in
    the module docstring.

    Args:
        model: The model name, such as ``"gpt-5"``.
        base_url: The API root, ending in ``/v1`` (default OpenAI's).
        api_key: The key; when ``None``, ``OPENAI_API_KEY`` is read at call time.
        http_client: A shared ``httpx.AsyncClient``.
        headers: Extra request headers (``OpenAI-Organization``, a gateway's).
        retry: The retry policy.
        timeout: httpx timeouts for a client the adapter creates itself.
        keep_raw: Keep the body (or the stream payloads) in ``response.raw``.
        limiter: A ``trio.CapacityLimiter`` bounding concurrent calls.
        reasoning_summary: The ``reasoning.summary`` sent when a request asks
            for ``reasoning="summary"``: ``"auto"``, ``"concise"`` or
            ``"detailed"``.

    Raises:
        ValueError: On a bad ``model``, ``base_url`` or ``reasoning_summary``.
    """

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    api_key_env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)

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
        reasoning_summary: ReasoningSummary = "auto",
    ) -> None:
        if reasoning_summary not in _SUMMARIES:
            raise ValueError(
                f"OpenAIResponses: reasoning_summary must be one of {_SUMMARIES}, "
                f"got {reasoning_summary!r}"
            )
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
        self.reasoning_summary: ReasoningSummary = reasoning_summary

    # ------------------------------------------------------------ hooks

    def _url(self, request: ModelRequest, *, stream: bool) -> str:
        return f"{self.base_url}/responses"

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"} if key else {}

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        if request.stop:
            raise RequestError("ModelRequest.stop: the Responses API has no stop sequences")
        extras = request.extras_for(OpenAIResponsesExtras) or _NO_EXTRAS
        body: dict[str, Any] = {"model": self.model}
        if request.messages[0].role == "system":  # (system messages come first)
            body["instructions"] = request.system_prompt
        body["input"] = _input_items(request.messages, store=extras.store)
        if request.tools:
            body["tools"] = [_tool(t) for t in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.tool_choice)
        if request.output is not None:
            body["text"] = {"format": _text_format(request.output)}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_output_tokens"] = request.max_tokens
        self._reasoning(body, request, extras)
        body["store"] = extras.store
        body["stream"] = stream
        if extras is not _NO_EXTRAS:
            body.update(_extras_fields(extras))
            body.update(extras.body)
        return body

    def _reasoning(
        self, body: dict[str, Any], request: ModelRequest, extras: OpenAIResponsesExtras
    ) -> None:
        """Add ``reasoning`` and ``include`` to ``body``, when they say anything."""
        effort = request.reasoning_effort
        mode = request.reasoning
        if effort is not None or mode == "summary":
            config: dict[str, Any] = {}
            if effort is not None:
                config["effort"] = effort
            if mode == "summary":
                config["summary"] = self.reasoning_summary
            body["reasoning"] = config
        include = list(dict.fromkeys(extras.include))
        reasoning_on = mode != "none" or effort is not None
        if reasoning_on and not extras.store and ENCRYPTED_REASONING not in include:
            include.append(ENCRYPTED_REASONING)
        if include:
            body["include"] = include

    def _parse(self, body: Any) -> ModelResponse:
        if not isinstance(body, dict):
            raise ProviderProtocolError("the response body is not a JSON object", provider=PROVIDER)
        if "output" not in body and isinstance(body.get("error"), dict):
            raise error_from_body(body, provider=PROVIDER)  # an error envelope sent with 200
        quick = _quick_response(body)
        return quick if quick is not None else _read_response(body)

    def _parser(self, request: ModelRequest) -> OpenAIResponsesStreamParser:
        return OpenAIResponsesStreamParser()


# ---------------------------------------------------------------- request


def _input_items(messages: tuple[Message, ...], *, store: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if message.name is not None:
            raise RequestError(
                f"ModelRequest.messages[{i}].name: the Responses API has no participant names"
            )
        match message.role:
            case "system":
                continue  # sent as `instructions`
            case "user":
                content = [_user_part(p) for p in message.parts]
                items.append({"type": "message", "role": "user", "content": content})
            case "assistant":
                items.extend(_assistant_items(message.parts, store=store))
            case _:  # tool
                items.extend(_tool_output(p) for p in message.parts)
    return items


def _user_part(part: Part) -> dict[str, Any]:
    match part:
        case TextPart():
            return {"type": "input_text", "text": part.text}
        case ImagePart():
            url = part.url
            if url is None:
                url = f"data:{part.media_type};base64,{part.as_base64()}"
            return {"type": "input_image", "image_url": url, "detail": "auto"}
        case _:
            raise AssertionError(f"a user message holds {type(part).__name__}")


def _tool_output(part: Part) -> dict[str, Any]:
    assert isinstance(part, ToolResultPart)
    return {"type": "function_call_output", "call_id": part.tool_call_id, "output": part.content}


def _assistant_items(parts: tuple[Part, ...], *, store: bool) -> list[dict[str, Any]]:
    """An assistant message's items, in its order (see the module docstring)."""
    items: list[dict[str, Any]] = []
    text: list[dict[str, Any]] | None = None  # the content of the message item being filled
    reasoning: dict[str, Any] | None = None  # the reasoning item being filled
    dropped = False
    for part in parts:
        if isinstance(part, TextPart):
            reasoning = None
            if part.text:
                if text is None:
                    text = []
                    items.append({"type": "message", "role": "assistant", "content": text})
                text.append({"type": "output_text", "text": part.text})
        elif isinstance(part, ToolCallPart):
            text = reasoning = None
            items.append(_function_call(part))
        elif isinstance(part, ReasoningPart) and part.provider == PROVIDER:
            text = None
            if part.id is None:
                dropped = True
                continue
            if reasoning is None or reasoning["id"] != part.id:
                reasoning = {"type": "reasoning", "id": part.id, "summary": []}
                items.append(reasoning)
            _merge_reasoning(reasoning, part)
    kept = [
        item
        for item in items
        if item["type"] != "reasoning" or store or "encrypted_content" in item
    ]
    if dropped or len(kept) != len(items):
        for item in kept:
            if item["type"] == "function_call":
                item.pop("id", None)
    return kept


def _merge_reasoning(item: dict[str, Any], part: ReasoningPart) -> None:
    if part.text:
        if part.summary:
            item["summary"].append({"type": "summary_text", "text": part.text})
        else:
            item.setdefault("content", []).append({"type": "reasoning_text", "text": part.text})
    if part.encrypted is not None and "encrypted_content" not in item:
        item["encrypted_content"] = part.encrypted


def _function_call(part: ToolCallPart) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "function_call",
        "call_id": part.id,
        "name": part.name,
        "arguments": part.arguments_json,
    }
    if part.provider_id is not None:
        item["id"] = part.provider_id
    return item


def _tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": dict(tool.parameters),
        "strict": tool.strict,
    }


def _tool_choice(choice: str) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "name": choice}


def _text_format(output: OutputSchema) -> dict[str, Any]:
    fmt: dict[str, Any] = {
        "type": "json_schema",
        "name": output.name,
        "schema": dict(output.schema),
        "strict": output.strict,
    }
    if output.description:
        fmt["description"] = output.description
    return fmt


def _extras_fields(extras: OpenAIResponsesExtras) -> dict[str, Any]:
    fields = {
        "previous_response_id": extras.previous_response_id,
        "top_p": extras.top_p,
        "user": extras.user,
        "service_tier": extras.service_tier,
    }
    return {k: v for k, v in fields.items() if v is not None}
