"""Model requests, responses, stream events and usage: the neutral vocabulary.

An adapter takes a :class:`ModelRequest` and gives a :class:`ModelResponse`
(``complete``) or a stream of :data:`StreamEvent` values ending with
:class:`Finish` (``stream``). Every value is a frozen attrs class checked
when it is built (bad values raise :class:`RequestError` naming the field)
and serialised by actrio's one cattrs converter (:func:`to_wire` /
:func:`from_wire`), so requests and responses can be stored, exported and
replayed.

Usage is normalised across providers (see :class:`Usage`), and so is the
finish reason (:data:`FinishReason`); the provider's own word is kept in
``raw_finish_reason``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeVar

import attrs

from actrio._output import OutputValidationError
from actrio._schema import SchemaError
from actrio._wire import converter, register_kind_union
from actrio.messages import Message, ReasoningPart, ToolCallPart

__all__ = (
    "AnthropicExtras",
    "Finish",
    "FinishReason",
    "GeminiExtras",
    "ModelRequest",
    "ModelResponse",
    "OpenAIChatExtras",
    "OpenAIResponsesExtras",
    "OutputSchema",
    "OutputValidationError",
    "ProviderExtras",
    "ReasoningDelta",
    "ReasoningEffort",
    "ReasoningMode",
    "RequestError",
    "SchemaError",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallEnd",
    "ToolCallStart",
    "ToolSpec",
    "Usage",
    "UsageUpdate",
    "from_wire",
    "to_wire",
)

T = TypeVar("T")

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "refusal"]
"""Why a model stopped, in one vocabulary for every provider.

``stop``: a natural end or a stop sequence. ``length``: the output token
limit (any tool call being written then is marked incomplete).
``tool_calls``: the model asked for tools. ``content_filter``: a safety
filter cut the answer. ``refusal``: the model declined.
"""

ReasoningMode = Literal["none", "raw", "summary"]
"""What reasoning to ask for: none, the raw reasoning, or a provider summary."""

ReasoningEffort = Literal["low", "medium", "high"]
"""How hard a reasoning model should think (mapped to each provider's knob)."""


class RequestError(ValueError):
    """A request value was built from bad values; the message names the field."""


# ---------------------------------------------------------------- usage


def _count(name: str) -> Any:
    def check(_: object, __: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RequestError(f"Usage.{name}: expected a count >= 0, got {value!r}")

    return check


@attrs.frozen(kw_only=True)
class Usage:
    """Tokens one call used, normalised across providers.

    ``input_tokens`` counts every prompt token, including those read from or
    written to a cache (Anthropic reports cache reads and writes apart; they
    are added in). ``output_tokens`` counts every generated token, including
    reasoning (xAI reports reasoning apart; it is added in). The
    ``cached_input_tokens``, ``cache_write_tokens`` and ``reasoning_tokens``
    fields say how much of those totals was which, so prices can be applied.

    Usages add up with ``+``.

    Attributes:
        input_tokens: Prompt tokens, cache reads and writes included.
        output_tokens: Generated tokens, reasoning included.
        cached_input_tokens: Of ``input_tokens``, read from the prompt cache.
        cache_write_tokens: Of ``input_tokens``, written to the prompt cache.
        reasoning_tokens: Of ``output_tokens``, spent reasoning.
    """

    input_tokens: int = attrs.field(default=0, validator=_count("input_tokens"))
    output_tokens: int = attrs.field(default=0, validator=_count("output_tokens"))
    cached_input_tokens: int = attrs.field(default=0, validator=_count("cached_input_tokens"))
    cache_write_tokens: int = attrs.field(default=0, validator=_count("cache_write_tokens"))
    reasoning_tokens: int = attrs.field(default=0, validator=_count("reasoning_tokens"))

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


# ---------------------------------------------------------------- tools and output

_TOOL_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_schema(where: str, value: object) -> None:
    if not isinstance(value, Mapping):
        raise RequestError(f"{where}: expected a JSON schema object, got {type(value).__name__}")
    kind = value.get("type")
    if kind != "object" and "$ref" not in value and "anyOf" not in value:
        raise RequestError(f'{where}: the top level must be {{"type": "object", ...}}')


@attrs.frozen(kw_only=True)
class ToolSpec:
    """A tool the model may call.

    Attributes:
        name: 1-64 characters of ``[A-Za-z0-9_-]`` (every provider accepts these).
        description: What the tool does, for the model.
        parameters: A JSON schema whose top level is an object.
        strict: Ask for strict schema adherence where the provider has it.
    """

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: {"type": "object", "properties": {}, "additionalProperties": False}
    )
    strict: bool = False

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not _TOOL_NAME.fullmatch(self.name):
            raise RequestError(
                f"ToolSpec.name: {self.name!r} must be 1-64 characters of A-Z a-z 0-9 _ -"
            )
        if not isinstance(self.description, str):
            raise RequestError("ToolSpec.description: expected a str")
        _check_schema(f"ToolSpec({self.name}).parameters", self.parameters)


@attrs.frozen(kw_only=True)
class OutputSchema:
    """Structured output: the JSON shape the answer must have.

    Build one from an attrs class with :meth:`for_type`; parse the answer
    with :meth:`ModelResponse.parse`.

    Attributes:
        name: A name for the schema (providers show it to the model).
        schema: The JSON schema; its top level is an object.
        strict: Ask for strict adherence where the provider supports it.
        description: What the output is, for the model.
    """

    name: str
    schema: Mapping[str, Any]
    strict: bool = True
    description: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not _TOOL_NAME.fullmatch(self.name):
            raise RequestError(
                f"OutputSchema.name: {self.name!r} must be 1-64 characters of A-Z a-z 0-9 _ -"
            )
        _check_schema("OutputSchema.schema", self.schema)

    @classmethod
    def for_type(
        cls, tp: type[Any], *, name: str | None = None, strict: bool = True
    ) -> OutputSchema:
        """The schema of an attrs class, in the strict form providers expect.

        ``strict`` is kept only if the schema qualifies for strict mode
        (every field required, no free-form objects).

        Raises:
            actrio._schema.SchemaError: If a field's type cannot be expressed.
        """
        from actrio._schema import is_strict_compatible, json_schema  # noqa: PLC0415

        schema = json_schema(tp, strict=strict)
        return cls(
            name=name or tp.__name__,
            schema=schema,
            strict=strict and is_strict_compatible(schema),
            description=schema.get("description"),
        )


# ---------------------------------------------------------------- provider extras


@attrs.frozen(kw_only=True)
class OpenAIChatExtras:
    """Options only OpenAI Chat Completions (and compatible servers) understand.

    Attributes:
        seed: Sampling seed.
        top_p: Nucleus sampling.
        presence_penalty: Presence penalty.
        frequency_penalty: Frequency penalty.
        parallel_tool_calls: Allow several tool calls in one answer.
        user: An end-user id for abuse monitoring.
        service_tier: ``auto``, ``default``, ``flex``, ...
        n: Must be 1 (or None): actrio takes one choice; ``n > 1`` is refused.
        body: Extra top-level body fields, merged last (for a server's own knobs).
    """

    kind: Literal["openai_chat"] = "openai_chat"
    seed: int | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    service_tier: str | None = None
    n: int | None = None
    body: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.n is not None and self.n != 1:
            raise RequestError(
                f"OpenAIChatExtras.n: {self.n} choices requested; actrio takes exactly one "
                "(send several requests instead)"
            )


@attrs.frozen(kw_only=True)
class OpenAIResponsesExtras:
    """Options only the OpenAI Responses API understands.

    Attributes:
        store: Let OpenAI store the response (default: not stored, stateless).
        previous_response_id: Continue a stored response.
        include: Extra ``include`` values (``reasoning.encrypted_content`` is
            added automatically when reasoning is on and ``store`` is off).
        top_p: Nucleus sampling.
        user: An end-user id.
        service_tier: ``auto``, ``default``, ``flex``, ...
        body: Extra top-level body fields, merged last.
    """

    kind: Literal["openai_responses"] = "openai_responses"
    store: bool = False
    previous_response_id: str | None = None
    include: tuple[str, ...] = ()
    top_p: float | None = None
    user: str | None = None
    service_tier: str | None = None
    body: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class AnthropicExtras:
    """Options only the Anthropic Messages API understands.

    Attributes:
        thinking_budget: Tokens for extended thinking (overrides the budget
            derived from ``reasoning_effort``); at least 1024.
        top_k: Top-k sampling.
        top_p: Nucleus sampling.
        user_id: ``metadata.user_id``.
        body: Extra top-level body fields, merged last.
    """

    kind: Literal["anthropic"] = "anthropic"
    thinking_budget: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    user_id: str | None = None
    body: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.thinking_budget is not None and self.thinking_budget < 1024:
            raise RequestError("AnthropicExtras.thinking_budget: must be at least 1024 tokens")


@attrs.frozen(kw_only=True)
class GeminiExtras:
    """Options only Gemini ``generateContent`` understands.

    Attributes:
        thinking_budget: ``thinkingConfig.thinkingBudget`` (overrides the
            budget derived from ``reasoning_effort``).
        top_k: Top-k sampling.
        top_p: Nucleus sampling.
        safety_settings: ``safetySettings`` entries, passed as given.
        body: Extra top-level body fields, merged last.
    """

    kind: Literal["gemini"] = "gemini"
    thinking_budget: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    safety_settings: tuple[Mapping[str, Any], ...] = ()
    body: Mapping[str, Any] = attrs.field(factory=dict)


ProviderExtras = OpenAIChatExtras | OpenAIResponsesExtras | AnthropicExtras | GeminiExtras
"""Per-provider options; a request may carry one of each, and every adapter reads only its own."""


# ---------------------------------------------------------------- request

_TOOL_CHOICES: Final = ("auto", "none", "required")


def _tools(value: Iterable[ToolSpec]) -> tuple[ToolSpec, ...]:
    return tuple(value)


def _stop(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise RequestError("ModelRequest.stop: expected a sequence of strings, got one str")
    return tuple(value)


def _extras(value: Iterable[ProviderExtras]) -> tuple[ProviderExtras, ...]:
    return tuple(value)


def _messages(value: Message | str | Iterable[Message]) -> tuple[Message, ...]:
    if isinstance(value, Message):
        return (value,)
    if isinstance(value, str):
        return (Message.user(value),)
    if isinstance(value, list | tuple):
        return tuple(value)
    raise RequestError(
        f"ModelRequest.messages: expected a sequence of Message, got {type(value).__name__}"
    )


@attrs.frozen(kw_only=True)
class ModelRequest:
    """One call to a model, independent of the provider.

    Attributes:
        messages: The conversation. System messages come first; every tool
            message answers a tool call of an earlier assistant message.
        tools: Tools the model may call (distinct names).
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or the name of
            one of ``tools``; ``None`` leaves the provider's default.
        output: Structured output: the answer must match this schema.
        temperature: Sampling temperature (>= 0).
        max_tokens: The output token limit (> 0).
        stop: Stop sequences.
        reasoning: ``"none"``, ``"raw"`` (the model's reasoning where the
            provider exposes it) or ``"summary"`` (a provider summary).
        reasoning_effort: ``low`` / ``medium`` / ``high``, mapped to each
            provider's effort or thinking budget.
        extras: Per-provider options (at most one per provider).

    Raises:
        RequestError: On any of the rules above.
    """

    messages: tuple[Message, ...] = attrs.field(converter=_messages)
    tools: tuple[ToolSpec, ...] = attrs.field(default=(), converter=_tools)
    tool_choice: str | None = None
    output: OutputSchema | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = attrs.field(default=(), converter=_stop)
    reasoning: ReasoningMode = "none"
    reasoning_effort: ReasoningEffort | None = None
    extras: tuple[ProviderExtras, ...] = attrs.field(default=(), converter=_extras)

    def __attrs_post_init__(self) -> None:
        self._check_messages()
        for i, tool in enumerate(self.tools):
            if not isinstance(tool, ToolSpec):
                raise RequestError(f"ModelRequest.tools[{i}]: expected a ToolSpec")
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise RequestError(f"ModelRequest.tools: duplicate tool names in {names}")
        if self.tool_choice is not None and self.tool_choice not in (*_TOOL_CHOICES, *names):
            raise RequestError(
                f"ModelRequest.tool_choice: {self.tool_choice!r} is neither one of "
                f"{_TOOL_CHOICES} nor the name of a tool"
            )
        if self.output is not None and not isinstance(self.output, OutputSchema):
            raise RequestError("ModelRequest.output: expected an OutputSchema")
        if self.temperature is not None and (
            isinstance(self.temperature, bool)
            or not isinstance(self.temperature, int | float)
            or not math.isfinite(self.temperature)
            or self.temperature < 0
        ):
            raise RequestError(f"ModelRequest.temperature: expected >= 0, got {self.temperature!r}")
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or self.max_tokens <= 0
        ):
            raise RequestError(f"ModelRequest.max_tokens: expected > 0, got {self.max_tokens!r}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise RequestError("ModelRequest.stop: stop sequences must be non-empty strings")
        if self.reasoning not in ("none", "raw", "summary"):
            raise RequestError(
                f"ModelRequest.reasoning: expected none, raw or summary, got {self.reasoning!r}"
            )
        if self.reasoning_effort not in (None, "low", "medium", "high"):
            raise RequestError(
                "ModelRequest.reasoning_effort: expected low, medium or high, "
                f"got {self.reasoning_effort!r}"
            )
        providers = [e.kind for e in self.extras]
        if len(set(providers)) != len(providers):
            raise RequestError(f"ModelRequest.extras: more than one entry for {providers}")

    def _check_messages(self) -> None:
        if not self.messages:
            raise RequestError("ModelRequest.messages: at least one message is needed")
        seen_other = False
        call_ids: set[str] = set()
        for i, message in enumerate(self.messages):
            if not isinstance(message, Message):
                raise RequestError(
                    f"ModelRequest.messages[{i}]: expected a Message, got {type(message).__name__}"
                )
            if message.role == "system":
                if seen_other:
                    raise RequestError(
                        f"ModelRequest.messages[{i}]: system messages must come first"
                    )
                continue
            seen_other = True
            if message.role == "assistant":
                call_ids.update(c.id for c in message.tool_calls)
            elif message.role == "tool":
                for part in message.parts:
                    if part.tool_call_id not in call_ids:  # type: ignore[union-attr]
                        raise RequestError(
                            f"ModelRequest.messages[{i}]: answers tool call "
                            f"{part.tool_call_id!r}, which no earlier assistant "  # type: ignore[union-attr]
                            "message made"
                        )

    def extras_for(self, cls: type[T]) -> T | None:
        """This request's extras of type ``cls``, if any."""
        for extra in self.extras:
            if isinstance(extra, cls):
                return extra
        return None

    @property
    def system_prompt(self) -> str:
        """The system messages' text, joined by blank lines."""
        return "\n\n".join(m.text for m in self.messages if m.role == "system")


# ---------------------------------------------------------------- response


@attrs.frozen(kw_only=True)
class ModelResponse:
    """A model's answer.

    Attributes:
        message: The assistant message: text, tool calls and reasoning, in
            the order the model produced them.
        finish_reason: Why it stopped (:data:`FinishReason`).
        usage: Tokens used.
        model: The model that answered, as the provider names it.
        provider: The adapter family (``"openai-chat"``, ``"anthropic"``, ...).
        request_id: The provider's request id (for support tickets).
        response_id: The provider's id for this response, if it has one.
        raw_finish_reason: The provider's own finish/stop reason.
        attempts: HTTP attempts it took (1 without retries).
        raw: The provider's body (non-streaming) or list of event payloads
            (streaming) when the adapter was asked to keep it; else ``None``.
    """

    message: Message
    finish_reason: FinishReason
    usage: Usage = Usage()
    model: str | None = None
    provider: str | None = None
    request_id: str | None = None
    response_id: str | None = None
    raw_finish_reason: str | None = None
    attempts: int = 1
    raw: Any = attrs.field(default=None, repr=False, eq=False)

    @property
    def text(self) -> str:
        """The answer's text (reasoning left out)."""
        return self.message.text

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        """The tool calls the model asked for, in its order."""
        return self.message.tool_calls

    @property
    def reasoning(self) -> tuple[ReasoningPart, ...]:
        """The reasoning parts."""
        return self.message.reasoning

    @property
    def reasoning_text(self) -> str:
        """The reasoning text, joined."""
        return "".join(p.text for p in self.message.reasoning)

    def parse(self, tp: type[T]) -> T:
        """Structure the answer's text (JSON) into ``tp`` with strict checks.

        Raises:
            actrio._output.OutputValidationError: If the text is not JSON or
                does not fit ``tp``; every problem is listed with its JSON
                path, and ``error.feedback()`` is a correction to send back
                to the model.
        """
        from actrio._output import parse_output  # noqa: PLC0415 - light import

        return parse_output(tp, self.text)


# ---------------------------------------------------------------- stream events


@attrs.frozen(kw_only=True)
class TextDelta:
    """A piece of answer text."""

    kind: Literal["text_delta"] = "text_delta"
    text: str


@attrs.frozen(kw_only=True)
class ReasoningDelta:
    """A piece of reasoning (or of a reasoning summary, when ``summary``)."""

    kind: Literal["reasoning_delta"] = "reasoning_delta"
    text: str
    summary: bool = False


@attrs.frozen(kw_only=True)
class ToolCallStart:
    """A tool call began; ``index`` keys its later deltas and end."""

    kind: Literal["tool_call_start"] = "tool_call_start"
    index: int
    id: str
    name: str


@attrs.frozen(kw_only=True)
class ToolCallDelta:
    """A fragment of a tool call's JSON arguments."""

    kind: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    arguments: str


@attrs.frozen(kw_only=True)
class ToolCallEnd:
    """A tool call is whole; ``call`` has its parsed arguments."""

    kind: Literal["tool_call_end"] = "tool_call_end"
    index: int
    call: ToolCallPart


@attrs.frozen(kw_only=True)
class UsageUpdate:
    """The usage so far (cumulative, not a delta)."""

    kind: Literal["usage"] = "usage"
    usage: Usage


@attrs.frozen(kw_only=True)
class Finish:
    """The stream's last event: the whole response."""

    kind: Literal["finish"] = "finish"
    response: ModelResponse


# Private constructors of the commonest values of a stream, for the adapters'
# hot paths: they set the slots directly instead of through the attrs
# ``__init__`` of a frozen class (which fetches a checked ``__setattr__``
# first, and costs more than the event itself), and run no validator. The
# values are equal to the public ones; the public constructors are unchanged
# and still validate.
_new = object.__new__
_set_text_kind = TextDelta.__dict__["kind"].__set__
_set_text_text = TextDelta.__dict__["text"].__set__
_set_reasoning_kind = ReasoningDelta.__dict__["kind"].__set__
_set_reasoning_text = ReasoningDelta.__dict__["text"].__set__
_set_reasoning_summary = ReasoningDelta.__dict__["summary"].__set__
_set_tool_delta_kind = ToolCallDelta.__dict__["kind"].__set__
_set_tool_delta_index = ToolCallDelta.__dict__["index"].__set__
_set_tool_delta_arguments = ToolCallDelta.__dict__["arguments"].__set__


_USAGE_SLOTS = tuple(
    Usage.__dict__[name].__set__
    for name in (
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    )
)


def _checked_usage(
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
) -> Usage:
    """``Usage(...)`` of counts the caller has checked (ints >= 0), without the validators.

    A provider parser reads every count through its own check, and some
    providers send usage with every chunk (Gemini, vLLM).
    """
    usage: Usage = _new(Usage)
    set_input, set_output, set_cached, set_write, set_reasoning = _USAGE_SLOTS
    set_input(usage, input_tokens)
    set_output(usage, output_tokens)
    set_cached(usage, cached_input_tokens)
    set_write(usage, cache_write_tokens)
    set_reasoning(usage, reasoning_tokens)
    return usage


def _text_delta(text: str) -> TextDelta:
    """``TextDelta(text=text)``, built without the attrs ``__init__``."""
    event: TextDelta = _new(TextDelta)
    _set_text_kind(event, "text_delta")
    _set_text_text(event, text)
    return event


def _reasoning_delta(text: str, summary: bool) -> ReasoningDelta:
    """``ReasoningDelta(text=text, summary=summary)``, built without the attrs ``__init__``."""
    event: ReasoningDelta = _new(ReasoningDelta)
    _set_reasoning_kind(event, "reasoning_delta")
    _set_reasoning_text(event, text)
    _set_reasoning_summary(event, summary)
    return event


def _tool_call_delta(index: int, arguments: str) -> ToolCallDelta:
    """``ToolCallDelta(index=index, arguments=arguments)``, built without the attrs ``__init__``."""
    event: ToolCallDelta = _new(ToolCallDelta)
    _set_tool_delta_kind(event, "tool_call_delta")
    _set_tool_delta_index(event, index)
    _set_tool_delta_arguments(event, arguments)
    return event


_RESPONSE_SLOTS = tuple(
    ModelResponse.__dict__[name].__set__
    for name in (
        "message",
        "finish_reason",
        "usage",
        "model",
        "provider",
        "request_id",
        "response_id",
        "raw_finish_reason",
        "attempts",
        "raw",
    )
)


def _model_response(
    message: Message,
    finish_reason: FinishReason,
    usage: Usage,
    *,
    model: str | None,
    provider: str | None,
    response_id: str | None,
    raw_finish_reason: str | None,
) -> ModelResponse:
    """``ModelResponse(...)`` of those fields, built without the attrs ``__init__``.

    ``request_id``, ``attempts`` and ``raw`` get their defaults (``None``,
    1, ``None``); the core stamps them on the response it returns.
    """
    response: ModelResponse = _new(ModelResponse)
    (
        set_message,
        set_finish,
        set_usage,
        set_model,
        set_provider,
        set_request_id,
        set_response_id,
        set_raw_finish,
        set_attempts,
        set_raw,
    ) = _RESPONSE_SLOTS
    set_message(response, message)
    set_finish(response, finish_reason)
    set_usage(response, usage)
    set_model(response, model)
    set_provider(response, provider)
    set_request_id(response, None)
    set_response_id(response, response_id)
    set_raw_finish(response, raw_finish_reason)
    set_attempts(response, 1)
    set_raw(response, None)
    return response


StreamEvent = (
    TextDelta | ReasoningDelta | ToolCallStart | ToolCallDelta | ToolCallEnd | UsageUpdate | Finish
)
"""Any event of a model stream."""


# ---------------------------------------------------------------- wire form

register_kind_union(ProviderExtras)
register_kind_union(StreamEvent)


def to_wire(value: Any) -> Any:
    """Unstructure a vocabulary value to JSON-ready data."""
    return converter.unstructure(value)


def from_wire(data: Any, tp: type[T]) -> T:
    """Structure JSON data into ``tp`` (a vocabulary class).

    Raises:
        cattrs.errors.ClassValidationError: If the data does not fit.
    """
    result: T = converter.structure(data, tp)
    return result
