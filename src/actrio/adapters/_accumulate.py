"""Building one assistant message from stream fragments, for every adapter.

A provider's stream parser drives a :class:`MessageBuilder`: each call
records a fragment and returns the neutral stream event to emit (or
``None`` when there is nothing to say, such as an empty delta). The builder
keeps the parts in the order they began, merges consecutive text, keys
reasoning blocks and tool calls by the provider's own index, and turns tool
call argument fragments into parsed arguments when the call ends.

Tool calls that never ended when the message is built are marked
``complete=False`` (their input was cut short); a call whose arguments are
not a JSON object carries a ``problem``. Neither may run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from actrio.adapters._json import loads_json
from actrio.messages import ReasoningPart, ToolCallPart, _assistant_message, _text_part
from actrio.types import (
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    _reasoning_delta,
    _text_delta,
    _tool_call_delta,
)

if TYPE_CHECKING:
    from collections.abc import Hashable

    from actrio.messages import Message, Part

__all__ = ("MessageBuilder", "parse_arguments", "text_blocks", "text_message")

_MAX_ARGUMENTS: Final = 8 * 1024 * 1024
"""Tool-call arguments longer than this are refused (a runaway model)."""


def parse_arguments(raw: str | None) -> tuple[dict[str, Any], str | None]:
    """Parse tool-call arguments: ``(arguments, problem)``.

    Missing, ``null`` and empty arguments mean ``{}`` (servers send all
    three for tools without parameters).
    """
    if raw is None or not raw.strip() or raw.strip() == "null":
        return {}, None
    if len(raw) > _MAX_ARGUMENTS:
        return {}, f"arguments are {len(raw)} characters long (limit {_MAX_ARGUMENTS})"
    try:
        value = loads_json(raw)
    except ValueError as exc:
        return {}, f"arguments are not valid JSON ({exc})"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, None


def text_blocks(blocks: Any, kind: str | None) -> list[str] | None:
    """The non-empty texts of ``blocks``, if it is a list of text blocks alone; else ``None``.

    A text block is a ``dict`` whose ``type`` is ``kind`` and whose ``text``
    is a ``str`` (with ``kind`` ``None``: a ``dict`` holding ``text`` and
    nothing else, Gemini's form). The adapters' quick readers of a
    non-streaming body use it to recognise an answer of text alone.
    """
    if type(blocks) is not list:
        return None
    texts: list[str] = []
    for block in blocks:
        if type(block) is not dict:
            return None
        shaped = len(block) == 1 if kind is None else block.get("type") == kind
        if not shaped:
            return None
        text = block.get("text")
        if type(text) is not str:
            return None
        if text:
            texts.append(text)
    return texts


def text_message(texts: list[str]) -> Message:
    """The message a :class:`MessageBuilder` makes of these texts appended in turn.

    One text part of them all (consecutive text merges), or no part when
    there is no text (the builder skips empty deltas).
    """
    return _assistant_message((_text_part("".join(texts)),) if texts else ())


class _Text:
    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[str] = []


class _Reasoning:
    __slots__ = ("chunks", "encrypted", "id", "redacted", "signature", "summary")

    def __init__(self, summary: bool) -> None:
        self.chunks: list[str] = []
        self.summary = summary
        self.signature: str | None = None
        self.encrypted: str | None = None
        self.redacted = False
        self.id: str | None = None


class _Tool:
    __slots__ = ("arguments", "chunks", "ended", "id", "name", "provider_id", "signature")

    def __init__(self, id: str, name: str) -> None:
        self.id = id
        self.name = name
        self.chunks: list[str] = []
        self.arguments: dict[str, Any] | None = None
        self.ended: ToolCallPart | None = None
        self.provider_id: str | None = None
        self.signature: str | None = None


class MessageBuilder:
    """Accumulates one assistant message from a provider's stream.

    Args:
        provider: The adapter family, stamped on reasoning parts.
    """

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._slots: list[_Text | _Reasoning | _Tool] = []
        self._reasoning: dict[Hashable, _Reasoning] = {}
        self._tools: dict[int, _Tool] = {}
        self.emitted = False

    # ------------------------------------------------------------ text

    def text(self, delta: str | None) -> TextDelta | None:
        """Append answer text."""
        if not delta:
            return None
        slots = self._slots
        last = slots[-1] if slots else None
        if not isinstance(last, _Text):
            last = _Text()
            slots.append(last)
        last.chunks.append(delta)
        self.emitted = True
        return _text_delta(delta)

    # ------------------------------------------------------------ reasoning

    def _reasoning_slot(self, key: Hashable, summary: bool) -> _Reasoning:
        slot = self._reasoning.get(key)
        if slot is None:
            slot = self._reasoning[key] = _Reasoning(summary)
            self._slots.append(slot)
        return slot

    def reasoning(
        self, delta: str | None, *, key: Hashable = None, summary: bool = False
    ) -> ReasoningDelta | None:
        """Append reasoning text to the block ``key`` (opened on first use)."""
        slot = self._reasoning_slot(key, summary)
        if not delta:
            return None
        slot.chunks.append(delta)
        self.emitted = True
        return _reasoning_delta(delta, summary)

    def reasoning_meta(
        self,
        *,
        key: Hashable = None,
        summary: bool = False,
        signature: str | None = None,
        encrypted: str | None = None,
        redacted: bool | None = None,
        id: str | None = None,
    ) -> None:
        """Set the opaque fields of the reasoning block ``key`` (opened if new)."""
        slot = self._reasoning_slot(key, summary)
        if signature is not None:
            slot.signature = (slot.signature or "") + signature
        if encrypted is not None:
            slot.encrypted = encrypted
        if redacted is not None:
            slot.redacted = redacted
        if id is not None:
            slot.id = id

    # ------------------------------------------------------------ tool calls

    def has_tool(self, index: int) -> bool:
        """Whether a tool call with this index has started."""
        return index in self._tools

    def tool_start(
        self,
        index: int,
        id: str,
        name: str,
        *,
        provider_id: str | None = None,
        signature: str | None = None,
    ) -> ToolCallStart:
        """Start the tool call ``index``."""
        tool = _Tool(id, name)
        tool.provider_id = provider_id
        tool.signature = signature
        self._tools[index] = tool
        self._slots.append(tool)
        self.emitted = True
        return ToolCallStart(index=index, id=id, name=name)

    def tool_update(
        self,
        index: int,
        *,
        id: str | None = None,
        name: str | None = None,
        signature: str | None = None,
    ) -> None:
        """Fill in an id, name or signature that arrived after the start (never with empty)."""
        tool = self._tools[index]
        if id:
            tool.id = id
        if name:
            tool.name = name
        if signature:
            tool.signature = signature

    def tool_replace_arguments(self, index: int, raw: str) -> None:
        """Replace the call's argument text (a provider's final, authoritative copy)."""
        tool = self._tools[index]
        if tool.ended is None:
            tool.chunks[:] = [raw] if raw else []

    def tool_delta(self, index: int, fragment: str | None) -> ToolCallDelta | None:
        """Append a fragment of the call's JSON arguments."""
        if not fragment:
            return None
        tool = self._tools[index]
        if tool.ended is not None:
            return None  # a late empty-ish fragment after the end (vLLM) changes nothing
        tool.chunks.append(fragment)
        self.emitted = True
        return _tool_call_delta(index, fragment)

    def tool_arguments(self, index: int, arguments: dict[str, Any]) -> None:
        """Set the arguments of the call ``index`` whole (providers that send an object)."""
        self._tools[index].arguments = arguments

    def tool_end(self, index: int) -> ToolCallEnd | None:
        """End the call ``index``: parse its arguments. ``None`` if it had already ended."""
        tool = self._tools[index]
        if tool.ended is not None:
            return None
        tool.ended = self._finish_tool(tool, complete=True)
        return ToolCallEnd(index=index, call=tool.ended)

    def open_tools(self) -> list[int]:
        """Indexes of tool calls started and not ended, in order."""
        return [i for i, t in self._tools.items() if t.ended is None]

    def tool_cut(self, index: int, why: str) -> ToolCallEnd:
        """End the call ``index`` as cut short: it must not run."""
        tool = self._tools[index]
        tool.ended = self._finish_tool(tool, complete=False, why=why)
        return ToolCallEnd(index=index, call=tool.ended)

    @staticmethod
    def _finish_tool(tool: _Tool, *, complete: bool, why: str | None = None) -> ToolCallPart:
        raw = "".join(tool.chunks) if tool.chunks else None
        if tool.arguments is not None and raw is None:
            return ToolCallPart(
                id=tool.id,
                name=tool.name,
                arguments=tool.arguments,
                complete=complete,
                problem=None if complete else why,
                signature=tool.signature,
                provider_id=tool.provider_id,
            )
        arguments, problem = parse_arguments(raw)
        if not complete:
            problem = why
        return ToolCallPart(
            id=tool.id,
            name=tool.name,
            arguments=arguments,
            raw_arguments=raw if problem is not None else None,
            complete=complete,
            problem=problem,
            signature=tool.signature,
            provider_id=tool.provider_id,
        )

    # ------------------------------------------------------------ result

    def message(self, *, cut: str | None = None) -> Message:
        """The message so far; tool calls still open are marked cut short (``cut`` says why)."""
        parts: list[Part] = []
        for slot in self._slots:
            if isinstance(slot, _Text):
                parts.append(_text_part("".join(slot.chunks)))
            elif isinstance(slot, _Reasoning):
                parts.append(
                    ReasoningPart(
                        text="".join(slot.chunks),
                        summary=slot.summary,
                        signature=slot.signature,
                        encrypted=slot.encrypted,
                        redacted=slot.redacted,
                        id=slot.id,
                        provider=self.provider,
                    )
                )
            elif slot.ended is not None:
                parts.append(slot.ended)
            else:
                parts.append(
                    self._finish_tool(slot, complete=False, why=cut or "the stream ended first")
                )
        # Text, reasoning and tool call parts: what an assistant message holds.
        return _assistant_message(tuple(parts))
