"""The SSE decoder: the WHATWG event-stream rules, reads split anywhere, the provider fixtures."""

from __future__ import annotations

import doctest
import itertools
import json
import random
import re
from typing import TYPE_CHECKING

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actrio.adapters import sse
from actrio.adapters.sse import ServerSentEvent, SSEDecoder, SSEDecoderClosed, aiter_sse
from actrio.kernel import UsageError
from provider_fixtures import PROVIDER_FIXTURES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable
    from pathlib import Path

E = ServerSentEvent


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    """Feed ``chunks`` one by one and end the stream; the events in order."""
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    decoder.end()
    return events


def decode_ended(chunks: Iterable[bytes]) -> tuple[list[ServerSentEvent], bool]:
    """Feed ``chunks``; the events and what ``end()`` returned."""
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events, decoder.end()


def split_at(stream: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``stream`` cut at the given offsets (empty pieces included)."""
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


def bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


# ---------------------------------------------------------------- reference


def reference(stream: bytes) -> tuple[list[ServerSentEvent], bool]:
    """The standard's algorithm, written as literally as possible over the decoded text."""
    text = stream.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split("\r\n|\r|\n", text)
    unterminated = lines.pop()
    events: list[ServerSentEvent] = []
    data = event_type = ""
    last_id: str | None = None
    retry: int | None = None
    for line in lines:
        if not line:
            if not data:
                event_type = ""
                continue
            data = data.removesuffix("\n")
            events.append(E(data, event_type or "message", last_id, retry))
            data = event_type = ""
            retry = None
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event_type = value
        elif name == "data":
            data += value + "\n"
        elif name == "id":
            if "\0" not in value:
                last_id = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)
    return events, bool(unterminated or data or event_type)


# ---------------------------------------------------------------- public surface


def test_all_is_a_sorted_tuple_of_public_names() -> None:
    assert isinstance(sse.__all__, tuple)
    assert list(sse.__all__) == sorted(sse.__all__)
    for name in sse.__all__:
        assert getattr(sse, name) is not None


def test_docstring_examples_run() -> None:
    result = doctest.testmod(sse)
    assert result.attempted > 0
    assert result.failed == 0


def test_event_defaults_and_immutability() -> None:
    event = ServerSentEvent(data="x")
    assert (event.event, event.id, event.retry) == ("message", None, None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]


# ---------------------------------------------------------------- line endings


def test_lf_ends_lines() -> None:
    assert decode(b"data: a\n\n") == [E("a")]


def test_crlf_ends_lines() -> None:
    assert decode(b"data: a\r\n\r\n") == [E("a")]


def test_lone_cr_ends_lines() -> None:
    assert decode(b"data: a\r\rdata: b\r\r") == [E("a"), E("b")]


def test_mixed_line_endings_in_one_stream() -> None:
    assert decode(b"data: a\rdata: b\r\ndata: c\n\r\n") == [E("a\nb\nc")]


def test_cr_cr_lf_is_two_line_endings() -> None:
    # CR then CRLF: a line end and a blank line, so the event is dispatched.
    assert decode(b"data: a\r\r\n") == [E("a")]


def test_crlf_split_across_reads_is_one_line_ending() -> None:
    # A spurious blank line between "\r" and "\n" would dispatch "a" on its own.
    assert decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [E("a\nb")]


def test_crlf_split_across_reads_dispatches_once() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\n\r") == [E("a")]
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"data: b\r\n\r\n") == [E("b")]
    assert decoder.end() is False


def test_lone_cr_at_the_end_of_a_read_ends_the_line_at_once() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [E("a")]
    assert decoder.feed(b"data: b\n\n") == [E("b")]


def test_pending_cr_survives_empty_reads() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == []  # the LF of the CRLF, not a blank line
    assert decoder.feed(b"\n") == [E("a")]


def test_unicode_line_separators_do_not_end_lines() -> None:
    # str.splitlines() would split on each of these; the standard does not.
    value = '{"text": "a\u2028b\u2029c\x85d\x1ce\x1df\x1eg\x0bh\x0ci"}'
    assert decode(f"data: {value}\n\n".encode()) == [E(value)]


# ---------------------------------------------------------------- byte order mark


def test_bom_at_the_start_is_dropped() -> None:
    assert decode(b"\xef\xbb\xbfdata: a\n\n") == [E("a")]


def test_bom_split_across_the_first_reads_is_dropped() -> None:
    assert decode(b"\xef", b"", b"\xbb", b"\xbf", b"data: a\n\n") == [E("a")]
    assert decode(b"\xef\xbb", b"\xbfdata: a\n\n") == [E("a")]


def test_only_one_bom_is_dropped() -> None:
    # The second BOM belongs to the field name, which makes it an unknown field.
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n") == [E("b")]


def test_bom_after_the_start_is_not_dropped() -> None:
    assert decode(b"data: a\n\n\xef\xbb\xbfdata: b\n\ndata: c\n\n") == [E("a"), E("c")]
    assert decode(b"data: \xef\xbb\xbfa\n\n") == [E("\ufeffa")]


def test_start_that_only_looks_like_a_bom_is_kept() -> None:
    # "\xef\xbb" then not "\xbf": those bytes belong to the first line.
    assert decode(b"\xef", b"\xbbdata: a\n\ndata: b\n\n") == [E("b")]
    assert decode(b"\xef", b"\n", b"data: a\n\n") == [E("a")]


def test_stream_of_only_a_bom_prefix_is_an_unterminated_line() -> None:
    assert decode_ended([b"\xef\xbb"]) == ([], True)
    assert decode_ended([b"\xef\xbb\xbf"]) == ([], False)


# ---------------------------------------------------------------- fields


def test_comment_lines_are_ignored() -> None:
    assert decode(b": hello\ndata: a\n:\n: data: b\n\n") == [E("a")]


def test_comment_block_dispatches_nothing() -> None:
    assert decode(b": keep-alive\n\n: OPENROUTER PROCESSING\n\n") == []


def test_one_leading_space_of_the_value_is_dropped() -> None:
    assert decode(b"data:  two spaces\n\n") == [E(" two spaces")]
    assert decode(b"data:\tx\n\n") == [E("\tx")]
    assert decode(b"event:  a\nid:\tb\ndata: x\n\n") == [E("x", " a", "\tb")]


def test_data_without_a_space_after_the_colon() -> None:
    assert decode(b"data:x\n\n") == [E("x")]


def test_colon_inside_the_value_is_kept() -> None:
    assert decode(b"data: a:b: c\n\n") == [E("a:b: c")]


def test_line_without_a_colon_is_a_field_with_an_empty_value() -> None:
    assert decode(b"data\n\n") == [E("")]


def test_multiple_data_lines_are_joined_with_lf() -> None:
    assert decode(b"data: a\ndata: b\ndata: c\n\n") == [E("a\nb\nc")]


def test_empty_data_lines_are_kept() -> None:
    assert decode(b"data:\ndata: a\ndata:\ndata\n\n") == [E("\na\n\n")]


def test_single_empty_data_line_dispatches_an_empty_event() -> None:
    assert decode(b"data:\n\n") == [E("")]
    assert decode(b"data: \n\n") == [E("")]


def test_event_field_sets_the_type() -> None:
    assert decode(b"event: ping\ndata: {}\n\n") == [E("{}", "ping")]


def test_last_event_field_wins() -> None:
    assert decode(b"event: a\nevent: b\ndata: x\n\n") == [E("x", "b")]


def test_empty_event_type_means_message() -> None:
    assert decode(b"event:\ndata: x\n\nevent\ndata: y\n\n") == [E("x"), E("y")]


def test_event_without_data_is_not_dispatched_and_its_type_is_reset() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [E("x")]


def test_event_type_is_reset_after_dispatch() -> None:
    assert decode(b"event: a\ndata: x\n\ndata: y\n\n") == [E("x", "a"), E("y")]


def test_id_sets_the_last_event_id() -> None:
    decoder = SSEDecoder()
    assert decoder.last_event_id is None
    assert decoder.feed(b"id: 7\ndata: x\n\n") == [E("x", id="7")]
    assert decoder.last_event_id == "7"


def test_id_persists_across_events() -> None:
    assert decode(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n") == [
        E("a", id="1"),
        E("b", id="1"),
        E("c", id="2"),
    ]


def test_id_is_none_when_never_set() -> None:
    assert decode(b"data: a\n\n") == [E("a", id=None)]


def test_empty_id_resets_to_the_empty_string() -> None:
    assert decode(b"id: 1\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n") == [
        E("a", id="1"),
        E("b", id=""),
        E("c", id=""),
    ]


def test_id_with_nul_is_ignored() -> None:
    assert decode(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n") == [E("a", id="1"), E("b", id="1")]


def test_id_in_a_block_without_data_applies_to_later_events() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 5\n") == []
    before_blank_line = decoder.last_event_id  # takes effect at the blank line
    assert decoder.feed(b"\n") == []
    assert (before_blank_line, decoder.last_event_id) == (None, "5")
    assert decoder.feed(b"data: a\n\n") == [E("a", id="5")]


def test_id_of_an_unterminated_event_is_not_taken() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 1\ndata: a\n\nid: 2\ndata: b\n")
    assert decoder.end() is True
    assert decoder.last_event_id == "1"


def test_retry_with_ascii_digits_sets_the_reconnection_time() -> None:
    decoder = SSEDecoder()
    assert decoder.retry is None
    assert decoder.feed(b"retry: 3000\ndata: a\n\n") == [E("a", retry=3000)]
    assert decoder.retry == 3000


@pytest.mark.parametrize(
    "value",
    [b"", b" 10", b"10 ", b"1e3", b"-1", b"+1", b"1.5", b"0x10", "\u0661\u0662".encode()],
    ids=repr,
)
def test_retry_that_is_not_only_ascii_digits_is_ignored(value: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 5\n\nretry: " + value + b"\ndata: a\n\n") == [E("a", retry=5)]
    assert decoder.retry == 5


def test_retry_goes_with_the_next_dispatched_event_only() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: 10\n\ndata: a\n\ndata: b\n\n") == [E("a", retry=10), E("b")]
    assert decoder.retry == 10


def test_unknown_fields_are_ignored() -> None:
    assert decode(b"foo: bar\nDATA: x\nData: y\ndata: a\nbar\n\n") == [E("a")]


def test_field_name_with_a_leading_space_is_another_field() -> None:
    assert decode(b" data: x\n\n") == []
    assert decode(b" data: x\ndata: y\n\n") == [E("y")]


def test_blank_line_without_data_dispatches_nothing() -> None:
    assert decode(b"\n\n\r\n\r\r\n") == []


# ---------------------------------------------------------------- bytes and text


def test_multi_byte_characters_split_across_reads() -> None:
    stream = "event: é\ndata: 日本語 😀\nid: ü\n\n".encode()
    assert decode(*bytewise(stream)) == [E("日本語 😀", "é", "ü")]


def test_invalid_utf8_is_replaced() -> None:
    assert decode(b"event: \xff\ndata: a\xc3\ndata: \xe2\x82\nid: \xfe\n\n") == [
        E("a\ufffd\n\ufffd", "\ufffd", "\ufffd")
    ]


def test_nul_in_data_is_kept() -> None:
    assert decode(b"data: a\x00b\n\n") == [E("a\x00b")]


def test_long_line_across_many_reads() -> None:
    value = b"x" * 100_000
    stream = b"data: " + value + b"\r\n\r\n"
    chunks = [stream[i : i + 1000] for i in range(0, len(stream), 1000)]
    assert decode(*chunks) == [E(value.decode())]


# ---------------------------------------------------------------- end of stream


def test_clean_end_returns_false() -> None:
    assert decode_ended([b"data: a\n\n"]) == ([E("a")], False)
    assert decode_ended([]) == ([], False)


def test_event_without_its_blank_line_is_discarded_at_the_end() -> None:
    assert decode_ended([b"data: a\n\ndata: b\n"]) == ([E("a")], True)


def test_unterminated_line_is_discarded_at_the_end() -> None:
    assert decode_ended([b"data: a\n\ndata: b"]) == ([E("a")], True)
    assert decode_ended([b": comment"]) == ([], True)


def test_pending_event_type_is_discarded_at_the_end() -> None:
    assert decode_ended([b"event: x\n"]) == ([], True)


def test_pending_id_or_retry_alone_is_not_a_discarded_event() -> None:
    assert decode_ended([b"data: a\n\nid: 2\nretry: 5\n"]) == ([E("a")], False)


def test_end_twice_returns_false() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a")
    assert decoder.end() is True
    assert decoder.end() is False


def test_feed_after_end_raises() -> None:
    decoder = SSEDecoder()
    decoder.end()
    with pytest.raises(SSEDecoderClosed, match=r"after end\(\)"):
        decoder.feed(b"data: a\n\n")
    assert issubclass(SSEDecoderClosed, RuntimeError)
    assert issubclass(SSEDecoderClosed, UsageError)


def test_bytes_like_reads_are_accepted() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(bytearray(b"data: a")) == []
    assert decoder.feed(memoryview(b"\n\n")) == [E("a")]


def test_str_read_is_a_type_error() -> None:
    decoder = SSEDecoder()
    with pytest.raises(TypeError, match="takes bytes, not str"):
        decoder.feed("data: a\n\n")  # type: ignore[arg-type]


def test_empty_reads_return_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n") == [E("a")]


# ---------------------------------------------------------------- aiter_sse


async def test_aiter_sse_yields_events_as_chunks_complete_them() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"data: a\n", b"\nevent: e\ndata:", b" b\n\n", b"data: cut"):
            yield chunk

    assert [event async for event in aiter_sse(chunks())] == [E("a"), E("b", "e")]


# ---------------------------------------------------------------- the standard's examples

WHATWG_EXAMPLES = [
    pytest.param(
        b"data: YHOO\ndata: +2\ndata: 10\n\n",
        [E("YHOO\n+2\n10")],
        False,
        id="stock-ticker",
    ),
    pytest.param(
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n",
        [E("first event", id="1"), E("second event", id=""), E(" third event", id="")],
        False,
        id="comment-id-reset-leading-space",
    ),
    pytest.param(
        b"data\n\ndata\ndata\n\ndata:",
        [E(""), E("\n")],
        True,
        id="empty-data-and-unterminated",
    ),
    pytest.param(
        b"data:test\n\ndata: test\n\n",
        [E("test"), E("test")],
        False,
        id="space-after-colon-optional",
    ),
    pytest.param(
        b"data: This is the first message.\n\n"
        b"data: This is the second message, it\ndata: has two lines.\n\n"
        b"data: This is the third message.\n\n",
        [
            E("This is the first message."),
            E("This is the second message, it\nhas two lines."),
            E("This is the third message."),
        ],
        False,
        id="three-messages",
    ),
    pytest.param(
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        [E("73857293", "add"), E("2153", "remove"), E("113411", "add")],
        False,
        id="event-types",
    ),
    pytest.param(
        b'event: userconnect\ndata: {"username": "bobby", "time": "02:33:48"}\n\n'
        b"data: Here's a system message of some kind that will get used\n"
        b"data: to accomplish some task.\n\n"
        b'event: usermessage\ndata: {"username": "bobby", "time": "02:34:11", '
        b'"text": "Hi everyone."}\n\n',
        [
            E('{"username": "bobby", "time": "02:33:48"}', "userconnect"),
            E("Here's a system message of some kind that will get used\nto accomplish some task."),
            E(
                '{"username": "bobby", "time": "02:34:11", "text": "Hi everyone."}',
                "usermessage",
            ),
        ],
        False,
        id="chat-event-types",
    ),
]


# The format-*.any.js tests of web-platform-tests eventsource/, as streams: their
# message.py server sends the message, then "\n\n" (none with newline=none), then "\n".
LONG = b"x" * 2048
WPT_FORMAT_CASES = [
    pytest.param(
        b"data:1\r:\0\n:\r\ndata:2\n:" + LONG + b"\rdata:3\n:data:fail\r:" + LONG + b"\ndata:4\n\n",
        [E("1\n2\n3\n4")],
        False,
        id="format-comments",
    ),
    pytest.param(
        b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\r"
        b"data:\r\n data:32\ndata:4\n\n",
        [E("\0\n 2\n1\n3\n\n4")],
        False,
        id="format-field-parsing",
    ),
    pytest.param(
        b"data:test\r\ndata\ndata:test\r\n\r\n", [E("test\n\ntest")], False, id="format-newlines"
    ),
    pytest.param(
        b"data:\ttest\rdata: \ndata:test\n\n\n",
        [E("\ttest\n\ntest")],
        False,
        id="format-leading-space",
    ),
    pytest.param(b"data:\0\n\n\n\n\n", [E("\0")], False, id="format-null-character"),
    pytest.param(b"event: \ndata:data\n\n\n", [E("data")], False, id="format-field-event-empty"),
    pytest.param(b"retry\ndata:test\n\n\n", [E("test")], False, id="format-field-retry-empty"),
    pytest.param(
        b"retry:3000\nretry:1000x\ndata:x\n\n\n",
        [E("x", retry=3000)],
        False,
        id="format-field-retry-bogus",
    ),
    pytest.param(
        b"\xef\xbb\xbfdata:1\n\n\xef\xbb\xbfdata:2\n\ndata:3\n\n\n",
        [E("1"), E("3")],
        False,
        id="format-bom",
    ),
    pytest.param(
        b"\xef\xbb\xbf\xef\xbb\xbfdata:1\n\ndata:2\n\ndata:3\n\n\n",
        [E("2"), E("3")],
        False,
        id="format-bom-2",
    ),
    pytest.param(
        b"retry:1000\ndata:test1\n\nid:test\ndata:test2\n",
        [E("test1", retry=1000)],
        True,
        id="format-data-before-final-empty-line",
    ),
]


@pytest.mark.parametrize(("stream", "expected", "discarded"), WPT_FORMAT_CASES)
def test_web_platform_tests_format_cases(
    stream: bytes, expected: list[ServerSentEvent], discarded: bool
) -> None:
    assert decode_ended([stream]) == (expected, discarded)
    assert decode_ended(bytewise(stream)) == (expected, discarded)
    assert reference(stream) == (expected, discarded)


@pytest.mark.parametrize(("stream", "expected", "discarded"), WHATWG_EXAMPLES)
def test_whatwg_examples(stream: bytes, expected: list[ServerSentEvent], discarded: bool) -> None:
    assert decode_ended([stream]) == (expected, discarded)
    assert decode_ended(bytewise(stream)) == (expected, discarded)
    assert reference(stream) == (expected, discarded)


# ---------------------------------------------------------------- properties

# Pieces that exercise every rule when strung together at random.
FRAGMENTS = [
    b"data",
    b"data:",
    b"data: ",
    b"event:",
    b"event: ",
    b"id:",
    b"id: ",
    b"retry:",
    b"retry: ",
    b" data:",
    b":",
    b" ",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\x00",
    b"12",
    b"x",
    b"{}",
    b"\xef\xbb\xbf",
    "é😀\u2028\x85".encode(),
    b"\xff",
    b"\xe2\x82",
]

streams = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=3)), max_size=40).map(
    b"".join
)


@given(stream=streams)
def test_matches_a_literal_reading_of_the_standard(stream: bytes) -> None:
    assert decode_ended([stream]) == reference(stream)


@given(stream=streams, data=st.data())
def test_splitting_the_stream_anywhere_gives_the_same_events(
    stream: bytes, data: st.DataObject
) -> None:
    whole = decode_ended([stream])
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    assert decode_ended(split_at(stream, cuts)) == whole
    assert decode_ended(bytewise(stream)) == whole


line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
lines = st.lists(line_text, max_size=12)


@given(lines=lines, ending=st.sampled_from(["\r\n", "\r"]), data=st.data())
def test_every_line_ending_gives_the_same_events(
    lines: list[str], ending: str, data: st.DataObject
) -> None:
    # Blank lines and data lines mixed in, so that events are dispatched too.
    body = [data.draw(st.sampled_from(["", f"data: {line}", line])) for line in lines]
    lf = "".join(line + "\n" for line in body).encode()
    other = "".join(line + ending for line in body).encode()
    assert decode_ended([other]) == decode_ended([lf])
    assert decode_ended(bytewise(other)) == decode_ended([lf])


events_to_send = st.lists(
    st.tuples(
        st.lists(line_text, min_size=1, max_size=4),
        st.none() | line_text,
        st.none()
        | st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=8),
        st.none() | st.integers(0, 10**12),
    ),
    max_size=6,
)


@given(to_send=events_to_send, data=st.data())
def test_encoded_events_round_trip(
    to_send: list[tuple[list[str], str | None, str | None, int | None]], data: st.DataObject
) -> None:
    stream = ""
    expected: list[ServerSentEvent] = []
    last_id: str | None = None
    for data_lines, event_type, event_id, retry in to_send:
        if event_type is not None:
            stream += f"event: {event_type}\n"
        if event_id is not None:
            stream += f"id: {event_id}\n"
            last_id = event_id
        if retry is not None:
            stream += f"retry: {retry}\n"
        stream += "".join(f"data: {line}\n" for line in data_lines) + "\n"
        expected.append(E("\n".join(data_lines), event_type or "message", last_id, retry))
    raw = stream.encode()
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=8))
    assert decode_ended(split_at(raw, cuts)) == (expected, False)


# ---------------------------------------------------------------- provider fixtures


FIXTURES = PROVIDER_FIXTURES
SSE_FILES = sorted(FIXTURES.glob("*/*.sse"))
ids = [f"{p.parent.name}/{p.name}" for p in SSE_FILES]

# Files that end without the blank line that would dispatch their last event
# (PROTOCOL-NOTES fact 9), with the type or data of that discarded last event.
UNTERMINATED = {
    "anthropic-messages/stream-text-with-ping.sse": "message_stop",
    "anthropic-messages/stream-text-then-tool-use-input-json-delta.sse": "message_stop",
    "anthropic-messages/stream-max-tokens-truncated-tool-input.sse": "message_stop",
    "anthropic-messages/stream-refusal-stop-reason.sse": "message_stop",
    # Ends with "data: [DONE]\n": the [DONE] sentinel itself is discarded.
    "openai-chat/anthropic-compat-stream-tool-index-starts-at-1.sse": "[DONE]",
}


def _chunkings(stream: bytes) -> list[list[bytes]]:
    rng = random.Random(len(stream))
    sizes = [1, 2, 3, 7, 64, 1024, 4096]
    fixed = [[stream[i : i + n] for i in range(0, len(stream), n)] for n in sizes]
    cuts = rng.sample(range(len(stream) + 1), min(50, len(stream) + 1))
    return [*fixed, split_at(stream, cuts)]


@pytest.mark.parametrize("path", SSE_FILES, ids=ids)
def test_fixture_split_anywhere_gives_the_same_events(path: Path) -> None:
    stream = path.read_bytes()
    whole = decode_ended([stream])
    assert whole == reference(stream)
    for chunks in _chunkings(stream):
        assert decode_ended(chunks) == whole


@pytest.mark.parametrize("path", SSE_FILES, ids=ids)
def test_fixture_payloads_are_json(path: Path) -> None:
    events, _ = decode_ended([path.read_bytes()])
    assert events
    for event in events:
        if event.data != "[DONE]":
            json.loads(event.data)


@pytest.mark.parametrize("path", SSE_FILES, ids=ids)
def test_fixture_has_one_event_per_terminated_data_line(path: Path) -> None:
    stream = path.read_bytes()
    events, discarded = decode_ended([stream])
    data_lines = len(re.findall(rb"^data:", stream, re.MULTILINE))
    name = f"{path.parent.name}/{path.name}"
    assert discarded is (name in UNTERMINATED)
    assert len(events) == data_lines - discarded


@pytest.mark.parametrize("name", sorted(UNTERMINATED))
def test_fixture_without_final_blank_line_loses_its_last_event(name: str) -> None:
    stream = (FIXTURES / name).read_bytes()
    assert not stream.endswith(b"\n\n")
    events, discarded = decode_ended([stream])
    assert discarded is True
    last = UNTERMINATED[name]
    assert all(last not in (event.event, event.data) for event in events)
    # With the missing blank line added, the last event is there.
    completed, discarded = decode_ended([stream.rstrip(b"\n") + b"\n\n"])
    assert discarded is False
    assert completed[:-1] == events
    assert last in (completed[-1].event, completed[-1].data)


def test_gemini_crlf_stream_has_one_event_per_data_line() -> None:
    stream = (FIXTURES / "gemini" / "stream-text-crlf.sse").read_bytes()
    assert b"\r\n\r\n" in stream
    events, discarded = decode_ended(bytewise(stream))
    assert len(events) == stream.count(b"data:") == 3
    assert discarded is False
    assert [json.loads(e.data)["candidates"][0]["content"]["parts"][0]["text"] for e in events] == [
        "The",
        " capital of France",
        " is Paris.\n",
    ]


def test_fixture_leading_space_line_is_an_ignored_field() -> None:
    path = "openai-chat/openrouter-kimi-stream-tool-call-name-then-args-leading-space-line.sse"
    stream = (FIXTURES / path).read_bytes()
    assert stream.startswith(b" data: {")
    events, _ = decode_ended([stream])
    assert len(events) == 5
    assert events[-1].data == "[DONE]"


def test_fixture_comments_are_skipped() -> None:
    stream = (FIXTURES / "openai-chat/openrouter-stream-comments-and-inline-error.sse").read_bytes()
    assert stream.count(b": OPENROUTER PROCESSING") == 17
    events, _ = decode_ended([stream])
    assert len(events) == 5
    assert all(not e.data.startswith(":") for e in events)
