"""The wire form: one cattrs converter, closed unions told apart by ``kind``."""

from __future__ import annotations

import enum
import json
import typing
from typing import Any, Literal, Union

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import actrio
from actrio._wire import converter, kind_of, register_kind_union

MEMBERS: tuple[type[actrio.Event], ...] = typing.get_args(actrio.KernelEvent)

error_infos = st.builds(actrio.ErrorInfo, type=st.text(), message=st.text())
finite = st.floats(allow_nan=False, allow_infinity=False)

# Strategies by field name, for the fields whose values need a bound (no NaN,
# which never equals itself) or whose type hypothesis cannot resolve by itself
# (the events are declared with string annotations).
OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    "seq": st.integers(min_value=0, max_value=2**63),
    "time": finite,
    "delay": finite,
    "period": finite,
    "grace": finite,
    "error": error_infos,
    "errors": st.lists(error_infos, max_size=3).map(tuple),
}


def strategy_for(cls: type[actrio.Event]) -> st.SearchStrategy[actrio.Event]:
    """Build ``cls`` with every field drawn, ``kind`` left at its default."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for field in attrs.fields(cls):
        if field.name == "kind":
            continue
        if field.name in OVERRIDES:
            fields[field.name] = OVERRIDES[field.name]
        else:
            fields[field.name] = st.from_type(hints[field.name])
    return st.builds(cls, **fields)


kernel_events = st.one_of([strategy_for(cls) for cls in MEMBERS])


@pytest.mark.parametrize("cls", MEMBERS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_every_kernel_event_round_trips(cls: type[actrio.Event], data: st.DataObject) -> None:
    event = data.draw(strategy_for(cls))
    raw = converter.unstructure(event)
    assert isinstance(raw, dict)
    assert raw["kind"] == kind_of(cls)
    assert "seq" in raw
    assert "time" in raw
    back = converter.structure(raw, actrio.KernelEvent)
    assert type(back) is cls
    assert back == event


@given(event=kernel_events)
def test_round_trip_through_json(event: actrio.Event) -> None:
    text = json.dumps(converter.unstructure(event))
    back = converter.structure(json.loads(text), actrio.KernelEvent)
    assert back == event


def test_unstructured_form_is_plain_data() -> None:
    event = actrio.RestartCycle(
        seq=4,
        time=1.5,
        supervisor_path="/sup",
        strategy="rest_for_one",
        failed=("2",),
        errors=(actrio.ErrorInfo(type="ValueError", message="x"),),
        restarting=("2", "3"),
        counted=False,
    )
    raw = converter.unstructure(event)
    assert json.loads(json.dumps(raw)) == {
        "seq": 4,
        "time": 1.5,
        "kind": "restart_cycle",
        "supervisor_path": "/sup",
        "strategy": "rest_for_one",
        "failed": ["2"],
        "errors": [{"type": "ValueError", "message": "x"}],
        "restarting": ["2", "3"],
        "counted": False,
    }
    # Lists from JSON come back as the declared tuples.
    back = converter.structure(json.loads(json.dumps(raw)), actrio.KernelEvent)
    assert back == event
    assert isinstance(back.errors, tuple)  # type: ignore[union-attr]


def test_unknown_kind_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="no_such_kind"):
        converter.structure({"kind": "no_such_kind", "seq": 1}, actrio.KernelEvent)


@pytest.mark.parametrize("data", [{"seq": 1}, ["kind", "actor_started"], "actor_started", None])
def test_data_without_a_kind_is_a_value_error(data: object) -> None:
    with pytest.raises(ValueError, match="kind"):
        converter.structure(data, actrio.KernelEvent)


def sample_raw() -> dict[str, Any]:
    return converter.unstructure(
        actrio.ActorExited(seq=3, time=2.0, actor_id="1", path="/a", incarnation=1, reason="normal")
    )


def test_extra_keys_are_rejected() -> None:
    raw = {**sample_raw(), "surprise": 1}
    with pytest.raises(cattrs.ClassValidationError) as caught:
        converter.structure(raw, actrio.KernelEvent)
    extra = [
        e for e in caught.value.exceptions if isinstance(e, cattrs.errors.ForbiddenExtraKeysError)
    ]
    assert len(extra) == 1
    assert extra[0].extra_fields == {"surprise"}


def test_extra_keys_are_rejected_inside_nested_values() -> None:
    raw = converter.unstructure(actrio.SubscriberDisabled(subscriber="s", failures=3, error=ERROR))
    raw["error"]["trace"] = "..."
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure(raw, actrio.KernelEvent)


def test_missing_keys_are_rejected() -> None:
    raw = sample_raw()
    del raw["path"]
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure(raw, actrio.KernelEvent)


def test_a_bad_literal_value_is_rejected() -> None:
    raw = {**sample_raw(), "reason": "exploded"}
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure(raw, actrio.KernelEvent)


def test_kind_picks_the_class_and_must_fit_its_fields() -> None:
    raw = {**sample_raw(), "kind": "actor_started"}
    # ActorStarted has actor_type and parent_id, no reason: not a valid ActorStarted.
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure(raw, actrio.KernelEvent)


ERROR = actrio.ErrorInfo(type="RuntimeError", message="boom")


# ---------------------------------------------------------------- kind_of


def test_kind_of_reads_the_default() -> None:
    assert kind_of(actrio.ActorStarted) == "actor_started"
    assert kind_of(actrio.SubscriberDisabled) == "subscriber_disabled"


@attrs.frozen(kw_only=True)
class NoKind:
    x: int = 0


@attrs.frozen(kw_only=True)
class IntKind:
    kind: int = 3


@attrs.frozen(kw_only=True)
class NoDefaultKind:
    kind: Literal["k"]


class PlainWithKind:
    kind = "plain"


@pytest.mark.parametrize("cls", [NoKind, IntKind, NoDefaultKind, actrio.Event])
def test_kind_of_rejects_attrs_classes_without_a_string_kind(cls: type[Any]) -> None:
    with pytest.raises(TypeError, match=cls.__qualname__):
        kind_of(cls)


def test_kind_of_rejects_a_class_that_is_not_attrs() -> None:
    # It has no `kind` field (only a class attribute): the documented TypeError.
    with pytest.raises(TypeError):
        kind_of(PlainWithKind)


# ---------------------------------------------------------------- register_kind_union


@attrs.frozen(kw_only=True)
class Apple:
    kind: Literal["apple"] = "apple"
    size: int


@attrs.frozen(kw_only=True)
class Pear:
    kind: Literal["pear"] = "pear"
    ripe: bool


@attrs.frozen(kw_only=True)
class FakeApple:
    kind: Literal["apple"] = "apple"
    colour: str


@attrs.frozen(kw_only=True)
class Plum:
    kind: Literal["plum"] = "plum"
    n: int


@attrs.frozen(kw_only=True)
class Fig:
    kind: Literal["fig"] = "fig"
    n: int


def test_register_kind_union_returns_the_mapping_and_structures() -> None:
    fruit = Apple | Pear
    assert register_kind_union(fruit) == {"apple": Apple, "pear": Pear}
    assert converter.structure({"kind": "pear", "ripe": True}, fruit) == Pear(ripe=True)
    assert converter.structure({"kind": "apple", "size": 3}, fruit) == Apple(size=3)
    with pytest.raises(ValueError, match="'plum'"):
        converter.structure({"kind": "plum", "n": 1}, fruit)


def test_register_kind_union_takes_typing_union() -> None:
    fruit = Union[Plum, Fig]  # noqa: UP007 - the old spelling must work too
    assert register_kind_union(fruit) == {"plum": Plum, "fig": Fig}
    assert converter.structure({"kind": "fig", "n": 2}, fruit) == Fig(n=2)


def test_register_kind_union_rejects_duplicate_kinds() -> None:
    with pytest.raises(TypeError, match="'apple'"):
        register_kind_union(Apple | FakeApple)


@pytest.mark.parametrize("not_a_union", [Apple, int, "Apple | Pear", None, list[Apple]])
def test_register_kind_union_rejects_non_unions(not_a_union: object) -> None:
    with pytest.raises(TypeError):
        register_kind_union(not_a_union)


def test_register_kind_union_rejects_members_that_are_not_attrs() -> None:
    # "a union of attrs classes" is what it takes; anything else is a TypeError.
    with pytest.raises(TypeError):
        register_kind_union(Apple | PlainWithKind)
    with pytest.raises(TypeError):
        register_kind_union(int | str)


def test_register_kind_union_rejects_members_without_kind() -> None:
    with pytest.raises(TypeError, match="NoKind"):
        register_kind_union(Apple | NoKind)
    with pytest.raises(TypeError, match="IntKind"):
        register_kind_union(Pear | IntKind)


def test_error_info_round_trips() -> None:
    raw = converter.unstructure(ERROR)
    assert raw == {"type": "RuntimeError", "message": "boom"}
    assert converter.structure(raw, actrio.ErrorInfo) == ERROR
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure({**raw, "extra": 1}, actrio.ErrorInfo)


def test_a_kind_declared_twice_by_different_classes_is_refused_but_a_reimport_replaces(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-imported module (reload, pytester's sys.modules restore) registers again."""
    import importlib  # noqa: PLC0415

    from actrio._wire import register_kind_union, structure_tagged  # noqa: PLC0415

    (tmp_path / "wire_twice_mod.py").write_text(
        "from typing import Literal\n"
        "import attrs\n"
        "from actrio._wire import register_kind_union\n"
        "@attrs.frozen\n"
        "class A:\n"
        "    kind: Literal['wire_twice_a'] = 'wire_twice_a'\n"
        "@attrs.frozen\n"
        "class B:\n"
        "    kind: Literal['wire_twice_b'] = 'wire_twice_b'\n"
        "register_kind_union(A | B)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("wire_twice_mod")
    old = module.A
    fresh = importlib.reload(module)
    assert fresh.A is not old
    assert type(structure_tagged({"kind": "wire_twice_a"})) is fresh.A

    @attrs.frozen
    class Impostor:
        kind: Literal["wire_twice_a"] = "wire_twice_a"

    with pytest.raises(TypeError, match="declared by both"):
        register_kind_union(Impostor | fresh.B)


# ---------------------------------------------------------------- enums


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(enum.StrEnum):
    FAST = "fast"


class Shape(enum.Enum):
    ROUND = "round"
    SIDES = 4


class Mixed(str, enum.Enum):  # noqa: UP042 - the older mixin form, still common
    ON = "on"


@attrs.frozen
class Settings:
    level: Level
    mode: Mode
    shape: Shape
    mixed: Mixed
    count: int = 0
    name: str = ""


GOOD = {"level": 2, "mode": "fast", "shape": 4, "mixed": "on", "count": 3, "name": "n"}


def test_enum_fields_come_back_as_members_and_go_out_as_values() -> None:
    """IntEnum / StrEnum fields are enums, not the plain int / str their MRO also names."""
    value = converter.structure(GOOD, Settings)
    assert value == Settings(Level.HIGH, Mode.FAST, Shape.SIDES, Mixed.ON, 3, "n")
    assert type(value.level) is Level
    assert type(value.mode) is Mode
    out = converter.unstructure(value)
    assert out == GOOD
    assert type(out["level"]) is int
    assert type(out["mode"]) is str
    assert converter.structure(json.loads(json.dumps(out)), Settings) == value


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("level", 5),
        ("level", True),  # a bool is not 1
        ("level", 2.0),
        ("level", "2"),
        ("mode", "slow"),
        ("shape", "4"),
        ("mixed", "off"),
    ],
)
def test_a_value_outside_an_enum_is_refused_naming_the_choices(field: str, bad: object) -> None:
    with pytest.raises(cattrs.ClassValidationError) as caught:
        converter.structure({**GOOD, field: bad}, Settings)
    (error,) = caught.value.exceptions
    assert isinstance(error, ValueError)
    assert "expected one of" in str(error)
    assert repr(bad) in str(error)


@pytest.mark.parametrize(("field", "bad"), [("count", "3"), ("count", True), ("name", 1)])
def test_plain_fields_stay_strict(field: str, bad: object) -> None:
    with pytest.raises(cattrs.ClassValidationError):
        converter.structure({**GOOD, field: bad}, Settings)
