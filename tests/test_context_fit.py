"""Token estimates and the first two context-compression stages (issue 6).

Catalogue: B-05 (truncation marker with the original size), ANT-3 (every
tool call keeps its result: pairs are dropped together or not at all).
"""

from __future__ import annotations

import math
import sys
import types
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actrio.context._fit import (
    DROP_STAGE,
    TRUNCATE_STAGE,
    ContextOverflow,
    FitError,
    drop_oldest_turns,
    fit,
    truncate_tool_results,
)
from actrio.context._tokens import (
    CharEstimator,
    EstimatorError,
    TiktokenEstimator,
    TokenizerUnavailable,
)
from actrio.messages import ImagePart, Message, ReasoningPart, ToolCallPart, ToolResultPart
from actrio.types import ModelRequest, OutputSchema, ToolSpec

MARKER_100 = "\n[... tool result truncated: original was 100 chars ...]\n"


def call(call_id: str, name: str = "read") -> Message:
    return Message.assistant(ToolCallPart(id=call_id, name=name, arguments={"p": call_id}))


def conversation() -> list[Message]:
    """System, then three turns; turn 1 has a tool pair."""
    return [
        Message.system("be terse"),
        Message.user("u0 " * 50),
        Message.assistant("a0 " * 50),
        Message.user("u1 " * 50),
        call("c1"),
        Message.tool("c1", "r1 " * 50),
        Message.assistant("a1 " * 50),
        Message.user("u2"),
        Message.assistant("a2"),
    ]


# ---------------------------------------------------------------- estimator


def test_char_estimator_prices_every_part() -> None:
    est = CharEstimator(chars_per_token=4.0, message_overhead=4, image_tokens=100)
    assert est.count([Message.user("abcdefgh")]) == 4 + 2
    assert est.count([Message.user("abcdefghi")]) == 4 + 3  # ceil
    assert est.count([Message.user(ImagePart(url="https://x/y.png"))]) == 4 + 100
    reasoning = Message.assistant(ReasoningPart(text="abcd", signature="efgh", encrypted="ijkl"))
    assert est.count([reasoning]) == 4 + 3
    named = Message(role="user", parts="abcd", name="bob1")
    assert est.count([named]) == 4 + 2
    tool_call = Message.assistant(ToolCallPart(id="x", name="ab", arguments={}))
    assert est.count([tool_call]) == 4 + 1  # "ab" + "{}"
    assert est.count(()) == 0


def test_char_estimator_request_is_sum_of_pieces() -> None:
    est = CharEstimator()
    tool = ToolSpec(name="read", description="reads a file")
    schema = OutputSchema(name="out", schema={"type": "object"}, description="answer")
    msgs = conversation()
    bare = ModelRequest(messages=msgs)
    full = ModelRequest(messages=msgs, tools=[tool], output=schema)
    assert est.count(bare) == est.count(msgs)
    extra = est.count(full) - est.count(msgs)
    assert extra == (
        4
        + math.ceil(
            (4 + 12 + len('{"type":"object","properties":{},"additionalProperties":false}')) / 4
        )
        + 4
        + math.ceil((3 + 6 + len('{"type":"object"}')) / 4)
    )


@given(st.text(max_size=200), st.text(max_size=200))
def test_char_estimator_monotonic(head: str, more: str) -> None:
    est = CharEstimator(chars_per_token=3.3)
    short = [Message.user(head or "x")]
    longer = [Message.user((head or "x") + more)]
    assert est.count(short) <= est.count(longer)
    assert est.count(short) <= est.count([*short, Message.assistant(more)])


@pytest.mark.parametrize("bad", ["text", Message.user("x"), 3, [Message.user("x"), "y"]])
def test_count_rejects_non_messages(bad: Any) -> None:
    with pytest.raises(EstimatorError, match="count"):
        CharEstimator().count(bad)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"chars_per_token": 0}, "chars_per_token"),
        ({"chars_per_token": float("nan")}, "chars_per_token"),
        ({"chars_per_token": True}, "chars_per_token"),
        ({"chars_per_token": 9.0}, "outside"),
        ({"message_overhead": -1}, "message_overhead"),
        ({"image_tokens": 1.5}, "image_tokens"),
        ({"smoothing": 1.5}, "smoothing"),
        ({"min_ratio": 0}, "min_ratio"),
        ({"max_ratio": -2}, "max_ratio"),
    ],
)
def test_char_estimator_rejects_bad_settings(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(EstimatorError, match=field):
        CharEstimator(**kwargs)


def test_calibration_converges_to_the_true_ratio() -> None:
    """A tokenizer at 2.5 chars per token: the estimate follows reported usage."""
    msgs = [Message.user("x" * 4000), Message.assistant("y" * 2000)]
    truth = sum(4 + math.ceil(len(m.text) / 2.5) for m in msgs)
    est = CharEstimator()
    assert abs(est.count(msgs) - truth) / truth > 0.3
    for _ in range(40):
        assert est.calibrate(est.count(msgs), truth)
    assert est.ratio == pytest.approx(2.5, rel=0.01)
    assert abs(est.count(msgs) - truth) / truth < 0.01
    assert "2.5" in repr(est)


def test_calibration_stays_bounded() -> None:
    est = CharEstimator(min_ratio=2.0, max_ratio=6.0)
    for _ in range(100):
        est.calibrate(700, 100)  # estimate 7x too high: ratio pushed up
    assert est.ratio == 6.0
    for _ in range(100):
        est.calibrate(100, 700)
    assert est.ratio == 2.0


@pytest.mark.parametrize(
    ("estimated", "reported"),
    [(100, 0), (0, 100), (100, -5), (100, True), (100, 1.5), (1000, 100), (100, 1000)],
)
def test_calibration_ignores_absurd_reports(estimated: Any, reported: Any) -> None:
    est = CharEstimator()
    assert not est.calibrate(estimated, reported)
    assert est.ratio == 4.0


def test_tiktoken_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # import now raises ImportError
    with pytest.raises(TokenizerUnavailable, match=r"actrio\[tiktoken\]") as info:
        TiktokenEstimator()
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value.__cause__, ImportError)


def test_tiktoken_estimator_with_a_stand_in_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wrapper's own logic, with a fake tiktoken: one token per word."""
    picked: list[str] = []

    class Encoding:
        def encode(self, text: str, *, disallowed_special: tuple[str, ...]) -> list[int]:
            assert disallowed_special == ()
            return [0] * len(text.split())

    def get_encoding(name: str) -> Encoding:
        picked.append(f"enc:{name}")
        return Encoding()

    def encoding_for_model(name: str) -> Encoding:
        picked.append(f"model:{name}")
        return Encoding()

    fake = types.SimpleNamespace(get_encoding=get_encoding, encoding_for_model=encoding_for_model)
    monkeypatch.setitem(sys.modules, "tiktoken", fake)
    est = TiktokenEstimator(message_overhead=3, image_tokens=50)
    TiktokenEstimator(model="gpt-4o")
    assert picked == ["enc:o200k_base", "model:gpt-4o"]
    msgs = [Message.user(["one two three", ImagePart(url="https://x/i.png")])]
    assert est.count(msgs) == 3 + 3 + 50
    req = ModelRequest(messages=msgs, tools=[ToolSpec(name="t", description="a b")])
    assert est.count(req) == est.count(msgs) + 3 + 1 + 2 + 1
    with pytest.raises(EstimatorError):
        est.count("nope")  # type: ignore[arg-type]


def test_tiktoken_estimator_real() -> None:
    pytest.importorskip("tiktoken")
    est = TiktokenEstimator()
    assert est.count([Message.user("hello world")]) > 4


# ---------------------------------------------------------------- stage 1


def test_truncation_keeps_head_and_tail_with_marker_b05() -> None:
    content = "a" * 50 + "b" * 50
    msgs = [Message.user("go"), call("c"), Message.tool("c", content)]
    out, changed = truncate_tool_results(msgs, max_chars=len(MARKER_100) + 11)
    assert changed
    assert out[0] is msgs[0]
    assert out[1] is msgs[1]
    result = out[2].parts[0]
    assert isinstance(result, ToolResultPart)
    assert result.content == "a" * 6 + MARKER_100 + "b" * 5
    assert len(result.content) == len(MARKER_100) + 11
    assert result.tool_call_id == "c"


def test_truncation_to_marker_only_and_left_alone_when_not_shorter() -> None:
    msgs = [Message.user("go"), call("c"), Message.tool("c", "z" * 100)]
    out, changed = truncate_tool_results(msgs, max_chars=5)
    assert changed
    assert out[2].parts[0].content == MARKER_100  # type: ignore[union-attr]
    small = [Message.user("go"), call("c"), Message.tool("c", "z" * 30)]
    out, changed = truncate_tool_results(small, max_chars=10)
    assert not changed
    assert out == tuple(small)
    out, changed = truncate_tool_results(msgs, max_chars=100)
    assert not changed


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_truncation_rejects_bad_size(bad: Any) -> None:
    with pytest.raises(FitError, match="max_chars"):
        truncate_tool_results([], max_chars=bad)


# ---------------------------------------------------------------- stage 2


def test_drop_keeps_system_and_last_turns() -> None:
    msgs = conversation()
    est = CharEstimator()
    kept, dropped = drop_oldest_turns(msgs, budget_tokens=0, estimator=est, keep_last=1)
    assert kept == (msgs[0], msgs[7], msgs[8])
    assert dropped == tuple(msgs[1:7])
    kept, dropped = drop_oldest_turns(msgs, budget_tokens=0, estimator=est, keep_last=2)
    assert kept == (msgs[0], *msgs[3:])
    # A budget the first drop satisfies stops there.
    budget = est.count(msgs[:1] + msgs[3:])
    kept, dropped = drop_oldest_turns(msgs, budget_tokens=budget, estimator=est, keep_last=1)
    assert dropped == (msgs[1], msgs[2])
    # Within budget: nothing dropped.
    kept, dropped = drop_oldest_turns(msgs, budget_tokens=10**6, estimator=est)
    assert kept == tuple(msgs)
    assert dropped == ()


def test_drop_keeps_pinned_and_their_tool_partners_ant3() -> None:
    msgs = conversation()
    est = CharEstimator()
    kept, _ = drop_oldest_turns(msgs, budget_tokens=0, estimator=est, keep_last=1, pinned={5})
    assert kept == (msgs[0], msgs[4], msgs[5], msgs[7], msgs[8])
    kept, _ = drop_oldest_turns(
        msgs, budget_tokens=0, estimator=est, keep_last=1, pinned=lambda m: m.text.startswith("u0")
    )
    assert kept == (msgs[0], msgs[1], msgs[7], msgs[8])


def test_drop_takes_a_cross_turn_pair_together_ant3() -> None:
    """A result arriving after a later user message joins the two turns."""
    msgs = [
        Message.assistant("hello, I am the preamble turn"),
        Message.user("u0"),
        call("c"),
        Message.user("u1"),
        Message.tool("c", "late"),
        Message.user("u2"),
    ]
    est = CharEstimator()
    kept, dropped = drop_oldest_turns(msgs, budget_tokens=0, estimator=est, keep_last=1)
    assert kept == (msgs[5],)
    kept, dropped = drop_oldest_turns(msgs, budget_tokens=0, estimator=est, keep_last=2)
    # Turn 2 is kept, so the call its result answers stays; the rest of turn 1 goes.
    assert kept == tuple(msgs[2:])
    assert dropped == (msgs[0], msgs[1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"keep_last": 0}, "keep_last"),
        ({"keep_last": True}, "keep_last"),
        ({"pinned": {99}}, "index 99"),
        ({"pinned": {-1}}, "index -1"),
        ({"pinned": ["0"]}, "pinned"),
    ],
)
def test_drop_rejects_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(FitError, match=match):
        drop_oldest_turns(conversation(), budget_tokens=0, estimator=CharEstimator(), **kwargs)


def test_drop_rejects_a_late_system_message() -> None:
    msgs = [Message.user("u"), Message.system("late")]
    with pytest.raises(FitError, match=r"messages\[1\]"):
        drop_oldest_turns(msgs, budget_tokens=0, estimator=CharEstimator())


# ---------------------------------------------------------------- fit


def test_fit_does_nothing_when_within_window() -> None:
    req = ModelRequest(messages=conversation())
    res = fit(req, window=10**6, reserve_output=1000)
    assert res.request is req
    assert res.stages == ()
    assert res.fits
    assert res.available == 10**6 - 1000
    assert res.tokens == CharEstimator().count(req)


def test_fit_truncation_alone_suffices() -> None:
    msgs = [Message.system("s"), Message.user("go"), call("c"), Message.tool("c", "x" * 4000)]
    req = ModelRequest(messages=msgs, max_tokens=100)
    est = CharEstimator()
    before = est.count(req)
    res = fit(req, window=before, estimator=est, max_tool_result_chars=400)
    assert res.available == before - 100  # reserve_output defaults to max_tokens
    assert [s.name for s in res.stages] == [TRUNCATE_STAGE]
    assert res.stages[0].tokens_before == before
    assert res.stages[0].tokens_after == est.count(res.request) == res.tokens
    assert res.fits
    assert res.dropped == ()


def test_fit_runs_both_stages_and_reports_numbers() -> None:
    msgs = [Message.system("s"), Message.user("go"), call("c"), Message.tool("c", "x" * 4000)]
    msgs += [Message.assistant("y" * 400), Message.user("next"), Message.assistant("ok")]
    tools = [ToolSpec(name="read", description="d" * 200)]
    req = ModelRequest(messages=msgs, tools=tools)
    est = CharEstimator()
    minimum = est.count(ModelRequest(messages=[msgs[0], *msgs[5:]], tools=tools))
    res = fit(
        req,
        window=minimum + 50,
        reserve_output=50,
        estimator=est,
        keep_last=1,
        max_tool_result_chars=500,
    )
    assert [s.name for s in res.stages] == [TRUNCATE_STAGE, DROP_STAGE]
    first, second = res.stages
    assert first.tokens_before == est.count(req)
    assert first.tokens_after == second.tokens_before
    assert second.tokens_after == res.tokens == minimum
    assert res.fits
    assert res.request.messages == (msgs[0], *msgs[5:])
    assert [m.role for m in res.dropped] == ["user", "assistant", "tool", "assistant"]
    assert res.request.tools == req.tools


def test_fit_never_claims_to_fit_when_minimum_is_over() -> None:
    req = ModelRequest(messages=[Message.system("s" * 400), Message.user("u" * 400)])
    res = fit(req, window=50, reserve_output=0, max_tool_result_chars=None)
    assert not res.fits
    assert res.stages == ()  # nothing could be dropped
    assert res.tokens > res.available
    with pytest.raises(ContextOverflow) as info:
        fit(req, window=50, reserve_output=0, strict=True)
    assert info.value.needed == res.tokens
    assert info.value.available == 50
    assert isinstance(info.value, ValueError)
    assert "50" in str(info.value)


def test_fit_skips_stage_one_when_disabled_or_useless() -> None:
    msgs = [Message.user("a" * 400), Message.assistant("b" * 400), Message.user("c")]
    req = ModelRequest(messages=msgs)
    res = fit(req, window=20, reserve_output=0, keep_last=1)
    assert [s.name for s in res.stages] == [DROP_STAGE]
    assert res.request.messages == (msgs[2],)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": -1}, "window"),
        ({"window": 1.0}, "window"),
        ({"window": 10, "reserve_output": True}, "reserve_output"),
        ({"window": 10, "keep_last": 0}, "keep_last"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(FitError, match=match):
        fit(ModelRequest(messages="hi"), **kwargs)


# ---------------------------------------------------------------- properties


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    """Valid conversations: system first, tool results after their calls (sometimes late)."""
    msgs = [
        Message.system(f"sys{i} " * draw(st.integers(1, 20)))
        for i in range(draw(st.integers(0, 2)))
    ]
    pending: list[str] = []
    n = 0
    for step in draw(st.lists(st.sampled_from(["user", "text", "calls", "late"]), max_size=14)):
        size = draw(st.integers(1, 60))
        if step == "user":
            msgs.append(Message.user("u " * size))
        elif step == "text":
            msgs.append(Message.assistant("a " * size))
        elif step == "calls":
            ids = [f"c{n + k}" for k in range(draw(st.integers(1, 3)))]
            n += len(ids)
            msgs.append(Message.assistant([ToolCallPart(id=i, name="t") for i in ids]))
            answered = ids if draw(st.booleans()) else ids[:1]
            msgs.extend(Message.tool(i, "r " * size) for i in answered)
            pending.extend(i for i in ids if i not in answered)
        elif pending:
            msgs.append(Message.tool(pending.pop(0), "late " * size))
    if len(msgs) == 0 or all(m.role == "system" for m in msgs):
        msgs.append(Message.user("last"))
    return msgs


def _check_pairs(out: tuple[Message, ...], source: list[Message]) -> None:
    calls = {c.id for m in out for c in m.tool_calls}
    results = {p.tool_call_id for m in out for p in m.parts if isinstance(p, ToolResultPart)}
    source_results = {
        p.tool_call_id for m in source for p in m.parts if isinstance(p, ToolResultPart)
    }
    assert results <= calls  # no result without its call
    assert calls & source_results <= results  # no call without its (existing) result


def _is_subsequence(out: tuple[Message, ...], source: list[Message]) -> bool:
    it = iter(source)
    return all(any(m is s for s in it) for m in out)


@settings(max_examples=80)
@given(
    conversations(),
    st.integers(0, 400),
    st.integers(1, 3),
    st.sets(st.integers(0, 40), max_size=3),
)
def test_drop_properties_ant3(
    msgs: list[Message], budget: int, keep_last: int, pins: set[int]
) -> None:
    est = CharEstimator()
    pinned = {i for i in pins if i < len(msgs)}
    kept, dropped = drop_oldest_turns(
        msgs, budget_tokens=budget, estimator=est, keep_last=keep_last, pinned=pinned
    )
    assert _is_subsequence(kept, msgs)
    assert _is_subsequence(dropped, msgs)
    assert len(kept) + len(dropped) == len(msgs)
    systems = [m for m in msgs if m.role == "system"]
    assert list(kept[: len(systems)]) == systems
    assert all(any(msgs[i] is k for k in kept) for i in pinned)
    user_at = [i for i, m in enumerate(msgs) if m.role == "user"]
    if len(user_at) >= keep_last:
        tail = msgs[user_at[-keep_last] :]
        assert list(kept[len(kept) - len(tail) :]) == tail
    _check_pairs(kept, msgs)
    ModelRequest(messages=kept)  # still a valid request


@settings(max_examples=80)
@given(conversations(), st.integers(0, 600), st.sampled_from([None, 0, 40, 200]))
def test_fit_properties(msgs: list[Message], window: int, max_chars: int | None) -> None:
    est = CharEstimator()
    req = ModelRequest(messages=msgs)
    res = fit(req, window=window, reserve_output=0, estimator=est, max_tool_result_chars=max_chars)
    assert res.tokens == est.count(res.request)
    assert res.fits == (res.tokens <= window)
    if res.fits:
        assert est.count(res.request) <= window
    else:
        with pytest.raises(ContextOverflow):
            fit(
                req,
                window=window,
                reserve_output=0,
                estimator=est,
                strict=True,
                max_tool_result_chars=max_chars,
            )
    for stage in res.stages:
        assert stage.tokens_after < stage.tokens_before
    _check_pairs(res.request.messages, msgs)
    assert attrs.evolve(res.request) == res.request
