"""JSON Schema from Python annotations.

:func:`json_schema` turns one annotation into a JSON Schema (2020-12 subset)
in the form OpenAI's strict structured outputs accept, which the other
providers accept too. :class:`SchemaBuilder` is the same machinery for
callers that assemble an object from several annotations (tool parameters
from a signature) and need one shared ``$defs``. :func:`is_strict_compatible`
says whether a schema, built here or written by hand, follows the strict rules.

Reading a model's reply back into the type is :mod:`actrio._output`'s job;
it builds on the helpers here, so the two agree on what a type means.

Errors::

    TypeError
     └── SchemaError            a type has no JSON Schema form
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Annotated, Any, Literal, TypeVar, Union

import attrs
import cattrs

__all__ = (
    "Property",
    "SchemaBuilder",
    "SchemaError",
    "is_strict_compatible",
    "json_schema",
)

_NoneType = type(None)
_UNIONS = (Union, types.UnionType)
_ARRAYS = (list, tuple, Sequence)
_OBJECTS = (dict, Mapping)
_UNPARAMETERIZED = (list, tuple, dict, set, frozenset, Sequence, Mapping)
_SCALARS: dict[object, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    None: {"type": "null"},
    _NoneType: {"type": "null"},
}


class SchemaError(TypeError):
    """A type that has no JSON Schema form; the message names the path to it.

    Paths start at the class (or type) given and go ``.field`` into attrs
    classes, ``[]`` into array items and ``{}`` into mapping values, as in
    ``"Answer.items[]: unsupported type set[int]"``.
    """


# ---------------------------------------------------------------- type -> schema


@attrs.frozen
class Property:
    """One named member of an object schema (an attrs field, or a parameter).

    Attributes:
        name: The JSON key.
        annotation: The Python type of the value.
        description: Said to the model about this value, if anything.
        has_default: Whether the key may be absent.
        default: The value used when the key is absent. An
            ``attrs.Factory`` counts as a default with no JSON form.
    """

    name: str
    annotation: object
    description: str | None = None
    has_default: bool = False
    default: object = None


class SchemaBuilder:
    """Builds the schemas of several annotations that share one ``$defs``.

    Every attrs class met becomes an entry of ``$defs`` (named after the
    class, with a number appended if two classes share a name) and is
    referred to by ``$ref``; the class given as ``root`` is referred to as
    ``"#"`` instead, for a root object written inline.

    In strict mode (OpenAI's strict rules) every property is listed in
    ``required`` and every object forbids additional properties: a field with
    a default is still required, and may be null only if its type allows
    None. Without strict mode, fields with defaults are not required and
    carry ``"default"`` when the default has a JSON form.

    A ``$ref`` never has siblings (OpenAI strict rejects them): a described
    reference is written ``{"anyOf": [{"$ref": ...}], "description": ...}``.

    Args:
        strict: Whether to follow OpenAI's strict rules.
        root: The attrs class whose object is the root of the final schema.
    """

    def __init__(self, *, strict: bool = True, root: type[Any] | None = None) -> None:
        self.strict = strict
        self._refs: dict[type[Any], dict[str, str]] = {}
        self._defs: dict[str, dict[str, Any]] = {}
        if root is not None:
            self._refs[root] = {"$ref": "#"}

    def schema_for(self, tp: object, *, path: str) -> dict[str, Any]:
        """The schema of one annotation.

        Args:
            tp: The annotation.
            path: Where ``tp`` sits, for error messages (e.g. ``"search.query"``).

        Raises:
            SchemaError: If ``tp`` (or a type inside it) has no JSON Schema form.
        """
        origin = typing.get_origin(tp)
        if origin is Annotated:
            inner = self.schema_for(tp.__origin__, path=path)  # type: ignore[attr-defined]
            texts = [item for item in tp.__metadata__ if isinstance(item, str)]  # type: ignore[attr-defined]
            return _described(inner, texts[0]) if texts else inner
        if origin in _UNIONS:
            return _any_of([self.schema_for(arg, path=path) for arg in typing.get_args(tp)])
        if origin is Literal:
            return _values_schema(typing.get_args(tp), tp, path)
        if origin is not None:
            return self._generic(tp, origin, path)
        return self._plain(tp, path)

    def class_schema(self, cls: type[Any], *, path: str | None = None) -> dict[str, Any]:
        """The object schema of an attrs class, written out (not a ``$ref``).

        The class description is the first paragraph of its docstring; a
        field's description comes from ``Annotated[T, "..."]`` or else from
        the docstring's Google-style ``Attributes:`` section.

        Raises:
            SchemaError: If a field's type has no JSON Schema form.
        """
        path = cls.__name__ if path is None else path
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
        except Exception as exc:  # any failure to evaluate an annotation
            raise SchemaError(f"{path}: cannot resolve the annotations of {cls!r}: {exc}") from exc
        summary, field_docs = _parse_docstring(cls.__doc__)
        props = []
        for field in attrs.fields(cls):
            if not field.init:
                continue  # cattrs never reads these from the input either
            annotation = hints.get(field.name, field.type)  # field.type: attrs.field(type=...)
            if annotation is None:
                raise SchemaError(f"{path}.{field.name}: field has no type annotation")
            has_default = field.default is not attrs.NOTHING
            description = field_docs.get(field.name)
            props.append(Property(field.name, annotation, description, has_default, field.default))
        return self.object_schema(props, path=path, description=summary)

    def object_schema(
        self, props: Iterable[Property], *, path: str, description: str | None = None
    ) -> dict[str, Any]:
        """An object schema with one property per :class:`Property`.

        Raises:
            SchemaError: If a property's type has no JSON Schema form.
        """
        properties: dict[str, Any] = {}
        required: list[str] = []
        for prop in props:
            schema = self.schema_for(prop.annotation, path=f"{path}.{prop.name}")
            if prop.description and "description" not in schema:
                schema = _described(schema, prop.description)
            if self.strict or not prop.has_default:
                required.append(prop.name)
            else:
                default = _json_default(prop.default)
                if default is not attrs.NOTHING:
                    schema = _with_sibling(schema, "default", default)
            properties[prop.name] = schema
        out: dict[str, Any] = {"type": "object"}
        if description:
            out["description"] = description
        out.update(properties=properties, required=required, additionalProperties=False)
        return out

    def finish(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """``schema`` with the ``$defs`` collected so far added at its top."""
        out = dict(schema)
        if self._defs:
            out["$defs"] = self._defs
        return out

    def _generic(self, tp: object, origin: object, path: str) -> dict[str, Any]:
        args = typing.get_args(tp)
        if origin in _ARRAYS and args:
            if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
                raise SchemaError(
                    f"{path}: fixed-length tuple {_type_name(tp)} is not supported;"
                    " use tuple[T, ...] or an attrs class"
                )
            return {"type": "array", "items": self.schema_for(args[0], path=f"{path}[]")}
        if origin in _OBJECTS and args:
            if args[0] is not str:
                raise SchemaError(f"{path}: mapping keys must be str, not in {_type_name(tp)}")
            values = self.schema_for(args[1], path=f"{path}{{}}")
            return {"type": "object", "additionalProperties": values}
        if origin in _UNPARAMETERIZED and not args:
            if getattr(tp, "__args__", None) == ():  # tuple[()]: the empty tuple
                raise SchemaError(f"{path}: fixed-length tuple {_type_name(tp)} is not supported")
            return self._plain(origin, path)
        raise SchemaError(f"{path}: unsupported type {_type_name(tp)}")

    def _plain(self, tp: object, path: str) -> dict[str, Any]:
        if tp is Any:
            return {}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _values_schema(tuple(tp), tp, path)
        scalar = next((schema for key, schema in _SCALARS.items() if tp is key), None)
        if scalar is not None:
            return dict(scalar)
        if isinstance(tp, type) and issubclass(tp, PurePath):
            return {"type": "string"}
        if isinstance(tp, typing.NewType):
            return self.schema_for(tp.__supertype__, path=path)
        if isinstance(tp, TypeVar):
            raise SchemaError(f"{path}: unsupported type variable {tp!r}; use a concrete type")
        if tp in _UNPARAMETERIZED:
            raise SchemaError(
                f"{path}: {_type_name(tp)} needs its item types, like list[str] or dict[str, int]"
            )
        if isinstance(tp, type) and attrs.has(tp):
            return self._class_ref(tp, path)
        raise SchemaError(f"{path}: unsupported type {_type_name(tp)}")

    def _class_ref(self, cls: type[Any], path: str) -> dict[str, Any]:
        ref = self._refs.get(cls)
        if ref is None:
            name, n = cls.__name__, 1
            while name in self._defs:
                n += 1
                name = f"{cls.__name__}{n}"
            ref = self._refs[cls] = {"$ref": f"#/$defs/{name}"}
            self._defs[name] = {}  # reserve the name, and the order, before recursing
            self._defs[name].update(self.class_schema(cls, path=path))
        return dict(ref)


def _described(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return _with_sibling(schema, "description", text)


def _with_sibling(schema: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    if "$ref" in schema:  # a $ref takes no siblings in OpenAI strict mode
        return {"anyOf": [schema], key: value}
    return {**schema, key: value}


def _any_of(options: list[dict[str, Any]]) -> dict[str, Any]:
    flat: list[dict[str, Any]] = []
    for option in options:
        flat.extend(option["anyOf"] if list(option) == ["anyOf"] else [option])
    return flat[0] if len(flat) == 1 else {"anyOf": flat}


_JSON_TYPES: tuple[tuple[type[Any] | types.UnionType, str], ...] = (
    (_NoneType, "null"),
    (bool, "boolean"),  # before int: a bool is an int in Python, never in JSON
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list | tuple, "array"),
    (dict, "object"),
)


_JSON_TYPE_NAMES = ("string", "number", "integer", "boolean", "array", "object", "null")


def _json_type(value: object) -> str:
    """The JSON Schema type name of a JSON value."""
    found = (name for cls, name in _JSON_TYPES if isinstance(value, cls))
    return next(found, type(value).__qualname__)


def _json_value(member: object) -> object:
    return member.value if isinstance(member, enum.Enum) else member


def _values_schema(members: Sequence[object], tp: object, path: str) -> dict[str, Any]:
    """``enum`` schemas for Literal members or Enum members, one per JSON type."""
    by_type: dict[str, list[object]] = {}
    for member in members:
        value = _json_value(member)
        kind = _json_type(value)
        if kind not in ("string", "integer", "number", "boolean", "null"):
            raise SchemaError(f"{path}: {value!r} in {_type_name(tp)} is not a JSON scalar")
        by_type.setdefault(kind, []).append(value)
    if not by_type:
        raise SchemaError(f"{path}: {_type_name(tp)} has no members")
    options = [
        {"type": "null"} if kind == "null" else {"type": kind, "enum": values}
        for kind, values in by_type.items()
    ]
    return _any_of(options)


def _json_default(value: object) -> object:
    """``value`` as JSON, or ``attrs.NOTHING`` if it has no JSON form."""
    if isinstance(value, attrs.Factory):  # type: ignore[arg-type]
        return attrs.NOTHING  # calling it could have effects; the schema just omits it
    try:
        return json.loads(json.dumps(_unstructurer().unstructure(value), allow_nan=False))
    except (TypeError, ValueError):
        return attrs.NOTHING


@functools.cache
def _unstructurer() -> cattrs.Converter:
    """A plain cattrs converter, made on first use, for the JSON form of defaults.

    Only its unstructuring is used, which no structure hook or option of the
    strict converter in :mod:`actrio._output` changes; made lazily so that
    importing this module builds no converter.
    """
    return cattrs.Converter()


_SECTION = re.compile(r"(Args|Arguments|Attributes|Attrs|Returns|Raises|Yields|Examples?|Notes?):")
_ENTRY = re.compile(r"(\w+)\s*(?:\([^)]*\))?\s*:(.*)")


def _parse_docstring(doc: str | None) -> tuple[str | None, dict[str, str]]:
    """The first paragraph, and the Google-style ``Attributes:`` entries."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.fullmatch(line.strip()):
            break
        summary.append(line.strip())
    header = next(
        (i for i, line in enumerate(lines) if line.strip() in ("Attributes:", "Attrs:")), None
    )
    if header is None:
        return " ".join(summary) or None, {}
    # cleandoc leaves a header on the first line at indent 0, and its entries too.
    section_indent = _indent(lines[header]) if header else -1
    return " ".join(summary) or None, _doc_entries(lines[header + 1 :], section_indent)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _doc_entries(lines: list[str], section_indent: int) -> dict[str, str]:
    """``name: text`` entries of a docstring section, continuation lines joined."""
    entries: dict[str, str] = {}
    entry_indent: int | None = None
    current: str | None = None
    for line in lines:
        if not line.strip():
            continue
        indent = _indent(line)
        if indent <= section_indent or (indent == 0 and _SECTION.fullmatch(line.strip())):
            break  # the next section
        if entry_indent is None or indent <= entry_indent:
            entry_indent = indent
            match = _ENTRY.fullmatch(line.strip())
            current = match.group(1) if match else None
            if match:
                entries[match.group(1)] = match.group(2).strip()
        elif current is not None:
            entries[current] = f"{entries[current]} {line.strip()}".strip()
    return entries


def _type_name(tp: object) -> str:
    if isinstance(tp, type):
        return tp.__qualname__
    return repr(tp).replace("typing.", "").replace("collections.abc.", "")


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _build(tp: object, strict: bool) -> dict[str, Any]:
    if isinstance(tp, type) and attrs.has(tp):
        builder = SchemaBuilder(strict=strict, root=tp)
        return builder.finish(builder.class_schema(tp))
    builder = SchemaBuilder(strict=strict)
    return builder.finish(builder.schema_for(tp, path=_type_name(tp)))


@functools.lru_cache(maxsize=256)
def _build_cached(tp: object, spelled: str, strict: bool) -> dict[str, Any]:
    # ``spelled`` (the repr) is in the key because equal types may be written in
    # different orders (``int | None == None | int``), and the schema keeps the order.
    return _build(tp, strict)


def json_schema(tp: object, *, strict: bool = True) -> dict[str, Any]:
    """The JSON Schema of an annotation.

    Supported: ``str``, ``int``, ``float`` (which accepts integers too),
    ``bool``, ``None``, ``Literal[...]`` of str/int/bool, ``enum.Enum``
    subclasses (by value), ``pathlib`` paths (strings), ``list[T]``,
    ``tuple[T, ...]``, ``Sequence[T]``, ``dict[str, T]``, ``Mapping[str, T]``,
    ``X | None``, unions (``anyOf``), ``NewType``, ``Annotated[T, "description"]``,
    ``Any`` (``{}``, which strict mode cannot express) and attrs classes,
    nested and recursive. An attrs class given here is the root object,
    written inline; other attrs classes go under a top-level ``$defs``. See
    :class:`SchemaBuilder` for descriptions and what ``strict`` changes.

    ``strict=True`` follows OpenAI's strict rules wherever the type allows;
    ``dict[str, T]`` and ``Any`` cannot follow them, so callers check
    :func:`is_strict_compatible` before claiming strictness to a provider.

    Results are cached per ``(tp, strict)``; each call returns a fresh copy,
    so the caller may change it.

    Raises:
        SchemaError: If ``tp`` (or a type inside it) has no JSON Schema form,
            with the path to it.
    """
    return typing.cast("dict[str, Any]", _copy(_shared_schema(tp, strict)))


def _shared_schema(tp: object, strict: bool) -> dict[str, Any]:
    """The cached schema itself: for reading only."""
    try:
        hash(tp)
    except TypeError:  # e.g. Annotated with a dict in its metadata: build without the cache
        return _build(tp, strict)
    return _build_cached(tp, repr(tp), strict)


_TYPED_KEYS = ("type", "$ref", "anyOf", "enum", "const")
_STRICT_UNSUPPORTED = ("default", "oneOf", "allOf", "not", "if", "patternProperties")


def _strict_node(node: Mapping[str, Any]) -> bool:
    if not any(key in node for key in _TYPED_KEYS):
        return False  # {} or a bare description: any value at all
    if any(key in node for key in _STRICT_UNSUPPORTED):
        return False
    if "$ref" in node and len(set(node) - {"$defs"}) > 1:
        return False
    kind = node.get("type")
    is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
    if is_object or "properties" in node or "additionalProperties" in node:
        required = node.get("required", [])
        return (
            node.get("additionalProperties") is False
            and len(set(required)) == len(required)
            and set(required) == set(node.get("properties", {}))
        )
    if kind == "array" or (isinstance(kind, list) and "array" in kind):
        return isinstance(node.get("items"), dict)
    return True


def is_strict_compatible(schema: Mapping[str, Any]) -> bool:
    """Whether OpenAI's strict mode accepts ``schema``.

    Every object must forbid additional properties and list all its
    properties as required; no schema may be empty (``{}``) or
    ``additionalProperties`` a schema; no ``$ref`` may have siblings; and
    ``default``, ``oneOf``, ``allOf``, ``not``, ``if`` and
    ``patternProperties`` are not allowed. Whether the root must be an
    object is the caller's business (structured output wraps other roots).
    """
    stack: list[object] = [schema]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping) or not _strict_node(node):
            return False
        stack.extend(node.get("properties", {}).values())
        stack.extend(node.get("$defs", {}).values())
        stack.extend(node.get("anyOf", []))
        if "items" in node:
            stack.append(node["items"])
    return True
