"""SSE decoding benchmark: ``SSEDecoder`` against a naive line parser.

The stream is a 200-event OpenAI Chat Completions stream, shaped like
``openai-chat/stream-text-include-usage.sse`` from the provider fixtures: a
first chunk with the role, 196 content deltas with ``usage: null`` and an
``obfuscation`` string, the finish chunk, the usage chunk (``choices: []``)
and ``data: [DONE]``, each event ``data: {json}\\n\\n`` (about 345 bytes).

The baseline is what ``httpx.Response.aiter_lines`` plus a simple loop does,
run synchronously so that only parsing is compared: append the read to a
buffer, ``bytes.split(b"\\n")``, keep the last piece, decode every line,
``partition(":")``, and build the same :class:`ServerSentEvent` at a blank
line. It ignores CR line endings and re-splits the whole buffer on every
read, which is what makes it wrong on some streams and slow on long lines;
the decoder does neither.

Method as in ``test_scope_benchmarks.py``: both sides in the same process,
interleaved (``REPEAT`` rounds, the order reversed every other round), the
GC collected before each timed run and disabled during it, real clock
(``time.perf_counter``). Each run decodes the stream ``PASSES`` times. The
line shows the best figure of each side, the ratio of the best times and the
range and median of the per-round ratios. Only sanity is asserted (both
sides produce the same 200 events), never a time.

Run: ``python -m pytest bench/test_sse_benchmark.py -s -q -p no:randomly``.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from typing import TYPE_CHECKING

import pytest

from actrio.adapters.sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Rounds per benchmark; each round runs both sides once.
REPEAT = 7
#: Times the stream is decoded in one timed run.
PASSES = 40
#: Events in the stream.
EVENTS = 200

_HEAD = (
    '{"id":"chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc","object":"chat.completion.chunk",'
    '"created":1782955818,"model":"gpt-4o-mini-2024-07-18","service_tier":"default",'
    '"system_fingerprint":"fp_d0469e1700","choices":['
)
_WORDS = ["The", " capital", " of", " France", " is", " Paris", ".", " It", " is", " known"]


def _stream() -> bytes:
    """The 200-event stream, as the server would send it."""
    rng = random.Random(200)

    def padding() -> str:
        return "".join(
            rng.choice("abcdefghijkLMNOPQRS0123456789") for _ in range(rng.randint(3, 12))
        )

    payloads = [
        _HEAD + '{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
        f'"logprobs":null,"finish_reason":null}}],"usage":null,"obfuscation":"{padding()}"}}'
    ]
    payloads += [
        _HEAD + f'{{"index":0,"delta":{{"content":"{_WORDS[i % len(_WORDS)]}"}},'
        f'"logprobs":null,"finish_reason":null}}],"usage":null,"obfuscation":"{padding()}"}}'
        for i in range(EVENTS - 4)
    ]
    payloads.append(
        _HEAD + '{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],'
        f'"usage":null,"obfuscation":"{padding()}"}}'
    )
    payloads.append(
        _HEAD + '],"usage":{"prompt_tokens":78,"completion_tokens":196,"total_tokens":274,'
        '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
        '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
        '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},'
        f'"obfuscation":"{padding()}"}}'
    )
    payloads.append("[DONE]")
    assert len(payloads) == EVENTS
    return "".join(f"data: {p}\n\n" for p in payloads).encode()


def _reads(stream: bytes, low: int, high: int, seed: int = 0) -> list[bytes]:
    """``stream`` cut into reads of ``low``-``high`` bytes (seeded)."""
    rng = random.Random(seed)
    reads, i = [], 0
    while i < len(stream):
        n = rng.randint(low, high)
        reads.append(stream[i : i + n])
        i += n
    return reads


def _per_event(stream: bytes) -> list[bytes]:
    return [block + b"\n\n" for block in stream.split(b"\n\n") if block]


# ---------------------------------------------------------------- the two sides


def decoder_side(reads: Sequence[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in reads:
        events += decoder.feed(chunk)
    decoder.end()
    return events


def naive_side(reads: Sequence[bytes]) -> list[ServerSentEvent]:
    """Split on LF, decode each line, a simple loop (httpx ``aiter_lines`` style)."""
    events: list[ServerSentEvent] = []
    buffer = b""
    data: list[str] = []
    event_type = ""
    for chunk in reads:
        buffer += chunk
        lines = buffer.split(b"\n")
        buffer = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8")
            if not line:
                if data:
                    events.append(ServerSentEvent("\n".join(data), event_type or "message"))
                    data = []
                event_type = ""
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event_type = value
    return events


# ---------------------------------------------------------------- harness


def _time(side: Callable[[Sequence[bytes]], list[ServerSentEvent]], reads: list[bytes]) -> float:
    """Seconds for ``PASSES`` decodes of ``reads``, GC collected then off."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(PASSES):
            side(reads)
        return time.perf_counter() - start
    finally:
        gc.enable()


def _compare(reads: list[bytes]) -> tuple[list[float], list[float]]:
    """Interleaved rounds: (naive times, decoder times)."""
    naive: list[float] = []
    ours: list[float] = []
    for i in range(REPEAT):
        if i % 2 == 0:
            naive.append(_time(naive_side, reads))
            ours.append(_time(decoder_side, reads))
        else:
            ours.append(_time(decoder_side, reads))
            naive.append(_time(naive_side, reads))
    return naive, ours


def _line(label: str, naive: list[float], ours: list[float], events: int) -> str:
    per_naive = min(naive) / (PASSES * events)
    per_ours = min(ours) / (PASSES * events)
    ratios = sorted(o / n for n, o in zip(naive, ours, strict=True))
    return (
        f"SSE {label}: naive {1 / per_naive:,.0f} events/s ({per_naive * 1e6:,.2f} µs each), "
        f"SSEDecoder {1 / per_ours:,.0f} events/s ({per_ours * 1e6:,.2f} µs each), "
        f"time ratio {per_ours / per_naive:.2f}x "
        f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f}x, median {statistics.median(ratios):.2f}x)"
    )


STREAM = _stream()
CHUNKINGS = {
    "1-4 KiB reads": _reads(STREAM, 1024, 4096),
    "1 KiB reads": _reads(STREAM, 1024, 1024),
    "4 KiB reads": _reads(STREAM, 4096, 4096),
    "one read per event": _per_event(STREAM),
}


@pytest.mark.parametrize("label", list(CHUNKINGS))
def test_sse_decode_throughput(label: str, report: Callable[[str], None]) -> None:
    reads = CHUNKINGS[label]
    expected = decoder_side([STREAM])
    assert len(expected) == EVENTS
    assert expected[-1].data == "[DONE]"
    assert decoder_side(reads) == expected
    assert naive_side(reads) == expected
    naive, ours = _compare(reads)
    report(_line(f"{EVENTS} events, {len(reads)} {label}", naive, ours, EVENTS))


def test_sse_long_line(report: Callable[[str], None]) -> None:
    """One 256 KiB data line in 1 KiB reads: the naive buffer is re-split on every read."""
    value = b'{"text":"' + b"x" * (256 * 1024) + b'"}'
    reads = _reads(b"data: " + value + b"\n\n", 1024, 1024)
    expected = [ServerSentEvent(value.decode())]
    assert decoder_side(reads) == expected
    assert naive_side(reads) == expected
    naive, ours = _compare(reads)
    report(_line(f"one 256 KiB event, {len(reads)} 1 KiB reads", naive, ours, 1))
