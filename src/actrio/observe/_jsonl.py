"""JSONL export: one event per line, in the cattrs wire form, read back losslessly.

Every event class (the kernel's and the scope events) is registered with the
one converter by its ``kind``, so :func:`load_jsonl` gives back exactly the
events that were written: ``load_jsonl(path) == events``.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TextIO

import cattrs
import trio

from actrio._wire import converter, structure_tagged
from actrio.kernel import ActorSystem, Event, UsageError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection, Iterator
    from pathlib import Path

    from actrio.runtime import Runtime

__all__ = ("JsonlExporter", "JsonlFormatError", "load_jsonl", "open_jsonl_exporter")


class JsonlFormatError(UsageError, ValueError):
    """A line of a JSONL export is not an event.

    Attributes:
        line: The 1-based line number.
    """

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


class JsonlExporter:
    """An event handler that writes each event as one JSON line to ``file``.

    Subscribe it (``system.subscribe(exporter)``, lossless by default), or
    use :func:`open_jsonl_exporter`, which also waits for the last events.

    Attributes:
        written: Lines written so far.
    """

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self.written = 0

    def __call__(self, event: Event) -> None:
        """Write ``event`` as one line."""
        self._file.write(dumps(event) + "\n")
        self.written += 1


def dumps(event: Event) -> str:
    """The wire form of ``event`` as compact JSON (one line)."""
    return json.dumps(
        converter.unstructure(event), separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@asynccontextmanager
async def open_jsonl_exporter(
    source: ActorSystem | Runtime,
    path: str | Path,
    *,
    types: Collection[type[Event]] | None = None,
) -> AsyncIterator[JsonlExporter]:
    """Export the events of ``source`` to ``path`` for the duration of the block.

    The subscription is lossless: publishers wait rather than lose a line.
    On exit, every event published before the exit is written and the file
    is flushed and closed.

    Args:
        source: An actor system, or a runtime.
        path: The file to write (truncated).
        types: Only export events of these classes.
    """
    system = source if isinstance(source, ActorSystem) else source.system
    # A local, buffered file: writes are short and never wait on the network.
    with open(path, "w", encoding="utf-8") as file:  # noqa: ASYNC230
        exporter = JsonlExporter(file)
        sub = system.subscribe(exporter, mode="lossless", types=types, name=f"jsonl:{path}")
        try:
            yield exporter
        finally:
            sub.finish()
            with trio.move_on_after(system.shutdown_grace, shield=True):
                await sub._done.wait()
            sub.close()


def iter_jsonl(path: str | Path) -> Iterator[Event]:
    """Read events back from a JSONL export, one at a time.

    Raises:
        JsonlFormatError: For a line that is not a known event, with its number.
    """
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                event = structure_tagged(json.loads(line))
            except (ValueError, cattrs.BaseValidationError) as error:
                raise JsonlFormatError(number, str(error)) from error
            if not isinstance(event, Event):
                raise JsonlFormatError(number, f"{type(event).__qualname__} is not an event")
            yield event


def load_jsonl(path: str | Path) -> list[Event]:
    """Read every event of a JSONL export (see :func:`iter_jsonl`)."""
    return list(iter_jsonl(path))
