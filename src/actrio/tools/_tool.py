"""``@tool``: a typed ``async def`` becomes a :class:`Tool` the model can call.

The function's signature is its parameter schema. Each parameter becomes a
property; its description comes from ``Annotated[T, "..."]`` or else from
the docstring's Google-style ``Args:`` section (``Annotated`` wins, as it
does for attrs fields in :mod:`actrio._schema`). The tool's description is
the first paragraph of the docstring.

Strict mode (the default) gives a schema OpenAI's strict mode accepts, and
Anthropic and Gemini too: every property is required, objects are closed. A
parameter with a default becomes nullable (``anyOf [T, null]``), with
``null`` meaning "use the default"; if its type already allows ``None``,
``null`` means ``None``. A missing key of a parameter with a default also
means the default. Types strict mode cannot express (``Any``,
``dict[str, T]``) are refused in strict mode, naming the parameter; with
``strict=False`` they are allowed and defaulted parameters are optional.

Not supported, refused at decoration time naming the parameter (B-04):
``*args``, ``**kwargs``, positional-only and unannotated parameters, and
types with no JSON form (``Callable``, ``set``, fixed-length tuples ...).
Injecting a context object (a ``ctx: ToolContext`` parameter) is future work.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, overload

import attrs
import trio

from actrio._output import _json_kinds
from actrio._schema import (
    SchemaBuilder,
    SchemaError,
    _any_of,
    _copy,
    _described,
    _doc_entries,
    _indent,
    _json_default,
    _parse_docstring,
    _type_name,
    _with_sibling,
    is_strict_compatible,
)
from actrio.tools._jsonschema import SchemaArguments, check_schema
from actrio.tools._validate import (
    ArgumentLimits,
    ArgumentValidator,
    Param,
    SignatureArguments,
    parse_arguments,
)
from actrio.tools.errors import ToolDefinitionError, ToolError, ToolFailed, ToolTimeout
from actrio.types import ToolSpec

__all__ = ("Tool", "tool")

ToolFunction = Callable[..., Awaitable[Any]]
"""What ``@tool`` takes: an ``async def``."""

_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CAPABILITY: Final = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_ARGS_HEADERS: Final = ("Args:", "Arguments:", "Parameters:")


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ToolDefinitionError(
            f"tool name {name!r} must be 1-64 characters of A-Z a-z 0-9 _ - (what providers accept)"
        )
    return name


def _check_options(name: str, capability: object, timeout: object) -> None:
    if capability is not None and (
        not isinstance(capability, str) or not _CAPABILITY.fullmatch(capability)
    ):
        raise ToolDefinitionError(
            f"tool {name!r}: capability {capability!r} must be dotted words like 'fs.read'"
        )
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ToolDefinitionError(
            f"tool {name!r}: timeout must be a positive number of seconds, not {timeout!r}"
        )


def _check_async(fn: object, name: str) -> None:
    if inspect.iscoroutinefunction(fn):
        return
    if not callable(fn):
        raise ToolDefinitionError(f"tool {name!r}: expected an async function, got {fn!r}")
    shown = getattr(fn, "__qualname__", repr(fn))
    raise ToolDefinitionError(
        f"tool {name!r}: {shown} is not an async function. actrio never starts threads by"
        " itself; wrap blocking code in an async def:\n\n"
        "    @tool\n"
        f"    async def {name}(...):\n"
        "        return await trio.to_thread.run_sync(blocking_fn, ...)"
    )


def _arg_docs(doc: str | None) -> dict[str, str]:
    """The Google-style ``Args:`` entries of a docstring."""
    lines = inspect.cleandoc(doc or "").splitlines()
    header = next((i for i, line in enumerate(lines) if line.strip() in _ARGS_HEADERS), None)
    if header is None:
        return {}
    section_indent = _indent(lines[header]) if header else -1
    return _doc_entries(lines[header + 1 :], section_indent)


@attrs.frozen
class _Definition:
    parameters: dict[str, Any]
    validator: SignatureArguments


def _signature(fn: ToolFunction, name: str) -> inspect.Signature:
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception as exc:  # any failure to evaluate an annotation
        raise ToolDefinitionError(f"tool {name!r}: cannot read its signature: {exc}") from exc


def _param(p: inspect.Parameter, name: str) -> Param:
    where = f"tool {name!r}: parameter {p.name!r}"
    if p.kind is p.VAR_POSITIONAL or p.kind is p.VAR_KEYWORD:
        stars = "*" if p.kind is p.VAR_POSITIONAL else "**"
        raise ToolDefinitionError(f"tool {name!r}: {stars}{p.name} is not supported; name each one")
    if p.kind is p.POSITIONAL_ONLY:
        raise ToolDefinitionError(f"{where} is positional-only; arguments are passed by name")
    if p.annotation is p.empty:
        raise ToolDefinitionError(f"{where} has no type annotation")
    default = attrs.NOTHING if p.default is p.empty else p.default
    return Param(p.name, p.annotation, default)


def _property(
    builder: SchemaBuilder, param: Param, doc: str | None, *, strict: bool, tool: str
) -> tuple[Param, dict[str, Any]]:
    try:
        schema = builder.schema_for(param.annotation, path=param.name)
        nullable = "null" in _json_kinds(param.annotation)
    except SchemaError as exc:
        raise ToolDefinitionError(f"tool {tool!r}: parameter {param.name!r}: {exc}") from exc
    description = schema.pop("description", None) or doc  # Annotated wins
    schema = _any_of([schema])  # a described $ref was {"anyOf": [ref], "description": ...}
    default = attrs.NOTHING if param.required else _json_default(param.default)
    if not param.required and not nullable:
        param = attrs.evolve(param, null_is_default=True)
        if strict:
            schema = _any_of([schema, {"type": "null"}])
            note = "use the default" + (
                "" if default is attrs.NOTHING else f", {json.dumps(default)}"
            )
            description = f"{description} (null: {note})" if description else f"Null: {note}"
    if not strict and default is not attrs.NOTHING:
        schema = _with_sibling(schema, "default", default)
    if description:
        schema = _described(schema, description)
    return param, schema


def _culprits(params: list[Param]) -> list[str]:
    """The parameters whose own schema strict mode cannot express."""
    found = []
    for param in params:
        builder = SchemaBuilder(strict=True)
        schema = builder.finish(builder.schema_for(param.annotation, path=param.name))
        if not is_strict_compatible(schema):
            found.append(f"{param.name} ({_type_name(param.annotation)})")
    return found


def _define(fn: ToolFunction, name: str, *, strict: bool) -> _Definition:
    signature = _signature(fn, name)
    docs = _arg_docs(inspect.getdoc(fn))
    builder = SchemaBuilder(strict=strict)
    params, properties, required = [], {}, []
    for p in signature.parameters.values():
        param, schema = _property(
            builder, _param(p, name), docs.get(p.name), strict=strict, tool=name
        )
        params.append(param)
        properties[param.name] = schema
        if strict or param.required:
            required.append(param.name)
    root = {"type": "object", "properties": properties, "required": required}
    parameters = builder.finish(root | {"additionalProperties": False})
    if strict and not is_strict_compatible(parameters):
        culprits = ", ".join(_culprits(params)) or "?"
        raise ToolDefinitionError(
            f"tool {name!r}: parameter {culprits} cannot be expressed in strict mode"
            " (no free-form objects or Any); use an attrs class, or pass strict=False"
        )
    return _Definition(parameters, SignatureArguments(tuple(params)))


@attrs.frozen
class Tool:
    """A function the model may call, with its schema and how to check arguments.

    Make one with :func:`tool` or :meth:`Tool.from_schema`. Calling it
    (``await t.run(arguments)``, or ``await t(arguments)``) validates the
    arguments, then awaits the function with them.

    Attributes:
        name: 1-64 characters of ``[A-Za-z0-9_-]``; calls match it exactly.
        description: What the tool does, for the model.
        parameters: The JSON schema of the arguments object. Read-only.
        fn: The async function.
        capability: What the tool may do, for policies (``"fs.read"``).
        timeout: Seconds a call may take before :class:`ToolTimeout`.
        strict: Whether the schema follows OpenAI's strict rules (it is sent
            with ``strict: true``).
        limits: Bounds on the arguments' JSON.
    """

    name: str
    description: str
    parameters: Mapping[str, Any] = attrs.field(hash=False)
    fn: ToolFunction
    capability: str | None = None
    timeout: float | None = None
    strict: bool = True
    limits: ArgumentLimits = attrs.field(factory=ArgumentLimits)
    _validator: ArgumentValidator = attrs.field(
        alias="_validator", kw_only=True, eq=False, repr=False
    )

    @property
    def spec(self) -> ToolSpec:
        """What model adapters send for this tool."""
        return ToolSpec(
            name=self.name,
            description=self.description,
            parameters=self.parameters,
            strict=self.strict,
        )

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        fn: ToolFunction,
        *,
        capability: str | None = None,
        timeout: float | None = None,
        strict: bool | None = None,
        limits: ArgumentLimits | None = None,
    ) -> Tool:
        """A tool with a hand-written parameters schema.

        The schema is checked now (see :mod:`actrio.tools._jsonschema` for
        the subset understood) and arguments are validated against it; the
        function is awaited with the validated object as keyword arguments
        (give it ``**kwargs`` if the keys are not identifiers).

        Args:
            name: The tool's name.
            description: What it does, for the model.
            parameters: The JSON schema of the arguments object (copied).
            fn: The async function.
            capability: What the tool may do, for policies.
            timeout: Seconds a call may take.
            strict: Claim strict mode: ``None`` if the schema qualifies;
                ``True`` requires it to qualify.
            limits: Bounds on the arguments' JSON.

        Raises:
            ToolDefinitionError: For a bad name, option, function or schema.
        """
        name = _check_name(name)
        _check_async(fn, name)
        _check_options(name, capability, timeout)
        if not isinstance(description, str):
            raise ToolDefinitionError(f"tool {name!r}: description must be a str")
        try:
            check_schema(parameters)
        except ToolDefinitionError as exc:
            raise ToolDefinitionError(f"tool {name!r}: {exc}") from None
        schema = _copy(dict(parameters))
        qualifies = is_strict_compatible(schema)
        if strict and not qualifies:
            raise ToolDefinitionError(
                f"tool {name!r}: parameters do not follow OpenAI's strict rules (every object"
                " needs additionalProperties: false and all its properties required;"
                " no free-form objects); fix the schema or pass strict=None"
            )
        return cls(
            name,
            description,
            schema,
            fn,
            capability,
            timeout,
            qualifies if strict is None else strict,
            limits or ArgumentLimits(),
            _validator=SchemaArguments(schema),
        )

    async def run(self, arguments: Mapping[str, Any] | str | bytes = "{}") -> Any:
        """Validate ``arguments``, then await the function with them.

        Args:
            arguments: JSON text or a parsed mapping, as the model sent them.

        Returns:
            What the function returned (see :func:`render_result` to turn it
            into text for the model).

        Raises:
            ToolArgumentsError: The arguments do not fit; the function did not run.
            ToolTimeout: The call took longer than :attr:`timeout`.
            ToolFailed: The function raised; the original is chained. A
                :class:`ToolError` it raises on purpose passes unchanged.
        """
        return await self.invoke(parse_arguments(self, arguments))

    async def invoke(self, kwargs: Mapping[str, Any]) -> Any:
        """Await the function with arguments :func:`parse_arguments` already checked.

        The runtime validates first, asks the policies, then invokes: the
        timeout covers the function only, not the wait for a decision.

        Raises:
            ToolTimeout: The call took longer than :attr:`timeout`.
            ToolFailed: The function raised; the original is chained. A
                :class:`ToolError` it raises on purpose passes unchanged.
        """
        await trio.lowlevel.checkpoint()
        with trio.move_on_after(math.inf if self.timeout is None else self.timeout):
            try:
                return await self.fn(**kwargs)
            except ToolError:
                raise
            except Exception as error:
                raise ToolFailed(self.name, error) from error
        assert self.timeout is not None
        raise ToolTimeout(self.name, self.timeout)

    async def __call__(self, arguments: Mapping[str, Any] | str | bytes = "{}") -> Any:
        """The same as :meth:`run`."""
        return await self.run(arguments)


def _make(
    fn: ToolFunction,
    *,
    name: str | None,
    description: str | None,
    capability: str | None,
    timeout: float | None,
    strict: bool,
    limits: ArgumentLimits | None,
) -> Tool:
    label = name if name is not None else getattr(fn, "__name__", "")
    _check_async(fn, str(label))
    name = _check_name(label)
    _check_options(name, capability, timeout)
    if description is None:
        description = _parse_docstring(inspect.getdoc(fn))[0] or ""
    elif not isinstance(description, str):
        raise ToolDefinitionError(f"tool {name!r}: description must be a str")
    definition = _define(fn, name, strict=strict)
    return Tool(
        name,
        description,
        definition.parameters,
        fn,
        capability,
        timeout,
        strict,
        limits or ArgumentLimits(),
        _validator=definition.validator,
    )


@overload
def tool(fn: ToolFunction, /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    capability: str | None = None,
    timeout: float | None = None,
    strict: bool = True,
    limits: ArgumentLimits | None = None,
) -> Callable[[ToolFunction], Tool]: ...
def tool(
    fn: ToolFunction | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    capability: str | None = None,
    timeout: float | None = None,
    strict: bool = True,
    limits: ArgumentLimits | None = None,
) -> Tool | Callable[[ToolFunction], Tool]:
    """Make a typed ``async def`` a :class:`Tool`: ``@tool`` or ``@tool(...)``.

    Args:
        fn: The function (when used as ``@tool``).
        name: The tool's name; the function's name by default.
        description: What it does; the docstring's first paragraph by default.
        capability: What the tool may do, for policies (``"fs.read"``).
        timeout: Seconds a call may take.
        strict: Follow OpenAI's strict rules (see the module docs); types
            they cannot express are then refused.
        limits: Bounds on the arguments' JSON.

    Returns:
        The tool, or (called with options only) a decorator that makes it.

    Raises:
        ToolDefinitionError: For a sync function, a bad name or option, or a
            parameter actrio cannot describe, naming it.
    """
    options = {
        "name": name,
        "description": description,
        "capability": capability,
        "timeout": timeout,
        "strict": strict,
        "limits": limits,
    }
    if fn is None:
        return lambda f: _make(f, **options)  # type: ignore[arg-type]
    if isinstance(fn, str):
        raise ToolDefinitionError(f"use @tool(name={fn!r}), with the name as a keyword")
    return _make(fn, **options)  # type: ignore[arg-type]
