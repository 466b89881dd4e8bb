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

import copy
import functools
import itertools
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit

import attrs

from actrio.adapters._accumulate import MessageBuilder, text_blocks, text_message
from actrio.adapters._base import HTTPAdapter
from actrio.adapters._json import loads_json, plain_json
from actrio.adapters.errors import ProviderProtocolError, error_from_body
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
    ToolCallDelta,
    Usage,
    UsageUpdate,
    _checked_usage,
    _model_response,
)

if TYPE_CHECKING:
    import httpx
    import trio

    from actrio.adapters.retry import RetryPolicy
    from actrio.adapters.sse import ServerSentEvent
    from actrio.types import FinishReason, StreamEvent, ToolSpec

__all__ = ("Gemini", "GeminiStreamParser")

PROVIDER: Final = "gemini"

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
_CHOICES: Final[Mapping[str, str]] = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
_API_VERSION: Final = re.compile(r"[A-Za-z0-9._-]+")
_NO_USAGE: Final = Usage()


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
