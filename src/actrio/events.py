"""Scope lifecycle events: :class:`ScopeStarted`, :class:`ScopeEnded` and :class:`Mark`.

They carry the fields of NeMo Flow's ATOF events (schema version, uuid,
parent uuid, RFC 3339 timestamp, name, category, category profile,
attributes, data, metadata, data schema, annotated LLM request/response) and
actrio's own: the actor path and id of the scope, the end status
(``ok`` / ``error`` / ``cancelled``), the error, the cancel reason and the
duration. They travel on the kernel's event bus, so they share its sequence
numbers with the kernel's events, and one cattrs converter owns their wire
form (:mod:`actrio._wire`).
"""

from __future__ import annotations

import enum
from typing import Any, Literal, TypeAlias

import attrs

from actrio._wire import register_kind_union
from actrio.codecs import AnnotatedLLMRequest, AnnotatedLLMResponse
from actrio.kernel import ErrorInfo, Event

__all__ = (
    "ATOF_VERSION",
    "JsonValue",
    "Mark",
    "ScopeAttributes",
    "ScopeEnded",
    "ScopeEvent",
    "ScopeStarted",
    "ScopeStatus",
    "ScopeType",
)

ATOF_VERSION = "0.1"
"""The ATOF schema version these events follow."""

JsonValue: TypeAlias = Any
"""A JSON value: ``None``, bool, int, float, str, lists and str-keyed dicts of them."""

ScopeStatus = Literal["ok", "error", "cancelled"]
"""How a scope ended: its body returned, raised, or was cancelled."""


class ScopeType(enum.Enum):
    """The kind of work a scope stands for; recorded as the events' ``category``.

    NeMo Flow's spellings (``ScopeType.Agent``, ``ScopeType.Llm`` ...) are
    aliases of the same members.
    """

    AGENT = "agent"
    FUNCTION = "function"
    TOOL = "tool"
    LLM = "llm"
    RETRIEVER = "retriever"
    EMBEDDER = "embedder"
    RERANKER = "reranker"
    GUARDRAIL = "guardrail"
    EVALUATOR = "evaluator"
    CUSTOM = "custom"
    UNKNOWN = "unknown"

    Agent = "agent"  # noqa: PIE796 - an alias
    Function = "function"  # noqa: PIE796 - an alias
    Tool = "tool"  # noqa: PIE796 - an alias
    Llm = "llm"  # noqa: PIE796 - an alias
    Retriever = "retriever"  # noqa: PIE796 - an alias
    Embedder = "embedder"  # noqa: PIE796 - an alias
    Reranker = "reranker"  # noqa: PIE796 - an alias
    Guardrail = "guardrail"  # noqa: PIE796 - an alias
    Evaluator = "evaluator"  # noqa: PIE796 - an alias
    Custom = "custom"  # noqa: PIE796 - an alias
    Unknown = "unknown"  # noqa: PIE796 - an alias


class ScopeAttributes(enum.Flag):
    """Flags describing a scope; combine with ``|``, test with ``&``.

    ``PARALLEL``: child work may run in parallel. ``RELOCATABLE``: the work
    may move to another execution context.
    """

    NONE = 0
    PARALLEL = 1
    RELOCATABLE = 2

    @property
    def is_parallel(self) -> bool:
        """Whether ``PARALLEL`` is set."""
        return bool(self & ScopeAttributes.PARALLEL)

    @property
    def is_relocatable(self) -> bool:
        """Whether ``RELOCATABLE`` is set."""
        return bool(self & ScopeAttributes.RELOCATABLE)

    def names(self) -> tuple[str, ...]:
        """The set flags as lower-case names, as events carry them."""
        return tuple(
            flag.name.lower()
            for flag in (ScopeAttributes.PARALLEL, ScopeAttributes.RELOCATABLE)
            if flag in self and flag.name is not None
        )


@attrs.frozen(kw_only=True)
class _ScopeFields(Event):
    atof_version: str = ATOF_VERSION
    uuid: str
    parent_uuid: str | None
    timestamp: str
    name: str
    category: str
    category_profile: dict[str, JsonValue] | None = None
    attributes: tuple[str, ...] = ()
    data: JsonValue = None
    metadata: JsonValue = None
    data_schema: dict[str, JsonValue] | None = None
    path: str
    actor_id: str


@attrs.frozen(kw_only=True)
class ScopeStarted(_ScopeFields):
    """A scope (agent, tool call, LLM call ...) started.

    Attributes:
        uuid: The scope's unique id.
        parent_uuid: The enclosing scope's uuid, None for a root scope.
        timestamp: Wall-clock time, RFC 3339.
        name: The scope's name (the tool's or model's name for calls).
        category: The :class:`ScopeType` value, like ``"tool"``.
        category_profile: Category-specific data, if any.
        attributes: The set :class:`ScopeAttributes`, as lower-case names.
        data: Application data (the sanitized arguments of a tool call, the
            sanitized request body of an LLM call).
        metadata: Application metadata.
        data_schema: A schema descriptor for ``data``, if any.
        path: The scope actor's path in the actor tree.
        actor_id: The scope actor's id.
        annotated_request: For LLM scopes, the codec's view of the request.
    """

    kind: Literal["scope_started"] = "scope_started"
    annotated_request: AnnotatedLLMRequest | None = None


@attrs.frozen(kw_only=True)
class ScopeEnded(_ScopeFields):
    """A scope ended; published exactly once for every :class:`ScopeStarted`.

    Attributes:
        status: ``ok``, ``error`` (its body raised) or ``cancelled``.
        error: The exception's type and message when ``status`` is ``error``.
        cancel_reason: Why it was cancelled, when ``status`` is ``cancelled``.
        duration: Seconds from start to end, on trio's clock.
        data: Application end data (the sanitized result of a call).
        annotated_response: For LLM scopes, the codec's view of the response.
    """

    kind: Literal["scope_ended"] = "scope_ended"
    status: ScopeStatus
    error: ErrorInfo | None = None
    cancel_reason: str | None = None
    duration: float
    annotated_response: AnnotatedLLMResponse | None = None


@attrs.frozen(kw_only=True)
class Mark(Event):
    """A point-in-time event under a scope (a mark, or a guardrail's block).

    Attributes:
        uuid: The mark's own id.
        parent_uuid: The uuid of the scope it was recorded under, if any.
        path: That scope's actor path, if any.
    """

    kind: Literal["mark"] = "mark"
    atof_version: str = ATOF_VERSION
    uuid: str
    parent_uuid: str | None
    timestamp: str
    name: str
    category: str | None = None
    category_profile: dict[str, JsonValue] | None = None
    data: JsonValue = None
    metadata: JsonValue = None
    data_schema: dict[str, JsonValue] | None = None
    path: str | None = None


ScopeEvent: TypeAlias = ScopeStarted | ScopeEnded | Mark
"""The closed union of scope lifecycle events."""

SCOPE_EVENT_KINDS = register_kind_union(ScopeEvent)
