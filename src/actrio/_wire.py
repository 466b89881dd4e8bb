"""The one cattrs converter that owns actrio's wire form.

Every value that leaves the process (JSON files, HTTP bodies, exported
events) is unstructured and structured here. Closed unions of attrs classes
are told apart by their ``kind`` field: each member declares
``kind: Literal["..."] = "..."`` and :func:`register_kind_union` teaches the
converter to pick the class from that tag.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs
import cattrs

__all__ = ("converter", "kind_of", "register_kind_union")

converter = cattrs.Converter(forbid_extra_keys=True)
"""The converter. Unknown keys are rejected, so a typo never passes silently."""


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


def register_kind_union(union: Any) -> dict[str, type[Any]]:
    """Teach the converter to structure ``union`` by each member's ``kind``.

    Args:
        union: A ``X | Y | ...`` union of attrs classes, each with a distinct
            ``kind`` default.

    Returns:
        The mapping from tag to class.

    Raises:
        TypeError: If two members share a tag or one has none.
    """
    members: tuple[type[Any], ...] = typing.get_args(union)
    if typing.get_origin(union) not in (typing.Union, types.UnionType) or not members:
        raise TypeError(f"expected a union of attrs classes, got {union!r}")
    by_kind: dict[str, type[Any]] = {}
    for cls in members:
        tag = kind_of(cls)
        if tag in by_kind:
            raise TypeError(f"kind {tag!r} is declared by both {by_kind[tag]!r} and {cls!r}")
        by_kind[tag] = cls

    def structure(data: Any, _: Any) -> Any:
        if not isinstance(data, dict) or "kind" not in data:
            raise ValueError(f"expected a mapping with a 'kind' key, got {data!r}")
        cls = by_kind.get(data["kind"])
        if cls is None:
            raise ValueError(f"unknown kind {data['kind']!r}; expected one of {sorted(by_kind)}")
        return converter.structure(data, cls)

    converter.register_structure_hook(union, structure)
    return by_kind
