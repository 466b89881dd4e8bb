"""A Server-Sent Events decoder, exact to the WHATWG event-stream rules.

The decoder works on bytes and is incremental: feed it the body of a
``text/event-stream`` response one network read at a time and it returns the
events each read completes. It follows the `event stream interpretation`_ of
the HTML standard:

- lines end with CRLF, LF or a lone CR, also when a CRLF is split across two
  reads; Unicode line separators (U+2028, U+0085, ...) never end a line;
- one UTF-8 byte order mark at the very start of the stream is dropped;
- a line starting with ``:`` is a comment; ``name:value`` is a field, with one
  leading space of the value dropped; a line without ``:`` is a field with an
  empty value; a field name is matched exactly (``" data"`` is not ``data``);
- ``event`` sets the event type, ``data`` appends a line to the data,
  ``id`` sets the last event id (unless it contains NUL), ``retry`` sets the
  reconnection time (only ASCII digits); other fields are ignored;
- a blank line dispatches the event, unless no ``data`` line came since the
  last blank line: then the event type is reset and nothing is dispatched.

Bytes are decoded as UTF-8 only when a field is used, with
``errors="replace"`` as the standard requires, so a character split across
two reads is never broken.

At the end of the stream the standard discards an event that no blank line
terminated, and so does :meth:`SSEDecoder.end` (the OpenAI and Anthropic SDK
decoders do the same); it tells the caller whether it discarded anything, so
that a stream cut short can be reported as truncated.

.. _event stream interpretation:
   https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from actrio.kernel import UsageError

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator

__all__ = ("SSEDecoder", "SSEDecoderClosed", "ServerSentEvent", "aiter_sse")

_BOM = b"\xef\xbb\xbf"


@attrs.frozen(slots=True)
class ServerSentEvent:
    r"""One dispatched event.

    Attributes:
        data: The ``data`` lines of the event joined with ``"\n"``. It may be
            empty (a lone ``data:`` line), but an event never comes without
            any ``data`` line: the standard does not dispatch those.
        event: The event type: the last ``event`` field of the event, or
            ``"message"`` when there was none or it was empty.
        id: The last event id when the event was dispatched. Ids persist from
            one event to the next, as in the standard: an event without an
            ``id`` field carries the id of an earlier one. ``None`` if the
            stream never set an id (the standard's empty string is kept for a
            stream that set the id to ``""``, which resets it).
        retry: The reconnection time in milliseconds, if a ``retry`` field set
            it since the previous event was dispatched, else ``None``.
    """

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


_new = object.__new__
_set_data = ServerSentEvent.__dict__["data"].__set__
_set_event = ServerSentEvent.__dict__["event"].__set__
_set_id = ServerSentEvent.__dict__["id"].__set__
_set_retry = ServerSentEvent.__dict__["retry"].__set__


def _new_event(data: str, event: str, id: str | None, retry: int | None) -> ServerSentEvent:
    """``ServerSentEvent(data, event, id, retry)``, for values the decoder built itself.

    The slots are set directly: the attrs ``__init__`` of a frozen class
    fetches a checked ``__setattr__`` first, which costs more than the event.
    """
    value: ServerSentEvent = _new(ServerSentEvent)
    _set_data(value, data)
    _set_event(value, event)
    _set_id(value, id)
    _set_retry(value, retry)
    return value


class SSEDecoderClosed(UsageError, RuntimeError):
    """:meth:`SSEDecoder.feed` was called after :meth:`SSEDecoder.end`."""


class SSEDecoder:
    r"""Incremental decoder of an event stream, fed with bytes as they arrive.

    Example:
        >>> decoder = SSEDecoder()
        >>> decoder.feed(b"data: hel")
        []
        >>> decoder.feed(b"lo\n\n")
        [ServerSentEvent(data='hello', event='message', id=None, retry=None)]
        >>> decoder.end()
        False

    No byte is scanned again by a later read: each read is searched for CR
    and split into lines by ``bytes.split`` (both in C), and the unterminated
    line at its end is kept as a list of pieces that is joined once, when its
    line ending arrives. A long line in many reads therefore costs linear
    time, where re-splitting a growing buffer costs quadratic time.
    """

    __slots__ = (
        "_data",
        "_ended",
        "_event",
        "_head",
        "_id",
        "_last_event_id",
        "_partial",
        "_retry",
        "_retry_pending",
        "_skip_lf",
    )

    def __init__(self) -> None:
        # Bytes of an unterminated line, in the order they arrived.
        self._partial: list[bytes] = []
        # The start of the stream while it may still be a split BOM; None once decided.
        self._head: bytes | None = b""
        # The last read ended with CR: a LF at the start of the next one ends no line.
        self._skip_lf = False
        self._ended = False
        # The standard's buffers: data lines, event type, last event id.
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None
        # The standard's "last event ID string", copied from the buffer at each blank line.
        self._last_event_id: str | None = None
        self._retry: int | None = None
        self._retry_pending: int | None = None

    @property
    def last_event_id(self) -> str | None:
        """The last event id, as of the last blank line (``None`` if never set).

        This is the standard's *last event ID string*, the value a client
        sends back in the ``Last-Event-ID`` header when it reconnects. An
        ``id`` field takes effect at the blank line that ends its event, even
        when that event has no data and is not dispatched.
        """
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The latest reconnection time the stream set, in ms (``None`` if never)."""
        return self._retry

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[ServerSentEvent]:
        """Decode the next bytes of the stream.

        Args:
            chunk: The next bytes, of any length (empty is fine); a
                ``bytearray`` or ``memoryview`` is copied to ``bytes``.

        Returns:
            The events that ``chunk`` completed, in stream order.

        Raises:
            SSEDecoderClosed: If :meth:`end` was called.
            TypeError: If ``chunk`` is not bytes-like (a ``str``, say).
        """
        if self._ended:
            raise SSEDecoderClosed("feed() after end(): this SSE stream has ended")
        if type(chunk) is not bytes:
            chunk = _as_bytes(chunk)
        if (lone := self._lone(chunk)) is not None:
            return [_new_event(lone[1], lone[0], self._id, None)]
        if self._head is not None:
            chunk = self._strip_bom(chunk)
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == 0x0A:  # the LF of a CRLF split across two reads
                chunk = chunk[1:]
        if 0x0D in chunk:  # an int is found with memchr, many times faster than b"\r"
            # A CR ending the read may be the first half of a CRLF: its line ends
            # either way, and a LF starting the next read must not end another.
            self._skip_lf = chunk[-1] == 0x0D
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        tail = lines.pop()
        partial = self._partial
        if partial and lines:
            partial.append(lines[0])
            lines[0] = b"".join(partial)
            partial.clear()
        if tail:
            partial.append(tail)
        return self._interpret(lines) if lines else []

    def end(self) -> bool:
        """Signal the end of the stream.

        As the standard says, an event that no blank line terminated is
        discarded, not dispatched. Calling ``end`` again does nothing and
        returns ``False``.

        Returns:
            ``True`` if something was discarded: an unterminated line, or the
            data or event type of an event still waiting for its blank line.
            A provider adapter treats that as a truncated stream.
        """
        if self._ended:
            return False
        self._ended = True
        discarded = bool(self._partial or self._head or self._data or self._event)
        # Let go of what was held back (a partial line can be large).
        self._partial.clear()
        self._data = []
        return discarded

    def _lone(self, chunk: bytes) -> tuple[str, str] | None:
        """Dispatch ``chunk`` if it is one whole event by itself: its type and data.

        Most reads carry exactly one event: an optional ``event: <type>``
        line, one ``data: <data>`` line and the blank line, all ended by LF
        or all by CRLF. When such a read comes with nothing held over from
        the one before (no partial line, data, event type, pending retry, CR
        or BOM to settle), this dispatches its event as :meth:`feed` would,
        without splitting the read into lines: the last event id advances,
        and the event carries that id and no retry. Any other read returns
        ``None`` and changes nothing. (The caller checks that the stream has
        not ended.)
        """
        if (
            self._head is not None
            or self._partial
            or self._data
            or self._skip_lf
            or self._event is not None
            or self._retry_pending is not None
        ):
            return None
        if 0x0D in chunk and chunk[-4:] == b"\r\n\r\n":
            chunk = chunk.replace(b"\r\n", b"\n")  # a lone CR left over is refused below
        end = len(chunk) - 2  # where the blank line starts, if the read ends with one
        first = chunk.find(0x0A)  # an int is found with memchr
        if 0x0D in chunk or chunk[-1:] != b"\n":
            return None
        if first == end and chunk[:6] == b"data: ":
            kind, start = "message", 6
        elif (
            chunk[:7] == b"event: "
            and chunk[first + 1 : first + 7] == b"data: "
            and chunk.find(0x0A, first + 1) == end
        ):
            kind, start = chunk[7:first].decode("utf-8", "replace") or "message", first + 7
        else:
            return None
        self._last_event_id = self._id
        return kind, chunk[start:end].decode("utf-8", "replace")

    def _strip_bom(self, chunk: bytes) -> bytes:
        """Drop a BOM at the very start of the stream, even one split across reads."""
        head = self._head
        assert head is not None
        if head:
            chunk = head + chunk
        if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
            self._head = chunk  # undecided: keep the bytes until there are three
            return b""
        self._head = None
        return chunk[len(_BOM) :] if chunk.startswith(_BOM) else chunk

    def _interpret(self, lines: list[bytes]) -> list[ServerSentEvent]:
        """Apply complete lines to the buffers; return the events they dispatched."""
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            # The common lines first: the blank line and "data: ...".
            if not line:
                self._last_event_id = self._id
                if data:
                    events.append(
                        _new_event(
                            b"\n".join(data).decode("utf-8", "replace"),
                            self._event or "message",
                            self._id,
                            self._retry_pending,
                        )
                    )
                    self._retry_pending = None
                    data = self._data = []
                self._event = None
            elif line.startswith(b"data: "):
                data.append(line[6:])
            elif line.startswith(b"data:"):
                data.append(line[5:])
            else:
                self._field(line)
        return events

    def _field(self, line: bytes) -> None:
        """Apply a line other than a blank line or a ``data:`` line."""
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"data":  # "data" without a colon: an empty data line
            self._data.append(value)
        elif name == b"id" and b"\0" not in value:
            self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():  # bytes.isdigit: ASCII digits only
            self._retry = self._retry_pending = int(value)
        # Anything else is a comment (empty name) or an unknown field: ignored.


def _as_bytes(chunk: object) -> bytes:
    """``chunk`` as ``bytes``, for the callers that are not type-checked."""
    if isinstance(chunk, bytes | bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"SSEDecoder.feed() takes bytes, not {type(chunk).__qualname__}")


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Decode an async iterable of byte chunks into events.

    A convenience over :class:`SSEDecoder`, for example over
    ``response.aiter_bytes()`` of an httpx streaming response. An event that
    no blank line terminated at the end is discarded, as the standard says;
    use :class:`SSEDecoder` directly to learn whether that happened. The
    caller owns ``chunks`` and closes it.

    Args:
        chunks: The body of a ``text/event-stream`` response.

    Yields:
        Each event, as soon as the chunk that completes it arrives.
    """
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    decoder.end()
