"""Gemini ``generateContent`` over httpx: requests, answers and ``alt=sse`` streams.

:class:`Gemini` posts to ``{base_url}/{api_version}/models/{model}:generateContent``
(``:streamGenerateContent?alt=sse`` for streams) with the key in the
``x-goog-api-key`` header, never in the URL. A model name that already has a
collection (``tunedModels/x``) is used as given; ``models/`` is added
otherwise.

How the neutral vocabulary maps to Gemini (PROTOCOL-NOTES facts 64-68, 78):

- **Messages.** System messages become ``systemInstruction.parts``; user
  messages ``user`` turns, assistant messages ``model`` turns, and tool
  messages ``functionResponse`` parts in a ``user`` turn. Consecutive turns of
  the same role are merged (all answers to a parallel call land in one turn,
  as Gemini wants). Images given by bytes or by a ``data:`` URL become
  ``inlineData``; ``http(s)`` URLs become ``fileData`` with ``media_type``
  or, without it, the type named by the file extension (``.png``, ``.jpg``,
  ``.jpeg``, ``.webp``, ``.heic``, ``.heif``); any other URL without
  ``media_type`` is refused with :class:`~actrio.types.RequestError`.
- **Tool calls and ids.** Gemini's calls usually carry no id. A call's id is
  its ``functionCall.id`` when the provider sends one, else
  ``"call-{responseId}-{n}"`` (``"call-{n}"`` without a response id), ``n``
  counting the calls of the answer from 0: the same answer always gets the
  same ids, however its stream was split. Calls go back as
  ``functionCall {name, args, id}`` with their ``thoughtSignature``; the first
  call of an assistant message without a signature (a call another provider
  made) gets Gemini's documented placeholder signature, so Gemini 3 accepts
  the history. Tool results go back as ``functionResponse {name, id,
  response}``: the name is :attr:`ToolResultPart.name`, else that of the call
  with the same id; a JSON object is the response itself, any other JSON
  value or text is ``{"result": ...}``, and an error is ``{"error": text}``.
- **Reasoning.** Gemini shows thought *summaries* (``"thought": true``
  parts); they become :class:`ReasoningPart` values with ``summary=True`` and
  ``provider="gemini"``, whatever the requested ``reasoning`` mode.
  Consecutive thought parts form one reasoning part; a signature on a thought
  part ends it. A ``thoughtSignature`` on a text (or other) part is kept in an
  empty reasoning part placed where it arrived: before the text when it came
  with the text's first piece, after it when it came on a trailing empty part
  (as Gemini 3 streams it). Sending back, a Gemini reasoning part with text
  becomes a thought part with its signature; an empty one puts its signature
  on the text part right after it, or else on an empty text part of its own.
  Other providers' reasoning is dropped.
- **Generation config.** ``temperature``, ``maxOutputTokens``,
  ``stopSequences`` (at most 5, else refused); structured output is
  ``responseMimeType: application/json`` + ``responseJsonSchema``.
  Reasoning ``raw`` or ``summary`` asks for ``thinkingConfig.includeThoughts``;
  the ``thinkingBudget`` is :attr:`GeminiExtras.thinking_budget`, else
  ``reasoning_effort`` low 1024 / medium 8192 / high 24576 tokens, else the
  model's default (reasoning ``none`` sends a budget only if one is set this
  way). :class:`~actrio.types.GeminiExtras` adds ``topK``, ``topP`` and
  ``safetySettings``; its ``body`` is merged last, objects merged key by key
  (so ``{"generationConfig": {...}}`` adds to the config rather than
  replacing it). Tools are ``functionDeclarations`` with
  ``parametersJsonSchema`` (full JSON schema); ``tool_choice`` maps to
  ``toolConfig.functionCallingConfig.mode`` ``AUTO`` / ``ANY`` / ``NONE``,
  with ``allowedFunctionNames`` for a named tool.
- **Answers.** Only ``candidates[0]`` is read. ``finishReason`` ``MAX_TOKENS``
  is ``length``; ``SAFETY``, ``RECITATION``, ``BLOCKLIST``,
  ``PROHIBITED_CONTENT``, ``SPII`` and the ``IMAGE_*`` filters are
  ``content_filter``; anything else is ``tool_calls`` when the answer has
  calls and ``stop`` otherwise (the provider's word is kept in
  ``raw_finish_reason``). A prompt blocked outright (``promptFeedback.
  blockReason``, no candidates) is ``content_filter`` with an empty message.
  Usage: input is ``promptTokenCount`` plus ``toolUsePromptTokenCount``
  (cache reads are already inside it: ``cachedContentTokenCount``), output
  is ``candidatesTokenCount`` plus ``thoughtsTokenCount``, reasoning is
  ``thoughtsTokenCount``.
- **Streams.** Each event is a ``GenerateContentResponse`` fragment with the
  cumulative ``usageMetadata`` (the last one wins; a
  :class:`~actrio.types.UsageUpdate` is emitted when it changes). Gemini
  just closes the stream, so the terminal event is the chunk whose candidate
  has a ``finishReason`` (or a blocked prompt); EOF before it is a truncated
  stream. An in-band ``{"error": ...}`` payload (or a list holding one) raises
  the typed error, and a payload that is not JSON raises
  :class:`~actrio.adapters.errors.ProviderProtocolError` (Gemini sends no
  keep-alives). A whole ``functionCall`` is started, given its ``args`` and
  ended at once.
- **Streamed arguments (Vertex).** A call that starts with
  ``willContinue: true`` receives ``partialArgs`` in the following
  ``functionCall`` parts until one comes without ``willContinue`` (Vertex
  sends an empty ``functionCall: {}``), or until another call starts or a
  ``finishReason`` arrives. Each partial arg sets the value at its
  ``jsonPath`` (``$.key``, ``$.a.b``, ``$.items[0].name``: dotted keys and
  ``[n]`` indexes, starting with a key) from ``stringValue`` (appended when
  the path already holds a string), ``numberValue``, ``boolValue`` or
  ``nullValue``; any other path form raises ``ProviderProtocolError``. The
  arguments object is built from the values, and
  :class:`~actrio.types.ToolCallDelta` events carry the JSON text as it grows
  (their concatenation is the arguments' JSON when paths arrive in document
  order, as Vertex sends them). A ``MAX_TOKENS`` finish while such a call is
  open marks it incomplete (P-16).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit

from actrio.adapters._base import HTTPAdapter
from actrio.adapters._gemini_read import PROVIDER, GeminiStreamParser, _quick_answer, _read_answer
from actrio.adapters._json import loads_json, plain_json
from actrio.messages import (
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from actrio.types import (
    GeminiExtras,
    ModelRequest,
    ModelResponse,
    RequestError,
)

if TYPE_CHECKING:
    import httpx
    import trio

    from actrio.adapters.retry import RetryPolicy
    from actrio.types import ToolSpec

__all__ = ("Gemini", "GeminiStreamParser")


THINKING_BUDGETS: Final[Mapping[str, int]] = {"low": 1024, "medium": 8192, "high": 24576}
"""``thinkingBudget`` tokens for each ``reasoning_effort``."""

MAX_STOP_SEQUENCES: Final = 5
"""Gemini takes at most this many ``stopSequences``."""

PLACEHOLDER_SIGNATURE: Final = "Y29udGV4dF9lbmdpbmVlcmluZ19pc190aGVfd2F5X3RvX2dv"
"""Google's documented stand-in signature for calls Gemini did not make.

It is the base64 form of ``context_engineering_is_the_way_to_go``; Gemini 3
refuses a history whose first call of a step has no signature.
"""

_IMAGE_TYPES: Final[Mapping[str, str]] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
}
_CHOICES: Final[Mapping[str, str]] = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
_API_VERSION: Final = re.compile(r"[A-Za-z0-9._-]+")


# ---------------------------------------------------------------- adapter


class Gemini(HTTPAdapter):
    """Google Gemini through ``generateContent`` (streaming and not).

    Args:
        model: The model, such as ``"gemini-2.5-flash"``.
        base_url: The host root (default ``https://generativelanguage.googleapis.com``).
        api_key: The key; else ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``.
        http_client: A shared ``httpx.AsyncClient``.
        headers: Extra request headers.
        retry: The retry policy.
        timeout: Timeouts for a client the adapter creates.
        keep_raw: Keep the provider's bodies in :attr:`ModelResponse.raw`.
        limiter: A ``trio.CapacityLimiter`` bounding concurrent calls.
        api_version: The API version in the path (``"v1beta"``, ``"v1"``, ...).

    Raises:
        ValueError: On a bad ``model``, ``base_url`` or ``api_version``.
    """

    provider = PROVIDER
    default_base_url = "https://generativelanguage.googleapis.com"
    api_key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

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
        api_version: str = "v1beta",
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
        if not isinstance(api_version, str) or not _API_VERSION.fullmatch(api_version):
            raise ValueError(f"Gemini: api_version must look like 'v1beta', got {api_version!r}")
        self.api_version = api_version

    def _url(self, request: ModelRequest, *, stream: bool) -> str:
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.base_url}/{self.api_version}/{_model_path(self.model)}:{method}"

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": key} if key else {}

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        return _build_body(request)

    def _parse(self, body: Any) -> ModelResponse:
        quick = _quick_answer(body, self.model)
        return quick if quick is not None else _read_answer(body, self.model)

    def _parser(self, request: ModelRequest) -> GeminiStreamParser:
        return GeminiStreamParser(model=self.model)


# ---------------------------------------------------------------- request


@functools.lru_cache(maxsize=64)
def _model_path(model: str) -> str:
    """The model's resource path, quoted for the URL (a few models per process: cached)."""
    return quote(model if "/" in model else f"models/{model}", safe="/")


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Merge ``extra`` into ``into``: objects key by key, anything else replaced."""
    for key, value in extra.items():
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        else:
            into[key] = plain_json(value)


def _build_body(request: ModelRequest) -> dict[str, Any]:
    """The ``generateContent`` body for ``request`` (streams use the same body).

    Raises:
        RequestError: For what Gemini cannot express (named in the message).
    """
    contents = _contents(request.messages)
    if not contents:
        raise RequestError(
            "ModelRequest.messages: Gemini needs at least one user, assistant or tool message"
        )
    body: dict[str, Any] = {"contents": contents}
    system = [
        {"text": part.text}
        for message in request.messages
        if message.role == "system"
        for part in message.parts
        if isinstance(part, TextPart)
    ]
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
    if request.tool_choice is not None:
        body["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
    extras = request.extras_for(GeminiExtras)
    config = _generation_config(request, extras)
    if config:
        body["generationConfig"] = config
    if extras is not None:
        if extras.safety_settings:
            body["safetySettings"] = plain_json(extras.safety_settings)
        _merge(body, extras.body)
    return body


def _declaration(tool: ToolSpec) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "parametersJsonSchema": plain_json(tool.parameters),
    }


def _calling_config(choice: str) -> dict[str, Any]:
    mode = _CHOICES.get(choice)
    if mode is not None:
        return {"mode": mode}
    return {"mode": "ANY", "allowedFunctionNames": [choice]}


def _generation_config(request: ModelRequest, extras: GeminiExtras | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.stop:
        if len(request.stop) > MAX_STOP_SEQUENCES:
            raise RequestError(
                f"ModelRequest.stop: Gemini takes at most {MAX_STOP_SEQUENCES} stop "
                f"sequences, got {len(request.stop)}"
            )
        config["stopSequences"] = list(request.stop)
    if extras is not None:
        if extras.top_k is not None:
            config["topK"] = extras.top_k
        if extras.top_p is not None:
            config["topP"] = extras.top_p
    if request.output is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = plain_json(request.output.schema)
    thinking: dict[str, Any] = {}
    if request.reasoning != "none":
        thinking["includeThoughts"] = True
    budget = extras.thinking_budget if extras is not None else None
    if budget is None and request.reasoning_effort is not None:
        budget = THINKING_BUDGETS[request.reasoning_effort]
    if budget is not None:
        thinking["thinkingBudget"] = budget
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _contents(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, message in enumerate(messages):
        if message.role == "system":
            continue
        if message.role == "assistant":
            role, parts = "model", _model_parts(message)
            names.update((call.id, call.name) for call in message.tool_calls)
        elif message.role == "tool":
            role = "user"
            parts = [
                _function_response(part, names)
                for part in message.parts
                if isinstance(part, ToolResultPart)
            ]
        else:
            role = "user"
            parts = [_user_part(part, i, j) for j, part in enumerate(message.parts)]
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def _user_part(part: object, i: int, j: int) -> dict[str, Any]:
    if isinstance(part, ImagePart):
        return _image(part, f"ModelRequest.messages[{i}].parts[{j}]")
    assert isinstance(part, TextPart)
    return {"text": part.text}


def _image(part: ImagePart, where: str) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type, "data": part.as_base64()}}
    assert part.url is not None
    url = part.url
    if url.startswith("data:"):
        header, comma, payload = url.partition(",")
        if not comma or not header.endswith(";base64"):
            raise RequestError(
                f"{where}: Gemini takes data: URLs only in base64 (data:<type>;base64,<data>)"
            )
        inline_type = part.media_type or header[len("data:") : -len(";base64")]
        if not inline_type:
            raise RequestError(f"{where}: the data: URL names no media type; set media_type")
        return {"inlineData": {"mimeType": inline_type, "data": payload}}
    media_type = part.media_type
    if media_type is None:
        path = urlsplit(url).path.lower()
        dot = path.rfind(".")
        media_type = _IMAGE_TYPES.get(path[dot:]) if dot >= 0 else None
    if media_type is None:
        raise RequestError(
            f"{where}.media_type: Gemini needs the media type of an image URL and "
            f"{url[:80]!r} has no known image extension; set media_type"
        )
    return {"fileData": {"mimeType": media_type, "fileUri": url}}


def _model_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    pending: str | None = None  # a signature waiting for the text part it belongs to
    signed_first_call = False
    for part in message.parts:
        if isinstance(part, ReasoningPart):
            if part.provider != PROVIDER:
                continue
            if pending is not None:
                parts.append({"text": "", "thoughtSignature": pending})
                pending = None
            if part.text:
                thought: dict[str, Any] = {"text": part.text, "thought": True}
                if part.signature:
                    thought["thoughtSignature"] = part.signature
                parts.append(thought)
            elif part.signature:
                pending = part.signature
            continue
        out: dict[str, Any]
        if isinstance(part, TextPart):
            out = {"text": part.text}
            if pending is not None:
                out["thoughtSignature"] = pending
                pending = None
        else:
            assert isinstance(part, ToolCallPart)
            if pending is not None:
                parts.append({"text": "", "thoughtSignature": pending})
                pending = None
            out = _function_call(part, first=not signed_first_call)
            signed_first_call = True
        parts.append(out)
    if pending is not None:
        parts.append({"text": "", "thoughtSignature": pending})
    return parts


def _function_call(call: ToolCallPart, *, first: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "functionCall": {"name": call.name, "args": plain_json(call.arguments), "id": call.id}
    }
    if call.signature:
        out["thoughtSignature"] = call.signature
    elif first:
        out["thoughtSignature"] = PLACEHOLDER_SIGNATURE
    return out


def _function_response(part: ToolResultPart, names: Mapping[str, str]) -> dict[str, Any]:
    # ModelRequest checks that every result answers a call of an earlier message.
    name = part.name or names[part.tool_call_id]
    response: dict[str, Any]
    if part.is_error:
        response = {"error": part.content}
    else:
        try:
            value = loads_json(part.content)
        except ValueError:
            value = part.content
        response = value if isinstance(value, dict) else {"result": value}
    return {"functionResponse": {"name": name, "id": part.tool_call_id, "response": response}}
