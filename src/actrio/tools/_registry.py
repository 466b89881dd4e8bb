"""``ToolRegistry``: the tools one runtime or scope offers, by exact name.

There is no module-level registry: a registry belongs to whatever owns it (a
runtime, a scope) and is passed around. Lookup is exact (B-03): ``Read_File``,
or ``read_file`` spelled with a Cyrillic i (U+0456), never finds
``read_file``, and the error lists the names there are instead of guessing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actrio.tools._tool import Tool
from actrio.tools.errors import DuplicateTool, UnknownTool

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from actrio.types import ToolSpec

__all__ = ("ToolRegistry",)


class ToolRegistry:
    """Tools by name, in registration order.

    Args:
        tools: Tools to add at once (as by :meth:`add`, in order).

    Raises:
        DuplicateTool: If two of ``tools`` share a name.
    """

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, tool: Tool, *, replace: bool = False) -> None:
        """Register ``tool`` under its name.

        Args:
            tool: The tool.
            replace: Replace a tool of the same name (keeping its place in
                the order) instead of failing.

        Raises:
            DuplicateTool: If the name is taken and ``replace`` is false.
            TypeError: If ``tool`` is not a :class:`Tool`.
        """
        if not isinstance(tool, Tool):
            raise TypeError(f"expected a Tool (use @tool), got {type(tool).__qualname__}")
        if tool.name in self._tools and not replace:
            raise DuplicateTool(tool.name)
        self._tools[tool.name] = tool

    def remove(self, name: str) -> Tool:
        """Unregister the tool named exactly ``name``, and return it.

        Raises:
            UnknownTool: If there is none.
        """
        found = self.get(name)
        del self._tools[name]
        return found

    def get(self, name: str) -> Tool:
        """The tool named exactly ``name`` (no case folding, no look-alikes).

        Raises:
            UnknownTool: If there is none, listing the names there are.
        """
        found = self._tools.get(name) if isinstance(name, str) else None
        if found is None:
            raise UnknownTool(name, tuple(self._tools))
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(tuple(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({list(self._tools)!r})"

    def names(self) -> tuple[str, ...]:
        """The names, in registration order."""
        return tuple(self._tools)

    def specs(self) -> tuple[ToolSpec, ...]:
        """What model adapters send, one spec per tool, in registration order."""
        return tuple(tool.spec for tool in self._tools.values())

    def by_capability(self, capability: str) -> tuple[Tool, ...]:
        """The tools whose capability is ``capability`` or under it.

        Capabilities are dotted: ``"fs"`` matches ``"fs"`` and ``"fs.read"``,
        not ``"fsx"``.
        """
        prefix = f"{capability}."
        return tuple(
            tool
            for tool in self._tools.values()
            if tool.capability is not None
            and (tool.capability == capability or tool.capability.startswith(prefix))
        )
