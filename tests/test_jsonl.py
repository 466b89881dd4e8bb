"""JSONL export: ``open_jsonl_exporter`` writes every event, ``load_jsonl`` reads them back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import trio

import actrio
from actrio.observe import JsonlFormatError, iter_jsonl, load_jsonl, open_jsonl_exporter

if TYPE_CHECKING:
    from pathlib import Path

CHAT_BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "temperature": 0.5,
}

CHAT_RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
}


async def _model(_request: actrio.LLMRequest) -> Any:
    await trio.lowlevel.checkpoint()
    return CHAT_RESPONSE


async def _failing(_args: Any) -> Any:
    await trio.lowlevel.checkpoint()
    raise ValueError("tool failed: ünïcödé")


async def _workload() -> None:
    """Scopes, a mark, tool and LLM calls, a failure and a guardrail block."""
    async with actrio.open_scope(
        "agent",
        attributes=actrio.ScopeAttributes.PARALLEL | actrio.ScopeAttributes.RELOCATABLE,
        data={"goal": "add", "nested": [1, 2.5, None, True]},
        metadata={"run": 1},
        category_profile={"model_family": "gpt"},
        data_schema={"type": "object"},
    ):
        await actrio.mark("planned", data={"steps": [1, 2]}, category="plan")
        await actrio.tools.execute("add", {"a": 1, "b": 2}, _add)
        with pytest.raises(ValueError, match="tool failed"):
            await actrio.tools.execute("broken", {}, _failing)
        request = actrio.LLMRequest({"authorization": "Bearer x"}, CHAT_BODY)
        await actrio.llm.execute("gpt", request, _model)
        actrio.guardrails.register_tool_conditional_execution("deny", 0, lambda _n, _a: "no")
        with pytest.raises(actrio.GuardrailBlocked):
            await actrio.tools.execute("denied", {}, _add)


async def _add(args: Any) -> Any:
    await trio.lowlevel.checkpoint()
    return args["a"] + args["b"]


async def test_exporter_writes_one_line_per_event(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    seen: list[actrio.Event] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(seen.append)  # a separate lossless subscriber
        async with open_jsonl_exporter(rt, path) as exporter:
            first = rt.system.bus.last_seq
            await _workload()
            last = rt.system.bus.last_seq
        written = exporter.written
    lines = path.read_text(encoding="utf-8").splitlines()
    expected = [e for e in seen if first < e.seq <= last]
    assert len(lines) == written == len(expected) > 0
    assert [json.loads(line)["seq"] for line in lines] == [e.seq for e in expected]
    assert all(line and "\n" not in line for line in lines)


async def test_load_jsonl_round_trips_into_equal_events(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    seen: list[actrio.Event] = []
    async with actrio.open_runtime() as rt:
        rt.subscribe(seen.append)
        async with open_jsonl_exporter(rt, path):
            await _workload()
    loaded = load_jsonl(path)
    assert loaded == seen
    assert [type(e) for e in loaded] == [type(e) for e in seen]
    assert list(iter_jsonl(path)) == loaded

    kinds = {type(e) for e in loaded}
    assert {
        actrio.ActorStarted,
        actrio.ActorExited,
        actrio.ScopeStarted,
        actrio.ScopeEnded,
        actrio.Mark,
    } <= kinds
    # The rich fields come back as the same types, not as dicts or lists.
    agent = next(e for e in loaded if isinstance(e, actrio.ScopeStarted) and e.name == "agent")
    assert agent.attributes == ("parallel", "relocatable")
    assert isinstance(agent.attributes, tuple)
    assert agent.data == {"goal": "add", "nested": [1, 2.5, None, True]}
    llm_start = next(e for e in loaded if isinstance(e, actrio.ScopeStarted) and e.name == "gpt")
    assert isinstance(llm_start.annotated_request, actrio.AnnotatedLLMRequest)
    assert isinstance(llm_start.annotated_request.messages, tuple)
    assert llm_start.annotated_request.last_user_message() == "What is 2+2?"
    llm_end = next(e for e in loaded if isinstance(e, actrio.ScopeEnded) and e.name == "gpt")
    assert isinstance(llm_end.annotated_response, actrio.AnnotatedLLMResponse)
    assert llm_end.annotated_response.response_text() == "4"
    broken = next(e for e in loaded if isinstance(e, actrio.ScopeEnded) and e.name == "broken")
    assert broken.error == actrio.ErrorInfo(type="ValueError", message="tool failed: ünïcödé")
    guard = next(e for e in loaded if isinstance(e, actrio.Mark) and e.category == "guardrail")
    assert guard.name == "deny"
    assert "Bearer" not in path.read_text(encoding="utf-8")


async def test_exporter_types_filter(tmp_path: Path) -> None:
    path = tmp_path / "scopes.jsonl"
    async with (
        actrio.open_runtime() as rt,
        open_jsonl_exporter(rt.system, path, types=[actrio.ScopeEnded]),
    ):
        await _workload()
    loaded = load_jsonl(path)
    assert loaded
    assert all(isinstance(e, actrio.ScopeEnded) for e in loaded)
    assert {e.name for e in loaded} == {"agent", "add", "broken", "gpt", "denied"}


async def test_exporter_is_lossless_under_a_burst_l03(tmp_path: Path) -> None:
    """L-03: a burst far beyond the queue's default capacity loses nothing (publishers wait)."""
    path = tmp_path / "burst.jsonl"
    lossy: list[actrio.Event] = []
    tasks, per_task = 1500, 2  # 1500 publishers in one scheduler batch > 1024 queued

    async def ticker(i: int) -> None:
        for j in range(per_task):
            await actrio.mark("tick", data={"i": i, "j": j})

    async with actrio.open_runtime() as rt:
        rt.subscribe(lossy.append, mode="lossy", capacity=4)  # shows the burst overflows queues
        async with open_jsonl_exporter(rt, path):
            first = rt.system.bus.last_seq
            async with actrio.open_scope("burst") as scope:
                for i in range(tasks):
                    scope.start_soon(ticker, i)
            last = rt.system.bus.last_seq
    loaded = load_jsonl(path)
    assert [e.seq for e in loaded] == list(range(first + 1, last + 1))
    ticks = sorted((e.data["i"], e.data["j"]) for e in loaded if isinstance(e, actrio.Mark))
    assert ticks == [(i, j) for i in range(tasks) for j in range(per_task)]
    dropped = sum(e.count for e in lossy if isinstance(e, actrio.EventsDropped))
    assert dropped > 0


async def test_exporter_truncates_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("stale line\n", encoding="utf-8")
    async with actrio.open_runtime() as rt, open_jsonl_exporter(rt, path):
        await actrio.mark("only")
    loaded = load_jsonl(path)
    assert [e.name for e in loaded if isinstance(e, actrio.Mark)] == ["only"]


def _mark_line(**overrides: Any) -> str:
    record: dict[str, Any] = {
        "seq": 1,
        "time": 0.0,
        "kind": "mark",
        "atof_version": "0.1",
        "uuid": "u-1",
        "parent_uuid": None,
        "timestamp": "2024-01-01T00:00:00+00:00",
        "name": "m",
        "category": None,
        "category_profile": None,
        "data": None,
        "metadata": None,
        "data_schema": None,
        "path": None,
    }
    record.update(overrides)
    return json.dumps(record)


def test_a_hand_written_line_loads(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(_mark_line() + "\n", encoding="utf-8")
    (event,) = load_jsonl(path)
    assert event == actrio.Mark(
        seq=1,
        uuid="u-1",
        parent_uuid=None,
        timestamp="2024-01-01T00:00:00+00:00",
        name="m",
    )


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "blanks.jsonl"
    path.write_text(
        "\n" + _mark_line(seq=1) + "\n\n   \n" + _mark_line(seq=2) + "\n\n", encoding="utf-8"
    )
    assert [e.seq for e in load_jsonl(path)] == [1, 2]


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        pytest.param("{not json", "line 3", id="corrupt-json"),
        pytest.param(_mark_line(kind="scope_exploded"), "scope_exploded", id="unknown-kind"),
        pytest.param(json.dumps({"seq": 1}), "kind", id="no-kind"),
        pytest.param(json.dumps([1, 2]), "line 3", id="not-an-object"),
        pytest.param(_mark_line(surprise=1), "line 3", id="extra-key"),
        pytest.param(json.dumps({"kind": "scope_started", "seq": 1}), "line 3", id="missing"),
    ],
)
def test_a_bad_line_raises_with_its_line_number(tmp_path: Path, bad: str, needle: str) -> None:
    path = tmp_path / "bad.jsonl"
    # Line 2 is blank: numbers count physical lines.
    path.write_text(_mark_line() + "\n\n" + bad + "\n" + _mark_line() + "\n", encoding="utf-8")
    with pytest.raises(JsonlFormatError) as info:
        load_jsonl(path)
    assert info.value.line == 3
    assert str(info.value).startswith("line 3: ")
    assert needle in str(info.value)
    assert isinstance(info.value, actrio.UsageError)
    assert isinstance(info.value, ValueError)


def test_a_field_of_the_wrong_type_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "typed.jsonl"
    path.write_text(_mark_line(name={"a": 1}) + "\n", encoding="utf-8")
    with pytest.raises(JsonlFormatError) as info:
        load_jsonl(path)
    assert info.value.line == 1


def test_iter_jsonl_yields_the_good_lines_before_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "partial.jsonl"
    path.write_text(_mark_line(seq=1) + "\n" + "garbage\n", encoding="utf-8")
    reader = iter_jsonl(path)
    assert next(reader).seq == 1
    with pytest.raises(JsonlFormatError) as info:
        next(reader)
    assert info.value.line == 2
