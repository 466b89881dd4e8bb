r"""A tool's return value as text for the model: bounded, valid Unicode, visible controls.

:func:`render_result` turns what a tool returned into the text of its
result:

- ``str`` is the text itself;
- ``bytes`` are decoded as UTF-8, invalid bytes replaced with U+FFFD and a
  note saying so (B-06);
- anything else (attrs instances, dicts, lists, numbers, bools, ``None``) is
  compact JSON, unstructured by actrio's wire converter (so ``bytes`` inside
  a structure are its wire form, base64); values JSON has no form for are
  written as their text (sets as lists, paths as strings, other objects as a
  short ``repr``), and a result that is still not JSON
  (``NaN``, a cycle) falls back to a short ``repr`` of the whole.

Control characters other than tab, newline and carriage return (NUL, ANSI
escapes), bidi controls, zero-width characters and Unicode tags are shown
escaped (``\x1b``, ``\u202e``; JSON escapes inside JSON), so neither a
terminal nor a model is steered by what it cannot see (B-06, B-08); unpaired
surrogates become U+FFFD, so the text always encodes as UTF-8 and as JSON.

Past ``max_chars`` the head is kept, followed by a marker with the original
size in bytes and characters (B-05). Sizes are measured in chunks, and bytes
decoded in chunks, so rendering holds at most a chunk and the head besides
the value itself; a JSON result is built once, whole, by ``json.dumps``
before it is cut (its size must be known), so a tool that may return huge
structures should cap them itself.
"""

from __future__ import annotations

import codecs
import datetime
import json
import re
import reprlib
from pathlib import PurePath
from typing import Final

import attrs

from actrio._wire import converter

__all__ = ("DEFAULT_MAX_CHARS", "ToolOutput", "render_result")

DEFAULT_MAX_CHARS: Final = 16_000
"""How many characters of a result the model sees by default."""

_CHUNK: Final = 1 << 20
"""Characters (or bytes) measured or decoded at a time."""

_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\U000e0000-\U000e007f\ud800-\udfff]"
)
"""What is shown escaped: C0/C1 controls but tab, LF, CR; invisible and bidi characters; tags."""

_SURROGATES = range(0xD800, 0xE000)

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 200
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 50
_REPR.maxlevel = 6


@attrs.frozen
class ToolOutput:
    """A tool's result as the model sees it.

    Attributes:
        text: The text sent to the model (notes and markers included).
        is_json: Whether the result was rendered as JSON (it is valid JSON
            when not truncated).
        truncated: Whether the text was cut at the size cap.
        original_chars: The size of the whole rendering, in characters.
        original_bytes: The size of the whole rendering (for ``bytes``, of
            the bytes), in UTF-8 bytes.
        replaced: Whether invalid UTF-8 or unpaired surrogates were replaced
            with U+FFFD.
    """

    text: str
    is_json: bool
    truncated: bool
    original_chars: int
    original_bytes: int
    replaced: bool = False


def _fallback(value: object) -> object:
    """What ``json.dumps`` writes for a value it has no form for."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return _REPR.repr(value)


def _json_text(value: object) -> str | None:
    try:
        data = converter.unstructure(value)
        return json.dumps(
            data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_fallback
        )
    except (TypeError, ValueError, RecursionError):  # NaN, a cycle, odd keys, deep nesting
        return None


def _utf8_size(text: str) -> int:
    return sum(
        len(text[i : i + _CHUNK].encode("utf-8", "surrogatepass"))
        for i in range(0, len(text), _CHUNK)
    )


def _decode(data: bytes | bytearray | memoryview, head_chars: int) -> tuple[str, int, bool]:
    """The first ``head_chars`` characters, the count of all, and whether any byte was invalid."""
    view = memoryview(data).cast("B")
    lenient = codecs.getincrementaldecoder("utf-8")("replace")
    strict = codecs.getincrementaldecoder("utf-8")("strict")
    head: list[str] = []
    kept = chars = 0
    invalid = False
    for start in range(0, max(len(view), 1), _CHUNK):
        chunk = view[start : start + _CHUNK]
        final = start + _CHUNK >= len(view)
        text = lenient.decode(chunk, final)
        if not invalid:
            try:
                strict.decode(chunk, final)
            except UnicodeDecodeError:
                invalid = True
        chars += len(text)
        if kept < head_chars:
            head.append(text[: head_chars - kept])
            kept += len(head[-1])
    return "".join(head), chars, invalid


def _escape(char: str, *, json_style: bool) -> str:
    code = ord(char)
    if code in _SURROGATES:
        return "\ufffd"
    if json_style:
        if code > 0xFFFF:  # a JSON escape of an astral character is a surrogate pair
            code -= 0x10000
            return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
        return f"\\u{code:04x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _escape_prefix(text: str, budget: int, *, json_style: bool) -> tuple[str, int, bool]:
    """``text`` escaped, cut to ``budget`` characters without splitting an escape.

    Returns:
        The escaped text, how many characters of ``text`` it shows, and
        whether an unpaired surrogate was replaced.
    """
    parts: list[str] = []
    used = pos = 0
    replaced = False
    for match in _UNSAFE.finditer(text):
        literal = text[pos : match.start()]
        if used + len(literal) >= budget:
            break
        escaped = _escape(match.group(), json_style=json_style)
        if used + len(literal) + len(escaped) > budget:
            parts.append(literal)
            return "".join(parts), match.start(), replaced
        parts += (literal, escaped)
        used += len(literal) + len(escaped)
        pos = match.end()
        replaced = replaced or escaped == "\ufffd"
    tail = text[pos : pos + budget - used]
    parts.append(tail)
    return "".join(parts), pos + len(tail), replaced


def render_result(value: object, *, max_chars: int = DEFAULT_MAX_CHARS) -> ToolOutput:
    """The text the model sees for a tool's return value.

    Args:
        value: What the tool returned.
        max_chars: The most characters of the rendering shown (markers and
            notes come on top).

    Returns:
        The text, with what was done to it.

    Raises:
        ValueError: If ``max_chars`` is not a positive int.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ValueError(f"max_chars must be a positive int, not {max_chars!r}")
    invalid = False
    is_json = False
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes | bytearray | memoryview):
        head, chars, invalid = _decode(value, max_chars)
        size = memoryview(value).nbytes
        return _finish(head, chars, size, max_chars, json_style=False, invalid=invalid)
    else:
        found = _json_text(value)
        is_json = found is not None
        text = found if found is not None else _REPR.repr(value)
    size = _utf8_size(text)
    return _finish(
        text[:max_chars], len(text), size, max_chars, json_style=is_json, invalid=invalid
    )


def _finish(
    head: str, chars: int, size: int, max_chars: int, *, json_style: bool, invalid: bool
) -> ToolOutput:
    shown, consumed, replaced = _escape_prefix(head, max_chars, json_style=json_style)
    truncated = consumed < chars
    notes = []
    if truncated:
        notes.append(
            f"[… truncated: {size:,} bytes ({chars:,} characters) total,"
            f" showing the first {consumed:,} characters]"
        )
    if invalid:
        notes.append("[binary output: bytes that are not UTF-8 were replaced with U+FFFD]")
    text = "\n".join([shown, *notes]) if notes else shown
    return ToolOutput(text, json_style, truncated, chars, size, replaced or invalid)
