"""The capability catalog: capabilities, their typed parameters, and binding.

A tool declares the capability it exercises (``fs.write``); a policy's
trigger names a capability and binds some of its parameters. The catalog
says what kind each parameter is, and so what value a policy sees for it:

=========  ==========================================  =====================
kind       bound as                                    example parameter
=========  ==========================================  =====================
path       :class:`~actrio.policy.paths.PolicyPath`    ``fs.write(path)``
command    :class:`~actrio.policy.shell.ShellCommand`  ``os.shell(command)``
url        :class:`~actrio.policy.urls.PolicyURL`      ``http.fetch(url)``
text       the string itself                           ``user.confirm(message)``
value      the JSON value itself                       ``http.fetch(headers)``
=========  ==========================================  =====================

Capabilities outside the catalog (a user's ``db.query``) may still be
policed: their arguments are bound as plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import attrs

from actrio.policy import _shell_programs
from actrio.policy.paths import DEFAULT_PROTECTED, PolicyPath
from actrio.policy.shell import DEFAULT_TRUSTED_DIRS, ShellCommand, parse_normalised
from actrio.policy.urls import PolicyURL

__all__ = ("CATALOG", "Binder", "Capability", "Param", "ParamKind")

ParamKind = Literal["path", "command", "url", "text", "value"]
"""How a parameter is bound for policies (see the module docstring)."""


@attrs.frozen
class Param:
    """One parameter of a capability.

    Attributes:
        name: The argument name.
        kind: How it is bound for policies.
        description: What it means.
    """

    name: str
    kind: ParamKind
    description: str = ""


@attrs.frozen
class Capability:
    """A capability of the catalog.

    Attributes:
        name: Dotted name (``fs.read``).
        params: Its parameters, in call order.
        description: What it does.
    """

    name: str
    params: tuple[Param, ...]
    description: str = ""

    def param(self, name: str) -> Param | None:
        """The parameter called ``name``, if any."""
        return next((p for p in self.params if p.name == name), None)

    @property
    def param_names(self) -> tuple[str, ...]:
        """The parameter names, in order."""
        return tuple(p.name for p in self.params)


def _catalog(capabilities: Iterable[Capability]) -> Mapping[str, Capability]:
    return {c.name: c for c in capabilities}


CATALOG: Mapping[str, Capability] = _catalog(
    (
        Capability("fs.read", (Param("path", "path", "The file to read."),), "Read a text file."),
        Capability(
            "fs.write",
            (Param("path", "path", "The file to write."), Param("content", "text", "Its text.")),
            "Write a text file, atomically.",
        ),
        Capability(
            "fs.edit",
            (
                Param("path", "path", "The file to edit."),
                Param("old", "text", "The exact text to replace (it must occur once)."),
                Param("new", "text", "The replacement."),
            ),
            "Replace one exact occurrence of a text in a file.",
        ),
        Capability(
            "os.shell", (Param("command", "command", "The command line."),), "Run a command."
        ),
        Capability(
            "user.confirm",
            (Param("message", "text", "What to confirm."),),
            "Ask the user a yes/no question.",
        ),
        Capability(
            "user.elicit",
            (Param("question", "text", "What to ask."),),
            "Ask the user for a text answer.",
        ),
        Capability(
            "http.fetch",
            (
                Param("url", "url", "The URL."),
                Param("method", "text", "The HTTP method."),
                Param("headers", "value", "Request headers."),
                Param("body", "text", "The request body."),
            ),
            "Make an HTTP request.",
        ),
    )
)


def _normalised(binder: Binder) -> frozenset[str] | None:
    """The binder's trusted directories normalised, or None if they are invalid."""
    try:
        return _shell_programs.normalise_dirs(binder.trusted_dirs)
    except (TypeError, ValueError):
        return None  # bind() reports it for each command, as ShellCommand.parse does


@attrs.frozen(kw_only=True)
class Binder:
    """Turns a capability call's arguments into the values policies see.

    Attributes:
        workspace: The directory relative paths are taken from (the current
            directory when ``None``).
        protected: Names protected inside any root (``.git``, ...).
        trusted_dirs: Directories whose programs keep their bare name.
        catalog: The capabilities and their parameter kinds.
    """

    workspace: Path | None = None
    protected: Sequence[str] = DEFAULT_PROTECTED
    trusted_dirs: frozenset[str] = DEFAULT_TRUSTED_DIRS
    catalog: Mapping[str, Capability] = CATALOG
    _trusted: frozenset[str] | None = attrs.field(
        init=False, repr=False, eq=False, default=attrs.Factory(_normalised, takes_self=True)
    )

    def bind(self, capability: str, name: str, value: object) -> object:
        """The value a policy sees for argument ``name`` of a ``capability`` call.

        Raises:
            TypeError: For a path, command or URL that is not a string.
            ValueError: For one that cannot be bound (an invalid path or URL).
        """
        spec = self.catalog.get(capability)
        param = spec.param(name) if spec is not None else None
        if param is None or param.kind in ("text", "value"):
            return value
        if not isinstance(value, str):
            raise TypeError(
                f"{capability}({name}): expected a string for a {param.kind}, "
                f"got {type(value).__name__}"
            )
        if param.kind == "path":
            cwd = self.workspace if self.workspace is not None else Path.cwd()
            return PolicyPath.of(value, cwd=cwd, protected=self.protected)
        if param.kind == "command":
            if self._trusted is not None:
                return parse_normalised(value, self._trusted)
            return ShellCommand.parse(value, trusted_dirs=self.trusted_dirs)
        return PolicyURL.parse(value)
