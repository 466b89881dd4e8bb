"""Provider adapter benchmarks: per-call overhead, streaming rate, import time.

Every HTTP benchmark runs against the mock provider of ``mock_provider.py``,
started once per module in its own process on 127.0.0.1 (so the server's
CPU time is not spent on the event loop being measured). Both sides of a
comparison share one pooled ``httpx.AsyncClient`` configuration
(:func:`_client`; the adapter gets it as ``http_client=``) and talk to the
same server, which gives them byte-identical responses.

1. Per-call overhead: ``await adapter.complete(request)`` against a raw
   ``await client.post(url, content=body, headers=...)`` with the same URL,
   JSON body and auth headers, followed by ``json.loads`` of the response;
   ``CALLS`` calls one after the other, and ``WORKERS`` concurrent workers
   in a nursery. Goal: at most 1.10x the raw time.
2. Streaming: chunks per second of ``EVENTS``-chunk SSE responses through
   ``async with adapter.stream(request) as s: async for e in s`` against raw
   ``client.stream(...)`` + ``aiter_lines()`` + ``json.loads`` of every
   ``data:`` line. Goal: at least 1.5x the raw rate. The same responses
   are also read with ``aiter_raw()`` and no parsing at all, and the line
   below each result prints the raw side's time over that one: the
   ceiling, which no parser reading through httpx can pass.
3. The same OpenAI Chat streams through the official ``openai`` SDK
   (``AsyncOpenAI`` runs under trio through anyio; it is also measured under
   asyncio in a subprocess) and through LiteLLM (``litellm.acompletion(...,
   stream=True)``, asyncio only, so always in a subprocess). Goals: the
   adapter at least 7x the SDK's rate and 20x LiteLLM's. Skipped when the
   packages are absent; they are not dependencies of actrio.
4. ``import actrio`` against ``import httpx``, each in fresh interpreters.
   Goal: actrio (with ``actrio.adapters`` and the four adapter modules)
   adds at most 0.15 s to a process that has imported httpx.

A rate counts the chunks the server sent (``EVENTS`` per stream), whatever
each client makes of them, so all sides divide the same work. Every stream
benchmark runs twice: on the server's *live* port (one socket write per
event, as from a model generating) and its *burst* port (the whole response
in one write, as from a cache). httpcore hands the body over one HTTP chunk
at a time either way, so the two differ only in socket reads.

The SDK and LiteLLM lines need them installed, in a venv of their own::

    python3 -m venv /tmp/venv-bench
    /tmp/venv-bench/bin/pip install -e '.[test]' openai litellm
    /tmp/venv-bench/bin/python -m pytest bench/test_adapter_benchmarks.py -s -q -p no:randomly

Method as in ``test_scope_benchmarks.py``: every side in the same run,
interleaved (``REPEAT`` rounds, the order reversed every other round), each
in-process run in a fresh ``trio.run`` on the real clock
(``time.perf_counter``) with the GC collected beforehand and disabled during
the run (the asyncio driver does the same in its process). A run opens its
client and warms its connections up before the clock starts. Each line shows
the best figure of each side, their ratio and the range and median of the
per-round ratios. Only sanity is asserted (every call answered, every chunk
seen, the text intact), never a time: a missed goal prints ``NOT MET``.

Run: ``python -m pytest bench/test_adapter_benchmarks.py -s -q -p no:randomly``.
"""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import trio

import mock_provider
from actrio.messages import Message
from actrio.types import ModelRequest

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from actrio.adapters._base import HTTPAdapter

#: Rounds per benchmark; each round runs every side once.
REPEAT = 5
#: Calls per run, one after the other.
CALLS = 200
#: Concurrent workers, and calls per worker.
WORKERS = 32
CALLS_PER_WORKER = 10
#: Streams per run (each of ``EVENTS`` chunks), for the fast sides.
STREAMS = 20
#: Streams per run for the slow sides (the SDK, LiteLLM).
SLOW_STREAMS = {"openai-trio": 5, "openai-asyncio": 5, "litellm": 2}
#: Chunks in every streamed response.
EVENTS = mock_provider.EVENTS
#: Fresh interpreters per import probe.
IMPORT_ROUNDS = 7

MOCK = Path(__file__).with_name("mock_provider.py")
LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=64)
API_KEY = "sk-bench"

Sample = dict[str, float]


# ---------------------------------------------------------------- providers


class Provider:
    """One adapter class, where it lives, and how its answers read when raw."""

    def __init__(
        self,
        name: str,
        *,
        module: str,
        cls: str,
        model: str,
        suffix: str,
        deltas: int,
        text_of: Callable[[Any], str],
    ) -> None:
        self.name = name
        self.module = module
        self.cls = cls
        self.model = model
        self.suffix = suffix
        self.text = mock_provider.stream_text(deltas)
        self.text_of = text_of

    def load(self) -> type[HTTPAdapter]:
        """The adapter class; the test is skipped if it cannot be imported."""
        try:
            cls: type[HTTPAdapter] = getattr(importlib.import_module(self.module), self.cls)
        except (ImportError, AttributeError) as exc:
            pytest.skip(f"{self.module}.{self.cls} is not importable: {exc!r}")
        return cls

    def adapter(self, url: str, client: httpx.AsyncClient) -> HTTPAdapter:
        """The adapter for the mock server at ``url``, on ``client``."""
        cls = self.load()
        adapter: HTTPAdapter = cls(
            self.model, base_url=url + self.suffix, api_key=API_KEY, http_client=client
        )
        return adapter


PROVIDERS = {
    p.name: p
    for p in (
        Provider(
            "openai-chat",
            module="actrio.adapters.openai_chat",
            cls="OpenAIChat",
            model="gpt-4o-mini",
            suffix="/v1",
            deltas=EVENTS - 4,
            text_of=lambda body: body["choices"][0]["message"]["content"],
        ),
        Provider(
            "openai-responses",
            module="actrio.adapters.openai_responses",
            cls="OpenAIResponses",
            model="gpt-4o-mini",
            suffix="/v1",
            deltas=EVENTS - 8,
            text_of=lambda body: body["output"][0]["content"][0]["text"],
        ),
        Provider(
            "anthropic",
            module="actrio.adapters.anthropic",
            cls="AnthropicMessages",
            model="claude-sonnet-4-5",
            suffix="",
            deltas=EVENTS - 6,
            text_of=lambda body: body["content"][0]["text"],
        ),
        Provider(
            "gemini",
            module="actrio.adapters.gemini",
            cls="Gemini",
            model="gemini-2.5-flash",
            suffix="",
            deltas=EVENTS,
            text_of=lambda body: body["candidates"][0]["content"]["parts"][0]["text"],
        ),
    )
}

REQUEST = ModelRequest(messages=[Message.user("hi")])


def _client() -> httpx.AsyncClient:
    """The client settings every side uses: one pool, room for every worker."""
    return httpx.AsyncClient(limits=LIMITS, timeout=httpx.Timeout(30.0), trust_env=False)


class _Wire:
    """The URL, body and headers an adapter sends, for the raw side to send too."""

    def __init__(self, adapter: HTTPAdapter, *, stream: bool) -> None:
        self.url = adapter._url(REQUEST, stream=stream)
        self.content = adapter._encode(REQUEST, stream=stream)
        self.headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            **adapter._auth_headers(API_KEY),
        }


# ---------------------------------------------------------------- the server


def _stop(proc: subprocess.Popen[str]) -> None:
    """Close the pipes of a helper process (it exits when its stdin closes); reap it."""
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """The mock provider in its own process: its ``live`` and ``burst`` base URLs."""
    proc = subprocess.Popen(
        [sys.executable, str(MOCK), "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORTS "), f"the mock server did not start: {line!r}"
        live, burst = (int(port) for port in line.split()[1:])
        yield {"live": f"http://127.0.0.1:{live}", "burst": f"http://127.0.0.1:{burst}"}
    finally:
        _stop(proc)


@pytest.fixture
def server(servers: dict[str, str]) -> str:
    """The live port: one socket write per event."""
    return servers["live"]


# ---------------------------------------------------------------- harness


def _run(fn: Callable[[], Awaitable[Sample]]) -> Sample:
    """Run ``fn`` under a fresh ``trio.run`` with the GC collected, then off."""
    gc.collect()
    gc.disable()
    try:
        return trio.run(fn)
    finally:
        gc.enable()


def _interleave(
    variants: dict[str, Callable[[], Sample]], repeat: int = REPEAT
) -> dict[str, list[Sample]]:
    """Run every variant once per round, reversing the order every other round."""
    samples: dict[str, list[Sample]] = {name: [] for name in variants}
    order = list(variants)
    for i in range(repeat):
        for name in order if i % 2 == 0 else reversed(order):
            samples[name].append(variants[name]())
    return samples


def _per_unit(sample: Sample) -> float:
    """Seconds per call (or per chunk) of one run."""
    return sample["elapsed"] / sample["units"]


def _best(samples: list[Sample]) -> float:
    return min(_per_unit(s) for s in samples)


def _spread(ratios: list[float]) -> str:
    ratios = sorted(ratios)
    return f"rounds {ratios[0]:.2f}-{ratios[-1]:.2f}x, median {statistics.median(ratios):.2f}x"


def _time_ratios(baseline: list[Sample], subject: list[Sample]) -> list[float]:
    """Per-round subject time per unit over baseline time per unit."""
    return [_per_unit(s) / _per_unit(b) for b, s in zip(baseline, subject, strict=True)]


def _met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


# ---------------------------------------------------------------- 1. per-call overhead


def _call_variant(
    call: Callable[[httpx.AsyncClient], Callable[[], Awaitable[str]]],
    *,
    concurrent: bool,
    seen: dict[str, Any],
) -> Callable[[], Sample]:
    """One timed run of ``call``: sequential, or ``WORKERS`` workers in a nursery."""

    async def run() -> Sample:
        async with _client() as client:
            once = call(client)

            async def worker(calls: int) -> None:
                for _ in range(calls):
                    seen["texts"].add(await once())
                    seen["calls"] += 1

            # Warm up: open every connection the timed part will use.
            async with trio.open_nursery() as nursery:
                for _ in range(WORKERS if concurrent else 1):
                    nursery.start_soon(worker, 1)
            seen["calls"] = 0
            start = time.perf_counter()
            if concurrent:
                async with trio.open_nursery() as nursery:
                    for _ in range(WORKERS):
                        nursery.start_soon(worker, CALLS_PER_WORKER)
            else:
                await worker(CALLS)
            elapsed = time.perf_counter() - start
            seen["runs"] += 1
            seen["total"] += seen["calls"]
        return {"elapsed": elapsed, "units": seen["calls"]}

    return lambda: _run(run)


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_call_overhead(name: str, server: str, report: Callable[[str], None]) -> None:
    provider = PROVIDERS[name]
    provider.load()

    def raw(client: httpx.AsyncClient) -> Callable[[], Awaitable[str]]:
        wire = _Wire(provider.adapter(server, client), stream=False)

        async def once() -> str:
            response = await client.post(wire.url, content=wire.content, headers=wire.headers)
            assert response.status_code == 200
            return provider.text_of(json.loads(response.content))

        return once

    def adapted(client: httpx.AsyncClient) -> Callable[[], Awaitable[str]]:
        adapter = provider.adapter(server, client)

        async def once() -> str:
            return (await adapter.complete(REQUEST)).text

        return once

    for concurrent in (False, True):
        seen = {side: {"texts": set(), "calls": 0, "runs": 0, "total": 0} for side in ("r", "a")}
        samples = _interleave(
            {
                "raw": _call_variant(raw, concurrent=concurrent, seen=seen["r"]),
                "adapter": _call_variant(adapted, concurrent=concurrent, seen=seen["a"]),
            }
        )
        calls = WORKERS * CALLS_PER_WORKER if concurrent else CALLS
        for side in seen.values():
            assert side["texts"] == {mock_provider.ANSWER}
            assert side["runs"] == REPEAT
            assert side["total"] == REPEAT * calls
        raw_us = _best(samples["raw"]) * 1e6
        ours_us = _best(samples["adapter"]) * 1e6
        ratio = ours_us / raw_us
        how = f"{WORKERS} concurrent x {CALLS_PER_WORKER}" if concurrent else f"sequential {CALLS}"
        report(
            f"complete() {name}, {how} calls: raw httpx post + json.loads {raw_us:.0f} us/call, "
            f"adapter {ours_us:.0f} us/call (+{ours_us - raw_us:.0f} us) = {ratio:.2f}x "
            f"(goal <= 1.10x: {_met(ratio <= 1.10)})"
            f"  [{_spread(_time_ratios(samples['raw'], samples['adapter']))}]"
        )


# ---------------------------------------------------------------- 2. streaming


def _stream_variant(
    consume: Callable[[httpx.AsyncClient], Callable[[], Awaitable[tuple[int, str]]]],
    streams: int,
    seen: dict[str, Any],
) -> Callable[[], Sample]:
    """One timed run: ``streams`` streams one after the other, after one warm-up stream."""

    async def run() -> Sample:
        async with _client() as client:
            once = consume(client)
            await once()
            start = time.perf_counter()
            for _ in range(streams):
                count, text = await once()
                seen["counts"].add(count)
                seen["texts"].add(text)
            elapsed = time.perf_counter() - start
            seen["streams"] += streams
        return {"elapsed": elapsed, "units": streams * EVENTS}

    return lambda: _run(run)


def _raw_stream(
    provider: Provider, server: str
) -> Callable[[httpx.AsyncClient], Callable[[], Awaitable[tuple[int, str]]]]:
    """httpx ``client.stream`` + ``aiter_lines`` + ``json.loads`` of each ``data:`` line."""

    def consume(client: httpx.AsyncClient) -> Callable[[], Awaitable[tuple[int, str]]]:
        wire = _Wire(provider.adapter(server, client), stream=True)

        async def once() -> tuple[int, str]:
            count = 0
            async with client.stream(
                "POST", wire.url, content=wire.content, headers=wire.headers
            ) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        count += 1
                        payload = line[5:].lstrip()
                        if payload != "[DONE]":
                            json.loads(payload)
            return count, provider.text  # the raw side does not assemble the text

        return once

    return consume


def _floor_stream(
    provider: Provider, server: str
) -> Callable[[httpx.AsyncClient], Callable[[], Awaitable[tuple[int, str]]]]:
    """httpx ``client.stream`` + ``aiter_raw`` and nothing else: the cost of reading the body.

    Any parser that reads through httpx pays at least this for a chunk, so
    the raw side's time over this one is the most any of them can reach.
    """

    def consume(client: httpx.AsyncClient) -> Callable[[], Awaitable[tuple[int, str]]]:
        wire = _Wire(provider.adapter(server, client), stream=True)

        async def once() -> tuple[int, str]:
            async with client.stream(
                "POST", wire.url, content=wire.content, headers=wire.headers
            ) as response:
                assert response.status_code == 200
                async for _chunk in response.aiter_raw():
                    pass
            return EVENTS, provider.text  # nothing is parsed

        return once

    return consume


def _adapter_stream(
    provider: Provider, server: str
) -> Callable[[httpx.AsyncClient], Callable[[], Awaitable[tuple[int, str]]]]:
    """``async with adapter.stream(request) as s: async for e in s``."""

    def consume(client: httpx.AsyncClient) -> Callable[[], Awaitable[tuple[int, str]]]:
        adapter = provider.adapter(server, client)

        async def once() -> tuple[int, str]:
            count = 0
            async with adapter.stream(REQUEST) as events:
                async for _event in events:
                    count += 1
            assert events.response is not None
            return count, events.response.text

        return once

    return consume


def _new_seen() -> dict[str, Any]:
    return {"counts": set(), "texts": set(), "streams": 0}


def _rate_line(label: str, base_label: str, base: list[Sample], ours: list[Sample]) -> str:
    base_s = _best(base)
    ours_s = _best(ours)
    return (
        f"{label}: {base_label} {1 / base_s / 1e3:,.1f}k chunks/s ({base_s * 1e6:.1f} us), "
        f"adapter {1 / ours_s / 1e3:,.1f}k chunks/s ({ours_s * 1e6:.1f} us) = "
        f"{base_s / ours_s:.2f}x the rate"
    )


def _rate_ratios(base: list[Sample], ours: list[Sample]) -> list[float]:
    return [_per_unit(b) / _per_unit(o) for b, o in zip(base, ours, strict=True)]


MODES = {
    "live": "one write per event",
    "burst": "whole response in one write",
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("name", list(PROVIDERS))
def test_stream_rate(
    name: str, mode: str, servers: dict[str, str], report: Callable[[str], None]
) -> None:
    provider = PROVIDERS[name]
    provider.load()
    server = servers[mode]
    seen = {"raw": _new_seen(), "adapter": _new_seen(), "floor": _new_seen()}
    samples = _interleave(
        {
            "raw": _stream_variant(_raw_stream(provider, server), STREAMS, seen["raw"]),
            "adapter": _stream_variant(_adapter_stream(provider, server), STREAMS, seen["adapter"]),
            "floor": _stream_variant(_floor_stream(provider, server), STREAMS, seen["floor"]),
        }
    )
    for side in seen.values():
        assert side["streams"] == REPEAT * STREAMS
        assert side["texts"] == {provider.text}
        assert len(side["counts"]) == 1
    assert seen["raw"]["counts"] == {EVENTS}  # every chunk's data line seen
    ratio = _best(samples["raw"]) / _best(samples["adapter"])
    report(
        _rate_line(
            f"stream {name}, {STREAMS} x {EVENTS}-chunk streams, {MODES[mode]}",
            "raw httpx aiter_lines + json.loads",
            samples["raw"],
            samples["adapter"],
        )
        + f" (goal >= 1.5x: {_met(ratio >= 1.5)})"
        f"  [{_spread(_rate_ratios(samples['raw'], samples['adapter']))};"
        f" {next(iter(seen['adapter']['counts']))} adapter events per stream]"
    )
    floor = _best(samples["floor"])
    report(
        f"  ceiling over httpx, {name}, {MODES[mode]}: reading the body alone (aiter_raw, no"
        f" parsing) takes {floor * 1e6:.1f} us a chunk, so no parser reading through httpx can"
        f" pass {_best(samples['raw']) / floor:.2f}x aiter_lines + json.loads"
        f" [{_spread(_rate_ratios(samples['raw'], samples['floor']))}]; the adapter spends"
        f" {(_best(samples['adapter']) - floor) * 1e6:.1f} us a chunk above it"
    )


# ---------------------------------------------------------------- 3. openai SDK and LiteLLM


class _Driver:
    """The asyncio client driver of ``mock_provider.py`` in its own process."""

    def __init__(self, kind: str) -> None:
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
        self.proc = subprocess.Popen(
            [sys.executable, str(MOCK), "client", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        reply = self._read()
        assert reply == {"ready": True}, reply

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the driver exited with {self.proc.wait()}"
        reply: dict[str, Any] = json.loads(line)
        return reply

    def round(self, streams: int, url: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"streams": streams, "url": url}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        _stop(self.proc)


def _driver_variant(
    driver: _Driver, url: str, streams: int, seen: dict[str, Any]
) -> Callable[[], Sample]:
    driver.round(1, url)  # warm up: the client, its connection, lazy imports

    def run() -> Sample:
        reply = driver.round(streams, url)
        seen["counts"].add(reply["chunks"] // streams)
        seen["texts"].add(reply["text"])
        seen["streams"] += streams
        return {"elapsed": reply["elapsed"], "units": streams * EVENTS}

    return run


def _sdk_stream(server: str) -> Callable[[httpx.AsyncClient], Callable[[], Awaitable[Any]]]:
    """``AsyncOpenAI.chat.completions.create(stream=True)`` under trio, on the shared client."""
    import openai  # noqa: PLC0415  # optional

    def consume(client: httpx.AsyncClient) -> Callable[[], Awaitable[tuple[int, str]]]:
        sdk = openai.AsyncOpenAI(base_url=f"{server}/v1", api_key=API_KEY, http_client=client)

        async def once() -> tuple[int, str]:
            count = 0
            text: list[str] = []
            stream = await sdk.chat.completions.create(
                model="gpt-4o-mini",
                messages=mock_provider.REQUEST_MESSAGES,  # type: ignore[arg-type,unused-ignore]
                stream=True,
                stream_options={"include_usage": True},
            )
            async with stream:
                async for chunk in stream:
                    count += 1
                    if chunk.choices and chunk.choices[0].delta.content:
                        text.append(chunk.choices[0].delta.content)
            return count, "".join(text)

        return once

    return consume


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(
            f"{module} is not installed (optional, not a dependency of actrio): "
            f"pip install {module} into the venv that runs the benchmarks"
        )


# Under trio the SDK leaves its async generators (its SSE decoder's, and through
# them httpx's and httpcore's) unfinished after [DONE]; trio warns when they are
# collected. The adapter closes its byte iterator, so its tests need no filter.
@pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning")
@pytest.mark.parametrize("mode", list(MODES))
def test_stream_vs_openai_sdk(
    mode: str, servers: dict[str, str], report: Callable[[str], None]
) -> None:
    _needs("openai")
    server = servers[mode]
    provider = PROVIDERS["openai-chat"]
    provider.load()
    seen = {side: _new_seen() for side in ("adapter", "openai-trio", "openai-asyncio")}
    driver = _Driver("openai-asyncio")
    try:
        samples = _interleave(
            {
                "adapter": _stream_variant(
                    _adapter_stream(provider, server), STREAMS, seen["adapter"]
                ),
                "openai-trio": _stream_variant(
                    _sdk_stream(server), SLOW_STREAMS["openai-trio"], seen["openai-trio"]
                ),
                "openai-asyncio": _driver_variant(
                    driver, server, SLOW_STREAMS["openai-asyncio"], seen["openai-asyncio"]
                ),
            }
        )
    finally:
        driver.close()
        gc.collect()  # collect the SDK's unfinished generators while the filter applies
    for seen_side in seen.values():
        assert seen_side["texts"] == {provider.text}
    # The SDK yields every JSON chunk ([DONE] ends the stream).
    assert seen["openai-trio"]["counts"] == seen["openai-asyncio"]["counts"] == {EVENTS - 1}
    import openai  # noqa: PLC0415

    for side, how in (("openai-trio", "under trio"), ("openai-asyncio", "under asyncio")):
        ratio = _best(samples[side]) / _best(samples["adapter"])
        report(
            _rate_line(
                f"stream openai-chat vs openai {openai.__version__} SDK {how}, {MODES[mode]}",
                "AsyncOpenAI",
                samples[side],
                samples["adapter"],
            )
            + f" (goal >= 7x: {_met(ratio >= 7)})"
            f"  [{_spread(_rate_ratios(samples[side], samples['adapter']))}]"
        )


@pytest.mark.parametrize("mode", list(MODES))
def test_stream_vs_litellm(
    mode: str, servers: dict[str, str], report: Callable[[str], None]
) -> None:
    _needs("litellm")
    server = servers[mode]
    provider = PROVIDERS["openai-chat"]
    provider.load()
    seen = {side: _new_seen() for side in ("adapter", "litellm")}
    driver = _Driver("litellm")
    try:
        samples = _interleave(
            {
                "adapter": _stream_variant(
                    _adapter_stream(provider, server), STREAMS, seen["adapter"]
                ),
                "litellm": _driver_variant(
                    driver, server, SLOW_STREAMS["litellm"], seen["litellm"]
                ),
            }
        )
    finally:
        driver.close()
    for side in seen.values():
        assert side["texts"] == {provider.text}
    assert len(seen["litellm"]["counts"]) == 1
    version = importlib.metadata.version("litellm")
    ratio = _best(samples["litellm"]) / _best(samples["adapter"])
    report(
        _rate_line(
            f"stream openai-chat vs litellm {version} acompletion(stream=True) under asyncio,"
            f" {MODES[mode]}",
            "LiteLLM",
            samples["litellm"],
            samples["adapter"],
        )
        + f" (goal >= 20x: {_met(ratio >= 20)})"
        f"  [{_spread(_rate_ratios(samples['litellm'], samples['adapter']))};"
        f" LiteLLM yields {next(iter(seen['litellm']['counts']))} chunks per stream]"
    )


# ---------------------------------------------------------------- 4. import time

ADAPTER_MODULES = tuple(p.module for p in PROVIDERS.values())

_PROBE = """
import sys, time
t0 = time.perf_counter()
for name in sys.argv[1].split(","):
    __import__(name)
t1 = time.perf_counter()
for name in sys.argv[2].split(",") if sys.argv[2] else ():
    __import__(name)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def _probe(first: str, then: str = "") -> tuple[float, float]:
    """Import ``first`` then ``then`` (comma lists) in a fresh interpreter; the two times."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, first, then],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def _heaviest(modules: str, after: str) -> str:
    """Where the import time after ``after`` goes, from ``python -X importtime``.

    Self times summed per top-level package, then actrio's heaviest modules
    (an attrs class is built when its module runs, so that time is the
    module's own).
    """
    code = f"import {after}; import {modules}"
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line[len("import time:") :].split("|")
        rows.append((int(self_us) / 1e3, name.strip()))
    rows = rows[[name for _, name in rows].index(after) + 1 :]
    packages: dict[str, float] = {}
    for ms, name in rows:
        top = name.partition(".")[0]
        packages[top] = packages.get(top, 0.0) + ms
    by_package = sorted(packages.items(), key=lambda item: -item[1])[:4]
    ours = sorted((row for row in rows if row[1].startswith("actrio")), reverse=True)[:3]
    return (
        "self time "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in by_package)
        + "; heaviest actrio modules "
        + ", ".join(f"{name} {ms:.1f} ms" for ms, name in ours)
    )


def test_import_time(report: Callable[[str], None]) -> None:
    available = [m for m in ADAPTER_MODULES if importlib.util.find_spec(m) is not None]
    ours = ",".join(("actrio", "actrio.adapters", *available))
    times: dict[str, list[float]] = {"httpx": [], "actrio": [], "adds": []}
    probes: dict[str, Callable[[], None]] = {
        "httpx": lambda: times["httpx"].append(_probe("httpx")[0]),
        "actrio": lambda: times["actrio"].append(_probe("actrio")[0]),
        "adds": lambda: times["adds"].append(_probe("httpx", ours)[1]),
    }
    order = list(probes)
    for i in range(IMPORT_ROUNDS):
        for name in order if i % 2 == 0 else reversed(order):
            probes[name]()
    assert all(len(t) == IMPORT_ROUNDS for t in times.values())
    httpx_s, actrio_s, adds_s = (min(times[k]) for k in ("httpx", "actrio", "adds"))
    report(
        f"import: httpx {httpx_s * 1e3:.0f} ms, actrio alone {actrio_s * 1e3:.0f} ms; "
        f"actrio + actrio.adapters + {len(available)} adapter modules after httpx "
        f"add {adds_s:.3f} s (goal <= 0.15 s: {_met(adds_s <= 0.15)})"
        f"  [best of {IMPORT_ROUNDS} fresh interpreters each; median adds "
        f"{statistics.median(times['adds']):.3f} s; {_heaviest(ours, 'httpx')}]"
    )
