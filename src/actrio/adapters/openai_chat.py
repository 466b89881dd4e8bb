"""OpenAI Chat Completions, and the dialects of the servers that copy it.

:class:`OpenAIChat` posts to ``{base_url}/chat/completions`` with
``Authorization: Bearer <key>``. The same wire format is spoken, with
differences, by DeepSeek, xAI, Groq, OpenRouter, Gemini's OpenAI endpoint,
Ollama, vLLM and llama.cpp's ``llama-server``; a :class:`ChatDialect` holds
what differs when *sending*. Reading is the same for every server: the
parser accepts the union of what they send (the numbers below are the facts
of ``PROTOCOL-NOTES.md``).

Choosing the dialect
--------------------
``OpenAIChat(model, dialect=...)`` takes a preset name from :data:`DIALECTS`
or a :class:`ChatDialect`. With ``dialect=None`` the host of ``base_url``
decides: ``api.openai.com`` → ``openai``, ``api.deepseek.com`` →
``deepseek``, ``api.x.ai`` → ``xai``, ``api.groq.com`` → ``groq``,
``openrouter.ai`` → ``openrouter``, ``generativelanguage.googleapis.com`` →
``gemini-openai``, ``ollama.com`` or port 11434 on a loopback host →
``ollama``. Any other host gets the ``openai`` preset with ``max_tokens``
in place of ``max_completion_tokens`` (the older name is the one every
compatible server knows; name the dialect ``"openai"`` explicitly for a
proxy in front of OpenAI itself).

Keys
----
A key is required only by the official hosts above (:attr:`OpenAIChat.needs_key`);
a compatible server on any other host is called without one unless
``api_key=`` is given. A key is read from the environment only for the host
it was issued for (``OPENAI_API_KEY`` for ``api.openai.com``,
``DEEPSEEK_API_KEY``, ``XAI_API_KEY``, ``GROQ_API_KEY``,
``OPENROUTER_API_KEY``, ``GEMINI_API_KEY``/``GOOGLE_API_KEY``,
``OLLAMA_API_KEY`` for ``ollama.com``): an ``OPENAI_API_KEY`` in the
environment is never sent to a local vLLM or to a third party.

Request decisions
-----------------
- System messages keep the ``system`` role (every compatible server knows
  it; OpenAI itself treats it as ``developer`` for reasoning models).
- Images are ``image_url`` parts; bytes become ``data:`` URLs. DeepSeek takes
  no images: a request with one is refused (:class:`~actrio.types.RequestError`).
- A failed tool result (``is_error``) is sent as ``"Error: " + content``:
  the role ``tool`` message has no error flag.
- Reasoning is sent back only if it came from this adapter family and the
  dialect wants it: DeepSeek requires ``reasoning_content`` on assistant
  turns that made tool calls and rejects (older models) or ignores (newer)
  it elsewhere, so it is sent on tool-call turns only; Ollama takes
  ``reasoning`` on every assistant turn; OpenAI and the others get none.
- ``max_tokens`` goes out as ``max_completion_tokens`` to OpenAI (the only
  name its reasoning models accept) and as ``max_tokens`` elsewhere.
- ``stream_options: {include_usage: true}`` is sent with every stream except
  to Groq, which rejected it with a 400 ("property 'stream_options' is
  unsupported", vercel/ai#1578) and reports usage on the finish chunk (or
  in ``x_groq.usage``) anyway.
- ``reasoning_effort`` is sent when the request sets it; OpenRouter's form is
  ``reasoning: {effort}``; xAI takes only ``low``/``high``; llama.cpp has no
  such knob. An effort a dialect cannot express is refused. The request's
  ``reasoning`` mode is not sent: Chat Completions has no switch for it
  (servers that reason send their reasoning, OpenAI never does).
- llama.cpp silently turns a named ``tool_choice`` into ``auto`` (fact 42),
  so for it a named choice is sent as ``required`` with only that tool.
- Gemini's ``thought_signature`` (kept in :attr:`ToolCallPart.signature`) is
  echoed back as ``extra_content.google.thought_signature`` on the call,
  for the ``gemini-openai`` dialect only.
- ``n`` > 1 cannot be asked for (:class:`~actrio.types.OpenAIChatExtras`
  refuses it, and so does ``extras.body``); ``extras.body`` is merged last.

Response decisions
------------------
- Reasoning comes from ``reasoning_content`` (DeepSeek, xAI, llama.cpp, old
  vLLM) or ``reasoning`` (Ollama, Groq, new vLLM, OpenRouter); when a delta
  has both, ``reasoning_content`` wins (facts 36-41). OpenRouter's
  ``reasoning_details`` and Groq's ``channel`` are not kept.
- Usage is read from whichever chunk carries it: the ``choices: []`` chunk,
  the finish chunk (DeepSeek, Groq), every chunk (vLLM); the last one wins.
  ``total_tokens`` above prompt plus completion means the server left
  reasoning out of ``completion_tokens`` (xAI, fact 43; Gemini): the gap
  is added to the output and counted as reasoning when no count was given.
  Cached input is ``prompt_tokens_details.cached_tokens`` or DeepSeek's
  ``prompt_cache_hit_tokens`` (fact 44).
- Tool calls are keyed by ``index`` (which need not start at 0); an id or
  name repeated (or empty) in a later delta never overwrites or extends the
  first; a call starts once its name is known; missing, ``null`` or empty
  arguments are ``{}``; a fragment after the call ended (vLLM's extra
  ``arguments: ""``) changes nothing. Calls end at the finish reason (cut
  short, so that they cannot run, when it is ``length``) or at ``[DONE]``.
  An empty id (Gemini) is replaced by ``call_<index>_<response id>``.
- A refusal (``refusal`` field) is the answer's text with finish reason
  ``refusal``. A ``stop`` with tool calls is ``tool_calls`` (OpenAI says
  ``stop`` when ``tool_choice`` forced a function); no finish reason at all
  (OpenRouter/kimi) is ``tool_calls`` or ``stop`` by what arrived.
- A second choice index is a :class:`~actrio.adapters.errors.ProviderProtocolError`
  naming ``n``: actrio takes exactly one choice.
- In-band errors (any payload with an ``error`` object, with or without
  ``choices`` (OpenRouter), or an ``event: error`` (Groq)) raise the typed
  error of :func:`~actrio.adapters.errors.error_from_body`.
- ``data: [DONE]`` is the only terminal event: a stream that reaches EOF
  without it is truncated, even after a finish reason. Payloads that are
  not JSON raise :class:`~actrio.adapters.errors.ProviderProtocolError`,
  except keep-alives some gateways send as data (empty, ``: keep-alive``,
  ``keep-alive``, ``ping``; fact 4), which are skipped.
"""

from __future__ import annotations

import json
import os
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, assert_never
from urllib.parse import urlsplit

import attrs

from actrio.adapters._accumulate import MessageBuilder, parse_arguments
from actrio.adapters._base import HTTPAdapter
from actrio.adapters._json import loads_json, plain_json
from actrio.adapters.errors import (
    AuthenticationError,
    ProviderError,
    ProviderProtocolError,
    error_from_body,
    redact_url,
)
from actrio.messages import (
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    _assistant_message,
    _text_part,
)
from actrio.types import (
    FinishReason,
    ModelRequest,
    ModelResponse,
    OpenAIChatExtras,
    RequestError,
    Usage,
    UsageUpdate,
    _checked_usage,
    _model_response,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    import trio

    from actrio.adapters.retry import RetryPolicy
    from actrio.adapters.sse import ServerSentEvent
    from actrio.messages import Part
    from actrio.types import StreamEvent, ToolSpec

__all__ = ("ChatDialect", "DIALECTS", "OpenAIChat", "OpenAIChatStreamParser", "infer_dialect")

PROVIDER: Final = "openai-chat"


# ---------------------------------------------------------------- dialects


@attrs.frozen(kw_only=True)
class ChatDialect:
    """What one OpenAI-compatible server wants in a request.

    Attributes:
        name: The dialect's name (a key of :data:`DIALECTS` for the presets).
        max_tokens_field: The body field for ``ModelRequest.max_tokens``.
        stream_usage: Send ``stream_options: {include_usage: true}`` with streams.
        effort_field: How ``reasoning_effort`` is sent: as ``reasoning_effort``,
            as OpenRouter's ``reasoning: {effort}``, or not at all (``None``:
            a request with an effort is refused).
        efforts: The effort values the server takes; others are refused.
        echo_reasoning: Which assistant turns get their reasoning sent back:
            ``never``, ``tool_turns`` (turns that made tool calls) or ``always``.
        reasoning_field: The message field reasoning is sent back in.
        images: Whether user messages may carry images.
        named_tool_choice: Whether ``tool_choice: {type: function, ...}`` works;
            if not, a named choice is sent as ``required`` with only that tool.
        thought_signatures: Echo Gemini's thought signatures on tool calls.
    """

    name: str
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    stream_usage: bool = True
    effort_field: Literal["reasoning_effort", "reasoning.effort"] | None = "reasoning_effort"
    efforts: tuple[str, ...] = ("low", "medium", "high")
    echo_reasoning: Literal["never", "tool_turns", "always"] = "never"
    reasoning_field: Literal["reasoning_content", "reasoning"] = "reasoning_content"
    images: bool = True
    named_tool_choice: bool = True
    thought_signatures: bool = False


DIALECTS: Final[Mapping[str, ChatDialect]] = MappingProxyType(
    {
        "openai": ChatDialect(name="openai", max_tokens_field="max_completion_tokens"),
        "deepseek": ChatDialect(name="deepseek", echo_reasoning="tool_turns", images=False),
        "xai": ChatDialect(name="xai", efforts=("low", "high")),
        "groq": ChatDialect(name="groq", stream_usage=False),
        "openrouter": ChatDialect(name="openrouter", effort_field="reasoning.effort"),
        "gemini-openai": ChatDialect(name="gemini-openai", thought_signatures=True),
        "ollama": ChatDialect(name="ollama", echo_reasoning="always", reasoning_field="reasoning"),
        "vllm": ChatDialect(name="vllm"),
        "llamacpp": ChatDialect(name="llamacpp", effort_field=None, named_tool_choice=False),
    }
)
"""The dialect presets, by name (see the module docstring for what each one changes)."""

_HOSTS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = MappingProxyType(
    {
        "api.openai.com": ("openai", ("OPENAI_API_KEY",)),
        "api.deepseek.com": ("deepseek", ("DEEPSEEK_API_KEY",)),
        "api.x.ai": ("xai", ("XAI_API_KEY",)),
        "api.groq.com": ("groq", ("GROQ_API_KEY",)),
        "openrouter.ai": ("openrouter", ("OPENROUTER_API_KEY",)),
        "generativelanguage.googleapis.com": (
            "gemini-openai",
            ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        ),
        "ollama.com": ("ollama", ("OLLAMA_API_KEY",)),
    }
)
"""Official hosts: their dialect and the environment variables holding their keys."""

_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_OLLAMA_PORT: Final = 11434


def _host(base_url: str) -> tuple[str, int | None]:
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


def infer_dialect(base_url: str) -> str | None:
    """The dialect preset a base URL's host implies, or ``None`` for an unknown host."""
    host, port = _host(base_url)
    if host in _HOSTS:
        return _HOSTS[host][0]
    if host in _LOOPBACK and port == _OLLAMA_PORT:
        return "ollama"
    return None


def _resolve_dialect(dialect: str | ChatDialect | None, base_url: str) -> ChatDialect:
    if isinstance(dialect, ChatDialect):
        return dialect
    if dialect is None:
        name = infer_dialect(base_url)
        if name is None:
            return attrs.evolve(DIALECTS["openai"], max_tokens_field="max_tokens")
        return DIALECTS[name]
    if isinstance(dialect, str) and dialect in DIALECTS:
        return DIALECTS[dialect]
    raise ValueError(
        f"OpenAIChat: unknown dialect {dialect!r}; presets: {', '.join(sorted(DIALECTS))} "
        "(or pass a ChatDialect)"
    )


# ---------------------------------------------------------------- the adapter


class OpenAIChat(HTTPAdapter):
    """OpenAI Chat Completions, or any server that speaks it.

    Takes :class:`~actrio.adapters._base.HTTPAdapter`'s arguments, plus:

    Args:
        model: The model name.
        base_url: The API root, ending in ``/v1`` for OpenAI (DeepSeek's has
            none; Groq's is ``https://api.groq.com/openai/v1``).
        api_key: The key; by default read from the environment variable of
            an official host (see the module docstring), and none at all for
            other hosts.
        http_client: A shared ``httpx.AsyncClient``.
        headers: Extra headers (OpenRouter's ``HTTP-Referer``, a gateway's).
        retry: The retry policy.
        timeout: Timeouts for a client the adapter creates.
        keep_raw: Keep the raw body or stream payloads on the response.
        limiter: A ``trio.CapacityLimiter`` bounding concurrent calls.
        dialect: A preset name from :data:`DIALECTS`, a :class:`ChatDialect`,
            or ``None`` to infer it from the host of ``base_url``.

    Attributes:
        dialect: The :class:`ChatDialect` in use.
        needs_key: Whether calls need a key (only the official hosts' do).
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
        dialect: str | ChatDialect | None = None,
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
        self.dialect = _resolve_dialect(dialect, self.base_url)
        host, _ = _host(self.base_url)
        official = _HOSTS.get(host)
        self.needs_key = official is not None
        self._key_env: tuple[str, ...] = official[1] if official is not None else ()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, "
            f"base_url={redact_url(self.base_url)!r}, dialect={self.dialect.name!r})"
        )

    def _api_key(self) -> str | None:
        # The base reads `api_key_env` for every host; here keys follow hosts.
        if self._key is not None:
            return self._key.get()
        for name in self._key_env:
            value = os.environ.get(name)
            if value:
                return value
        if self.needs_key:
            raise AuthenticationError(
                f"no API key for {self.provider} ({self.dialect.name}): pass api_key= "
                f"or set {' or '.join(self._key_env)}",
                provider=self.provider,
            )
        return None

    # ------------------------------------------------------------ hooks

    def _url(self, request: ModelRequest, *, stream: bool) -> str:
        return f"{self.base_url}/chat/completions"

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"} if key else {}

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        return _build_body(request, model=self.model, dialect=self.dialect, stream=stream)

    def _parse(self, body: Any) -> ModelResponse:
        return _parse_response(body, model=self.model)

    def _parser(self, request: ModelRequest) -> OpenAIChatStreamParser:
        return OpenAIChatStreamParser(model=self.model)


# ---------------------------------------------------------------- request body


def _build_body(
    request: ModelRequest, *, model: str, dialect: ChatDialect, stream: bool
) -> dict[str, Any]:
    """The ``/chat/completions`` body for ``request`` in ``dialect``.

    Raises:
        RequestError: For what the dialect cannot express (naming the field).
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            out
            for i, message in enumerate(request.messages)
            for out in _message(message, i, dialect)
        ],
    }
    _tools(body, request, dialect)
    if request.output is not None:
        schema: dict[str, Any] = {
            "name": request.output.name,
            "schema": plain_json(request.output.schema),
            "strict": request.output.strict,
        }
        if request.output.description:
            schema["description"] = request.output.description
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        body[dialect.max_tokens_field] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    _effort(body, request, dialect)
    body["stream"] = stream
    if stream and dialect.stream_usage:
        body["stream_options"] = {"include_usage": True}
    _extras(body, request.extras_for(OpenAIChatExtras))
    return body


def _message(message: Message, i: int, dialect: ChatDialect) -> list[dict[str, Any]]:
    out: dict[str, Any]
    match message.role:
        case "system":
            out = {"role": "system", "content": message.text}
        case "user":
            out = {"role": "user", "content": _user_content(message, i, dialect)}
        case "assistant":
            out = _assistant(message, dialect)
        case "tool":
            return [
                {
                    "role": "tool",
                    "tool_call_id": part.tool_call_id,
                    "content": f"Error: {part.content}" if part.is_error else part.content,
                }
                for part in message.parts
                if isinstance(part, ToolResultPart)
            ]
        case _:
            assert_never(message.role)
    if message.name is not None:
        out["name"] = message.name
    return [out]


def _user_content(message: Message, i: int, dialect: ChatDialect) -> str | list[dict[str, Any]]:
    parts = message.parts
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text  # the commonest user message, and its `text`
    if not any(isinstance(part, ImagePart) for part in parts):
        return message.text
    content: list[dict[str, Any]] = []
    for j, part in enumerate(message.parts):
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        else:
            assert isinstance(part, ImagePart)  # a user message holds text and images only
            if not dialect.images:
                raise RequestError(
                    f"ModelRequest.messages[{i}].parts[{j}]: the {dialect.name} dialect "
                    "takes no images"
                )
            url = part.url if part.url is not None else f"data:{part.media_type};base64,"
            if part.data is not None:
                url += part.as_base64()
            content.append({"type": "image_url", "image_url": {"url": url}})
    return content


def _assistant(message: Message, dialect: ChatDialect) -> dict[str, Any]:
    calls = message.tool_calls
    out: dict[str, Any] = {"role": "assistant", "content": message.text or (None if calls else "")}
    if calls:
        out["tool_calls"] = [_call(call, dialect) for call in calls]
    reasoning = "".join(p.text for p in message.reasoning if p.provider == PROVIDER)
    echo = dialect.echo_reasoning
    if reasoning and (echo == "always" or (echo == "tool_turns" and calls)):
        out[dialect.reasoning_field] = reasoning
    return out


def _call(call: ToolCallPart, dialect: ChatDialect) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments_json},
    }
    if dialect.thought_signatures and call.signature is not None:
        out["extra_content"] = {"google": {"thought_signature": call.signature}}
    return out


def _tool(spec: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": spec.name, "parameters": plain_json(spec.parameters)}
    if spec.description:
        function["description"] = spec.description
    if spec.strict:
        function["strict"] = True
    return {"type": "function", "function": function}


def _tools(body: dict[str, Any], request: ModelRequest, dialect: ChatDialect) -> None:
    if not request.tools:
        return  # a tool_choice without tools is refused by OpenAI
    tools = request.tools
    choice: Any = request.tool_choice
    if choice is not None and choice not in ("auto", "none", "required"):
        if dialect.named_tool_choice:
            choice = {"type": "function", "function": {"name": choice}}
        else:
            tools = tuple(t for t in tools if t.name == choice)
            choice = "required"
    body["tools"] = [_tool(t) for t in tools]
    if choice is not None:
        body["tool_choice"] = choice


def _effort(body: dict[str, Any], request: ModelRequest, dialect: ChatDialect) -> None:
    effort = request.reasoning_effort
    if effort is None:
        return
    if dialect.effort_field is None or effort not in dialect.efforts:
        takes = ", ".join(dialect.efforts) if dialect.effort_field is not None else "none"
        raise RequestError(
            f"ModelRequest.reasoning_effort: the {dialect.name} dialect cannot express "
            f"{effort!r} (it takes: {takes})"
        )
    if dialect.effort_field == "reasoning_effort":
        body["reasoning_effort"] = effort
    else:
        body["reasoning"] = {"effort": effort}


_EXTRA_FIELDS: Final = (
    "seed",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "parallel_tool_calls",
    "user",
    "service_tier",
    "n",
)


def _extras(body: dict[str, Any], extras: OpenAIChatExtras | None) -> None:
    if extras is None:
        return
    for name in _EXTRA_FIELDS:
        value = getattr(extras, name)
        if value is not None:
            body[name] = value
    n = extras.body.get("n")
    if n is not None and n != 1:
        raise RequestError(
            f"OpenAIChatExtras.body: n={n!r} asks for several choices; actrio takes exactly one"
        )
    body.update(plain_json(extras.body))


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
            return fast
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
