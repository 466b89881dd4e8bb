"""JSON Schema from Python annotations, and strict parsing of a model's JSON output.

Two halves that must agree on what a type means:

- :func:`json_schema` turns one annotation into a JSON Schema (2020-12 subset)
  in the form OpenAI's strict structured outputs accept, which the other
  providers accept too. :class:`SchemaBuilder` is the same machinery for
  callers that assemble an object from several annotations (tool parameters
  from a signature) and need one shared ``$defs``.
- :func:`parse_output` reads the model's reply back into that type through a
  private cattrs converter with no silent coercion, and reports every problem
  at once with its JSON path, in an :class:`OutputValidationError` whose
  :meth:`~OutputValidationError.feedback` can be sent back to the model.

Errors::

    TypeError
     └── SchemaError            a type has no JSON Schema form
    ValueError
     └── OutputValidationError  the model's text is not JSON of the type
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, TypeVar, Union, overload

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

__all__ = (
    "OutputValidationError",
    "Property",
    "SchemaBuilder",
    "SchemaError",
    "is_strict_compatible",
    "json_schema",
    "parse_json_output",
    "parse_output",
)

T = TypeVar("T")

FEEDBACK_ECHO_CHARS = 2000
"""How much of the model's reply :meth:`OutputValidationError.feedback` quotes back."""

FEEDBACK_PROBLEMS = 20
"""How many problems :meth:`OutputValidationError.feedback` lists before summarising."""

_SHOW_CHARS = 60
"""How much of one offending value (or key) an error message quotes."""

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
        return json.loads(json.dumps(_converter.unstructure(value), allow_nan=False))
    except (TypeError, ValueError):
        return attrs.NOTHING


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


# ---------------------------------------------------------------- JSON text -> value


class OutputValidationError(ValueError):
    """The model's reply is not JSON of the requested type.

    Attributes:
        type_name: The requested type, as named in messages.
        errors: Each problem as ``(JSON path, message)``, paths like
            ``$.items[2].price``; ``$`` for the whole reply.
        raw: The model's reply, whole.
    """

    def __init__(self, type_name: str, errors: Sequence[tuple[str, str]], raw: str) -> None:
        super().__init__(type_name, tuple(errors), raw)
        self.type_name = type_name
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)
        self.raw = raw

    def __str__(self) -> str:
        count = len(self.errors)
        head = f"model output is not a valid {self.type_name} ({count} problem{'s' * (count != 1)})"
        return "\n".join([head, *(f"  {path}: {message}" for path, message in self.errors)])

    def feedback(self) -> str:
        """A correction prompt to send back to the model.

        It says what was wrong and where, quotes the model's own reply (cut
        to :data:`FEEDBACK_ECHO_CHARS`) and asks for JSON matching the
        schema. It holds nothing but the type name, the paths and messages,
        and the model's text, so it carries no secrets of the caller.
        """
        shown = self.errors[:FEEDBACK_PROBLEMS]
        lines = [
            f"Your previous reply could not be read as {self.type_name}.",
            "Problems:",
            *(f"- {path}: {message}" for path, message in shown),
        ]
        if len(self.errors) > len(shown):
            lines.append(f"- ... and {len(self.errors) - len(shown)} more")
        echo = self.raw[:FEEDBACK_ECHO_CHARS]
        if len(self.raw) > FEEDBACK_ECHO_CHARS:
            echo += f"\n[... {len(self.raw) - FEEDBACK_ECHO_CHARS} more characters cut]"
        lines += [
            "Your reply was:",
            echo,
            "Reply again with only JSON matching the schema, and no other text.",
        ]
        return "\n".join(lines)


_FENCE = re.compile(r"```(?:json)?(?P<body>.*?)```", re.DOTALL | re.IGNORECASE)


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {_show(key)}")
        out[key] = value
    return out


def _load(text: str, type_name: str) -> Any:
    start, end = 0, len(text)
    fence = _FENCE.fullmatch(text.strip())
    if fence is not None:
        start = len(text) - len(text.lstrip()) + fence.start("body")
        end = start + len(fence.group("body"))
    try:
        return json.loads(
            text[start:end], parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
        )
    except json.JSONDecodeError as exc:
        pos = start + exc.pos
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        message = f"invalid JSON: {exc.msg} (line {line}, column {column})"
    except ValueError as exc:
        message = f"invalid JSON: {exc}"
    except RecursionError:
        message = "invalid JSON: nested too deeply"
    raise OutputValidationError(type_name, [("$", message)], text)


def parse_json_output(text: str) -> Any:
    """Parse a model's reply as JSON, with no type to check it against.

    Surrounding whitespace and one enclosing ```` ```json ```` fence are
    allowed; anything else around the JSON is an error. ``NaN``, ``Infinity``
    and duplicate keys are refused.

    Raises:
        OutputValidationError: If the text is not JSON (path ``$``, with the
            line and column of the problem in ``text``).
    """
    return _load(text, "JSON")


@overload
def parse_output(tp: type[T], text: str) -> T: ...
@overload
def parse_output(tp: object, text: str) -> Any: ...
def parse_output(tp: object, text: str) -> Any:
    """Parse a model's reply into ``tp``, strictly.

    The JSON is read as by :func:`parse_json_output`, then structured with no
    silent coercion: ``"1"`` is not an int, ``1`` is not a str, ``"yes"`` is
    not a bool, ``1.5`` is not an int (an int is a float, though); Literal and
    Enum values must match by value and JSON type; unknown keys are refused.
    Keys of fields with defaults may be absent. ``Sequence[T]`` becomes a
    tuple, ``Mapping[str, T]`` a dict.

    Args:
        tp: Any annotation :func:`json_schema` accepts.
        text: The model's reply.

    Raises:
        SchemaError: If ``tp`` has no JSON Schema form.
        OutputValidationError: With every problem found, each at its JSON path.
    """
    _shared_schema(tp, True)  # cached; refuses the types the converter is not set up for
    type_name = _type_name(tp)
    data = _load(text, type_name)
    try:
        return _converter.structure(data, typing.cast("Any", _NoneType if tp is None else tp))
    except _INVALID as exc:
        problems = _problems(exc)
    raise OutputValidationError(type_name, problems, text)


_INVALID = (cattrs.BaseValidationError, TypeError, ValueError, KeyError)
"""What structuring raises for input that does not fit."""
_NOTES = (AttributeValidationNote, IterableValidationNote)


def _key_path(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{_show(key)}]"


def _problems(exc: BaseException) -> list[tuple[str, str]]:
    """Every leaf problem under a cattrs validation error, with its JSON path.

    A walk with a stack, not recursion: a reply nested deep enough to exhaust
    Python's stack while structuring must not do it again here.
    """
    found: list[tuple[str, str]] = []
    stack: list[tuple[BaseException, str]] = [(exc, "$")]
    while stack:
        exc, path = stack.pop()
        if isinstance(exc, RecursionError):  # cattrs collects it like any other error
            return [("$", "nested too deeply")]
        if isinstance(exc, ForbiddenExtraKeysError):
            found += [(_key_path(path, key), "unexpected key") for key in sorted(exc.extra_fields)]
        elif isinstance(exc, KeyError):  # cattrs reading a required key that is not there
            found.append((path, "required key is missing"))
        elif isinstance(exc, cattrs.BaseValidationError):
            stack += [(sub, _step(path, sub)) for sub in reversed(exc.exceptions)]
        else:
            found.append((path, str(exc) or type(exc).__name__))
    return found


def _step(path: str, exc: BaseException) -> str:
    """``path`` extended by the field, index or key the last cattrs note on ``exc`` names."""
    notes = getattr(exc, "__notes__", [])
    note = next((n for n in reversed(notes) if isinstance(n, _NOTES)), None)
    if isinstance(note, AttributeValidationNote):
        return _key_path(path, note.name)
    if isinstance(note, IterableValidationNote):
        index = note.index
        return f"{path}[{index}]" if isinstance(index, int) else _key_path(path, index)
    return path  # a problem of the object itself, such as an attrs validator's


# ---------------------------------------------------------------- the converter


def _show(value: object) -> str:
    """A short JSON rendering of a value from the model, for messages."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOW_CHARS else f"{text[: _SHOW_CHARS - 3]}..."


def _expected(what: str, value: object) -> TypeError:
    return TypeError(f"expected {what}, got {_json_type(value)}")


def _json_kinds(tp: object) -> frozenset[str]:
    """The JSON types a value of ``tp`` can have (to pick a union member)."""
    schema = _shared_schema(tp, False)
    options = schema.get("anyOf", [schema])
    kinds = {kind for option in options for kind in _option_kinds(option)}
    if "number" in kinds:
        kinds.add("integer")
    return frozenset(kinds)


def _option_kinds(option: Mapping[str, Any]) -> list[str]:
    if "$ref" in option or "properties" in option:
        return ["object"]
    if "type" not in option:  # Any
        return list(_JSON_TYPE_NAMES)
    return [option["type"]]


def _matches(value: object, allowed: object) -> bool:
    return value == allowed and _json_type(value) == _json_type(allowed)


def _structure_scalar(value: object, tp: type[Any]) -> object:
    """One hook for every class cattrs dispatches by class (str, int, Enum, Path ...)."""
    if issubclass(tp, enum.Enum):
        for member in tp:
            if _matches(value, member.value):
                return member
        options = ", ".join(_show(member.value) for member in tp)
        raise ValueError(f"expected one of {options}, got {_show(value)}")
    if issubclass(tp, PurePath):
        if not isinstance(value, str):
            raise _expected("string", value)
        return tp(value)
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _expected("number", value)
        try:
            return float(value)
        except OverflowError:
            raise ValueError("number is too large") from None
    kind = _SCALARS[tp]["type"]
    if _json_type(value) != kind:
        raise _expected(kind, value)
    return value


def _literal_hook(tp: object) -> Callable[[object, object], object]:
    members = typing.get_args(tp)
    options = ", ".join(_show(_json_value(member)) for member in members)

    def structure(value: object, _: object) -> object:
        for member in members:
            if _matches(value, _json_value(member)):
                return member
        raise ValueError(f"expected one of {options}, got {_show(value)}")

    return structure


def _union_hook(tp: object) -> Callable[[object, object], object]:
    members = typing.get_args(tp)
    kinds = [(member, _json_kinds(member)) for member in members]
    every_kind = {kind for _, accepts in kinds for kind in accepts}
    if "number" in every_kind:
        every_kind.discard("integer")  # said once: a number may be an integer
    expected = " or ".join(kind for kind in _JSON_TYPE_NAMES if kind in every_kind)
    names = " | ".join(_type_name(member) for member in members)

    def structure(value: object, _: object) -> object:
        fits = [member for member, accepts in kinds if _json_type(value) in accepts]
        if not fits:
            raise _expected(expected, value)
        if len(fits) == 1:  # the only candidate: its own errors are the useful ones
            return _converter.structure(value, fits[0])
        for member in fits:
            try:
                return _converter.structure(value, member)
            except _INVALID:
                continue
        raise ValueError(f"matches none of {names}")

    return structure


def _noted(exc: Exception, index: int | str, tp: object) -> Exception:
    exc.add_note(IterableValidationNote(f"@ {index!r}", index, tp))
    return exc


def _array_hook(tp: object) -> Callable[[object, object], object]:
    item = typing.get_args(tp)[0]
    make: Callable[[list[object]], object] = list if typing.get_origin(tp) is list else tuple

    def structure(value: object, _: object) -> object:
        if not isinstance(value, list):
            raise _expected("array", value)
        out, errors = [], []
        for index, entry in enumerate(value):
            try:
                out.append(_converter.structure(entry, item))
            except _INVALID as exc:  # collected, to report every item at once
                errors.append(_noted(exc, index, item))
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, list)
        return make(out)

    return structure


def _mapping_hook(tp: object) -> Callable[[object, object], object]:
    item = typing.get_args(tp)[1]

    def structure(value: object, _: object) -> object:
        if not isinstance(value, dict):
            raise _expected("object", value)
        out, errors = {}, []
        for key, entry in value.items():
            try:
                out[key] = _converter.structure(entry, item)
            except _INVALID as exc:  # collected, to report every value at once
                errors.append(_noted(exc, key, item))
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, dict)
        return out

    return structure


def _attrs_hook(cls: type[Any]) -> Callable[[object, object], object]:
    fields = make_dict_structure_fn(cls, _converter)

    def structure(value: object, _: object) -> object:
        if not isinstance(value, dict):
            raise _expected("object", value)
        return fields(value, cls)

    return structure


def _origin_in(*origins: object) -> Callable[[object], bool]:
    return lambda tp: typing.get_origin(tp) in origins


_converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
"""actrio's wire converter's rules, plus strict Literal, Enum, Path and container hooks.

A separate converter, so that nothing here changes how the wire form reads.
cattrs dispatches classes by ``singledispatch`` before anything else, and a
class like ``IntEnum`` would reach the ``int`` hook; so every class goes
through :func:`_structure_scalar`, which looks at the exact class.
"""
for _cls in (str, int, float, bool, enum.Enum, PurePath, Path):
    _converter.register_structure_hook(_cls, _structure_scalar)
_converter.register_structure_hook(_NoneType, lambda value, _: _structure_scalar(value, _NoneType))
_converter.register_structure_hook_factory(_origin_in(Literal), _literal_hook)
_converter.register_structure_hook_factory(_origin_in(*_UNIONS), _union_hook)
_converter.register_structure_hook_factory(_origin_in(*_ARRAYS), _array_hook)
_converter.register_structure_hook_factory(_origin_in(*_OBJECTS), _mapping_hook)
_converter.register_structure_hook_factory(
    lambda tp: isinstance(tp, type) and attrs.has(tp), _attrs_hook
)
