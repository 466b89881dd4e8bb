"""Kernel events: frozen attrs classes with a unique ``kind`` tag."""

from __future__ import annotations

import typing

import attrs
import pytest

import actrio
from actrio._wire import kind_of
from actrio.kernel._events import KERNEL_EVENT_KINDS

MEMBERS: tuple[type[actrio.Event], ...] = typing.get_args(actrio.KernelEvent)

ERROR = actrio.ErrorInfo(type="RuntimeError", message="boom")

SAMPLES: dict[type[actrio.Event], actrio.Event] = {
    actrio.ActorStarted: actrio.ActorStarted(
        actor_id="1", path="/a", actor_type="X", incarnation=1, parent_id=None
    ),
    actrio.ActorExited: actrio.ActorExited(actor_id="1", path="/a", incarnation=1, reason="failed"),
    actrio.ActorFailed: actrio.ActorFailed(
        actor_id="1",
        path="/a",
        incarnation=2,
        phase="receive",
        message_type="Job",
        error=ERROR,
    ),
    actrio.ActorRestarted: actrio.ActorRestarted(
        actor_id="1", path="/a", incarnation=2, supervisor_path="/", delay=0.5
    ),
    actrio.RestartCycle: actrio.RestartCycle(
        supervisor_path="/sup",
        strategy="one_for_all",
        failed=("1",),
        errors=(ERROR,),
        restarting=("1", "2"),
        counted=True,
    ),
    actrio.SupervisorEscalated: actrio.SupervisorEscalated(
        supervisor_id="3", path="/sup", failures=6, max_restarts=5, period=10.0, error=ERROR
    ),
    actrio.MessageDeadLettered: actrio.MessageDeadLettered(
        actor_id="1", path="/a", message_type="Job", reason="actor_stopped"
    ),
    actrio.CancellationIgnored: actrio.CancellationIgnored(
        actor_id="1", path="/a", phase="on_start", message_type=None
    ),
    actrio.ShutdownTimeout: actrio.ShutdownTimeout(actor_id="1", path="/a", grace=5.0),
    actrio.EventsDropped: actrio.EventsDropped(subscriber="s", count=3, first_seq=4, last_seq=6),
    actrio.SubscriberDisabled: actrio.SubscriberDisabled(subscriber="s", failures=3, error=ERROR),
}


def test_the_union_has_the_expected_members() -> None:
    assert set(MEMBERS) == set(SAMPLES)
    assert len(MEMBERS) == 11


@pytest.mark.parametrize("cls", MEMBERS, ids=lambda c: c.__name__)
def test_member_is_a_frozen_attrs_event(cls: type[actrio.Event]) -> None:
    assert attrs.has(cls)
    assert issubclass(cls, actrio.Event)
    event = SAMPLES[cls]
    assert event.seq == 0
    assert event.time == 0.0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.seq = 5  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.kind = "other"  # type: ignore[attr-defined]
    # Hashable and comparable by value, like any frozen attrs class.
    assert event == attrs.evolve(event)
    assert hash(event) == hash(attrs.evolve(event))
    assert event != attrs.evolve(event, seq=1)


@pytest.mark.parametrize("cls", MEMBERS, ids=lambda c: c.__name__)
def test_member_fields_are_keyword_only(cls: type[actrio.Event]) -> None:
    assert all(field.kw_only for field in attrs.fields(cls))


@pytest.mark.parametrize("cls", MEMBERS, ids=lambda c: c.__name__)
def test_kind_is_a_literal_default(cls: type[actrio.Event]) -> None:
    field = attrs.fields_dict(cls)["kind"]
    assert isinstance(field.default, str)
    hint = typing.get_type_hints(cls)["kind"]
    assert typing.get_origin(hint) is typing.Literal
    assert typing.get_args(hint) == (field.default,)
    assert SAMPLES[cls].kind == field.default  # type: ignore[attr-defined]
    assert kind_of(cls) == field.default


def test_kinds_are_unique_and_registered() -> None:
    kinds = [kind_of(cls) for cls in MEMBERS]
    assert len(set(kinds)) == len(kinds)
    assert dict(zip(kinds, MEMBERS, strict=True)) == KERNEL_EVENT_KINDS


def test_event_base_has_seq_and_time_defaults() -> None:
    assert [f.name for f in attrs.fields(actrio.Event)] == ["seq", "time"]
    base = actrio.Event()
    assert (base.seq, base.time) == (0, 0.0)
    assert "kind" not in attrs.fields_dict(actrio.Event)


def test_required_fields_have_no_default() -> None:
    with pytest.raises(TypeError):
        actrio.ActorStarted(actor_id="1", path="/a")  # type: ignore[call-arg]


def describe(event: actrio.Event) -> str:
    match event:
        case actrio.ActorFailed(path=path, error=actrio.ErrorInfo(type=etype)):
            text = f"failed {path} {etype}"
        case actrio.ActorExited(reason="failed" | "cancelled" as reason, path=path):
            text = f"bad exit {path} {reason}"
        case actrio.ActorExited(path=path):
            text = f"exit {path}"
        case actrio.RestartCycle(restarting=(first, *rest)):
            text = f"restart {first} +{len(rest)}"
        case actrio.EventsDropped(count=count, first_seq=lo, last_seq=hi):
            text = f"dropped {count} {lo}..{hi}"
        case actrio.Event(kind="subscriber_disabled"):  # type: ignore[call-arg]
            text = "disabled"
        case _:
            text = "other"
    return text


def test_events_are_matchable_by_class_and_keyword() -> None:
    exited = SAMPLES[actrio.ActorExited]
    assert [
        describe(SAMPLES[actrio.ActorFailed]),
        describe(exited),
        describe(attrs.evolve(exited, reason="normal")),  # type: ignore[misc]
        describe(SAMPLES[actrio.RestartCycle]),
        describe(SAMPLES[actrio.EventsDropped]),
        describe(SAMPLES[actrio.SubscriberDisabled]),
        describe(SAMPLES[actrio.ActorStarted]),
    ] == [
        "failed /a RuntimeError",
        "bad exit /a failed",
        "exit /a",
        "restart 1 +1",
        "dropped 3 4..6",
        "disabled",
        "other",
    ]


# ---------------------------------------------------------------- ErrorInfo


class Outer:
    class Nested(Exception):
        pass


def test_error_info_from_exception() -> None:
    assert actrio.ErrorInfo.from_exception(ValueError("bad value")) == actrio.ErrorInfo(
        type="ValueError", message="bad value"
    )


def test_error_info_uses_the_qualified_name_and_str() -> None:
    info = actrio.ErrorInfo.from_exception(Outer.Nested("a", 2))
    assert info.type == "Outer.Nested"
    assert info.message == str(Outer.Nested("a", 2))
    assert actrio.ErrorInfo.from_exception(KeyError("k")).message == "'k'"
    assert actrio.ErrorInfo.from_exception(RuntimeError()).message == ""


def test_error_info_takes_base_exceptions_and_groups() -> None:
    assert actrio.ErrorInfo.from_exception(KeyboardInterrupt()).type == "KeyboardInterrupt"
    group = ExceptionGroup("several", [ValueError("x"), TypeError("y")])
    info = actrio.ErrorInfo.from_exception(group)
    assert info.type == "ExceptionGroup"
    assert info.message == str(group)


def test_error_info_is_frozen() -> None:
    info = actrio.ErrorInfo(type="T", message="m")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        info.message = "n"  # type: ignore[misc]
