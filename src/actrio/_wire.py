"""The one cattrs converter that owns actrio's wire form.

Every value that leaves the process (JSON files, HTTP bodies, exported
events) is unstructured and structured here. Closed unions of attrs classes
are told apart by their ``kind`` field: each member declares
``kind: Literal["..."] = "..."`` and :func:`register_kind_union` teaches the
converter to pick the class from that tag.
"""

from __future__ import annotations

import enum
import importlib
import types
import typing
from typing import Any

import attrs
import cattrs

__all__ = ("converter", "kind_of", "register_kind_union", "structure_tagged")

converter = cattrs.Converter(forbid_extra_keys=True)
"""The converter. Unknown keys are rejected, so a typo never passes silently."""


def _structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    """A member of ``cls`` from its value, as strictly as the plain types: ``true`` is not 1."""
    for member in cls:
        if type(member.value) is type(value) and member.value == value:
            return member
    choices = ", ".join(repr(m.value) for m in cls)
    raise ValueError(f"expected one of {cls.__name__}'s values ({choices}), got {value!r}")


def _strict(cls: type[Any], accepts: tuple[type[Any], ...]) -> None:
    def structure(value: Any, tp: Any) -> Any:
        if tp is not cls and issubclass(tp, enum.Enum):
            # The hook is found through the MRO: an IntEnum, a StrEnum or a
            # (str, Enum) mixin is an enum first, not a plain value.
            return _structure_enum(value, tp)
        if isinstance(value, bool) and bool not in accepts:
            raise TypeError(f"expected {cls.__name__}, got bool")
        if not isinstance(value, accepts):
            raise TypeError(f"expected {cls.__name__}, got {type(value).__name__}")
        return cls(value) if cls is float else value

    converter.register_structure_hook(cls, structure)


# No silent coercion on the way in: "1" is not an int, 1 is not a str, "no" is not a bool.
_strict(str, (str,))
_strict(int, (int,))
_strict(float, (int, float))
_strict(bool, (bool,))
converter.register_structure_hook(enum.Enum, _structure_enum)
# On the way out an enum is its value (an IntEnum or StrEnum too, found before int and str).
for _enum in (enum.Enum, enum.IntEnum, enum.StrEnum, enum.IntFlag):
    converter.register_unstructure_hook(_enum, lambda member: member.value)


_by_kind: dict[str, type[Any]] = {}
"""Every registered ``kind`` tag and its class: a static table of types, filled at import."""


def kind_of(cls: type[Any]) -> str:
    """Return the ``kind`` tag an attrs class declares as its default.

    Raises:
        TypeError: If the class has no ``kind`` field with a string default.
    """
    if not (isinstance(cls, type) and attrs.has(cls)):
        raise TypeError(f"{cls!r} is not an attrs class")
    field = attrs.fields_dict(cls).get("kind")
    if field is None or not isinstance(field.default, str):
        raise TypeError(f"{cls.__qualname__} has no `kind` field with a string default")
    return field.default


def _same_name(cls: type[Any]) -> tuple[str, str]:
    """A class's identity across re-imports of its module.

    ``importlib.reload``, or pytest's pytester restoring ``sys.modules``,
    imports a module again: the newest import's classes win.
    """
    return cls.__module__, cls.__qualname__


def register_kind_union(union: Any) -> dict[str, type[Any]]:
    """Teach the converter to structure ``union`` by each member's ``kind``.

    Args:
        union: A ``X | Y | ...`` union of attrs classes, each with a distinct
            ``kind`` default.

    Returns:
        The mapping from tag to class.

    A module imported again registers its classes again; they replace the
    earlier import's.

    Raises:
        TypeError: If two different classes share a tag, or one has none.
    """
    members: tuple[type[Any], ...] = typing.get_args(union)
    if typing.get_origin(union) not in (typing.Union, types.UnionType) or not members:
        raise TypeError(f"expected a union of attrs classes, got {union!r}")
    by_kind: dict[str, type[Any]] = {}
    for cls in members:
        tag = kind_of(cls)
        known = by_kind.get(tag) or _by_kind.get(tag)
        if known is not None and known is not cls and _same_name(known) != _same_name(cls):
            raise TypeError(f"kind {tag!r} is declared by both {known!r} and {cls!r}")
        by_kind[tag] = cls
    _by_kind.update(by_kind)

    def structure(data: Any, _: Any) -> Any:
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError(f"expected a mapping with a 'kind' key, got {data!r}")
        cls = by_kind.get(data["kind"])
        if cls is None:
            raise ValueError(f"unknown kind {data['kind']!r}; expected one of {sorted(by_kind)}")
        return converter.structure(data, cls)

    converter.register_structure_hook(union, structure)
    return by_kind


_LAZY_KINDS: dict[str, str] = {
    "policy_decision": "actrio.actors._policy_events",
    "policy_error": "actrio.actors._policy_events",
    "human_requested": "actrio.human",
    "human_responded": "actrio.human",
    "budget_granted": "actrio.context._budget",
    "budget_charged": "actrio.context._budget",
    "budget_exhausted": "actrio.context._budget",
    **dict.fromkeys(
        (
            "run_started",
            "agent_text_delta",
            "reasoning_text_delta",
            "model_called",
            "tool_call_started",
            "tool_call_ended",
            "output_retried",
            "context_compressed",
            "handed_off",
            "run_ended",
        ),
        "actrio.agents._events",
    ),
}
"""Kinds whose module ``import actrio`` does not load; imported when one is read."""


def structure_tagged(data: Any) -> Any:
    """Structure a mapping into the class its ``kind`` names, from any registered union.

    Raises:
        ValueError: If ``data`` has no known ``kind``.
        cattrs.errors.ClassValidationError: If the fields do not fit the class.
    """
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise ValueError(f"expected a mapping with a string 'kind' key, got {data!r}")
    module = _LAZY_KINDS.get(data["kind"])
    if module is not None and data["kind"] not in _by_kind:
        importlib.import_module(module)  # registers its kinds
    cls = _by_kind.get(data["kind"])
    if cls is None:
        raise ValueError(f"unknown kind {data['kind']!r}")
    return converter.structure(data, cls)
