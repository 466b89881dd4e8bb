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

import os
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, assert_never
from urllib.parse import urlsplit

import attrs

from actrio.adapters._base import HTTPAdapter
from actrio.adapters._json import plain_json
from actrio.adapters._openai_chat_read import PROVIDER, OpenAIChatStreamParser, _parse_response
from actrio.adapters.errors import (
    AuthenticationError,
    redact_url,
)
from actrio.messages import (
    ImagePart,
    Message,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from actrio.types import (
    ModelRequest,
    ModelResponse,
    OpenAIChatExtras,
    RequestError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx
    import trio

    from actrio.adapters.retry import RetryPolicy
    from actrio.types import ToolSpec

__all__ = ("ChatDialect", "DIALECTS", "OpenAIChat", "OpenAIChatStreamParser", "infer_dialect")


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
